/* Tests of the fs backend beyond the contract: the on-disk layout and modes, symlinks and other
 * things planted in the data folder, housekeeping by file age, and (in -Dfault_injection=true
 * builds) every injected I/O or allocation failure of a put leaving nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "blob/blob-internal.h"
#include "blob/test-pattern.h"
#include "blob/test-util.h"

#define HOUR_MS (3600 * 1000)

static int setup(void **state)
{
    struct tdir *t = kura_calloc(1, sizeof(*t));
    if (!t || tdir_new(t, "fs") < 0) {
        kura_free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tdir_free(*state);
    kura_free(*state);
    return 0;
}

static struct kura_blob *open_store(const struct tdir *t)
{
    struct kura_blob *b = NULL;
    assert_int_equal(kura_blob_fs_open(t->fd, &b), 0);
    assert_non_null(b);
    return b;
}

static void put_bytes(struct kura_blob *b, uint64_t seed, size_t len,
                      char id[static KURA_BLOB_ID_SIZE])
{
    uint8_t *buf = kura_malloc(len);
    assert_non_null(buf);
    pattern_fill(seed, 0, buf, len);
    struct kura_blob_writer *w = NULL;
    assert_int_equal(kura_blob_put_begin(b, &w), 0);
    assert_int_equal(kura_blob_put_write(w, buf, len), 0);
    assert_int_equal(kura_blob_put_commit(w, id), 0);
    kura_free(buf);
}

/* "blobs/ab/cd/<id>" */
static void obj_path(const char *id, char out[static 64])
{
    (void)snprintf(out, 64, "blobs/%.2s/%.2s/%s", id, id + 2, id);
}

/* Entries of a directory under the data folder, "." and ".." excepted; -1 if it cannot be read. */
static int count_entries(const struct tdir *t, const char *dir, char *ret_first, size_t first_max)
{
    int fd = openat(t->fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            if (n == 0 && ret_first) {
                (void)snprintf(ret_first, first_max, "%s", e->d_name);
            }
            n++;
        }
    }
    (void)closedir(d);
    return n;
}

