/* audit-bench.c — the measuring half of bench/audit.sh: the audit log's durable appends, bulk
 * fill, verification and search, and the disk's own fdatasync limits measured in the same
 * directory. Each subcommand prints one JSON line of results on stdout; progress and errors go
 * to stderr. Performance is measured here, never asserted: bench/audit.sh prints the ratios.
 *
 *   audit-bench fsync  --dir D [--seconds S]
 *   audit-bench append --dir D [--threads 32] [--seconds S] [--actors 1000]
 *   audit-bench fill   --dir D --records N [--threads T] [--in-flight K] [--actors 1000]
 *   audit-bench verify --dir D
 *   audit-bench search --dir D --db F [--queries Q] [--count-queries C] [--actors 1000]
 *
 * D holds the log in D/audit and its signing key in D/audit.key (public half D/audit.pub),
 * created by the first command that opens the log there; verify and search only read them.
 * Records look like a busy server's http.request records: an actor out of --actors distinct
 * "user:uNNN", a path, a client address, a user agent, a request id and a small detail object.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "meta/meta.h"

#define ORIGIN "kura.bench.invalid/audit/bench"
#define KEY_FILE "audit.key"
#define PUB_FILE "audit.pub"
#define FSYNC_FILE "fsync-test"
#define FSYNC_RECORD 200    /* bytes of one single-record write */
#define FSYNC_BATCH 512     /* records of one batched write */
#define FSYNC_BATCH_REC 250 /* bytes per record in a batch */
#define AUDIT_BUNDLE 256    /* the most records one audit group commit can hold */
#define SEARCH_LIMIT 100

struct opts {
    const char *cmd;
    const char *dir;
    const char *db;
    uint64_t seconds, threads, records, in_flight, actors, queries, count_queries;
};

