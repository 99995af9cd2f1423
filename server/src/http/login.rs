//! Staff sign-in at `/{tenant}/auth/…`: OIDC and SAML logins up to the
//! session (or the second factor it awaits). Every login and failure is
//! recorded; `sessions.rs` takes over from there.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hms_directory::{StaffMember, StaffRecord, roles_granting};
use hms_idp_bridge::IdentityError;
use hms_idp_bridge::login::{self, PendingLogin};
use hms_idp_bridge::mapping::{ClaimMapping, IDP_SOURCE, VerifiedIdentity};
use hms_idp_bridge::mfa::{self, FactorState};
use hms_idp_bridge::oidc::OidcRelyingParty;
use hms_idp_bridge::providers::{self, ProviderConfig};
use hms_idp_bridge::saml::{SamlServiceProvider, SpEndpoints};
use hms_idp_bridge::sessions::{MFA_PENDING_SECONDS, Stage};
use hms_idp_bridge::settings::IdentitySettings;
use hms_idp_bridge::store::random_secret;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use super::gate::provenance_of;
use super::json::ApiQuery;
use super::sessions::session_answer;
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
pub(super) fn redirect(location: &str, cookies: Vec<String>) -> Result<Response, ApiError> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    let value = |text: &str| {
        HeaderValue::from_str(text).map_err(|_| ApiError::Internal(anyhow::anyhow!("bad header")))
    };
    headers.insert(LOCATION, value(location)?);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        headers.append(SET_COOKIE, value(&cookie)?);
    }
    Ok(response)
}

/// The query of a login start.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// Present when the web console started the login: the callback then
    /// takes the browser back to the console instead of answering JSON.
    #[serde(default)]
    console: Option<String>,
}

/// `; Secure` when the service serves HTTPS itself.
pub(super) fn secure_attribute(app: &AppState) -> &'static str {
    if app.settings.tls.is_some() {
        "; Secure"
    } else {
        ""
    }
}

/// `GET /{tenant}/auth/oidc/{idp}/login`: to the IdP, with state, nonce and PKCE.
pub async fn oidc_login(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<LoginQuery>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let rp = relying_party(&app, &tenant, &idp).await?;
    let start = rp.start();
    let pending = PendingLogin {
        provider_id: idp.clone(),
        nonce: Some(start.nonce),
        pkce_verifier: Some(start.pkce_verifier),
        saml_request_id: None,
        for_console: query.console.is_some(),
    };
    login::remember(tenant.store.pool(), &start.state, &pending).await?;
    let secure = secure_attribute(&app);
    let scope = format!(
        "Path=/{tenant_id}/auth/oidc/{idp}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        login::LOGIN_TTL_SECONDS
    );
    let mut cookies = vec![format!("{STATE_COOKIE}={}; {scope}", start.state)];
    if query.console.is_some() {
        cookies.push(format!("{}=1; {scope}", super::console::LOGIN_FLOW_COOKIE));
    }
    redirect(start.url.as_str(), cookies)
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
) -> Result<Response, ApiError> {
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
    let answer = finish_login(&app, &tenant, &idp, verified, &by).await;
    if super::console::started_login(&headers) {
        return super::console::land(&app, &tenant_id, answer.map(|Json(a)| a));
    }
    answer.map(IntoResponse::into_response)
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
/// A console login is remembered with the pending login, not in a cookie:
/// the IdP's POST to the assertion consumer is cross-site, and carries none.
pub async fn saml_login(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<LoginQuery>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let sp = service_provider(&app, &tenant, &idp).await?;
    let state = random_secret(24);
    let (url, request_id) = sp.start(&state)?;
    let pending = PendingLogin {
        provider_id: idp,
        saml_request_id: Some(request_id),
        for_console: query.console.is_some(),
        ..PendingLogin::default()
    };
    login::remember(tenant.store.pool(), &state, &pending).await?;
    redirect(url.as_str(), Vec::new())
}

/// The HTTP-POST binding's form.
#[derive(Debug, Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    relay_state: Option<String>,
}

