//! Policy administration: the bundle in force, uploads (validated, versioned), checks and rollbacks.

use axum::http::StatusCode;
use axum::{Extension, Json};
use hms_authz::{BundleOptions, BundleSource, PolicyFile};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiJson;

/// An upload: policy files, and optionally a new schema and options (else the current ones).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpload {
    policies: Vec<PolicyFile>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    options: Option<BundleOptions>,
    #[serde(default)]
    comment: String,
}

impl PolicyUpload {
    fn into_source(self, current: &BundleSource) -> (BundleSource, String) {
        let source = BundleSource {
            schema: self.schema.unwrap_or_else(|| current.schema.clone()),
            policies: self.policies,
            options: self.options.unwrap_or_else(|| current.options.clone()),
        };
        (source, self.comment)
    }
}

/// `GET /{tenant}/v1/policies`: the bundle in force.
pub async fn current(Extension(ctx): Extension<TenantContext>) -> Json<Value> {
    let pdp = ctx.tenant.pdp();
    let bundle = pdp.bundle();
    Json(json!({
        "version": ctx.tenant.policy_version(),
        "policy_ids": bundle.policy_ids(),
        "schema": bundle.source().schema,
        "policies": bundle.source().policies,
        "options": bundle.source().options,
    }))
}

/// `PUT /{tenant}/v1/policies`: validates and installs a new version; a rejected upload changes nothing.
pub async fn upload(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(upload): ApiJson<PolicyUpload>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (source, comment) = upload.into_source(ctx.tenant.pdp().bundle().source());
    let version = ctx
        .tenant
        .install_policies(source, &ctx.provenance, &comment)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(version))))
}

/// `POST /{tenant}/v1/policies/validate`: reports what an upload would do, changing nothing.
pub async fn validate(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(upload): ApiJson<PolicyUpload>,
) -> Result<Json<Value>, ApiError> {
    let (source, _) = upload.into_source(ctx.tenant.pdp().bundle().source());
    let bundle = ctx.tenant.check_policies(source).await?;
    Ok(Json(
        json!({ "valid": true, "policy_ids": bundle.policy_ids() }),
    ))
}

/// `GET /{tenant}/v1/policies/versions`: every version, newest first.
pub async fn versions(Extension(ctx): Extension<TenantContext>) -> Result<Json<Value>, ApiError> {
    let versions = ctx.tenant.store.list_policy_versions().await?;
    Ok(Json(
        json!({ "active": ctx.tenant.policy_version(), "versions": versions }),
    ))
}

/// The body of a rollback.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    version: i64,
}

/// `POST /{tenant}/v1/policies/rollback`: an earlier version back in force, as a new version.
pub async fn rollback(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(body): ApiJson<Rollback>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let version = ctx
        .tenant
        .rollback_policies(body.version, &ctx.provenance)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(version))))
}
