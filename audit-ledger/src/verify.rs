//! The verifier, shared by the online check of a store and the offline check of
//! an export bundle: replays entries and signed checkpoints in storage order,
//! recomputes every hash and reports each inconsistency it finds.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use crate::checkpoint::{self, Checkpoint, VerifierKey};
use crate::entry::{Entry, GENESIS_PREV_HASH};
use crate::merkle::{Frontier, Hash};

/// At most this many problems are listed; the rest are only counted.
pub const MAX_PROBLEMS: usize = 1000;

/// Where a problem was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The entry with this (claimed) sequence number.
    Entry {
        /// The sequence number the entry carries.
        sequence: u64,
    },
    /// The checkpoint signed for this tree size.
    Checkpoint {
        /// The tree size the checkpoint claims.
        size: u64,
    },
    /// A stored Merkle tree node: the hash of leaves `index << level` to
    /// `(index + 1) << level`.
    Node {
        /// Its height above the leaves (1 and up).
        level: u8,
        /// Its position in its level, from 0.
        index: u64,
    },
    /// A line of an export bundle (counted from 1).
    Line {
        /// The line number.
        number: u64,
    },
    /// The ledger as a whole.
    Ledger,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entry { sequence } => write!(f, "entry {sequence}"),
            Self::Checkpoint { size } => write!(f, "checkpoint at size {size}"),
            Self::Node { level, index } => write!(f, "tree node {index} at level {level}"),
            Self::Line { number } => write!(f, "line {number}"),
            Self::Ledger => f.write_str("ledger"),
        }
    }
}

/// One inconsistency: where, and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where it was found.
    pub location: Location,
    /// What is wrong, for an auditor to read.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The ledger origin verified against.
    pub origin: String,
    /// How many entries were replayed.
    pub entries: u64,
    /// How many checkpoints were signed by a trusted key and matched the entries.
    pub checkpoints_verified: u64,
    /// The Merkle root recomputed over all replayed entries.
    pub root: Hash,
    /// The largest checkpoint that verified, if any.
    pub latest_checkpoint: Option<Checkpoint>,
    /// How many checkpoints kept outside the ledger (see [`Verifier::expect`])
    /// the entries matched.
    pub anchors_matched: u64,
    /// The problems found, in the order found (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<Problem>,
    /// How many further problems were found but not listed.
    pub problems_omitted: u64,
}

impl Report {
    /// True when no problem was found (entries no verified checkpoint covers
    /// are one: see [`Report::unattested_entries`]).
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty() && self.problems_omitted == 0
    }

    /// How many entries no verified checkpoint covers (all of them when no
    /// checkpoint verified). Anyone able to write to the database could have
    /// added or rewritten these, so [`Verifier::finish`] reports them as a
    /// problem: the service signs a checkpoint in the transaction of every
    /// append, so an intact ledger has none.
    pub fn unattested_entries(&self) -> u64 {
        let attested = self.latest_checkpoint.as_ref().map_or(0, |c| c.size);
        self.entries.saturating_sub(attested)
    }
}

/// Replays a ledger: entries and checkpoint notes in storage order.
///
/// Checks that each entry's sequence follows the previous one, that its
/// `prev_hash` is the previous entry's recomputed leaf hash, that a stored
/// leaf hash matches the recomputed one, and that each checkpoint is
/// well-formed, of this origin, signed by a trusted key, names the note
/// before it when it names one, and commits to the recomputed Merkle root at
/// its size. Keeps going after a problem.
///
/// Checkpoints kept outside the ledger (an auditor's saved note, a witness's
/// cosigned one) are given to [`Verifier::expect`]: the entries must reach
/// their size and give their root, or the ledger was rolled back or forked.
#[derive(Debug)]
pub struct Verifier {
    origin: String,
    trusted: Vec<VerifierKey>,
    frontier: Frontier,
    previous_leaf: Hash,
    next_sequence: u64,
    pending: BTreeMap<u64, Vec<Checkpoint>>,
    /// Checkpoints kept outside the ledger, by size, with who kept them.
    anchors: BTreeMap<u64, Vec<(Checkpoint, String)>>,
    anchors_matched: u64,
    /// The hash of the last checkpoint note pushed, which the next names.
    last_note: Option<Hash>,
    checkpoints_verified: u64,
    latest_checkpoint: Option<Checkpoint>,
    problems: Vec<Problem>,
    problems_omitted: u64,
}

