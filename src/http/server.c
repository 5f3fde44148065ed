/* server.c — starting and stopping libmicrohttpd with kura's settings.
 *
 * Mode: MHD's internal thread pool of `threads` epoll loops (MHD_USE_EPOLL_INTERNAL_THREAD +
 * MHD_OPTION_THREAD_POOL_SIZE), with suspend/resume for blocking work on kura's own work queue.
 * This keeps hundreds of idle or slow connections cheap (no thread each) while a 64 MiB Argon2id
 * hash or an fsync never blocks an event loop.
 *
 * The listening socket is created by the caller (so that "address in use" is reported with the
 * real errno) and handed to MHD with MHD_OPTION_LISTEN_SOCKET.
 */
#include "http-internal.h"

#include <time.h>

#include <string.h>
#include <unistd.h>

#define HASH_POOL_NICE 10 /* niceness of the Argon2id workers */

/* AEAD suites only, AES-GCM first (GnuTLS's AES-GCM is ~8x faster than its ChaCha20-Poly1305 on
 * this hardware; ChaCha20 stays for clients without AES instructions). ECDHE only, so every
 * session has forward secrecy. TLS 1.3 suites are all AEAD by definition. */
const char *kura_http_tls_priorities(const char *min_version)
{
    if (strcmp(min_version, "1.3") == 0) {
        return "SECURE128:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
               "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:"
               "+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%SERVER_PRECEDENCE";
    }
    return "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
           "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:"
           "+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%SERVER_PRECEDENCE";
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) KURA_PRINTF(2, 0);
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        msg[--n] = '\0';
    }
    /* MHD reports client misbehaviour here (bad TLS records, malformed requests): useful when
     * diagnosing, noise otherwise. */
    kura_log(KURA_LOG_DEBUG, "mhd", "msg", msg, NULL);
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct kura_http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conns_started(s, c, socket_context);
    } else {
        conns_closed(s, socket_context);
    }
}

static int add_allowed(struct kura_str entry, void *ctx)
{
    struct kura_http_server *s = ctx;
    int r = kura_conf_parse_hostport(entry.ptr, entry.len, s->allowed[s->nallowed].host,
                                     &s->allowed[s->nallowed].port);
    s->nallowed += r == 0;
    return r;
}

static int add_trusted(struct kura_str entry, void *ctx)
{
    struct kura_http_server *s = ctx;
    int r = kura_conf_parse_cidr(entry.ptr, entry.len, &s->trusted[s->ntrusted]);
    s->ntrusted += r == 0;
    return r;
}

/* Parses allowed_hosts and trusted_proxies (already validated by conf) into arrays. */
static int load_lists(struct kura_http_server *s, const struct kura_conf *conf)
{
    s->allowed = kura_calloc(KURA_CONF_MAX_HOSTS, sizeof(*s->allowed));
    s->trusted = kura_calloc(KURA_CONF_MAX_PROXIES, sizeof(*s->trusted));
    if (!s->allowed || !s->trusted) {
        return -ENOMEM;
    }
    int r =
        kura_conf_list_each(conf->http.allowed_hosts, KURA_CONF_MAX_HOSTS, add_allowed, s, NULL);
    if (r == 0) {
        r = kura_conf_list_each(conf->http.trusted_proxies, KURA_CONF_MAX_PROXIES, add_trusted, s,
                                NULL);
    }
    return r;
}

