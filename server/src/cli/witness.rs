//! `hms-ach witness …`: make a witness key, and run the witness.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Subcommand;
use hms_audit_ledger::{CosignerKey, VerifierKey};

use crate::witness::{WitnessService, serve};

/// Witness subcommands.
#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Generate a witness signing key into a new file (mode 0600) and print its public key.
    Keygen {
        /// The witness's name, e.g. `witness.hospital.example/w1`.
        #[arg(long)]
        name: String,
        /// Where to write the secret key.
        #[arg(long)]
        key_file: PathBuf,
    },
    /// Serve the witness (C2SP tlog-witness) for the ledgers given.
    Serve {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// The witness's name, as at keygen.
        #[arg(long)]
        name: String,
        /// The secret key file from `witness keygen`.
        #[arg(long)]
        key_file: PathBuf,
        /// Where the witness keeps what it last cosigned for each ledger.
        #[arg(long)]
        state_file: PathBuf,
        /// A ledger to follow: its signing key (`hms-ach ledger keys`). Repeatable.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
    },
}

/// Runs a witness command; exit code 0 when done.
pub async fn run(command: WitnessCommand) -> anyhow::Result<i32> {
    match command {
        WitnessCommand::Keygen { name, key_file } => {
            let seed: [u8; 32] = rand::random();
            let key = CosignerKey::from_seed(&name, seed)?;
            write_secret(&key_file, &BASE64.encode(seed))?;
            println!("{}", key.verifier());
            Ok(0)
        }
        WitnessCommand::Serve {
            listen,
            name,
            key_file,
            state_file,
            logs,
        } => {
            let key = CosignerKey::from_seed(&name, read_seed(&key_file)?)?;
            let logs = logs
                .iter()
                .map(|vkey| {
                    VerifierKey::parse(vkey).with_context(|| format!("invalid log key `{vkey}`"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            println!("witness {}", key.verifier());
            serve(WitnessService::open(key, logs, state_file)?, listen).await?;
            Ok(0)
        }
    }
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    writeln!(file, "{text}")?;
    file.sync_all()?;
    Ok(())
}

fn read_seed(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    BASE64
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| format!("`{}` is not a witness key file", path.display()))
}
