//! One append: lock the chain head, extend the chain and the tree, sign a checkpoint.

use sqlx::AnyConnection;

use super::rows::{ENTRY_COLUMN_COUNT, details_column, policies_column, to_hash, to_i64};
use super::sql::{Dialect, Param, Statement};
use super::{LedgerError, Shared};
use crate::checkpoint::{Checkpoint, LedgerKey, note_hash, parse_unverified};
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
    let head = lock_and_read_head(conn).await?;
    check_head_is_signed(conn, &head).await?;
    let Head {
        mut frontier,
        mut last_leaf,
        last_note,
    } = head;
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
    let checkpoint = Checkpoint {
        origin: ledger.origin.clone(),
        size: frontier.size(),
        root: frontier.root(),
        time,
        previous: last_note,
    };
    let note = key.sign(&checkpoint);
    let head = Head {
        last_note: Some(note_hash(&note)),
        frontier,
        last_leaf,
    };
    let dialect = ledger.dialect;
    let mut writes = insert_entries(dialect, &entries);
    writes.extend(insert_nodes(dialect, &nodes));
    writes.push(insert_checkpoint(dialect, &checkpoint, key, note));
    writes.push(write_head(dialect, &head));
    execute_all(conn, dialect, writes).await?;
    Ok(first)
}

/// Where the chain ends: the tree so far, the last leaf hash and the hash of
/// the last signed checkpoint note.
struct Head {
    frontier: Frontier,
    last_leaf: Hash,
    last_note: Option<Hash>,
}

/// Locks the chain head (see [`lock_head`]) and reads it.
async fn lock_and_read_head(conn: &mut AnyConnection) -> Result<Head, LedgerError> {
    let (frontier, last_leaf, last_note): (Vec<u8>, Vec<u8>, Option<Vec<u8>>) = sqlx::query_as(
        "UPDATE ledger_head SET id = id WHERE id = 1 RETURNING frontier, last_leaf, last_note",
    )
    .fetch_one(&mut *conn)
    .await?;
    let frontier = Frontier::from_bytes(&frontier)
        .map_err(|e| LedgerError::Corrupt(format!("chain head: {e}")))?;
    let last_note = match last_note {
        Some(hash) => Some(to_hash(&hash, "chain head")?),
        None => latest_note_hash(conn).await?,
    };
    Ok(Head {
        frontier,
        last_leaf: to_hash(&last_leaf, "chain head")?,
        last_note,
    })
}

/// Every append signs a checkpoint over the tree it leaves in the head, so
/// the head must be the latest checkpoint's tree: otherwise entries, the head
/// or checkpoints were changed outside the service, and appending would have
/// the next checkpoint sign over them.
async fn check_head_is_signed(conn: &mut AnyConnection, head: &Head) -> Result<(), LedgerError> {
    let latest: Option<String> =
        sqlx::query_scalar("SELECT note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let size = head.frontier.size();
    let signed = match latest.as_deref().map(|note| (parse_unverified(note), note)) {
        None if size == 0 => return Ok(()),
        None => None,
        Some((Ok(checkpoint), note)) => Some((checkpoint, note_hash(note))),
        Some((Err(error), _)) => {
            return Err(LedgerError::Tampered(format!(
                "the latest checkpoint is not a checkpoint note ({error})"
            )));
        }
    };
    let problem = match signed {
        None => format!("the chain head holds {size} entries but no checkpoint is stored"),
        Some((checkpoint, _)) if checkpoint.size != size => format!(
            "the chain head holds {size} entries but the latest checkpoint signs {}",
            checkpoint.size
        ),
        Some((checkpoint, _)) if checkpoint.root != head.frontier.root() => {
            "the chain head's tree has another root than the latest checkpoint".to_owned()
        }
        Some((_, hash)) if head.last_note.is_some_and(|last| last != hash) => {
            "the latest checkpoint is not the note the chain head last signed".to_owned()
        }
        Some(_) => return entries_end_at_the_head(conn, head).await,
    };
    Err(LedgerError::Tampered(problem))
}

/// The chain head must end at the last entry: its last leaf is that entry's,
/// and no entry lies past it (one there was written outside the service, and
/// the next append would collide with it).
async fn entries_end_at_the_head(conn: &mut AnyConnection, head: &Head) -> Result<(), LedgerError> {
    let size = head.frontier.size();
    let Some(last) = size.checked_sub(1) else {
        return Ok(());
    };
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT sequence, leaf_hash FROM ledger_entries WHERE sequence >= $1 ORDER BY sequence LIMIT 2",
    )
    .bind(to_i64(last)?)
    .fetch_all(&mut *conn)
    .await?;
    let problem = match rows.as_slice() {
        [(sequence, leaf)] if *sequence == to_i64(last)? && *leaf == head.last_leaf => {
            return Ok(());
        }
        [(sequence, _), ..] if *sequence != to_i64(last)? => {
            format!("entry {last}, the last the chain head holds, is missing")
        }
        [_, (sequence, _), ..] => format!(
            "entry {sequence} lies past the chain head ({size} entries) and no checkpoint signs it"
        ),
        [_] => format!("the chain head's last leaf is not the hash of entry {last}"),
        [] => format!("entry {last}, the last the chain head holds, is missing"),
    };
    Err(LedgerError::Tampered(problem))
}

