//! The token writer (SQLite files): one connection, on a thread of its own, that spends and
//! stores authorization codes and refresh tokens for the token endpoint.
//!
//! Why: a grant is a few short writes, and on SQLite writes are serial anyway. Spread over a
//! connection pool they queue on the database's write lock (SQLite's busy handler sleeps in
//! steps of up to 100 ms), every connection throws away its page cache whenever another one has
//! written, and each statement hops to a pool thread and back.
//!
//! How: callers queue their operations; the thread takes everything queued, runs it in one
//! `BEGIN IMMEDIATE` transaction (each operation inside a savepoint, so one failure undoes only
//! its own statements), commits, and only then answers each caller. With `synchronous = FULL`
//! the commit syncs the write-ahead log, so a power loss loses nothing that was answered; many
//! grants share one sync (group commit). Statements are prepared once and kept.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
    reply: oneshot::Sender<Result<Done, StoreError>>,
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
        std::thread::Builder::new()
            .name("trustframe-writer".into())
            .spawn(move || match connect(&path, busy_timeout) {
                Ok(conn) => {
                    let _ = opened.send(Ok(()));
                    run(conn, jobs);
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

    pub(crate) async fn submit(&self, op: Op) -> Result<Done, StoreError> {
        let queue = self
            .queue
            .lock()
            .map_err(|_| StoreError::Closed)?
            .as_ref()
            .ok_or(StoreError::Closed)?
            .clone();
        let (reply, answer) = oneshot::channel();
        queue
            .send(Job { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
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
    // FULL: the commit syncs the WAL, so an answered grant survives a power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // The writer's cache stays warm: only other connections' writes invalidate it.
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn run(conn: Connection, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut results = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = jobs.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit(&conn, &batch, &mut results) {
            Ok(()) => {
                for (job, result) in batch.drain(..).zip(results.drain(..)) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                // Nothing of the batch was committed: every caller hears so.
                let _ = conn.execute_batch("ROLLBACK");
                tracing::error!(error = %e, operations = batch.len(), "token writer: commit failed");
                results.clear();
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(StoreError::Sqlite(clone_error(&e))));
                }
            }
        }
    }
}

/// One transaction for the batch; each operation's outcome lands in `results`, in order.
fn commit(
    conn: &Connection,
    batch: &[Job],
    results: &mut Vec<Result<Done, StoreError>>,
) -> rusqlite::Result<()> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    for job in batch {
        conn.prepare_cached("SAVEPOINT op")?.execute([])?;
        match apply(conn, &job.op) {
            Ok(done) => results.push(Ok(done)),
            Err(e) => {
                conn.prepare_cached("ROLLBACK TO op")?.execute([])?;
                results.push(Err(e.into()));
            }
        }
        conn.prepare_cached("RELEASE op")?.execute([])?;
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
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
