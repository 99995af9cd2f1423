//! Directory changes take effect on the next decision.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{apps, error_code, record_request, staff};

#[tokio::test]
async fn disabling_a_person_denies_them_at_once() {
    for app in apps().await {
        let request = record_request("dr-heart", "read_vitals", "Vitals", "p1");
        assert!(app.evaluate(&request).await);
        let mut disabled = staff("dr-heart", "doctor", "cardiology", Some("medical_licence"));
        disabled["active"] = json!(false);
        assert_eq!(
            app.put("/v1/directory/staff", &json!([disabled]))
                .await
                .status(),
            StatusCode::OK
        );
        assert!(!app.evaluate(&request).await);
        let stored: Value = app
            .get("/v1/directory/staff/dr-heart")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored["active"], false);
        assert_eq!(stored["roles"], json!(["doctor"]));
    }
}

#[tokio::test]
async fn an_expired_licence_and_a_new_encounter_change_decisions() {
    for app in apps().await {
        let request = record_request("nurse-heart", "read_vitals", "Vitals", "p2");
        assert!(!app.evaluate(&request).await);
        let encounter = json!([{"id": "e2", "patient_id": "p2", "department": "cardiology"}]);
        assert_eq!(
            app.put("/v1/directory/encounters", &encounter)
                .await
                .status(),
            StatusCode::OK
        );
        assert!(app.evaluate(&request).await);
        let mut lapsed = staff(
            "nurse-heart",
            "nurse",
            "cardiology",
            Some("nursing_licence"),
        );
        lapsed["credentials"][0]["expires"] = json!("2020-01-01");
        app.put("/v1/directory/staff", &json!([lapsed])).await;
        assert!(!app.evaluate(&request).await);
        let patient: Value = app
            .get("/v1/directory/patients/p2")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            patient["active_encounter_departments"],
            json!(["cardiology"])
        );
    }
}

#[tokio::test]
async fn a_rejected_batch_changes_nothing() {
    for app in apps().await {
        let mut bad = staff("dr-new", "doctor", "cardiology", Some("medical_licence"));
        bad["credentials"][0]["expires"] = json!("soon");
        let batch = json!([staff("dr-ok", "doctor", "cardiology", None), bad]);
        let code = error_code(
            app.put("/v1/directory/staff", &batch).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(code, "invalid_input");
        assert_eq!(
            app.get("/v1/directory/staff/dr-ok").await.status(),
            StatusCode::NOT_FOUND
        );
        let orphan = json!([{"id": "e9", "patient_id": "ghost", "department": "x"}]);
        assert_eq!(
            error_code(
                app.put("/v1/directory/encounters", &orphan).await,
                StatusCode::BAD_REQUEST
            )
            .await,
            "invalid_input"
        );
        let unknown_field = json!([{"id": "p9", "vip": "yes"}]);
        assert_eq!(
            app.put("/v1/directory/patients", &unknown_field)
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );
    }
}
