/* sqlite-internal.h — what sqlite.c lends the other files of the SQLite backend. */
#pragma once

#include <sqlite3.h>

#include "meta/meta-internal.h"

struct sqlite_meta; /* the handle, private to sqlite.c */

/* Takes the handle's (recursive) lock; release with meta_sqlite_unlockp. */
struct sqlite_meta *meta_sqlite_lock(struct kura_meta *m);
void meta_sqlite_unlockp(struct sqlite_meta **hp);
#define META_SQLITE_LOCKED(m, h)                                                                   \
    _cleanup_(meta_sqlite_unlockp) struct sqlite_meta *h = meta_sqlite_lock(m)

sqlite3 *meta_sqlite_db(struct sqlite_meta *h);
/* Maps an SQLite result code to a kura error (and logs SQLite's message at debug level). */
int meta_sqlite_err(struct sqlite_meta *h, int rc);
/* Steps once: 1 for a row, 0 when done, < 0 on error. */
int meta_sqlite_step(struct sqlite_meta *h, sqlite3_stmt *s);
/* Begins (begin = true) or commits a transaction, as kura_meta_txn_begin/commit. */
int meta_sqlite_txn(struct kura_meta *m, bool begin);
void meta_sqlite_rollback(struct kura_meta *m);

/* sqlite-audit.c */
int meta_sqlite_audit_put(struct kura_meta *m, const struct kura_audit_row *rows, size_t n);
int meta_sqlite_audit_next(struct kura_meta *m, uint64_t *ret);
int meta_sqlite_audit_search(struct kura_meta *m, const struct kura_audit_query *q,
                             kura_audit_row_fn fn, void *ctx);
int meta_sqlite_audit_prune(struct kura_meta *m, int64_t before_ms, uint64_t *ret_deleted);

/* sqlite-alerts.c */
int meta_sqlite_alert_raise(struct kura_meta *m, const struct kura_alert *a, int64_t quiet_ms,
                            uint64_t *ret_id, bool *ret_new);
int meta_sqlite_alert_list(struct kura_meta *m, bool open_only, kura_alert_fn fn, void *ctx);
int meta_sqlite_alert_ack(struct kura_meta *m, uint64_t id, const char *by, const char *note,
                          int64_t at);
