/* file.c — durable, atomic small-file writes and bounded reads.
 *
 * Atomic write: temporary name in the same directory (so rename(2) is atomic), created with
 * O_EXCL and the final mode (a secret is never readable, not even for an instant), fsync of the
 * data, rename over the target, fsync of the directory so the rename itself is durable.
 */
#include "base.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

void kura_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        (void)close(*fd);
        errno = saved;
        *fd = -1;
    }
}

int kura_fsync_dir(int dirfd)
{
    if (fsync(dirfd) < 0) {
        return -errno;
    }
    return 0;
}

static int write_full(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
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

int kura_file_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    char tmp[256];
    unsigned char rnd[8];
    char hex[2 * sizeof(rnd) + 1];
    int r = kura_random(rnd, sizeof(rnd));
    if (r < 0) {
        return r;
    }
    kura_hex_encode(hex, rnd, sizeof(rnd));
    int n = snprintf(tmp, sizeof(tmp), ".%s.tmp-%s", name, hex);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return -ENAMETOOLONG;
    }
    _cleanup_(kura_closep) int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        return -errno;
    }
    /* The umask may have narrowed the mode; set it exactly. */
    if (fchmod(fd, mode) < 0) {
        r = -errno;
        goto fail;
    }
    r = write_full(fd, data, len);
    if (r < 0) {
        goto fail;
    }
    if (fsync(fd) < 0) {
        r = -errno;
        goto fail;
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        r = -errno;
        goto fail;
    }
    return kura_fsync_dir(dirfd);
fail:
    (void)unlinkat(dirfd, tmp, 0);
    return r;
}

int kura_file_read_all(int dirfd, const char *name, struct kura_buf *ret)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
    _cleanup_(kura_closep) int fd =
        openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        return -EINVAL;
    }
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            kura_wipe(chunk, sizeof(chunk));
            return -errno;
        }
        if (n == 0) {
            break;
        }
        kura_buf_add(ret, chunk, (size_t)n);
        if (kura_buf_err(ret)) {
            break;
        }
    }
    /* The file may hold a key: leave no copy on the stack. */
    kura_wipe(chunk, sizeof(chunk));
    return kura_buf_err(ret);
}
