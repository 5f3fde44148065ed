/* Unit tests for the operational log: key=value format, quoting that defeats injection, level
 * filtering. stderr is redirected to a pipe to read what was written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>

#include "base/base.h"

static int pipefd[2];
static int saved_stderr;

static int setup(void **state)
{
    (void)state;
    (void)unsetenv("JOURNAL_STREAM");
    if (pipe2(pipefd, O_NONBLOCK) < 0) {
        return -1;
    }
    saved_stderr = dup(STDERR_FILENO);
    return dup2(pipefd[1], STDERR_FILENO) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)dup2(saved_stderr, STDERR_FILENO);
    close(pipefd[0]);
    close(pipefd[1]);
    close(saved_stderr);
    return 0;
}

static void read_log(char *out, size_t size)
{
    ssize_t n = read(pipefd[0], out, size - 1);
    out[n > 0 ? n : 0] = '\0';
}

static void test_format_and_quoting(void **state)
{
    (void)state;
    char line[2048];
    kura_log_set_level(KURA_LOG_INFO);
    kura_log(KURA_LOG_INFO, "listening", "addr", "127.0.0.1:8443", "note", "two words", "empty", "",
             "nil", NULL, "evil", "x\nlevel=error event=forged", NULL);
    read_log(line, sizeof(line));
    assert_non_null(strstr(line, " level=info event=listening addr=127.0.0.1:8443 "));
    assert_non_null(strstr(line, " note=\"two words\" empty=\"\" nil=- "));
    assert_non_null(strstr(line, " evil=\"x\\nlevel=error event=forged\"\n"));
    assert_int_equal(strncmp(line, "ts=", 3), 0);
    /* Exactly one newline: the forged line did not become a line. */
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
}

static void test_levels_and_err(void **state)
{
    (void)state;
    char line[2048];
    kura_log_set_level(KURA_LOG_WARN);
    kura_log(KURA_LOG_INFO, "hidden", NULL);
    kura_log_err(-ENOENT, "open_failed", "path", "/x", NULL);
    read_log(line, sizeof(line));
    assert_null(strstr(line, "hidden"));
    assert_non_null(strstr(line, "level=error event=open_failed func=test_levels_and_err "
                                 "err=\"No such file or directory\" path=/x"));
    enum kura_log_level l;
    assert_int_equal(kura_log_level_parse("debug", &l), 0);
    assert_int_equal(l, KURA_LOG_DEBUG);
    assert_int_equal(kura_log_level_parse("verbose", &l), KURA_ESYNTAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_quoting),
        cmocka_unit_test(test_levels_and_err),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
