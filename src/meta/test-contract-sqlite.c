/* The store contract suite (meta-contract.c) run against the SQLite backend on temp files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "meta/meta-contract.h"

static int target_new(char **ret_target)
{
    char dir[] = "/tmp/kura-meta-XXXXXX";
    if (!mkdtemp(dir)) {
        return -errno;
    }
    struct kura_buf b = KURA_BUF_INIT(256);
    kura_buf_addf(&b, "%s/kura.db", dir);
    if (kura_buf_err(&b) < 0) {
        kura_buf_release(&b);
        return -ENOMEM;
    }
    *ret_target = kura_buf_detach(&b, NULL);
    return *ret_target ? 0 : -ENOMEM;
}

static void target_free(char *target)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char path[512];
    for (size_t i = 0; i < KURA_ARRAY_SIZE(suffixes); i++) {
        (void)snprintf(path, sizeof(path), "%s%s", target, suffixes[i]);
        (void)unlink(path);
    }
    char *slash = strrchr(target, '/');
    if (slash) {
        *slash = '\0';
        (void)rmdir(target);
    }
    kura_free(target);
}

static int force_version(const char *target, unsigned v)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(target, &db, SQLITE_OPEN_READWRITE, NULL);
    sqlite3_stmt *s = NULL;
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO schema_version (version, name, applied_at) "
                                "VALUES (?1, 'from-the-future', '2099-01-01T00:00:00.000Z')",
                                -1, &s, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(s, 1, v);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    (void)sqlite3_finalize(s);
    (void)sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : KURA_EINTERNAL;
}

static int dump_table(sqlite3 *db, const char *table, struct kura_buf *b)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", table);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        return KURA_EINTERNAL;
    }
    int rc = sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        kura_buf_addf(b, "%s:", table);
        for (int i = 0; i < sqlite3_column_count(s); i++) {
            const unsigned char *t = sqlite3_column_text(s, i);
            kura_buf_addf(b, " [%s]", t ? (const char *)t : "NULL");
        }
        kura_buf_addc(b, '\n');
    }
    (void)sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : KURA_EINTERNAL;
}

static int dump(const char *target, char **ret)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(target, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        (void)sqlite3_close(db);
        return KURA_EINTERNAL;
    }
    struct kura_buf b = KURA_BUF_INIT(1 << 24);
    sqlite3_stmt *s = NULL;
    int r = 0;
    if (sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_schema ORDER BY type, name", -1,
                           &s, NULL) != SQLITE_OK) {
        r = KURA_EINTERNAL;
    }
    while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        const char *sql = (const char *)sqlite3_column_text(s, 2);
        kura_buf_addf(&b, "%s %s: %s\n", type, name, sql ? sql : "-");
        if (strcmp(type, "table") == 0) {
            r = dump_table(db, name, &b);
        }
    }
    (void)sqlite3_finalize(s);
    (void)sqlite3_close(db);
    if (r == 0) {
        r = kura_buf_err(&b);
    }
    if (r < 0) {
        kura_buf_release(&b);
        return r;
    }
    *ret = kura_buf_detach(&b, NULL);
    return *ret ? 0 : -ENOMEM;
}

int main(void)
{
    static const struct meta_contract_fixture sqlite_fixture = {
        .backend = "sqlite",
        .target_new = target_new,
        .target_free = target_free,
        .force_version = force_version,
        .dump = dump,
    };
    return meta_contract_run(&sqlite_fixture);
}
