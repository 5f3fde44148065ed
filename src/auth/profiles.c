/* profiles.c — the password policy profiles and resolving kura.conf overrides on top of one
 * (policy.h has each profile's rules and where they come from). */
#include "auth/policy.h"

#include <stdio.h>
#include <string.h>

/* ---- the profiles -------------------------------------------------------------------------- */

#define ID_ALNUM (KURA_ID_CLASS_LOWER | KURA_ID_CLASS_UPPER | KURA_ID_CLASS_DIGIT)
/* kura_id_rule_default (id.c); a test checks that the two agree. */
#define ID_RULE_DEFAULT                                                                            \
    {                                                                                              \
        1, 64, KURA_ID_CLASS_LOWER | KURA_ID_CLASS_DIGIT,                                          \
            KURA_ID_CLASS_LOWER | KURA_ID_CLASS_DIGIT | KURA_ID_CLASS_DOT | KURA_ID_CLASS_HYPHEN | \
                KURA_ID_CLASS_UNDERSCORE                                                           \
    }
#define MIXED (KURA_PASSWORD_CLASS_LETTER | KURA_PASSWORD_CLASS_DIGIT | KURA_PASSWORD_CLASS_SYMBOL)

#define UPPER_LOWER_SPECIAL                                                                        \
    (KURA_PASSWORD_CLASS_UPPER | KURA_PASSWORD_CLASS_LOWER | KURA_PASSWORD_CLASS_SYMBOL)
#define LEN_MAX KURA_PASSWORD_POLICY_LEN_MAX
#define ANY KURA_PASSWORD_CHARSET_ANY
#define UNTIL_RESET KURA_LOCKOUT_UNTIL_RESET
#define ALNUM KURA_PASSWORD_CHARSET_ALNUM
#define ID_RULE_KIYOSU                                                                             \
    {                                                                                              \
        10, 10, ID_ALNUM, ID_ALNUM                                                                 \
    }

/* Every knob of every profile is written out, so that a profile reads as its source says; knobs
 * a source does not mention take kura-default's values (policy.h). One profile per block, every
 * knob in the same place, formatted by hand. */
