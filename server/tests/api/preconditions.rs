//! Optimistic concurrency: policies and settings are read with an `ETag`
//! and written with `If-Match`; a write based on a replaced state is a 412
//! and changes nothing.

use reqwest::header::{ETAG, IF_MATCH};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, error_code};

async fn put_if_match(app: &TestApp, path: &str, tag: &str, body: &Value) -> Response {
    app.http
        .put(app.url(path))
        .bearer_auth(&app.admin_token)
        .header(IF_MATCH, tag)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn etag(response: &Response) -> String {
    response.headers()[ETAG].to_str().unwrap().to_owned()
}

async fn read(app: &TestApp, path: &str) -> (String, Value) {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let tag = etag(&response);
    (tag, response.json().await.unwrap())
}

#[tokio::test]
async fn of_two_policy_uploads_based_on_one_version_the_second_is_refused() {
    for app in apps().await {
        let (read_tag, current) = read(&app, "/v1/policies").await;
        assert_eq!(read_tag, format!("\"policy-{}\"", current["version"]));
        let mut files = current["policies"].as_array().unwrap().clone();
        files.push(json!({"name": "a.cedar", "text": "@id(\"first-admin\")\nforbid (principal, action == Hms::Action::\"read_vitals\", resource);"}));
        let first =
            put_if_match(&app, "/v1/policies", &read_tag, &json!({"policies": files})).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        let installed = etag(&first);
        assert_ne!(installed, read_tag);

        let mut theirs = current["policies"].as_array().unwrap().clone();
        theirs.push(json!({"name": "b.cedar", "text": "@id(\"second-admin\")\nforbid (principal, action == Hms::Action::\"read_lab_result\", resource);"}));
        let second = put_if_match(
            &app,
            "/v1/policies",
            &read_tag,
            &json!({"policies": theirs}),
        )
        .await;
        assert_eq!(
            error_code(second, StatusCode::PRECONDITION_FAILED).await,
            "precondition_failed"
        );
        let (now_tag, now) = read(&app, "/v1/policies").await;
        assert_eq!(now_tag, installed, "{}", app.backend);
        assert!(
            now["policy_ids"]
                .as_array()
                .unwrap()
                .contains(&json!("first-admin"))
        );
        assert!(
            !now["policy_ids"]
                .as_array()
                .unwrap()
                .contains(&json!("second-admin"))
        );

        // A rollback is conditional the same way.
        let stale = app
            .http
            .post(app.url("/v1/policies/rollback"))
            .bearer_auth(&app.admin_token)
            .header(IF_MATCH, &read_tag)
            .json(&json!({"version": current["version"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
        let malformed = put_if_match(
            &app,
            "/v1/policies",
            "policy-1",
            &json!({"policies": files}),
        )
        .await;
        assert_eq!(
            error_code(malformed, StatusCode::BAD_REQUEST).await,
            "invalid_if_match"
        );
        let (unchanged, _) = read(&app, "/v1/policies").await;
        assert_eq!(unchanged, installed, "refused writes change nothing");
    }
}

#[tokio::test]
async fn a_settings_write_based_on_replaced_settings_is_refused() {
    let edits = [
        (
            "/v1/identity/settings",
            json!({"mfa_required": false}),
            json!({"idle_timeout_seconds": 600}),
        ),
        (
            "/ledger/settings",
            json!({"decisions": "asynchronous"}),
            json!({"decisions": "durable"}),
        ),
        (
            "/v1/provisioning/hr",
            json!({"job_roles": [{"job_code": "RN", "roles": ["nurse"]}]}),
            json!({"job_roles": []}),
        ),
        (
            "/v1/reviews/settings",
            json!({"overdue": "revoke"}),
            json!({"overdue": "escalate"}),
        ),
    ];
    for app in apps().await {
        for (path, mine, theirs) in &edits {
            let (read_tag, before) = read(&app, path).await;
            let mine = merged(&before, mine);
            let written = put_if_match(&app, path, &read_tag, &mine).await;
            assert_eq!(
                written.status(),
                StatusCode::OK,
                "{path}: {}",
                written.text().await.unwrap()
            );
            let (after_tag, after) = read(&app, path).await;
            assert_ne!(after_tag, read_tag, "{path}: the tag follows the content");
            let refused = put_if_match(&app, path, &read_tag, &merged(&before, theirs)).await;
            assert_eq!(
                error_code(refused, StatusCode::PRECONDITION_FAILED).await,
                "precondition_failed",
                "{path} on {}",
                app.backend
            );
            assert_eq!(
                read(&app, path).await,
                (after_tag.clone(), after),
                "{path}: unchanged"
            );
            let unconditional = app.put(path, &before).await;
            assert_eq!(
                unconditional.status(),
                StatusCode::OK,
                "{path}: without If-Match, as before"
            );
        }
    }
}

/// `base` with the fields of `fields` replaced.
fn merged(base: &Value, fields: &Value) -> Value {
    let mut out = base.clone();
    for (key, value) in fields.as_object().unwrap() {
        out[key] = value.clone();
    }
    out
}
