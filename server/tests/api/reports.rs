//! Compliance reports: each finds exactly the accesses it is about, in every
//! format, with the checkpoint it was computed from, and pulling one is recorded.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, error_code, record_request};

/// A month in miniature: care-team access, a refused snoop, a break-glass
/// access whose reason would be a formula in a spreadsheet, and unrelated work.
async fn activity(app: &TestApp) {
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
    let mut emergency = record_request("dr-bone", "read_lab_result", "LabResult", "p1");
    emergency["context"] =
        json!({"break_glass": true, "break_glass_reason": "=HYPERLINK(\"http://x\")", "mfa": true});
    assert!(app.evaluate(&emergency).await);
    assert!(
        app.evaluate(&record_request(
            "dr-bone",
            "read_lab_result",
            "LabResult",
            "p2"
        ))
        .await
    );
}

async fn report(app: &TestApp, query: &str) -> reqwest::Response {
    app.get(&format!("/reports/{query}")).await
}

async fn json_report(app: &TestApp, query: &str) -> Value {
    let response = report(app, query).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

fn column(report: &Value, name: &str) -> Vec<String> {
    let index = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == name)
        .unwrap();
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[index].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_report_finds_exactly_its_accesses_with_the_checkpoint_it_read() {
    for app in apps().await {
        activity(&app).await;

        let access = json_report(&app, "patient-access?patient=p1").await;
        assert_eq!(
            column(&access, "staff"),
            ["dr-heart", "dr-bone", "dr-bone"],
            "{}",
            app.backend
        );
        assert_eq!(column(&access, "decision"), ["permit", "deny", "permit"]);
        assert_eq!(column(&access, "break_glass"), ["no", "no", "yes"]);
        assert_eq!(column(&access, "roles"), ["doctor", "doctor", "doctor"]);
        assert_eq!(
            column(&access, "department"),
            ["cardiology", "orthopaedics", "orthopaedics"]
        );
        let checkpoints: Value = app
            .get("/ledger/checkpoints?limit=1000")
            .await
            .json()
            .await
            .unwrap();
        let notes: Vec<&str> = checkpoints["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["note"].as_str().unwrap())
            .collect();
        assert!(
            notes.contains(&access["source"]["checkpoint"].as_str().unwrap()),
            "the report names a published checkpoint"
        );
        let size = access["source"]["tree_size"].as_u64().unwrap();
        assert!(access["source"]["last_sequence"].as_u64().unwrap() < size);
        assert_eq!(access["parameters"]["patient"], "p1");
        assert!(
            access["generated_by"]
                .as_str()
                .unwrap()
                .starts_with("client:")
        );

        let only_orthopaedics =
            json_report(&app, "patient-access?patient=p1&department=orthopaedics").await;
        assert_eq!(column(&only_orthopaedics, "staff"), ["dr-bone", "dr-bone"]);

        let emergencies = json_report(&app, "break-glass").await;
        assert_eq!(column(&emergencies, "patient"), ["p1"]);
        assert_eq!(column(&emergencies, "reason"), ["=HYPERLINK(\"http://x\")"]);
        assert_eq!(column(&emergencies, "on_care_team_now"), ["no"]);

        let activity = json_report(&app, "user-activity?staff=dr-bone").await;
        assert_eq!(
            column(&activity, "event"),
            ["directory.staff.create", "decision", "decision", "decision"],
            "from being entered in the directory to each decision"
        );
        assert_eq!(column(&activity, "patient"), ["", "p1", "p1", "p2"]);

        let pulls: Value = app
            .get("/ledger/entries?kind=report.pull")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            pulls["entries"].as_array().unwrap().len(),
            4,
            "every pull is recorded"
        );
        assert_eq!(pulls["entries"][0]["resource"], "report:patient-access");
    }
}

#[tokio::test]
async fn csv_and_html_read_as_their_users_expect() {
    let app = crate::helpers::spawn("sqlite").await;
    activity(&app).await;
    let csv = report(&app, "break-glass?format=csv").await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("break-glass.csv")
    );
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "time,staff,roles,department,patient,action,resource,decision,reason,on_care_team_now,review,reviewed_by,review_comment,decision_id,sequence"
    );
    let row = lines.next().unwrap();
    assert!(
        row.contains("\"'=HYPERLINK(\"\"http://x\"\")\""),
        "formula neutralised: {row}"
    );
    assert!(text.contains("source.checkpoint"));

    let html = report(&app, "patient-access?patient=p1&format=html").await;
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let page = html.text().await.unwrap();
    assert!(page.starts_with("<!doctype html><html lang=\"en\">"));
    assert!(page.contains("<th scope=\"col\">staff</th>"));
    assert!(page.contains("<caption>3 rows</caption>"));
    assert!(
        !page.contains("<script"),
        "nothing recorded is rendered as markup"
    );
}

