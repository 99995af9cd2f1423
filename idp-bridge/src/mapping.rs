//! What a verified login means for the directory: which staff member it is
//! (by a stable identifier), which roles the IdP's groups grant, and, when the
//! tenant allows it, the record a first login creates.

use std::collections::{BTreeMap, BTreeSet};

use hms_directory::{StaffMember, valid_role};
use serde::{Deserialize, Serialize};

use crate::error::IdentityError;

/// A login the IdP vouched for, after every protocol check passed.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    /// The tenant's id for the identity provider.
    pub provider_id: String,
    /// `oidc` or `saml`.
    pub protocol: &'static str,
    /// The IdP's subject: the ID token's `sub`, or the assertion's `NameID`.
    pub subject: String,
    /// Every claim or attribute, as strings (multi-valued ones in order).
    pub claims: BTreeMap<String, Vec<String>>,
}

impl VerifiedIdentity {
    /// The single value of `name`, when it has exactly one.
    fn single(&self, name: &str) -> Option<&str> {
        match self.claims.get(name).map(Vec::as_slice) {
            Some([one]) => Some(one.as_str()),
            _ => None,
        }
    }
}

/// How a tenant reads an IdP's claims or attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimMapping {
    /// Claim or attribute holding the staff id; the subject (`sub` / `NameID`) when absent.
    #[serde(default)]
    pub staff_id: Option<String>,
    /// Claim or attribute listing the person's groups.
    #[serde(default)]
    pub groups: Option<String>,
    /// HMS roles granted by each IdP group.
    #[serde(default)]
    pub group_roles: BTreeMap<String, Vec<String>>,
    /// Claim or attribute for the given name (just-in-time creation).
    #[serde(default)]
    pub given_name: Option<String>,
    /// Claim or attribute for the family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Claim or attribute for the work email.
    #[serde(default)]
    pub email: Option<String>,
}

impl ClaimMapping {
    /// Checks every mapped role is a valid role name.
    pub fn check(&self) -> Result<(), IdentityError> {
        let bad = self.group_roles.values().flatten().find(|r| !valid_role(r));
        match bad {
            Some(role) => Err(IdentityError::invalid(
                "invalid_mapping",
                format!("`{role}` is not a valid role name (lowercase letters, digits, `_`)"),
            )),
            None => Ok(()),
        }
    }

    /// The staff id the login names; refused when the claim is missing or ambiguous.
    pub fn staff_id(&self, identity: &VerifiedIdentity) -> Result<String, IdentityError> {
        let id = match &self.staff_id {
            None => Some(identity.subject.as_str()),
            Some(claim) => identity.single(claim),
        };
        match id.map(str::trim) {
            Some(id) if !id.is_empty() && id.len() <= 200 => Ok(id.to_owned()),
            _ => Err(IdentityError::refused(
                "no_staff_id",
                format!(
                    "the identity provider sent no single `{}` value to identify the staff member",
                    self.staff_id.as_deref().unwrap_or("subject")
                ),
            )),
        }
    }

    /// The HMS roles the login's groups grant.
    pub fn roles(&self, identity: &VerifiedIdentity) -> BTreeSet<String> {
        let Some(claim) = &self.groups else {
            return BTreeSet::new();
        };
        let groups = identity.claims.get(claim).into_iter().flatten();
        groups
            .filter_map(|group| self.group_roles.get(group))
            .flatten()
            .cloned()
            .collect()
    }

    /// The record a first login creates when the tenant allows just-in-time creation.
    pub fn new_member(&self, identity: &VerifiedIdentity, id: &str) -> StaffMember {
        let claim = |name: &Option<String>, default: &str| {
            let name = name.as_deref().unwrap_or(default);
            identity.single(name).unwrap_or_default().to_owned()
        };
        let mut member = StaffMember::new(id);
        member.given_name = claim(&self.given_name, "given_name");
        member.family_name = claim(&self.family_name, "family_name");
        member.display_name = format!("{} {}", member.given_name, member.family_name)
            .trim()
            .to_owned();
        let email = claim(&self.email, "email");
        if !email.is_empty() {
            member.emails = vec![email];
        }
        member.roles = self.roles(identity).into_iter().collect();
        member
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn identity(claims: &[(&str, &[&str])]) -> VerifiedIdentity {
        VerifiedIdentity {
            provider_id: "okta".into(),
            protocol: "oidc",
            subject: "00u-1".into(),
            claims: claims
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        }
    }

    #[test]
    fn the_staff_id_comes_from_the_mapped_claim_or_the_subject() {
        let login = identity(&[("employee_number", &["E-1"]), ("two", &["a", "b"])]);
        assert_eq!(ClaimMapping::default().staff_id(&login).unwrap(), "00u-1");
        let by_number = ClaimMapping {
            staff_id: Some("employee_number".into()),
            ..ClaimMapping::default()
        };
        assert_eq!(by_number.staff_id(&login).unwrap(), "E-1");
        for claim in ["missing", "two"] {
            let mapping = ClaimMapping {
                staff_id: Some(claim.into()),
                ..ClaimMapping::default()
            };
            assert!(matches!(
                mapping.staff_id(&login),
                Err(IdentityError::Refused {
                    code: "no_staff_id",
                    ..
                })
            ));
        }
    }

    #[test]
    fn groups_grant_only_their_mapped_roles() {
        let mapping = ClaimMapping {
            groups: Some("groups".into()),
            group_roles: [("ICU".to_owned(), vec!["nurse".to_owned()])].into(),
            ..ClaimMapping::default()
        };
        let login = identity(&[("groups", &["ICU", "Everyone"])]);
        assert_eq!(mapping.roles(&login), BTreeSet::from(["nurse".to_owned()]));
        assert!(mapping.check().is_ok());
        let bad = ClaimMapping {
            group_roles: [("g".to_owned(), vec!["Not A Role".to_owned()])].into(),
            ..ClaimMapping::default()
        };
        assert!(bad.check().is_err());
    }
}
