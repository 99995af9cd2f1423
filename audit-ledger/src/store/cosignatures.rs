//! Witness cosignatures as the ledger keeps them: for each witness, the
//! latest checkpoint it cosigned, and the request that asks it for the next.

use serde::Serialize;

use super::rows::{to_i64, to_u64};
use super::{Ledger, LedgerError};
use crate::checkpoint;
use crate::merkle::Hash;
use crate::witness::{AddCheckpoint, CosignerVerifier};

/// The latest checkpoint a witness cosigned.
#[derive(Debug, Clone, Serialize)]
pub struct StoredCosignature {
    /// The witness's name.
    pub witness: String,
    /// The size of the checkpoint it cosigned.
    pub tree_size: u64,
    /// When it cosigned (POSIX seconds, from its cosignature).
    pub cosigned_at: u64,
    /// The checkpoint note with the witness's cosignature line.
    pub note: String,
}

impl Ledger {
    /// The latest cosigned checkpoint of every witness, by witness name.
    pub async fn cosignatures(&self) -> Result<Vec<StoredCosignature>, LedgerError> {
        let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
            "SELECT witness, tree_size, cosigned_at, note FROM ledger_cosignatures ORDER BY witness",
        )
        .fetch_all(&self.shared.pool)
        .await?;
        rows.into_iter()
            .map(|(witness, size, at, note)| {
                Ok(StoredCosignature {
                    witness,
                    tree_size: to_u64(size, "cosigned size")?,
                    cosigned_at: to_u64(at, "cosignature time")?,
                    note,
                })
            })
            .collect()
    }

    /// The `add-checkpoint` request for the latest checkpoint, from `old`
    /// (the size the witness last cosigned); `None` when there is nothing
    /// newer than `old` to witness.
    pub async fn witness_request(&self, old: u64) -> Result<Option<AddCheckpoint>, LedgerError> {
        let Some(latest) = self.latest_checkpoint().await? else {
            return Ok(None);
        };
        if latest.tree_size < old {
            return Err(LedgerError::Tampered(format!(
                "a witness cosigned {old} entries but the latest checkpoint signs {}",
                latest.tree_size
            )));
        }
        let proof = match old {
            0 => Vec::new(),
            old if old == latest.tree_size => Vec::new(),
            old => decode_path(&self.consistency_proof(old, latest.tree_size).await?.path)?,
        };
        Ok(Some(AddCheckpoint {
            old,
            proof,
            note: latest.note,
        }))
    }

    /// Keeps `witness`'s cosignature line `line` over the checkpoint `note`,
    /// if the cosignature verifies and is newer than the one kept.
    pub async fn keep_cosignature(
        &self,
        witness: &CosignerVerifier,
        note: &str,
        line: &str,
    ) -> Result<StoredCosignature, LedgerError> {
        let cosigned = format!("{note}{line}");
        let at = witness.cosigned_at(&cosigned).ok_or_else(|| {
            LedgerError::Invalid(format!(
                "the cosignature of witness {} does not verify",
                witness.name()
            ))
        })?;
        let size = checkpoint::parse_unverified(note)
            .map_err(|e| LedgerError::Invalid(e.to_string()))?
            .size;
        sqlx::query(
            "INSERT INTO ledger_cosignatures (witness, tree_size, cosigned_at, note) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (witness) DO UPDATE SET \
             tree_size = excluded.tree_size, cosigned_at = excluded.cosigned_at, note = excluded.note \
             WHERE ledger_cosignatures.tree_size <= excluded.tree_size",
        )
        .bind(witness.name())
        .bind(to_i64(size)?)
        .bind(to_i64(at)?)
        .bind(&cosigned)
        .execute(&self.shared.pool)
        .await?;
        Ok(StoredCosignature {
            witness: witness.name().to_owned(),
            tree_size: size,
            cosigned_at: at,
            note: cosigned,
        })
    }
}

fn decode_path(path: &[String]) -> Result<Vec<Hash>, LedgerError> {
    path.iter()
        .map(|hex_hash| {
            let mut hash = [0; 32];
            hex::decode_to_slice(hex_hash, &mut hash)
                .map_err(|_| LedgerError::Corrupt("a proof hash is not hex".into()))?;
            Ok(hash)
        })
        .collect()
}
