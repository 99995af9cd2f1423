//! Login admission: once a SAML or OIDC login has verified, the staff member
//! it names is found (or created on first login, when the tenant allows it),
//! refused when disabled, their IdP-granted roles brought up to date, and a
//! session started, awaiting its second factor when the tenant requires one.
//! Every login, admitted or refused, is recorded in the ledger.

use hms_audit_ledger::{EventKind, EventOutcome};
use hms_directory::ChangeSource;
use hms_directory::{StaffMember, StaffRecord, roles_granting};
use hms_idp_bridge::IdentityError;
use hms_idp_bridge::mapping::{ClaimMapping, VerifiedIdentity};
use hms_idp_bridge::mfa::{self, FactorState};
use hms_idp_bridge::providers;
use hms_idp_bridge::sessions::{MFA_PENDING_SECONDS, Stage};
use hms_idp_bridge::settings::IdentitySettings;
use hms_keys::ShownOnce;
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Provenance};
use crate::sessions::{self, Authenticated, SessionError};
use crate::tenancy::{ChangeError, Tenant};

/// What a verified login led to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Admission {
    /// A session, with its first token.
    Authenticated(Authenticated),
    /// A login awaiting its second factor.
    MfaRequired(MfaRequired),
}

/// A login awaiting its second factor.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MfaRequired {
    /// Always `mfa_required`.
    pub status: &'static str,
    /// The login's secret, for the second-factor steps.
    pub login_token: ShownOnce,
    /// Whether the person has a confirmed authenticator (else they enrol one).
    pub mfa_enrolled: bool,
    /// Seconds left to complete the second factor.
    pub expires_in: i64,
}

/// Admits a verified login, or records why it failed.
pub async fn finish(
    tenant: &Tenant,
    idp: &str,
    verified: Result<VerifiedIdentity, IdentityError>,
    by: &Provenance,
) -> Result<Admission, SessionError> {
    let admitted = match verified {
        Ok(identity) => admit(tenant, &identity, by).await,
        Err(e) => Err((None, e.into())),
    };
    let (staff_id, error) = match admitted {
        Ok(admission) => return Ok(admission),
        Err(refusal) => refusal,
    };
    let details = json!({ "provider": idp, "code": error.code(), "reason": error.to_string() });
    let event = audit::identity_event(
        by,
        EventKind::Login,
        staff_id.as_deref(),
        EventOutcome::Failure,
        details,
    );
    tenant.ledger.append_all(vec![event]).await?;
    Err(error)
}

type Refusal = (Option<String>, SessionError);

/// Finds (or creates) the staff member, starts the session and says what comes next.
async fn admit(
    tenant: &Tenant,
    identity: &VerifiedIdentity,
    by: &Provenance,
) -> Result<Admission, Refusal> {
    let stored = providers::get(tenant.store.pool(), &identity.provider_id)
        .await
        .map_err(|e| (None, e.into()))?
        .ok_or_else(|| {
            (
                None,
                IdentityError::UnknownProvider(identity.provider_id.clone()).into(),
            )
        })?;
    let mapping = stored.config.mapping();
    let staff_id = mapping.staff_id(identity).map_err(|e| (None, e.into()))?;
    let fail = |e: SessionError| (Some(staff_id.clone()), e);
    let settings = tenant.identity.settings();
    let member = sync_staff(tenant, mapping, identity, &staff_id, &settings, by)
        .await
        .map_err(fail)?;
    let stage = if settings.mfa_required {
        Stage::MfaPending
    } else {
        Stage::Active
    };
    let pool = tenant.store.pool();
    let amr = vec![identity.protocol.to_owned()];
    let (session, secret) = tenant
        .identity
        .sessions
        .start(
            pool,
            &staff_id,
            &identity.provider_id,
            amr,
            stage,
            &settings,
        )
        .await
        .map_err(|e| fail(e.into()))?;
    let details = json!({ "provider": identity.provider_id, "protocol": identity.protocol, "session_id": session.id, "stage": stage });
    let event = audit::identity_event(
        by,
        EventKind::Login,
        Some(&staff_id),
        EventOutcome::Success,
        details,
    );
    tenant
        .ledger
        .append_all(vec![event])
        .await
        .map_err(|e| fail(e.into()))?;
    if stage == Stage::Active {
        let answer =
            sessions::authenticated(tenant, &session, secret, member.roles).map_err(fail)?;
        return Ok(Admission::Authenticated(answer));
    }
    let enrolled = mfa::state(pool, &staff_id)
        .await
        .map_err(|e| fail(e.into()))?;
    Ok(Admission::MfaRequired(MfaRequired {
        status: "mfa_required",
        login_token: ShownOnce::new(secret),
        mfa_enrolled: enrolled == FactorState::Confirmed,
        expires_in: MFA_PENDING_SECONDS,
    }))
}

