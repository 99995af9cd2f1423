//! The `hms-ach` command line: serve, migrate, tenants, clients, policy validation, tests and change impact, ledger, reports, witness.

mod ledger;
mod report;
mod witness;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hms_authz::{PolicyBundle, cases};
use hms_directory::TenantId;

use crate::app::Application;
use crate::config::{Overrides, Settings, TlsSettings};
use crate::telemetry;
use hms_governance::audit::Provenance;
use hms_governance::credentials::Scope;
use hms_governance::tenancy::{ChangeError, Tenants, bundle_from_dir, hms_bundle};

/// HMS-ACH: access decisions, staff credentials and health-data audit for hospital systems.
#[derive(Debug, Parser)]
#[command(name = "hms-ach", version)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "HMS_ACH_CONFIG")]
    config: Option<PathBuf>,
    /// Database: `sqlite://DIR` or `postgres://user@host:port`.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8443.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// PEM certificate chain: serve HTTPS (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Create or upgrade the catalog and every tenant database, then exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage platform operators' credentials (for `/operator/v1`).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Validate and test policy bundles.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Verify, export and manage audit ledgers.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Produce a compliance report.
    Report(report::ReportArgs),
    /// Run a checkpoint witness for ledgers kept elsewhere.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant with its own database and the HMS policy set.
    Create {
        /// Tenant id, as used in URLs.
        id: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Local time offset from UTC, in minutes (for shift rules).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        utc_offset_minutes: i64,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Issue a platform operator's credential; the token is printed once.
    Issue {
        /// Who holds it.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Issue an API credential for a tenant; the token is printed once.
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// Who the client is, e.g. `emr-production`.
        #[arg(long)]
        name: String,
        /// Scopes: `pdp` (decisions), `admin` (policies, directory, clients), `audit` (the ledger).
        #[arg(long = "scope", value_delimiter = ',', default_value = "pdp")]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a bundle folder (schema.cedarschema, *.cedar, bundle.json), or the built-in HMS set.
    Validate {
        /// Bundle folder; the built-in HMS set when absent.
        dir: Option<PathBuf>,
    },
    /// Run decision test cases (*.json) from DIR against a bundle.
    Test {
        /// Folder of case files.
        dir: PathBuf,
        /// Bundle folder; the built-in HMS set when absent.
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Replay a tenant's recorded decisions against a candidate bundle and
    /// print, as JSON, which would change; nothing is installed.
    Impact {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// Candidate bundle folder.
        bundle: PathBuf,
        /// Days of recorded decisions to replay (1 to 366).
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Exit with status 2 when any decision would change (1 is an error).
        #[arg(long)]
        fail_on_change: bool,
    },
}

impl Cli {
    /// Runs the command; returns the process exit code.
    pub async fn run(self) -> anyhow::Result<i32> {
        let overrides = Overrides {
            database_url: self.database_url.clone(),
            ..Overrides::default()
        };
        match self.command.unwrap_or(Command::Serve {
            listen: None,
            tls_cert: None,
            tls_key: None,
        }) {
            Command::Serve {
                listen,
                tls_cert,
                tls_key,
            } => {
                let tls = tls_cert
                    .zip(tls_key)
                    .map(|(cert, key)| TlsSettings { cert, key });
                let settings = Settings::load(
                    self.config.as_deref(),
                    Overrides {
                        listen,
                        tls,
                        ..overrides
                    },
                )?;
                telemetry::init(&settings.log_format);
                Application::build(settings).await?.run().await?;
                Ok(0)
            }
            Command::Migrate => {
                let tenants = open_tenants(self.config.as_deref(), overrides).await?;
                let records = tenants.list().await?;
                for record in &records {
                    // Opening a tenant brings its database up to date; a
                    // suspended one is brought up to date when resumed.
                    match tenants.get(record.id.as_str()).await {
                        Err(ChangeError::Suspended(id)) => println!("tenant {id} is suspended"),
                        opened => drop(opened?),
                    }
                }
                println!(
                    "migrated the catalog and {} tenant database(s)",
                    records.len()
                );
                Ok(0)
            }
            Command::Operator(OperatorCommand::Issue { name }) => {
                let tenants = open_tenants(self.config.as_deref(), overrides).await?;
                let by = Provenance::local(hms_governance::audit::Actor::Cli);
                let token = hms_governance::operators::issue(&tenants, &name, &by).await?;
                println!(
                    "operator credential issued to {name}; its token (shown once):\n{}",
                    token.expose()
                );
                Ok(0)
            }
            Command::Tenant(command) => {
                tenant_command(
                    command,
                    open_tenants(self.config.as_deref(), overrides).await?,
                )
                .await
            }
            Command::Client(ClientCommand::Create {
                tenant,
                name,
                scopes,
            }) => {
                let tenants = open_tenants(self.config.as_deref(), overrides).await?;
                let tenant = tenants
                    .get(&tenant)
                    .await?
                    .with_context(|| format!("unknown tenant `{tenant}`"))?;
                let scopes = scopes
                    .iter()
                    .map(|s| {
                        Scope::parse(s)
                            .with_context(|| format!("unknown scope `{s}` (pdp, admin, audit)"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let (client, token) = tenant
                    .create_client(
                        &name,
                        &scopes,
                        &Provenance::local(hms_governance::audit::Actor::Cli),
                    )
                    .await?;
                println!(
                    "client {} created for tenant {}; its token (shown once):\n{}",
                    client.id,
                    tenant.id(),
                    token.expose()
                );
                Ok(0)
            }
            Command::Policy(PolicyCommand::Validate { dir }) => validate_bundle(dir.as_deref()),
            Command::Policy(PolicyCommand::Test { dir, bundle }) => {
                test_cases(&dir, bundle.as_deref())
            }
            Command::Policy(PolicyCommand::Impact {
                tenant,
                bundle,
                days,
                fail_on_change,
            }) => {
                let tenants = open_tenants(self.config.as_deref(), overrides).await?;
                policy_impact(&tenants, &tenant, &bundle, days, fail_on_change).await
            }
            Command::Ledger(command) if command.is_offline() => {
                ledger::verify_offline(command).await
            }
            Command::Ledger(command) => {
                let settings = Settings::load(self.config.as_deref(), overrides)?;
                telemetry::init(&settings.log_format);
                let witnesses =
                    crate::witnessing::Witness::from_config(&settings.ledger.witnesses)?;
                let tenants = crate::tenants::open(&settings).await?;
                ledger::run_online(command, tenants, witnesses).await
            }
            Command::Witness(command) => {
                telemetry::init("json");
                witness::run(command).await
            }
            Command::Report(args) => {
                let tenants = open_tenants(self.config.as_deref(), overrides).await?;
                report::run(args, tenants).await
            }
        }
    }
}

async fn open_tenants(config: Option<&Path>, overrides: Overrides) -> anyhow::Result<Tenants> {
    let settings = Settings::load(config, overrides)?;
    telemetry::init(&settings.log_format);
    crate::tenants::open(&settings).await
}

async fn tenant_command(command: TenantCommand, tenants: Tenants) -> anyhow::Result<i32> {
    match command {
        TenantCommand::Create {
            id,
            name,
            utc_offset_minutes,
        } => {
            let id: TenantId = id.parse()?;
            let tenant = tenants
                .create(
                    &id,
                    name.as_deref().unwrap_or(id.as_str()),
                    utc_offset_minutes,
                    &Provenance::local(hms_governance::audit::Actor::Cli),
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&tenant.record)?);
        }
        TenantCommand::List => {
            println!("{}", serde_json::to_string_pretty(&tenants.list().await?)?)
        }
    }
    Ok(0)
}

async fn policy_impact(
    tenants: &Tenants,
    tenant: &str,
    bundle: &Path,
    days: u32,
    fail_on_change: bool,
) -> anyhow::Result<i32> {
    let tenant = tenants
        .get(tenant)
        .await?
        .with_context(|| format!("unknown tenant `{tenant}`"))?;
    anyhow::ensure!(
        (1..=hms_governance::impact::MAX_DAYS).contains(&days),
        "--days is 1 to {}",
        hms_governance::impact::MAX_DAYS
    );
    let report =
        hms_governance::impact::policy_impact(&tenant, bundle_from_dir(bundle)?, days).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    let changed = report.permit_to_deny + report.deny_to_permit;
    eprintln!(
        "{} decisions replayed: {} permit→deny, {} deny→permit ({} drifted from what was recorded)",
        report.replayed, report.permit_to_deny, report.deny_to_permit, report.drifted
    );
    Ok(if fail_on_change && changed > 0 { 2 } else { 0 })
}

fn load_bundle(dir: Option<&Path>) -> anyhow::Result<Result<PolicyBundle, hms_authz::BundleError>> {
    let source = match dir {
        Some(dir) => bundle_from_dir(dir)?,
        None => hms_bundle(),
    };
    Ok(PolicyBundle::compile(source))
}

fn validate_bundle(dir: Option<&Path>) -> anyhow::Result<i32> {
    match load_bundle(dir)? {
        Ok(bundle) => {
            println!(
                "valid: {} policies ({})",
                bundle.policy_count(),
                bundle.policy_ids().join(", ")
            );
            Ok(0)
        }
        Err(e) => {
            for problem in e.problems() {
                let at = problem
                    .location
                    .map(|l| format!("{}:{}:{}: ", l.file, l.line, l.column))
                    .unwrap_or_default();
                let id = problem
                    .policy_id
                    .map(|id| format!("[{id}] "))
                    .unwrap_or_default();
                eprintln!("{at}{id}{}", problem.message);
            }
            Ok(1)
        }
    }
}

fn test_cases(dir: &Path, bundle_dir: Option<&Path>) -> anyhow::Result<i32> {
    let bundle = match load_bundle(bundle_dir)? {
        Ok(bundle) => Arc::new(bundle),
        Err(e) => anyhow::bail!("the bundle does not validate: {e}"),
    };
    let outcomes = cases::run_dir(dir, &bundle)?;
    let failed: Vec<_> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    for outcome in &failed {
        let file = outcome
            .file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        eprintln!(
            "FAIL {file} / {}: {}",
            outcome.name,
            outcome.failure.as_deref().unwrap_or_default()
        );
    }
    println!(
        "{} passed, {} failed",
        outcomes.len() - failed.len(),
        failed.len()
    );
    Ok(i32::from(!failed.is_empty()))
}
