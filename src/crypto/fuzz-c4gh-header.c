/* fuzz-c4gh-header.c — libFuzzer harness for Crypt4GH headers and segment streams.
 *
 * Each input is a whole .c4gh file. Its header is opened with a fixed reader key (FUZZ_READER_SK
 * below); the bytes after it (or, when the header does not open, the whole input) are then read
 * as segments, with the header's data key or a fixed one (FUZZ_DATA_KEY): as a standard file,
 * as a kura stream bound to a summary made up from the input, and as a range read of its second
 * half, each fed in chunks whose sizes come from the input.
 *
 * Seeds in tests/fuzz/c4gh-header/: files made with kura's writer for FUZZ_READER_SK's public
 * key (empty, one short segment, a full and a partial segment), the same segments under a header
 * for another key (so the fixed data key applies), a header with a foreign packet before ours,
 * and truncated and edit-list headers.
 *
 * Invariants checked (a violation traps): results are 0 or the documented codes; an opened
 * header lies inside the input and the limits; a standard read that succeeds gives exactly
 * kura_c4gh_plain_size bytes; a range read of a stream that decrypted whole succeeds and gives
 * the same bytes as the whole read did for that range.
 */
#include "crypto/crypto-internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t FUZZ_READER_SK[KURA_C4GH_KEY_BYTES] = "kura fuzz c4gh header reader ke";
static const uint8_t FUZZ_DATA_KEY[KURA_C4GH_DATA_KEY_BYTES] = "kura fuzz c4gh segment data key";

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static bool header_code(int r)
{
    return r == 0 || r == KURA_ESYNTAX || r == KURA_EUNSUPPORTED || r == KURA_ECRYPTO ||
           r == KURA_ETOOBIG || r == -ENOMEM;
}

static bool stream_code(int r)
{
    return r == 0 || r == KURA_ECRYPTO || r == KURA_ECORRUPT || r == -ENOMEM;
}

static int collect(void *ctx, const uint8_t *p, size_t len)
{
    kura_buf_add(ctx, p, len);
    return kura_buf_err(ctx);
}

/* Feeds in chunks of sizes drawn from seed; returns the reader's result. */
static int read_stream(const uint8_t key[32], const struct kura_c4gh_reader_opts *opts,
                       const uint8_t *p, size_t len, uint32_t seed, struct kura_buf *out)
{
    struct kura_c4gh_reader *r = NULL;
    int rc = kura_c4gh_reader_new(key, opts, collect, out, &r);
    if (rc < 0) {
        return rc;
    }
    size_t off = 0;
    while (rc == 0 && off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t c = (seed >> 16) % 4 == 0 ? 1 + (seed >> 8) % 64 : 1 + (seed >> 4) % 100000;
        c = c < len - off ? c : len - off;
        rc = kura_c4gh_reader_feed(r, p + off, c);
        off += c;
    }
    if (rc == 0) {
        rc = kura_c4gh_reader_finish(r);
    }
    r = kura_c4gh_reader_free(r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        if (kura_crypto_init() < 0) {
            abort();
        }
        ready = true;
    }
    uint8_t key[KURA_C4GH_DATA_KEY_BYTES];
    size_t hlen = 0;
    struct kura_buf why = KURA_BUF_INIT(1024);
    int r = kura_c4gh_header_open(data, size, FUZZ_READER_SK, key, &hlen, &why);
    check(header_code(r));
    check((r < 0) == (why.len > 0) || r == -ENOMEM);
    kura_buf_release(&why);
    if (r == 0) {
        check(hlen >= 16 && hlen <= size && hlen <= KURA_C4GH_HEADER_MAX);
        uint8_t again[KURA_C4GH_HEADER_ONE_BYTES];
        if (hlen == size) {
            r = kura_c4gh_header_reencrypt(data, size, FUZZ_READER_SK, FUZZ_READER_SK, NULL, again,
                                           NULL);
            check(r == 0 || r == -ENOMEM);
        }
    } else {
        memcpy(key, FUZZ_DATA_KEY, sizeof(key));
        hlen = 0;
    }
    const uint8_t *seg = data + hlen;
    size_t seg_len = size - hlen;
    uint32_t seed = (uint32_t)size;

    /* As a standard file. */
    struct kura_buf whole = KURA_BUF_INIT(1u << 24);
    int rw = read_stream(key, NULL, seg, seg_len, seed, &whole);
    check(stream_code(rw));
    uint64_t plain = 0;
    int rp = kura_c4gh_plain_size(seg_len, &plain);
    if (rw == 0) {
        check(rp == 0 && plain == whole.len);
    }

    /* As kura's stream, with a summary made up from the input (the nonce prefix of its first
     * segment, a wrong checksum): the binding and the end checks run. */
    if (rp == 0) {
        struct kura_c4gh_summary sum = {.size = plain, .segments = kura_c4gh_segment_count(plain)};
        if (seg_len >= KURA_C4GH_NONCE_PREFIX_BYTES) {
            memcpy(sum.nonce_prefix, seg, KURA_C4GH_NONCE_PREFIX_BYTES);
        }
        struct kura_c4gh_reader_opts opts = {.expect = &sum};
        struct kura_buf out = KURA_BUF_INIT(1u << 24);
        int rb = read_stream(key, &opts, seg, seg_len, seed ^ 0x5555u, &out);
        check(stream_code(rb));
        kura_buf_release(&out);
    }

    /* The second half as a range read; it must agree with the whole read. */
    struct kura_c4gh_range g;
    if (rp == 0 && plain >= 2 &&
        kura_c4gh_range_map(plain, plain / 2, plain - plain / 2, &g) == 0) {
        check(g.cipher_offset + g.cipher_len == seg_len);
        struct kura_c4gh_reader_opts opts = {.range = &g};
        struct kura_buf out = KURA_BUF_INIT(1u << 24);
        int rr = read_stream(key, &opts, seg + g.cipher_offset, (size_t)g.cipher_len,
                             seed ^ 0xaaaau, &out);
        check(stream_code(rr));
        if (rw == 0) {
            check(rr == 0 && out.len == g.len &&
                  memcmp(out.ptr, whole.ptr + plain / 2, (size_t)g.len) == 0);
        }
        kura_buf_release(&out);
    }
    kura_buf_release(&whole);
    sodium_memzero(key, sizeof(key));
    return 0;
}
