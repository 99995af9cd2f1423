//! Signed checkpoints: a C2SP tlog-checkpoint body (origin, tree size, root
//! hash, a time extension line and, but in the first, a `previous` extension
//! line) in a C2SP signed note, signed with Ed25519.
//!
//! ```text
//! hms-ach/demo
//! 3
//! Jvuhy0TT1WJecqxBrBEFQ7LLjef1hb69zf8kyNQF5Fw=
//! time 2026-11-23T20:17:00.000000Z
//!
//! — hms-ach/demo hN3sbpXBfXPyAh3p1G8dMzmf2BpQURZ92YTh2LNyBGhOCbcyDKkFvnNGpY6vGMJVqmuNKBvT5SY9JmkttEjKABllNQ4=
//! ```
//!
//! (`tests/vectors/checkpoint.json`: the demo key's vkey is
//! `hms-ach/demo+84ddec6e+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs`.)
//!
//! The `previous` line holds the SHA-256 of the whole signed note before it
//! ([`note_hash`]), so the checkpoints form a hash chain: a note whose
//! successor names it, and whose successor is itself verified, is as
//! authentic as if its own signature had been checked. [`open_chain`] uses
//! this to check one signature per run of chained notes.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::entry::Timestamp;
use crate::merkle::Hash;

/// The signed-note signature type byte of Ed25519.
const ED25519_SIGNATURE_TYPE: u8 = 0x01;
/// What starts a signature line: an em dash (U+2014) and a space.
const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";
/// What starts the time extension line of a checkpoint body.
const TIME_LINE_PREFIX: &str = "time ";
/// What starts the extension line naming the previous checkpoint note.
const PREVIOUS_LINE_PREFIX: &str = "previous ";
/// More signature lines than this and a note is refused (C2SP asks for at least 16).
const MAX_SIGNATURES: usize = 64;

/// Why a checkpoint, a signed note or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not a signed note (layout, characters or signature lines).
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// The note text is not a checkpoint body of this ledger's form.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// The root hash line is not the base64 encoding of 32 bytes.
    #[error("malformed checkpoint: the root hash is not the base64 encoding of 32 bytes")]
    BadRootEncoding,
    /// A key name is empty or holds a space, a `+` or a control character.
    #[error(
        "invalid key name {0:?}: it must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidKeyName(String),
    /// The text is not a verifier key.
    #[error("invalid verifier key: {0}")]
    InvalidVerifierKey(&'static str),
    /// No signature line comes from a trusted key.
    #[error("no signature by a trusted key (the note is signed by {signers})")]
    NoTrustedSignature {
        /// The `name+keyid` of every signature line.
        signers: String,
    },
    /// A signature line names a trusted key, but its signature is wrong.
    #[error("the signature by trusted key {key} does not verify: the note was altered or forged")]
    BadSignature {
        /// The `name+keyid` of the trusted key.
        key: String,
    },
    /// The checkpoint's origin is not the name of the key that signed it.
    #[error("checkpoint origin {origin:?} differs from the signing key's name {key:?}")]
    OriginMismatch {
        /// The origin line of the checkpoint.
        origin: String,
        /// The name of the key whose signature verified.
        key: String,
    },
}

