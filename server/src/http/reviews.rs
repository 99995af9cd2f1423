//! Access reviews over HTTP: the security team creates, watches and closes
//! campaigns with an admin credential; reviewers decide their items with their
//! staff session. The rules are `hms_governance::reviews`.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use hms_directory::{ReviewItem, ReviewSettings};
use hms_governance::reviews::{
    self, CampaignSpec, CampaignView, CloseSummary, ItemDecision, Reminder, SentReminder,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::{AdminClient, Reviewer};
use super::json::ApiJson;
use super::precondition::{IfMatch, Tagged};

/// The review routes: campaigns behind an `admin` client, reviewers' own
/// items behind their staff session.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get))
        .routes(routes!(close))
        .routes(routes!(overdue, enforce_overdue))
        .routes(routes!(settings, set_settings))
        .routes(routes!(remind))
        .routes(routes!(mine))
        .routes(routes!(decide))
}

/// `POST /{tenant}/v1/reviews/campaigns`: creates a campaign and its items.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/reviews/campaigns",
    tag = "reviews",
    security(("client" = ["admin"])),
    request_body = CampaignSpec,
    responses((status = 201, description = "Created, with its items.", body = CampaignView),
        (status = 409, description = "A campaign with this id exists.", body = super::openapi::ErrorBody))
)]
pub async fn create(
    ctx: AdminClient,
    ApiJson(spec): ApiJson<CampaignSpec>,
) -> Result<(StatusCode, Json<CampaignView>), ApiError> {
    let (campaign, items) = reviews::create(&ctx.tenant, spec, &ctx.provenance).await?;
    Ok((StatusCode::CREATED, Json(reviews::created(campaign, items))))
}

/// `GET /{tenant}/v1/reviews/settings`: the tenant's review rules.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/reviews/settings",
    tag = "reviews",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The rules.", body = ReviewSettings,
        headers(("ETag" = String, description = "Their entity tag, for `If-Match` on the next write."))))
)]
pub async fn settings(ctx: AdminClient) -> Result<Tagged<ReviewSettings>, ApiError> {
    Ok(Tagged::by_content(
        ctx.tenant.store.review_settings().await?,
    ))
}

/// `PUT /{tenant}/v1/reviews/settings`: replaces them, recorded in the ledger.
#[utoipa::path(
    put,
    path = "/{tenant}/v1/reviews/settings",
    tag = "reviews",
    security(("client" = ["admin"])),
    params(IfMatch),
    request_body = ReviewSettings,
    responses((status = 200, description = "The rules now in force.", body = ReviewSettings,
        headers(("ETag" = String, description = "Their entity tag."))))
)]
pub async fn set_settings(
    ctx: AdminClient,
    IfMatch(based_on): IfMatch,
    ApiJson(rules): ApiJson<ReviewSettings>,
) -> Result<Tagged<ReviewSettings>, ApiError> {
    reviews::set_rules(&ctx.tenant, &rules, &based_on, &ctx.provenance).await?;
    Ok(Tagged::by_content(rules))
}

/// Every campaign, with its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct Campaigns {
    campaigns: Vec<CampaignView>,
}

/// `GET /{tenant}/v1/reviews/campaigns`: every campaign with its progress.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/reviews/campaigns",
    tag = "reviews",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Every campaign.", body = Campaigns))
)]
pub async fn list(ctx: AdminClient) -> Result<Json<Campaigns>, ApiError> {
    let campaigns = reviews::campaigns(&ctx.tenant).await?;
    Ok(Json(Campaigns { campaigns }))
}

/// `GET /{tenant}/v1/reviews/campaigns/{id}`: a campaign, its items and the
/// progress of each reviewer.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/reviews/campaigns/{id}",
    tag = "reviews",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The campaign.", body = CampaignView))
)]
pub async fn get(
    ctx: AdminClient,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<CampaignView>, ApiError> {
    Ok(Json(reviews::campaign(&ctx.tenant, &id).await?))
}

/// What closing did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Closed {
    campaign: String,
    closed: CloseSummary,
}

