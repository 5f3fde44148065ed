/* totp.c — HOTP (RFC 4226), TOTP (RFC 6238), Base32 (RFC 4648), otpauth URIs, QR codes as SVG
 * and recovery codes. totp.h says why each piece looks as it does and what the limits are.
 *
 * HMAC comes from OpenSSL's one-shot HMAC(); the codecs (Base32, percent-encoding) are written
 * here because they are a few lines each, and fuzz-otpauth.c exercises them. Buffers that held a
 * secret, or anything derived from one, are wiped with sodium_memzero before they go out of scope.
 */
#include "auth/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>
#include <sodium.h>
#include <string.h>

const struct kura_totp_params kura_totp_params_default = {
    .alg = KURA_OTP_ALG_SHA1,
    .digits = KURA_TOTP_DIGITS_DEFAULT,
    .period = KURA_TOTP_PERIOD_DEFAULT,
};

/* ---- parameters and HMAC ------------------------------------------------------------------ */

static bool alg_ok(enum kura_otp_alg alg)
{
    return alg == KURA_OTP_ALG_SHA1 || alg == KURA_OTP_ALG_SHA256 || alg == KURA_OTP_ALG_SHA512;
}

static bool params_ok(const struct kura_totp_params *p)
{
    return alg_ok(p->alg) && (p->digits == 6 || p->digits == 8) &&
           p->period >= KURA_TOTP_PERIOD_MIN && p->period <= KURA_TOTP_PERIOD_MAX;
}

static bool secret_len_ok(size_t len)
{
    return len >= KURA_TOTP_SECRET_MIN && len <= KURA_TOTP_SECRET_MAX;
}

