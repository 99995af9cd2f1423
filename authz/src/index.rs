//! A policy index by scope: for each (principal ancestry, action) seen, the
//! policies whose principal and action scopes can match it.
//!
//! Cedar evaluates every policy of a set, so its cost grows with the set. A
//! policy whose scope cannot match a request evaluates to "not satisfied"
//! without error; leaving it out changes neither the decision nor the
//! determining policies nor the errors. Selections are built once per key and
//! shared. Over-inclusion is always safe (Cedar still checks the full scope), so
//! `==` scopes are indexed like `in` scopes.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use cedar_policy::{ActionConstraint, EntityUid, Policy, PolicySet, PrincipalConstraint};
use cedar_policy_core::ast::{Entity as CoreEntity, EntityUID};

use crate::{FastMap, FastSet};

/// Distinct selections kept at most; beyond this, selections are built per request.
const MAX_CACHED: usize = 4_096;

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
    policies: Vec<(Policy, Scope)>,
    /// Every entity some principal scope names.
    principal_keys: FastSet<EntityUID>,
    selections: RwLock<FastMap<Key, Arc<PolicySet>>>,
}

impl PolicyIndex {
    /// Indexes every policy of `set` by its principal and action scope.
    pub(crate) fn new(set: &PolicySet) -> Self {
        let policies: Vec<(Policy, Scope)> =
            set.policies().map(|p| (p.clone(), scope_of(p))).collect();
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

    /// The policies that can apply to `principal` (with its entity, when known) doing `action`.
    pub(crate) fn select(
        &self,
        principal: &EntityUid,
        entity: Option<&CoreEntity>,
        action: &CoreEntity,
    ) -> Arc<PolicySet> {
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

    fn build(&self, principal_in: &[EntityUID], action: &CoreEntity) -> PolicySet {
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
        // Every policy came from a valid set, so the subset is valid too.
        PolicySet::from_policies(applicable.map(|(p, _)| p.clone())).unwrap_or_default()
    }
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
