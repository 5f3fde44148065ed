/* test-forwarder.c — the forwarder following a live log (struct kura_audit, kura_audit_wait)
 * into a small GnuTLS collector in this process, across a bundle boundary; prompt stop while
 * the collector is down; disabled handles and start-up refusals. (tests/integration/
 * test_syslog.py covers the standalone form against a real rsyslog.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syslog-internal.h"

/* A throwaway CA and a collector certificate for IP 127.0.0.1, valid 2000-2099 (tests only). */
static const char ca_pem[] = "-----BEGIN CERTIFICATE-----\n"
                             "MIIBfjCCASSgAwIBAgIUQU12n1X1nTtqgjWP8CPSuvlbFC4wCgYIKoZIzj0EAwIw\n"
                             "HDEaMBgGA1UEAxMRa3VyYSB1bml0LXRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgP\n"
                             "MjA5OTEyMzEwMDAwMDBaMBwxGjAYBgNVBAMTEWt1cmEgdW5pdC10ZXN0IENBMFkw\n"
                             "EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmqeM5ZnxWPHoc18nqwqHLQYYLkS07eJ2\n"
                             "CuYwAzmBiv2QgOBWVBeEbgVzDLE2kj/kOBmGRYsJ4DxusNvbYEZB46NCMEAwDwYD\n"
                             "VR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAgQwHQYDVR0OBBYEFCtNvxpP5oMm\n"
                             "BJit6/Z+mtvnj0YZMAoGCCqGSM49BAMCA0gAMEUCIHuJ2XTekjpavY90tkcZkYt8\n"
                             "2b2cMfREPMuTPHWNzBSwAiEA2CBpUv52UEYp6Lmz5s8sR/q6HkqFkTPGnSBt1TUY\n"
                             "DeQ=\n"
                             "-----END CERTIFICATE-----\n";
static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBwTCCAWegAwIBAgIUKy+n3vlI97RdJLxb5uIBbLBgPVMwCgYIKoZIzj0EAwIw\n"
                               "HDEaMBgGA1UEAxMRa3VyYSB1bml0LXRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgP\n"
                               "MjA5OTEyMzEwMDAwMDBaMBkxFzAVBgNVBAMTDmNvbGxlY3Rvci50ZXN0MFkwEwYH\n"
                               "KoZIzj0CAQYIKoZIzj0DAQcDQgAEJmIwVnmwWKMI/zkr2ofeEGtS3ZVd28D8PVQe\n"
                               "cyVLpLASb+byMewv/ealcVRqIyLJdMNDZZSxjdVaGpFZGSAH6qOBhzCBhDAMBgNV\n"
                               "HRMBAf8EAjAAMA8GA1UdEQQIMAaHBH8AAAEwEwYDVR0lBAwwCgYIKwYBBQUHAwEw\n"
                               "DgYDVR0PAQH/BAQDAgeAMB0GA1UdDgQWBBRvNucup4gdENUgmhkybfBONqaVSjAf\n"
                               "BgNVHSMEGDAWgBQrTb8aT+aDJgSYrev2fprb549GGTAKBggqhkjOPQQDAgNIADBF\n"
                               "AiEAqD/TUibHxaElDAoEMNJf4gGQMeun6+SQIaFA/L69b+4CIBPyoWV4/SGbqL4X\n"
                               "xZtBAow0Bjwam6YrNRCptguXC6pS\n"
                               "-----END CERTIFICATE-----\n";
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDStA2AGOLypyJ1Sa\n"
                              "GlBRl6C4y0Wx5zBhjeJGiJCjgrihRANCAAQmYjBWebBYowj/OSvah94Qa1LdlV3b\n"
                              "wPw9VB5zJUuksBJv5vIx7C/95qVxVGojIsl0w0NllLGN1VoakVkZIAfq\n"
                              "-----END PRIVATE KEY-----\n";

