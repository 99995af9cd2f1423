//! Policy change impact: before a bundle is installed, the decisions the
//! ledger recorded over the last days are replayed against it and against
//! the bundle in force, over the directory and entity store as they are now,
//! each at the instant it was recorded. A decision the two answer differently
//! is a change the new bundle would make: who, what, and which way.
//!
//! The ledger records a request's subject, action, resource with its
//! properties, and context; a decision whose replay under the bundle in force
//! no longer matches what was recorded (the directory changed since, or the
//! request carried subject properties) is counted as drifted, so the report
//! says how far the replay can be trusted.

use std::sync::Arc;

use hms_audit_ledger::store::EntryFilter;
use hms_audit_ledger::{Entry, EventKind, EventOutcome, Timestamp};
use hms_authz::{AccessRequest, Action, BundleSource, Pdp, RequestTime, Subject};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::tenancy::{ChangeError, Tenant, request_time_at};

/// Most days a replay reaches back.
pub const MAX_DAYS: u32 = 366;
/// Most decisions one report replays; older ones in the window are left out.
pub const MAX_REPLAYED: usize = 200_000;
/// Most changed decisions a report lists one by one (all are counted).
const MAX_LISTED: usize = 1_000;
/// Entries read from the ledger at a time.
const PAGE: u32 = 5_000;

/// What a candidate bundle would change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImpactReport {
    /// The window replayed: recorded at or after this instant (RFC 3339).
    pub from: String,
    /// The policy version in force, replayed alongside.
    pub current_version: i64,
    /// The candidate's policy ids.
    pub candidate_policies: Vec<String>,
    /// Decisions replayed.
    pub replayed: usize,
    /// Whether the window held more than [`MAX_REPLAYED`] decisions (the newest were replayed).
    pub truncated: bool,
    /// Decisions whose replay under the bundle in force differs from what was recorded.
    pub drifted: usize,
    /// Decisions the candidate would turn from permit to deny.
    pub permit_to_deny: usize,
    /// Decisions the candidate would turn from deny to permit.
    pub deny_to_permit: usize,
    /// The changed decisions, oldest first (at most 1,000 listed).
    pub changes: Vec<ImpactChange>,
    /// The changes by who and what, most first.
    pub by_subject_and_action: Vec<ImpactGroup>,
}

/// One recorded decision the candidate would answer otherwise.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImpactChange {
    /// The ledger entry.
    pub sequence: u64,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// The decision id its answer carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// Who asked.
    pub subject: Subject,
    /// What they did.
    pub action: String,
    /// To what.
    pub resource: Subject,
    /// `permit` or `deny`, as recorded.
    pub recorded: &'static str,
    /// The bundle in force, replayed.
    pub current: Verdict,
    /// The candidate.
    pub candidate: Verdict,
}

/// One replayed answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    /// Whether it permits.
    pub allowed: bool,
    /// The determining policies, or why it could not be evaluated.
    pub because: Vec<String>,
}

/// The changes for one subject and action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImpactGroup {
    /// Subject type and id.
    pub subject: String,
    /// Action name.
    pub action: String,
    /// Decisions turned from permit to deny.
    pub permit_to_deny: usize,
    /// Decisions turned from deny to permit.
    pub deny_to_permit: usize,
}

/// Replays the last `days` of `tenant`'s recorded decisions against
/// `candidate` and against the bundle in force; nothing is changed.
pub async fn policy_impact(
    tenant: &Tenant,
    candidate: BundleSource,
    days: u32,
) -> Result<ImpactReport, ChangeError> {
    let days = days.clamp(1, MAX_DAYS);
    let candidate = Arc::new(tenant.candidate_pdp(candidate).await?);
    let current = tenant.pdp();
    let from = Timestamp::from_unix_micros(
        Timestamp::now().unix_micros() - i64::from(days) * 86_400 * 1_000_000,
    );
    let (entries, truncated) = recorded_decisions(tenant, from).await?;
    let offset = tenant.record.utc_offset_minutes;
    let mut report =
        tokio::task::spawn_blocking(move || replay(&entries, &current, &candidate, offset)).await?;
    report.from = from.to_rfc3339();
    report.current_version = tenant.policy_version();
    report.truncated = truncated;
    Ok(report)
}

