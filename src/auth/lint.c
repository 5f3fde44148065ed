/* lint.c — the compliance lint of a password policy (policy.h lists the rules).
 *
 * Sources of the rules:
 *  - MHLW 医療情報システムの安全管理に関するガイドライン 第6.0版, Q&A on passwords: (a) 13 or
 *    more characters mixing letters, digits and symbols; (b) 8 or more mixed, changed at least
 *    every two months; (c) 8 or more mixed, with two-factor authentication. A policy that meets
 *    none of them by length, rotation and MFA is an error (docs/compliance.md C3). The mix
 *    itself is a warning: a 15-character minimum with the blocklist (kura-default, nist) is
 *    taken as meeting (a), as NIST's length-over-composition evidence suggests.
 *  - NIST SP 800-63B rev. 4 §3.1.1.2 (password verifiers): no composition rules, no periodic
 *    change, 15 characters as a single factor (8 with MFA), at least 64 allowed, all printing
 *    characters and Unicode accepted, a blocklist including context-specific words, and at most
 *    100 consecutive failed attempts. Departures are warnings (docs/compliance.md C1-C4).
 */
#include "auth/policy.h"

#include <string.h>

#define LINT_MSG_MAX 2048

static int push(struct kura_lint *l, enum kura_lint_level level, const char *code, const char *key,
                struct kura_buf *en, struct kura_buf *ja)
{
    int r = kura_buf_err(en);
    if (r == 0) {
        r = kura_buf_err(ja);
    }
    if (r == 0 && l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct kura_lint_finding *items = kura_reallocarray(l->items, cap, sizeof(*items));
        if (!items) {
            r = -ENOMEM;
        } else {
            l->items = items;
            l->cap = cap;
        }
    }
    char *m_en = NULL, *m_ja = NULL;
    if (r == 0) {
        m_en = kura_buf_detach(en, NULL);
        m_ja = kura_buf_detach(ja, NULL);
        if (!m_en || !m_ja) {
            r = -ENOMEM;
        }
    }
    if (r == 0) {
        l->items[l->n++] = (struct kura_lint_finding){level, code, key, m_en, m_ja};
    } else {
        kura_free(m_en);
        kura_free(m_ja);
    }
    kura_buf_release(en);
    kura_buf_release(ja);
    return r;
}

/* "profile 'nbdc'" / "プロファイル nbdc", noting overrides. */
static void who(const struct kura_password_policy *p, struct kura_buf *en, struct kura_buf *ja)
{
    kura_buf_addf(en, "profile '%s'%s: ", p->name, p->overrides ? " with overrides" : "");
    kura_buf_addf(ja, "プロファイル %s%s：", p->name, p->overrides ? "（上書きあり）" : "");
}

/* The composition rule in words, for the warning. */
static void describe_classes(const struct kura_password_policy *p, struct kura_buf *en,
                             struct kura_buf *ja)
{
    static const struct {
        unsigned bit;
        const char *en, *ja;
    } names[] = {
        {KURA_PASSWORD_CLASS_UPPER, "upper-case", "英大文字"},
        {KURA_PASSWORD_CLASS_LOWER, "lower-case", "英小文字"},
        {KURA_PASSWORD_CLASS_LETTER, "letters", "英字"},
        {KURA_PASSWORD_CLASS_DIGIT, "digits", "数字"},
        {KURA_PASSWORD_CLASS_SYMBOL, "symbols", "記号"},
    };
    bool first = true;
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        if (p->required_classes & names[i].bit) {
            kura_buf_addf(en, "%s%s", first ? "" : ", ", names[i].en);
            kura_buf_addf(ja, "%s%s", first ? "" : "・", names[i].ja);
            first = false;
        }
    }
    if (!first) {
        kura_buf_adds(en, " required");
        kura_buf_adds(ja, "が必須");
    }
    if (p->min_classes > 0) {
        kura_buf_addf(en, "%s%u of 4 classes", first ? "" : "; ", p->min_classes);
        kura_buf_addf(ja, "%s4種類中%u種類以上", first ? "" : "、", p->min_classes);
    }
}

