/* download.c — GET: the blob's segments read from the right offset, each one authenticated and
 * checked for its position before a byte of it is handed out; a whole-file read also checks
 * size and SHA-256 at the end. Constant memory: one cipher segment and one plaintext segment. */
#include "store/store-internal.h"

#include <sodium.h>
#include <string.h>

struct kura_download {
    struct kura_store *s;
    uint64_t version;
    char blob[KURA_META_BLOB_ID_MAX + 1];
    struct kura_c4gh_summary sum;
    struct kura_c4gh_range range;
    struct kura_blob_reader *br;
    struct kura_c4gh_reader *cr;
    uint64_t cipher_left;
    bool finished, reported;
    int err;        /* sticky */
    uint8_t *plain; /* verified plaintext not yet returned */
    size_t plen, ppos;
    size_t pcap;     /* plain's size: one segment, or less for a smaller file */
    uint8_t *cipher; /* one cipher segment (pcap + overhead) */
    /* Past PIPE_AFTER_BYTES of cipher, a worker (pipe.c) reads, verifies and decrypts segments
     * into the pipe's buffers ahead of the connection thread, which copies them out (out, olen,
     * opos: the buffer it is reading). */
    struct store_pipe *pipe;
    uint8_t *own_plain; /* plain's own buffer, while the worker points plain at pipe buffers */
    const uint8_t *out;
    size_t olen, opos;
};

static int to_plain(void *ctx, const uint8_t *data, size_t len)
{
    struct kura_download *d = ctx;
    if (d->plen + len > d->pcap) {
        return KURA_EINTERNAL; /* one segment per feed: cannot happen */
    }
    memcpy(d->plain + d->plen, data, len);
    d->plen += len;
    return 0;
}

void kura_store_get_close(struct kura_download *d)
{
    if (!d) {
        return;
    }
    store_pipe_free(d->pipe); /* first: its worker uses what follows */
    kura_c4gh_reader_free(d->cr);
    kura_blob_reader_close(d->br);
    sodium_memzero(d->own_plain, d->pcap);
    kura_free(d); /* the buffers were allocated with it */
}

static int open_version(struct kura_download *d, const struct kura_version *v, uint64_t offset,
                        uint64_t len)
{
    struct kura_store *s = d->s;
    uint8_t key[KURA_C4GH_DATA_KEY_BYTES];
    /* The key the header names: the current one, or a retired one until rotation reaches it. */
    int r = store_header_open_cached(s, v, key);
    d->sum.size = v->size;
    d->sum.segments = v->segments;
    memcpy(d->sum.sha256, v->sha256, sizeof(d->sum.sha256));
    memcpy(d->sum.nonce_prefix, v->nonce_prefix, sizeof(d->sum.nonce_prefix));
    bool whole = offset == 0 && len == v->size;
    if (r == 0 && v->size > 0) {
        r = kura_c4gh_range_map(v->size, offset, len, &d->range);
    }
    const struct kura_c4gh_reader_opts o = {&d->sum, whole || v->size == 0 ? NULL : &d->range};
    r = r == 0 ? kura_c4gh_reader_new(key, &o, to_plain, d, &d->cr) : r;
    sodium_memzero(key, sizeof(key));
    d->cipher_left = v->size == 0 ? 0 : d->range.cipher_len;
    r = r == 0 ? kura_blob_get(s->blob, v->blob, v->size ? d->range.cipher_offset : 0, &d->br) : r;
    return r;
}

static int download_worker(void *ctx, struct store_pipe *p);

int kura_store_get_open(struct kura_store *s, const struct kura_actor *a,
                        const struct kura_space *sp, const struct kura_node *n, uint64_t offset,
                        uint64_t len, struct kura_download **ret, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_READ, sp, ret_why);
    if (r == 0 && (n->space != sp->id || n->folder || n->version == 0)) {
        r = n->folder ? KURA_EMETHOD : KURA_ENOTFOUND;
    }
    if (r < 0) {
        return r;
    }
    struct kura_version v;
    r = kura_meta_version_get(s->meta, n->version, &v);
    if (r == 0 && (offset > v.size || len > v.size - offset || (len == 0 && v.size > 0))) {
        r = KURA_ERANGENS;
    }
    /* A small file needs small buffers: nothing larger is allocated, zeroed and freed. One
     * allocation for the state and both buffers: each malloc of 1 KiB or more makes glibc
     * consolidate its fast bins first (perf: ~1% of a 4 KiB GET's CPU with three). */
    size_t pcap =
        r == 0 && v.size < KURA_C4GH_SEGMENT_BYTES ? (size_t)v.size + 1 : KURA_C4GH_SEGMENT_BYTES;
    struct kura_download *d =
        r == 0 ? kura_malloc(sizeof(*d) + 2 * pcap + KURA_C4GH_SEGMENT_OVERHEAD) : NULL;
    if (r == 0 && !d) {
        r = -ENOMEM;
    }
    if (r == 0) {
        *d = (struct kura_download){.s = s, .version = v.id, .pcap = pcap};
        memcpy(d->blob, v.blob, sizeof(d->blob));
        d->plain = d->own_plain = (uint8_t *)(d + 1);
        d->cipher = d->own_plain + pcap;
        r = open_version(d, &v, offset, len);
    }
    if (r == 0 && d->cipher_left > PIPE_AFTER_BYTES) {
        r = store_pipe_start(KURA_C4GH_SEGMENT_BYTES, download_worker, d, &d->pipe);
    }
    sodium_memzero(&v, sizeof(v));
    if (r < 0) {
        if (r == KURA_ECRYPTO || r == KURA_ECORRUPT) {
            store_report_corrupt(s, n->version, d ? d->blob : "", r);
        }
        kura_store_get_close(d);
        return r;
    }
    *ret = d;
    return 0;
}

