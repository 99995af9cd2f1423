//! The entity store at scale: `--entities` lab results (default 1,000,000)
//! written through `POST /v1/entities` in batches of `--batch`, each change in
//! the ledger; then decisions that name a lab result by id alone (in process
//! and over HTTP), resource searches over them, and the time a node takes to
//! open the tenant with all of them. Resident memory is reported on the way.
//!
//! ```text
//! cargo run --release -p hms-ach --example entity_load -- --database sqlite
//! cargo run --release -p hms-ach --example entity_load -- --database postgres://postgres@127.0.0.1:5432
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use hms_ach::app::Application;
use hms_governance::audit::{Actor, Provenance};
use hms_governance::credentials::Scope;
use serde_json::{Value, json};

/// Patients the lab results belong to; the doctor cares for one in a hundred.
const PATIENTS: usize = 10_000;

fn argument(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// Resident and peak resident memory of this process, MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> f64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn lab_results(from: usize, count: usize) -> Value {
    let upsert: Vec<Value> = (from..from + count)
        .map(|i| {
            json!({"uid": {"type": "Hms::LabResult", "id": format!("lr-{i:07}")},
                   "attrs": {"patient": {"__entity": {"type": "Hms::Patient", "id": format!("p{}", i % PATIENTS)}},
                             "critical": i % 50 == 0}})
        })
        .collect();
    json!({ "upsert": upsert })
}

#[tokio::main]
async fn main() {
    let database = argument("--database", "sqlite");
    let entities: usize = argument("--entities", "1000000").parse().unwrap();
    let batch: usize = argument("--batch", "20000").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (app, base) = common::start(&database, dir.path()).await;
    let settings = app.state().settings.clone();
    let tenants = app.state().tenants.clone();
    tokio::spawn(app.run());
    let by = Provenance::local(Actor::Cli);
    let tenant = tenants
        .create(&"bench".parse().unwrap(), "Bench", 0, &by)
        .await
        .unwrap();
    let (_, token) = tenant
        .create_client("bench", &[Scope::Pdp, Scope::Admin], &by)
        .await
        .unwrap();
    let token = token.expose().to_owned();
    let http = reqwest::Client::new();
    seed_directory(&http, &base, &token).await;
    println!("before the load: resident {:.0} MiB", memory_mib().0);

    let started = Instant::now();
    for from in (0..entities).step_by(batch) {
        let body = lab_results(from, batch.min(entities - from));
        let response = http
            .post(format!("{base}/bench/v1/entities"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    let took = started.elapsed();
    let (resident, peak) = memory_mib();
    println!(
        "bulk load of {entities} entities in batches of {batch}: {:.1} s ({:.0} entities/s); resident {resident:.0} MiB, peak {peak:.0} MiB",
        took.as_secs_f64(),
        entities as f64 / took.as_secs_f64()
    );

    decisions_in_process(&tenant, entities);
    decisions_over_http(&http, &base, &token, entities).await;
    searches(&http, &base, &token).await;
    reopen(settings, &http, &token).await;
}

async fn seed_directory(http: &reqwest::Client, base: &str, token: &str) {
    let staff = json!([{"id": "dr-a", "given_name": "A", "family_name": "Doctor", "roles": ["doctor"],
        "department": "cardiology",
        "credentials": [{"kind": "medical_licence", "number": "m-1", "status": "active", "expires": "2035-01-01"}]}]);
    let put = |path: &str, body: Value| {
        http.put(format!("{base}/bench/v1/directory/{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    assert!(put("staff", staff).await.unwrap().status().is_success());
    let patients: Vec<Value> = (0..PATIENTS)
        .map(|i| {
            let team: Vec<&str> = if i % 100 == 0 { vec!["dr-a"] } else { vec![] };
            json!({"id": format!("p{i}"), "care_team": team})
        })
        .collect();
    for chunk in patients.chunks(1000) {
        assert!(
            put("patients", json!(chunk))
                .await
                .unwrap()
                .status()
                .is_success()
        );
    }
}

fn by_id(i: usize) -> Value {
    json!({"subject": {"type": "Staff", "id": "dr-a"}, "action": {"name": "read_lab_result"},
           "resource": {"type": "LabResult", "id": format!("lr-{i:07}")}})
}

/// A spread of lab results: the same each run.
fn picks(entities: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |k| (k * 7_919 + 13) % entities)
}

fn decisions_in_process(tenant: &hms_governance::tenancy::Tenant, entities: usize) {
    let pdp = tenant.pdp();
    let time = tenant.request_time();
    let mut samples = Vec::with_capacity(100_000);
    let mut permitted = 0;
    for i in picks(entities, 100_000) {
        let request = serde_json::from_value(by_id(i)).unwrap();
        let started = Instant::now();
        let decision = pdp.evaluate(&request, &time).unwrap();
        samples.push(started.elapsed());
        permitted += usize::from(decision.allowed);
    }
    println!(
        "decision in process, {} entities held: {} ({permitted} permitted)",
        pdp.snapshot().len(),
        micros(samples)
    );
}

async fn decisions_over_http(http: &reqwest::Client, base: &str, token: &str, entities: usize) {
    let mut samples = Vec::with_capacity(20_000);
    for i in picks(entities, 20_000) {
        let started = Instant::now();
        let response = http
            .post(format!("{base}/bench/access/v1/evaluation"))
            .bearer_auth(token)
            .json(&by_id(i))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        samples.push(started.elapsed());
    }
    println!(
        "decision over HTTP, one caller, each recorded durably: {}",
        common::percentiles(samples)
    );
}

async fn searches(http: &reqwest::Client, base: &str, token: &str) {
    let mut samples = Vec::new();
    let mut token_of_page = String::new();
    let mut found = 0;
    for _ in 0..50 {
        let search = json!({"subject": {"type": "Staff", "id": "dr-a"}, "action": {"name": "read_lab_result"},
            "resource": {"type": "LabResult"}, "page": {"limit": 100, "token": token_of_page}});
        let started = Instant::now();
        let answer: Value = http
            .post(format!("{base}/bench/access/v1/search/resource"))
            .bearer_auth(token)
            .json(&search)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        samples.push(started.elapsed());
        found += answer["results"].as_array().unwrap().len();
        token_of_page = answer["page"]["next_token"].as_str().unwrap().to_owned();
    }
    println!(
        "resource search, pages of 100 of the 1 in 100 lab results the doctor may read ({found} found over 50 pages): {}",
        common::percentiles(samples)
    );
}

/// A second node opening the tenant: the time to its first answer.
async fn reopen(mut settings: hms_ach::config::Settings, http: &reqwest::Client, token: &str) {
    settings.listen = "127.0.0.1:0".parse().unwrap();
    let node = Application::build(settings).await.unwrap();
    let base = format!("http://{}", node.local_addr());
    tokio::spawn(node.run());
    let started = Instant::now();
    // Requests that arrive while the tenant opens wait for it, up to the
    // request timeout (a 503); ask again until it answers.
    loop {
        let response = http
            .post(format!("{base}/bench/access/v1/evaluation"))
            .bearer_auth(token)
            .json(&by_id(0))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => break,
            503 => continue,
            other => panic!("{other}: {}", response.text().await.unwrap()),
        }
    }
    println!(
        "a second node opening the tenant (directory and entity store into memory): first answer after {:.1} s; resident {:.0} MiB for both nodes",
        started.elapsed().as_secs_f64(),
        memory_mib().0
    );
}

fn micros(mut samples: Vec<Duration>) -> String {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    format!(
        "n={} p50={:.1}µs p99={:.1}µs",
        samples.len(),
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    )
}
