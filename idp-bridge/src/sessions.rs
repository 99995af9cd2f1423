//! Sessions: started by a login, promoted by the second factor, ended by
//! logout, an administrator, deprovisioning, idleness or age.
//!
//! Every active session is also held in memory so the PDP checks one without
//! touching the database: revocation on this node takes effect at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use sqlx::AnyPool;

use crate::error::IdentityError;
use crate::settings::IdentitySettings;
use crate::store::{digest, now, random_secret};

/// How long a login may wait for its second factor.
pub const MFA_PENDING_SECONDS: i64 = 300;

/// How often a node re-reads a session it is using: a revocation made on
/// another node takes effect here within this many seconds (at once on the
/// node that made it).
pub const RECHECK_SECONDS: i64 = 5;

/// The stage a session is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The IdP login succeeded; the second factor is awaited.
    MfaPending,
    /// Fully authenticated.
    Active,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::MfaPending => "mfa_pending",
            Self::Active => "active",
        }
    }
}

/// A session as the PDP and token endpoints see it.
#[derive(Debug)]
pub struct LiveSession {
    /// Session id (public; carried in tokens as `sid`).
    pub id: String,
    /// The staff member.
    pub staff_id: String,
    /// The identity provider that vouched for them.
    pub provider_id: String,
    /// Authentication methods (`oidc` or `saml`, then `otp`/`recovery`).
    pub amr: Vec<String>,
    /// Its stage.
    pub stage: Stage,
    /// When it ends whatever happens, Unix seconds.
    pub expires_at: i64,
    last_seen: AtomicI64,
    checked_at: AtomicI64,
    revoked: AtomicBool,
}

impl LiveSession {
    /// Whether a second factor was proven.
    pub fn mfa(&self) -> bool {
        self.amr.iter().any(|m| m == "otp" || m == "recovery")
    }
}

/// Why a session cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionProblem {
    /// No such session (or not on this node yet).
    Unknown,
    /// Ended by logout, an administrator or deprovisioning.
    Revoked,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Older than its absolute lifetime.
    Expired,
    /// Still waiting for the second factor.
    MfaPending,
}

impl SessionProblem {
    /// A machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Unknown => "session_unknown",
            Self::Revoked => "session_revoked",
            Self::Idle => "session_idle_expired",
            Self::Expired => "session_expired",
            Self::MfaPending => "session_mfa_pending",
        }
    }
}

/// A session row, for listings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionRecord {
    /// Session id.
    pub id: String,
    /// Staff member.
    pub staff_id: String,
    /// Identity provider.
    pub provider_id: String,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Stage.
    pub stage: String,
    /// Started, Unix seconds.
    pub created_at: i64,
    /// Last used (as recorded in the database), Unix seconds.
    pub last_seen_at: i64,
    /// Absolute end, Unix seconds.
    pub expires_at: i64,
    /// When revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

/// The sessions of one tenant.
#[derive(Debug, Default)]
pub struct SessionTable {
    live: RwLock<HashMap<String, Arc<LiveSession>>>,
}

type SessionRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
);
const SESSION_COLUMNS: &str = "id, staff_id, provider_id, amr, stage, created_at, last_seen_at, expires_at, revoked_at, revoked_reason";

fn record(row: SessionRow) -> SessionRecord {
    let (
        id,
        staff_id,
        provider_id,
        amr,
        stage,
        created_at,
        last_seen_at,
        expires_at,
        revoked_at,
        revoked_reason,
    ) = row;
    SessionRecord {
        id,
        staff_id,
        provider_id,
        amr: serde_json::from_str(&amr).unwrap_or_default(),
        stage,
        created_at,
        last_seen_at,
        expires_at,
        revoked_at,
        revoked_reason,
    }
}

