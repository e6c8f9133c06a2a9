//! The token writer (SQLite files): one connection, on a thread of its own, that spends and
//! stores authorization codes and refresh tokens for the token endpoint.
//!
//! Why: a grant is a few short writes, and on SQLite writes are serial anyway. Spread over a
//! connection pool they queue on the database's write lock (SQLite's busy handler sleeps in
//! steps of up to 100 ms), every connection throws away its page cache whenever another one has
//! written, and each statement hops to a pool thread and back.
//!
//! How: callers queue their operations; the thread takes everything queued, runs it in one
//! `BEGIN IMMEDIATE` transaction, and commits (should one operation fail, the batch is undone and
//! each operation runs in a transaction of its own, so the failure stays its own). Each caller hears twice: what its operation found, as soon
//! as it ran, and that it is durable. Callers answer their client only once it is durable, but
//! may prepare the answer (sign tokens) meanwhile.
//!
//! Durability (group commit): the writer's connection commits with `synchronous = NORMAL`, which
//! writes the transaction to the write-ahead log without waiting for the disk. A second thread,
//! the syncer, then calls `fdatasync` on the log file and only after it returns tells the batch's
//! callers that their writes are durable. While it syncs, the writer goes on with the next
//! batches, and one sync covers every batch committed before it began. A power loss therefore
//! loses nothing that was answered. (SQLite itself syncs the log before a checkpoint copies it
//! into the database, and the database after, in this mode too.) Statements are prepared once
//! and kept.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc as std_mpsc};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use crate::codes::CodeRedemption;
use crate::refresh_tokens::{NextRefreshToken, RefreshTokenRecord, RefreshUse, Rotation};
use crate::{StoreError, Timestamp};

/// Most operations in one transaction: bounds the time a batch holds the write lock.
const MAX_BATCH: usize = 256;
/// Operations waiting beyond this make callers wait to queue (backpressure).
const QUEUE: usize = 4096;

pub(crate) enum Op {
    PutCode {
        code_hash: String,
        grant: String,
        expires_at: Timestamp,
    },
    RedeemCode {
        code_hash: String,
        now: Timestamp,
    },
    PutRefresh(RefreshTokenRecord),
    Rotate {
        token_hash: String,
        now: Timestamp,
        next: Option<NextRefreshToken>,
    },
}

pub(crate) enum Done {
    Stored,
    Code(CodeRedemption),
    Rotation(Rotation),
}

struct Job {
    op: Op,
    /// Taken once the operation ran.
    ran: Option<oneshot::Sender<Result<Done, StoreError>>>,
    committed: oneshot::Sender<Result<(), StoreError>>,
}

/// The commit of a write whose outcome is already known. Answer the client only after
/// [`PendingCommit::wait`] returned `Ok`: until then the write may still be lost.
#[must_use = "a write is durable only once its commit is awaited"]
#[derive(Debug)]
pub struct PendingCommit(Option<oneshot::Receiver<Result<(), StoreError>>>);

impl PendingCommit {
    /// Already committed (autocommit statements: PostgreSQL, in-memory SQLite).
    pub fn done() -> PendingCommit {
        PendingCommit(None)
    }

    pub async fn wait(self) -> Result<(), StoreError> {
        match self.0 {
            None => Ok(()),
            Some(committed) => committed.await.map_err(|_| StoreError::Closed)?,
        }
    }
}

/// The queue into the writer thread. Dropping the last clone of the store ends the thread.
pub(crate) struct Writer {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Writer {
    /// Opens the writer's connection on its thread; fails as opening the database would.
    pub(crate) async fn open(path: &Path, busy_timeout: Duration) -> Result<Writer, StoreError> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let (opened, open_result) = oneshot::channel();
        let path = path.to_path_buf();
        // The log exists: the pool opened the database in WAL mode and migrated it.
        let mut wal_path = path.clone().into_os_string();
        wal_path.push("-wal");
        let wal = File::open(&wal_path)?;
        let (to_sync, syncs) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("trustframe-sync".into())
            .spawn(move || sync(wal, syncs))?;
        std::thread::Builder::new()
            .name("trustframe-writer".into())
            .spawn(move || match connect(&path, busy_timeout) {
                Ok(conn) => {
                    let _ = opened.send(Ok(()));
                    run(conn, jobs, to_sync);
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            })?;
        open_result.await.map_err(|_| StoreError::Closed)??;
        Ok(Writer {
            queue: Mutex::new(Some(queue)),
        })
    }

