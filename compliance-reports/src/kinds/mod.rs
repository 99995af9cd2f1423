//! The reports, each a reading of ledger entries and directory facts: which
//! entries it needs ([`LedgerQuery`]), its columns, how it is to be read, and
//! its rows, tallied as the entries stream past ([`Tally`]) so that a pack of
//! reports reads a range of the ledger once and holds only what each report
//! keeps. `tally.rs` holds the streaming machinery, `access.rs` holds the per-patient and per-person reports,
//! `privacy.rs` the privacy-monitoring ones, `accounts.rs` the account ones,
//! `disclosures.rs` the accounting of disclosures, `integrity.rs` the ledger's own,
//! `reviews.rs` the evidence of access reviews.

mod access;
mod accounts;
mod disclosures;
pub mod integrity;
mod privacy;
mod reviews;
mod tally;

use hms_audit_ledger::{Entry, EventKind};
use serde_json::Value;

pub use accounts::PRIVILEGED_ROLES;
pub use tally::{EntriesRead, Tally};

use crate::report::{Directory, Parameters, ReportKind};

/// Which entries a report reads, as the ledger can filter them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerQuery {
    /// Only entries about this staff member.
    pub subject: Option<String>,
    /// Only entries about this patient.
    pub patient: Option<String>,
    /// Only entries of these kinds (each read separately, merged in sequence
    /// order); every kind when empty.
    pub kinds: Vec<String>,
    /// Whether the report reads the ledger's entries at all (some read only
    /// the directory or the ledger's verification).
    pub reads_entries: bool,
}

/// Why a report cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingParameter(pub &'static str);

impl std::fmt::Display for MissingParameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "this report needs the `{}` parameter", self.0)
    }
}

impl std::error::Error for MissingParameter {}

/// The parameter a report cannot do without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Patient,
    Staff,
    Nothing,
}

use tally::Reading;

/// One report: what it reads, shows and says about itself.
struct Spec {
    needs: Needs,
    /// The entry kinds read (`Some(&[])`: every kind; `None`: no entries).
    kinds: Option<&'static [&'static str]>,
    columns: &'static [&'static str],
    notes: &'static [&'static str],
    reading: Reading,
}

fn spec(kind: ReportKind) -> Spec {
    match kind {
        ReportKind::PatientAccess => access::PATIENT_ACCESS,
        ReportKind::UserActivity => access::USER_ACTIVITY,
        ReportKind::BreakGlass => access::BREAK_GLASS,
        ReportKind::VipAccess => privacy::VIP_ACCESS,
        ReportKind::OutsideCareTeam => privacy::OUTSIDE_CARE_TEAM,
        ReportKind::AfterHours => privacy::AFTER_HOURS,
        ReportKind::DeniedSpikes => privacy::DENIED_SPIKES,
        ReportKind::UnusualVolume => privacy::UNUSUAL_VOLUME,
        ReportKind::EmployeeRecords => privacy::EMPLOYEE_RECORDS,
        ReportKind::SameFamilyName => privacy::SAME_FAMILY_NAME,
        ReportKind::SameAddress => privacy::SAME_ADDRESS,
        ReportKind::FailedLogins => accounts::FAILED_LOGINS,
        ReportKind::AfterTermination => accounts::AFTER_TERMINATION,
        ReportKind::PrivilegedAccounts => accounts::PRIVILEGED_ACCOUNTS,
        ReportKind::DormantAccounts => accounts::DORMANT_ACCOUNTS,
        ReportKind::RoleChanges => accounts::ROLE_CHANGES,
        ReportKind::Disclosures => disclosures::SPEC,
        ReportKind::LedgerIntegrity => integrity::SPEC,
        ReportKind::AccessReviews => reviews::SPEC,
    }
}

/// The entries `kind` reads for `parameters`.
pub fn ledger_query(
    kind: ReportKind,
    parameters: &Parameters,
) -> Result<LedgerQuery, MissingParameter> {
    let spec = spec(kind);
    let patient = match spec.needs {
        Needs::Patient => Some(
            parameters
                .patient
                .clone()
                .ok_or(MissingParameter("patient"))?,
        ),
        _ => parameters.patient.clone(),
    };
    let subject = match spec.needs {
        Needs::Staff => Some(parameters.staff.clone().ok_or(MissingParameter("staff"))?),
        _ => parameters.staff.clone(),
    };
    let kinds = spec.kinds.unwrap_or_default();
    Ok(LedgerQuery {
        subject,
        patient,
        kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
        reads_entries: spec.kinds.is_some(),
    })
}

/// The column headings of `kind`.
pub fn columns(kind: ReportKind) -> Vec<String> {
    spec(kind).columns.iter().map(|c| (*c).to_owned()).collect()
}

/// How to read a report of `kind`.
pub fn notes(kind: ReportKind) -> Vec<String> {
    spec(kind).notes.iter().map(|n| (*n).to_owned()).collect()
}

/// A report of `kind` ready to take entries one at a time, in sequence order.
pub fn tally<'a>(
    kind: ReportKind,
    parameters: &'a Parameters,
    directory: &'a Directory,
) -> Tally<'a> {
    let spec = spec(kind);
    Tally::new(spec.kinds, spec.reading, parameters, directory)
}

/// The rows of `kind` from `entries` (already narrowed by its [`LedgerQuery`],
/// or not: entries of kinds it does not read are passed over).
pub fn rows(
    kind: ReportKind,
    entries: &[Entry],
    parameters: &Parameters,
    directory: &Directory,
) -> Vec<Vec<String>> {
    let mut tally = tally(kind, parameters, directory);
    entries.iter().for_each(|entry| tally.add(entry));
    tally.finish().0
}

fn text(value: Option<&String>) -> String {
    value.cloned().unwrap_or_default()
}

fn staff_of(entry: &Entry) -> String {
    text(entry.event.subject.as_ref())
}

fn patient_of(entry: &Entry) -> String {
    text(entry.event.patient.as_ref())
}

/// The cells that open a row about an access: when, by whom, and that
/// person's roles and department as the directory holds them now.
fn when_and_who(entry: &Entry, directory: &Directory) -> Vec<String> {
    let staff = staff_id(entry);
    vec![
        entry.time.to_string(),
        staff.to_owned(),
        directory.roles(staff),
        directory.department(staff),
    ]
}

/// The staff member's id, borrowed (empty when the entry names none).
fn staff_id(entry: &Entry) -> &str {
    entry.event.subject.as_deref().unwrap_or_default()
}

/// The patient's id, borrowed (empty when the entry names none).
fn patient_id(entry: &Entry) -> &str {
    entry.event.patient.as_deref().unwrap_or_default()
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

/// Whether `entry` is a decision on a patient by a staff member who passes
/// the department and role filters.
fn patient_decision(entry: &Entry, parameters: &Parameters, directory: &Directory) -> bool {
    entry.event.is(EventKind::Decision)
        && entry.event.patient.is_some()
        && directory.passes(staff_id(entry), parameters)
}
