//! Signed HR webhooks at `/{tenant}/hr/events`, their settings and secret
//! rotation over HTTP; the workflow is `hms_governance::hr`.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use hms_governance::audit::Actor;
use hms_governance::audit::Provenance;
use hms_governance::hr::{self, Delivery, Received, RotatedSecret};
use hms_scim::hr::settings::HrSettings;
use hms_scim::hr::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::ApiJson;
use super::precondition::{IfMatch, Tagged};

/// The HR routes: the signed webhook (its signature is its credential) and
/// its settings behind an `admin` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(rotate_secret))
}

/// `POST /{tenant}/hr/events`: verifies the signature over timestamp and
/// body, then applies the event once (200), or keeps a future-dated one until
/// its effective time (202). Offboarding is in force at the PDP before the
/// answer is sent.
#[utoipa::path(
    post,
    path = "/{tenant}/hr/events",
    tag = "hr",
    params(
        ("X-HMS-Signature" = String, Header, description = "`v1=` and the hex HMAC-SHA256 of `{timestamp}.{body}` under a current webhook secret (several comma-separated)."),
        ("X-HMS-Timestamp" = String, Header, description = "Unix seconds when the event was signed; at most 5 minutes off."),
    ),
    request_body(content = Object, description = "An HR event (hire, transfer, termination…).", content_type = "application/json"),
    responses(
        (status = 200, description = "Applied (or a duplicate, or nothing to change).", body = Received),
        (status = 202, description = "Future-dated: kept until its effective time.", body = Received),
        (status = 401, description = "No valid signature.", body = super::openapi::ErrorBody),
    )
)]
pub async fn receive(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Received>), ApiError> {
    let body =
        body.map_err(|_| ApiError::PayloadTooLarge("request body is larger than allowed".into()))?;
    let tenant = app.tenant(&tenant_id).await?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let by = Provenance {
        actor: Actor::HrWebhook,
        request_id: header(super::REQUEST_ID.as_str()).map(str::to_owned),
        source_ip: Some(peer.ip().to_string()),
        user_agent: header(USER_AGENT.as_str()).map(|v| v.chars().take(256).collect()),
    };
    let delivery = Delivery {
        signature: header(SIGNATURE_HEADER),
        timestamp: header(TIMESTAMP_HEADER),
        body: &body,
    };
    let received = hr::receive(&tenant, delivery, &by).await?;
    let status = if received.is_scheduled() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(received)))
}

/// `POST /{tenant}/v1/provisioning/hr/secret`: a new secret, shown once; the
/// previous ones keep verifying for 24 hours.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/provisioning/hr/secret",
    tag = "hr",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The new secret, shown once.", body = RotatedSecret))
)]
pub async fn rotate_secret(ctx: AdminClient) -> Result<Json<RotatedSecret>, ApiError> {
    Ok(Json(hr::rotate_secret(&ctx.tenant, &ctx.provenance).await?))
}

/// `GET /{tenant}/v1/provisioning/hr`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/provisioning/hr",
    tag = "hr",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The settings.", body = HrSettings,
        headers(("ETag" = String, description = "Their entity tag, for `If-Match` on the next write."))))
)]
pub async fn get_settings(ctx: AdminClient) -> Result<Tagged<HrSettings>, ApiError> {
    Ok(Tagged::by_content(hr::settings(&ctx.tenant).await?))
}

/// `PUT /{tenant}/v1/provisioning/hr`: the job-to-role mapping and the manager notification URL.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/provisioning/hr",
    tag = "hr",
    security(("client" = ["admin"])),
    params(IfMatch),
    request_body = HrSettings,
    responses((status = 200, description = "The settings now in force.", body = HrSettings,
        headers(("ETag" = String, description = "Their entity tag."))))
)]
pub async fn put_settings(
    ctx: AdminClient,
    IfMatch(based_on): IfMatch,
    ApiJson(body): ApiJson<HrSettings>,
) -> Result<Tagged<HrSettings>, ApiError> {
    hr::put_settings(&ctx.tenant, &body, &based_on, &ctx.provenance).await?;
    Ok(Tagged::by_content(body))
}
