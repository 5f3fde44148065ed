/* blob.c — the public layer over the backends: id generation and checks, the sticky write
 * error and size limit, the short-read rule, and garbage collection built on list + remove.
 *
 * Everything that must be identical across backends lives here, so that fs and s3 cannot
 * disagree on what an id looks like, when a read may be short, or which objects collect may
 * remove; the contract suite (blob-contract.c) then only has to prove the storage part.
 */
#include "blob/blob-internal.h"

#include <assert.h>
#include <string.h>

/* ---- ids ---------------------------------------------------------------------------------- */

bool kura_blob_id_valid(const char *id)
{
    if (!id) {
        return false;
    }
    for (size_t i = 0; i < KURA_BLOB_ID_LEN; i++) {
        char c = id[i];
        /* Lowercase only: one spelling per id, so that two strings never name one object
         * (case-insensitive filesystems, S3 keys). A NUL stops here too. */
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return id[KURA_BLOB_ID_LEN] == '\0';
}

static int id_new(char ret[static KURA_BLOB_ID_SIZE])
{
    uint8_t raw[KURA_BLOB_ID_LEN / 2];
    int r = kura_random(raw, sizeof(raw));
    if (r < 0) {
        return r;
    }
    kura_hex_encode(ret, raw, sizeof(raw));
    return 0;
}

/* ---- handle ------------------------------------------------------------------------------- */

static int check_ops(const struct kura_blob *b)
{
    /* A backend written for an older layout would leave later fields unset. */
    return b->ops->version >= KURA_BLOB_OPS_VERSION ? 0 : KURA_EINTERNAL;
}

struct kura_blob *kura_blob_close(struct kura_blob *b)
{
    if (b) {
        b->ops->close(b);
    }
    return NULL;
}

void kura_blob_closep(struct kura_blob **bp)
{
    *bp = kura_blob_close(*bp);
}

const char *kura_blob_backend(const struct kura_blob *b)
{
    return b->ops->name;
}

/* ---- writing ------------------------------------------------------------------------------ */

int kura_blob_put_begin(struct kura_blob *b, struct kura_blob_writer **ret)
{
    assert(b && ret);
    int r = check_ops(b);
    if (r < 0) {
        return r;
    }
    char id[KURA_BLOB_ID_SIZE];
    r = id_new(id);
    if (r < 0) {
        return r;
    }
    struct kura_blob_writer *w = NULL;
    r = b->ops->put_begin(b, id, &w);
    if (r < 0) {
        return r;
    }
    assert(w && w->store == b && strcmp(w->id, id) == 0);
    w->size = 0;
    w->err = 0;
    *ret = w;
    return 0;
}

int kura_blob_put_write(struct kura_blob_writer *w, const void *p, size_t len)
{
    assert(w && (p || len == 0));
    if (w->err < 0) {
        return w->err;
    }
    if (len == 0) {
        return 0;
    }
    if ((uint64_t)len > KURA_BLOB_SIZE_MAX - w->size) {
        w->err = KURA_ETOOBIG;
        return w->err;
    }
    int r = w->store->ops->put_write(w, p, len);
    if (r < 0) {
        w->err = r;
        return r;
    }
    w->size += len;
    return 0;
}

int kura_blob_put_commit(struct kura_blob_writer *w, char ret_id[static KURA_BLOB_ID_SIZE])
{
    assert(w);
    if (w->err < 0) {
        int r = w->err;
        w->store->ops->put_abort(w);
        return r;
    }
    char id[KURA_BLOB_ID_SIZE];
    memcpy(id, w->id, sizeof(id));
    int r = w->store->ops->put_commit(w); /* frees w */
    if (r < 0) {
        return r;
    }
    memcpy(ret_id, id, sizeof(id));
    return 0;
}

struct kura_blob_writer *kura_blob_put_abort(struct kura_blob_writer *w)
{
    if (w) {
        w->store->ops->put_abort(w);
    }
    return NULL;
}

void kura_blob_put_abortp(struct kura_blob_writer **wp)
{
    *wp = kura_blob_put_abort(*wp);
}

/* ---- reading ------------------------------------------------------------------------------ */

int kura_blob_get(struct kura_blob *b, const char *id, uint64_t offset,
                  struct kura_blob_reader **ret)
{
    assert(b && ret);
    if (!kura_blob_id_valid(id)) {
        return KURA_EBADREQ;
    }
    int r = check_ops(b);
    if (r < 0) {
        return r;
    }
    struct kura_blob_reader *rd = NULL;
    r = b->ops->get(b, id, offset, &rd);
    if (r < 0) {
        return r;
    }
    assert(rd && rd->store == b && rd->pos == offset && offset <= rd->size);
    *ret = rd;
    return 0;
}

int kura_blob_read(struct kura_blob_reader *r, void *buf, size_t cap, size_t *ret_n)
{
    assert(r && ret_n && (buf || cap == 0));
    uint64_t left = r->size - r->pos;
    if ((uint64_t)cap > left) {
        cap = (size_t)left;
    }
    /* Loop over the backend's short reads: callers rely on "short means end". */
    size_t got = 0;
    while (got < cap) {
        size_t n = 0;
        int rr = r->store->ops->read(r, (uint8_t *)buf + got, cap - got, &n);
        if (rr < 0) {
            return rr;
        }
        if (n == 0) {
            /* The object ends before its recorded size: truncated behind the store's back. */
            return KURA_ECORRUPT;
        }
        assert(n <= cap - got);
        got += n;
        r->pos += n;
    }
    *ret_n = got;
    return 0;
}

uint64_t kura_blob_reader_size(const struct kura_blob_reader *r)
{
    return r->size;
}

struct kura_blob_reader *kura_blob_reader_close(struct kura_blob_reader *r)
{
    if (r) {
        r->store->ops->reader_close(r);
    }
    return NULL;
}

void kura_blob_reader_closep(struct kura_blob_reader **rp)
{
    *rp = kura_blob_reader_close(*rp);
}

/* ---- other operations --------------------------------------------------------------------- */

int kura_blob_stat(struct kura_blob *b, const char *id, struct kura_blob_stat *ret)
{
    assert(b && ret);
    if (!kura_blob_id_valid(id)) {
        return KURA_EBADREQ;
    }
    int r = check_ops(b);
    if (r < 0) {
        return r;
    }
    return b->ops->stat(b, id, ret);
}

int kura_blob_remove(struct kura_blob *b, const char *id)
{
    assert(b);
    if (!kura_blob_id_valid(id)) {
        return KURA_EBADREQ;
    }
    int r = check_ops(b);
    if (r < 0) {
        return r;
    }
    return b->ops->remove(b, id);
}

int kura_blob_list(struct kura_blob *b, kura_blob_list_fn fn, void *ctx)
{
    assert(b && fn);
    int r = check_ops(b);
    if (r < 0) {
        return r;
    }
    return b->ops->list(b, fn, ctx);
}

/* ---- housekeeping ------------------------------------------------------------------------- */

struct collect_ctx {
    struct kura_blob *store;
    kura_blob_ref_fn is_referenced;
    void *ctx;
    int64_t cutoff_ms; /* objects created after this are too young */
    struct kura_blob_gc gc;
};

static int collect_one(void *ctx, const char *id, const struct kura_blob_stat *st)
{
    struct collect_ctx *c = ctx;
    c->gc.examined++;
    if (st->created_ms > c->cutoff_ms) {
        /* Possibly committed by an upload whose metadata row is not committed yet. */
        c->gc.young++;
        return 0;
    }
    bool referenced = true;
    int r = c->is_referenced(c->ctx, id, &referenced);
    if (r < 0) {
        return r;
    }
    if (referenced) {
        c->gc.referenced++;
        return 0;
    }
    r = c->store->ops->remove(c->store, id);
    if (r == KURA_ENOTFOUND) {
        return 0; /* removed meanwhile by someone else: the goal is reached all the same */
    }
    if (r < 0) {
        return r;
    }
    c->gc.removed++;
    c->gc.bytes_freed += st->size;
    return 0;
}

int kura_blob_collect(struct kura_blob *b, kura_blob_ref_fn is_referenced, void *ctx,
                      int64_t min_age_ms, struct kura_blob_gc *ret)
{
    assert(b && is_referenced);
    if (min_age_ms < 0) {
        return -EINVAL;
    }
    int r = check_ops(b);
    if (r < 0) {
        return r;
    }
    struct collect_ctx c = {
        .store = b,
        .is_referenced = is_referenced,
        .ctx = ctx,
        .cutoff_ms = kura_clock_wall_ms() - min_age_ms,
    };
    r = b->ops->list(b, collect_one, &c);
    if (r < 0) {
        return r;
    }
    if (ret) {
        *ret = c.gc;
    }
    return 0;
}

int kura_blob_collect_tmp(struct kura_blob *b, int64_t min_age_ms, struct kura_blob_gc *ret)
{
    assert(b);
    if (min_age_ms < 0) {
        return -EINVAL;
    }
    int r = check_ops(b);
    if (r < 0) {
        return r;
    }
    struct kura_blob_gc gc = {0};
    r = b->ops->collect_tmp(b, kura_clock_wall_ms(), min_age_ms, &gc);
    if (r < 0) {
        return r;
    }
    if (ret) {
        *ret = gc;
    }
    return 0;
}
