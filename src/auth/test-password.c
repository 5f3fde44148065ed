/* Unit tests for password hashing, verification, dummy verification and generation. Most use
 * libsodium's minimum cost to stay fast; one test runs the default cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"

static const struct kura_pwhash_params fast = {crypto_pwhash_OPSLIMIT_MIN,
                                               crypto_pwhash_MEMLIMIT_MIN};

static uint8_t pepper[KURA_PEPPER_BYTES];
static uint8_t other_pepper[KURA_PEPPER_BYTES];

static int setup_group(void **state)
{
    (void)state;
    for (size_t i = 0; i < KURA_PEPPER_BYTES; i++) {
        pepper[i] = (uint8_t)i;
        other_pepper[i] = (uint8_t)(i + 1);
    }
    return 0;
}

static void hash_c(const struct kura_pwhash_params *p, const char *pw,
                   char out[static KURA_PWHASH_STR_MAX])
{
    assert_int_equal(kura_password_hash(p, pepper, pw, strlen(pw), out), 0);
}

static int verify_c(const char *hash, const char *pw, bool *rehash)
{
    return kura_password_verify(&fast, pepper, hash, pw, strlen(pw), rehash);
}

static void test_round_trip(void **state)
{
    (void)state;
    char h[KURA_PWHASH_STR_MAX];
    hash_c(&fast, "correct horse battery staple", h);
    assert_true(strncmp(h, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
    assert_true(strlen(h) < KURA_PWHASH_STR_MAX);
    bool rehash = true;
    assert_int_equal(verify_c(h, "correct horse battery staple", &rehash), 0);
    assert_false(rehash);
    assert_int_equal(verify_c(h, "correct horse battery staple", NULL), 0);

    /* A fresh salt every time. */
    char h2[KURA_PWHASH_STR_MAX];
    hash_c(&fast, "correct horse battery staple", h2);
    assert_string_not_equal(h, h2);
    assert_int_equal(verify_c(h2, "correct horse battery staple", NULL), 0);

    /* Any bytes, including NUL and non-UTF-8, and the longest allowed password. */
    const char bin[] = {'p', '\0', 'w', '\xff', '\n'};
    assert_int_equal(kura_password_hash(&fast, pepper, bin, sizeof(bin), h), 0);
    assert_int_equal(kura_password_verify(&fast, pepper, h, bin, sizeof(bin), NULL), 0);
    assert_int_equal(kura_password_verify(&fast, pepper, h, bin, 1, NULL), KURA_EUNAUTH);
    char longpw[KURA_PASSWORD_MAX];
    memset(longpw, 'x', sizeof(longpw));
    assert_int_equal(kura_password_hash(&fast, pepper, longpw, sizeof(longpw), h), 0);
    assert_int_equal(kura_password_verify(&fast, pepper, h, longpw, sizeof(longpw), NULL), 0);
}

static void test_wrong_password_and_pepper(void **state)
{
    (void)state;
    char h[KURA_PWHASH_STR_MAX];
    hash_c(&fast, "s3cret-Passw0rd", h);
    bool rehash = true;
    assert_int_equal(verify_c(h, "s3cret-Passw0rD", &rehash), KURA_EUNAUTH);
    assert_true(rehash); /* untouched on failure */
    assert_int_equal(verify_c(h, "s3cret-Passw0r", NULL), KURA_EUNAUTH);
    assert_int_equal(verify_c(h, "s3cret-Passw0rd ", NULL), KURA_EUNAUTH);
    assert_int_equal(kura_password_verify(&fast, other_pepper, h, "s3cret-Passw0rd", 15, NULL),
                     KURA_EUNAUTH);

    /* A plain Argon2id hash of the password (no pepper) does not verify: the database alone is
     * not enough to check guesses. */
    char plain[crypto_pwhash_STRBYTES];
    assert_int_equal(crypto_pwhash_str_alg(plain, "s3cret-Passw0rd", 15, fast.opslimit,
                                           fast.memlimit, crypto_pwhash_ALG_ARGON2ID13),
                     0);
    assert_int_equal(verify_c(plain, "s3cret-Passw0rd", NULL), KURA_EUNAUTH);
}

static void test_needs_rehash(void **state)
{
    (void)state;
    char h[KURA_PWHASH_STR_MAX];
    hash_c(&fast, "pw", h);
    const struct kura_pwhash_params more_ops = {fast.opslimit + 1, fast.memlimit};
    const struct kura_pwhash_params more_mem = {fast.opslimit, fast.memlimit * 2};
    bool rehash = false;
    assert_int_equal(kura_password_verify(&more_ops, pepper, h, "pw", 2, &rehash), 0);
    assert_true(rehash);
    rehash = false;
    assert_int_equal(kura_password_verify(&more_mem, pepper, h, "pw", 2, &rehash), 0);
    assert_true(rehash);
    rehash = true;
    assert_int_equal(kura_password_verify(&fast, pepper, h, "pw", 2, &rehash), 0);
    assert_false(rehash);
    /* Upgrading: the new hash at the new cost no longer needs it. */
    char h2[KURA_PWHASH_STR_MAX];
    hash_c(&more_ops, "pw", h2);
    assert_int_equal(kura_password_verify(&more_ops, pepper, h2, "pw", 2, &rehash), 0);
    assert_false(rehash);
}