/// The hash of the latest checkpoint note, for a head that has none yet: a
/// new ledger (no checkpoint either), or one whose checkpoints were signed
/// before they named their predecessor.
async fn latest_note_hash(conn: &mut AnyConnection) -> Result<Option<Hash>, LedgerError> {
    let note: Option<String> =
        sqlx::query_scalar("SELECT note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(note.as_deref().map(note_hash))
}

/// Runs `statements` in order: on SQLite as one multi-statement round trip to
/// its connection thread, on PostgreSQL one by one (a prepared statement holds one).
async fn execute_all(
    conn: &mut AnyConnection,
    dialect: Dialect,
    statements: Vec<Statement>,
) -> Result<(), LedgerError> {
    match dialect {
        Dialect::Sqlite => {
            let joined = statements.into_iter().reduce(Statement::then);
            if let Some(all) = joined {
                all.query().execute(&mut *conn).await?;
            }
        }
        Dialect::Postgres => {
            for statement in statements {
                statement.query().execute(&mut *conn).await?;
            }
        }
    }
    Ok(())
}

fn write_head(dialect: Dialect, head: &Head) -> Statement {
    let mut update = Statement::new(dialect, "UPDATE ledger_head SET frontier = ");
    update
        .bind(head.frontier.to_bytes())
        .push(", last_leaf = ")
        .bind(head.last_leaf.to_vec())
        .push(", last_note = ")
        .bind(head.last_note.map(|hash| hash.to_vec()))
        .push(" WHERE id = 1");
    update
}

fn insert_entries(dialect: Dialect, entries: &[(Entry, Hash)]) -> Vec<Statement> {
    entries
        .chunks(ROWS_PER_INSERT)
        .map(|chunk| {
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
            insert
        })
        .collect()
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

fn insert_nodes(dialect: Dialect, nodes: &[(NodeId, Hash)]) -> Vec<Statement> {
    nodes
        .chunks(ROWS_PER_INSERT)
        .map(|chunk| {
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
            insert
        })
        .collect()
}

fn insert_checkpoint(
    dialect: Dialect,
    checkpoint: &Checkpoint,
    key: &LedgerKey,
    note: String,
) -> Statement {
    let mut insert = Statement::new(
        dialect,
        "INSERT INTO ledger_checkpoints (tree_size, root_hash, signed_at, key_id, note) VALUES ",
    );
    insert.tuple(vec![
        (checkpoint.size as i64).into(),
        checkpoint.root.to_vec().into(),
        checkpoint.time.unix_micros().into(),
        key.verifier().key_id_hex().into(),
        note.into(),
    ]);
    insert
}
