/* Unit tests for the spool: queue writes one complete 0600 file in a 0700 folder; the envelope
 * format round-trips and refuses damage; a temporary file left by a crash is ignored and
 * cleaned once stale; giving up moves a message to failed/ with its reason; counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/mail-internal.h"

static char dir[64];
static int spoolfd = -1;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-test-mail-spool-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    spoolfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    return spoolfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    close(spoolfd);
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *const to2[] = {"officer@example.org", "backup@example.org"};

static struct kura_mail_msg sample(void)
{
    return (struct kura_mail_msg){to2, 2, KURA_STR("監査アラート / audit alert"),
                                  KURA_STR("本文 body\n")};
}

static int open_mail(void)
{
    int fd = openat(spoolfd, "mail", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static void test_queue_writes_file(void **state)
{
    (void)state;
    size_t pending = 9, failed = 9;
    assert_int_equal(kura_mail_spool_count(spoolfd, &pending, &failed), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(failed, 0);

    struct kura_mail_msg m = sample();
    char id[KURA_MAIL_ID_MAX];
    int64_t before = kura_clock_wall_ms();
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", id), 0);
    assert_true(mail_id_valid(id));

    struct stat st;
    assert_int_equal(fstatat(spoolfd, "mail", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    int mfd = open_mail();
    assert_int_equal(fstatat(mfd, id, &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    assert_int_equal(mail_spool_read(mfd, id, &file), 0);
    struct mail_spool_entry e;
    assert_int_equal(mail_spool_parse(file.ptr, file.len, false, &e), 0);
    assert_true(kura_str_eq_c(e.from, "kura@example.org"));
    assert_int_equal(e.nto, 2);
    assert_true(kura_str_eq_c(e.to[0], "officer@example.org"));
    assert_true(kura_str_eq_c(e.to[1], "backup@example.org"));
    assert_int_equal(e.attempts, 0);
    assert_true(e.created_ms >= before && e.created_ms <= kura_clock_wall_ms());
    assert_int_equal(e.next_ms, e.created_ms);
    assert_int_equal(e.error.len, 0);
    assert_int_equal(e.failed_ms, 0);
    assert_true(kura_str_has_prefix(e.message, KURA_STR("Date: ")));
    assert_non_null(strstr(e.message.ptr, "\r\nTo: officer@example.org, backup@example.org\r\n"));
    kura_buf_release(&file);

    /* No temporary file is left behind, and the count sees one message. */
    size_t n = 0;
    struct mail_spool_item *items = NULL;
    assert_int_equal(mail_spool_list(mfd, kura_clock_wall_ms(), 100, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, id);
    kura_free(items);
    assert_int_equal(kura_mail_spool_count(spoolfd, &pending, &failed), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(failed, 0);

    /* A second queue gets another id. */
    char id2[KURA_MAIL_ID_MAX];
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", id2), 0);
    assert_string_not_equal(id, id2);
    assert_int_equal(mail_spool_remove(mfd, id2), 0);
    assert_int_equal(mail_spool_remove(mfd, id), 0);
    close(mfd);
}

static void test_queue_refuses_bad_mail(void **state)
{
    (void)state;
    const char *bad_to[] = {"officer@example.org\r\nBcc: evil@example.net"};
    struct kura_mail_msg m = {bad_to, 1, KURA_STR("s"), KURA_STR("b")};
    char id[KURA_MAIL_ID_MAX] = "untouched";
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", id), KURA_EBADHDR);
    assert_string_equal(id, "untouched");
    m = sample();
    m.subject = KURA_STR("a\nb");
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", id), KURA_EBADHDR);
    m = sample();
    assert_int_equal(kura_mail_queue(spoolfd, &m, "not an address", id), KURA_EBADHDR);
    size_t pending = 9, failed = 9;
    assert_int_equal(kura_mail_spool_count(spoolfd, &pending, &failed), 0);
    assert_int_equal(pending, 0);
}

static const char good[] = "kura-mail 1\n"
                           "from kura@example.org\n"
                           "to a@example.org\n"
                           "to b@example.org\n"
                           "created 1700000000000\n"
                           "attempts 3\n"
                           "next 1700000090000\n"
                           "error 451 4.3.0 try again later\n"
                           "\n"
                           "Date: x\r\n\r\nbody\r\n";

static void test_parse_and_format(void **state)
{
    (void)state;
    struct mail_spool_entry e;
    assert_int_equal(mail_spool_parse(good, strlen(good), false, &e), 0);
    assert_int_equal(e.nto, 2);
    assert_int_equal(e.created_ms, 1700000000000LL);
    assert_int_equal(e.attempts, 3);
    assert_int_equal(e.next_ms, 1700000090000LL);
    assert_true(kura_str_eq_c(e.error, "451 4.3.0 try again later"));
    assert_true(kura_str_eq_c(e.message, "Date: x\r\n\r\nbody\r\n"));

    struct kura_buf out = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    mail_spool_format(&e, &out);
    assert_int_equal(kura_buf_err(&out), 0);
    assert_string_equal(out.ptr, good);

    /* With a failure time; and the head-only parse stops at the blank line. */
    e.failed_ms = 1700000100000LL;
    kura_buf_reset(&out);
    mail_spool_format(&e, &out);
    assert_non_null(strstr(out.ptr, "\nfailed 1700000100000\n\nDate: x"));
    struct mail_spool_entry f;
    assert_int_equal(
        mail_spool_parse(out.ptr, (size_t)(strstr(out.ptr, "\n\n") - out.ptr) + 2, true, &f), 0);
    assert_int_equal(f.failed_ms, 1700000100000LL);
    assert_int_equal(f.message.len, 0);
    kura_buf_release(&out);
}

/* Replaces the first occurrence of from in good by to and expects a parse failure. */
static void damaged(const char *from, const char *to)
{
    char buf[1024];
    const char *p = strstr(good, from);
    assert_non_null(p);
    size_t head = (size_t)(p - good);
    int n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)head, good, to, p + strlen(from));
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    struct mail_spool_entry e;
    assert_int_equal(mail_spool_parse(buf, (size_t)n, false, &e), KURA_ECORRUPT);
}

