#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Known-answer vectors, committed under `tests/vectors/`:
//!
//! - `rfc6962-merkle.json`: the certificate-transparency RFC 6962 vectors
//!   (copied from the published tables, not generated here);
//! - `entries.json`: encodings and leaf hashes of three fixed entries;
//! - `checkpoint.json`: a checkpoint over them signed by the demo key, its
//!   vkey, and the same checkpoint chained to one signed before it;
//! - `proofs.json`: inclusion and consistency proofs over those entries.
//!
//! The last three are written by `generated_vectors_match_the_committed_files`
//! when `REGENERATE_LEDGER_VECTORS` is set, and reviewed by hand; the other tests compare the code with the committed files,
//! so neither the format nor the vectors can drift silently.

use std::path::PathBuf;

use base64::Engine;
use hms_audit_ledger::checkpoint::{self, Checkpoint};
use hms_audit_ledger::entry::GENESIS_PREV_HASH;
use hms_audit_ledger::merkle::{self, MemoryTree, verify_consistency, verify_inclusion};
use hms_audit_ledger::{Entry, Event, Frontier, Hash, LedgerKey, Timestamp, VerifierKey};
use serde_json::{Value, json};

const DEMO_KEY_NAME: &str = "hms-ach/demo";
const DEMO_SEED: [u8; 32] = [7; 32];

fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

