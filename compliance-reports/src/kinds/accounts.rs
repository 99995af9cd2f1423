//! Account reports: failed sign-ins and lockouts, activity after a person was
//! disabled, privileged and dormant accounts, and role and policy changes.

use std::collections::{BTreeMap, BTreeSet};

use hms_audit_ledger::{Entry, EventKind, EventOutcome, Timestamp};
use serde_json::Value;

use super::tally::{Reading, Running, nothing};
use super::{Needs, Spec, staff_of, text};
use crate::report::{Directory, Parameters};

/// Roles that administer the hospital's access rather than treat patients.
pub const PRIVILEGED_ROLES: &[&str] = &["admin"];

pub(super) const FAILED_LOGINS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[
        EventKind::Login.as_str(),
        EventKind::MfaVerify.as_str(),
        EventKind::MfaLockout.as_str(),
    ]),
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
    reading: Reading::EachEntry(failed_login),
};

pub(super) const AFTER_TERMINATION: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[
        EventKind::StaffDisable.as_str(),
        EventKind::StaffEnable.as_str(),
        EventKind::Decision.as_str(),
        EventKind::Login.as_str(),
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
    reading: Reading::Own(|_, _| Box::new(AfterTermination::default())),
};

pub(super) const PRIVILEGED_ACCOUNTS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: None,
    columns: &["staff", "roles", "department", "active"],
    notes: &[
        "Staff holding a privileged role (admin) in the directory when the report is generated.",
    ],
    reading: Reading::Held {
        keep: nothing,
        rows: privileged_accounts,
    },
};

pub(super) const DORMANT_ACCOUNTS: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[EventKind::Decision.as_str(), EventKind::Login.as_str()]),
    columns: &["staff", "roles", "department"],
    notes: &[
        "Active staff with no decision and no sign-in in the range: accounts to review or disable.",
    ],
    reading: Reading::Own(|parameters, directory| {
        Box::new(Dormant {
            parameters,
            directory,
            seen: BTreeSet::new(),
        })
    }),
};

pub(super) const ROLE_CHANGES: Spec = Spec {
    needs: Needs::Nothing,
    kinds: Some(&[
        EventKind::StaffCreate.as_str(),
        EventKind::StaffUpdate.as_str(),
        EventKind::StaffDisable.as_str(),
        EventKind::StaffEnable.as_str(),
        EventKind::PolicyInstall.as_str(),
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
    reading: Reading::EachEntry(role_change),
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

fn failed_login(entry: &Entry, _: &Parameters, _: &Directory) -> Option<Vec<String>> {
    let failed = entry.event.is(EventKind::MfaLockout) || entry.event.ended(EventOutcome::Failure);
    if !failed {
        return None;
    }
    let reason = [detail(entry, "code"), detail(entry, "reason")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    Some(vec![
        entry.time.to_string(),
        entry.event.kind.clone(),
        staff_of(entry),
        text(entry.event.actor.as_ref()),
        reason,
        text(entry.event.source_ip.as_ref()),
        entry.sequence.to_string(),
    ])
}

/// Who is disabled, since when, and what they did while disabled.
#[derive(Default)]
struct AfterTermination {
    disabled_since: BTreeMap<String, Timestamp>,
    rows: Vec<Vec<String>>,
}

impl Running for AfterTermination {
    fn add(&mut self, entry: &Entry) {
        let staff = staff_of(entry);
        match EventKind::parse(&entry.event.kind) {
            Some(EventKind::StaffDisable) => {
                self.disabled_since.insert(staff, entry.time);
            }
            Some(EventKind::StaffEnable) => {
                self.disabled_since.remove(&staff);
            }
            _ => {
                let Some(since) = self.disabled_since.get(&staff) else {
                    return;
                };
                self.rows.push(vec![
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

    fn rows(self: Box<Self>) -> Vec<Vec<String>> {
        self.rows
    }
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

/// Everyone seen active in the range; the dormant are the others.
struct Dormant<'a> {
    parameters: &'a Parameters,
    directory: &'a Directory,
    seen: BTreeSet<String>,
}

impl Running for Dormant<'_> {
    fn add(&mut self, entry: &Entry) {
        if let Some(staff) = &entry.event.subject
            && !self.seen.contains(staff)
        {
            self.seen.insert(staff.clone());
        }
    }

    fn rows(self: Box<Self>) -> Vec<Vec<String>> {
        let Self {
            parameters,
            directory,
            seen,
        } = *self;
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
}

fn role_change(entry: &Entry, _: &Parameters, _: &Directory) -> Option<Vec<String>> {
    let event = &entry.event;
    let roles_unchanged =
        detail(entry, "roles_added").is_empty() && detail(entry, "roles_removed").is_empty();
    if event.is(EventKind::StaffUpdate) && roles_unchanged {
        return None;
    }
    let subject = event
        .subject
        .clone()
        .or_else(|| event.resource.clone())
        .unwrap_or_default();
    let details = if event.is(EventKind::PolicyInstall) {
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
    Some(vec![
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
    ])
}
