/* password.c — Argon2id password hashing with a pepper, via libsodium (see auth.h for why).
 *
 * Stored form: libsodium's crypto_pwhash_str_alg(..., crypto_pwhash_ALG_ARGON2ID13) output over
 * the 32-byte HMAC-SHA-512-256(pepper, password). Before a stored string reaches libsodium its
 * header "$argon2id$v=19$m=M,t=T,p=1$" is parsed here: it must be exactly what this code writes,
 * and M and T must be plausible, because argon2 allocates M KiB and runs T passes on whatever
 * the string says — a damaged or tampered row must not turn a login into a 4 TiB allocation.
 *
 * Errors from libsodium: crypto_pwhash_str_verify returns -1 for a mismatch (errno EINVAL) and
 * for failures such as memory (errno ENOMEM); errno is cleared before the call so the two are
 * told apart.
 */
#include "auth/auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

_Static_assert(KURA_PEPPER_BYTES == crypto_auth_hmacsha512256_KEYBYTES, "pepper size");
_Static_assert(crypto_auth_hmacsha512256_BYTES == 32, "MAC size");
_Static_assert(KURA_PWHASH_STR_MAX == crypto_pwhash_STRBYTES, "hash string size");
_Static_assert(KURA_PWHASH_OPSLIMIT_DEFAULT == crypto_pwhash_OPSLIMIT_INTERACTIVE, "opslimit");
_Static_assert(KURA_PWHASH_MEMLIMIT_DEFAULT == crypto_pwhash_MEMLIMIT_INTERACTIVE, "memlimit");

_Static_assert(KURA_PWHASH_MEMLIMIT_MAX <= crypto_pwhash_MEMLIMIT_MAX &&
                   KURA_PWHASH_OPSLIMIT_MAX <= crypto_pwhash_OPSLIMIT_MAX &&
                   crypto_pwhash_OPSLIMIT_MIN == 1,
               "kura's caps lie within libsodium's range");

const struct kura_pwhash_params kura_pwhash_params_default = {
    .opslimit = KURA_PWHASH_OPSLIMIT_DEFAULT,
    .memlimit = KURA_PWHASH_MEMLIMIT_DEFAULT,
};

/* A syntactically valid salt (16 bytes) and hash (32 bytes), base64 without padding, for the
 * dummy verification: no password's MAC hashes to it (probability 2^-256). */
#define DUMMY_SALT_B64 "a3VyYS1kdW1teS1zYWx0IQ"
#define DUMMY_HASH_B64 "KhAgb/Er28qw+9MYHvW3bE2Ov3YKiUisy3u05Djkuq0"

static int check_input(const struct kura_pwhash_params *p, size_t pwlen)
{
    if (pwlen == 0 || pwlen > KURA_PASSWORD_MAX) {
        return KURA_ERANGE;
    }
    if (p->opslimit < crypto_pwhash_OPSLIMIT_MIN || p->opslimit > KURA_PWHASH_OPSLIMIT_MAX ||
        p->memlimit < crypto_pwhash_MEMLIMIT_MIN || p->memlimit > KURA_PWHASH_MEMLIMIT_MAX) {
        return KURA_ERANGE;
    }
    if (sodium_init() < 0) {
        return KURA_ECRYPTO;
    }
    return 0;
}

static void pepper_mac(uint8_t mac[static crypto_auth_hmacsha512256_BYTES],
                       const uint8_t pepper[static KURA_PEPPER_BYTES], const char *pw, size_t pwlen)
{
    /* Cannot fail: HMAC over a bounded in-memory input. */
    (void)crypto_auth_hmacsha512256(mac, (const unsigned char *)pw, pwlen, pepper);
}

int kura_password_hash(const struct kura_pwhash_params *params,
                       const uint8_t pepper[static KURA_PEPPER_BYTES], const char *pw, size_t pwlen,
                       char ret[static KURA_PWHASH_STR_MAX])
{
    int r = check_input(params, pwlen);
    if (r < 0) {
        return r;
    }
    uint8_t mac[crypto_auth_hmacsha512256_BYTES];
    char out[crypto_pwhash_STRBYTES];
    pepper_mac(mac, pepper, pw, pwlen);
    errno = 0;
    int rc = crypto_pwhash_str_alg(out, (const char *)mac, sizeof(mac), params->opslimit,
                                   params->memlimit, crypto_pwhash_ALG_ARGON2ID13);
    int saved = errno;
    sodium_memzero(mac, sizeof(mac));
    if (rc != 0) {
        sodium_memzero(out, sizeof(out));
        return saved == ENOMEM ? -ENOMEM : KURA_ECRYPTO;
    }
    memcpy(ret, out, sizeof(out));
    sodium_memzero(out, sizeof(out));
    return 0;
}

/* ---- the stored string -------------------------------------------------------------------- */

static bool take(struct kura_str *s, const char *lit)
{
    size_t n = strlen(lit);
    if (s->len < n || memcmp(s->ptr, lit, n) != 0) {
        return false;
    }
    s->ptr += n;
    s->len -= n;
    return true;
}

