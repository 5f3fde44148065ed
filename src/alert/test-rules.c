/* Unit tests for the alert rules: each rule fires at its threshold and not below it, windows
 * slide and expire, resets reset, hostile records (wrong types, many keys) are harmless, and
 * the mail text of hostile keys still makes a valid mail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "alert/alert.h"

#define MIN_MS (60LL * 1000)
#define T0 (1795000000000LL - 1795000000000LL % (24 * 60 * MIN_MS)) /* a UTC midnight */

struct hits {
    size_t n;
    char rule[64][KURA_ALERT_RULE_MAX];
    char key[64][128];
    json_t *last_detail;
};

static struct hits hits;
static struct kura_conf *conf;
static struct kura_alert_rules *rules;
static uint64_t next_index;

static void on_hit(void *ctx, const struct kura_alert_hit *h)
{
    (void)ctx;
    if (hits.n < 64) {
        (void)snprintf(hits.rule[hits.n], sizeof(hits.rule[0]), "%s", h->rule);
        (void)snprintf(hits.key[hits.n], sizeof(hits.key[0]), "%s", h->key);
    }
    json_decref(hits.last_detail);
    hits.last_detail = json_deep_copy(h->detail);
    hits.n++;
}

static void reset_hits(void)
{
    json_decref(hits.last_detail);
    memset(&hits, 0, sizeof(hits));
}

static void start(const char *text)
{
    struct kura_buf err = KURA_BUF_INIT(4096);
    conf = NULL;
    int r = kura_conf_parse("t.conf", text, strlen(text), &conf, &err);
    if (r < 0) {
        print_error("%s\n", err.ptr);
    }
    assert_int_equal(r, 0);
    kura_buf_release(&err);
    assert_int_equal(kura_alert_rules_new(conf, &rules), 0);
    reset_hits();
    next_index = 0;
}

static void stop(void)
{
    rules = kura_alert_rules_free(rules);
    conf = kura_conf_free(conf);
    reset_hits();
}

/* Feeds {"action", "actor", "result", "reason", "source_ip", "object", "bytes"} at time t. */
static void feed_full(int64_t t, const char *action, const char *actor, const char *result,
                      const char *reason, const char *ip, const char *object, uint64_t bytes,
                      json_t *detail)
{
    json_t *rec = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:I,s:o?}", "action", action, "actor",
                            actor, "result", result, "reason", reason, "source_ip", ip, "object",
                            object, "bytes", (json_int_t)bytes, "detail", detail);
    assert_non_null(rec);
    assert_int_equal(kura_alert_rules_feed(rules, rec, next_index++, t, on_hit, NULL), 0);
    json_decref(rec);
}

static void feed(int64_t t, const char *action, const char *actor, const char *result,
                 const char *reason, const char *ip)
{
    feed_full(t, action, actor, result, reason, ip, NULL, 0, NULL);
}

static void test_config_change_but_not_the_first(void **state)
{
    (void)state;
    start("");
    feed_full(T0, "config.change", "system", "ok", NULL, NULL, NULL, 0,
              json_pack("{s:b,s:{}}", "first", 1, "changed"));
    assert_int_equal(hits.n, 0);
    feed_full(T0, "config.change", "system", "ok", NULL, NULL, NULL, 0,
              json_pack("{s:b,s:{s:[s,s]}}", "first", 0, "changed", "http.listen", "a", "b"));
    assert_int_equal(hits.n, 1);
    assert_string_equal(hits.rule[0], "config_change");
    assert_non_null(json_object_get(hits.last_detail, "changed"));
    stop();
}

static void test_unclean_stop_and_verify_failure(void **state)
{
    (void)state;
    start("");
    feed_full(T0, "server.start", "system", "ok", NULL, NULL, NULL, 0,
              json_pack("{s:b}", "unclean_stop", 0));
    assert_int_equal(hits.n, 0);
    feed_full(T0, "server.start", "system", "ok", NULL, NULL, NULL, 0,
              json_pack("{s:b,s:i}", "unclean_stop", 1, "cut_bytes", 10));
    assert_int_equal(hits.n, 1);
    assert_string_equal(hits.rule[0], "unclean_stop");
    feed(T0, "cli.audit.verify", "cli:root", "ok", NULL, NULL);
    assert_int_equal(hits.n, 1);
    feed(T0, "cli.audit.verify", "cli:root", "error", NULL, NULL);
    assert_int_equal(hits.n, 2);
    assert_string_equal(hits.rule[1], "verify_failed");
    stop();
}

