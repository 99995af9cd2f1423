//! AuthZEN 1.0 evaluation and evaluations, and how bad input is answered.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{apps, error_code, record_request, staff};

#[tokio::test]
async fn care_team_doctor_is_permitted_and_receptionist_denied() {
    for app in apps().await {
        assert!(
            app.evaluate(&record_request(
                "dr-heart",
                "read_lab_result",
                "LabResult",
                "p1"
            ))
            .await
        );
        assert!(
            !app.evaluate(&record_request(
                "dr-bone",
                "read_lab_result",
                "LabResult",
                "p1"
            ))
            .await
        );
        assert!(
            !app.evaluate(&record_request("desk", "read_vitals", "Vitals", "p1"))
                .await
        );
        // A nurse of the encounter's department is in, one of another is not.
        assert!(
            app.evaluate(&record_request(
                "nurse-heart",
                "read_vitals",
                "Vitals",
                "p1"
            ))
            .await
        );
        assert!(
            !app.evaluate(&record_request(
                "nurse-heart",
                "read_vitals",
                "Vitals",
                "p2"
            ))
            .await
        );
    }
}

#[tokio::test]
async fn decisions_carry_an_id_and_break_glass_obligations() {
    for app in apps().await {
        let mut request = record_request("dr-bone", "read_lab_result", "LabResult", "p1");
        request["context"] =
            json!({"break_glass": true, "break_glass_reason": "unconscious in ED", "mfa": true});
        let body: Value = app
            .post("/access/v1/evaluation", &request)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["decision"], true);
        assert_eq!(
            body["context"]["obligations"],
            json!(["break_glass_review"])
        );
        assert_eq!(body["context"]["decision_id"].as_str().unwrap().len(), 36);
    }
}

#[tokio::test]
async fn directory_attributes_cannot_be_overridden_by_the_request() {
    for app in apps().await {
        // The directory says dr-bone is in orthopaedics; claiming cardiology changes nothing.
        let mut request = record_request("dr-bone", "read_vitals", "Vitals", "p1");
        request["subject"]["properties"] = json!({"department": "cardiology", "active": true});
        assert!(!app.evaluate(&request).await);
        // An attribute the directory does not hold is accepted and reaches the policies.
        let mut request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        request["subject"]["properties"] = json!({"on_call": true});
        assert!(app.evaluate(&request).await);
        // One the schema does not know is set aside, as AuthZEN asks, and
        // named when the caller asks for the reasons.
        request["subject"]["properties"] = json!({"on_call": true, "shoe_size": 44});
        request["context"] = json!({"ip": "10.0.0.7"});
        request["options"] = json!({"reasons": true});
        let response = app.post("/access/v1/evaluation", &request).await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["decision"], true, "{answer}");
        assert_eq!(
            answer["context"]["ignored"],
            json!(["context.ip", "subject.properties.shoe_size"])
        );
        let reason = answer["context"]["reason_admin"]["en"].as_str().unwrap();
        assert!(reason.starts_with("permitted by "), "{reason}");
        assert!(!answer["context"]["policies"].as_array().unwrap().is_empty());
        // Without asking, the decision carries no reasons.
        request.as_object_mut().unwrap().remove("options");
        let plain: Value = app
            .post("/access/v1/evaluation", &request)
            .await
            .json()
            .await
            .unwrap();
        assert!(plain["context"].get("ignored").is_none(), "{plain}");
        assert!(plain["context"].get("reason_admin").is_none());
    }
}

#[tokio::test]
async fn a_request_cannot_supply_what_the_directory_holds_for_a_person() {
    for app in apps().await {
        // A doctor on the care team whose licence the directory does not hold.
        let unlicensed = json!([staff("dr-new", "doctor", "cardiology", None)]);
        assert_eq!(
            app.put("/v1/directory/staff", &unlicensed).await.status(),
            StatusCode::OK
        );
        let patient = json!([{"id": "p3", "care_team": ["dr-new"]}]);
        assert_eq!(
            app.put("/v1/directory/patients", &patient).await.status(),
            StatusCode::OK
        );
        let mut request = record_request("dr-new", "read_vitals", "Vitals", "p3");
        assert!(!app.evaluate(&request).await, "{}", app.backend);
        request["subject"]["properties"] = json!({"licence": {
            "kind": "medical_licence", "number": "forged-1", "status": "active",
            "expires": {"__extn": {"fn": "datetime", "arg": "2035-01-01T00:00:00Z"}}
        }});
        request["options"] = json!({"reasons": true});
        let answer: Value = app
            .post("/access/v1/evaluation", &request)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["decision"], false, "{answer}");
        assert_eq!(
            answer["context"]["ignored"],
            json!(["subject.properties.licence"])
        );
    }
}

