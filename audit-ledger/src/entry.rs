//! Ledger entries: what happened ([`Event`]), where it sits in the ledger
//! ([`Entry`]), its canonical byte encoding and leaf hash, and its JSON form.

mod canonical;
mod encoding;
mod json;

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::merkle::{self, Hash};

pub(crate) use canonical::CanonicalJson;
use encoding::{Details, EncodingView};
pub use json::EntryLine;
pub(crate) use json::{EntryFields, EntryJson};

/// How times are written: UTC, six fractional digits, `Z`.
const UTC_MICROS: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The version byte that starts every entry encoding.
pub const ENCODING_VERSION: u8 = 1;

/// The `prev_hash` of entry 0: all zeros.
pub const GENESIS_PREV_HASH: Hash = [0; 32];

/// Details nested deeper than this are kept as JSON text by [`Event::into_recordable`].
pub const MAX_DETAILS_DEPTH: usize = 64;

/// Why an entry field could not be read, or an event cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The text is not an RFC 3339 date-time.
    #[error("invalid RFC 3339 time {text:?}: {reason}")]
    InvalidTime {
        /// The start of the offending text.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A string or list is too long for the encoding's 32-bit lengths.
    #[error("a field is too large to encode (4 GiB or more, or 2^32 or more policies)")]
    TooLarge,
}

/// UTC time with microsecond precision (unix microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time, from the system clock.
    pub fn now() -> Self {
        let since_epoch = std::time::UNIX_EPOCH.elapsed();
        let micros = match since_epoch {
            Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
        };
        Self(micros)
    }

    /// The time `micros` microseconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// RFC 3339 in UTC with six fractional digits, e.g. `2026-11-23T20:15:02.123456Z`.
    /// A time beyond the years ±9999 (which no genuine entry has) is written as
    /// `unrepresentable:{micros}`, which does not read back.
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .ok()
            .and_then(|time| time.format(UTC_MICROS).ok())
            .unwrap_or_else(|| format!("unrepresentable:{}", self.0))
    }

    /// Reads an RFC 3339 date-time with any offset, truncating below microseconds.
    pub fn parse_rfc3339(text: &str) -> Result<Self, EntryError> {
        let invalid = |reason: String| EntryError::InvalidTime {
            text: text.chars().take(64).collect(),
            reason,
        };
        let time = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| invalid(e.to_string()))?;
        let micros = time.unix_timestamp_nanos().div_euclid(1000);
        i64::try_from(micros)
            .map(Self)
            .map_err(|_| invalid("out of range".into()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 date-time string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        Timestamp::parse_rfc3339(text).map_err(E::custom)
    }
}

/// What happened: everything about an entry that its author supplies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    /// What kind of event, e.g. `decision`, `policy.install`, `directory.staff.upsert`.
    pub kind: String,
    /// Who did it: `client:cl_x`, `staff:n-1`, `system`.
    pub actor: Option<String>,
    /// The staff member acted for or upon.
    pub subject: Option<String>,
    /// The patient concerned.
    pub patient: Option<String>,
    /// The action requested or performed.
    pub action: Option<String>,
    /// The resource acted upon.
    pub resource: Option<String>,
    /// How it ended: `permit`, `deny`, `success`, `failure`, …
    pub outcome: Option<String>,
    /// The ids of the policies that determined the outcome.
    pub policies: Vec<String>,
    /// The request that caused the event.
    pub request_id: Option<String>,
    /// The decision recorded by the event.
    pub decision_id: Option<String>,
    /// The caller's IP address.
    pub source_ip: Option<String>,
    /// The caller's user agent.
    pub user_agent: Option<String>,
    /// Kind-specific details; `Value::Null` if none. Hashed as [`canonical_json`].
    pub details: Value,
}

impl Event {
    /// Makes the event one the ledger can record faithfully, so that it hashes
    /// the same after any number of JSON round trips: non-integer numbers in the
    /// details become strings (serde_json, as built here, does not read every
    /// float back bit for bit), and anything nested deeper than
    /// [`MAX_DETAILS_DEPTH`] becomes its JSON text (serde_json refuses deeper
    /// input). Nothing is dropped. Fails only when a field is too long for the
    /// encoding. Writers call it before recording; the verifier accepts anything.
    pub fn into_recordable(mut self) -> Result<Self, EntryError> {
        let options = [
            &self.actor,
            &self.subject,
            &self.patient,
            &self.action,
            &self.resource,
            &self.outcome,
            &self.request_id,
            &self.decision_id,
            &self.source_ip,
            &self.user_agent,
        ];
        let mut texts = options
            .into_iter()
            .flatten()
            .chain(&self.policies)
            .chain([&self.kind]);
        let too_large = |length: usize| u32::try_from(length).is_err();
        if too_large(self.policies.len()) || texts.any(|text| too_large(text.len())) {
            return Err(EntryError::TooLarge);
        }
        drop(texts);
        make_portable(&mut self.details, 1);
        Ok(self)
    }
}

