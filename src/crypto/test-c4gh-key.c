/* Unit tests for Crypt4GH key files: round trips, the reference implementations' files, and
 * hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-helpers.h"

/* ---- helpers ------------------------------------------------------------------------------- */

struct blob {
    uint8_t b[512];
    size_t n;
};

static void blob_add(struct blob *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof(w->b));
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void blob_string(struct blob *w, const void *p, size_t n)
{
    uint8_t be[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    blob_add(w, be, 2);
    blob_add(w, p, n);
}

static void blob_cstring(struct blob *w, const char *s)
{
    blob_string(w, s, strlen(s));
}

/* Armours a blob under label; returns the text in a fresh buffer. */
static void armour(const char *label, const uint8_t *der, size_t n, struct kura_buf *ret)
{
    char text[2048];
    size_t len = 0;
    assert_int_equal(kura_crypto_pem_encode(label, der, n, text, sizeof(text), &len), 0);
    kura_buf_init(ret, 1u << 16);
    kura_buf_add(ret, text, len);
    assert_int_equal(kura_buf_err(ret), 0);
}

static int parse_blob(const struct blob *w, const char *pass, uint8_t sk[32], struct kura_buf *why)
{
    struct kura_buf text;
    armour("CRYPT4GH PRIVATE KEY", w->b, w->n, &text);
    int r = kura_c4gh_parse_private_key(text.ptr, text.len, pass, sk, why);
    kura_buf_release(&text);
    return r;
}

/* The private key blob inside text. */
static void unarmour(const struct kura_buf *text, struct blob *ret)
{
    static const char *const labels[] = {"CRYPT4GH PRIVATE KEY", "CRYPT4GH ENCRYPTED PRIVATE KEY",
                                         "ENCRYPTED PRIVATE KEY", "CRYPT4GH PUBLIC KEY"};
    struct kura_crypto_blob b = {0};
    size_t label = 0;
    assert_int_equal(
        kura_crypto_pem_decode(text->ptr, text->len, 1u << 16, labels, 4, &label, &b, NULL), 0);
    assert_true(b.len <= sizeof(ret->b));
    memcpy(ret->b, b.ptr, b.len);
    ret->n = b.len;
    kura_crypto_blob_release(&b);
}

static bool is_parse_error(int r)
{
    return r == KURA_ESYNTAX || r == KURA_EUNSUPPORTED || r == KURA_ETOOBIG;
}

/* ---- generation and round trips ------------------------------------------------------------ */

static void test_keygen(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], pk2[32], pk3[32], sk3[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    assert_int_equal(kura_c4gh_public_from_secret(sk, pk2), 0);
    assert_memory_equal(pk, pk2, 32);
    assert_int_equal(kura_c4gh_keygen(pk3, sk3), 0);
    assert_memory_not_equal(sk, sk3, 32);
}

static void test_round_trip_none(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], sk2[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    struct kura_buf text = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_private_key(sk, NULL, &text), 0);
    assert_true(strncmp(text.ptr, "-----BEGIN CRYPT4GH PRIVATE KEY-----\n", 37) == 0);
    assert_non_null(strstr(text.ptr, "\n-----END CRYPT4GH PRIVATE KEY-----\n"));

    bool enc = true;
    assert_int_equal(kura_c4gh_private_key_is_encrypted(text.ptr, text.len, &enc, NULL), 0);
    assert_false(enc);
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, NULL, sk2, NULL), 0);
    assert_memory_equal(sk, sk2, 32);
    /* A passphrase given for an unencrypted key is ignored. */
    memset(sk2, 0, 32);
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, "whatever", sk2, NULL), 0);
    assert_memory_equal(sk, sk2, 32);

    /* Exactly the layout of the reference implementations. */
    struct blob b = {0};
    unarmour(&text, &b);
    assert_int_equal(b.n, 7 + 2 + 4 + 2 + 4 + 2 + 32);
    assert_memory_equal(b.b, "c4gh-v1\x00\x04none\x00\x04none\x00\x20", 21);
    assert_memory_equal(b.b + 21, sk, 32);
    kura_buf_release_wipe(&text);

    struct kura_buf pub = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_public_key(pk, &pub), 0);
    assert_true(strncmp(pub.ptr, "-----BEGIN CRYPT4GH PUBLIC KEY-----\n", 36) == 0);
    uint8_t pk2[32];
    assert_int_equal(kura_c4gh_parse_public_key(pub.ptr, pub.len, pk2, NULL), 0);
    assert_memory_equal(pk, pk2, 32);
    kura_buf_release(&pub);
}

