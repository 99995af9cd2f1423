//! What a session token costs: signing one at login or refresh, and
//! verifying one, as the PDP and every HMS service do per check (EdDSA).

#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use hms_idp_bridge::store;
use hms_idp_bridge::tokens::{AUDIENCE, SessionClaims, TokenKeys};
use hms_keys::MasterKey;
use sqlx::any::AnyPoolOptions;

const ISSUER: &str = "https://hms.example.org/bench";

fn keys() -> TokenKeys {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        hms_directory::migrate_tenant(&pool, &[store::migrations])
            .await
            .unwrap();
        TokenKeys::load(&pool, &MasterKey::generate(), "bench")
            .await
            .unwrap()
    })
}

fn claims() -> SessionClaims {
    let now = store::now();
    SessionClaims {
        iss: ISSUER.into(),
        sub: "nurse-1".into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + 3600,
        jti: "bench".into(),
        tid: "bench".into(),
        sid: "0190c3c4-0000-7000-8000-000000000000".into(),
        roles: vec!["nurse".into()],
        amr: vec!["oidc".into(), "otp".into()],
        mfa: true,
    }
}

fn session_tokens(c: &mut Criterion) {
    let keys = keys();
    let claims = claims();
    c.bench_function("session token: issue (EdDSA)", |b| {
        b.iter(|| keys.issue(&claims).unwrap())
    });
    let token = keys.issue(&claims).unwrap();
    c.bench_function("session token: verify (EdDSA)", |b| {
        b.iter(|| keys.verify(&token, ISSUER).unwrap())
    });
}

criterion_group!(benches, session_tokens);
criterion_main!(benches);
