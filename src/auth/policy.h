/* auth/policy.h — password policy profiles, checking a candidate password, the compliance lint.
 * (Declarations of the auth area; to be merged into auth.h.)
 *
 * Purpose: a password policy is one struct of knobs (length, characters, composition, the
 * user-information and dictionary blocklists, history, maximum age, change at first login, MFA,
 * lockout, back-off, the login-ID rule). kura.conf names a profile ([password] profile) and may
 * override any knob; kura_password_policy_resolve turns the two into the policy in force.
 * kura_password_check judges a candidate password against it and names the first rule that
 * failed, in English and Japanese. kura_auth_lint compares the policy with the MHLW guideline 6.0
 * options and NIST SP 800-63B rev. 4 and lists what it finds (`kura config check`).
 *
 * The profiles (knobs a source document does not mention take kura-default's value, except MFA,
 * which a profile requires only where its document does):
 *  - kura-default: 15..256 characters, any Unicode, no composition rules, blocklist (libcrack2,
 *    user ID, name, e-mail local part, site name), no expiry, change at first login (admin-issued
 *    passwords), MFA for every account, back-off from the 5th consecutive failure, lock at 10
 *    until an administrator or the helpdesk unlocks.
 *  - nist (SP 800-63B rev. 4, password as a single factor): 15..256, blocklist, no composition
 *    and no expiry, no MFA, back-off from the 5th failure, lock at 100 (the SP's upper bound).
 *  - mhlw6-a: >= 13 with letters, digits and symbols, no rotation.
 *    mhlw6-b: >= 8 with letters, digits and symbols, rotation every 60 days, history 10.
 *    mhlw6-c: >= 8 with letters, digits and symbols, MFA for every account, no rotation.
 *    (The three password examples of the MHLW guideline 6.0 Q&A.)
 *  - nbdc (NBDC security guideline, 001 §2-2): >= 8, must not contain the ID or name.
 *  - ccat (C-CAT, 003 §8.1(1)⑤): MFA, >= 8, 3 of 4 classes, must not contain the user ID,
 *    180-day expiry, lock after 6 consecutive failures until the helpdesk resets the password.
 *  - iso27001 (system rules, 004 §4.1.5): >= 8 with upper, lower and special characters, 90-day
 *    expiry, history 10, change at first logon, lock after 10, MFA for privileged roles only.
 *  - kiyosu (Kiyosu policy, 002 別紙1): IDs of exactly 10 alphanumerics, passwords of exactly 8.
 *
 * Invariants:
 *  - A password is judged after NFKC normalisation (Unicode compatibility composition, as
 *    utf8proc implements it); the normalised bytes are what gets hashed
 *    (kura_password_normalize), so "ｐａｓｓ" and "pass" are one password. Lengths are counted
 *    in code points of the normalised form, never in bytes.
 *  - Invalid UTF-8, control characters (C0, DEL, C1, U+2028/2029, and so NUL) and code points
 *    unassigned in utf8proc's Unicode version are refused, not repaired: an unassigned code
 *    point could normalise differently after a library upgrade and lock its owner out.
 *  - Verdict messages never contain the password or any part of it.
 *  - Every secret copy (normalised and case-folded forms) is wiped with sodium_memzero before
 *    it is freed; libcrack2 copies the password onto its own stack, which cannot be wiped.
 *  - Nothing here logs.
 *
 * Limits: input at most KURA_PASSWORD_MAX bytes, before and after normalisation;
 * policy lengths 1..KURA_PASSWORD_POLICY_LEN_MAX code points; context strings at most
 * KURA_PASSWORD_CONTEXT_MAX bytes each.
 *
 * Security assumptions: the dictionary files of cracklib-runtime (GetDefaultCracklibDict(), on
 * Debian /var/cache/cracklib/cracklib_dict.{pwd,pwi,hwm}) are trusted and present; a server
 * whose policy uses the dictionary calls kura_password_dict_probe at start and refuses to start
 * without it, instead of silently accepting every password. libcrack2 is not thread-safe, so
 * calls into it are serialised by a mutex in policy.c.
 *
 * Not here (the caller's job, with data it keeps): password history (compare the new hash with
 * the last `history` hashes), the age of a password (kura_password_expired does the arithmetic),
 * counting failures (kura_password_backoff_seconds and kura_password_lockout_reached do the
 * arithmetic), raising the lockout alert, and recording [compliance] override_reason.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "base/base.h"
#include "conf/conf.h"

/* ---- limits -------------------------------------------------------------------------------- */