static int fail(const char *what, int r)
{
    fprintf(stderr, "audit-bench: %s: %s\n", what, kura_strerror(r));
    return 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

static uint64_t mix64(uint64_t x)
{
    /* splitmix64's finaliser: a record's fields are a pure function of its sequence number */
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* Prints obj as one compact JSON line and releases it. */
static int print_json(json_t *obj)
{
    if (!obj) {
        return fail("json", -ENOMEM);
    }
    int r = json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(obj);
    if (r < 0 || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
        return fail("stdout", -EIO);
    }
    return 0;
}

/* ---- options ------------------------------------------------------------------------------- */

static int parse_num(const char *name, const char *v, uint64_t *ret)
{
    int r = kura_parse_u64(v, strlen(v), UINT64_C(1) << 40, ret);
    if (r < 0 || *ret == 0) {
        fprintf(stderr, "audit-bench: %s wants a positive integer, not '%s'\n", name, v);
        return -1;
    }
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    const struct {
        const char *name;
        uint64_t *val;
    } nums[] = {{"--seconds", &o->seconds},
                {"--threads", &o->threads},
                {"--records", &o->records},
                {"--in-flight", &o->in_flight},
                {"--actors", &o->actors},
                {"--queries", &o->queries},
                {"--count-queries", &o->count_queries}};
    for (int i = 2; i < argc; i += 2) {
        const char *name = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool known = false;
        if (!v) {
            fprintf(stderr, "audit-bench: %s wants a value\n", name);
            return -1;
        }
        if (strcmp(name, "--dir") == 0) {
            o->dir = v;
            continue;
        }
        if (strcmp(name, "--db") == 0) {
            o->db = v;
            continue;
        }
        for (size_t k = 0; k < KURA_ARRAY_SIZE(nums); k++) {
            if (strcmp(name, nums[k].name) == 0) {
                known = true;
                if (parse_num(name, v, nums[k].val) < 0) {
                    return -1;
                }
            }
        }
        if (!known) {
            fprintf(stderr, "audit-bench: unknown option '%s'\n", name);
            return -1;
        }
    }
    if (!o->dir) {
        fprintf(stderr, "audit-bench: --dir is required\n");
        return -1;
    }
    return 0;
}

/* ---- the log --------------------------------------------------------------------------------- */

struct bench_log {
    int dirfd;   /* D */
    int auditfd; /* D/audit */
    struct kura_sign_key *key;
    struct kura_conf *conf;
    struct kura_audit *audit;
};

static void log_close(struct bench_log *l)
{
    l->audit = kura_audit_close(l->audit);
    l->key = kura_sign_key_free(l->key);
    l->conf = kura_conf_free(l->conf);
    kura_closep(&l->auditfd);
    kura_closep(&l->dirfd);
}

/* The key the log was created with, or a new one written beside it. */
static int load_key(struct bench_log *l)
{
    int r = kura_sign_key_read(l->dirfd, KEY_FILE, &l->key, NULL);
    if (r != -ENOENT) {
        return r;
    }
    r = kura_sign_key_generate(&l->key);
    if (r == 0) {
        r = kura_sign_key_write(l->key, l->dirfd, KEY_FILE, PUB_FILE);
    }
    return r;
}

static int open_dirs(const char *dir, int *ret_dirfd, int *ret_auditfd)
{
    _cleanup_(kura_closep) int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return -errno;
    }
    if (mkdirat(dfd, "audit", 0700) < 0 && errno != EEXIST) {
        return -errno;
    }
    int afd = openat(dfd, "audit", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (afd < 0) {
        return -errno;
    }
    *ret_auditfd = afd;
    *ret_dirfd = TAKE_FD(dfd);
    return 0;
}

static int log_open(const char *dir, struct bench_log *l)
{
    *l = (struct bench_log){.dirfd = -1, .auditfd = -1};
    int r = open_dirs(dir, &l->dirfd, &l->auditfd);
    if (r < 0) {
        return fail(dir, r);
    }
    r = load_key(l);
    l->conf = r == 0 ? kura_conf_new() : NULL;
    if (r < 0 || !l->conf) {
        log_close(l);
        return fail("audit key", r < 0 ? r : -ENOMEM);
    }
    l->conf->audit.refuse_free_mb = 1; /* the script checks free space itself */
    l->conf->audit.warn_free_mb = 0;
    struct kura_audit_opts o = {l->auditfd, l->key, ORIGIN, l->conf, true};
    struct kura_buf why = KURA_BUF_INIT(1024);
    r = kura_audit_open(&o, &l->audit, &why);
    if (r < 0) {
        fprintf(stderr, "audit-bench: opening the log: %s: %s\n", kura_strerror(r),
                why.ptr ? why.ptr : "");
        kura_buf_release(&why);
        log_close(l);
        return 1;
    }
    kura_buf_release(&why);
    return 0;
}

/* ---- records ------------------------------------------------------------------------------- */

struct event_buf {
    char actor[32], object[96], ip[24], request_id[24], session[24];
    struct kura_audit_event ev;
};

/* Fills b with record number seq (deterministic). Release ev.detail with json_decref. */
static int event_make(struct event_buf *b, uint64_t seq, uint64_t actors)
{
    static const char *const methods[] = {"GET", "PUT", "PROPFIND", "GET", "GET", "HEAD"};
    uint64_t h = mix64(seq), h2 = mix64(h);
    unsigned method = (unsigned)(h2 % KURA_ARRAY_SIZE(methods));
    (void)snprintf(b->actor, sizeof(b->actor), "user:u%03u", (unsigned)(h % actors));
    (void)snprintf(b->object, sizeof(b->object), "/projects/p%02u/run-%04u/sample-%06u.cram",
                   (unsigned)(h2 % 40), (unsigned)((h2 >> 8) % 2000), (unsigned)(h2 >> 40));
    (void)snprintf(b->ip, sizeof(b->ip), "10.%u.%u.%u", (unsigned)(h >> 16) & 255,
                   (unsigned)(h >> 24) & 255, (unsigned)(h >> 32) & 255);
    (void)snprintf(b->request_id, sizeof(b->request_id), "%016llx", (unsigned long long)h2);
    (void)snprintf(b->session, sizeof(b->session), "s-%08x", (unsigned)(h >> 20));
    json_t *detail = json_pack("{s:s,s:i,s:I}", "method", methods[method], "status",
                               method == 1 ? 201 : 200, "ms", (json_int_t)(h2 % 250));
    if (!detail) {
        return -ENOMEM;
    }
    b->ev = (struct kura_audit_event){
        .actor = b->actor,
        .roles = "user",
        .session = b->session,
        .source_ip = b->ip,
        .user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        .request_id = b->request_id,
        .action = "http.request",
        .object = b->object,
        .bytes = h % (64u << 20),
        .result = KURA_AUDIT_OK,
        .detail = detail,
    };
    return 0;
}

/* ---- fsync: the disk's limits ---------------------------------------------------------------- */

static int write_at(int fd, const char *p, size_t len, off_t off)
{
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

/* Appends `len`-byte writes to fd, each followed by fdatasync, for `seconds`: the rate of
 * those syncs. The file grows, as audit/current does. */
static int sync_loop(int fd, const char *buf, size_t len, double seconds, double *ret_per_s)
{
    if (ftruncate(fd, 0) < 0 || fdatasync(fd) < 0) {
        return -errno;
    }
    off_t off = 0;
    uint64_t n = 0;
    double start = now_s(), end = start;
    while (end - start < seconds) {
        int r = write_at(fd, buf, len, off);
        if (r == 0 && fdatasync(fd) < 0) {
            r = -errno;
        }
        if (r < 0) {
            return r;
        }
        off += (off_t)len;
        n++;
        end = now_s();
    }
    *ret_per_s = (double)n / (end - start);
    return 0;
}

static int cmd_fsync(const struct opts *o)
{
    char *buf = kura_malloc(FSYNC_BATCH * FSYNC_BATCH_REC);
    _cleanup_(kura_closep) int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    _cleanup_(kura_closep) int fd =
        dfd < 0 ? -1 : openat(dfd, FSYNC_FILE, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int r = !buf ? -ENOMEM : fd < 0 ? -errno : 0;
    for (size_t i = 0; buf && i < FSYNC_BATCH * FSYNC_BATCH_REC; i++) {
        buf[i] = (i % FSYNC_BATCH_REC) == FSYNC_BATCH_REC - 1 ? '\n' : 'a' + (char)(i % 26);
    }
    double phase = (double)o->seconds / 3, single = 0, batch = 0, bundle = 0;
    if (r == 0) {
        r = sync_loop(fd, buf, FSYNC_RECORD, phase, &single);
    }
    if (r == 0) {
        r = sync_loop(fd, buf, FSYNC_BATCH * FSYNC_BATCH_REC, phase, &batch);
    }
    if (r == 0) {
        r = sync_loop(fd, buf, AUDIT_BUNDLE * FSYNC_BATCH_REC, phase, &bundle);
    }
    kura_free(buf);
    if (fd >= 0) {
        (void)unlinkat(dfd, FSYNC_FILE, 0);
    }
    if (r < 0) {
        return fail("fsync test", r);
    }
    return print_json(json_pack("{s:s,s:f,s:f,s:i,s:i,s:f,s:f,s:i,s:f}", "cmd", "fsync", "seconds",
                                (double)o->seconds, "single_fsync_s", single, "batch_records",
                                FSYNC_BATCH, "record_bytes", FSYNC_BATCH_REC, "batch_fsync_s",
                                batch, "batch_records_s", batch * FSYNC_BATCH, "bundle_records",
                                AUDIT_BUNDLE, "bundle_records_s", bundle * AUDIT_BUNDLE));
}

/* ---- append: concurrent durable appends ------------------------------------------------------ */

struct lat_buf {
    uint32_t *us;
    size_t n, cap;
};

static int lat_add(struct lat_buf *l, double seconds)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4096;
        uint32_t *p = kura_reallocarray(l->us, cap, sizeof(*p));
        if (!p) {
            return -ENOMEM;
        }
        l->us = p;
        l->cap = cap;
    }
    double us = seconds * 1e6;
    l->us[l->n++] = us > 4e9 ? UINT32_MAX : (uint32_t)us;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of n sorted values. */
static size_t rank(size_t n, double p)
{
    size_t k = (size_t)(p * (double)n + 0.999999);
    return k == 0 ? 0 : k > n ? n - 1 : k - 1;
}

/* ---- threads that start together ---------------------------------------------------------- */

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    _Atomic bool stop;
};

#define GATE_INIT                                                                                  \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false                          \
    }

static void gate_wait(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->open) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g, bool stop)
{
    atomic_store(&g->stop, stop);
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void sleep_s(double seconds)
{
    double end = now_s() + seconds;
    for (double left = seconds; left > 0; left = end - now_s()) {
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        (void)nanosleep(&ts, NULL);
    }
}

/* Creates n threads running fn(items + i * size); returns how many were created. */
static size_t start_threads(void *items, size_t n, size_t size, void *(*fn)(void *))
{
    size_t i = 0;
    for (; i < n; i++) {
        void *item = (char *)items + i * size;
        pthread_t t; /* the thread never reads its own id field: store it afterwards */
        if (pthread_create(&t, NULL, fn, item) != 0) {
            break;
        }
        memcpy(item, &t, sizeof(t));
    }
    return i;
}

static void join_threads(void *items, size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        pthread_t t;
        memcpy(&t, (char *)items + i * size, sizeof(t));
        pthread_join(t, NULL);
    }
}

