/* Unit tests for password policy profiles, resolving kura.conf, and checking candidates. The
 * dictionary tests need cracklib-runtime's dictionary (scripts/deps.sh installs it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/policy.h"

static const char *const names[] = {"kura-default", "nist", "nbdc",     "mhlw6-a", "mhlw6-b",
                                    "mhlw6-c",      "ccat", "iso27001", "kiyosu"};

static const struct kura_password_policy *profile(const char *name)
{
    const struct kura_password_policy *p = kura_password_policy_by_name(name);
    assert_non_null(p);
    return p;
}

/* Checks pw (a C string) and returns the verdict's code; both messages must be present exactly
 * when the password is refused. */
static const char *check_ctx(const struct kura_password_policy *p, const char *pw, size_t len,
                             const struct kura_password_context *ctx,
                             struct kura_password_verdict *v)
{
    assert_int_equal(kura_password_check(p, pw, len, ctx, v), 0);
    assert_non_null(v->code);
    if (v->ok) {
        assert_string_equal(v->code, "ok");
        assert_string_equal(v->message_en, "");
        assert_string_equal(v->message_ja, "");
    } else {
        assert_true(strlen(v->message_en) > 10);
        assert_true(strlen(v->message_ja) > 10);
        /* The Japanese message is Japanese: it has bytes outside ASCII. */
        bool non_ascii = false;
        for (const char *c = v->message_ja; *c; c++) {
            non_ascii = non_ascii || (unsigned char)*c >= 0x80;
        }
        assert_true(non_ascii);
        assert_string_not_equal(v->message_en, v->message_ja);
    }
    return v->code;
}

static const char *check(const char *name, const char *pw, struct kura_password_verdict *v)
{
    return check_ctx(profile(name), pw, strlen(pw), NULL, v);
}

static const char *code_of(const char *name, const char *pw)
{
    static struct kura_password_verdict v;
    return check(name, pw, &v);
}

/* n code points of a Japanese text that libcrack2 accepts (a line of 方丈記, repeated). */
static void japanese(char *out, size_t out_size, size_t n)
{
    static const char *const text[] = {"ゆ", "く", "河", "の", "流", "れ", "は", "絶",
                                       "え", "ず", "し", "て", "し", "か", "も", "も",
                                       "と", "の", "水", "に", "あ", "ら", "ず"};
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        (void)snprintf(out + len, out_size - len, "%s", text[i % KURA_ARRAY_SIZE(text)]);
    }
}

/* n characters from a fixed pseudo-random sequence over letters, digits and symbols. */
static void scrambled(char *out, size_t n)
{
    static const char alphabet[] =
        "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%&*+-=?@^_~";
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = alphabet[x % (sizeof(alphabet) - 1)];
    }
    out[n] = '\0';
}

static void test_profiles(void **state)
{
    (void)state;
    size_t n = 0;
    for (const struct kura_password_policy *p = kura_password_policy_at(0); p;
         p = kura_password_policy_at(++n)) {
        print_message("profile %s\n", p->name);
        assert_ptr_equal(kura_password_policy_by_name(p->name), p);
        assert_int_equal(p->overrides, 0);
        assert_int_equal(kura_password_policy_validate(p, NULL), 0);
    }
    assert_int_equal(n, KURA_ARRAY_SIZE(names));
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        assert_non_null(kura_password_policy_by_name(names[i]));
    }
    assert_null(kura_password_policy_by_name("none"));
    assert_null(kura_password_policy_by_name(NULL));

    /* The numbers. */
    const struct kura_password_policy *d = profile("kura-default");
    assert_int_equal(d->min_length, 15);
    assert_true(d->max_length >= 128);
    assert_int_equal(d->mfa, KURA_MFA_ALL);
    assert_int_equal(d->required_classes | d->min_classes | d->max_age_days, 0);
    assert_true(d->dictionary && d->forbid_user_info && d->change_first_login);
    assert_int_equal(d->backoff_after, 5);
    assert_int_equal(d->lockout_threshold, 10);
    assert_int_equal(d->lockout_mode, KURA_LOCKOUT_UNTIL_RESET);
    /* Its ID rule is kura_id_rule_default (policy.c spells it out). */
    assert_int_equal(d->id_rule.min_len, kura_id_rule_default.min_len);
    assert_int_equal(d->id_rule.max_len, kura_id_rule_default.max_len);
    assert_int_equal(d->id_rule.first, kura_id_rule_default.first);
    assert_int_equal(d->id_rule.rest, kura_id_rule_default.rest);

    const struct kura_password_policy *c = profile("ccat");
    assert_int_equal(c->mfa, KURA_MFA_ALL);
    assert_int_equal(c->min_length, 8);
    assert_int_equal(c->min_classes, 3);
    assert_int_equal(c->max_age_days, 180);
    assert_int_equal(c->lockout_threshold, 6);
    assert_int_equal(c->lockout_mode, KURA_LOCKOUT_UNTIL_RESET);

    const struct kura_password_policy *iso = profile("iso27001");
    assert_int_equal(iso->min_length, 8);
    assert_int_equal(iso->required_classes, KURA_PASSWORD_CLASS_UPPER | KURA_PASSWORD_CLASS_LOWER |
                                                KURA_PASSWORD_CLASS_SYMBOL);
    assert_int_equal(iso->max_age_days, 90);
    assert_int_equal(iso->history, 10);
    assert_int_equal(iso->lockout_threshold, 10);
    assert_int_equal(iso->mfa, KURA_MFA_PRIVILEGED);

    const struct kura_password_policy *b = profile("mhlw6-b");
    assert_int_equal(b->min_length, 8);
    assert_true(b->max_age_days > 0 && b->max_age_days <= 60);
    assert_int_equal(b->history, 10);
    assert_int_equal(profile("mhlw6-a")->min_length, 13);
    assert_int_equal(profile("mhlw6-c")->mfa, KURA_MFA_ALL);
    assert_int_equal(profile("nist")->lockout_threshold, 100);
    assert_int_equal(profile("nbdc")->min_length, 8);

    const struct kura_password_policy *k = profile("kiyosu");
    assert_int_equal(k->min_length, 8);
    assert_int_equal(k->max_length, 8);
    assert_int_equal(k->charset, KURA_PASSWORD_CHARSET_ALNUM);
    assert_true(kura_auth_id_valid("AB12cd34EF", 10, &k->id_rule));
    assert_false(kura_auth_id_valid("AB12cd34E", 9, &k->id_rule));
    assert_false(kura_auth_id_valid("AB12cd34E.", 10, &k->id_rule));
}

