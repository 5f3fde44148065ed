/* store.c — the store handle, access decisions, the tree: lookups, listings, folders, trash. */
#include "store/store-internal.h"

#include <sodium.h>
#include <string.h>

int kura_store_new(const struct kura_store_opts *o, struct kura_store **ret)
{
    if (!o->meta || !o->blob || !o->c4gh_sk || !o->c4gh_pk || !o->key_id ||
        strlen(o->key_id) > KURA_META_KEY_ID_MAX) {
        return -EINVAL;
    }
    struct kura_store *s = kura_malloc(sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    *s = (struct kura_store){.meta = o->meta,
                             .blob = o->blob,
                             .audit = o->audit,
                             .versions_keep = o->versions_keep,
                             .default_quota = o->default_quota};
    int r = store_keys_init(s, o->c4gh_sk, o->key_id);
    r = r == 0 ? store_keycache_new(&s->keycache) : r;
    if (r < 0) {
        kura_store_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

struct kura_store *kura_store_free(struct kura_store *s)
{
    if (s) {
        store_keys_release(s);
        store_keycache_free(s->keycache);
        kura_free(s);
    }
    return NULL;
}

bool kura_store_snapshot(struct kura_store *s, bool on)
{
    return kura_meta_snapshot(s->meta, on);
}

int kura_store_checkpoint_pruned(struct kura_store *s)
{
    if (!atomic_exchange(&s->pruned, false)) {
        return 0;
    }
    int r = kura_meta_checkpoint_try(s->meta);
    if (r < 0) {
        atomic_store(&s->pruned, true); /* tried again at the next call */
    }
    return r;
}

size_t kura_store_sweep(struct kura_store *s)
{
    return store_keycache_sweep(s->keycache);
}

int store_access(const struct kura_actor *a, enum kura_access_action act,
                 const struct kura_space *sp, const char **ret_why)
{
    const char *why = NULL;
    const struct kura_access_object o = {sp};
    int r = kura_access_check(a, act, &o, &why);
    if (ret_why) {
        *ret_why = why;
    }
    return r;
}

void store_parent_path(const char *path, char ret[static KURA_META_PATH_MAX + 1])
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    memcpy(ret, path, n);
    ret[n] = '\0';
}

void store_report_corrupt(struct kura_store *s, uint64_t version, const char *blob, int err)
{
    char v[KURA_NUM_STR_MAX];
    kura_fmt_u64(v, version);
    kura_log(KURA_LOG_ERR, "object_corrupt", "version", v, "blob", blob, "error",
             kura_err_name(err), NULL);
    KURA_IGNORE(kura_meta_version_flag_corrupt(s->meta, version, kura_clock_wall_ms()));
    if (s->audit) {
        json_t *detail = json_pack("{s:s,s:s}", "version", v, "error", kura_err_name(err));
        const struct kura_audit_event ev = {.actor = "system",
                                            .action = "store.corrupt",
                                            .object = blob,
                                            .result = KURA_AUDIT_ERROR,
                                            .reason = kura_err_name(err),
                                            .detail = detail};
        KURA_IGNORE(kura_audit_emit(s->audit, &ev, NULL, NULL));
        json_decref(detail);
    }
}

void store_release_blob(struct kura_store *s, const char *blob)
{
    atomic_store(&s->pruned, true); /* a version row is gone: its header is for the checkpoint */
    bool used = true;
    if (kura_meta_blob_referenced(s->meta, blob, &used) == 0 && !used) {
        KURA_IGNORE(kura_blob_remove(s->blob, blob));
    }
}

int kura_store_home(struct kura_store *s, const struct kura_actor *a, struct kura_space *ret)
{
    if (!a || !a->account) {
        return KURA_EFORBIDDEN;
    }
    return kura_meta_space_personal(s->meta, a->account, s->default_quota, kura_clock_wall_ms(),
                                    ret);
}

int kura_store_stat(struct kura_store *s, const struct kura_actor *a, const struct kura_space *sp,
                    const char *path, struct kura_node *ret, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, ret_why);
    return r < 0 ? r : kura_meta_node_lookup(s->meta, sp->id, path, ret);
}

int kura_store_list(struct kura_store *s, const struct kura_actor *a, const struct kura_space *sp,
                    const struct kura_node *folder, kura_node_fn fn, void *ctx,
                    const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, ret_why);
    if (r == 0 && (folder->space != sp->id || !folder->folder)) {
        r = -EINVAL;
    }
    return r < 0 ? r : kura_meta_node_children(s->meta, folder->id, fn, ctx);
}

int kura_store_mkcol(struct kura_store *s, const struct kura_actor *a, const struct kura_space *sp,
                     const char *path, int64_t now, struct kura_node *ret, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    if (r < 0) {
        return r;
    }
    if (!path[0]) {
        return KURA_EEXIST; /* the root always exists */
    }
    struct kura_node n = {.space = sp->id, .folder = true, .created_at = now, .mtime = now};
    size_t len = strlen(path);
    if (len > KURA_META_PATH_MAX) {
        return KURA_EBADPATH;
    }
    memcpy(n.path, path, len + 1);
    uint64_t id = 0;
    r = kura_meta_node_create(s->meta, &n, &id);
    return r < 0 ? r : kura_meta_node_get(s->meta, id, ret);
}

int kura_store_delete(struct kura_store *s, const struct kura_actor *a, const struct kura_space *sp,
                      const struct kura_node *n, int64_t now, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    if (r == 0 && (n->space != sp->id || n->parent == 0)) {
        r = KURA_EFORBIDDEN; /* the root of a space is not deleted */
        if (ret_why) {
            *ret_why = "space_root";
        }
    }
    char by[KURA_META_ACTOR_MAX + 1];
    (void)snprintf(by, sizeof(by), "user:%s", a->account);
    return r < 0 ? r : kura_meta_node_trash(s->meta, n->id, by, now);
}

int kura_store_prop_get(struct kura_store *s, const struct kura_actor *a,
                        const struct kura_space *sp, const struct kura_node *n, const char *ns,
                        const char *name, char **ret_value)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, NULL);
    r = r == 0 && n->space != sp->id ? -EINVAL : r;
    return r < 0 ? r : kura_meta_prop_get(s->meta, n->id, ns, name, ret_value);
}

int kura_store_prop_list(struct kura_store *s, const struct kura_actor *a,
                         const struct kura_space *sp, const struct kura_node *n, kura_prop_fn fn,
                         void *ctx)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, NULL);
    r = r == 0 && n->space != sp->id ? -EINVAL : r;
    return r < 0 ? r : kura_meta_prop_list(s->meta, n->id, fn, ctx);
}
