//! A tenant's SQLite files on a filesystem that fills up: no permit is
//! answered without its entry, no change is acknowledged that was not
//! stored, and the service denies quickly and recovers once space is freed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hms_audit_ledger::Trust;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, record_request, spawn_in, staff};

/// A small tmpfs of the test's own, unmounted when dropped.
struct SmallDisk {
    mount: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Self {
        let mount = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(mount.path())
            .status()
            .expect("mount runs");
        assert!(
            mounted.success(),
            "these tests mount a tmpfs: run them as root"
        );
        Self { mount }
    }

    fn path(&self) -> &Path {
        self.mount.path()
    }

    fn ballast(&self) -> PathBuf {
        self.path().join("ballast")
    }

    /// Writes until the filesystem refuses another byte.
    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.ballast()).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
    }

    fn free(&self) {
        std::fs::remove_file(self.ballast()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .status();
    }
}

async fn app_on(disk: &SmallDisk) -> TestApp {
    spawn_in("sqlite", tempfile::tempdir_in(disk.path()).unwrap()).await
}

/// A request the seeded directory permits.
fn vitals_request() -> Value {
    record_request("dr-heart", "read_vitals", "Vitals", "p1")
}

/// Sends `count` decisions at once; returns the ids of those permitted and
/// the error codes of those denied.
async fn decide_many(app: &TestApp, count: usize) -> (Vec<String>, Vec<String>) {
    let request = vitals_request();
    let answers = join_all((0..count).map(|_| async {
        let response = app.post("/access/v1/evaluation", &request).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()
    }))
    .await;
    let mut permitted = Vec::new();
    let mut denied = Vec::new();
    for answer in answers {
        if answer["decision"] == true {
            permitted.push(
                answer["context"]["decision_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        } else {
            denied.push(
                answer["context"]["error"]["code"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            );
        }
    }
    (permitted, denied)
}

/// The decision ids the ledger holds, read through the API.
async fn recorded_decision_ids(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = None::<u64>;
    loop {
        let path = match after {
            Some(after) => format!("/ledger/entries?kind=decision&limit=1000&after={after}"),
            None => "/ledger/entries?kind=decision&limit=1000".into(),
        };
        let page: Value = app.get(&path).await.json().await.unwrap();
        for entry in page["entries"].as_array().unwrap() {
            ids.push(entry["decision_id"].as_str().unwrap().to_owned());
        }
        match page["next_after"].as_u64() {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
}

async fn assert_all_recorded(app: &TestApp, permitted: &[String], when: &str) {
    let recorded = recorded_decision_ids(app).await;
    let lost: Vec<&String> = permitted
        .iter()
        .filter(|id| !recorded.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} permits answered on a full disk are not recorded {when}",
        lost.len(),
        permitted.len()
    );
}

async fn assert_ledger_verifies(app: &TestApp) {
    let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
    let report = tenant
        .ledger
        .verify(&Trust::default(), |_, _| {})
        .await
        .unwrap();
    assert!(report.is_valid(), "{:?}", report.problems);
}

#[tokio::test]
async fn on_a_full_disk_no_permit_goes_unrecorded_and_denials_come_fast() {
    for asynchronous in [false, true] {
        let disk = SmallDisk::mount();
        let app = app_on(&disk).await;
        if asynchronous {
            let chosen = app
                .put("/ledger/settings", &json!({"decisions": "asynchronous"}))
                .await;
            assert_eq!(chosen.status(), StatusCode::OK);
        }
        let (before, _) = decide_many(&app, 10).await;
        assert_eq!(before.len(), 10);

        disk.fill();
        let mut permitted = before;
        let mut denials = Vec::new();
        for _ in 0..40 {
            let started = Instant::now();
            let (allowed, denied) = decide_many(&app, 8).await;
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "8 decisions on a full disk took {:?}",
                started.elapsed()
            );
            permitted.extend(allowed);
            denials.extend(denied);
            // Room for the background WAL checkpoints between batches.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !denials.is_empty(),
            "a full disk must make the ledger fail (asynchronous: {asynchronous})"
        );
        assert!(
            denials.iter().all(|code| code == "audit_unavailable"),
            "{denials:?}"
        );

        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        if !asynchronous {
            // Durable permits are in the ledger before they are answered,
            // full disk or not.
            assert_all_recorded(&app, &permitted, "on the full disk").await;
        }
        disk.free();
        app.permitted_once_the_ledger_writes(&vitals_request())
            .await;
        tenant.ledger.flush().await.unwrap();
        assert_all_recorded(&app, &permitted, "once the disk is freed").await;
        assert_ledger_verifies(&app).await;
    }
}

/// The ids of the tenant's published ledger keys.
async fn key_ids(app: &TestApp) -> Vec<Value> {
    let keys: Value = app.get("/ledger/keys").await.json().await.unwrap();
    keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["key_id"].clone())
        .collect()
}

#[tokio::test]
async fn on_a_full_disk_changes_are_refused_with_503_and_only_acknowledged_ones_are_kept() {
    let disk = SmallDisk::mount();
    let app = app_on(&disk).await;
    let mut expected_keys = key_ids(&app).await;

    disk.fill();
    // SQLite may still commit into space its files already hold: every
    // change answered as made must be kept, every refused one must not.
    let mut refused = 0;
    for _ in 0..20 {
        let rotated = app.post("/ledger/keys/rotate", &json!({})).await;
        match rotated.status() {
            StatusCode::CREATED => {
                let key: Value = rotated.json().await.unwrap();
                expected_keys.push(key["key_id"].clone());
            }
            status => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                let body: Value = rotated.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "a full disk must refuse key rotations");
    assert_eq!(key_ids(&app).await, expected_keys, "while the disk is full");

    let mut department = "cardiology";
    let mut refused = 0;
    for (i, asked) in ["oncology", "radiology"]
        .iter()
        .cycle()
        .take(20)
        .enumerate()
    {
        let mut moved = staff("dr-heart", "doctor", asked, Some("medical_licence"));
        moved["active"] = json!(true);
        let change = app.put("/v1/directory/staff", &json!([moved])).await;
        match change.status() {
            StatusCode::OK => department = asked,
            status => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "change {i}");
                let body: Value = change.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "a full disk must refuse directory changes");

    disk.free();
    assert_eq!(key_ids(&app).await, expected_keys, "once the disk is freed");
    let stored: Value = app
        .get("/v1/directory/staff/dr-heart")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stored["department"], department,
        "the last acknowledged change is the one kept"
    );
    app.permitted_once_the_ledger_writes(&vitals_request())
        .await;
    let rotated = app.post("/ledger/keys/rotate", &json!({})).await;
    assert_eq!(rotated.status(), StatusCode::CREATED);
    assert_ledger_verifies(&app).await;
}
