/* clock.c — the one clock every time-dependent decision reads (issue: "a test clock").
 *
 * Production builds read CLOCK_REALTIME and CLOCK_MONOTONIC directly. Builds made with
 * -Dtest_hooks=true add one offset to both, which a test shifts through the running server's
 * admin socket to exercise expiry and timeouts without waiting. The offset only moves forward
 * in practice, but nothing here depends on that.
 */
#include "base.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef KURA_TEST_HOOKS
#include <stdatomic.h>

static _Atomic int64_t offset_ms;

void kura_clock_shift_ms(int64_t delta_ms)
{
    atomic_fetch_add(&offset_ms, delta_ms);
}

int64_t kura_clock_offset_ms(void)
{
    return atomic_load(&offset_ms);
}
#define OFFSET() atomic_load(&offset_ms)
#else
#define OFFSET() 0
#endif

static int64_t read_ms(clockid_t id)
{
    struct timespec ts;
    /* clock_gettime cannot fail for these clock ids on Linux. */
    (void)clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kura_clock_wall_ms(void)
{
    return read_ms(CLOCK_REALTIME) + OFFSET();
}

int64_t kura_clock_mono_ms(void)
{
    return read_ms(CLOCK_MONOTONIC) + OFFSET();
}

/* Seconds since the epoch -> UTC calendar fields, without gmtime_r: glibc's takes a process-
 * wide lock (the time zone state) on every call, and every log line, audit record and WebDAV
 * date goes through here. days_to_civil is H. Hinnant's algorithm (proleptic Gregorian). */
struct civil {
    int64_t year;
    unsigned mon, mday, hour, min, sec, wday; /* mon 1-12, wday 0 = Sunday */
};

static struct civil to_civil(int64_t secs)
{
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    struct civil c = {.hour = (unsigned)(rem / 3600),
                      .min = (unsigned)(rem % 3600 / 60),
                      .sec = (unsigned)(rem % 60),
                      .wday = (unsigned)((days % 7 + 11) % 7)}; /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    c.mday = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    c.mon = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    c.year = yoe + era * 400 + (c.mon <= 2);
    return c;
}

/* Writes v as exactly `width` decimal digits. */
static char *digits(char *p, unsigned v, unsigned width)
{
    for (unsigned i = width; i-- > 0;) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

void kura_clock_format(int64_t wall_ms, char out[static KURA_TIME_STR_MAX])
{
    int64_t secs = wall_ms / 1000;
    int ms = (int)(wall_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs--;
    }
    struct civil c = to_civil(secs);
    /* Years beyond 9999 do not fit the fixed-width format; they only arise from a corrupt
     * clock or input, and are reported as such rather than truncated. */
    if (c.year < 0 || c.year > 9999) {
        (void)snprintf(out, KURA_TIME_STR_MAX, "invalid-time");
        return;
    }
    char *p = digits(out, (unsigned)c.year, 4);
    *p++ = '-';
    p = digits(p, c.mon, 2);
    *p++ = '-';
    p = digits(p, c.mday, 2);
    *p++ = 'T';
    p = digits(p, c.hour, 2);
    *p++ = ':';
    p = digits(p, c.min, 2);
    *p++ = ':';
    p = digits(p, c.sec, 2);
    *p++ = '.';
    p = digits(p, (unsigned)ms, 3);
    *p++ = 'Z';
    *p = '\0';
}

void kura_http_date(int64_t wall_ms, char out[static KURA_HTTP_DATE_MAX])
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int64_t secs = wall_ms / 1000 - (wall_ms % 1000 < 0);
    struct civil c = to_civil(secs);
    if (c.year < 0 || c.year > 9999) {
        c = to_civil(0); /* cannot come from kura's clock; a valid date rather than garbage */
    }
    char *p = out;
    memcpy(p, days + 3 * c.wday, 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = digits(p, c.mday, 2);
    *p++ = ' ';
    memcpy(p, months + 3 * (c.mon - 1), 3);
    p += 3;
    *p++ = ' ';
    p = digits(p, (unsigned)c.year, 4);
    *p++ = ' ';
    p = digits(p, c.hour, 2);
    *p++ = ':';
    p = digits(p, c.min, 2);
    *p++ = ':';
    p = digits(p, c.sec, 2);
    memcpy(p, " GMT", 5);
}
