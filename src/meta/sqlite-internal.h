/* sqlite-internal.h — what sqlite.c lends the other files of the SQLite backend. */
#pragma once

#include <sqlite3.h>
#include <stdarg.h>

#include "meta/meta-internal.h"

struct sqlite_meta; /* the handle, private to sqlite.c */

#define META_SQLITE_BUSY_TIMEOUT_MS 5000 /* every connection's busy timeout */

/* sqlite.c's own statements, prepared once per connection; their SQL is in sqlite-sql.c. */
enum stmt_id {
    ST_BEGIN_IMMEDIATE,
    ST_BEGIN_DEFERRED,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_HAS_VERSION_TABLE,
    ST_MAX_VERSION,
    ST_COUNT_OBJECTS,
    ST_INSERT_VERSION,
    ST_INSTALL_GET,
    ST_INSTALL_SET,
    ST_ACCOUNT_INSERT,
    ST_ROLE_INSERT,
    ST_ACCOUNT_SELECT,
    ST_ROLES_SELECT,
    ST_ACCOUNT_COUNT,
    ST__COUNT,
};
extern const char *const meta_sqlite_stmt_sql[ST__COUNT];

/* Takes the handle's (recursive) lock; release with meta_sqlite_unlockp. */
struct sqlite_meta *meta_sqlite_lock(struct kura_meta *m);
void meta_sqlite_unlockp(struct sqlite_meta **hp);
#define META_SQLITE_LOCKED(m, h)                                                                   \
    _cleanup_(meta_sqlite_unlockp) struct sqlite_meta *h = meta_sqlite_lock(m)

/* For a read made outside any transaction: one of the reader connections (KURA_META_READERS)
 * if there are any and this thread holds no lock of the handle, else the main connection;
 * locked either way (release with meta_sqlite_unlockp). Only for leaf reads: nothing that
 * writes, takes the main lock or runs a callback may happen while a reader is held. */
struct sqlite_meta *meta_sqlite_read_lock(struct kura_meta *m);
#define META_SQLITE_READ(m, h)                                                                     \
    _cleanup_(meta_sqlite_unlockp) struct sqlite_meta *h = meta_sqlite_read_lock(m)
/* Takes (hold) or releases every reader's lock: no reader is mid-read meanwhile (a TRUNCATE
 * checkpoint must find the log unused). Taken after the main lock, never before. */
void meta_sqlite_readers_hold(struct kura_meta *m, bool hold);
sqlite3 *meta_sqlite_db(struct sqlite_meta *h);
/* sqlite-file.c: makes (KURA_META_CREATE) or checks the file before SQLite opens it: ours,
 * 0600, a regular file (no symlink), not too short to be a database. */
int meta_sqlite_check_file(const char *path, unsigned flags);
/* The handle's statement cache (sqlite-stmt.c); NULL when it could not be made. */
struct meta_stmt_cache;
struct meta_stmt_cache *meta_sqlite_cache(struct sqlite_meta *h);
struct meta_stmt_cache *meta_sqlite_cache_new(void);
/* Finalizes every kept statement; before sqlite3_close. Accepts NULL. */
void meta_sqlite_cache_free(struct meta_stmt_cache *c);
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

/* sqlite-identity.c */
int meta_sqlite_account_update(struct kura_meta *m, const struct kura_account *a);
int meta_sqlite_account_list(struct kura_meta *m, kura_account_fn fn, void *ctx);
int meta_sqlite_auth_get(struct kura_meta *m, const char *id, struct kura_account_auth *ret);
int meta_sqlite_auth_attempt(struct kura_meta *m, const char *id, uint32_t threshold, int64_t now,
                             uint32_t *ret_failed);
int meta_sqlite_auth_failed(struct kura_meta *m, const char *id, uint32_t threshold, int64_t now,
                            int64_t lock_ms, bool *ret_locked_now);
int meta_sqlite_auth_succeeded(struct kura_meta *m, const char *id, int64_t now, const char *ip);
int meta_sqlite_auth_unlock(struct kura_meta *m, const char *id);
int meta_sqlite_auth_set_totp(struct kura_meta *m, const char *id, const uint8_t *sealed,
                              size_t len, int64_t now);
int meta_sqlite_auth_use_totp_step(struct kura_meta *m, const char *id, uint64_t step);
int meta_sqlite_recovery_set(struct kura_meta *m, const char *id,
                             const uint8_t (*macs)[KURA_META_MAC_BYTES], size_t n);
int meta_sqlite_recovery_use(struct kura_meta *m, const char *id, const uint8_t *mac, int64_t now);
int meta_sqlite_password_history_add(struct kura_meta *m, const char *id, const char *hash,
                                     int64_t at, uint32_t keep);
int meta_sqlite_password_history_list(struct kura_meta *m, const char *id,
                                      int (*fn)(void *ctx, const char *hash), void *ctx);