/* Longest min_length/max_length a policy may have, in code points: KURA_PASSWORD_MAX bytes hold
 * at least this many code points of any script. */
#define KURA_PASSWORD_POLICY_LEN_MAX 256u
#define KURA_PASSWORD_HISTORY_MAX 100u     /* previous passwords remembered */
#define KURA_PASSWORD_MAX_AGE_MAX 3650u    /* days */
#define KURA_PASSWORD_FAILURES_MAX 1000u   /* lockout_threshold, backoff_after */
#define KURA_PASSWORD_BACKOFF_MAX 86400u   /* seconds */
#define KURA_PASSWORD_LOCKOUT_MAX 2592000u /* seconds of a timed lockout (30 days) */
#define KURA_PASSWORD_CONTEXT_MAX 1024u    /* bytes of each context string */
#define KURA_PASSWORD_MSG_MAX 384u         /* bytes of a verdict message, including the NUL */
#define KURA_PASSWORD_CONTEXT_PART_MIN 3u  /* shorter name parts are not searched for */

/* ---- the policy ---------------------------------------------------------------------------- */

/* Character classes of a password (bitmask), on the normalised form. */
enum kura_password_class {
    KURA_PASSWORD_CLASS_LOWER = 1u << 0,  /* lower-case letter (Unicode Ll) */
    KURA_PASSWORD_CLASS_UPPER = 1u << 1,  /* upper- or title-case letter (Lu, Lt) */
    KURA_PASSWORD_CLASS_DIGIT = 1u << 2,  /* decimal digit (Nd) */
    KURA_PASSWORD_CLASS_SYMBOL = 1u << 3, /* anything else: punctuation, symbols, spaces, ... */
    KURA_PASSWORD_CLASS_LETTER = 1u << 4, /* any letter or mark (L*, M*): kana and kanji too */
};
/* The four classes that "n of 4" counts (LETTER is not one of them). */
#define KURA_PASSWORD_CLASSES_4                                                                    \
    (KURA_PASSWORD_CLASS_LOWER | KURA_PASSWORD_CLASS_UPPER | KURA_PASSWORD_CLASS_DIGIT |           \
     KURA_PASSWORD_CLASS_SYMBOL)

enum kura_password_charset {
    KURA_PASSWORD_CHARSET_ANY = 0,   /* any assigned, non-control Unicode code point */
    KURA_PASSWORD_CHARSET_ALNUM = 1, /* ASCII A-Z, a-z, 0-9 only (kiyosu's 英数字) */
};

enum kura_mfa_scope {
    KURA_MFA_NONE = 0, /* MFA optional */
    KURA_MFA_PRIVILEGED =
        1,            /* required for privileged roles (admin, operator, helpdesk, auditor) */
    KURA_MFA_ALL = 2, /* required for every account */
};

enum kura_lockout_mode {
    KURA_LOCKOUT_UNTIL_RESET = 0, /* locked until an administrator or the helpdesk unlocks */
    KURA_LOCKOUT_DURATION = 1,    /* unlocked after lockout_seconds */
};

