//! Group commit: one task per ledger gathers whatever appends are waiting,
//! writes them in one transaction and answers each caller once it is durable.
//!
//! An append is either *durable* (the caller waits for the commit) or
//! *queued* (the caller was answered when the entries entered the queue).
//! Queued entries whose batch fails are kept and written first in the next
//! attempt; until a batch commits again, queued appends wait for the commit
//! like durable ones, so that nothing more is answered that cannot be written.
//! After a failed batch, the writer tries again only after a backoff (50 ms,
//! doubling to 1 s); appends in between are refused at once, so that an
//! outage denies quickly instead of making every caller wait for the store
//! to fail again. A batch waits at most 1 s for a database connection (and
//! a retry during an outage 250 ms), not the pool's own timeout, and 5 s for
//! its writes: a database that cannot be reached costs the callers of one
//! batch that long, then they and those after are denied.
//!
//! The task runs on a thread and runtime of its own, so that each hop of a
//! commit (to the database and back) is not queued behind the request
//! handlers waiting for that very commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::wal::Checkpointer;
use super::{LedgerError, Shared, append};
use crate::entry::Event;

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Most entries in one transaction.
    pub max_batch: usize,
    /// Most appends waiting for the writer before callers wait to enqueue.
    pub queue: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            max_batch: 4096,
            queue: 65_536,
        }
    }
}

/// First wait before writing again after a failed batch.
const FIRST_RETRY: Duration = Duration::from_millis(50);
/// Longest wait between two attempts: how long a mended store may go on
/// being refused.
const LAST_RETRY: Duration = Duration::from_secs(1);

/// Longest wait for a database connection for one batch. The pool's own
/// acquire timeout (5 s) would hold every decision of a batch that long
/// while a database server is unreachable.
const CONNECTION_WAIT: Duration = Duration::from_secs(1);
/// Longest wait for a connection when retrying during an outage.
const RETRY_CONNECTION_WAIT: Duration = Duration::from_millis(250);
/// Longest wait for a batch's writes and commit once it has a connection: a
/// database that stops answering mid-batch (a network partition) would
/// otherwise hold the writer, and every caller, until TCP gives up. A batch
/// that times out is answered as failed (its entries may or may not have
/// been committed: the callers are denied either way).
const WRITE_WAIT: Duration = Duration::from_secs(5);

/// How the caller of one append learns its fate.
enum Reply {
    /// The caller waits for the first sequence number, once the entries are durable.
    Durable(oneshot::Sender<Result<u64, LedgerError>>),
    /// The caller was answered when the entries were queued.
    Queued,
}

/// Events waiting to be written, and whom to tell.
struct Job {
    events: Vec<Event>,
    reply: Reply,
}

/// Whether the last batch failed (and none has committed since).
#[derive(Default)]
struct Health(AtomicBool);

impl Health {
    fn failing(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set_failing(&self, failing: bool) {
        self.0.store(failing, Ordering::Release);
    }
}

/// The handle appenders use; the task stops when it is dropped, after
/// writing what is queued.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    health: Arc<Health>,
}

impl Writer {
    /// Starts the writer for `shared`'s ledger on its own thread; the thread
    /// ends when the handle is dropped.
    pub(crate) fn start(shared: Arc<Shared>, options: WriterOptions) -> Result<Self, LedgerError> {
        let cannot_start = |e: std::io::Error| {
            LedgerError::Unavailable(format!("cannot start the ledger writer: {e}"))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(cannot_start)?;
        let (jobs, queue) = mpsc::channel(options.queue.max(1));
        let health = Arc::new(Health::default());
        let task = Task {
            shared,
            health: Arc::clone(&health),
            held: Vec::new(),
            outage: None,
            max_batch: options.max_batch.max(1),
        };
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || runtime.block_on(task.run(queue)))
            .map_err(cannot_start)?;
        Ok(Self { jobs, health })
    }

    /// Queues `events`; resolves with the first one's sequence number once all
    /// are durable. With no events, resolves once everything queued before is durable.
    pub(crate) async fn submit(&self, events: Vec<Event>) -> Result<u64, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job {
            events,
            reply: Reply::Durable(reply),
        })
        .await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Queues `events` and returns without waiting for them to be written,
    /// unless the last batch failed and none has committed since: then it
    /// waits for the next commit like [`Writer::submit`] and fails with it.
    pub(crate) async fn enqueue(&self, events: Vec<Event>) -> Result<(), LedgerError> {
        if self.health.failing() {
            return self.submit(events).await.map(drop);
        }
        let events = events
            .into_iter()
            .map(Event::into_recordable)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LedgerError::Invalid(e.to_string()))?;
        self.send(Job {
            events,
            reply: Reply::Queued,
        })
        .await
    }

    async fn send(&self, job: Job) -> Result<(), LedgerError> {
        self.jobs.send(job).await.map_err(|_| stopped())
    }
}

fn stopped() -> LedgerError {
    LedgerError::Unavailable("the ledger writer has stopped".into())
}

/// The writer task's state.
struct Task {
    shared: Arc<Shared>,
    health: Arc<Health>,
    /// Queued entries whose batch failed, to be written before any others.
    held: Vec<Event>,
    /// Set from a failed batch until one commits.
    outage: Option<Outage>,
    max_batch: usize,
}

/// A ledger that failed to write: until the next attempt, appends are
/// refused at once instead of each waiting for the store to fail again.
struct Outage {
    next_attempt: Instant,
    reason: String,
}

