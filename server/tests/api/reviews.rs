//! Access-review campaigns: the security team creates and closes them, a
//! reviewer signed in through the IdP decides, and revocations reach the PDP.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, error_code, record_request, staff};
use crate::hr::{HrSystem, event, notification_sink};
use crate::login::session_for;
use hms_scim::hr::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};

/// The chief of staff reviews; the receptionist's access is reviewed in a second campaign.
async fn seed_reviewer(app: &TestApp) {
    let chief = staff("chief", "admin", "administration", None);
    assert_eq!(
        app.put("/v1/directory/staff", &json!([chief]))
            .await
            .status(),
        StatusCode::OK
    );
}

async fn decide(app: &TestApp, token: &str, campaign: &str, decisions: Value) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/v1/reviews/campaigns/{campaign}/decisions")))
        .bearer_auth(token)
        .json(&json!({ "decisions": decisions }))
        .send()
        .await
        .unwrap()
}

/// The item number of `staff`'s `role` in a campaign answer.
fn item_of(campaign: &Value, staff: &str, role: &str) -> i64 {
    campaign["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["staff_id"] == staff && i["entitlement"] == role)
        .unwrap_or_else(|| panic!("no item for {staff} {role}: {campaign}"))["item"]
        .as_i64()
        .unwrap()
}

/// Who reviews `staff`'s first item in a campaign answer.
fn item_reviewer(campaign: &Value, staff: &str) -> String {
    campaign["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["staff_id"] == staff)
        .unwrap_or_else(|| panic!("no item for {staff}: {campaign}"))["reviewer"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn ledger_count(app: &TestApp, kind: &str) -> usize {
    let entries: Value = app
        .get(&format!("/ledger/entries?kind={kind}"))
        .await
        .json()
        .await
        .unwrap();
    entries["entries"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_reviewer_revokes_and_certifies_and_the_closed_campaign_takes_effect_at_the_pdp() {
    for app in apps().await {
        seed_reviewer(&app).await;
        let lab = record_request("dr-heart", "read_lab_result", "LabResult", "p1");
        assert!(app.evaluate(&lab).await, "the doctor uses their role");
        let spec = json!({
            "id": "q3-cardiology", "name": "Q3 cardiology access", "due_at": "2030-10-01",
            "scope": {"departments": ["cardiology"]}, "fallback_reviewer": "chief",
        });
        let created = app.post("/v1/reviews/campaigns", &spec).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{}", app.backend);
        let campaign: Value = created.json().await.unwrap();
        // Each person's role and professional licence.
        assert_eq!(campaign["progress"]["items"], 4, "{campaign}");
        assert_eq!(campaign["progress"]["reviewers"][0]["reviewer"], "chief");
        let nurse_item = item_of(&campaign, "nurse-heart", "nurse");
        let doctor_item = item_of(&campaign, "dr-heart", "doctor");
        assert_eq!(campaign["items"][0]["granted_by"], "admin");
        let last_used = |item: i64| campaign["items"][(item - 1) as usize]["last_used_at"].clone();
        assert!(last_used(doctor_item).is_string(), "{campaign}");
        assert!(
            last_used(nurse_item).is_null(),
            "the nurse never used theirs"
        );

        let chief = session_for(&app, "chief").await;
        let mine: Value = app
            .http
            .get(app.url("/v1/reviews/mine"))
            .bearer_auth(&chief)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(mine["items"].as_array().unwrap().len(), 4, "{mine}");
        let asked: Value = app
            .get("/ledger/entries?kind=decision&subject=chief")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            asked["entries"][0]["action"], "review_access",
            "the PDP decides who reviews"
        );
        assert_eq!(asked["entries"][0]["outcome"], "permit");

        // A clinical role is not revoked without a reason, and nothing is written.
        let silent = decide(
            &app,
            &chief,
            "q3-cardiology",
            json!([
                {"item": doctor_item, "decision": "certify"},
                {"item": nurse_item, "decision": "revoke"},
            ]),
        )
        .await;
        assert_eq!(
            error_code(silent, StatusCode::BAD_REQUEST).await,
            "invalid_review"
        );
        assert_eq!(ledger_count(&app, "review.decision").await, 0);

        // Only the assigned reviewer decides.
        let doctor = session_for(&app, "dr-heart").await;
        let not_theirs = decide(
            &app,
            &doctor,
            "q3-cardiology",
            json!([
                {"item": doctor_item, "decision": "certify"},
            ]),
        )
        .await;
        assert_eq!(not_theirs.status(), StatusCode::FORBIDDEN);
        let with_admin_key = app
            .post(
                "/v1/reviews/campaigns/q3-cardiology/decisions",
                &json!({"decisions": [{"item": doctor_item, "decision": "certify"}]}),
            )
            .await;
        assert_eq!(with_admin_key.status(), StatusCode::UNAUTHORIZED);

        let decided = decide(
            &app,
            &chief,
            "q3-cardiology",
            json!([
                {"item": nurse_item, "decision": "revoke", "comment": "moved to the day clinic"},
                {"item": doctor_item, "decision": "certify"},
            ]),
        )
        .await;
        assert_eq!(
            decided.status(),
            StatusCode::OK,
            "{}",
            decided.text().await.unwrap()
        );
        let vitals = record_request("nurse-heart", "read_vitals", "Vitals", "p1");
        assert!(
            app.evaluate(&vitals).await,
            "revocations wait for the close ({})",
            app.backend
        );

        let closed = app
            .post("/v1/reviews/campaigns/q3-cardiology/close", &json!({}))
            .await;
        assert_eq!(closed.status(), StatusCode::OK);
        let closed: Value = closed.json().await.unwrap();
        assert_eq!(
            closed["closed"],
            json!({"certified": 1, "revoked": 1, "escalated": 2, "applied": 1})
        );
        assert!(!app.evaluate(&vitals).await, "the revoked nurse is denied");
        assert!(
            app.evaluate(&lab).await,
            "the certified doctor keeps access"
        );
        let nurse: Value = app
            .get("/v1/directory/staff/nurse-heart")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(nurse["roles"], json!([]));

        assert_eq!(ledger_count(&app, "review.decision").await, 2);
        assert_eq!(ledger_count(&app, "review.revocation.apply").await, 1);
        assert_eq!(ledger_count(&app, "review.campaign.close").await, 1);
        let evidence: Value = app
            .get("/v1/reviews/campaigns/q3-cardiology")
            .await
            .json()
            .await
            .unwrap();
        let revoked = &evidence["items"][(nurse_item - 1) as usize];
        assert_eq!(revoked["outcome"], "revoked");
        assert_eq!(revoked["comment"], "moved to the day clinic");
        assert_eq!(revoked["decided_by"], "staff:chief");
        assert!(revoked["applied_at"].is_string());

        let late = decide(
            &app,
            &chief,
            "q3-cardiology",
            json!([
                {"item": doctor_item, "decision": "revoke", "comment": "too late"},
            ]),
        )
        .await;
        assert_eq!(late.status(), StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn undecided_items_follow_the_overdue_rule_and_are_never_certified_silently() {
    for app in apps().await {
        seed_reviewer(&app).await;
        let revoke = json!({
            "id": "front-desk", "name": "Front desk", "due_at": "2020-01-01",
            "scope": {"roles": ["receptionist"]}, "reviewer": "chief", "overdue": "revoke",
        });
        assert_eq!(
            app.post("/v1/reviews/campaigns", &revoke).await.status(),
            StatusCode::CREATED
        );
        let escalate = json!({
            "id": "orthopaedics", "name": "Orthopaedics", "due_at": "2020-01-01",
            "scope": {"departments": ["orthopaedics"]}, "reviewer": "chief",
            "fallback_reviewer": "dr-heart",
        });
        assert_eq!(
            app.post("/v1/reviews/campaigns", &escalate).await.status(),
            StatusCode::CREATED
        );
        let reminders: Value = app.get("/v1/reviews/overdue").await.json().await.unwrap();
        assert_eq!(
            reminders["overdue"].as_array().unwrap().len(),
            2,
            "{reminders}"
        );
        assert_eq!(reminders["overdue"][0]["reviewer"], "chief");

        // Reminders go out through the tenant's hook, signed like its HR webhooks.
        let unhooked: Value = app
            .post("/v1/reviews/reminders", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(unhooked["reminders"][0]["delivery"], "no_hook");
        let hr = HrSystem::connect(&app).await;
        let (url, mut received) = notification_sink().await;
        let settings = json!({ "job_roles": [], "notify_url": url });
        assert_eq!(
            app.put("/v1/provisioning/hr", &settings).await.status(),
            StatusCode::OK
        );
        let sent: Value = app
            .post("/v1/reviews/reminders", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(sent["reminders"][1]["delivery"], "sent", "{sent}");
        let (headers, body) = received.recv().await.unwrap();
        let notice: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(notice["type"], "access_review_reminder");
        assert_eq!(notice["reviewer"], "chief");
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        verify(
            &[hr.secret.as_bytes().to_vec()],
            header(SIGNATURE_HEADER),
            header(TIMESTAMP_HEADER),
            body.as_bytes(),
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
        .unwrap();
        assert_eq!(ledger_count(&app, "review.reminder").await, 4);

        let closed: Value = app
            .post("/v1/reviews/campaigns/front-desk/close", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(closed["closed"]["revoked"], 1, "{closed}");
        let desk: Value = app
            .get("/v1/directory/staff/desk")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(desk["roles"], json!([]));

        let closed: Value = app
            .post("/v1/reviews/campaigns/orthopaedics/close", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(closed["closed"]["escalated"], 2, "{closed}");
        let ortho: Value = app
            .get("/v1/reviews/campaigns/orthopaedics")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(ortho["items"][0]["outcome"], "escalated");
        assert_eq!(ortho["items"][0]["reviewer"], "dr-heart");
        assert_eq!(ortho["items"][0]["decided_by"], "system:overdue");
        let bone = record_request("dr-bone", "read_lab_result", "LabResult", "p2");
        assert!(app.evaluate(&bone).await, "escalation keeps the access");
        assert_eq!(ledger_count(&app, "review.overdue").await, 3);
    }
}

/// Maps HR job code `RN` to the nurse role and hires `employee` through HR.
async fn hire_nurse(app: &TestApp, employee: Value) -> HrSystem<'_> {
    let hr = HrSystem::connect(app).await;
    let settings = json!({ "job_roles": [{ "job_code": "RN", "roles": ["nurse"] }] });
    assert_eq!(
        app.put("/v1/provisioning/hr", &settings).await.status(),
        StatusCode::OK
    );
    let hire = event("evt-1", "hire", "2026-01-05T08:00:00Z", employee);
    assert_eq!(hr.deliver(&hire).await["status"], "applied");
    hr
}

#[tokio::test]
async fn each_person_is_reviewed_by_the_manager_hr_names_else_by_the_fallback() {
    for app in apps().await {
        seed_reviewer(&app).await;
        hire_nurse(
            &app,
            json!({"id": "E-3001", "given_name": "Ola", "family_name": "Berg",
                   "job_code": "RN", "department": "Cardiology", "manager": "chief"}),
        )
        .await;
        let spec = json!({
            "id": "nurses", "name": "Nurses", "due_at": "2030-01-01",
            "scope": {"roles": ["nurse"]}, "fallback_reviewer": "dr-heart",
        });
        let created = app.post("/v1/reviews/campaigns", &spec).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{}", app.backend);
        let campaign: Value = created.json().await.unwrap();
        assert_eq!(item_reviewer(&campaign, "E-3001"), "chief");
        assert_eq!(item_reviewer(&campaign, "nurse-heart"), "dr-heart");
        assert_eq!(campaign["items"][0]["granted_by"], "hr", "{campaign}");
    }
}

#[tokio::test]
async fn campaigns_that_cannot_be_run_are_refused_with_nothing_written() {
    for app in apps().await {
        let stranger =
            json!({"id": "c1", "name": "x", "due_at": "2030-01-01", "reviewer": "chief"});
        let refused = app.post("/v1/reviews/campaigns", &stranger).await;
        assert_eq!(
            error_code(refused, StatusCode::BAD_REQUEST).await,
            "invalid_review"
        );
        seed_reviewer(&app).await;
        let nobody = json!({"id": "c1", "name": "No reviewers", "due_at": "2030-01-01"});
        let refused = app.post("/v1/reviews/campaigns", &nobody).await;
        assert_eq!(
            error_code(refused, StatusCode::BAD_REQUEST).await,
            "invalid_review"
        );
        let listed: Value = app.get("/v1/reviews/campaigns").await.json().await.unwrap();
        assert_eq!(listed["campaigns"], json!([]));

        let bad_date = json!({"id": "c1", "name": "x", "due_at": "soon", "reviewer": "chief"});
        let refused = app.post("/v1/reviews/campaigns", &bad_date).await;
        assert_eq!(
            error_code(refused, StatusCode::BAD_REQUEST).await,
            "invalid_review"
        );
        let unknown_field =
            json!({"id": "c1", "name": "x", "due_at": "2030-01-01", "reviewers": "x"});
        let refused = app.post("/v1/reviews/campaigns", &unknown_field).await;
        assert_eq!(
            error_code(refused, StatusCode::BAD_REQUEST).await,
            "invalid_body"
        );

        // Nobody reviews their own access: the chief's goes to the fallback reviewer.
        let ok = json!({"id": "c1", "name": "x", "due_at": "2030-01-01", "reviewer": "chief", "fallback_reviewer": "dr-heart"});
        let created: Value = app
            .post("/v1/reviews/campaigns", &ok)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(item_reviewer(&created, "chief"), "dr-heart");
        assert_eq!(item_reviewer(&created, "desk"), "chief");
        assert_eq!(
            app.post("/v1/reviews/campaigns", &ok).await.status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            app.get("/v1/reviews/campaigns/nope").await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.post("/v1/reviews/campaigns/nope/close", &json!({}))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
    }
}

/// `staff`'s item of `kind` in a campaign answer.
fn item_of_kind<'a>(campaign: &'a Value, staff: &str, kind: &str) -> &'a Value {
    campaign["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["staff_id"] == staff && i["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} item for {staff}: {campaign}"))
}

/// A staff member as the directory API shows them.
async fn directory_entry(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/directory/staff/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

/// A SCIM request with a provisioning client's token; the resource it answers.
async fn scim(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let response = app
        .http
        .request(method, app.url(&format!("/scim/v2{path}")))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn group_memberships_and_credentials_are_reviewed_and_stay_revoked_whatever_the_feeds_send() {
    for app in apps().await {
        seed_reviewer(&app).await;
        // A nurse whose role comes from an Entra group, and one hired through
        // HR whose licence HR keeps up to date.
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
        let mapping = json!({ "mappings": [{ "group": "Ward Nurses", "roles": ["nurse"] }] });
        assert_eq!(
            app.put("/v1/provisioning/group-roles", &mapping)
                .await
                .status(),
            StatusCode::OK
        );
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "E-2001@st-marys.example", "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                { "employeeNumber": "E-2001", "department": "Cardiology" }
        });
        scim(&app, &token, reqwest::Method::POST, "/Users", user).await;
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Ward Nurses", "members": [{ "value": "E-2001" }]
        });
        let group = scim(&app, &token, reqwest::Method::POST, "/Groups", group).await;
        let group_id = group["id"].as_str().unwrap().to_owned();
        let hr = hire_nurse(
            &app,
            json!({"id": "E-3001", "job_code": "RN", "department": "Cardiology"}),
        )
        .await;
        let licence = |id: &str| {
            let mut update = event(
                id,
                "credential_update",
                "2026-01-05T08:00:00Z",
                json!({"id": "E-3001"}),
            );
            update["credential"] = json!({ "type": "nursing_licence", "number": "RN-998", "status": "active", "expires": "2030-01-01" });
            update
        };
        hr.deliver(&licence("evt-2")).await;
        let vitals = |staff: &str| record_request(staff, "read_vitals", "Vitals", "p1");
        // Unlicensed, E-2001 can still read demographics as a nurse.
        let demographics = json!({
            "subject": { "type": "Staff", "id": "E-2001" },
            "action": { "name": "read_demographics" },
            "resource": { "type": "Patient", "id": "p1" }
        });
        assert!(app.evaluate(&demographics).await, "{}", app.backend);
        assert!(app.evaluate(&vitals("E-3001")).await, "{}", app.backend);

        let spec = json!({
            "id": "ward", "name": "Ward access", "due_at": "2030-01-01",
            "scope": {"staff": ["E-2001", "E-3001"]}, "reviewer": "chief",
        });
        let campaign: Value = app
            .post("/v1/reviews/campaigns", &spec)
            .await
            .json()
            .await
            .unwrap();
        let kinds: Vec<(&str, &str)> = campaign["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["staff_id"].as_str().unwrap(), i["kind"].as_str().unwrap()))
            .collect();
        // The group-granted role is reviewed as the group membership.
        assert_eq!(
            kinds,
            [
                ("E-2001", "group"),
                ("E-3001", "role"),
                ("E-3001", "credential")
            ],
            "{campaign}"
        );
        let group_item = item_of_kind(&campaign, "E-2001", "group");
        assert_eq!(group_item["entitlement"], group_id.as_str());
        assert_eq!(
            group_item["description"],
            "group \"Ward Nurses\" (grants nurse)"
        );
        assert_eq!(group_item["granted_by"], "scim");
        let credential_item = item_of_kind(&campaign, "E-3001", "credential");
        assert_eq!(credential_item["entitlement"], "nursing_licence");
        assert_eq!(credential_item["granted_by"], "hr");
        let (group_item, credential_item) =
            (group_item["item"].clone(), credential_item["item"].clone());

        let chief = session_for(&app, "chief").await;
        let unexplained = decide(
            &app,
            &chief,
            "ward",
            json!([{"item": group_item, "decision": "revoke"}]),
        )
        .await;
        assert_eq!(
            error_code(unexplained, StatusCode::BAD_REQUEST).await,
            "invalid_review"
        );
        let decided = decide(&app, &chief, "ward", json!([
            {"item": group_item, "decision": "revoke", "comment": "left the ward"},
            {"item": credential_item, "decision": "revoke", "comment": "licence under investigation"},
        ])).await;
        assert_eq!(decided.status(), StatusCode::OK);
        let closed: Value = app
            .post("/v1/reviews/campaigns/ward/close", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(closed["closed"]["applied"], 2, "{closed}");
        assert!(
            !app.evaluate(&demographics).await,
            "the group no longer grants nurse"
        );
        assert!(
            !app.evaluate(&vitals("E-3001")).await,
            "the suspended licence gates clinical work"
        );
        assert_eq!(
            directory_entry(&app, "E-3001").await["credentials"][0]["status"],
            "suspended"
        );

        // The feeds send the old state again; the revocations hold.
        assert_eq!(
            app.put("/v1/provisioning/group-roles", &mapping)
                .await
                .status(),
            StatusCode::OK
        );
        scim(
            &app,
            &token,
            reqwest::Method::PATCH,
            &format!("/Groups/{group_id}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": "E-2001"}]}]
            }),
        )
        .await;
        hr.deliver(&licence("evt-3")).await;
        assert!(!app.evaluate(&demographics).await, "{}", app.backend);
        assert!(!app.evaluate(&vitals("E-3001")).await, "{}", app.backend);
        assert_eq!(directory_entry(&app, "E-2001").await["roles"], json!([]));
        let withheld: Value = app
            .get("/ledger/entries?kind=directory.staff.update&subject=E-3001")
            .await
            .json()
            .await
            .unwrap();
        let last = withheld["entries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            last["details"]["withheld_by_review"],
            json!(["credential:nursing_licence"]),
            "{last}"
        );

        // The evidence shows each revocation applied and no longer in force.
        let evidence: Value = app
            .get("/reports/access-reviews?campaign=ward&format=json")
            .await
            .json()
            .await
            .unwrap();
        let rows = evidence["rows"].as_array().unwrap();
        let columns: Vec<&str> = evidence["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let at = |name: &str| columns.iter().position(|c| *c == name).unwrap();
        let revoked: Vec<&Value> = rows
            .iter()
            .filter(|row| row[at("decision")] == "revoke")
            .collect();
        assert_eq!(revoked.len(), 2, "{evidence}");
        for row in revoked {
            assert_eq!(row[at("still_in_force")], "no", "{row}");
            assert!(
                row[at("revocation_sequence")]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{row}"
            );
        }

        // An administrator's explicit grant lifts the hold.
        let mut member = directory_entry(&app, "E-3001").await;
        member["credentials"][0]["status"] = json!("active");
        let lifted = app.put("/v1/directory/staff", &json!([member])).await;
        assert_eq!(
            lifted.status(),
            StatusCode::OK,
            "{}",
            lifted.text().await.unwrap()
        );
        assert!(app.evaluate(&vitals("E-3001")).await, "{}", app.backend);
    }
}

#[tokio::test]
async fn presets_review_privileged_roles_and_recent_break_glass_users() {
    for app in apps().await {
        seed_reviewer(&app).await;
        let privileged = json!({
            "id": "admins", "name": "Administrators", "due_at": "2030-01-01",
            "scope": {"preset": "privileged"}, "fallback_reviewer": "dr-heart",
        });
        let campaign: Value = app
            .post("/v1/reviews/campaigns", &privileged)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(campaign["campaign"]["scope"]["roles"], json!(["admin"]));
        let items: Vec<(&str, &str)> = campaign["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["staff_id"].as_str().unwrap(),
                    i["entitlement"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(items, [("chief", "admin")], "{campaign}");

        let break_glass = json!({
            "id": "emergencies", "name": "Break-glass users", "due_at": "2030-01-01",
            "scope": {"preset": "break_glass"}, "reviewer": "chief",
        });
        let nobody = app.post("/v1/reviews/campaigns", &break_glass).await;
        assert_eq!(
            error_code(nobody, StatusCode::BAD_REQUEST).await,
            "invalid_review"
        );
        let mut emergency = record_request("dr-bone", "read_lab_result", "LabResult", "p1");
        emergency["context"] =
            json!({"break_glass": true, "break_glass_reason": "arrest", "mfa": true});
        assert!(app.evaluate(&emergency).await);
        let campaign: Value = app
            .post("/v1/reviews/campaigns", &break_glass)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(campaign["campaign"]["scope"]["staff"], json!(["dr-bone"]));
        assert_eq!(campaign["campaign"]["scope"]["preset"], "break_glass");
        let kinds: Vec<&str> = campaign["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["role", "credential"], "{campaign}");
    }
}

#[tokio::test]
async fn the_tenants_rules_apply_to_campaigns_that_set_none() {
    for app in apps().await {
        seed_reviewer(&app).await;
        let defaults: Value = app.get("/v1/reviews/settings").await.json().await.unwrap();
        assert_eq!(
            defaults,
            json!({"overdue": "escalate", "apply_mode": "on_close"})
        );
        for bad in [
            json!({"overdue": "ignore", "apply_mode": "on_close"}),
            json!({"overdue": "revoke", "apply_mode": "immediate", "colour": "red"}),
        ] {
            let refused = app.put("/v1/reviews/settings", &bad).await;
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let strict = json!({"overdue": "revoke", "apply_mode": "immediate"});
        assert_eq!(
            app.put("/v1/reviews/settings", &strict).await.status(),
            StatusCode::OK
        );
        assert_eq!(ledger_count(&app, "review.settings.update").await, 1);

        let spec = json!({
            "id": "desk", "name": "Front desk", "due_at": "2030-01-01",
            "scope": {"staff": ["desk"]}, "reviewer": "chief",
        });
        let campaign: Value = app
            .post("/v1/reviews/campaigns", &spec)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(campaign["campaign"]["overdue"], "revoke", "{campaign}");
        assert_eq!(campaign["campaign"]["apply_mode"], "immediate");
        let chief = session_for(&app, "chief").await;
        let item = item_of(&campaign, "desk", "receptionist");
        let decided = decide(
            &app,
            &chief,
            "desk",
            json!([{"item": item, "decision": "revoke"}]),
        )
        .await;
        assert_eq!(decided.status(), StatusCode::OK);
        let desk: Value = app
            .get("/v1/directory/staff/desk")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            desk["roles"],
            json!([]),
            "revoked at once, before the close"
        );
    }
}

#[tokio::test]
async fn past_the_due_date_undecided_items_are_revoked_or_handed_to_the_fallback_reviewer() {
    for app in apps().await {
        seed_reviewer(&app).await;
        let revoke = json!({
            "id": "front-desk", "name": "Front desk", "due_at": "2020-01-01",
            "scope": {"roles": ["receptionist"]}, "reviewer": "chief",
            "overdue": "revoke", "apply_mode": "immediate",
        });
        let escalate = json!({
            "id": "orthopaedics", "name": "Orthopaedics", "due_at": "2020-01-01",
            "scope": {"departments": ["orthopaedics"]}, "reviewer": "chief",
            "fallback_reviewer": "dr-heart", "overdue": "escalate",
        });
        for spec in [&revoke, &escalate] {
            let created = app.post("/v1/reviews/campaigns", spec).await;
            assert_eq!(created.status(), StatusCode::CREATED);
        }
        let swept: Value = app
            .post("/v1/reviews/overdue", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        // The receptionist's role; the orthopaedic surgeon's role and licence.
        assert_eq!(swept["items_changed"], 3, "{swept}");
        let again: Value = app
            .post("/v1/reviews/overdue", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(again["items_changed"], 0, "nothing is applied twice");

        let desk: Value = app
            .get("/v1/directory/staff/desk")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(desk["roles"], json!([]), "revoked at the due date");
        let front: Value = app
            .get("/v1/reviews/campaigns/front-desk")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(front["campaign"]["status"], "open");
        assert_eq!(front["items"][0]["outcome"], "revoked");
        assert_eq!(front["items"][0]["decided_by"], "system:overdue");

        // The fallback reviewer can still decide what was escalated to them.
        let ortho: Value = app
            .get("/v1/reviews/campaigns/orthopaedics")
            .await
            .json()
            .await
            .unwrap();
        assert!(
            ortho["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["reviewer"] == "dr-heart" && i["outcome"] == "pending"),
            "{ortho}"
        );
        let fallback = session_for(&app, "dr-heart").await;
        let decided = decide(
            &app,
            &fallback,
            "orthopaedics",
            json!([{"item": 1, "decision": "certify"}, {"item": 2, "decision": "certify"}]),
        )
        .await;
        assert_eq!(decided.status(), StatusCode::OK);
        let closed: Value = app
            .post("/v1/reviews/campaigns/orthopaedics/close", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(closed["closed"]["certified"], 2, "{closed}");
        assert_eq!(closed["closed"]["escalated"], 0, "{closed}");
        let entries: Value = app
            .get("/ledger/entries?kind=review.overdue")
            .await
            .json()
            .await
            .unwrap();
        let entries = entries["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        assert!(entries.iter().all(|e| e["details"]["at"] == "due"));
    }
}
