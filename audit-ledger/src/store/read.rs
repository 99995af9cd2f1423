//! Reading the ledger: filtered entries, checkpoints, online verification and export.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::keys::PublishedKey;
use super::rows::{ENTRY_COLUMNS, entry_from_row, to_hash, to_i64, to_u64};
use super::sql::{Dialect, Statement};
use super::{Ledger, LedgerError, Shared, integrity, keys};
use crate::bundle::BundleLine;
use crate::checkpoint::{self, Checkpoint, Opened, VerifierKey};
use crate::entry::{Entry, Timestamp};
use crate::keyring::PublishedVkey;
use crate::merkle::{Frontier, Hash};
use crate::trust::Trust;
use crate::verify::{Location, Report, Verifier};

/// The largest tree size a query can name.
const LAST: u64 = i64::MAX as u64;

/// Entries read per query when walking the whole ledger.
const PAGE: i64 = 10_000;

/// Entries read per query by [`Ledger::scan`].
const SCAN_PAGE: i64 = 2_000;

/// Pages each reader of [`Ledger::scan`] reads ahead of the caller.
const SCAN_PAGES_AHEAD: usize = 4;

/// Tasks that read a [`Ledger::scan`] over a range side by side.
const SCAN_READERS: usize = 2;

/// Consecutive entries one reader of a [`Ledger::scan`] reads at a time.
const SCAN_CHUNK: u64 = 20_000;

/// Which entries to list; every field narrows the result.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EntryFilter {
    /// Only entries after this sequence number (for paging).
    pub after: Option<u64>,
    /// Recorded at or after this time.
    pub from: Option<Timestamp>,
    /// Recorded before this time.
    pub until: Option<Timestamp>,
    /// Who acted, e.g. `client:cl_…` or `staff:n-1`.
    pub actor: Option<String>,
    /// The staff member acted for or upon.
    pub subject: Option<String>,
    /// The patient concerned.
    pub patient: Option<String>,
    /// The kind of entry, e.g. `decision`.
    pub kind: Option<String>,
    /// The outcome, e.g. `permit` or `deny`.
    pub outcome: Option<String>,
    /// The decision id a PDP answer carried.
    pub decision_id: Option<String>,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredCheckpoint {
    /// Entries covered.
    pub tree_size: u64,
    /// Merkle root over them, hex.
    pub root_hash: String,
    /// When it was signed.
    pub signed_at: Timestamp,
    /// Which key signed it (8 hex digits).
    pub key_id: String,
    /// The signed note (C2SP tlog-checkpoint).
    pub note: String,
}

type CheckpointRow = (i64, Vec<u8>, i64, String, String);

fn checkpoint_from_row(row: CheckpointRow) -> Result<StoredCheckpoint, LedgerError> {
    let (size, root, signed_at, key_id, note) = row;
    Ok(StoredCheckpoint {
        tree_size: to_u64(size, "checkpoint size")?,
        root_hash: hex::encode(to_hash(&root, "checkpoint root")?),
        signed_at: Timestamp::from_unix_micros(signed_at),
        key_id,
        note,
    })
}

const CHECKPOINT_COLUMNS: &str = "tree_size, root_hash, signed_at, key_id, note";

