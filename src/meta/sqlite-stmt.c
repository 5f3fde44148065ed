/* sqlite-stmt.c — small statement helpers for the SQLite backend's files (sqlite-internal.h):
 * parameters bound from a format string, result columns read through another, so that each
 * statement's SQL and its arguments can be checked against each other on one screen. The
 * identity and store files use them.
 *
 * Statements are kept: parsing and planning a statement costs more than running the small
 * lookups of a request (a 4 KiB WebDAV GET runs about six), so each handle keeps a cache of
 * CACHE_SLOTS prepared statements, keyed by the address of the SQL text and checked against the
 * text itself (SQL built at run time may reuse an address). The backend has about a hundred
 * statements; one that finds no free slot near its hash is simply not kept. A statement is lent to
 * one caller at a time; a second use of the same SQL while it is lent (a callback running the same
 * query) gets a statement of its own, finalized after use. Which statements are lent is recorded
 * per thread (the caller holds the handle's lock from prepare to finalizep, and cleanup order keeps
 * finalizep inside it), so finalizep needs no handle to know where a statement goes back.
 */
#include "meta/sqlite-internal.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

#define CACHE_SLOTS 256
#define PROBES 8
#define LENT_MAX 16 /* statements lent at once by one thread (nesting depth); more: not kept */

struct cache_entry {
    const char *sql; /* the caller's pointer: compared, never read */
    sqlite3_stmt *s;
    bool lent;
};

struct meta_stmt_cache {
    struct cache_entry e[CACHE_SLOTS];
};

static _Thread_local struct cache_entry *lent[LENT_MAX];
static _Thread_local size_t nlent;

struct meta_stmt_cache *meta_sqlite_cache_new(void)
{
    return kura_calloc(1, sizeof(struct meta_stmt_cache));
}

void meta_sqlite_cache_free(struct meta_stmt_cache *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        assert(!c->e[i].lent);
        (void)sqlite3_finalize(c->e[i].s);
    }
    kura_free(c);
}

/* The entry for sql: the one holding it, else an empty one, else one not lent, among PROBES
 * slots from its hash (so that a handful of statements whose texts happen to hash alike do not
 * evict each other on every request, as they did with one slot each); NULL: none free. */
static struct cache_entry *find(struct meta_stmt_cache *c, const char *sql)
{
    size_t h = (size_t)(((uint64_t)(uintptr_t)sql * UINT64_C(0x9E3779B97F4A7C15)) >> 56);
    struct cache_entry *empty = NULL, *idle = NULL;
    for (size_t i = 0; i < PROBES; i++) {
        struct cache_entry *e = &c->e[(h + i) % CACHE_SLOTS];
        if (e->sql == sql) {
            return e;
        }
        if (!e->s && !empty) {
            empty = e;
        } else if (e->s && !e->lent && !idle) {
            idle = e;
        }
    }
    return empty ? empty : idle;
}

/* A kept statement for sql (lent to the caller), or NULL: prepare one of your own. */
static sqlite3_stmt *borrow(struct sqlite_meta *h, const char *sql, int *ret_rc)
{
    struct meta_stmt_cache *c = meta_sqlite_cache(h);
    *ret_rc = SQLITE_OK;
    if (!c || nlent == LENT_MAX) {
        return NULL;
    }
    struct cache_entry *e = find(c, sql);
    if (!e || e->lent) {
        return NULL;
    }
    if (!e->s || e->sql != sql || strcmp(sqlite3_sql(e->s), sql) != 0) {
        sqlite3_stmt *s = NULL;
        int rc =
            sqlite3_prepare_v3(meta_sqlite_db(h), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            *ret_rc = rc;
            return NULL;
        }
        (void)sqlite3_finalize(e->s);
        *e = (struct cache_entry){.sql = sql, .s = s};
    }
    e->lent = true;
    lent[nlent++] = e;
    return e->s;
}

void meta_sqlite_finalizep(sqlite3_stmt **s)
{
    if (!*s) {
        return;
    }
    for (size_t i = nlent; i-- > 0;) {
        if (lent[i]->s == *s) {
            (void)sqlite3_reset(*s);          /* ends its read of the database */
            (void)sqlite3_clear_bindings(*s); /* bound values are the caller's (SQLITE_STATIC) */
            lent[i]->lent = false;
            lent[i] = lent[--nlent];
            *s = NULL;
            return;
        }
    }
    (void)sqlite3_finalize(*s);
    *s = NULL;
}

