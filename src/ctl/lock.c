/* lock.c — the data folder's single-writer lock: flock(2) on DATA/kura.lock.
 *
 * flock is released by the kernel when the holder exits, however it exits, so a crash never
 * leaves the folder locked. The holder's pid is written into the file for error messages only;
 * the lock itself is the flock, never the file's content.
 */
#include "ctl/ctl.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

struct kura_ctl_lock {
    int fd;
};

static pid_t read_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    uint64_t pid;
    if (n <= 0) {
        return 0;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        n--;
    }
    if (kura_parse_u64(buf, (size_t)n, INT32_MAX, &pid) < 0) {
        return 0;
    }
    return (pid_t)pid;
}

int kura_ctl_lock_take(int datafd, struct kura_ctl_lock **ret, pid_t *ret_holder)
{
    _cleanup_(kura_closep) int fd =
        openat(datafd, KURA_CTL_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -errno;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            if (ret_holder) {
                *ret_holder = read_holder(fd);
            }
            return KURA_ELOCKED;
        }
        return -e;
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        return -errno;
    }
    struct kura_ctl_lock *l = kura_malloc(sizeof(*l));
    if (!l) {
        return -ENOMEM;
    }
    l->fd = TAKE_FD(fd);
    *ret = l;
    return 0;
}

struct kura_ctl_lock *kura_ctl_lock_release(struct kura_ctl_lock *l)
{
    if (!l) {
        return NULL;
    }
    /* Clear the pid first: a reader between truncate and close sees "unknown", never a stale
     * pid. Closing the descriptor releases the flock. */
    KURA_IGNORE(ftruncate(l->fd, 0));
    (void)close(l->fd);
    kura_free(l);
    return NULL;
}
