//! One decision as every API makes it: evaluated, identified, measured.

use std::time::Instant;

use hms_authz::{AccessRequest, Decision, RequestError};
use serde::Serialize;
use uuid::Uuid;

use crate::metrics::record_decision;
use crate::tenancy::Tenant;

/// A decision with its id.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifiedDecision {
    /// Unique, time-ordered decision id.
    pub decision_id: String,
    /// The decision and its explanation.
    #[serde(flatten)]
    pub decision: Decision,
}

/// Evaluates one request for `tenant`.
pub fn decide(
    tenant: &Tenant,
    request: &AccessRequest,
) -> Result<IdentifiedDecision, RequestError> {
    let started = Instant::now();
    let decision = tenant.pdp().evaluate(request, &tenant.request_time())?;
    record_decision(tenant.id(), decision.allowed, started.elapsed());
    Ok(IdentifiedDecision {
        decision_id: Uuid::now_v7().to_string(),
        decision,
    })
}
