//! Identity administration under `/{tenant}/v1/identity`: identity providers,
//! login settings, sessions, second-factor resets and token keys. Every change
//! is recorded in the ledger with the change itself.

use hms_audit_ledger::{EventKind, EventOutcome};
use std::sync::Arc;

use axum::Json;
use axum::extract::Path;
use hms_idp_bridge::IdentityError;
use hms_idp_bridge::mfa;
use hms_idp_bridge::oidc::{OidcRelyingParty, http_client};
use hms_idp_bridge::providers::{self, ProviderConfig, StoredProvider};
use hms_idp_bridge::saml::SamlServiceProvider;
use hms_idp_bridge::sessions::{SessionRecord, SessionTable};
use hms_idp_bridge::settings::{self, IdentitySettings};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::{ApiJson, ApiQuery};
use super::login::Endpoints;
use hms_governance::audit;
use hms_governance::tenancy::Tenant;

/// Largest IdP metadata document fetched.
const MAX_METADATA_BYTES: usize = 1024 * 1024;

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
    providers::check_id(&id)?;
    config.mapping().check()?;
    let tenant = &ctx.tenant;
    let master = tenant.master_key();
    let (config, secret) = resolve(config).await?;
    let previous = providers::get(tenant.store.pool(), &id).await?;
    let stored = StoredProvider::seal(tenant.id(), &id, config, secret.as_deref(), master)?
        .keeping_secret_of(previous.as_ref());
    let details = match &stored.config {
        ProviderConfig::Oidc(c) => {
            json!({ "kind": "oidc", "issuer": c.issuer, "client_id": c.client_id })
        }
        ProviderConfig::Saml(c) => {
            json!({ "kind": "saml", "allow_sha1": c.allow_sha1, "allow_idp_initiated": c.allow_idp_initiated })
        }
    };
    let discovered = check_provider(tenant, &stored).await?;
    let mut tx = tenant.ledger.begin_change().await?;
    providers::put(&mut tx, &stored).await?;
    let event = audit::identity_config_event(
        &ctx.provenance,
        "put_identity_provider",
        &format!("idp:{id}"),
        details,
    );
    tenant.record_and_commit(tx, vec![event]).await?;
    match discovered {
        Some(rp) => tenant.identity.remember_relying_party(&id, rp).await,
        None => tenant.identity.forget_provider(&id).await,
    }
    Ok(Json(ProviderView::from(&stored)))
}

/// The secret a request carries apart, and SAML metadata fetched when given by URL.
async fn resolve(config: ProviderConfig) -> Result<(ProviderConfig, Option<String>), ApiError> {
    match config {
        ProviderConfig::Oidc(mut oidc) => {
            let secret = oidc.client_secret.take().map(|s| s.0);
            Ok((ProviderConfig::Oidc(oidc), secret))
        }
        ProviderConfig::Saml(mut saml) => {
            if let Some(url) = saml.metadata_url.take() {
                saml.metadata_xml = Some(fetch_metadata(&url).await?);
            }
            Ok((ProviderConfig::Saml(saml), None))
        }
    }
}

