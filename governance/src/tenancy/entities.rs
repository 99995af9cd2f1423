//! The tenant's own entities, beyond the directory's HMS types (wards, beds,
//! orders, devices, documents...): written in batches that are checked
//! against the schema whole and land all or nothing, each change recorded in
//! the ledger, put in force at the PDP before the write returns and followed
//! by every other node through the change feed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hms_audit_ledger::{Event, EventKind};
use hms_authz::{EntityRef, EntitySnapshot, Pdp, PolicyBundle};
use hms_directory::changes::Change;
use hms_directory::{EntityWrite, EntityWritten};
use serde::Serialize;
use serde_json::{Value, json};

use super::stored::{EntityBatch, VersionedEntity, record_of, versioned, writes_of};
use super::tenant::{ChangeError, Tenant};
use crate::audit::Provenance;

/// How often a batch is checked again when other nodes changed the store
/// or the policies meanwhile.
const ATTEMPTS: usize = 3;
/// Most writes one batch may carry.
pub const MAX_BATCH: usize = 50_000;
/// Longest entity type or id, in characters.
const MAX_NAME_CHARS: usize = 1_024;

/// What a batch changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EntityBatchOutcome {
    /// The store's revision after the batch.
    pub revision: i64,
    /// Entities created or changed.
    pub upserted: usize,
    /// Entities deleted.
    pub deleted: usize,
    /// Writes that changed nothing (the same body, or the delete of an entity not held).
    pub unchanged: usize,
}

impl Tenant {
    /// Writes a batch: every entity is checked against the schema in force
    /// (its type declared, its attributes and parents conforming) and the
    /// whole batch lands, with its ledger entries, or nothing does.
    pub async fn write_entities(
        &self,
        batch: EntityBatch,
        by: &Provenance,
    ) -> Result<EntityBatchOutcome, ChangeError> {
        let _turn = self.writer.lock().await;
        for _ in 0..ATTEMPTS {
            let current = self.pdp();
            check_batch(&batch, current.bundle())?;
            let writes = writes_of(&batch);
            let held = self.entity_revision.load(Ordering::Acquire);
            // Checked before the ledger's head is locked, so decisions keep
            // being recorded meanwhile.
            let next = revise(&current, batch.clone()).await?;
            let mut tx = self.ledger.begin_change().await?;
            // Every node's changes take the head's lock: what is committed now
            // stays so until this commits. Another node may have changed the
            // store or the policies since this node looked: then look again.
            if !self.in_step(held).await? {
                drop(tx);
                self.follow_store_and_policies().await?;
                continue;
            }
            let (revision, written) = self
                .store
                .write_entities(&mut tx, &writes, &by.actor_name())
                .await?;
            let events = entity_events(by, &writes, &written);
            let touched: &[Change] = if written.is_empty() {
                &[]
            } else {
                &[Change::Entities]
            };
            self.record_and_commit(tx, events, touched).await?;
            self.pdp
                .store(Arc::new(Pdp::new(Arc::clone(current.bundle()), next)));
            self.entity_revision.store(revision, Ordering::Release);
            let deleted = written.iter().filter(|w| w.deleted).count();
            return Ok(EntityBatchOutcome {
                revision,
                upserted: written.len() - deleted,
                deleted,
                unchanged: writes.len() - written.len(),
            });
        }
        Err(ChangeError::Contended)
    }

    /// Whether the store and the policies in the database are what this
    /// node's PDP reflects (`held` its store revision).
    pub(super) async fn in_step(&self, held: i64) -> Result<bool, ChangeError> {
        let revision = self.store.entity_revision().await?;
        let version = self.store.latest_policy_version().await?;
        Ok(revision == held && version.is_none_or(|v| v.version == self.policy_version()))
    }

    /// Puts the policies and the entity store as stored now in force.
    async fn follow_store_and_policies(&self) -> Result<(), ChangeError> {
        let version = self.store.latest_policy_version().await?;
        if version.is_some_and(|v| v.version != self.policy_version()) {
            return self.reread_policies().await;
        }
        self.reread_stored_entities().await
    }

