/* fsck.c — the store checked end to end: every version's header, blob and content, every file's
 * current version, every space's byte count, and blobs nothing refers to.
 *
 * It reads what uploads and downloads read, through the same functions (store_header_open, the
 * position-checking segment reader with the summary kept in metadata), so a version fsck passes
 * is one a download can serve. It runs beside a live server: versions are listed in batches and
 * each is read again before it is checked (one removed meanwhile is skipped), the metadata lock
 * is never held while a blob is read, and each space's byte count is compared with its files
 * inside one transaction (a consistent snapshot; the server's writes wait for milliseconds).
 * Blobs without a version are only warnings: an upload between its blob commit and its metadata
 * commit looks exactly like that.
 */
#include "store/store-internal.h"

#include <sodium.h>
#include <string.h>

#define BATCH 64
#define SPACE_GAP_MAX 16 /* ids probed past the last space found (AUTOINCREMENT, never deleted) */

static const char *const kind_names[KURA_FSCK__COUNT] = {
    [KURA_FSCK_KEY_UNKNOWN] = "key_unknown",
    [KURA_FSCK_HEADER] = "header",
    [KURA_FSCK_BLOB_MISSING] = "blob_missing",
    [KURA_FSCK_BLOB_SIZE] = "blob_size",
    [KURA_FSCK_DATA] = "data",
    [KURA_FSCK_VERSION] = "version",
    [KURA_FSCK_NODE] = "node",
    [KURA_FSCK_SPACE] = "space_usage",
    [KURA_FSCK_ORPHAN_BLOB] = "orphan_blob",
    [KURA_FSCK_TEMP] = "temp_file",
};

const char *kura_fsck_kind_name(enum kura_fsck_kind k)
{
    return (unsigned)k < KURA_FSCK__COUNT ? kind_names[k] : "?";
}

bool kura_fsck_kind_is_warning(enum kura_fsck_kind k)
{
    return k == KURA_FSCK_ORPHAN_BLOB || k == KURA_FSCK_TEMP;
}

struct fsck {
    struct kura_store *s;
    const struct kura_fsck_opts *o;
    struct kura_fsck_report rep;
    struct kura_fsck_progress prog;
    uint64_t max_space; /* the highest space id a version's node named */
    uint8_t *cipher;    /* one cipher segment */
};

static void problem(struct fsck *f, enum kura_fsck_kind kind, uint64_t version, uint64_t node,
                    uint64_t space, const char *blob, int err, const char *detail)
{
    f->rep.problems[kind]++;
    if (f->o->problem) {
        const struct kura_fsck_problem p = {kind, version, node, space, blob, err, detail};
        f->o->problem(f->o->ctx, &p);
    }
}

/* A damaged object is recorded as a download would record it (without the log line: fsck's
 * caller reports). */
static void damaged(struct fsck *f, enum kura_fsck_kind kind, const struct kura_version *v, int err,
                    const char *detail)
{
    problem(f, kind, v->id, v->node, 0, v->blob, err, detail);
    if (f->o->flag_corrupt) {
        KURA_IGNORE(kura_meta_version_flag_corrupt(f->s->meta, v->id, kura_clock_wall_ms()));
    }
}

static void progress(struct fsck *f)
{
    if (f->o->progress) {
        f->o->progress(f->o->ctx, &f->prog);
    }
}

/* ---- pass 1: versions ---------------------------------------------------------------------- */

static int discard(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return 0;
}

/* Reads the whole blob through the verifying reader. */
static int decrypt_all(struct fsck *f, const struct kura_version *v, const uint8_t *key,
                       uint64_t cipher_len)
{
    struct kura_c4gh_summary sum = {.size = v->size, .segments = v->segments};
    memcpy(sum.sha256, v->sha256, sizeof(sum.sha256));
    memcpy(sum.nonce_prefix, v->nonce_prefix, sizeof(sum.nonce_prefix));
    const struct kura_c4gh_reader_opts ro = {&sum, NULL};
    struct kura_c4gh_reader *cr = NULL;
    struct kura_blob_reader *br = NULL;
    int r = kura_c4gh_reader_new(key, &ro, discard, NULL, &cr);
    r = r == 0 ? kura_blob_get(f->s->blob, v->blob, 0, &br) : r;
    uint64_t left = cipher_len, since = 0;
    while (r == 0 && left > 0) {
        size_t want =
            left < KURA_C4GH_CIPHER_SEGMENT_BYTES ? (size_t)left : KURA_C4GH_CIPHER_SEGMENT_BYTES;
        size_t got = 0;
        r = kura_blob_read(br, f->cipher, want, &got);
        r = r == 0 && got < want ? KURA_ECORRUPT : r;
        r = r == 0 ? kura_c4gh_reader_feed(cr, f->cipher, got) : r;
        left -= got;
        f->prog.bytes_done += got;
        since += got;
        if (since >= 64u * KURA_C4GH_CIPHER_SEGMENT_BYTES) {
            since = 0;
            progress(f);
        }
    }
    r = r == 0 ? kura_c4gh_reader_finish(cr) : r;
    kura_blob_reader_close(br);
    kura_c4gh_reader_free(cr);
    return r;
}

