/* Unit tests for login-ID rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth/auth.h"

static bool valid_c(const char *s, const struct kura_id_rule *rule)
{
    return kura_auth_id_valid(s, strlen(s), rule);
}

static void test_default_rule(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a", "alice", "a.b-c_d", "0abc", "user42", "9", "a..b", "x-", "x.",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(good); i++) {
        print_message("good: %s\n", good[i]);
        assert_true(valid_c(good[i], NULL));
        assert_true(valid_c(good[i], &kura_id_rule_default));
    }
    static const char *const bad[] = {
        "",     "Alice", "aliCe", "a/b",       "/a",    "..",        ".",     ".a",
        "-a",   "_a",    "a b",   " a",        "a\t",   "a\n",       "a:b",   "a@b",
        "a\\b", "a%2fb", "é",     "a\xc3\xa9", "a\xff", "a\xc0\xaf", "a\x7f", "ａ",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        print_message("bad: %zu\n", i);
        assert_false(valid_c(bad[i], NULL));
    }
    /* Embedded NUL: the length says 3, the C string says 1. */
    assert_false(kura_auth_id_valid("a\0b", 3, NULL));
    assert_true(kura_auth_id_valid("a\0b", 1, NULL));
    assert_false(kura_auth_id_valid(NULL, 0, NULL));
    assert_false(kura_auth_id_valid(NULL, 5, NULL));

    char id[70];
    memset(id, 'a', sizeof(id));
    assert_true(kura_auth_id_valid(id, 64, NULL));
    assert_false(kura_auth_id_valid(id, 65, NULL));
    assert_false(kura_auth_id_valid(id, 0, NULL));
}

static void test_custom_rules(void **state)
{
    (void)state;
    const unsigned alnum = KURA_ID_CLASS_LOWER | KURA_ID_CLASS_UPPER | KURA_ID_CLASS_DIGIT;
    /* Kiyosu: exactly 10 alphanumerics. */
    const struct kura_id_rule kiyosu = {10, 10, alnum, alnum};
    assert_true(valid_c("AB12cd34EF", &kiyosu));
    assert_true(valid_c("0123456789", &kiyosu));
    assert_false(valid_c("AB12cd34E", &kiyosu));
    assert_false(valid_c("AB12cd34EF0", &kiyosu));
    assert_false(valid_c("AB12cd34E.", &kiyosu));
    assert_false(valid_c("AB12cd34E_", &kiyosu));

    /* Digits only, 6..8. */
    const struct kura_id_rule staff = {6, 8, KURA_ID_CLASS_DIGIT, KURA_ID_CLASS_DIGIT};
    assert_true(valid_c("123456", &staff));
    assert_true(valid_c("12345678", &staff));
    assert_false(valid_c("12345", &staff));
    assert_false(valid_c("123456789", &staff));
    assert_false(valid_c("12345a", &staff));

    /* min_len 0 still rejects the empty ID; max_len is capped at KURA_META_ID_MAX. */
    const struct kura_id_rule loose = {0, 100000, KURA_ID_CLASS_LOWER, KURA_ID_CLASS_LOWER};
    assert_false(kura_auth_id_valid("", 0, &loose));
    char big[KURA_META_ID_MAX + 1];
    memset(big, 'z', sizeof(big));
    assert_true(kura_auth_id_valid(big, KURA_META_ID_MAX, &loose));
    assert_false(kura_auth_id_valid(big, KURA_META_ID_MAX + 1, &loose));

    /* No classes at all: nothing is valid. */
    const struct kura_id_rule none = {1, 10, 0, 0};
    assert_false(valid_c("a", &none));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_rule),
        cmocka_unit_test(test_custom_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
