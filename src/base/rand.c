/* rand.c — kernel randomness via getrandom(2), the same source libsodium uses on Linux. */
#include "base.h"

#include <sys/random.h>

int kura_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        /* getrandom returns at most 33554431 bytes per call and may be interrupted. */
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
