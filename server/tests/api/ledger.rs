//! The audit ledger end to end: what is recorded, proofs, export, tamper
//! detection online and offline, append-only storage and failing closed.

use hms_audit_ledger::checkpoint::{self, LedgerKey};
use hms_audit_ledger::merkle::{self, Hash};
use hms_audit_ledger::{Trust, VerifierKey, verify_bundle};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, by_test, record_request, spawn};

fn hash(text: &str) -> Hash {
    hex::decode(text).unwrap().try_into().unwrap()
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{path} on {}",
        app.backend
    );
    response.json().await.unwrap()
}

async fn trusted_keys(app: &TestApp) -> Vec<VerifierKey> {
    let keys = json_of(app, "/ledger/keys").await;
    keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| VerifierKey::parse(k["vkey"].as_str().unwrap()).unwrap())
        .collect()
}

async fn decision_entries(app: &TestApp) -> Vec<Value> {
    json_of(app, "/ledger/entries?kind=decision&limit=1000").await["entries"]
        .as_array()
        .unwrap()
        .clone()
}

fn break_glass_request() -> Value {
    let mut request = record_request("dr-bone", "read_vitals", "Vitals", "p1");
    request["context"] =
        json!({"break_glass": true, "break_glass_reason": "cardiac arrest in ED", "mfa": true});
    request
}