impl Ledger {
    /// Entries matching `filter` that a signed checkpoint covers, in sequence
    /// order, at most `limit`, with their stored leaf hashes.
    pub async fn entries(
        &self,
        filter: &EntryFilter,
        limit: u32,
    ) -> Result<Vec<(Entry, Hash)>, LedgerError> {
        // Only entries a signed checkpoint covers: a row written into the
        // table behind the service's back is never served.
        let attested = self.latest_checkpoint().await?.map_or(0, |c| c.tree_size);
        let query = select(
            self.shared.dialect,
            filter,
            &[],
            Walk::ByIndexes,
            attested,
            i64::from(limit),
        )?;
        let rows = query.query().fetch_all(&self.shared.pool).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Passes `each` every entry that `filter` selects, whose kind is one of
    /// `kinds` (any kind when empty) and whose sequence number is below
    /// `size`, in sequence order, a page at a time.
    ///
    /// Entries about one staff member or patient are read through their
    /// index by one task. Otherwise the entries are walked in sequence order
    /// from the first one recorded at or after `filter.from` (so a range
    /// costs what it holds and what follows it, not the whole ledger), in
    /// chunks that [`SCAN_READERS`] tasks read and decode side by side, each
    /// on its own connection, while `each` works on the pages already read.
    pub async fn scan(
        &self,
        filter: &EntryFilter,
        kinds: &[String],
        size: u64,
        mut each: impl FnMut(&[Entry]),
    ) -> Result<(), LedgerError> {
        let mut filter = filter.clone();
        let followed = filter.subject.is_some() || filter.patient.is_some();
        let (readers, chunk) = if followed {
            (1, LAST)
        } else {
            filter.after = self.before_first_at_or_after(filter.from).await?;
            (SCAN_READERS, SCAN_CHUNK)
        };
        let first = filter.after.map_or(0, |after| after.saturating_add(1));
        let mut receivers = Vec::with_capacity(readers);
        let mut tasks = Vec::with_capacity(readers);
        for reader in 0..readers as u64 {
            let (pages, received) = mpsc::channel(SCAN_PAGES_AHEAD);
            let chunks = Chunks {
                next: first.saturating_add(reader.saturating_mul(chunk)),
                step: chunk.saturating_mul(readers as u64),
                length: chunk,
                end: size,
            };
            let (shared, filter, kinds) =
                (Arc::clone(&self.shared), filter.clone(), kinds.to_vec());
            tasks.push(tokio::spawn(async move {
                read_chunks(&shared, filter, &kinds, chunks, &pages).await;
            }));
            receivers.push(received);
        }
        let mut chunk_index = 0;
        while let Some(receiver) = receivers.get_mut(chunk_index % readers) {
            match receiver.recv().await {
                // The reader of this chunk has none left: every chunk was read.
                None => break,
                Some(Err(error)) => return Err(error),
                Some(Ok(page)) if page.is_empty() => chunk_index += 1,
                Some(Ok(page)) => each(&page),
            }
        }
        for task in tasks {
            task.await
                .map_err(|e| LedgerError::Invalid(format!("ledger reader stopped: {e}")))?;
        }
        Ok(())
    }

    /// The sequence number just before the first entry recorded at or after
    /// `from` (through the time index); `None` when that is the first entry
    /// or `from` is not given.
    async fn before_first_at_or_after(
        &self,
        from: Option<Timestamp>,
    ) -> Result<Option<u64>, LedgerError> {
        let Some(from) = from else {
            return Ok(None);
        };
        let (first,): (Option<i64>,) =
            sqlx::query_as("SELECT MIN(sequence) FROM ledger_entries WHERE recorded_at >= $1")
                .bind(from.unix_micros())
                .fetch_one(&self.shared.pool)
                .await?;
        match first {
            Some(first) => Ok(to_u64(first, "sequence")?.checked_sub(1)),
            None => Ok(None),
        }
    }

    /// When `subject` was last permitted something by one of `policies`: the
    /// time of their latest permitted decision whose determining policies
    /// include one of them; `None` when the ledger holds no such decision.
    /// Reads the subject's decisions newest first, a page at a time.
    pub async fn last_permitted_by(
        &self,
        subject: &str,
        policies: &[String],
    ) -> Result<Option<Timestamp>, LedgerError> {
        const PAGE: i64 = 500;
        if policies.is_empty() {
            return Ok(None);
        }
        let mut before = i64::MAX;
        loop {
            let rows: Vec<(i64, i64, String)> = sqlx::query_as(
                "SELECT sequence, recorded_at, policies FROM ledger_entries \
                 WHERE subject = $1 AND sequence < $2 AND kind = 'decision' AND outcome = 'permit' \
                 ORDER BY sequence DESC LIMIT $3",
            )
            .bind(subject)
            .bind(before)
            .bind(PAGE)
            .fetch_all(&self.shared.pool)
            .await?;
            for (_, recorded_at, determining) in &rows {
                let determining: Vec<String> = serde_json::from_str(determining)
                    .map_err(|_| LedgerError::Corrupt("an entry's policies".into()))?;
                if determining.iter().any(|p| policies.contains(p)) {
                    return Ok(Some(Timestamp::from_unix_micros(*recorded_at)));
                }
            }
            match rows.last() {
                Some((sequence, _, _)) if rows.len() as i64 == PAGE => before = *sequence,
                _ => return Ok(None),
            }
        }
    }

    /// Every decision requested with break-glass since `since`, oldest
    /// first. The details column narrows the scan; each candidate is
    /// confirmed on its parsed details.
    pub async fn break_glass_decisions(&self, since: Timestamp) -> Result<Vec<Entry>, LedgerError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE kind = 'decision' \
             AND recorded_at >= $1 AND details LIKE '%\"break_glass\":true%' ORDER BY sequence"
        ))
        .bind(since.unix_micros())
        .fetch_all(&self.shared.pool)
        .await?;
        let mut found = Vec::new();
        for row in &rows {
            let (entry, _) = entry_from_row(row)?;
            if entry.event.details["context"]["break_glass"] == serde_json::Value::Bool(true) {
                found.push(entry);
            }
        }
        Ok(found)
    }

    /// How many entries the ledger holds, as its chain head records (without
    /// counting rows, which takes seconds on a large SQLite ledger).
    pub async fn size(&self) -> Result<u64, LedgerError> {
        let (frontier,): (Vec<u8>,) =
            sqlx::query_as("SELECT frontier FROM ledger_head WHERE id = 1")
                .fetch_one(&self.shared.pool)
                .await?;
        Frontier::from_bytes(&frontier)
            .map(|frontier| frontier.size())
            .map_err(|e| LedgerError::Corrupt(format!("chain head: {e}")))
    }

    /// Checkpoints with a size above `after`, smallest first, at most `limit`.
    pub async fn checkpoints(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, LedgerError> {
        let rows: Vec<CheckpointRow> = sqlx::query_as(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size > $1 \
             ORDER BY tree_size LIMIT $2"
        ))
        .bind(to_i64(after)?)
        .bind(i64::from(limit))
        .fetch_all(&self.shared.pool)
        .await?;
        rows.into_iter().map(checkpoint_from_row).collect()
    }

    /// The checkpoint over exactly `size` entries.
    pub async fn checkpoint_at(&self, size: u64) -> Result<StoredCheckpoint, LedgerError> {
        let row: Option<CheckpointRow> = sqlx::query_as(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size = $1"
        ))
        .bind(to_i64(size)?)
        .fetch_optional(&self.shared.pool)
        .await?;
        let row =
            row.ok_or_else(|| LedgerError::NotFound(format!("no checkpoint at size {size}")))?;
        checkpoint_from_row(row)
    }

    /// The most recent checkpoint, if anything was ever recorded.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, LedgerError> {
        let row: Option<CheckpointRow> = sqlx::query_as(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
        ))
        .fetch_optional(&self.shared.pool)
        .await?;
        row.map(checkpoint_from_row).transpose()
    }

    /// Verifies the whole stored ledger: chain, leaf hashes, every checkpoint
    /// and its stored columns, the tree nodes and the chain head, against what
    /// `trust` brings. With no key in `trust`, the ledger's first published
    /// key is trusted, and the keys it endorsed. `progress` hears (entries
    /// verified, entries in all).
    pub async fn verify(
        &self,
        trust: &Trust,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Report, LedgerError> {
        let (trust, trusted, problems) = self.resolve_trust(trust).await?;
        // Up to the head as it is now: appends made meanwhile are for the next run.
        let head = integrity::read_head(&self.shared).await?;
        let upto = head.size().unwrap_or(LAST);
        let mut verifier = Verifier::new(self.origin(), trusted.clone());
        for (location, reason) in problems {
            verifier.add_problem(location, reason);
        }
        let cosigned: Vec<String> = self
            .cosignatures()
            .await?
            .into_iter()
            .map(|c| c.note)
            .collect();
        trust.expect_kept(&mut verifier, &trusted, &cosigned);
        let total = head.size().unwrap_or_default();
        self.replay_upto(&mut verifier, &trusted, upto, |done| progress(done, total))
            .await?;
        integrity::compare_head(&head, &mut verifier);
        let past = head.size().unwrap_or(verifier.entries_seen());
        integrity::check_past_head(&self.shared, &mut verifier, past).await?;
        integrity::check_nodes(&self.shared, &mut verifier).await?;
        Ok(verifier.finish())
    }

    /// The trust to verify with (the ledger's first published key when
    /// `trust` gives none), the signing keys it yields, and a problem for
    /// each published key it leaves untrusted.
    pub(crate) async fn resolve_trust(
        &self,
        trust: &Trust,
    ) -> Result<(Trust, Vec<VerifierKey>, Vec<(Location, String)>), LedgerError> {
        let published = self.public_keys().await?;
        let mut trust = trust.clone();
        if trust.keys.is_empty() {
            trust.keys = keys::first_key(&published)?;
        }
        let vkeys: Vec<PublishedVkey> = published.iter().map(PublishedKey::as_vkey).collect();
        let mut problems = Vec::new();
        let trusted = trust.signing_keys(&vkeys, &mut problems);
        Ok((trust, trusted, problems))
    }

    /// Feeds `verifier` the entries before `size` and the checkpoints up to
    /// it, then those over entries that are not there (a cut tail);
    /// `progress` hears the entries fed so far.
    pub(crate) async fn replay_upto(
        &self,
        verifier: &mut Verifier,
        trusted: &[VerifierKey],
        size: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<(), LedgerError> {
        let mut pages = Pages::default();
        while let Some((entries, checkpoints)) = self.next_page(&mut pages, Some(size)).await? {
            feed(verifier, trusted, &entries, &checkpoints);
            progress(verifier.entries_seen());
        }
        let rest = self
            .checkpoints_through(pages.last_checkpoint, size)
            .await?;
        feed(verifier, trusted, &[], &rest);
        Ok(())
    }

    /// Writes an export bundle (JSON lines) of the ledger up to its chain
    /// head (its latest checkpoint, when intact) to `sink`; stops early if
    /// the receiver goes away.
    pub async fn export(&self, sink: &mpsc::Sender<String>) -> Result<(), LedgerError> {
        // Read before the size, so that none is of a size past what is exported.
        let cosigned = self.cosignatures().await?;
        // Up to the chain head, which every append moves in the transaction
        // that signs its checkpoint: entries under it that no checkpoint
        // covers (a checkpoint deleted) go out too, for the verifier to see.
        let upto = self.size().await?;
        let header = BundleLine::Header {
            origin: self.origin().to_owned(),
            exported_at: Timestamp::now(),
            entries: upto,
        };
        let mut lines = vec![header.to_json_line()];
        for key in self.public_keys().await? {
            let line = BundleLine::Key {
                vkey: key.vkey,
                created_at: key.created_at,
                retired_at: key.retired_at,
                endorsement: key.endorsement,
            };
            lines.push(line.to_json_line());
        }
        lines.extend(
            cosigned
                .into_iter()
                .map(|c| BundleLine::Cosigned { note: c.note }.to_json_line()),
        );
        if !send_all(sink, lines).await {
            return Ok(());
        }
        let mut pages = Pages::default();
        while let Some((entries, checkpoints)) = self.next_page(&mut pages, Some(upto)).await? {
            if !send_all(sink, bundle_lines(entries, checkpoints)).await {
                return Ok(());
            }
        }
        // Checkpoints over entries that are no longer there go out too, for the verifier to see.
        let rest = self
            .checkpoints_through(pages.last_checkpoint, upto)
            .await?;
        send_all(sink, bundle_lines(Vec::new(), rest)).await;
        Ok(())
    }

    /// The next page of entries in sequence order, with the checkpoints whose
    /// size falls within it; `None` at the end (or past `upto` entries).
    async fn next_page(
        &self,
        pages: &mut Pages,
        upto: Option<u64>,
    ) -> Result<Option<(Vec<(Entry, Hash)>, Vec<StoredCheckpoint>)>, LedgerError> {
        let mut query = Statement::new(
            self.shared.dialect,
            &format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE sequence >= "),
        );
        query.bind(to_i64(pages.next_sequence)?);
        if let Some(upto) = upto {
            query.push(" AND sequence < ").bind(to_i64(upto)?);
        }
        query.push(" ORDER BY sequence LIMIT ").bind(PAGE);
        let rows = query.query().fetch_all(&self.shared.pool).await?;
        let entries: Vec<(Entry, Hash)> =
            rows.iter().map(entry_from_row).collect::<Result<_, _>>()?;
        let Some((last, _)) = entries.last() else {
            return Ok(None);
        };
        pages.next_sequence = last.sequence + 1;
        let covered = upto.map_or(pages.next_sequence, |u| u.min(pages.next_sequence));
        let checkpoints = self
            .checkpoints_through(pages.last_checkpoint, covered)
            .await?;
        pages.last_checkpoint = covered;
        Ok(Some((entries, checkpoints)))
    }

    /// Checkpoints with `after < size <= through`.
    async fn checkpoints_through(
        &self,
        after: u64,
        through: u64,
    ) -> Result<Vec<StoredCheckpoint>, LedgerError> {
        let rows: Vec<CheckpointRow> = sqlx::query_as(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints \
             WHERE tree_size > $1 AND tree_size <= $2 ORDER BY tree_size"
        ))
        .bind(to_i64(after)?)
        .bind(to_i64(through)?)
        .fetch_all(&self.shared.pool)
        .await?;
        rows.into_iter().map(checkpoint_from_row).collect()
    }
}

