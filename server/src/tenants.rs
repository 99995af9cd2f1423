//! Opening the tenants as configured: the database, the master key found or
//! created, the ledger origin and the public URL tokens are issued under.

use anyhow::Context;
use hms_directory::Backend;
use hms_governance::tenancy::{TenancySettings, Tenants};
use hms_keys::MasterKey;
use secrecy::ExposeSecret;

use crate::config::{LedgerConfig, Settings};

/// Opens the tenants of the configured database, with their ledgers.
pub async fn open(settings: &Settings) -> anyhow::Result<Tenants> {
    let backend = Backend::from_url(&settings.database_url, &settings.database_prefix)?;
    let tenancy = TenancySettings {
        master_key: master_key(&settings.ledger, &backend)?,
        max_open: settings.tenancy.max_open.max(1),
        idle_close: std::time::Duration::from_secs(settings.tenancy.idle_close_secs),
        origin_prefix: settings.ledger.origin.clone(),
        public_base: settings.public_base(),
    };
    Ok(Tenants::open(backend, tenancy).await?)
}

/// The configured master key; with SQLite and none configured, the one in
/// `{data dir}/master.key`, created on first use.
fn master_key(config: &LedgerConfig, backend: &Backend) -> anyhow::Result<MasterKey> {
    if let Some(key) = &config.master_key {
        return MasterKey::from_base64(key.expose_secret()).context("ledger.master_key");
    }
    if let Some(file) = &config.master_key_file {
        return Ok(hms_keys::read_file(file)?);
    }
    match backend {
        Backend::Sqlite { dir } => {
            let file = dir.join("master.key");
            let (key, created) = hms_keys::read_or_create_file(&file)?;
            if created {
                tracing::warn!(file = %file.display(), "generated a new ledger master key; back it up");
            }
            Ok(key)
        }
        Backend::Postgres { .. } => anyhow::bail!(
            "PostgreSQL needs a ledger master key shared by every node: set \
             ledger.master_key_file (or HMS_ACH__LEDGER__MASTER_KEY_FILE)"
        ),
    }
}
