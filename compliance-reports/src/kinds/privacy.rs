//! Privacy monitoring: who looked at VIP and confidential patients, at their
//! own or a co-worker's record, at namesakes, outside their care relationships
//! or working hours, who was refused unusually often, and whose access volume
//! stands out from their peers'.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hms_audit_ledger::{Entry, EventKind, EventOutcome};

use super::tally::{Reading, Running};
use super::{
    Needs, Spec, break_glass, patient_decision, patient_id, patient_of, staff_id, staff_of, text,
    when_and_who, yes_no,
};
use crate::report::{Directory, Parameters};

/// Working hours: from 07:00 to 19:00, tenant local time.
const WORKDAY: std::ops::Range<i64> = 7..19;
/// Denials by one person in one day that make a spike.
const SPIKE_DENIALS: usize = 5;
/// How far above the peer median an access count must be to stand out.
const VOLUME_FACTOR: usize = 3;
/// Accesses below which no count is unusual.
const VOLUME_FLOOR: usize = 10;

pub(super) const VIP_ACCESS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "time",
        "staff",
        "roles",
        "department",
        "patient",
        "flags",
        "action",
        "decision",
        "on_care_team_now",
        "break_glass",
        "sequence",
    ],
    notes: &[
        "Every decision on a patient the directory flags as VIP or confidential, permitted or denied.",
    ],
    reading: Reading::EachEntry(vip_access),
};

pub(super) const OUTSIDE_CARE_TEAM: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "time",
        "staff",
        "department",
        "patient",
        "action",
        "resource",
        "break_glass",
        "sequence",
    ],
    notes: &[
        "Permitted decisions by staff who are not on the patient's care team and whose department has no active encounter with the patient, as the directory holds them when the report is generated.",
    ],
    reading: Reading::EachEntry(outside_care_team),
};

pub(super) const AFTER_HOURS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "time",
        "local_time",
        "staff",
        "department",
        "patient",
        "action",
        "decision",
        "sequence",
    ],
    notes: &["Decisions on patients outside 07:00–19:00 in the tenant's local time."],
    reading: Reading::EachEntry(after_hours),
};

pub(super) const DENIED_SPIKES: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &["day", "staff", "department", "denials", "patients"],
    notes: &[
        "Days (UTC) on which one person was refused access to patient records five times or more.",
    ],
    reading: Reading::Held {
        keep: denial,
        rows: denied_spikes,
    },
};

pub(super) const UNUSUAL_VOLUME: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "staff",
        "roles",
        "accesses",
        "peer_median",
        "distinct_patients",
    ],
    notes: &[
        "People whose count of decisions on patient records in the range is at least three times the median of their peers (others holding the same roles) and at least ten; people without peers are not compared.",
    ],
    reading: Reading::Own(|parameters, directory| {
        Box::new(Volume {
            parameters,
            directory,
            patients: HashMap::new(),
            accesses: BTreeMap::new(),
        })
    }),
};

pub(super) const EMPLOYEE_RECORDS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "time",
        "staff",
        "department",
        "patient",
        "relation",
        "action",
        "decision",
        "sequence",
    ],
    notes: &[
        "Every decision on the record of a patient who is also an employee, by that employee (own record) or by a co-worker, permitted or denied.",
    ],
    reading: Reading::EachEntry(employee_record),
};

pub(super) const SAME_FAMILY_NAME: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "time",
        "staff",
        "department",
        "patient",
        "family_name",
        "action",
        "decision",
        "sequence",
    ],
    notes: &[
        "Every decision on a patient whose registered family name is the staff member's (compared without regard to case), permitted or denied.",
    ],
    reading: Reading::EachEntry(same_family_name),
};

pub(super) const SAME_ADDRESS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "time",
        "staff",
        "department",
        "patient",
        "address",
        "action",
        "decision",
        "sequence",
    ],
    notes: &[
        "Every decision on a patient whose registered address is the staff member's home address, permitted or denied; addresses are compared without regard to case, punctuation or spacing.",
        "Staff addresses come from the directory (SCIM `addresses`, HR events, the directory API); staff without one are not compared.",
    ],
    reading: Reading::EachEntry(same_address),
};

