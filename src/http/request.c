/* request.c — one request from request line to completion, as libmicrohttpd drives it.
 *
 * MHD calls, in order: the URI callback (request line parsed; headers not yet read), the access
 * handler once when the headers are complete, again for each piece of body, once more when the
 * body is complete, and the completion callback when the response has been sent or the
 * connection failed. The request context is created in the URI callback (so the raw target is
 * seen before MHD unescapes it) and freed in the completion callback; its arena lives exactly
 * that long, so response bodies may point into it.
 *
 * State machine: NEW --headers ok--> BODY --body complete--> handler --> ANSWERED
 *                                                             \--defer--> DEFERRED --job done-->
 *                                                                         RESUMED --> ANSWERED
 */
#include "http-internal.h"

#include <arpa/inet.h>
#include <string.h>

void *http_uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct kura_http_server *s = cls;
    struct kura_arena *a = kura_arena_new(KURA_HTTP_ARENA_BUDGET);
    if (!a) {
        return NULL;
    }
    struct kura_req *r = KURA_ARENA_NEW(a, struct kura_req);
    if (!r) {
        kura_arena_free(a);
        return NULL;
    }
    r->info.arena = a;
    r->info.conf = s->conf;
    r->info.app = s->app;
    r->info.query = "";
    r->info.path = "";
    r->info.request_id = "-";
    r->info.source_ip = r->info.peer_ip = "-";
    r->info.method = "-";
    r->srv = s;
    r->conn = c;
    r->corked_fd = -1;
    r->started_ms = kura_clock_mono_ms();
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->cs = ci ? ci->socket_context : NULL;
    /* A raw NUL byte in the request line ends this string early; check_target_nul catches it
     * once the version string is known. */
    char *path = NULL, *query = NULL;
    size_t path_len = 0;
    r->raw_target = uri;
    r->raw_target_len = strlen(uri);
    /* MHD unescapes its buffer in place after this callback: keep the target as it came, for
     * the audit record of a refused request (bounded: it is evidence, not data). */
    size_t keep =
        r->raw_target_len < KURA_AUDIT_OBJECT_MAX ? r->raw_target_len : KURA_AUDIT_OBJECT_MAX;
    r->raw_copy = kura_arena_strndup(a, uri, keep);
    r->target_err = kura_http_parse_target(uri, r->raw_target_len, s->conf->http.max_uri_bytes, a,
                                           &path, &path_len, &query);
    if (r->target_err == 0) {
        r->info.path = path;
        r->info.path_len = path_len;
        r->info.query = query;
    }
    kura_buf_init(&r->body, 0);
    return r;
}

/* ---- header checks ------------------------------------------------------------------------- */

struct header_scan {
    size_t bytes;
    unsigned count;
    unsigned content_length, transfer_encoding, host, request_id;
    bool bad_name, bad_value;
    struct kura_buf xff;
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct header_scan *h = cls;
    (void)kind;
    h->count++;
    h->bytes += key_size + value_size + 4; /* ": " and CRLF */
    if (!http_is_token(key, key_size)) {
        h->bad_name = true;
    }
    if (!value || !http_value_ok(value, value_size)) {
        h->bad_value = true;
    }
    struct kura_str k = {key, key_size};
    if (kura_str_eq_nocase(k, KURA_STR("Content-Length"))) {
        h->content_length++;
    } else if (kura_str_eq_nocase(k, KURA_STR("Transfer-Encoding"))) {
        h->transfer_encoding++;
    } else if (kura_str_eq_nocase(k, KURA_STR("Host"))) {
        h->host++;
    } else if (kura_str_eq_nocase(k, KURA_STR("X-Request-Id"))) {
        h->request_id++;
    } else if (kura_str_eq_nocase(k, KURA_STR("X-Forwarded-For")) && value) {
        if (h->xff.len) {
            kura_buf_addc(&h->xff, ',');
        }
        kura_buf_add(&h->xff, value, value_size);
    }
    return MHD_YES;
}

/* RFC 9112 6.1 and 6.3: a message with both Transfer-Encoding and Content-Length, with several
 * Content-Length fields (even equal ones), or with a transfer coding other than a single
 * "chunked" is answered with an error and the connection is closed, so that no front end and
 * kura can disagree about where the body ends. */
static int check_framing(struct kura_req *r, const struct header_scan *h)
{
    if (h->content_length > 1 || h->transfer_encoding > 1 ||
        (h->content_length && h->transfer_encoding)) {
        r->close = true;
        return KURA_EFRAMING;
    }
    if (h->transfer_encoding) {
        const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (!te || strcasecmp(te, "chunked") != 0) {
            r->close = true;
            return KURA_ENOTIMPL;
        }
    }
    return 0;
}

