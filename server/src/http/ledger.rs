//! The audit ledger over HTTP: entries, checkpoints, proofs, public keys and export bundles.

use axum::Json;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hms_audit_ledger::store::{
    ConsistencyProof, EntryFilter, InclusionProof, PublishedKey, StoredCheckpoint,
};
use hms_audit_ledger::{Entry, Timestamp, siem};
use hms_directory::RecordingSettings;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::{AdminClient, AuditClient};
use super::json::{ApiJson, ApiQuery};
use super::precondition::{IfMatch, Tagged};

/// Most entries or checkpoints in one page.
const MAX_PAGE: u32 = 1000;

/// The ledger routes: reading behind an `audit` client, keys and settings
/// behind an `admin` one.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(entries))
        .routes(routes!(entry))
        .routes(routes!(latest_checkpoint))
        .routes(routes!(checkpoints))
        .routes(routes!(inclusion_proof))
        .routes(routes!(consistency_proof))
        .routes(routes!(keys))
        .routes(routes!(export))
        .routes(routes!(rotate_key))
        .routes(routes!(settings, set_settings))
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// Only entries after this sequence number.
    after: Option<u64>,
    /// Only entries at or after this time (RFC 3339).
    from: Option<Timestamp>,
    /// Only entries before this time (RFC 3339).
    until: Option<Timestamp>,
    /// Only entries by this actor, e.g. `client:…`, `staff:…`.
    actor: Option<String>,
    /// Only entries about this subject.
    subject: Option<String>,
    /// Only entries about this patient.
    patient: Option<String>,
    /// Only entries of this kind, e.g. `decision`.
    kind: Option<String>,
    /// Only entries with this outcome, e.g. `deny`.
    outcome: Option<String>,
    /// Only the entry of this decision.
    decision_id: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// The answer's format.
    #[param(inline)]
    format: Option<EntriesFormat>,
}

/// How entries are answered.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntriesFormat {
    /// `{"entries": […], "next_after": …}`.
    #[default]
    Json,
    /// A FHIR R4 Bundle of AuditEvents.
    Fhir,
    /// RFC 5424 syslog lines.
    Syslog,
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
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/entries",
    tag = "ledger",
    security(("client" = ["audit"])),
    params(EntriesQuery),
    responses((status = 200, description = "A page of entries.", content(
        (Entries = "application/json"),
        (Object = "application/fhir+json"),
        (String = "text/plain"),
    )))
)]
pub async fn entries(
    ctx: AuditClient,
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
    Ok(match query.format.unwrap_or_default() {
        EntriesFormat::Json => Json(Entries {
            entries,
            next_after,
        })
        .into_response(),
        EntriesFormat::Fhir => (
            [(header::CONTENT_TYPE, "application/fhir+json")],
            Json(siem::fhir_bundle(&entries, origin)),
        )
            .into_response(),
        EntriesFormat::Syslog => {
            let lines: String = entries
                .iter()
                .map(|entry| siem::syslog_line(entry, origin) + "\n")
                .collect();
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response()
        }
    })
}

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Entries {
    /// The entries, in sequence order.
    entries: Vec<Entry>,
    /// Pass as `after` for the next page; `null` on the last one.
    next_after: Option<u64>,
}

/// `GET /{tenant}/ledger/entries/{sequence}`.
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/entries/{sequence}",
    tag = "ledger",
    security(("client" = ["audit"])),
    params(("sequence" = u64, Path, description = "The entry's sequence number.")),
    responses((status = 200, description = "The entry.", body = Entry))
)]
pub async fn entry(
    ctx: AuditClient,
    Path((_, sequence)): Path<(String, String)>,
) -> Result<Json<Entry>, ApiError> {
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
        Some((entry, _)) if entry.sequence == sequence => Ok(Json(entry)),
        _ => Err(ApiError::NotFound(format!(
            "ledger entry {sequence} not found"
        ))),
    }
}

/// A page of checkpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checkpoints {
    /// The checkpoints, smallest tree first.
    checkpoints: Vec<StoredCheckpoint>,
    /// Pass as `after` for the next page; `null` on the last one.
    next_after: Option<u64>,
}

/// `GET /{tenant}/ledger/checkpoints`: signed checkpoints, smallest tree first.
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/checkpoints",
    tag = "ledger",
    security(("client" = ["audit"])),
    params(Page),
    responses((status = 200, description = "A page of checkpoints.", body = Checkpoints))
)]
pub async fn checkpoints(
    ctx: AuditClient,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Checkpoints>, ApiError> {
    let limit = page.limit()?;
    let found = ctx
        .tenant
        .ledger
        .checkpoints(page.after.unwrap_or(0), limit)
        .await?;
    let next_after = (found.len() == limit as usize)
        .then(|| found.last().map(|c| c.tree_size))
        .flatten();
    Ok(Json(Checkpoints {
        checkpoints: found,
        next_after,
    }))
}

/// `GET /{tenant}/ledger/checkpoint`: the latest signed checkpoint as a
/// C2SP signed note (`text/plain`), as transparency-log tools fetch it.
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/checkpoint",
    tag = "ledger",
    security(("client" = ["audit"])),
    responses((status = 200, description = "The signed note.", body = String, content_type = "text/plain"))
)]
pub async fn latest_checkpoint(ctx: AuditClient) -> Result<Response, ApiError> {
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry.
    sequence: u64,
    /// The checkpointed tree size; the latest checkpoint when absent.
    #[serde(default)]
    tree_size: Option<u64>,
}

