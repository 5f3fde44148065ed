/* tls.c — the RFC 5425 transport: TCP, then TLS (GnuTLS) with the collector's certificate and
 * name verified, octet-counted frames written as they come, and the confirming close.
 *
 * Sockets are non-blocking and every wait is a poll() sliced into SLICE_MS pieces, re-reading
 * the deadline each time, so that a stop (which moves the deadline closer) is noticed at once.
 * GnuTLS reads and writes through kura's own push/pull functions: send() with MSG_NOSIGNAL, so a
 * collector that went away is an EPIPE, never a SIGPIPE.
 *
 * The confirming close (syslog.h, "Delivery guarantee"): TLS close_notify (RFC 8446 §6.1 /
 * RFC 5246 §7.2.1), shutdown(SHUT_WR), then everything the collector still sends is read and
 * ignored (session tickets, its own close_notify) until its FIN. rsyslog (8.2302, gtls driver)
 * answers close_notify by closing the socket without a close_notify of its own, so the FIN is
 * the signal; a reset instead of a FIN means it did not read everything.
 */
#include "syslog-internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLICE_MS 100
#define RECORD_CHUNK 16384
/* TLS 1.2 or 1.3 only (RFC 9662 updates RFC 5425 to require at least TLS 1.2). */
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct tls_state {
    gnutls_certificate_credentials_t cred;
};

struct syslog_conn {
    int fd;
    gnutls_session_t session;
};

static int64_t deadline_of(const struct syslog_deadline *dl)
{
    int64_t stop = atomic_load(dl->stop_at_ms);
    return stop < dl->at_ms ? stop : dl->at_ms;
}

/* Waits until fd is ready for events or the deadline passes: 0 ready, KURA_ETIMEOUT, -errno. */
static int wait_fd(int fd, short events, const struct syslog_deadline *dl)
{
    for (;;) {
        int64_t left = deadline_of(dl) - kura_clock_mono_ms();
        if (left <= 0) {
            return KURA_ETIMEOUT;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(left < SLICE_MS ? left : SLICE_MS));
        if (n < 0 && errno != EINTR) {
            return -errno;
        }
        if (n > 0) {
            return 0; /* ready, or an error/hang-up the next call reports */
        }
    }
}

static ssize_t push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    const struct syslog_conn *c = ptr;
    return send(c->fd, data, len, MSG_NOSIGNAL);
}

static ssize_t pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    const struct syslog_conn *c = ptr;
    return recv(c->fd, data, len, 0);
}

static int pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    const struct syslog_conn *c = ptr;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, (int)ms);
}

static void conn_free(struct syslog_conn *c)
{
    if (!c) {
        return;
    }
    if (c->session) {
        gnutls_deinit(c->session);
    }
    kura_closep(&c->fd);
    kura_free(c);
}

/* ---- credentials ------------------------------------------------------------------------------
 */

/* The key file must be a regular file of this user that group and others cannot read. */
static int check_key_mode(const char *path, struct kura_buf *why)
{
    _cleanup_(kura_closep) int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        kura_buf_addf(why, "[syslog] key_file '%s': %s", path, kura_strerror(r));
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        kura_buf_addf(why,
                      "[syslog] key_file '%s': must be a regular file owned by this user with "
                      "no group or other permissions (chmod 600)",
                      path);
        return KURA_EKEYMODE;
    }
    return 0;
}

static void tls_free_state(void *state)
{
    struct tls_state *t = state;
    if (t) {
        if (t->cred) {
            gnutls_certificate_free_credentials(t->cred);
        }
        kura_free(t);
    }
}

