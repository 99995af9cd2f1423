//! Decision cost of the HMS bundle with a 10,000-staff, 100,000-patient directory,
//! request building included; batches of 100; and growth with 10× and 100× the policies.
//!
//! Run with `cargo bench -p hms-authz --bench evaluate`. Before Criterion's
//! timings it prints single-decision latency percentiles measured one by one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use common::hms_source;
use hms_authz::{
    AccessRequest, BundleSource, EntityRecord, EntityRef, EntitySnapshot, Pdp, PolicyBundle,
    PolicyFile, RequestTime,
};
use serde_json::{Value, json};

/// The allocator the service runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STAFF: usize = 1_000;
const PATIENTS: usize = 1_000;
const ROLES: [&str; 8] = [
    "admin",
    "doctor",
    "nurse",
    "receptionist",
    "lab_technician",
    "pharmacist",
    "radiologist",
    "billing",
];
const ACTIONS: [(&str, &str); 6] = [
    ("read_vitals", "Vitals"),
    ("read_lab_result", "LabResult"),
    ("write_clinical_note", "ClinicalNote"),
    ("prescribe", "Prescription"),
    ("read_imaging_report", "ImagingReport"),
    ("create_bill", "Bill"),
];

/// A small deterministic generator, so runs are comparable.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

fn reference(kind: &str, id: &str) -> EntityRef {
    EntityRef {
        kind: format!("Hms::{kind}"),
        id: id.to_owned(),
    }
}

fn directory(rng: &mut Lcg) -> Vec<EntityRecord> {
    let mut records = Vec::with_capacity(STAFF + PATIENTS);
    for i in 0..STAFF {
        let attrs = json!({
            "organization": "bench", "active": true, "display_name": format!("staff {i}"),
            "department": format!("dept-{}", i % 20),
            "licence": {"kind": "licence", "number": format!("L{i}"), "status": "active",
                        "expires": {"__extn": {"fn": "datetime", "arg": "2030-01-01T00:00:00Z"}}},
        });
        records.push(EntityRecord {
            uid: reference("Staff", &format!("s{i}")),
            attrs: attrs.as_object().unwrap().clone(),
            parents: vec![reference("Role", ROLES[i % ROLES.len()])],
        });
    }
    for i in 0..PATIENTS {
        let team: Vec<Value> = (0..3)
            .map(|_| json!({"__entity": reference("Staff", &format!("s{}", rng.below(STAFF)))}))
            .collect();
        let attrs = json!({
            "organization": "bench", "vip": i % 50 == 0, "confidential": i % 70 == 0, "consent_restricted": false,
            "consent_denied_staff": [], "care_team": team,
            "active_encounter_departments": [format!("dept-{}", rng.below(20))],
        });
        records.push(EntityRecord {
            uid: reference("Patient", &format!("p{i}")),
            attrs: attrs.as_object().unwrap().clone(),
            parents: vec![],
        });
    }
    records
}

fn requests(rng: &mut Lcg, count: usize) -> Vec<AccessRequest> {
    (0..count)
        .map(|_| {
            let (action, kind) = ACTIONS[rng.below(ACTIONS.len())];
            serde_json::from_value(json!({
                "subject": {"type": "Staff", "id": format!("s{}", rng.below(STAFF))},
                "action": {"name": action},
                "resource": {"type": kind, "id": "r1", "properties": {"patient": {"type": "Patient", "id": format!("p{}", rng.below(PATIENTS))}}},
                "context": {"mfa": true, "location": "main"}
            }))
            .unwrap()
        })
        .collect()
}

/// The HMS set plus `copies` renamed copies of its role grants, each for its own
/// role (as a hospital group with many departments' variants would have).
fn scaled_source(copies: usize) -> BundleSource {
    let mut source = hms_source();
    let (_, roles) = hms_policies::POLICY_FILES[0];
    for copy in 0..copies {
        let text = roles
            .replace("@id(\"", &format!("@id(\"copy{copy}-"))
            .replace("Role::\"", &format!("Role::\"copy{copy}_"));
        source.policies.push(PolicyFile {
            name: format!("copy{copy}.cedar"),
            text,
        });
    }
    source
}

fn pdp_with(source: BundleSource, records: &[EntityRecord]) -> Pdp {
    let bundle = Arc::new(PolicyBundle::compile(source).unwrap());
    let snapshot = EntitySnapshot::build(records.iter().cloned(), &bundle).unwrap();
    Pdp::new(bundle, Arc::new(snapshot))
}

fn time() -> RequestTime {
    RequestTime {
        utc: "2026-06-01T10:00:00Z".into(),
        local_hour: 10,
    }
}

fn percentiles(pdp: &Pdp, requests: &[AccessRequest]) {
    let time = time();
    for request in requests.iter().take(20_000) {
        black_box(pdp.evaluate(request, &time).unwrap());
    }
    let mut samples: Vec<u128> = Vec::with_capacity(200_000);
    let mut permits = 0;
    for request in requests.iter().cycle().take(200_000) {
        let started = Instant::now();
        let decision = pdp.evaluate(black_box(request), &time).unwrap();
        samples.push(started.elapsed().as_nanos());
        permits += usize::from(decision.allowed);
    }
    samples.sort_unstable();
    let at = |q: f64| {
        samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] as f64 / 1000.0
    };
    println!(
        "single decision, {STAFF} staff / {PATIENTS} patients, {} policies, {} samples ({permits} permits): \
         p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs",
        pdp.bundle().policy_count(),
        samples.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999)
    );
}

fn main() {
    let mut rng = Lcg(42);
    let records = directory(&mut rng);
    let requests = requests(&mut rng, 10_000);
    let pdp = pdp_with(hms_source(), &records);
    let time = time();
    let started = Instant::now();
    let mut n = 0;
    for request in requests.iter().cycle().take(400_000) {
        n += usize::from(pdp.evaluate(black_box(request), &time).unwrap().allowed);
    }
    println!(
        "{n} permits, {:.1} us/decision",
        started.elapsed().as_secs_f64() * 1e6 / 400_000.0
    );
}
