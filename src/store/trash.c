/* trash.c — the trash (list, find, restore) and the versions of a file (list, restore an older
 * one as the new current version).
 *
 * A restored version is a new version row that shares the old one's blob and data key: its
 * header row is copied, exactly as a WebDAV COPY copies one (tree.c). The blob is immutable, so
 * sharing it is safe; each row is a separate copy of the file key, which is why a purge of one
 * file keeps a blob another row still opens (purge.c). */
#include "store/store-internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int txn_end(struct kura_meta *m, int r)
{
    if (r >= 0) {
        int c = kura_meta_txn_commit(m);
        return c < 0 ? c : r;
    }
    kura_meta_txn_rollback(m);
    return r;
}

/* ---- the trash ------------------------------------------------------------------------------ */

struct sum {
    uint64_t size, files;
};

static int add_node(void *ctx, const struct kura_node *n)
{
    struct sum *s = ctx;
    if (!n->folder) {
        s->size += n->size;
        s->files++;
    }
    return 0;
}

struct trash_walk {
    struct kura_meta *m;
    kura_trash_fn fn;
    void *ctx;
};

/* Per top node: the subtree's sizes are read inside the listing, which meta allows (reads only);
 * collecting the nodes first would hold every trashed path in memory at once. */
static int trash_one(void *ctx, const struct kura_node *n)
{
    struct trash_walk *w = ctx;
    struct sum s = {0, 0};
    int r = n->folder ? kura_meta_node_subtree(w->m, n->id, add_node, &s) : add_node(&s, n);
    if (r < 0) {
        return r;
    }
    const struct kura_trash_item t = {n, s.size, s.files};
    return w->fn(w->ctx, &t);
}

int kura_store_trash_list(struct kura_store *s, const struct kura_actor *a,
                          const struct kura_space *sp, kura_trash_fn fn, void *ctx,
                          const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, ret_why);
    struct trash_walk w = {s->meta, fn, ctx};
    return r < 0 ? r : kura_meta_trash_list(s->meta, sp->id, trash_one, &w);
}

struct find {
    const char *path;
    uint64_t id; /* the last match: the trash is listed oldest first */
};

static int match_path(void *ctx, const struct kura_node *n)
{
    struct find *f = ctx;
    if (strcmp(n->path, f->path) == 0) {
        f->id = n->id;
    }
    return 0;
}

int kura_store_trash_find(struct kura_store *s, const struct kura_actor *a,
                          const struct kura_space *sp, const char *path, struct kura_node *ret,
                          const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, ret_why);
    struct find f = {path, 0};
    r = r == 0 ? kura_meta_trash_list(s->meta, sp->id, match_path, &f) : r;
    r = r == 0 && f.id == 0 ? KURA_ENOTFOUND : r;
    return r < 0 ? r : kura_meta_node_get(s->meta, f.id, ret);
}

/* A trashed node of sp: anything else (live, another space's, unknown) is KURA_ENOTFOUND. */
static int trashed_node(struct kura_store *s, const struct kura_space *sp, uint64_t id,
                        struct kura_node *ret)
{
    int r = id == 0 || id > INT64_MAX ? KURA_ENOTFOUND : kura_meta_node_get(s->meta, id, ret);
    return r < 0 ? r : ret->space != sp->id || ret->trashed_at == 0 ? KURA_ENOTFOUND : 0;
}

int kura_store_trash_restore(struct kura_store *s, const struct kura_actor *a,
                             const struct kura_space *sp, uint64_t id, const char *to,
                             struct kura_node *ret, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r < 0) {
        return r;
    }
    struct kura_node *n = kura_malloc(sizeof(*n));
    r = n ? trashed_node(s, sp, id, n) : -ENOMEM;
    if (r == 0 && to && !to[0]) {
        r = KURA_EEXIST; /* the root is always there */
    }
    r = r == 0 ? kura_meta_node_restore(s->meta, id, to ? to : n->path) : r;
    r = r == 0 ? kura_meta_node_get(s->meta, id, ret) : r;
    kura_free(n);
    return txn_end(s->meta, r);
}

/* ---- versions -------------------------------------------------------------------------------- */

int kura_store_versions(struct kura_store *s, const struct kura_actor *a,
                        const struct kura_space *sp, const struct kura_node *n, kura_version_fn fn,
                        void *ctx, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, ret_why);
    if (r == 0 && (n->space != sp->id || n->trashed_at != 0)) {
        r = KURA_ENOTFOUND;
    } else if (r == 0 && n->folder) {
        r = -EISDIR;
    }
    return r < 0 ? r : kura_meta_version_list(s->meta, n->id, fn, ctx);
}

