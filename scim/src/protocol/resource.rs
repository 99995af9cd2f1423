//! Resource documents: checking and normalising what clients send against the
//! schema, flattening a document into search-index rows, and projecting
//! `attributes`/`excludedAttributes` on the way out.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::{AttrRef, comparison_key, split_urn};
use super::schema::{
    AttrDef, AttrType, COMMON_ATTRIBUTES, ENTERPRISE_ATTRIBUTES, ENTERPRISE_SCHEMA, Mutability,
    Namespace, ResourceType, Returned,
};

/// One row of the search index: attribute key, element number, comparison key.
pub type IndexRow = (String, i64, String);

/// Checks a client's document (POST or PUT body) and returns it in canonical
/// form: canonical attribute names, typed values, `schemas` set, read-only and
/// write-only attributes dropped. Unknown attributes and wrong types are refused.
pub fn normalise(resource: ResourceType, input: Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(input) = input else {
        return Err(ScimError::invalid_syntax("a resource is a JSON object"));
    };
    check_schemas(resource, input.get("schemas"))?;
    let mut doc = Map::new();
    for (key, value) in input {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if resource
            .extensions()
            .iter()
            .any(|e| e.eq_ignore_ascii_case(&key))
        {
            let Value::Object(extension) = value else {
                return Err(ScimError::invalid_value(format!("`{key}` holds an object")));
            };
            for (name, value) in extension {
                set_attribute(resource, &mut doc, Some(ENTERPRISE_SCHEMA), &name, value)?;
            }
            continue;
        }
        let (urn, name) = split_urn(&key);
        set_attribute(resource, &mut doc, urn, name, value)?;
    }
    finish(resource, &mut doc)?;
    Ok(doc)
}

/// Completes a document after it was built or patched: `schemas`, empty
/// containers removed, required attributes present.
pub fn finish(resource: ResourceType, doc: &mut Map<String, Value>) -> Result<(), ScimError> {
    if let Some(Value::Object(extension)) = doc.get_mut(ENTERPRISE_SCHEMA) {
        extension.retain(|_, v| !v.is_null());
    }
    doc.retain(|_, v| !is_empty(v));
    let mut schemas = vec![Value::from(resource.schema())];
    if doc.contains_key(ENTERPRISE_SCHEMA) {
        schemas.push(Value::from(ENTERPRISE_SCHEMA));
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    for attr in resource.attributes().iter().filter(|a| a.required) {
        match doc.get(attr.name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "`{}` is required",
                    attr.name
                )));
            }
        }
    }
    Ok(())
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.values().all(is_empty),
        _ => false,
    }
}

fn check_schemas(resource: ResourceType, schemas: Option<&Value>) -> Result<(), ScimError> {
    let Some(schemas) = schemas else {
        return Ok(());
    };
    let Value::Array(schemas) = schemas else {
        return Err(ScimError::invalid_syntax("`schemas` is an array of URNs"));
    };
    for schema in schemas {
        let known = schema.as_str().is_some_and(|s| {
            s.eq_ignore_ascii_case(resource.schema())
                || resource
                    .extensions()
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(s))
        });
        if !known {
            return Err(ScimError::invalid_syntax(format!(
                "schema {schema} is not served for {}",
                resource.name()
            )));
        }
    }
    Ok(())
}

fn set_attribute(
    resource: ResourceType,
    doc: &mut Map<String, Value>,
    urn: Option<&str>,
    name: &str,
    value: Value,
) -> Result<(), ScimError> {
    let attr =
        AttrRef::resolve(resource, &qualified(urn, name)).map_err(ScimError::invalid_value)?;
    if attr.sub.is_some() {
        return Err(ScimError::invalid_value(format!(
            "`{name}` is a sub-attribute path; send it inside its attribute"
        )));
    }
    if matches!(
        attr.attr.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    ) {
        // RFC 7644 §3.3: read-only values sent by clients are ignored; the
        // password is accepted and discarded, never stored.
        return Ok(());
    }
    let value = coerce(attr.attr, value, &attr.key())?;
    if let Some(container) = attr.container(doc, true) {
        container.insert(attr.attr.name.into(), value);
    }
    Ok(())
}

fn qualified(urn: Option<&str>, name: &str) -> String {
    match urn {
        Some(urn) => format!("{urn}:{name}"),
        None => name.to_owned(),
    }
}

/// A value checked and converted to the attribute's type: multi-valued
/// attributes as arrays, complex ones as objects of known sub-attributes,
/// booleans from `true`/`"False"`, strings trimmed of nothing. `null` stays `null` (unassigned).
pub fn coerce(def: &AttrDef, value: Value, path: &str) -> Result<Value, ScimError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if def.multi_valued {
        let items = match value {
            Value::Array(items) => items,
            single => vec![single],
        };
        let items = items
            .into_iter()
            .map(|item| coerce_single(def, item, path))
            .filter(|item| !matches!(item, Ok(Value::Null)))
            .collect::<Result<Vec<_>, _>>()?;
        check_one_primary(&items, path)?;
        return Ok(Value::Array(items));
    }
    coerce_single(def, value, path)
}

