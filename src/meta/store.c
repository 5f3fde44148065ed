/* store.c — the public layer of meta's file store (meta.h, "the file store"): the checks every
 * backend relies on, then dispatch through the ops table. As in identity.c, backends only ever
 * see values that fit the limits of meta.h, so SQLite and PostgreSQL accept the same records.
 *
 * Paths get a structural check only (length, UTF-8, no control bytes, no empty, "." or ".."
 * segment, no leading or trailing '/'): which names are allowed is the store area's rule, but no
 * path that could be read two ways — "a//b", "a/./b", one with a NUL cut short — is ever stored,
 * whatever the caller forgot.
 */
#include "meta/meta-internal.h"

#include <assert.h>
#include <string.h>

/* ---- records ------------------------------------------------------------------------------ */

void kura_lock_release(struct kura_lock *l)
{
    if (!l) {
        return;
    }
    /* Owned by a record from kura_meta_lock_get; const only keeps borrowers honest. */
    kura_free((void *)l->owner_xml);
    *l = (struct kura_lock){0};
}

/* ---- checks ------------------------------------------------------------------------------- */

/* Ids are SQL integers: 0 names nothing, and beyond INT64_MAX they would wrap. */
static int check_id(uint64_t id)
{
    return id >= 1 && id <= INT64_MAX ? 0 : -EINVAL;
}

static int check_u63(uint64_t v)
{
    return v <= INT64_MAX ? 0 : -EINVAL;
}

static int check_time(int64_t t)
{
    return t >= 0 ? 0 : -EINVAL;
}

/* Text like an account ID: NUL-terminated, min..max bytes, UTF-8, no control bytes. */
static int check_word(const char *s, size_t min, size_t max)
{
    return s ? kura_meta_check_text(s, min, max, false) : -EINVAL;
}

static bool is_dot_segment(const char *seg, size_t len)
{
    return (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.');
}

/* A path as meta.h's common rules describe; "" only when allow_root. */
static int check_path(const char *path, bool allow_root)
{
    if (!path) {
        return -EINVAL;
    }
    size_t len = strnlen(path, KURA_META_PATH_MAX + 1);
    if (len > KURA_META_PATH_MAX) {
        return KURA_ETOOBIG;
    }
    if (len == 0) {
        return allow_root ? 0 : -EINVAL;
    }
    if (!kura_utf8_valid(path, len) || kura_has_ctl(path, len, false)) {
        return -EINVAL;
    }
    /* Each segment: non-empty (this also refuses a leading or trailing '/' and "//"), not a
     * dot segment, at most KURA_META_NAME_MAX bytes. */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/') {
            continue;
        }
        size_t seg = i - start;
        if (seg == 0 || is_dot_segment(path + start, seg)) {
            return -EINVAL;
        }
        if (seg > KURA_META_NAME_MAX) {
            return KURA_ETOOBIG;
        }
        start = i + 1;
    }
    return 0;
}

/* An XML fragment as text: UTF-8, XML's white space allowed, no other control byte. */
static int check_xml(const char *s, size_t max)
{
    if (!s) {
        return -EINVAL;
    }
    size_t len = strnlen(s, max + 1);
    if (len > max) {
        return KURA_ETOOBIG;
    }
    if (!kura_utf8_valid(s, len)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
            return -EINVAL;
        }
    }
    return 0;
}

static int check_actor(const char *by)
{
    return check_word(by, 1, KURA_META_ACTOR_MAX);
}

static int check_key_id(const char *key_id)
{
    return check_word(key_id, 1, KURA_META_KEY_ID_MAX);
}

static int check_prop_key(const char *ns, const char *name)
{
    int r = check_word(ns, 0, KURA_META_PROP_NS_MAX);
    return r < 0 ? r : check_word(name, 1, KURA_META_PROP_NAME_MAX);
}

static int check_version(const struct kura_version *v)
{
    int r = check_id(v->node);
    if (r == 0) {
        r = check_word(v->blob, 1, KURA_META_BLOB_ID_MAX);
    }
    if (r == 0) {
        r = check_key_id(v->key_id);
    }
    if (r == 0) {
        r = check_actor(v->created_by);
    }
    if (r < 0) {
        return r;
    }
    if (v->header_len > KURA_META_C4GH_HEADER_MAX) {
        return KURA_ETOOBIG;
    }
    if (v->header_len == 0 || check_u63(v->size) < 0 || check_u63(v->segments) < 0 ||
        check_time(v->created_at) < 0) {
        return -EINVAL;
    }
    return 0;
}

