/* http — the HTTPS front door: libmicrohttpd + GnuTLS, strict request checks, router, request
 * context, security headers, error bodies, slow-client defence, graceful stop.
 *
 * Status: HTTP/1.1 over TLS 1.2/1.3 with AEAD suites only (AES-GCM preferred: GnuTLS's AES-GCM
 * runs at ~4.4 GB/s here, its ChaCha20-Poly1305 at ~0.5 GB/s). No plaintext listener exists.
 *
 * Threads: libmicrohttpd runs `threads` epoll event loops (MHD thread pool). Handlers run on
 * those loops and must not block: blocking work goes through kura_req_defer, which suspends the
 * connection, runs the job on one of two bounded pools and resumes the connection to answer.
 * KURA_POOL_WORK (http.work_threads) takes durable writes and storage; KURA_POOL_HASH
 * (password.hash_workers) takes Argon2id, so that at most that many 64 MiB hashes exist at once
 * and a login storm queues there instead of occupying the storage threads. A full queue answers
 * 503 with Retry-After.
 *
 * Request checks (RFC 9110/9112), all before routing, each with a stable error code:
 *  - the raw request target is validated before libmicrohttpd unescapes it (it would turn %2F
 *    into '/' and cut at %00): origin-form only, no "." or ".." segments (raw or %2e-encoded),
 *    no encoded '/' or '\' or NUL, no bad escapes, valid UTF-8 after decoding, at most
 *    max_uri_bytes (414);
 *  - header names must be tokens and values free of control bytes (400); duplicate or
 *    conflicting Content-Length, Transfer-Encoding together with Content-Length, or more than one
 *    Transfer-Encoding (400, connection closed: request smuggling); a transfer coding other than
 *    chunked (501); total header bytes at most max_header_bytes (431); exactly one Host, which
 *    must be allowed (421; DNS-rebinding defence); bodies above the route's limit (413).
 *  - slow clients: headers must be complete within header_timeout of accept (or of the previous
 *    response), bodies must keep min_upload_rate over every upload_rate_window; offenders are
 *    disconnected without a response. Per-address connection limits close excess sockets.
 * What libmicrohttpd 0.9.75 still lets through and why it is harmless: docs/security.md.
 *
 * Audit: every request except routes flagged KURA_ROUTE_NO_AUDIT ends in one audit record. A
 * response produced by a handler is held until its record is durable (the connection is
 * suspended meanwhile); if the record cannot be written the answer becomes 503
 * audit_unavailable (fail closed). Refusals decided from the headers alone (malformed, unknown
 * path, Host, size limits) neither read nor change data and are recorded without waiting,
 * because libmicrohttpd accepts a response only before the body is read or after all of it.
 *
 * Every response carries: HSTS, Content-Security-Policy "default-src 'self'; frame-ancestors
 * 'none'", X-Content-Type-Options nosniff, Referrer-Policy no-referrer, X-Request-Id, and
 * Cache-Control no-store (data-access terminals must not cache data). Errors are
 * {"error":{"code":NAME,"message":TEXT,"request_id":ID}} with the message in the language
 * negotiated from Accept-Language (Japanese or English).
 */
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include "audit/audit.h"
#include "base/base.h"
#include "conf/conf.h"

#define KURA_HTTP_REQUEST_ID_MAX 64         /* client-supplied X-Request-Id: [A-Za-z0-9._-]{1,64} */
#define KURA_HTTP_ARENA_BUDGET (256 * 1024) /* per-request arena, bodies excluded */
#define KURA_HTTP_MAX_HEADERS 256           /* header fields per request */
#define KURA_HTTP_IP_MAX 46                 /* INET6_ADDRSTRLEN */
#define KURA_HTTP_DISCARD_MAX (1024 * 1024) /* body bytes read and dropped after a 413 */

struct kura_http_server;
struct kura_req;

/* What a handler returns when it did not fail: it queued a response, or it suspended the
 * connection through kura_req_defer and will answer from the resume callback. A negative
 * result is answered with the error body of that code. */
enum kura_disp {
    KURA_DISP_DONE = 0,
    KURA_DISP_SUSPEND = 1,
};

typedef int (*kura_handler_fn)(struct kura_req *r);

enum kura_route_flags {
    KURA_ROUTE_PREFIX = 1 << 0,    /* path matches itself and everything below it */
    KURA_ROUTE_CACHEABLE = 1 << 1, /* public, non-personal content: no Cache-Control no-store */
    KURA_ROUTE_NO_AUDIT = 1 << 2,  /* health, metrics, static assets: counted, not audited */
    /* The answer goes out even when its audit record cannot be written: logging out and
     * ending sessions only reduce access, and refusing them would keep a session alive that its
     * owner wants gone. The failing log raises its own alert (audit_failing). */
    KURA_ROUTE_DESPITE_AUDIT = 1 << 3,
};