static void test_access_denied_threshold_per_key(void **state)
{
    (void)state;
    start("[alerts]\naccess_denied = 10\naccess_window = 300\n");
    for (int i = 0; i < 9; i++) {
        feed(T0 + i * 1000, "http.request", "anonymous", "denied", "host_not_allowed", "192.0.2.1");
        feed(T0 + i * 1000, "http.request", "anonymous", "denied", "forbidden", "192.0.2.2");
        /* The 401 challenge every client meets first is not a refusal. */
        feed(T0 + i * 1000, "http.request", "anonymous", "denied", "unauthenticated", "192.0.2.1");
    }
    assert_int_equal(hits.n, 0);
    feed(T0 + 9000, "http.request", "anonymous", "denied", "host_not_allowed", "192.0.2.1");
    assert_int_equal(hits.n, 1);
    assert_string_equal(hits.rule[0], "access_denied");
    assert_string_equal(hits.key[0], "192.0.2.1");
    assert_int_equal(json_integer_value(json_object_get(hits.last_detail, "count")), 10);
    /* Above the threshold every further refusal is a hit (the alerter folds them). */
    feed(T0 + 9500, "http.request", "anonymous", "denied", "forbidden", "192.0.2.1");
    assert_int_equal(hits.n, 2);
    /* A signed-in user is keyed by account, whatever the address. */
    for (int i = 0; i < 10; i++) {
        char ip[32];
        (void)snprintf(ip, sizeof(ip), "198.51.100.%d", i);
        feed(T0 + 10000, "file.read", "user:alice", "denied", "forbidden", ip);
    }
    assert_int_equal(hits.n, 3);
    assert_string_equal(hits.key[2], "user:alice");
    stop();
}

static void test_windows_slide_and_expire(void **state)
{
    (void)state;
    start("[alerts]\naccess_denied = 10\naccess_window = 600\n");
    int64_t w = 600 * 1000;
    /* 6 in the first window, then 6 in the middle of the next: the estimate is
     * 6 × 0.5 + 6 = 9, below 10. */
    for (int i = 0; i < 6; i++) {
        feed(T0 + i, "x.y", "anonymous", "denied", "forbidden", "192.0.2.9");
    }
    for (int i = 0; i < 6; i++) {
        feed(T0 + w + w / 2 + i, "x.y", "anonymous", "denied", "forbidden", "192.0.2.9");
    }
    assert_int_equal(hits.n, 0);
    stop();
    /* Early in a window the previous one still weighs nearly fully: 6 × ~1 + 5 → hit. */
    start("[alerts]\naccess_denied = 10\naccess_window = 600\n");
    for (int i = 0; i < 6; i++) {
        feed(T0 + w - 10 + i, "x.y", "anonymous", "denied", "forbidden", "192.0.2.9");
    }
    for (int i = 0; i < 4; i++) {
        feed(T0 + w + 1 + i, "x.y", "anonymous", "denied", "forbidden", "192.0.2.9");
    }
    assert_int_equal(hits.n, 0); /* 6 × (1 - 4/600000) + 4 < 10 */
    feed(T0 + w + 5, "x.y", "anonymous", "denied", "forbidden", "192.0.2.9");
    assert_int_equal(hits.n, 1);
    stop();
    /* Two windows later everything is forgotten. */
    start("[alerts]\naccess_denied = 10\naccess_window = 600\n");
    for (int i = 0; i < 9; i++) {
        feed(T0 + i, "x.y", "anonymous", "denied", "forbidden", "192.0.2.9");
    }
    feed(T0 + 2 * w + 5, "x.y", "anonymous", "denied", "forbidden", "192.0.2.9");
    assert_int_equal(hits.n, 0);
    /* A clock that steps back counts into the current window, without harm. */
    feed(T0 - 5 * w, "x.y", "anonymous", "denied", "forbidden", "192.0.2.9");
    assert_int_equal(hits.n, 0);
    stop();
}

