/* forwarder.c — one thread that follows the audit log and its checkpoint history and forwards
 * both to the collector, keeping its cursor in DATA/spool/syslog.cursor.
 *
 * Positions (syslog-internal.h struct syslog_pos): `pos` is what the thread sends next, `cur`
 * the persisted cursor. Every failure rewinds pos to cur.confirmed and reopens the iterator
 * there, so a connection always starts at a confirmed point and sends in order from it.
 *
 * The merge: before each record, the next note of audit/checkpoints is looked at; a note of
 * tree size S is due once every record below S was sent (S <= pos.record), and then goes
 * first. Records are appended and made durable before the checkpoint that covers them is
 * published, so a due note never waits for a record that is not there.
 *
 * Pacing: with a struct kura_audit the thread sleeps in kura_audit_wait (woken by new records);
 * checkpoint history is read again after each wait, at most KURA_SYSLOG_POLL_MS apart.
 */
#include "syslog-internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HISTORY "checkpoints" /* audit/checkpoints: every note published, appended */
#define LATEST "checkpoint"   /* audit/checkpoint: the latest note */
#define HIST_CHUNK (64 * 1024)
#define OUT_FLUSH (64 * 1024) /* frames gathered before a write */
#define OUT_MAX (OUT_FLUSH + 2 * KURA_SYSLOG_MSG_MAX)
#define SAVE_EVERY_MS 1000
#define LOG_FAILURES_FIRST 10 /* failures logged one by one, then every LOG_FAILURES_EVERY-th */
#define LOG_FAILURES_EVERY 100
#define WHY_MAX 1024
#define STOP_CONFIRM_MS 1000 /* of KURA_SYSLOG_STOP_MS, kept for the confirming close */

struct kura_syslog {
    bool enabled;
    bool thread_started;
    int audit_dirfd;
    int spool_dirfd;
    struct kura_audit *audit;
    char *target; /* as configured, for the log */
    char *host, *ca_file, *cert_file, *key_file;
    struct syslog_transport_conf tconf;
    const struct syslog_transport_ops *ops;
    void *tstate;
    struct syslog_msg_conf mconf;
    char hostname[SYSLOG_HOSTNAME_MAX + 1];
    char procid[KURA_NUM_STR_MAX];
    char origin[KURA_AUDIT_ORIGIN_MAX];

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;          /* on CLOCK_MONOTONIC; signalled by stop */
    atomic_bool stop;             /* set under lock */
    _Atomic int64_t stop_at;      /* INT64_MAX until stop */
    struct kura_syslog_status st; /* under lock */

    /* The thread's own state. */
    struct syslog_cursor cur;
    struct syslog_pos pos;
    struct kura_audit_iter *it;
    struct kura_buf held; /* the next record, read ahead */
    uint64_t held_index;
    bool have_held;
    struct kura_buf hist; /* audit/checkpoints from byte hist_off */
    uint64_t hist_off;
    bool hist_eof;
    struct syslog_conn *conn;
    int64_t conn_since, last_send, last_save, next_attempt, backoff, retry_iter_at;
    uint64_t batch, fails_in_row;
    bool dirty; /* cur.sent changed since the last save */
    struct kura_buf out;
};

/* ---- status -----------------------------------------------------------------------------------
 */

static void publish_status(struct kura_syslog *s, bool caught_up)
{
    pthread_mutex_lock(&s->lock);
    s->st.connected = s->conn != NULL;
    s->st.caught_up = caught_up;
    s->st.confirmed = s->cur.confirmed.record;
    s->st.confirmed_cp = s->cur.confirmed.cp;
    s->st.sent = s->cur.sent;
    pthread_mutex_unlock(&s->lock);
}

static void count_failure(struct kura_syslog *s, int r)
{
    pthread_mutex_lock(&s->lock);
    s->st.failures++;
    s->st.last_error = r;
    pthread_mutex_unlock(&s->lock);
}

void kura_syslog_status(struct kura_syslog *s, struct kura_syslog_status *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!s || !s->enabled) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    *ret = s->st;
    pthread_mutex_unlock(&s->lock);
    ret->enabled = true;
}