static int check_version(struct fsck *f, const struct kura_version *v)
{
    struct kura_store *s = f->s;
    struct kura_node n;
    int r = kura_meta_node_get(s->meta, v->node, &n);
    if (r == KURA_ENOTFOUND) {
        problem(f, KURA_FSCK_VERSION, v->id, v->node, 0, v->blob, r, "its file does not exist");
    } else if (r < 0) {
        return r;
    } else if (n.folder) {
        problem(f, KURA_FSCK_VERSION, v->id, v->node, n.space, v->blob, 0, "its node is a folder");
    } else if (n.space > f->max_space) {
        f->max_space = n.space;
    }
    if (v->segments != kura_c4gh_segment_count(v->size)) {
        problem(f, KURA_FSCK_VERSION, v->id, v->node, 0, v->blob, 0,
                "segment count does not match the size");
    }
    uint64_t cipher_len = 0;
    if (kura_c4gh_cipher_size(v->size, &cipher_len) < 0) {
        damaged(f, KURA_FSCK_VERSION, v, KURA_EOVERFLOW, "impossible size");
        return 0;
    }
    if (v->header_len == 0) {
        f->rep.shredded++;
        return 0;
    }
    uint8_t key[KURA_C4GH_DATA_KEY_BYTES];
    r = store_header_open(s, v, key);
    if (r == KURA_ECONFIG) {
        problem(f, KURA_FSCK_KEY_UNKNOWN, v->id, v->node, 0, v->blob, r, v->key_id);
        return 0;
    }
    if (r < 0) {
        damaged(f, KURA_FSCK_HEADER, v, r, "the header does not open with its key");
        return 0;
    }
    struct kura_blob_stat st;
    r = kura_blob_stat(s->blob, v->blob, &st);
    if (r == KURA_ENOTFOUND) {
        damaged(f, KURA_FSCK_BLOB_MISSING, v, r, "the blob does not exist");
    } else if (r < 0 && r != KURA_ECORRUPT && r != KURA_EBADREQ) {
        sodium_memzero(key, sizeof(key));
        return r; /* an I/O error says nothing about this object */
    } else if (r < 0 || st.size != cipher_len) {
        damaged(f, KURA_FSCK_BLOB_SIZE, v, r < 0 ? r : KURA_ECORRUPT,
                "the blob's size is not that of its segments");
    } else {
        r = decrypt_all(f, v, key, cipher_len);
        if (r == KURA_ECRYPTO || r == KURA_ECORRUPT) {
            damaged(f, KURA_FSCK_DATA, v, r,
                    r == KURA_ECRYPTO ? "a segment fails authentication"
                                      : "misplaced segment, wrong size or wrong SHA-256");
        } else if (r < 0) {
            sodium_memzero(key, sizeof(key));
            return r;
        } else {
            f->rep.bytes += v->size;
        }
    }
    sodium_memzero(key, sizeof(key));
    return 0;
}

struct ids {
    uint64_t id[BATCH];
    size_t n;
    uint64_t bytes; /* cipher bytes (counting pass) */
};

static int collect_id(void *ctx, const struct kura_version *v)
{
    struct ids *b = ctx;
    b->id[b->n++] = v->id;
    uint64_t c = 0;
    if (kura_c4gh_cipher_size(v->size, &c) == 0) {
        b->bytes += c;
    }
    return 0;
}

/* The work ahead, for the progress display. */
static int count_versions(struct fsck *f)
{
    uint64_t after = 0;
    for (;;) {
        struct ids b = {.n = 0};
        int r = kura_meta_versions_all(f->s->meta, after, BATCH, collect_id, &b);
        if (r < 0) {
            return r;
        }
        f->prog.versions_total += b.n;
        f->prog.bytes_total += b.bytes;
        if (b.n < BATCH) {
            return 0;
        }
        after = b.id[b.n - 1];
    }
}

static int check_versions(struct fsck *f)
{
    uint64_t after = 0;
    struct kura_version *v = kura_malloc(sizeof(*v));
    if (!v) {
        return -ENOMEM;
    }
    int r = 0;
    for (;;) {
        struct ids b = {.n = 0};
        r = kura_meta_versions_all(f->s->meta, after, BATCH, collect_id, &b);
        for (size_t i = 0; r == 0 && i < b.n; i++) {
            r = kura_meta_version_get(f->s->meta, b.id[i], v);
            if (r == KURA_ENOTFOUND) {
                r = 0; /* removed meanwhile (a purge, versions_keep) */
                continue;
            }
            r = r == 0 ? check_version(f, v) : r;
            f->rep.versions++;
            f->prog.versions_done++;
            progress(f);
        }
        if (r < 0 || b.n < BATCH) {
            break;
        }
        after = b.id[b.n - 1];
    }
    sodium_memzero(v, sizeof(*v));
    kura_free(v);
    return r;
}

/* ---- pass 2: files and spaces -------------------------------------------------------------- */

