//! The HMS-ACH audit ledger: append-only, hash-chained, Ed25519-signed records of
//! every decision and change, verifiable offline.
//!
//! Not implemented yet: this crate holds no code, and nothing records to it.
