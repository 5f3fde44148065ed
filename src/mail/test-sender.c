/* Unit tests for the sender: outcome classes and back-off, the start-up refusals (plaintext to
 * a remote relay, a password file others can read), the disabled mailer, and the delivery loop
 * against a scripted plaintext SMTP server on loopback: delivery, 451 retried, 550 given up,
 * connection refused retried then expired (test clock), and a prompt stop in mid-attempt.
 * STARTTLS, AUTH and the real-server behaviour are in tests/integration/test_mail.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail-internal.h"

static char dir[64];
static int spoolfd = -1;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-test-mail-sender-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    spoolfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    return spoolfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    close(spoolfd);
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

static struct kura_conf *conf_with(const char *relay, const char *tls)
{
    struct kura_conf *c = kura_conf_new();
    assert_non_null(c);
    struct kura_buf err = KURA_BUF_INIT(1024);
    assert_int_equal(kura_conf_set(c, "mail", "relay", relay, &err), 0);
    assert_int_equal(kura_conf_set(c, "mail", "tls", tls, &err), 0);
    assert_int_equal(kura_conf_set(c, "mail", "retry_hours", "1", &err), 0);
    assert_int_equal(kura_conf_set(c, "mail", "timeout", "20", &err), 0);
    kura_buf_release(&err);
    return c;
}

static void set(struct kura_conf *c, const char *key, const char *value)
{
    struct kura_buf err = KURA_BUF_INIT(1024);
    assert_int_equal(kura_conf_set(c, "mail", key, value, &err), 0);
    kura_buf_release(&err);
}

static void queue_one(char id[static KURA_MAIL_ID_MAX])
{
    static const char *const to[] = {"officer@example.org", "backup@example.org"};
    struct kura_mail_msg m = {to, 2, KURA_STR("監査 / audit"), KURA_STR(".dot line\nbody\n")};
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", id), 0);
}

/* Reads the envelope of id from mail/ (or mail/failed/); false when it is not there. */
static bool read_entry(const char *sub, const char *id, struct kura_buf *file,
                       struct mail_spool_entry *e)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/%s", sub, id);
    kura_buf_reset(file);
    if (kura_file_read_all(spoolfd, path, file) < 0) {
        return false;
    }
    assert_int_equal(mail_spool_parse(file->ptr, file->len, false, e), 0);
    return true;
}

/* Polls until id's pending envelope shows at least n attempts, or it left mail/. */
static void wait_attempts(const char *id, uint64_t n)
{
    struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    struct mail_spool_entry e;
    for (int i = 0; i < 3000; i++) {
        if (!read_entry("mail", id, &file, &e) || e.attempts >= n) {
            kura_buf_release(&file);
            return;
        }
        sleep_ms(10);
    }
    fail_msg("no attempt %llu within 30 s", (unsigned long long)n);
}

static void wait_gone(const char *id)
{
    char path[128];
    struct stat st;
    (void)snprintf(path, sizeof(path), "mail/%s", id);
    for (int i = 0; i < 3000; i++) {
        if (fstatat(spoolfd, path, &st, 0) < 0) {
            return;
        }
        sleep_ms(10);
    }
    fail_msg("%s still spooled after 30 s", id);
}

/* ---- a scripted SMTP server (plaintext, one connection at a time) ------------------------- */

struct fake {
    int lfd;
    uint16_t port;
    pthread_t thread;
    pthread_mutex_t lock;
    int rcpt_code; /* reply to RCPT TO */
    int data_code; /* reply after the message */
    bool silent;   /* accept, then never answer */
    int messages;  /* completed DATA phases */
    int connections;
    char last[8192]; /* last message received, dot-unstuffed */
    bool stop;
};

/* No cmocka assertions on the server thread: a failed write shows up as a failed test. */
static void put(int fd, const char *s)
{
    KURA_IGNORE(write(fd, s, strlen(s)));
}

/* Reads one CRLF line (without it) into line; false at EOF. */
static bool get_line(int fd, char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0) {
            return false;
        }
        if (c == '\n') {
            if (n > 0 && line[n - 1] == '\r') {
                n--;
            }
            line[n] = '\0';
            return true;
        }
        if (n + 1 < cap) {
            line[n++] = c;
        }
    }
}

