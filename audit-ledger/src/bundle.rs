//! The export bundle: a ledger as JSON lines (a header, the published keys,
//! every entry and every signed checkpoint), and its offline verification.
//!
//! Verification reads the bundle on the calling thread, parses and hashes the
//! lines on worker threads (a chunk of lines at a time), and replays the
//! results in order through a [`Verifier`] (see the `replay` module).

mod replay;

use std::io::{self, BufRead};

use serde::{Deserialize, Serialize};

use crate::entry::{Entry, EntryFields, EntryJson, Timestamp};
use crate::trust::Trust;
use crate::verify::{Location, Report, Verifier};
use replay::{LineReader, replay_lines};
use serde_json::Value;

/// The `format` of the header line of this bundle version.
pub const BUNDLE_FORMAT: &str = "hms-ach-ledger-bundle/1";

/// Lines longer than this (in bytes, without the newline) are skipped and reported.
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// How an entry line written by [`BundleLine::to_json_line`] starts.
const ENTRY_LINE_START: &str = r#"{"type":"entry","#;
/// How a key line written by [`BundleLine::to_json_line`] starts.
const KEY_LINE_START: &str = r#"{"type":"key","#;
/// How a cosigned line written by [`BundleLine::to_json_line`] starts.
const COSIGNED_LINE_START: &str = r#"{"type":"cosigned","#;
/// How a checkpoint line written by [`BundleLine::to_json_line`] starts.
const CHECKPOINT_LINE_START: &str = r#"{"type":"checkpoint","#;

/// Why a bundle could not be verified at all (problems inside a readable
/// bundle are reported in the [`Report`] instead).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading failed.
    #[error("cannot read the bundle: {0}")]
    Io(#[from] io::Error),
    /// The bundle is empty.
    #[error("the bundle is empty: it has no header line")]
    MissingHeader,
    /// The first line is not a valid header, so the ledger origin is unknown.
    #[error("invalid bundle header: {0}")]
    InvalidHeader(String),
    /// A line is not a bundle line.
    #[error("malformed bundle line: {0}")]
    MalformedLine(String),
    /// A parsing thread stopped unexpectedly.
    #[error("a bundle parsing thread stopped unexpectedly")]
    ParserStopped,
}

/// One line of a bundle.
#[allow(
    clippy::large_enum_variant,
    reason = "lines are handled one at a time; boxing would cost an allocation per entry"
)]
#[derive(Clone, Debug, PartialEq)]
pub enum BundleLine {
    /// The first line: which ledger, when exported, how many entries.
    Header {
        /// The ledger origin.
        origin: String,
        /// When the bundle was written.
        exported_at: Timestamp,
        /// How many entry lines follow.
        entries: u64,
    },
    /// A public key as published. Trusted only when the auditor supplies it
    /// or a trusted key endorsed it (see [`crate::keyring`]).
    Key {
        /// The C2SP vkey text.
        vkey: String,
        /// When the key was created.
        created_at: Timestamp,
        /// When the key stopped signing, if it has.
        retired_at: Option<Timestamp>,
        /// The endorsement note by the key before it; none for the first key.
        endorsement: Option<String>,
    },
    /// A checkpoint note with witnesses' cosignature lines, before the entries.
    Cosigned {
        /// The signed note, the ledger's signature line first.
        note: String,
    },
    /// A signed checkpoint note, right after the entry that brings the tree to its size.
    Checkpoint {
        /// The full signed note text.
        note: String,
    },
    /// An entry, as its flat JSON object plus `"type":"entry"`.
    Entry(Entry),
}

/// The non-entry lines as written.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum OtherLineOut<'a> {
    Header {
        format: &'static str,
        origin: &'a str,
        exported_at: Timestamp,
        entries: u64,
    },
    Key {
        vkey: &'a str,
        created_at: Timestamp,
        retired_at: Option<Timestamp>,
        #[serde(skip_serializing_if = "Option::is_none")]
        endorsement: Option<&'a str>,
    },
    Cosigned {
        note: &'a str,
    },
    Checkpoint {
        note: &'a str,
    },
}

/// The non-entry lines as read.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum OtherLineIn {
    Header {
        format: String,
        origin: String,
        exported_at: Timestamp,
        entries: u64,
    },
    Key {
        vkey: String,
        created_at: Timestamp,
        retired_at: Option<Timestamp>,
        #[serde(default)]
        endorsement: Option<String>,
    },
    Cosigned {
        note: String,
    },
    Checkpoint {
        note: String,
    },
}

