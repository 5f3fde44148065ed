/* http-internal.h — structures shared by the files of the http area (not part of the API). */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"

/* ---- connections and the slow-client sweeper (conns.c) ------------------------------------ */

enum conn_phase {
    CONN_WAIT_HEADERS = 0, /* since accept or the previous response: header_timeout applies */
    CONN_BODY = 1,         /* receiving a request body: min_upload_rate applies */
    CONN_BUSY = 2,         /* handler running, suspended or responding: no deadline here */
};

struct conn_state {
    struct conn_state *prev, *next; /* in the server's registry, under conns_lock */
    int fd;
    _Atomic int phase;
    _Atomic int64_t phase_start_ms;
    _Atomic uint64_t window_bytes; /* body bytes in the current rate window */
    _Atomic int64_t window_start_ms;
    bool killed; /* under conns_lock: shut down by the sweeper */
};

void conns_started(struct kura_http_server *s, struct MHD_Connection *c, void **socket_context);
void conns_closed(struct kura_http_server *s, void **socket_context);
void conns_set_phase(struct conn_state *cs, enum conn_phase phase);
void conns_add_body_bytes(struct conn_state *cs, size_t n);

/* ---- the server ---------------------------------------------------------------------------- */

struct kura_http_server {
    struct MHD_Daemon *daemon;
    const struct kura_conf *conf;
    const struct kura_route *const *tables;
    struct kura_audit *audit;
    void *app;
    struct kura_workq *pools[KURA_POOL_COUNT];
    unsigned pool_threads[KURA_POOL_COUNT];
    char *cert_pem;
    /* Host allowlist (headers.c / request.c) */
    char public_host[KURA_CONF_HOST_MAX];
    uint16_t public_port;
    uint16_t listen_port;
    bool listen_loopback;
    struct {
        char host[KURA_CONF_HOST_MAX];
        uint16_t port; /* 0: any */
    } * allowed;
    size_t nallowed;
    struct kura_cidr *trusted;
    size_t ntrusted;
    /* lifecycle */
    _Atomic bool stopping;
    _Atomic unsigned in_flight;
    _Atomic unsigned
        awaiting_record; /* connections suspended until their audit record is durable */
    _Atomic unsigned connections;
    pthread_mutex_t conns_lock;
    struct conn_state *conns;
};

/* ---- requests (request.c) ------------------------------------------------------------------ */

enum req_state {
    REQ_NEW = 0,  /* request line seen, headers not yet checked */
    REQ_BODY,     /* collecting the body */
    REQ_DEFERRED, /* suspended; a job runs, then its resume callback on the job's thread */
    REQ_RESUMED,  /* the job queue was full: the 503 is built on the connection's thread */
    REQ_READY,    /* a response is built, not yet delivered */
    REQ_AUDITING, /* a response is ready; its audit record is being written */
    REQ_AUDITED,  /* the audit record is durable (or failed), or none is kept: queue the
                   * response (none built: close the connection) */
    REQ_ANSWERED, /* a response is queued */
};

struct resp_header {
    struct resp_header *next;
    const char *name, *value;
};

struct kura_req {
    struct kura_req_info info; /* first: handlers see this part */
    struct kura_http_server *srv;
    struct MHD_Connection *conn;
    struct conn_state *cs;
    enum req_state state;
    int target_err;         /* result of validating the raw target in the URI callback */
    const char *raw_target; /* MHD's copy of the target, in its read buffer (changes later) */
    const char *raw_copy;   /* the target as it came, for the audit record */
    size_t raw_target_len;  /* strlen of it: shorter than the target on the wire after a NUL */
    bool discarding;        /* the body outgrew its limit; the rest is read and dropped */
    uint64_t discarded;
    bool counted;  /* included in srv->in_flight */
    bool close;    /* answer with Connection: close */
    int corked_fd; /* the socket corked for a small response (cork_small), else -1 */
    const struct kura_route *route;
    uint64_t max_body;
    struct kura_buf body;
    kura_body_fn sink; /* streams the body instead of body (routes with a begin callback) */
    int sink_err;      /* the sink's first error: the answer once the body has ended */
    uint64_t received; /* body bytes handed to the sink */
    void (*on_done)(void *arg);
    void *on_done_arg;
    struct resp_header *headers;
    kura_handler_fn resume;
    bool on_worker; /* the resume callback runs on the job's thread (a nested defer queues) */
    void *data;     /* the handler's, see kura_req_set_data */
    int64_t started_ms;
    unsigned status;            /* of the response, for the access log and the audit record */
    int error;                  /* the error code answered, if any (audit reason) */
    size_t resp_bytes;          /* response body length */
    struct MHD_Response *ready; /* built, not yet queued */
    _Atomic int audit_result;
    struct kura_req_identity ident; /* for the audit record; strings in the arena */
    const char *audit_reason, *audit_object, *audit_action;
    json_t *audit_detail; /* extra detail fields, or NULL */
};

/* MHD callbacks (request.c) */
void *http_uri_cb(void *cls, const char *uri, struct MHD_Connection *c);
enum MHD_Result http_access_cb(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);
void http_completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe);
/* Ends the corking of a small response (respond.c), once MHD has written all of it. */
void http_uncork(struct kura_req *r);

/* Checks of the header block (request.c, using headers.c). */
bool http_is_token(const char *s, size_t len);
bool http_value_ok(const char *s, size_t len);
bool http_addr_trusted(const struct sockaddr *sa, const struct kura_cidr *trusted, size_t n);

/* Queues the ready response, or, for an audited request whose handler ran, records it first
 * (suspending the connection). `early`: decided from the headers alone, recorded without
 * waiting. Returns MHD_YES, or MHD_NO to close the connection. (respond.c) */
enum MHD_Result http_deliver(struct kura_req *r, bool early);
/* The same for a request whose connection is suspended and whose handler ran on a job's thread:
 * records the ready response (if any) and resumes the connection once the record is durable, so
 * the connection's thread is woken once per deferred request, not twice. */
void http_deliver_suspended(struct kura_req *r);
/* Queues the ready response now (after the audit record). */
enum MHD_Result http_queue_ready(struct kura_req *r);

/* Routing (router.c): finds the route; KURA_ENOTFOUND or KURA_EMETHOD (then *ret_allow lists
 * the methods of that path, comma-separated, in the arena). */
int http_route(struct kura_http_server *s, struct kura_req *r, const struct kura_route **ret,
               const char **ret_allow);
