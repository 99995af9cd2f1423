//! API client administration: issue (secret shown once), list, revoke.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiJson;
use hms_governance::credentials::Scope;

/// The body of `POST /{tenant}/v1/clients`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    name: String,
    scopes: Vec<String>,
}

/// `POST /{tenant}/v1/clients`: a new client; its token is in this answer only.
pub async fn create(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(body): ApiJson<NewClient>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    Ok((
        StatusCode::CREATED,
        Json(json!({ "client": client, "token": token })),
    ))
}

/// `GET /{tenant}/v1/clients`.
pub async fn list(Extension(ctx): Extension<TenantContext>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "clients": ctx.tenant.store.list_clients().await? }),
    ))
}

/// `DELETE /{tenant}/v1/clients/{id}`: revoked at once on this node.
pub async fn revoke(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    ctx.tenant.revoke_client(&id, &ctx.provenance).await?;
    Ok(StatusCode::NO_CONTENT)
}
