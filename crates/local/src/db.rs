//! One SQLite database file in WAL mode: one writer connection on its own thread, and a pool
//! of reader connections on theirs, so a read never waits for a write (WAL readers see the
//! last commit) and the async workers never wait on disk. Writes are group-committed: the
//! writer takes every write queued while it was busy into one SQLite transaction, each in
//! its own savepoint, so each stays atomic and conditional on its own while many share one
//! commit. The schema is versioned (`PRAGMA user_version`): every table of
//! [`milkrun_store::table::ALL`] is created from its spec, and a data folder of an earlier
//! release is migrated when it is opened (see `legacy`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use milkrun_domain::StoreError;
use milkrun_store::TableSpec;
use rusqlite::Connection;
use tokio::sync::oneshot;

/// The schema this code writes. 0: the first release's per-entity tables (or an empty
/// file); 1: one item table per `TableSpec`.
pub const SCHEMA_VERSION: i64 = 1;

/// Reader connections beside the writer: enough that reads of 50 checkouts in flight on 2
/// cores rarely queue (each read is tens of microseconds of CPU).
const READERS: usize = 4;
/// The most writes committed in one SQLite transaction (bounds one commit's latency).
const MOST_PER_COMMIT: usize = 64;
/// Statements kept prepared per connection: about 3 per table plus the queries.
const STATEMENT_CACHE: usize = 256;
/// How long a call waits for another process (`milkrun dlq`) holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Database {
    queues: Arc<Queues>,
}

/// Where calls are sent; the threads end when the last clone of the `Database` is dropped.
struct Queues {
    writer: Sender<WriterJob>,
    /// None for an in-memory database, which no second connection can see: reads go to
    /// the writer.
    readers: Option<Sender<ReadJob>>,
}

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

enum WriterJob {
    /// Runs alone, outside any transaction the writer opened (migration, tests).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
    /// Runs inside a group commit.
    Batched(Box<dyn InBatch>),
}

/// One write of a group commit: run in its savepoint, then told whether the whole
/// transaction committed, and only then answered (a write is never reported before it is
/// committed).
trait InBatch: Send {
    /// Runs the work; true when its changes are to be kept.
    fn run(&mut self, conn: &Connection) -> bool;
    fn finish(self: Box<Self>, outcome: Result<(), CallFailed>);
}

struct Pending<W, T, E> {
    work: Option<W>,
    result: Option<Result<T, E>>,
    answer: oneshot::Sender<Result<T, E>>,
}

impl<W, T, E> InBatch for Pending<W, T, E>
where
    W: FnOnce(&Connection) -> Result<T, E> + Send,
    T: Send,
    E: From<CallFailed> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let work = self.work.take().expect("a write runs once");
        let result = work(conn);
        let keep = result.is_ok();
        self.result = Some(result);
        keep
    }

    fn finish(self: Box<Self>, outcome: Result<(), CallFailed>) {
        let Pending { result, answer, .. } = *self;
        let result = match (outcome, result) {
            (Ok(()), Some(result)) => result,
            // Its own failure (a condition) is the truer answer than the batch's.
            (Err(_), Some(Err(own))) => Err(own),
            (Err(failed), _) => Err(E::from(failed)),
            (Ok(()), None) => Err(E::from(CallFailed::Lost)),
        };
        let _ = answer.send(result);
    }
}

/// The SQLite table holding `table`'s items.
pub(crate) fn table_name(table: &TableSpec) -> String {
    format!("items_{}", table.name)
}

/// The generated columns holding an index's key attributes.
pub(crate) fn index_columns(index: &milkrun_store::IndexSpec) -> (String, String) {
    (
        format!("ix_{}_pk", index.name),
        format!("ix_{}_sk", index.name),
    )
}

fn json_text(attribute: &str) -> String {
    format!("json_extract(item, '$.\"{attribute}\".S')")
}

/// DDL for one table, idempotent: the item table, one real index per `IndexSpec` over
/// generated columns, and triggers refusing updates and deletes on an append-only table.
fn create_table(conn: &Connection, table: &TableSpec) -> rusqlite::Result<()> {
    let name = table_name(table);
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS \"{name}\" (pk TEXT NOT NULL, sk TEXT NOT NULL DEFAULT '', \
         item TEXT NOT NULL, PRIMARY KEY (pk, sk)) WITHOUT ROWID;"
    ))?;
    let existing: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_xinfo('{name}')"))?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for index in table.indexes {
        let (pk, sk) = index_columns(index);
        for (column, attribute) in [(&pk, index.partition_key), (&sk, index.sort_key)] {
            if !existing.contains(column) {
                conn.execute_batch(&format!(
                    "ALTER TABLE \"{name}\" ADD COLUMN \"{column}\" TEXT GENERATED ALWAYS AS ({}) VIRTUAL;",
                    json_text(attribute)
                ))?;
            }
        }
        conn.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS \"{name}_{index}\" ON \"{name}\" (\"{pk}\", \"{sk}\", pk, sk) \
             WHERE \"{pk}\" IS NOT NULL AND \"{sk}\" IS NOT NULL;",
            index = index.name
        ))?;
    }
    if table.append_only {
        for (what, verb) in [("update", "UPDATE"), ("delete", "DELETE")] {
            conn.execute_batch(&format!(
                "CREATE TRIGGER IF NOT EXISTS \"{name}_no_{what}\" BEFORE {verb} ON \"{name}\" \
                 BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END;"
            ))?;
        }
    }
    Ok(())
}