static void test_round_trip_scrypt(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], sk2[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    struct kura_buf text = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_private_key(sk, "correct horse", &text), 0);
    assert_true(strncmp(text.ptr, "-----BEGIN CRYPT4GH ENCRYPTED PRIVATE KEY-----\n", 47) == 0);

    bool enc = false;
    assert_int_equal(kura_c4gh_private_key_is_encrypted(text.ptr, text.len, &enc, NULL), 0);
    assert_true(enc);
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, "correct horse", sk2, NULL),
                     0);
    assert_memory_equal(sk, sk2, 32);

    struct blob b = {0};
    unarmour(&text, &b);
    assert_int_equal(b.n, 7 + 2 + 6 + 2 + 20 + 2 + 17 + 2 + 60);
    assert_memory_equal(b.b, "c4gh-v1\x00\x06scrypt\x00\x14\x00\x00\x00\x00", 21);
    assert_memory_equal(b.b + 37, "\000\021chacha20_poly1305\000\074", 21);
    /* The key is not in the clear. */
    assert_null(memmem(b.b, b.n, sk, 32));

    /* Wrong passphrase: one generic error. */
    struct kura_buf why = KURA_BUF_INIT(256);
    uint8_t untouched[32];
    memset(untouched, 0xaa, 32);
    memcpy(sk2, untouched, 32);
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, "correct horsE", sk2, &why),
                     KURA_ECRYPTO);
    assert_string_equal(why.ptr, "wrong passphrase or damaged private key");
    assert_memory_equal(sk2, untouched, 32); /* ret_ written only on success */
    kura_buf_reset(&why);
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, "", sk2, &why), KURA_ECRYPTO);
    kura_buf_reset(&why);
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, NULL, sk2, &why),
                     KURA_ECRYPTO);
    assert_non_null(strstr(why.ptr, "no passphrase"));
    kura_buf_release(&why);

    /* Any bit flipped in the sealed key: KURA_ECRYPTO, never a wrong key. */
    for (size_t i = b.n - 60; i < b.n; i += 7) {
        b.b[i] ^= 0x01;
        assert_int_equal(parse_blob(&b, "correct horse", sk2, NULL), KURA_ECRYPTO);
        b.b[i] ^= 0x01;
    }

    /* The plain label older EGA tools write is accepted as well. */
    struct kura_buf relabelled;
    armour("ENCRYPTED PRIVATE KEY", b.b, b.n, &relabelled);
    assert_int_equal(
        kura_c4gh_parse_private_key(relabelled.ptr, relabelled.len, "correct horse", sk2, NULL), 0);
    assert_memory_equal(sk, sk2, 32);
    kura_buf_release(&relabelled);
    kura_buf_release_wipe(&text);
}

static void test_passphrase_limits(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    struct kura_buf text = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_private_key(sk, "", &text), -EINVAL);
    char long_pass[KURA_C4GH_PASSPHRASE_MAX + 2];
    memset(long_pass, 'p', sizeof(long_pass) - 1);
    long_pass[sizeof(long_pass) - 1] = '\0';
    assert_int_equal(kura_c4gh_format_private_key(sk, long_pass, &text), KURA_ETOOBIG);
    assert_int_equal(text.len, 0);
    /* Exactly at the limit works. */
    long_pass[KURA_C4GH_PASSPHRASE_MAX] = '\0';
    assert_int_equal(kura_c4gh_format_private_key(sk, long_pass, &text), 0);
    uint8_t sk2[32];
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, long_pass, sk2, NULL), 0);
    assert_memory_equal(sk, sk2, 32);
    long_pass[KURA_C4GH_PASSPHRASE_MAX] = 'p';
    assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len, long_pass, sk2, NULL),
                     KURA_ETOOBIG);
    kura_buf_release_wipe(&text);
}

