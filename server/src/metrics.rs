//! Prometheus metrics: the recorder, and HTTP requests and latency (decisions
//! are counted where they are made, in `hms_governance::decisions`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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