static void test_auth_failures_consecutive_and_by_source(void **state)
{
    (void)state;
    start("[alerts]\nauth_failures = 5\nsource_failures = 9\nsource_window = 600\n");
    for (int i = 0; i < 4; i++) {
        feed_full(T0 + i, "auth.login", "anonymous", "denied", "bad_password", "192.0.2.5", "alice",
                  0, NULL);
    }
    feed_full(T0 + 10, "auth.login", "user:alice", "ok", NULL, "192.0.2.5", "alice", 0, NULL);
    for (int i = 0; i < 4; i++) {
        feed_full(T0 + 20 + i, "auth.login", "anonymous", "denied", "bad_password", "192.0.2.5",
                  "alice", 0, NULL);
    }
    assert_int_equal(hits.n, 0); /* 4, success, 4: never 5 in a row; 8 of 9 from the address */
    feed_full(T0 + 30, "auth.login", "anonymous", "denied", "bad_password", "192.0.2.5", "alice", 0,
              NULL);
    /* The fifth in a row, and the ninth from this address. */
    assert_int_equal(hits.n, 2);
    assert_string_equal(hits.rule[0], "auth_failures");
    assert_string_equal(hits.key[0], "alice");
    assert_string_equal(hits.rule[1], "source_failures");
    assert_string_equal(hits.key[1], "192.0.2.5");
    /* Auth refusals are not also counted as access_denied. */
    for (size_t i = 0; i < hits.n && i < 64; i++) {
        assert_string_not_equal(hits.rule[i], "access_denied");
    }
    stop();
}

static void test_malformed_requests(void **state)
{
    (void)state;
    start("[alerts]\nmalformed = 3\n");
    feed(T0, "http.request", "anonymous", "error", "internal_error", "192.0.2.7");
    feed(T0, "http.request", "anonymous", "error", "not_found", "192.0.2.7");
    feed(T0, "http.request", "anonymous", "error", "bad_path", "192.0.2.7");
    feed(T0, "http.request", "anonymous", "error", "bad_framing", "192.0.2.7");
    assert_int_equal(hits.n, 0);
    feed(T0, "http.request", "anonymous", "error", "invalid_utf8", "192.0.2.7");
    assert_int_equal(hits.n, 1);
    assert_string_equal(hits.rule[0], "malformed");
    assert_string_equal(hits.key[0], "192.0.2.7");
    stop();
}

static void test_mass_transfer_by_files_and_by_bytes(void **state)
{
    (void)state;
    start("[alerts]\ntransfer_files = 5\ntransfer_mb = 100\n");
    for (int i = 0; i < 4; i++) {
        feed_full(T0 + i, "file.read", "user:bob", "ok", NULL, "192.0.2.1", "/d/f", 1024, NULL);
        /* Anonymous, refused and non-read records do not count. */
        feed_full(T0 + i, "file.read", "anonymous", "ok", NULL, "192.0.2.1", "/d/f", 1024, NULL);
        feed_full(T0 + i, "file.read", "user:bob", "denied", "forbidden", "192.0.2.1", "/d/f", 0,
                  NULL);
        feed_full(T0 + i, "file.write", "user:bob", "ok", NULL, "192.0.2.1", "/d/f", 1024, NULL);
    }
    assert_int_equal(hits.n, 0); /* 4 reads; the four denials are below access_denied */
    feed_full(T0 + 5, "file.read", "user:bob", "ok", NULL, "192.0.2.1", "/d/f", 1024, NULL);
    assert_int_equal(hits.n, 1);
    assert_string_equal(hits.rule[0], "mass_transfer");
    assert_string_equal(hits.key[0], "user:bob");
    /* Bytes: one read of 100 MiB. */
    feed_full(T0 + 6, "file.read", "user:carol", "ok", NULL, NULL, "/d/big", 99ULL << 20, NULL);
    assert_int_equal(hits.n, 1);
    feed_full(T0 + 7, "file.read", "user:carol", "ok", NULL, NULL, "/d/big", 1ULL << 20, NULL);
    assert_int_equal(hits.n, 2);
    assert_string_equal(hits.key[1], "user:carol");
    assert_int_equal(json_integer_value(json_object_get(hits.last_detail, "mib_per_hour")), 100);
    stop();
}

static void test_off_hours_including_midnight(void **state)
{
    (void)state;
    start("[alerts]\noff_hours = 22:00-06:00\n");
    feed(T0 + 21 * 60 * MIN_MS, "file.read", "user:a", "ok", NULL, NULL);
    feed(T0 + 6 * 60 * MIN_MS, "file.read", "user:a", "ok", NULL, NULL);
    feed(T0 + 23 * 60 * MIN_MS, "file.read", "anonymous", "ok", NULL, NULL);
    feed(T0 + 23 * 60 * MIN_MS, "http.request", "user:a", "ok", NULL, NULL);
    assert_int_equal(hits.n, 0);
    feed(T0 + 22 * 60 * MIN_MS, "file.read", "user:a", "ok", NULL, NULL);
    feed(T0 + 5 * 60 * MIN_MS + 59 * MIN_MS, "file.write", "user:a", "ok", NULL, NULL);
    assert_int_equal(hits.n, 2);
    assert_string_equal(hits.rule[0], "off_hours");
    stop();
    start("[alerts]\noff_hours = 12:00-13:00\n");
    feed(T0 + 12 * 60 * MIN_MS + 30 * MIN_MS, "file.read", "user:a", "ok", NULL, NULL);
    feed(T0 + 13 * 60 * MIN_MS, "file.read", "user:a", "ok", NULL, NULL);
    assert_int_equal(hits.n, 1);
    stop();
    start(""); /* off by default */
    feed(T0 + 3 * 60 * MIN_MS, "file.read", "user:a", "ok", NULL, NULL);
    assert_int_equal(hits.n, 0);
    stop();
}

