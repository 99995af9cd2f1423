//! Black-box tests: the service on port 0, called over HTTP, on SQLite and on PostgreSQL.

// Tests fail by panicking; helpers outside `#[test]` functions do too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authzen;
mod browser;
mod certification;
mod cli;
mod connections;
mod console;
mod crash;
mod density;
mod directory;
mod disk_full;
mod entities;
mod health;
mod helpers;
mod hr;
mod impact;
mod ledger;
mod login;
mod login_saml;
mod nodes;
mod operator;
mod outage;
mod peers;
mod policies;
mod preconditions;
mod reports;
mod reviews;
mod scim;
mod search;
mod tenancy;
mod tls;
mod witness;