/* ---- append: concurrent durable appends ------------------------------------------------------ */

struct appender {
    pthread_t thread; /* first: start_threads creates it in place */
    struct kura_audit *audit;
    struct gate *gate;
    uint64_t id, actors, done;
    int err;
    struct lat_buf lat;
};

static void *append_main(void *arg)
{
    struct appender *ap = arg;
    gate_wait(ap->gate);
    for (uint64_t seq = ap->id << 40; ap->err == 0 && !atomic_load(&ap->gate->stop); seq++) {
        struct event_buf b;
        int r = event_make(&b, seq, ap->actors);
        double t0 = now_s();
        if (r == 0) {
            r = kura_audit_emit_sync(ap->audit, &b.ev, NULL);
            json_decref(b.ev.detail);
        }
        if (r == 0) {
            r = lat_add(&ap->lat, now_s() - t0);
        }
        ap->done += r == 0;
        ap->err = r;
    }
    return NULL;
}

/* All latencies of all appenders, sorted; NULL on OOM. */
static uint32_t *merge_latencies(const struct appender *aps, size_t n, size_t *ret_count)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += aps[i].lat.n;
    }
    uint32_t *all = kura_calloc(total ? total : 1, sizeof(*all));
    if (!all) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (aps[i].lat.n) {
            memcpy(all + k, aps[i].lat.us, aps[i].lat.n * sizeof(*all));
        }
        k += aps[i].lat.n;
    }
    qsort(all, k, sizeof(*all), cmp_u32);
    *ret_count = k;
    return all;
}

