/* c4gh-stream.c — Crypt4GH v1 data segments: the streaming writer and reader, range mapping, and
 * whole .c4gh files.
 *
 * Bulk ChaCha20-Poly1305 goes through OpenSSL's EVP (EVP_chacha20_poly1305, fetched once):
 * measured 2.5 times faster than libsodium's on this CPU, and every stored byte passes here.
 * The key is set once per stream; each segment only sets its nonce.
 *
 * Nonces (crypto.h, "position binding"): prefix(4, random per stream) || u64 LE segment index.
 * The format asks for random nonces; these are unique as long as each stream has its own data
 * key, and standard readers treat them as opaque. kura's reader recomputes the nonce of every
 * segment from its position and compares, after the tag verified: a segment that decrypts but
 * sits in the wrong place is KURA_ECORRUPT, a damaged one KURA_ECRYPTO.
 *
 * The reader decrypts into its own buffer and calls the output only after EVP_DecryptFinal_ex
 * accepted the tag, so no plaintext of a failed segment is ever handed on. When the total length
 * is known (a summary, or a range), each segment's exact length is known too, and the stream is
 * cut there; otherwise segments are full until the last, which finish() decrypts.
 */
#include "crypto-internal.h"

#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define SEG KURA_C4GH_SEGMENT_BYTES
#define CSEG KURA_C4GH_CIPHER_SEGMENT_BYTES
#define NONCE KURA_C4GH_SEGMENT_NONCE_BYTES
#define TAG KURA_C4GH_SEGMENT_TAG_BYTES
#define OVERHEAD KURA_C4GH_SEGMENT_OVERHEAD

_Static_assert(SEG <= INT_MAX && CSEG <= INT_MAX, "EVP takes int lengths");
_Static_assert(KURA_C4GH_NONCE_PREFIX_BYTES + 8 == NONCE, "prefix || u64 index");

static EVP_CIPHER *chacha; /* fetched once, kept for the life of the process */
static pthread_once_t chacha_once = PTHREAD_ONCE_INIT;