/* clang-format off */
static const struct kura_password_policy profiles[] = {
    {.name = "kura-default",
     .min_length = 15, .max_length = LEN_MAX, .charset = ANY,
     .required_classes = 0, .min_classes = 0,
     .forbid_user_info = true, .dictionary = true, .history = 0, .max_age_days = 0,
     .change_first_login = true, .mfa = KURA_MFA_ALL,
     .lockout_threshold = 10, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_DEFAULT},
    /* SP 800-63B rev. 4 §3.1.1.2: 15 as a single factor, blocklist, no composition, no expiry;
     * no more than 100 consecutive failed attempts */
    {.name = "nist",
     .min_length = 15, .max_length = LEN_MAX, .charset = ANY,
     .required_classes = 0, .min_classes = 0,
     .forbid_user_info = true, .dictionary = true, .history = 0, .max_age_days = 0,
     .change_first_login = true, .mfa = KURA_MFA_NONE,
     .lockout_threshold = 100, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_DEFAULT},
    /* MHLW guideline 6.0 Q&A: (a) 英数字、記号を混在させた13文字以上 */
    {.name = "mhlw6-a",
     .min_length = 13, .max_length = LEN_MAX, .charset = ANY,
     .required_classes = MIXED, .min_classes = 0,
     .forbid_user_info = true, .dictionary = true, .history = 0, .max_age_days = 0,
     .change_first_login = true, .mfa = KURA_MFA_NONE,
     .lockout_threshold = 10, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_DEFAULT},
    /* (b) 8文字以上、定期的に変更（最長でも2ヶ月以内）; history 10 as the issue states */
    {.name = "mhlw6-b",
     .min_length = 8, .max_length = LEN_MAX, .charset = ANY,
     .required_classes = MIXED, .min_classes = 0,
     .forbid_user_info = true, .dictionary = true, .history = 10, .max_age_days = 60,
     .change_first_login = true, .mfa = KURA_MFA_NONE,
     .lockout_threshold = 10, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_DEFAULT},
    /* (c) 二要素以上の認証の場合、8文字以上 */
    {.name = "mhlw6-c",
     .min_length = 8, .max_length = LEN_MAX, .charset = ANY,
     .required_classes = MIXED, .min_classes = 0,
     .forbid_user_info = true, .dictionary = true, .history = 0, .max_age_days = 0,
     .change_first_login = true, .mfa = KURA_MFA_ALL,
     .lockout_threshold = 10, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_DEFAULT},
    /* 001 §2-2 L48: 8文字以上であること; 氏名…等の推測し易いものを利用しないこと */
    {.name = "nbdc",
     .min_length = 8, .max_length = LEN_MAX, .charset = ANY,
     .required_classes = 0, .min_classes = 0,
     .forbid_user_info = true, .dictionary = true, .history = 0, .max_age_days = 0,
     .change_first_login = true, .mfa = KURA_MFA_NONE,
     .lockout_threshold = 10, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_DEFAULT},
    /* 003 §8.1(1)④⑤ L710-715: MFA; ユーザ名を含めない; いずれか 3 つを含む 8 文字以上;
     * 180 日毎の変更; 6 回失敗でログイン不能、ヘルプデスクでリセット */
    {.name = "ccat",
     .min_length = 8, .max_length = LEN_MAX, .charset = ANY,
     .required_classes = 0, .min_classes = 3,
     .forbid_user_info = true, .dictionary = true, .history = 0, .max_age_days = 180,
     .change_first_login = true, .mfa = KURA_MFA_ALL,
     .lockout_threshold = 6, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_DEFAULT},
    /* 004 §4.1.5(1) L134-141: 8文字以上、大文字、小文字、特殊文字; 3か月ごと; 過去10回;
     * 最初のログオン時に変更; 重要なシステム…二要素; 10回続けて失敗で使用停止 */
    {.name = "iso27001",
     .min_length = 8, .max_length = LEN_MAX, .charset = ANY,
     .required_classes = UPPER_LOWER_SPECIAL, .min_classes = 0,
     .forbid_user_info = true, .dictionary = true, .history = 10, .max_age_days = 90,
     .change_first_login = true, .mfa = KURA_MFA_PRIVILEGED,
     .lockout_threshold = 10, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_DEFAULT},
    /* 002 別紙1 L261-262: ユーザーID 10桁の英数字; パスワード 8桁の英数字 */
    {.name = "kiyosu",
     .min_length = 8, .max_length = 8, .charset = ALNUM,
     .required_classes = 0, .min_classes = 0,
     .forbid_user_info = true, .dictionary = true, .history = 0, .max_age_days = 0,
     .change_first_login = true, .mfa = KURA_MFA_NONE,
     .lockout_threshold = 10, .lockout_mode = UNTIL_RESET, .lockout_seconds = 0,
     .backoff_after = 5, .backoff_max_seconds = 900, .id_rule = ID_RULE_KIYOSU},
};
/* clang-format on */

const struct kura_password_policy *kura_password_policy_by_name(const char *name)
{
    for (size_t i = 0; name && i < KURA_ARRAY_SIZE(profiles); i++) {
        if (strcmp(name, profiles[i].name) == 0) {
            return &profiles[i];
        }
    }
    return NULL;
}

const struct kura_password_policy *kura_password_policy_at(size_t i)
{
    return i < KURA_ARRAY_SIZE(profiles) ? &profiles[i] : NULL;
}

/* ---- resolving kura.conf ------------------------------------------------------------------- */

static int bad_key(struct kura_buf *err, const char *key, const char *value, const char *allowed)
{
    if (err) {
        kura_buf_addf(err, "[password] %s = '", key);
        kura_buf_add_escaped(err, value, strlen(value));
        kura_buf_addf(err, "': invalid value; allowed: %s", allowed);
    }
    return KURA_ECONFIG;
}