/// A tree head: the ledger `origin` had `size` entries with Merkle root `root` at `time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The ledger's name: the tenant's log identity, also its key name.
    pub origin: String,
    /// The number of entries covered.
    pub size: u64,
    /// The Merkle tree root of the first `size` entries.
    pub root: Hash,
    /// When the checkpoint was made.
    pub time: Timestamp,
    /// The [`note_hash`] of the signed checkpoint note before this one; `None`
    /// for the first (and for notes of ledgers written before the chain).
    pub previous: Option<Hash>,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\ntime <RFC 3339>\n`, then
    /// `previous <base64(hash)>\n` when there is a previous note.
    ///
    /// The fourth and fifth lines are tlog-checkpoint extension lines: `time`,
    /// one space and the time in RFC 3339 (UTC, six fractional digits, `Z`);
    /// `previous`, one space and the base64 [`note_hash`] of the previous note.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n{TIME_LINE_PREFIX}{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root),
            self.time.to_rfc3339()
        );
        if let Some(previous) = self.previous {
            body.push_str(PREVIOUS_LINE_PREFIX);
            body.push_str(&BASE64.encode(previous));
            body.push('\n');
        }
        body
    }

    /// Reads a note text written by [`Checkpoint::body`]: four or five lines,
    /// a decimal size without leading zeros, a base64 root of 32 bytes, the
    /// time extension line and, if five, the previous-note extension line.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        check_note_characters(text)?;
        Self::parse_checked_body(text)
    }

    /// [`Checkpoint::parse_body`] for a text whose characters are checked.
    fn parse_checked_body(text: &str) -> Result<Self, CheckpointError> {
        let lines = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MalformedCheckpoint(
                "it does not end with a newline",
            ))?;
        let mut lines = lines.split('\n');
        let lines: [Option<&str>; 6] = std::array::from_fn(|_| lines.next());
        let [
            Some(origin),
            Some(size),
            Some(root),
            Some(time),
            previous,
            None,
        ] = lines
        else {
            return Err(CheckpointError::MalformedCheckpoint(
                "it must have four or five lines: origin, size, root hash, time and previous note",
            ));
        };
        if origin.is_empty() {
            return Err(CheckpointError::MalformedCheckpoint("the origin is empty"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size: parse_size(size)?,
            root: parse_root(root)?,
            time: parse_time(time)?,
            previous: previous.map(parse_previous).transpose()?,
        })
    }
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    line.parse()
        .ok()
        .filter(|_| canonical)
        .ok_or(CheckpointError::MalformedCheckpoint(
            "the tree size is not a decimal number without leading zeros",
        ))
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    let bytes = BASE64
        .decode(line)
        .map_err(|_| CheckpointError::BadRootEncoding)?;
    bytes
        .try_into()
        .map_err(|_| CheckpointError::BadRootEncoding)
}

fn parse_time(line: &str) -> Result<Timestamp, CheckpointError> {
    line.strip_prefix(TIME_LINE_PREFIX)
        .and_then(|text| Timestamp::parse_rfc3339(text).ok())
        .ok_or(CheckpointError::MalformedCheckpoint(
            "the fourth line is not \"time \" followed by an RFC 3339 time",
        ))
}

fn parse_previous(line: &str) -> Result<Hash, CheckpointError> {
    line.strip_prefix(PREVIOUS_LINE_PREFIX)
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(CheckpointError::MalformedCheckpoint(
            "the fifth line is not \"previous \" followed by the base64 of a 32-byte hash",
        ))
}

/// The hash a checkpoint's `previous` line gives of the note before it:
/// SHA-256 of the whole signed note (text and signature lines). A note holds
/// no control character but newline, so this input never begins like a Merkle
/// leaf or node (0x00, 0x01).
pub fn note_hash(note: &str) -> Hash {
    Sha256::digest(note.as_bytes()).into()
}

/// Signed notes hold no control characters but newlines.
fn check_note_characters(text: &str) -> Result<(), CheckpointError> {
    if has_control_other_than_newline(text) {
        return Err(CheckpointError::MalformedNote(
            "it contains a control character other than newline",
        ));
    }
    Ok(())
}

/// Whether `text` holds a control character (Unicode category Cc: U+0000 to
/// U+001F and U+007F to U+009F) other than newline, read from its UTF-8 bytes:
/// the C1 controls are the two-byte sequences 0xC2 0x80 to 0xC2 0x9F.
fn has_control_other_than_newline(text: &str) -> bool {
    let bytes = text.as_bytes();
    let c0 = bytes
        .iter()
        .any(|&byte| (byte < 0x20 && byte != b'\n') || byte == 0x7f);
    let c1 = || {
        bytes
            .windows(2)
            .any(|pair| pair[0] == 0xc2 && (0x80..=0x9f).contains(&pair[1]))
    };
    c0 || (bytes.contains(&0xc2) && c1())
}

/// Checks that `name` can name a key (and so a ledger origin): non-empty,
/// with no Unicode space, `+` or control character.
pub fn check_key_name(name: &str) -> Result<(), CheckpointError> {
    let bad = |c: char| c.is_whitespace() || c == '+' || c.is_control();
    if name.is_empty() || name.chars().any(bad) {
        return Err(CheckpointError::InvalidKeyName(
            name.chars().take(64).collect(),
        ));
    }
    Ok(())
}

/// A tenant's signing key. Its name in notes is the ledger origin.
///
/// The name must pass [`check_key_name`]; notes signed under another name do
/// not verify. `Debug` shows the public key only.
#[derive(Clone)]
pub struct LedgerKey {
    signing: SigningKey,
    verifier: VerifierKey,
}

impl LedgerKey {
    /// A new random key from the operating system's generator.
    ///
    /// Only with the `store` feature, which brings the generator: the core has
    /// no randomness of its own (use [`LedgerKey::from_seed`] with yours).
    #[cfg(feature = "store")]
    pub fn generate(name: &str) -> Self {
        Self::from_signing_key(name, SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The key whose Ed25519 secret is `seed` (deterministic).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Self {
        Self::from_signing_key(name, SigningKey::from_bytes(&seed))
    }

    fn from_signing_key(name: &str, signing: SigningKey) -> Self {
        let verifier = VerifierKey::new(name, signing.verifying_key());
        Self { signing, verifier }
    }

    /// The 32-byte Ed25519 secret, to store (encrypted) and reload with [`LedgerKey::from_seed`].
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The key name: the ledger origin.
    pub fn name(&self) -> &str {
        self.verifier.name()
    }

    /// The public half, to publish and to verify with.
    pub fn verifier(&self) -> VerifierKey {
        self.verifier.clone()
    }

    /// Signs the checkpoint: the full signed note text (body, blank line, one
    /// signature line, final newline).
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        self.sign_text(&checkpoint.body())
    }

    /// Signs any note text (newline-terminated lines without control
    /// characters): the text, a blank line and one signature line.
    pub(crate) fn sign_text(&self, text: &str) -> String {
        let signature = self.signing.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(4 + 64);
        blob.extend_from_slice(&self.verifier.key_id);
        blob.extend_from_slice(&signature.to_bytes());
        format!(
            "{text}\n{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name(),
            BASE64.encode(blob)
        )
    }
}

impl fmt::Debug for LedgerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerKey")
            .field("verifier", &self.verifier.to_string())
            .finish_non_exhaustive()
    }
}

/// A public key as C2SP vkey text: `name+<8 hex key id>+base64(0x01 || 32-byte
/// public key)`; key id = first 4 bytes of SHA-256(name || "\n" || 0x01 ||
/// public key) per signed-note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    fn new(name: &str, key: VerifyingKey) -> Self {
        Self {
            name: name.to_owned(),
            key_id: key_id(name, ED25519_SIGNATURE_TYPE, &key),
            key,
        }
    }

    /// Reads vkey text, checking the name, the key and that the key id matches them.
    pub fn parse(vkey: &str) -> Result<Self, CheckpointError> {
        let (name, key) = read_vkey(
            vkey,
            ED25519_SIGNATURE_TYPE,
            "not an Ed25519 key (type byte 0x01)",
        )?;
        Ok(Self::new(name, key))
    }

    /// The key name: the origin of the ledger it signs for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed-note key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The key id as 8 lowercase hexadecimal digits.
    pub fn key_id_hex(&self) -> String {
        hex::encode(self.key_id)
    }

    /// Checks an Ed25519 signature (strict verification) over `message`.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|signature| self.key.verify_strict(message, &signature).is_ok())
    }
}