static void test_files(void **state)
{
    (void)state;
    struct test_dir d;
    test_dir_new(&d);
    uint8_t pk[32], sk[32], pk2[32], sk2[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    assert_int_equal(kura_c4gh_write_private_key(d.fd, "k.sec", sk, "pw"), 0);
    assert_int_equal(kura_c4gh_write_public_key(d.fd, "k.pub", pk), 0);
    assert_int_equal(test_file_mode(d.fd, "k.sec"), 0600);
    assert_int_equal(test_file_mode(d.fd, "k.pub"), 0644);
    assert_int_equal(kura_c4gh_read_private_key(d.fd, "k.sec", "pw", sk2, NULL), 0);
    assert_memory_equal(sk, sk2, 32);
    assert_int_equal(kura_c4gh_read_public_key(d.fd, "k.pub", pk2, NULL), 0);
    assert_memory_equal(pk, pk2, 32);

    /* Missing file, symlink, FIFO, directory. */
    struct kura_buf why = KURA_BUF_INIT(256);
    assert_int_equal(kura_c4gh_read_public_key(d.fd, "nope.pub", pk2, &why), -ENOENT);
    assert_string_equal(why.ptr, "nope.pub: No such file or directory");
    assert_int_equal(symlinkat("k.pub", d.fd, "link.pub"), 0);
    assert_int_equal(kura_c4gh_read_public_key(d.fd, "link.pub", pk2, NULL), -ELOOP);
    assert_int_equal(mkfifoat(d.fd, "fifo.sec", 0600), 0);
    assert_int_equal(kura_c4gh_read_private_key(d.fd, "fifo.sec", NULL, sk2, NULL), -EINVAL);
    kura_buf_release(&why);

    /* An oversize file is refused before it is read. */
    char big[KURA_C4GH_KEY_FILE_MAX + 1];
    memset(big, ' ', sizeof(big));
    test_write(d.fd, "big.sec", big, sizeof(big), 0600);
    assert_int_equal(kura_c4gh_read_private_key(d.fd, "big.sec", NULL, sk2, NULL), KURA_ETOOBIG);
    test_dir_free(&d);
}

/* ---- the reference implementations' files ------------------------------------------------- */

static void test_neicnordic_reader(void **state)
{
    (void)state;
    struct kura_buf sec, pub;
    test_read_data("crypt4gh/neicnordic/reader.sec", &sec);
    test_read_data("crypt4gh/neicnordic/reader.pub", &pub);
    uint8_t sk[32], pk[32], derived[32];
    struct kura_buf why = KURA_BUF_INIT(256);
    bool enc = false;
    assert_int_equal(kura_c4gh_private_key_is_encrypted(sec.ptr, sec.len, &enc, NULL), 0);
    assert_true(enc);
    int r = kura_c4gh_parse_private_key(sec.ptr, sec.len, "password", sk, &why);
    if (r != 0) {
        fail_msg("reader.sec: %s: %s", kura_strerror(r), why.ptr ? why.ptr : "");
    }
    assert_int_equal(kura_c4gh_parse_public_key(pub.ptr, pub.len, pk, NULL), 0);
    assert_int_equal(crypto_scalarmult_base(derived, sk), 0);
    assert_memory_equal(derived, pk, 32);

    assert_int_equal(kura_c4gh_parse_private_key(sec.ptr, sec.len, "passwort", sk, &why),
                     KURA_ECRYPTO);

    /* The same file with CRLF line ends and trailing blanks still parses. */
    struct kura_buf crlf = KURA_BUF_INIT(4096);
    for (size_t i = 0; i < sec.len; i++) {
        if (sec.ptr[i] == '\n') {
            kura_buf_adds(&crlf, " \t\r\n");
        } else {
            kura_buf_addc(&crlf, sec.ptr[i]);
        }
    }
    kura_buf_adds(&crlf, "\r\n\r\n");
    uint8_t sk2[32];
    assert_int_equal(kura_c4gh_parse_private_key(crlf.ptr, crlf.len, "password", sk2, NULL), 0);
    assert_memory_equal(sk, sk2, 32);

    /* Its blob ends in an empty comment string; without it the key is still whole. */
    struct blob b = {0};
    unarmour(&sec, &b);
    assert_int_equal(b.n, 120);
    assert_memory_equal(b.b + 118, "\x00\x00", 2);
    b.n = 118;
    assert_int_equal(parse_blob(&b, "password", sk2, NULL), 0);
    assert_memory_equal(sk, sk2, 32);

    kura_buf_release(&crlf);
    kura_buf_release(&why);
    kura_buf_release(&sec);
    kura_buf_release(&pub);
}

static void test_ega_bcrypt_refused(void **state)
{
    (void)state;
    const char *files[] = {"crypt4gh/ega/alice.sec", "crypt4gh/ega/bob.sec"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(files); i++) {
        struct kura_buf sec;
        test_read_data(files[i], &sec);
        uint8_t sk[32];
        struct kura_buf why = KURA_BUF_INIT(256);
        assert_int_equal(kura_c4gh_parse_private_key(sec.ptr, sec.len, "alice", sk, &why),
                         KURA_EUNSUPPORTED);
        assert_string_equal(why.ptr, "unsupported KDF 'bcrypt'");
        kura_buf_reset(&why);
        bool enc = false;
        assert_int_equal(kura_c4gh_private_key_is_encrypted(sec.ptr, sec.len, &enc, &why),
                         KURA_EUNSUPPORTED);
        assert_string_equal(why.ptr, "unsupported KDF 'bcrypt'");
        kura_buf_release(&why);
        kura_buf_release(&sec);
    }
}

static void test_public_keys_of_every_implementation(void **state)
{
    (void)state;
    struct {
        const char *file;
        const char *hex;
    } keys[] = {
        {"crypt4gh/ega/alice.pub",
         "a321119d6021cd5e0c021f57224d310f80be9cda76b692d4896b50a154bfc41e"},
        {"crypt4gh/ega/bob.pub",
         "25719eeefa4d66958486cc6b204fe1f37c6cb7bb10fb620da5aa221a3b4b2038"},
        {"crypt4gh/neicnordic/reader.pub",
         "cbaeec90614aa9837ed27fb53f4172c586bf9473d45a296837891daf1ec9dc10"},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(keys); i++) {
        struct kura_buf pub;
        test_read_data(keys[i].file, &pub);
        uint8_t pk[32], want[32];
        test_hex_decode(keys[i].hex, want, 32);
        assert_int_equal(kura_c4gh_parse_public_key(pub.ptr, pub.len, pk, NULL), 0);
        assert_memory_equal(pk, want, 32);
        kura_buf_release(&pub);
    }
}

static void test_public_key_spki(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], out[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    uint8_t spki[44];
    test_hex_decode("302a300506032b656e032100", spki, 12);
    memcpy(spki + 12, pk, 32);
    struct kura_buf text;
    armour("PUBLIC KEY", spki, sizeof(spki), &text);
    assert_int_equal(kura_c4gh_parse_public_key(text.ptr, text.len, out, NULL), 0);
    assert_memory_equal(out, pk, 32);
    kura_buf_release(&text);

    /* The Ed25519 OID, a short key, a long one: refused. */
    struct kura_buf why = KURA_BUF_INIT(256);
    test_hex_decode("302a300506032b6570032100", spki, 12);
    armour("PUBLIC KEY", spki, sizeof(spki), &text);
    assert_int_equal(kura_c4gh_parse_public_key(text.ptr, text.len, out, &why), KURA_EUNSUPPORTED);
    assert_string_equal(why.ptr, "an Ed25519 public key; Crypt4GH needs an X25519 key");
    kura_buf_release(&text);
    test_hex_decode("302a300506032b656e032100", spki, 12);
    armour("PUBLIC KEY", spki, sizeof(spki) - 1, &text);
    assert_int_equal(kura_c4gh_parse_public_key(text.ptr, text.len, out, NULL), KURA_EUNSUPPORTED);
    kura_buf_release(&text);
    kura_buf_release(&why);

    /* The public key of an X25519 key made by OpenSSL. */
    const char *openssl = getenv("KURA_OPENSSL");
    if (!openssl) {
        return;
    }
    struct test_dir d;
    test_dir_new(&d);
    char cmd[512];
    (void)snprintf(cmd, sizeof(cmd),
                   "'%s' genpkey -algorithm x25519 2>/dev/null | '%s' pkey -pubout > '%s/x.pub'",
                   openssl, openssl, d.path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(kura_c4gh_read_public_key(d.fd, "x.pub", out, NULL), 0);
    test_dir_free(&d);
}

/* ---- hostile input ------------------------------------------------------------------------- */

static void test_truncated_text(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], out[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    const char *passes[] = {NULL, "pw"};
    for (size_t p = 0; p < KURA_ARRAY_SIZE(passes); p++) {
        struct kura_buf text = KURA_BUF_INIT(4096);
        assert_int_equal(kura_c4gh_format_private_key(sk, passes[p], &text), 0);
        /* Every truncation that removes more than the final newline fails, and cleanly. */
        for (size_t n = 0; n + 1 < text.len; n++) {
            char *copy = kura_malloc(n ? n : 1); /* exact size: ASan sees any overread */
            assert_non_null(copy);
            memcpy(copy, text.ptr, n);
            int r = kura_c4gh_parse_private_key(copy, n, passes[p], out, NULL);
            if (r != KURA_ESYNTAX) {
                fail_msg("truncated at %zu: %d (%s)", n, r, kura_strerror(r));
            }
            kura_free(copy);
        }
        assert_int_equal(kura_c4gh_parse_private_key(text.ptr, text.len - 1, passes[p], out, NULL),
                         0);
        kura_buf_release_wipe(&text);
    }

    struct kura_buf pub = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_public_key(pk, &pub), 0);
    for (size_t n = 0; n + 1 < pub.len; n++) {
        char *copy = kura_malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, pub.ptr, n);
        assert_int_equal(kura_c4gh_parse_public_key(copy, n, out, NULL), KURA_ESYNTAX);
        kura_free(copy);
    }
    kura_buf_release(&pub);
}