static int append_report(const struct appender *aps, size_t n, double secs, uint64_t grown)
{
    uint64_t done = 0;
    int err = 0;
    for (size_t i = 0; i < n; i++) {
        done += aps[i].done;
        err = err ? err : aps[i].err;
    }
    size_t k = 0;
    uint32_t *all = merge_latencies(aps, n, &k);
    if (!all) {
        return fail("latencies", -ENOMEM);
    }
    json_t *out = json_pack(
        "{s:s,s:I,s:f,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:s}", "cmd", "append", "threads", (json_int_t)n,
        "seconds", secs, "records", (json_int_t)done, "records_s", (double)done / secs, "p50_us",
        (json_int_t)(k ? all[rank(k, 0.5)] : 0), "p99_us", (json_int_t)(k ? all[rank(k, 0.99)] : 0),
        "max_us", (json_int_t)(k ? all[k - 1] : 0), "log_grew", (json_int_t)grown, "errors",
        (json_int_t)(err != 0), "error", err ? kura_strerror(err) : "");
    kura_free(all);
    return print_json(out) != 0 || err != 0;
}

static int run_appenders(struct kura_audit *a, const struct opts *o, struct appender *aps, size_t n)
{
    struct gate g = GATE_INIT;
    for (size_t i = 0; i < n; i++) {
        aps[i] = (struct appender){.audit = a, .gate = &g, .id = i, .actors = o->actors};
    }
    size_t started = start_threads(aps, n, sizeof(*aps), append_main);
    if (started < n) {
        gate_open(&g, true);
        join_threads(aps, started, sizeof(*aps));
        fprintf(stderr, "audit-bench: could start only %zu of %zu threads\n", started, n);
        return 1;
    }
    uint64_t size0 = kura_audit_size(a);
    double t0 = now_s();
    gate_open(&g, false);
    sleep_s((double)o->seconds);
    atomic_store(&g.stop, true);
    join_threads(aps, n, sizeof(*aps));
    double secs = now_s() - t0;
    return append_report(aps, n, secs, kura_audit_size(a) - size0);
}

