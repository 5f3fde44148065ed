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
    assert_string_equal(r.actor, "system");
    assert_null(r.object);
    assert_int_equal(r.bytes, 5);
    assert_string_equal(r.result, "ok");
    /* The writer's own form is read without jansson; the detail is parsed when asked for. */
    assert_null(r.doc);
    assert_true(json_equal(audit_record_detail(&r), detail));
    audit_record_release(&r);
    /* The full parse gives the same. */
    assert_int_equal(audit_record_parse_full(rec, strlen(rec), &r, &why), 0);
    assert_non_null(r.doc);
    assert_int_equal(r.index, 7);
    assert_string_equal(r.action, "server.start");
    assert_true(json_equal(audit_record_detail(&r), detail));
    audit_record_release(&r);
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
    assert_string_equal(r.object, "/dav/\",\"result\":\"ok");
    assert_string_equal(r.actor, "a\"b\\c");
    assert_string_equal(r.result, "denied");
    assert_non_null(r.doc); /* escapes in returned strings: jansson decodes them */
    audit_record_release(&r);
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
    assert_int_equal(audit_record_parse_full(rec, strlen(rec), &r, &why), 0);
    assert_true(strlen(json_string_value(json_object_get(r.doc, "user_agent"))) <=
                KURA_AUDIT_AGENT_MAX + 3);
    audit_record_release(&r);
    assert_int_equal(audit_record_scan(rec, strlen(rec), &r), 0);
    audit_record_release(&r);
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
    /* Dates are checked, not normalised (timegm would move Feb 30 to March). */
    assert_int_equal(audit_time_parse("2026-02-29T00:00:00.000Z", &ms), KURA_ESYNTAX);
    assert_int_equal(audit_time_parse("2026-04-31T00:00:00.000Z", &ms), KURA_ESYNTAX);
    assert_int_equal(audit_time_parse("2026-11-22T00:00:60.000Z", &ms), KURA_ESYNTAX);
    assert_int_equal(audit_time_parse("2100-02-29T00:00:00.000Z", &ms), KURA_ESYNTAX);
    assert_int_equal(audit_time_parse("2000-02-29T23:59:59.999Z", &ms), 0);
    assert_int_equal(ms, 951868799999);
    assert_int_equal(audit_time_parse("0000-01-01T00:00:00.000Z", &ms), 0);
    assert_int_equal(ms, -62167219200000);
    assert_int_equal(audit_time_parse("9999-12-31T23:59:59.999Z", &ms), 0);
    assert_int_equal(ms, 253402300799999);
}

/* A record of the writer's layout with the given roles (raw JSON), action and detail. */
static char *layout(const char *roles, const char *action, const char *detail)
{
    struct kura_buf b = KURA_BUF_INIT(1 << 20);
    kura_buf_addf(&b,
                  "{\"index\":3,\"time\":\"2026-11-21T23:58:13.123Z\",\"prev\":\""
                  "00000000000000000000000000000000000000000000000000000000000000ff\","
                  "\"actor\":\"user:a\",\"roles\":%s,\"elevated\":true,\"session\":null,"
                  "\"source_ip\":\"192.0.2.1\",\"user_agent\":null,\"request_id\":\"r1\","
                  "\"action\":%s,\"object\":\"/x\",\"bytes\":12,\"result\":\"error\","
                  "\"reason\":\"not_found\",\"detail\":%s}",
                  roles, action, detail);
    assert_int_equal(kura_buf_err(&b), 0);
    return b.ptr;
}

/* The scan reads what it can judge completely and hands everything else to jansson, which
 * decides; both agree on the values. */