static int take_u64(struct kura_str *s, uint64_t max, uint64_t *ret)
{
    size_t n = 0;
    while (n < s->len && s->ptr[n] >= '0' && s->ptr[n] <= '9') {
        n++;
    }
    int r = kura_parse_u64(s->ptr, n, max, ret);
    if (r < 0) {
        return r;
    }
    s->ptr += n;
    s->len -= n;
    return 0;
}

/* Accepts exactly "$argon2id$v=19$m=M,t=T,p=1$..." with plausible M and T, NUL-terminated
 * within KURA_PWHASH_STR_MAX bytes. The salt and hash after it are left to libsodium. */
static int check_stored(const char *hash)
{
    size_t len = strnlen(hash, KURA_PWHASH_STR_MAX);
    if (len == KURA_PWHASH_STR_MAX) {
        return KURA_ECORRUPT;
    }
    struct kura_str s = kura_str_make(hash, len);
    uint64_t m, t;
    if (!take(&s, "$argon2id$v=19$m=") || take_u64(&s, KURA_PWHASH_MEMLIMIT_MAX / 1024, &m) < 0 ||
        !take(&s, ",t=") || take_u64(&s, KURA_PWHASH_OPSLIMIT_MAX, &t) < 0 || !take(&s, ",p=1$")) {
        return KURA_ECORRUPT;
    }
    if (m * 1024 < crypto_pwhash_MEMLIMIT_MIN || t < crypto_pwhash_OPSLIMIT_MIN) {
        return KURA_ECORRUPT;
    }
    return 0;
}

int kura_password_verify(const struct kura_pwhash_params *params,
                         const uint8_t pepper[static KURA_PEPPER_BYTES], const char *hash,
                         const char *pw, size_t pwlen, bool *ret_needs_rehash)
{
    int r = check_input(params, pwlen);
    if (r < 0) {
        return r;
    }
    r = check_stored(hash);
    if (r < 0) {
        return r;
    }
    /* Also a full syntax check of the string (salt, hash, bounds): -1 means unparseable. */
    errno = 0;
    int rehash = crypto_pwhash_str_needs_rehash(hash, params->opslimit, params->memlimit);
    if (rehash < 0) {
        return errno == ENOMEM ? -ENOMEM : KURA_ECORRUPT;
    }

    uint8_t mac[crypto_auth_hmacsha512256_BYTES];
    pepper_mac(mac, pepper, pw, pwlen);
    errno = 0;
    int rc = crypto_pwhash_str_verify(hash, (const char *)mac, sizeof(mac));
    int saved = errno;
    sodium_memzero(mac, sizeof(mac));
    if (rc != 0) {
        if (saved == ENOMEM) {
            return -ENOMEM;
        }
        /* EINVAL: mismatch. Anything else is a failure we cannot classify: never a match. */
        return saved == EINVAL ? KURA_EUNAUTH : KURA_ECRYPTO;
    }
    if (ret_needs_rehash) {
        *ret_needs_rehash = rehash != 0;
    }
    return 0;
}

int kura_password_dummy_verify(const struct kura_pwhash_params *params,
                               const uint8_t pepper[static KURA_PEPPER_BYTES], const char *pw,
                               size_t pwlen)
{
    int r = check_input(params, pwlen);
    if (r < 0) {
        return r;
    }
    /* What kura_password_hash would write for these parameters, so the work is identical. */
    char dummy[KURA_PWHASH_STR_MAX];
    int n = snprintf(dummy, sizeof(dummy), "$argon2id$v=19$m=%zu,t=%llu,p=1$%s$%s",
                     params->memlimit / 1024, params->opslimit, DUMMY_SALT_B64, DUMMY_HASH_B64);
    if (n < 0 || (size_t)n >= sizeof(dummy)) {
        return KURA_EINTERNAL;
    }
    r = kura_password_verify(params, pepper, dummy, pw, pwlen, NULL);
    /* A match is impossible; should it ever happen it must still not authenticate anyone. */
    return r == 0 ? KURA_EUNAUTH : r;
}

/* ---- generated passwords ------------------------------------------------------------------ */

int kura_password_generate(char *out, size_t out_size, size_t len)
{
    static const char alphabet[] = KURA_PASSWORD_ALPHABET;
    const unsigned n = sizeof(alphabet) - 1;
    /* Rejection sampling: bytes >= limit would make the first (256 % n) symbols likelier. */
    const unsigned limit = 256 - 256 % n;

    if (len < KURA_PASSWORD_GEN_MIN || len > KURA_PASSWORD_MAX) {
        return KURA_ERANGE;
    }
    if (out_size < len + 1) {
        return -ENOBUFS;
    }
    char buf[KURA_PASSWORD_MAX + 1];
    unsigned char rnd[64] = {0}; /* filled before first use; zeroed for the analysers */
    size_t pos = sizeof(rnd);
    int r = 0;
    for (size_t i = 0; i < len && r == 0;) {
        if (pos == sizeof(rnd)) {
            r = kura_random(rnd, sizeof(rnd));
            pos = 0;
            continue;
        }
        unsigned b = rnd[pos++];
        if (b < limit) {
            buf[i++] = alphabet[b % n];
        }
    }
    if (r == 0) {
        buf[len] = '\0';
        memcpy(out, buf, len + 1);
    }
    sodium_memzero(rnd, sizeof(rnd));
    sodium_memzero(buf, sizeof(buf));
    return r;
}
