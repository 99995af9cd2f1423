//! HMS-ACH as a server: configuration, the composition root, the HTTP app, the scheduler and the CLI,
//! over the application layer in `hms-governance`.
//!
//! `main.rs` only parses the command line and calls [`cli::Cli::run`]; tests
//! build an [`app::Application`] on port 0 and call it over HTTP.

pub mod app;
pub mod cli;
pub mod config;
pub mod connections;
pub mod demo;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod scheduler;
pub mod telemetry;
pub mod tenants;
pub mod witness;
pub mod witnessing;
