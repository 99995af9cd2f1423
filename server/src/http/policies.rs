//! Policy administration: the bundle in force, uploads (validated, versioned), checks and rollbacks.

use axum::Json;
use axum::http::StatusCode;
use hms_authz::{BundleOptions, BundleSource, PolicyFile};
use hms_directory::PolicyVersion;
use hms_directory::precondition::policy_tag;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use hms_governance::impact::{ImpactReport, MAX_DAYS, policy_impact};

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::ApiJson;
use super::precondition::{IfMatch, Tagged};

/// The policy routes, behind an `admin` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current, upload))
        .routes(routes!(validate))
        .routes(routes!(impact))
        .routes(routes!(versions))
        .routes(routes!(rollback))
}

/// An upload: policy files, and optionally a new schema and options (else the current ones).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpload {
    /// The Cedar policy files.
    policies: Vec<PolicyFile>,
    /// The Cedar schema (human-readable syntax); the current one when absent.
    #[serde(default)]
    schema: Option<String>,
    /// How the PDP uses the bundle; the current options when absent.
    #[serde(default)]
    options: Option<BundleOptions>,
    /// Why, for the version history.
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

/// The bundle in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyState {
    /// Its version.
    version: i64,
    /// The ids of its policies.
    policy_ids: Vec<String>,
    /// The Cedar schema.
    schema: String,
    /// The policy files.
    policies: Vec<PolicyFile>,
    /// How the PDP uses it.
    options: BundleOptions,
}

/// `GET /{tenant}/v1/policies`: the bundle in force.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/policies",
    tag = "policies",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The bundle in force; `ETag` names its version.", body = PolicyState,
        headers(("ETag" = String, description = "The version's entity tag, for `If-Match` on the next upload."))))
)]
pub async fn current(ctx: AdminClient) -> Tagged<PolicyState> {
    let pdp = ctx.tenant.pdp();
    let bundle = pdp.bundle();
    let source = bundle.source();
    let version = ctx.tenant.policy_version();
    Tagged::with_tag(
        policy_tag(version),
        PolicyState {
            version,
            policy_ids: bundle.policy_ids(),
            schema: source.schema.clone(),
            policies: source.policies.clone(),
            options: source.options.clone(),
        },
    )
}

/// `PUT /{tenant}/v1/policies`: validates and installs a new version; a rejected upload changes nothing.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/policies",
    tag = "policies",
    security(("client" = ["admin"])),
    params(IfMatch),
    request_body = PolicyUpload,
    responses(
        (status = 201, description = "Installed as a new version.", body = PolicyVersion,
            headers(("ETag" = String, description = "The new version's entity tag."))),
        (status = 422, description = "The bundle does not validate; nothing changed.", body = super::openapi::ErrorBody),
    )
)]
pub async fn upload(
    ctx: AdminClient,
    IfMatch(based_on): IfMatch,
    ApiJson(upload): ApiJson<PolicyUpload>,
) -> Result<(StatusCode, Tagged<PolicyVersion>), ApiError> {
    let (source, comment) = upload.into_source(ctx.tenant.pdp().bundle().source());
    let version = ctx
        .tenant
        .install_policies(source, &based_on, &ctx.provenance, &comment)
        .await?;
    Ok((StatusCode::CREATED, tagged_version(version)))
}

fn tagged_version(version: PolicyVersion) -> Tagged<PolicyVersion> {
    Tagged::with_tag(policy_tag(version.version), version)
}

/// What a valid upload would install.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    /// Always `true`: an invalid upload is a 422.
    valid: bool,
    /// The ids of its policies.
    policy_ids: Vec<String>,
}