static bool requires_mix(const struct kura_password_policy *p)
{
    const unsigned letters =
        KURA_PASSWORD_CLASS_LETTER | KURA_PASSWORD_CLASS_UPPER | KURA_PASSWORD_CLASS_LOWER;
    return p->min_classes == 4 ||
           ((p->required_classes & letters) && (p->required_classes & KURA_PASSWORD_CLASS_DIGIT) &&
            (p->required_classes & KURA_PASSWORD_CLASS_SYMBOL));
}

static int lint_mhlw(const struct kura_password_policy *p, struct kura_lint *l)
{
    struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
    bool opt_a = p->min_length >= 13;
    bool opt_b = p->min_length >= 8 && p->max_age_days >= 1 && p->max_age_days <= 60;
    bool opt_c = p->min_length >= 8 && p->mfa == KURA_MFA_ALL;
    if (!opt_a && !opt_b && !opt_c) {
        who(p, &en, &ja);
        bool exact = p->min_length == p->max_length;
        kura_buf_addf(&en, "passwords of %s %u characters that ", exact ? "exactly" : "at least",
                      p->min_length);
        kura_buf_addf(&ja, "%u文字%sで", p->min_length, exact ? "ちょうど" : "以上");
        if (p->max_age_days == 0) {
            kura_buf_adds(&en, "never expire, ");
            kura_buf_adds(&ja, "有効期限がなく、");
        } else {
            kura_buf_addf(&en, "expire after %u days, ", p->max_age_days);
            kura_buf_addf(&ja, "有効期限が%u日で、", p->max_age_days);
        }
        if (p->mfa == KURA_MFA_PRIVILEGED) {
            kura_buf_adds(&en, "with multi-factor authentication for privileged roles only "
                               "(ordinary users have none), ");
            kura_buf_adds(&ja, "多要素認証が特権ロールのみ（一般利用者はなし）の");
        } else {
            kura_buf_adds(&en, "without multi-factor authentication, ");
            kura_buf_adds(&ja, "多要素認証なしの");
        }
        kura_buf_adds(&en, "meet none of the MHLW guideline 6.0 options: (a) 13 or more "
                           "characters, (b) 8 or more changed at least every 60 days, (c) 8 or "
                           "more with multi-factor authentication for every account");
        kura_buf_adds(&ja, "パスワードは、医療情報システムの安全管理に関するガイドライン第6.0版"
                           "のどの選択肢も満たしません（(a) 13文字以上、(b) 8文字以上で60日以内"
                           "ごとに変更、(c) 8文字以上で全アカウントに多要素認証）");
        return push(l, KURA_LINT_ERROR, "mhlw_no_option", "password.profile", &en, &ja);
    }
    if (!requires_mix(p) && p->min_length < 15) {
        who(p, &en, &ja);
        kura_buf_adds(&en, "the MHLW guideline 6.0 options ask for passwords that mix letters, "
                           "digits and symbols, which this policy does not require (set "
                           "required_classes = letter,digit,symbol, or min_length to 15 or more)");
        kura_buf_adds(&ja, "ガイドライン第6.0版の選択肢は英数字と記号を混在させたパスワードを求めて"
                           "いますが、この設定では必須になっていません（required_classes = "
                           "letter,digit,symbol とするか、min_length を15以上にしてください）");
        return push(l, KURA_LINT_WARNING, "mhlw_mix", "password.required_classes", &en, &ja);
    }
    return 0;
}

