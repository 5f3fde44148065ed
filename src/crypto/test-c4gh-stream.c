/* Unit tests for Crypt4GH segment streams: round trips at the segment boundaries with random
 * chunking, range reads from every segment, the position binding against reordered, dropped,
 * duplicated and truncated segments, tampering, and the size and range helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-helpers.h"

#define SEG KURA_C4GH_SEGMENT_BYTES
#define CSEG KURA_C4GH_CIPHER_SEGMENT_BYTES

/* ---- helpers ------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A random chunk length in [1, max], biased to small ones so that segment edges are crossed at
 * odd places. */
static size_t chunk_len(size_t max)
{
    size_t n;
    switch (rng() % 4) {
    case 0:
        n = 1 + (size_t)(rng() % 7);
        break;
    case 1:
        n = 1 + (size_t)(rng() % 1000);
        break;
    default:
        n = 1 + (size_t)(rng() % (3 * CSEG));
    }
    return n < max ? n : max;
}

struct sink {
    struct kura_buf buf;
    unsigned calls;
    int fail_at; /* return -EIO on this call (1-based); 0: never */
};

static int sink_add(void *ctx, const uint8_t *data, size_t len)
{
    struct sink *s = ctx;
    s->calls++;
    if (s->fail_at > 0 && s->calls == (unsigned)s->fail_at) {
        return -EIO;
    }
    kura_buf_add(&s->buf, data, len);
    return kura_buf_err(&s->buf);
}

static void sink_init(struct sink *s)
{
    *s = (struct sink){.buf = KURA_BUF_INIT(64u << 20)};
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *p = kura_malloc(n > 0 ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)rng();
    }
    return p;
}

/* Encrypts plain with random chunking; the cipher segments go to *cipher. */
static void encrypt(const uint8_t key[32], const uint8_t *plain, size_t n, struct sink *cipher,
                    struct kura_c4gh_summary *sum)
{
    struct kura_c4gh_writer *w = NULL;
    sink_init(cipher);
    assert_int_equal(kura_c4gh_writer_new(key, sink_add, cipher, &w), 0);
    for (size_t off = 0; off < n;) {
        size_t c = chunk_len(n - off);
        assert_int_equal(kura_c4gh_writer_write(w, plain + off, c), 0);
        off += c;
    }
    assert_int_equal(kura_c4gh_writer_finish(w, sum), 0);
    w = kura_c4gh_writer_free(w);
}

/* Feeds cipher to a new reader with random chunking; returns the first error (0: all fine). */
static int decrypt(const uint8_t key[32], const struct kura_c4gh_reader_opts *opts,
                   const uint8_t *cipher, size_t n, struct sink *plain)
{
    struct kura_c4gh_reader *r = NULL;
    sink_init(plain);
    int rc = kura_c4gh_reader_new(key, opts, sink_add, plain, &r);
    if (rc < 0) {
        return rc;
    }
    for (size_t off = 0; off < n && rc == 0;) {
        size_t c = chunk_len(n - off);
        rc = kura_c4gh_reader_feed(r, cipher + off, c);
        off += c;
    }
    if (rc == 0) {
        rc = kura_c4gh_reader_finish(r);
    }
    r = kura_c4gh_reader_free(r);
    return rc;
}

/* A fresh stream of size bytes: plaintext, key, cipher, summary. */
struct stream {
    uint8_t *plain;
    size_t size;
    uint8_t key[32];
    struct sink cipher;
    struct kura_c4gh_summary sum;
};

static void stream_new(struct stream *s, size_t size)
{
    s->plain = random_bytes(size);
    s->size = size;
    assert_int_equal(kura_random(s->key, sizeof(s->key)), 0);
    encrypt(s->key, s->plain, size, &s->cipher, &s->sum);
}

static void stream_free(struct stream *s)
{
    kura_free(s->plain);
    kura_buf_release(&s->cipher.buf);
}

static const uint8_t *cbytes(const struct stream *s)
{
    return (const uint8_t *)s->cipher.buf.ptr;
}

