//! A tenant's HR settings (job-to-role mapping, manager notification URL) and
//! webhook secrets, stored sealed: sealing is the caller's (it holds the master key).

use hms_audit_ledger::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::protocol::error::ScimError;
use crate::store::ProvisioningError;

/// Roles granted to holders of a job code, optionally only in one department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRoles {
    /// The HR job code, compared case-insensitively.
    pub job_code: String,
    /// Only in this department, when given.
    #[serde(default)]
    pub department: Option<String>,
    /// HMS roles granted.
    pub roles: Vec<String>,
}

/// HR settings of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HrSettings {
    /// Job code (and department) to roles.
    #[serde(default)]
    pub job_roles: Vec<JobRoles>,
    /// Where manager notifications are sent, signed like incoming events.
    #[serde(default)]
    pub notify_url: Option<String>,
}

impl HrSettings {
    /// The roles a job code grants in a department.
    pub fn roles_for(&self, job_code: Option<&str>, department: Option<&str>) -> Vec<String> {
        let Some(job_code) = job_code else {
            return Vec::new();
        };
        let mut roles: Vec<String> = self
            .job_roles
            .iter()
            .filter(|m| m.job_code.eq_ignore_ascii_case(job_code))
            .filter(|m| m.department.is_none() || m.department.as_deref() == department)
            .flat_map(|m| m.roles.iter().cloned())
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    fn check(&self) -> Result<(), ScimError> {
        for mapping in &self.job_roles {
            if let Some(bad) = mapping.roles.iter().find(|r| !hms_directory::valid_role(r)) {
                return Err(ScimError::invalid_value(format!(
                    "`{bad}` is not a valid role name (lowercase letters, digits, `_`)"
                )));
            }
        }
        if let Some(url) = &self.notify_url {
            let parsed = url::Url::parse(url)
                .map_err(|_| ScimError::invalid_value(format!("`{url}` is not a URL")))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(ScimError::invalid_value("`notify_url` is an http(s) URL"));
            }
        }
        Ok(())
    }
}

/// The settings in force (defaults when never set).
pub async fn settings(conn: &mut AnyConnection) -> Result<HrSettings, ProvisioningError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT job_roles, notify_url FROM hr_settings WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    let Some((job_roles, notify_url)) = row else {
        return Ok(HrSettings::default());
    };
    let job_roles = serde_json::from_str(&job_roles)
        .map_err(|_| ProvisioningError::Corrupt("hr_settings.job_roles"))?;
    Ok(HrSettings {
        job_roles,
        notify_url,
    })
}

/// Replaces the settings.
pub async fn put_settings(
    conn: &mut AnyConnection,
    settings: &HrSettings,
) -> Result<(), ProvisioningError> {
    settings.check()?;
    let job_roles = serde_json::to_string(&settings.job_roles).unwrap_or_else(|_| "[]".into());
    sqlx::query("DELETE FROM hr_settings WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO hr_settings (id, job_roles, notify_url, updated_at) VALUES (1, $1, $2, $3)",
    )
    .bind(job_roles)
    .bind(&settings.notify_url)
    .bind(crate::store::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A stored (sealed) webhook secret.
#[derive(Debug, Clone)]
pub struct SealedSecret {
    /// Secret id, the sealing context.
    pub id: String,
    /// Base64 of the sealed secret.
    pub sealed: String,
}

/// Secrets valid now: the current one and any still in their grace period.
pub async fn valid_secrets(
    conn: &mut AnyConnection,
) -> Result<Vec<SealedSecret>, ProvisioningError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, sealed FROM hr_secrets WHERE valid_until IS NULL OR valid_until > $1 ORDER BY created_at DESC",
    )
    .bind(crate::store::now())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, sealed)| SealedSecret { id, sealed })
        .collect())
}

/// Adds a new current secret; the ones before stay valid until `grace_until`.
pub async fn add_secret(
    conn: &mut AnyConnection,
    secret: &SealedSecret,
    grace_until: Timestamp,
) -> Result<(), ProvisioningError> {
    sqlx::query("UPDATE hr_secrets SET valid_until = $1 WHERE valid_until IS NULL")
        .bind(grace_until.to_rfc3339())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO hr_secrets (id, sealed, created_at) VALUES ($1, $2, $3)")
        .bind(&secret.id)
        .bind(&secret.sealed)
        .bind(crate::store::now())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
