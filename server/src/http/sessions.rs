//! Sessions at `/{tenant}/auth/…` once the IdP has vouched: the TOTP second
//! factor, session tokens and their refresh, logout, the tenant's JWKS, token
//! introspection, and the check the PDP makes of a session-token subject.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use hms_idp_bridge::IdentityError;
use hms_idp_bridge::mfa::{self, Proof};
use hms_idp_bridge::sessions::{LiveSession, SessionProblem, Stage};
use hms_idp_bridge::store::now;
use hms_idp_bridge::tokens::{AUDIENCE, SessionClaims};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::gate::{TenantContext, bearer_of, provenance_of};
use super::json::ApiJson;
use crate::audit::{self, Provenance};
use crate::tenancy::Tenant;

/// A signed session token for `session`.
fn issue_token(
    app: &AppState,
    tenant: &Tenant,
    session: &LiveSession,
    roles: Vec<String>,
) -> Result<(String, i64), ApiError> {
    let now = now();
    let lifetime = tenant.identity.settings().token_lifetime_seconds;
    let exp = (now + lifetime).min(session.expires_at);
    let claims = SessionClaims {
        iss: app.tenant_url(tenant.id()),
        sub: session.staff_id.clone(),
        aud: AUDIENCE.into(),
        iat: now,
        exp,
        jti: uuid::Uuid::new_v4().to_string(),
        tid: tenant.id().to_owned(),
        sid: session.id.clone(),
        roles,
        amr: session.amr.clone(),
        mfa: session.mfa(),
    };
    Ok((tenant.identity.keys().issue(&claims)?, exp - now))
}

/// The answer to a completed login: the session, its secret and a first token.
pub(super) fn session_answer(
    app: &AppState,
    tenant: &Tenant,
    session: &LiveSession,
    secret: String,
    roles: Vec<String>,
) -> Result<Value, ApiError> {
    let (token, expires_in) = issue_token(app, tenant, session, roles)?;
    Ok(json!({
        "status": "authenticated",
        "session_id": session.id,
        "session_token": secret,
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "session_expires_at": session.expires_at,
        "idle_timeout_seconds": tenant.identity.settings().idle_timeout_seconds,
        "amr": session.amr,
    }))
}

/// The session whose secret is the request's bearer token.
async fn bearer_session(
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Result<Arc<LiveSession>, ApiError> {
    let secret = bearer_of(headers).ok_or_else(|| {
        ApiError::Unauthorized(
            "send the session or login token as `Authorization: Bearer …`".into(),
        )
    })?;
    let settings = tenant.identity.settings();
    tenant
        .identity
        .sessions
        .by_secret(tenant.store.pool(), secret, &settings)
        .await
        .map_err(session_refusal)
}

/// The refusal for a session that cannot be used.
pub fn session_refusal(problem: SessionProblem) -> ApiError {
    let message = match problem {
        SessionProblem::Unknown => "no such session",
        SessionProblem::Revoked => "the session was ended",
        SessionProblem::Idle => "the session ended after inactivity",
        SessionProblem::Expired => "the session reached its maximum lifetime",
        SessionProblem::MfaPending => "the session still awaits its second factor",
    };
    ApiError::Refused {
        code: problem.code(),
        message: message.into(),
    }
}

/// A login waiting for its second factor.
async fn pending_session(
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Result<Arc<LiveSession>, ApiError> {
    let session = bearer_session(tenant, headers).await?;
    if session.stage != Stage::MfaPending {
        return Err(ApiError::bad_request(
            "mfa_not_pending",
            "this session is not waiting for a second factor",
        ));
    }
    Ok(session)
}

fn staff_provenance(staff_id: &str, headers: &HeaderMap, peer: SocketAddr) -> Provenance {
    provenance_of(format!("staff:{staff_id}"), headers, Some(peer))
}

/// `POST /{tenant}/auth/mfa/enroll` (bearer: the login token): a new TOTP factor.
pub async fn mfa_enroll(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let session = pending_session(&tenant, &headers).await?;
    let by = staff_provenance(&session.staff_id, &headers, peer);
    Ok(Json(enrol_factor(&app, &tenant, &session, &by).await?))
}

/// Enrols a new TOTP factor for a login awaiting its second factor, and records it.
pub(super) async fn enrol_factor(
    app: &AppState,
    tenant: &Tenant,
    session: &LiveSession,
    by: &Provenance,
) -> Result<Value, ApiError> {
    let issuer = format!("HMS-ACH {}", tenant.record.display_name);
    let master = app.tenants.master_key();
    let enrolment = mfa::enrol(
        tenant.store.pool(),
        master,
        tenant.id(),
        &session.staff_id,
        &issuer,
    )
    .await?;
    let event = audit::identity_event(
        by,
        "auth.mfa.enrol",
        Some(&session.staff_id),
        "success",
        json!({ "method": "totp" }),
    );
    tenant.ledger.append_all(vec![event]).await?;
    Ok(json!(enrolment))
}

/// A second-factor proof.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaProof {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
}

/// `POST /{tenant}/auth/mfa/verify` (bearer: the login token): proves the
/// factor and turns the login into a session, with a new secret.
pub async fn mfa_verify(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MfaProof>,
) -> Result<Json<Value>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let session = pending_session(&tenant, &headers).await?;
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
    let (active, secret) = prove_factor(&app, &tenant, &session, &proof, &by).await?;
    let roles = staff_roles(&tenant, &active.staff_id).await?;
    Ok(Json(session_answer(&app, &tenant, &active, secret, roles)?))
}