/* Decrypts a modified copy of the stream's segments with its summary. */
static int decrypt_copy(const struct stream *s, const uint8_t *cipher, size_t n, size_t *ret_out)
{
    struct sink out;
    struct kura_c4gh_reader_opts opts = {.expect = &s->sum};
    int r = decrypt(s->key, &opts, cipher, n, &out);
    if (ret_out) {
        *ret_out = out.buf.len;
    }
    kura_buf_release(&out.buf);
    return r;
}

/* ---- round trips --------------------------------------------------------------------------- */

static void test_round_trips(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 5};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(sizes); i++) {
        for (int rep = 0; rep < 3; rep++) {
            struct stream s;
            stream_new(&s, sizes[i]);

            /* Summary and layout. */
            uint64_t csize = 0;
            assert_int_equal(kura_c4gh_cipher_size(s.size, &csize), 0);
            assert_int_equal(s.cipher.buf.len, csize);
            assert_int_equal(s.sum.size, s.size);
            assert_int_equal(s.sum.segments, kura_c4gh_segment_count(s.size));
            assert_int_equal(s.cipher.calls, s.sum.segments); /* one call per whole segment */
            uint8_t h[KURA_SHA256_BYTES];
            assert_int_equal(kura_sha256(h, s.plain, s.size), 0);
            assert_memory_equal(h, s.sum.sha256, sizeof(h));
            for (uint64_t k = 0; k < s.sum.segments; k++) {
                const uint8_t *nonce = cbytes(&s) + k * CSEG;
                assert_memory_equal(nonce, s.sum.nonce_prefix, 4);
                for (unsigned b = 0; b < 8; b++) {
                    assert_int_equal(nonce[4 + b], (uint8_t)(k >> (8 * b)));
                }
            }

            /* Bound reader, and a standard reader that knows nothing. */
            struct sink out;
            struct kura_c4gh_reader_opts opts = {.expect = &s.sum};
            assert_int_equal(decrypt(s.key, &opts, cbytes(&s), s.cipher.buf.len, &out), 0);
            assert_int_equal(out.buf.len, s.size);
            assert_memory_equal(out.buf.ptr, s.plain, s.size);
            kura_buf_release(&out.buf);
            assert_int_equal(decrypt(s.key, NULL, cbytes(&s), s.cipher.buf.len, &out), 0);
            assert_int_equal(out.buf.len, s.size);
            assert_memory_equal(out.buf.ptr, s.plain, s.size);
            kura_buf_release(&out.buf);
            stream_free(&s);
        }
    }
}

static void test_nonce_prefix_random(void **state)
{
    (void)state;
    struct stream a, b;
    stream_new(&a, 10);
    stream_new(&b, 10);
    /* 2^-32 chance of a false failure. */
    assert_memory_not_equal(a.sum.nonce_prefix, b.sum.nonce_prefix, 4);
    stream_free(&a);
    stream_free(&b);
}

/* ---- ranges -------------------------------------------------------------------------------- */

static void check_range(const struct stream *s, uint64_t off, uint64_t len, bool bound)
{
    struct kura_c4gh_range g;
    assert_int_equal(kura_c4gh_range_map(s->size, off, len, &g), 0);
    assert_true(g.cipher_offset + g.cipher_len <= s->cipher.buf.len);
    struct kura_c4gh_reader_opts opts = {.expect = bound ? &s->sum : NULL, .range = &g};
    struct sink out;
    assert_int_equal(decrypt(s->key, &opts, cbytes(s) + g.cipher_offset, g.cipher_len, &out), 0);
    assert_int_equal(out.buf.len, len);
    assert_memory_equal(out.buf.ptr, s->plain + off, len);
    kura_buf_release(&out.buf);
}

