//! Sessions at `/{tenant}/auth/…` over HTTP: the TOTP second factor, session
//! tokens and their refresh, logout, the tenant's JWKS and token
//! introspection. The rules are `hms_governance::sessions`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use hms_governance::audit::{Actor, Provenance};
use hms_governance::sessions::{self, AccessToken, Authenticated};
use hms_governance::tenancy::Tenant;
use hms_idp_bridge::mfa::{Enrolment, Proof};
use hms_idp_bridge::sessions::LiveSession;
use hms_idp_bridge::tokens::SessionClaims;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::{PdpClient, bearer_of, provenance_of};
use super::json::ApiJson;

/// The session routes: each proves itself with the login or session token
/// it carries; introspection is behind a `pdp` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(mfa_enroll))
        .routes(routes!(mfa_verify))
        .routes(routes!(session_token))
        .routes(routes!(logout))
        .routes(routes!(jwks))
        .routes(routes!(introspect))
}

/// The session whose secret is the request's bearer token.
async fn bearer_session(
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Result<Arc<LiveSession>, ApiError> {
    Ok(sessions::by_secret(tenant, bearer_secret(headers)?).await?)
}

fn bearer_secret(headers: &HeaderMap) -> Result<&str, ApiError> {
    bearer_of(headers).ok_or_else(|| {
        ApiError::Unauthorized(
            "send the session or login token as `Authorization: Bearer …`".into(),
        )
    })
}

fn staff_provenance(staff_id: &str, headers: &HeaderMap, peer: SocketAddr) -> Provenance {
    provenance_of(Actor::Staff(staff_id.to_owned()), headers, Some(peer))
}

/// `POST /{tenant}/auth/mfa/enroll` (bearer: the login token): a new TOTP factor.
#[utoipa::path(
    post,
    path = "/{tenant}/auth/mfa/enroll",
    tag = "sessions",
    security(("session" = [])),
    responses((status = 200, description = "The new factor, shown once.", body = Enrolment))
)]
pub async fn mfa_enroll(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Enrolment>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let session = sessions::pending(&tenant, bearer_secret(&headers)?).await?;
    let by = staff_provenance(&session.staff_id, &headers, peer);
    Ok(Json(sessions::enrol_factor(&tenant, &session, &by).await?))
}

/// A second-factor proof: a TOTP code or a recovery code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaProof {
    /// The authenticator's current code.
    #[serde(default)]
    code: Option<String>,
    /// One of the recovery codes, instead.
    #[serde(default)]
    recovery_code: Option<String>,
}

/// `POST /{tenant}/auth/mfa/verify` (bearer: the login token): proves the
/// factor and turns the login into a session, with a new secret.
#[utoipa::path(
    post,
    path = "/{tenant}/auth/mfa/verify",
    tag = "sessions",
    security(("session" = [])),
    request_body = MfaProof,
    responses(
        (status = 200, description = "Signed in.", body = Authenticated),
        (status = 429, description = "Too many failed attempts; the factor is locked for a while.", body = super::openapi::ErrorBody),
    )
)]
pub async fn mfa_verify(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MfaProof>,
) -> Result<Json<Authenticated>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let session = sessions::pending(&tenant, bearer_secret(&headers)?).await?;
    let proof = match (body.code, body.recovery_code) {
        (Some(code), None) => Proof::Totp(code),
        (None, Some(code)) => Proof::Recovery(code),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "give `code` or `recovery_code`",
            ));
        }
    };
    let by = staff_provenance(&session.staff_id, &headers, peer);
    let (active, secret) = sessions::prove_factor(&tenant, &session, &proof, &by).await?;
    let roles = sessions::staff_roles(&tenant, &active.staff_id).await?;
    Ok(Json(sessions::authenticated(
        &tenant, &active, secret, roles,
    )?))
}

/// `POST /{tenant}/auth/session/token` (bearer: the session token): a fresh signed token.
#[utoipa::path(
    post,
    path = "/{tenant}/auth/session/token",
    tag = "sessions",
    security(("session" = [])),
    responses((status = 200, description = "A fresh token.", body = AccessToken))
)]
pub async fn session_token(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<AccessToken>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let session = bearer_session(&tenant, &headers).await?;
    Ok(Json(sessions::refresh(&tenant, &session).await?))
}

/// A session ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedOut {
    /// Always `logged_out`.
    status: &'static str,
    /// The session.
    session_id: String,
}

/// `POST /{tenant}/auth/session/logout` (bearer: the session token).
#[utoipa::path(
    post,
    path = "/{tenant}/auth/session/logout",
    tag = "sessions",
    security(("session" = [])),
    responses((status = 200, description = "Ended.", body = LoggedOut))
)]
pub async fn logout(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<LoggedOut>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let session = bearer_session(&tenant, &headers).await?;
    let by = staff_provenance(&session.staff_id, &headers, peer);
    sessions::logout(&tenant, &session, &by).await?;
    Ok(Json(LoggedOut {
        status: "logged_out",
        session_id: session.id.clone(),
    }))
}

/// `GET /{tenant}/auth/jwks.json`: the keys session tokens verify with.
#[utoipa::path(
    get,
    path = "/{tenant}/auth/jwks.json",
    tag = "sessions",
    responses((status = 200, description = "The JWKS (RFC 7517).", body = Object))
)]
pub async fn jwks(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    Ok(Json(tenant.identity.keys().jwks().clone()))
}

/// `POST /{tenant}/auth/introspect` (RFC 7662; a `pdp` client): whether a
/// session token is active now, and what it says.
#[utoipa::path(
    post,
    path = "/{tenant}/auth/introspect",
    tag = "sessions",
    security(("client" = ["pdp"])),
    request_body(content = Introspection, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Whether the token is active, and its claims when it is.", body = Introspected))
)]
pub async fn introspect(
    ctx: PdpClient,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Introspected>, ApiError> {
    let body =
        body.map_err(|_| ApiError::PayloadTooLarge("request body is larger than allowed".into()))?;
    let parsed: Option<Introspection> = if body.first() == Some(&b'{') {
        serde_json::from_slice(&body).ok()
    } else {
        serde_urlencoded::from_bytes(&body).ok()
    };
    let request = parsed.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_body",
            "send `token` as a form field or in a JSON object",
        )
    })?;
    let answer = match sessions::check_token(&ctx.tenant, &request.token).await {
        Ok(checked) => Introspected::Active(Box::new(ActiveToken {
            active: true,
            token_type: "Bearer",
            claims: checked.claims,
        })),
        Err(_) => Introspected::Inactive(InactiveToken { active: false }),
    };
    Ok(Json(answer))
}

/// An introspection request (RFC 7662 §2.1), as a form or a JSON object.
#[derive(Deserialize, ToSchema)]
pub struct Introspection {
    /// The session token.
    token: String,
}

/// An introspection answer (RFC 7662 §2.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Introspected {
    /// The token is valid and its session live now.
    Active(Box<ActiveToken>),
    /// It is not (nothing more is said).
    Inactive(InactiveToken),
}

/// An active token and what it says.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveToken {
    /// `true`.
    active: bool,
    /// `Bearer`.
    token_type: &'static str,
    /// The token's claims.
    #[serde(flatten)]
    claims: SessionClaims,
}

/// A token that is not active.
#[derive(Debug, Serialize, ToSchema)]
pub struct InactiveToken {
    /// `false`.
    active: bool,
}
