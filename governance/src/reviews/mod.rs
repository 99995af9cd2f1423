//! Access-review campaigns: built over the directory's role grants, decided
//! by reviewers, and closed with the revocations applied to the directory (and
//! so in force at the PDP). Every step is recorded in the ledger.

use std::collections::BTreeMap;

use hms_audit_ledger::{Event, EventKind, Timestamp};
use hms_directory::{
    ApplyMode, Campaign, CampaignScope, CampaignStatus, ChangeSource, CredentialStatus,
    Entitlement, EntitlementKind, Hold, Outcome, OverdueRule, ReviewItem, ReviewSettings,
    ScopePreset, StaffChange, StoreError, check_record_id,
};
use hms_scim::hr::apply::manager_of;
use hms_scim::provision::sync_roles;
use hms_scim::store::{ProvisioningError, group_entitlements};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AnyConnection;

mod progress;
mod reminders;

pub use progress::{CampaignView, Progress, ReviewerProgress, campaign, campaigns, created};
pub use reminders::{Reminder, SentReminder, overdue_reviewers, remind};

use crate::audit::{self, Provenance};
use crate::tenancy::{ChangeError, DirectoryChange, Tenant};
use hms_directory::precondition::{self, Precondition};

/// Roles whose revocation must be explained: they reach patients' records.
pub const CLINICAL_ROLES: [&str; 5] = [
    "doctor",
    "nurse",
    "lab_technician",
    "pharmacist",
    "radiologist",
];

/// How far back the break-glass preset looks for people who used it.
pub const BREAK_GLASS_LOOKBACK_DAYS: i64 = 90;

/// A campaign as the security team asks for it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Stable id.
    pub id: String,
    /// Name shown to reviewers.
    pub name: String,
    /// Who is reviewed (all lists empty: the whole tenant).
    #[serde(default)]
    pub scope: CampaignScope,
    /// Due date: RFC 3339 or `YYYY-MM-DD`.
    pub due_at: String,
    /// What undecided items become at close; the tenant's rule by default.
    #[serde(default)]
    pub overdue: Option<OverdueRule>,
    /// When revocations take effect; the tenant's setting by default.
    #[serde(default)]
    pub apply_mode: Option<ApplyMode>,
    /// Reviews people without a manager, and receives escalations.
    #[serde(default)]
    pub fallback_reviewer: Option<String>,
    /// One named reviewer for every item, instead of each person's manager.
    #[serde(default)]
    pub reviewer: Option<String>,
}

/// A reviewer's verdict on one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReviewVerdict)]
pub enum Verdict {
    /// The access is still needed.
    Certify,
    /// The access must go.
    Revoke,
    /// Someone else should decide.
    Delegate,
}

/// One decision in a (possibly bulk) request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDecision {
    /// The item's number in the campaign.
    pub item: i64,
    /// The verdict.
    pub decision: Verdict,
    /// Why; required when revoking a clinical role.
    #[serde(default)]
    pub comment: Option<String>,
    /// Who decides instead, for a delegation.
    #[serde(default)]
    pub delegate_to: Option<String>,
}

/// Why a review request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The request does not fit; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// No such campaign or item.
    #[error("{0} not found")]
    NotFound(String),
    /// The campaign is closed, or the item already decided.
    #[error("{0}")]
    Conflict(String),
    /// The caller is not the item's reviewer.
    #[error("{0}")]
    Forbidden(String),
    /// The change could not be made or recorded.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// The provisioning records could not be read.
    #[error(transparent)]
    Provisioning(#[from] ProvisioningError),
    /// The tenant's notification hook could not be read.
    #[error(transparent)]
    Hook(#[from] crate::hr::HrError),
}

impl From<StoreError> for ReviewError {
    fn from(e: StoreError) -> Self {
        Self::Change(ChangeError::Store(e))
    }
}

/// What closing a campaign did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CloseSummary {
    /// Items certified.
    pub certified: usize,
    /// Items revoked (by a reviewer or by the overdue rule).
    pub revoked: usize,
    /// Undecided items handed to the fallback reviewer.
    pub escalated: usize,
    /// Revocations applied to the directory at close.
    pub applied: usize,
}

