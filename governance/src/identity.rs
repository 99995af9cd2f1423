//! Identity administration: a tenant's identity providers, login settings,
//! sessions, second-factor resets and token keys. Every change is recorded in
//! the ledger with the change itself; a provider is checked as a login would
//! use it before it is stored.

use std::sync::Arc;

use hms_audit_ledger::{EventKind, EventOutcome};
use hms_directory::Change;
use hms_directory::precondition::{self, Precondition};
use hms_idp_bridge::IdentityError;
use hms_idp_bridge::mfa;
use hms_idp_bridge::oidc::{OidcRelyingParty, http_client};
use hms_idp_bridge::providers::{self, ProviderConfig, StoredProvider};
use hms_idp_bridge::saml::{SamlServiceProvider, SpEndpoints};
use hms_idp_bridge::sessions::SessionTable;
use hms_idp_bridge::settings::{self, IdentitySettings};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::audit::{self, Provenance};
use crate::tenancy::{ChangeError, Tenant};

/// Largest IdP metadata document fetched.
const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// Why a session was ended by an administrator, as the ledger and the session keep it.
const ADMIN_REVOCATION: &str = "revoked by an administrator";

/// Where IdPs send people back to, and what SAML IdPs know this SP as.
pub struct Endpoints {
    base: String,
}

impl Endpoints {
    /// The endpoints of `tenant`.
    pub fn new(tenant: &Tenant) -> Self {
        Self {
            base: tenant.issuer().to_owned(),
        }
    }

    /// The OIDC redirect URI registered at IdP `idp`.
    pub fn oidc_redirect(&self, idp: &str) -> String {
        format!("{}/auth/oidc/{idp}/callback", self.base)
    }

    /// The SP entity id and ACS URL towards SAML IdP `idp`.
    pub fn saml(&self, idp: &str) -> SpEndpoints {
        SpEndpoints {
            entity_id: format!("{}/auth/saml/{idp}/metadata", self.base),
            acs_url: format!("{}/auth/saml/{idp}/acs", self.base),
        }
    }
}

/// The relying party for OIDC provider `idp` of `tenant`.
pub async fn relying_party(
    tenant: &Tenant,
    idp: &str,
) -> Result<Arc<OidcRelyingParty>, IdentityError> {
    let redirect = Endpoints::new(tenant).oidc_redirect(idp);
    let master = tenant.master_key();
    tenant
        .identity
        .relying_party(tenant.store.pool(), master, tenant.id(), idp, &redirect)
        .await
}

/// The SAML SP of `tenant` towards IdP `idp`.
pub async fn service_provider(
    tenant: &Tenant,
    idp: &str,
) -> Result<SamlServiceProvider, IdentityError> {
    let stored = providers::get(tenant.store.pool(), idp)
        .await?
        .ok_or_else(|| IdentityError::UnknownProvider(idp.to_owned()))?;
    let ProviderConfig::Saml(config) = &stored.config else {
        return Err(IdentityError::UnknownProvider(idp.to_owned()));
    };
    SamlServiceProvider::new(idp, config, &Endpoints::new(tenant).saml(idp))
}

/// Stores provider `id`, checked first as a login would use it (OIDC
/// discovery must succeed, SAML metadata must carry a signing certificate);
/// a secret not given again is kept.
pub async fn put_provider(
    tenant: &Tenant,
    id: &str,
    config: ProviderConfig,
    by: &Provenance,
) -> Result<StoredProvider, ChangeError> {
    providers::check_id(id)?;
    config.mapping().check()?;
    let (config, secret) = resolve(config).await?;
    let previous = providers::get(tenant.store.pool(), id).await?;
    let stored = StoredProvider::seal(
        tenant.id(),
        id,
        config,
        secret.as_ref().map(ExposeSecret::expose_secret),
        tenant.master_key(),
    )?
    .keeping_secret_of(previous.as_ref());
    let discovered = check_provider(tenant, &stored).await?;
    let mut tx = tenant.ledger.begin_change().await?;
    providers::put(&mut tx, &stored).await?;
    let event = audit::identity_config_event(
        by,
        "put_identity_provider",
        &format!("idp:{id}"),
        provider_details(&stored.config),
    );
    let touched = [Change::Provider(id.to_owned())];
    tenant.record_and_commit(tx, vec![event], &touched).await?;
    match discovered {
        Some(rp) => tenant.identity.remember_relying_party(id, rp).await,
        None => tenant.identity.forget_provider(id).await,
    }
    Ok(stored)
}

/// What the ledger keeps of a provider's configuration: never a secret.
fn provider_details(config: &ProviderConfig) -> Value {
    match config {
        ProviderConfig::Oidc(c) => {
            json!({ "kind": "oidc", "issuer": c.issuer, "client_id": c.client_id })
        }
        ProviderConfig::Saml(c) => {
            json!({ "kind": "saml", "allow_sha1": c.allow_sha1, "allow_idp_initiated": c.allow_idp_initiated })
        }
    }
}

