/* sender.c — one thread that hands spooled mail to the SMTP relay with libcurl.
 *
 * The loop: list the spool (oldest due first), attempt each message that is due, then sleep on
 * a condition variable until the earliest next attempt, a kick, a stop, or KURA_MAIL_RESCAN_MS.
 * Due times are wall-clock milliseconds from kura_clock_wall_ms (they are stored in the spool
 * and must survive a restart); the sleep itself is measured on CLOCK_MONOTONIC and is only ever
 * a bound, re-evaluated against the clock after every wake-up.
 *
 * libcurl: one easy handle per attempt (SMTP connections are not kept between messages). Its
 * SMTP client sends EHLO, STARTTLS (CURLUSESSL_ALL: no plaintext fallback), AUTH with the best
 * mechanism the relay offers, MAIL FROM, one RCPT TO per recipient (any refusal ends the
 * transaction: CURLOPT_MAIL_RCPT_ALLOWFAILS is left off), DATA with dot-stuffing done by
 * libcurl. The relay's replies are read through the debug callback (CURLINFO_HEADER_IN only:
 * CURLINFO_HEADER_OUT carries the AUTH exchange and is never looked at) so that the last reply
 * can be logged and recorded as the reason of a failure.
 */
#include "mail-internal.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PASSWORD_MAX 1024
#define SCAN_MAX 1000 /* messages looked at per pass; the rest wait for the next pass */

struct kura_mailer {
    bool enabled;
    bool plaintext;
    bool thread_started;
    int maildirfd;
    char *url;           /* smtp://host:port or smtps://host:port */
    char *relay;         /* as configured, for the log */
    char *ca_file;       /* NULL: the system's CAs */
    char *username;      /* NULL: no AUTH */
    char *password_file; /* set exactly when username is */
    long timeout_s;
    int64_t retry_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool kicked;         /* under lock */
    atomic_bool stop;    /* set under lock; also read by libcurl's progress callback */
};

/* ---- small pure helpers (unit-tested) ------------------------------------------------------ */

enum mail_outcome mail_classify(int curl_code, long smtp_code)
{
    if (curl_code == CURLE_OK) {
        return MAIL_SENT;
    }
    if (curl_code == CURLE_ABORTED_BY_CALLBACK) {
        return MAIL_STOPPED;
    }
    /* Authentication refusals are a matter of kura's configuration, not of the message: keep
     * the mail until the operator fixes it (RFC 4954 §6: 530, 534, 535, 538). */
    if (curl_code == CURLE_LOGIN_DENIED || smtp_code == 530 || smtp_code == 534 ||
        smtp_code == 535 || smtp_code == 538) {
        return MAIL_TRANSIENT;
    }
    /* RFC 5321 §4.2.1: 5yz is a permanent negative completion reply. */
    if (smtp_code >= 500 && smtp_code <= 599) {
        return MAIL_PERMANENT;
    }
    return MAIL_TRANSIENT;
}

int64_t mail_backoff_ms(uint64_t attempts)
{
    int64_t d = KURA_MAIL_BACKOFF_MIN_MS;
    for (uint64_t i = 1; i < attempts && d < KURA_MAIL_BACKOFF_MAX_MS; i++) {
        d *= 2;
    }
    return d < KURA_MAIL_BACKOFF_MAX_MS ? d : KURA_MAIL_BACKOFF_MAX_MS;
}

bool mail_host_is_loopback(const char *host)
{
    unsigned char a[16];
    if (strcmp(host, "localhost") == 0) {
        return true; /* libcurl >= 7.78 resolves it to loopback itself, not through DNS */
    }
    if (inet_pton(AF_INET, host, a) == 1) {
        return a[0] == 127;
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char v6_loopback[16] = {[15] = 1};
        return memcmp(a, v6_loopback, sizeof(a)) == 0;
    }
    return false;
}

/* ---- the password file --------------------------------------------------------------------- */

/* Reads the password (one line; a final LF or CRLF is dropped) into ret, a secret buffer, after
 * checking on the open file that it is a regular file of this user with no group or other
 * permissions. Messages go to why (may be NULL). */