/// Creates a campaign: one item per entitlement (role, group membership,
/// credential) held by an active person in scope, each for the named
/// reviewer, else the person's manager, else the fallback reviewer. Nobody
/// reviews their own access.
pub async fn create(
    tenant: &Tenant,
    spec: CampaignSpec,
    by: &Provenance,
) -> Result<(Campaign, Vec<ReviewItem>), ReviewError> {
    check_record_id("campaign", &spec.id)?;
    if spec.name.trim().is_empty() {
        return Err(ReviewError::Invalid("a campaign needs a name".into()));
    }
    let due_at = hms_directory::normalise_instant(&spec.due_at)
        .and_then(|at| Timestamp::parse_rfc3339(&at).ok())
        .ok_or_else(|| {
            ReviewError::Invalid(format!("`{}` is not a date or RFC 3339 time", spec.due_at))
        })?;
    let rules = tenant.store.review_settings().await?;
    let scope = resolve_scope(tenant, spec.scope.clone()).await?;
    let entitlements = entitlements_in(tenant, &scope).await?;
    let last_used = last_uses(tenant, &entitlements).await?;
    let mut change = tenant.begin_directory_change().await?;
    for reviewer in spec.reviewer.iter().chain(&spec.fallback_reviewer) {
        require_active_staff(tenant, &mut change, reviewer).await?;
    }
    let mut items = Vec::with_capacity(entitlements.len());
    for entitlement in entitlements {
        let reviewer = reviewer_for(&mut change.tx, &spec, &entitlement.staff_id).await?;
        let last_used_at = entitlement
            .roles
            .iter()
            .filter_map(|role| last_used.get(&(entitlement.staff_id.clone(), role.clone())))
            .flatten()
            .max()
            .map(|at| at.to_rfc3339());
        items.push(ReviewItem {
            item: items.len() as i64 + 1,
            kind: entitlement.kind,
            entitlement: entitlement.name,
            description: Some(entitlement.description),
            granted_by: entitlement.source,
            granted_at: entitlement.granted_at,
            last_used_at,
            staff_id: entitlement.staff_id,
            reviewer,
            outcome: Outcome::Pending,
            comment: None,
            decided_by: None,
            decided_at: None,
            applied_at: None,
        });
    }
    let campaign = Campaign {
        id: spec.id.clone(),
        name: spec.name.clone(),
        scope,
        due_at,
        overdue: spec.overdue.unwrap_or(rules.overdue),
        apply_mode: spec.apply_mode.unwrap_or(rules.apply_mode),
        fallback_reviewer: spec.fallback_reviewer.clone(),
        status: CampaignStatus::Open,
        created_by: by.actor_name(),
        created_at: hms_directory::now_rfc3339(),
        closed_at: None,
    };
    tenant
        .store
        .create_campaign(&mut change.tx, &campaign, &items)
        .await?;
    let event = campaign_event(
        by,
        EventKind::ReviewCampaignCreate,
        &campaign,
        json!({
            "scope": campaign.scope, "due_at": campaign.due_at, "items": items.len(),
            "overdue": campaign.overdue, "apply_mode": campaign.apply_mode,
        }),
    );
    tenant
        .commit_directory_change(change, vec![event], &[])
        .await?;
    tenant.schedule_work_at(campaign.due_at).await?;
    Ok((campaign, items))
}

/// When the tenant's campaigns next need their due date enforced: the
/// earliest due date of an open campaign (one past its due date stays due,
/// for escalations still to be made).
pub async fn next_due(tenant: &Tenant) -> Result<Option<Timestamp>, ReviewError> {
    let campaigns = tenant.store.campaigns().await?;
    Ok(campaigns
        .iter()
        .filter(|c| c.is_open())
        .map(|c| c.due_at)
        .min())
}

/// Replaces the tenant's review rules (for campaigns that do not set their
/// own) and records the change.
pub async fn set_rules(
    tenant: &Tenant,
    rules: &ReviewSettings,
    based_on: &Precondition,
    by: &Provenance,
) -> Result<(), ReviewError> {
    let mut change = tenant.begin_directory_change().await?;
    let before = tenant.store.review_settings().await?;
    based_on
        .check(&precondition::tag_of(&before))
        .map_err(ChangeError::from)?;
    tenant
        .store
        .set_review_settings(&mut change.tx, rules)
        .await?;
    let event = Event {
        action: Some("update_review_settings".into()),
        resource: Some("review:settings".into()),
        details: json!({ "before": before, "after": rules }),
        ..by.event(EventKind::ReviewSettingsUpdate)
    };
    tenant
        .commit_directory_change(change, vec![event], &[])
        .await?;
    Ok(())
}