static const EVP_MD *alg_md(enum kura_otp_alg alg)
{
    switch (alg) {
    case KURA_OTP_ALG_SHA1:
        return EVP_sha1();
    case KURA_OTP_ALG_SHA256:
        return EVP_sha256();
    case KURA_OTP_ALG_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

static const char *alg_name(enum kura_otp_alg alg)
{
    switch (alg) {
    case KURA_OTP_ALG_SHA1:
        return "SHA1";
    case KURA_OTP_ALG_SHA256:
        return "SHA256";
    case KURA_OTP_ALG_SHA512:
        return "SHA512";
    }
    return "";
}

/* One-shot HMAC into out (EVP_MAX_MD_SIZE bytes). Callers bound key_len (KURA_TOTP_SECRET_MAX or
 * KURA_RECOVERY_KEY_BYTES), so the cast to int cannot truncate. */
static int hmac(const EVP_MD *md, const uint8_t *key, size_t key_len, const void *msg,
                size_t msg_len, uint8_t out[static EVP_MAX_MD_SIZE], unsigned *ret_len)
{
    unsigned len = 0;
    if (!md || !HMAC(md, key, (int)key_len, msg, msg_len, out, &len)) {
        sodium_memzero(out, EVP_MAX_MD_SIZE);
        return KURA_ECRYPTO;
    }
    *ret_len = len;
    return 0;
}

/* ---- HOTP and TOTP ------------------------------------------------------------------------ */

/* RFC 4226 §5.3: the 31-bit big-endian number at the offset named by the MAC's last nibble. */
static uint32_t dynamic_truncate(const uint8_t *mac, unsigned mac_len)
{
    unsigned off = mac[mac_len - 1] & 0x0fu;
    return (uint32_t)(mac[off] & 0x7fu) << 24 | (uint32_t)mac[off + 1] << 16 |
           (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
}

int kura_hotp(const uint8_t *secret, size_t secret_len, enum kura_otp_alg alg, unsigned digits,
              uint64_t counter, char ret_code[static KURA_OTP_CODE_MAX])
{
    if (!secret_len_ok(secret_len) || !alg_ok(alg) || (digits != 6 && digits != 8)) {
        return KURA_ERANGE;
    }
    uint8_t msg[8];
    for (unsigned i = 0; i < 8; i++) {
        msg[7 - i] = (uint8_t)(counter >> (8 * i));
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    int r = hmac(alg_md(alg), secret, secret_len, msg, sizeof(msg), mac, &mac_len);
    if (r < 0) {
        return r;
    }
    /* The offset reaches at most byte 15 + 3; SHA-1's 20 bytes are the shortest MAC here. */
    if (mac_len < 20) {
        sodium_memzero(mac, sizeof(mac));
        return KURA_ECRYPTO;
    }
    uint32_t v = dynamic_truncate(mac, mac_len) % (digits == 8 ? 100000000u : 1000000u);
    sodium_memzero(mac, sizeof(mac));
    for (unsigned i = digits; i > 0; i--) {
        ret_code[i - 1] = (char)('0' + v % 10u);
        v /= 10u;
    }
    ret_code[digits] = '\0';
    return 0;
}

int kura_totp_step(const struct kura_totp_params *params, int64_t now, uint64_t *ret_step)
{
    if (now < 0 || !params_ok(params)) {
        return KURA_ERANGE;
    }
    *ret_step = (uint64_t)now / params->period;
    return 0;
}

int kura_totp_code(const uint8_t *secret, size_t secret_len, const struct kura_totp_params *params,
                   int64_t now, char ret_code[static KURA_OTP_CODE_MAX])
{
    uint64_t step;
    int r = kura_totp_step(params, now, &step);
    if (r < 0) {
        return r;
    }
    return kura_hotp(secret, secret_len, params->alg, params->digits, step, ret_code);
}

static bool code_syntax_ok(const char *code, size_t len, unsigned digits)
{
    if (len != digits) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (code[i] < '0' || code[i] > '9') {
            return false;
        }
    }
    return true;
}

int kura_totp_verify(const uint8_t *secret, size_t secret_len,
                     const struct kura_totp_params *params, const char *code, size_t code_len,
                     int64_t now, unsigned skew, uint64_t last_step, uint64_t *ret_step)
{
    uint64_t step;
    int r = kura_totp_step(params, now, &step);
    if (r < 0) {
        return r;
    }
    if (skew > KURA_TOTP_SKEW_MAX || !secret_len_ok(secret_len)) {
        return KURA_ERANGE;
    }
    if (!code_syntax_ok(code, code_len, params->digits)) {
        return KURA_ESYNTAX;
    }
    /* No step before 0; step + skew cannot overflow, as step <= INT64_MAX / 15. */
    uint64_t first = step >= skew ? step - skew : 0;
    uint64_t found = 0;
    bool matched = false;
    char expect[KURA_OTP_CODE_MAX];
    /* Every step of the window is computed and compared, whatever matched before, so the time
     * taken does not depend on which step (if any) the code belongs to. */
    for (uint64_t s = first; s <= step + skew; s++) {
        r = kura_hotp(secret, secret_len, params->alg, params->digits, s, expect);
        if (r < 0) {
            break;
        }
        bool eq = sodium_memcmp(expect, code, code_len) == 0;
        /* RFC 6238 §5.2: a step at or before the last one used is a replay. */
        if (eq && s > last_step && !matched) {
            found = s;
            matched = true;
        }
    }
    sodium_memzero(expect, sizeof(expect));
    if (r < 0) {
        return r;
    }
    if (!matched) {
        return KURA_EUNAUTH;
    }
    *ret_step = found;
    return 0;
}

int kura_totp_secret_generate(uint8_t ret_secret[static KURA_TOTP_SECRET_BYTES])
{
    if (sodium_init() < 0) {
        return KURA_ECRYPTO;
    }
    randombytes_buf(ret_secret, KURA_TOTP_SECRET_BYTES);
    return 0;
}

/* ---- appending to a caller's buffer ------------------------------------------------------- */

/* The appenders promise to leave the buffer as they found it on failure: wipe what was added
 * (it may be part of a secret) and cut it off again. */
static int finish_append(struct kura_buf *b, size_t old_len)
{
    int r = kura_buf_err(b);
    if (r < 0) {
        if (b->ptr && b->len > old_len) {
            sodium_memzero(b->ptr + old_len, b->len - old_len);
        }
        kura_buf_truncate(b, old_len);
    }
    return r;
}

/* ---- Base32 ------------------------------------------------------------------------------- */

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Value of a Base32 character, or 32 for anything else (lower case included). */
static unsigned b32_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return (unsigned)(ch - 'A');
    }
    if (ch >= '2' && ch <= '7') {
        return (unsigned)(ch - '2') + 26u;
    }
    return 32u;
}

static void b32_append(struct kura_buf *b, const uint8_t *in, size_t len)
{
    uint32_t acc = 0; /* only the low `bits` bits matter; older ones are shifted out */
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = acc << 8 | (uint32_t)in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            kura_buf_addc(b, b32_alphabet[(acc >> bits) & 31u]);
        }
    }
    if (bits > 0) {
        kura_buf_addc(b, b32_alphabet[(acc << (5 - bits)) & 31u]);
    }
    sodium_memzero(&acc, sizeof(acc)); /* it held secret bits */
}