/// The name and key of vkey text `name+<8 hex key id>+base64(type ||
/// 32-byte Ed25519 public key)` whose type byte is `key_type` (else
/// `wrong_type`), once the name is checked and the key id matches them.
pub(crate) fn read_vkey<'v>(
    vkey: &'v str,
    key_type: u8,
    wrong_type: &'static str,
) -> Result<(&'v str, VerifyingKey), CheckpointError> {
    let invalid = CheckpointError::InvalidVerifierKey;
    let (name, rest) = vkey
        .split_once('+')
        .ok_or(invalid("expected name+keyid+key"))?;
    let (id_hex, key_base64) = rest
        .split_once('+')
        .ok_or(invalid("expected name+keyid+key"))?;
    check_key_name(name)?;
    let mut id = [0; 4];
    hex::decode_to_slice(id_hex, &mut id)
        .map_err(|_| invalid("the key id is not 8 hexadecimal digits"))?;
    let key_bytes = BASE64
        .decode(key_base64)
        .map_err(|_| invalid("the key is not base64"))?;
    let public = match key_bytes.split_first() {
        Some((&found, public)) if found == key_type => public,
        _ => return Err(invalid(wrong_type)),
    };
    let public: &[u8; 32] = public
        .try_into()
        .map_err(|_| invalid("an Ed25519 public key is 32 bytes"))?;
    let key = VerifyingKey::from_bytes(public)
        .ok()
        .filter(|key| !key.is_weak())
        .ok_or(invalid("not a valid Ed25519 public key"))?;
    if key_id(name, key_type, &key) != id {
        return Err(invalid("the key id does not match the name and key"));
    }
    Ok((name, key))
}

/// A signed-note key id: SHA-256(name || "\n" || type byte || key)[..4].
pub(crate) fn key_id(name: &str, key_type: u8, key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', key_type])
        .chain_update(key.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut typed_key = vec![ED25519_SIGNATURE_TYPE];
        typed_key.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            self.key_id_hex(),
            BASE64.encode(typed_key)
        )
    }
}

impl FromStr for VerifierKey {
    type Err = CheckpointError;

    fn from_str(vkey: &str) -> Result<Self, Self::Err> {
        Self::parse(vkey)
    }
}

/// One signature line of a note.
pub(crate) struct NoteSignature<'a> {
    pub(crate) name: &'a str,
    pub(crate) key_id: [u8; 4],
    pub(crate) signature: Vec<u8>,
}

/// A note split into its text (with its final newline) and signature lines.
pub(crate) struct SignedNote<'a> {
    pub(crate) text: &'a str,
    pub(crate) signatures: Vec<NoteSignature<'a>>,
}

impl<'a> SignedNote<'a> {
    pub(crate) fn split(note: &'a str) -> Result<Self, CheckpointError> {
        check_note_characters(note)?;
        let blank = note.rfind("\n\n").ok_or(CheckpointError::MalformedNote(
            "no blank line before the signatures",
        ))?;
        let (text, signature_block) = (&note[..=blank], &note[blank + 2..]);
        let lines = signature_block
            .strip_suffix('\n')
            .filter(|lines| !lines.is_empty())
            .ok_or(CheckpointError::MalformedNote(
                "the signature lines are missing or do not end with a newline",
            ))?;
        let signatures = lines
            .split('\n')
            .map(parse_signature_line)
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.len() > MAX_SIGNATURES {
            return Err(CheckpointError::MalformedNote("too many signature lines"));
        }
        Ok(Self { text, signatures })
    }

