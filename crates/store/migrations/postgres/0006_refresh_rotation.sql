-- The sign-in time of a refresh token's grant, so that a rotation can store the successor in the
-- same transaction that spends the token: the successor's expiry is capped by the grant's sliding
-- window, which starts at the sign-in. NULL for tokens issued before this migration (their
-- successors are then capped by the spent token's own expiry).
ALTER TABLE refresh_tokens ADD COLUMN auth_time BIGINT;
-- Every spend asks "is any token of this family revoked?". A family gains a row per rotation, so
-- the family index alone means reading them all; revoked rows are rare and this index holds only them.
CREATE INDEX refresh_tokens_revoked_family ON refresh_tokens (family_id) WHERE revoked;
