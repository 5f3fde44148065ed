/* Unit tests for HOTP/TOTP (RFC 4226 Appendix D, RFC 6238 Appendix B), the verification window
 * and replay rule, Base32 (RFC 4648 §10), otpauth URIs, QR SVGs and recovery codes. The clock is
 * whatever each test passes in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "auth/totp.h"

/* RFC 4226 Appendix D and RFC 6238 Appendix B seeds (ASCII digits, 20/32/64 bytes). */
static const char seed20[] = "12345678901234567890";
static const char seed32[] = "12345678901234567890123456789012";
static const char seed64[] = "1234567890123456789012345678901234567890123456789012345678901234";

#define SEED(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static const struct kura_totp_params p30 = {KURA_OTP_ALG_SHA1, 6, 30};

static int verify_c(const char *code, int64_t now, unsigned skew, uint64_t last, uint64_t *step)
{
    return kura_totp_verify(SEED(seed20), &p30, code, strlen(code), now, skew, last, step);
}

/* The code for an explicit step, to build inputs for the window tests. */
static void code_at(uint64_t step, char out[static KURA_OTP_CODE_MAX])
{
    assert_int_equal(kura_hotp(SEED(seed20), KURA_OTP_ALG_SHA1, 6, step, out), 0);
}

/* ---- HOTP / TOTP ------------------------------------------------------------------------- */

static void test_hotp_rfc4226(void **state)
{
    (void)state;
    static const char *const want[] = {"755224", "287082", "359152", "969429", "338314",
                                       "254676", "287922", "162583", "399871", "520489"};
    for (uint64_t c = 0; c < KURA_ARRAY_SIZE(want); c++) {
        char code[KURA_OTP_CODE_MAX];
        assert_int_equal(kura_hotp(SEED(seed20), KURA_OTP_ALG_SHA1, 6, c, code), 0);
        assert_string_equal(code, want[c]);
    }
}

static void test_totp_rfc6238(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        enum kura_otp_alg alg;
        const char *code;
    } v[] = {
        {59, KURA_OTP_ALG_SHA1, "94287082"},
        {59, KURA_OTP_ALG_SHA256, "46119246"},
        {59, KURA_OTP_ALG_SHA512, "90693936"},
        {1111111109, KURA_OTP_ALG_SHA1, "07081804"},
        {1111111109, KURA_OTP_ALG_SHA256, "68084774"},
        {1111111109, KURA_OTP_ALG_SHA512, "25091201"},
        {1111111111, KURA_OTP_ALG_SHA1, "14050471"},
        {1111111111, KURA_OTP_ALG_SHA256, "67062674"},
        {1111111111, KURA_OTP_ALG_SHA512, "99943326"},
        {1234567890, KURA_OTP_ALG_SHA1, "89005924"},
        {1234567890, KURA_OTP_ALG_SHA256, "91819424"},
        {1234567890, KURA_OTP_ALG_SHA512, "93441116"},
        {2000000000, KURA_OTP_ALG_SHA1, "69279037"},
        {2000000000, KURA_OTP_ALG_SHA256, "90698825"},
        {2000000000, KURA_OTP_ALG_SHA512, "38618901"},
        {20000000000, KURA_OTP_ALG_SHA1, "65353130"},
        {20000000000, KURA_OTP_ALG_SHA256, "77737706"},
        {20000000000, KURA_OTP_ALG_SHA512, "47863826"},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(v); i++) {
        print_message("vector %zu\n", i);
        const uint8_t *seed = (const uint8_t *)(v[i].alg == KURA_OTP_ALG_SHA1     ? seed20
                                                : v[i].alg == KURA_OTP_ALG_SHA256 ? seed32
                                                                                  : seed64);
        size_t seed_len = v[i].alg == KURA_OTP_ALG_SHA1     ? 20
                          : v[i].alg == KURA_OTP_ALG_SHA256 ? 32
                                                            : 64;
        struct kura_totp_params p = {v[i].alg, 8, 30};
        char code[KURA_OTP_CODE_MAX];
        assert_int_equal(kura_totp_code(seed, seed_len, &p, v[i].t, code), 0);
        assert_string_equal(code, v[i].code);

        uint64_t step = 0;
        assert_int_equal(kura_totp_verify(seed, seed_len, &p, v[i].code, 8, v[i].t, 0, 0, &step),
                         0);
        assert_true(step == (uint64_t)v[i].t / 30);
    }
}

