//! Session tokens: what verifies and what does not, and keys that rotate
//! without stranding the tokens already issued.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use hms_idp_bridge::store;
use hms_idp_bridge::tokens::{AUDIENCE, SessionClaims, TokenKeys};
use hms_keys::MasterKey;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

const ISSUER: &str = "https://hms.example.org/st-marys";

async fn fresh_database() -> AnyPool {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    hms_directory::migrate_tenant(&pool, &[store::migrations])
        .await
        .unwrap();
    pool
}

fn claims(exp_in: i64) -> SessionClaims {
    let now = store::now();
    SessionClaims {
        iss: ISSUER.into(),
        sub: "nurse-1".into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + exp_in,
        jti: "t-1".into(),
        tid: "st-marys".into(),
        sid: "s-1".into(),
        roles: vec!["nurse".into()],
        amr: vec!["saml".into(), "otp".into()],
        mfa: true,
    }
}

#[tokio::test]
async fn a_token_verifies_only_unaltered_in_time_and_for_its_issuer() {
    let pool = fresh_database().await;
    let master = MasterKey::generate();
    let keys = TokenKeys::load(&pool, &master, "st-marys").await.unwrap();
    let issued = claims(300);
    let token = keys.issue(&issued).unwrap();
    assert_eq!(keys.verify(&token, ISSUER).unwrap(), issued);
    assert!(
        keys.verify(&token, "https://hms.example.org/other")
            .is_err()
    );
    let expired = keys.issue(&claims(-120)).unwrap();
    assert!(keys.verify(&expired, ISSUER).is_err());
    let (head, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_claims = base64_url(
        &serde_json::to_vec(&SessionClaims {
            sub: "dr-heart".into(),
            ..claims(300)
        })
        .unwrap(),
    );
    assert!(
        keys.verify(&format!("{head}.{forged_claims}.{signature}"), ISSUER)
            .is_err()
    );
    // Another tenant's key does not verify this tenant's tokens.
    let other = TokenKeys::load(&fresh_database().await, &master, "st-marys")
        .await
        .unwrap();
    assert!(other.verify(&token, ISSUER).is_err());
}

#[tokio::test]
async fn rotated_keys_stay_published_and_the_master_key_is_needed() {
    let pool = fresh_database().await;
    let master = MasterKey::generate();
    let before = TokenKeys::load(&pool, &master, "st-marys").await.unwrap();
    let token = before.issue(&claims(300)).unwrap();
    let after = TokenKeys::rotate(&pool, &master, "st-marys").await.unwrap();
    assert_eq!(after.jwks()["keys"].as_array().unwrap().len(), 2);
    assert!(
        after.verify(&token, ISSUER).is_ok(),
        "old tokens still verify"
    );
    let reloaded = TokenKeys::load(&pool, &master, "st-marys").await.unwrap();
    assert_eq!(reloaded.jwks(), after.jwks());
    assert!(
        TokenKeys::load(&pool, &MasterKey::generate(), "st-marys")
            .await
            .is_err()
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
