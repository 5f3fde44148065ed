/* Unit tests for the store's Crypt4GH keys (keys.c), fsck (fsck.c) and export (export.c), on a
 * temporary data folder: SQLite metadata, the fs blob store and a keys/ directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-internal.h"

struct env {
    char dir[64];
    int datafd, keys_fd;
    struct kura_meta *meta;
    struct kura_blob *blob;
    struct kura_store *s;
    struct kura_space sp;
};

static const struct kura_actor alice = {"alice", KURA_ROLE_USER, false};

static int new_store(struct env *e, struct kura_store **ret)
{
    uint8_t sk[32], pk[32];
    char id[KURA_STORE_KEY_ID_SIZE];
    struct kura_buf why = KURA_BUF_INIT(512);
    int r = kura_c4gh_read_private_key(e->keys_fd, KURA_KEYRING_C4GH_SEC, NULL, sk, &why);
    kura_buf_release(&why);
    r = r == 0 ? kura_c4gh_public_from_secret(sk, pk) : r;
    kura_store_key_id(pk, id);
    const struct kura_store_opts o = {
        .meta = e->meta, .blob = e->blob, .c4gh_sk = sk, .c4gh_pk = pk, .key_id = id};
    r = r == 0 ? kura_store_new(&o, ret) : r;
    r = r == 0 ? kura_store_keys_attach(*ret, e->keys_fd, NULL) : r;
    sodium_memzero(sk, sizeof(sk));
    return r;
}

static int setup(void **state)
{
    struct env *e = kura_calloc(1, sizeof(*e));
    uint8_t sk[32], pk[32];
    char path[128];
    if (!e) {
        return -1;
    }
    (void)snprintf(e->dir, sizeof(e->dir), "/tmp/kura-store-keys-XXXXXX");
    if (!mkdtemp(e->dir) || kura_crypto_init() < 0) {
        return -1;
    }
    e->datafd = open(e->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)snprintf(path, sizeof(path), "%s/keys", e->dir);
    if (mkdir(path, 0700) < 0) {
        return -1;
    }
    e->keys_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)snprintf(path, sizeof(path), "%s/kura.db", e->dir);
    const struct kura_account a = {.id = "alice", .roles = KURA_ROLE_USER};
    if (kura_c4gh_keygen(pk, sk) < 0 ||
        kura_c4gh_write_private_key(e->keys_fd, KURA_KEYRING_C4GH_SEC, sk, NULL) < 0 ||
        kura_c4gh_write_public_key(e->keys_fd, KURA_KEYRING_C4GH_PUB, pk) < 0 ||
        kura_meta_open("sqlite", path, KURA_META_CREATE, &e->meta) < 0 ||
        kura_meta_migrate(e->meta) < 0 || kura_meta_account_create(e->meta, &a) < 0 ||
        kura_blob_fs_open(e->datafd, &e->blob) < 0 || new_store(e, &e->s) < 0 ||
        kura_store_home(e->s, &alice, &e->sp) < 0) {
        return -1;
    }
    *state = e;
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int teardown(void **state)
{
    struct env *e = *state;
    kura_store_free(e->s);
    kura_blob_close(e->blob);
    kura_meta_close(e->meta);
    (void)close(e->keys_fd);
    (void)close(e->datafd);
    int r = nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    kura_free(e);
    return r;
}

static void put(struct env *e, const char *path, const void *data, size_t len)
{
    const struct kura_put_opts o = {.size = (int64_t)len};
    struct kura_upload *u = NULL;
    struct kura_node n;
    bool created = false;
    assert_int_equal(kura_store_put_begin(e->s, &alice, &e->sp, path, &o, 1000, &u, NULL), 0);
    assert_int_equal(kura_store_put_write(u, data, len), 0);
    assert_int_equal(kura_store_put_commit(u, 1000, &n, &created), 0);
}

/* Reads path through store s; returns the download's result (0 or an error). */
static int get(struct env *e, struct kura_store *s, const char *path, const void *want, size_t len)
{
    struct kura_node n;
    struct kura_download *d = NULL;
    assert_int_equal(kura_store_stat(s, &alice, &e->sp, path, &n, NULL), 0);
    int r = kura_store_get_open(s, &alice, &e->sp, &n, 0, n.size, &d, NULL);
    if (r < 0) {
        return r;
    }
    uint8_t *buf = kura_malloc(len + 1);
    size_t got = 0;
    ssize_t k;
    while ((k = kura_store_get_read(d, buf + got, len + 1 - got)) > 0) {
        got += (size_t)k;
    }
    kura_store_get_close(d);
    r = k < 0 ? (int)k : got == len && memcmp(buf, want, len) == 0 ? 0 : KURA_ECORRUPT;
    kura_free(buf);
    return r;
}

static int count_version(void *ctx, const struct kura_version *v)
{
    uint64_t *c = ctx; /* count, last id */
    c[0]++;
    c[1] = v->id;
    return 0;
}

