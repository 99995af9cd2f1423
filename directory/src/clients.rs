//! API clients: the callers of a tenant's APIs and the hashes of their secrets.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::store::{TenantStore, decode_json};

/// An API client. The secret is never stored; only its password hash is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiClient {
    /// Client id, the part of a credential before the `.`.
    pub id: String,
    /// Who or what the client is, e.g. `emr-production`.
    pub name: String,
    /// Argon2id PHC string of the secret.
    #[serde(skip)]
    pub secret_hash: String,
    /// What it may call: `pdp`, `admin`.
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

type ClientRow = (String, String, String, String, String, Option<String>);

const CLIENT_COLUMNS: &str =
    "SELECT id, name, secret_hash, scopes, created_at, revoked_at FROM api_clients";

fn client_from_row(row: ClientRow) -> Result<ApiClient, StoreError> {
    let (id, name, secret_hash, scopes, created_at, revoked_at) = row;
    Ok(ApiClient {
        id,
        name,
        secret_hash,
        scopes: decode_json(&scopes, "api_clients.scopes")?,
        created_at,
        revoked_at,
    })
}

impl TenantStore {
    /// Stores a new client, in the caller's transaction.
    pub async fn insert_client(
        &self,
        tx: &mut AnyConnection,
        id: &str,
        name: &str,
        secret_hash: &str,
        scopes: &[String],
    ) -> Result<ApiClient, StoreError> {
        let created_at = now_rfc3339();
        let scopes_json = serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into());
        sqlx::query("INSERT INTO api_clients (id, name, secret_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(name)
            .bind(secret_hash)
            .bind(&scopes_json)
            .bind(&created_at)
            .execute(tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!("client `{id}`")),
                _ => e.into(),
            })?;
        Ok(ApiClient {
            id: id.to_owned(),
            name: name.to_owned(),
            secret_hash: secret_hash.to_owned(),
            scopes: scopes.to_vec(),
            created_at,
            revoked_at: None,
        })
    }

    /// Every client, revoked ones included.
    pub async fn list_clients(&self) -> Result<Vec<ApiClient>, StoreError> {
        let rows: Vec<ClientRow> = sqlx::query_as(&format!("{CLIENT_COLUMNS} ORDER BY id"))
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(client_from_row).collect()
    }

    /// Client `id` unless it is unknown or revoked.
    pub async fn active_client(&self, id: &str) -> Result<Option<ApiClient>, StoreError> {
        let row: Option<ClientRow> = sqlx::query_as(&format!(
            "{CLIENT_COLUMNS} WHERE id = $1 AND revoked_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(client_from_row).transpose()
    }

    /// Revokes a client, in the caller's transaction; it can no longer authenticate.
    pub async fn revoke_client(&self, tx: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE api_clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_rfc3339())
        .bind(id)
        .execute(tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("active client `{id}`")));
        }
        Ok(())
    }
}
