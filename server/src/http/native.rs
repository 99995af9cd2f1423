//! The native decision API: batches with explanations (determining policies, errors, obligations).

use axum::Json;
use axum::extract::State;
use hms_authz::AccessRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::PdpClient;
use super::json::ApiJson;
use hms_governance::decisions::{Outcome, evaluate, record, resolve_sessions};

/// The native decision route, behind a `pdp` client.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(decisions))
}

/// The body of `POST /{tenant}/v1/decisions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionsRequest {
    /// The requests, 1 to the configured batch size.
    requests: Vec<AccessRequest>,
    /// Include determining policies and evaluation errors.
    #[serde(default)]
    explain: bool,
}

/// The answer: the policy version that decided, and one decision per request.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionsResponse {
    /// The policy version in force.
    policy_version: i64,
    /// The decisions, in request order.
    decisions: Vec<NativeDecision>,
}

/// One decision with what explains it.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct NativeDecision {
    /// The id the ledger records it under; absent when it was not evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    decision_id: Option<String>,
    /// Whether the action is permitted.
    decision: bool,
    /// Obligations the caller must honour.
    #[serde(skip_serializing_if = "Option::is_none")]
    obligations: Option<Vec<String>>,
    /// The determining policies (with `explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    policies: Option<Vec<String>>,
    /// Policies that could not be evaluated (with `explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<String>>,
    /// Why it is a denial whatever the policies say.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<NativeError>,
}

/// Why a decision is a denial whatever the policies say.
#[derive(Debug, Serialize, ToSchema)]
pub struct NativeError {
    /// `audit_unavailable`, or why the request cannot be evaluated (`unknown_action`…).
    code: &'static str,
    /// What went wrong.
    message: String,
}

/// `POST /{tenant}/v1/decisions`: every request evaluated, answered in order.
#[utoipa::path(
    post,
    path = "/{tenant}/v1/decisions",
    tag = "decisions",
    security(("client" = ["pdp"])),
    request_body = DecisionsRequest,
    responses((status = 200, description = "The decisions, in request order.", body = DecisionsResponse))
)]
pub async fn decisions(
    State(app): State<AppState>,
    ctx: PdpClient,
    ApiJson(mut body): ApiJson<DecisionsRequest>,
) -> Result<Json<DecisionsResponse>, ApiError> {
    if body.requests.is_empty() || body.requests.len() > app.settings.max_batch {
        return Err(ApiError::bad_request(
            "invalid_batch",
            format!(
                "a batch holds 1 to {} requests, not {}",
                app.settings.max_batch,
                body.requests.len()
            ),
        ));
    }
    resolve_sessions(&ctx.tenant, &mut body.requests).await;
    let version = ctx.tenant.policy_version();
    let mut outcomes: Vec<Outcome> = body
        .requests
        .iter()
        .map(|request| evaluate(&ctx.tenant, request))
        .collect();
    record(&ctx.tenant, &ctx.provenance, &body.requests, &mut outcomes).await;
    let explain = body.explain;
    let decisions = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(decided) => {
                let decision = decided.decision;
                NativeDecision {
                    decision_id: Some(decided.decision_id),
                    decision: decision.allowed,
                    obligations: Some(decision.obligations),
                    policies: explain.then_some(decision.policies),
                    errors: explain.then_some(decision.errors),
                    error: decided.unrecorded.map(|message| NativeError {
                        code: "audit_unavailable",
                        message,
                    }),
                }
            }
            Err(e) => {
                let error = ApiError::from(e);
                NativeDecision {
                    error: Some(NativeError {
                        code: error.code(),
                        message: error.to_string(),
                    }),
                    ..NativeDecision::default()
                }
            }
        })
        .collect();
    Ok(Json(DecisionsResponse {
        policy_version: version,
        decisions,
    }))
}
