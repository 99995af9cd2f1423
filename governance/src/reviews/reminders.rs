//! Reminders to reviewers with undecided items in campaigns past their due
//! date, sent through the tenant's notification hook and recorded in the ledger.

use std::collections::BTreeMap;

use hms_audit_ledger::{Event, EventKind, Timestamp};
use hms_directory::{Outcome, ReviewItem};
use serde::Serialize;
use serde_json::json;

use super::ReviewError;
use crate::audit::Provenance;
use crate::hr::notification_hook;
use crate::tenancy::Tenant;
use crate::webhooks::deliver_signed;

/// One reviewer's undecided items in one overdue campaign.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reminder {
    /// The campaign.
    pub campaign: String,
    /// When it was due.
    pub due_at: Timestamp,
    /// The reviewer.
    pub reviewer: String,
    /// How many of their items are undecided.
    pub pending: usize,
}

/// A reminder as sent, with what became of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SentReminder {
    /// The reminder.
    #[serde(flatten)]
    pub reminder: Reminder,
    /// Always `access_review_reminder`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `sent`, `failed`, or `no_hook` when the tenant names no notification URL.
    pub delivery: &'static str,
}

/// Reviewers with undecided items in open campaigns past their due date.
pub async fn overdue_reviewers(tenant: &Tenant) -> Result<Vec<Reminder>, ReviewError> {
    let now = Timestamp::now();
    let mut reminders = Vec::new();
    for campaign in tenant.store.campaigns().await? {
        if !campaign.is_open() || campaign.due_at > now {
            continue;
        }
        let items = super::progress::items_of(tenant, &campaign.id).await?;
        for (reviewer, pending) in pending_by_reviewer(&items) {
            reminders.push(Reminder {
                campaign: campaign.id.clone(),
                due_at: campaign.due_at,
                reviewer: reviewer.to_owned(),
                pending,
            });
        }
    }
    Ok(reminders)
}

/// Sends each overdue reviewer's reminder through the tenant's notification
/// hook (signed like its HR webhooks) and records each in the ledger.
pub async fn remind(tenant: &Tenant, by: &Provenance) -> Result<Vec<SentReminder>, ReviewError> {
    let hook = notification_hook(tenant).await?;
    let mut sent = Vec::new();
    let mut events = Vec::new();
    for reminder in overdue_reviewers(tenant).await? {
        let mut message = json!(reminder);
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
            details: message,
            ..by.event(EventKind::ReviewReminder)
        });
        sent.push(SentReminder {
            reminder,
            kind: "access_review_reminder",
            delivery,
        });
    }
    if !events.is_empty() {
        tenant
            .ledger
            .append_all(events)
            .await
            .map_err(crate::tenancy::ChangeError::from)?;
    }
    Ok(sent)
}

fn pending_by_reviewer(items: &[ReviewItem]) -> BTreeMap<&str, usize> {
    let mut pending = BTreeMap::new();
    for item in items.iter().filter(|i| i.outcome == Outcome::Pending) {
        *pending.entry(item.reviewer.as_str()).or_insert(0) += 1;
    }
    pending
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(reviewer: &str, outcome: Outcome) -> ReviewItem {
        ReviewItem {
            outcome,
            ..super::super::tests::item(reviewer)
        }
    }

    #[test]
    fn only_undecided_items_count_towards_a_reminder() {
        let items = [
            item("alice", Outcome::Pending),
            item("alice", Outcome::Certified),
            item("bob", Outcome::Revoked),
            item("alice", Outcome::Pending),
        ];
        let pending = pending_by_reviewer(&items);
        assert_eq!(pending.get("alice"), Some(&2));
        assert_eq!(pending.get("bob"), None);
    }
}
