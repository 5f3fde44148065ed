/* sqlite.c — the embedded metadata backend (SQLite >= 3.40, STRICT tables).
 *
 * One main connection per handle, serialised by a recursive mutex (see meta.h: a transaction
 * holds the mutex from begin to commit/rollback, so it belongs to one thread; nested calls by
 * that thread become savepoints). Every write and every transaction uses it. A server's handle
 * (KURA_META_READERS) also keeps READERS reader connections, each behind its own mutex, for the
 * hot reads made outside any transaction (lookups of a request, folder listings): WAL lets them
 * read beside the writer, so requests no longer queue behind each other's lookups on one mutex
 * (a Depth 1 PROPFIND: 5.7k -> 6.9k requests/s). A thread that holds the main lock reads on the
 * main connection, so a transaction sees its own writes. Connections are opened in SQLite's
 * multi-thread mode (NOMUTEX) because these mutexes already guarantee that one thread at a
 * time uses each, including sqlite3_errmsg.
 *
 * Connection settings, and why:
 *  - journal_mode=WAL: readers never block the writer; the CLI and the server can share the file.
 *  - synchronous=FULL: the WAL is synced on every commit. NORMAL would be faster but may lose the
 *    last commits on power loss; for access decisions, password changes and deletion records
 *    durability wins (bulk bytes live in the blob store, so metadata writes are small).
 *  - foreign_keys=ON, secure_delete=ON (zero deleted content: crypto-shredding of headers),
 *    cell_size_check=ON (catch corruption early), busy_timeout (another process holding the
 *    write lock briefly is not an error), DEFENSIVE and no trusted schema (the database file
 *    cannot make us run functions with side effects), no double-quoted string literals.
 *  - The file is created by us with mode 0600 before SQLite opens it; SQLite gives its -wal and
 *    -shm files the database file's mode. No URI names, no symlinks (SQLITE_OPEN_NOFOLLOW).
 *
 * Write transactions start with BEGIN IMMEDIATE, taking the write lock up front: a deferred
 * transaction that later upgrades can fail with SQLITE_BUSY without the busy handler's help.
 * Reads spanning several statements use BEGIN DEFERRED for a consistent snapshot.
 *
 * Statements are prepared once, on first use (tables do not exist before the first migration),
 * kept on the handle and reset after every use; those of the other files go through the cache
 * of sqlite-stmt.c, with the same effect.
 */
#include "meta/meta-internal.h"
#include "meta/sqlite-internal.h"

#include <assert.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READERS 3 /* with the main connection, one per work thread by default */

struct sqlite_meta {
    struct kura_meta base; /* first: a struct kura_meta * points here */
    sqlite3 *db;
    pthread_mutex_t lock; /* recursive; guards everything below and every use of db */
    unsigned depth;       /* open transaction levels (0: none) */
    bool readonly;
    sqlite3_stmt *stmts[ST__COUNT];
    struct meta_stmt_cache *cache; /* sqlite-stmt.c: statements of the other files, kept */
    /* KURA_META_READERS: connections for reads outside transactions (meta_sqlite_read_lock),
     * each with its own lock, statements and cache. Readers have none of their own. */
    struct sqlite_meta *readers[READERS];
    unsigned nreaders;
    bool reader;
    _Atomic bool pinned; /* a reader kept by a thread's snapshot (sq_snapshot) */
};

/* The main handle this thread holds the lock of (depth > 0), if any: reads made while holding
 * it stay on its connection (inside a transaction they must see its uncommitted writes). One
 * handle is tracked; a thread holding a second main handle's lock reads on that one, too. */
static _Thread_local struct sqlite_meta *held;
static _Thread_local unsigned held_depth;
static _Thread_local unsigned next_reader;
/* The reader this thread keeps inside a read transaction (sq_snapshot), and its main handle. */
static _Thread_local struct sqlite_meta *pinned;
static _Thread_local struct sqlite_meta *pinned_main;

static void unpin(void);

static struct sqlite_meta *handle(struct kura_meta *m)
{
    return (struct sqlite_meta *)m;
}

/* ---- errors ------------------------------------------------------------------------------- */

int kura_meta_sqlite_error(int rc, int sys_errno)
{
    bool have_errno = sys_errno > 0 && sys_errno < 4096;
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return KURA_EEXIST;
    case SQLITE_CONSTRAINT_TRIGGER:
        return -EPERM; /* a RAISE(ABORT) guard: never-delete, never-rename */
    case SQLITE_IOERR_NOMEM:
        return -ENOMEM;
    case SQLITE_IOERR_CORRUPTFS:
        return KURA_ECORRUPT;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return -EINVAL; /* CHECK, NOT NULL, FOREIGN KEY: a value the schema does not allow */
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return KURA_ECORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
        return KURA_EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_IOERR:
        return have_errno ? -sys_errno : -EIO;
    case SQLITE_CANTOPEN:
        return have_errno ? -sys_errno : -EIO;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_TOOBIG:
        return KURA_ETOOBIG;
    case SQLITE_INTERRUPT:
        return -EINTR;
    case SQLITE_NOLFS:
        return -EFBIG;
    default:
        /* SQLITE_ERROR, MISUSE, RANGE, MISMATCH, SCHEMA...: a bug on our side. */
        return KURA_EINTERNAL;
    }
}

