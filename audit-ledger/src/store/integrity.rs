//! What online verification checks beyond the replay: the chain head, what
//! lies past it, and the stored Merkle tree nodes, each recomputed and
//! compared with what is stored.

use sqlx::Row;

use super::rows::{to_hash, to_i64, to_u64};
use super::{LedgerError, Shared};
use crate::merkle::{Frontier, Hash, node_hash};
use crate::verify::{Location, Verifier};

/// Nodes compared per query.
const NODES_PER_QUERY: u64 = 8192;

/// The chain head as stored: where the next append will build.
pub(crate) struct StoredHead {
    frontier: Result<Frontier, String>,
    last_leaf: Vec<u8>,
    last_note: Option<Vec<u8>>,
}

impl StoredHead {
    /// How many entries the head holds, when its tree is readable.
    pub(crate) fn size(&self) -> Option<u64> {
        self.frontier.as_ref().ok().map(Frontier::size)
    }
}

/// Reads the chain head; an online verification replays up to it, so that
/// appends made while it runs are left for the next one.
pub(crate) async fn read_head(shared: &Shared) -> Result<StoredHead, LedgerError> {
    let (frontier, last_leaf, last_note): (Vec<u8>, Vec<u8>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT frontier, last_leaf, last_note FROM ledger_head WHERE id = 1")
            .fetch_one(&shared.pool)
            .await?;
    Ok(StoredHead {
        frontier: Frontier::from_bytes(&frontier).map_err(|e| e.to_string()),
        last_leaf,
        last_note,
    })
}

/// The chain head (the tree, the last leaf and the last note the next append
/// builds on) must be what the replay up to it recomputed: a head changed
/// behind the service's back would have the next checkpoints sign a wrong tree.
pub(crate) fn compare_head(head: &StoredHead, verifier: &mut Verifier) {
    let mut differs = Vec::new();
    match &head.frontier {
        Ok(stored) if stored.size() != verifier.tree().size() => differs.push(format!(
            "its tree has {} entries, the entries are {}",
            stored.size(),
            verifier.tree().size()
        )),
        Ok(stored) if stored.root() != verifier.tree().root() => {
            differs.push("its tree has another root than the entries".into());
        }
        Ok(_) => {}
        Err(error) => differs.push(format!("its tree is unreadable ({error})")),
    }
    if head.last_leaf != verifier.last_leaf() {
        differs.push("its last leaf hash is not the last entry's".into());
    }
    if let Some(stored) = &head.last_note
        && Some(stored.as_slice()) != verifier.last_note().map(|hash| hash.as_slice())
    {
        differs.push("its last note hash is not the latest checkpoint's".into());
    }
    for reason in differs {
        verifier.add_problem(
            Location::Ledger,
            format!("the chain head differs: {reason}"),
        );
    }
}

/// What lies past the head: entries there that no checkpoint covers, and
/// checkpoints over entries that are not there. Each is one statement, which
/// sees one state of the database, in which every append has its entries and
/// its checkpoint or neither: appends made meanwhile are never counted.
pub(crate) async fn check_past_head(
    shared: &Shared,
    verifier: &mut Verifier,
    head_size: u64,
) -> Result<(), LedgerError> {
    let head = to_i64(head_size)?;
    let (unsigned, first): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(sequence) FROM ledger_entries WHERE sequence >= $1 \
         AND sequence >= (SELECT COALESCE(MAX(tree_size), 0) FROM ledger_checkpoints)",
    )
    .bind(head)
    .fetch_one(&shared.pool)
    .await?;
    if let Some(sequence) = first.filter(|_| unsigned > 0) {
        verifier.add_problem(
            Location::Entry {
                sequence: to_u64(sequence, "sequence")?,
            },
            format!(
                "{unsigned} entries from this one on lie past the chain head and no checkpoint covers them: \
                 written outside the service"
            ),
        );
    }
    let (orphans, largest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MAX(tree_size) FROM ledger_checkpoints WHERE tree_size > $1 \
         AND tree_size > (SELECT COALESCE(MAX(sequence) + 1, 0) FROM ledger_entries)",
    )
    .bind(head)
    .fetch_one(&shared.pool)
    .await?;
    if let Some(size) = largest.filter(|_| orphans > 0) {
        verifier.add_problem(
            Location::Checkpoint {
                size: to_u64(size, "checkpoint size")?,
            },
            format!("{orphans} checkpoint(s) past the chain head sign entries that are not there: truncated"),
        );
    }
    Ok(())
}