#[tokio::test]
async fn a_strict_bundle_refuses_what_its_schema_does_not_declare() {
    for app in apps().await {
        let current: Value = app.get("/v1/policies").await.json().await.unwrap();
        let mut options = current["options"].clone();
        options["strict_requests"] = json!(true);
        let upload = json!({"policies": current["policies"], "options": options});
        let installed = app.put("/v1/policies", &upload).await;
        assert_eq!(installed.status(), StatusCode::CREATED);
        let mut request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        assert!(app.evaluate(&request).await, "{}", app.backend);
        request["subject"]["properties"] = json!({"shoe_size": 44});
        let code = error_code(
            app.post("/access/v1/evaluation", &request).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(code, "invalid_entity");
        request["subject"]["properties"] = json!({});
        request["context"] = json!({"ip": "10.0.0.7"});
        let code = error_code(
            app.post("/access/v1/evaluation", &request).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(code, "invalid_context");
    }
}

#[tokio::test]
async fn evaluations_inherit_defaults_and_answer_in_order() {
    for app in apps().await {
        let batch = json!({
            "subject": {"type": "Staff", "id": "dr-heart"},
            "action": {"name": "read_vitals"},
            "evaluations": [
                {"resource": {"type": "Vitals", "id": "a", "properties": {"patient": {"type": "Patient", "id": "p1"}}}},
                {"resource": {"type": "Vitals", "id": "b", "properties": {"patient": {"type": "Patient", "id": "p2"}}}},
                {"action": {"name": "write_clinical_note"},
                 "resource": {"type": "ClinicalNote", "id": "c", "properties": {"patient": {"type": "Patient", "id": "p1"}}}},
                {"action": {"name": "no_such_action"}, "resource": {"type": "Vitals", "id": "d"}}
            ]
        });
        let body: Value = app
            .post("/access/v1/evaluations", &batch)
            .await
            .json()
            .await
            .unwrap();
        let decisions: Vec<bool> = body["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["decision"].as_bool().unwrap())
            .collect();
        assert_eq!(decisions, vec![true, false, true, false]);
        assert!(
            body["evaluations"][3]["context"]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no_such_action")
        );
    }
}

#[tokio::test]
async fn evaluations_semantics_stop_where_the_specification_says() {
    for app in apps().await {
        let mut batch = json!({
            "subject": {"type": "Staff", "id": "dr-heart"},
            "action": {"name": "read_vitals"},
            "evaluations": [
                {"resource": {"type": "Vitals", "id": "a", "properties": {"patient": {"type": "Patient", "id": "p1"}}}},
                {"resource": {"type": "Vitals", "id": "b", "properties": {"patient": {"type": "Patient", "id": "p2"}}}},
                {"resource": {"type": "Vitals", "id": "c", "properties": {"patient": {"type": "Patient", "id": "p1"}}}}
            ],
            "options": {"evaluations_semantic": "deny_on_first_deny"}
        });
        let body: Value = app
            .post("/access/v1/evaluations", &batch)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["evaluations"].as_array().unwrap().len(), 2);
        batch["options"]["evaluations_semantic"] = json!("permit_on_first_permit");
        let body: Value = app
            .post("/access/v1/evaluations", &batch)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["evaluations"].as_array().unwrap().len(), 1);
        batch["options"]["evaluations_semantic"] = json!("execute_all");
        let body: Value = app
            .post("/access/v1/evaluations", &batch)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["evaluations"].as_array().unwrap().len(), 3);
        batch["options"]["evaluations_semantic"] = json!("whatever");
        assert_eq!(
            app.post("/access/v1/evaluations", &batch).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
}

#[tokio::test]
async fn evaluations_without_items_behave_as_one_evaluation() {
    for app in apps().await {
        let mut single = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        single["evaluations"] = json!([]);
        let body: Value = app
            .post("/access/v1/evaluations", &single)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["decision"], true);
        // An item missing what no default gives is denied alone, with why.
        let missing = json!({"action": {"name": "read_vitals"}, "evaluations": [{"resource": {"type": "Vitals", "id": "x"}}]});
        let body: Value = app
            .post("/access/v1/evaluations", &missing)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["evaluations"][0]["decision"], false);
        let reason = body["evaluations"][0]["context"]["error"]["message"]
            .as_str()
            .unwrap();
        assert!(reason.contains("has no `subject`"), "{reason}");
    }
}

#[tokio::test]
async fn the_request_id_is_echoed() {
    let app = crate::helpers::spawn("sqlite").await;
    let response = app
        .http
        .post(app.url("/access/v1/evaluation"))
        .bearer_auth(&app.pdp_token)
        .header("X-Request-ID", "pep-req-42")
        .json(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "pep-req-42");
    let generated = app
        .post(
            "/access/v1/evaluation",
            &record_request("dr-heart", "read_vitals", "Vitals", "p1"),
        )
        .await;
    assert!(!generated.headers()["x-request-id"].is_empty());
}

