//! The tenant catalog: which organisations this deployment serves.

use hms_audit_ledger::Timestamp;
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
    /// When it was suspended, if it is: every request to it is refused.
    pub suspended_at: Option<String>,
    /// Why it was suspended.
    pub suspended_reason: Option<String>,
}

/// A tenant whose scheduled work is due, as the catalog listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wakeup {
    /// The tenant.
    pub tenant: TenantId,
    /// How many times its wake-up time had been written when it was listed.
    pub rev: i64,
}

type RecordRow = (String, String, i64, String, Option<String>, Option<String>);

const RECORD_COLUMNS: &str = "SELECT id, display_name, utc_offset_minutes, created_at, \
     suspended_at, suspended_reason FROM tenants";

fn record_from_row(row: RecordRow) -> Result<TenantRecord, StoreError> {
    let (id, display_name, utc_offset_minutes, created_at, suspended_at, suspended_reason) = row;
    Ok(TenantRecord {
        id: id.parse().map_err(|_| StoreError::Corrupt("tenants.id"))?,
        display_name,
        utc_offset_minutes,
        created_at,
        suspended_at,
        suspended_reason,
    })
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

    /// The catalog database.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Every tenant, by id.
    pub async fn list(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows: Vec<RecordRow> = sqlx::query_as(&format!("{RECORD_COLUMNS} ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(record_from_row).collect()
    }

    /// Tenant `id`, if the catalog has it.
    pub async fn get(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        let row: Option<RecordRow> = sqlx::query_as(&format!("{RECORD_COLUMNS} WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(record_from_row).transpose()
    }

    /// Notes that tenant `id` has scheduled work at `at` (keeping an earlier time).
    pub async fn wake_at(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tenants SET wake_rev = wake_rev + 1, \
             wake_at = CASE WHEN wake_at IS NULL OR wake_at > $2 THEN $2 ELSE wake_at END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(at.unix_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tenants whose scheduled work is due at `now`, or not known yet.
    pub async fn due_for_work(&self, now: Timestamp) -> Result<Vec<Wakeup>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, wake_rev FROM tenants WHERE wake_at IS NULL OR wake_at <= $1 ORDER BY id",
        )
        .bind(now.unix_micros())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, rev)| {
                Ok(Wakeup {
                    tenant: id.parse().map_err(|_| StoreError::Corrupt("tenants.id"))?,
                    rev,
                })
            })
            .collect()
    }

    /// Records when the tenant of `woken` next has work (`None`: nothing
    /// scheduled), unless a write noted other work since it was woken.
    pub async fn sleep_until(
        &self,
        woken: &Wakeup,
        next: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let next = next.map_or(i64::MAX, |at| at.unix_micros());
        sqlx::query("UPDATE tenants SET wake_at = $1 WHERE id = $2 AND wake_rev = $3")
            .bind(next)
            .bind(woken.tenant.as_str())
            .bind(woken.rev)
            .execute(&self.pool)
            .await?;
        Ok(())
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
            "INSERT INTO tenants (id, display_name, utc_offset_minutes, created_at, wake_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(display_name)
        .bind(utc_offset_minutes)
        .bind(&created_at)
        // A new tenant has nothing scheduled.
        .bind(i64::MAX)
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
            suspended_at: None,
            suspended_reason: None,
        })
    }

    /// Suspends tenant `id` (`Some(reason)`) or serves it again (`None`);
    /// whether that changed anything.
    pub async fn set_suspended(
        &self,
        id: &TenantId,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = match reason {
            Some(reason) => {
                sqlx::query(
                    "UPDATE tenants SET suspended_at = $1, suspended_reason = $2 \
                     WHERE id = $3 AND suspended_at IS NULL",
                )
                .bind(now_rfc3339())
                .bind(reason)
                .bind(id.as_str())
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE tenants SET suspended_at = NULL, suspended_reason = NULL \
                     WHERE id = $1 AND suspended_at IS NOT NULL",
                )
                .bind(id.as_str())
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    /// The ids of the suspended tenants.
    pub async fn suspended(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM tenants WHERE suspended_at IS NOT NULL")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Stores an operator credential: its id, name and the SHA-256 of its secret.
    pub async fn insert_operator(
        &self,
        id: &str,
        name: &str,
        secret_sha256: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator_credentials (id, name, secret_sha256, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(secret_sha256)
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The name and secret digest of operator credential `id`, unless unknown or revoked.
    pub async fn operator(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, secret_sha256 FROM operator_credentials WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