/* Maps rc, reading SQLite's errno and message first (they belong to the last failed call). The
 * message goes to the debug log: SQLite names tables and columns in it, never bound values. */
static int db_err(struct sqlite_meta *h, int rc)
{
    int r = kura_meta_sqlite_error(rc, sqlite3_system_errno(h->db));
    if (kura_log_get_level() >= KURA_LOG_DEBUG) {
        char num[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_DEBUG, "meta_sqlite_error", "rc", kura_fmt_i64(num, rc), "msg",
                 sqlite3_errmsg(h->db), NULL);
    }
    return r;
}

/* ---- locking and statements --------------------------------------------------------------- */

static void note_locked(struct sqlite_meta *h)
{
    if (h->reader) {
        return;
    }
    if (!held) {
        held = h;
    }
    held_depth += held == h;
}

static struct sqlite_meta *lock(struct sqlite_meta *h)
{
    if (!h->reader && pinned) {
        /* First: what this thread writes next must be visible to its later reads, and the
         * main lock is taken before any reader's, never after. */
        unpin();
    }
    int e = pthread_mutex_lock(&h->lock);
    assert(e == 0);
    (void)e;
    note_locked(h);
    return h;
}

static void unlock(struct sqlite_meta *h)
{
    if (held == h && --held_depth == 0) {
        held = NULL;
    }
    int e = pthread_mutex_unlock(&h->lock);
    assert(e == 0); /* EPERM: commit/rollback by a thread that did not begin */
    (void)e;
}

static void unlockp(struct sqlite_meta **hp)
{
    if (*hp) {
        unlock(*hp);
    }
}

/* Holds the handle's lock until the end of the enclosing block. */
#define LOCKED(h) _cleanup_(unlockp) KURA_UNUSED struct sqlite_meta *_locked = lock(h)

/* Resets a statement after use (drops its read lock and bindings): for _cleanup_. */
static void stmt_donep(sqlite3_stmt **sp)
{
    if (*sp) {
        (void)sqlite3_reset(*sp);
        (void)sqlite3_clear_bindings(*sp);
    }
}

static int stmt(struct sqlite_meta *h, enum stmt_id id, sqlite3_stmt **ret)
{
    if (!h->stmts[id]) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v3(h->db, meta_sqlite_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s, NULL);
        if (rc != SQLITE_OK) {
            return db_err(h, rc);
        }
        h->stmts[id] = s;
    }
    *ret = h->stmts[id];
    return 0;
}

/* Steps once: 1 for a row, 0 when done, < 0 on error. */
static int step(struct sqlite_meta *h, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        return 1;
    }
    if (rc == SQLITE_DONE) {
        return 0;
    }
    return db_err(h, rc);
}

/* Runs a statement without parameters or results. */
static int exec_stmt(struct sqlite_meta *h, enum stmt_id id)
{
    _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
    int r = stmt(h, id, &s);
    if (r < 0) {
        return r;
    }
    do {
        r = step(h, s);
    } while (r > 0);
    return r;
}

/* Runs a statement with one int64 result column. */
static int query_i64(struct sqlite_meta *h, enum stmt_id id, int64_t *ret)
{
    _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
    int r = stmt(h, id, &s);
    if (r < 0) {
        return r;
    }
    r = step(h, s);
    if (r < 0) {
        return r;
    }
    if (r == 0 || sqlite3_column_type(s, 0) != SQLITE_INTEGER) {
        return KURA_ECORRUPT;
    }
    *ret = sqlite3_column_int64(s, 0);
    return 0;
}

/* ---- transactions (lock held by the caller) ----------------------------------------------- */

static int txn_begin_locked(struct sqlite_meta *h, bool write)
{
    enum stmt_id id = ST_SAVEPOINT;
    if (h->depth == 0) {
        id = write && !h->readonly ? ST_BEGIN_IMMEDIATE : ST_BEGIN_DEFERRED;
    }
    int r = exec_stmt(h, id);
    if (r < 0) {
        return r;
    }
    h->depth++;
    return 0;
}

static void txn_rollback_locked(struct sqlite_meta *h)
{
    assert(h->depth > 0);
    /* After some errors (I/O, OOM, disk full) SQLite has already rolled the whole transaction
     * back; then there is nothing left to undo at any level. */
    if (!sqlite3_get_autocommit(h->db)) {
        if (h->depth == 1) {
            (void)exec_stmt(h, ST_ROLLBACK);
        } else {
            (void)exec_stmt(h, ST_ROLLBACK_TO);
            (void)exec_stmt(h, ST_RELEASE);
        }
    }
    h->depth--;
}

