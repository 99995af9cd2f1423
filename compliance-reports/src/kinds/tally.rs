//! Reports computed as ledger entries stream past: each report reads one
//! entry at a time and keeps only what it needs, so a pack of reports over
//! millions of entries is one pass over the ledger and not a copy of it.

use hms_audit_ledger::Entry;

use crate::report::{Directory, Parameters};

/// A row, or none, for one entry taken on its own.
pub(super) type RowOf = fn(&Entry, &Parameters, &Directory) -> Option<Vec<String>>;
/// Rows from a set of entries taken together.
pub(super) type Rows = fn(&[Entry], &Parameters, &Directory) -> Vec<Vec<String>>;
/// Whether an entry is one a report must hold until the end.
pub(super) type Keep = fn(&Entry, &Parameters, &Directory) -> bool;
/// A report's own running state, over the parameters and directory.
pub(super) type Start = for<'a> fn(&'a Parameters, &'a Directory) -> Box<dyn Running + 'a>;

/// How a report turns entries into rows.
#[derive(Clone, Copy)]
pub(super) enum Reading {
    /// Each entry makes a row or not, whatever the others are.
    EachEntry(RowOf),
    /// The rows need the entries `keep` selects all together; those (few)
    /// entries are held until the end.
    Held {
        /// Which entries to hold.
        keep: Keep,
        /// The rows from the held entries.
        rows: Rows,
    },
    /// The report keeps its own tally (counts, sets, state per person).
    Own(Start),
}

/// A report's own tally of the entries it has read.
pub(super) trait Running: Send {
    /// Takes in the next entry.
    fn add(&mut self, entry: &Entry);
    /// The rows, once every entry has been read.
    fn rows(self: Box<Self>) -> Vec<Vec<String>>;
}

/// Never holds an entry: for reports made from the directory alone.
pub(super) fn nothing(_: &Entry, _: &Parameters, _: &Directory) -> bool {
    false
}

/// How many entries a report read, and the first and last of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntriesRead {
    /// Entries of the kinds the report reads.
    pub count: u64,
    /// Sequence number of the first of them.
    pub first: Option<u64>,
    /// Sequence number of the last of them.
    pub last: Option<u64>,
}

impl EntriesRead {
    fn count(&mut self, entry: &Entry) {
        self.count += 1;
        self.first.get_or_insert(entry.sequence);
        self.last = Some(entry.sequence);
    }
}

enum State<'a> {
    EachEntry(RowOf, Vec<Vec<String>>),
    Held(Keep, Rows, Vec<Entry>),
    Own(Box<dyn Running + 'a>),
}

/// One report being computed: give it entries in sequence order with
/// [`Tally::add`] (entries of kinds it does not read are passed over), then
/// take its rows with [`Tally::finish`].
pub struct Tally<'a> {
    /// The entry kinds read: every kind when empty, none when `None`.
    kinds: Option<&'static [&'static str]>,
    parameters: &'a Parameters,
    directory: &'a Directory,
    state: State<'a>,
    read: EntriesRead,
}

impl<'a> Tally<'a> {
    pub(super) fn new(
        kinds: Option<&'static [&'static str]>,
        reading: Reading,
        parameters: &'a Parameters,
        directory: &'a Directory,
    ) -> Self {
        let state = match reading {
            Reading::EachEntry(row) => State::EachEntry(row, Vec::new()),
            Reading::Held { keep, rows } => State::Held(keep, rows, Vec::new()),
            Reading::Own(start) => State::Own(start(parameters, directory)),
        };
        Self {
            kinds,
            parameters,
            directory,
            state,
            read: EntriesRead::default(),
        }
    }

    /// Whether the report reads entries of `kind`.
    fn reads(&self, kind: &str) -> bool {
        self.kinds
            .is_some_and(|kinds| kinds.is_empty() || kinds.contains(&kind))
    }

    /// Takes in the next entry.
    pub fn add(&mut self, entry: &Entry) {
        if !self.reads(&entry.event.kind) {
            return;
        }
        self.read.count(entry);
        let (parameters, directory) = (self.parameters, self.directory);
        match &mut self.state {
            State::EachEntry(row, rows) => rows.extend(row(entry, parameters, directory)),
            State::Held(keep, _, held) => {
                if keep(entry, parameters, directory) {
                    held.push(entry.clone());
                }
            }
            State::Own(running) => running.add(entry),
        }
    }

    /// The report's rows, and which entries it read.
    pub fn finish(self) -> (Vec<Vec<String>>, EntriesRead) {
        let rows = match self.state {
            State::EachEntry(_, rows) => rows,
            State::Held(_, rows, held) => rows(&held, self.parameters, self.directory),
            State::Own(running) => running.rows(),
        };
        (rows, self.read)
    }
}
