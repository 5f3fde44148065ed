/* sqlite-store-data.c — the file store in SQLite, continued (sqlite-store.c has the tree):
 * versions with their Crypt4GH headers (and their shredding), WebDAV dead properties and locks.
 */
#include "meta/sqlite-internal.h"

#include <assert.h>
#include <string.h>

/* 0 when node id exists (live or trashed), else KURA_ENOTFOUND; *ret_folder (may be NULL):
 * whether it is a folder. */
static int node_kind(struct sqlite_meta *h, uint64_t id, bool *ret_folder)
{
    bool folder = false;
    int r = meta_sqlite_one(h, "SELECT folder FROM nodes WHERE id = ?1", "i", "f",
                            meta_sqlite_id(id), &folder);
    if (r == 1 && ret_folder) {
        *ret_folder = folder;
    }
    return r < 0 ? r : r == 1 ? 0 : KURA_ENOTFOUND;
}

static int node_exists(struct sqlite_meta *h, uint64_t id)
{
    return node_kind(h, id, NULL);
}

/* ---- versions ----------------------------------------------------------------------------- */

#define VERSION_SELECT                                                                             \
    "SELECT id, node, blob, header, key_id, size, segments, sha256, nonce_prefix, created_at, "    \
    "created_by, corrupt_at FROM versions "

/* Reads a version row (VERSION_SELECT) into *v. 1: a row, 0: done, < 0: error. */
static int version_row(struct sqlite_meta *h, sqlite3_stmt *s, struct kura_version *v)
{
    int64_t id, node, size, segments;
    const char *blob = NULL, *key_id = NULL, *by = NULL;
    int r = meta_sqlite_row(h, s, "iit-tiih-itT", &id, &node, &blob, &key_id, &size, &segments,
                            v->sha256, &v->created_at, &by, &v->corrupt_at);
    if (r <= 0) {
        return r;
    }
    size_t nonce_len = 0;
    r = meta_sqlite_column_blob(s, 3, v->header, 0, sizeof(v->header), &v->header_len);
    if (r == 0) {
        r = meta_sqlite_column_blob(s, 8, v->nonce_prefix, sizeof(v->nonce_prefix),
                                    sizeof(v->nonce_prefix), &nonce_len);
    }
    if (r == 0 && (id <= 0 || node <= 0 || size < 0 || segments < 0)) {
        r = KURA_ECORRUPT;
    }
    if (r == 0) {
        r = meta_sqlite_copy_field(v->blob, sizeof(v->blob), blob);
    }
    if (r == 0) {
        r = meta_sqlite_copy_field(v->key_id, sizeof(v->key_id), key_id);
    }
    if (r == 0) {
        r = meta_sqlite_copy_field(v->created_by, sizeof(v->created_by), by);
    }
    if (r < 0) {
        return r;
    }
    v->id = (uint64_t)id;
    v->node = (uint64_t)node;
    v->size = (uint64_t)size;
    v->segments = (uint64_t)segments;
    return 1;
}

static void version_wipe(struct kura_version *v)
{
    kura_wipe(v, sizeof(*v));
}

/* Streams the versions of a prepared VERSION_SELECT statement to fn. Every record passes the
 * same buffer, which holds a header: wiped afterwards (it is a wrapped key, not a secret, but
 * there is no reason to leave copies on the stack). */
static int version_rows(struct sqlite_meta *h, sqlite3_stmt *s, kura_version_fn fn, void *ctx)
{
    _cleanup_(version_wipe) struct kura_version v;
    int r;
    while ((r = version_row(h, s, &v)) == 1) {
        r = fn(ctx, &v);
        if (r != 0) {
            break;
        }
    }
    return r;
}

int meta_sqlite_version_add(struct kura_meta *m, const struct kura_version *v, uint64_t *ret_id)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    int64_t id = 0;
    bool folder = false;
    r = node_kind(h, v->node, &folder);
    if (r == 0 && folder) {
        r = -EISDIR;
    }
    if (r == 0) {
        r = meta_sqlite_one(
            h,
            "INSERT INTO versions (node, blob, header, key_id, size, segments, sha256, "
            "nonce_prefix, created_at, created_by) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
            "itbtiihbit", "i", meta_sqlite_id(v->node), v->blob, v->header, v->header_len,
            v->key_id, meta_sqlite_id(v->size), meta_sqlite_id(v->segments), v->sha256,
            v->nonce_prefix, sizeof(v->nonce_prefix), v->created_at, v->created_by, &id);
        r = r < 0 ? r : r == 1 ? 0 : KURA_EINTERNAL;
    }
    r = meta_sqlite_txn_end(m, r);
    if (r == 0) {
        *ret_id = (uint64_t)id;
    }
    return r;
}