static int cmd_append(const struct opts *o)
{
    size_t n = (size_t)(o->threads ? o->threads : 32);
    struct appender *aps = kura_calloc(n, sizeof(*aps));
    if (!aps) {
        return fail("threads", -ENOMEM);
    }
    struct bench_log l;
    int rc = log_open(o->dir, &l);
    if (rc == 0) {
        rc = run_appenders(l.audit, o, aps, n);
        log_close(&l);
    }
    for (size_t i = 0; i < n; i++) {
        kura_free(aps[i].lat.us);
    }
    kura_free(aps);
    return rc;
}

/* ---- fill: as many records as fast as the log takes them --------------------------------------
 */

struct fill {
    struct kura_audit *audit;
    uint64_t total, actors, max_in_flight;
    _Atomic uint64_t next; /* sequence number of the next record to emit */
    pthread_mutex_t lock;
    pthread_cond_t room;    /* in_flight fell well below the bound, or an emit failed */
    pthread_cond_t drained; /* in_flight reached 0, or an emitter finished */
    uint64_t in_flight, acked, failed;
    unsigned waiters, running;
    int err; /* first emit or write error */
};

struct filler {
    pthread_t thread; /* first: start_threads creates it in place */
    struct fill *f;
};

/* Runs on the writer thread: must be quick. */
static void fill_done(void *arg, int result, uint64_t index)
{
    struct fill *f = arg;
    (void)index;
    pthread_mutex_lock(&f->lock);
    f->in_flight--;
    f->acked++;
    if (result != 0) {
        f->failed++;
        f->err = f->err ? f->err : result;
    }
    if (f->waiters && (f->in_flight <= f->max_in_flight / 2 || f->err)) {
        pthread_cond_broadcast(&f->room);
    }
    if (f->in_flight == 0) {
        pthread_cond_broadcast(&f->drained);
    }
    pthread_mutex_unlock(&f->lock);
}

/* Waits for room for one more record in flight; false when the fill is failing. */
static bool reserve(struct fill *f)
{
    pthread_mutex_lock(&f->lock);
    while (f->in_flight >= f->max_in_flight && !f->err) {
        f->waiters++;
        pthread_cond_wait(&f->room, &f->lock);
        f->waiters--;
    }
    bool ok = !f->err;
    f->in_flight += ok;
    pthread_mutex_unlock(&f->lock);
    return ok;
}

static void unreserve(struct fill *f, int err)
{
    pthread_mutex_lock(&f->lock);
    f->in_flight--;
    f->err = f->err ? f->err : err;
    pthread_cond_broadcast(&f->room);
    pthread_cond_broadcast(&f->drained);
    pthread_mutex_unlock(&f->lock);
}

