//! Recovering a ledger that was changed behind the service's back, which
//! then refuses to append (`hms-ach ledger quarantine`).
//!
//! Only what no verified checkpoint signs is touched. The signed history up
//! to the latest verified checkpoint must verify on its own; everything past
//! it (entries, checkpoints and tree nodes) is written out as evidence and
//! removed, the chain head is set back to that checkpoint, and the
//! quarantine itself is recorded in the ledger, signed, with the SHA-256 of
//! the evidence. Damage inside the signed history is refused: that ledger
//! must be restored from a backup.

use sha2::{Digest, Sha256};
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::rows::{ENTRY_COLUMNS, entry_from_row, to_i64};
use super::{Ledger, LedgerError};
use crate::bundle::BundleLine;
use crate::checkpoint::note_hash;
use crate::entry::Event;
use crate::merkle::{Frontier, Hash};
use crate::trust::Trust;
use crate::verify::{Report, Verifier};

/// The guards each database puts on the tables a quarantine removes rows from.
const GUARDED_TABLES: [&str; 3] = ["ledger_entries", "ledger_checkpoints", "ledger_nodes"];

/// What a quarantine did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The size of the signed history kept: the latest verified checkpoint.
    pub kept: u64,
    /// Entries removed (those at and after `kept`).
    pub entries: u64,
    /// Checkpoints removed.
    pub checkpoints: u64,
    /// Tree nodes removed.
    pub nodes: u64,
    /// SHA-256 of the evidence lines, hex.
    pub evidence_sha256: String,
}

