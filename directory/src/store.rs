//! One tenant's database handle and the helpers its tables share.

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, FromRow};

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

    /// The tenant's connection pool (the ledger shares it).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection of the pool, for reads that span several queries.
    pub async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Rows of `select` (which has a `WHERE` clause) for every record, or only for
    /// those whose `key` column is one of `ids`, ordered by `order`.
    pub(crate) async fn rows_for<T>(
        &self,
        select: &str,
        key: &str,
        order: &str,
        ids: Option<&[String]>,
    ) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let Some(ids) = ids else {
            return Ok(sqlx::query_as(&format!("{select} ORDER BY {order}"))
                .fetch_all(&self.pool)
                .await?);
        };
        let filtered = format!("{select} AND {key} = $1 ORDER BY {order}");
        let mut rows = Vec::new();
        for id in ids {
            rows.extend(
                sqlx::query_as::<_, T>(&filtered)
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?,
            );
        }
        Ok(rows)
    }
}

/// A boolean as stored: 0 or 1.
pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// Decodes a JSON column.
pub(crate) fn decode_json<T: DeserializeOwned>(
    text: &str,
    column: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(column))
}
