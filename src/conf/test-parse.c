/* Unit tests for the kura.conf parser: every refusal names file:line, the key and what is
 * allowed; defaults; round trip through the writer; hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "conf/conf.h"

static struct kura_conf *parse_ok(const char *text)
{
    struct kura_conf *c = NULL;
    struct kura_buf err = KURA_BUF_INIT(4096);
    int r = kura_conf_parse("t.conf", text, strlen(text), &c, &err);
    if (r != 0) {
        print_error("unexpected failure: %s\n", err.ptr);
    }
    assert_int_equal(r, 0);
    kura_buf_release(&err);
    return c;
}

/* Parses text expecting failure; asserts the message contains each of the given fragments. */
static void parse_fails(const char *text, size_t len, ...)
{
    struct kura_conf *c = NULL;
    struct kura_buf err = KURA_BUF_INIT(4096);
    assert_int_equal(kura_conf_parse("t.conf", text, len, &c, &err), KURA_ECONFIG);
    assert_null(c);
    va_list ap;
    va_start(ap, len);
    for (const char *frag; (frag = va_arg(ap, const char *));) {
        if (!strstr(err.ptr, frag)) {
            print_error("message '%s' lacks '%s'\n", err.ptr, frag);
            fail();
        }
    }
    va_end(ap);
    kura_buf_release(&err);
}
#define FAILS(text, ...) parse_fails(text, strlen(text), __VA_ARGS__, NULL)

static void test_defaults(void **state)
{
    (void)state;
    struct kura_conf *c = parse_ok("");
    assert_string_equal(c->http.listen, "127.0.0.1:8443");
    assert_string_equal(c->http.public_url, "https://localhost:8443");
    assert_int_equal(c->http.header_timeout, 20);
    assert_string_equal(c->password.profile, "kura-default");
    assert_string_equal(c->tls.min_version, "1.2");
    assert_int_equal(kura_conf_key_line(c, "http", "listen"), 0);
    kura_conf_free(c);
}

static void test_values_and_lines(void **state)
{
    (void)state;
    struct kura_conf *c = parse_ok("# comment\n"
                                   "; another\n"
                                   "\n"
                                   "[http]\r\n"
                                   "  listen = [::1]:9443  \n"
                                   "threads=3\n"
                                   "allowed_hosts = kura.example.org, 10.0.0.5:8443 ,[::1]\n"
                                   "trusted_proxies = 10.0.0.0/8, ::1\n"
                                   "[password]\n"
                                   "profile = \"nist\"\n"
                                   "[http]\n"
                                   "public_url = https://Kura.Example.org/\n");
    assert_string_equal(c->http.listen, "[::1]:9443");
    assert_int_equal(c->http.threads, 3);
    assert_string_equal(c->password.profile, "nist");
    assert_int_equal(kura_conf_key_line(c, "http", "listen"), 5);
    assert_int_equal(kura_conf_key_line(c, "password", "profile"), 10);
    assert_int_equal(kura_conf_key_line(c, "http", "public_url"), 12);
    kura_conf_free(c);
}

static void test_unknown_section_and_key(void **state)
{
    (void)state;
    FAILS("[http]\nlisten = 127.0.0.1:1\n[htp]\n", "t.conf:3:", "unknown section [htp]", "[http]",
          "[tls]");
    FAILS("[http]\nthreds = 2\n", "t.conf:2:", "unknown key 'threds' in section [http]",
          "known keys:", "threads");
    FAILS("threads = 2\n", "t.conf:1:", "before the first [section]");
}

