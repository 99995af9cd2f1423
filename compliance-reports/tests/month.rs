//! A month of generated hospital activity with planted cases: each report
//! must find exactly what was planted and nothing else.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;

use hms_audit_ledger::entry::GENESIS_PREV_HASH;
use hms_audit_ledger::{Entry, Event, Timestamp};
use hms_compliance_reports::kinds::{self, LedgerQuery};
use hms_compliance_reports::{Directory, Parameters, PatientFacts, ReportKind, StaffFacts};
use serde_json::json;

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;
/// 2026-10-01T00:00:00Z.
const MONTH_START: i64 = 1_790_812_800_000_000;

fn at(day: i64, hour: i64, minute: i64) -> Timestamp {
    Timestamp::from_unix_micros(MONTH_START + day * DAY + hour * HOUR + minute * 60_000_000)
}

struct Month {
    entries: Vec<Entry>,
    directory: Directory,
}

impl Month {
    fn push(&mut self, time: Timestamp, event: Event) {
        let sequence = self.entries.len() as u64;
        self.entries.push(Entry {
            sequence,
            time,
            prev_hash: GENESIS_PREV_HASH,
            event,
        });
    }

    fn decide(&mut self, time: Timestamp, staff: &str, patient: &str, outcome: &str) {
        self.decide_with(time, staff, patient, outcome, json!({}));
    }

    fn decide_with(
        &mut self,
        time: Timestamp,
        staff: &str,
        patient: &str,
        outcome: &str,
        context: serde_json::Value,
    ) {
        self.push(
            time,
            Event {
                kind: "decision".into(),
                actor: Some("client:emr".into()),
                subject: Some(staff.into()),
                patient: Some(patient.into()),
                action: Some("read_lab_result".into()),
                resource: Some(format!("LabResult:{patient}-lr")),
                outcome: Some(outcome.into()),
                details: json!({ "context": context }),
                ..Event::default()
            },
        );
    }

    fn event(
        &mut self,
        time: Timestamp,
        kind: &str,
        staff: &str,
        outcome: &str,
        details: serde_json::Value,
    ) {
        self.push(
            time,
            Event {
                kind: kind.into(),
                actor: Some("client:hr".into()),
                subject: Some(staff.into()),
                outcome: Some(outcome.into()),
                details,
                ..Event::default()
            },
        );
    }

    /// Rows of `kind` over the entries its query selects.
    fn report(&self, kind: ReportKind) -> Vec<Vec<String>> {
        self.report_with(kind, &Parameters::default())
    }

    /// Rows of `kind` for `parameters`, the entries selected as the ledger would.
    fn report_with(&self, kind: ReportKind, parameters: &Parameters) -> Vec<Vec<String>> {
        let query: LedgerQuery = kinds::ledger_query(kind, parameters).unwrap();
        let selected: Vec<Entry> = self
            .entries
            .iter()
            .filter(|_| query.reads_entries)
            .filter(|e| query.kinds.is_empty() || query.kinds.contains(&e.event.kind))
            .filter(|e| query.patient.is_none() || e.event.patient == query.patient)
            .filter(|e| query.subject.is_none() || e.event.subject == query.subject)
            .cloned()
            .collect();
        kinds::rows(kind, &selected, parameters, &self.directory)
    }
}

fn staff(roles: &[&str], department: &str) -> StaffFacts {
    StaffFacts {
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        department: Some(department.into()),
        active: true,
        family_name: String::new(),
        active_credentials: Vec::new(),
        address: None,
    }
}