static void test_step_and_ranges(void **state)
{
    (void)state;
    uint64_t step = 7;
    assert_int_equal(kura_totp_step(&p30, 0, &step), 0);
    assert_true(step == 0);
    assert_int_equal(kura_totp_step(&p30, 59, &step), 0);
    assert_true(step == 1);
    assert_int_equal(kura_totp_step(&p30, -1, &step), KURA_ERANGE);
    assert_true(step == 1); /* untouched on failure */

    char code[KURA_OTP_CODE_MAX] = "keep";
    const uint8_t *s = (const uint8_t *)seed64;
    assert_int_equal(kura_hotp(s, KURA_TOTP_SECRET_MIN - 1, KURA_OTP_ALG_SHA1, 6, 0, code),
                     KURA_ERANGE);
    assert_int_equal(kura_hotp(s, KURA_TOTP_SECRET_MIN, KURA_OTP_ALG_SHA1, 6, 0, code), 0);
    assert_int_equal(kura_hotp(s, KURA_TOTP_SECRET_MAX, KURA_OTP_ALG_SHA1, 6, 0, code), 0);
    assert_int_equal(kura_hotp(s, KURA_TOTP_SECRET_MAX + 1, KURA_OTP_ALG_SHA1, 6, 0, code),
                     KURA_ERANGE);
    assert_int_equal(kura_hotp(s, 20, KURA_OTP_ALG_SHA1, 7, 0, code), KURA_ERANGE);
    assert_int_equal(kura_hotp(s, 20, (enum kura_otp_alg)3, 6, 0, code), KURA_ERANGE);

    static const struct kura_totp_params bad[] = {
        {KURA_OTP_ALG_SHA1, 6, KURA_TOTP_PERIOD_MIN - 1},
        {KURA_OTP_ALG_SHA1, 6, KURA_TOTP_PERIOD_MAX + 1},
        {KURA_OTP_ALG_SHA1, 0, 30},
        {KURA_OTP_ALG_SHA1, 10, 30},
        {(enum kura_otp_alg)7, 6, 30},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_int_equal(kura_totp_code(SEED(seed20), &bad[i], 1000, code), KURA_ERANGE);
        assert_int_equal(kura_totp_verify(SEED(seed20), &bad[i], "123456", 6, 1000, 1, 0, &step),
                         KURA_ERANGE);
    }
    assert_int_equal(verify_c("123456", 1000, KURA_TOTP_SKEW_MAX + 1, 0, &step), KURA_ERANGE);
    assert_int_equal(verify_c("123456", -30, 1, 0, &step), KURA_ERANGE);

    /* Near time 0 the window simply starts at step 0. */
    char c0[KURA_OTP_CODE_MAX];
    code_at(0, c0);
    assert_int_equal(verify_c(c0, 5, KURA_TOTP_SKEW_MAX, 0, &step), KURA_EUNAUTH); /* 0 <= last */
    code_at(1, c0);
    assert_int_equal(verify_c(c0, 5, 1, 0, &step), 0);
    assert_true(step == 1);
}

static void test_skew_window(void **state)
{
    (void)state;
    const int64_t now = 1700000015; /* mid-step */
    const uint64_t t = (uint64_t)now / 30;
    char c[KURA_OTP_CODE_MAX];
    uint64_t step = 0;

    const uint64_t near[] = {t - 1, t, t + 1};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(near); i++) {
        code_at(near[i], c);
        assert_int_equal(verify_c(c, now, 1, 0, &step), 0);
        assert_true(step == near[i]);
    }
    step = 42;
    code_at(t - 2, c);
    assert_int_equal(verify_c(c, now, 1, 0, &step), KURA_EUNAUTH);
    code_at(t + 2, c);
    assert_int_equal(verify_c(c, now, 1, 0, &step), KURA_EUNAUTH);
    assert_true(step == 42); /* untouched on failure */
    /* ±2 passes only with skew 2; skew 0 accepts the current step alone. */
    assert_int_equal(verify_c(c, now, 2, 0, &step), 0);
    assert_true(step == t + 2);
    code_at(t + 1, c);
    assert_int_equal(verify_c(c, now, 0, 0, &step), KURA_EUNAUTH);
    code_at(t, c);
    assert_int_equal(verify_c(c, now, 0, 0, &step), 0);

    /* Step boundaries: the last second of step t and the first of t + 1. */
    assert_int_equal(verify_c(c, (int64_t)(t * 30 + 29), 0, 0, &step), 0);
    assert_int_equal(verify_c(c, (int64_t)(t * 30 + 30), 0, 0, &step), KURA_EUNAUTH);
    assert_int_equal(verify_c(c, (int64_t)(t * 30 + 30), 1, 0, &step), 0);

    /* A wrong code of the right shape. */
    char wrong[KURA_OTP_CODE_MAX];
    memcpy(wrong, c, sizeof(wrong));
    wrong[0] = wrong[0] == '9' ? '0' : (char)(wrong[0] + 1);
    assert_int_equal(verify_c(wrong, now, 0, 0, &step), KURA_EUNAUTH);
}

static void test_replay(void **state)
{
    (void)state;
    const int64_t now = 1700000015;
    const uint64_t t = (uint64_t)now / 30;
    char c[KURA_OTP_CODE_MAX];
    uint64_t step = 0, last = 0;

    code_at(t, c);
    assert_int_equal(verify_c(c, now, 1, last, &step), 0);
    assert_true(step == t);
    last = step;
    /* The same code again, in the same step or the next: refused. */
    assert_int_equal(verify_c(c, now, 1, last, &step), KURA_EUNAUTH);
    assert_int_equal(verify_c(c, now + 30, 1, last, &step), KURA_EUNAUTH);
    /* An earlier step's code after a later one was used: refused although inside the window. */
    code_at(t - 1, c);
    assert_int_equal(verify_c(c, now, 1, last, &step), KURA_EUNAUTH);
    /* The next step's code is fresh. */
    code_at(t + 1, c);
    assert_int_equal(verify_c(c, now, 1, last, &step), 0);
    assert_true(step == t + 1);
    last = step;
    code_at(t, c);
    assert_int_equal(verify_c(c, now, 1, last, &step), KURA_EUNAUTH);
}