/// Fetches IdP metadata (no redirects followed, bounded size).
async fn fetch_metadata(url: &str) -> Result<String, IdentityError> {
    let failed = |e: String| IdentityError::Upstream(format!("IdP metadata from `{url}`: {e}"));
    let mut response = http_client()?
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("status {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        if body.len() + chunk.len() > MAX_METADATA_BYTES {
            return Err(failed("document too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| failed("not UTF-8".into()))
}

/// Builds the provider as a login would use it: discovery for OIDC (the
/// relying party is returned for reuse), the SP for SAML. Nothing is stored
/// when this fails.
async fn check_provider(
    tenant: &Tenant,
    stored: &StoredProvider,
) -> Result<Option<Arc<OidcRelyingParty>>, IdentityError> {
    let endpoints = Endpoints::new(tenant);
    match &stored.config {
        ProviderConfig::Oidc(config) => {
            let secret = stored.client_secret(tenant.id(), tenant.master_key())?;
            let redirect = endpoints.oidc_redirect(&stored.id);
            let rp =
                OidcRelyingParty::discover(&stored.id, config.clone(), secret, &redirect).await?;
            Ok(Some(Arc::new(rp)))
        }
        ProviderConfig::Saml(config) => {
            SamlServiceProvider::new(&stored.id, config, &endpoints.saml(&stored.id))?;
            Ok(None)
        }
    }
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
    let tenant = &ctx.tenant;
    let mut tx = tenant.ledger.begin_change().await?;
    if !providers::delete(&mut tx, &id).await? {
        return Err(IdentityError::UnknownProvider(id).into());
    }
    let event = audit::identity_config_event(
        &ctx.provenance,
        "delete_identity_provider",
        &format!("idp:{id}"),
        json!({}),
    );
    tenant.record_and_commit(tx, vec![event]).await?;
    tenant.identity.forget_provider(&id).await;
    Ok(Json(DeletedProvider { deleted: id }))
}

/// `GET /{tenant}/v1/identity/settings`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/identity/settings",
    tag = "identity",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The settings in force.", body = IdentitySettings))
)]
pub async fn get_settings(ctx: AdminClient) -> Json<IdentitySettings> {
    Json(ctx.tenant.identity.settings().as_ref().clone())
}

/// `PUT /{tenant}/v1/identity/settings`.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/identity/settings",
    tag = "identity",
    security(("client" = ["admin"])),
    request_body = IdentitySettings,
    responses((status = 200, description = "The settings now in force.", body = IdentitySettings))
)]
pub async fn put_settings(
    ctx: AdminClient,
    ApiJson(new): ApiJson<IdentitySettings>,
) -> Result<Json<IdentitySettings>, ApiError> {
    let tenant = &ctx.tenant;
    let mut tx = tenant.ledger.begin_change().await?;
    settings::save(&mut tx, &new).await?;
    let event = audit::identity_config_event(
        &ctx.provenance,
        "put_identity_settings",
        "identity:settings",
        json!(new),
    );
    tenant.record_and_commit(tx, vec![event]).await?;
    tenant.identity.put_settings_in_force(new.clone());
    Ok(Json(new))
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
    let tenant = &ctx.tenant;
    let pool = tenant.store.pool();
    let record = SessionTable::record(pool, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no session `{id}`")))?;
    let ended = tenant
        .identity
        .sessions
        .revoke(pool, &id, "revoked by an administrator")
        .await?;
    if ended {
        let event = audit::session_revoked_event(
            &ctx.provenance,
            &record.staff_id,
            &id,
            "revoked by an administrator",
        );
        tenant.ledger.append_all(vec![event]).await?;
    }
    Ok(Json(RevokedSession {
        session_id: id,
        revoked: ended,
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
    let tenant = &ctx.tenant;
    let mut tx = tenant.ledger.begin_change().await?;
    if !mfa::reset(&mut tx, &staff_id).await? {
        return Err(ApiError::NotFound(format!(
            "`{staff_id}` has no second factor enrolled"
        )));
    }
    let event = audit::identity_event(
        &ctx.provenance,
        EventKind::MfaReset,
        Some(&staff_id),
        EventOutcome::Success,
        json!({}),
    );
    tenant.record_and_commit(tx, vec![event]).await?;
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
    let tenant = &ctx.tenant;
    let master = tenant.master_key();
    tenant
        .identity
        .rotate_keys(tenant.store.pool(), master, tenant.id())
        .await?;
    let event = audit::identity_config_event(
        &ctx.provenance,
        "rotate_token_key",
        "identity:token_keys",
        json!({}),
    );
    tenant.ledger.append_all(vec![event]).await?;
    Ok(Json(tenant.identity.keys().jwks().clone()))
}
