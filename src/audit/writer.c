/* writer.c — the audit log writer: group commit into audit/current, bundles and hash tiles, crash
 * recovery, signed checkpoints, heartbeats, fail-closed (design in audit.h).
 *
 * One thread owns every file and all tree state. Emitters hand it a pre-serialised fragment; it
 * assigns index, time and prev, appends as many records as queued while the previous fdatasync
 * ran (group commit), syncs once, then acknowledges them in order. A batch never crosses a
 * bundle boundary, so a failure rolls back only the current bundle's tail, which is cut off
 * again with ftruncate; everything acknowledged stays.
 */
#include "audit-internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

/* ---- small helpers -------------------------------------------------------------------------- */

static int write_all_at(int fd, const void *data, size_t len, off_t off)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

static int append_text(int dirfd, const char *name, const char *text, size_t len)
{
    _cleanup_(kura_closep) int fd =
        openat(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    int r = write_all_at(fd, text, len, st.st_size);
    if (r == 0 && fdatasync(fd) < 0) {
        r = -errno;
    }
    return r;
}

/* ---- tiles as bundles complete ----------------------------------------------------------------
 */

/* A full tile at `level` (its 256 hashes in a->level[level]) is written; its root becomes the
 * next entry of the level above, which may complete in turn. */
static int complete_level(struct kura_audit *a, unsigned level, uint64_t tile)
{
    int r =
        tile_write(a->dirfd, (int)level, tile, 0, a->level[level], sizeof(a->level[level]), true);
    if (r < 0 || level + 1 >= LEVELS) {
        return r;
    }
    kura_hash root;
    r = tlog_perfect_root((const kura_hash *)a->level[level], KURA_AUDIT_TILE_WIDTH, root);
    if (r < 0) {
        return r;
    }
    memcpy(a->level[level + 1][a->level_count[level + 1]++], root, KURA_AUDIT_HASH_BYTES);
    a->level_count[level] = 0;
    if (a->level_count[level + 1] == KURA_AUDIT_TILE_WIDTH) {
        return complete_level(a, level + 1, tile / KURA_AUDIT_TILE_WIDTH);
    }
    return 0;
}

/* audit/current holds 256 records: it becomes tile/entries/<N>, its hashes tile/0/<N>. */
int audit_finish_bundle(struct kura_audit *a)
{
    uint64_t n = a->size / KURA_AUDIT_TILE_WIDTH - 1;
    char path[TILE_PATH_MAX];
    tile_path(path, TILE_ENTRIES, n, 0);
    int r = tile_mkdirs(a->dirfd, path);
    if (r == 0 && renameat(a->dirfd, CURRENT, a->dirfd, path) < 0) {
        r = -errno;
    }
    if (r == 0) {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        _cleanup_(kura_closep) int dir = openat(a->dirfd, path, O_RDONLY | O_DIRECTORY);
        r = dir < 0 ? -errno : kura_fsync_dir(dir);
    }
    if (r == 0) {
        r = kura_fsync_dir(a->dirfd);
    }
    if (r < 0) {
        return r;
    }
    kura_closep(&a->current_fd);
    a->in_bundle = 0;
    kura_buf_reset(&a->bundle);
    tile_remove_partials(a->dirfd, TILE_ENTRIES, n);
    return complete_level(a, 0, n);
}

static int open_current(struct kura_audit *a)
{
    if (a->current_fd >= 0) {
        return 0;
    }
    a->current_fd = openat(a->dirfd, CURRENT, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    return a->current_fd < 0 ? -errno : 0;
}

/* ---- committing ----------------------------------------------------------------------------- */

static bool space_ok(struct kura_audit *a)
{
    struct statvfs sv;
    if (fstatvfs(a->dirfd, &sv) < 0) {
        return true; /* cannot tell: let the write itself decide */
    }
    uint64_t free_mb = (uint64_t)sv.f_bavail * sv.f_frsize / (1024 * 1024);
    if (free_mb < a->conf->audit.refuse_free_mb) {
        kura_log(KURA_LOG_ERR, "audit_disk_full", "msg",
                 "free space below [audit] refuse_free_mb: refusing audited requests", NULL);
        return false;
    }
    int64_t now = kura_clock_mono_ms();
    if (free_mb < a->conf->audit.warn_free_mb && now - a->space_warned_at > SPACE_WARN_EVERY_MS) {
        char mb[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_WARN, "audit_disk_low", "free_mb", kura_fmt_u64(mb, free_mb), NULL);
        a->space_warned_at = now;
    }
    return true;
}

static void set_failing(struct kura_audit *a, int r)
{
    if (!atomic_exchange(&a->failing, true)) {
        kura_log_err(r, "audit_write_failed", "msg",
                     "audited requests are refused until the audit log can be written", NULL);
    }
    atomic_store(&a->retry_at, kura_clock_mono_ms() + RETRY_AFTER_FAILURE_MS);
}

static void acknowledge(struct pending *p, int result, uint64_t index)
{
    if (p->done) {
        p->done(p->arg, result, index);
    }
    kura_free(p->fragment);
    kura_free(p);
}

/* Fails every pending record of a list. */
static void fail_all(struct pending *p, int result)
{
    while (p) {
        struct pending *next = p->next;
        acknowledge(p, result, 0);
        p = next;
    }
}

struct rollback {
    uint64_t size;
    unsigned in_bundle;
    size_t bundle_len;
    kura_hash last_leaf;
    int64_t last_time;
    struct tlog_compact compact;
    unsigned level0;
};

/* Appends up to the end of the bundle; returns the first record not taken. */
static struct pending *commit_chunk(struct kura_audit *a, struct pending *list, int *ret_err)
{
    struct rollback rb = {a->size,      a->in_bundle, a->bundle.len,    {0},
                          a->last_time, a->compact,   a->level_count[0]};
    memcpy(rb.last_leaf, a->last_leaf, sizeof(rb.last_leaf));
    struct kura_buf rec = KURA_BUF_INIT(KURA_AUDIT_RECORD_MAX + 512);
    struct pending *p = list, *last = NULL;
    int r = open_current(a);
    size_t start = a->bundle.len;
    while (r == 0 && p && a->in_bundle < KURA_AUDIT_TILE_WIDTH) {
        int64_t now = kura_clock_wall_ms();
        a->last_time = now > a->last_time ? now : a->last_time;
        kura_buf_reset(&rec);
        r = audit_record_compose(a->size, a->last_time, a->last_leaf, p->fragment, p->len, &rec);
        if (r == 0 && rec.len > KURA_AUDIT_RECORD_MAX) {
            r = KURA_ETOOBIG; /* emit checked the fragment; this cannot happen */
        }
        kura_hash leaf;
        if (r == 0) {
            r = tlog_leaf_hash(rec.ptr, rec.len, leaf);
        }
        if (r == 0) {
            r = tlog_compact_append(&a->compact, leaf);
        }
        if (r == 0) {
            uint8_t be[2] = {(uint8_t)(rec.len >> 8), (uint8_t)rec.len};
            kura_buf_add(&a->bundle, be, 2);
            kura_buf_add(&a->bundle, rec.ptr, rec.len);
            r = kura_buf_err(&a->bundle);
            memcpy(a->level[0][a->level_count[0]++], leaf, KURA_AUDIT_HASH_BYTES);
            memcpy(a->last_leaf, leaf, KURA_AUDIT_HASH_BYTES);
            a->size++;
            a->in_bundle++;
            last = p;
            p = p->next;
        }
    }
    kura_buf_release(&rec);
#ifdef KURA_TEST_HOOKS
    if (r == 0 && atomic_load(&a->inject_failure)) {
        r = -ENOSPC;
    }
#endif
    if (r == 0 && !space_ok(a)) {
        r = -ENOSPC;
    }
    if (r == 0) {
        r = write_all_at(a->current_fd, a->bundle.ptr + start, a->bundle.len - start, (off_t)start);
    }
    if (r == 0 && fdatasync(a->current_fd) < 0) {
        r = -errno;
    }
    if (r < 0) {
        /* Nothing of this chunk was acknowledged: cut the file back and forget it. */
        if (a->current_fd >= 0 && ftruncate(a->current_fd, (off_t)rb.bundle_len) == 0) {
            KURA_IGNORE(fdatasync(a->current_fd));
        }
        a->size = rb.size;
        a->in_bundle = rb.in_bundle;
        kura_buf_truncate(&a->bundle, rb.bundle_len);
        memcpy(a->last_leaf, rb.last_leaf, sizeof(rb.last_leaf));
        a->last_time = rb.last_time;
        a->compact = rb.compact;
        a->level_count[0] = rb.level0;
        *ret_err = r;
        return list;
    }
    /* Durable: visible to readers first, so that whoever has its acknowledgement also sees
     * the record in kura_audit_size (a follower's "caught up" means what it says). */
    atomic_store(&a->visible_size, a->size);
    uint64_t index = rb.size;
    for (struct pending *q = list; q;) {
        struct pending *next = q->next;
        bool end = q == last;
        acknowledge(q, 0, index++);
        if (end) {
            break;
        }
        q = next;
    }
    pthread_mutex_lock(&a->lock);
    pthread_cond_broadcast(&a->grown);
    pthread_mutex_unlock(&a->lock);
    *ret_err = 0;
    return p;
}

/* Commits a list of pending records, bundle by bundle. */
static void commit(struct kura_audit *a, struct pending *list)
{
    while (list) {
        int r = 0;
        if (a->in_bundle == KURA_AUDIT_TILE_WIDTH) {
            r = audit_finish_bundle(a);
        }
        if (r == 0) {
            list = commit_chunk(a, list, &r);
        }
        if (r < 0) {
            set_failing(a, r);
            fail_all(list, KURA_EAUDIT);
            return;
        }
        atomic_store(&a->failing, false);
    }
    if (a->in_bundle == KURA_AUDIT_TILE_WIDTH) {
        int r = audit_finish_bundle(a);
        if (r < 0) {
            set_failing(a, r);
        }
    }
}

/* ---- checkpoints ------------------------------------------------------------------------------
 */

/* Writes the partial tiles of the current size. Earlier ones stay (C2SP tlog-tiles: a client
 * holding an older checkpoint must still find its tiles) until their tile is full. */
static void write_partials(struct kura_audit *a)
{
    for (unsigned l = 0; l <= LEVELS; l++) {
        bool entries = l == LEVELS;
        unsigned width = entries ? a->in_bundle : a->level_count[l];
        uint64_t tile = entries ? a->size / KURA_AUDIT_TILE_WIDTH
                                : (a->size >> (KURA_AUDIT_TILE_HEIGHT * l)) / KURA_AUDIT_TILE_WIDTH;
        if (width == 0 || width >= KURA_AUDIT_TILE_WIDTH) {
            continue;
        }
        const void *data = entries ? (const void *)a->bundle.ptr : (const void *)a->level[l];
        size_t len = entries ? a->bundle.len : width * KURA_AUDIT_HASH_BYTES;
        int r =
            tile_write(a->dirfd, entries ? TILE_ENTRIES : (int)l, tile, width, data, len, false);
        if (r < 0) {
            kura_log_err(r, "audit_partial_tile_failed", NULL);
        }
    }
}

int audit_publish(struct kura_audit *a)
{
    struct kura_audit_checkpoint cp = {.size = a->size};
    memcpy(cp.origin, a->origin, sizeof(cp.origin));
    int r = tlog_compact_root(&a->compact, cp.root);
    struct kura_buf note = KURA_BUF_INIT(AUDIT_NOTE_MAX);
    if (r == 0) {
        r = kura_audit_checkpoint_sign(&cp, a->key, &note);
    }
    if (r == 0) {
        write_partials(a);
        r = kura_file_write_atomic(a->dirfd, CHECKPOINT, note.ptr, note.len, 0644);
    }
    if (r == 0) {
        r = append_text(a->dirfd, HISTORY, note.ptr, note.len);
    }
    if (r == 0 && a->conf->audit.witness_file[0]) {
        int w = append_text(AT_FDCWD, a->conf->audit.witness_file, note.ptr, note.len);
        if (w < 0) {
            kura_log_err(w, "audit_witness_file_failed", "path", a->conf->audit.witness_file, NULL);
        }
    }
    kura_buf_release(&note);
    if (r == 0) {
        a->published_size = a->size;
        a->published_at = kura_clock_mono_ms();
    } else {
        kura_log_err(r, "audit_checkpoint_failed", NULL);
    }
    return r;
}

static void maybe_publish(struct kura_audit *a, bool force)
{
    if (a->size != a->published_size &&
        (force || kura_clock_mono_ms() - a->published_at >= CHECKPOINT_EVERY_MS)) {
        KURA_IGNORE(audit_publish(a));
    }
}

/* ---- heartbeats -------------------------------------------------------------------------------
 */

/* The kernel's view of clock synchronisation (adjtimex(2)); no network needed. */
static json_t *clock_status(void)
{
    struct timex tx = {0};
    int state = adjtimex(&tx);
    bool synced = state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC);
    return json_pack("{s:b,s:i,s:I,s:I}", "synced", synced, "state", state, "maxerror_us",
                     (json_int_t)tx.maxerror, "esterror_us", (json_int_t)tx.esterror);
}

static struct pending *make_pending(const struct kura_audit_event *ev, kura_audit_done_fn done,
                                    void *arg, int *ret_err);

static void maybe_heartbeat(struct kura_audit *a)
{
    int64_t now = kura_clock_mono_ms();
    if (now < a->next_heartbeat) {
        return;
    }
    a->next_heartbeat = now + (int64_t)a->conf->audit.heartbeat_interval * 1000;
    json_t *detail = json_pack("{s:I,s:o}", "wall_ms", (json_int_t)kura_clock_wall_ms(), "clock",
                               clock_status());
    struct kura_audit_event ev = {
        .actor = "system", .action = "audit.heartbeat", .result = KURA_AUDIT_OK, .detail = detail};
    int r = 0;
    struct pending *p = detail ? make_pending(&ev, NULL, NULL, &r) : NULL;
    json_decref(detail);
    if (p) {
        commit(a, p);
    }
}

/* ---- emitting ---------------------------------------------------------------------------------
 */

static struct pending *make_pending(const struct kura_audit_event *ev, kura_audit_done_fn done,
                                    void *arg, int *ret_err)
{
    struct kura_buf frag = KURA_BUF_INIT(KURA_AUDIT_RECORD_MAX - 256);
    int r = audit_fragment(ev, &frag);
    struct pending *p = r == 0 ? kura_calloc(1, sizeof(*p)) : NULL;
    if (!p) {
        *ret_err = r < 0 ? r : -ENOMEM;
        kura_buf_release(&frag);
        return NULL;
    }
    p->fragment = kura_buf_detach(&frag, &p->len);
    if (!p->fragment) {
        kura_free(p);
        *ret_err = -ENOMEM;
        return NULL;
    }
    p->done = done;
    p->arg = arg;
    return p;
}

int kura_audit_emit(struct kura_audit *a, const struct kura_audit_event *ev,
                    kura_audit_done_fn done, void *arg)
{
    if (atomic_load(&a->failing) && kura_clock_mono_ms() < atomic_load(&a->retry_at)) {
        return KURA_EAUDIT;
    }
    int r = 0;
    struct pending *p = make_pending(ev, done, arg, &r);
    if (!p) {
        return r;
    }
    if (!a->has_thread) {
        commit(a, p); /* CLI use: the caller is the writer */
        maybe_publish(a, true);
        return 0;
    }
    pthread_mutex_lock(&a->lock);
    *a->tail = p;
    a->tail = &p->next;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    return 0;
}

struct sync_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int result;
    uint64_t index;
};