struct kura_password_policy {
    const char *name;    /* the profile it started from (static) */
    unsigned overrides;  /* how many knobs kura.conf overrode (0: the profile as shipped) */
    unsigned min_length; /* code points, 1..KURA_PASSWORD_POLICY_LEN_MAX */
    unsigned max_length; /* code points, min_length..KURA_PASSWORD_POLICY_LEN_MAX */
    enum kura_password_charset charset;
    unsigned required_classes; /* enum kura_password_class bits that must each occur */
    unsigned min_classes;      /* at least this many of KURA_PASSWORD_CLASSES_4 (0..4) */
    bool forbid_user_info;     /* no user ID, name, e-mail local part or site name inside */
    bool dictionary;           /* libcrack2's FascistCheck must accept it */
    unsigned history;          /* the last N passwords may not be reused (0: none) */
    unsigned max_age_days;     /* a password expires after this many days (0: never) */
    bool change_first_login;   /* administrator-issued passwords must be changed at first use */
    enum kura_mfa_scope mfa;
    unsigned lockout_threshold; /* consecutive failures that lock the account (0: never) */
    enum kura_lockout_mode lockout_mode;
    unsigned lockout_seconds;     /* KURA_LOCKOUT_DURATION: how long; otherwise 0 */
    unsigned backoff_after;       /* from this consecutive failure on, 429 + Retry-After (0: off) */
    unsigned backoff_max_seconds; /* the Retry-After doubles from 1 s up to this */
    struct kura_id_rule id_rule;  /* what a login ID looks like under this profile */
};

/* The shipped profile of that name ("kura-default", "nist", "mhlw6-a", "mhlw6-b", "mhlw6-c",
 * "nbdc", "ccat", "iso27001", "kiyosu"), or NULL when there is none. Static storage. */
const struct kura_password_policy *kura_password_policy_by_name(const char *name);

/* The i-th shipped profile (0-based, the order above), NULL past the last: for listing. */
const struct kura_password_policy *kura_password_policy_at(size_t i);

/* The policy in force under c: the profile named by [password] profile with every [password]
 * knob that is set (not empty) applied on top. Checks the result as a whole (min_length <=
 * max_length, classes that the charset can satisfy, a timed lockout with a duration, ...).
 * Errors: KURA_ECONFIG, with a message naming the key(s) appended to err (may be NULL).
 * ret is written only on success. */
KURA_MUST_CHECK int kura_password_policy_resolve(const struct kura_conf *c,
                                                 struct kura_password_policy *ret,
                                                 struct kura_buf *err);

/* Checks that a policy is coherent (the whole-policy checks of kura_password_policy_resolve).
 * Errors: KURA_ECONFIG with the reason appended to err (may be NULL). */
KURA_MUST_CHECK int kura_password_policy_validate(const struct kura_password_policy *p,
                                                  struct kura_buf *err);

/* ---- checking a candidate password --------------------------------------------------------- */

/* What the check knows about the account, to refuse passwords built from it. Every field is a
 * NUL-terminated string or NULL (unknown); each at most KURA_PASSWORD_CONTEXT_MAX bytes of valid
 * UTF-8 (otherwise KURA_ERANGE / KURA_EUTF8). Comparison is case-insensitive after NFKC
 * normalisation and case folding, on the whole value and on its parts split at anything that is
 * not a letter, mark or digit, with separators removed too ("alice.smith" → "alice", "smith",
 * "alicesmith", "alice.smith"); only parts of at least KURA_PASSWORD_CONTEXT_PART_MIN code
 * points are searched for. For the e-mail address only the local part (before the last '@')
 * is used. */
struct kura_password_context {
    const char *user_id;
    const char *display_name;
    const char *email;
    const char *site_name;
    const char *dictionary_path; /* NULL: libcrack2's default (GetDefaultCracklibDict()) */
};

