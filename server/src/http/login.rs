//! Staff sign-in at `/{tenant}/auth/…`: OIDC and SAML logins, the TOTP second
//! factor, sessions and their signed tokens, the tenant's JWKS and token
//! introspection. Every login, failure, factor event and logout is recorded.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hms_directory::{StaffMember, roles_granting};
use hms_idp_bridge::IdentityError;
use hms_idp_bridge::login::{self, PendingLogin};
use hms_idp_bridge::mapping::{ClaimMapping, IDP_SOURCE, VerifiedIdentity};
use hms_idp_bridge::mfa::{self, FactorState, Proof};
use hms_idp_bridge::oidc::OidcRelyingParty;
use hms_idp_bridge::providers::{self, ProviderConfig};
use hms_idp_bridge::saml::{SamlServiceProvider, SpEndpoints};
use hms_idp_bridge::sessions::{LiveSession, MFA_PENDING_SECONDS, SessionProblem, Stage};
use hms_idp_bridge::settings::IdentitySettings;
use hms_idp_bridge::store::{now, random_secret};
use hms_idp_bridge::tokens::{AUDIENCE, SessionClaims};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use super::gate::{TenantContext, bearer_of, provenance_of};
use super::json::{ApiJson, ApiQuery};
use crate::audit::{self, Provenance};
use crate::tenancy::Tenant;

/// The cookie binding an OIDC login to the browser that started it.
const STATE_COOKIE: &str = "hms_ach_oidc_state";

/// Where IdPs send people back to, and what SAML IdPs know this SP as.
pub struct Endpoints {
    base: String,
}

impl Endpoints {
    /// The endpoints of `tenant`.
    pub fn new(app: &AppState, tenant: &str) -> Self {
        Self {
            base: app.tenant_url(tenant),
        }
    }

    /// The OIDC redirect URI registered at IdP `idp`.
    pub fn oidc_redirect(&self, idp: &str) -> String {
        format!("{}/auth/oidc/{idp}/callback", self.base)
    }

    /// The SP entity id and ACS URL towards SAML IdP `idp`.
    pub fn saml(&self, idp: &str) -> SpEndpoints {
        SpEndpoints {
            entity_id: format!("{}/auth/saml/{idp}/metadata", self.base),
            acs_url: format!("{}/auth/saml/{idp}/acs", self.base),
        }
    }
}

/// The relying party for OIDC provider `idp` of `tenant`.
pub async fn relying_party(
    app: &AppState,
    tenant: &Tenant,
    idp: &str,
) -> Result<Arc<OidcRelyingParty>, IdentityError> {
    let redirect = Endpoints::new(app, tenant.id()).oidc_redirect(idp);
    let master = app.tenants.master_key();
    tenant
        .identity
        .relying_party(tenant.store.pool(), master, tenant.id(), idp, &redirect)
        .await
}

/// The SAML SP of `tenant` towards IdP `idp`.
pub async fn service_provider(
    app: &AppState,
    tenant: &Tenant,
    idp: &str,
) -> Result<SamlServiceProvider, IdentityError> {
    let stored = providers::get(tenant.store.pool(), idp)
        .await?
        .ok_or_else(|| IdentityError::UnknownProvider(idp.to_owned()))?;
    let ProviderConfig::Saml(config) = &stored.config else {
        return Err(IdentityError::UnknownProvider(idp.to_owned()));
    };
    SamlServiceProvider::new(idp, config, &Endpoints::new(app, tenant.id()).saml(idp))
}

/// A 303 to `location`, never cached, optionally setting a cookie.
fn redirect(location: &str, cookie: Option<String>) -> Result<Response, ApiError> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    let value = |text: &str| {
        HeaderValue::from_str(text).map_err(|_| ApiError::Internal(anyhow::anyhow!("bad header")))
    };
    headers.insert(LOCATION, value(location)?);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie {
        headers.insert(SET_COOKIE, value(&cookie)?);
    }
    Ok(response)
}

/// `GET /{tenant}/auth/oidc/{idp}/login`: to the IdP, with state, nonce and PKCE.
pub async fn oidc_login(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let rp = relying_party(&app, &tenant, &idp).await?;
    let start = rp.start();
    let pending = PendingLogin {
        provider_id: idp.clone(),
        nonce: Some(start.nonce),
        pkce_verifier: Some(start.pkce_verifier),
        saml_request_id: None,
    };
    login::remember(tenant.store.pool(), &start.state, &pending).await?;
    let secure = if app.settings.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{STATE_COOKIE}={}; Path=/{tenant_id}/auth/oidc/{idp}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        start.state,
        login::LOGIN_TTL_SECONDS
    );
    redirect(start.url.as_str(), Some(cookie))
}

