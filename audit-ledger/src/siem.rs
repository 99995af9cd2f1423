//! Entries in the formats hospitals feed their SIEM and EHR audit repositories:
//! FHIR R4 `AuditEvent` resources (in a `collection` Bundle) and RFC 5424 syslog lines.

use serde_json::{Value, json};

use crate::entry::{Entry, Timestamp};
use crate::vocabulary::{EventKind, EventOutcome};

const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

/// The structured-data id of syslog lines (RFC 5424 §6.3.2; 32473 is the
/// documentation enterprise number of RFC 5612).
pub const SYSLOG_SD_ID: &str = "hmsach@32473";

/// A FHIR R4 `Bundle` of type `collection` holding one `AuditEvent` per entry.
pub fn fhir_bundle(entries: &[Entry], origin: &str) -> Value {
    let resources: Vec<Value> = entries
        .iter()
        .map(|entry| json!({ "resource": fhir_audit_event(entry, origin) }))
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": Timestamp::now().to_rfc3339(),
        "total": resources.len(),
        "entry": resources,
    })
}

/// One entry as a FHIR R4 `AuditEvent`.
pub fn fhir_audit_event(entry: &Entry, origin: &str) -> Value {
    let event = &entry.event;
    let (type_code, type_display) = event_type(entry);
    let mut audit = json!({
        "resourceType": "AuditEvent",
        "id": fhir_id(origin, entry.sequence),
        "type": { "system": DICOM, "code": type_code, "display": type_display },
        "subtype": [{ "system": "urn:hms-ach:ledger-kind", "code": event.kind }],
        "action": crud_action(&event.kind),
        "recorded": entry.time.to_rfc3339(),
        "outcome": fhir_outcome(event.outcome.as_deref()),
        "agent": agents(entry),
        "source": {
            "site": origin,
            "observer": { "display": format!("HMS-ACH {origin}") },
            "type": [{ "system": SOURCE_TYPE, "code": "4", "display": "Application Server" }],
        },
        "entity": entities(entry),
    });
    if let Some(outcome) = &event.outcome {
        audit["outcomeDesc"] = json!(outcome_description(outcome, &event.policies));
    }
    if is_break_glass(entry) {
        audit["purposeOfEvent"] = json!([{ "coding": [{
            "system": ACT_REASON, "code": "ETREAT", "display": "Emergency Treatment"
        }]}]);
    }
    audit
}

/// A resource id (at most 64 of `[A-Za-z0-9-.]`) unique across ledgers.
fn fhir_id(origin: &str, sequence: u64) -> String {
    let origin: String = origin
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("{origin}-{sequence}")
}

/// DICOM audit event type of an entry's kind.
fn event_type(entry: &Entry) -> (&'static str, &'static str) {
    let kind = entry.event.kind.as_str();
    match kind.split('.').next().unwrap_or_default() {
        "decision" if entry.event.patient.is_some() => ("110110", "Patient Record"),
        "directory" | "client" => ("110137", "User Security Attributes Changed"),
        "policy" => ("110136", "Security Roles Changed"),
        "login" | "mfa" | "session" => ("110114", "User Authentication"),
        _ => ("110100", "Application Activity"),
    }
}

/// FHIR `AuditEvent.action`: C, R, U, D or E.
fn crud_action(kind: &str) -> &'static str {
    if kind.ends_with(".create") {
        "C"
    } else if kind.ends_with(".delete") {
        "D"
    } else if matches!(
        EventKind::parse(kind),
        Some(EventKind::Decision | EventKind::ReportPull)
    ) {
        "E"
    } else {
        "U"
    }
}

/// FHIR outcome: 0 success, 4 minor failure (a denial), 8 serious failure.
fn fhir_outcome(outcome: Option<&str>) -> &'static str {
    match outcome.map(EventOutcome::parse) {
        None | Some(Some(EventOutcome::Permit | EventOutcome::Success)) => "0",
        Some(Some(EventOutcome::Deny)) => "4",
        Some(_) => "8",
    }
}

fn outcome_description(outcome: &str, policies: &[String]) -> String {
    if policies.is_empty() {
        outcome.to_owned()
    } else {
        format!("{outcome} (policies: {})", policies.join(", "))
    }
}

fn is_break_glass(entry: &Entry) -> bool {
    entry.event.details["context"]["break_glass"] == Value::Bool(true)
}

/// The requesting system (the actor) and the person acted for (the subject).
fn agents(entry: &Entry) -> Vec<Value> {
    let event = &entry.event;
    let mut agents = Vec::new();
    if let Some(actor) = &event.actor {
        let mut agent = json!({
            "who": { "identifier": { "system": "urn:hms-ach:actor", "value": actor } },
            "requestor": event.subject.is_none(),
        });
        if let Some(ip) = &event.source_ip {
            agent["network"] = json!({ "address": ip, "type": "2" });
        }
        agents.push(agent);
    }
    if let Some(subject) = &event.subject {
        agents.push(json!({
            "who": { "identifier": { "system": "urn:hms-ach:staff", "value": subject } },
            "requestor": true,
        }));
    }
    agents
}

