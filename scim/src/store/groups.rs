//! Group membership and the per-tenant mapping from groups to HMS roles.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::AnyConnection;

use hms_directory::{ChangeSource, Entitlement};

use super::{ProvisioningError, now};
use crate::protocol::error::ScimError;

/// A group as a User's `groups` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// Group id.
    pub id: String,
    /// Group display name.
    pub display: String,
}

/// The roles membership of one group grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRoles {
    /// The group's `displayName` (matched case-insensitively).
    pub group: String,
    /// HMS roles, e.g. `nurse`.
    pub roles: Vec<String>,
}

/// A group's members: staff id and display name, in id order.
pub async fn members(
    conn: &mut AnyConnection,
    group_id: &str,
) -> Result<Vec<(String, String)>, ProvisioningError> {
    Ok(sqlx::query_as(
        "SELECT m.staff_id, s.display_name FROM group_members m JOIN staff s ON s.id = m.staff_id \
         WHERE m.group_id = $1 ORDER BY m.staff_id",
    )
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Makes a group's members exactly `wanted`; every one must be an existing
/// staff member. Returns who was added and who removed.
pub async fn set_members(
    conn: &mut AnyConnection,
    group_id: &str,
    wanted: &BTreeSet<String>,
) -> Result<(Vec<String>, Vec<String>), ProvisioningError> {
    let current: BTreeSet<String> = members(conn, group_id)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let added: Vec<String> = wanted.difference(&current).cloned().collect();
    let removed: Vec<String> = current.difference(wanted).cloned().collect();
    check_staff_exist(conn, &added.iter().cloned().collect()).await?;
    let at = now();
    for staff_id in &added {
        sqlx::query("INSERT INTO group_members (group_id, staff_id, added_at) VALUES ($1, $2, $3)")
            .bind(group_id)
            .bind(staff_id)
            .bind(&at)
            .execute(&mut *conn)
            .await?;
    }
    for staff_id in &removed {
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND staff_id = $2")
            .bind(group_id)
            .bind(staff_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok((added, removed))
}

/// Adds (`true`) or removes (`false`) members by id; every one added must be
/// an existing staff member. Returns who was actually added and removed.
pub async fn change_members(
    conn: &mut AnyConnection,
    group_id: &str,
    delta: &BTreeMap<String, bool>,
) -> Result<(Vec<String>, Vec<String>), ProvisioningError> {
    let adds: BTreeSet<String> = delta
        .iter()
        .filter(|(_, add)| **add)
        .map(|(id, _)| id.clone())
        .collect();
    check_staff_exist(conn, &adds).await?;
    let at = now();
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for (staff_id, add) in delta {
        let done = if *add {
            sqlx::query(
                "INSERT INTO group_members (group_id, staff_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(group_id)
            .bind(staff_id)
            .bind(&at)
            .execute(&mut *conn)
            .await?
        } else {
            sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND staff_id = $2")
                .bind(group_id)
                .bind(staff_id)
                .execute(&mut *conn)
                .await?
        };
        if done.rows_affected() > 0 {
            if *add { &mut added } else { &mut removed }.push(staff_id.clone());
        }
    }
    Ok((added, removed))
}

/// Refuses ids that are not staff members of this tenant.
async fn check_staff_exist(
    conn: &mut AnyConnection,
    ids: &BTreeSet<String>,
) -> Result<(), ProvisioningError> {
    let ids: Vec<&String> = ids.iter().collect();
    for chunk in ids.chunks(200) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id FROM staff WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String,)>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        let found: BTreeSet<String> = query
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|(id,)| id)
            .collect();
        if let Some(missing) = chunk.iter().find(|id| !found.contains(id.as_str())) {
            return Err(ScimError::invalid_value(format!(
                "member `{missing}` is not a User of this tenant"
            ))
            .into());
        }
    }
    Ok(())
}

/// The groups of each of `staff_ids` that belongs to any, in one query per 200.
pub async fn groups_of_many(
    conn: &mut AnyConnection,
    staff_ids: &[String],
) -> Result<BTreeMap<String, Vec<GroupRef>>, ProvisioningError> {
    let mut groups: BTreeMap<String, Vec<GroupRef>> = BTreeMap::new();
    for chunk in staff_ids.chunks(200) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT m.staff_id, r.id, r.document FROM group_members m \
             JOIN scim_resources r ON r.kind = 'Group' AND r.id = m.group_id \
             WHERE m.staff_id IN ({}) ORDER BY m.staff_id, r.id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, String, String)>(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        for (staff_id, id, document) in query.fetch_all(&mut *conn).await? {
            let document: Value = serde_json::from_str(&document)
                .map_err(|_| ProvisioningError::Corrupt("scim_resources.document"))?;
            let display = document["displayName"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            groups
                .entry(staff_id)
                .or_default()
                .push(GroupRef { id, display });
        }
    }
    Ok(groups)
}

/// Removes a staff member from every group; the groups they left.
pub async fn leave_all(
    conn: &mut AnyConnection,
    staff_id: &str,
) -> Result<Vec<String>, ProvisioningError> {
    let groups: Vec<(String,)> =
        sqlx::query_as("SELECT group_id FROM group_members WHERE staff_id = $1")
            .bind(staff_id)
            .fetch_all(&mut *conn)
            .await?;
    sqlx::query("DELETE FROM group_members WHERE staff_id = $1")
        .bind(staff_id)
        .execute(&mut *conn)
        .await?;
    Ok(groups.into_iter().map(|(g,)| g).collect())
}

/// Excludes memberships an access review revoked: they stay in SCIM, as the
/// identity provider sees them, but grant nothing.
const NOT_HELD: &str = "NOT EXISTS (SELECT 1 FROM review_holds h WHERE h.staff_id = m.staff_id \
     AND h.kind = 'group' AND h.entitlement = m.group_id)";

/// The roles a staff member's groups grant them, sorted.
pub async fn roles_from_groups(
    conn: &mut AnyConnection,
    staff_id: &str,
) -> Result<BTreeSet<String>, ProvisioningError> {
    let rows: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT g.roles FROM group_members m \
         JOIN scim_resources r ON r.kind = 'Group' AND r.id = m.group_id \
         JOIN group_roles g ON g.group_key = r.unique_key WHERE m.staff_id = $1 AND {NOT_HELD}",
    ))
    .bind(staff_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut roles = BTreeSet::new();
    for (json,) in rows {
        let granted: Vec<String> = serde_json::from_str(&json)
            .map_err(|_| ProvisioningError::Corrupt("group_roles.roles"))?;
        roles.extend(granted);
    }
    Ok(roles)
}

/// Every membership of an active staff member in a group that grants roles
/// (and that no access review revoked), as reviewable entitlements.
pub async fn group_entitlements(
    conn: &mut AnyConnection,
) -> Result<Vec<Entitlement>, ProvisioningError> {
    let rows: Vec<(String, Option<String>, String, String, String, String)> =
        sqlx::query_as(&format!(
            "SELECT m.staff_id, s.department, m.group_id, g.group_name, g.roles, m.added_at \
             FROM group_members m JOIN staff s ON s.id = m.staff_id \
             JOIN scim_resources r ON r.kind = 'Group' AND r.id = m.group_id \
             JOIN group_roles g ON g.group_key = r.unique_key \
             WHERE s.active = 1 AND {NOT_HELD} ORDER BY m.staff_id, m.group_id",
        ))
        .fetch_all(&mut *conn)
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for (staff_id, department, group_id, group_name, roles, added_at) in rows {
        let roles: Vec<String> = serde_json::from_str(&roles)
            .map_err(|_| ProvisioningError::Corrupt("group_roles.roles"))?;
        if roles.is_empty() {
            continue;
        }
        found.push(Entitlement {
            staff_id,
            department,
            kind: hms_directory::EntitlementKind::Group,
            name: group_id,
            description: format!("group \"{group_name}\" (grants {})", roles.join(", ")),
            roles,
            source: ChangeSource::Scim.as_str().into(),
            granted_at: added_at,
        });
    }
    Ok(found)
}

/// The roles membership of one group grants, by the mapping in force.
pub async fn roles_of_group(
    conn: &mut AnyConnection,
    group_id: &str,
) -> Result<Vec<String>, ProvisioningError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT g.roles FROM scim_resources r JOIN group_roles g ON g.group_key = r.unique_key \
         WHERE r.kind = 'Group' AND r.id = $1",
    )
    .bind(group_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map_or(Ok(Vec::new()), |(json,)| {
        serde_json::from_str(&json).map_err(|_| ProvisioningError::Corrupt("group_roles.roles"))
    })
}