/// Turns a preset into the people or roles it stands for, so the stored
/// scope says exactly who was reviewed.
async fn resolve_scope(
    tenant: &Tenant,
    mut scope: CampaignScope,
) -> Result<CampaignScope, ReviewError> {
    let widen = |list: &mut Vec<String>, more: Vec<String>| {
        list.extend(more);
        list.sort();
        list.dedup();
    };
    match scope.preset {
        None => {}
        Some(ScopePreset::Privileged) => {
            let privileged = hms_compliance_reports::PRIVILEGED_ROLES.iter();
            widen(
                &mut scope.roles,
                privileged.map(|r| (*r).to_owned()).collect(),
            );
        }
        Some(ScopePreset::BreakGlass) => {
            let lookback = BREAK_GLASS_LOOKBACK_DAYS * 86_400 * 1_000_000;
            let since = Timestamp::from_unix_micros(Timestamp::now().unix_micros() - lookback);
            let accesses = tenant
                .ledger
                .break_glass_decisions(since)
                .await
                .map_err(ChangeError::from)?;
            let users: std::collections::BTreeSet<String> = accesses
                .into_iter()
                .filter_map(|e| e.event.subject)
                .collect();
            if users.is_empty() {
                return Err(ReviewError::Invalid(format!(
                    "nobody used break-glass in the last {BREAK_GLASS_LOOKBACK_DAYS} days"
                )));
            }
            widen(&mut scope.staff, users.into_iter().collect());
        }
    }
    Ok(scope)
}

/// Every entitlement of an active person in scope: roles, memberships of
/// groups that grant roles (in place of the roles they grant), and
/// credentials in good standing (which concern the clinical roles their
/// holder has). By person, then kind.
async fn entitlements_in(
    tenant: &Tenant,
    scope: &CampaignScope,
) -> Result<Vec<Entitlement>, ReviewError> {
    let roles = tenant.store.role_grants().await?;
    let groups = {
        let mut conn = tenant.store.connection().await?;
        group_entitlements(&mut conn).await?
    };
    let mut credentials = tenant.store.credential_grants().await?;
    let mut clinical: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for grant in roles
        .iter()
        .filter(|g| CLINICAL_ROLES.contains(&g.name.as_str()))
    {
        clinical
            .entry(grant.staff_id.as_str())
            .or_default()
            .push(grant.name.clone());
    }
    for credential in &mut credentials {
        credential.roles = clinical
            .get(credential.staff_id.as_str())
            .cloned()
            .unwrap_or_default();
    }
    // A role granted through a group is reviewed as the group membership.
    let through_group = |grant: &Entitlement| {
        ChangeSource::Scim.is(&grant.source)
            && groups
                .iter()
                .any(|g| g.staff_id == grant.staff_id && g.roles.contains(&grant.name))
    };
    let roles: Vec<Entitlement> = roles.into_iter().filter(|g| !through_group(g)).collect();
    let mut all: Vec<Entitlement> = roles
        .into_iter()
        .chain(groups)
        .chain(credentials)
        .filter(|e| scope.covers(&e.staff_id, e.department.as_deref(), &e.roles))
        .collect();
    all.sort_by(|a, b| (&a.staff_id, a.kind, &a.name).cmp(&(&b.staff_id, b.kind, &b.name)));
    Ok(all)
}

/// When each role of each entitlement was last used by its holder, from the
/// ledger: the latest permitted decision that a policy granting the role
/// determined.
async fn last_uses(
    tenant: &Tenant,
    entitlements: &[Entitlement],
) -> Result<BTreeMap<(String, String), Option<Timestamp>>, ReviewError> {
    let bundle = std::sync::Arc::clone(tenant.pdp().bundle());
    let mut found = BTreeMap::new();
    for entitlement in entitlements {
        for role in &entitlement.roles {
            let key = (entitlement.staff_id.clone(), role.clone());
            if found.contains_key(&key) {
                continue;
            }
            let policies = bundle.policies_scoped_to("Role", role);
            let used = tenant
                .ledger
                .last_permitted_by(&entitlement.staff_id, &policies)
                .await
                .map_err(ChangeError::from)?;
            found.insert(key, used);
        }
    }
    Ok(found)
}

