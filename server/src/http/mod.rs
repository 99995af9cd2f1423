//! The HTTP surface: every router composed into one app, with request ids, tracing, limits and metrics.

mod authzen;
mod browser;
mod clients;
mod console;
mod directory;
mod error;
mod gate;
mod health;
pub(crate) mod hr;
mod identity;
mod json;
mod ledger;
mod login;
mod native;
mod policies;
mod provisioning;
mod reports;
mod reviews;
mod scim;
mod sessions;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use health::OPENAPI;

use crate::config::Settings;
use crate::metrics::{HTTP_REQUESTS, HTTP_SECONDS};
use gate::{Gate, require_client_or_auditor, require_reviewer_session, require_tenant_client};
use hms_governance::credentials::Scope;
use hms_governance::tenancy::{Tenant, Tenants};

/// Shared application state.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

/// What every handler can reach.
pub struct AppInner {
    /// Configuration.
    pub settings: Settings,
    /// The tenants served.
    pub tenants: Arc<Tenants>,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    /// Wraps settings and tenants.
    pub fn new(settings: Settings, tenants: Arc<Tenants>) -> Self {
        Self(Arc::new(AppInner { settings, tenants }))
    }

    /// The tenant named `id`, or a 404.
    pub async fn tenant(&self, id: &str) -> Result<Arc<Tenant>, ApiError> {
        self.tenants
            .get(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("unknown tenant `{id}`")))
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let pdp = Router::new()
        .route("/{tenant}/access/v1/evaluation", post(authzen::evaluation))
        .route(
            "/{tenant}/access/v1/evaluations",
            post(authzen::evaluations),
        )
        .route(
            "/{tenant}/access/v1/search/subject",
            post(authzen::search_subject),
        )
        .route(
            "/{tenant}/access/v1/search/resource",
            post(authzen::search_resource),
        )
        .route(
            "/{tenant}/access/v1/search/action",
            post(authzen::search_action),
        )
        .route("/{tenant}/v1/decisions", post(native::decisions))
        .route("/{tenant}/auth/introspect", post(sessions::introspect))
        .route_layer(middleware::from_fn_with_state(
            Gate {
                app: state.clone(),
                scope: Scope::Pdp,
            },
            require_tenant_client,
        ));
    let admin = Router::new()
        .route(
            "/{tenant}/v1/policies",
            get(policies::current).put(policies::upload),
        )
        .route("/{tenant}/v1/policies/validate", post(policies::validate))
        .route("/{tenant}/v1/policies/versions", get(policies::versions))
        .route("/{tenant}/v1/policies/rollback", post(policies::rollback))
        .route("/{tenant}/v1/directory/staff", put(directory::put_staff))
        .route(
            "/{tenant}/v1/directory/staff/{id}",
            get(directory::get_staff),
        )
        .route(
            "/{tenant}/v1/directory/patients",
            put(directory::put_patients),
        )
        .route(
            "/{tenant}/v1/directory/patients/{id}",
            get(directory::get_patient),
        )
        .route(
            "/{tenant}/v1/directory/encounters",
            put(directory::put_encounters),
        )
        .route(
            "/{tenant}/v1/clients",
            get(clients::list).post(clients::create),
        )
        .route("/{tenant}/v1/clients/{id}", delete(clients::revoke))
        .route("/{tenant}/ledger/keys/rotate", post(ledger::rotate_key))
        .route(
            "/{tenant}/ledger/settings",
            get(ledger::settings).put(ledger::set_settings),
        )
        .route(
            "/{tenant}/v1/provisioning/hr",
            get(hr::get_settings).put(hr::put_settings),
        )
        .route(
            "/{tenant}/v1/provisioning/hr/secret",
            post(hr::rotate_secret),
        )
        .route(
            "/{tenant}/v1/provisioning/group-roles",
            get(provisioning::group_roles).put(provisioning::put_group_roles),
        )
        .merge(identity_admin_routes())
        .merge(review_admin_routes())
        .route_layer(middleware::from_fn_with_state(
            Gate {
                app: state.clone(),
                scope: Scope::Admin,
            },
            require_tenant_client,
        ));
    let reviewers = Router::new()
        .route("/{tenant}/v1/reviews/mine", get(reviews::mine))
        .route(
            "/{tenant}/v1/reviews/campaigns/{id}/decisions",
            post(reviews::decide),
        )
        .route_layer(middleware::from_fn_with_state(
            Gate {
                app: state.clone(),
                scope: Scope::Admin,
            },
            require_reviewer_session,
        ));
    let audit = Router::new()
        .route("/{tenant}/ledger/entries", get(ledger::entries))
        .route("/{tenant}/ledger/entries/{sequence}", get(ledger::entry))
        .route(
            "/{tenant}/ledger/checkpoint",
            get(ledger::latest_checkpoint),
        )
        .route("/{tenant}/ledger/checkpoints", get(ledger::checkpoints))
        .route(
            "/{tenant}/ledger/proofs/inclusion",
            get(ledger::inclusion_proof),
        )
        .route(
            "/{tenant}/ledger/proofs/consistency",
            get(ledger::consistency_proof),
        )
        .route("/{tenant}/ledger/keys", get(ledger::keys))
        .route("/{tenant}/ledger/export", get(ledger::export))
        .route_layer(middleware::from_fn_with_state(
            Gate {
                app: state.clone(),
                scope: Scope::Audit,
            },
            require_tenant_client,
        ));
    let reports = Router::new()
        .route("/{tenant}/reports/{kind}", get(reports::report))
        .route(
            "/{tenant}/reports/break-glass/reviews",
            post(reports::review),
        )
        .route_layer(middleware::from_fn_with_state(
            Gate {
                app: state.clone(),
                scope: Scope::Audit,
            },
            require_client_or_auditor,
        ));
    let scim = scim_routes()
        .route_layer(middleware::from_fn_with_state(
            Gate {
                app: state.clone(),
                scope: Scope::Scim,
            },
            require_tenant_client,
        ))
        .layer(middleware::from_fn(scim::scim_errors));
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .route(
            "/.well-known/authzen-configuration/{tenant}",
            get(authzen::metadata),
        )
        .route("/{tenant}/hr/events", post(hr::receive))
        .merge(login_routes())
        .merge(console::routes());
    let max_body = state.settings.max_body_bytes;
    Router::new()
        .merge(pdp)
        .merge(admin)
        .merge(audit)
        .merge(reports)
        .merge(reviewers)
        .merge(scim)
        .merge(public)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(record_http_metrics))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The SCIM service, under `/{tenant}/scim/v2`.
