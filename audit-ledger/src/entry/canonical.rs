//! Canonical JSON written while the JSON is parsed, without building a
//! `serde_json::Value`: what the verifier hashes an entry's `details` with.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::encoding::write_json_string;

/// The key that makes serde_json read an object as the JSON text of its string
/// value (serde_json's `raw_value` feature, which this build has): `Value`
/// reads it so, and so must this, to give the same text.
const RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

/// The canonical JSON text ([`canonical_json`](super::canonical_json)) of the
/// `serde_json::Value` that the same JSON would read as; `null` by default.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CanonicalJson(String);

impl CanonicalJson {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for CanonicalJson {
    fn default() -> Self {
        Self("null".to_owned())
    }
}

impl<'de> Deserialize<'de> for CanonicalJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut text = String::new();
        Writer { out: &mut text }.deserialize(deserializer)?;
        Ok(Self(text))
    }
}

/// Writes the canonical text of the value it reads to `out`.
struct Writer<'o> {
    out: &'o mut String,
}

impl<'de> DeserializeSeed<'de> for Writer<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Writer<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.out.push_str(if value { "true" } else { "false" });
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.out.push_str(&Number::from(value).to_string());
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.out.push_str(&Number::from(value).to_string());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        match Number::from_f64(value) {
            Some(number) => self.out.push_str(&number.to_string()),
            None => self.out.push_str("null"),
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        write_json_string(value, self.out);
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.push_str("null");
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push('[');
        let mut first = true;
        loop {
            let before = self.out.len();
            if !first {
                self.out.push(',');
            }
            if seq.next_element_seed(Writer { out: self.out })?.is_none() {
                self.out.truncate(before);
                break;
            }
            first = false;
        }
        self.out.push(']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut members: Vec<(String, String)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.is_empty() && key == RAW_VALUE_KEY {
                let json: String = map.next_value()?;
                return write_raw_value(&json, self.out);
            }
            let mut value = String::new();
            map.next_value_seed(Writer { out: &mut value })?;
            members.push((key, value));
        }
        // Sorted by key bytes; of repeated keys the last value counts, as in a `Value`.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|later, earlier| {
            let repeated = later.0 == earlier.0;
            if repeated {
                std::mem::swap(later, earlier);
            }
            repeated
        });
        self.out.push('{');
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_json_string(key, self.out);
            self.out.push(':');
            self.out.push_str(value);
        }
        self.out.push('}');
        Ok(())
    }
}

/// The canonical text of the JSON held as a string under [`RAW_VALUE_KEY`].
fn write_raw_value<E: de::Error>(json: &str, out: &mut String) -> Result<(), E> {
    let inner: CanonicalJson = serde_json::from_str(json).map_err(E::custom)?;
    out.push_str(&inner.0);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::entry::canonical_json;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Both readings of `text`: through a `Value`, and streamed.
    fn both(text: &str) -> (Result<String, String>, Result<String, String>) {
        let through_value = serde_json::from_str::<Value>(text)
            .map(|value| canonical_json(&value))
            .map_err(|e| e.to_string());
        let streamed = serde_json::from_str::<CanonicalJson>(text)
            .map(|c| c.0)
            .map_err(|e| e.to_string());
        (through_value, streamed)
    }

    #[test]
    fn edge_cases_read_as_through_a_value() {
        for text in [
            "null",
            "[]",
            "{}",
            "[[],[{}],{\"a\":[]}]",
            r#"{"b":1,"a":2,"b":3}"#,
            r#"{"a":{"z":1,"a":[{"y":null,"x":false}]},"é":-3,"B":1.5,"A":"\u0001\"\\"}"#,
            "[1e400, -0, -0.0, 0.1, 1e-7, 18446744073709551615, 18446744073709551616, -9223372036854775809]",
            r#"{"$serde_json::private::RawValue":"[3,{\"b\":1,\"a\":2}]"}"#,
            r#"{"$serde_json::private::RawValue":"[3"}"#,
            r#"{"$serde_json::private::RawValue":"1","x":2}"#,
            r#"{"x":{"$serde_json::private::RawValue":"{\"d\":1,\"c\":2}"}}"#,
            r#"{"x":2,"$serde_json::private::RawValue":"1"}"#,
            r#"{"$serde_json::private::RawValue":5}"#,
            "\"\\ud83d\\ude00 \\u00e9\"",
        ] {
            let (through_value, streamed) = both(text);
            assert_eq!(
                through_value.is_ok(),
                streamed.is_ok(),
                "{text}: {through_value:?} / {streamed:?}"
            );
            if let Ok(expected) = through_value {
                assert_eq!(streamed.unwrap(), expected, "{text}");
            }
        }
    }

    fn json_values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-c\"\\\\\\u{0}-\\u{1f}é😀]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-cB$é]{0,3}", inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_reads_as_through_a_value(value in json_values(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let (through_value, streamed) = both(&text);
            prop_assert_eq!(streamed, through_value);
        }

        #[test]
        fn objects_with_repeated_keys_read_as_through_a_value(
            members in prop::collection::vec(("[ab]", any::<i8>()), 0..8)
        ) {
            let body: Vec<String> = members
                .iter()
                .map(|(key, value)| format!("{key:?}:{value}"))
                .collect();
            let text = format!("{{{}}}", body.join(","));
            let (through_value, streamed) = both(&text);
            prop_assert_eq!(streamed, through_value);
        }
    }
}