fn live(record: &SessionRecord) -> Arc<LiveSession> {
    Arc::new(LiveSession {
        id: record.id.clone(),
        staff_id: record.staff_id.clone(),
        provider_id: record.provider_id.clone(),
        amr: record.amr.clone(),
        stage: if record.stage == "active" {
            Stage::Active
        } else {
            Stage::MfaPending
        },
        expires_at: record.expires_at,
        last_seen: AtomicI64::new(record.last_seen_at),
        checked_at: AtomicI64::new(now()),
        revoked: AtomicBool::new(record.revoked_at.is_some()),
    })
}

impl SessionTable {
    /// The sessions that are neither revoked nor past their absolute end.
    pub async fn load(pool: &AnyPool) -> Result<Self, IdentityError> {
        let rows: Vec<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE revoked_at IS NULL AND expires_at > $1"
        ))
        .bind(now())
        .fetch_all(pool)
        .await?;
        let table = Self::default();
        for row in rows {
            let session = live(&record(row));
            table.insert(session);
        }
        Ok(table)
    }

    fn insert(&self, session: Arc<LiveSession>) {
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        // Revoked sessions stay until their end so a late use is told it was revoked.
        let now = now();
        live.retain(|_, s| s.expires_at > now);
        live.insert(session.id.clone(), session);
    }

    fn get(&self, id: &str) -> Option<Arc<LiveSession>> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.get(id).cloned()
    }

    /// Starts a session for a login; returns it and its secret (shown once).
    pub async fn start(
        &self,
        pool: &AnyPool,
        staff_id: &str,
        provider_id: &str,
        amr: Vec<String>,
        stage: Stage,
        settings: &IdentitySettings,
    ) -> Result<(Arc<LiveSession>, String), IdentityError> {
        let now = now();
        let expires_at = match stage {
            Stage::MfaPending => now + MFA_PENDING_SECONDS,
            Stage::Active => now + settings.absolute_lifetime_seconds,
        };
        let session = SessionRecord {
            id: uuid::Uuid::now_v7().to_string(),
            staff_id: staff_id.to_owned(),
            provider_id: provider_id.to_owned(),
            amr,
            stage: stage.as_str().to_owned(),
            created_at: now,
            last_seen_at: now,
            expires_at,
            revoked_at: None,
            revoked_reason: None,
        };
        let secret = random_secret(32);
        sqlx::query(
            "INSERT INTO sessions (id, secret_hash, staff_id, provider_id, amr, stage, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        )
        .bind(&session.id)
        .bind(digest(&secret))
        .bind(&session.staff_id)
        .bind(&session.provider_id)
        .bind(serde_json::to_string(&session.amr).unwrap_or_default())
        .bind(&session.stage)
        .bind(now)
        .bind(expires_at)
        .execute(pool)
        .await?;
        let live = live(&session);
        self.insert(Arc::clone(&live));
        Ok((live, secret))
    }

    /// The usable session whose secret is `secret`, marked as used now.
    pub async fn by_secret(
        &self,
        pool: &AnyPool,
        secret: &str,
        settings: &IdentitySettings,
    ) -> Result<Arc<LiveSession>, SessionProblem> {
        let row: Option<(String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT id, revoked_at, last_seen_at FROM sessions WHERE secret_hash = $1",
        )
        .bind(digest(secret))
        .fetch_optional(pool)
        .await
        .map_err(|_| SessionProblem::Unknown)?;
        let (id, revoked_at, seen_elsewhere) = row.ok_or(SessionProblem::Unknown)?;
        let session = self.held_or_read(pool, &id).await?;
        // The database is the truth: another node may have ended the session
        // or seen it used since this node last did.
        if revoked_at.is_some() {
            session.revoked.store(true, Ordering::Release);
        }
        session
            .last_seen
            .fetch_max(seen_elsewhere, Ordering::Relaxed);
        let now = now();
        check(&session, settings, now)?;
        session.last_seen.store(now, Ordering::Relaxed);
        // Recorded so other nodes and restarts see the activity; best effort.
        let _ = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(pool)
            .await;
        Ok(session)
    }

    /// Session `id` as this node holds it, read from the database when it
    /// was started on another node.
    async fn held_or_read(
        &self,
        pool: &AnyPool,
        id: &str,
    ) -> Result<Arc<LiveSession>, SessionProblem> {
        if let Some(session) = self.get(id) {
            return Ok(session);
        }
        let found = self
            .load_one(pool, id)
            .await
            .map_err(|_| SessionProblem::Unknown)?;
        self.get(id)
            .filter(|_| found)
            .ok_or(SessionProblem::Unknown)
    }

    /// Re-reads session `id` if this node holds it: another node ended it
    /// or proved its second factor. A session it does not hold is read when
    /// first used.
    pub async fn reread(&self, pool: &AnyPool, id: &str) -> Result<(), IdentityError> {
        let Some(session) = self.get(id) else {
            return Ok(());
        };
        match Self::record(pool, id).await? {
            Some(record) if record.revoked_at.is_none() => {
                session
                    .last_seen
                    .fetch_max(record.last_seen_at, Ordering::Relaxed);
            }
            _ => session.revoked.store(true, Ordering::Release),
        }
        Ok(())
    }

    /// The ids of the sessions this node holds.
    pub fn held(&self) -> Vec<String> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.keys().cloned().collect()
    }

    /// Reads session `id` from the database when this node does not hold it
    /// (started on another node, or before a restart) and keeps it from then
    /// on; tells whether there was such a session.
    pub async fn load_one(&self, pool: &AnyPool, id: &str) -> Result<bool, IdentityError> {
        let Some(record) = Self::record(pool, id).await? else {
            return Ok(false);
        };
        self.insert(live(&record));
        Ok(true)
    }

    /// Re-reads `session` when this node has not for [`RECHECK_SECONDS`]:
    /// picks up a revocation made on another node, and records the activity
    /// this node saw so other nodes do not take the session for idle.
    pub async fn recheck(
        &self,
        pool: &AnyPool,
        session: &LiveSession,
    ) -> Result<(), IdentityError> {
        let now = now();
        if now - session.checked_at.load(Ordering::Relaxed) < RECHECK_SECONDS {
            return Ok(());
        }
        session.checked_at.store(now, Ordering::Relaxed);
        let seen = session.last_seen.load(Ordering::Relaxed);
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(seen)
            .bind(&session.id)
            .execute(pool)
            .await?;
        let row: Option<(Option<i64>, i64)> =
            sqlx::query_as("SELECT revoked_at, last_seen_at FROM sessions WHERE id = $1")
                .bind(&session.id)
                .fetch_optional(pool)
                .await?;
        match row {
            Some((None, seen_elsewhere)) => {
                session
                    .last_seen
                    .fetch_max(seen_elsewhere, Ordering::Relaxed);
            }
            _ => session.revoked.store(true, Ordering::Release),
        }
        Ok(())
    }

    /// Checks session `id` for a decision and marks it used; no database access.
    pub fn touch(
        &self,
        id: &str,
        settings: &IdentitySettings,
    ) -> Result<Arc<LiveSession>, SessionProblem> {
        let session = self.get(id).ok_or(SessionProblem::Unknown)?;
        let now = now();
        check(&session, settings, now)?;
        if session.stage != Stage::Active {
            return Err(SessionProblem::MfaPending);
        }
        session.last_seen.store(now, Ordering::Relaxed);
        Ok(session)
    }

    /// Ends session `id`; tells whether it was live.
    pub async fn revoke(
        &self,
        pool: &AnyPool,
        id: &str,
        reason: &str,
    ) -> Result<bool, IdentityError> {
        if let Some(session) = self.get(id) {
            session.revoked.store(true, Ordering::Release);
        }
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(reason)
        .bind(id)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of `staff_id`; returns the ids ended.
    pub async fn revoke_staff(
        &self,
        pool: &AnyPool,
        staff_id: &str,
        reason: &str,
    ) -> Result<Vec<String>, IdentityError> {
        let ids: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM sessions WHERE staff_id = $1 AND revoked_at IS NULL")
                .bind(staff_id)
                .fetch_all(pool)
                .await?;
        let mut ended = Vec::new();
        for (id,) in ids {
            if self.revoke(pool, &id, reason).await? {
                ended.push(id);
            }
        }
        Ok(ended)
    }

    /// Finishes the second factor: the pending session `id` becomes active,
    /// with `method` added and a new secret (the old one stops working).
    pub async fn promote(
        &self,
        pool: &AnyPool,
        id: &str,
        method: &str,
        settings: &IdentitySettings,
    ) -> Result<(Arc<LiveSession>, String), IdentityError> {
        let pending = self.get(id).ok_or_else(|| {
            IdentityError::refused("session_unknown", "no login is waiting for a second factor")
        })?;
        let mut amr = pending.amr.clone();
        amr.push(method.to_owned());
        self.revoke(pool, id, "second factor proven").await?;
        self.start(
            pool,
            &pending.staff_id,
            &pending.provider_id,
            amr,
            Stage::Active,
            settings,
        )
        .await
    }

    /// One session record.
    pub async fn record(pool: &AnyPool, id: &str) -> Result<Option<SessionRecord>, IdentityError> {
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await?;
        Ok(row.map(record))
    }

    /// Session records, newest first, optionally of one staff member.
    pub async fn list(
        pool: &AnyPool,
        staff_id: Option<&str>,
    ) -> Result<Vec<SessionRecord>, IdentityError> {
        let rows: Vec<SessionRow> = match staff_id {
            Some(staff) => sqlx::query_as(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE staff_id = $1 ORDER BY id DESC LIMIT 500"
            ))
            .bind(staff)
            .fetch_all(pool)
            .await?,
            None => sqlx::query_as(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id DESC LIMIT 500"
            ))
            .fetch_all(pool)
            .await?,
        };
        Ok(rows.into_iter().map(record).collect())
    }
}

