//! One tenant's database handle and the helpers its tables share.

use serde::de::DeserializeOwned;
use sqlx::AnyPool;

use crate::error::StoreError;

/// One tenant's database.
#[derive(Debug, Clone)]
pub struct TenantStore {
    pool: AnyPool,
}

impl TenantStore {
    /// Wraps an opened, migrated tenant pool.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A boolean as stored: 0 or 1.
pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// Decodes a JSON column.
pub(crate) fn decode_json<T: DeserializeOwned>(text: &str, column: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(column))
}
