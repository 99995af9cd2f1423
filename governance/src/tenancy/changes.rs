//! Many nodes, one truth: what a node holds in memory about a tenant (the
//! PDP's policies and entities, API clients, settings, signing keys,
//! sessions) follows the tenant's change feed. A change lists what it touched
//! in its own transaction ([`hms_directory::changes`]); the node that made it
//! applies it at once and, on PostgreSQL, wakes the others with a `NOTIFY` on
//! the catalog database; every node also polls each tenant's change counter,
//! so a lost wake-up (or a change the CLI made on SQLite) is applied anyway.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hms_directory::StoreError;
use hms_directory::changes::{self, Change};
use sqlx::postgres::PgListener;

use super::Tenants;
use super::bus::{CHANNEL, SUSPENDED};
use super::tenant::{ChangeError, Tenant};

/// How often every tenant's change counter is read, whatever the wake-ups.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How many changes one read of the feed spans at most.
const FEED_PAGE: i64 = 1000;
/// How often feed lines past their retention are dropped.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// How long feed lines are kept; a node further behind re-reads everything.
const FEED_RETENTION: Duration = Duration::from_secs(24 * 3600);

impl Tenant {
    /// Lists `touched` in the change feed of a change made outside a change
    /// transaction (a session ended, a key rotated by its own transaction)
    /// and wakes the other nodes.
    pub async fn publish(&self, touched: &[Change]) -> Result<(), ChangeError> {
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        changes::record(&mut tx, self.bus.node(), touched).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.bus.announce(self.id()).await;
        Ok(())
    }

    /// Applies what other nodes changed since this node last looked; returns
    /// how many changes that was.
    pub async fn catch_up(&self) -> Result<usize, ChangeError> {
        let head = self.store.change_head().await?;
        if head <= self.applied.load(Ordering::Acquire) {
            return Ok(0);
        }
        let _turn = self.writer.lock().await;
        let mut caught_up = 0;
        loop {
            let after = self.applied.load(Ordering::Acquire);
            if after >= head {
                return Ok(caught_up);
            }
            let until = head.min(after + FEED_PAGE);
            let Some(entries) = self.store.changes_between(after, until).await? else {
                self.reload_everything(head).await?;
                return Ok(caught_up + 1);
            };
            let foreign: Vec<Option<Change>> = entries
                .into_iter()
                .filter(|entry| entry.node != self.bus.node())
                .map(|entry| entry.change)
                .collect();
            caught_up += foreign.len();
            match foreign.into_iter().collect::<Option<BTreeSet<Change>>>() {
                Some(touched) => self.reread(touched).await?,
                // A kind this build does not know: a newer node wrote it.
                None => self.reload_everything(until).await?,
            }
            self.applied.store(until, Ordering::Release);
        }
    }

    /// Re-reads what `touched` names.
    async fn reread(&self, touched: BTreeSet<Change>) -> Result<(), ChangeError> {
        let mut staff = Vec::new();
        let mut patients = Vec::new();
        let policies = touched.contains(&Change::Policies);
        let entities = touched.contains(&Change::Entities);
        for change in touched {
            match change {
                Change::Policies | Change::Entities => {}
                Change::Staff(id) => staff.push(id),
                Change::Patient(id) => patients.push(id),
                Change::Clients => self.clients.reload(&self.store).await?,
                Change::RecordingSettings => self.reread_recording().await?,
                Change::IdentitySettings => {
                    self.identity.reload_settings(self.store.pool()).await?
                }
                Change::Provider(id) => self.identity.forget_provider(&id).await,
                Change::TokenKeys => {
                    self.identity
                        .reload_keys(self.store.pool(), self.master_key(), self.id())
                        .await?
                }
                Change::LedgerKey => self.ledger.reload_key(self.master_key()).await?,
                Change::Session(id) => {
                    self.identity
                        .sessions
                        .reread(self.store.pool(), &id)
                        .await?
                }
            }
        }
        if policies {
            // A new bundle is put in force over the whole directory as it is now.
            return self.reread_policies().await;
        }
        // The directory first: a person disabled elsewhere loses access here
        // even if the entity store cannot be followed.
        self.reread_entities(&staff, &patients).await?;
        if entities {
            self.reread_stored_entities().await?;
        }
        Ok(())
    }

