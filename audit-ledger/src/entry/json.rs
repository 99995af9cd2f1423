//! The JSON form of an entry: one flat object, written with its leaf hash and
//! read strictly and without copying more than the owned result needs.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::canonical::CanonicalJson;
use super::encoding::{Details, EncodingView};
use super::{Entry, Event, Timestamp};
use crate::merkle::{self, Hash};

/// A hash written as 64 lowercase hexadecimal digits.
pub(crate) struct HexHash(pub(crate) Hash);

impl Serialize for HexHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for HexHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(HexHashVisitor)
    }
}

struct HexHashVisitor;

impl Visitor<'_> for HexHashVisitor {
    type Value = HexHash;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("64 lowercase hexadecimal digits")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<HexHash, E> {
        decode_hash(text)
            .map(HexHash)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

/// Decodes exactly 64 lowercase hexadecimal digits.
fn decode_hash(text: &str) -> Option<Hash> {
    let (pairs, rest) = text.as_bytes().as_chunks::<2>();
    if pairs.len() != 32 || !rest.is_empty() {
        return None;
    }
    let mut hash = [0; 32];
    for (byte, [high, low]) in hash.iter_mut().zip(pairs) {
        *byte = (hex_digit(*high)? << 4) | hex_digit(*low)?;
    }
    Some(hash)
}

fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// A JSON string, borrowed from the input when it holds no escapes.
pub(crate) struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }

    fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

fn text<'s>(field: &'s Option<Text<'_>>) -> Option<&'s str> {
    field.as_ref().map(Text::as_str)
}

fn owned(text: Option<Text<'_>>) -> Option<String> {
    text.map(Text::into_owned)
}

/// The JSON object written for an entry; bundles add `"type":"entry"` first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EntryJson<'a> {
    /// `entry`, on bundle lines only.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    line_type: Option<&'static str>,
    /// Position in the ledger, from 0.
    sequence: u64,
    /// When it was appended (RFC 3339, UTC, microseconds).
    time: Timestamp,
    /// What happened, e.g. `decision`, `login`, `policy.install`.
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patient: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    /// Policies that determined a decision.
    policies: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    /// Kind-specific details.
    #[schema(value_type = serde_json::Value)]
    details: &'a Value,
    /// The previous entry's leaf hash, hex.
    #[schema(value_type = String)]
    prev_hash: HexHash,
    /// This entry's leaf hash (RFC 9162), hex.
    #[schema(value_type = String)]
    leaf_hash: HexHash,
}

impl<'a> EntryJson<'a> {
    /// The JSON fields of `entry`, led by `"type": line_type` when given.
    pub(crate) fn new(entry: &'a Entry, line_type: Option<&'static str>) -> Self {
        let event = &entry.event;
        Self {
            line_type,
            sequence: entry.sequence,
            time: entry.time,
            kind: &event.kind,
            actor: event.actor.as_deref(),
            subject: event.subject.as_deref(),
            patient: event.patient.as_deref(),
            action: event.action.as_deref(),
            resource: event.resource.as_deref(),
            outcome: event.outcome.as_deref(),
            policies: &event.policies,
            request_id: event.request_id.as_deref(),
            decision_id: event.decision_id.as_deref(),
            source_ip: event.source_ip.as_deref(),
            user_agent: event.user_agent.as_deref(),
            details: &event.details,
            prev_hash: HexHash(entry.prev_hash),
            leaf_hash: HexHash(entry.leaf_hash()),
        }
    }
}

impl utoipa::PartialSchema for Entry {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        EntryJson::schema()
    }
}

impl utoipa::ToSchema for Entry {
    fn name() -> std::borrow::Cow<'static, str> {
        "LedgerEntry".into()
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        EntryJson::new(self, None).serialize(serializer)
    }
}

/// The only `type` an entry object may carry (bundle lines do).
#[derive(Deserialize)]
enum EntryType {
    #[serde(rename = "entry")]
    Entry,
}

