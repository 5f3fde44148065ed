-- kura metadata schema v1 (SQLite): schema bookkeeping, install properties, accounts, roles.
--
-- Applied by src/meta/sqlite.c inside one transaction, which then records the version in
-- schema_version. Rules for every migration file: no BEGIN/COMMIT, no PRAGMA, STRICT tables,
-- CHECK constraints for every enumerated text column, times as INTEGER milliseconds since the
-- epoch (UTC) unless stated otherwise.

CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL          -- ISO-8601 UTC, e.g. 2026-11-21T23:58:13.123Z
) STRICT;

-- Installation-wide properties (install_id, created_at, ...).
CREATE TABLE install (
    key TEXT PRIMARY KEY NOT NULL CHECK (length(key) > 0),
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Login IDs are never reused: an account is never deleted, only marked 'deleted'.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL CHECK (length(id) > 0),
    display_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    affiliation TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL
        CHECK (status IN ('active', 'locked', 'disabled', 'expired', 'deleted')),
    valid_from INTEGER CHECK (valid_from IS NULL OR valid_from > 0),
    valid_until INTEGER CHECK (valid_until IS NULL OR valid_until > 0),
    password_hash TEXT,
    password_changed_at INTEGER CHECK (password_changed_at IS NULL OR password_changed_at > 0),
    must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE account_roles (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    role TEXT NOT NULL
        CHECK (role IN ('user', 'pi', 'committee', 'helpdesk', 'operator', 'admin', 'auditor')),
    PRIMARY KEY (account_id, role)
) STRICT, WITHOUT ROWID;

-- The never-reused rule, enforced by the database itself and not only by the code above it.
CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
BEGIN
    SELECT RAISE(ABORT, 'accounts are never deleted; set status to deleted');
END;

CREATE TRIGGER accounts_no_rename BEFORE UPDATE OF id ON accounts
BEGIN
    SELECT RAISE(ABORT, 'account ids never change');
END;
