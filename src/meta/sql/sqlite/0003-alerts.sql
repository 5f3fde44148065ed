-- Alerts raised by the rule engine over the audit log (system rules 004 §4.8.1(2)): one row per
-- rule and key (an account, a source address) and episode; a burst of hits updates the row.
-- Operators acknowledge them; nothing deletes them.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    key TEXT NOT NULL,
    first_idx INTEGER NOT NULL CHECK (first_idx >= 0),
    last_idx INTEGER NOT NULL CHECK (last_idx >= first_idx),
    hits INTEGER NOT NULL CHECK (hits >= 1),
    first_time INTEGER NOT NULL,
    last_time INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged')),
    ack_by TEXT,
    ack_at INTEGER,
    ack_note TEXT
) STRICT;

CREATE INDEX alerts_open ON alerts (rule, key, last_time) WHERE status = 'open';

CREATE TRIGGER alerts_never_deleted BEFORE DELETE ON alerts
BEGIN
    SELECT RAISE(ABORT, 'alerts are never deleted');
END;
