/* sqlite-identity.c — identity in SQLite (meta.h, "identity"): account updates and listing,
 * authentication state, recovery codes, password history, sessions, app passwords, the ledger.
 *
 * Statements are prepared per call through the shared helpers of sqlite-stmt.c: parameters bound
 * from a format string, result columns read through another, so each statement's SQL and its
 * arguments can be checked against each other on one screen.
 *
 * Concurrency: every function holds the handle's lock, which serialises this process. What must
 * also hold against another process on the same file (counting attempts, taking a lock once,
 * refusing a replayed TOTP step, using a recovery code once) is each a single conditional
 * statement, which SQLite runs atomically. Accounts are never deleted, so an existence check
 * followed by a write cannot race with the account going away.
 */
#include "meta/sqlite-internal.h"

#include <string.h>

static const char *const kind_names[] = {
    [KURA_SESSION_FULL] = "full",
    [KURA_SESSION_ENROL] = "enrol",
};

/* ---- statements: the shared helpers of sqlite-stmt.c (sqlite-internal.h) -------------------- */

static int account_exists(struct sqlite_meta *h, const char *id)
{
    int r = meta_sqlite_one(h, "SELECT 1 FROM accounts WHERE id = ?1", "t", "", id);
    return r < 0 ? r : r == 1 ? 0 : KURA_ENOTFOUND;
}

/* Replaces each borrowed string by an owned copy (NULL stays NULL); on failure, frees what it
 * copied and leaves the rest borrowed. */
static int own_strings(const char **strs[], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!*strs[i]) {
            continue;
        }
        char *copy = kura_strdup(*strs[i]);
        if (!copy) {
            while (i-- > 0) {
                kura_free((void *)*strs[i]);
                *strs[i] = NULL;
            }
            return -ENOMEM;
        }
        *strs[i] = copy;
    }
    return 0;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* ---- accounts ----------------------------------------------------------------------------- */

int meta_sqlite_account_update(struct kura_meta *m, const struct kura_account *a)
{
    META_SQLITE_LOCKED(m, h);
    int64_t updated = a->updated_at != 0 ? a->updated_at : kura_clock_wall_ms();
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    r = meta_sqlite_exec_found(
        h,
        "UPDATE accounts SET display_name = ?2, email = ?3, affiliation = ?4, "
        "phone = ?5, status = ?6, valid_from = ?7, valid_until = ?8, "
        "password_hash = ?9, password_changed_at = ?10, must_change_password = ?11, "
        "updated_at = ?12 WHERE id = ?1",
        "ttttttTTtTii", a->id, or_empty(a->display_name), or_empty(a->email),
        or_empty(a->affiliation), or_empty(a->phone), kura_account_status_name(a->status),
        a->valid_from, a->valid_until, a->password_hash, a->password_changed_at,
        (int64_t)a->must_change_password, updated);
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL, "DELETE FROM account_roles WHERE account_id = ?1", "t",
                             a->id);
    }
    for (unsigned bit = 1; r == 0 && bit <= KURA_ROLE_ALL; bit <<= 1) {
        if (a->roles & bit) {
            r = meta_sqlite_exec(h, NULL,
                                 "INSERT INTO account_roles (account_id, role) VALUES (?1, ?2)",
                                 "tt", a->id, kura_role_name(bit));
        }
    }
    return meta_sqlite_txn_end(m, r);
}

/* Parses group_concat's comma-separated role names into a bitmask. */
static int parse_roles(const char *list, unsigned *ret)
{
    struct kura_str rest = kura_str_c(or_empty(list)), name;
    unsigned roles = 0;
    while (rest.len > 0) {
        (void)kura_str_split(&rest, ',', &name);
        enum kura_role role;
        if (kura_role_parse(name.ptr, name.len, &role) < 0) {
            return KURA_ECORRUPT;
        }
        roles |= role;
    }
    *ret = roles;
    return 0;
}

