/* builtin.c — the endpoints of the http area itself: GET /healthz, and in test-hook builds the
 * routes the integration tests use to reach behaviour that has no production endpoint yet. */
#include "http-internal.h"

#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "kura-config.h"

/* GET /healthz: liveness for load balancers and monitoring; no authentication, no audit. */
static int healthz(struct kura_req *r)
{
    static const char body[] = "{\"status\":\"ok\",\"version\":\"" KURA_VERSION "\"}\n";
    return kura_req_respond(r, 200, "application/json; charset=utf-8", body, sizeof(body) - 1);
}

const struct kura_route kura_http_builtin_routes[] = {
    {"GET", "/healthz", KURA_ROUTE_NO_AUDIT, 0, healthz, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

#ifdef KURA_TEST_HOOKS
/* Responds with a JSON object built in the arena. */
static int respond_json(struct kura_req *r, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) {
        return -ENOMEM;
    }
    char *body = kura_arena_strndup(r->info.arena, text, strlen(text));
    free(text);
    if (!body) {
        return kura_arena_err(r->info.arena);
    }
    return kura_req_respond(r, 200, "application/json", body, strlen(body));
}

/* GET /_test/whoami: what the request context derived (request id, addresses, language). */
static int whoami(struct kura_req *r)
{
    const struct kura_req_info *i = kura_req_info(r);
    return respond_json(r, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "request_id", i->request_id,
                                     "source_ip", i->source_ip, "peer_ip", i->peer_ip, "lang",
                                     i->lang == KURA_LANG_JA ? "ja" : "en", "path", i->path,
                                     "query", i->query));
}

/* POST /_test/echo: the size of the body received (body limit = http.max_body_bytes). */
static int echo(struct kura_req *r)
{
    const struct kura_req_info *i = kura_req_info(r);
    return respond_json(r, json_pack("{s:I}", "bytes", (json_int_t)i->body.len));
}

/* GET /_test/sleep?ms=N[&then=M]: blocks a work-queue thread for N ms (at most 60 s) with the
 * connection suspended: stands in for Argon2id or a durable write when testing that blocking
 * work does not stall other requests, and for requests in flight during shutdown. `then`: the
 * resume callback defers a second job of M ms (a handler that needs two steps). */
struct sleep_job {
    uint64_t ms, then;
    unsigned rounds;
};