/// Ten doctors with five patients each, eight nurses, an administrator, a
/// receptionist, a VIP; a month of ordinary day-time work; then the plants.
fn month() -> Month {
    let mut directory = Directory::default();
    for d in 0..10 {
        let department = if d % 2 == 0 {
            "cardiology"
        } else {
            "orthopaedics"
        };
        directory
            .staff
            .insert(format!("d{d}"), staff(&["doctor"], department));
        for p in d * 5..d * 5 + 5 {
            directory.patients.insert(
                format!("p{p}"),
                PatientFacts {
                    care_team: BTreeSet::from([format!("d{d}")]),
                    departments: BTreeSet::from([department.to_owned()]),
                    ..PatientFacts::default()
                },
            );
        }
    }
    for n in 0..8 {
        directory
            .staff
            .insert(format!("n{n}"), staff(&["nurse"], "cardiology"));
    }
    directory.staff.insert("a0".into(), staff(&["admin"], "it"));
    directory
        .staff
        .insert("r0".into(), staff(&["receptionist"], "front-desk"));
    directory.patients.insert(
        "vip".into(),
        PatientFacts {
            care_team: BTreeSet::from(["d0".to_owned()]),
            departments: BTreeSet::from(["cardiology".to_owned()]),
            vip: true,
            ..PatientFacts::default()
        },
    );
    // A nurse who is also a patient, and a doctor with a namesake patient.
    directory.patients.insert(
        "emp".into(),
        PatientFacts {
            care_team: BTreeSet::from(["d0".to_owned()]),
            employee_id: Some("n6".into()),
            ..PatientFacts::default()
        },
    );
    directory.patients.insert(
        "nam".into(),
        PatientFacts {
            care_team: BTreeSet::from(["d2".to_owned()]),
            family_name: Some("OKAFOR".into()),
            ..PatientFacts::default()
        },
    );
    if let Some(d2) = directory.staff.get_mut("d2") {
        d2.family_name = "Okafor".into();
    }
    // A nurse and a patient at one address (written differently); another
    // patient on the same street.
    if let Some(n3) = directory.staff.get_mut("n3") {
        n3.address = Some("12, Elm Street, Springfield".into());
    }
    for (id, address) in [
        ("nbr", "12 elm street  springfield"),
        ("st", "14 Elm Street, Springfield"),
    ] {
        directory.patients.insert(
            id.into(),
            PatientFacts {
                care_team: BTreeSet::from(["d4".to_owned()]),
                address: Some(address.into()),
                ..PatientFacts::default()
            },
        );
    }
    let mut month = Month {
        entries: Vec::new(),
        directory,
    };
    for day in 0..30 {
        for d in 0..10 {
            month.decide(
                at(day, 9 + d % 8, 15),
                &format!("d{d}"),
                &format!("p{}", d * 5 + day % 5),
                "permit",
            );
        }
        let nurse = format!("n{}", day % 8);
        // n5 leaves on day 20 (planted below) and is no longer rostered.
        if !(nurse == "n5" && day > 20) {
            month.decide(at(day, 14, 0), &nurse, "p0", "permit");
        }
    }
    month.decide(at(3, 10, 0), "d0", "vip", "permit");
    month.event(
        at(1, 8, 0),
        "auth.login",
        "a0",
        "success",
        json!({"provider": "okta"}),
    );
    plant(&mut month);
    month.entries.sort_by_key(|e| e.time);
    for (sequence, entry) in month.entries.iter_mut().enumerate() {
        entry.sequence = sequence as u64;
    }
    month
}

