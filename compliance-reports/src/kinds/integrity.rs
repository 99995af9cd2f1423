//! The ledger integrity report: the verifier's verdict over the whole chain,
//! and the signed checkpoints in the range.

use hms_audit_ledger::verify::Report as Verification;

use super::tally::{Reading, nothing};
use super::{Needs, Spec};

pub(super) const SPEC: Spec = Spec {
    needs: Needs::Nothing,
    kinds: None,
    columns: &["tree_size", "root_hash", "signed_at", "key_id"],
    notes: &[
        "The whole ledger was replayed: every entry's chain link and leaf hash, and every checkpoint's signature and root, checked against the tenant's published keys.",
        "The rows are the signed checkpoints made in the range.",
    ],
    reading: Reading::Held {
        keep: nothing,
        rows: |_, _, _| Vec::new(),
    },
};

/// A checkpoint as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFacts {
    /// Entries covered.
    pub tree_size: u64,
    /// Merkle root, hex.
    pub root_hash: String,
    /// When it was signed (RFC 3339).
    pub signed_at: String,
    /// The signing key's id.
    pub key_id: String,
}

/// The verdict, as notes for the report.
pub fn verdict(verification: &Verification) -> Vec<String> {
    let mut notes = vec![format!(
        "Verdict: {} — {} entries replayed, {} checkpoints verified, {} entries after the latest verified checkpoint.",
        if verification.is_valid() {
            "intact"
        } else {
            "PROBLEMS FOUND"
        },
        verification.entries,
        verification.checkpoints_verified,
        verification.unattested_entries()
    )];
    notes.extend(
        verification
            .problems
            .iter()
            .map(|problem| format!("Problem: {problem}")),
    );
    if verification.problems_omitted > 0 {
        notes.push(format!(
            "{} further problems not listed.",
            verification.problems_omitted
        ));
    }
    notes
}

/// The checkpoints as rows.
pub fn rows(checkpoints: &[CheckpointFacts]) -> Vec<Vec<String>> {
    checkpoints
        .iter()
        .map(|c| {
            vec![
                c.tree_size.to_string(),
                c.root_hash.clone(),
                c.signed_at.clone(),
                c.key_id.clone(),
            ]
        })
        .collect()
}
