/* sqlite-store.c — the file store in SQLite (meta.h, "the file store"; schema in
 * sql/sqlite/0009-store.sql): spaces, the node tree with its trash, and the checkpoint that
 * completes a shredding. Versions, dead properties and locks are in sqlite-store-data.c; both
 * use the statement helpers of sqlite-stmt.c (format strings for parameters and columns, so each
 * statement and its arguments fit on one screen).
 *
 * The tree: every node stores its full path. A subtree is "the node's path, or a path that
 * starts with it plus '/'", written as substr(path, 1, length(p) + 1) = p || '/' — never LIKE,
 * whose '%' and '_' are legal in names — inside the range p <= path < p || '0' ('0' follows
 * '/' in byte order), which holds the whole subtree and lets SQLite walk the (space, path)
 * index instead of the whole space. Moves and restores rewrite the subtree's
 * paths in one UPDATE. Trashing marks a subtree with trash_root = its top node; a trashed
 * subtree keeps its paths, which stay unique within it, so "same trash_root and path prefix"
 * names a part of it for a partial restore.
 *
 * Etags: one counter per database (store_counter) is raised once per change; the changed node
 * and every ancestor (found by parent links) take the new value, and the etag shown is
 * "<id hex>-<counter hex>". The counter never goes back, so a node never shows an etag twice.
 *
 * Concurrency: every function holds the handle's lock; functions of more than one statement run
 * in a transaction (BEGIN IMMEDIATE, or a savepoint inside the caller's), and space_charge is
 * one conditional UPDATE, so the quota holds against other processes too.
 */
#include "meta/sqlite-internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- rows --------------------------------------------------------------------------------- */

#define NODE_SELECT                                                                                \
    "SELECT n.id, n.space, n.parent, n.path, n.folder, n.version, n.size, n.sha256, "              \
    "n.created_at, n.mtime, n.etag_counter, n.trashed_at, n.trashed_by "

/* Reads a node row (NODE_SELECT) into *n. 1: a row, 0: done, < 0: error. */
static int node_row(struct sqlite_meta *h, sqlite3_stmt *s, struct kura_node *n)
{
    int64_t id, space, parent, version, size, counter;
    const char *path = NULL, *by = NULL;
    int r =
        meta_sqlite_row(h, s, "iiTtfTiHiiiTn", &id, &space, &parent, &path, &n->folder, &version,
                        &size, n->sha256, &n->created_at, &n->mtime, &counter, &n->trashed_at, &by);
    if (r <= 0) {
        return r;
    }
    if (id <= 0 || space <= 0 || parent < 0 || version < 0 || size < 0 || counter <= 0) {
        return KURA_ECORRUPT;
    }
    n->id = (uint64_t)id;
    n->space = (uint64_t)space;
    n->parent = (uint64_t)parent;
    n->version = (uint64_t)version;
    n->size = (uint64_t)size;
    char a[KURA_NUM_STR_MAX], b[KURA_NUM_STR_MAX]; /* "<id hex>-<counter hex>", no printf */
    size_t la = strlen(kura_fmt_x64(a, (uint64_t)id)),
           lb = strlen(kura_fmt_x64(b, (uint64_t)counter));
    _Static_assert(sizeof(n->etag) > 2 * 16 + 1, "two 64-bit hex numbers and a dash");
    memcpy(n->etag, a, la);
    n->etag[la] = '-';
    memcpy(n->etag + la + 1, b, lb + 1);
    r = meta_sqlite_copy_field(n->path, sizeof(n->path), path);
    if (r == 0) {
        r = meta_sqlite_copy_field(n->trashed_by, sizeof(n->trashed_by), by ? by : "");
    }
    return r < 0 ? r : 1;
}

/* Streams the nodes of a prepared NODE_SELECT statement to fn. */
static int node_rows(struct sqlite_meta *h, sqlite3_stmt *s, kura_node_fn fn, void *ctx)
{
    struct kura_node n;
    int r;
    while ((r = node_row(h, s, &n)) == 1) {
        r = fn(ctx, &n);
        if (r != 0) {
            return r;
        }
    }
    return r;
}

