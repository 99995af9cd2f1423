//! Identifiers checked once at the boundary.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// First path segments the service itself answers, so no tenant may be named so.
const RESERVED: [&str; 4] = ["operator", "healthz", "readyz", "metrics"];

/// A tenant id: 2–63 characters, lowercase letters, digits and `-`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TenantId(String);

impl FromStr for TenantId {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let valid_start = s.bytes().next().is_some_and(|b| b != b'-');
        if RESERVED.contains(&s) {
            return Err(StoreError::Invalid(format!(
                "`{s}` is reserved for the service's own routes"
            )));
        }
        if (2..=63).contains(&s.len()) && valid_chars && valid_start {
            Ok(Self(s.to_owned()))
        } else {
            Err(StoreError::Invalid(format!(
                "`{s}` is not a valid tenant id (2–63 lowercase letters, digits or `-`)"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl TenantId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a record id (staff, patient, encounter): 1–128 printable characters.
pub fn check_record_id(what: &str, id: &str) -> Result<(), StoreError> {
    if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "`{id}` is not a valid {what} id (1–128 printable characters)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_checked() {
        assert!("st-marys".parse::<TenantId>().is_ok());
        for bad in [
            "",
            "a",
            "-x",
            "Upper",
            "a_b",
            "a/b",
            &"x".repeat(64),
            "operator",
        ] {
            assert!(bad.parse::<TenantId>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn record_ids_are_checked() {
        assert!(check_record_id("staff", "n-1").is_ok());
        assert!(check_record_id("staff", "").is_err());
        assert!(check_record_id("staff", "a\nb").is_err());
    }
}
