/* tlog.c — Merkle tree arithmetic of RFC 6962 section 2.1 (and its proof verification as
 * restated in RFC 9162 section 2.1): leaf hash SHA-256(0x00 || data), node hash
 * SHA-256(0x01 || left || right), the tree of n leaves split at the largest power of two below
 * n. Nothing here does I/O: nodes come from a callback, so the same code serves the writer (in
 * memory), the verifier (recomputed) and the prover (tiles on disk).
 */
#include "audit-internal.h"

#include <string.h>

int tlog_leaf_hash(const void *record, size_t len, kura_hash ret)
{
    struct kura_str parts[2] = {{"\x00", 1}, {record, len}};
    return kura_sha256_parts(ret, parts, 2);
}

int tlog_node_hash(const kura_hash left, const kura_hash right, kura_hash ret)
{
    uint8_t node[1 + 2 * KURA_AUDIT_HASH_BYTES] = {0x01}; /* one update is cheaper than three */
    memcpy(node + 1, left, KURA_AUDIT_HASH_BYTES);
    memcpy(node + 1 + KURA_AUDIT_HASH_BYTES, right, KURA_AUDIT_HASH_BYTES);
    return kura_sha256(ret, node, sizeof(node));
}

int tlog_perfect_root(const kura_hash *hashes, size_t n, kura_hash ret)
{
    if (n == 1) {
        memcpy(ret, hashes[0], KURA_AUDIT_HASH_BYTES);
        return 0;
    }
    kura_hash l = {0}, r = {0}; /* written by the calls below whenever rc is 0 */
    int rc = tlog_perfect_root(hashes, n / 2, l);
    if (rc == 0) {
        rc = tlog_perfect_root(hashes + n / 2, n / 2, r);
    }
    return rc < 0 ? rc : tlog_node_hash(l, r, ret);
}

void tlog_compact_init(struct tlog_compact *c)
{
    memset(c, 0, sizeof(*c));
}

int tlog_compact_append(struct tlog_compact *c, const kura_hash leaf)
{
    memcpy(c->hashes[c->count++], leaf, KURA_AUDIT_HASH_BYTES);
    /* Each trailing 1 bit of the old size is a subtree of equal height to merge with. */
    unsigned merges = 0;
    for (uint64_t s = c->size; s & 1; s >>= 1) {
        int r = tlog_node_hash(c->hashes[c->count - 2], c->hashes[c->count - 1],
                               c->hashes[c->count - 2]);
        if (r < 0) {
            return r;
        }
        c->count--;
        merges++;
        if (merges % KURA_AUDIT_TILE_HEIGHT == 0 &&
            merges / KURA_AUDIT_TILE_HEIGHT <= KURA_ARRAY_SIZE(c->tile_root)) {
            memcpy(c->tile_root[merges / KURA_AUDIT_TILE_HEIGHT - 1], c->hashes[c->count - 1],
                   KURA_AUDIT_HASH_BYTES);
        }
    }
    c->size++;
    return 0;
}

int tlog_compact_root(const struct tlog_compact *c, kura_hash ret)
{
    if (c->count == 0) {
        return kura_sha256(ret, "", 0);
    }
    kura_hash acc;
    memcpy(acc, c->hashes[c->count - 1], KURA_AUDIT_HASH_BYTES);
    for (unsigned i = c->count - 1; i > 0; i--) {
        int r = tlog_node_hash(c->hashes[i - 1], acc, acc);
        if (r < 0) {
            return r;
        }
    }
    memcpy(ret, acc, KURA_AUDIT_HASH_BYTES);
    return 0;
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n) {
        k <<= 1;
    }
    return k;
}

static unsigned log2_exact(uint64_t n)
{
    unsigned h = 0;
    while ((UINT64_C(1) << h) < n) {
        h++;
    }
    return h;
}

/* MTH(D[a:b]) where a is a multiple of the largest power of two <= b - a (always true in the
 * RFC 6962 recursions). */
static int range_hash(uint64_t a, uint64_t b, tlog_node_fn node, void *ctx, kura_hash ret)
{
    uint64_t n = b - a;
    if ((n & (n - 1)) == 0) {
        unsigned h = log2_exact(n);
        return node(ctx, h, a >> h, ret);
    }
    uint64_t k = split_point(n);
    kura_hash l = {0}, r = {0}; /* written by the calls below whenever rc is 0 */
    int rc = range_hash(a, a + k, node, ctx, l);
    if (rc == 0) {
        rc = range_hash(a + k, b, node, ctx, r);
    }
    return rc < 0 ? rc : tlog_node_hash(l, r, ret);
}

int tlog_tree_root(uint64_t size, tlog_node_fn node, void *ctx, kura_hash ret)
{
    if (size == 0) {
        return kura_sha256(ret, "", 0);
    }
    return range_hash(0, size, node, ctx, ret);
}

