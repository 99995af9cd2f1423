//! Optimistic concurrency: a write may name the state it was based on (the
//! entity tag its reader was given, sent back as HTTP `If-Match`); it is
//! refused when another write came first, checked in the write's own
//! transaction, so two administrators never silently overwrite each other.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// The entity tag of a document: a digest of its JSON form, quoted as HTTP
/// writes it.
pub fn tag_of<T: Serialize>(document: &T) -> String {
    let json = serde_json::to_vec(document).unwrap_or_default();
    let digest = Sha256::digest(&json);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// The entity tag of policy version `version`.
pub fn policy_tag(version: i64) -> String {
    format!("\"policy-{version}\"")
}

/// What a write was based on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// Whatever is current (no `If-Match`, or `If-Match: *`).
    #[default]
    None,
    /// One of these entity tags (strong comparison).
    OneOf(Vec<String>),
}

impl Precondition {
    /// Reads an `If-Match` header value: `*` or a comma-separated list of
    /// quoted entity tags. Weak tags (`W/"…"`) never match, as RFC 9110 has
    /// it for `If-Match`, but are accepted in the list.
    pub fn parse(header: &str) -> Result<Self, StoreError> {
        let header = header.trim();
        if header == "*" {
            return Ok(Self::None);
        }
        let tags = header
            .split(',')
            .map(str::trim)
            .map(|tag| {
                let quoted = tag.strip_prefix("W/").unwrap_or(tag);
                let inner = quoted
                    .strip_prefix('"')
                    .and_then(|rest| rest.strip_suffix('"'));
                if inner.is_some_and(|inner| !inner.contains('"')) {
                    Ok(tag.to_owned())
                } else {
                    Err(StoreError::Invalid(format!(
                        "If-Match holds `{tag}`, which is not a quoted entity tag"
                    )))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::OneOf(tags))
    }

    /// Refuses the write unless `current` (the state's entity tag now) is
    /// one it was based on.
    pub fn check(&self, current: &str) -> Result<(), StoreError> {
        match self {
            Self::None => Ok(()),
            Self::OneOf(tags) if tags.iter().any(|tag| tag == current) => Ok(()),
            Self::OneOf(_) => Err(StoreError::Stale {
                current: current.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_based_on_the_current_state_passes_and_one_based_on_another_is_stale() {
        let current = policy_tag(7);
        let based_on_current = Precondition::parse("\"policy-6\", \"policy-7\"").unwrap();
        assert!(based_on_current.check(&current).is_ok());
        let stale = Precondition::parse("\"policy-6\"").unwrap();
        assert!(matches!(
            stale.check(&current),
            Err(StoreError::Stale { current: now }) if now == current
        ));
        assert!(Precondition::parse("*").unwrap().check(&current).is_ok());
        assert!(Precondition::None.check(&current).is_ok());
    }

    #[test]
    fn weak_tags_never_match_and_unquoted_ones_are_refused() {
        let current = policy_tag(7);
        let weak = Precondition::parse("W/\"policy-7\"").unwrap();
        assert!(weak.check(&current).is_err());
        for malformed in ["policy-7", "\"", "\"a\"b\"", ""] {
            assert!(
                matches!(Precondition::parse(malformed), Err(StoreError::Invalid(_))),
                "{malformed}"
            );
        }
    }

    #[test]
    fn the_tag_of_a_document_follows_its_content() {
        let a = tag_of(&serde_json::json!({"mfa_required": true}));
        assert_eq!(a, tag_of(&serde_json::json!({"mfa_required": true})));
        assert_ne!(a, tag_of(&serde_json::json!({"mfa_required": false})));
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
    }
}