/* Runs a NODE_SELECT statement for one node: KURA_ENOTFOUND when there is none. */
static int node_one(struct sqlite_meta *h, struct kura_node *ret, const char *sql, const char *fmt,
                    ...)
{
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = meta_sqlite_vprepare(h, &s, sql, fmt, &ap);
    va_end(ap);
    struct kura_node n;
    if (r == 0) {
        r = node_row(h, s, &n);
    }
    if (r <= 0) {
        return r < 0 ? r : KURA_ENOTFOUND;
    }
    *ret = n;
    return 0;
}

/* What the tree operations need to know about a node. */
struct nref {
    int64_t id, space, parent, trash_root; /* parent 0: the root; trash_root 0: live */
    bool folder;
    char path[KURA_META_PATH_MAX + 1];
};

static int nref_get(struct sqlite_meta *h, int64_t id, struct nref *ret)
{
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(
        h, &s, "SELECT id, space, parent, trash_root, folder, path FROM nodes WHERE id = ?1", "i",
        id);
    const char *path = NULL;
    if (r == 0) {
        r = meta_sqlite_row(h, s, "iiTTft", &ret->id, &ret->space, &ret->parent, &ret->trash_root,
                            &ret->folder, &path);
    }
    if (r <= 0) {
        return r < 0 ? r : KURA_ENOTFOUND;
    }
    return meta_sqlite_copy_field(ret->path, sizeof(ret->path), path);
}

/* A live node (what move, trash and set_content act on): KURA_ENOTFOUND when trashed. */
static int nref_live(struct sqlite_meta *h, int64_t id, struct nref *ret)
{
    int r = nref_get(h, id, ret);
    return r < 0 ? r : ret->trash_root != 0 ? KURA_ENOTFOUND : 0;
}

/* The next value of the change counter: one per change, whatever it touches. */
static int next_counter(struct sqlite_meta *h, int64_t *ret)
{
    int r = meta_sqlite_one(
        h, "UPDATE store_counter SET value = value + 1 WHERE id = 1 RETURNING value", "", "i", ret);
    return r < 0 ? r : r == 1 ? 0 : KURA_ECORRUPT;
}

/* Gives node `from` and every ancestor the etag counter c. from 0: nothing (the root's parent). */
static int touch_up(struct sqlite_meta *h, int64_t from, int64_t c)
{
    if (from == 0) {
        return 0;
    }
    return meta_sqlite_exec(
        h, NULL,
        "WITH RECURSIVE up(id) AS (SELECT ?1 UNION SELECT n.parent FROM nodes n "
        "JOIN up ON n.id = up.id WHERE n.parent IS NOT NULL) "
        "UPDATE nodes SET etag_counter = ?2 WHERE id IN (SELECT id FROM up)",
        "ii", from, c);
}

/* Raises the counter once and touches the chains above each of from1 and from2 (0: none). */
static int touch(struct sqlite_meta *h, int64_t from1, int64_t from2)
{
    int64_t c = 0;
    int r = next_counter(h, &c);
    if (r == 0) {
        r = touch_up(h, from1, c);
    }
    return r < 0 ? r : touch_up(h, from2, c);
}

/* The live node at (space, path): its id and kind. KURA_ENOTFOUND when none. */
static int live_at(struct sqlite_meta *h, int64_t space, const char *path, size_t len,
                   int64_t *ret_id, bool *ret_folder)
{
    int r = meta_sqlite_one(h,
                            "SELECT id, folder FROM nodes WHERE space = ?1 AND path = ?2 "
                            "AND trash_root IS NULL",
                            "is", "if", space, path, len, ret_id, ret_folder);
    return r < 0 ? r : r == 1 ? 0 : KURA_ENOTFOUND;
}

/* The live folder that would hold `path` (its parent path): KURA_ECONFLICT when there is none. */
static int parent_folder(struct sqlite_meta *h, int64_t space, const char *path, int64_t *ret)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    bool folder = false;
    int r = live_at(h, space, path, len, ret, &folder);
    if (r == KURA_ENOTFOUND || (r == 0 && !folder)) {
        return KURA_ECONFLICT;
    }
    return r;
}

/* ---- spaces ------------------------------------------------------------------------------- */