static int lint_nist_composition(const struct kura_password_policy *p, struct kura_lint *l)
{
    struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
    if (p->required_classes == 0 && p->min_classes == 0) {
        return 0;
    }
    who(p, &en, &ja);
    kura_buf_adds(&en, "composition rules (");
    kura_buf_adds(&ja, "文字種の組み合わせ規則（");
    describe_classes(p, &en, &ja);
    kura_buf_adds(&en, ") contradict NIST SP 800-63B, which says verifiers shall not impose "
                       "them; length and the blocklist protect better");
    kura_buf_adds(&ja, "）は NIST SP 800-63B に反します（検証者は文字種の規則を課してはならない）。"
                       "長さとブロックリストの方が有効です");
    return push(l, KURA_LINT_WARNING, "nist_composition",
                p->required_classes ? "password.required_classes" : "password.min_classes", &en,
                &ja);
}

static int lint_nist_rotation(const struct kura_password_policy *p, struct kura_lint *l)
{
    struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
    if (p->max_age_days == 0) {
        return 0;
    }
    who(p, &en, &ja);
    kura_buf_addf(&en,
                  "passwords expire after %u days; NIST SP 800-63B says verifiers shall not "
                  "require periodic changes, only a change on evidence of compromise",
                  p->max_age_days);
    kura_buf_addf(&ja,
                  "パスワードが%u日で期限切れになります。NIST SP 800-63B は定期的な変更を求めては"
                  "ならず、侵害の兆候がある場合にのみ変更させるとしています",
                  p->max_age_days);
    return push(l, KURA_LINT_WARNING, "nist_rotation", "password.max_age_days", &en, &ja);
}

static int lint_nist_lockout(const struct kura_password_policy *p, struct kura_lint *l)
{
    struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
    if (p->lockout_threshold > 0 && p->lockout_threshold <= 100) {
        return 0;
    }
    who(p, &en, &ja);
    if (p->lockout_threshold > 100) {
        kura_buf_addf(&en,
                      "the account locks only after %u consecutive failures; NIST SP 800-63B "
                      "limits consecutive failed attempts to at most 100",
                      p->lockout_threshold);
        kura_buf_addf(&ja,
                      "連続%u回失敗するまでアカウントがロックされません。NIST SP 800-63B は連続"
                      "失敗を100回以下に制限するよう求めています",
                      p->lockout_threshold);
        return push(l, KURA_LINT_WARNING, "nist_lockout_threshold", "password.lockout_threshold",
                    &en, &ja);
    }
    kura_buf_addf(&en,
                  "there is no lockout, so consecutive failed logins are unlimited%s; NIST SP "
                  "800-63B limits them to at most 100",
                  p->backoff_after ? " (the back-off only slows them down)" : "");
    kura_buf_addf(&ja,
                  "ロックアウトがないため、連続したログイン失敗の回数に上限がありません%s。NIST "
                  "SP 800-63B は100回以下に制限するよう求めています",
                  p->backoff_after ? "（バックオフは遅らせるだけです）" : "");
    return push(l, KURA_LINT_WARNING, "nist_no_lockout", "password.lockout_threshold", &en, &ja);
}

