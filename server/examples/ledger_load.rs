//! Load for the audit ledger alone: sustained durable appends per second through
//! the group-committing writer, and inclusion-proof latency at the size reached.
//!
//! ```text
//! cargo run --release -p hms-ach --example ledger_load -- --database sqlite:///tmp/ledger-bench \
//!     --concurrency 64 --seconds 20 [--fill 10000000] [--proofs 2000]
//! ```
//! `--fill N` first appends (in large batches) until the ledger holds N entries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hms_audit_ledger::Event;
use hms_audit_ledger::store::{Ledger, WriterOptions};
use hms_directory::Backend;
use hms_keys::MasterKey;
use serde_json::json;

struct Args {
    database: String,
    concurrency: usize,
    seconds: u64,
    fill: u64,
    proofs: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        database: "sqlite:///tmp/hms-ledger-bench".into(),
        concurrency: 64,
        seconds: 20,
        fill: 0,
        proofs: 2000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--database" => args.database = value,
            "--concurrency" => args.concurrency = value.parse().unwrap(),
            "--seconds" => args.seconds = value.parse().unwrap(),
            "--fill" => args.fill = value.parse().unwrap(),
            "--proofs" => args.proofs = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// A decision entry of typical size.
fn decision(n: u64) -> Event {
    Event {
        kind: "decision".into(),
        actor: Some("client:cl_0123456789abcdef".into()),
        subject: Some(format!("staff-{}", n % 10_000)),
        patient: Some(format!("p-{}", n % 100_000)),
        action: Some("read_lab_result".into()),
        resource: Some(format!("LabResult:lr-{n}")),
        outcome: Some(
            if n.is_multiple_of(5) {
                "deny"
            } else {
                "permit"
            }
            .into(),
        ),
        policies: vec!["care-team-clinical-read".into()],
        request_id: Some(format!("0193-{n:016x}")),
        decision_id: Some(format!("0193-{n:020x}")),
        source_ip: Some("10.20.30.40".into()),
        user_agent: Some("emr-gateway/2.1".into()),
        details: json!({"subject_type": "Staff", "policy_version": 3,
            "resource_properties": {"patient": {"type": "Patient", "id": format!("p-{}", n % 100_000)}}}),
    }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let backend = Backend::from_url(&args.database, "hms_ledger_bench").unwrap();
    let pool = backend
        .tenant_pool(&"bench".parse().unwrap(), true)
        .await
        .unwrap();
    hms_governance::tenancy::migrate(&pool).await.unwrap();
    let master = MasterKey::from_base64("dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=").unwrap();
    let ledger = Arc::new(
        Ledger::open(pool, "bench/ledger", &master, WriterOptions::default())
            .await
            .unwrap(),
    );
    fill(&ledger, args.fill).await;
    sustained(&ledger, args.concurrency, args.seconds).await;
    proofs(&ledger, args.proofs).await;
}

/// Appends batches of 1,000 from 8 tasks until the ledger holds `target` entries.
async fn fill(ledger: &Arc<Ledger>, target: u64) {
    let started = Instant::now();
    let size = Arc::new(AtomicU64::new(ledger.size().await.unwrap()));
    let from = size.load(Ordering::Relaxed);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (ledger, size) = (Arc::clone(ledger), Arc::clone(&size));
            tokio::spawn(async move {
                while size.load(Ordering::Relaxed) < target {
                    let n = size.fetch_add(1000, Ordering::Relaxed);
                    ledger
                        .append_all((n..n + 1000).map(decision).collect())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    if target > from {
        let added = ledger.size().await.unwrap() - from;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "fill: {added} entries in {secs:.1} s = {:.0}/s",
            added as f64 / secs
        );
    }
}

/// `concurrency` callers each appending one entry at a time, as PDP requests do.
async fn sustained(ledger: &Arc<Ledger>, concurrency: usize, seconds: u64) {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (ledger, done) = (Arc::clone(ledger), Arc::clone(&done));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let n = done.fetch_add(1, Ordering::Relaxed);
                    ledger.append(decision(n)).await.unwrap();
                }
            })
        })
        .collect();
    let started = Instant::now();
    for task in tasks {
        task.await.unwrap();
    }
    let count = done.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sustained: {count} single-entry appends by {concurrency} callers in {secs:.1} s = {:.0} entries/s (each durable before it returned)",
        count as f64 / secs
    );
}

/// Latency of inclusion proofs for random entries against the latest checkpoint.
async fn proofs(ledger: &Ledger, count: usize) {
    let size = ledger.size().await.unwrap();
    let mut latencies = Vec::with_capacity(count);
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..count {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let started = Instant::now();
        let proof = ledger.inclusion_proof(seed % size, None).await.unwrap();
        latencies.push(started.elapsed());
        assert!(!proof.path.is_empty());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "inclusion proofs on {size} entries: p50 {:?} p99 {:?} max {:?}",
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}
