//! The security team's pages: campaigns to create and follow, progress per
//! reviewer, closing, and the evidence to download.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hms_compliance_reports::ReportKind;
use hms_directory::{ApplyMode, OverdueRule};
use maud::html;
use serde::Deserialize;

use super::super::AppState;
use super::super::browser::redirect;
use super::super::error::ApiError;
use super::super::reports::{ReportQuery, pull_and_respond};
use super::page::{Paging, frame, page_limit};
use super::reviews::{access_text, day};
use super::{Form, Section, Turned, Visitor, visitor};
use hms_governance::reviews::{self, CampaignSpec};

async fn manager(
    app: &AppState,
    tenant_id: &str,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Visitor, Turned> {
    let visitor = visitor(app, tenant_id, headers, peer).await?;
    visitor.require(Section::Campaigns)?;
    Ok(visitor)
}

/// `GET /{tenant}/console/campaigns`: every campaign, and a form for a new one.
pub async fn list(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Turned> {
    let visitor = manager(&app, &tenant_id, &headers, peer).await?;
    list_page(&visitor, None).await
}

async fn list_page(visitor: &Visitor, problem: Option<String>) -> Result<Response, Turned> {
    let tenant_id = visitor.tenant().id().to_owned();
    let campaigns = visitor
        .tenant()
        .store
        .campaigns()
        .await
        .map_err(ApiError::from)?;
    let rules = visitor
        .tenant()
        .store
        .review_settings()
        .await
        .map_err(ApiError::from)?;
    let content = html! {
        @if let Some(problem) = &problem { p class="problem" role="alert" { (problem) } }
        @if campaigns.is_empty() {
            p { "No campaign yet." }
        } @else {
            table {
                caption { "Campaigns" }
                thead { tr { th scope="col" { "Campaign" } th scope="col" { "Due" } th scope="col" { "Status" } } }
                tbody {
                    @for campaign in &campaigns {
                        tr {
                            th scope="row" { a href={"/" (tenant_id) "/console/campaigns/" (campaign.id)} { (campaign.name) } }
                            td { (campaign.due_at.to_rfc3339()) }
                            td { (campaign.status) }
                        }
                    }
                }
            }
        }
        h2 { "New campaign" }
        form method="post" action={"/" (tenant_id) "/console/campaigns"} {
            input type="hidden" name="form_token" value=(visitor.form_token);
            (field("id", "Identifier (letters, digits, dashes)", "text", true))
            (field("name", "Name", "text", true))
            (field("due_at", "Due date", "date", true))
            (field("departments", "Departments (comma-separated; empty for all)", "text", false))
            (field("roles", "Roles (comma-separated; empty for all)", "text", false))
            (field("staff", "People (staff ids, comma-separated; empty for all)", "text", false))
            div class="field" {
                label for="preset" { "Ready-made scope" }
                select id="preset" name="preset" {
                    option value="" { "None: the lists above" }
                    option value="privileged" { "Everyone holding a privileged role" }
                    option value="break_glass" { "Everyone who used break-glass in the last 90 days" }
                }
            }
            (field("fallback_reviewer", "Fallback reviewer (staff id), for people without a manager", "text", false))
            div class="field" {
                label for="overdue" { "Items not decided by the due date" }
                select id="overdue" name="overdue" {
                    option value="escalate" selected[rules.overdue == OverdueRule::Escalate] { "Escalate to the fallback reviewer" }
                    option value="revoke" selected[rules.overdue == OverdueRule::Revoke] { "Revoke" }
                }
            }
            div class="field" {
                label for="apply_mode" { "Revocations take effect" }
                select id="apply_mode" name="apply_mode" {
                    option value="on_close" selected[rules.apply_mode == ApplyMode::OnClose] { "When the campaign closes" }
                    option value="immediate" selected[rules.apply_mode == ApplyMode::Immediate] { "As soon as the reviewer decides" }
                }
            }
            button type="submit" { "Create the campaign" }
        }
    };
    Ok(frame(
        &tenant_id,
        "Access-review campaigns",
        Some(visitor),
        content,
    ))
}

fn field(name: &str, label: &str, kind: &str, required: bool) -> maud::Markup {
    html! {
        div class="field" {
            label for=(name) { (label) }
            input id=(name) name=(name) type=(kind) required[required];
        }
    }
}

/// `POST /{tenant}/console/campaigns`.
pub async fn create(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Turned> {
    let visitor = manager(&app, &tenant_id, &headers, peer).await?;
    let form = Form::parse(&body);
    visitor.check_form(&form)?;
    let list = |name: &str| -> Vec<String> {
        form.one(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let text = |name: &str| form.one(name).unwrap_or_default().trim().to_owned();
    let spec = serde_json::json!({
        "id": text("id"), "name": text("name"), "due_at": text("due_at"),
        "scope": {
            "departments": list("departments"), "roles": list("roles"), "staff": list("staff"),
            "preset": Some(text("preset")).filter(|p| !p.is_empty()),
        },
        "overdue": text("overdue"), "apply_mode": text("apply_mode"),
        "fallback_reviewer": Some(text("fallback_reviewer")).filter(|f| !f.is_empty()),
    });
    let created = match serde_json::from_value::<CampaignSpec>(spec) {
        Ok(spec) => reviews::create(visitor.tenant(), spec, &visitor.ctx.provenance)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::bad_request("invalid_review", e.to_string())),
    };
    match created {
        Ok((campaign, _)) => Ok(redirect(
            &format!("/{tenant_id}/console/campaigns/{}", campaign.id),
            Vec::new(),
        )?),
        Err(error) => {
            let mut page = list_page(&visitor, Some(error.to_string())).await?;
            *page.status_mut() = error.status();
            Ok(page)
        }
    }
}

/// `GET /{tenant}/console/campaigns/{id}`: progress per reviewer and every item.
pub async fn detail(
    State(app): State<AppState>,
    Path((tenant_id, id)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Result<Response, Turned> {
    let visitor = manager(&app, &tenant_id, &headers, peer).await?;
    let store = &visitor.tenant().store;
    let mut conn = store.connection().await.map_err(ApiError::from)?;
    let campaign = store
        .campaign_in(&mut conn, &id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound(format!("campaign `{id}` not found")))?;
    drop(conn);
    let reviewers = store.review_progress(&id).await.map_err(ApiError::from)?;
    let total: i64 = reviewers.iter().map(|(_, items, _)| items).sum();
    let base = format!("/{tenant_id}/console/campaigns/{id}");
    let (start, pages) = paging.window(usize::try_from(total).unwrap_or(0), &base);
    let shown = store
        .review_items_page(&id, i64::try_from(start).unwrap_or(i64::MAX), page_limit())
        .await
        .map_err(ApiError::from)?;
    let content = html! {
        p { "Due " (campaign.due_at.to_rfc3339()) " · " (campaign.status) " · undecided items at close: " (format!("{:?}", campaign.overdue).to_lowercase()) }
        h2 { "Progress by reviewer" }
        table {
            caption { "Items decided per reviewer" }
            thead { tr { th scope="col" { "Reviewer" } th scope="col" { "Decided" } th scope="col" { "Items" } } }
            tbody { @for (reviewer, total, done) in &reviewers {
                tr { th scope="row" { (reviewer) } td { (done) } td { (total) } }
            } }
        }
        h2 { "Items" }
        (pages)
        table {
            caption { "Every item of the campaign" }
            thead { tr {
                th scope="col" { "#" } th scope="col" { "Person" } th scope="col" { "Access" } th scope="col" { "Last used" }
                th scope="col" { "Reviewer" } th scope="col" { "Outcome" } th scope="col" { "Reason" } th scope="col" { "Applied" }
            } }
            tbody { @for item in &shown {
                tr {
                    td { (item.item) } th scope="row" { (item.staff_id) } td { (access_text(item)) }
                    td { @match &item.last_used_at { Some(at) => (day(at)), None => "never" } } td { (item.reviewer) }
                    td { (format!("{:?}", item.outcome).to_lowercase()) }
                    td { (item.comment.as_deref().unwrap_or("")) }
                    td { @if let Some(at) = &item.applied_at { (day(at)) } }
                }
            } }
        }
        h2 { "Evidence" }
        ul {
            li { a href={(base) "/evidence?format=csv"} { "Download the evidence (CSV)" } }
            li { a href={(base) "/evidence?format=pdf"} { "Download the evidence (PDF)" } }
            li { a href={(base) "/evidence?format=json"} { "Download the evidence (JSON)" } }
        }
        @if campaign.is_open() {
            form method="post" action={(base) "/close"} {
                input type="hidden" name="form_token" value=(visitor.form_token);
                button type="submit" { "Close the campaign and apply its revocations" }
            }
        }
    };
    Ok(frame(&tenant_id, &campaign.name, Some(&visitor), content))
}

/// `POST /{tenant}/console/campaigns/{id}/close`.
pub async fn close(
    State(app): State<AppState>,
    Path((tenant_id, id)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Turned> {
    let visitor = manager(&app, &tenant_id, &headers, peer).await?;
    visitor.check_form(&Form::parse(&body))?;
    reviews::close(visitor.tenant(), &id, &visitor.ctx.provenance)
        .await
        .map_err(ApiError::from)?;
    Ok(redirect(
        &format!("/{tenant_id}/console/campaigns/{id}"),
        Vec::new(),
    )?)
}

/// The format of a download.
#[derive(Debug, Default, Deserialize)]
pub struct Download {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /{tenant}/console/campaigns/{id}/evidence?format=…`: the
/// access-reviews report for this campaign, recorded as pulled.
pub async fn evidence(
    State(app): State<AppState>,
    Path((tenant_id, id)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(download): Query<Download>,
) -> Result<Response, Turned> {
    let visitor = manager(&app, &tenant_id, &headers, peer).await?;
    let query = ReportQuery::campaign(id, download.format);
    Ok(pull_and_respond(&visitor.ctx, ReportKind::AccessReviews, query, "html").await?)
}
