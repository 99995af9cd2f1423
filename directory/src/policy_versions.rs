//! Versions of a tenant's policy bundle: every upload and rollback is a new version.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::precondition::{Precondition, policy_tag};
use crate::store::TenantStore;

/// One stored version of a tenant's bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PolicyVersion {
    /// Version number, from 1, increasing.
    pub version: i64,
    /// The bundle source as JSON text.
    #[serde(skip)]
    pub source: String,
    /// Who made it.
    pub author: String,
    /// Why.
    pub comment: String,
    /// When.
    pub created_at: String,
}

type VersionRow = (i64, String, String, String, String);

const COLUMNS: &str = "SELECT version, source, author, comment, created_at FROM policy_versions";

impl TenantStore {
    /// Stores a new version after the latest, in the caller's transaction, and returns it.
    pub async fn insert_policy_version(
        &self,
        tx: &mut AnyConnection,
        source: &str,
        author: &str,
        comment: &str,
        based_on: &Precondition,
    ) -> Result<PolicyVersion, StoreError> {
        let (latest,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM policy_versions")
            .fetch_one(&mut *tx)
            .await?;
        let latest = latest.unwrap_or(0);
        based_on.check(&policy_tag(latest))?;
        let version = latest + 1;
        let created_at = now_rfc3339();
        sqlx::query("INSERT INTO policy_versions (version, source, author, comment, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(version)
            .bind(source)
            .bind(author)
            .bind(comment)
            .bind(&created_at)
            .execute(&mut *tx)
            .await?;
        Ok(PolicyVersion {
            version,
            source: source.to_owned(),
            author: author.to_owned(),
            comment: comment.to_owned(),
            created_at,
        })
    }

    /// The version in force: the latest.
    pub async fn latest_policy_version(&self) -> Result<Option<PolicyVersion>, StoreError> {
        let row: Option<VersionRow> =
            sqlx::query_as(&format!("{COLUMNS} ORDER BY version DESC LIMIT 1"))
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(version_from_row))
    }

    /// One version.
    pub async fn policy_version(&self, version: i64) -> Result<PolicyVersion, StoreError> {
        let row: Option<VersionRow> = sqlx::query_as(&format!("{COLUMNS} WHERE version = $1"))
            .bind(version)
            .fetch_optional(self.pool())
            .await?;
        row.map(version_from_row)
            .ok_or_else(|| StoreError::NotFound(format!("policy version {version}")))
    }

    /// Every version, newest first.
    pub async fn list_policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        let rows: Vec<VersionRow> = sqlx::query_as(&format!("{COLUMNS} ORDER BY version DESC"))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(version_from_row).collect())
    }
}

fn version_from_row((version, source, author, comment, created_at): VersionRow) -> PolicyVersion {
    PolicyVersion {
        version,
        source,
        author,
        comment,
        created_at,
    }
}
