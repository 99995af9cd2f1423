//! PATCH (RFC 7644 §3.5.2): add, replace and remove, with attribute paths,
//! value filters and path-less operations, applied all or nothing.
//!
//! Also accepted, because Microsoft Entra ID and Okta send them: `op` in any
//! case (`Replace`), booleans as strings (`"False"`), path-less values keyed by
//! dotted, URN-qualified or value-filter paths, member removal by a value array,
//! the resource's own `id` repeated in a path-less replace, and an add or
//! replace through `attr[type eq "work"].sub` that creates the element when none matches.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{CompareOp, Filter, Scope, parse_in};
use super::path::AttrRef;
use super::resource::{coerce, coerce_single};
use super::schema::{AttrType, ENTERPRISE_SCHEMA, Mutability, ResourceType};

/// Schema URN of a PATCH request.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The most operations one request may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// Add values (or set a single-valued attribute).
    Add,
    /// Replace values.
    Replace,
    /// Remove values.
    Remove,
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What it does.
    pub kind: PatchKind,
    /// Where, if anywhere.
    pub path: Option<String>,
    /// With what.
    pub value: Option<Value>,
}

/// Reads a PATCH request body.
pub fn parse_request(body: Value) -> Result<Vec<PatchOperation>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH request is a JSON object",
        ));
    };
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_SCHEMA))
            })
        });
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH request names the schema {PATCH_SCHEMA}"
        )));
    }
    let operations = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v);
    let Some(Value::Array(operations)) = operations else {
        return Err(ScimError::invalid_syntax("`Operations` is an array"));
    };
    if operations.is_empty() || operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH request has 1 to {MAX_OPERATIONS} operations"
        )));
    }
    operations.iter().map(parse_operation).collect()
}

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax("each operation is an object"));
    };
    let field = |name: &str| {
        op.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let kind = match field("op").as_ref().and_then(Value::as_str) {
        Some(k) if k.eq_ignore_ascii_case("add") => PatchKind::Add,
        Some(k) if k.eq_ignore_ascii_case("replace") => PatchKind::Replace,
        Some(k) if k.eq_ignore_ascii_case("remove") => PatchKind::Remove,
        other => {
            return Err(ScimError::invalid_syntax(format!(
                "`op` is add, replace or remove, not {}",
                other.map_or("missing".to_owned(), |o| format!("`{o}`"))
            )));
        }
    };
    let path = match field("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p),
        Some(_) => return Err(ScimError::invalid_path("`path` is a string")),
    };
    let value = field("value").filter(|v| !v.is_null() || kind != PatchKind::Remove);
    if kind != PatchKind::Remove && value.is_none() {
        return Err(ScimError::invalid_value("add and replace need a `value`"));
    }
    if kind == PatchKind::Remove && path.is_none() {
        return Err(ScimError::no_target("remove needs a `path`"));
    }
    Ok(PatchOperation { kind, path, value })
}

/// A PATCH target: an attribute (maybe a sub-attribute) and, for multi-valued
/// attributes, a filter choosing elements.
#[derive(Debug, Clone)]
pub struct PatchPath {
    /// The attribute, and the sub-attribute when one is named.
    pub attr: AttrRef,
    /// The element filter of `attr[…]`.
    pub filter: Option<Filter>,
}

impl PatchPath {
    /// Parses `attrPath`, `valuePath` or `valuePath.subAttr`.
    pub fn parse(resource: ResourceType, text: &str) -> Result<Self, ScimError> {
        let Some(open) = text.find('[') else {
            let attr = AttrRef::resolve(resource, text).map_err(ScimError::invalid_path)?;
            return Ok(Self { attr, filter: None });
        };
        let close = text
            .rfind(']')
            .filter(|&c| c > open)
            .ok_or_else(|| ScimError::invalid_path(format!("`{text}` has an unclosed `[`")))?;
        let attr = AttrRef::resolve(resource, &text[..open]).map_err(ScimError::invalid_path)?;
        if attr.sub.is_some() || !attr.attr.multi_valued {
            return Err(ScimError::invalid_path(format!(
                "`{}` is not a multi-valued attribute",
                &text[..open]
            )));
        }
        let filter = parse_in(Scope::Element(attr), &text[open + 1..close])
            .map_err(|e| ScimError::invalid_path(format!("in `{text}`: {}", e.detail)))?;
        let attr = match &text[close + 1..] {
            "" => attr,
            rest => rest
                .strip_prefix('.')
                .and_then(|sub| attr.with_sub(sub))
                .ok_or_else(|| {
                    ScimError::invalid_path(format!("`{text}` names no sub-attribute"))
                })?,
        };
        Ok(Self {
            attr,
            filter: Some(filter),
        })
    }
}

