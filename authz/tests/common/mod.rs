//! Shared test helpers: the HMS bundle compiled from the `policies` crate.

// Each test crate including this module uses part of it; a broken fixture should panic.
#![allow(clippy::expect_used, dead_code)]

use std::sync::Arc;

use hms_authz::{BundleSource, PolicyBundle, PolicyFile};

/// The HMS base bundle's source texts.
pub fn hms_source() -> BundleSource {
    BundleSource {
        schema: hms_policies::SCHEMA.to_owned(),
        policies: hms_policies::POLICY_FILES
            .iter()
            .map(|(name, text)| PolicyFile {
                name: (*name).to_owned(),
                text: (*text).to_owned(),
            })
            .collect(),
        options: serde_json::from_str(hms_policies::BUNDLE_OPTIONS).expect("bundle options parse"),
    }
}

/// The HMS base bundle, compiled.
pub fn hms_bundle() -> Arc<PolicyBundle> {
    Arc::new(PolicyBundle::compile(hms_source()).expect("the HMS bundle validates"))
}
