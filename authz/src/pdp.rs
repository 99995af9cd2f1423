//! The decision point of one tenant: a bundle and a snapshot, evaluated together.

use std::collections::BTreeMap;
use std::sync::Arc;

use cedar_policy::{
    Context, EntityId, EntityUid, Request, RequestValidationError, RestrictedExpression,
};
use cedar_policy_core::ast::{
    Context as CoreContext, Effect, Entity as CoreEntity, Policy as CorePolicy, Value as CedarValue,
};
use cedar_policy_core::authorizer::AuthorizationError;
use cedar_policy_core::entities::Entities as CoreEntities;
use cedar_policy_core::evaluator::Evaluator;
use cedar_policy_core::extensions::Extensions;
use serde::Serialize;
use serde_json::Value;
use smol_str::SmolStr;

use crate::bundle::{PolicyBundle, diagnostic_text};
use crate::entities::{EntitySnapshot, request_entities, resolve_entity};
use crate::error::RequestError;
use crate::index::{CompiledPolicy, Selection};
use crate::request::{AccessRequest, Subject};
use crate::values::{evaluate, to_fields};

/// The PDP's clock reading for one request, in the forms policies use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTime {
    /// UTC instant as `YYYY-MM-DDThh:mm:ssZ`.
    pub utc: String,
    /// Hour of day (0–23) in the tenant's local time.
    pub local_hour: u8,
}

/// The outcome of one evaluation, with what explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the action is permitted: Cedar allows it and no policy failed to evaluate.
    pub allowed: bool,
    /// Ids of the policies that determined the decision, sorted.
    pub policies: Vec<String>,
    /// Obligations the caller must honour (from the determining permits).
    pub obligations: Vec<String>,
    /// Policies that could not be evaluated for this request, and why.
    pub errors: Vec<String>,
    /// Context keys and properties the schema does not declare, set aside
    /// unevaluated (e.g. `context.ip`, `subject.properties.department`).
    pub ignored: Vec<String>,
}

/// One tenant's decision point: immutable, cheap to clone, swapped whole on change.
#[derive(Debug, Clone)]
pub struct Pdp {
    bundle: Arc<PolicyBundle>,
    snapshot: Arc<EntitySnapshot>,
}

impl Pdp {
    /// A PDP over `bundle` and `snapshot`.
    pub fn new(bundle: Arc<PolicyBundle>, snapshot: Arc<EntitySnapshot>) -> Self {
        Self { bundle, snapshot }
    }

    /// The bundle in force.
    pub fn bundle(&self) -> &Arc<PolicyBundle> {
        &self.bundle
    }

    /// The entity snapshot in force.
    pub fn snapshot(&self) -> &Arc<EntitySnapshot> {
        &self.snapshot
    }

    /// Evaluates one request at `time`.
    pub fn evaluate(
        &self,
        request: &AccessRequest,
        time: &RequestTime,
    ) -> Result<Decision, RequestError> {
        let mut ignored = Vec::new();
        let (uids, cedar_request) = self.build_request(request, time, &mut ignored)?;
        let (entities, policies) = self.entities_and_policies(&uids, request, &mut ignored)?;
        Ok(Decision {
            ignored,
            ..self.decide(&cedar_request, &entities, &policies)
        })
    }

