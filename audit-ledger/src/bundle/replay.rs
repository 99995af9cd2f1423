//! Verifying a bundle quickly: the calling thread reads lines in chunks, worker
//! threads parse and hash them, and the results are replayed in line order
//! through the [`Verifier`].

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, ScopedJoinHandle};

use super::{
    BundleError, BundleLine, COSIGNED_LINE_START, KEY_LINE_START, MAX_LINE_BYTES, OtherLineIn,
    ParsedLine, parse_line,
};
use crate::checkpoint::{self, Checkpoint, CheckpointError, VerifierKey};
use crate::entry::CanonicalJson;
use crate::keyring::PublishedVkey;
use crate::merkle::Hash;
use crate::verify::{Location, Verifier};

/// Lines are handed to the parsing threads in chunks of about this many bytes
/// (a chunk's checkpoints are opened as one chain, whose signatures are
/// checked in one batch)…
const CHUNK_BYTES: usize = 2 << 20;
/// …or of this many lines, whichever comes first.
const CHUNK_LINES: usize = 8192;
/// At most this many parsing threads.
const MAX_PARSING_THREADS: usize = 4;
/// Parsing threads beyond one per core: the calling thread reads and replays
/// in turns, and while it waits one more parser keeps every core busy (on two
/// cores, 1.93-1.97 cores used instead of 1.75-1.87, and 5-8% faster).
const EXTRA_PARSING_THREADS: usize = 1;

/// A span of chunk text holding one line, or a line that was too long to keep.
enum RawLine {
    Text {
        number: u64,
        start: usize,
        end: usize,
    },
    TooLong {
        number: u64,
    },
}

/// Consecutive lines, read on the calling thread, parsed on a worker into
/// `parsed`, and replayed on the calling thread, which then reuses the
/// chunk's buffers for the next lines.
#[derive(Default)]
struct Chunk {
    text: Vec<u8>,
    lines: Vec<RawLine>,
    parsed: Vec<Parsed>,
}

/// What a worker makes of one line.
enum Parsed {
    Entry {
        sequence: u64,
        prev_hash: Hash,
        leaf: Hash,
        stored_leaf: Option<Hash>,
    },
    Checkpoint {
        line: u64,
        opened: Result<Checkpoint, CheckpointError>,
        hash: Hash,
        note: String,
    },
    Problem {
        line: u64,
        reason: String,
    },
    Nothing,
}

/// Reads lines, numbering them from 1, without ever holding more than
/// [`MAX_LINE_BYTES`] of one line.
pub(super) struct LineReader<R> {
    reader: R,
    last_number: u64,
    /// The first line after the preamble, read to see that it was not one.
    carried: Option<Chunk>,
}

/// The lines between the header and the entries.
#[derive(Default)]
pub(super) struct Preamble {
    /// The published keys, with their endorsements.
    pub(super) keys: Vec<PublishedVkey>,
    /// Checkpoint notes with witnesses' cosignatures.
    pub(super) cosigned: Vec<String>,
    /// Key or cosigned lines that could not be read.
    pub(super) problems: Vec<(Location, String)>,
}

impl<R: BufRead> LineReader<R> {
    pub(super) fn new(reader: R) -> Self {
        Self {
            reader,
            last_number: 0,
            carried: None,
        }
    }

    /// Reads the key and cosigned lines that follow the header; the first
    /// other line is kept for the first chunk.
    pub(super) fn preamble(&mut self) -> Result<Preamble, BundleError> {
        let mut preamble = Preamble::default();
        loop {
            let mut chunk = Chunk::default();
            let Some(line) = self.read_line(&mut chunk)? else {
                return Ok(preamble);
            };
            let RawLine::Text { number, start, end } = line else {
                chunk.lines.push(line);
                self.carried = Some(chunk);
                return Ok(preamble);
            };
            let parsed = std::str::from_utf8(&chunk.text[start..end])
                .ok()
                .filter(|text| {
                    text.starts_with(KEY_LINE_START) || text.starts_with(COSIGNED_LINE_START)
                })
                .map(BundleLine::parse);
            match parsed {
                None => {
                    chunk.lines.push(line);
                    self.carried = Some(chunk);
                    return Ok(preamble);
                }
                Some(Ok(BundleLine::Key {
                    vkey, endorsement, ..
                })) => match VerifierKey::parse(&vkey) {
                    Ok(_) => preamble.keys.push(PublishedVkey { vkey, endorsement }),
                    Err(error) => preamble.problems.push((
                        Location::Line { number },
                        format!("published key unreadable: {error}"),
                    )),
                },
                Some(Ok(BundleLine::Cosigned { note })) => preamble.cosigned.push(note),
                Some(Ok(_)) | Some(Err(_)) => preamble.problems.push((
                    Location::Line { number },
                    "malformed key or cosigned line".into(),
                )),
            }
        }
    }

