/* SQLite-specific tests: the file on disk (mode, symlinks, damage, foreign databases), the
 * error mapping and the schema's own guards. The backend-independent behaviour is in the
 * contract suite (meta-contract.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "meta/meta-internal.h"
#include "meta/sqlite-internal.h"

static char dir[64];
static char db_path[128];
static int dfd = -1;

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-meta-sqlite-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    (void)snprintf(db_path, sizeof(db_path), "%s/kura.db", dir);
    dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    return dfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const names[] = {"kura.db",         "kura.db-wal", "kura.db-shm",
                                        "kura.db-journal", "link",        "other.db"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        (void)unlinkat(dfd, names[i], 0);
    }
    (void)close(dfd);
    return rmdir(dir);
}

static mode_t file_mode(const char *name)
{
    struct stat st;
    assert_int_equal(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
    return st.st_mode & 07777;
}

static void write_file(const char *name, const void *data, size_t len, mode_t mode)
{
    assert_int_equal(kura_file_write_atomic(dfd, name, data, len, mode), 0);
}

static void test_created_0600(void **state)
{
    (void)state;
    mode_t old = umask(0); /* even a permissive umask must not widen the mode */
    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), 0);
    (void)umask(old);
    assert_int_equal(kura_meta_migrate(m), 0);
    struct kura_account a = {.id = "x"};
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    assert_int_equal(file_mode("kura.db"), 0600);
    /* While open in WAL mode the -wal and -shm files exist, with the database's mode. */
    assert_int_equal(file_mode("kura.db-wal"), 0600);
    assert_int_equal(file_mode("kura.db-shm"), 0600);
    m = kura_meta_close(m);
    assert_int_equal(file_mode("kura.db"), 0600);

    /* The mode is a property of the file: reopening with CREATE leaves it alone. */
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), 0);
    assert_int_equal(kura_meta_check_schema(m, NULL), 0);
    m = kura_meta_close(m);
}

static void test_settings(void **state)
{
    (void)state;
    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), 0);
    assert_int_equal(kura_meta_migrate(m), 0);
    m = kura_meta_close(m);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    (void)sqlite3_finalize(s);
    /* Every table is STRICT. */
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM pragma_table_list "
                                        "WHERE schema = 'main' AND name NOT LIKE 'sqlite%' "
                                        "AND strict = 0",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 0);
    (void)sqlite3_finalize(s);
    (void)sqlite3_close(db);
}

static void test_refuses_open_file(void **state)
{
    (void)state;
    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, 0, &m), -ENOENT);
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_READONLY, &m), -ENOENT);
    assert_int_equal(access(db_path, F_OK), -1); /* not created without CREATE */

    /* A database others can read is refused, not silently tightened. */
    write_file("kura.db", "", 0, 0644);
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), KURA_EKEYMODE);
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_READONLY, &m), KURA_EKEYMODE);
    assert_int_equal(unlinkat(dfd, "kura.db", 0), 0);

    /* No symlinks, even to a good database. */
    write_file("other.db", "", 0, 0600);
    assert_int_equal(symlinkat("other.db", dfd, "link"), 0);
    char link_path[160];
    (void)snprintf(link_path, sizeof(link_path), "%s/link", dir);
    assert_int_equal(kura_meta_open("sqlite", link_path, KURA_META_CREATE, &m), -ELOOP);

    /* Not a regular file. */
    assert_int_equal(kura_meta_open("sqlite", dir, KURA_META_READONLY, &m), -EINVAL);
    assert_null(m);
}

static void test_random_bytes_are_corrupt(void **state)
{
    (void)state;
    const size_t sizes[] = {4096, 100, 99, 2, 1};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(sizes); i++) {
        unsigned char junk[4096];
        assert_int_equal(kura_random(junk, sizes[i]), 0);
        junk[0] = 'X'; /* never the SQLite magic by chance */
        write_file("kura.db", junk, sizes[i], 0600);
        struct kura_meta *m = NULL;
        assert_int_equal(kura_meta_open("sqlite", db_path, 0, &m), KURA_ECORRUPT);
        assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_READONLY, &m), KURA_ECORRUPT);
        assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), KURA_ECORRUPT);
        assert_null(m);
        (void)unlinkat(dfd, "kura.db-wal", 0);
        (void)unlinkat(dfd, "kura.db-shm", 0);
    }
}

