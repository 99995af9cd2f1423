//! Provisioning for HMS-ACH: a SCIM 2.0 server's protocol and storage, and
//! signed HR webhooks, for joiners, movers and leavers.
//!
//! [`protocol`] is pure (no I/O): schemas, filters, PATCH, discovery. The
//! store keeps SCIM documents, groups and a search index in the tenant's own
//! database, next to the directory they map onto.

pub mod hr;
pub mod protocol;
pub mod provision;
pub mod store;
