//! Login figures over loopback HTTP against an in-process server: OIDC
//! callbacks (code exchange, ID-token validation, session), SAML ACS posts
//! (xmlsec signature check, replay cache, session), and what a session-token
//! subject adds to a PDP decision.
//!
//! ```text
//! cargo run --release -p hms-ach --example login_load -- --database sqlite \
//!     --logins 2000 --concurrency 8 --decisions 4000
//! ```
//! The IdPs are the test peers: an OpenID provider signing RS256 ID tokens
//! and a SAML IdP whose responses are signed before the clock starts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The test peers, shared; not every knob they offer is turned here.
#[allow(dead_code)]
#[path = "../tests/api/peers/oidc.rs"]
mod oidc_peer;
#[allow(dead_code)]
#[path = "../tests/api/peers/saml.rs"]
mod saml_peer;

mod common;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hms_governance::audit::Provenance;
use hms_governance::credentials::Scope;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, redirect};
use serde_json::{Value, json};

use common::{percentiles, start};
use oidc_peer::{CLIENT_ID, CLIENT_SECRET, OidcProvider};
use saml_peer::{ResponseSpec, SamlIdp};

struct Args {
    database: String,
    logins: usize,
    concurrency: usize,
    decisions: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        database: "sqlite".into(),
        logins: 2000,
        concurrency: 8,
        decisions: 4000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--database" => args.database = value,
            "--logins" => args.logins = value.parse().unwrap(),
            "--concurrency" => args.concurrency = value.parse().unwrap(),
            "--decisions" => args.decisions = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

struct Bench {
    http: Client,
    browser: Client,
    base: String,
    admin: String,
    pdp: String,
}

impl Bench {
    fn url(&self, path: &str) -> String {
        format!("{}/bench{path}", self.base)
    }

    async fn put(&self, path: &str, body: Value) {
        let response = self
            .http
            .put(self.url(path))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    /// One OIDC login: the time of the callback alone, and its answer.
    async fn oidc_login(&self) -> (Duration, Value) {
        let start = self
            .browser
            .get(self.url("/auth/oidc/okta/login"))
            .send()
            .await
            .unwrap();
        let cookie = start.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let authorize = start.headers()[LOCATION].to_str().unwrap().to_owned();
        let at_idp = self.browser.get(&authorize).send().await.unwrap();
        let callback = at_idp.headers()[LOCATION].to_str().unwrap().to_owned();
        let started = Instant::now();
        let response = self
            .browser
            .get(&callback)
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert!(response.status().is_success(), "{}", response.status());
        (elapsed, response.json().await.unwrap())
    }

    async fn saml_login(&self, response: String) -> Duration {
        let started = Instant::now();
        let answer = self
            .http
            .post(self.url("/auth/saml/adfs/acs"))
            .form(&[("SAMLResponse", response)])
            .send()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap()
        );
        elapsed
    }

    async fn decide(&self, subject: &Value) -> Duration {
        let request = json!({
            "subject": subject,
            "action": {"name": "read_vitals"},
            "resource": {"type": "Vitals", "id": "v1", "properties": {"patient": {"type": "Patient", "id": "p1"}}},
        });
        let started = Instant::now();
        let answer: Value = self
            .http
            .post(self.url("/access/v1/evaluation"))
            .bearer_auth(&self.pdp)
            .json(&request)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(answer["decision"], true, "{answer}");
        elapsed
    }
}

/// Runs `count` jobs, `concurrency` at a time; their samples and the wall time.
async fn run<F, Fut>(count: usize, concurrency: usize, job: F) -> (Vec<Duration>, Duration)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let started = Instant::now();
    let samples = futures_util::stream::iter(0..count)
        .map(job)
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    (samples, started.elapsed())
}

fn report(what: &str, samples: Vec<Duration>, wall: Duration) {
    let rate = samples.len() as f64 / wall.as_secs_f64();
    println!(
        "{what}: {rate:.0}/s over {:.1}s, {}",
        wall.as_secs_f64(),
        percentiles(samples)
    );
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
    let (_, pdp) = tenant
        .create_client("emr", &[Scope::Pdp], &by)
        .await
        .unwrap();
    let pdp = pdp.expose().to_owned();
    let bench = Bench {
        http: Client::new(),
        browser: Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap(),
        base,
        admin,
        pdp,
    };
    bench
        .put("/v1/directory/staff", json!([{"id": "nurse-1", "given_name": "N", "family_name": "One", "roles": ["nurse"], "department": "cardiology",
            "credentials": [{"kind": "nursing_licence", "number": "RN-1", "status": "active", "expires": "2035-01-01"}]}]))
        .await;
    bench
        .put(
            "/v1/directory/patients",
            json!([{"id": "p1", "care_team": ["nurse-1"]}]),
        )
        .await;
    bench
        .put("/v1/identity/settings", json!({"mfa_required": false}))
        .await;

    let provider = OidcProvider::start(json!({"sub": "00u-1", "employee_number": "nurse-1"})).await;
    bench
        .put(
            "/v1/identity/providers/okta",
            json!({"kind": "oidc", "issuer": provider.issuer, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "mapping": {"staff_id": "employee_number"}}),
        )
        .await;
    let (samples, wall) = run(args.logins, args.concurrency, |_| async {
        bench.oidc_login().await.0
    })
    .await;
    report("OIDC logins (start, IdP, callback)", samples, wall);
    println!(
        "  of each callback, the IdP's token endpoint (RS256 signing) took {:.2}ms on average",
        provider.mean_token_time().as_secs_f64() * 1e3
    );

    let idp = SamlIdp::new();
    bench
        .put("/v1/identity/providers/adfs", json!({"kind": "saml", "metadata_xml": idp.metadata(true), "allow_idp_initiated": true}))
        .await;
    let acs = bench.url("/auth/saml/adfs/acs");
    let entity = bench.url("/auth/saml/adfs/metadata");
    let signing = Instant::now();
    let responses: Vec<String> = (0..args.logins)
        .map(|_| idp.response(&ResponseSpec::honest("nurse-1", None, &acs, &entity)))
        .collect();
    println!(
        "signed {} SAML responses in {:.1}s (not timed below)",
        responses.len(),
        signing.elapsed().as_secs_f64()
    );
    let responses = std::sync::Mutex::new(responses);
    let (samples, wall) = run(args.logins, args.concurrency, |_| {
        let response = responses.lock().unwrap().pop().unwrap();
        bench.saml_login(response)
    })
    .await;
    report("SAML ACS logins", samples, wall);

    let (_, session) = bench.oidc_login().await;
    let by_token = json!({"type": "session", "id": session["access_token"]});
    let by_id = json!({"type": "Staff", "id": "nurse-1"});
    for (what, subject) in [
        ("decisions, staff subject", &by_id),
        ("decisions, session-token subject", &by_token),
    ] {
        let (samples, wall) =
            run(args.decisions, args.concurrency, |_| bench.decide(subject)).await;
        report(what, samples, wall);
    }
}
