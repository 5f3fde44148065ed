/* c4gh-key.c — Crypt4GH key files (GA4GH Crypt4GH v1, key format "c4gh-v1").
 *
 * Private key blob, inside the PEM armour:
 *   "c4gh-v1" | string kdfname | [string rounds(4, BE) || salt, iff kdfname != "none"]
 *   | string ciphername | string data | [string comment]
 * where string = 2-byte big-endian length + bytes, and data is the 32-byte key (cipher "none")
 * or nonce(12) || ChaCha20-Poly1305(key)(32) || tag(16) (cipher "chacha20_poly1305", no AD).
 * Public key: the 32 raw bytes, armoured "CRYPT4GH PUBLIC KEY".
 *
 * KDFs: the reference implementations know scrypt (N=2^14, r=8, p=1, 16-byte salt, rounds
 * written as 0 and ignored on read), bcrypt (OpenSSH bcrypt_pbkdf, 100 rounds) and
 * pbkdf2_hmac_sha256. kura implements scrypt only: bcrypt_pbkdf is in no Debian C library and
 * crypto is not hand-written here; pbkdf2 is never written by the reference tools. Those keys
 * are refused with KURA_EUNSUPPORTED and a message naming the KDF.
 *
 * The parser checks the whole structure (every length against what remains) before it looks at
 * names, so garbage is KURA_ESYNTAX and only a well-formed key with an unknown algorithm is
 * KURA_EUNSUPPORTED. Scrypt's cost is fixed here, never taken from the file.
 */
#include "crypto-internal.h"

#include <string.h>

#define C4GH_MAGIC "c4gh-v1"
#define C4GH_MAGIC_LEN 7
#define C4GH_KDF_NONE "none"
#define C4GH_KDF_SCRYPT "scrypt"
#define C4GH_CIPHER_NONE "none"
#define C4GH_CIPHER_CHACHA "chacha20_poly1305"

#define C4GH_SCRYPT_N (UINT64_C(1) << 14)
#define C4GH_SCRYPT_R 8u
#define C4GH_SCRYPT_P 1u
#define C4GH_SALT_BYTES 16
#define C4GH_NONCE_BYTES crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define C4GH_TAG_BYTES crypto_aead_chacha20poly1305_ietf_ABYTES
#define C4GH_SEALED_BYTES (C4GH_NONCE_BYTES + KURA_C4GH_KEY_BYTES + C4GH_TAG_BYTES)

/* The largest blob kura writes: the scrypt form, 118 bytes. */
#define C4GH_BLOB_MAX 128
/* Its armoured text: 160 base64 characters in three lines plus the label lines. */
#define C4GH_TEXT_MAX 320

#define LABEL_PRIVATE "CRYPT4GH PRIVATE KEY"
#define LABEL_ENCRYPTED "CRYPT4GH ENCRYPTED PRIVATE KEY"
#define LABEL_PUBLIC "CRYPT4GH PUBLIC KEY"

_Static_assert(KURA_C4GH_KEY_BYTES == crypto_scalarmult_curve25519_BYTES, "X25519 key size");
_Static_assert(KURA_C4GH_KEY_BYTES == crypto_scalarmult_curve25519_SCALARBYTES, "X25519 scalar");
_Static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == 32, "ChaCha20-Poly1305 key size");
_Static_assert(C4GH_NONCE_BYTES == 12, "IETF nonce");

static const char *const private_labels[] = {
    LABEL_PRIVATE,
    LABEL_ENCRYPTED,
    /* Written by older versions of the EGA Python tool. */
    "ENCRYPTED PRIVATE KEY",
};

static const char *const public_labels[] = {
    LABEL_PUBLIC,
    /* SubjectPublicKeyInfo, as OpenSSL and the NeIC Go tool write X25519 keys (RFC 8410 §4). */
    "PUBLIC KEY",
};

static const uint8_t spki_x25519_prefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                             0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};
static const uint8_t spki_ed25519_prefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                              0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
#define SPKI_BYTES (sizeof(spki_x25519_prefix) + KURA_C4GH_KEY_BYTES)

/* ---- keys ---------------------------------------------------------------------------------- */

