//! The OpenID AuthZEN Authorization API 1.0: evaluation, evaluations, searches and metadata.

use axum::Json;
use axum::extract::{Path, State};
use hms_audit_ledger::{Event, EventKind};
use hms_authz::{
    AccessRequest, Action, ActionSearch, Decision, EntitySearch, EvaluationsSemantic,
    PartialRequest, Pdp, RequestError, RequestTime, SearchPage, Subject,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::{PdpClient, TenantContext};
use super::json::AuthzenJson;
use hms_governance::decisions::{
    IdentifiedDecision, Outcome, decide, evaluate, record, resolve_sessions,
};

/// The AuthZEN routes, behind a `pdp` client, and the public metadata.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(evaluation))
        .routes(routes!(evaluations))
        .routes(routes!(search_subject))
        .routes(routes!(search_resource))
        .routes(routes!(search_action))
        .routes(routes!(metadata))
}

/// The body of `POST /{tenant}/access/v1/evaluation`: one request, and
/// what the caller wants to hear about it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EvaluationRequest {
    /// The request.
    #[serde(flatten)]
    request: AccessRequest,
    /// What the answer carries besides the decision.
    #[serde(default)]
    options: DecisionOptions,
}

/// What an answer carries besides the decision.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
struct DecisionOptions {
    /// Put the reasons in each decision's `context`: the determining
    /// policies, those that could not be evaluated, and the context keys
    /// and properties set aside because the schema does not declare them.
    #[serde(default)]
    reasons: bool,
}

/// `POST /{tenant}/access/v1/evaluation`.
#[utoipa::path(
    post,
    path = "/{tenant}/access/v1/evaluation",
    tag = "authzen",
    security(("client" = ["pdp"])),
    request_body = EvaluationRequest,
    responses((status = 200, description = "The decision.", body = AuthzenDecision))
)]
pub async fn evaluation(
    ctx: PdpClient,
    AuthzenJson(body): AuthzenJson<EvaluationRequest>,
) -> Result<Json<AuthzenDecision>, ApiError> {
    let decided = decide(&ctx.tenant, &ctx.provenance, body.request).await?;
    Ok(Json(AuthzenDecision::of(&decided, body.options)))
}

/// The body of `POST /{tenant}/access/v1/evaluations`: defaults at the top
/// level (`subject`, `action`, `resource`, `context`), the items, options.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EvaluationsRequest {
    /// Default subject of the items; without an `id`, it gives its `type`
    /// to the items' subjects that leave it out.
    #[serde(default)]
    #[schema(value_type = Option<Subject>)]
    subject: Option<Map<String, Value>>,
    /// Default action of the items.
    #[serde(default)]
    action: Option<Action>,
    /// Default resource of the items; without an `id`, it gives its `type`
    /// to the items' resources that leave it out.
    #[serde(default)]
    #[schema(value_type = Option<Subject>)]
    resource: Option<Map<String, Value>>,
    /// Default context of the items.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    context: Option<Map<String, Value>>,
    /// The items; without any, the call is one evaluation of the defaults.
    /// Each is read on its own: one that cannot be read is denied alone.
    #[serde(default)]
    #[schema(value_type = Option<Vec<PartialRequest>>)]
    evaluations: Option<Vec<Value>>,
    /// How the batch is executed.
    #[serde(default)]
    options: EvaluationsOptions,
}

impl EvaluationsRequest {
    /// The defaults as a partial request: a subject or resource is one only
    /// when it names both a type and an id.
    fn defaults(&self) -> Result<PartialRequest, ApiError> {
        Ok(PartialRequest {
            subject: default_entity(self.subject.as_ref(), "subject")?,
            action: self.action.clone(),
            resource: default_entity(self.resource.as_ref(), "resource")?,
            context: self.context.clone(),
        })
    }
}

/// A default subject or resource; `None` when absent or only partly given.
fn default_entity(
    given: Option<&Map<String, Value>>,
    side: &str,
) -> Result<Option<Subject>, ApiError> {
    match given {
        Some(map) if map.contains_key("type") && map.contains_key("id") => {
            serde_json::from_value(Value::Object(map.clone()))
                .map(Some)
                .map_err(|e| {
                    ApiError::bad_request("invalid_body", format!("invalid default `{side}`: {e}"))
                })
        }
        _ => Ok(None),
    }
}

/// Options of a batch.
#[derive(Debug, Default, Deserialize, ToSchema)]
struct EvaluationsOptions {
    /// `execute_all` (default), `deny_on_first_deny` or `permit_on_first_permit`.
    #[serde(default)]
    evaluations_semantic: EvaluationsSemantic,
    /// Put the reasons in each decision's `context`.
    #[serde(default)]
    reasons: bool,
}

/// The answer to a batch: one decision per item evaluated, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationsResponse {
    /// The decisions.
    evaluations: Vec<AuthzenDecision>,
}