static int txn_commit_locked(struct sqlite_meta *h)
{
    assert(h->depth > 0);
    if (sqlite3_get_autocommit(h->db)) {
        /* SQLite rolled back after an earlier error this transaction's owner saw. */
        h->depth--;
        return KURA_EINTERNAL;
    }
    int r = exec_stmt(h, h->depth == 1 ? ST_COMMIT : ST_RELEASE);
    if (r < 0) {
        txn_rollback_locked(h);
        return r;
    }
    h->depth--;
    return 0;
}

/* Ends a transaction begun by txn_begin_locked: commits when r >= 0, else rolls back. Returns
 * the first error. */
static int txn_end_locked(struct sqlite_meta *h, int r)
{
    if (r < 0) {
        txn_rollback_locked(h);
        return r;
    }
    return txn_commit_locked(h);
}

static int sq_txn_begin(struct kura_meta *m)
{
    struct sqlite_meta *h = lock(handle(m));
    int r = txn_begin_locked(h, true);
    if (r < 0) {
        unlock(h);
    }
    /* On success the lock stays held until commit or rollback. */
    return r;
}

static int sq_txn_commit(struct kura_meta *m)
{
    struct sqlite_meta *h = handle(m);
    int r = txn_commit_locked(h);
    unlock(h);
    return r;
}

static void sq_txn_rollback(struct kura_meta *m)
{
    struct sqlite_meta *h = handle(m);
    txn_rollback_locked(h);
    unlock(h);
}

/* ---- open / close ------------------------------------------------------------------------- */

static void sq_close(struct kura_meta *m)
{
    struct sqlite_meta *h = handle(m);
    assert(h->depth == 0);
    for (unsigned i = 0; i < h->nreaders; i++) {
        sq_close(&h->readers[i]->base); /* first: the main connection closes last */
    }
    for (size_t i = 0; i < ST__COUNT; i++) {
        (void)sqlite3_finalize(h->stmts[i]);
    }
    meta_sqlite_cache_free(h->cache);
    /* With every statement finalized, close cannot report SQLITE_BUSY. In WAL mode the last
     * connection to close checkpoints and removes the -wal file. */
    int rc = sqlite3_close(h->db);
    assert(rc == SQLITE_OK);
    (void)rc;
    (void)pthread_mutex_destroy(&h->lock);
    kura_free(h);
}

static int configure(struct sqlite_meta *h)
{
    static const int off_flags[] = {
        SQLITE_DBCONFIG_TRUSTED_SCHEMA,
        SQLITE_DBCONFIG_DQS_DML,
        SQLITE_DBCONFIG_DQS_DDL,
        SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION,
    };
    int rc = sqlite3_db_config(h->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < KURA_ARRAY_SIZE(off_flags); i++) {
        rc = sqlite3_db_config(h->db, off_flags[i], 0, (int *)NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_busy_timeout(h->db, META_SQLITE_BUSY_TIMEOUT_MS);
    }
    if (rc != SQLITE_OK) {
        return db_err(h, rc);
    }
    (void)sqlite3_limit(h->db, SQLITE_LIMIT_ATTACHED, 0);

    rc = sqlite3_exec(h->db,
                      "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
                      "PRAGMA synchronous = FULL; PRAGMA cell_size_check = ON; "
                      "PRAGMA trusted_schema = OFF;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return db_err(h, rc);
    }

    /* The first statement that reads the file: a damaged or foreign file fails here with
     * SQLITE_NOTADB / SQLITE_CORRUPT rather than at some later call. */
    int64_t n;
    int r = query_i64(h, ST_COUNT_OBJECTS, &n);
    if (r < 0) {
        return r;
    }
    if (h->readonly) {
        return 0;
    }
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(h->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        return db_err(h, rc);
    }
    rc = sqlite3_step(s);
    bool wal = rc == SQLITE_ROW && sqlite3_column_text(s, 0) &&
               strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
    if (rc != SQLITE_ROW) {
        r = db_err(h, rc);
    } else if (!wal) {
        r = KURA_EINTERNAL;
    }
    (void)sqlite3_finalize(s);
    return r;
}

static int open_conn(const char *path, unsigned flags, bool reader, struct kura_meta **ret);

/* Readers are opened like the main connection (read-write: a read-only connection to a WAL
 * database needs the -shm file writable anyway) and only ever used for reads. One that cannot
 * be opened is simply not there: reads then wait for the others or the main connection. */
static void open_readers(const char *path, struct sqlite_meta *h)
{
    for (unsigned i = 0; i < READERS; i++) {
        struct kura_meta *r = NULL;
        if (open_conn(path, 0, true, &r) == 0) {
            h->readers[h->nreaders++] = handle(r);
        }
    }
}

static int sq_open(const char *path, unsigned flags, struct kura_meta **ret)
{
    return open_conn(path, flags, false, ret);
}

/* SQLite counts every allocation in global statistics behind one process-wide mutex, taken on
 * each sqlite3_malloc and free of every connection; kura reads none of them. Without the count
 * the work threads stop queueing on that mutex (perf: ~1% of a 4 KiB GET's CPU in futex waits
 * from sqlite3Malloc). Must precede sqlite3_initialize: refused (and harmless) afterwards. */
static void config_once(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int open_conn(const char *path, unsigned flags, bool reader, struct kura_meta **ret)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)pthread_once(&once, config_once);
    /* Not for a reader: the main connection's open checked the file just now. */
    int r = reader ? 0 : meta_sqlite_check_file(path, flags);
    if (r < 0) {
        return r;
    }
    struct sqlite_meta *h = kura_calloc(1, sizeof(*h));
    if (!h) {
        return -ENOMEM;
    }
    h->base.ops = &kura_meta_sqlite_ops;
    h->readonly = (flags & KURA_META_READONLY) != 0;
    h->reader = reader;
    h->cache = meta_sqlite_cache_new(); /* NULL (out of memory): statements are not kept */

    pthread_mutexattr_t attr;
    int e = pthread_mutexattr_init(&attr);
    if (e == 0) {
        e = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
        if (e == 0) {
            e = pthread_mutex_init(&h->lock, &attr);
        }
        (void)pthread_mutexattr_destroy(&attr);
    }
    if (e != 0) {
        kura_free(h);
        return -e;
    }

    int oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE |
                 SQLITE_OPEN_PRIVATECACHE;
    oflags |= h->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    int rc = sqlite3_open_v2(path, &h->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        r = h->db ? db_err(h, rc) : -ENOMEM;
    } else {
        r = configure(h);
    }
    if (r < 0) {
        sq_close(&h->base);
        return r;
    }
    if ((flags & KURA_META_READERS) && !h->readonly) {
        open_readers(path, h);
    }
    *ret = &h->base;
    return 0;
}