/* ---- the cursor -------------------------------------------------------------------------------
 */

static void save_cursor(struct kura_syslog *s)
{
    int r = syslog_cursor_save(s->spool_dirfd, &s->cur);
    if (r < 0) {
        kura_log_err(r, "syslog_cursor_save_failed", "file", "spool/" KURA_SYSLOG_CURSOR, NULL);
        return;
    }
    s->dirty = false;
    s->last_save = kura_clock_mono_ms();
}

/* Back to the last confirmed point: the next connection resends from there. */
static int rewind_to_confirmed(struct kura_syslog *s)
{
    s->pos = s->cur.confirmed;
    s->have_held = false;
    s->it = kura_audit_iter_free(s->it);
    return kura_audit_iter_open(s->audit_dirfd, s->pos.record, &s->it);
}

/* ---- the origin -------------------------------------------------------------------------------
 */

/* Takes the origin from the first line of audit/checkpoint, once it exists. */
static void load_origin(struct kura_syslog *s)
{
    _cleanup_(kura_buf_release) struct kura_buf b = KURA_BUF_INIT(KURA_SYSLOG_MSG_MAX);
    if (kura_file_read_all(s->audit_dirfd, LATEST, &b) < 0 || !b.ptr) {
        return;
    }
    const char *nl = memchr(b.ptr, '\n', b.len);
    size_t n = nl ? (size_t)(nl - b.ptr) : 0;
    if (n == 0 || n >= sizeof(s->origin) || kura_has_ctl(b.ptr, n, false) ||
        !kura_utf8_valid(b.ptr, n)) {
        return;
    }
    memcpy(s->origin, b.ptr, n);
    s->origin[n] = '\0';
}

/* ---- reading the checkpoint history -----------------------------------------------------------
 */

/* Reads audit/checkpoints from pos.cp into hist. */
static int reload_history(struct kura_syslog *s)
{
    kura_buf_reset(&s->hist);
    s->hist_off = s->pos.cp;
    s->hist_eof = true;
    _cleanup_(kura_closep) int fd =
        openat(s->audit_dirfd, HISTORY, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        return -EINVAL;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < s->pos.cp) {
        /* Replaced by a shorter file (a restore): every note in it is sent again. */
        char a[KURA_NUM_STR_MAX], b[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_WARN, "syslog_checkpoints_shrank", "offset", kura_fmt_u64(a, s->pos.cp),
                 "size", kura_fmt_u64(b, size), NULL);
        s->pos.cp = 0;
        s->hist_off = 0;
    }
    size_t want = size - s->pos.cp > HIST_CHUNK ? HIST_CHUNK : (size_t)(size - s->pos.cp);
    if (want == 0) {
        return 0;
    }
    char *chunk = kura_malloc(want);
    if (!chunk) {
        return -ENOMEM;
    }
    ssize_t n;
    do {
        n = pread(fd, chunk, want, (off_t)s->pos.cp);
    } while (n < 0 && errno == EINTR);
    int r = n < 0 ? -errno : 0;
    if (n > 0) {
        kura_buf_add(&s->hist, chunk, (size_t)n);
        r = kura_buf_err(&s->hist);
        s->hist_eof = s->pos.cp + (uint64_t)n == size;
    }
    kura_free(chunk);
    return r;
}

/* The note at pos.cp when a whole one is there: 1 with *ret_note and *ret_size, 0 otherwise.
 * reread allows one fresh read of the file when the buffer holds no whole note. Lines that
 * cannot be a note (a torn write) and notes of another origin are skipped, and logged. */