static void test_truncated_blob(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], out[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    struct kura_buf text = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_private_key(sk, NULL, &text), 0);
    struct blob b = {0};
    unarmour(&text, &b);
    kura_buf_release_wipe(&text);
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *copy = kura_malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, b.b, n);
        assert_int_equal(kura_c4gh_decode_private_blob(copy, n, NULL, out, NULL, NULL),
                         KURA_ESYNTAX);
        kura_free(copy);
    }

    /* reader.sec's blob: only the cut before the (empty) comment is whole. */
    struct kura_buf sec;
    test_read_data("crypt4gh/neicnordic/reader.sec", &sec);
    unarmour(&sec, &b);
    kura_buf_release(&sec);
    for (size_t n = 0; n <= b.n; n++) {
        uint8_t *copy = kura_malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, b.b, n);
        bool enc = false;
        int r = kura_c4gh_decode_private_blob(copy, n, NULL, NULL, &enc, NULL);
        if (n == 118 || n == 120) {
            assert_int_equal(r, 0);
            assert_true(enc);
        } else if (r != KURA_ESYNTAX) {
            fail_msg("reader.sec blob cut at %zu: %d", n, r);
        }
        kura_free(copy);
    }
}

static void test_lengths_past_the_end(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], out[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    struct kura_buf text = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_private_key(sk, "pw", &text), 0);
    struct blob b = {0};
    unarmour(&text, &b);
    kura_buf_release_wipe(&text);
    /* The length fields of the scrypt blob: kdfname, kdfoptions, ciphername, data. */
    const size_t at[] = {7, 15, 37, 56};
    const uint16_t values[] = {0xffff, 0x8000, 0x0100};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(at); i++) {
        for (size_t v = 0; v < KURA_ARRAY_SIZE(values); v++) {
            struct blob m = b;
            m.b[at[i]] = (uint8_t)(values[v] >> 8);
            m.b[at[i] + 1] = (uint8_t)values[v];
            int r = parse_blob(&m, "pw", out, NULL);
            if (!is_parse_error(r)) {
                fail_msg("length at %zu = %u: %d", at[i], values[v], r);
            }
        }
        /* Off by one in both directions as well. */
        for (int delta = -1; delta <= 1; delta += 2) {
            struct blob m = b;
            m.b[at[i] + 1] = (uint8_t)(m.b[at[i] + 1] + delta);
            int r = parse_blob(&m, "pw", out, NULL);
            if (!is_parse_error(r)) {
                fail_msg("length at %zu %+d: %d", at[i], delta, r);
            }
        }
    }
}