/* One entry of a flat dispatch table. A table ends with an entry whose path is NULL. */
struct kura_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* decoded absolute path, e.g. "/healthz" */
    unsigned flags;
    uint64_t max_body; /* largest body accepted; 0 means no body may be sent */
    kura_handler_fn handler;
    const char *action; /* audit action, "<area>.<verb>"; NULL: "http.request" */
    /* Optional: called once the headers are complete, before any body byte is read. It may
     * refuse (return an error, or respond: the answer goes out before the body, which is then
     * read and dropped) or set a body sink (kura_req_set_body_sink) so that a large body streams
     * through the handler instead of being held in memory. handler runs when the body ends. */
    kura_handler_fn begin;
};

/* Route max_body meaning "the configured http.max_body_bytes". */
#define KURA_BODY_DEFAULT UINT64_MAX

struct kura_http_opts {
    const struct kura_conf *conf; /* borrowed for the server's lifetime */
    int listen_fd;                /* bound, listening socket; the server takes ownership */
    const char *cert_pem;         /* PEM chain, copied by the server */
    const char *key_pem;          /* PEM key; read during start only, the caller wipes it */
    const struct kura_route *const *tables; /* NULL-terminated list of route tables */
    struct kura_audit *audit; /* every request not flagged NO_AUDIT is recorded here; borrowed */
    void *app;                /* handed to handlers as kura_req_info.app; borrowed */
};

/* Starts serving. On failure returns a negative code and appends a message to ret_err. */
KURA_MUST_CHECK int kura_http_start(const struct kura_http_opts *opts,
                                    struct kura_http_server **ret, struct kura_buf *ret_err);

/* Disconnects clients that are too slow (header deadline, minimum upload rate). The owner calls
 * it about every 250 ms. Safe from any thread. */
void kura_http_sweep(struct kura_http_server *s);

/* Stops accepting new connections (the listening socket is closed: connects are refused) and
 * marks the server as stopping: further requests on open connections get 503 and
 * "Connection: close". Requests already being handled run to completion. */
void kura_http_quiesce(struct kura_http_server *s);

/* Requests whose headers were received and whose response has not completed. */
unsigned kura_http_in_flight(struct kura_http_server *s);

/* Connections currently open. */
unsigned kura_http_connections(struct kura_http_server *s);

/* The pools that run deferred work (kura_req_defer). */
enum kura_work_pool {
    KURA_POOL_WORK = 0, /* durable writes, storage: http.work_threads */
    KURA_POOL_HASH = 1, /* Argon2id: password.hash_workers threads, bounding its memory */
    KURA_POOL_COUNT = 2,
};

struct kura_pool_stats {
    unsigned threads, running, queued, max_running;
};

/* Counters of a pool, for `kura status` and tests. */
void kura_http_pool_stats(struct kura_http_server *s, enum kura_work_pool pool,
                          struct kura_pool_stats *ret);

/* Stops the server, closing every connection, and frees it. Accepts NULL; returns NULL. */
struct kura_http_server *kura_http_stop(struct kura_http_server *s);

/* GET /healthz. */
extern const struct kura_route kura_http_builtin_routes[];
#ifdef KURA_TEST_HOOKS
/* /_test/whoami, /_test/echo, /_test/sleep, /_test/hash: only in -Dtest_hooks=true builds. */
extern const struct kura_route kura_http_test_routes[];
#endif

/* TLS priority string for a minimum version "1.2" or "1.3" (exposed for tests and docs). */
const char *kura_http_tls_priorities(const char *min_version);

/* ---- the request, as handlers see it ------------------------------------------------------ */

/* Read-only view of a request for handlers. Everything points into the request's arena and
 * lives until the response has been sent. */
struct kura_req_info {
    struct kura_arena *arena;
    const char *method;
    const char *path; /* decoded and validated; NUL-terminated; never contains ".." or "//" */
    size_t path_len;
    const char *query; /* raw query string without '?', or "" */
    const char *request_id;
    const char *source_ip; /* client address, after trusted X-Forwarded-For */
    const char *peer_ip;   /* address of the TCP peer */
    enum kura_lang lang;
    struct kura_str body; /* complete request body (routes with max_body > 0) */
    const struct kura_conf *conf;
    void *app; /* kura_http_opts.app: what the application's handlers share */
};

const struct kura_req_info *kura_req_info(const struct kura_req *r);

/* Who the request acts as, for its audit record (copied into the arena; default: actor
 * "anonymous", nothing else). session is a correlation tag, never a token. */
struct kura_req_identity {
    const char *actor, *roles, *session;
    bool elevated;
};
KURA_MUST_CHECK int kura_req_set_identity(struct kura_req *r, const struct kura_req_identity *id);
/* The reason recorded in the audit record instead of the error code's name: a refusal that
 * answers alike to the client ("unknown_id", "bad_password") stays distinguishable in the log. */
