//! HIPAA reports built from the audit ledger and the directory.
//!
//! Not implemented yet: this crate holds no code.