/* libmicrohttpd 0.9.75 parses the request line in place (connection.c,
 * parse_initial_message_line): the target starts at `uri` and ends at the space before the
 * version, which it overwrites with NUL, so `version` begins exactly one byte past the end of
 * the target on the wire. A NUL byte inside the target shortens the C string MHD hands us, which
 * the distance between the two pointers reveals. The bound guards against a library that lays
 * its buffer out differently: then the check is skipped rather than refusing every request. */
static int check_target_nul(const struct kura_req *r, const char *version)
{
    uintptr_t start = (uintptr_t)r->raw_target, ver = (uintptr_t)version;
    if (!r->raw_target || !version || ver <= start ||
        ver - start > (uintptr_t)r->srv->conf->http.max_uri_bytes + 2) {
        return 0;
    }
    return (size_t)(ver - start - 1) != r->raw_target_len ? KURA_EBADPATH : 0;
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* DNS-rebinding defence: a browser tricked into sending a request to kura under another name
 * sends that name in Host. Names must be allowed explicitly; IP literals cannot be rebound. */
static int check_host(struct kura_req *r)
{
    struct kura_http_server *s = r->srv;
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    char h[KURA_CONF_HOST_MAX];
    uint16_t port;
    if (!host || kura_conf_parse_hostport(host, strlen(host), h, &port) < 0) {
        return KURA_EBADREQ;
    }
    if (is_ip_literal(h)) {
        return 0;
    }
    uint16_t eff = port ? port : 443;
    if (strcmp(h, s->public_host) == 0 && eff == s->public_port) {
        return 0;
    }
    if (s->listen_loopback && strcmp(h, "localhost") == 0 &&
        (port == 0 || port == s->listen_port)) {
        return 0;
    }
    for (size_t i = 0; i < s->nallowed; i++) {
        if (strcmp(h, s->allowed[i].host) == 0 &&
            (s->allowed[i].port == 0 || s->allowed[i].port == eff)) {
            return 0;
        }
    }
    return KURA_EHOST;
}

static void format_addr(const struct sockaddr *sa, char out[KURA_HTTP_IP_MAX])
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    out[0] = '\0';
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  KURA_HTTP_IP_MAX);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
            inet_ntop(AF_INET, a + 12, out, KURA_HTTP_IP_MAX);
        } else {
            inet_ntop(AF_INET6, a, out, KURA_HTTP_IP_MAX);
        }
    }
}

/* 16 bytes for a request id. Ids must not collide, and a client must not predict another's, but
 * they are not keys: one getrandom(2) per 256 ids (a per-thread buffer) instead of per request. */
static int request_id_random(unsigned char out[16])
{
    static _Thread_local unsigned char pool[4096];
    static _Thread_local size_t used = sizeof(pool);
    if (used == sizeof(pool)) {
        int r = kura_random(pool, sizeof(pool));
        if (r < 0) {
            return r;
        }
        used = 0;
    }
    memcpy(out, pool + used, 16);
    kura_wipe(pool + used, 16);
    used += 16;
    return 0;
}

/* Request id, peer and client address, language: everything needed to answer, even an error. */
static int identify(struct kura_req *r, const struct header_scan *h)
{
    struct kura_arena *a = r->info.arena;
    const char *rid = h->request_id == 1
                          ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Request-Id")
                          : NULL;
    if (rid && kura_http_request_id_valid(rid, strlen(rid))) {
        r->info.request_id = kura_arena_strndup(a, rid, strlen(rid));
    } else {
        unsigned char rnd[16];
        char *hex = kura_arena_alloc(a, 2 * sizeof(rnd) + 1);
        if (!hex || request_id_random(rnd) < 0) {
            return KURA_EINTERNAL;
        }
        kura_hex_encode(hex, rnd, sizeof(rnd));
        r->info.request_id = hex;
    }
    char peer[KURA_HTTP_IP_MAX] = "", client[KURA_HTTP_IP_MAX];
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        format_addr(ci->client_addr, peer);
    }
    r->info.peer_ip = kura_arena_strndup(a, peer, strlen(peer));
    r->info.source_ip = r->info.peer_ip;
    if (ci && ci->client_addr && h->xff.len && r->srv->ntrusted &&
        http_addr_trusted(ci->client_addr, r->srv->trusted, r->srv->ntrusted) &&
        kura_http_client_from_xff(h->xff.ptr, r->srv->trusted, r->srv->ntrusted, client)) {
        r->info.source_ip = kura_arena_strndup(a, client, strlen(client));
    }
    r->info.lang = kura_http_negotiate_lang(
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE));
    if (!r->info.request_id || !r->info.peer_ip || !r->info.source_ip) {
        return kura_arena_err(a);
    }
    return 0;
}