static void test_code_syntax(void **state)
{
    (void)state;
    const int64_t now = 1700000015;
    char c[KURA_OTP_CODE_MAX];
    code_at((uint64_t)now / 30, c);
    uint64_t step = 0;
    assert_int_equal(verify_c(c, now, 1, 0, &step), 0);

    static const char *const bad[] = {
        "",       "12345",  "1234567",      "12345a",   " 12345", "12345 ", "+12345",  "-12345",
        "1234.5", "12 345", "１２３４５６", "12345678", "abcdef", "0x1234", "123\n45",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        print_message("bad code %zu\n", i);
        assert_int_equal(verify_c(bad[i], now, 1, 0, &step), KURA_ESYNTAX);
    }
    /* The right digits followed by a NUL: the length counts, not the C string. */
    char nul[8];
    memcpy(nul, c, 6);
    nul[6] = '\0';
    assert_int_equal(kura_totp_verify(SEED(seed20), &p30, nul, 7, now, 1, 0, &step), KURA_ESYNTAX);
    /* Six digits when eight are expected. */
    struct kura_totp_params p8 = {KURA_OTP_ALG_SHA1, 8, 30};
    assert_int_equal(kura_totp_verify(SEED(seed20), &p8, c, 6, now, 1, 0, &step), KURA_ESYNTAX);
}

static void test_secret_generate(void **state)
{
    (void)state;
    uint8_t a[KURA_TOTP_SECRET_BYTES], b[KURA_TOTP_SECRET_BYTES];
    assert_int_equal(kura_totp_secret_generate(a), 0);
    assert_int_equal(kura_totp_secret_generate(b), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    struct kura_buf out = KURA_BUF_INIT_SECRET(128);
    assert_int_equal(kura_base32_encode(a, sizeof(a), &out), 0);
    assert_int_equal(out.len, 32); /* 160 bits, no padding */
    uint8_t back[KURA_TOTP_SECRET_MAX];
    size_t n = 0;
    assert_int_equal(kura_base32_decode(out.ptr, out.len, back, sizeof(back), &n), 0);
    assert_int_equal(n, sizeof(a));
    assert_memory_equal(a, back, n);
    kura_buf_release_wipe(&out);
    sodium_memzero(a, sizeof(a));
    sodium_memzero(b, sizeof(b));
}

/* ---- Base32 ------------------------------------------------------------------------------- */

static void test_base32_vectors(void **state)
{
    (void)state;
    /* RFC 4648 §10, without the padding kura never writes. */
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", ""},
        {"f", "MY"},
        {"fo", "MZXQ"},
        {"foo", "MZXW6"},
        {"foob", "MZXW6YQ"},
        {"fooba", "MZXW6YTB"},
        {"foobar", "MZXW6YTBOI"},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(v); i++) {
        struct kura_buf out = KURA_BUF_INIT(64);
        assert_int_equal(kura_base32_encode((const uint8_t *)v[i].in, strlen(v[i].in), &out), 0);
        assert_string_equal(kura_buf_str(&out).ptr, v[i].out);
        uint8_t dec[16];
        size_t n = 99;
        assert_int_equal(kura_base32_decode(v[i].out, strlen(v[i].out), dec, sizeof(dec), &n), 0);
        assert_int_equal(n, strlen(v[i].in));
        assert_memory_equal(dec, v[i].in, n);
        kura_buf_release(&out);
    }
    struct kura_buf out = KURA_BUF_INIT(64);
    assert_int_equal(kura_base32_encode(SEED(seed20), &out), 0);
    assert_string_equal(out.ptr, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    kura_buf_release(&out);
}

static void test_base32_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "MY======", /* padding */
        "my",       /* lower case */
        "M",        /* 1, 3, 6 characters modulo 8 hold no whole byte */
        "MZX",      "MZXW6Y", "MZXW6YTBM", "MZ", /* unused bits set: 'Z' = 11001, last two bits must
                                                    be 0 */
        "MZXR",     "MZXW7",  "MZXW6YR",   "MY1", "M0", "M8", "MY ", " MY", "MY\n", "MZ-XQ",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        print_message("bad base32: %s\n", bad[i]);
        uint8_t dec[16] = {0};
        size_t n = 99;
        assert_int_equal(kura_base32_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n),
                         KURA_ESYNTAX);
        assert_int_equal(n, 99);
    }
    assert_int_equal(kura_base32_decode("MY\0", 3, (uint8_t[4]){0}, 4, &(size_t){0}), KURA_ESYNTAX);
    /* Output too small: nothing written. */
    uint8_t small[5] = {7, 7, 7, 7, 7};
    size_t n = 99;
    assert_int_equal(kura_base32_decode("MZXW6YTBOI", 10, small, sizeof(small), &n), -ENOBUFS);
    assert_int_equal(small[0], 7);
    assert_int_equal(n, 99);
    /* Encoding into a buffer whose max is too small leaves it as it was. */
    struct kura_buf out = KURA_BUF_INIT(8);
    kura_buf_adds(&out, "ab");
    assert_int_equal(kura_base32_encode((const uint8_t *)"foobar", 6, &out), KURA_ETOOBIG);
    assert_string_equal(out.ptr, "ab");
    assert_int_equal(kura_buf_err(&out), 0);
    kura_buf_release(&out);
}