    fn signers(&self) -> String {
        let signers: Vec<String> = self
            .signatures
            .iter()
            .map(|s| format!("{}+{}", s.name, hex::encode(s.key_id)))
            .collect();
        signers.join(", ")
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature<'_>, CheckpointError> {
    let malformed = CheckpointError::MalformedNote(
        "a signature line is not \"— <key name> <base64 signature>\"",
    );
    let (name, encoded) = line
        .strip_prefix(SIGNATURE_LINE_PREFIX)
        .and_then(|rest| rest.split_once(' '))
        .ok_or(malformed.clone())?;
    check_key_name(name).map_err(|_| malformed.clone())?;
    let blob = BASE64.decode(encoded).map_err(|_| malformed.clone())?;
    match blob.split_first_chunk::<4>() {
        Some((key_id, signature)) if !signature.is_empty() => Ok(NoteSignature {
            name,
            key_id: *key_id,
            signature: signature.to_vec(),
        }),
        _ => Err(malformed),
    }
}

/// Checks a signed note: origin/key name, a valid signature by one of
/// `trusted` (notes may carry several signature lines; unknown keys are
/// ignored, but at least one trusted must verify). Returns the checkpoint and
/// the key id that verified it.
///
/// A signature line that names a trusted key (same name and key id) but does
/// not verify rejects the whole note, as C2SP signed-note recommends.
pub fn open(note: &str, trusted: &[VerifierKey]) -> Opened {
    let note = SignedNote::split(note)?;
    let claims = trusted_signatures(&note, trusted)?;
    open_split(&note, &claims)
}

/// Checks any signed note against `trusted` as [`open`] does for
/// checkpoints; returns its text and the key whose signature verified.
pub(crate) fn open_text<'n, 'k>(
    note: &'n str,
    trusted: &'k [VerifierKey],
) -> Result<(&'n str, &'k VerifierKey), CheckpointError> {
    let note = SignedNote::split(note)?;
    let claims = trusted_signatures(&note, trusted)?;
    for (key, signature) in &claims {
        if !key.verifies(note.text.as_bytes(), signature) {
            return Err(CheckpointError::BadSignature {
                key: format!("{}+{}", key.name, key.key_id_hex()),
            });
        }
    }
    Ok((note.text, claims[0].0))
}

/// [`open`] once the note is split and its trusted signatures found.
fn open_split(note: &SignedNote<'_>, claims: &[(&VerifierKey, &[u8])]) -> Opened {
    for (key, signature) in claims {
        if !key.verifies(note.text.as_bytes(), signature) {
            return Err(CheckpointError::BadSignature {
                key: format!("{}+{}", key.name, key.key_id_hex()),
            });
        }
    }
    attribute(Checkpoint::parse_checked_body(note.text)?, claims[0].0)
}

/// [`open`] for consecutive checkpoint notes, in the order they were signed:
/// the same outcome for each note, with far fewer signature checks.
///
/// - A note whose successor's `previous` line holds its [`note_hash`] is
///   vouched for by that successor: the successor's signer signed these exact
///   bytes. It is opened without checking its own signature (it must still
///   name a trusted key and this origin), provided its successor opens.
/// - The signatures of the other notes (at least the last) are checked
///   together in one Ed25519 batch verification.
///
/// If the batch fails, each of those notes is opened on its own, and so is
/// each note whose successor did not open, so the outcome still names exactly
/// the wrong notes and why.
///
/// A batch accepts a signature that strict verification refuses only when
/// the holder of the signing key crafted it so (a nonce point with a
/// small-order part); nobody without the key can produce one, any more than a
/// forgery. Keys of small order are refused when a [`VerifierKey`] is read.
pub fn open_chain(notes: &[&str], trusted: &[VerifierKey]) -> Vec<Opened> {
    let hashes: Vec<Hash> = notes.iter().map(|note| note_hash(note)).collect();
    open_hashed_chain(notes, &hashes, trusted)
}

/// [`open_chain`] for notes whose [`note_hash`]es are already known.
pub(crate) fn open_hashed_chain(
    notes: &[&str],
    hashes: &[Hash],
    trusted: &[VerifierKey],
) -> Vec<Opened> {
    let read: Vec<Option<ReadNote<'_>>> = notes.iter().map(|note| ReadNote::read(note)).collect();
    let vouched: Vec<bool> = (0..notes.len())
        .map(|i| {
            let successor_names = read
                .get(i + 1)
                .and_then(|next| next.as_ref()?.checkpoint.previous);
            successor_names.is_some_and(|named| Some(&named) == hashes.get(i))
        })
        .collect();
    let mut batch = SignatureBatch::default();
    let provisional: Vec<Provisional> = read
        .into_iter()
        .zip(notes)
        .zip(vouched)
        .map(|((read, note), vouched)| match read {
            Some(read) => read.provisional(vouched, &mut batch, trusted),
            None => Provisional::Final(open(note, trusted)),
        })
        .collect();
    let batch_verifies = batch.verify();
    let mut opened: Vec<Opened> = Vec::with_capacity(notes.len());
    for (provisional, note) in provisional.into_iter().zip(notes).rev() {
        let successor_opened = opened.last().is_some_and(Result::is_ok);
        opened.push(match provisional {
            Provisional::Final(outcome) => outcome,
            Provisional::IfTheBatchVerifies(outcome) if batch_verifies => outcome,
            Provisional::IfTheSuccessorOpens(outcome) if successor_opened => outcome,
            Provisional::IfTheBatchVerifies(_) | Provisional::IfTheSuccessorOpens(_) => {
                open(note, trusted)
            }
        });
    }
    opened.reverse();
    opened
}

/// What [`open`] returns: the checkpoint and the id of the key that verified it.
pub type Opened = Result<(Checkpoint, [u8; 4]), CheckpointError>;

/// A note's outcome in [`open_chain`] before signatures are checked.
enum Provisional {
    /// Decided without checking a signature again (the note is malformed, has
    /// no trusted signature, or could not join the batch and was opened alone).
    Final(Opened),
    /// What the note says, if the batch verifies.
    IfTheBatchVerifies(Opened),
    /// What the note says, if the successor that names it opens.
    IfTheSuccessorOpens(Opened),
}

/// A well-formed note: its parts and its checkpoint, signatures unchecked.
struct ReadNote<'a> {
    note: SignedNote<'a>,
    checkpoint: Checkpoint,
}

