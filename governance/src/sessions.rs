//! Staff sessions once the IdP has vouched: the TOTP second factor enrolled
//! and proven, signed session tokens issued and refreshed, logout, and the
//! check made of a session token wherever one is presented (the PDP, the
//! gates, introspection). Every step that matters is recorded in the ledger.

use hms_audit_ledger::{EventKind, EventOutcome};
use hms_directory::Change;
use hms_keys::ShownOnce;
use std::sync::Arc;

use hms_idp_bridge::IdentityError;
use hms_idp_bridge::mfa::{self, Enrolment, Proof};
use hms_idp_bridge::sessions::{LiveSession, SessionProblem, Stage};
use hms_idp_bridge::store::now;
use hms_idp_bridge::tokens::{AUDIENCE, SessionClaims};
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Provenance};
use crate::tenancy::{ChangeError, Tenant};

/// Why a session could not be used; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session is unknown, ended, idle, expired or still awaiting its second factor.
    #[error("{}", describe(*.0))]
    Refused(SessionProblem),
    /// A second factor was offered for a session that is not waiting for one.
    #[error("this session is not waiting for a second factor")]
    NotPending,
    /// The change could not be made or recorded.
    #[error(transparent)]
    Change(#[from] ChangeError),
}

impl From<IdentityError> for SessionError {
    fn from(e: IdentityError) -> Self {
        Self::Change(e.into())
    }
}

impl From<hms_audit_ledger::store::LedgerError> for SessionError {
    fn from(e: hms_audit_ledger::store::LedgerError) -> Self {
        Self::Change(e.into())
    }
}

impl From<hms_directory::StoreError> for SessionError {
    fn from(e: hms_directory::StoreError) -> Self {
        Self::Change(e.into())
    }
}

impl SessionError {
    /// The machine-readable code the refusal is answered and recorded with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(problem) => problem.code(),
            Self::NotPending => "mfa_not_pending",
            Self::Change(ChangeError::Identity(e)) => e.code(),
            Self::Change(_) => "internal",
        }
    }
}

fn describe(problem: SessionProblem) -> &'static str {
    match problem {
        SessionProblem::Unknown => "no such session",
        SessionProblem::Revoked => "the session was ended",
        SessionProblem::Idle => "the session ended after inactivity",
        SessionProblem::Expired => "the session reached its maximum lifetime",
        SessionProblem::MfaPending => "the session still awaits its second factor",
    }
}

/// A signed session token and how long it lasts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccessToken {
    /// The signed token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// A completed login: the session, its secret and a first token.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Authenticated {
    /// Always `authenticated`.
    pub status: &'static str,
    /// The session's id.
    pub session_id: String,
    /// The session's secret, for refresh and logout.
    pub session_token: ShownOnce,
    /// A first signed token.
    #[serde(flatten)]
    pub token: AccessToken,
    /// When the session ends whatever happens (Unix seconds).
    pub session_expires_at: i64,
    /// After how long unused the session ends.
    pub idle_timeout_seconds: i64,
    /// How the person authenticated (`pwd`, `otp`…).
    pub amr: Vec<String>,
}

/// A signed session token for `session`.
pub fn issue_token(
    tenant: &Tenant,
    session: &LiveSession,
    roles: Vec<String>,
) -> Result<AccessToken, SessionError> {
    let now = now();
    let lifetime = tenant.identity.settings().token_lifetime_seconds;
    let exp = (now + lifetime).min(session.expires_at);
    let claims = SessionClaims {
        iss: tenant.issuer().to_owned(),
        sub: session.staff_id.clone(),
        aud: AUDIENCE.into(),
        iat: now,
        exp,
        jti: uuid::Uuid::new_v4().to_string(),
        tid: tenant.id().to_owned(),
        sid: session.id.clone(),
        roles,
        amr: session.amr.clone(),
        mfa: session.mfa(),
    };
    Ok(AccessToken {
        access_token: tenant.identity.keys().issue(&claims)?,
        token_type: "Bearer",
        expires_in: exp - now,
    })
}