/// A line known to start with [`CHECKPOINT_LINE_START`]: its `type` is read
/// already (a second `type` member is refused as a duplicate).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointLineIn {
    #[serde(rename = "type")]
    _line_type: serde::de::IgnoredAny,
    note: String,
}

/// Just the `type` member of a line.
#[derive(Deserialize)]
struct LineType {
    #[serde(rename = "type")]
    line_type: String,
}

/// A line as parsed; an entry's strings are still borrowed from the line.
#[allow(
    clippy::large_enum_variant,
    reason = "short-lived; boxing would cost an allocation per entry"
)]
enum ParsedLine<'a, D = Value> {
    Entry(EntryFields<'a, D>),
    Other(OtherLineIn),
}

/// Parses a line: entry and checkpoint lines as written by this crate go
/// straight to their readers; anything else is classified by its `type` first.
fn parse_line<'a, D: Deserialize<'a> + Default>(
    line: &'a str,
) -> Result<ParsedLine<'a, D>, String> {
    let as_entry = |line| serde_json::from_str(line).map(ParsedLine::Entry);
    let parsed = if line.starts_with(ENTRY_LINE_START) {
        as_entry(line)
    } else if line.starts_with(CHECKPOINT_LINE_START) {
        serde_json::from_str(line).map(|CheckpointLineIn { note, .. }| {
            ParsedLine::Other(OtherLineIn::Checkpoint { note })
        })
    } else {
        match serde_json::from_str::<LineType>(line) {
            Ok(tagged) if tagged.line_type == "entry" => as_entry(line),
            Ok(_) => serde_json::from_str(line).map(ParsedLine::Other),
            Err(error) => Err(error),
        }
    };
    parsed.map_err(|error| error.to_string())
}

impl BundleLine {
    /// The line as JSON (no trailing newline), `"type"` first.
    pub fn to_json_line(&self) -> String {
        // Cannot fail: every field is a string, an integer or a JSON value.
        let json = match self {
            Self::Entry(entry) => serde_json::to_string(&EntryJson::new(entry, Some("entry"))),
            Self::Header {
                origin,
                exported_at,
                entries,
            } => serde_json::to_string(&OtherLineOut::Header {
                format: BUNDLE_FORMAT,
                origin,
                exported_at: *exported_at,
                entries: *entries,
            }),
            Self::Key {
                vkey,
                created_at,
                retired_at,
                endorsement,
            } => serde_json::to_string(&OtherLineOut::Key {
                vkey,
                created_at: *created_at,
                retired_at: *retired_at,
                endorsement: endorsement.as_deref(),
            }),
            Self::Cosigned { note } => serde_json::to_string(&OtherLineOut::Cosigned { note }),
            Self::Checkpoint { note } => serde_json::to_string(&OtherLineOut::Checkpoint { note }),
        };
        json.unwrap_or_default()
    }

    /// Reads a line. An entry's `leaf_hash`, when present, must match its
    /// contents; a header must be of format [`BUNDLE_FORMAT`].
    pub fn parse(line: &str) -> Result<Self, BundleError> {
        let malformed = BundleError::MalformedLine;
        match parse_line::<Value>(line).map_err(malformed)? {
            ParsedLine::Entry(fields) => {
                let line = fields.into_line();
                match line.leaf_hash {
                    Some(stored) if stored != line.entry.leaf_hash() => Err(malformed(
                        "leaf_hash does not match the entry's contents".into(),
                    )),
                    _ => Ok(Self::Entry(line.entry)),
                }
            }
            ParsedLine::Other(OtherLineIn::Header { format, .. }) if format != BUNDLE_FORMAT => {
                Err(malformed(format!("unsupported bundle format {format:?}")))
            }
            ParsedLine::Other(other) => Ok(other.into()),
        }
    }
}

impl From<OtherLineIn> for BundleLine {
    fn from(line: OtherLineIn) -> Self {
        match line {
            OtherLineIn::Header {
                origin,
                exported_at,
                entries,
                ..
            } => Self::Header {
                origin,
                exported_at,
                entries,
            },
            OtherLineIn::Key {
                vkey,
                created_at,
                retired_at,
                endorsement,
            } => Self::Key {
                vkey,
                created_at,
                retired_at,
                endorsement,
            },
            OtherLineIn::Cosigned { note } => Self::Cosigned { note },
            OtherLineIn::Checkpoint { note } => Self::Checkpoint { note },
        }
    }
}

