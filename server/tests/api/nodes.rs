//! Three nodes on one PostgreSQL behind one public URL: whatever is changed
//! on one node is in force on the others within a second, login steps land
//! on any node, appends from every node make one verifiable ledger, and one
//! node at a time runs the scheduled work.

use std::time::{Duration, Instant};

use hms_audit_ledger::checkpoint;
use hms_audit_ledger::{Trust, VerifierKey, verify_bundle};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, by_test, record_request, spawn, staff};
use crate::hr::{HrSystem, event};
use crate::login::{code, configure, no_redirects, now, set_identity_settings};
use crate::peers::oidc::OidcProvider;

/// How soon a change made on one node must be in force on every other.
const VISIBLE_WITHIN: Duration = Duration::from_secs(1);

/// The first node (which seeded the tenant) and two more on its databases.
struct Cluster {
    first: TestApp,
    bases: Vec<String>,
}

impl Cluster {
    async fn start() -> Self {
        let first = spawn("postgres").await;
        let mut bases = vec![first.base.clone()];
        for _ in 0..2 {
            let mut settings = first.state.settings.clone();
            settings.listen = "127.0.0.1:0".parse().unwrap();
            settings.public_url = Some(first.base.clone());
            let node = hms_ach::app::Application::build(settings).await.unwrap();
            bases.push(format!("http://{}", node.local_addr()));
            tokio::spawn(node.run());
        }
        Self { first, bases }
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("{}/{}{}", self.bases[node], self.first.tenant, path)
    }

    /// A request to `node` with the administrator's credential.
    fn admin(&self, node: usize, method: Method, path: &str) -> RequestBuilder {
        self.first
            .http
            .request(method, self.url(node, path))
            .bearer_auth(&self.first.admin_token)
    }