impl Task {
    async fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        let checkpointer = Checkpointer::start(&self.shared);
        let mut retry = FIRST_RETRY;
        loop {
            let first = match self.outage.as_ref().filter(|_| !self.held.is_empty()) {
                None => queue.recv().await,
                Some(outage) => {
                    match tokio::time::timeout_at(outage.next_attempt, queue.recv()).await {
                        Ok(job) => job,
                        Err(_) => Some(empty_job()),
                    }
                }
            };
            let Some(first) = first else {
                self.last_attempt().await;
                return;
            };
            let jobs = gather(first, &mut queue, self.max_batch);
            if let Some(outage) = self
                .outage
                .as_ref()
                .filter(|o| Instant::now() < o.next_attempt)
            {
                let reason = outage.reason.clone();
                self.refuse(jobs, &reason);
                continue;
            }
            match self.commit(jobs).await {
                Ok(()) => {
                    self.outage = None;
                    retry = FIRST_RETRY;
                }
                Err(reason) => {
                    self.outage = Some(Outage {
                        next_attempt: Instant::now() + retry,
                        reason,
                    });
                    retry = (retry * 2).min(LAST_RETRY);
                }
            }
            if let Some(checkpointer) = &checkpointer {
                checkpointer.nudge();
            }
        }
    }

    /// Answers `jobs` without trying to write while the ledger is known to
    /// fail: durable callers are told at once, queued entries are held.
    fn refuse(&mut self, jobs: Vec<Job>, reason: &str) {
        for job in jobs {
            match job.reply {
                Reply::Durable(reply) => {
                    let _ = reply.send(Err(LedgerError::Unavailable(reason.to_owned())));
                }
                Reply::Queued => self.held.extend(job.events),
            }
        }
    }

    /// After the last handle is gone: one more try at entries still held.
    async fn last_attempt(&mut self) {
        if !self.held.is_empty() && self.commit(Vec::new()).await.is_err() {
            tracing::error!(
                ledger = %self.shared.origin,
                entries = self.held.len(),
                "queued ledger entries were never recorded"
            );
        }
    }

    /// Writes the held entries and every job's in one transaction and answers
    /// each job; on failure, returns why.
    async fn commit(&mut self, mut jobs: Vec<Job>) -> Result<(), String> {
        let queued: Vec<Event> = jobs
            .iter()
            .filter(|job| matches!(job.reply, Reply::Queued))
            .flat_map(|job| job.events.iter().cloned())
            .collect();
        let sizes: Vec<usize> = jobs.iter().map(|job| job.events.len()).collect();
        let mut events = self.held.clone();
        events.extend(
            jobs.iter_mut()
                .flat_map(|job| std::mem::take(&mut job.events)),
        );
        let wrote = !events.is_empty();
        let wait = match self.outage {
            Some(_) => RETRY_CONNECTION_WAIT,
            None => CONNECTION_WAIT,
        };
        let written = if wrote {
            write(&self.shared, events, wait).await
        } else {
            Ok(0)
        };
        match written {
            Ok(first) => {
                let mut next = first + self.held.len() as u64;
                self.held.clear();
                if wrote {
                    // Only a real commit shows that the ledger writes again.
                    self.health.set_failing(false);
                }
                for (job, size) in jobs.into_iter().zip(sizes) {
                    if let Reply::Durable(reply) = job.reply {
                        let _ = reply.send(Ok(next));
                    }
                    next += size as u64;
                }
                Ok(())
            }
            Err(error) => Err(self.fail(error, jobs, queued)),
        }
    }

    /// Tells durable callers the batch failed and holds the queued entries
    /// (earlier held ones first) for the next attempt; returns the reason given.
    fn fail(&mut self, error: LedgerError, jobs: Vec<Job>, queued: Vec<Event>) -> String {
        tracing::error!(ledger = %self.shared.origin, %error, held = self.held.len() + queued.len(), "ledger batch not recorded");
        let reason = error.to_string();
        self.health.set_failing(true);
        for job in jobs {
            if let Reply::Durable(reply) = job.reply {
                let _ = reply.send(Err(LedgerError::Unavailable(reason.clone())));
            }
        }
        self.held.extend(queued);
        reason
    }
}

/// A job with nothing in it, which makes the writer try its held entries again.
fn empty_job() -> Job {
    Job {
        events: Vec::new(),
        reply: Reply::Queued,
    }
}

/// `first` and whatever else is waiting, up to `max_batch` entries.
fn gather(first: Job, queue: &mut mpsc::Receiver<Job>, max_batch: usize) -> Vec<Job> {
    let mut count = first.events.len();
    let mut jobs = vec![first];
    while count < max_batch {
        match queue.try_recv() {
            Ok(job) => {
                count += job.events.len();
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    jobs
}

async fn write(shared: &Shared, events: Vec<Event>, wait: Duration) -> Result<u64, LedgerError> {
    let key = shared.signing_key();
    let begun = tokio::time::timeout(wait, shared.pool.begin()).await;
    let mut tx = begun.map_err(|_| {
        LedgerError::Unavailable(format!(
            "no database connection within {} ms",
            wait.as_millis()
        ))
    })??;
    let written = tokio::time::timeout(WRITE_WAIT, async move {
        let first = append::append_batch(&mut tx, shared, &key, events).await?;
        tx.commit().await?;
        Ok(first)
    });
    written.await.unwrap_or_else(|_| {
        Err(LedgerError::Unavailable(format!(
            "the database did not answer within {} s",
            WRITE_WAIT.as_secs()
        )))
    })
}
