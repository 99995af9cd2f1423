//! `hms-ach witness serve`: a C2SP tlog-witness a hospital runs apart from
//! the service (another host, another administrator), so that whoever
//! controls the service's database cannot roll its ledgers back unseen.
//!
//! It follows the ledgers whose keys it is given, remembers the latest
//! checkpoint it cosigned for each in a state file (written and synced
//! before it answers), and cosigns a new one only when a consistency proof
//! shows it extends that one. `GET /latest?origin=…` returns that latest
//! cosigned checkpoint, for verifiers that ask the witness directly.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hms_audit_ledger::checkpoint::parse_unverified;
use hms_audit_ledger::witness::check_add_checkpoint;
use hms_audit_ledger::{AddCheckpoint, CosignerKey, Refusal, Timestamp, VerifierKey, Witnessed};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// Requests larger than this are refused: a checkpoint and 63 proof lines fit many times over.
const MAX_REQUEST_BYTES: usize = 64 << 10;

/// What the witness remembers of one ledger.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LogState {
    size: u64,
    /// Base64 of the root.
    root: String,
    /// The checkpoint note with this witness's cosignature.
    cosigned: String,
}

/// The witness: its key, the ledgers it follows and what it last cosigned.
pub struct WitnessService {
    key: CosignerKey,
    logs: BTreeMap<String, VerifierKey>,
    state_file: PathBuf,
    state: Mutex<BTreeMap<String, LogState>>,
}

impl WitnessService {
    /// A witness signing with `key`, following the ledgers of `logs` (their
    /// vkeys; the key name is the ledger origin), keeping its state in `state_file`.
    pub fn open(
        key: CosignerKey,
        logs: Vec<VerifierKey>,
        state_file: PathBuf,
    ) -> anyhow::Result<Self> {
        let state = match std::fs::read_to_string(&state_file) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!("`{}` is not a witness state file", state_file.display())
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read `{}`", state_file.display()));
            }
        };
        let logs = logs
            .into_iter()
            .map(|key| (key.name().to_owned(), key))
            .collect();
        Ok(Self {
            key,
            logs,
            state_file,
            state: Mutex::new(state),
        })
    }

    /// The witness's routes: `POST /add-checkpoint`, `GET /latest`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .route("/latest", get(latest))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(self)
    }

    /// Checks and cosigns a request, persisting the new state first.
    async fn add(&self, body: &str) -> Result<String, Failure> {
        let request = AddCheckpoint::parse(body)?;
        let origin = parse_unverified(&request.note)
            .map_err(|e| Refusal::Malformed(e.to_string()))?
            .origin;
        let log_key = self
            .logs
            .get(&origin)
            .ok_or_else(|| Refusal::UnknownLog(origin.clone()))?;
        let mut state = self.state.lock().await;
        let held = state.get(&origin).map(witnessed).transpose()?;
        let (checkpoint, text) = check_add_checkpoint(&request, log_key, held.as_ref())?;
        let seconds = u64::try_from(Timestamp::now().unix_micros() / 1_000_000).unwrap_or(0);
        let line = self.key.cosign(text, seconds);
        let mut next = state.clone();
        next.insert(
            origin,
            LogState {
                size: checkpoint.size,
                root: BASE64.encode(checkpoint.root),
                cosigned: format!("{}{line}", request.note),
            },
        );
        persist(&self.state_file, &next).map_err(Failure::Storage)?;
        *state = next;
        Ok(line)
    }
}

/// Why a request was not cosigned.
enum Failure {
    /// The request fails a tlog-witness check.
    Refused(Refusal),
    /// The witness could not keep its new state, so it cosigns nothing.
    Storage(anyhow::Error),
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

fn witnessed(state: &LogState) -> Result<Witnessed, Refusal> {
    let root = BASE64
        .decode(&state.root)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| Refusal::Malformed("the witness state is damaged".into()))?;
    Ok(Witnessed {
        size: state.size,
        root,
    })
}

/// Writes the state to a temporary file, syncs it and renames it over the
/// old one, so a crash leaves the old state or the new, never a mix.
fn persist(path: &Path, state: &BTreeMap<String, LogState>) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(serde_json::to_string_pretty(state)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    if let Some(directory) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(directory)?.sync_all()?;
    }
    Ok(())
}

async fn add_checkpoint(State(witness): State<Arc<WitnessService>>, body: Bytes) -> Response {
    let Ok(body) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "the request is not UTF-8\n").into_response();
    };
    match witness.add(body).await {
        Ok(line) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], line).into_response(),
        Err(Failure::Storage(error)) => {
            tracing::error!(error = format!("{error:#}"), "witness state not written");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the witness cannot keep its state\n",
            )
                .into_response()
        }
        Err(Failure::Refused(Refusal::Conflict { size })) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, "text/x.tlog.size")],
            format!("{size}\n"),
        )
            .into_response(),
        Err(Failure::Refused(refusal)) => {
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
            tracing::warn!(%refusal, "checkpoint not cosigned");
            (status, format!("{refusal}\n")).into_response()
        }
    }
}

#[derive(Deserialize)]
struct LatestQuery {
    origin: String,
}

async fn latest(
    State(witness): State<Arc<WitnessService>>,
    Query(query): Query<LatestQuery>,
) -> Response {
    match witness.state.lock().await.get(&query.origin) {
        Some(state) => state.cosigned.clone().into_response(),
        None => (StatusCode::NOT_FOUND, "nothing cosigned for this origin\n").into_response(),
    }
}

/// Serves the witness on `listen` until the process ends.
pub async fn serve(service: WitnessService, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    serve_on(service, listener).await
}

/// Serves the witness on a bound listener until the process ends.
pub async fn serve_on(
    service: WitnessService,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    tracing::info!(listen = %listener.local_addr()?, witness = %service.key.verifier(), "witness ready");
    axum::serve(listener, Arc::new(service).router()).await?;
    Ok(())
}