/// The reviewer of one person's items.
async fn reviewer_for(
    conn: &mut AnyConnection,
    spec: &CampaignSpec,
    staff_id: &str,
) -> Result<String, ReviewError> {
    let manager = match &spec.reviewer {
        Some(named) => Some(named.clone()),
        None => manager_of(conn, staff_id).await?,
    };
    manager
        .filter(|reviewer| reviewer != staff_id)
        .or_else(|| spec.fallback_reviewer.clone())
        .filter(|reviewer| reviewer != staff_id)
        .ok_or_else(|| {
            ReviewError::Invalid(format!(
                "nobody can review `{staff_id}`: no manager other than themselves and no fallback reviewer"
            ))
        })
}

/// Records `reviewer`'s decisions, all or none: each item must be theirs and
/// pending, a clinical role's revocation needs a comment, a delegation names
/// someone else. With immediate application, revocations take effect now.
pub async fn decide(
    tenant: &Tenant,
    campaign_id: &str,
    reviewer: &str,
    decisions: &[ItemDecision],
    by: &Provenance,
) -> Result<Vec<ReviewItem>, ReviewError> {
    if decisions.is_empty() {
        return Err(ReviewError::Invalid("no decisions given".into()));
    }
    let mut change = tenant.begin_directory_change().await?;
    let (campaign, items) = open_with_items(tenant, &mut change, campaign_id).await?;
    let mut items: BTreeMap<i64, ReviewItem> =
        items.into_iter().map(|item| (item.item, item)).collect();
    let now = hms_directory::now_rfc3339();
    let mut decided = Vec::with_capacity(decisions.len());
    let mut events = Vec::with_capacity(decisions.len());
    for decision in decisions {
        if let Some(to) = &decision.delegate_to {
            require_active_staff(tenant, &mut change, to).await?;
        }
        let item = items.get_mut(&decision.item).ok_or_else(|| {
            ReviewError::NotFound(format!(
                "item {} of campaign `{campaign_id}`",
                decision.item
            ))
        })?;
        let clinical = decision.decision == Verdict::Revoke
            && is_clinical(&mut change.tx, item.kind, &item.entitlement).await?;
        apply_verdict(item, decision, clinical, reviewer, by, &now)?;
        events.push(item_event(by, &campaign, item, decision));
        decided.push(item.clone());
    }
    let staff_changes = apply_if_immediate(
        tenant,
        &mut change,
        &campaign,
        &mut decided,
        by,
        &mut events,
    )
    .await?;
    for item in &decided {
        tenant
            .store
            .update_review_item(&mut change.tx, campaign_id, item)
            .await?;
    }
    tenant
        .commit_directory_change(change, events, &staff_changes)
        .await?;
    Ok(decided)
}

/// Whether an entitlement reaches patients' records, so that revoking it
/// must be explained: a clinical role, a group granting one, or a
/// professional credential.
async fn is_clinical(
    conn: &mut AnyConnection,
    kind: EntitlementKind,
    entitlement: &str,
) -> Result<bool, ReviewError> {
    let clinical = |role: &str| CLINICAL_ROLES.contains(&role);
    Ok(match kind {
        EntitlementKind::Role => clinical(entitlement),
        EntitlementKind::Group => hms_scim::store::roles_of_group(conn, entitlement)
            .await?
            .iter()
            .any(|role| clinical(role)),
        EntitlementKind::Credential => true,
    })
}

/// Checks one decision against its item and records it on the item;
/// revoking a `clinical` entitlement needs a comment.
fn apply_verdict(
    item: &mut ReviewItem,
    decision: &ItemDecision,
    clinical: bool,
    reviewer: &str,
    by: &Provenance,
    now: &str,
) -> Result<(), ReviewError> {
    if item.reviewer != reviewer {
        return Err(ReviewError::Forbidden(format!(
            "item {} is for `{}` to review",
            item.item, item.reviewer
        )));
    }
    if item.outcome != Outcome::Pending {
        return Err(ReviewError::Conflict(format!(
            "item {} is already decided",
            item.item
        )));
    }
    let comment = decision
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    match decision.decision {
        Verdict::Certify => item.outcome = Outcome::Certified,
        Verdict::Revoke => {
            if comment.is_none() && clinical {
                return Err(ReviewError::Invalid(format!(
                    "revoking the clinical {} `{}` (item {}) needs a comment",
                    item.kind, item.entitlement, item.item
                )));
            }
            item.outcome = Outcome::Revoked;
        }
        Verdict::Delegate => {
            let to = decision
                .delegate_to
                .as_deref()
                .filter(|to| !to.is_empty())
                .ok_or_else(|| {
                    ReviewError::Invalid(format!("item {}: delegate to whom?", item.item))
                })?;
            if to == item.staff_id || to == reviewer {
                return Err(ReviewError::Invalid(format!(
                    "item {} cannot be delegated to `{to}`",
                    item.item
                )));
            }
            item.reviewer = to.to_owned();
            item.comment = comment.map(str::to_owned);
            return Ok(());
        }
    }
    item.comment = comment.map(str::to_owned);
    item.decided_by = Some(by.actor_name());
    item.decided_at = Some(now.to_owned());
    Ok(())
}

