//! Health, readiness, metrics, and an OpenAPI document true to the routes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{record_request, spawn};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn("postgres").await;
    let health: Value = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(
        app.evaluate(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
            .await
    );
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hms_decisions_total{tenant=\"st-marys\",outcome=\"permit\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("hms_decision_duration_seconds_bucket"));
    assert!(metrics.contains("hms_http_requests_total"));
}

#[tokio::test]
async fn every_documented_route_is_served_and_every_route_documented() {
    let app = spawn("sqlite").await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| *m != "parameters")
        {
            documented.push(format!("{} {path}", method.to_uppercase()));
            let url = format!(
                "{}{}",
                app.base,
                path.replace("{tenant}", "st-marys").replace("{id}", "x")
            );
            let request = app
                .http
                .request(method.to_uppercase().parse().unwrap(), url)
                .bearer_auth(&app.admin_token);
            let response = request
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_ne!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(body["error"]["message"], "no such route", "{method} {path}");
        }
    }
    documented.sort();
    let mut served: Vec<String> = SERVED.iter().map(ToString::to_string).collect();
    served.sort();
    assert_eq!(documented, served);
}

/// Every route the router serves, but the web console's pages (a browser
/// interface, not part of the API).
const SERVED: &[&str] = &[
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
    "GET /operator/v1/tenants",
    "POST /operator/v1/tenants",
    "POST /operator/v1/tenants/{id}/suspend",
    "POST /operator/v1/tenants/{id}/resume",
    "GET /operator/v1/ledger/checkpoint",
    "GET /operator/v1/ledger/export",
    "GET /{tenant}/v1/reviews/campaigns",
    "POST /{tenant}/v1/reviews/campaigns",
    "GET /{tenant}/v1/reviews/campaigns/{id}",
    "POST /{tenant}/v1/reviews/campaigns/{id}/close",
    "POST /{tenant}/v1/reviews/campaigns/{id}/decisions",
    "GET /{tenant}/v1/reviews/overdue",
    "POST /{tenant}/v1/reviews/overdue",
    "GET /{tenant}/v1/reviews/settings",
    "GET /{tenant}/ledger/settings",
    "PUT /{tenant}/ledger/settings",
    "PUT /{tenant}/v1/reviews/settings",
    "POST /{tenant}/v1/reviews/reminders",
    "GET /{tenant}/v1/reviews/mine",
    "GET /.well-known/authzen-configuration/{tenant}",
    "POST /{tenant}/access/v1/evaluation",
    "POST /{tenant}/access/v1/evaluations",
    "POST /{tenant}/access/v1/search/subject",
    "POST /{tenant}/access/v1/search/resource",
    "POST /{tenant}/access/v1/search/action",
    "POST /{tenant}/v1/decisions",
    "POST /{tenant}/v1/entities",
    "GET /{tenant}/v1/policies",
    "PUT /{tenant}/v1/policies",
    "POST /{tenant}/v1/policies/validate",
    "GET /{tenant}/v1/policies/versions",
    "POST /{tenant}/v1/policies/impact",
    "POST /{tenant}/v1/policies/rollback",
    "PUT /{tenant}/v1/directory/staff",
    "GET /{tenant}/v1/directory/staff/{id}",
    "GET /{tenant}/v1/entities",
    "GET /{tenant}/v1/entities/{type}/{id}",
    "PUT /{tenant}/v1/directory/patients",
    "GET /{tenant}/v1/directory/patients/{id}",
    "PUT /{tenant}/v1/directory/encounters",
    "GET /{tenant}/v1/clients",
    "POST /{tenant}/v1/clients",
    "DELETE /{tenant}/v1/clients/{id}",
    "GET /{tenant}/ledger/entries",
    "GET /{tenant}/ledger/entries/{sequence}",
    "GET /{tenant}/ledger/checkpoint",
    "GET /{tenant}/ledger/checkpoints",
    "GET /{tenant}/ledger/proofs/inclusion",
    "GET /{tenant}/ledger/proofs/consistency",
    "GET /{tenant}/ledger/keys",
    "POST /{tenant}/ledger/keys/rotate",
    "GET /{tenant}/ledger/export",
    "GET /{tenant}/reports/{kind}",
    "POST /{tenant}/reports/break-glass/reviews",
    "GET /{tenant}/scim/v2/ServiceProviderConfig",
    "GET /{tenant}/scim/v2/Schemas",
    "GET /{tenant}/scim/v2/Schemas/{id}",
    "GET /{tenant}/scim/v2/ResourceTypes",
    "GET /{tenant}/scim/v2/ResourceTypes/{id}",
    "GET /{tenant}/scim/v2/Users",
    "POST /{tenant}/scim/v2/Users",
    "POST /{tenant}/scim/v2/Users/.search",
    "GET /{tenant}/scim/v2/Users/{id}",
    "PUT /{tenant}/scim/v2/Users/{id}",
    "PATCH /{tenant}/scim/v2/Users/{id}",
    "DELETE /{tenant}/scim/v2/Users/{id}",
    "GET /{tenant}/scim/v2/Groups",
    "POST /{tenant}/scim/v2/Groups",
    "POST /{tenant}/scim/v2/Groups/.search",
    "GET /{tenant}/scim/v2/Groups/{id}",
    "PUT /{tenant}/scim/v2/Groups/{id}",
    "PATCH /{tenant}/scim/v2/Groups/{id}",
    "DELETE /{tenant}/scim/v2/Groups/{id}",
    "POST /{tenant}/scim/v2/Bulk",
    "GET /{tenant}/v1/provisioning/group-roles",
    "PUT /{tenant}/v1/provisioning/group-roles",
    "GET /{tenant}/v1/provisioning/hr",
    "PUT /{tenant}/v1/provisioning/hr",
    "POST /{tenant}/v1/provisioning/hr/secret",
    "POST /{tenant}/hr/events",
    "GET /{tenant}/v1/identity/providers",
    "PUT /{tenant}/v1/identity/providers/{id}",
    "DELETE /{tenant}/v1/identity/providers/{id}",
    "GET /{tenant}/v1/identity/settings",
    "PUT /{tenant}/v1/identity/settings",
    "GET /{tenant}/v1/identity/sessions",
    "DELETE /{tenant}/v1/identity/sessions/{id}",
    "DELETE /{tenant}/v1/identity/mfa/{staff_id}",
    "POST /{tenant}/v1/identity/token-keys/rotate",
    "POST /{tenant}/auth/introspect",
    "GET /{tenant}/auth/oidc/{idp}/login",
    "GET /{tenant}/auth/oidc/{idp}/callback",
    "GET /{tenant}/auth/saml/{idp}/metadata",
    "GET /{tenant}/auth/saml/{idp}/login",
    "POST /{tenant}/auth/saml/{idp}/acs",
    "POST /{tenant}/auth/mfa/enroll",
    "POST /{tenant}/auth/mfa/verify",
    "POST /{tenant}/auth/session/token",
    "POST /{tenant}/auth/session/logout",
    "GET /{tenant}/auth/jwks.json",
];

#[tokio::test]
async fn the_authzen_metadata_names_this_tenants_endpoints() {
    let app = spawn("sqlite").await;
    let doc: Value = app
        .http
        .get(format!(
            "{}/.well-known/authzen-configuration/st-marys",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pdp = format!("{}/st-marys", app.base);
    assert_eq!(doc["policy_decision_point"], pdp.as_str());
    assert_eq!(
        doc["access_evaluation_endpoint"],
        format!("{pdp}/access/v1/evaluation").as_str()
    );
    assert_eq!(
        doc["search_action_endpoint"],
        format!("{pdp}/access/v1/search/action").as_str()
    );
}