static const char *origin = "kura.localhost/audit/forwarder-test";
static char dir[64], ca_path[96];
static int auditfd = -1, spoolfd = -1;
static struct kura_sign_key *key;
static struct kura_conf *conf;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-test-syslog-XXXXXX");
    if (!mkdtemp(dir) || kura_sign_key_generate(&key) < 0 || !(conf = kura_conf_new())) {
        return -1;
    }
    conf->audit.refuse_free_mb = 1;
    conf->audit.warn_free_mb = 0;
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/audit", dir);
    (void)mkdir(path, 0700);
    auditfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)snprintf(path, sizeof(path), "%s/spool", dir);
    (void)mkdir(path, 0700);
    spoolfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
    write_file(ca_path, ca_pem);
    return auditfd < 0 || spoolfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    close(auditfd);
    close(spoolfd);
    kura_sign_key_free(key);
    kura_conf_free(conf);
    return system(cmd) == 0 ? 0 : -1;
}

static void set(const char *k, const char *v)
{
    struct kura_buf err = KURA_BUF_INIT(1024);
    int r = kura_conf_set(conf, "syslog", k, v, &err);
    if (r < 0) {
        print_error("%s\n", err.ptr ? err.ptr : "");
    }
    assert_int_equal(r, 0);
    kura_buf_release(&err);
}

/* ---- a collector that reads until close_notify and closes without one, like rsyslog ---------- */

struct collector {
    int lfd;
    uint16_t port;
    pthread_t thread;
    atomic_bool stop;
    gnutls_certificate_credentials_t cred;
    pthread_mutex_t lock;
    struct kura_buf got; /* every byte received, all connections in order */
    unsigned connections;
};

static void serve_one(struct collector *c, int fd)
{
    struct timeval tv = {5, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    gnutls_session_t s;
    assert_int_equal(gnutls_init(&s, GNUTLS_SERVER), 0);
    assert_int_equal(gnutls_set_default_priority(s), 0);
    assert_int_equal(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c->cred), 0);
    gnutls_transport_set_int(s, fd);
    int r;
    do {
        r = gnutls_handshake(s);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    if (r == 0) {
        pthread_mutex_lock(&c->lock);
        c->connections++;
        pthread_mutex_unlock(&c->lock);
        for (;;) {
            char buf[8192];
            ssize_t n = gnutls_record_recv(s, buf, sizeof(buf));
            if (n > 0) {
                pthread_mutex_lock(&c->lock);
                kura_buf_add(&c->got, buf, (size_t)n);
                pthread_mutex_unlock(&c->lock);
            } else if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
                break;
            }
        }
    }
    gnutls_deinit(s);
    close(fd);
}

static void *collector_main(void *arg)
{
    struct collector *c = arg;
    while (!atomic_load(&c->stop)) {
        struct pollfd p = {.fd = c->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) == 1) {
            int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                serve_one(c, fd);
            }
        }
    }
    return NULL;
}

static void collector_start(struct collector *c)
{
    memset(c, 0, sizeof(*c));
    c->got = KURA_BUF_INIT(64 << 20);
    (void)pthread_mutex_init(&c->lock, NULL);
    assert_int_equal(gnutls_certificate_allocate_credentials(&c->cred), 0);
    gnutls_datum_t cert = {(unsigned char *)(uintptr_t)cert_pem, sizeof(cert_pem) - 1};
    gnutls_datum_t k = {(unsigned char *)(uintptr_t)key_pem, sizeof(key_pem) - 1};
    assert_int_equal(gnutls_certificate_set_x509_key_mem(c->cred, &cert, &k, GNUTLS_X509_FMT_PEM),
                     0);
    c->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(c->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(c->lfd, 8), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(c->lfd, (struct sockaddr *)&a, &len), 0);
    c->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&c->thread, NULL, collector_main, c), 0);
}

static void collector_stop(struct collector *c)
{
    atomic_store(&c->stop, true);
    (void)pthread_join(c->thread, NULL);
    close(c->lfd);
    gnutls_certificate_free_credentials(c->cred);
    kura_buf_release(&c->got);
    (void)pthread_mutex_destroy(&c->lock);
}

/* Walks the octet-counted frames received: the AUDIT indices in arrival order, and how many
 * CHECKPOINT messages came. */
