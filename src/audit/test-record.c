/* Unit tests for audit records: the fixed key order, escaping of hostile strings, cutting at
 * limits on a character boundary, and the parser's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit-internal.h"

static char *compose(const struct kura_audit_event *ev)
{
    struct kura_buf frag = KURA_BUF_INIT(1 << 16), rec = KURA_BUF_INIT(1 << 16);
    kura_hash prev = {0};
    assert_int_equal(audit_fragment(ev, &frag), 0);
    assert_int_equal(audit_record_compose(7, 1795305493123, prev, frag.ptr, frag.len, &rec), 0);
    kura_buf_release(&frag);
    return kura_buf_detach(&rec, NULL);
}

static void test_exact_form(void **state)
{
    (void)state;
    json_t *detail = json_pack("{s:i}", "pid", 42);
    struct kura_audit_event ev = {.actor = "system",
                                  .action = "server.start",
                                  .result = KURA_AUDIT_OK,
                                  .bytes = 5,
                                  .detail = detail};
    char *rec = compose(&ev);
    assert_string_equal(rec,
                        "{\"index\":7,\"time\":\"2026-11-21T23:58:13.123Z\",\"prev\":\""
                        "0000000000000000000000000000000000000000000000000000000000000000"
                        "\",\"actor\":\"system\",\"roles\":null,\"elevated\":false,"
                        "\"session\":null,\"source_ip\":null,\"user_agent\":null,"
                        "\"request_id\":null,\"action\":\"server.start\",\"object\":null,"
                        "\"bytes\":5,\"result\":\"ok\",\"reason\":null,\"detail\":{\"pid\":42}}");
    struct audit_record r;
    struct kura_buf why = KURA_BUF_INIT(1024);
    assert_int_equal(audit_record_parse(rec, strlen(rec), &r, &why), 0);
    assert_int_equal(r.index, 7);
    assert_int_equal(r.time_ms, 1795305493123);
    assert_string_equal(r.action, "server.start");
    json_decref(r.doc);
    json_decref(detail);
    kura_free(rec);
    kura_buf_release(&why);
}

static void test_hostile_strings(void **state)
{
    (void)state;
    struct kura_audit_event ev = {
        .actor = "a\"b\\c",
        .user_agent = "x\n\r\t\x01\x7f\xff\xc0\xaf\xe8\x94\xb5",
        .object = "/dav/\",\"result\":\"ok",
        .action = "http.request",
        .result = KURA_AUDIT_DENIED,
    };
    char *rec = compose(&ev);
    assert_non_null(strstr(rec, "\"actor\":\"a\\\"b\\\\c\""));
    assert_non_null(strstr(rec, "\"user_agent\":\"x\\u000a\\u000d\\u0009\\u0001\\u007f"
                                "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xe8\x94\xb5\""));
    assert_true(kura_utf8_valid(rec, strlen(rec)));
    /* An object cannot inject a field: it stays one JSON string. */
    struct audit_record r;
    struct kura_buf why = KURA_BUF_INIT(1024);
    assert_int_equal(audit_record_parse(rec, strlen(rec), &r, &why), 0);
    assert_string_equal(json_string_value(json_object_get(r.doc, "object")),
                        "/dav/\",\"result\":\"ok");
    assert_string_equal(json_string_value(json_object_get(r.doc, "result")), "denied");
    json_decref(r.doc);
    kura_free(rec);
    kura_buf_release(&why);
}

static void test_limits(void **state)
{
    (void)state;
    char agent[2000];
    /* 3-byte characters: the cut must fall between them */
    for (size_t i = 0; i + 3 < sizeof(agent); i += 3) {
        memcpy(agent + i, "\xe8\x94\xb5", 3);
        agent[i + 3] = '\0';
    }
    struct kura_audit_event ev = {.user_agent = agent, .action = "x"};
    char *rec = compose(&ev);
    assert_true(kura_utf8_valid(rec, strlen(rec)));
    assert_non_null(strstr(rec, "\xe8\x94\xb5\xe2\x80\xa6\",\"request_id\""));
    struct audit_record r;
    struct kura_buf why = KURA_BUF_INIT(1024);
    assert_int_equal(audit_record_parse(rec, strlen(rec), &r, &why), 0);
    assert_true(strlen(json_string_value(json_object_get(r.doc, "user_agent"))) <=
                KURA_AUDIT_AGENT_MAX + 3);
    json_decref(r.doc);
    kura_free(rec);
    /* An oversized detail is replaced, not cut into invalid JSON. */
    json_t *big = json_object();
    char key[16];
    for (int i = 0; i < 2000; i++) {
        (void)snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(big, key, json_string("0123456789"));
    }
    ev.detail = big;
    rec = compose(&ev);
    assert_non_null(strstr(rec, "\"detail\":{\"truncated\":true}}"));
    kura_free(rec);
    json_decref(big);
    kura_buf_release(&why);
}

static void test_parse_refusals(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "{\"index\":1}",
        "{\"time\":\"2026-11-21T23:58:13.123Z\",\"index\":7,\"prev\":\"00\"}",
        "{\"index\":-1,\"time\":\"2026-11-21T23:58:13.123Z\",\"prev\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\",\"actor\":null,"
        "\"roles\":null,\"elevated\":false,\"session\":null,\"source_ip\":null,"
        "\"user_agent\":null,\"request_id\":null,\"action\":\"x\",\"object\":null,\"bytes\":0,"
        "\"result\":\"ok\",\"reason\":null,\"detail\":null}",
        "{\"index\":1,\"time\":\"2026-11-21 23:58:13\",\"prev\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\",\"actor\":null,"
        "\"roles\":null,\"elevated\":false,\"session\":null,\"source_ip\":null,"
        "\"user_agent\":null,\"request_id\":null,\"action\":\"x\",\"object\":null,\"bytes\":0,"
        "\"result\":\"ok\",\"reason\":null,\"detail\":null}",
        "{\"index\":1,\"index\":2}",
        "not json",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        struct audit_record r;
        struct kura_buf why = KURA_BUF_INIT(1024);
        assert_int_equal(audit_record_parse(bad[i], strlen(bad[i]), &r, &why), KURA_ECORRUPT);
        assert_true(why.len > 0);
        kura_buf_release(&why);
    }
    int64_t ms;
    assert_int_equal(audit_time_parse("2026-13-01T00:00:00.000Z", &ms), KURA_ESYNTAX);
    assert_int_equal(audit_time_parse("1970-01-01T00:00:01.002Z", &ms), 0);
    assert_int_equal(ms, 1002);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_form),
        cmocka_unit_test(test_hostile_strings),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_parse_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