static void test_structure_errors(void **state)
{
    (void)state;
    uint8_t sk[32] = {1, 2, 3};
    uint8_t out[32];
    uint8_t opts[20] = {0};
    uint8_t sealed[60] = {0};
    struct kura_buf why = KURA_BUF_INIT(256);

    struct blob w = {0};
    blob_add(&w, "c4gh-v2", 7);
    blob_cstring(&w, "none");
    assert_int_equal(parse_blob(&w, NULL, out, &why), KURA_ESYNTAX);
    assert_non_null(strstr(why.ptr, "magic"));

    /* kdf none with a cipher, and the reverse. */
    w = (struct blob){0};
    blob_add(&w, "c4gh-v1", 7);
    blob_cstring(&w, "none");
    blob_cstring(&w, "chacha20_poly1305");
    blob_string(&w, sk, 32);
    kura_buf_reset(&why);
    assert_int_equal(parse_blob(&w, NULL, out, &why), KURA_ESYNTAX);
    assert_string_equal(why.ptr, "kdf 'none' with cipher 'chacha20_poly1305'");

    w = (struct blob){0};
    blob_add(&w, "c4gh-v1", 7);
    blob_cstring(&w, "scrypt");
    blob_string(&w, opts, 20);
    blob_cstring(&w, "none");
    blob_string(&w, sk, 32);
    assert_int_equal(parse_blob(&w, "pw", out, NULL), KURA_ESYNTAX);

    /* Unencrypted key of the wrong size. */
    w = (struct blob){0};
    blob_add(&w, "c4gh-v1", 7);
    blob_cstring(&w, "none");
    blob_cstring(&w, "none");
    blob_string(&w, sk, 31);
    assert_int_equal(parse_blob(&w, NULL, out, NULL), KURA_ESYNTAX);

    /* A comment is allowed, anything after it is not. */
    w = (struct blob){0};
    blob_add(&w, "c4gh-v1", 7);
    blob_cstring(&w, "none");
    blob_cstring(&w, "none");
    blob_string(&w, sk, 32);
    blob_cstring(&w, "alice@example.org");
    assert_int_equal(parse_blob(&w, NULL, out, NULL), 0);
    assert_memory_equal(out, sk, 32);
    blob_add(&w, "x", 1);
    kura_buf_reset(&why);
    assert_int_equal(parse_blob(&w, NULL, out, &why), KURA_ESYNTAX);
    assert_string_equal(why.ptr, "1 stray bytes after the Crypt4GH private key");

    /* Other KDFs and ciphers: unsupported, and named. */
    const char *kdfs[] = {"pbkdf2_hmac_sha256", "bcrypt", "argon2id", "Scrypt"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(kdfs); i++) {
        w = (struct blob){0};
        blob_add(&w, "c4gh-v1", 7);
        blob_cstring(&w, kdfs[i]);
        blob_string(&w, opts, 20);
        blob_cstring(&w, "chacha20_poly1305");
        blob_string(&w, sealed, 60);
        kura_buf_reset(&why);
        assert_int_equal(parse_blob(&w, "pw", out, &why), KURA_EUNSUPPORTED);
        char want[64];
        (void)snprintf(want, sizeof(want), "unsupported KDF '%s'", kdfs[i]);
        assert_string_equal(why.ptr, want);
    }
    w = (struct blob){0};
    blob_add(&w, "c4gh-v1", 7);
    blob_cstring(&w, "scrypt");
    blob_string(&w, opts, 20);
    blob_cstring(&w, "aes256_gcm");
    blob_string(&w, sealed, 60);
    kura_buf_reset(&why);
    assert_int_equal(parse_blob(&w, "pw", out, &why), KURA_EUNSUPPORTED);
    assert_string_equal(why.ptr, "unsupported cipher 'aes256_gcm'");

    /* A hostile KDF name is quoted with its control bytes escaped, and cut. */
    w = (struct blob){0};
    blob_add(&w, "c4gh-v1", 7);
    uint8_t evil[300];
    memset(evil, '\n', sizeof(evil));
    blob_string(&w, evil, sizeof(evil));
    blob_string(&w, opts, 20);
    blob_cstring(&w, "chacha20_poly1305");
    blob_string(&w, sealed, 60);
    kura_buf_reset(&why);
    assert_int_equal(parse_blob(&w, "pw", out, &why), KURA_EUNSUPPORTED);
    assert_null(strchr(why.ptr, '\n'));
    assert_true(why.len < 200);

    /* KDF options too short (no salt) or too long; sealed key of the wrong size. */
    size_t opt_lens[] = {0, 3, 4, 4 + KURA_C4GH_SALT_MAX + 1};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(opt_lens); i++) {
        uint8_t big_opts[128] = {0};
        w = (struct blob){0};
        blob_add(&w, "c4gh-v1", 7);
        blob_cstring(&w, "scrypt");
        blob_string(&w, big_opts, opt_lens[i]);
        blob_cstring(&w, "chacha20_poly1305");
        blob_string(&w, sealed, 60);
        assert_int_equal(parse_blob(&w, "pw", out, NULL), KURA_ESYNTAX);
    }
    w = (struct blob){0};
    blob_add(&w, "c4gh-v1", 7);
    blob_cstring(&w, "scrypt");
    blob_string(&w, opts, 20);
    blob_cstring(&w, "chacha20_poly1305");
    blob_string(&w, sealed, 59);
    assert_int_equal(parse_blob(&w, "pw", out, NULL), KURA_ESYNTAX);

    /* An all-zero sealed key with a valid structure: the AEAD refuses it. */
    w = (struct blob){0};
    blob_add(&w, "c4gh-v1", 7);
    blob_cstring(&w, "scrypt");
    blob_string(&w, opts, 20);
    blob_cstring(&w, "chacha20_poly1305");
    blob_string(&w, sealed, 60);
    assert_int_equal(parse_blob(&w, "pw", out, NULL), KURA_ECRYPTO);

    kura_buf_release(&why);
}

