//! Typed configuration: defaults, then a TOML file, then `HMS_ACH__…` environment variables, then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hms_compliance_reports::ReportKind;
use hms_compliance_reports::kinds;
use hms_compliance_reports::render::Format;

use secrecy::SecretString;
use serde::Deserialize;

/// Everything the service can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `sqlite://DIR` (default `sqlite://data`) or `postgres://user@host:port`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// PostgreSQL database name prefix: `{prefix}` is the catalog, `{prefix}_t_{tenant}` each tenant.
    #[serde(default = "default_prefix")]
    pub database_prefix: String,
    /// Serve HTTPS with this certificate and key (PEM).
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Most evaluations in one batch.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Create a demo tenant, directory and credential when there is no tenant at all.
    #[serde(default = "default_true")]
    pub demo: bool,
    /// `json` (default) or `pretty` logs.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// Public base URL used in discovery documents; defaults to the listen address.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The audit ledger.
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// Compliance reports.
    #[serde(default)]
    pub reports: ReportsConfig,
    /// Client connections.
    #[serde(default)]
    pub http: HttpConfig,
    /// How many tenants a node keeps open.
    #[serde(default)]
    pub tenancy: TenancyConfig,
}

/// Bounds on the tenants a node keeps open: a tenant is opened when first
/// used and closed when idle, so that a node's database connections (at most
/// four per open tenant, plus the catalog's) stay bounded whatever the number
/// of tenants.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenancyConfig {
    /// Most tenants open at once; the least recently used is closed first.
    #[serde(default = "default_max_open_tenants")]
    pub max_open: usize,
    /// Seconds a tenant may go unused before it is closed on the node.
    #[serde(default = "default_idle_close_secs")]
    pub idle_close_secs: u64,
}

impl Default for TenancyConfig {
    fn default() -> Self {
        Self {
            max_open: default_max_open_tenants(),
            idle_close_secs: default_idle_close_secs(),
        }
    }
}

fn default_max_open_tenants() -> usize {
    16
}
fn default_idle_close_secs() -> u64 {
    600
}

/// Bounds on client connections, so that idle or slow clients cannot use up
/// the node's sockets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Most connections open at once; more are closed as soon as they are accepted.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a connection may take to send a request's head, counted from
    /// when the server is ready for it: a connection idle for this long
    /// between requests is closed too.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_connections: default_max_connections(),
            header_read_timeout_secs: default_header_read_timeout(),
        }
    }
}

fn default_max_connections() -> usize {
    10_000
}
fn default_header_read_timeout() -> u64 {
    10
}

/// Compliance report settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    /// Report packs generated on a schedule (`[[reports.schedule]]`).
    #[serde(default)]
    pub schedule: Vec<ScheduledPack>,
}

/// The audit ledger's keys and naming.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// The master key (base64 of 32 bytes) that seals every tenant's signing key.
    /// Prefer `master_key_file`; never log either.
    #[serde(default)]
    pub master_key: Option<SecretString>,
    /// A file holding the master key. With SQLite and no key configured,
    /// `{data dir}/master.key` is used, and created (mode 0600) on first start.
    #[serde(default)]
    pub master_key_file: Option<PathBuf>,
    /// Checkpoints of tenant `t` name their ledger `{origin}/t`.
    #[serde(default = "default_origin")]
    pub origin: String,
    /// Witnesses asked to cosign every tenant's checkpoints (C2SP tlog-witness).
    #[serde(default)]
    pub witnesses: Vec<WitnessConfig>,
    /// How often the latest checkpoints go to the witnesses, in milliseconds.
    #[serde(default = "default_witness_interval_ms")]
    pub witness_interval_ms: u64,
}

/// One witness: where it listens and its cosigning key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Its submission prefix: checkpoints go to `{url}/add-checkpoint`.
    pub url: String,
    /// Its cosignature/v1 vkey, e.g. `witness.example/w1+1a2b3c4d+BP…`.
    pub key: String,
}

fn default_witness_interval_ms() -> u64 {
    1000
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            master_key: None,
            master_key_file: None,
            origin: default_origin(),
            witnesses: Vec::new(),
            witness_interval_ms: default_witness_interval_ms(),
        }
    }
}

fn default_origin() -> String {
    "hms-ach".into()
}

/// Certificate and key files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_database_url() -> String {
    "sqlite://data".into()
}
fn default_prefix() -> String {
    "hms_ach".into()
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_max_batch() -> usize {
    1000
}
fn default_true() -> bool {
    true
}
fn default_log_format() -> String {
    "json".into()
}

/// Values given as command-line flags, which override everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--tls-cert` and `--tls-key`.
    pub tls: Option<TlsSettings>,
}

impl Settings {
    /// Loads defaults, the optional file, the environment and the overrides, in that order.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("HMS_ACH")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        if let Some(listen) = overrides.listen {
            settings.listen = listen;
        }
        if let Some(url) = overrides.database_url {
            settings.database_url = url;
        }
        if overrides.tls.is_some() {
            settings.tls = overrides.tls;
        }
        for pack in &settings.reports.schedule {
            pack.check()?;
        }
        Ok(settings)
    }

    /// The base URL callers reach this service at.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{}", self.listen)
            }
        }
    }
}

/// One pack of reports generated on a schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledPack {
    /// Names the pack's folders, e.g. `weekly-privacy`.
    pub name: String,
    /// The reports (kinds that need no patient or staff member).
    pub kinds: Vec<String>,
    /// How often, and over how far back, in seconds (604800 for weekly).
    pub every_seconds: u64,
    /// `csv` (default), `json`, `html` or `pdf`.
    #[serde(default = "default_format")]
    pub format: String,
    /// Where packs are written: `{folder}/{tenant}/{name}-{time}/{kind}.{format}`.
    pub folder: PathBuf,
    /// Only this tenant; every tenant when absent.
    #[serde(default)]
    pub tenant: Option<String>,
}

fn default_format() -> String {
    "csv".into()
}

impl ScheduledPack {
    /// Checks the pack can be generated unattended.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.every_seconds > 0,
            "reports.schedule `{}`: every_seconds must be positive",
            self.name
        );
        anyhow::ensure!(
            Format::parse(&self.format).is_some(),
            "reports.schedule `{}`: format is csv, json, html or pdf",
            self.name
        );
        for name in &self.kinds {
            let kind = ReportKind::parse(name)
                .with_context(|| format!("reports.schedule `{}`: no report `{name}`", self.name))?;
            kinds::ledger_query(kind, &hms_compliance_reports::Parameters::default()).map_err(
                |e| {
                    anyhow::anyhow!(
                        "reports.schedule `{}`: `{name}` cannot be scheduled: {e}",
                        self.name
                    )
                },
            )?;
        }
        Ok(())
    }
}