int kura_base32_encode(const uint8_t *in, size_t len, struct kura_buf *ret_out)
{
    int r = kura_buf_err(ret_out);
    if (r < 0) {
        return r;
    }
    size_t old = ret_out->len;
    b32_append(ret_out, in, len);
    return finish_append(ret_out, old);
}

/* Checks everything before writing a byte, so ret_out is untouched on failure (totp.h). */
static int b32_check(const char *in, size_t len)
{
    /* RFC 4648 §6: 8 characters carry 5 bytes; a final group of 1, 3 or 6 characters would
     * hold a partial byte only. */
    size_t rem = len % 8;
    if (rem == 1 || rem == 3 || rem == 6) {
        return KURA_ESYNTAX;
    }
    for (size_t i = 0; i < len; i++) {
        if (b32_value(in[i]) > 31u) {
            return KURA_ESYNTAX;
        }
    }
    /* The bits of the last character beyond the last whole byte must be zero (§3.5). */
    unsigned spare = (unsigned)(rem * 5 % 8);
    if (len > 0 && (b32_value(in[len - 1]) & ((1u << spare) - 1u)) != 0) {
        return KURA_ESYNTAX;
    }
    return 0;
}

int kura_base32_decode(const char *in, size_t len, uint8_t *ret_out, size_t out_size,
                       size_t *ret_len)
{
    int r = b32_check(in, len);
    if (r < 0) {
        return r;
    }
    size_t n = len / 8 * 5 + len % 8 * 5 / 8; /* no overflow, unlike len * 5 / 8 */
    if (n > out_size) {
        return -ENOBUFS;
    }
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        acc = acc << 5 | b32_value(in[i]);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            ret_out[o++] = (uint8_t)(acc >> bits);
        }
    }
    sodium_memzero(&acc, sizeof(acc)); /* it held secret bits */
    *ret_len = o;
    return 0;
}

/* ---- the key and its URI ------------------------------------------------------------------ */

/* issuer and account (totp.h): 1..max bytes of UTF-8, no control bytes, no ':'. */
static int check_label_part(const char *s, size_t len, size_t max)
{
    if (len > max) {
        return KURA_ETOOBIG;
    }
    if (len == 0 || kura_has_ctl(s, len, false) || !kura_utf8_valid(s, len) ||
        memchr(s, ':', len)) {
        return KURA_ESYNTAX;
    }
    return 0;
}

static int check_key(const struct kura_totp_key *k)
{
    int r = check_label_part(k->issuer, k->issuer_len, KURA_TOTP_ISSUER_MAX);
    if (r < 0) {
        return r;
    }
    r = check_label_part(k->account, k->account_len, KURA_TOTP_ACCOUNT_MAX);
    if (r < 0) {
        return r;
    }
    return secret_len_ok(k->secret_len) && params_ok(&k->params) ? 0 : KURA_ERANGE;
}