static void test_parse_refuses_damage(void **state)
{
    (void)state;
    damaged("kura-mail 1\n", "kura-mail 2\n");
    damaged("kura-mail 1\n", "");
    damaged("from kura@example.org\n", "");
    damaged("from kura@example.org\n", "from kura@example.org\nfrom x@example.org\n");
    damaged("from kura@example.org\n", "from kura@example.org\rBcc: evil@example.net\n");
    damaged("to a@example.org\n", "to a@example.org>\r\nRCPT TO:<evil@example.net\n");
    damaged("to a@example.org\nto b@example.org\n", "");
    damaged("created 1700000000000\n", "created -1\n");
    damaged("created 1700000000000\n", "created 99999999999999999999\n");
    damaged("created 1700000000000\n", "");
    damaged("attempts 3\n", "attempts 3x\n");
    damaged("attempts 3\n", "attempts 3\nattempts 4\n");
    damaged("next 1700000090000\n", "next  1\n");
    damaged("error 451", "error \x1b[2J451");
    damaged("error 451 4.3.0 try again later\n", "error \n");
    damaged("error 451 4.3.0 try again later\n", "bcc evil@example.net\n");
    damaged("error 451 4.3.0 try again later\n", "noval\n");
    damaged("\n\nDate", "\nDate");                  /* no blank line */
    damaged("\n\nDate: x\r\n\r\nbody\r\n", "\n\n"); /* no message */

    /* 33 recipients. */
    struct kura_buf b = KURA_BUF_INIT(MAIL_SPOOL_HEAD_MAX);
    kura_buf_adds(&b, "kura-mail 1\nfrom k@example.org\n");
    for (int i = 0; i <= KURA_MAIL_RCPT_MAX; i++) {
        kura_buf_addf(&b, "to r%d@example.org\n", i);
    }
    kura_buf_adds(&b, "created 1\nattempts 0\nnext 1\n\nmsg");
    struct mail_spool_entry e;
    assert_int_equal(mail_spool_parse(b.ptr, b.len, false, &e), KURA_ECORRUPT);
    kura_buf_release(&b);
}

static void test_reason_clean(void **state)
{
    (void)state;
    char out[MAIL_REASON_MAX];
    mail_reason_clean("  550 5.1.1 <x@y>:\r\n  no such\tuser\r\n", 37, out);
    assert_string_equal(out, "550 5.1.1 <x@y>: no such user");
    mail_reason_clean("bad \xff byte", 10, out);
    assert_string_equal(out, "bad ? byte");
    /* Cut to the limit, on a character boundary. */
    char longtext[3 * MAIL_REASON_MAX];
    size_t n = 0;
    longtext[n++] = 'x';
    while (n + 3 <= sizeof(longtext)) {
        memcpy(longtext + n, "\xe7\x9b\xa3", 3);
        n += 3;
    }
    mail_reason_clean(longtext, n, out);
    assert_true(strlen(out) < MAIL_REASON_MAX);
    assert_true(strlen(out) >= MAIL_REASON_MAX - 4);
    assert_true(kura_utf8_valid(out, strlen(out)));
    mail_reason_clean("", 0, out);
    assert_string_equal(out, "");
}

