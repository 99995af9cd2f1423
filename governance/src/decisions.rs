//! One decision as every API makes it: evaluated, identified, measured, and
//! recorded in the tenant's ledger before anyone is told. A decision that
//! cannot be recorded is a denial that says why (fail closed).

use std::time::Instant;

use hms_audit_ledger::{Event, EventKind, EventOutcome};
use hms_authz::{AccessRequest, Decision, RequestError};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::Provenance;
use crate::sessions::check_token;
use crate::tenancy::Tenant;

/// Decisions, labelled by tenant and outcome (`permit`, `deny`).
pub const DECISIONS: &str = "hms_decisions_total";
/// Time to evaluate one decision, in seconds.
pub const DECISION_SECONDS: &str = "hms_decision_duration_seconds";
/// Decisions turned into denials because the ledger could not record them.
pub const UNRECORDED_DECISIONS: &str = "hms_decisions_unrecorded_total";

/// A decision with its id.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifiedDecision {
    /// Unique, time-ordered decision id.
    pub decision_id: String,
    /// The decision and its explanation.
    #[serde(flatten)]
    pub decision: Decision,
    /// Set when the ledger could not record the decision, which was therefore
    /// turned into a denial (fail closed): why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unrecorded: Option<String>,
}

/// A request's fate: a decision, or why it could not be evaluated.
pub type Outcome = Result<IdentifiedDecision, RequestError>;

/// The AuthZEN subject type of a session token: `{"type": "session", "id": "<token>"}`.
pub const SESSION_SUBJECT: &str = "session";

/// Puts the staff member behind each session-token subject in its place,
/// with the session's MFA state as the context's `mfa` (overriding what the
/// caller said). A token that does not verify, or whose session is revoked,
/// idle or expired, stays a `session` subject, which [`evaluate`] denies; the
/// token itself is never kept, so it never reaches the ledger.
pub async fn resolve_sessions(tenant: &Tenant, requests: &mut [AccessRequest]) {
    for request in requests
        .iter_mut()
        .filter(|r| r.subject.kind == SESSION_SUBJECT)
    {
        let token = std::mem::take(&mut request.subject.id);
        request.subject.properties.clear();
        match check_token(tenant, &token).await {
            Ok(checked) => {
                request.subject.kind = "Staff".into();
                request.subject.id = checked.claims.sub;
                request
                    .context
                    .insert("mfa".into(), json!(checked.session.mfa()));
            }
            Err(refusal) => {
                request.subject.id = refusal.staff_id.unwrap_or_else(|| "unverified".into());
                request
                    .subject
                    .properties
                    .insert("session_error".into(), json!(refusal.code));
            }
        }
    }
}

/// The denial for a session subject that did not resolve to a person.
fn session_denial(request: &AccessRequest) -> Decision {
    let problem = request.subject.properties.get("session_error");
    let problem = problem.and_then(Value::as_str).unwrap_or("invalid_token");
    Decision {
        allowed: false,
        policies: Vec::new(),
        obligations: Vec::new(),
        errors: vec![format!("session token refused: {problem}")],
        ignored: Vec::new(),
    }
}

/// Evaluates one request for `tenant`, without recording it.
pub fn evaluate(tenant: &Tenant, request: &AccessRequest) -> Outcome {
    let started = Instant::now();
    if request.subject.kind == SESSION_SUBJECT {
        return Ok(IdentifiedDecision {
            decision_id: Uuid::now_v7().to_string(),
            decision: session_denial(request),
            unrecorded: None,
        });
    }
    let decision = tenant.pdp().evaluate(request, &tenant.request_time())?;
    count_decision(tenant.id(), decision.allowed, started.elapsed());
    Ok(IdentifiedDecision {
        decision_id: Uuid::now_v7().to_string(),
        decision,
        unrecorded: None,
    })
}

