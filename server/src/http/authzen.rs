//! The OpenID AuthZEN Authorization API 1.0: evaluation, evaluations, searches and metadata.

use axum::Json;
use axum::extract::{Path, State};
use hms_audit_ledger::Event;
use hms_authz::{
    AccessRequest, ActionSearch, EntitySearch, EvaluationsSemantic, PartialRequest, Pdp,
    RequestError, RequestTime, SearchPage,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiJson;
use hms_governance::decisions::{
    IdentifiedDecision, Outcome, decide, evaluate, record, resolve_sessions,
};

/// `POST /{tenant}/access/v1/evaluation`.
pub async fn evaluation(
    axum::Extension(ctx): axum::Extension<TenantContext>,
    ApiJson(request): ApiJson<AccessRequest>,
) -> Result<Json<Value>, ApiError> {
    let decided = decide(&ctx.tenant, &ctx.provenance, request).await?;
    Ok(Json(authzen_decision(&decided)))
}

/// The body of `POST /{tenant}/access/v1/evaluations`.
#[derive(Debug, Deserialize)]
pub struct EvaluationsRequest {
    #[serde(flatten)]
    defaults: PartialRequest,
    #[serde(default)]
    evaluations: Option<Vec<PartialRequest>>,
    #[serde(default)]
    options: EvaluationsOptions,
}

#[derive(Debug, Default, Deserialize)]
struct EvaluationsOptions {
    #[serde(default)]
    evaluations_semantic: EvaluationsSemantic,
}

/// `POST /{tenant}/access/v1/evaluations`: items inherit the top-level defaults
/// and are answered in request order; the semantic may stop early.
pub async fn evaluations(
    State(app): State<AppState>,
    axum::Extension(ctx): axum::Extension<TenantContext>,
    ApiJson(batch): ApiJson<EvaluationsRequest>,
) -> Result<Json<Value>, ApiError> {
    let items = batch.evaluations.unwrap_or_default();
    if items.is_empty() {
        // Without items the call is a single evaluation (AuthZEN §7.1).
        let request = complete(PartialRequest::default(), &batch.defaults, 0)?;
        return Ok(Json(authzen_decision(
            &decide(&ctx.tenant, &ctx.provenance, request).await?,
        )));
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
    let mut requests: Vec<AccessRequest> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| complete(item, &batch.defaults, i))
        .collect::<Result<_, _>>()?;
    resolve_sessions(&ctx.tenant, &mut requests).await;
    let semantic = batch.options.evaluations_semantic;
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(requests.len());
    for request in &requests {
        let outcome = evaluate(&ctx.tenant, request);
        let allowed = outcome.as_ref().is_ok_and(|d| d.decision.allowed);
        outcomes.push(outcome);
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
    let results: Vec<Value> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(decided) => authzen_decision(decided),
            // An item that cannot be evaluated is denied, with the reason (AuthZEN §7.2.1).
            Err(e) => {
                json!({"decision": false, "context": {"error": {"status": 400, "message": e.to_string()}}})
            }
        })
        .collect();
    Ok(Json(json!({ "evaluations": results })))
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

/// The AuthZEN decision object: `decision`, and a context with the decision id,
/// any obligations, and why it was denied when the ledger could not record it.
fn authzen_decision(decided: &IdentifiedDecision) -> Value {
    let mut context = json!({ "decision_id": decided.decision_id });
    if !decided.decision.obligations.is_empty() {
        context["obligations"] = json!(decided.decision.obligations);
    }
    if let Some(reason) = &decided.unrecorded {
        context["error"] = json!({ "code": "audit_unavailable", "message": reason });
        context["reason_admin"] = json!({ "en": reason });
    }
    json!({ "decision": decided.decision.allowed, "context": context })
}

/// `POST /{tenant}/access/v1/search/subject`.
pub async fn search_subject(
    axum::Extension(ctx): axum::Extension<TenantContext>,
    ApiJson(search): ApiJson<EntitySearch>,
) -> Result<Json<Value>, ApiError> {
    run_search(&ctx, "search.subject", search, Pdp::search_subjects).await
}

/// `POST /{tenant}/access/v1/search/resource`.
pub async fn search_resource(
    axum::Extension(ctx): axum::Extension<TenantContext>,
    ApiJson(search): ApiJson<EntitySearch>,
) -> Result<Json<Value>, ApiError> {
    run_search(&ctx, "search.resource", search, Pdp::search_resources).await
}

/// `POST /{tenant}/access/v1/search/action`.
pub async fn search_action(
    axum::Extension(ctx): axum::Extension<TenantContext>,
    ApiJson(search): ApiJson<ActionSearch>,
) -> Result<Json<Value>, ApiError> {
    run_search(&ctx, "search.action", search, Pdp::search_actions).await
}

/// Runs a search off the async workers (it may evaluate thousands of candidates),
/// records it and what it found in the ledger, and answers with an AuthZEN page
/// (`next_token` empty on the last page). A search the ledger cannot record is
/// not answered.
async fn run_search<S, T>(
    ctx: &TenantContext,
    kind: &str,
    search: S,
    find: fn(&Pdp, &S, &RequestTime) -> Result<SearchPage<T>, RequestError>,
) -> Result<Json<Value>, ApiError>
where
    S: Serialize + Send + 'static,
    T: Serialize + Send + 'static,
{
    let request = json!(search);
    let pdp = ctx.tenant.pdp();
    let time = ctx.tenant.request_time();
    let page = tokio::task::spawn_blocking(move || find(&pdp, &search, &time))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    let event = Event {
        subject: request["subject"]["id"].as_str().map(str::to_owned),
        patient: request["resource"]["properties"]["patient"]["id"]
            .as_str()
            .map(str::to_owned),
        action: Some(kind.to_owned()),
        details: json!({ "request": request, "results": page.results, "next_token": page.next_token }),
        ..ctx.provenance.event(kind)
    };
    ctx.tenant.ledger.append(event).await.map_err(|e| {
        ApiError::Unavailable(format!(
            "the audit ledger could not record this search, so it is not answered: {e}"
        ))
    })?;
    Ok(Json(json!({
        "page": { "next_token": page.next_token, "count": page.results.len() },
        "results": page.results,
    })))
}

/// `GET /.well-known/authzen-configuration/{tenant}`: the tenant's PDP metadata (AuthZEN §9).
pub async fn metadata(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = app.tenant(&tenant).await?;
    let pdp = tenant.issuer();
    Ok(Json(json!({
        "policy_decision_point": pdp,
        "access_evaluation_endpoint": format!("{pdp}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{pdp}/access/v1/evaluations"),
        "search_subject_endpoint": format!("{pdp}/access/v1/search/subject"),
        "search_resource_endpoint": format!("{pdp}/access/v1/search/resource"),
        "search_action_endpoint": format!("{pdp}/access/v1/search/action"),
    })))
}
