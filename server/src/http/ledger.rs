//! The audit ledger over HTTP: entries, checkpoints, proofs, public keys and export bundles.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hms_audit_ledger::store::EntryFilter;
use hms_audit_ledger::{BundleLine, Entry, Timestamp, siem};
use hms_directory::RecordingSettings;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::gate::TenantContext;
use super::json::{ApiJson, ApiQuery};

/// Most entries or checkpoints in one page.
const MAX_PAGE: u32 = 1000;

/// Paging parameters.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// Only items after this (a sequence number or tree size).
    #[serde(default)]
    after: Option<u64>,
    /// Items per page, 1 to 1000 (default 100).
    #[serde(default)]
    limit: Option<u32>,
}

impl Page {
    fn limit(&self) -> Result<u32, ApiError> {
        match self.limit.unwrap_or(100) {
            n @ 1..=MAX_PAGE => Ok(n),
            n => Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be 1 to {MAX_PAGE}, not {n}"),
            )),
        }
    }
}

/// Entry filter, paging and format, from the query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    after: Option<u64>,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
    actor: Option<String>,
    subject: Option<String>,
    patient: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    decision_id: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// `json` (default), `fhir` (an R4 Bundle of AuditEvents) or `syslog` (RFC 5424 lines).
    format: Option<String>,
}

impl EntriesQuery {
    fn filter(&self) -> EntryFilter {
        EntryFilter {
            after: self.after,
            from: self.from,
            until: self.until,
            actor: self.actor.clone(),
            subject: self.subject.clone(),
            patient: self.patient.clone(),
            kind: self.kind.clone(),
            outcome: self.outcome.clone(),
            decision_id: self.decision_id.clone(),
        }
    }
}

/// `GET /{tenant}/ledger/entries`: entries in sequence order, filtered by time,
/// actor, subject, patient, kind, outcome or decision id; `next_after` pages on.
/// `format=fhir` answers a FHIR R4 Bundle of AuditEvents, `format=syslog` RFC 5424 lines.
pub async fn entries(
    Extension(ctx): Extension<TenantContext>,
    ApiQuery(query): ApiQuery<EntriesQuery>,
) -> Result<Response, ApiError> {
    let limit = Page {
        after: None,
        limit: query.limit,
    }
    .limit()?;
    let found = ctx.tenant.ledger.entries(&query.filter(), limit).await?;
    let next_after = (found.len() == limit as usize)
        .then(|| found.last().map(|(entry, _)| entry.sequence))
        .flatten();
    let entries: Vec<Entry> = found.into_iter().map(|(entry, _)| entry).collect();
    let origin = ctx.tenant.ledger.origin();
    match query.format.as_deref().unwrap_or("json") {
        "json" => {
            let entries: Vec<Value> = entries.into_iter().map(entry_json).collect();
            Ok(Json(json!({ "entries": entries, "next_after": next_after })).into_response())
        }
        "fhir" => Ok((
            [(header::CONTENT_TYPE, "application/fhir+json")],
            Json(siem::fhir_bundle(&entries, origin)),
        )
            .into_response()),
        "syslog" => {
            let lines: String = entries
                .iter()
                .map(|entry| siem::syslog_line(entry, origin) + "\n")
                .collect();
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response())
        }
        other => Err(ApiError::bad_request(
            "invalid_query",
            format!("unknown format `{other}` (json, fhir, syslog)"),
        )),
    }
}

/// `GET /{tenant}/ledger/entries/{sequence}`.
pub async fn entry(
    Extension(ctx): Extension<TenantContext>,
    axum::extract::Path((_, sequence)): axum::extract::Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let sequence: u64 = sequence.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_path",
            format!("`{sequence}` is not a sequence number"),
        )
    })?;
    let filter = EntryFilter {
        after: sequence.checked_sub(1),
        ..EntryFilter::default()
    };
    let found = ctx.tenant.ledger.entries(&filter, 1).await?;
    match found.into_iter().next() {
        Some((entry, _)) if entry.sequence == sequence => Ok(Json(entry_json(entry))),
        _ => Err(ApiError::NotFound(format!(
            "ledger entry {sequence} not found"
        ))),
    }
}

/// An entry as the API shows it: the bundle's entry line.
fn entry_json(entry: Entry) -> Value {
    let line = BundleLine::Entry(entry).to_json_line();
    let mut value: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("type");
    }
    value
}

