/* serve.c — the WebDAV routes under /dav: request capture, authentication, the job on the work
 * pool, and the answer.
 *
 * Authentication: HTTP Basic with an app password (never the account password: the account's
 * second factor cannot be sent by WebDAV clients), or the portal's session cookie, which must
 * come with X-CSRF-Token for every method that changes something. Everything that touches the
 * database runs on the work pool, except a PUT's checks, which must answer before the body is
 * read (dav_put_begin). */
#include "dav/dav-internal.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* The audit action of each method. */
static const char *const actions[] = {
    [DAV_OPTIONS] = "dav.options",
    [DAV_PROPFIND] = "dav.propfind",
    [DAV_PROPPATCH] = "dav.proppatch",
    [DAV_MKCOL] = "dav.mkcol",
    [DAV_GET] = "dav.get",
    [DAV_HEAD] = "dav.head",
    [DAV_PUT] = "dav.put",
    [DAV_DELETE] = "dav.delete",
    [DAV_COPY] = "dav.copy",
    [DAV_MOVE] = "dav.move",
    [DAV_LOCK] = "dav.lock",
    [DAV_UNLOCK] = "dav.unlock",
};

static bool changes(enum dav_method m)
{
    return m != DAV_OPTIONS && m != DAV_PROPFIND && m != DAV_GET && m != DAV_HEAD;
}

static const char *header(struct kura_req *r, const char *name)
{
    const char *v = kura_req_header(r, name);
    return v ? kura_arena_strndup(kura_req_info(r)->arena, v, strlen(v)) : NULL;
}

int dav_space_path(const char *path, size_t len, struct kura_path *ret)
{
    const char home[] = DAV_PREFIX "/" DAV_HOME;
    const size_t hl = sizeof(home) - 1;
    if (len < hl || memcmp(path, home, hl) != 0 || (len > hl && path[hl] != '/')) {
        return KURA_ENOTFOUND;
    }
    const char *rest = path + hl + (len > hl);
    size_t rlen = len - hl - (len > hl);
    return kura_path_normalize(rest, rlen, ret, NULL);
}

/* /dav, /dav/ -> the root; /dav/home[/...] -> the personal space; else 404. */
static int map_path(struct dav_job *j, const char *path, size_t len)
{
    const size_t pl = sizeof(DAV_PREFIX) - 1;
    if (len < pl || memcmp(path, DAV_PREFIX, pl) != 0 || (len > pl && path[pl] != '/')) {
        return KURA_ENOTFOUND;
    }
    if (len <= pl + 1) {
        j->where = DAV_AT_ROOT;
        return 0;
    }
    j->where = DAV_AT_SPACE;
    j->href_base = DAV_PREFIX "/" DAV_HOME;
    int r = dav_space_path(path, len, &j->rel);
    if (r == KURA_EBADNAME) {
        /* The reason, again, for the audit record. */
        const char *why = NULL;
        struct kura_path tmp = KURA_PATH_INIT;
        const size_t hl = sizeof(DAV_PREFIX "/" DAV_HOME);
        KURA_IGNORE(kura_path_normalize(path + hl, len > hl ? len - hl : 0, &tmp, &why));
        kura_path_release(&tmp);
        j->why = why;
    }
    return r;
}

static void release_job(void *arg)
{
    struct dav_job *j = arg;
    kura_path_release(&j->rel);
    kura_buf_release(&j->out);
    kura_store_get_close(j->dl);
    j->dl = NULL;
    kura_store_put_abort(j->up);
    j->up = NULL;
}

int dav_job_new(struct kura_req *r, enum dav_method m, struct dav_job **ret)
{
    const struct kura_req_info *info = kura_req_info(r);
    struct dav_job *j = KURA_ARENA_NEW(info->arena, struct dav_job);
    if (!j) {
        return kura_arena_err(info->arena);
    }
    j->api = info->app;
    j->method = m;
    j->arena = info->arena;
    j->rel = KURA_PATH_INIT;
    j->out = KURA_BUF_INIT(DAV_OUT_MAX);
    j->source_ip = info->source_ip;
    j->body = info->body;
    const char *url = info->conf->http.public_url;
    size_t ulen = strlen(url);
    j->origin =
        kura_arena_strndup(info->arena, url, ulen && url[ulen - 1] == '/' ? ulen - 1 : ulen);
    kura_req_on_done(r, release_job, j);
    kura_req_set_data(r, j);
    j->authorization = header(r, "Authorization");
    j->cookie = api_cookie_value(kura_req_header(r, "Cookie"), info->arena);
    j->csrf = header(r, KURA_API_CSRF_HEADER);
    j->user_agent = header(r, "User-Agent");
    j->depth = header(r, "Depth");
    j->destination = header(r, "Destination");
    j->overwrite = header(r, "Overwrite");
    j->if_hdr = header(r, "If");
    j->if_match = header(r, "If-Match");
    j->if_none_match = header(r, "If-None-Match");
    j->range = header(r, "Range");
    j->oc_checksum = header(r, "OC-Checksum");
    j->digest = header(r, "Digest");
    j->oc_mtime = header(r, "X-OC-Mtime");
    j->content_range = header(r, "Content-Range");
    j->timeout = header(r, "Timeout");
    j->lock_token = header(r, "Lock-Token");
    KURA_IGNORE(kura_req_set_object(r, info->path));
    int rc = kura_arena_err(info->arena);
    rc = rc == 0 ? map_path(j, info->path, info->path_len) : rc;
    *ret = j;
    return rc;
}