static int read_password(const char *path, struct kura_buf *ret, struct kura_buf *why)
{
    _cleanup_(kura_closep) int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        if (why) {
            kura_buf_adds(why, "[mail] password_file '");
            kura_buf_add_escaped(why, path, strlen(path));
            kura_buf_addf(why, "': %s", kura_strerror(r));
        }
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    const char *problem = NULL;
    int r = KURA_EKEYMODE;
    if (!S_ISREG(st.st_mode)) {
        problem = "not a regular file";
        r = KURA_ECONFIG;
    } else if (st.st_uid != geteuid()) {
        problem = "not owned by the user kura runs as";
    } else if ((st.st_mode & 077) != 0) {
        problem = "allows group or others; chmod 600";
    }
    if (problem) {
        if (why) {
            kura_buf_adds(why, "[mail] password_file '");
            kura_buf_add_escaped(why, path, strlen(path));
            kura_buf_addf(why, "': mode %04o %s", (unsigned)st.st_mode & 07777u, problem);
        }
        return r;
    }
    char chunk[256];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r = -errno;
            kura_wipe(chunk, sizeof(chunk));
            return r;
        }
        if (n == 0) {
            break;
        }
        kura_buf_add(ret, chunk, (size_t)n);
    }
    kura_wipe(chunk, sizeof(chunk));
    r = kura_buf_err(ret);
    if (r == 0 && ret->len > 0 && ret->ptr[ret->len - 1] == '\n') {
        ret->len--;
        if (ret->len > 0 && ret->ptr[ret->len - 1] == '\r') {
            ret->len--;
        }
        ret->ptr[ret->len] = '\0';
    }
    if (r == 0 && (ret->len == 0 || kura_has_ctl(ret->ptr, ret->len, false))) {
        r = KURA_ECONFIG;
    }
    if (r < 0 && why) {
        kura_buf_adds(why, "[mail] password_file '");
        kura_buf_add_escaped(why, path, strlen(path));
        kura_buf_adds(why, r == KURA_ETOOBIG ? "': longer than 1024 bytes"
                                             : "': empty, or more than one line");
    }
    return r < 0 ? r : 0;
}

/* ---- one delivery attempt ------------------------------------------------------------------ */

struct attempt {
    struct kura_mailer *m;
    struct kura_str data;          /* the message still to upload */
    char reply[MAIL_REASON_MAX];   /* the relay's last reply */
    char refusal[MAIL_REASON_MAX]; /* its last 4xx or 5xx reply (the QUIT after it is 221) */
};

static size_t upload_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct attempt *a = arg;
    size_t room = size * nitems; /* libcurl guarantees no overflow here */
    size_t n = a->data.len < room ? a->data.len : room;
    memcpy(buf, a->data.ptr, n);
    a->data.ptr += n;
    a->data.len -= n;
    return n;
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)h;
    struct attempt *a = arg;
    if (type == CURLINFO_HEADER_IN && size > 0) {
        mail_reason_clean(data, size, a->reply);
        if (data[0] == '4' || data[0] == '5') {
            memcpy(a->refusal, a->reply, sizeof(a->refusal));
        }
    }
    return 0;
}

static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    struct attempt *a = arg;
    return atomic_load(&a->m->stop) ? 1 : 0;
}

static void curl_cleanupp(CURL **h)
{
    if (*h) {
        curl_easy_cleanup(*h);
    }
}

static void slist_freep(struct curl_slist **l)
{
    curl_slist_free_all(*l);
}

#define SETOPT(h, opt, val)                                                                        \
    do {                                                                                           \
        if (res == CURLE_OK) {                                                                     \
            res = curl_easy_setopt((h), (opt), (val));                                             \
        }                                                                                          \
    } while (0)