/// `GET /{tenant}/ledger/checkpoints`: signed checkpoints, smallest tree first.
pub async fn checkpoints(
    Extension(ctx): Extension<TenantContext>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let limit = page.limit()?;
    let found = ctx
        .tenant
        .ledger
        .checkpoints(page.after.unwrap_or(0), limit)
        .await?;
    let next_after = (found.len() == limit as usize)
        .then(|| found.last().map(|c| c.tree_size))
        .flatten();
    Ok(Json(
        json!({ "checkpoints": found, "next_after": next_after }),
    ))
}

/// `GET /{tenant}/ledger/checkpoint`: the latest signed checkpoint as a
/// C2SP signed note (`text/plain`), as transparency-log tools fetch it.
pub async fn latest_checkpoint(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Response, ApiError> {
    let checkpoint = ctx
        .tenant
        .ledger
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::NotFound("the ledger has no checkpoint yet".into()))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        checkpoint.note,
    )
        .into_response())
}

/// Parameters of an inclusion proof.
#[derive(Debug, Deserialize)]
pub struct InclusionQuery {
    sequence: u64,
    #[serde(default)]
    tree_size: Option<u64>,
}

/// `GET /{tenant}/ledger/proofs/inclusion?sequence=N[&tree_size=M]`.
pub async fn inclusion_proof(
    Extension(ctx): Extension<TenantContext>,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<Value>, ApiError> {
    let proof = ctx
        .tenant
        .ledger
        .inclusion_proof(query.sequence, query.tree_size)
        .await?;
    Ok(Json(json!(proof)))
}

/// Parameters of a consistency proof.
#[derive(Debug, Deserialize)]
pub struct ConsistencyQuery {
    old_size: u64,
    new_size: u64,
}

/// `GET /{tenant}/ledger/proofs/consistency?old_size=N&new_size=M`.
pub async fn consistency_proof(
    Extension(ctx): Extension<TenantContext>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<Value>, ApiError> {
    let proof = ctx
        .tenant
        .ledger
        .consistency_proof(query.old_size, query.new_size)
        .await?;
    Ok(Json(json!(proof)))
}

/// `GET /{tenant}/ledger/keys`: every public key, current and retired.
pub async fn keys(Extension(ctx): Extension<TenantContext>) -> Result<Json<Value>, ApiError> {
    let keys = ctx.tenant.ledger.public_keys().await?;
    Ok(Json(
        json!({ "origin": ctx.tenant.ledger.origin(), "keys": keys }),
    ))
}

/// `POST /{tenant}/ledger/keys/rotate` (admin): a new signing key; the old one stays published.
pub async fn rotate_key(
    axum::extract::State(app): axum::extract::State<super::AppState>,
    Extension(ctx): Extension<TenantContext>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let key = ctx
        .tenant
        .ledger
        .rotate_key(app.tenants.master_key(), &ctx.provenance.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(key))))
}

/// `GET /{tenant}/ledger/settings`: when decisions are answered relative to their entries.
pub async fn settings(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<RecordingSettings>, ApiError> {
    Ok(Json(ctx.tenant.store.ledger_settings().await?))
}

/// `PUT /{tenant}/ledger/settings`: changes them, recorded in the ledger.
pub async fn set_settings(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(settings): ApiJson<RecordingSettings>,
) -> Result<Json<RecordingSettings>, ApiError> {
    ctx.tenant
        .set_ledger_settings(&settings, &ctx.provenance)
        .await?;
    Ok(Json(settings))
}

/// `GET /{tenant}/ledger/export`: the export bundle as JSON lines, streamed.
pub async fn export(Extension(ctx): Extension<TenantContext>) -> Response {
    let (sink, lines) = tokio::sync::mpsc::channel::<String>(256);
    let filename = format!("attachment; filename=\"{}-ledger.jsonl\"", ctx.tenant.id());
    let tenant = ctx.tenant;
    tokio::spawn(async move {
        if let Err(error) = tenant.ledger.export(&sink).await {
            tracing::error!(tenant = tenant.id(), %error, "ledger export failed");
        }
    });
    let stream = futures_util::stream::unfold(lines, |mut lines| async move {
        let line = lines.recv().await?;
        Some((Ok::<_, std::io::Error>(format!("{line}\n")), lines))
    });
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