impl Verifier {
    /// A verifier for the ledger `origin`, trusting checkpoints signed by `trusted`.
    pub fn new(origin: &str, trusted: Vec<VerifierKey>) -> Self {
        Self {
            origin: origin.to_owned(),
            trusted,
            frontier: Frontier::new(),
            previous_leaf: GENESIS_PREV_HASH,
            next_sequence: 0,
            pending: BTreeMap::new(),
            anchors: BTreeMap::new(),
            anchors_matched: 0,
            last_note: None,
            checkpoints_verified: 0,
            latest_checkpoint: None,
            problems: Vec::new(),
            problems_omitted: 0,
        }
    }

    /// Next entry in storage order. `stored_leaf` is the leaf hash the store
    /// or bundle holds, compared when given.
    pub fn push_entry(&mut self, entry: &Entry, stored_leaf: Option<&Hash>) {
        let leaf = entry.leaf_hash();
        self.push_hashed_entry(entry.sequence, &entry.prev_hash, leaf, stored_leaf);
    }

    /// [`Verifier::push_entry`] for an entry whose leaf hash `leaf` was just
    /// recomputed from its contents (by a parsing thread).
    pub(crate) fn push_hashed_entry(
        &mut self,
        sequence: u64,
        prev_hash: &Hash,
        leaf: Hash,
        stored_leaf: Option<&Hash>,
    ) {
        self.check_sequence(sequence);
        if *prev_hash != self.previous_leaf {
            let reason = format!(
                "previous-hash link broken (expected {}, found {})",
                hex::encode(self.previous_leaf),
                hex::encode(prev_hash)
            );
            self.add_problem(Location::Entry { sequence }, reason);
        }
        if let Some(stored) = stored_leaf
            && *stored != leaf
        {
            let reason = format!(
                "stored leaf hash does not match the entry's contents (stored {}, computed {})",
                hex::encode(stored),
                hex::encode(leaf)
            );
            self.add_problem(Location::Entry { sequence }, reason);
        }
        self.previous_leaf = leaf;
        self.next_sequence = sequence.wrapping_add(1);
        self.frontier.push(leaf);
        self.check_pending_checkpoints();
    }

    fn check_sequence(&mut self, sequence: u64) {
        let expected = self.next_sequence;
        let reason = match sequence.cmp(&expected) {
            Ordering::Equal => return,
            Ordering::Greater => format!(
                "entry missing or deleted before this one (expected sequence {expected}, found {sequence})"
            ),
            Ordering::Less => format!(
                "entry inserted or reordered (expected sequence {expected}, found {sequence})"
            ),
        };
        self.add_problem(Location::Entry { sequence }, reason);
    }

    /// A signed checkpoint note. Checked against the tree when exactly `size`
    /// entries have been pushed (now, or later as entries arrive); a
    /// checkpoint whose size was already passed is a problem ("out of order").
    pub fn push_checkpoint(&mut self, note: &str) {
        let opened = checkpoint::open(note, &self.trusted).map(|(checkpoint, _)| checkpoint);
        self.push_opened_checkpoint(opened, note, checkpoint::note_hash(note));
    }

