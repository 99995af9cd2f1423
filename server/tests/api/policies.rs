//! Policy administration: validation with locations, versions, rollback, custom schemas, hot swap.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{apps, record_request, spawn};

async fn current_files(app: &crate::helpers::TestApp) -> Vec<Value> {
    let current: Value = app.get("/v1/policies").await.json().await.unwrap();
    current["policies"].as_array().unwrap().clone()
}

#[tokio::test]
async fn invalid_policies_are_rejected_with_locations_and_change_nothing() {
    for app in apps().await {
        let syntax = json!({"policies": [{"name": "extra.cedar", "text": "@id(\"x\")\npermit (principal, action, resource) when { principal. };"}]});
        let response = app.put("/v1/policies", &syntax).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["details"][0]["file"], "extra.cedar");
        assert_eq!(body["error"]["details"][0]["line"], 2);

        let mut files = current_files(&app).await;
        files.push(json!({"name": "typo.cedar", "text": "// a typo\n@id(\"nurse-shoe-size\")\npermit (principal in Hms::Role::\"nurse\", action == Hms::Action::\"read_vitals\", resource)\nwhen { principal.shoe_size > 3 };"}));
        let response = app.put("/v1/policies", &json!({"policies": files})).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.unwrap();
        let problem = &body["error"]["details"][0];
        assert_eq!(problem["policy_id"], "nurse-shoe-size");
        assert_eq!(
            (problem["file"].as_str(), problem["line"].as_u64()),
            (Some("typo.cedar"), Some(4))
        );

        let unnamed = json!({"policies": [{"name": "a.cedar", "text": "permit (principal, action, resource);"}]});
        assert_eq!(
            app.put("/v1/policies", &unnamed).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );

        let current: Value = app.get("/v1/policies").await.json().await.unwrap();
        assert_eq!(current["version"], 1);
        assert!(
            app.evaluate(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
                .await
        );
    }
}