static int account_row(struct sqlite_meta *h, sqlite3_stmt *s, struct kura_account *a)
{
    const char *status = NULL, *roles = NULL;
    int r = meta_sqlite_row(h, s, "ttttttTTnTfiin", &a->id, &a->display_name, &a->email,
                            &a->affiliation, &a->phone, &status, &a->valid_from, &a->valid_until,
                            &a->password_hash, &a->password_changed_at, &a->must_change_password,
                            &a->created_at, &a->updated_at, &roles);
    if (r <= 0) {
        return r;
    }
    if (kura_account_status_parse(status, strlen(status), &a->status) < 0 ||
        parse_roles(roles, &a->roles) < 0) {
        return KURA_ECORRUPT;
    }
    return 1;
}

int meta_sqlite_account_list(struct kura_meta *m, kura_account_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    /* One statement: every account with its roles from one snapshot. */
    int r = meta_sqlite_prepare(
        h, &s,
        "SELECT id, display_name, email, affiliation, phone, status, valid_from, "
        "valid_until, password_hash, password_changed_at, must_change_password, "
        "created_at, updated_at, (SELECT group_concat(role) FROM account_roles r "
        "WHERE r.account_id = a.id) FROM accounts a ORDER BY id",
        "");
    struct kura_account a = {0};
    while (r == 0 && (r = account_row(h, s, &a)) == 1) {
        r = fn(ctx, &a);
    }
    return r;
}

/* ---- authentication state ----------------------------------------------------------------- */

int meta_sqlite_auth_get(struct kura_meta *m, const char *id, struct kura_account_auth *ret)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    /* From accounts: an account without an account_auth row reads as zeros, not as absent. */
    int r = meta_sqlite_prepare(
        h, &s,
        "SELECT x.failed_logins, x.last_failed_at, x.locked_at, x.locked_until, "
        "x.last_login_at, x.totp_last_step, x.totp_enrolled_at, (SELECT count(*) "
        "FROM recovery_codes r WHERE r.account_id = a.id AND r.used_at IS NULL), "
        "x.last_login_ip, x.totp_secret FROM accounts a "
        "LEFT JOIN account_auth x ON x.account_id = a.id WHERE a.id = ?1",
        "t", id);
    struct kura_account_auth au = {0};
    int64_t failed = 0, step = 0, left = 0;
    const char *ip = NULL;
    if (r == 0) {
        r = meta_sqlite_row(h, s, "TTTTTTTin", &failed, &au.last_failed_at, &au.locked_at,
                            &au.locked_until, &au.last_login_at, &step, &au.totp_enrolled_at, &left,
                            &ip);
    }
    if (r <= 0) {
        return r < 0 ? r : KURA_ENOTFOUND;
    }
    int type = sqlite3_column_type(s, 9);
    const void *secret = sqlite3_column_blob(s, 9);
    size_t len = (size_t)sqlite3_column_bytes(s, 9);
    if (failed < 0 || failed > UINT32_MAX || step < 0 || left < 0 || left > UINT32_MAX ||
        (ip && strlen(ip) > KURA_META_IP_MAX) || (type != SQLITE_NULL && type != SQLITE_BLOB) ||
        len > KURA_META_SECRET_MAX) {
        return KURA_ECORRUPT;
    }
    if (len > 0 && !secret) {
        return -ENOMEM;
    }
    au.failed_logins = (uint32_t)failed;
    au.totp_last_step = (uint64_t)step;
    au.recovery_left = (uint32_t)left;
    memcpy(au.last_login_ip, or_empty(ip), strlen(or_empty(ip)) + 1);
    if (len > 0) {
        memcpy(au.totp_secret, secret, len);
    }
    au.totp_secret_len = len;
    *ret = au;
    kura_wipe(&au, sizeof(au));
    return 0;
}

