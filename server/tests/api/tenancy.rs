//! Tenant isolation and caller authentication.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{by_test, error_code, record_request, spawn};

#[tokio::test]
async fn a_credential_of_one_tenant_gets_nothing_of_another() {
    for backend in ["sqlite", "postgres"] {
        let app = spawn(backend).await;
        let other = app
            .state
            .tenants
            .create(&"mercy".parse().unwrap(), "Mercy", 0, &by_test())
            .await
            .unwrap();
        let (_, mercy_token) = other
            .create_client(
                "mercy-emr",
                &[
                    hms_governance::credentials::Scope::Pdp,
                    hms_governance::credentials::Scope::Admin,
                ],
                &by_test(),
            )
            .await
            .unwrap();
        let mercy_token = mercy_token.expose().to_owned();
        let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        // Mercy's credential on St Mary's path.
        let response = app
            .http
            .post(app.url("/access/v1/evaluation"))
            .bearer_auth(&mercy_token)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"hms-ach\""
        );
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "unauthorized"
        );
        let response = app
            .http
            .get(app.url("/v1/directory/staff/dr-heart"))
            .bearer_auth(&mercy_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // On its own path, St Mary's staff do not exist: nothing leaks through the body either.
        let response = app
            .http
            .post(format!("{}/mercy/access/v1/evaluation", app.base))
            .bearer_auth(&mercy_token)
            .json(&request)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["decision"], false);
        let response = app
            .http
            .get(format!("{}/mercy/v1/directory/staff/dr-heart", app.base))
            .bearer_auth(&mercy_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn unknown_tenants_are_a_clean_404() {
    let app = spawn("sqlite").await;
    for path in [
        "/nowhere/access/v1/evaluation",
        "/NOT_A_TENANT/access/v1/evaluation",
    ] {
        let response = app
            .http
            .post(format!("{}{path}", app.base))
            .bearer_auth(&app.admin_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found"
        );
    }
    let response = app
        .http
        .get(format!(
            "{}/.well-known/authzen-configuration/nowhere",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn credentials_are_checked_and_scoped() {
    let app = spawn("sqlite").await;
    let url = app.url("/access/v1/evaluation");
    let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
    let missing = app.http.post(&url).json(&request).send().await.unwrap();
    assert_eq!(
        error_code(missing, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
    let (client_id, _) = app.pdp_token.split_once('.').unwrap();
    for forged in [
        format!("{client_id}.wrong-secret"),
        "garbage".to_owned(),
        format!("{client_id}."),
    ] {
        let response = app
            .http
            .post(&url)
            .bearer_auth(&forged)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{forged}");
    }
    // A PDP-only client cannot administer.
    let response = app
        .http
        .get(app.url("/v1/policies"))
        .bearer_auth(&app.pdp_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    // The right secret still works after wrong attempts.
    let response = app
        .http
        .post(&url)
        .bearer_auth(&app.pdp_token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn clients_are_issued_listed_and_revoked_at_once() {
    let app = spawn("sqlite").await;
    let created: serde_json::Value = app
        .post(
            "/v1/clients",
            &json!({"name": "lab-system", "scopes": ["pdp"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["client"]["id"].as_str().unwrap().to_owned();
    assert!(created["client"].get("secret_hash").is_none());
    let url = app.url("/access/v1/evaluation");
    let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
    assert_eq!(
        app.http
            .post(&url)
            .bearer_auth(&token)
            .json(&request)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let listed: serde_json::Value = app.get("/v1/clients").await.json().await.unwrap();
    assert!(
        listed["clients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str())
    );
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/clients/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.http
            .post(&url)
            .bearer_auth(&token)
            .json(&request)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let bad_scope = app
        .post("/v1/clients", &json!({"name": "x", "scopes": ["root"]}))
        .await;
    assert_eq!(
        error_code(bad_scope, StatusCode::BAD_REQUEST).await,
        "invalid_scope"
    );
}
