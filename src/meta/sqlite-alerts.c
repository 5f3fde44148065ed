/* sqlite-alerts.c — alerts in SQLite (meta.h, "alerts"). */
#include "meta/sqlite-internal.h"

#include <string.h>

static void finalizep(sqlite3_stmt **s)
{
    (void)sqlite3_finalize(*s);
    *s = NULL;
}

static int prepare(struct sqlite_meta *h, const char *sql, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v3(meta_sqlite_db(h), sql, -1, 0, ret, NULL);
    return rc == SQLITE_OK ? 0 : meta_sqlite_err(h, rc);
}

/* The open alert of this rule and key with a hit since `since`, if any. */
static int find_open(struct sqlite_meta *h, const struct kura_alert *a, int64_t since,
                     uint64_t *ret_id)
{
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int r = prepare(h,
                    "SELECT id FROM alerts WHERE status = 'open' AND rule = ?1 AND key = ?2 "
                    "AND last_time >= ?3 ORDER BY id DESC LIMIT 1",
                    &s);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_bind_text(s, 1, a->rule, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, 2, a->key, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 3, since);
    }
    if (rc != SQLITE_OK) {
        return meta_sqlite_err(h, rc);
    }
    r = meta_sqlite_step(h, s);
    if (r == 1) {
        *ret_id = (uint64_t)sqlite3_column_int64(s, 0);
    }
    return r;
}

static int update(struct sqlite_meta *h, uint64_t id, const struct kura_alert *a)
{
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int r = prepare(h,
                    "UPDATE alerts SET hits = hits + ?2, last_idx = max(last_idx, ?3), "
                    "last_time = max(last_time, ?4), detail = ?5 WHERE id = ?1",
                    &s);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 2, (sqlite3_int64)a->hits);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 3, (sqlite3_int64)a->last_idx);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 4, a->last_time);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, 5, a->detail, -1, SQLITE_STATIC);
    }
    return rc == SQLITE_OK ? meta_sqlite_step(h, s) : meta_sqlite_err(h, rc);
}

static int insert(struct sqlite_meta *h, const struct kura_alert *a, uint64_t *ret_id)
{
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int r = prepare(h,
                    "INSERT INTO alerts (rule, key, first_idx, last_idx, hits, first_time, "
                    "last_time, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    &s);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_bind_text(s, 1, a->rule, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, 2, a->key, -1, SQLITE_STATIC);
    }
    const sqlite3_int64 nums[] = {(sqlite3_int64)a->first_idx, (sqlite3_int64)a->last_idx,
                                  (sqlite3_int64)a->hits, a->first_time, a->last_time};
    for (int i = 0; rc == SQLITE_OK && i < 5; i++) {
        rc = sqlite3_bind_int64(s, 3 + i, nums[i]);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, 8, a->detail, -1, SQLITE_STATIC);
    }
    r = rc == SQLITE_OK ? meta_sqlite_step(h, s) : meta_sqlite_err(h, rc);
    if (r == 0) {
        *ret_id = (uint64_t)sqlite3_last_insert_rowid(meta_sqlite_db(h));
    }
    return r;
}

int meta_sqlite_alert_raise(struct kura_meta *m, const struct kura_alert *a, int64_t quiet_ms,
                            uint64_t *ret_id, bool *ret_new)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    uint64_t id = 0;
    r = find_open(h, a, a->last_time - quiet_ms, &id);
    bool fresh = r == 0;
    if (r == 1) {
        r = update(h, id, a);
    } else if (r == 0) {
        r = insert(h, a, &id);
    }
    if (r < 0) {
        meta_sqlite_rollback(m);
        return r;
    }
    r = meta_sqlite_txn(m, false);
    if (r == 0) {
        *ret_id = id;
        *ret_new = fresh;
    }
    return r;
}

static const char *col_text(sqlite3_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(s, col);
}

int meta_sqlite_alert_list(struct kura_meta *m, bool open_only, kura_alert_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int r = prepare(h,
                    open_only ? "SELECT id, rule, key, first_idx, last_idx, hits, first_time, "
                                "last_time, detail, status, ack_by, ack_at, ack_note FROM alerts "
                                "WHERE status = 'open' ORDER BY id DESC"
                              : "SELECT id, rule, key, first_idx, last_idx, hits, first_time, "
                                "last_time, detail, status, ack_by, ack_at, ack_note FROM alerts "
                                "ORDER BY id DESC",
                    &s);
    while (r == 0 && (r = meta_sqlite_step(h, s)) == 1) {
        struct kura_alert a = {
            .id = (uint64_t)sqlite3_column_int64(s, 0),
            .rule = col_text(s, 1),
            .key = col_text(s, 2),
            .first_idx = (uint64_t)sqlite3_column_int64(s, 3),
            .last_idx = (uint64_t)sqlite3_column_int64(s, 4),
            .hits = (uint64_t)sqlite3_column_int64(s, 5),
            .first_time = sqlite3_column_int64(s, 6),
            .last_time = sqlite3_column_int64(s, 7),
            .detail = col_text(s, 8),
            .acknowledged = strcmp(col_text(s, 9), "acknowledged") == 0,
            .ack_by = col_text(s, 10),
            .ack_at = sqlite3_column_int64(s, 11),
            .ack_note = col_text(s, 12),
        };
        r = fn(ctx, &a);
    }
    return r;
}

int meta_sqlite_alert_ack(struct kura_meta *m, uint64_t id, const char *by, const char *note,
                          int64_t at)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(finalizep) sqlite3_stmt *s = NULL;
    int r = prepare(h,
                    "UPDATE alerts SET status = 'acknowledged', ack_by = ?2, ack_at = ?3, "
                    "ack_note = ?4 WHERE id = ?1 AND status = 'open'",
                    &s);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, 2, by, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 3, at);
    }
    if (rc == SQLITE_OK) {
        rc = note ? sqlite3_bind_text(s, 4, note, -1, SQLITE_STATIC) : sqlite3_bind_null(s, 4);
    }
    r = rc == SQLITE_OK ? meta_sqlite_step(h, s) : meta_sqlite_err(h, rc);
    if (r == 0 && sqlite3_changes64(meta_sqlite_db(h)) == 0) {
        r = KURA_ENOTFOUND;
    }
    return r;
}
