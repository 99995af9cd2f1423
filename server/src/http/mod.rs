//! The HTTP surface: every router composed into one app, with request ids, tracing, limits and metrics.

mod authzen;
mod browser;
mod clients;
mod console;
mod directory;
mod entities;
mod error;
mod gate;
mod health;
pub(crate) mod hr;
mod identity;
mod json;
mod ledger;
mod login;
mod native;
mod openapi;
mod operator;
mod policies;
mod precondition;
mod provisioning;
mod reports;
mod reviews;
mod scim;
mod sessions;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;

use crate::config::Settings;
use crate::metrics::{HTTP_REQUESTS, HTTP_SECONDS};
use hms_governance::tenancy::{Tenant, Tenants};
use openapi::ApiDoc;

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

/// The whole application router: every feature's routes (each handler naming
/// its gate in its signature), the OpenAPI document generated from them, the
/// web console, and the layers every request passes.
pub fn router(state: AppState) -> Router {
    let (api, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(authzen::routes())
        .merge(native::routes())
        .merge(policies::routes())
        .merge(directory::routes())
        .merge(entities::routes())
        .merge(clients::routes())
        .merge(ledger::routes())
        .merge(operator::routes())
        .merge(reports::routes())
        .merge(hr::routes())
        .merge(provisioning::routes())
        .merge(identity::routes())
        .merge(reviews::routes())
        .merge(login::routes())
        .merge(sessions::routes())
        .merge(scim::routes())
        .merge(health::routes())
        .split_for_parts();
    let document = openapi_json(document);
    let max_body = state.settings.max_body_bytes;
    api.route(
        "/openapi.json",
        get(move || async move { ([(CONTENT_TYPE, "application/json")], document) }),
    )
    .merge(console::routes())
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

/// The OpenAPI document as served: the generated paths with the shared
/// conventions, rendered once.
fn openapi_json(mut document: utoipa::openapi::OpenApi) -> Bytes {
    openapi::apply_conventions(&mut document);
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    Bytes::from(document.to_pretty_json().unwrap_or_default())
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
