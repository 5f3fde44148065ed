/* Unit tests for the network value parsers and CIDR matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "conf/conf.h"

static void test_listen(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(kura_conf_parse_listen("127.0.0.1:8443", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8443);
    assert_int_equal(kura_conf_parse_listen("[::]:443", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    const char *bad[] = {"127.0.0.1",   "127.0.0.1:",    ":8443",        "localhost:8443",
                         "[::1]",       "[::1:8443",     "::1:8443",     "1.2.3.4:99999",
                         "1.2.3.4:-1",  "1.2.3.4: 8443", "256.1.1.1:80", "[zz::]:80",
                         "1.2.3.4:080x"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        if (kura_conf_parse_listen(bad[i], &ss, &len) == 0) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
    }
}

static void test_origin(void **state)
{
    (void)state;
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    assert_int_equal(kura_conf_parse_origin("https://Kura.Example.ORG", host, &port), 0);
    assert_string_equal(host, "kura.example.org");
    assert_int_equal(port, 443);
    assert_int_equal(kura_conf_parse_origin("https://[::1]:8443/", host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8443);
    const char *bad[] = {"http://a",   "https://",     "https://a/b", "https://a:0",
                         "https://-a", "https://a..b", "https://a_b", "https://user@a",
                         "ftp://a",    "https://a:x",  "https://a b"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        if (kura_conf_parse_origin(bad[i], host, &port) == 0) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
    }
}

static struct sockaddr_storage addr(const char *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(s, ':')) {
        ss.ss_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
    } else {
        ss.ss_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr), 1);
    }
    return ss;
}

static void test_cidr(void **state)
{
    (void)state;
    struct kura_cidr c;
    assert_int_equal(kura_conf_parse_cidr("10.0.0.0/8", 10, &c), 0);
    struct sockaddr_storage a = addr("10.200.3.4"), b = addr("11.0.0.1"),
                            m = addr("::ffff:10.1.1.1"), v6 = addr("2001:db8::1");
    assert_true(kura_cidr_contains(&c, (struct sockaddr *)&a));
    assert_false(kura_cidr_contains(&c, (struct sockaddr *)&b));
    assert_true(kura_cidr_contains(&c, (struct sockaddr *)&m));
    assert_false(kura_cidr_contains(&c, (struct sockaddr *)&v6));
    assert_int_equal(kura_conf_parse_cidr("2001:db8::/33", 13, &c), 0);
    assert_true(kura_cidr_contains(&c, (struct sockaddr *)&v6));
    assert_int_equal(kura_conf_parse_cidr("192.168.1.7", 11, &c), 0);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(kura_conf_parse_cidr("10.0.0.0/7", 10, &c), 0);
    a = addr("11.255.0.1");
    assert_true(kura_cidr_contains(&c, (struct sockaddr *)&a));
    const char *bad[] = {"10.0.0.0/33", "10.0.0.0/", "/8",          "10.0.0/8",    "::1/129",
                         "x",           "",          "10.0.0.0/+8", "10.0.0.0/08x"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        if (kura_conf_parse_cidr(bad[i], strlen(bad[i]), &c) == 0) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
    }
}

static int count_entry(struct kura_str entry, void *ctx)
{
    (*(int *)ctx)++;
    return entry.len == 3 && memcmp(entry.ptr, "bad", 3) == 0 ? KURA_ECONFIG : 0;
}

static void test_list_each(void **state)
{
    (void)state;
    int n = 0;
    struct kura_str bad = KURA_STR_NULL;
    assert_int_equal(kura_conf_list_each("", 5, count_entry, &n, &bad), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kura_conf_list_each(" a ,\tb,c", 5, count_entry, &n, &bad), 0);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(kura_conf_list_each("a, bad ,c", 5, count_entry, &n, &bad), KURA_ECONFIG);
    assert_int_equal(n, 2);
    assert_true(kura_str_eq_c(bad, "bad"));
    assert_int_equal(kura_conf_list_each("a,b,c,d", 3, count_entry, &n, &bad), KURA_ETOOBIG);
    assert_true(kura_str_eq_c(bad, "d"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_list_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
