//! The HMS-ACH audit ledger: append-only, hash-chained, Ed25519-signed records of
//! every decision and change, verifiable offline.
//!
//! What the ledger guarantees, to anyone holding the tenant's public key:
//!
//! - **Every entry is fixed.** An entry is hashed from a canonical byte
//!   encoding ([`Entry::encode`]); changing any field changes its leaf hash.
//! - **Nothing is removed, inserted or reordered unnoticed.** Each entry
//!   carries its sequence number and the leaf hash of the entry before it, and
//!   the leaf hashes form an RFC 9162 Merkle tree whose leaf index is the
//!   sequence number.
//! - **The ledger is committed to.** The service periodically signs
//!   checkpoints (C2SP tlog-checkpoint notes, Ed25519) of the tree size and
//!   root; a rewritten or truncated ledger no longer matches them, and
//!   inclusion and consistency proofs tie single entries and later states to
//!   a signed checkpoint.
//!
//! [`Verifier`] replays a ledger and reports every inconsistency it finds;
//! [`verify_bundle`] does so for an export bundle with nothing but the
//! auditor's trusted keys. `FORMAT.md` specifies every byte, for independent
//! verifiers. Writers record events only after
//! [`Event::into_recordable`], so that every entry hashes the same after any
//! number of JSON round trips.
//!
//! This core needs no tokio, sqlx or network: an auditor's tool can embed it
//! as is. The database store and its writer live behind the `store` feature.

pub mod bundle;
pub mod checkpoint;
pub mod entry;
pub mod keyring;
pub mod merkle;
pub mod siem;
pub mod trust;
pub mod verify;
pub mod vocabulary;
pub mod witness;

pub use bundle::{BUNDLE_FORMAT, BundleError, BundleLine, verify_bundle};
pub use checkpoint::{Checkpoint, CheckpointError, LedgerKey, VerifierKey};
pub use entry::{Entry, EntryError, EntryLine, Event, Timestamp, canonical_json};
pub use keyring::{Keyring, PublishedVkey};
pub use merkle::{Frontier, Hash, MemoryTree, MerkleError, NodeId};
pub use trust::Trust;
pub use verify::{Location, Problem, Report, Verifier};
pub use vocabulary::{EventKind, EventOutcome};
pub use witness::{AddCheckpoint, CosignerKey, CosignerVerifier, Refusal, Witnessed};

#[cfg(feature = "store")]
pub mod store;