KURA_MUST_CHECK int kura_req_set_reason(struct kura_req *r, const char *reason);
/* The audit record's action instead of the route's (one route, several verbs). */
KURA_MUST_CHECK int kura_req_set_action(struct kura_req *r, const char *action);
/* The audit record's object instead of the path (e.g. the login ID an attempt named). */
KURA_MUST_CHECK int kura_req_set_object(struct kura_req *r, const char *object);
/* Adds name=value to the audit record's detail (copied). */
KURA_MUST_CHECK int kura_req_audit_detail(struct kura_req *r, const char *name, const char *value);

/* Streams the body of a route with a begin callback: fn gets each piece as it arrives, on the
 * connection's thread (keep it short: no fsync). A negative result stops the body: the rest is
 * read and dropped (up to KURA_HTTP_DISCARD_MAX, then the connection is closed) and the request
 * is answered with that error; the route's handler is not called. */
typedef int (*kura_body_fn)(struct kura_req *r, const char *data, size_t len);
void kura_req_set_body_sink(struct kura_req *r, kura_body_fn fn);

/* A response body produced while it is sent: fn(cls, pos, buf, max) fills buf with up to max
 * bytes at offset pos of the body and returns how many (> 0), or a negative code, which aborts
 * the response mid-way (the connection is closed, so the client sees a short body rather than a
 * wrong one). free_cls(cls) runs when the response is done with, sent or not. size is the body
 * length (Content-Length). fn may be NULL for a body that is never sent (HEAD, or size 0). */
typedef ssize_t (*kura_stream_fn)(void *cls, uint64_t pos, char *buf, size_t max);
KURA_MUST_CHECK int kura_req_respond_stream(struct kura_req *r, unsigned status,
                                            const char *content_type, uint64_t size,
                                            kura_stream_fn fn, void *cls,
                                            void (*free_cls)(void *cls));

/* fn(arg) runs when the request ends, answered or not (a client that went away mid-upload):
 * where a handler releases what it holds outside the arena. One per request; the last call
 * wins. Runs on the connection's thread. */
void kura_req_on_done(struct kura_req *r, void (*fn)(void *arg), void *arg);

/* A handler's own per-request state (usually arena memory), kept across kura_req_defer. */
void kura_req_set_data(struct kura_req *r, void *data);
void *kura_req_data(const struct kura_req *r);

/* First value of a request header (case-insensitive name), or NULL. */
const char *kura_req_header(struct kura_req *r, const char *name);
/* A decoded query parameter in *ret (NULL when absent); KURA_EBADREQ when it is not one line of
 * UTF-8. Call it on the connection's thread only. */
KURA_MUST_CHECK int kura_req_query(struct kura_req *r, const char *name, const char **ret);

/* Adds a response header (copied into the arena). Call before responding. */
KURA_MUST_CHECK int kura_req_add_header(struct kura_req *r, const char *name, const char *value);

/* Queues a response. body must stay valid until the request completes (arena memory or static
 * data); it is not copied. Returns 0 or a negative code (the caller returns it). */
KURA_MUST_CHECK int kura_req_respond(struct kura_req *r, unsigned status, const char *content_type,
                                     const void *body, size_t len);

/* Queues the error body for code err (a KURA_E* or -errno) with its HTTP status. */
KURA_MUST_CHECK int kura_req_respond_error(struct kura_req *r, int err);

/* Runs work(arg) on the given pool with the connection suspended, then calls resume(r) on the
 * connection's thread to answer. Returns KURA_DISP_SUSPEND (return it from the handler); when
 * the pool's queue is full, resume is not called and the request is answered 503 with
 * Retry-After. work must not touch the connection. */
KURA_MUST_CHECK int kura_req_defer(struct kura_req *r, enum kura_work_pool pool, kura_job_fn work,
                                   void *arg, kura_handler_fn resume);

/* ---- pure helpers, exposed for unit tests and fuzzing ------------------------------------- */

/* Validates a raw request target and decodes its path into the arena. Errors: KURA_EURILONG,
 * KURA_EBADPATH, KURA_EBADREQ; see the checks above. ret_path is NUL-terminated. */
KURA_MUST_CHECK int kura_http_parse_target(const char *raw, size_t len, size_t max_len,
                                           struct kura_arena *a, char **ret_path,
                                           size_t *ret_path_len, char **ret_query);

/* Negotiates Japanese or English from an Accept-Language value (RFC 9110 12.5.4); NULL or
 * unparseable input gives English. */
enum kura_lang kura_http_negotiate_lang(const char *accept_language);

/* True when s is an acceptable client-supplied request id. */
bool kura_http_request_id_valid(const char *s, size_t len);

/* Picks the client address from X-Forwarded-For values (all header instances joined with ',')
 * when the peer is a trusted proxy: the right-most address that is not itself trusted. Returns
 * false (use the peer) when xff is absent or any entry is malformed. */
bool kura_http_client_from_xff(const char *xff, const struct kura_cidr *trusted, size_t ntrusted,
                               char ret_ip[static KURA_HTTP_IP_MAX]);
