//! Checkpoint witnessing: C2SP tlog-cosignature (Ed25519 `cosignature/v1`)
//! and the request and checks of C2SP tlog-witness `add-checkpoint`.
//!
//! A witness keeps, for each ledger it follows, the latest checkpoint it
//! cosigned, and cosigns a new one only when a consistency proof shows it
//! extends that one. A ledger rolled back or forked after a witness cosigned
//! it can no longer show the witness's size and root: `ledger verify
//! --witness-key` refuses it.
//!
//! A cosignature is a note signature line whose blob is key id (4 bytes),
//! timestamp (8, big-endian POSIX seconds) and an Ed25519 signature over
//!
//! ```text
//! cosignature/v1
//! time <timestamp>
//! <the checkpoint note text>
//! ```

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::checkpoint::{self, Checkpoint, CheckpointError, SignedNote, VerifierKey};
use crate::merkle::{self, Hash};

/// The vkey type byte of an Ed25519 `cosignature/v1` key.
const COSIGNATURE_V1_TYPE: u8 = 0x04;
/// At most this many consistency proof lines in a request (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// A witness's signing key; its name identifies the witness.
#[derive(Clone)]
pub struct CosignerKey {
    signing: SigningKey,
    verifier: CosignerVerifier,
}

impl CosignerKey {
    /// The key whose Ed25519 secret is `seed`, named `name` (see
    /// [`checkpoint::check_key_name`]).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, CheckpointError> {
        checkpoint::check_key_name(name)?;
        let signing = SigningKey::from_bytes(&seed);
        let verifier = CosignerVerifier::new(name, signing.verifying_key());
        Ok(Self { signing, verifier })
    }

    /// The public half, to give to verifiers.
    pub fn verifier(&self) -> &CosignerVerifier {
        &self.verifier
    }

    /// The cosignature line (with its final newline) over the checkpoint note
    /// text `body`, made at `timestamp` (POSIX seconds).
    pub fn cosign(&self, body: &str, timestamp: u64) -> String {
        let signature = self.signing.sign(&signed_message(body, timestamp));
        let mut blob = Vec::with_capacity(4 + 8 + 64);
        blob.extend_from_slice(&self.verifier.key_id);
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        format!("\u{2014} {} {}\n", self.verifier.name, BASE64.encode(blob))
    }
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignerKey")
            .field("verifier", &self.verifier.to_string())
            .finish_non_exhaustive()
    }
}

fn signed_message(body: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{body}").into_bytes()
}

/// A witness's public key as vkey text: `name+<8 hex key id>+base64(0x04 ||
/// 32-byte public key)`, key id = SHA-256(name || "\n" || 0x04 || key)[:4].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl CosignerVerifier {
    fn new(name: &str, key: VerifyingKey) -> Self {
        Self {
            name: name.to_owned(),
            key_id: checkpoint::key_id(name, COSIGNATURE_V1_TYPE, &key),
            key,
        }
    }

    /// Reads vkey text, checking the name, the type byte and the key id.
    pub fn parse(vkey: &str) -> Result<Self, CheckpointError> {
        let (name, key) = checkpoint::read_vkey(
            vkey,
            COSIGNATURE_V1_TYPE,
            "not a cosignature/v1 key (type byte 0x04)",
        )?;
        Ok(Self::new(name, key))
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The time (POSIX seconds) of this witness's valid cosignature on the
    /// signed checkpoint `note`, if it carries one. Lines of other keys are
    /// ignored.
    pub fn cosigned_at(&self, note: &str) -> Option<u64> {
        let note = SignedNote::split(note).ok()?;
        note.signatures
            .iter()
            .filter(|line| line.name == self.name && line.key_id == self.key_id)
            .find_map(|line| self.timestamp_if_valid(note.text, &line.signature))
    }

    fn timestamp_if_valid(&self, body: &str, blob: &[u8]) -> Option<u64> {
        let (timestamp, signature) = blob.split_first_chunk::<8>()?;
        let timestamp = u64::from_be_bytes(*timestamp);
        let signature = Signature::from_slice(signature).ok()?;
        self.key
            .verify_strict(&signed_message(body, timestamp), &signature)
            .ok()
            .map(|()| timestamp)
    }
}

impl fmt::Display for CosignerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut typed = vec![COSIGNATURE_V1_TYPE];
        typed.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(typed)
        )
    }
}

/// The body of an `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the latest checkpoint the client believes the witness cosigned.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub note: String,
}