static void fetch_chacha(void)
{
    chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

/* A cipher context holding key, ready for a nonce per segment. */
static int cipher_new(const uint8_t key[KURA_C4GH_DATA_KEY_BYTES], bool encrypt,
                      EVP_CIPHER_CTX **ret)
{
    (void)pthread_once(&chacha_once, fetch_chacha);
    if (!chacha) {
        return KURA_ECRYPTO;
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) {
        return -ENOMEM;
    }
    int ok = encrypt ? EVP_EncryptInit_ex2(c, chacha, key, NULL, NULL)
                     : EVP_DecryptInit_ex2(c, chacha, key, NULL, NULL);
    if (ok != 1) {
        EVP_CIPHER_CTX_free(c);
        return KURA_ECRYPTO;
    }
    *ret = c;
    return 0;
}

static void make_nonce(uint8_t nonce[NONCE], const uint8_t prefix[KURA_C4GH_NONCE_PREFIX_BYTES],
                       uint64_t index)
{
    memcpy(nonce, prefix, KURA_C4GH_NONCE_PREFIX_BYTES);
    for (unsigned i = 0; i < 8; i++) {
        nonce[KURA_C4GH_NONCE_PREFIX_BYTES + i] = (uint8_t)(index >> (8 * i));
    }
}

/* ---- sizes and ranges ---------------------------------------------------------------------- */

int kura_c4gh_cipher_size(uint64_t size, uint64_t *ret)
{
    uint64_t overhead, total;
    if (__builtin_mul_overflow(kura_c4gh_segment_count(size), (uint64_t)OVERHEAD, &overhead) ||
        __builtin_add_overflow(size, overhead, &total)) {
        return KURA_EOVERFLOW;
    }
    *ret = total;
    return 0;
}

int kura_c4gh_plain_size(uint64_t cipher_len, uint64_t *ret)
{
    uint64_t rem = cipher_len % CSEG;
    if (rem != 0 && rem <= OVERHEAD) {
        return KURA_ECORRUPT;
    }
    *ret = cipher_len / CSEG * SEG + (rem ? rem - OVERHEAD : 0);
    return 0;
}

int kura_c4gh_range_map(uint64_t size, uint64_t offset, uint64_t len, struct kura_c4gh_range *ret)
{
    if (len == 0 || offset >= size || len > size - offset) {
        return KURA_ERANGENS;
    }
    uint64_t first = offset / SEG;
    uint64_t last = (offset + len - 1) / SEG;
    uint64_t last_plain = last == kura_c4gh_segment_count(size) - 1 ? size - last * SEG : SEG;
    struct kura_c4gh_range r = {
        .first_segment = first,
        .n_segments = last - first + 1,
        .skip = offset - first * SEG,
        .len = len,
    };
    uint64_t end;
    if (__builtin_mul_overflow(first, (uint64_t)CSEG, &r.cipher_offset) ||
        __builtin_mul_overflow(last, (uint64_t)CSEG, &end) ||
        __builtin_add_overflow(end, last_plain + OVERHEAD, &end)) {
        return KURA_EOVERFLOW;
    }
    r.cipher_len = end - r.cipher_offset;
    *ret = r;
    return 0;
}

/* ---- writer -------------------------------------------------------------------------------- */

struct kura_c4gh_writer {
    EVP_CIPHER_CTX *cipher;
    struct kura_sha256_ctx *sha;
    kura_c4gh_out_fn out;
    void *ctx;
    uint8_t prefix[KURA_C4GH_NONCE_PREFIX_BYTES];
    uint64_t index; /* of the next segment */
    uint64_t size;
    size_t fill; /* plaintext bytes waiting in plain */
    int err;     /* first failure, sticky */
    bool done;
    uint8_t plain[SEG];
    uint8_t seg[CSEG];
};

struct kura_c4gh_writer *kura_c4gh_writer_free(struct kura_c4gh_writer *w)
{
    if (w) {
        EVP_CIPHER_CTX_free(w->cipher); /* cleanses the key schedule */
        w->sha = kura_sha256_ctx_free(w->sha);
        sodium_memzero(w->plain, sizeof(w->plain));
        kura_free(w);
    }
    return NULL;
}

void kura_c4gh_writer_freep(struct kura_c4gh_writer **w)
{
    *w = kura_c4gh_writer_free(*w);
}

int kura_c4gh_writer_new(const uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES], kura_c4gh_out_fn out,
                         void *ctx, struct kura_c4gh_writer **ret)
{
    _cleanup_(kura_c4gh_writer_freep) struct kura_c4gh_writer *w = kura_malloc(sizeof(*w));
    if (!w) {
        return -ENOMEM;
    }
    /* Only the header fields: the two 64 KiB buffers are written before they are read. */
    memset(w, 0, offsetof(struct kura_c4gh_writer, plain));
    w->out = out;
    w->ctx = ctx;
    int r = kura_random(w->prefix, sizeof(w->prefix));
    if (r < 0) {
        return r;
    }
    r = cipher_new(data_key, true, &w->cipher);
    if (r < 0) {
        return r;
    }
    r = kura_sha256_ctx_new(&w->sha);
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(w);
    return 0;
}

