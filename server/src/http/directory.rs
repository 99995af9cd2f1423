//! Directory administration: staff, patients and encounters, upserted in batches.

use axum::extract::Path;
use axum::{Extension, Json};
use hms_directory::{ADMIN_SOURCE, Encounter, Patient, StaffMember};
use serde_json::{Value, json};

use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiJson;

/// `PUT /{tenant}/v1/directory/staff`: creates or replaces staff members, all or nothing.
pub async fn put_staff(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(members): ApiJson<Vec<StaffMember>>,
) -> Result<Json<Value>, ApiError> {
    let updated = ctx
        .tenant
        .upsert_staff(members, ADMIN_SOURCE, &ctx.provenance)
        .await?;
    Ok(Json(json!({ "updated": updated })))
}

/// `GET /{tenant}/v1/directory/staff/{id}`.
pub async fn get_staff(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let found = ctx
        .tenant
        .store
        .load_staff(Some(std::slice::from_ref(&id)))
        .await?;
    only(found, || format!("staff member `{id}`"))
}

/// `PUT /{tenant}/v1/directory/patients`: creates or replaces patients and their care teams.
pub async fn put_patients(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(patients): ApiJson<Vec<Patient>>,
) -> Result<Json<Value>, ApiError> {
    let updated = ctx
        .tenant
        .upsert_patients(patients, &ctx.provenance)
        .await?;
    Ok(Json(json!({ "updated": updated })))
}

/// `GET /{tenant}/v1/directory/patients/{id}`.
pub async fn get_patient(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let found = ctx
        .tenant
        .store
        .load_patients(Some(std::slice::from_ref(&id)))
        .await?;
    only(found, || format!("patient `{id}`"))
}

/// `PUT /{tenant}/v1/directory/encounters`: creates or replaces encounters.
pub async fn put_encounters(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(encounters): ApiJson<Vec<Encounter>>,
) -> Result<Json<Value>, ApiError> {
    let updated = ctx
        .tenant
        .upsert_encounters(encounters, &ctx.provenance)
        .await?;
    Ok(Json(json!({ "updated": updated })))
}

/// The one record a lookup by id found, or a 404 naming what was looked for.
fn only<T: serde::Serialize>(
    found: Vec<T>,
    what: impl FnOnce() -> String,
) -> Result<Json<Value>, ApiError> {
    let record = found
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("{} not found", what())))?;
    Ok(Json(json!(record)))
}