/* ---- who -------------------------------------------------------------------------------- */

static int basic(struct dav_job *j)
{
    const char *v = j->authorization + 6;
    size_t vlen = strlen(v);
    char decoded[KURA_META_ID_MAX + KURA_APP_TOKEN_MAX + 8];
    size_t n = 0;
    if (sodium_base642bin((unsigned char *)decoded, sizeof(decoded) - 1, v, vlen, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        j->why = "bad_basic";
        return KURA_EUNAUTH;
    }
    decoded[n] = '\0';
    char *colon = memchr(decoded, ':', n);
    int r = KURA_EUNAUTH;
    if (colon && !memchr(decoded, '\0', n)) {
        *colon = '\0';
        struct kura_auth_basic b;
        r = kura_auth_basic(j->api->auth, decoded, colon + 1, n - (size_t)(colon + 1 - decoded),
                            j->source_ip, kura_clock_wall_ms(), &b);
        if (r == 0) {
            (void)snprintf(j->account, sizeof(j->account), "%s", b.account_id);
            j->actor = (struct kura_actor){j->account, b.roles, !b.read_write};
        }
    }
    sodium_memzero(decoded, sizeof(decoded));
    j->why = r == KURA_EUNAUTH ? "bad_app_password" : NULL;
    return r;
}

int dav_authenticate(struct dav_job *j, bool change)
{
    if (j->authorization && strncasecmp(j->authorization, "Basic ", 6) == 0) {
        return basic(j);
    }
    if (!j->cookie) {
        j->why = "no_credentials";
        return KURA_EUNAUTH;
    }
    struct kura_auth_identity id;
    int r = kura_auth_session_check(j->api->auth, j->cookie, strlen(j->cookie),
                                    kura_clock_wall_ms(), &id);
    if (r < 0) {
        j->why = "no_session";
        return r;
    }
    if (id.kind == KURA_SESSION_ENROL) {
        j->why = "enrolment_session";
        return KURA_EFORBIDDEN;
    }
    if (change && kura_auth_csrf_check(&id, j->csrf, j->csrf ? strlen(j->csrf) : 0) < 0) {
        j->why = "csrf";
        return KURA_EFORBIDDEN;
    }
    (void)snprintf(j->account, sizeof(j->account), "%s", id.account_id);
    j->actor = (struct kura_actor){j->account, id.roles, false};
    j->via_session = true;
    return 0;
}

void dav_set_identity(struct kura_req *r, const struct dav_job *j)
{
    if (j->account[0]) {
        char actor[KURA_META_ID_MAX + 8];
        (void)snprintf(actor, sizeof(actor), "user:%s", j->account);
        const struct kura_req_identity ident = {actor, NULL,
                                                j->via_session ? "session" : "app-password", false};
        KURA_IGNORE(kura_req_set_identity(r, &ident));
    }
    if (j->why) {
        KURA_IGNORE(kura_req_set_reason(r, j->why));
    }
}

int dav_fail(struct kura_req *r, struct dav_job *j, int rc)
{
    dav_set_identity(r, j);
    if (rc == KURA_EUNAUTH) {
        KURA_IGNORE(
            kura_req_add_header(r, "WWW-Authenticate", "Basic realm=\"kura\", charset=\"UTF-8\""));
    }
    return rc;
}

int dav_href(struct dav_job *j, const char *path, bool folder, const char **ret, size_t *ret_len)
{
    /* Concatenated by hand: a Depth 1 PROPFIND makes one per entry. */
    size_t lb = strlen(j->href_base), lp = strlen(path);
    size_t len = lb + (path[0] != '\0') + lp + folder;
    char *h = kura_arena_alloc(j->arena, len + 1);
    if (!h) {
        return kura_arena_err(j->arena);
    }
    char *p = h;
    memcpy(p, j->href_base, lb);
    p += lb;
    if (path[0]) {
        *p++ = '/';
    }
    memcpy(p, path, lp);
    p += lp;
    if (folder) {
        *p++ = '/';
    }
    *p = '\0';
    *ret = h;
    *ret_len = len;
    return 0;
}

int dav_lookup(struct dav_job *j)
{
    struct kura_store *s = j->api->store;
    int r = kura_store_home(s, &j->actor, &j->space);
    r = r == 0 ? kura_store_stat(s, &j->actor, &j->space, j->rel.ptr, &j->node, &j->why) : r;
    return r;
}

/* ---- the job ---------------------------------------------------------------------------- */

static void work_method(struct dav_job *j)
{
    j->rc = dav_authenticate(j, changes(j->method));
    if (j->rc < 0) {
        return;
    }
    if (j->where == DAV_AT_ROOT && j->method != DAV_PROPFIND && j->method != DAV_OPTIONS) {
        j->rc = j->method == DAV_GET || j->method == DAV_HEAD ? KURA_EMETHOD : KURA_EFORBIDDEN;
        j->why = "virtual_root";
        return;
    }
    switch (j->method) {
    case DAV_OPTIONS:
        j->rc = 0;
        break;
    case DAV_PROPFIND:
        j->rc = dav_propfind(j);
        break;
    case DAV_MKCOL:
        j->rc = dav_mkcol(j);
        break;
    case DAV_DELETE:
        j->rc = dav_delete(j);
        break;
    case DAV_GET:
    case DAV_HEAD:
        j->rc = dav_get_open(j);
        break;
    case DAV_PROPPATCH:
        j->rc = dav_proppatch(j);
        break;
    case DAV_COPY:
    case DAV_MOVE:
        j->rc = dav_copy_move(j);
        break;
    case DAV_LOCK:
        j->rc = dav_lock(j);
        break;
    case DAV_UNLOCK:
        j->rc = dav_unlock(j);
        break;
    case DAV_PUT:
        j->rc = KURA_EINTERNAL; /* dav_put_begin */
        break;
    }
}

static void work(void *arg)
{
    struct dav_job *j = arg;
    /* The methods that only read share one metadata snapshot (a write would end it). */
    bool reads = j->method == DAV_GET || j->method == DAV_HEAD || j->method == DAV_PROPFIND;
    if (reads) {
        (void)kura_store_snapshot(j->api->store, true); /* kept or not: reads are right */
    }
    work_method(j);
    if (reads) {
        (void)kura_store_snapshot(j->api->store, false);
    }
}

static void add_node_headers(struct kura_req *r, const struct dav_job *j)
{
    char etag[KURA_META_ETAG_MAX + 3], id[KURA_NUM_STR_MAX];
    (void)snprintf(etag, sizeof(etag), "\"%s\"", j->node.etag);
    KURA_IGNORE(kura_req_add_header(r, "ETag", etag));
    KURA_IGNORE(kura_req_add_header(r, "OC-ETag", etag));
    KURA_IGNORE(kura_req_add_header(r, "OC-FileId", kura_fmt_u64(id, j->node.id)));
}

static ssize_t out_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct kura_buf *b = cls;
    if (pos >= b->len) {
        return KURA_EINTERNAL;
    }
    size_t n = b->len - (size_t)pos < max ? b->len - (size_t)pos : max;
    memcpy(buf, b->ptr + pos, n);
    return (ssize_t)n;
}