/* Body size: refuse early what the route cannot take, before a byte of it is read. */
static int check_body_size(struct kura_req *r, const struct header_scan *h)
{
    uint64_t max = r->route->max_body == KURA_BODY_DEFAULT ? r->srv->conf->http.max_body_bytes
                                                           : r->route->max_body;
    r->max_body = max;
    if (h->content_length) {
        const char *cl =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t n;
        if (!cl || kura_parse_u64(cl, strlen(cl), UINT64_MAX, &n) < 0) {
            r->close = true;
            return KURA_EFRAMING;
        }
        if (n > max) {
            r->close = true;
            return KURA_EBODYLARGE;
        }
    } else if (h->transfer_encoding && max == 0) {
        r->close = true;
        return KURA_EBODYLARGE;
    }
    kura_buf_init(&r->body, (size_t)max);
    return 0;
}

static int check_request(struct kura_req *r, const char *method, const char *version)
{
    struct header_scan h = {.xff = KURA_BUF_INIT(8192)};
    r->info.method = kura_arena_strndup(r->info.arena, method, strlen(method));
    (void)MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, scan_header, &h);
    int ret = identify(r, &h);
    if (ret == 0 &&
        (h.count > KURA_HTTP_MAX_HEADERS || h.bytes > r->srv->conf->http.max_header_bytes)) {
        r->close = true;
        ret = KURA_EHDRLARGE;
    }
    if (ret == 0 && (h.bad_name || h.bad_value)) {
        r->close = true;
        ret = KURA_EBADHDR;
    }
    if (ret == 0) {
        ret = check_framing(r, &h);
    }
    if (ret == 0 && h.host != 1) {
        ret = KURA_EBADREQ;
    }
    if (ret == 0) {
        ret = r->target_err;
    }
    if (ret == 0) {
        ret = check_target_nul(r, version);
    }
    if (ret == 0) {
        ret = check_host(r);
    }
    if (ret == 0 && !r->info.method) {
        ret = kura_arena_err(r->info.arena);
    }
    const char *allow = NULL;
    if (ret == 0) {
        ret = http_route(r->srv, r, &r->route, &allow);
        if (ret == KURA_EMETHOD && allow) {
            KURA_IGNORE(kura_req_add_header(r, MHD_HTTP_HEADER_ALLOW, allow));
        }
    }
    if (ret == 0) {
        ret = check_body_size(r, &h);
    }
    kura_buf_release(&h.xff);
    return ret;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Makes sure a handler's result has a response: its own or an error body. False when none could
 * be built (out of memory): the connection is then closed. */
static bool settle(struct kura_req *r, int ret)
{
    if (ret >= 0 && r->state != REQ_READY) {
        /* A handler that neither answered nor failed is a bug; still answer the client. */
        kura_log(KURA_LOG_ERR, "handler_no_response", "path", r->info.path, NULL);
        ret = KURA_EINTERNAL;
    }
    if (ret < 0 && r->state != REQ_READY) {
        KURA_IGNORE(kura_req_respond_error(r, ret));
    }
    return r->state == REQ_READY;
}

/* Turns a handler's result into a delivered response (early: decided from the headers). */
static enum MHD_Result finish(struct kura_req *r, int ret, bool early)
{
    if (ret == KURA_DISP_SUSPEND) {
        return MHD_YES;
    }
    /* MHD_NO closes the connection: the only answer left when no response could be built. */
    return settle(r, ret) ? http_deliver(r, early) : MHD_NO;
}

/* The audit record is written (or failed): send the held response, or refuse. */
static enum MHD_Result on_audited(struct kura_req *r)
{
    int result = atomic_load(&r->audit_result);
    if (!r->ready) {
        return MHD_NO; /* settle() could build no response */
    }
    if (result == 0 || (r->route && (r->route->flags & KURA_ROUTE_DESPITE_AUDIT))) {
        return http_queue_ready(r);
    }
    /* Fail closed: what the handler produced must not go out unrecorded. */
    MHD_destroy_response(r->ready);
    r->ready = NULL;
    r->headers = NULL;
    r->state = REQ_BODY;
    r->close = true;
    if (kura_req_respond_error(r, KURA_EAUDIT) < 0) {
        return MHD_NO;
    }
    return http_queue_ready(r);
}

/* Whether a refusal decided from the headers should wait for the body: it is announced, at most
 * KURA_HTTP_DISCARD_MAX bytes, and the client is not waiting for 100 Continue (which it then
 * never gets: the refusal goes out at once and no body is sent). */