#define SPACE_SELECT                                                                               \
    "SELECT s.id, s.kind, s.owner, (SELECT id FROM nodes WHERE space = s.id AND parent IS NULL), " \
    "s.quota_bytes, s.used_bytes, s.created_at FROM spaces s "

static int space_one(struct sqlite_meta *h, int64_t sid, struct kura_space *ret)
{
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(h, &s, SPACE_SELECT "WHERE s.id = ?1", "i", sid);
    const char *kind = NULL, *owner = NULL;
    int64_t id = 0, root = 0, quota = 0, used = 0;
    struct kura_space sp = {0};
    if (r == 0) {
        r = meta_sqlite_row(h, s, "ittTiii", &id, &kind, &owner, &root, &quota, &used,
                            &sp.created_at);
    }
    if (r <= 0) {
        return r < 0 ? r : KURA_ENOTFOUND;
    }
    if (root <= 0 || quota < 0 || used < 0 || !kind) {
        return KURA_ECORRUPT;
    }
    if (strcmp(kind, "personal") == 0) {
        sp.kind = KURA_SPACE_PERSONAL;
    } else if (strcmp(kind, "dataset") == 0) {
        sp.kind = KURA_SPACE_DATASET;
    } else {
        return KURA_ECORRUPT;
    }
    sp.id = (uint64_t)id;
    sp.root = (uint64_t)root;
    sp.quota_bytes = (uint64_t)quota;
    sp.used_bytes = (uint64_t)used;
    r = meta_sqlite_copy_field(sp.owner, sizeof(sp.owner), owner);
    if (r == 0) {
        *ret = sp;
    }
    return r;
}