static void collector_parse(struct collector *c, uint64_t *idx, size_t max, size_t *ret_n,
                            size_t *ret_checkpoints)
{
    pthread_mutex_lock(&c->lock);
    struct kura_str s = kura_buf_str(&c->got);
    size_t n = 0, cps = 0;
    while (s.len > 0) {
        struct kura_str num;
        assert_true(kura_str_split(&s, ' ', &num));
        uint64_t len;
        assert_int_equal(kura_parse_u64(num.ptr, num.len, s.len, &len), 0);
        struct kura_str msg = {s.ptr, (size_t)len};
        s.ptr += len;
        s.len -= (size_t)len;
        const char *sd = memmem(msg.ptr, msg.len, " AUDIT [kura@32473 index=\"", 26);
        if (sd) {
            uint64_t i = 0;
            for (const char *p = sd + 26; *p != '"'; p++) {
                i = i * 10 + (uint64_t)(*p - '0');
            }
            assert_true(n < max);
            idx[n++] = i;
        } else {
            assert_non_null(memmem(msg.ptr, msg.len, " CHECKPOINT [kura@32473 size=\"", 30));
            cps++;
        }
    }
    pthread_mutex_unlock(&c->lock);
    *ret_n = n;
    *ret_checkpoints = cps;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static struct kura_audit *open_log(void)
{
    struct kura_audit_opts o = {auditfd, key, origin, conf, true};
    struct kura_audit *a = NULL;
    struct kura_buf why = KURA_BUF_INIT(1024);
    int r = kura_audit_open(&o, &a, &why);
    if (r != 0) {
        print_error("open: %s: %s\n", kura_strerror(r), why.ptr ? why.ptr : "");
    }
    assert_int_equal(r, 0);
    kura_buf_release(&why);
    return a;
}

static void emit_n(struct kura_audit *a, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct kura_audit_event ev = {
            .actor = "cli:test", .action = "test.event", .object = "/o", .result = KURA_AUDIT_OK};
        assert_int_equal(kura_audit_emit_sync(a, &ev, NULL), 0);
    }
}

static struct kura_syslog *start(struct kura_audit *a)
{
    struct kura_syslog *s = NULL;
    struct kura_buf err = KURA_BUF_INIT(1024);
    int r = kura_syslog_start(auditfd, spoolfd, a, conf, &s, &err);
    if (r < 0) {
        print_error("start: %s: %s\n", kura_strerror(r), err.ptr ? err.ptr : "");
    }
    assert_int_equal(r, 0);
    kura_buf_release(&err);
    return s;
}

/* Polls the status until pred holds or 30 s pass. */
static void wait_status(struct kura_syslog *s,
                        bool (*pred)(const struct kura_syslog_status *, uint64_t), uint64_t arg,
                        struct kura_syslog_status *ret)
{
    int64_t deadline = kura_clock_mono_ms() + 30000;
    for (;;) {
        kura_syslog_status(s, ret);
        if (pred(ret, arg)) {
            return;
        }
        assert_true(kura_clock_mono_ms() < deadline);
        struct timespec ts = {0, 20 * 1000000L}; /* polling the status, not synchronising */
        (void)nanosleep(&ts, NULL);
    }
}

static bool caught_up_to(const struct kura_syslog_status *st, uint64_t n)
{
    return st->caught_up && st->confirmed >= n;
}

static bool failed_times(const struct kura_syslog_status *st, uint64_t n)
{
    return st->failures >= n;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_follows_live_log(void **state)
{
    (void)state;
    struct collector c;
    collector_start(&c);
    char target[32];
    (void)snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)c.port);
    set("target", target);
    set("ca_file", ca_path);
    struct kura_audit *a = open_log();
    struct kura_syslog *s = start(a);
    /* Across the first bundle boundary (256), while the forwarder follows. */
    emit_n(a, 200);
    emit_n(a, 100);
    uint64_t size = kura_audit_size(a); /* the log writes a heartbeat of its own at open */
    assert_true(size >= 300);
    struct kura_syslog_status st;
    wait_status(s, caught_up_to, size, &st);
    assert_true(st.enabled);
    assert_true(st.confirmed >= size);
    assert_int_equal(st.sent, st.confirmed);
    assert_false(st.connected);
    emit_n(a, 5);
    size = kura_audit_size(a);
    wait_status(s, caught_up_to, size, &st);
    s = kura_syslog_stop(s);

    /* The log may have added a record of its own meanwhile: the cursor says what was sent. */
    struct syslog_cursor cur;
    assert_int_equal(syslog_cursor_load(spoolfd, &cur), 0);
    assert_true(cur.confirmed.record >= size);
    assert_int_equal(cur.sent, cur.confirmed.record);
    uint64_t idx[1024];
    size_t n, cps;
    collector_parse(&c, idx, KURA_ARRAY_SIZE(idx), &n, &cps);
    assert_int_equal(n, cur.confirmed.record); /* a clean collector: nothing sent twice */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(idx[i], i);
    }
    assert_true(cps >= 1);

    /* A new forwarder resumes from the cursor: only what came since is sent. */
    emit_n(a, 3);
    size = kura_audit_size(a);
    s = start(a);
    wait_status(s, caught_up_to, size, &st);
    s = kura_syslog_stop(s);
    assert_int_equal(syslog_cursor_load(spoolfd, &cur), 0);
    assert_true(cur.confirmed.record >= size);
    collector_parse(&c, idx, KURA_ARRAY_SIZE(idx), &n, &cps);
    assert_int_equal(n, cur.confirmed.record);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(idx[i], i);
    }
    a = kura_audit_close(a);
    collector_stop(&c);
}

