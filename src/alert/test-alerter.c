/* Unit tests for the alerter thread over a real audit log, SQLite metadata and mail spool: a
 * burst of refusals becomes one alert, one alert.raised record and one grouped mail; a restart
 * resumes where it stopped without raising or mailing anything twice; a new installation does
 * not alert on history; operational alerts (raised from outside, the log failing) arrive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "crypto/crypto.h"

static char dir[64];
static int audit_fd = -1, spool_fd = -1;
static struct kura_sign_key *key;
static struct kura_conf *conf;
static struct kura_meta *meta;
static struct kura_audit *audit;
static struct kura_mailer *mailer;

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-test-alert-XXXXXX");
    static const char text[] = "[alerts]\n"
                               "mail_to = officer@example.org, second@example.org\n"
                               "mail_delay = 1\n"
                               "access_denied = 3\n"
                               "[audit]\nwarn_free_mb = 0\nrefuse_free_mb = 1\n";
    struct kura_buf err = KURA_BUF_INIT(4096);
    if (!mkdtemp(dir) || kura_sign_key_generate(&key) < 0 ||
        kura_conf_parse("t.conf", text, sizeof(text) - 1, &conf, &err) < 0) {
        return -1;
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/audit", dir);
    (void)mkdir(path, 0700);
    audit_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)snprintf(path, sizeof(path), "%s/spool", dir);
    (void)mkdir(path, 0700);
    spool_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)snprintf(path, sizeof(path), "%s/meta.db", dir);
    if (audit_fd < 0 || spool_fd < 0 || kura_meta_open("sqlite", path, KURA_META_CREATE, &meta) ||
        kura_meta_migrate(meta)) {
        return -1;
    }
    struct kura_audit_opts o = {audit_fd, key, "kura.localhost/audit/test", conf, true};
    int r = kura_audit_open(&o, &audit, &err);
    if (r == 0) {
        r = kura_mailer_start(spool_fd, conf, &mailer, &err);
    }
    if (r < 0) {
        print_error("setup: %s\n", err.ptr);
    }
    kura_buf_release(&err);
    return r;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    kura_mailer_stop(mailer);
    kura_audit_close(audit);
    kura_meta_close(meta);
    close(audit_fd);
    close(spool_fd);
    kura_sign_key_free(key);
    kura_conf_free(conf);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct kura_alerter *start(void)
{
    struct kura_alerter_opts o = {conf, audit, audit_fd, meta, spool_fd, mailer};
    struct kura_alerter *al = NULL;
    assert_int_equal(kura_alerter_start(&o, &al), 0);
    return al;
}

static void deny(const char *ip, int n)
{
    for (int i = 0; i < n; i++) {
        struct kura_audit_event ev = {.actor = "anonymous",
                                      .source_ip = ip,
                                      .action = "http.request",
                                      .result = KURA_AUDIT_DENIED,
                                      .reason = "forbidden"};
        assert_int_equal(kura_audit_emit_sync(audit, &ev, NULL), 0);
    }
}

/* Polls cond every 10 ms for up to 10 s: a condition, not a guessed delay. */
static bool wait_for(bool (*cond)(const void *), const void *arg)
{
    for (int i = 0; i < 1000; i++) {
        if (cond(arg)) {
            return true;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return cond(arg);
}

struct count {
    size_t n;
    const char *rule;
    uint64_t hits;
};

static int count_alert(void *ctx, const struct kura_alert *a)
{
    struct count *c = ctx;
    if (!c->rule || strcmp(a->rule, c->rule) == 0) {
        c->n++;
        c->hits += a->hits;
    }
    return 0;
}

static struct count alerts_of(const char *rule)
{
    struct count c = {0, rule, 0};
    assert_int_equal(kura_meta_alert_list(meta, false, count_alert, &c), 0);
    return c;
}

static size_t mails(void)
{
    size_t pending = 0, failed = 0;
    assert_int_equal(kura_mail_spool_count(spool_fd, &pending, &failed), 0);
    return pending + failed;
}

static bool caught_up(const void *arg)
{
    struct kura_alerter *al = (struct kura_alerter *)arg;
    return kura_alerter_position(al) >= kura_audit_size(audit);
}

static bool mails_at_least(const void *arg)
{
    return mails() >= *(const size_t *)arg;
}

static bool alert_exists(const void *arg)
{
    return alerts_of(arg).n > 0;
}

/* Counts records of an action in the log. */
static size_t records_of(const char *action)
{
    struct kura_audit_iter *it = NULL;
    assert_int_equal(kura_audit_iter_open(audit_fd, 0, &it), 0);
    size_t n = 0;
    struct kura_str rec;
    uint64_t index;
    while (kura_audit_iter_next(it, &rec, &index) == 1) {
        char needle[96];
        (void)snprintf(needle, sizeof(needle), "\"action\":\"%s\"", action);
        n += memmem(rec.ptr, rec.len, needle, strlen(needle)) != NULL;
    }
    kura_audit_iter_free(it);
    return n;
}

static void test_history_is_not_alerted_on(void **state)
{
    (void)state;
    deny("192.0.2.1", 5); /* before the first alerter: history */
    struct kura_alerter *al = start();
    assert_true(wait_for(caught_up, al));
    al = kura_alerter_stop(al);
    assert_int_equal(alerts_of(NULL).n, 0);
    assert_int_equal(mails(), 0);
}

static void test_burst_is_one_alert_one_record_one_mail(void **state)
{
    (void)state;
    struct kura_alerter *al = start();
    deny("192.0.2.2", 10); /* 3 reach the threshold, 8 hits in all */
    deny("192.0.2.3", 3);
    assert_true(wait_for(caught_up, al));
    struct count c = alerts_of("access_denied");
    assert_int_equal(c.n, 2);
    assert_int_equal(c.hits, 8 + 1);
    size_t one = 1;
    assert_true(wait_for(mails_at_least, &one)); /* both alerts in one mail, after mail_delay */
    assert_true(wait_for(caught_up, al));
    assert_int_equal(records_of("alert.raised"), 2);
    /* More hits inside the quiet period add to the open alert: no new alert, no new mail. */
    deny("192.0.2.2", 2);
    assert_true(wait_for(caught_up, al));
    al = kura_alerter_stop(al);
    assert_int_equal(alerts_of("access_denied").n, 2);
    assert_int_equal(alerts_of("access_denied").hits, 8 + 1 + 2);
    assert_int_equal(mails(), 1);
    assert_int_equal(records_of("alert.raised"), 2);
}

static void test_restart_resumes_without_repeats(void **state)
{
    (void)state;
    size_t before = alerts_of(NULL).n, mailed = mails();
    struct kura_alerter *al = start();
    assert_true(wait_for(caught_up, al));
    al = kura_alerter_stop(al);
    /* Records written while no alerter runs are read by the next one. */
    deny("192.0.2.4", 3);
    al = start();
    assert_true(wait_for(alert_exists, "access_denied"));
    assert_true(wait_for(caught_up, al));
    /* Stopping sends what waits, without waiting for mail_delay. */
    al = kura_alerter_stop(al);
    assert_int_equal(alerts_of(NULL).n, before + 1);
    assert_int_equal(mails(), mailed + 1);
    al = start();
    assert_true(wait_for(caught_up, al));
    al = kura_alerter_stop(al);
    assert_int_equal(alerts_of(NULL).n, before + 1);
    assert_int_equal(mails(), mailed + 1);
}

static void test_operational_alerts(void **state)
{
    (void)state;
    size_t mailed = mails();
    struct kura_alerter *al = start();
    json_t *d = json_pack("{s:s}", "target", "192.0.2.9:6514");
    kura_alerter_raise(al, "syslog_failing", d);
    json_decref(d);
    kura_alerter_raise(al, "this_rule_name_is_far_too_long_to_be_a_rule", NULL); /* ignored */
    assert_true(wait_for(alert_exists, "syslog_failing"));
#ifdef KURA_TEST_HOOKS
    al = kura_alerter_stop(al);
    kura_audit_inject_failure(audit, true);
    struct kura_audit_event ev = {.actor = "system", .action = "test.fail"};
    assert_int_equal(kura_audit_emit_sync(audit, &ev, NULL), KURA_EAUDIT);
    al = start(); /* checks health at once */
    assert_true(wait_for(alert_exists, "audit_failing"));
    al = kura_alerter_stop(al);
    kura_audit_inject_failure(audit, false);
    assert_int_equal(alerts_of("audit_failing").n, 1);
    al = start();
#endif
    al = kura_alerter_stop(al);
    assert_true(mails() > mailed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_is_not_alerted_on),
        cmocka_unit_test(test_burst_is_one_alert_one_record_one_mail),
        cmocka_unit_test(test_restart_resumes_without_repeats),
        cmocka_unit_test(test_operational_alerts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