/* Reads and verifies the next segment into d->plain. The last one is handed out only after the
 * end checks (segment count, size, SHA-256) passed, so that a response that cannot be verified
 * never completes. */
static int next_segment(struct kura_download *d)
{
    d->plen = d->ppos = 0;
    if (d->cipher_left == 0) {
        d->finished = true;
        return kura_c4gh_reader_finish(d->cr); /* an empty file */
    }
    size_t cap = d->pcap < KURA_C4GH_SEGMENT_BYTES ? d->pcap + KURA_C4GH_SEGMENT_OVERHEAD
                                                   : KURA_C4GH_CIPHER_SEGMENT_BYTES;
    size_t want = d->cipher_left < cap ? (size_t)d->cipher_left : cap;
    size_t got = 0;
    int r = kura_blob_read(d->br, d->cipher, want, &got);
    if (r == 0 && got < want) {
        r = KURA_ECORRUPT; /* the blob is shorter than its metadata says */
    }
    d->cipher_left -= got;
    r = r < 0 ? r : kura_c4gh_reader_feed(d->cr, d->cipher, got);
    if (r == 0 && d->cipher_left == 0) {
        d->finished = true;
        r = kura_c4gh_reader_finish(d->cr);
    }
    return r;
}

/* The worker: segment after segment into the pipe's buffers. A segment that fails (or a last
 * one whose end checks fail) is never published: the pipe fails instead. */
static int download_worker(void *ctx, struct store_pipe *p)
{
    struct kura_download *d = ctx;
    while (!d->finished) {
        int r = 0;
        d->plain = store_pipe_acquire(p, &r);
        if (!d->plain) {
            return r;
        }
        r = next_segment(d);
        if (r < 0) {
            d->plain = NULL;
            return r;
        }
        store_pipe_publish(p, d->plen, d->finished);
    }
    d->plain = NULL;
    return 0;
}

/* kura_store_get_read with a worker: copies from the pipe's buffers. */
static ssize_t read_pipe(struct kura_download *d, void *buf, size_t max)
{
    while (d->err == 0 && d->opos == d->olen) {
        if (d->out) {
            store_pipe_release(d->pipe);
            d->out = NULL;
        }
        d->olen = d->opos = 0;
        d->out = store_pipe_peek(d->pipe, &d->olen, &d->err);
        if (!d->out) {
            return d->err; /* 0: the end */
        }
    }
    if (d->err < 0) {
        return d->err;
    }
    size_t n = d->olen - d->opos < max ? d->olen - d->opos : max;
    memcpy(buf, d->out + d->opos, n);
    d->opos += n;
    return (ssize_t)n;
}

ssize_t kura_store_get_read(struct kura_download *d, void *buf, size_t max)
{
    if (d->pipe) {
        ssize_t n = read_pipe(d, buf, max);
        if (n < 0 && !d->reported && (n == KURA_ECRYPTO || n == KURA_ECORRUPT)) {
            store_report_corrupt(d->s, d->version, d->blob, (int)n);
        }
        d->reported = d->reported || n < 0;
        return n;
    }
    while (d->err == 0 && d->ppos == d->plen && !d->finished) {
        d->err = next_segment(d);
    }
    if (d->err < 0) {
        if (!d->reported && (d->err == KURA_ECRYPTO || d->err == KURA_ECORRUPT)) {
            store_report_corrupt(d->s, d->version, d->blob, d->err);
        }
        d->reported = true;
        d->plen = d->ppos = 0; /* nothing of a failed segment goes out */
        return d->err;
    }
    size_t n = d->plen - d->ppos < max ? d->plen - d->ppos : max;
    memcpy(buf, d->plain + d->ppos, n);
    d->ppos += n;
    return (ssize_t)n;
}
