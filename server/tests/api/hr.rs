//! Signed HR webhooks: joiner, mover, leaver checked at the PDP; signatures,
//! replays, duplicates and out-of-order deliveries; the manager notification.

use axum::http::HeaderMap;
use hms_scim::hr::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{TestApp, apps, record_request};

/// An HR platform holding the tenant's webhook secret.
pub struct HrSystem<'a> {
    app: &'a TestApp,
    pub secret: String,
}

impl<'a> HrSystem<'a> {
    pub async fn connect(app: &'a TestApp) -> Self {
        let rotated: Value = app
            .post("/v1/provisioning/hr/secret", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        let secret = rotated["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("hrsec_"));
        Self { app, secret }
    }

    pub async fn deliver_signed(
        &self,
        body: &str,
        timestamp: i64,
        secret: &str,
    ) -> reqwest::Response {
        self.app
            .http
            .post(self.app.url("/hr/events"))
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(secret.as_bytes(), timestamp, body.as_bytes()),
            )
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub async fn deliver(&self, event: &Value) -> Value {
        let response = self
            .deliver_signed(&event.to_string(), now(), &self.secret)
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "{event} on {}: {body}",
            self.app.backend
        );
        body
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn event(id: &str, kind: &str, effective_at: &str, employee: Value) -> Value {
    json!({ "id": id, "type": kind, "effective_at": effective_at, "employee": employee })
}

/// A receiver for manager notifications, on loopback.
pub async fn notification_sink() -> (String, mpsc::UnboundedReceiver<(HeaderMap, String)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, rx)
}

async fn staff(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/directory/staff/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_nurse_joins_moves_and_leaves_through_hr_events() {
    for app in apps().await {
        let hr = HrSystem::connect(&app).await;
        let (notify_url, mut notifications) = notification_sink().await;
        let settings = json!({ "job_roles": [{ "job_code": "RN", "roles": ["nurse"] }], "notify_url": notify_url });
        assert_eq!(
            app.put("/v1/provisioning/hr", &settings).await.status(),
            StatusCode::OK
        );
        let vitals = record_request("E-3001", "read_vitals", "Vitals", "p1");

        let hire = event(
            "evt-1",
            "hire",
            "2026-01-05T08:00:00Z",
            json!({
                "id": "E-3001", "given_name": "Ola", "family_name": "Berg", "emails": ["ola.berg@st-marys.example"],
                "job_code": "RN", "department": "Cardiology", "location": "main", "manager": "M-7"
            }),
        );
        assert_eq!(hr.deliver(&hire).await["status"], "applied");
        assert!(
            !app.evaluate(&vitals).await,
            "clinical work waits for the licence"
        );
        let mut licence = event(
            "evt-2",
            "credential_update",
            "2026-01-05T08:00:00Z",
            json!({ "id": "E-3001" }),
        );
        licence["credential"] = json!({ "type": "nursing_licence", "number": "RN-998", "status": "active", "expires": "2030-01-01" });
        hr.deliver(&licence).await;
        assert!(
            app.evaluate(&vitals).await,
            "{}: hired nurse of cardiology",
            app.backend
        );
        let member = staff(&app, "E-3001").await;
        assert_eq!(member["roles"], json!(["nurse"]));
        assert_eq!(member["display_name"], "Ola Berg");

        // The manager hears of the hire, signed with the tenant's secret.
        let (headers, body) = notifications.recv().await.unwrap();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        verify(
            &[hr.secret.as_bytes().to_vec()],
            header(SIGNATURE_HEADER),
            header(TIMESTAMP_HEADER),
            body.as_bytes(),
            now(),
        )
        .unwrap();
        let notice: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (notice["event_type"].as_str(), notice["manager"].as_str()),
            (Some("hire"), Some("M-7"))
        );

        // Mover.
        hr.deliver(&event(
            "evt-3",
            "transfer",
            "2026-03-01T08:00:00Z",
            json!({ "id": "E-3001", "department": "Orthopaedics" }),
        ))
        .await;
        assert!(!app.evaluate(&vitals).await, "moved to orthopaedics");
        hr.deliver(&event(
            "evt-4",
            "transfer",
            "2026-04-01T08:00:00Z",
            json!({ "id": "E-3001", "department": "Cardiology" }),
        ))
        .await;
        assert!(app.evaluate(&vitals).await);
        // Leave and return.
        hr.deliver(&event(
            "evt-5",
            "leave_of_absence",
            "2026-05-01T00:00:00Z",
            json!({ "id": "E-3001" }),
        ))
        .await;
        assert!(!app.evaluate(&vitals).await, "on leave");
        hr.deliver(&event(
            "evt-6",
            "return",
            "2026-06-01T00:00:00Z",
            json!({ "id": "E-3001" }),
        ))
        .await;
        assert!(app.evaluate(&vitals).await, "back");
        // Leaver: denied by the time the webhook is answered.
        hr.deliver(&event(
            "evt-7",
            "termination",
            "2026-07-01T17:00:00Z",
            json!({ "id": "E-3001" }),
        ))
        .await;
        assert!(!app.evaluate(&vitals).await, "terminated");
        let member = staff(&app, "E-3001").await;
        assert_eq!(member["active"], false);
        assert_eq!(member["roles"], json!([]), "the job's roles are gone");
        assert_eq!(member["credentials"][0]["number"], "RN-998", "history kept");

        let entries: Value = app
            .get("/ledger/entries?actor=hr:webhook&kind=provisioning.hr.termination")
            .await
            .json()
            .await
            .unwrap();
        let entry = &entries["entries"][0];
        assert_eq!(entry["subject"], "E-3001");
        assert_eq!(entry["details"]["event_id"], "evt-7");
        let disabled: Value = app
            .get("/ledger/entries?kind=directory.staff.disable&subject=E-3001")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            disabled["entries"].as_array().unwrap().len(),
            2,
            "leave and termination"
        );
        assert_eq!(disabled["entries"][0]["details"]["source"], "hr");
    }
}

#[tokio::test]
async fn deliveries_are_verified_idempotent_and_ordered() {
    for app in apps().await {
        let body = event(
            "evt-x",
            "hire",
            "2026-01-01T00:00:00Z",
            json!({ "id": "E-4001" }),
        )
        .to_string();
        // No secret yet: nothing is accepted.
        let hr = HrSystem {
            app: &app,
            secret: "hrsec_guess".into(),
        };
        assert_eq!(
            hr.deliver_signed(&body, now(), "hrsec_guess")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        let hr = HrSystem::connect(&app).await;
        for (response, why) in [
            (
                hr.deliver_signed(&body, now(), "hrsec_wrong").await,
                "wrong secret",
            ),
            (
                hr.deliver_signed(&body, now() - 3600, &hr.secret).await,
                "an hour old",
            ),
            (
                hr.deliver_signed(&body, now() + 3600, &hr.secret).await,
                "from the future",
            ),
        ] {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
        }
        let tampered = app
            .http
            .post(app.url("/hr/events"))
            .header(TIMESTAMP_HEADER, now().to_string())
            .header(SIGNATURE_HEADER, sign(hr.secret.as_bytes(), now(), b"{}"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(tampered.status(), StatusCode::UNAUTHORIZED);
        let huge = hr
            .deliver_signed(&"x".repeat(2 << 20), now(), &hr.secret)
            .await;
        assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let huge: Value = huge.json().await.unwrap();
        assert_eq!(huge["error"]["code"], "payload_too_large");
        let elsewhere = app
            .http
            .post(format!("{}/nowhere/hr/events", app.base))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
        for (bad, code) in [
            ("{\"id\":".to_owned(), "invalid_event"),
            (json!({ "id": "e", "type": "promotion", "effective_at": "2026-01-01T00:00:00Z", "employee": { "id": "x" } }).to_string(), "invalid_event"),
            (json!({ "id": "e", "type": "hire", "effective_at": "yesterday", "employee": { "id": "x" } }).to_string(), "invalid_event"),
            (event("e", "hire", "2999-01-01T00:00:00Z", json!({ "id": "x" })).to_string(), "too_far_ahead"),
        ] {
            let response = hr.deliver_signed(&bad, now(), &hr.secret).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], code);
        }
        assert_eq!(
            app.get("/v1/directory/staff/x").await.status(),
            StatusCode::NOT_FOUND,
            "nothing half-applied"
        );

        // The same event twice: the second changes nothing, not even the ledger.
        assert_eq!(
            hr.deliver(&serde_json::from_str(&body).unwrap()).await["status"],
            "applied"
        );
        let size = |v: Value| v["entries"].as_array().map_or(0, Vec::len);
        let before = size(
            app.get("/ledger/entries?subject=E-4001")
                .await
                .json()
                .await
                .unwrap(),
        );
        assert_eq!(
            hr.deliver(&serde_json::from_str(&body).unwrap()).await["status"],
            "duplicate"
        );
        assert_eq!(
            size(
                app.get("/ledger/entries?subject=E-4001")
                    .await
                    .json()
                    .await
                    .unwrap()
            ),
            before
        );

        // Out of order: a termination, then an older transfer and an older hire arrive.
        hr.deliver(&event(
            "evt-t",
            "termination",
            "2026-09-01T00:00:00Z",
            json!({ "id": "E-4001" }),
        ))
        .await;
        let late = hr
            .deliver(&event(
                "evt-old",
                "leave_of_absence",
                "2026-08-01T00:00:00Z",
                json!({ "id": "E-4001" }),
            ))
            .await;
        assert_eq!(late["status"], "superseded");
        hr.deliver(&event(
            "evt-old-2",
            "return",
            "2026-08-15T00:00:00Z",
            json!({ "id": "E-4001" }),
        ))
        .await;
        assert_eq!(
            staff(&app, "E-4001").await["active"],
            false,
            "the newer termination stands"
        );
        // A later transfer still applies to the assignment.
        let moved = hr
            .deliver(&event(
                "evt-m",
                "transfer",
                "2026-08-20T00:00:00Z",
                json!({ "id": "E-4001", "department": "Radiology" }),
            ))
            .await;
        assert_eq!(moved["status"], "applied");
        assert_eq!(staff(&app, "E-4001").await["department"], "radiology");

        // Rotation: the new secret works at once, the old one during the grace period.
        let rotated: Value = app
            .post("/v1/provisioning/hr/secret", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        let new_secret = rotated["secret"].as_str().unwrap();
        let next = event(
            "evt-r1",
            "transfer",
            "2026-10-01T00:00:00Z",
            json!({ "id": "E-4001", "location": "north" }),
        )
        .to_string();
        assert_eq!(
            hr.deliver_signed(&next, now(), new_secret).await.status(),
            StatusCode::OK
        );
        let next = event(
            "evt-r2",
            "transfer",
            "2026-10-02T00:00:00Z",
            json!({ "id": "E-4001", "location": "south" }),
        )
        .to_string();
        assert_eq!(
            hr.deliver_signed(&next, now(), &hr.secret).await.status(),
            StatusCode::OK
        );
        let secrets: Value = app
            .get("/ledger/entries?kind=provisioning.hr.secret_rotated")
            .await
            .json()
            .await
            .unwrap();
        let text = secrets.to_string();
        assert!(
            !text.contains(new_secret) && !text.contains(&hr.secret),
            "secrets never reach the ledger"
        );
    }
}

#[tokio::test]
async fn an_hr_termination_outranks_the_identity_provider() {
    for app in apps().await {
        let hr = HrSystem::connect(&app).await;
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let (_, token) = tenant
            .create_client(
                "okta",
                &[hms_governance::credentials::Scope::Scim],
                &crate::helpers::by_test(),
            )
            .await
            .unwrap();
        let token = token.expose().to_owned();
        let scim = |method: reqwest::Method, path: &str, body: Value| {
            app.http
                .request(method, app.url(&format!("/scim/v2{path}")))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
        };
        let created = scim(reqwest::Method::POST, "/Users", json!({
            "userName": "pia@example.org",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "employeeNumber": "E-5001" }
        })).await.unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        hr.deliver(&event(
            "evt-p",
            "termination",
            "2026-02-01T00:00:00Z",
            json!({ "id": "E-5001" }),
        ))
        .await;
        let reenabled = scim(
            reqwest::Method::PATCH,
            "/Users/E-5001",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "value": { "active": true, "title": "Locum" } }]
            }),
        )
        .await
        .unwrap();
        assert_eq!(reenabled.status(), StatusCode::OK);
        assert_eq!(
            staff(&app, "E-5001").await["active"],
            false,
            "HR's termination stands"
        );
    }
}