fn make_portable(value: &mut Value, depth: usize) {
    match value {
        Value::Array(_) | Value::Object(_) if depth >= MAX_DETAILS_DEPTH => {
            *value = Value::String(canonical_json(value));
        }
        Value::Number(number) if number.is_f64() => *value = Value::String(number.to_string()),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| make_portable(item, depth + 1)),
        Value::Object(members) => members
            .values_mut()
            .for_each(|item| make_portable(item, depth + 1)),
        _ => {}
    }
}

/// A recorded event: its place in the ledger and its link to the one before.
///
/// JSON form (see `FORMAT.md`): one flat object with the fields `sequence`,
/// `time`, the [`Event`] fields, `prev_hash` and `leaf_hash` (lowercase hex).
/// Absent options are omitted when written and may be omitted or `null` when
/// read. Reading checks `leaf_hash` when present and fails if it does not
/// match the contents; read an [`EntryLine`] to keep a mismatching hash instead.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// 0-based position in the ledger; equals its Merkle leaf index.
    pub sequence: u64,
    /// When the ledger recorded it.
    pub time: Timestamp,
    /// Leaf hash of entry `sequence - 1`; [`GENESIS_PREV_HASH`] for sequence 0.
    pub prev_hash: Hash,
    /// What happened.
    pub event: Event,
}

impl Entry {
    /// The canonical, versioned byte encoding (version 1, see `FORMAT.md`).
    ///
    /// Lengths are 32-bit: a string of 4 GiB or more, or more than 2^32 - 1
    /// policies, cannot be encoded faithfully and must be refused before recording.
    pub fn encode(&self) -> Vec<u8> {
        let event = &self.event;
        EncodingView {
            sequence: self.sequence,
            time: self.time,
            kind: &event.kind,
            before_policies: [
                event.actor.as_deref(),
                event.subject.as_deref(),
                event.patient.as_deref(),
                event.action.as_deref(),
                event.resource.as_deref(),
                event.outcome.as_deref(),
            ],
            policies: event.policies.iter().map(String::as_str),
            after_policies: [
                event.request_id.as_deref(),
                event.decision_id.as_deref(),
                event.source_ip.as_deref(),
                event.user_agent.as_deref(),
            ],
            details: Details::Value(&event.details),
            prev_hash: &self.prev_hash,
        }
        .encode()
    }

