//! Attribute paths (RFC 7644 §3.10): `userName`, `name.givenName`, URN-qualified
//! names, and the comparison keys every filter, index and ETag check agrees on.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::schema::{AttrDef, AttrType, ENTERPRISE_SCHEMA, Namespace, ResourceType};

/// A resolved reference to an attribute, or to a sub-attribute of a complex one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrRef {
    /// Where the attribute lives.
    pub namespace: Namespace,
    /// The top-level attribute.
    pub attr: &'static AttrDef,
    /// The sub-attribute, for complex attributes.
    pub sub: Option<&'static AttrDef>,
}

impl AttrRef {
    /// Resolves `[URN:]name[.sub]` against a resource type's schemas.
    pub fn resolve(resource: ResourceType, text: &str) -> Result<Self, String> {
        let (urn, rest) = split_urn(text);
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        let (namespace, attr) = resource
            .attribute(urn, name)
            .ok_or_else(|| format!("`{text}` is not an attribute of {}", resource.name()))?;
        let sub =
            match sub {
                Some(sub) => Some(attr.sub(sub).ok_or_else(|| {
                    format!("`{text}` is not an attribute of {}", resource.name())
                })?),
                None => None,
            };
        Ok(Self {
            namespace,
            attr,
            sub,
        })
    }

    /// The same attribute with `sub` as its sub-attribute.
    pub fn with_sub(self, sub: &str) -> Option<Self> {
        Some(Self {
            sub: Some(self.attr.sub(sub)?),
            ..self
        })
    }

    /// The attribute whose values are compared: the sub-attribute if any.
    pub fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The path written back, e.g. `emails.value` or `enterprise.department`;
    /// also the attribute's name in the search index.
    pub fn key(&self) -> String {
        let mut key = String::new();
        if self.namespace == Namespace::Enterprise {
            key.push_str("enterprise.");
        }
        key.push_str(self.attr.name);
        if let Some(sub) = self.sub {
            key.push('.');
            key.push_str(sub.name);
        }
        key
    }

    /// The object holding this attribute in `doc`, created on demand when `create`.
    pub fn container<'a>(
        &self,
        doc: &'a mut Map<String, Value>,
        create: bool,
    ) -> Option<&'a mut Map<String, Value>> {
        match self.namespace {
            Namespace::Core => Some(doc),
            Namespace::Enterprise => {
                if create && !doc.contains_key(ENTERPRISE_SCHEMA) {
                    doc.insert(ENTERPRISE_SCHEMA.into(), Value::Object(Map::new()));
                }
                doc.get_mut(ENTERPRISE_SCHEMA)?.as_object_mut()
            }
        }
    }

    /// The attribute's value in `doc`, if present.
    pub fn get<'a>(&self, doc: &'a Map<String, Value>) -> Option<&'a Value> {
        match self.namespace {
            Namespace::Core => doc.get(self.attr.name),
            Namespace::Enterprise => doc.get(ENTERPRISE_SCHEMA)?.get(self.attr.name),
        }
    }

    /// Every leaf value of this reference in `doc`: over the elements of a
    /// multi-valued attribute, into the sub-attribute of a complex one.
    pub fn leaf_values<'a>(&self, doc: &'a Map<String, Value>) -> Vec<&'a Value> {
        let Some(value) = self.get(doc) else {
            return Vec::new();
        };
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        match self.sub {
            Some(sub) => items.into_iter().filter_map(|i| i.get(sub.name)).collect(),
            None => items,
        }
    }
}

/// Splits `urn:…:name.sub` into the URN and `name.sub`; the URN is everything
/// up to the last `:` (URNs themselves contain `.` as in `2.0`).
pub fn split_urn(text: &str) -> (Option<&str>, &str) {
    let is_urn = text
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    match text.rsplit_once(':') {
        Some((urn, rest)) if is_urn => (Some(urn), rest),
        _ => (None, text),
    }
}

/// The comparison key of one stored or literal value of attribute `def`:
/// lowercased unless `caseExact`, booleans as `true`/`false`, times as UTC
/// with microseconds (so text order is time order). `None` for a value of the wrong type.
pub fn comparison_key(def: &AttrDef, value: &Value) -> Option<String> {
    match (def.kind, value) {
        (AttrType::Boolean, Value::Bool(b)) => Some(b.to_string()),
        (AttrType::DateTime, Value::String(s)) => normalise_datetime(s),
        (AttrType::String | AttrType::Reference, Value::String(s)) => Some(if def.case_exact {
            s.clone()
        } else {
            s.to_lowercase()
        }),
        _ => None,
    }
}

/// An RFC 3339 time as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC.
pub fn normalise_datetime(text: &str) -> Option<String> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(format_datetime(parsed))
}

/// A time as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC.
pub fn format_datetime(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_paths_split_at_the_last_colon() {
        assert_eq!(
            split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            (
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                "manager.value"
            )
        );
        assert_eq!(split_urn("name.givenName"), (None, "name.givenName"));
    }

    #[test]
    fn paths_resolve_case_insensitively_and_qualified() {
        let r = AttrRef::resolve(ResourceType::User, "NAME.givenname").unwrap();
        assert_eq!(r.key(), "name.givenName");
        let r = AttrRef::resolve(
            ResourceType::User,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        )
        .unwrap();
        assert_eq!(r.key(), "enterprise.department");
        let r = AttrRef::resolve(
            ResourceType::User,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        )
        .unwrap();
        assert_eq!(r.key(), "userName");
        assert!(AttrRef::resolve(ResourceType::User, "shoeSize").is_err());
        assert!(AttrRef::resolve(ResourceType::Group, "userName").is_err());
        assert!(AttrRef::resolve(ResourceType::User, "name.nickname").is_err());
    }

    #[test]
    fn keys_fold_case_only_where_the_schema_says() {
        let user = AttrRef::resolve(ResourceType::User, "userName").unwrap();
        assert_eq!(
            comparison_key(user.leaf(), &Value::from("Ana@Example.org")).as_deref(),
            Some("ana@example.org")
        );
        let external = AttrRef::resolve(ResourceType::User, "externalId").unwrap();
        assert_eq!(
            comparison_key(external.leaf(), &Value::from("AbC")).as_deref(),
            Some("AbC")
        );
        let created = AttrRef::resolve(ResourceType::User, "meta.created").unwrap();
        assert_eq!(
            comparison_key(created.leaf(), &Value::from("2024-01-02T03:04:05+01:00")).as_deref(),
            Some("2024-01-02T02:04:05.000000Z")
        );
    }
}