impl<'a> ReadNote<'a> {
    /// None when the note is not a well-formed checkpoint note.
    fn read(note: &'a str) -> Option<Self> {
        let note = SignedNote::split(note).ok()?;
        let checkpoint = Checkpoint::parse_checked_body(note.text).ok()?;
        Some(Self { note, checkpoint })
    }

    /// What the note says if its trusted signatures hold: vouched for by its
    /// successor, or with its signatures added to `batch`.
    fn provisional(
        self,
        vouched: bool,
        batch: &mut SignatureBatch<'a>,
        trusted: &[VerifierKey],
    ) -> Provisional {
        let claims = match trusted_signatures(&self.note, trusted) {
            Ok(claims) => claims,
            Err(error) => return Provisional::Final(Err(error)),
        };
        let outcome = attribute(self.checkpoint, claims[0].0);
        if vouched {
            Provisional::IfTheSuccessorOpens(outcome)
        } else if batch.add(self.note.text, &claims) {
            Provisional::IfTheBatchVerifies(outcome)
        } else {
            Provisional::Final(open_split(&self.note, &claims))
        }
    }
}

/// Signatures gathered for one batch verification.
#[derive(Default)]
struct SignatureBatch<'a> {
    messages: Vec<&'a [u8]>,
    signatures: Vec<Signature>,
    keys: Vec<VerifyingKey>,
}

impl<'a> SignatureBatch<'a> {
    /// Adds the trusted signatures `claims` over `text`; false (nothing added)
    /// when one is not 64 bytes, so the note must be opened on its own.
    fn add(&mut self, text: &'a str, claims: &[(&VerifierKey, &[u8])]) -> bool {
        let signatures = claims
            .iter()
            .map(|(_, signature)| Signature::from_slice(signature).ok())
            .collect::<Option<Vec<_>>>();
        let Some(signatures) = signatures else {
            return false;
        };
        for ((key, _), signature) in claims.iter().zip(signatures) {
            self.messages.push(text.as_bytes());
            self.signatures.push(signature);
            self.keys.push(key.key);
        }
        true
    }

    /// Whether every signature in the batch verifies.
    fn verify(&self) -> bool {
        self.signatures.is_empty()
            || ed25519_dalek::verify_batch(&self.messages, &self.signatures, &self.keys).is_ok()
    }
}

/// The note's signatures by trusted keys (same name and key id), unverified;
/// at least one.
fn trusted_signatures<'n, 'k>(
    note: &'n SignedNote<'_>,
    trusted: &'k [VerifierKey],
) -> Result<Vec<(&'k VerifierKey, &'n [u8])>, CheckpointError> {
    let claims: Vec<_> = note
        .signatures
        .iter()
        .flat_map(|line| {
            trusted
                .iter()
                .filter(|key| key.name == line.name && key.key_id == line.key_id)
                .map(|key| (key, line.signature.as_slice()))
        })
        .collect();
    if claims.is_empty() {
        return Err(CheckpointError::NoTrustedSignature {
            signers: note.signers(),
        });
    }
    Ok(claims)
}