/// `POST /{tenant}/v1/policies/validate`: reports what an upload would do, changing nothing.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/policies/validate",
    tag = "policies",
    security(("client" = ["admin"])),
    request_body = PolicyUpload,
    responses(
        (status = 200, description = "The upload is valid.", body = Validation),
        (status = 422, description = "The bundle does not validate.", body = super::openapi::ErrorBody),
    )
)]
pub async fn validate(
    ctx: AdminClient,
    ApiJson(upload): ApiJson<PolicyUpload>,
) -> Result<Json<Validation>, ApiError> {
    let (source, _) = upload.into_source(ctx.tenant.pdp().bundle().source());
    let bundle = ctx.tenant.check_policies(source).await?;
    Ok(Json(Validation {
        valid: true,
        policy_ids: bundle.policy_ids(),
    }))
}

/// A candidate bundle and how far back to replay the recorded decisions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactRequest {
    /// The candidate's Cedar policy files.
    policies: Vec<PolicyFile>,
    /// Its schema; the current one when absent.
    #[serde(default)]
    schema: Option<String>,
    /// Its options; the current ones when absent.
    #[serde(default)]
    options: Option<BundleOptions>,
    /// Days of recorded decisions to replay, 1 to 366 (30 when absent).
    #[serde(default = "default_impact_days")]
    days: u32,
}

fn default_impact_days() -> u32 {
    30
}

/// `POST /{tenant}/v1/policies/impact`: which recorded decisions a candidate
/// bundle would change, replayed from the ledger; nothing is changed.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/policies/impact",
    tag = "policies",
    security(("client" = ["admin"])),
    request_body = ImpactRequest,
    responses(
        (status = 200, description = "What the candidate would change.", body = ImpactReport),
        (status = 422, description = "The candidate does not validate.", body = super::openapi::ErrorBody),
    )
)]
pub async fn impact(
    ctx: AdminClient,
    ApiJson(request): ApiJson<ImpactRequest>,
) -> Result<Json<ImpactReport>, ApiError> {
    if !(1..=MAX_DAYS).contains(&request.days) {
        return Err(ApiError::bad_request(
            "invalid_days",
            format!("`days` is 1 to {MAX_DAYS}"),
        ));
    }
    let upload = PolicyUpload {
        policies: request.policies,
        schema: request.schema,
        options: request.options,
        comment: String::new(),
    };
    let (source, _) = upload.into_source(ctx.tenant.pdp().bundle().source());
    Ok(Json(
        policy_impact(&ctx.tenant, source, request.days).await?,
    ))
}

/// Every version and which is in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyVersions {
    /// The version in force.
    active: i64,
    /// Every version, newest first.
    versions: Vec<PolicyVersion>,
}

/// `GET /{tenant}/v1/policies/versions`: every version, newest first.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/policies/versions",
    tag = "policies",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Every version.", body = PolicyVersions))
)]
pub async fn versions(ctx: AdminClient) -> Result<Json<PolicyVersions>, ApiError> {
    let versions = ctx.tenant.store.list_policy_versions().await?;
    Ok(Json(PolicyVersions {
        active: ctx.tenant.policy_version(),
        versions,
    }))
}

/// The body of a rollback.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version to put back in force.
    version: i64,
}

/// `POST /{tenant}/v1/policies/rollback`: an earlier version back in force, as a new version.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/policies/rollback",
    tag = "policies",
    security(("client" = ["admin"])),
    params(IfMatch),
    request_body = Rollback,
    responses(
        (status = 201, description = "Back in force, as a new version.", body = PolicyVersion,
            headers(("ETag" = String, description = "The new version's entity tag."))),
        (status = 422, description = "That version no longer fits the directory.", body = super::openapi::ErrorBody),
    )
)]
pub async fn rollback(
    ctx: AdminClient,
    IfMatch(based_on): IfMatch,
    ApiJson(body): ApiJson<Rollback>,
) -> Result<(StatusCode, Tagged<PolicyVersion>), ApiError> {
    let version = ctx
        .tenant
        .rollback_policies(body.version, &based_on, &ctx.provenance)
        .await?;
    Ok((StatusCode::CREATED, tagged_version(version)))
}