int kura_totp_key_init(const char *issuer, size_t issuer_len, const char *account,
                       size_t account_len, const uint8_t *secret, size_t secret_len,
                       const struct kura_totp_params *params, struct kura_totp_key *ret_key)
{
    /* Checked and filled in a local copy: the parts may point into *ret_key itself. */
    struct kura_totp_key k = {.issuer_len = issuer_len, .account_len = account_len};
    int r = check_label_part(issuer, issuer_len, KURA_TOTP_ISSUER_MAX);
    if (r == 0) {
        r = check_label_part(account, account_len, KURA_TOTP_ACCOUNT_MAX);
    }
    if (r == 0 && (!secret_len_ok(secret_len) || !params_ok(params))) {
        r = KURA_ERANGE;
    }
    if (r == 0) {
        memcpy(k.issuer, issuer, issuer_len);
        memcpy(k.account, account, account_len);
        memcpy(k.secret, secret, secret_len);
        k.secret_len = secret_len;
        k.params = *params;
        *ret_key = k;
    }
    kura_totp_key_clear(&k);
    return r;
}

void kura_totp_key_clear(struct kura_totp_key *key)
{
    sodium_memzero(key, sizeof(*key));
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 3986 §2.1: every byte but the unreserved ones as %XX, upper-case hex. */
static void pct_append(struct kura_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            kura_buf_addc(b, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15u]};
            kura_buf_add(b, esc, sizeof(esc));
        }
    }
}

/* The longest URI the builder can write: every label byte escaped, the longest secret. */
#define B32_LEN(n) (((n)*8 + 4) / 5)
_Static_assert(sizeof("otpauth://totp/:?secret=&issuer=&algorithm=SHA512&digits=8&period=120") - 1 +
                       3 * (2 * KURA_TOTP_ISSUER_MAX + KURA_TOTP_ACCOUNT_MAX) +
                       B32_LEN(KURA_TOTP_SECRET_MAX) <=
                   KURA_TOTP_URI_MAX,
               "every URI kura_totp_uri_build writes can be parsed back");

int kura_totp_uri_build(const struct kura_totp_key *key, struct kura_buf *ret_uri)
{
    int r = check_key(key);
    if (r < 0) {
        return r;
    }
    r = kura_buf_err(ret_uri);
    if (r < 0) {
        return r;
    }
    size_t old = ret_uri->len;
    kura_buf_adds(ret_uri, "otpauth://totp/");
    pct_append(ret_uri, key->issuer, key->issuer_len);
    kura_buf_addc(ret_uri, ':');
    pct_append(ret_uri, key->account, key->account_len);
    kura_buf_adds(ret_uri, "?secret=");
    b32_append(ret_uri, key->secret, key->secret_len);
    kura_buf_adds(ret_uri, "&issuer=");
    pct_append(ret_uri, key->issuer, key->issuer_len);
    kura_buf_addf(ret_uri, "&algorithm=%s&digits=%u&period=%u", alg_name(key->params.alg),
                  key->params.digits, key->params.period);
    return finish_append(ret_uri, old);
}

/* ---- parsing a URI ------------------------------------------------------------------------ */

static bool is_sub_delim(unsigned char c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* RFC 3986 §3.3 pchar (the label is one path segment, so no '/'), escapes checked later. */
static bool is_label_char(unsigned char c)
{
    return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '%';
}

/* RFC 3986 §3.4 query: pchar, '/' and '?'. No '#': a fragment is refused with the rest. */
static bool is_query_char(unsigned char c)
{
    return is_label_char(c) || c == '/' || c == '?';
}

static bool all_chars(struct kura_str s, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < s.len; i++) {
        if (!ok((unsigned char)s.ptr[i])) {
            return false;
        }
    }
    return true;
}

static bool take_prefix(struct kura_str *s, const char *lit)
{
    size_t n = strlen(lit);
    if (s->len < n || memcmp(s->ptr, lit, n) != 0) {
        return false;
    }
    s->ptr += n;
    s->len -= n;
    return true;
}