static void test_range_reads(void **state)
{
    (void)state;
    struct stream s;
    stream_new(&s, 3 * SEG + 5);
    for (uint64_t first = 0; first < s.sum.segments; first++) {
        uint64_t start = first * SEG;
        for (int bound = 0; bound < 2; bound++) {
            check_range(&s, start, s.size - start, bound); /* to the end */
            check_range(&s, start, 1, bound);
            check_range(&s, start + 3, s.size - start - 3, bound);
            if (start + SEG < s.size) {
                check_range(&s, start + SEG - 1, 2, bound); /* across an edge */
                check_range(&s, start, SEG, bound);         /* exactly one segment */
            }
        }
    }
    check_range(&s, s.size - 1, 1, true);
    check_range(&s, 0, s.size, true); /* whole file through a range: summary checked too */
    for (int i = 0; i < 50; i++) {
        uint64_t off = rng() % s.size;
        uint64_t len = 1 + rng() % (s.size - off);
        check_range(&s, off, len, i % 2);
    }

    /* A range read that stops early or runs over is caught. */
    struct kura_c4gh_range g;
    assert_int_equal(kura_c4gh_range_map(s.size, SEG, 10, &g), 0);
    struct kura_c4gh_reader_opts opts = {.expect = &s.sum, .range = &g};
    struct sink out;
    assert_int_equal(decrypt(s.key, &opts, cbytes(&s) + g.cipher_offset, g.cipher_len - 1, &out),
                     KURA_ECORRUPT);
    kura_buf_release(&out.buf);
    assert_int_equal(decrypt(s.key, &opts, cbytes(&s) + g.cipher_offset, g.cipher_len + 1, &out),
                     KURA_ECORRUPT);
    kura_buf_release(&out.buf);
    /* The right bytes fed as if they were another segment: the binding refuses them. */
    assert_int_equal(decrypt(s.key, &opts, cbytes(&s), g.cipher_len, &out), KURA_ECORRUPT);
    assert_int_equal(out.buf.len, 0);
    kura_buf_release(&out.buf);

    /* A range that does not fit the summary is a programming error. */
    struct kura_c4gh_reader *r = NULL;
    g.cipher_len += 1;
    assert_int_equal(kura_c4gh_reader_new(s.key, &opts, sink_add, &out, &r), -EINVAL);
    assert_int_equal(kura_c4gh_range_map(s.size, 0, 10, &g), 0);
    g.first_segment = 1;
    assert_int_equal(kura_c4gh_reader_new(s.key, &opts, sink_add, &out, &r), -EINVAL);
    assert_null(r);
    stream_free(&s);
}

