//! The entity store: the tenant's own Cedar entities decide requests that
//! name them by id alone, are found by resource search, are versioned and in
//! the ledger, land all or nothing, and hold the schema to what they are.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, error_code};

fn lab_result(id: &str, patient: &str) -> Value {
    json!({
        "uid": {"type": "Hms::LabResult", "id": id},
        "attrs": {"patient": {"__entity": {"type": "Hms::Patient", "id": patient}}}
    })
}

/// Dr Heart (care team of p1) asks to read a lab result named by id alone.
fn read_by_id(id: &str) -> Value {
    json!({
        "subject": {"type": "Staff", "id": "dr-heart"},
        "action": {"name": "read_lab_result"},
        "resource": {"type": "LabResult", "id": id}
    })
}

async fn write(app: &TestApp, batch: Value) -> Value {
    let response = app.post("/v1/entities", &batch).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", app.backend);
    response.json().await.unwrap()
}

async fn search_lab_results(app: &TestApp) -> Vec<String> {
    let search = json!({
        "subject": {"type": "Staff", "id": "dr-heart"},
        "action": {"name": "read_lab_result"},
        "resource": {"type": "LabResult"}
    });
    let response = app.post("/access/v1/search/resource", &search).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn ledger_kinds(app: &TestApp, kind: &str) -> Vec<Value> {
    let response = app.get(&format!("/ledger/entries?kind={kind}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn stored_entities_decide_are_searched_versioned_and_recorded() {
    for app in apps().await {
        let first = write(
            &app,
            json!({"upsert": [lab_result("lr-1", "p1"), lab_result("lr-2", "p2"), lab_result("lr-3", "p1")]}),
        )
        .await;
        assert_eq!(first["upserted"], 3);
        assert!(app.evaluate(&read_by_id("lr-1")).await, "{}", app.backend);
        assert!(!app.evaluate(&read_by_id("lr-2")).await);
        assert_eq!(search_lab_results(&app).await, ["lr-1", "lr-3"]);

        let stored = app.get("/v1/entities/Hms::LabResult/lr-1").await;
        assert_eq!(stored.status(), StatusCode::OK);
        assert_eq!(stored.headers()["etag"], "\"1\"");
        let stored: Value = stored.json().await.unwrap();
        assert_eq!(stored["version"], 1);
        assert_eq!(stored["attrs"]["patient"]["__entity"]["id"], "p1");

        // Moved to another patient: a new version, in force at once.
        let moved = write(&app, json!({"upsert": [lab_result("lr-1", "p2")]})).await;
        assert!(moved["revision"].as_i64() > first["revision"].as_i64());
        assert!(!app.evaluate(&read_by_id("lr-1")).await);
        let again = write(&app, json!({"upsert": [lab_result("lr-1", "p2")]})).await;
        assert_eq!(
            (again["upserted"].clone(), again["unchanged"].clone()),
            (json!(0), json!(1))
        );
        let stored: Value = app
            .get("/v1/entities/Hms::LabResult/lr-1")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored["version"], 2);

        let deleted = write(
            &app,
            json!({"delete": [{"type": "Hms::LabResult", "id": "lr-3"}]}),
        )
        .await;
        assert_eq!(deleted["deleted"], 1);
        assert!(search_lab_results(&app).await.is_empty());
        assert!(!app.evaluate(&read_by_id("lr-3")).await);
        assert_eq!(
            app.get("/v1/entities/Hms::LabResult/lr-3").await.status(),
            StatusCode::NOT_FOUND
        );

        let page: Value = app
            .get("/v1/entities?type=Hms::LabResult&limit=1")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["entities"][0]["uid"]["id"], "lr-1");
        assert_eq!(page["next_after"], "lr-1");
        let rest: Value = app
            .get("/v1/entities?type=Hms::LabResult&limit=1&after=lr-1")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(rest["entities"][0]["uid"]["id"], "lr-2");
        assert!(rest.get("next_after").is_none());

        // Every change is in the ledger, with what it wrote; nothing for the unchanged write.
        let upserts = ledger_kinds(&app, "directory.entity.upsert").await;
        assert_eq!(upserts.len(), 4, "{upserts:?}");
        let versions: Vec<&Value> = upserts
            .iter()
            .filter(|e| e["resource"] == "entity:Hms::LabResult::\"lr-1\"")
            .map(|e| &e["details"]["version"])
            .collect();
        assert_eq!(versions.len(), 2);
        assert_eq!(ledger_kinds(&app, "directory.entity.delete").await.len(), 1);
    }
}

#[tokio::test]
async fn a_batch_with_one_bad_write_writes_nothing() {
    for app in apps().await {
        let missing_patient =
            json!({"uid": {"type": "Hms::LabResult", "id": "lr-bad"}, "attrs": {}});
        let cases = [
            (
                json!({"upsert": [lab_result("lr-ok", "p1"), missing_patient]}),
                "invalid_entity",
                "lr-bad",
            ),
            (
                json!({"upsert": [lab_result("lr-ok", "p1"), {"uid": {"type": "Hms::Ward", "id": "w1"}}]}),
                "invalid_entity",
                "Hms::Ward",
            ),
            (
                json!({"upsert": [lab_result("lr-ok", "p1"), {"uid": {"type": "Hms::Staff", "id": "dr-x"}}]}),
                "invalid_batch",
                "directory",
            ),
            (
                json!({"upsert": [lab_result("lr-ok", "p1")], "delete": [{"type": "Hms::LabResult", "id": "lr-ok"}]}),
                "invalid_batch",
                "twice",
            ),
            (
                json!({"upsert": [lab_result("lr-ok", "p1"), {"uid": {"type": "Hms::LabResult", "id": "lr-w", "extra": 1}}]}),
                "invalid_body",
                "extra",
            ),
            (
                json!({"upserts": [lab_result("lr-ok", "p1")]}),
                "invalid_body",
                "upserts",
            ),
            (
                json!({"upsert": [lab_result("lr-ok", "p1")],
                       "delete": [{"type": "Hms::LabResult", "id": "lr\u{0}x"}]}),
                "invalid_batch",
                "control character",
            ),
        ];
        for (batch, code, named) in cases {
            let response = app.post("/v1/entities", &batch).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{batch}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(named), "{message}");
            assert_eq!(
                app.get("/v1/entities/Hms::LabResult/lr-ok").await.status(),
                StatusCode::NOT_FOUND,
                "{batch}"
            );
        }
        assert!(search_lab_results(&app).await.is_empty());
        assert!(
            ledger_kinds(&app, "directory.entity.upsert")
                .await
                .is_empty()
        );
        let listing = app.get("/v1/entities?type=Hms::LabResult&limit=0").await;
        assert_eq!(
            error_code(listing, StatusCode::BAD_REQUEST).await,
            "invalid_limit"
        );
    }
}

#[tokio::test]
async fn a_schema_the_stored_entities_do_not_fit_is_refused() {
    for app in apps().await {
        write(&app, json!({"upsert": [lab_result("lr-1", "p1")]})).await;
        let current: Value = app.get("/v1/policies").await.json().await.unwrap();
        // Lab results must now say whether they are critical; lr-1 does not.
        let schema = current["schema"]
            .as_str()
            .unwrap()
            .replace("critical?: Bool", "critical: Bool");
        assert_ne!(schema, current["schema"]);
        let upload = json!({"policies": current["policies"], "schema": schema});
        let response = app.put("/v1/policies", &upload).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("lr-1") && message.contains("critical"),
            "{message}"
        );
        let now: Value = app.get("/v1/policies").await.json().await.unwrap();
        assert_eq!(now["version"], current["version"]);

        // Once the entity carries the attribute, the same schema goes in.
        let mut fitted = lab_result("lr-1", "p1");
        fitted["attrs"]["critical"] = json!(false);
        write(&app, json!({"upsert": [fitted]})).await;
        let response = app.put("/v1/policies", &upload).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
    }
}