/// The answer to a completed login.
pub fn authenticated(
    tenant: &Tenant,
    session: &LiveSession,
    secret: String,
    roles: Vec<String>,
) -> Result<Authenticated, SessionError> {
    Ok(Authenticated {
        status: "authenticated",
        session_id: session.id.clone(),
        session_token: ShownOnce::new(secret),
        token: issue_token(tenant, session, roles)?,
        session_expires_at: session.expires_at,
        idle_timeout_seconds: tenant.identity.settings().idle_timeout_seconds,
        amr: session.amr.clone(),
    })
}

/// The session whose secret is `secret`, if it can be used.
pub async fn by_secret(tenant: &Tenant, secret: &str) -> Result<Arc<LiveSession>, SessionError> {
    let settings = tenant.identity.settings();
    tenant
        .identity
        .sessions
        .by_secret(tenant.store.pool(), secret, &settings)
        .await
        .map_err(SessionError::Refused)
}

/// The login waiting for its second factor whose secret is `secret`.
pub async fn pending(tenant: &Tenant, secret: &str) -> Result<Arc<LiveSession>, SessionError> {
    let session = by_secret(tenant, secret).await?;
    if session.stage != Stage::MfaPending {
        return Err(SessionError::NotPending);
    }
    Ok(session)
}

/// Enrols a new TOTP factor for a login awaiting its second factor, and records it.
pub async fn enrol_factor(
    tenant: &Tenant,
    session: &LiveSession,
    by: &Provenance,
) -> Result<Enrolment, SessionError> {
    let issuer = format!("HMS-ACH {}", tenant.record.display_name);
    let enrolment = mfa::enrol(
        tenant.store.pool(),
        tenant.master_key(),
        tenant.id(),
        &session.staff_id,
        &issuer,
    )
    .await?;
    let event = audit::identity_event(
        by,
        EventKind::MfaEnrol,
        Some(&session.staff_id),
        EventOutcome::Success,
        json!({ "method": "totp" }),
    );
    tenant.ledger.append_all(vec![event]).await?;
    Ok(enrolment)
}

/// Checks a second-factor proof for a login awaiting it and, when it holds,
/// turns the login into a session with a new secret; failures and lockouts
/// are recorded.
pub async fn prove_factor(
    tenant: &Tenant,
    session: &LiveSession,
    proof: &Proof,
    by: &Provenance,
) -> Result<(Arc<LiveSession>, String), SessionError> {
    let settings = tenant.identity.settings();
    let pool = tenant.store.pool();
    let staff = Some(session.staff_id.as_str());
    let verified = mfa::verify(
        pool,
        tenant.master_key(),
        tenant.id(),
        &session.staff_id,
        proof,
        &settings,
    )
    .await;
    let proven = match verified {
        Ok(proven) => proven,
        Err(error) => {
            let mut events = vec![audit::identity_event(
                by,
                EventKind::MfaVerify,
                staff,
                EventOutcome::Failure,
                json!({ "reason": error.to_string() }),
            )];
            if let IdentityError::Locked {
                until,
                just_locked: true,
            } = error
            {
                events.push(audit::identity_event(
                    by,
                    EventKind::MfaLockout,
                    staff,
                    EventOutcome::Success,
                    json!({ "locked_until": until, "after_failures": settings.mfa_max_failures }),
                ));
            }
            tenant.ledger.append_all(events).await?;
            return Err(error.into());
        }
    };
    let (active, secret) = tenant
        .identity
        .sessions
        .promote(pool, &session.id, proven.method, &settings)
        .await?;
    tenant
        .publish(&[Change::Session(session.id.clone())])
        .await?;
    let details = json!({ "method": proven.method, "confirmed_enrolment": proven.confirmed_enrolment, "session_id": active.id });
    let event = audit::identity_event(
        by,
        EventKind::MfaVerify,
        staff,
        EventOutcome::Success,
        details,
    );
    tenant.ledger.append_all(vec![event]).await?;
    Ok((active, secret))
}

