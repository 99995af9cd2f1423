//! Finding the master key that seals tenants' ledger signing keys.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use hms_audit_ledger::store::MasterKey;
use hms_directory::Backend;

use crate::config::LedgerConfig;

/// The configured master key; with SQLite and none configured, the one in
/// `{data dir}/master.key`, created on first use.
pub fn load(config: &LedgerConfig, backend: &Backend) -> anyhow::Result<MasterKey> {
    if let Some(key) = &config.master_key {
        return MasterKey::from_base64(key).context("ledger.master_key");
    }
    if let Some(file) = &config.master_key_file {
        return read(file);
    }
    match backend {
        Backend::Sqlite { dir } => read_or_create(&dir.join("master.key")),
        Backend::Postgres { .. } => anyhow::bail!(
            "PostgreSQL needs a ledger master key shared by every node: set \
             ledger.master_key_file (or HMS_ACH__LEDGER__MASTER_KEY_FILE)"
        ),
    }
}

fn read(file: &Path) -> anyhow::Result<MasterKey> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the master key file `{}`", file.display()))?;
    MasterKey::from_base64(&text).with_context(|| format!("master key file `{}`", file.display()))
}

fn read_or_create(file: &Path) -> anyhow::Result<MasterKey> {
    if file.exists() {
        return read(file);
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let key = MasterKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(mut out) => {
            writeln!(out, "{}", key.to_base64())
                .with_context(|| format!("cannot write `{}`", file.display()))?;
            out.sync_all()?;
            tracing::warn!(file = %file.display(), "generated a new ledger master key; back it up");
            Ok(key)
        }
        // Another process created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(file),
        Err(e) => Err(e).with_context(|| format!("cannot create `{}`", file.display())),
    }
}
