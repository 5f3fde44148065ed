/* test-db.h — the temporary SQLite store that the auth area's unit tests run on: a fresh,
 * migrated database in its own folder, removed afterwards (one per test, so tests stay
 * independent). Header-only: included by the test programs only. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "meta/meta.h"

struct test_db {
    char dir[64];
    char path[128];
};

/* Creates DIR/kura.db under /tmp/kura-<name>-XXXXXX, migrated; NULL on failure. */
static inline struct kura_meta *test_db_open(struct test_db *t, const char *name)
{
    struct kura_meta *m = NULL;
    (void)snprintf(t->dir, sizeof(t->dir), "/tmp/kura-%.20s-XXXXXX", name);
    if (!mkdtemp(t->dir)) {
        return NULL;
    }
    (void)snprintf(t->path, sizeof(t->path), "%s/kura.db", t->dir);
    if (kura_meta_open("sqlite", t->path, KURA_META_CREATE, &m) < 0 || kura_meta_migrate(m) < 0) {
        return kura_meta_close(m);
    }
    return m;
}

/* Closes m and removes the database, its WAL files and the folder; 0 when all went. */
static inline int test_db_close(struct test_db *t, struct kura_meta *m)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char path[160];
    kura_meta_close(m);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        (void)snprintf(path, sizeof(path), "%s%s", t->path, suffixes[i]);
        (void)unlink(path);
    }
    return rmdir(t->dir);
}