static void test_invalid_values(void **state)
{
    (void)state;
    FAILS("[http]\nthreads = abc\n", "t.conf:2:", "[http] threads = 'abc'",
          "a whole number from 0 to 64 (threads)");
    FAILS("[http]\nthreads = 65\n", "t.conf:2:", "from 0 to 64");
    FAILS("[http]\nthreads = -1\n", "t.conf:2:");
    FAILS("[http]\nthreads = \n", "t.conf:2:");
    FAILS("[http]\nheader_timeout = 0\n", "from 1 to 3600 (seconds)");
    FAILS("[tls]\nmin_version = 1.1\n", "t.conf:2:", "[tls] min_version = '1.1'",
          "one of 1.2, 1.3");
    FAILS("[password]\nprofile = weak\n", "one of kura-default, nist");
    FAILS("[http]\nlisten = localhost:8443\n", "[http] listen = 'localhost:8443'", "numeric");
    FAILS("[http]\nlisten = 127.0.0.1:0\n", "[http] listen");
    FAILS("[http]\nlisten = 127.0.0.1:65536\n", "[http] listen");
    FAILS("[http]\npublic_url = http://localhost\n", "[http] public_url", "https://host");
    FAILS("[http]\npublic_url = https://h/path\n", "[http] public_url");
    FAILS("[http]\nallowed_hosts = good.example, bad_host\n", "entry 'bad_host'");
    FAILS("[http]\ntrusted_proxies = 10.0.0.0/33\n", "entry '10.0.0.0/33'");
    FAILS("[http]\nthreads = 1 # inline comments do not exist\n", "[http] threads");
    FAILS("[log]\nlevel = \"info\n", "unterminated quoted value");
}

static void test_mail_and_audit_values(void **state)
{
    (void)state;
    struct kura_conf *c = parse_ok("[mail]\nrelay = smtp.example.org:587\nfrom = kura@example.org\n"
                                   "tls = implicit\npassword_file = /etc/kura/smtp.pw\n"
                                   "[audit]\ndigest_to = a@example.org, b@x.example\n"
                                   "witness_read = /mnt/w/kura, /var/log/kura.log\n");
    assert_string_equal(c->mail.relay, "smtp.example.org:587");
    assert_string_equal(c->audit.digest_to, "a@example.org, b@x.example");
    kura_conf_free(c);
    FAILS("[mail]\nrelay = smtp.example.org\n", "[mail] relay", "host:port");
    FAILS("[mail]\nfrom = kura\n", "[mail] from", "not an e-mail address");
    FAILS("[mail]\nfrom = a@b@c\n", "[mail] from");
    FAILS("[mail]\nfrom = \"x\"@example.org\n", "[mail] from");
    FAILS("[mail]\nfrom = a@example.org>, <b@evil\n", "[mail] from");
    FAILS("[mail]\nfrom = a@-bad-\n", "[mail] from");
    FAILS("[mail]\ntls = ssl\n", "one of starttls, implicit, none");
    FAILS("[mail]\npassword_file = relative/pw\n", "not an absolute path");
    FAILS("[audit]\ndigest_to = a@example.org, nobody\n", "entry 'nobody'");
    FAILS("[audit]\nretention_days = 30\n", "from 397 to 36525 (days)");
    FAILS("[audit]\nwitness_read = /a, b\n", "entry 'b' is not an absolute path");
}

static void test_structure_errors(void **state)
{
    (void)state;
    FAILS("[http]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n",
          "t.conf:3:", "duplicate key 'listen'", "first set on line 2");
    FAILS("[HTTP]\n", "t.conf:1:", "malformed section header");
    FAILS("[http] x\n", "malformed section header");
    FAILS("[http\n", "malformed section header");
    FAILS("[http]\njust words\n", "t.conf:2:", "malformed line", "expected key = value");
    FAILS("[http]\n= 3\n", "malformed line");
    FAILS("[http]\nthreads = 1\x01\n", "t.conf:2:", "control character");
    FAILS("[http]\nthreads\r= 1\n", "t.conf:2:", "control character");
}

