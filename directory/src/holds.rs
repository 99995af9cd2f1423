//! Review holds: an entitlement an access review revoked stays revoked. SCIM,
//! HR and IdP feeds cannot grant it again; an administrator's explicit grant
//! lifts the hold (and the ledger records that grant).

use sqlx::AnyConnection;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::reviews::EntitlementKind;
use crate::sources::ChangeSource;
use crate::staff::member::{CredentialStatus, StaffMember};

/// One revoked entitlement kept revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Whose entitlement.
    pub staff_id: String,
    /// What kind of entitlement.
    pub kind: EntitlementKind,
    /// Role name, group id or credential kind.
    pub entitlement: String,
    /// The campaign that revoked it.
    pub campaign_id: String,
    /// The item within that campaign.
    pub item: i64,
}

/// Places holds in the caller's transaction; an entitlement already held
/// keeps its first hold.
pub async fn place_holds(tx: &mut AnyConnection, holds: &[Hold]) -> Result<(), StoreError> {
    let at = now_rfc3339();
    for hold in holds {
        sqlx::query(
            "INSERT INTO review_holds (staff_id, kind, entitlement, campaign_id, item, held_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (staff_id, kind, entitlement) DO NOTHING",
        )
        .bind(&hold.staff_id)
        .bind(hold.kind.as_str())
        .bind(&hold.entitlement)
        .bind(&hold.campaign_id)
        .bind(hold.item)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The `(kind, entitlement)` pairs held for one person.
async fn holds_of(
    tx: &mut AnyConnection,
    staff_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT kind, entitlement FROM review_holds WHERE staff_id = $1 ORDER BY kind, entitlement",
    )
    .bind(staff_id)
    .fetch_all(&mut *tx)
    .await?)
}

/// Applies the person's holds to a member about to be written by `source`,
/// in the caller's transaction. An automated feed loses the held roles it
/// would grant and sees held credentials suspended; these come back as
/// `kind:entitlement` strings. An administrator's grant of a held role, or
/// reinstatement of a held credential, lifts that hold instead.
pub(crate) async fn enforce_holds(
    tx: &mut AnyConnection,
    member: &mut StaffMember,
    source: ChangeSource,
) -> Result<Vec<String>, StoreError> {
    if source == ChangeSource::Review {
        return Ok(Vec::new());
    }
    let held = holds_of(tx, &member.id).await?;
    let is_held = |kind: EntitlementKind, name: &str| {
        held.iter().any(|(k, e)| k == kind.as_str() && e == name)
    };
    let mut withheld = Vec::new();
    let mut lifted = Vec::new();
    member.roles.retain(|role| {
        if !is_held(EntitlementKind::Role, role) {
            true
        } else if source == ChangeSource::Admin {
            lifted.push((EntitlementKind::Role, role.clone()));
            true
        } else {
            withheld.push(format!("role:{role}"));
            false
        }
    });
    for credential in &mut member.credentials {
        if !is_held(EntitlementKind::Credential, &credential.kind)
            || credential.status != CredentialStatus::Active
        {
            continue;
        }
        if source == ChangeSource::Admin {
            lifted.push((EntitlementKind::Credential, credential.kind.clone()));
        } else {
            credential.status = CredentialStatus::Suspended;
            withheld.push(format!("credential:{}", credential.kind));
        }
    }
    for (kind, entitlement) in lifted {
        sqlx::query(
            "DELETE FROM review_holds WHERE staff_id = $1 AND kind = $2 AND entitlement = $3",
        )
        .bind(&member.id)
        .bind(kind.as_str())
        .bind(&entitlement)
        .execute(&mut *tx)
        .await?;
    }
    Ok(withheld)
}