static void test_damaged_pages_are_corrupt(void **state)
{
    (void)state;
    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), 0);
    assert_int_equal(kura_meta_migrate(m), 0);
    for (int i = 0; i < 50; i++) {
        char id[16];
        (void)snprintf(id, sizeof(id), "user%d", i);
        struct kura_account a = {.id = id, .roles = KURA_ROLE_USER};
        assert_int_equal(kura_meta_account_create(m, &a), 0);
    }
    m = kura_meta_close(m);

    /* Overwrite every page after the first (which holds the schema) with a fixed pattern: the
     * b-tree pages of accounts and roles become invalid. */
    int fd = openat(dfd, "kura.db", O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char page[4096];
    assert_int_equal(pread(fd, page, 100, 0), 100);
    size_t page_size = (size_t)page[16] << 8 | page[17];
    assert_true(page_size >= 512 && page_size <= sizeof(page));
    memset(page, 0xa5, sizeof(page));
    for (off_t off = (off_t)page_size; off < st.st_size; off += (off_t)page_size) {
        assert_int_equal(pwrite(fd, page, page_size, off), (ssize_t)page_size);
    }
    (void)close(fd);

    int r = kura_meta_open("sqlite", db_path, 0, &m);
    if (r == 0) {
        uint64_t n = 0;
        r = kura_meta_account_count(m, &n);
        assert_int_equal(r, KURA_ECORRUPT);
        struct kura_account out = {0};
        r = kura_meta_account_get(m, "user7", &out);
        assert_int_equal(r, KURA_ECORRUPT);
        m = kura_meta_close(m);
    } else {
        assert_int_equal(r, KURA_ECORRUPT);
    }
}

static void test_foreign_database(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    assert_int_equal(
        sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE accounts (x); INSERT INTO accounts VALUES (1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    (void)sqlite3_close(db);
    assert_int_equal(chmod(db_path, 0600), 0);

    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, 0, &m), 0);
    enum kura_meta_schema_state st;
    assert_int_equal(kura_meta_check_schema(m, &st), KURA_ESCHEMA);
    assert_int_equal(st, KURA_META_SCHEMA_PENDING);
    assert_int_equal(kura_meta_migrate(m), KURA_ENOTKURA);
    unsigned v = 9;
    assert_int_equal(kura_meta_schema_version(m, &v), 0);
    assert_int_equal(v, 0);
    m = kura_meta_close(m);
}

static int count_entry(void *ctx, const struct kura_ledger_entry *e)
{
    (void)e;
    (*(unsigned *)ctx)++;
    return 0;
}

