/* Unit tests for the audit writer: group commit from many threads, bundles and tiles across
 * boundaries, reopening, a torn tail, refusing a log that lost or changed records, failing
 * closed and recovering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit-internal.h"

static const char *origin = "kura.localhost/audit/test";
static char dir[64];
static int dirfd_ = -1;
static struct kura_sign_key *key;
static struct kura_conf *conf;

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-test-audit-XXXXXX");
    if (!mkdtemp(dir) || kura_sign_key_generate(&key) < 0 || !(conf = kura_conf_new())) {
        return -1;
    }
    conf->audit.refuse_free_mb = 1;
    conf->audit.warn_free_mb = 0;
    dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return dirfd_ < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    close(dirfd_);
    kura_sign_key_free(key);
    kura_conf_free(conf);
    return system(cmd) == 0 ? 0 : -1;
}

static struct kura_audit *open_log(bool thread)
{
    struct kura_audit_opts o = {dirfd_, key, origin, conf, thread};
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

static int open_fails(struct kura_buf *why)
{
    struct kura_audit_opts o = {dirfd_, key, origin, conf, false};
    struct kura_audit *a = NULL;
    int r = kura_audit_open(&o, &a, why);
    assert_null(a);
    return r;
}

static void emit_n(struct kura_audit *a, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char obj[32];
        (void)snprintf(obj, sizeof(obj), "/obj/%u", i);
        struct kura_audit_event ev = {
            .actor = "cli:test", .action = "test.event", .object = obj, .result = KURA_AUDIT_OK};
        assert_int_equal(kura_audit_emit_sync(a, &ev, NULL), 0);
    }
}

static struct kura_audit_checkpoint read_checkpoint(void)
{
    struct kura_buf note = KURA_BUF_INIT(AUDIT_NOTE_MAX);
    assert_int_equal(kura_file_read_all(dirfd_, "checkpoint", &note), 0);
    struct kura_audit_checkpoint cp;
    assert_int_equal(
        kura_audit_checkpoint_open(note.ptr, note.len, kura_sign_key_public(key), origin, &cp), 0);
    kura_buf_release(&note);
    return cp;
}

static void test_bundles_tiles_reopen(void **state)
{
    (void)state;
    struct kura_audit *a = open_log(false);
    emit_n(a, 600); /* two full bundles and part of a third */
    assert_int_equal(kura_audit_size(a), 600);
    kura_audit_close(a);
    assert_true(tile_exists(dirfd_, TILE_ENTRIES, 0, 0));
    assert_true(tile_exists(dirfd_, TILE_ENTRIES, 1, 0));
    assert_false(tile_exists(dirfd_, TILE_ENTRIES, 2, 0));
    assert_true(tile_exists(dirfd_, 0, 1, 0));
    assert_true(tile_exists(dirfd_, 0, 2, 600 - 512));     /* partial level-0 tile */
    assert_true(tile_exists(dirfd_, TILE_ENTRIES, 2, 88)); /* partial bundle */
    assert_true(tile_exists(dirfd_, 1, 0, 2));             /* partial level-1 tile */
    struct kura_audit_checkpoint cp = read_checkpoint();
    assert_int_equal(cp.size, 600);
    struct stat st;
    assert_int_equal(fstatat(dirfd_, "running", &st, 0), -1); /* clean close */
    /* Reopen: same size and root; the next record continues the chain. */
    a = open_log(false);
    bool unclean;
    uint64_t cut;
    kura_audit_recovery(a, &unclean, &cut);
    assert_false(unclean);
    assert_int_equal(cut, 0);
    assert_int_equal(kura_audit_size(a), 600);
    emit_n(a, 1);
    kura_audit_close(a);
    struct kura_audit_checkpoint cp2 = read_checkpoint();
    assert_int_equal(cp2.size, 601);
}