static void test_unusual_network(void **state)
{
    (void)state;
    start("[alerts]\nusual_networks = 10.0.0.0/8, 2001:db8::/32, 192.0.2.7\n");
    feed(T0, "file.read", "user:a", "ok", NULL, "10.1.2.3");
    feed(T0, "file.read", "user:a", "ok", NULL, "2001:db8::99");
    feed(T0, "file.read", "user:a", "ok", NULL, "192.0.2.7");
    feed(T0, "http.request", "anonymous", "ok", NULL, "198.51.100.1"); /* not a user */
    feed(T0, "file.read", "user:a", "ok", NULL, "not-an-address");
    assert_int_equal(hits.n, 0);
    feed(T0, "file.read", "user:a", "ok", NULL, "192.0.2.8");
    feed(T0, "auth.login", "user:b", "ok", NULL, "2001:db9::1");
    assert_int_equal(hits.n, 2);
    assert_string_equal(hits.rule[0], "unusual_network");
    assert_string_equal(hits.key[1], "user:b");
    stop();
    start(""); /* off by default */
    feed(T0, "file.read", "user:a", "ok", NULL, "203.0.113.1");
    assert_int_equal(hits.n, 0);
    stop();
}

static void test_changes_privilege_and_own_records(void **state)
{
    (void)state;
    start("");
    feed_full(T0, "account.create", "user:admin", "ok", NULL, NULL, "user:new", 0, NULL);
    feed_full(T0, "grant.add", "user:admin", "ok", NULL, NULL, "dataset:D1", 0, NULL);
    feed_full(T0, "application.approve", "user:admin", "ok", NULL, NULL, "app:7", 0, NULL);
    feed_full(T0, "audit.key", "cli:root", "ok", NULL, NULL, NULL, 0, NULL);
    assert_int_equal(hits.n, 4);
    assert_string_equal(hits.rule[0], "account_change");
    assert_string_equal(hits.key[0], "user:new");
    assert_string_equal(hits.rule[1], "permission_change");
    assert_string_equal(hits.rule[2], "permission_change");
    assert_string_equal(hits.rule[3], "permission_change");
    /* The same changes made at the console, and a listing that changes nothing. */
    feed_full(T0, "cli.user.set-roles", "cli:root", "ok", NULL, NULL, "bob", 0, NULL);
    feed_full(T0, "cli.user.disable", "cli:root", "ok", NULL, NULL, "bob", 0, NULL);
    feed_full(T0, "cli.user.list", "cli:root", "ok", NULL, NULL, "accounts", 0, NULL);
    assert_int_equal(hits.n, 6);
    assert_string_equal(hits.rule[4], "permission_change");
    assert_string_equal(hits.rule[5], "account_change");
    assert_string_equal(hits.key[5], "bob");
    /* An emergency account's enabling and its use. */
    feed_full(T0, "account.break_glass_enable", "user:admin", "ok", NULL, NULL, "emergency", 0,
              NULL);
    feed_full(T0, "session.me", "user:emergency", "ok", NULL, NULL, "/api/v1/me", 0,
              json_pack("{s:s}", "break_glass", "true"));
    assert_int_equal(hits.n, 9);
    assert_string_equal(hits.rule[6], "account_change");
    assert_string_equal(hits.rule[7], "break_glass");
    assert_string_equal(hits.key[7], "emergency");
    assert_string_equal(hits.rule[8], "break_glass");
    assert_string_equal(hits.key[8], "user:emergency");
    /* A sealed credential tried, even without success, is reported. */
    feed_full(T0, "auth.break_glass_unseal", "anonymous", "denied", NULL, NULL, "emergency", 0,
              NULL);
    assert_int_equal(hits.n, 10);
    assert_string_equal(hits.rule[9], "break_glass");
    assert_string_equal(hits.key[9], "emergency");
    hits.n = 4;
    json_t *rec = json_pack("{s:s,s:s,s:b,s:s}", "action", "dataset.read", "actor", "user:admin",
                            "elevated", 1, "result", "ok");
    assert_int_equal(kura_alert_rules_feed(rules, rec, 9, T0, on_hit, NULL), 0);
    json_decref(rec);
    assert_int_equal(hits.n, 5); /* reading is no change, but the role was elevated */
    assert_string_equal(hits.rule[4], "privileged_use");
    assert_string_equal(hits.key[4], "user:admin");
    /* The alert area's own records never feed rules (no loops). */
    feed_full(T0, "alert.raised", "system", "ok", NULL, NULL, "1", 0,
              json_pack("{s:b}", "unclean_stop", 1));
    assert_int_equal(hits.n, 5);
    stop();
}

