/* libFuzzer harness for deletion certificates (store.h, "purge": kura_store_cert_verify). The
 * first byte chooses the mode:
 *  - even: the rest is a document given to kura_store_cert_verify as it is, with and without a
 *    trusted key; a refusal must come with a reason, and an accepted document must still be
 *    accepted after re-formatting (the signature covers the canonical form only);
 *  - odd: the rest, parsed as JSON, is a certificate body. When it is an object, the harness
 *    gives it a valid type, version and id, signs its canonical bytes (sorted keys, compact) as
 *    purge.c does and writes the document in a formatting the first byte picks (compact,
 *    indented, ASCII-escaped). Verification must then accept it exactly when the body holds no
 *    real number, and refuse it once any byte of the signed bytes' canonical form changes. This
 *    is the canonicalisation's round trip: what was signed is what verification rebuilds.
 * Any violation aborts. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct kura_sign_key *key;

static bool has_real(const json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_real(v)) {
        return true;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            if (has_real(x)) {
                return true;
            }
        }
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (has_real(x)) {
                return true;
            }
        }
    }
    return false;
}

static void raw(const char *doc, size_t len, unsigned flags)
{
    const char *why = NULL;
    char id[KURA_PURGE_CERT_ID_MAX + 1];
    int r = kura_store_cert_verify(doc, len, NULL, id, &why);
    CHECK(r == 0 || r == KURA_ESYNTAX || r == KURA_ECRYPTO || r == KURA_ETOOBIG || r == -ENOMEM);
    CHECK(r == 0 || r == -ENOMEM || why != NULL);
    int t = kura_store_cert_verify(doc, len, kura_sign_key_public(key), NULL, &why);
    CHECK(t != 0 || r == 0); /* a trusted key never accepts what the document's own refuses */
    if (r == 0) {
        CHECK(strlen(id) == KURA_PURGE_CERT_ID_MAX);
        json_t *d = json_loadb(doc, len, 0, NULL);
        char *again = d ? json_dumps(d, flags) : NULL;
        CHECK(!d || again);
        CHECK(!again || kura_store_cert_verify(again, strlen(again), NULL, NULL, NULL) == 0);
        free(again);
        json_decref(d);
    }
}

static void signed_body(json_t *body, unsigned flags)
{
    (void)json_object_set_new(body, "type", json_string("kura-deletion-certificate"));
    (void)json_object_set_new(body, "version", json_integer(1));
    (void)json_object_set_new(body, "certificate_id",
                              json_string("00000000-0000-4000-8000-000000000000"));
    char *canon = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
    if (!canon) {
        return;
    }
    uint8_t sig[KURA_SIGN_BYTES];
    char sig64[sodium_base64_ENCODED_LEN(KURA_SIGN_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    char pk64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    CHECK(kura_sign_message(key, canon, strlen(canon), sig) == 0);
    sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(pk64, sizeof(pk64), kura_sign_key_public(key), 32,
                      sodium_base64_VARIANT_ORIGINAL);
    json_t *doc =
        json_pack("{s:O,s:s,s:s}", "certificate", body, "signature", sig64, "public_key", pk64);
    char *text = doc ? json_dumps(doc, flags) : NULL;
    if (text) {
        const char *why = NULL;
        int r = kura_store_cert_verify(text, strlen(text), kura_sign_key_public(key), NULL, &why);
        if (strlen(text) <= KURA_PURGE_CERT_MAX) {
            CHECK(has_real(body) ? r == KURA_ESYNTAX : r == 0);
        }
        /* One value changed (doc holds body itself): the signature no longer matches. */
        (void)json_object_set_new(body, "certificate_id",
                                  json_string("00000000-0000-4000-8000-000000000001"));
        char *changed = json_dumps(doc, flags);
        if (changed && !has_real(body) && strlen(changed) <= KURA_PURGE_CERT_MAX) {
            CHECK(kura_store_cert_verify(changed, strlen(changed), NULL, NULL, NULL) ==
                  KURA_ECRYPTO);
        }
        free(changed);
    }
    free(text);
    json_decref(doc);
    free(canon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!key) {
        CHECK(kura_crypto_init() == 0 && kura_sign_key_generate(&key) == 0);
    }
    if (size == 0) {
        return 0;
    }
    static const unsigned formats[] = {JSON_COMPACT, JSON_INDENT(2),
                                       JSON_COMPACT | JSON_ENSURE_ASCII,
                                       JSON_INDENT(1) | JSON_SORT_KEYS};
    unsigned flags = formats[(data[0] >> 1) % KURA_ARRAY_SIZE(formats)];
    const char *rest = (const char *)data + 1;
    if ((data[0] & 1) == 0) {
        raw(rest, size - 1, flags);
        return 0;
    }
    json_t *body = json_loadb(rest, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(body)) {
        signed_body(body, flags);
    }
    json_decref(body);
    return 0;
}