/// Whether `session` may be used at `now`.
fn check(
    session: &LiveSession,
    settings: &IdentitySettings,
    now: i64,
) -> Result<(), SessionProblem> {
    if session.revoked.load(Ordering::Acquire) {
        return Err(SessionProblem::Revoked);
    }
    if now >= session.expires_at {
        return Err(SessionProblem::Expired);
    }
    if now - session.last_seen.load(Ordering::Relaxed) > settings.idle_timeout_seconds {
        return Err(SessionProblem::Idle);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: i64 = 900;

    fn session(last_seen: i64, expires_at: i64) -> LiveSession {
        LiveSession {
            id: "s".into(),
            staff_id: "nurse-1".into(),
            provider_id: "okta".into(),
            amr: vec!["oidc".into(), "otp".into()],
            stage: Stage::Active,
            expires_at,
            last_seen: AtomicI64::new(last_seen),
            checked_at: AtomicI64::new(last_seen),
            revoked: AtomicBool::new(false),
        }
    }

    fn settings() -> IdentitySettings {
        IdentitySettings {
            idle_timeout_seconds: IDLE,
            ..IdentitySettings::default()
        }
    }

    #[test]
    fn a_session_unused_for_longer_than_the_idle_timeout_ends() {
        let s = session(1_000, 100_000);
        assert_eq!(check(&s, &settings(), 1_000 + IDLE), Ok(()));
        assert_eq!(
            check(&s, &settings(), 1_001 + IDLE),
            Err(SessionProblem::Idle)
        );
    }

    #[test]
    fn a_session_ends_at_its_absolute_lifetime_however_active() {
        let s = session(4_999, 5_000);
        assert_eq!(check(&s, &settings(), 5_000), Err(SessionProblem::Expired));
    }

    #[test]
    fn revocation_outranks_everything_else() {
        let s = session(1_000, 100_000);
        s.revoked.store(true, Ordering::Release);
        assert_eq!(check(&s, &settings(), 1_000), Err(SessionProblem::Revoked));
        assert!(s.mfa());
    }
}
