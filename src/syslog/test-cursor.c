/* test-cursor.c — the cursor file (exact format, strict parsing, atomic save and load) and the
 * reader of signed notes in audit/checkpoints. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syslog-internal.h"

#define ORIGIN "kura.localhost/audit/abc"
#define NOTE(size)                                                                                 \
    ORIGIN "\n" size "\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8=\n\n\xe2\x80\x94 " ORIGIN       \
           " AbCdEf==\n"

static void test_cursor_format_parse(void **state)
{
    (void)state;
    struct syslog_cursor c = {.confirmed = {1234, 5678}, .sent = 1300}, back;
    struct kura_buf b = KURA_BUF_INIT(SYSLOG_CURSOR_MAX);
    assert_int_equal(syslog_cursor_format(&c, &b), 0);
    assert_string_equal(b.ptr, "kura-syslog-cursor 1\nconfirmed 1234 5678\nsent 1300\n");
    assert_int_equal(syslog_cursor_parse(b.ptr, b.len, &back), 0);
    assert_int_equal(back.confirmed.record, 1234);
    assert_int_equal(back.confirmed.cp, 5678);
    assert_int_equal(back.sent, 1300);
    kura_buf_reset(&b);
    struct syslog_cursor zero = {{0, 0}, 0};
    assert_int_equal(syslog_cursor_format(&zero, &b), 0);
    assert_string_equal(b.ptr, "kura-syslog-cursor 1\nconfirmed 0 0\nsent 0\n");
    assert_int_equal(syslog_cursor_parse(b.ptr, b.len, &back), 0);
    kura_buf_release(&b);
}

static void test_cursor_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "kura-syslog-cursor 2\nconfirmed 1 2\nsent 3\n",
        "kura-syslog-cursor 1\nconfirmed 1 2\nsent 3",         /* no final newline */
        "kura-syslog-cursor 1\nconfirmed 1 2\nsent 3\n\n",     /* extra line */
        "kura-syslog-cursor 1\nconfirmed  1 2\nsent 3\n",      /* two spaces */
        "kura-syslog-cursor 1\nconfirmed 01 2\nsent 3\n",      /* leading zero */
        "kura-syslog-cursor 1\nconfirmed -1 2\nsent 3\n",      /* sign */
        "kura-syslog-cursor 1\nconfirmed 1\nsent 3\n",         /* a field missing */
        "kura-syslog-cursor 1\nconfirmed 5 2\nsent 3\n",       /* sent below confirmed */
        "kura-syslog-cursor 1\nsent 3\nconfirmed 1 2\n",       /* order */
        "kura-syslog-cursor 1\r\nconfirmed 1 2\r\nsent 3\r\n", /* CRLF */
        "kura-syslog-cursor 1\nconfirmed 1 18446744073709551616\nsent 3\n", /* overflow */
    };
    struct syslog_cursor c;
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_int_equal(syslog_cursor_parse(bad[i], strlen(bad[i]), &c), KURA_ECORRUPT);
    }
    static const char nul[] = "kura-syslog-cursor 1\nconfirmed 1 2\nsent 3\n\0";
    assert_int_equal(syslog_cursor_parse(nul, sizeof(nul), &c), KURA_ECORRUPT);
}

