//! Provisioning administration: the mapping from SCIM groups to HMS roles.

use axum::Json;
use hms_governance::provisioning;
use hms_scim::store::GroupRoles;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::ApiJson;

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
    let mappings = provisioning::group_roles(&ctx.tenant).await?;
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
    let staff_updated =
        provisioning::replace_group_roles(&ctx.tenant, &body.mappings, &ctx.provenance).await?;
    Ok(Json(MappingsReplaced {
        mappings: body.mappings,
        staff_updated,
    }))
}