static unsigned hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return (unsigned)(ch - '0');
    }
    if (ch >= 'A' && ch <= 'F') {
        return (unsigned)(ch - 'A') + 10u;
    }
    if (ch >= 'a' && ch <= 'f') {
        return (unsigned)(ch - 'a') + 10u;
    }
    return 16u;
}

/* Decodes the %XX escapes of s into out. Errors: KURA_ESYNTAX (an escape without two hex
 * digits), KURA_ETOOBIG (more than out_size bytes). The caller checks what the bytes mean. */
static int pct_decode(struct kura_str s, char *out, size_t out_size, size_t *ret_len)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned c = (unsigned char)s.ptr[i];
        if (c == '%') {
            if (s.len - i < 3 || hex_value(s.ptr[i + 1]) > 15u || hex_value(s.ptr[i + 2]) > 15u) {
                return KURA_ESYNTAX;
            }
            c = hex_value(s.ptr[i + 1]) << 4 | hex_value(s.ptr[i + 2]);
            i += 2;
        }
        if (n == out_size) {
            return KURA_ETOOBIG;
        }
        out[n++] = (char)c;
    }
    *ret_len = n;
    return 0;
}

static int set_part(char *dst, size_t *dst_len, size_t max, struct kura_str s)
{
    int r = check_label_part(s.ptr, s.len, max);
    if (r < 0) {
        return r;
    }
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
    *dst_len = s.len;
    return 0;
}

/* "ISSUER:ACCOUNT" or "ACCOUNT", the colon literal or %3A: decode first, then split, since
 * neither part may contain a colon. */
static int parse_label(struct kura_str label, struct kura_totp_key *k)
{
    char dec[KURA_TOTP_ISSUER_MAX + 1 + KURA_TOTP_ACCOUNT_MAX];
    size_t n = 0;
    int r = pct_decode(label, dec, sizeof(dec), &n);
    if (r == 0) {
        struct kura_str rest = kura_str_make(dec, n), head;
        if (kura_str_split(&rest, ':', &head)) {
            r = set_part(k->issuer, &k->issuer_len, KURA_TOTP_ISSUER_MAX, head);
            head = rest;
        }
        if (r == 0) {
            r = set_part(k->account, &k->account_len, KURA_TOTP_ACCOUNT_MAX, head);
        }
    }
    sodium_memzero(dec, sizeof(dec));
    return r;
}

enum param { P_SECRET, P_ISSUER, P_ALGORITHM, P_DIGITS, P_PERIOD, P_COUNT };

static const char *const param_names[P_COUNT] = {"secret", "issuer", "algorithm", "digits",
                                                 "period"};

static int param_index(struct kura_str name)
{
    for (int i = 0; i < P_COUNT; i++) {
        if (kura_str_eq_c(name, param_names[i])) {
            return i;
        }
    }
    return -1;
}

static int parse_secret(struct kura_str v, struct kura_totp_key *k)
{
    size_t n = 0;
    int r = kura_base32_decode(v.ptr, v.len, k->secret, sizeof(k->secret), &n);
    if (r == -ENOBUFS) {
        return KURA_ERANGE;
    }
    if (r < 0) {
        return r;
    }
    k->secret_len = n;
    return secret_len_ok(n) ? 0 : KURA_ERANGE;
}

/* The issuer parameter; when the label named one too, both must say the same. */
static int parse_issuer(struct kura_str v, struct kura_totp_key *k)
{
    if (k->issuer_len == 0) {
        return set_part(k->issuer, &k->issuer_len, KURA_TOTP_ISSUER_MAX, v);
    }
    int r = check_label_part(v.ptr, v.len, KURA_TOTP_ISSUER_MAX);
    if (r < 0) {
        return r;
    }
    return kura_str_eq(v, kura_str_make(k->issuer, k->issuer_len)) ? 0 : KURA_ESYNTAX;
}