/// The answer to `evaluations`: a batch, or one decision when no items were given.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EvaluationsAnswer {
    /// Items were given.
    Batch(EvaluationsResponse),
    /// No items: the defaults evaluated as one request.
    Single(Box<AuthzenDecision>),
}

/// `POST /{tenant}/access/v1/evaluations`: items inherit the top-level defaults
/// and are answered in request order; the semantic may stop early.
#[utoipa::path(
    post,
    path = "/{tenant}/access/v1/evaluations",
    tag = "authzen",
    security(("client" = ["pdp"])),
    request_body = EvaluationsRequest,
    responses((status = 200, description = "The decisions, in request order.", body = EvaluationsAnswer))
)]
pub async fn evaluations(
    State(app): State<AppState>,
    ctx: PdpClient,
    AuthzenJson(mut batch): AuthzenJson<EvaluationsRequest>,
) -> Result<Json<EvaluationsAnswer>, ApiError> {
    let defaults = batch.defaults()?;
    let options = DecisionOptions {
        reasons: batch.options.reasons,
    };
    let items = batch.evaluations.take().unwrap_or_default();
    if items.is_empty() {
        // Without items the call is a single evaluation (AuthZEN §7.1).
        let request = complete(PartialRequest::default(), &defaults, 0)?;
        let decided = decide(&ctx.tenant, &ctx.provenance, request).await?;
        return Ok(Json(EvaluationsAnswer::Single(Box::new(
            AuthzenDecision::of(&decided, options),
        ))));
    }
    if items.len() > app.settings.max_batch {
        return Err(ApiError::bad_request(
            "too_many",
            format!(
                "{} evaluations in one batch; at most {} are allowed",
                items.len(),
                app.settings.max_batch
            ),
        ));
    }
    // An item that cannot be read or completed is denied with its reason;
    // the others are evaluated (AuthZEN §7.2.1). Each readable item's answer
    // is its outcome, by position among the readable.
    let mut requests: Vec<AccessRequest> = Vec::with_capacity(items.len());
    let slots: Vec<Answer> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match read_item(item, &batch, &defaults, i) {
            Ok(request) => {
                requests.push(request);
                Answer::Evaluated(requests.len() - 1)
            }
            Err(e) => Answer::Unreadable(e.to_string()),
        })
        .collect();
    resolve_sessions(&ctx.tenant, &mut requests).await;
    let semantic = batch.options.evaluations_semantic;
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(requests.len());
    let mut answered = 0;
    for slot in &slots {
        answered += 1;
        let allowed = match slot {
            Answer::Evaluated(at) => {
                let outcome = evaluate(&ctx.tenant, &requests[*at]);
                let allowed = outcome.as_ref().is_ok_and(|d| d.decision.allowed);
                outcomes.push(outcome);
                allowed
            }
            Answer::Unreadable(_) => false,
        };
        if semantic.stops_after(allowed) {
            break;
        }
    }
    record(
        &ctx.tenant,
        &ctx.provenance,
        &requests[..outcomes.len()],
        &mut outcomes,
    )
    .await;
    let evaluations = slots[..answered]
        .iter()
        .map(|answer| match answer {
            Answer::Evaluated(at) => match &outcomes[*at] {
                Ok(decided) => AuthzenDecision::of(decided, options),
                Err(e) => AuthzenDecision::unevaluated(&e.to_string()),
            },
            Answer::Unreadable(reason) => AuthzenDecision::unevaluated(reason),
        })
        .collect();
    Ok(Json(EvaluationsAnswer::Batch(EvaluationsResponse {
        evaluations,
    })))
}

/// Where a batch item's answer comes from.
enum Answer {
    /// Evaluated: its outcome, by position among the evaluated.
    Evaluated(usize),
    /// Not readable as a request: why.
    Unreadable(String),
}

/// Item `index` of a batch as a request, its gaps filled by the defaults.
fn read_item(
    mut item: Value,
    batch: &EvaluationsRequest,
    defaults: &PartialRequest,
    index: usize,
) -> Result<AccessRequest, ApiError> {
    fill_identifiers(&mut item, batch);
    let partial: PartialRequest = serde_json::from_value(item).map_err(|e| {
        ApiError::bad_request(
            "invalid_item",
            format!("evaluation {index} is not a request: {e}"),
        )
    })?;
    complete(partial, defaults, index)
}

/// An item's subject or resource replaces the default whole, except that a
/// `type` or `id` it leaves out is the default's (AuthZEN certification,
/// default value merging).
fn fill_identifiers(item: &mut Value, batch: &EvaluationsRequest) {
    let sides = [
        ("subject", batch.subject.as_ref()),
        ("resource", batch.resource.as_ref()),
    ];
    for (side, default) in sides {
        let (Some(Value::Object(given)), Some(default)) = (item.get_mut(side), default) else {
            continue;
        };
        for field in ["type", "id"] {
            if let (false, Some(value)) = (given.contains_key(field), default.get(field)) {
                given.insert(field.to_owned(), value.clone());
            }
        }
    }
}