static int encrypt_segment(struct kura_c4gh_writer *w, const uint8_t *plain, size_t len)
{
    uint8_t *nonce = w->seg;
    uint8_t *body = w->seg + NONCE;
    int n = 0, fin = 0;
    uint64_t size;

    if (__builtin_add_overflow(w->size, (uint64_t)len, &size) || w->index == UINT64_MAX) {
        return KURA_EOVERFLOW;
    }
    make_nonce(nonce, w->prefix, w->index);
    if (EVP_EncryptInit_ex2(w->cipher, NULL, NULL, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(w->cipher, body, &n, plain, (int)len) != 1 || (size_t)n != len ||
        EVP_EncryptFinal_ex(w->cipher, body + n, &fin) != 1 || fin != 0 ||
        EVP_CIPHER_CTX_ctrl(w->cipher, EVP_CTRL_AEAD_GET_TAG, TAG, body + len) != 1) {
        return KURA_ECRYPTO;
    }
    int r = kura_sha256_ctx_update(w->sha, plain, len);
    if (r < 0) {
        return r;
    }
    w->index++;
    w->size = size;
    return w->out(w->ctx, w->seg, len + OVERHEAD);
}

int kura_c4gh_writer_write(struct kura_c4gh_writer *w, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (w->err < 0) {
        return w->err;
    }
    if (w->done) {
        return -EINVAL;
    }
    while (len > 0) {
        int r;
        if (w->fill == 0 && len >= SEG) {
            /* Straight from the caller's memory: no copy for large writes. */
            r = encrypt_segment(w, p, SEG);
            p += SEG;
            len -= SEG;
        } else {
            size_t take = SEG - w->fill < len ? SEG - w->fill : len;
            memcpy(w->plain + w->fill, p, take);
            w->fill += take;
            p += take;
            len -= take;
            r = 0;
            if (w->fill == SEG) {
                w->fill = 0;
                r = encrypt_segment(w, w->plain, SEG);
            }
        }
        if (r < 0) {
            w->err = r;
            return r;
        }
    }
    return 0;
}

int kura_c4gh_writer_finish(struct kura_c4gh_writer *w, struct kura_c4gh_summary *ret_summary)
{
    if (w->err < 0) {
        return w->err;
    }
    if (w->done) {
        return -EINVAL;
    }
    w->done = true;
    struct kura_c4gh_summary s = {0};
    int r = 0;
    if (w->fill > 0) {
        r = encrypt_segment(w, w->plain, w->fill);
        w->fill = 0;
    }
    if (r == 0) {
        r = kura_sha256_ctx_final(w->sha, s.sha256);
    }
    if (r < 0) {
        w->err = r;
        return r;
    }
    s.size = w->size;
    s.segments = w->index;
    memcpy(s.nonce_prefix, w->prefix, sizeof(s.nonce_prefix));
    *ret_summary = s;
    return 0;
}

/* ---- reader -------------------------------------------------------------------------------- */

struct kura_c4gh_reader {
    EVP_CIPHER_CTX *cipher;
    struct kura_sha256_ctx *sha; /* only when the whole stream is checked against a summary */
    kura_c4gh_out_fn out;
    void *ctx;
    bool bound; /* nonces must be prefix || index */
    uint8_t prefix[KURA_C4GH_NONCE_PREFIX_BYTES];
    bool known;         /* the stream's length is known: remaining counts down */
    uint64_t remaining; /* cipher bytes still to come */
    uint64_t index;     /* of the next segment */
    uint64_t skip;      /* plaintext bytes still to drop before the window */
    uint64_t left;      /* plaintext bytes of the window still to hand out */
    uint64_t plain_total;
    uint64_t want_size; /* with sha: the summary's size and checksum */
    uint8_t want_sha[KURA_SHA256_BYTES];
    size_t fill; /* cipher bytes waiting in seg */
    int err;
    bool done;
    /* One cipher segment and its plaintext, in buf: a full segment each, or less for a stream
     * known to be shorter (a small file's download then allocates and wipes a few bytes, not
     * 128 KiB). */
    size_t cap; /* of seg; plain has cap - OVERHEAD */
    uint8_t *seg;
    uint8_t *plain;
    uint8_t buf[];
};

struct kura_c4gh_reader *kura_c4gh_reader_free(struct kura_c4gh_reader *r)
{
    if (r) {
        EVP_CIPHER_CTX_free(r->cipher);
        r->sha = kura_sha256_ctx_free(r->sha);
        sodium_memzero(r->plain, r->cap - OVERHEAD);
        kura_free(r);
    }
    return NULL;
}

void kura_c4gh_reader_freep(struct kura_c4gh_reader **r)
{
    *r = kura_c4gh_reader_free(*r);
}

/* Checks a range against the stream it claims to be part of (size known, or not). */
static bool range_fits(const struct kura_c4gh_range *g, const struct kura_c4gh_summary *expect)
{
    if (g->n_segments == 0 || g->n_segments > UINT64_MAX / CSEG ||
        g->first_segment > UINT64_MAX / CSEG || g->cipher_offset != g->first_segment * CSEG ||
        g->cipher_len <= (g->n_segments - 1) * CSEG + OVERHEAD ||
        g->cipher_len > g->n_segments * CSEG) {
        return false;
    }
    uint64_t plain = 0;
    if (kura_c4gh_plain_size(g->cipher_len, &plain) < 0 || g->skip >= plain || g->len == 0 ||
        g->len > plain - g->skip) {
        return false;
    }
    if (!expect) {
        return true;
    }
    if (g->n_segments > expect->segments || g->first_segment > expect->segments - g->n_segments) {
        return false;
    }
    struct kura_c4gh_range whole;
    if (kura_c4gh_range_map(expect->size, g->first_segment * SEG, plain, &whole) < 0) {
        return false;
    }
    return whole.cipher_len == g->cipher_len && whole.n_segments == g->n_segments;
}

int kura_c4gh_reader_new(const uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES],
                         const struct kura_c4gh_reader_opts *opts, kura_c4gh_out_fn out, void *ctx,
                         struct kura_c4gh_reader **ret)
{
    const struct kura_c4gh_summary *expect = opts ? opts->expect : NULL;
    const struct kura_c4gh_range *range = opts ? opts->range : NULL;
    uint64_t total = 0;