static void test_schema_guards(void **state)
{
    (void)state;
    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), 0);
    assert_int_equal(kura_meta_migrate(m), 0);
    struct kura_account a = {.id = "keep", .roles = KURA_ROLE_ADMIN};
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    struct kura_ledger_entry e = {.at = 1,
                                  .actor = "cli:root",
                                  .target = "keep",
                                  .action = "create",
                                  .before = "{}",
                                  .after = "{}"};
    assert_int_equal(kura_meta_ledger_append(m, &e, NULL), 0);
    m = kura_meta_close(m);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    (void)sqlite3_extended_result_codes(db, 1);
    assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    struct {
        const char *sql;
        int rc;
    } cases[] = {
        {"DELETE FROM accounts WHERE id = 'keep'", SQLITE_CONSTRAINT_TRIGGER},
        {"UPDATE accounts SET id = 'other' WHERE id = 'keep'", SQLITE_CONSTRAINT_TRIGGER},
        {"UPDATE accounts SET status = 'gone'", SQLITE_CONSTRAINT_CHECK},
        {"UPDATE accounts SET must_change_password = 2", SQLITE_CONSTRAINT_CHECK},
        {"UPDATE accounts SET created_at = 'yesterday'", SQLITE_CONSTRAINT_DATATYPE},
        {"INSERT INTO account_roles VALUES ('keep', 'root')", SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO account_roles VALUES ('nobody', 'user')", SQLITE_CONSTRAINT_FOREIGNKEY},
        {"INSERT INTO account_roles VALUES ('keep', 'admin')", SQLITE_CONSTRAINT_PRIMARYKEY},
        {"INSERT INTO install VALUES ('', 'x')", SQLITE_CONSTRAINT_CHECK},
        /* The ledger is append-only, whoever writes to the file. */
        {"UPDATE account_ledger SET reason = 'edited'", SQLITE_CONSTRAINT_TRIGGER},
        {"DELETE FROM account_ledger", SQLITE_CONSTRAINT_TRIGGER},
        {"INSERT INTO account_auth (account_id, locked_until) VALUES ('keep', 5)",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO account_auth (account_id) VALUES ('nobody')", SQLITE_CONSTRAINT_FOREIGNKEY},
        {"INSERT INTO sessions VALUES (zeroblob(32), 'keep', 'root', 1, 1, 1, NULL, "
         "zeroblob(32), NULL, NULL, 0)",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO sessions VALUES (zeroblob(31), 'keep', 'full', 1, 1, 1, NULL, "
         "zeroblob(32), NULL, NULL, 0)",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO recovery_codes VALUES ('keep', x'00', NULL)", SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO app_passwords (account_id, name, mac, created_at) "
         "VALUES ('keep', 'x', randomblob(33), 1)",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO app_passwords (account_id, name, mac, created_at) "
         "VALUES ('keep', 'x', zeroblob(32), 1), ('keep', 'x', randomblob(32), 1)",
         SQLITE_CONSTRAINT_UNIQUE},
        {"UPDATE accounts SET status = 'deleted'", SQLITE_OK},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        print_message("%s\n", cases[i].sql);
        assert_int_equal(sqlite3_exec(db, cases[i].sql, NULL, NULL, NULL), cases[i].rc);
    }
    (void)sqlite3_close(db);

    /* A deleted account is still found, and its ID still taken. */
    assert_int_equal(kura_meta_open("sqlite", db_path, 0, &m), 0);
    struct kura_account out = {0};
    assert_int_equal(kura_meta_account_get(m, "keep", &out), 0);
    assert_int_equal(out.status, KURA_ACCOUNT_STATUS_DELETED);
    assert_int_equal(out.roles, KURA_ROLE_ADMIN);
    kura_account_release(&out);
    assert_int_equal(kura_meta_account_create(m, &a), KURA_EEXIST);
    unsigned entries = 0;
    assert_int_equal(kura_meta_ledger_list(m, "keep", count_entry, &entries), 0);
    assert_int_equal(entries, 1);
    m = kura_meta_close(m);
}

/* With -Dfault_injection=true: every kura_malloc failure on these paths is reported as
 * -ENOMEM and leaks nothing (ASan checks the latter). */
static void test_allocation_failures(void **state)
{
    (void)state;
#ifdef KURA_FAULT_INJECTION
    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), 0);
    assert_int_equal(kura_meta_migrate(m), 0);
    struct kura_account a = {.id = "x", .email = "e", .password_hash = "$h", .roles = 3};
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    assert_int_equal(kura_meta_install_set(m, "k", "v"), 0);
    m = kura_meta_close(m);

    bool reached_success = false;
    for (unsigned long n = 1; n < 60 && !reached_success; n++) {
        kura_alloc_fail_at(n);
        int r = kura_meta_open("sqlite", db_path, 0, &m);
        if (r == 0) {
            struct kura_account out = {0};
            r = kura_meta_account_get(m, "x", &out);
            if (r == 0) {
                char *v = NULL;
                r = kura_meta_install_get(m, "k", &v);
                kura_free(v);
                reached_success = r == 0;
            }
            kura_account_release(&out);
            m = kura_meta_close(m);
        }
        kura_alloc_fail_at(0);
        assert_true(r == 0 || r == -ENOMEM);
    }
    assert_true(reached_success);
#else
    skip();
#endif
}

