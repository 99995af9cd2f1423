//! The operator API under `/operator/v1`, outside every tenant: platform
//! operators, with a credential of their own (`hms-ach operator issue`),
//! create, list, suspend and resume tenants; the platform ledger records
//! each act and is read here like a tenant's.

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hms_directory::{ApiClient, TenantId, TenantRecord};
use hms_governance::audit::{Actor, Provenance};
use hms_governance::credentials::Scope;
use hms_governance::operators::{self, Operator};
use hms_keys::ShownOnce;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::{bearer_of, provenance_of};
use super::json::ApiJson;

/// The operator routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(suspend_tenant))
        .routes(routes!(resume_tenant))
        .routes(routes!(platform_checkpoint))
        .routes(routes!(platform_export))
}

/// A platform operator, authenticated by their operator credential (never a
/// tenant's): 401 otherwise.
pub struct OperatorCaller {
    provenance: Provenance,
}

impl FromRequestParts<AppState> for OperatorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let refused = || ApiError::Unauthorized("an operator credential is required".into());
        let token = bearer_of(&parts.headers).ok_or_else(refused)?;
        let Operator { id, .. } = operators::authenticate(&app.tenants, token)
            .await?
            .ok_or_else(refused)?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0);
        Ok(Self {
            provenance: provenance_of(Actor::Operator(id), &parts.headers, peer),
        })
    }
}

/// Every tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// The tenants, by id, suspended ones included.
    tenants: Vec<TenantView>,
}

/// A tenant as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// Its id, as in request paths.
    id: String,
    /// Its name.
    display_name: String,
    /// Its local time offset from UTC, in minutes.
    utc_offset_minutes: i64,
    /// When it was created.
    created_at: String,
    /// When it was suspended, if it is.
    suspended_at: Option<String>,
    /// Why.
    suspended_reason: Option<String>,
}

impl From<TenantRecord> for TenantView {
    fn from(record: TenantRecord) -> Self {
        Self {
            id: record.id.to_string(),
            display_name: record.display_name,
            utc_offset_minutes: record.utc_offset_minutes,
            created_at: record.created_at,
            suspended_at: record.suspended_at,
            suspended_reason: record.suspended_reason,
        }
    }
}

/// `GET /operator/v1/tenants`.
#[utoipa::path(
    get,
    path = "/operator/v1/tenants",
    tag = "operator",
    security(("operator" = [])),
    responses((status = 200, description = "Every tenant.", body = TenantList))
)]
pub async fn list_tenants(
    State(app): State<AppState>,
    _caller: OperatorCaller,
) -> Result<Json<TenantList>, ApiError> {
    let tenants = app.tenants.list().await?;
    Ok(Json(TenantList {
        tenants: tenants.into_iter().map(TenantView::from).collect(),
    }))
}

/// The body of `POST /operator/v1/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Its id: lowercase letters, digits and `-`, as in request paths.
    id: String,
    /// Its name; the id when absent.
    #[serde(default)]
    display_name: Option<String>,
    /// Its local time offset from UTC, in minutes (−840 to 840).
    #[serde(default)]
    utc_offset_minutes: i64,
}

/// A new tenant and the first administrator credential of it, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenant {
    /// The tenant.
    tenant: TenantView,
    /// An API client with the `pdp`, `admin` and `audit` scopes.
    admin_client: ApiClient,
    /// Its bearer credential, `client_id.secret`.
    admin_token: ShownOnce,
}