impl Ledger {
    /// Quarantines everything past the latest checkpoint that verifies with
    /// `trust` (see the module documentation). `evidence` receives each
    /// removed row as a JSON line before anything is removed; `actor` is
    /// recorded as who did it.
    pub async fn quarantine(
        &self,
        trust: &Trust,
        mut evidence: impl FnMut(&str) -> std::io::Result<()>,
        actor: &str,
    ) -> Result<Quarantined, LedgerError> {
        let report = self.verify(trust, |_, _| {}).await?;
        if report.is_valid() {
            return Err(LedgerError::Invalid(
                "the ledger verifies: there is nothing to quarantine".into(),
            ));
        }
        let kept = report.latest_checkpoint.as_ref().map_or(0, |c| c.size);
        if kept == 0 && report.entries > 0 {
            return Err(LedgerError::Invalid(
                "no checkpoint verifies with the keys given, so nothing could be kept: check the keys".into(),
            ));
        }
        let prefix = self.verify_prefix(trust, kept).await?;
        if !prefix.report.is_valid() {
            let first = prefix.report.problems.first().map(ToString::to_string);
            return Err(LedgerError::Invalid(format!(
                "the signed history itself is damaged ({}): restore the ledger from a backup",
                first.unwrap_or_default()
            )));
        }
        let mut tx = self.begin_change().await?;
        let mut digest = Sha256::new();
        let mut write = |line: String| -> Result<(), LedgerError> {
            digest.update(line.as_bytes());
            digest.update(b"\n");
            evidence(&line)
                .map_err(|e| LedgerError::Invalid(format!("cannot write the evidence: {e}")))
        };
        let (entries, checkpoints, nodes) = copy_out(&mut tx, kept, &mut write).await?;
        let evidence_sha256 = hex::encode(digest.finalize());
        let done = Quarantined {
            kept,
            entries,
            checkpoints,
            nodes,
            evidence_sha256,
        };
        remove_past(&mut tx, self.shared.dialect, kept).await?;
        self.reset_head(&mut tx, &prefix).await?;
        let event = quarantine_event(&done, actor, &report);
        self.record_in(&mut tx, vec![event]).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Verifies the entries before `size` and the checkpoints up to it alone.
    async fn verify_prefix(&self, trust: &Trust, size: u64) -> Result<Prefix, LedgerError> {
        let (_, trusted, _) = self.resolve_trust(trust).await?;
        let mut verifier = Verifier::new(self.origin(), trusted.clone());
        self.replay_upto(&mut verifier, &trusted, size, |_| {})
            .await?;
        Ok(Prefix {
            frontier: verifier.tree().clone(),
            last_leaf: *verifier.last_leaf(),
            report: verifier.finish(),
        })
    }

    /// Sets the chain head to the tree the prefix verification recomputed.
    async fn reset_head(&self, tx: &mut AnyConnection, prefix: &Prefix) -> Result<(), LedgerError> {
        let last_note = match &prefix.report.latest_checkpoint {
            Some(checkpoint) => {
                Some(note_hash(&self.checkpoint_at(checkpoint.size).await?.note).to_vec())
            }
            None => None,
        };
        sqlx::query(
            "UPDATE ledger_head SET frontier = $1, last_leaf = $2, last_note = $3 WHERE id = 1",
        )
        .bind(prefix.frontier.to_bytes())
        .bind(prefix.last_leaf.to_vec())
        .bind(last_note)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// The signed history kept, verified on its own, and its recomputed tree.
struct Prefix {
    report: Report,
    frontier: Frontier,
    last_leaf: Hash,
}

/// Writes every row past `kept` as an evidence line; returns how many
/// entries, checkpoints and nodes there were.
async fn copy_out(
    tx: &mut AnyConnection,
    kept: u64,
    write: &mut impl FnMut(String) -> Result<(), LedgerError>,
) -> Result<(u64, u64, u64), LedgerError> {
    let bound = to_i64(kept)?;
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE sequence >= $1 ORDER BY sequence"
    ))
    .bind(bound)
    .fetch_all(&mut *tx)
    .await?;
    for row in &rows {
        let (entry, leaf) = entry_from_row(row)?;
        let mut line: serde_json::Value =
            serde_json::from_str(&BundleLine::Entry(entry).to_json_line())
                .map_err(|e| LedgerError::Corrupt(e.to_string()))?;
        line["stored_leaf_hash"] = hex::encode(leaf).into();
        write(line.to_string())?;
    }
    let notes: Vec<(String,)> = sqlx::query_as(
        "SELECT note FROM ledger_checkpoints WHERE tree_size > $1 ORDER BY tree_size",
    )
    .bind(bound)
    .fetch_all(&mut *tx)
    .await?;
    for (note,) in &notes {
        write(BundleLine::Checkpoint { note: note.clone() }.to_json_line())?;
    }
    let nodes = sqlx::query(&format!(
        "SELECT level, idx, hash FROM ledger_nodes WHERE {PAST_NODES}"
    ))
    .bind(bound)
    .fetch_all(&mut *tx)
    .await?;
    for node in &nodes {
        let (level, index, hash): (i64, i64, Vec<u8>) =
            (node.try_get(0)?, node.try_get(1)?, node.try_get(2)?);
        let line = serde_json::json!({"type": "node", "level": level, "idx": index, "hash": hex::encode(hash)});
        write(line.to_string())?;
    }
    Ok((rows.len() as u64, notes.len() as u64, nodes.len() as u64))
}

/// Nodes not wholly inside the first `$1` leaves.
const PAST_NODES: &str = "((idx + 1) << CAST(level AS INTEGER)) > $1";

/// Removes the rows past `kept`, lifting the append-only guards for this
/// transaction only (on SQLite the triggers are dropped and created again
/// from their own definitions, inside the transaction).
async fn remove_past(
    tx: &mut Transaction<'static, Any>,
    dialect: super::sql::Dialect,
    kept: u64,
) -> Result<(), LedgerError> {
    let postgres = matches!(dialect, super::sql::Dialect::Postgres);
    let triggers: Vec<(String, String)> = if postgres {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' \
             AND tbl_name IN ('ledger_entries', 'ledger_checkpoints', 'ledger_nodes')",
        )
        .fetch_all(&mut **tx)
        .await?
    };
    for table in GUARDED_TABLES {
        if postgres {
            execute(tx, &format!("ALTER TABLE {table} DISABLE TRIGGER USER")).await?;
        }
    }
    for (name, _) in &triggers {
        execute(tx, &format!("DROP TRIGGER {name}")).await?;
    }
    let bound = to_i64(kept)?;
    for statement in [
        "DELETE FROM ledger_entries WHERE sequence >= $1".to_owned(),
        "DELETE FROM ledger_checkpoints WHERE tree_size > $1".to_owned(),
        format!("DELETE FROM ledger_nodes WHERE {PAST_NODES}"),
    ] {
        sqlx::query(&statement)
            .bind(bound)
            .execute(&mut **tx)
            .await?;
    }
    for table in GUARDED_TABLES {
        if postgres {
            execute(tx, &format!("ALTER TABLE {table} ENABLE TRIGGER USER")).await?;
        }
    }
    for (_, sql) in &triggers {
        execute(tx, sql).await?;
    }
    Ok(())
}

async fn execute(tx: &mut Transaction<'static, Any>, statement: &str) -> Result<(), LedgerError> {
    sqlx::query(statement).execute(&mut **tx).await?;
    Ok(())
}

/// The ledger entry that records a quarantine and what the verifier found.
fn quarantine_event(done: &Quarantined, actor: &str, report: &Report) -> Event {
    let problems: Vec<String> = report
        .problems
        .iter()
        .take(20)
        .map(ToString::to_string)
        .collect();
    Event {
        kind: crate::EventKind::LedgerQuarantine.as_str().into(),
        actor: Some(actor.to_owned()),
        action: Some("quarantine_unsigned_tail".into()),
        outcome: Some(crate::EventOutcome::Success.as_str().into()),
        details: serde_json::json!({
            "kept_size": done.kept,
            "entries_removed": done.entries,
            "checkpoints_removed": done.checkpoints,
            "nodes_removed": done.nodes,
            "evidence_sha256": done.evidence_sha256,
            "problems": problems,
        }),
        ..Event::default()
    }
}
