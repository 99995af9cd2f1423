//! API client administration: issue (secret shown once), list, revoke.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use hms_directory::ApiClient;
use hms_keys::ShownOnce;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::ApiJson;
use hms_governance::credentials::Scope;

/// The client routes, behind an `admin` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// The body of `POST /{tenant}/v1/clients`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// Who or what the client is, e.g. `emr-production`.
    name: String,
    /// What it may call: `pdp`, `admin`, `audit`, or `scim` alone.
    scopes: Vec<String>,
}

/// A new client and its credential, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedClient {
    /// The client.
    client: ApiClient,
    /// Its bearer credential, `client_id.secret`.
    token: ShownOnce,
}

/// `POST /{tenant}/v1/clients`: a new client; its token is in this answer only.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/clients",
    tag = "clients",
    security(("client" = ["admin"])),
    request_body = NewClient,
    responses((status = 201, description = "Issued; the token is not shown again.", body = IssuedClient))
)]
pub async fn create(
    ctx: AdminClient,
    ApiJson(body): ApiJson<NewClient>,
) -> Result<(StatusCode, Json<IssuedClient>), ApiError> {
    let scopes = body
        .scopes
        .iter()
        .map(|s| {
            Scope::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_scope",
                    format!("unknown scope `{s}` (pdp, admin, audit, scim)"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let (client, token) = ctx
        .tenant
        .create_client(&body.name, &scopes, &ctx.provenance)
        .await?;
    Ok((StatusCode::CREATED, Json(IssuedClient { client, token })))
}

/// The tenant's clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct Clients {
    /// Every client, revoked ones included.
    clients: Vec<ApiClient>,
}

/// `GET /{tenant}/v1/clients`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/clients",
    tag = "clients",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Every client.", body = Clients))
)]
pub async fn list(ctx: AdminClient) -> Result<Json<Clients>, ApiError> {
    let clients = ctx.tenant.store.list_clients().await?;
    Ok(Json(Clients { clients }))
}

/// `DELETE /{tenant}/v1/clients/{id}`: revoked at once on this node.
#[utoipa::path(
    delete,
    path = "/{tenant}/v1/clients/{id}",
    tag = "clients",
    security(("client" = ["admin"])),
    responses((status = 204, description = "Revoked."))
)]
pub async fn revoke(
    ctx: AdminClient,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    ctx.tenant.revoke_client(&id, &ctx.provenance).await?;
    Ok(StatusCode::NO_CONTENT)
}