int meta_sqlite_session_create(struct kura_meta *m, const struct kura_session *s);
int meta_sqlite_session_get(struct kura_meta *m, const uint8_t *id_hash, struct kura_session *ret);
int meta_sqlite_session_touch(struct kura_meta *m, const uint8_t *id_hash, int64_t now);
int meta_sqlite_session_elevate(struct kura_meta *m, const uint8_t *id_hash, int64_t until);
int meta_sqlite_session_delete(struct kura_meta *m, const uint8_t *id_hash);
int meta_sqlite_session_delete_account(struct kura_meta *m, const char *id, const uint8_t *except,
                                       uint64_t *ret_deleted);
int meta_sqlite_session_list(struct kura_meta *m, const char *id, kura_session_fn fn, void *ctx);
int meta_sqlite_session_prune(struct kura_meta *m, int64_t idle_before, int64_t now,
                              uint64_t *ret_deleted);
int meta_sqlite_app_password_create(struct kura_meta *m, const struct kura_app_password *p,
                                    uint64_t *ret_id);
int meta_sqlite_app_password_find(struct kura_meta *m, const uint8_t *mac,
                                  struct kura_app_password *ret);
int meta_sqlite_app_password_touch(struct kura_meta *m, uint64_t id, int64_t now, const char *ip);
int meta_sqlite_app_password_list(struct kura_meta *m, const char *id, kura_app_password_fn fn,
                                  void *ctx);
int meta_sqlite_app_password_revoke(struct kura_meta *m, const char *id, uint64_t pw_id,
                                    int64_t now);
int meta_sqlite_ledger_append(struct kura_meta *m, const struct kura_ledger_entry *e,
                              uint64_t *ret_seq);
int meta_sqlite_ledger_list(struct kura_meta *m, const char *target, kura_ledger_fn fn, void *ctx);
int meta_sqlite_break_glass_get(struct kura_meta *m, const char *id, struct kura_break_glass *ret);
int meta_sqlite_break_glass_put(struct kura_meta *m, const char *id,
                                const struct kura_break_glass *b);
int meta_sqlite_source_attempt(struct kura_meta *m, const char *id, const char *source,
                               uint32_t threshold, int64_t now, uint32_t *ret_failed);
int meta_sqlite_source_failed(struct kura_meta *m, const char *id, const char *source,
                              uint32_t threshold, int64_t now, int64_t lock_ms,
                              bool *ret_locked_now);
int meta_sqlite_source_clear(struct kura_meta *m, const char *id, const char *source);

/* sqlite-stmt.c: statements prepared on first use and kept by the handle (a cache keyed by the
 * SQL text), parameters bound from a format string
 * (t text or NULL, s text+length, i int64, T int64 with 0 as NULL, b blob+length, h 32 bytes),
 * result columns read through another (t/n text borrowed until the next step, NULL allowed
 * for n; i, T (NULL as 0), f bool; h/H 32 bytes (H: NULL as zeros); - skips a column). Every
 * function returns 0 or a kura error unless it says otherwise. */
/* For _cleanup_, while the handle's lock is still held: a kept statement is reset and its
 * bindings cleared (it goes back to the cache); any other is finalized. */
void meta_sqlite_finalizep(sqlite3_stmt **s);
int meta_sqlite_prepare(struct sqlite_meta *h, sqlite3_stmt **ret, const char *sql, const char *fmt,
                        ...);
int meta_sqlite_vprepare(struct sqlite_meta *h, sqlite3_stmt **ret, const char *sql,
                         const char *fmt, va_list *ap);
/* Steps and reads the row: 1 a row, 0 done, < 0 error. */
int meta_sqlite_row(struct sqlite_meta *h, sqlite3_stmt *s, const char *fmt, ...);
/* Parameters (in), then pointers for at most one row (out, numbers only): 1 a row, 0 none. */
int meta_sqlite_one(struct sqlite_meta *h, const char *sql, const char *in, const char *out, ...);
/* A statement without rows; *ret_changes (may be NULL): the rows it changed. */
int meta_sqlite_exec(struct sqlite_meta *h, int64_t *ret_changes, const char *sql, const char *fmt,
                     ...);
/* As meta_sqlite_exec, but KURA_ENOTFOUND when no row changed. */
int meta_sqlite_exec_found(struct sqlite_meta *h, const char *sql, const char *fmt, ...);
/* Copies a BLOB column of min..max bytes into out (NULL reads as length 0 when min is 0). */
int meta_sqlite_column_blob(sqlite3_stmt *s, int col, void *out, size_t min, size_t max,
                            size_t *ret_len);