fn complete(
    item: PartialRequest,
    defaults: &PartialRequest,
    index: usize,
) -> Result<AccessRequest, ApiError> {
    item.complete(defaults).map_err(|missing| {
        ApiError::bad_request(
            "missing_field",
            format!(
                "evaluation {index} has no `{missing}` and the request gives no default for it"
            ),
        )
    })
}

/// The AuthZEN decision object.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthzenDecision {
    /// Whether the action is permitted.
    decision: bool,
    /// Why, and what the caller must do.
    context: DecisionContext,
}

/// A decision's context: its id, any obligations, and why it was denied when
/// it could not be evaluated or recorded.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct DecisionContext {
    /// The id the ledger records the decision under; absent when it was not evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    decision_id: Option<String>,
    /// Obligations of the determining permits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    obligations: Vec<String>,
    /// Why the item was denied without its policies' say.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<DecisionError>,
    /// The reason for administrators, by language (`en`): why it could
    /// not be recorded, or (with `options.reasons`) how it was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    reason_admin: Option<Value>,
    /// With `options.reasons`: the policies that determined the decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    policies: Option<Vec<String>>,
    /// With `options.reasons`: policies that could not be evaluated, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<String>>,
    /// With `options.reasons`: context keys and properties set aside because
    /// the schema does not declare them.
    #[serde(skip_serializing_if = "Option::is_none")]
    ignored: Option<Vec<String>>,
}

/// Why a decision is a denial whatever the policies say.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionError {
    /// `audit_unavailable` when the ledger could not record the decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    /// 400 when the item itself cannot be evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// What went wrong.
    message: String,
}

impl AuthzenDecision {
    /// The decision, with its id, obligations, and why it was denied when the
    /// ledger could not record it.
    fn of(decided: &IdentifiedDecision, options: DecisionOptions) -> Self {
        let unrecorded = decided.unrecorded.as_ref();
        let decision = &decided.decision;
        let reasons = options.reasons.then_some(decision);
        let reason = unrecorded.cloned().or_else(|| reasons.map(reason_text));
        Self {
            decision: decision.allowed,
            context: DecisionContext {
                decision_id: Some(decided.decision_id.clone()),
                obligations: decision.obligations.clone(),
                error: unrecorded.map(|reason| DecisionError {
                    code: Some("audit_unavailable"),
                    status: None,
                    message: reason.clone(),
                }),
                reason_admin: reason.map(|reason| json!({ "en": reason })),
                policies: reasons.map(|d| d.policies.clone()),
                errors: reasons.map(|d| d.errors.clone()),
                ignored: reasons.map(|d| d.ignored.clone()),
            },
        }
    }

    /// A denial of an item that could not be evaluated, with the reason.
    fn unevaluated(reason: &str) -> Self {
        Self {
            decision: false,
            context: DecisionContext {
                error: Some(DecisionError {
                    code: None,
                    status: Some(400),
                    message: reason.to_owned(),
                }),
                ..DecisionContext::default()
            },
        }
    }
}

/// How a decision was reached, in words.
fn reason_text(decision: &Decision) -> String {
    let listed = |ids: &[String]| ids.join(", ");
    let mut text = if decision.allowed {
        format!("permitted by {}", listed(&decision.policies))
    } else if !decision.errors.is_empty() {
        "denied: a policy that applies could not be evaluated".to_owned()
    } else if decision.policies.is_empty() {
        "denied: no policy permits this request".to_owned()
    } else {
        format!("denied by {}", listed(&decision.policies))
    };
    if !decision.ignored.is_empty() {
        text.push_str("; not declared by the schema, so not evaluated: ");
        text.push_str(&listed(&decision.ignored));
    }
    text
}

/// One page of search results (AuthZEN §8.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults<T> {
    /// Paging: `next_token` is empty on the last page.
    page: ResultsPage,
    /// What was found.
    results: Vec<T>,
}

/// The paging part of a search answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsPage {
    /// Token for the next page, or `""`.
    next_token: String,
    /// Results on this page.
    count: usize,
}

/// `POST /{tenant}/access/v1/search/subject`.
#[utoipa::path(
    post,
    path = "/{tenant}/access/v1/search/subject",
    tag = "authzen",
    security(("client" = ["pdp"])),
    request_body = EntitySearch,
    responses((status = 200, description = "Subjects that may do it.", body = SearchResults<Subject>))
)]
pub async fn search_subject(
    ctx: PdpClient,
    AuthzenJson(search): AuthzenJson<EntitySearch>,
) -> Result<Json<SearchResults<Subject>>, ApiError> {
    run_search(&ctx, EventKind::SearchSubject, search, Pdp::search_subjects).await
}

