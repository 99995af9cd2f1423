//! Building a compliance report for a tenant: the ledger read up to its
//! latest signed checkpoint, the directory as it stands, the report computed
//! and its pulling recorded in the ledger. Served over HTTP
//! (`http/reports.rs`) and by `hms-ach report`.

use hms_audit_ledger::store::{EntryFilter, Ledger, LedgerError, StoredCheckpoint};
use hms_audit_ledger::{Entry, Event, Timestamp};
use hms_compliance_reports::kinds::integrity::{self, CheckpointFacts};
use hms_compliance_reports::kinds::{self, LedgerQuery, MissingParameter};
use hms_compliance_reports::{
    Directory, Parameters, PatientFacts, Report, ReportKind, Source, StaffFacts,
};
use hms_directory::StoreError;
use serde_json::json;

use crate::audit::Provenance;
use crate::tenancy::Tenant;

/// Entries read per ledger query.
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

/// A report asked for.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// Which report.
    pub kind: ReportKind,
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

/// Builds the report and records its pulling (in `format`) by `by`;
/// `progress` hears how many entries have been read so far.
pub async fn pull(
    tenant: &Tenant,
    request: ReportRequest,
    format: &str,
    by: &Provenance,
    mut progress: impl FnMut(u64),
) -> Result<Report, ReportError> {
    let kind = request.kind;
    let parameters = Parameters {
        tenant: tenant.id().to_owned(),
        from: request.from.map(|t| t.to_string()),
        until: request.until.map(|t| t.to_string()),
        patient: request.patient,
        staff: request.staff,
        department: request.department,
        role: request.role,
        campaign: request.campaign,
    };
    let wanted = kinds::ledger_query(kind, &parameters)?;
    let ledger = &tenant.ledger;
    let checkpoint = ledger
        .latest_checkpoint()
        .await?
        .ok_or(ReportError::NoCheckpoint)?;
    let filter = EntryFilter {
        from: request.from,
        until: request.until,
        subject: wanted.subject.clone(),
        patient: wanted.patient.clone(),
        ..EntryFilter::default()
    };
    let (entries, mut source) = if wanted.reads_entries {
        read_entries(ledger, filter, &wanted.kinds, &checkpoint, &mut progress).await?
    } else {
        (Vec::new(), source_of(&checkpoint, &[]))
    };
    let directory = directory(tenant, kind, &entries, &parameters).await?;
    let mut notes = kinds::notes(kind);
    let rows = if kind == ReportKind::LedgerIntegrity {
        let verification = ledger.verify(None, |done, _| progress(done)).await?;
        source.entries_read = verification.entries;
        notes.extend(integrity::verdict(&verification));
        integrity::rows(&checkpoints_in(ledger, request.from, request.until).await?)
    } else {
        kinds::rows(kind, &entries, &parameters, &directory)
    };
    let report = Report {
        kind,
        title: kind.title().to_owned(),
        rows,
        columns: kinds::columns(kind),
        notes,
        parameters,
        generated_at: Timestamp::now().to_string(),
        generated_by: by.actor.clone(),
        source,
    };
    ledger
        .append_all(vec![pulled_event(by, &report, &wanted, format)])
        .await?;
    Ok(report)
}

/// The entries `filter` selects, of each of `kinds` (every kind when empty),
/// among the first `checkpoint.tree_size`, in sequence order.
async fn read_entries(
    ledger: &Ledger,
    filter: EntryFilter,
    kinds: &[String],
    checkpoint: &StoredCheckpoint,
    progress: &mut impl FnMut(u64),
) -> Result<(Vec<Entry>, Source), ReportError> {
    let mut entries = Vec::new();
    let filters: Vec<EntryFilter> = if kinds.is_empty() {
        vec![filter]
    } else {
        kinds
            .iter()
            .map(|kind| EntryFilter {
                kind: Some(kind.clone()),
                ..filter.clone()
            })
            .collect()
    };
    for filter in filters {
        read_up_to(ledger, filter, checkpoint.tree_size, &mut entries, progress).await?;
    }
    entries.sort_by_key(|e| e.sequence);
    let source = source_of(checkpoint, &entries);
    Ok((entries, source))
}

