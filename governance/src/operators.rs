//! The platform, outside every tenant: operators create, list, suspend and
//! resume tenants with a credential of their own, and each of these acts is
//! recorded in the platform's ledger (kept in the catalog database, signed
//! and verified like a tenant's).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hms_audit_ledger::{Event, EventKind};
use hms_directory::TenantId;
use hms_keys::ShownOnce;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::audit::{Actor, Provenance};
use crate::tenancy::{ChangeError, Tenants};

/// A checked operator credential: who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The credential's id.
    pub id: String,
    /// Its holder, as named when it was issued.
    pub name: String,
}

impl Operator {
    /// Provenance for what this operator does.
    pub fn provenance(&self) -> Provenance {
        Provenance::local(Actor::Operator(self.id.clone()))
    }
}

/// Issues an operator credential for `name`; its token (`{id}.{secret}`) is
/// shown once, and only a digest of the secret is kept.
pub async fn issue(
    tenants: &Tenants,
    name: &str,
    by: &Provenance,
) -> Result<ShownOnce, ChangeError> {
    let id = format!("op-{}", uuid::Uuid::new_v4().simple());
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    tenants
        .catalog()
        .insert_operator(&id, name, &digest(&secret))
        .await?;
    let event = Event {
        action: Some("issue_operator_credential".into()),
        resource: Some(format!("operator:{id}")),
        details: json!({ "name": name }),
        ..by.event(EventKind::OperatorCredentialIssue)
    };
    tenants.platform().append(event).await?;
    Ok(ShownOnce::new(format!("{id}.{secret}")))
}

/// The operator whose token is `token`; `None` when it is unknown, revoked
/// or its secret does not match (compared in constant time).
pub async fn authenticate(tenants: &Tenants, token: &str) -> Result<Option<Operator>, ChangeError> {
    let Some((id, secret)) = token.split_once('.') else {
        return Ok(None);
    };
    let Some((name, stored)) = tenants.catalog().operator(id).await? else {
        return Ok(None);
    };
    let matches: bool = digest(secret).as_bytes().ct_eq(stored.as_bytes()).into();
    Ok(matches.then(|| Operator {
        id: id.to_owned(),
        name,
    }))
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Suspends tenant `id` on every node, recorded in the platform ledger;
/// whether it was serving until now.
pub async fn suspend(
    tenants: &Tenants,
    id: &TenantId,
    reason: &str,
    by: &Provenance,
) -> Result<bool, ChangeError> {
    let changed = tenants.set_suspended(id, Some(reason)).await?;
    if changed {
        let details = json!({ "reason": reason });
        tenants
            .platform()
            .append(tenant_event(by, EventKind::TenantSuspend, id, details))
            .await?;
    }
    Ok(changed)
}

/// Serves a suspended tenant again, recorded in the platform ledger;
/// whether it was suspended until now.
pub async fn resume(
    tenants: &Tenants,
    id: &TenantId,
    by: &Provenance,
) -> Result<bool, ChangeError> {
    let changed = tenants.set_suspended(id, None).await?;
    if changed {
        tenants
            .platform()
            .append(tenant_event(by, EventKind::TenantResume, id, json!({})))
            .await?;
    }
    Ok(changed)
}

fn tenant_event(
    by: &Provenance,
    kind: EventKind,
    id: &TenantId,
    details: serde_json::Value,
) -> Event {
    Event {
        action: Some(kind.as_str().replace('.', "_")),
        resource: Some(format!("tenant:{id}")),
        details,
        ..by.event(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_kept_as_its_sha256_in_hex() {
        let kept = digest("s3cret");
        assert_eq!(kept.len(), 64);
        assert_ne!(kept, digest("s3cret "));
    }
}
