//! Many nodes and many tenants on one PostgreSQL.
//!
//! `propagation`: three nodes in this process behind one public URL; a staff
//! member is disabled and enabled again on the first node, over and over,
//! and the other nodes are asked until their decisions follow: the delay
//! from the change's answer to every node deciding by it.
//!
//! `tenants`: one node; tenants are created up to `--tenants`, each asked one
//! decision; creation time, connections held and resident memory are
//! reported on the way, then the start-up time of a node over all of them.
//!
//! ```text
//! cargo run --release -p hms-ach --example cluster_load -- propagation --database postgres://postgres@127.0.0.1:5432
//! cargo run --release -p hms-ach --example cluster_load -- tenants --database postgres://postgres@127.0.0.1:5432 --tenants 1000
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use hms_ach::app::Application;
use hms_governance::audit::{Actor, Provenance};
use hms_governance::credentials::Scope;
use serde_json::{Value, json};

fn by() -> Provenance {
    Provenance::local(Actor::Cli)
}

fn argument(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let database = argument("--database", "postgres://postgres@127.0.0.1:5432");
    match mode.as_str() {
        "propagation" => propagation(&database, argument("--rounds", "200").parse().unwrap()).await,
        "tenants" => tenants(&database, argument("--tenants", "1000").parse().unwrap()).await,
        other => panic!("unknown mode `{other}`: propagation or tenants"),
    }
}

fn doctor(active: bool) -> Value {
    json!([{"id": "dr-a", "given_name": "A", "family_name": "Doctor", "roles": ["doctor"],
            "department": "cardiology", "active": active,
            "credentials": [{"kind": "medical_licence", "number": "m-1", "status": "active", "expires": "2035-01-01"}]}])
}

async fn propagation(database: &str, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (first, base) = common::start(database, dir.path()).await;
    let settings = first.state().settings.clone();
    let tenants = first.state().tenants.clone();
    tokio::spawn(first.run());
    let tenant = tenants
        .create(&"bench".parse().unwrap(), "Bench", 0, &by())
        .await
        .unwrap();
    let (_, token) = tenant
        .create_client("bench", &[Scope::Pdp, Scope::Admin], &by())
        .await
        .unwrap();
    let token = token.expose().to_owned();
    let mut bases = vec![base.clone()];
    for _ in 0..2 {
        let mut settings = settings.clone();
        settings.listen = "127.0.0.1:0".parse().unwrap();
        settings.public_url = Some(base.clone());
        let node = Application::build(settings).await.unwrap();
        bases.push(format!("http://{}", node.local_addr()));
        tokio::spawn(node.run());
    }
    let http = reqwest::Client::new();
    let put = |active: bool| {
        http.put(format!("{base}/bench/v1/directory/staff"))
            .bearer_auth(&token)
            .json(&doctor(active))
            .send()
    };
    assert!(put(true).await.unwrap().status().is_success());
    let patients = json!([{"id": "p1", "care_team": ["dr-a"]}]);
    http.put(format!("{base}/bench/v1/directory/patients"))
        .bearer_auth(&token)
        .json(&patients)
        .send()
        .await
        .unwrap();
    let request = json!({"subject": {"type": "Staff", "id": "dr-a"}, "action": {"name": "read_lab_result"},
        "resource": {"type": "LabResult", "id": "r", "properties": {"patient": {"type": "Patient", "id": "p1"}}}});
    let decides = async |node: &str| -> bool {
        let answer: Value = http
            .post(format!("{node}/bench/access/v1/evaluation"))
            .bearer_auth(&token)
            .json(&request)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["decision"].as_bool().unwrap()
    };
    let mut delays = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let active = round % 2 == 1;
        assert!(put(active).await.unwrap().status().is_success());
        let changed = Instant::now();
        for node in &bases[1..] {
            while decides(node).await != active {
                assert!(
                    changed.elapsed() < Duration::from_secs(10),
                    "never propagated"
                );
            }
        }
        delays.push(changed.elapsed());
    }
    println!(
        "change to every node (3 nodes): {}",
        common::percentiles(delays)
    );
}

/// Connections held to this run's databases.
async fn connections(database: &str, prefix: &str) -> i64 {
    let admin = sqlx::PgPool::connect(&format!("{database}/postgres"))
        .await
        .unwrap();
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_one(&admin)
            .await
            .unwrap();
    admin.close().await;
    count
}

fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

async fn tenants(database: &str, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (app, base) = common::start(database, dir.path()).await;
    let settings = app.state().settings.clone();
    let prefix = settings.database_prefix.clone();
    let tenants = app.state().tenants.clone();
    tokio::spawn(app.run());
    let http = reqwest::Client::new();
    let request = json!({"subject": {"type": "Staff", "id": "nobody"}, "action": {"name": "read_lab_result"},
        "resource": {"type": "LabResult", "id": "r", "properties": {"patient": {"type": "Patient", "id": "p1"}}}});
    let mut tokens = Vec::with_capacity(count);
    let mut recent = Vec::new();
    for n in 1..=count {
        let id = format!("t{n:05}");
        let started = Instant::now();
        let tenant = tenants
            .create(&id.parse().unwrap(), &id, 0, &by())
            .await
            .unwrap();
        recent.push(started.elapsed());
        let (_, token) = tenant
            .create_client("emr", &[Scope::Pdp], &by())
            .await
            .unwrap();
        drop(tenant);
        tokens.push((id, token.expose().to_owned()));
        if n == 1 || n % 200 == 0 {
            // Every tenant asked once since the last mark, reopened if closed.
            for (id, token) in &tokens[tokens.len().saturating_sub(200)..] {
                let answer = http
                    .post(format!("{base}/{id}/access/v1/evaluation"))
                    .bearer_auth(token)
                    .json(&request)
                    .send()
                    .await
                    .unwrap();
                assert!(answer.status().is_success());
            }
            println!(
                "{n} tenants: creation {} | open here {} | connections {} | RSS {:.0} MiB",
                common::percentiles(std::mem::take(&mut recent)),
                tenants.served().len(),
                connections(database, &prefix).await,
                resident_mib()
            );
        }
    }
    let started = Instant::now();
    let mut settings = settings;
    settings.listen = "127.0.0.1:0".parse().unwrap();
    let node = Application::build(settings).await.unwrap();
    let node_base = format!("http://{}", node.local_addr());
    tokio::spawn(node.run());
    let (id, token) = &tokens[count / 2];
    let answer = http
        .post(format!("{node_base}/{id}/access/v1/evaluation"))
        .bearer_auth(token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    println!(
        "a second node over {count} tenants: built and answering its first decision in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}