/// Evaluates one request and records the decision; a request that cannot be
/// evaluated is an error for the caller, not a decision.
pub async fn decide(tenant: &Tenant, by: &Provenance, request: AccessRequest) -> Outcome {
    let mut requests = [request];
    resolve_sessions(tenant, &mut requests).await;
    let mut outcomes = [Ok(evaluate(tenant, &requests[0])?)];
    record(tenant, by, &requests, &mut outcomes).await;
    let [outcome] = outcomes;
    outcome
}

/// Records the outcomes of `requests` (pairwise, in order) in one ledger
/// append, waiting until it is durable unless the tenant chose asynchronous
/// recording. If the ledger cannot write, every decision becomes a denial
/// that says why.
pub async fn record(
    tenant: &Tenant,
    by: &Provenance,
    requests: &[AccessRequest],
    outcomes: &mut [Outcome],
) {
    let version = tenant.policy_version();
    let events = requests
        .iter()
        .zip(outcomes.iter())
        .map(|(request, outcome)| decision_event(by, request, outcome.as_ref(), version))
        .collect();
    let Err(error) = tenant.record_decisions(events).await else {
        return;
    };
    metrics::counter!(UNRECORDED_DECISIONS, "tenant" => tenant.id().to_owned())
        .increment(outcomes.len() as u64);
    let reason = error.to_string();
    for decided in outcomes.iter_mut().flatten() {
        decided.decision.allowed = false;
        decided.decision.obligations.clear();
        decided.unrecorded = Some(reason.clone());
    }
}

fn count_decision(tenant: &str, allowed: bool, elapsed: std::time::Duration) {
    let outcome = EventOutcome::of_decision(allowed).as_str();
    metrics::counter!(DECISIONS, "tenant" => tenant.to_owned(), "outcome" => outcome).increment(1);
    metrics::histogram!(DECISION_SECONDS, "tenant" => tenant.to_owned())
        .record(elapsed.as_secs_f64());
}

/// The ledger entry for one decision (or refusal to evaluate).
fn decision_event(
    by: &Provenance,
    request: &AccessRequest,
    outcome: Result<&IdentifiedDecision, &RequestError>,
    policy_version: i64,
) -> Event {
    let mut details = json!({
        "subject_type": request.subject.kind,
        "policy_version": policy_version,
    });
    if !request.resource.properties.is_empty() {
        details["resource_properties"] = json!(request.resource.properties);
    }
    if !request.context.is_empty() {
        details["context"] = json!(request.context);
    }
    let (allowed, policies, decision_id) = match outcome {
        Ok(decided) => {
            let decision = &decided.decision;
            if !decision.obligations.is_empty() {
                details["obligations"] = json!(decision.obligations);
            }
            if !decision.errors.is_empty() {
                details["errors"] = json!(decision.errors);
            }
            let allowed = decision.allowed && decided.unrecorded.is_none();
            (
                allowed,
                decision.policies.clone(),
                Some(decided.decision_id.clone()),
            )
        }
        Err(error) => {
            details["error"] = json!(error.to_string());
            (false, Vec::new(), None)
        }
    };
    Event {
        subject: Some(request.subject.id.clone()),
        patient: patient_of(request),
        action: Some(request.action.name.clone()),
        resource: Some(format!("{}:{}", request.resource.kind, request.resource.id)),
        outcome: Some(EventOutcome::of_decision(allowed).as_str().into()),
        policies,
        decision_id,
        details,
        ..by.event(EventKind::Decision)
    }
}

/// The patient a request concerns: the resource itself, or its `patient` property.
fn patient_of(request: &AccessRequest) -> Option<String> {
    let resource = &request.resource;
    if is_patient_type(&resource.kind) {
        return Some(resource.id.clone());
    }
    match resource.properties.get("patient")? {
        Value::String(id) => Some(id.clone()),
        Value::Object(reference) => {
            let kind = reference.get("type").and_then(Value::as_str)?;
            let id = reference.get("id").and_then(Value::as_str)?;
            is_patient_type(kind).then(|| id.to_owned())
        }
        _ => None,
    }
}

fn is_patient_type(kind: &str) -> bool {
    kind.rsplit("::").next() == Some("Patient")
}
