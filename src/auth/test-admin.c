/* Unit tests for creating the first administrator, on a temporary SQLite database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"

static const struct kura_pwhash_params fast = {crypto_pwhash_OPSLIMIT_MIN,
                                               crypto_pwhash_MEMLIMIT_MIN};
static uint8_t pepper[KURA_PEPPER_BYTES];

static char dir[64];
static char db_path[128];

static int setup(void **state)
{
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-auth-admin-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    (void)snprintf(db_path, sizeof(db_path), "%s/kura.db", dir);
    memset(pepper, 0x42, sizeof(pepper));
    struct kura_meta *m = NULL;
    if (kura_meta_open("sqlite", db_path, KURA_META_CREATE, &m) < 0) {
        return -1;
    }
    if (kura_meta_migrate(m) < 0) {
        kura_meta_close(m);
        return -1;
    }
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    *state = kura_meta_close(*state);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char path[160];
    for (size_t i = 0; i < KURA_ARRAY_SIZE(suffixes); i++) {
        (void)snprintf(path, sizeof(path), "%s%s", db_path, suffixes[i]);
        (void)unlink(path);
    }
    return rmdir(dir);
}

/* True when needle occurs in the database file or its WAL. */
static bool db_contains(const char *needle)
{
    static const char *const suffixes[] = {"", "-wal"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(suffixes); i++) {
        char path[160];
        (void)snprintf(path, sizeof(path), "%s%s", db_path, suffixes[i]);
        struct kura_buf b = KURA_BUF_INIT(64 << 20);
        int r = kura_file_read_all(AT_FDCWD, path, &b);
        if (r == -ENOENT) {
            continue;
        }
        assert_int_equal(r, 0);
        bool found = memmem(b.ptr, b.len, needle, strlen(needle)) != NULL;
        kura_buf_release(&b);
        if (found) {
            return true;
        }
    }
    return false;
}

static void test_create_admin(void **state)
{
    struct kura_meta *m = *state;
    char otp[KURA_PASSWORD_GEN_LEN + 1];
    int64_t before = kura_clock_wall_ms();
    assert_int_equal(kura_auth_create_admin(m, "admin", &fast, pepper, otp, sizeof(otp)), 0);
    assert_int_equal(strlen(otp), KURA_PASSWORD_GEN_LEN);
    assert_int_equal(strspn(otp, KURA_PASSWORD_ALPHABET), KURA_PASSWORD_GEN_LEN);

    struct kura_account a = {0};
    assert_int_equal(kura_meta_account_get(m, "admin", &a), 0);
    assert_int_equal(a.roles, KURA_ROLE_ADMIN | KURA_ROLE_USER);
    assert_int_equal(a.status, KURA_ACCOUNT_STATUS_ACTIVE);
    assert_true(a.must_change_password);
    assert_true(a.password_changed_at >= before);
    assert_true(a.created_at >= before);
    assert_int_equal(a.valid_until, 0);
    assert_non_null(a.password_hash);
    assert_null(strstr(a.password_hash, otp));
    assert_true(strncmp(a.password_hash, "$argon2id$", 10) == 0);

    bool rehash = true;
    assert_int_equal(
        kura_password_verify(&fast, pepper, a.password_hash, otp, strlen(otp), &rehash), 0);
    assert_false(rehash);
    assert_int_equal(kura_password_verify(&fast, pepper, a.password_hash, "wrong", 5, NULL),
                     KURA_EUNAUTH);
    kura_account_release(&a);

    /* The one-time password is nowhere in the database files. */
    assert_false(db_contains(otp));
    assert_true(db_contains("$argon2id$")); /* (the check does see the stored hash) */

    /* Each admin gets a different password. */
    char otp2[KURA_PASSWORD_GEN_LEN + 1];
    assert_int_equal(kura_auth_create_admin(m, "admin2", &fast, pepper, otp2, sizeof(otp2)), 0);
    assert_string_not_equal(otp, otp2);
    uint64_t n = 0;
    assert_int_equal(kura_meta_account_count(m, &n), 0);
    assert_int_equal(n, 2);
}

static void test_create_admin_errors(void **state)
{
    struct kura_meta *m = *state;
    char otp[KURA_PASSWORD_GEN_LEN + 1] = "untouched";
    assert_int_equal(kura_auth_create_admin(m, "root", &fast, pepper, otp, sizeof(otp)), 0);
    memcpy(otp, "untouched", 10);
    assert_int_equal(kura_auth_create_admin(m, "root", &fast, pepper, otp, sizeof(otp)),
                     KURA_EEXIST);
    assert_string_equal(otp, "untouched");

    static const char *const bad_ids[] = {"", "Root", "../x", "a/b", ".admin", "admin\n", "ad min"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad_ids); i++) {
        assert_int_equal(kura_auth_create_admin(m, bad_ids[i], &fast, pepper, otp, sizeof(otp)),
                         KURA_ESYNTAX);
    }
    assert_int_equal(kura_auth_create_admin(m, NULL, &fast, pepper, otp, sizeof(otp)),
                     KURA_ESYNTAX);
    assert_int_equal(kura_auth_create_admin(m, "other", &fast, pepper, otp, KURA_PASSWORD_GEN_LEN),
                     -ENOBUFS);
    const struct kura_pwhash_params bad = {0, 0};
    assert_int_equal(kura_auth_create_admin(m, "other", &bad, pepper, otp, sizeof(otp)),
                     KURA_ERANGE);
    assert_string_equal(otp, "untouched");

    uint64_t n = 0;
    assert_int_equal(kura_meta_account_count(m, &n), 0);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_admin_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
