/* Unit tests for Crypt4GH headers and whole files: the NeIC Go implementation's vector, the EGA
 * Python implementation's keys, headers built and opened (packet keys cross-checked with
 * libsodium's crypto_kx), foreign and hostile packets, re-encryption, and an independent
 * decryptor (tests/tools/c4gh-pynacl.py, PyNaCl) reading what kura writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "test-helpers.h"

extern char **environ;

#define HDR KURA_C4GH_HEADER_ONE_BYTES

/* ---- helpers ------------------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

struct keypair {
    uint8_t pk[32];
    uint8_t sk[32];
};

static void keypair(struct keypair *k)
{
    assert_int_equal(kura_c4gh_keygen(k->pk, k->sk), 0);
}

/* A packet of method 0 from writer to reader_pk with any payload, its key derived with
 * crypto_kx (the writer as server: tx), independently of c4gh.c. Returns its length. */
static size_t craft_packet(uint8_t *out, const struct keypair *writer, const uint8_t reader_pk[32],
                           const uint8_t *payload, size_t len)
{
    uint8_t rx[32], tx[32];
    assert_int_equal(crypto_kx_server_session_keys(rx, tx, writer->pk, writer->sk, reader_pk), 0);
    size_t plen = 4 + 4 + 32 + 12 + len + 16;
    put32(out, (uint32_t)plen);
    put32(out + 4, 0);
    memcpy(out + 8, writer->pk, 32);
    randombytes_buf(out + 40, 12);
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(out + 52, NULL, payload, len, NULL,
                                                               0, NULL, out + 40, tx),
                     0);
    return plen;
}

static size_t craft_data_key_packet(uint8_t *out, const struct keypair *writer,
                                    const uint8_t reader_pk[32], const uint8_t key[32])
{
    uint8_t payload[40] = {0};
    memcpy(payload + 8, key, 32);
    return craft_packet(out, writer, reader_pk, payload, sizeof(payload));
}

/* "crypt4gh" | 1 | count */
static size_t preamble(uint8_t *out, uint32_t count)
{
    memcpy(out, "crypt4gh", 8);
    put32(out + 8, 1);
    put32(out + 12, count);
    return 16;
}

static int open_header(const uint8_t *h, size_t len, const uint8_t sk[32], uint8_t key[32],
                       size_t *hlen, char *why, size_t why_cap)
{
    struct kura_buf b = KURA_BUF_INIT(1024);
    int r = kura_c4gh_header_open(h, len, sk, key, hlen, &b);
    if (why) {
        (void)snprintf(why, why_cap, "%s", b.ptr ? b.ptr : "");
    }
    kura_buf_release(&b);
    return r;
}

static int memfd_with(const void *data, size_t len)
{
    int fd = memfd_create("c4gh-test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* The whole content of fd, from its start, into ret (max 64 MiB). */
static void memfd_read(int fd, struct kura_buf *ret)
{
    kura_buf_init(ret, 64u << 20);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    uint8_t buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        kura_buf_add(ret, buf, (size_t)n);
    }
    assert_int_equal(n, 0);
    assert_int_equal(kura_buf_err(ret), 0);
}

static int buf_add(void *ctx, const uint8_t *data, size_t len)
{
    kura_buf_add(ctx, data, len);
    return kura_buf_err(ctx);
}

static void vector_key(uint8_t sk[32])
{
    struct kura_buf text;
    test_read_data("crypt4gh/neicnordic/reader.sec", &text);
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, "password", sk, NULL), 0);
    kura_buf_release(&text);
}

/* ---- the interoperability vectors ---------------------------------------------------------- */

