//! AuthZEN subject, resource and action search, with paging.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::apps;

fn ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn subject_search_finds_who_may_act_page_by_page() {
    for app in apps().await {
        let mut search = json!({
            "subject": {"type": "Staff"},
            "action": {"name": "read_vitals"},
            "resource": {"type": "Vitals", "id": "v1", "properties": {"patient": {"type": "Patient", "id": "p1"}}},
            "page": {"limit": 1}
        });
        let first: Value = app
            .post("/access/v1/search/subject", &search)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(ids(&first), vec!["dr-heart"]);
        let token = first["page"]["next_token"].as_str().unwrap().to_owned();
        assert!(!token.is_empty());
        search["page"] = json!({"limit": 1, "token": token});
        let second: Value = app
            .post("/access/v1/search/subject", &search)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(ids(&second), vec!["nurse-heart"]);
        // The last page says so with an empty token.
        assert_eq!(second["page"]["next_token"], "");
        search["page"] = json!({"limit": 10});
        let all: Value = app
            .post("/access/v1/search/subject", &search)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(ids(&all), vec!["dr-heart", "nurse-heart"]);
        search["page"] = json!({"token": "not-hex"});
        assert_eq!(
            app.post("/access/v1/search/subject", &search)
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );
    }
}

#[tokio::test]
async fn resource_search_finds_the_patients_a_doctor_cares_for() {
    for app in apps().await {
        let search = json!({
            "subject": {"type": "Staff", "id": "dr-heart"},
            "action": {"name": "read_demographics"},
            "resource": {"type": "Patient"}
        });
        let body: Value = app
            .post("/access/v1/search/resource", &search)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(ids(&body), vec!["p1"]);
        assert_eq!(body["results"][0]["type"], "Patient");
    }
}

#[tokio::test]
async fn action_search_lists_what_a_nurse_may_do_to_vitals() {
    for app in apps().await {
        let search = json!({
            "subject": {"type": "Staff", "id": "nurse-heart"},
            "resource": {"type": "Vitals", "id": "v1", "properties": {"patient": {"type": "Patient", "id": "p1"}}}
        });
        let body: Value = app
            .post("/access/v1/search/action", &search)
            .await
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["read_vitals", "write_vitals"]);
    }
}

#[tokio::test]
async fn a_page_token_serves_only_its_own_search_and_a_page_of_nothing_is_refused() {
    for app in apps().await {
        let mut search = json!({
            "subject": {"type": "Staff"},
            "action": {"name": "read_vitals"},
            "resource": {"type": "Vitals", "id": "v1", "properties": {"patient": {"type": "Patient", "id": "p1"}}},
            "page": {"limit": 1}
        });
        let first: Value = app
            .post("/access/v1/search/subject", &search)
            .await
            .json()
            .await
            .unwrap();
        let token = first["page"]["next_token"].as_str().unwrap().to_owned();
        assert!(
            !token.contains("dr-") && !token.contains("6472"),
            "the token names no one: {token}"
        );
        let mut other = search.clone();
        other["action"] = json!({"name": "read_lab_result"});
        other["page"] = json!({"limit": 1, "token": token});
        let refused = app.post("/access/v1/search/subject", &other).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{}", app.backend);
        let body: Value = refused.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("another search"),
            "{body}"
        );
        search["page"] = json!({"limit": 0});
        let nothing = app.post("/access/v1/search/subject", &search).await;
        assert_eq!(nothing.status(), StatusCode::BAD_REQUEST);
    }
}