/// Every stored tree node must hash its two children: the leaves for level
/// 1, the nodes below for the others (themselves checked one level down). A
/// node missing, or one past the tree, is a problem too. Proofs are built
/// from these nodes, so a changed node would make them lie.
pub(crate) async fn check_nodes(
    shared: &Shared,
    verifier: &mut Verifier,
) -> Result<(), LedgerError> {
    let size = verifier.tree().size();
    for level in 1u8..64 {
        let count = size >> level;
        let mut start = 0;
        while start < count {
            let end = count.min(start + NODES_PER_QUERY);
            let children = children(shared, level - 1, 2 * start, 2 * end).await?;
            let stored = nodes(shared, level, start, end).await?;
            compare_level(verifier, level, start..end, &children, &stored);
            start = end;
        }
        report_extra_nodes(shared, verifier, level, count).await?;
        if count == 0 {
            return Ok(());
        }
    }
    Ok(())
}

fn compare_level(
    verifier: &mut Verifier,
    level: u8,
    range: std::ops::Range<u64>,
    children: &[(u64, Hash)],
    stored: &[(u64, Hash)],
) {
    let child = |index: u64| {
        children
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .map(|at| children[at].1)
    };
    let mut stored = stored.iter().peekable();
    for index in range {
        let location = Location::Node { level, index };
        let held = stored.next_if(|(i, _)| *i == index).map(|(_, hash)| *hash);
        let Some(held) = held else {
            verifier.add_problem(location, "missing from the stored tree");
            continue;
        };
        // A missing child is reported where it is missing.
        let (Some(left), Some(right)) = (child(2 * index), child(2 * index + 1)) else {
            continue;
        };
        if node_hash(&left, &right) != held {
            verifier.add_problem(
                location,
                "the stored hash is not the hash of its two children (the tree node was overwritten)",
            );
        }
    }
}

/// Nodes of `level` from `count` onwards: beyond the tree, none should exist
/// (but those of appends made meanwhile).
async fn report_extra_nodes(
    shared: &Shared,
    verifier: &mut Verifier,
    level: u8,
    count: u64,
) -> Result<(), LedgerError> {
    // Nodes appends add while this runs complete under their own checkpoint.
    let extra: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM ledger_nodes WHERE level = $1 AND idx >= $2 AND idx >= \
         ((SELECT COALESCE(MAX(tree_size), 0) FROM ledger_checkpoints) >> CAST($1 AS INTEGER))",
    )
    .bind(i64::from(level))
    .bind(to_i64(count)?)
    .fetch_one(&shared.pool)
    .await?;
    if extra > 0 {
        verifier.add_problem(
            Location::Node {
                level,
                index: count,
            },
            format!("{extra} stored tree node(s) at this level lie past the entries"),
        );
    }
    Ok(())
}

/// The hashes of `level` (0: the stored leaf hashes) for indexes in `start..end`.
async fn children(
    shared: &Shared,
    level: u8,
    start: u64,
    end: u64,
) -> Result<Vec<(u64, Hash)>, LedgerError> {
    if level > 0 {
        return nodes(shared, level, start, end).await;
    }
    let rows = sqlx::query(
        "SELECT sequence, leaf_hash FROM ledger_entries WHERE sequence >= $1 AND sequence < $2 \
         ORDER BY sequence",
    )
    .bind(to_i64(start)?)
    .bind(to_i64(end)?)
    .fetch_all(&shared.pool)
    .await?;
    rows.iter()
        .map(|row| indexed_hash(row, "leaf hash"))
        .collect()
}

async fn nodes(
    shared: &Shared,
    level: u8,
    start: u64,
    end: u64,
) -> Result<Vec<(u64, Hash)>, LedgerError> {
    let rows = sqlx::query(
        "SELECT idx, hash FROM ledger_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
    )
    .bind(i64::from(level))
    .bind(to_i64(start)?)
    .bind(to_i64(end)?)
    .fetch_all(&shared.pool)
    .await?;
    rows.iter()
        .map(|row| indexed_hash(row, "tree node"))
        .collect()
}

fn indexed_hash(row: &sqlx::any::AnyRow, what: &str) -> Result<(u64, Hash), LedgerError> {
    let index = to_u64(row.try_get(0)?, what)?;
    let bytes: Vec<u8> = row.try_get(1)?;
    Ok((index, to_hash(&bytes, what)?))
}