static void test_error_mapping(void **state)
{
    (void)state;
    const struct {
        int rc;
        int sys;
        int want;
    } cases[] = {
        {SQLITE_CONSTRAINT_PRIMARYKEY, 0, KURA_EEXIST},
        {SQLITE_CONSTRAINT_UNIQUE, 0, KURA_EEXIST},
        {SQLITE_CONSTRAINT_CHECK, 0, -EINVAL},
        {SQLITE_CONSTRAINT_NOTNULL, 0, -EINVAL},
        {SQLITE_CONSTRAINT_FOREIGNKEY, 0, -EINVAL},
        {SQLITE_CONSTRAINT_TRIGGER, 0, -EPERM},
        {SQLITE_CORRUPT, 0, KURA_ECORRUPT},
        {SQLITE_CORRUPT_INDEX, 0, KURA_ECORRUPT},
        {SQLITE_NOTADB, 0, KURA_ECORRUPT},
        {SQLITE_IOERR_CORRUPTFS, 0, KURA_ECORRUPT},
        {SQLITE_BUSY, 0, KURA_EBUSY},
        {SQLITE_BUSY_SNAPSHOT, 0, KURA_EBUSY},
        {SQLITE_LOCKED, 0, KURA_EBUSY},
        {SQLITE_NOMEM, 0, -ENOMEM},
        {SQLITE_IOERR_NOMEM, 0, -ENOMEM},
        {SQLITE_READONLY, 0, -EROFS},
        {SQLITE_READONLY_DBMOVED, 0, -EROFS},
        {SQLITE_FULL, 0, -ENOSPC},
        {SQLITE_IOERR_WRITE, EIO, -EIO},
        {SQLITE_IOERR_FSYNC, ENOSPC, -ENOSPC},
        {SQLITE_IOERR_READ, 0, -EIO},
        {SQLITE_CANTOPEN, ENOENT, -ENOENT},
        {SQLITE_CANTOPEN, 0, -EIO},
        {SQLITE_PERM, 0, -EACCES},
        {SQLITE_TOOBIG, 0, KURA_ETOOBIG},
        {SQLITE_INTERRUPT, 0, -EINTR},
        {SQLITE_ERROR, 0, KURA_EINTERNAL},
        {SQLITE_MISUSE, 0, KURA_EINTERNAL},
        {SQLITE_MISMATCH, 0, KURA_EINTERNAL},
        {SQLITE_RANGE, 0, KURA_EINTERNAL},
        {SQLITE_IOERR, 99999, -EIO}, /* implausible errno ignored */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        print_message("rc %d\n", cases[i].rc);
        assert_int_equal(kura_meta_sqlite_error(cases[i].rc, cases[i].sys), cases[i].want);
    }
}

/* ---- the file store ------------------------------------------------------------------------ */

/* A migrated store with account "a", its personal space and a file "f" there. */
static struct kura_meta *store_with_file(uint64_t *ret_space, uint64_t *ret_file)
{
    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m), 0);
    assert_int_equal(kura_meta_migrate(m), 0);
    struct kura_account a = {.id = "a"};
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    struct kura_space sp;
    assert_int_equal(kura_meta_space_personal(m, "a", 0, 1, &sp), 0);
    struct kura_node n = {.space = sp.id, .path = "f", .created_at = 1, .mtime = 1};
    assert_int_equal(kura_meta_node_create(m, &n, ret_file), 0);
    *ret_space = sp.id;
    return m;
}

/* How many 16-byte pieces of what (len a multiple of 16) occur in the file (0 if absent). */
static unsigned pieces_in(const char *name, const uint8_t *what, size_t len)
{
    struct kura_buf b = KURA_BUF_INIT(64u << 20);
    int r = kura_file_read_all(dfd, name, &b);
    if (r == -ENOENT) {
        return 0;
    }
    assert_int_equal(r, 0);
    unsigned found = 0;
    for (size_t off = 0; b.len > 0 && off < len; off += 16) {
        found += memmem(b.ptr, b.len, what + off, 16) != NULL;
    }
    kura_buf_release(&b);
    return found;
}

/* Crypto-shredding: once a version is removed and the log checkpointed, no piece of its header
 * is left in the database file or in the write-ahead log (secure_delete, the in-place zeroing
 * and wal_checkpoint(TRUNCATE) together). */
static void test_shredded_header(void **state)
{
    (void)state;
    uint64_t space, file;
    struct kura_meta *m = store_with_file(&space, &file);
    struct kura_version v = {.node = file, .blob = "b1", .key_id = "k1", .created_by = "x"};
    v.header_len = 124;
    for (size_t i = 0; i < v.header_len; i++) {
        v.header[i] = (uint8_t)(0xa5 ^ (i * 29 + 7)); /* no run of this occurs by chance */
    }
    static const char mark[] = "crypt4gh-header!"; /* 16 recognisable bytes as well */
    memcpy(v.header + 48, mark, 16);
    uint64_t id = 0;
    assert_int_equal(kura_meta_version_add(m, &v, &id), 0);
    /* The test can fail: the bytes are there before the removal. */
    assert_int_equal(pieces_in("kura.db", v.header, 112) + pieces_in("kura.db-wal", v.header, 112),
                     7);
    assert_int_equal(kura_meta_checkpoint(m), 0); /* now in the main file too */
    assert_int_equal(pieces_in("kura.db", v.header, 112), 7);

    assert_int_equal(kura_meta_version_remove(m, id), 0);
    assert_int_equal(kura_meta_checkpoint(m), 0);
    assert_int_equal(pieces_in("kura.db", v.header, 112), 0);
    assert_int_equal(pieces_in("kura.db-wal", v.header, 112), 0);
    struct stat st;
    assert_int_equal(fstatat(dfd, "kura.db-wal", &st, 0), 0);
    assert_int_equal(st.st_size, 0); /* TRUNCATE */
    m = kura_meta_close(m);
    assert_int_equal(pieces_in("kura.db", v.header, 112), 0);
}