static int tls_prepare(const struct syslog_transport_conf *c, void **ret_state,
                       struct kura_buf *why)
{
    struct tls_state *t = kura_calloc(1, sizeof(*t));
    if (!t) {
        return -ENOMEM;
    }
    int r = 0;
    if (gnutls_certificate_allocate_credentials(&t->cred) < 0) {
        t->cred = NULL;
        r = -ENOMEM;
        goto out;
    }
    if (c->ca_file) {
        int n = gnutls_certificate_set_x509_trust_file(t->cred, c->ca_file, GNUTLS_X509_FMT_PEM);
        if (n <= 0) {
            kura_buf_addf(why, "[syslog] ca_file '%s': %s", c->ca_file,
                          n < 0 ? gnutls_strerror(n) : "no certificate in the file");
            r = KURA_ECONFIG;
            goto out;
        }
    } else {
        int n = gnutls_certificate_set_x509_system_trust(t->cred);
        if (n <= 0) {
            kura_buf_addf(why, "[syslog] the system's CA certificates: %s",
                          n < 0 ? gnutls_strerror(n) : "none found; set ca_file");
            r = KURA_ECONFIG;
            goto out;
        }
    }
    if (c->cert_file) {
        r = check_key_mode(c->key_file, why);
        if (r < 0) {
            goto out;
        }
        int n = gnutls_certificate_set_x509_key_file(t->cred, c->cert_file, c->key_file,
                                                     GNUTLS_X509_FMT_PEM);
        if (n < 0) {
            kura_buf_addf(why, "[syslog] cert_file '%s' with key_file '%s': %s", c->cert_file,
                          c->key_file, gnutls_strerror(n));
            r = KURA_ECONFIG;
            goto out;
        }
    }
out:
    if (r < 0) {
        tls_free_state(t);
        return r;
    }
    *ret_state = t;
    return 0;
}

/* ---- connecting -------------------------------------------------------------------------------
 */

/* A TCP connection to one of host's addresses. */
static int tcp_connect(const struct syslog_transport_conf *c, const struct syslog_deadline *dl,
                       int *ret_fd, struct kura_buf *why)
{
    char port[8];
    (void)snprintf(port, sizeof(port), "%u", (unsigned)c->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int e = getaddrinfo(c->host, port, &hints, &list);
    if (e != 0) {
        kura_buf_addf(why, "cannot resolve '%s': %s", c->host, gai_strerror(e));
        return e == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
    }
    int r = -ECONNREFUSED;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            r = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, dl) : -errno;
            if (r == 0) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
                    err = errno;
                }
                r = -err;
            }
        } else {
            r = 0;
        }
        if (r == 0) {
            freeaddrinfo(list);
            *ret_fd = fd;
            return 0;
        }
        (void)close(fd);
        if (r == KURA_ETIMEOUT) {
            break;
        }
    }
    freeaddrinfo(list);
    kura_buf_addf(why, "connect: %s", kura_strerror(r));
    return r;
}

