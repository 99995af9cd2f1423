#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every way of tampering with a ledger is detected, both by `verify_bundle`
//! on an export bundle and by a `Verifier` fed directly.
//!
//! A ledger here is its storage order: entries and checkpoint notes, each
//! note right after the entry that brings the tree to its size. Each test
//! tampers with that list (or with the bundle text), then checks that both
//! verification paths report a problem; an untouched ledger must verify
//! cleanly on both, so a test cannot pass because everything fails.

use hms_audit_ledger::checkpoint::{Checkpoint, note_hash, parse_unverified};
use hms_audit_ledger::entry::GENESIS_PREV_HASH;
use hms_audit_ledger::{
    BundleLine, Entry, Event, Frontier, LedgerKey, Location, Report, Timestamp, Trust, Verifier,
    verify_bundle,
};
use serde_json::json;

const ORIGIN: &str = "hms-ach/ward-7";
const ENTRIES: u64 = 40;
const CHECKPOINT_EVERY: u64 = 8;
/// First, middle and last entry.
const POSITIONS: [u64; 3] = [0, 13, ENTRIES - 1];

fn key() -> LedgerKey {
    LedgerKey::from_seed(ORIGIN, [42; 32])
}

fn attacker_key() -> LedgerKey {
    LedgerKey::from_seed(ORIGIN, [66; 32])
}

fn event(n: u64) -> Event {
    Event {
        kind: "decision".into(),
        actor: Some(format!("client:cl_{n}")),
        subject: Some("staff:n-1".into()),
        patient: Some(format!("patient:p-{n}")),
        action: Some("read".into()),
        resource: Some("record:r-9".into()),
        outcome: Some("permit".into()),
        policies: vec!["care-team".into(), "ward-7".into()],
        request_id: Some(format!("req-{n}")),
        decision_id: Some(format!("dec-{n}")),
        source_ip: Some("10.0.0.7".into()),
        user_agent: Some("ward-app/2.1".into()),
        details: json!({"reason": "routine", "ward": {"name": "Général", "beds": [n, 2]}}),
    }
}

/// Recomputes sequences and previous-hash links, as an attacker rewriting
/// the entries would.
fn rechain(entries: &mut [Entry]) {
    let mut previous = GENESIS_PREV_HASH;
    for (sequence, entry) in (0u64..).zip(entries.iter_mut()) {
        entry.sequence = sequence;
        entry.prev_hash = previous;
        previous = entry.leaf_hash();
    }
}

fn entries() -> Vec<Entry> {
    let mut entries: Vec<Entry> = (0..ENTRIES)
        .map(|n| Entry {
            sequence: n,
            time: Timestamp(1_795_464_902_000_000 + n as i64 * 1_000_123),
            prev_hash: GENESIS_PREV_HASH,
            event: event(n),
        })
        .collect();
    rechain(&mut entries);
    entries
}

/// Storage order for `entries`, with chained checkpoints signed by `signer`.
fn ledger_with(entries: Vec<Entry>, signer: &LedgerKey) -> Vec<BundleLine> {
    let mut frontier = Frontier::new();
    let total = entries.len() as u64;
    let mut lines = Vec::new();
    let mut previous = None;
    for entry in entries {
        frontier.push(entry.leaf_hash());
        lines.push(BundleLine::Entry(entry));
        if frontier.size().is_multiple_of(CHECKPOINT_EVERY) || frontier.size() == total {
            let note = signer.sign(&Checkpoint {
                origin: ORIGIN.into(),
                size: frontier.size(),
                root: frontier.root(),
                time: Timestamp(1_795_465_000_000_000),
                previous,
            });
            previous = Some(note_hash(&note));
            lines.push(BundleLine::Checkpoint { note });
        }
    }
    lines
}

fn ledger() -> Vec<BundleLine> {
    ledger_with(entries(), &key())
}

fn entry_count(ledger: &[BundleLine]) -> u64 {
    ledger
        .iter()
        .filter(|l| matches!(l, BundleLine::Entry(_)))
        .count() as u64
}