static void out_free(void *cls)
{
    struct kura_buf *b = cls;
    kura_buf_release(b);
    kura_free(b);
}

/* Hands j->out to the response (it may be far larger than the request arena). */
static int respond_out(struct kura_req *r, struct dav_job *j, unsigned status)
{
    if (kura_buf_err(&j->out) < 0) {
        return kura_buf_err(&j->out);
    }
    struct kura_buf *b = kura_malloc(sizeof(*b));
    if (!b) {
        return -ENOMEM;
    }
    *b = j->out;
    j->out = KURA_BUF_INIT(0);
    if (b->len == 0) {
        out_free(b);
        return kura_req_respond(r, status, NULL, "", 0);
    }
    return kura_req_respond_stream(r, status, KURA_DAV_CONTENT_TYPE, b->len, out_read, b, out_free);
}

int dav_answer(struct kura_req *r, struct dav_job *j)
{
    dav_set_identity(r, j);
    if (j->rc < 0 && j->status && j->out.len > 0) {
        /* A refusal with a WebDAV precondition body (RFC 4918 16). */
        KURA_IGNORE(kura_req_set_reason(r, j->why ? j->why : kura_err_name(j->rc)));
        return respond_out(r, j, j->status);
    }
    if (j->rc < 0) {
        return dav_fail(r, j, j->rc);
    }
    switch (j->method) {
    case DAV_OPTIONS:
        KURA_IGNORE(kura_req_add_header(r, "DAV", "1, 2"));
        KURA_IGNORE(kura_req_add_header(r, "MS-Author-Via", "DAV"));
        KURA_IGNORE(kura_req_add_header(r, "Allow",
                                        "OPTIONS, PROPFIND, PROPPATCH, MKCOL, GET, HEAD, PUT, "
                                        "DELETE, COPY, MOVE, LOCK, UNLOCK"));
        return kura_req_respond(r, 200, NULL, "", 0);
    case DAV_PROPFIND:
        return respond_out(r, j, 207);
    case DAV_MKCOL:
        add_node_headers(r, j);
        return kura_req_respond(r, 201, NULL, "", 0);
    case DAV_DELETE:
    case DAV_UNLOCK:
        return kura_req_respond(r, 204, NULL, "", 0);
    case DAV_PROPPATCH:
        return respond_out(r, j, 207);
    case DAV_COPY:
    case DAV_MOVE:
        add_node_headers(r, j);
        return kura_req_respond(r, j->created ? 201 : 204, NULL, "", 0);
    case DAV_LOCK:
        if (j->lock_token_out) {
            KURA_IGNORE(kura_req_add_header(r, "Lock-Token", j->lock_token_out));
        }
        return respond_out(r, j, j->status ? j->status : 200);
    case DAV_GET:
    case DAV_HEAD:
        add_node_headers(r, j);
        return dav_get_answer(r, j);
    default:
        return KURA_ENOTIMPL;
    }
}

