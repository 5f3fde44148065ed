/* respond.c — responses: the security headers every response carries, JSON error bodies in the
 * negotiated language, extra headers set by handlers. */
#include "http-internal.h"

#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

int kura_req_add_header(struct kura_req *r, const char *name, const char *value)
{
    struct kura_arena *a = r->info.arena;
    struct resp_header *h = KURA_ARENA_NEW(a, struct resp_header);
    if (!h) {
        return kura_arena_err(a);
    }
    h->name = kura_arena_strndup(a, name, strlen(name));
    h->value = kura_arena_strndup(a, value, strlen(value));
    if (!h->name || !h->value) {
        return kura_arena_err(a);
    }
    h->next = r->headers;
    r->headers = h;
    return 0;
}

static bool add(struct MHD_Response *resp, const char *name, const char *value)
{
    return MHD_add_response_header(resp, name, value) == MHD_YES;
}

static bool add_security_headers(struct kura_req *r, struct MHD_Response *resp)
{
    const struct kura_conf *conf = r->srv->conf;
    bool ok = true;
    if (conf->http.hsts_max_age > 0) {
        char hsts[64];
        (void)snprintf(hsts, sizeof(hsts), "max-age=%llu",
                       (unsigned long long)conf->http.hsts_max_age);
        ok &= add(resp, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY, hsts);
    }
    ok &= add(resp, "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
    ok &= add(resp, "X-Content-Type-Options", "nosniff");
    ok &= add(resp, "Referrer-Policy", "no-referrer");
    ok &= add(resp, "X-Frame-Options", "DENY");
    ok &= add(resp, "Cross-Origin-Opener-Policy", "same-origin");
    ok &= add(resp, "Cross-Origin-Resource-Policy", "same-origin");
    if (!r->route || !(r->route->flags & KURA_ROUTE_CACHEABLE)) {
        /* Data-access terminals must not keep copies of what they were shown. */
        ok &= add(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    ok &= add(resp, "X-Request-Id", r->info.request_id);
    return ok;
}

static int ready(struct kura_req *r, struct MHD_Response *resp, unsigned status,
                 const char *content_type, uint64_t len);

int kura_req_respond(struct kura_req *r, unsigned status, const char *content_type,
                     const void *body, size_t len)
{
    if (r->state >= REQ_READY) {
        return KURA_EINTERNAL; /* one response per request */
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return -ENOMEM;
    }
    return ready(r, resp, status, content_type, len);
}

struct stream {
    kura_stream_fn fn;
    void *cls;
    void (*free_cls)(void *cls);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    ssize_t n = st->fn ? st->fn(st->cls, pos, buf, max) : KURA_EINTERNAL;
    return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    if (st->free_cls) {
        st->free_cls(st->cls);
    }
    kura_free(st);
}

int kura_req_respond_stream(struct kura_req *r, unsigned status, const char *content_type,
                            uint64_t size, kura_stream_fn fn, void *cls,
                            void (*free_cls)(void *cls))
{
    struct stream *st = r->state >= REQ_READY ? NULL : kura_malloc(sizeof(*st));
    if (!st) {
        if (free_cls) {
            free_cls(cls);
        }
        return r->state >= REQ_READY ? KURA_EINTERNAL : -ENOMEM;
    }
    *st = (struct stream){fn, cls, free_cls};
    /* 64 KiB: one Crypt4GH segment per call, and TLS records of the largest size; a smaller
     * body gets a buffer of its size (MHD allocates and zeroes it per response). */
    size_t block = size != MHD_SIZE_UNKNOWN && size < 64 * 1024 ? (size_t)size + 1 : 64 * 1024;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, block, stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
        return -ENOMEM;
    }
    return ready(r, resp, status, content_type, size);
}

static int ready(struct kura_req *r, struct MHD_Response *resp, unsigned status,
                 const char *content_type, uint64_t len)
{
    bool ok = add_security_headers(r, resp);
    if (content_type) {
        ok &= add(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    }
    for (struct resp_header *h = r->headers; h; h = h->next) {
        /* MHD refuses values with CR or LF, so a handler cannot split the response. */
        ok &= add(resp, h->name, h->value);
    }
    if (r->close || atomic_load(&r->srv->stopping)) {
        ok &= add(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    if (!ok) {
        MHD_destroy_response(resp);
        return KURA_EINTERNAL;
    }
    r->ready = resp;
    r->state = REQ_READY;
    r->status = status;
    r->resp_bytes = (size_t)len;
    return 0;
}

/* MHD 0.9.75 writes a TLS response's header and body as two records in two sends; over TCP
 * with no delay they leave as two segments, and the client pays a wake-up and a read for
 * each. Corked, a small response leaves as one segment; http_completed_cb uncorks it. */
static void cork_small(struct kura_req *r)
{
    if (r->resp_bytes == 0 || r->resp_bytes > 60 * 1024) {
        return; /* header alone, or large enough to fill segments by itself */
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int on = 1;
    if (ci && setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) == 0) {
        r->corked_fd = ci->connect_fd;
    }
}

void http_uncork(struct kura_req *r)
{
    if (r->corked_fd >= 0) {
        int off = 0;
        (void)setsockopt(r->corked_fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
        r->corked_fd = -1;
    }
}

enum MHD_Result http_queue_ready(struct kura_req *r)
{
    cork_small(r);
    enum MHD_Result q = MHD_queue_response(r->conn, r->status, r->ready);
    MHD_destroy_response(r->ready);
    r->ready = NULL;
    if (q != MHD_YES) {
        return MHD_NO;
    }
    r->state = REQ_ANSWERED;
    return MHD_YES;
}

/* ---- the audit record of a request --------------------------------------------------------- */

static enum kura_audit_result result_of(unsigned status)
{
    if (status < 400) {
        return KURA_AUDIT_OK;
    }
    return status == 401 || status == 403 || status == 421 ? KURA_AUDIT_DENIED : KURA_AUDIT_ERROR;
}

/* Runs on the audit writer's thread once the record is durable (or failed). */
static void audit_done(void *arg, int result, uint64_t index)
{
    struct kura_req *r = arg;
    struct kura_http_server *s = r->srv; /* r may be gone once the connection is resumed */
    (void)index;
    atomic_store(&r->audit_result, result);
    r->state = REQ_AUDITED;
    MHD_resume_connection(r->conn); /* takes MHD's lock: the writes above are visible */
    atomic_fetch_sub(&s->awaiting_record, 1);
}

/* Suspended until audit_done: kura_http_stop waits for these (MHD must not stop while a
 * connection is suspended). */
static void await_record(struct kura_req *r)
{
    atomic_fetch_add(&r->srv->awaiting_record, 1);
}

static bool needs_record(const struct kura_req *r)
{
    return r->srv->audit && !(r->route && (r->route->flags & KURA_ROUTE_NO_AUDIT));
}

/* Writes the request's audit record: `done` runs once it is durable (NULL: do not wait). */
static int emit_record(struct kura_req *r, kura_audit_done_fn done)
{
    json_t *detail = json_pack("{s:s,s:i}", "method", r->info.method, "status", (int)r->status);
    if (detail && r->audit_detail) {
        (void)json_object_update(detail, r->audit_detail);
    }
    struct kura_audit_event ev = {
        .actor = r->ident.actor ? r->ident.actor : "anonymous",
        .roles = r->ident.roles,
        .elevated = r->ident.elevated,
        .session = r->ident.session,
        .source_ip = r->info.source_ip,
        .user_agent = kura_req_header(r, MHD_HTTP_HEADER_USER_AGENT),
        .request_id = r->info.request_id,
        .action = r->audit_action                ? r->audit_action
                  : r->route && r->route->action ? r->route->action
                                                 : "http.request",
        /* A refused target is recorded as it came (escaped by the record): it is the evidence. */
        .object = r->target_err     ? r->raw_copy
                  : r->audit_object ? r->audit_object
                                    : r->info.path,
        .bytes = r->info.body.len + r->received + r->resp_bytes,
        .result = result_of(r->status),
        .reason = r->audit_reason ? r->audit_reason
                  : r->error      ? kura_err_name(r->error)
                                  : NULL,
        .detail = detail,
    };
    int rc = kura_audit_emit(r->srv->audit, &ev, done, done ? r : NULL);
    json_decref(detail);
    return rc;
}

enum MHD_Result http_deliver(struct kura_req *r, bool early)
{
    if (!needs_record(r)) {
        return http_queue_ready(r);
    }
    if (early) {
        KURA_IGNORE(emit_record(r, NULL));
        return http_queue_ready(r);
    }
    r->state = REQ_AUDITING;
    await_record(r);
    MHD_suspend_connection(r->conn);
    int rc = emit_record(r, audit_done);
    if (rc < 0) {
        audit_done(r, rc, 0);
    }
    return MHD_YES;
}

void http_deliver_suspended(struct kura_req *r)
{
    await_record(r);
    if (r->state != REQ_READY || !needs_record(r)) {
        audit_done(r, 0, 0); /* nothing to record: the connection's thread queues or closes */
        return;
    }
    r->state = REQ_AUDITING;
    int rc = emit_record(r, audit_done);
    if (rc < 0) {
        audit_done(r, rc, 0);
    }
}

int kura_req_set_identity(struct kura_req *r, const struct kura_req_identity *id)
{
    struct kura_arena *a = r->info.arena;
    const char *const in[] = {id->actor, id->roles, id->session};
    const char **out[] = {&r->ident.actor, &r->ident.roles, &r->ident.session};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(in); i++) {
        *out[i] = in[i] ? kura_arena_strndup(a, in[i], strlen(in[i])) : NULL;
        if (in[i] && !*out[i]) {
            return kura_arena_err(a);
        }
    }
    r->ident.elevated = id->elevated;
    return 0;
}

int kura_req_set_reason(struct kura_req *r, const char *reason)
{
    r->audit_reason = reason ? kura_arena_strndup(r->info.arena, reason, strlen(reason)) : NULL;
    return reason && !r->audit_reason ? kura_arena_err(r->info.arena) : 0;
}

int kura_req_set_action(struct kura_req *r, const char *action)
{
    r->audit_action = action ? kura_arena_strndup(r->info.arena, action, strlen(action)) : NULL;
    return action && !r->audit_action ? kura_arena_err(r->info.arena) : 0;
}

int kura_req_set_object(struct kura_req *r, const char *object)
{
    r->audit_object = object ? kura_arena_strndup(r->info.arena, object, strlen(object)) : NULL;
    return object && !r->audit_object ? kura_arena_err(r->info.arena) : 0;
}

int kura_req_audit_detail(struct kura_req *r, const char *name, const char *value)
{
    if (!r->audit_detail) {
        r->audit_detail = json_object();
    }
    if (!r->audit_detail || json_object_set_new(r->audit_detail, name, json_string(value)) < 0) {
        return -ENOMEM;
    }
    return 0;
}

int kura_req_respond_error(struct kura_req *r, int err)
{
    unsigned status = kura_err_http_status(err);
    r->error = err;
    if (status == 500) {
        kura_log_err(err, "internal_error", "id", r->info.request_id, "path", r->info.path, NULL);
    }
    json_t *doc =
        json_pack("{s:{s:s,s:s,s:s}}", "error", "code", kura_err_name(err), "message",
                  kura_strerror_lang(err, r->info.lang), "request_id", r->info.request_id);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        return -ENOMEM;
    }
    size_t len = strlen(text);
    char *body = kura_arena_alloc(r->info.arena, len + 1);
    if (body) {
        memcpy(body, text, len);
        body[len] = '\n';
    }
    free(text); /* jansson's allocator */
    if (!body) {
        return kura_arena_err(r->info.arena);
    }
    if (status == 503) {
        KURA_IGNORE(kura_req_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1"));
    }
    KURA_IGNORE(kura_req_add_header(r, MHD_HTTP_HEADER_CONTENT_LANGUAGE,
                                    r->info.lang == KURA_LANG_JA ? "ja" : "en"));
    return kura_req_respond(r, status, "application/json; charset=utf-8", body, len + 1);
}
