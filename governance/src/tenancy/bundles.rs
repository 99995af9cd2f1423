//! Where bundle sources come from: the built-in HMS set, a folder, or a stored version.

use std::path::Path;

use anyhow::Context;
use hms_authz::{BundleOptions, BundleSource, PolicyFile};

/// The HMS schema and base policy set shipped with the service.
pub fn hms_default() -> BundleSource {
    BundleSource {
        schema: hms_policies::SCHEMA.to_owned(),
        policies: hms_policies::POLICY_FILES
            .iter()
            .map(|(name, text)| PolicyFile {
                name: (*name).to_owned(),
                text: (*text).to_owned(),
            })
            .collect(),
        options: serde_json::from_str(hms_policies::BUNDLE_OPTIONS).unwrap_or_default(),
    }
}

/// A bundle laid out as a folder: `schema.cedarschema`, optional `bundle.json`,
/// and `*.cedar` files directly in it or in `policies/`.
pub fn from_dir(dir: &Path) -> anyhow::Result<BundleSource> {
    let schema_path = dir.join("schema.cedarschema");
    let schema = std::fs::read_to_string(&schema_path)
        .with_context(|| format!("cannot read `{}`", schema_path.display()))?;
    let options_path = dir.join("bundle.json");
    let options: BundleOptions = if options_path.exists() {
        let text = std::fs::read_to_string(&options_path)?;
        serde_json::from_str(&text)
            .with_context(|| format!("invalid `{}`", options_path.display()))?
    } else {
        BundleOptions::default()
    };
    let mut policies = Vec::new();
    for folder in [dir.to_path_buf(), dir.join("policies")] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
        {
            let text = std::fs::read_to_string(&path)?;
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            policies.push(PolicyFile { name, text });
        }
    }
    anyhow::ensure!(
        !policies.is_empty(),
        "no `.cedar` files in `{}`",
        dir.display()
    );
    Ok(BundleSource {
        schema,
        policies,
        options,
    })
}
