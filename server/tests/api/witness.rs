//! Checkpoint witnessing end to end: the service publishes each tenant's
//! checkpoints to a witness (the project's own, over C2SP tlog-witness) and
//! keeps its cosignatures; a ledger rolled back behind the service's back,
//! invisible to every other check, is refused against what the witness saw.

use std::time::{Duration, Instant};

use hms_ach::witness::{WitnessService, serve_on};
use hms_audit_ledger::store::StoredCosignature;
use hms_audit_ledger::{CosignerKey, Trust, VerifierKey, verify_bundle};

use crate::helpers::{TestApp, record_request, spawn_configured};
use crate::ledger::disable_guards;

/// Waits until the witness has cosigned the tenant's latest checkpoint.
async fn cosigned_latest(app: &TestApp) -> StoredCosignature {
    let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
    let started = Instant::now();
    loop {
        let latest = tenant.ledger.latest_checkpoint().await.unwrap().unwrap();
        let kept = tenant.ledger.cosignatures().await.unwrap();
        if let Some(kept) = kept.into_iter().find(|c| c.tree_size == latest.tree_size) {
            return kept;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}: size {} not cosigned",
            app.backend,
            latest.tree_size
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Removes every entry from `size` on, with their checkpoints and tree nodes,
/// and puts back the chain head and the cosignature of that size: a rollback
/// that leaves the ledger consistent with itself.
async fn roll_back(
    app: &TestApp,
    size: u64,
    head: &(Vec<u8>, Vec<u8>, Vec<u8>),
    kept: &StoredCosignature,
) {
    let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
    let pool = tenant.store.pool();
    disable_guards(app, pool).await;
    let size = size as i64;
    for statement in [
        "DELETE FROM ledger_entries WHERE sequence >= $1",
        "DELETE FROM ledger_checkpoints WHERE tree_size > $1",
        "DELETE FROM ledger_nodes WHERE (idx + 1) << CAST(level AS INTEGER) > $1",
    ] {
        sqlx::query(statement)
            .bind(size)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE ledger_head SET frontier = $1, last_leaf = $2, last_note = $3")
        .bind(&head.0)
        .bind(&head.1)
        .bind(&head.2)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE ledger_cosignatures SET tree_size = $1, cosigned_at = $2, note = $3")
        .bind(kept.tree_size as i64)
        .bind(kept.cosigned_at as i64)
        .bind(&kept.note)
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rollback_invisible_to_the_ledger_is_refused_against_the_witness() {
    for backend in ["sqlite", "postgres"] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let witness_key = CosignerKey::from_seed("witness.test/w1", [7; 32]).unwrap();
        let witness = witness_key.verifier().clone();
        let extra = format!(
            "witness_interval_ms = 50\n[[ledger.witnesses]]\nurl = \"{url}\"\nkey = \"{witness}\"\n"
        );
        let app = spawn_configured(backend, &extra).await;
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let log_key =
            VerifierKey::parse(&tenant.ledger.public_keys().await.unwrap()[0].vkey).unwrap();
        let state = tempfile::tempdir().unwrap();
        let service = WitnessService::open(
            witness_key,
            vec![log_key.clone()],
            state.path().join("witness.json"),
        )
        .unwrap();
        tokio::spawn(serve_on(service, listener));

        let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        assert!(app.evaluate(&request).await);
        let before = cosigned_latest(&app).await;
        let head: (Vec<u8>, Vec<u8>, Vec<u8>) =
            sqlx::query_as("SELECT frontier, last_leaf, last_note FROM ledger_head")
                .fetch_one(tenant.store.pool())
                .await
                .unwrap();
        for _ in 0..3 {
            assert!(app.evaluate(&request).await);
        }
        let after = cosigned_latest(&app).await;
        assert!(after.tree_size > before.tree_size);
        let with_witness = Trust {
            witnesses: vec![witness.clone()],
            ..Trust::default()
        };
        let report = tenant
            .ledger
            .verify(&with_witness, |_, _| {})
            .await
            .unwrap();
        assert!(report.is_valid(), "{backend}: {:?}", report.problems);
        assert_eq!(report.anchors_matched, 1);

        roll_back(&app, before.tree_size, &head, &before).await;
        // Consistent with itself, and with the cosignature it kept.
        let report = tenant
            .ledger
            .verify(&with_witness, |_, _| {})
            .await
            .unwrap();
        assert!(report.is_valid(), "{backend}: {:?}", report.problems);
        // Not with what the witness itself last cosigned.
        let latest = reqwest::Client::new()
            .get(format!("{url}/latest"))
            .query(&[("origin", tenant.ledger.origin())])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let asked = Trust {
            cosigned: vec![latest],
            ..with_witness.clone()
        };
        let report = tenant.ledger.verify(&asked, |_, _| {}).await.unwrap();
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        let expected = format!(
            "checkpoint at size {}: witness witness.test/w1 (cosigned at",
            after.tree_size
        );
        assert!(
            shown
                .iter()
                .any(|p| p.starts_with(&expected) && p.contains("rolled back")),
            "{backend}: {shown:?}"
        );
        let bundle = app.get("/ledger/export").await.text().await.unwrap();
        let offline = Trust {
            keys: vec![log_key.clone()],
            ..asked.clone()
        };
        let report = verify_bundle(bundle.as_bytes(), &offline, |_| {}).unwrap();
        assert!(
            !report.is_valid(),
            "{backend}: the bundle hides the rollback"
        );
        // The service sees it too, at its next checkpoint: the witness holds
        // more than the ledger.
        assert!(app.evaluate(&request).await);
        let client = reqwest::Client::new();
        let witness_entry = hms_ach::witnessing::Witness {
            url: url.clone(),
            key: witness.clone(),
        };
        let published = hms_ach::witnessing::publish(&client, &tenant.ledger, &witness_entry).await;
        let error = format!("{:#}", published.unwrap_err());
        assert!(error.contains("rolled back"), "{backend}: {error}");
    }
}
