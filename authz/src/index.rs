//! A policy index by scope: for each (principal ancestry, action) seen, the
//! policies whose principal and action scopes can match it.
//!
//! Cedar evaluates every policy of a set, so its cost grows with the set. A
//! policy whose scope cannot match a request evaluates to "not satisfied"
//! without error; leaving it out changes neither the decision nor the
//! determining policies nor the errors. Selections are built once per key and
//! shared. Over-inclusion is always safe (Cedar still checks the full scope), so
//! `==` scopes are indexed like `in` scopes.
//!
//! Each policy's condition is built once here; Cedar's authorizer rebuilds it
//! from the policy's parts on every request.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use cedar_policy::{ActionConstraint, EntityUid, Policy, PolicySet, PrincipalConstraint};
use cedar_policy_core::ast::{Entity as CoreEntity, EntityUID, Expr};

use crate::{FastMap, FastSet};

/// Distinct selections kept at most; beyond this, selections are built per request.
const MAX_CACHED: usize = 4_096;

/// A policy ready to evaluate.
#[derive(Debug)]
pub(crate) struct CompiledPolicy {
    pub(crate) policy: Policy,
    /// Scope, `when` and negated `unless` clauses in one expression, as Cedar evaluates them.
    pub(crate) condition: Expr,
}

/// The policies one request evaluates, in the set's order.
pub(crate) type Selection = Arc<Vec<Arc<CompiledPolicy>>>;

/// The scopes that decide whether a policy can apply.
#[derive(Debug)]
struct Scope {
    /// `None` when any principal may match; else the entity the principal must be or be in.
    principal: Option<EntityUID>,
    /// `None` when any action may match; else the actions it must be or be in.
    actions: Option<Vec<EntityUID>>,
}

/// Which of a request's ancestors matter, and its action.
type Key = (Vec<EntityUID>, EntityUID);

/// The index of one bundle.
#[derive(Debug)]
pub(crate) struct PolicyIndex {
    policies: Vec<(Arc<CompiledPolicy>, Scope)>,
    /// Every entity some principal scope names.
    principal_keys: FastSet<EntityUID>,
    selections: RwLock<FastMap<Key, Selection>>,
}

impl PolicyIndex {
    /// Indexes every policy of `set` by its principal and action scope.
    pub(crate) fn new(set: &PolicySet) -> Self {
        let policies: Vec<(Arc<CompiledPolicy>, Scope)> = set
            .policies()
            .map(|p| {
                let compiled = CompiledPolicy {
                    policy: p.clone(),
                    condition: condition_of(p),
                };
                (Arc::new(compiled), scope_of(p))
            })
            .collect();
        let principal_keys = policies
            .iter()
            .filter_map(|(_, s)| s.principal.clone())
            .collect();
        Self {
            policies,
            principal_keys,
            selections: RwLock::default(),
        }
    }

    /// The policies whose principal scope names `entity` (`==` or `in`).
    pub(crate) fn scoped_to<'a>(
        &'a self,
        entity: &'a EntityUID,
    ) -> impl Iterator<Item = &'a Policy> {
        self.policies
            .iter()
            .filter(move |(_, scope)| scope.principal.as_ref() == Some(entity))
            .map(|(compiled, _)| &compiled.policy)
    }

    /// The policies that can apply to `principal` (with its entity, when known) doing `action`.
    pub(crate) fn select(
        &self,
        principal: &EntityUid,
        entity: Option<&CoreEntity>,
        action: &CoreEntity,
    ) -> Selection {
        let principal: &EntityUID = principal.as_ref();
        let mut relevant: Vec<EntityUID> = entity
            .into_iter()
            .flat_map(CoreEntity::ancestors)
            .chain(std::iter::once(principal))
            .filter(|uid| self.principal_keys.contains(*uid))
            .cloned()
            .collect();
        relevant.sort();
        relevant.dedup();
        let key = (relevant, action.uid().clone());
        if let Some(selection) = self
            .selections
            .read()
            .ok()
            .and_then(|s| s.get(&key).cloned())
        {
            return selection;
        }
        let selection = Arc::new(self.build(&key.0, action));
        if let Ok(mut selections) = self.selections.write()
            && selections.len() < MAX_CACHED
        {
            selections.insert(key, Arc::clone(&selection));
        }
        selection
    }

    fn build(&self, principal_in: &[EntityUID], action: &CoreEntity) -> Vec<Arc<CompiledPolicy>> {
        let action_in: HashSet<&EntityUID> = action
            .ancestors()
            .chain(std::iter::once(action.uid()))
            .collect();
        let applicable = self.policies.iter().filter(|(_, scope)| {
            scope
                .principal
                .as_ref()
                .is_none_or(|p| principal_in.contains(p))
                && scope
                    .actions
                    .as_ref()
                    .is_none_or(|actions| actions.iter().any(|a| action_in.contains(a)))
        });
        applicable.map(|(p, _)| Arc::clone(p)).collect()
    }
}

/// The policy's condition without source locations, which every evaluated
/// value would otherwise carry a copy of: rebuilt from the policy's JSON form,
/// which holds none. Falls back to the parsed condition.
fn condition_of(policy: &Policy) -> Expr {
    let unlocated = policy
        .to_json()
        .ok()
        .and_then(|json| Policy::from_json(Some(policy.id().clone()), json).ok());
    AsRef::<cedar_policy_core::ast::Policy>::as_ref(unlocated.as_ref().unwrap_or(policy))
        .condition()
}

fn scope_of(policy: &Policy) -> Scope {
    let core = |uid: EntityUid| EntityUID::from(uid);
    let principal = match policy.principal_constraint() {
        PrincipalConstraint::Any | PrincipalConstraint::Is(_) => None,
        PrincipalConstraint::In(uid)
        | PrincipalConstraint::Eq(uid)
        | PrincipalConstraint::IsIn(_, uid) => Some(core(uid)),
    };
    let actions = match policy.action_constraint() {
        ActionConstraint::Any => None,
        ActionConstraint::Eq(uid) => Some(vec![core(uid)]),
        ActionConstraint::In(uids) => Some(uids.into_iter().map(core).collect()),
    };
    Scope { principal, actions }
}