/* The outcome. code is a stable machine name (static storage):
 *   "ok"                    accepted
 *   "invalid_utf8"          not valid UTF-8
 *   "control_character"     a control character (NUL, C0, DEL, C1, line/paragraph separator)
 *   "unassigned_character"  a code point not assigned in Unicode
 *   "too_short", "too_long" outside min_length..max_length (messages say "exactly N" when equal)
 *   "disallowed_character"  outside the charset (kiyosu: ASCII letters and digits only)
 *   "missing_upper", "missing_lower", "missing_digit", "missing_symbol", "missing_letter"
 *                           a required class is absent
 *   "missing_classes"       fewer than min_classes of the four classes
 *   "contains_user_id", "contains_name", "contains_email", "contains_site_name"
 *   "dictionary"            libcrack2 refused it (dictionary word, too simple, too few
 *                           different characters); message_en adds libcrack2's reason
 * The rules are tried in the order listed; the first failure is reported. message_en and
 * message_ja say what the rule demands with its numbers ("at least 15 characters" /
 * "15文字以上"); both are empty for "ok". length is the normalised length in code points (0
 * when the input was refused before normalisation). */
struct kura_password_verdict {
    bool ok;
    const char *code;
    size_t length;
    char message_en[KURA_PASSWORD_MSG_MAX];
    char message_ja[KURA_PASSWORD_MSG_MAX];
};

/* Judges pw[0..len) (need not be NUL-terminated) against policy p for the account described by
 * ctx (may be NULL). Returns 0 when the password was judged — accepted or refused, see
 * ret->ok — and writes *ret. Errors (nothing judged, ret untouched): KURA_ERANGE / KURA_EUTF8
 * (a context string too long or not UTF-8), -ENOENT (p->dictionary is set and the dictionary
 * cannot be read: kura_password_dict_probe tells why), -ENOMEM. */
KURA_MUST_CHECK int kura_password_check(const struct kura_password_policy *p, const char *pw,
                                        size_t len, const struct kura_password_context *ctx,
                                        struct kura_password_verdict *ret);

/* Checks that the libcrack2 dictionary at path (NULL: GetDefaultCracklibDict()) can be used:
 * its .pwd and .pwi files are readable and the index has libcrack2's magic number. Errors:
 * -ENOENT / -EACCES / ... (a file cannot be opened), KURA_ECORRUPT (not a libcrack2 index); the
 * message, with the remedy (install cracklib-runtime, run update-cracklib), is appended to err
 * (may be NULL). Call it at start when the policy in force has dictionary set. */
KURA_MUST_CHECK int kura_password_dict_probe(const char *path, struct kura_buf *err);

/* The bytes to hash: pw[0..len) in NFKC. *ret receives a NUL-terminated copy in kura_malloc
 * memory and *ret_len its length; the caller wipes and frees it (kura_password_normalized_free).
 * Errors: KURA_ERANGE (len 0, or more than KURA_PASSWORD_MAX bytes before or after
 * normalisation), KURA_EUTF8 (invalid UTF-8 or an unassigned code point), KURA_ESYNTAX (a
 * control character), -ENOMEM. Idempotent: normalising the result gives the same bytes. */
KURA_MUST_CHECK int kura_password_normalize(const char *pw, size_t len, char **ret,
                                            size_t *ret_len);

/* Wipes p[0..len) and frees it; accepts NULL; returns NULL. */
char *kura_password_normalized_free(char *p, size_t len);

/* ---- ageing, back-off, lockout, MFA (arithmetic on data the caller keeps) ------------------ */

/* True when a password set at changed_at_ms (wall-clock ms) has expired at now_ms under p:
 * max_age_days is set and at least that many days have passed. Never true without
 * max_age_days. */
bool kura_password_expired(const struct kura_password_policy *p, int64_t changed_at_ms,
                           int64_t now_ms);

/* Retry-After, in seconds, after `failures` consecutive failures: 0 below backoff_after (or when
 * back-off is off), then 1, 2, 4, ... seconds, at most backoff_max_seconds. */
unsigned kura_password_backoff_seconds(const struct kura_password_policy *p, unsigned failures);

/* True when `failures` consecutive failures lock the account (lockout_threshold is set and
 * reached). */
bool kura_password_lockout_reached(const struct kura_password_policy *p, unsigned failures);

/* True when an account must use MFA under p; privileged: it holds a privileged role. */
bool kura_password_mfa_required(const struct kura_password_policy *p, bool privileged);

