/* Unit tests for the monthly report: month boundaries, only the month's records counted, the
 * files and their modes, the alerts of the month with their handling, and hostile text from
 * records (HTML tags, spreadsheet formulas) made harmless. */
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
#include <unistd.h>

#include "report/report.h"

#define NOV 1793491200000LL /* 2026-11-01T00:00:00Z */
#define DEC 1796083200000LL
#define JAN 1798761600000LL

static char dir[64];
static int out_fd = -1;
static struct kura_meta *meta;

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-test-report-XXXXXX");
    char path[128];
    if (!mkdtemp(dir)) {
        return -1;
    }
    (void)snprintf(path, sizeof(path), "%s/meta.db", dir);
    if (kura_meta_open("sqlite", path, KURA_META_CREATE, &meta) < 0 || kura_meta_migrate(meta)) {
        return -1;
    }
    (void)snprintf(path, sizeof(path), "%s/out", dir);
    (void)mkdir(path, 0700);
    out_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return out_fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    kura_meta_close(meta);
    close(out_fd);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint64_t next_idx;

static void put(int64_t t, const char *actor, const char *action, const char *result,
                const char *ip, uint64_t bytes, const char *detail)
{
    char rec[1024];
    (void)snprintf(rec, sizeof(rec),
                   "{\"index\":%llu,\"actor\":\"%s\",\"action\":\"%s\",\"result\":\"%s\","
                   "\"reason\":%s,\"detail\":%s}",
                   (unsigned long long)next_idx, actor, action, result,
                   strcmp(result, "ok") ? "\"forbidden\"" : "null", detail ? detail : "null");
    struct kura_audit_row row = {.idx = next_idx++,
                                 .time = t,
                                 .actor = actor,
                                 .action = action,
                                 .result = result,
                                 .source_ip = ip,
                                 .bytes = bytes,
                                 .record = rec};
    assert_int_equal(kura_meta_audit_index_put(meta, &row, 1), 0);
}