/// Applies each open campaign's overdue rule to the items still undecided
/// past its due date: `revoke` revokes them (in force now when revocations
/// are immediate, else at close); `escalate` hands them to the fallback
/// reviewer, who may still decide until the close. Returns how many items
/// it changed.
pub async fn enforce_due_dates(tenant: &Tenant, by: &Provenance) -> Result<usize, ReviewError> {
    let now = Timestamp::now();
    let mut changed = 0;
    for campaign in tenant.store.campaigns().await? {
        if campaign.is_open() && campaign.due_at <= now {
            changed += enforce_due_date(tenant, &campaign.id, by).await?;
        }
    }
    Ok(changed)
}

/// [`enforce_due_dates`] for one campaign, in one directory change.
async fn enforce_due_date(
    tenant: &Tenant,
    campaign_id: &str,
    by: &Provenance,
) -> Result<usize, ReviewError> {
    let mut change = tenant.begin_directory_change().await?;
    let (campaign, mut items) = open_with_items(tenant, &mut change, campaign_id).await?;
    let now = hms_directory::now_rfc3339();
    let mut events = Vec::new();
    let mut touched = Vec::new();
    for item in items.iter_mut().filter(|i| i.outcome == Outcome::Pending) {
        match campaign.overdue {
            OverdueRule::Revoke => {
                item.outcome = Outcome::Revoked;
                item.decided_by = Some("system:overdue".into());
                item.decided_at = Some(now.clone());
            }
            OverdueRule::Escalate => {
                let Some(fallback) = campaign
                    .fallback_reviewer
                    .as_ref()
                    .filter(|f| **f != item.reviewer && **f != item.staff_id)
                else {
                    continue;
                };
                item.reviewer = fallback.clone();
            }
        }
        events.push(overdue_event(by, &campaign, item, "due"));
        touched.push(item.item);
    }
    if touched.is_empty() {
        return Ok(0);
    }
    let staff_changes =
        apply_if_immediate(tenant, &mut change, &campaign, &mut items, by, &mut events).await?;
    for item in items.iter().filter(|i| touched.contains(&i.item)) {
        tenant
            .store
            .update_review_item(&mut change.tx, campaign_id, item)
            .await?;
    }
    tenant
        .commit_directory_change(change, events, &staff_changes)
        .await?;
    Ok(touched.len())
}

/// Closes a campaign: undecided items follow the overdue rule, revocations
/// not yet applied are applied, and the closing is recorded.
pub async fn close(
    tenant: &Tenant,
    campaign_id: &str,
    by: &Provenance,
) -> Result<CloseSummary, ReviewError> {
    let mut change = tenant.begin_directory_change().await?;
    let (campaign, mut items) = open_with_items(tenant, &mut change, campaign_id).await?;
    let now = hms_directory::now_rfc3339();
    let mut events = Vec::new();
    for item in items.iter_mut().filter(|i| i.outcome == Outcome::Pending) {
        let (outcome, reviewer) = match campaign.overdue {
            OverdueRule::Revoke => (Outcome::Revoked, item.reviewer.clone()),
            OverdueRule::Escalate => (
                Outcome::Escalated,
                campaign
                    .fallback_reviewer
                    .clone()
                    .unwrap_or_else(|| item.reviewer.clone()),
            ),
        };
        item.outcome = outcome;
        item.reviewer = reviewer;
        item.decided_by = Some("system:overdue".into());
        item.decided_at = Some(now.clone());
        events.push(overdue_event(by, &campaign, item, "close"));
    }
    let applied = apply_revocations(tenant, &mut change, &campaign, &mut items, by).await?;
    events.extend(applied.events);
    for item in &items {
        tenant
            .store
            .update_review_item(&mut change.tx, campaign_id, item)
            .await?;
    }
    tenant
        .store
        .close_campaign(&mut change.tx, campaign_id, &now)
        .await?;
    let count = |outcome| items.iter().filter(|i| i.outcome == outcome).count();
    let summary = CloseSummary {
        certified: count(Outcome::Certified),
        revoked: count(Outcome::Revoked),
        escalated: count(Outcome::Escalated),
        applied: applied.items,
    };
    events.push(campaign_event(
        by,
        EventKind::ReviewCampaignClose,
        &campaign,
        json!(summary),
    ));
    tenant
        .commit_directory_change(change, events, &applied.changes)
        .await?;
    Ok(summary)
}