static void test_base32_round_trips(void **state)
{
    (void)state;
    uint8_t in[KURA_TOTP_SECRET_MAX + 3];
    randombytes_buf(in, sizeof(in));
    for (size_t len = 0; len <= sizeof(in); len++) {
        struct kura_buf out = KURA_BUF_INIT(256);
        assert_int_equal(kura_base32_encode(in, len, &out), 0);
        assert_int_equal(out.len, (len * 8 + 4) / 5);
        uint8_t dec[sizeof(in)];
        size_t n = 0;
        assert_int_equal(kura_base32_decode(out.ptr, out.len, dec, sizeof(dec), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, in, len);
        kura_buf_release(&out);
    }
}

/* ---- otpauth URIs ------------------------------------------------------------------------- */

static void key_c(const char *issuer, const char *account, const struct kura_totp_params *p,
                  struct kura_totp_key *k)
{
    assert_int_equal(
        kura_totp_key_init(issuer, strlen(issuer), account, strlen(account), SEED(seed20), p, k),
        0);
}

static void assert_key_equal(const struct kura_totp_key *a, const struct kura_totp_key *b)
{
    assert_int_equal(a->issuer_len, b->issuer_len);
    assert_memory_equal(a->issuer, b->issuer, a->issuer_len + 1);
    assert_int_equal(a->account_len, b->account_len);
    assert_memory_equal(a->account, b->account, a->account_len + 1);
    assert_int_equal(a->secret_len, b->secret_len);
    assert_memory_equal(a->secret, b->secret, a->secret_len);
    assert_int_equal(a->params.alg, b->params.alg);
    assert_int_equal(a->params.digits, b->params.digits);
    assert_int_equal(a->params.period, b->params.period);
}

static void round_trip(const struct kura_totp_key *k, const char *want)
{
    struct kura_buf uri = KURA_BUF_INIT_SECRET(KURA_TOTP_URI_MAX);
    assert_int_equal(kura_totp_uri_build(k, &uri), 0);
    print_message("%s\n", uri.ptr);
    if (want) {
        assert_string_equal(uri.ptr, want);
    }
    struct kura_totp_key back;
    assert_int_equal(kura_totp_uri_parse(uri.ptr, uri.len, &back), 0);
    assert_key_equal(k, &back);
    kura_totp_key_clear(&back);
    kura_buf_release_wipe(&uri);
}

static void test_uri_round_trip(void **state)
{
    (void)state;
    struct kura_totp_key k;
    key_c("Kura Lab", "alice@example.org", &kura_totp_params_default, &k);
    round_trip(&k, "otpauth://totp/Kura%20Lab:alice%40example.org"
                   "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Kura%20Lab"
                   "&algorithm=SHA1&digits=6&period=30");

    /* Japanese account and issuer: UTF-8 bytes, percent-encoded. */
    key_c("研究データ", "山田太郎", &kura_totp_params_default, &k);
    round_trip(&k, "otpauth://totp/%E7%A0%94%E7%A9%B6%E3%83%87%E3%83%BC%E3%82%BF:"
                   "%E5%B1%B1%E7%94%B0%E5%A4%AA%E9%83%8E"
                   "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                   "&issuer=%E7%A0%94%E7%A9%B6%E3%83%87%E3%83%BC%E3%82%BF"
                   "&algorithm=SHA1&digits=6&period=30");

    struct kura_totp_params p = {KURA_OTP_ALG_SHA512, 8, 60};
    key_c("A&B=C?D#E/F%G+H", "x y~z_-.", &p, &k);
    round_trip(&k, "otpauth://totp/A%26B%3DC%3FD%23E%2FF%25G%2BH:x%20y~z_-."
                   "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=A%26B%3DC%3FD%23E%2FF%25G%2BH"
                   "&algorithm=SHA512&digits=8&period=60");

    /* The largest key: every byte escaped, the longest secret — still within the URI limit. */
    char issuer[KURA_TOTP_ISSUER_MAX + 1], account[KURA_TOTP_ACCOUNT_MAX + 1];
    memset(issuer, '!', KURA_TOTP_ISSUER_MAX);
    issuer[KURA_TOTP_ISSUER_MAX] = '\0';
    memset(account, '@', KURA_TOTP_ACCOUNT_MAX);
    account[KURA_TOTP_ACCOUNT_MAX] = '\0';
    struct kura_totp_params pmax = {KURA_OTP_ALG_SHA256, 8, 120};
    assert_int_equal(kura_totp_key_init(issuer, KURA_TOTP_ISSUER_MAX, account,
                                        KURA_TOTP_ACCOUNT_MAX, SEED(seed64), &pmax, &k),
                     0);
    round_trip(&k, NULL);
    kura_totp_key_clear(&k);
}

static int parse_c(const char *uri, struct kura_totp_key *k)
{
    return kura_totp_uri_parse(uri, strlen(uri), k);
}

#define SECRET "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static void test_uri_accepted_forms(void **state)
{
    (void)state;
    struct kura_totp_key want, k;
    key_c("Kura", "alice", &kura_totp_params_default, &want);
    static const char *const ok[] = {
        "otpauth://totp/Kura:alice?" SECRET,
        "otpauth://totp/Kura%3Aalice?" SECRET,
        "otpauth://totp/Kura%3aalice?" SECRET "&issuer=Kura",
        "otpauth://totp/alice?" SECRET "&issuer=Kura",
        "otpauth://totp/alice?issuer=Kura&" SECRET,
        "otpauth://totp/Kura:alice?" SECRET "&issuer=Kura&algorithm=SHA1&digits=6&period=30",
        "otpauth://totp/Kura:alice?period=30&digits=6&algorithm=SHA1&" SECRET,
        "otpauth://totp/%4Bura:%61lice?" SECRET,
        "otpauth://totp/Kura:alice?" SECRET "&digits=06",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(ok); i++) {
        print_message("ok: %s\n", ok[i]);
        assert_int_equal(parse_c(ok[i], &k), 0);
        assert_key_equal(&want, &k);
    }
    struct kura_totp_params p = {KURA_OTP_ALG_SHA256, 8, 15};
    key_c("Kura", "alice", &p, &want);
    assert_int_equal(
        parse_c("otpauth://totp/Kura:alice?" SECRET "&algorithm=SHA256&digits=8&period=15", &k), 0);
    assert_key_equal(&want, &k);
    kura_totp_key_clear(&k);
    kura_totp_key_clear(&want);
}

static void test_uri_hostile(void **state)
{
    (void)state;
    static const struct {
        const char *uri;
        int err;
    } bad[] = {
        {"", KURA_ESYNTAX},
        {"otpauth://", KURA_ESYNTAX},
        {"otpauth://totp/", KURA_ESYNTAX},
        {"OTPAUTH://totp/Kura:alice?" SECRET, KURA_ESYNTAX},
        {"otpauth://TOTP/Kura:alice?" SECRET, KURA_ESYNTAX},
        {"http://totp/Kura:alice?" SECRET, KURA_ESYNTAX},
        {"otpauth://hotp/Kura:alice?" SECRET "&counter=1", KURA_EUNSUPPORTED},
        {"otpauth://totp/Kura:alice", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?issuer=Kura", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?&" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&&digits=6", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&digits=6&digits=6", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&image=http://x/", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&Secret=GEZDGNBV", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&digits", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&algorithm=MD5", KURA_EUNSUPPORTED},
        {"otpauth://totp/Kura:alice?" SECRET "&algorithm=sha1", KURA_EUNSUPPORTED},
        {"otpauth://totp/Kura:alice?" SECRET "&algorithm=", KURA_EUNSUPPORTED},
        {"otpauth://totp/Kura:alice?" SECRET "&digits=7", KURA_ERANGE},
        {"otpauth://totp/Kura:alice?" SECRET "&digits=5", KURA_ERANGE},
        {"otpauth://totp/Kura:alice?" SECRET "&digits=10", KURA_ERANGE},
        {"otpauth://totp/Kura:alice?" SECRET "&digits=99999999999999999999999", KURA_ERANGE},
        {"otpauth://totp/Kura:alice?" SECRET "&digits=-6", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&digits=%206", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&digits=", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&period=14", KURA_ERANGE},
        {"otpauth://totp/Kura:alice?" SECRET "&period=121", KURA_ERANGE},
        {"otpauth://totp/Kura:alice?" SECRET "&period=0", KURA_ERANGE},
        {"otpauth://totp/Kura:alice?secret=JBSWY3DPEHPK3PXP", KURA_ERANGE}, /* 80 bits */
        {"otpauth://totp/Kura:alice?secret=", KURA_ERANGE},
        {"otpauth://totp/Kura:alice?secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice%00?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice%0A?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice%7F?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice%FF?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:%C0%AF?" SECRET, KURA_ESYNTAX},    /* overlong '/' */
        {"otpauth://totp/Kura:%ED%A0%80?" SECRET, KURA_ESYNTAX}, /* surrogate */
        {"otpauth://totp/Kura:%E5%B1?" SECRET, KURA_ESYNTAX},    /* truncated */
        {"otpauth://totp/Kura:alice%?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice%4?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice%G1?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:al ice?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:al\tice?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:山田?" SECRET, KURA_ESYNTAX}, /* raw UTF-8: must be escaped */
        {"otpauth://totp/Kura:alice/x?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "#frag", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&issuer=Kura\"", KURA_ESYNTAX},
        {"otpauth://totp/Kura:a:b?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura%3Aa%3Ab?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/:alice?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/Kura:?" SECRET, KURA_ESYNTAX},
        {"otpauth://totp/?" SECRET "&issuer=Kura", KURA_ESYNTAX},
        {"otpauth://totp/alice?" SECRET, KURA_ESYNTAX}, /* no issuer at all */
        {"otpauth://totp/Kura:alice?" SECRET "&issuer=Other", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&issuer=kura", KURA_ESYNTAX},
        {"otpauth://totp/Kura:alice?" SECRET "&issuer=", KURA_ESYNTAX},
        {"otpauth://totp/alice?" SECRET "&issuer=Ku%3Ara", KURA_ESYNTAX},
        {"otpauth://totp/%20Kura:alice?" SECRET, 0}, /* a space is a character like others */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        print_message("hostile %zu: %s\n", i, bad[i].uri);
        struct kura_totp_key k = {.issuer_len = 77};
        assert_int_equal(parse_c(bad[i].uri, &k), bad[i].err);
        if (bad[i].err != 0) {
            assert_int_equal(k.issuer_len, 77); /* untouched on failure */
        }
        kura_totp_key_clear(&k);
    }

    /* Embedded NUL, length-delimited. */
    static const char nul[] = "otpauth://totp/Kura:al\0ice?" SECRET;
    struct kura_totp_key k;
    assert_int_equal(kura_totp_uri_parse(nul, sizeof(nul) - 1, &k), KURA_ESYNTAX);

    /* Length limits: the URI, the account, the issuer. */
    char big[KURA_TOTP_URI_MAX + 64];
    int n = snprintf(big, sizeof(big), "otpauth://totp/Kura:%0*d?" SECRET,
                     (int)(KURA_TOTP_URI_MAX - 50), 0);
    assert_true(n > (int)KURA_TOTP_URI_MAX);
    assert_int_equal(kura_totp_uri_parse(big, (size_t)n, &k), KURA_ETOOBIG);
    n = snprintf(big, sizeof(big), "otpauth://totp/Kura:%0*d?" SECRET,
                 (int)KURA_TOTP_ACCOUNT_MAX + 1, 0);
    assert_int_equal(kura_totp_uri_parse(big, (size_t)n, &k), KURA_ETOOBIG);
    n = snprintf(big, sizeof(big), "otpauth://totp/Kura:%0*d?" SECRET, (int)KURA_TOTP_ACCOUNT_MAX,
                 0);
    assert_int_equal(kura_totp_uri_parse(big, (size_t)n, &k), 0);
    n = snprintf(big, sizeof(big), "otpauth://totp/a?" SECRET "&issuer=%0*d",
                 (int)KURA_TOTP_ISSUER_MAX + 1, 0);
    assert_int_equal(kura_totp_uri_parse(big, (size_t)n, &k), KURA_ETOOBIG);
    kura_totp_key_clear(&k);
}

static void test_key_init_rejects(void **state)
{
    (void)state;
    struct kura_totp_key k = {.issuer_len = 77};
    static const char *const bad[] = {"", "a:b", "a\nb", "a\x7f", "\xff", "\xc0\xaf", "a\tb"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        size_t len = strlen(bad[i]);
        assert_int_equal(kura_totp_key_init(bad[i], len, "alice", 5, SEED(seed20),
                                            &kura_totp_params_default, &k),
                         KURA_ESYNTAX);
        assert_int_equal(
            kura_totp_key_init("Kura", 4, bad[i], len, SEED(seed20), &kura_totp_params_default, &k),
            KURA_ESYNTAX);
    }
    assert_int_equal(
        kura_totp_key_init("Ku\0ra", 5, "alice", 5, SEED(seed20), &kura_totp_params_default, &k),
        KURA_ESYNTAX);
    char long_name[KURA_TOTP_ACCOUNT_MAX + 1];
    memset(long_name, 'a', sizeof(long_name));
    assert_int_equal(kura_totp_key_init(long_name, KURA_TOTP_ISSUER_MAX + 1, "alice", 5,
                                        SEED(seed20), &kura_totp_params_default, &k),
                     KURA_ETOOBIG);
    assert_int_equal(kura_totp_key_init("Kura", 4, long_name, KURA_TOTP_ACCOUNT_MAX + 1,
                                        SEED(seed20), &kura_totp_params_default, &k),
                     KURA_ETOOBIG);
    assert_int_equal(kura_totp_key_init("Kura", 4, "alice", 5, (const uint8_t *)seed20, 10,
                                        &kura_totp_params_default, &k),
                     KURA_ERANGE);
    struct kura_totp_params p = {KURA_OTP_ALG_SHA1, 7, 30};
    assert_int_equal(kura_totp_key_init("Kura", 4, "alice", 5, SEED(seed20), &p, &k), KURA_ERANGE);
    assert_int_equal(k.issuer_len, 77);

    /* The builder checks the key again, and keeps a too-small buffer as it was. */
    key_c("Kura", "alice", &kura_totp_params_default, &k);
    struct kura_buf uri = KURA_BUF_INIT_SECRET(40);
    kura_buf_adds(&uri, "x");
    assert_int_equal(kura_totp_uri_build(&k, &uri), KURA_ETOOBIG);
    assert_string_equal(uri.ptr, "x");
    k.account[2] = ':';
    assert_int_equal(kura_totp_uri_build(&k, &uri), KURA_ESYNTAX);
    kura_buf_release_wipe(&uri);
    kura_totp_key_clear(&k);
    for (size_t i = 0; i < sizeof(k); i++) {
        assert_int_equal(((const unsigned char *)&k)[i], 0);
    }
}

/* ---- QR code ------------------------------------------------------------------------------ */

static void test_qr_svg(void **state)
{
    (void)state;
    struct kura_totp_key k;
    key_c("Kura Lab", "山田太郎", &kura_totp_params_default, &k);
    struct kura_buf uri = KURA_BUF_INIT_SECRET(KURA_TOTP_URI_MAX);
    assert_int_equal(kura_totp_uri_build(&k, &uri), 0);
    struct kura_buf svg = KURA_BUF_INIT_SECRET(KURA_TOTP_SVG_MAX);
    assert_int_equal(kura_totp_qr_svg(uri.ptr, uri.len, &svg), 0);
    assert_true(strncmp(svg.ptr, "<svg", 4) == 0);
    assert_non_null(strstr(svg.ptr, "viewBox=\"0 0 "));
    assert_non_null(strstr(svg.ptr, "<path fill=\"#000\" d=\"M4 4h7v1h-7z")); /* finder pattern */
    assert_null(strstr(strstr(svg.ptr, "<path") + 1, "<path"));               /* exactly one path */
    assert_true(svg.len > 500 && svg.len < KURA_TOTP_SVG_MAX);
    assert_string_equal(svg.ptr + svg.len - 7, "</svg>\n");
    print_message("svg for a %zu-byte URI: %zu bytes\n", uri.len, svg.len);
    kura_buf_release_wipe(&svg);

    /* Version 1 (21 modules) plus two quiet zones of 4. */
    svg = KURA_BUF_INIT(KURA_TOTP_SVG_MAX);
    assert_int_equal(kura_totp_qr_svg("HELLO", 5, &svg), 0);
    assert_non_null(strstr(svg.ptr, "viewBox=\"0 0 29 29\""));
    kura_buf_release(&svg);

    /* The largest input fits under KURA_TOTP_SVG_MAX. */
    char big[KURA_TOTP_URI_MAX];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (char)(0x21 + (i * 7919) % 94);
    }
    svg = KURA_BUF_INIT(KURA_TOTP_SVG_MAX);
    assert_int_equal(kura_totp_qr_svg(big, sizeof(big), &svg), 0);
    print_message("svg for %zu bytes: %zu bytes\n", sizeof(big), svg.len);
    kura_buf_release(&svg);

    /* Refusals leave the buffer as it was. */
    svg = KURA_BUF_INIT(200);
    kura_buf_adds(&svg, "keep");
    assert_int_equal(kura_totp_qr_svg(uri.ptr, uri.len, &svg), KURA_ETOOBIG);
    assert_string_equal(svg.ptr, "keep");
    assert_int_equal(kura_totp_qr_svg("", 0, &svg), KURA_ERANGE);
    assert_int_equal(kura_totp_qr_svg(big, sizeof(big) + 1, &svg), KURA_ERANGE);
    assert_int_equal(kura_totp_qr_svg("a\0b", 3, &svg), KURA_ESYNTAX);
    assert_string_equal(svg.ptr, "keep");
    kura_buf_release(&svg);
    kura_buf_release_wipe(&uri);
    kura_totp_key_clear(&k);
}

/* ---- recovery codes ----------------------------------------------------------------------- */

static const uint8_t rkey[KURA_RECOVERY_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void test_recovery_generate(void **state)
{
    (void)state;
    char codes[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX];
    uint8_t hashes[KURA_RECOVERY_CODES][KURA_RECOVERY_HASH_BYTES];
    assert_int_equal(kura_recovery_generate(rkey, codes, hashes), 0);
    for (size_t i = 0; i < KURA_RECOVERY_CODES; i++) {
        print_message("%s\n", codes[i]);
        assert_int_equal(strlen(codes[i]), 11);
        assert_int_equal(codes[i][5], '-');
        for (size_t j = 0; j < 11; j++) {
            if (j != 5) {
                assert_non_null(strchr(KURA_RECOVERY_ALPHABET, codes[i][j]));
                assert_null(strchr("ILOU", codes[i][j]));
            }
        }
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(codes[i], codes[j]);
            assert_memory_not_equal(hashes[i], hashes[j], KURA_RECOVERY_HASH_BYTES);
        }
        size_t idx = 99;
        assert_int_equal(kura_recovery_check(rkey, codes[i], strlen(codes[i]),
                                             (const uint8_t(*)[KURA_RECOVERY_HASH_BYTES])hashes,
                                             KURA_RECOVERY_CODES, &idx),
                         0);
        assert_int_equal(idx, i);
    }
    /* Used codes are removed by the caller; then the same code no longer works. */
    size_t idx = 99;
    assert_int_equal(kura_recovery_check(rkey, codes[0], 11,
                                         (const uint8_t(*)[KURA_RECOVERY_HASH_BYTES])hashes + 1,
                                         KURA_RECOVERY_CODES - 1, &idx),
                     KURA_EUNAUTH);
    assert_int_equal(idx, 99);
    /* The last code lives at index KURA_RECOVERY_CODES - 2 of the shortened list. */
    assert_int_equal(kura_recovery_check(rkey, codes[KURA_RECOVERY_CODES - 1], 11,
                                         (const uint8_t(*)[KURA_RECOVERY_HASH_BYTES])hashes + 1,
                                         KURA_RECOVERY_CODES - 1, &idx),
                     0);
    assert_int_equal(idx, KURA_RECOVERY_CODES - 2);
    /* Another key: nothing matches. */
    uint8_t other[KURA_RECOVERY_KEY_BYTES] = {9};
    assert_int_equal(kura_recovery_check(other, codes[3], 11,
                                         (const uint8_t(*)[KURA_RECOVERY_HASH_BYTES])hashes,
                                         KURA_RECOVERY_CODES, &idx),
                     KURA_EUNAUTH);
    /* No stored codes at all. */
    assert_int_equal(kura_recovery_check(rkey, codes[3], 11, NULL, 0, &idx), KURA_EUNAUTH);

    /* Another set is different. */
    char codes2[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX];
    uint8_t hashes2[KURA_RECOVERY_CODES][KURA_RECOVERY_HASH_BYTES];
    assert_int_equal(kura_recovery_generate(rkey, codes2, hashes2), 0);
    assert_memory_not_equal(codes, codes2, sizeof(codes));
    sodium_memzero(codes, sizeof(codes));
    sodium_memzero(codes2, sizeof(codes2));
}

static void test_recovery_normalise(void **state)
{
    (void)state;
    /* The stored hash is HMAC-SHA-256(key, "ABCDEFGHJK"), checked with libsodium's HMAC. */
    uint8_t want[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, rkey, sizeof(rkey));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"0BCDEFGH1K", 10);
    crypto_auth_hmacsha256_final(&st, want);

    uint8_t stored[2][KURA_RECOVERY_HASH_BYTES];
    memset(stored[0], 0xAA, sizeof(stored[0]));
    assert_int_equal(kura_recovery_hash(rkey, "0BCDE-FGH1K", 11, stored[1]), 0);
    assert_memory_equal(stored[1], want, sizeof(want));

    static const char *const same[] = {
        "0BCDE-FGH1K",    "0bcde-fgh1k", "0BCDEFGH1K",  "0bcdefgh1k",   " 0BCDE FGH1K ",
        "0B-CD-EF-GH-1K", "OBCDE-FGHIK", "obcde-fghlk", "0BCDE--FGH1K",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(same); i++) {
        print_message("same: '%s'\n", same[i]);
        size_t idx = 99;
        assert_int_equal(kura_recovery_check(rkey, same[i], strlen(same[i]),
                                             (const uint8_t(*)[KURA_RECOVERY_HASH_BYTES])stored, 2,
                                             &idx),
                         0);
        assert_int_equal(idx, 1);
    }
    static const char *const wrong[] = {"0BCDE-FGH1M", "1BCDE-FGH1K", "ZZZZZ-ZZZZZ"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(wrong); i++) {
        size_t idx = 99;
        assert_int_equal(kura_recovery_check(rkey, wrong[i], strlen(wrong[i]),
                                             (const uint8_t(*)[KURA_RECOVERY_HASH_BYTES])stored, 2,
                                             &idx),
                         KURA_EUNAUTH);
        assert_int_equal(idx, 99);
    }
    static const char *const malformed[] = {
        "",
        "0BCDE-FGH1",
        "0BCDE-FGH1KK",
        "0BCDE-FGH1U",
        "0BCDE_FGH1K",
        "0BCDE\tFGH1K",
        "0BCDE-FGH1K\n",
        "0BCDÉ-FGH1K",
        "0BCDE+FGH1K",
        "-----------",
        "0BCDE-FGH1K                                                          ",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(malformed); i++) {
        print_message("malformed: '%s'\n", malformed[i]);
        size_t idx = 99;
        assert_int_equal(kura_recovery_check(rkey, malformed[i], strlen(malformed[i]),
                                             (const uint8_t(*)[KURA_RECOVERY_HASH_BYTES])stored, 2,
                                             &idx),
                         KURA_ESYNTAX);
    }
    uint8_t h[KURA_RECOVERY_HASH_BYTES];
    assert_int_equal(kura_recovery_hash(rkey, "0BCDE\0FGH1K", 11, h), KURA_ESYNTAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotp_rfc4226),
        cmocka_unit_test(test_totp_rfc6238),
        cmocka_unit_test(test_step_and_ranges),
        cmocka_unit_test(test_skew_window),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_code_syntax),
        cmocka_unit_test(test_secret_generate),
        cmocka_unit_test(test_base32_vectors),
        cmocka_unit_test(test_base32_rejects),
        cmocka_unit_test(test_base32_round_trips),
        cmocka_unit_test(test_uri_round_trip),
        cmocka_unit_test(test_uri_accepted_forms),
        cmocka_unit_test(test_uri_hostile),
        cmocka_unit_test(test_key_init_rejects),
        cmocka_unit_test(test_qr_svg),
        cmocka_unit_test(test_recovery_generate),
        cmocka_unit_test(test_recovery_normalise),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
