//! What the load examples share: an in-process server on a fresh database,
//! and latency percentiles.

use std::time::Duration;

use hms_ach::app::Application;
use hms_ach::config::Settings;

/// Latency percentiles of `samples`, in milliseconds.
pub fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    format!(
        "n={} p50={:.2}ms p99={:.2}ms max={:.2}ms",
        samples.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    )
}

/// Builds the server on `database` (`sqlite` for a fresh folder under `dir`,
/// or a `postgres://` URL); returns it with its base URL.
pub async fn start(database: &str, dir: &std::path::Path) -> (Application, String) {
    let url = if database == "sqlite" {
        format!("sqlite://{}", dir.display())
    } else {
        database.to_owned()
    };
    let prefix = format!("hmsbench_{}", std::process::id());
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndatabase_url = \"{url}\"\ndatabase_prefix = \"{prefix}\"\ndemo = false\n\
         [ledger]\nmaster_key = \"dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=\"\n"
    );
    let file = dir.join("bench.toml");
    std::fs::write(&file, toml).unwrap();
    let settings = Settings::load(Some(&file), Default::default()).unwrap();
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    (app, base)
}
