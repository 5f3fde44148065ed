/* sqlite-audit.c — the audit search index in SQLite (meta.h, "the audit search index").
 *
 * Statements here are prepared per call: inserts come in batches (one prepare per batch), and
 * searches build their WHERE clause from the filters that are set, always with bound
 * parameters, never with values pasted into SQL.
 */
#include "meta/sqlite-internal.h"

#include <string.h>

static void finalizep(sqlite3_stmt **s)
{
    (void)sqlite3_finalize(*s);
    *s = NULL;
}

static int bind_opt(sqlite3_stmt *s, int col, const char *v)
{
    return v ? sqlite3_bind_text(s, col, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, col);
}

static int put_row(struct sqlite_meta *h, sqlite3_stmt *s, const struct kura_audit_row *row)
{
    int rc = sqlite3_bind_int64(s, 1, (sqlite3_int64)row->idx);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 2, row->time);
    }
    const char *texts[] = {row->actor,  row->action,    row->object,
                           row->result, row->source_ip, row->request_id};
    for (int i = 0; rc == SQLITE_OK && i < (int)KURA_ARRAY_SIZE(texts); i++) {
        rc = bind_opt(s, 3 + i, texts[i]);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 9, (sqlite3_int64)row->bytes);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, 10, row->record, -1, SQLITE_STATIC);
    }
    int r = rc == SQLITE_OK ? meta_sqlite_step(h, s) : meta_sqlite_err(h, rc);
    (void)sqlite3_reset(s);
    (void)sqlite3_clear_bindings(s);
    return r;
}

int meta_sqlite_audit_put(struct kura_meta *m, const struct kura_audit_row *rows, size_t n)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(meta_sqlite_db(h),
                                "INSERT INTO audit_index (idx, time, actor, action, object, "
                                "result, source_ip, request_id, bytes, record) VALUES (?1, ?2, "
                                "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (idx) DO NOTHING",
                                -1, 0, &s, NULL);
    r = rc == SQLITE_OK ? 0 : meta_sqlite_err(h, rc);
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = put_row(h, s, &rows[i]);
    }
    if (r < 0) {
        meta_sqlite_rollback(m);
        return r;
    }
    return meta_sqlite_txn(m, false);
}

int meta_sqlite_audit_next(struct kura_meta *m, uint64_t *ret)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(
        meta_sqlite_db(h), "SELECT coalesce(max(idx) + 1, 0) FROM audit_index", -1, 0, &s, NULL);
    if (rc != SQLITE_OK) {
        return meta_sqlite_err(h, rc);
    }
    int r = meta_sqlite_step(h, s);
    if (r < 0) {
        return r;
    }
    *ret = (uint64_t)sqlite3_column_int64(s, 0);
    return 0;
}

static const char *col_text(sqlite3_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(s, col);
}

/* Builds "SELECT ... WHERE <set filters> ORDER BY idx LIMIT ?" with numbered parameters. A time
 * bound becomes an idx bound too (the first record at or after it, found through
 * audit_index_time), since times never go backwards in the log: a search by actor in a month
 * then walks audit_index_actor (actor, idx) from the month's first record. */
static int build_query(const struct kura_audit_query *q, struct kura_buf *sql)
{
    kura_buf_adds(sql, "SELECT idx, time, actor, action, object, result, source_ip, request_id, "
                       "bytes, record FROM audit_index WHERE idx > ?1");
    static const char first_at[] = "((SELECT idx FROM audit_index WHERE time >= ?%d ORDER BY time, "
                                   "idx LIMIT 1), 9223372036854775807)";
    if (q->from_ms) {
        kura_buf_adds(sql, " AND time >= ?2 AND idx >= coalesce");
        kura_buf_addf(sql, first_at, 2);
    }
    if (q->to_ms) {
        kura_buf_adds(sql, " AND time < ?3 AND idx < coalesce");
        kura_buf_addf(sql, first_at, 3);
    }
    if (q->actor) {
        kura_buf_adds(sql, " AND actor = ?4");
    }
    if (q->action) {
        kura_buf_adds(sql, " AND action = ?5");
    }
    if (q->object_prefix) {
        /* substr, not LIKE: no wildcard in a user's prefix can widen the match */
        kura_buf_adds(sql, " AND substr(object, 1, length(?6)) = ?6");
    }
    if (q->result) {
        kura_buf_adds(sql, " AND result = ?7");
    }
    if (q->source_ip) {
        kura_buf_adds(sql, " AND source_ip = ?8");
    }
    kura_buf_adds(sql, " ORDER BY idx LIMIT ?9");
    return kura_buf_err(sql);
}

int meta_sqlite_audit_search(struct kura_meta *m, const struct kura_audit_query *q,
                             kura_audit_row_fn fn, void *ctx)
{
    struct kura_buf sql = KURA_BUF_INIT(1024);
    int r = build_query(q, &sql);
    if (r < 0) {
        kura_buf_release(&sql);
        return r;
    }
    META_SQLITE_LOCKED(m, h);
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(meta_sqlite_db(h), sql.ptr, -1, 0, &s, NULL);
    kura_buf_release(&sql);
    if (rc != SQLITE_OK) {
        return meta_sqlite_err(h, rc);
    }
    /* Unused parameters stay NULL; the SQL does not mention them. */
    rc = sqlite3_bind_int64(s, 1, q->after_idx == UINT64_MAX ? -1 : (sqlite3_int64)q->after_idx);
    if (rc == SQLITE_OK && q->from_ms) {
        rc = sqlite3_bind_int64(s, 2, q->from_ms);
    }
    if (rc == SQLITE_OK && q->to_ms) {
        rc = sqlite3_bind_int64(s, 3, q->to_ms);
    }
    const char *texts[] = {q->actor, q->action, q->object_prefix, q->result, q->source_ip};
    for (int i = 0; rc == SQLITE_OK && i < (int)KURA_ARRAY_SIZE(texts); i++) {
        if (texts[i]) {
            rc = sqlite3_bind_text(s, 4 + i, texts[i], -1, SQLITE_STATIC);
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 9, q->limit ? (sqlite3_int64)q->limit : -1);
    }
    if (rc != SQLITE_OK) {
        return meta_sqlite_err(h, rc);
    }
    while ((r = meta_sqlite_step(h, s)) == 1) {
        struct kura_audit_row row = {
            .idx = (uint64_t)sqlite3_column_int64(s, 0),
            .time = sqlite3_column_int64(s, 1),
            .actor = col_text(s, 2),
            .action = col_text(s, 3),
            .object = col_text(s, 4),
            .result = col_text(s, 5),
            .source_ip = col_text(s, 6),
            .request_id = col_text(s, 7),
            .bytes = (uint64_t)sqlite3_column_int64(s, 8),
            .record = col_text(s, 9),
        };
        r = fn(ctx, &row);
        if (r != 0) {
            return r;
        }
    }
    return r;
}

int meta_sqlite_audit_prune(struct kura_meta *m, int64_t before_ms, uint64_t *ret_deleted)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(meta_sqlite_db(h), "DELETE FROM audit_index WHERE time < ?1", -1, 0,
                                &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 1, before_ms);
    }
    if (rc != SQLITE_OK) {
        return meta_sqlite_err(h, rc);
    }
    int r = meta_sqlite_step(h, s);
    if (r < 0) {
        return r;
    }
    *ret_deleted = (uint64_t)sqlite3_changes64(meta_sqlite_db(h));
    return 0;
}