/// Removes items past their TTL (reads already treat them as gone), as DynamoDB's TTL
/// sweeper does.
fn drop_expired(conn: &Connection, table: &TableSpec) -> rusqlite::Result<()> {
    if let Some(attribute) = table.ttl {
        conn.execute(
            &format!(
                "DELETE FROM \"{}\" WHERE CAST(json_extract(item, '$.\"{attribute}\".N') AS INTEGER) <= unixepoch()",
                table_name(table)
            ),
            [],
        )?;
    }
    Ok(())
}

impl Database {
    /// Opens (creating if needed) the database file with every item table in place, and
    /// its reader connections. A file of an earlier release still needs
    /// [`crate::legacy::migrate`] (done by `open_store`).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = open_connection(path)?;
        prepare(&writer)?;
        let readers = (0..READERS)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::start(writer, readers))
    }

    /// A private database that lives as long as this value, for tests. One connection:
    /// every call, read or write, is the writer's.
    pub fn in_memory() -> Result<Self, StoreError> {
        let connection = Connection::open_in_memory()
            .map_err(|e| StoreError::backend("opening the database", e))?;
        configure(&connection)?;
        prepare(&connection)?;
        Ok(Self::start(connection, Vec::new()))
    }

    fn start(writer: Connection, readers: Vec<Connection>) -> Self {
        let (writer_queue, writer_jobs) = mpsc::channel();
        spawn("milkrun-sqlite-writer", move || {
            run_writer(writer, writer_jobs)
        });
        let reader_queue = (!readers.is_empty()).then(|| {
            let (queue, jobs) = mpsc::channel::<ReadJob>();
            let jobs = Arc::new(Mutex::new(jobs));
            for (n, reader) in readers.into_iter().enumerate() {
                let jobs = jobs.clone();
                spawn(&format!("milkrun-sqlite-reader-{n}"), move || {
                    run_reader(reader, &jobs)
                });
            }
            queue
        });
        Self {
            queues: Arc::new(Queues {
                writer: writer_queue,
                readers: reader_queue,
            }),
        }
    }

    /// Runs `work` alone on the writer connection, outside any group commit: for work
    /// that manages its own transaction (the migration) or must see the connection whole.
    pub async fn call<T, E>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<CallFailed> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job = WriterJob::Alone(Box::new(move |conn| {
            let _ = answer.send(work(conn));
        }));
        self.queues.writer.send(job).map_err(|_| CallFailed::Lost)?;
        answered.await.map_err(|_| CallFailed::Lost)?
    }

    /// Runs `work` (reads only) on a reader connection: it sees every write answered
    /// before it was called, and waits for none in progress.
    pub async fn read<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<CallFailed> + Send + 'static,
    {
        let Some(readers) = &self.queues.readers else {
            return self.call(move |conn| work(&*conn)).await;
        };
        let (answer, answered) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = answer.send(work(conn));
        });
        readers.send(job).map_err(|_| CallFailed::Lost)?;
        answered.await.map_err(|_| CallFailed::Lost)?
    }

    /// Runs `work` inside the writer's next group commit, in a savepoint of its own: an
    /// `Err` undoes its changes alone, an `Ok` keeps them, and the answer comes once the
    /// transaction holding them has committed (or with the commit's error, none kept).
    pub async fn write<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<CallFailed> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job = WriterJob::Batched(Box::new(Pending {
            work: Some(work),
            result: None,
            answer,
        }));
        self.queues.writer.send(job).map_err(|_| CallFailed::Lost)?;
        answered.await.map_err(|_| CallFailed::Lost)?
    }

    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.call(|conn| user_version(conn)).await
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .expect("starting a database thread");
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let connection =
        Connection::open(path).map_err(|e| StoreError::backend("opening the database", e))?;
    configure(&connection)?;
    Ok(connection)
}

fn configure(connection: &Connection) -> Result<(), StoreError> {
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| StoreError::backend("preparing the database", e))
}

