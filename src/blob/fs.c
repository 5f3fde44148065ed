/* fs.c — the blob store on the local filesystem, inside the data folder.
 *
 * Layout: blobs/ab/cd/<id> (ab, cd: the id's first four hex digits, so no directory holds more
 * than 1/65536 of the objects) and tmp/blob-<id> for uploads in progress. tmp/ and blobs/ are
 * on one filesystem (checked at open) so that publishing is a rename, which is atomic.
 *
 * Put, and why each step: the temporary file is created O_EXCL (never reuse or follow what is
 * there) with mode 0600 and locked with flock, which tells collect_tmp in any process that
 * the upload is alive, and is released by the kernel when a writer dies. Commit stamps the
 * mtime from kura's clock (the object's created_ms, so ages have one clock), makes the file
 * read-only (0400: immutable objects), fsyncs the data, creates ab/ and cd/ as needed and
 * fsyncs each new entry's parent, renames into place with RENAME_NOREPLACE, and fsyncs cd/ so
 * the name is durable before commit returns. A crash before the rename leaves only a file in
 * tmp/; after it, the complete object: never a partial object under blobs/.
 *
 * O_TMPFILE + linkat would leave no temporary name at all, but it needs /proc/self/fd (or
 * CAP_DAC_READ_SEARCH) for the link, which a sandboxed worker may lack; a named file plus
 * collect_tmp works everywhere.
 *
 * Every path is walked one component at a time with openat(O_NOFOLLOW), from descriptors
 * opened once: a symlink planted anywhere in blobs/ or tmp/ is refused, never followed, and the
 * components are hex digits checked by blob.c, so nothing can climb out. openat2(RESOLVE_*)
 * would do the same in one call, but some container seccomp profiles still refuse it.
 */
#include "blob/blob-internal.h"

#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define TMP_NAME_SIZE (sizeof(KURA_BLOB_FS_TMP_PREFIX) - 1 + KURA_BLOB_ID_SIZE)
#define LEAF_DIRS 65536u /* ab/cd pairs */

struct fs {
    struct kura_blob base;
    int blobs_fd;
    int tmp_fd;
    /* Directories known to be durable (their parent fsynced after they existed): one fsync
     * per directory per process instead of one per commit. Set only after the fsync
     * succeeded, so a thread that finds a directory made by another thread still fsyncs it. */
    _Atomic uint64_t top_ok[256 / 64];
    _Atomic uint64_t leaf_ok[LEAF_DIRS / 64];
    _Atomic bool no_openat2; /* the kernel or a seccomp profile refused it once */
};

/* A writer asks the kernel to write back each FLUSH_BYTES as soon as they are written, and waits
 * for the previous FLUSH_BYTES to be on their way, so that commit's fsync finds at most two
 * chunks left to write instead of the whole object (a 1 GiB upload otherwise ends with a
 * second or more of fsync after the last byte arrived) and an upload never piles up more than
 * that in dirty pages. Durability still comes from commit's fsync alone. */
#define FLUSH_BYTES ((off_t)8 << 20)

struct fs_writer {
    struct kura_blob_writer base;
    int fd;
    off_t written, flushed; /* bytes written; bytes whose writeback was started */
    char tmp_name[TMP_NAME_SIZE];
};

static void start_writeback(struct fs_writer *w)
{
    while (w->written - w->flushed >= FLUSH_BYTES) {
        /* Errors here are only lost hints: fsync at commit reports any write error. */
        (void)sync_file_range(w->fd, w->flushed, FLUSH_BYTES, SYNC_FILE_RANGE_WRITE);
        if (w->flushed >= FLUSH_BYTES) {
            (void)sync_file_range(w->fd, w->flushed - FLUSH_BYTES, FLUSH_BYTES,
                                  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                      SYNC_FILE_RANGE_WAIT_AFTER);
        }
        w->flushed += FLUSH_BYTES;
    }
}

struct fs_reader {
    struct kura_blob_reader base;
    int fd;
};

/* ---- fault injection ---------------------------------------------------------------------- */

#ifdef KURA_FAULT_INJECTION
static _Atomic unsigned long fail_countdown;
static _Atomic int fail_err;

void kura_blob_fs_fail_at(unsigned long n, int err)
{
    atomic_store(&fail_err, err);
    atomic_store(&fail_countdown, n);
}