static void serve_one(struct fake *f, int fd)
{
    char line[1100], reply[64];
    put(fd, "220 fake ESMTP\r\n");
    while (get_line(fd, line, sizeof(line))) {
        pthread_mutex_lock(&f->lock);
        int rcpt = f->rcpt_code, data = f->data_code;
        pthread_mutex_unlock(&f->lock);
        if (strncmp(line, "EHLO", 4) == 0) {
            put(fd, "250-fake\r\n250 8BITMIME\r\n");
        } else if (strncmp(line, "MAIL FROM:", 10) == 0) {
            put(fd, "250 2.1.0 ok\r\n");
        } else if (strncmp(line, "RCPT TO:", 8) == 0) {
            (void)snprintf(reply, sizeof(reply), "%d %s\r\n", rcpt,
                           rcpt == 250 ? "2.1.5 ok" : "5.1.1 no such user here");
            put(fd, reply);
        } else if (strcmp(line, "DATA") == 0) {
            put(fd, "354 go ahead\r\n");
            size_t n = 0;
            while (get_line(fd, line, sizeof(line)) && strcmp(line, ".") != 0) {
                const char *p = line[0] == '.' ? line + 1 : line; /* RFC 5321 §4.5.2 */
                int k = snprintf(f->last + n, sizeof(f->last) - n, "%s\r\n", p);
                if (k > 0 && (size_t)k < sizeof(f->last) - n) {
                    n += (size_t)k;
                }
            }
            pthread_mutex_lock(&f->lock);
            f->messages++;
            pthread_mutex_unlock(&f->lock);
            (void)snprintf(reply, sizeof(reply), "%d %s\r\n", data,
                           data == 250 ? "2.0.0 queued" : "4.3.0 try again later");
            put(fd, reply);
        } else if (strcmp(line, "QUIT") == 0) {
            put(fd, "221 bye\r\n");
            return;
        } else {
            put(fd, "502 what\r\n");
        }
    }
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    for (;;) {
        int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
        pthread_mutex_lock(&f->lock);
        bool stop = f->stop, silent = f->silent;
        f->connections += fd >= 0;
        pthread_mutex_unlock(&f->lock);
        if (fd < 0 || stop) {
            if (fd >= 0) {
                close(fd);
            }
            return NULL;
        }
        if (silent) {
            /* Hold the connection without a greeting until the client gives up. */
            char c;
            while (read(fd, &c, 1) > 0) {
            }
        } else {
            serve_one(f, fd);
        }
        close(fd);
    }
}

static void fake_start(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->rcpt_code = 250;
    f->data_code = 250;
    pthread_mutex_init(&f->lock, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &len), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    f->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    f->stop = true;
    pthread_mutex_unlock(&f->lock);
    shutdown(f->lfd, SHUT_RDWR); /* wakes accept */
    pthread_join(f->thread, NULL);
    close(f->lfd);
    pthread_mutex_destroy(&f->lock);
}

static void relay_of(const struct fake *f, char out[static 32])
{
    (void)snprintf(out, 32, "127.0.0.1:%u", (unsigned)f->port);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(mail_classify(CURLE_OK, 250), MAIL_SENT);
    assert_int_equal(mail_classify(CURLE_ABORTED_BY_CALLBACK, 0), MAIL_STOPPED);
    assert_int_equal(mail_classify(CURLE_COULDNT_CONNECT, 0), MAIL_TRANSIENT);
    assert_int_equal(mail_classify(CURLE_OPERATION_TIMEDOUT, 220), MAIL_TRANSIENT);
    assert_int_equal(mail_classify(CURLE_PEER_FAILED_VERIFICATION, 220), MAIL_TRANSIENT);
    assert_int_equal(mail_classify(CURLE_USE_SSL_FAILED, 250), MAIL_TRANSIENT);
    assert_int_equal(mail_classify(CURLE_WEIRD_SERVER_REPLY, 451), MAIL_TRANSIENT);
    assert_int_equal(mail_classify(CURLE_SEND_ERROR, 421), MAIL_TRANSIENT);
    assert_int_equal(mail_classify(CURLE_SEND_ERROR, 550), MAIL_PERMANENT);
    assert_int_equal(mail_classify(CURLE_WEIRD_SERVER_REPLY, 554), MAIL_PERMANENT);
    assert_int_equal(mail_classify(CURLE_WEIRD_SERVER_REPLY, 552), MAIL_PERMANENT);
    /* Authentication refusals wait for the operator instead of discarding mail. */
    assert_int_equal(mail_classify(CURLE_LOGIN_DENIED, 535), MAIL_TRANSIENT);
    assert_int_equal(mail_classify(CURLE_SEND_ERROR, 530), MAIL_TRANSIENT);
}

