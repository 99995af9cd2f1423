//! Caller authentication: per-tenant API clients holding `client_id.secret` bearer credentials.
//!
//! Secrets are stored only as argon2id hashes. The first successful use of a
//! secret is checked against the hash; its SHA-256 is then kept in memory so
//! later requests are checked in constant time without the password hash cost.

use hms_keys::ShownOnce;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use hms_directory::{ApiClient, StoreError, TenantStore};

/// What a client may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Decisions and searches.
    Pdp,
    /// Policies, directory and clients.
    Admin,
    /// Reading the audit ledger: entries, checkpoints, proofs, exports.
    Audit,
    /// SCIM provisioning, and nothing else: a provisioning client holds this scope alone.
    Scim,
}

impl Scope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdp => "pdp",
            Self::Admin => "admin",
            Self::Audit => "audit",
            Self::Scim => "scim",
        }
    }

    /// Parses a stored or requested scope name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pdp" => Some(Self::Pdp),
            "admin" => Some(Self::Admin),
            "audit" => Some(Self::Audit),
            "scim" => Some(Self::Scim),
            _ => None,
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API client id.
    pub client_id: String,
}

/// Why a credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer credential")]
    Missing,
    /// Unknown client, wrong secret or revoked.
    #[error("invalid credential")]
    Invalid,
    /// Valid, but without the scope this route needs.
    #[error("this credential lacks the `{0}` scope")]
    Scope(&'static str),
}

/// A freshly issued credential; the secret is shown once and never stored.
pub struct IssuedCredential {
    /// Client id.
    pub client_id: String,
    /// `client_id.secret`, to send as a bearer token.
    pub token: ShownOnce,
    /// What to store.
    pub secret_hash: String,
}

/// Creates a client id and secret and hashes the secret.
pub fn issue_credential() -> Result<IssuedCredential, argon2::password_hash::Error> {
    let mut id_bytes = [0u8; 8];
    let mut secret_bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id_bytes);
    rand::rngs::OsRng.fill_bytes(&mut secret_bytes);
    let client_id = format!(
        "cl_{}",
        id_bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
    let salt = SaltString::generate(&mut OsRng);
    let secret_hash = Argon2::default()
        .hash_password(secret.as_bytes(), &salt)?
        .to_string();
    Ok(IssuedCredential {
        token: ShownOnce::new(format!("{client_id}.{secret}")),
        client_id,
        secret_hash,
    })
}

struct KnownClient {
    secret_hash: String,
    scopes: Vec<Scope>,
    /// SHA-256 of the secret once it has been verified against the hash.
    verified: OnceLock<[u8; 32]>,
    /// One password-hash check at a time per client: concurrent first uses
    /// wait for it and then compare digests.
    verifying: tokio::sync::Mutex<()>,
}

/// Password-hash checks running at once, at most: each takes ~19 MiB and a
/// core for tens of milliseconds, so a flood of guesses cannot exhaust the node.
static HASH_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// One tenant's active clients, in memory.
pub struct ClientTable {
    clients: ArcSwap<HashMap<String, Arc<KnownClient>>>,
    /// Bumped by every full re-read, so that a client read alone is not put
    /// back after a re-read that no longer lists it (revoked meanwhile).
    generation: AtomicU64,
}

impl ClientTable {
    /// Loads the tenant's active clients.
    pub async fn load(store: &TenantStore) -> Result<Self, StoreError> {
        let table = Self {
            clients: ArcSwap::from_pointee(HashMap::new()),
            generation: AtomicU64::new(0),
        };
        table.reload(store).await?;
        Ok(table)
    }