static void test_limits(void **state)
{
    (void)state;
    char h[KURA_PWHASH_STR_MAX] = "untouched";
    char longpw[KURA_PASSWORD_MAX + 1];
    memset(longpw, 'x', sizeof(longpw));
    assert_int_equal(kura_password_hash(&fast, pepper, "", 0, h), KURA_ERANGE);
    assert_int_equal(kura_password_hash(&fast, pepper, longpw, sizeof(longpw), h), KURA_ERANGE);
    assert_string_equal(h, "untouched");
    const struct kura_pwhash_params bad[] = {
        {0, fast.memlimit},
        {KURA_PWHASH_OPSLIMIT_MAX + 1, fast.memlimit},
        {fast.opslimit, 1024},
        {fast.opslimit, KURA_PWHASH_MEMLIMIT_MAX + 1024},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_int_equal(kura_password_hash(&bad[i], pepper, "pw", 2, h), KURA_ERANGE);
        assert_int_equal(kura_password_dummy_verify(&bad[i], pepper, "pw", 2), KURA_ERANGE);
    }
    assert_string_equal(h, "untouched");

    hash_c(&fast, "pw", h);
    assert_int_equal(kura_password_verify(&fast, pepper, h, "", 0, NULL), KURA_ERANGE);
    assert_int_equal(kura_password_verify(&fast, pepper, h, longpw, sizeof(longpw), NULL),
                     KURA_ERANGE);
    assert_int_equal(kura_password_dummy_verify(&fast, pepper, longpw, sizeof(longpw)),
                     KURA_ERANGE);
}

static void test_corrupt_hashes(void **state)
{
    (void)state;
    char good[KURA_PWHASH_STR_MAX];
    hash_c(&fast, "pw", good);
    const char *tail = strrchr(good, '$'); /* "$<hash>" */
    const char *salt_tail = good + strlen("$argon2id$v=19$m=8,t=1,p=1$");

    char argon2i[crypto_pwhash_STRBYTES];
    assert_int_equal(
        crypto_pwhash_str_alg(argon2i, "pw", 2, 3, fast.memlimit, crypto_pwhash_ALG_ARGON2I13), 0);
    char huge_m[256], huge_t[256], lanes[256], truncated[256], no_hash[256], bad_b64[256];
    (void)snprintf(huge_m, sizeof(huge_m), "$argon2id$v=19$m=999999999,t=1,p=1$%s", salt_tail);
    (void)snprintf(huge_t, sizeof(huge_t), "$argon2id$v=19$m=8,t=100000,p=1$%s", salt_tail);
    (void)snprintf(lanes, sizeof(lanes), "$argon2id$v=19$m=8,t=1,p=4$%s", salt_tail);
    (void)snprintf(truncated, sizeof(truncated), "%.*s", (int)(tail - good + 3), good);
    (void)snprintf(no_hash, sizeof(no_hash), "%.*s", (int)(tail - good), good);
    (void)snprintf(bad_b64, sizeof(bad_b64), "%.*s$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                   (int)(tail - good), good);
    char unterminated[KURA_PWHASH_STR_MAX];
    memset(unterminated, 'A', sizeof(unterminated));
    memcpy(unterminated, good, strlen(good));

    const char *const cases[] = {
        "",
        "garbage",
        "$argon2id$",
        argon2i,
        huge_m,
        huge_t,
        lanes,
        truncated,
        no_hash,
        bad_b64,
        "$argon2id$v=16$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=-8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=4,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=8,t=0,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        print_message("case %zu: %s\n", i, cases[i]);
        assert_int_equal(verify_c(cases[i], "pw", NULL), KURA_ECORRUPT);
    }
    /* Read beyond the buffer would be a bug: the string has no NUL within 128 bytes. */
    assert_int_equal(kura_password_verify(&fast, pepper, unterminated, "pw", 2, NULL),
                     KURA_ECORRUPT);
    assert_int_equal(verify_c(good, "pw", NULL), 0);
}

static void test_dummy_verify(void **state)
{
    (void)state;
    assert_int_equal(kura_password_dummy_verify(&fast, pepper, "anything", 8), KURA_EUNAUTH);
    assert_int_equal(kura_password_dummy_verify(&fast, other_pepper, "x", 1), KURA_EUNAUTH);
    assert_int_equal(kura_password_dummy_verify(&fast, pepper, "", 0), KURA_ERANGE);

    /* Comparable work: at a cost where Argon2id dominates, the dummy takes about as long as a
     * real verification (best of three each; wide bounds, this is a sanity check only). */
    const struct kura_pwhash_params mid = {2, (size_t)16 << 20};
    char h[KURA_PWHASH_STR_MAX];
    hash_c(&mid, "pw", h);
    int64_t best_real = INT64_MAX, best_dummy = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        int64_t t0 = kura_clock_mono_ms();
        assert_int_equal(kura_password_verify(&mid, pepper, h, "wrong", 5, NULL), KURA_EUNAUTH);
        int64_t t1 = kura_clock_mono_ms();
        assert_int_equal(kura_password_dummy_verify(&mid, pepper, "wrong", 5), KURA_EUNAUTH);
        int64_t t2 = kura_clock_mono_ms();
        best_real = t1 - t0 < best_real ? t1 - t0 : best_real;
        best_dummy = t2 - t1 < best_dummy ? t2 - t1 : best_dummy;
    }
    print_message("verify %lld ms, dummy %lld ms\n", (long long)best_real, (long long)best_dummy);
    assert_true(best_dummy * 2 + 5 >= best_real);
    assert_true(best_real * 2 + 5 >= best_dummy);
}