fn plant(month: &mut Month) {
    // Snooping on the VIP, by a doctor with no relationship to them.
    month.decide(at(4, 11, 0), "d3", "vip", "permit");
    // A nurse reading her own record, then a colleague reading it.
    month.decide(at(5, 10, 0), "n6", "emp", "permit");
    month.decide(at(5, 10, 30), "n1", "emp", "deny");
    // A doctor looking up a namesake (and their own patient).
    month.decide(at(7, 11, 0), "d2", "nam", "permit");
    // A nurse looking up the neighbour at her own address; the doctor
    // treating both patients is not flagged.
    month.decide(at(9, 16, 0), "n3", "nbr", "permit");
    month.decide(at(9, 16, 5), "n3", "st", "deny");
    month.decide(at(9, 17, 0), "d4", "nbr", "permit");
    // A look at a chart at 02:30.
    month.decide(at(6, 2, 30), "d1", "p5", "permit");
    // A nurse refused six times in one day.
    for i in 0..6 {
        month.decide(at(12, 15, i), "n2", &format!("p{}", 20 + i), "deny");
    }
    // A doctor reading a hundred more charts than usual.
    for i in 0..100 {
        month.decide(
            at(15, 10, i % 60),
            "d7",
            &format!("p{}", 35 + i % 5),
            "permit",
        );
    }
    // Break-glass on a patient of someone else's.
    month.decide_with(
        at(18, 13, 0),
        "d5",
        "p40",
        "permit",
        json!({"break_glass": true, "break_glass_reason": "arrest in the corridor"}),
    );
    // A nurse disabled on day 20 whose access is still used on day 21.
    month.event(
        at(20, 9, 0),
        "directory.staff.disable",
        "n5",
        "success",
        json!({"active": false, "roles": ["nurse"]}),
    );
    month.decide(at(21, 14, 5), "n5", "p0", "deny");
    // Sign-in trouble.
    month.event(
        at(8, 7, 0),
        "auth.login",
        "n1",
        "failure",
        json!({"code": "invalid_signature"}),
    );
    month.event(
        at(8, 7, 1),
        "auth.mfa.verify",
        "n1",
        "failure",
        json!({"reason": "the code is wrong"}),
    );
    month.event(
        at(8, 7, 2),
        "auth.mfa.lockout",
        "n1",
        "success",
        json!({"locked_until": 0}),
    );
    // Releases of p1's records outside the hospital: two the accounting lists,
    // one it exempts (payment), one refused, and one naming no recipient.
    let release = |purpose: &str, recipient: &str| json!({"purpose_of_use": purpose, "recipient": recipient, "recipient_address": format!("{recipient}, Main Street")});
    month.decide_with(
        at(9, 10, 0),
        "d0",
        "p1",
        "permit",
        release("LEGAL", "County Court"),
    );
    month.decide_with(
        at(10, 10, 0),
        "d0",
        "p1",
        "permit",
        release("HPAYMT", "Acme Insurance"),
    );
    month.decide_with(
        at(11, 10, 0),
        "d0",
        "p1",
        "deny",
        release("HRESCH", "Uni Lab"),
    );
    month.decide_with(
        at(12, 10, 0),
        "d0",
        "p1",
        "permit",
        json!({"purpose_of_use": "PUBHLTH"}),
    );
    month.decide_with(
        at(13, 10, 0),
        "d0",
        "p1",
        "permit",
        release("PUBHLTH", "State Registry"),
    );
    // The administrator granted a role.
    month.event(at(3, 9, 0), "directory.staff.update", "n3", "success", json!({"roles": ["charge_nurse", "nurse"], "roles_added": ["charge_nurse"], "roles_removed": [], "source": "admin"}));
    month.event(
        at(3, 9, 5),
        "directory.staff.update",
        "n4",
        "success",
        json!({"roles": ["nurse"], "roles_added": [], "roles_removed": [], "source": "scim"}),
    );
}

fn column(rows: &[Vec<String>], index: usize) -> Vec<&str> {
    rows.iter().map(|r| r[index].as_str()).collect()
}

#[test]
fn each_privacy_report_finds_exactly_what_was_planted() {
    let month = month();
    let employees = month.report(ReportKind::EmployeeRecords);
    assert_eq!(column(&employees, 1), ["n6", "n1"]);
    assert_eq!(column(&employees, 4), ["own record", "co-worker n6"]);

    let namesakes = month.report(ReportKind::SameFamilyName);
    assert_eq!(column(&namesakes, 1), ["d2"]);
    assert_eq!(column(&namesakes, 4), ["OKAFOR"]);

    let neighbours = month.report(ReportKind::SameAddress);
    assert_eq!(column(&neighbours, 1), ["n3"]);
    assert_eq!(column(&neighbours, 3), ["nbr"]);

    let vip = month.report(ReportKind::VipAccess);
    assert_eq!(
        column(&vip, 1),
        ["d0", "d3"],
        "the care-team doctor and the snoop"
    );
    assert_eq!(column(&vip, 8), ["yes", "no"]);

    let outside = month.report(ReportKind::OutsideCareTeam);
    assert_eq!(
        column(&outside, 1),
        ["d3", "n6", "n3", "d5"],
        "the nurse reading her own record and the one reading her neighbour's too"
    );
    assert_eq!(column(&outside, 3), ["vip", "emp", "nbr", "p40"]);

    let late = month.report(ReportKind::AfterHours);
    assert_eq!(column(&late, 2), ["d1"]);
    assert_eq!(column(&late, 1), ["02:30"]);

    let spikes = month.report(ReportKind::DeniedSpikes);
    assert_eq!(
        spikes,
        [[
            "2026-10-13",
            "n2",
            "cardiology",
            "6",
            "p20, p21, p22, p23, p24, p25"
        ]]
    );

    let volume = month.report(ReportKind::UnusualVolume);
    assert_eq!(column(&volume, 0), ["d7"]);
    assert_eq!(column(&volume, 2), ["130"]);

    let glass = month.report(ReportKind::BreakGlass);
    assert_eq!(column(&glass, 1), ["d5"]);
    assert_eq!(column(&glass, 8), ["arrest in the corridor"]);
    assert_eq!(column(&glass, 9), ["no"]);
}