int meta_sqlite_version_get(struct kura_meta *m, uint64_t id, struct kura_version *ret)
{
    META_SQLITE_READ(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(h, &s, VERSION_SELECT "WHERE id = ?1", "i", meta_sqlite_id(id));
    _cleanup_(version_wipe) struct kura_version v;
    if (r == 0) {
        r = version_row(h, s, &v);
    }
    if (r <= 0) {
        return r < 0 ? r : KURA_ENOTFOUND;
    }
    *ret = v;
    return 0;
}

int meta_sqlite_version_list(struct kura_meta *m, uint64_t node, kura_version_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    int r = node_exists(h, node);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    if (r == 0) {
        r = meta_sqlite_prepare(h, &s, VERSION_SELECT "WHERE node = ?1 ORDER BY id DESC", "i",
                                meta_sqlite_id(node));
    }
    return r < 0 ? r : version_rows(h, s, fn, ctx);
}

int meta_sqlite_version_remove(struct kura_meta *m, uint64_t id)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    int64_t live = 0, trashed = 0;
    r = meta_sqlite_one(
        h,
        "SELECT (SELECT count(*) FROM nodes WHERE version = v.id AND trash_root IS NULL), "
        "(SELECT count(*) FROM nodes WHERE version = v.id AND trash_root IS NOT NULL) "
        "FROM versions v WHERE v.id = ?1",
        "i", "ii", meta_sqlite_id(id), &live, &trashed);
    r = r < 0 ? r : r == 0 ? KURA_ENOTFOUND : live > 0 ? KURA_ECONFLICT : 0;
    if (r == 0 && trashed > 0) {
        /* A purge: the trashed file it was current for becomes a file without content. */
        r = meta_sqlite_exec(
            h, NULL, "UPDATE nodes SET version = NULL, size = 0, sha256 = NULL WHERE version = ?1",
            "i", meta_sqlite_id(id));
    }
    if (r == 0) {
        /* Zeroes in place first, so that the cell holding the header is overwritten before it
         * is freed (secure_delete then zeroes the freed space as well). */
        r = meta_sqlite_exec(h, NULL,
                             "UPDATE versions SET header = zeroblob(length(header)) WHERE id = ?1",
                             "i", meta_sqlite_id(id));
    }
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL, "DELETE FROM versions WHERE id = ?1", "i",
                             meta_sqlite_id(id));
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_version_set_header(struct kura_meta *m, uint64_t id, const uint8_t *header,
                                   size_t len, const char *key_id)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(h, "UPDATE versions SET header = ?2, key_id = ?3 WHERE id = ?1",
                                  "ibt", meta_sqlite_id(id), header, len, key_id);
}

int meta_sqlite_versions_by_key(struct kura_meta *m, const char *key_id, uint64_t after,
                                uint32_t limit, kura_version_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(h, &s,
                                VERSION_SELECT "WHERE key_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                                "tii", key_id, meta_sqlite_id(after), (int64_t)limit);
    return r < 0 ? r : version_rows(h, s, fn, ctx);
}

int meta_sqlite_versions_all(struct kura_meta *m, uint64_t after, uint32_t limit,
                             kura_version_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(h, &s, VERSION_SELECT "WHERE id > ?1 ORDER BY id LIMIT ?2", "ii",
                                meta_sqlite_id(after), (int64_t)limit);
    return r < 0 ? r : version_rows(h, s, fn, ctx);
}

int meta_sqlite_version_flag_corrupt(struct kura_meta *m, uint64_t id, int64_t at)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(
        h, "UPDATE versions SET corrupt_at = coalesce(corrupt_at, ?2) WHERE id = ?1", "ii",
        meta_sqlite_id(id), at);
}

int meta_sqlite_blob_referenced(struct kura_meta *m, const char *blob, bool *ret)
{
    META_SQLITE_LOCKED(m, h);
    bool found = false;
    int r = meta_sqlite_one(h, "SELECT EXISTS (SELECT 1 FROM versions WHERE blob = ?1)", "t", "f",
                            blob, &found);
    if (r < 0) {
        return r;
    }
    *ret = found;
    return 0;
}