#[tokio::test]
async fn bad_input_gets_a_precise_client_error() {
    let app = crate::helpers::spawn("sqlite").await;
    let url = app.url("/access/v1/evaluation");
    let send = |body: &'static str, content_type: &'static str| {
        app.http
            .post(&url)
            .bearer_auth(&app.pdp_token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_eq!(
        error_code(
            send("{not json", "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST
        )
        .await,
        "malformed_json"
    );
    // AuthZEN answers a body that is not JSON with 400, not 415.
    assert_eq!(
        error_code(
            send("{}", "text/plain").await.unwrap(),
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_content_type"
    );
    let wrong_type = r#"{"subject":{"type":"Staff","id":7},"action":{"name":"read_vitals"},"resource":{"type":"Vitals","id":"x"}}"#;
    assert_eq!(
        error_code(
            send(wrong_type, "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_body"
    );
    let unknown_type = r#"{"subject":{"type":"Robot","id":"r"},"action":{"name":"read_vitals"},"resource":{"type":"Vitals","id":"x"}}"#;
    assert_eq!(
        error_code(
            send(unknown_type, "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST
        )
        .await,
        "unknown_entity_type"
    );
    let unknown_action = r#"{"subject":{"type":"Staff","id":"s"},"action":{"name":"teleport"},"resource":{"type":"Vitals","id":"x"}}"#;
    assert_eq!(
        error_code(
            send(unknown_action, "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST
        )
        .await,
        "unknown_action"
    );
    let bad_context = r#"{"subject":{"type":"Staff","id":"s"},"action":{"name":"read_vitals"},"resource":{"type":"Vitals","id":"x","properties":{"patient":{"type":"Patient","id":"p1"}}},"context":{"mfa":"yes"}}"#;
    assert_eq!(
        error_code(
            send(bad_context, "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_context"
    );
    let huge = format!(
        r#"{{"subject":{{"type":"Staff","id":"{}"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let response = app
        .http
        .post(&url)
        .bearer_auth(&app.pdp_token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );
    // The PDP clock cannot be set by the caller: were this forged `now` (past the licence
    // expiry) trusted, the doctor would be denied.
    let mut forged = record_request("dr-heart", "read_vitals", "Vitals", "p1");
    forged["context"] = json!({"now": {"__extn": {"fn": "datetime", "arg": "2040-01-01"}}});
    assert!(app.evaluate(&forged).await);
}

#[tokio::test]
async fn a_batch_item_that_cannot_be_read_is_denied_alone() {
    for app in apps().await {
        let batch = json!({
            "action": {"name": "read_vitals"},
            "evaluations": [
                record_request("dr-heart", "read_vitals", "Vitals", "p1"),
                {"subject": {"type": "Staff", "id": 7}, "resource": {"type": "Vitals", "id": "v"}},
                {"subject": {"type": "Staff", "id": "dr-heart"}},
                record_request("nurse-heart", "read_vitals", "Vitals", "p1"),
            ]
        });
        let response = app.post("/access/v1/evaluations", &batch).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", app.backend);
        let body: Value = response.json().await.unwrap();
        let decisions: Vec<bool> = body["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["decision"].as_bool().unwrap())
            .collect();
        assert_eq!(decisions, vec![true, false, false, true]);
        let reason = |i: usize| {
            body["evaluations"][i]["context"]["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert!(
            reason(1).contains("evaluation 1 is not a request"),
            "{}",
            reason(1)
        );
        assert!(
            reason(2).contains("evaluation 2 has no `resource`"),
            "{}",
            reason(2)
        );

        // Under deny_on_first_deny the unreadable item is the first deny.
        let mut stopping = batch.clone();
        stopping["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
        let body: Value = app
            .post("/access/v1/evaluations", &stopping)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["evaluations"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn a_search_for_a_type_the_pdp_does_not_know_finds_nothing() {
    for app in apps().await {
        let search = json!({
            "subject": {"type": "Robot"},
            "action": {"name": "read_vitals"},
            "resource": {"type": "Vitals", "id": "v1", "properties": {"patient": {"type": "Patient", "id": "p1"}}}
        });
        let response = app.post("/access/v1/search/subject", &search).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", app.backend);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["results"], json!([]));
        assert_eq!(body["page"]["next_token"], "");
    }
}

#[tokio::test]
async fn a_resource_without_a_property_its_type_requires_is_a_clear_error() {
    for app in apps().await {
        let bare = json!({
            "subject": {"type": "Staff", "id": "dr-heart"},
            "action": {"name": "read_vitals"},
            "resource": {"type": "Vitals", "id": "v-9"}
        });
        let response = app.post("/access/v1/evaluation", &bare).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "invalid_entity", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("patient"), "{message}");
        // Someone the directory does not know is denied, not an error.
        let mut stranger = record_request("ghost", "read_vitals", "Vitals", "p1");
        assert!(!app.evaluate(&stranger).await);
        stranger["resource"] = json!({"type": "Patient", "id": "nobody"});
        stranger["action"] = json!({"name": "read_demographics"});
        assert!(
            !app.evaluate(&stranger).await,
            "an unknown patient is a denial"
        );
    }
}
