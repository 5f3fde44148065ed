/* Unit tests for the error table: every code has a unique name, a status and both languages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"

static void test_every_code_complete(void **state)
{
    (void)state;
    for (int r = KURA_EBADREQ; r > KURA_E_LAST; r--) {
        const char *name = kura_err_name(r);
        if (r != KURA_EINTERNAL) {
            assert_string_not_equal(name, "internal_error");
        }
        unsigned st = kura_err_http_status(r);
        assert_true(st >= 400 && st <= 599);
        const char *en = kura_strerror_lang(r, KURA_LANG_EN);
        const char *ja = kura_strerror_lang(r, KURA_LANG_JA);
        assert_string_not_equal(en, ja);
        assert_true(kura_utf8_valid(ja, strlen(ja)));
        /* docs/style.md item 32: lower-case first letter, no final period. */
        assert_false(en[0] >= 'A' && en[0] <= 'Z' && en[1] >= 'a' && en[1] <= 'z');
        assert_int_not_equal(en[strlen(en) - 1], '.');
        for (int q = r - 1; q > KURA_E_LAST; q--) {
            assert_string_not_equal(name, kura_err_name(q));
        }
    }
}

static void test_errno_and_unknown(void **state)
{
    (void)state;
    assert_string_equal(kura_strerror(-ENOENT), "No such file or directory");
    assert_int_equal(kura_err_http_status(-ENOENT), 500);
    assert_string_equal(kura_err_name(-ENOENT), "internal_error");
    assert_int_equal(kura_err_http_status(-ENOMEM), 503);
    assert_string_equal(kura_strerror(-99999), "unknown error");
    assert_int_equal(kura_err_http_status(KURA_ENOTFOUND), 404);
    assert_string_equal(kura_err_name(KURA_EHOST), "host_not_allowed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_complete),
        cmocka_unit_test(test_errno_and_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
