//! One append: lock the chain head, extend the chain and the tree, sign a checkpoint.

use sqlx::AnyConnection;

use super::rows::{ENTRY_COLUMN_COUNT, details_column, policies_column, to_hash, to_i64};
use super::sql::{Dialect, Param, Statement};
use super::{LedgerError, Shared};
use crate::checkpoint::{Checkpoint, LedgerKey};
use crate::entry::{Entry, Event, Timestamp};
use crate::merkle::{Frontier, Hash, NodeId};

/// Rows per multi-row INSERT, well inside both databases' bind-parameter limits
/// (SQLite 32,766; PostgreSQL 65,535).
const ROWS_PER_INSERT: usize = 32_000 / ENTRY_COLUMN_COUNT;

/// Takes the chain head's lock: on PostgreSQL a row lock, on SQLite the write lock.
/// Every append starts with this, so appends from any node serialise.
pub(crate) async fn lock_head(conn: &mut AnyConnection) -> Result<(), LedgerError> {
    sqlx::query("UPDATE ledger_head SET id = id WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends `events` as consecutive entries with one signed checkpoint over the
/// new tree; returns the first sequence number. The caller commits.
pub(crate) async fn append_batch(
    conn: &mut AnyConnection,
    ledger: &Shared,
    key: &LedgerKey,
    events: Vec<Event>,
) -> Result<u64, LedgerError> {
    lock_head(conn).await?;
    let (mut frontier, mut last_leaf) = read_head(conn).await?;
    let first = frontier.size();
    // Sequence numbers and node indexes below this bound are stored as i64 without loss.
    to_i64(first.saturating_add(events.len() as u64))?;
    let time = Timestamp::now();
    let mut entries = Vec::with_capacity(events.len());
    let mut nodes = Vec::with_capacity(events.len());
    for event in events {
        let event = event
            .into_recordable()
            .map_err(|e| LedgerError::Invalid(e.to_string()))?;
        let entry = Entry {
            sequence: frontier.size(),
            time,
            prev_hash: last_leaf,
            event,
        };
        last_leaf = entry.leaf_hash();
        nodes.extend(frontier.push(last_leaf));
        entries.push((entry, last_leaf));
    }
    insert_entries(conn, ledger.dialect, &entries).await?;
    insert_nodes(conn, ledger.dialect, &nodes).await?;
    let checkpoint = Checkpoint {
        origin: ledger.origin.clone(),
        size: frontier.size(),
        root: frontier.root(),
        time,
    };
    insert_checkpoint(conn, &checkpoint, key).await?;
    write_head(conn, &frontier, &last_leaf).await?;
    Ok(first)
}

async fn read_head(conn: &mut AnyConnection) -> Result<(Frontier, Hash), LedgerError> {
    let (frontier, last): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT frontier, last_leaf FROM ledger_head WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    let frontier = Frontier::from_bytes(&frontier)
        .map_err(|e| LedgerError::Corrupt(format!("chain head: {e}")))?;
    Ok((frontier, to_hash(&last, "chain head")?))
}

async fn write_head(
    conn: &mut AnyConnection,
    frontier: &Frontier,
    last_leaf: &Hash,
) -> Result<(), LedgerError> {
    sqlx::query("UPDATE ledger_head SET frontier = $1, last_leaf = $2 WHERE id = 1")
        .bind(frontier.to_bytes())
        .bind(last_leaf.to_vec())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_entries(
    conn: &mut AnyConnection,
    dialect: Dialect,
    entries: &[(Entry, Hash)],
) -> Result<(), LedgerError> {
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        let mut insert = Statement::new(
            dialect,
            "INSERT INTO ledger_entries (sequence, recorded_at, kind, actor, subject, patient, action, \
             resource, outcome, policies, request_id, decision_id, source_ip, user_agent, details, \
             prev_hash, leaf_hash) VALUES ",
        );
        for (i, (entry, leaf)) in chunk.iter().enumerate() {
            if i > 0 {
                insert.push(", ");
            }
            insert.tuple(entry_row(entry, leaf));
        }
        insert.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// One entry's column values, in insert order.
fn entry_row(entry: &Entry, leaf: &Hash) -> Vec<Param> {
    let event = &entry.event;
    vec![
        (entry.sequence as i64).into(),
        entry.time.unix_micros().into(),
        event.kind.clone().into(),
        event.actor.clone().into(),
        event.subject.clone().into(),
        event.patient.clone().into(),
        event.action.clone().into(),
        event.resource.clone().into(),
        event.outcome.clone().into(),
        policies_column(event).into(),
        event.request_id.clone().into(),
        event.decision_id.clone().into(),
        event.source_ip.clone().into(),
        event.user_agent.clone().into(),
        details_column(event).into(),
        entry.prev_hash.to_vec().into(),
        leaf.to_vec().into(),
    ]
}

async fn insert_nodes(
    conn: &mut AnyConnection,
    dialect: Dialect,
    nodes: &[(NodeId, Hash)],
) -> Result<(), LedgerError> {
    for chunk in nodes.chunks(ROWS_PER_INSERT) {
        let mut insert = Statement::new(
            dialect,
            "INSERT INTO ledger_nodes (level, idx, hash) VALUES ",
        );
        for (i, (id, hash)) in chunk.iter().enumerate() {
            if i > 0 {
                insert.push(", ");
            }
            insert.tuple(vec![
                i64::from(id.level).into(),
                (id.index as i64).into(),
                hash.to_vec().into(),
            ]);
        }
        insert.query().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_checkpoint(
    conn: &mut AnyConnection,
    checkpoint: &Checkpoint,
    key: &LedgerKey,
) -> Result<(), LedgerError> {
    let note = key.sign(checkpoint);
    sqlx::query(
        "INSERT INTO ledger_checkpoints (tree_size, root_hash, signed_at, key_id, note) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(to_i64(checkpoint.size)?)
    .bind(checkpoint.root.to_vec())
    .bind(checkpoint.time.unix_micros())
    .bind(key.verifier().key_id_hex())
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