static void test_torn_tail_is_cut(void **state)
{
    (void)state;
    struct kura_audit *a = open_log(false);
    emit_n(a, 10);
    /* A crash: no clean close (the running marker stays), half a record at the end. */
    int fd = openat(dirfd_, "current", O_WRONLY | O_APPEND);
    assert_true(write(fd, "\x00\x40{\"index\":10,\"ti", 18) == 18);
    close(fd);
    kura_audit_close(a); /* publishes; but the marker must show unclean: recreate it */
    fd = openat(dirfd_, "running", O_WRONLY | O_CREAT, 0600);
    close(fd);
    a = open_log(false);
    bool unclean;
    uint64_t cut;
    kura_audit_recovery(a, &unclean, &cut);
    assert_true(unclean);
    assert_int_equal(cut, 18);
    assert_int_equal(kura_audit_size(a), 10);
    emit_n(a, 1);
    kura_audit_close(a);
    assert_int_equal(read_checkpoint().size, 11);
}

static void test_lost_or_changed_records_refused(void **state)
{
    (void)state;
    struct kura_audit *a = open_log(false);
    emit_n(a, 300);
    kura_audit_close(a);
    /* Change one byte of a record in the finished bundle: the checkpoint's root disagrees. */
    char path[TILE_PATH_MAX];
    tile_path(path, TILE_ENTRIES, 0, 0);
    int fd = openat(dirfd_, path, O_RDWR);
    assert_true(pwrite(fd, "X", 1, 100) == 1);
    close(fd);
    tile_path(path, 0, 0, 0);
    assert_int_equal(unlinkat(dirfd_, path, 0), 0); /* so that the tile is rebuilt from it */
    struct kura_buf why = KURA_BUF_INIT(1024);
    assert_int_equal(open_fails(&why), KURA_ECORRUPT);
    kura_buf_release(&why);
}

static void test_truncation_refused(void **state)
{
    (void)state;
    struct kura_audit *a = open_log(false);
    emit_n(a, 20);
    kura_audit_close(a);
    int fd = openat(dirfd_, "current", O_WRONLY);
    struct stat st;
    fstat(fd, &st);
    assert_int_equal(ftruncate(fd, st.st_size / 2), 0);
    close(fd);
    struct kura_buf why = KURA_BUF_INIT(1024);
    assert_int_equal(open_fails(&why), KURA_ECORRUPT);
    assert_non_null(strstr(why.ptr, "records were removed"));
    kura_buf_release(&why);
}

struct worker {
    struct kura_audit *a;
    unsigned n;
    uint64_t *indices;
};

static void *emit_worker(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < w->n; i++) {
        struct kura_audit_event ev = {.actor = "user:t", .action = "test.concurrent"};
        if (kura_audit_emit_sync(w->a, &ev, &w->indices[i]) != 0) {
            return NULL;
        }
    }
    return arg;
}

static void test_concurrent_group_commit(void **state)
{
    (void)state;
    enum { THREADS = 8, EACH = 300 };
    struct kura_audit *a = open_log(true);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    static uint64_t indices[THREADS][EACH];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){a, EACH, indices[i]};
        assert_int_equal(pthread_create(&t[i], NULL, emit_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_ptr_equal(r, &w[i]);
    }
    /* Every index was given out exactly once (plus the start-up heartbeat somewhere). */
    uint64_t total = kura_audit_size(a);
    assert_true(total >= THREADS * EACH && total <= THREADS * EACH + 2);
    static uint8_t seen[THREADS * EACH + 2];
    for (int i = 0; i < THREADS; i++) {
        for (int k = 0; k < EACH; k++) {
            assert_true(indices[i][k] < total);
            assert_int_equal(seen[indices[i][k]]++, 0);
        }
    }
    kura_audit_close(a);
    assert_int_equal(read_checkpoint().size, total);
}

