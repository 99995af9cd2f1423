//! Roles from group membership: recomputed for a staff member whenever their
//! groups or the tenant's group-to-role mapping change.

use std::collections::BTreeSet;

use hms_directory::{ChangeSource, StaffChange, TenantStore, roles_granting, valid_role};
use sqlx::AnyConnection;

use crate::protocol::error::ScimError;
use crate::store::{self, GroupRoles, ProvisioningError};

/// Recomputes the roles of `staff_ids`: roles granted by other sources stay,
/// SCIM-granted roles become exactly what their groups grant now.
pub async fn sync_roles(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    staff_ids: &[String],
) -> Result<Vec<StaffChange>, ProvisioningError> {
    let mut changes = Vec::new();
    for id in staff_ids {
        let Some(record) = directory.staff_in(tx, id).await? else {
            continue;
        };
        let granted = store::roles_from_groups(tx, id).await?;
        let roles = roles_with(&record.role_sources, &granted);
        if roles == record.member.roles {
            continue;
        }
        let mut member = record.member;
        member.roles = roles;
        changes.extend(
            directory
                .upsert_staff(tx, vec![member], ChangeSource::Scim)
                .await?,
        );
    }
    Ok(changes)
}

/// Roles from other sources, plus those `granted` by groups, sorted.
pub fn roles_with(role_sources: &[(String, String)], granted: &BTreeSet<String>) -> Vec<String> {
    roles_granting(role_sources, ChangeSource::Scim, granted)
}

/// Replaces the tenant's group-to-role mapping and recomputes the roles of
/// every member of a group whose mapping changed.
pub async fn replace_group_roles(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    mappings: &[GroupRoles],
) -> Result<Vec<StaffChange>, ProvisioningError> {
    for mapping in mappings {
        if mapping.group.trim().is_empty() {
            return Err(ScimError::invalid_value("a mapping names a group").into());
        }
        if let Some(bad) = mapping.roles.iter().find(|r| !valid_role(r)) {
            return Err(ScimError::invalid_value(format!(
                "`{bad}` is not a valid role name (lowercase letters, digits, `_`)"
            ))
            .into());
        }
    }
    let affected = store::replace_group_roles(tx, mappings).await?;
    sync_roles(directory, tx, &affected).await
}

/// A department name as policies see it: lowercase letters and digits, other
/// runs of characters turned into one `_` ("Intensive Care" → `intensive_care`).
pub fn department_id(name: &str) -> String {
    let mut id = String::with_capacity(name.len());
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('_') {
            id.push('_');
        }
    }
    id.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_become_policy_identifiers() {
        assert_eq!(department_id("Intensive Care"), "intensive_care");
        assert_eq!(department_id(" Cardiology "), "cardiology");
        assert_eq!(department_id("A&E / Emergency"), "a_e_emergency");
    }

    #[test]
    fn scim_roles_follow_groups_and_others_stay() {
        let sources = vec![
            ("nurse".to_owned(), "scim".to_owned()),
            ("educator".to_owned(), "admin".to_owned()),
        ];
        let granted = BTreeSet::from(["charge_nurse".to_owned()]);
        assert_eq!(roles_with(&sources, &granted), ["charge_nurse", "educator"]);
    }
}