impl AddCheckpoint {
    /// The request body: `old N`, proof lines, an empty line, the note.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for hash in &self.proof {
            body.push_str(&BASE64.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }

    /// Reads a request body.
    pub fn parse(body: &str) -> Result<Self, Refusal> {
        let malformed = |what: &str| Refusal::Malformed(what.to_owned());
        let (head, note) = body
            .split_once("\n\n")
            .ok_or_else(|| malformed("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .filter(|n| n == &"0" || (!n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| malformed("the first line is not `old <size>`"))?;
        let proof = lines
            .map(|line| {
                BASE64
                    .decode(line)
                    .ok()
                    .and_then(|bytes| Hash::try_from(bytes).ok())
                    .ok_or_else(|| malformed("a proof line is not the base64 of a 32-byte hash"))
            })
            .collect::<Result<Vec<Hash>, Refusal>>()?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(malformed("more than 63 proof lines"));
        }
        Ok(Self {
            old,
            proof,
            note: note.to_owned(),
        })
    }
}

/// What a witness remembers of one ledger: the latest checkpoint it cosigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witnessed {
    /// Its size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

/// Why a witness refused to cosign, with the HTTP status tlog-witness gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the request is not well-formed, or its old size exceeds the checkpoint's.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 404: the witness follows no ledger of this origin.
    #[error("unknown log origin {0:?}")]
    UnknownLog(String),
    /// 403: no signature by the ledger's known key verifies.
    #[error("the checkpoint is not signed by a key this witness knows for its log: {0}")]
    Untrusted(String),
    /// 409: the old size is not the size the witness last cosigned.
    #[error("the witness last cosigned size {size}")]
    Conflict {
        /// The size of the latest checkpoint the witness cosigned.
        size: u64,
    },
    /// 409: same size as the witness holds, another root: the ledger forked.
    #[error("the checkpoint has the witnessed size {size} but another root")]
    Fork {
        /// The size of both.
        size: u64,
    },
    /// 422: the consistency proof does not verify.
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
}

impl Refusal {
    /// The HTTP status tlog-witness prescribes.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) => 400,
            Self::Untrusted(_) => 403,
            Self::UnknownLog(_) => 404,
            Self::Conflict { .. } | Self::Fork { .. } => 409,
            Self::BadProof(_) => 422,
        }
    }
}

/// The checks of tlog-witness `add-checkpoint`, for a request whose note is
/// of a ledger whose key is `log_key` and of which the witness last cosigned
/// `state` (none yet: `None`). Returns the checkpoint to cosign and its note
/// text; the caller persists the new state before it answers.
pub fn check_add_checkpoint<'r>(
    request: &'r AddCheckpoint,
    log_key: &VerifierKey,
    state: Option<&Witnessed>,
) -> Result<(Checkpoint, &'r str), Refusal> {
    let (checkpoint, _) = checkpoint::open(&request.note, std::slice::from_ref(log_key))
        .map_err(|e| Refusal::Untrusted(e.to_string()))?;
    if request.old > checkpoint.size {
        return Err(Refusal::Malformed(format!(
            "old size {} is larger than the checkpoint's {}",
            request.old, checkpoint.size
        )));
    }
    let held = state.map_or(0, |s| s.size);
    if request.old != held {
        return Err(Refusal::Conflict { size: held });
    }
    match state {
        Some(state) if state.size == checkpoint.size && state.root != checkpoint.root => {
            return Err(Refusal::Fork { size: state.size });
        }
        Some(state) if state.size > 0 => {
            merkle::verify_consistency(
                state.size,
                checkpoint.size,
                &state.root,
                &checkpoint.root,
                &request.proof,
            )
            .map_err(|e| Refusal::BadProof(e.to_string()))?;
        }
        _ if !request.proof.is_empty() => {
            return Err(Refusal::BadProof(
                "a proof from size 0 must be empty".into(),
            ));
        }
        _ => {}
    }
    let text = note_text(&request.note).unwrap_or_default();
    Ok((checkpoint, text))
}

