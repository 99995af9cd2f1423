//! A staff member as the directory holds them: identity, roles, shift and credentials.

use serde::{Deserialize, Serialize};

use crate::clock::normalise_instant;
use crate::error::StoreError;
use crate::ids::check_record_id;

/// What one upsert did to a staff member.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffChange {
    /// The member as now stored.
    pub member: StaffMember,
    /// Whether they were active before; `None` when newly created.
    pub was_active: Option<bool>,
    /// Roles given by this change.
    pub roles_added: Vec<String>,
    /// Roles taken away by this change.
    pub roles_removed: Vec<String>,
    /// What the source asked for but an access review's hold refused, as
    /// `role:NAME` or `credential:KIND`.
    pub withheld: Vec<String>,
}

/// A staff member as the directory holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffMember {
    /// Stable id (e.g. the HR employee id).
    pub id: String,
    /// Given name.
    #[serde(default)]
    pub given_name: String,
    /// Family name.
    #[serde(default)]
    pub family_name: String,
    /// Name shown to people; defaults to given and family name.
    #[serde(default)]
    pub display_name: String,
    /// Email addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Whether the account may act at all.
    #[serde(default = "yes")]
    pub active: bool,
    /// Department, e.g. `cardiology`.
    #[serde(default)]
    pub department: Option<String>,
    /// Usual work location.
    #[serde(default)]
    pub location: Option<String>,
    /// Home address, for privacy monitoring.
    #[serde(default)]
    pub address: Option<String>,
    /// Sites this person is restricted to; `None` means unrestricted.
    #[serde(default)]
    pub allowed_locations: Option<Vec<String>>,
    /// Working hours in tenant local time; `None` means unrestricted.
    #[serde(default)]
    pub shift: Option<Shift>,
    /// HMS roles, e.g. `nurse`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Professional credentials.
    #[serde(default)]
    pub credentials: Vec<Credential>,
}

fn yes() -> bool {
    true
}

/// Working hours: `start_hour` inclusive, `end_hour` exclusive; may wrap past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// First hour on shift (0–23).
    pub start_hour: i64,
    /// First hour off shift (0–23).
    pub end_hour: i64,
}

/// A professional credential, e.g. a nursing licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// Kind, e.g. `nursing_licence`; kinds ending in `licence`/`license` are professional licences.
    pub kind: String,
    /// Registration number.
    pub number: String,
    /// Status.
    pub status: CredentialStatus,
    /// Expiry, RFC 3339 or `YYYY-MM-DD`; stored as UTC.
    pub expires: String,
}

/// The states a credential can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStatus {
    /// In good standing.
    Active,
    /// Suspended by the regulator or employer.
    Suspended,
    /// Revoked.
    Revoked,
    /// Not renewed.
    Lapsed,
}

impl CredentialStatus {
    /// The stored and policy-visible name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
            Self::Lapsed => "lapsed",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        serde_json::from_value(serde_json::Value::String(text.to_owned()))
            .map_err(|_| StoreError::Corrupt("credentials.status"))
    }
}

impl Credential {
    /// Whether this credential is a professional licence.
    pub fn is_licence(&self) -> bool {
        self.kind.ends_with("licence") || self.kind.ends_with("license")
    }
}

impl StaffMember {
    /// A new, active member with nothing but an id.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            given_name: String::new(),
            family_name: String::new(),
            display_name: String::new(),
            emails: Vec::new(),
            active: true,
            department: None,
            location: None,
            address: None,
            allowed_locations: None,
            shift: None,
            roles: Vec::new(),
            credentials: Vec::new(),
        }
    }

    /// The professional licence clinical work depends on: the active one
    /// expiring last, else the one expiring last.
    pub fn licence(&self) -> Option<&Credential> {
        let licences = self.credentials.iter().filter(|c| c.is_licence());
        licences.max_by_key(|c| (c.status == CredentialStatus::Active, c.expires.clone()))
    }

    /// Checks and normalises the record; nothing is written when this fails.
    pub(crate) fn normalise(mut self) -> Result<Self, StoreError> {
        check_record_id("staff", &self.id)?;
        if self.display_name.trim().is_empty() {
            let full = format!("{} {}", self.given_name.trim(), self.family_name.trim());
            self.display_name = if full.trim().is_empty() {
                self.id.clone()
            } else {
                full.trim().to_owned()
            };
        }
        if let Some(bad) = self
            .emails
            .iter()
            .find(|e| !e.contains('@') || e.chars().any(char::is_whitespace))
        {
            return Err(StoreError::Invalid(format!(
                "`{bad}` is not an email address"
            )));
        }
        if let Some(bad) = self.roles.iter().find(|r| !valid_role(r)) {
            return Err(StoreError::Invalid(format!(
                "`{bad}` is not a valid role name (lowercase letters, digits, `_`)"
            )));
        }
        if let Some(shift) = self.shift
            && !((0..24).contains(&shift.start_hour) && (0..24).contains(&shift.end_hour))
        {
            return Err(StoreError::Invalid(
                "shift hours must be between 0 and 23".into(),
            ));
        }
        for credential in &mut self.credentials {
            credential.expires = normalise_instant(&credential.expires).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "credential expiry `{}` is not a date or RFC 3339 time",
                    credential.expires
                ))
            })?;
        }
        self.roles.sort();
        self.roles.dedup();
        Ok(self)
    }
}

/// Whether `role` is a valid role name: 1–64 lowercase letters, digits or `_`.
pub fn valid_role(role: &str) -> bool {
    !role.is_empty()
        && role.len() <= 64
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
