/* Unit tests for SHA-256: FIPS 180-2 vectors, parts equal to one buffer, many threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "crypto/crypto.h"

static void hex(const uint8_t *h, char out[65])
{
    kura_hex_encode(out, h, KURA_SHA256_BYTES);
}

static void test_vectors(void **state)
{
    (void)state;
    uint8_t h[KURA_SHA256_BYTES];
    char s[65];
    assert_int_equal(kura_sha256(h, "", 0), 0);
    hex(h, s);
    assert_string_equal(s, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(kura_sha256(h, "abc", 3), 0);
    hex(h, s);
    assert_string_equal(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *long_msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(kura_sha256(h, long_msg, strlen(long_msg)), 0);
    hex(h, s);
    assert_string_equal(s, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_parts(void **state)
{
    (void)state;
    uint8_t a[KURA_SHA256_BYTES], b[KURA_SHA256_BYTES];
    struct kura_str parts[] = {KURA_STR("\x00"), KURA_STR("ab"), KURA_STR(""), KURA_STR("c")};
    assert_int_equal(kura_sha256_parts(a, parts, 4), 0);
    assert_int_equal(kura_sha256(b,
                                 "\x00"
                                 "abc",
                                 4),
                     0);
    assert_memory_equal(a, b, sizeof(a));
}

static void *hash_many(void *arg)
{
    uint8_t h[KURA_SHA256_BYTES], want[KURA_SHA256_BYTES];
    int ok = kura_sha256(want, "abc", 3) == 0;
    for (int i = 0; i < 10000 && ok; i++) {
        ok = kura_sha256(h, "abc", 3) == 0 && memcmp(h, want, sizeof(h)) == 0;
    }
    kura_sha256_thread_done();
    return ok ? arg : NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    int tag[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, hash_many, &tag[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_ptr_equal(r, &tag[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_threads),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    kura_sha256_thread_done();
    return r;
}