int meta_sqlite_space_personal(struct kura_meta *m, const char *account, uint64_t quota,
                               int64_t now, struct kura_space *ret)
{
    {
        /* Every WebDAV request asks: the common case (it exists) is one read, on a reader. */
        META_SQLITE_READ(m, rh);
        int64_t found = 0;
        int r = meta_sqlite_one(rh, "SELECT id FROM spaces WHERE kind = 'personal' AND owner = ?1",
                                "t", "i", account, &found);
        if (r == 1) {
            return space_one(rh, found, ret);
        }
    }
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    r = meta_sqlite_one(h, "SELECT 1 FROM accounts WHERE id = ?1", "t", "", account);
    r = r < 0 ? r : r == 1 ? 0 : KURA_ENOTFOUND;
    int64_t id = 0, c = 0;
    if (r == 0) {
        r = meta_sqlite_one(h, "SELECT id FROM spaces WHERE kind = 'personal' AND owner = ?1", "t",
                            "i", account, &id);
    }
    if (r == 0) {
        /* First use: the space and its root folder, in this transaction. */
        r = meta_sqlite_one(h,
                            "INSERT INTO spaces (kind, owner, quota_bytes, created_at) "
                            "VALUES ('personal', ?1, ?2, ?3) RETURNING id",
                            "tii", "i", account, meta_sqlite_id(quota), now, &id);
        r = r < 0 ? r : next_counter(h, &c);
        if (r == 0) {
            r = meta_sqlite_exec(
                h, NULL,
                "INSERT INTO nodes (space, path, folder, created_at, mtime, etag_counter) "
                "VALUES (?1, '', 1, ?2, ?2, ?3)",
                "iii", id, now, c);
        }
    }
    if (r >= 0) {
        r = space_one(h, id, ret);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_space_get(struct kura_meta *m, uint64_t id, struct kura_space *ret)
{
    META_SQLITE_READ(m, h);
    return space_one(h, meta_sqlite_id(id), ret);
}

int meta_sqlite_space_charge(struct kura_meta *m, uint64_t id, int64_t delta)
{
    META_SQLITE_LOCKED(m, h);
    /* One statement: the quota check and the charge cannot be separated by another writer.
     * The last term keeps used_bytes + delta from overflowing into a REAL. */
    int64_t changed = 0;
    int r =
        meta_sqlite_exec(h, &changed,
                         "UPDATE spaces SET used_bytes = max(used_bytes + ?2, 0) WHERE id = ?1 AND "
                         "(?2 <= 0 OR ((quota_bytes = 0 OR used_bytes + ?2 <= quota_bytes) AND "
                         "used_bytes <= 9223372036854775807 - ?2))",
                         "ii", meta_sqlite_id(id), delta);
    if (r < 0 || changed > 0) {
        return r;
    }
    r = meta_sqlite_one(h, "SELECT 1 FROM spaces WHERE id = ?1", "i", "", meta_sqlite_id(id));
    return r < 0 ? r : r == 1 ? KURA_EQUOTA : KURA_ENOTFOUND;
}

int meta_sqlite_space_set_quota(struct kura_meta *m, uint64_t id, uint64_t quota)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(h, "UPDATE spaces SET quota_bytes = ?2 WHERE id = ?1", "ii",
                                  meta_sqlite_id(id), meta_sqlite_id(quota));
}

/* ---- nodes: reading ----------------------------------------------------------------------- */

int meta_sqlite_node_get(struct kura_meta *m, uint64_t id, struct kura_node *ret)
{
    META_SQLITE_READ(m, h);
    return node_one(h, ret, NODE_SELECT "FROM nodes n WHERE n.id = ?1", "i", meta_sqlite_id(id));
}

int meta_sqlite_node_lookup(struct kura_meta *m, uint64_t space, const char *path,
                            struct kura_node *ret)
{
    META_SQLITE_READ(m, h);
    return node_one(h, ret,
                    NODE_SELECT "FROM nodes n WHERE n.space = ?1 AND n.path = ?2 "
                                "AND n.trash_root IS NULL",
                    "it", meta_sqlite_id(space), path);
}

/* Children are read CHILDREN_CHUNK at a time, and fn runs with the handle unlocked (unless
 * the caller holds it): a listing of a large folder (a PROPFIND formats XML for every entry)
 * then does not keep every other request of the server from the database meanwhile. Between
 * chunks the listing goes on after the last name (keyset, index nodes_children), so a folder
 * that changes meanwhile is listed as it is at each step, each live name at most once. */
#define CHILDREN_CHUNK 32

/* Up to CHILDREN_CHUNK live children of folder named after `after` into buf (*ret_n of them);
 * with check, first that folder is a folder. */
static int children_chunk(struct kura_meta *m, int64_t folder, bool check, const char *after,
                          struct kura_node *buf, size_t *ret_n)
{
    META_SQLITE_READ(m, h);
    *ret_n = 0;
    struct nref ref;
    int r = check ? nref_get(h, folder, &ref) : 0;
    if (r < 0) {
        return r;
    }
    if (check && !ref.folder) {
        return -ENOTDIR;
    }
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    r = meta_sqlite_prepare(h, &s,
                            NODE_SELECT "FROM nodes n WHERE n.parent = ?1 AND n.trash_root IS NULL "
                                        "AND n.path > ?2 ORDER BY n.path LIMIT ?3",
                            "iti", folder, after, (int64_t)CHILDREN_CHUNK);
    while (r == 0 && (r = node_row(h, s, &buf[*ret_n])) == 1) {
        r = ++*ret_n < CHILDREN_CHUNK ? 0 : 1;
    }
    return r < 0 ? r : 0;
}

int meta_sqlite_node_children(struct kura_meta *m, uint64_t folder, kura_node_fn fn, void *ctx)
{
    struct kura_node *buf = kura_malloc(CHILDREN_CHUNK * sizeof(*buf));
    if (!buf) {
        return -ENOMEM;
    }
    char after[KURA_META_PATH_MAX + 1] = ""; /* a child's path is never empty */
    size_t n = 0;
    int r = 0;
    do {
        r = children_chunk(m, meta_sqlite_id(folder), after[0] == '\0', after, buf, &n);
        for (size_t i = 0; r == 0 && i < n; i++) {
            r = fn(ctx, &buf[i]);
        }
        if (n > 0) {
            memcpy(after, buf[n - 1].path, sizeof(after));
        }
    } while (r == 0 && n == CHILDREN_CHUNK);
    kura_free(buf);
    return r;
}

int meta_sqlite_trash_list(struct kura_meta *m, uint64_t space, kura_node_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r =
        meta_sqlite_prepare(h, &s,
                            NODE_SELECT "FROM nodes n WHERE n.space = ?1 AND n.trash_root = n.id "
                                        "ORDER BY n.trashed_at, n.id",
                            "i", meta_sqlite_id(space));
    return r < 0 ? r : node_rows(h, s, fn, ctx);
}

int meta_sqlite_trash_expired(struct kura_meta *m, int64_t before, kura_node_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    int r = meta_sqlite_prepare(h, &s,
                                NODE_SELECT
                                "FROM nodes n WHERE n.trash_root = n.id AND n.trashed_at < ?1 "
                                "ORDER BY n.trashed_at, n.id",
                                "i", before);
    return r < 0 ? r : node_rows(h, s, fn, ctx);
}

int meta_sqlite_node_subtree(struct kura_meta *m, uint64_t id, kura_node_fn fn, void *ctx)
{
    META_SQLITE_LOCKED(m, h);
    struct nref ref;
    int r = nref_get(h, meta_sqlite_id(id), &ref);
    if (r < 0) {
        return r;
    }
    _cleanup_(meta_sqlite_finalizep) sqlite3_stmt *s = NULL;
    r = meta_sqlite_prepare(
        h, &s,
        "WITH RECURSIVE sub(id, depth) AS (SELECT ?1, 0 UNION ALL "
        "SELECT c.id, sub.depth + 1 FROM nodes c JOIN sub ON c.parent = sub.id "
        "WHERE sub.depth < 2048) " NODE_SELECT
        "FROM sub JOIN nodes n ON n.id = sub.id ORDER BY sub.depth DESC, n.id DESC",
        "i", ref.id);
    return r < 0 ? r : node_rows(h, s, fn, ctx);
}

/* ---- nodes: changing ---------------------------------------------------------------------- */

int meta_sqlite_node_create(struct kura_meta *m, const struct kura_node *n, uint64_t *ret_id)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    int64_t space = meta_sqlite_id(n->space), parent = 0, id = 0, c = 0;
    bool folder = false;
    r = meta_sqlite_one(h, "SELECT 1 FROM spaces WHERE id = ?1", "i", "", space);
    r = r < 0 ? r : r == 1 ? 0 : KURA_ENOTFOUND;
    if (r == 0) {
        r = live_at(h, space, n->path, strlen(n->path), &id, &folder);
        r = r == KURA_ENOTFOUND ? 0 : r == 0 ? KURA_EEXIST : r;
    }
    if (r == 0) {
        r = parent_folder(h, space, n->path, &parent);
    }
    if (r == 0) {
        r = next_counter(h, &c);
    }
    if (r == 0) {
        r = meta_sqlite_one(
            h,
            "INSERT INTO nodes (space, parent, path, folder, created_at, mtime, etag_counter) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            "iitiiii", "i", space, parent, n->path, (int64_t)n->folder, n->created_at, n->mtime, c,
            &id);
        r = r < 0 ? r : r == 1 ? 0 : KURA_EINTERNAL;
    }
    if (r == 0) {
        r = touch_up(h, parent, c);
    }
    r = meta_sqlite_txn_end(m, r);
    if (r == 0) {
        *ret_id = (uint64_t)id;
    }
    return r;
}

