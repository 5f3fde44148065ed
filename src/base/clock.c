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

void kura_clock_format(int64_t wall_ms, char out[static KURA_TIME_STR_MAX])
{
    time_t secs = (time_t)(wall_ms / 1000);
    int ms = (int)(wall_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs--;
    }
    struct tm tm;
    /* Years beyond 9999 do not fit the fixed-width format; they only arise from a corrupt
     * clock or input, and are reported as such rather than truncated. */
    if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        (void)snprintf(out, KURA_TIME_STR_MAX, "invalid-time");
        return;
    }
    char tmp[96]; /* what the compiler can prove the format needs for any int fields */
    (void)snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    memcpy(out, tmp, KURA_TIME_STR_MAX - 1);
    out[KURA_TIME_STR_MAX - 1] = '\0';
}
