//! Access-review evidence: every reviewer decision and overdue outcome of the
//! campaigns in the range, and for each revocation the ledger entry that
//! applied it and whether the entitlement is still in force.

use std::collections::BTreeMap;

use hms_audit_ledger::{Entry, EventKind};
use serde_json::Value;

use super::tally::Reading;
use super::{Needs, Spec, staff_of, text, yes_no};
use crate::report::{Directory, Parameters, StaffFacts};

/// A reviewer's certification, revocation or delegation.
const DECISION: &str = EventKind::ReviewDecision.as_str();
/// What an undecided item became when its campaign closed.
const OVERDUE: &str = EventKind::ReviewOverdue.as_str();
/// A revocation applied to the directory.
const APPLIED: &str = EventKind::ReviewRevocationApply.as_str();

pub(super) const SPEC: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[DECISION, OVERDUE, APPLIED]),
    columns: &[
        "time",
        "campaign",
        "item",
        "staff",
        "kind",
        "entitlement",
        "decision",
        "decided_by",
        "reviewer",
        "comment",
        "revocation_applied_at",
        "revocation_sequence",
        "still_in_force",
        "sequence",
    ],
    notes: &[
        "One row per reviewer decision (`certify`, `revoke`, `delegate`) and per item left undecided at its campaign's close (`overdue: revoke` or `overdue: escalate`).",
        "`kind` is `role`, `group` (membership of a group that grants roles) or `credential` (a professional credential).",
        "For a revocation, `revocation_applied_at` and `revocation_sequence` name the ledger entry that took the entitlement away in the directory; empty when it has not been applied yet.",
        "`still_in_force` says whether, when the report is generated, the directory still gives the person the role, the credential in good standing, or (for a group) any role whose removal the revocation applied.",
        "Filter by campaign with the `campaign` parameter.",
    ],
    reading: Reading::Held {
        keep: |_, _, _| true,
        rows: review_rows,
    },
};

/// The entries that applied revocations, by campaign and item.
fn applications(entries: &[Entry]) -> BTreeMap<(String, String), &Entry> {
    entries
        .iter()
        .filter(|e| e.event.is(EventKind::ReviewRevocationApply))
        .filter_map(|e| Some((item_key(e)?, e)))
        .collect()
}

/// The campaign and item an entry is about.
fn item_key(entry: &Entry) -> Option<(String, String)> {
    let details = &entry.event.details;
    let campaign = details.get("campaign")?.as_str()?.to_owned();
    let item = details.get("item")?.as_i64()?.to_string();
    Some((campaign, item))
}

fn detail(entry: &Entry, key: &str) -> String {
    entry
        .event
        .details
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn review_rows(
    entries: &[Entry],
    parameters: &Parameters,
    directory: &Directory,
) -> Vec<Vec<String>> {
    let applied = applications(entries);
    entries
        .iter()
        .filter(|e| e.event.is(EventKind::ReviewDecision) || e.event.is(EventKind::ReviewOverdue))
        .filter_map(|e| Some((item_key(e)?, e)))
        .filter(|((campaign, _), _)| parameters.campaign.as_ref().is_none_or(|c| c == campaign))
        .filter(|(_, e)| directory.passes(&staff_of(e), parameters))
        .map(|(key, entry)| {
            let revoked = entry.event.action.as_deref() == Some("revoke");
            let applied = applied.get(&key).copied().filter(|_| revoked);
            review_row(&key, entry, applied, directory)
        })
        .collect()
}

/// Whether the person still has the entitlement. For a group, whether they
/// still hold a role its applied revocation removed; a group revocation not
/// yet applied is still in force.
fn in_force(facts: &StaffFacts, kind: &str, entitlement: &str, applied: Option<&Entry>) -> bool {
    match kind {
        "credential" => facts.active_credentials.iter().any(|c| c == entitlement),
        "group" => applied.is_none_or(|entry| {
            entry.event.details["roles_removed"]
                .as_array()
                .is_some_and(|roles| {
                    roles.iter().any(|r| {
                        r.as_str()
                            .is_some_and(|r| facts.roles.iter().any(|h| h == r))
                    })
                })
        }),
        _ => facts.roles.iter().any(|r| r == entitlement),
    }
}

fn review_row(
    (campaign, item): &(String, String),
    entry: &Entry,
    applied: Option<&Entry>,
    directory: &Directory,
) -> Vec<String> {
    let staff = staff_of(entry);
    let entitlement = detail(entry, "entitlement");
    let action = text(entry.event.action.as_ref());
    let decision = if entry.event.is(EventKind::ReviewOverdue) {
        format!("overdue: {action}")
    } else {
        action
    };
    let kind = detail(entry, "kind");
    let in_force = directory
        .staff
        .get(&staff)
        .is_some_and(|facts| in_force(facts, &kind, &entitlement, applied));
    vec![
        entry.time.to_string(),
        campaign.clone(),
        item.clone(),
        staff,
        kind,
        entitlement,
        decision,
        text(entry.event.actor.as_ref()),
        detail(entry, "reviewer"),
        detail(entry, "comment"),
        applied.map(|a| a.time.to_string()).unwrap_or_default(),
        applied.map(|a| a.sequence.to_string()).unwrap_or_default(),
        yes_no(in_force),
        entry.sequence.to_string(),
    ]
}
