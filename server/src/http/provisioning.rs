//! Provisioning administration: the mapping from SCIM groups to HMS roles.

use axum::{Extension, Json};
use hms_scim::provision;
use hms_scim::store::{self, GroupRoles, ProvisioningError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiJson;
use hms_governance::audit;
use hms_governance::tenancy::ChangeError;

/// The body of `PUT /{tenant}/v1/provisioning/group-roles`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRolesBody {
    mappings: Vec<GroupRoles>,
}

/// `GET /{tenant}/v1/provisioning/group-roles`.
pub async fn group_roles(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = ctx.tenant.store.connection().await?;
    let mappings = store::group_roles(&mut conn)
        .await
        .map_err(|e| ApiError::from(ChangeError::from(e)))?;
    Ok(Json(json!({ "mappings": mappings })))
}

/// `PUT /{tenant}/v1/provisioning/group-roles`: replaces the mapping; members
/// of groups whose roles changed get their new roles at once.
pub async fn put_group_roles(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(body): ApiJson<GroupRolesBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = &ctx.tenant;
    let mut change = tenant.begin_directory_change().await?;
    let staff = provision::replace_group_roles(&tenant.store, &mut change.tx, &body.mappings)
        .await
        .map_err(|e: ProvisioningError| ApiError::from(ChangeError::from(e)))?;
    let mut events = vec![audit::group_roles_event(&ctx.provenance, &body.mappings)];
    events.extend(
        staff
            .iter()
            .map(|c| audit::staff_event(&ctx.provenance, c, "scim")),
    );
    tenant
        .commit_directory_change(change, events, &staff)
        .await?;
    Ok(Json(
        json!({ "mappings": body.mappings, "staff_updated": staff.len() }),
    ))
}