    if (expect) {
        if (expect->segments != kura_c4gh_segment_count(expect->size) ||
            kura_c4gh_cipher_size(expect->size, &total) < 0) {
            return KURA_ECORRUPT;
        }
    }
    if (range && !range_fits(range, expect)) {
        return -EINVAL;
    }

    /* A stream of known length never needs more than that length; fewer than OVERHEAD + 1
     * bytes can only be refused (no segment is empty). */
    uint64_t longest = range ? range->cipher_len : expect ? total : CSEG;
    size_t cap = longest >= CSEG ? CSEG : longest > OVERHEAD ? (size_t)longest : OVERHEAD + 1;
    _cleanup_(kura_c4gh_reader_freep) struct kura_c4gh_reader *r =
        kura_malloc(sizeof(*r) + 2 * cap - OVERHEAD);
    if (!r) {
        return -ENOMEM;
    }
    memset(r, 0, sizeof(*r));
    r->cap = cap;
    r->seg = r->buf;
    r->plain = r->buf + cap;
    r->out = out;
    r->ctx = ctx;
    r->left = UINT64_MAX;
    if (expect) {
        r->bound = true;
        memcpy(r->prefix, expect->nonce_prefix, sizeof(r->prefix));
        r->known = true;
        r->remaining = total;
    }
    if (range) {
        r->known = true;
        r->remaining = range->cipher_len;
        r->index = range->first_segment;
        r->skip = range->skip;
        r->left = range->len;
    }
    int rc = cipher_new(data_key, false, &r->cipher);
    if (rc < 0) {
        return rc;
    }
    if (expect &&
        (!range || (range->first_segment == 0 && range->n_segments == expect->segments))) {
        rc = kura_sha256_ctx_new(&r->sha);
        if (rc < 0) {
            return rc;
        }
        r->want_size = expect->size;
        memcpy(r->want_sha, expect->sha256, sizeof(r->want_sha));
    }
    *ret = TAKE_PTR(r);
    return 0;
}

