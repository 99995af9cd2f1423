//! Federation with each tenant's identity provider (SAML 2.0, OpenID Connect),
//! TOTP second factors, sessions and tokens.
//!
//! Not implemented yet: this crate holds no code.