/* A reader that keeps its snapshot prevents the log's truncation: KURA_EBUSY after the busy
 * timeout, and success once it is gone. */
static void test_checkpoint_busy(void **state)
{
    (void)state;
    uint64_t space, file;
    struct kura_meta *m = store_with_file(&space, &file);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN; SELECT count(*) FROM nodes;", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(kura_meta_space_charge(m, space, 1), 0); /* a frame the reader lacks */
    /* Without waiting: refused at once, where the waiting form takes the 5 s busy timeout. */
    int64_t t0 = kura_clock_mono_ms();
    assert_int_equal(kura_meta_checkpoint_try(m), KURA_EBUSY);
    assert_true(kura_clock_mono_ms() - t0 < 2000);
    assert_int_equal(kura_meta_checkpoint(m), KURA_EBUSY);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    (void)sqlite3_close(db);
    assert_int_equal(kura_meta_checkpoint(m), 0);
    m = kura_meta_close(m);
}

/* Kept statements (sqlite-stmt.c): the same query again inside a callback of itself gets a
 * statement of its own; SQL text rebuilt at the same address is not mistaken for the old text;
 * and a kept statement, once returned, holds no read of the database (a TRUNCATE checkpoint,
 * which crypto-shredding needs, succeeds). */
struct nested {
    struct kura_meta *m;
    uint64_t root;
    unsigned outer, inner;
};

static int count_inner(void *ctx, const struct kura_node *n)
{
    (void)n;
    ((struct nested *)ctx)->inner++;
    return 0;
}

static int list_again(void *ctx, const struct kura_node *n)
{
    struct nested *c = ctx;
    c->outer++;
    struct kura_node got;
    assert_int_equal(kura_meta_node_get(c->m, n->id, &got), 0);
    assert_string_equal(got.path, n->path);
    return kura_meta_node_children(c->m, c->root, count_inner, c);
}

static int stop_at_first(void *ctx, const struct kura_node *n)
{
    (void)n;
    ((struct nested *)ctx)->outer++;
    return 7; /* the statement is left on its first row */
}

static void test_statement_cache(void **state)
{
    (void)state;
    uint64_t space, file;
    struct kura_meta *m = store_with_file(&space, &file);
    struct kura_space sp;
    assert_int_equal(kura_meta_space_get(m, space, &sp), 0);
    struct kura_node g = {.space = space, .path = "g", .created_at = 1, .mtime = 1};
    uint64_t second;
    assert_int_equal(kura_meta_node_create(m, &g, &second), 0);
    for (int round = 0; round < 3; round++) {
        struct nested c = {m, sp.root, 0, 0};
        assert_int_equal(kura_meta_node_children(m, sp.root, list_again, &c), 0);
        assert_int_equal(c.outer, 2);
        assert_int_equal(c.inner, 4);
    }
    {
        META_SQLITE_LOCKED(m, h);
        char sql[32];
        int64_t v = 0;
        for (int64_t want = 1; want <= 3; want++) {
            (void)snprintf(sql, sizeof(sql), "SELECT %d", (int)want);
            assert_int_equal(meta_sqlite_one(h, sql, "", "i", &v), 1);
            assert_int_equal(v, want);
        }
    }
    struct nested c = {m, sp.root, 0, 0};
    assert_int_equal(kura_meta_node_children(m, sp.root, stop_at_first, &c), 7);
    assert_int_equal(kura_meta_node_children(m, sp.root, count_inner, &c), 0);
    assert_int_equal(c.inner, 2);
    assert_int_equal(kura_meta_space_charge(m, space, 1), 0);
    /* Another connection's TRUNCATE checkpoint: blocked (busy = 1) if a kept statement of m
     * still read an older snapshot. */
    sqlite3 *db = NULL;
    sqlite3_stmt *cp = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &cp, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(cp), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(cp, 0), 0);
    (void)sqlite3_finalize(cp);
    (void)sqlite3_close(db);
    struct stat st;
    assert_int_equal(fstatat(dfd, "kura.db-wal", &st, 0), 0);
    assert_int_equal(st.st_size, 0);
    m = kura_meta_close(m);
}