static int decrypt_segment(struct kura_c4gh_reader *r, const uint8_t *seg, size_t len)
{
    if (len <= OVERHEAD) {
        return KURA_ECORRUPT; /* writers never emit an empty segment */
    }
    size_t plen = len - OVERHEAD;
    uint8_t tag[TAG];
    memcpy(tag, seg + NONCE + plen, TAG);
    int n = 0, fin = 0;
    if (EVP_DecryptInit_ex2(r->cipher, NULL, NULL, seg, NULL) != 1 ||
        EVP_DecryptUpdate(r->cipher, r->plain, &n, seg + NONCE, (int)plen) != 1 ||
        (size_t)n != plen || EVP_CIPHER_CTX_ctrl(r->cipher, EVP_CTRL_AEAD_SET_TAG, TAG, tag) != 1 ||
        EVP_DecryptFinal_ex(r->cipher, r->plain + n, &fin) != 1) {
        sodium_memzero(r->plain, plen);
        return KURA_ECRYPTO;
    }
    if (r->bound) {
        uint8_t nonce[NONCE];
        make_nonce(nonce, r->prefix, r->index);
        if (memcmp(nonce, seg, NONCE) != 0) {
            sodium_memzero(r->plain, plen);
            return KURA_ECORRUPT; /* authentic, but not the segment that belongs here */
        }
    }
    r->index++;
    r->plain_total += plen;
    if (r->sha) {
        int rc = kura_sha256_ctx_update(r->sha, r->plain, plen);
        if (rc < 0) {
            return rc;
        }
    }
    const uint8_t *p = r->plain;
    if (r->skip > 0) {
        size_t drop = r->skip < plen ? (size_t)r->skip : plen;
        r->skip -= drop;
        p += drop;
        plen -= drop;
    }
    if (plen > r->left) {
        plen = (size_t)r->left;
    }
    r->left -= plen;
    return plen > 0 ? r->out(r->ctx, p, plen) : 0;
}

int kura_c4gh_reader_feed(struct kura_c4gh_reader *r, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (r->err < 0) {
        return r->err;
    }
    if (r->done) {
        return -EINVAL;
    }
    while (len > 0) {
        if (r->known && r->remaining == 0) {
            r->err = KURA_ECORRUPT; /* more segments than the stream has */
            return r->err;
        }
        size_t want = r->known && r->remaining < CSEG ? (size_t)r->remaining : CSEG;
        int rc;
        if (r->fill == 0 && len >= want) {
            rc = decrypt_segment(r, p, want);
            p += want;
            len -= want;
        } else {
            size_t take = want - r->fill < len ? want - r->fill : len;
            memcpy(r->seg + r->fill, p, take);
            r->fill += take;
            p += take;
            len -= take;
            if (r->fill < want) {
                break;
            }
            r->fill = 0;
            rc = decrypt_segment(r, r->seg, want);
        }
        if (r->known) {
            r->remaining -= want;
        }
        if (rc < 0) {
            r->err = rc;
            return rc;
        }
    }
    return 0;
}

int kura_c4gh_reader_finish(struct kura_c4gh_reader *r)
{
    if (r->err < 0) {
        return r->err;
    }
    if (r->done) {
        return -EINVAL;
    }
    r->done = true;
    int rc = 0;
    if (r->known && r->remaining > 0) {
        rc = KURA_ECORRUPT; /* segments missing, or the last one cut */
    } else if (r->fill > 0) {
        /* Only when the length is unknown: the last, short segment. */
        size_t n = r->fill;
        r->fill = 0;
        rc = decrypt_segment(r, r->seg, n);
    }
    if (rc == 0 && r->sha) {
        uint8_t got[KURA_SHA256_BYTES];
        rc = kura_sha256_ctx_final(r->sha, got);
        if (rc == 0 && (r->plain_total != r->want_size || memcmp(got, r->want_sha, sizeof(got)))) {
            rc = KURA_ECORRUPT;
        }
    }
    if (rc < 0) {
        r->err = rc;
    }
    return rc;
}

/* ---- whole .c4gh files --------------------------------------------------------------------- */

#define FILE_CHUNK (4 * CSEG)

/* Reads up to len bytes, fewer only at the end of the file. */
static int read_full(int fd, uint8_t *buf, size_t len, size_t *ret)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    *ret = got;
    return 0;
}

