//! The SCIM 2.0 protocol, free of storage and HTTP: schemas, paths, filters,
//! PATCH, documents, listing, discovery and errors.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod resource;
pub mod schema;
