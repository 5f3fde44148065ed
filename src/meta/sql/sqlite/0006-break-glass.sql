-- Break-glass (emergency) accounts (identity issue item 6; MHLW guideline: rules for emergency
-- access). A row marks an account as an emergency account. It is enabled only when two
-- different administrators approve within an hour (requested_by is the first approval), for a
-- limited time (enabled_until); the account is unusable outside that time.
CREATE TABLE break_glass (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    requested_by TEXT CHECK (requested_by IS NULL OR length(requested_by) > 0),
    requested_at INTEGER CHECK (requested_at IS NULL OR requested_at > 0),
    minutes INTEGER CHECK (minutes IS NULL OR minutes BETWEEN 1 AND 1440),
    enabled_until INTEGER CHECK (enabled_until IS NULL OR enabled_until > 0),
    enabled_by TEXT,
    CHECK ((requested_by IS NULL) = (requested_at IS NULL))
) STRICT, WITHOUT ROWID;
