//! The native decision API: batches with explanations (determining policies, errors, obligations).

use axum::extract::State;
use axum::{Extension, Json};
use hms_authz::AccessRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiJson;
use hms_governance::decisions::{Outcome, evaluate, record, resolve_sessions};

/// The body of `POST /{tenant}/v1/decisions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsRequest {
    requests: Vec<AccessRequest>,
    /// Include determining policies and evaluation errors.
    #[serde(default)]
    explain: bool,
}

/// `POST /{tenant}/v1/decisions`: every request evaluated, answered in order.
pub async fn decisions(
    State(app): State<AppState>,
    Extension(ctx): Extension<TenantContext>,
    ApiJson(mut body): ApiJson<DecisionsRequest>,
) -> Result<Json<Value>, ApiError> {
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
    let decisions: Vec<Value> = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(decided) => {
                let mut answer = json!({
                    "decision_id": decided.decision_id,
                    "decision": decided.decision.allowed,
                    "obligations": decided.decision.obligations,
                });
                if body.explain {
                    answer["policies"] = json!(decided.decision.policies);
                    answer["errors"] = json!(decided.decision.errors);
                }
                if let Some(reason) = decided.unrecorded {
                    answer["error"] = json!({ "code": "audit_unavailable", "message": reason });
                }
                answer
            }
            Err(e) => {
                let ApiError::BadRequest { code, message } = ApiError::from(e) else {
                    return json!({"decision": false});
                };
                json!({ "decision": false, "error": { "code": code, "message": message } })
            }
        })
        .collect();
    Ok(Json(
        json!({ "policy_version": version, "decisions": decisions }),
    ))
}
