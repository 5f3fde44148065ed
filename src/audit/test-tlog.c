/* Unit tests for the Merkle arithmetic: the RFC 6962 reference tree (leaves and roots from the
 * certificate-transparency test suite), compact ranges, and every inclusion and consistency
 * proof up to 70 leaves verified and tampered with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit-internal.h"

static const struct {
    const char *data;
    size_t len;
} leaves[8] = {
    {"", 0},
    {"\x00", 1},
    {"\x10", 1},
    {"\x20\x21", 2},
    {"\x30\x31", 2},
    {"\x40\x41\x42\x43", 4},
    {"\x50\x51\x52\x53\x54\x55\x56\x57", 8},
    {"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16},
};

static const char *const roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void hex(const kura_hash h, char out[65])
{
    kura_hex_encode(out, h, KURA_AUDIT_HASH_BYTES);
}

/* A node source over leaf hashes in memory. */
struct mem_src {
    kura_hash *leaf;
    uint64_t n;
};

static int mem_node(void *ctx, unsigned h, uint64_t i, kura_hash ret)
{
    struct mem_src *m = ctx;
    uint64_t first = i << h, count = UINT64_C(1) << h;
    if (first + count > m->n) {
        return KURA_ERANGE;
    }
    return tlog_perfect_root((const kura_hash *)m->leaf + first, count, ret);
}

static void test_reference_roots(void **state)
{
    (void)state;
    kura_hash leaf[8], root;
    char s[65];
    struct tlog_compact c;
    tlog_compact_init(&c);
    assert_int_equal(tlog_compact_root(&c, root), 0);
    hex(root, s);
    assert_string_equal(s, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tlog_leaf_hash(leaves[i].data, leaves[i].len, leaf[i]), 0);
        assert_int_equal(tlog_compact_append(&c, leaf[i]), 0);
        assert_int_equal(tlog_compact_root(&c, root), 0);
        hex(root, s);
        assert_string_equal(s, roots[i]);
        struct mem_src m = {leaf, (uint64_t)i + 1};
        assert_int_equal(tlog_tree_root(m.n, mem_node, &m, root), 0);
        hex(root, s);
        assert_string_equal(s, roots[i]);
    }
}

static void make_leaves(kura_hash *leaf, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char data[16];
        int len = snprintf(data, sizeof(data), "leaf %u", i);
        assert_int_equal(tlog_leaf_hash(data, (size_t)len, leaf[i]), 0);
    }
}

static void test_inclusion_proofs(void **state)
{
    (void)state;
    enum { N = 70 };
    kura_hash leaf[N], root, proof[64];
    make_leaves(leaf, N);
    for (uint64_t n = 1; n <= N; n++) {
        struct mem_src m = {leaf, n};
        assert_int_equal(tlog_tree_root(n, mem_node, &m, root), 0);
        for (uint64_t i = 0; i < n; i++) {
            unsigned count;
            assert_int_equal(tlog_inclusion_proof(i, n, mem_node, &m, proof, &count), 0);
            assert_int_equal(
                tlog_inclusion_verify(i, n, leaf[i], (const kura_hash *)proof, count, root), 0);
            /* The same proof must not prove the leaf at another position. */
            if (n > 1) {
                assert_int_not_equal(tlog_inclusion_verify((i + 1) % n, n, leaf[i],
                                                           (const kura_hash *)proof, count, root),
                                     0);
            }
            /* (Not asserted: that it fails for size n + 1. For a leftmost leaf the paths of two
             * sizes can have the same shape; the signed checkpoint is what fixes the size.) */
            if (count > 0) {
                proof[count - 1][0] ^= 1;
                assert_int_not_equal(
                    tlog_inclusion_verify(i, n, leaf[i], (const kura_hash *)proof, count, root), 0);
            }
        }
    }
    unsigned count;
    struct mem_src m = {leaf, 5};
    assert_int_equal(tlog_inclusion_proof(5, 5, mem_node, &m, proof, &count), KURA_ERANGE);
}

static void test_consistency_proofs(void **state)
{
    (void)state;
    enum { N = 70 };
    kura_hash leaf[N], rm, rn, proof[64];
    make_leaves(leaf, N);
    for (uint64_t n = 1; n <= N; n++) {
        struct mem_src big = {leaf, n};
        assert_int_equal(tlog_tree_root(n, mem_node, &big, rn), 0);
        for (uint64_t m = 1; m <= n; m++) {
            struct mem_src small = {leaf, m};
            assert_int_equal(tlog_tree_root(m, mem_node, &small, rm), 0);
            unsigned count;
            assert_int_equal(tlog_consistency_proof(m, n, mem_node, &big, proof, &count), 0);
            assert_int_equal(tlog_consistency_verify(m, n, rm, rn, (const kura_hash *)proof, count),
                             0);
            if (m < n) {
                /* A rewritten old tree, or a tampered proof, is caught. */
                kura_hash other;
                memcpy(other, rm, sizeof(other));
                other[0] ^= 1;
                assert_int_not_equal(
                    tlog_consistency_verify(m, n, other, rn, (const kura_hash *)proof, count), 0);
                proof[0][31] ^= 1;
                assert_int_not_equal(
                    tlog_consistency_verify(m, n, rm, rn, (const kura_hash *)proof, count), 0);
                assert_int_not_equal(tlog_consistency_verify(m, n, rm, rn, NULL, 0), 0);
            }
        }
    }
}

/* The compact range hands out each completed tile's root: the same as hashing the tile. */
static void test_tile_roots(void **state)
{
    (void)state;
    enum { W = KURA_AUDIT_TILE_WIDTH };
    struct tlog_compact *c = kura_calloc(1, sizeof(*c));
    kura_hash *level0 = kura_calloc(W, sizeof(kura_hash)),
              *level1 = kura_calloc(W, sizeof(kura_hash));
    assert_non_null(c);
    assert_non_null(level0);
    assert_non_null(level1);
    tlog_compact_init(c);
    for (uint32_t i = 0; i < W * W; i++) {
        kura_hash leaf;
        assert_int_equal(tlog_leaf_hash(&i, sizeof(i), leaf), 0);
        assert_int_equal(tlog_compact_append(c, leaf), 0);
        memcpy(level0[i % W], leaf, sizeof(leaf));
        if (i % W == W - 1) {
            kura_hash want;
            assert_int_equal(tlog_perfect_root((const kura_hash *)level0, W, want), 0);
            assert_memory_equal(c->tile_root[0], want, sizeof(want));
            memcpy(level1[i / W], want, sizeof(want));
        }
    }
    kura_hash want, root;
    assert_int_equal(tlog_perfect_root((const kura_hash *)level1, W, want), 0);
    assert_memory_equal(c->tile_root[1], want, sizeof(want));
    assert_int_equal(tlog_compact_root(c, root), 0); /* 65,536 leaves: one perfect tree */
    assert_memory_equal(root, want, sizeof(want));
    kura_free(level1);
    kura_free(level0);
    kura_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_roots),
        cmocka_unit_test(test_inclusion_proofs),
        cmocka_unit_test(test_consistency_proofs),
        cmocka_unit_test(test_tile_roots),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    kura_sha256_thread_done();
    return r;
}
