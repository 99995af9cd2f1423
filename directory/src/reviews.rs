//! Access reviews: campaigns in which reviewers certify or revoke each
//! person's entitlements, one item per person and entitlement.

use hms_audit_ledger::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::error::StoreError;
use crate::store::{TenantStore, decode_json};

/// Who a campaign reviews; every list empty (and no preset) means the whole
/// tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignScope {
    /// A ready-made scope, resolved into `roles` or `staff` when the
    /// campaign is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<ScopePreset>,
    /// Departments whose staff are reviewed.
    #[serde(default)]
    pub departments: Vec<String>,
    /// Roles reviewed, whoever holds them (e.g. the privileged `admin`).
    #[serde(default)]
    pub roles: Vec<String>,
    /// People reviewed by id.
    #[serde(default)]
    pub staff: Vec<String>,
}

/// The scopes security teams ask for most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopePreset {
    /// Everyone holding a privileged role.
    Privileged,
    /// Everyone who used break-glass recently.
    BreakGlass,
}

impl CampaignScope {
    /// Whether an entitlement of `staff_id` in `department`, concerning
    /// `roles`, is in scope: each list that is not empty must admit it (the
    /// role list admits it when one of its roles is listed).
    pub fn covers(&self, staff_id: &str, department: Option<&str>, roles: &[String]) -> bool {
        let admits = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l == v))
        };
        admits(&self.departments, department)
            && (self.roles.is_empty() || roles.iter().any(|r| self.roles.contains(r)))
            && admits(&self.staff, Some(staff_id))
    }
}

/// What an item nobody decided becomes when the campaign closes: it is never
/// certified silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverdueRule {
    /// Handed to the fallback reviewer and reported as not reviewed; access stays.
    Escalate,
    /// Revoked.
    Revoke,
}

/// When revocations take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMode {
    /// When the campaign closes.
    OnClose,
    /// As soon as the reviewer decides.
    Immediate,
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReviewOutcome)]
pub enum Outcome {
    /// Not decided yet.
    Pending,
    /// The reviewer confirmed the access is still needed.
    Certified,
    /// The access is to be removed (or was, once `applied_at` is set).
    Revoked,
    /// Undecided at close and handed to the fallback reviewer.
    Escalated,
}

/// The tenant's access-review rules, for campaigns that do not set their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// What undecided items become at close.
    pub overdue: OverdueRule,
    /// When revocations take effect.
    pub apply_mode: ApplyMode,
}

impl Default for ReviewSettings {
    /// Escalation and application at close: nothing is removed that a
    /// person did not decide, and nothing before the campaign ends.
    fn default() -> Self {
        Self {
            overdue: OverdueRule::Escalate,
            apply_mode: ApplyMode::OnClose,
        }
    }
}

/// Whether reviewers may still decide a campaign's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CampaignStatus)]
pub enum CampaignStatus {
    /// Reviewers decide; the overdue rule applies after the due date.
    Open,
    /// Closed: every item certified, revoked or escalated.
    Closed,
}

impl CampaignStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

impl std::fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of entitlement a review item is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntitlementKind {
    /// An HMS role held directly.
    Role,
    /// Membership of a SCIM group that grants roles.
    Group,
    /// A professional credential.
    Credential,
}

impl EntitlementKind {
    /// The stored and recorded name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::Group => "group",
            Self::Credential => "credential",
        }
    }

    fn parse(name: &str) -> Result<Self, StoreError> {
        decode_json(&format!("\"{name}\""), "review_items.kind")
    }
}

impl std::fmt::Display for EntitlementKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Campaign {
    /// Stable id.
    pub id: String,
    /// Name shown to reviewers.
    pub name: String,
    /// Who is reviewed.
    pub scope: CampaignScope,
    /// When it is due: undecided items then fall to the overdue rule.
    pub due_at: Timestamp,
    /// What undecided items become at close.
    pub overdue: OverdueRule,
    /// When revocations take effect.
    pub apply_mode: ApplyMode,
    /// Reviews people without a manager and receives escalations.
    pub fallback_reviewer: Option<String>,
    /// Whether reviewers may still decide.
    pub status: CampaignStatus,
    /// Who created it, as the ledger names them.
    pub created_by: String,
    /// When (RFC 3339, UTC).
    pub created_at: String,
    /// When it was closed.
    pub closed_at: Option<String>,
}

impl Campaign {
    /// Whether reviewers may still decide.
    pub fn is_open(&self) -> bool {
        self.status == CampaignStatus::Open
    }
}

