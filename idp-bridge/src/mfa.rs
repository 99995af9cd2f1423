//! TOTP second factors (RFC 6238: SHA-1, six digits, 30-second steps):
//! enrolment with an `otpauth://` URI and a QR code, verification within one
//! step either side, each step's code usable once, ten one-time recovery
//! codes stored hashed, and a lock after too many failures in a row.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hms_keys::MasterKey;
use rand::RngCore;
use sqlx::{AnyConnection, AnyPool};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Totp};

use crate::error::IdentityError;
use crate::settings::IdentitySettings;
use crate::store::{digest, now};

const STEP_SECONDS: u64 = 30;
const DIGITS: u8 = 6;
const SECRET_BYTES: usize = 20;
const RECOVERY_CODES: usize = 10;
const RECOVERY_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// What a person needs to set up their authenticator; shown once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// The `otpauth://totp/…` URI.
    pub otpauth_uri: String,
    /// The same URI as a QR code, SVG.
    pub qr_svg: String,
    /// Ten one-time recovery codes.
    pub recovery_codes: Vec<String>,
}

/// Where a person stands with their second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorState {
    /// Nothing enrolled.
    None,
    /// Enrolled, not yet proven with a first code.
    Pending,
    /// Enrolled and proven.
    Confirmed,
}

/// A second factor that was just proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proven {
    /// `otp` or `recovery`.
    pub method: &'static str,
    /// This proof confirmed a new enrolment.
    pub confirmed_enrolment: bool,
}

fn secret_context(tenant: &str, staff_id: &str) -> String {
    format!("totp:{tenant}:{staff_id}")
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<Totp, IdentityError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret)
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| IdentityError::invalid("totp_unavailable", e.to_string()))
}

/// The person's factor state.
pub async fn state(pool: &AnyPool, staff_id: &str) -> Result<FactorState, IdentityError> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT confirmed_at FROM mfa_enrolments WHERE staff_id = $1")
            .bind(staff_id)
            .fetch_optional(pool)
            .await?;
    Ok(match row {
        None => FactorState::None,
        Some((None,)) => FactorState::Pending,
        Some((Some(_),)) => FactorState::Confirmed,
    })
}