/* Copies stored text into a fixed field: KURA_ECORRUPT when it does not fit. */
int meta_sqlite_copy_field(char *dst, size_t size, const char *src);
/* Ends a transaction begun with meta_sqlite_txn: commits when r >= 0, else rolls back. */
int meta_sqlite_txn_end(struct kura_meta *m, int r);
/* An id, size or quota as an SQL integer (the wrappers keep them <= INT64_MAX). */
static inline int64_t meta_sqlite_id(uint64_t v)
{
    return (int64_t)v;
}

/* sqlite-store.c, sqlite-store-data.c */
int meta_sqlite_space_personal(struct kura_meta *m, const char *account, uint64_t quota,
                               int64_t now, struct kura_space *ret);
int meta_sqlite_space_get(struct kura_meta *m, uint64_t id, struct kura_space *ret);
int meta_sqlite_space_charge(struct kura_meta *m, uint64_t id, int64_t delta);
int meta_sqlite_space_set_quota(struct kura_meta *m, uint64_t id, uint64_t quota);
int meta_sqlite_node_get(struct kura_meta *m, uint64_t id, struct kura_node *ret);
int meta_sqlite_node_lookup(struct kura_meta *m, uint64_t space, const char *path,
                            struct kura_node *ret);
int meta_sqlite_node_children(struct kura_meta *m, uint64_t folder, kura_node_fn fn, void *ctx);
int meta_sqlite_node_create(struct kura_meta *m, const struct kura_node *n, uint64_t *ret_id);
int meta_sqlite_node_set_content(struct kura_meta *m, uint64_t id, uint64_t version, uint64_t size,
                                 const uint8_t sha256[32], int64_t mtime);
int meta_sqlite_node_move(struct kura_meta *m, uint64_t id, const char *new_path);
int meta_sqlite_node_set_mtime(struct kura_meta *m, uint64_t id, int64_t mtime);
int meta_sqlite_node_trash(struct kura_meta *m, uint64_t id, const char *by, int64_t at);
int meta_sqlite_node_restore(struct kura_meta *m, uint64_t id, const char *new_path);
int meta_sqlite_trash_list(struct kura_meta *m, uint64_t space, kura_node_fn fn, void *ctx);
int meta_sqlite_trash_expired(struct kura_meta *m, int64_t before, kura_node_fn fn, void *ctx);
int meta_sqlite_node_subtree(struct kura_meta *m, uint64_t id, kura_node_fn fn, void *ctx);
int meta_sqlite_node_remove(struct kura_meta *m, uint64_t id);
int meta_sqlite_version_add(struct kura_meta *m, const struct kura_version *v, uint64_t *ret_id);
int meta_sqlite_version_get(struct kura_meta *m, uint64_t id, struct kura_version *ret);
int meta_sqlite_version_list(struct kura_meta *m, uint64_t node, kura_version_fn fn, void *ctx);
int meta_sqlite_version_remove(struct kura_meta *m, uint64_t id);
int meta_sqlite_version_set_header(struct kura_meta *m, uint64_t id, const uint8_t *header,
                                   size_t len, const char *key_id);
int meta_sqlite_versions_by_key(struct kura_meta *m, const char *key_id, uint64_t after,
                                uint32_t limit, kura_version_fn fn, void *ctx);
int meta_sqlite_versions_all(struct kura_meta *m, uint64_t after, uint32_t limit,
                             kura_version_fn fn, void *ctx);
int meta_sqlite_version_flag_corrupt(struct kura_meta *m, uint64_t id, int64_t at);
int meta_sqlite_blob_referenced(struct kura_meta *m, const char *blob, bool *ret);
int meta_sqlite_prop_set(struct kura_meta *m, uint64_t node, const char *ns, const char *name,
                         const char *value);
int meta_sqlite_prop_remove(struct kura_meta *m, uint64_t node, const char *ns, const char *name);
int meta_sqlite_prop_get(struct kura_meta *m, uint64_t node, const char *ns, const char *name,
                         char **ret_value);
int meta_sqlite_prop_list(struct kura_meta *m, uint64_t node, kura_prop_fn fn, void *ctx);
int meta_sqlite_prop_copy(struct kura_meta *m, uint64_t from, uint64_t to);
int meta_sqlite_lock_create(struct kura_meta *m, const struct kura_lock *l);
int meta_sqlite_lock_get(struct kura_meta *m, const char *token, int64_t now,
                         struct kura_lock *ret);
int meta_sqlite_lock_covering(struct kura_meta *m, uint64_t space, const char *path,
                              bool descendants, int64_t now, kura_lock_fn fn, void *ctx);
int meta_sqlite_lock_refresh(struct kura_meta *m, const char *token, int64_t expires_at);
int meta_sqlite_lock_remove(struct kura_meta *m, const char *token);
int meta_sqlite_lock_prune(struct kura_meta *m, int64_t now, uint64_t *ret_pruned);
int meta_sqlite_checkpoint(struct kura_meta *m);
int meta_sqlite_checkpoint_try(struct kura_meta *m);