    /// Re-reads everything held in memory, as if the tenant were opened
    /// again; `head` is the change it reflects at least.
    async fn reload_everything(&self, head: i64) -> Result<(), ChangeError> {
        self.reread_policies().await?;
        self.clients.reload(&self.store).await?;
        self.reread_recording().await?;
        let pool = self.store.pool();
        self.identity.reload_settings(pool).await?;
        self.identity
            .reload_keys(pool, self.master_key(), self.id())
            .await?;
        self.identity.forget_providers().await;
        for id in self.identity.sessions.held() {
            self.identity.sessions.reread(pool, &id).await?;
        }
        self.ledger.reload_key(self.master_key()).await?;
        self.applied.store(head, Ordering::Release);
        Ok(())
    }

    async fn reread_recording(&self) -> Result<(), ChangeError> {
        let recording = self.store.ledger_settings().await?;
        self.set_decisions_queued(recording.decisions);
        Ok(())
    }
}

impl Tenants {
    /// Keeps every tenant this node serves in step with the changes other
    /// nodes make: a listener for wake-ups (PostgreSQL) and a poll of every
    /// tenant's change counter, for as long as the service runs.
    pub fn follow_changes(self: &Arc<Self>) {
        if let Some(url) = self.backend.catalog_url() {
            let tenants = Arc::clone(self);
            tokio::spawn(async move { tenants.listen(&url).await });
        }
        let tenants = Arc::clone(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(POLL_INTERVAL);
            let mut pruned = tokio::time::Instant::now();
            loop {
                interval.tick().await;
                tenants.catch_up_all().await;
                if pruned.elapsed() >= PRUNE_INTERVAL {
                    pruned = tokio::time::Instant::now();
                    tenants.prune_feeds().await;
                }
            }
        });
    }

    /// Drops the feed lines older than [`FEED_RETENTION`] of every tenant
    /// open here (a feed grows only where its tenant is open).
    async fn prune_feeds(&self) {
        let retention = i64::try_from(FEED_RETENTION.as_secs()).unwrap_or(i64::MAX);
        let before = time::OffsetDateTime::now_utc().unix_timestamp() - retention;
        for tenant in self.served() {
            if let Err(error) = tenant.store.prune_changes(before).await {
                tracing::warn!(tenant = tenant.id(), %error, "change feed not pruned");
            }
        }
    }

    /// Closes the suspended tenants and catches every other served tenant up.
    pub async fn catch_up_all(&self) {
        if let Err(error) = self.close_suspended().await {
            tracing::warn!(%error, "suspended tenants not looked up; looking again at the next poll");
        }
        for tenant in self.served() {
            catch_up_logged(&tenant).await;
        }
    }

    async fn listen(&self, url: &str) {
        loop {
            if let Err(error) = self.listen_once(url).await {
                tracing::warn!(%error, "change wake-ups lost; listening again (polling meanwhile)");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn listen_once(&self, url: &str) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        // Wake-ups sent before this listener was there are lost: look now.
        self.catch_up_all().await;
        loop {
            match listener.try_recv().await? {
                Some(notification) => self.woken_for(notification.payload()).await,
                // The connection was lost and is back: wake-ups may be missing.
                None => self.catch_up_all().await,
            }
        }
    }

    /// Another node changed a tenant, or suspended it: `payload` says which.
    async fn woken_for(&self, payload: &str) {
        let (suspended, id) = match payload.strip_prefix(SUSPENDED) {
            Some(id) => (true, id),
            None => (false, payload),
        };
        let Some(tenant) = self.served_tenant(id) else {
            return;
        };
        if suspended {
            self.close(&tenant).await;
        } else {
            tokio::spawn(async move { catch_up_logged(&tenant).await });
        }
    }
}

async fn catch_up_logged(tenant: &Tenant) {
    if let Err(error) = tenant.catch_up().await {
        tracing::error!(tenant = tenant.id(), %error, "changes made on other nodes not applied");
    }
}
