//! Access reviews over HTTP: the security team creates, watches and closes
//! campaigns with an admin credential; reviewers decide their items with their
//! staff session. The rules are `hms_governance::reviews`.

use axum::Extension;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use hms_directory::{ReviewItem, ReviewSettings};
use hms_governance::reviews::{
    self, CampaignSpec, CampaignView, CloseSummary, ItemDecision, Reminder, SentReminder,
};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::gate::{SessionStaff, TenantContext};
use super::json::ApiJson;

/// `POST /{tenant}/v1/reviews/campaigns`: creates a campaign and its items.
pub async fn create(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(spec): ApiJson<CampaignSpec>,
) -> Result<(StatusCode, Json<CampaignView>), ApiError> {
    let (campaign, items) = reviews::create(&ctx.tenant, spec, &ctx.provenance).await?;
    Ok((StatusCode::CREATED, Json(reviews::created(campaign, items))))
}

/// `GET /{tenant}/v1/reviews/settings`: the tenant's review rules.
pub async fn settings(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<ReviewSettings>, ApiError> {
    Ok(Json(ctx.tenant.store.review_settings().await?))
}

/// `PUT /{tenant}/v1/reviews/settings`: replaces them, recorded in the ledger.
pub async fn set_settings(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(rules): ApiJson<ReviewSettings>,
) -> Result<Json<ReviewSettings>, ApiError> {
    reviews::set_rules(&ctx.tenant, &rules, &ctx.provenance).await?;
    Ok(Json(rules))
}

/// Every campaign, with its progress.
#[derive(Debug, Serialize)]
pub struct Campaigns {
    campaigns: Vec<CampaignView>,
}

/// `GET /{tenant}/v1/reviews/campaigns`: every campaign with its progress.
pub async fn list(Extension(ctx): Extension<TenantContext>) -> Result<Json<Campaigns>, ApiError> {
    let campaigns = reviews::campaigns(&ctx.tenant).await?;
    Ok(Json(Campaigns { campaigns }))
}

/// `GET /{tenant}/v1/reviews/campaigns/{id}`: a campaign, its items and the
/// progress of each reviewer.
pub async fn get(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<CampaignView>, ApiError> {
    Ok(Json(reviews::campaign(&ctx.tenant, &id).await?))
}

/// What closing did.
#[derive(Debug, Serialize)]
pub struct Closed {
    campaign: String,
    closed: CloseSummary,
}

/// `POST /{tenant}/v1/reviews/campaigns/{id}/close`.
pub async fn close(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Closed>, ApiError> {
    let closed = reviews::close(&ctx.tenant, &id, &ctx.provenance).await?;
    Ok(Json(Closed {
        campaign: id,
        closed,
    }))
}

/// Reviewers with undecided items past the due date.
#[derive(Debug, Serialize)]
pub struct Overdue {
    overdue: Vec<Reminder>,
}

/// `GET /{tenant}/v1/reviews/overdue`: reviewers with undecided items in open
/// campaigns past their due date, for reminders.
pub async fn overdue(Extension(ctx): Extension<TenantContext>) -> Result<Json<Overdue>, ApiError> {
    let overdue = reviews::overdue_reviewers(&ctx.tenant).await?;
    Ok(Json(Overdue { overdue }))
}

/// How many items the overdue rule changed.
#[derive(Debug, Serialize)]
pub struct Enforced {
    items_changed: usize,
}

/// `POST /{tenant}/v1/reviews/overdue`: applies each open campaign's overdue
/// rule now to the items undecided past its due date (the service also does
/// this every minute).
pub async fn enforce_overdue(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<Enforced>, ApiError> {
    let items_changed = reviews::enforce_due_dates(&ctx.tenant, &ctx.provenance).await?;
    Ok(Json(Enforced { items_changed }))
}

/// The reminders sent.
#[derive(Debug, Serialize)]
pub struct Reminders {
    reminders: Vec<SentReminder>,
}

/// `POST /{tenant}/v1/reviews/reminders`: sends each overdue reviewer's
/// reminder through the tenant's notification hook (signed like its HR
/// webhooks) and records each in the ledger.
pub async fn remind(Extension(ctx): Extension<TenantContext>) -> Result<Json<Reminders>, ApiError> {
    let reminders = reviews::remind(&ctx.tenant, &ctx.provenance).await?;
    Ok(Json(Reminders { reminders }))
}

/// One undecided item of the signed-in reviewer's.
#[derive(Debug, Serialize)]
pub struct PendingItem {
    campaign: String,
    item: ReviewItem,
}

/// The signed-in reviewer's undecided items.
#[derive(Debug, Serialize)]
pub struct Mine {
    reviewer: String,
    items: Vec<PendingItem>,
}

/// `GET /{tenant}/v1/reviews/mine`: the signed-in reviewer's undecided items.
pub async fn mine(
    Extension(ctx): Extension<TenantContext>,
    Extension(SessionStaff(staff)): Extension<SessionStaff>,
) -> Result<Json<Mine>, ApiError> {
    let items = ctx
        .tenant
        .store
        .pending_reviews_of(&staff)
        .await?
        .into_iter()
        .map(|(campaign, item)| PendingItem { campaign, item })
        .collect();
    Ok(Json(Mine {
        reviewer: staff,
        items,
    }))
}

/// A reviewer's decisions: one, or many at once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decisions {
    /// The decisions, applied all or none.
    pub decisions: Vec<ItemDecision>,
}

/// The items decided.
#[derive(Debug, Serialize)]
pub struct Decided {
    campaign: String,
    decided: Vec<ReviewItem>,
}

/// `POST /{tenant}/v1/reviews/campaigns/{id}/decisions`: the signed-in
/// reviewer certifies, revokes or delegates items of theirs.
pub async fn decide(
    Extension(ctx): Extension<TenantContext>,
    Extension(SessionStaff(staff)): Extension<SessionStaff>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Decisions>,
) -> Result<Json<Decided>, ApiError> {
    let decided =
        reviews::decide(&ctx.tenant, &id, &staff, &body.decisions, &ctx.provenance).await?;
    Ok(Json(Decided {
        campaign: id,
        decided,
    }))
}
