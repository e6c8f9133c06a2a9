-- Who an audit record is about (issue 11): the tenant, the user's object id (never a name typed
-- for an unknown account), the client's address and user agent. Never passwords, codes or tokens.
ALTER TABLE audit_log ADD COLUMN tenant TEXT;
ALTER TABLE audit_log ADD COLUMN subject TEXT;
ALTER TABLE audit_log ADD COLUMN ip TEXT;
ALTER TABLE audit_log ADD COLUMN user_agent TEXT;
CREATE INDEX audit_log_subject ON audit_log (subject);
