//! `hms-ach ledger …`: verify a tenant's ledger online or an export bundle offline,
//! export bundles, quarantine what no checkpoint signs, and list or rotate signing keys.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use hms_audit_ledger::{CosignerVerifier, Report, Trust, VerifierKey, verify_bundle};
use indicatif::{ProgressBar, ProgressStyle};

use crate::witnessing::{self, Witness};
use hms_governance::tenancy::{Tenant, Tenants};

/// A bundle is read in blocks of this many bytes: few reads, few progress updates.
const BUNDLE_READ_BYTES: usize = 1 << 20;

/// Ledger subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Verify a tenant's whole ledger in its database, or (with --bundle) an export offline.
    Verify {
        /// Tenant whose stored ledger to verify.
        #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
        tenant: Option<String>,
        /// Export bundle (JSON lines) to verify without any database.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Trusted public key (`origin+keyid+base64`); repeat for rotated keys.
        /// Required with --bundle; online, the ledger's published keys are used when absent.
        #[arg(long = "key")]
        keys: Vec<String>,
        /// File of trusted public keys, one per line.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// A signed checkpoint note saved from an earlier look: the ledger must
        /// still hold it (same size, same root). Repeatable.
        #[arg(long = "since")]
        saved: Vec<PathBuf>,
        /// A witness's cosignature/v1 key: the latest checkpoint it cosigned
        /// must still be held, unforked. Repeatable.
        #[arg(long = "witness-key")]
        witness_keys: Vec<String>,
        /// A witness URL to ask for the latest checkpoint it cosigned
        /// (`GET {url}/latest`), checked with the --witness-key keys. Repeatable.
        #[arg(long = "ask-witness", requires = "witness_keys")]
        ask_witness: Vec<String>,
    },
    /// Write a tenant's export bundle: entries, checkpoints and public keys.
    Export {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// After tampering that stops the ledger appending: move everything no
    /// verified checkpoint signs into an evidence file, set the chain head back
    /// to the latest verified checkpoint, and record that in the ledger.
    Quarantine {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// The evidence file to create (JSON lines of the removed rows).
        #[arg(long)]
        out: PathBuf,
        /// Trusted public key; the ledger's first published key when absent.
        #[arg(long = "key")]
        keys: Vec<String>,
    },
    /// Submit a tenant's latest checkpoint to every configured witness now.
    Witness {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
    },
    /// Print a tenant's public keys, current and retired.
    Keys {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
    },
    /// Generate a new signing key for a tenant; the old one stays published.
    RotateKey {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
    },
}

impl LedgerCommand {
    /// Whether the command works on a bundle alone, without configuration or database.
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            Self::Verify {
                bundle: Some(_),
                ..
            }
        )
    }
}

/// Verifies a bundle with nothing but the trusted keys; exit code 0 when valid.
pub async fn verify_offline(command: LedgerCommand) -> anyhow::Result<i32> {
    let LedgerCommand::Verify {
        bundle: Some(bundle),
        ..
    } = &command
    else {
        anyhow::bail!("not an offline verification");
    };
    let bundle = bundle.clone();
    let trust = trust(&command, None).await?;
    anyhow::ensure!(
        !trust.keys.is_empty(),
        "offline verification needs the trusted public key: --key or --key-file"
    );
    let file = std::fs::File::open(&bundle)
        .with_context(|| format!("cannot open `{}`", bundle.display()))?;
    let bar = progress_bar(file.metadata()?.len(), "{bytes}/{total_bytes}");
    let reader = BufReader::with_capacity(BUNDLE_READ_BYTES, bar.wrap_read(file));
    let report = verify_bundle(reader, &trust, |_| {})
        .with_context(|| format!("`{}` is not a ledger bundle", bundle.display()))?;
    bar.finish_and_clear();
    Ok(print_report(&report))
}

/// Runs a command that needs the tenant's database.
pub async fn run_online(
    command: LedgerCommand,
    tenants: Tenants,
    witnesses: Vec<Witness>,
) -> anyhow::Result<i32> {
    match command {
        LedgerCommand::Witness { tenant } => {
            anyhow::ensure!(
                !witnesses.is_empty(),
                "no witness is configured ([[ledger.witnesses]])"
            );
            let tenant = find(&tenants, &tenant).await?;
            let client = reqwest::Client::new();
            for witness in &witnesses {
                witnessing::publish(&client, &tenant.ledger, witness)
                    .await
                    .with_context(|| format!("witness {}", witness.key.name()))?;
            }
            for kept in tenant.ledger.cosignatures().await? {
                println!(
                    "{} cosigned size {} at {}",
                    kept.witness, kept.tree_size, kept.cosigned_at
                );
            }
            Ok(0)
        }
        LedgerCommand::Verify { ref tenant, .. } => {
            let tenant = find(&tenants, tenant.as_deref().unwrap_or_default()).await?;
            let trust = trust(&command, Some(tenant.ledger.origin())).await?;
            let bar = progress_bar(0, "{pos}/{len} entries");
            let report = tenant
                .ledger
                .verify(&trust, |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await?;
            bar.finish_and_clear();
            Ok(print_report(&report))
        }
        LedgerCommand::Export { tenant, out } => {
            let tenant = find(&tenants, &tenant).await?;
            export(&tenant, &out).await?;
            println!("wrote {}", out.display());
            Ok(0)
        }
        LedgerCommand::Quarantine { tenant, out, keys } => {
            let tenant = find(&tenants, &tenant).await?;
            let done =
                quarantine(&tenant, &out, Trust::with_keys(trusted_keys(&keys, None)?)).await?;
            println!(
                "kept the signed history of {} entries; moved {} entries, {} checkpoints and {} tree nodes \
                 to {} (sha256 {}); recorded as ledger.quarantine",
                done.kept,
                done.entries,
                done.checkpoints,
                done.nodes,
                out.display(),
                done.evidence_sha256
            );
            Ok(0)
        }
        LedgerCommand::Keys { tenant } => {
            for key in find(&tenants, &tenant).await?.ledger.public_keys().await? {
                let state = if key.retired_at.is_some() {
                    "retired"
                } else {
                    "active"
                };
                println!("{}\t{state}", key.vkey);
            }
            Ok(0)
        }
        LedgerCommand::RotateKey { tenant } => {
            let tenant = find(&tenants, &tenant).await?;
            let by = hms_governance::audit::Provenance::local(hms_governance::audit::Actor::Cli);
            let key = tenant.rotate_ledger_key(&by).await?;
            println!("new signing key {}\n{}", key.key_id, key.vkey);
            Ok(0)
        }
    }
}

pub(super) async fn find(tenants: &Tenants, id: &str) -> anyhow::Result<std::sync::Arc<Tenant>> {
    tenants
        .get(id)
        .await?
        .with_context(|| format!("unknown tenant `{id}`"))
}

/// Streams the bundle to `out` as the ledger produces it.
async fn export(tenant: &Tenant, out: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let (sink, mut lines) = tokio::sync::mpsc::channel::<String>(1024);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut file = BufWriter::new(file);
        while let Some(line) = lines.blocking_recv() {
            file.write_all(line.as_bytes())?;
            file.write_all(b"\n")?;
        }
        file.into_inner()?.sync_all()
    });
    let exported = tenant.ledger.export(&sink).await;
    drop(sink);
    writer.await??;
    Ok(exported?)
}

