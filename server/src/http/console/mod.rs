//! The web console at `/{tenant}/console`: server-rendered pages for
//! reviewers, the security team and compliance officers. Staff sign in
//! through the tenant's IdP and second factor; the session lives in an
//! HttpOnly cookie, every form carries a token derived from it, and what each
//! person sees and may do is decided by the PDP (and recorded like any
//! other decision).

mod campaigns;
mod compliance;
mod page;
mod reviews;
mod signin;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hms_authz::{AccessRequest, Action, Subject};
use hms_idp_bridge::sessions::{LiveSession, Stage};
use serde_json::{Map, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::browser::{redirect, secure_attribute};
use super::error::ApiError;
use super::gate::{TenantContext, provenance_of};
use hms_governance::audit::Actor;
use hms_governance::decisions::{evaluate, record};
use hms_governance::login::Admission;
use hms_governance::tenancy::Tenant;

/// Set on a login the console started, for the IdP callback to see.
pub const LOGIN_FLOW_COOKIE: &str = "hms_ach_console_flow";
/// The login awaiting its second factor.
const LOGIN_COOKIE: &str = "hms_ach_console_login";
/// The console session.
const SESSION_COOKIE: &str = "hms_ach_console";

/// The console's routes; each page authenticates its own visitor.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/console", get(page::home))
        .route("/{tenant}/console/login", get(signin::login_page))
        .route(
            "/{tenant}/console/mfa",
            get(signin::mfa_page).post(signin::mfa_submit),
        )
        .route("/{tenant}/console/mfa/enroll", post(signin::mfa_enroll))
        .route("/{tenant}/console/logout", post(signin::logout))
        .route(
            "/{tenant}/console/reviews",
            get(reviews::page).post(reviews::submit),
        )
        .route(
            "/{tenant}/console/campaigns",
            get(campaigns::list).post(campaigns::create),
        )
        .route("/{tenant}/console/campaigns/{id}", get(campaigns::detail))
        .route(
            "/{tenant}/console/campaigns/{id}/close",
            post(campaigns::close),
        )
        .route(
            "/{tenant}/console/campaigns/{id}/evidence",
            get(campaigns::evidence),
        )
        .route("/{tenant}/console/reports", get(compliance::chosen_report))
        .route("/{tenant}/console/reports/{kind}", get(compliance::report))
        .route("/{tenant}/console/compliance", get(compliance::page))
        .route(
            "/{tenant}/console/compliance/break-glass",
            post(compliance::review),
        )
}

/// Whether the request is the IdP callback of a login the console started.
pub fn started_login(headers: &HeaderMap) -> bool {
    cookie(headers, LOGIN_FLOW_COOKIE).is_some()
}

/// Where the browser goes once the IdP has answered: to the second factor,
/// into the console, or back to the sign-in page with the reason.
pub fn land(
    app: &AppState,
    tenant_id: &str,
    answer: Result<Admission, ApiError>,
) -> Result<Response, ApiError> {
    let secure = secure_attribute(app);
    let console = format!("/{tenant_id}/console");
    match answer {
        Err(error) => redirect(
            &format!("{console}/login?error={}", error.code()),
            Vec::new(),
        ),
        Ok(Admission::MfaRequired(pending)) => {
            let cookie = format!(
                "{LOGIN_COOKIE}={}; Path={console}; HttpOnly; SameSite=Lax{secure}",
                pending.login_token.expose()
            );
            redirect(&format!("{console}/mfa"), vec![cookie])
        }
        Ok(Admission::Authenticated(session)) => redirect(
            &console,
            vec![session_cookie(
                tenant_id,
                session.session_token.expose(),
                secure,
            )],
        ),
    }
}

fn session_cookie(tenant_id: &str, secret: &str, secure: &str) -> String {
    format!("{SESSION_COOKIE}={secret}; Path=/{tenant_id}/console; HttpOnly; SameSite=Lax{secure}")
}

/// A cookie's value.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&prefix).map(str::to_owned))
        .filter(|value| !value.is_empty())
}

/// The token a form must carry: bound to the session's secret, which pages
/// from elsewhere cannot read.
fn form_token(secret: &str) -> String {
    hex::encode(Sha256::digest(format!("hms-ach console form\n{secret}")))
}

/// The console's sections, each opened by one Cedar action on the tenant's
/// own resource: the navigation shows only those the PDP allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The reviewer's own items.
    Reviews,
    /// The security team's campaigns.
    Campaigns,
    /// The compliance officer's reports, ledger and break-glass reviews.
    Compliance,
}

impl Section {
    /// Every section, in navigation order.
    pub const ALL: [Self; 3] = [Self::Reviews, Self::Campaigns, Self::Compliance];

    /// The action asked of the PDP, and the resource type it is asked on.
    fn question(self) -> (&'static str, &'static str) {
        match self {
            Self::Reviews => ("review_access", "AccessReview"),
            Self::Campaigns => ("manage_access_reviews", "AccessReview"),
            Self::Compliance => ("read_audit_log", "AuditLog"),
        }
    }