static void test_neicnordic_vector(void **state)
{
    (void)state;
    uint8_t sk[32];
    vector_key(sk);
    struct kura_buf enc, plain, out;
    test_read_data("crypt4gh/neicnordic/sample.txt.enc", &enc);
    test_read_data("crypt4gh/neicnordic/sample.txt", &plain);
    assert_int_equal(plain.len, 70225);

    /* The header alone. */
    uint8_t key[32];
    size_t hlen = 0;
    assert_int_equal(open_header((const uint8_t *)enc.ptr, enc.len, sk, key, &hlen, NULL, 0), 0);
    assert_int_equal(hlen, HDR);

    /* The whole file. */
    int in = memfd_with(enc.ptr, enc.len);
    int of = memfd_create("c4gh-out", MFD_CLOEXEC);
    assert_int_equal(kura_c4gh_decrypt_fd(in, of, sk, NULL), 0);
    memfd_read(of, &out);
    assert_int_equal(out.len, plain.len);
    assert_memory_equal(out.ptr, plain.ptr, plain.len);
    kura_buf_release(&out);
    (void)close(in);
    (void)close(of);

    /* Its second segment alone, as a range read of a foreign file (no binding). */
    uint64_t size = 0;
    assert_int_equal(kura_c4gh_plain_size(enc.len - hlen, &size), 0);
    assert_int_equal(size, plain.len);
    struct kura_c4gh_range g;
    assert_int_equal(kura_c4gh_range_map(size, 65536 + 100, size - 65536 - 100, &g), 0);
    struct kura_c4gh_reader *r = NULL;
    struct kura_c4gh_reader_opts opts = {.range = &g};
    kura_buf_init(&out, 1u << 20);
    assert_int_equal(kura_c4gh_reader_new(key, &opts, buf_add, &out, &r), 0);
    assert_int_equal(kura_c4gh_reader_feed(r, enc.ptr + hlen + g.cipher_offset, g.cipher_len), 0);
    assert_int_equal(kura_c4gh_reader_finish(r), 0);
    r = kura_c4gh_reader_free(r);
    assert_int_equal(out.len, g.len);
    assert_memory_equal(out.ptr, plain.ptr + 65536 + 100, g.len);
    kura_buf_release(&out);

    /* The wrong key. */
    uint8_t other[32], pk[32];
    assert_int_equal(kura_c4gh_keygen(pk, other), 0);
    char why[256];
    assert_int_equal(
        open_header((const uint8_t *)enc.ptr, enc.len, other, key, &hlen, why, sizeof(why)),
        KURA_ECRYPTO);
    assert_string_equal(why, "no Crypt4GH header packet opens with this key");
    kura_buf_release(&enc);
    kura_buf_release(&plain);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(key, sizeof(key));
}

static void test_ega_keys(void **state)
{
    (void)state;
    const char *pubs[] = {"crypt4gh/ega/alice.pub", "crypt4gh/ega/bob.pub"};
    for (size_t i = 0; i < 2; i++) {
        struct kura_buf text;
        uint8_t pk[32];
        test_read_data(pubs[i], &text);
        assert_int_equal(kura_c4gh_parse_public_key(text.ptr, text.len, pk, NULL), 0);
        kura_buf_release(&text);
    }
    struct kura_buf text, why = KURA_BUF_INIT(256);
    uint8_t sk[32];
    test_read_data("crypt4gh/ega/alice.sec", &text);
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, "alice", sk, &why),
                     KURA_EUNSUPPORTED);
    assert_string_equal(why.ptr, "unsupported KDF 'bcrypt'");
    kura_buf_release(&why);
    kura_buf_release(&text);
}

/* ---- building and opening ------------------------------------------------------------------ */