/* KURA_META_READERS: reads outside transactions go to reader connections. A write committed by
 * one thread is seen by the next read of any thread; a read inside a transaction sees the
 * transaction's own writes; a TRUNCATE checkpoint succeeds while other threads read. */
struct reading {
    struct kura_meta *m;
    uint64_t space;
    _Atomic bool stop;
    _Atomic unsigned reads;
    _Atomic int err;
};

static void *reader_thread(void *arg)
{
    struct reading *rd = arg;
    while (!atomic_load(&rd->stop)) {
        struct kura_node n;
        int r = kura_meta_node_lookup(rd->m, rd->space, "f", &n);
        if (r != 0) {
            atomic_store(&rd->err, r);
        }
        atomic_fetch_add(&rd->reads, 1);
    }
    return NULL;
}

static void test_reader_connections(void **state)
{
    (void)state;
    uint64_t space, file;
    struct kura_meta *m = store_with_file(&space, &file);
    m = kura_meta_close(m);
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_READERS, &m), 0);
    struct reading rd = {.m = m, .space = space};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, reader_thread, &rd), 0);
    }
    for (int i = 0; i < 50; i++) {
        char path[16];
        (void)snprintf(path, sizeof(path), "n%d", i);
        struct kura_node n = {.space = space, .path = "", .created_at = 1, .mtime = 1};
        (void)snprintf(n.path, sizeof(n.path), "%s", path);
        uint64_t id = 0;
        assert_int_equal(kura_meta_node_create(m, &n, &id), 0);
        struct kura_node got;
        assert_int_equal(kura_meta_node_lookup(m, space, path, &got), 0); /* committed: seen */
        assert_int_equal(got.id, id);
        assert_int_equal(kura_meta_txn_begin(m), 0);
        assert_int_equal(kura_meta_node_move(m, id, "moved"), 0);
        assert_int_equal(kura_meta_node_lookup(m, space, "moved", &got), 0); /* own write */
        kura_meta_txn_rollback(m);
        assert_int_equal(kura_meta_node_lookup(m, space, "moved", &got), KURA_ENOTFOUND);
        if (i % 10 == 9) {
            assert_int_equal(kura_meta_checkpoint(m), 0);
        }
    }
    atomic_store(&rd.stop, true);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    /* Another process's write (the CLI) is seen by the next read, also after that process,
     * closing, checked whether it was the database's last user (it must not be: opening the
     * readers must not have dropped this process's locks on the file). */
    for (int round = 0; round < 3; round++) {
        struct kura_account a;
        assert_int_equal(kura_meta_account_get(m, "a", &a), 0);
        /* This process's own write first: the page is then in the log this process maps. */
        static const char *const names[] = {"round 0", "round 1", "round 2"};
        const char *kept = a.display_name; /* owned by a: released below */
        a.display_name = names[round];
        assert_int_equal(kura_meta_account_update(m, &a), 0);
        a.display_name = kept;
        a.status = round % 2 ? KURA_ACCOUNT_STATUS_ACTIVE : KURA_ACCOUNT_STATUS_DISABLED;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct kura_meta *other = NULL;
            int r = kura_meta_open("sqlite", db_path, 0, &other);
            r = r == 0 ? kura_meta_account_update(other, &a) : r;
            other = kura_meta_close(other);
            _exit(r == 0 ? 0 : 1);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        kura_account_release(&a);
        assert_int_equal(kura_meta_account_get(m, "a", &a), 0);
        assert_int_equal(a.status,
                         round % 2 ? KURA_ACCOUNT_STATUS_ACTIVE : KURA_ACCOUNT_STATUS_DISABLED);
        kura_account_release(&a);
    }
    assert_int_equal(atomic_load(&rd.err), 0);
    assert_true(atomic_load(&rd.reads) > 0);
    m = kura_meta_close(m);
}