/// A reader: the same file, refusing any write (a bug, not a race, if one is tried), and
/// reading it through a memory map: every commit empties a WAL reader's page cache, so
/// without one each read copied its pages in again with a system call (≈ 6 % of a
/// checkout load's CPU; bench/README.md, "Throughput: the local profile").
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let connection = open_connection(path)?;
    connection
        .execute_batch("PRAGMA query_only = ON; PRAGMA mmap_size = 268435456;")
        .map_err(|e| StoreError::backend("preparing a reader", e))?;
    Ok(connection)
}

/// The writer connection's settings and the schema. WAL: readers never block the writer
/// nor it them. `synchronous = NORMAL`: a commit is in the WAL file (the OS holds it)
/// before it is answered, so it survives kill -9 of the process (the kill -9 scenarios of
/// `scripts/local_scenarios.py`); only a power loss or OS crash can take the last commits
/// since a checkpoint, never corrupting the file. FULL would add an fsync to every commit
/// (one per group commit here) for that power-loss case, which a local host does not need.
fn prepare(connection: &Connection) -> Result<(), StoreError> {
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| StoreError::backend("preparing the database", e))?;
    let version = user_version(connection)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::backend_message(
            "opening the database",
            format!(
                "schema version {version} was written by a newer milkrun than this one ({SCHEMA_VERSION})"
            ),
        ));
    }
    for table in milkrun_store::table::ALL {
        create_table(connection, table)
            .and_then(|()| drop_expired(connection, table))
            .map_err(|e| StoreError::backend("creating the item tables", e))?;
    }
    Ok(())
}

/// A reader thread: takes the next read from the shared queue, until the database closes.
fn run_reader(conn: Connection, jobs: &Mutex<Receiver<ReadJob>>) {
    loop {
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        // A panicking call drops its answer (the caller gets `CallFailed::Lost`); the
        // connection is still sound, as a read changes nothing.
        let _ = catch_unwind(AssertUnwindSafe(|| job(&conn)));
    }
}

/// The writer thread: a lone call runs as it comes; a write takes with it every write
/// queued behind it (up to [`MOST_PER_COMMIT`]) into one group commit.
fn run_writer(mut conn: Connection, jobs: Receiver<WriterJob>) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            WriterJob::Alone(work) => {
                let _ = catch_unwind(AssertUnwindSafe(|| work(&mut conn)));
            }
            WriterJob::Batched(first) => {
                let mut batch = vec![first];
                while batch.len() < MOST_PER_COMMIT {
                    match jobs.try_recv() {
                        Ok(WriterJob::Batched(write)) => batch.push(write),
                        Ok(alone) => {
                            next = Some(alone);
                            break;
                        }
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                group_commit(&conn, batch);
            }
        }
    }
}

fn execute(conn: &Connection, statement: &str) -> Result<(), CallFailed> {
    conn.prepare_cached(statement)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(|e| CallFailed::Database(e.to_string()))
}

/// One transaction for `batch`, each write in its savepoint; every write is answered
/// after the COMMIT (or with its error, when the transaction could not commit).
fn group_commit(conn: &Connection, mut batch: Vec<Box<dyn InBatch>>) {
    let outcome = execute(conn, "BEGIN IMMEDIATE")
        .and_then(|()| {
            batch
                .iter_mut()
                .try_for_each(|write| in_savepoint(conn, write.as_mut()))
        })
        .and_then(|()| execute(conn, "COMMIT"));
    if outcome.is_err() && !conn.is_autocommit() {
        let _ = execute(conn, "ROLLBACK");
    }
    for write in batch {
        write.finish(outcome.clone());
    }
}

/// Runs one write in a savepoint, undoing its changes alone when it fails or panics.
fn in_savepoint(conn: &Connection, write: &mut dyn InBatch) -> Result<(), CallFailed> {
    execute(conn, "SAVEPOINT write")?;
    let keep = catch_unwind(AssertUnwindSafe(|| write.run(conn))).unwrap_or(false);
    if !keep {
        execute(conn, "ROLLBACK TO write")?;
    }
    execute(conn, "RELEASE write")
}

/// A database call that never finished, or whose transaction could not commit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallFailed {
    #[error("a database call ended without an answer (it panicked, or the database closed)")]
    Lost,
    #[error("the database refused the transaction: {0}")]
    Database(String),
}

impl From<CallFailed> for StoreError {
    fn from(error: CallFailed) -> Self {
        StoreError::backend("running a database call", error)
    }
}

impl From<CallFailed> for milkrun_store::ItemError {
    fn from(error: CallFailed) -> Self {
        milkrun_store::ItemError::backend("running a database call", error)
    }
}

pub(crate) fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| StoreError::backend("reading the schema version", e))
}