int meta_sqlite_auth_attempt(struct kura_meta *m, const char *id, uint32_t threshold, int64_t now,
                             uint32_t *ret_failed)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, id);
    if (r < 0) {
        return r;
    }
    /* One statement, so the count is checked and raised atomically even against another
     * process: no number of parallel attempts gets more than `threshold` through. A lock whose
     * time is up is lifted in the same step, restarting the count at this attempt. */
    int64_t failed = 0;
    r = meta_sqlite_one(
        h,
        "INSERT INTO account_auth (account_id, failed_logins) VALUES (?1, 1) "
        "ON CONFLICT (account_id) DO UPDATE SET "
        "failed_logins = iif(locked_until <= ?3, 1, failed_logins + 1), "
        "locked_at = iif(locked_until <= ?3, NULL, locked_at), "
        "locked_until = iif(locked_until <= ?3, NULL, locked_until) "
        "WHERE locked_until <= ?3 OR (locked_at IS NULL AND (?2 = 0 OR failed_logins < ?2)) "
        "RETURNING failed_logins",
        "tii", "i", id, (int64_t)threshold, now, &failed);
    if (r < 0) {
        return r;
    }
    if (r == 0) {
        return KURA_EFORBIDDEN;
    }
    if (failed < 0 || failed > UINT32_MAX) {
        return KURA_ECORRUPT;
    }
    *ret_failed = (uint32_t)failed;
    return 0;
}

int meta_sqlite_auth_failed(struct kura_meta *m, const char *id, uint32_t threshold, int64_t now,
                            int64_t lock_ms, bool *ret_locked_now)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    r = account_exists(h, id);
    if (r == 0) {
        r = meta_sqlite_exec(
            h, NULL,
            "INSERT INTO account_auth (account_id, last_failed_at) VALUES (?1, ?2) "
            "ON CONFLICT (account_id) DO UPDATE SET last_failed_at = excluded.last_failed_at",
            "ti", id, now);
    }
    /* "locked_at IS NULL": of any number of callers, only the first takes the lock. */
    int64_t locked = 0;
    if (r == 0) {
        r = meta_sqlite_exec(
            h, &locked,
            "UPDATE account_auth SET locked_at = ?2, locked_until = ?3 WHERE account_id = ?1 "
            "AND locked_at IS NULL AND ?4 > 0 AND failed_logins >= ?4",
            "tiTi", id, now, lock_ms ? now + lock_ms : 0, (int64_t)threshold);
    }
    r = meta_sqlite_txn_end(m, r);
    if (r == 0) {
        *ret_locked_now = locked > 0;
    }
    return r;
}

int meta_sqlite_auth_succeeded(struct kura_meta *m, const char *id, int64_t now, const char *ip)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, id);
    if (r < 0) {
        return r;
    }
    return meta_sqlite_exec(
        h, NULL,
        "INSERT INTO account_auth (account_id, last_login_at, last_login_ip) "
        "VALUES (?1, ?2, ?3) ON CONFLICT (account_id) DO UPDATE SET failed_logins = 0, "
        "last_login_at = excluded.last_login_at, last_login_ip = excluded.last_login_ip",
        "tTt", id, now, ip);
}

int meta_sqlite_auth_unlock(struct kura_meta *m, const char *id)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, id);
    if (r < 0) {
        return r;
    }
    /* No row: nothing counted, nothing locked. */
    return meta_sqlite_exec(
        h, NULL,
        "UPDATE account_auth SET failed_logins = 0, locked_at = NULL, locked_until = NULL "
        "WHERE account_id = ?1",
        "t", id);
}