/// `GET /{tenant}/ledger/proofs/inclusion?sequence=N[&tree_size=M]`.
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/proofs/inclusion",
    tag = "ledger",
    security(("client" = ["audit"])),
    params(InclusionQuery),
    responses((status = 200, description = "The proof.", body = InclusionProof))
)]
pub async fn inclusion_proof(
    ctx: AuditClient,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let proof = ctx
        .tenant
        .ledger
        .inclusion_proof(query.sequence, query.tree_size)
        .await?;
    Ok(Json(proof))
}

/// Parameters of a consistency proof.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older checkpointed tree size.
    old_size: u64,
    /// The newer checkpointed tree size.
    new_size: u64,
}

/// `GET /{tenant}/ledger/proofs/consistency?old_size=N&new_size=M`.
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/proofs/consistency",
    tag = "ledger",
    security(("client" = ["audit"])),
    params(ConsistencyQuery),
    responses((status = 200, description = "The proof.", body = ConsistencyProof))
)]
pub async fn consistency_proof(
    ctx: AuditClient,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let proof = ctx
        .tenant
        .ledger
        .consistency_proof(query.old_size, query.new_size)
        .await?;
    Ok(Json(proof))
}

/// The ledger's public keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerKeys {
    /// The ledger's origin line.
    origin: String,
    /// Every key, current and retired.
    keys: Vec<PublishedKey>,
}

/// `GET /{tenant}/ledger/keys`: every public key, current and retired.
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/keys",
    tag = "ledger",
    security(("client" = ["audit"])),
    responses((status = 200, description = "The keys.", body = LedgerKeys))
)]
pub async fn keys(ctx: AuditClient) -> Result<Json<LedgerKeys>, ApiError> {
    let keys = ctx.tenant.ledger.public_keys().await?;
    Ok(Json(LedgerKeys {
        origin: ctx.tenant.ledger.origin().to_owned(),
        keys,
    }))
}

/// `POST /{tenant}/ledger/keys/rotate` (admin): a new signing key; the old one stays published.
#[utoipa::path(
    post,
    path = "/{tenant}/ledger/keys/rotate",
    tag = "ledger",
    security(("client" = ["admin"])),
    responses((status = 201, description = "The new key.", body = PublishedKey))
)]
pub async fn rotate_key(ctx: AdminClient) -> Result<(StatusCode, Json<PublishedKey>), ApiError> {
    let key = ctx.tenant.rotate_ledger_key(&ctx.provenance).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// `GET /{tenant}/ledger/settings`: when decisions are answered relative to their entries.
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/settings",
    tag = "ledger",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The settings.", body = RecordingSettings,
        headers(("ETag" = String, description = "Their entity tag, for `If-Match` on the next write."))))
)]
pub async fn settings(ctx: AdminClient) -> Result<Tagged<RecordingSettings>, ApiError> {
    Ok(Tagged::by_content(
        ctx.tenant.store.ledger_settings().await?,
    ))
}

/// `PUT /{tenant}/ledger/settings`: changes them, recorded in the ledger.
#[utoipa::path(
    put,
    path = "/{tenant}/ledger/settings",
    tag = "ledger",
    security(("client" = ["admin"])),
    params(IfMatch),
    request_body = RecordingSettings,
    responses((status = 200, description = "The settings now in force.", body = RecordingSettings,
        headers(("ETag" = String, description = "Their entity tag."))))
)]
pub async fn set_settings(
    ctx: AdminClient,
    IfMatch(based_on): IfMatch,
    ApiJson(settings): ApiJson<RecordingSettings>,
) -> Result<Tagged<RecordingSettings>, ApiError> {
    ctx.tenant
        .set_ledger_settings(&settings, &based_on, &ctx.provenance)
        .await?;
    Ok(Tagged::by_content(settings))
}

/// `GET /{tenant}/ledger/export`: the export bundle as JSON lines, streamed.
#[utoipa::path(
    get,
    path = "/{tenant}/ledger/export",
    tag = "ledger",
    security(("client" = ["audit"])),
    responses((status = 200, description = "The bundle: a header, keys, then entries and checkpoints, one JSON object per line.", body = String, content_type = "application/x-ndjson"))
)]
pub async fn export(ctx: AuditClient) -> Response {
    let filename = format!("{}-ledger.jsonl", ctx.tenant.id());
    let tenant = ctx.into_context().tenant;
    stream_export(&filename, move |sink| async move {
        tenant.ledger.export(&sink).await
    })
}

/// A ledger export streamed as it is written: `export` writes the bundle's
/// lines to the sink it is given, on a task of its own.
pub fn stream_export<F, Fut>(filename: &str, export: F) -> Response
where
    F: FnOnce(tokio::sync::mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(), hms_audit_ledger::store::LedgerError>>
        + Send
        + 'static,
{
    let (sink, lines) = tokio::sync::mpsc::channel::<String>(256);
    let export = export(sink);
    let file = filename.to_owned();
    tokio::spawn(async move {
        if let Err(error) = export.await {
            tracing::error!(file, %error, "ledger export failed");
        }
    });
    let stream = futures_util::stream::unfold(lines, |mut lines| async move {
        let line = lines.recv().await?;
        Some((Ok::<_, std::io::Error>(format!("{line}\n")), lines))
    });
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