static int check_lock(const struct kura_lock *l)
{
    int r = check_word(l->token, 1, KURA_META_LOCK_TOKEN_MAX);
    if (r == 0) {
        r = check_id(l->space);
    }
    if (r == 0) {
        r = check_path(l->path, true);
    }
    if (r == 0) {
        r = check_word(l->owner, 1, KURA_META_ID_MAX);
    }
    if (r == 0 && l->owner_xml) {
        r = check_xml(l->owner_xml, KURA_META_LOCK_OWNER_MAX);
    }
    if (r < 0) {
        return r;
    }
    if ((l->scope != KURA_LOCK_EXCLUSIVE && l->scope != KURA_LOCK_SHARED) || l->created_at < 0 ||
        l->expires_at < l->created_at) {
        return -EINVAL;
    }
    return 0;
}

/* ---- spaces ------------------------------------------------------------------------------- */

int kura_meta_space_personal(struct kura_meta *m, const char *account, uint64_t quota, int64_t now,
                             struct kura_space *ret)
{
    int r = check_word(account, 1, KURA_META_ID_MAX);
    if (r == 0 && (check_u63(quota) < 0 || check_time(now) < 0)) {
        r = -EINVAL;
    }
    return r < 0 ? r : m->ops->space_personal(m, account, quota, now, ret);
}

int kura_meta_space_get(struct kura_meta *m, uint64_t id, struct kura_space *ret)
{
    int r = check_id(id);
    return r < 0 ? r : m->ops->space_get(m, id, ret);
}

int kura_meta_space_charge(struct kura_meta *m, uint64_t id, int64_t delta)
{
    int r = check_id(id);
    return r < 0 ? r : m->ops->space_charge(m, id, delta);
}

int kura_meta_space_set_quota(struct kura_meta *m, uint64_t id, uint64_t quota)
{
    int r = check_id(id);
    r = r == 0 ? check_u63(quota) : r;
    return r < 0 ? r : m->ops->space_set_quota(m, id, quota);
}

/* ---- nodes -------------------------------------------------------------------------------- */

int kura_meta_node_get(struct kura_meta *m, uint64_t id, struct kura_node *ret)
{
    int r = check_id(id);
    return r < 0 ? r : m->ops->node_get(m, id, ret);
}

int kura_meta_node_lookup(struct kura_meta *m, uint64_t space, const char *path,
                          struct kura_node *ret)
{
    int r = check_id(space);
    r = r == 0 ? check_path(path, true) : r;
    return r < 0 ? r : m->ops->node_lookup(m, space, path, ret);
}

int kura_meta_node_children(struct kura_meta *m, uint64_t folder, kura_node_fn fn, void *ctx)
{
    assert(fn);
    int r = check_id(folder);
    return r < 0 ? r : m->ops->node_children(m, folder, fn, ctx);
}

int kura_meta_node_create(struct kura_meta *m, const struct kura_node *n, uint64_t *ret_id)
{
    int r = check_id(n->space);
    r = r == 0 ? check_path(n->path, false) : r;
    if (r == 0 && (check_time(n->created_at) < 0 || check_time(n->mtime) < 0)) {
        r = -EINVAL;
    }
    if (r < 0) {
        return r;
    }
    uint64_t id = 0;
    r = m->ops->node_create(m, n, &id);
    if (r == 0 && ret_id) {
        *ret_id = id;
    }
    return r;
}

int kura_meta_node_set_content(struct kura_meta *m, uint64_t id, uint64_t version, uint64_t size,
                               const uint8_t sha256[32], int64_t mtime)
{
    int r = check_id(id);
    r = r == 0 ? check_id(version) : r;
    if (r == 0 && (!sha256 || check_u63(size) < 0 || check_time(mtime) < 0)) {
        r = -EINVAL;
    }
    return r < 0 ? r : m->ops->node_set_content(m, id, version, size, sha256, mtime);
}

int kura_meta_node_move(struct kura_meta *m, uint64_t id, const char *new_path)
{
    int r = check_id(id);
    r = r == 0 ? check_path(new_path, false) : r;
    return r < 0 ? r : m->ops->node_move(m, id, new_path);
}

