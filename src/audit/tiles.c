/* tiles.c — the C2SP tlog-tiles layout (https://c2sp.org/tlog-tiles): paths, durable writes,
 * and a node source that answers any node hash of the tree from full tiles on disk plus the
 * in-memory leaf hashes of the last incomplete bundle.
 *
 * A level-L tile holds the hashes of the tree nodes at height 8L, 256 to a full tile. A node at
 * a height that is not a multiple of 8 is computed from the tile level below it.
 */
#include "audit-internal.h"

#include <dirent.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tile_path(char out[static TILE_PATH_MAX], int level, uint64_t n, unsigned width)
{
    char groups[8][8];
    int count = 0;
    do {
        (void)snprintf(groups[count++], sizeof(groups[0]), "%03u", (unsigned)(n % 1000));
        n /= 1000;
    } while (n > 0 && count < 8);
    struct kura_buf b = KURA_BUF_INIT(TILE_PATH_MAX - 1);
    if (level == TILE_ENTRIES) {
        kura_buf_adds(&b, "tile/entries/");
    } else {
        kura_buf_addf(&b, "tile/%d/", level);
    }
    for (int i = count - 1; i >= 0; i--) {
        kura_buf_addf(&b, "%s%s%s", i > 0 ? "x" : "", groups[i], i > 0 ? "/" : "");
    }
    if (width > 0 && width < KURA_AUDIT_TILE_WIDTH) {
        kura_buf_addf(&b, ".p/%u", width);
    }
    /* 8 groups of 4 plus the prefix and suffix always fit in TILE_PATH_MAX. */
    memcpy(out, b.ptr, b.len + 1);
    kura_buf_release(&b);
}

int tile_mkdirs(int dirfd, const char *path)
{
    char dir[TILE_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(dir)) {
        return -ENAMETOOLONG;
    }
    memcpy(dir, path, len + 1);
    for (char *p = strchr(dir, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdirat(dirfd, dir, 0700) == 0) {
            /* Make the new directory's entry durable in its parent. */
            char *slash = strrchr(dir, '/');
            int parent = dirfd;
            if (slash) {
                *slash = '\0';
                parent = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                *slash = '/';
            }
            if (parent >= 0) {
                KURA_IGNORE(kura_fsync_dir(parent));
                if (parent != dirfd) {
                    (void)close(parent);
                }
            }
        } else if (errno != EEXIST) {
            return -errno;
        }
        *p = '/';
    }
    return 0;
}

int tile_write(int dirfd, int level, uint64_t n, unsigned width, const void *data, size_t len,
               bool durable)
{
    char path[TILE_PATH_MAX];
    tile_path(path, level, n, width);
    int r = tile_mkdirs(dirfd, path);
    if (r < 0) {
        return r;
    }
    char *slash = strrchr(path, '/');
    *slash = '\0';
    _cleanup_(kura_closep) int dir = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        return -errno;
    }
    if (durable) {
        return kura_file_write_atomic(dir, slash + 1, data, len, 0600);
    }
    /* Rebuildable data: atomic (no reader sees a partial tile) but not synced. */
    char tmp[TILE_PATH_MAX];
    (void)snprintf(tmp, sizeof(tmp), ".%s.tmp", slash + 1);
    _cleanup_(kura_closep) int fd =
        openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -errno;
    }
    if (write(fd, data, len) != (ssize_t)len || renameat(dir, tmp, dir, slash + 1) < 0) {
        r = errno ? -errno : -EIO;
        (void)unlinkat(dir, tmp, 0);
        return r;
    }
    return 0;
}

int tile_read(int dirfd, int level, uint64_t n, unsigned width, void *data, size_t len)
{
    char path[TILE_PATH_MAX];
    tile_path(path, level, n, width);
    _cleanup_(kura_closep) int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -errno;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(fd, (char *)data + got, len - got, (off_t)got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return k < 0 ? -errno : KURA_ECORRUPT;
        }
        got += (size_t)k;
    }
    char extra;
    return pread(fd, &extra, 1, (off_t)len) == 0 ? 0 : KURA_ECORRUPT;
}

