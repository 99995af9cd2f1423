//! Structured logs: JSON lines by default, never with secrets or patient data.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber; `RUST_LOG` overrides the default `info` level.
pub fn init(format: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE);
    // A second initialisation (tests) is harmless: the first subscriber stays.
    let _ = if format == "pretty" {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .try_init()
    };
}
