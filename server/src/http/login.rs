//! Staff sign-in at `/{tenant}/auth/…`: OIDC and SAML logins up to the
//! session (or the second factor it awaits). Every login and failure is
//! recorded; `sessions.rs` takes over from there.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{CONTENT_TYPE, COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use hms_idp_bridge::IdentityError;
use hms_idp_bridge::login::{self, PendingLogin};
use hms_idp_bridge::store::random_secret;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::browser::{redirect, secure_attribute};
use super::error::ApiError;
use super::gate::provenance_of;
use super::json::ApiQuery;
use hms_governance::audit::Actor;
use hms_governance::identity::{relying_party, service_provider};
use hms_governance::login::{self as admission, Admission};

/// The sign-in routes: public, each step proving itself (IdP signatures,
/// the state cookie, login tokens).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(oidc_login))
        .routes(routes!(oidc_callback))
        .routes(routes!(saml_metadata))
        .routes(routes!(saml_login))
        .routes(routes!(saml_acs))
}

/// The cookie binding an OIDC login to the browser that started it.
const STATE_COOKIE: &str = "hms_ach_oidc_state";

/// The query of a login start.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// Present when the web console started the login: the callback then
    /// takes the browser back to the console instead of answering JSON.
    #[serde(default)]
    console: Option<String>,
}

/// `GET /{tenant}/auth/oidc/{idp}/login`: to the IdP, with state, nonce and PKCE.
#[utoipa::path(
    get,
    path = "/{tenant}/auth/oidc/{idp}/login",
    tag = "sign-in",
    params(("idp" = String, Path, description = "The identity provider's id."), LoginQuery),
    responses((status = 303, description = "To the identity provider, with the state cookie set."))
)]
pub async fn oidc_login(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<LoginQuery>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let rp = relying_party(&tenant, &idp).await?;
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    code: Option<String>,
    /// The state the login started with; must match the browser's cookie.
    state: Option<String>,
    /// The IdP's error code, when it refused.
    error: Option<String>,
    /// The IdP's words about it.
    error_description: Option<String>,
}

/// `GET /{tenant}/auth/oidc/{idp}/callback`: checks the state against the
/// browser's cookie, exchanges the code and validates the ID token.
#[utoipa::path(
    get,
    path = "/{tenant}/auth/oidc/{idp}/callback",
    tag = "sign-in",
    params(("idp" = String, Path, description = "The identity provider's id."), CallbackQuery),
    responses(
        (status = 200, description = "Signed in, or awaiting the second factor.", body = Admission),
        (status = 303, description = "Back to the web console, when it started the login."),
        (status = 401, description = "The login was refused (state, signature, nonce…).", body = super::openapi::ErrorBody),
        (status = 502, description = "The identity provider could not be reached.", body = super::openapi::ErrorBody),
    )
)]
pub async fn oidc_callback(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let by = provenance_of(Actor::Idp(idp.clone()), &headers, Some(peer));
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
        let rp = relying_party(&tenant, &idp).await?;
        let nonce = pending.nonce.unwrap_or_default();
        let verifier = pending.pkce_verifier.unwrap_or_default();
        rp.finish(code, &nonce, &verifier).await
    }
    .await;
    let answer = admission::finish(&tenant, &idp, verified, &by)
        .await
        .map_err(ApiError::from);
    if super::console::started_login(&headers) {
        return super::console::land(&app, &tenant_id, answer);
    }
    answer.map(|admission| Json(admission).into_response())
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
#[utoipa::path(
    get,
    path = "/{tenant}/auth/saml/{idp}/metadata",
    tag = "sign-in",
    params(("idp" = String, Path, description = "The identity provider's id.")),
    responses((status = 200, description = "The SP metadata towards this IdP.", body = String, content_type = "application/samlmetadata+xml"))
)]
pub async fn saml_metadata(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let xml = service_provider(&tenant, &idp).await?.metadata()?;
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
#[utoipa::path(
    get,
    path = "/{tenant}/auth/saml/{idp}/login",
    tag = "sign-in",
    params(("idp" = String, Path, description = "The identity provider's id."), LoginQuery),
    responses((status = 303, description = "To the identity provider with a signed-for AuthnRequest."))
)]
pub async fn saml_login(
    State(app): State<AppState>,
    Path((tenant_id, idp)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<LoginQuery>,
) -> Result<Response, ApiError> {
    let tenant = app.tenant(&tenant_id).await?;
    let sp = service_provider(&tenant, &idp).await?;
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
/// What an IdP posts to the ACS (SAML HTTP-POST binding).
#[derive(Debug, Deserialize, ToSchema)]
struct AcsForm {
    /// The base64 `Response`.
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    /// The state the login started with.
    #[serde(rename = "RelayState", default)]
    relay_state: Option<String>,
}

/// `POST /{tenant}/auth/saml/{idp}/acs`: verifies the response, once; a
/// login the console started goes back to the console.
#[utoipa::path(
    post,
    path = "/{tenant}/auth/saml/{idp}/acs",
    tag = "sign-in",
    params(("idp" = String, Path, description = "The identity provider's id.")),
    request_body(content = AcsForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed in, or awaiting the second factor.", body = Admission),
        (status = 303, description = "Back to the web console, when it started the login."),
        (status = 401, description = "The assertion was refused (signature, replay, audience…).", body = super::openapi::ErrorBody),
    )
)]
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
    let by = provenance_of(Actor::Idp(idp.clone()), &headers, Some(peer));
    let mut for_console = false;
    let verified = async {
        let form: AcsForm = serde_urlencoded::from_bytes(&body).map_err(|_| {
            IdentityError::refused("malformed_response", "expected a form with `SAMLResponse`")
        })?;
        let sp = service_provider(&tenant, &idp).await?;
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
    let answer = admission::finish(&tenant, &idp, verified, &by)
        .await
        .map_err(ApiError::from);
    if for_console {
        return super::console::land(&app, &tenant_id, answer);
    }
    answer.map(|admission| Json(admission).into_response())
}