/// The decision entries recorded since `from`, oldest first, at most
/// [`MAX_REPLAYED`] (the newest when there are more), and whether some were left out.
async fn recorded_decisions(
    tenant: &Tenant,
    from: Timestamp,
) -> Result<(Vec<Entry>, bool), ChangeError> {
    let mut filter = EntryFilter {
        from: Some(from),
        kind: Some(EventKind::Decision.as_str().to_owned()),
        ..EntryFilter::default()
    };
    let mut entries = std::collections::VecDeque::new();
    let mut truncated = false;
    loop {
        let page = tenant.ledger.entries(&filter, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        filter.after = Some(last.sequence);
        let full = page.len() == PAGE as usize;
        for (entry, _) in page {
            if entries.len() == MAX_REPLAYED {
                entries.pop_front();
                truncated = true;
            }
            entries.push_back(entry);
        }
        if !full {
            break;
        }
    }
    Ok((entries.into(), truncated))
}

fn replay(entries: &[Entry], current: &Pdp, candidate: &Pdp, offset: i64) -> ImpactReport {
    let mut report = ImpactReport {
        from: String::new(),
        current_version: 0,
        candidate_policies: candidate.bundle().policy_ids(),
        replayed: 0,
        truncated: false,
        drifted: 0,
        permit_to_deny: 0,
        deny_to_permit: 0,
        changes: Vec::new(),
        by_subject_and_action: Vec::new(),
    };
    let mut groups: std::collections::BTreeMap<(String, String), (usize, usize)> =
        Default::default();
    for entry in entries {
        let Some(request) = request_of(entry) else {
            continue;
        };
        let time = request_time(entry.time, offset);
        let now = verdict(current, &request, &time);
        let then = verdict(candidate, &request, &time);
        let recorded = entry.event.ended(EventOutcome::Permit);
        report.replayed += 1;
        report.drifted += usize::from(now.allowed != recorded);
        if now.allowed == then.allowed {
            continue;
        }
        let group = groups
            .entry((
                format!("{}:{}", request.subject.kind, request.subject.id),
                request.action.name.clone(),
            ))
            .or_default();
        if now.allowed {
            report.permit_to_deny += 1;
            group.0 += 1;
        } else {
            report.deny_to_permit += 1;
            group.1 += 1;
        }
        if report.changes.len() < MAX_LISTED {
            report.changes.push(ImpactChange {
                sequence: entry.sequence,
                recorded_at: entry.time.to_rfc3339(),
                decision_id: entry.event.decision_id.clone(),
                action: request.action.name.clone(),
                subject: request.subject,
                resource: request.resource,
                recorded: if recorded { "permit" } else { "deny" },
                current: now,
                candidate: then,
            });
        }
    }
    report.by_subject_and_action = groups
        .into_iter()
        .map(
            |((subject, action), (permit_to_deny, deny_to_permit))| ImpactGroup {
                subject,
                action,
                permit_to_deny,
                deny_to_permit,
            },
        )
        .collect();
    report
        .by_subject_and_action
        .sort_by_key(|g| std::cmp::Reverse(g.permit_to_deny + g.deny_to_permit));
    report
}

fn verdict(pdp: &Pdp, request: &AccessRequest, time: &RequestTime) -> Verdict {
    match pdp.evaluate(request, time) {
        Ok(decision) => Verdict {
            allowed: decision.allowed,
            because: if decision.errors.is_empty() {
                decision.policies
            } else {
                decision.errors
            },
        },
        Err(error) => Verdict {
            allowed: false,
            because: vec![error.to_string()],
        },
    }
}

/// The request a decision entry recorded; `None` when it does not say enough.
fn request_of(entry: &Entry) -> Option<AccessRequest> {
    let event = &entry.event;
    let details = &event.details;
    let (resource_kind, resource_id) = split_resource(event.resource.as_deref()?)?;
    let object = |key: &str| match details.get(key) {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    Some(AccessRequest {
        subject: Subject {
            kind: details.get("subject_type")?.as_str()?.to_owned(),
            id: event.subject.clone()?,
            properties: Map::new(),
        },
        action: Action {
            name: event.action.clone()?,
            properties: Map::new(),
        },
        resource: Subject {
            kind: resource_kind.to_owned(),
            id: resource_id.to_owned(),
            properties: object("resource_properties"),
        },
        context: object("context"),
    })
}

/// `Kind:id` as recorded, where the kind may hold `::` but no lone `:`.
fn split_resource(recorded: &str) -> Option<(&str, &str)> {
    let bytes = recorded.as_bytes();
    let at = (0..bytes.len()).find(|&i| {
        bytes[i] == b':' && bytes.get(i + 1) != Some(&b':') && (i == 0 || bytes[i - 1] != b':')
    })?;
    Some((&recorded[..at], &recorded[at + 1..]))
}

/// The PDP clock as it read when an entry was recorded.
fn request_time(at: Timestamp, utc_offset_minutes: i64) -> RequestTime {
    let seconds = at.unix_micros().div_euclid(1_000_000);
    let utc = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    request_time_at(utc, utc_offset_minutes)
}

#[cfg(test)]
mod tests {
    use super::split_resource;

    #[test]
    fn a_recorded_resource_splits_at_its_lone_colon() {
        assert_eq!(split_resource("Vitals:v1"), Some(("Vitals", "v1")));
        assert_eq!(
            split_resource("Hms::LabResult:lr:7"),
            Some(("Hms::LabResult", "lr:7"))
        );
        assert_eq!(split_resource("Hms::Patient"), None);
    }
}