int kura_c4gh_keygen(uint8_t ret_pk[KURA_C4GH_KEY_BYTES], uint8_t ret_sk[KURA_C4GH_KEY_BYTES])
{
    uint8_t pk[KURA_C4GH_KEY_BYTES];
    uint8_t sk[KURA_C4GH_KEY_BYTES];
    KURA_CLEANUP_WIPE(sk);
    if (crypto_box_keypair(pk, sk) != 0) {
        return KURA_EINTERNAL;
    }
    memcpy(ret_pk, pk, sizeof(pk));
    memcpy(ret_sk, sk, sizeof(sk));
    return 0;
}

int kura_c4gh_public_from_secret(const uint8_t sk[KURA_C4GH_KEY_BYTES],
                                 uint8_t ret_pk[KURA_C4GH_KEY_BYTES])
{
    uint8_t pk[KURA_C4GH_KEY_BYTES];
    if (crypto_scalarmult_base(pk, sk) != 0) {
        return KURA_ECRYPTO;
    }
    memcpy(ret_pk, pk, sizeof(pk));
    return 0;
}

/* ---- encoding ------------------------------------------------------------------------------ */

struct writer {
    uint8_t *p;
    size_t cap;
    size_t len;
};

static void put(struct writer *w, const void *data, size_t len)
{
    /* The callers size the buffer for the fixed layouts they write; assert that. */
    if (w->len + len > w->cap) {
        w->cap = 0; /* poison: checked once at the end */
        return;
    }
    memcpy(w->p + w->len, data, len);
    w->len += len;
}

static void put_string(struct writer *w, const void *data, size_t len)
{
    uint8_t be[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    put(w, be, sizeof(be));
    put(w, data, len);
}

static void put_cstring(struct writer *w, const char *s)
{
    put_string(w, s, strlen(s));
}

/* Builds the armoured text of sk into text[C4GH_TEXT_MAX]. */
static int format_private(const uint8_t sk[KURA_C4GH_KEY_BYTES], const char *passphrase, char *text,
                          size_t text_cap, size_t *ret_len)
{
    uint8_t blob[C4GH_BLOB_MAX];
    KURA_CLEANUP_WIPE(blob);
    struct writer w = {.p = blob, .cap = sizeof(blob)};
    const char *label;

    put(&w, C4GH_MAGIC, C4GH_MAGIC_LEN);
    if (!passphrase) {
        put_cstring(&w, C4GH_KDF_NONE);
        put_cstring(&w, C4GH_CIPHER_NONE);
        put_string(&w, sk, KURA_C4GH_KEY_BYTES);
        label = LABEL_PRIVATE;
    } else {
        size_t plen = strnlen(passphrase, KURA_C4GH_PASSPHRASE_MAX + 1);
        if (plen == 0) {
            return -EINVAL;
        }
        if (plen > KURA_C4GH_PASSPHRASE_MAX) {
            return KURA_ETOOBIG;
        }
        /* rounds (4 bytes BE, 0: scrypt ignores it, as the reference tools write) || salt */
        uint8_t opts[4 + C4GH_SALT_BYTES] = {0};
        int r = kura_random(opts + 4, C4GH_SALT_BYTES);
        if (r < 0) {
            return r;
        }
        uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
        KURA_CLEANUP_WIPE(key);
        if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)passphrase, plen, opts + 4,
                                                  C4GH_SALT_BYTES, C4GH_SCRYPT_N, C4GH_SCRYPT_R,
                                                  C4GH_SCRYPT_P, key, sizeof(key)) != 0) {
            return -ENOMEM;
        }
        uint8_t sealed[C4GH_SEALED_BYTES];
        r = kura_random(sealed, C4GH_NONCE_BYTES);
        if (r < 0) {
            return r;
        }
        unsigned long long clen = 0;
        if (crypto_aead_chacha20poly1305_ietf_encrypt(sealed + C4GH_NONCE_BYTES, &clen, sk,
                                                      KURA_C4GH_KEY_BYTES, NULL, 0, NULL, sealed,
                                                      key) != 0 ||
            clen != KURA_C4GH_KEY_BYTES + C4GH_TAG_BYTES) {
            return KURA_EINTERNAL;
        }
        put_cstring(&w, C4GH_KDF_SCRYPT);
        put_string(&w, opts, sizeof(opts));
        put_cstring(&w, C4GH_CIPHER_CHACHA);
        put_string(&w, sealed, sizeof(sealed));
        label = LABEL_ENCRYPTED;
    }
    if (w.cap == 0) {
        return KURA_EINTERNAL;
    }
    return kura_crypto_pem_encode(label, blob, w.len, text, text_cap, ret_len);
}

