//! The AuthZEN Authorization API 1.0 certification scenario, as its harness
//! runs it: a tenant loaded with the scenario's fixture (users `alice` and
//! `bob`, records `record-1` and `record-2`) through the entity store and a
//! policy of its own, then every Basic, Batch, Search and Discovery check,
//! the eight validated decisions among them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, by_test};

const SCHEMA: &str = r#"
entity Group;
entity user in [Group] = { role?: String };
entity record = { status: String, owner: user };
action read, write appliesTo { principal: user, resource: record, context: {} };
action delete appliesTo {
  principal: user, resource: record,
  context: { action?: { soft?: Bool } }
};
"#;

const POLICIES: &str = r#"
@id("members-read")
permit (principal in Group::"members", action == Action::"read", resource);

@id("owners-write-active-records")
permit (principal, action == Action::"write", resource)
when { resource.owner == principal && resource.status == "active" };

@id("admins-write-archived-records")
permit (principal, action == Action::"write", resource)
when { principal has role && principal.role == "admin" && resource.status == "archived" };

@id("soft-deletes")
permit (principal, action == Action::"delete", resource)
when { context has action && context.action has soft && context.action.soft };
"#;

fn fixture() -> Value {
    let user = |id: &str, role: &str| {
        json!({"uid": {"type": "user", "id": id}, "attrs": {"role": role},
               "parents": [{"type": "Group", "id": "members"}]})
    };
    let record = |id: &str, status: &str| {
        json!({"uid": {"type": "record", "id": id},
               "attrs": {"status": status, "owner": {"__entity": {"type": "user", "id": "alice"}}}})
    };
    json!({"upsert": [
        {"uid": {"type": "Group", "id": "members"}},
        user("alice", "staff"),
        user("bob", "admin"),
        record("record-1", "active"),
        record("record-2", "archived"),
    ]})
}

/// A tenant of its own, loaded with the scenario; returns its PDP credential.
async fn certification_tenant(app: &TestApp) -> String {
    let tenant = app
        .state
        .tenants
        .create(&"cert".parse().unwrap(), "Certification", 0, &by_test())
        .await
        .unwrap();
    let scopes = [
        hms_governance::credentials::Scope::Pdp,
        hms_governance::credentials::Scope::Admin,
    ];
    let (_, token) = tenant
        .create_client("harness", &scopes, &by_test())
        .await
        .unwrap();
    let token = token.expose().to_owned();
    let bundle = json!({
        "schema": SCHEMA,
        "policies": [{"name": "scenario.cedar", "text": POLICIES}],
        "options": {}
    });
    let installed = send(app, &token, "PUT", "/v1/policies", Some(&bundle)).await;
    assert_eq!(
        installed.status(),
        StatusCode::CREATED,
        "{}",
        installed.text().await.unwrap()
    );
    let loaded = send(app, &token, "POST", "/v1/entities", Some(&fixture())).await;
    assert_eq!(
        loaded.status(),
        StatusCode::OK,
        "{}",
        loaded.text().await.unwrap()
    );
    token
}

async fn send(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let request = app
        .http
        .request(method.parse().unwrap(), format!("{}/cert{path}", app.base))
        .bearer_auth(token);
    let request = match body {
        Some(body) => request.json(body),
        None => request,
    };
    request.send().await.unwrap()
}

/// What a check expects of the answer.
enum Expect {
    Decision(bool),
    Decisions(&'static [bool]),
    Status(StatusCode),
    /// A search whose results include these (by `id`, or `name` for actions).
    Includes(&'static [&'static str]),
    Empty,
}

