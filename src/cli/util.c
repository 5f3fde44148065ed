/* util.c — what several subcommands share: messages and the data-folder checks. */
#include "cli/cli.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    struct kura_buf b = KURA_BUF_INIT(64 * 1024);
    kura_buf_addf(&b, "kura %s: ", cmd);
    va_start(ap, fmt);
    kura_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    kura_buf_addc(&b, '\n');
    if (kura_buf_err(&b) == 0) {
        (void)fputs(b.ptr, stderr);
    } else {
        (void)fprintf(stderr, "kura %s: (message too long)\n", cmd);
    }
    kura_buf_release(&b);
}

static bool exists_at(int fd, const char *name)
{
    struct stat st;
    return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int cli_data_open(const char *path, int *ret_fd, struct kura_buf *err)
{
    _cleanup_(kura_closep) int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = -errno;
        kura_buf_addf(err, "cannot open data folder '%s': %s", path, kura_strerror(e));
        if (e == -ENOENT) {
            kura_buf_addf(err, "; create it with: kura init --data %s", path);
        }
        return e;
    }
    if (exists_at(fd, CLI_INIT_MARKER)) {
        kura_buf_addf(err,
                      "'%s' was not fully initialised (kura init was interrupted); remove it "
                      "and run kura init again",
                      path);
        return KURA_ENOTKURA;
    }
    if (!exists_at(fd, CLI_CONF_NAME) || !exists_at(fd, CLI_INSTALL_ID_NAME)) {
        kura_buf_addf(err, "'%s' is not a kura data folder (no %s or %s)", path, CLI_CONF_NAME,
                      CLI_INSTALL_ID_NAME);
        return KURA_ENOTKURA;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (st.st_uid != geteuid()) {
        kura_buf_addf(err, "data folder '%s' is owned by uid %u, not by this user (uid %u)", path,
                      (unsigned)st.st_uid, (unsigned)geteuid());
        return KURA_EKEYMODE;
    }
    if (st.st_mode & 077) {
        kura_buf_addf(err,
                      "data folder '%s' has mode %04o, which lets group or others in; run "
                      "chmod 700 %s",
                      path, (unsigned)(st.st_mode & 07777), path);
        return KURA_EKEYMODE;
    }
    *ret_fd = TAKE_FD(fd);
    return 0;
}

int cli_data_path(const char *data, const char *name, struct kura_buf *ret)
{
    kura_buf_addf(ret, "%s/%s", data, name);
    return kura_buf_err(ret);
}

void cli_remove_tree(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (e->d_type == DT_DIR) {
            cli_remove_tree(dirfd(d), e->d_name);
        } else {
            (void)unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    if (d) {
        closedir(d);
    } else if (fd >= 0) {
        (void)close(fd);
    }
    (void)unlinkat(parent, name, AT_REMOVEDIR);
}
