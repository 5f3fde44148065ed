/* transfer.c — GET/HEAD (single Range) and PUT (streamed, checksummed, conditional).
 *
 * Downloads never execute in the browser: every file answer is an attachment with nosniff and a
 * sandboxing Content-Security-Policy, so an uploaded HTML or script file cannot act on the
 * portal's origin. PUT: the checks (who, may they, preconditions, parent, quota for the
 * announced size) run when the headers are complete, before a byte of the body is stored; the
 * body is encrypted as it arrives; the commit (fsync, metadata) runs on the work pool. */
#include "dav/dav-internal.h"

#include <stdio.h>
#include <string.h>

/* ---- GET / HEAD ------------------------------------------------------------------------- */

int dav_get_open(struct dav_job *j)
{
    int r = dav_lookup(j);
    if (r < 0) {
        return r;
    }
    if (j->node.folder) {
        j->why = "collection";
        return KURA_EMETHOD; /* a GET of a collection has no defined body (RFC 4918 9.4) */
    }
    j->dl_size = j->node.size;
    j->dl_first = 0;
    j->dl_len = j->node.size;
    if (j->range && j->method == DAV_GET) {
        struct kura_dav_range rg;
        r = kura_dav_parse_range(j->range, strlen(j->range), j->node.size, &rg);
        if (r < 0) {
            j->why = "range_not_satisfiable";
            return r;
        }
        if (rg.kind == KURA_DAV_RANGE_PART) {
            j->partial = true;
            j->dl_first = rg.first;
            j->dl_len = rg.last - rg.first + 1;
        }
    }
    if (j->method == DAV_HEAD || j->dl_len == 0) {
        return 0;
    }
    return kura_store_get_open(j->api->store, &j->actor, &j->space, &j->node, j->dl_first,
                               j->dl_len, &j->dl, &j->why);
}

/* The response owns the download (it may outlive the request's arena: libmicrohttpd frees a
 * response after the request's completion callback). */
static ssize_t dl_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos; /* the download is sequential */
    ssize_t n = kura_store_get_read(cls, buf, max);
    return n == 0 ? KURA_ECORRUPT : n; /* ended before Content-Length: never complete it */
}

static void dl_done(void *cls)
{
    kura_store_get_close(cls);
}

/* The file-response headers that keep a download from running in the portal's origin. */
static void attachment_headers(struct kura_req *r, struct dav_job *j)
{
    const char *name = kura_node_name(&j->node);
    struct kura_buf cd = KURA_BUF_INIT(2048);
    /* RFC 6266 + RFC 8187: filename* carries the UTF-8 name percent-encoded. */
    kura_buf_adds(&cd, "attachment; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p)) {
            kura_buf_add(&cd, (const char *)p, 1);
        } else {
            kura_buf_addf(&cd, "%%%02X", *p);
        }
    }
    if (kura_buf_err(&cd) == 0) {
        KURA_IGNORE(kura_req_add_header(r, "Content-Disposition", cd.ptr));
    }
    kura_buf_release(&cd);
    KURA_IGNORE(kura_req_add_header(r, "Content-Security-Policy", "sandbox; default-src 'none'"));
    KURA_IGNORE(kura_req_add_header(r, "Accept-Ranges", "bytes"));
    char hex[65], sum[80];
    kura_hex_encode(hex, j->node.sha256, sizeof(j->node.sha256));
    (void)snprintf(sum, sizeof(sum), "SHA256:%s", hex);
    KURA_IGNORE(kura_req_add_header(r, "OC-Checksum", sum));
}

int dav_get_answer(struct kura_req *r, struct dav_job *j)
{
    attachment_headers(r, j);
    char lm[KURA_HTTP_DATE_MAX];
    kura_http_date(j->node.mtime, lm);
    KURA_IGNORE(kura_req_add_header(r, "Last-Modified", lm));
    if (j->partial) {
        struct kura_buf cr = KURA_BUF_INIT(128);
        const struct kura_dav_range rg = {KURA_DAV_RANGE_PART, j->dl_first,
                                          j->dl_first + j->dl_len - 1};
        kura_dav_add_content_range(&cr, &rg, j->dl_size);
        KURA_IGNORE(kura_req_add_header(r, "Content-Range", cr.ptr ? cr.ptr : ""));
        kura_buf_release(&cr);
    }
    unsigned status = j->partial ? 206 : 200;
    if (j->method == DAV_HEAD || !j->dl) {
        /* HEAD (the length a GET would send, no body) or an empty file. */
        return kura_req_respond_stream(r, status, "application/octet-stream", j->dl_len, NULL, NULL,
                                       NULL);
    }
    struct kura_download *d = j->dl;
    j->dl = NULL;
    return kura_req_respond_stream(r, status, "application/octet-stream", j->dl_len, dl_read, d,
                                   dl_done);
}

/* ---- PUT -------------------------------------------------------------------------------- */

static int put_body(struct kura_req *r, const char *data, size_t len)
{
    struct dav_job *j = kura_req_data(r);
    return kura_store_put_write(j->up, data, len);
}

/* The client's checksum (OC-Checksum first, then Digest): SHA-256, SHA-1 or MD5 is verified;
 * others are not ours to check. */
