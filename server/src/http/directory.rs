//! Directory administration: staff, patients and encounters, upserted in batches.

use axum::Json;
use axum::extract::Path;
use hms_directory::{ChangeSource, Encounter, Patient, StaffMember};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::AdminClient;
use super::json::ApiJson;

/// The directory routes, behind an `admin` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_staff))
        .routes(routes!(get_staff))
        .routes(routes!(put_patients))
        .routes(routes!(get_patient))
        .routes(routes!(put_encounters))
}

/// How many records a batch wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct Updated {
    /// Records created or replaced.
    updated: usize,
}

/// `PUT /{tenant}/v1/directory/staff`: creates or replaces staff members, all or nothing.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/directory/staff",
    tag = "directory",
    security(("client" = ["admin"])),
    request_body = Vec<StaffMember>,
    responses(
        (status = 200, description = "All written.", body = Updated),
        (status = 422, description = "The directory would not fit the policies' schema; nothing written.", body = super::openapi::ErrorBody),
    )
)]
pub async fn put_staff(
    ctx: AdminClient,
    ApiJson(members): ApiJson<Vec<StaffMember>>,
) -> Result<Json<Updated>, ApiError> {
    let updated = ctx
        .tenant
        .upsert_staff(members, ChangeSource::Admin, &ctx.provenance)
        .await?;
    Ok(Json(Updated { updated }))
}

/// `GET /{tenant}/v1/directory/staff/{id}`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/directory/staff/{id}",
    tag = "directory",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The staff member.", body = StaffMember))
)]
pub async fn get_staff(
    ctx: AdminClient,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<StaffMember>, ApiError> {
    let found = ctx
        .tenant
        .store
        .load_staff(Some(std::slice::from_ref(&id)))
        .await?;
    only(found, || format!("staff member `{id}`"))
}

/// `PUT /{tenant}/v1/directory/patients`: creates or replaces patients and their care teams.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/directory/patients",
    tag = "directory",
    security(("client" = ["admin"])),
    request_body = Vec<Patient>,
    responses(
        (status = 200, description = "All written.", body = Updated),
        (status = 422, description = "The directory would not fit the policies' schema; nothing written.", body = super::openapi::ErrorBody),
    )
)]
pub async fn put_patients(
    ctx: AdminClient,
    ApiJson(patients): ApiJson<Vec<Patient>>,
) -> Result<Json<Updated>, ApiError> {
    let updated = ctx
        .tenant
        .upsert_patients(patients, &ctx.provenance)
        .await?;
    Ok(Json(Updated { updated }))
}

/// `GET /{tenant}/v1/directory/patients/{id}`.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/directory/patients/{id}",
    tag = "directory",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The patient.", body = Patient))
)]
pub async fn get_patient(
    ctx: AdminClient,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Patient>, ApiError> {
    let found = ctx
        .tenant
        .store
        .load_patients(Some(std::slice::from_ref(&id)))
        .await?;
    only(found, || format!("patient `{id}`"))
}

/// `PUT /{tenant}/v1/directory/encounters`: creates or replaces encounters.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/directory/encounters",
    tag = "directory",
    security(("client" = ["admin"])),
    request_body = Vec<Encounter>,
    responses(
        (status = 200, description = "All written.", body = Updated),
        (status = 422, description = "The directory would not fit the policies' schema; nothing written.", body = super::openapi::ErrorBody),
    )
)]
pub async fn put_encounters(
    ctx: AdminClient,
    ApiJson(encounters): ApiJson<Vec<Encounter>>,
) -> Result<Json<Updated>, ApiError> {
    let updated = ctx
        .tenant
        .upsert_encounters(encounters, &ctx.provenance)
        .await?;
    Ok(Json(Updated { updated }))
}

/// The one record a lookup by id found, or a 404 naming what was looked for.
fn only<T>(found: Vec<T>, what: impl FnOnce() -> String) -> Result<Json<T>, ApiError> {
    let record = found
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("{} not found", what())))?;
    Ok(Json(record))
}