/// The checkpoint note text (with its final newline) of a signed note.
pub fn note_text(note: &str) -> Option<&str> {
    let blank = note.rfind("\n\n")?;
    Some(&note[..=blank])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::checkpoint::LedgerKey;
    use crate::entry::Timestamp;
    use crate::merkle::MemoryTree;

    const ORIGIN: &str = "hms-ach/witness-test";

    fn log_key() -> LedgerKey {
        LedgerKey::from_seed(ORIGIN, [4; 32])
    }

    fn witness() -> CosignerKey {
        CosignerKey::from_seed("witness.example/w1", [8; 32]).unwrap()
    }

    fn tree(n: u64) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for i in 0..n {
            tree.push(merkle::leaf_hash(&i.to_be_bytes()));
        }
        tree
    }

    fn note(tree: &MemoryTree, size: u64) -> String {
        log_key().sign(&Checkpoint {
            origin: ORIGIN.into(),
            size,
            root: tree.root_at(size).unwrap(),
            time: Timestamp(1_800_000_000_000_000),
            previous: None,
        })
    }

    #[test]
    fn a_cosignature_verifies_for_its_key_only_and_carries_its_time() {
        let tree = tree(3);
        let note = note(&tree, 3);
        let text = note_text(&note).unwrap();
        let cosigned = format!("{note}{}", witness().cosign(text, 1_700_000_000));
        assert_eq!(
            witness().verifier().cosigned_at(&cosigned),
            Some(1_700_000_000)
        );
        assert_eq!(witness().verifier().cosigned_at(&note), None);
        let other = CosignerKey::from_seed("witness.example/w1", [9; 32]).unwrap();
        assert_eq!(other.verifier().cosigned_at(&cosigned), None);
        let altered = cosigned.replacen("\n3\n", "\n4\n", 1);
        assert_eq!(witness().verifier().cosigned_at(&altered), None);
    }

    #[test]
    fn witness_keys_round_trip_as_vkeys() {
        let text = witness().verifier().to_string();
        assert!(text.starts_with("witness.example/w1+"));
        assert_eq!(
            &CosignerVerifier::parse(&text).unwrap(),
            witness().verifier()
        );
        assert!(CosignerVerifier::parse(&log_key().verifier().to_string()).is_err());
    }

    #[test]
    fn requests_round_trip_and_malformed_ones_are_400() {
        let tree = tree(5);
        let request = AddCheckpoint {
            old: 3,
            proof: tree.consistency_proof(3, 5).unwrap(),
            note: note(&tree, 5),
        };
        assert_eq!(AddCheckpoint::parse(&request.to_body()).unwrap(), request);
        for bad in [
            "old 03\n\nx",
            "old 1",
            "new 1\n\nx",
            "old 1\nnot-base64!\n\nx",
        ] {
            assert_eq!(
                AddCheckpoint::parse(bad).unwrap_err().status(),
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_witness_checks_follow_tlog_witness() {
        let tree = tree(8);
        let at = |size| Witnessed {
            size,
            root: tree.root_at(size).unwrap(),
        };
        let request = |old, size| AddCheckpoint {
            old,
            proof: if old == 0 {
                Vec::new()
            } else {
                tree.consistency_proof(old, size).unwrap()
            },
            note: note(&tree, size),
        };
        let key = log_key().verifier();
        let status = |r: &AddCheckpoint, s: Option<&Witnessed>| {
            check_add_checkpoint(r, &key, s)
                .map(|(c, _)| c.size)
                .map_err(|e| e.status())
        };
        assert_eq!(status(&request(0, 5), None), Ok(5));
        assert_eq!(status(&request(5, 8), Some(&at(5))), Ok(8));
        assert_eq!(status(&request(5, 5), Some(&at(5))), Ok(5));
        assert_eq!(status(&request(0, 8), Some(&at(5))), Err(409));
        assert_eq!(status(&request(3, 8), Some(&at(5))), Err(409));
        let mut bad_proof = request(5, 8);
        bad_proof.proof[0][0] ^= 1;
        assert_eq!(status(&bad_proof, Some(&at(5))), Err(422));
        let fork = Witnessed {
            size: 5,
            root: [7; 32],
        };
        assert_eq!(status(&request(5, 5), Some(&fork)), Err(409));
        assert_eq!(status(&request(5, 8), Some(&fork)), Err(422));
        let mut too_old = request(5, 8);
        too_old.old = 9;
        assert_eq!(status(&too_old, Some(&at(5))), Err(400));
        let mut forged = request(0, 5);
        forged.note = LedgerKey::from_seed(ORIGIN, [5; 32]).sign(&Checkpoint {
            origin: ORIGIN.into(),
            size: 5,
            root: tree.root_at(5).unwrap(),
            time: Timestamp(0),
            previous: None,
        });
        assert_eq!(status(&forged, None), Err(403));
    }
}
