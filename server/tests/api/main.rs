//! Black-box tests: the service on port 0, called over HTTP, on SQLite and on PostgreSQL.

mod authzen;
mod cli;
mod directory;
mod health;
mod helpers;
mod policies;
mod search;
mod tenancy;
mod tls;