/// One value (one element, for multi-valued attributes).
pub fn coerce_single(def: &AttrDef, value: Value, path: &str) -> Result<Value, ScimError> {
    let wrong = |value: &Value| {
        ScimError::invalid_value(format!(
            "`{path}` expects {} but got {value}",
            expected(def)
        ))
    };
    match (def.kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (AttrType::Boolean, Value::Bool(b)) => Ok(Value::Bool(b)),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Value::Bool(true))
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Value::Bool(false))
        }
        (AttrType::String | AttrType::Reference, Value::String(s)) => {
            check_text(&s, path)?;
            Ok(Value::String(s))
        }
        (AttrType::DateTime, Value::String(s)) => comparison_key(def, &Value::String(s.clone()))
            .map(Value::String)
            .ok_or_else(|| wrong(&Value::String(s))),
        // Entra ID sends the manager as a bare id.
        (AttrType::Complex, Value::String(s)) if def.sub("value").is_some() => {
            let mut object = Map::new();
            object.insert("value".into(), Value::String(s));
            Ok(Value::Object(object))
        }
        (AttrType::Complex, Value::Object(object)) => coerce_object(def, object, path),
        (_, other) => Err(wrong(&other)),
    }
}

fn coerce_object(
    def: &AttrDef,
    object: Map<String, Value>,
    path: &str,
) -> Result<Value, ScimError> {
    let mut out = Map::new();
    for (name, value) in object {
        let sub = def.sub(&name).ok_or_else(|| {
            ScimError::invalid_value(format!("`{name}` is not a sub-attribute of `{path}`"))
        })?;
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let value = coerce_single(sub, value, &format!("{path}.{}", sub.name))?;
        if !value.is_null() {
            out.insert(sub.name.into(), value);
        }
    }
    Ok(Value::Object(out))
}

fn expected(def: &AttrDef) -> &'static str {
    match def.kind {
        AttrType::String => "a string",
        AttrType::Boolean => "a boolean",
        AttrType::DateTime => "an RFC 3339 date-time",
        AttrType::Reference => "a reference string",
        AttrType::Complex => "an object",
    }
}

fn check_text(text: &str, path: &str) -> Result<(), ScimError> {
    if text.len() > 1024 || text.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(format!(
            "`{path}` is at most 1024 bytes of printable text"
        )));
    }
    if path == "emails.value" && (!text.contains('@') || text.chars().any(char::is_whitespace)) {
        return Err(ScimError::invalid_value(format!(
            "`{text}` is not an email address"
        )));
    }
    Ok(())
}

fn check_one_primary(items: &[Value], path: &str) -> Result<(), ScimError> {
    let primaries = items
        .iter()
        .filter(|i| i.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one `{path}` value is primary"
        )));
    }
    Ok(())
}

/// The search-index rows of a document: one per leaf value, plus a marker row
/// (empty key) for each complex value so that `pr` and `attr[…]` can find it.
pub fn index_rows(resource: ResourceType, doc: &Map<String, Value>) -> Vec<IndexRow> {
    let mut rows = Vec::new();
    let core = resource.attributes().iter().chain(COMMON_ATTRIBUTES.iter());
    let attrs = core.map(|a| (Namespace::Core, a)).chain(
        ENTERPRISE_ATTRIBUTES
            .iter()
            .map(|a| (Namespace::Enterprise, a)),
    );
    for (namespace, attr) in attrs {
        let reference = AttrRef {
            namespace,
            attr,
            sub: None,
        };
        if attr.returned == Returned::Never || attr.name == "groups" {
            continue;
        }
        let Some(value) = reference.get(doc) else {
            continue;
        };
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for (elem, item) in (0i64..).zip(items) {
            index_value(&reference, elem, item, &mut rows);
        }
    }
    rows
}

fn index_value(reference: &AttrRef, elem: i64, value: &Value, rows: &mut Vec<IndexRow>) {
    let attr = reference.attr;
    if attr.kind != AttrType::Complex {
        // Empty strings are not values (`pr` is false for them).
        if let Some(key) = comparison_key(attr, value).filter(|k| !k.is_empty()) {
            rows.push((reference.key(), elem, key));
        }
        return;
    }
    let subs: Vec<IndexRow> = attr
        .sub_attributes
        .iter()
        .filter_map(|sub| {
            let key = value.get(sub.name).and_then(|v| comparison_key(sub, v))?;
            let sub_ref = AttrRef {
                sub: Some(sub),
                ..*reference
            };
            (!key.is_empty()).then(|| (sub_ref.key(), elem, key))
        })
        .collect();
    if !subs.is_empty() {
        // The element's marker, for `pr` and `attr[…]`.
        rows.push((reference.key(), elem, String::new()));
        rows.extend(subs);
    }
}