static void test_bad_text(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], out[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    struct kura_buf text = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_private_key(sk, NULL, &text), 0);
    char copy[512];
    assert_true(text.len < sizeof(copy));

    /* Bad base64 at every position of the body. */
    const char *body = strchr(text.ptr, '\n') + 1;
    const char *body_end = strstr(body, "-----END");
    for (const char *p = body; p < body_end; p++) {
        if (*p == '\n') {
            continue;
        }
        memcpy(copy, text.ptr, text.len);
        copy[p - text.ptr] = '*';
        assert_int_equal(kura_c4gh_parse_private_key(copy, text.len, NULL, out, NULL),
                         KURA_ESYNTAX);
        /* A NUL byte in the same place. */
        copy[p - text.ptr] = '\0';
        assert_int_equal(kura_c4gh_parse_private_key(copy, text.len, NULL, out, NULL),
                         KURA_ESYNTAX);
    }

    /* No armour at all: the bare base64. */
    size_t body_len = (size_t)(body_end - body);
    assert_int_equal(kura_c4gh_parse_private_key(body, body_len, NULL, out, NULL), KURA_ESYNTAX);

    /* A public key where a private key belongs, and the reverse. */
    struct kura_buf pub = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_public_key(pk, &pub), 0);
    assert_int_equal(kura_c4gh_parse_private_key(pub.ptr, pub.len, NULL, out, NULL),
                     KURA_EUNSUPPORTED);
    assert_int_equal(kura_c4gh_parse_public_key(text.ptr, text.len, out, NULL), KURA_EUNSUPPORTED);

    /* A public key of the wrong size. */
    struct kura_buf short_pub;
    armour("CRYPT4GH PUBLIC KEY", pk, 31, &short_pub);
    assert_int_equal(kura_c4gh_parse_public_key(short_pub.ptr, short_pub.len, out, NULL),
                     KURA_ESYNTAX);
    kura_buf_release(&short_pub);

    /* Oversize: a valid key padded with blank lines past the cap. */
    struct kura_buf big = KURA_BUF_INIT(KURA_C4GH_KEY_FILE_MAX + 4096);
    kura_buf_addstr(&big, kura_buf_str(&text));
    while (big.len <= KURA_C4GH_KEY_FILE_MAX) {
        kura_buf_addc(&big, '\n');
    }
    assert_int_equal(kura_buf_err(&big), 0);
    struct kura_buf why = KURA_BUF_INIT(256);
    assert_int_equal(kura_c4gh_parse_private_key(big.ptr, big.len, NULL, out, &why), KURA_ETOOBIG);
    assert_string_equal(why.ptr, "key file larger than 16384 bytes");
    assert_int_equal(kura_c4gh_parse_public_key(big.ptr, big.len, out, NULL), KURA_ETOOBIG);
    /* One byte less is fine. */
    assert_int_equal(kura_c4gh_parse_private_key(big.ptr, KURA_C4GH_KEY_FILE_MAX, NULL, out, NULL),
                     0);

    kura_buf_release(&why);
    kura_buf_release(&big);
    kura_buf_release(&pub);
    kura_buf_release_wipe(&text);
}