/* ---- the compliance lint ------------------------------------------------------------------- */

/* Errors stop `kura serve` and fail `kura config check` unless [compliance] override_reason is
 * set; then they are reported as overridden. Warnings never stop anything. */
enum kura_lint_level {
    KURA_LINT_ERROR = 0,
    KURA_LINT_WARNING = 1,
    KURA_LINT_OVERRIDDEN = 2, /* an error, accepted by [compliance] override_reason */
};

struct kura_lint_finding {
    enum kura_lint_level level;
    const char *code; /* stable, static: "mhlw_no_option", "nist_composition", ... */
    const char *key;  /* the configuration key at fault, "password.max_age_days" (static) */
    char *message_en; /* owned by the list; lower-case, no final period */
    char *message_ja; /* owned by the list */
};

/* Findings in the order the rules run. Initialise with KURA_LINT_INIT; release with
 * kura_lint_release. */
struct kura_lint {
    struct kura_lint_finding *items;
    size_t n;
    size_t cap;
};
#define KURA_LINT_INIT ((struct kura_lint){NULL, 0, 0})

/* The codes (the rules):
 *   error   "mhlw_no_option"          none of the MHLW guideline 6.0 options holds: (a) at least
 *                                     13 characters, (b) at least 8 and expiry within 60 days,
 *                                     (c) at least 8 and MFA for every account. Composition is
 *                                     not part of this test (see mhlw_mix).
 *   warning "mhlw_mix"                an MHLW option holds by length, rotation or MFA, but the
 *                                     guideline's letters-digits-symbols mix is not required and
 *                                     the minimum is below 15 (15+ with the blocklist is taken as
 *                                     at least as strong as 13 mixed)
 *   warning "nist_composition"        composition rules (required_classes, min_classes)
 *   warning "nist_rotation"           periodic expiry (max_age_days)
 *   warning "nist_lockout_threshold"  lockout_threshold above 100
 *   warning "nist_no_lockout"         lockout_threshold 0: consecutive failures are unlimited
 *                                     (back-off alone only slows them down)
 *   warning "nist_short_single_factor" min_length below 15 where a password may be the only
 *                                     factor (MFA not required for every account)
 *   warning "nist_min_length"         min_length below 8
 *   warning "nist_max_length"         max_length below 64
 *   warning "nist_charset"            a charset narrower than any Unicode
 *   warning "nist_no_blocklist"       dictionary off
 *   warning "nist_context_words"      forbid_user_info off
 *   warning "rotation_without_history" expiry without history: the old password comes back
 *   warning "lockout_dos"             a lockout until reset at fewer than 10 failures lets
 *                                     anyone who knows an ID lock its owner out
 *   warning "no_first_login_change"   administrator-issued passwords stay valid
 *   warning "override_unused"         override_reason is set but there is no error to override
 * With override_reason non-empty, every error becomes KURA_LINT_OVERRIDDEN.
 * Errors: -ENOMEM (ret then holds what was found before). */
KURA_MUST_CHECK int kura_auth_lint_policy(const struct kura_password_policy *p,
                                          const char *override_reason, struct kura_lint *ret);

/* Resolves the policy of c (kura_password_policy_resolve) and lints it with c's [compliance]
 * override_reason. Errors: KURA_ECONFIG (the policy does not resolve; message in err, which may
 * be NULL), -ENOMEM. */
KURA_MUST_CHECK int kura_auth_lint(const struct kura_conf *c, struct kura_lint *ret,
                                   struct kura_buf *err);

/* Frees the findings; l may be reused after KURA_LINT_INIT. */
void kura_lint_release(struct kura_lint *l);

/* How many findings have that level. */
size_t kura_lint_count(const struct kura_lint *l, enum kura_lint_level level);

/* "error", "warning", "overridden" (KURA_LANG_EN) or "エラー", "警告", "上書き済み" (KURA_LANG_JA).
 */
const char *kura_lint_level_name(enum kura_lint_level level, enum kura_lang lang);