static void test_curl_flavour(void **state)
{
    (void)state;
    /* kura links libcurl's GnuTLS flavour (libcurl4-gnutls-dev): one TLS library in the
     * process, and the one whose certificate checks the rest of kura relies on. */
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    assert_non_null(v->ssl_version);
    assert_memory_equal(v->ssl_version, "GnuTLS/", 7);
    bool smtp = false, smtps = false;
    for (const char *const *p = v->protocols; *p; p++) {
        smtp = smtp || strcmp(*p, "smtp") == 0;
        smtps = smtps || strcmp(*p, "smtps") == 0;
    }
    assert_true(smtp && smtps);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(mail_backoff_ms(1), 30000);
    assert_int_equal(mail_backoff_ms(2), 60000);
    assert_int_equal(mail_backoff_ms(3), 120000);
    assert_int_equal(mail_backoff_ms(7), 1920000);
    assert_int_equal(mail_backoff_ms(8), KURA_MAIL_BACKOFF_MAX_MS);
    assert_int_equal(mail_backoff_ms(UINT32_MAX), KURA_MAIL_BACKOFF_MAX_MS);
}

static void test_loopback(void **state)
{
    (void)state;
    const char *yes[] = {"localhost", "127.0.0.1", "127.1.2.3", "127.255.255.254", "::1"};
    const char *no[] = {
        "example.org", "localhost.example.org", "128.0.0.1",      "10.0.0.1", "0.0.0.0", "::",
        "::2",         "::ffff:127.0.0.1",      "126.255.255.255"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(yes); i++) {
        assert_true(mail_host_is_loopback(yes[i]));
    }
    for (size_t i = 0; i < KURA_ARRAY_SIZE(no); i++) {
        assert_false(mail_host_is_loopback(no[i]));
    }
}

static void test_disabled(void **state)
{
    (void)state;
    struct kura_conf *c = kura_conf_new(); /* relay empty by default */
    assert_non_null(c);
    struct kura_mailer *m = NULL;
    assert_int_equal(kura_mailer_start(spoolfd, c, &m, NULL), 0);
    assert_non_null(m);
    kura_conf_free(c);
    char id[KURA_MAIL_ID_MAX];
    queue_one(id); /* queueing works without a relay */
    kura_mailer_kick(m);
    kura_mailer_kick(NULL);
    assert_null(kura_mailer_stop(m));
    assert_null(kura_mailer_stop(NULL));
    size_t pending = 0, failed = 0;
    assert_int_equal(kura_mail_spool_count(spoolfd, &pending, &failed), 0);
    assert_int_equal(pending, 1); /* waits for a relay */
    char path[64];
    (void)snprintf(path, sizeof(path), "mail/%s", id);
    assert_int_equal(unlinkat(spoolfd, path, 0), 0);
}

/* Asserts that start fails with want and a message containing needle. */
static void start_refused(struct kura_conf *c, int want, const char *needle)
{
    struct kura_mailer *m = NULL;
    struct kura_buf err = KURA_BUF_INIT(1024);
    assert_int_equal(kura_mailer_start(spoolfd, c, &m, &err), want);
    assert_null(m);
    assert_non_null(err.ptr);
    if (!strstr(err.ptr, needle)) {
        fail_msg("'%s' does not contain '%s'", err.ptr, needle);
    }
    kura_buf_release(&err);
}

