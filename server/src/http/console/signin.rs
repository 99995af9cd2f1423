//! Signing in to the console: the tenant's identity providers, then the
//! second factor (enrolment on first use), then the session cookie; and
//! signing out.

use hms_governance::sessions;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hms_idp_bridge::mfa::{self, FactorState, Proof};
use hms_idp_bridge::providers::{self, ProviderConfig};
use hms_idp_bridge::sessions::{LiveSession, Stage};
use maud::{PreEscaped, html};
use serde::Deserialize;
use std::sync::Arc;

use super::super::AppState;
use super::super::browser::{redirect, secure_attribute};
use super::super::error::ApiError;
use super::super::gate::provenance_of;
use super::page::frame;
use super::{
    Form, LOGIN_COOKIE, SESSION_COOKIE, Turned, cookie, form_token, session_cookie, visitor,
};
use hms_governance::audit::Actor;
use hms_governance::tenancy::Tenant;

/// Why the last sign-in failed, when it did.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    error: Option<String>,
}

/// `GET /{tenant}/console/login`: one button per identity provider.
pub async fn login_page(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, Turned> {
    let tenant = app.tenant(&tenant_id).await?;
    let configured = providers::list(tenant.store.pool())
        .await
        .map_err(ApiError::from)?;
    let content = html! {
        @if let Some(error) = &query.error {
            p class="problem" role="alert" { "Sign-in failed (" code { (error) } "). Try again or ask your administrator." }
        }
        @if configured.is_empty() {
            p { "No identity provider is configured for this organisation yet." }
        }
        ul {
            @for provider in &configured {
                li {
                    a href={"/" (tenant_id) "/auth/" (protocol(&provider.config)) "/" (provider.id) "/login?console=1"} {
                        "Sign in with " (provider.id)
                    }
                }
            }
        }
    };
    Ok(frame(&tenant_id, "Sign in", None, content))
}

/// The path segment of a provider's protocol under `/{tenant}/auth/`.
fn protocol(config: &ProviderConfig) -> &'static str {
    match config {
        ProviderConfig::Oidc(_) => "oidc",
        ProviderConfig::Saml(_) => "saml",
    }
}

/// The login awaiting its second factor, from its cookie.
async fn pending_login(tenant: &Tenant, headers: &HeaderMap) -> Option<(Arc<LiveSession>, String)> {
    let secret = cookie(headers, LOGIN_COOKIE)?;
    let settings = tenant.identity.settings();
    let session = tenant
        .identity
        .sessions
        .by_secret(tenant.store.pool(), &secret, &settings)
        .await
        .ok()?;
    (session.stage == Stage::MfaPending).then_some((session, secret))
}

fn back_to_login(tenant_id: &str) -> Turned {
    redirect(
        &format!("/{tenant_id}/console/login?error=login_expired"),
        Vec::new(),
    )
    .map_or_else(Turned::Failed, Turned::Away)
}

/// `GET /{tenant}/console/mfa`: the code form, or enrolment for a first factor.
pub async fn mfa_page(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Turned> {
    let tenant = app.tenant(&tenant_id).await?;
    let Some((session, secret)) = pending_login(&tenant, &headers).await else {
        return Err(back_to_login(&tenant_id));
    };
    let enrolled = mfa::state(tenant.store.pool(), &session.staff_id)
        .await
        .map_err(ApiError::from)?
        == FactorState::Confirmed;
    Ok(mfa_form(&tenant_id, &form_token(&secret), enrolled, None))
}

fn mfa_form(tenant_id: &str, token: &str, enrolled: bool, problem: Option<&str>) -> Response {
    let content = html! {
        @if let Some(problem) = problem {
            p class="problem" role="alert" { (problem) }
        }
        form method="post" action={"/" (tenant_id) "/console/mfa"} {
            input type="hidden" name="form_token" value=(token);
            div class="field" {
                label for="code" { "Code from your authenticator app" }
                input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required;
            }
            button type="submit" { "Continue" }
        }
        @if !enrolled {
            form method="post" action={"/" (tenant_id) "/console/mfa/enroll"} {
                input type="hidden" name="form_token" value=(token);
                p { "No authenticator set up yet?" }
                button class="secondary" type="submit" { "Set up an authenticator app" }
            }
        }
    };
    frame(tenant_id, "Second factor", None, content)
}

/// Checks the form token of a pending login.
fn check_login_form(form: &Form, secret: &str) -> Result<(), ApiError> {
    use subtle::ConstantTimeEq;
    let given = form.one("form_token").unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(form_token(secret).as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "the form is not from this sign-in".into(),
        ))
    }
}