static void test_header_build_open(void **state)
{
    (void)state;
    struct keypair server, user;
    keypair(&server);
    keypair(&user);
    uint8_t key[32], got[32];
    randombytes_buf(key, sizeof(key));

    for (int ephemeral = 0; ephemeral < 2; ephemeral++) {
        uint8_t h[HDR];
        assert_int_equal(kura_c4gh_header_build(key, user.pk, ephemeral ? NULL : server.sk, h), 0);
        /* Layout: magic, version 1, one packet of 108 bytes, method 0, the writer's key. */
        static const uint8_t pre[] = {'c', 'r', 'y', 'p', 't', '4', 'g', 'h', 1, 0, 0, 0,
                                      1,   0,   0,   0,   108, 0,   0,   0,   0, 0, 0, 0};
        assert_memory_equal(h, pre, sizeof(pre));
        if (ephemeral) {
            assert_memory_not_equal(h + 24, server.pk, 32);
        } else {
            assert_memory_equal(h + 24, server.pk, 32);
        }
        size_t hlen = 0;
        assert_int_equal(open_header(h, sizeof(h), user.sk, got, &hlen, NULL, 0), 0);
        assert_int_equal(hlen, HDR);
        assert_memory_equal(got, key, 32);

        /* The packet, opened with crypto_kx's client key: type 0, method 0, the data key. */
        uint8_t rx[32], tx[32], payload[40];
        assert_int_equal(crypto_kx_client_session_keys(rx, tx, user.pk, user.sk, h + 24), 0);
        assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(payload, NULL, NULL, h + 68, 56,
                                                                   NULL, 0, h + 56, rx),
                         0);
        static const uint8_t zeros[8] = {0};
        assert_memory_equal(payload, zeros, 8);
        assert_memory_equal(payload + 8, key, 32);

        /* Followed by segments: the header length says where they start. */
        uint8_t more[HDR + 50];
        memcpy(more, h, HDR);
        memset(more + HDR, 0xab, 50);
        assert_int_equal(open_header(more, sizeof(more), user.sk, got, &hlen, NULL, 0), 0);
        assert_int_equal(hlen, HDR);

        /* Not for the server, even though it wrote it. */
        assert_int_equal(open_header(h, sizeof(h), server.sk, got, &hlen, NULL, 0), KURA_ECRYPTO);
    }
}

static void test_header_low_order_keys(void **state)
{
    (void)state;
    struct keypair user;
    keypair(&user);
    uint8_t key[32] = {7}, h[HDR], got[32];
    size_t hlen = 0;
    /* 0 and 1 are low-order points: the shared secret is zero whatever the scalar. */
    uint8_t low[2][32] = {{0}, {1}};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kura_c4gh_header_build(key, low[i], NULL, h), KURA_ECRYPTO);
        assert_int_equal(kura_c4gh_header_build(key, user.pk, NULL, h), 0);
        memcpy(h + 24, low[i], 32); /* the writer's key in the packet */
        assert_int_equal(open_header(h, sizeof(h), user.sk, got, &hlen, NULL, 0), KURA_ECRYPTO);
    }
}

static void test_header_foreign_packets(void **state)
{
    (void)state;
    struct keypair w, us, bob;
    keypair(&w);
    keypair(&us);
    keypair(&bob);
    uint8_t key[32], got[32];
    randombytes_buf(key, sizeof(key));
    uint8_t h[1024];
    size_t n = preamble(h, 4);
    n += craft_data_key_packet(h + n, &w, bob.pk, key); /* for bob */
    put32(h + n, 20);                                   /* a method nobody knows */
    put32(h + n + 4, 7);
    memset(h + n + 8, 0x55, 12);
    n += 20;
    uint8_t edit[16] = {1, 0, 0, 0, 1, 0, 0, 0, 5}; /* an edit list, for bob only */
    n += craft_packet(h + n, &w, bob.pk, edit, sizeof(edit));
    n += craft_data_key_packet(h + n, &w, us.pk, key); /* for us */
    size_t hlen = 0;
    assert_int_equal(open_header(h, n, us.sk, got, &hlen, NULL, 0), 0);
    assert_int_equal(hlen, n);
    assert_memory_equal(got, key, 32);
    /* Bob meets his edit list. */
    char why[256];
    assert_int_equal(open_header(h, n, bob.sk, got, &hlen, why, sizeof(why)), KURA_EUNSUPPORTED);
    assert_string_equal(why, "Crypt4GH data edit lists are not supported");

    /* Two packets for us with the same key: fine; with different keys: refused. */
    n = preamble(h, 2);
    n += craft_data_key_packet(h + n, &w, us.pk, key);
    n += craft_data_key_packet(h + n, &bob, us.pk, key);
    assert_int_equal(open_header(h, n, us.sk, got, &hlen, NULL, 0), 0);
    uint8_t key2[32];
    memcpy(key2, key, 32);
    key2[0] ^= 1;
    n = preamble(h, 2);
    n += craft_data_key_packet(h + n, &w, us.pk, key);
    n += craft_data_key_packet(h + n, &w, us.pk, key2);
    assert_int_equal(open_header(h, n, us.sk, got, &hlen, why, sizeof(why)), KURA_EUNSUPPORTED);
    assert_string_equal(why, "Crypt4GH header with several data keys");
    /* No packet at all: nothing for us. */
    n = preamble(h, 0);
    assert_int_equal(open_header(h, n, us.sk, got, &hlen, NULL, 0), KURA_ECRYPTO);
}