static void test_start_refusals(void **state)
{
    (void)state;
    struct kura_conf *c = conf_with("mail.example.org:25", "none");
    start_refused(c, KURA_ECONFIG, "not on this host");
    kura_conf_free(c);
    c = conf_with("192.0.2.1:25", "none");
    start_refused(c, KURA_ECONFIG, "not on this host");
    kura_conf_free(c);

    c = conf_with("mail.example.org:587", "starttls");
    set(c, "username", "kura");
    start_refused(c, KURA_ECONFIG, "set both or neither");

    char pw[128];
    (void)snprintf(pw, sizeof(pw), "%s/smtp-password", dir);
    int fd = open(pw, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    assert_int_equal(fchmod(fd, 0644), 0);
    close(fd);
    set(c, "password_file", pw);
    start_refused(c, KURA_EKEYMODE, "mode 0644 allows group or others; chmod 600");
    assert_int_equal(chmod(pw, 0640), 0);
    start_refused(c, KURA_EKEYMODE, "mode 0640");
    assert_int_equal(chmod(pw, 0600), 0);

    /* Empty, or more than one line. */
    assert_int_equal(truncate(pw, 0), 0);
    start_refused(c, KURA_ECONFIG, "empty, or more than one line");
    fd = open(pw, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "a\nb\n", 4), 4);
    close(fd);
    start_refused(c, KURA_ECONFIG, "empty, or more than one line");
    assert_int_equal(unlink(pw), 0);
    start_refused(c, -ENOENT, "smtp-password");
    kura_conf_free(c);

    c = conf_with("mail.example.org:465", "implicit");
    set(c, "ca_file", "/nonexistent/kura-ca.pem");
    start_refused(c, -ENOENT, "[mail] ca_file '/nonexistent/kura-ca.pem'");
    kura_conf_free(c);
}

static void test_deliver_and_permanent(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f);
    char relay[32], id[KURA_MAIL_ID_MAX];
    relay_of(&f, relay);
    struct kura_conf *c = conf_with(relay, "none");
    struct kura_mailer *m = NULL;
    struct kura_buf err = KURA_BUF_INIT(1024);
    assert_int_equal(kura_mailer_start(spoolfd, c, &m, &err), 0);

    /* Delivered: the spool file goes, the relay got the message with its dot line intact. */
    queue_one(id);
    kura_mailer_kick(m);
    wait_gone(id);
    pthread_mutex_lock(&f.lock);
    assert_int_equal(f.messages, 1);
    assert_non_null(strstr(f.last, "\r\nTo: officer@example.org, backup@example.org\r\n"));
    assert_non_null(strstr(f.last, "Content-Transfer-Encoding: base64\r\n"));
    /* Queued: the 451 path retries, then delivers. */
    f.data_code = 451;
    pthread_mutex_unlock(&f.lock);
    size_t pending = 9, failed = 9;
    assert_int_equal(kura_mail_spool_count(spoolfd, &pending, &failed), 0);
    assert_int_equal(pending + failed, 0);

    queue_one(id);
    kura_mailer_kick(m);
    wait_attempts(id, 1);
    struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    struct mail_spool_entry e;
    assert_true(read_entry("mail", id, &file, &e));
    assert_int_equal(e.attempts, 1);
    assert_true(e.next_ms - kura_clock_wall_ms() > 25000);
    assert_non_null(memmem(e.error.ptr, e.error.len, "451 4.3.0 try again later", 25));
#ifdef KURA_TEST_HOOKS
    pthread_mutex_lock(&f.lock);
    f.data_code = 250;
    pthread_mutex_unlock(&f.lock);
    kura_clock_shift_ms(KURA_MAIL_BACKOFF_MIN_MS);
    kura_mailer_kick(m);
    wait_gone(id);
    kura_clock_shift_ms(-KURA_MAIL_BACKOFF_MIN_MS);
    pthread_mutex_lock(&f.lock);
    assert_int_equal(f.messages, 3);
    pthread_mutex_unlock(&f.lock);
#else
    char path[64];
    (void)snprintf(path, sizeof(path), "mail/%s", id);
    assert_int_equal(unlinkat(spoolfd, path, 0), 0);