int meta_sqlite_auth_set_totp(struct kura_meta *m, const char *id, const uint8_t *sealed,
                              size_t len, int64_t now)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    r = account_exists(h, id);
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL,
                             "INSERT INTO account_auth (account_id, totp_secret, totp_enrolled_at) "
                             "VALUES (?1, ?2, ?3) ON CONFLICT (account_id) DO UPDATE SET "
                             "totp_secret = excluded.totp_secret, "
                             "totp_enrolled_at = excluded.totp_enrolled_at, totp_last_step = NULL",
                             "tbT", id, sealed, len, len ? now : (int64_t)0);
    }
    if (r == 0 && len == 0) {
        /* Recovery codes stand in for the second factor; without one they mean nothing. */
        r = meta_sqlite_exec(h, NULL, "DELETE FROM recovery_codes WHERE account_id = ?1", "t", id);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_auth_use_totp_step(struct kura_meta *m, const char *id, uint64_t step)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, id);
    if (r < 0) {
        return r;
    }
    /* Conditional on the stored step, in one statement: a code is accepted once, and never one
     * older than the newest accepted (RFC 6238 §5.2). NULL: none accepted since enrolment. */
    r = meta_sqlite_one(
        h,
        "INSERT INTO account_auth (account_id, totp_last_step) VALUES (?1, ?2) "
        "ON CONFLICT (account_id) DO UPDATE SET totp_last_step = excluded.totp_last_step "
        "WHERE totp_last_step IS NULL OR totp_last_step < excluded.totp_last_step "
        "RETURNING 1",
        "ti", "", id, (int64_t)step);
    return r < 0 ? r : r == 1 ? 0 : KURA_EFORBIDDEN;
}

/* ---- recovery codes and password history -------------------------------------------------- */

int meta_sqlite_recovery_set(struct kura_meta *m, const char *id,
                             const uint8_t (*macs)[KURA_META_MAC_BYTES], size_t n)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    r = account_exists(h, id);
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL, "DELETE FROM recovery_codes WHERE account_id = ?1", "t", id);
    }
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = meta_sqlite_exec(h, NULL,
                             "INSERT INTO recovery_codes (account_id, mac) VALUES (?1, ?2)", "th",
                             id, macs[i]);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_recovery_use(struct kura_meta *m, const char *id, const uint8_t *mac, int64_t now)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, id);
    if (r < 0) {
        return r;
    }
    /* "used_at IS NULL" makes the use single: a second caller changes no row. */
    return meta_sqlite_exec_found(h,
                                  "UPDATE recovery_codes SET used_at = ?3 "
                                  "WHERE account_id = ?1 AND mac = ?2 AND used_at IS NULL",
                                  "thi", id, mac, now);
}

int meta_sqlite_password_history_add(struct kura_meta *m, const char *id, const char *hash,
                                     int64_t at, uint32_t keep)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    r = account_exists(h, id);
    if (r == 0) {
        r = meta_sqlite_exec(
            h, NULL, "INSERT INTO password_history (account_id, at, hash) VALUES (?1, ?2, ?3)",
            "tit", id, at, hash);
    }
    if (r == 0) {
        /* secure_delete zeroes the trimmed hashes in the file. */
        r = meta_sqlite_exec(h, NULL,
                             "DELETE FROM password_history WHERE account_id = ?1 AND rowid NOT IN "
                             "(SELECT rowid FROM password_history WHERE account_id = ?1 "
                             "ORDER BY at DESC, rowid DESC LIMIT ?2)",
                             "ti", id, (int64_t)keep);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_password_history_list(struct kura_meta *m, const char *id,
                                      int (*fn)(void *ctx, const char *hash), void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = account_exists(h, id);
    if (r == 0) {
        r = meta_sqlite_prepare(h, &s,
                                "SELECT hash FROM password_history WHERE account_id = ?1 "
                                "ORDER BY at DESC, rowid DESC",
                                "t", id);
    }
    const char *hash = NULL;
    while (r == 0 && (r = meta_sqlite_row(h, s, "t", &hash)) == 1) {
        r = fn(ctx, hash);
    }
    return r;
}

/* ---- sessions ----------------------------------------------------------------------------- */

#define SESSION_COLS                                                                               \
    "SELECT id_hash, account_id, kind, created_at, last_seen_at, expires_at, elevated_until, "     \
    "csrf, source_ip, user_agent, break_glass FROM sessions "

/* Reads a session row; its strings are borrowed from the statement. */
static int session_row(struct sqlite_meta *h, sqlite3_stmt *s, struct kura_session *ret)
{
    const char *kind = NULL;
    int r = meta_sqlite_row(h, s, "httiiiThnnf", ret->id_hash, &ret->account_id, &kind,
                            &ret->created_at, &ret->last_seen_at, &ret->expires_at,
                            &ret->elevated_until, ret->csrf, &ret->source_ip, &ret->user_agent,
                            &ret->break_glass);
    if (r <= 0) {
        return r;
    }
    for (size_t i = 0; i < KURA_ARRAY_SIZE(kind_names); i++) {
        if (strcmp(kind, kind_names[i]) == 0) {
            ret->kind = (enum kura_session_kind)i;
            return 1;
        }
    }
    return KURA_ECORRUPT;
}

int meta_sqlite_session_create(struct kura_meta *m, const struct kura_session *s)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, s->account_id);
    if (r < 0) {
        return r;
    }
    return meta_sqlite_exec(
        h, NULL,
        "INSERT INTO sessions (id_hash, account_id, kind, created_at, last_seen_at, "
        "expires_at, elevated_until, csrf, source_ip, user_agent, break_glass) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        "httiiiThtti", s->id_hash, s->account_id, kind_names[s->kind], s->created_at,
        s->last_seen_at, s->expires_at, s->elevated_until, s->csrf, s->source_ip, s->user_agent,
        (int64_t)s->break_glass);
}