    /// Reads the header line: the origin and the announced entry count.
    pub(super) fn header(&mut self) -> Result<(String, u64), BundleError> {
        let mut chunk = Chunk::default();
        match self.read_line(&mut chunk)? {
            None => Err(BundleError::MissingHeader),
            Some(RawLine::TooLong { .. }) => {
                Err(BundleError::InvalidHeader("line too long".into()))
            }
            Some(RawLine::Text { start, end, .. }) => {
                let text = std::str::from_utf8(&chunk.text[start..end])
                    .map_err(|_| BundleError::InvalidHeader("not UTF-8".into()))?;
                match BundleLine::parse(text) {
                    Ok(BundleLine::Header {
                        origin, entries, ..
                    }) => Ok((origin, entries)),
                    Ok(_) => Err(BundleError::InvalidHeader(
                        "the first line is not a header line".into(),
                    )),
                    Err(error) => Err(BundleError::InvalidHeader(error.to_string())),
                }
            }
        }
    }

    /// Appends the next line to `chunk`; None at the end of the input.
    fn read_line(&mut self, chunk: &mut Chunk) -> io::Result<Option<RawLine>> {
        let start = chunk.text.len();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut chunk.text)?;
        if read == 0 {
            return Ok(None);
        }
        self.last_number += 1;
        let number = self.last_number;
        if chunk.text.last() == Some(&b'\n') {
            chunk.text.pop();
        } else if read as u64 == limit {
            chunk.text.truncate(start);
            self.skip_rest_of_line()?;
            return Ok(Some(RawLine::TooLong { number }));
        }
        let end = chunk.text.len();
        Ok(Some(RawLine::Text { number, start, end }))
    }

    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        loop {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                return Ok(());
            }
            if let Some(newline) = buffer.iter().position(|&b| b == b'\n') {
                self.reader.consume(newline + 1);
                return Ok(());
            }
            let length = buffer.len();
            self.reader.consume(length);
        }
    }

    /// The next chunk of lines, read into `chunk` (a spent chunk whose
    /// buffers are reused); None at the end of the input.
    fn next_chunk(&mut self, mut chunk: Chunk) -> io::Result<Option<Chunk>> {
        if let Some(carried) = self.carried.take() {
            chunk = carried;
        } else {
            chunk.text.clear();
            chunk.lines.clear();
        }
        while chunk.lines.len() < CHUNK_LINES && chunk.text.len() < CHUNK_BYTES {
            match self.read_line(&mut chunk)? {
                Some(line) => chunk.lines.push(line),
                None => break,
            }
        }
        Ok((!chunk.lines.is_empty()).then_some(chunk))
    }
}

/// Parses and hashes every line of a chunk into its `parsed` (on a worker thread).
fn parse_chunk(chunk: &mut Chunk, trusted: &[VerifierKey]) {
    let Chunk {
        text,
        lines,
        parsed,
    } = chunk;
    parsed.clear();
    parsed.extend(lines.iter().map(|line| match *line {
        RawLine::TooLong { number } => Parsed::Problem {
            line: number,
            reason: format!("line longer than {MAX_LINE_BYTES} bytes"),
        },
        RawLine::Text { number, start, end } => match std::str::from_utf8(&text[start..end]) {
            Ok(text) => parse_bundle_line(number, text),
            Err(_) => Parsed::Problem {
                line: number,
                reason: "not UTF-8".into(),
            },
        },
    }));
    open_checkpoints(parsed, trusted);
}

/// Opens the chunk's checkpoints as a chain (see [`checkpoint::open_chain`]);
/// the tree and the links between chunks are checked later, in order. A
/// note that is not even a checkpoint note becomes a problem at its line.
fn open_checkpoints(parsed: &mut [Parsed], trusted: &[VerifierKey]) {
    let opened = {
        let (notes, hashes): (Vec<&str>, Vec<Hash>) = parsed
            .iter()
            .filter_map(|line| match line {
                Parsed::Checkpoint { note, hash, .. } => Some((note.as_str(), *hash)),
                _ => None,
            })
            .unzip();
        checkpoint::open_hashed_chain(&notes, &hashes, trusted)
    };
    let slots = parsed
        .iter_mut()
        .filter(|line| matches!(line, Parsed::Checkpoint { .. }));
    for (slot, result) in slots.zip(opened) {
        let Parsed::Checkpoint {
            line, opened, note, ..
        } = slot
        else {
            continue;
        };
        let line = *line;
        match result {
            Ok((checkpoint, _)) => *opened = Ok(checkpoint),
            Err(error) => match checkpoint::parse_unverified(note) {
                Ok(_) => *opened = Err(error),
                Err(malformed) => {
                    let reason = format!("checkpoint rejected: {malformed}");
                    *slot = Parsed::Problem { line, reason };
                }
            },
        }
    }
}

/// What a checkpoint holds until [`open_checkpoints`] checks it: a refusal,
/// so that a checkpoint is never taken as verified before it is.
const NOT_YET_OPENED: CheckpointError =
    CheckpointError::MalformedNote("the signature was not checked");