static void test_header_bad_payloads(void **state)
{
    (void)state;
    struct keypair w, us;
    keypair(&w);
    keypair(&us);
    uint8_t h[512], got[32];
    size_t hlen = 0;
    char why[256];
    struct {
        uint8_t payload[48];
        size_t len;
        int want;
        const char *why;
    } cases[] = {
        {{1, 0, 0, 0, 1, 0, 0, 0, 9},
         16,
         KURA_EUNSUPPORTED,
         "Crypt4GH data edit lists are not supported"},
        {{5}, 40, KURA_ESYNTAX, "Crypt4GH header packet 0: unknown packet type 5"},
        {{0, 0, 0, 0, 1},
         40,
         KURA_EUNSUPPORTED,
         "Crypt4GH data encryption method 1 is not supported"},
        {{0},
         39,
         KURA_ESYNTAX,
         "Crypt4GH header packet 0: data encryption parameters of the wrong "
         "length"},
        {{0},
         41,
         KURA_ESYNTAX,
         "Crypt4GH header packet 0: data encryption parameters of the wrong "
         "length"},
        {{0}, 6, KURA_ESYNTAX, "Crypt4GH header packet 0: truncated data encryption parameters"},
        {{0}, 2, KURA_ESYNTAX, "Crypt4GH header packet 0: payload shorter than its type"},
        {{0}, 0, KURA_ESYNTAX, "Crypt4GH header packet 0: payload shorter than its type"},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        size_t n = preamble(h, 1);
        n += craft_packet(h + n, &w, us.pk, cases[i].payload, cases[i].len);
        assert_int_equal(open_header(h, n, us.sk, got, &hlen, why, sizeof(why)), cases[i].want);
        assert_string_equal(why, cases[i].why);
    }
}

