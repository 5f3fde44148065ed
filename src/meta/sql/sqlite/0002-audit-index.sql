-- The audit search index: derived from the audit log (DATA/audit), rebuildable from it at any
-- time, and pruned to [audit] searchable_days. The record itself is kept so that search
-- results and exports need no trip to the log's files.
CREATE TABLE audit_index (
    idx INTEGER PRIMARY KEY CHECK (idx >= 0),
    time INTEGER NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    object TEXT,
    result TEXT NOT NULL CHECK (result IN ('ok', 'denied', 'error')),
    source_ip TEXT,
    request_id TEXT,
    bytes INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    record TEXT NOT NULL
) STRICT;

CREATE INDEX audit_index_time ON audit_index (time);
CREATE INDEX audit_index_actor ON audit_index (actor, time);
CREATE INDEX audit_index_action ON audit_index (action, time);
CREATE INDEX audit_index_source ON audit_index (source_ip, time);