/// Refuses a reviewer who is not an active staff member.
async fn require_active_staff(
    tenant: &Tenant,
    change: &mut DirectoryChange<'_>,
    staff_id: &str,
) -> Result<(), ReviewError> {
    let record = tenant.store.staff_in(&mut change.tx, staff_id).await?;
    if record.is_some_and(|r| r.member.active) {
        Ok(())
    } else {
        Err(ReviewError::Invalid(format!(
            "`{staff_id}` is not an active staff member"
        )))
    }
}

/// The open campaign and its items, read in the change's transaction.
async fn open_with_items(
    tenant: &Tenant,
    change: &mut DirectoryChange<'_>,
    campaign_id: &str,
) -> Result<(Campaign, Vec<ReviewItem>), ReviewError> {
    let campaign = open_campaign(tenant, change, campaign_id).await?;
    let items = tenant
        .store
        .review_items_in(&mut change.tx, campaign_id)
        .await?;
    Ok((campaign, items))
}

/// The campaign, which must exist and be open.
async fn open_campaign(
    tenant: &Tenant,
    change: &mut DirectoryChange<'_>,
    campaign_id: &str,
) -> Result<Campaign, ReviewError> {
    let campaign = tenant
        .store
        .campaign_in(&mut change.tx, campaign_id)
        .await?
        .ok_or_else(|| ReviewError::NotFound(format!("campaign `{campaign_id}`")))?;
    if !campaign.is_open() {
        return Err(ReviewError::Conflict(format!(
            "campaign `{campaign_id}` is closed"
        )));
    }
    Ok(campaign)
}

/// When the campaign's revocations take effect at once, applies those among
/// `items` (adding their entries to `events`) and returns the directory
/// changes; otherwise changes nothing.
async fn apply_if_immediate(
    tenant: &Tenant,
    change: &mut DirectoryChange<'_>,
    campaign: &Campaign,
    items: &mut [ReviewItem],
    by: &Provenance,
    events: &mut Vec<Event>,
) -> Result<Vec<StaffChange>, ReviewError> {
    if campaign.apply_mode != ApplyMode::Immediate {
        return Ok(Vec::new());
    }
    let applied = apply_revocations(tenant, change, campaign, items, by).await?;
    events.extend(applied.events);
    Ok(applied.changes)
}

/// What applying revocations changed.
struct Applied {
    /// The directory changes, for the PDP snapshot.
    changes: Vec<StaffChange>,
    /// Their ledger entries, and one per applied item.
    events: Vec<Event>,
    /// How many items were applied.
    items: usize,
}