/* ---- dead properties ---------------------------------------------------------------------- */

int meta_sqlite_prop_set(struct kura_meta *m, uint64_t node, const char *ns, const char *name,
                         const char *value)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    int64_t count = 0, same = 0;
    r = node_exists(h, node);
    if (r == 0) {
        r = meta_sqlite_one(h,
                            "SELECT count(*), coalesce(sum(ns = ?2 AND name = ?3), 0) FROM props "
                            "WHERE node = ?1",
                            "itt", "ii", meta_sqlite_id(node), ns, name, &count, &same);
        r = r < 0 ? r : r == 1 ? 0 : KURA_EINTERNAL;
    }
    if (r == 0 && same == 0 && count >= (int64_t)KURA_META_PROPS_MAX) {
        r = KURA_ETOOBIG;
    }
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL,
                             "INSERT INTO props (node, ns, name, value) VALUES (?1, ?2, ?3, ?4) "
                             "ON CONFLICT (node, ns, name) DO UPDATE SET value = excluded.value",
                             "ittt", meta_sqlite_id(node), ns, name, value);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_prop_remove(struct kura_meta *m, uint64_t node, const char *ns, const char *name)
{
    META_SQLITE_LOCKED(m, h);
    int r = node_exists(h, node);
    return r < 0 ? r
                 : meta_sqlite_exec(h, NULL,
                                    "DELETE FROM props WHERE node = ?1 AND ns = ?2 AND name = ?3",
                                    "itt", meta_sqlite_id(node), ns, name);
}

int meta_sqlite_prop_get(struct kura_meta *m, uint64_t node, const char *ns, const char *name,
                         char **ret_value)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    const char *value = NULL;
    int r = node_exists(h, node);
    if (r == 0) {
        r = meta_sqlite_prepare(h, &s,
                                "SELECT value FROM props WHERE node = ?1 AND ns = ?2 AND name = ?3",
                                "itt", meta_sqlite_id(node), ns, name);
    }
    if (r == 0) {
        r = meta_sqlite_row(h, s, "t", &value);
        r = r < 0 ? r : r == 1 ? 0 : KURA_ENOTFOUND;
    }
    if (r < 0 || !value) {
        return r < 0 ? r : KURA_ECORRUPT;
    }
    char *copy = kura_strdup(value);
    if (!copy) {
        return -ENOMEM;
    }
    *ret_value = copy;
    return 0;
}

int meta_sqlite_prop_list(struct kura_meta *m, uint64_t node, kura_prop_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = node_exists(h, node);
    if (r == 0) {
        r = meta_sqlite_prepare(
            h, &s, "SELECT ns, name, value FROM props WHERE node = ?1 ORDER BY ns, name", "i",
            meta_sqlite_id(node));
    }
    struct kura_prop p = {0};
    while (r == 0 && (r = meta_sqlite_row(h, s, "ttt", &p.ns, &p.name, &p.value)) == 1) {
        r = fn(ctx, &p);
    }
    return r;
}

int meta_sqlite_prop_copy(struct kura_meta *m, uint64_t from, uint64_t to)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    r = node_exists(h, from);
    if (r == 0) {
        r = node_exists(h, to);
    }
    if (r == 0 && from != to) {
        r = meta_sqlite_exec(h, NULL, "DELETE FROM props WHERE node = ?1", "i", meta_sqlite_id(to));
        if (r == 0) {
            r = meta_sqlite_exec(h, NULL,
                                 "INSERT INTO props (node, ns, name, value) "
                                 "SELECT ?2, ns, name, value FROM props WHERE node = ?1",
                                 "ii", meta_sqlite_id(from), meta_sqlite_id(to));
        }
    }
    return meta_sqlite_txn_end(m, r);
}

/* ---- locks -------------------------------------------------------------------------------- */

#define LOCK_SELECT                                                                                \
    "SELECT token, space, path, infinite, scope, owner, owner_xml, created_at, expires_at "        \
    "FROM locks "

