//! Per-patient and per-person reports: patient access, user activity, break-glass.

use std::collections::BTreeMap;

use hms_audit_ledger::{Entry, EventKind};
use serde_json::Value;

use super::tally::Reading;
use super::{
    Needs, Spec, break_glass, context_text, patient_decision, patient_of, staff_of, text,
    when_and_who, yes_no,
};
use crate::report::{Directory, Parameters};

pub(super) const PATIENT_ACCESS: Spec = Spec {
    needs: Needs::Patient,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "time",
        "staff",
        "roles",
        "department",
        "action",
        "resource",
        "decision",
        "purpose_of_use",
        "break_glass",
        "break_glass_reason",
        "decision_id",
        "sequence",
    ],
    notes: &[
        "Every decision on this patient's records in the range, permitted or denied, by anyone: internal staff included.",
        "Roles and department are the staff member's as the directory holds them when the report is generated.",
    ],
    reading: Reading::EachEntry(patient_access),
};

pub(super) const USER_ACTIVITY: Spec = Spec {
    needs: Needs::Staff,
    kinds: Some(&[]),
    columns: &[
        "time", "event", "action", "resource", "patient", "outcome", "details", "sequence",
    ],
    notes: &[
        "Every ledger entry about this staff member in the range: decisions made for them (permitted or refused), sign-ins and their failures, second-factor events, session ends and directory changes.",
    ],
    reading: Reading::EachEntry(user_activity),
};

pub(super) const BREAK_GLASS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[
        EventKind::Decision.as_str(),
        EventKind::BreakGlassReview.as_str(),
    ]),
    columns: &[
        "time",
        "staff",
        "roles",
        "department",
        "patient",
        "action",
        "resource",
        "decision",
        "reason",
        "on_care_team_now",
        "review",
        "reviewed_by",
        "review_comment",
        "decision_id",
        "sequence",
    ],
    notes: &[
        "Every decision requested with break-glass in the range, with the reason the requester gave.",
        "`on_care_team_now` says whether the staff member is on the patient's care team in the directory when the report is generated.",
        "`review` is the latest reviewer verdict recorded in the ledger for the access (`not reviewed` when none is).",
    ],
    reading: Reading::Held {
        keep: break_glass_or_review,
        rows: break_glass_rows,
    },
};

/// The latest review of each reviewed decision: verdict, reviewer, comment.
fn reviews(entries: &[Entry]) -> BTreeMap<String, [String; 3]> {
    entries
        .iter()
        .filter(|e| e.event.is(EventKind::BreakGlassReview))
        .filter_map(|e| {
            let comment = e.event.details.get("comment").and_then(Value::as_str);
            let review = [
                text(e.event.outcome.as_ref()),
                text(e.event.actor.as_ref()),
                comment.unwrap_or_default().to_owned(),
            ];
            Some((e.event.decision_id.clone()?, review))
        })
        .collect()
}

fn patient_access(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
) -> Option<Vec<String>> {
    if !patient_decision(entry, parameters, directory) {
        return None;
    }
    let event = &entry.event;
    let mut row = when_and_who(entry, directory);
    row.extend([
        text(event.action.as_ref()),
        text(event.resource.as_ref()),
        text(event.outcome.as_ref()),
        context_text(entry, "purpose_of_use"),
        yes_no(break_glass(entry)),
        context_text(entry, "break_glass_reason"),
        text(event.decision_id.as_ref()),
        entry.sequence.to_string(),
    ]);
    Some(row)
}

fn user_activity(entry: &Entry, _: &Parameters, _: &Directory) -> Option<Vec<String>> {
    let event = &entry.event;
    let details = match &event.details {
        Value::Null => String::new(),
        other => other.to_string(),
    };
    Some(vec![
        entry.time.to_string(),
        event.kind.clone(),
        text(event.action.as_ref()),
        text(event.resource.as_ref()),
        patient_of(entry),
        text(event.outcome.as_ref()),
        details,
        entry.sequence.to_string(),
    ])
}

/// A break-glass decision the report lists, or a review of one.
fn break_glass_or_review(entry: &Entry, parameters: &Parameters, directory: &Directory) -> bool {
    entry.event.is(EventKind::BreakGlassReview)
        || (break_glass(entry) && patient_decision(entry, parameters, directory))
}

fn break_glass_rows(
    entries: &[Entry],
    parameters: &Parameters,
    directory: &Directory,
) -> Vec<Vec<String>> {
    let reviews = reviews(entries);
    entries
        .iter()
        .filter(|entry| break_glass(entry) && patient_decision(entry, parameters, directory))
        .map(|entry| {
            let event = &entry.event;
            let staff = staff_of(entry);
            let patient = patient_of(entry);
            let mut row = when_and_who(entry, directory);
            row.extend([
                patient.clone(),
                text(event.action.as_ref()),
                text(event.resource.as_ref()),
                text(event.outcome.as_ref()),
                context_text(entry, "break_glass_reason"),
                yes_no(directory.on_care_team(&staff, &patient)),
            ]);
            let review = event.decision_id.as_ref().and_then(|id| reviews.get(id));
            match review {
                Some(review) => row.extend(review.iter().cloned()),
                None => row.extend(["not reviewed".to_owned(), String::new(), String::new()]),
            }
            row.extend([text(event.decision_id.as_ref()), entry.sequence.to_string()]);
            row
        })
        .collect()
}