static int lint_nist_length(const struct kura_password_policy *p, struct kura_lint *l)
{
    struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
    int r = 0;
    if (p->min_length < 8) {
        who(p, &en, &ja);
        kura_buf_addf(&en,
                      "passwords of %u characters are allowed; NIST SP 800-63B requires at least "
                      "8 even with multi-factor authentication",
                      p->min_length);
        kura_buf_addf(&ja,
                      "%u文字のパスワードが許されます。NIST SP 800-63B は多要素認証と併用する場合"
                      "でも8文字以上を求めています",
                      p->min_length);
        r = push(l, KURA_LINT_WARNING, "nist_min_length", "password.min_length", &en, &ja);
    } else if (p->min_length < 15 && p->mfa != KURA_MFA_ALL) {
        bool some = p->mfa == KURA_MFA_PRIVILEGED;
        who(p, &en, &ja);
        kura_buf_addf(&en,
                      "passwords of %u characters may be the only factor%s; NIST SP 800-63B "
                      "requires at least 15 then (8 only with multi-factor authentication)",
                      p->min_length, some ? " for ordinary users" : "");
        kura_buf_addf(&ja,
                      "%u文字のパスワードが%s唯一の認証要素になり得ます。NIST SP 800-63B はその場合"
                      "15文字以上を求めています（8文字は多要素認証と併用する場合のみ）",
                      p->min_length, some ? "一般利用者では" : "");
        r = push(l, KURA_LINT_WARNING, "nist_short_single_factor", "password.min_length", &en, &ja);
    }
    if (r < 0 || p->max_length >= 64) {
        kura_buf_release(&en);
        kura_buf_release(&ja);
        return r;
    }
    who(p, &en, &ja);
    kura_buf_addf(&en,
                  "passwords are limited to %u characters; NIST SP 800-63B says at least 64 "
                  "should be allowed",
                  p->max_length);
    kura_buf_addf(&ja,
                  "パスワードが%u文字までに制限されています。NIST SP 800-63B は64文字以上を許す"
                  "べきとしています",
                  p->max_length);
    return push(l, KURA_LINT_WARNING, "nist_max_length", "password.max_length", &en, &ja);
}

/* The warnings that carry no number. */
static int lint_plain(const struct kura_password_policy *p, struct kura_lint *l)
{
    static const struct {
        const char *code, *key, *en, *ja;
    } rules[] = {
        {"nist_charset", "password.charset",
         "only ASCII letters and digits are allowed; NIST SP 800-63B says all printing ASCII "
         "characters, the space and Unicode should be accepted",
         "英数字しか使えません。NIST SP 800-63B は ASCII の印字可能文字・空白・Unicode "
         "文字をすべて受け付けるべきとしています"},
        {"nist_no_blocklist", "password.dictionary",
         "the dictionary check is off; NIST SP 800-63B requires comparing new passwords with a "
         "blocklist of commonly used, expected or compromised values",
         "辞書チェックが無効です。NIST SP 800-63B は、よく使われる・推測される・漏えいした"
         "パスワードのブロックリストとの照合を求めています"},
        {"nist_context_words", "password.forbid_user_info",
         "passwords may contain the user ID, name, e-mail address or site name; NIST SP 800-63B "
         "counts such context-specific words among the expected values to refuse",
         "ユーザー ID・氏名・メールアドレス・サイト名を含むパスワードが許されます。NIST SP "
         "800-63B はこうした文脈固有の語を拒否すべき値としています"},
        {"no_first_login_change", "password.change_first_login",
         "passwords issued by an administrator or the helpdesk stay valid after first use, "
         "although someone besides the user knows them",
         "管理者やヘルプデスクが発行したパスワードを初回ログイン後も使い続けられますが、"
         "本人以外もそのパスワードを知っています"},
    };
    const bool hit[] = {
        p->charset != KURA_PASSWORD_CHARSET_ANY,
        !p->dictionary,
        !p->forbid_user_info,
        !p->change_first_login,
    };
    _Static_assert(KURA_ARRAY_SIZE(hit) == KURA_ARRAY_SIZE(rules), "one condition per rule");
    for (size_t i = 0; i < KURA_ARRAY_SIZE(rules); i++) {
        if (!hit[i]) {
            continue;
        }
        struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
        who(p, &en, &ja);
        kura_buf_adds(&en, rules[i].en);
        kura_buf_adds(&ja, rules[i].ja);
        int r = push(l, KURA_LINT_WARNING, rules[i].code, rules[i].key, &en, &ja);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static int lint_history(const struct kura_password_policy *p, struct kura_lint *l)
{
    struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
    if (p->max_age_days == 0 || p->history > 0) {
        return 0;
    }
    who(p, &en, &ja);
    kura_buf_addf(&en,
                  "passwords expire after %u days but no history is kept, so the old password "
                  "can simply be set again (set history)",
                  p->max_age_days);
    kura_buf_addf(&ja,
                  "パスワードは%u日で期限切れになりますが履歴を保持しないため、同じパスワードを"
                  "再設定できます（history を設定してください）",
                  p->max_age_days);
    return push(l, KURA_LINT_WARNING, "rotation_without_history", "password.history", &en, &ja);
}

static int lint_lockout_dos(const struct kura_password_policy *p, struct kura_lint *l)
{
    struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
    if (p->lockout_threshold == 0 || p->lockout_threshold >= 10 ||
        p->lockout_mode != KURA_LOCKOUT_UNTIL_RESET) {
        return 0;
    }
    who(p, &en, &ja);
    kura_buf_addf(&en,
                  "%u failed logins lock the account until it is reset, so anyone who knows a "
                  "login ID can lock its owner out; the back-off or a timed lockout avoids this",
                  p->lockout_threshold);
    kura_buf_addf(&ja,
                  "%u回の失敗でリセットまでアカウントがロックされるため、ログイン ID "
                  "を知っていれば誰でも本人を締め出せます。バックオフや時間制限付きのロックで"
                  "避けられます",
                  p->lockout_threshold);
    return push(l, KURA_LINT_WARNING, "lockout_dos", "password.lockout_threshold", &en, &ja);
}

static int lint_override(struct kura_lint *l, const char *reason)
{
    if (!reason || reason[0] == '\0') {
        return 0;
    }
    size_t errors = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i].level == KURA_LINT_ERROR) {
            l->items[i].level = KURA_LINT_OVERRIDDEN;
            errors++;
        }
    }
    if (errors > 0) {
        return 0;
    }
    struct kura_buf en = KURA_BUF_INIT(LINT_MSG_MAX), ja = KURA_BUF_INIT(LINT_MSG_MAX);
    kura_buf_adds(&en, "[compliance] override_reason is set, but the compliance lint finds no "
                       "error to override");
    kura_buf_adds(&ja, "[compliance] override_reason が設定されていますが、上書きすべきエラーは"
                       "ありません");
    return push(l, KURA_LINT_WARNING, "override_unused", "compliance.override_reason", &en, &ja);
}

