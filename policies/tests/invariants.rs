//! Invariants of the HMS policy set, proved for every request the schema
//! admits (every action with its principal and resource types, any entity
//! data, any context) by Cedar's symbolic compiler and the cvc5 solver —
//! not sampled: a violation anywhere is found, with a counterexample.
//!
//! - a disabled account is never permitted;
//! - no one is permitted a record of a patient, or a resource, of another
//!   organisation;
//! - break-glass opens nothing but a doctor's or nurse's clinical read, and
//!   each of those carries the `break_glass_review` obligation: whatever a
//!   break-glass claim permits that the set would refuse without it is
//!   reviewed;
//! - and a check that the checks can fail: a set with the inactive-account
//!   guard removed is caught.
//!
//! cvc5 comes from Debian (`apt-get install cvc5`, done by the test command);
//! `CVC5` names another binary.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;

use cedar_policy::{Effect, Policy, PolicyId, PolicySet, RequestEnv, Schema};
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicySet};

fn schema() -> Schema {
    Schema::from_cedarschema_str(hms_policies::SCHEMA)
        .unwrap()
        .0
}

fn hms_text() -> String {
    hms_policies::POLICY_FILES
        .iter()
        .map(|(_, text)| *text)
        .collect::<Vec<_>>()
        .join("\n")
}

fn hms_set() -> PolicySet {
    PolicySet::from_str(&hms_text()).unwrap()
}

/// How the HMS policies test a break-glass claim.
const CLAIM: &str = "context has break_glass && context.break_glass";

/// The HMS set as if break-glass did not exist: every claim test is `false`.
fn without_break_glass() -> PolicySet {
    let text = hms_text();
    assert!(
        text.matches(CLAIM).count() >= 6,
        "the claim is tested as expected"
    );
    PolicySet::from_str(&text.replace(CLAIM, "false")).unwrap()
}

/// The HMS set, restricted to break-glass claims that also meet `condition`.
fn claimed_where(condition: &str) -> PolicySet {
    let mut claimed = policies_where(&hms_set(), |_| true);
    let text =
        format!("forbid (principal, action, resource) unless {{ {CLAIM} && ({condition}) }};");
    claimed.push(policy("only-these-claims", &text));
    set_of(claimed)
}

const CLINICAL_READ_BY_CARER: &str = "action in Hms::Action::\"clinical_read\" && \
     (principal in Hms::Role::\"doctor\" || principal in Hms::Role::\"nurse\")";

/// The set's policies, renamed by their `@id`, filtered by `keep`.
fn policies_where(set: &PolicySet, keep: impl Fn(&Policy) -> bool) -> Vec<Policy> {
    set.policies()
        .filter(|p| keep(p))
        .map(|p| {
            let id = p.annotation("id").unwrap_or(p.id().as_ref()).to_owned();
            p.new_id(PolicyId::new(id))
        })
        .collect()
}

fn set_of(policies: impl IntoIterator<Item = Policy>) -> PolicySet {
    PolicySet::from_policies(policies).unwrap()
}

fn policy(id: &str, text: &str) -> Policy {
    Policy::parse(Some(PolicyId::new(id)), text).unwrap()
}

/// An invariant as a set that permits every request that does not violate it.
fn invariant(violation: &str) -> PolicySet {
    let text = format!("permit (principal, action, resource) unless {{ {violation} }};");
    set_of([policy("invariant", &text)])
}

fn compiler() -> CedarSymCompiler<LocalSolver> {
    let solver = LocalSolver::cvc5().expect(
        "cvc5 is needed to prove the policy invariants: apt-get install cvc5 (or set CVC5)",
    );
    CedarSymCompiler::new(solver).unwrap()
}

/// Whether every request `allowed` permits, `bound` permits too, in every
/// request environment; the first counterexample otherwise.
async fn implies(allowed: &PolicySet, bound: &PolicySet) -> Result<usize, String> {
    let schema = schema();
    let mut compiler = compiler();
    let envs: Vec<RequestEnv> = schema.request_envs().collect();
    for env in &envs {
        let compile = |set: &PolicySet| CompiledPolicySet::compile(set, env, &schema).unwrap();
        let (allowed, bound) = (compile(allowed), compile(bound));
        if let Some(counterexample) = compiler
            .check_implies_with_counterexample_opt(&allowed, &bound)
            .await
            .unwrap()
        {
            return Err(format!(
                "{} on {}: {counterexample}",
                env.action(),
                env.resource()
            ));
        }
    }
    Ok(envs.len())
}

const INACTIVE: &str = "!principal.active";

#[tokio::test]
async fn a_disabled_account_is_never_permitted() {
    let proved = implies(&hms_set(), &invariant(INACTIVE)).await;
    assert!(proved.as_ref().is_ok_and(|envs| *envs > 20), "{proved:?}");
}

#[tokio::test]
async fn no_one_reaches_another_organisations_patients_or_records() {
    let violation = "(resource has patient && resource.patient.organization != principal.organization) \
                     || (resource has organization && resource.organization != principal.organization)";
    let proved = implies(&hms_set(), &invariant(violation)).await;
    assert!(proved.is_ok(), "{proved:?}");
}

#[tokio::test]
async fn break_glass_opens_nothing_but_a_carers_clinical_read() {
    // Any other claim permits only what the set permits without break-glass.
    let others = claimed_where(&format!("!({CLINICAL_READ_BY_CARER})"));
    let proved = implies(&others, &without_break_glass()).await;
    assert!(proved.is_ok(), "{proved:?}");
}

#[tokio::test]
async fn a_carers_break_glass_read_always_carries_its_review_obligation() {
    let set = hms_set();
    let obligated = policies_where(&set, |p| {
        p.effect() == Effect::Forbid || p.annotation("obligation") == Some("break_glass_review")
    });
    assert!(obligated.iter().any(|p| p.effect() == Effect::Permit));
    let proved = implies(&claimed_where(CLINICAL_READ_BY_CARER), &set_of(obligated)).await;
    assert!(proved.is_ok(), "{proved:?}");
}

#[tokio::test]
async fn a_set_without_the_inactive_account_guard_is_caught() {
    let weakened = set_of(policies_where(&hms_set(), |p| {
        p.annotation("id") != Some("inactive-staff")
    }));
    let refuted = implies(&weakened, &invariant(INACTIVE)).await;
    assert!(refuted.is_err(), "the weakened set passed: {refuted:?}");
}
