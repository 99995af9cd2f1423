//! The HMS Cedar schema, its base policy set and its decision test cases, as data.
//!
//! Nothing here evaluates anything: `hms-authz` compiles these texts into a
//! policy bundle, and the cases under `cases/` are run by `cargo test` and by
//! `hms-ach policy test`.

/// The Cedar schema of the HMS, in Cedar's human-readable schema syntax.
pub const SCHEMA: &str = include_str!("../hms/schema.cedarschema");

/// Options of the HMS bundle (namespace, clock context, directory entities), as JSON.
pub const BUNDLE_OPTIONS: &str = include_str!("../hms/bundle.json");

/// The base policy files, by file name.
pub const POLICY_FILES: &[(&str, &str)] = &[
    ("roles.cedar", include_str!("../hms/policies/roles.cedar")),
    ("guards.cedar", include_str!("../hms/policies/guards.cedar")),
    (
        "break-glass.cedar",
        include_str!("../hms/policies/break-glass.cedar"),
    ),
];

/// The folder holding the HMS decision test cases in this source tree.
pub const CASES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cases");
