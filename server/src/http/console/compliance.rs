//! The compliance officer's reports in the console: any report, as a page or
//! a download, for whoever the PDP lets read the audit log.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hms_compliance_reports::ReportKind;

use super::super::AppState;
use super::super::error::ApiError;
use super::super::reports::{ReportQuery, pull_and_respond};
use super::{Turned, visitor};

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
    Ok(pull_and_respond(&visitor.ctx, kind, query, "html").await?)
}