/// Which attributes a response carries (RFC 7644 §3.9).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// Only these (plus those always returned), when given.
    pub attributes: Option<Vec<AttrRef>>,
    /// All but these.
    pub excluded: Vec<AttrRef>,
}

impl Projection {
    /// Parses comma-separated `attributes` and `excludedAttributes` values.
    pub fn parse(
        resource: ResourceType,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        let list = |text: &str| -> Result<Vec<AttrRef>, ScimError> {
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|path| AttrRef::resolve(resource, path).map_err(ScimError::invalid_value))
                .collect()
        };
        Ok(Self {
            attributes: attributes.map(list).transpose()?,
            excluded: excluded.map(list).transpose()?.unwrap_or_default(),
        })
    }

    /// Whether `attr` is returned at all.
    pub fn includes(&self, attr: &AttrDef) -> bool {
        if attr.returned == Returned::Always {
            return true;
        }
        let named = |refs: &[AttrRef]| refs.iter().any(|r| std::ptr::eq(r.attr, attr));
        let wanted = self.attributes.as_deref().is_none_or(named);
        let whole_excluded = self
            .excluded
            .iter()
            .any(|r| std::ptr::eq(r.attr, attr) && r.sub.is_none());
        wanted && !whole_excluded
    }

    /// The document as this projection returns it.
    pub fn apply(&self, resource: ResourceType, doc: &Map<String, Value>) -> Map<String, Value> {
        let mut out = doc.clone();
        if let Some(wanted) = &self.attributes {
            keep_only(resource, &mut out, Namespace::Core, wanted);
            keep_only(resource, &mut out, Namespace::Enterprise, wanted);
        }
        for excluded in &self.excluded {
            if excluded.attr.returned != Returned::Always {
                remove(&mut out, excluded);
            }
        }
        if matches!(out.get(ENTERPRISE_SCHEMA), Some(Value::Object(e)) if e.is_empty()) {
            out.remove(ENTERPRISE_SCHEMA);
        }
        if !out.contains_key(ENTERPRISE_SCHEMA)
            && let Some(Value::Array(schemas)) = out.get_mut("schemas")
        {
            schemas.retain(|s| s != ENTERPRISE_SCHEMA);
        }
        out
    }
}

/// Keeps in one namespace only what `wanted` names (and what is always
/// returned); where only sub-attributes are named, only those sub-attributes.
fn keep_only(
    resource: ResourceType,
    doc: &mut Map<String, Value>,
    namespace: Namespace,
    wanted: &[AttrRef],
) {
    let (container, urn) = match namespace {
        Namespace::Core => (Some(doc), None),
        Namespace::Enterprise => (
            doc.get_mut(ENTERPRISE_SCHEMA)
                .and_then(Value::as_object_mut),
            Some(ENTERPRISE_SCHEMA),
        ),
    };
    let Some(container) = container else {
        return;
    };
    container.retain(|name, value| {
        if name == "schemas" || name == ENTERPRISE_SCHEMA {
            return true;
        }
        let Some((_, attr)) = resource.attribute(urn, name) else {
            return false;
        };
        if attr.returned == Returned::Always {
            return true;
        }
        let picks: Vec<&AttrRef> = wanted
            .iter()
            .filter(|w| std::ptr::eq(w.attr, attr))
            .collect();
        if picks.is_empty() {
            return false;
        }
        if picks.iter().all(|w| w.sub.is_some()) {
            let subs: Vec<&str> = picks.iter().filter_map(|w| w.sub.map(|s| s.name)).collect();
            keep_subs(value, &subs);
        }
        true
    });
}

fn keep_subs(value: &mut Value, subs: &[&str]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|i| keep_subs(i, subs)),
        Value::Object(map) => map.retain(|k, _| subs.contains(&k.as_str())),
        _ => {}
    }
}

fn remove(doc: &mut Map<String, Value>, excluded: &AttrRef) {
    let Some(container) = excluded.container(doc, false) else {
        return;
    };
    let Some(sub) = excluded.sub else {
        container.remove(excluded.attr.name);
        return;
    };
    match container.get_mut(excluded.attr.name) {
        Some(Value::Array(items)) => {
            for item in items {
                if let Value::Object(map) = item {
                    map.remove(sub.name);
                }
            }
        }
        Some(Value::Object(map)) => {
            map.remove(sub.name);
        }
        _ => {}
    }
}
