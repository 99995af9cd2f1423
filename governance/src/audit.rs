//! Who did something and from where: the provenance every ledger entry carries,
//! and the entries that directory, policy and client changes write.

use hms_audit_ledger::{Event, EventKind, EventOutcome};
use hms_directory::{ApiClient, ChangeSource, Encounter, Patient, PolicyVersion, StaffChange};
use hms_scim::protocol::schema::ResourceType;
use hms_scim::provision::Outcome;
use hms_scim::store::GroupRoles;
use serde_json::json;

/// Who acted, as the ledger names them (`client:{id}`, `staff:{id}`…).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Actor {
    /// An API client of the tenant, by client id.
    Client(String),
    /// A signed-in staff member, by staff id.
    Staff(String),
    /// An identity provider delivering a login, by the tenant's id for it.
    Idp(String),
    /// The HR system, through its signed webhook.
    HrWebhook,
    /// The service itself: first start, the base policy set.
    #[default]
    System,
    /// The service's scheduled work: report packs, due dates, future-dated HR events.
    Scheduler,
    /// An operator at the command line.
    Cli,
    /// A platform operator through the operator API, by credential id.
    Operator(String),
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(id) => write!(f, "client:{id}"),
            Self::Staff(id) => write!(f, "staff:{id}"),
            Self::Idp(id) => write!(f, "idp:{id}"),
            Self::HrWebhook => f.write_str("hr:webhook"),
            Self::Operator(id) => write!(f, "operator:{id}"),
            Self::System => f.write_str("system"),
            Self::Scheduler => f.write_str("scheduler"),
            Self::Cli => f.write_str("cli"),
        }
    }
}

/// The actor and request behind a change or decision.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// Who.
    pub actor: Actor,
    /// The request's `x-request-id`.
    pub request_id: Option<String>,
    /// The peer address.
    pub source_ip: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

impl Provenance {
    /// Provenance for work not started by a request (the system, the CLI,
    /// a scheduled HR event).
    pub fn local(actor: Actor) -> Self {
        Self {
            actor,
            ..Self::default()
        }
    }

    /// The actor's name, as the ledger and the records it writes keep it.
    pub fn actor_name(&self) -> String {
        self.actor.to_string()
    }

    /// An event of `kind` by this actor, to be completed by the caller.
    pub fn event(&self, kind: EventKind) -> Event {
        Event {
            kind: kind.as_str().to_owned(),
            actor: Some(self.actor_name()),
            request_id: self.request_id.clone(),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent.clone(),
            outcome: Some(EventOutcome::Success.as_str().into()),
            ..Event::default()
        }
    }
}

/// The entry for one staff member's upsert: created, updated, disabled or re-enabled.
pub fn staff_event(by: &Provenance, change: &StaffChange, source: ChangeSource) -> Event {
    let member = &change.member;
    let kind = match change.was_active {
        None => EventKind::StaffCreate,
        Some(true) if !member.active => EventKind::StaffDisable,
        Some(false) if member.active => EventKind::StaffEnable,
        Some(_) => EventKind::StaffUpdate,
    };
    Event {
        subject: Some(member.id.clone()),
        action: Some("upsert_staff".into()),
        resource: Some(format!("staff:{}", member.id)),
        details: json!({
            "source": source.as_str(),
            "active": member.active,
            "roles": member.roles,
            "roles_added": change.roles_added,
            "roles_removed": change.roles_removed,
            "withheld_by_review": change.withheld,
            "department": member.department,
            "location": member.location,
            "credentials": member.credentials.iter().map(|c| json!({
                "kind": c.kind, "number": c.number, "status": c.status.as_str(), "expires": c.expires,
            })).collect::<Vec<_>>(),
        }),
        ..by.event(kind)
    }
}

/// The entry for one patient's upsert.
pub fn patient_event(by: &Provenance, patient: &Patient) -> Event {
    Event {
        patient: Some(patient.id.clone()),
        action: Some("upsert_patient".into()),
        resource: Some(format!("patient:{}", patient.id)),
        details: json!({
            "vip": patient.vip,
            "confidential": patient.confidential,
            "consent_restricted": patient.consent_restricted,
            "consent_denied_staff": patient.consent_denied_staff,
            "care_team": patient.care_team,
        }),
        ..by.event(EventKind::PatientUpsert)
    }
}

/// The entry for one encounter's upsert.
pub fn encounter_event(by: &Provenance, encounter: &Encounter) -> Event {
    Event {
        patient: Some(encounter.patient_id.clone()),
        action: Some("upsert_encounter".into()),
        resource: Some(format!("encounter:{}", encounter.id)),
        details: json!({ "department": encounter.department, "active": encounter.active }),
        ..by.event(EventKind::EncounterUpsert)
    }
}

/// The entry for a new policy version.
pub fn policy_event(by: &Provenance, version: &PolicyVersion, previous: Option<i64>) -> Event {
    Event {
        action: Some("install_policies".into()),
        resource: Some(format!("policy_version:{}", version.version)),
        details: json!({
            "version": version.version,
            "previous_version": previous,
            "comment": version.comment,
            "source_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&version.source)),
        }),
        ..by.event(EventKind::PolicyInstall)
    }
}

