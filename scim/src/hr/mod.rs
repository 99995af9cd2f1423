//! Signed HR webhooks: hire, transfer, leave of absence, return, termination
//! and credential updates, verified, deduplicated, ordered and applied.

pub mod apply;
pub mod event;
pub mod schedule;
pub mod settings;
pub mod signature;