int kura_meta_node_set_mtime(struct kura_meta *m, uint64_t id, int64_t mtime)
{
    int r = check_id(id);
    r = r == 0 ? check_time(mtime) : r;
    return r < 0 ? r : m->ops->node_set_mtime(m, id, mtime);
}

int kura_meta_node_trash(struct kura_meta *m, uint64_t id, const char *by, int64_t at)
{
    int r = check_id(id);
    r = r == 0 ? check_actor(by) : r;
    r = r == 0 && at <= 0 ? -EINVAL : r;
    return r < 0 ? r : m->ops->node_trash(m, id, by, at);
}

int kura_meta_node_restore(struct kura_meta *m, uint64_t id, const char *new_path)
{
    int r = check_id(id);
    r = r == 0 ? check_path(new_path, false) : r;
    return r < 0 ? r : m->ops->node_restore(m, id, new_path);
}

int kura_meta_trash_list(struct kura_meta *m, uint64_t space, kura_node_fn fn, void *ctx)
{
    assert(fn);
    int r = check_id(space);
    return r < 0 ? r : m->ops->trash_list(m, space, fn, ctx);
}

int kura_meta_trash_expired(struct kura_meta *m, int64_t before, kura_node_fn fn, void *ctx)
{
    assert(fn);
    int r = check_time(before);
    return r < 0 ? r : m->ops->trash_expired(m, before, fn, ctx);
}

int kura_meta_node_subtree(struct kura_meta *m, uint64_t id, kura_node_fn fn, void *ctx)
{
    assert(fn);
    int r = check_id(id);
    return r < 0 ? r : m->ops->node_subtree(m, id, fn, ctx);
}

int kura_meta_node_remove(struct kura_meta *m, uint64_t id)
{
    int r = check_id(id);
    return r < 0 ? r : m->ops->node_remove(m, id);
}

/* ---- versions ----------------------------------------------------------------------------- */

int kura_meta_version_add(struct kura_meta *m, const struct kura_version *v, uint64_t *ret_id)
{
    int r = check_version(v);
    if (r < 0) {
        return r;
    }
    uint64_t id = 0;
    r = m->ops->version_add(m, v, &id);
    if (r == 0 && ret_id) {
        *ret_id = id;
    }
    return r;
}

int kura_meta_version_get(struct kura_meta *m, uint64_t id, struct kura_version *ret)
{
    int r = check_id(id);
    return r < 0 ? r : m->ops->version_get(m, id, ret);
}

int kura_meta_version_list(struct kura_meta *m, uint64_t node, kura_version_fn fn, void *ctx)
{
    assert(fn);
    int r = check_id(node);
    return r < 0 ? r : m->ops->version_list(m, node, fn, ctx);
}

int kura_meta_version_remove(struct kura_meta *m, uint64_t id)
{
    int r = check_id(id);
    return r < 0 ? r : m->ops->version_remove(m, id);
}

int kura_meta_version_set_header(struct kura_meta *m, uint64_t id, const uint8_t *header,
                                 size_t len, const char *key_id)
{
    int r = check_id(id);
    r = r == 0 ? check_key_id(key_id) : r;
    r = r == 0 && len > KURA_META_C4GH_HEADER_MAX ? KURA_ETOOBIG : r;
    r = r == 0 && (len == 0 || !header) ? -EINVAL : r;
    return r < 0 ? r : m->ops->version_set_header(m, id, header, len, key_id);
}

int kura_meta_versions_by_key(struct kura_meta *m, const char *key_id, uint64_t after,
                              uint32_t limit, kura_version_fn fn, void *ctx)
{
    assert(fn);
    int r = check_key_id(key_id);
    r = r == 0 ? check_u63(after) : r;
    r = r == 0 && limit == 0 ? -EINVAL : r;
    return r < 0 ? r : m->ops->versions_by_key(m, key_id, after, limit, fn, ctx);
}

int kura_meta_versions_all(struct kura_meta *m, uint64_t after, uint32_t limit, kura_version_fn fn,
                           void *ctx)
{
    assert(fn);
    int r = check_u63(after);
    r = r == 0 && limit == 0 ? -EINVAL : r;
    return r < 0 ? r : m->ops->versions_all(m, after, limit, fn, ctx);
}

