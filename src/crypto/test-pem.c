/* Unit tests for the PEM armour (RFC 7468) under every key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-helpers.h"

static const char *const labels[] = {"TEST KEY", "OTHER KEY"};

static int decode(const char *text, size_t len, size_t *ret_label, struct kura_crypto_blob *ret)
{
    return kura_crypto_pem_decode(text, len, 4096, labels, KURA_ARRAY_SIZE(labels), ret_label, ret,
                                  NULL);
}

static int decode_c(const char *text)
{
    struct kura_crypto_blob b = {0};
    size_t label = 99;
    int r = decode(text, strlen(text), &label, &b);
    kura_crypto_blob_release(&b);
    return r;
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t der[200];
    char text[512];
    for (size_t n = 0; n <= sizeof(der); n++) {
        randombytes_buf(der, n);
        size_t len = 0;
        assert_int_equal(kura_crypto_pem_encode("OTHER KEY", der, n, text, sizeof(text), &len), 0);
        assert_int_equal(len, kura_crypto_pem_encoded_len("OTHER KEY", n));
        assert_int_equal(strlen(text), len);
        assert_true(strncmp(text, "-----BEGIN OTHER KEY-----\n", 26) == 0);
        assert_int_equal(text[len - 1], '\n');
        /* RFC 7468 §2: lines of exactly 64 characters, the last one shorter or equal. */
        const char *p = text + 26;
        for (;;) {
            const char *nl = strchr(p, '\n');
            assert_non_null(nl);
            if (strncmp(p, "-----END", 8) == 0) {
                break;
            }
            assert_true(nl - p <= 64);
            if (nl - p < 64) {
                assert_true(strncmp(nl + 1, "-----END", 8) == 0);
            }
            p = nl + 1;
        }
        struct kura_crypto_blob b = {0};
        size_t label = 99;
        assert_int_equal(decode(text, len, &label, &b), 0);
        assert_int_equal(label, 1);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.ptr, der, n);
        kura_crypto_blob_release(&b);
        assert_null(b.ptr);
    }
}

static void test_encode_too_small(void **state)
{
    (void)state;
    uint8_t der[32] = {0};
    char text[128];
    size_t need = kura_crypto_pem_encoded_len("TEST KEY", sizeof(der));
    size_t len = 0;
    assert_int_equal(kura_crypto_pem_encode("TEST KEY", der, sizeof(der), text, need, &len),
                     KURA_ETOOBIG);
    assert_int_equal(kura_crypto_pem_encode("TEST KEY", der, sizeof(der), text, need + 1, &len), 0);
    assert_int_equal(len, need);
}

static void test_whitespace_tolerated(void **state)
{
    (void)state;
    const char *ok[] = {
        "-----BEGIN TEST KEY-----\nQUJD\n-----END TEST KEY-----\n",
        "-----BEGIN TEST KEY-----\nQUJD\n-----END TEST KEY-----",
        "-----BEGIN TEST KEY-----\r\nQUJD\r\n-----END TEST KEY-----\r\n",
        "\n\n  -----BEGIN TEST KEY-----  \n\tQUJD \t\n-----END TEST KEY-----\t\n\n \n",
        "-----BEGIN TEST KEY-----\nQU\nJD\n\n-----END TEST KEY-----\n",
        "-----BEGIN TEST KEY-----\nQU JD\n-----END TEST KEY-----\n",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(ok); i++) {
        struct kura_crypto_blob b = {0};
        size_t label = 99;
        assert_int_equal(decode(ok[i], strlen(ok[i]), &label, &b), 0);
        assert_int_equal(label, 0);
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.ptr, "ABC", 3);
        kura_crypto_blob_release(&b);
    }
}