fn parse_bundle_line(number: u64, text: &str) -> Parsed {
    if text.trim().is_empty() {
        return Parsed::Nothing;
    }
    let problem = |reason: String| Parsed::Problem {
        line: number,
        reason,
    };
    match parse_line::<CanonicalJson>(text) {
        Err(error) => problem(format!("malformed line: {error}")),
        Ok(ParsedLine::Entry(fields)) => Parsed::Entry {
            sequence: fields.sequence(),
            prev_hash: fields.prev_hash(),
            leaf: fields.leaf_hash(),
            stored_leaf: fields.stored_leaf_hash(),
        },
        Ok(ParsedLine::Other(OtherLineIn::Checkpoint { note })) => Parsed::Checkpoint {
            line: number,
            opened: Err(NOT_YET_OPENED),
            hash: checkpoint::note_hash(&note),
            note,
        },
        Ok(ParsedLine::Other(OtherLineIn::Key { .. } | OtherLineIn::Cosigned { .. })) => {
            problem("out of place: key and cosigned lines come right after the header".into())
        }
        Ok(ParsedLine::Other(OtherLineIn::Header { .. })) => {
            problem("a header line after the first line".into())
        }
    }
}

/// A parsing thread and its two channels: chunks go out read and come back parsed.
struct Worker<'scope> {
    chunks: Sender<Chunk>,
    results: Receiver<Chunk>,
    thread: ScopedJoinHandle<'scope, ()>,
}

/// Reads all lines, has them parsed by worker threads, and replays the results
/// in line order.
pub(super) fn replay_lines<R: BufRead>(
    lines: &mut LineReader<R>,
    verifier: &mut Verifier,
    trusted: &[VerifierKey],
    progress: &mut impl FnMut(u64),
) -> Result<(), BundleError> {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores + EXTRA_PARSING_THREADS).min(MAX_PARSING_THREADS);
    thread::scope(|scope| {
        let workers: Vec<Worker<'_>> = (0..threads).map(|_| spawn_worker(scope, trusted)).collect();
        let outcome = feed_workers(lines, &workers, verifier, progress);
        let mut stopped = false;
        for worker in workers {
            drop(worker.chunks);
            stopped |= worker.thread.join().is_err();
        }
        match outcome {
            Ok(()) if stopped => Err(BundleError::ParserStopped),
            outcome => outcome,
        }
    })
}

fn spawn_worker<'scope>(
    scope: &'scope thread::Scope<'scope, '_>,
    trusted: &'scope [VerifierKey],
) -> Worker<'scope> {
    let (chunks, chunk_receiver) = mpsc::channel::<Chunk>();
    let (result_sender, results) = mpsc::channel();
    let thread = scope.spawn(move || {
        for mut chunk in chunk_receiver {
            parse_chunk(&mut chunk, trusted);
            if result_sender.send(chunk).is_err() {
                return;
            }
        }
    });
    Worker {
        chunks,
        results,
        thread,
    }
}

/// Hands chunks to the workers in turn (at most two waiting per worker) and
/// takes their results back in the same turn, so lines replay in order.
fn feed_workers<R: BufRead>(
    lines: &mut LineReader<R>,
    workers: &[Worker<'_>],
    verifier: &mut Verifier,
    progress: &mut impl FnMut(u64),
) -> Result<(), BundleError> {
    let (mut sent, mut replayed, mut at_end) = (0, 0, false);
    let mut spent: Vec<Chunk> = Vec::new();
    loop {
        while !at_end && sent - replayed < 2 * workers.len() {
            match lines.next_chunk(spent.pop().unwrap_or_default())? {
                Some(chunk) => {
                    let worker = &workers[sent % workers.len()];
                    worker
                        .chunks
                        .send(chunk)
                        .map_err(|_| BundleError::ParserStopped)?;
                    sent += 1;
                }
                None => at_end = true,
            }
        }
        if replayed == sent {
            return Ok(());
        }
        let worker = &workers[replayed % workers.len()];
        let mut chunk = worker
            .results
            .recv()
            .map_err(|_| BundleError::ParserStopped)?;
        replayed += 1;
        chunk
            .parsed
            .drain(..)
            .for_each(|line| replay(line, verifier));
        spent.push(chunk);
        progress(verifier.entries_seen());
    }
}

fn replay(line: Parsed, verifier: &mut Verifier) {
    match line {
        Parsed::Entry {
            sequence,
            prev_hash,
            leaf,
            stored_leaf,
        } => verifier.push_hashed_entry(sequence, &prev_hash, leaf, stored_leaf.as_ref()),
        Parsed::Checkpoint {
            opened, hash, note, ..
        } => verifier.push_opened_checkpoint(opened, &note, hash),
        Parsed::Problem { line, reason } => {
            verifier.add_problem(Location::Line { number: line }, reason)
        }
        Parsed::Nothing => {}
    }
}
