//! The first-run demo: a tenant with a small hospital directory and a credential to call it with.

use hms_directory::{Credential, CredentialStatus, Encounter, Patient, StaffMember, TenantId};

use hms_governance::audit::Provenance;
use hms_governance::credentials::Scope;
use hms_governance::tenancy::{ChangeError, Tenants};

/// The demo tenant's id.
pub const DEMO_TENANT: &str = "demo";

/// Creates the demo tenant, its directory and an API client; returns the client's token.
pub async fn install(tenants: &Tenants) -> Result<String, ChangeError> {
    let id: TenantId = DEMO_TENANT.parse()?;
    let by = Provenance::local(hms_governance::audit::Actor::System);
    let tenant = tenants.create(&id, "Demo General Hospital", 0, &by).await?;
    let licence = |kind: &str, number: &str| Credential {
        kind: kind.into(),
        number: number.into(),
        status: CredentialStatus::Active,
        expires: "2030-12-31".into(),
    };
    let member = |id: &str,
                  given: &str,
                  family: &str,
                  role: &str,
                  department: &str,
                  credential: Option<Credential>| StaffMember {
        id: id.into(),
        given_name: given.into(),
        family_name: family.into(),
        display_name: String::new(),
        emails: vec![format!("{id}@demo-hospital.example")],
        active: true,
        department: Some(department.into()),
        location: None,
        address: None,
        allowed_locations: None,
        shift: None,
        roles: vec![role.into()],
        credentials: credential.into_iter().collect(),
    };
    tenant
        .upsert_staff(
            vec![
                member(
                    "dr-grey",
                    "Meredith",
                    "Grey",
                    "doctor",
                    "cardiology",
                    Some(licence("medical_licence", "MD-1001")),
                ),
                member(
                    "nurse-joy",
                    "Joy",
                    "Parker",
                    "nurse",
                    "cardiology",
                    Some(licence("nursing_licence", "RN-2002")),
                ),
                member(
                    "front-desk",
                    "Sam",
                    "Lee",
                    "receptionist",
                    "registration",
                    None,
                ),
                member(
                    "lab-kim",
                    "Kim",
                    "Cho",
                    "lab_technician",
                    "laboratory",
                    Some(licence("lab_licence", "LT-3003")),
                ),
            ],
            hms_directory::ChangeSource::Admin,
            &by,
        )
        .await?;
    tenant
        .upsert_patients(
            vec![Patient {
                id: "p-1001".into(),
                vip: false,
                confidential: false,
                consent_restricted: false,
                consent_denied_staff: vec![],
                care_team: vec!["dr-grey".into()],
                active_encounter_departments: vec![],
                family_name: None,
                address: None,
                employee_id: None,
            }],
            &by,
        )
        .await?;
    tenant
        .upsert_encounters(
            vec![Encounter {
                id: "enc-1".into(),
                patient_id: "p-1001".into(),
                department: "cardiology".into(),
                active: true,
            }],
            &by,
        )
        .await?;
    let (_, token) = tenant
        .create_client(
            "demo-console",
            &[Scope::Pdp, Scope::Admin, Scope::Audit],
            &by,
        )
        .await?;
    Ok(token.expose().to_owned())
}

/// How to call the demo, printed once at first start.
pub fn instructions(base: &str, token: &str) -> String {
    format!(
        r#"
HMS-ACH is running with a demo tenant `{DEMO_TENANT}`.
Its API credential (shown once; keep it): {token}

Ask the PDP whether Dr Grey may read a lab result of her patient p-1001:

  curl -s {base}/{DEMO_TENANT}/access/v1/evaluation \
    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \
    -d '{{"subject":{{"type":"Staff","id":"dr-grey"}},"action":{{"name":"read_lab_result"}},
         "resource":{{"type":"LabResult","id":"lr-1","properties":{{"patient":{{"type":"Patient","id":"p-1001"}}}}}}}}'

Every decision is in the tenant's audit ledger:

  curl -s '{base}/{DEMO_TENANT}/ledger/entries?kind=decision' -H 'Authorization: Bearer {token}'

PDP metadata: {base}/.well-known/authzen-configuration/{DEMO_TENANT}
API document: {base}/openapi.json
"#
    )
}