static void *fill_main(void *arg)
{
    struct fill *f = ((struct filler *)arg)->f;
    for (;;) {
        uint64_t seq = atomic_fetch_add(&f->next, 1);
        struct event_buf b;
        if (seq >= f->total || !reserve(f)) {
            break;
        }
        int r = event_make(&b, seq, f->actors);
        if (r == 0) {
            r = kura_audit_emit(f->audit, &b.ev, fill_done, f);
            json_decref(b.ev.detail);
        }
        if (r < 0) {
            unreserve(f, r);
            break;
        }
    }
    pthread_mutex_lock(&f->lock);
    f->running--;
    pthread_cond_broadcast(&f->drained);
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* Waits until every emitter finished and every record was acknowledged, with progress. */
static void fill_wait(struct fill *f, double t0)
{
    double last = t0;
    pthread_mutex_lock(&f->lock);
    while (f->running > 0 || f->in_flight > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        (void)pthread_cond_timedwait(&f->drained, &f->lock, &until);
        double now = now_s();
        if (now - last >= 10) {
            fprintf(stderr, "audit-bench: fill: %llu of %llu records, %.0f/s\n",
                    (unsigned long long)f->acked, (unsigned long long)f->total,
                    (double)f->acked / (now - t0));
            last = now;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

static int fill_report(const struct fill *f, size_t threads, double secs, double close_s,
                       double cpu, uint64_t size)
{
    uint64_t ok = f->acked - f->failed;
    json_t *out =
        json_pack("{s:s,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:I,s:I,s:s}", "cmd", "fill", "threads",
                  (json_int_t)threads, "in_flight", (json_int_t)f->max_in_flight, "records",
                  (json_int_t)ok, "seconds", secs, "records_s", (double)ok / secs, "cpu_s", cpu,
                  "close_s", close_s, "log_size", (json_int_t)size, "failed", (json_int_t)f->failed,
                  "error", f->err ? kura_strerror(f->err) : "");
    return print_json(out) != 0 || f->err != 0;
}

static int run_fill(struct bench_log *l, struct fill *f, struct filler *fs, size_t n)
{
    f->running = (unsigned)n;
    struct rusage ru0, ru1;
    (void)getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    size_t started = start_threads(fs, n, sizeof(*fs), fill_main);
    if (started < n) {
        pthread_mutex_lock(&f->lock);
        f->running -= (unsigned)(n - started);
        f->err = f->err ? f->err : -EAGAIN;
        pthread_mutex_unlock(&f->lock);
    }
    fill_wait(f, t0);
    join_threads(fs, started, sizeof(*fs));
    double secs = now_s() - t0;
    uint64_t size = kura_audit_size(l->audit);
    double t1 = now_s();
    l->audit = kura_audit_close(l->audit); /* the final checkpoint */
    double close_s = now_s() - t1;
    (void)getrusage(RUSAGE_SELF, &ru1);
    return fill_report(f, n, secs, close_s, cpu_s(&ru1) - cpu_s(&ru0), size);
}

static int cmd_fill(const struct opts *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = (size_t)(o->threads ? o->threads : cpus > 0 ? (uint64_t)cpus : 2);
    struct fill f = {.total = o->records,
                     .actors = o->actors,
                     .max_in_flight = o->in_flight,
                     .lock = PTHREAD_MUTEX_INITIALIZER,
                     .room = PTHREAD_COND_INITIALIZER,
                     .drained = PTHREAD_COND_INITIALIZER};
    struct filler *fs = kura_calloc(n, sizeof(*fs));
    if (!fs) {
        return fail("threads", -ENOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        fs[i].f = &f;
    }
    struct bench_log l;
    int rc = log_open(o->dir, &l);
    if (rc == 0) {
        f.audit = l.audit;
        rc = run_fill(&l, &f, fs, n);
        log_close(&l);
    }
    kura_free(fs);
    return rc;
}

/* ---- verify ------------------------------------------------------------------------------------
 */

static int open_existing(const char *dir, int *ret_dirfd, int *ret_auditfd)
{
    _cleanup_(kura_closep) int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return -errno;
    }
    int afd = openat(dfd, "audit", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (afd < 0) {
        return -errno;
    }
    *ret_auditfd = afd;
    *ret_dirfd = TAKE_FD(dfd);
    return 0;
}

static void verify_progress(void *ctx, uint64_t done, uint64_t total)
{
    double *last = ctx, now = now_s();
    if (now - *last >= 10) {
        fprintf(stderr, "audit-bench: verify: %llu of about %llu records\n",
                (unsigned long long)done, (unsigned long long)total);
        *last = now;
    }
}

static int verify_report(const struct kura_audit_verify_report *rep, double secs,
                         const struct rusage *ru0, const struct rusage *ru1)
{
    double cpu = cpu_s(ru1) - cpu_s(ru0);
    double user = (double)(ru1->ru_utime.tv_sec - ru0->ru_utime.tv_sec) +
                  (double)(ru1->ru_utime.tv_usec - ru0->ru_utime.tv_usec) / 1e6;
    json_t *out = json_pack("{s:s,s:b,s:I,s:I,s:I,s:s,s:f,s:f,s:f,s:f,s:f,s:I}", "cmd", "verify",
                            "ok", rep->ok, "records", (json_int_t)rep->size, "checkpoint",
                            (json_int_t)rep->checkpoint, "checkpoints",
                            (json_int_t)rep->checkpoints, "reason", rep->reason, "seconds", secs,
                            "cpu_s", cpu, "user_s", user, "records_s", (double)rep->size / secs,
                            "records_per_cpu_s", cpu > 0 ? (double)rep->size / cpu : 0.0,
                            "read_blocks", (json_int_t)(ru1->ru_inblock - ru0->ru_inblock));
    return print_json(out) != 0 || !rep->ok;
}

static int cmd_verify(const struct opts *o)
{
    _cleanup_(kura_closep) int dfd = -1;
    _cleanup_(kura_closep) int afd = -1;
    uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES];
    int r = open_existing(o->dir, &dfd, &afd);
    if (r == 0) {
        r = kura_sign_public_key_read(dfd, PUB_FILE, pk, NULL);
    }
    if (r < 0) {
        return fail(o->dir, r);
    }
    double last = now_s();
    struct kura_audit_verify_opts vo = {.pk = pk,
                                        .origin = ORIGIN,
                                        .heartbeat_interval_ms = 300 * 1000,
                                        .progress = verify_progress,
                                        .progress_ctx = &last};
    struct kura_audit_verify_report rep;
    struct rusage ru0, ru1;
    (void)getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    r = kura_audit_verify(afd, &vo, &rep);
    double secs = now_s() - t0;
    (void)getrusage(RUSAGE_SELF, &ru1);
    if (r < 0) {
        return fail("verify", r);
    }
    return verify_report(&rep, secs, &ru0, &ru1);
}

/* ---- search ------------------------------------------------------------------------------------
 */

static int count_row(void *ctx, const struct kura_audit_row *row)
{
    (void)row;
    (*(uint64_t *)ctx)++;
    return 0;
}

struct query_stats {
    double *ms; /* sorted latencies */
    uint64_t n, rows;
};

/* n searches by a random actor (limit 0: all its records). */
static int run_queries(struct kura_meta *m, const struct opts *o, uint64_t n, uint64_t limit,
                       uint64_t *rng, struct query_stats *ret)
{
    ret->ms = kura_calloc((size_t)n, sizeof(*ret->ms));
    if (!ret->ms) {
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        char actor[32];
        *rng = mix64(*rng);
        (void)snprintf(actor, sizeof(actor), "user:u%03u", (unsigned)(*rng % o->actors));
        struct kura_audit_query q = {.actor = actor, .after_idx = UINT64_MAX, .limit = limit};
        double t0 = now_s();
        int r = kura_meta_audit_index_search(m, &q, count_row, &ret->rows);
        ret->ms[i] = (now_s() - t0) * 1e3;
        if (r < 0) {
            return r;
        }
    }
    ret->n = n;
    qsort(ret->ms, (size_t)n, sizeof(*ret->ms), cmp_double);
    return 0;
}

static int migrate_and_index(int afd, struct kura_meta *m, uint64_t *ret_added, double *ret_secs,
                             double *ret_cpu)
{
    int r = kura_meta_migrate(m);
    if (r < 0) {
        return r;
    }
    struct rusage ru0, ru1;
    (void)getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    r = kura_audit_index_catch_up(afd, m, ret_added);
    *ret_secs = now_s() - t0;
    (void)getrusage(RUSAGE_SELF, &ru1);
    *ret_cpu = cpu_s(&ru1) - cpu_s(&ru0);
    return r;
}

static json_t *search_json(const struct query_stats *qs, const struct query_stats *cs)
{
    double n = (double)(qs->n ? qs->n : 1), cn = (double)(cs->n ? cs->n : 1);
    return json_pack("{s:I,s:I,s:f,s:f,s:f,s:f,s:I,s:f,s:f,s:f}", "queries", (json_int_t)qs->n,
                     "limit", (json_int_t)SEARCH_LIMIT, "p50_ms", qs->ms[rank(qs->n, 0.5)],
                     "p99_ms", qs->ms[rank(qs->n, 0.99)], "max_ms", qs->ms[qs->n - 1], "rows_mean",
                     (double)qs->rows / n, "count_queries", (json_int_t)cs->n, "count_p50_ms",
                     cs->ms[rank(cs->n, 0.5)], "count_max_ms", cs->ms[cs->n - 1], "count_rows_mean",
                     (double)cs->rows / cn);
}

static int search_report(const struct opts *o, uint64_t added, double secs, double cpu,
                         const struct query_stats *qs, const struct query_stats *cs)
{
    struct stat st;
    uint64_t db_bytes = stat(o->db, &st) == 0 ? (uint64_t)st.st_size : 0;
    json_t *out =
        json_pack("{s:s,s:I,s:f,s:f,s:f,s:I}", "cmd", "search", "index_records", (json_int_t)added,
                  "index_seconds", secs, "index_records_s", secs > 0 ? (double)added / secs : 0.0,
                  "index_cpu_s", cpu, "db_bytes", (json_int_t)db_bytes);
    json_t *q = search_json(qs, cs);
    if (out && q && json_object_update(out, q) < 0) {
        json_decref(out);
        out = NULL;
    }
    json_decref(q);
    return print_json(out);
}

static int cmd_search(const struct opts *o)
{
    if (!o->db) {
        fprintf(stderr, "audit-bench: search needs --db\n");
        return 1;
    }
    _cleanup_(kura_closep) int dfd = -1;
    _cleanup_(kura_closep) int afd = -1;
    _cleanup_(kura_meta_closep) struct kura_meta *m = NULL;
    struct query_stats qs = {0}, cs = {0};
    uint64_t added = 0, rng = 0x5eed;
    double secs = 0, cpu = 0;
    int r = open_existing(o->dir, &dfd, &afd);
    if (r == 0) {
        r = kura_meta_open("sqlite", o->db, KURA_META_CREATE, &m);
    }
    if (r == 0) {
        r = migrate_and_index(afd, m, &added, &secs, &cpu);
    }
    if (r == 0) {
        r = run_queries(m, o, o->queries, SEARCH_LIMIT, &rng, &qs);
    }
    if (r == 0) {
        r = run_queries(m, o, o->count_queries, 0, &rng, &cs);
    }
    int rc = r < 0 ? fail("search", r) : search_report(o, added, secs, cpu, &qs, &cs);
    kura_free(qs.ms);
    kura_free(cs.ms);
    return rc;
}

/* ---- main -------------------------------------------------------------------------------------
 */

static int usage(void)
{
    fprintf(stderr, "usage: audit-bench fsync|append|fill|verify|search --dir D [options]\n"
                    "  (see the comment at the top of bench/audit-bench.c)\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const struct opts *o);
    } cmds[] = {{"fsync", cmd_fsync},
                {"append", cmd_append},
                {"fill", cmd_fill},
                {"verify", cmd_verify},
                {"search", cmd_search}};
    struct opts o = {.seconds = 10,
                     .records = 1000000,
                     .in_flight = 8192,
                     .actors = 1000,
                     .queries = 200,
                     .count_queries = 5};
    if (argc < 2 || parse_opts(argc, argv, &o) < 0) {
        return usage();
    }
    o.cmd = argv[1];
    int r = kura_crypto_init();
    if (r < 0) {
        return fail("crypto", r);
    }
    int rc = -1;
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cmds); i++) {
        if (strcmp(o.cmd, cmds[i].name) == 0) {
            rc = cmds[i].fn(&o);
        }
    }
    kura_sha256_thread_done();
    return rc < 0 ? usage() : rc;
}