int meta_sqlite_session_get(struct kura_meta *m, const uint8_t *id_hash, struct kura_session *ret)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(h, &s, SESSION_COLS "WHERE id_hash = ?1", "h", id_hash);
    struct kura_session out = {0};
    if (r == 0) {
        r = session_row(h, s, &out);
    }
    if (r <= 0) {
        return r < 0 ? r : KURA_ENOTFOUND;
    }
    r = own_strings((const char **[]){&out.account_id, &out.source_ip, &out.user_agent}, 3);
    if (r == 0) {
        *ret = out;
    }
    return r;
}

int meta_sqlite_session_touch(struct kura_meta *m, const uint8_t *id_hash, int64_t now)
{
    META_SQLITE_LOCKED(m, h);
    /* max(): requests of one session finishing out of order never move it back. */
    return meta_sqlite_exec_found(
        h, "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id_hash = ?1", "hi",
        id_hash, now);
}

int meta_sqlite_session_elevate(struct kura_meta *m, const uint8_t *id_hash, int64_t until)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(h, "UPDATE sessions SET elevated_until = ?2 WHERE id_hash = ?1",
                                  "hT", id_hash, until);
}

int meta_sqlite_session_delete(struct kura_meta *m, const uint8_t *id_hash)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(h, "DELETE FROM sessions WHERE id_hash = ?1", "h", id_hash);
}

int meta_sqlite_session_delete_account(struct kura_meta *m, const char *id, const uint8_t *except,
                                       uint64_t *ret_deleted)
{
    META_SQLITE_LOCKED(m, h);
    int64_t n = 0;
    int r = account_exists(h, id);
    if (r == 0) {
        r = meta_sqlite_exec(h, &n,
                             "DELETE FROM sessions WHERE account_id = ?1 AND id_hash IS NOT ?2",
                             "th", id, except);
    }
    if (r == 0) {
        *ret_deleted = (uint64_t)n;
    }
    return r;
}

int meta_sqlite_session_list(struct kura_meta *m, const char *id, kura_session_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = account_exists(h, id);
    if (r == 0) {
        r = meta_sqlite_prepare(
            h, &s, SESSION_COLS "WHERE account_id = ?1 ORDER BY created_at, id_hash", "t", id);
    }
    struct kura_session out = {0};
    while (r == 0 && (r = session_row(h, s, &out)) == 1) {
        r = fn(ctx, &out);
    }
    return r;
}

int meta_sqlite_session_prune(struct kura_meta *m, int64_t idle_before, int64_t now,
                              uint64_t *ret_deleted)
{
    META_SQLITE_LOCKED(m, h);
    int64_t n = 0;
    int r =
        meta_sqlite_exec(h, &n, "DELETE FROM sessions WHERE last_seen_at < ?1 OR expires_at <= ?2",
                         "ii", idle_before, now);
    if (r == 0) {
        *ret_deleted = (uint64_t)n;
    }
    return r;
}