static void test_length_in_code_points(void **state)
{
    (void)state;
    char pw[4096];
    struct kura_password_verdict v;

    /* kura-default: 15 Japanese characters (45 bytes) pass, 14 do not. */
    japanese(pw, sizeof(pw), 14);
    assert_int_equal(strlen(pw), 42);
    assert_string_equal(check("kura-default", pw, &v), "too_short");
    assert_int_equal(v.length, 14);
    assert_non_null(strstr(v.message_en, "at least 15 characters"));
    assert_non_null(strstr(v.message_ja, "15文字以上"));
    japanese(pw, sizeof(pw), 15);
    assert_string_equal(check("kura-default", pw, &v), "ok");
    assert_int_equal(v.length, 15);

    /* ASCII likewise. */
    assert_string_equal(code_of("kura-default", "fjq83!kd-Lmz#2"), "too_short");
    assert_string_equal(code_of("kura-default", "fjq83!kd-Lmz#2w"), "ok");

    /* The maximum: 256 code points pass, 257 do not; more than 1024 bytes never reach utf8proc. */
    scrambled(pw, 256);
    assert_string_equal(check("kura-default", pw, &v), "ok");
    scrambled(pw, 257);
    assert_string_equal(check("kura-default", pw, &v), "too_long");
    assert_non_null(strstr(v.message_en, "at most 256 characters"));
    assert_non_null(strstr(v.message_ja, "256文字以下"));
    scrambled(pw, KURA_PASSWORD_MAX + 1);
    assert_string_equal(check("kura-default", pw, &v), "too_long");
    assert_int_equal(v.length, 0);
    /* 256 Japanese characters are 768 bytes: within both limits. */
    japanese(pw, sizeof(pw), 256);
    assert_string_equal(check("kura-default", pw, &v), "ok");
    assert_int_equal(v.length, 256);

    /* The empty password is too short, whatever the profile. */
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        assert_string_equal(code_of(names[i], ""), "too_short");
    }

    /* nbdc: 8 is enough; 7 is not. */
    assert_string_equal(code_of("nbdc", "fjq83!kd"), "ok");
    assert_string_equal(check("nbdc", "fjq83!k", &v), "too_short");
    assert_non_null(strstr(v.message_en, "at least 8 characters"));
    assert_non_null(strstr(v.message_ja, "8文字以上"));
}

