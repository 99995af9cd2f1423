//! Inclusion and consistency proofs, assembled from stored subtree hashes.

use std::collections::HashMap;

use serde::Serialize;

use super::rows::{to_hash, to_i64, to_u64};
use super::sql::{Param, Statement};
use super::{Ledger, LedgerError};
use crate::merkle::{self, Hash, NodeId};

/// Proof that one entry is in the tree a checkpoint signs (RFC 9162 2.1.3).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    /// The entry's sequence number (its leaf index).
    pub sequence: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The entry's leaf hash, hex.
    pub leaf_hash: String,
    /// The audit path, closest to the leaf first, hex.
    pub path: Vec<String>,
    /// The signed checkpoint for `tree_size`.
    pub checkpoint: String,
}

/// Proof that one checkpointed tree is a prefix of another (RFC 9162 2.1.4).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub old_size: u64,
    /// The newer tree's size.
    pub new_size: u64,
    /// The consistency path, hex.
    pub path: Vec<String>,
    /// The signed checkpoint for `old_size`.
    pub old_checkpoint: String,
    /// The signed checkpoint for `new_size`.
    pub new_checkpoint: String,
}

impl Ledger {
    /// Proves entry `sequence` is in the checkpoint of `tree_size` (the latest when `None`).
    pub async fn inclusion_proof(
        &self,
        sequence: u64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, LedgerError> {
        let checkpoint = match tree_size {
            Some(size) => self.checkpoint_at(size).await?,
            None => self
                .latest_checkpoint()
                .await?
                .ok_or_else(|| LedgerError::NotFound("the ledger is empty".into()))?,
        };
        let size = checkpoint.tree_size;
        if sequence >= size {
            return Err(LedgerError::NotFound(format!(
                "entry {sequence} is not in the checkpoint of size {size}"
            )));
        }
        let ranges = merkle::inclusion_ranges(sequence, size)
            .map_err(|e| LedgerError::Invalid(e.to_string()))?;
        let leaf = NodeId {
            level: 0,
            index: sequence,
        };
        let hashes = self.range_hashes(&ranges, &[leaf]).await?;
        Ok(InclusionProof {
            sequence,
            tree_size: size,
            leaf_hash: hex::encode(hashes.lookup(leaf)?),
            path: hashes.paths(&ranges)?,
            checkpoint: checkpoint.note,
        })
    }

    /// Proves the checkpoint of `old_size` is a prefix of the one of `new_size`.
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, LedgerError> {
        let old = self.checkpoint_at(old_size).await?;
        let new = self.checkpoint_at(new_size).await?;
        let ranges = merkle::consistency_ranges(old_size, new_size)
            .map_err(|e| LedgerError::Invalid(e.to_string()))?;
        let hashes = self.range_hashes(&ranges, &[]).await?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path: hashes.paths(&ranges)?,
            old_checkpoint: old.note,
            new_checkpoint: new.note,
        })
    }

    /// Loads every stored subtree hash the ranges (and `extra` nodes) need.
    async fn range_hashes(
        &self,
        ranges: &[(u64, u64)],
        extra: &[NodeId],
    ) -> Result<NodeHashes, LedgerError> {
        let mut wanted: Vec<NodeId> = ranges
            .iter()
            .flat_map(|&(start, end)| merkle::subtrees(start, end))
            .chain(extra.iter().copied())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let (leaves, inner): (Vec<NodeId>, Vec<NodeId>) =
            wanted.into_iter().partition(|id| id.level == 0);
        let mut found = HashMap::new();
        self.load_leaves(&leaves, &mut found).await?;
        self.load_inner(&inner, &mut found).await?;
        Ok(NodeHashes(found))
    }

    async fn load_leaves(
        &self,
        ids: &[NodeId],
        found: &mut HashMap<NodeId, Hash>,
    ) -> Result<(), LedgerError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut query = Statement::new(
            self.shared.dialect,
            "SELECT sequence, leaf_hash FROM ledger_entries WHERE sequence IN ",
        );
        let indexes = ids
            .iter()
            .map(|id| to_i64(id.index).map(Param::from))
            .collect::<Result<_, _>>()?;
        query.tuple(indexes);
        let rows: Vec<(i64, Vec<u8>)> = query.query_as().fetch_all(&self.shared.pool).await?;
        for (sequence, hash) in rows {
            let id = NodeId {
                level: 0,
                index: to_u64(sequence, "sequence")?,
            };
            found.insert(id, to_hash(&hash, "leaf_hash")?);
        }
        Ok(())
    }

    async fn load_inner(
        &self,
        ids: &[NodeId],
        found: &mut HashMap<NodeId, Hash>,
    ) -> Result<(), LedgerError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut query = Statement::new(
            self.shared.dialect,
            "SELECT level, idx, hash FROM ledger_nodes WHERE ",
        );
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                query.push(" OR ");
            }
            query
                .push("(level = ")
                .bind(i64::from(id.level))
                .push(" AND idx = ")
                .bind(to_i64(id.index)?)
                .push(")");
        }
        let rows: Vec<(i64, i64, Vec<u8>)> = query.query_as().fetch_all(&self.shared.pool).await?;
        for (level, index, hash) in rows {
            let id = NodeId {
                level: u8::try_from(level)
                    .map_err(|_| LedgerError::Corrupt(format!("node level {level}")))?,
                index: to_u64(index, "node index")?,
            };
            found.insert(id, to_hash(&hash, "node hash")?);
        }
        Ok(())
    }
}

/// Subtree hashes loaded for one proof.
struct NodeHashes(HashMap<NodeId, Hash>);

impl NodeHashes {
    fn lookup(&self, id: NodeId) -> Result<Hash, LedgerError> {
        self.0.get(&id).copied().ok_or_else(|| {
            LedgerError::Corrupt(format!("subtree {}/{} is missing", id.level, id.index))
        })
    }

    /// The hash of each range, hex, in order.
    fn paths(&self, ranges: &[(u64, u64)]) -> Result<Vec<String>, LedgerError> {
        ranges
            .iter()
            .map(|&(start, end)| {
                merkle::range_hash(start, end, |id| self.0.get(&id).copied())
                    .map(hex::encode)
                    .ok_or_else(|| {
                        LedgerError::Corrupt(format!(
                            "subtrees of leaves {start}..{end} are missing"
                        ))
                    })
            })
            .collect()
    }
}