/* Tries to deliver e once. Writes a one-line reason for any failure to reason. */
static enum mail_outcome deliver(struct kura_mailer *m, const struct mail_spool_entry *e,
                                 char reason[static MAIL_REASON_MAX])
{
    struct attempt a = {.m = m, .data = e->message};
    char errbuf[CURL_ERROR_SIZE] = "";
    _cleanup_(kura_buf_release_wipe) struct kura_buf password = KURA_BUF_INIT_SECRET(PASSWORD_MAX);
    _cleanup_(kura_buf_release) struct kura_buf why = KURA_BUF_INIT(MAIL_REASON_MAX * 2);
    _cleanup_(kura_buf_release) struct kura_buf addr = KURA_BUF_INIT(KURA_MAIL_ADDR_MAX + 2);
    _cleanup_(slist_freep) struct curl_slist *rcpt = NULL;
    _cleanup_(curl_cleanupp) CURL *h = NULL;

    if (m->username) {
        int r = read_password(m->password_file, &password, &why);
        if (r < 0) {
            mail_reason_clean(why.ptr ? why.ptr : "", why.len, reason);
            return MAIL_TRANSIENT;
        }
    }
    for (size_t i = 0; i < e->nto; i++) {
        kura_buf_reset(&addr);
        kura_buf_adds(&addr, "<");
        kura_buf_addstr(&addr, e->to[i]);
        kura_buf_adds(&addr, ">");
        struct curl_slist *l = kura_buf_err(&addr) ? NULL : curl_slist_append(rcpt, addr.ptr);
        if (!l) {
            mail_reason_clean("out of memory", 13, reason);
            return MAIL_TRANSIENT;
        }
        rcpt = l;
    }
    kura_buf_reset(&addr);
    kura_buf_adds(&addr, "<");
    kura_buf_addstr(&addr, e->from);
    kura_buf_adds(&addr, ">");
    h = curl_easy_init();
    if (!h || kura_buf_err(&addr)) {
        mail_reason_clean("out of memory", 13, reason);
        return MAIL_TRANSIENT;
    }

    CURLcode res = CURLE_OK;
    SETOPT(h, CURLOPT_URL, m->url);
    SETOPT(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    SETOPT(h, CURLOPT_NOSIGNAL, 1L);
    SETOPT(h, CURLOPT_PROXY, ""); /* no proxy from the environment */
    SETOPT(h, CURLOPT_TIMEOUT, m->timeout_s);
    SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(h, CURLOPT_USE_SSL, m->plaintext ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
    SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (m->ca_file) {
        /* Only this file: the system's CA folder would widen the trust the operator chose. */
        SETOPT(h, CURLOPT_CAINFO, m->ca_file);
        SETOPT(h, CURLOPT_CAPATH, (char *)NULL);
    }
    if (m->username) {
        SETOPT(h, CURLOPT_USERNAME, m->username);
        SETOPT(h, CURLOPT_PASSWORD, password.ptr);
    }
    SETOPT(h, CURLOPT_MAIL_FROM, addr.ptr);
    SETOPT(h, CURLOPT_MAIL_RCPT, rcpt);
    SETOPT(h, CURLOPT_UPLOAD, 1L);
    SETOPT(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)e->message.len);
    SETOPT(h, CURLOPT_READFUNCTION, upload_cb);
    SETOPT(h, CURLOPT_READDATA, &a);
    SETOPT(h, CURLOPT_VERBOSE, 1L); /* feeds debug_cb; nothing is printed */
    SETOPT(h, CURLOPT_DEBUGFUNCTION, debug_cb);
    SETOPT(h, CURLOPT_DEBUGDATA, &a);
    SETOPT(h, CURLOPT_NOPROGRESS, 0L);
    SETOPT(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    SETOPT(h, CURLOPT_XFERINFODATA, &a);
    if (res != CURLE_OK) {
        const char *s = curl_easy_strerror(res);
        mail_reason_clean(s, strlen(s), reason);
        return MAIL_TRANSIENT;
    }
    res = curl_easy_perform(h);
    kura_buf_release_wipe(&password);
    long code = 0;
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) {
        code = 0;
    }
    enum mail_outcome out = mail_classify((int)res, code);
    if (out != MAIL_SENT) {
        /* The relay's own words first; libcurl's generic text only when it adds which command
         * failed ("RCPT failed: 550") or there was no reply at all (no connection, TLS). */
        if (a.refusal[0]) {
            kura_buf_addf(&why, "relay said: %s", a.refusal);
            if (errbuf[0]) {
                kura_buf_addf(&why, " (%s)", errbuf);
            }
        } else {
            kura_buf_adds(&why, errbuf[0] ? errbuf : curl_easy_strerror(res));
        }
        mail_reason_clean(why.ptr ? why.ptr : "", why.len, reason);
    } else {
        memcpy(reason, a.reply, MAIL_REASON_MAX);
    }
    return out;
}

/* ---- handling one spooled message ---------------------------------------------------------- */

static void log_failed(struct kura_mailer *m, const char *id, uint64_t attempts, const char *reason)
{
    char n[KURA_NUM_STR_MAX];
    kura_log(KURA_LOG_ERR, "mail_failed", "id", id, "relay", m->relay, "attempts",
             kura_fmt_u64(n, attempts), "reason", reason, NULL);
}

/* Moves a file that is not a readable spool file to failed/ as it is. */
static void give_up_raw(struct kura_mailer *m, const char *id, const char *why)
{
    int r = mail_spool_give_up(m->maildirfd, id, NULL);
    if (r < 0) {
        kura_log_err(r, "mail_spool_error", "id", id, "op", "move to failed", NULL);
        return;
    }
    log_failed(m, id, 0, why);
}

/* Handles one message if it is due; returns when it should be looked at next (INT64_MAX when
 * it left the spool). */
static int64_t handle(struct kura_mailer *m, const char *id)
{
    _cleanup_(kura_buf_release) struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    int r = mail_spool_read(m->maildirfd, id, &file);
    if (r == -ENOENT) {
        return INT64_MAX;
    }
    if (r == KURA_ETOOBIG || r == -EINVAL) {
        give_up_raw(m, id, r == KURA_ETOOBIG ? "spool file too large" : "not a regular file");
        return INT64_MAX;
    }
    if (r < 0) {
        kura_log_err(r, "mail_spool_error", "id", id, "op", "read", NULL);
        return kura_clock_wall_ms() + KURA_MAIL_RESCAN_MS;
    }
    struct mail_spool_entry e;
    r = mail_spool_parse(file.ptr, file.len, false, &e);
    if (r < 0) {
        give_up_raw(m, id, "damaged spool file");
        return INT64_MAX;
    }
    int64_t now = kura_clock_wall_ms();
    if (e.next_ms > now) {
        return e.next_ms;
    }

    char reason[MAIL_REASON_MAX] = "";
    enum mail_outcome out = deliver(m, &e, reason);
    now = kura_clock_wall_ms();
    char n1[KURA_NUM_STR_MAX], n2[KURA_NUM_STR_MAX], n3[KURA_NUM_STR_MAX];
    e.attempts++;
    e.error = kura_str_c(reason);
    switch (out) {
    case MAIL_STOPPED:
        return now;
    case MAIL_SENT:
        r = mail_spool_remove(m->maildirfd, id);
        kura_log(KURA_LOG_INFO, "mail_sent", "id", id, "relay", m->relay, "rcpts",
                 kura_fmt_u64(n1, e.nto), "attempt", kura_fmt_u64(n2, e.attempts), "reply", reason,
                 NULL);
        if (r < 0) {
            /* Sent, but it would be sent again: say so loudly. */
            kura_log_err(r, "mail_spool_error", "id", id, "op", "remove after delivery", NULL);
            return now + KURA_MAIL_RESCAN_MS;
        }
        return INT64_MAX;
    case MAIL_TRANSIENT:
        if (now - e.created_ms < m->retry_ms) {
            int64_t delay = mail_backoff_ms(e.attempts);
            e.next_ms = now + delay;
            r = mail_spool_write(m->maildirfd, id, &e);
            kura_log(KURA_LOG_WARN, "mail_deferred", "id", id, "relay", m->relay, "attempt",
                     kura_fmt_u64(n1, e.attempts), "retry_in_s", kura_fmt_i64(n3, delay / 1000),
                     "reason", reason, NULL);
            if (r < 0) {
                kura_log_err(r, "mail_spool_error", "id", id, "op", "write", NULL);
            }
            return e.next_ms;
        }
        break;
    case MAIL_PERMANENT:
        break;
    }
    /* Given up: keep the reason (with how long it was tried) in the file moved to failed/. */
    char final[MAIL_REASON_MAX];
    if (out == MAIL_TRANSIENT) {
        _cleanup_(kura_buf_release) struct kura_buf b = KURA_BUF_INIT(2 * MAIL_REASON_MAX);
        kura_buf_addf(&b, "retry time exceeded after %llu attempts: %s",
                      (unsigned long long)e.attempts, reason);
        mail_reason_clean(b.ptr ? b.ptr : "", b.len, final);
    } else {
        memcpy(final, reason, sizeof(final));
    }
    if (final[0] == '\0') {
        memcpy(final, "refused", sizeof("refused"));
    }
    e.error = kura_str_c(final);
    e.failed_ms = now;
    r = mail_spool_give_up(m->maildirfd, id, &e);
    if (r < 0) {
        kura_log_err(r, "mail_spool_error", "id", id, "op", "move to failed", NULL);
        return now + KURA_MAIL_RESCAN_MS;
    }
    log_failed(m, id, e.attempts, final);
    return INT64_MAX;
}

/* One pass over the spool; returns when the next pass is due. */
static int64_t run_pass(struct kura_mailer *m)
{
    int64_t now = kura_clock_wall_ms(), next = now + KURA_MAIL_RESCAN_MS;
    _cleanup_(kura_freep) struct mail_spool_item *items = NULL;
    size_t n = 0;
    int r = mail_spool_list(m->maildirfd, now, SCAN_MAX, &items, &n);
    if (r < 0) {
        kura_log_err(r, "mail_spool_error", "op", "list", NULL);
        return next;
    }
    for (size_t i = 0; i < n && !atomic_load(&m->stop); i++) {
        int64_t t =
            items[i].next_ms <= kura_clock_wall_ms() ? handle(m, items[i].id) : items[i].next_ms;
        if (t < next) {
            next = t;
        }
    }
    return next;
}

static void *mailer_main(void *arg)
{
    struct kura_mailer *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        bool stop = atomic_load(&m->stop);
        m->kicked = false;
        pthread_mutex_unlock(&m->lock);
        if (stop) {
            break;
        }
        int64_t next = run_pass(m);
        pthread_mutex_lock(&m->lock);
        while (!atomic_load(&m->stop) && !m->kicked) {
            int64_t wait = next - kura_clock_wall_ms();
            if (wait <= 0) {
                break;
            }
            if (wait > KURA_MAIL_RESCAN_MS) {
                wait = KURA_MAIL_RESCAN_MS;
            }
            struct timespec ts;
            (void)clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) == ETIMEDOUT) {
                break;
            }
        }
        pthread_mutex_unlock(&m->lock);
    }
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
    /* Never undone: other areas may use libcurl too, and its global state is reference
     * counted only when calls pair up exactly. */
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int config_error(struct kura_buf *reterr, int r, const char *fmt, ...) KURA_PRINTF(3, 4);