static int write_all(void *ctx, const uint8_t *data, size_t len)
{
    int fd = *(const int *)ctx;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A kura_malloc'd buffer that may hold plaintext, wiped and freed on scope exit. */
struct wiped {
    uint8_t *p;
    size_t len;
};

static void wiped_release(struct wiped *w)
{
    if (w->p) {
        sodium_memzero(w->p, w->len);
        kura_free(w->p);
    }
}

int kura_c4gh_encrypt_fd(int in_fd, int out_fd, const uint8_t recipient_pk[KURA_C4GH_KEY_BYTES],
                         const uint8_t *writer_sk, struct kura_c4gh_summary *ret_summary)
{
    uint8_t key[KURA_C4GH_DATA_KEY_BYTES];
    KURA_CLEANUP_WIPE(key);
    uint8_t header[KURA_C4GH_HEADER_ONE_BYTES];
    _cleanup_(kura_c4gh_writer_freep) struct kura_c4gh_writer *w = NULL;
    _cleanup_(wiped_release) struct wiped buf = {kura_malloc(FILE_CHUNK), FILE_CHUNK};
    if (!buf.p) {
        return -ENOMEM;
    }
    int r = kura_random(key, sizeof(key));
    if (r < 0) {
        return r;
    }
    r = kura_c4gh_header_build(key, recipient_pk, writer_sk, header);
    if (r < 0) {
        return r;
    }
    r = write_all(&out_fd, header, sizeof(header));
    if (r < 0) {
        return r;
    }
    r = kura_c4gh_writer_new(key, write_all, &out_fd, &w);
    if (r < 0) {
        return r;
    }
    for (;;) {
        size_t n = 0;
        r = read_full(in_fd, buf.p, buf.len, &n);
        if (r < 0) {
            return r;
        }
        if (n == 0) {
            break;
        }
        r = kura_c4gh_writer_write(w, buf.p, n);
        if (r < 0) {
            return r;
        }
    }
    struct kura_c4gh_summary s;
    r = kura_c4gh_writer_finish(w, &s);
    if (r < 0) {
        return r;
    }
    if (ret_summary) {
        *ret_summary = s;
    }
    return 0;
}

int kura_c4gh_decrypt_fd(int in_fd, int out_fd, const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                         struct kura_buf *reterr_why)
{
    uint8_t key[KURA_C4GH_DATA_KEY_BYTES];
    KURA_CLEANUP_WIPE(key);
    _cleanup_(kura_c4gh_reader_freep) struct kura_c4gh_reader *rd = NULL;
    _Static_assert(FILE_CHUNK >= KURA_C4GH_HEADER_MAX, "the first read holds any header");
    _cleanup_(wiped_release) struct wiped buf = {kura_malloc(FILE_CHUNK), FILE_CHUNK};
    if (!buf.p) {
        return -ENOMEM;
    }
    size_t n = 0, hlen = 0;
    int r = read_full(in_fd, buf.p, buf.len, &n);
    if (r < 0) {
        return r;
    }
    r = kura_c4gh_header_open(buf.p, n, reader_sk, key, &hlen, reterr_why);
    if (r < 0) {
        return r;
    }
    r = kura_c4gh_reader_new(key, NULL, write_all, &out_fd, &rd);
    if (r < 0) {
        return r;
    }
    r = kura_c4gh_reader_feed(rd, buf.p + hlen, n - hlen);
    while (r == 0 && n == buf.len) {
        r = read_full(in_fd, buf.p, buf.len, &n);
        if (r == 0) {
            r = kura_c4gh_reader_feed(rd, buf.p, n);
        }
    }
    if (r == 0) {
        r = kura_c4gh_reader_finish(rd);
    }
    if (r == KURA_ECRYPTO || r == KURA_ECORRUPT) { /* from the segments: the header opened */
        kura_crypto_why(reterr_why, "Crypt4GH segment %llu is damaged or does not belong here",
                        (unsigned long long)rd->index);
    }
    return r;
}