/// Applies `operations` to `doc` (the stored document of resource `id`). On
/// error `doc` may be half-changed: callers apply to a copy and keep it only on success.
pub fn apply(
    resource: ResourceType,
    doc: &mut Map<String, Value>,
    id: &str,
    operations: Vec<PatchOperation>,
) -> Result<(), ScimError> {
    for operation in operations {
        match operation.path {
            Some(path) => {
                let target = PatchPath::parse(resource, &path)?;
                apply_at(doc, operation.kind, &target, operation.value, id)?;
            }
            None => apply_pathless(resource, doc, operation.kind, operation.value, id)?,
        }
    }
    Ok(())
}

/// A path-less add or replace: each key of the value object is a path.
fn apply_pathless(
    resource: ResourceType,
    doc: &mut Map<String, Value>,
    kind: PatchKind,
    value: Option<Value>,
    id: &str,
) -> Result<(), ScimError> {
    let Some(Value::Object(values)) = value else {
        return Err(ScimError::invalid_value(
            "an operation without `path` has an object `value`",
        ));
    };
    for (key, value) in values {
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
                let target = PatchPath::parse(resource, &format!("{ENTERPRISE_SCHEMA}:{name}"))?;
                apply_at(doc, kind, &target, Some(value), id)?;
            }
            continue;
        }
        let target = PatchPath::parse(resource, &key)?;
        apply_at(doc, kind, &target, Some(value), id)?;
    }
    Ok(())
}

fn apply_at(
    doc: &mut Map<String, Value>,
    kind: PatchKind,
    target: &PatchPath,
    value: Option<Value>,
    id: &str,
) -> Result<(), ScimError> {
    let attr = target.attr;
    match attr.attr.mutability {
        Mutability::WriteOnly => return Ok(()),
        Mutability::ReadOnly => {
            // Okta repeats the resource's own id in a path-less replace.
            if attr.attr.name == "id" && value.as_ref().and_then(Value::as_str) == Some(id) {
                return Ok(());
            }
            return Err(ScimError::mutability(format!(
                "`{}` is read-only",
                attr.key()
            )));
        }
        _ => {}
    }
    if let Some(sub) = attr.sub
        && sub.mutability == Mutability::ReadOnly
    {
        return Err(ScimError::mutability(format!(
            "`{}` is read-only",
            attr.key()
        )));
    }
    match (&target.filter, kind) {
        (Some(filter), PatchKind::Remove) => remove_elements(doc, &attr, filter),
        (Some(filter), _) => write_elements(doc, &attr, filter, value),
        (None, PatchKind::Remove) => remove_plain(doc, &attr, value.as_ref()),
        (None, _) => write_plain(doc, kind, &attr, value),
    }
}

fn path_of(attr: &AttrRef) -> String {
    attr.key().trim_start_matches("enterprise.").to_owned()
}

/// Add or replace on `attr` or `attr.sub` without a filter.
fn write_plain(
    doc: &mut Map<String, Value>,
    kind: PatchKind,
    attr: &AttrRef,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(Value::Null);
    let container = attr
        .container(doc, true)
        .ok_or_else(|| ScimError::invalid_path("the extension is not an object"))?;
    let name = attr.attr.name;
    if let Some(sub) = attr.sub {
        if attr.attr.multi_valued {
            // `emails.value` without a filter: every element.
            let value = coerce_single(sub, value, &path_of(attr))?;
            let Some(Value::Array(items)) = container.get_mut(name) else {
                return Err(ScimError::no_target(format!(
                    "`{}` has no values",
                    attr.key()
                )));
            };
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.insert(sub.name.into(), value.clone());
            }
            return Ok(());
        }
        let value = coerce_single(sub, value, &path_of(attr))?;
        let entry = container
            .entry(name)
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Some(object) = entry.as_object_mut() {
            object.insert(sub.name.into(), value);
        }
        return Ok(());
    }
    let value = coerce(attr.attr, value, &path_of(attr))?;
    match (kind, attr.attr.multi_valued, attr.attr.kind, value) {
        (PatchKind::Add, true, _, Value::Array(new)) => {
            let items = container
                .entry(name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = items {
                for item in new {
                    if !items.iter().any(|existing| same_element(existing, &item)) {
                        items.push(item);
                    }
                }
            }
        }
        (_, false, AttrType::Complex, Value::Object(new)) => {
            // Sub-attributes not named are left as they are (RFC 7644 §3.5.2.3).
            let entry = container
                .entry(name)
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(existing) if kind == PatchKind::Add || kind == PatchKind::Replace => {
                    existing.extend(new);
                }
                other => *other = Value::Object(new),
            }
        }
        (_, _, _, value) => {
            container.insert(name.into(), value);
        }
    }
    Ok(())
}