    /// Its name in the navigation.
    pub fn label(self) -> &'static str {
        match self {
            Self::Reviews => "My reviews",
            Self::Campaigns => "Campaigns",
            Self::Compliance => "Compliance",
        }
    }

    /// Its path under `/{tenant}/console/`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Reviews => "reviews",
            Self::Campaigns => "campaigns",
            Self::Compliance => "compliance",
        }
    }
}

/// A signed-in staff member, with what the console needs to act for them.
pub struct Visitor {
    /// Their tenant, and the provenance their actions are recorded with.
    pub ctx: TenantContext,
    /// The staff member.
    pub staff: String,
    /// Their session.
    pub session: Arc<LiveSession>,
    /// The token their forms carry.
    pub form_token: String,
    /// The sections the PDP opened to them for this request.
    pub sections: Vec<Section>,
}

/// Why a page cannot be shown to this visitor.
pub enum Turned {
    /// Not signed in: to the sign-in page.
    Away(Response),
    /// Something failed.
    Failed(ApiError),
}

impl From<ApiError> for Turned {
    fn from(e: ApiError) -> Self {
        Self::Failed(e)
    }
}

impl IntoResponse for Turned {
    fn into_response(self) -> Response {
        match self {
            Self::Away(response) => response,
            Self::Failed(error) => page::error_page(&error),
        }
    }
}

/// The signed-in visitor of a console page, or the way to the sign-in page.
async fn visitor(
    app: &AppState,
    tenant_id: &str,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Visitor, Turned> {
    let tenant = app.tenant(tenant_id).await?;
    let to_login = || {
        redirect(&format!("/{tenant_id}/console/login"), Vec::new())
            .map_or_else(Turned::Failed, Turned::Away)
    };
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Err(to_login());
    };
    let settings = tenant.identity.settings();
    let session = match tenant
        .identity
        .sessions
        .by_secret(tenant.store.pool(), &secret, &settings)
        .await
    {
        Ok(session) if session.stage == Stage::Active => session,
        _ => return Err(to_login()),
    };
    let staff = session.staff_id.clone();
    let provenance = provenance_of(Actor::Staff(staff.to_owned()), headers, Some(peer));
    let ctx = TenantContext { tenant, provenance };
    let sections = open_sections(&ctx, &staff, session.mfa()).await;
    Ok(Visitor {
        ctx,
        staff,
        session,
        form_token: form_token(&secret),
        sections,
    })
}

/// Asks the PDP about every section at once and records the decisions in
/// one ledger append; a section whose question fails to evaluate, or whose
/// decision cannot be recorded, stays closed.
async fn open_sections(ctx: &TenantContext, staff: &str, mfa: bool) -> Vec<Section> {
    let organization = ctx.tenant.id().to_owned();
    let requests: Vec<AccessRequest> = Section::ALL
        .iter()
        .map(|section| {
            let (action, resource) = section.question();
            AccessRequest {
                subject: Subject {
                    kind: "Staff".into(),
                    id: staff.to_owned(),
                    properties: Map::new(),
                },
                action: Action {
                    name: action.into(),
                    properties: Map::new(),
                },
                resource: Subject {
                    kind: resource.into(),
                    id: organization.clone(),
                    properties: Map::from_iter([("organization".to_owned(), json!(organization))]),
                },
                context: Map::from_iter([("mfa".to_owned(), json!(mfa))]),
            }
        })
        .collect();
    let mut outcomes: Vec<_> = requests
        .iter()
        .map(|request| evaluate(&ctx.tenant, request))
        .collect();
    record(&ctx.tenant, &ctx.provenance, &requests, &mut outcomes).await;
    Section::ALL
        .into_iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| outcome.as_ref().is_ok_and(|d| d.decision.allowed))
        .map(|(section, _)| section)
        .collect()
}

impl Visitor {
    /// Whether the PDP opened `section` to this person.
    fn may(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    /// Refuses unless the PDP opened `section` to this person.
    fn require(&self, section: Section) -> Result<(), ApiError> {
        if self.may(section) {
            Ok(())
        } else {
            let (action, _) = section.question();
            Err(ApiError::Forbidden(format!(
                "the policies do not allow `{action}` to {}",
                self.staff
            )))
        }
    }

    /// Refuses a form whose token is not this session's.
    fn check_form(&self, form: &Form) -> Result<(), ApiError> {
        let given = form.one("form_token").unwrap_or_default();
        if bool::from(given.as_bytes().ct_eq(self.form_token.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "the form is not from this session; reload the page".into(),
            ))
        }
    }

    fn tenant(&self) -> &Tenant {
        &self.ctx.tenant
    }
}

/// A submitted form: its fields in order, a name possibly repeated.
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses an `application/x-www-form-urlencoded` body.
    fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
