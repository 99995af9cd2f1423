//! One tenant's identity state at run time: its settings, token keys, live
//! sessions and the OpenID providers it has discovered.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hms_idp_bridge::IdentityError;
use hms_idp_bridge::oidc::OidcRelyingParty;
use hms_idp_bridge::providers::{self, ProviderConfig};
use hms_idp_bridge::sessions::SessionTable;
use hms_idp_bridge::settings::{self, IdentitySettings};
use hms_idp_bridge::tokens::TokenKeys;
use hms_keys::MasterKey;
use sqlx::AnyPool;

/// What a tenant keeps in memory about logins and sessions.
pub struct IdentityState {
    /// Live sessions.
    pub sessions: SessionTable,
    settings: ArcSwap<IdentitySettings>,
    keys: ArcSwap<TokenKeys>,
    relying_parties: tokio::sync::RwLock<HashMap<String, Arc<OidcRelyingParty>>>,
}

impl IdentityState {
    /// Loads settings, keys (creating the first) and live sessions.
    pub async fn open(
        pool: &AnyPool,
        master: &MasterKey,
        tenant: &str,
    ) -> Result<Self, IdentityError> {
        Ok(Self {
            sessions: SessionTable::load(pool).await?,
            settings: ArcSwap::from_pointee(settings::load(pool).await?),
            keys: ArcSwap::from_pointee(TokenKeys::load(pool, master, tenant).await?),
            relying_parties: tokio::sync::RwLock::new(HashMap::new()),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<IdentitySettings> {
        self.settings.load_full()
    }

    /// Puts settings (already stored) in force.
    pub fn put_settings_in_force(&self, new: IdentitySettings) {
        self.settings.store(Arc::new(new));
    }

    /// Re-reads the settings, after another node changed them.
    pub async fn reload_settings(&self, pool: &AnyPool) -> Result<(), IdentityError> {
        self.settings.store(Arc::new(settings::load(pool).await?));
        Ok(())
    }

    /// Re-reads the token keys, after another node rotated them.
    pub async fn reload_keys(
        &self,
        pool: &AnyPool,
        master: &MasterKey,
        tenant: &str,
    ) -> Result<(), IdentityError> {
        self.keys
            .store(Arc::new(TokenKeys::load(pool, master, tenant).await?));
        Ok(())
    }

    /// Forgets every discovered provider, so each is read again on next use.
    pub async fn forget_providers(&self) {
        self.relying_parties.write().await.clear();
    }

    /// The token keys in force.
    pub fn keys(&self) -> Arc<TokenKeys> {
        self.keys.load_full()
    }

    /// Rotates the signing key; earlier keys stay published.
    pub async fn rotate_keys(
        &self,
        pool: &AnyPool,
        master: &MasterKey,
        tenant: &str,
    ) -> Result<(), IdentityError> {
        self.keys
            .store(Arc::new(TokenKeys::rotate(pool, master, tenant).await?));
        Ok(())
    }

    /// The relying party for OIDC provider `id`, discovered on first use.
    pub async fn relying_party(
        &self,
        pool: &AnyPool,
        master: &MasterKey,
        tenant: &str,
        id: &str,
        redirect_uri: &str,
    ) -> Result<Arc<OidcRelyingParty>, IdentityError> {
        if let Some(rp) = self.relying_parties.read().await.get(id) {
            return Ok(Arc::clone(rp));
        }
        let stored = providers::get(pool, id)
            .await?
            .ok_or_else(|| IdentityError::UnknownProvider(id.to_owned()))?;
        let ProviderConfig::Oidc(config) = stored.config.clone() else {
            return Err(IdentityError::UnknownProvider(id.to_owned()));
        };
        let secret = stored.client_secret(tenant, master)?;
        let rp = Arc::new(OidcRelyingParty::discover(id, config, secret, redirect_uri).await?);
        self.remember_relying_party(id, Arc::clone(&rp)).await;
        Ok(rp)
    }

    /// Keeps a freshly discovered relying party (or replaces a stale one).
    pub async fn remember_relying_party(&self, id: &str, rp: Arc<OidcRelyingParty>) {
        self.relying_parties.write().await.insert(id.to_owned(), rp);
    }

    /// Forgets provider `id` (changed or removed).
    pub async fn forget_provider(&self, id: &str) {
        self.relying_parties.write().await.remove(id);
    }
}
