//! The compliance officer's pages: every report, as a page or a download;
//! the ledger's latest signed checkpoint; and the break-glass accesses of
//! the last 90 days, each with its review form.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hms_audit_ledger::EventKind;
use hms_audit_ledger::store::EntryFilter;
use hms_audit_ledger::{Entry, Timestamp};
use hms_compliance_reports::ReportKind;
use maud::{Markup, html};
use serde::Deserialize;

use super::super::AppState;
use super::super::browser::redirect;
use super::super::error::ApiError;
use super::super::reports::{ReportQuery, pull_and_respond};
use super::page::frame;
use super::{Form, Section, Turned, Visitor, visitor};
use hms_governance::reporting::{Verdict, review_break_glass};

/// How far back the page lists break-glass accesses.
const LOOKBACK_DAYS: i64 = 90;

/// The most verdicts read to match accesses with their reviews.
const MAX_VERDICTS: u32 = 100_000;

/// `GET /{tenant}/console/reports/{kind}`: the report as a page (or `format=csv|pdf|json`).
pub async fn report(
    State(app): State<AppState>,
    Path((tenant_id, kind_name)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    visitor.require(Section::Compliance)?;
    let kind = ReportKind::parse(&kind_name)
        .ok_or_else(|| ApiError::NotFound(format!("no report `{kind_name}`")))?;
    Ok(pull_and_respond(&visitor.ctx, kind, query, "html").await?)
}

/// Which review the last submission recorded.
#[derive(Debug, Default, Deserialize)]
pub struct Reviewed {
    #[serde(default)]
    reviewed: Option<String>,
}

/// `GET /{tenant}/console/compliance`.
pub async fn page(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(reviewed): Query<Reviewed>,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    visitor.require(Section::Compliance)?;
    let notice = reviewed
        .reviewed
        .map(|id| format!("Your review of access {id} is recorded in the ledger."));
    render(&visitor, notice, None).await
}

async fn render(
    visitor: &Visitor,
    notice: Option<String>,
    problem: Option<String>,
) -> Result<Response, Turned> {
    let tenant = visitor.tenant();
    let base = format!("/{}/console", tenant.id());
    let checkpoint = tenant
        .ledger
        .latest_checkpoint()
        .await
        .map_err(ApiError::from)?;
    let accesses = break_glass_accesses(visitor).await?;
    let content = html! {
        @if let Some(notice) = &notice { p class="notice" role="status" { (notice) } }
        @if let Some(problem) = &problem { p class="problem" role="alert" { (problem) } }
        section aria-labelledby="ledger" {
            h2 id="ledger" { "Audit ledger" }
            @if let Some(checkpoint) = &checkpoint {
                p { "Latest signed checkpoint: " strong { (checkpoint.tree_size) " entries" }
                    ", signed " (checkpoint.signed_at.to_rfc3339()) " by key " code { (checkpoint.key_id) } "." }
            } @else {
                p { "The ledger has no checkpoint yet." }
            }
            p { a href={(base) "/reports/ledger-integrity"} { "Verify the whole ledger now" }
                " (recomputes every hash, the Merkle tree and every signature)." }
        }
        section aria-labelledby="break-glass" {
            h2 id="break-glass" { "Break-glass accesses to review" }
            p { "Emergency accesses of the last " (LOOKBACK_DAYS) " days, unreviewed first. "
                "Each verdict, with its comment, is recorded in the ledger." }
            (break_glass_table(visitor, &base, &accesses))
        }
        section aria-labelledby="reports" {
            h2 id="reports" { "Reports" }
            (report_form(&base))
        }
    };
    Ok(frame(tenant.id(), "Compliance", Some(visitor), content))
}

/// One form for every report: its kind, the parameters it takes, a format.
fn report_form(base: &str) -> Markup {
    let field = |name: &str, label: &str, kind: &str| {
        html! {
            div class="field" {
                label for={"report-" (name)} { (label) }
                input id={"report-" (name)} name=(name) type=(kind);
            }
        }
    };
    html! {
        form method="get" action={(base) "/reports"} {
            div class="field" {
                label for="report-kind" { "Report" }
                select id="report-kind" name="kind" {
                    @for kind in ReportKind::ALL { option value=(kind.name()) { (kind.title()) } }
                }
            }
            p { "Leave a field empty not to filter by it. The accounting of disclosures and the "
                "patient access report need a patient; the user activity report needs a staff member." }
            (field("patient", "Patient id", "text"))
            (field("staff", "Staff id", "text"))
            (field("department", "Department", "text"))
            (field("role", "Role", "text"))
            (field("campaign", "Access-review campaign id", "text"))
            (field("from", "From (date)", "date"))
            (field("until", "Until (date, exclusive)", "date"))
            div class="field" {
                label for="report-format" { "Format" }
                select id="report-format" name="format" {
                    option value="html" { "Page" }
                    option value="csv" { "CSV" }
                    option value="pdf" { "PDF" }
                    option value="json" { "JSON" }
                }
            }
            button type="submit" { "Pull the report" }
        }
    }
}

/// `GET /{tenant}/console/reports?kind=…`: the report form's target. Empty
/// fields are dropped and dates read as midnight UTC.
pub async fn chosen_report(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    visitor.require(Section::Compliance)?;
    let mut fields = serde_json::Map::new();
    let mut kind = String::new();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.trim();
        match name.as_ref() {
            _ if value.is_empty() => {}
            "kind" => kind = value.to_owned(),
            "from" | "until" if value.len() == 10 => {
                fields.insert(name.into_owned(), format!("{value}T00:00:00Z").into());
            }
            _ => {
                fields.insert(name.into_owned(), value.into());
            }
        }
    }
    let kind = ReportKind::parse(&kind)
        .ok_or_else(|| ApiError::NotFound(format!("no report `{kind}`")))?;
    let query: ReportQuery = serde_json::from_value(fields.into())
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    Ok(pull_and_respond(&visitor.ctx, kind, query, "html").await?)
}

