//! Group commit: one task per ledger gathers whatever appends are waiting,
//! writes them in one transaction and answers each caller once it is durable.
//!
//! The task runs on a thread and runtime of its own, so that each hop of a
//! commit (to the database and back) is not queued behind the request
//! handlers waiting for that very commit.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::wal::Checkpointer;
use super::{LedgerError, Shared, append};

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

/// Events waiting to be written, and where to send their first sequence number.
struct Job {
    events: Vec<crate::entry::Event>,
    reply: oneshot::Sender<Result<u64, LedgerError>>,
}

/// The handle appenders use; the task stops when it is dropped.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
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
        let max_batch = options.max_batch.max(1);
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || runtime.block_on(run(shared, queue, max_batch)))
            .map_err(cannot_start)?;
        Ok(Self { jobs })
    }

    /// Queues `events`; resolves with the first one's sequence number once all are durable.
    pub(crate) async fn submit(
        &self,
        events: Vec<crate::entry::Event>,
    ) -> Result<u64, LedgerError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || LedgerError::Unavailable("the ledger writer has stopped".into());
        self.jobs
            .send(Job { events, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(shared: Arc<Shared>, mut queue: mpsc::Receiver<Job>, max_batch: usize) {
    let checkpointer = Checkpointer::start(&shared);
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs[0].events.len();
        while count < max_batch {
            match queue.try_recv() {
                Ok(job) => {
                    count += job.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        commit(&shared, jobs).await;
        if let Some(checkpointer) = &checkpointer {
            checkpointer.nudge();
        }
    }
}

/// Writes every job's events in one transaction and answers each job.
async fn commit(shared: &Shared, mut jobs: Vec<Job>) {
    let sizes: Vec<usize> = jobs.iter().map(|job| job.events.len()).collect();
    let events = jobs
        .iter_mut()
        .flat_map(|job| std::mem::take(&mut job.events))
        .collect();
    match write(shared, events).await {
        Ok(mut next) => {
            for (job, size) in jobs.into_iter().zip(sizes) {
                let _ = job.reply.send(Ok(next));
                next += size as u64;
            }
        }
        Err(error) => {
            tracing::error!(ledger = %shared.origin, %error, "ledger batch not recorded");
            let reason = error.to_string();
            for job in jobs {
                let _ = job
                    .reply
                    .send(Err(LedgerError::Unavailable(reason.clone())));
            }
        }
    }
}

async fn write(shared: &Shared, events: Vec<crate::entry::Event>) -> Result<u64, LedgerError> {
    let key = shared.signing_key();
    let mut tx = shared.pool.begin().await?;
    let first = append::append_batch(&mut tx, shared, &key, events).await?;
    tx.commit().await?;
    Ok(first)
}
