/* sign.c — Ed25519 signing keys (RFC 8032) in the files OpenSSL and everyone else read.
 *
 * Private key: PKCS#8 OneAsymmetricKey v1 (RFC 5958) with the Ed25519 algorithm identifier and
 * no parameters (RFC 8410 §3), the seed wrapped in an OCTET STRING inside the privateKey OCTET
 * STRING (RFC 8410 §7). Without optional attributes or public key that DER is always 48 bytes:
 *   30 2e  02 01 00  30 05 06 03 2b 65 70  04 22 04 20  <32-byte seed>
 * Public key: SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 8410 §4), always 44 bytes:
 *   30 2a  30 05 06 03 2b 65 70  03 21 00  <32-byte key>
 * Since both encodings are fixed, reading compares the prefix byte for byte instead of parsing
 * ASN.1: anything else (another algorithm, attributes, an embedded public key, a v2 key) is not
 * a key kura wrote and is refused.
 */
#include "crypto-internal.h"

#include <string.h>

#define LABEL_PKCS8 "PRIVATE KEY"
#define LABEL_SPKI "PUBLIC KEY"
#define SEED_BYTES crypto_sign_ed25519_SEEDBYTES

static const uint8_t pkcs8_prefix[] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                       0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
static const uint8_t spki_prefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                      0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

#define PKCS8_BYTES (sizeof(pkcs8_prefix) + SEED_BYTES)
#define SPKI_BYTES (sizeof(spki_prefix) + KURA_SIGN_PUBLIC_KEY_BYTES)
/* 48 bytes are one 64-character line: the armoured files are under 128 bytes. */
#define SIGN_TEXT_MAX 160

_Static_assert(KURA_SIGN_PUBLIC_KEY_BYTES == crypto_sign_ed25519_PUBLICKEYBYTES, "Ed25519 pk");
_Static_assert(KURA_SIGN_BYTES == crypto_sign_ed25519_BYTES, "Ed25519 signature");
_Static_assert(SEED_BYTES == 32, "Ed25519 seed");

struct kura_sign_key {
    uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES]; /* libsodium form: seed || pk */
    uint8_t pk[crypto_sign_ed25519_PUBLICKEYBYTES];
};

static const char *const pkcs8_labels[] = {LABEL_PKCS8};
static const char *const spki_labels[] = {LABEL_SPKI};

/* Builds a key from a seed in fresh guarded memory, then makes it read-only. */
static int key_from_seed(const uint8_t seed[SEED_BYTES], struct kura_sign_key **ret)
{
    struct kura_sign_key *k = kura_crypto_secure_alloc(sizeof(*k));
    if (!k) {
        return -ENOMEM;
    }
    if (crypto_sign_ed25519_seed_keypair(k->pk, k->sk, seed) != 0) {
        sodium_free(k);
        return KURA_EINTERNAL;
    }
    (void)sodium_mprotect_readonly(k);
    *ret = k;
    return 0;
}

int kura_sign_key_generate(struct kura_sign_key **ret)
{
    uint8_t seed[SEED_BYTES];
    KURA_CLEANUP_WIPE(seed);
    int r = kura_random(seed, sizeof(seed));
    if (r < 0) {
        return r;
    }
    return key_from_seed(seed, ret);
}

struct kura_sign_key *kura_sign_key_free(struct kura_sign_key *key)
{
    if (key) {
        sodium_free(key); /* lifts the protection, wipes, unmaps */
    }
    return NULL;
}

void kura_sign_key_freep(struct kura_sign_key **key)
{
    *key = kura_sign_key_free(*key);
}

const uint8_t *kura_sign_key_public(const struct kura_sign_key *key)
{
    return key->pk;
}

int kura_sign_key_parse(const char *text, size_t len, struct kura_sign_key **ret,
                        struct kura_buf *reterr_why)
{
    _cleanup_(kura_crypto_blob_release) struct kura_crypto_blob der = {0};
    size_t label = 0;
    int r = kura_crypto_pem_decode(text, len, KURA_SIGN_KEY_FILE_MAX, pkcs8_labels,
                                   KURA_ARRAY_SIZE(pkcs8_labels), &label, &der, reterr_why);
    if (r < 0) {
        return r;
    }
    if (der.len != PKCS8_BYTES || memcmp(der.ptr, pkcs8_prefix, sizeof(pkcs8_prefix)) != 0) {
        kura_crypto_why(reterr_why, "not an Ed25519 PKCS#8 private key as kura writes it");
        return KURA_EUNSUPPORTED;
    }
    return key_from_seed(der.ptr + sizeof(pkcs8_prefix), ret);
}

