-- Searches return records in log order (idx). An index on one column is keyed (column, idx) by
-- SQLite, so a search by actor, action or source reads only the rows it returns, in order; the
-- indexes of 0002 were keyed (column, time) and made every search read and sort all rows of
-- that actor first (docs/performance.md, "Audit log"). Time ranges are turned into idx ranges
-- through audit_index_time: the writer's times never go backwards.
DROP INDEX audit_index_actor;
DROP INDEX audit_index_action;
DROP INDEX audit_index_source;
CREATE INDEX audit_index_actor ON audit_index (actor);
CREATE INDEX audit_index_action ON audit_index (action);
CREATE INDEX audit_index_source ON audit_index (source_ip);