/* Binds ?1, ?2, ... from *ap, one argument per letter of fmt:
 *   t  const char *              text; NULL binds SQL NULL
 *   s  const char *, size_t      text of that many bytes
 *   i  int64_t                   integer (callers cast: these are varargs)
 *   T  int64_t                   0 binds SQL NULL (a time or id that is "not set")
 *   b  const uint8_t *, size_t   a blob; length 0 binds SQL NULL
 *   h  const uint8_t *           32 bytes (a SHA-256); NULL binds SQL NULL
 * Values are bound SQLITE_STATIC: they must outlive the statement. Returns an SQLite code. */
static int bind_args(sqlite3_stmt *s, const char *fmt, va_list *ap)
{
    int rc = SQLITE_OK;
    for (int col = 1; rc == SQLITE_OK && fmt[col - 1]; col++) {
        const void *p = NULL;
        int64_t v = 0;
        size_t len = 32;
        char letter = fmt[col - 1];
        switch (letter) {
        case 't':
            p = va_arg(*ap, const char *);
            rc = p ? sqlite3_bind_text(s, col, p, -1, SQLITE_STATIC) : sqlite3_bind_null(s, col);
            break;
        case 's':
            p = va_arg(*ap, const char *);
            len = va_arg(*ap, size_t);
            rc = sqlite3_bind_text64(s, col, p, len, SQLITE_STATIC, SQLITE_UTF8);
            break;
        case 'i':
        case 'T':
            v = va_arg(*ap, int64_t);
            rc =
                v == 0 && letter == 'T' ? sqlite3_bind_null(s, col) : sqlite3_bind_int64(s, col, v);
            break;
        case 'b':
        case 'h':
            p = va_arg(*ap, const uint8_t *);
            if (letter == 'b') {
                len = va_arg(*ap, size_t);
            }
            rc = p && len ? sqlite3_bind_blob64(s, col, p, len, SQLITE_STATIC)
                          : sqlite3_bind_null(s, col);
            break;
        default:
            assert(false && "unknown bind format letter");
            rc = SQLITE_MISUSE;
        }
    }
    return rc;
}

/* Copies a BLOB column of min..max bytes into out (NULL allowed when min is 0: length 0). */
int meta_sqlite_column_blob(sqlite3_stmt *s, int col, void *out, size_t min, size_t max,
                            size_t *ret_len)
{
    int type = sqlite3_column_type(s, col);
    if (type == SQLITE_NULL && min == 0) {
        *ret_len = 0;
        return 0;
    }
    const void *blob = sqlite3_column_blob(s, col);
    size_t len = (size_t)sqlite3_column_bytes(s, col);
    if (type != SQLITE_BLOB || len < min || len > max) {
        return KURA_ECORRUPT;
    }
    if (len > 0 && !blob) {
        return -ENOMEM;
    }
    if (len > 0) {
        memcpy(out, blob, len);
    }
    *ret_len = len;
    return 0;
}

/* Reads column col into out as read_cols() below describes for `letter`. */
static int read_col(struct sqlite_meta *h, sqlite3_stmt *s, int col, char letter, void *out)
{
    int type = sqlite3_column_type(s, col);
    if (type == SQLITE_NULL && letter == 'n') {
        *(const char **)out = NULL;
        return 0;
    }
    if (type == SQLITE_NULL && letter == 'T') {
        *(int64_t *)out = 0;
        return 0;
    }
    if (letter == 't' || letter == 'n') {
        const char *text = (const char *)sqlite3_column_text(s, col);
        if (type == SQLITE_TEXT && !text) {
            return sqlite3_errcode(meta_sqlite_db(h)) == SQLITE_NOMEM ? -ENOMEM : KURA_ECORRUPT;
        }
        if (type != SQLITE_TEXT || strlen(text) != (size_t)sqlite3_column_bytes(s, col)) {
            return KURA_ECORRUPT;
        }
        *(const char **)out = text;
        return 0;
    }
    if (letter == 'h' || letter == 'H') {
        size_t len = 0;
        int r = meta_sqlite_column_blob(s, col, out, letter == 'H' ? 0 : 32, 32, &len);
        if (r == 0 && len == 0) {
            memset(out, 0, 32);
        }
        return r == 0 && len != 0 && len != 32 ? KURA_ECORRUPT : r;
    }
    assert(letter == 'i' || letter == 'T' || letter == 'f');
    int64_t v = sqlite3_column_int64(s, col);
    if (type != SQLITE_INTEGER || (letter == 'f' && v != 0 && v != 1)) {
        return KURA_ECORRUPT;
    }
    if (letter == 'f') {
        *(bool *)out = v == 1;
    } else {
        *(int64_t *)out = v;
    }
    return 0;
}

/* Reads the current row's columns 0, 1, ... into pointers from *ap, one per letter of fmt:
 *   t  const char **  TEXT, borrowed until the next step     n  TEXT or NULL
 *   i  int64_t *      INTEGER                                T  INTEGER, or NULL read as 0
 *   f  bool *         INTEGER 0 or 1                         -  skipped (no pointer)
 *   h  uint8_t *      a 32-byte BLOB, copied                 H  the same, or NULL read as zeros
 * Any other type, or text with a NUL in it, was not written by us: KURA_ECORRUPT. */