/// `POST /{tenant}/console/mfa/enroll`: a new authenticator, shown as a QR code.
pub async fn mfa_enroll(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Turned> {
    let tenant = app.tenant(&tenant_id).await?;
    let Some((session, secret)) = pending_login(&tenant, &headers).await else {
        return Err(back_to_login(&tenant_id));
    };
    check_login_form(&Form::parse(&body), &secret)?;
    let by = provenance_of(Actor::Staff(session.staff_id.clone()), &headers, Some(peer));
    let enrolment = sessions::enrol_factor(&tenant, &session, &by)
        .await
        .map_err(ApiError::from)?;
    let svg = enrolment.qr_svg;
    let uri = enrolment.otpauth_uri;
    let codes = enrolment.recovery_codes;
    let content = html! {
        p { "Scan this code with your authenticator app, then enter the code it shows." }
        figure {
            div role="img" aria-label="QR code of the authenticator secret" { (PreEscaped(svg)) }
            figcaption { "Or enter this address by hand: " code { (uri) } }
        }
        h2 { "Recovery codes" }
        p { "Keep these somewhere safe; each works once if you lose your device." }
        ul { @for code in &codes { li { code { (code) } } } }
        form method="post" action={"/" (tenant_id) "/console/mfa"} {
            input type="hidden" name="form_token" value=(form_token(&secret));
            div class="field" {
                label for="code" { "Code from your authenticator app" }
                input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required;
            }
            button type="submit" { "Continue" }
        }
    };
    Ok(frame(
        &tenant_id,
        "Set up your authenticator",
        None,
        content,
    ))
}

/// `POST /{tenant}/console/mfa`: proves the factor and opens the console.
pub async fn mfa_submit(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Turned> {
    let tenant = app.tenant(&tenant_id).await?;
    let Some((session, secret)) = pending_login(&tenant, &headers).await else {
        return Err(back_to_login(&tenant_id));
    };
    let form = Form::parse(&body);
    check_login_form(&form, &secret)?;
    let proof = Proof::Totp(form.one("code").unwrap_or_default().trim().to_owned());
    let by = provenance_of(Actor::Staff(session.staff_id.clone()), &headers, Some(peer));
    match sessions::prove_factor(&tenant, &session, &proof, &by)
        .await
        .map_err(ApiError::from)
    {
        Ok((_, session_secret)) => {
            let secure = secure_attribute(&app);
            let cleared = format!("{LOGIN_COOKIE}=; Path=/{tenant_id}/console; Max-Age=0");
            let opened = session_cookie(&tenant_id, &session_secret, secure);
            Ok(redirect(
                &format!("/{tenant_id}/console"),
                vec![cleared, opened],
            )?)
        }
        Err(error @ ApiError::Locked(_)) => Err(Turned::Failed(error)),
        Err(_) => {
            let enrolled = mfa::state(tenant.store.pool(), &session.staff_id)
                .await
                .map_err(ApiError::from)?
                == FactorState::Confirmed;
            let mut page = mfa_form(
                &tenant_id,
                &form_token(&secret),
                enrolled,
                Some("That code was not accepted. Enter the current code."),
            );
            *page.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(page)
        }
    }
}

/// `POST /{tenant}/console/logout`: ends the session.
pub async fn logout(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    visitor.check_form(&Form::parse(&body))?;
    // Ended on every node, and recorded, as any logout is.
    sessions::logout(visitor.tenant(), &visitor.session, &visitor.ctx.provenance)
        .await
        .map_err(ApiError::from)?;
    let cleared = format!("{SESSION_COOKIE}=; Path=/{tenant_id}/console; Max-Age=0");
    Ok(redirect(
        &format!("/{tenant_id}/console/login"),
        vec![cleared],
    )?)
}
