//! Compliance reports at `/{tenant}/reports/{kind}` (`audit` scope): computed
//! from the ledger up to its latest signed checkpoint and from the directory,
//! served as JSON, CSV or HTML, and recorded in the ledger when pulled.

use axum::Extension;
use axum::extract::Path;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use hms_audit_ledger::store::{EntryFilter, Ledger, StoredCheckpoint};
use hms_audit_ledger::{Entry, Event, Timestamp};
use hms_compliance_reports::kinds::integrity::{self, CheckpointFacts};
use hms_compliance_reports::kinds::{self, LedgerQuery};
use hms_compliance_reports::render::{Format, render};
use hms_compliance_reports::{
    Directory, Parameters, PatientFacts, Report, ReportKind, Source, StaffFacts,
};
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiQuery;
use crate::tenancy::Tenant;

/// Entries read per ledger query.
const PAGE: u32 = 1000;

/// The query of a report request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    #[serde(default)]
    from: Option<Timestamp>,
    #[serde(default)]
    until: Option<Timestamp>,
    #[serde(default)]
    patient: Option<String>,
    #[serde(default)]
    staff: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /{tenant}/reports/{kind}`.
pub async fn report(
    Extension(ctx): Extension<TenantContext>,
    Path((_, kind_name)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let kind = ReportKind::parse(&kind_name)
        .ok_or_else(|| ApiError::NotFound(format!("no report `{kind_name}`")))?;
    let format_name = query.format.as_deref().unwrap_or("json");
    let format = Format::parse(format_name).ok_or_else(|| {
        ApiError::bad_request("invalid_format", "`format` is `json`, `csv` or `html`")
    })?;
    let parameters = Parameters {
        tenant: ctx.tenant.id().to_owned(),
        from: query.from.map(|t| t.to_string()),
        until: query.until.map(|t| t.to_string()),
        patient: query.patient,
        staff: query.staff,
        department: query.department,
        role: query.role,
    };
    let wanted = kinds::ledger_query(kind, &parameters)
        .map_err(|e| ApiError::bad_request("missing_parameter", e.to_string()))?;
    let ledger = &ctx.tenant.ledger;
    let checkpoint = ledger
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::Conflict("the ledger holds no checkpoint yet".into()))?;
    let filter = EntryFilter {
        from: query.from,
        until: query.until,
        subject: wanted.subject.clone(),
        patient: wanted.patient.clone(),
        ..EntryFilter::default()
    };
    let (entries, mut source) = if wanted.reads_entries {
        read_entries(ledger, filter, &wanted.kinds, &checkpoint).await?
    } else {
        (Vec::new(), source_of(&checkpoint, &[]))
    };
    let directory = directory(&ctx.tenant).await?;
    let mut notes = kinds::notes(kind);
    let rows = if kind == ReportKind::LedgerIntegrity {
        let verification = ledger.verify(None, |_, _| {}).await?;
        source.entries_read = verification.entries;
        notes.extend(integrity::verdict(&verification));
        integrity::rows(&checkpoints_in(ledger, query.from, query.until).await?)
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
        generated_by: ctx.provenance.actor.clone(),
        source,
    };
    ledger
        .append_all(vec![pulled_event(&ctx, &report, &wanted, format_name)])
        .await?;
    Ok(respond(&report, format))
}

/// The entries `filter` selects, of each of `kinds` (every kind when empty),
/// among the first `checkpoint.tree_size`, in sequence order.
async fn read_entries(
    ledger: &Ledger,
    filter: EntryFilter,
    kinds: &[String],
    checkpoint: &StoredCheckpoint,
) -> Result<(Vec<Entry>, Source), ApiError> {
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
        read_up_to(ledger, filter, checkpoint.tree_size, &mut entries).await?;
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
) -> Result<(), ApiError> {
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
) -> Result<Vec<CheckpointFacts>, ApiError> {
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

/// Staff and patients as the directory holds them now.
async fn directory(tenant: &Tenant) -> Result<Directory, ApiError> {
    let staff = tenant.store.load_staff(None).await?;
    let patients = tenant.store.load_patients(None).await?;
    Ok(Directory {
        staff: staff
            .into_iter()
            .map(|m| {
                let facts = StaffFacts {
                    roles: m.roles,
                    department: m.department,
                    active: m.active,
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
                };
                (p.id, facts)
            })
            .collect(),
        utc_offset_minutes: tenant.record.utc_offset_minutes,
    })
}

/// The ledger entry saying who pulled which report, over what.
fn pulled_event(ctx: &TenantContext, report: &Report, wanted: &LedgerQuery, format: &str) -> Event {
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
        ..ctx.provenance.event("report.pull")
    }
}

fn respond(report: &Report, format: Format) -> Response {
    let mut response = render(report, format).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if format == Format::Csv {
        let name = format!("attachment; filename=\"{}.csv\"", report.kind.name());
        if let Ok(value) = HeaderValue::from_str(&name) {
            headers.insert(CONTENT_DISPOSITION, value);
        }
    }
    response
}