/* ---- app passwords ------------------------------------------------------------------------ */

#define APP_PASSWORD_COLS                                                                          \
    "SELECT id, account_id, name, mac, read_write, created_at, expires_at, last_used_at, "         \
    "last_used_ip, revoked_at FROM app_passwords "

static int app_password_row(struct sqlite_meta *h, sqlite3_stmt *s, struct kura_app_password *p)
{
    int64_t id = 0;
    int r = meta_sqlite_row(h, s, "itthfiTTnT", &id, &p->account_id, &p->name, p->mac,
                            &p->read_write, &p->created_at, &p->expires_at, &p->last_used_at,
                            &p->last_used_ip, &p->revoked_at);
    p->id = (uint64_t)id;
    return r;
}

int meta_sqlite_app_password_create(struct kura_meta *m, const struct kura_app_password *p,
                                    uint64_t *ret_id)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, p->account_id);
    if (r == 0) {
        /* A duplicate name in force hits the partial unique index: KURA_EEXIST. */
        r = meta_sqlite_exec(
            h, NULL,
            "INSERT INTO app_passwords (account_id, name, mac, read_write, created_at, "
            "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            "tthiiT", p->account_id, p->name, p->mac, (int64_t)p->read_write, p->created_at,
            p->expires_at);
    }
    if (r == 0) {
        *ret_id = (uint64_t)sqlite3_last_insert_rowid(meta_sqlite_db(h));
    }
    return r;
}

int meta_sqlite_app_password_find(struct kura_meta *m, const uint8_t *mac,
                                  struct kura_app_password *ret)
{
    META_SQLITE_READ(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(h, &s, APP_PASSWORD_COLS "WHERE mac = ?1", "h", mac);
    struct kura_app_password out = {0};
    if (r == 0) {
        r = app_password_row(h, s, &out);
    }
    if (r <= 0) {
        return r < 0 ? r : KURA_ENOTFOUND;
    }
    r = own_strings((const char **[]){&out.account_id, &out.name, &out.last_used_ip}, 3);
    if (r == 0) {
        *ret = out;
    }
    return r;
}

int meta_sqlite_app_password_touch(struct kura_meta *m, uint64_t id, int64_t now, const char *ip)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(
        h, "UPDATE app_passwords SET last_used_at = ?2, last_used_ip = ?3 WHERE id = ?1", "iTt",
        (int64_t)id, now, ip);
}

int meta_sqlite_app_password_list(struct kura_meta *m, const char *id, kura_app_password_fn fn,
                                  void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = account_exists(h, id);
    if (r == 0) {
        r = meta_sqlite_prepare(h, &s, APP_PASSWORD_COLS "WHERE account_id = ?1 ORDER BY id", "t",
                                id);
    }
    struct kura_app_password out = {0};
    while (r == 0 && (r = app_password_row(h, s, &out)) == 1) {
        r = fn(ctx, &out);
    }
    return r;
}

int meta_sqlite_app_password_revoke(struct kura_meta *m, const char *id, uint64_t pw_id,
                                    int64_t now)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, id);
    if (r < 0) {
        return r;
    }
    return meta_sqlite_exec_found(h,
                                  "UPDATE app_passwords SET revoked_at = ?3 "
                                  "WHERE id = ?2 AND account_id = ?1 AND revoked_at IS NULL",
                                  "tii", id, (int64_t)pw_id, now);
}

/* ---- the account ledger ------------------------------------------------------------------- */

int meta_sqlite_ledger_append(struct kura_meta *m, const struct kura_ledger_entry *e,
                              uint64_t *ret_seq)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_exec(
        h, NULL,
        "INSERT INTO account_ledger (at, actor, target, action, before, after, reason, "
        "request_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        "ittttttt", e->at, e->actor, e->target, e->action, e->before, e->after, or_empty(e->reason),
        e->request_id);
    if (r == 0) {
        *ret_seq = (uint64_t)sqlite3_last_insert_rowid(meta_sqlite_db(h));
    }
    return r;
}

