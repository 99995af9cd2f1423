//! Killing the server mid-load loses no answered decision and leaves a ledger
//! that verifies; so does stopping it with SIGTERM when decisions are
//! recorded asynchronously.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hms_audit_ledger::{Trust, VerifierKey, verify_bundle};
use serde_json::Value;

use crate::helpers::{MASTER_KEY, postgres_url, record_request};

/// A server process and where to reach it.
struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `hms-ach serve`; on the first start (`first`), returns the demo token it prints.
fn start(env: &[(String, String)], port: u16, first: bool) -> (Server, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hms-ach"))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("HMS_ACH__LISTEN", format!("127.0.0.1:{port}"))
        .env("HMS_ACH__LOG_FORMAT", "pretty")
        .env("RUST_LOG", "warn")
        .stdout(if first { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let token = child.stdout.take().map(|stdout| {
        let (found, token) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(token) = line.split("keep it): ").nth(1) {
                    let _ = found.send(token.trim().to_owned());
                }
            }
        });
        token
            .recv_timeout(Duration::from_secs(60))
            .expect("the first start prints the demo token")
    });
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    (server, token)
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let response = http.get(format!("{base}/readyz")).send().await;
        if response.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} never became ready");
}

/// Sends decisions from `workers` tasks until they fail; returns the decision ids answered.
async fn load(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    workers: usize,
) -> Arc<Mutex<Vec<String>>> {
    let answered = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..workers {
        let (http, answered) = (http.clone(), Arc::clone(&answered));
        let url = format!("{base}/demo/access/v1/evaluation");
        let token = token.to_owned();
        tokio::spawn(async move {
            let request = record_request("dr-grey", "read_lab_result", "LabResult", "p-1001");
            loop {
                let Ok(response) = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&request)
                    .send()
                    .await
                else {
                    return;
                };
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                if let Some(id) = body["context"]["decision_id"].as_str() {
                    answered.lock().unwrap().push(id.to_owned());
                }
            }
        });
    }
    answered
}

/// How the server is stopped mid-load, and how it records decisions meanwhile.
#[derive(Clone, Copy)]
enum Stop {
    /// SIGKILL, decisions answered once durable.
    KillDurable,
    /// SIGTERM, decisions answered once queued.
    TerminateAsynchronous,
}

async fn choose_asynchronous_recording(http: &reqwest::Client, base: &str, token: &str) {
    let chosen = http
        .put(format!("{base}/demo/ledger/settings"))
        .bearer_auth(token)
        .json(&serde_json::json!({"decisions": "asynchronous"}))
        .send()
        .await
        .unwrap();
    assert!(chosen.status().is_success(), "{}", chosen.status());
}

async fn crash_and_recover(env: Vec<(String, String)>, stop: Stop) {
    let http = reqwest::Client::new();
    let port = free_port();
    let (mut server, token) = start(&env, port, true);
    let token = token.unwrap_or_default();
    wait_ready(&http, &server.base).await;
    if let Stop::TerminateAsynchronous = stop {
        choose_asynchronous_recording(&http, &server.base, &token).await;
    }
    let answered = load(&http, &server.base, &token, 16).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    match stop {
        Stop::KillDurable => server.child.kill().unwrap(),
        Stop::TerminateAsynchronous => {
            let pid = server.child.id().to_string();
            let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            assert!(sent.success());
        }
    }
    let status = server.child.wait().unwrap();
    if let Stop::TerminateAsynchronous = stop {
        assert!(
            status.success(),
            "SIGTERM ends the server cleanly: {status}"
        );
    }
    let answered: Vec<String> = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 100,
        "only {} decisions before the kill",
        answered.len()
    );

    let (mut server, _) = start(&env, port, false);
    wait_ready(&http, &server.base).await;
    let get = |path: &str| {
        http.get(format!("{}/demo{path}", server.base))
            .bearer_auth(&token)
            .send()
    };
    let keys: Value = get("/ledger/keys").await.unwrap().json().await.unwrap();
    let trusted: Vec<VerifierKey> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| VerifierKey::parse(k["vkey"].as_str().unwrap()).unwrap())
        .collect();
    let bundle = get("/ledger/export").await.unwrap().text().await.unwrap();
    let report = verify_bundle(
        bundle.as_bytes(),
        &Trust::with_keys(trusted.clone()),
        |_| {},
    )
    .unwrap();
    assert!(report.is_valid(), "{:?}", report.problems);
    let recorded: HashSet<&str> = bundle
        .lines()
        .filter_map(|line| line.split("\"decision_id\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let lost: Vec<&String> = answered
        .iter()
        .filter(|id| !recorded.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} answered decisions missing, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// The server's environment for a SQLite data folder.
fn sqlite_env(dir: &std::path::Path) -> Vec<(String, String)> {
    vec![
        (
            "HMS_ACH__DATABASE_URL".into(),
            format!("sqlite://{}", dir.display()),
        ),
        ("HMS_ACH__LEDGER__MASTER_KEY".into(), MASTER_KEY.into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_answered_decision_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_and_recover(sqlite_env(dir.path()), Stop::KillDurable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_load_loses_no_decision_recorded_asynchronously() {
    let dir = tempfile::tempdir().unwrap();
    crash_and_recover(sqlite_env(dir.path()), Stop::TerminateAsynchronous).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_answered_decision_on_postgres() {
    let prefix = format!("hmst_crash_{}", std::process::id());
    crash_and_recover(
        vec![
            ("HMS_ACH__DATABASE_URL".into(), postgres_url()),
            ("HMS_ACH__DATABASE_PREFIX".into(), prefix),
            ("HMS_ACH__LEDGER__MASTER_KEY".into(), MASTER_KEY.into()),
        ],
        Stop::KillDurable,
    )
    .await;
}