int kura_meta_version_flag_corrupt(struct kura_meta *m, uint64_t id, int64_t at)
{
    int r = check_id(id);
    r = r == 0 && at <= 0 ? -EINVAL : r;
    return r < 0 ? r : m->ops->version_flag_corrupt(m, id, at);
}

int kura_meta_blob_referenced(struct kura_meta *m, const char *blob, bool *ret)
{
    int r = check_word(blob, 1, KURA_META_BLOB_ID_MAX);
    return r < 0 ? r : m->ops->blob_referenced(m, blob, ret);
}

/* ---- dead properties ---------------------------------------------------------------------- */

int kura_meta_prop_set(struct kura_meta *m, uint64_t node, const char *ns, const char *name,
                       const char *value)
{
    int r = check_id(node);
    r = r == 0 ? check_prop_key(ns, name) : r;
    r = r == 0 ? check_xml(value, KURA_META_PROP_VALUE_MAX) : r;
    return r < 0 ? r : m->ops->prop_set(m, node, ns, name, value);
}

int kura_meta_prop_remove(struct kura_meta *m, uint64_t node, const char *ns, const char *name)
{
    int r = check_id(node);
    r = r == 0 ? check_prop_key(ns, name) : r;
    return r < 0 ? r : m->ops->prop_remove(m, node, ns, name);
}

int kura_meta_prop_get(struct kura_meta *m, uint64_t node, const char *ns, const char *name,
                       char **ret_value)
{
    int r = check_id(node);
    r = r == 0 ? check_prop_key(ns, name) : r;
    return r < 0 ? r : m->ops->prop_get(m, node, ns, name, ret_value);
}

int kura_meta_prop_list(struct kura_meta *m, uint64_t node, kura_prop_fn fn, void *ctx)
{
    assert(fn);
    int r = check_id(node);
    return r < 0 ? r : m->ops->prop_list(m, node, fn, ctx);
}

int kura_meta_prop_copy(struct kura_meta *m, uint64_t from, uint64_t to)
{
    int r = check_id(from);
    r = r == 0 ? check_id(to) : r;
    return r < 0 ? r : m->ops->prop_copy(m, from, to);
}

/* ---- locks -------------------------------------------------------------------------------- */

int kura_meta_lock_create(struct kura_meta *m, const struct kura_lock *l)
{
    int r = check_lock(l);
    return r < 0 ? r : m->ops->lock_create(m, l);
}

int kura_meta_lock_get(struct kura_meta *m, const char *token, int64_t now, struct kura_lock *ret)
{
    int r = check_word(token, 1, KURA_META_LOCK_TOKEN_MAX);
    r = r == 0 ? check_time(now) : r;
    return r < 0 ? r : m->ops->lock_get(m, token, now, ret);
}

int kura_meta_lock_covering(struct kura_meta *m, uint64_t space, const char *path, bool descendants,
                            int64_t now, kura_lock_fn fn, void *ctx)
{
    assert(fn);
    int r = check_id(space);
    r = r == 0 ? check_path(path, true) : r;
    r = r == 0 ? check_time(now) : r;
    return r < 0 ? r : m->ops->lock_covering(m, space, path, descendants, now, fn, ctx);
}

int kura_meta_lock_refresh(struct kura_meta *m, const char *token, int64_t expires_at)
{
    int r = check_word(token, 1, KURA_META_LOCK_TOKEN_MAX);
    r = r == 0 ? check_time(expires_at) : r;
    return r < 0 ? r : m->ops->lock_refresh(m, token, expires_at);
}

int kura_meta_lock_remove(struct kura_meta *m, const char *token)
{
    int r = check_word(token, 1, KURA_META_LOCK_TOKEN_MAX);
    return r < 0 ? r : m->ops->lock_remove(m, token);
}

int kura_meta_lock_prune(struct kura_meta *m, int64_t now, uint64_t *ret_pruned)
{
    int r = check_time(now);
    if (r < 0) {
        return r;
    }
    uint64_t n = 0;
    r = m->ops->lock_prune(m, now, &n);
    if (r == 0 && ret_pruned) {
        *ret_pruned = n;
    }
    return r;
}

int kura_meta_checkpoint(struct kura_meta *m)
{
    return m->ops->checkpoint(m);
}

int kura_meta_checkpoint_try(struct kura_meta *m)
{
    return m->ops->checkpoint_try(m);
}