static void test_rejects(void **state)
{
    (void)state;
    struct {
        const char *text;
        int err;
    } bad[] = {
        {"", KURA_ESYNTAX},
        {"\n \n", KURA_ESYNTAX},
        {"QUJD\n", KURA_ESYNTAX},
        {"junk\n-----BEGIN TEST KEY-----\nQUJD\n-----END TEST KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQUJD\n-----END TEST KEY-----\njunk\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQUJD\n-----END OTHER KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQUJD\n-----END TEST KEY----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQUJD\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQUJD", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQU*D\n-----END TEST KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQUI\n-----END TEST KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQUJ=\n-----END TEST KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nQUI=QUI=\n-----END TEST KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\nProc-Type: 4,ENCRYPTED\n\nQUJD\n-----END TEST KEY-----\n",
         KURA_ESYNTAX},
        {"-----BEGIN TEST KEY-----\n-----BEGIN TEST KEY-----\nQUJD\n-----END TEST KEY-----\n",
         KURA_ESYNTAX},
        {"-----BEGIN -----\nQUJD\n-----END -----\n", KURA_ESYNTAX},
        {"-----BEGIN----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST KEY\nQUJD\n-----END TEST KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN test key-----\nQUJD\n-----END test key-----\n", KURA_EUNSUPPORTED},
        {"-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n", KURA_EUNSUPPORTED},
        {"\r-----BEGIN TEST KEY-----\rQUJD\r-----END TEST KEY-----\r", KURA_ESYNTAX},
        {"-----BEGIN TEST\x01KEY-----\nQUJD\n-----END TEST\x01KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST  KEY-----\nQUJD\n-----END TEST  KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN TEST-----KEY-----\nQUJD\n-----END TEST-----KEY-----\n", KURA_ESYNTAX},
        {"-----BEGIN  TEST KEY-----\nQUJD\n-----END  TEST KEY-----\n", KURA_ESYNTAX},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        int r = decode_c(bad[i].text);
        if (r != bad[i].err) {
            fail_msg("case %zu: got %d (%s), want %d", i, r, kura_strerror(r), bad[i].err);
        }
    }
}

static void test_nul_and_size(void **state)
{
    (void)state;
    const char good[] = "-----BEGIN TEST KEY-----\nQUJD\n-----END TEST KEY-----\n";
    char text[sizeof(good)];
    memcpy(text, good, sizeof(good));
    struct kura_crypto_blob b = {0};
    size_t label = 0;
    /* A NUL anywhere, even where whitespace would be tolerated. */
    for (size_t i = 0; i < sizeof(good) - 1; i++) {
        text[i] = '\0';
        assert_int_equal(decode(text, sizeof(good) - 1, &label, &b), KURA_ESYNTAX);
        text[i] = good[i];
    }
    /* The trailing NUL of the C string counts too when it is passed. */
    assert_int_equal(decode(good, sizeof(good), &label, &b), KURA_ESYNTAX);

    struct kura_buf why = KURA_BUF_INIT(256);
    assert_int_equal(kura_crypto_pem_decode(good, sizeof(good) - 1, sizeof(good) - 2, labels, 2,
                                            &label, &b, &why),
                     KURA_ETOOBIG);
    assert_non_null(strstr(why.ptr, "larger than"));
    kura_buf_release(&why);
    assert_null(b.ptr);
}

static void test_why_messages(void **state)
{
    (void)state;
    struct kura_buf why = KURA_BUF_INIT(256);
    struct kura_crypto_blob b = {0};
    size_t label = 0;
    const char *t = "-----BEGIN EVIL\\KEY\"-----\nQUJD\n-----END EVIL\\KEY\"-----\n";
    assert_int_equal(kura_crypto_pem_decode(t, strlen(t), 4096, labels, 2, &label, &b, &why),
                     KURA_EUNSUPPORTED);
    /* The user's value is quoted and escaped. */
    assert_string_equal(why.ptr, "unexpected key type 'EVIL\\\\KEY\\\"'");
    kura_buf_reset(&why);
    t = "-----BEGIN TEST KEY-----\nQUJD\n";
    assert_int_equal(kura_crypto_pem_decode(t, strlen(t), 4096, labels, 2, &label, &b, &why),
                     KURA_ESYNTAX);
    assert_string_equal(why.ptr, "no '-----END TEST KEY-----' line: truncated key file");
    kura_buf_release(&why);
}

int main(void)
{
    if (kura_crypto_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),           cmocka_unit_test(test_encode_too_small),
        cmocka_unit_test(test_whitespace_tolerated), cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_nul_and_size),         cmocka_unit_test(test_why_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