static int wanted_digest(struct dav_job *j, struct kura_put_opts *o)
{
    struct kura_dav_digests d = {0};
    int r = 0;
    if (j->oc_checksum) {
        r = kura_dav_parse_oc_checksum(j->oc_checksum, strlen(j->oc_checksum), &d);
    } else if (j->digest) {
        r = kura_dav_parse_digest(j->digest, strlen(j->digest), &d);
    }
    static const enum kura_dav_hash pref[] = {KURA_DAV_HASH_SHA256, KURA_DAV_HASH_SHA1,
                                              KURA_DAV_HASH_MD5};
    static const enum kura_digest_alg alg[] = {KURA_DIGEST_SHA256, KURA_DIGEST_SHA1,
                                               KURA_DIGEST_MD5};
    for (size_t p = 0; r == 0 && p < KURA_ARRAY_SIZE(pref) && !o->digest; p++) {
        for (size_t i = 0; i < d.n; i++) {
            if (d.d[i].alg == pref[p]) {
                o->digest = alg[p];
                memcpy(o->digest_value, d.d[i].bytes, d.d[i].len);
            }
        }
    }
    j->why = r < 0 ? "bad_checksum_header" : j->why;
    return r;
}

static int put_opts(struct kura_req *r, struct dav_job *j, struct kura_put_opts *o)
{
    const char *cl = kura_req_header(r, "Content-Length");
    uint64_t n = 0;
    o->size = cl && kura_parse_u64(cl, strlen(cl), UINT64_MAX / 2, &n) == 0 ? (int64_t)n : -1;
    if (j->content_range) {
        j->why = "content_range_on_put"; /* RFC 9110 14.4: partial PUT is not supported */
        return KURA_EBADREQ;
    }
    if (j->oc_mtime) {
        uint64_t s = 0;
        if (kura_parse_u64(j->oc_mtime, strlen(j->oc_mtime), UINT64_C(1) << 40, &s) < 0) {
            j->why = "bad_mtime";
            return KURA_EBADHDR;
        }
        o->mtime = (int64_t)s * 1000;
    }
    struct kura_dav_etags tags;
    if (j->if_match) {
        int e = kura_dav_parse_etags(j->arena, j->if_match, strlen(j->if_match), &tags);
        if (e < 0 || (!tags.any && tags.n_tags != 1)) {
            j->why = "bad_if_match";
            return e < 0 ? e : KURA_ENOTIMPL;
        }
        if (tags.any) {
            o->if_match = "*";
        } else {
            /* "etag" -> etag; a weak tag never matches strongly. */
            struct kura_str t = tags.tags[0];
            o->if_match = t.len >= 2 && t.ptr[0] == '"'
                              ? kura_arena_strndup(j->arena, t.ptr + 1, t.len - 2)
                              : "\x01weak";
        }
    }
    if (j->if_none_match) {
        int e = kura_dav_parse_etags(j->arena, j->if_none_match, strlen(j->if_none_match), &tags);
        if (e < 0 || !tags.any) {
            j->why = "bad_if_none_match";
            return e < 0 ? e : KURA_ENOTIMPL;
        }
        o->if_none_match_any = true;
    }
    return wanted_digest(j, o);
}

int dav_put_begin(struct kura_req *r)
{
    struct dav_job *j = NULL;
    int rc = dav_job_new(r, DAV_PUT, &j);
    if (rc < 0) {
        return j ? dav_fail(r, j, rc) : rc;
    }
    if (j->where != DAV_AT_SPACE) {
        j->why = "virtual_root";
        return dav_fail(r, j, KURA_EFORBIDDEN);
    }
    /* Checked here, on the connection's thread, so that a refusal goes out before the body: an
     * app-password check and a few indexed reads. */
    struct kura_put_opts o = {0};
    rc = dav_authenticate(j, true);
    rc = rc == 0 ? put_opts(r, j, &o) : rc;
    rc = rc == 0 ? kura_store_home(j->api->store, &j->actor, &j->space) : rc;
    rc = rc == 0 ? dav_if_check(j) : rc;
    rc = rc == 0 ? dav_locks_allow(j, j->rel.ptr, false) : rc;
    rc = rc == 0 ? kura_store_put_begin(j->api->store, &j->actor, &j->space, j->rel.ptr, &o,
                                        kura_clock_wall_ms(), &j->up, &j->why)
                 : rc;
    if (rc < 0 && j->status && j->out.len) {
        j->rc = rc;
        return dav_answer(r, j); /* a WebDAV error body (423 lock-token-submitted) */
    }
    if (rc < 0) {
        return dav_fail(r, j, rc);
    }
    kura_req_set_body_sink(r, put_body);
    return 0;
}

static void put_commit(void *arg)
{
    struct dav_job *j = arg;
    struct kura_upload *u = j->up;
    j->up = NULL; /* commit frees it */
    j->rc = kura_store_put_commit(u, kura_clock_wall_ms(), &j->node, &j->created);
}

static int put_done(struct kura_req *r)
{
    struct dav_job *j = kura_req_data(r);
    dav_set_identity(r, j);
    if (j->rc < 0) {
        return dav_fail(r, j, j->rc);
    }
    char etag[KURA_META_ETAG_MAX + 3], id[KURA_NUM_STR_MAX];
    (void)snprintf(etag, sizeof(etag), "\"%s\"", j->node.etag);
    KURA_IGNORE(kura_req_add_header(r, "ETag", etag));
    KURA_IGNORE(kura_req_add_header(r, "OC-ETag", etag));
    KURA_IGNORE(kura_req_add_header(r, "OC-FileId", kura_fmt_u64(id, j->node.id)));
    if (j->oc_mtime) {
        KURA_IGNORE(kura_req_add_header(r, "X-OC-MTime", "accepted"));
    }
    return kura_req_respond(r, j->created ? 201 : 204, NULL, "", 0);
}

int dav_put_end(struct kura_req *r)
{
    struct dav_job *j = kura_req_data(r);
    return kura_req_defer(r, KURA_POOL_WORK, put_commit, j, put_done);
}
