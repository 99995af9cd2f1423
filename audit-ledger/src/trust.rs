//! What an auditor brings to a verification besides the ledger: the keys it
//! trusts, checkpoints it kept from earlier, and the keys of witnesses whose
//! cosignatures the ledger must live up to.

use crate::checkpoint::{self, Checkpoint, VerifierKey};
use crate::keyring::{self, PublishedVkey};
use crate::verify::{Location, Verifier};
use crate::witness::CosignerVerifier;

/// The auditor's side of a verification.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// Signing keys trusted outright. Keys the ledger publishes are trusted
    /// too when one of these endorsed them, directly or through a chain.
    pub keys: Vec<VerifierKey>,
    /// Signed checkpoint notes kept from an earlier look at the ledger: the
    /// ledger must still hold them (`ledger verify --since`).
    pub saved: Vec<String>,
    /// Witnesses whose latest cosigned checkpoint the ledger must still hold
    /// (`ledger verify --witness-key`).
    pub witnesses: Vec<CosignerVerifier>,
    /// Cosigned checkpoint notes fetched from the witnesses themselves
    /// (`ledger verify --ask-witness`), considered with those the ledger keeps.
    pub cosigned: Vec<String>,
}

impl Trust {
    /// Trust in `keys` alone: no kept checkpoint, no witness.
    pub fn with_keys(keys: Vec<VerifierKey>) -> Self {
        Self {
            keys,
            ..Self::default()
        }
    }

    /// The signing keys to verify with: [`Trust::keys`] and the published
    /// keys they endorsed. Each published key left untrusted is a problem.
    pub fn signing_keys(
        &self,
        published: &[PublishedVkey],
        problems: &mut Vec<(Location, String)>,
    ) -> Vec<VerifierKey> {
        let ring = keyring::resolve(self.keys.clone(), published);
        for (vkey, why) in ring.untrusted {
            let reason = format!("published signing key {vkey} is not trusted: {why}");
            problems.push((Location::Ledger, reason));
        }
        ring.trusted
    }

    /// Gives `verifier` every checkpoint the ledger must live up to: each
    /// saved note, and for each witness the largest checkpoint among
    /// `held` (notes with cosignature lines the ledger keeps) and
    /// [`Trust::cosigned`] that it cosigned. Call
    /// before any entry is pushed.
    pub fn expect_kept(&self, verifier: &mut Verifier, keys: &[VerifierKey], held: &[String]) {
        let cosigned: Vec<String> = held.iter().chain(&self.cosigned).cloned().collect();
        for note in &self.saved {
            match checkpoint::open(note, keys) {
                Ok((kept, _)) => {
                    let keeper = format!("the saved checkpoint of size {}", kept.size);
                    verifier.expect(kept, &keeper);
                }
                Err(error) => verifier.add_problem(
                    Location::Ledger,
                    format!("the saved checkpoint does not verify: {error}"),
                ),
            }
        }
        for witness in &self.witnesses {
            match latest_cosigned(witness, keys, &cosigned) {
                Some((kept, at)) => {
                    let keeper = format!("witness {} (cosigned at {at})", witness.name());
                    verifier.expect(kept, &keeper);
                }
                None => verifier.add_problem(
                    Location::Ledger,
                    format!(
                        "no checkpoint cosigned by witness {} is held: nothing shows what it last saw",
                        witness.name()
                    ),
                ),
            }
        }
    }
}

/// The largest checkpoint in `cosigned` signed by one of `keys` and
/// cosigned by `witness`, with the cosignature's time.
fn latest_cosigned(
    witness: &CosignerVerifier,
    keys: &[VerifierKey],
    cosigned: &[String],
) -> Option<(Checkpoint, u64)> {
    cosigned
        .iter()
        .filter_map(|note| {
            let at = witness.cosigned_at(note)?;
            let (checkpoint, _) = checkpoint::open(note, keys).ok()?;
            Some((checkpoint, at))
        })
        .max_by_key(|(checkpoint, _)| checkpoint.size)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::checkpoint::LedgerKey;
    use crate::entry::Timestamp;
    use crate::merkle::{Frontier, leaf_hash};
    use crate::witness::{CosignerKey, note_text};

    const ORIGIN: &str = "hms-ach/trust-test";

    fn note(size: u64) -> String {
        let mut tree = Frontier::new();
        (0..size).for_each(|i| {
            tree.push(leaf_hash(&i.to_be_bytes()));
        });
        LedgerKey::from_seed(ORIGIN, [1; 32]).sign(&Checkpoint {
            origin: ORIGIN.into(),
            size,
            root: tree.root(),
            time: Timestamp(0),
            previous: None,
        })
    }

    #[test]
    fn the_witness_latest_cosigned_checkpoint_is_the_one_expected() {
        let witness = CosignerKey::from_seed("w.example/1", [2; 32]).unwrap();
        let cosign = |note: String| {
            let line = witness.cosign(note_text(&note).unwrap(), 1_000);
            format!("{note}{line}")
        };
        let cosigned = vec![cosign(note(2)), cosign(note(5)), note(9)];
        let keys = [LedgerKey::from_seed(ORIGIN, [1; 32]).verifier()];
        let (latest, at) = latest_cosigned(witness.verifier(), &keys, &cosigned).unwrap();
        assert_eq!((latest.size, at), (5, 1_000));
        let stranger = CosignerKey::from_seed("w.example/2", [3; 32]).unwrap();
        assert!(latest_cosigned(stranger.verifier(), &keys, &cosigned).is_none());
    }
}
