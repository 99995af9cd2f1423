//! The tenant gates, as extractors: every gated `/{tenant}/…` handler names in its signature who may call it.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;

use hms_authz::{AccessRequest, Action, Subject};
use serde_json::{Map, json};

use super::AppState;
use super::error::ApiError;
use hms_governance::audit::{Actor, Provenance};
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

/// A scope a route needs of its API client, named by a type so that a handler
/// states its gate in its signature.
pub trait RequiredScope: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
}

macro_rules! scopes {
    ($($(#[$doc:meta])* $marker:ident => $scope:ident, $alias:ident;)*) => {$(
        $(#[$doc])*
        pub struct $marker;
        impl RequiredScope for $marker {
            const SCOPE: Scope = Scope::$scope;
        }
        $(#[$doc])*
        pub type $alias = Client<$marker>;
    )*};
}

scopes! {
    /// The PDP scope: decisions, searches and session introspection.
    PdpScope => Pdp, PdpClient;
    /// The admin scope: policies, directory, clients, identity, reviews, settings.
    AdminScope => Admin, AdminClient;
    /// The audit scope: the ledger, its proofs and the compliance reports.
    AuditScope => Audit, AuditClient;
    /// The SCIM scope: provisioning by an identity provider.
    ScimScope => Scim, ScimClient;
}

/// An API client of the tenant in the path holding scope `S`: the tenant is
/// resolved (404 when unknown), the caller authenticated against that tenant's
/// clients only (401) and its scope checked (403) before the handler runs.
pub struct Client<S> {
    context: TenantContext,
    scope: PhantomData<S>,
}

impl<S> Deref for Client<S> {
    type Target = TenantContext;
    fn deref(&self) -> &TenantContext {
        &self.context
    }
}

impl<S> Client<S> {
    /// The tenant and provenance, owned.
    pub fn into_context(self) -> TenantContext {
        self.context
    }
}

impl<S: RequiredScope> FromRequestParts<AppState> for Client<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let context = client_context(app, parts, S::SCOPE).await?;
        Ok(Self {
            context,
            scope: PhantomData,
        })
    }
}

/// The peer address of a request, when the server recorded it.
fn peer_of(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

/// The tenant named by the first segment of the request path.
async fn path_tenant(app: &AppState, parts: &Parts) -> Result<Arc<Tenant>, ApiError> {
    let tenant_id = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    app.tenant(tenant_id).await
}

/// The tenant and the API client of a request, holding `scope`.
async fn client_context(
    app: &AppState,
    parts: &Parts,
    scope: Scope,
) -> Result<TenantContext, ApiError> {
    let tenant = path_tenant(app, parts).await?;
    let token =
        bearer_of(&parts.headers).ok_or(ApiError::Unauthorized(AuthError::Missing.to_string()))?;
    let caller = tenant
        .clients()
        .authenticate(&tenant.store, token, scope)
        .await
        .map_err(|e| match e {
            AuthError::Scope(_) => ApiError::Forbidden(e.to_string()),
            AuthError::Missing | AuthError::Invalid => ApiError::Unauthorized(e.to_string()),
        })?;
    let provenance = provenance_of(
        Actor::Client(caller.client_id.clone()),
        &parts.headers,
        peer_of(parts),
    );
    Ok(TenantContext { tenant, provenance })
}

/// A reader of the audit trail: an API client with the audit scope, or a
/// signed-in staff member whose session token the PDP allows to read the audit
/// log (a `read_audit_log` decision on the tenant's `AuditLog`, recorded like
/// any other): the auditor role in the HMS policy set.
pub struct AuditReader(TenantContext);

impl Deref for AuditReader {
    type Target = TenantContext;
    fn deref(&self) -> &TenantContext {
        &self.0
    }
}

impl FromRequestParts<AppState> for AuditReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let context = match bearer_of(&parts.headers) {
            Some(token) if is_session_token(token) => {
                let permission = Permission {
                    action: "read_audit_log",
                    resource: "AuditLog",
                    refusal: "the policies do not let this person read the audit log",
                };
                staff_context(app, parts, token, &permission).await?.0
            }
            _ => client_context(app, parts, Scope::Audit).await?,
        };
        Ok(Self(context))
    }
}

/// A signed-in staff member whom the PDP allows `review_access` on the
/// tenant's `AccessReview` (every active member of its staff, in the HMS set):
/// a reviewer acting on their own items, which the handlers check.
pub struct Reviewer {
    /// The tenant and provenance.
    pub context: TenantContext,
    /// The staff member behind the session.
    pub staff: String,
}

impl FromRequestParts<AppState> for Reviewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer_of(&parts.headers)
            .filter(|token| is_session_token(token))
            .ok_or(ApiError::Unauthorized(
                "a staff session token is required".into(),
            ))?;
        let permission = Permission {
            action: "review_access",
            resource: "AccessReview",
            refusal: "the policies do not let this person review access",
        };
        let (context, staff) = staff_context(app, parts, token, &permission).await?;
        Ok(Self { context, staff })
    }
}

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
    app: &AppState,
    parts: &Parts,
    token: &str,
    permission: &Permission,
) -> Result<(TenantContext, String), ApiError> {
    let tenant = path_tenant(app, parts).await?;
    let checked = check_token(&tenant, token)
        .await
        .map_err(|refusal| ApiError::Refused {
            code: refusal.code,
            message: "the session token was refused".into(),
        })?;
    let staff = checked.claims.sub.clone();
    let provenance = provenance_of(Actor::Staff(staff.clone()), &parts.headers, peer_of(parts));
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
pub fn provenance_of(actor: Actor, headers: &HeaderMap, peer: Option<SocketAddr>) -> Provenance {
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