int kura_c4gh_format_private_key(const uint8_t sk[KURA_C4GH_KEY_BYTES], const char *passphrase,
                                 struct kura_buf *ret_text)
{
    char text[C4GH_TEXT_MAX];
    KURA_CLEANUP_WIPE(text);
    size_t len = 0;
    int r = format_private(sk, passphrase, text, sizeof(text), &len);
    if (r < 0) {
        return r;
    }
    kura_buf_add(ret_text, text, len);
    return kura_buf_err(ret_text);
}

static int format_public(const uint8_t pk[KURA_C4GH_KEY_BYTES], char *text, size_t cap,
                         size_t *ret_len)
{
    return kura_crypto_pem_encode(LABEL_PUBLIC, pk, KURA_C4GH_KEY_BYTES, text, cap, ret_len);
}

int kura_c4gh_format_public_key(const uint8_t pk[KURA_C4GH_KEY_BYTES], struct kura_buf *ret_text)
{
    char text[C4GH_TEXT_MAX];
    size_t len = 0;
    int r = format_public(pk, text, sizeof(text), &len);
    if (r < 0) {
        return r;
    }
    kura_buf_add(ret_text, text, len);
    return kura_buf_err(ret_text);
}

int kura_c4gh_write_private_key(int dirfd, const char *name, const uint8_t sk[KURA_C4GH_KEY_BYTES],
                                const char *passphrase)
{
    char text[C4GH_TEXT_MAX];
    KURA_CLEANUP_WIPE(text);
    size_t len = 0;
    int r = format_private(sk, passphrase, text, sizeof(text), &len);
    if (r < 0) {
        return r;
    }
    return kura_file_write_atomic(dirfd, name, text, len, 0600);
}

int kura_c4gh_write_public_key(int dirfd, const char *name, const uint8_t pk[KURA_C4GH_KEY_BYTES])
{
    char text[C4GH_TEXT_MAX];
    size_t len = 0;
    int r = format_public(pk, text, sizeof(text), &len);
    if (r < 0) {
        return r;
    }
    return kura_file_write_atomic(dirfd, name, text, len, 0644);
}

/* ---- decoding ------------------------------------------------------------------------------ */

struct span {
    const uint8_t *ptr;
    size_t len;
};

struct cursor {
    const uint8_t *p;
    size_t left;
};

static bool take(struct cursor *c, size_t n, struct span *ret)
{
    if (c->left < n) {
        return false;
    }
    *ret = (struct span){c->p, n};
    c->p += n;
    c->left -= n;
    return true;
}

/* A key-file string: 2-byte big-endian length, then that many bytes (all of them present). */
static bool take_string(struct cursor *c, struct span *ret)
{
    struct span be;
    if (!take(c, 2, &be)) {
        return false;
    }
    size_t n = (size_t)be.ptr[0] << 8 | be.ptr[1];
    return take(c, n, ret);
}

static bool span_eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static int truncated(struct kura_buf *why)
{
    kura_crypto_why(why, "truncated Crypt4GH private key");
    return KURA_ESYNTAX;
}

static int unsupported(struct kura_buf *why, const char *what, struct span name)
{
    if (why) {
        kura_buf_addf(why, "unsupported %s ", what);
        kura_crypto_why_quoted(why, name.ptr, name.len);
    }
    return KURA_EUNSUPPORTED;
}