static int resume(struct kura_req *r)
{
    return dav_answer(r, kura_req_data(r));
}

static int start(struct kura_req *r, enum dav_method m)
{
    struct dav_job *j = NULL;
    int rc = dav_job_new(r, m, &j);
    if (rc < 0) {
        return j ? dav_fail(r, j, rc) : rc;
    }
    KURA_IGNORE(kura_req_set_action(r, actions[m]));
    if ((m == DAV_GET || m == DAV_HEAD) && kura_store_snapshot(j->api->store, true)) {
        /* Here on the connection's thread, without the hop to a work thread and back: the
         * lookups read a kept snapshot, which never waits for another thread, and the body is
         * read on this thread anyway (perf: ~6% more 4 KiB GETs per second on 2 cores). Without
         * a free reader, or for anything that writes, the work pool as before. */
        work_method(j);
        (void)kura_store_snapshot(j->api->store, false);
        return resume(r);
    }
    return kura_req_defer(r, KURA_POOL_WORK, work, j, resume);
}

#define HANDLER(fn, m)                                                                             \
    static int fn(struct kura_req *r)                                                              \
    {                                                                                              \
        return start(r, m);                                                                        \
    }
HANDLER(h_options, DAV_OPTIONS)
HANDLER(h_propfind, DAV_PROPFIND)
HANDLER(h_mkcol, DAV_MKCOL)
HANDLER(h_get, DAV_GET)
HANDLER(h_head, DAV_HEAD)
HANDLER(h_delete, DAV_DELETE)
HANDLER(h_proppatch, DAV_PROPPATCH)
HANDLER(h_copy, DAV_COPY)
HANDLER(h_move, DAV_MOVE)
HANDLER(h_lock, DAV_LOCK)
HANDLER(h_unlock, DAV_UNLOCK)

#define ROUTE(m, fn, body)                                                                         \
    {                                                                                              \
        m, DAV_PREFIX, KURA_ROUTE_PREFIX, body, fn, "dav.request", NULL                            \
    }

const struct kura_route kura_dav_routes[] = {
    ROUTE("OPTIONS", h_options, 0),
    ROUTE("PROPFIND", h_propfind, DAV_XML_BODY_MAX),
    ROUTE("PROPPATCH", h_proppatch, DAV_XML_BODY_MAX),
    ROUTE("MKCOL", h_mkcol, 65536), /* a body is answered 415, not 413 */
    ROUTE("GET", h_get, 0),
    ROUTE("HEAD", h_head, 0),
    {"PUT", DAV_PREFIX, KURA_ROUTE_PREFIX, KURA_BLOB_SIZE_MAX, dav_put_end, "dav.put",
     dav_put_begin},
    ROUTE("DELETE", h_delete, 0),
    ROUTE("COPY", h_copy, 0),
    ROUTE("MOVE", h_move, 0),
    ROUTE("LOCK", h_lock, DAV_XML_BODY_MAX),
    ROUTE("UNLOCK", h_unlock, 0),
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