/// Verifies a bundle with nothing else but what the auditor brings (trusted
/// keys, kept checkpoints, witness keys); `progress` is called now and then
/// with (entries so far).
///
/// Fails only when the bundle cannot be read or its header is missing or
/// invalid; every other flaw (a malformed line, a broken link, a bad
/// checkpoint, an untrusted published key, an entry count that differs from
/// the header's) is a problem in the report.
pub fn verify_bundle<R: BufRead>(
    reader: R,
    trust: &Trust,
    mut progress: impl FnMut(u64),
) -> Result<Report, BundleError> {
    let mut lines = LineReader::new(reader);
    let (origin, announced) = lines.header()?;
    let preamble = lines.preamble()?;
    let mut problems = preamble.problems;
    let trusted = trust.signing_keys(&preamble.keys, &mut problems);
    let mut verifier = Verifier::new(&origin, trusted.clone());
    for (location, reason) in problems {
        verifier.add_problem(location, reason);
    }
    trust.expect_kept(&mut verifier, &trusted, &preamble.cosigned);
    replay_lines(&mut lines, &mut verifier, &trusted, &mut progress)?;
    let present = verifier.entries_seen();
    if present != announced {
        let reason =
            format!("the header announces {announced} entries but the bundle holds {present}");
        verifier.add_problem(Location::Ledger, reason);
    }
    Ok(verifier.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::checkpoint::{Checkpoint, LedgerKey, note_hash};
    use crate::entry::{Event, GENESIS_PREV_HASH};
    use crate::merkle::Frontier;
    use serde_json::json;
    use std::io::Read;

    const ORIGIN: &str = "hms-ach/bundle-test";

    fn key() -> LedgerKey {
        LedgerKey::from_seed(ORIGIN, [5; 32])
    }

    /// A bundle of `n` entries with a checkpoint after every `every` entries and at the end.
    fn bundle(n: u64, every: u64) -> Vec<String> {
        let mut lines = vec![
            BundleLine::Header {
                origin: ORIGIN.into(),
                exported_at: Timestamp(1_800_000_000_000_000),
                entries: n,
            },
            BundleLine::Key {
                vkey: key().verifier().to_string(),
                created_at: Timestamp(1_700_000_000_000_000),
                retired_at: None,
                endorsement: None,
            },
        ];
        let mut frontier = Frontier::new();
        let mut previous = GENESIS_PREV_HASH;
        let mut previous_note = None;
        for sequence in 0..n {
            let entry = Entry {
                sequence,
                time: Timestamp(1_800_000_000_000_000 + sequence as i64),
                prev_hash: previous,
                event: Event {
                    kind: "decision".into(),
                    outcome: Some("permit".into()),
                    details: json!({"n": sequence}),
                    ..Event::default()
                },
            };
            previous = entry.leaf_hash();
            frontier.push(previous);
            lines.push(BundleLine::Entry(entry));
            if frontier.size().is_multiple_of(every) || frontier.size() == n {
                let note = key().sign(&Checkpoint {
                    origin: ORIGIN.into(),
                    size: frontier.size(),
                    root: frontier.root(),
                    time: Timestamp(1_800_000_000_000_000),
                    previous: previous_note,
                });
                previous_note = Some(note_hash(&note));
                lines.push(BundleLine::Checkpoint { note });
            }
        }
        lines.iter().map(BundleLine::to_json_line).collect()
    }

    fn trust() -> Trust {
        Trust {
            keys: vec![key().verifier()],
            ..Trust::default()
        }
    }

    fn check(lines: &[String]) -> Report {
        let text = lines.join("\n") + "\n";
        verify_bundle(text.as_bytes(), &trust(), |_| {}).unwrap()
    }

    #[test]
    fn lines_round_trip() {
        for line in bundle(3, 2) {
            let parsed = BundleLine::parse(&line).unwrap();
            assert_eq!(parsed.to_json_line(), line);
            assert!(line.starts_with(r#"{"type":""#), "{line}");
        }
    }

    #[test]
    fn header_and_key_lines_have_the_documented_form() {
        let lines = bundle(0, 1);
        assert_eq!(
            lines[0],
            r#"{"type":"header","format":"hms-ach-ledger-bundle/1","origin":"hms-ach/bundle-test","exported_at":"2027-01-15T08:00:00.000000Z","entries":0}"#
        );
        assert!(
            lines[1].ends_with(r#","created_at":"2023-11-14T22:13:20.000000Z","retired_at":null}"#)
        );
    }

    #[test]
    fn entry_lines_are_read_even_when_reordered() {
        let line = &bundle(1, 1)[2];
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let mut members: Vec<_> = value.as_object().unwrap().clone().into_iter().collect();
        members.reverse();
        let reordered: serde_json::Map<_, _> = members.into_iter().collect();
        let reordered = serde_json::to_string(&reordered).unwrap();
        assert!(!reordered.starts_with(ENTRY_LINE_START));
        assert_eq!(
            BundleLine::parse(&reordered).unwrap(),
            BundleLine::parse(line).unwrap()
        );
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            "",
            "{}",
            r#"{"type":"footer"}"#,
            r#"{"type":"checkpoint"}"#,
            r#"{"type":"checkpoint","note":"x","extra":1}"#,
            r#"{"type":"checkpoint","type":"header","note":"x"}"#,
            r#"{"type":"checkpoint","note":"x","note":"y"}"#,
            r#"{"type":"header","format":"other/1","origin":"o","exported_at":"2026-01-01T00:00:00Z","entries":0}"#,
            r#"{"type":"entry","sequence":0}"#,
        ] {
            assert!(BundleLine::parse(bad).is_err(), "{bad}");
        }
        let line = &bundle(1, 1)[2];
        let altered = line.replace("permit", "deny!");
        assert!(BundleLine::parse(&altered).is_err());
    }

    #[test]
    fn an_intact_bundle_verifies_with_progress() {
        let lines = bundle(5000, 1000);
        let text = lines.join("\n");
        let mut calls = Vec::new();
        let report = verify_bundle(text.as_bytes(), &trust(), |n| calls.push(n)).unwrap();
        assert!(report.is_valid(), "{:?}", report.problems);
        assert_eq!(report.entries, 5000);
        assert_eq!(report.checkpoints_verified, 5);
        assert_eq!(report.unattested_entries(), 0);
        assert_eq!(calls.last(), Some(&5000));
        assert!(calls.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn bad_lines_are_problems_at_their_line() {
        let mut lines = bundle(3, 10);
        lines.insert(3, "not json".into());
        lines.insert(4, String::new());
        lines.insert(5, lines[0].clone());
        lines.insert(
            6,
            r#"{"type":"key","vkey":"nope","created_at":"2026-01-01T00:00:00Z","retired_at":null}"#
                .into(),
        );
        lines.insert(7, r#"{"type":"checkpoint","note":"nope"}"#.into());
        let report = check(&lines);
        let numbers: Vec<Location> = report.problems.iter().map(|p| p.location.clone()).collect();
        assert_eq!(
            numbers,
            [4, 6, 7, 8]
                .map(|number| Location::Line { number })
                .to_vec(),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn invalid_utf8_and_overlong_lines_are_problems() {
        let lines = bundle(1, 1);
        let mut bytes = format!("{}\n", lines[0]).into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\n");
        bytes.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        bytes.push(b'\n');
        bytes.extend_from_slice(lines[2..].join("\n").as_bytes());
        let report = verify_bundle(&bytes[..], &trust(), |_| {}).unwrap();
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "line 2: not UTF-8",
                "line 3: line longer than 8388608 bytes"
            ]
        );
        assert_eq!(report.entries, 1);
    }

    #[test]
    fn the_header_count_must_match() {
        let mut lines = bundle(3, 10);
        lines[0] = lines[0].replace(r#""entries":3"#, r#""entries":4"#);
        let report = check(&lines);
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].location, Location::Ledger);
    }

    #[test]
    fn a_missing_or_invalid_header_is_an_error() {
        let trusted = trust();
        assert!(matches!(
            verify_bundle(&b""[..], &trusted, |_| {}),
            Err(BundleError::MissingHeader)
        ));
        let lines = bundle(2, 10);
        let without_header = lines[1..].join("\n");
        assert!(matches!(
            verify_bundle(without_header.as_bytes(), &trusted, |_| {}),
            Err(BundleError::InvalidHeader(_))
        ));
        assert!(matches!(
            verify_bundle(&b"{\"type\":\"header\"}\n"[..], &trusted, |_| {}),
            Err(BundleError::InvalidHeader(_))
        ));
    }

    #[test]
    fn read_errors_are_errors() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        let reader = io::BufReader::new(Failing);
        assert!(matches!(
            verify_bundle(reader, &Trust::default(), |_| {}),
            Err(BundleError::Io(_))
        ));
        let lines = bundle(3000, 1000);
        let text = lines.join("\n");
        let reader = io::BufReader::new(text.as_bytes().chain(Failing));
        assert!(matches!(
            verify_bundle(reader, &Trust::default(), |_| {}),
            Err(BundleError::Io(_))
        ));
    }
}
