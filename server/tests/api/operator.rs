//! The operator API: platform operators, with a credential outside every
//! tenant, create, list, suspend and resume tenants; the platform ledger
//! records each act and verifies offline.

use hms_audit_ledger::{Trust, VerifierKey, verify_bundle};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, by_test, error_code, record_request};

async fn operator_token(app: &TestApp) -> String {
    let token = hms_governance::operators::issue(&app.state.tenants, "platform team", &by_test())
        .await
        .unwrap();
    token.expose().to_owned()
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let request = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn operators_create_list_suspend_and_resume_tenants_and_the_platform_ledger_says_so() {
    for app in apps().await {
        let operator = operator_token(&app).await;
        // A tenant's credential is no operator's, and no credential is none.
        let tenants = "/operator/v1/tenants";
        let refused = call(&app, Method::GET, tenants, &app.admin_token, None).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let forged = format!("{}x", operator);
        assert_eq!(
            call(&app, Method::GET, tenants, &forged, None)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );

        let new =
            json!({"id": "north-clinic", "display_name": "North Clinic", "utc_offset_minutes": 60});
        let created = call(&app, Method::POST, tenants, &operator, Some(new.clone())).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["tenant"]["display_name"], "North Clinic");
        let clinic_admin = created["admin_token"].as_str().unwrap().to_owned();
        let policies = |token: String| {
            app.http
                .get(format!("{}/north-clinic/v1/policies", app.base))
                .bearer_auth(token)
                .send()
        };
        assert_eq!(
            policies(clinic_admin.clone()).await.unwrap().status(),
            StatusCode::OK
        );
        // The operator's credential opens no tenant.
        assert_eq!(
            policies(operator.clone()).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );

        let again = call(&app, Method::POST, tenants, &operator, Some(new)).await;
        assert_eq!(error_code(again, StatusCode::CONFLICT).await, "conflict");
        for bad in ["Bad_Id", "operator"] {
            let answer = call(
                &app,
                Method::POST,
                tenants,
                &operator,
                Some(json!({"id": bad})),
            )
            .await;
            assert_eq!(
                error_code(answer, StatusCode::BAD_REQUEST).await,
                "invalid_tenant_id",
                "{bad}"
            );
        }

        let suspend = "/operator/v1/tenants/north-clinic/suspend";
        let reason = json!({"reason": "contract ended"});
        let suspended: Value = call(&app, Method::POST, suspend, &operator, Some(reason.clone()))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(suspended["changed"], true);
        let refused = policies(clinic_admin.clone()).await.unwrap();
        assert_eq!(
            error_code(refused, StatusCode::FORBIDDEN).await,
            "tenant_suspended"
        );
        let decision = app
            .http
            .post(format!("{}/north-clinic/access/v1/evaluation", app.base))
            .bearer_auth(&clinic_admin)
            .json(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            decision.status(),
            StatusCode::FORBIDDEN,
            "the PDP refuses too"
        );
        let twice: Value = call(&app, Method::POST, suspend, &operator, Some(reason))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(twice["changed"], false);
        let listed: Value = call(&app, Method::GET, tenants, &operator, None)
            .await
            .json()
            .await
            .unwrap();
        let clinic = listed["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "north-clinic")
            .unwrap();
        assert_eq!(clinic["suspended_reason"], "contract ended");
        assert!(
            listed["tenants"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == "st-marys")
        );
        assert_eq!(
            app.get("/v1/policies").await.status(),
            StatusCode::OK,
            "other tenants are served"
        );

        let resumed = call(
            &app,
            Method::POST,
            "/operator/v1/tenants/north-clinic/resume",
            &operator,
            None,
        )
        .await;
        assert_eq!(resumed.json::<Value>().await.unwrap()["changed"], true);
        assert_eq!(
            policies(clinic_admin.clone()).await.unwrap().status(),
            StatusCode::OK
        );
        let unknown = call(
            &app,
            Method::POST,
            "/operator/v1/tenants/nowhere/suspend",
            &operator,
            Some(json!({"reason": "x"})),
        )
        .await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

        // The platform ledger holds every act, signed, and verifies offline.
        let keys = app.state.tenants.platform().public_keys().await.unwrap();
        let trusted: Vec<VerifierKey> = keys
            .iter()
            .map(|k| VerifierKey::parse(&k.vkey).unwrap())
            .collect();
        let bundle = call(
            &app,
            Method::GET,
            "/operator/v1/ledger/export",
            &operator,
            None,
        )
        .await
        .text()
        .await
        .unwrap();
        let report = verify_bundle(bundle.as_bytes(), &Trust::with_keys(trusted), |_| {}).unwrap();
        assert!(report.is_valid(), "{:?}", report.problems);
        let entries: Vec<Value> = bundle
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|line| line["type"] == "entry")
            .collect();
        let kinds: Vec<&str> = entries
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or_default())
            .collect();
        for kind in [
            "operator.credential.issue",
            "tenant.create",
            "tenant.suspend",
            "tenant.resume",
        ] {
            assert!(
                kinds.contains(&kind),
                "{kind} missing from {kinds:?} on {}",
                app.backend
            );
        }
        let checkpoint = call(
            &app,
            Method::GET,
            "/operator/v1/ledger/checkpoint",
            &operator,
            None,
        )
        .await;
        assert_eq!(checkpoint.status(), StatusCode::OK);
    }
}