/// The query of an OIDC callback.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /{tenant}/auth/oidc/{idp}/callback`: checks the state against the
/// browser's cookie, exchanges the code and validates the ID token.
pub async fn oidc_callback(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let by = provenance_of(format!("idp:{idp}"), &headers, Some(peer));
    let verified = async {
        if let Some(error) = &query.error {
            let detail = query.error_description.as_deref().unwrap_or_default();
            return Err(IdentityError::refused(
                "idp_error",
                format!("the identity provider refused the login: {error} {detail}"),
            ));
        }
        let missing =
            |what: &str| IdentityError::refused("invalid_callback", format!("no `{what}`"));
        let state = query.state.as_deref().ok_or_else(|| missing("state"))?;
        let code = query.code.as_deref().ok_or_else(|| missing("code"))?;
        require_state_cookie(&headers, state)?;
        let pending = login::take(tenant.store.pool(), state, &idp).await?;
        let rp = relying_party(&app, &tenant, &idp).await?;
        let nonce = pending.nonce.unwrap_or_default();
        let verifier = pending.pkce_verifier.unwrap_or_default();
        rp.finish(code, &nonce, &verifier).await
    }
    .await;
    finish_login(&app, &tenant, &idp, verified, &by).await
}

/// The callback must come from the browser that started the login.
fn require_state_cookie(headers: &HeaderMap, state: &str) -> Result<(), IdentityError> {
    let prefix = format!("{STATE_COOKIE}=");
    let cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&prefix).map(str::to_owned));
    match cookie {
        Some(value) if bool::from(value.as_bytes().ct_eq(state.as_bytes())) => Ok(()),
        _ => Err(IdentityError::refused(
            "state_mismatch",
            "this browser did not start the login (state cookie missing or different)",
        )),
    }
}

/// `GET /{tenant}/auth/saml/{idp}/metadata`: the SP metadata.
pub async fn saml_metadata(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let xml = service_provider(&app, &tenant, &idp).await?.metadata()?;
    let mut response = xml.into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    Ok(response)
}

/// `GET /{tenant}/auth/saml/{idp}/login`: to the IdP with an AuthnRequest (HTTP-Redirect).
pub async fn saml_login(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let sp = service_provider(&app, &tenant, &idp).await?;
    let state = random_secret(24);
    let (url, request_id) = sp.start(&state)?;
    let pending = PendingLogin {
        provider_id: idp,
        saml_request_id: Some(request_id),
        ..PendingLogin::default()
    };
    login::remember(tenant.store.pool(), &state, &pending).await?;
    redirect(url.as_str(), None)
}

/// The HTTP-POST binding's form.
#[derive(Debug, Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    relay_state: Option<String>,
}

/// `POST /{tenant}/auth/saml/{idp}/acs`: verifies the response, once.
pub async fn saml_acs(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body =
        body.map_err(|_| ApiError::PayloadTooLarge("request body is larger than allowed".into()))?;
    let tenant = app.tenant(&tenant_id).await?;
    let by = provenance_of(format!("idp:{idp}"), &headers, Some(peer));
    let verified = async {
        let form: AcsForm = serde_urlencoded::from_bytes(&body).map_err(|_| {
            IdentityError::refused("malformed_response", "expected a form with `SAMLResponse`")
        })?;
        let sp = service_provider(&app, &tenant, &idp).await?;
        let pool = tenant.store.pool();
        let request_ids: Vec<String> = match form.relay_state.as_deref().filter(|s| !s.is_empty()) {
            Some(state) => login::take(pool, state, &idp)
                .await?
                .saml_request_id
                .into_iter()
                .collect(),
            None => Vec::new(),
        };
        let ids: Vec<&str> = request_ids.iter().map(String::as_str).collect();
        let verified = sp.finish(&form.saml_response, &ids)?;
        login::remember_assertion(pool, &idp, &verified.assertion_id, verified.valid_until).await?;
        Ok(verified.identity)
    }
    .await;
    finish_login(&app, &tenant, &idp, verified, &by).await
}

/// Admits a verified login (or records why it failed).
async fn finish_login(
    app: &AppState,
    tenant: &Tenant,
    idp: &str,
    verified: Result<VerifiedIdentity, IdentityError>,
    by: &Provenance,
) -> Result<Json<Value>, ApiError> {
    let admitted = match verified {
        Ok(identity) => admit(app, tenant, &identity, by).await,
        Err(e) => Err((None, e.into())),
    };
    match admitted {
        Ok(answer) => Ok(Json(answer)),
        Err((staff_id, error)) => {
            let details =
                json!({ "provider": idp, "code": error.code(), "reason": error.to_string() });
            let event =
                audit::identity_event(by, "auth.login", staff_id.as_deref(), "failure", details);
            tenant.ledger.append_all(vec![event]).await?;
            Err(error)
        }
    }
}

type Refusal = (Option<String>, ApiError);

