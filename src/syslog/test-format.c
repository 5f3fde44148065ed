/* test-format.c — RFC 5424 messages and RFC 5425 octet counting, byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "syslog-internal.h"

#define BOM "\xef\xbb\xbf"
#define ORIGIN "kura.example.org/audit/0f5c"
#define RECORD                                                                                     \
    "{\"index\":42,\"time\":\"2026-11-22T01:14:16.311Z\",\"prev\":\"00\",\"action\":\"x\"}"

static const struct syslog_msg_conf conf = {.facility = 4,
                                            .pen = 32473,
                                            .hostname = "host.example.org",
                                            .procid = "1234",
                                            .origin = ORIGIN};

/* Splits one frame "LEN SP MSG" and checks LEN is exactly the length of MSG. */
static struct kura_str frame_msg(struct kura_str f)
{
    const char *sp = memchr(f.ptr, ' ', f.len);
    assert_non_null(sp);
    uint64_t n;
    assert_int_equal(kura_parse_u64(f.ptr, (size_t)(sp - f.ptr), UINT64_MAX, &n), 0);
    struct kura_str m = {sp + 1, f.len - (size_t)(sp + 1 - f.ptr)};
    assert_int_equal(n, m.len);
    return m;
}

static void test_record_exact(void **state)
{
    (void)state;
    struct kura_buf out = KURA_BUF_INIT(65536);
    assert_int_equal(syslog_frame_record(&conf, 42, KURA_STR(RECORD), &out), 0);
    static const char msg[] = "<38>1 2026-11-22T01:14:16.311Z host.example.org kura 1234 AUDIT "
                              "[kura@32473 index=\"42\" origin=\"" ORIGIN "\"] " BOM RECORD;
    char want[1024];
    int n = snprintf(want, sizeof(want), "%zu %s", sizeof(msg) - 1, msg);
    assert_int_equal(out.len, (size_t)n);
    assert_memory_equal(out.ptr, want, out.len);
    struct kura_str m = frame_msg(kura_buf_str(&out));
    assert_int_equal(m.len, sizeof(msg) - 1);
    kura_buf_release(&out);
}

static void test_checkpoint_exact(void **state)
{
    (void)state;
    static const char note[] = ORIGIN "\n7\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8=\n\n"
                                      "\xe2\x80\x94 " ORIGIN " AbCd==\n";
    struct syslog_msg_conf c = conf;
    c.facility = 16; /* local0 */
    c.pen = 99999;
    struct kura_buf out = KURA_BUF_INIT(65536);
    /* 2026-11-22T01:14:16.311Z */
    assert_int_equal(
        syslog_frame_checkpoint(&c, 7, kura_str_make(note, sizeof(note) - 1), 1795310056311, &out),
        0);
    static const char msg[] = "<133>1 2026-11-22T01:14:16.311Z host.example.org kura 1234 "
                              "CHECKPOINT [kura@99999 size=\"7\"] " BOM;
    struct kura_str m = frame_msg(kura_buf_str(&out));
    assert_int_equal(m.len, sizeof(msg) - 1 + sizeof(note) - 1);
    assert_memory_equal(m.ptr, msg, sizeof(msg) - 1);
    /* The note goes as it is, newlines and all. */
    assert_memory_equal(m.ptr + sizeof(msg) - 1, note, sizeof(note) - 1);
    kura_buf_release(&out);
}

static void test_frames_concatenate(void **state)
{
    (void)state;
    struct kura_buf out = KURA_BUF_INIT(65536);
    assert_int_equal(syslog_frame_record(&conf, 1, KURA_STR("{}"), &out), 0);
    size_t first = out.len;
    assert_int_equal(syslog_frame_record(&conf, 2, KURA_STR("{}"), &out), 0);
    struct kura_str a = frame_msg(kura_str_make(out.ptr, first));
    struct kura_str b = frame_msg(kura_str_make(out.ptr + first, out.len - first));
    /* No time in the record: the NILVALUE. */
    assert_true(kura_str_has_prefix(a, KURA_STR("<38>1 - host.example.org kura 1234 AUDIT ")));
    assert_true(kura_str_has_prefix(b, KURA_STR("<38>1 - host.example.org kura 1234 AUDIT ")));
    assert_non_null(memmem(b.ptr, b.len, "index=\"2\"", 9));
    kura_buf_release(&out);
}

