//! Building a compliance report, or a pack of them from one reading, for a
//! tenant: the ledger read up to its latest signed checkpoint, the directory
//! as it stands, the reports tallied and their pulling recorded in the ledger.
//! Served over HTTP (`http/reports.rs`), by `hms-ach report` and by the
//! scheduler (`scheduler.rs`).

use std::collections::BTreeSet;

use hms_audit_ledger::store::{EntryFilter, Ledger, LedgerError, StoredCheckpoint};
use hms_audit_ledger::{Entry, Event, EventKind, Timestamp};
use hms_compliance_reports::kinds::integrity::{self, CheckpointFacts};
use hms_compliance_reports::kinds::{self, EntriesRead, MissingParameter};
use hms_compliance_reports::{
    Directory, Parameters, PatientFacts, Report, ReportKind, Source, StaffFacts,
};
use hms_directory::StoreError;
use serde_json::json;

use crate::audit::Provenance;
use crate::tenancy::Tenant;

/// Checkpoints read per ledger query.
const PAGE: u32 = 1000;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A parameter the report needs is missing.
    #[error(transparent)]
    Missing(#[from] MissingParameter),
    /// The ledger has no checkpoint to compute from.
    #[error("the ledger holds no checkpoint yet")]
    NoCheckpoint,
    /// The ledger could not be read or the pull not recorded.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The directory could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a report or a pack of reports covers.
#[derive(Debug, Clone, Default)]
pub struct ReportScope {
    /// Start of the range, inclusive.
    pub from: Option<Timestamp>,
    /// End of the range, exclusive.
    pub until: Option<Timestamp>,
    /// One patient.
    pub patient: Option<String>,
    /// One staff member.
    pub staff: Option<String>,
    /// Only staff of this department.
    pub department: Option<String>,
    /// Only staff holding this role.
    pub role: Option<String>,
    /// One access-review campaign.
    pub campaign: Option<String>,
}

impl ReportScope {
    fn parameters(&self, tenant: &Tenant) -> Parameters {
        Parameters {
            tenant: tenant.id().to_owned(),
            from: self.from.map(|t| t.to_string()),
            until: self.until.map(|t| t.to_string()),
            patient: self.patient.clone(),
            staff: self.staff.clone(),
            department: self.department.clone(),
            role: self.role.clone(),
            campaign: self.campaign.clone(),
        }
    }

    /// The ledger entries in scope, of every kind.
    fn filter(&self) -> EntryFilter {
        EntryFilter {
            from: self.from,
            until: self.until,
            subject: self.staff.clone(),
            patient: self.patient.clone(),
            ..EntryFilter::default()
        }
    }
}

/// Builds the report of `kind` over `scope` and records its pulling (in
/// `format`) by `by`; `progress` hears how many entries have been read so far.
pub async fn pull(
    tenant: &Tenant,
    kind: ReportKind,
    scope: ReportScope,
    format: &str,
    by: &Provenance,
    progress: impl FnMut(u64),
) -> Result<Report, ReportError> {
    let reports = pull_pack(tenant, &[kind], scope, format, by, progress).await?;
    // One report is made for each kind asked for.
    reports
        .into_iter()
        .next()
        .ok_or(ReportError::Missing(MissingParameter("kind")))
}

/// Builds each report of `kinds` over the same `scope` from one reading of
/// the ledger, and records their pulling (in `format`) by `by`; `progress`
/// hears how many entries have been read so far.
pub async fn pull_pack(
    tenant: &Tenant,
    kinds: &[ReportKind],
    scope: ReportScope,
    format: &str,
    by: &Provenance,
    mut progress: impl FnMut(u64),
) -> Result<Vec<Report>, ReportError> {
    let parameters = scope.parameters(tenant);
    for kind in kinds {
        kinds::ledger_query(*kind, &parameters)?;
    }
    let ledger = &tenant.ledger;
    let checkpoint = ledger
        .latest_checkpoint()
        .await?
        .ok_or(ReportError::NoCheckpoint)?;
    let tallied = tally(
        tenant,
        kinds,
        &scope,
        &parameters,
        &checkpoint,
        &mut progress,
    )
    .await?;
    let mut reports = Vec::with_capacity(kinds.len());
    for (kind, (rows, read)) in kinds.iter().copied().zip(tallied) {
        let mut report = Report {
            kind,
            title: kind.title().to_owned(),
            rows,
            columns: kinds::columns(kind),
            notes: kinds::notes(kind),
            parameters: parameters.clone(),
            generated_at: Timestamp::now().to_string(),
            generated_by: by.actor_name(),
            source: source_of(&checkpoint, read),
        };
        if kind == ReportKind::LedgerIntegrity {
            integrity_report(ledger, &scope, &mut report, &mut progress).await?;
        }
        reports.push(report);
    }
    let pulled = reports
        .iter()
        .map(|r| pulled_event(by, r, format))
        .collect();
    ledger.append_all(pulled).await?;
    Ok(reports)
}

/// The rows of each of `kinds`, and the entries each read. A scope of one
/// patient or one person is read into memory (it is small, and tells which
/// directory records are needed); a whole range is streamed past the
/// reports with the whole directory at hand.
async fn tally(
    tenant: &Tenant,
    kinds: &[ReportKind],
    scope: &ReportScope,
    parameters: &Parameters,
    checkpoint: &StoredCheckpoint,
    progress: &mut impl FnMut(u64),
) -> Result<Vec<(Rows, EntriesRead)>, ReportError> {
    let entry_kinds = entry_kinds(kinds, parameters);
    let filter = scope.filter();
    let size = checkpoint.tree_size;
    if filter.patient.is_some() || filter.subject.is_some() {
        let mut entries = Vec::new();
        let keep = |page: &[Entry]| entries.extend_from_slice(page);
        ledger_scan(
            tenant,
            &filter,
            entry_kinds.as_deref(),
            size,
            progress,
            keep,
        )
        .await?;
        let directory = directory(tenant, kinds, Some(&entries), parameters).await?;
        let finished = kinds.iter().map(|kind| {
            let mut tally = kinds::tally(*kind, parameters, &directory);
            entries.iter().for_each(|entry| tally.add(entry));
            tally.finish()
        });
        return Ok(finished.collect());
    }
    let directory = directory(tenant, kinds, None, parameters).await?;
    let mut tallies: Vec<_> = kinds
        .iter()
        .map(|kind| kinds::tally(*kind, parameters, &directory))
        .collect();
    let tally_page = |page: &[Entry]| {
        for entry in page {
            tallies.iter_mut().for_each(|tally| tally.add(entry));
        }
    };
    ledger_scan(
        tenant,
        &filter,
        entry_kinds.as_deref(),
        size,
        progress,
        tally_page,
    )
    .await?;
    Ok(tallies.into_iter().map(kinds::Tally::finish).collect())
}

type Rows = Vec<Vec<String>>;

/// The entry kinds any of `kinds` reads: `None` when none reads entries,
/// empty when one reads every kind.
fn entry_kinds(kinds: &[ReportKind], parameters: &Parameters) -> Option<Vec<String>> {
    let mut union = BTreeSet::new();
    let mut any = false;
    for kind in kinds {
        let Ok(query) = kinds::ledger_query(*kind, parameters) else {
            continue;
        };
        if !query.reads_entries {
            continue;
        }
        if query.kinds.is_empty() {
            return Some(Vec::new());
        }
        any = true;
        union.extend(query.kinds);
    }
    any.then(|| union.into_iter().collect())
}

/// Passes `each` the entries `filter` selects, of `kinds` (every kind when
/// empty, none when `None`), below sequence `size`, a page at a time in
/// sequence order.
async fn ledger_scan(
    tenant: &Tenant,
    filter: &EntryFilter,
    kinds: Option<&[String]>,
    size: u64,
    progress: &mut impl FnMut(u64),
    mut each: impl FnMut(&[Entry]),
) -> Result<(), ReportError> {
    let Some(kinds) = kinds else {
        return Ok(());
    };
    let mut read = 0;
    tenant
        .ledger
        .scan(filter, kinds, size, |page| {
            read += page.len() as u64;
            each(page);
            progress(read);
        })
        .await?;
    Ok(())
}

fn source_of(checkpoint: &StoredCheckpoint, read: EntriesRead) -> Source {
    Source {
        checkpoint: checkpoint.note.clone(),
        tree_size: checkpoint.tree_size,
        entries_read: read.count,
        first_sequence: read.first,
        last_sequence: read.last,
    }
}

/// Fills the ledger integrity report: the whole ledger verified, and the
/// checkpoints signed in the range.
async fn integrity_report(
    ledger: &Ledger,
    scope: &ReportScope,
    report: &mut Report,
    progress: &mut impl FnMut(u64),
) -> Result<(), ReportError> {
    let verification = ledger
        .verify(&hms_audit_ledger::Trust::default(), |done, _| {
            progress(done)
        })
        .await?;
    report.source.entries_read = verification.entries;
    report.notes.extend(integrity::verdict(&verification));
    report.rows = integrity::rows(&checkpoints_in(ledger, scope.from, scope.until).await?);
    Ok(())
}

/// The checkpoints signed in the range.
async fn checkpoints_in(
    ledger: &Ledger,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<Vec<CheckpointFacts>, ReportError> {
    let mut found = Vec::new();
    let mut after = 0;
    loop {
        let page = ledger.checkpoints(after, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for checkpoint in page {
            after = checkpoint.tree_size;
            let signed = checkpoint.signed_at;
            let in_range = from.is_none_or(|f| signed >= f) && until.is_none_or(|u| signed < u);
            if in_range {
                found.push(CheckpointFacts {
                    tree_size: checkpoint.tree_size,
                    root_hash: checkpoint.root_hash,
                    signed_at: signed.to_string(),
                    key_id: checkpoint.key_id,
                });
            }
        }
        if !full {
            return Ok(found);
        }
    }
}

/// Above this many records, the whole directory is read in one go rather
/// than record by record.
const TARGETED_READ_LIMIT: usize = 200;

/// `ids` when there are few enough to read one by one.
fn targeted(ids: &[String]) -> Option<&[String]> {
    (ids.len() <= TARGETED_READ_LIMIT).then_some(ids)
}

/// The staff and patients `kinds` need, as the directory holds them now:
/// those the `entries` read name (and the filtered patient), or everyone when
/// that is many or the entries are streamed (`None`), and every staff member
/// for the reports about accounts.
async fn directory(
    tenant: &Tenant,
    kinds: &[ReportKind],
    entries: Option<&[Entry]>,
    parameters: &Parameters,
) -> Result<Directory, ReportError> {
    let everyone = kinds.iter().any(|kind| {
        matches!(
            kind,
            ReportKind::PrivilegedAccounts | ReportKind::DormantAccounts
        )
    });
    let named = |field: fn(&Entry) -> Option<&String>| -> Vec<String> {
        let ids: BTreeSet<&String> = entries
            .unwrap_or_default()
            .iter()
            .filter_map(field)
            .collect();
        ids.into_iter().cloned().collect()
    };
    let staff_ids = named(|e| e.event.subject.as_ref());
    let mut patient_ids = named(|e| e.event.patient.as_ref());
    patient_ids.extend(parameters.patient.clone());
    let streamed = entries.is_none();
    let staff_wanted = if everyone || streamed {
        None
    } else {
        targeted(&staff_ids)
    };
    let patients_wanted = if streamed {
        None
    } else {
        targeted(&patient_ids)
    };
    let staff = tenant.store.load_staff(staff_wanted).await?;
    let patients = tenant.store.load_patients(patients_wanted).await?;
    Ok(Directory {
        staff: staff
            .into_iter()
            .map(|m| {
                let active_credentials = m
                    .credentials
                    .iter()
                    .filter(|c| c.status == hms_directory::CredentialStatus::Active)
                    .map(|c| c.kind.clone())
                    .collect();
                let facts = StaffFacts {
                    active_credentials,
                    address: m.address,
                    roles: m.roles,
                    department: m.department,
                    active: m.active,
                    family_name: m.family_name,
                };
                (m.id, facts)
            })
            .collect(),
        patients: patients
            .into_iter()
            .map(|p| {
                let facts = PatientFacts {
                    care_team: p.care_team.into_iter().collect(),
                    departments: p.active_encounter_departments.into_iter().collect(),
                    vip: p.vip,
                    confidential: p.confidential,
                    family_name: p.family_name,
                    address: p.address,
                    employee_id: p.employee_id,
                };
                (p.id, facts)
            })
            .collect(),
        utc_offset_minutes: tenant.record.utc_offset_minutes,
    })
}

/// The ledger entry saying who pulled which report, over what.
fn pulled_event(by: &Provenance, report: &Report, format: &str) -> Event {
    Event {
        subject: report.parameters.staff.clone(),
        patient: report.parameters.patient.clone(),
        action: Some("pull_report".into()),
        resource: Some(format!("report:{}", report.kind.name())),
        details: json!({
            "parameters": report.parameters,
            "format": format,
            "tree_size": report.source.tree_size,
            "rows": report.rows.len(),
        }),
        ..by.event(EventKind::ReportPull)
    }
}

/// A reviewer's verdict on a break-glass access.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = BreakGlassVerdict)]
pub enum Verdict {
    /// The emergency was real and the access fitted it.
    Justified,
    /// The access was not justified: a matter for the privacy officer.
    Unjustified,
    /// More is needed before a verdict.
    NeedsFollowUp,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Self::Justified => "justified",
            Self::Unjustified => "unjustified",
            Self::NeedsFollowUp => "needs_follow_up",
        }
    }
}

/// Why a review was refused.
#[derive(Debug, thiserror::Error)]
pub enum BreakGlassReviewError {
    /// No decision with that id.
    #[error("no decision `{0}` in the ledger")]
    UnknownDecision(String),
    /// The decision was not a break-glass access.
    #[error("decision `{0}` was not a break-glass access")]
    NotBreakGlass(String),
    /// The comment is missing or too long.
    #[error("a review carries a comment of 1 to 2000 characters")]
    Comment,
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Records `by`'s verdict on the break-glass decision `decision_id`; the
/// break-glass report shows the latest verdict for each access.
pub async fn review_break_glass(
    tenant: &Tenant,
    decision_id: &str,
    verdict: Verdict,
    comment: &str,
    by: &Provenance,
) -> Result<(), BreakGlassReviewError> {
    let comment = comment.trim();
    if comment.is_empty() || comment.chars().count() > 2000 {
        return Err(BreakGlassReviewError::Comment);
    }
    let filter = EntryFilter {
        decision_id: Some(decision_id.to_owned()),
        kind: Some(EventKind::Decision.as_str().into()),
        ..EntryFilter::default()
    };
    let found = tenant.ledger.entries(&filter, 1).await?;
    let (decision, _) = found
        .into_iter()
        .next()
        .ok_or_else(|| BreakGlassReviewError::UnknownDecision(decision_id.to_owned()))?;
    let break_glass = decision
        .event
        .details
        .pointer("/context/break_glass")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if !break_glass {
        return Err(BreakGlassReviewError::NotBreakGlass(decision_id.to_owned()));
    }
    let event = Event {
        subject: decision.event.subject,
        patient: decision.event.patient,
        resource: decision.event.resource,
        decision_id: decision.event.decision_id,
        action: Some("review_break_glass".into()),
        outcome: Some(verdict.as_str().into()),
        details: json!({ "comment": comment, "decision_sequence": decision.sequence }),
        ..by.event(EventKind::BreakGlassReview)
    };
    tenant.ledger.append_all(vec![event]).await?;
    Ok(())
}
