//! Compliance reports at `/{tenant}/reports/{kind}` (`audit` scope), as JSON,
//! CSV or HTML; built by [`hms_governance::reporting`].

use axum::extract::Path;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hms_audit_ledger::Timestamp;
use hms_compliance_reports::render::{Format, render};
use hms_compliance_reports::{Report, ReportKind};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::gate::TenantContext;
use super::json::{ApiJson, ApiQuery};
use hms_governance::reporting::{ReportScope, Verdict, pull, review_break_glass};

/// The query of a report request.
#[derive(Debug, Default, Deserialize)]
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
    campaign: Option<String>,
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
    pull_and_respond(&ctx, kind, query, "json").await
}

impl ReportQuery {
    /// The evidence of one access-review campaign, in `format`.
    pub(super) fn campaign(id: String, format: Option<String>) -> Self {
        Self {
            campaign: Some(id),
            format,
            ..Self::default()
        }
    }
}

/// Builds the report `query` asks for (in `default_format` unless it names
/// one), records its pull by the caller, and answers with it.
pub(super) async fn pull_and_respond(
    ctx: &TenantContext,
    kind: ReportKind,
    query: ReportQuery,
    default_format: &str,
) -> Result<Response, ApiError> {
    let format_name = query.format.as_deref().unwrap_or(default_format);
    let format = Format::parse(format_name).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_format",
            "`format` is `json`, `csv`, `html` or `pdf`",
        )
    })?;
    let scope = ReportScope {
        from: query.from,
        until: query.until,
        patient: query.patient,
        staff: query.staff,
        department: query.department,
        role: query.role,
        campaign: query.campaign,
    };
    let report = pull(
        &ctx.tenant,
        kind,
        scope,
        format_name,
        &ctx.provenance,
        |_| {},
    )
    .await?;
    Ok(respond(&report, format))
}

/// A reviewer's verdict on one break-glass access.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    decision_id: String,
    verdict: Verdict,
    comment: String,
}

/// `POST /{tenant}/reports/break-glass/reviews`: records a verdict, with its
/// comment, in the ledger; the break-glass report shows the latest.
pub async fn review(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Json<Value>, ApiError> {
    review_break_glass(
        &ctx.tenant,
        &body.decision_id,
        body.verdict,
        &body.comment,
        &ctx.provenance,
    )
    .await?;
    Ok(Json(json!({
        "decision_id": body.decision_id,
        "verdict": body.verdict,
        "reviewed_by": ctx.provenance.actor,
    })))
}

fn respond(report: &Report, format: Format) -> Response {
    let mut response = render(report, format).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if matches!(format, Format::Csv | Format::Pdf) {
        let name = format!(
            "attachment; filename=\"{}.{}\"",
            report.kind.name(),
            format.extension()
        );
        if let Ok(value) = HeaderValue::from_str(&name) {
            headers.insert(CONTENT_DISPOSITION, value);
        }
    }
    response
}
