//! Federation with each tenant's identity provider (SAML 2.0, OpenID Connect),
//! TOTP second factors, sessions and the signed tokens HMS services verify.
//!
//! Protocol checks live in [`oidc`] and [`saml`]; what a verified login means
//! for the directory in [`mapping`]; the second factor in [`mfa`]; sessions in
//! [`sessions`] and their tokens in [`tokens`]. State is kept in the tenant's
//! database ([`store::migrate`]).

pub mod error;
pub mod login;
pub mod mapping;
pub mod mfa;
pub mod oidc;
pub mod providers;
pub mod saml;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod tokens;

pub use error::IdentityError;