    /// Evaluates the selected policies and combines them as Cedar's authorizer
    /// does: a satisfied forbid denies and is the reason; otherwise satisfied
    /// permits allow and are the reason; a policy that fails is skipped and
    /// reported. Cedar skips a failing policy; a guard that cannot be evaluated
    /// must not let a grant through, so here any error also denies.
    fn decide(
        &self,
        request: &Request,
        entities: &CoreEntities,
        policies: &[Arc<CompiledPolicy>],
    ) -> Decision {
        let evaluator = Evaluator::new(
            request.as_ref().clone(),
            entities,
            Extensions::all_available(),
        );
        let (mut permits, mut forbids, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        for compiled in policies {
            let policy: &CorePolicy = compiled.policy.as_ref();
            // A condition is a conjunction, so it evaluates to a boolean or fails.
            let satisfied = evaluator
                .interpret(&compiled.condition, policy.env())
                .map(|value| value == CedarValue::from(true));
            match (satisfied, policy.effect()) {
                (Ok(true), Effect::Permit) => permits.push(compiled.policy.id()),
                (Ok(true), Effect::Forbid) => forbids.push(compiled.policy.id()),
                (Ok(false), _) => {}
                (Err(error), _) => {
                    let id = policy.id().clone();
                    let failure = AuthorizationError::PolicyEvaluationError { id, error };
                    errors.push(diagnostic_text(&cedar_policy::AuthorizationError::from(
                        failure,
                    )));
                }
            }
        }
        let allowed = forbids.is_empty() && !permits.is_empty() && errors.is_empty();
        let determining = if forbids.is_empty() { permits } else { forbids };
        let mut obligations: Vec<String> = if allowed {
            determining
                .iter()
                .flat_map(|id| self.bundle.obligations_of(id).iter().cloned())
                .collect()
        } else {
            Vec::new()
        };
        obligations.sort();
        obligations.dedup();
        let mut policies: Vec<String> = determining.iter().map(ToString::to_string).collect();
        policies.sort();
        Decision {
            allowed,
            policies,
            obligations,
            errors,
            ignored: Vec::new(),
        }
    }

    fn build_request(
        &self,
        request: &AccessRequest,
        time: &RequestTime,
        ignored: &mut Vec<String>,
    ) -> Result<(RequestUids, Request), RequestError> {
        let uids = RequestUids {
            principal: self.uid(&request.subject)?,
            action: self.bundle.action_uid(&request.action.name)?,
            resource: self.uid(&request.resource)?,
        };
        let (context, shape) = self.context(request, &uids.action, time, ignored)?;
        // Keyed by the names as given: within a bundle they name the same types every time.
        let shape = [
            "C|",
            &request.action.name,
            "|",
            &request.subject.kind,
            "|",
            &request.resource.kind,
            "|",
            &shape,
        ]
        .concat();
        // A request of a shape that passed the schema's checks passes them again.
        let known = self.bundle.shapes.contains(&shape);
        let schema = (!known).then_some(&self.bundle.schema);
        let cedar = Request::new(
            uids.principal.clone(),
            uids.action.clone(),
            uids.resource.clone(),
            context,
            schema,
        )
        .map_err(|e| match e {
            RequestValidationError::InvalidContext(_)
            | RequestValidationError::TypeOfContext(_) => {
                RequestError::InvalidContext(diagnostic_text(&e))
            }
            _ => RequestError::InvalidRequest(diagnostic_text(&e)),
        })?;
        if !known {
            self.bundle.shapes.insert(shape);
        }
        Ok((uids, cedar))
    }

    /// The uid of a subject or resource, whose type the schema must declare.
    pub(crate) fn uid(&self, entity: &Subject) -> Result<EntityUid, RequestError> {
        let ty = self.bundle.declared_type(&entity.kind)?;
        Ok(EntityUid::from_type_name_and_id(
            ty,
            EntityId::new(&entity.id),
        ))
    }

    /// The request context as Cedar values, and its shape. Its conformance to
    /// the schema is checked with the whole request, in `Request::new`;
    /// keys the schema does not declare are set aside first, unless strict.
    fn context(
        &self,
        request: &AccessRequest,
        action_uid: &EntityUid,
        time: &RequestTime,
        ignored: &mut Vec<String>,
    ) -> Result<(Context, String), RequestError> {
        let clock = self.bundle.options.context_clock;
        // The PDP's clock is authoritative; a caller cannot set these.
        let given = request
            .context
            .iter()
            .filter(|(key, _)| !(clock && (*key == "now" || *key == "local_hour")));
        let action = (!request.action.properties.is_empty()).then(|| {
            (
                "action".to_owned(),
                Value::Object(request.action.properties.clone()),
            )
        });
        let mut values: Vec<(&String, &Value)> =
            given.chain(action.as_ref().map(|(k, v)| (k, v))).collect();
        let pruned = match self.bundle.options.strict_requests {
            true => None,
            false => {
                self.bundle
                    .declared
                    .prune_context(action_uid, values.iter().copied(), ignored)
            }
        };
        if let Some(pruned) = &pruned {
            values = pruned.iter().collect();
        }
        let mut shape = String::with_capacity(64);
        self.bundle
            .shapes
            .record(values.iter().copied(), &mut shape);
        let mut fields: BTreeMap<SmolStr, CedarValue> = to_fields(values, &self.bundle)
            .map_err(RequestError::InvalidContext)?
            .into_iter()
            .collect();
        if clock {
            shape.push_str("+clock");
            fields.insert("now".into(), datetime(&time.utc)?);
            fields.insert(
                "local_hour".into(),
                CedarValue::from(i64::from(time.local_hour)),
            );
        }
        Ok((Context::from(CoreContext::Value(Arc::new(fields))), shape))
    }

    /// The entities one request can see — principal, resource, what their
    /// attributes point at, and the action with its groups — and the policies
    /// whose scope can match it.
    fn entities_and_policies(
        &self,
        uids: &RequestUids,
        request: &AccessRequest,
        ignored: &mut Vec<String>,
    ) -> Result<(CoreEntities, Selection), RequestError> {
        // A handful of entities: a vector searched linearly beats hashing their uids.
        let mut slice: Vec<(EntityUid, Arc<CoreEntity>)> = Vec::with_capacity(6);
        let mut referenced = Vec::new();
        // A principal or resource of a type neither the directory fills nor
        // the entity store holds lives in the request alone: it is built even
        // without properties, so one missing an attribute its type requires
        // is refused with the attribute named. An id of a type the directory
        // or the store holds, but not this one, is absent: a denial, whatever
        // the request claims of it.
        let borne = |uid: &EntityUid| {
            let ty = uid.type_name();
            !self.bundle.directory_types().contains(ty) && !self.snapshot.holds_type(ty)
        };
        for (uid, given, build, side) in [
            (
                &uids.principal,
                &request.subject,
                borne(&uids.principal),
                "subject",
            ),
            (
                &uids.resource,
                &request.resource,
                borne(&uids.resource),
                "resource",
            ),
        ] {
            if slice.iter().any(|(known, _)| known == uid) {
                continue;
            }
            let pruned = self.declared_only(uid, given, side, ignored);
            let given = pruned.as_ref().unwrap_or(given);
            let suppliable = self.suppliable_only(uid, given, side, ignored);
            let given = suppliable.as_ref().unwrap_or(given);
            let resolved = resolve_entity(uid, given, build, &self.snapshot, &self.bundle)?;
            if let Some(resolved) = resolved {
                referenced.extend(resolved.references);
                slice.push((uid.clone(), resolved.entity));
            }
        }
        for uid in referenced {
            if !slice.iter().any(|(known, _)| *known == uid)
                && let Some(stored) = self.snapshot.get(&uid)
            {
                slice.push((uid, Arc::clone(&stored.entity)));
            }
        }
        let action = self
            .bundle
            .action_entities
            .get(&uids.action)
            .ok_or_else(|| {
                RequestError::UnknownAction(format!("unknown action `{}`", uids.action))
            })?;
        let principal = slice
            .iter()
            .find(|(uid, _)| *uid == uids.principal)
            .map(|(_, e)| e.as_ref());
        let policies = self.bundle.index.select(&uids.principal, principal, action);
        slice.push((uids.action.clone(), Arc::clone(action)));
        Ok((
            request_entities(slice.into_iter().map(|(_, e)| e).collect())?,
            policies,
        ))
    }
}

impl Pdp {
    /// `given` without the properties its type does not declare, or `None`
    /// when it has none (or the bundle is strict: Cedar then refuses them).
    fn declared_only(
        &self,
        uid: &EntityUid,
        given: &Subject,
        side: &str,
        ignored: &mut Vec<String>,
    ) -> Option<Subject> {
        if self.bundle.options.strict_requests || given.properties.is_empty() {
            return None;
        }
        let properties = self.bundle.declared.prune_properties(
            uid.type_name(),
            &given.properties,
            side,
            ignored,
        )?;
        Some(given.with_properties(properties))
    }

