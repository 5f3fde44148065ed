/* Unit tests for checkpoints as signed notes: round trip, every tampering refused, other keys
 * and origins refused, the verifier-key encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit-internal.h"

static const char *origin = "kura.localhost/audit/3b6cf2ff-5225-45d0-8fd2-5d2f0736cbfd";

static void test_round_trip_and_tampering(void **state)
{
    (void)state;
    struct kura_sign_key *key = NULL, *other = NULL;
    assert_int_equal(kura_sign_key_generate(&key), 0);
    assert_int_equal(kura_sign_key_generate(&other), 0);
    struct kura_audit_checkpoint cp = {.size = 12345};
    memcpy(cp.origin, origin, strlen(origin) + 1);
    memset(cp.root, 0xab, sizeof(cp.root));
    struct kura_buf note = KURA_BUF_INIT(4096);
    assert_int_equal(kura_audit_checkpoint_sign(&cp, key, &note), 0);
    assert_non_null(strstr(note.ptr, "\n12345\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n\n"
                                     "\xe2\x80\x94 kura.localhost/audit/"));
    struct kura_audit_checkpoint got;
    const uint8_t *pk = kura_sign_key_public(key);
    assert_int_equal(kura_audit_checkpoint_open(note.ptr, note.len, pk, origin, &got), 0);
    assert_int_equal(got.size, 12345);
    assert_memory_equal(got.root, cp.root, sizeof(cp.root));
    /* Another key, another origin: refused. */
    assert_int_equal(
        kura_audit_checkpoint_open(note.ptr, note.len, kura_sign_key_public(other), origin, &got),
        KURA_ECRYPTO);
    assert_int_equal(kura_audit_checkpoint_open(note.ptr, note.len, pk, "kura.other/audit/x", &got),
                     KURA_ECRYPTO);
    /* Every single-byte change is refused (or is unparseable). */
    for (size_t i = 0; i < note.len; i++) {
        char *copy = kura_strndup(note.ptr, note.len);
        copy[i] ^= 0x01;
        int r = kura_audit_checkpoint_open(copy, note.len, pk, origin, &got);
        if (r == 0) {
            print_error("byte %zu changed and still accepted\n", i);
            fail();
        }
        kura_free(copy);
    }
    /* Truncations are refused. */
    for (size_t len = 0; len < note.len; len++) {
        assert_int_not_equal(kura_audit_checkpoint_open(note.ptr, len, pk, origin, &got), 0);
    }
    kura_buf_release(&note);
    kura_sign_key_free(key);
    kura_sign_key_free(other);
}

static void test_vkey(void **state)
{
    (void)state;
    uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES] = {0};
    struct kura_buf v = KURA_BUF_INIT(1024);
    assert_int_equal(kura_audit_vkey("example", pk, &v), 0);
    /* SHA-256("example\n\x01" || 32 zero bytes)[:4], then base64(0x01 || pk). */
    uint8_t id[4];
    assert_int_equal(audit_key_id("example", pk, id), 0);
    char want[128];
    (void)snprintf(want, sizeof(want),
                   "example+%02x%02x%02x%02x+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", id[0],
                   id[1], id[2], id[3]);
    assert_string_equal(v.ptr, want);
    kura_buf_release(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_tampering),
        cmocka_unit_test(test_vkey),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    kura_sha256_thread_done();
    return r;
}