/// Finds (or creates) the staff member, starts the session and says what comes next.
async fn admit(
    app: &AppState,
    tenant: &Tenant,
    identity: &VerifiedIdentity,
    by: &Provenance,
) -> Result<Value, Refusal> {
    let stored = providers::get(tenant.store.pool(), &identity.provider_id)
        .await
        .map_err(|e| (None, e.into()))?
        .ok_or_else(|| {
            (
                None,
                IdentityError::UnknownProvider(identity.provider_id.clone()).into(),
            )
        })?;
    let mapping = stored.config.mapping();
    let staff_id = mapping.staff_id(identity).map_err(|e| (None, e.into()))?;
    let fail = |e: ApiError| (Some(staff_id.clone()), e);
    let settings = tenant.identity.settings();
    let member = sync_staff(tenant, mapping, identity, &staff_id, &settings, by)
        .await
        .map_err(fail)?;
    let stage = if settings.mfa_required {
        Stage::MfaPending
    } else {
        Stage::Active
    };
    let pool = tenant.store.pool();
    let amr = vec![identity.protocol.to_owned()];
    let (session, secret) = tenant
        .identity
        .sessions
        .start(
            pool,
            &staff_id,
            &identity.provider_id,
            amr,
            stage,
            &settings,
        )
        .await
        .map_err(|e| fail(e.into()))?;
    let details = json!({ "provider": identity.provider_id, "protocol": identity.protocol, "session_id": session.id, "stage": stage });
    let event = audit::identity_event(by, "auth.login", Some(&staff_id), "success", details);
    tenant
        .ledger
        .append_all(vec![event])
        .await
        .map_err(|e| fail(e.into()))?;
    if stage == Stage::Active {
        return session_answer(app, tenant, &session, secret, member.roles).map_err(fail);
    }
    let enrolled = mfa::state(pool, &staff_id)
        .await
        .map_err(|e| fail(e.into()))?;
    Ok(json!({
        "status": "mfa_required",
        "login_token": secret,
        "mfa_enrolled": enrolled == FactorState::Confirmed,
        "expires_in": MFA_PENDING_SECONDS,
    }))
}

/// The directory's record of the person: refused when unknown (unless the
/// tenant creates on first login) or disabled; IdP-granted roles brought up to date.
async fn sync_staff(
    tenant: &Tenant,
    mapping: &ClaimMapping,
    identity: &VerifiedIdentity,
    staff_id: &str,
    settings: &IdentitySettings,
    by: &Provenance,
) -> Result<StaffMember, ApiError> {
    let mut change = tenant.begin_directory_change().await?;
    let record = tenant.store.staff_in(&mut change.tx, staff_id).await?;
    let member = match record {
        None if settings.just_in_time => mapping.new_member(identity, staff_id),
        None => {
            return Err(IdentityError::refused(
                "unknown_staff",
                format!(
                    "no staff member `{staff_id}` in the directory, and first-login creation is off"
                ),
            )
            .into());
        }
        Some(record) if !record.member.active => {
            return Err(IdentityError::refused(
                "account_disabled",
                format!("staff member `{staff_id}` is disabled in the directory"),
            )
            .into());
        }
        Some(record) if mapping.groups.is_none() => return Ok(record.member),
        Some(record) => {
            let granted = mapping.roles(identity);
            let roles = roles_granting(&record.role_sources, IDP_SOURCE, &granted);
            if roles == record.member.roles {
                return Ok(record.member);
            }
            StaffMember {
                roles,
                ..record.member
            }
        }
    };
    let changes = tenant
        .store
        .upsert_staff(&mut change.tx, vec![member.clone()], IDP_SOURCE)
        .await?;
    let events = changes
        .iter()
        .map(|c| audit::staff_event(by, c, IDP_SOURCE))
        .collect();
    tenant
        .commit_directory_change(change, events, &changes)
        .await?;
    Ok(changes.into_iter().next().map_or(member, |c| c.member))
}

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
fn session_answer(
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
    let by = staff_provenance(&session.staff_id, &headers, peer);
    let event = audit::identity_event(
        &by,
        "auth.mfa.enrol",
        Some(&session.staff_id),
        "success",
        json!({ "method": "totp" }),
    );
    tenant.ledger.append_all(vec![event]).await?;
    Ok(Json(json!(enrolment)))
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
    let settings = tenant.identity.settings();
    let pool = tenant.store.pool();
    let master = app.tenants.master_key();
    let staff = Some(session.staff_id.as_str());
    let proven = match mfa::verify(
        pool,
        master,
        tenant.id(),
        &session.staff_id,
        &proof,
        &settings,
    )
    .await
    {
        Ok(proven) => proven,
        Err(error) => {
            let mut events = vec![audit::identity_event(
                &by,
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
                    &by,
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
    let event = audit::identity_event(&by, "auth.mfa.verify", staff, "success", details);
    tenant.ledger.append_all(vec![event]).await?;
    let roles = staff_roles(&tenant, &active.staff_id).await?;
    Ok(Json(session_answer(&app, &tenant, &active, secret, roles)?))
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
