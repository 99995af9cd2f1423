//! The reviewer's page: my undecided items, decided one by one or many at once.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hms_directory::ReviewItem;
use maud::html;
use serde::Deserialize;

use super::super::AppState;
use super::super::browser::redirect;
use super::super::error::ApiError;
use super::page::{Paging, frame, page_limit};
use super::{Form, Section, Turned, Visitor, visitor};
use hms_governance::reviews::{self, ItemDecision, Verdict};

/// How many items the last submission decided.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<usize>,
}

/// `GET /{tenant}/console/reviews`.
pub async fn page(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(done): Query<Done>,
    Query(paging): Query<Paging>,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    visitor.require(Section::Reviews)?;
    let notice = done.done.map(|n| format!("{n} decisions recorded."));
    render(&visitor, notice, None, &paging).await
}

async fn render(
    visitor: &Visitor,
    notice: Option<String>,
    problem: Option<String>,
    paging: &Paging,
) -> Result<Response, Turned> {
    let tenant_id = visitor.tenant().id().to_owned();
    let store = &visitor.tenant().store;
    let total = store
        .pending_review_count(&visitor.staff)
        .await
        .map_err(ApiError::from)?;
    let path = format!("/{tenant_id}/console/reviews");
    let (start, pages) = paging.window(usize::try_from(total).unwrap_or(0), &path);
    let shown = store
        .pending_reviews_page(
            &visitor.staff,
            i64::try_from(start).unwrap_or(i64::MAX),
            page_limit(),
        )
        .await
        .map_err(ApiError::from)?;
    let content = html! {
        @if let Some(notice) = &notice { p class="notice" role="status" { (notice) } }
        @if let Some(problem) = &problem { p class="problem" role="alert" { (problem) } }
        @if shown.is_empty() {
            p { "Nothing is waiting for your review." }
        } @else {
            p { "For each person's access, choose to certify it (still needed), revoke it, "
                "or delegate it to someone who knows better (give their staff id). "
                "Revoking a clinical role, a group granting one, or a professional credential needs a reason. "
                "Tick several rows to certify them at once." }
            (pages)
            form method="post" action={"/" (tenant_id) "/console/reviews"} {
                input type="hidden" name="form_token" value=(visitor.form_token);
                table {
                    caption { "Access awaiting your decision" }
                    thead { tr {
                        th scope="col" { "Select" } th scope="col" { "Campaign" } th scope="col" { "Person" }
                        th scope="col" { "Access" } th scope="col" { "Granted" } th scope="col" { "Last used" }
                        th scope="col" { "Decision" } th scope="col" { "Reason" } th scope="col" { "Delegate to" }
                    } }
                    tbody {
                        @for (campaign, item) in &shown { (row(campaign, item)) }
                    }
                }
                p {
                    button type="submit" name="action" value="apply" { "Save the decisions chosen" } " "
                    button class="secondary" type="submit" name="action" value="certify_selected" { "Certify the selected rows" }
                }
            }
        }
    };
    Ok(frame(&tenant_id, "My reviews", Some(visitor), content))
}

/// The date of an RFC 3339 time, with the full time for machines and on hover.
pub fn day(instant: &str) -> maud::Markup {
    html! { time datetime=(instant) title=(instant) { (instant.get(..10).unwrap_or(instant)) } }
}

/// What an item gives its holder, in words.
pub fn access_text(item: &ReviewItem) -> String {
    item.description
        .clone()
        .unwrap_or_else(|| format!("{} {}", item.kind, item.entitlement))
}

fn row(campaign: &str, item: &ReviewItem) -> maud::Markup {
    let key = format!("{campaign}:{}", item.item);
    let who = format!("{}: {}", item.staff_id, access_text(item));
    html! {
        tr {
            td { input type="checkbox" name="selected" value=(key) aria-label={"Select " (who)}; }
            td { (campaign) }
            th scope="row" { (item.staff_id) }
            td { (access_text(item)) }
            td { (day(&item.granted_at)) " by " (item.granted_by) }
            td { @match &item.last_used_at { Some(at) => (day(at)), None => "never (per the ledger)" } }
            td {
                select name={"decision:" (key)} aria-label={"Decision for " (who)} {
                    option value="" { "Undecided" }
                    option value="certify" { "Certify" }
                    option value="revoke" { "Revoke" }
                    option value="delegate" { "Delegate" }
                }
            }
            td { input type="text" name={"comment:" (key)} aria-label={"Reason for " (who)}; }
            td { input type="text" name={"delegate:" (key)} aria-label={"Delegate the review of " (who) " to (staff id)"}; }
        }
    }
}

/// `POST /{tenant}/console/reviews`: the chosen decisions, or a bulk
/// certification of the selected rows; all or none per campaign.
pub async fn submit(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    let form = Form::parse(&body);
    visitor.check_form(&form)?;
    visitor.require(Section::Reviews)?;
    let by_campaign = decisions_of(&form);
    let mut done = 0;
    for (campaign, decisions) in &by_campaign {
        let decided = reviews::decide(
            visitor.tenant(),
            campaign,
            &visitor.staff,
            decisions,
            &visitor.ctx.provenance,
        )
        .await;
        match decided {
            Ok(items) => done += items.len(),
            Err(error) => {
                let problem = format!(
                    "{}; nothing of campaign {campaign} was saved.",
                    ApiError::from(error)
                );
                let mut page = render(&visitor, None, Some(problem), &Paging::default()).await?;
                *page.status_mut() = StatusCode::BAD_REQUEST;
                return Ok(page);
            }
        }
    }
    Ok(redirect(
        &format!("/{tenant_id}/console/reviews?done={done}"),
        Vec::new(),
    )?)
}

/// The decisions a form carries, by campaign.
fn decisions_of(form: &Form) -> BTreeMap<String, Vec<ItemDecision>> {
    let bulk = form.one("action") == Some("certify_selected");
    let chosen: Vec<(String, Verdict)> = if bulk {
        form.all("selected")
            .map(|key| (key.to_owned(), Verdict::Certify))
            .collect()
    } else {
        form.0
            .iter()
            .filter_map(|(name, value)| {
                let key = name.strip_prefix("decision:")?;
                let verdict = match value.as_str() {
                    "certify" => Verdict::Certify,
                    "revoke" => Verdict::Revoke,
                    "delegate" => Verdict::Delegate,
                    _ => return None,
                };
                Some((key.to_owned(), verdict))
            })
            .collect()
    };
    let mut by_campaign: BTreeMap<String, Vec<ItemDecision>> = BTreeMap::new();
    for (key, decision) in chosen {
        let Some((campaign, item)) = key.rsplit_once(':') else {
            continue;
        };
        let Ok(item) = item.parse() else { continue };
        let given = |field: &str| {
            form.one(&format!("{field}:{key}"))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let comment = given("comment");
        let delegate_to = given("delegate").filter(|_| decision == Verdict::Delegate);
        by_campaign
            .entry(campaign.to_owned())
            .or_default()
            .push(ItemDecision {
                item,
                decision,
                comment,
                delegate_to,
            });
    }
    by_campaign
}
