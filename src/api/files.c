/* files.c — the caller's trash and file versions, and purge with its deletion certificate
 * (docs/api.md, "Files"). Everything acts in the caller's own personal space: the store decides
 * access (owner only), and an id of anyone else's node answers 404 exactly like an unknown one.
 *
 * The file a versions call names is the rest of the URL path after /api/v1/files/versions/
 * (decoded and checked by the HTTP layer, then normalised as WebDAV names are), so that a path
 * needs no second encoding inside a query string. */
#include "api/api-internal.h"

#include <stdio.h>
#include <string.h>

#include "store/store.h"

#define TRASH "/api/v1/trash"
#define VERSIONS "/api/v1/files/versions/"

static int home(struct job *j, struct kura_actor *a, struct kura_space *sp)
{
    *a = (struct kura_actor){j->id.account_id, j->id.roles, false};
    return kura_store_home(j->api->store, a, sp);
}

/* "<prefix><id><suffix>" exactly -> id; anything else is not a resource here (404). */
static int id_in_path(const char *path, const char *prefix, const char *suffix, uint64_t *ret)
{
    size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(path);
    if (len <= plen + slen || strncmp(path, prefix, plen) != 0 ||
        strcmp(path + len - slen, suffix) != 0 ||
        kura_parse_u64(path + plen, len - plen - slen, INT64_MAX, ret) < 0 || *ret == 0) {
        return KURA_ENOTFOUND;
    }
    return 0;
}

static const char *kind_of(const struct kura_node *n)
{
    return n->folder ? "folder" : "file";
}

/* ---- GET /api/v1/trash ----------------------------------------------------------------------- */

static int add_trash_item(void *ctx, const struct kura_trash_item *t)
{
    char at[KURA_TIME_STR_MAX];
    kura_clock_format(t->node->trashed_at, at);
    json_t *o =
        json_pack("{s:I,s:s,s:s,s:I,s:I,s:s,s:s}", "id", (json_int_t)t->node->id, "path",
                  t->node->path, "kind", kind_of(t->node), "size", (json_int_t)t->size, "files",
                  (json_int_t)t->files, "trashed_at", at, "trashed_by", t->node->trashed_by);
    return o && json_array_append_new(ctx, o) == 0 ? 0 : -ENOMEM;
}