/* Opening a second handle on the database must not drop the first one's SQLite locks (closing
 * a plain descriptor of a file drops every POSIX lock the process holds on it): another process
 * still sees the first handle's shared lock. */
static bool other_process_sees_shared_lock(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(db_path, O_RDONLY | O_CLOEXEC);
        /* SQLite's SHARED range: PENDING_BYTE (1 GiB) + 2, 510 bytes. */
        struct flock fl = {
            .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0x40000002, .l_len = 510};
        _exit(fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_second_handle_keeps_locks(void **state)
{
    (void)state;
    uint64_t space, file;
    struct kura_meta *m = store_with_file(&space, &file);
    struct kura_space sp;
    assert_int_equal(kura_meta_space_get(m, space, &sp), 0);
    assert_true(other_process_sees_shared_lock());
    struct kura_meta *second = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_READERS, &second), 0);
    assert_true(other_process_sees_shared_lock());
    second = kura_meta_close(second);
    assert_true(other_process_sees_shared_lock());
    m = kura_meta_close(m);
}

/* A read snapshot (kura_meta_snapshot) keeps one read transaction on a reader: another
 * connection's write stays unseen until off; the thread's own write or transaction ends it
 * (it reads what it wrote), on any handle; on and off twice are harmless; a TRUNCATE checkpoint on
 * another thread waits for the snapshot to end instead of failing or deadlocking. */
static bool has_account(struct kura_meta *m, const char *id)
{
    struct kura_account a = {0};
    int r = kura_meta_account_get(m, id, &a);
    kura_account_release(&a);
    assert_true(r == 0 || r == KURA_ENOTFOUND);
    return r == 0;
}

/* Another connection's write, from another thread (this thread's own writes end its snapshot,
 * on any handle). */
struct creating {
    struct kura_meta *m;
    const char *id;
    int result;
};

static void *create_thread(void *arg)
{
    struct creating *c = arg;
    struct kura_account a = {.id = c->id};
    c->result = kura_meta_account_create(c->m, &a);
    return NULL;
}

static void create_elsewhere(struct kura_meta *m, const char *id)
{
    struct creating c = {m, id, 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, create_thread, &c), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(c.result, 0);
}

struct checkpointing {
    struct kura_meta *m;
    _Atomic bool started;
    int result;
};

static void *checkpoint_thread(void *arg)
{
    struct checkpointing *c = arg;
    atomic_store(&c->started, true);
    c->result = kura_meta_checkpoint(c->m);
    return NULL;
}

static void test_snapshot(void **state)
{
    (void)state;
    uint64_t space, file;
    struct kura_meta *m = store_with_file(&space, &file);
    m = kura_meta_close(m);
    assert_int_equal(kura_meta_open("sqlite", db_path, KURA_META_READERS, &m), 0);
    struct kura_meta *other = NULL;
    assert_int_equal(kura_meta_open("sqlite", db_path, 0, &other), 0);

    assert_true(kura_meta_snapshot(m, true));
    assert_true(kura_meta_snapshot(m, true));      /* still the one */
    assert_false(kura_meta_snapshot(other, true)); /* no readers: none kept */
    assert_true(has_account(m, "a"));
    create_elsewhere(other, "b");
    assert_false(has_account(m, "b")); /* the snapshot's moment */
    struct kura_node n;
    assert_int_equal(kura_meta_node_lookup(m, space, "f", &n), 0);
    assert_false(kura_meta_snapshot(m, false));
    assert_false(kura_meta_snapshot(m, false));
    assert_true(has_account(m, "b"));

    /* The thread's own write ends it: what it wrote and what others wrote before are seen. */
    kura_meta_snapshot(m, true);
    assert_true(has_account(m, "b"));
    struct kura_account d = {.id = "d"};
    create_elsewhere(other, "c");
    assert_false(has_account(m, "c"));
    assert_int_equal(kura_meta_account_create(m, &d), 0);
    assert_true(has_account(m, "d"));
    assert_true(has_account(m, "c"));
    kura_meta_snapshot(m, false);

    /* So does a transaction; reads inside it see its writes. */
    kura_meta_snapshot(m, true);
    assert_true(has_account(m, "a"));
    assert_int_equal(kura_meta_txn_begin(m), 0);
    struct kura_account e = {.id = "e"};
    assert_int_equal(kura_meta_account_create(m, &e), 0);
    assert_true(has_account(m, "e"));
    kura_meta_txn_rollback(m);
    assert_false(has_account(m, "e"));
    kura_meta_snapshot(m, false);

    /* A checkpoint waits for the snapshot (it needs every reader idle), then succeeds. */
    kura_meta_snapshot(m, true);
    assert_true(has_account(m, "a"));
    struct checkpointing cp = {.m = m, .result = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, checkpoint_thread, &cp), 0);
    while (!atomic_load(&cp.started)) {
        sched_yield();
    }
    assert_true(has_account(m, "d")); /* still readable meanwhile */
    kura_meta_snapshot(m, false);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(cp.result, 0);
    other = kura_meta_close(other);
    m = kura_meta_close(m);
}