int meta_sqlite_ledger_list(struct kura_meta *m, const char *target, kura_ledger_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    /* Two texts rather than "?1 IS NULL OR target = ?1", which would keep the planner from
     * account_ledger_target. */
    int r =
        target
            ? meta_sqlite_prepare(h, &s,
                                  "SELECT seq, at, actor, target, action, before, after, reason, "
                                  "request_id FROM account_ledger WHERE target = ?1 ORDER BY seq",
                                  "t", target)
            : meta_sqlite_prepare(h, &s,
                                  "SELECT seq, at, actor, target, action, before, after, reason, "
                                  "request_id FROM account_ledger ORDER BY seq",
                                  "");
    struct kura_ledger_entry e = {0};
    int64_t seq = 0;
    while (r == 0 &&
           (r = meta_sqlite_row(h, s, "iittttttn", &seq, &e.at, &e.actor, &e.target, &e.action,
                                &e.before, &e.after, &e.reason, &e.request_id)) == 1) {
        e.seq = (uint64_t)seq;
        r = fn(ctx, &e);
    }
    return r;
}

/* ---- break-glass accounts ---------------------------------------------------------------------
 */

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

int meta_sqlite_break_glass_get(struct kura_meta *m, const char *id, struct kura_break_glass *ret)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r =
        meta_sqlite_prepare(h, &s,
                            "SELECT requested_by, coalesce(requested_at, 0), coalesce(minutes, 0), "
                            "coalesce(enabled_until, 0), enabled_by, sealed_mac IS NOT NULL, "
                            "coalesce(sealed_mac, zeroblob(32)), coalesce(sealed_minutes, 0), "
                            "coalesce(sealed_at, 0) FROM break_glass "
                            "WHERE account_id = ?1",
                            "t", id);
    const char *by = NULL, *enabled_by = NULL;
    int64_t at = 0, minutes = 0, until = 0, sealed_minutes = 0, sealed_at = 0;
    bool sealed = false;
    uint8_t mac[KURA_META_MAC_BYTES];
    r = r == 0 ? meta_sqlite_row(h, s, "niiinfhii", &by, &at, &minutes, &until, &enabled_by,
                                 &sealed, mac, &sealed_minutes, &sealed_at)
               : r;
    if (r == 0) {
        return KURA_ENOTFOUND;
    }
    if (r < 0) {
        return r;
    }
    memset(ret, 0, sizeof(*ret));
    copy_text(ret->requested_by, sizeof(ret->requested_by), by);
    copy_text(ret->enabled_by, sizeof(ret->enabled_by), enabled_by);
    ret->requested_at = at;
    ret->minutes = minutes < 0 || minutes > 1440 ? 0 : (uint32_t)minutes;
    ret->enabled_until = until;
    if (sealed && sealed_minutes > 0 && sealed_minutes <= 1440) {
        ret->sealed = true;
        memcpy(ret->sealed_mac, mac, KURA_META_MAC_BYTES);
        ret->sealed_minutes = (uint32_t)sealed_minutes;
        ret->sealed_at = sealed_at;
    }
    return 0;
}

int meta_sqlite_break_glass_put(struct kura_meta *m, const char *id,
                                const struct kura_break_glass *b)
{
    META_SQLITE_LOCKED(m, h);
    int r = account_exists(h, id);
    if (r < 0) {
        return r;
    }
    /* 'T' binds 0 as NULL; text "" is stored as NULL too. */
    return meta_sqlite_exec(
        h, NULL,
        "INSERT INTO break_glass (account_id, requested_by, requested_at, minutes, "
        "enabled_until, enabled_by, sealed_mac, sealed_minutes, sealed_at) VALUES (?1, "
        "nullif(?2, ''), ?3, nullif(?4, 0), ?5, nullif(?6, ''), ?7, nullif(?8, 0), ?9) "
        "ON CONFLICT (account_id) DO UPDATE SET requested_by = excluded.requested_by, "
        "requested_at = excluded.requested_at, minutes = excluded.minutes, "
        "enabled_until = excluded.enabled_until, enabled_by = excluded.enabled_by, "
        "sealed_mac = excluded.sealed_mac, sealed_minutes = excluded.sealed_minutes, "
        "sealed_at = excluded.sealed_at",
        "ttTiTthiT", id, b->requested_by, b->requested_at, (int64_t)b->minutes, b->enabled_until,
        b->enabled_by, b->sealed ? b->sealed_mac : NULL,
        (int64_t)(b->sealed ? b->sealed_minutes : 0), b->sealed ? b->sealed_at : 0);
}