/// The export bundle text; the header counts the entries actually present, as
/// an attacker would make it.
fn bundle_text(ledger: &[BundleLine]) -> String {
    let header = BundleLine::Header {
        origin: ORIGIN.into(),
        exported_at: Timestamp(1_795_466_000_000_000),
        entries: entry_count(ledger),
    };
    let key_line = BundleLine::Key {
        vkey: key().verifier().to_string(),
        created_at: Timestamp(1_790_000_000_000_000),
        retired_at: None,
        endorsement: None,
    };
    let mut text = String::new();
    for line in [header, key_line].iter().chain(ledger) {
        text.push_str(&line.to_json_line());
        text.push('\n');
    }
    text
}

fn verify_text(text: &str) -> Report {
    verify_bundle(
        text.as_bytes(),
        &Trust::with_keys(vec![key().verifier()]),
        |_| {},
    )
    .unwrap()
}

fn verify_directly(ledger: &[BundleLine]) -> Report {
    let mut verifier = Verifier::new(ORIGIN, vec![key().verifier()]);
    for line in ledger {
        match line {
            BundleLine::Entry(entry) => verifier.push_entry(entry, Some(&entry.leaf_hash())),
            BundleLine::Checkpoint { note } => verifier.push_checkpoint(note),
            other => panic!("not in a ledger: {other:?}"),
        }
    }
    verifier.finish()
}

/// Both paths must report a problem; returns the bundle path's report.
fn assert_detected(ledger: &[BundleLine], what: &str) -> Report {
    let direct = verify_directly(ledger);
    assert!(!direct.is_valid(), "Verifier missed: {what}");
    let bundled = verify_text(&bundle_text(ledger));
    assert!(!bundled.is_valid(), "verify_bundle missed: {what}");
    bundled
}

fn reasons(report: &Report) -> String {
    let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    shown.join("\n")
}

fn entry_mut(ledger: &mut [BundleLine], sequence: u64) -> &mut Entry {
    ledger
        .iter_mut()
        .find_map(|line| match line {
            BundleLine::Entry(entry) if entry.sequence == sequence => Some(entry),
            _ => None,
        })
        .unwrap()
}

fn entry_index(ledger: &[BundleLine], sequence: u64) -> usize {
    ledger
        .iter()
        .position(|line| matches!(line, BundleLine::Entry(e) if e.sequence == sequence))
        .unwrap()
}

#[test]
fn an_untouched_ledger_verifies_on_both_paths() {
    let ledger = ledger();
    let direct = verify_directly(&ledger);
    assert!(direct.is_valid(), "{}", reasons(&direct));
    assert_eq!(direct.checkpoints_verified, ENTRIES / CHECKPOINT_EVERY);
    let bundled = verify_text(&bundle_text(&ledger));
    assert!(bundled.is_valid(), "{}", reasons(&bundled));
    assert_eq!(bundled, direct);
    assert_eq!(bundled.entries, ENTRIES);
    assert_eq!(bundled.unattested_entries(), 0);
}