/* The chosen operation's error, or 0. */
static int fault(void)
{
    unsigned long n = atomic_load(&fail_countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1)) {
            return n == 1 ? atomic_load(&fail_err) : 0;
        }
    }
    return 0;
}
#else
static inline int fault(void)
{
    return 0;
}
#endif

/* ---- helpers ------------------------------------------------------------------------------ */

/* Maps a lookup failure: a missing component is a missing object; a symlink or a file where a
 * directory (or the reverse) should be is damage. */
static int lookup_err(int e)
{
    switch (e) {
    case ENOENT:
        return KURA_ENOTFOUND;
    case ELOOP:
    case ENOTDIR:
    case EISDIR:
        return KURA_ECORRUPT;
    default:
        return -e;
    }
}

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static bool bit_test(_Atomic uint64_t *map, unsigned i)
{
    return (atomic_load(&map[i / 64]) >> (i % 64)) & 1u;
}

static void bit_set(_Atomic uint64_t *map, unsigned i)
{
    atomic_fetch_or(&map[i / 64], UINT64_C(1) << (i % 64));
}

static unsigned hexval(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

static bool is_hex2(const char *s)
{
    for (size_t i = 0; i < 2; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return s[2] == '\0';
}

/* Opens (with create: first makes, 0700) the directory name under parent without following a
 * symlink. *ret_created tells whether this call made it. */
static int dir_open(int parent, const char *name, bool create, int *ret_fd, bool *ret_created)
{
    bool created = false;
    if (create) {
        int r = fault();
        if (r < 0) {
            return r;
        }
        if (mkdirat(parent, name, 0700) == 0) {
            created = true;
        } else if (errno != EEXIST) {
            return -errno;
        }
    }
    int fd = openat(parent, name, DIR_FLAGS);
    if (fd < 0) {
        return lookup_err(errno);
    }
    *ret_fd = fd;
    if (ret_created) {
        *ret_created = created;
    }
    return 0;
}

static int fsync_fault(int fd)
{
    int r = fault();
    if (r < 0) {
        return r;
    }
    return fsync(fd) < 0 ? -errno : 0;
}

/* Opens blobs/ab/cd for id. With create, makes the missing directories and makes sure each
 * one's entry is durable before returning. */
static int leaf_open(struct fs *fs, const char *id, bool create, int *ret_fd)
{
    char ab[3] = {id[0], id[1], '\0'};
    char cd[3] = {id[2], id[3], '\0'};
    unsigned top = hexval(id[0]) << 4 | hexval(id[1]);
    unsigned leaf = top << 8 | hexval(id[2]) << 4 | hexval(id[3]);
    _cleanup_(kura_closep) int ab_fd = -1;
    int r = dir_open(fs->blobs_fd, ab, create, &ab_fd, NULL);
    if (r < 0) {
        return r;
    }
    if (create && !bit_test(fs->top_ok, top)) {
        r = fsync_fault(fs->blobs_fd);
        if (r < 0) {
            return r;
        }
        bit_set(fs->top_ok, top);
    }
    int cd_fd = -1;
    r = dir_open(ab_fd, cd, create, &cd_fd, NULL);
    if (r < 0) {
        return r;
    }
    if (create && !bit_test(fs->leaf_ok, leaf)) {
        r = fsync_fault(ab_fd);
        if (r < 0) {
            (void)close(cd_fd);
            return r;
        }
        bit_set(fs->leaf_ok, leaf);
    }
    *ret_fd = cd_fd;
    return 0;
}

/* A DIR stream of its own over the directory fd (fdopendir takes the descriptor it is given,
 * and shares its offset, so never hand it one that is used elsewhere). NULL with errno set on
 * failure, the one meaning NULL has here. */
static DIR *dir_stream(int fd)
{
    int own = openat(fd, ".", DIR_FLAGS);
    if (own < 0) {
        return NULL;
    }
    DIR *d = fdopendir(own);
    if (!d) {
        int saved = errno;
        (void)close(own);
        errno = saved;
    }
    return d;
}

static void dir_closep(DIR **d)
{
    if (*d) {
        (void)closedir(*d);
        *d = NULL;
    }
}

/* readdir that tells the end (NULL, *ret_err 0) from a failure (NULL, *ret_err < 0). */
static struct dirent *dir_next(DIR *d, int *ret_err)
{
    errno = 0;
    struct dirent *e = readdir(d);
    *ret_err = !e && errno != 0 ? -errno : 0;
    return e;
}

/* ---- open and close ----------------------------------------------------------------------- */

static void fs_close(struct kura_blob *b)
{
    struct fs *fs = (struct fs *)b;
    kura_closep(&fs->blobs_fd);
    kura_closep(&fs->tmp_fd);
    kura_free(fs);
}

int kura_blob_fs_open(int datadir_fd, struct kura_blob **ret)
{
    assert(ret);
    struct fs *fs = kura_calloc(1, sizeof(*fs));
    if (!fs) {
        return -ENOMEM;
    }
    fs->base.ops = &kura_blob_fs_ops;
    fs->blobs_fd = fs->tmp_fd = -1;
    bool made_blobs = false, made_tmp = false;
    int r = dir_open(datadir_fd, "blobs", true, &fs->blobs_fd, &made_blobs);
    if (r == 0) {
        r = dir_open(datadir_fd, "tmp", true, &fs->tmp_fd, &made_tmp);
    }
    if (r == 0 && (made_blobs || made_tmp)) {
        r = kura_fsync_dir(datadir_fd);
    }
    struct stat sb, st;
    if (r == 0 && (fstat(fs->blobs_fd, &sb) < 0 || fstat(fs->tmp_fd, &st) < 0)) {
        r = -errno;
    }
    if (r == 0 && sb.st_dev != st.st_dev) {
        r = -EXDEV;
    }
    if (r == KURA_ENOTFOUND) {
        r = -ENOENT; /* the folder vanished under us; not a missing object */
    }
    if (r < 0) {
        fs_close(&fs->base);
        return r;
    }
    *ret = &fs->base;
    return 0;
}

/* ---- put ---------------------------------------------------------------------------------- */

static void writer_free(struct fs_writer *w, bool unlink_tmp)
{
    struct fs *fs = (struct fs *)w->base.store;
    /* Unlink while the lock is still held, so no collector ever sees the name unlocked. */
    if (unlink_tmp) {
        (void)unlinkat(fs->tmp_fd, w->tmp_name, 0);
    }
    kura_closep(&w->fd);
    kura_free(w);
}

static int fs_put_begin(struct kura_blob *b, const char *id, struct kura_blob_writer **ret)
{
    struct fs *fs = (struct fs *)b;
    struct fs_writer *w = kura_calloc(1, sizeof(*w));
    if (!w) {
        return -ENOMEM;
    }
    w->base.store = b;
    memcpy(w->base.id, id, KURA_BLOB_ID_SIZE);
    (void)snprintf(w->tmp_name, sizeof(w->tmp_name), "%s%s", KURA_BLOB_FS_TMP_PREFIX, id);
    int r = fault();
    if (r < 0) {
        kura_free(w);
        return r;
    }
    w->fd =
        openat(fs->tmp_fd, w->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        r = -errno;
        kura_free(w);
        return r;
    }
    /* A new file nobody else can have locked; failure would be a kernel oddity. The mode is
     * set exactly, whatever the umask. */
    if (flock(w->fd, LOCK_EX | LOCK_NB) < 0 || fchmod(w->fd, 0600) < 0) {
        r = -errno;
        writer_free(w, true);
        return r;
    }
    *ret = &w->base;
    return 0;
}

static int fs_put_write(struct kura_blob_writer *bw, const void *p, size_t len)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    int r = fault();
    if (r < 0) {
        return r;
    }
    const uint8_t *c = p;
    while (len > 0) {
        ssize_t n = write(w->fd, c, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        c += n;
        len -= (size_t)n;
        w->written += n;
    }
    start_writeback(w);
    return 0;
}

/* Moves tmp/blob-<id> to cd/<id>, refusing to replace anything. */
static int publish(struct fs *fs, struct fs_writer *w, int cd_fd)
{
    int r = fault();
    if (r < 0) {
        return r;
    }
    if (renameat2(fs->tmp_fd, w->tmp_name, cd_fd, w->base.id, RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL) {
        /* EEXIST would mean two uploads drew the same 128 random bits: a broken CSPRNG. */
        return errno == EEXIST ? KURA_EINTERNAL : -errno;
    }
    /* A filesystem without RENAME_NOREPLACE: link (which never replaces) then drop the
     * temporary name. A crash in between leaves a complete object plus a leftover in tmp/. */
    if (linkat(fs->tmp_fd, w->tmp_name, cd_fd, w->base.id, 0) < 0) {
        return errno == EEXIST ? KURA_EINTERNAL : -errno;
    }
    (void)unlinkat(fs->tmp_fd, w->tmp_name, 0);
    return 0;
}

static int fs_put_commit(struct kura_blob_writer *bw)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    struct fs *fs = (struct fs *)bw->store;
    int64_t now = kura_clock_wall_ms();
    struct timespec ts[2] = {{.tv_sec = now / 1000, .tv_nsec = (now % 1000) * 1000000}};
    ts[1] = ts[0];
    int r = fault();
    if (r == 0 && futimens(w->fd, ts) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = fault();
    }
    if (r == 0 && fchmod(w->fd, 0400) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = fsync_fault(w->fd);
    }
    _cleanup_(kura_closep) int cd_fd = -1;
    if (r == 0) {
        r = leaf_open(fs, bw->id, true, &cd_fd);
    }
    if (r == 0) {
        r = publish(fs, w, cd_fd);
    }
    if (r < 0) {
        writer_free(w, true);
        return r;
    }
    r = fsync_fault(cd_fd);
    if (r < 0) {
        /* Visible but perhaps not durable: take it back rather than hand out an id that a
         * power cut could lose. If even that fails, collect removes it later. */
        (void)unlinkat(cd_fd, bw->id, 0);
        (void)fsync(cd_fd);
    }
    writer_free(w, false);
    return r;
}

static void fs_put_abort(struct kura_blob_writer *bw)
{
    writer_free((struct fs_writer *)bw, true);
}

/* ---- get, stat, remove -------------------------------------------------------------------- */

/* O_NONBLOCK: a FIFO planted here must be refused by the caller, not waited on. */
#define OBJECT_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

/* Opens blobs/ab/cd/<id> for reading: one openat2 that refuses symlinks anywhere on the way,
 * leaving blobs/ or crossing a mount (what the walk of leaf_open does in five system calls, a
 * measurable part of a small GET), or that walk where openat2 is refused. */
static int object_open(struct fs *fs, const char *id, int *ret_fd)
{
    if (!atomic_load(&fs->no_openat2)) {
        char path[8 + KURA_BLOB_ID_SIZE];
        (void)snprintf(path, sizeof(path), "%.2s/%.2s/%s", id, id + 2, id);
        struct open_how how = {.flags = OBJECT_FLAGS,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                          RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
        long fd = syscall(SYS_openat2, fs->blobs_fd, path, &how, sizeof(how));
        if (fd >= 0) {
            *ret_fd = (int)fd;
            return 0;
        }
        if (errno != ENOSYS && errno != EPERM) {
            return lookup_err(errno);
        }
        atomic_store(&fs->no_openat2, true);
    }
    _cleanup_(kura_closep) int cd_fd = -1;
    int r = leaf_open(fs, id, false, &cd_fd);
    if (r < 0) {
        return r;
    }
    int fd = openat(cd_fd, id, OBJECT_FLAGS);
    if (fd < 0) {
        return lookup_err(errno);
    }
    *ret_fd = fd;
    return 0;
}

void kura_blob_fs_use_walk(struct kura_blob *b)
{
    atomic_store(&((struct fs *)b)->no_openat2, true);
}

static int fs_get(struct kura_blob *b, const char *id, uint64_t offset,
                  struct kura_blob_reader **ret)
{
    struct fs *fs = (struct fs *)b;
    _cleanup_(kura_closep) int fd = -1;
    int r = object_open(fs, id, &fd);
    if (r < 0) {
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0) {
        return KURA_ECORRUPT;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (offset > size) {
        return KURA_ERANGENS;
    }
    /* Advice only; the read-ahead it buys is not worth failing a read over (nor a system call
     * for an object that fits in the default read-ahead). */
    if (size - offset > 256 * 1024) {
        (void)posix_fadvise(fd, (off_t)offset, 0, POSIX_FADV_SEQUENTIAL);
    }
    struct fs_reader *rd = kura_calloc(1, sizeof(*rd));
    if (!rd) {
        return -ENOMEM;
    }
    rd->base = (struct kura_blob_reader){.store = b, .size = size, .pos = offset};
    rd->fd = TAKE_FD(fd);
    *ret = &rd->base;
    return 0;
}

static int fs_read(struct kura_blob_reader *br, void *buf, size_t cap, size_t *ret_n)
{
    struct fs_reader *rd = (struct fs_reader *)br;
    for (;;) {
        ssize_t n = pread(rd->fd, buf, cap, (off_t)br->pos);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        *ret_n = (size_t)n;
        return 0;
    }
}

static void fs_reader_close(struct kura_blob_reader *br)
{
    struct fs_reader *rd = (struct fs_reader *)br;
    kura_closep(&rd->fd);
    kura_free(rd);
}

/* lstat of cd/<id>: must be a regular file. */
static int stat_in(int cd_fd, const char *id, struct stat *ret)
{
    if (fstatat(cd_fd, id, ret, AT_SYMLINK_NOFOLLOW) < 0) {
        return lookup_err(errno);
    }
    if (!S_ISREG(ret->st_mode) || ret->st_size < 0) {
        return KURA_ECORRUPT;
    }
    return 0;
}

static int fs_stat(struct kura_blob *b, const char *id, struct kura_blob_stat *ret)
{
    struct fs *fs = (struct fs *)b;
    _cleanup_(kura_closep) int cd_fd = -1;
    int r = leaf_open(fs, id, false, &cd_fd);
    if (r < 0) {
        return r;
    }
    struct stat st;
    r = stat_in(cd_fd, id, &st);
    if (r < 0) {
        return r;
    }
    *ret = (struct kura_blob_stat){.size = (uint64_t)st.st_size, .created_ms = mtime_ms(&st)};
    return 0;
}

static int fs_remove(struct kura_blob *b, const char *id)
{
    struct fs *fs = (struct fs *)b;
    _cleanup_(kura_closep) int cd_fd = -1;
    int r = leaf_open(fs, id, false, &cd_fd);
    if (r < 0) {
        return r;
    }
    /* Only a regular file is an object; anything else is left for an operator to look at. */
    struct stat st;
    r = stat_in(cd_fd, id, &st);
    if (r < 0) {
        return r;
    }
    if (unlinkat(cd_fd, id, 0) < 0) {
        return lookup_err(errno);
    }
    /* Empty ab/ and cd/ directories stay: at most 65,536 of them, and removing them would race
     * with a commit that has just opened one. */
    return kura_fsync_dir(cd_fd);
}

/* ---- list --------------------------------------------------------------------------------- */

static int list_leaf(int ab_fd, const char *ab, const char *cd, kura_blob_list_fn fn, void *ctx)
{
    _cleanup_(kura_closep) int cd_fd = openat(ab_fd, cd, DIR_FLAGS);
    if (cd_fd < 0) {
        /* Vanished, a symlink or a file: not part of the store, skipped like any stray entry. */
        return errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? 0 : -errno;
    }
    _cleanup_(dir_closep) DIR *d = dir_stream(cd_fd);
    if (!d) {
        return -errno;
    }
    int r = 0;
    struct dirent *e;
    while ((e = dir_next(d, &r))) {
        const char *name = e->d_name;
        if (!kura_blob_id_valid(name) || memcmp(name, ab, 2) != 0 || memcmp(name + 2, cd, 2) != 0) {
            continue;
        }
        struct stat st;
        r = stat_in(cd_fd, name, &st);
        if (r == KURA_ENOTFOUND || r == KURA_ECORRUPT) {
            continue; /* removed meanwhile, or not a regular file */
        }
        if (r < 0) {
            return r;
        }
        const struct kura_blob_stat bs = {.size = (uint64_t)st.st_size,
                                          .created_ms = mtime_ms(&st)};
        r = fn(ctx, name, &bs);
        if (r < 0) {
            return r;
        }
    }
    return r;
}

static int list_top(int blobs_fd, const char *ab, kura_blob_list_fn fn, void *ctx)
{
    _cleanup_(kura_closep) int ab_fd = openat(blobs_fd, ab, DIR_FLAGS);
    if (ab_fd < 0) {
        return errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? 0 : -errno;
    }
    _cleanup_(dir_closep) DIR *d = dir_stream(ab_fd);
    if (!d) {
        return -errno;
    }
    int r = 0;
    struct dirent *e;
    while ((e = dir_next(d, &r))) {
        if (!is_hex2(e->d_name)) {
            continue;
        }
        r = list_leaf(ab_fd, ab, e->d_name, fn, ctx);
        if (r < 0) {
            return r;
        }
    }
    return r;
}

static int fs_list(struct kura_blob *b, kura_blob_list_fn fn, void *ctx)
{
    struct fs *fs = (struct fs *)b;
    _cleanup_(dir_closep) DIR *d = dir_stream(fs->blobs_fd);
    if (!d) {
        return -errno;
    }
    int r = 0;
    struct dirent *e;
    while ((e = dir_next(d, &r))) {
        if (!is_hex2(e->d_name)) {
            continue;
        }
        r = list_top(fs->blobs_fd, e->d_name, fn, ctx);
        if (r < 0) {
            return r;
        }
    }
    return r;
}

/* ---- collect_tmp -------------------------------------------------------------------------- */

/* One entry of tmp/: removed when it is an upload's file, unlocked (its writer is gone) and
 * untouched for min_age_ms. */
static int collect_tmp_one(struct fs *fs, const char *name, int64_t cutoff_ms,
                           struct kura_blob_gc *gc)
{
    size_t plen = sizeof(KURA_BLOB_FS_TMP_PREFIX) - 1;
    if (strncmp(name, KURA_BLOB_FS_TMP_PREFIX, plen) != 0 || !kura_blob_id_valid(name + plen)) {
        return 0; /* not ours: another area's temporary file */
    }
    _cleanup_(kura_closep) int fd =
        openat(fs->tmp_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        /* Committed or aborted meanwhile; ELOOP: a symlink, never ours to follow or remove. */
        return errno == ENOENT || errno == ELOOP ? 0 : -errno;
    }
    struct stat st, again;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        return 0;
    }
    gc->examined++;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            gc->busy++;
            return 0;
        }
        return -errno;
    }
    /* Stat again under the lock: the last write may have landed just before it was taken. */
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (mtime_ms(&st) > cutoff_ms) {
        gc->young++;
        return 0;
    }
    /* Remove the name only if it still is the file we hold locked. */
    if (fstatat(fs->tmp_fd, name, &again, AT_SYMLINK_NOFOLLOW) < 0 || again.st_ino != st.st_ino ||
        again.st_dev != st.st_dev) {
        return 0;
    }
    if (unlinkat(fs->tmp_fd, name, 0) < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    gc->removed++;
    gc->bytes_freed += (uint64_t)st.st_size;
    return 0;
}

static int fs_collect_tmp(struct kura_blob *b, int64_t now_ms, int64_t min_age_ms,
                          struct kura_blob_gc *ret)
{
    struct fs *fs = (struct fs *)b;
    _cleanup_(dir_closep) DIR *d = dir_stream(fs->tmp_fd);
    if (!d) {
        return -errno;
    }
    int r = 0;
    struct dirent *e;
    bool removed = false;
    while ((e = dir_next(d, &r))) {
        uint64_t before = ret->removed;
        r = collect_tmp_one(fs, e->d_name, now_ms - min_age_ms, ret);
        if (r < 0) {
            break;
        }
        removed |= ret->removed != before;
    }
    if (removed) {
        /* Not needed for safety (a resurrected leftover is collected again), but it makes the
         * freed space stay freed. */
        int rs = kura_fsync_dir(fs->tmp_fd);
        if (r == 0) {
            r = rs;
        }
    }
    return r;
}

const struct kura_blob_ops kura_blob_fs_ops = {
    .version = KURA_BLOB_OPS_VERSION,
    .name = "fs",
    .close = fs_close,
    .put_begin = fs_put_begin,
    .put_write = fs_put_write,
    .put_commit = fs_put_commit,
    .put_abort = fs_put_abort,
    .get = fs_get,
    .read = fs_read,
    .reader_close = fs_reader_close,
    .stat = fs_stat,
    .remove = fs_remove,
    .list = fs_list,
    .collect_tmp = fs_collect_tmp,
};