/// `POST /{tenant}/auth/saml/{idp}/acs`: verifies the response, once; a
/// login the console started goes back to the console.
pub async fn saml_acs(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body =
        body.map_err(|_| ApiError::PayloadTooLarge("request body is larger than allowed".into()))?;
    let tenant = app.tenant(&tenant_id).await?;
    let by = provenance_of(format!("idp:{idp}"), &headers, Some(peer));
    let mut for_console = false;
    let verified = async {
        let form: AcsForm = serde_urlencoded::from_bytes(&body).map_err(|_| {
            IdentityError::refused("malformed_response", "expected a form with `SAMLResponse`")
        })?;
        let sp = service_provider(&app, &tenant, &idp).await?;
        let pool = tenant.store.pool();
        let request_ids: Vec<String> = match form.relay_state.as_deref().filter(|s| !s.is_empty()) {
            Some(state) => {
                let pending = login::take(pool, state, &idp).await?;
                for_console = pending.for_console;
                pending.saml_request_id.into_iter().collect()
            }
            None => Vec::new(),
        };
        let ids: Vec<&str> = request_ids.iter().map(String::as_str).collect();
        let verified = sp.finish(&form.saml_response, &ids)?;
        login::remember_assertion(pool, &idp, &verified.assertion_id, verified.valid_until).await?;
        Ok(verified.identity)
    }
    .await;
    let answer = finish_login(&app, &tenant, &idp, verified, &by).await;
    if for_console {
        return super::console::land(&app, &tenant_id, answer.map(|Json(a)| a));
    }
    answer.map(IntoResponse::into_response)
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

/// What a login does to the directory.
enum Plan {
    /// Nothing: the record is current.
    Keep(StaffMember),
    /// Write this record (created on first login, or with new IdP roles).
    Write(StaffMember),
}

/// The plan for `record`: refused when unknown (unless the tenant creates
/// on first login) or disabled; IdP-granted roles brought up to date.
fn plan(
    record: Option<StaffRecord>,
    mapping: &ClaimMapping,
    identity: &VerifiedIdentity,
    staff_id: &str,
    settings: &IdentitySettings,
) -> Result<Plan, IdentityError> {
    let record = match record {
        None if settings.just_in_time => {
            return Ok(Plan::Write(mapping.new_member(identity, staff_id)));
        }
        None => {
            return Err(IdentityError::refused(
                "unknown_staff",
                format!(
                    "no staff member `{staff_id}` in the directory, and first-login creation is off"
                ),
            ));
        }
        Some(record) => record,
    };
    if !record.member.active {
        return Err(IdentityError::refused(
            "account_disabled",
            format!("staff member `{staff_id}` is disabled in the directory"),
        ));
    }
    if mapping.groups.is_none() {
        return Ok(Plan::Keep(record.member));
    }
    let roles = roles_granting(&record.role_sources, IDP_SOURCE, &mapping.roles(identity));
    if roles == record.member.roles {
        return Ok(Plan::Keep(record.member));
    }
    Ok(Plan::Write(StaffMember {
        roles,
        ..record.member
    }))
}

/// The directory's record of the person, brought up to date. Reads first;
/// only a login that changes something takes the tenant's change turn.
async fn sync_staff(
    tenant: &Tenant,
    mapping: &ClaimMapping,
    identity: &VerifiedIdentity,
    staff_id: &str,
    settings: &IdentitySettings,
    by: &Provenance,
) -> Result<StaffMember, ApiError> {
    let mut conn = tenant.store.connection().await?;
    let record = tenant.store.staff_in(&mut conn, staff_id).await?;
    drop(conn);
    if let Plan::Keep(member) = plan(record, mapping, identity, staff_id, settings)? {
        return Ok(member);
    }
    let mut change = tenant.begin_directory_change().await?;
    let record = tenant.store.staff_in(&mut change.tx, staff_id).await?;
    let member = match plan(record, mapping, identity, staff_id, settings)? {
        Plan::Keep(member) => return Ok(member),
        Plan::Write(member) => member,
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
