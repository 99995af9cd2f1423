//! Decision test cases as data: files of requests and expected decisions, run against a bundle.
//!
//! A case file is JSON: `{"description", "entities" | "entities_file", "time", "cases": [...]}`
//! where each case is `{"name", "request": <AuthZEN request>, "expect": {"decision":
//! "allow"|"deny", "policies"?: [...], "obligations"?: [...]}}`. `entities_file` is a path
//! relative to the case file holding Cedar JSON entities shared by several files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::bundle::PolicyBundle;
use crate::entities::{EntityRecord, EntitySnapshot};
use crate::pdp::{Pdp, RequestTime};
use crate::request::AccessRequest;

/// A file of cases sharing entities and a clock.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// What the file covers.
    pub description: String,
    /// Entities, inline.
    #[serde(default)]
    pub entities: Vec<EntityRecord>,
    /// Entities, from a file relative to this one.
    #[serde(default)]
    pub entities_file: Option<String>,
    /// The PDP clock for every case.
    #[serde(default)]
    pub time: CaseTime,
    /// The cases.
    pub cases: Vec<Case>,
}

/// The clock reading cases are evaluated at.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseTime {
    /// UTC instant.
    pub utc: String,
    /// Local hour of day.
    pub local_hour: u8,
}

impl Default for CaseTime {
    fn default() -> Self {
        Self {
            utc: "2026-06-01T10:00:00Z".into(),
            local_hour: 10,
        }
    }
}

/// One request and what must come of it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Name, unique in its file.
    pub name: String,
    /// The request.
    pub request: AccessRequest,
    /// The expectation.
    pub expect: Expectation,
}

/// Expected decision; `policies` and `obligations`, when given, must match exactly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// `allow` or `deny`.
    pub decision: ExpectedDecision,
    /// Determining policy ids.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    /// Obligations.
    #[serde(default)]
    pub obligations: Option<Vec<String>>,
}

/// The two decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedDecision {
    /// Permitted.
    Allow,
    /// Denied.
    Deny,
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// The case file.
    pub file: PathBuf,
    /// The case name.
    pub name: String,
    /// Why it failed, or `None` when it passed.
    pub failure: Option<String>,
}

/// A case file that cannot be run.
#[derive(Debug, thiserror::Error)]
#[error("`{}`: {message}", file.display())]
pub struct CaseFileError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// Runs every `*.json` case file directly in `dir`, in name order.
pub fn run_dir(dir: &Path, bundle: &Arc<PolicyBundle>) -> Result<Vec<CaseOutcome>, CaseFileError> {
    let error = |file: &Path, message: String| CaseFileError {
        file: file.to_owned(),
        message,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| error(dir, e.to_string()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut outcomes = Vec::new();
    for file in files {
        outcomes.extend(run_file(&file, bundle)?);
    }
    Ok(outcomes)
}

/// Runs the cases of one file.
pub fn run_file(
    file: &Path,
    bundle: &Arc<PolicyBundle>,
) -> Result<Vec<CaseOutcome>, CaseFileError> {
    let error = |message: String| CaseFileError {
        file: file.to_owned(),
        message,
    };
    let cases: CaseFile = read_json(file).map_err(error)?;
    let mut entities = cases.entities;
    if let Some(shared) = &cases.entities_file {
        let path = file.parent().unwrap_or(Path::new(".")).join(shared);
        let shared: Vec<EntityRecord> = read_json(&path).map_err(error)?;
        entities.extend(shared);
    }
    let snapshot = EntitySnapshot::build(entities, bundle).map_err(|e| error(e.to_string()))?;
    let pdp = Pdp::new(Arc::clone(bundle), Arc::new(snapshot));
    let time = RequestTime {
        utc: cases.time.utc,
        local_hour: cases.time.local_hour,
    };
    Ok(cases
        .cases
        .into_iter()
        .map(|case| CaseOutcome {
            file: file.to_owned(),
            failure: check(&pdp, &case, &time),
            name: case.name,
        })
        .collect())
}

fn check(pdp: &Pdp, case: &Case, time: &RequestTime) -> Option<String> {
    let decision = match pdp.evaluate(&case.request, time) {
        Ok(decision) => decision,
        Err(e) => return Some(format!("request rejected: {e}")),
    };
    let expected_allow = case.expect.decision == ExpectedDecision::Allow;
    if decision.allowed != expected_allow {
        return Some(format!(
            "expected {:?}, got {} (policies {:?}, errors {:?})",
            case.expect.decision,
            if decision.allowed { "allow" } else { "deny" },
            decision.policies,
            decision.errors
        ));
    }
    if let Some(expected) = &case.expect.policies
        && sorted(expected) != decision.policies
    {
        return Some(format!(
            "expected policies {expected:?}, got {:?}",
            decision.policies
        ));
    }
    if let Some(expected) = &case.expect.obligations
        && sorted(expected) != decision.obligations
    {
        return Some(format!(
            "expected obligations {expected:?}, got {:?}",
            decision.obligations
        ));
    }
    None
}

fn sorted(items: &[String]) -> Vec<String> {
    let mut items = items.to_vec();
    items.sort();
    items
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("invalid case file `{}`: {e}", path.display()))
}
