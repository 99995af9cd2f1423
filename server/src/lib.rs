//! HMS-ACH as a library: configuration, tenancy, authentication, the HTTP app and the CLI.
//!
//! `main.rs` only parses the command line and calls [`cli::Cli::run`]; tests
//! build an [`app::Application`] on port 0 and call it over HTTP.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod demo;
pub mod http;
pub mod metrics;
pub mod reporting;
pub mod reviews;
pub mod scheduler;
pub mod telemetry;
pub mod tenancy;
pub mod witness;
pub mod witnessing;