int kura_sign_key_read(int dirfd, const char *name, struct kura_sign_key **ret,
                       struct kura_buf *reterr_why)
{
    char *text = NULL;
    size_t len = 0;
    int r = kura_crypto_read_file(dirfd, name, NULL, KURA_SIGN_KEY_FILE_MAX,
                                  KURA_CRYPTO_FILE_PRIVATE, &text, &len, reterr_why);
    if (r < 0) {
        return r;
    }
    r = kura_sign_key_parse(text, len, ret, reterr_why);
    kura_crypto_file_free(KURA_CRYPTO_FILE_PRIVATE, text, len);
    return r;
}

static int format_public(const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES], char *text, size_t cap,
                         size_t *ret_len)
{
    uint8_t der[SPKI_BYTES];
    memcpy(der, spki_prefix, sizeof(spki_prefix));
    memcpy(der + sizeof(spki_prefix), pk, KURA_SIGN_PUBLIC_KEY_BYTES);
    return kura_crypto_pem_encode(LABEL_SPKI, der, sizeof(der), text, cap, ret_len);
}

int kura_sign_key_write(const struct kura_sign_key *key, int dirfd, const char *key_name,
                        const char *pub_name)
{
    uint8_t der[PKCS8_BYTES];
    KURA_CLEANUP_WIPE(der);
    char text[SIGN_TEXT_MAX];
    KURA_CLEANUP_WIPE(text);
    size_t len = 0;

    memcpy(der, pkcs8_prefix, sizeof(pkcs8_prefix));
    /* libsodium's secret key starts with the seed (crypto_sign_ed25519_sk_to_seed). */
    memcpy(der + sizeof(pkcs8_prefix), key->sk, SEED_BYTES);
    int r = kura_crypto_pem_encode(LABEL_PKCS8, der, sizeof(der), text, sizeof(text), &len);
    if (r < 0) {
        return r;
    }
    r = kura_file_write_atomic(dirfd, key_name, text, len, 0600);
    if (r < 0 || !pub_name) {
        return r;
    }
    r = format_public(key->pk, text, sizeof(text), &len);
    if (r < 0) {
        return r;
    }
    return kura_file_write_atomic(dirfd, pub_name, text, len, 0644);
}

int kura_sign_message(const struct kura_sign_key *key, const void *msg, size_t len,
                      uint8_t ret_sig[KURA_SIGN_BYTES])
{
    uint8_t sig[KURA_SIGN_BYTES];
    if (crypto_sign_ed25519_detached(sig, NULL, msg, len, key->sk) != 0) {
        return KURA_EINTERNAL;
    }
    memcpy(ret_sig, sig, sizeof(sig));
    return 0;
}

int kura_sign_verify(const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES], const void *msg, size_t len,
                     const uint8_t sig[KURA_SIGN_BYTES])
{
    if (crypto_sign_ed25519_verify_detached(sig, msg, len, pk) != 0) {
        return KURA_ECRYPTO;
    }
    return 0;
}

int kura_sign_public_key_parse(const char *text, size_t len,
                               uint8_t ret_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                               struct kura_buf *reterr_why)
{
    _cleanup_(kura_crypto_blob_release) struct kura_crypto_blob der = {0};
    size_t label = 0;
    int r = kura_crypto_pem_decode(text, len, KURA_SIGN_KEY_FILE_MAX, spki_labels,
                                   KURA_ARRAY_SIZE(spki_labels), &label, &der, reterr_why);
    if (r < 0) {
        return r;
    }
    if (der.len != SPKI_BYTES || memcmp(der.ptr, spki_prefix, sizeof(spki_prefix)) != 0) {
        kura_crypto_why(reterr_why, "not an Ed25519 public key");
        return KURA_EUNSUPPORTED;
    }
    memcpy(ret_pk, der.ptr + sizeof(spki_prefix), KURA_SIGN_PUBLIC_KEY_BYTES);
    return 0;
}

int kura_sign_public_key_read(int dirfd, const char *name,
                              uint8_t ret_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                              struct kura_buf *reterr_why)
{
    char *text = NULL;
    size_t len = 0;
    int r = kura_crypto_read_file(dirfd, name, NULL, KURA_SIGN_KEY_FILE_MAX,
                                  KURA_CRYPTO_FILE_PUBLIC, &text, &len, reterr_why);
    if (r < 0) {
        return r;
    }
    r = kura_sign_public_key_parse(text, len, ret_pk, reterr_why);
    kura_crypto_file_free(KURA_CRYPTO_FILE_PUBLIC, text, len);
    return r;
}

int kura_sign_public_key_format(const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                struct kura_buf *ret_text)
{
    char text[SIGN_TEXT_MAX];
    size_t len = 0;
    int r = format_public(pk, text, sizeof(text), &len);
    if (r < 0) {
        return r;
    }
    kura_buf_add(ret_text, text, len);
    return kura_buf_err(ret_text);
}