    /// A SCIM request to the first node, as the identity provider sends it.
    async fn scim(&self, method: Method, path: &str, token: &str, body: Value) -> Response {
        self.first
            .http
            .request(method, self.url(0, path))
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn send(&self, node: usize, method: Method, path: &str, body: Value) -> Response {
        self.admin(node, method, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Makes a change on the first node; it must answer `expected`.
    async fn change(&self, method: Method, path: &str, body: Value, expected: StatusCode) {
        let response = self.send(0, method, path, body).await;
        let status = response.status();
        assert_eq!(
            status,
            expected,
            "{path}: {}",
            response.text().await.unwrap()
        );
    }

    async fn decision_on(&self, node: usize, request: &Value) -> bool {
        let response = self
            .send(node, Method::POST, "/access/v1/evaluation", request.clone())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["decision"]
            .as_bool()
            .unwrap()
    }

    /// Asserts every node decides `request` as `expected` now.
    async fn all_decide(&self, request: &Value, expected: bool) {
        for node in 0..self.bases.len() {
            assert_eq!(
                self.decision_on(node, request).await,
                expected,
                "node {node}: {request}"
            );
        }
    }

    /// Waits until every node other than the first decides `request` as
    /// `expected`, failing after [`VISIBLE_WITHIN`].
    async fn others_soon_decide(&self, what: &str, request: &Value, expected: bool) {
        for node in 1..self.bases.len() {
            soon(&format!("{what} on node {node}"), async || {
                self.decision_on(node, request).await == expected
            })
            .await;
        }
    }
}

/// Polls `check` until it holds, failing when it does not within [`VISIBLE_WITHIN`].
async fn soon(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < VISIBLE_WITHIN,
            "{what}: not visible within {VISIBLE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Doctors of a unit that sees no patient but through the care team, one
/// for each way a person loses access.
const LOSERS: [&str; 5] = ["dr-off", "dr-stripped", "dr-scim", "dr-left", "dr-reviewed"];

/// Seeds the doctors (Dr SCIM provisioned by the identity provider first)
/// and the reviewer; returns the provisioning client's credential.
async fn seed_people(cluster: &Cluster) -> String {
    let tenant = cluster
        .first
        .state
        .tenants
        .get("st-marys")
        .await
        .unwrap()
        .unwrap();
    let scope = [hms_governance::credentials::Scope::Scim];
    let (_, token) = tenant
        .create_client("entra", &scope, &by_test())
        .await
        .unwrap();
    let token = token.expose().to_owned();
    let user = json!({
        "userName": "scim@example.org",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "dr-scim"}
    });
    let created = cluster
        .scim(Method::POST, "/scim/v2/Users", &token, user)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut people: Vec<Value> = LOSERS
        .iter()
        .map(|id| staff(id, "doctor", "day-clinic", Some("medical_licence")))
        .collect();
    people.push(staff("chief", "admin", "administration", None));
    cluster
        .change(
            Method::PUT,
            "/v1/directory/staff",
            json!(people),
            StatusCode::OK,
        )
        .await;
    let mut care_team = vec!["dr-heart"];
    care_team.extend(LOSERS);
    let patients =
        json!([{"id": "p1", "care_team": care_team}, {"id": "p2", "care_team": ["dr-bone"]}]);
    cluster
        .change(
            Method::PUT,
            "/v1/directory/patients",
            patients,
            StatusCode::OK,
        )
        .await;
    token
}

fn lab_result(staff: &str, patient: &str) -> Value {
    record_request(staff, "read_lab_result", "LabResult", patient)
}

#[tokio::test]
async fn every_security_change_made_on_one_node_is_in_force_on_the_others_within_a_second() {
    let cluster = Cluster::start().await;
    let scim_token = seed_people(&cluster).await;
    for id in LOSERS {
        cluster.all_decide(&lab_result(id, "p1"), true).await;
    }

    // A policy upload.
    let vitals = record_request("nurse-heart", "read_vitals", "Vitals", "p1");
    cluster.all_decide(&vitals, true).await;
    let current: Value = cluster
        .first
        .get("/v1/policies")
        .await
        .json()
        .await
        .unwrap();
    let mut files = current["policies"].as_array().unwrap().clone();
    files.push(json!({"name": "freeze.cedar", "text": "@id(\"vitals-freeze\")\nforbid (principal, action == Hms::Action::\"read_vitals\", resource);"}));
    let upload = json!({"policies": files, "comment": "freeze vitals"});
    cluster
        .change(Method::PUT, "/v1/policies", upload, StatusCode::CREATED)
        .await;
    cluster
        .others_soon_decide("a policy upload", &vitals, false)
        .await;

    // A staff member disabled, and one stripped of their role.
    let mut off = staff("dr-off", "doctor", "day-clinic", Some("medical_licence"));
    off["active"] = json!(false);
    let mut stripped = staff(
        "dr-stripped",
        "doctor",
        "day-clinic",
        Some("medical_licence"),
    );
    stripped["roles"] = json!([]);
    cluster
        .change(
            Method::PUT,
            "/v1/directory/staff",
            json!([off, stripped]),
            StatusCode::OK,
        )
        .await;
    cluster
        .others_soon_decide("a disabled account", &lab_result("dr-off", "p1"), false)
        .await;
    cluster
        .others_soon_decide("a role taken away", &lab_result("dr-stripped", "p1"), false)
        .await;

    // A care-team change.
    let joined = lab_result("dr-heart", "p2");
    cluster.all_decide(&joined, false).await;
    let p2 = json!([{"id": "p2", "care_team": ["dr-bone", "dr-heart"]}]);
    cluster
        .change(Method::PUT, "/v1/directory/patients", p2, StatusCode::OK)
        .await;
    cluster
        .others_soon_decide("a care-team change", &joined, true)
        .await;

    // SCIM `active: false` from the identity provider.
    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    let patched = cluster
        .scim(
            Method::PATCH,
            "/scim/v2/Users/dr-scim",
            &scim_token,
            deactivate,
        )
        .await;
    assert_eq!(
        patched.status(),
        StatusCode::OK,
        "{}",
        patched.text().await.unwrap()
    );
    cluster
        .others_soon_decide("a SCIM deactivation", &lab_result("dr-scim", "p1"), false)
        .await;

    // An HR termination.
    let hr = HrSystem::connect(&cluster.first).await;
    let leaver = event(
        "evt-leave",
        "termination",
        "2026-02-01T00:00:00Z",
        json!({"id": "dr-left"}),
    );
    hr.deliver(&leaver).await;
    cluster
        .others_soon_decide("an HR termination", &lab_result("dr-left", "p1"), false)
        .await;

    // An access-review revocation.
    let campaign = json!({
        "id": "day-clinic", "name": "Day clinic", "due_at": "2020-01-01",
        "scope": {"departments": ["day-clinic"]}, "reviewer": "chief", "overdue": "revoke",
    });
    cluster
        .change(
            Method::POST,
            "/v1/reviews/campaigns",
            campaign,
            StatusCode::CREATED,
        )
        .await;
    cluster
        .change(
            Method::POST,
            "/v1/reviews/campaigns/day-clinic/close",
            json!({}),
            StatusCode::OK,
        )
        .await;
    cluster
        .others_soon_decide(
            "an access-review revocation",
            &lab_result("dr-reviewed", "p1"),
            false,
        )
        .await;

    // An API client revoked: its credential stops working everywhere.
    let issued: Value = cluster
        .send(
            0,
            Method::POST,
            "/v1/clients",
            json!({"name": "lab-system", "scopes": ["pdp"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let lab_token = issued["token"].as_str().unwrap().to_owned();
    let id = issued["client"]["id"].as_str().unwrap().to_owned();
    let lab_asks = async |node: usize| {
        cluster
            .first
            .http
            .post(cluster.url(node, "/access/v1/evaluation"))
            .bearer_auth(&lab_token)
            .json(&lab_result("dr-heart", "p1"))
            .send()
            .await
            .unwrap()
            .status()
    };
    for node in 1..3 {
        assert_eq!(lab_asks(node).await, StatusCode::OK);
    }
    cluster
        .change(
            Method::DELETE,
            &format!("/v1/clients/{id}"),
            json!({}),
            StatusCode::NO_CONTENT,
        )
        .await;
    for node in 1..3 {
        soon("a revoked client", async || {
            lab_asks(node).await == StatusCode::UNAUTHORIZED
        })
        .await;
    }

    // Login settings.
    cluster
        .change(
            Method::PUT,
            "/v1/identity/settings",
            json!({"mfa_required": false}),
            StatusCode::OK,
        )
        .await;
    for node in 1..3 {
        soon("login settings", async || {
            let settings: Value = cluster
                .admin(node, Method::GET, "/v1/identity/settings")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            settings["mfa_required"] == false
        })
        .await;
    }

    // The ledger's signing key: the other nodes sign with the new one.
    let rotated: Value = cluster
        .send(0, Method::POST, "/ledger/keys/rotate", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let new_key = VerifierKey::parse(rotated["vkey"].as_str().unwrap()).unwrap();
    for node in 1..3 {
        soon("a ledger key rotation", async || {
            cluster
                .decision_on(node, &lab_result("dr-heart", "p1"))
                .await;
            let note = cluster
                .admin(node, Method::GET, "/ledger/checkpoint")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            checkpoint::open(&note, std::slice::from_ref(&new_key)).is_ok()
        })
        .await;
    }
}

/// Follows a browser through the OIDC login, starting it on node `start`
/// and coming back from the IdP to node `back`; the callback's answer.
async fn login_across(cluster: &Cluster, start: usize, back: usize) -> Value {
    let browser = no_redirects();
    let started = browser
        .get(cluster.url(start, "/auth/oidc/okta/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let cookie = started.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let authorize = started.headers()[LOCATION].to_str().unwrap().to_owned();
    let at_idp = browser.get(&authorize).send().await.unwrap();
    let callback = at_idp.headers()[LOCATION].to_str().unwrap();
    let callback = callback.replacen(&cluster.bases[0], &cluster.bases[back], 1);
    let answer = browser
        .get(&callback)
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

async fn with_bearer(
    cluster: &Cluster,
    node: usize,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let request = cluster
        .first
        .http
        .post(cluster.url(node, path))
        .bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

/// The PDP's answer on `node` for Dr Heart's session token reading p1's lab result.
async fn session_decides(cluster: &Cluster, node: usize, access: &str) -> bool {
    let mut request = lab_result("ignored", "p1");
    request["subject"] = json!({"type": "session", "id": access});
    cluster.decision_on(node, &request).await
}

#[tokio::test]
async fn login_steps_refresh_and_logout_work_on_any_node() {
    let cluster = Cluster::start().await;
    let provider =
        OidcProvider::start(json!({"sub": "00u-heart", "employee_number": "dr-heart"})).await;
    configure(&cluster.first, &provider).await;
    set_identity_settings(&cluster.first, json!({"mfa_required": true})).await;

    // Started on node 0, back from the IdP on node 1, factor enrolled on
    // node 2 and proven on node 0.
    let pending = login_across(&cluster, 0, 1).await;
    assert_eq!(pending["status"], "mfa_required", "{pending}");
    let login_token = pending["login_token"].as_str().unwrap();
    let enrolled = with_bearer(&cluster, 2, "/auth/mfa/enroll", login_token, None).await;
    assert_eq!(enrolled.status(), StatusCode::OK);
    let enrolment: Value = enrolled.json().await.unwrap();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    let proof = json!({"code": code(uri, now())});
    let proven = with_bearer(&cluster, 0, "/auth/mfa/verify", login_token, Some(proof)).await;
    assert_eq!(proven.status(), StatusCode::OK);
    let session: Value = proven.json().await.unwrap();
    let session_token = session["session_token"].as_str().unwrap().to_owned();
    let access = session["access_token"].as_str().unwrap().to_owned();
    for node in 0..3 {
        assert!(
            session_decides(&cluster, node, &access).await,
            "node {node}"
        );
    }
    // The pending login's token stopped working on every node.
    let stale = with_bearer(&cluster, 1, "/auth/session/token", login_token, None).await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);

    // A rotated token key: node 0 signs with it, the others verify it.
    cluster
        .change(
            Method::POST,
            "/v1/identity/token-keys/rotate",
            json!({}),
            StatusCode::OK,
        )
        .await;
    let refreshed = with_bearer(&cluster, 0, "/auth/session/token", &session_token, None).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let fresh: Value = refreshed.json().await.unwrap();
    let fresh = fresh["access_token"].as_str().unwrap().to_owned();
    for node in 1..3 {
        soon("a token key rotation", async || {
            session_decides(&cluster, node, &fresh).await
        })
        .await;
    }

    // Refreshed on node 1, logged out on node 2: no node refreshes or honours it after.
    let refreshed = with_bearer(&cluster, 1, "/auth/session/token", &session_token, None).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let out = with_bearer(&cluster, 2, "/auth/session/logout", &session_token, None).await;
    assert_eq!(out.status(), StatusCode::OK);
    for node in [0, 1] {
        let after = with_bearer(&cluster, node, "/auth/session/token", &session_token, None).await;
        assert_eq!(
            after.status(),
            StatusCode::UNAUTHORIZED,
            "refresh on node {node}"
        );
        soon("a logout", async || {
            !session_decides(&cluster, node, &fresh).await
        })
        .await;
    }
}

#[tokio::test]
async fn appends_from_every_node_make_one_ledger_that_verifies() {
    let cluster = Cluster::start().await;
    let request = lab_result("dr-heart", "p1");
    let asks = (0..3).flat_map(|node| (0..20).map(move |_| node));
    let decisions = asks.map(|node| cluster.decision_on(node, &request));
    let answers = futures_util::future::join_all(decisions).await;
    assert!(answers.iter().all(|permitted| *permitted));

    let keys: Value = cluster
        .first
        .get("/ledger/keys")
        .await
        .json()
        .await
        .unwrap();
    let trusted: Vec<VerifierKey> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| VerifierKey::parse(k["vkey"].as_str().unwrap()).unwrap())
        .collect();
    let bundle = cluster
        .admin(2, Method::GET, "/ledger/export")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let report = verify_bundle(bundle.as_bytes(), &Trust::with_keys(trusted), |_| {}).unwrap();
    assert!(report.is_valid(), "{:?}", report.problems);
    let decisions = bundle
        .lines()
        .filter(|l| l.contains("\"kind\":\"decision\""))
        .count();
    assert_eq!(
        decisions, 60,
        "every node's decisions are in the one ledger"
    );
}

#[tokio::test]
async fn one_node_at_a_time_runs_the_scheduled_work() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::helpers::settings_for("postgres", dir.path());
    // Built, not run: no scheduler of its own competes here.
    let app = hms_ach::app::Application::build(settings).await.unwrap();
    let catalog = app.state().tenants.catalog_url();
    assert!(
        catalog.is_some(),
        "nodes coordinate on the PostgreSQL catalog"
    );
    let first = hms_ach::leader::Leadership::new(catalog.clone());
    let second = hms_ach::leader::Leadership::new(catalog);
    assert!(first.is_leader().await);
    assert!(!second.is_leader().await, "two leaders");
    assert!(first.is_leader().await, "the lock stays with its holder");
    drop(first);
    let started = Instant::now();
    while !second.is_leader().await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the lock did not pass on when its holder stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_administrators_on_different_nodes_never_overwrite_each_other() {
    let cluster = Cluster::start().await;
    let read_on = async |node: usize| {
        let response = cluster
            .admin(node, Method::GET, "/v1/policies")
            .send()
            .await
            .unwrap();
        let tag = response.headers()[reqwest::header::ETAG]
            .to_str()
            .unwrap()
            .to_owned();
        let files = response.json::<Value>().await.unwrap()["policies"].clone();
        (tag, files)
    };
    let (tag_0, files_0) = read_on(0).await;
    let (tag_1, files_1) = read_on(1).await;
    assert_eq!(tag_0, tag_1, "both read the version in force");
    let upload_on = async |node: usize, tag: &str, files: Value| {
        cluster
            .admin(node, Method::PUT, "/v1/policies")
            .header(reqwest::header::IF_MATCH, tag)
            .json(&json!({"policies": files}))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(upload_on(0, &tag_0, files_0).await, StatusCode::CREATED);
    // At once, before any wake-up could reach node 1: the check is the database's.
    assert_eq!(
        upload_on(1, &tag_1, files_1).await,
        StatusCode::PRECONDITION_FAILED
    );
    let versions: Value = cluster
        .first
        .get("/v1/policies/versions")
        .await
        .json()
        .await
        .unwrap();
    let count = versions["versions"].as_array().unwrap().len();
    assert_eq!(count, 2, "the base set and the first upload: {versions}");
}

#[tokio::test]
async fn a_tenant_suspended_on_one_node_is_refused_on_every_node() {
    let cluster = Cluster::start().await;
    let operator =
        hms_governance::operators::issue(&cluster.first.state.tenants, "ops", &by_test())
            .await
            .unwrap();
    for node in 0..3 {
        assert!(
            cluster
                .decision_on(node, &lab_result("dr-heart", "p1"))
                .await
        );
    }
    let suspended = cluster
        .first
        .http
        .post(format!(
            "{}/operator/v1/tenants/st-marys/suspend",
            cluster.bases[0]
        ))
        .bearer_auth(operator.expose())
        .json(&json!({"reason": "audit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(suspended.status(), StatusCode::OK);
    for node in 1..3 {
        soon("a suspension", async || {
            let answer = cluster
                .send(
                    node,
                    Method::POST,
                    "/access/v1/evaluation",
                    lab_result("dr-heart", "p1"),
                )
                .await;
            answer.status() == StatusCode::FORBIDDEN
        })
        .await;
    }
}

#[tokio::test]
async fn of_three_nodes_one_writes_each_scheduled_report_pack() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("packs");
    let mut settings = crate::helpers::settings_for("postgres", dir.path());
    settings
        .reports
        .schedule
        .push(hms_ach::config::ScheduledPack {
            name: "hourly".into(),
            kinds: vec!["break-glass".into()],
            every_seconds: 1,
            format: "csv".into(),
            folder: folder.clone(),
            tenant: None,
        });
    let first = hms_ach::app::Application::build(settings.clone())
        .await
        .unwrap();
    let tenants = first.state().tenants.clone();
    tenants
        .create(&"st-marys".parse().unwrap(), "St Mary's", 0, &by_test())
        .await
        .unwrap();
    tokio::spawn(first.run());
    for _ in 0..2 {
        let node = hms_ach::app::Application::build(settings.clone())
            .await
            .unwrap();
        tokio::spawn(node.run());
    }
    tokio::time::sleep(Duration::from_millis(4500)).await;

    // Each pack is recorded as pulled by the scheduler; one leader writes one
    // a second, where three would write three close together.
    let tenant = tenants.get("st-marys").await.unwrap().unwrap();
    let filter = hms_audit_ledger::store::EntryFilter {
        kind: Some(hms_audit_ledger::EventKind::ReportPull.as_str().to_owned()),
        ..Default::default()
    };
    let mut times: Vec<i64> = tenant
        .ledger
        .entries(&filter, 1000)
        .await
        .unwrap()
        .iter()
        .map(|(entry, _)| entry.time.unix_micros())
        .collect();
    times.sort_unstable();
    assert!(times.len() >= 2, "packs were written: {times:?}");
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] > 500_000, "two packs at once: {times:?}");
    }
    let written = std::fs::read_dir(folder.join("st-marys")).unwrap().count();
    assert_eq!(written, times.len(), "one folder per pack");
}

#[tokio::test]
async fn an_entity_store_batch_written_on_one_node_is_in_force_on_the_others_within_a_second() {
    let cluster = Cluster::start().await;
    let lab_result = |id: &str, patient: &str| {
        json!({"upsert": [{
            "uid": {"type": "Hms::LabResult", "id": id},
            "attrs": {"patient": {"__entity": {"type": "Hms::Patient", "id": patient}}}
        }]})
    };
    let by_id = |id: &str| {
        json!({
            "subject": {"type": "Staff", "id": "dr-heart"},
            "action": {"name": "read_lab_result"},
            "resource": {"type": "LabResult", "id": id}
        })
    };
    // Until a node holds lab results, one named by id alone is refused as
    // incomplete (400); once it does, an unknown one is a denial.
    cluster
        .change(
            Method::POST,
            "/v1/entities",
            lab_result("lr-0", "p2"),
            StatusCode::OK,
        )
        .await;
    for node in 1..3 {
        soon(&format!("first lab result on node {node}"), async || {
            let response = cluster
                .send(node, Method::POST, "/access/v1/evaluation", by_id("lr-1"))
                .await;
            response.status() == StatusCode::OK
        })
        .await;
    }
    cluster.all_decide(&by_id("lr-1"), false).await;
    let steps = [
        ("lab result stored", lab_result("lr-1", "p1"), true),
        ("lab result moved", lab_result("lr-1", "p2"), false),
        ("lab result moved back", lab_result("lr-1", "p1"), true),
        (
            "lab result deleted",
            json!({"delete": [{"type": "Hms::LabResult", "id": "lr-1"}]}),
            false,
        ),
    ];
    for (what, batch, expected) in steps {
        cluster
            .change(Method::POST, "/v1/entities", batch, StatusCode::OK)
            .await;
        cluster
            .others_soon_decide(what, &by_id("lr-1"), expected)
            .await;
    }
}
