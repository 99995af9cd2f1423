//! Access reviews over HTTP: the security team creates, watches and closes
//! campaigns with an admin credential; reviewers decide their items with their
//! staff session.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use hms_audit_ledger::Event;
use hms_directory::{Campaign, Outcome, ReviewItem, ReviewSettings, progress_by_reviewer};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::gate::{SessionStaff, TenantContext};
use super::hr::{deliver_signed, notification_hook};
use super::json::ApiJson;
use hms_scim::store::ProvisioningError;

use crate::reviews::{self, CampaignSpec, ItemDecision, ReviewError};

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Invalid(message) => Self::bad_request("invalid_review", message),
            ReviewError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            ReviewError::Conflict(message) => Self::Conflict(message),
            ReviewError::Forbidden(message) => Self::Forbidden(message),
            ReviewError::Change(e) => e.into(),
            ReviewError::Provisioning(ProvisioningError::Store(e)) => e.into(),
            ReviewError::Provisioning(e) => Self::Internal(anyhow::Error::new(e)),
        }
    }
}

/// `POST /{tenant}/v1/reviews/campaigns`: creates a campaign and its items.
pub async fn create(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(spec): ApiJson<CampaignSpec>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (campaign, items) = reviews::create(&ctx.tenant, spec, &ctx.provenance).await?;
    Ok((StatusCode::CREATED, Json(with_progress(&campaign, &items))))
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

/// `GET /{tenant}/v1/reviews/campaigns`: every campaign with its progress.
pub async fn list(Extension(ctx): Extension<TenantContext>) -> Result<Json<Value>, ApiError> {
    let mut listed = Vec::new();
    for campaign in ctx.tenant.store.campaigns().await? {
        let items = items_of(&ctx, &campaign.id).await?;
        let mut summary = with_progress(&campaign, &items);
        if let Some(object) = summary.as_object_mut() {
            object.remove("items");
        }
        listed.push(summary);
    }
    Ok(Json(json!({ "campaigns": listed })))
}

/// `GET /{tenant}/v1/reviews/campaigns/{id}`: a campaign, its items and the
/// progress of each reviewer.
pub async fn get(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let campaign = campaign_of(&ctx, &id).await?;
    let items = items_of(&ctx, &id).await?;
    Ok(Json(with_progress(&campaign, &items)))
}

/// `POST /{tenant}/v1/reviews/campaigns/{id}/close`.
pub async fn close(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let summary = reviews::close(&ctx.tenant, &id, &ctx.provenance).await?;
    Ok(Json(json!({ "campaign": id, "closed": summary })))
}

/// `GET /{tenant}/v1/reviews/overdue`: reviewers with undecided items in open
/// campaigns past their due date, for reminders.
pub async fn overdue(Extension(ctx): Extension<TenantContext>) -> Result<Json<Value>, ApiError> {
    let reminders: Vec<Value> = overdue_reviewers(&ctx)
        .await?
        .iter()
        .map(Reminder::to_json)
        .collect();
    Ok(Json(json!({ "overdue": reminders })))
}

/// `POST /{tenant}/v1/reviews/overdue`: applies each open campaign's overdue
/// rule now to the items undecided past its due date (the service also does
/// this every minute).
pub async fn enforce_overdue(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<Value>, ApiError> {
    let changed = reviews::enforce_due_dates(&ctx.tenant, &ctx.provenance).await?;
    Ok(Json(json!({ "items_changed": changed })))
}

/// `POST /{tenant}/v1/reviews/reminders`: sends each overdue reviewer's
/// reminder through the tenant's notification hook (signed like its HR
/// webhooks) and records each in the ledger.
pub async fn remind(
    State(app): State<AppState>,
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<Value>, ApiError> {
    let hook = notification_hook(&app, &ctx.tenant).await?;
    let mut sent = Vec::new();
    let mut events = Vec::new();
    for reminder in overdue_reviewers(&ctx).await? {
        let mut message = reminder.to_json();
        message["type"] = json!("access_review_reminder");
        let delivery = match &hook {
            Some((url, secret)) if deliver_signed(url, secret, &message).await => "sent",
            Some(_) => "failed",
            None => "no_hook",
        };
        events.push(Event {
            subject: Some(reminder.reviewer.clone()),
            action: Some("remind".into()),
            resource: Some(format!("review:{}", reminder.campaign)),
            outcome: Some(delivery.into()),
            details: message.clone(),
            ..ctx.provenance.event("review.reminder")
        });
        message["delivery"] = json!(delivery);
        sent.push(message);
    }
    if !events.is_empty() {
        ctx.tenant.ledger.append_all(events).await?;
    }
    Ok(Json(json!({ "reminders": sent })))
}

/// One reviewer's undecided items in one overdue campaign.
struct Reminder {
    campaign: String,
    due_at: String,
    reviewer: String,
    pending: usize,
}

impl Reminder {
    fn to_json(&self) -> Value {
        json!({
            "campaign": self.campaign, "due_at": self.due_at,
            "reviewer": self.reviewer, "pending": self.pending,
        })
    }
}

async fn overdue_reviewers(ctx: &TenantContext) -> Result<Vec<Reminder>, ApiError> {
    let now = hms_directory::now_rfc3339();
    let mut reminders = Vec::new();
    for campaign in ctx.tenant.store.campaigns().await? {
        if !campaign.is_open() || campaign.due_at > now {
            continue;
        }
        let items = items_of(ctx, &campaign.id).await?;
        for (reviewer, pending) in pending_by_reviewer(&items) {
            reminders.push(Reminder {
                campaign: campaign.id.clone(),
                due_at: campaign.due_at.clone(),
                reviewer: reviewer.to_owned(),
                pending,
            });
        }
    }
    Ok(reminders)
}

/// `GET /{tenant}/v1/reviews/mine`: the signed-in reviewer's undecided items.
pub async fn mine(
    Extension(ctx): Extension<TenantContext>,
    Extension(SessionStaff(staff)): Extension<SessionStaff>,
) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = ctx
        .tenant
        .store
        .pending_reviews_of(&staff)
        .await?
        .into_iter()
        .map(|(campaign, item)| json!({"campaign": campaign, "item": item}))
        .collect();
    Ok(Json(json!({ "reviewer": staff, "items": items })))
}

/// A reviewer's decisions: one, or many at once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decisions {
    /// The decisions, applied all or none.
    pub decisions: Vec<ItemDecision>,
}

/// `POST /{tenant}/v1/reviews/campaigns/{id}/decisions`: the signed-in
/// reviewer certifies, revokes or delegates items of theirs.
pub async fn decide(
    Extension(ctx): Extension<TenantContext>,
    Extension(SessionStaff(staff)): Extension<SessionStaff>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Decisions>,
) -> Result<Json<Value>, ApiError> {
    let decided =
        reviews::decide(&ctx.tenant, &id, &staff, &body.decisions, &ctx.provenance).await?;
    Ok(Json(json!({ "campaign": id, "decided": decided })))
}

async fn campaign_of(ctx: &TenantContext, id: &str) -> Result<Campaign, ApiError> {
    let mut conn = ctx.tenant.store.connection().await?;
    ctx.tenant
        .store
        .campaign_in(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("campaign `{id}` not found")))
}

async fn items_of(ctx: &TenantContext, id: &str) -> Result<Vec<ReviewItem>, ApiError> {
    let mut conn = ctx.tenant.store.connection().await?;
    Ok(ctx.tenant.store.review_items_in(&mut conn, id).await?)
}

fn pending_by_reviewer(items: &[ReviewItem]) -> BTreeMap<&str, usize> {
    let mut pending = BTreeMap::new();
    for item in items.iter().filter(|i| i.outcome == Outcome::Pending) {
        *pending.entry(item.reviewer.as_str()).or_insert(0) += 1;
    }
    pending
}

/// The campaign, its items, and how far along it is overall and per reviewer.
fn with_progress(campaign: &Campaign, items: &[ReviewItem]) -> Value {
    let reviewers = progress_by_reviewer(items);
    let decided = items
        .iter()
        .filter(|i| i.outcome != Outcome::Pending)
        .count();
    json!({
        "campaign": campaign,
        "progress": {
            "items": items.len(),
            "decided": decided,
            "reviewers": reviewers.iter().map(|(reviewer, (total, done))| json!({
                "reviewer": reviewer, "items": total, "decided": done,
            })).collect::<Vec<_>>(),
        },
        "items": items,
    })
}
