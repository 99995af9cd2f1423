//! Provisioning figures, end to end over loopback HTTP against an in-process
//! server: SCIM user creation and group membership, filter latency on a large
//! tenant, and the time from a termination (HR event or SCIM) to the first deny.
//!
//! ```text
//! cargo run --release -p hms-ach --example provisioning_load -- --database sqlite \
//!     --users 10000 --concurrency 8 --search-users 100000 --queries 500 --terminations 200
//! ```
//! `--database postgres://postgres@127.0.0.1:5432` runs the same on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hms_governance::audit::Provenance;
use hms_governance::credentials::Scope;
use hms_scim::hr::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use hms_scim::protocol::resource::normalise;
use hms_scim::protocol::schema::ResourceType;
use reqwest::Client;

mod common;
use common::{percentiles, start};
use serde_json::{Value, json};

struct Args {
    database: String,
    users: usize,
    concurrency: usize,
    search_users: usize,
    queries: usize,
    terminations: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        database: "sqlite".into(),
        users: 10_000,
        concurrency: 8,
        search_users: 100_000,
        queries: 500,
        terminations: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--database" => args.database = value,
            "--users" => args.users = value.parse().unwrap(),
            "--concurrency" => args.concurrency = value.parse().unwrap(),
            "--search-users" => args.search_users = value.parse().unwrap(),
            "--queries" => args.queries = value.parse().unwrap(),
            "--terminations" => args.terminations = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

struct Bench {
    http: Client,
    base: String,
    admin: String,
    scim: String,
    hr_secret: String,
}

impl Bench {
    fn url(&self, path: &str) -> String {
        format!("{}/bench{path}", self.base)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn decide(&self, staff: &str) -> bool {
        let request = json!({ "subject": { "type": "Staff", "id": staff }, "action": { "name": "read_demographics" },
            "resource": { "type": "Patient", "id": "p1" } });
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/access/v1/evaluation",
                &self.admin,
                Some(request),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["decision"].as_bool().unwrap()
    }

    async fn hr_event(&self, event: Value) {
        let body = event.to_string();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let response = self
            .http
            .post(self.url("/hr/events"))
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(self.hr_secret.as_bytes(), now, body.as_bytes()),
            )
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

/// A filter of one shape for the i-th user.
type FilterFor = Box<dyn Fn(usize) -> String>;

const TITLES: [&str; 4] = ["Staff Nurse", "Consultant", "Ward Clerk", "Radiographer"];

fn user(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": format!("user{i:06}@bench.example"),
        "externalId": format!("aad-{i:06}"),
        "active": true,
        "displayName": format!("User {i}"),
        "name": { "givenName": "User", "familyName": format!("N{i:06}") },
        "emails": [{ "value": format!("user{i:06}@bench.example"), "type": "work", "primary": true }],
        "title": TITLES[i % 4],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": format!("B{i:06}"), "department": "Cardiology"
        }
    })
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let args = parse_args();
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
        .create_client("admin", &[Scope::Pdp, Scope::Admin, Scope::Audit], &by)
        .await
        .unwrap();
    let admin = admin.expose().to_owned();
    let (_, scim) = tenant
        .create_client("scim", &[Scope::Scim], &by)
        .await
        .unwrap();
    let scim = scim.expose().to_owned();
    let http = Client::new();
    let mut bench = Bench {
        http,
        base,
        admin,
        scim,
        hr_secret: String::new(),
    };
    let admin_put = |path: &str, body: Value| {
        bench
            .http
            .put(bench.url(path))
            .bearer_auth(&bench.admin)
            .json(&body)
            .send()
    };
    admin_put("/v1/directory/patients", json!([{ "id": "p1" }]))
        .await
        .unwrap();
    admin_put(
        "/v1/directory/encounters",
        json!([{ "id": "e1", "patient_id": "p1", "department": "cardiology" }]),
    )
    .await
    .unwrap();
    admin_put(
        "/v1/provisioning/group-roles",
        json!({ "mappings": [{ "group": "Nurses", "roles": ["nurse"] }] }),
    )
    .await
    .unwrap();
    admin_put(
        "/v1/provisioning/hr",
        json!({ "job_roles": [{ "job_code": "RN", "roles": ["nurse"] }] }),
    )
    .await
    .unwrap();
    let rotated: Value = bench
        .http
        .post(bench.url("/v1/provisioning/hr/secret"))
        .bearer_auth(&bench.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    bench.hr_secret = rotated["secret"].as_str().unwrap().to_owned();
    let bench = Arc::new(bench);

    // 1. Create users over SCIM, C at a time, then put them in a group 100 per PATCH.
    let started = Instant::now();
    let latencies: Vec<Duration> = futures_util::stream::iter(0..args.users)
        .map(|i| {
            let bench = Arc::clone(&bench);
            async move {
                let t = Instant::now();
                let (status, body) = bench
                    .send(
                        reqwest::Method::POST,
                        "/scim/v2/Users",
                        &bench.scim,
                        Some(user(i)),
                    )
                    .await;
                assert_eq!(status, 201, "{body}");
                t.elapsed()
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let created = started.elapsed();
    println!(
        "scim create: {} users in {:.1}s = {:.0}/s ({})",
        args.users,
        created.as_secs_f64(),
        args.users as f64 / created.as_secs_f64(),
        percentiles(latencies)
    );
    let (_, group) = bench
        .send(
            reqwest::Method::POST,
            "/scim/v2/Groups",
            &bench.scim,
            Some(json!({ "displayName": "Nurses" })),
        )
        .await;
    let group_id = group["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    for chunk in (0..args.users).collect::<Vec<_>>().chunks(100) {
        let members: Vec<Value> = chunk
            .iter()
            .map(|i| json!({ "value": format!("B{i:06}") }))
            .collect();
        let patch = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "add", "path": "members", "value": members }] });
        let (status, body) = bench
            .send(
                reqwest::Method::PATCH,
                &format!("/scim/v2/Groups/{group_id}?excludedAttributes=members"),
                &bench.scim,
                Some(patch),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let grouped = started.elapsed();
    println!(
        "scim group: {} members added 100 per PATCH in {:.1}s; users + membership {:.1}s end to end",
        args.users,
        grouped.as_secs_f64(),
        (created + grouped).as_secs_f64()
    );
    assert!(bench.decide("B000001").await, "group role in force");

    // 2. Terminations: from sending the event to the first deny.
    let mut hr = Vec::new();
    let mut scim_off = Vec::new();
    for n in 0..args.terminations {
        let staff = format!("B{:06}", n * 2);
        assert!(bench.decide(&staff).await);
        let t = Instant::now();
        bench.hr_event(json!({ "id": format!("term-{n}"), "type": "termination", "effective_at": "2026-01-01T00:00:00Z",
            "employee": { "id": staff } })).await;
        assert!(!bench.decide(&staff).await);
        hr.push(t.elapsed());
        let staff = format!("B{:06}", n * 2 + 1);
        let t = Instant::now();
        let patch = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] });
        let (status, _) = bench
            .send(
                reqwest::Method::PATCH,
                &format!("/scim/v2/Users/{staff}"),
                &bench.scim,
                Some(patch),
            )
            .await;
        assert_eq!(status, 200);
        assert!(!bench.decide(&staff).await);
        scim_off.push(t.elapsed());
    }
    println!("termination to first deny, HR event: {}", percentiles(hr));
    println!(
        "termination to first deny, SCIM active=false: {}",
        percentiles(scim_off)
    );

    // 3. Filter latency on a tenant of `search_users` users (the rest stored directly, in batches).
    let pool = tenant.store.pool().clone();
    let started = Instant::now();
    for batch in (args.users..args.search_users)
        .collect::<Vec<_>>()
        .chunks(2_000)
    {
        let mut tx = pool.begin().await.unwrap();
        for &i in batch {
            let doc = normalise(ResourceType::User, user(i)).unwrap();
            hms_scim::store::insert(&mut tx, ResourceType::User, &format!("B{i:06}"), doc)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    // Stored past the HTTP path, the fill is not counted towards the
    // service's statistics refresh; refresh them as the service would have
    // when its SCIM writes passed 65,536.
    hms_scim::store::refresh_statistics(&pool).await.unwrap();
    println!(
        "filled to {} SCIM users (statistics refreshed) in {:.1}s",
        args.search_users,
        started.elapsed().as_secs_f64()
    );
    let shapes: [(&str, FilterFor); 5] = [
        (
            "userName eq (Okta lookup, startIndex=1&count=100)",
            Box::new(|i| format!("userName eq \"user{i:06}@bench.example\"")),
        ),
        (
            "externalId eq",
            Box::new(|i| format!("externalId eq \"aad-{i:06}\"")),
        ),
        (
            "emails[type eq \"work\"].value eq (Entra)",
            Box::new(|i| format!("emails[type eq \"work\"].value eq \"user{i:06}@bench.example\"")),
        ),
        (
            "userName sw and title eq",
            Box::new(|i| {
                format!(
                    "userName sw \"user{:04}\" and title eq \"staff nurse\"",
                    i / 100
                )
            }),
        ),
        (
            "name.familyName co (scan)",
            Box::new(|i| format!("name.familyName co \"{:05}\"", i / 10)),
        ),
    ];
    for (name, filter) in shapes {
        let mut samples = Vec::with_capacity(args.queries);
        for q in 0..args.queries {
            let i = (q * 7919) % args.search_users;
            let encoded = encode(&filter(i));
            let t = Instant::now();
            let (status, body) = bench
                .send(
                    reqwest::Method::GET,
                    &format!("/scim/v2/Users?filter={encoded}&startIndex=1&count=100"),
                    &bench.scim,
                    None,
                )
                .await;
            samples.push(t.elapsed());
            assert_eq!(status, 200, "{body}");
            assert!(
                body["totalResults"].as_u64().unwrap() >= 1,
                "{name}: {body}"
            );
        }
        println!("filter {name}: {}", percentiles(samples));
    }
}