/// The entry for a new API client; the secret is never part of it.
pub fn client_created_event(by: &Provenance, client: &ApiClient) -> Event {
    Event {
        action: Some("create_client".into()),
        resource: Some(format!("client:{}", client.id)),
        details: json!({ "name": client.name, "scopes": client.scopes }),
        ..by.event(EventKind::ClientCreate)
    }
}

/// The entry for a revoked API client.
pub fn client_revoked_event(by: &Provenance, client_id: &str) -> Event {
    Event {
        action: Some("revoke_client".into()),
        resource: Some(format!("client:{client_id}")),
        ..by.event(EventKind::ClientRevoke)
    }
}

/// A SCIM write, as the ledger names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimOperation {
    /// `POST`.
    Create,
    /// `PUT`.
    Replace,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl ScimOperation {
    /// `create`, `replace`, `patch` or `delete`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }

    /// The entry kind of this operation on a `resource`.
    fn kind(self, resource: ResourceType) -> EventKind {
        match (resource, self) {
            (ResourceType::User, Self::Create) => EventKind::ScimUserCreate,
            (ResourceType::User, Self::Replace) => EventKind::ScimUserReplace,
            (ResourceType::User, Self::Patch) => EventKind::ScimUserPatch,
            (ResourceType::User, Self::Delete) => EventKind::ScimUserDelete,
            (ResourceType::Group, Self::Create) => EventKind::ScimGroupCreate,
            (ResourceType::Group, Self::Replace) => EventKind::ScimGroupReplace,
            (ResourceType::Group, Self::Patch) => EventKind::ScimGroupPatch,
            (ResourceType::Group, Self::Delete) => EventKind::ScimGroupDelete,
        }
    }
}

/// The entry for one SCIM operation; what it did to staff is in their own entries.
pub fn scim_event(
    by: &Provenance,
    kind: ResourceType,
    operation: ScimOperation,
    id: &str,
    outcome: &Outcome,
) -> Event {
    let resource = outcome.resource.as_ref();
    let name_field = match kind {
        ResourceType::User => "userName",
        ResourceType::Group => "displayName",
    };
    Event {
        subject: (kind == ResourceType::User).then(|| id.to_owned()),
        action: Some(format!("scim_{}", operation.name())),
        resource: Some(format!(
            "scim:{}/{id}",
            kind.endpoint().trim_start_matches('/')
        )),
        details: json!({
            "source": ChangeSource::Scim.as_str(),
            "name": resource.and_then(|r| r.document.get(name_field)),
            "external_id": resource.and_then(|r| r.document.get("externalId")),
            "version": resource.map(|r| r.version),
            "members_added": outcome.members_added,
            "members_removed": outcome.members_removed,
            "staff_changed": outcome.staff.len(),
        }),
        ..by.event(operation.kind(kind))
    }
}

/// The entry for a new group-to-role mapping.
pub fn group_roles_event(by: &Provenance, mappings: &[GroupRoles]) -> Event {
    Event {
        action: Some("replace_group_roles".into()),
        resource: Some("provisioning:group_roles".into()),
        details: json!({ "mappings": mappings.iter().map(|m| json!({ "group": m.group, "roles": m.roles })).collect::<Vec<_>>() }),
        ..by.event(EventKind::GroupRolesReplace)
    }
}

/// The entry for a tenant's creation, the first in its ledger.
pub fn tenant_created_event(by: &Provenance, tenant: &str, display_name: &str) -> Event {
    Event {
        action: Some("create_tenant".into()),
        resource: Some(format!("tenant:{tenant}")),
        details: json!({ "display_name": display_name }),
        ..by.event(EventKind::TenantCreate)
    }
}

/// An identity entry (`auth.*`): a login, second-factor or session event
/// concerning `staff_id`, with its outcome and details. Never a secret.
pub fn identity_event(
    by: &Provenance,
    kind: EventKind,
    staff_id: Option<&str>,
    outcome: EventOutcome,
    details: serde_json::Value,
) -> Event {
    Event {
        subject: staff_id.map(str::to_owned),
        action: Some(kind.as_str().trim_start_matches("auth.").replace('.', "_")),
        resource: staff_id.map(|id| format!("staff:{id}")),
        outcome: Some(outcome.as_str().to_owned()),
        details,
        ..by.event(kind)
    }
}

/// The entry for a session ended by logout, an administrator or deprovisioning.
pub fn session_revoked_event(
    by: &Provenance,
    staff_id: &str,
    session_id: &str,
    reason: &str,
) -> Event {
    identity_event(
        by,
        EventKind::SessionRevoke,
        Some(staff_id),
        EventOutcome::Success,
        json!({ "session_id": session_id, "reason": reason }),
    )
}

/// The entry for an identity configuration change (providers, settings, keys).
pub fn identity_config_event(
    by: &Provenance,
    action: &str,
    resource: &str,
    details: serde_json::Value,
) -> Event {
    Event {
        action: Some(action.to_owned()),
        resource: Some(resource.to_owned()),
        details,
        ..by.event(EventKind::IdentityConfig)
    }
}