static void test_nfkc(void **state)
{
    (void)state;
    char *n = NULL;
    size_t len = 0;
    /* Full-width letters become ASCII. */
    assert_int_equal(
        kura_password_normalize("ｐａｓｓｗｏｒｄ", strlen("ｐａｓｓｗｏｒｄ"), &n, &len), 0);
    assert_int_equal(len, 8);
    assert_string_equal(n, "password");
    n = kura_password_normalized_free(n, len);
    assert_null(n);
    /* Decomposed becomes composed; a ligature becomes its letters; half-width kana full. */
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"A\xcc\x8a", "\xc3\x85"},          /* A + COMBINING RING → Å */
        {"\xef\xac\x81", "fi"},             /* ﬁ → fi */
        {"\xef\xbd\xb6\xef\xbe\x9e", "ガ"}, /* ｶﾞ → ガ */
        {"\xe2\x91\xa0", "1"},              /* ① → 1 */
        {"caf\xc3\xa9", "caf\xc3\xa9"},     /* already NFKC: unchanged */
        {"\xe3\x8d\xbb", "平成"},           /* ㍻ → 平成 */
        {"a b", "a b"},                     /* spaces are kept */
        {"\xe3\x80\x80", " "},              /* IDEOGRAPHIC SPACE → space */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(kura_password_normalize(cases[i].in, strlen(cases[i].in), &n, &len), 0);
        assert_int_equal(len, strlen(cases[i].out));
        assert_memory_equal(n, cases[i].out, len);
        /* Idempotent. */
        char *again = NULL;
        size_t again_len = 0;
        assert_int_equal(kura_password_normalize(n, len, &again, &again_len), 0);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, n, len);
        again = kura_password_normalized_free(again, again_len);
        n = kura_password_normalized_free(n, len);
    }

    /* Lengths count the normalised form: 15 full-width letters pass kura-default's minimum and
     * the kiyosu password may be typed in full width. */
    struct kura_password_verdict v;
    assert_string_equal(check("kura-default", "ｆｊｑ８３！ｋｄ－Ｌｍｚ＃２ｗ", &v), "ok");
    assert_int_equal(v.length, 15);
    assert_string_equal(code_of("kiyosu", "ａＢ３ｄＥ５ｇＨ"), "ok");
    /* ﬁ counts as two characters after normalisation. */
    assert_string_equal(check("nbdc", "\xef\xac\x81jq83!k", &v), "ok");
    assert_int_equal(v.length, 8);

    /* Refusals of kura_password_normalize. */
    char big[KURA_PASSWORD_MAX + 1];
    memset(big, 'a', sizeof(big));
    assert_int_equal(kura_password_normalize("", 0, &n, &len), KURA_ERANGE);
    assert_int_equal(kura_password_normalize(big, sizeof(big), &n, &len), KURA_ERANGE);
    assert_int_equal(kura_password_normalize(big, KURA_PASSWORD_MAX, &n, &len), 0);
    n = kura_password_normalized_free(n, len);
    assert_int_equal(kura_password_normalize("a\xff", 2, &n, &len), KURA_EUTF8);
    assert_int_equal(kura_password_normalize("a\0b", 3, &n, &len), KURA_ESYNTAX);
    assert_int_equal(kura_password_normalize("a\tb", 3, &n, &len), KURA_ESYNTAX);
    assert_int_equal(kura_password_normalize("\xcd\xb8", 2, &n, &len), KURA_EUTF8); /* U+0378 */
    /* Expanding past the byte limit: ﷺ (3 bytes) becomes 18 code points (33 bytes). */
    char wide[40 * 3 + 1];
    for (size_t i = 0; i < 40; i++) {
        memcpy(wide + 3 * i, "\xef\xb7\xba", 3);
    }
    wide[40 * 3] = '\0';
    assert_int_equal(kura_password_normalize(wide, strlen(wide), &n, &len), KURA_ERANGE);
    assert_string_equal(check("kura-default", wide, &v), "too_long");
    assert_non_null(strstr(v.message_en, "bytes after normalisation"));
}

static void test_refused_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *pw;
        size_t len;
        const char *code;
    } cases[] = {
#define CASE(lit, code) {lit, sizeof(lit) - 1, code}
        CASE("correct horse\xff battery", "invalid_utf8"),
        CASE("correct horse \xc0\xaf battery", "invalid_utf8"),         /* overlong '/' */
        CASE("correct horse \xed\xa0\x80 battery", "invalid_utf8"),     /* surrogate */
        CASE("correct horse \xf4\x90\x80\x80 battery", "invalid_utf8"), /* > U+10FFFF */
        CASE("correct horse battery\xe3\x81", "invalid_utf8"),          /* truncated */
        CASE("correct horse\0battery staple", "control_character"),
        CASE("correct horse\tbattery staple", "control_character"),
        CASE("correct horse\nbattery staple", "control_character"),
        CASE("correct horse\rbattery staple", "control_character"),
        CASE("correct horse\x7f"
             "battery staple",
             "control_character"),
        CASE("correct horse\xc2\x85"
             "battery staple",
             "control_character"), /* NEL (C1) */
        CASE("correct horse\xe2\x80\xa8"
             "battery staple",
             "control_character"), /* U+2028 */
        CASE("correct horse\xcd\xb8"
             "battery staple",
             "unassigned_character"), /* U+0378 */
#undef CASE
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        struct kura_password_verdict v;
        print_message("case %zu\n", i);
        for (size_t j = 0; j < KURA_ARRAY_SIZE(names); j++) {
            const char *code = check_ctx(profile(names[j]), cases[i].pw, cases[i].len, NULL, &v);
            assert_string_equal(code, cases[i].code);
            assert_int_equal(v.length, 0);
        }
    }
    struct kura_password_verdict v;
    assert_string_equal(check("kura-default", "correct horse\xff battery", &v), "invalid_utf8");
    assert_non_null(strstr(v.message_en, "UTF-8"));
    assert_non_null(strstr(v.message_ja, "UTF-8"));
    assert_int_equal(kura_password_check(profile("nist"), "correct\0horse battery", 21, NULL, &v),
                     0);
    assert_string_equal(v.code, "control_character");
    assert_non_null(strstr(v.message_ja, "制御文字"));
}