static int over_uint(const char *v, const char *key, uint64_t min, uint64_t max, unsigned *field,
                     unsigned *count, struct kura_buf *err)
{
    bool set;
    uint64_t n;
    if (kura_conf_parse_opt_uint(v, min, max, &set, &n) < 0) {
        char lo[KURA_NUM_STR_MAX], hi[KURA_NUM_STR_MAX], allowed[96];
        (void)snprintf(allowed, sizeof(allowed), "empty, or a whole number from %s to %s",
                       kura_fmt_u64(lo, min), kura_fmt_u64(hi, max));
        return bad_key(err, key, v, allowed);
    }
    if (set) {
        *field = (unsigned)n;
        (*count)++;
    }
    return 0;
}

/* "" leaves *field; "yes"/"no" set it. */
static int over_bool(const char *v, const char *key, bool *field, unsigned *count,
                     struct kura_buf *err)
{
    if (v[0] == '\0') {
        return 0;
    }
    if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
        return bad_key(err, key, v, "empty, yes, or no");
    }
    *field = strcmp(v, "yes") == 0;
    (*count)++;
    return 0;
}

/* "" leaves *field; otherwise v must be words[i], which sets *field to i. */
static int over_word(const char *v, const char *key, const char *const *words, size_t n,
                     unsigned *field, unsigned *count, const char *allowed, struct kura_buf *err)
{
    if (v[0] == '\0') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, words[i]) == 0) {
            *field = (unsigned)i;
            (*count)++;
            return 0;
        }
    }
    return bad_key(err, key, v, allowed);
}

static const char *const class_words[] = {"lower", "upper", "digit", "symbol", "letter"};

static int add_class(struct kura_str entry, void *ctx)
{
    unsigned *bits = ctx;
    for (size_t i = 0; i < KURA_ARRAY_SIZE(class_words); i++) {
        if (kura_str_eq_c(entry, class_words[i])) {
            *bits |= 1u << i;
            return 0;
        }
    }
    return KURA_ECONFIG;
}

static int over_classes(const char *v, unsigned *field, unsigned *count, struct kura_buf *err)
{
    unsigned bits = 0;
    if (v[0] == '\0') {
        return 0;
    }
    if (strcmp(v, "none") != 0 && kura_conf_list_each(v, 5, add_class, &bits, NULL) < 0) {
        return bad_key(err, "required_classes", v,
                       "empty, none, or a comma-separated list of lower, upper, digit, symbol, "
                       "letter");
    }
    *field = bits;
    (*count)++;
    return 0;
}

static int over_lockout_mode(const char *v, struct kura_password_policy *p, struct kura_buf *err)
{
    uint64_t s;
    if (v[0] == '\0') {
        return 0;
    }
    if (strcmp(v, "until-reset") == 0) {
        p->lockout_mode = KURA_LOCKOUT_UNTIL_RESET;
        p->lockout_seconds = 0;
    } else if (kura_conf_parse_duration(v, KURA_PASSWORD_LOCKOUT_MAX, &s) == 0) {
        p->lockout_mode = KURA_LOCKOUT_DURATION;
        p->lockout_seconds = (unsigned)s;
    } else {
        return bad_key(err, "lockout_mode", v,
                       "empty, until-reset, or a duration from 1s to 30d such as 15m");
    }
    p->overrides++;
    return 0;
}

static int over_id_charset(const char *v, struct kura_id_rule *rule, unsigned *count,
                           struct kura_buf *err)
{
    if (v[0] == '\0') {
        return 0;
    }
    if (strcmp(v, "default") == 0) {
        rule->first = kura_id_rule_default.first;
        rule->rest = kura_id_rule_default.rest;
    } else if (strcmp(v, "alnum") == 0) {
        rule->first = ID_ALNUM;
        rule->rest = ID_ALNUM;
    } else {
        return bad_key(err, "id_charset", v, "empty, default, or alnum");
    }
    (*count)++;
    return 0;
}