#ifdef KURA_TEST_HOOKS /* the failure injection and the clock shift exist only there */
static void test_fail_closed_and_recover(void **state)
{
    (void)state;
    struct kura_audit *a = open_log(false);
    emit_n(a, 5);
    kura_audit_inject_failure(a, true);
    struct kura_audit_event ev = {.actor = "user:t", .action = "test.fail"};
    assert_int_equal(kura_audit_emit_sync(a, &ev, NULL), KURA_EAUDIT);
    assert_true(kura_audit_failing(a));
    /* While failing, emits are refused at once, without touching the files. */
    assert_int_equal(kura_audit_emit_sync(a, &ev, NULL), KURA_EAUDIT);
    kura_audit_inject_failure(a, false);
    kura_clock_shift_ms(RETRY_AFTER_FAILURE_MS + 1);
    uint64_t index;
    assert_int_equal(kura_audit_emit_sync(a, &ev, &index), 0);
    assert_int_equal(index, 5); /* nothing of the failed attempts reached the log */
    assert_false(kura_audit_failing(a));
    kura_audit_close(a);
    a = open_log(false);
    assert_int_equal(kura_audit_size(a), 6);
    kura_audit_close(a);
}
#endif

static unsigned iterate(struct kura_audit_iter *it, uint64_t *first, uint64_t *last)
{
    unsigned n = 0;
    struct kura_str rec;
    uint64_t index;
    int r;
    while ((r = kura_audit_iter_next(it, &rec, &index)) == 1) {
        char prefix[32];
        int len = snprintf(prefix, sizeof(prefix), "{\"index\":%llu,", (unsigned long long)index);
        assert_memory_equal(rec.ptr, prefix, (size_t)len);
        if (n == 0) {
            *first = index;
        }
        *last = index;
        n++;
    }
    assert_int_equal(r, 0);
    return n;
}
static void test_iterator_follows_the_writer(void **state)
{
    (void)state;
    struct kura_audit *a = open_log(false);
    emit_n(a, 600);
    struct kura_audit_iter *it = NULL;
    uint64_t first = 0, last = 0;
    assert_int_equal(kura_audit_iter_open(dirfd_, 0, &it), 0);
    assert_int_equal(iterate(it, &first, &last), 600);
    assert_int_equal(first, 0);
    assert_int_equal(last, 599);
    /* It resumes as the log grows, across the next bundle boundary. */
    emit_n(a, 200);
    assert_int_equal(iterate(it, &first, &last), 200);
    assert_int_equal(first, 600);
    assert_int_equal(last, 799);
    kura_audit_iter_free(it);
    /* From the middle of a bundle. */
    assert_int_equal(kura_audit_iter_open(dirfd_, 300, &it), 0);
    assert_int_equal(iterate(it, &first, &last), 500);
    assert_int_equal(first, 300);
    kura_audit_iter_free(it);
    kura_audit_close(a);
    /* A pruned bundle: reported once, then the next bundle follows. */
    char path[TILE_PATH_MAX];
    tile_path(path, TILE_ENTRIES, 1, 0);
    assert_int_equal(unlinkat(dirfd_, path, 0), 0);
    assert_int_equal(kura_audit_iter_open(dirfd_, 250, &it), 0);
    struct kura_str rec;
    uint64_t index;
    for (unsigned i = 250; i < 256; i++) {
        assert_int_equal(kura_audit_iter_next(it, &rec, &index), 1);
        assert_int_equal(index, i);
    }
    assert_int_equal(kura_audit_iter_next(it, &rec, &index), KURA_ENOTFOUND);
    assert_int_equal(kura_audit_iter_next(it, &rec, &index), 1);
    assert_int_equal(index, 512);
    kura_audit_iter_free(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bundles_tiles_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_or_changed_records_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_group_commit, setup, teardown),
#ifdef KURA_TEST_HOOKS
        cmocka_unit_test_setup_teardown(test_fail_closed_and_recover, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_iterator_follows_the_writer, setup, teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    kura_sha256_thread_done();
    return r;
}
