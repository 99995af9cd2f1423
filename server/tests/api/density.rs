//! Many tenants on one node: tenants are opened when first used and closed
//! when idle or least recently used, so a node's PostgreSQL connections stay
//! bounded whatever the number of tenants; a command opens only the tenant
//! it names.

use std::time::Duration;

use hms_directory::CONNECTIONS_PER_DATABASE;
use hms_governance::credentials::Scope;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    MASTER_KEY, TestApp, by_test, postgres_url, record_request, spawn_configured,
};
use crate::hr::{HrSystem, event};

/// Connections held by the service to its own databases (catalog and tenants).
async fn connections_of(app: &TestApp) -> i64 {
    let admin = sqlx::PgPool::connect(&format!("{}/postgres", postgres_url()))
        .await
        .unwrap();
    let pattern = format!("{}%", app.state.settings.database_prefix);
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE $1")
            .bind(pattern)
            .fetch_one(&admin)
            .await
            .unwrap();
    admin.close().await;
    count
}

/// Creates tenant `id` with one patient and doctor; a PDP credential for it.
async fn hospital(app: &TestApp, id: &str) -> String {
    let tenant = app
        .state
        .tenants
        .create(&id.parse().unwrap(), id, 0, &by_test())
        .await
        .unwrap();
    let (_, token) = tenant
        .create_client("emr", &[Scope::Pdp, Scope::Admin], &by_test())
        .await
        .unwrap();
    token.expose().to_owned()
}

async fn decide(app: &TestApp, tenant: &str, token: &str) -> StatusCode {
    let response = app
        .http
        .post(format!("{}/{tenant}/access/v1/evaluation", app.base))
        .bearer_auth(token)
        .json(&record_request("dr-heart", "read_vitals", "Vitals", "p1"))
        .send()
        .await
        .unwrap();
    response.status()
}

#[tokio::test]
async fn a_node_keeps_few_tenants_open_and_connections_bounded_whatever_their_number() {
    const OPEN: usize = 2;
    let app = spawn_configured(
        "postgres",
        &format!("[tenancy]\nmax_open = {OPEN}\nidle_close_secs = 1\n"),
    )
    .await;
    let mut hospitals = Vec::new();
    for n in 0..12 {
        let id = format!("hospital-{n}");
        let token = hospital(&app, &id).await;
        assert!(app.state.tenants.served().len() <= OPEN);
        hospitals.push((id, token));
    }
    // Every tenant answers, each opened again as it is asked.
    for _ in 0..2 {
        for (id, token) in &hospitals {
            assert_eq!(decide(&app, id, token).await, StatusCode::OK, "{id}");
            assert!(app.state.tenants.served().len() <= OPEN);
        }
    }
    // Connections of closed tenants end once their last requests are done.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let per_database = i64::from(CONNECTIONS_PER_DATABASE);
    // The open tenants, the catalog, the change listener and the scheduler lock.
    let bound = per_database * OPEN as i64 + per_database + 2;
    let held = connections_of(&app).await;
    assert!(
        held <= bound,
        "{held} connections for 13 tenants, more than {bound}"
    );

    // Idle tenants are closed, and open again on their next request.
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.state.tenants.close_idle().await;
    assert!(app.state.tenants.served().is_empty());
    let (id, token) = &hospitals[0];
    assert_eq!(decide(&app, id, token).await, StatusCode::OK);
}

#[tokio::test]
async fn a_command_opens_only_the_tenant_it_names() {
    let app = spawn_configured("postgres", "").await;
    hospital(&app, "closed-ward").await;
    // The other tenant's database refuses every connection: a command that
    // opened every tenant would fail.
    let prefix = app.state.settings.database_prefix.clone();
    let closed = format!("{prefix}_t_closed_ward");
    let admin = sqlx::PgPool::connect(&format!("{}/postgres", postgres_url()))
        .await
        .unwrap();
    let refuse = |allow: bool| format!("ALTER DATABASE \"{closed}\" ALLOW_CONNECTIONS {allow}");
    sqlx::query(&refuse(false)).execute(&admin).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&closed)
        .execute(&admin)
        .await
        .unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hms-ach"))
        .args([
            "client", "create", "--tenant", "st-marys", "--name", "lab", "--scope", "pdp",
        ])
        .env("HMS_ACH__DATABASE_URL", postgres_url())
        .env("HMS_ACH__DATABASE_PREFIX", &prefix)
        .env("HMS_ACH__LEDGER__MASTER_KEY", MASTER_KEY)
        .env("HMS_ACH__DEMO", "false")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = stdout.lines().last().unwrap().trim();
    assert_eq!(
        decide(&app, "st-marys", token).await,
        StatusCode::OK,
        "the new client works"
    );
    sqlx::query(&refuse(true)).execute(&admin).await.unwrap();
    let listed: serde_json::Value = app.get("/v1/clients").await.json().await.unwrap();
    assert!(
        listed["clients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == json!("lab"))
    );
    admin.close().await;
}

#[tokio::test]
async fn scheduled_work_opens_its_tenant_and_no_other() {
    let app = spawn_configured("postgres", "[tenancy]\nidle_close_secs = 1\n").await;
    hospital(&app, "quiet-ward").await;
    let hr = HrSystem::connect(&app).await;
    let start = time::OffsetDateTime::now_utc() + time::Duration::seconds(8);
    let start = start
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let hire = event(
        "evt-closed-hire",
        "hire",
        &start,
        json!({"id": "E-7001", "department": "Cardiology"}),
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let answer = hr.deliver_signed(&hire.to_string(), now, &hr.secret).await;
    assert_eq!(answer.status(), StatusCode::ACCEPTED);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.state.tenants.close_idle().await;
    assert!(app.state.tenants.served().is_empty(), "both tenants closed");
    let opened = |id: &str| app.state.tenants.served().iter().any(|t| t.id() == id);
    let started = std::time::Instant::now();
    while !opened("st-marys") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the hire was never applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !opened("quiet-ward"),
        "a tenant with nothing due stays closed"
    );
    let hired = app.get("/v1/directory/staff/E-7001").await;
    assert_eq!(
        hired.status(),
        StatusCode::OK,
        "applied when the scheduler opened it"
    );
}
