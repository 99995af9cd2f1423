//! The PDP decides exactly as plain Cedar does: random requests over the HMS
//! fixture, compared with Cedar's standard path (every entity parsed from JSON
//! against the schema, ancestry computed by Cedar, context parsed by Cedar).

// Tests fail by panicking; helpers outside `#[test]` functions do too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicyId, PolicySet, Request, Schema,
};
use hms_authz::{
    AccessRequest, BundleSource, EntityRecord, EntitySnapshot, Pdp, PolicyBundle, PolicyFile,
    RequestTime,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: &[(&str, &str)] = &[
    ("register_patient", "Patient"),
    ("check_in", "Patient"),
    ("read_demographics", "Patient"),
    ("update_demographics", "Patient"),
    ("read_vitals", "Vitals"),
    ("write_vitals", "Vitals"),
    ("read_clinical_note", "ClinicalNote"),
    ("write_clinical_note", "ClinicalNote"),
    ("prescribe", "Prescription"),
    ("read_prescription", "Prescription"),
    ("dispense", "Prescription"),
    ("order_lab_test", "LabOrder"),
    ("read_lab_order", "LabOrder"),
    ("record_lab_result", "LabResult"),
    ("read_lab_result", "LabResult"),
    ("approve_critical_result", "LabResult"),
    ("order_imaging", "ImagingOrder"),
    ("read_imaging_order", "ImagingOrder"),
    ("report_imaging", "ImagingReport"),
    ("read_imaging_report", "ImagingReport"),
    ("create_bill", "Bill"),
    ("read_bill", "Bill"),
    ("refund", "Bill"),
    ("submit_claim", "Claim"),
    ("read_claim", "Claim"),
    ("manage_inventory", "InventoryItem"),
    ("view_analytics", "AnalyticsReport"),
    ("read_audit_log", "AuditLog"),
];

fn fixture() -> Vec<EntityRecord> {
    let path = format!("{}/fixtures/st-marys.json", hms_policies::CASES_DIR);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct Reference {
    schema: Schema,
    policies: PolicySet,
    records: Vec<EntityRecord>,
}

impl Reference {
    fn new(records: Vec<EntityRecord>, source: &BundleSource) -> Self {
        let (schema, _) = Schema::from_cedarschema_str(&source.schema).unwrap();
        let mut policies = PolicySet::new();
        for file in &source.policies {
            for policy in PolicySet::from_str(&file.text).unwrap().policies() {
                let id = policy.annotation("id").unwrap();
                policies.add(policy.new_id(PolicyId::new(id))).unwrap();
            }
        }
        Self {
            schema,
            policies,
            records,
        }
    }

    /// Allowed (Cedar allows and nothing errored) and the determining policies.
    fn decide(
        &self,
        request: &AccessRequest,
        time: &RequestTime,
    ) -> (bool, Vec<String>, Vec<String>) {
        let qualify = |kind: &str| format!("Hms::{kind}");
        let mut entities: Vec<Value> = self
            .records
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect();
        let resource_attrs: serde_json::Map<String, Value> = request
            .resource
            .properties
            .iter()
            .map(|(k, v)| match v.get("type").and_then(Value::as_str) {
                Some(kind) => (
                    k.clone(),
                    json!({"__entity": {"type": qualify(kind), "id": v["id"]}}),
                ),
                None => (k.clone(), v.clone()),
            })
            .collect();
        let resource_uid =
            json!({"type": qualify(&request.resource.kind), "id": request.resource.id});
        if !entities.iter().any(|e| e["uid"] == resource_uid) && !resource_attrs.is_empty() {
            entities.push(json!({"uid": resource_uid, "attrs": resource_attrs, "parents": []}));
        }
        let entities =
            Entities::from_json_value(Value::Array(entities), Some(&self.schema)).unwrap();
        let uid = |kind: &str, id: &str| {
            EntityUid::from_str(&format!("{}::{}", qualify(kind), json!(id))).unwrap()
        };
        let action =
            EntityUid::from_str(&format!("Hms::Action::{}", json!(request.action.name))).unwrap();
        let mut context = request.context.clone();
        context.insert(
            "now".into(),
            json!({"__extn": {"fn": "datetime", "arg": time.utc}}),
        );
        context.insert("local_hour".into(), json!(time.local_hour));
        let context =
            Context::from_json_value(Value::Object(context), Some((&self.schema, &action)))
                .unwrap();
        let cedar_request = Request::new(
            uid(&request.subject.kind, &request.subject.id),
            action,
            uid(&request.resource.kind, &request.resource.id),
            context,
            Some(&self.schema),
        )
        .unwrap();
        let response = Authorizer::new().is_authorized(&cedar_request, &self.policies, &entities);
        let allowed = response.decision() == Decision::Allow
            && response.diagnostics().errors().next().is_none();
        let mut reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        reasons.sort();
        let mut errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        errors.sort();
        (allowed, reasons, errors)
    }
}

fn request_strategy(
    staff: Vec<String>,
    patients: Vec<String>,
) -> impl Strategy<Value = (AccessRequest, u8)> {
    (
        prop::sample::select(staff),
        // Now and then a patient the directory does not hold: guards fail to evaluate.
        prop_oneof![19 => prop::sample::select(patients), 1 => Just("unregistered".to_owned())],
        prop::sample::select(ACTIONS.to_vec()),
        prop::option::of(any::<bool>()),
        prop::option::of((any::<bool>(), prop::option::of(prop::sample::select(vec!["", "cardiac arrest"])))),
        prop::option::of(prop::sample::select(vec!["north-campus", "south-campus"])),
        prop::option::of(any::<bool>()),
        prop::sample::select(vec!["st-marys", "other-hospital"]),
        0u8..24,
    )
        .prop_map(|(staff, patient, (action, kind), mfa, glass, location, flag, org, hour)| {
            let mut context = serde_json::Map::new();
            if let Some(mfa) = mfa {
                context.insert("mfa".into(), json!(mfa));
            }
            if let Some((glass, reason)) = glass {
                context.insert("break_glass".into(), json!(glass));
                if let Some(reason) = reason {
                    context.insert("break_glass_reason".into(), json!(reason));
                }
            }
            if let Some(location) = location {
                context.insert("location".into(), json!(location));
            }
            let resource = match kind {
                "Patient" => json!({"type": "Patient", "id": patient}),
                "InventoryItem" | "AnalyticsReport" | "AuditLog" => json!({"type": kind, "id": "r1", "properties": {"organization": org}}),
                _ => {
                    let mut properties = json!({"patient": {"type": "Patient", "id": patient}});
                    match (kind, flag) {
                        ("Prescription", Some(flag)) => properties["controlled"] = json!(flag),
                        ("LabResult", Some(flag)) => properties["critical"] = json!(flag),
                        _ => {}
                    }
                    json!({"type": kind, "id": "r1", "properties": properties})
                }
            };
            let request = json!({"subject": {"type": "Staff", "id": staff}, "action": {"name": action}, "resource": resource, "context": context});
            (serde_json::from_value(request).unwrap(), hour)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn decisions_match_plain_cedar((request, hour) in request_strategy(ids("Hms::Staff"), ids("Hms::Patient"))) {
        let (pdp, reference) = setup(0);
        check(pdp, reference, &request, hour)?;
    }

    #[test]
    fn decisions_match_plain_cedar_with_many_more_policies((request, hour) in request_strategy(ids("Hms::Staff"), ids("Hms::Patient"))) {
        let (pdp, reference) = setup(1);
        check(pdp, reference, &request, hour)?;
    }
}

fn check(
    pdp: &Pdp,
    reference: &Reference,
    request: &AccessRequest,
    hour: u8,
) -> Result<(), TestCaseError> {
    let time = RequestTime {
        utc: format!("2026-06-01T{hour:02}:00:00Z"),
        local_hour: hour,
    };
    let ours = pdp.evaluate(request, &time).unwrap();
    let (allowed, reasons, errors) = reference.decide(request, &time);
    prop_assert_eq!(ours.allowed, allowed, "{:?}", request);
    prop_assert_eq!(ours.policies, reasons, "{:?}", request);
    // Ours carry Cedar's help text after its message.
    let mut our_errors = ours.errors.clone();
    our_errors.sort();
    prop_assert_eq!(our_errors.len(), errors.len(), "{:?}", request);
    for (ours, cedar) in our_errors.iter().zip(&errors) {
        prop_assert!(ours.starts_with(cedar.as_str()), "{ours} / {cedar}");
    }
    Ok(())
}

/// The HMS set with 20 more copies of its role grants: most for roles nobody
/// holds, some for the real roles (so they join the determining policies).
fn many_policies() -> BundleSource {
    let mut source = common::hms_source();
    let (_, roles) = hms_policies::POLICY_FILES[0];
    for copy in 0..20 {
        let renamed = roles.replace("@id(\"", &format!("@id(\"copy{copy}-"));
        let text = if copy % 5 == 0 {
            renamed
        } else {
            renamed.replace("Role::\"", &format!("Role::\"copy{copy}_"))
        };
        source.policies.push(PolicyFile {
            name: format!("copy{copy}.cedar"),
            text,
        });
    }
    source
}

fn ids(kind: &str) -> Vec<String> {
    let mut ids: Vec<String> = fixture()
        .into_iter()
        .filter(|r| r.uid.kind == kind)
        .map(|r| r.uid.id)
        .collect();
    ids.push("unknown".into());
    ids
}

/// The PDP and reference for the HMS set (0) or the larger set (1), built once.
fn setup(which: usize) -> (&'static Pdp, &'static Reference) {
    static SHARED: std::sync::OnceLock<Vec<(Pdp, Reference)>> = std::sync::OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        [common::hms_source(), many_policies()]
            .into_iter()
            .map(|source| {
                let reference = Reference::new(fixture(), &source);
                let bundle = Arc::new(PolicyBundle::compile(source).unwrap());
                let snapshot = EntitySnapshot::build(fixture(), &bundle).unwrap();
                (Pdp::new(bundle, Arc::new(snapshot)), reference)
            })
            .collect()
    });
    let (pdp, reference) = &shared[which];
    (pdp, reference)
}