/// `POST /{tenant}/access/v1/search/resource`.
#[utoipa::path(
    post,
    path = "/{tenant}/access/v1/search/resource",
    tag = "authzen",
    security(("client" = ["pdp"])),
    request_body = EntitySearch,
    responses((status = 200, description = "Resources it may be done to.", body = SearchResults<Subject>))
)]
pub async fn search_resource(
    ctx: PdpClient,
    AuthzenJson(search): AuthzenJson<EntitySearch>,
) -> Result<Json<SearchResults<Subject>>, ApiError> {
    run_search(
        &ctx,
        EventKind::SearchResource,
        search,
        Pdp::search_resources,
    )
    .await
}

/// `POST /{tenant}/access/v1/search/action`.
#[utoipa::path(
    post,
    path = "/{tenant}/access/v1/search/action",
    tag = "authzen",
    security(("client" = ["pdp"])),
    request_body = ActionSearch,
    responses((status = 200, description = "Actions the subject may take on the resource.", body = SearchResults<Action>))
)]
pub async fn search_action(
    ctx: PdpClient,
    AuthzenJson(search): AuthzenJson<ActionSearch>,
) -> Result<Json<SearchResults<Action>>, ApiError> {
    run_search(&ctx, EventKind::SearchAction, search, Pdp::search_actions).await
}

/// Runs a search off the async workers (it may evaluate thousands of candidates),
/// records it and what it found in the ledger, and answers with an AuthZEN page
/// (`next_token` empty on the last page). A search the ledger cannot record is
/// not answered.
async fn run_search<S, T>(
    ctx: &TenantContext,
    kind: EventKind,
    search: S,
    find: fn(&Pdp, &S, &RequestTime) -> Result<SearchPage<T>, RequestError>,
) -> Result<Json<SearchResults<T>>, ApiError>
where
    S: Serialize + Send + 'static,
    T: Serialize + Send + 'static,
{
    let request = json!(search);
    let pdp = ctx.tenant.pdp();
    let time = ctx.tenant.request_time();
    let found = tokio::task::spawn_blocking(move || find(&pdp, &search, &time))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let page = match found {
        // Nothing is known of a type the PDP does not know: no results (AuthZEN §8).
        Err(RequestError::UnknownEntityType(_)) => SearchPage {
            results: Vec::new(),
            next_token: String::new(),
        },
        other => other?,
    };
    let event = Event {
        subject: request["subject"]["id"].as_str().map(str::to_owned),
        patient: request["resource"]["properties"]["patient"]["id"]
            .as_str()
            .map(str::to_owned),
        action: Some(kind.as_str().to_owned()),
        details: json!({ "request": request, "results": page.results, "next_token": page.next_token }),
        ..ctx.provenance.event(kind)
    };
    ctx.tenant.ledger.append(event).await.map_err(|e| {
        ApiError::Unavailable(format!(
            "the audit ledger could not record this search, so it is not answered: {e}"
        ))
    })?;
    Ok(Json(SearchResults {
        page: ResultsPage {
            count: page.results.len(),
            next_token: page.next_token,
        },
        results: page.results,
    }))
}

/// A tenant's PDP metadata (AuthZEN §9).
#[derive(Debug, Serialize, ToSchema)]
pub struct PdpMetadata {
    /// The PDP's base URL.
    policy_decision_point: String,
    /// Where single evaluations go.
    access_evaluation_endpoint: String,
    /// Where batches go.
    access_evaluations_endpoint: String,
    /// Where subject searches go.
    search_subject_endpoint: String,
    /// Where resource searches go.
    search_resource_endpoint: String,
    /// Where action searches go.
    search_action_endpoint: String,
}

/// `GET /.well-known/authzen-configuration/{tenant}`: the tenant's PDP metadata (AuthZEN §9).
#[utoipa::path(
    get,
    path = "/.well-known/authzen-configuration/{tenant}",
    tag = "authzen",
    responses((status = 200, description = "The tenant's PDP metadata.", body = PdpMetadata))
)]
pub async fn metadata(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<PdpMetadata>, ApiError> {
    let tenant = app.tenant(&tenant).await?;
    let pdp = tenant.issuer();
    let at = |path: &str| format!("{pdp}/access/v1/{path}");
    Ok(Json(PdpMetadata {
        access_evaluation_endpoint: at("evaluation"),
        access_evaluations_endpoint: at("evaluations"),
        search_subject_endpoint: at("search/subject"),
        search_resource_endpoint: at("search/resource"),
        search_action_endpoint: at("search/action"),
        policy_decision_point: pdp.to_owned(),
    }))
}