/// Where a walk over the ledger has got to.
#[derive(Default)]
struct Pages {
    next_sequence: u64,
    last_checkpoint: u64,
}

/// Feeds a page to the verifier, its checkpoints opened as a chain
/// ([`checkpoint::open_chain`]), each right after the entry that completes it.
fn feed(
    verifier: &mut Verifier,
    trusted: &[VerifierKey],
    entries: &[(Entry, Hash)],
    checkpoints: &[StoredCheckpoint],
) {
    let notes: Vec<&str> = checkpoints.iter().map(|c| c.note.as_str()).collect();
    let hashes: Vec<Hash> = notes
        .iter()
        .map(|note| checkpoint::note_hash(note))
        .collect();
    let opened = checkpoint::open_hashed_chain(&notes, &hashes, trusted);
    let mut checkpoints = checkpoints.iter().zip(hashes).zip(opened).peekable();
    for (entry, leaf) in entries {
        verifier.push_entry(entry, Some(leaf));
        while let Some(next) =
            checkpoints.next_if(|((c, _), _)| c.tree_size <= verifier.entries_seen())
        {
            push_opened(verifier, next);
        }
    }
    checkpoints.for_each(|next| push_opened(verifier, next));
}

fn push_opened(
    verifier: &mut Verifier,
    ((stored, hash), opened): ((&StoredCheckpoint, Hash), Opened),
) {
    if let Ok((checkpoint, key_id)) = &opened {
        compare_columns(verifier, stored, checkpoint, key_id);
    }
    let opened = opened.map(|(checkpoint, _)| checkpoint);
    verifier.push_opened_checkpoint(opened, &stored.note, hash);
}