    /// Re-reads the clients (after a change here or by another process).
    pub async fn reload(&self, store: &TenantStore) -> Result<(), StoreError> {
        let listed = store.list_clients().await?;
        let current = self.clients.load();
        let next: HashMap<String, Arc<KnownClient>> = listed
            .into_iter()
            .filter(|c| c.revoked_at.is_none())
            .map(|c| {
                // Keep the verified digest of a client that did not change.
                let known = current
                    .get(&c.id)
                    .filter(|k| k.secret_hash == c.secret_hash)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(known_client(&c)));
                (c.id, known)
            })
            .collect();
        // Bumped before the store: a lone read racing this one then sees it.
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.clients.store(Arc::new(next));
        Ok(())
    }

    /// Checks a bearer token and the scope it needs.
    pub async fn authenticate(
        &self,
        store: &TenantStore,
        token: &str,
        needed: Scope,
    ) -> Result<Caller, AuthError> {
        let (client_id, secret) = token.split_once('.').ok_or(AuthError::Invalid)?;
        let client = match self.clients.load().get(client_id).cloned() {
            Some(client) => client,
            None => self
                .reload_for_unknown(store, client_id)
                .await
                .ok_or(AuthError::Invalid)?,
        };
        verify_secret(&client, secret).await?;
        if !client.scopes.contains(&needed) {
            return Err(AuthError::Scope(needed.as_str()));
        }
        Ok(Caller {
            client_id: client_id.to_owned(),
        })
    }

    /// Reads a client this node does not hold: created a moment ago on
    /// another node, before its change reached this one.
    async fn reload_for_unknown(
        &self,
        store: &TenantStore,
        client_id: &str,
    ) -> Option<Arc<KnownClient>> {
        let generation = self.generation.load(Ordering::Acquire);
        let stored = store.active_client(client_id).await.ok()??;
        let known = Arc::new(known_client(&stored));
        self.clients.rcu(|current| {
            let mut next = HashMap::clone(current);
            if self.generation.load(Ordering::Acquire) == generation {
                next.entry(stored.id.clone())
                    .or_insert_with(|| Arc::clone(&known));
            }
            next
        });
        self.clients.load().get(client_id).cloned()
    }
}

fn known_client(client: &ApiClient) -> KnownClient {
    KnownClient {
        secret_hash: client.secret_hash.clone(),
        scopes: client
            .scopes
            .iter()
            .filter_map(|s| Scope::parse(s))
            .collect(),
        verified: OnceLock::new(),
        verifying: tokio::sync::Mutex::new(()),
    }
}

async fn verify_secret(client: &Arc<KnownClient>, secret: &str) -> Result<(), AuthError> {
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let compare = |known: &[u8; 32]| {
        if bool::from(known.ct_eq(&digest)) {
            Ok(())
        } else {
            Err(AuthError::Invalid)
        }
    };
    if let Some(known) = client.verified.get() {
        return compare(known);
    }
    let _turn = client.verifying.lock().await;
    if let Some(known) = client.verified.get() {
        return compare(known);
    }
    let _permit = HASH_CHECKS
        .acquire()
        .await
        .map_err(|_| AuthError::Invalid)?;
    let client = Arc::clone(client);
    let secret = secret.to_owned();
    let checked = tokio::task::spawn_blocking(move || {
        let hash = PasswordHash::new(&client.secret_hash).ok()?;
        Argon2::default()
            .verify_password(secret.as_bytes(), &hash)
            .ok()?;
        let _ = client.verified.set(digest);
        Some(())
    })
    .await;
    match checked {
        Ok(Some(())) => Ok(()),
        _ => Err(AuthError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_credentials_verify_against_their_hash_only() {
        let issued = issue_credential().unwrap();
        let (id, secret) = issued.token.expose().split_once('.').unwrap();
        assert_eq!(id, issued.client_id);
        assert!(!issued.secret_hash.contains(secret));
        let hash = PasswordHash::new(&issued.secret_hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password(secret.as_bytes(), &hash)
                .is_ok()
        );
        assert!(Argon2::default().verify_password(b"guess", &hash).is_err());
    }

    #[tokio::test]
    async fn concurrent_first_uses_share_one_check_and_guesses_fail() {
        let issued = issue_credential().unwrap();
        let (_, secret) = issued.token.expose().split_once('.').unwrap();
        let client = Arc::new(KnownClient {
            secret_hash: issued.secret_hash.clone(),
            scopes: vec![Scope::Pdp],
            verified: OnceLock::new(),
            verifying: tokio::sync::Mutex::new(()),
        });
        let attempts: Vec<_> = (0..8)
            .map(|i| {
                let client = Arc::clone(&client);
                let secret = if i % 2 == 0 {
                    secret.to_owned()
                } else {
                    format!("guess-{i}")
                };
                tokio::spawn(
                    async move { (i % 2 == 0, verify_secret(&client, &secret).await.is_ok()) },
                )
            })
            .collect();
        for attempt in attempts {
            let (right, accepted) = attempt.await.unwrap();
            assert_eq!(right, accepted);
        }
        assert!(client.verified.get().is_some());
    }
}