/// The roles a staff member holds now, for their token.
pub async fn staff_roles(tenant: &Tenant, staff_id: &str) -> Result<Vec<String>, SessionError> {
    let members = tenant
        .store
        .load_staff(Some(&[staff_id.to_owned()]))
        .await?;
    Ok(members
        .into_iter()
        .next()
        .map(|m| m.roles)
        .unwrap_or_default())
}

/// A fresh signed token for an active session.
pub async fn refresh(tenant: &Tenant, session: &LiveSession) -> Result<AccessToken, SessionError> {
    if session.stage != Stage::Active {
        return Err(SessionError::Refused(SessionProblem::MfaPending));
    }
    let roles = staff_roles(tenant, &session.staff_id).await?;
    issue_token(tenant, session, roles)
}

/// Ends `session`, recorded in the ledger.
pub async fn logout(
    tenant: &Tenant,
    session: &LiveSession,
    by: &Provenance,
) -> Result<(), SessionError> {
    tenant
        .identity
        .sessions
        .revoke(tenant.store.pool(), &session.id, "logout")
        .await?;
    tenant
        .publish(&[Change::Session(session.id.clone())])
        .await?;
    let details = json!({ "session_id": session.id });
    let event = audit::identity_event(
        by,
        EventKind::Logout,
        Some(&session.staff_id),
        EventOutcome::Success,
        details,
    );
    tenant.ledger.append_all(vec![event]).await?;
    Ok(())
}

/// A session token whose signature and session both check out.
pub struct CheckedToken {
    /// What the token says.
    pub claims: SessionClaims,
    /// The live session it belongs to.
    pub session: Arc<LiveSession>,
}

/// A session token that did not check out: whom it named (when its
/// signature verified) and why.
#[derive(Debug)]
pub struct TokenRefusal {
    /// The staff id of a verified token whose session cannot be used.
    pub staff_id: Option<String>,
    /// `invalid_token`, `session_revoked`, `session_idle_expired`…
    pub code: &'static str,
}

/// Checks a token and the session behind it. A session this node does not
/// hold yet (started on another node) is read from the database once, and
/// re-read every few seconds so revocations elsewhere reach this node.
pub async fn check_token(tenant: &Tenant, token: &str) -> Result<CheckedToken, TokenRefusal> {
    let invalid = |staff_id| TokenRefusal {
        staff_id,
        code: "invalid_token",
    };
    let claims = tenant
        .identity
        .keys()
        .verify(token, tenant.issuer())
        .map_err(|_| invalid(None))?;
    if claims.tid != tenant.id() {
        return Err(invalid(None));
    }
    let settings = tenant.identity.settings();
    let sessions = &tenant.identity.sessions;
    let mut touched = sessions.touch(&claims.sid, &settings);
    let pool = tenant.store.pool();
    if matches!(touched, Err(SessionProblem::Unknown))
        && sessions.load_one(pool, &claims.sid).await.unwrap_or(false)
    {
        touched = sessions.touch(&claims.sid, &settings);
    }
    if let Ok(session) = &touched {
        // A session whose state cannot be re-read is not trusted.
        if sessions.recheck(pool, session).await.is_err() {
            return Err(TokenRefusal {
                staff_id: Some(claims.sub),
                code: SessionProblem::Unknown.code(),
            });
        }
        touched = sessions.touch(&claims.sid, &settings);
    }
    match touched {
        Ok(session) if session.staff_id == claims.sub => Ok(CheckedToken { claims, session }),
        Ok(_) => Err(invalid(Some(claims.sub))),
        Err(problem) => Err(TokenRefusal {
            staff_id: Some(claims.sub),
            code: problem.code(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_session_problem_is_described_in_words() {
        for problem in [
            SessionProblem::Unknown,
            SessionProblem::Revoked,
            SessionProblem::Idle,
            SessionProblem::Expired,
            SessionProblem::MfaPending,
        ] {
            let refused = SessionError::Refused(problem);
            assert!(!refused.to_string().is_empty());
            assert_ne!(refused.to_string(), problem.code());
        }
    }
}