    /// The Merkle leaf hash: `merkle::leaf_hash(&self.encode())`.
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.encode())
    }
}

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace,
/// strings and numbers exactly as serde_json writes them.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    encoding::write_canonical(value, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(super) fn full_entry() -> Entry {
        Entry {
            sequence: 7,
            time: Timestamp(1_795_464_902_123_456),
            prev_hash: [0xab; 32],
            event: Event {
                kind: "decision".into(),
                actor: Some("client:cl_ward7".into()),
                subject: Some("staff:n-1".into()),
                patient: Some("patient:p-42".into()),
                action: Some("read".into()),
                resource: Some("record:r-9".into()),
                outcome: Some("permit".into()),
                policies: vec!["p-1".into(), "p-2".into()],
                request_id: Some("req-1".into()),
                decision_id: Some("dec-1".into()),
                source_ip: Some("10.0.0.7".into()),
                user_agent: Some("ward-app/2.1".into()),
                details: json!({"zeta": 1, "alpha": {"b": [true, null, 2.5], "a": "Zoë"}}),
            },
        }
    }

    pub(super) fn minimal_entry() -> Entry {
        Entry {
            sequence: 0,
            time: Timestamp(0),
            prev_hash: GENESIS_PREV_HASH,
            event: Event {
                kind: "system.start".into(),
                ..Event::default()
            },
        }
    }

    #[test]
    fn minimal_encoding_is_laid_out_field_by_field() {
        let mut expected = vec![1];
        expected.extend(0u64.to_be_bytes());
        expected.extend(0i64.to_be_bytes());
        expected.extend(12u32.to_be_bytes());
        expected.extend(b"system.start");
        expected.extend([0; 6]);
        expected.extend(0u32.to_be_bytes());
        expected.extend([0; 4]);
        expected.extend(4u32.to_be_bytes());
        expected.extend(b"null");
        expected.extend([0; 32]);
        assert_eq!(minimal_entry().encode(), expected);
        assert_eq!(
            minimal_entry().leaf_hash(),
            merkle::leaf_hash(&minimal_entry().encode())
        );
    }

    #[test]
    fn every_field_changes_the_leaf_hash() {
        let base = full_entry();
        let mut variants = Vec::new();
        let mut push = |change: &dyn Fn(&mut Entry)| {
            let mut entry = base.clone();
            change(&mut entry);
            variants.push(entry.leaf_hash());
        };
        push(&|e| e.sequence += 1);
        push(&|e| e.time.0 += 1);
        push(&|e| e.prev_hash[31] ^= 1);
        push(&|e| e.event.kind.push('x'));
        push(&|e| e.event.actor = None);
        push(&|e| e.event.subject = Some(String::new()));
        push(&|e| e.event.patient = Some("patient:p-43".into()));
        push(&|e| e.event.action = Some("write".into()));
        push(&|e| e.event.resource = None);
        push(&|e| e.event.outcome = Some("deny".into()));
        push(&|e| e.event.policies.truncate(1));
        push(&|e| e.event.request_id = None);
        push(&|e| e.event.decision_id = Some("dec-2".into()));
        push(&|e| e.event.source_ip = None);
        push(&|e| e.event.user_agent = None);
        push(&|e| e.event.details["zeta"] = json!(2));
        let mut all = variants.clone();
        all.push(base.leaf_hash());
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), variants.len() + 1);
    }

    #[test]
    fn moving_text_between_fields_changes_the_encoding() {
        let mut a = minimal_entry();
        a.event.actor = Some("x".into());
        let mut b = minimal_entry();
        b.event.subject = Some("x".into());
        assert_ne!(a.encode(), b.encode());
        let mut c = minimal_entry();
        c.event.policies = vec!["ab".into()];
        let mut d = minimal_entry();
        d.event.policies = vec!["a".into(), "b".into()];
        assert_ne!(c.encode(), d.encode());
    }

    #[test]
    fn recordable_events_keep_every_detail_in_a_form_that_round_trips() {
        let round_trips = |event: &Event| {
            let text = canonical_json(&event.details);
            let back: Value = serde_json::from_str(&text).unwrap();
            canonical_json(&back) == text
        };
        let mut event = full_entry().event;
        event.details = json!({"latency": 25.176467000000002, "ok": [1, -2, u64::MAX, null, true]});
        let recordable = event.into_recordable().unwrap();
        assert_eq!(recordable.details["latency"], "25.176467000000002");
        assert_eq!(recordable.details["ok"][2], u64::MAX);
        assert!(round_trips(&recordable));
        let mut deep = json!(1.5);
        for _ in 0..MAX_DETAILS_DEPTH + 10 {
            deep = json!([deep]);
        }
        let mut event = minimal_entry().event;
        event.details = deep;
        let recordable = event.into_recordable().unwrap();
        assert!(round_trips(&recordable));
        assert!(canonical_json(&recordable.details).contains("1.5"));
    }

    #[test]
    fn timestamps_serialize_as_rfc3339_strings() {
        let time = Timestamp::from_unix_micros(1_795_464_902_123_456);
        assert_eq!(time.unix_micros(), 1_795_464_902_123_456);
        assert_eq!(
            serde_json::to_string(&time).unwrap(),
            r#""2026-11-23T20:15:02.123456Z""#
        );
        assert_eq!(
            serde_json::from_str::<Timestamp>(r#""2026-11-23T20:15:02.123456Z""#).unwrap(),
            time
        );
        assert!(serde_json::from_str::<Timestamp>(r#""yesterday""#).is_err());
        assert!(serde_json::from_str::<Timestamp>("12").is_err());
        assert!(Timestamp::now() > Timestamp(1_700_000_000_000_000));
        assert!(
            Timestamp::parse_rfc3339(&"9".repeat(10_000))
                .unwrap_err()
                .to_string()
                .len()
                < 200
        );
    }
}
