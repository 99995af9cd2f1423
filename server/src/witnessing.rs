//! Publishing checkpoints to witnesses (`[[ledger.witnesses]]`): every
//! `witness_interval_ms`, each tenant's latest checkpoint goes to each
//! witness with a consistency proof from what the witness last cosigned
//! (C2SP tlog-witness), and the cosignature that comes back is kept.
//!
//! A witness that has cosigned more entries than the ledger now holds means
//! the ledger was rolled back behind the service's back: that is logged as
//! an error on every attempt until an operator deals with it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hms_audit_ledger::CosignerVerifier;
use hms_audit_ledger::store::Ledger;

use crate::config::WitnessConfig;
use hms_governance::tenancy::Tenants;

/// How long one witness may take to answer.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);

/// A witness as the publisher calls it.
#[derive(Clone, Debug)]
pub struct Witness {
    /// `POST {url}/add-checkpoint`.
    pub url: String,
    /// Its cosigning key.
    pub key: CosignerVerifier,
}

impl Witness {
    /// Reads the configured witnesses, refusing a key that is not a
    /// cosignature/v1 vkey.
    pub fn from_config(config: &[WitnessConfig]) -> anyhow::Result<Vec<Self>> {
        config
            .iter()
            .map(|witness| {
                let key = CosignerVerifier::parse(&witness.key)
                    .with_context(|| format!("ledger.witnesses: invalid key `{}`", witness.key))?;
                Ok(Self {
                    url: witness.url.trim_end_matches('/').to_owned(),
                    key,
                })
            })
            .collect()
    }
}

/// Starts publishing, when witnesses are configured.
pub fn start(tenants: Arc<Tenants>, witnesses: Vec<Witness>, every: Duration) {
    if witnesses.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(WITNESS_TIMEOUT)
            .build()
            .unwrap_or_default();
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            publish_all(&client, &tenants, &witnesses).await;
        }
    });
}

/// Submits the latest checkpoint of every tenant open on this node: a
/// ledger grows only where its tenant is open (or through the CLI, whose
/// entries are witnessed when the tenant is next opened).
async fn publish_all(client: &reqwest::Client, tenants: &Tenants, witnesses: &[Witness]) {
    for tenant in tenants.served() {
        let id = tenant.id();
        for witness in witnesses {
            if let Err(error) = publish(client, &tenant.ledger, witness).await {
                tracing::error!(
                    tenant = id,
                    witness = witness.key.name(),
                    error = format!("{error:#}"),
                    "checkpoint not witnessed"
                );
            }
        }
    }
}

/// Submits the latest checkpoint to `witness` unless it cosigned it already;
/// after a 409 (another node got there first), once more from the size the
/// witness holds.
pub async fn publish(
    client: &reqwest::Client,
    ledger: &Ledger,
    witness: &Witness,
) -> anyhow::Result<()> {
    let kept = ledger.cosignatures().await?;
    let mut old = kept
        .iter()
        .find(|c| c.witness == witness.key.name())
        .map_or(0, |c| c.tree_size);
    for _ in 0..2 {
        let Some(request) = ledger.witness_request(old).await? else {
            return Ok(());
        };
        let latest = hms_audit_ledger::checkpoint::parse_unverified(&request.note)?.size;
        if old == latest && kept.iter().any(|c| c.witness == witness.key.name()) {
            return Ok(());
        }
        let response = client
            .post(format!("{}/add-checkpoint", witness.url))
            .body(request.to_body())
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        match status {
            200 => {
                let line = cosignature_lines(&body, witness.key.name());
                ledger
                    .keep_cosignature(&witness.key, &request.note, &line)
                    .await?;
                return Ok(());
            }
            409 if body.trim().parse::<u64>().is_ok() => {
                let held: u64 = body.trim().parse()?;
                anyhow::ensure!(
                    held <= latest,
                    "the witness has cosigned {held} entries but the ledger's latest checkpoint signs {latest}: \
                     the ledger was rolled back; run `hms-ach ledger verify` with the witness key"
                );
                old = held;
            }
            _ => anyhow::bail!("the witness answered {status}: {}", body.trim()),
        }
    }
    anyhow::bail!("the witness kept answering 409")
}

/// The response's signature lines by the witness named `name`.
fn cosignature_lines(body: &str, name: &str) -> String {
    let prefix = format!("\u{2014} {name} ");
    body.lines()
        .filter(|line| line.starts_with(&prefix))
        .map(|line| format!("{line}\n"))
        .collect()
}