static void test_composition(void **state)
{
    (void)state;
    struct kura_password_verdict v;
    /* mhlw6-a: 13+ with letters, digits and symbols; kana and kanji are letters. */
    assert_string_equal(code_of("mhlw6-a", "correcthorsebattery"), "missing_digit");
    assert_string_equal(code_of("mhlw6-a", "correcthorse7battery"), "missing_symbol");
    assert_string_equal(code_of("mhlw6-a", "8274-5512-9931"), "missing_letter");
    assert_string_equal(code_of("mhlw6-a", "correct horse battery 9"), "ok");
    assert_string_equal(code_of("mhlw6-a", "ゆく河の流れは絶えずして12!"), "ok");
    assert_string_equal(code_of("mhlw6-a", "fjq83!kd-Lmz"), "too_short");
    assert_string_equal(check("mhlw6-c", "fjq83kdLmz", &v), "missing_symbol");
    assert_non_null(strstr(v.message_ja, "記号"));

    /* iso27001: upper, lower and special characters. */
    assert_string_equal(code_of("iso27001", "Tr0ub4dor&3"), "ok");
    assert_string_equal(check("iso27001", "tr0ub4dor&3", &v), "missing_upper");
    assert_non_null(strstr(v.message_en, "upper-case"));
    assert_non_null(strstr(v.message_ja, "英大文字"));
    assert_string_equal(code_of("iso27001", "TR0UB4DOR&3"), "missing_lower");
    assert_string_equal(code_of("iso27001", "Tr0ub4dor33"), "missing_symbol");
    /* Full-width upper case is upper case after NFKC. */
    assert_string_equal(code_of("iso27001", "Ｔr0ub4dor&3"), "ok");

    /* ccat: 3 of the 4 classes. */
    assert_string_equal(code_of("ccat", "Xk9mPq2w"), "ok");
    assert_string_equal(code_of("ccat", "xk9m-q2w"), "ok");
    assert_string_equal(check("ccat", "xk9mpq2w", &v), "missing_classes");
    assert_non_null(strstr(v.message_en, "at least 3 of"));
    assert_non_null(strstr(v.message_ja, "3種類以上"));
    /* Kana count for none of the four. */
    assert_string_equal(code_of("ccat", "ゆく河の流れ12!"), "missing_classes");

    /* kura-default and nist impose no composition. */
    assert_string_equal(code_of("kura-default", "correct horse battery staple"), "ok");
    assert_string_equal(code_of("nist", "correct horse battery staple"), "ok");
}

static void test_kiyosu(void **state)
{
    (void)state;
    struct kura_password_verdict v;
    assert_string_equal(code_of("kiyosu", "aB3dE5gH"), "ok");
    assert_string_equal(code_of("kiyosu", "Xk9mPq2w"), "ok");
    assert_string_equal(check("kiyosu", "aB3dE5g", &v), "too_short");
    assert_non_null(strstr(v.message_en, "exactly 8 characters"));
    assert_non_null(strstr(v.message_ja, "ちょうど8文字"));
    assert_string_equal(check("kiyosu", "aB3dE5gH9", &v), "too_long");
    assert_non_null(strstr(v.message_en, "exactly 8 characters"));
    assert_string_equal(check("kiyosu", "aB3dE5g!", &v), "disallowed_character");
    assert_non_null(strstr(v.message_en, "A-Z"));
    assert_string_equal(code_of("kiyosu", "aB3dE5g\xc3\xa9"), "disallowed_character");
    assert_string_equal(code_of("kiyosu", "aB3d E5g"), "disallowed_character");
    assert_string_equal(code_of("kiyosu", "ゆく河の流れは絶え"), "too_long");
    assert_string_equal(code_of("kiyosu", "ゆく河の流れは絶"), "disallowed_character");
}