static void sleep_work(void *arg)
{
    struct sleep_job *j = arg;
    j->rounds++;
    struct timespec ts = {(time_t)(j->ms / 1000), (long)(j->ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int sleep_done(struct kura_req *r)
{
    struct sleep_job *j = kura_req_data(r);
    if (j->then > 0) {
        j->ms = j->then;
        j->then = 0;
        return kura_req_defer(r, KURA_POOL_WORK, sleep_work, j, sleep_done);
    }
    return respond_json(r, json_pack("{s:b,s:i}", "slept", 1, "rounds", (int)j->rounds));
}

static int sleep_handler(struct kura_req *r)
{
    const char *q = kura_req_info(r)->query;
    struct sleep_job *j = KURA_ARENA_NEW(r->info.arena, struct sleep_job);
    if (!j) {
        return kura_arena_err(r->info.arena);
    }
    const char *then = strstr(q, "&then=");
    size_t ms_len = then ? (size_t)(then - q) : strlen(q);
    if (strncmp(q, "ms=", 3) != 0 || kura_parse_u64(q + 3, ms_len - 3, 60000, &j->ms) < 0 ||
        (then && kura_parse_u64(then + 6, strlen(then + 6), 60000, &j->then) < 0)) {
        return KURA_EBADREQ;
    }
    kura_req_set_data(r, j);
    return kura_req_defer(r, KURA_POOL_WORK, sleep_work, j, sleep_done);
}

/* GET /_test/hash: one real Argon2id hash at the configured cost on the hash pool, as a login
 * will do; lets tests show that hashing is bounded by password.hash_workers and does not stall
 * other requests. */
struct hash_job {
    struct kura_pwhash_params params;
    int result;
};

static void hash_work(void *arg)
{
    struct hash_job *j = arg;
    uint8_t pepper[KURA_PEPPER_BYTES];
    char out[KURA_PWHASH_STR_MAX];
    j->result = kura_random(pepper, sizeof(pepper));
    if (j->result == 0) {
        j->result = kura_password_hash(&j->params, pepper, "correct horse battery", 21, out);
    }
    kura_wipe(pepper, sizeof(pepper));
}

static int hash_done(struct kura_req *r)
{
    static const char body[] = "{\"hashed\":true}\n";
    struct hash_job *j = kura_req_data(r);
    if (j->result < 0) {
        return j->result;
    }
    return kura_req_respond(r, 200, "application/json", body, sizeof(body) - 1);
}

static int hash_handler(struct kura_req *r)
{
    const struct kura_conf *c = kura_req_info(r)->conf;
    struct hash_job *j = KURA_ARENA_NEW(r->info.arena, struct hash_job);
    if (!j) {
        return kura_arena_err(r->info.arena);
    }
    j->params.opslimit = c->password.hash_opslimit;
    j->params.memlimit = (size_t)c->password.hash_memlimit_kib * 1024;
    kura_req_set_data(r, j);
    return kura_req_defer(r, KURA_POOL_HASH, hash_work, j, hash_done);
}

/* PUT /_test/sink: a streamed body (kura_req_set_body_sink), answered with its length and FNV-1a
 * hash; "X-Test-Refuse: 1" refuses it from the headers, "X-Test-Fail-At: N" fails the sink once
 * N bytes have arrived. GET /_test/stream?size=N[&fail_at=M]: a streamed response of N bytes of
 * the pattern byte(i) = i % 251, aborted at byte M. */
struct sink {
    uint64_t bytes, fnv, fail_at;
};

static int sink_body(struct kura_req *r, const char *data, size_t len)
{
    struct sink *k = kura_req_data(r);
    for (size_t i = 0; i < len; i++) {
        k->fnv = (k->fnv ^ (uint8_t)data[i]) * 1099511628211ULL;
    }
    k->bytes += len;
    return k->fail_at && k->bytes >= k->fail_at ? KURA_ECORRUPT : 0;
}

static int sink_begin(struct kura_req *r)
{
    const char *refuse = kura_req_header(r, "X-Test-Refuse");
    const char *fail = kura_req_header(r, "X-Test-Fail-At");
    struct sink *k = KURA_ARENA_NEW(r->info.arena, struct sink);
    if (!k) {
        return kura_arena_err(r->info.arena);
    }
    k->fnv = 14695981039346656037ULL;
    if (fail && kura_parse_u64(fail, strlen(fail), UINT64_MAX, &k->fail_at) < 0) {
        return KURA_EBADREQ;
    }
    if (refuse && strcmp(refuse, "1") == 0) {
        return KURA_EFORBIDDEN;
    }
    kura_req_set_data(r, k);
    kura_req_set_body_sink(r, sink_body);
    return 0;
}

static int sink_end(struct kura_req *r)
{
    struct sink *k = kura_req_data(r);
    char *body = kura_arena_printf(r->info.arena, "{\"bytes\":%llu,\"fnv\":\"%016llx\"}\n",
                                   (unsigned long long)k->bytes, (unsigned long long)k->fnv);
    return body ? kura_req_respond(r, 200, "application/json", body, strlen(body))
                : kura_arena_err(r->info.arena);
}

struct pattern {
    uint64_t fail_at;
};

static ssize_t pattern_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct pattern *p = cls;
    if (p->fail_at && pos >= p->fail_at) {
        return KURA_ECORRUPT;
    }
    for (size_t i = 0; i < max; i++) {
        buf[i] = (char)((pos + i) % 251);
    }
    return (ssize_t)max;
}

static int stream_handler(struct kura_req *r)
{
    const char *size = NULL, *fail = NULL;
    uint64_t n = 0, at = 0;
    int e = kura_req_query(r, "size", &size);
    e = e == 0 ? kura_req_query(r, "fail_at", &fail) : e;
    if (e < 0 || !size || kura_parse_u64(size, strlen(size), UINT64_C(1) << 40, &n) < 0 ||
        (fail && kura_parse_u64(fail, strlen(fail), UINT64_MAX, &at) < 0)) {
        return KURA_EBADREQ;
    }
    struct pattern *p = kura_malloc(sizeof(*p));
    if (!p) {
        return -ENOMEM;
    }
    p->fail_at = at;
    return kura_req_respond_stream(r, 200, "application/octet-stream", n, pattern_read, p,
                                   kura_free);
}

const struct kura_route kura_http_test_routes[] = {
    {"GET", "/_test/whoami", KURA_ROUTE_PREFIX, 0, whoami, "test.whoami", NULL},
    {"POST", "/_test/echo", 0, KURA_BODY_DEFAULT, echo, "test.echo", NULL},
    {"GET", "/_test/sleep", 0, 0, sleep_handler, "test.sleep", NULL},
    {"GET", "/_test/hash", 0, 0, hash_handler, "test.hash", NULL},
    {"PUT", "/_test/sink", 0, UINT64_C(1) << 40, sink_end, "test.sink", sink_begin},
    {"GET", "/_test/stream", 0, 0, stream_handler, "test.stream", NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
#endif