/// One person's entitlement under review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewItem {
    /// Number within the campaign, from 1.
    pub item: i64,
    /// Whose access it is.
    pub staff_id: String,
    /// What kind of entitlement.
    pub kind: EntitlementKind,
    /// The entitlement: a role name, a group id or a credential kind.
    pub entitlement: String,
    /// What it is, in words, e.g. `group "ICU nurses" (grants nurse)`.
    pub description: Option<String>,
    /// Which source granted it: `admin`, `scim`, `hr`, `idp`.
    pub granted_by: String,
    /// When it was granted.
    pub granted_at: String,
    /// When it was last used, from the ledger: the latest permitted decision
    /// that a policy granting its roles determined; `None` when there is none.
    pub last_used_at: Option<String>,
    /// Who must decide.
    pub reviewer: String,
    /// Where it stands.
    pub outcome: Outcome,
    /// The reviewer's comment.
    pub comment: Option<String>,
    /// Who decided, as the ledger names them.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<String>,
    /// When a revocation was applied to the directory.
    pub applied_at: Option<String>,
}

/// For each reviewer, how many items they have and how many are decided.
pub fn progress_by_reviewer(
    items: &[ReviewItem],
) -> std::collections::BTreeMap<&str, (usize, usize)> {
    let mut reviewers = std::collections::BTreeMap::new();
    for item in items {
        let entry: &mut (usize, usize) = reviewers.entry(item.reviewer.as_str()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(item.outcome != Outcome::Pending);
    }
    reviewers
}

/// An entitlement an active staff member holds, with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    /// Who holds it.
    pub staff_id: String,
    /// Their department.
    pub department: Option<String>,
    /// What kind of entitlement.
    pub kind: EntitlementKind,
    /// The role name, group id or credential kind.
    pub name: String,
    /// What it is, in words.
    pub description: String,
    /// The roles it concerns: the role itself, the roles a group grants, or
    /// the roles a credential qualifies its holder for.
    pub roles: Vec<String>,
    /// Which source granted it.
    pub source: String,
    /// When.
    pub granted_at: String,
}

type CredentialGrantRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    String,
);

type CampaignRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
);

const CAMPAIGN_COLUMNS: &str = "id, name, scope, due_at, overdue, apply_mode, fallback_reviewer, \
     status, created_by, created_at, closed_at";

type ItemRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A campaign id followed by an [`ItemRow`].
type PendingRow = (
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Joins an item (`i`) to its campaign and keeps those awaiting the reviewer
/// bound to `$1` in open campaigns.
const PENDING_FOR: &str = "JOIN review_campaigns c ON c.id = i.campaign_id \
     WHERE i.reviewer = $1 AND i.outcome = 'pending' AND c.status = 'open'";

const ITEM_COLUMNS: &str = "item, staff_id, kind, entitlement, granted_by, granted_at, \
     last_used_at, reviewer, outcome, comment, decided_by, decided_at, applied_at, description";

fn campaign_from_row(row: CampaignRow) -> Result<Campaign, StoreError> {
    let (id, name, scope, due_at, overdue, apply_mode, fallback_reviewer, status, created_by) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
    );
    Ok(Campaign {
        id,
        name,
        scope: decode_json(&scope, "review_campaigns.scope")?,
        due_at: Timestamp::parse_rfc3339(&due_at)
            .map_err(|_| StoreError::Corrupt("review_campaigns.due_at"))?,
        overdue: decode_json(&format!("\"{overdue}\""), "review_campaigns.overdue")?,
        apply_mode: decode_json(&format!("\"{apply_mode}\""), "review_campaigns.apply_mode")?,
        fallback_reviewer,
        status: decode_json(&format!("\"{status}\""), "review_campaigns.status")?,
        created_by,
        created_at: row.9,
        closed_at: row.10,
    })
}

fn item_from_row(row: ItemRow) -> Result<ReviewItem, StoreError> {
    Ok(ReviewItem {
        item: row.0,
        staff_id: row.1,
        kind: EntitlementKind::parse(&row.2)?,
        entitlement: row.3,
        granted_by: row.4,
        granted_at: row.5,
        last_used_at: row.6,
        reviewer: row.7,
        outcome: decode_json(&format!("\"{}\"", row.8), "review_items.outcome")?,
        comment: row.9,
        decided_by: row.10,
        decided_at: row.11,
        applied_at: row.12,
        description: row.13,
    })
}