/* Reads a lock row (LOCK_SELECT); owner_xml is borrowed from the statement. */
static int lock_row(struct sqlite_meta *h, sqlite3_stmt *s, struct kura_lock *l)
{
    const char *token = NULL, *path = NULL, *scope = NULL, *owner = NULL;
    int64_t space;
    int r = meta_sqlite_row(h, s, "titfttnii", &token, &space, &path, &l->infinite, &scope, &owner,
                            &l->owner_xml, &l->created_at, &l->expires_at);
    if (r <= 0) {
        return r;
    }
    if (strcmp(scope, "exclusive") == 0) {
        l->scope = KURA_LOCK_EXCLUSIVE;
    } else if (strcmp(scope, "shared") == 0) {
        l->scope = KURA_LOCK_SHARED;
    } else {
        return KURA_ECORRUPT;
    }
    l->space = (uint64_t)space;
    r = meta_sqlite_copy_field(l->token, sizeof(l->token), token);
    if (r == 0) {
        r = meta_sqlite_copy_field(l->path, sizeof(l->path), path);
    }
    if (r == 0) {
        r = meta_sqlite_copy_field(l->owner, sizeof(l->owner), owner);
    }
    return r < 0 ? r : space > 0 ? 1 : KURA_ECORRUPT;
}

int meta_sqlite_lock_create(struct kura_meta *m, const struct kura_lock *l)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    int64_t space = 0, owner = 0;
    r = meta_sqlite_one(
        h, "SELECT (SELECT 1 FROM spaces WHERE id = ?1), (SELECT 1 FROM accounts WHERE id = ?2)",
        "it", "TT", meta_sqlite_id(l->space), l->owner, &space, &owner);
    r = r < 0 ? r : space == 1 && owner == 1 ? 0 : KURA_ENOTFOUND;
    if (r == 0) {
        r = meta_sqlite_exec(
            h, NULL,
            "INSERT INTO locks (token, space, path, infinite, scope, owner, owner_xml, "
            "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            "tititttii", l->token, meta_sqlite_id(l->space), l->path, (int64_t)l->infinite,
            l->scope == KURA_LOCK_SHARED ? "shared" : "exclusive", l->owner, l->owner_xml,
            l->created_at, l->expires_at);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_lock_get(struct kura_meta *m, const char *token, int64_t now, struct kura_lock *ret)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(h, &s, LOCK_SELECT "WHERE token = ?1 AND expires_at > ?2", "ti",
                                token, now);
    struct kura_lock l = {0};
    if (r == 0) {
        r = lock_row(h, s, &l);
    }
    if (r <= 0) {
        return r < 0 ? r : KURA_ENOTFOUND;
    }
    if (l.owner_xml) {
        l.owner_xml = kura_strdup(l.owner_xml);
        if (!l.owner_xml) {
            return -ENOMEM;
        }
    }
    *ret = l;
    return 0;
}

int meta_sqlite_lock_covering(struct kura_meta *m, uint64_t space, const char *path,
                              bool descendants, int64_t now, kura_lock_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    /* ?2 is the path asked about. A lock's path is an ancestor of it when ?2 starts with the
     * lock's path plus '/' (the root "" is everybody's ancestor); a descendant the other way
     * round. */
    int r = meta_sqlite_prepare(h, &s,
                                LOCK_SELECT "WHERE space = ?1 AND expires_at > ?3 AND (path = ?2 "
                                            "OR (infinite = 1 AND ((path = '' AND ?2 <> '') "
                                            "OR substr(?2, 1, length(path) + 1) = path || '/')) "
                                            "OR (?4 = 1 AND ((?2 = '' AND path <> '') "
                                            "OR substr(path, 1, length(?2) + 1) = ?2 || '/'))) "
                                            "ORDER BY path, token",
                                "itii", meta_sqlite_id(space), path, now, (int64_t)descendants);
    struct kura_lock l;
    while (r == 0 && (r = lock_row(h, s, &l)) == 1) {
        r = fn(ctx, &l);
    }
    return r;
}

int meta_sqlite_lock_refresh(struct kura_meta *m, const char *token, int64_t expires_at)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(h, "UPDATE locks SET expires_at = ?2 WHERE token = ?1", "ti",
                                  token, expires_at);
}

int meta_sqlite_lock_remove(struct kura_meta *m, const char *token)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(h, "DELETE FROM locks WHERE token = ?1", "t", token);
}

int meta_sqlite_lock_prune(struct kura_meta *m, int64_t now, uint64_t *ret_pruned)
{
    META_SQLITE_LOCKED(m, h);
    int64_t n = 0;
    int r = meta_sqlite_exec(h, &n, "DELETE FROM locks WHERE expires_at <= ?1", "i", now);
    if (r == 0) {
        *ret_pruned = (uint64_t)n;
    }
    return r;
}