#endif

    /* A refused recipient is permanent: failed/ at once, with the relay's words. */
    pthread_mutex_lock(&f.lock);
    f.rcpt_code = 550;
    pthread_mutex_unlock(&f.lock);
    queue_one(id);
    kura_mailer_kick(m);
    wait_gone(id);
    assert_true(read_entry("mail/failed", id, &file, &e));
    assert_int_equal(e.attempts, 1);
    assert_true(e.failed_ms > 0);
    assert_non_null(memmem(e.error.ptr, e.error.len, "550 5.1.1 no such user here", 27));
    assert_int_equal(kura_mail_spool_count(spoolfd, &pending, &failed), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(failed, 1);
    char path2[64];
    (void)snprintf(path2, sizeof(path2), "mail/failed/%s", id);
    assert_int_equal(unlinkat(spoolfd, path2, 0), 0);

    assert_null(kura_mailer_stop(m));
    fake_stop(&f);
    kura_buf_release(&file);
    kura_buf_release(&err);
    kura_conf_free(c);
}

static void test_refused_then_expired(void **state)
{
    (void)state;
    /* A port nobody listens on: bind, note, close. */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    close(s);
    char relay[32], id[KURA_MAIL_ID_MAX];
    (void)snprintf(relay, sizeof(relay), "localhost:%u", (unsigned)ntohs(sa.sin_port));
    struct kura_conf *c = conf_with(relay, "none");
    struct kura_mailer *m = NULL;
    assert_int_equal(kura_mailer_start(spoolfd, c, &m, NULL), 0);
    queue_one(id);
    kura_mailer_kick(m);
    wait_attempts(id, 1);
    struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    struct mail_spool_entry e;
    assert_true(read_entry("mail", id, &file, &e));
    assert_int_equal(e.attempts, 1);
    assert_true(e.error.len > 0);
#ifdef KURA_TEST_HOOKS
    /* Past retry_hours (1): the next failure gives up. */
    kura_clock_shift_ms(2 * 3600 * 1000);
    kura_mailer_kick(m);
    wait_gone(id);
    kura_clock_shift_ms(-2 * 3600 * 1000);
    assert_true(read_entry("mail/failed", id, &file, &e));
    assert_int_equal(e.attempts, 2);
    assert_true(kura_str_has_prefix(e.error, KURA_STR("retry time exceeded after 2 attempts: ")));
    char path[64];
    (void)snprintf(path, sizeof(path), "mail/failed/%s", id);
#else
    char path[64];
    (void)snprintf(path, sizeof(path), "mail/%s", id);
#endif
    assert_null(kura_mailer_stop(m));
    assert_int_equal(unlinkat(spoolfd, path, 0), 0);
    kura_buf_release(&file);
    kura_conf_free(c);
}

static void test_prompt_stop(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f);
    f.silent = true;
    char relay[32], id[KURA_MAIL_ID_MAX];
    relay_of(&f, relay);
    struct kura_conf *c = conf_with(relay, "none");
    set(c, "timeout", "600");
    struct kura_mailer *m = NULL;
    assert_int_equal(kura_mailer_start(spoolfd, c, &m, NULL), 0);
    queue_one(id);
    kura_mailer_kick(m);
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(&f.lock);
        int n = f.connections;
        pthread_mutex_unlock(&f.lock);
        if (n > 0) {
            break;
        }
        sleep_ms(10);
    }
    int64_t t0 = kura_clock_mono_ms();
    assert_null(kura_mailer_stop(m));
    int64_t took = kura_clock_mono_ms() - t0;
    if (took > 3000) {
        fail_msg("stop took %lld ms", (long long)took);
    }
    /* Abandoned, not counted: the message waits for the next mailer as it was. */
    struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    struct mail_spool_entry e;
    assert_true(read_entry("mail", id, &file, &e));
    assert_int_equal(e.attempts, 0);
    kura_buf_release(&file);
    char path[64];
    (void)snprintf(path, sizeof(path), "mail/%s", id);
    assert_int_equal(unlinkat(spoolfd, path, 0), 0);
    fake_stop(&f);
    kura_conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_curl_flavour),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_start_refusals),
        cmocka_unit_test(test_deliver_and_permanent),
        cmocka_unit_test(test_refused_then_expired),
        cmocka_unit_test(test_prompt_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