static bool is_ip_literal(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* Why the handshake failed, in words: the verification status when that was the cause. */
static void describe_tls_error(gnutls_session_t s, int e, struct kura_buf *why)
{
    if (e == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR || e == GNUTLS_E_CERTIFICATE_ERROR) {
        gnutls_datum_t out = {NULL, 0};
        unsigned status = gnutls_session_get_verify_cert_status(s);
        if (gnutls_certificate_verification_status_print(status, gnutls_certificate_type_get(s),
                                                         &out, 0) == 0) {
            kura_buf_addf(why, "certificate of the collector refused: %s", (char *)out.data);
            gnutls_free(out.data);
            return;
        }
    }
    if (e == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        kura_buf_addf(why, "TLS handshake: the collector sent alert '%s'",
                      gnutls_alert_get_name(gnutls_alert_get(s)));
        return;
    }
    kura_buf_addf(why, "TLS handshake: %s", gnutls_strerror(e));
}

static int tls_open(void *state, const struct syslog_transport_conf *c,
                    const struct syslog_deadline *dl, struct syslog_conn **ret,
                    struct kura_buf *why)
{
    struct tls_state *t = state;
    struct syslog_conn *conn = kura_calloc(1, sizeof(*conn));
    if (!conn) {
        return -ENOMEM;
    }
    conn->fd = -1;
    int r = tcp_connect(c, dl, &conn->fd, why);
    if (r < 0) {
        conn_free(conn);
        return r;
    }
    int e = gnutls_init(&conn->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (e < 0) {
        conn->session = NULL;
        conn_free(conn);
        return -ENOMEM;
    }
    gnutls_session_t s = conn->session;
    e = gnutls_priority_set_direct(s, PRIORITY, NULL);
    if (e == 0) {
        e = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred);
    }
    if (e == 0 && !is_ip_literal(c->host)) {
        e = gnutls_server_name_set(s, GNUTLS_NAME_DNS, c->host, strlen(c->host));
    }
    if (e < 0) {
        kura_buf_addf(why, "TLS set-up: %s", gnutls_strerror(e));
        conn_free(conn);
        return KURA_EINTERNAL;
    }
    /* The chain against the trusted CAs, and the name (an IP literal against the certificate's
     * IP addresses) — GnuTLS fails the handshake otherwise. */
    gnutls_session_set_verify_cert(s, c->host, 0);
    gnutls_transport_set_ptr(s, conn);
    gnutls_transport_set_push_function(s, push);
    gnutls_transport_set_pull_function(s, pull);
    gnutls_transport_set_pull_timeout_function(s, pull_timeout);
    for (;;) {
        e = gnutls_handshake(s);
        if (e == 0) {
            break;
        }
        if (e == GNUTLS_E_AGAIN || e == GNUTLS_E_INTERRUPTED) {
            r = wait_fd(conn->fd, gnutls_record_get_direction(s) ? POLLOUT : POLLIN, dl);
            if (r < 0) {
                kura_buf_adds(why, "TLS handshake: timed out");
                conn_free(conn);
                return r;
            }
            continue;
        }
        if (gnutls_error_is_fatal(e)) {
            describe_tls_error(s, e, why);
            conn_free(conn);
            return e == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR ? KURA_ECRYPTO : -EPROTO;
        }
    }
    *ret = conn;
    return 0;
}

/* ---- sending and closing ----------------------------------------------------------------------
 */

static int tls_write(struct syslog_conn *c, const void *p, size_t len,
                     const struct syslog_deadline *dl, struct kura_buf *why)
{
    const char *b = p;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < RECORD_CHUNK ? len - off : RECORD_CHUNK;
        ssize_t w = gnutls_record_send(c->session, b + off, n);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
            /* GnuTLS keeps the record; the same call again continues it. */
            int r = wait_fd(c->fd, POLLOUT, dl);
            if (r < 0) {
                kura_buf_adds(why, "write: timed out");
                return r;
            }
            continue;
        }
        kura_buf_addf(why, "write: %s", gnutls_strerror((int)w));
        return -EPIPE;
    }
    return 0;
}

static int tls_finish(struct syslog_conn *c, const struct syslog_deadline *dl, struct kura_buf *why)
{
    int r = 0;
    for (;;) {
        int e = gnutls_bye(c->session, GNUTLS_SHUT_WR);
        if (e == 0) {
            break;
        }
        if (e != GNUTLS_E_AGAIN && e != GNUTLS_E_INTERRUPTED) {
            kura_buf_addf(why, "close_notify: %s", gnutls_strerror(e));
            r = -EPIPE;
            goto out;
        }
        r = wait_fd(c->fd, POLLOUT, dl);
        if (r < 0) {
            kura_buf_adds(why, "close_notify: timed out");
            goto out;
        }
    }
    if (shutdown(c->fd, SHUT_WR) < 0) {
        r = -errno;
        kura_buf_addf(why, "shutdown: %s", kura_strerror(r));
        goto out;
    }
    /* From here the TLS layer is done: read raw bytes until the collector's FIN. */
    for (;;) {
        char sink[4096];
        ssize_t n = recv(c->fd, sink, sizeof(sink), 0);
        if (n == 0) {
            r = 0;
            break;
        }
        if (n > 0) {
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            r = -errno;
            kura_buf_addf(why, "waiting for the collector to close: %s", kura_strerror(r));
            break;
        }
        r = wait_fd(c->fd, POLLIN, dl);
        if (r < 0) {
            kura_buf_adds(why, "the collector did not close the connection in time");
            break;
        }
    }
out:
    conn_free(c);
    return r;
}

static void tls_abort(struct syslog_conn *c)
{
    conn_free(c);
}

const struct syslog_transport_ops syslog_tls_ops = {
    .version = 1,
    .name = "tls",
    .prepare = tls_prepare,
    .free_state = tls_free_state,
    .open = tls_open,
    .write = tls_write,
    .finish = tls_finish,
    .abort = tls_abort,
};
