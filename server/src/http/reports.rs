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
use hms_compliance_reports::kinds::{self, LedgerQuery};
use hms_compliance_reports::render::{Format, render};
use hms_compliance_reports::{Directory, Parameters, Report, ReportKind, Source, StaffFacts};
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
        kind: wanted.kind.clone(),
        ..EntryFilter::default()
    };
    let (entries, source) = read_entries(ledger, filter, &checkpoint).await?;
    let directory = directory(&ctx.tenant).await?;
    let report = Report {
        kind,
        title: kind.title().to_owned(),
        rows: kinds::rows(kind, &entries, &parameters, &directory),
        columns: kinds::columns(kind),
        notes: kinds::notes(kind),
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

/// The entries `filter` selects among the first `checkpoint.tree_size`, in order.
async fn read_entries(
    ledger: &Ledger,
    mut filter: EntryFilter,
    checkpoint: &StoredCheckpoint,
) -> Result<(Vec<Entry>, Source), ApiError> {
    let mut entries = Vec::new();
    'pages: loop {
        let page = ledger.entries(&filter, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for (entry, _) in page {
            if entry.sequence >= checkpoint.tree_size {
                break 'pages;
            }
            filter.after = Some(entry.sequence);
            entries.push(entry);
        }
        if !full {
            break;
        }
    }
    let source = Source {
        checkpoint: checkpoint.note.clone(),
        tree_size: checkpoint.tree_size,
        entries_read: entries.len() as u64,
        first_sequence: entries.first().map(|e| e.sequence),
        last_sequence: entries.last().map(|e| e.sequence),
    };
    Ok((entries, source))
}

/// The staff and care teams as the directory holds them now.
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
                };
                (m.id, facts)
            })
            .collect(),
        care_teams: patients
            .into_iter()
            .map(|p| (p.id, p.care_team.into_iter().collect()))
            .collect(),
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