static void test_hostile_records(void **state)
{
    (void)state;
    start("[alerts]\naccess_denied = 2\n");
    /* Wrong types are absent fields: nothing fires, nothing crashes. */
    const char *texts[] = {
        "{}",
        "{\"action\":5}",
        "{\"action\":\"http.request\",\"result\":[],\"source_ip\":{}}",
        "{\"action\":\"config.change\",\"detail\":\"first\"}",
        "{\"action\":\"server.start\",\"detail\":[1]}",
        "{\"action\":\"http.request\",\"result\":\"denied\",\"bytes\":-5}",
        "{\"action\":\"file.read\",\"result\":\"ok\",\"actor\":\"user:x\",\"bytes\":\"1\"}",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(texts); i++) {
        json_t *rec = json_loads(texts[i], 0, NULL);
        assert_non_null(rec);
        assert_int_equal(kura_alert_rules_feed(rules, rec, i, T0, on_hit, NULL), 0);
        json_decref(rec);
    }
    /* A config.change record is a change whatever its detail; the one keyless denial is below
     * the threshold of 2. */
    assert_int_equal(hits.n, 1);
    assert_string_equal(hits.rule[0], "config_change");
    stop();
    /* More distinct keys than the table holds: it stays bounded, and still works. */
    start("[alerts]\naccess_denied = 2\n");
    for (uint64_t i = 0; i < KURA_ALERT_KEYS_MAX + 5000; i++) {
        char ip[40];
        (void)snprintf(ip, sizeof(ip), "2001:db8::%llx", (unsigned long long)i);
        feed(T0 + (int64_t)(i / 1000), "http.request", "anonymous", "denied", "forbidden", ip);
    }
    assert_true(kura_alert_rules_tracked(rules) <= KURA_ALERT_KEYS_MAX);
    assert_int_equal(hits.n, 0);
    feed(T0 + 100, "http.request", "anonymous", "denied", "forbidden", "192.0.2.200");
    feed(T0 + 100, "http.request", "anonymous", "denied", "forbidden", "192.0.2.200");
    assert_int_equal(hits.n, 1);
    /* A day later the idle keys are swept. */
    feed(T0 + 25 * 60 * MIN_MS, "http.request", "anonymous", "denied", "forbidden", "192.0.2.1");
    assert_true(kura_alert_rules_tracked(rules) < 10);
    stop();
}

static int detail_calls;

static json_t *counted_detail(void *ctx)
{
    detail_calls++;
    return ctx;
}

/* Records read by kura_audit_read: the same rules, and the detail is built only for a record
 * whose text may hold a key a rule reads. */