/* ---- schema ------------------------------------------------------------------------------- */

static int version_locked(struct sqlite_meta *h, unsigned *ret)
{
    bool has_table;
    {
        _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
        int r = stmt(h, ST_HAS_VERSION_TABLE, &s);
        if (r < 0) {
            return r;
        }
        r = step(h, s);
        if (r < 0) {
            return r;
        }
        has_table = r > 0;
    }
    if (!has_table) {
        *ret = 0;
        return 0;
    }
    int64_t v;
    int r = query_i64(h, ST_MAX_VERSION, &v);
    if (r < 0) {
        return r;
    }
    if (v < 0 || v > (int64_t)UINT32_MAX) {
        return KURA_ECORRUPT;
    }
    *ret = (unsigned)v;
    return 0;
}

static int sq_schema_version(struct kura_meta *m, unsigned *ret)
{
    struct sqlite_meta *h = handle(m);
    LOCKED(h);
    return version_locked(h, ret);
}

/* Applies one migration inside the open transaction, unless another process applied it while
 * we waited for the write lock (then it does nothing). */
static int apply_locked(struct sqlite_meta *h, const struct kura_meta_migration *mig)
{
    unsigned cur;
    int r = version_locked(h, &cur);
    if (r < 0) {
        return r;
    }
    if (cur > KURA_META_SCHEMA_LATEST) {
        return KURA_ESCHEMA;
    }
    if (cur >= mig->version) {
        return 0;
    }
    if (cur != mig->version - 1) {
        return KURA_ECORRUPT; /* a gap in schema_version: not something we wrote */
    }

    char *errmsg = NULL;
    int rc = sqlite3_exec(h->db, mig->sql, NULL, NULL, &errmsg);
    if (rc != SQLITE_OK) {
        r = kura_meta_sqlite_error(rc, sqlite3_system_errno(h->db));
        kura_log(KURA_LOG_DEBUG, "meta_migration_failed", "migration", mig->name, "msg",
                 errmsg ? errmsg : "-", NULL);
        sqlite3_free(errmsg);
        return r;
    }

    char now[KURA_TIME_STR_MAX];
    kura_clock_format(kura_clock_wall_ms(), now);
    _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
    r = stmt(h, ST_INSERT_VERSION, &s);
    if (r < 0) {
        return r;
    }
    int rc1 = sqlite3_bind_int64(s, 1, mig->version);
    int rc2 = sqlite3_bind_text(s, 2, mig->name, -1, SQLITE_STATIC);
    int rc3 = sqlite3_bind_text(s, 3, now, -1, SQLITE_STATIC);
    if (rc1 != SQLITE_OK || rc2 != SQLITE_OK || rc3 != SQLITE_OK) {
        return db_err(h, rc1 != SQLITE_OK ? rc1 : rc2 != SQLITE_OK ? rc2 : rc3);
    }
    return step(h, s);
}