#[tokio::test]
async fn every_decision_and_change_is_recorded_with_who_what_and_why() {
    for app in apps().await {
        let response = app
            .http
            .post(app.url("/access/v1/evaluation"))
            .bearer_auth(&app.pdp_token)
            .header("user-agent", "emr-gateway/2.1")
            .header("x-request-id", "req-42")
            .json(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
            .send()
            .await
            .unwrap();
        let permit: Value = response.json().await.unwrap();
        assert_eq!(permit["decision"], true);
        let batch = json!({"evaluations": [
            record_request("dr-bone", "read_vitals", "Vitals", "p1"),
            break_glass_request(),
            {"subject": {"type": "Staff", "id": "dr-heart"}, "action": {"name": "no_such_action"}, "resource": {"type": "Vitals", "id": "v"}},
        ]});
        let batch: Value = app
            .post("/access/v1/evaluations", &batch)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(batch["evaluations"][1]["decision"], true);
        let mut disabled = crate::helpers::staff("desk", "receptionist", "front-desk", None);
        disabled["active"] = json!(false);
        let status = app
            .put("/v1/directory/staff", &json!([disabled]))
            .await
            .status();
        assert_eq!(status, StatusCode::OK);

        let decisions = decision_entries(&app).await;
        assert_eq!(decisions.len(), 4, "{}: {decisions:#?}", app.backend);
        let first = &decisions[0];
        assert_eq!(first["decision_id"], permit["context"]["decision_id"]);
        assert_eq!(first["outcome"], "permit");
        assert_eq!(first["subject"], "dr-heart");
        assert_eq!(first["patient"], "p1");
        assert_eq!(first["action"], "read_vitals");
        assert_eq!(first["request_id"], "req-42");
        assert_eq!(first["user_agent"], "emr-gateway/2.1");
        assert_eq!(first["source_ip"], "127.0.0.1");
        assert!(first["actor"].as_str().unwrap().starts_with("client:"));
        assert!(!first["policies"].as_array().unwrap().is_empty());
        assert_eq!(decisions[1]["outcome"], "deny");
        let glass = &decisions[2];
        assert_eq!(glass["outcome"], "permit");
        assert_eq!(
            glass["details"]["obligations"],
            json!(["break_glass_review"])
        );
        assert_eq!(
            glass["details"]["context"]["break_glass_reason"],
            "cardiac arrest in ED"
        );
        assert_eq!(decisions[3]["outcome"], "deny");
        assert!(decisions[3]["details"]["error"].is_string());

        let disable = json_of(&app, "/ledger/entries?kind=directory.staff.disable").await;
        let disable = &disable["entries"][0];
        assert_eq!(disable["subject"], "desk");
        assert_eq!(disable["details"]["source"], "admin");
        let created = json_of(&app, "/ledger/entries?kind=directory.staff.create").await;
        assert_eq!(created["entries"].as_array().unwrap().len(), 4);
        assert_eq!(
            created["entries"][0]["details"]["roles_added"],
            json!(["doctor"])
        );
        let clients = json_of(&app, "/ledger/entries?kind=client.create").await;
        let text = clients.to_string();
        assert!(
            text.contains("test-emr") && !text.contains("argon2"),
            "{text}"
        );
        let by_patient = json_of(&app, "/ledger/entries?patient=p1&outcome=permit").await;
        assert_eq!(
            by_patient["entries"].as_array().unwrap().len(),
            2,
            "{}",
            app.backend
        );

        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let report = tenant
            .ledger
            .verify(&Trust::default(), |_, _| {})
            .await
            .unwrap();
        assert!(report.is_valid(), "{:?}", report.problems);
    }
}

#[tokio::test]
async fn checkpoints_and_proofs_verify_against_the_published_key() {
    for app in apps().await {
        for _ in 0..3 {
            app.evaluate(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
                .await;
        }
        let trusted = trusted_keys(&app).await;
        let note = app.get("/ledger/checkpoint").await.text().await.unwrap();
        let (latest, _) = checkpoint::open(&note, &trusted).unwrap();
        assert_eq!(latest.origin, "hms-ach/st-marys");

        let entry = json_of(&app, "/ledger/entries/2").await;
        let proof = json_of(&app, "/ledger/proofs/inclusion?sequence=2").await;
        assert_eq!(proof["tree_size"], latest.size);
        assert_eq!(proof["leaf_hash"], entry["leaf_hash"]);
        let path: Vec<Hash> = proof["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash(h.as_str().unwrap()))
            .collect();
        let leaf = hash(entry["leaf_hash"].as_str().unwrap());
        merkle::verify_inclusion(&leaf, 2, latest.size, &path, &latest.root).unwrap();
        let mut wrong = leaf;
        wrong[0] ^= 1;
        assert!(merkle::verify_inclusion(&wrong, 2, latest.size, &path, &latest.root).is_err());

        let checkpoints = json_of(&app, "/ledger/checkpoints?limit=1000").await;
        let mut notes: Vec<(u64, String)> = checkpoints["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["tree_size"].as_u64().unwrap(),
                    c["note"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        notes.sort();
        let mut previous = None;
        for (_, note) in &notes {
            let (opened, _) = checkpoint::open(note, &trusted).unwrap();
            assert_eq!(opened.previous, previous, "{}: {note}", app.backend);
            previous = Some(checkpoint::note_hash(note));
        }
        let old_size = checkpoints["checkpoints"][1]["tree_size"].as_u64().unwrap();
        let proof = json_of(
            &app,
            &format!(
                "/ledger/proofs/consistency?old_size={old_size}&new_size={}",
                latest.size
            ),
        )
        .await;
        let (old, _) =
            checkpoint::open(proof["old_checkpoint"].as_str().unwrap(), &trusted).unwrap();
        let path: Vec<Hash> = proof["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash(h.as_str().unwrap()))
            .collect();
        merkle::verify_consistency(old.size, latest.size, &old.root, &latest.root, &path).unwrap();

        let missing = app.get("/ledger/proofs/inclusion?sequence=999999").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let bad = app.get("/ledger/proofs/inclusion?sequence=abc").await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let pdp_only = app
            .http
            .get(app.url("/ledger/entries"))
            .bearer_auth(&app.pdp_token)
            .send()
            .await
            .unwrap();
        assert_eq!(pdp_only.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_export_bundle_verifies_offline_with_only_the_trusted_key() {
    for app in apps().await {
        app.evaluate(&break_glass_request()).await;
        let trusted = trusted_keys(&app).await;
        let bundle = app.get("/ledger/export").await.text().await.unwrap();
        let report = verify_bundle(
            bundle.as_bytes(),
            &Trust::with_keys(trusted.clone()),
            |_| {},
        )
        .unwrap();
        assert!(report.is_valid(), "{:?}", report.problems);
        assert!(report.entries > 10);

        let stranger = LedgerKey::generate("hms-ach/st-marys").verifier();
        let report =
            verify_bundle(bundle.as_bytes(), &Trust::with_keys(vec![stranger]), |_| {}).unwrap();
        assert!(!report.is_valid());

        let tampered = bundle.replacen("\"outcome\":\"permit\"", "\"outcome\":\"deny\"", 1);
        assert_ne!(tampered, bundle);
        let report = verify_bundle(
            tampered.as_bytes(),
            &Trust::with_keys(trusted.clone()),
            |_| {},
        )
        .unwrap();
        assert!(!report.is_valid());
    }
}

#[tokio::test]
async fn rotated_keys_stay_published_and_both_verify() {
    for app in apps().await {
        app.evaluate(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
            .await;
        let response = app.post("/ledger/keys/rotate", &json!({})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        app.evaluate(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
            .await;
        let keys = json_of(&app, "/ledger/keys").await;
        let keys = keys["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys[0]["retired_at"].is_string() && keys[1]["retired_at"].is_null());
        let trusted = trusted_keys(&app).await;
        let bundle = app.get("/ledger/export").await.text().await.unwrap();
        assert!(
            verify_bundle(
                bundle.as_bytes(),
                &Trust::with_keys(trusted.clone()),
                |_| {}
            )
            .unwrap()
            .is_valid()
        );
        // The first key is enough: it endorsed the new one.
        let first_only = Trust::with_keys(trusted[..1].to_vec());
        let report = verify_bundle(bundle.as_bytes(), &first_only, |_| {}).unwrap();
        assert!(report.is_valid(), "{:?}", report.problems);
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let online = tenant.ledger.verify(&first_only, |_, _| {}).await.unwrap();
        assert!(online.is_valid(), "{:?}", online.problems);
        // Without the endorsement, checkpoints after the rotation are not trusted.
        let unendorsed: String = bundle
            .lines()
            .map(|line| match line.split_once(r#","endorsement":"#) {
                Some((start, _)) if line.starts_with(r#"{"type":"key""#) => format!("{start}}}\n"),
                _ => format!("{line}\n"),
            })
            .collect();
        let report = verify_bundle(unendorsed.as_bytes(), &first_only, |_| {}).unwrap();
        assert!(
            !report.is_valid(),
            "checkpoints after rotation need the endorsed key"
        );
        let rotation = json_of(&app, "/ledger/entries?kind=ledger.key.rotate").await;
        assert_eq!(rotation["entries"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn the_database_refuses_to_update_or_delete_entries() {
    for app in apps().await {
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let pool = tenant.store.pool();
        for statement in [
            "UPDATE ledger_entries SET outcome = 'deny' WHERE sequence = 0",
            "DELETE FROM ledger_entries WHERE sequence = 0",
            "DELETE FROM ledger_checkpoints",
            "UPDATE ledger_nodes SET hash = hash",
            "DELETE FROM ledger_keys",
        ] {
            let refused = sqlx_execute(pool, statement).await;
            assert!(refused.is_err(), "{} accepted `{statement}`", app.backend);
        }
        if app.backend == "postgres" {
            assert!(sqlx_execute(pool, "TRUNCATE ledger_entries").await.is_err());
        }
        let report = tenant
            .ledger
            .verify(&Trust::default(), |_, _| {})
            .await
            .unwrap();
        assert!(report.is_valid());
    }
}

async fn sqlx_execute(pool: &sqlx::AnyPool, statement: &str) -> Result<(), sqlx::Error> {
    sqlx::query(statement).execute(pool).await.map(|_| ())
}

/// Lets a test act as an attacker with direct database access.
pub(crate) async fn disable_guards(app: &TestApp, pool: &sqlx::AnyPool) {
    if app.backend == "postgres" {
        for table in ["ledger_entries", "ledger_checkpoints", "ledger_nodes"] {
            sqlx_execute(pool, &format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
                .await
                .unwrap();
        }
    } else {
        for trigger in [
            "ledger_entries_no_update",
            "ledger_entries_no_delete",
            "ledger_checkpoints_no_update",
            "ledger_checkpoints_no_delete",
            "ledger_nodes_no_update",
            "ledger_nodes_no_delete",
        ] {
            sqlx_execute(pool, &format!("DROP TRIGGER {trigger}"))
                .await
                .unwrap();
        }
    }
}

/// Each way of tampering with stored rows, and where the verifier must see it.
const TAMPERS: &[(&str, &str)] = &[
    (
        "edit",
        "UPDATE ledger_entries SET details = replace(details, 'cardiac', 'cardiaC') WHERE sequence = $LAST - 1",
    ),
    (
        "edit-last",
        "UPDATE ledger_entries SET outcome = 'deny' WHERE sequence = $LAST",
    ),
    ("delete", "DELETE FROM ledger_entries WHERE sequence = 3"),
    (
        "insert",
        "UPDATE ledger_entries SET sequence = sequence + 1000000 WHERE sequence >= 3; \
                UPDATE ledger_entries SET sequence = sequence - 999999 WHERE sequence >= 1000000; \
                INSERT INTO ledger_entries SELECT 3, recorded_at, kind, actor, subject, patient, action, resource, \
                outcome, policies, request_id, decision_id, source_ip, user_agent, details, prev_hash, leaf_hash \
                FROM ledger_entries WHERE sequence = 2",
    ),
    (
        "swap",
        "UPDATE ledger_entries SET sequence = CASE sequence WHEN 4 THEN 5 ELSE 4 END + 1000000 WHERE sequence IN (4, 5); \
              UPDATE ledger_entries SET sequence = sequence - 1000000 WHERE sequence > 1000000",
    ),
    (
        "truncate",
        "DELETE FROM ledger_entries WHERE sequence >= $LAST - 1",
    ),
    (
        "checkpoint",
        "UPDATE ledger_checkpoints SET note = (SELECT note FROM ledger_checkpoints WHERE tree_size = 1) \
                    WHERE tree_size = $LAST + 1",
    ),
    (
        "delete-checkpoint",
        "DELETE FROM ledger_checkpoints WHERE tree_size = $LAST",
    ),
    (
        "delete-latest-checkpoint",
        "DELETE FROM ledger_checkpoints WHERE tree_size = $LAST + 1",
    ),
];

#[tokio::test]
async fn tampering_with_stored_rows_is_detected_online_and_offline() {
    for backend in ["sqlite", "postgres"] {
        for (name, statement) in TAMPERS {
            let app = spawn(backend).await;
            app.evaluate(&break_glass_request()).await;
            app.evaluate(&break_glass_request()).await;
            let trusted = trusted_keys(&app).await;
            let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
            let pool = tenant.store.pool();
            let last = tenant.ledger.size().await.unwrap() - 1;
            let statement = statement.replace("$LAST", &last.to_string());
            disable_guards(&app, pool).await;
            for part in statement.split("; ") {
                let changed = sqlx::query(part).execute(pool).await.unwrap();
                assert!(
                    changed.rows_affected() > 0,
                    "{backend}/{name}: `{part}` changed nothing"
                );
            }
            let online = tenant
                .ledger
                .verify(&Trust::default(), |_, _| {})
                .await
                .unwrap();
            assert!(
                !online.is_valid(),
                "{backend}/{name}: online verifier missed it"
            );
            let bundle = app.get("/ledger/export").await.text().await.unwrap();
            let offline = verify_bundle(
                bundle.as_bytes(),
                &Trust::with_keys(trusted.clone()),
                |_| {},
            )
            .unwrap();
            assert!(
                !offline.is_valid(),
                "{backend}/{name}: offline verifier missed it"
            );
        }
    }
}

/// Tampering with what only the store holds: the online verifier must
/// name it, and the service must stop appending rather than sign over it.
const STORE_TAMPERS: &[(&str, &str, &str)] = &[
    (
        "tree-node",
        "UPDATE ledger_nodes SET hash = (SELECT hash FROM ledger_nodes WHERE level = 1 AND idx = 1) \
         WHERE level = 1 AND idx = 0",
        "tree node 0 at level 1: the stored hash is not the hash of its two children",
    ),
    (
        "root-column",
        "UPDATE ledger_checkpoints SET root_hash = (SELECT root_hash FROM ledger_checkpoints WHERE tree_size = 1) \
         WHERE tree_size = $SIZE",
        "the stored root_hash column",
    ),
    (
        "head",
        "UPDATE ledger_head SET last_leaf = (SELECT leaf_hash FROM ledger_entries WHERE sequence = 0)",
        "the chain head differs: its last leaf hash is not the last entry's",
    ),
    (
        "forged-tail",
        "INSERT INTO ledger_entries SELECT $SIZE, recorded_at, kind, actor, subject, patient, action, resource, \
         outcome, policies, request_id, decision_id, source_ip, user_agent, details, leaf_hash, leaf_hash \
         FROM ledger_entries WHERE sequence = $SIZE - 1",
        "lie past the chain head and no checkpoint covers them",
    ),
];

#[tokio::test]
async fn tampering_with_the_store_itself_is_named_and_stops_the_appends() {
    for backend in ["sqlite", "postgres"] {
        for (name, statement, expected) in STORE_TAMPERS {
            let app = spawn(backend).await;
            let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
            assert!(app.evaluate(&request).await);
            let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
            let pool = tenant.store.pool();
            let size = tenant.ledger.size().await.unwrap();
            let served = decision_entries(&app).await.len();
            disable_guards(&app, pool).await;
            let statement = statement.replace("$SIZE", &size.to_string());
            let changed = sqlx::query(&statement).execute(pool).await.unwrap();
            assert_eq!(changed.rows_affected(), 1, "{backend}/{name}");
            let report = tenant
                .ledger
                .verify(&Trust::default(), |_, _| {})
                .await
                .unwrap();
            let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
            assert!(
                shown.iter().any(|p| p.contains(expected)),
                "{backend}/{name}: {shown:?}"
            );
            // A row written behind the service's back is never served.
            assert_eq!(
                decision_entries(&app).await.len(),
                served,
                "{backend}/{name}"
            );
            if matches!(*name, "head" | "forged-tail") {
                let answer = pdp_answer(&app, &request).await;
                assert_eq!(answer["decision"], false, "{backend}/{name}: {answer}");
                let appended = tenant.ledger.append_all(vec![hms_audit_ledger::Event {
                    kind: "test".into(),
                    ..Default::default()
                }]);
                let error = appended.await.unwrap_err().to_string();
                assert!(
                    error.contains("changed outside the service"),
                    "{backend}/{name}: {error}"
                );
                quarantine_and_resume(&app, name).await;
            }
        }
    }
}

/// The documented recovery: quarantine what no checkpoint signs, then the
/// ledger verifies and records again, the quarantine itself in it.
async fn quarantine_and_resume(app: &TestApp, name: &str) {
    let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
    let mut evidence = Vec::new();
    let done = tenant
        .ledger
        .quarantine(
            &Trust::default(),
            |line| {
                evidence.push(line.to_owned());
                Ok(())
            },
            "cli",
        )
        .await
        .unwrap();
    let expected_entries = u64::from(name == "forged-tail");
    assert_eq!(done.entries, expected_entries, "{}/{name}", app.backend);
    assert_eq!(
        evidence.len() as u64,
        done.entries + done.checkpoints + done.nodes
    );
    let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
    app.permitted_once_the_ledger_writes(&request).await;
    let report = tenant
        .ledger
        .verify(&Trust::default(), |_, _| {})
        .await
        .unwrap();
    assert!(
        report.is_valid(),
        "{}/{name}: {:?}",
        app.backend,
        report.problems
    );
    let recorded = json_of(app, "/ledger/entries?kind=ledger.quarantine").await;
    let entry = &recorded["entries"][0];
    assert_eq!(entry["details"]["entries_removed"], expected_entries);
    assert_eq!(entry["details"]["evidence_sha256"], done.evidence_sha256);
}

#[tokio::test]
async fn a_signing_key_written_into_the_table_is_not_trusted() {
    for app in apps().await {
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let attacker = LedgerKey::generate(tenant.ledger.origin()).verifier();
        sqlx::query(
            "INSERT INTO ledger_keys (key_id, vkey, sealed_seed, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(attacker.key_id_hex())
        .bind(attacker.to_string())
        .bind(vec![0u8; 8])
        .bind(i64::MAX)
        .execute(tenant.store.pool())
        .await
        .unwrap();
        let report = tenant
            .ledger
            .verify(&Trust::default(), |_, _| {})
            .await
            .unwrap();
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1, "{}: {shown:?}", app.backend);
        assert!(
            shown[0].contains(&format!("published signing key {attacker} is not trusted")),
            "{shown:?}"
        );
    }
}

#[tokio::test]
async fn a_checkpoint_signed_with_another_key_is_refused() {
    for app in apps().await {
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let latest = tenant.ledger.latest_checkpoint().await.unwrap().unwrap();
        let body = checkpoint::parse_unverified(&latest.note).unwrap();
        let forged = LedgerKey::generate("hms-ach/st-marys").sign(&body);
        disable_guards(&app, tenant.store.pool()).await;
        sqlx::query("UPDATE ledger_checkpoints SET note = $1 WHERE tree_size = $2")
            .bind(forged)
            .bind(latest.tree_size as i64)
            .execute(tenant.store.pool())
            .await
            .unwrap();
        let report = tenant
            .ledger
            .verify(&Trust::default(), |_, _| {})
            .await
            .unwrap();
        assert!(!report.is_valid(), "{}", app.backend);
        let problem = report.problems[0].to_string();
        assert!(problem.contains("checkpoint"), "{problem}");
    }
}

#[tokio::test]
async fn when_the_ledger_cannot_write_the_pdp_denies_and_says_why() {
    for app in apps().await {
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let pool = tenant.store.pool();
        let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        assert!(app.evaluate(&request).await);
        let (break_writes, mend) = break_and_mend(app.backend);
        sqlx::raw_sql(break_writes).execute(pool).await.unwrap();
        let answer: Value = app
            .post("/access/v1/evaluation", &request)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["decision"], false, "{}", app.backend);
        assert_eq!(answer["context"]["error"]["code"], "audit_unavailable");
        let native: Value = app
            .post("/v1/decisions", &json!({"requests": [request]}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(native["decisions"][0]["decision"], false);
        let mut moved = crate::helpers::staff("dr-heart", "nurse", "oncology", None);
        moved["active"] = json!(true);
        let change = app.put("/v1/directory/staff", &json!([moved])).await;
        assert_eq!(change.status(), StatusCode::SERVICE_UNAVAILABLE);
        let staff = json_of(&app, "/v1/directory/staff/dr-heart").await;
        assert_eq!(
            staff["department"], "cardiology",
            "an unrecorded change must not be made"
        );

        sqlx::raw_sql(mend).execute(pool).await.unwrap();
        app.permitted_once_the_ledger_writes(&request).await;
        let report = tenant
            .ledger
            .verify(&Trust::default(), |_, _| {})
            .await
            .unwrap();
        assert!(report.is_valid(), "{:?}", report.problems);
    }
}

/// SQL that makes every insert into the ledger fail, and SQL that mends it.
fn break_and_mend(backend: &str) -> (&'static str, &'static str) {
    if backend == "postgres" {
        (
            "CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$; \
             CREATE TRIGGER fail_insert BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION fail_insert()",
            "DROP TRIGGER fail_insert ON ledger_entries; DROP FUNCTION fail_insert()",
        )
    } else {
        (
            "CREATE TRIGGER fail_insert BEFORE INSERT ON ledger_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END",
            "DROP TRIGGER fail_insert",
        )
    }
}

/// The decision id of a permitted AuthZEN evaluation.
/// The PDP's AuthZEN answer to `request`.
async fn pdp_answer(app: &TestApp, request: &Value) -> Value {
    app.http
        .post(app.url("/access/v1/evaluation"))
        .bearer_auth(&app.pdp_token)
        .json(request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn permitted_decision_id(app: &TestApp, request: &Value) -> String {
    let answer = pdp_answer(app, request).await;
    assert_eq!(answer["decision"], true, "{answer} on {}", app.backend);
    answer["context"]["decision_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn asynchronous_recording_is_opt_in_recorded_and_loses_nothing_when_the_ledger_fails() {
    for app in apps().await {
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        assert_eq!(
            json_of(&app, "/ledger/settings").await,
            json!({"decisions": "durable"})
        );
        for bad in [
            json!({"decisions": "never"}),
            json!({"decisions": "asynchronous", "x": 1}),
        ] {
            let refused = app.put("/ledger/settings", &bad).await;
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let chosen = app
            .put("/ledger/settings", &json!({"decisions": "asynchronous"}))
            .await;
        assert_eq!(chosen.status(), StatusCode::OK);
        assert_eq!(
            json_of(&app, "/ledger/settings").await,
            json!({"decisions": "asynchronous"})
        );
        let changes = json_of(&app, "/ledger/entries?kind=ledger.settings.update").await;
        let details = &changes["entries"][0]["details"];
        assert_eq!(details["before"]["decisions"], "durable");
        assert_eq!(details["after"]["decisions"], "asynchronous");

        let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        let before_failure = permitted_decision_id(&app, &request).await;
        tenant.ledger.flush().await.unwrap();
        let (break_writes, mend) = break_and_mend(app.backend);
        sqlx::raw_sql(break_writes)
            .execute(tenant.store.pool())
            .await
            .unwrap();
        let queued_into_failure = permitted_decision_id(&app, &request).await;
        assert!(tenant.ledger.flush().await.is_err(), "{}", app.backend);
        let answer = pdp_answer(&app, &request).await;
        assert_eq!(
            answer["decision"], false,
            "a failing ledger permits nothing"
        );
        assert_eq!(answer["context"]["error"]["code"], "audit_unavailable");

        sqlx::raw_sql(mend)
            .execute(tenant.store.pool())
            .await
            .unwrap();
        let after_mending =
            app.permitted_once_the_ledger_writes(&request).await["context"]["decision_id"]
                .as_str()
                .unwrap()
                .to_owned();
        tenant.ledger.flush().await.unwrap();
        let recorded: Vec<Value> = decision_entries(&app)
            .await
            .iter()
            .map(|entry| entry["decision_id"].clone())
            .collect();
        for id in [&before_failure, &queued_into_failure, &after_mending] {
            assert!(
                recorded.contains(&json!(id)),
                "{id} not recorded on {}",
                app.backend
            );
        }
        let report = tenant
            .ledger
            .verify(&Trust::default(), |_, _| {})
            .await
            .unwrap();
        assert!(report.is_valid(), "{:?}", report.problems);
    }
}

#[tokio::test]
async fn a_new_tenant_starts_its_ledger_with_its_creation() {
    let app = spawn("sqlite").await;
    let tenant = app
        .state
        .tenants
        .create(&"mercy".parse().unwrap(), "Mercy", 0, &by_test())
        .await
        .unwrap();
    let entries = tenant
        .ledger
        .entries(&Default::default(), 10)
        .await
        .unwrap();
    let kinds: Vec<&str> = entries.iter().map(|(e, _)| e.event.kind.as_str()).collect();
    assert_eq!(kinds, ["policy.install", "tenant.create"]);
    assert_eq!(tenant.ledger.public_keys().await.unwrap().len(), 1);
}

#[tokio::test]
async fn entries_are_served_as_fhir_audit_events_and_syslog_lines() {
    let app = spawn("sqlite").await;
    app.evaluate(&break_glass_request()).await;
    let fhir = app.get("/ledger/entries?kind=decision&format=fhir").await;
    assert_eq!(fhir.headers()["content-type"], "application/fhir+json");
    let fhir: Value = fhir.json().await.unwrap();
    assert_eq!(fhir["resourceType"], "Bundle");
    let event = &fhir["entry"][0]["resource"];
    assert_eq!(event["resourceType"], "AuditEvent");
    assert_eq!(event["purposeOfEvent"][0]["coding"][0]["code"], "ETREAT");
    assert_eq!(event["entity"][0]["what"]["identifier"]["value"], "p1");
    let syslog = app
        .get("/ledger/entries?kind=decision&format=syslog")
        .await
        .text()
        .await
        .unwrap();
    let line = syslog.lines().next().unwrap();
    assert!(line.starts_with("<110>1 "), "{line}");
    assert!(
        line.contains("patient=\"p1\"") && line.contains("subject=\"dr-bone\""),
        "{line}"
    );
    let bad = app.get("/ledger/entries?format=xml").await;
    assert_eq!(
        crate::helpers::error_code(bad, StatusCode::BAD_REQUEST).await,
        "invalid_query"
    );
    let bad = app.get("/ledger/entries?limit=0").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn searches_are_recorded_with_what_they_found() {
    let app = spawn("sqlite").await;
    let search = json!({
        "subject": {"type": "Staff"},
        "action": {"name": "read_vitals"},
        "resource": {"type": "Vitals", "id": "v-1", "properties": {"patient": {"type": "Patient", "id": "p1"}}}
    });
    let found: Value = app
        .post("/access/v1/search/subject", &search)
        .await
        .json()
        .await
        .unwrap();
    assert!(!found["results"].as_array().unwrap().is_empty());
    let entries = json_of(&app, "/ledger/entries?kind=search.subject&patient=p1").await;
    let entry = &entries["entries"][0];
    assert_eq!(entry["details"]["results"], found["results"]);
    assert_eq!(entry["details"]["request"]["action"]["name"], "read_vitals");
    assert!(entry["actor"].as_str().unwrap().starts_with("client:"));
}

#[tokio::test]
async fn a_ledger_signed_before_the_checkpoint_chain_continues_it_from_its_latest_note() {
    for app in apps().await {
        let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        app.evaluate(&request).await;
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let before = tenant.ledger.latest_checkpoint().await.unwrap().unwrap();
        // As the head of a ledger written before checkpoints named their predecessor.
        sqlx::query("UPDATE ledger_head SET last_note = NULL")
            .execute(tenant.store.pool())
            .await
            .unwrap();
        app.evaluate(&request).await;
        let after = tenant.ledger.latest_checkpoint().await.unwrap().unwrap();
        let trusted = trusted_keys(&app).await;
        let (opened, _) = checkpoint::open(&after.note, &trusted).unwrap();
        assert_eq!(
            opened.previous,
            Some(checkpoint::note_hash(&before.note)),
            "{}",
            app.backend
        );
        let report = tenant
            .ledger
            .verify(&Trust::default(), |_, _| {})
            .await
            .unwrap();
        assert!(report.is_valid(), "{}: {:?}", app.backend, report.problems);
    }
}
