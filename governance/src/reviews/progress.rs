//! A campaign as its owners watch it: its items and how far along it is,
//! overall and per reviewer.

use hms_directory::{Campaign, Outcome, ReviewItem, progress_by_reviewer};
use serde::Serialize;

use super::ReviewError;
use crate::tenancy::Tenant;

/// A campaign with its progress and, unless listed among others, its items.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    /// The campaign.
    pub campaign: Campaign,
    /// How far along it is.
    pub progress: Progress,
    /// Its items (absent from listings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ReviewItem>>,
}

/// Decided items out of all, overall and per reviewer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// Items in the campaign.
    pub items: usize,
    /// Items decided.
    pub decided: usize,
    /// Per reviewer, by name.
    pub reviewers: Vec<ReviewerProgress>,
}

/// One reviewer's share.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewerProgress {
    /// The reviewer.
    pub reviewer: String,
    /// Their items.
    pub items: usize,
    /// Of which decided.
    pub decided: usize,
}

impl Progress {
    /// The progress of `items`.
    pub fn of(items: &[ReviewItem]) -> Self {
        let reviewers = progress_by_reviewer(items)
            .into_iter()
            .map(|(reviewer, (items, decided))| ReviewerProgress {
                reviewer: reviewer.to_owned(),
                items,
                decided,
            })
            .collect();
        Self {
            items: items.len(),
            decided: items
                .iter()
                .filter(|i| i.outcome != Outcome::Pending)
                .count(),
            reviewers,
        }
    }
}

/// Campaign `id` with its items and progress.
pub async fn campaign(tenant: &Tenant, id: &str) -> Result<CampaignView, ReviewError> {
    let mut conn = tenant.store.connection().await?;
    let campaign = tenant
        .store
        .campaign_in(&mut conn, id)
        .await?
        .ok_or_else(|| ReviewError::NotFound(format!("campaign `{id}`")))?;
    drop(conn);
    let items = items_of(tenant, id).await?;
    Ok(CampaignView {
        campaign,
        progress: Progress::of(&items),
        items: Some(items),
    })
}

/// Every campaign with its progress, without items.
pub async fn campaigns(tenant: &Tenant) -> Result<Vec<CampaignView>, ReviewError> {
    let mut listed = Vec::new();
    for campaign in tenant.store.campaigns().await? {
        let items = items_of(tenant, &campaign.id).await?;
        listed.push(CampaignView {
            campaign,
            progress: Progress::of(&items),
            items: None,
        });
    }
    Ok(listed)
}

/// A new campaign's view.
pub fn created(campaign: Campaign, items: Vec<ReviewItem>) -> CampaignView {
    CampaignView {
        progress: Progress::of(&items),
        campaign,
        items: Some(items),
    }
}

pub(super) async fn items_of(tenant: &Tenant, id: &str) -> Result<Vec<ReviewItem>, ReviewError> {
    let mut conn = tenant.store.connection().await?;
    Ok(tenant.store.review_items_in(&mut conn, id).await?)
}
