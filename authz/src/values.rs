//! Cedar values straight from JSON, without a round trip through Cedar's JSON parser.
//!
//! Accepts the forms of Cedar's JSON value format: strings, booleans, integers,
//! arrays (sets), records, `{"__entity": {"type", "id"}}` or `{"type", "id"}` entity
//! references and `{"__extn": {"fn", "arg"}}` extension values. Only extension
//! values go through Cedar's evaluator (to parse a datetime, an address…); type
//! conformance is checked by Cedar afterwards, against the schema.

use cedar_policy::{EntityId, EntityUid, RestrictedExpression};
use cedar_policy_core::ast::{EntityUID, Value as CedarValue};
use cedar_policy_core::evaluator::RestrictedEvaluator;
use cedar_policy_core::extensions::Extensions;
use serde_json::{Map, Value};
use smol_str::SmolStr;

/// Converts a JSON value to a Cedar value; `path` names it in errors.
pub(crate) fn to_value(value: &Value, path: &str) -> Result<CedarValue, String> {
    match value {
        Value::String(s) => Ok(CedarValue::from(SmolStr::from(s.as_str()))),
        Value::Bool(b) => Ok(CedarValue::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(CedarValue::from)
            .ok_or_else(|| format!("`{path}` is `{n}`, but Cedar numbers are 64-bit integers")),
        Value::Array(items) => {
            let items = items
                .iter()
                .enumerate()
                .map(|(i, v)| to_value(v, &format!("{path}[{i}]")));
            Ok(CedarValue::set(items.collect::<Result<Vec<_>, _>>()?, None))
        }
        Value::Object(map) => object_to_value(map, path),
        Value::Null => Err(format!(
            "`{path}` is null; leave an optional attribute out instead"
        )),
    }
}

/// The fields of a JSON record as Cedar attribute values.
pub(crate) fn to_fields<'a>(
    fields: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> Result<Vec<(SmolStr, CedarValue)>, String> {
    fields
        .into_iter()
        .map(|(k, v)| Ok((SmolStr::from(k.as_str()), to_value(v, k)?)))
        .collect()
}

fn object_to_value(map: &Map<String, Value>, path: &str) -> Result<CedarValue, String> {
    if let Some(Value::Object(extension)) = map.get("__extn") {
        return extension_to_value(extension, path);
    }
    if let Some(uid) = entity_reference(map) {
        return Ok(CedarValue::from(EntityUID::from(uid?)));
    }
    let fields = map.iter().map(|(k, v)| {
        Ok((
            SmolStr::from(k.as_str()),
            to_value(v, &format!("{path}.{k}"))?,
        ))
    });
    Ok(CedarValue::record(
        fields.collect::<Result<Vec<_>, String>>()?,
        None,
    ))
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

fn extension_to_value(extension: &Map<String, Value>, path: &str) -> Result<CedarValue, String> {
    let function = extension
        .get("fn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let argument = extension
        .get("arg")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{path}`: an extension value needs a string `arg`"))?;
    let expression = match function {
        "ip" | "ipaddr" => RestrictedExpression::new_ip(argument),
        "decimal" => RestrictedExpression::new_decimal(argument),
        "datetime" => RestrictedExpression::new_datetime(argument),
        "duration" => RestrictedExpression::new_duration(argument),
        other => return Err(format!("`{path}`: unknown extension function `{other}`")),
    };
    evaluate(&expression).map_err(|e| format!("`{path}`: {e}"))
}

/// Evaluates a restricted expression (an extension constructor) to its value.
pub(crate) fn evaluate(expression: &RestrictedExpression) -> Result<CedarValue, String> {
    RestrictedEvaluator::new(Extensions::all_available())
        .interpret(expression.as_ref().as_borrowed())
        .map_err(|e| e.to_string())
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
            assert!(to_value(&ok, "v").is_ok(), "{ok}");
        }
        assert!(to_value(&json!(1.5), "v").unwrap_err().contains("64-bit"));
        assert!(to_value(&json!(null), "v").unwrap_err().contains("null"));
        assert!(
            to_value(&json!({"__extn": {"fn": "nope", "arg": "x"}}), "v")
                .unwrap_err()
                .contains("nope")
        );
        assert!(
            to_value(
                &json!({"__extn": {"fn": "datetime", "arg": "yesterday"}}),
                "v"
            )
            .is_err()
        );
        assert!(to_value(&json!({"type": "not a type", "id": "x"}), "v").is_err());
    }
}