static void set_mtime_ago(int dirfd, const char *name, int64_t ago_ms)
{
    int64_t t = kura_clock_wall_ms() - ago_ms;
    struct timespec ts[2] = {{.tv_sec = (time_t)(t / 1000)}, {.tv_sec = (time_t)(t / 1000)}};
    assert_int_equal(utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void test_crash_leftovers(void **state)
{
    (void)state;
    struct kura_mail_msg m = sample();
    char id[KURA_MAIL_ID_MAX];
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", id), 0);
    int mfd = open_mail();

    /* A crash in the middle of kura_file_write_atomic leaves ".<id>.tmp-<rand>" with half a
     * message: it has no pending name, so it is never listed (never sent). */
    const char *stale = ".0123456789abcdef0123456789abcdef.tmp-00112233";
    const char *fresh = ".fedcba9876543210fedcba9876543210.tmp-44556677";
    assert_int_equal(kura_file_write_atomic(mfd, "half", "kura-mail 1\nfrom k@", 19, 0600), 0);
    assert_int_equal(renameat(mfd, "half", mfd, stale), 0);
    assert_int_equal(kura_file_write_atomic(mfd, "half", "kura-mail 1\nfrom k@", 19, 0600), 0);
    assert_int_equal(renameat(mfd, "half", mfd, fresh), 0);
    set_mtime_ago(mfd, stale, KURA_MAIL_TMP_MAX_AGE_MS + 60000);
    /* Names that are not ids are not mail either. */
    assert_int_equal(kura_file_write_atomic(mfd, "README", "x", 1, 0600), 0);
    assert_int_equal(kura_file_write_atomic(mfd, "0123456789ABCDEF0123456789ABCDEF", "x", 1, 0600),
                     0);

    size_t n = 0, pending = 0, failed = 0;
    struct mail_spool_item *items = NULL;
    assert_int_equal(mail_spool_list(mfd, kura_clock_wall_ms(), 100, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, id);
    kura_free(items);
    struct stat st;
    assert_int_equal(fstatat(mfd, stale, &st, AT_SYMLINK_NOFOLLOW), -1); /* cleaned */
    assert_int_equal(errno, ENOENT);
    assert_int_equal(fstatat(mfd, fresh, &st, AT_SYMLINK_NOFOLLOW), 0); /* may be in use */
    assert_int_equal(kura_mail_spool_count(spoolfd, &pending, &failed), 0);
    assert_int_equal(pending, 1);

    /* Once old enough, the other one goes too. */
    assert_int_equal(mail_spool_list(mfd, kura_clock_wall_ms() + KURA_MAIL_TMP_MAX_AGE_MS + 1000,
                                     100, &items, &n),
                     0);
    kura_free(items);
    assert_int_equal(fstatat(mfd, fresh, &st, AT_SYMLINK_NOFOLLOW), -1);

    assert_int_equal(unlinkat(mfd, "README", 0), 0);
    assert_int_equal(unlinkat(mfd, "0123456789ABCDEF0123456789ABCDEF", 0), 0);
    assert_int_equal(mail_spool_remove(mfd, id), 0);
    close(mfd);
}

static void test_list_order_and_damage(void **state)
{
    (void)state;
    struct kura_mail_msg m = sample();
    char a[KURA_MAIL_ID_MAX], b[KURA_MAIL_ID_MAX];
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", a), 0);
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", b), 0);
    int mfd = open_mail();

    /* Push a's next attempt later: b comes first. */
    struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    assert_int_equal(mail_spool_read(mfd, a, &file), 0);
    struct mail_spool_entry e;
    assert_int_equal(mail_spool_parse(file.ptr, file.len, false, &e), 0);
    e.attempts = 1;
    e.next_ms += 30000;
    e.error = KURA_STR("421 busy");
    assert_int_equal(mail_spool_write(mfd, a, &e), 0);
    kura_buf_release(&file);

    /* A damaged pending file is listed as due now, so that the sender deals with it. */
    const char *bad = "00000000000000000000000000000000";
    assert_int_equal(kura_file_write_atomic(mfd, bad, "garbage\n\n", 9, 0600), 0);

    size_t n = 0;
    struct mail_spool_item *items = NULL;
    assert_int_equal(mail_spool_list(mfd, kura_clock_wall_ms(), 100, &items, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(items[0].id, bad);
    assert_int_equal(items[0].next_ms, 0);
    assert_string_equal(items[1].id, b);
    assert_string_equal(items[2].id, a);
    kura_free(items);

    /* The list is bounded. */
    assert_int_equal(mail_spool_list(mfd, kura_clock_wall_ms(), 2, &items, &n), 0);
    assert_int_equal(n, 2);
    kura_free(items);

    assert_int_equal(mail_spool_remove(mfd, a), 0);
    assert_int_equal(mail_spool_remove(mfd, b), 0);
    assert_int_equal(mail_spool_remove(mfd, bad), 0);
    close(mfd);
}

static void test_give_up(void **state)
{
    (void)state;
    struct kura_mail_msg m = sample();
    char id[KURA_MAIL_ID_MAX], raw[KURA_MAIL_ID_MAX];
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", id), 0);
    assert_int_equal(kura_mail_queue(spoolfd, &m, "kura@example.org", raw), 0);
    int mfd = open_mail();

    struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    assert_int_equal(mail_spool_read(mfd, id, &file), 0);
    struct mail_spool_entry e;
    assert_int_equal(mail_spool_parse(file.ptr, file.len, false, &e), 0);
    e.attempts = 1;
    e.error = KURA_STR("550 5.1.1 no such user");
    e.failed_ms = kura_clock_wall_ms();
    assert_int_equal(mail_spool_give_up(mfd, id, &e), 0);
    assert_int_equal(mail_spool_give_up(mfd, raw, NULL), 0);
    kura_buf_release(&file);

    size_t pending = 9, failed = 9;
    assert_int_equal(kura_mail_spool_count(spoolfd, &pending, &failed), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(failed, 2);

    int ffd = openat(mfd, "failed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(ffd >= 0);
    struct stat st;
    assert_int_equal(fstat(ffd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    file = (struct kura_buf)KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    assert_int_equal(mail_spool_read(ffd, id, &file), 0);
    assert_int_equal(mail_spool_parse(file.ptr, file.len, false, &e), 0);
    assert_true(kura_str_eq_c(e.error, "550 5.1.1 no such user"));
    assert_true(e.failed_ms > 0);
    assert_int_equal(fstatat(ffd, id, &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    kura_buf_release(&file);
    assert_int_equal(unlinkat(ffd, id, 0), 0);
    assert_int_equal(unlinkat(ffd, raw, 0), 0);
    close(ffd);
    close(mfd);
}

static void test_allocation_failures(void **state)
{
    (void)state;
#ifdef KURA_FAULT_INJECTION
    struct kura_mail_msg m = sample();
    int mfd = -1;
    bool reached_success = false;
    for (unsigned long n = 1; n < 60 && !reached_success; n++) {
        char id[KURA_MAIL_ID_MAX];
        size_t count = 0, failed = 0;
        kura_alloc_fail_at(n);
        int r = kura_mail_queue(spoolfd, &m, "kura@example.org", id);
        if (r == 0) {
            struct mail_spool_item *items = NULL;
            mfd = open_mail();
            r = mail_spool_list(mfd, kura_clock_wall_ms(), 100, &items, &count);
            kura_free(items);
            reached_success = r == 0;
            kura_alloc_fail_at(0);
            assert_int_equal(mail_spool_remove(mfd, id), 0);
            close(mfd);
        }
        kura_alloc_fail_at(0);
        assert_true(r == 0 || r == -ENOMEM);
        /* A failed queue leaves nothing behind. */
        assert_int_equal(kura_mail_spool_count(spoolfd, &count, &failed), 0);
        assert_int_equal(count, 0);
    }
    assert_true(reached_success);
#else
    skip();
#endif
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(mail_id_valid("0123456789abcdef0123456789abcdef"));
    assert_false(mail_id_valid("0123456789abcdef0123456789abcde"));
    assert_false(mail_id_valid("0123456789abcdef0123456789abcdef0"));
    assert_false(mail_id_valid("0123456789ABCDEF0123456789abcdef"));
    assert_false(mail_id_valid(".0123456789abcdef0123456789abcde"));
    assert_false(mail_id_valid("failed"));
    assert_false(mail_id_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_queue_writes_file),
        cmocka_unit_test(test_queue_refuses_bad_mail),
        cmocka_unit_test(test_parse_and_format),
        cmocka_unit_test(test_parse_refuses_damage),
        cmocka_unit_test(test_reason_clean),
        cmocka_unit_test(test_crash_leftovers),
        cmocka_unit_test(test_list_order_and_damage),
        cmocka_unit_test(test_give_up),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
