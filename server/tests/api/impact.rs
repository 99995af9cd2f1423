//! Policy change impact: a candidate bundle is replayed against the
//! decisions the ledger recorded, over the API and the command line, and the
//! report names who would gain or lose what; nothing is installed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, error_code, record_request};

fn desk_views_analytics() -> Value {
    json!({
        "subject": {"type": "Staff", "id": "desk"},
        "action": {"name": "view_analytics"},
        "resource": {"type": "AnalyticsReport", "id": "monthly", "properties": {"organization": "st-marys"}}
    })
}

const CANDIDATE_ADDITIONS: &str = r#"
@id("no-vitals-for-nurses")
forbid (principal in Hms::Role::"nurse", action == Hms::Action::"read_vitals", resource);

@id("front-desk-views-analytics")
permit (principal in Hms::Role::"receptionist", action == Hms::Action::"view_analytics", resource);
"#;

/// The policies in force plus the candidate's two changes.
async fn candidate(app: &TestApp) -> (Value, i64) {
    let current: Value = app.get("/v1/policies").await.json().await.unwrap();
    let mut files = current["policies"].as_array().unwrap().clone();
    files.push(json!({"name": "candidate.cedar", "text": CANDIDATE_ADDITIONS}));
    (json!(files), current["version"].as_i64().unwrap())
}

fn change_of<'a>(report: &'a Value, staff: &str) -> &'a Value {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"]["id"] == staff)
        .unwrap_or_else(|| panic!("no change for {staff}: {report}"))
}

#[tokio::test]
async fn a_candidate_bundle_is_replayed_against_the_recorded_decisions() {
    for app in apps().await {
        let nurse_reads = record_request("nurse-heart", "read_vitals", "Vitals", "p1");
        assert!(app.evaluate(&nurse_reads).await, "{}", app.backend);
        assert!(
            app.evaluate(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
                .await
        );
        assert!(!app.evaluate(&desk_views_analytics()).await);
        let (files, version) = candidate(&app).await;

        let response = app
            .post(
                "/v1/policies/impact",
                &json!({"policies": files, "days": 7}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["replayed"], 3, "{report}");
        assert_eq!(report["drifted"], 0, "{report}");
        assert_eq!(
            (
                report["permit_to_deny"].clone(),
                report["deny_to_permit"].clone()
            ),
            (json!(1), json!(1))
        );
        let nurse = change_of(&report, "nurse-heart");
        assert_eq!(nurse["action"], "read_vitals");
        assert_eq!(nurse["recorded"], "permit");
        assert_eq!(nurse["candidate"]["allowed"], false);
        assert_eq!(
            nurse["candidate"]["because"],
            json!(["no-vitals-for-nurses"])
        );
        let desk = change_of(&report, "desk");
        assert_eq!(desk["resource"]["type"], "AnalyticsReport");
        assert_eq!(
            desk["candidate"]["because"],
            json!(["front-desk-views-analytics"])
        );
        let groups = report["by_subject_and_action"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "{report}");

        // Nothing was installed; the bundle in force changes nothing.
        let now: Value = app.get("/v1/policies").await.json().await.unwrap();
        assert_eq!(now["version"], version);
        let same: Value = app
            .post("/v1/policies/impact", &json!({"policies": now["policies"]}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                same["permit_to_deny"].clone(),
                same["deny_to_permit"].clone()
            ),
            (json!(0), json!(0))
        );
        assert!(same["replayed"].as_u64().unwrap() >= 3);
        let zero = app
            .post(
                "/v1/policies/impact",
                &json!({"policies": files, "days": 0}),
            )
            .await;
        assert_eq!(
            error_code(zero, StatusCode::BAD_REQUEST).await,
            "invalid_days"
        );
        let broken = json!({"policies": [{"name": "x.cedar", "text": "permit (principal, action, resource) when { nope };"}]});
        let broken = app.post("/v1/policies/impact", &broken).await;
        assert_eq!(broken.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // The same from the command line, failing as a pipeline gate would.
        let bundle = tempfile::tempdir().unwrap();
        std::fs::write(
            bundle.path().join("schema.cedarschema"),
            hms_policies::SCHEMA,
        )
        .unwrap();
        std::fs::write(
            bundle.path().join("bundle.json"),
            hms_policies::BUNDLE_OPTIONS,
        )
        .unwrap();
        for (i, file) in files.as_array().unwrap().iter().enumerate() {
            let name = format!("{i}-{}", file["name"].as_str().unwrap());
            std::fs::write(bundle.path().join(name), file["text"].as_str().unwrap()).unwrap();
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hms-ach"))
            .arg("--config")
            .arg(app.config_file())
            .args([
                "policy",
                "impact",
                "--tenant",
                "st-marys",
                "--days",
                "7",
                "--fail-on-change",
            ])
            .arg(bundle.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed["permit_to_deny"], 1, "{printed}");
        assert!(stderr.contains("1 permit→deny, 1 deny→permit"), "{stderr}");
    }
}
