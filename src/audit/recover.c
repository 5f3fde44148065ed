/* recover.c — opening the audit log after any kind of stop.
 *
 * What a crash can leave, and what happens to it:
 *  - audit/current ends in a record that was being written (never acknowledged: acknowledgement
 *    follows fdatasync) or in zeros: the tail from the first invalid record on is cut off, and the
 *    cut is reported (operational log, and an audit.recovered record written by the caller).
 *  - audit/current holds 256 records but was not renamed yet: it becomes tile/entries/<N>.
 *  - A bundle exists without its level-0 tile, or a full tile without the one above it: they
 *    are recomputed.
 *  - The partial tiles of the last checkpoint are stale: they are rewritten at the next
 *    checkpoint.
 * And what is refused (KURA_ECORRUPT): a checkpoint that does not verify with the audit key, a
 * log with fewer records than its checkpoint (records were removed), or another root (records
 * were changed).
 */
#include "audit-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct parsed_bundle {
    kura_hash leaves[KURA_AUDIT_TILE_WIDTH];
    unsigned count;
    size_t valid_len; /* bytes up to the end of the last valid record */
    int64_t last_time;
};

/* A record is valid here when its length is sane and it starts with its expected index; the
 * full structural check is the verifier's job. */
static bool record_plausible(const char *rec, size_t len, uint64_t index)
{
    char prefix[48];
    int n =
        snprintf(prefix, sizeof(prefix), "{\"index\":%llu,\"time\":\"", (unsigned long long)index);
    return len > (size_t)n + 26 && memcmp(rec, prefix, (size_t)n) == 0 && rec[len - 1] == '}' &&
           kura_utf8_valid(rec, len);
}

/* Parses a bundle's records from first_index on, stopping at the first implausible one. */
static int parse_bundle(const char *data, size_t len, uint64_t first_index,
                        struct parsed_bundle *ret)
{
    memset(ret, 0, sizeof(*ret));
    size_t off = 0;
    while (ret->count < KURA_AUDIT_TILE_WIDTH && len - off >= 2) {
        size_t rlen = ((size_t)(uint8_t)data[off] << 8) | (uint8_t)data[off + 1];
        const char *rec = data + off + 2;
        if (rlen == 0 || rlen > KURA_AUDIT_RECORD_MAX || rlen > len - off - 2 ||
            !record_plausible(rec, rlen, first_index + ret->count)) {
            break;
        }
        int r = tlog_leaf_hash(rec, rlen, ret->leaves[ret->count]);
        if (r < 0) {
            return r;
        }
        /* "time" sits at a fixed place after the index: {"index":N,"time":"..." */
        const char *t = memchr(rec, 't', rlen);
        char ts[25];
        if (t && (size_t)(rec + rlen - t) > 32) {
            memcpy(ts, t + 7, 24);
            ts[24] = '\0';
            KURA_IGNORE(audit_time_parse(ts, &ret->last_time));
        }
        ret->count++;
        off += 2 + rlen;
        ret->valid_len = off;
    }
    return 0;
}

static int read_file_at(int dirfd, const char *name, struct kura_buf *out)
{
    return kura_file_read_all(dirfd, name, out);
}