bool tile_exists(int dirfd, int level, uint64_t n, unsigned width)
{
    char path[TILE_PATH_MAX];
    struct stat st;
    tile_path(path, level, n, width);
    return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

void tile_remove_partials(int dirfd, int level, uint64_t n)
{
    /* C2SP tlog-tiles: partial tiles of every published size are kept until the full tile
     * exists; then all of them go. Only the widths present are removed (one checkpoint a second
     * publishes a few, not 255). */
    char path[TILE_PATH_MAX];
    tile_path(path, level, n, 1);
    char *slash = strrchr(path, '/');
    *slash = '\0'; /* ".../<N>.p" */
    int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            (void)unlinkat(fd, e->d_name, 0); /* fd belongs to d now */
        }
    }
    closedir(d);
    (void)unlinkat(dirfd, path, AT_REMOVEDIR);
}

/* ---- node source ---------------------------------------------------------------------------- */

void tile_src_init(struct tile_src *s, int dirfd, uint64_t size, const kura_hash *tail)
{
    memset(s, 0, sizeof(*s));
    s->dirfd = dirfd;
    s->size = size;
    s->tail = tail;
}

static int cached_tile(struct tile_src *s, int level, uint64_t n, const kura_hash **ret)
{
    for (unsigned i = 0; i < KURA_ARRAY_SIZE(s->cache); i++) {
        if (s->cache[i].valid && s->cache[i].level == level && s->cache[i].n == n) {
            *ret = (const kura_hash *)s->cache[i].hashes;
            return 0;
        }
    }
    unsigned slot = s->next_slot++ % KURA_ARRAY_SIZE(s->cache);
    s->cache[slot].valid = false;
    int r = tile_read(s->dirfd, level, n, 0, s->cache[slot].hashes, sizeof(s->cache[slot].hashes));
    if (r < 0) {
        return r == -ENOENT ? KURA_ECORRUPT : r;
    }
    s->cache[slot].valid = true;
    s->cache[slot].level = level;
    s->cache[slot].n = n;
    *ret = (const kura_hash *)s->cache[slot].hashes;
    return 0;
}

int tile_src_node(void *ctx, unsigned h, uint64_t i, kura_hash ret)
{
    struct tile_src *s = ctx;
    if (h >= 64 || i >= (s->size >> h)) {
        return KURA_ERANGE; /* not a complete node of this tree */
    }
    if (h % KURA_AUDIT_TILE_HEIGHT != 0) {
        kura_hash l, r;
        int rc = tile_src_node(s, h - 1, 2 * i, l);
        if (rc == 0) {
            rc = tile_src_node(s, h - 1, 2 * i + 1, r);
        }
        return rc < 0 ? rc : tlog_node_hash(l, r, ret);
    }
    int level = (int)(h / KURA_AUDIT_TILE_HEIGHT);
    uint64_t tile = i / KURA_AUDIT_TILE_WIDTH;
    uint64_t full_tiles = s->size >> (h + KURA_AUDIT_TILE_HEIGHT);
    const kura_hash *hashes;
    if (tile < full_tiles) {
        int rc = cached_tile(s, level, tile, &hashes);
        if (rc < 0) {
            return rc;
        }
        memcpy(ret, hashes[i % KURA_AUDIT_TILE_WIDTH], KURA_AUDIT_HASH_BYTES);
        return 0;
    }
    if (level == 0) {
        memcpy(ret, s->tail[i - full_tiles * KURA_AUDIT_TILE_WIDTH], KURA_AUDIT_HASH_BYTES);
        return 0;
    }
    /* A complete node whose own tile is not full yet: the root of the full tile below it. */
    int rc = cached_tile(s, level - 1, i, &hashes);
    if (rc < 0) {
        return rc;
    }
    kura_hash copy[KURA_AUDIT_TILE_WIDTH];
    memcpy(copy, hashes, sizeof(copy));
    return tlog_perfect_root((const kura_hash *)copy, KURA_AUDIT_TILE_WIDTH, ret);
}