static uint64_t headers_of(struct env *e, const char *key_id)
{
    uint64_t n = 0, c[2] = {0, 0};
    for (;;) {
        c[0] = 0;
        assert_int_equal(kura_meta_versions_by_key(e->meta, key_id, c[1], 100, count_version, c),
                         0);
        n += c[0];
        if (c[0] < 100) {
            return n;
        }
    }
}

static void rotate(struct env *e, uint32_t limit, struct kura_store_rotation *st)
{
    uint8_t sk[32], pk[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    assert_int_equal(kura_store_keys_install(e->s, sk), 0);
    bool finished = false;
    for (int steps = 0; !finished; steps++) {
        assert_true(steps < 100);
        assert_int_equal(kura_store_keys_rotate_step(e->s, limit, st, &finished), 0);
    }
}

static void test_rotation_rewraps_headers_only(void **state)
{
    struct env *e = *state;
    uint8_t data[5][70000];
    char old[KURA_STORE_KEY_ID_SIZE], cur[KURA_STORE_KEY_ID_SIZE], name[16];
    kura_store_key_current(e->s, old, NULL);
    for (int i = 0; i < 5; i++) {
        randombytes_buf(data[i], sizeof(data[i]));
        (void)snprintf(name, sizeof(name), "f%d", i);
        put(e, name, data[i], sizeof(data[i]));
    }
    /* Another process's store, opened before the rotation. */
    struct kura_store *other = NULL;
    assert_int_equal(new_store(e, &other), 0);
    struct kura_store_rotation st = KURA_STORE_ROTATION_INIT;
    rotate(e, 2, &st);
    assert_int_equal(st.rewrapped, 5);
    assert_int_equal(st.failed, 0);
    kura_store_key_current(e->s, cur, NULL);
    assert_string_not_equal(cur, old);
    assert_int_equal(headers_of(e, old), 0);
    assert_int_equal(headers_of(e, cur), 5);
    for (int i = 0; i < 5; i++) {
        (void)snprintf(name, sizeof(name), "f%d", i);
        assert_int_equal(get(e, e->s, name, data[i], sizeof(data[i])), 0);
        /* The other store meets an unknown key id and reloads. */
        assert_int_equal(get(e, other, name, data[i], sizeof(data[i])), 0);
    }
    char seen[KURA_STORE_KEY_ID_SIZE];
    kura_store_key_current(other, seen, NULL);
    assert_string_equal(seen, cur);
    /* Its uploads use the new key now too. */
    put(e, "g", "new", 3);
    assert_int_equal(headers_of(e, cur), 6);
    kura_store_free(other);
    /* A fresh store (a restart) reads everything: the old key is retired, not gone. */
    struct stat sb;
    char file[40];
    (void)snprintf(file, sizeof(file), KURA_STORE_RETIRED_DIR "/%s.sec", old + 5);
    assert_int_equal(fstatat(e->keys_fd, file, &sb, 0), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    struct kura_fsck_report rep;
    const struct kura_fsck_opts fo = {.flag_corrupt = true};
    assert_int_equal(kura_store_fsck(e->s, &fo, &rep), 0);
    assert_int_equal(rep.versions, 6);
    for (int k = 0; k < KURA_FSCK__COUNT; k++) {
        assert_int_equal(rep.problems[k], 0);
    }
}

static void test_damaged_header_and_unknown_key(void **state)
{
    struct env *e = *state;
    char old[KURA_STORE_KEY_ID_SIZE];
    kura_store_key_current(e->s, old, NULL);
    put(e, "a", "alpha", 5);
    put(e, "b", "bravo", 5);
    struct kura_node na, nb;
    assert_int_equal(kura_store_stat(e->s, &alice, &e->sp, "a", &na, NULL), 0);
    assert_int_equal(kura_store_stat(e->s, &alice, &e->sp, "b", &nb, NULL), 0);
    /* a: a header that does not open; b: a key nobody holds. */
    uint8_t junk[KURA_C4GH_HEADER_ONE_BYTES];
    struct kura_version v;
    assert_int_equal(kura_meta_version_get(e->meta, na.version, &v), 0);
    memcpy(junk, v.header, sizeof(junk));
    junk[100] ^= 1;
    assert_int_equal(kura_meta_version_set_header(e->meta, na.version, junk, sizeof(junk), old), 0);
    assert_int_equal(kura_meta_version_get(e->meta, nb.version, &v), 0);
    assert_int_equal(
        kura_meta_version_set_header(e->meta, nb.version, v.header, v.header_len, "c4gh:gone"), 0);
    assert_int_equal(get(e, e->s, "a", "alpha", 5), KURA_ECRYPTO);
    assert_int_equal(get(e, e->s, "b", "bravo", 5), KURA_ECONFIG);
    struct kura_store_rotation st = KURA_STORE_ROTATION_INIT;
    rotate(e, 10, &st);
    assert_int_equal(st.rewrapped, 0);
    assert_int_equal(st.failed, 1);
    assert_int_equal(headers_of(e, old), 1); /* the damaged one stays under its key */
    struct kura_fsck_report rep;
    const struct kura_fsck_opts fo = {.flag_corrupt = true};
    assert_int_equal(kura_store_fsck(e->s, &fo, &rep), 0);
    assert_int_equal(rep.problems[KURA_FSCK_HEADER], 1);
    assert_int_equal(rep.problems[KURA_FSCK_KEY_UNKNOWN], 1);
    assert_int_equal(rep.problems[KURA_FSCK_DATA], 0);
    assert_int_equal(kura_meta_version_get(e->meta, na.version, &v), 0);
    assert_true(v.corrupt_at > 0);
    assert_int_equal(kura_meta_version_get(e->meta, nb.version, &v), 0);
    assert_int_equal(v.corrupt_at, 0); /* a missing key is not damaged data */
    /* prune never destroys a key a header names. */
    assert_int_equal(kura_store_keys_prune(e->s, INT64_MAX, NULL, NULL), 0);
    char file[40];
    struct stat sb;
    (void)snprintf(file, sizeof(file), KURA_STORE_RETIRED_DIR "/%s.sec", old + 5);
    assert_int_equal(fstatat(e->keys_fd, file, &sb, 0), 0);
}

/* A copy, not a link: rename between two links of one inode does nothing. */
static void copy(int dirfd, const char *from, const char *to)
{
    struct kura_buf b = KURA_BUF_INIT_SECRET(65536);
    assert_int_equal(kura_file_read_all(dirfd, from, &b), 0);
    assert_int_equal(kura_file_write_atomic(dirfd, to, b.ptr, b.len, 0600), 0);
    kura_buf_release_wipe(&b);
}

static void test_prune_and_install_pending(void **state)
{
    struct env *e = *state;
    char old[KURA_STORE_KEY_ID_SIZE], file[40];
    kura_store_key_current(e->s, old, NULL);
    put(e, "a", "alpha", 5);
    struct kura_store_rotation st = KURA_STORE_ROTATION_INIT;
    rotate(e, 10, &st);
    (void)snprintf(file, sizeof(file), KURA_STORE_RETIRED_DIR "/%s.sec", old + 5);
    struct stat sb;
    assert_int_equal(fstatat(e->keys_fd, file, &sb, 0), 0);
    int64_t retired = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
    assert_int_equal(kura_store_keys_prune(e->s, retired - 1, NULL, NULL), 0);
    assert_int_equal(fstatat(e->keys_fd, file, &sb, 0), 0);
    assert_int_equal(kura_store_keys_prune(e->s, retired, NULL, NULL), 0);
    assert_int_equal(fstatat(e->keys_fd, file, &sb, 0), -1);
    assert_int_equal(get(e, e->s, "a", "alpha", 5), 0);

    bool done = true;
    assert_int_equal(kura_store_keys_install_pending(e->keys_fd, &done), 0);
    assert_false(done);
    assert_false(kura_store_keys_pending(e->keys_fd));
    copy(e->keys_fd, KURA_KEYRING_C4GH_SEC, KURA_KEYRING_C4GH_SEC ".next");
    assert_true(kura_store_keys_pending(e->keys_fd));
    assert_int_equal(kura_store_keys_install_pending(e->keys_fd, &done), KURA_ECORRUPT);
    copy(e->keys_fd, KURA_KEYRING_C4GH_PUB, KURA_KEYRING_C4GH_PUB ".next");
    assert_int_equal(kura_store_keys_install_pending(e->keys_fd, &done), 0);
    assert_true(done);
    assert_false(kura_store_keys_pending(e->keys_fd));
    assert_int_equal(kura_store_keys_reload(e->s), 0);
}

static void test_export_is_a_standard_file(void **state)
{
    struct env *e = *state;
    uint8_t data[150000];
    randombytes_buf(data, sizeof(data));
    put(e, "x.bin", data, sizeof(data));
    uint8_t sk[32], pk[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/out.c4gh", e->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    struct kura_store_export ex;
    assert_int_equal(kura_store_export(e->s, "alice", "x.bin", pk, fd, &ex), 0);
    assert_int_equal(ex.size, sizeof(data));
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    (void)snprintf(path, sizeof(path), "%s/out.plain", e->dir);
    int pfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_int_equal(kura_c4gh_decrypt_fd(fd, pfd, sk, NULL), 0);
    uint8_t back[sizeof(data) + 1];
    assert_int_equal(pread(pfd, back, sizeof(back), 0), (ssize_t)sizeof(data));
    assert_memory_equal(back, data, sizeof(data));
    assert_int_equal(kura_store_export(e->s, "alice", "", NULL, fd, &ex), -EISDIR);
    assert_int_equal(kura_store_export(e->s, "alice", "nope", NULL, fd, &ex), KURA_ENOTFOUND);
    assert_int_equal(kura_store_export(e->s, "alice", "../x", NULL, fd, &ex), KURA_EBADNAME);
    (void)close(fd);
    (void)close(pfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotation_rewraps_headers_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_header_and_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_and_install_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_is_a_standard_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