/// A break-glass decision and the latest verdict on it.
struct Access {
    entry: Entry,
    verdict: Option<(String, String)>,
}

/// The break-glass decisions of the lookback window with their latest
/// verdicts, unreviewed first, newest first within each group.
async fn break_glass_accesses(visitor: &Visitor) -> Result<Vec<Access>, ApiError> {
    let ledger = &visitor.tenant().ledger;
    let since = Timestamp::from_unix_micros(
        Timestamp::now().unix_micros() - LOOKBACK_DAYS * 86_400 * 1_000_000,
    );
    let decisions = ledger.break_glass_decisions(since).await?;
    let filter = EntryFilter {
        kind: Some(EventKind::BreakGlassReview.as_str().into()),
        from: Some(since),
        ..EntryFilter::default()
    };
    let mut verdicts: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (review, _) in ledger.entries(&filter, MAX_VERDICTS).await? {
        if let Some(id) = review.event.decision_id {
            let verdict = review.event.outcome.unwrap_or_default();
            verdicts.insert(id, (verdict, review.event.actor.unwrap_or_default()));
        }
    }
    let mut accesses: Vec<Access> = decisions
        .into_iter()
        .rev()
        .map(|entry| {
            let verdict = entry
                .event
                .decision_id
                .as_ref()
                .and_then(|id| verdicts.get(id).cloned());
            Access { entry, verdict }
        })
        .collect();
    accesses.sort_by_key(|a| a.verdict.is_some());
    Ok(accesses)
}

fn break_glass_table(visitor: &Visitor, base: &str, accesses: &[Access]) -> Markup {
    if accesses.is_empty() {
        return html! { p { "No break-glass access in this period." } };
    }
    html! {
        table {
            caption { "Break-glass accesses" }
            thead { tr {
                th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Patient" }
                th scope="col" { "Action" } th scope="col" { "Reason given" } th scope="col" { "Review" }
            } }
            tbody { @for access in accesses { (access_row(visitor, base, access)) } }
        }
    }
}

fn access_row(visitor: &Visitor, base: &str, access: &Access) -> Markup {
    let event = &access.entry.event;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let reason = event.details["context"]["break_glass_reason"]
        .as_str()
        .unwrap_or("none given")
        .to_owned();
    let decision_id = text(&event.decision_id);
    let who = format!("{} on {}", text(&event.subject), text(&event.patient));
    html! {
        tr {
            td { (access.entry.time.to_rfc3339()) }
            th scope="row" { (text(&event.subject)) }
            td { (text(&event.patient)) }
            td { (text(&event.action)) " (" (text(&event.outcome)) ")" }
            td { (reason) }
            td {
                @if let Some((verdict, by)) = &access.verdict {
                    p { strong { (verdict.replace('_', " ")) } " by " (by) }
                }
                form method="post" action={(base) "/compliance/break-glass"} {
                    input type="hidden" name="form_token" value=(visitor.form_token);
                    input type="hidden" name="decision_id" value=(decision_id);
                    select name="verdict" aria-label={"Verdict on the access of " (who)} {
                        option value="justified" { "Justified" }
                        option value="unjustified" { "Unjustified" }
                        option value="needs_follow_up" { "Needs follow-up" }
                    }
                    " "
                    input type="text" name="comment" required aria-label={"Comment on the access of " (who)};
                    " "
                    button type="submit" { "Record the review" }
                }
            }
        }
    }
}

/// `POST /{tenant}/console/compliance/break-glass`: one verdict, with its
/// comment, recorded in the ledger.
pub async fn review(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    let form = Form::parse(&body);
    visitor.check_form(&form)?;
    visitor.require(Section::Compliance)?;
    let decision_id = form.one("decision_id").unwrap_or_default().to_owned();
    let verdict = match form.one("verdict") {
        Some("justified") => Some(Verdict::Justified),
        Some("unjustified") => Some(Verdict::Unjustified),
        Some("needs_follow_up") => Some(Verdict::NeedsFollowUp),
        _ => None,
    };
    let recorded = match verdict {
        Some(verdict) => review_break_glass(
            visitor.tenant(),
            &decision_id,
            verdict,
            form.one("comment").unwrap_or_default(),
            &visitor.ctx.provenance,
        )
        .await
        .map_err(ApiError::from),
        None => Err(ApiError::bad_request(
            "invalid_verdict",
            "choose justified, unjustified or needs follow-up",
        )),
    };
    match recorded {
        Ok(()) => Ok(redirect(
            &format!("/{tenant_id}/console/compliance?reviewed={decision_id}"),
            Vec::new(),
        )?),
        Err(error) => {
            let mut page = render(&visitor, None, Some(error.to_string())).await?;
            *page.status_mut() = error.status();
            Ok(page)
        }
    }
}
