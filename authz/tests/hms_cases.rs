//! Runs every HMS decision case under `policies/cases` against the base bundle.

// Tests fail by panicking; helpers outside `#[test]` functions do too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use hms_authz::cases;

#[test]
fn every_hms_decision_case_passes() {
    let bundle = common::hms_bundle();
    let outcomes =
        cases::run_dir(Path::new(hms_policies::CASES_DIR), &bundle).expect("case files load");
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.failure.as_ref().map(|f| {
                format!(
                    "{} / {}: {f}",
                    o.file.file_name().unwrap_or_default().to_string_lossy(),
                    o.name
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(outcomes.len() >= 80, "only {} cases", outcomes.len());
}

#[test]
fn every_role_and_rule_is_exercised() {
    let bundle = common::hms_bundle();
    let outcomes =
        cases::run_dir(Path::new(hms_policies::CASES_DIR), &bundle).expect("case files load");
    let names: Vec<String> = outcomes
        .iter()
        .map(|o| o.file.to_string_lossy().into_owned())
        .collect();
    for topic in [
        "roles-doctor",
        "roles-nurse",
        "roles-front-desk",
        "roles-laboratory",
        "roles-pharmacy",
        "roles-radiology",
        "roles-billing",
        "roles-admin",
        "break-glass",
        "tenant-boundary",
    ] {
        assert!(
            names.iter().any(|n| n.contains(topic)),
            "no cases for {topic}"
        );
    }
}

#[test]
fn a_wrong_expectation_is_reported_as_a_failure() {
    let dir = tempfile_dir();
    let case = serde_json::json!({
        "description": "deliberately wrong",
        "entities": [],
        "cases": [{
            "name": "unknown staff allowed?",
            "request": {"subject": {"type": "Staff", "id": "x"}, "action": {"name": "read_vitals"},
                        "resource": {"type": "Vitals", "id": "v", "properties": {"patient": {"type": "Patient", "id": "p"}}}},
            "expect": {"decision": "allow"}
        }]
    });
    std::fs::write(dir.join("wrong.json"), case.to_string()).unwrap();
    let outcomes = cases::run_dir(&dir, &common::hms_bundle()).unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(
        outcomes[0]
            .failure
            .as_deref()
            .unwrap()
            .contains("expected Allow, got deny")
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hms-cases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