static int peek_note(struct kura_syslog *s, bool reread, struct kura_str *ret_note,
                     uint64_t *ret_size)
{
    bool reread_done = false;
    for (;;) {
        if (s->pos.cp < s->hist_off || s->pos.cp - s->hist_off > s->hist.len) {
            kura_buf_reset(&s->hist);
            s->hist_off = s->pos.cp;
            s->hist_eof = false;
        }
        size_t rel = (size_t)(s->pos.cp - s->hist_off);
        const char *p = s->hist.ptr ? s->hist.ptr + rel : "";
        struct syslog_note note;
        size_t skip = 0;
        int r = syslog_note_next(p, s->hist.len - rel, s->hist_eof, &note, &skip);
        if (r == 1 &&
            (note.origin_len != strlen(s->origin) || memcmp(p, s->origin, note.origin_len) != 0)) {
            skip = note.origin_len + 1; /* one line at a time, as for any other garbage */
            r = KURA_ESYNTAX;
        }
        if (r == 1) {
            *ret_note = kura_str_make(p, note.len);
            *ret_size = note.size;
            return 1;
        }
        if (r == KURA_ESYNTAX && skip > 0) {
            char a[KURA_NUM_STR_MAX];
            kura_log(KURA_LOG_WARN, "syslog_checkpoint_skipped", "file", "audit/" HISTORY, "offset",
                     kura_fmt_u64(a, s->pos.cp), "reason", "not a signed note of this log's origin",
                     NULL);
            s->pos.cp += skip;
            continue;
        }
        if (!reread || reread_done) {
            return 0;
        }
        reread_done = true;
        r = reload_history(s);
        if (r < 0) {
            kura_log_err(r, "syslog_checkpoints_read_failed", "file", "audit/" HISTORY, NULL);
            return 0;
        }
    }
}

/* ---- reading records --------------------------------------------------------------------------
 */

/* Reads the next record ahead into held, if there is one. */
static void fill_record(struct kura_syslog *s)
{
    if (s->have_held || kura_clock_mono_ms() < s->retry_iter_at) {
        return;
    }
    struct kura_str rec;
    uint64_t index;
    int r = kura_audit_iter_next(s->it, &rec, &index);
    if (r == KURA_ENOTFOUND) {
        /* Pruned before it was forwarded: nothing to send, the tree still proves it existed. */
        char a[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_WARN, "syslog_records_pruned", "from", kura_fmt_u64(a, s->pos.record),
                 NULL);
        s->pos.record = (s->pos.record / KURA_AUDIT_TILE_WIDTH + 1) * KURA_AUDIT_TILE_WIDTH;
        return;
    }
    if (r < 0) {
        kura_log_err(r, "syslog_audit_read_failed", NULL);
        s->retry_iter_at = kura_clock_mono_ms() + KURA_SYSLOG_BACKOFF_MAX_MS;
        return;
    }
    if (r == 0) {
        return;
    }
    kura_buf_reset(&s->held);
    kura_buf_addstr(&s->held, rec);
    if (kura_buf_err(&s->held) < 0) {
        kura_log_err(kura_buf_err(&s->held), "syslog_audit_read_failed", NULL);
        (void)rewind_to_confirmed(s); /* read it again later */
        s->retry_iter_at = kura_clock_mono_ms() + KURA_SYSLOG_BACKOFF_MIN_MS;
        return;
    }
    s->held_index = index;
    s->have_held = true;
}

/* What goes next: 1 a note (in *note, *size), 2 a record (held), 0 nothing yet. */
static int next_item(struct kura_syslog *s, bool reread, struct kura_str *note, uint64_t *size)
{
    if (s->origin[0] == '\0') {
        return 0; /* every record names the origin: wait for the first checkpoint */
    }
    if (peek_note(s, reread, note, size) == 1 && *size <= s->pos.record) {
        return 1;
    }
    fill_record(s);
    if (s->have_held) {
        return 2;
    }
    return 0;
}

/* ---- connection handling ----------------------------------------------------------------------
 */

static struct syslog_deadline deadline_in(struct kura_syslog *s, int64_t ms)
{
    return (struct syslog_deadline){kura_clock_mono_ms() + ms, &s->stop_at};
}

static void log_failure(struct kura_syslog *s, const char *event, int r, const struct kura_buf *why)
{
    s->fails_in_row++;
    count_failure(s, r);
    if (s->fails_in_row > LOG_FAILURES_FIRST && s->fails_in_row % LOG_FAILURES_EVERY != 0) {
        return;
    }
    char a[KURA_NUM_STR_MAX], b[KURA_NUM_STR_MAX], c[KURA_NUM_STR_MAX];
    kura_log(KURA_LOG_WARN, event, "target", s->target, "attempt", kura_fmt_u64(a, s->fails_in_row),
             "retry_in_ms", kura_fmt_i64(b, s->backoff), "resend_from",
             kura_fmt_u64(c, s->cur.confirmed.record), "reason",
             why->ptr ? why->ptr : kura_strerror(r), NULL);
}

