//! The tenant gate: every `/{tenant}/…` request is bound to an existing tenant and an authenticated client of it.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::ApiError;
use crate::audit::Provenance;
use crate::auth::{AuthError, Caller, Scope};
use crate::tenancy::Tenant;

/// The tenant and caller of an authenticated request, for handlers.
#[derive(Clone)]
pub struct TenantContext {
    /// The tenant named in the path.
    pub tenant: Arc<Tenant>,
    /// Who is calling and from where, as the ledger records it.
    pub provenance: Provenance,
}

/// Gate state: the application and the scope the routes behind it need.
#[derive(Clone)]
pub struct Gate {
    /// The application.
    pub app: AppState,
    /// Scope required.
    pub scope: Scope,
}

/// Resolves the tenant (404 when unknown), authenticates the caller against that
/// tenant's clients only (401), checks the scope (403), then runs the handler.
pub async fn require_tenant_client(
    State(gate): State<Gate>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let tenant_id = request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let tenant = gate.app.tenant(&tenant_id).await?;
    let token =
        bearer_token(&request).ok_or(ApiError::Unauthorized(AuthError::Missing.to_string()))?;
    let caller = tenant
        .clients()
        .authenticate(&tenant.store, token, gate.scope)
        .await
        .map_err(|e| match e {
            AuthError::Scope(_) => ApiError::Forbidden(e.to_string()),
            AuthError::Missing | AuthError::Invalid => ApiError::Unauthorized(e.to_string()),
        })?;
    let provenance = provenance(&request, &caller);
    request
        .extensions_mut()
        .insert(TenantContext { tenant, provenance });
    Ok(next.run(request).await)
}

/// The client, request id, peer address and user agent of `request`.
fn provenance(request: &Request, caller: &Caller) -> Provenance {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    provenance_of(
        format!("client:{}", caller.client_id),
        request.headers(),
        peer,
    )
}

/// Provenance for `actor` from a request's headers and peer address.
pub fn provenance_of(actor: String, headers: &HeaderMap, peer: Option<SocketAddr>) -> Provenance {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect())
    };
    Provenance {
        actor,
        request_id: header(super::REQUEST_ID),
        source_ip: peer.map(|p| p.ip().to_string()),
        user_agent: header(USER_AGENT),
    }
}

fn bearer_token(request: &Request) -> Option<&str> {
    bearer_of(request.headers())
}

/// The bearer token of an `Authorization` header, if there is one.
pub fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
