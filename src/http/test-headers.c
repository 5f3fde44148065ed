/* Unit tests for the header helpers: Accept-Language negotiation, request ids, X-Forwarded-For
 * with trusted proxies, token and value checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http-internal.h"

static void test_lang(void **state)
{
    (void)state;
    assert_int_equal(kura_http_negotiate_lang(NULL), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang(""), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang("ja"), KURA_LANG_JA);
    assert_int_equal(kura_http_negotiate_lang("ja-JP,ja;q=0.9,en;q=0.8"), KURA_LANG_JA);
    assert_int_equal(kura_http_negotiate_lang("en-US,en;q=0.9,ja;q=0.8"), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang("fr, ja;q=0.5"), KURA_LANG_JA);
    assert_int_equal(kura_http_negotiate_lang("fr, *;q=0.5, ja;q=0.4"), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang("ja;q=0"), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang("JA"), KURA_LANG_JA);
    assert_int_equal(kura_http_negotiate_lang("jav"), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang("ja;q=1.5"), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang("ja;q=abc, en"), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang("en;q=0.5, ja;q=0.5"), KURA_LANG_EN);
    assert_int_equal(kura_http_negotiate_lang("ja;q=0.5, en;q=0.5"), KURA_LANG_JA);
    assert_int_equal(kura_http_negotiate_lang(",,,;;;=,ja"), KURA_LANG_JA);
}

static void test_request_id(void **state)
{
    (void)state;
    assert_true(kura_http_request_id_valid("abc-DEF_1.2", 11));
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    assert_true(kura_http_request_id_valid(long_id, 64));
    assert_false(kura_http_request_id_valid(long_id, 65));
    assert_false(kura_http_request_id_valid("", 0));
    assert_false(kura_http_request_id_valid("a b", 3));
    assert_false(kura_http_request_id_valid("a\nb", 3));
    assert_false(kura_http_request_id_valid("a\0b", 3));
    assert_false(kura_http_request_id_valid("a/b", 3));
    assert_false(kura_http_request_id_valid("\xe8\x94\xb5", 3));
}

static void test_xff(void **state)
{
    (void)state;
    struct kura_cidr trusted[2];
    assert_int_equal(kura_conf_parse_cidr("10.0.0.0/8", 10, &trusted[0]), 0);
    assert_int_equal(kura_conf_parse_cidr("::1", 3, &trusted[1]), 0);
    char ip[KURA_HTTP_IP_MAX];
    assert_false(kura_http_client_from_xff(NULL, trusted, 2, ip));
    assert_true(kura_http_client_from_xff("203.0.113.9", trusted, 2, ip));
    assert_string_equal(ip, "203.0.113.9");
    /* A client-supplied left part cannot override what the trusted proxy appended. */
    assert_true(kura_http_client_from_xff("1.1.1.1, 203.0.113.9, 10.0.0.2", trusted, 2, ip));
    assert_string_equal(ip, "203.0.113.9");
    assert_true(kura_http_client_from_xff("2001:db8::5,[::1]", trusted, 2, ip));
    assert_string_equal(ip, "2001:db8::5");
    /* All trusted: the left-most is the best we know. */
    assert_true(kura_http_client_from_xff("10.1.1.1,10.2.2.2", trusted, 2, ip));
    assert_string_equal(ip, "10.1.1.1");
    assert_false(kura_http_client_from_xff("203.0.113.9, evil", trusted, 2, ip));
    assert_false(kura_http_client_from_xff("", trusted, 2, ip));
    assert_false(kura_http_client_from_xff("1.2.3.4:80", trusted, 2, ip));
    /* A malformed entry anywhere voids the header, even left of the chosen address. */
    assert_false(kura_http_client_from_xff("garbage, 203.0.113.7", trusted, 2, ip));
    assert_false(kura_http_client_from_xff("203.0.113.7,,10.0.0.1", trusted, 2, ip));
    char many[64 * 9 + 16] = "";
    for (int k = 0; k < 65; k++) {
        size_t len = strlen(many);
        (void)snprintf(many + len, sizeof(many) - len, "%s1.2.3.%d", k ? "," : "", k % 10);
    }
    assert_false(kura_http_client_from_xff(many, trusted, 2, ip));
}

static void test_tokens(void **state)
{
    (void)state;
    assert_true(http_is_token("Content-Length", 14));
    assert_true(http_is_token("x!#$%&'*+-.^_`|~9", 17));
    assert_false(http_is_token("", 0));
    assert_false(http_is_token("Bad Name", 8));
    assert_false(http_is_token("a:b", 3));
    assert_false(http_is_token("a\0b", 3));
    assert_false(http_is_token("\xe8\x94\xb5", 3));
    assert_true(http_value_ok("text/plain; q=1\t", 16));
    assert_true(http_value_ok("\xe8\x94\xb5", 3));
    assert_false(http_value_ok("a\rb", 3));
    assert_false(http_value_ok("a\nb", 3));
    assert_false(http_value_ok("a\x7f", 2));
}

static void test_priorities(void **state)
{
    (void)state;
    assert_non_null(strstr(kura_http_tls_priorities("1.2"), "+VERS-TLS1.2"));
    assert_null(strstr(kura_http_tls_priorities("1.3"), "+VERS-TLS1.2"));
    /* AES-GCM before ChaCha20 (server precedence). */
    const char *p = kura_http_tls_priorities("1.2");
    assert_true(strstr(p, "AES-128-GCM") < strstr(p, "CHACHA20"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lang),       cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_xff),        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_priorities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
