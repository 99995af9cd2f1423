//! Staff members, their roles and their professional credentials.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::holds::enforce_holds;
use crate::sources::ChangeSource;
use crate::store::{TenantStore, decode_json, flag};

pub(crate) mod member;

pub use member::{Credential, CredentialStatus, Shift, StaffChange, StaffMember, valid_role};

type StaffRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

const STAFF_COLUMNS: &str = "id, given_name, family_name, display_name, emails, active, department, location, \
                             allowed_locations, shift_start_hour, shift_end_hour, address";

impl TenantStore {
    /// Creates or replaces staff members, their roles and credentials, all or nothing.
    ///
    /// Roles a member already had keep their original source; new ones get `source`.
    /// Writes in the caller's transaction and tells what changed for each member.
    pub async fn upsert_staff(
        &self,
        tx: &mut AnyConnection,
        members: Vec<StaffMember>,
        source: ChangeSource,
    ) -> Result<Vec<StaffChange>, StoreError> {
        let members: Vec<StaffMember> = members
            .into_iter()
            .map(StaffMember::normalise)
            .collect::<Result<_, _>>()?;
        let mut changes = Vec::with_capacity(members.len());
        for member in members {
            changes.push(write_staff(tx, member, source).await?);
        }
        Ok(changes)
    }

    /// Staff members by id (missing ids are skipped), or all of them when `ids` is `None`.
    pub async fn load_staff(&self, ids: Option<&[String]>) -> Result<Vec<StaffMember>, StoreError> {
        let rows: Vec<StaffRow> = self
            .rows_for(
                &format!("SELECT {STAFF_COLUMNS} FROM staff WHERE 1 = 1"),
                "id",
                "id",
                ids,
            )
            .await?;
        let role_rows: Vec<(String, String)> = self
            .rows_for(
                "SELECT staff_id, role FROM staff_roles WHERE 1 = 1",
                "staff_id",
                "staff_id, role",
                ids,
            )
            .await?;
        let credential_rows: Vec<CredentialRow> = self
            .rows_for(
                "SELECT staff_id, kind, number, status, expires_at FROM credentials WHERE 1 = 1",
                "staff_id",
                "staff_id, kind",
                ids,
            )
            .await?;
        let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (staff_id, role) in role_rows {
            roles.entry(staff_id).or_default().push(role);
        }
        let mut credentials: BTreeMap<String, Vec<Credential>> = BTreeMap::new();
        for (staff_id, kind, number, status, expires) in credential_rows {
            let credential = Credential {
                kind,
                number,
                status: CredentialStatus::parse(&status)?,
                expires,
            };
            credentials.entry(staff_id).or_default().push(credential);
        }
        rows.into_iter()
            .map(|row| {
                let mut member = staff_from_row(row)?;
                member.roles = roles.remove(&member.id).unwrap_or_default();
                member.credentials = credentials.remove(&member.id).unwrap_or_default();
                Ok(member)
            })
            .collect()
    }
}

type CredentialRow = (String, String, String, String, String);

/// A staff member as stored, with the source of each role.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffRecord {
    /// The member.
    pub member: StaffMember,
    /// Each role and who granted it: `admin`, `scim`, `hr`, `idp`, `review`.
    pub role_sources: Vec<(String, String)>,
}

/// The roles a member has when `source` now grants exactly `granted`: roles
/// from every other source stay; sorted, without duplicates.
pub fn roles_granting<'a>(
    role_sources: &'a [(String, String)],
    source: ChangeSource,
    granted: impl IntoIterator<Item = &'a String>,
) -> Vec<String> {
    let kept = role_sources
        .iter()
        .filter(|(_, from)| !source.is(from))
        .map(|(role, _)| role);
    let all: std::collections::BTreeSet<&String> = kept.chain(granted).collect();
    all.into_iter().cloned().collect()
}