static int parse_algorithm(struct kura_str v, struct kura_totp_key *k)
{
    static const enum kura_otp_alg algs[] = {KURA_OTP_ALG_SHA1, KURA_OTP_ALG_SHA256,
                                             KURA_OTP_ALG_SHA512};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(algs); i++) {
        if (kura_str_eq_c(v, alg_name(algs[i]))) {
            k->params.alg = algs[i];
            return 0;
        }
    }
    return KURA_EUNSUPPORTED;
}

static int parse_number(struct kura_str v, unsigned min, unsigned max, unsigned *ret)
{
    uint64_t n = 0;
    int r = kura_parse_u64(v.ptr, v.len, max, &n);
    if (r < 0) {
        return r;
    }
    if (n < min) {
        return KURA_ERANGE;
    }
    *ret = (unsigned)n;
    return 0;
}

static int parse_param(enum param p, struct kura_str v, struct kura_totp_key *k)
{
    switch (p) {
    case P_SECRET:
        return parse_secret(v, k);
    case P_ISSUER:
        return parse_issuer(v, k);
    case P_ALGORITHM:
        return parse_algorithm(v, k);
    case P_DIGITS: {
        int r = parse_number(v, 6, 8, &k->params.digits);
        return r == 0 && k->params.digits == 7 ? KURA_ERANGE : r;
    }
    case P_PERIOD:
        return parse_number(v, KURA_TOTP_PERIOD_MIN, KURA_TOTP_PERIOD_MAX, &k->params.period);
    case P_COUNT:
        break;
    }
    return KURA_EINTERNAL;
}

/* One "name=value": a known name not seen before, the value percent-decoded. */
static int parse_one(struct kura_str param, bool seen[static P_COUNT], struct kura_totp_key *k)
{
    struct kura_str name;
    if (!kura_str_split(&param, '=', &name)) {
        return KURA_ESYNTAX;
    }
    int idx = param_index(name);
    if (idx < 0 || seen[idx]) {
        return KURA_ESYNTAX;
    }
    seen[idx] = true;
    char dec[KURA_TOTP_URI_MAX];
    size_t n = 0;
    int r = pct_decode(param, dec, sizeof(dec), &n);
    if (r == 0) {
        r = parse_param((enum param)idx, kura_str_make(dec, n), k);
    }
    sodium_memzero(dec, sizeof(dec)); /* it may have held the secret */
    return r;
}

static int parse_query(struct kura_str q, struct kura_totp_key *k)
{
    bool seen[P_COUNT] = {false};
    bool more = true;
    while (more) {
        struct kura_str param;
        more = kura_str_split(&q, '&', &param);
        int r = parse_one(param, seen, k);
        if (r < 0) {
            return r;
        }
    }
    return seen[P_SECRET] ? 0 : KURA_ESYNTAX;
}

int kura_totp_uri_parse(const char *uri, size_t len, struct kura_totp_key *ret_key)
{
    if (len > KURA_TOTP_URI_MAX) {
        return KURA_ETOOBIG;
    }
    struct kura_str s = kura_str_make(uri, len), label;
    if (!take_prefix(&s, "otpauth://")) {
        return KURA_ESYNTAX;
    }
    if (!take_prefix(&s, "totp/")) {
        return take_prefix(&s, "hotp/") ? KURA_EUNSUPPORTED : KURA_ESYNTAX;
    }
    if (!kura_str_split(&s, '?', &label) || !all_chars(label, is_label_char) ||
        !all_chars(s, is_query_char)) {
        return KURA_ESYNTAX;
    }
    struct kura_totp_key k = {.params = kura_totp_params_default};
    int r = parse_label(label, &k);
    if (r == 0) {
        r = parse_query(s, &k);
    }
    if (r == 0 && k.issuer_len == 0) {
        r = KURA_ESYNTAX; /* neither the label nor a parameter named the issuer */
    }
    if (r == 0) {
        *ret_key = k;
    }
    kura_totp_key_clear(&k);
    return r;
}

/* ---- QR code as SVG ----------------------------------------------------------------------- */

#define QR_QUIET 4u /* modules of white border, ISO/IEC 18004 §6.3.8 */

