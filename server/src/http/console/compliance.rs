//! The compliance officer's reports in the console: any report, as a page or
//! a download, for whoever the PDP lets read the audit log.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hms_audit_ledger::Timestamp;
use hms_compliance_reports::ReportKind;
use hms_compliance_reports::render::Format;
use serde::Deserialize;

use super::super::AppState;
use super::super::error::ApiError;
use super::super::reports::respond;
use super::{Turned, visitor};
use crate::reporting::{ReportRequest, pull};

/// A report's parameters, as its form or link gives them.
#[derive(Debug, Default, Deserialize)]
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
    campaign: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /{tenant}/console/reports/{kind}`: the report as a page (or `format=csv|pdf|json`).
pub async fn report(
    State(app): State<AppState>,
    Path((tenant_id, kind_name)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    visitor.require(&app, "read_audit_log", "AuditLog").await?;
    let kind = ReportKind::parse(&kind_name)
        .ok_or_else(|| ApiError::NotFound(format!("no report `{kind_name}`")))?;
    let name = query.format.unwrap_or_else(|| "html".into());
    let format = Format::parse(&name).ok_or_else(|| {
        ApiError::bad_request("invalid_format", "`format` is json, csv, html or pdf")
    })?;
    let request = ReportRequest {
        kind,
        from: query.from,
        until: query.until,
        patient: query.patient,
        staff: query.staff,
        department: query.department,
        role: query.role,
        campaign: query.campaign,
    };
    let report = pull(
        visitor.tenant(),
        request,
        &name,
        &visitor.ctx.provenance,
        |_| {},
    )
    .await
    .map_err(ApiError::from)?;
    Ok(respond(&report, format))
}
