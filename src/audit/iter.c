/* iter.c — reading records in index order from the files, beside a live writer.
 *
 * The writer appends whole records to audit/current and renames it to tile/entries/<N> when it
 * holds 256; an iterator that reaches the end of what it read re-reads, and if the file it was
 * reading became a bundle, continues from the bundle. A record is handed out only when its
 * length prefix and bytes are complete (an acknowledged record is always complete).
 */
#include "audit-internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct kura_audit_iter {
    int dirfd;
    uint64_t next;         /* index of the next record to hand out */
    uint64_t bundle;       /* bundle loaded in buf */
    bool loaded, complete; /* buf holds the bundle; it has all 256 records */
    struct kura_buf buf;
    size_t off;      /* offset of record `next` in buf */
    unsigned in_buf; /* records of buf before off */
};

int kura_audit_iter_open(int audit_dirfd, uint64_t from, struct kura_audit_iter **ret)
{
    struct kura_audit_iter *it = kura_calloc(1, sizeof(*it));
    if (!it) {
        return -ENOMEM;
    }
    it->dirfd = audit_dirfd;
    it->next = from;
    kura_buf_init(&it->buf, KURA_AUDIT_TILE_WIDTH * (KURA_AUDIT_RECORD_MAX + 2));
    *ret = it;
    return 0;
}

struct kura_audit_iter *kura_audit_iter_free(struct kura_audit_iter *it)
{
    if (it) {
        kura_buf_release(&it->buf);
        kura_free(it);
    }
    return NULL;
}

/* Loads the bundle of it->next: a full one, or audit/current when it holds that bundle. */
static int load(struct kura_audit_iter *it)
{
    uint64_t n = it->next / KURA_AUDIT_TILE_WIDTH;
    char path[TILE_PATH_MAX];
    tile_path(path, TILE_ENTRIES, n, 0);
    kura_buf_reset(&it->buf);
    int r = kura_file_read_all(it->dirfd, path, &it->buf);
    it->complete = r == 0;
    if (r == -ENOENT) {
        kura_buf_reset(&it->buf);
        r = kura_file_read_all(it->dirfd, CURRENT, &it->buf);
        if (r == -ENOENT) {
            kura_buf_reset(&it->buf);
            r = 0;
        }
        /* audit/current holds bundle n only if n is the first bundle without a tile. */
        if (r == 0 && n > 0 && !tile_exists(it->dirfd, 0, n - 1, 0)) {
            kura_buf_reset(&it->buf);
            it->loaded = false;
            return tile_exists(it->dirfd, 0, n, 0) ? KURA_ENOTFOUND : 0;
        }
        if (r == 0 && tile_exists(it->dirfd, 0, n, 0)) {
            /* Renamed meanwhile, or pruned: decide from the bundle path once more. */
            kura_buf_reset(&it->buf);
            r = kura_file_read_all(it->dirfd, path, &it->buf);
            it->complete = r == 0;
            if (r == -ENOENT) {
                return KURA_ENOTFOUND; /* its tile exists, its bundle not: pruned */
            }
        }
    }
    if (r < 0) {
        return r;
    }
    it->bundle = n;
    it->loaded = true;
    /* Skip to the wanted record. */
    it->off = 0;
    it->in_buf = 0;
    while (it->in_buf < it->next % KURA_AUDIT_TILE_WIDTH) {
        if (it->buf.len - it->off < 2) {
            return 0; /* not written yet */
        }
        size_t len =
            ((size_t)(uint8_t)it->buf.ptr[it->off] << 8) | (uint8_t)it->buf.ptr[it->off + 1];
        if (len > it->buf.len - it->off - 2) {
            return 0;
        }
        it->off += 2 + len;
        it->in_buf++;
    }
    return 0;
}

/* Hands out record it->next if the loaded bytes hold all of it. */
static bool take(struct kura_audit_iter *it, struct kura_str *ret_record, uint64_t *ret_index)
{
    if (!it->loaded || it->bundle != it->next / KURA_AUDIT_TILE_WIDTH ||
        it->in_buf != it->next % KURA_AUDIT_TILE_WIDTH || it->buf.len - it->off < 2) {
        return false;
    }
    size_t len = ((size_t)(uint8_t)it->buf.ptr[it->off] << 8) | (uint8_t)it->buf.ptr[it->off + 1];
    if (len == 0 || len > it->buf.len - it->off - 2) {
        return false;
    }
    *ret_record = kura_str_make(it->buf.ptr + it->off + 2, len);
    *ret_index = it->next++;
    it->off += 2 + len;
    it->in_buf++;
    return true;
}

int kura_audit_iter_next(struct kura_audit_iter *it, struct kura_str *ret_record,
                         uint64_t *ret_index)
{
    if (take(it, ret_record, ret_index)) {
        return 1;
    }
    /* Used up what was read (or the bundle is finished): read again. */
    int r = load(it);
    if (r == KURA_ENOTFOUND) {
        it->next = (it->next / KURA_AUDIT_TILE_WIDTH + 1) * KURA_AUDIT_TILE_WIDTH;
        it->loaded = false;
        return r;
    }
    if (r < 0) {
        return r;
    }
    return take(it, ret_record, ret_index) ? 1 : 0;
}