/// Enrols (or re-enrols, while unconfirmed) a TOTP factor with new recovery
/// codes. A confirmed factor is replaced only after an admin reset.
pub async fn enrol(
    pool: &AnyPool,
    master: &MasterKey,
    tenant: &str,
    staff_id: &str,
    issuer: &str,
) -> Result<Enrolment, IdentityError> {
    if state(pool, staff_id).await? == FactorState::Confirmed {
        return Err(IdentityError::invalid(
            "already_enrolled",
            "a second factor is already enrolled; an administrator must reset it first",
        ));
    }
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let sealed = master
        .seal_bytes(&secret, &secret_context(tenant, staff_id))
        .map_err(|_| IdentityError::Unseal)?;
    let otpauth_uri = totp(secret, issuer, staff_id)?
        .to_url()
        .map_err(|e| IdentityError::invalid("totp_unavailable", e.to_string()))?;
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map_err(|e| IdentityError::invalid("totp_unavailable", e.to_string()))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let recovery_codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let mut tx = pool.begin().await?;
    for table in ["mfa_enrolments", "mfa_recovery_codes"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE staff_id = $1"))
            .bind(staff_id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO mfa_enrolments (staff_id, sealed_secret, confirmed_at, last_step, failures, locked_until, created_at) \
         VALUES ($1, $2, NULL, 0, 0, NULL, $3)",
    )
    .bind(staff_id)
    .bind(STANDARD.encode(sealed))
    .bind(now())
    .execute(&mut *tx)
    .await?;
    for code in &recovery_codes {
        sqlx::query(
            "INSERT INTO mfa_recovery_codes (staff_id, code_hash, used_at) VALUES ($1, $2, NULL)",
        )
        .bind(staff_id)
        .bind(digest(&normalise_recovery(code)))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Enrolment {
        otpauth_uri,
        qr_svg,
        recovery_codes,
    })
}

/// A recovery code: ten characters from an unambiguous alphabet, `XXXXX-XXXXX`.
fn recovery_code() -> String {
    let mut raw = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let chars: String = raw
        .iter()
        .map(|b| char::from(RECOVERY_ALPHABET[usize::from(*b) % RECOVERY_ALPHABET.len()]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

fn normalise_recovery(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A proof offered: a six-digit code or a recovery code.
#[derive(Debug, Clone)]
pub enum Proof {
    /// The authenticator's current code.
    Totp(String),
    /// One of the recovery codes.
    Recovery(String),
}

type EnrolmentRow = (String, Option<i64>, i64, i64, Option<i64>);

/// Checks a proof. A failure counts towards the lock; reaching the limit
/// locks the factor for the tenant's lockout time.
pub async fn verify(
    pool: &AnyPool,
    master: &MasterKey,
    tenant: &str,
    staff_id: &str,
    proof: &Proof,
    settings: &IdentitySettings,
) -> Result<Proven, IdentityError> {
    let row: Option<EnrolmentRow> = sqlx::query_as(
        "SELECT sealed_secret, confirmed_at, last_step, failures, locked_until FROM mfa_enrolments WHERE staff_id = $1",
    )
    .bind(staff_id)
    .fetch_optional(pool)
    .await?;
    let Some((sealed, confirmed_at, last_step, _, locked_until)) = row else {
        return Err(IdentityError::refused(
            "not_enrolled",
            "no second factor is enrolled",
        ));
    };
    let now = now();
    if let Some(until) = locked_until.filter(|until| *until > now) {
        return Err(IdentityError::Locked {
            until,
            just_locked: false,
        });
    }
    let proven = match proof {
        Proof::Totp(code) => {
            let sealed = STANDARD.decode(sealed).map_err(|_| IdentityError::Unseal)?;
            let secret = master
                .unseal_bytes(&sealed, &secret_context(tenant, staff_id))
                .map_err(|_| IdentityError::Unseal)?;
            let step = matching_step(&totp(secret, "hms-ach", staff_id)?, code, now);
            match step {
                Some(step) if step > last_step => use_step(pool, staff_id, step, now).await?,
                _ => false,
            }
        }
        Proof::Recovery(code) => use_recovery(pool, staff_id, code, now).await?,
    };
    if !proven {
        return Err(fail(pool, staff_id, settings, now).await?);
    }
    Ok(Proven {
        method: match proof {
            Proof::Totp(_) => "otp",
            Proof::Recovery(_) => "recovery",
        },
        confirmed_enrolment: confirmed_at.is_none(),
    })
}

/// The time step (within one either side of now) whose code is `code`.
fn matching_step(totp: &Totp, code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    let current = u64::try_from(now).ok()? / STEP_SECONDS;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * STEP_SECONDS).to_string();
        // Every candidate is compared, whatever matched, in constant time.
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = i64::try_from(step).ok();
        }
    }
    found
}

/// Marks `step` used (only if no later one was) and clears the failures.
async fn use_step(
    pool: &AnyPool,
    staff_id: &str,
    step: i64,
    now: i64,
) -> Result<bool, IdentityError> {
    let done = sqlx::query(
        "UPDATE mfa_enrolments SET last_step = $1, failures = 0, locked_until = NULL, \
         confirmed_at = COALESCE(confirmed_at, $2) WHERE staff_id = $3 AND last_step < $1",
    )
    .bind(step)
    .bind(now)
    .bind(staff_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Spends a recovery code, once; a recovery code does not confirm an enrolment.
async fn use_recovery(
    pool: &AnyPool,
    staff_id: &str,
    code: &str,
    now: i64,
) -> Result<bool, IdentityError> {
    let done = sqlx::query(
        "UPDATE mfa_recovery_codes SET used_at = $1 WHERE staff_id = $2 AND code_hash = $3 AND used_at IS NULL \
         AND EXISTS (SELECT 1 FROM mfa_enrolments WHERE staff_id = $2 AND confirmed_at IS NOT NULL)",
    )
    .bind(now)
    .bind(staff_id)
    .bind(digest(&normalise_recovery(code)))
    .execute(pool)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("UPDATE mfa_enrolments SET failures = 0, locked_until = NULL WHERE staff_id = $1")
        .bind(staff_id)
        .execute(pool)
        .await?;
    Ok(true)
}

/// Counts a failure; locks the factor when the limit is reached.
async fn fail(
    pool: &AnyPool,
    staff_id: &str,
    settings: &IdentitySettings,
    now: i64,
) -> Result<IdentityError, IdentityError> {
    let until = now + settings.mfa_lockout_seconds;
    sqlx::query(
        "UPDATE mfa_enrolments SET failures = failures + 1, \
         locked_until = CASE WHEN failures + 1 >= $1 THEN $2 ELSE locked_until END WHERE staff_id = $3",
    )
    .bind(settings.mfa_max_failures)
    .bind(until)
    .bind(staff_id)
    .execute(pool)
    .await?;
    let (failures,): (i64,) =
        sqlx::query_as("SELECT failures FROM mfa_enrolments WHERE staff_id = $1")
            .bind(staff_id)
            .fetch_one(pool)
            .await?;
    if failures >= settings.mfa_max_failures {
        sqlx::query("UPDATE mfa_enrolments SET failures = 0 WHERE staff_id = $1")
            .bind(staff_id)
            .execute(pool)
            .await?;
        return Ok(IdentityError::Locked {
            until,
            just_locked: true,
        });
    }
    Ok(IdentityError::refused(
        "invalid_code",
        format!(
            "the code is wrong or was already used ({failures} of {} failures before the factor locks)",
            settings.mfa_max_failures
        ),
    ))
}

/// Removes a person's factor and recovery codes (admin reset), in the
/// caller's transaction; tells whether there was one.
pub async fn reset(tx: &mut AnyConnection, staff_id: &str) -> Result<bool, IdentityError> {
    let done = sqlx::query("DELETE FROM mfa_enrolments WHERE staff_id = $1")
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE staff_id = $1")
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The code an authenticator set up from `otpauth_uri` shows at `unix_time` (for
/// tools and tests that play the authenticator).
pub fn code_at(otpauth_uri: &str, unix_time: u64) -> Result<String, IdentityError> {
    let totp = Totp::from_url_unchecked(otpauth_uri)
        .map_err(|e| IdentityError::invalid("invalid_otpauth_uri", e.to_string()))?;
    Ok(totp.generate(unix_time).to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn authenticator() -> Totp {
        totp(b"12345678901234567890".to_vec(), "HMS-ACH Test", "nurse-1").unwrap()
    }

    #[test]
    fn codes_of_the_previous_current_and_next_step_are_accepted_and_no_others() {
        let totp = authenticator();
        let now: i64 = 1_700_000_015;
        let step = now / 30;
        for offset in [-1i64, 0, 1] {
            let code = totp
                .generate(u64::try_from((step + offset) * 30).unwrap())
                .to_string();
            assert_eq!(
                matching_step(&totp, &code, now),
                Some(step + offset),
                "offset {offset}"
            );
        }
        for offset in [-2i64, 2] {
            let code = totp
                .generate(u64::try_from((step + offset) * 30).unwrap())
                .to_string();
            assert_eq!(matching_step(&totp, &code, now), None, "offset {offset}");
        }
        assert_eq!(matching_step(&totp, "12345", now), None);
    }

    #[test]
    fn the_rfc_6238_test_vector_holds() {
        // RFC 6238 appendix B, SHA-1, T = 59: 94287082 (eight digits); six digits: 287082.
        assert_eq!(authenticator().generate(59).to_string(), "287082");
    }

    #[test]
    fn recovery_codes_are_read_forgivingly() {
        let code = recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert_eq!(
            normalise_recovery(&code.to_lowercase().replace('-', " ")),
            normalise_recovery(&code)
        );
    }
}