    /// Runs `op`; returns its outcome as soon as it ran, and its pending commit.
    pub(crate) async fn stage(&self, op: Op) -> Result<(Done, PendingCommit), StoreError> {
        let queue = self
            .queue
            .lock()
            .map_err(|_| StoreError::Closed)?
            .as_ref()
            .ok_or(StoreError::Closed)?
            .clone();
        let (ran, outcome) = oneshot::channel();
        let (committed, commit) = oneshot::channel();
        queue
            .send(Job {
                op,
                ran: Some(ran),
                committed,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        let done = outcome.await.map_err(|_| StoreError::Closed)??;
        Ok((done, PendingCommit(Some(commit))))
    }

    /// Runs `op` and waits for its commit.
    pub(crate) async fn submit(&self, op: Op) -> Result<Done, StoreError> {
        let (done, commit) = self.stage(op).await?;
        commit.wait().await?;
        Ok(done)
    }

    /// Stops taking operations; the thread finishes what is queued and closes its connection.
    pub(crate) fn close(&self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
    }
}

fn connect(path: &PathBuf, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    // NORMAL: the commit does not wait for the disk; the syncer thread does (module docs).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // The writer's cache stays warm: only other connections' writes invalidate it.
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Callers waiting for the log to reach the disk.
type Committed = Vec<oneshot::Sender<Result<(), StoreError>>>;

fn run(conn: Connection, mut jobs: mpsc::Receiver<Job>, to_sync: std_mpsc::Sender<Committed>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = jobs.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit(&conn, &mut batch).map_err(|e| {
            // Nothing of the batch was committed: every caller hears so.
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, operations = batch.len(), "token writer: commit failed");
            e
        });
        match committed {
            Ok(()) => {
                let waiting: Committed = batch.drain(..).map(|job| job.committed).collect();
                if let Err(std_mpsc::SendError(waiting)) = to_sync.send(waiting) {
                    for committed in waiting {
                        let _ = committed.send(Err(StoreError::Closed));
                    }
                }
            }
            Err(e) => {
                for mut job in batch.drain(..) {
                    if let Some(ran) = job.ran.take() {
                        // The transaction failed before this operation ran.
                        let _ = ran.send(Err(StoreError::Sqlite(clone_error(&e))));
                    }
                    let _ = job.committed.send(Err(StoreError::Sqlite(clone_error(&e))));
                }
            }
        }
    }
}

/// The syncer: one `fdatasync` of the log for everything committed before it began.
fn sync(wal: File, syncs: std_mpsc::Receiver<Committed>) {
    while let Ok(mut waiting) = syncs.recv() {
        while let Ok(more) = syncs.try_recv() {
            waiting.extend(more);
        }
        let synced = wal.sync_data();
        if let Err(e) = &synced {
            tracing::error!(error = %e, "token writer: syncing the write-ahead log failed");
        }
        for committed in waiting {
            let result = match &synced {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Io(std::io::Error::new(e.kind(), e.to_string()))),
            };
            let _ = committed.send(result);
        }
    }
}

/// One transaction for the batch. Each caller hears its operation's outcome once the batch's
/// statements ran, before the commit (the `ran` channels are consumed); the commit's outcome is
/// left to the caller of this.
fn commit(conn: &Connection, batch: &mut [Job]) -> rusqlite::Result<()> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch.iter() {
        match apply(conn, &job.op) {
            Ok(done) => outcomes.push(done),
            Err(_) => {
                // Rare (a duplicate hash): undo the batch and run each operation on its own,
                // so the others are not refused with it. The operations only read what they
                // write, so each finds what it found in the batch.
                conn.prepare_cached("ROLLBACK")?.execute([])?;
                return one_by_one(conn, batch);
            }
        }
    }
    for (job, done) in batch.iter_mut().zip(outcomes) {
        if let Some(ran) = job.ran.take() {
            let _ = ran.send(Ok(done));
        }
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok(())
}

/// A transaction per operation: the failing one is refused alone.
fn one_by_one(conn: &Connection, batch: &mut [Job]) -> rusqlite::Result<()> {
    for job in batch.iter_mut() {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let outcome = match apply(conn, &job.op) {
            Ok(done) => {
                conn.prepare_cached("COMMIT")?.execute([])?;
                Ok(done)
            }
            Err(e) => {
                conn.prepare_cached("ROLLBACK")?.execute([])?;
                Err(e.into())
            }
        };
        if let Some(ran) = job.ran.take() {
            let _ = ran.send(outcome);
        }
    }
    Ok(())
}

fn apply(conn: &Connection, op: &Op) -> rusqlite::Result<Done> {
    match op {
        Op::PutCode {
            code_hash,
            grant,
            expires_at,
        } => {
            conn.prepare_cached(
                "INSERT INTO auth_codes (code_hash, grant_json, expires_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![code_hash, grant, expires_at])?;
            Ok(Done::Stored)
        }
        Op::RedeemCode { code_hash, now } => redeem_code(conn, code_hash, *now).map(Done::Code),
        Op::PutRefresh(token) => {
            put_refresh(conn, token)?;
            Ok(Done::Stored)
        }
        Op::Rotate {
            token_hash,
            now,
            next,
        } => rotate(conn, token_hash, *now, next.as_ref()).map(Done::Rotation),
    }
}

fn redeem_code(
    conn: &Connection,
    code_hash: &str,
    now: Timestamp,
) -> rusqlite::Result<CodeRedemption> {
    let spent: Option<String> = conn
        .prepare_cached(
            "UPDATE auth_codes SET used_at = ?2 \
             WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING grant_json",
        )?
        .query_row(params![code_hash, now], |row| row.get(0))
        .optional()?;
    if let Some(grant) = spent {
        return Ok(CodeRedemption::Redeemed { grant });
    }
    let row: Option<(String, Option<Timestamp>)> = conn
        .prepare_cached("SELECT grant_json, used_at FROM auth_codes WHERE code_hash = ?1")?
        .query_row(params![code_hash], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(match row {
        None => CodeRedemption::NotFound,
        Some((grant, Some(_))) => CodeRedemption::Replayed { grant },
        Some((_, None)) => CodeRedemption::Expired,
    })
}

fn put_refresh(conn: &Connection, t: &RefreshTokenRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (token_hash, family_id, object_id, client_id, grant_json, \
         created_at, expires_at, auth_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        t.token_hash,
        t.family_id,
        t.object_id,
        t.client_id,
        t.grant,
        t.created_at,
        t.expires_at,
        t.auth_time
    ])?;
    Ok(())
}

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        token_hash: row.get(0)?,
        family_id: row.get(1)?,
        object_id: row.get(2)?,
        client_id: row.get(3)?,
        grant: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        auth_time: row.get(7)?,
    })
}

