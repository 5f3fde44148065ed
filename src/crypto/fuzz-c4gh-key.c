/* fuzz-c4gh-key.c — libFuzzer harness for the key-file parsers of the crypto area.
 *
 * Every input goes through the armoured parsers (Crypt4GH private and public keys, Ed25519
 * PKCS#8 and SPKI keys) and, raw, through the c4gh-v1 blob decoder, so that mutations reach the
 * binary structure without having to keep the base64 valid. Seeds: tests/fuzz/c4gh-key/.
 *
 * Only inputs that are structurally valid encrypted keys run scrypt (16 MiB, tens of ms), with
 * the passphrase "password" that the encrypted seeds use, so the decryption path is fuzzed too.
 *
 * Invariants checked (a violation traps): results are 0 or negative kura codes; a key that
 * parses without a passphrase is reported as unencrypted; a parsed public key re-armours and
 * parses back to the same bytes.
 */
#include "crypto/crypto-internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PASSPHRASE "password"

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static bool kura_code(int r)
{
    return r == 0 || r == KURA_ESYNTAX || r == KURA_EUNSUPPORTED || r == KURA_ECRYPTO ||
           r == KURA_ETOOBIG || r == -ENOMEM;
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
    const char *text = (const char *)data;
    uint8_t key[KURA_C4GH_KEY_BYTES];
    struct kura_buf why = KURA_BUF_INIT(1024);

    /* Crypt4GH private key: structure first, then without and with a passphrase. */
    bool encrypted = false;
    int r = kura_c4gh_private_key_is_encrypted(text, size, &encrypted, &why);
    check(kura_code(r));
    int r2 = kura_c4gh_parse_private_key(text, size, NULL, key, &why);
    check(kura_code(r2));
    if (r2 == 0) {
        check(r == 0 && !encrypted);
    }
    if (r == 0 && encrypted) {
        r2 = kura_c4gh_parse_private_key(text, size, FUZZ_PASSPHRASE, key, &why);
        check(kura_code(r2));
    }
    sodium_memzero(key, sizeof(key));

    /* Crypt4GH public key, and its round trip. */
    r = kura_c4gh_parse_public_key(text, size, key, &why);
    check(kura_code(r));
    if (r == 0) {
        struct kura_buf again = KURA_BUF_INIT(4096);
        uint8_t key2[KURA_C4GH_KEY_BYTES];
        check(kura_c4gh_format_public_key(key, &again) == 0);
        check(kura_c4gh_parse_public_key(again.ptr, again.len, key2, NULL) == 0);
        check(memcmp(key, key2, sizeof(key)) == 0);
        kura_buf_release(&again);
    }

    /* Ed25519 keys. */
    struct kura_sign_key *sign = NULL;
    r = kura_sign_key_parse(text, size, &sign, &why);
    check(kura_code(r));
    check((r == 0) == (sign != NULL));
    sign = kura_sign_key_free(sign);
    r = kura_sign_public_key_parse(text, size, key, &why);
    check(kura_code(r));

    /* The raw blob decoder, structure only (no KDF). */
    r = kura_c4gh_decode_private_blob(data, size, NULL, NULL, &encrypted, &why);
    check(kura_code(r));
    r = kura_c4gh_decode_private_blob(data, size, NULL, key, NULL, &why);
    check(kura_code(r));
    sodium_memzero(key, sizeof(key));

    kura_buf_release(&why);
    return 0;
}
