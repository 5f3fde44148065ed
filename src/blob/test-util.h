/* test-util.h — throwaway data folders for the fs backend's tests (test code only). */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TDIR_PATH_MAX 64

struct tdir {
    char path[TDIR_PATH_MAX];
    int fd; /* the data folder, O_RDONLY | O_DIRECTORY */
};

static inline int tdir_new(struct tdir *t, const char *tag)
{
    (void)snprintf(t->path, sizeof(t->path), "/tmp/kura-blob-%s-XXXXXX", tag);
    if (!mkdtemp(t->path)) {
        return -errno;
    }
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return t->fd < 0 ? -errno : 0;
}

static inline int tdir_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf of the folder, never following symlinks (the tests plant some). */
static inline void tdir_free(struct tdir *t)
{
    if (t->fd >= 0) {
        (void)close(t->fd);
        t->fd = -1;
    }
    (void)nftw(t->path, tdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