/// The JSON object read for an entry: a plain struct, read in one pass,
/// borrowing its strings from the input. Unknown fields are refused: nothing
/// unhashed may ride along with an entry. `details` is read as a `Value`, or
/// as [`CanonicalJson`] where only the leaf hash is wanted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryFields<'a, D = Value> {
    #[serde(rename = "type", default)]
    _line_type: Option<EntryType>,
    sequence: u64,
    time: Timestamp,
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    actor: Option<Text<'a>>,
    #[serde(borrow)]
    subject: Option<Text<'a>>,
    #[serde(borrow)]
    patient: Option<Text<'a>>,
    #[serde(borrow)]
    action: Option<Text<'a>>,
    #[serde(borrow)]
    resource: Option<Text<'a>>,
    #[serde(borrow)]
    outcome: Option<Text<'a>>,
    #[serde(borrow, default)]
    policies: Vec<Text<'a>>,
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    #[serde(borrow)]
    decision_id: Option<Text<'a>>,
    #[serde(borrow)]
    source_ip: Option<Text<'a>>,
    #[serde(borrow)]
    user_agent: Option<Text<'a>>,
    #[serde(default)]
    details: D,
    prev_hash: HexHash,
    leaf_hash: Option<HexHash>,
}

/// What an entry's `details` is read as.
pub(crate) trait AsDetails {
    /// The details, for the leaf hash.
    fn as_details(&self) -> Details<'_>;
}

impl AsDetails for Value {
    fn as_details(&self) -> Details<'_> {
        Details::Value(self)
    }
}

impl AsDetails for CanonicalJson {
    fn as_details(&self) -> Details<'_> {
        Details::Canonical(self.as_str())
    }
}

impl<D: AsDetails> EntryFields<'_, D> {
    pub(crate) fn sequence(&self) -> u64 {
        self.sequence
    }

    pub(crate) fn prev_hash(&self) -> Hash {
        self.prev_hash.0
    }

    /// The `leaf_hash` the JSON carried, unchecked.
    pub(crate) fn stored_leaf_hash(&self) -> Option<Hash> {
        self.leaf_hash.as_ref().map(|hash| hash.0)
    }

    /// The leaf hash recomputed from the fields, as [`Entry::leaf_hash`] would.
    pub(crate) fn leaf_hash(&self) -> Hash {
        let view = EncodingView {
            sequence: self.sequence,
            time: self.time,
            kind: self.kind.as_str(),
            before_policies: [
                text(&self.actor),
                text(&self.subject),
                text(&self.patient),
                text(&self.action),
                text(&self.resource),
                text(&self.outcome),
            ],
            policies: self.policies.iter().map(Text::as_str),
            after_policies: [
                text(&self.request_id),
                text(&self.decision_id),
                text(&self.source_ip),
                text(&self.user_agent),
            ],
            details: self.details.as_details(),
            prev_hash: &self.prev_hash.0,
        };
        merkle::leaf_hash(&view.encode())
    }
}

impl EntryFields<'_> {
    pub(crate) fn into_line(self) -> EntryLine {
        let event = Event {
            kind: self.kind.into_owned(),
            actor: owned(self.actor),
            subject: owned(self.subject),
            patient: owned(self.patient),
            action: owned(self.action),
            resource: owned(self.resource),
            outcome: owned(self.outcome),
            policies: self.policies.into_iter().map(Text::into_owned).collect(),
            request_id: owned(self.request_id),
            decision_id: owned(self.decision_id),
            source_ip: owned(self.source_ip),
            user_agent: owned(self.user_agent),
            details: self.details,
        };
        let entry = Entry {
            sequence: self.sequence,
            time: self.time,
            prev_hash: self.prev_hash.0,
            event,
        };
        EntryLine {
            entry,
            leaf_hash: self.leaf_hash.map(|hash| hash.0),
        }
    }
}

/// An entry read from JSON together with the `leaf_hash` the JSON carried, if
/// any, unchecked: the verifier compares it with the recomputed hash.
///
/// Reads the same object as [`Entry`] does; an optional `"type": "entry"`
/// member (as in bundle lines) is accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryLine {
    /// The entry.
    pub entry: Entry,
    /// The leaf hash written next to it, as stored (not recomputed).
    pub leaf_hash: Option<Hash>,
}