/// Takes every revoked, not yet applied entitlement among `items` away, in
/// the change's transaction: roles are removed, credentials suspended, group
/// memberships stop granting their roles. Each is put on hold, so no feed
/// grants it back, and its item is marked applied.
async fn apply_revocations(
    tenant: &Tenant,
    change: &mut DirectoryChange<'_>,
    campaign: &Campaign,
    items: &mut [ReviewItem],
    by: &Provenance,
) -> Result<Applied, ReviewError> {
    let due: Vec<&mut ReviewItem> = items
        .iter_mut()
        .filter(|i| i.outcome == Outcome::Revoked && i.applied_at.is_none())
        .collect();
    let holds: Vec<Hold> = due
        .iter()
        .map(|item| Hold {
            staff_id: item.staff_id.clone(),
            kind: item.kind,
            entitlement: item.entitlement.clone(),
            campaign_id: campaign.id.clone(),
            item: item.item,
        })
        .collect();
    hms_directory::place_holds(&mut change.tx, &holds).await?;
    let mut changes = revoke_in_directory(tenant, change, &holds).await?;
    let mut group_members: Vec<String> = holds
        .iter()
        .filter(|h| h.kind == EntitlementKind::Group)
        .map(|h| h.staff_id.clone())
        .collect();
    group_members.dedup();
    changes.extend(sync_roles(&tenant.store, &mut change.tx, &group_members).await?);
    let mut events: Vec<Event> = changes
        .iter()
        .map(|c| audit::staff_event(by, c, ChangeSource::Review))
        .collect();
    let now = hms_directory::now_rfc3339();
    let applied = due.len();
    for item in due {
        item.applied_at = Some(now.clone());
        let roles_removed: Vec<&String> = changes
            .iter()
            .filter(|c| c.member.id == item.staff_id)
            .flat_map(|c| &c.roles_removed)
            .collect();
        events.push(Event {
            subject: Some(item.staff_id.clone()),
            action: Some(format!("revoke_{}", item.kind)),
            resource: Some(format!("review:{}/{}", campaign.id, item.item)),
            details: json!({
                "campaign": campaign.id, "item": item.item, "kind": item.kind,
                "entitlement": item.entitlement, "roles_removed": roles_removed,
            }),
            ..by.event(EventKind::ReviewRevocationApply)
        });
    }
    Ok(Applied {
        changes,
        events,
        items: applied,
    })
}

/// Removes held roles and suspends held credentials of the people concerned.
async fn revoke_in_directory(
    tenant: &Tenant,
    change: &mut DirectoryChange<'_>,
    holds: &[Hold],
) -> Result<Vec<StaffChange>, ReviewError> {
    let mut by_person: BTreeMap<&str, Vec<&Hold>> = BTreeMap::new();
    for hold in holds.iter().filter(|h| h.kind != EntitlementKind::Group) {
        by_person.entry(&hold.staff_id).or_default().push(hold);
    }
    let mut members = Vec::new();
    for (staff_id, held) in by_person {
        let Some(record) = tenant.store.staff_in(&mut change.tx, staff_id).await? else {
            continue;
        };
        let mut member = record.member;
        let is_held = |kind: EntitlementKind, name: &str| {
            held.iter().any(|h| h.kind == kind && h.entitlement == name)
        };
        member
            .roles
            .retain(|role| !is_held(EntitlementKind::Role, role));
        for credential in &mut member.credentials {
            if is_held(EntitlementKind::Credential, &credential.kind)
                && credential.status == CredentialStatus::Active
            {
                credential.status = CredentialStatus::Suspended;
            }
        }
        members.push(member);
    }
    Ok(tenant
        .store
        .upsert_staff(&mut change.tx, members, ChangeSource::Review)
        .await?)
}

fn campaign_event(
    by: &Provenance,
    kind: EventKind,
    campaign: &Campaign,
    details: serde_json::Value,
) -> Event {
    let name = kind.as_str();
    Event {
        action: Some(name.rsplit('.').next().unwrap_or(name).to_owned()),
        resource: Some(format!("review:{}", campaign.id)),
        details,
        ..by.event(kind)
    }
}

fn item_event(
    by: &Provenance,
    campaign: &Campaign,
    item: &ReviewItem,
    decision: &ItemDecision,
) -> Event {
    let verdict = match decision.decision {
        Verdict::Certify => "certify",
        Verdict::Revoke => "revoke",
        Verdict::Delegate => "delegate",
    };
    Event {
        subject: Some(item.staff_id.clone()),
        action: Some(verdict.into()),
        resource: Some(format!("review:{}/{}", campaign.id, item.item)),
        details: json!({
            "campaign": campaign.id, "item": item.item, "kind": item.kind,
            "entitlement": item.entitlement, "comment": item.comment,
            "reviewer": item.reviewer,
        }),
        ..by.event(EventKind::ReviewDecision)
    }
}