/* Random bytes and random mutations of a valid key: never a crash, never success by accident
 * for the garbage. A poor man's fuzzer, run in every test build; fuzz-c4gh-key.c goes further. */
static void test_random_garbage(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], out[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    struct kura_buf text = KURA_BUF_INIT(4096);
    assert_int_equal(kura_c4gh_format_private_key(sk, NULL, &text), 0);
    struct blob b = {0};
    unarmour(&text, &b);
    for (int i = 0; i < 2000; i++) {
        uint8_t buf[200];
        size_t n = randombytes_uniform(sizeof(buf));
        randombytes_buf(buf, n);
        bool enc;
        int r = kura_c4gh_decode_private_blob(buf, n, NULL, NULL, &enc, NULL);
        assert_true(r < 0);
        r = kura_c4gh_decode_private_blob(buf, n, NULL, out, NULL, NULL);
        assert_true(r < 0);

        struct blob m = b;
        m.b[randombytes_uniform((uint32_t)m.n)] = (uint8_t)randombytes_uniform(256);
        r = kura_c4gh_decode_private_blob(m.b, m.n, NULL, out, NULL, NULL);
        assert_true(r == 0 || is_parse_error(r));
    }
    kura_buf_release_wipe(&text);
}

int main(void)
{
    if (kura_crypto_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen),
        cmocka_unit_test(test_round_trip_none),
        cmocka_unit_test(test_round_trip_scrypt),
        cmocka_unit_test(test_passphrase_limits),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_neicnordic_reader),
        cmocka_unit_test(test_ega_bcrypt_refused),
        cmocka_unit_test(test_public_keys_of_every_implementation),
        cmocka_unit_test(test_public_key_spki),
        cmocka_unit_test(test_truncated_text),
        cmocka_unit_test(test_truncated_blob),
        cmocka_unit_test(test_lengths_past_the_end),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_bad_text),
        cmocka_unit_test(test_random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
