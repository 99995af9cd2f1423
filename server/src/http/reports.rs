//! Compliance reports at `/{tenant}/reports/{kind}` (`audit` scope), as JSON,
//! CSV or HTML; built by [`hms_governance::reporting`].

use std::borrow::Cow;

use axum::Json;
use axum::extract::Path;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use hms_audit_ledger::Timestamp;
use hms_compliance_reports::render::{Format, render};
use hms_compliance_reports::{Report, ReportKind};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::{AuditReader, TenantContext};
use super::json::{ApiJson, ApiQuery};
use hms_governance::reporting::{ReportScope, Verdict, pull, review_break_glass};

/// The report routes, behind an `audit` client or an auditor's session.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report))
        .routes(routes!(review))
}

/// The query of a report request.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Only what happened at or after this time (RFC 3339).
    #[serde(default)]
    from: Option<Timestamp>,
    /// Only what happened before this time (RFC 3339).
    #[serde(default)]
    until: Option<Timestamp>,
    /// The patient (patient-access, disclosures…).
    #[serde(default)]
    patient: Option<String>,
    /// The staff member (user-activity…).
    #[serde(default)]
    staff: Option<String>,
    /// Only staff of this department.
    #[serde(default)]
    department: Option<String>,
    /// Only staff holding this role.
    #[serde(default)]
    role: Option<String>,
    /// The access-review campaign (access-reviews).
    #[serde(default)]
    campaign: Option<String>,
    /// `json` (default), `csv`, `html` or `pdf`.
    #[serde(default)]
    #[param(pattern = "^(json|csv|html|pdf)$")]
    format: Option<String>,
}

/// The name of a report, as the path gives it.
pub struct ReportName;

impl PartialSchema for ReportName {
    fn schema() -> RefOr<Schema> {
        let names = ReportKind::ALL.map(ReportKind::name);
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .into()
    }
}

impl ToSchema for ReportName {
    fn name() -> Cow<'static, str> {
        "ReportName".into()
    }
}

/// `GET /{tenant}/reports/{kind}`.
#[utoipa::path(
    get,
    path = "/{tenant}/reports/{kind}",
    tag = "reports",
    security(("client" = ["audit"]), ("session" = [])),
    params(("kind" = inline(ReportName), Path, description = "Which report."), ReportQuery),
    responses(
        (status = 200, description = "The report, in the format asked for.", content(
            (Object = "application/json"),
            (String = "text/csv"),
            (String = "text/html"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 409, description = "The ledger has no signed checkpoint to report against yet.", body = super::openapi::ErrorBody),
    )
)]
pub async fn report(
    ctx: AuditReader,
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// The break-glass decision.
    decision_id: String,
    /// The verdict.
    verdict: Verdict,
    /// Why.
    comment: String,
}

/// A verdict as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reviewed {
    /// The break-glass decision.
    decision_id: String,
    /// The verdict.
    verdict: Verdict,
    /// Who gave it, as the ledger names them.
    reviewed_by: String,
}

/// `POST /{tenant}/reports/break-glass/reviews`: records a verdict, with its
/// comment, in the ledger; the break-glass report shows the latest.
#[utoipa::path(
    post,
    path = "/{tenant}/reports/break-glass/reviews",
    tag = "reports",
    security(("client" = ["audit"]), ("session" = [])),
    request_body = ReviewBody,
    responses((status = 200, description = "Recorded.", body = Reviewed))
)]
pub async fn review(
    ctx: AuditReader,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Json<Reviewed>, ApiError> {
    review_break_glass(
        &ctx.tenant,
        &body.decision_id,
        body.verdict,
        &body.comment,
        &ctx.provenance,
    )
    .await?;
    Ok(Json(Reviewed {
        decision_id: body.decision_id,
        verdict: body.verdict,
        reviewed_by: ctx.provenance.actor_name(),
    }))
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