static void test_sd_escape(void **state)
{
    (void)state;
    struct kura_buf out = KURA_BUF_INIT(1024);
    static const char in[] = "a\"b\\c]d[e=f g";
    syslog_sd_escape(&out, in, sizeof(in) - 1);
    assert_string_equal(out.ptr, "a\\\"b\\\\c\\]d[e=f g");
    kura_buf_reset(&out);
    syslog_sd_escape(&out, "\"\\]", 3);
    assert_string_equal(out.ptr, "\\\"\\\\\\]");
    kura_buf_reset(&out);
    syslog_sd_escape(&out, "", 0);
    assert_int_equal(out.len, 0);
    kura_buf_release(&out);

    /* In a whole message: the origin parameter is escaped, nothing else changes. */
    struct syslog_msg_conf c = conf;
    c.origin = "o\"r]i\\g";
    struct kura_buf f = KURA_BUF_INIT(65536);
    assert_int_equal(syslog_frame_record(&c, 0, KURA_STR("{}"), &f), 0);
    assert_non_null(strstr(f.ptr, "[kura@32473 index=\"0\" origin=\"o\\\"r\\]i\\\\g\"] " BOM "{}"));
    kura_buf_release(&f);
}

static void test_record_time(void **state)
{
    (void)state;
    char ts[KURA_TIME_STR_MAX];
    assert_true(syslog_record_time(KURA_STR(RECORD), ts));
    assert_string_equal(ts, "2026-11-22T01:14:16.311Z");
    assert_false(
        syslog_record_time(KURA_STR("{\"index\":1,\"time\":\"2026-11-22 01:14:16.311Z\"}"), ts));
    assert_false(
        syslog_record_time(KURA_STR("{\"index\":1,\"time\":\"2026-11-22T01:14:16.311Z"), ts));
    assert_false(
        syslog_record_time(KURA_STR("{\"index\":,\"time\":\"2026-11-22T01:14:16.311Z\""), ts));
    assert_false(syslog_record_time(KURA_STR("{\"time\":\"2026-11-22T01:14:16.311Z\"}"), ts));
    assert_false(syslog_record_time(KURA_STR(""), ts));
}

static void test_hostname_and_facility(void **state)
{
    (void)state;
    assert_string_equal(syslog_hostname_or_nil("a.b"), "a.b");
    assert_string_equal(syslog_hostname_or_nil(""), "-");
    assert_string_equal(syslog_hostname_or_nil(NULL), "-");
    assert_string_equal(syslog_hostname_or_nil("has space"), "-");
    assert_string_equal(syslog_hostname_or_nil("caf\xc3\xa9"), "-");
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_string_equal(syslog_hostname_or_nil(longname), "-");
    longname[255] = '\0';
    assert_string_equal(syslog_hostname_or_nil(longname), longname);

    unsigned f;
    assert_int_equal(syslog_facility_code("auth", &f), 0);
    assert_int_equal(f, 4);
    assert_int_equal(syslog_facility_code("local0", &f), 0);
    assert_int_equal(f, 16);
    assert_int_equal(syslog_facility_code("local7", &f), 0);
    assert_int_equal(f, 23);
    assert_int_equal(syslog_facility_code("local8", &f), KURA_ECONFIG);
    assert_int_equal(syslog_facility_code("kern", &f), KURA_ECONFIG);
}

static void test_limits(void **state)
{
    (void)state;
    /* The largest record the writer makes fits; anything beyond the message limit does not. */
    size_t big = KURA_SYSLOG_MSG_MAX;
    char *rec = kura_malloc(big);
    assert_non_null(rec);
    memset(rec, 'x', big);
    struct kura_buf out = KURA_BUF_INIT(4 * KURA_SYSLOG_MSG_MAX);
    assert_int_equal(syslog_frame_record(&conf, 1, kura_str_make(rec, KURA_AUDIT_RECORD_MAX), &out),
                     0);
    size_t len = out.len;
    assert_int_equal(syslog_frame_record(&conf, 2, kura_str_make(rec, big), &out), KURA_ETOOBIG);
    assert_int_equal(out.len, len);
    assert_int_equal(kura_buf_err(&out), 0);
    /* A full output buffer: refused without leaving half a frame. */
    struct kura_buf small = KURA_BUF_INIT(200);
    assert_int_equal(syslog_frame_record(&conf, 3, KURA_STR("{}"), &small), 0);
    len = small.len;
    assert_int_equal(syslog_frame_record(&conf, 4, KURA_STR("{}"), &small), KURA_ETOOBIG);
    assert_int_equal(small.len, len);
    assert_int_equal(kura_buf_err(&small), 0);
    kura_buf_release(&small);
    kura_buf_release(&out);
    kura_free(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_exact),
        cmocka_unit_test(test_checkpoint_exact),
        cmocka_unit_test(test_frames_concatenate),
        cmocka_unit_test(test_sd_escape),
        cmocka_unit_test(test_record_time),
        cmocka_unit_test(test_hostname_and_facility),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