/// One small change to each field of an entry.
type Change = (&'static str, fn(&mut Entry));

const CHANGES: [Change; 16] = [
    ("sequence", |e| e.sequence ^= 1 << 40),
    ("time", |e| e.time.0 += 1),
    ("prev_hash", |e| e.prev_hash[0] ^= 1),
    ("kind", |e| e.event.kind.replace_range(0..1, "D")),
    ("actor", |e| e.event.actor = Some("client:cl_x".into())),
    ("subject", |e| e.event.subject = Some("staff:n-2".into())),
    ("patient", |e| e.event.patient = None),
    ("action", |e| e.event.action = Some("reae".into())),
    ("resource", |e| e.event.resource = Some("record:r-8".into())),
    ("outcome", |e| e.event.outcome = Some("deny".into())),
    ("policies", |e| e.event.policies[1] = "ward-8".into()),
    ("request_id", |e| e.event.request_id = Some("req-X".into())),
    ("decision_id", |e| e.event.decision_id = None),
    ("source_ip", |e| e.event.source_ip = Some("10.0.0.8".into())),
    ("user_agent", |e| {
        e.event.user_agent = Some("ward-app/2.2".into())
    }),
    ("details", |e| e.event.details["ward"]["beds"][1] = json!(3)),
];

#[test]
fn changing_any_field_of_any_entry_is_detected_even_with_its_leaf_hash_recomputed() {
    for position in POSITIONS {
        for (field, change) in CHANGES {
            let mut ledger = ledger();
            change(entry_mut(&mut ledger, position));
            assert_detected(&ledger, &format!("{field} of entry {position}"));
        }
    }
}

#[test]
fn the_last_entry_is_protected_by_the_final_checkpoint() {
    let mut ledger = ledger();
    entry_mut(&mut ledger, ENTRIES - 1).event.outcome = Some("deny".into());
    let report = assert_detected(&ledger, "outcome of the last entry");
    // The final checkpoint fails, so its entries are covered by none.
    assert_eq!(report.problems.len(), 2, "{}", reasons(&report));
    assert!(reasons(&report).contains("covered by no verified checkpoint"));
    assert_eq!(
        report.problems[0].location,
        Location::Checkpoint { size: ENTRIES }
    );
    assert!(
        report.problems[0]
            .reason
            .contains("signed root does not match")
    );
}

/// Changes one byte of a field's value in the bundle text of an entry line,
/// keeping the line valid: the last digit or lowercase letter of the value is
/// replaced by its successor.
fn change_one_byte(line: &str, field: &str) -> String {
    let start = line.find(&format!("\"{field}\":")).unwrap() + field.len() + 3;
    let rest = &line[start..];
    let value_length = rest.find(",\"").unwrap_or(rest.len() - 1);
    let last = rest[..value_length]
        .rfind(|c: char| c.is_ascii_digit() || c.is_ascii_lowercase())
        .unwrap()
        + start;
    let successor = match line.as_bytes()[last] {
        b'9' => b'0',
        b'f' if field.ends_with("hash") => b'0',
        b'z' => b'a',
        byte => byte + 1,
    };
    let mut bytes = line.as_bytes().to_vec();
    bytes[last] = successor;
    String::from_utf8(bytes).unwrap()
}

#[test]
fn changing_one_byte_of_any_field_in_the_bundle_text_is_detected() {
    let fields = CHANGES.map(|(field, _)| field);
    for position in POSITIONS {
        let ledger = ledger();
        let text = bundle_text(&ledger);
        let line_number = 2 + entry_index(&ledger, position);
        for field in fields.into_iter().chain(["leaf_hash"]) {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let changed = change_one_byte(&lines[line_number], field);
            assert_ne!(changed, lines[line_number]);
            lines[line_number] = changed;
            let report = verify_text(&(lines.join("\n") + "\n"));
            assert!(
                !report.is_valid(),
                "missed a byte of {field} in entry {position}"
            );
            let shown = reasons(&report);
            assert!(!shown.contains("malformed line"), "{field}: {shown}");
        }
    }
}

#[test]
fn deleting_an_entry_is_detected() {
    for position in POSITIONS {
        let mut ledger = ledger();
        ledger.remove(entry_index(&ledger, position));
        let report = assert_detected(&ledger, &format!("deleting entry {position}"));
        let shown = reasons(&report);
        if position + 1 < ENTRIES {
            assert!(shown.contains("missing or deleted"), "{shown}");
        }
    }
}

/// Rewritten `entries` (already rechained) with the genuine checkpoints, each
/// after the entry that brings the tree to its size, or at the end.
fn with_genuine_checkpoints(entries: Vec<Entry>) -> Vec<BundleLine> {
    let mut notes: Vec<(u64, BundleLine)> = ledger()
        .into_iter()
        .filter_map(|line| match &line {
            BundleLine::Checkpoint { note } => Some((parse_unverified(note).unwrap().size, line)),
            _ => None,
        })
        .collect();
    let mut lines = Vec::new();
    for entry in entries {
        let size = entry.sequence + 1;
        lines.push(BundleLine::Entry(entry));
        let (due, later) = notes.into_iter().partition(|(at, _)| *at == size);
        notes = later;
        lines.extend(due.into_iter().map(|(_, note): (u64, BundleLine)| note));
    }
    lines.extend(notes.into_iter().map(|(_, note)| note));
    lines
}

#[test]
fn deleting_an_entry_and_rewriting_the_rest_is_detected() {
    for position in POSITIONS {
        let mut entries = entries();
        entries.remove(position as usize);
        rechain(&mut entries);
        let forged = with_genuine_checkpoints(entries);
        assert_detected(
            &forged,
            &format!("deleting entry {position} and rechaining"),
        );
    }
}

#[test]
fn inserting_an_entry_is_detected() {
    for position in POSITIONS {
        let mut ledger = ledger();
        let mut forged = Entry {
            sequence: position,
            time: Timestamp(1_795_464_950_000_000),
            prev_hash: entry_mut(&mut ledger, position).prev_hash,
            event: Event {
                kind: "decision".into(),
                outcome: Some("permit".into()),
                ..Event::default()
            },
        };
        forged.event.patient = Some("patient:vip".into());
        let index = entry_index(&ledger, position);
        ledger.insert(index, BundleLine::Entry(forged));
        let report = assert_detected(&ledger, &format!("inserting before entry {position}"));
        assert!(
            reasons(&report).contains("inserted or reordered"),
            "{}",
            reasons(&report)
        );
    }
}

#[test]
fn inserting_an_entry_and_rewriting_the_rest_is_detected() {
    for position in POSITIONS {
        let mut entries = entries();
        let forged = Entry {
            sequence: 0,
            time: Timestamp(1_795_464_950_000_000),
            prev_hash: GENESIS_PREV_HASH,
            event: event(99),
        };
        entries.insert(position as usize, forged);
        rechain(&mut entries);
        let forged = with_genuine_checkpoints(entries);
        assert_detected(
            &forged,
            &format!("inserting before entry {position} and rechaining"),
        );
    }
}

#[test]
fn swapping_two_entries_is_detected() {
    for (a, b) in [(0, 1), (13, 14), (ENTRIES - 2, ENTRIES - 1), (3, 30)] {
        let mut ledger = ledger();
        let (i, j) = (entry_index(&ledger, a), entry_index(&ledger, b));
        ledger.swap(i, j);
        assert_detected(&ledger, &format!("swapping entries {a} and {b}"));
    }
}

#[test]
fn swapping_two_entries_and_rewriting_the_chain_is_detected() {
    let mut entries = entries();
    entries.swap(13, 14);
    rechain(&mut entries);
    let mut forged = ledger();
    let mut rewritten = entries.into_iter();
    for line in &mut forged {
        if let BundleLine::Entry(entry) = line {
            *entry = rewritten.next().unwrap();
        }
    }
    let report = assert_detected(&forged, "swapping entries 13 and 14 and rechaining");
    assert_eq!(
        report.problems[0].location,
        Location::Checkpoint { size: 16 }
    );
}

#[test]
fn truncating_the_tail_is_detected_while_checkpoints_remain() {
    for cut in [1, 5, 8, 20] {
        let mut ledger = ledger();
        let mut removed = 0;
        while removed < cut {
            let last_entry = ledger
                .iter()
                .rposition(|line| matches!(line, BundleLine::Entry(_)))
                .unwrap();
            ledger.remove(last_entry);
            removed += 1;
        }
        let report = assert_detected(&ledger, &format!("cutting {cut} entries"));
        assert!(
            reasons(&report).contains("truncated"),
            "{}",
            reasons(&report)
        );
    }
}

#[test]
fn replacing_a_checkpoint_root_is_detected() {
    let mut ledger = ledger();
    let wrong_root = {
        let mut frontier = Frontier::new();
        frontier.push([1; 32]);
        frontier.root()
    };
    let mut replaced = 0;
    for line in &mut ledger {
        if let BundleLine::Checkpoint { note } = line {
            let (body, signature) = note.split_once("\n\n").unwrap();
            let mut parsed = Checkpoint::parse_body(&format!("{body}\n")).unwrap();
            if parsed.size == 16 {
                parsed.root = wrong_root;
                *note = format!("{}\n{signature}", parsed.body());
                replaced += 1;
            }
        }
    }
    assert_eq!(replaced, 1);
    let report = assert_detected(&ledger, "replacing the root of checkpoint 16");
    assert_eq!(
        report.problems[0].location,
        Location::Checkpoint { size: 16 }
    );
    assert!(
        report.problems[0].reason.contains("does not verify"),
        "{}",
        reasons(&report)
    );
}

#[test]
fn rewriting_and_signing_with_a_different_key_is_detected() {
    let mut entries = entries();
    entries[13].event.outcome = Some("deny".into());
    rechain(&mut entries);
    let forged = ledger_with(entries, &attacker_key());
    let report = assert_detected(&forged, "re-signing with another key");
    assert_eq!(report.checkpoints_verified, 0);
    assert!(reasons(&report).contains("no signature by a trusted key"));
    assert_eq!(report.unattested_entries(), ENTRIES);
}

#[test]
fn signing_an_untouched_ledger_with_a_different_key_is_detected() {
    let forged = ledger_with(entries(), &attacker_key());
    assert_detected(&forged, "checkpoints signed by an unknown key");
}

#[test]
fn a_rewrite_without_checkpoints_is_refused_as_unattested() {
    // Without any checkpoint nothing is signed: the chain alone cannot show a
    // consistent rewrite, so entries no checkpoint covers are a problem.
    let mut entries = entries();
    entries[13].event.outcome = Some("deny".into());
    rechain(&mut entries);
    let forged: Vec<BundleLine> = entries.into_iter().map(BundleLine::Entry).collect();
    let report = assert_detected(&forged, "a rewrite with every checkpoint dropped");
    assert_eq!(report.latest_checkpoint, None);
    assert_eq!(report.unattested_entries(), ENTRIES);
    assert!(reasons(&report).contains("covered by no verified checkpoint"));
}

#[test]
fn a_rewrite_after_the_middle_checkpoint_is_refused_as_unattested() {
    let mut entries = entries();
    entries[30].event.outcome = Some("deny".into());
    rechain(&mut entries);
    let rewritten = ledger_with(entries, &key());
    let middle = entry_index(&rewritten, 15) + 1;
    let forged: Vec<BundleLine> = rewritten
        .into_iter()
        .enumerate()
        .filter(|(i, line)| *i <= middle || matches!(line, BundleLine::Entry(_)))
        .map(|(_, line)| line)
        .collect();
    let report = assert_detected(&forged, "the tail rewritten, its checkpoints dropped");
    assert_eq!(report.latest_checkpoint.as_ref().unwrap().size, 16);
    assert_eq!(report.problems.len(), 1, "{}", reasons(&report));
    assert_eq!(
        report.problems[0].location,
        Location::Entry { sequence: 16 }
    );
}

#[test]
fn a_forged_entry_appended_at_the_tail_is_refused() {
    let mut ledger = ledger();
    let mut forged = Entry {
        sequence: ENTRIES,
        time: Timestamp(1_795_465_100_000_000),
        prev_hash: [0; 32],
        event: event(99),
    };
    let last = match ledger
        .iter()
        .rev()
        .find(|l| matches!(l, BundleLine::Entry(_)))
    {
        Some(BundleLine::Entry(entry)) => entry.leaf_hash(),
        _ => panic!("no entry"),
    };
    forged.prev_hash = last;
    ledger.push(BundleLine::Entry(forged));
    let report = assert_detected(&ledger, "a chain-consistent entry appended");
    assert_eq!(
        report.problems[0].location,
        Location::Entry { sequence: ENTRIES }
    );
}

#[test]
fn deleting_the_latest_checkpoint_leaves_its_entries_unattested() {
    let mut ledger = ledger();
    assert!(matches!(ledger.pop(), Some(BundleLine::Checkpoint { .. })));
    let report = assert_detected(&ledger, "the latest checkpoint deleted");
    assert_eq!(report.unattested_entries(), CHECKPOINT_EVERY);
}

/// The checkpoint of the first `size` entries of the untouched ledger, as an
/// auditor would have saved it.
fn saved_checkpoint(size: u64) -> Checkpoint {
    ledger()
        .iter()
        .find_map(|line| match line {
            BundleLine::Checkpoint { note } => {
                Some(parse_unverified(note).unwrap()).filter(|c| c.size == size)
            }
            _ => None,
        })
        .unwrap()
}

fn verify_since(ledger: &[BundleLine], saved: Checkpoint) -> Report {
    let mut verifier = Verifier::new(ORIGIN, vec![key().verifier()]);
    verifier.expect(saved, "the saved checkpoint");
    for line in ledger {
        match line {
            BundleLine::Entry(entry) => verifier.push_entry(entry, None),
            BundleLine::Checkpoint { note } => verifier.push_checkpoint(note),
            other => panic!("not in a ledger: {other:?}"),
        }
    }
    verifier.finish()
}

#[test]
fn a_tail_cut_with_its_checkpoints_is_seen_against_a_saved_checkpoint() {
    let mut ledger = ledger();
    let cut = entry_index(&ledger, 32);
    ledger.truncate(cut);
    // Consistent on its own: entries and the checkpoints over them.
    assert!(verify_directly(&ledger).is_valid());
    let report = verify_since(&ledger, saved_checkpoint(ENTRIES));
    assert!(!report.is_valid());
    assert!(
        reasons(&report).contains("holds a checkpoint of 40 entries but only 32 are present"),
        "{}",
        reasons(&report)
    );
    let intact = verify_since(&self::ledger(), saved_checkpoint(ENTRIES));
    assert!(intact.is_valid(), "{}", reasons(&intact));
    assert_eq!(intact.anchors_matched, 1);
}

#[test]
fn a_rewritten_history_re_signed_forks_from_a_saved_checkpoint() {
    let mut entries = entries();
    entries[3].event.outcome = Some("deny".into());
    rechain(&mut entries);
    // As if the attacker held the signing key: every checkpoint verifies.
    let rewritten = ledger_with(entries, &key());
    assert!(verify_directly(&rewritten).is_valid());
    let report = verify_since(&rewritten, saved_checkpoint(16));
    assert!(reasons(&report).contains("forks from what the saved checkpoint holds"));
}

#[test]
fn moving_a_checkpoint_later_is_out_of_order() {
    let mut ledger = ledger();
    let note_index = entry_index(&ledger, 7) + 1;
    let note = ledger.remove(note_index);
    ledger.insert(entry_index(&ledger, 9) + 1, note);
    let report = assert_detected(&ledger, "moving checkpoint 8 after entry 9");
    assert!(reasons(&report).contains("out of order"));
}

#[test]
fn deleting_a_checkpoint_breaks_the_checkpoint_chain() {
    let mut ledger = ledger();
    let note_index = entry_index(&ledger, 15) + 1;
    assert!(matches!(
        ledger.remove(note_index),
        BundleLine::Checkpoint { .. }
    ));
    let report = assert_detected(&ledger, "deleting checkpoint 16");
    assert_eq!(
        report.problems[0].location,
        Location::Checkpoint { size: 24 }
    );
    assert!(
        reasons(&report).contains("chain broken"),
        "{}",
        reasons(&report)
    );
}

/// The ledger as written before checkpoints named their predecessor.
fn unchained(ledger: Vec<BundleLine>) -> Vec<BundleLine> {
    ledger
        .into_iter()
        .map(|line| match line {
            BundleLine::Checkpoint { note } => {
                let checkpoint = Checkpoint {
                    previous: None,
                    ..parse_unverified(&note).unwrap()
                };
                BundleLine::Checkpoint {
                    note: key().sign(&checkpoint),
                }
            }
            line => line,
        })
        .collect()
}

#[test]
fn checkpoints_written_before_the_chain_are_each_checked() {
    let ledger = unchained(ledger());
    for report in [verify_text(&bundle_text(&ledger)), verify_directly(&ledger)] {
        assert!(report.is_valid(), "{}", reasons(&report));
        assert_eq!(report.checkpoints_verified, ENTRIES / CHECKPOINT_EVERY);
    }
    let mut forged = ledger.clone();
    let index = entry_index(&forged, 15) + 1;
    let other_signature = match &forged[index + 9] {
        BundleLine::Checkpoint { note } => note.rsplit_once("\n\n").unwrap().1.to_owned(),
        _ => panic!("not a checkpoint"),
    };
    if let BundleLine::Checkpoint { note } = &mut forged[index] {
        *note = format!(
            "{}\n\n{other_signature}",
            note.rsplit_once("\n\n").unwrap().0
        );
    }
    let report = assert_detected(&forged, "a wrong signature on checkpoint 16");
    assert_eq!(
        report.problems[0].location,
        Location::Checkpoint { size: 16 }
    );
}
