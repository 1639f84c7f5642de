//! The single writer: one connection on a thread of its own, running each change whole.
//!
//! sqlx runs every statement as a round trip between the calling task and the
//! connection's thread. On the writer, which every change waits for, those round trips
//! were the limit: a transaction of four statements held the file through six hand-offs,
//! each one waiting for the task to be scheduled again among the server's other work. Here
//! a change is a closure sent to the writer's thread (rusqlite, on the same bundled SQLite
//! as sqlx) and run there from `BEGIN IMMEDIATE` to `COMMIT` without leaving it: one
//! hand-off per change. Changes run in arrival order; while one runs, the next wait in the
//! queue, so the thread never sleeps between them under load.

use std::{
    panic::AssertUnwindSafe,
    path::Path,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError, mpsc},
    task::{Context, Poll},
    time::Duration,
};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::OpenError;
use tokio::sync::oneshot;

/// A change as the writer's thread runs it.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Why a change was rolled back.
#[derive(Debug)]
pub(crate) enum Abort<E> {
    /// The domain's answer (a version conflict, too little stock, a duplicate key).
    Refused(E),
    /// SQLite failed (a full disk, an I/O error).
    Database(rusqlite::Error),
}

impl<E> From<rusqlite::Error> for Abort<E> {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e)
    }
}

/// The writer's thread and its queue. Cloning shares them.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    /// `None` once closed: later changes fail as `Unavailable`.
    jobs: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
    /// Fires when the thread has closed the connection.
    stopped: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

impl Writer {
    /// Opens the writer's connection on `path` (an existing, migrated database) and starts
    /// its thread.
    pub(crate) fn open(path: &Path) -> Result<Self, OpenError> {
        let mut conn = connect(path).map_err(|e| OpenError::Writer(e.to_string()))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let (stop, stopped) = oneshot::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                // Ends when the last sender is gone: every queued change runs first.
                for job in queue {
                    // A panicking change loses only itself (its transaction rolls back as it
                    // unwinds); its caller sees `Unavailable`.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
                }
                if let Err(e) = conn.execute_batch("PRAGMA optimize") {
                    tracing::warn!(error = %e, "PRAGMA optimize at close");
                }
                if let Err((_, e)) = conn.close() {
                    tracing::warn!(error = %e, "closing the writer connection");
                }
                let _ = stop.send(());
            })
            .map_err(|e| OpenError::Writer(format!("starting its thread: {e}")))?;
        Ok(Self { jobs: Arc::new(Mutex::new(Some(jobs))), stopped: Arc::new(Mutex::new(Some(stopped))) })
    }

    /// Runs `work` in one transaction on the writer's thread: committed when it returns
    /// `Ok`, rolled back when it returns an [`Abort`]. The change is queued at once; the
    /// [`Answer`] only waits for its outcome.
    pub(crate) fn transaction<T, E>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, Abort<E>> + Send + 'static,
    ) -> Answer<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(run(conn, work));
        });
        let queued = self
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        Answer { answer: queued.then_some(answer) }
    }

    /// Lets the queued changes finish, then closes the connection (checkpointing the WAL).
    /// Later changes fail as `Unavailable`.
    pub(crate) async fn close(&self) {
        drop(self.jobs.lock().unwrap_or_else(PoisonError::into_inner).take());
        let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(stopped) = stopped {
            let _ = stopped.await;
        }
    }
}

/// The error of a port, built from a database failure.
pub(crate) trait PortError {
    fn unavailable(reason: String) -> Self;
}

/// The outcome of a queued change, as the port's error type: a refusal as it was given,
/// anything else `Unavailable`.
///
/// A named future rather than an `async` block: its type does not hold the change's
/// closure, whose borrow of the transaction would keep the callers' futures from being
/// provably `Send`.
pub(crate) struct Answer<T, E> {
    /// `None` when the change could not be queued (the writer is closed).
    answer: Option<oneshot::Receiver<Result<T, Abort<E>>>>,
}

impl<T, E: PortError> Future for Answer<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(answer) = self.answer.as_mut() else {
            return Poll::Ready(Err(E::unavailable(CLOSED.into())));
        };
        Pin::new(answer).poll(cx).map(|outcome| match outcome {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(Abort::Refused(e))) => Err(e),
            Ok(Err(Abort::Database(e))) => Err(E::unavailable(e.to_string())),
            // The writer closed, or the change panicked, before answering.
            Err(_) => Err(E::unavailable(CLOSED.into())),
        })
    }
}

const CLOSED: &str = "the database writer is closed";

/// The writer's connection, with the same settings as the readers (see the crate docs);
/// WAL is a property of the file, set when it was created.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32768;
         PRAGMA wal_autocheckpoint = 4000;",
    )?;
    // Every statement of the adapters stays prepared.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

fn run<T, E>(conn: &mut Connection, work: impl FnOnce(&Transaction<'_>) -> Result<T, Abort<E>>) -> Result<T, Abort<E>> {
    // IMMEDIATE: take the write lock at once, so a change never fails half-way because
    // another process holds it.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // On an `Abort`, dropping `tx` rolls it back.
    let done = work(&tx)?;
    tx.commit()?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

    use commerce_core::ports::StoreError;

    use super::*;

    fn writer() -> (std::path::PathBuf, Writer) {
        let dir = std::env::temp_dir().join(format!("commerce-writer-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let writer = Writer::open(&dir.join("w.sqlite3")).unwrap();
        (dir, writer)
    }

    fn count(writer: &Writer) -> Answer<i64, StoreError> {
        writer.transaction(|tx| Ok(tx.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
    }

    #[tokio::test]
    async fn a_refused_or_panicking_change_leaves_nothing_and_the_next_one_runs() {
        let (dir, writer) = writer();
        writer
            .transaction(|tx| Ok::<_, Abort<StoreError>>(tx.execute_batch("CREATE TABLE t (n INTEGER)")?))
            .await
            .unwrap();

        let refused = writer
            .transaction(|tx| {
                tx.execute("INSERT INTO t VALUES (1)", [])?;
                Err::<(), _>(Abort::Refused(StoreError::NotFound))
            })
            .await;
        assert_eq!(refused, Err(StoreError::NotFound));

        let panicked = writer
            .transaction(|tx| -> Result<(), Abort<StoreError>> {
                tx.execute("INSERT INTO t VALUES (2)", [])?;
                panic!("a bug in a change");
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Unavailable(_))), "{panicked:?}");

        writer.transaction(|tx| Ok::<_, Abort<StoreError>>(tx.execute("INSERT INTO t VALUES (3)", [])?)).await.unwrap();
        assert_eq!(count(&writer).await.unwrap(), 1, "only the committed change is kept");
        writer.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn close_runs_the_queued_changes_and_refuses_later_ones() {
        let (dir, writer) = writer();
        writer
            .transaction(|tx| Ok::<_, Abort<StoreError>>(tx.execute_batch("CREATE TABLE t (n INTEGER)")?))
            .await
            .unwrap();
        // Queued at once, answered after the close began.
        let queued: Vec<_> = (0..100)
            .map(|n| {
                writer.transaction(move |tx| Ok::<_, Abort<StoreError>>(tx.execute("INSERT INTO t VALUES (?)", [n])?))
            })
            .collect();
        writer.close().await;
        for answer in queued {
            assert_eq!(answer.await, Ok(1));
        }
        assert!(matches!(count(&writer).await, Err(StoreError::Unavailable(_))));

        let reopened = Writer::open(&dir.join("w.sqlite3")).unwrap();
        assert_eq!(count(&reopened).await.unwrap(), 100);
        reopened.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
