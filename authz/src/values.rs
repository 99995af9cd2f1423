//! Cedar values straight from JSON, without a round trip through Cedar's JSON parser.
//!
//! Accepts the forms of Cedar's JSON value format: strings, booleans, integers,
//! arrays (sets), records, `{"__entity": {"type", "id"}}` or `{"type", "id"}` entity
//! references and `{"__extn": {"fn", "arg"}}` extension values. Only extension
//! values go through Cedar's evaluator (to parse a datetime, an address…); type
//! conformance is checked by Cedar afterwards, against the schema.

use cedar_policy::{EntityId, EntityUid, RestrictedExpression};
use cedar_policy_core::ast::{EntityUID, Literal, Value as CedarValue, ValueKind};
use cedar_policy_core::evaluator::RestrictedEvaluator;
use cedar_policy_core::extensions::Extensions;
use serde_json::{Map, Value};
use smol_str::SmolStr;

use crate::bundle::PolicyBundle;

/// Converts a JSON value to a Cedar value; `path` names it in errors. The
/// `{type, id}` shorthand for references takes the bundle's namespace.
pub(crate) fn to_value(
    value: &Value,
    path: &str,
    bundle: &PolicyBundle,
) -> Result<CedarValue, String> {
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
                .map(|(i, v)| to_value(v, &format!("{path}[{i}]"), bundle));
            Ok(CedarValue::set(items.collect::<Result<Vec<_>, _>>()?, None))
        }
        Value::Object(map) => object_to_value(map, path, bundle),
        Value::Null => Err(format!(
            "`{path}` is null; leave an optional attribute out instead"
        )),
    }
}

/// The fields of a JSON record as Cedar attribute values.
pub(crate) fn to_fields<'a>(
    fields: impl IntoIterator<Item = (&'a String, &'a Value)>,
    bundle: &PolicyBundle,
) -> Result<Vec<(SmolStr, CedarValue)>, String> {
    fields
        .into_iter()
        .map(|(k, v)| Ok((SmolStr::from(k.as_str()), to_value(v, k, bundle)?)))
        .collect()
}

/// Entity uids named anywhere in converted values.
pub(crate) fn references_of<'a>(
    values: impl IntoIterator<Item = &'a CedarValue>,
) -> Vec<EntityUid> {
    let mut found = Vec::new();
    values.into_iter().for_each(|v| collect_uids(v, &mut found));
    found
}

fn collect_uids(value: &CedarValue, found: &mut Vec<EntityUid>) {
    match value.value_kind() {
        ValueKind::Lit(Literal::EntityUID(uid)) => {
            found.push(EntityUid::from(EntityUID::clone(uid)))
        }
        ValueKind::Set(set) => set.iter().for_each(|v| collect_uids(v, found)),
        ValueKind::Record(fields) => fields.values().for_each(|v| collect_uids(v, found)),
        ValueKind::Lit(_) | ValueKind::ExtensionValue(_) => {}
    }
}

/// Entity uids named anywhere in JSON values, qualified as [`to_value`] qualifies them.
pub(crate) fn references_in<'a>(
    values: impl IntoIterator<Item = &'a Value>,
    bundle: &PolicyBundle,
) -> Vec<EntityUid> {
    let mut found = Vec::new();
    values
        .into_iter()
        .for_each(|v| collect_references(v, bundle, &mut found));
    found
}

fn collect_references(value: &Value, bundle: &PolicyBundle, found: &mut Vec<EntityUid>) {
    match value {
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_references(v, bundle, found)),
        Value::Object(map) if !map.contains_key("__extn") => match entity_reference(map, bundle) {
            Some(uid) => found.extend(uid.ok()),
            None => map
                .values()
                .for_each(|v| collect_references(v, bundle, found)),
        },
        _ => {}
    }
}

fn object_to_value(
    map: &Map<String, Value>,
    path: &str,
    bundle: &PolicyBundle,
) -> Result<CedarValue, String> {
    if let Some(Value::Object(extension)) = map.get("__extn") {
        return extension_to_value(extension, path);
    }
    if let Some(uid) = entity_reference(map, bundle) {
        return Ok(CedarValue::from(EntityUID::from(uid?)));
    }
    let fields = map.iter().map(|(k, v)| {
        Ok((
            SmolStr::from(k.as_str()),
            to_value(v, &format!("{path}.{k}"), bundle)?,
        ))
    });
    Ok(CedarValue::record(
        fields.collect::<Result<Vec<_>, String>>()?,
        None,
    ))
}

/// An entity reference: `{"__entity": {"type", "id"}}` with a qualified type, or the
/// `{type, id}` shorthand whose type may be unqualified.
fn entity_reference(
    map: &Map<String, Value>,
    bundle: &PolicyBundle,
) -> Option<Result<EntityUid, String>> {
    let (inner, shorthand) = match map.get("__entity") {
        Some(Value::Object(inner)) => (inner, false),
        _ if map.len() == 2 => (map, true),
        _ => return None,
    };
    let kind = inner.get("type")?.as_str()?;
    let id = inner.get("id")?.as_str()?;
    let ty = if shorthand {
        bundle.entity_type(kind)
    } else {
        bundle.written_type(kind)
    };
    Some(ty.map(|ty| EntityUid::from_type_name_and_id(ty, EntityId::new(id))))
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
    use crate::{BundleOptions, BundleSource, PolicyFile};
    use serde_json::json;

    fn bundle() -> PolicyBundle {
        PolicyBundle::compile(BundleSource {
            schema: "namespace Hms { entity Patient; }".into(),
            policies: vec![PolicyFile {
                name: "p.cedar".into(),
                text: "@id(\"p\") permit (principal, action, resource);".into(),
            }],
            options: BundleOptions {
                namespace: Some("Hms".into()),
                ..BundleOptions::default()
            },
        })
        .unwrap()
    }

    #[test]
    fn json_forms_convert_or_explain() {
        let bundle = bundle();
        let convert = |v: Value| to_value(&v, "v", &bundle);
        for ok in [
            json!("x"),
            json!(true),
            json!(3),
            json!(["a", "b"]),
            json!({"a": {"b": 1}}),
            json!({"type": "Patient", "id": "p1"}),
            json!({"__entity": {"type": "Hms::Patient", "id": "p1"}}),
            json!({"__extn": {"fn": "datetime", "arg": "2026-01-01T00:00:00Z"}}),
        ] {
            assert!(convert(ok.clone()).is_ok(), "{ok}");
        }
        assert!(convert(json!(1.5)).unwrap_err().contains("64-bit"));
        assert!(convert(json!(null)).unwrap_err().contains("null"));
        assert!(
            convert(json!({"__extn": {"fn": "nope", "arg": "x"}}))
                .unwrap_err()
                .contains("nope")
        );
        assert!(convert(json!({"__extn": {"fn": "datetime", "arg": "yesterday"}})).is_err());
        assert!(convert(json!({"__entity": {"type": "not a type", "id": "x"}})).is_err());
    }

    #[test]
    fn shorthand_references_take_the_namespace() {
        let bundle = bundle();
        let value = json!({"p": {"type": "Patient", "id": "p1"}, "q": [{"__entity": {"type": "Hms::Patient", "id": "p2"}}]});
        let found: Vec<String> = references_in([&value], &bundle)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            vec![r#"Hms::Patient::"p1""#, r#"Hms::Patient::"p2""#]
        );
    }
}