#[tokio::test]
async fn uploads_are_versioned_take_effect_at_once_and_roll_back() {
    for app in apps().await {
        let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        let mut files = current_files(&app).await;
        files.push(json!({"name": "freeze.cedar", "text": "@id(\"vitals-freeze\")\nforbid (principal, action == Hms::Action::\"read_vitals\", resource);"}));
        let checked: Value = app
            .post("/v1/policies/validate", &json!({"policies": files}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(checked["valid"], true);
        assert!(
            app.evaluate(&request).await,
            "validation alone changes nothing"
        );

        let response = app
            .put(
                "/v1/policies",
                &json!({"policies": files, "comment": "freeze vitals"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let version: Value = response.json().await.unwrap();
        assert_eq!(version["version"], 2);
        assert!(!app.evaluate(&request).await);

        let versions: Value = app.get("/v1/policies/versions").await.json().await.unwrap();
        assert_eq!(versions["active"], 2);
        let admin_client = app.admin_token.split_once('.').unwrap().0;
        assert_eq!(
            versions["versions"][0]["author"],
            format!("client:{admin_client}")
        );
        assert_eq!(versions["versions"][0]["comment"], "freeze vitals");
        assert!(
            versions["versions"][0]["created_at"]
                .as_str()
                .unwrap()
                .starts_with("20")
        );

        let response = app
            .post("/v1/policies/rollback", &json!({"version": 1}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert!(app.evaluate(&request).await);
        let versions: Value = app.get("/v1/policies/versions").await.json().await.unwrap();
        assert_eq!(versions["active"], 3);
        assert_eq!(
            app.post("/v1/policies/rollback", &json!({"version": 99}))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn any_cedar_schema_works_through_the_same_api() {
    let app = spawn("sqlite").await;
    let upload = json!({
        "schema": "namespace Docs { entity User = { clearance: Long }; entity Document = { level: Long }; action read appliesTo { principal: User, resource: Document, context: { action?: { urgent: Bool } } }; }",
        "policies": [{"name": "docs.cedar", "text": "@id(\"clearance\")\npermit (principal, action == Docs::Action::\"read\", resource) when { principal.clearance >= resource.level || (context has action && context.action.urgent) };"}],
        "options": {"namespace": "Docs", "context_clock": false, "directory_entities": false}
    });
    assert_eq!(
        app.put("/v1/policies", &upload).await.status(),
        StatusCode::CREATED
    );
    let request = |level: i64| {
        json!({
            "subject": {"type": "User", "id": "u1", "properties": {"clearance": 3}},
            "action": {"name": "read"},
            "resource": {"type": "Document", "id": "d1", "properties": {"level": level}}
        })
    };
    assert!(app.evaluate(&request(2)).await);
    assert!(!app.evaluate(&request(5)).await);
    // Action properties reach the policies as `context.action`.
    let mut urgent = request(5);
    urgent["action"]["properties"] = json!({"urgent": true});
    assert!(app.evaluate(&urgent).await);
    let explained: Value = app
        .post(
            "/v1/decisions",
            &json!({"requests": [request(2)], "explain": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(explained["decisions"][0]["policies"], json!(["clearance"]));
}

#[tokio::test]
async fn a_policy_swap_fails_no_request_in_flight() {
    let app = spawn("sqlite").await;
    let files = current_files(&app).await;
    let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
    let load = (0..8).map(|_| {
        let (http, url, token, request) = (
            app.http.clone(),
            app.url("/access/v1/evaluation"),
            app.pdp_token.clone(),
            request.clone(),
        );
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..40 {
                statuses.push(
                    http.post(&url)
                        .bearer_auth(&token)
                        .json(&request)
                        .send()
                        .await
                        .unwrap()
                        .status(),
                );
            }
            statuses
        })
    });
    let load: Vec<_> = load.collect();
    for round in 0..3 {
        let response = app
            .put(
                "/v1/policies",
                &json!({"policies": files, "comment": format!("round {round}")}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for task in load {
        assert!(task.await.unwrap().iter().all(|s| *s == StatusCode::OK));
    }
}

#[tokio::test]
async fn native_decisions_explain_themselves() {
    let app = spawn("sqlite").await;
    let body = json!({"explain": true, "requests": [
        record_request("desk", "read_vitals", "Vitals", "p1"),
        record_request("dr-heart", "read_vitals", "Vitals", "p-unknown"),
        {"subject": {"type": "Staff", "id": "x"}, "action": {"name": "fly"}, "resource": {"type": "Vitals", "id": "v"}}
    ]});
    let answer: Value = app.post("/v1/decisions", &body).await.json().await.unwrap();
    assert_eq!(answer["policy_version"], 1);
    let decisions = answer["decisions"].as_array().unwrap();
    assert_eq!(decisions[0]["policies"], json!(["licence-required"]));
    // An unknown patient makes guards fail to evaluate: denied, with the errors shown.
    assert_eq!(decisions[1]["decision"], false);
    assert!(
        decisions[1]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("p-unknown"))
    );
    assert_eq!(decisions[2]["error"]["code"], "unknown_action");
    assert_eq!(
        app.post("/v1/decisions", &json!({"requests": []}))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

/// A policy file whose condition is `body`, under a forbid that never applies.
fn deep_policy(name: &str, body: &str) -> Value {
    json!({"name": name, "text": format!(
        "@id(\"{name}\")\nforbid (principal, action == Hms::Action::\"read_vitals\", resource)\nwhen {{ {body} }};"
    )})
}

#[tokio::test]
async fn policies_too_deep_for_the_parser_are_refused_naming_the_bound_and_the_server_lives_on() {
    let app = spawn("sqlite").await;
    let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
    let too_deep = [
        (
            "parens",
            format!("{}false{}", "(".repeat(145), ")".repeat(145)),
            "32 levels",
        ),
        ("chain", vec!["false"; 845].join(" && "), "256 operators"),
        (
            "ifs",
            format!(
                "{}false{}",
                "if true then ".repeat(5000),
                " else false".repeat(5000)
            ),
            "256 operators",
        ),
    ];
    for (name, body, bound) in &too_deep {
        let mut files = current_files(&app).await;
        files.push(deep_policy(name, body));
        for (method, path) in [
            ("validate", "/v1/policies/validate"),
            ("upload", "/v1/policies"),
        ] {
            let upload = json!({"policies": files});
            let response = if method == "validate" {
                app.post(path, &upload).await
            } else {
                app.put(path, &upload).await
            };
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name} {method}"
            );
            let body: Value = response.json().await.unwrap();
            let problem = &body["error"]["details"][0];
            assert_eq!(problem["file"], *name, "{body}");
            let message = problem["message"].as_str().unwrap();
            assert!(message.contains(bound), "{name}: {message}");
        }
        assert!(
            app.evaluate(&request).await,
            "the server answers after `{name}`"
        );
    }

    // Just inside the bounds: installed, evaluated, and denying as written.
    let mut files = current_files(&app).await;
    let nested = format!("{}true{}", "(".repeat(31), ")".repeat(31));
    let chained = vec!["true"; 256].join(" && ");
    files.push(deep_policy("nested", &nested));
    files.push(deep_policy("chained", &chained));
    let installed = app.put("/v1/policies", &json!({"policies": files})).await;
    assert_eq!(
        installed.status(),
        StatusCode::CREATED,
        "{}",
        installed.text().await.unwrap()
    );
    assert!(!app.evaluate(&request).await, "the deep forbids apply");
}

#[tokio::test]
async fn deeply_nested_request_context_is_a_clear_400_not_a_crash() {
    let app = spawn("sqlite").await;
    let request = record_request("dr-heart", "read_vitals", "Vitals", "p1").to_string();
    for levels in [100, 127, 200, 5000] {
        // Written as text: the client would recurse as deep building it.
        let context = format!("{}true{}", "{\"x\":".repeat(levels), "}".repeat(levels));
        let deep = format!(
            "{},\"context\":{{\"deep\":{context}}}}}",
            &request[..request.len() - 1]
        );
        for (path, body) in [
            ("/access/v1/evaluation", deep.clone()),
            (
                "/access/v1/evaluations",
                format!("{{\"evaluations\":[{deep}]}}"),
            ),
            ("/v1/decisions", format!("{{\"requests\":[{deep}]}}")),
        ] {
            let response = app
                .http
                .post(app.url(path))
                .bearer_auth(&app.admin_token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            if status == StatusCode::OK && path == "/access/v1/evaluation" {
                // Within the body's nesting bound the undeclared key is set aside.
                assert!(levels < 128, "{levels} levels answered: {body}");
                assert!(body["decision"].is_boolean(), "{body}");
            } else if status == StatusCode::OK {
                // A batch answers each item: this one could not be evaluated.
                let items = body["evaluations"]
                    .as_array()
                    .or(body["decisions"].as_array());
                let items = items.unwrap_or_else(|| panic!("{body}"));
                // Set aside within the nesting bound (and decided), else denied alone.
                assert!(
                    items.iter().all(|item| item["decision"].is_boolean()),
                    "{body}"
                );
            } else {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path}, {levels} levels");
                assert!(body["error"]["code"].is_string(), "{body}");
            }
        }
    }
    let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
    assert!(
        app.evaluate(&request).await,
        "the server answers after deep requests"
    );
}
