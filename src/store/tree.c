/* tree.c — changes to the tree beyond uploads: dead properties (all or nothing), move, copy
 * (files share their immutable blob; each copy gets its own header row), and WebDAV locks
 * (conflict check and creation in one transaction). */
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

int kura_store_props_apply(struct kura_store *s, const struct kura_actor *a,
                           const struct kura_space *sp, const struct kura_node *n,
                           const struct kura_store_prop_op *ops, size_t nops, size_t *ret_failed,
                           const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    if (r == 0 && n->space != sp->id) {
        r = -EINVAL;
    }
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r < 0) {
        return r;
    }
    size_t i = 0;
    for (; r == 0 && i < nops; i++) {
        r = ops[i].remove
                ? kura_meta_prop_remove(s->meta, n->id, ops[i].ns, ops[i].name)
                : kura_meta_prop_set(s->meta, n->id, ops[i].ns, ops[i].name, ops[i].value);
    }
    *ret_failed = r < 0 ? i - 1 : nops;
    return txn_end(s->meta, r);
}

/* The destination's state: free (0), or replaced when overwrite allows (1: trashed now), or
 * KURA_EPRECOND. Its parent must be a live folder (KURA_ECONFLICT). */
static int clear_destination(struct kura_store *s, const struct kura_actor *a,
                             const struct kura_space *sp, const char *dest, bool overwrite,
                             int64_t now)
{
    char parent[KURA_META_PATH_MAX + 1];
    struct kura_node p, d;
    store_parent_path(dest, parent);
    int r = kura_meta_node_lookup(s->meta, sp->id, parent, &p);
    if (r == KURA_ENOTFOUND || (r == 0 && !p.folder)) {
        return KURA_ECONFLICT;
    }
    r = r == 0 ? kura_meta_node_lookup(s->meta, sp->id, dest, &d) : r;
    if (r == KURA_ENOTFOUND) {
        return 0;
    }
    if (r < 0) {
        return r;
    }
    if (!overwrite) {
        return KURA_EPRECOND; /* RFC 4918 9.8.5, 9.9.4 */
    }
    char by[KURA_META_ACTOR_MAX + 1];
    (void)snprintf(by, sizeof(by), "user:%s", a->account);
    r = kura_meta_node_trash(s->meta, d.id, by, now);
    return r < 0 ? r : 1;
}

static bool inside(const char *path, const char *dest)
{
    size_t n = strlen(path);
    return strncmp(dest, path, n) == 0 && (dest[n] == '/' || dest[n] == '\0');
}

int kura_store_move(struct kura_store *s, const struct kura_actor *a, const struct kura_space *sp,
                    const struct kura_node *n, const char *dest, bool overwrite, int64_t now,
                    struct kura_node *ret, bool *ret_replaced, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    if (r == 0 && (n->space != sp->id || n->parent == 0 || !dest[0])) {
        r = KURA_EFORBIDDEN; /* the root does not move, nor does anything onto it */
    } else if (r == 0 && inside(n->path, dest)) {
        r = KURA_EFORBIDDEN; /* into itself (RFC 4918 9.9.4: 403 when source and dest match) */
    }
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r < 0) {
        return r;
    }
    r = clear_destination(s, a, sp, dest, overwrite, now);
    *ret_replaced = r == 1;
    r = r >= 0 ? kura_meta_node_move(s->meta, n->id, dest) : r;
    r = r == 0 ? kura_meta_node_get(s->meta, n->id, ret) : r;
    return txn_end(s->meta, r);
}

/* Copies one file's current version as the new file's first version: same blob, same data key,
 * the header row copied (crypto-shredding one copy leaves the other readable, as it should). */
static int copy_file(struct kura_store *s, const struct kura_space *sp, const struct kura_node *src,
                     uint64_t dst, const char *by, int64_t now)
{
    struct kura_version v;
    int r = src->version ? kura_meta_version_get(s->meta, src->version, &v) : 0;
    if (r < 0 || !src->version) {
        return r;
    }
    v.node = dst;
    v.created_at = now;
    (void)snprintf(v.created_by, sizeof(v.created_by), "%s", by);
    uint64_t vid = 0;
    r = kura_meta_space_charge(s->meta, sp->id, (int64_t)v.size);
    r = r == 0 ? kura_meta_version_add(s->meta, &v, &vid) : r;
    r = r == 0 ? kura_meta_node_set_content(s->meta, dst, vid, v.size, v.sha256, src->mtime) : r;
    sodium_memzero(&v, sizeof(v));
    return r;
}

struct copy_ctx {
    struct kura_store *s;
    const struct kura_space *sp;
    const char *from, *to, *by;
    int64_t now;
    bool infinite;
    int err;
};

static int copy_node(struct copy_ctx *c, const struct kura_node *src, const char *dest);

struct child_list {
    struct kura_node *items;
    size_t n, cap;
};

static int collect_child(void *ctx, const struct kura_node *n)
{
    struct child_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct kura_node *p = kura_reallocarray(l->items, cap, sizeof(*p));
        if (!p) {
            return -ENOMEM;
        }
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = *n;
    return 0;
}