static void test_user_info(void **state)
{
    (void)state;
    const struct kura_password_policy *p = profile("kura-default");
    struct kura_password_verdict v;
    const struct kura_password_context ctx = {
        .user_id = "yamada.taro",
        .display_name = "Taro Yamada",
        .email = "t.yamada@example.jp",
        .site_name = "Kura Research",
    };
#define CODE(pw) check_ctx(p, (pw), strlen(pw), &ctx, &v)
    assert_string_equal(CODE("correct horse battery staple"), "ok");
    assert_string_equal(CODE("my yamada secret phrase 2024"), "contains_user_id");
    assert_non_null(strstr(v.message_en, "user ID"));
    assert_non_null(strstr(v.message_ja, "ユーザー ID"));
    assert_string_equal(CODE("my YamadaTaro secret phrase"), "contains_user_id");
    assert_string_equal(CODE("ＹＡＭＡＤＡ secret phrase 24"), "contains_user_id"); /* NFKC */
    assert_string_equal(CODE("correct taro horse battery"), "contains_user_id");    /* "taro" */
    assert_string_equal(CODE("big research data is fun!"), "contains_site_name");
    assert_non_null(strstr(v.message_ja, "サイト名"));
    /* Parts shorter than 3 characters are not searched for: "t" of the e-mail. */
    assert_string_equal(CODE("t is for tea and biscuits"), "ok");
#undef CODE

    const struct kura_password_context name_only = {.user_id = "u12345",
                                                    .display_name = "Hanako Suzuki"};
    assert_string_equal(check_ctx(p, "hanako likes green tea", 22, &name_only, &v),
                        "contains_name");
    assert_non_null(strstr(v.message_ja, "氏名"));
    const struct kura_password_context email_only = {.user_id = "u12345",
                                                     .email = "hanako.suzuki@example.jp"};
    assert_string_equal(check_ctx(p, "suzuki loves green tea", 22, &email_only, &v),
                        "contains_email");
    assert_non_null(strstr(v.message_en, "e-mail"));
    /* The domain is not the user's: only the local part counts. */
    assert_string_equal(check_ctx(p, "example of green teas", 21, &email_only, &v), "ok");
    /* The ID itself, case-insensitively. */
    assert_string_equal(check_ctx(p, "the U12345 account key", 22, &email_only, &v),
                        "contains_user_id");

    /* Short name parts: "Li" and "Wu" alone are allowed, "liwu" joined is not. */
    const struct kura_password_context short_name = {.display_name = "Li Wu"};
    assert_string_equal(check_ctx(p, "li and wu are fine here", 23, &short_name, &v), "ok");
    assert_string_equal(check_ctx(p, "liwu is not fine here", 21, &short_name, &v),
                        "contains_name");

    /* A Japanese name: the parts have two characters, the whole name four. */
    const struct kura_password_context ja_name = {.display_name = "山田 太郎"};
    const char *pw = "山田太郎のひみつのあいことばです";
    assert_string_equal(check_ctx(p, pw, strlen(pw), &ja_name, &v), "contains_name");
    pw = "山田さんのひみつのあいことばです";
    assert_string_equal(check_ctx(p, pw, strlen(pw), &ja_name, &v), "ok");

    /* Off: nothing is searched for. */
    struct kura_password_policy off = *p;
    off.forbid_user_info = false;
    const char *y = "my yamada secret phrase 2024";
    assert_string_equal(check_ctx(&off, y, strlen(y), &ctx, &v), "ok");

    /* Bad context values are errors, not verdicts. */
    const struct kura_password_context bad_utf8 = {.display_name = "a\xff"};
    assert_int_equal(kura_password_check(p, y, strlen(y), &bad_utf8, &v), KURA_EUTF8);
    char big[KURA_PASSWORD_CONTEXT_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const struct kura_password_context too_long = {.site_name = big};
    assert_int_equal(kura_password_check(p, y, strlen(y), &too_long, &v), KURA_ERANGE);
}

static void test_dictionary(void **state)
{
    (void)state;
    struct kura_buf err = KURA_BUF_INIT(4096);
    assert_int_equal(kura_password_dict_probe(NULL, &err), 0);
    assert_int_equal(err.len, 0);

    struct kura_password_verdict v;
    assert_string_equal(check("kura-default", "password1234567", &v), "dictionary");
    assert_non_null(strstr(v.message_en, "too easy to guess"));
    assert_non_null(strstr(v.message_ja, "推測"));
    assert_string_equal(code_of("kura-default", "Password123456789"), "dictionary");
    assert_string_equal(code_of("kura-default", "aaaaaaaaaaaaaaaaaa"), "dictionary");
    assert_string_equal(code_of("kura-default", "abcdefghijklmnop"), "dictionary");
    assert_string_equal(code_of("nbdc", "sunshine"), "dictionary");
    assert_string_equal(code_of("nbdc", "qwerty12"), "dictionary");
    /* Full width does not hide a dictionary word. */
    assert_string_equal(code_of("nbdc", "ｓｕｎｓｈｉｎｅ"), "dictionary");
    /* Every profile uses the dictionary. */
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        assert_true(profile(names[i])->dictionary);
    }

    /* Off: the same password passes. */
    struct kura_password_policy off = *profile("kura-default");
    off.dictionary = false;
    assert_string_equal(check_ctx(&off, "password1234567", 15, NULL, &v), "ok");

    /* A missing dictionary is an error, never a silent pass. */
    const struct kura_password_context nodict = {.dictionary_path = "/nonexistent/cracklib_dict"};
    const char *pw = "correct horse battery staple";
    assert_int_equal(kura_password_check(profile("kura-default"), pw, strlen(pw), &nodict, &v),
                     -ENOENT);
    assert_int_equal(kura_password_dict_probe("/nonexistent/cracklib_dict", &err), -ENOENT);
    assert_non_null(strstr(err.ptr, "/nonexistent/cracklib_dict.pwd"));
    assert_non_null(strstr(err.ptr, "cracklib-runtime"));
    kura_buf_reset(&err);
    /* ...unless the policy does not use it. */
    assert_int_equal(kura_password_check(&off, pw, strlen(pw), &nodict, &v), 0);
    assert_true(v.ok);

    /* Files that are not a libcrack2 dictionary. */
    char dir[] = "/tmp/kura-test-dict-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char base[64], name[80];
    (void)snprintf(base, sizeof(base), "%s/d", dir);
    (void)snprintf(name, sizeof(name), "%s.pwd", base);
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage!", 8), 8);
    assert_int_equal(close(fd), 0);
    assert_int_equal(kura_password_dict_probe(base, &err), -ENOENT); /* no .pwi */
    assert_non_null(strstr(err.ptr, ".pwi"));
    kura_buf_reset(&err);
    char name_i[80];
    (void)snprintf(name_i, sizeof(name_i), "%s.pwi", base);
    fd = open(name_i, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage!", 8), 8);
    assert_int_equal(close(fd), 0);
    assert_int_equal(kura_password_dict_probe(base, &err), KURA_ECORRUPT);
    assert_non_null(strstr(err.ptr, "update-cracklib"));
    const struct kura_password_context corrupt = {.dictionary_path = base};
    assert_int_equal(kura_password_check(profile("nbdc"), pw, strlen(pw), &corrupt, &v), -ENOENT);
    assert_int_equal(unlink(name), 0);
    assert_int_equal(unlink(name_i), 0);
    assert_int_equal(rmdir(dir), 0);
    kura_buf_release(&err);
}

static struct kura_conf *conf_with(const char *const *kv, size_t n)
{
    struct kura_conf *c = kura_conf_new();
    assert_non_null(c);
    for (size_t i = 0; i + 1 < n; i += 2) {
        struct kura_buf err = KURA_BUF_INIT(1024);
        const char *dot = strchr(kv[i], '.');
        char section[32];
        assert_non_null(dot);
        (void)snprintf(section, sizeof(section), "%.*s", (int)(dot - kv[i]), kv[i]);
        int r = kura_conf_set(c, section, dot + 1, kv[i + 1], &err);
        if (r != 0) {
            print_message("%s = %s: %s\n", kv[i], kv[i + 1], err.ptr ? err.ptr : "");
        }
        assert_int_equal(r, 0);
        kura_buf_release(&err);
    }
    return c;
}

static void assert_policy_equal(const struct kura_password_policy *a,
                                const struct kura_password_policy *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->overrides, b->overrides);
    assert_int_equal(a->min_length, b->min_length);
    assert_int_equal(a->max_length, b->max_length);
    assert_int_equal(a->charset, b->charset);
    assert_int_equal(a->required_classes, b->required_classes);
    assert_int_equal(a->min_classes, b->min_classes);
    assert_int_equal(a->forbid_user_info, b->forbid_user_info);
    assert_int_equal(a->dictionary, b->dictionary);
    assert_int_equal(a->history, b->history);
    assert_int_equal(a->max_age_days, b->max_age_days);
    assert_int_equal(a->change_first_login, b->change_first_login);
    assert_int_equal(a->mfa, b->mfa);
    assert_int_equal(a->lockout_threshold, b->lockout_threshold);
    assert_int_equal(a->lockout_mode, b->lockout_mode);
    assert_int_equal(a->lockout_seconds, b->lockout_seconds);
    assert_int_equal(a->backoff_after, b->backoff_after);
    assert_int_equal(a->backoff_max_seconds, b->backoff_max_seconds);
    assert_int_equal(a->id_rule.min_len, b->id_rule.min_len);
    assert_int_equal(a->id_rule.max_len, b->id_rule.max_len);
    assert_int_equal(a->id_rule.first, b->id_rule.first);
    assert_int_equal(a->id_rule.rest, b->id_rule.rest);
}

