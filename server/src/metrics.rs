//! Prometheus metrics: decisions by outcome, decision and HTTP latency histograms.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Decisions, labelled by tenant and outcome (`permit`, `deny`).
pub const DECISIONS: &str = "hms_decisions_total";
/// Time to evaluate one decision, in seconds.
pub const DECISION_SECONDS: &str = "hms_decision_duration_seconds";
/// Decisions turned into denials because the ledger could not record them.
pub const UNRECORDED_DECISIONS: &str = "hms_decisions_unrecorded_total";
/// HTTP requests, labelled by method, route and status.
pub const HTTP_REQUESTS: &str = "hms_http_requests_total";
/// HTTP request latency, in seconds.
pub const HTTP_SECONDS: &str = "hms_http_request_duration_seconds";
/// Connections closed on arrival because the node had as many open as allowed.
pub const REFUSED_CONNECTIONS: &str = "hms_http_connections_refused_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let buckets = [
            0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01,
            0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is already global: keep a private one so rendering still works.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Records one decision.
pub fn record_decision(tenant: &str, allowed: bool, elapsed: Duration) {
    let outcome = if allowed { "permit" } else { "deny" };
    metrics::counter!(DECISIONS, "tenant" => tenant.to_owned(), "outcome" => outcome).increment(1);
    metrics::histogram!(DECISION_SECONDS, "tenant" => tenant.to_owned())
        .record(elapsed.as_secs_f64());
}

/// Counts decisions denied because the ledger could not record them.
pub fn record_unrecorded_decisions(tenant: &str, count: usize) {
    metrics::counter!(UNRECORDED_DECISIONS, "tenant" => tenant.to_owned()).increment(count as u64);
}