/* After a failure: drop the connection, rewind, wait before the next attempt. */
static void fail(struct kura_syslog *s, const char *event, int r, const struct kura_buf *why)
{
    if (s->conn) {
        s->ops->abort(s->conn);
        s->conn = NULL;
    }
    int64_t now = kura_clock_mono_ms();
    s->next_attempt = now + s->backoff;
    log_failure(s, event, r, why);
    s->backoff =
        s->backoff * 2 > KURA_SYSLOG_BACKOFF_MAX_MS ? KURA_SYSLOG_BACKOFF_MAX_MS : s->backoff * 2;
    int e = rewind_to_confirmed(s);
    if (e < 0) {
        kura_log_err(e, "syslog_audit_read_failed", NULL);
    }
    kura_buf_reset(&s->out);
}

static void connect_now(struct kura_syslog *s)
{
    struct kura_buf why = KURA_BUF_INIT(WHY_MAX);
    struct syslog_deadline dl = deadline_in(s, KURA_SYSLOG_CONNECT_TIMEOUT_MS);
    int r = s->ops->open(s->tstate, &s->tconf, &dl, &s->conn, &why);
    if (r < 0) {
        s->conn = NULL;
        fail(s, "syslog_connect_failed", r, &why);
    } else {
        int64_t now = kura_clock_mono_ms();
        s->conn_since = now;
        s->last_send = now;
        s->batch = 0;
        pthread_mutex_lock(&s->lock);
        s->st.connections++;
        pthread_mutex_unlock(&s->lock);
        if (s->fails_in_row > 0) {
            char a[KURA_NUM_STR_MAX];
            kura_log(KURA_LOG_INFO, "syslog_reconnected", "target", s->target, "resend_from",
                     kura_fmt_u64(a, s->pos.record), NULL);
        }
    }
    kura_buf_release(&why);
}

/* Closes the connection the confirming way; on success everything sent is confirmed. */
static void commit(struct kura_syslog *s, int64_t timeout_ms)
{
    struct kura_buf why = KURA_BUF_INIT(WHY_MAX);
    struct syslog_deadline dl = deadline_in(s, timeout_ms);
    int r = s->ops->finish(s->conn, &dl, &why);
    s->conn = NULL;
    if (r < 0) {
        fail(s, "syslog_unconfirmed", r, &why);
    } else {
        s->cur.confirmed = s->pos;
        s->cur.sent = s->pos.record;
        s->backoff = KURA_SYSLOG_BACKOFF_MIN_MS;
        s->fails_in_row = 0;
        save_cursor(s);
        char a[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_DEBUG, "syslog_confirmed", "target", s->target, "records_below",
                 kura_fmt_u64(a, s->cur.confirmed.record), NULL);
    }
    kura_buf_release(&why);
}

/* Gathers due messages into out and writes them. Returns the number of messages written, or -1
 * after a failure. The history file is not read again here (the main loop does, each pass). */