/// The entry for the overdue rule applied to an item, at the due date (`due`)
/// or at the close (`close`).
fn overdue_event(by: &Provenance, campaign: &Campaign, item: &ReviewItem, at: &str) -> Event {
    Event {
        subject: Some(item.staff_id.clone()),
        action: Some(
            match item.outcome {
                Outcome::Revoked => "revoke",
                _ => "escalate",
            }
            .into(),
        ),
        resource: Some(format!("review:{}/{}", campaign.id, item.item)),
        details: json!({
            "campaign": campaign.id, "item": item.item, "kind": item.kind,
            "entitlement": item.entitlement, "rule": campaign.overdue, "reviewer": item.reviewer,
            "at": at,
        }),
        ..by.event(EventKind::ReviewOverdue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Actor;

    /// A pending item of `reviewer`'s: nurse-ann's `nurse` role.
    pub(super) fn item(reviewer: &str) -> ReviewItem {
        ReviewItem {
            item: 7,
            staff_id: "nurse-ann".into(),
            kind: EntitlementKind::Role,
            entitlement: "nurse".into(),
            description: None,
            granted_by: "admin".into(),
            granted_at: "2026-01-01T00:00:00Z".into(),
            last_used_at: None,
            reviewer: reviewer.into(),
            outcome: Outcome::Pending,
            comment: None,
            decided_by: None,
            decided_at: None,
            applied_at: None,
        }
    }

    fn decision(verdict: Verdict, comment: Option<&str>, to: Option<&str>) -> ItemDecision {
        ItemDecision {
            item: 7,
            decision: verdict,
            comment: comment.map(str::to_owned),
            delegate_to: to.map(str::to_owned),
        }
    }

    const NOW: &str = "2026-12-02T10:00:00Z";

    #[test]
    fn only_the_items_reviewer_decides_it_and_only_once() {
        let by = Provenance::local(Actor::Staff("chief".into()));
        let mut other = item("someone-else");
        let certify = decision(Verdict::Certify, None, None);
        assert!(matches!(
            apply_verdict(&mut other, &certify, false, "chief", &by, NOW),
            Err(ReviewError::Forbidden(_))
        ));
        let mut mine = item("chief");
        assert!(apply_verdict(&mut mine, &certify, false, "chief", &by, NOW).is_ok());
        assert_eq!(mine.outcome, Outcome::Certified);
        assert_eq!(mine.decided_by.as_deref(), Some("staff:chief"));
        assert_eq!(mine.decided_at.as_deref(), Some(NOW));
        assert!(matches!(
            apply_verdict(&mut mine, &certify, false, "chief", &by, NOW),
            Err(ReviewError::Conflict(_))
        ));
    }

    #[test]
    fn revoking_clinical_access_needs_a_reason() {
        let by = Provenance::local(Actor::Staff("chief".into()));
        let mut clinical = item("chief");
        let bare = decision(Verdict::Revoke, Some("  "), None);
        assert!(matches!(
            apply_verdict(&mut clinical, &bare, true, "chief", &by, NOW),
            Err(ReviewError::Invalid(_))
        ));
        assert_eq!(clinical.outcome, Outcome::Pending);
        let reasoned = decision(Verdict::Revoke, Some("moved to billing"), None);
        assert!(apply_verdict(&mut clinical, &reasoned, true, "chief", &by, NOW).is_ok());
        assert_eq!(clinical.outcome, Outcome::Revoked);
        assert_eq!(clinical.comment.as_deref(), Some("moved to billing"));
        let mut office = item("chief");
        assert!(apply_verdict(&mut office, &bare, false, "chief", &by, NOW).is_ok());
        assert_eq!(office.outcome, Outcome::Revoked);
    }

    #[test]
    fn delegation_hands_the_item_on_but_never_to_its_holder_or_back() {
        let by = Provenance::local(Actor::Staff("chief".into()));
        for to in [None, Some(""), Some("nurse-ann"), Some("chief")] {
            let mut pending = item("chief");
            let delegate = decision(Verdict::Delegate, None, to);
            assert!(
                matches!(
                    apply_verdict(&mut pending, &delegate, true, "chief", &by, NOW),
                    Err(ReviewError::Invalid(_))
                ),
                "delegating to {to:?}"
            );
        }
        let mut pending = item("chief");
        let delegate = decision(Verdict::Delegate, None, Some("ward-manager"));
        assert!(apply_verdict(&mut pending, &delegate, true, "chief", &by, NOW).is_ok());
        assert_eq!(pending.reviewer, "ward-manager");
        assert_eq!(pending.outcome, Outcome::Pending);
        assert_eq!(pending.decided_by, None);
    }
}