static void test_header_truncated_and_limits(void **state)
{
    (void)state;
    struct keypair us;
    keypair(&us);
    uint8_t key[32] = {3}, h[HDR], got[32];
    size_t hlen = 0;
    assert_int_equal(kura_c4gh_header_build(key, us.pk, NULL, h), 0);
    /* Every prefix, each in its own allocation so that ASan sees any read past the end. */
    for (size_t n = 0; n < HDR; n++) {
        uint8_t *p = kura_malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, h, n);
        assert_int_equal(open_header(p, n, us.sk, got, &hlen, NULL, 0), KURA_ESYNTAX);
        kura_free(p);
    }
    char why[256];
    uint8_t bad[HDR];
    memcpy(bad, h, HDR);
    bad[0] = 'C';
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, why, sizeof(why)), KURA_ESYNTAX);
    assert_string_equal(why, "not a Crypt4GH file (no 'crypt4gh' magic)");
    memcpy(bad, h, HDR);
    bad[8] = 2;
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, why, sizeof(why)), KURA_EUNSUPPORTED);
    assert_string_equal(why, "Crypt4GH version 2 is not supported");
    memcpy(bad, h, HDR);
    put32(bad + 12, KURA_C4GH_PACKETS_MAX + 1);
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, NULL, 0), KURA_ETOOBIG);
    memcpy(bad, h, HDR);
    put32(bad + 12, 2); /* a second packet that is not there */
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, NULL, 0), KURA_ESYNTAX);
    memcpy(bad, h, HDR);
    put32(bad + 16, 4); /* a packet shorter than its length and method */
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, NULL, 0), KURA_ESYNTAX);
    put32(bad + 16, 60); /* an X25519 packet shorter than key, nonce and tag */
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, NULL, 0), KURA_ESYNTAX);
    put32(bad + 16, 0xffffffffu);
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, NULL, 0), KURA_ETOOBIG);
    put32(bad + 16, 109); /* one byte more than there is */
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, NULL, 0), KURA_ESYNTAX);
    memcpy(bad, h, HDR);
    bad[HDR - 1] ^= 1; /* the tag: not for us any more */
    assert_int_equal(open_header(bad, HDR, us.sk, got, &hlen, NULL, 0), KURA_ECRYPTO);

    /* The most packets allowed, none for us (8-byte packets of an unknown method); and a header
     * over the size limit made of one long foreign packet. */
    size_t n = 16 + 8 * KURA_C4GH_PACKETS_MAX;
    uint8_t *big = kura_calloc(1, KURA_C4GH_HEADER_MAX + 16);
    assert_non_null(big);
    preamble(big, KURA_C4GH_PACKETS_MAX);
    for (size_t i = 0; i < KURA_C4GH_PACKETS_MAX; i++) {
        put32(big + 16 + 8 * i, 8);
        put32(big + 16 + 8 * i + 4, 9);
    }
    assert_int_equal(open_header(big, n, us.sk, got, &hlen, NULL, 0), KURA_ECRYPTO);
    preamble(big, 1);
    put32(big + 16, KURA_C4GH_HEADER_MAX - 16);
    put32(big + 20, 9);
    assert_int_equal(open_header(big, KURA_C4GH_HEADER_MAX, us.sk, got, &hlen, NULL, 0),
                     KURA_ECRYPTO);
    put32(big + 16, KURA_C4GH_HEADER_MAX - 15);
    assert_int_equal(open_header(big, KURA_C4GH_HEADER_MAX + 16, us.sk, got, &hlen, NULL, 0),
                     KURA_ETOOBIG);
    kura_free(big);
}

static void test_header_reencrypt(void **state)
{
    (void)state;
    struct keypair server, user, next;
    keypair(&server);
    keypair(&user);
    keypair(&next);
    uint8_t key[32], got[32];
    randombytes_buf(key, sizeof(key));

    /* A stream stored for the server. */
    struct kura_buf segs = KURA_BUF_INIT(1u << 20);
    struct kura_c4gh_writer *w = NULL;
    struct kura_c4gh_summary sum;
    assert_int_equal(kura_c4gh_writer_new(key, buf_add, &segs, &w), 0);
    assert_int_equal(kura_c4gh_writer_write(w, "hello, kura", 11), 0);
    assert_int_equal(kura_c4gh_writer_finish(w, &sum), 0);
    w = kura_c4gh_writer_free(w);
    uint8_t stored[HDR], exported[HDR], rotated[HDR];
    assert_int_equal(kura_c4gh_header_build(key, server.pk, server.sk, stored), 0);
    memset(key, 0, sizeof(key)); /* the caller forgets the key: only headers remain */

    /* Export to the user (written by the server's key); key rotation to a new server key. */
    assert_int_equal(
        kura_c4gh_header_reencrypt(stored, HDR, server.sk, user.pk, server.sk, exported, NULL), 0);
    assert_int_equal(
        kura_c4gh_header_reencrypt(stored, HDR, server.sk, next.pk, NULL, rotated, NULL), 0);
    size_t hlen = 0;
    assert_int_equal(open_header(exported, HDR, server.sk, got, &hlen, NULL, 0), KURA_ECRYPTO);
    assert_int_equal(open_header(rotated, HDR, server.sk, got, &hlen, NULL, 0), KURA_ECRYPTO);
    assert_int_equal(open_header(rotated, HDR, next.sk, got, &hlen, NULL, 0), 0);
    assert_int_equal(open_header(exported, HDR, user.sk, got, &hlen, NULL, 0), 0);

    /* The unchanged segments decrypt with the key from the new header. */
    struct kura_buf out = KURA_BUF_INIT(1024);
    struct kura_c4gh_reader *r = NULL;
    struct kura_c4gh_reader_opts opts = {.expect = &sum};
    assert_int_equal(kura_c4gh_reader_new(got, &opts, buf_add, &out, &r), 0);
    assert_int_equal(kura_c4gh_reader_feed(r, segs.ptr, segs.len), 0);
    assert_int_equal(kura_c4gh_reader_finish(r), 0);
    r = kura_c4gh_reader_free(r);
    assert_int_equal(out.len, 11);
    assert_memory_equal(out.ptr, "hello, kura", 11);
    kura_buf_release(&out);

    /* The wrong key, or bytes after the header. */
    uint8_t h2[HDR];
    assert_int_equal(kura_c4gh_header_reencrypt(stored, HDR, user.sk, user.pk, NULL, h2, NULL),
                     KURA_ECRYPTO);
    uint8_t longer[HDR + 1];
    memcpy(longer, stored, HDR);
    longer[HDR] = 0;
    struct kura_buf why = KURA_BUF_INIT(256);
    assert_int_equal(
        kura_c4gh_header_reencrypt(longer, sizeof(longer), server.sk, user.pk, NULL, h2, &why),
        KURA_ESYNTAX);
    assert_string_equal(why.ptr, "1 bytes after the Crypt4GH header");
    kura_buf_release(&why);
    kura_buf_release(&segs);
}