/* PATH(m, D[a:a+n]) of RFC 6962 2.1.1, appending to ret. */
static int path(uint64_t m, uint64_t a, uint64_t n, tlog_node_fn node, void *ctx, kura_hash *ret,
                unsigned *count)
{
    if (n <= 1) {
        return 0;
    }
    uint64_t k = split_point(n);
    int r;
    if (m < k) {
        r = path(m, a, k, node, ctx, ret, count);
        if (r == 0) {
            r = range_hash(a + k, a + n, node, ctx, ret[(*count)++]);
        }
    } else {
        r = path(m - k, a + k, n - k, node, ctx, ret, count);
        if (r == 0) {
            r = range_hash(a, a + k, node, ctx, ret[(*count)++]);
        }
    }
    return r;
}

int tlog_inclusion_proof(uint64_t m, uint64_t n, tlog_node_fn node, void *ctx, kura_hash *ret,
                         unsigned *ret_count)
{
    if (m >= n) {
        return KURA_ERANGE;
    }
    unsigned count = 0;
    int r = path(m, 0, n, node, ctx, ret, &count);
    if (r == 0) {
        *ret_count = count;
    }
    return r;
}

/* SUBPROOF(m, D[a:a+n], b) of RFC 6962 2.1.2. */
static int subproof(uint64_t m, uint64_t a, uint64_t n, bool b, tlog_node_fn node, void *ctx,
                    kura_hash *ret, unsigned *count)
{
    if (m == n) {
        return b ? 0 : range_hash(a, a + n, node, ctx, ret[(*count)++]);
    }
    uint64_t k = split_point(n);
    int r;
    if (m <= k) {
        r = subproof(m, a, k, b, node, ctx, ret, count);
        if (r == 0) {
            r = range_hash(a + k, a + n, node, ctx, ret[(*count)++]);
        }
    } else {
        r = subproof(m - k, a + k, n - k, false, node, ctx, ret, count);
        if (r == 0) {
            r = range_hash(a, a + k, node, ctx, ret[(*count)++]);
        }
    }
    return r;
}

int tlog_consistency_proof(uint64_t m, uint64_t n, tlog_node_fn node, void *ctx, kura_hash *ret,
                           unsigned *ret_count)
{
    if (m == 0 || m > n) {
        return KURA_ERANGE;
    }
    unsigned count = 0;
    int r = subproof(m, 0, n, true, node, ctx, ret, &count);
    if (r == 0) {
        *ret_count = count;
    }
    return r;
}

int tlog_inclusion_verify(uint64_t m, uint64_t n, const kura_hash leaf, const kura_hash *proof,
                          unsigned count, const kura_hash root)
{
    if (m >= n) {
        return KURA_ECRYPTO;
    }
    uint64_t fn = m, sn = n - 1;
    kura_hash r;
    memcpy(r, leaf, KURA_AUDIT_HASH_BYTES);
    for (unsigned i = 0; i < count; i++) {
        if (sn == 0) {
            return KURA_ECRYPTO;
        }
        int rc;
        if ((fn & 1) || fn == sn) {
            rc = tlog_node_hash(proof[i], r, r);
            if (!(fn & 1)) {
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            rc = tlog_node_hash(r, proof[i], r);
        }
        if (rc < 0) {
            return rc;
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, KURA_AUDIT_HASH_BYTES) == 0 ? 0 : KURA_ECRYPTO;
}

int tlog_consistency_verify(uint64_t m, uint64_t n, const kura_hash root_m, const kura_hash root_n,
                            const kura_hash *proof, unsigned count)
{
    if (m == 0 || m > n) {
        return KURA_ECRYPTO;
    }
    if (m == n) {
        return count == 0 && memcmp(root_m, root_n, KURA_AUDIT_HASH_BYTES) == 0 ? 0 : KURA_ECRYPTO;
    }
    if (count == 0 || count > 64) {
        return KURA_ECRYPTO; /* step 1: an empty path proves nothing */
    }
    /* If m is a power of two, the old root itself is the first node of the path. */
    kura_hash path[65];
    unsigned len = 0;
    if ((m & (m - 1)) == 0) {
        memcpy(path[len++], root_m, KURA_AUDIT_HASH_BYTES);
    }
    for (unsigned i = 0; i < count; i++) {
        memcpy(path[len++], proof[i], KURA_AUDIT_HASH_BYTES);
    }
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    kura_hash fr, sr;
    memcpy(fr, path[0], KURA_AUDIT_HASH_BYTES);
    memcpy(sr, path[0], KURA_AUDIT_HASH_BYTES);
    for (unsigned i = 1; i < len; i++) {
        if (sn == 0) {
            return KURA_ECRYPTO;
        }
        int rc = 0;
        if ((fn & 1) || fn == sn) {
            rc = tlog_node_hash(path[i], fr, fr);
            if (rc == 0) {
                rc = tlog_node_hash(path[i], sr, sr);
            }
            if (!(fn & 1)) {
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            rc = tlog_node_hash(sr, path[i], sr);
        }
        if (rc < 0) {
            return rc;
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, root_m, KURA_AUDIT_HASH_BYTES) == 0 &&
                   memcmp(sr, root_n, KURA_AUDIT_HASH_BYTES) == 0
               ? 0
               : KURA_ECRYPTO;
}
