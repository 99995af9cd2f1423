//! The ledger's store: SQLite or PostgreSQL tables, a group-committing writer,
//! signing keys sealed under a master key, proofs and online verification.

mod append;
mod cosignatures;
mod integrity;
mod keys;
mod proofs;
mod quarantine;
mod read;
mod rows;
mod sql;
mod wal;
mod writer;

use std::sync::{Arc, RwLock};

use sqlx::{Any, AnyConnection, AnyPool, Transaction};

use crate::checkpoint::LedgerKey;
use crate::entry::Event;
use hms_keys::MasterKey;
use sql::Dialect;

pub use cosignatures::StoredCosignature;
pub use keys::PublishedKey;
pub use proofs::{ConsistencyProof, InclusionProof};
pub use quarantine::Quarantined;
pub use read::{EntryFilter, StoredCheckpoint};
pub use writer::WriterOptions;

/// A transaction holding the chain head, from [`Ledger::begin_change`].
pub type ChangeTransaction = Transaction<'static, Any>;

/// Why the ledger could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed or refused.
    #[error("ledger database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Stored data that the ledger wrote itself does not read back.
    #[error("ledger data is inconsistent: {0}")]
    Corrupt(String),
    /// The signing key cannot be sealed or unsealed with the configured master key.
    #[error("ledger signing key: {0}")]
    Key(#[from] hms_keys::KeyError),
    /// A requested entry, checkpoint or proof does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be answered as asked.
    #[error("{0}")]
    Invalid(String),
    /// The chain head no longer matches the latest signed checkpoint: rows
    /// were changed behind the service's back. Nothing is appended until an
    /// operator has dealt with it.
    #[error(
        "the audit ledger was changed outside the service ({0}); nothing more is recorded: \
         run `hms-ach ledger verify` and follow \"When the ledger was tampered with\" in the README"
    )]
    Tampered(String),
    /// A batch failed to commit; every caller in it gets this.
    #[error("the audit ledger could not record the entry: {0}")]
    Unavailable(String),
}

/// What the writer and readers share.
pub(crate) struct Shared {
    pub(crate) pool: AnyPool,
    pub(crate) origin: String,
    pub(crate) dialect: Dialect,
    pub(crate) key: RwLock<Arc<LedgerKey>>,
}

impl Shared {
    fn put_key_in_force(&self, key: LedgerKey) {
        match self.key.write() {
            Ok(mut current) => *current = Arc::new(key),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(key),
        }
    }

    fn signing_key(&self) -> Arc<LedgerKey> {
        match self.key.read() {
            Ok(key) => Arc::clone(&key),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// One tenant's ledger.
pub struct Ledger {
    shared: Arc<Shared>,
    writer: writer::Writer,
}

impl Ledger {
    /// Loads (or on first use generates) the signing key and starts the
    /// writer, over tables [`migrations`] created. `origin` names the ledger in checkpoints.
    pub async fn open(
        pool: AnyPool,
        origin: &str,
        master: &MasterKey,
        options: WriterOptions,
    ) -> Result<Self, LedgerError> {
        let dialect = dialect(&pool).await?;
        let key = keys::active_or_generate(&pool, origin, master).await?;
        let shared = Arc::new(Shared {
            pool,
            origin: origin.to_owned(),
            dialect,
            key: RwLock::new(Arc::new(key)),
        });
        let writer = writer::Writer::start(Arc::clone(&shared), options)?;
        Ok(Self { shared, writer })
    }

    /// The ledger's origin line, as in its checkpoints.
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// Records one event; returns its sequence number once it is durable.
    pub async fn append(&self, event: Event) -> Result<u64, LedgerError> {
        let first = self.writer.submit(vec![event]).await?;
        Ok(first)
    }

    /// Records events as consecutive entries; returns the first sequence number once all are durable.
    pub async fn append_all(&self, events: Vec<Event>) -> Result<u64, LedgerError> {
        if events.is_empty() {
            return Err(LedgerError::Invalid("nothing to record".into()));
        }
        self.writer.submit(events).await
    }

    /// Queues events as consecutive entries and returns without waiting for
    /// them to be durable: for callers that chose speed over the guarantee.
    /// Entries of a batch that fails are kept and written with the next one;
    /// until one commits, this waits for the commit and fails with it, so
    /// callers can fail closed.
    pub async fn append_queued(&self, events: Vec<Event>) -> Result<(), LedgerError> {
        if events.is_empty() {
            return Err(LedgerError::Invalid("nothing to record".into()));
        }
        self.writer.enqueue(events).await
    }

    /// Resolves once every append made before it is durable.
    pub async fn flush(&self) -> Result<(), LedgerError> {
        self.writer.submit(Vec::new()).await.map(drop)
    }

    /// Starts a transaction that holds the chain head, for a change that must be
    /// recorded atomically with the data it changes (see [`Ledger::record_in`]).
    pub async fn begin_change(&self) -> Result<ChangeTransaction, LedgerError> {
        let mut tx = self.shared.pool.begin().await?;
        append::lock_head(&mut tx).await?;
        Ok(tx)
    }

    /// Appends `events` inside a transaction from [`Ledger::begin_change`], with a
    /// checkpoint; they become durable when the caller commits.
    pub async fn record_in(
        &self,
        tx: &mut AnyConnection,
        events: Vec<Event>,
    ) -> Result<u64, LedgerError> {
        let key = self.shared.signing_key();
        append::append_batch(tx, &self.shared, &key, events).await
    }

    /// Generates a new signing key, retires the current one (its public key stays
    /// published) and records the rotation, signed with the new key.
    pub async fn rotate_key(
        &self,
        master: &MasterKey,
        actor: &str,
    ) -> Result<PublishedKey, LedgerError> {
        let mut tx = self.begin_change().await?;
        let current = self.shared.signing_key();
        let (key, published) = keys::rotate(&mut tx, &current, master).await?;
        let event = keys::rotation_event(&published, actor);
        append::append_batch(&mut tx, &self.shared, &key, vec![event]).await?;
        tx.commit().await?;
        self.shared.put_key_in_force(key);
        Ok(published)
    }

    /// Re-reads the active signing key, after another node rotated it.
    pub async fn reload_key(&self, master: &MasterKey) -> Result<(), LedgerError> {
        let key = keys::active_or_generate(&self.shared.pool, &self.shared.origin, master).await?;
        self.shared.put_key_in_force(key);
        Ok(())
    }

    /// Every public key the ledger has signed with, oldest first.
    pub async fn public_keys(&self) -> Result<Vec<PublishedKey>, LedgerError> {
        keys::published(&self.shared.pool).await
    }
}

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The ledger's tables in a dialect (`true` for PostgreSQL): part of the
/// tenant database's one migration run (`hms_directory::migrate_tenant`).
pub fn migrations(postgres: bool) -> &'static sqlx::migrate::Migrator {
    if postgres { &POSTGRES } else { &SQLITE }
}

/// The dialect the pool speaks.
async fn dialect(pool: &AnyPool) -> Result<Dialect, LedgerError> {
    let postgres = pool
        .acquire()
        .await?
        .backend_name()
        .eq_ignore_ascii_case("postgresql");
    Ok(if postgres {
        Dialect::Postgres
    } else {
        Dialect::Sqlite
    })
}