    /// `given` with only the properties a request may give a held entity,
    /// or `None` when nothing is set aside (or the entity is not held).
    fn suppliable_only(
        &self,
        uid: &EntityUid,
        given: &Subject,
        side: &str,
        ignored: &mut Vec<String>,
    ) -> Option<Subject> {
        if given.properties.is_empty() || self.snapshot.get(uid).is_none() {
            return None;
        }
        let ty = uid.type_name();
        let allowed = self.bundle.request_attributes.get(ty);
        // A strict bundle leaves undeclared keys for Cedar to refuse.
        let strict = self.bundle.options.strict_requests;
        let may = |key: &String| {
            allowed.is_some_and(|keys| keys.contains(key))
                || (strict && !self.bundle.declared.declares(ty, key))
        };
        if given.properties.keys().all(may) {
            return None;
        }
        let mut properties = given.properties.clone();
        properties.retain(|key, _| {
            let kept = may(key);
            if !kept {
                ignored.push(format!("{side}.properties.{key}"));
            }
            kept
        });
        Some(given.with_properties(properties))
    }
}

struct RequestUids {
    principal: EntityUid,
    action: EntityUid,
    resource: EntityUid,
}

thread_local! {
    /// The last `now` built on this thread: requests in the same second share it.
    static NOW: std::cell::RefCell<Option<(String, CedarValue)>> = const { std::cell::RefCell::new(None) };
}

/// A Cedar `datetime` value for an instant, parsed once per second per thread.
fn datetime(utc: &str) -> Result<CedarValue, RequestError> {
    NOW.with_borrow_mut(|cached| match cached {
        Some((at, value)) if at == utc => Ok(value.clone()),
        _ => {
            let value = evaluate(&RestrictedExpression::new_datetime(utc))
                .map_err(RequestError::InvalidContext)?;
            *cached = Some((utc.to_owned(), value.clone()));
            Ok(value)
        }
    })
}
