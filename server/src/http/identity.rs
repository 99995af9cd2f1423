//! Identity administration under `/{tenant}/v1/identity` over HTTP: identity
//! providers, login settings, sessions, second-factor resets and token keys.
//! The workflow is `hms_governance::identity`.

use axum::Json;
use axum::extract::Path;
use hms_governance::identity;
use hms_idp_bridge::providers::{self, ProviderConfig, StoredProvider};
use hms_idp_bridge::sessions::{SessionRecord, SessionTable};
use hms_idp_bridge::settings::IdentitySettings;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::{ApiJson, ApiQuery};
use super::precondition::{IfMatch, Tagged};

/// The identity administration routes, behind an `admin` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_providers))
        .routes(routes!(put_provider, delete_provider))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(reset_mfa))
        .routes(routes!(rotate_token_key))
}

/// An identity provider as the API shows it: its id and configuration, without secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// The tenant's id for it.
    id: String,
    /// Its configuration.
    #[serde(flatten)]
    config: ProviderConfig,
}

impl From<&StoredProvider> for ProviderView {
    fn from(provider: &StoredProvider) -> Self {
        Self {
            id: provider.id.clone(),
            config: provider.config.clone(),
        }
    }
}

/// The tenant's identity providers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Providers {
    /// Every provider.
    providers: Vec<ProviderView>,
}

/// `GET /{tenant}/v1/identity/providers`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/identity/providers",
    tag = "identity",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Every provider.", body = Providers))
)]
pub async fn list_providers(ctx: AdminClient) -> Result<Json<Providers>, ApiError> {
    let all = providers::list(ctx.tenant.store.pool()).await?;
    Ok(Json(Providers {
        providers: all.iter().map(ProviderView::from).collect(),
    }))
}

/// `PUT /{tenant}/v1/identity/providers/{id}`: checked before it is stored —
/// OIDC discovery must succeed, SAML metadata must carry a signing certificate.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/identity/providers/{id}",
    tag = "identity",
    security(("client" = ["admin"])),
    request_body = ProviderConfig,
    responses(
        (status = 200, description = "Stored.", body = ProviderView),
        (status = 502, description = "The IdP's discovery or metadata could not be read.", body = super::openapi::ErrorBody),
    )
)]
pub async fn put_provider(
    ctx: AdminClient,
    Path((_, id)): Path<(String, String)>,
    ApiJson(config): ApiJson<ProviderConfig>,
) -> Result<Json<ProviderView>, ApiError> {
    let stored = identity::put_provider(&ctx.tenant, &id, config, &ctx.provenance).await?;
    Ok(Json(ProviderView::from(&stored)))
}

/// A provider removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedProvider {
    /// Its id.
    deleted: String,
}

/// `DELETE /{tenant}/v1/identity/providers/{id}`.
#[utoipa::path(
    delete,
    path = "/{tenant}/v1/identity/providers/{id}",
    tag = "identity",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Removed.", body = DeletedProvider))
)]
pub async fn delete_provider(
    ctx: AdminClient,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<DeletedProvider>, ApiError> {
    identity::delete_provider(&ctx.tenant, &id, &ctx.provenance).await?;
    Ok(Json(DeletedProvider { deleted: id }))
}

/// `GET /{tenant}/v1/identity/settings`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/identity/settings",
    tag = "identity",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The settings in force.", body = IdentitySettings,
        headers(("ETag" = String, description = "Their entity tag, for `If-Match` on the next write."))))
)]
pub async fn get_settings(ctx: AdminClient) -> Tagged<IdentitySettings> {
    Tagged::by_content(ctx.tenant.identity.settings().as_ref().clone())
}

/// `PUT /{tenant}/v1/identity/settings`.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/identity/settings",
    tag = "identity",
    security(("client" = ["admin"])),
    params(IfMatch),
    request_body = IdentitySettings,
    responses((status = 200, description = "The settings now in force.", body = IdentitySettings,
        headers(("ETag" = String, description = "Their entity tag."))))
)]
pub async fn put_settings(
    ctx: AdminClient,
    IfMatch(based_on): IfMatch,
    ApiJson(new): ApiJson<IdentitySettings>,
) -> Result<Tagged<IdentitySettings>, ApiError> {
    identity::put_settings(&ctx.tenant, &new, &based_on, &ctx.provenance).await?;
    Ok(Tagged::by_content(new))
}

/// The filter of a session listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionFilter {
    /// Only this staff member's sessions.
    #[serde(default)]
    staff_id: Option<String>,
}

/// Sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sessions {
    /// The sessions.
    sessions: Vec<SessionRecord>,
}

/// `GET /{tenant}/v1/identity/sessions[?staff_id=]`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/identity/sessions",
    tag = "identity",
    security(("client" = ["admin"])),
    params(SessionFilter),
    responses((status = 200, description = "The sessions.", body = Sessions))
)]
pub async fn list_sessions(
    ctx: AdminClient,
    ApiQuery(filter): ApiQuery<SessionFilter>,
) -> Result<Json<Sessions>, ApiError> {
    let sessions = SessionTable::list(ctx.tenant.store.pool(), filter.staff_id.as_deref()).await?;
    Ok(Json(Sessions { sessions }))
}

/// A session ended by an administrator.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedSession {
    /// The session.
    session_id: String,
    /// Whether it was live until now (`false`: it had ended already).
    revoked: bool,
}

/// `DELETE /{tenant}/v1/identity/sessions/{id}`: ends a session at once.
#[utoipa::path(
    delete,
    path = "/{tenant}/v1/identity/sessions/{id}",
    tag = "identity",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Ended.", body = RevokedSession))
)]
pub async fn revoke_session(
    ctx: AdminClient,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<RevokedSession>, ApiError> {
    let revoked = identity::revoke_session(&ctx.tenant, &id, &ctx.provenance)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no session `{id}`")))?;
    Ok(Json(RevokedSession {
        session_id: id,
        revoked,
    }))
}

/// A second factor removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorReset {
    /// Whose.
    staff_id: String,
    /// Always `true`.
    reset: bool,
}

/// `DELETE /{tenant}/v1/identity/mfa/{staff_id}`: removes a person's second
/// factor so they enrol again at their next login.
#[utoipa::path(
    delete,
    path = "/{tenant}/v1/identity/mfa/{staff_id}",
    tag = "identity",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Removed.", body = FactorReset))
)]
pub async fn reset_mfa(
    ctx: AdminClient,
    Path((_, staff_id)): Path<(String, String)>,
) -> Result<Json<FactorReset>, ApiError> {
    if !identity::reset_factor(&ctx.tenant, &staff_id, &ctx.provenance).await? {
        return Err(ApiError::NotFound(format!(
            "`{staff_id}` has no second factor enrolled"
        )));
    }
    Ok(Json(FactorReset {
        staff_id,
        reset: true,
    }))
}

/// `POST /{tenant}/v1/identity/token-keys/rotate`: a new signing key; the old
/// one stays in the JWKS so tokens it signed still verify until they expire.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/identity/token-keys/rotate",
    tag = "identity",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The JWKS (RFC 7517) now published.", body = Object))
)]
pub async fn rotate_token_key(ctx: AdminClient) -> Result<Json<Value>, ApiError> {
    let jwks = identity::rotate_token_key(&ctx.tenant, &ctx.provenance).await?;
    Ok(Json(jwks))
}