static int bad_policy(struct kura_buf *err, const struct kura_password_policy *p, const char *what)
{
    if (err) {
        kura_buf_addf(err, "[password] profile '%s'%s: %s", p->name,
                      p->overrides ? " with overrides" : "", what);
    }
    return KURA_ECONFIG;
}

static unsigned popcount(unsigned x)
{
    return (unsigned)__builtin_popcount(x);
}

int kura_password_policy_validate(const struct kura_password_policy *p, struct kura_buf *err)
{
    if (p->min_length < 1 || p->max_length > KURA_PASSWORD_POLICY_LEN_MAX) {
        return bad_policy(err, p, "min_length and max_length must lie from 1 to 256");
    }
    if (p->min_length > p->max_length) {
        return bad_policy(err, p, "min_length is larger than max_length");
    }
    if ((p->required_classes & ~(unsigned)(KURA_PASSWORD_CLASSES_4 | KURA_PASSWORD_CLASS_LETTER)) !=
            0 ||
        p->min_classes > 4) {
        return bad_policy(err, p, "unknown character classes");
    }
    if (p->charset == KURA_PASSWORD_CHARSET_ALNUM &&
        ((p->required_classes & KURA_PASSWORD_CLASS_SYMBOL) || p->min_classes > 3)) {
        return bad_policy(err, p, "charset alnum allows no symbols, which the classes require");
    }
    /* LETTER is implied by UPPER or LOWER; what remains must fit into max_length. */
    unsigned need = popcount(p->required_classes & KURA_PASSWORD_CLASSES_4);
    if ((p->required_classes & KURA_PASSWORD_CLASS_LETTER) &&
        !(p->required_classes & (KURA_PASSWORD_CLASS_UPPER | KURA_PASSWORD_CLASS_LOWER))) {
        need++;
    }
    if (need > p->max_length || p->min_classes > p->max_length) {
        return bad_policy(err, p, "max_length is too small for the required classes");
    }
    if (p->charset != KURA_PASSWORD_CHARSET_ANY && p->charset != KURA_PASSWORD_CHARSET_ALNUM) {
        return bad_policy(err, p, "unknown charset");
    }
    if (p->history > KURA_PASSWORD_HISTORY_MAX || p->max_age_days > KURA_PASSWORD_MAX_AGE_MAX ||
        p->lockout_threshold > KURA_PASSWORD_FAILURES_MAX ||
        p->backoff_after > KURA_PASSWORD_FAILURES_MAX) {
        return bad_policy(err, p,
                          "history, max_age_days, lockout_threshold or backoff_after "
                          "out of range");
    }
    if (p->mfa != KURA_MFA_NONE && p->mfa != KURA_MFA_PRIVILEGED && p->mfa != KURA_MFA_ALL) {
        return bad_policy(err, p, "unknown mfa scope");
    }
    if (p->lockout_mode == KURA_LOCKOUT_DURATION
            ? p->lockout_seconds < 1 || p->lockout_seconds > KURA_PASSWORD_LOCKOUT_MAX
            : p->lockout_mode != KURA_LOCKOUT_UNTIL_RESET) {
        return bad_policy(err, p, "lockout_mode needs until-reset or a duration of 1s to 30d");
    }
    if (p->backoff_after > 0 &&
        (p->backoff_max_seconds < 1 || p->backoff_max_seconds > KURA_PASSWORD_BACKOFF_MAX)) {
        return bad_policy(err, p, "backoff_max_seconds must lie from 1 to 86400");
    }
    if (p->id_rule.min_len < 1 || p->id_rule.min_len > p->id_rule.max_len ||
        p->id_rule.max_len > KURA_META_ID_MAX) {
        return bad_policy(err, p, "id_min_length is larger than id_max_length");
    }
    return 0;
}

