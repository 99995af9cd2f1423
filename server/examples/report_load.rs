//! Report figures against an in-process server: a tenant ledger filled with
//! decisions by many staff on many patients (some VIP, some outside the care
//! team, all at night in the tenant's time unless `--local-hour` says
//! otherwise, some refused, some break-glass), then the privacy-monitoring
//! pack over the whole ledger, written as CSV files by the same code as a
//! scheduled pack, and one-patient reports over loopback HTTP.
//!
//! ```text
//! cargo run --release -p hms-ach --example report_load -- --database sqlite \
//!     --entries 1000000 --staff 2000 --patients 100000 --patient-reports 50
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hms_ach::config::ScheduledPack;
use hms_ach::scheduler::write_pack;
use hms_audit_ledger::{Event, Timestamp};
use hms_directory::{Patient, StaffMember};
use hms_governance::audit::Provenance;
use hms_governance::credentials::Scope;
use reqwest::Client;
use serde_json::json;

use common::{percentiles, start};

/// The allocator the `hms-ach` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The privacy-monitoring pack, as a compliance officer pulls it.
const PACK: &[&str] = &[
    "break-glass",
    "vip-access",
    "outside-care-team",
    "after-hours",
    "denied-spikes",
    "unusual-volume",
];

struct Args {
    database: String,
    entries: u64,
    staff: u64,
    patients: u64,
    patient_reports: usize,
    /// The tenant's local hour while the ledger fills (23: all after hours).
    local_hour: i64,
}