static int config_error(struct kura_buf *reterr, int r, const char *fmt, ...)
{
    if (reterr) {
        va_list ap;
        va_start(ap, fmt);
        kura_buf_vaddf(reterr, fmt, ap);
        va_end(ap);
    }
    return r;
}

/* Copies s, or NULL for an empty s; false on OOM. */
static bool dup_opt(const char *s, char **ret)
{
    *ret = NULL;
    if (!s || s[0] == '\0') {
        return true;
    }
    *ret = kura_strdup(s);
    return *ret != NULL;
}

/* A DNS name with a dot that is neither an IP literal nor localhost. */
static bool ehlo_name_ok(const char *host)
{
    unsigned char a[16];
    return strchr(host, '.') != NULL && strchr(host, ':') == NULL &&
           inet_pton(AF_INET, host, a) != 1 && strcmp(host, "localhost") != 0 &&
           !kura_str_has_prefix(kura_str_c(host), KURA_STR("localhost."));
}

static int configure(struct kura_mailer *m, const struct kura_conf *conf, struct kura_buf *reterr)
{
    const char *relay = conf->mail.relay, *tls = conf->mail.tls;
    char host[KURA_CONF_HOST_MAX];
    uint16_t port = 0;
    if (kura_conf_parse_hostport(relay, strlen(relay), host, &port) < 0 || port == 0) {
        return config_error(reterr, KURA_ECONFIG, "[mail] relay = '%s': expected host:port", relay);
    }
    bool implicit = strcmp(tls, "implicit") == 0;
    m->plaintext = strcmp(tls, "none") == 0;
    if (!implicit && !m->plaintext && strcmp(tls, "starttls") != 0) {
        return config_error(reterr, KURA_ECONFIG, "[mail] tls = '%s': unknown mode", tls);
    }
    if (m->plaintext && !mail_host_is_loopback(host)) {
        return config_error(reterr, KURA_ECONFIG,
                            "[mail] tls = none: refused for relay '%s', which is not on this "
                            "host; allowed only for 127.0.0.0/8, ::1 or localhost",
                            relay);
    }
    const char *user = conf->mail.username, *pwfile = conf->mail.password_file;
    if ((user[0] == '\0') != (pwfile[0] == '\0')) {
        return config_error(reterr, KURA_ECONFIG,
                            "[mail] username and password_file: set both or neither");
    }
    if (user[0] != '\0') {
        _cleanup_(kura_buf_release_wipe) struct kura_buf pw = KURA_BUF_INIT_SECRET(PASSWORD_MAX);
        int r = read_password(pwfile, &pw, reterr);
        if (r < 0) {
            return r;
        }
    }
    const char *ca = conf->mail.ca_file;
    if (ca[0] != '\0') {
        int fd = open(ca, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int r = -errno;
            return config_error(reterr, r, "[mail] ca_file '%s': %s", ca, kura_strerror(r));
        }
        (void)close(fd);
    }
    bool v6 = strchr(host, ':') != NULL;
    _cleanup_(kura_buf_release) struct kura_buf url = KURA_BUF_INIT(2 * KURA_CONF_HOST_MAX + 32);
    kura_buf_addf(&url, "%s://%s%s%s:%u", implicit ? "smtps" : "smtp", v6 ? "[" : "", host,
                  v6 ? "]" : "", (unsigned)port);
    /* The URL's path is libcurl's EHLO name. Its default, gethostname(), is often not a fully
     * qualified name, which relays with reject_non_fqdn_helo_hostname refuse (RFC 5321
     * §4.1.1.1 asks for the FQDN): use public_url's host when it is a DNS name. */
    char pub[KURA_CONF_HOST_MAX];
    uint16_t pub_port;
    if (kura_conf_parse_origin(conf->http.public_url, pub, &pub_port) == 0 && ehlo_name_ok(pub)) {
        kura_buf_addf(&url, "/%s", pub);
    }
    int r = kura_buf_err(&url);
    if (r < 0) {
        return r;
    }
    m->url = kura_buf_detach(&url, NULL);
    if (!m->url || !dup_opt(relay, &m->relay) || !dup_opt(ca, &m->ca_file) ||
        !dup_opt(user, &m->username) || !dup_opt(pwfile, &m->password_file)) {
        return -ENOMEM;
    }
    m->timeout_s = (long)conf->mail.timeout;
    m->retry_ms = (int64_t)conf->mail.retry_hours * 3600 * 1000;
    return 0;
}

