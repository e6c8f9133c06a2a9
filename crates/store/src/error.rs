/// Everything the store can fail with. Messages never carry stored values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists: a duplicate identity, object id, code, token, session or kid.
    #[error("conflict: the record already exists")]
    Conflict,
    /// The record an update addresses does not exist.
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// From the token writer's own SQLite connection.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The store was closed (or its writer thread is gone).
    #[error("the store is closed")]
    Closed,
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored JSON (or a stored number) could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The connection URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(&'static str),
    /// Creating the directory of a SQLite file failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(e),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(code, _)
                if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                StoreError::Conflict
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Parses stored JSON text; `what` names the column for the error (never the value).
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, StoreError> {
    // serde_json's Display can quote the offending value; report only where it broke.
    serde_json::from_str(text).map_err(|e| {
        StoreError::Corrupt(format!(
            "{what}: undecodable JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

pub(crate) fn encode_json<T: serde::Serialize>(
    value: &T,
    what: &str,
) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("{what}: unencodable JSON ({:?})", e.classify())))
}