int kura_c4gh_decode_private_blob(const uint8_t *blob, size_t len, const char *passphrase,
                                  uint8_t *ret_sk, bool *ret_encrypted, struct kura_buf *reterr_why)
{
    struct cursor c = {blob, len};
    struct span magic, kdf, kdfopts = {NULL, 0}, cipher, data, comment;

    if (!take(&c, C4GH_MAGIC_LEN, &magic) || memcmp(magic.ptr, C4GH_MAGIC, C4GH_MAGIC_LEN) != 0) {
        kura_crypto_why(reterr_why, "not a Crypt4GH private key: no 'c4gh-v1' magic");
        return KURA_ESYNTAX;
    }
    if (!take_string(&c, &kdf)) {
        return truncated(reterr_why);
    }
    bool kdf_none = span_eq(kdf, C4GH_KDF_NONE);
    if (!kdf_none && !take_string(&c, &kdfopts)) {
        return truncated(reterr_why);
    }
    if (!take_string(&c, &cipher) || !take_string(&c, &data)) {
        return truncated(reterr_why);
    }
    if (c.left > 0) {
        /* The optional comment; kura ignores its content. */
        if (!take_string(&c, &comment)) {
            return truncated(reterr_why);
        }
        if (c.left > 0) {
            kura_crypto_why(reterr_why, "%zu stray bytes after the Crypt4GH private key", c.left);
            return KURA_ESYNTAX;
        }
    }

    bool cipher_none = span_eq(cipher, C4GH_CIPHER_NONE);
    if (kdf_none) {
        if (!cipher_none) {
            if (reterr_why) {
                kura_buf_adds(reterr_why, "kdf 'none' with cipher ");
                kura_crypto_why_quoted(reterr_why, cipher.ptr, cipher.len);
            }
            return KURA_ESYNTAX;
        }
        if (data.len != KURA_C4GH_KEY_BYTES) {
            kura_crypto_why(reterr_why, "unencrypted key of %zu bytes, expected %d", data.len,
                            KURA_C4GH_KEY_BYTES);
            return KURA_ESYNTAX;
        }
        if (ret_sk) {
            memcpy(ret_sk, data.ptr, KURA_C4GH_KEY_BYTES);
        }
        if (ret_encrypted) {
            *ret_encrypted = false;
        }
        return 0;
    }

    if (!span_eq(kdf, C4GH_KDF_SCRYPT)) {
        return unsupported(reterr_why, "KDF", kdf);
    }
    if (cipher_none) {
        kura_crypto_why(reterr_why, "kdf 'scrypt' with cipher 'none'");
        return KURA_ESYNTAX;
    }
    if (!span_eq(cipher, C4GH_CIPHER_CHACHA)) {
        return unsupported(reterr_why, "cipher", cipher);
    }
    if (kdfopts.len < 4 + 1 || kdfopts.len > 4 + KURA_C4GH_SALT_MAX) {
        kura_crypto_why(reterr_why, "KDF options of %zu bytes, expected 5 to %d", kdfopts.len,
                        4 + KURA_C4GH_SALT_MAX);
        return KURA_ESYNTAX;
    }
    if (data.len != C4GH_SEALED_BYTES) {
        kura_crypto_why(reterr_why, "encrypted key of %zu bytes, expected %d", data.len,
                        C4GH_SEALED_BYTES);
        return KURA_ESYNTAX;
    }
    if (!ret_sk) {
        if (ret_encrypted) {
            *ret_encrypted = true;
        }
        return 0;
    }
    if (!passphrase) {
        kura_crypto_why(reterr_why, "the private key is encrypted and no passphrase was given");
        return KURA_ECRYPTO;
    }
    size_t plen = strnlen(passphrase, KURA_C4GH_PASSPHRASE_MAX + 1);
    if (plen > KURA_C4GH_PASSPHRASE_MAX) {
        kura_crypto_why(reterr_why, "passphrase longer than %d bytes", KURA_C4GH_PASSPHRASE_MAX);
        return KURA_ETOOBIG;
    }

    /* The rounds field (kdfopts[0..4)) means nothing to scrypt; the reference tools write 0. */
    uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    KURA_CLEANUP_WIPE(key);
    uint8_t sk[KURA_C4GH_KEY_BYTES];
    KURA_CLEANUP_WIPE(sk);
    if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)passphrase, plen, kdfopts.ptr + 4,
                                              kdfopts.len - 4, C4GH_SCRYPT_N, C4GH_SCRYPT_R,
                                              C4GH_SCRYPT_P, key, sizeof(key)) != 0) {
        return -ENOMEM;
    }
    unsigned long long mlen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(sk, &mlen, NULL, data.ptr + C4GH_NONCE_BYTES,
                                                  data.len - C4GH_NONCE_BYTES, NULL, 0, data.ptr,
                                                  key) != 0 ||
        mlen != KURA_C4GH_KEY_BYTES) {
        kura_crypto_why(reterr_why, "wrong passphrase or damaged private key");
        return KURA_ECRYPTO;
    }
    memcpy(ret_sk, sk, sizeof(sk));
    if (ret_encrypted) {
        *ret_encrypted = true;
    }
    return 0;
}