fn parse_args() -> Args {
    let mut args = Args {
        database: "sqlite".into(),
        entries: 1_000_000,
        staff: 2000,
        patients: 100_000,
        patient_reports: 50,
        local_hour: 23,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--database" => args.database = value,
            "--entries" => args.entries = value.parse().unwrap(),
            "--staff" => args.staff = value.parse().unwrap(),
            "--patients" => args.patients = value.parse().unwrap(),
            "--patient-reports" => args.patient_reports = value.parse().unwrap(),
            "--local-hour" => args.local_hour = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// Decision `n`: patients spread evenly, nineteen in twenty decisions by the
/// patient's care team and the others by anyone, one in fifty refused, one in
/// a thousand break-glass.
fn decision(n: u64, args: &Args) -> Event {
    let patient_number = (n * 7919) % args.patients;
    let staff_number = if n.is_multiple_of(20) {
        n % args.staff
    } else {
        patient_number % args.staff
    };
    let staff = format!("s{staff_number}");
    let patient = format!("p{patient_number}");
    let outcome = if n.is_multiple_of(50) {
        "deny"
    } else {
        "permit"
    };
    let mut context = json!({"mfa": true, "purpose_of_use": "TREAT"});
    if n.is_multiple_of(1000) {
        context["break_glass"] = json!(true);
        context["break_glass_reason"] = json!("emergency");
    }
    Event {
        kind: "decision".into(),
        actor: Some("client:emr".into()),
        subject: Some(staff),
        patient: Some(patient.clone()),
        action: Some("read_lab_result".into()),
        resource: Some(format!("LabResult:{patient}-{n}")),
        outcome: Some(outcome.into()),
        decision_id: Some(format!("d-{n}")),
        details: json!({"subject_type": "Staff", "policy_version": 1, "context": context}),
        ..Event::default()
    }
}

fn directory(args: &Args) -> (Vec<StaffMember>, Vec<Patient>) {
    let departments = ["cardiology", "orthopaedics", "emergency", "oncology"];
    let staff = (0..args.staff)
        .map(|i| {
            let mut member = StaffMember::new(&format!("s{i}"));
            member.roles = vec![
                if i.is_multiple_of(3) {
                    "doctor"
                } else {
                    "nurse"
                }
                .into(),
            ];
            member.department = Some(departments[(i % 4) as usize].into());
            member
        })
        .collect();
    let patients = (0..args.patients)
        .map(|i| Patient {
            id: format!("p{i}"),
            vip: i.is_multiple_of(500),
            confidential: false,
            consent_restricted: false,
            consent_denied_staff: Vec::new(),
            care_team: vec![format!("s{}", i % args.staff)],
            active_encounter_departments: Vec::new(),
            family_name: None,
            address: None,
            employee_id: None,
        })
        .collect();
    (staff, patients)
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let dir = tempfile::tempdir().unwrap();
    let (app, base) = start(&args.database, dir.path()).await;
    let state = app.state().clone();
    tokio::spawn(async move {
        if let Err(error) = app.run().await {
            eprintln!("server stopped: {error:#}");
        }
    });
    let by = Provenance::local(hms_governance::audit::Actor::Cli);
    let tenant = state
        .tenants
        .create(
            &"bench".parse().unwrap(),
            "Bench",
            offset_for(args.local_hour),
            &by,
        )
        .await
        .unwrap();
    let (_, audit) = tenant
        .create_client("auditor", &[Scope::Audit], &by)
        .await
        .unwrap();
    let audit = audit.expose().to_owned();
    let (staff, patients) = directory(&args);
    tenant
        .upsert_staff(staff, hms_directory::ChangeSource::Admin, &by)
        .await
        .unwrap();
    for chunk in patients.chunks(5000) {
        tenant.upsert_patients(chunk.to_vec(), &by).await.unwrap();
    }

    let started = Instant::now();
    let batches: Vec<u64> = (0..args.entries).step_by(1000).collect();
    let args = &args;
    futures_util::stream::iter(batches)
        .map(|first| {
            let tenant = tenant.clone();
            async move {
                let last = (first + 1000).min(args.entries);
                let events = (first..last).map(|n| decision(n, args)).collect();
                tenant.ledger.append_all(events).await.unwrap();
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "filled {} decisions in {secs:.1} s ({:.0}/s)",
        args.entries,
        args.entries as f64 / secs
    );

    let folder = tempfile::tempdir().unwrap();
    let pack = ScheduledPack {
        name: "privacy".into(),
        kinds: PACK.iter().map(|k| (*k).to_owned()).collect(),
        every_seconds: 30 * 86_400,
        format: "csv".into(),
        folder: folder.path().to_owned(),
        tenant: None,
    };
    let until = Timestamp::now();
    let from = Timestamp::from_unix_micros(until.unix_micros() - 30 * 86_400 * 1_000_000);
    let pack_started = Instant::now();
    let written = write_pack(&pack, &tenant, from, until).await.unwrap();
    let secs = pack_started.elapsed().as_secs_f64();
    for kind in PACK {
        let csv = std::fs::read_to_string(written.join(format!("{kind}.csv"))).unwrap();
        // The rows end at the empty record before the notes.
        let rows = csv.lines().take_while(|l| *l != "\"\"").count() - 1;
        println!("  {kind}.csv: {rows} rows, {} MB", csv.len() / 1_000_000);
    }
    println!(
        "privacy-monitoring pack over the month's {} decisions: {secs:.1} s, peak memory {}",
        args.entries,
        peak_memory()
    );

    let http = Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let get = |query: String| {
        let request = http
            .get(format!("{base}/bench/reports/{query}"))
            .bearer_auth(&audit);
        async move {
            let started = Instant::now();
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{query}: {}",
                response.status()
            );
            let body: serde_json::Value = response.json().await.unwrap();
            (
                started.elapsed(),
                body["rows"].as_array().map_or(0, Vec::len),
            )
        }
    };
    let mut samples = Vec::new();
    for i in 0..args.patient_reports as u64 {
        let patient = (i * 104_729) % args.patients;
        samples.push(get(format!("patient-access?patient=p{patient}")).await.0);
    }
    println!("one-patient access report: {}", percentiles(samples));
    let (elapsed, rows) = get("disclosures?patient=p7".into()).await;
    println!(
        "one-patient accounting of disclosures: {:.2}ms, {rows} rows",
        elapsed.as_secs_f64() * 1e3
    );
}

/// The tenant's offset from UTC that makes now `hour` o'clock there (23 by
/// default, so that every decision of the fill falls after hours).
fn offset_for(hour: i64) -> i64 {
    let minute_of_day = Timestamp::now().unix_micros().div_euclid(60_000_000) % (24 * 60);
    let offset = (hour * 60 - minute_of_day).rem_euclid(24 * 60);
    if offset > 14 * 60 {
        offset - 24 * 60
    } else {
        offset
    }
}

/// The process's peak resident memory, as Linux reports it.
fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .map_or_else(|| "unknown".into(), |v| v.trim().to_owned())
}
