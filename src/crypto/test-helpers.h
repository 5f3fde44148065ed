/* test-helpers.h — small fixtures shared by the crypto unit tests: a private temporary
 * directory and the test vectors in tests/data (found through $KURA_TESTDATA, set by meson).
 * Include after <cmocka.h>.
 */
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto-internal.h"

struct test_dir {
    char path[64];
    int fd;
};

/* A fresh directory, mode 0700 (mkdtemp's). */
static inline void test_dir_new(struct test_dir *d)
{
    *d = (struct test_dir){.fd = -1};
    (void)snprintf(d->path, sizeof(d->path), "/tmp/kura-test-crypto-XXXXXX");
    assert_non_null(mkdtemp(d->path));
    d->fd = open(d->path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    assert_true(d->fd >= 0);
}

/* Removes the directory and the files in it (one level: the tests make no subdirectories). */
static inline void test_dir_free(struct test_dir *d)
{
    if (d->fd < 0) {
        return;
    }
    (void)fchmod(d->fd, 0700);
    int fd = dup(d->fd);
    assert_true(fd >= 0);
    DIR *dir = fdopendir(fd);
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            (void)unlinkat(d->fd, e->d_name, 0);
        }
    }
    closedir(dir);
    (void)close(d->fd);
    d->fd = -1;
    assert_int_equal(rmdir(d->path), 0);
}

/* Number of entries in the directory, "." and ".." not counted. */
static inline int test_dir_count(const struct test_dir *d)
{
    int fd = openat(d->fd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    DIR *dir = fdopendir(fd);
    assert_non_null(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(dir);
    return n;
}

static inline unsigned test_file_mode(int dirfd, const char *name)
{
    struct stat st;
    assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
    return (unsigned)st.st_mode & 07777u;
}

/* Reads dirfd/name whole into a fresh buffer (max 1 MiB); the caller releases it. */
static inline void test_read(int dirfd, const char *name, struct kura_buf *ret)
{
    kura_buf_init(ret, 1u << 20);
    int r = kura_file_read_all(dirfd, name, ret);
    if (r < 0) {
        fail_msg("reading %s: %s", name, kura_strerror(r));
    }
}

/* Reads $KURA_TESTDATA/rel (e.g. "crypt4gh/ega/alice.sec"). */
static inline void test_read_data(const char *rel, struct kura_buf *ret)
{
    const char *root = getenv("KURA_TESTDATA");
    if (!root) {
        fail_msg("KURA_TESTDATA is not set (run the tests through meson test)");
    }
    int fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail_msg("cannot open KURA_TESTDATA '%s'", root);
    }
    test_read(fd, rel, ret);
    (void)close(fd);
}

static inline void test_write(int dirfd, const char *name, const void *data, size_t len,
                              mode_t mode)
{
    assert_int_equal(kura_file_write_atomic(dirfd, name, data, len, mode), 0);
}

static inline void test_hex_decode(const char *hex, uint8_t *out, size_t len)
{
    size_t got = 0;
    assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL), 0);
    assert_int_equal(got, len);
}