    /// A checkpoint note already opened against this verifier's trusted keys
    /// (so that signatures can be checked on other threads), the note, and
    /// its [`checkpoint::note_hash`].
    pub fn push_opened_checkpoint(
        &mut self,
        opened: Result<Checkpoint, checkpoint::CheckpointError>,
        note: &str,
        note_hash: Hash,
    ) {
        let note_before = self.last_note.replace(note_hash);
        let checkpoint = match opened {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                let location = checkpoint::parse_unverified(note)
                    .map_or(Location::Ledger, |c| Location::Checkpoint { size: c.size });
                self.add_problem(location, format!("checkpoint rejected: {error}"));
                return;
            }
        };
        let location = Location::Checkpoint {
            size: checkpoint.size,
        };
        if checkpoint.origin != self.origin {
            let reason = format!(
                "checkpoint of another ledger (origin {:?}, expected {:?})",
                checkpoint.origin, self.origin
            );
            self.add_problem(location, reason);
            return;
        }
        self.check_link(&checkpoint, note_before);
        let seen = self.frontier.size();
        match checkpoint.size.cmp(&seen) {
            Ordering::Equal => self.check_root(checkpoint),
            Ordering::Greater => self
                .pending
                .entry(checkpoint.size)
                .or_default()
                .push(checkpoint),
            Ordering::Less => self.add_problem(
                location,
                format!("out of order: it comes after {seen} entries, past its size"),
            ),
        }
    }

    /// Checks that the note a checkpoint names as its previous one is the
    /// note pushed before it: a checkpoint deleted, inserted or altered
    /// breaks the chain.
    fn check_link(&mut self, checkpoint: &Checkpoint, note_before: Option<Hash>) {
        let Some(named) = checkpoint.previous else {
            return;
        };
        let reason = match note_before {
            Some(before) if before == named => return,
            Some(before) => format!(
                "checkpoint chain broken: it names the previous note {}, but the note before it hashes to {} (a checkpoint was deleted, inserted or altered)",
                hex::encode(named),
                hex::encode(before)
            ),
            None => format!(
                "checkpoint chain broken: it names the previous note {}, but no checkpoint comes before it (checkpoints were deleted)",
                hex::encode(named)
            ),
        };
        let location = Location::Checkpoint {
            size: checkpoint.size,
        };
        self.add_problem(location, reason);
    }

    fn check_pending_checkpoints(&mut self) {
        let size = self.frontier.size();
        if !self.pending.is_empty() {
            for checkpoint in self.pending.remove(&size).unwrap_or_default() {
                self.check_root(checkpoint);
            }
        }
        if !self.anchors.is_empty() {
            for (checkpoint, keeper) in self.anchors.remove(&size).unwrap_or_default() {
                self.check_anchor(&checkpoint, &keeper);
            }
        }
    }

    /// A checkpoint `keeper` holds outside the ledger (an auditor's saved
    /// note, a witness's cosignature), already authenticated by the caller:
    /// the entries must reach its size and give its root there. One they
    /// never reach means entries were removed since (rollback, truncation);
    /// another root means the ledger forked from what was shown to `keeper`.
    pub fn expect(&mut self, checkpoint: Checkpoint, keeper: &str) {
        if checkpoint.origin != self.origin {
            let reason = format!(
                "{keeper} holds a checkpoint of another ledger (origin {:?}, expected {:?})",
                checkpoint.origin, self.origin
            );
            self.add_problem(Location::Ledger, reason);
            return;
        }
        match checkpoint.size.cmp(&self.frontier.size()) {
            Ordering::Equal => self.check_anchor(&checkpoint, keeper),
            Ordering::Greater => self
                .anchors
                .entry(checkpoint.size)
                .or_default()
                .push((checkpoint, keeper.to_owned())),
            Ordering::Less => self.add_problem(
                Location::Checkpoint {
                    size: checkpoint.size,
                },
                format!("{keeper}'s checkpoint was given after its size had been passed"),
            ),
        }
    }

    fn check_anchor(&mut self, checkpoint: &Checkpoint, keeper: &str) {
        let computed = self.frontier.root();
        if checkpoint.root == computed {
            self.anchors_matched += 1;
            return;
        }
        let reason = format!(
            "the ledger forks from what {keeper} holds: root {} at this size, the entries give {}",
            hex::encode(checkpoint.root),
            hex::encode(computed)
        );
        self.add_problem(
            Location::Checkpoint {
                size: checkpoint.size,
            },
            reason,
        );
    }

    /// Compares a checkpoint for the current size with the recomputed root.
    fn check_root(&mut self, checkpoint: Checkpoint) {
        let computed = self.frontier.root();
        if checkpoint.root != computed {
            let reason = format!(
                "signed root does not match the entries (signed {}, computed {})",
                hex::encode(checkpoint.root),
                hex::encode(computed)
            );
            self.add_problem(
                Location::Checkpoint {
                    size: checkpoint.size,
                },
                reason,
            );
            return;
        }
        self.checkpoints_verified += 1;
        self.latest_checkpoint = Some(checkpoint);
    }

    /// Entries past the latest verified checkpoint: nothing signed them, so
    /// anyone able to write to the database could have added them.
    fn report_unattested(&mut self, present: u64) {
        let attested = self.latest_checkpoint.as_ref().map_or(0, |c| c.size);
        if present <= attested {
            return;
        }
        let reason = format!(
            "{} entries from this one on are covered by no verified checkpoint: nothing signed them",
            present - attested
        );
        self.add_problem(Location::Entry { sequence: attested }, reason);
    }

    /// Records a problem found by the caller (e.g. an unreadable stored row).
    pub fn add_problem(&mut self, location: Location, reason: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                location,
                reason: reason.into(),
            });
        } else {
            self.problems_omitted += 1;
        }
    }

    /// How many entries have been pushed.
    pub fn entries_seen(&self) -> u64 {
        self.frontier.size()
    }

    /// The tree recomputed over the entries pushed so far.
    pub fn tree(&self) -> &Frontier {
        &self.frontier
    }

    /// The leaf hash recomputed for the last entry pushed (the genesis
    /// previous-hash before any).
    pub fn last_leaf(&self) -> &Hash {
        &self.previous_leaf
    }

    /// The [`checkpoint::note_hash`] of the last checkpoint note pushed.
    pub fn last_note(&self) -> Option<&Hash> {
        self.last_note.as_ref()
    }

    /// Ends the replay. Checkpoints still waiting for entries mean entries are
    /// missing at the tail (truncation); entries past the latest verified
    /// checkpoint are covered by no signature.
    pub fn finish(mut self) -> Report {
        let present = self.frontier.size();
        for (size, checkpoints) in std::mem::take(&mut self.pending) {
            for _ in checkpoints {
                let reason = format!(
                    "signed for {size} entries but only {present} are present: entries missing at the tail (truncated)"
                );
                self.add_problem(Location::Checkpoint { size }, reason);
            }
        }
        for (size, anchors) in std::mem::take(&mut self.anchors) {
            for (_, keeper) in anchors {
                let reason = format!(
                    "{keeper} holds a checkpoint of {size} entries but only {present} are present: the ledger was rolled back or truncated"
                );
                self.add_problem(Location::Checkpoint { size }, reason);
            }
        }
        self.report_unattested(present);
        Report {
            origin: self.origin,
            entries: present,
            checkpoints_verified: self.checkpoints_verified,
            root: self.frontier.root(),
            latest_checkpoint: self.latest_checkpoint,
            anchors_matched: self.anchors_matched,
            problems: self.problems,
            problems_omitted: self.problems_omitted,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::checkpoint::LedgerKey;
    use crate::entry::{Event, Timestamp};
    use crate::merkle::empty_root;

    const ORIGIN: &str = "hms-ach/test";

    fn key() -> LedgerKey {
        LedgerKey::from_seed(ORIGIN, [3; 32])
    }

    fn chain(n: u64) -> Vec<Entry> {
        let mut previous = GENESIS_PREV_HASH;
        (0..n)
            .map(|sequence| {
                let entry = Entry {
                    sequence,
                    time: Timestamp(1_800_000_000_000_000 + sequence as i64),
                    prev_hash: previous,
                    event: Event {
                        kind: "decision".into(),
                        ..Event::default()
                    },
                };
                previous = entry.leaf_hash();
                entry
            })
            .collect()
    }

    fn note_for(entries: &[Entry]) -> String {
        let mut frontier = Frontier::new();
        entries.iter().for_each(|e| {
            frontier.push(e.leaf_hash());
        });
        key().sign(&Checkpoint {
            origin: ORIGIN.into(),
            size: entries.len() as u64,
            root: frontier.root(),
            time: Timestamp(1_800_000_001_000_000),
            previous: None,
        })
    }

    fn verify(entries: &[Entry], notes: &[(usize, String)]) -> Report {
        let mut verifier = Verifier::new(ORIGIN, vec![key().verifier()]);
        for (_, note) in notes.iter().filter(|(at, _)| *at == 0) {
            verifier.push_checkpoint(note);
        }
        for (i, entry) in entries.iter().enumerate() {
            verifier.push_entry(entry, Some(&entry.leaf_hash()));
            for (_, note) in notes.iter().filter(|(at, _)| *at == i + 1) {
                verifier.push_checkpoint(note);
            }
        }
        verifier.finish()
    }

    #[test]
    fn an_intact_ledger_verifies() {
        let entries = chain(10);
        let notes = vec![
            (0, note_for(&[])),
            (4, note_for(&entries[..4])),
            (10, note_for(&entries)),
        ];
        let report = verify(&entries, &notes);
        assert!(report.is_valid(), "{:?}", report.problems);
        assert_eq!(report.entries, 10);
        assert_eq!(report.checkpoints_verified, 3);
        assert_eq!(report.latest_checkpoint.as_ref().unwrap().size, 10);
        assert_eq!(report.unattested_entries(), 0);
        assert_eq!(report.origin, ORIGIN);
    }

    #[test]
    fn an_empty_ledger_has_the_empty_root() {
        let report = Verifier::new(ORIGIN, vec![]).finish();
        assert!(report.is_valid());
        assert_eq!(report.root, empty_root());
        assert_eq!(report.unattested_entries(), 0);
    }

    #[test]
    fn each_checkpoint_must_name_the_note_before_it() {
        let entries = chain(2);
        let first = note_for(&entries[..1]);
        let second = key().sign(&Checkpoint {
            previous: Some(checkpoint::note_hash(&first)),
            ..checkpoint::parse_unverified(&note_for(&entries)).unwrap()
        });
        let replay = |notes: &[&str]| {
            let mut verifier = Verifier::new(ORIGIN, vec![key().verifier()]);
            verifier.push_entry(&entries[0], None);
            let (last, before) = notes.split_last().unwrap();
            before
                .iter()
                .for_each(|note| verifier.push_checkpoint(note));
            verifier.push_entry(&entries[1], None);
            verifier.push_checkpoint(last);
            verifier.finish()
        };
        assert!(replay(&[&first, &second]).is_valid());
        let report = replay(&[&second]);
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].starts_with("checkpoint at size 2: checkpoint chain broken"));
        assert!(shown[0].contains("no checkpoint comes before it"));
        let other_first = key().sign(&Checkpoint {
            time: Timestamp(7),
            ..checkpoint::parse_unverified(&first).unwrap()
        });
        let report = replay(&[&other_first, &second]);
        assert_eq!(report.problems.len(), 1);
        assert!(
            report.problems[0]
                .reason
                .contains("the note before it hashes to")
        );
    }

    #[test]
    fn early_checkpoints_wait_for_their_entries() {
        let entries = chain(6);
        let mut verifier = Verifier::new(ORIGIN, vec![key().verifier()]);
        verifier.push_checkpoint(&note_for(&entries[..3]));
        verifier.push_checkpoint(&note_for(&entries));
        entries.iter().for_each(|e| verifier.push_entry(e, None));
        assert_eq!(verifier.entries_seen(), 6);
        let report = verifier.finish();
        assert!(report.is_valid(), "{:?}", report.problems);
        assert_eq!(report.checkpoints_verified, 2);
    }

    #[test]
    fn late_checkpoints_are_out_of_order() {
        let entries = chain(6);
        let report = verify(&entries, &[(6, note_for(&entries[..3]))]);
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        assert_eq!(
            report.problems[0].location,
            Location::Checkpoint { size: 3 }
        );
        assert!(report.problems[0].reason.contains("out of order"));
        assert_eq!(report.unattested_entries(), 6);
        assert_eq!(report.problems[1].location, Location::Entry { sequence: 0 });
        assert!(
            report.problems[1]
                .reason
                .starts_with("6 entries from this one on are covered by no verified checkpoint")
        );
    }

    #[test]
    fn foreign_and_garbled_checkpoints_are_reported() {
        let entries = chain(2);
        let other = LedgerKey::from_seed("hms-ach/other", [3; 32]);
        let mut verifier = Verifier::new(ORIGIN, vec![key().verifier(), other.verifier()]);
        entries.iter().for_each(|e| verifier.push_entry(e, None));
        let foreign = other.sign(&Checkpoint {
            origin: "hms-ach/other".into(),
            size: 2,
            root: [0; 32],
            time: Timestamp(0),
            previous: None,
        });
        verifier.push_checkpoint(&foreign);
        verifier.push_checkpoint("garbage");
        let report = verifier.finish();
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("checkpoint at size 2: checkpoint of another ledger"));
        assert!(shown[1].starts_with("ledger: checkpoint rejected: malformed signed note"));
        assert!(shown[2].starts_with("entry 0: 2 entries from this one on are covered by no"));
    }

    #[test]
    fn entries_past_the_latest_checkpoint_are_a_problem() {
        let entries = chain(5);
        let report = verify(&entries, &[(3, note_for(&entries[..3]))]);
        assert!(!report.is_valid());
        assert_eq!(report.unattested_entries(), 2);
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "entry 3: 2 entries from this one on are covered by no verified checkpoint: nothing signed them"
            ]
        );
    }

    fn checkpoint_of(entries: &[Entry]) -> Checkpoint {
        checkpoint::parse_unverified(&note_for(entries)).unwrap()
    }

    #[test]
    fn kept_checkpoints_must_be_reached_with_their_root() {
        let entries = chain(6);
        let notes = [(6, note_for(&entries))];
        let replay = |kept: Vec<Checkpoint>, upto: usize| {
            let mut verifier = Verifier::new(ORIGIN, vec![key().verifier()]);
            kept.into_iter()
                .for_each(|c| verifier.expect(c, "the auditor's saved note"));
            for entry in &entries[..upto] {
                verifier.push_entry(entry, None);
            }
            if upto == entries.len() {
                verifier.push_checkpoint(&notes[0].1);
            }
            verifier.finish()
        };
        let report = replay(vec![checkpoint_of(&[]), checkpoint_of(&entries[..4])], 6);
        assert!(report.is_valid(), "{:?}", report.problems);
        assert_eq!(report.anchors_matched, 2);
        let rolled_back = replay(vec![checkpoint_of(&entries)], 4);
        let shown: Vec<String> = rolled_back
            .problems
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            shown[0].starts_with("checkpoint at size 6: the auditor's saved note holds a checkpoint of 6 entries but only 4 are present"),
            "{shown:?}"
        );
        let mut forked = checkpoint_of(&entries[..4]);
        forked.root = [9; 32];
        let report = replay(vec![forked], 6);
        assert_eq!(report.problems.len(), 1);
        assert!(
            report.problems[0]
                .reason
                .starts_with("the ledger forks from what the auditor's saved note holds")
        );
    }

    #[test]
    fn problems_are_capped_and_counted() {
        let entries = chain(1);
        let mut verifier = Verifier::new(ORIGIN, vec![]);
        for _ in 0..MAX_PROBLEMS + 5 {
            verifier.push_entry(&entries[0], None);
        }
        let report = verifier.finish();
        assert_eq!(report.problems.len(), MAX_PROBLEMS);
        assert!(report.problems_omitted > 5);
        assert!(!report.is_valid());
    }

    #[test]
    fn locations_read_naturally() {
        let problem = Problem {
            location: Location::Entry { sequence: 41 },
            reason: "previous-hash link broken".into(),
        };
        assert_eq!(problem.to_string(), "entry 41: previous-hash link broken");
        assert_eq!(
            Location::Checkpoint { size: 100 }.to_string(),
            "checkpoint at size 100"
        );
        assert_eq!(
            Location::Node { level: 2, index: 5 }.to_string(),
            "tree node 5 at level 2"
        );
        assert_eq!(Location::Line { number: 7 }.to_string(), "line 7");
        assert_eq!(Location::Ledger.to_string(), "ledger");
    }
}