struct prune {
    uint64_t seen; /* versions listed so far, newest first */
    uint32_t keep;
    uint64_t ids[64];
    size_t n;
};

static int collect_old(void *ctx, const struct kura_version *v)
{
    struct prune *p = ctx;
    if (p->seen++ > p->keep && p->n < KURA_ARRAY_SIZE(p->ids)) {
        p->ids[p->n++] = v->id; /* the current one and `keep` older ones stay */
    }
    return 0;
}

/* Inside the transaction: the versions beyond versions_keep go, as after an upload; their blob
 * ids are collected for removal after the commit. */
static int prune(struct kura_store *s, uint64_t space, uint64_t node,
                 char (*dropped)[KURA_META_BLOB_ID_MAX + 1], size_t *ret_n)
{
    struct prune p = {.keep = s->versions_keep};
    int r = kura_meta_version_list(s->meta, node, collect_old, &p);
    size_t n = 0;
    for (size_t i = 0; r == 0 && i < p.n; i++) {
        struct kura_version old;
        r = kura_meta_version_get(s->meta, p.ids[i], &old);
        store_keycache_forget(s->keycache, p.ids[i]);
        r = r == 0 ? kura_meta_version_remove(s->meta, old.id) : r;
        r = r == 0 ? kura_meta_space_charge(s->meta, space, -(int64_t)old.size) : r;
        if (r == 0) {
            memcpy(dropped[n++], old.blob, sizeof(old.blob));
        }
        sodium_memzero(&old, sizeof(old));
    }
    *ret_n = r == 0 ? n : 0;
    return r;
}

/* The new current version: a copy of v's row (blob, header, sizes) made by `by` at now. */
static int restore_version(struct kura_store *s, const struct kura_space *sp,
                           const struct kura_node *n, struct kura_version *v, const char *by,
                           int64_t now)
{
    uint64_t vid = 0;
    v->created_at = now;
    (void)snprintf(v->created_by, sizeof(v->created_by), "%s", by);
    int r = kura_meta_space_charge(s->meta, sp->id, (int64_t)v->size);
    r = r == 0 ? kura_meta_version_add(s->meta, v, &vid) : r;
    return r == 0 ? kura_meta_node_set_content(s->meta, n->id, vid, v->size, v->sha256, now) : r;
}

int kura_store_version_restore(struct kura_store *s, const struct kura_actor *a,
                               const struct kura_space *sp, uint64_t id, int64_t now,
                               struct kura_node *ret, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    if (r == 0 && (id == 0 || id > INT64_MAX)) {
        r = KURA_ENOTFOUND;
    }
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r < 0) {
        return r;
    }
    struct kura_version *v = kura_malloc(sizeof(*v)); /* with a 4 KiB header: not on a stack */
    struct kura_node *n = kura_malloc(sizeof(*n));
    char by[KURA_META_ACTOR_MAX + 1];
    (void)snprintf(by, sizeof(by), "user:%s", a->account);
    char(*dropped)[KURA_META_BLOB_ID_MAX + 1] = kura_calloc(64, sizeof(*dropped));
    size_t ndropped = 0;
    r = v && n && dropped ? kura_meta_version_get(s->meta, id, v) : -ENOMEM;
    r = r == 0 ? kura_meta_node_get(s->meta, v->node, n) : r;
    if (r == 0 && (n->space != sp->id || n->trashed_at != 0 || n->folder)) {
        r = KURA_ENOTFOUND;
    } else if (r == 0 && (v->corrupt_at != 0 || v->header_len == 0)) {
        r = KURA_ECORRUPT; /* a damaged version does not come back as the current one */
        if (ret_why) {
            *ret_why = "version_corrupt";
        }
    }
    bool current = r == 0 && n->version == v->id;
    if (r == 0 && !current) {
        r = restore_version(s, sp, n, v, by, now);
        r = r == 0 ? prune(s, sp->id, n->id, dropped, &ndropped) : r;
    }
    r = r == 0 ? kura_meta_node_get(s->meta, n ? n->id : 0, ret) : r;
    r = txn_end(s->meta, r);
    for (size_t i = 0; r == 0 && i < ndropped; i++) {
        store_release_blob(s, dropped[i]);
    }
    if (v) {
        sodium_memzero(v, sizeof(*v));
    }
    kura_free(v);
    kura_free(n);
    kura_free(dropped);
    return r;
}
