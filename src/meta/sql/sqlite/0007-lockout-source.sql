-- [password] lockout_scope = account+source: failures are counted, and locks held, per account
-- and source address, so that an attacker elsewhere cannot lock a known ID out of every
-- network (the trade-off: each address gets its own allowance; the per-ID back-off still
-- bounds the rate). At most SOURCES_MAX rows per account are kept (sqlite-identity.c).
CREATE TABLE auth_source (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    source TEXT NOT NULL CHECK (length(source) > 0),
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_at INTEGER CHECK (locked_at IS NULL OR locked_at > 0),
    locked_until INTEGER CHECK (locked_until IS NULL OR locked_at IS NOT NULL),
    last_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, source)
) STRICT, WITHOUT ROWID;