static void test_fields_build_the_detail_only_when_read(void **state)
{
    (void)state;
    start("[alerts]\ntransfer_files = 2\n");
    json_t *plain = json_pack("{s:s,s:i}", "method", "GET", "status", 200);
    const char *plain_text = "{\"method\":\"GET\",\"status\":200}";
    struct kura_audit_fields f = {
        .time_ms = T0,
        .actor = "user:rin",
        .source_ip = "192.0.2.7",
        .action = "dav.get",
        .object = "/home/a",
        .result = "ok",
        .bytes = 4096,
        .detail_text = kura_str_make(plain_text, strlen(plain_text)),
    };
    detail_calls = 0;
    for (int i = 0; i < 2; i++) {
        f.index = (uint64_t)i;
        assert_int_equal(
            kura_alert_rules_feed_fields(rules, &f, counted_detail, plain, on_hit, NULL), 0);
    }
    assert_int_equal(detail_calls, 0);
    assert_int_equal(hits.n, 1); /* the second file read reaches transfer_files = 2 */
    assert_string_equal(hits.rule[0], "mass_transfer");
    /* A record of an emergency session: its text names the key, so the detail is read. */
    json_t *glass = json_pack("{s:s}", "break_glass", "true");
    const char *glass_text = "{\"break_glass\":\"true\"}";
    f.action = "dav.propfind";
    f.detail_text = kura_str_make(glass_text, strlen(glass_text));
    assert_int_equal(kura_alert_rules_feed_fields(rules, &f, counted_detail, glass, on_hit, NULL),
                     0);
    assert_int_equal(detail_calls, 1);
    assert_int_equal(hits.n, 2);
    assert_string_equal(hits.rule[1], "break_glass");
    /* No text (the record needed jansson): the detail is always read. */
    f.detail_text = kura_str_make(NULL, 0);
    assert_int_equal(kura_alert_rules_feed_fields(rules, &f, counted_detail, glass, on_hit, NULL),
                     0);
    assert_int_equal(detail_calls, 2);
    assert_int_equal(hits.n, 3);
    /* The key named only as a value: read, and no hit. */
    const char *value_text = "{\"note\":\"break_glass\"}";
    json_t *value = json_pack("{s:s}", "note", "break_glass");
    f.detail_text = kura_str_make(value_text, strlen(value_text));
    assert_int_equal(kura_alert_rules_feed_fields(rules, &f, counted_detail, value, on_hit, NULL),
                     0);
    assert_int_equal(detail_calls, 3);
    assert_int_equal(hits.n, 3);
    json_decref(plain);
    json_decref(glass);
    json_decref(value);
    stop();
}

static void test_mail_text_of_hostile_keys_is_a_valid_mail(void **state)
{
    (void)state;
    struct kura_alert alerts[2] = {
        {.id = 7,
         .rule = "auth_failures",
         .key = "evil\r\nBcc: x@example.com\x01\xe3\x81\x82",
         .first_idx = 3,
         .last_idx = 9,
         .hits = 5,
         .first_time = T0,
         .last_time = T0 + 1000,
         .detail = "{\"reason\":\"bad_password\"}"},
        {.id = 8, .rule = "syslog_failing", .key = "", .hits = 1, .detail = "{}"},
    };
    struct kura_buf subject = KURA_BUF_INIT(KURA_MAIL_SUBJECT_MAX);
    struct kura_buf body = KURA_BUF_INIT(KURA_MAIL_BODY_MAX);
    kura_alert_mail_text(alerts, 2, 5, &subject, &body);
    assert_int_equal(kura_buf_err(&subject), 0);
    assert_non_null(strstr(subject.ptr, "auth_failures"));
    assert_non_null(strstr(subject.ptr, "+4 more"));
    assert_non_null(strstr(body.ptr, "\"evil\\r\\nBcc: x@example.com\\u0001あ\""));
    assert_non_null(strstr(body.ptr, "3 more"));
    assert_non_null(strstr(body.ptr, "ログサーバーへの転送"));
    const char *to[] = {"officer@example.org"};
    struct kura_mail_msg msg = {to, 1, kura_buf_str(&subject), kura_buf_str(&body)};
    struct kura_buf out = KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX);
    assert_int_equal(kura_mail_compose(&msg, "kura@example.org", &out), 0);
    kura_buf_release(&out);
    json_t *hook = kura_alert_webhook_json(alerts, 2, 5);
    assert_non_null(hook);
    assert_int_equal(json_integer_value(json_object_get(hook, "total")), 5);
    json_t *first = json_array_get(json_object_get(hook, "alerts"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "key")), alerts[0].key);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(first, "detail"), "reason")),
        "bad_password");
    json_decref(hook);
    kura_buf_release(&subject);
    kura_buf_release(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_change_but_not_the_first),
        cmocka_unit_test(test_unclean_stop_and_verify_failure),
        cmocka_unit_test(test_access_denied_threshold_per_key),
        cmocka_unit_test(test_windows_slide_and_expire),
        cmocka_unit_test(test_auth_failures_consecutive_and_by_source),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_mass_transfer_by_files_and_by_bytes),
        cmocka_unit_test(test_off_hours_including_midnight),
        cmocka_unit_test(test_unusual_network),
        cmocka_unit_test(test_changes_privilege_and_own_records),
        cmocka_unit_test(test_hostile_records),
        cmocka_unit_test(test_fields_build_the_detail_only_when_read),
        cmocka_unit_test(test_mail_text_of_hostile_keys_is_a_valid_mail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
