//! Console page times for a 10,000-staff tenant, over loopback HTTP against
//! an in-process server: home, a reviewer's open items, the campaign list,
//! a campaign's page with its progress and every item (each clinician's role
//! and licence), and the compliance page.
//!
//! ```text
//! cargo run --release -p hms-ach --example console_load -- --database sqlite --staff 10000 --views 50
//! ```
//! The administrator signs in through the test OpenID provider with a TOTP
//! code (so the PDP grants `manage_access_reviews`); pages are then fetched
//! with the console session cookie, one at a time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The test peer, shared; not every knob it offers is turned here.
#[allow(dead_code)]
#[path = "../tests/api/peers/oidc.rs"]
mod oidc_peer;

mod common;

use std::time::{Duration, Instant};

use hms_governance::audit::Provenance;
use hms_governance::credentials::Scope;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, redirect};
use serde_json::{Value, json};

use common::{percentiles, start};
use oidc_peer::{CLIENT_ID, CLIENT_SECRET, OidcProvider};

struct Args {
    database: String,
    staff: usize,
    views: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        database: "sqlite".into(),
        staff: 10_000,
        views: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--database" => args.database = value,
            "--staff" => args.staff = value.parse().unwrap(),
            "--views" => args.views = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

struct Bench {
    http: Client,
    base: String,
    admin: String,
}

impl Bench {
    fn url(&self, path: &str) -> String {
        format!("{}/bench{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.bearer_auth(&self.admin).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap()
    }

    /// Signs `chief` in with a TOTP code; the session secret (the console cookie).
    async fn sign_in(&self) -> String {
        let browser = Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap();
        let start = browser
            .get(self.url("/auth/oidc/okta/login"))
            .send()
            .await
            .unwrap();
        let cookie = start.headers()[SET_COOKIE].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let authorize = start.headers()[LOCATION].to_str().unwrap().to_owned();
        let at_idp = browser.get(&authorize).send().await.unwrap();
        let callback = at_idp.headers()[LOCATION].to_str().unwrap().to_owned();
        let pending: Value = browser
            .get(&callback)
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let login = pending["login_token"].as_str().unwrap();
        let enrolment: Value = self
            .http
            .post(self.url("/auth/mfa/enroll"))
            .bearer_auth(login)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let code =
            hms_idp_bridge::mfa::code_at(enrolment["otpauth_uri"].as_str().unwrap(), now).unwrap();
        let session: Value = self
            .http
            .post(self.url("/auth/mfa/verify"))
            .bearer_auth(login)
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        session["session_token"].as_str().unwrap().to_owned()
    }

    /// Fetches a console page `views` times; the latencies and the page's size.
    async fn page(&self, session: &str, path: &str, views: usize) -> (Vec<Duration>, usize) {
        let mut samples = Vec::with_capacity(views);
        let mut size = 0;
        for _ in 0..views {
            let started = Instant::now();
            let response = self
                .http
                .get(self.url(path))
                .header(COOKIE, format!("hms_ach_console={session}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            size = response.bytes().await.unwrap().len();
            samples.push(started.elapsed());
        }
        (samples, size)
    }
}

fn staff_member(i: usize) -> Value {
    const ROLES: [&str; 6] = [
        "nurse",
        "doctor",
        "receptionist",
        "billing",
        "pharmacist",
        "lab_technician",
    ];
    let role = ROLES[i % ROLES.len()];
    let licensed = !matches!(role, "receptionist" | "billing");
    let credentials: Vec<Value> = licensed
        .then(|| {
            json!({"kind": format!("{role}_licence"), "number": format!("L-{i}"),
                        "status": "active", "expires": "2035-01-01"})
        })
        .into_iter()
        .collect();
    json!({"id": format!("s{i:05}"), "given_name": "Staff", "family_name": format!("{i}"),
           "roles": [role], "department": format!("dept-{}", i % 20), "credentials": credentials})
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    hms_ach::telemetry::init("json");
    let dir = tempfile::tempdir().unwrap();
    let (app, base) = start(&args.database, dir.path()).await;
    let state = app.state().clone();
    tokio::spawn(app.run());
    let by = Provenance::local(hms_governance::audit::Actor::Cli);
    let tenant = state
        .tenants
        .create(&"bench".parse().unwrap(), "Bench", 0, &by)
        .await
        .unwrap();
    let (_, admin) = tenant
        .create_client("admin", &[Scope::Admin], &by)
        .await
        .unwrap();
    let admin = admin.expose().to_owned();
    let bench = Bench {
        http: Client::new(),
        base,
        admin,
    };
    let loading = Instant::now();
    let chief = json!({"id": "chief", "given_name": "Chief", "family_name": "Admin", "roles": ["admin"], "department": "administration"});
    bench
        .send(
            bench
                .http
                .put(bench.url("/v1/directory/staff"))
                .json(&json!([chief])),
        )
        .await;
    for batch in (0..args.staff).collect::<Vec<_>>().chunks(1000) {
        let members: Vec<Value> = batch.iter().map(|&i| staff_member(i)).collect();
        bench
            .send(
                bench
                    .http
                    .put(bench.url("/v1/directory/staff"))
                    .json(&members),
            )
            .await;
    }
    println!(
        "{} staff loaded in {:.1}s",
        args.staff,
        loading.elapsed().as_secs_f64()
    );
    let creating = Instant::now();
    let department = json!({"id": "dept-3", "name": "Department 3", "due_at": "2030-01-01",
        "scope": {"departments": ["dept-3"]}, "fallback_reviewer": "chief"});
    let items = |created: Value| created["progress"]["items"].as_u64().unwrap();
    let department_items = items(
        bench
            .send(
                bench
                    .http
                    .post(bench.url("/v1/reviews/campaigns"))
                    .json(&department),
            )
            .await,
    );
    let everyone = json!({"id": "all", "name": "Whole tenant", "due_at": "2030-01-01",
        "reviewer": "s00000", "fallback_reviewer": "s00001"});
    let everyone_items = items(
        bench
            .send(
                bench
                    .http
                    .post(bench.url("/v1/reviews/campaigns"))
                    .json(&everyone),
            )
            .await,
    );
    println!(
        "campaigns created ({department_items} and {everyone_items} items) in {:.1}s",
        creating.elapsed().as_secs_f64()
    );

    let provider =
        OidcProvider::start(json!({"sub": "00u-chief", "employee_number": "chief"})).await;
    bench
        .send(
            bench
                .http
                .put(bench.url("/v1/identity/providers/okta"))
                .json(&json!({
            "kind": "oidc", "issuer": provider.issuer, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "mapping": {"staff_id": "employee_number"}})),
        )
        .await;
    let session = bench.sign_in().await;
    for (what, path) in [
        ("home", "/console"),
        (
            "my reviews (the department campaign's items)",
            "/console/reviews",
        ),
        ("campaign list", "/console/campaigns"),
        ("department campaign page", "/console/campaigns/dept-3"),
        ("whole-tenant campaign page", "/console/campaigns/all"),
        ("compliance page", "/console/compliance"),
    ] {
        let (samples, size) = bench.page(&session, path, args.views).await;
        println!("{what} ({path}, {size} bytes): {}", percentiles(samples));
    }
}