int kura_password_policy_resolve(const struct kura_conf *c, struct kura_password_policy *ret,
                                 struct kura_buf *err)
{
    static const char *const charsets[] = {"any", "alnum"};
    static const char *const mfas[] = {"none", "privileged", "all"};
    const struct kura_password_policy *base = kura_password_policy_by_name(c->password.profile);
    if (!base) {
        return bad_key(err, "profile", c->password.profile ? c->password.profile : "",
                       "a profile name such as kura-default");
    }
    struct kura_password_policy p = *base;
    unsigned *n = &p.overrides;
    unsigned charset = p.charset, mfa = p.mfa, id_min = (unsigned)p.id_rule.min_len,
             id_max = (unsigned)p.id_rule.max_len;
    const unsigned len_max = KURA_PASSWORD_POLICY_LEN_MAX, fails = KURA_PASSWORD_FAILURES_MAX;
    int r = over_uint(c->password.min_length, "min_length", 1, len_max, &p.min_length, n, err);
    if (r == 0) {
        r = over_uint(c->password.max_length, "max_length", 1, len_max, &p.max_length, n, err);
    }
    if (r == 0) {
        r = over_word(c->password.charset, "charset", charsets, KURA_ARRAY_SIZE(charsets), &charset,
                      n, "empty, any, or alnum", err);
    }
    if (r == 0) {
        r = over_classes(c->password.required_classes, &p.required_classes, n, err);
    }
    if (r == 0) {
        r = over_uint(c->password.min_classes, "min_classes", 0, 4, &p.min_classes, n, err);
    }
    if (r == 0) {
        r = over_bool(c->password.forbid_user_info, "forbid_user_info", &p.forbid_user_info, n,
                      err);
    }
    if (r == 0) {
        r = over_bool(c->password.dictionary, "dictionary", &p.dictionary, n, err);
    }
    if (r == 0) {
        r = over_uint(c->password.history, "history", 0, KURA_PASSWORD_HISTORY_MAX, &p.history, n,
                      err);
    }
    if (r == 0) {
        r = over_uint(c->password.max_age_days, "max_age_days", 0, KURA_PASSWORD_MAX_AGE_MAX,
                      &p.max_age_days, n, err);
    }
    if (r == 0) {
        r = over_bool(c->password.change_first_login, "change_first_login", &p.change_first_login,
                      n, err);
    }
    if (r == 0) {
        r = over_word(c->password.mfa, "mfa", mfas, KURA_ARRAY_SIZE(mfas), &mfa, n,
                      "empty, none, privileged, or all", err);
    }
    if (r == 0) {
        r = over_uint(c->password.lockout_threshold, "lockout_threshold", 0, fails,
                      &p.lockout_threshold, n, err);
    }
    if (r == 0) {
        r = over_lockout_mode(c->password.lockout_mode, &p, err);
    }
    if (r == 0) {
        r = over_uint(c->password.backoff_after, "backoff_after", 0, fails, &p.backoff_after, n,
                      err);
    }
    if (r == 0) {
        r = over_uint(c->password.backoff_max_seconds, "backoff_max_seconds", 1,
                      KURA_PASSWORD_BACKOFF_MAX, &p.backoff_max_seconds, n, err);
    }
    if (r == 0) {
        r = over_uint(c->password.id_min_length, "id_min_length", 1, KURA_META_ID_MAX, &id_min, n,
                      err);
    }
    if (r == 0) {
        r = over_uint(c->password.id_max_length, "id_max_length", 1, KURA_META_ID_MAX, &id_max, n,
                      err);
    }
    if (r == 0) {
        r = over_id_charset(c->password.id_charset, &p.id_rule, n, err);
    }
    if (r < 0) {
        return r;
    }
    p.charset = (enum kura_password_charset)charset;
    p.mfa = (enum kura_mfa_scope)mfa;
    p.id_rule.min_len = id_min;
    p.id_rule.max_len = id_max;
    r = kura_password_policy_validate(&p, err);
    if (r < 0) {
        return r;
    }
    *ret = p;
    return 0;
}