/// The columns stored beside a checkpoint note must say what the note says:
/// readers (proofs, listings) use them without opening the note.
fn compare_columns(
    verifier: &mut Verifier,
    stored: &StoredCheckpoint,
    checkpoint: &Checkpoint,
    key_id: &[u8; 4],
) {
    let columns = [
        (
            "tree_size",
            stored.tree_size.to_string(),
            checkpoint.size.to_string(),
        ),
        (
            "root_hash",
            stored.root_hash.clone(),
            hex::encode(checkpoint.root),
        ),
        ("key_id", stored.key_id.clone(), hex::encode(key_id)),
    ];
    for (column, held, signed) in columns {
        if held != signed {
            let reason = format!(
                "the stored {column} column ({held}) differs from the signed note ({signed})"
            );
            verifier.add_problem(
                Location::Checkpoint {
                    size: checkpoint.size,
                },
                reason,
            );
        }
    }
}

/// A page as bundle lines: each checkpoint right after the entry that completes it.
fn bundle_lines(entries: Vec<(Entry, Hash)>, checkpoints: Vec<StoredCheckpoint>) -> Vec<String> {
    let mut lines = Vec::with_capacity(entries.len() + checkpoints.len());
    let mut checkpoints = checkpoints.into_iter().peekable();
    for (entry, _) in entries {
        let covered = entry.sequence + 1;
        lines.push(BundleLine::Entry(entry).to_json_line());
        while let Some(checkpoint) = checkpoints.next_if(|c| c.tree_size <= covered) {
            lines.push(
                BundleLine::Checkpoint {
                    note: checkpoint.note,
                }
                .to_json_line(),
            );
        }
    }
    lines.extend(checkpoints.map(|c| BundleLine::Checkpoint { note: c.note }.to_json_line()));
    lines
}

