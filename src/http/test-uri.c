/* Unit tests for the raw request-target validator: traversal in every spelling, encoded
 * separators, NUL, bad escapes, invalid UTF-8, length limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http.h"

static int parse(const char *raw, char **path, char **query)
{
    static struct kura_arena *a;
    a = kura_arena_free(a);
    a = kura_arena_new(1 << 20);
    size_t len;
    return kura_http_parse_target(raw, strlen(raw), 8192, a, path, &len, query);
}

static void test_accepts_canonical(void **state)
{
    (void)state;
    char *p, *q;
    assert_int_equal(parse("/", &p, &q), 0);
    assert_string_equal(p, "/");
    assert_string_equal(q, "");
    assert_int_equal(parse("/healthz?x=1&y=%20z", &p, &q), 0);
    assert_string_equal(p, "/healthz");
    assert_string_equal(q, "x=1&y=%20z");
    assert_int_equal(parse("/dav/%E8%94%B5/a%20b.txt", &p, &q), 0);
    assert_string_equal(p, "/dav/\xe8\x94\xb5/a b.txt");
    assert_int_equal(parse("/dav/\xe8\x94\xb5/", &p, &q), 0); /* raw UTF-8 */
    assert_string_equal(p, "/dav/\xe8\x94\xb5/");
    assert_int_equal(parse("/a/.../b..c/.d", &p, &q), 0);
    assert_string_equal(p, "/a/.../b..c/.d");
    assert_int_equal(parse("/a?q=%2F", &p, &q), 0); /* an encoded slash in a query is data */
}

static void test_rejects_traversal(void **state)
{
    (void)state;
    char *p, *q;
    const char *bad[] = {
        "/..",         "/../etc/passwd", "/a/../b",   "/a/..",     "/a/./b",      "/.",
        "/a/.",        "/%2e%2e/x",      "/%2E%2E/x", "/a/%2e%2e", "/a/.%2e/b",   "/a/%2e./b",
        "/a/%2e/b",    "/a//b",          "//a",       "/a%2Fb",    "/a%2f..%2fb", "/a%5Cb",
        "/a%5c..%5cb", "/a\\b",          "/a%00b",    "/a%00",     "/%C0%AF",     "/%c0%ae%c0%ae/",
        "/%ED%A0%80",  "/%FF",           "/\xc0\xaf", "/a%01b",    "/a%7Fb",      "/a%0Ab",
        "/a%",         "/a%2",           "/a%zz",     "/a%g0",     "/a#frag",     "/a%%32%66",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        int r = parse(bad[i], &p, &q);
        if (r != KURA_EBADPATH) {
            print_error("'%s' gave %d\n", bad[i], r);
            fail();
        }
    }
}

static void test_rejects_other_forms(void **state)
{
    (void)state;
    char *p, *q;
    assert_int_equal(parse("", &p, &q), KURA_EBADREQ);
    assert_int_equal(parse("*", &p, &q), KURA_EBADREQ);
    assert_int_equal(parse("https://evil/x", &p, &q), KURA_EBADREQ);
    assert_int_equal(parse("a/b", &p, &q), KURA_EBADREQ);
    assert_int_equal(parse("/a?x=%00", &p, &q), KURA_EBADREQ);
    assert_int_equal(parse("/a?x=%zz", &p, &q), KURA_EBADREQ);
    assert_int_equal(parse("/a?x=\x01", &p, &q), KURA_EBADREQ);
    assert_int_equal(parse("/a?x=#", &p, &q), KURA_EBADREQ);
}

static void test_length_limit(void **state)
{
    (void)state;
    struct kura_arena *a = kura_arena_new(1 << 20);
    char *raw = kura_malloc(8194);
    raw[0] = '/';
    memset(raw + 1, 'a', 8192);
    raw[8193] = '\0';
    char *p, *q;
    size_t len;
    assert_int_equal(kura_http_parse_target(raw, 8193, 8192, a, &p, &len, &q), KURA_EURILONG);
    assert_int_equal(kura_http_parse_target(raw, 8192, 8192, a, &p, &len, &q), 0);
    assert_int_equal(len, 8192);
    kura_free(raw);
    kura_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_canonical),
        cmocka_unit_test(test_rejects_traversal),
        cmocka_unit_test(test_rejects_other_forms),
        cmocka_unit_test(test_length_limit),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    char *p, *q;
    KURA_IGNORE(parse("/", &p, &q)); /* frees the previous arena */
    return r;
}