/* ---- whole files --------------------------------------------------------------------------- */

static void test_files(void **state)
{
    (void)state;
    struct keypair us;
    keypair(&us);
    const size_t sizes[] = {0, 1, 3 * 65536 + 5};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(sizes); i++) {
        uint8_t *plain = kura_malloc(sizes[i] + 1);
        assert_non_null(plain);
        randombytes_buf(plain, sizes[i]);
        int in = memfd_with(plain, sizes[i]);
        int c4gh = memfd_create("c4gh", MFD_CLOEXEC);
        struct kura_c4gh_summary sum;
        assert_int_equal(kura_c4gh_encrypt_fd(in, c4gh, us.pk, NULL, &sum), 0);
        assert_int_equal(sum.size, sizes[i]);
        struct kura_buf enc, out;
        memfd_read(c4gh, &enc);
        uint64_t csize = 0;
        assert_int_equal(kura_c4gh_cipher_size(sizes[i], &csize), 0);
        assert_int_equal(enc.len, HDR + csize);

        int of = memfd_create("out", MFD_CLOEXEC);
        assert_int_equal(lseek(c4gh, 0, SEEK_SET), 0);
        assert_int_equal(kura_c4gh_decrypt_fd(c4gh, of, us.sk, NULL), 0);
        memfd_read(of, &out);
        assert_int_equal(out.len, sizes[i]);
        assert_memory_equal(out.ptr, plain, sizes[i]);
        kura_buf_release(&out);
        (void)close(of);

        if (sizes[i] > 0) {
            /* A flipped bit in the last segment; a file cut inside its header. */
            enc.ptr[enc.len - 20] ^= 1;
            int bad = memfd_with(enc.ptr, enc.len);
            of = memfd_create("out", MFD_CLOEXEC);
            struct kura_buf why = KURA_BUF_INIT(256);
            assert_int_equal(kura_c4gh_decrypt_fd(bad, of, us.sk, &why), KURA_ECRYPTO);
            assert_non_null(strstr(why.ptr, "is damaged"));
            kura_buf_release(&why);
            (void)close(bad);
            (void)close(of);
            bad = memfd_with(enc.ptr, 100);
            of = memfd_create("out", MFD_CLOEXEC);
            assert_int_equal(kura_c4gh_decrypt_fd(bad, of, us.sk, NULL), KURA_ESYNTAX);
            (void)close(bad);
            (void)close(of);
        }
        kura_buf_release(&enc);
        (void)close(in);
        (void)close(c4gh);
        kura_free(plain);
    }
}

/* ---- the independent decryptor ------------------------------------------------------------- */

