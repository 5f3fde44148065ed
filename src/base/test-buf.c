/* Unit tests for struct kura_buf: growth, hard maximum, sticky errors, escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"

static void test_append_and_terminate(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(1024);
    kura_buf_adds(&b, "abc");
    kura_buf_addc(&b, 'd');
    kura_buf_addf(&b, "-%d-", 42);
    kura_buf_add(&b, "x\0y", 3);
    assert_int_equal(kura_buf_err(&b), 0);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.ptr, "abcd-42-x\0y", 11);
    assert_int_equal(b.ptr[11], '\0');
    kura_buf_release(&b);
    assert_null(b.ptr);
}

static void test_max_is_hard_and_sticky(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(5);
    kura_buf_adds(&b, "12345");
    assert_int_equal(kura_buf_err(&b), 0);
    kura_buf_adds(&b, "6");
    assert_int_equal(kura_buf_err(&b), KURA_ETOOBIG);
    /* Content is unchanged by the failed append and later appends are ignored. */
    assert_string_equal(b.ptr, "12345");
    kura_buf_reset(&b);
    assert_int_equal(kura_buf_err(&b), 0);
    assert_int_equal(b.len, 0);
    kura_buf_adds(&b, "ab");
    assert_string_equal(b.ptr, "ab");
    kura_buf_release(&b);
}

static void test_addf_respects_max(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(8);
    kura_buf_addf(&b, "%s", "123456789");
    assert_int_equal(kura_buf_err(&b), KURA_ETOOBIG);
    assert_int_equal(b.len, 0);
    kura_buf_release(&b);
}

static void test_large_growth(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(1 << 20);
    for (int i = 0; i < 100000; i++) {
        kura_buf_addc(&b, (char)('a' + i % 26));
    }
    assert_int_equal(kura_buf_err(&b), 0);
    assert_int_equal(b.len, 100000);
    assert_int_equal(b.ptr[99999], 'a' + 99999 % 26);
    kura_buf_release_wipe(&b);
}

static void test_secret_growth(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT_SECRET(1 << 16);
    for (int i = 0; i < 5000; i++) {
        kura_buf_addc(&b, 'k');
    }
    assert_int_equal(kura_buf_err(&b), 0);
    assert_int_equal(b.len, 5000);
    assert_true(b.secret);
    kura_buf_release_wipe(&b);
    assert_null(b.ptr);
    assert_true(b.secret); /* still a secret buffer if reused */
}

static void test_truncate(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(8);
    kura_buf_adds(&b, "abcdef");
    kura_buf_truncate(&b, 2);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.ptr, "ab");
    kura_buf_adds(&b, "0123456789"); /* too long: sticky error */
    assert_int_equal(kura_buf_err(&b), KURA_ETOOBIG);
    kura_buf_truncate(&b, 9); /* longer than the content: only clears the error */
    assert_int_equal(kura_buf_err(&b), 0);
    assert_string_equal(b.ptr, "ab");
    kura_buf_release(&b);
}

static void test_escaped(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(256);
    kura_buf_add_escaped(&b, "a\nb\"c\\d\x01\x7f\xe8\x94\xb5", 12);
    assert_int_equal(kura_buf_err(&b), 0);
    assert_string_equal(b.ptr, "a\\nb\\\"c\\\\d\\x01\\x7f\xe8\x94\xb5");
    kura_buf_release(&b);
}

static void test_detach(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(16);
    size_t len = 99;
    char *empty = kura_buf_detach(&b, &len);
    assert_non_null(empty);
    assert_int_equal(len, 0);
    assert_string_equal(empty, "");
    kura_free(empty);
    kura_buf_adds(&b, "hello");
    char *p = kura_buf_detach(&b, &len);
    assert_string_equal(p, "hello");
    assert_int_equal(len, 5);
    assert_null(b.ptr);
    kura_free(p);
    kura_buf_adds(&b, "01234567890123456789");
    assert_null(kura_buf_detach(&b, &len));
    kura_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_terminate),
        cmocka_unit_test(test_max_is_hard_and_sticky),
        cmocka_unit_test(test_addf_respects_max),
        cmocka_unit_test(test_large_growth),
        cmocka_unit_test(test_escaped),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_secret_growth),
        cmocka_unit_test(test_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