static int send_some(struct kura_syslog *s)
{
    struct kura_str note;
    uint64_t size;
    int n = 0;
    kura_buf_reset(&s->out);
    while (s->out.len < OUT_FLUSH) {
        int kind = next_item(s, false, &note, &size);
        if (kind == 0) {
            break;
        }
        int r;
        if (kind == 1) {
            r = syslog_frame_checkpoint(&s->mconf, size, note, kura_clock_wall_ms(), &s->out);
            if (r == 0) {
                s->pos.cp += note.len;
            }
        } else {
            r = syslog_frame_record(&s->mconf, s->held_index, kura_buf_str(&s->held), &s->out);
            if (r == 0) {
                s->pos.record = s->held_index + 1;
                s->have_held = false;
            }
        }
        if (r == KURA_ETOOBIG && s->out.len > 0) {
            break; /* out is full: write what it holds first */
        }
        if (r < 0) {
            /* A message that cannot be built at all (over KURA_SYSLOG_MSG_MAX: not a record the
             * writer makes). Forwarding stops here rather than skip it; the log says why. */
            kura_log_err(r, "syslog_message_failed", NULL);
            count_failure(s, r);
            s->retry_iter_at = kura_clock_mono_ms() + KURA_SYSLOG_BACKOFF_MAX_MS;
            s->have_held = false;
            s->it = kura_audit_iter_free(s->it);
            if (kura_audit_iter_open(s->audit_dirfd, s->pos.record, &s->it) < 0) {
                s->it = NULL;
            }
            break;
        }
        n++;
    }
    if (s->out.len == 0) {
        return 0;
    }
    struct kura_buf why = KURA_BUF_INIT(WHY_MAX);
    struct syslog_deadline dl = deadline_in(s, KURA_SYSLOG_WRITE_TIMEOUT_MS);
    int r = s->ops->write(s->conn, s->out.ptr, s->out.len, &dl, &why);
    if (r < 0) {
        fail(s, "syslog_send_failed", r, &why);
        kura_buf_release(&why);
        return -1;
    }
    kura_buf_release(&why);
    s->cur.sent = s->pos.record;
    s->dirty = true;
    s->last_send = kura_clock_mono_ms();
    s->batch += (uint64_t)n;
    pthread_mutex_lock(&s->lock);
    s->st.messages += (uint64_t)n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- the thread -------------------------------------------------------------------------------
 */

/* Sleeps up to ms, or less when stop is called. */
static void nap(struct kura_syslog *s, int64_t ms)
{
    if (ms <= 0) {
        return;
    }
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->stop)) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* Waits for new records (or the poll interval, or stop). */
static void wait_for_more(struct kura_syslog *s, int64_t ms)
{
    if (ms > KURA_SYSLOG_POLL_MS) {
        ms = KURA_SYSLOG_POLL_MS;
    }
    if (ms <= 0) {
        return;
    }
    if (!s->audit || atomic_load(&s->stop)) {
        nap(s, ms);
        return;
    }
    if (kura_audit_size(s->audit) > s->pos.record) {
        nap(s, ms); /* records are there but cannot be taken yet (no origin, a read error) */
        return;
    }
    int64_t start = kura_clock_mono_ms();
    uint64_t size = kura_audit_wait(s->audit, s->pos.record, (int)ms);
    int64_t spent = kura_clock_mono_ms() - start;
    if (size <= s->pos.record && spent < ms) {
        nap(s, ms - spent); /* the log is closing: wait returns at once */
    }
}

