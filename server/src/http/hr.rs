//! Signed HR webhooks at `/{tenant}/hr/events`, their settings and secret
//! rotation over HTTP; the workflow is `hms_governance::hr`.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use hms_governance::audit::Provenance;
use hms_governance::hr::{self, Delivery, HR_ACTOR, Received, RotatedSecret};
use hms_scim::hr::settings::HrSettings;
use hms_scim::hr::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

use super::AppState;
use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiJson;

/// `POST /{tenant}/hr/events`: verifies the signature over timestamp and
/// body, then applies the event once (200), or keeps a future-dated one until
/// its effective time (202). Offboarding is in force at the PDP before the
/// answer is sent.
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
        actor: HR_ACTOR.into(),
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
pub async fn rotate_secret(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<RotatedSecret>, ApiError> {
    Ok(Json(hr::rotate_secret(&ctx.tenant, &ctx.provenance).await?))
}

/// `GET /{tenant}/v1/provisioning/hr`.
pub async fn get_settings(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<HrSettings>, ApiError> {
    Ok(Json(hr::settings(&ctx.tenant).await?))
}

/// `PUT /{tenant}/v1/provisioning/hr`: the job-to-role mapping and the manager notification URL.
pub async fn put_settings(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(body): ApiJson<HrSettings>,
) -> Result<Json<HrSettings>, ApiError> {
    hr::put_settings(&ctx.tenant, &body, &ctx.provenance).await?;
    Ok(Json(body))
}
