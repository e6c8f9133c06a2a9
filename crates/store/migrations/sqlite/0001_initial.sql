-- Trustframe store, SQLite dialect. Keep in step with ../postgres/0001_initial.sql.
-- Timestamps are unix seconds (INTEGER); JSON is stored as TEXT and decoded by the store.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE users (
    object_id     TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT,
    attributes    TEXT NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL
);

-- issuer_assigned_id_key is issuer_assigned_id lowercased by the store (Unicode rules, same on
-- both dialects), so SQLite's ASCII-only lower() and PostgreSQL's locale never disagree.
CREATE TABLE identities (
    object_id              TEXT NOT NULL REFERENCES users (object_id) ON DELETE CASCADE,
    position               INTEGER NOT NULL,
    sign_in_type           TEXT NOT NULL,
    issuer                 TEXT NOT NULL,
    issuer_assigned_id     TEXT NOT NULL,
    issuer_assigned_id_key TEXT NOT NULL,
    PRIMARY KEY (object_id, position)
);
CREATE UNIQUE INDEX identities_lookup ON identities (sign_in_type, issuer, issuer_assigned_id_key);

CREATE TABLE journeys (
    id         TEXT PRIMARY KEY NOT NULL,
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX journeys_expires_at ON journeys (expires_at);

CREATE TABLE sso_sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    object_id  TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX sso_sessions_object_id ON sso_sessions (object_id);
CREATE INDEX sso_sessions_expires_at ON sso_sessions (expires_at);

CREATE TABLE auth_codes (
    code_hash  TEXT PRIMARY KEY NOT NULL,
    grant_json TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    family_id  TEXT NOT NULL,
    object_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    grant_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_object_id ON refresh_tokens (object_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    algorithm       TEXT NOT NULL,
    private_key_der BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    retired_at      INTEGER
);

-- AUTOINCREMENT: ids are never reused, so an id is a stable paging cursor.
CREATE TABLE audit_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at                INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    correlation_id    TEXT,
    policy            TEXT,
    step              TEXT,
    technical_profile TEXT,
    url               TEXT,
    status            INTEGER,
    duration_ms       INTEGER,
    attempts          INTEGER,
    outcome           TEXT NOT NULL,
    detail            TEXT NOT NULL
);
CREATE INDEX audit_log_correlation_id ON audit_log (correlation_id);
CREATE INDEX audit_log_at ON audit_log (at);