/// What the auditor brings to `ledger verify`: keys, saved checkpoints,
/// witness keys and, for the ledger `origin`, what the witnesses asked hold.
async fn trust(command: &LedgerCommand, origin: Option<&str>) -> anyhow::Result<Trust> {
    let LedgerCommand::Verify {
        keys,
        key_file,
        saved,
        witness_keys,
        ask_witness,
        ..
    } = command
    else {
        anyhow::bail!("not a verification");
    };
    let saved = saved
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    let witnesses = witness_keys
        .iter()
        .map(|text| {
            CosignerVerifier::parse(text).with_context(|| format!("invalid witness key `{text}`"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut cosigned = Vec::new();
    for url in ask_witness {
        let origin =
            origin.context("--ask-witness needs the ledger's origin: use it with --tenant")?;
        cosigned.push(ask(url, origin).await?);
    }
    Ok(Trust {
        keys: trusted_keys(keys, key_file.as_deref())?,
        saved,
        witnesses,
        cosigned,
    })
}

/// The latest checkpoint of `origin` the witness at `url` cosigned.
async fn ask(url: &str, origin: &str) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .get(format!("{}/latest", url.trim_end_matches('/')))
        .query(&[("origin", origin)])
        .send()
        .await
        .with_context(|| format!("cannot reach the witness at {url}"))?;
    let status = response.status();
    let body = response.text().await?;
    anyhow::ensure!(
        status.is_success(),
        "the witness at {url} answered {status}: {}",
        body.trim()
    );
    Ok(body)
}

/// Runs the quarantine, writing the evidence to a new file synced to disk.
async fn quarantine(
    tenant: &Tenant,
    out: &Path,
    trust: Trust,
) -> anyhow::Result<hms_audit_ledger::store::Quarantined> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("cannot create `{}`", out.display()))?;
    let mut writer = BufWriter::new(file);
    let done = tenant
        .ledger
        .quarantine(
            &trust,
            |line| {
                writer.write_all(line.as_bytes())?;
                writer.write_all(b"\n")?;
                writer.flush()?;
                writer.get_ref().sync_data()
            },
            &hms_governance::audit::Actor::Cli.to_string(),
        )
        .await?;
    Ok(done)
}

fn trusted_keys(keys: &[String], file: Option<&Path>) -> anyhow::Result<Vec<VerifierKey>> {
    let mut texts: Vec<String> = keys.to_vec();
    if let Some(file) = file {
        let content = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
        texts.extend(
            content
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_owned),
        );
    }
    texts
        .iter()
        .map(|text| {
            VerifierKey::parse(text).with_context(|| format!("invalid public key `{text}`"))
        })
        .collect()
}

fn progress_bar(length: u64, counter: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if let Ok(style) =
        ProgressStyle::with_template(&format!("verifying [{{bar:40}}] {counter} ({{eta}})"))
    {
        bar.set_style(style);
    }
    bar
}

/// Prints the verdict and every problem; the exit code is 0 only for a valid ledger.
fn print_report(report: &Report) -> i32 {
    let checkpoint = report
        .latest_checkpoint
        .as_ref()
        .map(|c| {
            format!(
                "latest checkpoint: size {} at {}",
                c.size,
                c.time.to_rfc3339()
            )
        })
        .unwrap_or_else(|| "no checkpoint".into());
    println!(
        "ledger {}: {} entries, {} checkpoints verified, root {}; {checkpoint}",
        report.origin,
        report.entries,
        report.checkpoints_verified,
        hex::encode(report.root)
    );
    if report.is_valid() {
        println!("OK: the ledger verifies");
        return 0;
    }
    for problem in &report.problems {
        println!("PROBLEM {problem}");
    }
    if report.problems_omitted > 0 {
        println!("… and {} more problems", report.problems_omitted);
    }
    println!(
        "FAILED: {} problem(s)",
        report.problems.len() as u64 + report.problems_omitted
    );
    1
}