static int sq_migrate(struct kura_meta *m)
{
    struct sqlite_meta *h = handle(m);
    LOCKED(h);
    if (h->depth != 0) {
        return -EINVAL;
    }
    size_t n;
    const struct kura_meta_migration *migs = kura_meta_sqlite_migrations(&n);
    assert(n > 0 && migs[n - 1].version == KURA_META_SCHEMA_LATEST);

    unsigned v;
    int r = version_locked(h, &v);
    if (r < 0) {
        return r;
    }
    if (v > KURA_META_SCHEMA_LATEST) {
        return KURA_ESCHEMA;
    }
    if (v == KURA_META_SCHEMA_LATEST) {
        return 0;
    }
    if (h->readonly) {
        return -EROFS;
    }
    if (v == 0) {
        /* Version 0 must mean "empty": never lay kura's tables over somebody else's database. */
        int64_t objects;
        r = query_i64(h, ST_COUNT_OBJECTS, &objects);
        if (r < 0) {
            return r;
        }
        if (objects != 0) {
            return KURA_ENOTKURA;
        }
    }
    for (size_t i = 0; i < n; i++) {
        assert(migs[i].version == i + 1);
        if (migs[i].version <= v) {
            continue;
        }
        r = txn_begin_locked(h, true);
        if (r < 0) {
            return r;
        }
        r = txn_end_locked(h, apply_locked(h, &migs[i]));
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* ---- install properties ------------------------------------------------------------------- */

static int sq_install_get(struct kura_meta *m, const char *key, char **ret_value)
{
    struct sqlite_meta *h = handle(m);
    LOCKED(h);
    _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
    int r = stmt(h, ST_INSTALL_GET, &s);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        return db_err(h, rc);
    }
    r = step(h, s);
    if (r < 0) {
        return r;
    }
    if (r == 0) {
        return KURA_ENOTFOUND;
    }
    const unsigned char *text = sqlite3_column_text(s, 0);
    if (!text) {
        return sqlite3_errcode(h->db) == SQLITE_NOMEM ? -ENOMEM : KURA_ECORRUPT;
    }
    size_t len = (size_t)sqlite3_column_bytes(s, 0);
    if (memchr(text, '\0', len)) {
        return KURA_ECORRUPT;
    }
    char *v = kura_strndup((const char *)text, len);
    if (!v) {
        return -ENOMEM;
    }
    *ret_value = v;
    return 0;
}

static int sq_install_set(struct kura_meta *m, const char *key, const char *value)
{
    struct sqlite_meta *h = handle(m);
    LOCKED(h);
    _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
    int r = stmt(h, ST_INSTALL_SET, &s);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) {
        return db_err(h, rc);
    }
    return step(h, s);
}

/* ---- accounts ----------------------------------------------------------------------------- */

static int bind_time(sqlite3_stmt *s, int col, int64_t t)
{
    return t == 0 ? sqlite3_bind_null(s, col) : sqlite3_bind_int64(s, col, t);
}

static int insert_account_locked(struct sqlite_meta *h, const struct kura_account *a)
{
    _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
    int r = stmt(h, ST_ACCOUNT_INSERT, &s);
    if (r < 0) {
        return r;
    }
    int64_t created = a->created_at != 0 ? a->created_at : kura_clock_wall_ms();
    int64_t updated = a->updated_at != 0 ? a->updated_at : created;
    const char *texts[] = {a->id,          a->display_name, a->email,
                           a->affiliation, a->phone,        kura_account_status_name(a->status)};
    int rc = SQLITE_OK;
    for (int i = 0; rc == SQLITE_OK && i < (int)KURA_ARRAY_SIZE(texts); i++) {
        rc = sqlite3_bind_text(s, i + 1, texts[i] ? texts[i] : "", -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(s, 7, a->valid_from);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(s, 8, a->valid_until);
    }
    if (rc == SQLITE_OK) {
        rc = a->password_hash ? sqlite3_bind_text(s, 9, a->password_hash, -1, SQLITE_STATIC)
                              : sqlite3_bind_null(s, 9);
    }
    if (rc == SQLITE_OK) {
        rc = bind_time(s, 10, a->password_changed_at);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int(s, 11, a->must_change_password ? 1 : 0);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 12, created);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 13, updated);
    }
    if (rc != SQLITE_OK) {
        return db_err(h, rc);
    }
    return step(h, s);
}

