//! Real protocol peers for login tests: an OpenID provider and a SAML IdP.

pub mod oidc;
pub mod saml;
