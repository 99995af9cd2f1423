//! The identity tables of a tenant database, and the clock they use.

use sqlx::migrate::Migrator;
use time::OffsetDateTime;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The identity tables (one SQL dialect serves both SQLite and PostgreSQL):
/// part of the tenant database's one migration run (`hms_directory::migrate_tenant`).
pub fn migrations(_postgres: bool) -> &'static Migrator {
    &MIGRATIONS
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// SHA-256 of `secret`, hex: how high-entropy secrets (states, session and
/// recovery codes) are stored and looked up.
pub fn digest(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// A fresh random secret of `bytes` bytes, base64url without padding.
pub fn random_secret(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}
