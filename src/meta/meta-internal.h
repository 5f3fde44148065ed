/* meta-internal.h — shared by the meta area's backends and its tests, never by other areas.
 *
 * Defines the common head of every handle (the ops pointer), the migration record produced by
 * scripts/embed.py, and each backend's ops table and helpers.
 */
#pragma once

#include "meta/meta.h"

/* Every backend's handle embeds this first, so a struct kura_meta * is a pointer to it. */
struct kura_meta {
    const struct kura_meta_ops *ops;
};

/* One embedded migration: src/meta/sql/<backend>/NNNN-name.sql -> {NNNN, "NNNN-name", text}. */
struct kura_meta_migration {
    unsigned version;
    const char *name;
    const char *sql;
};

/* ---- sqlite backend (sqlite.c, sqlite-migrations.c generated at build time) --------------- */

extern const struct kura_meta_ops kura_meta_sqlite_ops;

/* The embedded SQLite migrations, ordered by version 1..count. */
const struct kura_meta_migration *kura_meta_sqlite_migrations(size_t *ret_count);

/* Maps an SQLite (extended) result code to a kura code; sys_errno is sqlite3_system_errno(),
 * used for I/O and open failures when non-zero. Never returns 0 for an error code. */
int kura_meta_sqlite_error(int rc, int sys_errno);

/* ---- validation shared by backends (meta.c) ----------------------------------------------- */

/* Checks a text argument: NUL-terminated, min..max bytes (KURA_ETOOBIG above max, -EINVAL
 * below min), valid UTF-8 without control bytes (tab allowed when asked). NULL counts as "". */
KURA_MUST_CHECK int kura_meta_check_text(const char *s, size_t min, size_t max, bool allow_tab);

/* Checks an account record against the limits of meta.h before a backend stores it. */
KURA_MUST_CHECK int kura_meta_account_check(const struct kura_account *a);

/* Checks an install key / value against the limits of meta.h. */
KURA_MUST_CHECK int kura_meta_install_check(const char *key, const char *value);