impl TenantStore {
    /// One staff member read inside the caller's transaction, so it sees the
    /// transaction's own writes.
    pub async fn staff_in(
        &self,
        tx: &mut AnyConnection,
        id: &str,
    ) -> Result<Option<StaffRecord>, StoreError> {
        let row: Option<StaffRow> =
            sqlx::query_as(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut member = staff_from_row(row)?;
        let role_sources: Vec<(String, String)> = sqlx::query_as(
            "SELECT role, source FROM staff_roles WHERE staff_id = $1 ORDER BY role",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let credentials: Vec<CredentialRow> = sqlx::query_as(
            "SELECT staff_id, kind, number, status, expires_at FROM credentials WHERE staff_id = $1 ORDER BY kind",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        member.roles = role_sources.iter().map(|(role, _)| role.clone()).collect();
        member.credentials = credentials
            .into_iter()
            .map(|(_, kind, number, status, expires)| {
                Ok(Credential {
                    kind,
                    number,
                    status: CredentialStatus::parse(&status)?,
                    expires,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(StaffRecord {
            member,
            role_sources,
        }))
    }
}

async fn write_staff(
    tx: &mut AnyConnection,
    mut member: StaffMember,
    source: ChangeSource,
) -> Result<StaffChange, StoreError> {
    let withheld = enforce_holds(tx, &mut member, source).await?;
    let now = now_rfc3339();
    let before: Option<(i64,)> = sqlx::query_as("SELECT active FROM staff WHERE id = $1")
        .bind(&member.id)
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO staff (id, given_name, family_name, display_name, emails, active, department, location, \
         allowed_locations, shift_start_hour, shift_end_hour, updated_at, address) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (id) DO UPDATE SET given_name = excluded.given_name, family_name = excluded.family_name, \
         display_name = excluded.display_name, emails = excluded.emails, active = excluded.active, \
         department = excluded.department, location = excluded.location, \
         allowed_locations = excluded.allowed_locations, shift_start_hour = excluded.shift_start_hour, \
         shift_end_hour = excluded.shift_end_hour, updated_at = excluded.updated_at, address = excluded.address",
    )
    .bind(&member.id)
    .bind(&member.given_name)
    .bind(&member.family_name)
    .bind(&member.display_name)
    .bind(serde_json::to_string(&member.emails).unwrap_or_else(|_| "[]".into()))
    .bind(flag(member.active))
    .bind(&member.department)
    .bind(&member.location)
    .bind(member.allowed_locations.as_ref().map(|l| serde_json::to_string(l).unwrap_or_else(|_| "[]".into())))
    .bind(member.shift.map(|s| s.start_hour))
    .bind(member.shift.map(|s| s.end_hour))
    .bind(&now)
    .bind(&member.address)
    .execute(&mut *tx)
    .await?;
    let existing: Vec<(String,)> =
        sqlx::query_as("SELECT role FROM staff_roles WHERE staff_id = $1")
            .bind(&member.id)
            .fetch_all(&mut *tx)
            .await?;
    let roles_removed: Vec<String> = existing
        .iter()
        .map(|(role,)| role.clone())
        .filter(|role| !member.roles.contains(role))
        .collect();
    let roles_added: Vec<String> = member
        .roles
        .iter()
        .filter(|role| !existing.iter().any(|(e,)| e == *role))
        .cloned()
        .collect();
    for role in &roles_removed {
        sqlx::query("DELETE FROM staff_roles WHERE staff_id = $1 AND role = $2")
            .bind(&member.id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
    }
    for role in &roles_added {
        sqlx::query(
            "INSERT INTO staff_roles (staff_id, role, source, granted_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&member.id)
        .bind(role)
        .bind(source.as_str())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    write_credentials(tx, &member, source, &now).await?;
    Ok(StaffChange {
        was_active: before.map(|(active,)| active != 0),
        roles_added,
        roles_removed,
        withheld,
        member,
    })
}

/// Replaces a member's credentials. A credential whose kind and number are
/// unchanged keeps the source and time it was first recorded with.
async fn write_credentials(
    tx: &mut AnyConnection,
    member: &StaffMember,
    source: ChangeSource,
    now: &str,
) -> Result<(), StoreError> {
    let recorded: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT kind, number, source, recorded_at FROM credentials WHERE staff_id = $1",
    )
    .bind(&member.id)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM credentials WHERE staff_id = $1")
        .bind(&member.id)
        .execute(&mut *tx)
        .await?;
    for credential in &member.credentials {
        let earlier = recorded
            .iter()
            .find(|(kind, number, _, _)| *kind == credential.kind && *number == credential.number);
        let (from, at) = earlier
            .map(|(_, _, from, at)| (from.as_deref(), at.as_deref()))
            .unwrap_or_default();
        sqlx::query(
            "INSERT INTO credentials (staff_id, kind, number, status, expires_at, source, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&member.id)
        .bind(&credential.kind)
        .bind(&credential.number)
        .bind(credential.status.as_str())
        .bind(&credential.expires)
        .bind(from.unwrap_or(source.as_str()))
        .bind(at.unwrap_or(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| duplicate_as_invalid(e, &credential.kind))?;
    }
    Ok(())
}

fn duplicate_as_invalid(e: sqlx::Error, kind: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Invalid(format!("credential kind `{kind}` appears twice"))
        }
        _ => e.into(),
    }
}

fn staff_from_row(row: StaffRow) -> Result<StaffMember, StoreError> {
    let (
        id,
        given_name,
        family_name,
        display_name,
        emails,
        active,
        department,
        location,
        allowed,
        start,
        end,
        address,
    ) = row;
    Ok(StaffMember {
        id,
        given_name,
        family_name,
        display_name,
        emails: decode_json(&emails, "staff.emails")?,
        active: active != 0,
        department,
        location,
        address,
        allowed_locations: allowed
            .map(|a| decode_json(&a, "staff.allowed_locations"))
            .transpose()?,
        shift: start.zip(end).map(|(start_hour, end_hour)| Shift {
            start_hour,
            end_hour,
        }),
        roles: Vec::new(),
        credentials: Vec::new(),
    })
}