static int copy_children(struct copy_ctx *c, const struct kura_node *src, const char *dest)
{
    /* Collected first: listing callbacks may not write (meta.h). */
    struct child_list l = {0};
    int r = kura_meta_node_children(c->s->meta, src->id, collect_child, &l);
    for (size_t i = 0; r == 0 && i < l.n; i++) {
        char *to = kura_malloc(KURA_META_PATH_MAX + 1);
        int n = to ? snprintf(to, KURA_META_PATH_MAX + 1, "%s%s%s", dest, dest[0] ? "/" : "",
                              kura_node_name(&l.items[i]))
                   : -1;
        r = !to ? -ENOMEM : n < 0 || n > (int)KURA_META_PATH_MAX ? KURA_ETOOBIG : 0;
        r = r == 0 ? copy_node(c, &l.items[i], to) : r;
        kura_free(to);
    }
    kura_free(l.items);
    return r;
}

static int copy_node(struct copy_ctx *c, const struct kura_node *src, const char *dest)
{
    struct kura_node n = {
        .space = c->sp->id, .folder = src->folder, .created_at = c->now, .mtime = src->mtime};
    size_t len = strlen(dest);
    if (len > KURA_META_PATH_MAX) {
        return KURA_ETOOBIG;
    }
    memcpy(n.path, dest, len + 1);
    uint64_t id = 0;
    int r = kura_meta_node_create(c->s->meta, &n, &id);
    r = r == 0 ? kura_meta_prop_copy(c->s->meta, src->id, id) : r;
    r = r == 0 && !src->folder ? copy_file(c->s, c->sp, src, id, c->by, c->now) : r;
    r = r == 0 && src->folder && c->infinite ? copy_children(c, src, dest) : r;
    return r;
}

int kura_store_copy(struct kura_store *s, const struct kura_actor *a, const struct kura_space *sp,
                    const struct kura_node *n, const char *dest, bool infinite, bool overwrite,
                    int64_t now, struct kura_node *ret, bool *ret_replaced, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    if (r == 0 && (n->space != sp->id || !dest[0] || inside(n->path, dest))) {
        r = KURA_EFORBIDDEN; /* onto the root, onto itself or into itself */
    }
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r < 0) {
        return r;
    }
    char by[KURA_META_ACTOR_MAX + 1];
    (void)snprintf(by, sizeof(by), "user:%s", a->account);
    r = clear_destination(s, a, sp, dest, overwrite, now);
    *ret_replaced = r == 1;
    struct copy_ctx c = {s, sp, n->path, dest, by, now, infinite, 0};
    r = r >= 0 ? copy_node(&c, n, dest) : r;
    r = r == 0 ? kura_meta_node_lookup(s->meta, sp->id, dest, ret) : r;
    return txn_end(s->meta, r);
}

/* ---- locks ---------------------------------------------------------------------------------- */

int kura_store_lock_covering(struct kura_store *s, const struct kura_actor *a,
                             const struct kura_space *sp, const char *path, bool descendants,
                             int64_t now, kura_lock_fn fn, void *ctx)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, NULL);
    return r < 0 ? r : kura_meta_lock_covering(s->meta, sp->id, path, descendants, now, fn, ctx);
}

struct conflict {
    bool exclusive_wanted;
    bool conflict;
};

static int check_conflict(void *ctx, const struct kura_lock *l)
{
    struct conflict *c = ctx;
    c->conflict = c->conflict || c->exclusive_wanted || l->scope == KURA_LOCK_EXCLUSIVE;
    return 0;
}

int kura_store_lock_acquire(struct kura_store *s, const struct kura_actor *a,
                            const struct kura_space *sp, struct kura_lock *l, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r < 0) {
        return r;
    }
    struct conflict c = {l->scope == KURA_LOCK_EXCLUSIVE, false};
    r = kura_meta_lock_covering(s->meta, sp->id, l->path, l->infinite, l->created_at,
                                check_conflict, &c);
    if (r == 0 && c.conflict) {
        r = KURA_EDAVLOCKED;
        if (ret_why) {
            *ret_why = "conflicting_lock";
        }
    }
    uint8_t u[16];
    r = r == 0 ? kura_random(u, sizeof(u)) : r;
    if (r == 0) {
        u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* a version 4 UUID */
        u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
        char hex[33];
        kura_hex_encode(hex, u, sizeof(u));
        (void)snprintf(l->token, sizeof(l->token), "urn:uuid:%.8s-%.4s-%.4s-%.4s-%.12s", hex,
                       hex + 8, hex + 12, hex + 16, hex + 20);
        (void)snprintf(l->owner, sizeof(l->owner), "%s", a->account);
        l->space = sp->id;
        r = kura_meta_lock_create(s->meta, l);
    }
    return txn_end(s->meta, r);
}

int kura_store_lock_get(struct kura_store *s, const char *token, int64_t now, struct kura_lock *ret)
{
    return kura_meta_lock_get(s->meta, token, now, ret);
}

int kura_store_lock_refresh(struct kura_store *s, const struct kura_actor *a, const char *token,
                            int64_t now, int64_t expires_at)
{
    struct kura_lock l = {0};
    int r = kura_meta_lock_get(s->meta, token, now, &l);
    if (r == 0 && strcmp(l.owner, a->account) != 0) {
        r = KURA_EFORBIDDEN; /* another person's lock */
    }
    kura_lock_release(&l);
    return r < 0 ? r : kura_meta_lock_refresh(s->meta, token, expires_at);
}

int kura_store_lock_remove(struct kura_store *s, const struct kura_actor *a, const char *token,
                           int64_t now)
{
    struct kura_lock l = {0};
    int r = kura_meta_lock_get(s->meta, token, now, &l);
    if (r == 0 && strcmp(l.owner, a->account) != 0) {
        r = KURA_EFORBIDDEN;
    }
    kura_lock_release(&l);
    return r < 0 ? r : kura_meta_lock_remove(s->meta, token);
}