/// Appends to `entries` those `filter` selects below sequence `size`.
async fn read_up_to(
    ledger: &Ledger,
    mut filter: EntryFilter,
    size: u64,
    entries: &mut Vec<Entry>,
    progress: &mut impl FnMut(u64),
) -> Result<(), ReportError> {
    loop {
        let page = ledger.entries(&filter, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for (entry, _) in page {
            if entry.sequence >= size {
                return Ok(());
            }
            filter.after = Some(entry.sequence);
            entries.push(entry);
        }
        progress(entries.len() as u64);
        if !full {
            return Ok(());
        }
    }
}

fn source_of(checkpoint: &StoredCheckpoint, entries: &[Entry]) -> Source {
    Source {
        checkpoint: checkpoint.note.clone(),
        tree_size: checkpoint.tree_size,
        entries_read: entries.len() as u64,
        first_sequence: entries.first().map(|e| e.sequence),
        last_sequence: entries.last().map(|e| e.sequence),
    }
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

/// The staff and patients `kind` needs, as the directory holds them now:
/// those the entries name (and the filtered patient), or everyone when that
/// is many, and every staff member for the reports about accounts.
async fn directory(
    tenant: &Tenant,
    kind: ReportKind,
    entries: &[Entry],
    parameters: &Parameters,
) -> Result<Directory, ReportError> {
    let everyone = matches!(
        kind,
        ReportKind::PrivilegedAccounts | ReportKind::DormantAccounts
    );
    let named = |field: fn(&Entry) -> Option<&String>| -> Vec<String> {
        let ids: std::collections::BTreeSet<&String> = entries.iter().filter_map(field).collect();
        ids.into_iter().cloned().collect()
    };
    let staff_ids = named(|e| e.event.subject.as_ref());
    let mut patient_ids = named(|e| e.event.patient.as_ref());
    patient_ids.extend(parameters.patient.clone());
    let staff_wanted = if everyone { None } else { targeted(&staff_ids) };
    let staff = tenant.store.load_staff(staff_wanted).await?;
    let patients = tenant.store.load_patients(targeted(&patient_ids)).await?;
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
fn pulled_event(by: &Provenance, report: &Report, wanted: &LedgerQuery, format: &str) -> Event {
    Event {
        subject: wanted.subject.clone(),
        patient: wanted.patient.clone(),
        action: Some("pull_report".into()),
        resource: Some(format!("report:{}", report.kind.name())),
        details: json!({
            "parameters": report.parameters,
            "format": format,
            "tree_size": report.source.tree_size,
            "rows": report.rows.len(),
        }),
        ..by.event("report.pull")
    }
}

/// A reviewer's verdict on a break-glass access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
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
pub enum ReviewError {
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
) -> Result<(), ReviewError> {
    let comment = comment.trim();
    if comment.is_empty() || comment.chars().count() > 2000 {
        return Err(ReviewError::Comment);
    }
    let filter = EntryFilter {
        decision_id: Some(decision_id.to_owned()),
        kind: Some("decision".into()),
        ..EntryFilter::default()
    };
    let found = tenant.ledger.entries(&filter, 1).await?;
    let (decision, _) = found
        .into_iter()
        .next()
        .ok_or_else(|| ReviewError::UnknownDecision(decision_id.to_owned()))?;
    let break_glass = decision
        .event
        .details
        .pointer("/context/break_glass")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if !break_glass {
        return Err(ReviewError::NotBreakGlass(decision_id.to_owned()));
    }
    let event = Event {
        subject: decision.event.subject,
        patient: decision.event.patient,
        resource: decision.event.resource,
        decision_id: decision.event.decision_id,
        action: Some("review_break_glass".into()),
        outcome: Some(verdict.as_str().into()),
        details: json!({ "comment": comment, "decision_sequence": decision.sequence }),
        ..by.event(kinds::BREAK_GLASS_REVIEW)
    };
    tenant.ledger.append_all(vec![event]).await?;
    Ok(())
}