static int read_cols(struct sqlite_meta *h, sqlite3_stmt *s, const char *fmt, va_list *ap)
{
    for (int col = 0; fmt[col]; col++) {
        if (fmt[col] == '-') {
            continue;
        }
        int r = read_col(h, s, col, fmt[col], va_arg(*ap, void *));
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

int meta_sqlite_vprepare(struct sqlite_meta *h, sqlite3_stmt **ret, const char *sql,
                         const char *fmt, va_list *ap)
{
    int rc = SQLITE_OK;
    sqlite3_stmt *s = borrow(h, sql, &rc);
    if (!s && rc == SQLITE_OK) {
        rc = sqlite3_prepare_v3(meta_sqlite_db(h), sql, -1, 0, &s, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = bind_args(s, fmt, ap);
    }
    if (rc != SQLITE_OK) {
        int r = meta_sqlite_err(h, rc);
        meta_sqlite_finalizep(&s);
        return r;
    }
    *ret = s;
    return 0;
}

/* Prepares sql with its parameters bound as bind_args() describes. */
int meta_sqlite_prepare(struct sqlite_meta *h, sqlite3_stmt **ret, const char *sql, const char *fmt,
                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = meta_sqlite_vprepare(h, ret, sql, fmt, &ap);
    va_end(ap);
    return r;
}

/* Steps a prepared statement and reads the row (read_cols()). 1: a row, 0: done, < 0: error. */
int meta_sqlite_row(struct sqlite_meta *h, sqlite3_stmt *s, const char *fmt, ...)
{
    int r = meta_sqlite_step(h, s);
    if (r <= 0) {
        return r;
    }
    va_list ap;
    va_start(ap, fmt);
    r = read_cols(h, s, fmt, &ap);
    va_end(ap);
    return r < 0 ? r : 1;
}

/* Runs a statement that yields at most one row: first its parameters (`in`), then pointers for
 * the row's columns (`out`, numbers only). 1: a row was read, 0: none, < 0: error. Runs to the
 * end, which a write with RETURNING needs to be complete. */
int meta_sqlite_one(struct sqlite_meta *h, const char *sql, const char *in, const char *out, ...)
{
    assert(!strpbrk(out, "tn"));
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    va_list ap;
    va_start(ap, out);
    int r = meta_sqlite_vprepare(h, &s, sql, in, &ap);
    int got = 0;
    if (r == 0) {
        r = meta_sqlite_step(h, s);
    }
    if (r > 0) {
        got = 1;
        r = read_cols(h, s, out, &ap);
    }
    va_end(ap);
    while (r == 0 && got == 1 && (r = meta_sqlite_step(h, s)) > 0) {
        r = 0;
    }
    return r < 0 ? r : got;
}

static int vexec(struct sqlite_meta *h, int64_t *ret_changes, const char *sql, const char *fmt,
                 va_list *ap)
{
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_vprepare(h, &s, sql, fmt, ap);
    if (r == 0) {
        r = meta_sqlite_step(h, s);
    }
    if (r > 0) {
        return KURA_EINTERNAL; /* a row from a statement meant to return none */
    }
    if (r == 0 && ret_changes) {
        *ret_changes = sqlite3_changes64(meta_sqlite_db(h));
    }
    return r;
}

/* Runs a statement without result rows; *ret_changes (may be NULL): the rows it changed. */
int meta_sqlite_exec(struct sqlite_meta *h, int64_t *ret_changes, const char *sql, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vexec(h, ret_changes, sql, fmt, &ap);
    va_end(ap);
    return r;
}

/* As exec, but KURA_ENOTFOUND when no row changed. */
int meta_sqlite_exec_found(struct sqlite_meta *h, const char *sql, const char *fmt, ...)
{
    int64_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    int r = vexec(h, &n, sql, fmt, &ap);
    va_end(ap);
    return r < 0 ? r : n > 0 ? 0 : KURA_ENOTFOUND;
}

/* Ends a transaction begun with meta_sqlite_txn: commits when r >= 0, else rolls back. */
int meta_sqlite_txn_end(struct kura_meta *m, int r)
{
    if (r < 0) {
        meta_sqlite_rollback(m);
        return r;
    }
    return meta_sqlite_txn(m, false);
}

/* Copies a stored string into a fixed field; one that does not fit was not written by us. */
int meta_sqlite_copy_field(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);
    if (len >= size) {
        return KURA_ECORRUPT;
    }
    memcpy(dst, src, len + 1);
    return 0;
}
