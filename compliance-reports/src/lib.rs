//! HIPAA reports built from the audit ledger and the directory.
//!
//! A report is computed from ledger entries up to one signed checkpoint, so an
//! auditor can check with the offline verifier that its source was not
//! altered ([`report::Source`]). The kinds are in [`kinds`]; [`render`] turns a
//! report into JSON, CSV (safe to open in a spreadsheet), accessible HTML with
//! charts, or PDF ([`pdf`]).

pub mod kinds;
pub mod pdf;
pub mod render;
pub mod report;

pub use kinds::PRIVILEGED_ROLES;
pub use report::{Directory, Parameters, PatientFacts, Report, ReportKind, Source, StaffFacts};