/// The row for a decision on a patient where `finding` says what links the
/// staff member to the patient: time, staff, department, patient, finding,
/// action, decision, sequence.
fn related_row(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
    finding: impl Fn(&str, &str) -> Option<String>,
) -> Option<Vec<String>> {
    if !patient_decision(entry, parameters, directory) {
        return None;
    }
    let staff = staff_of(entry);
    let patient = patient_of(entry);
    let found = finding(&staff, &patient)?;
    Some(vec![
        entry.time.to_string(),
        staff.clone(),
        directory.department(&staff),
        patient,
        found,
        text(entry.event.action.as_ref()),
        text(entry.event.outcome.as_ref()),
        entry.sequence.to_string(),
    ])
}

fn employee_record(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
) -> Option<Vec<String>> {
    related_row(entry, parameters, directory, |staff, patient| {
        let employee = directory.patients.get(patient)?.employee_id.as_deref()?;
        Some(if employee == staff {
            "own record".to_owned()
        } else {
            format!("co-worker {employee}")
        })
    })
}

fn same_family_name(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
) -> Option<Vec<String>> {
    related_row(entry, parameters, directory, |staff, patient| {
        let name = directory.patients.get(patient)?.family_name.as_deref()?;
        let own = directory.staff.get(staff)?.family_name.trim();
        (!own.is_empty() && own.eq_ignore_ascii_case(name.trim())).then(|| name.to_owned())
    })
}

fn same_address(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
) -> Option<Vec<String>> {
    related_row(entry, parameters, directory, |staff, patient| {
        let theirs = directory.patients.get(patient)?.address.as_deref()?;
        let own = directory.staff.get(staff)?.address.as_deref()?;
        let key = address_key(own);
        (!key.is_empty() && key == address_key(theirs)).then(|| theirs.to_owned())
    })
}