static void *forwarder_main(void *arg)
{
    struct kura_syslog *s = arg;
    for (;;) {
        bool stopping = atomic_load(&s->stop);
        int64_t now = kura_clock_mono_ms();
        if (stopping && now >= atomic_load(&s->stop_at)) {
            break;
        }
        if (s->origin[0] == '\0') {
            load_origin(s);
        }
        if (!s->it && kura_audit_iter_open(s->audit_dirfd, s->pos.record, &s->it) < 0) {
            s->it = NULL; /* out of memory: try again shortly */
            nap(s, KURA_SYSLOG_POLL_MS);
            continue;
        }
        struct kura_str note;
        uint64_t size;
        bool work = next_item(s, true, &note, &size) != 0;
        if (work && !s->conn) {
            /* While stopping, one attempt is made only when the last one did not fail. */
            if (stopping && s->fails_in_row > 0) {
                break;
            }
            if (now < s->next_attempt) {
                nap(s, s->next_attempt - now);
                continue;
            }
            connect_now(s);
            publish_status(s, false);
            continue;
        }
        if (work && stopping && s->conn && now >= atomic_load(&s->stop_at) - STOP_CONFIRM_MS) {
            work = false; /* keep the rest of the stop time for the confirmation */
        }
        if (work) {
            int n = send_some(s);
            if (n > 0 && !stopping) {
                now = kura_clock_mono_ms();
                if (s->batch >= KURA_SYSLOG_BATCH_MAX ||
                    now - s->conn_since >= KURA_SYSLOG_BATCH_MS) {
                    commit(s, KURA_SYSLOG_CONFIRM_TIMEOUT_MS);
                } else if (s->dirty && now - s->last_save >= SAVE_EVERY_MS) {
                    save_cursor(s);
                }
            }
            publish_status(s, false);
            continue;
        }
        /* Nothing to send right now. */
        now = kura_clock_mono_ms();
        if (s->conn && (stopping || now - s->last_send >= KURA_SYSLOG_IDLE_CLOSE_MS)) {
            commit(s, KURA_SYSLOG_CONFIRM_TIMEOUT_MS);
        }
        bool caught_up = !s->conn && s->origin[0] != '\0' && s->it &&
                         s->pos.record == s->cur.confirmed.record &&
                         s->pos.cp == s->cur.confirmed.cp;
        publish_status(s, caught_up);
        if (stopping) {
            break;
        }
        int64_t wait = KURA_SYSLOG_POLL_MS;
        if (s->conn) {
            int64_t idle = s->last_send + KURA_SYSLOG_IDLE_CLOSE_MS - now;
            wait = idle < wait ? idle : wait;
        }
        wait_for_more(s, wait);
    }
    if (s->conn) {
        s->ops->abort(s->conn); /* the stop deadline passed before a confirmation */
        s->conn = NULL;
    }
    if (s->dirty || s->cur.sent != s->pos.record) {
        save_cursor(s);
    }
    publish_status(s, false);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------------
 */

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

static int configure(struct kura_syslog *s, const struct kura_conf *conf, struct kura_buf *reterr)
{
    const char *target = conf->syslog.target;
    char host[KURA_CONF_HOST_MAX];
    uint16_t port = 0;
    if (kura_conf_parse_hostport(target, strlen(target), host, &port) < 0 || port == 0) {
        return config_error(reterr, KURA_ECONFIG, "[syslog] target = '%s': expected host:port",
                            target);
    }
    if (strcmp(conf->syslog.protocol, syslog_tls_ops.name) != 0) {
        return config_error(reterr, KURA_ECONFIG, "[syslog] protocol = '%s': not supported",
                            conf->syslog.protocol);
    }
    s->ops = &syslog_tls_ops;
    if (syslog_facility_code(conf->syslog.facility, &s->mconf.facility) < 0) {
        return config_error(reterr, KURA_ECONFIG, "[syslog] facility = '%s': unknown",
                            conf->syslog.facility);
    }
    const char *cert = conf->syslog.cert_file, *key = conf->syslog.key_file;
    if ((cert[0] == '\0') != (key[0] == '\0')) {
        return config_error(reterr, KURA_ECONFIG,
                            "[syslog] cert_file and key_file: set both or neither");
    }
    if (cert[0] != '\0' && strcmp(cert, key) == 0) {
        return config_error(reterr, KURA_ECONFIG,
                            "[syslog] key_file: must differ from cert_file (a key file is secret, "
                            "a certificate is not)");
    }
    if (!dup_opt(target, &s->target) || !dup_opt(host, &s->host) ||
        !dup_opt(conf->syslog.ca_file, &s->ca_file) || !dup_opt(cert, &s->cert_file) ||
        !dup_opt(key, &s->key_file)) {
        return -ENOMEM;
    }
    s->tconf = (struct syslog_transport_conf){s->host, port, s->ca_file, s->cert_file, s->key_file};
    s->mconf.pen = conf->syslog.enterprise_number;
    if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0) {
        s->hostname[0] = '\0';
    }
    s->hostname[sizeof(s->hostname) - 1] = '\0';
    s->mconf.hostname = s->hostname;
    (void)kura_fmt_u64(s->procid, (uint64_t)getpid());
    s->mconf.procid = s->procid;
    s->mconf.origin = s->origin;
    return s->ops->prepare(&s->tconf, &s->tstate, reterr);
}

