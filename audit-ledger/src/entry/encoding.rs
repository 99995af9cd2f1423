//! The canonical byte encoding of an entry (version 1) and canonical JSON.

use serde_json::Value;

use super::{ENCODING_VERSION, Timestamp};
use crate::merkle::Hash;

/// An entry's fields, borrowed, in encoding order: what both an owned
/// [`Entry`](super::Entry) and a line being verified hash.
pub(crate) struct EncodingView<'a, P> {
    pub(crate) sequence: u64,
    pub(crate) time: Timestamp,
    pub(crate) kind: &'a str,
    /// actor, subject, patient, action, resource, outcome.
    pub(crate) before_policies: [Option<&'a str>; 6],
    pub(crate) policies: P,
    /// request_id, decision_id, source_ip, user_agent.
    pub(crate) after_policies: [Option<&'a str>; 4],
    pub(crate) details: Details<'a>,
    pub(crate) prev_hash: &'a Hash,
}

/// An entry's `details` as hashed: a `Value` to write as canonical JSON, or
/// canonical JSON text already.
pub(crate) enum Details<'a> {
    Value(&'a Value),
    Canonical(&'a str),
}

impl<'a, P: ExactSizeIterator<Item = &'a str>> EncodingView<'a, P> {
    /// `u8 version | u64 sequence | i64 time | str kind | opt ×6 | u32 count +
    /// str × count policies | opt ×4 | str canonical_json(details) | prev_hash`.
    pub(crate) fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(ENCODING_VERSION);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.time.0.to_be_bytes());
        put_str(&mut out, self.kind);
        for field in self.before_policies {
            put_option(&mut out, field);
        }
        put_length(&mut out, self.policies.len());
        for policy in self.policies {
            put_str(&mut out, policy);
        }
        for field in self.after_policies {
            put_option(&mut out, field);
        }
        put_canonical_details(&mut out, self.details);
        out.extend_from_slice(self.prev_hash);
        out
    }
}

fn put_length(out: &mut Vec<u8>, length: usize) {
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_length(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn put_option(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.push(0),
        Some(text) => {
            out.push(1);
            put_str(out, text);
        }
    }
}

/// Writes canonical JSON of `details` as a `str`: its length, then the text.
fn put_canonical_details(out: &mut Vec<u8>, details: Details<'_>) {
    let length_at = out.len();
    out.extend_from_slice(&[0; 4]);
    match details {
        Details::Value(value) => write_canonical(value, out),
        Details::Canonical(text) => out.extend_from_slice(text.as_bytes()),
    }
    let length = u32::try_from(out.len() - length_at - 4).unwrap_or(u32::MAX);
    if let Some(slot) = out.get_mut(length_at..length_at + 4) {
        slot.copy_from_slice(&length.to_be_bytes());
    }
}

/// Where canonical JSON is written: a `String`, or encoding bytes.
pub(crate) trait TextSink {
    fn push_text(&mut self, text: &str);
}

impl TextSink for String {
    fn push_text(&mut self, text: &str) {
        self.push_str(text);
    }
}

impl TextSink for Vec<u8> {
    fn push_text(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
}

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace,
/// strings and numbers exactly as serde_json writes them.
pub(crate) fn write_canonical(value: &Value, out: &mut impl TextSink) {
    match value {
        Value::Null => out.push_text("null"),
        Value::Bool(true) => out.push_text("true"),
        Value::Bool(false) => out.push_text("false"),
        Value::Number(number) => out.push_text(&number.to_string()),
        Value::String(text) => write_json_string(text, out),
        Value::Array(items) => {
            out.push_text("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_text(",");
                }
                write_canonical(item, out);
            }
            out.push_text("]");
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push_text("{");
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push_text(",");
                }
                write_json_string(key, out);
                out.push_text(":");
                write_canonical(item, out);
            }
            out.push_text("}");
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A JSON string as serde_json escapes it: `"`, `\` and control characters
/// only (`\b \t \n \f \r`, others as `\u00xx`); everything else verbatim.
pub(crate) fn write_json_string(text: &str, out: &mut impl TextSink) {
    out.push_text("\"");
    let mut unescaped_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_text(text.get(unescaped_from..at).unwrap_or_default());
        unescaped_from = at + 1;
        if escape.is_empty() {
            let high = char::from(HEX_DIGITS[usize::from(byte >> 4)]);
            let low = char::from(HEX_DIGITS[usize::from(byte & 0xf)]);
            out.push_text(&format!("\\u00{high}{low}"));
        } else {
            out.push_text(escape);
        }
    }
    out.push_text(text.get(unescaped_from..).unwrap_or_default());
    out.push_text("\"");
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::canonical_json;
    use serde_json::{Value, json};

    #[test]
    fn canonical_json_sorts_keys_by_bytes_at_every_depth() {
        let value =
            json!({"b": {"z": 1, "a": [ {"y": null, "x": false} ]}, "a": "é", "B": 1.5, "é": -3});
        assert_eq!(
            canonical_json(&value),
            r#"{"B":1.5,"a":"é","b":{"a":[{"x":false,"y":null}],"z":1},"é":-3}"#
        );
        assert_eq!(canonical_json(&Value::Null), "null");
        assert_eq!(canonical_json(&json!([])), "[]");
        assert_eq!(canonical_json(&json!({})), "{}");
    }

    #[test]
    fn canonical_strings_and_numbers_are_written_exactly_like_serde_json() {
        let mut text: String = (0u8..0x80).map(char::from).collect();
        text.push_str("é — 東京 😀 \u{2028}");
        let value = Value::String(text);
        assert_eq!(
            canonical_json(&value),
            serde_json::to_string(&value).unwrap()
        );
        for number in [
            json!(0),
            json!(-17),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e300),
            json!(0.1),
            json!(-2.5e-8),
            json!(1.0),
        ] {
            assert_eq!(
                canonical_json(&number),
                serde_json::to_string(&number).unwrap()
            );
        }
    }
}