/// The secret a request carries apart, and SAML metadata fetched when given by URL.
async fn resolve(
    config: ProviderConfig,
) -> Result<(ProviderConfig, Option<SecretString>), IdentityError> {
    match config {
        ProviderConfig::Oidc(mut oidc) => {
            let secret = oidc.client_secret.take();
            Ok((ProviderConfig::Oidc(oidc), secret))
        }
        ProviderConfig::Saml(mut saml) => {
            if let Some(url) = saml.metadata_url.take() {
                saml.metadata_xml = Some(fetch_metadata(&url).await?);
            }
            Ok((ProviderConfig::Saml(saml), None))
        }
    }
}

/// Fetches IdP metadata (no redirects followed, bounded size).
async fn fetch_metadata(url: &str) -> Result<String, IdentityError> {
    let failed = |e: String| IdentityError::Upstream(format!("IdP metadata from `{url}`: {e}"));
    let mut response = http_client()?
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("status {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        if body.len() + chunk.len() > MAX_METADATA_BYTES {
            return Err(failed("document too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| failed("not UTF-8".into()))
}

/// Builds the provider as a login would use it: discovery for OIDC (the
/// relying party is returned for reuse), the SP for SAML. Nothing is stored
/// when this fails.
async fn check_provider(
    tenant: &Tenant,
    stored: &StoredProvider,
) -> Result<Option<Arc<OidcRelyingParty>>, IdentityError> {
    let endpoints = Endpoints::new(tenant);
    match &stored.config {
        ProviderConfig::Oidc(config) => {
            let secret = stored.client_secret(tenant.id(), tenant.master_key())?;
            let redirect = endpoints.oidc_redirect(&stored.id);
            let rp =
                OidcRelyingParty::discover(&stored.id, config.clone(), secret, &redirect).await?;
            Ok(Some(Arc::new(rp)))
        }
        ProviderConfig::Saml(config) => {
            SamlServiceProvider::new(&stored.id, config, &endpoints.saml(&stored.id))?;
            Ok(None)
        }
    }
}

/// Removes provider `id`; its logins stop at once.
pub async fn delete_provider(
    tenant: &Tenant,
    id: &str,
    by: &Provenance,
) -> Result<(), ChangeError> {
    let mut tx = tenant.ledger.begin_change().await?;
    if !providers::delete(&mut tx, id).await? {
        return Err(IdentityError::UnknownProvider(id.to_owned()).into());
    }
    let event = audit::identity_config_event(
        by,
        "delete_identity_provider",
        &format!("idp:{id}"),
        json!({}),
    );
    let touched = [Change::Provider(id.to_owned())];
    tenant.record_and_commit(tx, vec![event], &touched).await?;
    tenant.identity.forget_provider(id).await;
    Ok(())
}

/// Replaces the tenant's login settings; in force once recorded.
pub async fn put_settings(
    tenant: &Tenant,
    new: &IdentitySettings,
    based_on: &Precondition,
    by: &Provenance,
) -> Result<(), ChangeError> {
    let mut tx = tenant.ledger.begin_change().await?;
    let before = settings::load_in(&mut tx).await?;
    based_on.check(&precondition::tag_of(&before))?;
    settings::save(&mut tx, new).await?;
    let event =
        audit::identity_config_event(by, "put_identity_settings", "identity:settings", json!(new));
    tenant
        .record_and_commit(tx, vec![event], &[Change::IdentitySettings])
        .await?;
    tenant.identity.put_settings_in_force(new.clone());
    Ok(())
}

/// Ends session `id` at once; whether it was live until now. `None` when
/// there is no such session.
pub async fn revoke_session(
    tenant: &Tenant,
    id: &str,
    by: &Provenance,
) -> Result<Option<bool>, ChangeError> {
    let pool = tenant.store.pool();
    let Some(record) = SessionTable::record(pool, id).await? else {
        return Ok(None);
    };
    let ended = tenant
        .identity
        .sessions
        .revoke(pool, id, ADMIN_REVOCATION)
        .await?;
    if ended {
        let event = audit::session_revoked_event(by, &record.staff_id, id, ADMIN_REVOCATION);
        tenant.ledger.append_all(vec![event]).await?;
        tenant.publish(&[Change::Session(id.to_owned())]).await?;
    }
    Ok(Some(ended))
}

/// Removes a person's second factor so they enrol again at their next login;
/// `false` when they had none.
pub async fn reset_factor(
    tenant: &Tenant,
    staff_id: &str,
    by: &Provenance,
) -> Result<bool, ChangeError> {
    let mut tx = tenant.ledger.begin_change().await?;
    if !mfa::reset(&mut tx, staff_id).await? {
        return Ok(false);
    }
    let event = audit::identity_event(
        by,
        EventKind::MfaReset,
        Some(staff_id),
        EventOutcome::Success,
        json!({}),
    );
    tenant.record_and_commit(tx, vec![event], &[]).await?;
    Ok(true)
}

/// A new session-token signing key; the old one stays in the JWKS so tokens
/// it signed still verify until they expire. Returns the JWKS now published.
pub async fn rotate_token_key(tenant: &Tenant, by: &Provenance) -> Result<Value, ChangeError> {
    tenant
        .identity
        .rotate_keys(tenant.store.pool(), tenant.master_key(), tenant.id())
        .await?;
    let event =
        audit::identity_config_event(by, "rotate_token_key", "identity:token_keys", json!({}));
    tenant.ledger.append_all(vec![event]).await?;
    tenant.publish(&[Change::TokenKeys]).await?;
    Ok(tenant.identity.keys().jwks().clone())
}