int kura_syslog_start(int audit_dirfd, int spool_dirfd, struct kura_audit *audit,
                      const struct kura_conf *conf, struct kura_syslog **ret,
                      struct kura_buf *reterr)
{
    struct kura_syslog *fresh = kura_calloc(1, sizeof(*fresh));
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
    fresh->audit_dirfd = -1;
    fresh->spool_dirfd = -1;
    atomic_store(&fresh->stop_at, INT64_MAX);
    kura_buf_init(&fresh->held, KURA_AUDIT_RECORD_MAX);
    kura_buf_init(&fresh->hist, HIST_CHUNK);
    kura_buf_init(&fresh->out, OUT_MAX);
    /* From here on kura_syslog_stop can take it apart. */
    _cleanup_(kura_syslog_stopp) struct kura_syslog *s = fresh;
    if (conf->syslog.target[0] == '\0') {
        *ret = TAKE_PTR(s);
        return 0;
    }
    s->enabled = true;
    s->audit = audit;
    int r = configure(s, conf, reterr);
    if (r < 0) {
        return r;
    }
    s->audit_dirfd = fcntl(audit_dirfd, F_DUPFD_CLOEXEC, 3);
    s->spool_dirfd = fcntl(spool_dirfd, F_DUPFD_CLOEXEC, 3);
    if (s->audit_dirfd < 0 || s->spool_dirfd < 0) {
        r = -errno;
        return config_error(reterr, r, "syslog: %s", kura_strerror(r));
    }
    r = syslog_cursor_load(s->spool_dirfd, &s->cur);
    if (r == -ENOENT) {
        memset(&s->cur, 0, sizeof(s->cur));
    } else if (r == KURA_ECORRUPT) {
        return config_error(reterr, r,
                            "spool/" KURA_SYSLOG_CURSOR " is damaged; remove it to forward the "
                            "whole audit log again");
    } else if (r < 0) {
        return config_error(reterr, r, "spool/" KURA_SYSLOG_CURSOR ": %s", kura_strerror(r));
    }
    r = rewind_to_confirmed(s);
    if (r < 0) {
        return r;
    }
    load_origin(s);
    s->backoff = KURA_SYSLOG_BACKOFF_MIN_MS;
    s->st.confirmed = s->cur.confirmed.record;
    s->st.confirmed_cp = s->cur.confirmed.cp;
    s->st.sent = s->cur.sent;
    /* The thread takes no signals: they belong to the main thread. */
    sigset_t all, old;
    sigfillset(&all);
    (void)pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&s->thread, NULL, forwarder_main, s);
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        return config_error(reterr, -e, "syslog thread: %s", kura_strerror(-e));
    }
    s->thread_started = true;
    (void)pthread_setname_np(s->thread, "kura-syslog");
    char a[KURA_NUM_STR_MAX];
    kura_log(KURA_LOG_INFO, "syslog_started", "target", s->target, "protocol", s->ops->name,
             "resume_from", kura_fmt_u64(a, s->cur.confirmed.record), NULL);
    *ret = TAKE_PTR(s);
    return 0;
}

struct kura_syslog *kura_syslog_stop(struct kura_syslog *s)
{
    if (!s) {
        return NULL;
    }
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        atomic_store(&s->stop_at, kura_clock_mono_ms() + KURA_SYSLOG_STOP_MS);
        atomic_store(&s->stop, true);
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        if (s->audit) {
            kura_audit_wake(s->audit); /* out of kura_audit_wait at once */
        }
        (void)pthread_join(s->thread, NULL);
        char a[KURA_NUM_STR_MAX], b[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_INFO, "syslog_stopped", "target", s->target, "confirmed",
                 kura_fmt_u64(a, s->cur.confirmed.record), "sent", kura_fmt_u64(b, s->cur.sent),
                 NULL);
    }
    if (s->conn) {
        s->ops->abort(s->conn);
    }
    if (s->ops && s->tstate) {
        s->ops->free_state(s->tstate);
    }
    s->it = kura_audit_iter_free(s->it);
    kura_buf_release(&s->held);
    kura_buf_release(&s->hist);
    kura_buf_release(&s->out);
    kura_closep(&s->audit_dirfd);
    kura_closep(&s->spool_dirfd);
    kura_free(s->target);
    kura_free(s->host);
    kura_free(s->ca_file);
    kura_free(s->cert_file);
    kura_free(s->key_file);
    (void)pthread_cond_destroy(&s->cond);
    (void)pthread_mutex_destroy(&s->lock);
    kura_free(s);
    return NULL;
}