/* The store schema's own guards, for writers that bypass meta. */
static void test_store_schema_guards(void **state)
{
    (void)state;
    uint64_t space, file;
    struct kura_meta *m = store_with_file(&space, &file);
    m = kura_meta_close(m);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    (void)sqlite3_extended_result_codes(db, 1);
    assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    static const struct {
        const char *sql;
        int rc;
    } cases[] = {
        {"INSERT INTO nodes (space, parent, path, folder, created_at, mtime, etag_counter) "
         "VALUES (1, 1, 'f', 0, 1, 1, 1)",
         SQLITE_CONSTRAINT_UNIQUE}, /* a second live 'f' */
        {"INSERT INTO nodes (space, parent, path, folder, created_at, mtime, etag_counter) "
         "VALUES (1, 1, 'a//b', 0, 1, 1, 1)",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO nodes (space, parent, path, folder, created_at, mtime, etag_counter) "
         "VALUES (1, 1, '/a', 0, 1, 1, 1)",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO nodes (space, parent, path, folder, created_at, mtime, etag_counter) "
         "VALUES (1, NULL, 'x', 1, 1, 1, 1)",
         SQLITE_CONSTRAINT_CHECK}, /* only the root has no parent */
        {"INSERT INTO nodes (space, parent, path, folder, created_at, mtime, etag_counter) "
         "VALUES (9, 1, 'x', 1, 1, 1, 1)",
         SQLITE_CONSTRAINT_FOREIGNKEY},
        {"UPDATE nodes SET trashed_at = 5 WHERE path = 'f'", SQLITE_CONSTRAINT_CHECK},
        {"UPDATE nodes SET trash_root = id, trashed_at = 5, trashed_by = 'x' WHERE path = ''",
         SQLITE_CONSTRAINT_CHECK}, /* the root is never trashed */
        {"UPDATE nodes SET size = 5 WHERE path = ''", SQLITE_CONSTRAINT_CHECK}, /* a folder */
        {"INSERT INTO versions (node, blob, header, key_id, size, segments, sha256, nonce_prefix, "
         "created_at, created_by) VALUES (2, 'b', zeroblob(4097), 'k', 1, 1, zeroblob(32), "
         "zeroblob(4), 1, 'x')",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO versions (node, blob, header, key_id, size, segments, sha256, nonce_prefix, "
         "created_at, created_by) VALUES (2, 'b', x'01', 'k', 1, 1, zeroblob(31), "
         "zeroblob(4), 1, 'x')",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO spaces (kind, owner, created_at) VALUES ('personal', 'a', 1)",
         SQLITE_CONSTRAINT_UNIQUE},
        {"INSERT INTO spaces (kind, owner, created_at) VALUES ('team', 'a', 1)",
         SQLITE_CONSTRAINT_CHECK},
        {"UPDATE spaces SET used_bytes = -1", SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO locks VALUES ('t', 1, 'p', 0, 'exclusive', 'nobody', NULL, 1, 2)",
         SQLITE_CONSTRAINT_FOREIGNKEY},
        {"INSERT INTO locks VALUES ('t', 1, 'p', 2, 'exclusive', 'a', NULL, 1, 2)",
         SQLITE_CONSTRAINT_CHECK},
        {"INSERT INTO store_counter VALUES (2, 0)", SQLITE_CONSTRAINT_CHECK},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        print_message("%s\n", cases[i].sql);
        assert_int_equal(sqlite3_exec(db, cases[i].sql, NULL, NULL, NULL), cases[i].rc);
    }
    (void)sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_created_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_open_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_bytes_are_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_pages_are_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_guards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test_setup_teardown(test_shredded_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_handle_keeps_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_schema_guards, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