int meta_sqlite_node_set_content(struct kura_meta *m, uint64_t id, uint64_t version, uint64_t size,
                                 const uint8_t sha256[32], int64_t mtime)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    struct nref ref;
    r = nref_live(h, meta_sqlite_id(id), &ref);
    if (r == 0 && ref.folder) {
        r = -EISDIR;
    }
    if (r == 0) {
        /* The node's copy of size and hash must be the version's own. */
        r = meta_sqlite_one(h,
                            "SELECT 1 FROM versions WHERE id = ?2 AND node = ?1 AND size = ?3 "
                            "AND sha256 = ?4",
                            "iiih", "", ref.id, meta_sqlite_id(version), meta_sqlite_id(size),
                            sha256);
        r = r < 0 ? r : r == 1 ? 0 : -EINVAL;
    }
    if (r == 0) {
        r = meta_sqlite_exec(
            h, NULL,
            "UPDATE nodes SET version = ?2, size = ?3, sha256 = ?4, mtime = ?5 WHERE id = ?1",
            "iiihi", ref.id, meta_sqlite_id(version), meta_sqlite_id(size), sha256, mtime);
    }
    if (r == 0) {
        r = touch(h, ref.id, 0);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_node_set_mtime(struct kura_meta *m, uint64_t id, int64_t mtime)
{
    META_SQLITE_LOCKED(m, h);
    return meta_sqlite_exec_found(
        h, "UPDATE nodes SET mtime = ?2 WHERE id = ?1 AND trash_root IS NULL", "ii",
        meta_sqlite_id(id), mtime);
}

/* The subtree of a node whose path is ?2: "path = ?2 or below it" (see the head of this file),
 * among the live nodes of space ?1 (SUBTREE_LIVE, walking nodes_live_path) or among the nodes
 * trashed together with it, trash_root ?4 (SUBTREE_TRASHED, walking nodes_trashed). */
#define SUBTREE_PATHS                                                                              \
    "path >= ?2 AND path < ?2 || '0' "                                                             \
    "AND (path = ?2 OR substr(path, 1, length(?2) + 1) = ?2 || '/')"
#define SUBTREE_LIVE "space = ?1 AND trash_root IS NULL AND " SUBTREE_PATHS
#define SUBTREE_TRASHED "trash_root = ?4 AND " SUBTREE_PATHS

/* Moves ref's subtree (live, or trashed with it) to new_path: the checks of node_move, the
 * path rewrite, the new parent, and for a restore the trash marks removed. Etags are the
 * caller's. */
static int relocate(struct sqlite_meta *h, const struct nref *ref, const char *new_path)
{
    size_t old_len = strlen(ref->path), new_len = strlen(new_path);
    int64_t other = 0, parent = 0, longest = 0;
    bool folder = false;
    int r = live_at(h, ref->space, new_path, new_len, &other, &folder);
    r = r == KURA_ENOTFOUND ? 0 : r == 0 ? KURA_EEXIST : r;
    if (r == 0) {
        r = parent_folder(h, ref->space, new_path, &parent);
    }
    if (r < 0) {
        return r;
    }
    /* ?1 space, ?2 old path, ?3 new path, ?4 trash_root; each statement binds only those up to
     * its last parameter (binding past it is an error). */
    bool live = ref->trash_root == 0;
    if (live) {
        r = meta_sqlite_one(h,
                            "SELECT max(length(CAST(path AS BLOB))) FROM nodes WHERE " SUBTREE_LIVE,
                            "it", "i", ref->space, ref->path, &longest);
    } else {
        r = meta_sqlite_one(
            h, "SELECT max(length(CAST(path AS BLOB))) FROM nodes WHERE " SUBTREE_TRASHED, "ittT",
            "i", ref->space, ref->path, new_path, ref->trash_root, &longest);
    }
    if (r < 0) {
        return r;
    }
    if (longest < (int64_t)old_len || (uint64_t)longest - old_len + new_len > KURA_META_PATH_MAX) {
        return longest < (int64_t)old_len ? KURA_ECORRUPT : KURA_ETOOBIG;
    }
    /* substr counts characters, as length() does, so the tail after the old prefix is cut at
     * the same place whatever the names' scripts. For a move the trash columns stay NULL. */
    r = meta_sqlite_exec(
        h, NULL,
        live ? "UPDATE nodes SET path = ?3 || substr(path, length(?2) + 1) WHERE " SUBTREE_LIVE
             : "UPDATE nodes SET path = ?3 || substr(path, length(?2) + 1), trash_root = "
               "NULL, trashed_at = NULL, trashed_by = NULL WHERE " SUBTREE_TRASHED,
        live ? "itt" : "ittT", ref->space, ref->path, new_path, ref->trash_root);
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL, "UPDATE nodes SET parent = ?2 WHERE id = ?1", "ii", ref->id,
                             parent);
    }
    return r;
}