static int insert_roles_locked(struct sqlite_meta *h, const char *id, unsigned roles)
{
    for (unsigned bit = 1; bit != 0 && bit <= KURA_ROLE_ALL; bit <<= 1) {
        if (!(roles & bit)) {
            continue;
        }
        _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
        int r = stmt(h, ST_ROLE_INSERT, &s);
        if (r < 0) {
            return r;
        }
        int rc = sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(s, 2, kura_role_name(bit), -1, SQLITE_STATIC);
        }
        if (rc != SQLITE_OK) {
            return db_err(h, rc);
        }
        r = step(h, s);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static int sq_account_create(struct kura_meta *m, const struct kura_account *a)
{
    struct sqlite_meta *h = handle(m);
    LOCKED(h);
    int r = txn_begin_locked(h, true);
    if (r < 0) {
        return r;
    }
    r = insert_account_locked(h, a);
    if (r >= 0) {
        r = insert_roles_locked(h, a->id, a->roles);
    }
    return txn_end_locked(h, r);
}

/* Copies a text column; NULL is allowed only where nullable (then *ret = NULL). Text with an
 * embedded NUL cannot be a C string: the row was not written by us. */
static int column_str(struct sqlite_meta *h, sqlite3_stmt *s, int col, bool nullable,
                      const char **ret)
{
    int type = sqlite3_column_type(s, col);
    if (type == SQLITE_NULL && nullable) {
        *ret = NULL;
        return 0;
    }
    if (type != SQLITE_TEXT) {
        return KURA_ECORRUPT;
    }
    const unsigned char *text = sqlite3_column_text(s, col);
    if (!text) {
        return sqlite3_errcode(h->db) == SQLITE_NOMEM ? -ENOMEM : KURA_ECORRUPT;
    }
    size_t len = (size_t)sqlite3_column_bytes(s, col);
    if (memchr(text, '\0', len)) {
        return KURA_ECORRUPT;
    }
    char *copy = kura_strndup((const char *)text, len);
    if (!copy) {
        return -ENOMEM;
    }
    *ret = copy;
    return 0;
}

/* Reads an INTEGER column; NULL reads as 0 where nullable. */
static int column_i64(sqlite3_stmt *s, int col, bool nullable, int64_t *ret)
{
    int type = sqlite3_column_type(s, col);
    if (type == SQLITE_NULL && nullable) {
        *ret = 0;
        return 0;
    }
    if (type != SQLITE_INTEGER) {
        return KURA_ECORRUPT;
    }
    *ret = sqlite3_column_int64(s, col);
    return 0;
}

static int read_account_locked(struct sqlite_meta *h, const char *id, struct kura_account *a)
{
    _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
    int r = stmt(h, ST_ACCOUNT_SELECT, &s);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        return db_err(h, rc);
    }
    r = step(h, s);
    if (r < 0) {
        return r;
    }
    if (r == 0) {
        return KURA_ENOTFOUND;
    }
    const char **texts[] = {&a->id, &a->display_name, &a->email, &a->affiliation, &a->phone};
    for (int i = 0; i < (int)KURA_ARRAY_SIZE(texts); i++) {
        r = column_str(h, s, i, false, texts[i]);
        if (r < 0) {
            return r;
        }
    }
    const unsigned char *status = sqlite3_column_text(s, 5);
    if (!status) {
        return KURA_ECORRUPT;
    }
    r = kura_account_status_parse((const char *)status, (size_t)sqlite3_column_bytes(s, 5),
                                  &a->status);
    if (r < 0) {
        return KURA_ECORRUPT;
    }
    r = column_str(h, s, 8, true, &a->password_hash);
    if (r < 0) {
        return r;
    }
    struct {
        int col;
        bool nullable;
        int64_t *out;
    } ints[] = {
        {6, true, &a->valid_from}, {7, true, &a->valid_until},  {9, true, &a->password_changed_at},
        {10, false, NULL},         {11, false, &a->created_at}, {12, false, &a->updated_at},
    };
    int64_t must_change = 0;
    ints[3].out = &must_change;
    for (size_t i = 0; i < KURA_ARRAY_SIZE(ints); i++) {
        r = column_i64(s, ints[i].col, ints[i].nullable, ints[i].out);
        if (r < 0) {
            return r;
        }
    }
    if (must_change != 0 && must_change != 1) {
        return KURA_ECORRUPT;
    }
    a->must_change_password = must_change == 1;
    return 0;
}

static int read_roles_locked(struct sqlite_meta *h, const char *id, unsigned *ret)
{
    _cleanup_(stmt_donep) sqlite3_stmt *s = NULL;
    int r = stmt(h, ST_ROLES_SELECT, &s);
    if (r < 0) {
        return r;
    }
    int rc = sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        return db_err(h, rc);
    }
    unsigned roles = 0;
    for (;;) {
        r = step(h, s);
        if (r < 0) {
            return r;
        }
        if (r == 0) {
            break;
        }
        const unsigned char *name = sqlite3_column_text(s, 0);
        enum kura_role role;
        if (!name ||
            kura_role_parse((const char *)name, (size_t)sqlite3_column_bytes(s, 0), &role) < 0) {
            return KURA_ECORRUPT;
        }
        roles |= role;
    }
    *ret = roles;
    return 0;
}