int kura_auth_lint_policy(const struct kura_password_policy *p, const char *override_reason,
                          struct kura_lint *ret)
{
    int (*const rules[])(const struct kura_password_policy *, struct kura_lint *) = {
        lint_mhlw,  lint_nist_composition, lint_nist_rotation, lint_nist_lockout, lint_nist_length,
        lint_plain, lint_history,          lint_lockout_dos,
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(rules); i++) {
        int r = rules[i](p, ret);
        if (r < 0) {
            return r;
        }
    }
    return lint_override(ret, override_reason);
}

int kura_auth_lint(const struct kura_conf *c, struct kura_lint *ret, struct kura_buf *err)
{
    struct kura_password_policy p;
    int r = kura_password_policy_resolve(c, &p, err);
    if (r < 0) {
        return r;
    }
    return kura_auth_lint_policy(&p, c->compliance.override_reason, ret);
}

void kura_lint_release(struct kura_lint *l)
{
    for (size_t i = 0; i < l->n; i++) {
        kura_free(l->items[i].message_en);
        kura_free(l->items[i].message_ja);
    }
    kura_free(l->items);
    *l = KURA_LINT_INIT;
}

size_t kura_lint_count(const struct kura_lint *l, enum kura_lint_level level)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        n += l->items[i].level == level;
    }
    return n;
}

const char *kura_lint_level_name(enum kura_lint_level level, enum kura_lang lang)
{
    static const char *const names[][2] = {
        {"error", "エラー"},
        {"warning", "警告"},
        {"overridden", "上書き済み"},
    };
    if ((unsigned)level >= KURA_ARRAY_SIZE(names)) {
        return "?";
    }
    return names[level][lang == KURA_LANG_JA ? 1 : 0];
}