    /// Puts what other nodes wrote to the entity store since this node last
    /// looked in force.
    pub(super) async fn reread_stored_entities(&self) -> Result<(), ChangeError> {
        let held = self.entity_revision.load(Ordering::Acquire);
        let rows = self.store.entities_changed_after(held).await?;
        let Some(newest) = rows.iter().map(|row| row.revision).max() else {
            return Ok(());
        };
        let mut batch = EntityBatch::default();
        for row in &rows {
            match row.live_body() {
                Some(_) => batch.upsert.push(record_of(row)?),
                None => batch.delete.push(EntityRef {
                    kind: row.kind.clone(),
                    id: row.id.clone(),
                }),
            }
        }
        let current = self.pdp();
        let next = revise(&current, batch).await?;
        self.pdp
            .store(Arc::new(Pdp::new(Arc::clone(current.bundle()), next)));
        self.entity_revision.store(newest, Ordering::Release);
        Ok(())
    }

    /// One stored entity with its version.
    pub async fn stored_entity(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<VersionedEntity>, ChangeError> {
        if unstorable(kind).or(unstorable(id)).is_some() {
            return Ok(None);
        }
        let row = self.store.stored_entity(kind, id).await?;
        Ok(row.map(|row| versioned(&row)).transpose()?)
    }

    /// Stored entities of one type with ids after `after`, in id order.
    pub async fn list_stored_entities(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<VersionedEntity>, ChangeError> {
        if unstorable(kind).or(after.and_then(unstorable)).is_some() {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.store.list_entities(kind, after, limit).await?;
        Ok(rows.iter().map(versioned).collect::<Result<_, _>>()?)
    }
}

/// The PDP's snapshot with the batch applied, validated against its bundle.
async fn revise(current: &Pdp, batch: EntityBatch) -> Result<Arc<EntitySnapshot>, ChangeError> {
    let bundle = Arc::clone(current.bundle());
    let snapshot = Arc::clone(current.snapshot());
    let next =
        tokio::task::spawn_blocking(move || snapshot.revised(batch.upsert, &batch.delete, &bundle))
            .await?
            .map_err(ChangeError::InvalidEntity)?;
    Ok(Arc::new(next))
}

/// Refuses a batch too large, naming an entity twice, or writing a type the
/// directory or the schema's actions own.
fn check_batch(batch: &EntityBatch, bundle: &PolicyBundle) -> Result<(), ChangeError> {
    let refuse = |message: String| Err(ChangeError::EntityBatch(message));
    let size = batch.upsert.len() + batch.delete.len();
    if size > MAX_BATCH {
        return refuse(format!(
            "a batch carries at most {MAX_BATCH} writes; this one has {size}"
        ));
    }
    let mut seen = HashSet::with_capacity(size);
    let uids = batch.upsert.iter().map(|r| &r.uid).chain(&batch.delete);
    for uid in uids {
        if bundle.is_directory_type(&uid.kind) {
            return refuse(format!(
                "`{}` entities are the directory's: write them under /v1/directory",
                uid.kind
            ));
        }
        if let Some(problem) = unstorable(&uid.kind) {
            return refuse(format!("an entity type {problem}"));
        }
        if let Some(problem) = unstorable(&uid.id) {
            return refuse(format!("the id of a `{}` entity {problem}", uid.kind));
        }
        if uid.kind == "Action" || uid.kind.ends_with("::Action") {
            return refuse(format!("`{}` entities are the schema's actions", uid.kind));
        }
        if !seen.insert(uid) {
            return refuse(format!(
                "`{}::\"{}\"` is written twice in one batch",
                uid.kind, uid.id
            ));
        }
    }
    Ok(())
}

/// Why an entity type or id cannot be stored and named in the ledger, if it cannot.
fn unstorable(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Some("is 1 to 1,024 characters");
    }
    name.chars()
        .any(char::is_control)
        .then_some("holds a control character")
}

/// One ledger entry per write that changed something, with the entity's new content.
fn entity_events(by: &Provenance, writes: &[EntityWrite], written: &[EntityWritten]) -> Vec<Event> {
    let bodies: HashMap<(&str, &str), &str> = writes
        .iter()
        .filter_map(|w| Some(((w.kind.as_str(), w.id.as_str()), w.body.as_deref()?)))
        .collect();
    written
        .iter()
        .map(|w| {
            let uid = format!("{}::\"{}\"", w.kind, w.id);
            let (kind, action, details) = match bodies.get(&(w.kind.as_str(), w.id.as_str())) {
                Some(body) if !w.deleted => {
                    let content: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                    let details = json!({ "version": w.version, "entity": content });
                    (EventKind::EntityUpsert, "upsert_entity", details)
                }
                _ => (
                    EventKind::EntityDelete,
                    "delete_entity",
                    json!({ "version": w.version }),
                ),
            };
            Event {
                action: Some(action.into()),
                resource: Some(format!("entity:{uid}")),
                details,
                ..by.event(kind)
            }
        })
        .collect()
}
