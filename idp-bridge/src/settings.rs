//! A tenant's identity settings: second factor, session timeouts, lockout and
//! just-in-time creation. The HMS default requires MFA for all staff.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool};

use crate::error::IdentityError;
use crate::store::now;

/// What a tenant decides about logins and sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySettings {
    /// Staff must prove a TOTP second factor before a session is issued.
    pub mfa_required: bool,
    /// A session unused this long ends (automatic logoff).
    pub idle_timeout_seconds: i64,
    /// A session ends this long after login, however active.
    pub absolute_lifetime_seconds: i64,
    /// Lifetime of each signed session token.
    pub token_lifetime_seconds: i64,
    /// Failed second-factor attempts in a row before the factor locks.
    pub mfa_max_failures: i64,
    /// How long a locked second factor stays locked.
    pub mfa_lockout_seconds: i64,
    /// Create a staff member on first login when the directory has none.
    pub just_in_time: bool,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            mfa_required: true,
            idle_timeout_seconds: 15 * 60,
            absolute_lifetime_seconds: 12 * 60 * 60,
            token_lifetime_seconds: 5 * 60,
            mfa_max_failures: 5,
            mfa_lockout_seconds: 15 * 60,
            just_in_time: false,
        }
    }
}

impl IdentitySettings {
    /// Checks every value is in a range a hospital could mean.
    pub fn check(&self) -> Result<(), IdentityError> {
        let within = |value: i64, low: i64, high: i64, name: &str| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(IdentityError::invalid(
                    "invalid_settings",
                    format!("{name} must be between {low} and {high}"),
                ))
            }
        };
        within(
            self.idle_timeout_seconds,
            60,
            24 * 3600,
            "idle_timeout_seconds",
        )?;
        within(
            self.absolute_lifetime_seconds,
            self.idle_timeout_seconds,
            7 * 24 * 3600,
            "absolute_lifetime_seconds",
        )?;
        within(
            self.token_lifetime_seconds,
            30,
            3600,
            "token_lifetime_seconds",
        )?;
        within(self.mfa_max_failures, 1, 100, "mfa_max_failures")?;
        within(
            self.mfa_lockout_seconds,
            30,
            24 * 3600,
            "mfa_lockout_seconds",
        )
    }
}

/// The tenant's settings, or the defaults when none were stored.
pub async fn load(pool: &AnyPool) -> Result<IdentitySettings, IdentityError> {
    let mut conn = pool.acquire().await?;
    load_in(&mut conn).await
}

/// [`load`] on the caller's connection (in a change's transaction).
pub async fn load_in(conn: &mut AnyConnection) -> Result<IdentitySettings, IdentityError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT settings FROM identity_settings WHERE id = 1")
            .fetch_optional(conn)
            .await?;
    match row {
        None => Ok(IdentitySettings::default()),
        Some((text,)) => serde_json::from_str(&text)
            .map_err(|_| IdentityError::invalid("corrupt_settings", "stored settings unreadable")),
    }
}

/// Checks and stores the tenant's settings, in the caller's transaction.
pub async fn save(
    tx: &mut AnyConnection,
    settings: &IdentitySettings,
) -> Result<(), IdentityError> {
    settings.check()?;
    let text = serde_json::to_string(settings).unwrap_or_default();
    sqlx::query("DELETE FROM identity_settings WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO identity_settings (id, settings, updated_at) VALUES (1, $1, $2)")
        .bind(text)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    Ok(())
}
