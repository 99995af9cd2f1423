//! Signing keys: generated per ledger, sealed at rest under the master key
//! (see `hms-keys`), rotated with every old public key kept published.

use hms_keys::MasterKey;
use serde::Serialize;
use sqlx::{AnyConnection, AnyPool};

use super::LedgerError;
use crate::checkpoint::{LedgerKey, VerifierKey};
use crate::entry::{Event, Timestamp};
use crate::keyring::{self, PublishedVkey};

/// A public key as published: checkpoints it signed verify with `vkey`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublishedKey {
    /// The signed-note key id, 8 hex digits.
    pub key_id: String,
    /// The verifier key text (`origin+keyid+base64`).
    pub vkey: String,
    /// When it was generated.
    pub created_at: Timestamp,
    /// When it stopped signing, if it has.
    pub retired_at: Option<Timestamp>,
    /// The endorsement note by the key before it (see
    /// [`crate::keyring`]); none for the first key.
    pub endorsement: Option<String>,
}

impl PublishedKey {
    /// The key as the keyring reads it.
    pub fn as_vkey(&self) -> PublishedVkey {
        PublishedVkey {
            vkey: self.vkey.clone(),
            endorsement: self.endorsement.clone(),
        }
    }
}

/// The active signing key, generating and storing one if the ledger has none.
pub(crate) async fn active_or_generate(
    pool: &AnyPool,
    origin: &str,
    master: &MasterKey,
) -> Result<LedgerKey, LedgerError> {
    if let Some(key) = active(pool, origin, master).await? {
        return Ok(key);
    }
    let mut tx = pool.begin().await?;
    super::append::lock_head(&mut tx).await?;
    // Another node may have generated it while this one waited for the lock.
    if let Some(key) = active(&mut *tx, origin, master).await? {
        return Ok(key);
    }
    let key = LedgerKey::generate(origin);
    insert(&mut tx, &key, None, master).await?;
    tx.commit().await?;
    Ok(key)
}

async fn active<'c, E>(
    executor: E,
    origin: &str,
    master: &MasterKey,
) -> Result<Option<LedgerKey>, LedgerError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT vkey, sealed_seed FROM ledger_keys WHERE retired_at IS NULL \
         ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_optional(executor)
    .await?;
    let Some((vkey, sealed)) = row else {
        return Ok(None);
    };
    let key = LedgerKey::from_seed(origin, master.unseal(&sealed, &vkey)?);
    if key.verifier().to_string() != vkey {
        return Err(LedgerError::Corrupt(format!(
            "the stored signing key does not belong to `{origin}`"
        )));
    }
    Ok(Some(key))
}

async fn insert(
    conn: &mut AnyConnection,
    key: &LedgerKey,
    endorsed_by: Option<&LedgerKey>,
    master: &MasterKey,
) -> Result<PublishedKey, LedgerError> {
    let verifier = key.verifier();
    let published = PublishedKey {
        key_id: verifier.key_id_hex(),
        vkey: verifier.to_string(),
        created_at: Timestamp::now(),
        retired_at: None,
        endorsement: endorsed_by.map(|before| keyring::endorse(before, &verifier)),
    };
    sqlx::query(
        "INSERT INTO ledger_keys (key_id, vkey, sealed_seed, created_at, endorsement) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&published.key_id)
    .bind(&published.vkey)
    .bind(master.seal(&key.seed(), &published.vkey)?)
    .bind(published.created_at.unix_micros())
    .bind(published.endorsement.clone())
    .execute(&mut *conn)
    .await?;
    Ok(published)
}

/// Generates and stores a new key endorsed by `current` and retires the
/// others, inside the caller's transaction.
pub(crate) async fn rotate(
    conn: &mut AnyConnection,
    current: &LedgerKey,
    master: &MasterKey,
) -> Result<(LedgerKey, PublishedKey), LedgerError> {
    let key = LedgerKey::generate(current.name());
    let published = insert(conn, &key, Some(current), master).await?;
    sqlx::query("UPDATE ledger_keys SET retired_at = $1 WHERE retired_at IS NULL AND key_id <> $2")
        .bind(published.created_at.unix_micros())
        .bind(&published.key_id)
        .execute(&mut *conn)
        .await?;
    Ok((key, published))
}

/// The ledger entry that records a rotation.
pub(crate) fn rotation_event(published: &PublishedKey, actor: &str) -> Event {
    Event {
        kind: crate::EventKind::LedgerKeyRotate.as_str().into(),
        actor: Some(actor.to_owned()),
        action: Some("rotate_signing_key".into()),
        resource: Some(format!("ledger_key:{}", published.key_id)),
        outcome: Some(crate::EventOutcome::Success.as_str().into()),
        details: serde_json::json!({
            "key_id": published.key_id,
            "vkey": published.vkey,
            "endorsement": published.endorsement,
        }),
        ..Event::default()
    }
}

/// A `ledger_keys` row: key id, vkey, created, retired, endorsement.
type KeyRow = (String, String, i64, Option<i64>, Option<String>);

/// Every key, oldest first.
pub(crate) async fn published(pool: &AnyPool) -> Result<Vec<PublishedKey>, LedgerError> {
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT key_id, vkey, created_at, retired_at, endorsement FROM ledger_keys \
         ORDER BY created_at, key_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(key_id, vkey, created, retired, endorsement)| PublishedKey {
                key_id,
                vkey,
                created_at: Timestamp::from_unix_micros(created),
                retired_at: retired.map(Timestamp::from_unix_micros),
                endorsement,
            },
        )
        .collect())
}

/// The ledger's first key, which every later key chains to by endorsement:
/// what an online verification trusts when it is given no key.
pub(crate) fn first_key(keys: &[PublishedKey]) -> Result<Vec<VerifierKey>, LedgerError> {
    let Some(first) = keys.first() else {
        return Ok(Vec::new());
    };
    VerifierKey::parse(&first.vkey)
        .map(|key| vec![key])
        .map_err(|e| LedgerError::Corrupt(format!("published key {}: {e}", first.key_id)))
}