/// `POST /operator/v1/tenants`: a new tenant (database, keys, ledger, the HMS policy set).
#[utoipa::path(
    post,
    path = "/operator/v1/tenants",
    tag = "operator",
    security(("operator" = [])),
    request_body = NewTenant,
    responses(
        (status = 201, description = "Created; the token is not shown again.", body = CreatedTenant),
        (status = 409, description = "The id is taken.", body = super::openapi::ErrorBody),
    )
)]
pub async fn create_tenant(
    State(app): State<AppState>,
    caller: OperatorCaller,
    ApiJson(body): ApiJson<NewTenant>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    let id: TenantId = body.id.parse().map_err(|e: hms_directory::StoreError| {
        ApiError::bad_request("invalid_tenant_id", e.to_string())
    })?;
    let name = body.display_name.as_deref().unwrap_or(id.as_str());
    let by = &caller.provenance;
    let tenant = app
        .tenants
        .create(&id, name, body.utc_offset_minutes, by)
        .await?;
    let scopes = [Scope::Pdp, Scope::Admin, Scope::Audit];
    let (admin_client, admin_token) = tenant.create_client("administrator", &scopes, by).await?;
    let created = CreatedTenant {
        tenant: TenantView::from(tenant.record.clone()),
        admin_client,
        admin_token,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// The body of a suspension.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    /// Why, for the platform ledger and the tenant list.
    reason: String,
}

/// What a suspension or resumption did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuspensionState {
    /// The tenant.
    tenant: String,
    /// Whether it is suspended now.
    suspended: bool,
    /// Whether this request changed that (`false`: it was already so).
    changed: bool,
}

/// `POST /operator/v1/tenants/{id}/suspend`: every request to the tenant is
/// refused (403 `tenant_suspended`), on every node, until it is resumed.
#[utoipa::path(
    post,
    path = "/operator/v1/tenants/{id}/suspend",
    tag = "operator",
    security(("operator" = [])),
    request_body = Suspension,
    responses(
        (status = 200, description = "Suspended.", body = SuspensionState),
        (status = 404, description = "No such tenant.", body = super::openapi::ErrorBody),
    )
)]
pub async fn suspend_tenant(
    State(app): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Suspension>,
) -> Result<Json<SuspensionState>, ApiError> {
    let id = tenant_id(&id)?;
    let changed = operators::suspend(&app.tenants, &id, &body.reason, &caller.provenance).await?;
    Ok(Json(SuspensionState {
        tenant: id.to_string(),
        suspended: true,
        changed,
    }))
}

/// `POST /operator/v1/tenants/{id}/resume`: a suspended tenant is served again.
#[utoipa::path(
    post,
    path = "/operator/v1/tenants/{id}/resume",
    tag = "operator",
    security(("operator" = [])),
    responses(
        (status = 200, description = "Served again.", body = SuspensionState),
        (status = 404, description = "No such tenant.", body = super::openapi::ErrorBody),
    )
)]
pub async fn resume_tenant(
    State(app): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
) -> Result<Json<SuspensionState>, ApiError> {
    let id = tenant_id(&id)?;
    let changed = operators::resume(&app.tenants, &id, &caller.provenance).await?;
    Ok(Json(SuspensionState {
        tenant: id.to_string(),
        suspended: false,
        changed,
    }))
}

fn tenant_id(id: &str) -> Result<TenantId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("unknown tenant `{id}`")))
}

/// `GET /operator/v1/ledger/checkpoint`: the platform ledger's latest signed checkpoint.
#[utoipa::path(
    get,
    path = "/operator/v1/ledger/checkpoint",
    tag = "operator",
    security(("operator" = [])),
    responses(
        (status = 200, description = "The signed note.", body = String, content_type = "text/plain"),
        (status = 404, description = "Nothing recorded yet.", body = super::openapi::ErrorBody),
    )
)]
pub async fn platform_checkpoint(
    State(app): State<AppState>,
    _caller: OperatorCaller,
) -> Result<Response, ApiError> {
    let checkpoint = app
        .tenants
        .platform()
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::NotFound("the platform ledger has no checkpoint yet".into()))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        checkpoint.note,
    )
        .into_response())
}

/// `GET /operator/v1/ledger/export`: the platform ledger's export bundle, for offline verification.
#[utoipa::path(
    get,
    path = "/operator/v1/ledger/export",
    tag = "operator",
    security(("operator" = [])),
    responses((status = 200, description = "The bundle, one JSON object per line.", body = String, content_type = "application/x-ndjson"))
)]
pub async fn platform_export(State(app): State<AppState>, _caller: OperatorCaller) -> Response {
    let tenants = std::sync::Arc::clone(&app.tenants);
    super::ledger::stream_export("platform-ledger.jsonl", move |sink| async move {
        tenants.platform().export(&sink).await
    })
}
