//! The reports, each a reading of ledger entries: which entries it needs
//! ([`LedgerQuery`]), its columns, how it is to be read, and its rows.

use hms_audit_ledger::Entry;
use serde_json::Value;

use crate::report::{Directory, Parameters, ReportKind};

/// Which entries a report reads, as the ledger can filter them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerQuery {
    /// Only entries about this staff member.
    pub subject: Option<String>,
    /// Only entries about this patient.
    pub patient: Option<String>,
    /// Only entries of this kind.
    pub kind: Option<String>,
}

/// Why a report cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingParameter(pub &'static str);

impl std::fmt::Display for MissingParameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "this report needs the `{}` parameter", self.0)
    }
}

/// The entries `kind` reads for `parameters`.
pub fn ledger_query(
    kind: ReportKind,
    parameters: &Parameters,
) -> Result<LedgerQuery, MissingParameter> {
    Ok(match kind {
        ReportKind::PatientAccess => LedgerQuery {
            patient: Some(
                parameters
                    .patient
                    .clone()
                    .ok_or(MissingParameter("patient"))?,
            ),
            kind: Some("decision".into()),
            ..LedgerQuery::default()
        },
        ReportKind::UserActivity => LedgerQuery {
            subject: Some(parameters.staff.clone().ok_or(MissingParameter("staff"))?),
            ..LedgerQuery::default()
        },
        ReportKind::BreakGlass => LedgerQuery {
            subject: parameters.staff.clone(),
            patient: parameters.patient.clone(),
            kind: Some("decision".into()),
        },
    })
}

/// The column headings of `kind`.
pub fn columns(kind: ReportKind) -> Vec<String> {
    let names: &[&str] = match kind {
        ReportKind::PatientAccess => &[
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
        ReportKind::UserActivity => &[
            "time", "event", "action", "resource", "patient", "outcome", "details", "sequence",
        ],
        ReportKind::BreakGlass => &[
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
            "decision_id",
            "sequence",
        ],
    };
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// How to read a report of `kind`.
pub fn notes(kind: ReportKind) -> Vec<String> {
    let notes: &[&str] = match kind {
        ReportKind::PatientAccess => &[
            "Every decision on this patient's records in the range, permitted or denied, by anyone: internal staff included.",
            "Roles and department are the staff member's as the directory holds them when the report is generated.",
        ],
        ReportKind::UserActivity => &[
            "Every ledger entry about this staff member in the range: decisions made for them (permitted or refused), sign-ins and their failures, second-factor events, session ends and directory changes.",
        ],
        ReportKind::BreakGlass => &[
            "Every decision requested with break-glass in the range, with the reason the requester gave.",
            "`on_care_team_now` says whether the staff member is on the patient's care team in the directory when the report is generated.",
        ],
    };
    notes.iter().map(|n| (*n).to_owned()).collect()
}

/// The rows of `kind` from `entries` (already narrowed by its [`LedgerQuery`]).
pub fn rows(
    kind: ReportKind,
    entries: &[Entry],
    parameters: &Parameters,
    directory: &Directory,
) -> Vec<Vec<String>> {
    let row = match kind {
        ReportKind::PatientAccess => patient_access_row,
        ReportKind::UserActivity => user_activity_row,
        ReportKind::BreakGlass => break_glass_row,
    };
    entries
        .iter()
        .filter(|e| {
            let staff = e.event.subject.as_deref().unwrap_or_default();
            kind == ReportKind::UserActivity || directory.passes(staff, parameters)
        })
        .filter_map(|e| row(e, directory))
        .collect()
}

fn text(value: Option<&String>) -> String {
    value.cloned().unwrap_or_default()
}

fn context(entry: &Entry) -> Option<&serde_json::Map<String, Value>> {
    entry.event.details.get("context")?.as_object()
}

fn context_text(entry: &Entry, key: &str) -> String {
    context(entry)
        .and_then(|c| c.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn break_glass(entry: &Entry) -> bool {
    context(entry)
        .and_then(|c| c.get("break_glass"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

fn patient_access_row(entry: &Entry, directory: &Directory) -> Option<Vec<String>> {
    let event = &entry.event;
    let staff = text(event.subject.as_ref());
    Some(vec![
        entry.time.to_string(),
        staff.clone(),
        directory.roles(&staff),
        directory.department(&staff),
        text(event.action.as_ref()),
        text(event.resource.as_ref()),
        text(event.outcome.as_ref()),
        context_text(entry, "purpose_of_use"),
        yes_no(break_glass(entry)),
        context_text(entry, "break_glass_reason"),
        text(event.decision_id.as_ref()),
        entry.sequence.to_string(),
    ])
}

fn user_activity_row(entry: &Entry, _: &Directory) -> Option<Vec<String>> {
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
        text(event.patient.as_ref()),
        text(event.outcome.as_ref()),
        details,
        entry.sequence.to_string(),
    ])
}

fn break_glass_row(entry: &Entry, directory: &Directory) -> Option<Vec<String>> {
    if !break_glass(entry) {
        return None;
    }
    let event = &entry.event;
    let staff = text(event.subject.as_ref());
    let patient = text(event.patient.as_ref());
    let on_team = directory
        .care_teams
        .get(&patient)
        .is_some_and(|team| team.contains(&staff));
    Some(vec![
        entry.time.to_string(),
        staff.clone(),
        directory.roles(&staff),
        directory.department(&staff),
        patient,
        text(event.action.as_ref()),
        text(event.resource.as_ref()),
        text(event.outcome.as_ref()),
        context_text(entry, "break_glass_reason"),
        yes_no(on_team),
        text(event.decision_id.as_ref()),
        entry.sequence.to_string(),
    ])
}