#[test]
fn each_account_report_finds_exactly_what_was_planted() {
    let month = month();
    let after = month.report(ReportKind::AfterTermination);
    assert_eq!(column(&after, 0), ["n5"]);
    assert_eq!(column(&after, 5), ["p0"]);

    let failed = month.report(ReportKind::FailedLogins);
    assert_eq!(
        column(&failed, 1),
        ["auth.login", "auth.mfa.verify", "auth.mfa.lockout"]
    );
    assert_eq!(column(&failed, 4)[0], "invalid_signature");

    let privileged = month.report(ReportKind::PrivilegedAccounts);
    assert_eq!(column(&privileged, 0), ["a0"]);

    let dormant = month.report(ReportKind::DormantAccounts);
    assert_eq!(
        column(&dormant, 0),
        ["r0"],
        "everyone else worked or signed in"
    );

    let changes = month.report(ReportKind::RoleChanges);
    assert_eq!(
        column(&changes, 2),
        ["n3", "n5"],
        "grants and disabling; an update that changed no role is left out"
    );
    assert_eq!(column(&changes, 5), ["charge_nurse", ""]);
}

#[test]
fn department_and_role_filters_narrow_every_access_report() {
    let month = month();
    let parameters = Parameters {
        department: Some("orthopaedics".into()),
        ..Parameters::default()
    };
    let rows = kinds::rows(
        ReportKind::OutsideCareTeam,
        &month.entries,
        &parameters,
        &month.directory,
    );
    assert_eq!(column(&rows, 1), ["d3", "d5"]);
    let nurses = Parameters {
        role: Some("nurse".into()),
        ..Parameters::default()
    };
    let rows = kinds::rows(
        ReportKind::VipAccess,
        &month.entries,
        &nurses,
        &month.directory,
    );
    assert!(rows.is_empty());
}

#[test]
fn the_accounting_of_disclosures_lists_only_what_the_rule_includes() {
    let month = month();
    let parameters = Parameters {
        patient: Some("p1".into()),
        ..Parameters::default()
    };
    let rows = month.report_with(ReportKind::Disclosures, &parameters);
    assert_eq!(column(&rows, 1), ["County Court", "State Registry"]);
    assert_eq!(
        column(&rows, 2),
        ["County Court, Main Street", "State Registry, Main Street"]
    );
    assert_eq!(column(&rows, 4), ["LEGAL", "PUBHLTH"]);
    assert_eq!(column(&rows, 3)[0], "read lab result (LabResult:p1-lr)");
    assert!(
        kinds::ledger_query(ReportKind::Disclosures, &Parameters::default()).is_err(),
        "one patient at a time"
    );
}

#[test]
fn a_pack_tallied_in_one_pass_matches_each_report_read_on_its_own() {
    let month = month();
    let parameters = Parameters::default();
    let pack: Vec<ReportKind> = ReportKind::ALL
        .into_iter()
        .filter(|kind| kinds::ledger_query(*kind, &parameters).is_ok())
        .collect();
    let mut tallies: Vec<_> = pack
        .iter()
        .map(|kind| kinds::tally(*kind, &parameters, &month.directory))
        .collect();
    for entry in &month.entries {
        tallies.iter_mut().for_each(|tally| tally.add(entry));
    }
    let mut found_rows = 0;
    for (kind, tally) in pack.iter().zip(tallies) {
        let (rows, read) = tally.finish();
        assert_eq!(rows, month.report(*kind), "{kind:?}");
        let query = kinds::ledger_query(*kind, &parameters).unwrap();
        let own: Vec<&Entry> = month
            .entries
            .iter()
            .filter(|_| query.reads_entries)
            .filter(|e| query.kinds.is_empty() || query.kinds.contains(&e.event.kind))
            .collect();
        assert_eq!(read.count, own.len() as u64, "{kind:?} counts what it read");
        assert_eq!(read.first, own.first().map(|e| e.sequence), "{kind:?}");
        assert_eq!(read.last, own.last().map(|e| e.sequence), "{kind:?}");
        found_rows += rows.len();
    }
    assert!(
        pack.len() >= 15,
        "every report without a required parameter"
    );
    assert!(found_rows > 20, "the planted cases are found");
}
