//! Account reports: failed sign-ins and lockouts, activity after a person was
//! disabled, privileged and dormant accounts, and role and policy changes.

use std::collections::{BTreeMap, BTreeSet};

use hms_audit_ledger::{Entry, Timestamp};
use serde_json::Value;

use super::{Needs, Spec, staff_of, text};
use crate::report::{Directory, Parameters};

/// Roles that administer the hospital's access rather than treat patients.
pub const PRIVILEGED_ROLES: &[&str] = &["admin"];

pub(super) const FAILED_LOGINS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&["auth.login", "auth.mfa.verify", "auth.mfa.lockout"]),
    columns: &[
        "time",
        "event",
        "staff",
        "actor",
        "reason",
        "source_ip",
        "sequence",
    ],
    notes: &[
        "Failed sign-ins (at the identity provider's answer or in the directory), failed second factors, and second factors locked after repeated failures.",
    ],
    rows: failed_logins,
};

pub(super) const AFTER_TERMINATION: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[
        "directory.staff.disable",
        "directory.staff.enable",
        "decision",
        "auth.login",
    ]),
    columns: &[
        "staff",
        "disabled_at",
        "time",
        "event",
        "action",
        "patient",
        "outcome",
        "sequence",
    ],
    notes: &[
        "Any decision or sign-in about a person after the directory disabled them and before it enabled them again, permitted or refused.",
    ],
    rows: after_termination,
};

pub(super) const PRIVILEGED_ACCOUNTS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: None,
    columns: &["staff", "roles", "department", "active"],
    notes: &[
        "Staff holding a privileged role (admin) in the directory when the report is generated.",
    ],
    rows: privileged_accounts,
};

pub(super) const DORMANT_ACCOUNTS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&["decision", "auth.login"]),
    columns: &["staff", "roles", "department"],
    notes: &[
        "Active staff with no decision and no sign-in in the range: accounts to review or disable.",
    ],
    rows: dormant_accounts,
};

pub(super) const ROLE_CHANGES: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[
        "directory.staff.create",
        "directory.staff.update",
        "directory.staff.disable",
        "directory.staff.enable",
        "policy.install",
    ]),
    columns: &[
        "time",
        "event",
        "subject",
        "by",
        "source",
        "roles_added",
        "roles_removed",
        "roles_after",
        "details",
        "sequence",
    ],
    notes: &[
        "Staff created, enabled or disabled, roles granted or removed (with the roles held after), and policy versions installed: who changed what, and when.",
    ],
    rows: role_changes,
};

fn detail(entry: &Entry, key: &str) -> String {
    match entry.event.details.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn failed_logins(entries: &[Entry], _: &Parameters, _: &Directory) -> Vec<Vec<String>> {
    entries
        .iter()
        .filter(|e| {
            e.event.kind == "auth.mfa.lockout" || e.event.outcome.as_deref() == Some("failure")
        })
        .map(|entry| {
            let reason = [detail(entry, "code"), detail(entry, "reason")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            vec![
                entry.time.to_string(),
                entry.event.kind.clone(),
                staff_of(entry),
                text(entry.event.actor.as_ref()),
                reason,
                text(entry.event.source_ip.as_ref()),
                entry.sequence.to_string(),
            ]
        })
        .collect()
}

fn after_termination(entries: &[Entry], _: &Parameters, _: &Directory) -> Vec<Vec<String>> {
    let mut disabled_since: BTreeMap<String, Timestamp> = BTreeMap::new();
    let mut rows = Vec::new();
    for entry in entries {
        let staff = staff_of(entry);
        match entry.event.kind.as_str() {
            "directory.staff.disable" => {
                disabled_since.insert(staff, entry.time);
            }
            "directory.staff.enable" => {
                disabled_since.remove(&staff);
            }
            _ => {
                let Some(since) = disabled_since.get(&staff) else {
                    continue;
                };
                rows.push(vec![
                    staff.clone(),
                    since.to_string(),
                    entry.time.to_string(),
                    entry.event.kind.clone(),
                    text(entry.event.action.as_ref()),
                    text(entry.event.patient.as_ref()),
                    text(entry.event.outcome.as_ref()),
                    entry.sequence.to_string(),
                ]);
            }
        }
    }
    rows
}

fn privileged_accounts(
    _: &[Entry],
    parameters: &Parameters,
    directory: &Directory,
) -> Vec<Vec<String>> {
    directory
        .staff
        .iter()
        .filter(|(id, facts)| {
            facts
                .roles
                .iter()
                .any(|r| PRIVILEGED_ROLES.contains(&r.as_str()))
                && directory.passes(id, parameters)
        })
        .map(|(id, facts)| {
            vec![
                id.clone(),
                facts.roles.join(", "),
                facts.department.clone().unwrap_or_default(),
                if facts.active { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect()
}

fn dormant_accounts(
    entries: &[Entry],
    parameters: &Parameters,
    directory: &Directory,
) -> Vec<Vec<String>> {
    let seen: BTreeSet<String> = entries.iter().map(staff_of).collect();
    directory
        .staff
        .iter()
        .filter(|(id, facts)| {
            facts.active && !seen.contains(*id) && directory.passes(id, parameters)
        })
        .map(|(id, facts)| {
            vec![
                id.clone(),
                facts.roles.join(", "),
                facts.department.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

fn role_changes(entries: &[Entry], _: &Parameters, _: &Directory) -> Vec<Vec<String>> {
    entries
        .iter()
        .filter(|entry| {
            let kind = entry.event.kind.as_str();
            kind != "directory.staff.update"
                || !detail(entry, "roles_added").is_empty()
                || !detail(entry, "roles_removed").is_empty()
        })
        .map(|entry| {
            let event = &entry.event;
            let subject = event
                .subject
                .clone()
                .or_else(|| event.resource.clone())
                .unwrap_or_default();
            let details = if event.kind == "policy.install" {
                let previous = detail(entry, "previous_version");
                let after = if previous.is_empty() {
                    String::new()
                } else {
                    format!(" after version {previous}")
                };
                format!(
                    "version {}{after}: {}",
                    detail(entry, "version"),
                    detail(entry, "comment")
                )
            } else {
                String::new()
            };
            vec![
                entry.time.to_string(),
                event.kind.clone(),
                subject,
                text(event.actor.as_ref()),
                detail(entry, "source"),
                detail(entry, "roles_added"),
                detail(entry, "roles_removed"),
                detail(entry, "roles"),
                details,
                entry.sequence.to_string(),
            ]
        })
        .collect()
}