/* ---- lockout per account and source ------------------------------------------------------------
 */

/* Keeps at most KURA_META_SOURCES_MAX sources of an account: unlocked ones seen longest ago go
 * first, so that a spray from many addresses cannot lift a lock by pushing it out. */
static int trim_sources(struct sqlite_meta *h, const char *id)
{
    return meta_sqlite_exec(
        h, NULL,
        "DELETE FROM auth_source WHERE account_id = ?1 AND source NOT IN (SELECT source "
        "FROM auth_source WHERE account_id = ?1 ORDER BY locked_at IS NOT NULL DESC, "
        "last_at DESC LIMIT ?2)",
        "ti", id, (int64_t)KURA_META_SOURCES_MAX);
}

int meta_sqlite_source_attempt(struct kura_meta *m, const char *id, const char *source,
                               uint32_t threshold, int64_t now, uint32_t *ret_failed)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    r = account_exists(h, id);
    int64_t failed = 0;
    /* As meta_sqlite_auth_attempt: one statement checks and raises the count. */
    r = r == 0 ? meta_sqlite_one(
                     h,
                     "INSERT INTO auth_source (account_id, source, failed_logins, last_at) "
                     "VALUES (?1, ?2, 1, ?4) ON CONFLICT (account_id, source) DO UPDATE SET "
                     "failed_logins = iif(locked_until <= ?4, 1, failed_logins + 1), "
                     "locked_at = iif(locked_until <= ?4, NULL, locked_at), "
                     "locked_until = iif(locked_until <= ?4, NULL, locked_until), last_at = ?4 "
                     "WHERE locked_until <= ?4 OR (locked_at IS NULL AND (?3 = 0 OR "
                     "failed_logins < ?3)) RETURNING failed_logins",
                     "ttii", "i", id, source, (int64_t)threshold, now, &failed)
               : r;
    int got = r;
    r = r == 1 ? trim_sources(h, id) : r;
    r = meta_sqlite_txn_end(m, r < 0 ? r : 0);
    if (r < 0) {
        return r;
    }
    if (got == 0) {
        return KURA_EFORBIDDEN;
    }
    *ret_failed = failed < 0 || failed > UINT32_MAX ? UINT32_MAX : (uint32_t)failed;
    return 0;
}

int meta_sqlite_source_failed(struct kura_meta *m, const char *id, const char *source,
                              uint32_t threshold, int64_t now, int64_t lock_ms,
                              bool *ret_locked_now)
{
    META_SQLITE_LOCKED(m, h);
    int64_t locked = 0;
    int r = meta_sqlite_exec(
        h, &locked,
        "UPDATE auth_source SET locked_at = ?3, locked_until = ?4 WHERE account_id = ?1 "
        "AND source = ?2 AND locked_at IS NULL AND ?5 > 0 AND failed_logins >= ?5",
        "ttiTi", id, source, now, lock_ms ? now + lock_ms : 0, (int64_t)threshold);
    if (r == 0) {
        *ret_locked_now = locked > 0;
    }
    return r;
}

int meta_sqlite_source_clear(struct kura_meta *m, const char *id, const char *source)
{
    META_SQLITE_LOCKED(m, h);
    return source
               ? meta_sqlite_exec(h, NULL,
                                  "DELETE FROM auth_source WHERE account_id = ?1 AND source = ?2",
                                  "tt", id, source)
               : meta_sqlite_exec(h, NULL, "DELETE FROM auth_source WHERE account_id = ?1", "t",
                                  id);
}
