//! The tenant catalog: which organisations this deployment serves.

use serde::Serialize;
use sqlx::AnyPool;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::ids::TenantId;

/// One tenant as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantRecord {
    /// Tenant id, as used in request paths.
    pub id: TenantId,
    /// Human-readable name.
    pub display_name: String,
    /// Local time offset from UTC, in minutes.
    pub utc_offset_minutes: i64,
    /// When it was created.
    pub created_at: String,
}

/// The catalog database.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: AnyPool,
}

impl Catalog {
    /// Wraps an opened, migrated catalog pool.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Every tenant, by id.
    pub async fn list(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT id, display_name, utc_offset_minutes, created_at FROM tenants ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, display_name, utc_offset_minutes, created_at)| {
                Ok(TenantRecord {
                    id: id.parse().map_err(|_| StoreError::Corrupt("tenants.id"))?,
                    display_name,
                    utc_offset_minutes,
                    created_at,
                })
            })
            .collect()
    }

    /// Registers a tenant; fails if the id is taken.
    pub async fn insert(
        &self,
        id: &TenantId,
        display_name: &str,
        utc_offset_minutes: i64,
    ) -> Result<TenantRecord, StoreError> {
        if !(-14 * 60..=14 * 60).contains(&utc_offset_minutes) {
            return Err(StoreError::Invalid(format!(
                "utc offset `{utc_offset_minutes}` minutes is out of range"
            )));
        }
        let created_at = now_rfc3339();
        let inserted = sqlx::query(
            "INSERT INTO tenants (id, display_name, utc_offset_minutes, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(display_name)
        .bind(utc_offset_minutes)
        .bind(&created_at)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("tenant `{id}`")));
        }
        Ok(TenantRecord {
            id: id.clone(),
            display_name: display_name.to_owned(),
            utc_offset_minutes,
            created_at,
        })
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