static void test_cursor_save_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/kura-test-syslog-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct syslog_cursor c;
    assert_int_equal(syslog_cursor_load(fd, &c), -ENOENT);
    struct syslog_cursor want = {.confirmed = {77, 9000}, .sent = 80};
    assert_int_equal(syslog_cursor_save(fd, &want), 0);
    struct stat st;
    assert_int_equal(fstatat(fd, KURA_SYSLOG_CURSOR, &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(syslog_cursor_load(fd, &c), 0);
    assert_int_equal(c.confirmed.record, 77);
    assert_int_equal(c.confirmed.cp, 9000);
    assert_int_equal(c.sent, 80);
    /* Replaced, not appended to; no temporary file is left behind. */
    want.confirmed.record = 80;
    want.sent = 81;
    assert_int_equal(syslog_cursor_save(fd, &want), 0);
    assert_int_equal(syslog_cursor_load(fd, &c), 0);
    assert_int_equal(c.confirmed.record, 80);
    char path[128];
    (void)snprintf(path, sizeof(path), "ls -A %s | wc -l | grep -qx 1", dir);
    assert_int_equal(system(path), 0);
    /* Damaged and oversized files are KURA_ECORRUPT, never a position. */
    int w = openat(fd, KURA_SYSLOG_CURSOR, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(w >= 0);
    assert_int_equal(write(w, "garbage\n", 8), 8);
    assert_int_equal(syslog_cursor_load(fd, &c), KURA_ECORRUPT);
    char big[SYSLOG_CURSOR_MAX + 10];
    memset(big, '1', sizeof(big));
    assert_int_equal(pwrite(w, big, sizeof(big), 0), (ssize_t)sizeof(big));
    assert_int_equal(syslog_cursor_load(fd, &c), KURA_ECORRUPT);
    close(w);
    assert_int_equal(unlinkat(fd, KURA_SYSLOG_CURSOR, 0), 0);
    close(fd);
    assert_int_equal(rmdir(dir), 0);
}

static void test_note_whole(void **state)
{
    (void)state;
    static const char two[] = NOTE("5") NOTE("12");
    struct syslog_note n;
    size_t skip;
    size_t one = strlen(NOTE("5"));
    /* The next byte starts another note: the first is complete, at_eof or not. */
    assert_int_equal(syslog_note_next(two, sizeof(two) - 1, false, &n, &skip), 1);
    assert_int_equal(n.len, one);
    assert_int_equal(n.size, 5);
    assert_int_equal(n.origin_len, strlen(ORIGIN));
    /* The second ends the text: complete only when the text is known to end there. */
    assert_int_equal(syslog_note_next(two + one, sizeof(two) - 1 - one, false, &n, &skip), 0);
    assert_int_equal(syslog_note_next(two + one, sizeof(two) - 1 - one, true, &n, &skip), 1);
    assert_int_equal(n.size, 12);
    assert_int_equal(n.len, sizeof(two) - 1 - one);
    /* Two signature lines belong to one note. */
    static const char cosigned[] = NOTE("3") "\xe2\x80\x94 witness.example Zm9v\n";
    assert_int_equal(syslog_note_next(cosigned, sizeof(cosigned) - 1, true, &n, &skip), 1);
    assert_int_equal(n.len, sizeof(cosigned) - 1);
}

static void test_note_partial(void **state)
{
    (void)state;
    static const char note[] = NOTE("5");
    struct syslog_note n;
    size_t skip;
    /* Every proper prefix is "not yet", even at the end of the file (a write in progress). */
    for (size_t len = 0; len < sizeof(note) - 1; len++) {
        assert_int_equal(syslog_note_next(note, len, true, &n, &skip), 0);
        assert_int_equal(skip, 0);
    }
    /* The first bytes of a further signature line: wait to see the rest. */
    static const char more[] = NOTE("5") "\xe2\x80";
    assert_int_equal(syslog_note_next(more, sizeof(more) - 1, false, &n, &skip), 0);
}

static void test_note_malformed(void **state)
{
    (void)state;
    struct syslog_note n;
    size_t skip;
    static const char *const bad[] = {
        "\n5\nroot\n\n\xe2\x80\x94 x y\n",             /* empty origin */
        ORIGIN "\n05\nroot\n\n\xe2\x80\x94 x y\n",     /* leading zero */
        ORIGIN "\nfive\nroot\n\n\xe2\x80\x94 x y\n",   /* not a number */
        ORIGIN "\n5\n\n\n\xe2\x80\x94 x y\n",          /* empty root */
        ORIGIN "\n5\nroot\nextra\n\xe2\x80\x94 x y\n", /* no blank line */
        ORIGIN "\n5\nroot\n\nno signature\n",          /* no signature line */
        "ori\tgin\n5\nroot\n\n\xe2\x80\x94 x y\n",     /* control byte in the origin */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        const char *nl = strchr(bad[i], '\n');
        assert_int_equal(syslog_note_next(bad[i], strlen(bad[i]), true, &n, &skip), KURA_ESYNTAX);
        assert_int_equal(skip, (size_t)(nl - bad[i]) + 1);
    }
    /* A torn note glues itself to the next one's origin line, which is lost with it; skipping
     * line by line (as the forwarder does for garbage and for notes of another origin) reaches
     * the note after. */
    static const char torn[] = ORIGIN "\n4\nq83v" NOTE("5") NOTE("6");
    size_t off = 0;
    int steps = 0;
    for (;;) {
        int r = syslog_note_next(torn + off, sizeof(torn) - 1 - off, true, &n, &skip);
        if (r == 1 && n.origin_len == strlen(ORIGIN) &&
            memcmp(torn + off, ORIGIN, n.origin_len) == 0) {
            break;
        }
        if (r == 1) {
            skip = n.origin_len + 1;
        } else {
            assert_int_equal(r, KURA_ESYNTAX);
        }
        assert_true(skip > 0);
        off += skip;
        assert_true(++steps < 20);
    }
    assert_int_equal(n.size, 6);
    assert_memory_equal(torn + off, NOTE("6"), n.len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_format_parse), cmocka_unit_test(test_cursor_strict),
        cmocka_unit_test(test_cursor_save_load),    cmocka_unit_test(test_note_whole),
        cmocka_unit_test(test_note_partial),        cmocka_unit_test(test_note_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
