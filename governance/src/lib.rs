//! The HMS-ACH application layer, free of HTTP: what the service does,
//! whichever way it is asked (an HTTP handler, the command line, the scheduler).
//!
//! - [`tenancy`]: the catalog of organisations; each [`tenancy::Tenant`] owns
//!   its store, ledger, PDP, master key and issuer URL.
//! - [`decisions`]: one PDP decision evaluated and recorded; [`login`]: a
//!   verified login admitted; [`sessions`]: second factors, session tokens and their checks.
//! - [`credentials`]: API clients and their bearer credentials; [`identity`]:
//!   identity providers, login settings, sessions and token keys administered.
//! - [`audit`]: who did something and from where, and the ledger entries changes write.
//! - [`provisioning`]: a SCIM write as one directory change.
//! - [`hr`]: signed HR events applied to the directory; [`webhooks`]: signed messages out.
//! - [`reviews`]: access-review campaigns and their revocations.
//! - [`reporting`]: compliance reports and packs read from the ledger.
//! - [`impact`]: what a candidate policy bundle would change, replayed from the ledger.

pub mod audit;
pub mod credentials;
pub mod decisions;
pub mod hr;
pub mod identity;
pub mod impact;
pub mod login;
pub mod operators;
pub mod provisioning;
pub mod reporting;
pub mod reviews;
pub mod sessions;
pub mod tenancy;
pub mod webhooks;