impl<'de> Deserialize<'de> for EntryLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        EntryFields::deserialize(deserializer).map(EntryFields::into_line)
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let line = EntryLine::deserialize(deserializer)?;
        match line.leaf_hash {
            Some(stored) if stored != line.entry.leaf_hash() => Err(de::Error::custom(
                "leaf_hash does not match the entry's contents",
            )),
            _ => Ok(line.entry),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::tests::{full_entry, minimal_entry};
    use super::*;

    #[test]
    fn json_is_flat_and_omits_absent_options() {
        let text = serde_json::to_string(&minimal_entry()).unwrap();
        let leaf = hex::encode(minimal_entry().leaf_hash());
        assert_eq!(
            text,
            format!(
                r#"{{"sequence":0,"time":"1970-01-01T00:00:00.000000Z","kind":"system.start","policies":[],"details":null,"prev_hash":"{}","leaf_hash":"{leaf}"}}"#,
                "0".repeat(64)
            )
        );
    }

    #[test]
    fn json_round_trips_and_checks_the_leaf_hash() {
        for entry in [full_entry(), minimal_entry()] {
            let text = serde_json::to_string(&entry).unwrap();
            assert_eq!(serde_json::from_str::<Entry>(&text).unwrap(), entry);
            assert_eq!(
                serde_json::from_reader::<_, Entry>(text.as_bytes()).unwrap(),
                entry
            );
            let line: EntryLine = serde_json::from_str(&text).unwrap();
            assert_eq!(line.leaf_hash, Some(entry.leaf_hash()));
            let altered = text.replace(r#""kind":""#, r#""kind":"x"#);
            assert!(serde_json::from_str::<Entry>(&altered).is_err());
            let line: EntryLine = serde_json::from_str(&altered).unwrap();
            assert_ne!(line.leaf_hash, Some(line.entry.leaf_hash()));
        }
    }

    #[test]
    fn borrowed_fields_hash_like_the_owned_entry() {
        let mut entry = full_entry();
        entry.event.actor = Some("needs \"escaping\"\n".into());
        let text = serde_json::to_string(&entry).unwrap();
        let fields: EntryFields<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(fields.leaf_hash(), entry.leaf_hash());
        assert_eq!(fields.stored_leaf_hash(), Some(entry.leaf_hash()));
        assert_eq!(
            (fields.sequence(), fields.prev_hash()),
            (entry.sequence, entry.prev_hash)
        );
        assert_eq!(fields.into_line().entry, entry);
    }

    #[test]
    fn json_input_may_omit_optional_fields() {
        let zeros = "0".repeat(64);
        let text = format!(
            r#"{{"type":"entry","sequence":0,"time":"1970-01-01T01:00:00+01:00","kind":"system.start","actor":null,"prev_hash":"{zeros}"}}"#
        );
        let line: EntryLine = serde_json::from_str(&text).unwrap();
        assert_eq!(line.entry, minimal_entry());
        assert_eq!(line.leaf_hash, None);
    }

    #[test]
    fn json_input_is_strict() {
        let good = serde_json::to_string(&minimal_entry()).unwrap();
        let zeros = "0".repeat(64);
        let upper = good.replace(&zeros, &"A".repeat(64));
        let short = good.replace(&zeros, &"0".repeat(62));
        let long = good.replace(&zeros, &"0".repeat(66));
        let odd = good.replace(&zeros, &"0".repeat(63));
        let extra = good.replace(r#""kind""#, r#""note":"hi","kind""#);
        let typed = good.replace(r#"{"sequence""#, r#"{"type":"checkpoint","sequence""#);
        let late = good.replace("1970-01-01T00:00:00.000000Z", "1970-01-01");
        let negative = good.replace(r#""sequence":0"#, r#""sequence":-1"#);
        let duplicate = good.replace(r#""kind""#, r#""sequence":1,"kind""#);
        let number_kind = good.replace(r#""system.start""#, "7");
        for bad in [
            upper,
            short,
            long,
            odd,
            extra,
            typed,
            late,
            negative,
            duplicate,
            number_kind,
            "[]".into(),
            "{}".into(),
        ] {
            assert!(serde_json::from_str::<EntryLine>(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_decode_only_from_lowercase_hex() {
        let hash: Hash = std::array::from_fn(|i| i as u8 * 8);
        assert_eq!(decode_hash(&hex::encode(hash)), Some(hash));
        assert_eq!(decode_hash(&hex::encode_upper(hash)), None);
        assert_eq!(decode_hash(&"g".repeat(64)), None);
        assert_eq!(decode_hash("é"), None);
    }
}
