//! SCIM 2.0 provisioning and signed HR webhooks for joiners, movers and leavers.
//!
//! Not implemented yet: this crate holds no code. Staff are maintained through
//! the directory administration API for now.