fn committed(name: &str) -> Value {
    let text = std::fs::read_to_string(vector_path(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn unhex(text: &Value) -> Vec<u8> {
    hex::decode(text.as_str().unwrap()).unwrap()
}

fn hash(text: &Value) -> Hash {
    unhex(text).try_into().unwrap()
}

fn hashes(list: &Value) -> Vec<Hash> {
    list.as_array().unwrap().iter().map(hash).collect()
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// Three chained entries: one with every option absent, one with everything
/// present (nested details with unsorted keys, escapes and non-ASCII text),
/// and an ordinary administrative one.
fn fixed_entries() -> Vec<Entry> {
    let bare = Event {
        kind: "system.ledger.open".into(),
        ..Event::default()
    };
    let full = Event {
        kind: "decision".into(),
        actor: Some("client:cl_ward7".into()),
        subject: Some("staff:n-1".into()),
        patient: Some("patient:p-42".into()),
        action: Some("read".into()),
        resource: Some("record:observations".into()),
        outcome: Some("permit".into()),
        policies: vec!["care-team-read".into(), "ward-7-nurses".into()],
        request_id: Some("req-0001".into()),
        decision_id: Some("dec-0001".into()),
        source_ip: Some("10.0.0.7".into()),
        user_agent: Some("ward-app/2.1 (Zoë)".into()),
        details: json!({
            "zeta": 1,
            "alpha": {"b": [true, null, u64::MAX, -7], "a": "Zoë Ångström — 東京 ✓"},
            "Ärzte": "x",
            "B": {"y": "line\nbreak \"quoted\" \\ tab\t", "x": i64::MIN}
        }),
    };
    let admin = Event {
        kind: "policy.install".into(),
        actor: Some("staff:admin-1".into()),
        outcome: Some("success".into()),
        request_id: Some("req-0002".into()),
        details: json!({"policy_set": "v42", "changes": 3}),
        ..Event::default()
    };
    let times = [
        "2026-11-23T20:15:02.123456Z",
        "2026-11-23T20:15:03.000001Z",
        "2026-11-23T20:16:00.500000Z",
    ];
    let mut previous = GENESIS_PREV_HASH;
    (0u64..)
        .zip([bare, full, admin].into_iter().zip(times))
        .map(|(sequence, (event, at))| {
            let entry = Entry {
                sequence,
                time: time(at),
                prev_hash: previous,
                event,
            };
            previous = entry.leaf_hash();
            entry
        })
        .collect()
}

fn fixed_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    fixed_entries()
        .iter()
        .for_each(|e| tree.push(e.leaf_hash()));
    tree
}

fn demo_checkpoint() -> Checkpoint {
    Checkpoint {
        origin: DEMO_KEY_NAME.into(),
        size: 3,
        root: fixed_tree().root_at(3).unwrap(),
        time: time("2026-11-23T20:17:00.000000Z"),
        previous: None,
    }
}

/// The note at size 2 signed before a chained checkpoint at size 3 (which is
/// [`demo_checkpoint`] naming it).
fn demo_chain() -> (String, Checkpoint) {
    let key = LedgerKey::from_seed(DEMO_KEY_NAME, DEMO_SEED);
    let first = key.sign(&Checkpoint {
        size: 2,
        root: fixed_tree().root_at(2).unwrap(),
        time: time("2026-11-23T20:16:00.000000Z"),
        ..demo_checkpoint()
    });
    let chained = Checkpoint {
        previous: Some(checkpoint::note_hash(&first)),
        ..demo_checkpoint()
    };
    (first, chained)
}

fn entries_vector() -> Value {
    let entries: Vec<Value> = fixed_entries()
        .iter()
        .map(|entry| {
            json!({
                "json": serde_json::to_string(entry).unwrap(),
                "encoding": hex::encode(entry.encode()),
                "leaf_hash": hex::encode(entry.leaf_hash()),
            })
        })
        .collect();
    json!({
        "description": "Entry encoding version 1: each entry's JSON form, canonical byte encoding (hex) and leaf hash SHA-256(0x00 || encoding). Entries are chained: prev_hash is the previous leaf hash.",
        "entries": entries,
    })
}

fn checkpoint_vector() -> Value {
    let key = LedgerKey::from_seed(DEMO_KEY_NAME, DEMO_SEED);
    let checkpoint = demo_checkpoint();
    json!({
        "description": "A checkpoint of the three entries of entries.json, signed as a C2SP signed note by LedgerKey::from_seed(\"hms-ach/demo\", [7; 32]) (Ed25519 is deterministic).",
        "key_name": DEMO_KEY_NAME,
        "seed": hex::encode(DEMO_SEED),
        "vkey": key.verifier().to_string(),
        "key_id": key.verifier().key_id_hex(),
        "checkpoint": {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": hex::encode(checkpoint.root),
            "time": checkpoint.time.to_rfc3339(),
        },
        "body": checkpoint.body(),
        "note": key.sign(&checkpoint),
        "chain": chain_vector(),
    })
}

fn chain_vector() -> Value {
    let key = LedgerKey::from_seed(DEMO_KEY_NAME, DEMO_SEED);
    let (first_note, chained) = demo_chain();
    json!({
        "description": "The same checkpoint as signed when a checkpoint at size 2 (first_note) came before it: its fifth line names SHA-256 of that whole note.",
        "first_note": first_note,
        "previous": hex::encode(checkpoint::note_hash(&first_note)),
        "body": chained.body(),
        "note": key.sign(&chained),
    })
}

fn proofs_vector() -> Value {
    let tree = fixed_tree();
    let hexes = |proof: Vec<Hash>| proof.into_iter().map(hex::encode).collect::<Vec<_>>();
    let roots: Vec<String> = (1..=3)
        .map(|size| hex::encode(tree.root_at(size).unwrap()))
        .collect();
    let inclusion: Vec<Value> = [(0, 3), (1, 3), (2, 3), (1, 2)]
        .into_iter()
        .map(|(index, size)| {
            json!({"index": index, "size": size, "proof": hexes(tree.inclusion_proof(index, size).unwrap())})
        })
        .collect();
    let consistency: Vec<Value> = [(1, 3), (2, 3), (1, 2)]
        .into_iter()
        .map(|(old, new)| {
            json!({"old": old, "new": new, "proof": hexes(tree.consistency_proof(old, new).unwrap())})
        })
        .collect();
    json!({
        "description": "Proofs over the leaf hashes of entries.json (RFC 9162 2.1.3 and 2.1.4). roots[i] is the root of the first i+1 entries.",
        "roots": roots,
        "inclusion_proofs": inclusion,
        "consistency_proofs": consistency,
    })
}

fn generated() -> [(&'static str, Value); 3] {
    [
        ("entries.json", entries_vector()),
        ("checkpoint.json", checkpoint_vector()),
        ("proofs.json", proofs_vector()),
    ]
}

/// Reads the entry JSON texts as values: key order inside `details` depends on
/// whether serde_json preserves insertion order in this build.
fn with_parsed_entry_json(mut vector: Value) -> Value {
    if let Some(entries) = vector["entries"].as_array_mut() {
        for case in entries {
            let text = case["json"].as_str().unwrap().to_owned();
            case["json"] = serde_json::from_str(&text).unwrap();
        }
    }
    vector
}

#[test]
fn generated_vectors_match_the_committed_files() {
    // `REGENERATE_LEDGER_VECTORS=1 cargo test -p hms-audit-ledger --test vectors`
    // rewrites the files after a deliberate format change; review the diff.
    if std::env::var_os("REGENERATE_LEDGER_VECTORS").is_some() {
        for (name, value) in generated() {
            let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
            std::fs::write(vector_path(name), text).unwrap();
        }
    }
    for (name, value) in generated() {
        assert_eq!(
            with_parsed_entry_json(committed(name)),
            with_parsed_entry_json(value),
            "{name} differs from the code's output"
        );
    }
}

/// Entry 1 as a writer that keeps insertion order would send it: the keys of
/// `details` unsorted at every level.
const UNSORTED_ENTRY_1: &str = r#"{"sequence":1,"time":"2026-11-23T20:15:03.000001Z","kind":"decision","actor":"client:cl_ward7","subject":"staff:n-1","patient":"patient:p-42","action":"read","resource":"record:observations","outcome":"permit","policies":["care-team-read","ward-7-nurses"],"request_id":"req-0001","decision_id":"dec-0001","source_ip":"10.0.0.7","user_agent":"ward-app/2.1 (Zoë)","details":{"zeta":1,"alpha":{"b":[true,null,18446744073709551615,-7],"a":"Zoë Ångström — 東京 ✓"},"Ärzte":"x","B":{"y":"line\nbreak \"quoted\" \\ tab\t","x":-9223372036854775808}},"prev_hash":"add7df6330674255761286858d28c633f456370b339d69cffec8077082eccd18"}"#;

#[test]
fn unsorted_details_hash_like_sorted_ones() {
    let vectors = committed("entries.json");
    let entry: Entry = serde_json::from_str(UNSORTED_ENTRY_1).unwrap();
    assert_eq!(entry, fixed_entries()[1]);
    assert_eq!(
        hex::encode(entry.leaf_hash()),
        vectors["entries"][1]["leaf_hash"].as_str().unwrap()
    );
}

#[test]
fn rfc6962_roots_and_proofs() {
    let vectors = committed("rfc6962-merkle.json");
    let leaves: Vec<Hash> = vectors["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|data| merkle::leaf_hash(&unhex(data)))
        .collect();
    assert_eq!(merkle::empty_root(), hash(&vectors["empty_root"]));
    let roots = hashes(&vectors["roots"]);
    let mut tree = MemoryTree::new();
    let mut frontier = Frontier::new();
    for (leaf, root) in leaves.iter().zip(&roots) {
        tree.push(*leaf);
        frontier.push(*leaf);
        assert_eq!(frontier.root(), *root, "root at size {}", frontier.size());
        assert_eq!(tree.root_at(tree.size()), Some(*root));
    }
    assert_eq!(
        roots[7],
        hash(&json!(
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        ))
    );
    for case in vectors["inclusion_proofs"].as_array().unwrap() {
        let (index, size) = (
            case["index"].as_u64().unwrap(),
            case["size"].as_u64().unwrap(),
        );
        let proof = hashes(&case["proof"]);
        assert_eq!(
            tree.inclusion_proof(index, size).unwrap(),
            proof,
            "{index} in {size}"
        );
        let root = roots[size as usize - 1];
        verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
    }
    for case in vectors["consistency_proofs"].as_array().unwrap() {
        let (old, new) = (case["old"].as_u64().unwrap(), case["new"].as_u64().unwrap());
        let proof = hashes(&case["proof"]);
        assert_eq!(
            tree.consistency_proof(old, new).unwrap(),
            proof,
            "{old} to {new}"
        );
        let (old_root, new_root) = (roots[old as usize - 1], roots[new as usize - 1]);
        verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
    }
}

#[test]
fn entry_encodings_and_leaf_hashes() {
    let vectors = committed("entries.json");
    let cases = vectors["entries"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for (entry, case) in fixed_entries().iter().zip(cases) {
        assert_eq!(entry.event.clone().into_recordable().unwrap(), entry.event);
        let parsed: Entry = serde_json::from_str(case["json"].as_str().unwrap()).unwrap();
        assert_eq!(&parsed, entry);
        assert_eq!(parsed.encode(), unhex(&case["encoding"]));
        assert_eq!(
            merkle::leaf_hash(&unhex(&case["encoding"])),
            hash(&case["leaf_hash"])
        );
        assert_eq!(parsed.leaf_hash(), hash(&case["leaf_hash"]));
    }
}

#[test]
fn the_bare_entry_encoding_reads_field_by_field() {
    let vectors = committed("entries.json");
    let encoding = unhex(&vectors["entries"][0]["encoding"]);
    let kind = b"system.ledger.open";
    let mut expected = vec![1];
    expected.extend(0u64.to_be_bytes());
    expected.extend(
        time("2026-11-23T20:15:02.123456Z")
            .unix_micros()
            .to_be_bytes(),
    );
    expected.extend((kind.len() as u32).to_be_bytes());
    expected.extend(kind);
    expected.extend([0; 6]);
    expected.extend(0u32.to_be_bytes());
    expected.extend([0; 4]);
    expected.extend(4u32.to_be_bytes());
    expected.extend(b"null");
    expected.extend([0; 32]);
    assert_eq!(encoding, expected);
}

#[test]
fn checkpoint_note_and_vkey() {
    let vector = committed("checkpoint.json");
    let key = LedgerKey::from_seed(DEMO_KEY_NAME, DEMO_SEED);
    let vkey = VerifierKey::parse(vector["vkey"].as_str().unwrap()).unwrap();
    assert_eq!(vkey, key.verifier());
    assert_eq!(vkey.key_id_hex(), vector["key_id"].as_str().unwrap());
    let note = vector["note"].as_str().unwrap();
    assert_eq!(key.sign(&demo_checkpoint()), note);
    assert!(note.starts_with(vector["body"].as_str().unwrap()));
    let (opened, key_id) = checkpoint::open(note, &[vkey]).unwrap();
    assert_eq!(opened, demo_checkpoint());
    assert_eq!(hex::encode(key_id), vector["key_id"].as_str().unwrap());
    assert_eq!(
        hex::encode(opened.root),
        vector["checkpoint"]["root"].as_str().unwrap()
    );
    let signature_line = note.rsplit_once("\n\n").unwrap().1;
    let blob = signature_line.trim_end().rsplit_once(' ').unwrap().1;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap();
    assert_eq!(blob.len(), 4 + 64);
    assert_eq!(hex::encode(&blob[..4]), vector["key_id"].as_str().unwrap());
}

#[test]
fn chained_checkpoint_note() {
    let chain = &committed("checkpoint.json")["chain"];
    let key = LedgerKey::from_seed(DEMO_KEY_NAME, DEMO_SEED);
    let (first_note, chained) = demo_chain();
    assert_eq!(first_note, chain["first_note"].as_str().unwrap());
    let previous = checkpoint::note_hash(&first_note);
    assert_eq!(hex::encode(previous), chain["previous"].as_str().unwrap());
    let note = chain["note"].as_str().unwrap();
    assert_eq!(key.sign(&chained), note);
    assert!(note.starts_with(chain["body"].as_str().unwrap()));
    let notes = [first_note.as_str(), note];
    let opened = checkpoint::open_chain(&notes, &[key.verifier()]);
    assert_eq!(opened[1].as_ref().unwrap().0.previous, Some(previous));
    assert!(opened[0].is_ok());
}

#[test]
fn proofs_over_the_fixed_entries() {
    let vector = committed("proofs.json");
    let leaves: Vec<Hash> = fixed_entries().iter().map(Entry::leaf_hash).collect();
    let roots = hashes(&vector["roots"]);
    for case in vector["inclusion_proofs"].as_array().unwrap() {
        let (index, size) = (
            case["index"].as_u64().unwrap(),
            case["size"].as_u64().unwrap(),
        );
        let proof = hashes(&case["proof"]);
        let root = roots[size as usize - 1];
        verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
    }
    for case in vector["consistency_proofs"].as_array().unwrap() {
        let (old, new) = (case["old"].as_u64().unwrap(), case["new"].as_u64().unwrap());
        let proof = hashes(&case["proof"]);
        let (old_root, new_root) = (roots[old as usize - 1], roots[new as usize - 1]);
        verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
    }
    assert_eq!(roots[2], demo_checkpoint().root);
}