/// The checkpoint of a note whose signature by `key` verified, if its origin
/// is the key's name.
fn attribute(checkpoint: Checkpoint, key: &VerifierKey) -> Opened {
    if checkpoint.origin != key.name {
        return Err(CheckpointError::OriginMismatch {
            origin: checkpoint.origin,
            key: key.name.clone(),
        });
    }
    Ok((checkpoint, key.key_id))
}

/// Reads a note's checkpoint without checking signatures (for listing).
pub fn parse_unverified(note: &str) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::parse_checked_body(SignedNote::split(note)?.text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn key() -> LedgerKey {
        LedgerKey::from_seed("hms-ach/demo", [7; 32])
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "hms-ach/demo".into(),
            size: 3,
            root: [9; 32],
            time: Timestamp(1_795_464_902_123_456),
            previous: None,
        }
    }

    #[test]
    fn body_has_the_four_lines() {
        assert_eq!(
            checkpoint().body(),
            format!(
                "hms-ach/demo\n3\n{}\ntime 2026-11-23T20:15:02.123456Z\n",
                BASE64.encode([9; 32])
            )
        );
        assert_eq!(
            Checkpoint::parse_body(&checkpoint().body()).unwrap(),
            checkpoint()
        );
    }

    #[test]
    fn a_chained_body_names_the_previous_note_on_a_fifth_line() {
        let chained = Checkpoint {
            previous: Some(note_hash(&key().sign(&checkpoint()))),
            ..checkpoint()
        };
        let body = chained.body();
        assert_eq!(
            body,
            format!(
                "{}previous {}\n",
                checkpoint().body(),
                BASE64.encode(chained.previous.unwrap())
            )
        );
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), chained);
        let note = key().sign(&chained);
        assert_eq!(open(&note, &[key().verifier()]).unwrap().0, chained);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let good = checkpoint().body();
        let root = BASE64.encode([9; 32]);
        for bad in [
            good.trim_end().to_owned(),
            good.replace("\n3\n", "\n03\n"),
            good.replace("\n3\n", "\n-3\n"),
            good.replace("\n3\n", "\n\n"),
            good.replace("\n3\n", "\n99999999999999999999\n"),
            good.replace(&root, &BASE64.encode([9; 31])),
            good.replace(&root, "not base64!"),
            good.replace("time ", "when "),
            good.replace("2026-11-23", "2026-13-23"),
            good.replace("hms-ach/demo", ""),
            format!("{good}extra\n"),
            good.replace("time", "ti\u{7}me"),
            format!("{good}previous !!\n"),
            format!("{good}previous {}\n", BASE64.encode([1; 31])),
            format!("{good}prior {}\n", BASE64.encode([1; 32])),
            format!("{good}previous {0}\nprevious {0}\n", BASE64.encode([1; 32])),
        ] {
            assert!(Checkpoint::parse_body(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Checkpoint::parse_body(&good.replace(&root, &BASE64.encode([9; 31]))),
            Err(CheckpointError::BadRootEncoding)
        );
    }

    #[test]
    fn signed_notes_open_with_the_signing_key() {
        let note = key().sign(&checkpoint());
        assert!(note.starts_with(&checkpoint().body()));
        assert!(note.contains("\n\n\u{2014} hms-ach/demo "));
        let (opened, key_id) = open(&note, &[key().verifier()]).unwrap();
        assert_eq!(opened, checkpoint());
        assert_eq!(key_id, key().verifier().key_id());
        assert_eq!(parse_unverified(&note).unwrap(), checkpoint());
    }

    #[test]
    fn altered_or_foreign_notes_do_not_open() {
        let note = key().sign(&checkpoint());
        let trusted = [key().verifier()];
        let altered = note.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(
            open(&altered, &trusted),
            Err(CheckpointError::BadSignature { .. })
        ));
        let other = LedgerKey::from_seed("hms-ach/demo", [8; 32]).sign(&checkpoint());
        assert!(matches!(
            open(&other, &trusted),
            Err(CheckpointError::NoTrustedSignature { .. })
        ));
        assert!(matches!(
            open(&note, &[]),
            Err(CheckpointError::NoTrustedSignature { .. })
        ));
    }

    #[test]
    fn unknown_signatures_are_ignored_and_any_trusted_one_suffices() {
        let note = key().sign(&checkpoint());
        let witness = LedgerKey::from_seed("witness.example/w1", [1; 32]);
        let witness_line = witness.sign(&checkpoint());
        let witness_line = witness_line.rsplit_once("\n\n").unwrap().1;
        let cosigned = format!("{note}{witness_line}");
        let trusted = [witness.verifier(), key().verifier()];
        assert_eq!(
            open(&cosigned, &trusted).unwrap().1,
            key().verifier().key_id()
        );
        assert_eq!(
            open(&cosigned, &[key().verifier()]).unwrap().0,
            checkpoint()
        );
    }

    #[test]
    fn the_origin_must_be_the_key_name() {
        let impostor = LedgerKey::from_seed("hms-ach/other", [7; 32]);
        let note = impostor.sign(&checkpoint());
        assert!(matches!(
            open(&note, &[impostor.verifier()]),
            Err(CheckpointError::OriginMismatch { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let note = key().sign(&checkpoint());
        let trusted = [key().verifier()];
        let (body, signature) = note.rsplit_once("\n\n").unwrap();
        let blob = signature.rsplit_once(' ').unwrap().1.trim_end();
        let bad_id = {
            let mut bytes = BASE64.decode(blob).unwrap();
            bytes.truncate(4);
            BASE64.encode(bytes)
        };
        for bad in [
            body.to_owned(),
            format!("{body}\n\n"),
            format!("{body}\n\n{}", signature.trim_end()),
            format!("{body}\n\n- hms-ach/demo {blob}\n"),
            format!("{body}\n\n\u{2014} hms-ach/demo\n"),
            format!("{body}\n\n\u{2014} hms-ach/demo {bad_id}\n"),
            format!("{body}\n\n\u{2014} hms-ach/demo !!!\n"),
            format!("{body}\n\n\u{2014}  {blob}\n"),
            note.replace('\n', "\r\n"),
        ] {
            assert!(open(&bad, &trusted).is_err(), "{bad:?}");
        }
        let many = format!("{note}{}", signature.repeat(MAX_SIGNATURES));
        assert_eq!(
            open(&many, &trusted),
            Err(CheckpointError::MalformedNote("too many signature lines"))
        );
    }

    #[test]
    fn a_wrong_length_signature_from_a_trusted_key_is_rejected() {
        let note = key().sign(&checkpoint());
        let (body, _) = note.rsplit_once("\n\n").unwrap();
        let mut blob = key().verifier().key_id().to_vec();
        blob.extend([0; 10]);
        let short = format!("{body}\n\n\u{2014} hms-ach/demo {}\n", BASE64.encode(blob));
        assert!(matches!(
            open(&short, &[key().verifier()]),
            Err(CheckpointError::BadSignature { .. })
        ));
    }

    #[test]
    fn opening_unchained_notes_gives_each_what_opening_it_alone_gives() {
        let witness = LedgerKey::from_seed("witness.example/w1", [1; 32]);
        let impostor = LedgerKey::from_seed("hms-ach/other", [7; 32]);
        let trusted = [key().verifier(), witness.verifier(), impostor.verifier()];
        let at = |size| Checkpoint {
            size,
            ..checkpoint()
        };
        let genuine: Vec<String> = (1..40).map(|size| key().sign(&at(size))).collect();
        let refs: Vec<&str> = genuine.iter().map(String::as_str).collect();
        let all = open_chain(&refs, &trusted);
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(
            all,
            refs.iter().map(|n| open(n, &trusted)).collect::<Vec<_>>()
        );

        let note = key().sign(&checkpoint());
        let witness_line = witness.sign(&checkpoint());
        let cosigned = format!("{note}{}", witness_line.rsplit_once("\n\n").unwrap().1);
        let (body, _) = note.rsplit_once("\n\n").unwrap();
        let mut short = key().verifier().key_id().to_vec();
        short.extend([0; 10]);
        let mixed = [
            genuine[0].clone(),
            note.replacen("\n3\n", "\n4\n", 1),
            LedgerKey::from_seed("hms-ach/demo", [8; 32]).sign(&checkpoint()),
            impostor.sign(&checkpoint()),
            cosigned,
            format!("{body}\n\n\u{2014} hms-ach/demo {}\n", BASE64.encode(short)),
            body.to_owned(),
            genuine[5].clone(),
        ];
        let refs: Vec<&str> = mixed.iter().map(String::as_str).collect();
        let alone: Vec<Opened> = refs.iter().map(|n| open(n, &trusted)).collect();
        assert_eq!(open_chain(&refs, &trusted), alone);
        assert!(alone[0].is_ok() && alone[4].is_ok() && alone[7].is_ok());
        assert!(alone[1..4].iter().chain(&alone[5..7]).all(Result::is_err));
    }

    /// Notes at sizes 1, 2, … each naming the one before, as the writer signs them.
    fn chain_of(count: u64) -> Vec<String> {
        let mut previous = None;
        (1..=count)
            .map(|size| {
                let note = key().sign(&Checkpoint {
                    size,
                    previous,
                    ..checkpoint()
                });
                previous = Some(note_hash(&note));
                note
            })
            .collect()
    }

    fn opened_chain(notes: &[String]) -> Vec<Opened> {
        let refs: Vec<&str> = notes.iter().map(String::as_str).collect();
        open_chain(&refs, &[key().verifier()])
    }

    fn opened_alone(notes: &[String]) -> Vec<Opened> {
        notes.iter().map(|n| open(n, &[key().verifier()])).collect()
    }

    /// The note with its signature bytes replaced by those of another note.
    fn with_wrong_signature(note: &str, other: &str) -> String {
        let body = note.rsplit_once("\n\n").unwrap().0;
        let signature = other.rsplit_once("\n\n").unwrap().1;
        format!("{body}\n\n{signature}")
    }

    #[test]
    fn a_chain_opens_like_each_note_alone() {
        let chain = chain_of(30);
        assert!(opened_chain(&chain).iter().all(Result::is_ok));
        assert_eq!(opened_chain(&chain), opened_alone(&chain));

        // A note altered or re-signed by another key no longer matches the
        // hash its successor names, so its own signature is checked.
        let mut tampered = chain.clone();
        tampered[7] = tampered[7].replacen("\n8\n", "\n9\n", 1);
        tampered[12] = LedgerKey::from_seed("hms-ach/demo", [8; 32])
            .sign(&parse_unverified(&chain[12]).unwrap());
        tampered[20] = with_wrong_signature(&chain[20], &chain[19]);
        let alone = opened_alone(&tampered);
        assert_eq!(opened_chain(&tampered), alone);
        let failed: Vec<usize> = (0..30).filter(|&i| alone[i].is_err()).collect();
        assert_eq!(failed, [7, 12, 20]);
    }

    #[test]
    fn a_note_is_vouched_for_only_by_a_successor_that_opens() {
        // Only the key's holder can sign a successor naming a note whose own
        // signature is wrong; such a successor vouches for the note's bytes.
        let mut chain = chain_of(3);
        chain[1] = with_wrong_signature(&chain[1], &chain[0]);
        chain[2] = key().sign(&Checkpoint {
            size: 3,
            previous: Some(note_hash(&chain[1])),
            ..checkpoint()
        });
        let opened = opened_chain(&chain);
        assert!(opened.iter().all(Result::is_ok), "{opened:?}");
        assert!(opened_alone(&chain)[1].is_err());

        // Once the successor fails, the note is judged on its own signature.
        chain[2] = chain[2].replacen("\n3\n", "\n4\n", 1);
        let opened = opened_chain(&chain);
        assert_eq!(opened, opened_alone(&chain));
        assert!(opened[0].is_ok() && opened[1].is_err() && opened[2].is_err());
    }

    #[test]
    fn a_key_of_small_order_is_not_a_verifier_key() {
        let mut identity = [0; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        let mut typed = vec![ED25519_SIGNATURE_TYPE];
        typed.extend(identity);
        let vkey = format!(
            "hms-ach/demo+{}+{}",
            hex::encode(key_id("hms-ach/demo", ED25519_SIGNATURE_TYPE, &weak)),
            BASE64.encode(typed)
        );
        assert_eq!(
            VerifierKey::parse(&vkey),
            Err(CheckpointError::InvalidVerifierKey(
                "not a valid Ed25519 public key"
            ))
        );
    }

    #[test]
    fn vkeys_round_trip_and_are_checked() {
        let vkey = key().verifier();
        let text = vkey.to_string();
        assert!(text.starts_with(&format!("hms-ach/demo+{}+", vkey.key_id_hex())));
        assert_eq!(VerifierKey::parse(&text).unwrap(), vkey);
        assert_eq!(text.parse::<VerifierKey>().unwrap(), vkey);
        assert_eq!(vkey.name(), "hms-ach/demo");
        let (name_id, key_part) = text.rsplit_once('+').unwrap();
        for bad in [
            "",
            "hms-ach/demo",
            "hms-ach/demo+00000000",
            &format!("hms-ach/other+{}", &text["hms-ach/demo+".len()..]),
            &format!("{name_id}+{}", BASE64.encode([1; 33])),
            &format!("{name_id}+{}", BASE64.encode([2; 33])),
            &format!("{name_id}+{}", BASE64.encode([1; 32])),
            &format!("{name_id}+!!{key_part}"),
            &text.replacen("hms-ach/demo+", "hms ach+", 1),
            &text.replacen(&vkey.key_id_hex(), "zzzzzzzz", 1),
        ] {
            assert!(VerifierKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let shown = format!("{:?}", key());
        assert!(shown.contains("hms-ach/demo+"));
        assert!(!shown.contains(&hex::encode(key().seed())));
        assert!(!shown.contains(&format!("{:?}", key().seed())));
        assert_eq!(LedgerKey::from_seed("n", key().seed()).seed(), [7; 32]);
    }

    #[test]
    fn control_characters_are_found_in_utf8_as_char_by_char() {
        let samples = (0..0x3000).filter_map(char::from_u32).chain([
            '\u{feff}',
            '\u{2028}',
            '\u{10ffff}',
            '\u{1f600}',
        ]);
        for c in samples {
            for text in [format!("{c}"), format!("a{c}b\n"), format!("\u{e9}{c}")] {
                let expected = text.chars().any(|c| c.is_control() && c != '\n');
                assert_eq!(has_control_other_than_newline(&text), expected, "{c:?}");
            }
        }
    }

    #[test]
    fn key_names_are_checked() {
        assert!(check_key_name("hms-ach/tenant-1").is_ok());
        for bad in ["", "a b", "a+b", "a\nb", "a\u{a0}b"] {
            assert!(check_key_name(bad).is_err(), "{bad:?}");
        }
    }
}