/// Checks a second-factor proof for a login awaiting it and, when it holds,
/// turns the login into a session with a new secret; failures and lockouts
/// are recorded.
pub(super) async fn prove_factor(
    app: &AppState,
    tenant: &Tenant,
    session: &LiveSession,
    proof: &Proof,
    by: &Provenance,
) -> Result<(Arc<LiveSession>, String), ApiError> {
    let settings = tenant.identity.settings();
    let pool = tenant.store.pool();
    let master = app.tenants.master_key();
    let staff = Some(session.staff_id.as_str());
    let proven = match mfa::verify(
        pool,
        master,
        tenant.id(),
        &session.staff_id,
        proof,
        &settings,
    )
    .await
    {
        Ok(proven) => proven,
        Err(error) => {
            let mut events = vec![audit::identity_event(
                by,
                "auth.mfa.verify",
                staff,
                "failure",
                json!({ "reason": error.to_string() }),
            )];
            if let IdentityError::Locked {
                until,
                just_locked: true,
            } = error
            {
                events.push(audit::identity_event(
                    by,
                    "auth.mfa.lockout",
                    staff,
                    "success",
                    json!({ "locked_until": until, "after_failures": settings.mfa_max_failures }),
                ));
            }
            tenant.ledger.append_all(events).await?;
            return Err(error.into());
        }
    };
    let (active, secret) = tenant
        .identity
        .sessions
        .promote(pool, &session.id, proven.method, &settings)
        .await?;
    let details = json!({ "method": proven.method, "confirmed_enrolment": proven.confirmed_enrolment, "session_id": active.id });
    let event = audit::identity_event(by, "auth.mfa.verify", staff, "success", details);
    tenant.ledger.append_all(vec![event]).await?;
    Ok((active, secret))
}

async fn staff_roles(tenant: &Tenant, staff_id: &str) -> Result<Vec<String>, ApiError> {
    let members = tenant
        .store
        .load_staff(Some(&[staff_id.to_owned()]))
        .await?;
    Ok(members
        .into_iter()
        .next()
        .map(|m| m.roles)
        .unwrap_or_default())
}

/// `POST /{tenant}/auth/session/token` (bearer: the session token): a fresh signed token.
pub async fn session_token(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let session = bearer_session(&tenant, &headers).await?;
    if session.stage != Stage::Active {
        return Err(session_refusal(SessionProblem::MfaPending));
    }
    let roles = staff_roles(&tenant, &session.staff_id).await?;
    let (token, expires_in) = issue_token(&app, &tenant, &session, roles)?;
    Ok(Json(
        json!({ "access_token": token, "token_type": "Bearer", "expires_in": expires_in }),
    ))
}