/// Sends lines in order; false once the receiver has gone.
async fn send_all(sink: &mpsc::Sender<String>, lines: Vec<String>) -> bool {
    for line in lines {
        if sink.send(line).await.is_err() {
            return false;
        }
    }
    true
}

/// How a query finds its entries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// By whichever index the database prefers, the time index included.
    ByIndexes,
    /// In sequence order, the time range only filtering (a page of a range
    /// read through the time index would sort the whole rest of the range).
    BySequence,
}

/// The query for entries `filter` selects, of `kinds` (any when empty),
/// below sequence `size`, at most `limit`, in sequence order.
fn select(
    dialect: Dialect,
    filter: &EntryFilter,
    kinds: &[String],
    walk: Walk,
    size: u64,
    limit: i64,
) -> Result<Statement, LedgerError> {
    // A unary plus keeps both databases from reading the time index.
    let time = match walk {
        Walk::ByIndexes => "recorded_at",
        Walk::BySequence => "+recorded_at",
    };
    let mut query = Statement::new(
        dialect,
        &format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE sequence < "),
    );
    query.bind(to_i64(size)?);
    if let Some(after) = filter.after {
        query.push(" AND sequence > ").bind(to_i64(after)?);
    }
    if let Some(from) = filter.from {
        query
            .push(&format!(" AND {time} >= "))
            .bind(from.unix_micros());
    }
    if let Some(until) = filter.until {
        query
            .push(&format!(" AND {time} < "))
            .bind(until.unix_micros());
    }
    let columns = [
        ("actor", &filter.actor),
        ("subject", &filter.subject),
        ("patient", &filter.patient),
        ("kind", &filter.kind),
        ("outcome", &filter.outcome),
        ("decision_id", &filter.decision_id),
    ];
    for (column, value) in columns {
        if let Some(value) = value {
            query.push(&format!(" AND {column} = ")).bind(value.clone());
        }
    }
    for (n, kind) in kinds.iter().enumerate() {
        query.push(if n == 0 { " AND kind IN (" } else { ", " });
        query.bind(kind.clone());
    }
    if !kinds.is_empty() {
        query.push(")");
    }
    query.push(" ORDER BY sequence LIMIT ").bind(limit);
    Ok(query)
}

