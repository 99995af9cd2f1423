//! Logins in flight and assertions already used: each login started at an IdP
//! can be finished once, within ten minutes, and each SAML assertion id is
//! accepted once.

use sqlx::AnyPool;

use crate::error::IdentityError;
use crate::store::{digest, now};

/// How long a started login may take to come back.
pub const LOGIN_TTL_SECONDS: i64 = 600;

/// What a started login must find again when it comes back.
#[derive(Debug, Clone, Default)]
pub struct PendingLogin {
    /// The provider it was started with.
    pub provider_id: String,
    /// OIDC: the nonce the ID token must carry.
    pub nonce: Option<String>,
    /// OIDC: the PKCE verifier.
    pub pkce_verifier: Option<String>,
    /// SAML: the AuthnRequest id the response must answer.
    pub saml_request_id: Option<String>,
    /// Whether the web console started it.
    pub for_console: bool,
}

/// Keeps a started login under its `state` (stored hashed).
pub async fn remember(
    pool: &AnyPool,
    state: &str,
    login: &PendingLogin,
) -> Result<(), IdentityError> {
    let now = now();
    sqlx::query("DELETE FROM login_attempts WHERE expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO login_attempts (state_hash, provider_id, nonce, pkce_verifier, saml_request_id, \
         expires_at, for_console) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(digest(state))
    .bind(&login.provider_id)
    .bind(&login.nonce)
    .bind(&login.pkce_verifier)
    .bind(&login.saml_request_id)
    .bind(now + LOGIN_TTL_SECONDS)
    .bind(i64::from(login.for_console))
    .execute(pool)
    .await?;
    Ok(())
}

type PendingRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

/// Takes the login started under `state` with `provider_id`: it cannot be taken twice.
pub async fn take(
    pool: &AnyPool,
    state: &str,
    provider_id: &str,
) -> Result<PendingLogin, IdentityError> {
    let unknown = || {
        IdentityError::refused(
            "unknown_login",
            "no login was started with this state, or it expired or was already used",
        )
    };
    // One statement: the row is taken by exactly one caller, and no read
    // snapshot has to be upgraded to a write (which SQLite refuses under load).
    let row: Option<PendingRow> = sqlx::query_as(
        "DELETE FROM login_attempts WHERE state_hash = $1 \
         RETURNING provider_id, nonce, pkce_verifier, saml_request_id, expires_at, for_console",
    )
    .bind(digest(state))
    .fetch_optional(pool)
    .await?;
    let Some((provider, nonce, pkce_verifier, saml_request_id, expires_at, for_console)) = row
    else {
        return Err(unknown());
    };
    if expires_at < now() || provider != provider_id {
        return Err(unknown());
    }
    Ok(PendingLogin {
        provider_id: provider,
        nonce,
        pkce_verifier,
        saml_request_id,
        for_console: for_console != 0,
    })
}

/// Records an accepted assertion id; refuses one seen before.
pub async fn remember_assertion(
    pool: &AnyPool,
    provider_id: &str,
    assertion_id: &str,
    valid_until: i64,
) -> Result<(), IdentityError> {
    sqlx::query("DELETE FROM saml_assertions_seen WHERE expires_at < $1")
        .bind(now())
        .execute(pool)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO saml_assertions_seen (assertion_id, provider_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(format!("{provider_id}:{assertion_id}"))
    .bind(provider_id)
    .bind(valid_until)
    .execute(pool)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(IdentityError::refused(
            "replayed_assertion",
            "this assertion was already used to log in",
        )),
        Err(e) => Err(e.into()),
    }
}