static int parse_private(const char *text, size_t len, const char *passphrase, uint8_t *ret_sk,
                         bool *ret_encrypted, struct kura_buf *reterr_why)
{
    _cleanup_(kura_crypto_blob_release) struct kura_crypto_blob blob = {0};
    size_t label = 0;
    int r = kura_crypto_pem_decode(text, len, KURA_C4GH_KEY_FILE_MAX, private_labels,
                                   KURA_ARRAY_SIZE(private_labels), &label, &blob, reterr_why);
    if (r < 0) {
        return r;
    }
    return kura_c4gh_decode_private_blob(blob.ptr, blob.len, passphrase, ret_sk, ret_encrypted,
                                         reterr_why);
}

int kura_c4gh_parse_private_key(const char *text, size_t len, const char *passphrase,
                                uint8_t ret_sk[KURA_C4GH_KEY_BYTES], struct kura_buf *reterr_why)
{
    return parse_private(text, len, passphrase, ret_sk, NULL, reterr_why);
}

int kura_c4gh_private_key_is_encrypted(const char *text, size_t len, bool *ret_encrypted,
                                       struct kura_buf *reterr_why)
{
    return parse_private(text, len, NULL, NULL, ret_encrypted, reterr_why);
}

int kura_c4gh_parse_public_key(const char *text, size_t len, uint8_t ret_pk[KURA_C4GH_KEY_BYTES],
                               struct kura_buf *reterr_why)
{
    _cleanup_(kura_crypto_blob_release) struct kura_crypto_blob blob = {0};
    size_t label = 0;
    int r = kura_crypto_pem_decode(text, len, KURA_C4GH_KEY_FILE_MAX, public_labels,
                                   KURA_ARRAY_SIZE(public_labels), &label, &blob, reterr_why);
    if (r < 0) {
        return r;
    }
    if (label == 1) {
        if (blob.len == SPKI_BYTES &&
            memcmp(blob.ptr, spki_x25519_prefix, sizeof(spki_x25519_prefix)) == 0) {
            memcpy(ret_pk, blob.ptr + sizeof(spki_x25519_prefix), KURA_C4GH_KEY_BYTES);
            return 0;
        }
        if (blob.len == SPKI_BYTES &&
            memcmp(blob.ptr, spki_ed25519_prefix, sizeof(spki_ed25519_prefix)) == 0) {
            kura_crypto_why(reterr_why, "an Ed25519 public key; Crypt4GH needs an X25519 key");
        } else {
            kura_crypto_why(reterr_why, "not an X25519 public key");
        }
        return KURA_EUNSUPPORTED;
    }
    if (blob.len != KURA_C4GH_KEY_BYTES) {
        kura_crypto_why(reterr_why, "public key of %zu bytes, expected %d", blob.len,
                        KURA_C4GH_KEY_BYTES);
        return KURA_ESYNTAX;
    }
    memcpy(ret_pk, blob.ptr, KURA_C4GH_KEY_BYTES);
    return 0;
}

int kura_c4gh_read_private_key(int dirfd, const char *name, const char *passphrase,
                               uint8_t ret_sk[KURA_C4GH_KEY_BYTES], struct kura_buf *reterr_why)
{
    char *text = NULL;
    size_t len = 0;
    int r = kura_crypto_read_file(dirfd, name, NULL, KURA_C4GH_KEY_FILE_MAX,
                                  KURA_CRYPTO_FILE_PRIVATE, &text, &len, reterr_why);
    if (r < 0) {
        return r;
    }
    r = kura_c4gh_parse_private_key(text, len, passphrase, ret_sk, reterr_why);
    kura_crypto_file_free(KURA_CRYPTO_FILE_PRIVATE, text, len);
    return r;
}

int kura_c4gh_read_public_key(int dirfd, const char *name, uint8_t ret_pk[KURA_C4GH_KEY_BYTES],
                              struct kura_buf *reterr_why)
{
    char *text = NULL;
    size_t len = 0;
    int r = kura_crypto_read_file(dirfd, name, NULL, KURA_C4GH_KEY_FILE_MAX,
                                  KURA_CRYPTO_FILE_PUBLIC, &text, &len, reterr_why);
    if (r < 0) {
        return r;
    }
    r = kura_c4gh_parse_public_key(text, len, ret_pk, reterr_why);
    kura_crypto_file_free(KURA_CRYPTO_FILE_PUBLIC, text, len);
    return r;
}