/* Whether p is the node's own path or lies inside it. */
static bool inside(const char *p, const char *node_path)
{
    size_t len = strlen(node_path);
    return strncmp(p, node_path, len) == 0 && (p[len] == '\0' || p[len] == '/');
}

int meta_sqlite_node_move(struct kura_meta *m, uint64_t id, const char *new_path)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    struct nref ref;
    r = nref_live(h, meta_sqlite_id(id), &ref);
    if (r == 0 && (ref.parent == 0 || inside(new_path, ref.path))) {
        r = -EINVAL;
    }
    if (r == 0) {
        r = relocate(h, &ref, new_path);
    }
    if (r == 0) {
        r = touch(h, ref.id, ref.parent); /* the new chain (via ref.id) and the old one */
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_node_trash(struct kura_meta *m, uint64_t id, const char *by, int64_t at)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    struct nref ref;
    r = nref_live(h, meta_sqlite_id(id), &ref);
    if (r == 0 && ref.parent == 0) {
        r = -EINVAL;
    }
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL,
                             "UPDATE nodes SET trash_root = ?3, trashed_at = ?4, trashed_by = ?5 "
                             "WHERE " SUBTREE_LIVE,
                             "itiit", ref.space, ref.path, ref.id, at, by);
    }
    if (r == 0) {
        r = touch(h, ref.parent, 0);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_node_restore(struct kura_meta *m, uint64_t id, const char *new_path)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    struct nref ref;
    r = nref_get(h, meta_sqlite_id(id), &ref);
    if (r == 0 && ref.trash_root == 0) {
        r = KURA_ENOTFOUND;
    }
    if (r == 0) {
        r = relocate(h, &ref, new_path);
    }
    if (r == 0) {
        r = touch(h, ref.id, 0);
    }
    return meta_sqlite_txn_end(m, r);
}

