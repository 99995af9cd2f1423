//! Patients as the PDP needs them: sensitivity flags, consent, care team and active encounters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::ids::check_record_id;
use crate::store::{TenantStore, decode_json, flag};

/// A patient registered by the HMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    /// The HMS patient id (MRN).
    pub id: String,
    /// Very important person: only the care team sees their records.
    #[serde(default)]
    pub vip: bool,
    /// Confidential: clinical notes for the patient's own doctors only.
    #[serde(default)]
    pub confidential: bool,
    /// The patient restricted disclosure to the direct care team.
    #[serde(default)]
    pub consent_restricted: bool,
    /// Staff ids the patient has asked never to see their records.
    #[serde(default)]
    pub consent_denied_staff: Vec<String>,
    /// Staff ids on the care team.
    #[serde(default)]
    pub care_team: Vec<String>,
    /// Departments of the patient's active encounters (read-only, from encounters).
    #[serde(default, skip_deserializing)]
    pub active_encounter_departments: Vec<String>,
    /// Family name, for privacy monitoring (staff looking up their namesakes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Postal address, for privacy monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The staff id of a patient who is also an employee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
}

/// An encounter (admission, visit) of a patient in a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Encounter {
    /// The HMS encounter id.
    pub id: String,
    /// The patient.
    pub patient_id: String,
    /// Department where it takes place.
    pub department: String,
    /// Whether it is ongoing.
    #[serde(default = "ongoing")]
    pub active: bool,
}

fn ongoing() -> bool {
    true
}

type PatientRow = (
    String,
    i64,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl TenantStore {
    /// Creates or replaces patients and their care teams, all or nothing.
    /// Writes in the caller's transaction.
    pub async fn upsert_patients(
        &self,
        tx: &mut AnyConnection,
        patients: &[Patient],
    ) -> Result<(), StoreError> {
        for patient in patients {
            check_record_id("patient", &patient.id)?;
            for staff in patient
                .care_team
                .iter()
                .chain(&patient.consent_denied_staff)
            {
                check_record_id("staff", staff)?;
            }
            if let Some(employee) = &patient.employee_id {
                check_record_id("staff", employee)?;
            }
        }
        for patient in patients {
            write_patient(tx, patient).await?;
        }
        Ok(())
    }

    /// Creates or replaces encounters in the caller's transaction; returns the patients concerned.
    pub async fn upsert_encounters(
        &self,
        tx: &mut AnyConnection,
        encounters: &[Encounter],
    ) -> Result<Vec<String>, StoreError> {
        for encounter in encounters {
            check_record_id("encounter", &encounter.id)?;
            check_record_id("patient", &encounter.patient_id)?;
        }
        let mut patients = Vec::new();
        for encounter in encounters {
            sqlx::query(
                "INSERT INTO encounters (id, patient_id, department, active, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, department = excluded.department, \
                 active = excluded.active, updated_at = excluded.updated_at",
            )
            .bind(&encounter.id)
            .bind(&encounter.patient_id)
            .bind(&encounter.department)
            .bind(flag(encounter.active))
            .bind(now_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(|e| unknown_patient(e, &encounter.patient_id))?;
            patients.push(encounter.patient_id.clone());
        }
        patients.sort();
        patients.dedup();
        Ok(patients)
    }

    /// Patients by id (missing ids are skipped), or all of them when `ids` is `None`.
    pub async fn load_patients(&self, ids: Option<&[String]>) -> Result<Vec<Patient>, StoreError> {
        let rows: Vec<PatientRow> = self
            .rows_for(
                "SELECT id, vip, confidential, consent_restricted, consent_denied_staff, family_name, address, employee_id \
                 FROM patients WHERE 1 = 1",
                "id",
                "id",
                ids,
            )
            .await?;
        let team = self
            .rows_for(
                "SELECT patient_id, staff_id FROM care_team WHERE 1 = 1",
                "patient_id",
                "patient_id, staff_id",
                ids,
            )
            .await?;
        let encounters = self
            .rows_for(
                "SELECT DISTINCT patient_id, department FROM encounters WHERE active = 1",
                "patient_id",
                "patient_id, department",
                ids,
            )
            .await?;
        let (mut care_teams, mut departments) = (group(team), group(encounters));
        rows.into_iter()
            .map(|row| {
                let (
                    id,
                    vip,
                    confidential,
                    consent_restricted,
                    denied,
                    family_name,
                    address,
                    employee_id,
                ) = row;
                Ok(Patient {
                    family_name,
                    address,
                    employee_id,
                    care_team: care_teams.remove(&id).unwrap_or_default(),
                    active_encounter_departments: departments.remove(&id).unwrap_or_default(),
                    consent_denied_staff: decode_json(&denied, "patients.consent_denied_staff")?,
                    vip: vip != 0,
                    confidential: confidential != 0,
                    consent_restricted: consent_restricted != 0,
                    id,
                })
            })
            .collect()
    }
}

fn group(rows: Vec<(String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in rows {
        grouped.entry(key).or_default().push(value);
    }
    grouped
}

async fn write_patient(tx: &mut AnyConnection, patient: &Patient) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO patients (id, vip, confidential, consent_restricted, consent_denied_staff, updated_at, \
         family_name, address, employee_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET vip = excluded.vip, confidential = excluded.confidential, \
         consent_restricted = excluded.consent_restricted, consent_denied_staff = excluded.consent_denied_staff, \
         updated_at = excluded.updated_at, family_name = excluded.family_name, address = excluded.address, \
         employee_id = excluded.employee_id",
    )
    .bind(&patient.id)
    .bind(flag(patient.vip))
    .bind(flag(patient.confidential))
    .bind(flag(patient.consent_restricted))
    .bind(serde_json::to_string(&patient.consent_denied_staff).unwrap_or_else(|_| "[]".into()))
    .bind(now_rfc3339())
    .bind(&patient.family_name)
    .bind(&patient.address)
    .bind(&patient.employee_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM care_team WHERE patient_id = $1")
        .bind(&patient.id)
        .execute(&mut *tx)
        .await?;
    let mut team = patient.care_team.clone();
    team.sort();
    team.dedup();
    for staff in team {
        sqlx::query("INSERT INTO care_team (patient_id, staff_id) VALUES ($1, $2)")
            .bind(&patient.id)
            .bind(staff)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

fn unknown_patient(e: sqlx::Error, patient: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::Invalid(format!("unknown patient `{patient}`"))
        }
        _ => e.into(),
    }
}