fn checks() -> Vec<(&'static str, &'static str, Value, Expect)> {
    use Expect::*;
    let alice = json!({"type": "user", "id": "alice"});
    let bob = json!({"type": "user", "id": "bob"});
    let bob_admin = json!({"type": "user", "id": "bob", "properties": {"role": "admin"}});
    let record1 = json!({"type": "record", "id": "record-1"});
    let record2 = json!({"type": "record", "id": "record-2"});
    let archived2 =
        json!({"type": "record", "id": "record-2", "properties": {"status": "archived"}});
    let read = json!({"name": "read"});
    let write = json!({"name": "write"});
    let eval = "/access/v1/evaluation";
    let evals = "/access/v1/evaluations";
    let subjects = "/access/v1/search/subject";
    let resources = "/access/v1/search/resource";
    let actions = "/access/v1/search/action";
    vec![
        (
            "2.2.1",
            eval,
            json!({"subject": alice, "action": read, "resource": record1}),
            Decision(true),
        ),
        (
            "2.2.2",
            eval,
            json!({"subject": bob, "action": write, "resource": record1}),
            Decision(false),
        ),
        (
            "2.2.3",
            eval,
            json!({"subject": alice, "action": read, "resource": record1,
            "context": {"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"}}),
            Decision(true),
        ),
        (
            "2.2.4",
            eval,
            json!({"subject": alice, "action": write, "resource": archived2}),
            Decision(false),
        ),
        (
            "2.2.5",
            eval,
            json!({"subject": bob_admin, "action": write, "resource": archived2}),
            Decision(true),
        ),
        (
            "2.2.6",
            eval,
            json!({"subject": alice, "action": {"name": "delete", "properties": {"soft": true}},
            "resource": record1}),
            Decision(true),
        ),
        (
            "2.2.7",
            eval,
            json!({"subject": alice, "action": {"name": "delete", "properties": {"soft": false}},
            "resource": record1}),
            Decision(false),
        ),
        (
            "2.2.8",
            eval,
            json!({
                "subject": {"type": "user", "id": "alice", "properties": {"department": "Sales", "role": "manager"}},
                "action": {"name": "read", "properties": {"method": "GET"}},
                "resource": {"type": "record", "id": "record-1", "properties": {"status": "active", "owner": "bob"}}
            }),
            Decision(true),
        ),
        (
            "2.2.9",
            eval,
            json!({"subject": alice, "action": read, "resource": record1,
            "foo": "bar", "futureField": {"nested": true}}),
            Decision(true),
        ),
        (
            "2.4.1 subject",
            eval,
            json!({"action": read, "resource": record1}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.1 action",
            eval,
            json!({"subject": alice, "resource": record1}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.1 resource",
            eval,
            json!({"subject": alice, "action": read}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.2 subject type",
            eval,
            json!({"subject": {"id": "alice"}, "action": read, "resource": record1}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.2 subject id",
            eval,
            json!({"subject": {"type": "user"}, "action": read, "resource": record1}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.2 action name",
            eval,
            json!({"subject": alice, "action": {}, "resource": record1}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.2 resource type",
            eval,
            json!({"subject": alice, "action": read, "resource": {"id": "record-1"}}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.2 resource id",
            eval,
            json!({"subject": alice, "action": read, "resource": {"type": "record"}}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.6 subject",
            eval,
            json!({"subject": "alice", "action": read, "resource": record1}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "2.4.6 action name",
            eval,
            json!({"subject": alice, "action": {"name": 123}, "resource": record1}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "3.2.1",
            evals,
            json!({"subject": alice, "action": read,
            "evaluations": [{"resource": record1}, {"resource": record2}]}),
            Decisions(&[true, true]),
        ),
        (
            "3.2.2",
            evals,
            json!({"subject": bob, "resource": record1,
            "evaluations": [{"action": read}, {"action": write}]}),
            Decisions(&[true, false]),
        ),
        (
            "3.2.3",
            evals,
            json!({"subject": alice, "action": write, "evaluations": [
            {"resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}}},
            {"resource": archived2}]}),
            Decisions(&[true, false]),
        ),
        (
            "3.2.4",
            evals,
            json!({"action": write, "resource": archived2,
            "evaluations": [{"subject": alice}, {"subject": bob_admin}]}),
            Decisions(&[false, true]),
        ),
        (
            "3.2.5",
            evals,
            json!({"evaluations": [
            {"subject": alice, "action": read, "resource": record1},
            {"subject": bob, "action": write, "resource": record1}]}),
            Decisions(&[true, false]),
        ),
        (
            "3.2.6",
            evals,
            json!({"subject": alice, "action": read, "context": {"time": "2025-06-27T18:03-07:00"},
            "evaluations": [{"resource": record1},
                {"resource": record2, "context": {"time": "2025-06-27T19:00-07:00", "source": "batch-override"}}]}),
            Decisions(&[true, true]),
        ),
        (
            "3.2.7",
            evals,
            json!({"subject": alice, "action": write, "resource": {"type": "record"},
            "evaluations": [
                {"resource": {"id": "record-1", "properties": {"status": "active"}}},
                {"resource": archived2}]}),
            Decisions(&[true, false]),
        ),
        (
            "3.4.1",
            evals,
            json!({"subject": alice, "action": read,
            "evaluations": [{"resource": record1}, {}]}),
            Decisions(&[true, false]),
        ),
        (
            "3.4.2",
            evals,
            json!({"subject": alice, "action": read, "resource": record1}),
            Decision(true),
        ),
        (
            "3.4.3",
            evals,
            json!({"subject": alice, "action": read, "resource": record1, "evaluations": []}),
            Decision(true),
        ),
        (
            "4.2.1",
            subjects,
            json!({"subject": {"type": "user"}, "action": read, "resource": record1}),
            Includes(&["alice", "bob"]),
        ),
        (
            "4.2.2",
            subjects,
            json!({"subject": {"type": "user"}, "action": read, "resource": record1,
            "context": {"time": "2025-06-27T18:03-07:00"}}),
            Includes(&["alice", "bob"]),
        ),
        (
            "4.2.4",
            subjects,
            json!({"subject": {"type": "user"}, "action": write, "resource": archived2}),
            Includes(&["bob"]),
        ),
        (
            "4.3.1",
            resources,
            json!({"subject": alice, "action": read, "resource": {"type": "record"}}),
            Includes(&["record-1"]),
        ),
        (
            "4.3.3",
            resources,
            json!({"subject": bob_admin, "action": write, "resource": {"type": "record"}}),
            Includes(&["record-2"]),
        ),
        (
            "4.4.1",
            actions,
            json!({"subject": alice, "resource": record1}),
            Includes(&["read", "write"]),
        ),
        (
            "4.4.2",
            actions,
            json!({"subject": alice, "resource": record1, "context": {"ip": "10.1.1.1"}}),
            Includes(&["read", "write"]),
        ),
        (
            "4.4.3",
            actions,
            json!({"subject": bob_admin, "resource": archived2}),
            Includes(&["write"]),
        ),
        (
            "4.5.1",
            subjects,
            json!({"subject": {"type": "user"}, "action": read, "resource": record1,
            "page": {"limit": 1}}),
            Includes(&["alice"]),
        ),
        (
            "4.6.1",
            actions,
            json!({"subject": {"type": "user", "id": "nonexistent-user"}, "resource": record1}),
            Empty,
        ),
        (
            "4.6.2",
            subjects,
            json!({"subject": {"type": "spaceship"}, "action": read, "resource": record1}),
            Empty,
        ),
        (
            "4.7.1 subject search",
            subjects,
            json!({"subject": {"type": "user"}, "resource": record1}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "4.7.1 resource search",
            resources,
            json!({"action": read, "resource": {"type": "record"}}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "4.7.1 action search",
            actions,
            json!({"subject": alice}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "4.7.2 subject search",
            subjects,
            json!({"subject": {"type": "user"}, "action": read,
            "resource": {"type": "record"}}),
            Status(StatusCode::BAD_REQUEST),
        ),
        (
            "4.7.2 resource search",
            resources,
            json!({"subject": {"type": "user"}, "action": read,
            "resource": {"type": "record"}}),
            Status(StatusCode::BAD_REQUEST),
        ),
    ]
}

fn found(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().or(r["name"].as_str()).unwrap().to_owned())
        .collect()
}

async fn run_check(
    app: &TestApp,
    token: &str,
    (name, path, body, expect): (&str, &str, Value, Expect),
) {
    let response = send(app, token, "POST", path, Some(&body)).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let what = format!("check {name} on {}: {status} {answer}", app.backend);
    match expect {
        Expect::Status(expected) => {
            assert_eq!(status, expected, "{what}");
            assert!(answer["error"]["code"].is_string(), "{what}");
            return;
        }
        _ => assert_eq!(status, StatusCode::OK, "{what}"),
    }
    match expect {
        Expect::Decision(expected) => {
            assert_eq!(answer["decision"], expected, "{what}");
            assert!(answer["context"].is_object(), "{what}");
        }
        Expect::Decisions(expected) => {
            let decisions: Vec<bool> = answer["evaluations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["decision"].as_bool().unwrap())
                .collect();
            assert_eq!(decisions, expected, "{what}");
        }
        Expect::Includes(expected) => {
            let found = found(&answer);
            assert!(
                expected.iter().all(|e| found.iter().any(|f| f == e)),
                "{what}"
            );
            assert!(answer["page"]["next_token"].is_string(), "{what}");
        }
        Expect::Empty => assert!(found(&answer).is_empty(), "{what}"),
        Expect::Status(_) => {}
    }
}

#[tokio::test]
async fn the_authzen_certification_scenario_passes_every_check() {
    for app in apps().await {
        let token = certification_tenant(&app).await;
        for check in checks() {
            run_check(&app, &token, check).await;
        }
        // Content type, malformed and empty bodies: a 400 with a code.
        let eval = format!("{}/cert/access/v1/evaluation", app.base);
        let raw = |content_type: &'static str, body: &'static str| {
            app.http
                .post(&eval)
                .bearer_auth(&token)
                .header("content-type", content_type)
                .body(body)
        };
        for (content_type, body) in [
            (
                "text/plain",
                r#"{"subject": {"type": "user", "id": "alice"}}"#,
            ),
            ("application/json", "{not json"),
            ("application/json", ""),
        ] {
            let response = raw(content_type, body).send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{content_type} {body:?}"
            );
        }
        // The request id is echoed; the same request decides the same way every time.
        let alice_reads = json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"},
                                 "resource": {"type": "record", "id": "record-1"}});
        for _ in 0..3 {
            let response = app
                .http
                .post(&eval)
                .bearer_auth(&token)
                .header("x-request-id", "cert-42")
                .json(&alice_reads)
                .send()
                .await
                .unwrap();
            assert_eq!(response.headers()["x-request-id"], "cert-42");
            assert_eq!(response.json::<Value>().await.unwrap()["decision"], true);
        }
        // Paging: a token from a page of one leads on, and the last page ends with "".
        let search = json!({"subject": {"type": "user"}, "action": {"name": "read"},
                            "resource": {"type": "record", "id": "record-1"}, "page": {"limit": 1}});
        let first: Value = send(
            &app,
            &token,
            "POST",
            "/access/v1/search/subject",
            Some(&search),
        )
        .await
        .json()
        .await
        .unwrap();
        let next = json!({"subject": {"type": "user"}, "action": {"name": "read"},
                          "resource": {"type": "record", "id": "record-1"},
                          "page": {"token": first["page"]["next_token"]}});
        let second: Value = send(
            &app,
            &token,
            "POST",
            "/access/v1/search/subject",
            Some(&next),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(found(&second), ["bob"]);
        assert_eq!(second["page"]["next_token"], "");
        // Discovery: the tenant's metadata names its own base URL and endpoints.
        let metadata: Value = app
            .http
            .get(format!(
                "{}/.well-known/authzen-configuration/cert",
                app.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            metadata["policy_decision_point"]
                .as_str()
                .unwrap()
                .ends_with("/cert")
        );
        assert!(
            metadata["access_evaluation_endpoint"]
                .as_str()
                .unwrap()
                .ends_with("/cert/access/v1/evaluation")
        );
    }
}