static bool drain_first(struct kura_req *r)
{
    const char *expect = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Expect");
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    return !expect && cl && kura_parse_u64(cl, strlen(cl), UINT64_MAX, &n) == 0 && n > 0 &&
           n <= KURA_HTTP_DISCARD_MAX;
}

static enum MHD_Result on_headers(struct kura_req *r, const char *method, const char *version)
{
    struct kura_http_server *s = r->srv;
    r->counted = true;
    atomic_fetch_add(&s->in_flight, 1);
    if (r->cs) {
        conns_set_phase(r->cs, CONN_BODY);
    }
    r->state = REQ_BODY;
    int ret = check_request(r, method, version);
    if (ret == 0 && atomic_load(&s->stopping)) {
        r->close = true;
        ret = KURA_EBUSY;
    }
    if (ret == 0 && r->route->begin) {
        ret = r->route->begin(r);
        if (ret >= 0 && r->state != REQ_READY && ret != KURA_DISP_SUSPEND) {
            return MHD_YES; /* go on with the body */
        }
        if (ret < 0 && r->state != REQ_READY && drain_first(r)) {
            /* A small body is read and dropped, then refused: a client that does not wait for
             * 100 Continue reads the answer instead of a reset connection. */
            r->sink_err = ret;
            r->discarding = true;
            return MHD_YES;
        }
    }
    if (ret < 0 || r->state == REQ_READY) {
        return finish(r, ret, true);
    }
    return MHD_YES;
}

void kura_req_set_body_sink(struct kura_req *r, kura_body_fn fn)
{
    r->sink = fn;
}

void kura_req_on_done(struct kura_req *r, void (*fn)(void *arg), void *arg)
{
    r->on_done = fn;
    r->on_done_arg = arg;
}

/* A chunked body can outgrow its limit only while it arrives, and libmicrohttpd 0.9.75 accepts
 * a response only before the body or after all of it. So the rest is read and dropped, up to
 * KURA_HTTP_DISCARD_MAX bytes, and the 413 goes out when the body ends; a client that keeps
 * sending beyond that is disconnected without an answer. */
static enum MHD_Result on_body(struct kura_req *r, const char *data, size_t *size)
{
    if (r->cs) {
        conns_add_body_bytes(r->cs, *size);
    }
    if (!r->discarding && r->sink) {
        r->sink_err = r->sink(r, data, *size);
        r->discarding = r->sink_err < 0;
        r->received += *size;
        if (!r->discarding && r->received > r->max_body) {
            r->sink_err = KURA_EBODYLARGE; /* chunked: no Content-Length promised a limit */
            r->discarding = true;
        }
    } else if (!r->discarding) {
        kura_buf_add(&r->body, data, *size);
        r->discarding = kura_buf_err(&r->body) != 0;
    }
    if (r->discarding) {
        r->discarded += *size;
        if (r->discarded > KURA_HTTP_DISCARD_MAX) {
            kura_log(KURA_LOG_INFO, "body_overflow_disconnect", "id", r->info.request_id, NULL);
            return MHD_NO;
        }
    }
    *size = 0;
    return MHD_YES;
}

static enum MHD_Result dispatch(struct kura_req *r)
{
    if (r->cs) {
        conns_set_phase(r->cs, CONN_BUSY);
    }
    if (r->discarding) {
        r->close = true;
        int err = r->sink_err < 0 ? r->sink_err : kura_buf_err(&r->body);
        return finish(r, err == KURA_ETOOBIG ? KURA_EBODYLARGE : err, false);
    }
    r->info.body = kura_buf_str(&r->body);
    return finish(r, r->route->handler(r), false);
}

enum MHD_Result http_access_cb(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct kura_req *r = *con_cls;
    (void)cls;
    (void)c;
    (void)url;
    if (!r) {
        return MHD_NO; /* out of memory in the URI callback: drop the connection */
    }
    switch (r->state) {
    case REQ_NEW:
        return on_headers(r, method, version);
    case REQ_BODY:
        if (*upload_data_size > 0) {
            return on_body(r, upload_data, upload_data_size);
        }
        return dispatch(r);
    case REQ_RESUMED:
        r->state = REQ_BODY; /* the queue was full: answer_busy */
        return finish(r, r->resume(r), false);
    case REQ_AUDITED:
        return on_audited(r);
    case REQ_DEFERRED:
    case REQ_AUDITING:
    case REQ_READY:
        return MHD_YES;
    case REQ_ANSWERED:
        *upload_data_size = 0; /* body after an early answer is discarded */
        return MHD_YES;
    }
    return MHD_NO;
}

