/* log.c — the operational log: one key=value line per event on stderr.
 *
 * Format: ts=2026-11-21T23:58:13.123Z level=info event=listening addr=127.0.0.1:8443
 * When stderr is connected to the journal (JOURNAL_STREAM names stderr's device and inode, see
 * systemd.exec(5)) the line starts with a "<N>" priority prefix instead of the timestamp, which
 * journald parses and strips. Values are written bare when they consist of safe characters and
 * quoted with escapes otherwise, so a user-supplied value can neither add a field nor a line.
 * Each line is emitted with one write(2) under a mutex, so lines from threads never interleave.
 * This log is diagnostic only; it never stands in for the audit log and never carries secrets.
 */
#include "base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static _Atomic int current_level = KURA_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static bool to_journal;

void kura_log_set_level(enum kura_log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum kura_log_level kura_log_get_level(void)
{
    return (enum kura_log_level)atomic_load(&current_level);
}

int kura_log_level_parse(const char *s, enum kura_log_level *ret)
{
    static const struct {
        const char *name;
        enum kura_log_level level;
    } names[] = {{"error", KURA_LOG_ERR},
                 {"warning", KURA_LOG_WARN},
                 {"info", KURA_LOG_INFO},
                 {"debug", KURA_LOG_DEBUG}};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *ret = names[i].level;
            return 0;
        }
    }
    return KURA_ESYNTAX;
}

static void detect_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    if (!js || fstat(STDERR_FILENO, &st) < 0) {
        return;
    }
    char expect[64];
    (void)snprintf(expect, sizeof(expect), "%llu:%llu", (unsigned long long)st.st_dev,
                   (unsigned long long)st.st_ino);
    to_journal = strcmp(js, expect) == 0;
}

static const char *level_name(enum kura_log_level level)
{
    switch (level) {
    case KURA_LOG_ERR:
        return "error";
    case KURA_LOG_WARN:
        return "warning";
    case KURA_LOG_INFO:
        return "info";
    case KURA_LOG_DEBUG:
        return "debug";
    }
    return "info";
}

static bool is_bare(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\' || c >= 0x80) {
            return false;
        }
    }
    return true;
}

static void add_value(struct kura_buf *b, const char *v)
{
    if (!v) {
        kura_buf_addc(b, '-');
    } else if (is_bare(v)) {
        kura_buf_adds(b, v);
    } else {
        /* UTF-8 text stays readable: only control bytes, quotes and backslashes are escaped. */
        kura_buf_addc(b, '"');
        kura_buf_add_escaped(b, v, strlen(v));
        kura_buf_addc(b, '"');
    }
}

static void emit(enum kura_log_level level, const char *event, const char *func, int r, va_list ap)
{
    if ((int)level > atomic_load(&current_level)) {
        return;
    }
    pthread_once(&journal_once, detect_journal);
    char stack[LOG_LINE_MAX + 1];
    struct kura_buf b = KURA_BUF_INIT(LOG_LINE_MAX);
    if (to_journal) {
        kura_buf_addf(&b, "<%d>", (int)level);
    } else {
        char ts[KURA_TIME_STR_MAX];
        kura_clock_format(kura_clock_wall_ms(), ts);
        kura_buf_addf(&b, "ts=%s ", ts);
    }
    kura_buf_addf(&b, "level=%s event=", level_name(level));
    add_value(&b, event);
    if (func) {
        kura_buf_addf(&b, " func=%s err=", func);
        add_value(&b, kura_strerror(r));
    }
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key) {
            break;
        }
        const char *value = va_arg(ap, const char *);
        kura_buf_addc(&b, ' ');
        kura_buf_adds(&b, key);
        kura_buf_addc(&b, '=');
        add_value(&b, value);
    }
    const char *line;
    size_t len;
    if (kura_buf_err(&b) == 0) {
        kura_buf_addc(&b, '\n');
    }
    if (kura_buf_err(&b) == 0) {
        line = b.ptr;
        len = b.len;
    } else {
        /* Out of memory or an overlong line: say so rather than drop the event silently. */
        len = (size_t)snprintf(stack, sizeof(stack), "level=%s event=%s log_line_dropped=1\n",
                               level_name(level), is_bare(event) ? event : "?");
        line = stack;
    }
    pthread_mutex_lock(&log_lock);
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, line, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        line += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&log_lock);
    kura_buf_release(&b);
}

void kura_log(enum kura_log_level level, const char *event, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, event);
    emit(level, event, NULL, 0, ap);
    va_end(ap);
    errno = saved;
}

void kura_log_errf(const char *func, int r, const char *event, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, event);
    emit(KURA_LOG_ERR, event, func, r, ap);
    va_end(ap);
    errno = saved;
}
