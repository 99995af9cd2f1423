//! Listing and searching (RFC 7644 §3.4.2, §3.4.3): the query parameters or
//! `/.search` body, and the `ListResponse` that answers them.

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::filter::Filter;
use super::path::AttrRef;
use super::resource::Projection;
use super::schema::{AttrType, ResourceType, Returned};

/// Schema URN of a list response.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The most resources one page carries; a larger `count` is lowered to it.
pub const MAX_RESULTS: u64 = 200;

/// A parsed list or search request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Which resources.
    pub filter: Option<Filter>,
    /// Sort key.
    pub sort_by: Option<AttrRef>,
    /// Sort descending.
    pub descending: bool,
    /// 1-based index of the first result.
    pub start_index: u64,
    /// Page size (0: count only).
    pub count: u64,
    /// Which attributes come back.
    pub projection: Projection,
}

impl ListQuery {
    /// From URL query parameters (names compared case-insensitively).
    pub fn from_params(
        resource: ResourceType,
        params: &[(String, String)],
    ) -> Result<Self, ScimError> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            get(name)
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| {
                        ScimError::invalid_value(format!("`{name}` is an integer, not `{v}`"))
                    })
                })
                .transpose()
        };
        Self::build(
            resource,
            get("filter"),
            get("sortBy"),
            get("sortOrder"),
            number("startIndex")?,
            number("count")?,
            Projection::parse(resource, get("attributes"), get("excludedAttributes"))?,
        )
    }

    /// From a `POST /.search` body.
    pub fn from_search(resource: ResourceType, body: &Value) -> Result<Self, ScimError> {
        let Value::Object(body) = body else {
            return Err(ScimError::invalid_syntax(
                "a search request is a JSON object",
            ));
        };
        let text = |name: &str| -> Result<Option<&str>, ScimError> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(ScimError::invalid_value(format!("`{name}` is a string"))),
            }
        };
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("`{name}` is an integer"))),
            }
        };
        let list = |name: &str| -> Result<Option<String>, ScimError> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::invalid_value(format!("`{name}` is an array of strings"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| Some(v.join(","))),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "`{name}` is an array of strings"
                ))),
            }
        };
        let attributes = list("attributes")?;
        let excluded = list("excludedAttributes")?;
        Self::build(
            resource,
            text("filter")?,
            text("sortBy")?,
            text("sortOrder")?,
            number("startIndex")?,
            number("count")?,
            Projection::parse(resource, attributes.as_deref(), excluded.as_deref())?,
        )
    }

    fn build(
        resource: ResourceType,
        filter: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        projection: Projection,
    ) -> Result<Self, ScimError> {
        let filter = filter
            .filter(|f| !f.trim().is_empty())
            .map(|f| Filter::parse(resource, f))
            .transpose()?;
        let sort_by = sort_by
            .filter(|s| !s.trim().is_empty())
            .map(|s| sort_key(resource, s))
            .transpose()?;
        let descending = match sort_order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "`sortOrder` is ascending or descending, not `{other}`"
                )));
            }
        };
        Ok(Self {
            filter,
            sort_by,
            descending,
            // RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0.
            start_index: start_index.unwrap_or(1).max(1) as u64,
            count: (count.unwrap_or(MAX_RESULTS as i64).max(0) as u64).min(MAX_RESULTS),
            projection,
        })
    }
}

fn sort_key(resource: ResourceType, text: &str) -> Result<AttrRef, ScimError> {
    let attr = AttrRef::resolve(resource, text).map_err(ScimError::invalid_value)?;
    let attr = match (attr.sub, attr.attr.default_sub()) {
        (None, Some(value)) => AttrRef {
            sub: Some(value),
            ..attr
        },
        _ => attr,
    };
    if attr.leaf().kind == AttrType::Complex
        || attr.leaf().returned == Returned::Never
        || attr.attr.name == "groups"
    {
        return Err(ScimError::invalid_value(format!("cannot sort by `{text}`")));
    }
    Ok(attr)
}

/// A `ListResponse` page.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Map<String, Value>>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
