/* retention.c — deleting record payloads past [audit] retention_days (5 years by default).
 *
 * C-CAT 003 keeps audit logs for 5 years; the MHLW guideline asks that deletion be impossible
 * otherwise. So this is the only code that deletes log files, it only deletes whole finished
 * bundles older than the cutoff, it announces what it deletes in the log itself before deleting,
 * and the hash tiles (32 bytes a record) are kept forever so that the tree and every checkpoint
 * still verify.
 */
#include "audit-internal.h"

#include <string.h>
#include <unistd.h>

/* Time of the last record of finished bundle n, and whether it holds a key rotation (such a
 * bundle is kept: verify needs the rotation record to follow the key chain); KURA_ENOTFOUND
 * when it is already gone. The action is matched as written by the serialiser, with unescaped
 * quotes, which text inside a JSON string cannot contain. */
static int bundle_last_time(int dirfd, uint64_t n, int64_t *ret, bool *ret_rotation)
{
    char path[TILE_PATH_MAX];
    tile_path(path, TILE_ENTRIES, n, 0);
    struct kura_buf data = KURA_BUF_INIT(KURA_AUDIT_TILE_WIDTH * (KURA_AUDIT_RECORD_MAX + 2));
    int r = kura_file_read_all(dirfd, path, &data);
    struct kura_str last = KURA_STR_NULL;
    for (size_t off = 0; r == 0 && data.len - off >= 2;) {
        size_t len = ((size_t)(uint8_t)data.ptr[off] << 8) | (uint8_t)data.ptr[off + 1];
        if (len > data.len - off - 2) {
            break;
        }
        last = kura_str_make(data.ptr + off + 2, len);
        off += 2 + len;
    }
    static const char rotation[] = "\"action\":\"audit.key\"";
    *ret_rotation = r == 0 && memmem(data.ptr, data.len, rotation, sizeof(rotation) - 1);
    struct audit_record rec;
    struct kura_buf why = KURA_BUF_INIT(256);
    if (r == 0 && last.ptr && audit_record_parse(last.ptr, last.len, &rec, &why) == 0) {
        *ret = rec.time_ms;
        audit_record_release(&rec);
    } else if (r == 0) {
        r = KURA_ECORRUPT;
    }
    kura_buf_release(&why);
    kura_buf_release(&data);
    return r == -ENOENT ? KURA_ENOTFOUND : r;
}

int kura_audit_prune(struct kura_audit *a, int audit_dirfd, int64_t cutoff_ms, uint64_t *ret_pruned)
{
    /* Finished bundles: those whose level-0 tile exists and that are not audit/current. */
    uint64_t finished = kura_audit_size(a) / KURA_AUDIT_TILE_WIDTH;
    uint64_t first = UINT64_MAX, end = 0; /* bundles [first, end) go */
    for (uint64_t n = 0; n < finished; n++) {
        int64_t t = 0;
        bool rotation = false;
        int r = bundle_last_time(audit_dirfd, n, &t, &rotation);
        if (r == KURA_ENOTFOUND) {
            continue; /* pruned before */
        }
        if (r < 0) {
            return r;
        }
        if (t >= cutoff_ms) {
            break; /* bundles are in time order: nothing later is older */
        }
        if (rotation) {
            continue; /* kept for ever, like the hash tiles */
        }
        first = first == UINT64_MAX ? n : first;
        end = n + 1;
    }
    if (first == UINT64_MAX) {
        if (ret_pruned) {
            *ret_pruned = 0;
        }
        return 0;
    }
    char cutoff[KURA_TIME_STR_MAX];
    kura_clock_format(cutoff_ms, cutoff);
    json_t *detail = json_pack("{s:I,s:s,s:I}", "up_to", (json_int_t)(end * KURA_AUDIT_TILE_WIDTH),
                               "older_than", cutoff, "bundles", (json_int_t)(end - first));
    struct kura_audit_event ev = {.actor = "system",
                                  .action = "audit.pruned",
                                  .object = "audit",
                                  .result = KURA_AUDIT_OK,
                                  .detail = detail};
    int r = detail ? kura_audit_emit_sync(a, &ev, NULL) : -ENOMEM;
    json_decref(detail);
    if (r < 0) {
        return r; /* nothing deleted without its record */
    }
    uint64_t kept = 0;
    for (uint64_t n = first; n < end; n++) {
        char path[TILE_PATH_MAX];
        int64_t t = 0;
        bool rotation = false;
        tile_path(path, TILE_ENTRIES, n, 0);
        if (bundle_last_time(audit_dirfd, n, &t, &rotation) == 0 && rotation) {
            kept++;
            continue;
        }
        if (unlinkat(audit_dirfd, path, 0) < 0 && errno != ENOENT) {
            return -errno;
        }
    }
    if (ret_pruned) {
        *ret_pruned = end - first - kept;
    }
    char num[KURA_NUM_STR_MAX];
    kura_log(KURA_LOG_INFO, "audit_pruned", "bundles", kura_fmt_u64(num, end - first), "before",
             cutoff, NULL);
    return 0;
}