/// An address reduced for comparison: lowercase letters and digits, words
/// separated by one space ("12, Elm St." and "12 elm st" are the same).
fn address_key(address: &str) -> String {
    address
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn vip_access(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
) -> Option<Vec<String>> {
    if !patient_decision(entry, parameters, directory) {
        return None;
    }
    let patient = patient_id(entry);
    let facts = directory.patients.get(patient)?;
    let flags: Vec<&str> = [("vip", facts.vip), ("confidential", facts.confidential)]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
    if flags.is_empty() {
        return None;
    }
    let mut row = when_and_who(entry, directory);
    row.extend([
        patient.to_owned(),
        flags.join(", "),
        text(entry.event.action.as_ref()),
        text(entry.event.outcome.as_ref()),
        yes_no(facts.care_team.contains(staff_id(entry))),
        yes_no(break_glass(entry)),
        entry.sequence.to_string(),
    ]);
    Some(row)
}

fn outside_care_team(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
) -> Option<Vec<String>> {
    let permitted = entry.event.ended(EventOutcome::Permit);
    if !permitted || !patient_decision(entry, parameters, directory) {
        return None;
    }
    let staff = staff_id(entry);
    let facts = directory.patients.get(patient_id(entry));
    if facts.is_some_and(|p| p.care_team.contains(staff)) {
        return None;
    }
    let department = directory.department(staff);
    let related = facts.is_some_and(|p| p.departments.contains(&department));
    (!related).then(|| {
        vec![
            entry.time.to_string(),
            staff.to_owned(),
            department,
            patient_of(entry),
            text(entry.event.action.as_ref()),
            text(entry.event.resource.as_ref()),
            yes_no(break_glass(entry)),
            entry.sequence.to_string(),
        ]
    })
}

/// `(hour, "HH:MM")` of `entry` in the tenant's local time.
fn local_time(entry: &Entry, offset_minutes: i64) -> (i64, String) {
    let minutes = entry.time.unix_micros().div_euclid(60_000_000) + offset_minutes;
    let minute_of_day = minutes.rem_euclid(24 * 60);
    let hour = minute_of_day / 60;
    (hour, format!("{hour:02}:{:02}", minute_of_day % 60))
}

fn after_hours(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
) -> Option<Vec<String>> {
    if !patient_decision(entry, parameters, directory) {
        return None;
    }
    let (hour, local) = local_time(entry, directory.utc_offset_minutes);
    if WORKDAY.contains(&hour) {
        return None;
    }
    let staff = staff_of(entry);
    Some(vec![
        entry.time.to_string(),
        local,
        staff.clone(),
        directory.department(&staff),
        patient_of(entry),
        text(entry.event.action.as_ref()),
        text(entry.event.outcome.as_ref()),
        entry.sequence.to_string(),
    ])
}

/// A refused decision on a patient.
fn denial(entry: &Entry, parameters: &Parameters, directory: &Directory) -> bool {
    entry.event.ended(EventOutcome::Deny) && patient_decision(entry, parameters, directory)
}

fn denied_spikes(
    entries: &[Entry],
    parameters: &Parameters,
    directory: &Directory,
) -> Vec<Vec<String>> {
    let mut denials: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for entry in entries.iter().filter(|e| denial(e, parameters, directory)) {
        let day = entry.time.to_string().chars().take(10).collect::<String>();
        denials
            .entry((day, staff_of(entry)))
            .or_default()
            .push(patient_of(entry));
    }
    denials
        .into_iter()
        .filter(|(_, patients)| patients.len() >= SPIKE_DENIALS)
        .map(|((day, staff), mut patients)| {
            let count = patients.len();
            patients.sort();
            patients.dedup();
            vec![
                day,
                staff.clone(),
                directory.department(&staff),
                count.to_string(),
                patients.join(", "),
            ]
        })
        .collect()
}

/// The median of `counts` without one occurrence of `own`; none without peers.
fn peer_median(counts: &[usize], own: usize) -> Option<usize> {
    let mut peers = counts.to_vec();
    let position = peers.iter().position(|c| *c == own)?;
    peers.remove(position);
    peers.sort_unstable();
    peers.get(peers.len() / 2).copied()
}

/// Each person's count of decisions on patients, and the distinct patients
/// (numbered, so that millions of decisions stay small in memory).
struct Volume<'a> {
    parameters: &'a Parameters,
    directory: &'a Directory,
    patients: HashMap<String, usize>,
    accesses: BTreeMap<String, (usize, BTreeSet<usize>)>,
}

impl Volume<'_> {
    /// The patient's number, given on first sight.
    fn number(&mut self, patient: &str) -> usize {
        if let Some(number) = self.patients.get(patient) {
            return *number;
        }
        let number = self.patients.len();
        self.patients.insert(patient.to_owned(), number);
        number
    }
}

impl Running for Volume<'_> {
    fn add(&mut self, entry: &Entry) {
        if !patient_decision(entry, self.parameters, self.directory) {
            return;
        }
        let number = self.number(patient_id(entry));
        let staff = staff_id(entry);
        if !self.accesses.contains_key(staff) {
            self.accesses.insert(staff.to_owned(), (0, BTreeSet::new()));
        }
        if let Some((count, patients)) = self.accesses.get_mut(staff) {
            *count += 1;
            patients.insert(number);
        }
    }

    fn rows(self: Box<Self>) -> Vec<Vec<String>> {
        let directory = self.directory;
        let mut by_roles: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (staff, (count, _)) in &self.accesses {
            by_roles
                .entry(directory.roles(staff))
                .or_default()
                .push(*count);
        }
        self.accesses
            .into_iter()
            .filter_map(|(staff, (count, patients))| {
                let roles = directory.roles(&staff);
                let peer = peer_median(by_roles.get(&roles)?, count)?;
                if count < VOLUME_FLOOR || count < VOLUME_FACTOR * peer.max(1) {
                    return None;
                }
                Some(vec![
                    staff,
                    roles,
                    count.to_string(),
                    peer.to_string(),
                    patients.len().to_string(),
                ])
            })
            .collect()
    }
}