static void test_resolve(void **state)
{
    (void)state;
    struct kura_password_policy p;
    struct kura_buf err = KURA_BUF_INIT(4096);

    /* Defaults: kura-default as shipped. */
    struct kura_conf *c = kura_conf_new();
    assert_non_null(c);
    assert_int_equal(kura_password_policy_resolve(c, &p, &err), 0);
    assert_policy_equal(&p, profile("kura-default"));
    kura_conf_free(c);

    /* Each profile by name. */
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        const char *kv[] = {"password.profile", names[i]};
        c = conf_with(kv, 2);
        assert_int_equal(kura_password_policy_resolve(c, &p, &err), 0);
        assert_policy_equal(&p, profile(names[i]));
        kura_conf_free(c);
    }

    /* Every knob overridden. */
    const char *all[] = {
        "password.profile",
        "nbdc",
        "password.min_length",
        "10",
        "password.max_length",
        "64",
        "password.charset",
        "any",
        "password.required_classes",
        "upper, digit",
        "password.min_classes",
        "2",
        "password.forbid_user_info",
        "no",
        "password.dictionary",
        "no",
        "password.history",
        "5",
        "password.max_age_days",
        "30",
        "password.change_first_login",
        "no",
        "password.mfa",
        "privileged",
        "password.lockout_threshold",
        "20",
        "password.lockout_mode",
        "15m",
        "password.backoff_after",
        "3",
        "password.backoff_max_seconds",
        "60",
        "password.id_min_length",
        "4",
        "password.id_max_length",
        "12",
        "password.id_charset",
        "alnum",
    };
    c = conf_with(all, KURA_ARRAY_SIZE(all));
    assert_int_equal(kura_password_policy_resolve(c, &p, &err), 0);
    assert_string_equal(p.name, "nbdc");
    assert_int_equal(p.overrides, 18);
    assert_int_equal(p.min_length, 10);
    assert_int_equal(p.max_length, 64);
    assert_int_equal(p.charset, KURA_PASSWORD_CHARSET_ANY);
    assert_int_equal(p.required_classes, KURA_PASSWORD_CLASS_UPPER | KURA_PASSWORD_CLASS_DIGIT);
    assert_int_equal(p.min_classes, 2);
    assert_false(p.forbid_user_info);
    assert_false(p.dictionary);
    assert_int_equal(p.history, 5);
    assert_int_equal(p.max_age_days, 30);
    assert_false(p.change_first_login);
    assert_int_equal(p.mfa, KURA_MFA_PRIVILEGED);
    assert_int_equal(p.lockout_threshold, 20);
    assert_int_equal(p.lockout_mode, KURA_LOCKOUT_DURATION);
    assert_int_equal(p.lockout_seconds, 900);
    assert_int_equal(p.backoff_after, 3);
    assert_int_equal(p.backoff_max_seconds, 60);
    assert_int_equal(p.id_rule.min_len, 4);
    assert_int_equal(p.id_rule.max_len, 12);
    assert_int_equal(p.id_rule.first,
                     KURA_ID_CLASS_LOWER | KURA_ID_CLASS_UPPER | KURA_ID_CLASS_DIGIT);
    kura_conf_free(c);

    /* "none", "until-reset", zeros and yes: back the other way. */
    const char *back[] = {
        "password.profile",
        "iso27001",
        "password.required_classes",
        "none",
        "password.max_age_days",
        "0",
        "password.mfa",
        "all",
        "password.lockout_mode",
        "until-reset",
        "password.lockout_threshold",
        "0",
        "password.dictionary",
        "yes",
        "password.id_charset",
        "default",
    };
    c = conf_with(back, KURA_ARRAY_SIZE(back));
    assert_int_equal(kura_password_policy_resolve(c, &p, &err), 0);
    assert_int_equal(p.required_classes, 0);
    assert_int_equal(p.max_age_days, 0);
    assert_int_equal(p.mfa, KURA_MFA_ALL);
    assert_int_equal(p.lockout_threshold, 0);
    assert_int_equal(p.lockout_mode, KURA_LOCKOUT_UNTIL_RESET);
    assert_int_equal(p.overrides, 7);
    kura_conf_free(c);

    /* The largest value of every numeric key resolves (the schema's ranges match auth's). */
    const char *maxima[] = {
        "password.min_length",
        "256",
        "password.max_length",
        "256",
        "password.min_classes",
        "4",
        "password.history",
        "100",
        "password.max_age_days",
        "3650",
        "password.lockout_threshold",
        "1000",
        "password.backoff_after",
        "1000",
        "password.backoff_max_seconds",
        "86400",
        "password.lockout_mode",
        "30d",
        "password.id_min_length",
        "255",
        "password.id_max_length",
        "255",
    };
    c = conf_with(maxima, KURA_ARRAY_SIZE(maxima));
    assert_int_equal(kura_password_policy_resolve(c, &p, &err), 0);
    assert_int_equal(p.lockout_seconds, 30u * 86400);
    kura_conf_free(c);

    /* Values the schema refuses. */
    static const char *const bad[][2] = {
        {"min_length", "0"},
        {"min_length", "257"},
        {"min_length", "-1"},
        {"min_length", "ten"},
        {"max_length", " 8"},
        {"charset", "ascii"},
        {"required_classes", "upper,foo"},
        {"required_classes", "none,upper"},
        {"min_classes", "5"},
        {"forbid_user_info", "true"},
        {"dictionary", "on"},
        {"history", "101"},
        {"max_age_days", "3651"},
        {"mfa", "some"},
        {"lockout_threshold", "1001"},
        {"lockout_mode", "forever"},
        {"lockout_mode", "0m"},
        {"lockout_mode", "31d"},
        {"lockout_mode", "15"},
        {"backoff_after", "x"},
        {"backoff_max_seconds", "0"},
        {"id_min_length", "0"},
        {"id_max_length", "256"},
        {"id_charset", "ascii"},
    };
    c = kura_conf_new();
    assert_non_null(c);
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        print_message("bad %s = %s\n", bad[i][0], bad[i][1]);
        assert_int_equal(kura_conf_set(c, "password", bad[i][0], bad[i][1], &err), KURA_ECONFIG);
        assert_non_null(strstr(err.ptr, bad[i][0]));
        kura_buf_reset(&err);
    }
    kura_conf_free(c);

    /* Combinations that resolve refuses, naming what is wrong. */
    static const struct {
        const char *kv[4];
        const char *why;
    } incoherent[] = {
        {{"password.min_length", "20", "password.max_length", "10"}, "min_length"},
        {{"password.charset", "alnum", "password.required_classes", "symbol"}, "alnum"},
        {{"password.charset", "alnum", "password.min_classes", "4"}, "alnum"},
        {{"password.max_length", "2", "password.required_classes", "upper,digit,symbol"},
         "max_length"},
        {{"password.id_min_length", "20", "password.id_max_length", "10"}, "id_min_length"},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(incoherent); i++) {
        c = conf_with(incoherent[i].kv, 4);
        assert_int_equal(kura_password_policy_resolve(c, &p, &err), KURA_ECONFIG);
        print_message("%s\n", err.ptr);
        assert_non_null(strstr(err.ptr, incoherent[i].why));
        assert_non_null(strstr(err.ptr, "kura-default' with overrides"));
        kura_buf_reset(&err);
        kura_conf_free(c);
    }
    /* Classes that cannot fit into max_length (validate, on a policy built by hand). */
    struct kura_password_policy tight = *profile("kura-default");
    tight.min_length = 2;
    tight.max_length = 2;
    tight.required_classes =
        KURA_PASSWORD_CLASS_UPPER | KURA_PASSWORD_CLASS_DIGIT | KURA_PASSWORD_CLASS_SYMBOL;
    assert_int_equal(kura_password_policy_validate(&tight, &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "max_length is too small"));
    kura_buf_reset(&err);
    tight.required_classes = KURA_PASSWORD_CLASS_LETTER | KURA_PASSWORD_CLASS_DIGIT;
    assert_int_equal(kura_password_policy_validate(&tight, &err), 0);
    tight.lockout_mode = KURA_LOCKOUT_DURATION;
    assert_int_equal(kura_password_policy_validate(&tight, &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "lockout_mode"));
    kura_buf_reset(&err);
    /* kiyosu's max_length 8 bounds a raised min_length. */
    const char *kiyosu_long[] = {"password.profile", "kiyosu", "password.min_length", "9"};
    c = conf_with(kiyosu_long, 4);
    assert_int_equal(kura_password_policy_resolve(c, &p, &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "'kiyosu' with overrides: min_length is larger"));
    kura_buf_reset(&err);
    kura_conf_free(c);
    kura_buf_release(&err);
}