static int64_t file_mtime_ms(const struct tdir *t, const char *path)
{
    struct stat st;
    assert_int_equal(fstatat(t->fd, path, &st, AT_SYMLINK_NOFOLLOW), 0);
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Sets a file's mtime (and atime) to now - age_ms, without following a symlink. */
static void age_file(const struct tdir *t, const char *path, int64_t age_ms)
{
    int64_t at = kura_clock_wall_ms() - age_ms;
    struct timespec ts[2] = {{.tv_sec = at / 1000, .tv_nsec = (at % 1000) * 1000000}};
    ts[1] = ts[0];
    assert_int_equal(utimensat(t->fd, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static unsigned mode_of(const struct tdir *t, const char *path)
{
    struct stat st;
    assert_int_equal(fstatat(t->fd, path, &st, AT_SYMLINK_NOFOLLOW), 0);
    return st.st_mode & 07777;
}

/* ---- open and layout ---------------------------------------------------------------------- */

static void test_open_makes_folders(void **state)
{
    struct tdir *t = *state;
    struct kura_blob *b = open_store(t);
    assert_string_equal(kura_blob_backend(b), "fs");
    assert_int_equal(mode_of(t, "blobs"), 0700);
    assert_int_equal(mode_of(t, "tmp"), 0700);
    b = kura_blob_close(b);
    b = open_store(t); /* existing folders are fine */
    b = kura_blob_close(b);
    assert_null(kura_blob_close(NULL));
}

static void test_open_refuses_symlinks(void **state)
{
    struct tdir *t = *state;
    assert_int_equal(mkdirat(t->fd, "elsewhere", 0700), 0);
    assert_int_equal(symlinkat("elsewhere", t->fd, "blobs"), 0);
    struct kura_blob *b = NULL;
    assert_int_equal(kura_blob_fs_open(t->fd, &b), KURA_ECORRUPT);
    assert_int_equal(unlinkat(t->fd, "blobs", 0), 0);
    int fd = openat(t->fd, "tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    (void)close(fd);
    assert_int_equal(kura_blob_fs_open(t->fd, &b), KURA_ECORRUPT);
    assert_null(b);
    assert_int_equal(count_entries(t, "elsewhere", NULL, 0), 0);
}

static void test_layout_and_modes(void **state)
{
    struct tdir *t = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(t);
    struct kura_blob_writer *w = NULL;
    assert_int_equal(kura_blob_put_begin(b, &w), 0);
    uint8_t buf[5000];
    pattern_fill(5, 0, buf, sizeof(buf));
    assert_int_equal(kura_blob_put_write(w, buf, sizeof(buf)), 0);

    /* In progress: one private file in tmp/, nothing under blobs/. */
    char name[300], path[320];
    assert_int_equal(count_entries(t, "tmp", name, sizeof(name)), 1);
    assert_int_equal(strncmp(name, KURA_BLOB_FS_TMP_PREFIX, 5), 0);
    assert_true(kura_blob_id_valid(name + 5));
    (void)snprintf(path, sizeof(path), "tmp/%s", name);
    assert_int_equal(mode_of(t, path), 0600);
    assert_int_equal(count_entries(t, "blobs", NULL, 0), 0);

    int64_t t0 = kura_clock_wall_ms();
    char id[KURA_BLOB_ID_SIZE];
    assert_int_equal(kura_blob_put_commit(w, id), 0);
    int64_t t1 = kura_clock_wall_ms();
    assert_string_equal(id, name + 5); /* the temporary name carried the id */

    /* Committed: read-only under blobs/ab/cd/, tmp/ empty. */
    assert_int_equal(count_entries(t, "tmp", NULL, 0), 0);
    char op[64];
    obj_path(id, op);
    assert_int_equal(mode_of(t, op), 0400);
    struct stat st;
    assert_int_equal(fstatat(t->fd, op, &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, sizeof(buf));
    (void)snprintf(path, sizeof(path), "blobs/%.2s", id);
    assert_int_equal(mode_of(t, path), 0700);
    (void)snprintf(path, sizeof(path), "blobs/%.2s/%.2s", id, id + 2);
    assert_int_equal(mode_of(t, path), 0700);
    assert_int_equal(count_entries(t, path, NULL, 0), 1);

    /* created_ms is the mtime, stamped from kura's clock at commit. */
    struct kura_blob_stat bs;
    assert_int_equal(kura_blob_stat(b, id, &bs), 0);
    assert_int_equal(bs.created_ms, file_mtime_ms(t, op));
    assert_true(bs.created_ms >= t0 && bs.created_ms <= t1);
}

static void test_reader_survives_remove(void **state)
{
    struct tdir *t = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(t);
    char id[KURA_BLOB_ID_SIZE];
    put_bytes(b, 8, 70000, id);
    _cleanup_(kura_blob_reader_closep) struct kura_blob_reader *r = NULL;
    assert_int_equal(kura_blob_get(b, id, 100, &r), 0);
    assert_int_equal(kura_blob_remove(b, id), 0);
    uint8_t buf[80000];
    size_t n = 0;
    assert_int_equal(kura_blob_read(r, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 70000 - 100);
    assert_true(pattern_check(8, 100, buf, n));
}

static void test_truncated_object_is_corrupt(void **state)
{
    struct tdir *t = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(t);
    char id[KURA_BLOB_ID_SIZE], op[64];
    put_bytes(b, 9, 1000, id);
    obj_path(id, op);
    _cleanup_(kura_blob_reader_closep) struct kura_blob_reader *r = NULL;
    assert_int_equal(kura_blob_get(b, id, 0, &r), 0);
    /* Damage behind the store's back (a disk repair, an operator). */
    assert_int_equal(fchmodat(t->fd, op, 0600, 0), 0);
    int fd = openat(t->fd, op, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 500), 0);
    (void)close(fd);
    uint8_t buf[1000];
    size_t n = 0;
    assert_int_equal(kura_blob_read(r, buf, sizeof(buf), &n), KURA_ECORRUPT);
}

/* ---- things planted in the data folder ---------------------------------------------------- */

/* Makes blobs/ab/cd for id (as a put would) so that something can be planted at its place. */
static void make_leaf(const struct tdir *t, const char *id, char op[static 64])
{
    char path[64];
    (void)snprintf(path, sizeof(path), "blobs/%.2s", id);
    (void)mkdirat(t->fd, path, 0700);
    (void)snprintf(path, sizeof(path), "blobs/%.2s/%.2s", id, id + 2);
    (void)mkdirat(t->fd, path, 0700);
    obj_path(id, op);
}

static int count_ids(void *ctx, const char *id, const struct kura_blob_stat *st)
{
    (void)id;
    (void)st;
    (*(unsigned *)ctx)++;
    return 0;
}

static int never_referenced(void *ctx, const char *id, bool *ret)
{
    (void)ctx;
    (void)id;
    *ret = false;
    return 0;
}

static void test_planted_entries(void **state)
{
    struct tdir *t = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(t);
    int fd = openat(t->fd, "secret", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cr3t", 6), 6);
    (void)close(fd);

    /* A symlink where an object should be: refused, not followed, not reported. */
    const char *sym = "11112222333344445555666677778888";
    char op[64];
    make_leaf(t, sym, op);
    assert_int_equal(symlinkat("../../../secret", t->fd, op), 0);
    struct kura_blob_reader *r = NULL;
    struct kura_blob_stat st;
    assert_int_equal(kura_blob_get(b, sym, 0, &r), KURA_ECORRUPT);
    assert_int_equal(kura_blob_stat(b, sym, &st), KURA_ECORRUPT);
    assert_int_equal(kura_blob_remove(b, sym), KURA_ECORRUPT);

    /* A FIFO (must not block), a directory. */
    const char *fifo = "aaaabbbbccccddddeeeeffff00001111";
    make_leaf(t, fifo, op);
    assert_int_equal(mkfifoat(t->fd, op, 0600), 0);
    assert_int_equal(kura_blob_get(b, fifo, 0, &r), KURA_ECORRUPT);
    const char *dir = "aaaa0000000000000000000000000000";
    make_leaf(t, dir, op);
    assert_int_equal(mkdirat(t->fd, op, 0700), 0);
    assert_int_equal(kura_blob_get(b, dir, 0, &r), KURA_ECORRUPT);
    assert_int_equal(kura_blob_stat(b, dir, &st), KURA_ECORRUPT);

    /* A symlinked ab/ directory leading outside: nothing under it is reachable. */
    assert_int_equal(mkdirat(t->fd, "outside", 0700), 0);
    assert_int_equal(mkdirat(t->fd, "outside/cd", 0700), 0);
    const char *via = "eecd0000000000000000000000000000";
    fd = openat(t->fd, "outside/cd/eecd0000000000000000000000000000",
                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    (void)close(fd);
    assert_int_equal(symlinkat("../outside", t->fd, "blobs/ee"), 0);
    assert_int_equal(kura_blob_get(b, via, 0, &r), KURA_ECORRUPT);
    assert_int_equal(kura_blob_remove(b, via), KURA_ECORRUPT);

    /* Stray names: not ids, or an id in the wrong directory. */
    make_leaf(t, "12340000000000000000000000000000", op);
    const char *strays[] = {"blobs/README", "blobs/12/34/notanid",
                            "blobs/12/34/56780000000000000000000000000000",
                            "blobs/12/34/1234000000000000000000000000000A"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(strays); i++) {
        fd = openat(t->fd, strays[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        (void)close(fd);
    }

    /* One real object among all that. */
    char id[KURA_BLOB_ID_SIZE];
    put_bytes(b, 1, 10, id);
    unsigned n = 0;
    assert_int_equal(kura_blob_list(b, count_ids, &n), 0);
    assert_int_equal(n, 1);
    struct kura_blob_gc gc;
    assert_int_equal(kura_blob_collect(b, never_referenced, NULL, 0, &gc), 0);
    assert_int_equal(gc.examined, 1);
    assert_int_equal(gc.removed, 1);

    /* Everything planted is still there, the secret untouched. */
    struct stat s2;
    obj_path(sym, op);
    assert_int_equal(fstatat(t->fd, op, &s2, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISLNK(s2.st_mode));
    for (size_t i = 0; i < KURA_ARRAY_SIZE(strays); i++) {
        assert_int_equal(fstatat(t->fd, strays[i], &s2, AT_SYMLINK_NOFOLLOW), 0);
    }
    assert_int_equal(fstatat(t->fd, "outside/cd/eecd0000000000000000000000000000", &s2, 0), 0);
    assert_int_equal(fstatat(t->fd, "secret", &s2, 0), 0);
    assert_int_equal(s2.st_size, 6);

    /* Objects open with one openat2 where the kernel allows it, else by a walk of openat
     * calls: the same answers either way. */
    put_bytes(b, 2, 10, id);
    for (int walk = 0; walk < 2; walk++) {
        if (walk) {
            kura_blob_fs_use_walk(b);
        }
        assert_int_equal(kura_blob_get(b, id, 0, &r), 0);
        kura_blob_reader_close(r);
        r = NULL;
        assert_int_equal(kura_blob_get(b, sym, 0, &r), KURA_ECORRUPT);
        assert_int_equal(kura_blob_get(b, fifo, 0, &r), KURA_ECORRUPT);
        assert_int_equal(kura_blob_get(b, dir, 0, &r), KURA_ECORRUPT);
        assert_int_equal(kura_blob_get(b, via, 0, &r), KURA_ECORRUPT);
        assert_int_equal(kura_blob_get(b, "00000000000000000000000000000009", 0, &r),
                         KURA_ENOTFOUND);
    }
}

/* ---- housekeeping by file age ------------------------------------------------------------- */

static void plant_tmp(const struct tdir *t, const char *name, size_t len, unsigned mode,
                      int64_t age_ms)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "tmp/%s", name);
    int fd = openat(t->fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    uint8_t buf[256] = {0};
    assert_true(len <= sizeof(buf));
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    (void)close(fd);
    age_file(t, path, age_ms);
}

static void test_collect_tmp(void **state)
{
    struct tdir *t = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(t);
    /* What crashed uploads leave: before and after the chmod to 0400. */
    plant_tmp(t, "blob-00000000000000000000000000000001", 100, 0600, 2 * HOUR_MS);
    plant_tmp(t, "blob-00000000000000000000000000000002", 50, 0400, 2 * HOUR_MS);
    plant_tmp(t, "blob-00000000000000000000000000000003", 7, 0600, 0);
    /* Not ours: another area's file, a malformed name, a symlink. */
    plant_tmp(t, "other", 10, 0600, 2 * HOUR_MS);
    plant_tmp(t, "blob-0000000000000000000000000000000G", 10, 0600, 2 * HOUR_MS);
    assert_int_equal(symlinkat("../blobs", t->fd, "tmp/blob-00000000000000000000000000000004"), 0);
    /* A live upload whose file looks old: its writer's lock protects it. */
    struct kura_blob_writer *w = NULL;
    assert_int_equal(kura_blob_put_begin(b, &w), 0);
    assert_int_equal(kura_blob_put_write(w, "live", 4), 0);
    char live[128];
    (void)snprintf(live, sizeof(live), "tmp/%s%s", KURA_BLOB_FS_TMP_PREFIX, w->id);
    age_file(t, live, 2 * HOUR_MS);

    struct kura_blob_gc gc;
    assert_int_equal(kura_blob_collect_tmp(b, HOUR_MS, &gc), 0);
    assert_int_equal(gc.examined, 4);
    assert_int_equal(gc.removed, 2);
    assert_int_equal(gc.bytes_freed, 150);
    assert_int_equal(gc.young, 1);
    assert_int_equal(gc.busy, 1);
    assert_int_equal(count_entries(t, "tmp", NULL, 0), 5);

    char id[KURA_BLOB_ID_SIZE];
    assert_int_equal(kura_blob_put_commit(w, id), 0);
    assert_int_equal(kura_blob_collect_tmp(b, 0, &gc), 0);
    assert_int_equal(gc.removed, 1);
    assert_int_equal(gc.bytes_freed, 7);
    assert_int_equal(count_entries(t, "tmp", NULL, 0), 3); /* other, the bad name, the link */
    assert_int_equal(count_entries(t, "blobs", NULL, 0), 1);
}

static void test_collect_by_mtime(void **state)
{
    struct tdir *t = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(t);
    char old[KURA_BLOB_ID_SIZE], young[KURA_BLOB_ID_SIZE], op[64];
    put_bytes(b, 1, 111, old);
    put_bytes(b, 2, 222, young);
    obj_path(old, op);
    age_file(t, op, 2 * HOUR_MS);
    struct kura_blob_stat st;
    assert_int_equal(kura_blob_stat(b, old, &st), 0);
    assert_int_equal(st.created_ms, file_mtime_ms(t, op));
    struct kura_blob_gc gc;
    assert_int_equal(kura_blob_collect(b, never_referenced, NULL, HOUR_MS, &gc), 0);
    assert_int_equal(gc.examined, 2);
    assert_int_equal(gc.young, 1);
    assert_int_equal(gc.removed, 1);
    assert_int_equal(gc.bytes_freed, 111);
    assert_int_equal(kura_blob_stat(b, old, &st), KURA_ENOTFOUND);
    assert_int_equal(kura_blob_stat(b, young, &st), 0);
}

/* ---- injected failures -------------------------------------------------------------------- */

#ifdef KURA_FAULT_INJECTION
static unsigned count_objects(struct kura_blob *b)
{
    unsigned n = 0;
    assert_int_equal(kura_blob_list(b, count_ids, &n), 0);
    return n;
}

/* A put of three chunks with failure n injected; returns its result. */
static int put_with_fault(struct kura_blob *b, unsigned long n, int err,
                          char id[static KURA_BLOB_ID_SIZE])
{
    static uint8_t buf[10000];
    pattern_fill(n, 0, buf, sizeof(buf));
    kura_blob_fs_fail_at(n, err);
    struct kura_blob_writer *w = NULL;
    int r = kura_blob_put_begin(b, &w);
    int first = 0;
    for (int i = 0; r == 0 && i < 3; i++) {
        r = kura_blob_put_write(w, buf, sizeof(buf));
    }
    if (r < 0 && w) {
        first = r;
        /* Sticky: a later write and the commit report the first failure again. */
        assert_int_equal(kura_blob_put_write(w, buf, 1), first);
    }
    if (w) {
        r = kura_blob_put_commit(w, id);
        assert_true(first == 0 || r == first);
    }
    kura_blob_fs_fail_at(0, 0);
    return r;
}

static void test_injected_io_failures(void **state)
{
    struct tdir *t = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(t);
    static const int errs[] = {-ENOSPC, -EIO, -EDQUOT};
    for (size_t e = 0; e < KURA_ARRAY_SIZE(errs); e++) {
        unsigned long n = 1;
        char id[KURA_BLOB_ID_SIZE];
        for (;; n++) {
            int r = put_with_fault(b, n, errs[e], id);
            if (r == 0) {
                break; /* n is past the last operation a put makes */
            }
            assert_int_equal(r, errs[e]);
            assert_int_equal(count_objects(b), e);
            assert_int_equal(count_entries(t, "tmp", NULL, 0), 0);
            assert_true(n < 100);
        }
        /* begin, 3 writes, utimes, chmod, fsync, mkdir, [fsync], mkdir, [fsync], rename, fsync:
         * the bracketed ones are skipped for a directory already known durable. */
        assert_true(n >= 12);
        uint8_t buf[30000];
        _cleanup_(kura_blob_reader_closep) struct kura_blob_reader *r = NULL;
        assert_int_equal(kura_blob_get(b, id, 0, &r), 0);
        size_t got = 0;
        assert_int_equal(kura_blob_read(r, buf, sizeof(buf), &got), 0);
        assert_int_equal(got, sizeof(buf));
        for (size_t i = 0; i < 3; i++) {
            assert_true(pattern_check(n, 0, buf + i * 10000, 10000));
        }
    }
}

static void test_injected_oom(void **state)
{
    struct tdir *t = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(t);
    unsigned long n = 1;
    for (;; n++) {
        kura_alloc_fail_at(n);
        char id[KURA_BLOB_ID_SIZE];
        struct kura_blob_writer *w = NULL;
        int r = kura_blob_put_begin(b, &w);
        if (r == 0) {
            r = kura_blob_put_write(w, "abc", 3); /* no allocation: cannot fail here */
            assert_int_equal(r, 0);
            r = kura_blob_put_commit(w, id);
        }
        struct kura_blob_reader *rd = NULL;
        if (r == 0) {
            r = kura_blob_get(b, id, 1, &rd);
        }
        rd = kura_blob_reader_close(rd);
        kura_alloc_fail_at(0);
        assert_int_equal(count_entries(t, "tmp", NULL, 0), 0);
        if (r == 0) {
            break;
        }
        assert_int_equal(r, -ENOMEM);
        assert_true(n < 50);
    }
    assert_true(n >= 3); /* the writer, the reader */
    struct kura_blob *b2 = NULL;
    kura_alloc_fail_at(1);
    assert_int_equal(kura_blob_fs_open(t->fd, &b2), -ENOMEM);
    kura_alloc_fail_at(0);
    assert_null(b2);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_makes_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout_and_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_survives_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_object_is_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collect_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collect_by_mtime, setup, teardown),
#ifdef KURA_FAULT_INJECTION
        cmocka_unit_test_setup_teardown(test_injected_io_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injected_oom, setup, teardown),
#endif
    };
    return cmocka_run_group_tests_name("blob-fs", tests, NULL, NULL);
}