static void test_collector_down_stop_is_prompt(void **state)
{
    (void)state;
    /* A port nobody listens on. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char target[32];
    (void)snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    close(fd);
    set("target", target);
    set("ca_file", ca_path);
    struct kura_audit *a = open_log();
    struct syslog_cursor before;
    assert_int_equal(syslog_cursor_load(spoolfd, &before), 0);
    struct kura_syslog *s = start(a);
    /* The writer is never held up by the forwarder: records go on being acknowledged. */
    int64_t t0 = kura_clock_mono_ms();
    emit_n(a, 50);
    struct kura_syslog_status st;
    wait_status(s, failed_times, 2, &st);
    emit_n(a, 50);
    assert_true(kura_clock_mono_ms() - t0 < 20000);
    assert_int_equal(st.confirmed, before.confirmed.record);
    assert_false(st.caught_up);
    assert_true(st.last_error < 0);
    int64_t t1 = kura_clock_mono_ms();
    s = kura_syslog_stop(s);
    assert_true(kura_clock_mono_ms() - t1 < KURA_SYSLOG_STOP_MS + 1000);
    struct syslog_cursor after;
    assert_int_equal(syslog_cursor_load(spoolfd, &after), 0);
    assert_int_equal(after.confirmed.record, before.confirmed.record);
    a = kura_audit_close(a);
}

static void test_disabled_and_refusals(void **state)
{
    (void)state;
    set("target", "");
    struct kura_syslog *s = start(NULL);
    struct kura_syslog_status st;
    kura_syslog_status(s, &st);
    assert_false(st.enabled);
    s = kura_syslog_stop(s);
    assert_null(kura_syslog_stop(NULL));

    struct kura_buf err = KURA_BUF_INIT(1024);
    set("target", "127.0.0.1:6514");
    set("ca_file", ca_path);
    set("cert_file", ca_path);
    assert_int_equal(kura_syslog_start(auditfd, spoolfd, NULL, conf, &s, &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "set both or neither"));
    set("cert_file", "");
    set("ca_file", "/nonexistent/ca.pem");
    kura_buf_reset(&err);
    assert_int_equal(kura_syslog_start(auditfd, spoolfd, NULL, conf, &s, &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "[syslog] ca_file '/nonexistent/ca.pem'"));
    set("ca_file", ca_path);
    /* A damaged cursor stops the start: the operator decides, kura does not guess. */
    int w = openat(spoolfd, KURA_SYSLOG_CURSOR, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(w >= 0);
    assert_int_equal(write(w, "x\n", 2), 2);
    close(w);
    kura_buf_reset(&err);
    assert_int_equal(kura_syslog_start(auditfd, spoolfd, NULL, conf, &s, &err), KURA_ECORRUPT);
    assert_non_null(strstr(err.ptr, "syslog.cursor is damaged"));
    assert_int_equal(unlinkat(spoolfd, KURA_SYSLOG_CURSOR, 0), 0);
    kura_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follows_live_log),
        cmocka_unit_test(test_collector_down_stop_is_prompt),
        cmocka_unit_test(test_disabled_and_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