/* Dark modules as one path: each horizontal run of dark modules in a row is one rectangle of
 * unit-square height, which keeps the SVG a third the size of one square per module. */
static void svg_append(struct kura_buf *b, const QRcode *qr)
{
    unsigned w = (unsigned)qr->width, size = w + 2 * QR_QUIET;
    kura_buf_addf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %u %u\" "
                  "shape-rendering=\"crispEdges\"><rect width=\"%u\" height=\"%u\" "
                  "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                  size, size, size, size);
    for (unsigned y = 0; y < w; y++) {
        const unsigned char *row = qr->data + (size_t)y * w;
        for (unsigned x = 0; x < w;) {
            if (!(row[x] & 1u)) { /* bit 0: dark module (qrencode.h) */
                x++;
                continue;
            }
            unsigned run = 1;
            while (x + run < w && (row[x + run] & 1u)) {
                run++;
            }
            kura_buf_addf(b, "M%u %uh%uv1h-%uz", x + QR_QUIET, y + QR_QUIET, run, run);
            x += run;
        }
    }
    kura_buf_adds(b, "\"/></svg>\n");
}

int kura_totp_qr_svg(const char *text, size_t len, struct kura_buf *ret_svg)
{
    if (len == 0 || len > KURA_TOTP_URI_MAX) {
        return KURA_ERANGE;
    }
    if (memchr(text, '\0', len)) {
        return KURA_ESYNTAX;
    }
    int r = kura_buf_err(ret_svg);
    if (r < 0) {
        return r;
    }
    char z[KURA_TOTP_URI_MAX + 1]; /* libqrencode wants a C string */
    memcpy(z, text, len);
    z[len] = '\0';
    errno = 0;
    QRcode *qr = QRcode_encodeString(z, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    int saved = errno;
    sodium_memzero(z, sizeof(z));
    if (!qr) {
        return saved == ENOMEM ? -ENOMEM : KURA_EINTERNAL;
    }
    size_t old = ret_svg->len;
    svg_append(ret_svg, qr);
    /* The module matrix encodes the text, i.e. the secret. */
    sodium_memzero(qr->data, (size_t)qr->width * (size_t)qr->width);
    QRcode_free(qr);
    return finish_append(ret_svg, old);
}

/* ---- recovery codes ----------------------------------------------------------------------- */

static const char recovery_alphabet[] = KURA_RECOVERY_ALPHABET;
_Static_assert(sizeof(recovery_alphabet) - 1 == 32, "32 symbols: 5 bits each, uniform from bytes");
_Static_assert(KURA_RECOVERY_CODE_STR_MAX == KURA_RECOVERY_CODE_LEN + 2, "one hyphen and a NUL");

/* Crockford's decoding: upper case, O read as 0, I and L as 1; '\0' for a non-symbol. */
static char crockford_fold(char ch)
{
    if (ch >= 'a' && ch <= 'z') {
        ch = (char)(ch - 'a' + 'A');
    }
    if (ch == 'O') {
        return '0';
    }
    if (ch == 'I' || ch == 'L') {
        return '1';
    }
    return ch != '\0' && memchr(recovery_alphabet, ch, 32) ? ch : '\0';
}

/* Typed input to exactly KURA_RECOVERY_CODE_LEN symbols; hyphens and spaces are skipped. */
static int recovery_normalise(const char *code, size_t len, char out[static KURA_RECOVERY_CODE_LEN])
{
    if (len > KURA_RECOVERY_INPUT_MAX) {
        return KURA_ESYNTAX;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (code[i] == '-' || code[i] == ' ') {
            continue;
        }
        char ch = crockford_fold(code[i]);
        if (ch == '\0' || n == KURA_RECOVERY_CODE_LEN) {
            return KURA_ESYNTAX;
        }
        out[n++] = ch;
    }
    return n == KURA_RECOVERY_CODE_LEN ? 0 : KURA_ESYNTAX;
}

int kura_recovery_hash(const uint8_t key[static KURA_RECOVERY_KEY_BYTES], const char *code,
                       size_t len, uint8_t ret_hash[static KURA_RECOVERY_HASH_BYTES])
{
    char norm[KURA_RECOVERY_CODE_LEN];
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    int r = recovery_normalise(code, len, norm);
    if (r == 0) {
        r = hmac(EVP_sha256(), key, KURA_RECOVERY_KEY_BYTES, norm, sizeof(norm), mac, &mac_len);
    }
    if (r == 0 && mac_len != KURA_RECOVERY_HASH_BYTES) {
        r = KURA_ECRYPTO;
    }
    if (r == 0) {
        memcpy(ret_hash, mac, KURA_RECOVERY_HASH_BYTES);
    }
    sodium_memzero(norm, sizeof(norm));
    sodium_memzero(mac, sizeof(mac));
    return r;
}

/* "ABCDE-FGHJK": 32 symbols divide 256, so the low 5 bits of a random byte are uniform. */
static void recovery_random(char out[static KURA_RECOVERY_CODE_STR_MAX])
{
    uint8_t rnd[KURA_RECOVERY_CODE_LEN];
    randombytes_buf(rnd, sizeof(rnd));
    size_t o = 0;
    for (size_t i = 0; i < KURA_RECOVERY_CODE_LEN; i++) {
        if (i == KURA_RECOVERY_CODE_LEN / 2) {
            out[o++] = '-';
        }
        out[o++] = recovery_alphabet[rnd[i] & 31u];
    }
    out[o] = '\0';
    sodium_memzero(rnd, sizeof(rnd));
}

static bool recovery_seen(char codes[][KURA_RECOVERY_CODE_STR_MAX], size_t n)
{
    bool dup = false;
    for (size_t i = 0; i < n; i++) {
        dup |= sodium_memcmp(codes[i], codes[n], KURA_RECOVERY_CODE_STR_MAX) == 0;
    }
    return dup;
}

int kura_recovery_generate(const uint8_t key[static KURA_RECOVERY_KEY_BYTES],
                           char ret_codes[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX],
                           uint8_t ret_hashes[KURA_RECOVERY_CODES][KURA_RECOVERY_HASH_BYTES])
{
    if (sodium_init() < 0) {
        return KURA_ECRYPTO;
    }
    char codes[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX];
    uint8_t hashes[KURA_RECOVERY_CODES][KURA_RECOVERY_HASH_BYTES];
    int r = 0;
    for (size_t i = 0; i < KURA_RECOVERY_CODES && r == 0;) {
        recovery_random(codes[i]);
        /* A repeat has odds of about 2^-44 per set; drawing again keeps "distinct" a promise. */
        if (recovery_seen(codes, i)) {
            continue;
        }
        r = kura_recovery_hash(key, codes[i], KURA_RECOVERY_CODE_STR_MAX - 1, hashes[i]);
        i++;
    }
    if (r == 0) {
        memcpy(ret_codes, codes, sizeof(codes));
        memcpy(ret_hashes, hashes, sizeof(hashes));
    }
    sodium_memzero(codes, sizeof(codes));
    sodium_memzero(hashes, sizeof(hashes));
    return r;
}

int kura_recovery_check(const uint8_t key[static KURA_RECOVERY_KEY_BYTES], const char *code,
                        size_t len, const uint8_t (*hashes)[KURA_RECOVERY_HASH_BYTES], size_t n,
                        size_t *ret_index)
{
    uint8_t h[KURA_RECOVERY_HASH_BYTES];
    int r = kura_recovery_hash(key, code, len, h);
    if (r < 0) {
        return r;
    }
    /* Every entry gets one full constant-time comparison and a branch-free select, so the
     * time taken says nothing about which entry (if any) matched. */
    size_t found = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t eq = (size_t)0 - (size_t)(sodium_memcmp(h, hashes[i], sizeof(h)) == 0);
        found = (found & ~eq) | (i & eq);
    }
    sodium_memzero(h, sizeof(h));
    if (found == SIZE_MAX) {
        return KURA_EUNAUTH;
    }
    *ret_index = found;
    return 0;
}