#[tokio::test]
async fn report_requests_that_cannot_be_answered_are_refused() {
    let app = crate::helpers::spawn("sqlite").await;
    assert_eq!(
        error_code(
            report(&app, "patient-access").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "missing_parameter"
    );
    assert_eq!(
        error_code(report(&app, "user-activity").await, StatusCode::BAD_REQUEST).await,
        "missing_parameter"
    );
    assert_eq!(
        error_code(report(&app, "gossip").await, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    assert_eq!(
        error_code(
            report(&app, "break-glass?format=xls").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_format"
    );
    assert_eq!(
        error_code(
            report(&app, "break-glass?from=yesterday").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_query"
    );
    let as_pdp = app
        .http
        .get(app.url("/reports/break-glass"))
        .bearer_auth(&app.pdp_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_pdp.status(),
        StatusCode::FORBIDDEN,
        "a PDP client reads no reports"
    );
}

#[tokio::test]
async fn account_and_integrity_reports_read_the_directory_and_the_whole_ledger() {
    for app in apps().await {
        let admin = crate::helpers::staff("it-1", "admin", "it", None);
        let mut promoted = crate::helpers::staff(
            "nurse-heart",
            "nurse",
            "cardiology",
            Some("nursing_licence"),
        );
        promoted["roles"] = json!(["charge_nurse", "nurse"]);
        let put = app
            .put("/v1/directory/staff", &json!([admin, promoted]))
            .await;
        assert_eq!(put.status(), StatusCode::OK);

        let privileged = json_report(&app, "privileged-accounts").await;
        assert_eq!(column(&privileged, "staff"), ["it-1"], "{}", app.backend);

        let changes = json_report(&app, "role-changes").await;
        let added = column(&changes, "roles_added");
        let subjects = column(&changes, "subject");
        let granted = subjects
            .iter()
            .zip(&added)
            .rfind(|(s, _)| *s == "nurse-heart")
            .unwrap();
        assert_eq!(granted.1, "charge_nurse");
        assert!(
            column(&changes, "event").contains(&"policy.install".to_owned()),
            "the base policy set"
        );

        let dormant = json_report(&app, "dormant-accounts").await;
        assert!(column(&dormant, "staff").contains(&"it-1".to_owned()));

        let integrity = json_report(&app, "ledger-integrity").await;
        let notes = integrity["notes"].as_array().unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n.as_str().unwrap().starts_with("Verdict: intact")),
            "{notes:?}"
        );
        assert!(
            !integrity["rows"].as_array().unwrap().is_empty(),
            "the checkpoints are listed"
        );
        assert!(
            integrity["source"]["entries_read"].as_u64().unwrap()
                >= integrity["source"]["tree_size"].as_u64().unwrap()
        );
    }
}

#[tokio::test]
async fn a_reviewer_marks_a_break_glass_access_and_the_report_shows_it() {
    for app in apps().await {
        activity(&app).await;
        let before = json_report(&app, "break-glass").await;
        assert_eq!(
            column(&before, "review"),
            ["not reviewed"],
            "{}",
            app.backend
        );
        let decision = column(&before, "decision_id").remove(0);

        let body = json!({"decision_id": decision, "verdict": "unjustified", "comment": "no emergency on the ward log"});
        let reviewed = app.post("/reports/break-glass/reviews", &body).await;
        assert_eq!(
            reviewed.status(),
            StatusCode::OK,
            "{}",
            reviewed.text().await.unwrap()
        );
        let after = json_report(&app, "break-glass").await;
        assert_eq!(column(&after, "review"), ["unjustified"]);
        assert_eq!(
            column(&after, "review_comment"),
            ["no emergency on the ward log"]
        );
        assert!(column(&after, "reviewed_by")[0].starts_with("client:"));
        let recorded: Value = app
            .get("/ledger/entries?kind=break_glass.review")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(recorded["entries"][0]["decision_id"], decision.as_str());

        let access = json_report(&app, "patient-access?patient=p1").await;
        let ordinary = column(&access, "decision_id").remove(0);
        let refused = app
            .post(
                "/reports/break-glass/reviews",
                &json!({"decision_id": ordinary, "verdict": "justified", "comment": "fine"}),
            )
            .await;
        assert_eq!(
            error_code(refused, StatusCode::BAD_REQUEST).await,
            "not_break_glass"
        );
        let unknown = app
            .post(
                "/reports/break-glass/reviews",
                &json!({"decision_id": "nope", "verdict": "justified", "comment": "fine"}),
            )
            .await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        let silent = app
            .post(
                "/reports/break-glass/reviews",
                &json!({"decision_id": decision, "verdict": "justified", "comment": " "}),
            )
            .await;
        assert_eq!(
            error_code(silent, StatusCode::BAD_REQUEST).await,
            "invalid_comment"
        );
        let bad_verdict = app
            .post(
                "/reports/break-glass/reviews",
                &json!({"decision_id": decision, "verdict": "meh", "comment": "x"}),
            )
            .await;
        assert_eq!(
            error_code(bad_verdict, StatusCode::BAD_REQUEST).await,
            "invalid_body"
        );
    }
}

#[tokio::test]
async fn the_accounting_of_disclosures_lists_releases_outside_treatment_payment_and_operations() {
    let app = crate::helpers::spawn("sqlite").await;
    for (purpose, recipient) in [("LEGAL", "County Court"), ("HPAYMT", "Acme Insurance")] {
        let mut release = record_request("dr-heart", "read_lab_result", "LabResult", "p1");
        release["context"] = json!({"purpose_of_use": purpose, "recipient": recipient, "recipient_address": "1 Main Street"});
        assert!(app.evaluate(&release).await, "{purpose}");
    }
    let accounting = json_report(&app, "disclosures?patient=p1").await;
    assert_eq!(column(&accounting, "recipient"), ["County Court"]);
    assert_eq!(column(&accounting, "purpose"), ["LEGAL"]);
    assert!(accounting["notes"][0].as_str().unwrap().contains("164.528"));
    assert_eq!(
        error_code(report(&app, "disclosures").await, StatusCode::BAD_REQUEST).await,
        "missing_parameter"
    );
}

#[tokio::test]
async fn scheduled_packs_are_written_to_their_folder_and_recorded() {
    use hms_ach::config::ScheduledPack;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::settings_for("sqlite", dir.path());
    let folder = dir.path().join("reports");
    let pack = |kinds: &[&str]| ScheduledPack {
        name: "weekly-review".into(),
        kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
        every_seconds: 1,
        format: "csv".into(),
        folder: folder.clone(),
        tenant: None,
    };
    assert!(
        pack(&["patient-access"]).check().is_err(),
        "a report that needs a patient cannot be scheduled"
    );
    assert!(pack(&["gossip"]).check().is_err());
    settings
        .reports
        .schedule
        .push(pack(&["break-glass", "failed-logins"]));
    let app = hms_ach::app::Application::build(settings).await.unwrap();
    let state = app.state().clone();
    state
        .tenants
        .create(
            &"st-marys".parse().unwrap(),
            "St Mary's",
            0,
            &crate::helpers::by_test(),
        )
        .await
        .unwrap();
    tokio::spawn(app.run());

    let tenant_folder = folder.join("st-marys");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let pack_folder = loop {
        let written = std::fs::read_dir(&tenant_folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("failed-logins.csv").exists());
        if let Some(path) = written {
            break path;
        }
        assert!(std::time::Instant::now() < deadline, "no pack written");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let name = pack_folder
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(name.starts_with("weekly-review-"), "{name}");
    let csv = std::fs::read_to_string(pack_folder.join("break-glass.csv")).unwrap();
    assert!(
        csv.starts_with("time,staff,roles,department,patient"),
        "{csv}"
    );
    let tenant = state.tenants.get("st-marys").await.unwrap().unwrap();
    let filter = hms_audit_ledger::store::EntryFilter {
        kind: Some("report.pull".into()),
        actor: Some("scheduler".into()),
        ..Default::default()
    };
    let pulls = tenant.ledger.entries(&filter, 10).await.unwrap();
    assert!(pulls.len() >= 2, "each scheduled pull is recorded");
}

#[tokio::test]
async fn the_pdf_renders_to_pages_that_say_what_the_report_says() {
    let app = crate::helpers::spawn("sqlite").await;
    activity(&app).await;
    let response = report(&app, "patient-access?patient=p1&format=pdf").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("patient-access.pdf");
    std::fs::write(&file, &bytes).unwrap();

    let text = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/deps.sh");
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("PATIENT ACCESS REPORT"), "{text}");
    assert!(
        text.contains("dr-heart") && text.contains("dr-bone"),
        "{text}"
    );
    assert!(text.contains("patient: p1"), "{text}");
    assert!(text.contains("page 1 of 1"), "{text}");

    let image = dir.path().join("page");
    let rendered = std::process::Command::new("pdftoppm")
        .args([
            "-png",
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            file.to_str().unwrap(),
            image.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(rendered.success());
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "png"))
        .expect("a page image");
    assert!(
        png.metadata().unwrap().len() > 1000,
        "the page is not blank"
    );
}

#[tokio::test]
async fn employee_patients_and_namesakes_are_found_from_the_directory() {
    for app in apps().await {
        let patient = json!([{"id": "p1", "care_team": ["dr-heart"], "employee_id": "nurse-heart", "family_name": "TEST", "address": "1 Main Street"}]);
        assert_eq!(
            app.put("/v1/directory/patients", &patient).await.status(),
            StatusCode::OK
        );
        let stored: Value = app
            .get("/v1/directory/patients/p1")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored["employee_id"], "nurse-heart", "{}", app.backend);
        assert!(
            app.evaluate(&record_request(
                "dr-heart",
                "read_lab_result",
                "LabResult",
                "p1"
            ))
            .await
        );

        let employees = json_report(&app, "employee-records").await;
        assert_eq!(column(&employees, "staff"), ["dr-heart"]);
        assert_eq!(column(&employees, "relation"), ["co-worker nurse-heart"]);
        let namesakes = json_report(&app, "same-family-name").await;
        assert_eq!(
            column(&namesakes, "staff"),
            ["dr-heart"],
            "the seeded staff are all called Test"
        );
        assert_eq!(column(&namesakes, "family_name"), ["TEST"]);
    }
}

#[tokio::test]
async fn a_look_at_a_neighbours_record_shows_in_the_same_address_report() {
    for app in apps().await {
        // The identity provider sends the person's home address.
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let (_, token) = tenant
            .create_client(
                "entra",
                &[hms_governance::credentials::Scope::Scim],
                &crate::helpers::by_test(),
            )
            .await
            .unwrap();
        let token = token.expose().to_owned();
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "E-4001@st-marys.example",
            "addresses": [
                {"type": "work", "formatted": "1 Hospital Road"},
                {"type": "home", "streetAddress": "12 Elm Street", "locality": "Springfield"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E-4001"}
        });
        let created = app
            .http
            .post(app.url("/scim/v2/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(user.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let member: Value = app
            .get("/v1/directory/staff/E-4001")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(member["address"], "12 Elm Street, Springfield");

        let mut patient: Value = app
            .get("/v1/directory/patients/p2")
            .await
            .json()
            .await
            .unwrap();
        patient["address"] = json!("12, ELM STREET, Springfield");
        patient
            .as_object_mut()
            .unwrap()
            .remove("active_encounter_departments");
        let stored = app.put("/v1/directory/patients", &json!([patient])).await;
        assert_eq!(stored.status(), StatusCode::OK);
        let look = json!({
            "subject": { "type": "Staff", "id": "E-4001" },
            "action": { "name": "read_demographics" },
            "resource": { "type": "Patient", "id": "p2" }
        });
        assert!(!app.evaluate(&look).await, "refused, and recorded");
        app.evaluate(&record_request(
            "dr-heart",
            "read_lab_result",
            "LabResult",
            "p1",
        ))
        .await;

        let report = json_report(&app, "same-address").await;
        assert_eq!(column(&report, "staff"), ["E-4001"], "{report}");
        assert_eq!(column(&report, "patient"), ["p2"]);
        assert_eq!(column(&report, "decision"), ["deny"]);
    }
}

#[tokio::test]
async fn a_pack_read_in_one_pass_gives_each_report_what_it_gives_alone() {
    use hms_compliance_reports::ReportKind;
    use hms_governance::reporting::{ReportScope, pull_pack};
    for app in apps().await {
        activity(&app).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let mid = hms_audit_ledger::Timestamp::now();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        activity(&app).await;

        let tenant = app.state.tenants.get(&app.tenant).await.unwrap().unwrap();
        let kinds: Vec<ReportKind> = [
            "break-glass",
            "vip-access",
            "outside-care-team",
            "after-hours",
            "denied-spikes",
            "unusual-volume",
            "failed-logins",
            "role-changes",
            "dormant-accounts",
        ]
        .into_iter()
        .map(|name| ReportKind::parse(name).unwrap())
        .collect();
        for from in [None, Some(mid)] {
            let scope = ReportScope {
                from,
                ..ReportScope::default()
            };
            let by = hms_governance::audit::Provenance::local(hms_governance::audit::Actor::Cli);
            let pack = pull_pack(&tenant, &kinds, scope, "json", &by, |_| {})
                .await
                .unwrap();
            assert_eq!(pack.len(), kinds.len());
            for report in pack {
                let since = from.map(|t| format!("?from={t}")).unwrap_or_default();
                let alone = json_report(&app, &format!("{}{since}", report.kind.name())).await;
                assert_eq!(
                    serde_json::to_value(&report.rows).unwrap(),
                    alone["rows"],
                    "{} from {from:?} on {}",
                    report.kind.name(),
                    app.backend
                );
                assert_eq!(
                    json!(report.source.first_sequence),
                    alone["source"]["first_sequence"]
                );
            }
        }
        let since_mid = json_report(&app, &format!("break-glass?from={mid}")).await;
        let all = json_report(&app, "break-glass").await;
        assert_eq!(
            (
                since_mid["rows"].as_array().unwrap().len(),
                all["rows"].as_array().unwrap().len()
            ),
            (1, 2),
            "the range starts where it says on {}",
            app.backend
        );
    }
}