/* Runs tests/tools/c4gh-pynacl.py with args; returns its exit status. */
static int run_pynacl(const char *const *args, size_t n)
{
    const char *python = getenv("KURA_PYTHON");
    const char *script = getenv("KURA_C4GH_PYNACL");
    char *argv[16];
    assert_true(n + 3 <= KURA_ARRAY_SIZE(argv));
    argv[0] = (char *)python;
    argv[1] = (char *)script;
    for (size_t i = 0; i < n; i++) {
        argv[2 + i] = (char *)args[i];
    }
    argv[2 + n] = NULL;
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, python, NULL, NULL, argv, environ), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void test_pynacl_decrypts_kura_files(void **state)
{
    (void)state;
    if (!getenv("KURA_PYTHON") || !getenv("KURA_C4GH_PYNACL")) {
        skip(); /* meson did not find /usr/bin/python3 */
    }
    struct test_dir d;
    test_dir_new(&d);
    char in[128], enc[128], out[128], sk_hex[65];

    /* Its self-check: the NeIC vector, with the scrypt-protected key. */
    const char *data = getenv("KURA_TESTDATA");
    char vec[512], sec[512];
    (void)snprintf(vec, sizeof(vec), "%s/crypt4gh/neicnordic/sample.txt.enc", data);
    (void)snprintf(sec, sizeof(sec), "%s/crypt4gh/neicnordic/reader.sec", data);
    (void)snprintf(out, sizeof(out), "%s/vector.out", d.path);
    const char *self[] = {"--sk-file", sec, "--passphrase", "password", vec, out};
    assert_int_equal(run_pynacl(self, 6), 0);
    struct kura_buf got, want;
    test_read(d.fd, "vector.out", &got);
    test_read_data("crypt4gh/neicnordic/sample.txt", &want);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.ptr, want.ptr, want.len);
    kura_buf_release(&got);
    kura_buf_release(&want);

    /* Files kura writes, with the server's key and with an ephemeral one. */
    struct keypair server, user;
    keypair(&server);
    keypair(&user);
    kura_hex_encode(sk_hex, user.sk, 32);
    const size_t sizes[] = {0, 70000, 2 * 65536};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(sizes); i++) {
        uint8_t *plain = kura_malloc(sizes[i] + 1);
        assert_non_null(plain);
        randombytes_buf(plain, sizes[i]);
        test_write(d.fd, "plain", plain, sizes[i], 0600);
        (void)snprintf(in, sizeof(in), "%s/plain", d.path);
        (void)snprintf(enc, sizeof(enc), "%s/plain.c4gh", d.path);
        (void)snprintf(out, sizeof(out), "%s/plain.out", d.path);
        int ifd = open(in, O_RDONLY | O_CLOEXEC);
        int ofd = open(enc, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(ifd >= 0 && ofd >= 0);
        assert_int_equal(kura_c4gh_encrypt_fd(ifd, ofd, user.pk, i % 2 ? NULL : server.sk, NULL),
                         0);
        (void)close(ifd);
        (void)close(ofd);
        const char *args[] = {"--sk-hex", sk_hex, enc, out};
        assert_int_equal(run_pynacl(args, 4), 0);
        test_read(d.fd, "plain.out", &got);
        assert_int_equal(got.len, sizes[i]);
        assert_memory_equal(got.ptr, plain, sizes[i]);
        kura_buf_release(&got);
        /* And it can fail: the server's key does not open the user's file. */
        kura_hex_encode(sk_hex, server.sk, 32);
        assert_int_equal(run_pynacl(args, 4), 1);
        kura_hex_encode(sk_hex, user.sk, 32);
        kura_free(plain);
    }
    test_dir_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_neicnordic_vector),
        cmocka_unit_test(test_ega_keys),
        cmocka_unit_test(test_header_build_open),
        cmocka_unit_test(test_header_low_order_keys),
        cmocka_unit_test(test_header_foreign_packets),
        cmocka_unit_test(test_header_bad_payloads),
        cmocka_unit_test(test_header_truncated_and_limits),
        cmocka_unit_test(test_header_reencrypt),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_pynacl_decrypts_kura_files),
    };
    if (kura_crypto_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