/// The sequence ranges one reader of a [`Ledger::scan`] reads: `length`
/// entries from `next`, then every `step`, up to `end`.
struct Chunks {
    next: u64,
    step: u64,
    length: u64,
    end: u64,
}

impl Iterator for Chunks {
    type Item = std::ops::Range<u64>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next;
        if start >= self.end {
            return None;
        }
        self.next = start.saturating_add(self.step);
        Some(start..start.saturating_add(self.length).min(self.end))
    }
}

/// Reads `chunks` for a [`Ledger::scan`]: sends each chunk's pages, then an
/// empty page to mark the chunk's end; stops at an error (which it sends) or
/// when the scan no longer listens.
async fn read_chunks(
    shared: &Shared,
    filter: EntryFilter,
    kinds: &[String],
    chunks: Chunks,
    pages: &mpsc::Sender<Result<Vec<Entry>, LedgerError>>,
) {
    for chunk in chunks {
        let read = read_chunk(shared, filter.clone(), kinds, chunk, pages).await;
        let end = match read {
            Ok(()) => Ok(Vec::new()),
            Err(error) => Err(error),
        };
        let failed = end.is_err();
        if pages.send(end).await.is_err() || failed {
            return;
        }
    }
}

/// Sends the non-empty pages of entries in `chunk` that `filter` and `kinds` select.
async fn read_chunk(
    shared: &Shared,
    mut filter: EntryFilter,
    kinds: &[String],
    chunk: std::ops::Range<u64>,
    pages: &mpsc::Sender<Result<Vec<Entry>, LedgerError>>,
) -> Result<(), LedgerError> {
    filter.after = chunk.start.checked_sub(1);
    loop {
        let query = select(
            shared.dialect,
            &filter,
            kinds,
            Walk::BySequence,
            chunk.end,
            SCAN_PAGE,
        )?;
        let rows = query.query().fetch_all(&shared.pool).await?;
        let full = rows.len() == SCAN_PAGE as usize;
        let page = rows
            .iter()
            .map(|row| entry_from_row(row).map(|(entry, _)| entry))
            .collect::<Result<Vec<_>, _>>()?;
        filter.after = page.last().map(|entry| entry.sequence);
        if page.is_empty() || pages.send(Ok(page)).await.is_err() || !full {
            return Ok(());
        }
    }
}