/// Two elements are the same when their `value`s are (or, without one, when equal).
fn same_element(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Add or replace through `attr[filter]` or `attr[filter].sub`.
fn write_elements(
    doc: &mut Map<String, Value>,
    attr: &AttrRef,
    filter: &Filter,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(Value::Null);
    let path = path_of(attr);
    let new_value = match attr.sub {
        Some(sub) => coerce_single(sub, value, &path)?,
        None => coerce_single(attr.attr, value, &path)?,
    };
    let container = attr
        .container(doc, true)
        .ok_or_else(|| ScimError::invalid_path("the extension is not an object"))?;
    let items = container
        .entry(attr.attr.name)
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = items else {
        return Err(ScimError::invalid_path(format!("`{path}` is not a list")));
    };
    let mut matched = false;
    for item in items.iter_mut().filter(|i| filter.matches_element(i)) {
        matched = true;
        set_in_element(item, attr, new_value.clone());
    }
    if matched {
        return Ok(());
    }
    // Entra ID adds `emails[type eq "work"].value` before the element exists.
    let mut element = element_from_filter(filter).ok_or_else(|| {
        ScimError::no_target(format!(
            "no `{}` value matches the filter, and it does not say how to create one",
            attr.attr.name
        ))
    })?;
    set_in_element(&mut element, attr, new_value);
    items.push(element);
    Ok(())
}

fn set_in_element(item: &mut Value, attr: &AttrRef, value: Value) {
    let Value::Object(item) = item else { return };
    match (attr.sub, value) {
        (Some(sub), value) => {
            item.insert(sub.name.into(), value);
        }
        (None, Value::Object(fields)) => item.extend(fields),
        (None, _) => {}
    }
}

/// The element a filter of `eq` comparisons joined by `and` describes.
fn element_from_filter(filter: &Filter) -> Option<Value> {
    let mut element = Map::new();
    fill_from(filter, &mut element)?;
    Some(Value::Object(element))
}

fn fill_from(filter: &Filter, element: &mut Map<String, Value>) -> Option<()> {
    match filter {
        Filter::And(a, b) => {
            fill_from(a, element)?;
            fill_from(b, element)
        }
        Filter::Compare(r, CompareOp::Eq, key) => {
            let sub = r.sub?;
            let value = match sub.kind {
                AttrType::Boolean => Value::Bool(key == "true"),
                _ => Value::String(key.clone()),
            };
            element.insert(sub.name.into(), value);
            Some(())
        }
        _ => None,
    }
}

/// Remove `attr` or `attr.sub`; for multi-valued attributes, a value array
/// names the elements to remove (Entra ID's member removal).
fn remove_plain(
    doc: &mut Map<String, Value>,
    attr: &AttrRef,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if attr.attr.required {
        return Err(ScimError::invalid_value(format!(
            "`{}` is required and cannot be removed",
            attr.key()
        )));
    }
    let Some(container) = attr.container(doc, false) else {
        return Ok(());
    };
    let name = attr.attr.name;
    match (attr.sub, value) {
        (None, Some(value)) if attr.attr.multi_valued => {
            let doomed = coerce(attr.attr, value.clone(), &path_of(attr))?;
            let doomed = doomed.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(items)) = container.get_mut(name) {
                items.retain(|item| !doomed.iter().any(|d| same_element(item, d)));
            }
        }
        (None, _) => {
            container.remove(name);
        }
        (Some(sub), _) => match container.get_mut(name) {
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.remove(sub.name);
                }
            }
            Some(Value::Object(object)) => {
                object.remove(sub.name);
            }
            _ => {}
        },
    }
    Ok(())
}

/// Remove the elements `attr[filter]` selects, or their sub-attribute.
fn remove_elements(
    doc: &mut Map<String, Value>,
    attr: &AttrRef,
    filter: &Filter,
) -> Result<(), ScimError> {
    let Some(container) = attr.container(doc, false) else {
        return Ok(());
    };
    let Some(Value::Array(items)) = container.get_mut(attr.attr.name) else {
        return Ok(());
    };
    match attr.sub {
        None => items.retain(|item| !filter.matches_element(item)),
        Some(sub) => {
            for item in items.iter_mut().filter(|i| filter.matches_element(i)) {
                if let Value::Object(object) = item {
                    object.remove(sub.name);
                }
            }
        }
    }
    Ok(())
}