int meta_sqlite_node_remove(struct kura_meta *m, uint64_t id)
{
    META_SQLITE_LOCKED(m, h);
    int r = meta_sqlite_txn(m, true);
    if (r < 0) {
        return r;
    }
    struct nref ref;
    r = nref_get(h, meta_sqlite_id(id), &ref);
    if (r == 0 && ref.parent == 0) {
        r = -EINVAL;
    }
    if (r == 0) {
        r = meta_sqlite_one(h,
                            "SELECT 1 WHERE EXISTS (SELECT 1 FROM nodes WHERE parent = ?1) "
                            "OR EXISTS (SELECT 1 FROM versions WHERE node = ?1)",
                            "i", "", ref.id);
        r = r < 0 ? r : r == 1 ? KURA_ECONFLICT : 0;
    }
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL, "DELETE FROM props WHERE node = ?1", "i", ref.id);
    }
    if (r == 0) {
        r = meta_sqlite_exec(h, NULL, "DELETE FROM nodes WHERE id = ?1", "i", ref.id);
    }
    if (r == 0 && ref.trash_root == 0) {
        r = touch(h, ref.parent, 0);
    }
    return meta_sqlite_txn_end(m, r);
}

/* ---- checkpoint --------------------------------------------------------------------------- */

static int checkpoint(struct kura_meta *m, bool wait)
{
    META_SQLITE_LOCKED(m, h);
    sqlite3 *db = meta_sqlite_db(h);
    if (!sqlite3_get_autocommit(db)) {
        return -EINVAL; /* our own open transaction would keep the log in use */
    }
    /* Our reader connections wait meanwhile: none may hold a snapshot that keeps the log. */
    meta_sqlite_readers_hold(m, true);
    if (!wait) {
        (void)sqlite3_busy_timeout(db, 0);
    }
    /* The C form of PRAGMA wal_checkpoint(TRUNCATE): copies every frame into the database file
     * and truncates the -wal file to zero bytes, waiting (busy timeout) for readers and
     * writers; SQLITE_BUSY (-> KURA_EBUSY) when they did not let go in time. */
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    if (!wait) {
        (void)sqlite3_busy_timeout(db, META_SQLITE_BUSY_TIMEOUT_MS);
    }
    meta_sqlite_readers_hold(m, false);
    return rc == SQLITE_OK ? 0 : meta_sqlite_err(h, rc);
}

int meta_sqlite_checkpoint(struct kura_meta *m)
{
    return checkpoint(m, true);
}

int meta_sqlite_checkpoint_try(struct kura_meta *m)
{
    return checkpoint(m, false);
}