void http_completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe)
{
    struct kura_http_server *s = cls;
    struct kura_req *r = *con_cls;
    (void)c;
    if (!r) {
        return;
    }
    http_uncork(r); /* the response has been written: out it goes, as one segment */
    if (r->counted) {
        atomic_fetch_sub(&s->in_flight, 1);
    }
    enum kura_log_level level = r->status >= 500 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK
                                    ? KURA_LOG_INFO
                                    : KURA_LOG_DEBUG;
    if (r->counted && level <= kura_log_get_level()) {
        char status[KURA_NUM_STR_MAX], ms[KURA_NUM_STR_MAX];
        kura_log(level, "request", "id", r->info.request_id, "src", r->info.source_ip, "method",
                 r->info.method, "path", r->info.path, "status", kura_fmt_u64(status, r->status),
                 "ms", kura_fmt_i64(ms, kura_clock_mono_ms() - r->started_ms), "completed",
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "yes" : "no", NULL);
    }
    if (r->cs) {
        /* The next request's header deadline counts from here (keep-alive). */
        conns_set_phase(r->cs, CONN_WAIT_HEADERS);
    }
    if (r->ready) {
        MHD_destroy_response(r->ready); /* the connection ended before it could be sent */
    }
    if (r->on_done) {
        r->on_done(r->on_done_arg);
    }
    kura_buf_release(&r->body);
    json_decref(r->audit_detail);
    kura_arena_free(r->info.arena);
    *con_cls = NULL;
}

/* ---- deferring blocking work --------------------------------------------------------------- */

struct deferred {
    struct kura_req *r;
    kura_job_fn work;
    void *arg;
};

/* The job, then its resume callback, here on the job's thread while the connection stays
 * suspended (nothing else touches the request meanwhile); then the audit record, whose writer
 * resumes the connection. */
static void run_deferred(void *p)
{
    struct deferred *d = p;
    struct kura_req *r = d->r;
    d->work(d->arg);
    r->state = REQ_BODY;
    r->on_worker = true;
    int ret = r->resume(r);
    if (ret == KURA_DISP_SUSPEND) {
        /* The callback queued another job, which may already be running it: r is that job's
         * now, not to be touched here. */
        return;
    }
    r->on_worker = false;
    KURA_IGNORE(settle(r, ret)); /* no response built: the connection's thread closes */
    /* MHD_resume_connection takes the daemon's lock: the writes above happen before the
     * connection's thread sees the resumption. */
    http_deliver_suspended(r);
}

static int answer_busy(struct kura_req *r)
{
    (void)r;
    return KURA_EBUSY; /* the 503 error body carries Retry-After */
}

int kura_req_defer(struct kura_req *r, enum kura_work_pool pool, kura_job_fn work, void *arg,
                   kura_handler_fn resume)
{
    struct deferred *d = KURA_ARENA_NEW(r->info.arena, struct deferred);
    if (!d) {
        return kura_arena_err(r->info.arena);
    }
    *d = (struct deferred){r, work, arg};
    r->resume = resume;
    r->state = REQ_DEFERRED;
    if (r->on_worker) {
        /* From a resume callback: the connection is still suspended. */
        if (kura_workq_submit(r->srv->pools[pool], run_deferred, d) < 0) {
            r->state = REQ_BODY;
            return KURA_EBUSY;
        }
        return KURA_DISP_SUSPEND;
    }
    MHD_suspend_connection(r->conn);
    if (kura_workq_submit(r->srv->pools[pool], run_deferred, d) < 0) {
        /* Queue full: resume at once and answer 503 from the resume path. */
        r->resume = answer_busy;
        r->state = REQ_RESUMED;
        MHD_resume_connection(r->conn);
    }
    return KURA_DISP_SUSPEND;
}

/* ---- accessors ----------------------------------------------------------------------------- */

const struct kura_req_info *kura_req_info(const struct kura_req *r)
{
    return &r->info;
}

void kura_req_set_data(struct kura_req *r, void *data)
{
    r->data = data;
}

void *kura_req_data(const struct kura_req *r)
{
    return r->data;
}

const char *kura_req_header(struct kura_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int kura_req_query(struct kura_req *r, const char *name, const char **ret)
{
    /* MHD has decoded %XX and '+'; what it gives must still be one line of UTF-8. A bad value
     * is an error, never "absent": a filter dropped in silence would widen a search. */
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    size_t len = v ? strlen(v) : 0;
    *ret = NULL;
    if (v && (!kura_utf8_valid(v, len) || kura_has_ctl(v, len, false))) {
        return KURA_EBADREQ;
    }
    *ret = v;
    return 0;
}
