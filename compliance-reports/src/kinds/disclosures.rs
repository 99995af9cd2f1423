//! The accounting of disclosures (45 CFR 164.528) for one patient: each
//! permitted release of their information to a recipient outside the
//! hospital, except the releases the rule exempts.

use hms_audit_ledger::{Entry, EventKind, EventOutcome};

use super::tally::Reading;
use super::{Needs, Spec, context_text, patient_decision, staff_of, text};
use crate::report::{Directory, Parameters};

/// Purposes of use (HL7 PurposeOfUse codes) whose disclosures the rule
/// leaves out of the accounting: treatment, payment, health care
/// operations, the patient's own request or authorisation, people involved
/// in their care, the facility directory, national security.
pub const EXEMPT_PURPOSES: &[&str] = &[
    "TREAT",
    "ETREAT",
    "HPAYMT",
    "HOPERAT",
    "PATRQT",
    "PATADMIN",
    "FAMRQT",
    "PWATRNY",
    "DIRECTORY",
    "NATSEC",
    "AUTH",
];

pub(super) const SPEC: Spec = Spec {
    needs: Needs::Patient,
    kinds: Some(&[EventKind::Decision.as_str()]),
    columns: &[
        "date",
        "recipient",
        "recipient_address",
        "description",
        "purpose",
        "released_by",
        "decision_id",
        "sequence",
    ],
    notes: &[
        "Included: every permitted request that named a recipient outside the hospital (context `recipient`), whatever the purpose, except the purposes 45 CFR 164.528(a)(1) exempts.",
        "Left out: purposes TREAT, ETREAT (treatment), HPAYMT (payment), HOPERAT (health care operations), PATRQT and PATADMIN (to the patient), FAMRQT and PWATRNY (persons involved in the patient's care), DIRECTORY (facility directory), NATSEC (national security) and AUTH (under the patient's authorization); requests that were denied disclosed nothing and are left out too.",
        "A purpose of use left blank is included, since an exemption cannot be shown.",
    ],
    reading: Reading::EachEntry(disclosure),
};

/// The row of a disclosure the accounting includes.
fn disclosure(
    entry: &Entry,
    parameters: &Parameters,
    directory: &Directory,
) -> Option<Vec<String>> {
    let permitted = entry.event.ended(EventOutcome::Permit);
    if !permitted || !patient_decision(entry, parameters, directory) {
        return None;
    }
    let recipient = context_text(entry, "recipient");
    let purpose = context_text(entry, "purpose_of_use");
    if recipient.is_empty() || EXEMPT_PURPOSES.contains(&purpose.to_uppercase().as_str()) {
        return None;
    }
    let description = format!(
        "{} ({})",
        text(entry.event.action.as_ref()).replace('_', " "),
        text(entry.event.resource.as_ref())
    );
    Some(vec![
        entry.time.to_string(),
        recipient,
        context_text(entry, "recipient_address"),
        description,
        purpose,
        staff_of(entry),
        text(entry.event.decision_id.as_ref()),
        entry.sequence.to_string(),
    ])
}