/// `POST /{tenant}/auth/session/logout` (bearer: the session token).
pub async fn logout(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let session = bearer_session(&tenant, &headers).await?;
    tenant
        .identity
        .sessions
        .revoke(tenant.store.pool(), &session.id, "logout")
        .await?;
    let by = staff_provenance(&session.staff_id, &headers, peer);
    let details = json!({ "session_id": session.id });
    let event = audit::identity_event(
        &by,
        "auth.logout",
        Some(&session.staff_id),
        "success",
        details,
    );
    tenant.ledger.append_all(vec![event]).await?;
    Ok(Json(
        json!({ "status": "logged_out", "session_id": session.id }),
    ))
}

/// `GET /{tenant}/auth/jwks.json`: the keys session tokens verify with.
pub async fn jwks(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    Ok(Json(tenant.identity.keys().jwks().clone()))
}

/// A session token whose signature and session both check out.
pub struct CheckedToken {
    /// What the token says.
    pub claims: SessionClaims,
    /// The live session it belongs to.
    pub session: Arc<LiveSession>,
}

/// A session token that did not check out: whom it named (when its
/// signature verified) and why.
#[derive(Debug)]
pub struct TokenRefusal {
    /// The staff id of a verified token whose session cannot be used.
    pub staff_id: Option<String>,
    /// `invalid_token`, `session_revoked`, `session_idle_expired`…
    pub code: &'static str,
}

/// Checks a token and the session behind it. A session this node does not
/// hold yet (started on another node) is read from the database once, and
/// re-read every few seconds so revocations elsewhere reach this node.
pub async fn check_session_token(
    app: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<CheckedToken, TokenRefusal> {
    let invalid = |staff_id| TokenRefusal {
        staff_id,
        code: "invalid_token",
    };
    let claims = tenant
        .identity
        .keys()
        .verify(token, &app.tenant_url(tenant.id()))
        .map_err(|_| invalid(None))?;
    if claims.tid != tenant.id() {
        return Err(invalid(None));
    }
    let settings = tenant.identity.settings();
    let sessions = &tenant.identity.sessions;
    let mut touched = sessions.touch(&claims.sid, &settings);
    let pool = tenant.store.pool();
    if matches!(touched, Err(SessionProblem::Unknown))
        && sessions.load_one(pool, &claims.sid).await.unwrap_or(false)
    {
        touched = sessions.touch(&claims.sid, &settings);
    }
    if let Ok(session) = &touched {
        // A session whose state cannot be re-read is not trusted.
        if sessions.recheck(pool, session).await.is_err() {
            return Err(TokenRefusal {
                staff_id: Some(claims.sub),
                code: SessionProblem::Unknown.code(),
            });
        }
        touched = sessions.touch(&claims.sid, &settings);
    }
    match touched {
        Ok(session) if session.staff_id == claims.sub => Ok(CheckedToken { claims, session }),
        Ok(_) => Err(invalid(Some(claims.sub))),
        Err(problem) => Err(TokenRefusal {
            staff_id: Some(claims.sub),
            code: problem.code(),
        }),
    }
}

/// `POST /{tenant}/auth/introspect` (RFC 7662; a `pdp` client): whether a
/// session token is active now, and what it says.
pub async fn introspect(
    State(app): State<AppState>,
    Extension(ctx): Extension<TenantContext>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body =
        body.map_err(|_| ApiError::PayloadTooLarge("request body is larger than allowed".into()))?;
    #[derive(Deserialize)]
    struct Introspection {
        token: String,
    }
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
    let answer = match check_session_token(&app, &ctx.tenant, &request.token).await {
        Ok(checked) => {
            let mut answer = json!(checked.claims);
            answer["active"] = json!(true);
            answer["token_type"] = json!("Bearer");
            answer
        }
        Err(_) => json!({ "active": false }),
    };
    Ok(Json(answer))
}