fn rotate(
    conn: &Connection,
    token_hash: &str,
    now: Timestamp,
    next: Option<&NextRefreshToken>,
) -> rusqlite::Result<Rotation> {
    let spent = conn
        .prepare_cached(
            "UPDATE refresh_tokens SET used_at = ?2 \
             WHERE token_hash = ?1 AND used_at IS NULL AND NOT revoked AND expires_at > ?2 \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens f \
                             WHERE f.family_id = refresh_tokens.family_id AND f.revoked) \
             RETURNING token_hash, family_id, object_id, client_id, grant_json, created_at, \
                       expires_at, auth_time",
        )?
        .query_row(params![token_hash, now], record)
        .optional()?;
    if let Some(spent) = spent {
        let mut next_expires_at = None;
        if let Some(next) = next {
            let expires_at = next.expires_at(&spent, now);
            if expires_at > now {
                put_refresh(
                    conn,
                    &RefreshTokenRecord {
                        token_hash: next.token_hash.clone(),
                        created_at: now,
                        expires_at,
                        ..spent.clone()
                    },
                )?;
                next_expires_at = Some(expires_at);
            }
        }
        return Ok(Rotation {
            used: RefreshUse::Valid(spent),
            next_expires_at,
        });
    }
    let found = conn
        .prepare_cached(
            "SELECT token_hash, family_id, object_id, client_id, grant_json, created_at, \
             expires_at, auth_time, used_at IS NOT NULL, \
             EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = t.family_id AND f.revoked) \
             FROM refresh_tokens t WHERE token_hash = ?1",
        )?
        .query_row(params![token_hash], |row| {
            Ok((record(row)?, row.get::<_, bool>(8)?, row.get::<_, bool>(9)?))
        })
        .optional()?;
    Ok(Rotation {
        used: RefreshUse::classify(found),
        next_expires_at: None,
    })
}

/// rusqlite errors are not `Clone`; a failed commit reaches every caller of the batch.
fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}
