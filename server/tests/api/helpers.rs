//! Starting the app on a fresh database, with a seeded tenant, for each backend.

use hms_ach::app::Application;
use hms_ach::config::Settings;
use hms_governance::credentials::Scope;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// A running app with one seeded tenant and credentials for it.
pub struct TestApp {
    pub base: String,
    pub http: Client,
    pub tenant: String,
    /// Token with `pdp`, `admin` and `audit` scopes.
    pub admin_token: String,
    /// Token with the `pdp` scope only.
    pub pdp_token: String,
    pub state: hms_ach::http::AppState,
    pub backend: &'static str,
    _dir: tempfile::TempDir,
}

/// Both backends, each with a fresh app.
pub async fn apps() -> Vec<TestApp> {
    vec![spawn("sqlite").await, spawn("postgres").await]
}

/// The master key tests seal ledger keys with (base64 of 32 bytes).
pub const MASTER_KEY: &str = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=";

/// Provenance for set-up work done by a test.
pub fn by_test() -> hms_governance::audit::Provenance {
    hms_governance::audit::Provenance::local(hms_governance::audit::Actor::Cli)
}

pub fn postgres_url() -> String {
    std::env::var("HMS_ACH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn settings_for(backend: &str, dir: &std::path::Path) -> Settings {
    settings_with(backend, dir, "")
}

/// [`settings_for`] with `extra` TOML appended (after the `[ledger]` table).
pub fn settings_with(backend: &str, dir: &std::path::Path, extra: &str) -> Settings {
    let unique = format!(
        "hmst_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000_000
    );
    let database_url = match backend {
        "sqlite" => format!("sqlite://{}", dir.display()),
        _ => postgres_url(),
    };
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndatabase_url = \"{database_url}\"\ndatabase_prefix = \"{unique}\"\ndemo = false\n\
         [ledger]\nmaster_key = \"{MASTER_KEY}\"\n{extra}"
    );
    let file = dir.join("hms-ach.toml");
    std::fs::write(&file, toml).unwrap();
    Settings::load(Some(&file), Default::default()).unwrap()
}

pub async fn spawn(backend: &'static str) -> TestApp {
    spawn_in(backend, tempfile::tempdir().unwrap()).await
}

/// Like [`spawn`], with the SQLite files (and the settings) in `dir`.
pub async fn spawn_in(backend: &'static str, dir: tempfile::TempDir) -> TestApp {
    let settings = settings_for(backend, dir.path());
    spawn_settings(backend, dir, settings).await
}

/// Like [`spawn`], with `extra` configuration (see [`settings_with`]).
pub async fn spawn_configured(backend: &'static str, extra: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_with(backend, dir.path(), extra);
    spawn_settings(backend, dir, settings).await
}

pub async fn spawn_settings(
    backend: &'static str,
    dir: tempfile::TempDir,
    settings: Settings,
) -> TestApp {
    let app = Application::build(settings).await.expect("app builds");
    let base = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    tokio::spawn(app.run());
    let tenant = state
        .tenants
        .create(&"st-marys".parse().unwrap(), "St Mary's", 0, &by_test())
        .await
        .unwrap();
    let (_, admin_token) = tenant
        .create_client(
            "test-admin",
            &[Scope::Pdp, Scope::Admin, Scope::Audit],
            &by_test(),
        )
        .await
        .unwrap();
    let admin_token = admin_token.expose().to_owned();
    let (_, pdp_token) = tenant
        .create_client("test-emr", &[Scope::Pdp], &by_test())
        .await
        .unwrap();
    let pdp_token = pdp_token.expose().to_owned();
    let app = TestApp {
        base,
        http: Client::new(),
        tenant: "st-marys".into(),
        admin_token,
        pdp_token,
        state,
        backend,
        _dir: dir,
    };
    app.seed().await;
    app
}

impl TestApp {
    /// The configuration file the node runs with, for the command line.
    pub fn config_file(&self) -> std::path::PathBuf {
        self._dir.path().join("hms-ach.toml")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}{}", self.base, self.tenant, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.http
            .put(self.url(path))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap()
    }

    /// The AuthZEN decision for a request.
    pub async fn evaluate(&self, request: &Value) -> bool {
        let response = self.post("/access/v1/evaluation", request).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", self.backend);
        response.json::<Value>().await.unwrap()["decision"]
            .as_bool()
            .unwrap()
    }

    /// Asks for `request` until it is permitted, for at most five seconds,
    /// and returns the answer: after a failed write, the ledger writer tries
    /// again only after a backoff of up to a second.
    pub async fn permitted_once_the_ledger_writes(&self, request: &Value) -> Value {
        let started = std::time::Instant::now();
        loop {
            let response = self.post("/access/v1/evaluation", request).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", self.backend);
            let answer: Value = response.json().await.unwrap();
            if answer["decision"] == true {
                return answer;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "no permit five seconds after the ledger was mended: {answer}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn seed(&self) {
        let staff = json!([
            staff("dr-heart", "doctor", "cardiology", Some("medical_licence")),
            staff("dr-bone", "doctor", "orthopaedics", Some("medical_licence")),
            staff(
                "nurse-heart",
                "nurse",
                "cardiology",
                Some("nursing_licence")
            ),
            staff("desk", "receptionist", "front-desk", None),
        ]);
        assert_eq!(
            self.put("/v1/directory/staff", &staff).await.status(),
            StatusCode::OK
        );
        let patients = json!([
            {"id": "p1", "care_team": ["dr-heart"]},
            {"id": "p2", "care_team": ["dr-bone"]},
        ]);
        assert_eq!(
            self.put("/v1/directory/patients", &patients).await.status(),
            StatusCode::OK
        );
        let encounters = json!([{"id": "e1", "patient_id": "p1", "department": "cardiology"}]);
        assert_eq!(
            self.put("/v1/directory/encounters", &encounters)
                .await
                .status(),
            StatusCode::OK
        );
    }
}

pub fn staff(id: &str, role: &str, department: &str, licence: Option<&str>) -> Value {
    let credentials: Vec<Value> = licence
        .map(|kind| json!({"kind": kind, "number": format!("{id}-1"), "status": "active", "expires": "2035-01-01"}))
        .into_iter()
        .collect();
    json!({"id": id, "given_name": id, "family_name": "Test", "roles": [role], "department": department, "credentials": credentials})
}

/// An AuthZEN request for a patient-owned record.
pub fn record_request(staff: &str, action: &str, kind: &str, patient: &str) -> Value {
    json!({
        "subject": {"type": "Staff", "id": staff},
        "action": {"name": action},
        "resource": {"type": kind, "id": "r-1", "properties": {"patient": {"type": "Patient", "id": patient}}}
    })
}

/// The error code of an error response, checking the status.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