static int trash_list_work(struct job *j)
{
    struct kura_actor a;
    struct kura_space sp;
    json_t *list = json_array();
    int rc = list ? home(j, &a, &sp) : -ENOMEM;
    rc =
        rc == 0 ? kura_store_trash_list(j->api->store, &a, &sp, add_trash_item, list, &j->why) : rc;
    j->out = rc == 0 ? json_pack("{s:o}", "trash", list) : (json_decref(list), NULL);
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

/* ---- POST /api/v1/trash/<id>/restore {"to"} -------------------------------------------------- */

static int trash_restore_work(struct job *j)
{
    uint64_t id = 0;
    struct kura_actor a;
    struct kura_space sp;
    struct kura_path to = KURA_PATH_INIT;
    struct kura_node *n = kura_malloc(sizeof(*n));
    int rc = n ? id_in_path(j->path, TRASH "/", "/restore", &id) : -ENOMEM;
    if (rc == 0 && j->f[0] && kura_path_normalize(j->f[0], j->flen[0], &to, &j->why) < 0) {
        rc = KURA_EBADREQ;
    } else if (rc == 0 && j->f[0] && to.nseg == 0) {
        rc = KURA_EBADREQ;
        j->why = "bad_path";
    }
    rc = rc == 0 ? home(j, &a, &sp) : rc;
    rc = rc == 0 ? kura_store_trash_restore(j->api->store, &a, &sp, id, j->f[0] ? to.ptr : NULL, n,
                                            &j->why)
                 : rc;
    if (rc == KURA_EEXIST) {
        j->why = "path_taken"; /* give another path in "to" */
    }
    j->out = rc == 0 ? json_pack("{s:I,s:s,s:s,s:b}", "id", (json_int_t)n->id, "path", n->path,
                                 "kind", kind_of(n), "restored", true)
                     : NULL;
    kura_path_release(&to);
    kura_free(n);
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

/* ---- DELETE /api/v1/trash/<id>: purge, answered with the signed certificate ------------------ */

static int purge_work(struct job *j)
{
    uint64_t id = 0;
    struct kura_actor a;
    struct kura_space sp;
    struct kura_purge_cert c = {0};
    char by[KURA_META_ID_MAX + 8];
    (void)snprintf(by, sizeof(by), "user:%s", j->id.account_id);
    int rc = j->api->purge ? id_in_path(j->path, TRASH "/", "", &id) : KURA_ENOTIMPL;
    rc = rc == 0 ? home(j, &a, &sp) : rc;
    rc = rc == 0 ? kura_store_purge(j->api->store, &a, &sp, id, true, by, j->api->purge, NULL,
                                    kura_clock_wall_ms(), &c, &j->why)
                 : rc;
    if (rc == 0 && c.keep_err < 0) {
        j->why = "certificate_copy_failed"; /* the answer still carries the certificate */
    }
    if (rc == 0) {
        /* The document as signed, byte for byte. */
        j->text = (struct kura_buf)KURA_BUF_INIT(KURA_PURGE_CERT_MAX + 1);
        kura_buf_add(&j->text, c.doc, c.len);
        rc = kura_buf_err(&j->text);
        j->text_type = rc == 0 ? "application/json; charset=utf-8" : NULL;
        (void)snprintf(j->target, sizeof(j->target), "%s", c.id);
        j->object = j->target; /* the audit record names the certificate */
    }
    kura_purge_cert_release(&c);
    return rc;
}

/* ---- GET /api/v1/files/versions/<path> ------------------------------------------------------- */

struct versions {
    json_t *list;
    uint64_t current;
};

static int add_version(void *ctx, const struct kura_version *v)
{
    struct versions *x = ctx;
    char at[KURA_TIME_STR_MAX], sha[65];
    kura_clock_format(v->created_at, at);
    kura_hex_encode(sha, v->sha256, sizeof(v->sha256));
    json_t *o =
        json_pack("{s:I,s:I,s:s,s:s,s:s,s:b,s:b}", "id", (json_int_t)v->id, "size",
                  (json_int_t)v->size, "sha256", sha, "created_at", at, "created_by", v->created_by,
                  "current", v->id == x->current, "corrupt", v->corrupt_at != 0);
    return o && json_array_append_new(x->list, o) == 0 ? 0 : -ENOMEM;
}

static int versions_work(struct job *j)
{
    struct kura_actor a;
    struct kura_space sp;
    struct kura_path p = KURA_PATH_INIT;
    struct kura_node *n = kura_malloc(sizeof(*n));
    struct versions x = {json_array(), 0};
    const char *rel = j->path + strlen(VERSIONS); /* the route's prefix */
    int rc = n && x.list ? 0 : -ENOMEM;
    if (rc == 0 && kura_path_normalize(rel, strlen(rel), &p, &j->why) < 0) {
        rc = KURA_EBADREQ;
    }
    rc = rc == 0 ? home(j, &a, &sp) : rc;
    rc = rc == 0 ? kura_store_stat(j->api->store, &a, &sp, p.ptr, n, &j->why) : rc;
    if (rc == 0 && n->folder) {
        rc = KURA_EBADREQ;
        j->why = "not_a_file";
    }
    x.current = rc == 0 ? n->version : 0;
    rc = rc == 0 ? kura_store_versions(j->api->store, &a, &sp, n, add_version, &x, &j->why) : rc;
    j->out = rc == 0 ? json_pack("{s:s,s:o}", "path", p.ptr, "versions", x.list)
                     : (json_decref(x.list), NULL);
    kura_path_release(&p);
    kura_free(n);
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

/* ---- POST /api/v1/files/versions/<id>/restore ------------------------------------------------ */

static int version_restore_work(struct job *j)
{
    uint64_t id = 0;
    struct kura_actor a;
    struct kura_space sp;
    struct kura_node *n = kura_malloc(sizeof(*n));
    int rc = n ? id_in_path(j->path, VERSIONS, "/restore", &id) : -ENOMEM;
    rc = rc == 0 ? home(j, &a, &sp) : rc;
    rc = rc == 0 ? kura_store_version_restore(j->api->store, &a, &sp, id, kura_clock_wall_ms(), n,
                                              &j->why)
                 : rc;
    char sha[65];
    if (rc == 0) {
        kura_hex_encode(sha, n->sha256, sizeof(n->sha256));
        j->out =
            json_pack("{s:s,s:I,s:I,s:s,s:s}", "path", n->path, "version", (json_int_t)n->version,
                      "size", (json_int_t)n->size, "sha256", sha, "etag", n->etag);
    }
    kura_free(n);
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

/* ---- routes ---------------------------------------------------------------------------------- */

static int trash_handler(struct kura_req *r)
{
    static const struct api_field fields[] = {{"to", KURA_PATH_MAX, false}};
    const char *m = kura_req_info(r)->method;
    if (strcmp(m, "GET") == 0) {
        return api_start(r, NEED_SESSION, NULL, 0, trash_list_work, KURA_POOL_WORK);
    }
    if (strcmp(m, "POST") == 0) {
        return api_start(r, NEED_SESSION | NEED_CSRF, fields, 1, trash_restore_work,
                         KURA_POOL_WORK);
    }
    /* DELETE: fsyncs (blob removal, the certificate's copy) and a checkpoint: a work pool. */
    return api_start(r, NEED_SESSION | NEED_CSRF, NULL, 0, purge_work, KURA_POOL_WORK);
}

static int versions_handler(struct kura_req *r)
{
    if (strcmp(kura_req_info(r)->method, "GET") == 0) {
        return api_start(r, NEED_SESSION, NULL, 0, versions_work, KURA_POOL_WORK);
    }
    return api_start(r, NEED_SESSION | NEED_CSRF, NULL, 0, version_restore_work, KURA_POOL_WORK);
}

const struct kura_route kura_api_files_routes[] = {
    {"GET", TRASH, 0, 0, trash_handler, "files.trash_list", NULL},
    {"POST", TRASH "/", KURA_ROUTE_PREFIX, KURA_API_BODY_MAX, trash_handler, "files.trash_restore",
     NULL},
    {"DELETE", TRASH "/", KURA_ROUTE_PREFIX, 0, trash_handler, "files.purge", NULL},
    {"GET", VERSIONS, KURA_ROUTE_PREFIX, 0, versions_handler, "files.versions", NULL},
    {"POST", VERSIONS, KURA_ROUTE_PREFIX, KURA_API_BODY_MAX, versions_handler,
     "files.version_restore", NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
