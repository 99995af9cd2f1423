//! Cedar values straight from JSON, without a round trip through Cedar's JSON parser.
//!
//! Accepts the forms of Cedar's JSON value format: strings, booleans, integers,
//! arrays (sets), records, `{"__entity": {"type", "id"}}` or `{"type", "id"}` entity
//! references and `{"__extn": {"fn", "arg"}}` extension values. Type conformance is
//! checked by Cedar afterwards, against the schema.

use cedar_policy::{EntityId, EntityUid, RestrictedExpression};
use serde_json::{Map, Value};

/// Converts a JSON value to a Cedar restricted expression; `path` names it in errors.
pub(crate) fn to_cedar(value: &Value, path: &str) -> Result<RestrictedExpression, String> {
    match value {
        Value::String(s) => Ok(RestrictedExpression::new_string(s.clone())),
        Value::Bool(b) => Ok(RestrictedExpression::new_bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(RestrictedExpression::new_long)
            .ok_or_else(|| format!("`{path}` is `{n}`, but Cedar numbers are 64-bit integers")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| to_cedar(v, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(RestrictedExpression::new_set),
        Value::Object(map) => object_to_cedar(map, path),
        Value::Null => Err(format!(
            "`{path}` is null; leave an optional attribute out instead"
        )),
    }
}

fn object_to_cedar(map: &Map<String, Value>, path: &str) -> Result<RestrictedExpression, String> {
    if let Some(Value::Object(extension)) = map.get("__extn") {
        return extension_to_cedar(extension, path);
    }
    if let Some(uid) = entity_reference(map) {
        return Ok(RestrictedExpression::new_entity_uid(uid?));
    }
    let fields = map
        .iter()
        .map(|(k, v)| Ok((k.clone(), to_cedar(v, &format!("{path}.{k}"))?)))
        .collect::<Result<Vec<_>, String>>()?;
    RestrictedExpression::new_record(fields).map_err(|e| format!("`{path}`: {e}"))
}

fn entity_reference(map: &Map<String, Value>) -> Option<Result<EntityUid, String>> {
    let inner = match map.get("__entity") {
        Some(Value::Object(inner)) => inner,
        _ if map.len() == 2 => map,
        _ => return None,
    };
    let kind = inner.get("type")?.as_str()?;
    let id = inner.get("id")?.as_str()?;
    Some(
        kind.parse()
            .map(|ty| EntityUid::from_type_name_and_id(ty, EntityId::new(id)))
            .map_err(|_| format!("`{kind}` is not a valid entity type name")),
    )
}

fn extension_to_cedar(
    extension: &Map<String, Value>,
    path: &str,
) -> Result<RestrictedExpression, String> {
    let function = extension
        .get("fn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let argument = extension
        .get("arg")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{path}`: an extension value needs a string `arg`"))?;
    match function {
        "ip" | "ipaddr" => Ok(RestrictedExpression::new_ip(argument)),
        "decimal" => Ok(RestrictedExpression::new_decimal(argument)),
        "datetime" => Ok(RestrictedExpression::new_datetime(argument)),
        "duration" => Ok(RestrictedExpression::new_duration(argument)),
        other => Err(format!("`{path}`: unknown extension function `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_forms_convert_or_explain() {
        for ok in [
            json!("x"),
            json!(true),
            json!(3),
            json!(["a", "b"]),
            json!({"a": {"b": 1}}),
            json!({"type": "Hms::Patient", "id": "p1"}),
            json!({"__entity": {"type": "Hms::Patient", "id": "p1"}}),
            json!({"__extn": {"fn": "datetime", "arg": "2026-01-01T00:00:00Z"}}),
        ] {
            assert!(to_cedar(&ok, "v").is_ok(), "{ok}");
        }
        assert!(to_cedar(&json!(1.5), "v").unwrap_err().contains("64-bit"));
        assert!(to_cedar(&json!(null), "v").unwrap_err().contains("null"));
        assert!(
            to_cedar(&json!({"__extn": {"fn": "nope", "arg": "x"}}), "v")
                .unwrap_err()
                .contains("nope")
        );
        assert!(to_cedar(&json!({"type": "not a type", "id": "x"}), "v").is_err());
    }
}