static void test_hostile_bytes(void **state)
{
    (void)state;
    parse_fails("[http]\n\nthreads = 1\0\n", 20, "t.conf:3:", "NUL byte", NULL);
    parse_fails("[http]\n# \xc0\xaf\n", 11, "t.conf:2:", "invalid UTF-8", NULL);
    parse_fails("[http]\n# \xe8\x94\n", 11, "t.conf:2:", "invalid UTF-8", NULL);
    char *big = kura_malloc(KURA_CONF_MAX_LINE + 100);
    memcpy(big, "[http]\n#", 8);
    memset(big + 8, 'x', KURA_CONF_MAX_LINE + 50);
    big[KURA_CONF_MAX_LINE + 58] = '\0';
    FAILS(big, "t.conf:2:", "line longer than 4096 bytes");
    kura_free(big);
    big = kura_calloc(1, KURA_CONF_MAX_FILE + 2);
    memset(big, '\n', KURA_CONF_MAX_FILE + 1);
    parse_fails(big, KURA_CONF_MAX_FILE + 1, "larger than", NULL);
    kura_free(big);
    /* A byte-order mark and UTF-8 in comments and quoted values are fine. */
    struct kura_conf *c = parse_ok("\xef\xbb\xbf# 設定ファイル\n[log]\nlevel = debug\n");
    assert_string_equal(c->log.level, "debug");
    kura_conf_free(c);
}

static void test_write_round_trip(void **state)
{
    (void)state;
    struct kura_conf *c = kura_conf_new();
    struct kura_buf err = KURA_BUF_INIT(1024);
    assert_int_equal(kura_conf_set(c, "password", "profile", "ccat", &err), 0);
    assert_int_equal(kura_conf_set(c, "http", "allowed_hosts", "a.example,,b", &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "[http] allowed_hosts"));
    kura_buf_reset(&err);
    assert_int_equal(kura_conf_set(c, "http", "nope", "1", &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "unknown configuration key 'http.nope'"));
    struct kura_buf out = KURA_BUF_INIT(1 << 20);
    assert_int_equal(kura_conf_write(c, &out), 0);
    /* Every key of the schema is present, each with a comment line before it. */
    assert_non_null(strstr(out.ptr, "\n[http]\n# Address and port"));
    assert_non_null(strstr(out.ptr, "\nlisten = 127.0.0.1:8443\n"));
    assert_non_null(strstr(out.ptr, "\nallowed_hosts =\n"));
    assert_non_null(strstr(out.ptr, "\nprofile = ccat\n"));
    struct kura_conf *c2 = NULL;
    assert_int_equal(kura_conf_parse("w.conf", out.ptr, out.len, &c2, &err), 0);
    assert_string_equal(c2->password.profile, "ccat");
    assert_int_equal(kura_conf_check(c2, &err), 0);
    kura_conf_free(c);
    kura_conf_free(c2);
    kura_buf_release(&out);
    kura_buf_release(&err);
}

static void test_cross_checks(void **state)
{
    (void)state;
    struct kura_conf *c = parse_ok("[http]\nmax_connections = 100\nper_ip_connections = 200\n");
    struct kura_buf err = KURA_BUF_INIT(1024);
    assert_int_equal(kura_conf_check(c, &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "t.conf:3: [http] per_ip_connections = 200"));
    kura_conf_free(c);
    kura_buf_release(&err);
}

static void test_reference_lists_every_key(void **state)
{
    (void)state;
    struct kura_buf ref = KURA_BUF_INIT(1 << 20), conf = KURA_BUF_INIT(1 << 20);
    struct kura_conf *c = kura_conf_new();
    assert_int_equal(kura_conf_reference(&ref), 0);
    assert_int_equal(kura_conf_write(c, &conf), 0);
    /* Each "key = " line of the written file has a row in the reference. */
    struct kura_str rest = kura_buf_str(&conf), line;
    unsigned keys = 0;
    while (rest.len) {
        (void)kura_str_split(&rest, '\n', &line);
        const char *eq = memchr(line.ptr, '=', line.len);
        if (line.len && line.ptr[0] != '#' && line.ptr[0] != '[' && eq) {
            char row[128];
            (void)snprintf(row, sizeof(row), "| `%.*s` |", (int)(eq - line.ptr - 1), line.ptr);
            assert_non_null(strstr(ref.ptr, row));
            keys++;
        }
    }
    assert_true(keys >= 20);
    kura_conf_free(c);
    kura_buf_release(&ref);
    kura_buf_release(&conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values_and_lines),
        cmocka_unit_test(test_unknown_section_and_key),
        cmocka_unit_test(test_invalid_values),
        cmocka_unit_test(test_mail_and_audit_values),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_write_round_trip),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_reference_lists_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