static int sq_account_get(struct kura_meta *m, const char *id, struct kura_account *ret)
{
    _cleanup_(unlockp) struct sqlite_meta *h = meta_sqlite_read_lock(m);
    _cleanup_(kura_account_release) struct kura_account a = {0};
    /* A read transaction: the account row and its roles from one snapshot (which a reader
     * kept by this thread's snapshot already is). */
    bool own = h != pinned;
    int r = own ? txn_begin_locked(h, false) : 0;
    if (r < 0) {
        return r;
    }
    r = read_account_locked(h, id, &a);
    if (r >= 0) {
        r = read_roles_locked(h, id, &a.roles);
    }
    r = own ? txn_end_locked(h, r) : r;
    if (r < 0) {
        return r;
    }
    *ret = a;
    a = (struct kura_account){0};
    return 0;
}

static int sq_account_count(struct kura_meta *m, uint64_t *ret)
{
    struct sqlite_meta *h = handle(m);
    LOCKED(h);
    int64_t n;
    int r = query_i64(h, ST_ACCOUNT_COUNT, &n);
    if (r < 0) {
        return r;
    }
    if (n < 0) {
        return KURA_ECORRUPT;
    }
    *ret = (uint64_t)n;
    return 0;
}

/* ---- for the other files of this backend (sqlite-internal.h) ------------------------------ */

struct sqlite_meta *meta_sqlite_lock(struct kura_meta *m)
{
    return lock(handle(m));
}

struct sqlite_meta *meta_sqlite_read_lock(struct kura_meta *m)
{
    struct sqlite_meta *h = handle(m);
    if (pinned && pinned_main == h) {
        return lock(pinned);
    }
    if (h->nreaders == 0 || held) {
        return lock(h); /* no readers, or inside a transaction or call of this thread */
    }
    unsigned start = next_reader++;
    for (unsigned i = 0; i < h->nreaders; i++) {
        struct sqlite_meta *r = h->readers[(start + i) % h->nreaders];
        if (pthread_mutex_trylock(&r->lock) == 0) {
            return r;
        }
    }
    /* All busy: wait for one in a leaf read, not one kept by another thread's snapshot for its
     * whole job; if every reader is kept, the main connection. */
    for (unsigned i = 0; i < h->nreaders; i++) {
        struct sqlite_meta *r = h->readers[(start + i) % h->nreaders];
        if (!atomic_load(&r->pinned)) {
            return lock(r);
        }
    }
    return lock(h);
}

/* ---- read snapshots ------------------------------------------------------------------------ */

static void unpin(void)
{
    struct sqlite_meta *r = pinned;
    pinned = pinned_main = NULL;
    if (r->depth == 1) {
        (void)txn_commit_locked(r); /* a read transaction: nothing to lose */
    }
    atomic_store(&r->pinned, false);
    unlock(r);
}

/* One read transaction for this thread's reads until turned off (or until it takes the main
 * lock): a request's lookups then share one snapshot and one WAL read lock instead of taking
 * and dropping one each (perf: ~6 per WebDAV GET). Only when a reader is free at once. */
static bool sq_snapshot(struct kura_meta *m, bool on)
{
    struct sqlite_meta *h = handle(m);
    if (!on) {
        if (pinned && pinned_main == h) {
            unpin();
        }
        return false;
    }
    if (pinned || held || h->nreaders == 0) {
        return pinned && pinned_main == h;
    }
    unsigned start = next_reader++;
    for (unsigned i = 0; i < h->nreaders; i++) {
        struct sqlite_meta *r = h->readers[(start + i) % h->nreaders];
        if (pthread_mutex_trylock(&r->lock) == 0) {
            if (txn_begin_locked(r, false) == 0) {
                atomic_store(&r->pinned, true);
                pinned = r;
                pinned_main = h;
                return true;
            }
            unlock(r);
            return false;
        }
    }
    return false;
}

void meta_sqlite_readers_hold(struct kura_meta *m, bool hold)
{
    struct sqlite_meta *h = handle(m);
    for (unsigned i = 0; i < h->nreaders; i++) {
        if (hold) {
            (void)lock(h->readers[i]);
        } else {
            unlock(h->readers[h->nreaders - 1 - i]);
        }
    }
}

void meta_sqlite_unlockp(struct sqlite_meta **hp)
{
    unlockp(hp);
}

sqlite3 *meta_sqlite_db(struct sqlite_meta *h)
{
    return h->db;
}

struct meta_stmt_cache *meta_sqlite_cache(struct sqlite_meta *h)
{
    return h->cache;
}

int meta_sqlite_err(struct sqlite_meta *h, int rc)
{
    return db_err(h, rc);
}

int meta_sqlite_step(struct sqlite_meta *h, sqlite3_stmt *s)
{
    return step(h, s);
}

int meta_sqlite_txn(struct kura_meta *m, bool begin)
{
    return begin ? sq_txn_begin(m) : sq_txn_commit(m);
}

void meta_sqlite_rollback(struct kura_meta *m)
{
    sq_txn_rollback(m);
}

