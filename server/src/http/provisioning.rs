//! Provisioning administration: the mapping from SCIM groups to HMS roles.

use axum::Json;
use hms_scim::provision;
use hms_scim::store::{self, GroupRoles, ProvisioningError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::ApiJson;
use hms_directory::ChangeSource;
use hms_governance::audit;
use hms_governance::tenancy::ChangeError;

/// The group-role mapping routes, behind an `admin` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(group_roles, put_group_roles))
}

/// The body of `PUT /{tenant}/v1/provisioning/group-roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRolesBody {
    /// Every group that grants roles; groups not listed grant none.
    mappings: Vec<GroupRoles>,
}

/// The mapping in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct Mappings {
    /// Group to roles.
    mappings: Vec<GroupRoles>,
}

/// `GET /{tenant}/v1/provisioning/group-roles`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/provisioning/group-roles",
    tag = "provisioning",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The mapping.", body = Mappings))
)]
pub async fn group_roles(ctx: AdminClient) -> Result<Json<Mappings>, ApiError> {
    let mut conn = ctx.tenant.store.connection().await?;
    let mappings = store::group_roles(&mut conn)
        .await
        .map_err(|e| ApiError::from(ChangeError::from(e)))?;
    Ok(Json(Mappings { mappings }))
}

/// The mapping now in force, and how many people's roles it changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct MappingsReplaced {
    /// Group to roles.
    mappings: Vec<GroupRoles>,
    /// Staff members whose roles changed.
    staff_updated: usize,
}

/// `PUT /{tenant}/v1/provisioning/group-roles`: replaces the mapping; members
/// of groups whose roles changed get their new roles at once.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/provisioning/group-roles",
    tag = "provisioning",
    security(("client" = ["admin"])),
    request_body = GroupRolesBody,
    responses((status = 200, description = "Replaced.", body = MappingsReplaced))
)]
pub async fn put_group_roles(
    ctx: AdminClient,
    ApiJson(body): ApiJson<GroupRolesBody>,
) -> Result<Json<MappingsReplaced>, ApiError> {
    let tenant = &ctx.tenant;
    let mut change = tenant.begin_directory_change().await?;
    let staff = provision::replace_group_roles(&tenant.store, &mut change.tx, &body.mappings)
        .await
        .map_err(|e: ProvisioningError| ApiError::from(ChangeError::from(e)))?;
    let mut events = vec![audit::group_roles_event(&ctx.provenance, &body.mappings)];
    events.extend(
        staff
            .iter()
            .map(|c| audit::staff_event(&ctx.provenance, c, ChangeSource::Scim)),
    );
    tenant
        .commit_directory_change(change, events, &staff)
        .await?;
    Ok(Json(MappingsReplaced {
        mappings: body.mappings,
        staff_updated: staff.len(),
    }))
}