static void test_scan_and_full_parse(void **state)
{
    (void)state;
    static const struct {
        const char *roles, *action, *detail;
        bool scanned, valid;
    } cases[] = {
        {"\"auditor\"", "\"http.get\"", "{\"a\":[1,-2.5,true,null,\"\\u00e9\"],\"b\":{}}", true,
         true},
        {"\"x\\ty\"", "\"http.get\"", "null", true, true}, /* escapes in an unread field */
        {"null", "\"http\\/get\"", "null", false, true},   /* escape in a read field */
        {"null", "\"a\"", "{\"n\":1e3}", false, true},     /* exponent */
        {"null", "\"a\"", "{\"n\":1234567890123456789}", false, true}, /* 19 digits */
        {"null", "\"a\"", "{\"k\\u0041\":1}", false, true},            /* escaped key */
        {"null", "\"a\"",
         "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
         "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}}}}}}}}}",
         false, true},                                        /* deeper than the scan goes */
        {"\"\\ud83d\\ude00\"", "\"a\"", "null", false, true}, /* a surrogate pair */
        {"null", "\"a\"", "{\"k\":1,\"k\":2}", false, false}, /* duplicate key */
        {"\"\\u0000\"", "\"a\"", "null", false, false},       /* NUL */
        {"\"\xc0\xaf\"", "\"a\"", "null", false, false},      /* overlong UTF-8 */
        {"\"a\tb\"", "\"a\"", "null", false, false},          /* raw control character */
        {"null", "null", "null", false, false},               /* action must be a string */
        {"null", "\"a\"", "{\"n\":01}", false, false},        /* leading zero */
        {"null", "\"a\"", "[]", false, false},                /* detail not an object */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        char *rec = layout(cases[i].roles, cases[i].action, cases[i].detail);
        struct audit_record fast, full;
        struct kura_buf why = KURA_BUF_INIT(1024);
        int scanned = audit_record_scan(rec, strlen(rec), &fast);
        int parsed = audit_record_parse_full(rec, strlen(rec), &full, &why);
        if (scanned != (cases[i].scanned ? 0 : KURA_ESYNTAX) ||
            parsed != (cases[i].valid ? 0 : KURA_ECORRUPT)) {
            fail_msg("case %zu: scan %d, parse %d: %s", i, scanned, parsed, rec);
        }
        if (scanned == 0) {
            assert_int_equal(fast.index, full.index);
            assert_int_equal(fast.time_ms, full.time_ms);
            assert_memory_equal(fast.prev, full.prev, KURA_AUDIT_HASH_BYTES);
            assert_true(fast.elevated && full.elevated);
            assert_int_equal(fast.bytes, full.bytes);
            assert_string_equal(fast.result, full.result);
            assert_string_equal(fast.actor, full.actor);
            assert_string_equal(fast.action, full.action);
            assert_string_equal(fast.object, full.object);
            assert_string_equal(fast.source_ip, full.source_ip);
            assert_string_equal(fast.request_id, full.request_id);
            assert_string_equal(fast.reason, full.reason);
            assert_string_equal(fast.reason, "not_found");
            json_t *a = audit_record_detail(&fast), *b = audit_record_detail(&full);
            assert_true((a == NULL && b == NULL) || json_equal(a, b));
            audit_record_release(&fast);
        }
        if (parsed == 0) {
            audit_record_release(&full);
        }
        assert_int_equal(audit_record_parse(rec, strlen(rec), &full, &why),
                         cases[i].valid ? 0 : KURA_ECORRUPT);
        if (cases[i].valid) {
            audit_record_release(&full);
        }
        kura_buf_release(&why);
        kura_free(rec);
    }
}

/* kura_audit_read, the reading other areas use: the same fields either way, the detail's text
 * only from the fast path, a refusal for what is not a record. */
static void test_reading(void **state)
{
    (void)state;
    struct kura_audit_reading *rd = NULL;
    struct kura_audit_fields f;
    assert_int_equal(kura_audit_reading_new(&rd), 0);
    char *fast = layout("null", "\"dav.get\"", "{\"break_glass\":\"true\"}");
    assert_int_equal(kura_audit_read(rd, kura_str_make(fast, strlen(fast)), &f), 0);
    assert_int_equal(f.index, 3);
    assert_int_equal(f.bytes, 12);
    assert_true(f.elevated);
    assert_string_equal(f.action, "dav.get");
    assert_string_equal(f.reason, "not_found");
    assert_string_equal(f.result, "error");
    assert_non_null(f.detail_text.ptr);
    assert_true(kura_str_eq(f.detail_text, kura_str_make("{\"break_glass\":\"true\"}", 22)));
    assert_string_equal(
        json_string_value(json_object_get(kura_audit_read_detail(rd), "break_glass")), "true");
    /* An escape in a field read back: jansson reads it, and no text is offered. */
    char *slow = layout("null", "\"dav\\/get\"", "{\"k\":1}");
    assert_int_equal(kura_audit_read(rd, kura_str_make(slow, strlen(slow)), &f), 0);
    assert_string_equal(f.action, "dav/get");
    assert_string_equal(f.reason, "not_found");
    assert_null(f.detail_text.ptr);
    assert_int_equal(json_integer_value(json_object_get(kura_audit_read_detail(rd), "k")), 1);
    /* Not a record: refused, and the reading is still usable. */
    char *bad = layout("null", "null", "null");
    assert_int_equal(kura_audit_read(rd, kura_str_make(bad, strlen(bad)), &f), KURA_ECORRUPT);
    assert_null(kura_audit_read_detail(rd));
    assert_int_equal(kura_audit_read(rd, kura_str_make("{}", 2), &f), KURA_ECORRUPT);
    assert_int_equal(kura_audit_read(rd, kura_str_make(fast, strlen(fast)), &f), 0);
    kura_audit_reading_free(rd);
    kura_free(fast);
    kura_free(slow);
    kura_free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_form),
        cmocka_unit_test(test_hostile_strings),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_scan_and_full_parse),
        cmocka_unit_test(test_reading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