static void test_sizes_and_mapping(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(kura_c4gh_segment_count(0), 0);
    assert_int_equal(kura_c4gh_segment_count(1), 1);
    assert_int_equal(kura_c4gh_segment_count(SEG), 1);
    assert_int_equal(kura_c4gh_segment_count(SEG + 1), 2);
    assert_int_equal(kura_c4gh_cipher_size(0, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(kura_c4gh_cipher_size(SEG + 1, &v), 0);
    assert_int_equal(v, SEG + 1 + 2 * 28);
    assert_int_equal(kura_c4gh_cipher_size(UINT64_MAX - 10, &v), KURA_EOVERFLOW);
    /* The neicnordic vector: 70,225 bytes in 70,281 bytes of segments. */
    assert_int_equal(kura_c4gh_plain_size(70405 - 124, &v), 0);
    assert_int_equal(v, 70225);
    assert_int_equal(kura_c4gh_plain_size(0, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(kura_c4gh_plain_size(CSEG, &v), 0);
    assert_int_equal(v, SEG);
    assert_int_equal(kura_c4gh_plain_size(CSEG + 28, &v), KURA_ECORRUPT);
    assert_int_equal(kura_c4gh_plain_size(5, &v), KURA_ECORRUPT);
    assert_int_equal(kura_c4gh_plain_size(29, &v), 0);
    assert_int_equal(v, 1);

    struct kura_c4gh_range g;
    assert_int_equal(kura_c4gh_range_map(3 * SEG + 5, SEG + 10, SEG, &g), 0);
    assert_int_equal(g.first_segment, 1);
    assert_int_equal(g.n_segments, 2);
    assert_int_equal(g.cipher_offset, CSEG);
    assert_int_equal(g.cipher_len, 2 * CSEG);
    assert_int_equal(g.skip, 10);
    assert_int_equal(g.len, SEG);
    assert_int_equal(kura_c4gh_range_map(3 * SEG + 5, 3 * SEG, 5, &g), 0);
    assert_int_equal(g.first_segment, 3);
    assert_int_equal(g.n_segments, 1);
    assert_int_equal(g.cipher_offset, 3 * CSEG);
    assert_int_equal(g.cipher_len, 5 + 28);
    assert_int_equal(kura_c4gh_range_map(10, 0, 0, &g), KURA_ERANGENS);
    assert_int_equal(kura_c4gh_range_map(10, 10, 1, &g), KURA_ERANGENS);
    assert_int_equal(kura_c4gh_range_map(10, 5, 6, &g), KURA_ERANGENS);
    assert_int_equal(kura_c4gh_range_map(0, 0, 1, &g), KURA_ERANGENS);
    assert_int_equal(kura_c4gh_range_map(10, 9, UINT64_MAX, &g), KURA_ERANGENS);
    assert_int_equal(kura_c4gh_range_map(UINT64_MAX, UINT64_MAX - 2, 1, &g), KURA_EOVERFLOW);
}

/* ---- tampering ----------------------------------------------------------------------------- */

static void test_flipped_bits(void **state)
{
    (void)state;
    struct stream s;
    stream_new(&s, 3 * SEG + 5);
    uint8_t *copy = kura_malloc(s.cipher.buf.len);
    assert_non_null(copy);
    /* A bit in the nonce, the body and the tag of the third segment. */
    const size_t at[] = {2 * CSEG + 3, 2 * CSEG + 12, 2 * CSEG + 5000, 3 * CSEG - 1};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(at); i++) {
        memcpy(copy, cbytes(&s), s.cipher.buf.len);
        copy[at[i]] ^= 0x10;
        size_t out = 0;
        assert_int_equal(decrypt_copy(&s, copy, s.cipher.buf.len, &out), KURA_ECRYPTO);
        assert_int_equal(out, 2 * SEG); /* the two good segments, nothing of the bad one */
        /* A standard reader is as strict about tags. */
        struct sink o;
        assert_int_equal(decrypt(s.key, NULL, copy, s.cipher.buf.len, &o), KURA_ECRYPTO);
        assert_int_equal(o.buf.len, 2 * SEG);
        kura_buf_release(&o.buf);
    }
    kura_free(copy);
    stream_free(&s);
}

static void test_reordered_segments(void **state)
{
    (void)state;
    struct stream s;
    stream_new(&s, 3 * SEG + 5);
    const uint8_t *c = cbytes(&s);
    size_t n = s.cipher.buf.len;
    uint8_t *copy = kura_malloc(n + CSEG);
    assert_non_null(copy);
    size_t out = 0;

    /* Swapped: segments 1 and 0. A standard reader cannot see it; kura's can. */
    memcpy(copy, c + CSEG, CSEG);
    memcpy(copy + CSEG, c, CSEG);
    memcpy(copy + 2 * CSEG, c + 2 * CSEG, n - 2 * CSEG);
    assert_int_equal(decrypt_copy(&s, copy, n, &out), KURA_ECORRUPT);
    assert_int_equal(out, 0);
    struct sink o;
    assert_int_equal(decrypt(s.key, NULL, copy, n, &o), 0);
    kura_buf_release(&o.buf);

    /* Dropped middle segment (the length check alone would not see it at the end). */
    memcpy(copy, c, CSEG);
    memcpy(copy + CSEG, c + 2 * CSEG, n - 2 * CSEG);
    assert_int_equal(decrypt_copy(&s, copy, n - CSEG, &out), KURA_ECORRUPT);
    assert_int_equal(out, SEG);

    /* Dropped last segment: caught at finish. */
    assert_int_equal(decrypt_copy(&s, c, 3 * CSEG, &out), KURA_ECORRUPT);
    assert_int_equal(out, 3 * SEG);

    /* Duplicated segment 0, last one dropped to keep the length. */
    memcpy(copy, c, CSEG);
    memcpy(copy + CSEG, c, n - CSEG);
    assert_int_equal(decrypt_copy(&s, copy, n, &out), KURA_ECORRUPT);
    assert_int_equal(out, SEG);

    /* Duplicated segment appended: more bytes than the summary allows. */
    memcpy(copy, c, n);
    memcpy(copy + n, c, CSEG);
    assert_int_equal(decrypt_copy(&s, copy, n + CSEG, &out), KURA_ECORRUPT);

    /* Truncated last segment, and a byte too many. */
    assert_int_equal(decrypt_copy(&s, c, n - 1, &out), KURA_ECORRUPT);
    assert_int_equal(out, 3 * SEG);
    assert_int_equal(decrypt(s.key, NULL, c, n - 1, &o), KURA_ECRYPTO);
    kura_buf_release(&o.buf);
    memcpy(copy, c, n);
    copy[n] = 0;
    assert_int_equal(decrypt_copy(&s, copy, n + 1, &out), KURA_ECORRUPT);
    /* A truncated segment shorter than nonce and tag, as a standard reader sees it. */
    assert_int_equal(decrypt(s.key, NULL, c, 3 * CSEG + 20, &o), KURA_ECORRUPT);
    kura_buf_release(&o.buf);

    /* The segments of another file with the same key and its own prefix: refused. */
    struct kura_c4gh_summary other = s.sum;
    other.nonce_prefix[0] ^= 1;
    struct kura_c4gh_reader_opts opts = {.expect = &other};
    assert_int_equal(decrypt(s.key, &opts, c, n, &o), KURA_ECORRUPT);
    kura_buf_release(&o.buf);
    kura_free(copy);
    stream_free(&s);
}

static void test_wrong_key_and_summary(void **state)
{
    (void)state;
    struct stream s;
    stream_new(&s, SEG + 100);
    size_t out = 0;
    uint8_t key[32];
    memcpy(key, s.key, 32);
    s.key[7] ^= 1;
    assert_int_equal(decrypt_copy(&s, cbytes(&s), s.cipher.buf.len, &out), KURA_ECRYPTO);
    assert_int_equal(out, 0);
    memcpy(s.key, key, 32);

    struct kura_c4gh_summary good = s.sum;
    s.sum.sha256[0] ^= 1; /* checksum in the summary wrong: caught at the end */
    assert_int_equal(decrypt_copy(&s, cbytes(&s), s.cipher.buf.len, &out), KURA_ECORRUPT);
    s.sum = good;
    s.sum.size += 1; /* size wrong but consistent with the count: the last segment is short */
    assert_int_equal(decrypt_copy(&s, cbytes(&s), s.cipher.buf.len, &out), KURA_ECORRUPT);
    s.sum.size -= 2; /* the last segment is cut a byte early, so its tag cannot verify */
    assert_int_equal(decrypt_copy(&s, cbytes(&s), s.cipher.buf.len, &out), KURA_ECRYPTO);
    s.sum = good;
    s.sum.segments = 3; /* self-contradictory summary */
    assert_int_equal(decrypt_copy(&s, cbytes(&s), s.cipher.buf.len, &out), KURA_ECORRUPT);
    s.sum = good;
    assert_int_equal(decrypt_copy(&s, cbytes(&s), s.cipher.buf.len, &out), 0);

    /* An empty stream: no segment may come. */
    struct stream e;
    stream_new(&e, 0);
    assert_int_equal(e.cipher.buf.len, 0);
    assert_int_equal(decrypt_copy(&e, NULL, 0, &out), 0);
    assert_int_equal(decrypt_copy(&e, cbytes(&s), 100, &out), KURA_ECORRUPT);
    stream_free(&e);
    stream_free(&s);
}

/* ---- errors and lifecycle ------------------------------------------------------------------ */

static void test_callback_errors_stick(void **state)
{
    (void)state;
    uint8_t key[32] = {1};
    uint8_t *plain = random_bytes(3 * SEG);
    struct sink c;
    sink_init(&c);
    c.fail_at = 2;
    struct kura_c4gh_writer *w = NULL;
    assert_int_equal(kura_c4gh_writer_new(key, sink_add, &c, &w), 0);
    assert_int_equal(kura_c4gh_writer_write(w, plain, SEG), 0);
    assert_int_equal(kura_c4gh_writer_write(w, plain, 2 * SEG), -EIO);
    assert_int_equal(kura_c4gh_writer_write(w, plain, 1), -EIO);
    struct kura_c4gh_summary sum;
    assert_int_equal(kura_c4gh_writer_finish(w, &sum), -EIO);
    w = kura_c4gh_writer_free(w);
    kura_buf_release(&c.buf);

    /* Finish twice, write after finish. */
    sink_init(&c);
    assert_int_equal(kura_c4gh_writer_new(key, sink_add, &c, &w), 0);
    assert_int_equal(kura_c4gh_writer_write(w, plain, 10), 0);
    assert_int_equal(kura_c4gh_writer_finish(w, &sum), 0);
    assert_int_equal(kura_c4gh_writer_write(w, plain, 1), -EINVAL);
    assert_int_equal(kura_c4gh_writer_finish(w, &sum), -EINVAL);
    w = kura_c4gh_writer_free(w);

    /* The reader's callback error stops it. */
    struct sink p;
    sink_init(&p);
    p.fail_at = 1;
    struct kura_c4gh_reader *r = NULL;
    assert_int_equal(kura_c4gh_reader_new(key, NULL, sink_add, &p, &r), 0);
    assert_int_equal(kura_c4gh_reader_feed(r, c.buf.ptr, c.buf.len), 0); /* waits for more */
    assert_int_equal(kura_c4gh_reader_finish(r), -EIO);
    assert_int_equal(kura_c4gh_reader_finish(r), -EIO);
    assert_int_equal(kura_c4gh_reader_feed(r, c.buf.ptr, 1), -EIO);
    r = kura_c4gh_reader_free(r);
    assert_null(kura_c4gh_reader_free(NULL));
    assert_null(kura_c4gh_writer_free(NULL));
    kura_buf_release(&p.buf);
    kura_buf_release(&c.buf);
    kura_free(plain);
}

static void test_incremental_sha256(void **state)
{
    (void)state;
    struct kura_sha256_ctx *c = NULL;
    uint8_t h[KURA_SHA256_BYTES], want[KURA_SHA256_BYTES];
    assert_int_equal(kura_sha256_ctx_new(&c), 0);
    assert_int_equal(kura_sha256_ctx_update(c, "a", 1), 0);
    assert_int_equal(kura_sha256_ctx_update(c, "", 0), 0);
    assert_int_equal(kura_sha256_ctx_update(c, "bc", 2), 0);
    assert_int_equal(kura_sha256_ctx_final(c, h), 0);
    assert_int_equal(kura_sha256(want, "abc", 3), 0);
    assert_memory_equal(h, want, sizeof(h));
    assert_int_equal(kura_sha256_ctx_update(c, "a", 1), -EINVAL);
    assert_int_equal(kura_sha256_ctx_final(c, h), -EINVAL);
    c = kura_sha256_ctx_free(c);
    assert_null(c);
}

#ifdef KURA_FAULT_INJECTION
/* Every allocation failure surfaces as -ENOMEM, with nothing leaked (ASan checks). */
static void test_allocation_failures(void **state)
{
    (void)state;
    uint8_t key[32] = {2};
    struct sink c;
    sink_init(&c);
    bool done = false;
    for (unsigned long n = 1; !done && n < 50; n++) {
        struct kura_c4gh_writer *w = NULL;
        struct kura_c4gh_reader *r = NULL;
        kura_alloc_fail_at(n);
        int rc = kura_c4gh_writer_new(key, sink_add, &c, &w);
        if (rc == 0) {
            rc = kura_c4gh_reader_new(key, NULL, sink_add, &c, &r);
        }
        kura_alloc_fail_at(0);
        if (rc == 0) {
            done = true;
        } else {
            assert_int_equal(rc, -ENOMEM);
        }
        w = kura_c4gh_writer_free(w);
        r = kura_c4gh_reader_free(r);
    }
    assert_true(done);
    kura_buf_release(&c.buf);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),           cmocka_unit_test(test_nonce_prefix_random),
        cmocka_unit_test(test_range_reads),           cmocka_unit_test(test_sizes_and_mapping),
        cmocka_unit_test(test_flipped_bits),          cmocka_unit_test(test_reordered_segments),
        cmocka_unit_test(test_wrong_key_and_summary), cmocka_unit_test(test_callback_errors_stick),
        cmocka_unit_test(test_incremental_sha256),
#ifdef KURA_FAULT_INJECTION
        cmocka_unit_test(test_allocation_failures),
#endif
    };
    if (kura_crypto_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
