-- kura metadata schema v5 (SQLite), identity (meta.h, "identity"): authentication state,
-- recovery codes, password history, sessions, app passwords and the account ledger. Times are
-- INTEGER milliseconds; NULL means "not set" wherever the C record says 0 does.

-- Counters and secrets that change at every login, apart from the accounts row (whose changes
-- are ledger entries). A missing row means all zeros. locked_until without locked_at would be a
-- lock nobody recorded taking; locked_at without locked_until is a lock until an unlock.
CREATE TABLE account_auth (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins BETWEEN 0 AND 4294967295),
    last_failed_at INTEGER CHECK (last_failed_at IS NULL OR last_failed_at > 0),
    locked_at INTEGER CHECK (locked_at IS NULL OR locked_at > 0),
    locked_until INTEGER CHECK (locked_until IS NULL OR locked_at IS NOT NULL),
    last_login_at INTEGER CHECK (last_login_at IS NULL OR last_login_at > 0),
    last_login_ip TEXT CHECK (last_login_ip IS NULL OR length(CAST(last_login_ip AS BLOB)) <= 64),
    totp_secret BLOB CHECK (totp_secret IS NULL OR length(totp_secret) BETWEEN 1 AND 128),
    totp_last_step INTEGER CHECK (totp_last_step IS NULL OR totp_last_step >= 0),
    totp_enrolled_at INTEGER CHECK (totp_enrolled_at IS NULL OR totp_enrolled_at > 0)
) STRICT, WITHOUT ROWID;

-- MACs of the recovery codes (never the codes). used_at NULL: still usable.
CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    mac BLOB NOT NULL CHECK (length(mac) = 32),
    used_at INTEGER CHECK (used_at IS NULL OR used_at > 0),
    PRIMARY KEY (account_id, mac)
) STRICT, WITHOUT ROWID;

-- Previous password hashes, trimmed by the store to the newest N per account.
CREATE TABLE password_history (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    at INTEGER NOT NULL,
    hash TEXT NOT NULL CHECK (length(hash) > 0)
) STRICT;

CREATE INDEX password_history_account ON password_history (account_id, at);

-- Server-side sessions, keyed by the SHA-256 of the browser's token (never the token).
CREATE TABLE sessions (
    id_hash BLOB PRIMARY KEY NOT NULL CHECK (length(id_hash) = 32),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('full', 'enrol')),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    elevated_until INTEGER CHECK (elevated_until IS NULL OR elevated_until > 0),
    csrf BLOB NOT NULL CHECK (length(csrf) = 32),
    source_ip TEXT,
    user_agent TEXT,
    break_glass INTEGER NOT NULL DEFAULT 0 CHECK (break_glass IN (0, 1))
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_account ON sessions (account_id);

-- App passwords: mac is an HMAC of the secret under a server key. A name is unique among an
-- account's passwords in force; a revoked one frees its name but keeps its row.
CREATE TABLE app_passwords (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL CHECK (length(name) > 0),
    mac BLOB NOT NULL UNIQUE CHECK (length(mac) = 32),
    read_write INTEGER NOT NULL DEFAULT 0 CHECK (read_write IN (0, 1)),
    created_at INTEGER NOT NULL,
    expires_at INTEGER CHECK (expires_at IS NULL OR expires_at > 0),
    last_used_at INTEGER CHECK (last_used_at IS NULL OR last_used_at > 0),
    last_used_ip TEXT,
    revoked_at INTEGER CHECK (revoked_at IS NULL OR revoked_at > 0)
) STRICT;

CREATE INDEX app_passwords_account ON app_passwords (account_id);
CREATE UNIQUE INDEX app_passwords_name ON app_passwords (account_id, name)
    WHERE revoked_at IS NULL;

-- The account ledger (アカウント管理台帳): append-only, enforced here and not only by the code
-- above. AUTOINCREMENT: a sequence number is never handed out twice, even if rows were removed
-- behind the triggers' back.
CREATE TABLE account_ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL CHECK (length(actor) > 0),
    target TEXT NOT NULL CHECK (length(target) > 0),
    action TEXT NOT NULL CHECK (length(action) > 0),
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    request_id TEXT
) STRICT;

CREATE INDEX account_ledger_target ON account_ledger (target);

CREATE TRIGGER account_ledger_no_update BEFORE UPDATE ON account_ledger
BEGIN
    SELECT RAISE(ABORT, 'the account ledger is append-only');
END;

CREATE TRIGGER account_ledger_no_delete BEFORE DELETE ON account_ledger
BEGIN
    SELECT RAISE(ABORT, 'the account ledger is append-only');
END;
