//! The tenant gate: every `/{tenant}/…` request is bound to an existing tenant and an authenticated client of it.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::middleware::Next;
use axum::response::Response;

use hms_authz::{AccessRequest, Action, Subject};
use serde_json::{Map, json};

use super::AppState;
use super::error::ApiError;
use hms_governance::audit::Provenance;
use hms_governance::credentials::{AuthError, Scope};
use hms_governance::decisions::decide;
use hms_governance::sessions::check_token;
use hms_governance::tenancy::Tenant;

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
    let (path, peer) = path_and_peer(&request);
    let context = client_context(&gate, &path, request.headers(), peer).await?;
    request.extensions_mut().insert(context);
    Ok(next.run(request).await)
}

/// The path and peer address of `request`.
fn path_and_peer(request: &Request) -> (String, Option<SocketAddr>) {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    (request.uri().path().to_owned(), peer)
}

/// The tenant named by the first segment of `path`.
async fn path_tenant(gate: &Gate, path: &str) -> Result<Arc<Tenant>, ApiError> {
    let tenant_id = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    gate.app.tenant(&tenant_id).await
}

/// The tenant and the API client of a request, holding the gate's scope.
async fn client_context(
    gate: &Gate,
    path: &str,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<TenantContext, ApiError> {
    let tenant = path_tenant(gate, path).await?;
    let token = bearer_of(headers).ok_or(ApiError::Unauthorized(AuthError::Missing.to_string()))?;
    let caller = tenant
        .clients()
        .authenticate(&tenant.store, token, gate.scope)
        .await
        .map_err(|e| match e {
            AuthError::Scope(_) => ApiError::Forbidden(e.to_string()),
            AuthError::Missing | AuthError::Invalid => ApiError::Unauthorized(e.to_string()),
        })?;
    let provenance = provenance_of(format!("client:{}", caller.client_id), headers, peer);
    Ok(TenantContext { tenant, provenance })
}

/// Like [`require_tenant_client`], and also lets in a signed-in staff member
/// whose session token the PDP allows to read the audit log (a
/// `read_audit_log` decision on the tenant's `AuditLog`, recorded like any
/// other): the auditor role in the HMS policy set.
pub async fn require_client_or_auditor(
    State(gate): State<Gate>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (path, peer) = path_and_peer(&request);
    let headers = request.headers();
    let context = match bearer_of(headers) {
        Some(token) if is_session_token(token) => {
            let permission = Permission {
                action: "read_audit_log",
                resource: "AuditLog",
                refusal: "the policies do not let this person read the audit log",
            };
            staff_context(&gate, &path, headers, peer, token, &permission)
                .await?
                .0
        }
        _ => client_context(&gate, &path, headers, peer).await?,
    };
    request.extensions_mut().insert(context);
    Ok(next.run(request).await)
}

/// Lets in a signed-in staff member whom the PDP allows `review_access` on
/// the tenant's `AccessReview` (every active member of its staff, in the HMS
/// set): a reviewer acting on their own items, which the handlers check.
pub async fn require_reviewer_session(
    State(gate): State<Gate>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (path, peer) = path_and_peer(&request);
    let headers = request.headers();
    let token = bearer_of(headers)
        .filter(|token| is_session_token(token))
        .ok_or(ApiError::Unauthorized(
            "a staff session token is required".into(),
        ))?;
    let permission = Permission {
        action: "review_access",
        resource: "AccessReview",
        refusal: "the policies do not let this person review access",
    };
    let (context, staff) = staff_context(&gate, &path, headers, peer, token, &permission).await?;
    request.extensions_mut().insert(context);
    request.extensions_mut().insert(SessionStaff(staff));
    Ok(next.run(request).await)
}

/// The staff member behind a session-authenticated request.
#[derive(Debug, Clone)]
pub struct SessionStaff(pub String);

/// Session tokens are JWTs (`eyJ….….…`); API credentials are `client_id.secret`.
fn is_session_token(token: &str) -> bool {
    token.starts_with("eyJ") && token.matches('.').count() == 2
}

/// What a staff session must be allowed, on the tenant's own resource of a type.
struct Permission {
    action: &'static str,
    resource: &'static str,
    refusal: &'static str,
}

/// The tenant and staff member of a valid session token whom the PDP allows
/// `permission` (a decision recorded like any other).
async fn staff_context(
    gate: &Gate,
    path: &str,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    token: &str,
    permission: &Permission,
) -> Result<(TenantContext, String), ApiError> {
    let tenant = path_tenant(gate, path).await?;
    let checked = check_token(&tenant, token)
        .await
        .map_err(|refusal| ApiError::Refused {
            code: refusal.code,
            message: "the session token was refused".into(),
        })?;
    let staff = checked.claims.sub.clone();
    let provenance = provenance_of(format!("staff:{staff}"), headers, peer);
    let context = TenantContext { tenant, provenance };
    let organization = context.tenant.id().to_owned();
    let question = AccessRequest {
        subject: Subject {
            kind: "Staff".into(),
            id: staff.clone(),
            properties: Map::new(),
        },
        action: Action {
            name: permission.action.into(),
            properties: Map::new(),
        },
        resource: Subject {
            kind: permission.resource.into(),
            id: organization.clone(),
            properties: Map::from_iter([("organization".to_owned(), json!(organization))]),
        },
        context: Map::from_iter([("mfa".to_owned(), json!(checked.session.mfa()))]),
    };
    let decided = decide(&context.tenant, &context.provenance, question).await?;
    if !decided.decision.allowed {
        return Err(ApiError::Forbidden(permission.refusal.into()));
    }
    Ok((context, staff))
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

/// The bearer token of an `Authorization` header, if there is one.
pub fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