const struct kura_meta_ops kura_meta_sqlite_ops = {
    .version = KURA_META_OPS_VERSION,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .migrate = sq_migrate,
    .txn_begin = sq_txn_begin,
    .txn_commit = sq_txn_commit,
    .txn_rollback = sq_txn_rollback,
    .install_get = sq_install_get,
    .install_set = sq_install_set,
    .account_create = sq_account_create,
    .account_get = sq_account_get,
    .account_count = sq_account_count,
    .audit_index_put = meta_sqlite_audit_put,
    .audit_index_next = meta_sqlite_audit_next,
    .audit_index_search = meta_sqlite_audit_search,
    .audit_index_prune = meta_sqlite_audit_prune,
    .alert_raise = meta_sqlite_alert_raise,
    .alert_list = meta_sqlite_alert_list,
    .alert_ack = meta_sqlite_alert_ack,
    .account_update = meta_sqlite_account_update,
    .account_list = meta_sqlite_account_list,
    .auth_get = meta_sqlite_auth_get,
    .auth_attempt = meta_sqlite_auth_attempt,
    .auth_failed = meta_sqlite_auth_failed,
    .auth_succeeded = meta_sqlite_auth_succeeded,
    .auth_unlock = meta_sqlite_auth_unlock,
    .auth_set_totp = meta_sqlite_auth_set_totp,
    .auth_use_totp_step = meta_sqlite_auth_use_totp_step,
    .recovery_set = meta_sqlite_recovery_set,
    .recovery_use = meta_sqlite_recovery_use,
    .password_history_add = meta_sqlite_password_history_add,
    .password_history_list = meta_sqlite_password_history_list,
    .session_create = meta_sqlite_session_create,
    .session_get = meta_sqlite_session_get,
    .session_touch = meta_sqlite_session_touch,
    .session_elevate = meta_sqlite_session_elevate,
    .session_delete = meta_sqlite_session_delete,
    .session_delete_account = meta_sqlite_session_delete_account,
    .session_list = meta_sqlite_session_list,
    .session_prune = meta_sqlite_session_prune,
    .app_password_create = meta_sqlite_app_password_create,
    .app_password_find = meta_sqlite_app_password_find,
    .app_password_touch = meta_sqlite_app_password_touch,
    .app_password_list = meta_sqlite_app_password_list,
    .app_password_revoke = meta_sqlite_app_password_revoke,
    .ledger_append = meta_sqlite_ledger_append,
    .ledger_list = meta_sqlite_ledger_list,
    .break_glass_get = meta_sqlite_break_glass_get,
    .break_glass_put = meta_sqlite_break_glass_put,
    .source_attempt = meta_sqlite_source_attempt,
    .source_failed = meta_sqlite_source_failed,
    .source_clear = meta_sqlite_source_clear,
    .space_personal = meta_sqlite_space_personal,
    .space_get = meta_sqlite_space_get,
    .space_charge = meta_sqlite_space_charge,
    .space_set_quota = meta_sqlite_space_set_quota,
    .node_get = meta_sqlite_node_get,
    .node_lookup = meta_sqlite_node_lookup,
    .node_children = meta_sqlite_node_children,
    .node_create = meta_sqlite_node_create,
    .node_set_content = meta_sqlite_node_set_content,
    .node_move = meta_sqlite_node_move,
    .node_set_mtime = meta_sqlite_node_set_mtime,
    .node_trash = meta_sqlite_node_trash,
    .node_restore = meta_sqlite_node_restore,
    .trash_list = meta_sqlite_trash_list,
    .trash_expired = meta_sqlite_trash_expired,
    .node_subtree = meta_sqlite_node_subtree,
    .node_remove = meta_sqlite_node_remove,
    .version_add = meta_sqlite_version_add,
    .version_get = meta_sqlite_version_get,
    .version_list = meta_sqlite_version_list,
    .version_remove = meta_sqlite_version_remove,
    .version_set_header = meta_sqlite_version_set_header,
    .versions_by_key = meta_sqlite_versions_by_key,
    .versions_all = meta_sqlite_versions_all,
    .version_flag_corrupt = meta_sqlite_version_flag_corrupt,
    .blob_referenced = meta_sqlite_blob_referenced,
    .prop_set = meta_sqlite_prop_set,
    .prop_remove = meta_sqlite_prop_remove,
    .prop_get = meta_sqlite_prop_get,
    .prop_list = meta_sqlite_prop_list,
    .prop_copy = meta_sqlite_prop_copy,
    .lock_create = meta_sqlite_lock_create,
    .lock_get = meta_sqlite_lock_get,
    .lock_covering = meta_sqlite_lock_covering,
    .lock_refresh = meta_sqlite_lock_refresh,
    .lock_remove = meta_sqlite_lock_remove,
    .lock_prune = meta_sqlite_lock_prune,
    .checkpoint = meta_sqlite_checkpoint,
    .snapshot = sq_snapshot,
    .checkpoint_try = meta_sqlite_checkpoint_try,
};
