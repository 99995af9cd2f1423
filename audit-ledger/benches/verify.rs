//! Throughput of the offline verifier over a generated export bundle, and of
//! entry encoding plus leaf hashing.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use hms_audit_ledger::checkpoint::{Checkpoint, note_hash};
use hms_audit_ledger::entry::GENESIS_PREV_HASH;
use hms_audit_ledger::{
    BundleLine, Entry, Event, Frontier, LedgerKey, Timestamp, Trust, VerifierKey, verify_bundle,
};
use serde_json::json;

const ORIGIN: &str = "hms-ach/bench";
const ENTRIES: u64 = 200_000;
/// A checkpoint every so many entries: rare; as often as a saturated service
/// commits batches (18 entries a batch on average); as often as a service
/// answering 5,000 durable decisions a second does (one per 3.5 entries); and
/// after every entry, as a quiet service does.
const CHECKPOINT_INTERVALS: [u64; 4] = [10_000, 18, 3, 1];

/// A typical decision entry (about 400 bytes as a bundle line).
fn entry(sequence: u64, prev_hash: [u8; 32]) -> Entry {
    Entry {
        sequence,
        time: Timestamp(1_795_464_902_000_000 + sequence as i64 * 1_377),
        prev_hash,
        event: Event {
            kind: "decision".into(),
            actor: Some("client:cl_ward7_pep".into()),
            subject: Some(format!("staff:n-{}", sequence % 977)),
            patient: Some(format!("patient:p-{}", sequence % 10_007)),
            action: Some("read".into()),
            resource: Some("record:observations".into()),
            outcome: Some(
                if sequence.is_multiple_of(11) {
                    "deny"
                } else {
                    "permit"
                }
                .into(),
            ),
            policies: vec!["care-team-read".into()],
            request_id: Some(format!("req-{sequence:012}")),
            decision_id: None,
            source_ip: Some("10.20.30.40".into()),
            user_agent: None,
            details: json!({"encounter": format!("enc-{}", sequence % 5003), "ward": "7B"}),
        },
    }
}

/// A bundle of [`ENTRIES`] entries with a signed checkpoint every `every`
/// entries, each naming the one before as the ledger's writer does, and the
/// key that signed them.
fn bundle(every: u64) -> (String, VerifierKey) {
    let key = LedgerKey::from_seed(ORIGIN, [9; 32]);
    let header = BundleLine::Header {
        origin: ORIGIN.into(),
        exported_at: Timestamp(1_795_500_000_000_000),
        entries: ENTRIES,
    };
    let mut text = header.to_json_line() + "\n";
    let mut frontier = Frontier::new();
    let mut previous = GENESIS_PREV_HASH;
    let mut previous_note = None;
    for sequence in 0..ENTRIES {
        let entry = entry(sequence, previous);
        previous = entry.leaf_hash();
        frontier.push(previous);
        text.push_str(&BundleLine::Entry(entry).to_json_line());
        text.push('\n');
        if frontier.size().is_multiple_of(every) {
            let note = key.sign(&Checkpoint {
                origin: ORIGIN.into(),
                size: frontier.size(),
                root: frontier.root(),
                time: Timestamp(1_795_500_000_000_000),
                previous: previous_note,
            });
            previous_note = Some(note_hash(&note));
            text.push_str(&BundleLine::Checkpoint { note }.to_json_line());
            text.push('\n');
        }
    }
    (text, key.verifier())
}

fn verify_bundle_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify_bundle");
    group.throughput(Throughput::Elements(ENTRIES));
    group.sample_size(10);
    for every in CHECKPOINT_INTERVALS {
        let (text, trusted) = bundle(every);
        println!(
            "bundle: {} entries, a checkpoint every {every}, {} bytes ({} bytes a line)",
            ENTRIES,
            text.len(),
            text.len() as u64 / ENTRIES
        );
        let name = format!("200k entries, a checkpoint every {every}");
        group.bench_function(name, |b| {
            b.iter(|| {
                let trust = Trust::with_keys(vec![trusted.clone()]);
                let report = verify_bundle(text.as_bytes(), &trust, |_| {});
                assert!(report.is_ok_and(|r| r.is_valid()));
            })
        });
    }
    group.finish();
}

fn entry_hashing(c: &mut Criterion) {
    let entry = entry(123_456, [7; 32]);
    let mut group = c.benchmark_group("entry");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode + leaf_hash", |b| {
        b.iter(|| black_box(&entry).leaf_hash())
    });
    group.finish();
}

/// Runs every benchmark of this file (`criterion_group!` would leave an undocumented function).
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    verify_bundle_throughput(&mut criterion);
    entry_hashing(&mut criterion);
}

criterion_main!(benches);
