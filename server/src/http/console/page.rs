//! The console's page frame (accessible, responsive, no scripts), its home
//! page and its error page.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::super::AppState;
use super::super::error::ApiError;
use super::{Section, Turned, Visitor, visitor};

/// Plain, high-contrast styles: readable on a laptop and a tablet, with a
/// visible keyboard focus.
const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}
a{color:#0b4f9c}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #b35900;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
header{background:#0b3d6e;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a{color:#fff}nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:1rem;margin:0;padding:0}
main{padding:1rem;max-width:72rem;margin:auto}
table{border-collapse:collapse;width:100%;display:block;overflow-x:auto}
th,td{border:1px solid #767676;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#e8eef5}
button{font-size:1rem;padding:.45rem .9rem;border:1px solid #0b3d6e;background:#0b3d6e;color:#fff;border-radius:3px;cursor:pointer}
button.secondary{background:#fff;color:#0b3d6e}
input,select,textarea{font-size:1rem;padding:.35rem;border:1px solid #595959;border-radius:3px}
label{font-weight:600}
.notice{border-left:4px solid #1d6b2f;background:#eef7ef;padding:.5rem 1rem}
.problem{border-left:4px solid #a4161a;background:#fbeaea;padding:.5rem 1rem}
.field{margin:.75rem 0;display:flex;flex-direction:column;gap:.25rem;max-width:32rem}
.inline{display:inline}
td input[type=text]{width:100%;min-width:7rem;box-sizing:border-box}
";

/// A whole page: title, navigation for the signed-in visitor, and content.
pub fn frame(tenant: &str, title: &str, visitor: Option<&Visitor>, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — HMS-ACH" }
                style { (STYLE) }
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                header {
                    strong { "HMS-ACH · " (tenant) }
                    @if let Some(visitor) = visitor {
                        nav aria-label="Console" {
                            ul {
                                li { a href={"/" (tenant) "/console"} { "Home" } }
                                @for section in &visitor.sections {
                                    li { a href={"/" (tenant) "/console/" (section.path())} { (section.label()) } }
                                }
                            }
                        }
                        form class="inline" method="post" action={"/" (tenant) "/console/logout"} {
                            input type="hidden" name="form_token" value=(visitor.form_token);
                            button class="secondary" type="submit" { "Sign out " (visitor.staff) }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    };
    let mut response = Html(markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // No scripts, no framing, forms only to this service.
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Rows shown per page in long tables.
pub const PAGE_SIZE: usize = 500;

/// Which page of a long table to show (`?page=N`, from 1).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Paging {
    #[serde(default)]
    page: Option<usize>,
}

impl Paging {
    /// For a table of `total` rows at `path`: the first row this page shows
    /// (it shows up to [`PAGE_SIZE`]), and the links to the other pages.
    pub fn window(&self, total: usize, path: &str) -> (usize, Markup) {
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = self.page.unwrap_or(1).clamp(1, pages);
        let start = (page - 1) * PAGE_SIZE;
        let end = (start + PAGE_SIZE).min(total);
        let links = html! {
            @if pages > 1 {
                nav aria-label="Pages" {
                    p {
                        "Rows " (start + 1) "–" (end) " of " (total) ". "
                        @if page > 1 { a href={(path) "?page=" (page - 1)} { "Previous page" } " " }
                        @if page < pages { a href={(path) "?page=" (page + 1)} { "Next page" } }
                    }
                }
            }
        };
        (start, links)
    }
}

/// The page size, as the store's queries take it.
pub fn page_limit() -> i64 {
    PAGE_SIZE as i64
}

/// A refusal or failure, as a page with its status.
pub fn error_page(error: &ApiError) -> Response {
    let status = error.status();
    let content = html! {
        p class="problem" role="alert" { (error.to_string()) }
        p { "Code: " code { (error.code()) } }
    };
    let mut response = frame("", "Not possible", None, content);
    *response.status_mut() = status;
    response
}

/// `GET /{tenant}/console`: what this person may do here.
pub async fn home(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Turned> {
    let visitor = visitor(&app, &tenant_id, &headers, peer).await?;
    let reviews = if visitor.may(Section::Reviews) {
        visitor
            .tenant()
            .store
            .pending_review_count(&visitor.staff)
            .await
            .map_err(ApiError::from)?
    } else {
        0
    };
    let console = format!("/{tenant_id}/console");
    let content = html! {
        @if visitor.sections.is_empty() {
            p { "The policies give you nothing to do in the console." }
        }
        @if visitor.may(Section::Reviews) {
            section aria-labelledby="mine" {
                h2 id="mine" { "My reviews" }
                p { "You have " strong { (reviews) } " access-review items to decide. "
                    a href={(console) "/reviews"} { "Open my reviews" } }
            }
        }
        @if visitor.may(Section::Campaigns) {
            section aria-labelledby="campaigns" {
                h2 id="campaigns" { "Access-review campaigns" }
                p { a href={(console) "/campaigns"} { "Create and follow campaigns" } }
            }
        }
        @if visitor.may(Section::Compliance) {
            section aria-labelledby="compliance" {
                h2 id="compliance" { "Compliance" }
                ul {
                    li { a href={(console) "/compliance#break-glass"} { "Break-glass accesses to review" } }
                    li { a href={(console) "/compliance#ledger"} { "Ledger verification" } }
                    li { a href={(console) "/compliance#reports"} { "All reports" } }
                    li { a href={(console) "/reports/access-reviews"} { "Access-review evidence" } }
                }
            }
        }
    };
    Ok(frame(&tenant_id, "Console", Some(&visitor), content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tables_are_shown_a_page_at_a_time_with_links_to_the_others() {
        let first = Paging::default();
        let (start, links) = first.window(1201, "/t/console/x");
        assert_eq!(start, 0);
        let links = links.into_string();
        assert!(links.contains("Rows 1–500 of 1201") && links.contains("?page=2"));
        assert!(!links.contains("Previous"));
        let last = Paging { page: Some(99) };
        let (start, links) = last.window(1201, "/t/console/x");
        assert_eq!(start, 1000);
        let links = links.into_string();
        assert!(links.contains("Rows 1001–1201 of 1201"), "{links}");
        assert!(links.contains("/t/console/x?page=2\">Previous page"));
        let (start, links) = first.window(3, "/t/console/x");
        assert_eq!(start, 0);
        assert!(links.into_string().is_empty(), "one page needs no links");
    }
}