static void test_ageing_backoff_lockout_mfa(void **state)
{
    (void)state;
    const int64_t day = 86400 * 1000LL, t0 = 1700000000000LL;
    const struct kura_password_policy *d = profile("kura-default"), *c = profile("ccat");
    assert_false(kura_password_expired(d, t0, t0 + 10000 * day));
    assert_false(kura_password_expired(c, t0, t0 + 180 * day - 1));
    assert_true(kura_password_expired(c, t0, t0 + 180 * day));
    assert_false(kura_password_expired(c, t0, t0 - 1)); /* a clock that went back */
    assert_false(kura_password_expired(c, INT64_MIN, INT64_MAX));
    assert_true(kura_password_expired(profile("mhlw6-b"), t0, t0 + 60 * day));
    assert_false(kura_password_expired(profile("mhlw6-b"), t0, t0 + 60 * day - 1));

    /* Back-off from the 5th consecutive failure, doubling, capped. */
    assert_int_equal(kura_password_backoff_seconds(d, 0), 0);
    assert_int_equal(kura_password_backoff_seconds(d, 4), 0);
    assert_int_equal(kura_password_backoff_seconds(d, 5), 1);
    assert_int_equal(kura_password_backoff_seconds(d, 6), 2);
    assert_int_equal(kura_password_backoff_seconds(d, 9), 16);
    assert_int_equal(kura_password_backoff_seconds(d, 14), 512);
    assert_int_equal(kura_password_backoff_seconds(d, 15), 900);
    assert_int_equal(kura_password_backoff_seconds(d, 1000), 900);
    assert_int_equal(kura_password_backoff_seconds(d, UINT32_MAX), 900);
    struct kura_password_policy off = *d;
    off.backoff_after = 0;
    assert_int_equal(kura_password_backoff_seconds(&off, 50), 0);

    assert_false(kura_password_lockout_reached(d, 9));
    assert_true(kura_password_lockout_reached(d, 10));
    assert_false(kura_password_lockout_reached(c, 5));
    assert_true(kura_password_lockout_reached(c, 6));
    off.lockout_threshold = 0;
    assert_false(kura_password_lockout_reached(&off, 100000));

    assert_true(kura_password_mfa_required(d, false));
    assert_true(kura_password_mfa_required(c, false));
    assert_true(kura_password_mfa_required(profile("iso27001"), true));
    assert_false(kura_password_mfa_required(profile("iso27001"), false));
    assert_false(kura_password_mfa_required(profile("nbdc"), true));
}

