-- Smart lockout: failed password checks counted per account and per client IP, shared by every
-- node. `subject` is `account:<object id or lower-cased sign-in name>` or `ip:<address>`.
-- `failures` count within the window that began at `window_start`; reaching the threshold sets
-- `locked_until` and adds one to `lockouts`, which makes the next lockout longer. A row is
-- forgotten (and may be purged) once `expires_at` has passed.
CREATE TABLE sign_in_throttle (
    subject      TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    lockouts     BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sign_in_throttle_expires_at ON sign_in_throttle (expires_at);