/// The patient concerned and the resource acted on, with the ledger's proof handles.
fn entities(entry: &Entry) -> Vec<Value> {
    let event = &entry.event;
    let mut entities = Vec::new();
    if let Some(patient) = &event.patient {
        entities.push(json!({
            "what": { "identifier": { "system": "urn:hms-ach:patient", "value": patient } },
            "type": { "system": ENTITY_TYPE, "code": "1", "display": "Person" },
            "role": { "system": OBJECT_ROLE, "code": "1", "display": "Patient" },
        }));
    }
    let mut detail = vec![
        json!({ "type": "ledger_sequence", "valueString": entry.sequence.to_string() }),
        json!({ "type": "leaf_hash", "valueString": hex::encode(entry.leaf_hash()) }),
    ];
    for (name, value) in [
        ("action", &event.action),
        ("decision_id", &event.decision_id),
        ("request_id", &event.request_id),
    ] {
        if let Some(value) = value {
            detail.push(json!({ "type": name, "valueString": value }));
        }
    }
    entities.push(json!({
        "what": { "identifier": { "system": "urn:hms-ach:resource", "value": event.resource.clone().unwrap_or_else(|| event.kind.clone()) } },
        "type": { "system": ENTITY_TYPE, "code": "2", "display": "System Object" },
        "detail": detail,
    }));
    entities
}

/// One entry as an RFC 5424 syslog line (facility 13, log audit), without a trailing newline.
pub fn syslog_line(entry: &Entry, origin: &str) -> String {
    let event = &entry.event;
    let severity = match event.outcome.as_deref().map(EventOutcome::parse) {
        None | Some(Some(EventOutcome::Permit | EventOutcome::Success)) => 6,
        Some(Some(EventOutcome::Deny)) => 5,
        Some(_) => 4,
    };
    let priority = 13 * 8 + severity;
    let hostname = printable(origin, 255);
    let msgid = printable(&event.kind, 32);
    let mut params = vec![("seq", entry.sequence.to_string())];
    let optional = [
        ("actor", &event.actor),
        ("subject", &event.subject),
        ("patient", &event.patient),
        ("action", &event.action),
        ("resource", &event.resource),
        ("outcome", &event.outcome),
        ("decision_id", &event.decision_id),
        ("request_id", &event.request_id),
        ("source_ip", &event.source_ip),
    ];
    params.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.clone().map(|v| (name, v))),
    );
    if !event.policies.is_empty() {
        params.push(("policies", event.policies.join(",")));
    }
    params.push(("leaf_hash", hex::encode(entry.leaf_hash())));
    let data: String = params
        .iter()
        .map(|(name, value)| format!(" {name}=\"{}\"", escape_param(value)))
        .collect();
    format!(
        "<{priority}>1 {} {hostname} hms-ach - {msgid} [{SYSLOG_SD_ID}{data}] {}",
        entry.time.to_rfc3339(),
        summary(entry)
    )
}

/// A one-line human summary.
fn summary(entry: &Entry) -> String {
    let event = &entry.event;
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    format!(
        "{} {} {} {} on {}",
        or_dash(&event.actor),
        or_dash(&event.outcome),
        or_dash(&event.action),
        or_dash(&event.subject),
        or_dash(&event.resource)
    )
    .replace(['\n', '\r'], " ")
}

/// RFC 5424 header fields: printable US-ASCII without spaces, bounded, `-` when empty.
fn printable(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".into()
    } else {
        cleaned
    }
}

/// PARAM-VALUE escaping: `"`, `\` and `]` take a backslash (RFC 5424 §6.3.3).
fn escape_param(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::entry::Event;

    fn decision() -> Entry {
        Entry {
            sequence: 7,
            time: Timestamp::from_unix_micros(1_795_000_000_000_000),
            prev_hash: [1; 32],
            event: Event {
                kind: "decision".into(),
                actor: Some("client:cl_emr".into()),
                subject: Some("dr-bone".into()),
                patient: Some("p1".into()),
                action: Some("read_vitals".into()),
                resource: Some("Vitals:v\"1]".into()),
                outcome: Some("permit".into()),
                policies: vec!["break-glass-emergency-read".into()],
                source_ip: Some("10.0.0.5".into()),
                details: json!({"context": {"break_glass": true, "break_glass_reason": "arrest"}}),
                ..Event::default()
            },
        }
    }

    #[test]
    fn a_break_glass_read_is_an_emergency_patient_record_event() {
        let audit = fhir_audit_event(&decision(), "hms-ach/st-marys");
        assert_eq!(audit["resourceType"], "AuditEvent");
        assert_eq!(audit["id"], "hms-ach-st-marys-7");
        assert_eq!(audit["type"]["code"], "110110");
        assert_eq!(audit["outcome"], "0");
        assert_eq!(audit["purposeOfEvent"][0]["coding"][0]["code"], "ETREAT");
        assert_eq!(audit["agent"][1]["who"]["identifier"]["value"], "dr-bone");
        assert_eq!(audit["agent"][0]["network"]["address"], "10.0.0.5");
        assert_eq!(audit["entity"][0]["role"]["display"], "Patient");
        let bundle = fhir_bundle(&[decision()], "hms-ach/st-marys");
        assert_eq!(bundle["type"], "collection");
        assert_eq!(bundle["entry"][0]["resource"]["id"], "hms-ach-st-marys-7");
    }

    #[test]
    fn a_syslog_line_follows_rfc_5424_and_escapes_values() {
        let line = syslog_line(&decision(), "hms-ach/st-marys");
        assert!(line.starts_with("<110>1 2026-"), "{line}");
        assert!(line.contains(" hms-ach/st-marys hms-ach - decision [hmsach@32473 seq=\"7\""));
        assert!(line.contains("resource=\"Vitals:v\\\"1\\]\""), "{line}");
        assert!(line.ends_with("client:cl_emr permit read_vitals dr-bone on Vitals:v\"1]"));
        let mut denied = decision();
        denied.event.outcome = Some("deny".into());
        assert!(syslog_line(&denied, "o").starts_with("<109>1 "));
    }
}