int kura_mailer_start(int spool_dirfd, const struct kura_conf *conf, struct kura_mailer **ret,
                      struct kura_buf *reterr)
{
    struct kura_mailer *fresh = kura_calloc(1, sizeof(*fresh));
    if (!fresh) {
        return -ENOMEM;
    }
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&fresh->cond, &ca) != 0) {
        kura_free(fresh);
        return -ENOMEM;
    }
    (void)pthread_condattr_destroy(&ca);
    (void)pthread_mutex_init(&fresh->lock, NULL);
    fresh->maildirfd = -1;
    /* From here on kura_mailer_stop can take it apart. */
    _cleanup_(kura_mailer_stopp) struct kura_mailer *m = fresh;
    if (conf->mail.relay[0] == '\0') {
        *ret = TAKE_PTR(m);
        return 0;
    }
    m->enabled = true;
    int r = configure(m, conf, reterr);
    if (r < 0) {
        return r;
    }
    r = mail_spool_open(spool_dirfd, true, &m->maildirfd);
    if (r < 0) {
        return config_error(reterr, r, "spool folder mail/: %s", kura_strerror(r));
    }
    (void)pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) {
        return config_error(reterr, KURA_EINTERNAL, "libcurl: %s",
                            curl_easy_strerror(curl_init_result));
    }
    if (m->plaintext) {
        kura_log(KURA_LOG_WARN, "mail_plaintext", "relay", m->relay, "detail",
                 "[mail] tls = none: mail and any password cross the loopback unencrypted", NULL);
    }
    /* The thread takes no signals: they belong to the main thread (sigtimedwait). */
    sigset_t all, old;
    sigfillset(&all);
    (void)pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&m->thread, NULL, mailer_main, m);
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        return config_error(reterr, -e, "mail thread: %s", kura_strerror(-e));
    }
    m->thread_started = true;
    (void)pthread_setname_np(m->thread, "kura-mail");
    kura_log(KURA_LOG_INFO, "mail_started", "relay", m->relay, "tls", conf->mail.tls, NULL);
    *ret = TAKE_PTR(m);
    return 0;
}

void kura_mailer_kick(struct kura_mailer *m)
{
    if (!m || !m->enabled) {
        return;
    }
    pthread_mutex_lock(&m->lock);
    m->kicked = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

struct kura_mailer *kura_mailer_stop(struct kura_mailer *m)
{
    if (!m) {
        return NULL;
    }
    if (m->thread_started) {
        pthread_mutex_lock(&m->lock);
        atomic_store(&m->stop, true);
        pthread_cond_signal(&m->cond);
        pthread_mutex_unlock(&m->lock);
        (void)pthread_join(m->thread, NULL);
    }
    kura_closep(&m->maildirfd);
    kura_free(m->url);
    kura_free(m->relay);
    kura_free(m->ca_file);
    kura_free(m->username);
    kura_free(m->password_file);
    (void)pthread_cond_destroy(&m->cond);
    (void)pthread_mutex_destroy(&m->lock);
    kura_free(m);
    return NULL;
}
