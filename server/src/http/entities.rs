//! The entity store over HTTP: the tenant's own Cedar entities (any type its
//! schema declares beyond the directory's), written in all-or-nothing batches
//! and read back with their versions.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::header::ETAG;
use axum::response::IntoResponse;
use hms_governance::tenancy::{EntityBatch, EntityBatchOutcome, VersionedEntity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::{ApiJson, ApiQuery};

/// The largest batch body: room for the most writes a batch may carry.
const BATCH_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Most entities one listing page holds.
const MAX_PAGE: usize = 1000;

/// The entity store routes, behind an `admin` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(write_entities))
        .layer(DefaultBodyLimit::max(BATCH_BODY_BYTES))
        .routes(routes!(list_entities))
        .routes(routes!(get_entity))
}

/// `POST /{tenant}/v1/entities`: creates, replaces and deletes entities, all or nothing.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/entities",
    tag = "entities",
    security(("client" = ["admin"])),
    request_body = EntityBatch,
    responses(
        (status = 200, description = "The whole batch is written and in force at the PDP.", body = EntityBatchOutcome),
        (status = 400, description = "An entity does not fit the schema, or the batch names one twice or a type the directory owns; nothing written.", body = super::openapi::ErrorBody),
    )
)]
pub async fn write_entities(
    ctx: AdminClient,
    ApiJson(batch): ApiJson<EntityBatch>,
) -> Result<Json<EntityBatchOutcome>, ApiError> {
    Ok(Json(
        ctx.tenant.write_entities(batch, &ctx.provenance).await?,
    ))
}

/// Which entities a listing shows.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Fully qualified entity type, e.g. `Hms::LabResult`.
    #[serde(rename = "type")]
    kind: String,
    /// Start after this id (the last id of the page before).
    after: Option<String>,
    /// Most entities on the page (1 to 1000; 100 when absent).
    limit: Option<usize>,
}

/// One page of stored entities of a type, in id order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntityPage {
    /// The entities.
    entities: Vec<VersionedEntity>,
    /// The `after` of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<String>,
}

/// `GET /{tenant}/v1/entities?type=...`: stored entities of one type, a page at a time.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/entities",
    tag = "entities",
    security(("client" = ["admin"])),
    params(ListQuery),
    responses((status = 200, description = "One page, in id order.", body = EntityPage))
)]
pub async fn list_entities(
    ctx: AdminClient,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<EntityPage>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("`limit` is 1 to {MAX_PAGE}"),
        ));
    }
    let mut entities = ctx
        .tenant
        .list_stored_entities(&query.kind, query.after.as_deref(), limit + 1)
        .await?;
    let next_after = (entities.len() > limit).then(|| {
        entities.truncate(limit);
        entities.last().map(|e| e.record.uid.id.clone())
    });
    Ok(Json(EntityPage {
        entities,
        next_after: next_after.flatten(),
    }))
}

/// `GET /{tenant}/v1/entities/{type}/{id}`: one stored entity, its version as `ETag`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/entities/{type}/{id}",
    tag = "entities",
    security(("client" = ["admin"])),
    params(("type" = String, Path, description = "Fully qualified entity type"), ("id" = String, Path, description = "Entity id")),
    responses((status = 200, description = "The entity.", body = VersionedEntity))
)]
pub async fn get_entity(
    ctx: AdminClient,
    Path((_, kind, id)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let entity = ctx
        .tenant
        .stored_entity(&kind, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("entity `{kind}::\"{id}\"`")))?;
    let tag = format!("\"{}\"", entity.version);
    Ok(([(ETAG, tag)], Json(entity)))
}
