/* prove.c — evidence for auditors: an inclusion proof of one record against a signed
 * checkpoint, and a consistency proof between two checkpoints (docs/audit-format.md,
 * "Evidence bundle"). Both are JSON with base64 hashes; an independent checker needs only the
 * bundle, e.g. golang.org/x/mod/sumdb/tlog (CheckRecord, CheckTree) and .../note (Open).
 */
#include "audit-internal.h"

#include <sodium.h>
#include <string.h>

static json_t *b64(const uint8_t *data, size_t len)
{
    char out[128];
    if (sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL) > sizeof(out)) {
        return NULL;
    }
    sodium_bin2base64(out, sizeof(out), data, len, sodium_base64_VARIANT_ORIGINAL);
    return json_string(out);
}

static json_t *hash_array(const kura_hash *h, unsigned n)
{
    json_t *a = json_array();
    for (unsigned i = 0; a && i < n; i++) {
        if (json_array_append_new(a, b64(h[i], KURA_AUDIT_HASH_BYTES)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Reads the bundle holding record `index` (a full one or audit/current) into data. */
static int read_bundle_of(int dirfd, uint64_t index, struct kura_buf *data)
{
    char path[TILE_PATH_MAX];
    tile_path(path, TILE_ENTRIES, index / KURA_AUDIT_TILE_WIDTH, 0);
    int r = kura_file_read_all(dirfd, path, data);
    if (r == -ENOENT) {
        kura_buf_reset(data);
        r = kura_file_read_all(dirfd, CURRENT, data);
    }
    return r;
}

/* Finds record k (0-based within the bundle) and the leaf hashes of the first `count`. */
static int scan_bundle(const struct kura_buf *data, unsigned k, unsigned count, kura_hash *leaves,
                       struct kura_str *ret_record)
{
    size_t off = 0;
    for (unsigned i = 0; i < count || i <= k; i++) {
        if (data->len - off < 2) {
            return KURA_ENOTFOUND;
        }
        size_t len = ((size_t)(uint8_t)data->ptr[off] << 8) | (uint8_t)data->ptr[off + 1];
        if (len > data->len - off - 2) {
            return KURA_ECORRUPT;
        }
        if (i == k) {
            *ret_record = kura_str_make(data->ptr + off + 2, len);
        }
        if (i < count) {
            int r = tlog_leaf_hash(data->ptr + off + 2, len, leaves[i]);
            if (r < 0) {
                return r;
            }
        }
        off += 2 + len;
    }
    return 0;
}

static int read_checkpoint(int dirfd, struct kura_buf *note, struct kura_audit_checkpoint *cp)
{
    int r = kura_file_read_all(dirfd, CHECKPOINT, note);
    if (r < 0) {
        return r;
    }
    /* The bundle carries the note as it is; its parts are parsed here without the key: the
     * auditor's checker verifies the signature with the vkey in the bundle. */
    const char *p = note->ptr;
    struct kura_str rest = kura_buf_str(note), line;
    memset(cp, 0, sizeof(*cp));
    if (!kura_str_split(&rest, '\n', &line) || line.len >= sizeof(cp->origin)) {
        return KURA_ECORRUPT;
    }
    memcpy(cp->origin, p, line.len);
    if (!kura_str_split(&rest, '\n', &line) ||
        kura_parse_u64(line.ptr, line.len, UINT64_MAX, &cp->size) < 0) {
        return KURA_ECORRUPT;
    }
    return 0;
}

int kura_audit_prove(int audit_dirfd, uint64_t index, const char *vkey, struct kura_buf *ret_json,
                     struct kura_buf *reterr_why)
{
    struct kura_buf note = KURA_BUF_INIT(AUDIT_NOTE_MAX);
    struct kura_buf data = KURA_BUF_INIT(KURA_AUDIT_TILE_WIDTH * (KURA_AUDIT_RECORD_MAX + 2));
    struct kura_audit_checkpoint cp;
    kura_hash *tail = kura_calloc(KURA_AUDIT_TILE_WIDTH, sizeof(kura_hash));
    struct tile_src *src = kura_malloc(sizeof(*src));
    json_t *doc = NULL;
    int r = tail && src ? read_checkpoint(audit_dirfd, &note, &cp) : -ENOMEM;
    if (r == 0 && index >= cp.size) {
        kura_buf_addf(reterr_why,
                      "record %llu is not covered by the latest checkpoint (%llu records) yet; "
                      "try again in a second",
                      (unsigned long long)index, (unsigned long long)cp.size);
        r = KURA_ENOTFOUND;
    }
    /* The tail of the checkpoint's tree: the leaf hashes of its last, incomplete bundle. */
    unsigned tail_count = r == 0 ? (unsigned)(cp.size % KURA_AUDIT_TILE_WIDTH) : 0;
    struct kura_str record = KURA_STR_NULL;
    if (r == 0 && tail_count > 0) {
        r = read_bundle_of(audit_dirfd, cp.size - 1, &data);
        if (r == 0) {
            r = scan_bundle(&data, 0, tail_count, tail, &record);
        }
    }
    if (r == 0) {
        kura_buf_reset(&data);
        r = read_bundle_of(audit_dirfd, index, &data);
        if (r == -ENOENT) {
            kura_buf_addf(reterr_why, "record %llu was pruned (retention)",
                          (unsigned long long)index);
        }
    }
    kura_hash leaf[1];
    if (r == 0) {
        r = scan_bundle(&data, (unsigned)(index % KURA_AUDIT_TILE_WIDTH), 0, leaf, &record);
    }
    kura_hash proof[64];
    unsigned count = 0;
    if (r == 0) {
        r = tlog_leaf_hash(record.ptr, record.len, leaf[0]);
    }
    if (r == 0) {
        tile_src_init(src, audit_dirfd, cp.size, (const kura_hash *)tail);
        r = tlog_inclusion_proof(index, cp.size, tile_src_node, src, proof, &count);
    }
    if (r == 0) {
        json_t *rec = json_stringn(record.ptr, record.len);
        doc = json_pack(
            "{s:s,s:s,s:s,s:I,s:o*,s:o*,s:I,s:o*,s:s}", "format", "kura-audit-evidence-v1",
            "origin", cp.origin, "vkey", vkey, "index", (json_int_t)index, "record", rec,
            "leaf_hash", b64(leaf[0], KURA_AUDIT_HASH_BYTES), "tree_size", (json_int_t)cp.size,
            "inclusion_proof", hash_array((const kura_hash *)proof, count), "checkpoint", note.ptr);
        char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        if (text) {
            kura_buf_adds(ret_json, text);
            kura_buf_addc(ret_json, '\n');
            free(text);
            r = kura_buf_err(ret_json);
        } else {
            r = -ENOMEM;
        }
    }
    if (r < 0 && reterr_why->len == 0) {
        kura_buf_addf(reterr_why, "cannot prove record %llu: %s", (unsigned long long)index,
                      kura_strerror(r));
    }
    json_decref(doc);
    kura_free(tail);
    kura_free(src);
    kura_buf_release(&note);
    kura_buf_release(&data);
    return r;
}

int kura_audit_prove_consistency(int audit_dirfd, const char *old_note, size_t old_len,
                                 const char *new_note, size_t new_len, const uint8_t *pk,
                                 const char *origin, struct kura_buf *ret_json,
                                 struct kura_buf *reterr_why)
{
    struct kura_audit_checkpoint a, b;
    if (kura_audit_checkpoint_open(old_note, old_len, pk, origin, &a) < 0 ||
        kura_audit_checkpoint_open(new_note, new_len, pk, origin, &b) < 0) {
        kura_buf_adds(reterr_why, "a checkpoint does not verify with this log's key and origin");
        return KURA_ECRYPTO;
    }
    if (a.size == 0 || a.size > b.size) {
        kura_buf_adds(reterr_why, "the old checkpoint must be non-empty and not larger than the "
                                  "new one");
        return KURA_ERANGE;
    }
    /* The tail for the new size, then the proof; both roots are checked before answering. */
    kura_hash *tail = kura_calloc(KURA_AUDIT_TILE_WIDTH, sizeof(kura_hash));
    struct tile_src *src = kura_malloc(sizeof(*src));
    struct kura_buf data = KURA_BUF_INIT(KURA_AUDIT_TILE_WIDTH * (KURA_AUDIT_RECORD_MAX + 2));
    int r = tail && src ? 0 : -ENOMEM;
    unsigned tail_count = (unsigned)(b.size % KURA_AUDIT_TILE_WIDTH);
    struct kura_str unused;
    if (r == 0 && tail_count > 0) {
        r = read_bundle_of(audit_dirfd, b.size - 1, &data);
        if (r == 0) {
            r = scan_bundle(&data, 0, tail_count, tail, &unused);
        }
    }
    kura_hash root, proof[64];
    unsigned count = 0;
    if (r == 0) {
        tile_src_init(src, audit_dirfd, b.size, (const kura_hash *)tail);
        r = tlog_tree_root(b.size, tile_src_node, src, root);
    }
    if (r == 0 && memcmp(root, b.root, KURA_AUDIT_HASH_BYTES) != 0) {
        kura_buf_adds(reterr_why, "the new checkpoint's root is not this log's root at its size");
        r = KURA_ECRYPTO;
    }
    if (r == 0) {
        r = tlog_consistency_proof(a.size, b.size, tile_src_node, src, proof, &count);
    }
    if (r == 0 && tlog_consistency_verify(a.size, b.size, a.root, b.root, (const kura_hash *)proof,
                                          count) != 0) {
        kura_buf_adds(reterr_why, "the old checkpoint is not a prefix of this log: it was "
                                  "rewritten");
        r = KURA_ECRYPTO;
    }
    if (r == 0) {
        json_t *doc = json_pack("{s:s,s:I,s:I,s:o*,s:s,s:s}", "format", "kura-audit-consistency-v1",
                                "old_size", (json_int_t)a.size, "new_size", (json_int_t)b.size,
                                "consistency_proof", hash_array((const kura_hash *)proof, count),
                                "old_checkpoint", old_note, "new_checkpoint", new_note);
        char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        json_decref(doc);
        if (text) {
            kura_buf_adds(ret_json, text);
            kura_buf_addc(ret_json, '\n');
            free(text);
        }
        r = text ? kura_buf_err(ret_json) : -ENOMEM;
    }
    kura_free(tail);
    kura_free(src);
    kura_buf_release(&data);
    return r;
}