/// The mapping in force, by group name.
pub async fn group_roles(conn: &mut AnyConnection) -> Result<Vec<GroupRoles>, ProvisioningError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT group_name, roles FROM group_roles ORDER BY group_key")
            .fetch_all(&mut *conn)
            .await?;
    rows.into_iter()
        .map(|(group, roles)| {
            let roles = serde_json::from_str(&roles)
                .map_err(|_| ProvisioningError::Corrupt("group_roles.roles"))?;
            Ok(GroupRoles { group, roles })
        })
        .collect()
}

/// Replaces the whole mapping. Returns the ids of staff in any group whose
/// mapping changed, whose roles must be recomputed.
pub async fn replace_group_roles(
    conn: &mut AnyConnection,
    mappings: &[GroupRoles],
) -> Result<Vec<String>, ProvisioningError> {
    let before = group_roles(conn).await?;
    sqlx::query("DELETE FROM group_roles")
        .execute(&mut *conn)
        .await?;
    let at = now();
    for mapping in mappings {
        let roles = serde_json::to_string(&mapping.roles).unwrap_or_else(|_| "[]".into());
        sqlx::query("INSERT INTO group_roles (group_key, group_name, roles, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(mapping.group.to_lowercase())
            .bind(&mapping.group)
            .bind(roles)
            .bind(&at)
            .execute(&mut *conn)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => ProvisioningError::Scim(
                    ScimError::invalid_value(format!("group `{}` is mapped twice", mapping.group)),
                ),
                _ => e.into(),
            })?;
    }
    let changed: BTreeSet<String> = before
        .iter()
        .filter(|b| !mappings.contains(b))
        .chain(mappings.iter().filter(|m| !before.contains(m)))
        .map(|m| m.group.to_lowercase())
        .collect();
    let mut staff = BTreeSet::new();
    for key in changed {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT m.staff_id FROM group_members m JOIN scim_resources r ON r.kind = 'Group' AND r.id = m.group_id \
             WHERE r.unique_key = $1",
        )
        .bind(key)
        .fetch_all(&mut *conn)
        .await?;
        staff.extend(rows.into_iter().map(|(s,)| s));
    }
    Ok(staff.into_iter().collect())
}