/// An RFC 3339 time `seconds` from now.
fn in_seconds(seconds: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Waits (up to twenty seconds) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} never happened");
}

#[tokio::test]
async fn a_future_dated_hire_and_termination_take_effect_at_their_effective_time() {
    for app in apps().await {
        let hr = HrSystem::connect(&app).await;
        let settings = json!({ "job_roles": [{ "job_code": "RN", "roles": ["nurse"] }] });
        assert_eq!(
            app.put("/v1/provisioning/hr", &settings).await.status(),
            StatusCode::OK
        );
        let hire = event(
            "evt-future-hire",
            "hire",
            &in_seconds(400),
            json!({"id": "E-5001", "job_code": "RN", "department": "Cardiology"}),
        );
        let early = hr
            .deliver_signed(&hire.to_string(), now(), &hr.secret)
            .await;
        assert_eq!(early.status(), StatusCode::ACCEPTED);
        let early: Value = early.json().await.unwrap();
        assert_eq!(early["status"], "scheduled", "{early}");
        let again = hr
            .deliver_signed(&hire.to_string(), now(), &hr.secret)
            .await;
        assert_eq!(again.json::<Value>().await.unwrap()["status"], "duplicate");
        assert_eq!(
            app.get("/v1/directory/staff/E-5001").await.status(),
            StatusCode::NOT_FOUND,
            "nobody is hired before the start date"
        );
        let scheduled: Value = app
            .get("/ledger/entries?kind=provisioning.hr.hire&subject=E-5001")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(scheduled["entries"][0]["outcome"], "scheduled");

        // A hire starting in seven seconds: kept until then, then applied.
        let soon = event(
            "evt-soon-hire",
            "hire",
            &in_seconds(7),
            json!({"id": "E-5002", "job_code": "RN", "department": "Cardiology"}),
        );
        let answer = hr
            .deliver_signed(&soon.to_string(), now(), &hr.secret)
            .await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        let demographics = json!({
            "subject": { "type": "Staff", "id": "E-5002" },
            "action": { "name": "read_demographics" },
            "resource": { "type": "Patient", "id": "p1" }
        });
        assert!(!app.evaluate(&demographics).await, "not before the start");
        eventually("the hire", async || app.evaluate(&demographics).await).await;

        // A termination at the end of a notice period waits for it; one
        // dated a minute ahead (a clock running fast) removes access at once.
        let notice = event(
            "evt-notice",
            "termination",
            &in_seconds(30 * 86_400),
            json!({"id": "E-5002"}),
        );
        let answer = hr
            .deliver_signed(&notice.to_string(), now(), &hr.secret)
            .await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        assert!(app.evaluate(&demographics).await, "still employed");
        let leave = event(
            "evt-leave",
            "termination",
            &in_seconds(60),
            json!({"id": "E-5002"}),
        );
        assert_eq!(hr.deliver(&leave).await["status"], "applied");
        assert!(!app.evaluate(&demographics).await);
        let member: Value = app
            .get("/v1/directory/staff/E-5002")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(member["active"], false, "{member}");
        for kind in ["termination", "hire"] {
            let recorded: Value = app
                .get(&format!(
                    "/ledger/entries?kind=provisioning.hr.{kind}&subject=E-5002"
                ))
                .await
                .json()
                .await
                .unwrap();
            let outcomes: Vec<&Value> = recorded["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["outcome"])
                .collect();
            assert_eq!(outcomes, [&json!("scheduled"), &json!("applied")], "{kind}");
        }
    }
}