struct space_walk {
    struct fsck *f;
    uint64_t space;
    uint64_t sum; /* plaintext bytes of every version of every file */
    int err;
};

static int sum_version(void *ctx, const struct kura_version *v)
{
    uint64_t *sum = ctx;
    *sum += v->size;
    return 0;
}

static int check_node(void *ctx, const struct kura_node *n)
{
    struct space_walk *w = ctx;
    struct fsck *f = w->f;
    struct kura_meta *m = f->s->meta;
    f->rep.nodes++;
    if (n->space != w->space) {
        problem(f, KURA_FSCK_NODE, 0, n->id, w->space, NULL, 0, "a node of another space");
    }
    if (n->folder) {
        return 0;
    }
    if (n->version != 0) {
        struct kura_version *v = kura_malloc(sizeof(*v));
        int r = v ? kura_meta_version_get(m, n->version, v) : -ENOMEM;
        if (r == KURA_ENOTFOUND) {
            problem(f, KURA_FSCK_NODE, n->version, n->id, w->space, NULL, r,
                    "the current version does not exist");
        } else if (r == 0 && v->node != n->id) {
            problem(f, KURA_FSCK_NODE, v->id, n->id, w->space, v->blob, 0,
                    "the current version belongs to another file");
        } else if (r == 0 && (v->size != n->size || memcmp(v->sha256, n->sha256, 32) != 0)) {
            problem(f, KURA_FSCK_NODE, v->id, n->id, w->space, v->blob, 0,
                    "size or SHA-256 differ from the current version's");
        }
        if (v) {
            sodium_memzero(v, sizeof(*v));
        }
        kura_free(v);
        if (r < 0 && r != KURA_ENOTFOUND) {
            return r;
        }
    } else if (n->size != 0) {
        problem(f, KURA_FSCK_NODE, 0, n->id, w->space, NULL, 0, "a size without content");
    }
    return kura_meta_version_list(m, n->id, sum_version, &w->sum);
}

static int check_space(struct fsck *f, uint64_t id, bool *ret_found)
{
    struct kura_meta *m = f->s->meta;
    struct space_walk w = {.f = f, .space = id};
    struct kura_space sp;
    int r = kura_meta_txn_begin(m);
    if (r < 0) {
        return r;
    }
    r = kura_meta_space_get(m, id, &sp);
    if (r == KURA_ENOTFOUND) {
        kura_meta_txn_rollback(m);
        *ret_found = false;
        return 0;
    }
    r = r == 0 ? kura_meta_node_subtree(m, sp.root, check_node, &w) : r;
    if (r == KURA_ENOTFOUND) {
        problem(f, KURA_FSCK_SPACE, 0, sp.root, id, NULL, r, "the space has no root folder");
        r = 0;
    }
    if (r == 0) {
        r = kura_meta_txn_commit(m);
    } else {
        kura_meta_txn_rollback(m);
    }
    if (r < 0) {
        return r;
    }
    f->rep.spaces++;
    if (w.sum != sp.used_bytes) {
        char detail[96];
        (void)snprintf(detail, sizeof(detail), "used_bytes %llu, versions hold %llu",
                       (unsigned long long)sp.used_bytes, (unsigned long long)w.sum);
        problem(f, KURA_FSCK_SPACE, 0, sp.root, id, NULL, 0, detail);
    }
    *ret_found = true;
    return 0;
}

static int check_spaces(struct fsck *f)
{
    uint64_t gap = 0;
    for (uint64_t id = 1; id <= f->max_space || gap < SPACE_GAP_MAX; id++) {
        bool found = false;
        int r = check_space(f, id, &found);
        if (r < 0) {
            return r;
        }
        gap = found ? 0 : gap + 1;
    }
    return 0;
}

/* ---- pass 3: blobs nothing refers to ------------------------------------------------------- */

static int check_blob(void *ctx, const char *id, const struct kura_blob_stat *st)
{
    struct fsck *f = ctx;
    bool used = true;
    int r = kura_meta_blob_referenced(f->s->meta, id, &used);
    if (r < 0) {
        return r;
    }
    f->rep.blobs++;
    f->rep.blob_bytes += st->size;
    if (!used) {
        problem(f, KURA_FSCK_ORPHAN_BLOB, 0, 0, 0, id, 0, "no version refers to it");
    }
    return 0;
}

int kura_store_fsck(struct kura_store *s, const struct kura_fsck_opts *o,
                    struct kura_fsck_report *ret)
{
    struct fsck f = {.s = s, .o = o};
    f.cipher = kura_malloc(KURA_C4GH_CIPHER_SEGMENT_BYTES);
    int r = f.cipher ? count_versions(&f) : -ENOMEM;
    progress(&f);
    r = r == 0 ? check_versions(&f) : r;
    r = r == 0 ? check_spaces(&f) : r;
    r = r == 0 ? kura_blob_list(s->blob, check_blob, &f) : r;
    kura_free(f.cipher);
    if (r < 0) {
        return r;
    }
    *ret = f.rep;
    return 0;
}
