//! Schema checks remembered by type signature.
//!
//! Whether a context or an entity conforms to the schema depends only on the
//! types of its values (and, for enumerated entity types, on their ids), never
//! on the other values. Requests of the same shape recur constantly, so once a
//! shape has passed Cedar's check, later values of that shape skip it. Shapes
//! that fail are not remembered: they are checked again and refused with
//! Cedar's own message.

use std::collections::HashSet;
use std::fmt::Write;
use std::sync::RwLock;

use serde_json::{Map, Value};

/// Distinct shapes remembered at most.
const MAX_SHAPES: usize = 8_192;

/// The shapes that passed a schema check.
#[derive(Debug, Default)]
pub(crate) struct ConformingShapes {
    known: RwLock<HashSet<String>>,
    /// With enumerated entity types, entity ids are part of a shape.
    ids_matter: bool,
}

impl ConformingShapes {
    pub(crate) fn new(ids_matter: bool) -> Self {
        Self {
            known: RwLock::default(),
            ids_matter,
        }
    }

    /// Whether a value of this shape passed before.
    pub(crate) fn contains(&self, shape: &str) -> bool {
        self.known.read().is_ok_and(|known| known.contains(shape))
    }

    /// Remembers a shape that passed.
    pub(crate) fn insert(&self, shape: String) {
        if let Ok(mut known) = self.known.write()
            && known.len() < MAX_SHAPES
        {
            known.insert(shape);
        }
    }

    /// Appends the type signature of a record's fields, in key order.
    pub(crate) fn record<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a String, &'a Value)>,
        out: &mut String,
    ) {
        let mut fields: Vec<_> = fields.into_iter().collect();
        fields.sort_by_key(|(k, _)| *k);
        out.push('{');
        for (key, value) in fields {
            let _ = write!(out, "{}:{key}=", key.len());
            self.value(value, out);
            out.push(',');
        }
        out.push('}');
    }

    /// Appends the type signature of one Cedar JSON value.
    pub(crate) fn value(&self, value: &Value, out: &mut String) {
        match value {
            Value::String(_) => out.push('s'),
            Value::Bool(_) => out.push('b'),
            Value::Number(n) if n.is_i64() => out.push('l'),
            Value::Number(n) => {
                let _ = write!(out, "n{n};");
            }
            Value::Null => out.push('0'),
            Value::Array(items) => {
                out.push('[');
                items.iter().for_each(|item| self.value(item, out));
                out.push(']');
            }
            Value::Object(map) => self.object(map, out),
        }
    }

    fn object(&self, map: &Map<String, Value>, out: &mut String) {
        if let Some(Value::Object(extension)) = map.get("__extn") {
            let function = extension
                .get("fn")
                .map(ToString::to_string)
                .unwrap_or_default();
            let _ = write!(out, "x{}:{function}", function.len());
            return;
        }
        let reference = match map.get("__entity") {
            Some(Value::Object(inner)) => Some(inner),
            _ if map.len() == 2 && map.contains_key("type") && map.contains_key("id") => Some(map),
            _ => None,
        };
        match reference {
            Some(inner) => {
                let kind = inner
                    .get("type")
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let _ = write!(out, "e{}:{kind}", kind.len());
                if self.ids_matter {
                    let id = inner.get("id").map(ToString::to_string).unwrap_or_default();
                    let _ = write!(out, "#{}:{id}", id.len());
                }
            }
            None => self.record(map, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(shapes: &ConformingShapes, value: Value) -> String {
        let mut out = String::new();
        shapes.value(&value, &mut out);
        out
    }

    #[test]
    fn shapes_keep_types_and_drop_values() {
        let shapes = ConformingShapes::new(false);
        let a =
            json!({"mfa": true, "site": "north", "patient": {"type": "Hms::Patient", "id": "p1"}});
        let b =
            json!({"site": "south", "mfa": false, "patient": {"type": "Hms::Patient", "id": "p2"}});
        assert_eq!(shape(&shapes, a.clone()), shape(&shapes, b));
        for different in [
            json!({"mfa": "yes", "site": "north", "patient": {"type": "Hms::Patient", "id": "p1"}}),
            json!({"mfa": true, "site": "north"}),
            json!({"mfa": true, "site": "north", "patient": {"type": "Hms::Staff", "id": "p1"}}),
            json!({"mfa": true, "site": 3, "patient": {"type": "Hms::Patient", "id": "p1"}}),
            json!({"mfa": true, "site": ["north"], "patient": {"type": "Hms::Patient", "id": "p1"}}),
        ] {
            assert_ne!(shape(&shapes, a.clone()), shape(&shapes, different));
        }
        assert_ne!(shape(&shapes, json!(1.5)), shape(&shapes, json!(2.5)));
        let with_ids = ConformingShapes::new(true);
        assert_ne!(
            shape(&with_ids, json!({"type": "Color", "id": "red"})),
            shape(&with_ids, json!({"type": "Color", "id": "blue"}))
        );
    }
}