static void sync_done(void *arg, int result, uint64_t index)
{
    struct sync_wait *w = arg;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    w->result = result;
    w->index = index;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int kura_audit_emit_sync(struct kura_audit *a, const struct kura_audit_event *ev,
                         uint64_t *ret_index)
{
    struct sync_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};
    int r = kura_audit_emit(a, ev, sync_done, &w);
    if (r < 0) {
        return r;
    }
    pthread_mutex_lock(&w.lock);
    while (!w.done) {
        pthread_cond_wait(&w.cond, &w.lock);
    }
    pthread_mutex_unlock(&w.lock);
    if (w.result == 0 && ret_index) {
        *ret_index = w.index;
    }
    return w.result;
}

static struct timespec deadline(int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    return until;
}

uint64_t kura_audit_wait(struct kura_audit *a, uint64_t seen, int timeout_ms)
{
    struct timespec until = deadline(timeout_ms);
    pthread_mutex_lock(&a->lock);
    /* A count, not a flag: one wake must release every follower waiting now (the indexer,
     * the alerter and the syslog forwarder may all be here), not the first to notice. */
    uint64_t wakes = a->wakes;
    while (atomic_load(&a->visible_size) <= seen && !a->stopping && a->wakes == wakes) {
        if (pthread_cond_timedwait(&a->grown, &a->lock, &until) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return atomic_load(&a->visible_size);
}

void kura_audit_pause(struct kura_audit *a, int timeout_ms)
{
    struct timespec until = deadline(timeout_ms);
    pthread_mutex_lock(&a->lock);
    uint64_t wakes = a->wakes;
    while (!a->stopping && a->wakes == wakes) {
        if (pthread_cond_timedwait(&a->paused, &a->lock, &until) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
}

void kura_audit_wake(struct kura_audit *a)
{
    pthread_mutex_lock(&a->lock);
    a->wakes++;
    pthread_cond_broadcast(&a->grown);
    pthread_cond_broadcast(&a->paused);
    pthread_mutex_unlock(&a->lock);
}

uint64_t kura_audit_size(struct kura_audit *a)
{
    return atomic_load(&a->visible_size);
}

bool kura_audit_failing(struct kura_audit *a)
{
    return atomic_load(&a->failing);
}

#ifdef KURA_TEST_HOOKS
void kura_audit_inject_failure(struct kura_audit *a, bool on)
{
    atomic_store(&a->inject_failure, on);
}

void kura_audit_inject_delay(struct kura_audit *a, unsigned ms)
{
    atomic_store(&a->inject_delay_ms, ms);
}

static void injected_delay(struct kura_audit *a)
{
    unsigned ms = atomic_load(&a->inject_delay_ms);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}
#endif

/* ---- the writer thread ------------------------------------------------------------------------
 */

static void *writer_main(void *arg)
{
    struct kura_audit *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        if (!a->head && !a->stopping) {
            /* Wake at least every second: heartbeats and checkpoints read the (test) clock. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&a->wake, &a->lock, &until);
        }
        struct pending *batch = a->head;
        a->head = NULL;
        a->tail = &a->head;
        bool stop = a->stopping;
        pthread_mutex_unlock(&a->lock);
        if (batch) {
#ifdef KURA_TEST_HOOKS
            injected_delay(a);
#endif
            commit(a, batch);
        }
        maybe_heartbeat(a);
        maybe_publish(a, false);
        pthread_mutex_lock(&a->lock);
        if (stop && !a->head) {
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    kura_sha256_thread_done();
    return NULL;
}

struct kura_audit *kura_audit_close(struct kura_audit *a)
{
    if (!a) {
        return NULL;
    }
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_signal(&a->wake);
    pthread_cond_broadcast(&a->grown); /* followers stop waiting */
    pthread_cond_broadcast(&a->paused);
    pthread_mutex_unlock(&a->lock);
    if (a->has_thread) {
        pthread_join(a->thread, NULL);
    }
    maybe_publish(a, true);
    if (a->published_size == a->size) {
        (void)unlinkat(a->dirfd, RUNNING, 0); /* a clean close */
        KURA_IGNORE(kura_fsync_dir(a->dirfd));
    }
    kura_closep(&a->current_fd);
    kura_buf_release(&a->bundle);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->grown);
    pthread_cond_destroy(&a->paused);
    pthread_mutex_destroy(&a->lock);
    kura_free(a);
    return NULL;
}

/* ---- opening ----------------------------------------------------------------------------------
 */

/* The origin line of an existing log's checkpoint, when it is one of this installation. */
static bool origin_of_log(int audit_dirfd, const char *install_id,
                          char ret[static KURA_AUDIT_ORIGIN_MAX])
{
    struct kura_buf note = KURA_BUF_INIT(AUDIT_NOTE_MAX);
    char suffix[64];
    int n = snprintf(suffix, sizeof(suffix), "/audit/%s", install_id);
    bool ok = audit_dirfd >= 0 && n > 0 && (size_t)n < sizeof(suffix) &&
              kura_file_read_all(audit_dirfd, CHECKPOINT, &note) == 0 && note.len > 0;
    const char *nl = ok ? memchr(note.ptr, '\n', note.len) : NULL;
    size_t len = nl ? (size_t)(nl - note.ptr) : 0;
    ok = nl && len < KURA_AUDIT_ORIGIN_MAX && len > 5 + (size_t)n &&
         memcmp(note.ptr, "kura.", 5) == 0 &&
         memcmp(note.ptr + len - (size_t)n, suffix, (size_t)n) == 0 &&
         !memchr(note.ptr, ' ', len) && !memchr(note.ptr, '+', len) &&
         kura_utf8_valid(note.ptr, len) && !kura_has_ctl(note.ptr, len, false);
    if (ok) {
        memcpy(ret, note.ptr, len);
        ret[len] = '\0';
    }
    kura_buf_release(&note);
    return ok;
}

int kura_audit_origin(int audit_dirfd, const struct kura_conf *conf, const char *install_id,
                      char ret[static KURA_AUDIT_ORIGIN_MAX])
{
    /* A log keeps the origin it was created with: witnesses hold checkpoints under it, and a
     * new public_url must not make the log's own history unverifiable. A checkpoint whose
     * origin line was altered fails its signature check in verify. */
    if (origin_of_log(audit_dirfd, install_id, ret)) {
        return 0;
    }
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    int r = kura_conf_parse_origin(conf->http.public_url, host, &port);
    if (r < 0) {
        return r;
    }
    int n = snprintf(ret, KURA_AUDIT_ORIGIN_MAX, "kura.%s/audit/%s", host, install_id);
    /* An origin is one line of a note and the key name of its signature: no spaces or '+'. */
    if (n < 0 || n >= KURA_AUDIT_ORIGIN_MAX || strpbrk(ret, " +\n\t")) {
        return KURA_ECONFIG;
    }
    return 0;
}

void kura_audit_recovery(struct kura_audit *a, bool *ret_unclean, uint64_t *ret_cut_bytes)
{
    *ret_unclean = a->unclean;
    *ret_cut_bytes = a->cut_bytes;
}

int kura_audit_open(const struct kura_audit_opts *opts, struct kura_audit **ret,
                    struct kura_buf *reterr_why)
{
    struct kura_audit *a = kura_calloc(1, sizeof(*a));
    if (!a) {
        return -ENOMEM;
    }
    a->dirfd = opts->audit_dirfd;
    a->key = opts->key;
    a->conf = opts->conf;
    a->current_fd = -1;
    a->tail = &a->head;
    kura_buf_init(&a->bundle, KURA_AUDIT_TILE_WIDTH * (KURA_AUDIT_RECORD_MAX + 2));
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    pthread_cond_init(&a->grown, NULL);
    pthread_cond_init(&a->paused, NULL);
    size_t olen = strlen(opts->origin);
    int r = olen < sizeof(a->origin) ? 0 : KURA_ECONFIG;
    if (r == 0) {
        memcpy(a->origin, opts->origin, olen + 1);
        r = audit_recover(a, reterr_why);
    }
    if (r == 0) {
        atomic_store(&a->visible_size, a->size);
        a->published_at = kura_clock_mono_ms();
        a->next_heartbeat = kura_clock_mono_ms(); /* a heartbeat right after start */
        if (a->published_size != a->size) {
            r = audit_publish(a);
        } else {
            write_partials(a); /* not synced when written: a power loss may have lost them */
        }
    }
    if (r == 0 && opts->start_thread) {
        r = -pthread_create(&a->thread, NULL, writer_main, a);
        a->has_thread = r == 0;
        if (r == 0) {
            (void)pthread_setname_np(a->thread, "kura-audit");
        }
    }
    if (r < 0) {
        kura_closep(&a->current_fd);
        kura_buf_release(&a->bundle);
        pthread_cond_destroy(&a->wake);
        pthread_cond_destroy(&a->grown);
        pthread_mutex_destroy(&a->lock);
        kura_free(a);
        return r;
    }
    *ret = a;
    return 0;
}