/// What a login does to the directory.
#[derive(Debug)]
enum Plan {
    /// Nothing: the record is current.
    Keep(StaffMember),
    /// Write this record (created on first login, or with new IdP roles).
    Write(StaffMember),
}

/// The plan for `record`: refused when unknown (unless the tenant creates
/// on first login) or disabled; IdP-granted roles brought up to date.
fn plan(
    record: Option<StaffRecord>,
    mapping: &ClaimMapping,
    identity: &VerifiedIdentity,
    staff_id: &str,
    settings: &IdentitySettings,
) -> Result<Plan, IdentityError> {
    let record = match record {
        None if settings.just_in_time => {
            return Ok(Plan::Write(mapping.new_member(identity, staff_id)));
        }
        None => {
            return Err(IdentityError::refused(
                "unknown_staff",
                format!(
                    "no staff member `{staff_id}` in the directory, and first-login creation is off"
                ),
            ));
        }
        Some(record) => record,
    };
    if !record.member.active {
        return Err(IdentityError::refused(
            "account_disabled",
            format!("staff member `{staff_id}` is disabled in the directory"),
        ));
    }
    if mapping.groups.is_none() {
        return Ok(Plan::Keep(record.member));
    }
    let roles = roles_granting(
        &record.role_sources,
        ChangeSource::Idp,
        &mapping.roles(identity),
    );
    if roles == record.member.roles {
        return Ok(Plan::Keep(record.member));
    }
    Ok(Plan::Write(StaffMember {
        roles,
        ..record.member
    }))
}

/// The directory's record of the person, brought up to date. Reads first;
/// only a login that changes something takes the tenant's change turn.
async fn sync_staff(
    tenant: &Tenant,
    mapping: &ClaimMapping,
    identity: &VerifiedIdentity,
    staff_id: &str,
    settings: &IdentitySettings,
    by: &Provenance,
) -> Result<StaffMember, SessionError> {
    let mut conn = tenant.store.connection().await?;
    let record = tenant.store.staff_in(&mut conn, staff_id).await?;
    drop(conn);
    if let Plan::Keep(member) = plan(record, mapping, identity, staff_id, settings)? {
        return Ok(member);
    }
    let mut change = tenant.begin_directory_change().await?;
    let record = tenant.store.staff_in(&mut change.tx, staff_id).await?;
    let member = match plan(record, mapping, identity, staff_id, settings)? {
        Plan::Keep(member) => return Ok(member),
        Plan::Write(member) => member,
    };
    let changes = tenant
        .store
        .upsert_staff(&mut change.tx, vec![member.clone()], ChangeSource::Idp)
        .await
        .map_err(ChangeError::from)?;
    let events = changes
        .iter()
        .map(|c| audit::staff_event(by, c, ChangeSource::Idp))
        .collect();
    tenant
        .commit_directory_change(change, events, &changes)
        .await?;
    Ok(changes.into_iter().next().map_or(member, |c| c.member))
}
