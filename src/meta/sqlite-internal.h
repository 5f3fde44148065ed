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
