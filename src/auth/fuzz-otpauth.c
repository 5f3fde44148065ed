/* libFuzzer harness for the otpauth URI parser and the codecs under it (percent-encoding,
 * Base32, recovery-code normalisation). Any bytes must either parse into a key that builds back
 * into a URI which parses to the same key and rebuilds to the same text, or fail with one of the
 * documented errors. Independently, the same bytes as Base32 must decode to something that
 * encodes back to exactly the input (the decoder accepts one encoding per byte string), and as a
 * recovery code must hash or be refused as malformed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/totp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool key_equal(const struct kura_totp_key *a, const struct kura_totp_key *b)
{
    return a->issuer_len == b->issuer_len && memcmp(a->issuer, b->issuer, a->issuer_len) == 0 &&
           a->account_len == b->account_len &&
           memcmp(a->account, b->account, a->account_len) == 0 && a->secret_len == b->secret_len &&
           memcmp(a->secret, b->secret, a->secret_len) == 0 && a->params.alg == b->params.alg &&
           a->params.digits == b->params.digits && a->params.period == b->params.period;
}

static void fuzz_uri(const char *in, size_t size)
{
    struct kura_totp_key k, k2;
    int r = kura_totp_uri_parse(in, size, &k);
    if (r != 0) {
        if (r != KURA_ESYNTAX && r != KURA_ETOOBIG && r != KURA_EUNSUPPORTED && r != KURA_ERANGE) {
            abort();
        }
        return;
    }
    struct kura_buf u1 = KURA_BUF_INIT_SECRET(KURA_TOTP_URI_MAX);
    struct kura_buf u2 = KURA_BUF_INIT_SECRET(KURA_TOTP_URI_MAX);
    /* Whatever parses must build (within the URI limit), parse back equal, and be canonical. */
    if (kura_totp_uri_build(&k, &u1) < 0 || kura_totp_uri_parse(u1.ptr, u1.len, &k2) < 0 ||
        !key_equal(&k, &k2) || kura_totp_uri_build(&k2, &u2) < 0 ||
        !kura_str_eq(kura_buf_str(&u1), kura_buf_str(&u2))) {
        abort();
    }
    kura_buf_release_wipe(&u1);
    kura_buf_release_wipe(&u2);
    kura_totp_key_clear(&k);
    kura_totp_key_clear(&k2);
}

static void fuzz_base32(const char *in, size_t size)
{
    uint8_t out[2048];
    size_t n = 0;
    if (size > 3000 || kura_base32_decode(in, size, out, sizeof(out), &n) < 0) {
        return;
    }
    struct kura_buf enc = KURA_BUF_INIT(4096);
    if (kura_base32_encode(out, n, &enc) < 0 ||
        !kura_str_eq(kura_buf_str(&enc), kura_str_make(in, size))) {
        abort();
    }
    kura_buf_release(&enc);
}

static void fuzz_recovery(const char *in, size_t size)
{
    static const uint8_t key[KURA_RECOVERY_KEY_BYTES] = {42};
    uint8_t h[KURA_RECOVERY_HASH_BYTES];
    int r = kura_recovery_hash(key, in, size, h);
    if (r != 0 && r != KURA_ESYNTAX) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    fuzz_uri(in, size);
    fuzz_base32(in, size);
    fuzz_recovery(in, size);
    return 0;
}