/// `POST /{tenant}/v1/reviews/campaigns/{id}/close`.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/reviews/campaigns/{id}/close",
    tag = "reviews",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Closed.", body = Closed),
        (status = 409, description = "The campaign is closed, or the item already decided.", body = super::openapi::ErrorBody))
)]
pub async fn close(
    ctx: AdminClient,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Closed>, ApiError> {
    let closed = reviews::close(&ctx.tenant, &id, &ctx.provenance).await?;
    Ok(Json(Closed {
        campaign: id,
        closed,
    }))
}

/// Reviewers with undecided items past the due date.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overdue {
    overdue: Vec<Reminder>,
}

/// `GET /{tenant}/v1/reviews/overdue`: reviewers with undecided items in open
/// campaigns past their due date, for reminders.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/reviews/overdue",
    tag = "reviews",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Overdue reviewers.", body = Overdue))
)]
pub async fn overdue(ctx: AdminClient) -> Result<Json<Overdue>, ApiError> {
    let overdue = reviews::overdue_reviewers(&ctx.tenant).await?;
    Ok(Json(Overdue { overdue }))
}

/// How many items the overdue rule changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enforced {
    items_changed: usize,
}

/// `POST /{tenant}/v1/reviews/overdue`: applies each open campaign's overdue
/// rule now to the items undecided past its due date (the service also does
/// this every minute).
#[utoipa::path(
    post,
    path = "/{tenant}/v1/reviews/overdue",
    tag = "reviews",
    security(("client" = ["admin"])),
    responses((status = 200, description = "Applied.", body = Enforced))
)]
pub async fn enforce_overdue(ctx: AdminClient) -> Result<Json<Enforced>, ApiError> {
    let items_changed = reviews::enforce_due_dates(&ctx.tenant, &ctx.provenance).await?;
    Ok(Json(Enforced { items_changed }))
}

/// The reminders sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reminders {
    reminders: Vec<SentReminder>,
}

/// `POST /{tenant}/v1/reviews/reminders`: sends each overdue reviewer's
/// reminder through the tenant's notification hook (signed like its HR
/// webhooks) and records each in the ledger.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/reviews/reminders",
    tag = "reviews",
    security(("client" = ["admin"])),
    responses((status = 200, description = "The reminders sent.", body = Reminders))
)]
pub async fn remind(ctx: AdminClient) -> Result<Json<Reminders>, ApiError> {
    let reminders = reviews::remind(&ctx.tenant, &ctx.provenance).await?;
    Ok(Json(Reminders { reminders }))
}

/// One undecided item of the signed-in reviewer's.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingItem {
    campaign: String,
    item: ReviewItem,
}

/// The signed-in reviewer's undecided items.
#[derive(Debug, Serialize, ToSchema)]
pub struct Mine {
    reviewer: String,
    items: Vec<PendingItem>,
}

/// `GET /{tenant}/v1/reviews/mine`: the signed-in reviewer's undecided items.
#[utoipa::path(
    get,
    path = "/{tenant}/v1/reviews/mine",
    tag = "reviews",
    security(("session" = [])),
    responses((status = 200, description = "The reviewer's undecided items.", body = Mine))
)]
pub async fn mine(
    Reviewer {
        context: ctx,
        staff,
    }: Reviewer,
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decisions {
    /// The decisions, applied all or none.
    pub decisions: Vec<ItemDecision>,
}

/// The items decided.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decided {
    campaign: String,
    decided: Vec<ReviewItem>,
}

/// `POST /{tenant}/v1/reviews/campaigns/{id}/decisions`: the signed-in
/// reviewer certifies, revokes or delegates items of theirs.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/reviews/campaigns/{id}/decisions",
    tag = "reviews",
    security(("session" = [])),
    request_body = Decisions,
    responses(
        (status = 200, description = "Decided, all or none.", body = Decided),
        (status = 409, description = "The campaign is closed, or an item already decided.", body = super::openapi::ErrorBody),
    )
)]
pub async fn decide(
    Reviewer {
        context: ctx,
        staff,
    }: Reviewer,
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