static void test_default_cost(void **state)
{
    (void)state;
    assert_int_equal(kura_pwhash_params_default.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    assert_int_equal(kura_pwhash_params_default.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    char h[KURA_PWHASH_STR_MAX];
    hash_c(&kura_pwhash_params_default, "at the real cost", h);
    assert_true(strncmp(h, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    bool rehash = true;
    assert_int_equal(kura_password_verify(&kura_pwhash_params_default, pepper, h,
                                          "at the real cost", 16, &rehash),
                     0);
    assert_false(rehash);
    assert_int_equal(
        kura_password_dummy_verify(&kura_pwhash_params_default, pepper, "at the real cost", 16),
        KURA_EUNAUTH);
    /* A default-cost hash checked with the test's cheap parameters wants a rehash. */
    assert_int_equal(kura_password_verify(&fast, pepper, h, "at the real cost", 16, &rehash), 0);
    assert_true(rehash);
}

static void test_generate(void **state)
{
    (void)state;
    static const char alphabet[] = KURA_PASSWORD_ALPHABET;
    assert_int_equal(strlen(alphabet), 57);
    for (const char *p = "0O1lI"; *p; p++) {
        assert_null(strchr(alphabet, *p));
    }

    enum { N = 400 };
    static char pws[N][KURA_PASSWORD_GEN_LEN + 1];
    unsigned counts[256] = {0};
    for (int i = 0; i < N; i++) {
        assert_int_equal(kura_password_generate(pws[i], sizeof(pws[i]), KURA_PASSWORD_GEN_LEN), 0);
        assert_int_equal(strlen(pws[i]), KURA_PASSWORD_GEN_LEN);
        for (size_t j = 0; j < KURA_PASSWORD_GEN_LEN; j++) {
            assert_non_null(strchr(alphabet, pws[i][j]));
            counts[(unsigned char)pws[i][j]]++;
        }
        for (int k = 0; k < i; k++) {
            assert_string_not_equal(pws[i], pws[k]);
        }
    }
    /* 8000 symbols over 57: every symbol shows up, none wildly over-represented (expected 140
     * each; these bounds are > 8 standard deviations away). */
    for (size_t j = 0; j < 57; j++) {
        unsigned c = counts[(unsigned char)alphabet[j]];
        assert_true(c > 40 && c < 260);
    }

    char out[KURA_PASSWORD_MAX + 1];
    assert_int_equal(kura_password_generate(out, sizeof(out), KURA_PASSWORD_GEN_MIN), 0);
    assert_int_equal(strlen(out), KURA_PASSWORD_GEN_MIN);
    assert_int_equal(kura_password_generate(out, sizeof(out), KURA_PASSWORD_MAX), 0);
    assert_int_equal(strlen(out), KURA_PASSWORD_MAX);

    char small[8] = "keep";
    assert_int_equal(kura_password_generate(small, sizeof(small), KURA_PASSWORD_GEN_MIN - 1),
                     KURA_ERANGE);
    assert_int_equal(kura_password_generate(small, sizeof(small), KURA_PASSWORD_GEN_MIN), -ENOBUFS);
    assert_int_equal(kura_password_generate(out, sizeof(out), KURA_PASSWORD_MAX + 1), KURA_ERANGE);
    char exact[KURA_PASSWORD_GEN_LEN + 1];
    assert_int_equal(kura_password_generate(exact, KURA_PASSWORD_GEN_LEN, KURA_PASSWORD_GEN_LEN),
                     -ENOBUFS);
    assert_string_equal(small, "keep");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_wrong_password_and_pepper),
        cmocka_unit_test(test_needs_rehash),   cmocka_unit_test(test_limits),
        cmocka_unit_test(test_corrupt_hashes), cmocka_unit_test(test_dummy_verify),
        cmocka_unit_test(test_default_cost),   cmocka_unit_test(test_generate),
    };
    return cmocka_run_group_tests(tests, setup_group, NULL);
}