/// The stored name of an enum that serialises to a plain string.
fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl TenantStore {
    /// The tenant's review rules; the defaults until they are set.
    pub async fn review_settings(&self) -> Result<ReviewSettings, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT settings FROM review_settings WHERE id = 1")
                .fetch_optional(self.pool())
                .await?;
        row.map_or(Ok(ReviewSettings::default()), |(json,)| {
            decode_json(&json, "review_settings.settings")
        })
    }

    /// Replaces the tenant's review rules in the caller's transaction.
    pub async fn set_review_settings(
        &self,
        tx: &mut AnyConnection,
        settings: &ReviewSettings,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM review_settings WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO review_settings (id, settings, updated_at) VALUES (1, $1, $2)")
            .bind(serde_json::to_string(settings).unwrap_or_else(|_| "{}".into()))
            .bind(crate::clock::now_rfc3339())
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// Every role held by an active staff member, by person and role.
    pub async fn role_grants(&self) -> Result<Vec<Entitlement>, StoreError> {
        let rows: Vec<(String, Option<String>, String, String, String)> = sqlx::query_as(
            "SELECT r.staff_id, s.department, r.role, r.source, r.granted_at \
             FROM staff_roles r JOIN staff s ON s.id = r.staff_id \
             WHERE s.active = 1 ORDER BY r.staff_id, r.role",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(staff_id, department, role, source, granted_at)| Entitlement {
                    staff_id,
                    department,
                    kind: EntitlementKind::Role,
                    description: format!("role {role}"),
                    roles: vec![role.clone()],
                    name: role,
                    source,
                    granted_at,
                },
            )
            .collect())
    }

    /// Every credential in good standing held by an active staff member, by
    /// person and kind; `roles` is left for the caller to fill.
    pub async fn credential_grants(&self) -> Result<Vec<Entitlement>, StoreError> {
        let rows: Vec<CredentialGrantRow> = sqlx::query_as(
            "SELECT c.staff_id, s.department, c.kind, c.number, c.expires_at, c.source, \
             COALESCE(c.recorded_at, s.updated_at) \
             FROM credentials c JOIN staff s ON s.id = c.staff_id \
             WHERE s.active = 1 AND c.status = 'active' ORDER BY c.staff_id, c.kind",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(staff_id, department, kind, number, expires, source, granted_at)| Entitlement {
                    staff_id,
                    department,
                    kind: EntitlementKind::Credential,
                    description: format!(
                        "credential {kind} {number}, expires {}",
                        expires.get(..10).unwrap_or(&expires)
                    ),
                    roles: Vec::new(),
                    name: kind,
                    source: source.unwrap_or_else(|| "directory".into()),
                    granted_at,
                },
            )
            .collect())
    }

    /// Stores a new campaign and its items in the caller's transaction.
    pub async fn create_campaign(
        &self,
        tx: &mut AnyConnection,
        campaign: &Campaign,
        items: &[ReviewItem],
    ) -> Result<(), StoreError> {
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT id FROM review_campaigns WHERE id = $1")
                .bind(&campaign.id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!("campaign `{}`", campaign.id)));
        }
        sqlx::query(&format!(
            "INSERT INTO review_campaigns ({CAMPAIGN_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&campaign.id)
        .bind(&campaign.name)
        .bind(serde_json::to_string(&campaign.scope).unwrap_or_else(|_| "{}".into()))
        .bind(campaign.due_at.to_rfc3339())
        .bind(name_of(&campaign.overdue))
        .bind(name_of(&campaign.apply_mode))
        .bind(&campaign.fallback_reviewer)
        .bind(campaign.status.as_str())
        .bind(&campaign.created_by)
        .bind(&campaign.created_at)
        .bind(&campaign.closed_at)
        .execute(&mut *tx)
        .await?;
        for item in items {
            sqlx::query(&format!(
                "INSERT INTO review_items (campaign_id, {ITEM_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&campaign.id)
            .bind(item.item)
            .bind(&item.staff_id)
            .bind(item.kind.as_str())
            .bind(&item.entitlement)
            .bind(&item.granted_by)
            .bind(&item.granted_at)
            .bind(&item.last_used_at)
            .bind(&item.reviewer)
            .bind(name_of(&item.outcome))
            .bind(&item.comment)
            .bind(&item.decided_by)
            .bind(&item.decided_at)
            .bind(&item.applied_at)
            .bind(&item.description)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    /// Every campaign, newest first.
    pub async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let rows: Vec<CampaignRow> = sqlx::query_as(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM review_campaigns ORDER BY created_at DESC, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(campaign_from_row).collect()
    }

    /// One campaign, read in the caller's transaction.
    pub async fn campaign_in(
        &self,
        tx: &mut AnyConnection,
        id: &str,
    ) -> Result<Option<Campaign>, StoreError> {
        let row: Option<CampaignRow> = sqlx::query_as(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM review_campaigns WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        row.map(campaign_from_row).transpose()
    }

    /// A campaign's items in order, read in the caller's transaction.
    pub async fn review_items_in(
        &self,
        tx: &mut AnyConnection,
        campaign_id: &str,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let rows: Vec<ItemRow> = sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM review_items WHERE campaign_id = $1 ORDER BY item"
        ))
        .bind(campaign_id)
        .fetch_all(&mut *tx)
        .await?;
        rows.into_iter().map(item_from_row).collect()
    }

    /// Items awaiting `reviewer` in open campaigns, with their campaign's id.
    pub async fn pending_reviews_of(
        &self,
        reviewer: &str,
    ) -> Result<Vec<(String, ReviewItem)>, StoreError> {
        self.pending_reviews_page(reviewer, 0, i64::MAX).await
    }

    /// How many items await `reviewer` in open campaigns.
    pub async fn pending_review_count(&self, reviewer: &str) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM review_items i {PENDING_FOR}"
        ))
        .bind(reviewer)
        .fetch_one(self.pool())
        .await?;
        Ok(count)
    }

    /// At most `limit` of the items awaiting `reviewer`, from the
    /// `offset`-th, in campaign and item order.
    pub async fn pending_reviews_page(
        &self,
        reviewer: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<(String, ReviewItem)>, StoreError> {
        let columns: Vec<String> = ITEM_COLUMNS
            .split(", ")
            .map(|column| format!("i.{column}"))
            .collect();
        let rows: Vec<PendingRow> = sqlx::query_as(&format!(
            "SELECT i.campaign_id, {} FROM review_items i {PENDING_FOR} \
             ORDER BY i.campaign_id, i.item LIMIT $2 OFFSET $3",
            columns.join(", ")
        ))
        .bind(reviewer)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                let item = (
                    r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13, r.14,
                );
                Ok((r.0, item_from_row(item)?))
            })
            .collect()
    }

    /// Each reviewer of a campaign with their item count and how many they
    /// decided, by reviewer.
    pub async fn review_progress(
        &self,
        campaign_id: &str,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT reviewer, COUNT(*), SUM(CASE WHEN outcome = 'pending' THEN 0 ELSE 1 END) \
             FROM review_items WHERE campaign_id = $1 GROUP BY reviewer ORDER BY reviewer",
        )
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// At most `limit` of a campaign's items, from the `offset`-th, in order.
    pub async fn review_items_page(
        &self,
        campaign_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let rows: Vec<ItemRow> = sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM review_items WHERE campaign_id = $1 \
             ORDER BY item LIMIT $2 OFFSET $3"
        ))
        .bind(campaign_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(item_from_row).collect()
    }

    /// Writes an item's decision fields back, in the caller's transaction.
    pub async fn update_review_item(
        &self,
        tx: &mut AnyConnection,
        campaign_id: &str,
        item: &ReviewItem,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE review_items SET reviewer = $3, outcome = $4, comment = $5, decided_by = $6, \
             decided_at = $7, applied_at = $8 WHERE campaign_id = $1 AND item = $2",
        )
        .bind(campaign_id)
        .bind(item.item)
        .bind(&item.reviewer)
        .bind(name_of(&item.outcome))
        .bind(&item.comment)
        .bind(&item.decided_by)
        .bind(&item.decided_at)
        .bind(&item.applied_at)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Marks a campaign closed at `at`, in the caller's transaction.
    pub async fn close_campaign(
        &self,
        tx: &mut AnyConnection,
        id: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE review_campaigns SET status = 'closed', closed_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_scope_covers_everyone_and_each_list_narrows_it() {
        let nurse = ["nurse".to_owned()];
        let everyone = CampaignScope::default();
        assert!(everyone.covers("n1", None, &nurse));
        let cardiology_nurses = CampaignScope {
            departments: vec!["cardiology".into()],
            roles: vec!["nurse".into()],
            ..CampaignScope::default()
        };
        assert!(cardiology_nurses.covers("n1", Some("cardiology"), &nurse));
        assert!(!cardiology_nurses.covers("n1", Some("oncology"), &nurse));
        assert!(!cardiology_nurses.covers("n1", None, &nurse));
        assert!(!cardiology_nurses.covers("n1", Some("cardiology"), &["doctor".to_owned()]));
        let group = ["doctor".to_owned(), "nurse".to_owned()];
        assert!(cardiology_nurses.covers("n1", Some("cardiology"), &group));
    }

    #[test]
    fn enums_are_stored_by_their_snake_case_names() {
        assert_eq!(name_of(&ApplyMode::OnClose), "on_close");
        assert_eq!(name_of(&Outcome::Escalated), "escalated");
        assert_eq!(name_of(&OverdueRule::Revoke), "revoke");
    }
}