fn scim_routes() -> Router<AppState> {
    const BASE: &str = "/{tenant}/scim/v2";
    let at = |path: &str| format!("{BASE}{path}");
    Router::new()
        .route(
            &at("/ServiceProviderConfig"),
            get(scim::service_provider_config),
        )
        .route(&at("/Schemas"), get(scim::schemas))
        .route(&at("/Schemas/{id}"), get(scim::schema))
        .route(&at("/ResourceTypes"), get(scim::resource_types))
        .route(&at("/ResourceTypes/{id}"), get(scim::resource_type))
        .route(&at("/Users"), get(scim::list_resources).post(scim::create))
        .route(&at("/Groups"), get(scim::list_resources).post(scim::create))
        .route(&at("/Users/.search"), post(scim::search))
        .route(&at("/Groups/.search"), post(scim::search))
        .route(&at("/Users/{id}"), one_resource())
        .route(&at("/Groups/{id}"), one_resource())
        .route(&at("/Bulk"), post(scim::bulk))
        .route(&at("/{*rest}"), axum::routing::any(scim::no_such_endpoint))
}

/// Identity administration, behind the admin scope.
fn identity_admin_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/v1/identity/providers",
            get(identity::list_providers),
        )
        .route(
            "/{tenant}/v1/identity/providers/{id}",
            put(identity::put_provider).delete(identity::delete_provider),
        )
        .route(
            "/{tenant}/v1/identity/settings",
            get(identity::get_settings).put(identity::put_settings),
        )
        .route(
            "/{tenant}/v1/identity/sessions",
            get(identity::list_sessions),
        )
        .route(
            "/{tenant}/v1/identity/sessions/{id}",
            delete(identity::revoke_session),
        )
        .route(
            "/{tenant}/v1/identity/mfa/{staff_id}",
            delete(identity::reset_mfa),
        )
        .route(
            "/{tenant}/v1/identity/token-keys/rotate",
            post(identity::rotate_token_key),
        )
}

/// The security team's access-review routes (admin scope).
fn review_admin_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/v1/reviews/campaigns",
            get(reviews::list).post(reviews::create),
        )
        .route("/{tenant}/v1/reviews/campaigns/{id}", get(reviews::get))
        .route(
            "/{tenant}/v1/reviews/campaigns/{id}/close",
            post(reviews::close),
        )
        .route(
            "/{tenant}/v1/reviews/overdue",
            get(reviews::overdue).post(reviews::enforce_overdue),
        )
        .route(
            "/{tenant}/v1/reviews/settings",
            get(reviews::settings).put(reviews::set_settings),
        )
        .route("/{tenant}/v1/reviews/reminders", post(reviews::remind))
}

/// Staff sign-in: public, each step proving itself (IdP signatures, login
/// and session tokens).
fn login_routes() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/auth/oidc/{idp}/login", get(login::oidc_login))
        .route(
            "/{tenant}/auth/oidc/{idp}/callback",
            get(login::oidc_callback),
        )
        .route(
            "/{tenant}/auth/saml/{idp}/metadata",
            get(login::saml_metadata),
        )
        .route("/{tenant}/auth/saml/{idp}/login", get(login::saml_login))
        .route("/{tenant}/auth/saml/{idp}/acs", post(login::saml_acs))
        .route("/{tenant}/auth/mfa/enroll", post(sessions::mfa_enroll))
        .route("/{tenant}/auth/mfa/verify", post(sessions::mfa_verify))
        .route(
            "/{tenant}/auth/session/token",
            post(sessions::session_token),
        )
        .route("/{tenant}/auth/session/logout", post(sessions::logout))
        .route("/{tenant}/auth/jwks.json", get(sessions::jwks))
}

fn one_resource() -> axum::routing::MethodRouter<AppState> {
    get(scim::get)
        .put(scim::replace)
        .patch(scim::patch)
        .delete(scim::delete)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn record_http_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(HTTP_SECONDS, "route" => route).record(started.elapsed().as_secs_f64());
    response
}