static int load_addresses(struct kura_http_server *s, const struct kura_conf *conf, int fd)
{
    int r = kura_conf_parse_origin(conf->http.public_url, s->public_host, &s->public_port);
    if (r < 0) {
        return r;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -errno;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
        s->listen_port = ntohs(in4->sin_port);
        s->listen_loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        s->listen_port = ntohs(in6->sin6_port);
        s->listen_loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

static unsigned thread_count(const struct kura_conf *conf)
{
    if (conf->http.threads > 0) {
        return (unsigned)conf->http.threads;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n <= 64 ? (unsigned)n : 2;
}

static struct kura_http_server *server_free(struct kura_http_server *s)
{
    if (!s) {
        return NULL;
    }
    for (unsigned i = 0; i < KURA_POOL_COUNT; i++) {
        s->pools[i] = kura_workq_free(s->pools[i]);
    }
    kura_free(s->cert_pem);
    kura_free(s->allowed);
    kura_free(s->trusted);
    pthread_mutex_destroy(&s->conns_lock);
    kura_free(s);
    return NULL;
}

int kura_http_start(const struct kura_http_opts *opts, struct kura_http_server **ret,
                    struct kura_buf *ret_err)
{
    const struct kura_conf *conf = opts->conf;
    struct kura_http_server *s = kura_calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    pthread_mutex_init(&s->conns_lock, NULL);
    s->conf = conf;
    s->app = opts->app;
    s->tables = opts->tables;
    s->audit = opts->audit;
    int r = load_lists(s, conf);
    if (r == 0) {
        r = load_addresses(s, conf, opts->listen_fd);
    }
    s->cert_pem = kura_strdup(opts->cert_pem);
    s->pool_threads[KURA_POOL_WORK] = (unsigned)conf->http.work_threads;
    s->pool_threads[KURA_POOL_HASH] = (unsigned)conf->password.hash_workers;
    s->pools[KURA_POOL_WORK] = kura_workq_new("kura-work", s->pool_threads[KURA_POOL_WORK],
                                              (unsigned)conf->http.work_queue);
    s->pools[KURA_POOL_HASH] = kura_workq_new("kura-hash", s->pool_threads[KURA_POOL_HASH],
                                              (unsigned)conf->http.work_queue);
    if (r == 0 && (!s->cert_pem || !s->pools[KURA_POOL_WORK] || !s->pools[KURA_POOL_HASH])) {
        r = -ENOMEM;
    }
    if (r == 0) {
        /* A login storm must not starve other requests: Argon2id yields the CPU to the event
         * loops (docs/performance.md, "Logins"). */
        kura_workq_set_nice(s->pools[KURA_POOL_HASH], HASH_POOL_NICE);
    }
    if (r < 0) {
        kura_buf_addf(ret_err, "cannot prepare the HTTP server: %s", kura_strerror(r));
        server_free(s);
        return r;
    }
    /* MHD's per-connection pool holds the request line, the headers and the read buffer; it
     * must be large enough that kura's own limits (with their JSON answers) trigger first. But
     * MHD 0.9.75 zeroes the whole pool for every request (MHD_pool_reset): at 72 KiB that
     * memset was 14% of the CPU of a /healthz load, so the margin is kept small (32 KiB in
     * total with the default limits). */
    size_t pool = conf->http.max_uri_bytes + conf->http.max_header_bytes + 8 * 1024;
    unsigned flags =
        MHD_USE_TLS | MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_access_cb, s, MHD_OPTION_LISTEN_SOCKET, opts->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, thread_count(conf), MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, opts->key_pem, MHD_OPTION_HTTPS_PRIORITIES,
        kura_http_tls_priorities(conf->tls.min_version), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)conf->http.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)conf->http.per_ip_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)conf->http.idle_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
        MHD_OPTION_URI_LOG_CALLBACK, http_uri_cb, s, MHD_OPTION_NOTIFY_COMPLETED, http_completed_cb,
        s, MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s,
        /* 0, not 1: strict mode's only extra checks (a space in the target, Host required in
         * HTTP/1.1) are kura's own, which answer with a JSON body and the security headers
         * instead of MHD's bare HTML page. */
        MHD_OPTION_STRICT_FOR_CLIENT, 0, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s, MHD_OPTION_END);
    if (!s->daemon) {
        kura_buf_adds(ret_err, "cannot start the HTTPS server (bad certificate or key, or out of "
                               "resources); run with [log] level = debug for details");
        server_free(s);
        return KURA_EINTERNAL;
    }
    *ret = s;
    return 0;
}

void kura_http_quiesce(struct kura_http_server *s)
{
    if (atomic_exchange(&s->stopping, true)) {
        return;
    }
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) {
        (void)close(fd); /* new connects are refused from here on */
    }
}

unsigned kura_http_in_flight(struct kura_http_server *s)
{
    return atomic_load(&s->in_flight);
}

unsigned kura_http_connections(struct kura_http_server *s)
{
    return atomic_load(&s->connections);
}

void kura_http_pool_stats(struct kura_http_server *s, enum kura_work_pool pool,
                          struct kura_pool_stats *ret)
{
    ret->threads = s->pool_threads[pool];
    kura_workq_stats(s->pools[pool], &ret->running, &ret->queued, &ret->max_running);
}

struct kura_http_server *kura_http_stop(struct kura_http_server *s)
{
    if (!s) {
        return NULL;
    }
    atomic_store(&s->stopping, true);
    /* Finish the queued and running jobs first: MHD must not be stopped while a connection is
     * suspended, and each job resumes its connection when done. */
    for (unsigned i = 0; i < KURA_POOL_COUNT; i++) {
        s->pools[i] = kura_workq_free(s->pools[i]);
    }
    /* MHD aborts if stopped with a connection suspended, and a request waits suspended for its
     * audit record. The drain (serve.c) normally leaves none: it waits until no request is in
     * flight, and requests after it are refused early, without waiting for their records.
     * This wait is for any that slipped through; the writer is closed after HTTP, so each
     * record ends, durable or failed. Polled: this runs once, at shutdown. */
    for (int i = 0; i < 30000 && atomic_load(&s->awaiting_record) > 0; i++) {
        struct timespec ms = {0, 1000000};
        (void)nanosleep(&ms, NULL);
    }
    MHD_stop_daemon(s->daemon);
    return server_free(s);
}