/* Number of full level-0 tiles: they are never deleted, so their existence is monotone. */
static uint64_t count_full_tiles(int dirfd)
{
    uint64_t lo = 0, hi = 1;
    while (tile_exists(dirfd, 0, hi - 1, 0)) {
        lo = hi;
        hi *= 2;
    }
    while (lo + 1 < hi) { /* tile lo-1 exists (or lo == 0), tile hi-1 does not */
        uint64_t mid = lo + (hi - lo) / 2;
        if (tile_exists(dirfd, 0, mid - 1, 0)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Writes tile/0/<n> from bundle n's records (the bundle was renamed, the tile not written). */
static int rebuild_level0(int dirfd, uint64_t n, struct kura_buf *why)
{
    char path[TILE_PATH_MAX];
    tile_path(path, TILE_ENTRIES, n, 0);
    struct kura_buf data = KURA_BUF_INIT(KURA_AUDIT_TILE_WIDTH * (KURA_AUDIT_RECORD_MAX + 2));
    int r = read_file_at(dirfd, path, &data);
    struct parsed_bundle *pb = r == 0 ? kura_malloc(sizeof(*pb)) : NULL;
    if (r == 0 && !pb) {
        r = -ENOMEM;
    }
    if (r == 0) {
        r = parse_bundle(data.ptr, data.len, n * KURA_AUDIT_TILE_WIDTH, pb);
    }
    if (r == 0 && (pb->count != KURA_AUDIT_TILE_WIDTH || pb->valid_len != data.len)) {
        kura_buf_addf(why, "%s: damaged bundle (%u valid records)", path, pb->count);
        r = KURA_ECORRUPT;
    }
    if (r == 0) {
        r = tile_write(dirfd, 0, n, 0, pb->leaves, sizeof(pb->leaves), true);
    }
    kura_free(pb);
    kura_buf_release(&data);
    return r;
}

/* Rebuilds the last full tile of each level above 0 if a crash left it unwritten. */
static int rebuild_upper(int dirfd, uint64_t full0)
{
    for (int level = 1; level < LEVELS; level++) {
        uint64_t full = full0 >> (KURA_AUDIT_TILE_HEIGHT * level);
        if (full == 0 || tile_exists(dirfd, level, full - 1, 0)) {
            continue;
        }
        kura_hash below[KURA_AUDIT_TILE_WIDTH], tile[KURA_AUDIT_TILE_WIDTH];
        for (unsigned j = 0; j < KURA_AUDIT_TILE_WIDTH; j++) {
            int r = tile_read(dirfd, level - 1, (full - 1) * KURA_AUDIT_TILE_WIDTH + j, 0, below,
                              sizeof(below));
            if (r == 0) {
                r = tlog_perfect_root((const kura_hash *)below, KURA_AUDIT_TILE_WIDTH, tile[j]);
            }
            if (r < 0) {
                return r;
            }
        }
        int r = tile_write(dirfd, level, full - 1, 0, tile, sizeof(tile), true);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* Loads audit/current: cuts a torn tail, completes a full bundle. Returns the bundle's records. */
static int load_current(struct kura_audit *a, uint64_t *full, struct parsed_bundle *pb,
                        struct kura_buf *why)
{
    for (;;) {
        kura_buf_reset(&a->bundle);
        int r = read_file_at(a->dirfd, CURRENT, &a->bundle);
        if (r == -ENOENT) {
            memset(pb, 0, sizeof(*pb));
            return 0;
        }
        if (r == 0) {
            r = parse_bundle(a->bundle.ptr, a->bundle.len, *full * KURA_AUDIT_TILE_WIDTH, pb);
        }
        if (r < 0) {
            kura_buf_addf(why, "audit/current: %s", kura_strerror(r));
            return r;
        }
        if (pb->valid_len < a->bundle.len) {
            char cut[KURA_NUM_STR_MAX];
            kura_log(KURA_LOG_WARN, "audit_tail_cut", "bytes",
                     kura_fmt_u64(cut, a->bundle.len - pb->valid_len), "msg",
                     "unacknowledged tail of audit/current removed", NULL);
            a->cut_bytes += a->bundle.len - pb->valid_len;
            _cleanup_(kura_closep) int fd = openat(a->dirfd, CURRENT, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ftruncate(fd, (off_t)pb->valid_len) < 0 || fdatasync(fd) < 0) {
                return -errno;
            }
            kura_buf_truncate(&a->bundle, pb->valid_len);
        }
        if (pb->count < KURA_AUDIT_TILE_WIDTH) {
            return 0;
        }
        /* A full bundle that was not renamed yet. */
        a->size = (*full + 1) * KURA_AUDIT_TILE_WIDTH;
        memcpy(a->level[0], pb->leaves, sizeof(pb->leaves));
        a->level_count[0] = KURA_AUDIT_TILE_WIDTH;
        a->in_bundle = KURA_AUDIT_TILE_WIDTH;
        r = audit_finish_bundle(a);
        if (r < 0) {
            return r;
        }
        (*full)++;
    }
}

static int rebuild_state(struct kura_audit *a, const struct parsed_bundle *pb)
{
    struct tile_src *src = kura_malloc(sizeof(*src));
    if (!src) {
        return -ENOMEM;
    }
    tile_src_init(src, a->dirfd, a->size, (const kura_hash *)pb->leaves);
    int r = 0;
    tlog_compact_init(&a->compact);
    uint64_t pos = 0;
    for (int h = 63; h >= 0 && r == 0; h--) {
        if (a->size & (UINT64_C(1) << h)) {
            r = tile_src_node(src, (unsigned)h, pos >> h, a->compact.hashes[a->compact.count++]);
            pos += UINT64_C(1) << h;
        }
    }
    a->compact.size = a->size;
    for (unsigned l = 0; l < LEVELS && r == 0; l++) {
        uint64_t nodes = a->size >> (KURA_AUDIT_TILE_HEIGHT * l);
        a->level_count[l] = (unsigned)(nodes % KURA_AUDIT_TILE_WIDTH);
        for (unsigned j = 0; j < a->level_count[l] && r == 0; j++) {
            r = tile_src_node(src, KURA_AUDIT_TILE_HEIGHT * l, nodes - a->level_count[l] + j,
                              a->level[l][j]);
        }
    }
    if (r == 0 && a->size > 0) {
        r = tile_src_node(src, 0, a->size - 1, a->last_leaf);
    }
    kura_free(src);
    return r;
}

/* The time of the last record, when it is not in audit/current. */
static void last_bundle_time(struct kura_audit *a, uint64_t full)
{
    if (full == 0) {
        return;
    }
    char path[TILE_PATH_MAX];
    tile_path(path, TILE_ENTRIES, full - 1, 0);
    struct kura_buf data = KURA_BUF_INIT(KURA_AUDIT_TILE_WIDTH * (KURA_AUDIT_RECORD_MAX + 2));
    struct parsed_bundle *pb = kura_malloc(sizeof(*pb));
    if (pb && read_file_at(a->dirfd, path, &data) == 0 &&
        parse_bundle(data.ptr, data.len, (full - 1) * KURA_AUDIT_TILE_WIDTH, pb) == 0) {
        a->last_time = pb->last_time; /* a pruned bundle leaves 0: time restarts from now */
    }
    kura_free(pb);
    kura_buf_release(&data);
}

/* Compares the tree with the last signed checkpoint. */
static int check_checkpoint(struct kura_audit *a, const struct parsed_bundle *pb,
                            struct kura_buf *why)
{
    struct kura_buf note = KURA_BUF_INIT(AUDIT_NOTE_MAX);
    int r = read_file_at(a->dirfd, CHECKPOINT, &note);
    if (r == -ENOENT) {
        kura_buf_release(&note);
        return 0; /* a new log */
    }
    struct kura_audit_checkpoint cp;
    if (r == 0) {
        r = kura_audit_checkpoint_open(note.ptr, note.len, kura_sign_key_public(a->key), a->origin,
                                       &cp);
        if (r < 0) {
            kura_buf_adds(why, "audit/checkpoint does not verify with keys/audit.pub and this "
                               "installation's origin");
            r = KURA_ECORRUPT;
        }
    }
    kura_buf_release(&note);
    if (r < 0) {
        return r;
    }
    if (cp.size > a->size) {
        kura_buf_addf(why,
                      "the audit log has %llu records but its last checkpoint covers %llu: "
                      "records were removed",
                      (unsigned long long)a->size, (unsigned long long)cp.size);
        return KURA_ECORRUPT;
    }
    struct tile_src *src = kura_malloc(sizeof(*src));
    if (!src) {
        return -ENOMEM;
    }
    tile_src_init(src, a->dirfd, a->size, (const kura_hash *)pb->leaves);
    kura_hash root;
    r = tlog_tree_root(cp.size, tile_src_node, src, root);
    kura_free(src);
    if (r == 0 && memcmp(root, cp.root, KURA_AUDIT_HASH_BYTES) != 0) {
        kura_buf_addf(why,
                      "the audit log's first %llu records do not hash to the root of its last "
                      "checkpoint: records were changed",
                      (unsigned long long)cp.size);
        return KURA_ECORRUPT;
    }
    a->published_size = cp.size;
    return r;
}

static int mark_running(struct kura_audit *a)
{
    struct stat st;
    a->unclean = fstatat(a->dirfd, RUNNING, &st, AT_SYMLINK_NOFOLLOW) == 0;
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    return kura_file_write_atomic(a->dirfd, RUNNING, pid, (size_t)n, 0600);
}

int audit_recover(struct kura_audit *a, struct kura_buf *why)
{
    int r = tile_mkdirs(a->dirfd, "tile/entries/");
    uint64_t full = count_full_tiles(a->dirfd);
    while (r == 0) {
        char path[TILE_PATH_MAX];
        struct stat st;
        tile_path(path, TILE_ENTRIES, full, 0);
        if (fstatat(a->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            break;
        }
        r = rebuild_level0(a->dirfd, full, why); /* renamed, tile not yet written */
        full += r == 0;
    }
    struct parsed_bundle *pb = kura_calloc(1, sizeof(*pb));
    if (r == 0 && !pb) {
        r = -ENOMEM;
    }
    a->size = full * KURA_AUDIT_TILE_WIDTH;
    if (r == 0) {
        r = load_current(a, &full, pb, why);
    }
    if (r == 0) {
        r = rebuild_upper(a->dirfd, full); /* after completing an interrupted bundle */
    }
    if (r == 0) {
        a->size = full * KURA_AUDIT_TILE_WIDTH + pb->count;
        a->in_bundle = pb->count;
        r = rebuild_state(a, pb);
    }
    if (r == 0) {
        a->last_time = pb->last_time;
        if (pb->count == 0) {
            last_bundle_time(a, full);
        }
        r = check_checkpoint(a, pb, why);
    }
    if (r == 0) {
        r = mark_running(a);
    }
    kura_free(pb);
    if (r < 0 && why->len == 0) {
        kura_buf_addf(why, "cannot recover the audit log: %s", kura_strerror(r));
    }
    return r;
}
