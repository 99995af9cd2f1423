//! The directory as the PDP sees it: staff and patients mapped to HMS Cedar entities.

use hms_authz::{EntityRecord, EntityRef};
use hms_directory::{Patient, StaffMember, TenantId};
use serde_json::{Map, Value, json};

/// Maps directory records of one tenant to entities of the bundle's namespace.
#[derive(Debug, Clone)]
pub struct EntityMapper {
    namespace: String,
    organization: String,
}

impl EntityMapper {
    /// A mapper for `tenant` into `namespace` (the HMS namespace when `None`).
    pub fn new(tenant: &TenantId, namespace: Option<&str>) -> Self {
        Self {
            namespace: namespace.unwrap_or("Hms").to_owned(),
            organization: tenant.to_string(),
        }
    }

    fn reference(&self, kind: &str, id: &str) -> EntityRef {
        EntityRef {
            kind: format!("{}::{kind}", self.namespace),
            id: id.to_owned(),
        }
    }

    fn reference_json(&self, kind: &str, id: &str) -> Value {
        json!({ "__entity": self.reference(kind, id) })
    }

    /// A staff member: roles become parents; the professional licence an attribute.
    pub fn staff(&self, member: &StaffMember) -> EntityRecord {
        let mut attrs = Map::new();
        attrs.insert("organization".into(), json!(self.organization));
        attrs.insert("active".into(), json!(member.active));
        attrs.insert("display_name".into(), json!(member.display_name));
        if let Some(department) = &member.department {
            attrs.insert("department".into(), json!(department));
        }
        if let Some(location) = &member.location {
            attrs.insert("location".into(), json!(location));
        }
        if let Some(allowed) = &member.allowed_locations {
            attrs.insert("allowed_locations".into(), json!(allowed));
        }
        if let Some(shift) = member.shift {
            attrs.insert("shift_start_hour".into(), json!(shift.start_hour));
            attrs.insert("shift_end_hour".into(), json!(shift.end_hour));
        }
        if let Some(licence) = member.licence() {
            attrs.insert(
                "licence".into(),
                json!({
                    "kind": licence.kind,
                    "number": licence.number,
                    "status": licence.status.as_str(),
                    "expires": { "__extn": { "fn": "datetime", "arg": licence.expires } },
                }),
            );
        }
        EntityRecord {
            uid: self.reference("Staff", &member.id),
            attrs,
            parents: member
                .roles
                .iter()
                .map(|role| self.reference("Role", role))
                .collect(),
        }
    }

    /// A patient with care team, consent and active encounter departments.
    pub fn patient(&self, patient: &Patient) -> EntityRecord {
        let staff_set = |ids: &[String]| {
            Value::Array(
                ids.iter()
                    .map(|id| self.reference_json("Staff", id))
                    .collect(),
            )
        };
        let attrs = json!({
            "organization": self.organization,
            "vip": patient.vip,
            "confidential": patient.confidential,
            "consent_restricted": patient.consent_restricted,
            "consent_denied_staff": staff_set(&patient.consent_denied_staff),
            "care_team": staff_set(&patient.care_team),
            "active_encounter_departments": patient.active_encounter_departments,
        });
        EntityRecord {
            uid: self.reference("Patient", &patient.id),
            attrs: match attrs {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            parents: Vec::new(),
        }
    }
}
