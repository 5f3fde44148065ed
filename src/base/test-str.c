/* Unit tests for slices, strict number parsing, UTF-8 validation and size arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <time.h>

#include "base/base.h"

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(kura_parse_u64("0", 1, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(kura_parse_u64("18446744073709551615", 20, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_int_equal(kura_parse_u64("18446744073709551616", 20, UINT64_MAX, &v), KURA_ERANGE);
    assert_int_equal(kura_parse_u64("11", 2, 10, &v), KURA_ERANGE);
    assert_int_equal(kura_parse_u64("", 0, 10, &v), KURA_ESYNTAX);
    assert_int_equal(kura_parse_u64("-1", 2, 10, &v), KURA_ESYNTAX);
    assert_int_equal(kura_parse_u64("+1", 2, 10, &v), KURA_ESYNTAX);
    assert_int_equal(kura_parse_u64(" 1", 2, 10, &v), KURA_ESYNTAX);
    assert_int_equal(kura_parse_u64("1 ", 2, 10, &v), KURA_ESYNTAX);
    assert_int_equal(kura_parse_u64("1\0", 2, 10, &v), KURA_ESYNTAX);
    assert_int_equal(kura_parse_u64("0x1", 3, 10, &v), KURA_ESYNTAX);
    assert_int_equal(v, 7); /* untouched on failure */
    /* The length bounds the parse, not a terminator. */
    assert_int_equal(kura_parse_u64("123abc", 3, 1000, &v), 0);
    assert_int_equal(v, 123);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(kura_utf8_valid("", 0));
    assert_true(kura_utf8_valid("plain", 5));
    assert_true(kura_utf8_valid("\xe8\x94\xb5", 3));      /* 蔵 */
    assert_true(kura_utf8_valid("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
    assert_true(kura_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_false(kura_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(kura_utf8_valid("\xe0\x80\xaf", 3));     /* overlong '/' */
    assert_false(kura_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(kura_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(kura_utf8_valid("\xe8\x94", 2));         /* truncated */
    assert_false(kura_utf8_valid("\x80", 1));             /* lone continuation */
    assert_false(kura_utf8_valid("\xff", 1));
    assert_false(kura_utf8_valid("\xe8\x94\x35", 3)); /* bad continuation */
}

static void test_ctl(void **state)
{
    (void)state;
    assert_false(kura_has_ctl("abc", 3, false));
    assert_true(kura_has_ctl("a\tc", 3, false));
    assert_false(kura_has_ctl("a\tc", 3, true));
    assert_true(kura_has_ctl("a\rc", 3, true));
    assert_true(kura_has_ctl("a\0c", 3, true));
    assert_true(kura_has_ctl("a\x7f", 2, true));
}

static void test_slices(void **state)
{
    (void)state;
    struct kura_str s = KURA_STR("  a, b ,c\t");
    struct kura_str head;
    assert_true(kura_str_split(&s, ',', &head));
    assert_true(kura_str_eq_c(kura_str_trim_ows(head), "a"));
    assert_true(kura_str_split(&s, ',', &head));
    assert_true(kura_str_eq_c(kura_str_trim_ows(head), "b"));
    assert_false(kura_str_split(&s, ',', &head));
    assert_true(kura_str_eq_c(kura_str_trim_ows(head), "c"));
    assert_int_equal(s.len, 0);
    assert_true(kura_str_eq_nocase(KURA_STR("Content-Length"), KURA_STR("content-LENGTH")));
    assert_false(kura_str_eq_nocase(KURA_STR("Content-Length"), KURA_STR("Content-Lengt")));
    assert_true(kura_str_has_prefix(KURA_STR("/api/v1"), KURA_STR("/api")));
    assert_false(kura_str_has_prefix(KURA_STR("/ap"), KURA_STR("/api")));
    assert_true(kura_str_eq(kura_str_c(NULL), KURA_STR("")));
}

static void test_size_math(void **state)
{
    (void)state;
    size_t r = 3;
    assert_int_equal(kura_add_size(SIZE_MAX, 1, &r), KURA_EOVERFLOW);
    assert_int_equal(r, 3);
    assert_int_equal(kura_mul_size(SIZE_MAX / 2 + 1, 2, &r), KURA_EOVERFLOW);
    assert_int_equal(kura_mul_size(1000, 1000, &r), 0);
    assert_int_equal(r, 1000000);
    assert_int_equal(kura_add_size(SIZE_MAX - 1, 1, &r), 0);
    assert_true(r == SIZE_MAX);
}

static void test_hex(void **state)
{
    (void)state;
    char out[9];
    kura_hex_encode(out, "\x00\xff\x12\xab", 4);
    assert_string_equal(out, "00ff12ab");
    char num[KURA_NUM_STR_MAX];
    assert_string_equal(kura_fmt_u64(num, UINT64_MAX), "18446744073709551615");
    assert_string_equal(kura_fmt_i64(num, INT64_MIN), "-9223372036854775808");
}

static void test_csv(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(1024);
    const char *fields[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "=SUM(A1)",
                            "+1",    "-2",  "@cmd",       "",           "\xe8\x94\xb5"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(fields); i++) {
        kura_csv_field(&b, fields[i], strlen(fields[i]));
        kura_buf_addc(&b, '|');
    }
    assert_string_equal(b.ptr, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|"
                               "\"'=SUM(A1)\"|\"'+1\"|\"'-2\"|\"'@cmd\"||\xe8\x94\xb5|");
    kura_buf_release(&b);
}

static void test_clock_format(void **state)
{
    (void)state;
    char ts[KURA_TIME_STR_MAX];
    kura_clock_format(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
    kura_clock_format(1795305493123, ts);
    assert_string_equal(ts, "2026-11-21T23:58:13.123Z");
    kura_clock_format(-1, ts);
    assert_string_equal(ts, "1969-12-31T23:59:59.999Z");
    kura_clock_format(253402300799999, ts); /* the last millisecond of year 9999 */
    assert_string_equal(ts, "9999-12-31T23:59:59.999Z");
    kura_clock_format(253402300800000, ts);
    assert_string_equal(ts, "invalid-time");
    kura_clock_format(-62167219200000, ts); /* 0000-01-01 */
    assert_string_equal(ts, "0000-01-01T00:00:00.000Z");
    kura_clock_format(-62167219200001, ts);
    assert_string_equal(ts, "invalid-time");
    char hd[KURA_HTTP_DATE_MAX];
    kura_http_date(1795305493123, hd);
    assert_string_equal(hd, "Sat, 21 Nov 2026 23:58:13 GMT");
    /* Both against gmtime_r and strftime, over random instants of years 0 to 9999 and around
     * the epoch, leap days and century years. */
    for (int i = 0; i < 200000; i++) {
        uint64_t rnd = 0;
        assert_int_equal(kura_random(&rnd, sizeof(rnd)), 0);
        int64_t ms = i < 1000 ? (int64_t)(rnd % 200000000000) - 100000000000
                              : (int64_t)(rnd % 315537897600000) - 62167219200000;
        if (i % 4 == 0) {
            ms = ((int64_t)(rnd % 10000) * 365 + 59) * 86400000 - 62167219200000; /* ~Feb 28/29 */
        }
        time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[64], want_ts[64];
        if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
            continue;
        }
        char wday[8], mon[8];
        (void)strftime(wday, sizeof(wday), "%a", &tm);
        (void)strftime(mon, sizeof(mon), "%b", &tm);
        (void)snprintf(want, sizeof(want), "%s, %02d %s %04d %02d:%02d:%02d GMT", wday, tm.tm_mday,
                       mon, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        (void)snprintf(want_ts, sizeof(want_ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                       tm.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
        kura_http_date(ms, hd);
        assert_string_equal(hd, want);
        kura_clock_format(ms, ts);
        assert_string_equal(ts, want_ts);
    }
    char num[KURA_NUM_STR_MAX];
    assert_string_equal(kura_fmt_u64(num, 0), "0");
    assert_string_equal(kura_fmt_u64(num, UINT64_MAX), "18446744073709551615");
    assert_string_equal(kura_fmt_x64(num, 0), "0");
    assert_string_equal(kura_fmt_x64(num, UINT64_MAX), "ffffffffffffffff");
    assert_string_equal(kura_fmt_x64(num, 0xa0b), "a0b");
    int64_t a = kura_clock_mono_ms();
    int64_t b = kura_clock_mono_ms();
    assert_true(b >= a);
    assert_true(kura_clock_wall_ms() > 1700000000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64),    cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_ctl),          cmocka_unit_test(test_slices),
        cmocka_unit_test(test_size_math),    cmocka_unit_test(test_hex),
        cmocka_unit_test(test_clock_format), cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