#ifdef KURA_FAULT_INJECTION
/* Every allocation of a check may fail: the result is -ENOMEM or a verdict, never a crash or a
 * leak (ASan's leak checker runs at exit). */
static void test_allocation_failures(void **state)
{
    (void)state;
    const struct kura_password_context ctx = {.user_id = "yamada.taro",
                                              .display_name = "Taro Yamada",
                                              .email = "t.yamada@example.jp",
                                              .site_name = "Kura Research"};
    const char *pw = "correct horse battery staple";
    bool succeeded = false;
    for (unsigned long n = 1; n < 200 && !succeeded; n++) {
        struct kura_password_verdict v;
        kura_alloc_fail_at(n);
        int r = kura_password_check(profile("kura-default"), pw, strlen(pw), &ctx, &v);
        kura_alloc_fail_at(0);
        assert_true(r == 0 || r == -ENOMEM);
        succeeded = r == 0;
        if (r == 0) {
            assert_true(v.ok);
        }
    }
    assert_true(succeeded);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_length_in_code_points),
        cmocka_unit_test(test_nfkc),
        cmocka_unit_test(test_refused_bytes),
        cmocka_unit_test(test_composition),
        cmocka_unit_test(test_kiyosu),
        cmocka_unit_test(test_user_info),
        cmocka_unit_test(test_dictionary),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_ageing_backoff_lockout_mfa),
#ifdef KURA_FAULT_INJECTION
        cmocka_unit_test(test_allocation_failures),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