static char *read_out(const char *name)
{
    static char buf[1 << 20];
    int fd = openat(out_fd, name, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
    return buf;
}

static void test_month_range(void **state)
{
    (void)state;
    int64_t from, to;
    assert_int_equal(kura_report_month_range("2026-11", &from, &to), 0);
    assert_int_equal(from, NOV);
    assert_int_equal(to, DEC);
    assert_int_equal(kura_report_month_range("2026-12", &from, &to), 0);
    assert_int_equal(from, DEC);
    assert_int_equal(to, JAN);
    assert_int_equal(kura_report_month_range("2024-02", &from, &to), 0);
    assert_int_equal(to - from, 29LL * 86400000);
    assert_int_equal(kura_report_month_range("1970-01", &from, &to), 0);
    assert_int_equal(from, 0);
    static const char *const bad[] = {"2026-13",  "2026-00", "2026-1", "1969-12", "abcd-ef",
                                      "2026-11x", "2026/11", "",       "+026-11", "2026--1"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_int_equal(kura_report_month_range(bad[i], &from, &to), KURA_ESYNTAX);
    }
}

static void test_report_of_a_month(void **state)
{
    (void)state;
    put(NOV - 1, "user:alice", "file.read", "ok", "192.0.2.1", 100, NULL); /* October */
    for (int i = 0; i < 3; i++) {
        put(NOV + i, "user:alice", "file.read", "ok", "192.0.2.1", 1000, NULL);
    }
    put(NOV + 10, "user:bob", "http.request", "denied", "198.51.100.7", 0, NULL);
    put(NOV + 11, "=cmd|' /C calc'!A0", "http.request", "denied", "198.51.100.7", 0, NULL);
    put(NOV + 12, "<script>alert(1)</script>", "http.request", "ok", "203.0.113.9", 0, NULL);
    put(NOV + 20, "system", "config.change", "ok", NULL, 0,
        "{\"first\":false,\"changed\":{\"http.listen\":[\"a\",\"b\"]}}");
    put(NOV + 21, "cli:root", "cli.alerts.ack", "ok", NULL, 0, "{\"note\":\"<b>done</b>\"}");
    put(DEC, "user:alice", "file.read", "ok", "192.0.2.1", 5, NULL); /* December */

    uint64_t id;
    bool is_new;
    struct kura_alert in = {.rule = "access_denied",
                            .key = "198.51.100.7",
                            .first_idx = 4,
                            .last_idx = 5,
                            .hits = 2,
                            .first_time = NOV + 10,
                            .last_time = NOV + 11,
                            .detail = "{}"};
    assert_int_equal(kura_meta_alert_raise(meta, &in, 1000, &id, &is_new), 0);
    assert_int_equal(kura_meta_alert_ack(meta, id, "cli:root", "blocked <at> firewall", NOV + 30),
                     0);
    struct kura_alert old = {.rule = "malformed",
                             .key = "x",
                             .hits = 1,
                             .first_time = NOV - 5000,
                             .last_time = NOV - 4000,
                             .detail = "{}"};
    assert_int_equal(kura_meta_alert_raise(meta, &old, 1000, &id, &is_new), 0);

    struct kura_report_verdict v = {.ok = true, .records = 10, .checkpoint = 10, .witnessed = 2};
    struct kura_report_monthly_opts o = {meta,       "2026-11", "kura.localhost/audit/x",
                                         "cli:root", &v,        out_fd};
    struct kura_report_summary sum;
    struct kura_buf err = KURA_BUF_INIT(1024);
    assert_int_equal(kura_report_monthly(&o, &sum, &err), 0);
    kura_buf_release(&err);
    assert_int_equal(sum.records, 8);
    assert_int_equal(sum.denied, 2);
    assert_int_equal(sum.ok, 6);
    assert_int_equal(sum.alerts, 1);
    assert_int_equal(sum.changes, 2);

    const char *actors = read_out("kura-audit-2026-11-actors.csv");
    assert_non_null(strstr(actors, "actor,records,refused,errors,bytes,files_read,bytes_read\r\n"));
    assert_non_null(strstr(actors, "user:alice,3,0,0,3000,3,3000\r\n"));
    assert_non_null(strstr(actors, "\"'=cmd|' /C calc'!A0\",1,1,0,0,0,0\r\n"));
    const char *sources = read_out("kura-audit-2026-11-sources.csv");
    assert_non_null(strstr(sources, "198.51.100.7,2,2,0\r\n"));
    const char *changes = read_out("kura-audit-2026-11-changes.csv");
    assert_non_null(strstr(changes, ",system,config.change,,ok,"));
    assert_non_null(strstr(changes, "cli.alerts.ack"));
    const char *alerts = read_out("kura-audit-2026-11-alerts.csv");
    assert_non_null(strstr(alerts, ",access_denied,198.51.100.7,2,"));
    assert_non_null(strstr(alerts, "acknowledged,cli:root,"));
    assert_null(strstr(alerts, "malformed"));
    const char *actions = read_out("kura-audit-2026-11-actions.csv");
    assert_non_null(strstr(actions, "file.read,ok,,3,3000\r\n"));
    assert_non_null(strstr(actions, "http.request,denied,forbidden,2,0\r\n"));

    const char *page = read_out("kura-audit-2026-11.html");
    assert_null(strstr(page, "<script>"));
    assert_null(strstr(page, "<b>done"));
    assert_non_null(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(page, "blocked &lt;at&gt; firewall"));
    assert_non_null(strstr(page, "正常 / OK"));
    assert_non_null(strstr(page, "user:alice"));

    /* A failed verification is the first thing the page says. */
    v = (struct kura_report_verdict){.ok = false, .reason = "record 5 <changed>"};
    err = (struct kura_buf)KURA_BUF_INIT(1024);
    assert_int_equal(kura_report_monthly(&o, NULL, &err), 0);
    page = read_out("kura-audit-2026-11.html");
    assert_non_null(strstr(page, "異常 / FAILED: record 5 &lt;changed&gt;"));
    /* A month without records is a report of zeros, not an error. */
    o.month = "2025-01";
    assert_int_equal(kura_report_monthly(&o, &sum, &err), 0);
    assert_int_equal(sum.records, 0);
    assert_int_equal(sum.alerts, 0);
    assert_non_null(strstr(read_out("kura-audit-2025-01.html"), "なし / none"));
    /* A bad month is refused with a message. */
    o.month = "2026-13";
    assert_int_equal(kura_report_monthly(&o, NULL, &err), KURA_ESYNTAX);
    assert_non_null(strstr(err.ptr, "YYYY-MM"));
    kura_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_month_range),
        cmocka_unit_test(test_report_of_a_month),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
