/* policy.c — checking a candidate password against a policy (see policy.h for the rules and
 * why); the profiles and kura.conf overrides are in profiles.c.
 *
 * Normalisation uses utf8proc's pieces (utf8proc_decompose, then utf8proc_reencode) with the
 * options of utf8proc_map(..., UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT), i.e. NFKC,
 * but into a buffer of ours: utf8proc_map mallocs its buffer and shrinks it with realloc, which
 * may leave an unwiped copy of the password in freed memory. Here every buffer that held a
 * password is wiped with sodium_memzero before it is freed.
 *
 * The dictionary check is libcrack2's FascistCheckUser, never FascistCheck: the latter looks up
 * the process's own passwd entry (getpwuid) and fails when there is none. libcrack2 keeps static
 * state (Mangle's buffer), so calls are serialised.
 */
#include "auth/policy.h"

#include <crack.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

/* The options of utf8proc_NFKC, plus refusing unassigned code points. */
#define NFKC_OPTS (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT)
#define CRACKLIB_PIH_MAGIC 0x70775631u /* libcrack2 packer.h PIH_MAGIC: the .pwi header */

static unsigned popcount(unsigned x)
{
    return (unsigned)__builtin_popcount(x);
}

/* ---- normalisation ------------------------------------------------------------------------- */

/* A normalised string in a buffer that may have held the password: wipe before freeing. */
struct norm {
    utf8proc_int32_t *mem; /* kura_malloc'd, mem_size bytes */
    size_t mem_size;
    char *s;    /* == (char *)mem: the UTF-8 result, NUL-terminated */
    size_t len; /* bytes of s */
};

static void norm_release(struct norm *n)
{
    if (n->mem) {
        sodium_memzero(n->mem, n->mem_size);
        kura_free(n->mem);
    }
    *n = (struct norm){NULL, 0, NULL, 0};
}

static int utf8proc_err(utf8proc_ssize_t r)
{
    switch (r) {
    case UTF8PROC_ERROR_NOMEM:
        return -ENOMEM;
    case UTF8PROC_ERROR_INVALIDUTF8:
    case UTF8PROC_ERROR_NOTASSIGNED:
        return KURA_EUTF8;
    case UTF8PROC_ERROR_OVERFLOW:
        return KURA_ERANGE;
    default:
        return KURA_EINTERNAL;
    }
}

/* Normalises s[0..len) (valid UTF-8) with opts into a fresh buffer. */
static int normalize(const char *s, size_t len, utf8proc_option_t opts, struct norm *ret)
{
    /* Decomposition never yields fewer code points than bytes / 4; start with one per byte and
     * grow once if compatibility decompositions need more. */
    size_t cap = len + 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t bytes;
        if (kura_mul_size(cap, sizeof(utf8proc_int32_t), &bytes) < 0) {
            return KURA_ERANGE;
        }
        utf8proc_int32_t *buf = kura_malloc(bytes);
        if (!buf) {
            return -ENOMEM;
        }
        utf8proc_ssize_t n = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len,
                                                buf, (utf8proc_ssize_t)(cap - 1), opts);
        if (n >= 0 && (size_t)n <= cap - 1) {
            utf8proc_ssize_t m = utf8proc_reencode(buf, n, opts);
            if (m < 0) {
                sodium_memzero(buf, bytes);
                kura_free(buf);
                return utf8proc_err(m);
            }
            *ret = (struct norm){buf, bytes, (char *)buf, (size_t)m};
            /* What follows the NUL held decomposed code points: wipe it now. */
            sodium_memzero((char *)buf + m + 1, bytes - (size_t)m - 1);
            return 0;
        }
        sodium_memzero(buf, bytes);
        kura_free(buf);
        if (n < 0) {
            return utf8proc_err(n);
        }
        cap = (size_t)n + 1;
    }
    return KURA_EINTERNAL; /* the second decomposition disagreed with the first */
}

/* Control characters: C0, DEL, C1, and the Unicode line and paragraph separators. */
static bool is_control(utf8proc_int32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029;
}

/* Scans valid UTF-8 for control characters. */
static bool has_control(const char *s, size_t len)
{
    utf8proc_ssize_t i = 0;
    while ((size_t)i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)len - i, &cp);
        if (n <= 0 || is_control(cp)) {
            return true;
        }
        i += n;
    }
    return false;
}

/* Shared by kura_password_normalize and kura_password_check: a refusal as a KURA_E code and,
 * for the verdict, its stable name. */
static int normalize_password(const char *pw, size_t len, struct norm *ret, const char **ret_code)
{
    if (len == 0) {
        *ret_code = "too_short";
        return KURA_ERANGE;
    }
    if (len > KURA_PASSWORD_MAX) {
        *ret_code = "too_long";
        return KURA_ERANGE;
    }
    if (!kura_utf8_valid(pw, len)) {
        *ret_code = "invalid_utf8";
        return KURA_EUTF8;
    }
    if (has_control(pw, len)) {
        *ret_code = "control_character";
        return KURA_ESYNTAX;
    }
    int r = normalize(pw, len, NFKC_OPTS | UTF8PROC_REJECTNA, ret);
    if (r == KURA_EUTF8) {
        *ret_code = "unassigned_character";
        return r;
    }
    if (r < 0) {
        *ret_code = NULL;
        return r;
    }
    if (ret->len > KURA_PASSWORD_MAX) {
        norm_release(ret);
        *ret_code = "too_long";
        return KURA_ERANGE;
    }
    if (has_control(ret->s, ret->len)) { /* compatibility mappings never produce one; check */
        norm_release(ret);
        *ret_code = "control_character";
        return KURA_ESYNTAX;
    }
    return 0;
}

int kura_password_normalize(const char *pw, size_t len, char **ret, size_t *ret_len)
{
    struct norm n;
    const char *code;
    int r = normalize_password(pw, len, &n, &code);
    if (r < 0) {
        return r;
    }
    *ret = n.s;
    *ret_len = n.len;
    return 0;
}

char *kura_password_normalized_free(char *p, size_t len)
{
    if (p) {
        sodium_memzero(p, len);
        kura_free(p);
    }
    return NULL;
}

/* ---- the verdict --------------------------------------------------------------------------- */

static void refuse(struct kura_password_verdict *v, const char *code)
{
    v->ok = false;
    v->code = code;
}

/* Messages for the refusals that carry no number. */
static void refuse_plain(struct kura_password_verdict *v, const char *code)
{
    static const struct {
        const char *code, *en, *ja;
    } msgs[] = {
        {"invalid_utf8", "password is not valid UTF-8", "パスワードが正しい UTF-8 ではありません"},
        {"control_character", "password contains a control character",
         "パスワードに制御文字が含まれています"},
        {"unassigned_character", "password contains a character not assigned in Unicode",
         "パスワードに Unicode で未割り当ての文字が含まれています"},
        {"disallowed_character",
         "password may contain only the letters A-Z and a-z and the digits 0-9",
         "パスワードに使えるのは英字（A～Z、a～z）と数字（0～9）だけです"},
        {"missing_upper", "password must contain an upper-case letter",
         "パスワードには英大文字を含めてください"},
        {"missing_lower", "password must contain a lower-case letter",
         "パスワードには英小文字を含めてください"},
        {"missing_digit", "password must contain a digit", "パスワードには数字を含めてください"},
        {"missing_symbol",
         "password must contain a symbol (a character that is not a letter or "
         "digit)",
         "パスワードには記号（英字・数字以外の文字）を含めてください"},
        {"missing_letter", "password must contain a letter",
         "パスワードには英字などの文字を含めてください"},
        {"contains_user_id", "password must not contain your user ID",
         "パスワードにユーザー ID を含めることはできません"},
        {"contains_name", "password must not contain your name",
         "パスワードに氏名を含めることはできません"},
        {"contains_email", "password must not contain your e-mail address",
         "パスワードにメールアドレスを含めることはできません"},
        {"contains_site_name", "password must not contain the name of this site",
         "パスワードにサイト名を含めることはできません"},
    };
    refuse(v, code);
    for (size_t i = 0; i < KURA_ARRAY_SIZE(msgs); i++) {
        if (strcmp(code, msgs[i].code) == 0) {
            (void)snprintf(v->message_en, sizeof(v->message_en), "%s", msgs[i].en);
            (void)snprintf(v->message_ja, sizeof(v->message_ja), "%s", msgs[i].ja);
            return;
        }
    }
}

static void refuse_length(struct kura_password_verdict *v, const struct kura_password_policy *p,
                          bool too_short)
{
    refuse(v, too_short ? "too_short" : "too_long");
    if (p->min_length == p->max_length) {
        (void)snprintf(v->message_en, sizeof(v->message_en),
                       "password must be exactly %u characters long", p->min_length);
        (void)snprintf(v->message_ja, sizeof(v->message_ja),
                       "パスワードはちょうど%u文字にしてください", p->min_length);
    } else if (too_short) {
        (void)snprintf(v->message_en, sizeof(v->message_en),
                       "password is too short: at least %u characters", p->min_length);
        (void)snprintf(v->message_ja, sizeof(v->message_ja),
                       "パスワードが短すぎます：%u文字以上にしてください", p->min_length);
    } else {
        (void)snprintf(v->message_en, sizeof(v->message_en),
                       "password is too long: at most %u characters", p->max_length);
        (void)snprintf(v->message_ja, sizeof(v->message_ja),
                       "パスワードが長すぎます：%u文字以下にしてください", p->max_length);
    }
}

/* Over-long after normalisation although within max_length: the byte limit of hashing. */
static void refuse_bytes(struct kura_password_verdict *v)
{
    refuse(v, "too_long");
    (void)snprintf(v->message_en, sizeof(v->message_en),
                   "password is too long: at most %u bytes after normalisation", KURA_PASSWORD_MAX);
    (void)snprintf(v->message_ja, sizeof(v->message_ja),
                   "パスワードが長すぎます：正規化後 %u バイト以下にしてください",
                   KURA_PASSWORD_MAX);
}

/* ---- character classes --------------------------------------------------------------------- */

static unsigned class_of(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LT:
        return KURA_PASSWORD_CLASS_UPPER | KURA_PASSWORD_CLASS_LETTER;
    case UTF8PROC_CATEGORY_LL:
        return KURA_PASSWORD_CLASS_LOWER | KURA_PASSWORD_CLASS_LETTER;
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return KURA_PASSWORD_CLASS_LETTER;
    case UTF8PROC_CATEGORY_ND:
        return KURA_PASSWORD_CLASS_DIGIT;
    default:
        return KURA_PASSWORD_CLASS_SYMBOL;
    }
}

static bool is_ascii_alnum(utf8proc_int32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
}

/* Code points, the classes present, and whether every character is ASCII alphanumeric. */
static void scan(const char *s, size_t len, size_t *ret_cps, unsigned *ret_classes, bool *ret_alnum)
{
    size_t cps = 0;
    unsigned classes = 0;
    bool alnum = true;
    utf8proc_ssize_t i = 0;
    while ((size_t)i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)len - i, &cp);
        if (n <= 0) {
            break; /* cannot happen: s is utf8proc's own output */
        }
        cps++;
        classes |= class_of(cp);
        alnum = alnum && is_ascii_alnum(cp);
        i += n;
    }
    *ret_cps = cps;
    *ret_classes = classes;
    *ret_alnum = alnum;
}

/* The first required class that is missing, as a refusal code, or NULL. */
static const char *missing_class(unsigned required, unsigned present)
{
    static const struct {
        unsigned bit;
        const char *code;
    } order[] = {
        {KURA_PASSWORD_CLASS_UPPER, "missing_upper"},
        {KURA_PASSWORD_CLASS_LOWER, "missing_lower"},
        {KURA_PASSWORD_CLASS_DIGIT, "missing_digit"},
        {KURA_PASSWORD_CLASS_SYMBOL, "missing_symbol"},
        {KURA_PASSWORD_CLASS_LETTER, "missing_letter"},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(order); i++) {
        if ((required & order[i].bit) && !(present & order[i].bit)) {
            return order[i].code;
        }
    }
    return NULL;
}

/* ---- user information ---------------------------------------------------------------------- */

/* Letters, marks and numbers make up words; everything else separates them. */
static bool is_word_char(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

static bool found(const struct norm *pw, const char *part, size_t len, size_t cps)
{
    return cps >= KURA_PASSWORD_CONTEXT_PART_MIN && len <= pw->len &&
           memmem(pw->s, pw->len, part, len) != NULL;
}

/* Whether the folded password contains the folded value, one of its parts, or its parts
 * joined. */
static int contains_value(const struct norm *pw, const char *value, size_t len, bool *ret)
{
    struct norm f = {0};
    int r = normalize(value, len, NFKC_OPTS | UTF8PROC_CASEFOLD, &f);
    if (r < 0) {
        return r;
    }
    struct kura_buf joined = KURA_BUF_INIT(f.len);
    bool hit = false;
    size_t all_cps = 0, joined_cps = 0, part_start = 0, part_cps = 0, i = 0;
    while (!hit && i < f.len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)f.s + i, (utf8proc_ssize_t)(f.len - i), &cp);
        if (n <= 0) {
            break; /* cannot happen: f is utf8proc's own output */
        }
        all_cps++;
        if (is_word_char(cp)) {
            if (part_cps == 0) {
                part_start = i;
            }
            part_cps++;
            joined_cps++;
            kura_buf_add(&joined, f.s + i, (size_t)n);
        } else {
            hit = found(pw, f.s + part_start, i - part_start, part_cps);
            part_cps = 0;
        }
        i += (size_t)n;
    }
    hit = hit || found(pw, f.s + part_start, i - part_start, part_cps) ||
          found(pw, f.s, f.len, all_cps);
    r = kura_buf_err(&joined);
    if (r == 0) {
        hit = hit || found(pw, kura_buf_str(&joined).ptr, joined.len, joined_cps);
    }
    kura_buf_release(&joined);
    norm_release(&f);
    if (r < 0) {
        return r;
    }
    *ret = hit;
    return 0;
}

static int check_context_field(const char *value, bool email, size_t *ret_len)
{
    size_t len = strnlen(value, KURA_PASSWORD_CONTEXT_MAX + 1);
    if (len > KURA_PASSWORD_CONTEXT_MAX) {
        return KURA_ERANGE;
    }
    if (!kura_utf8_valid(value, len)) {
        return KURA_EUTF8;
    }
    if (email) {
        const char *at = memrchr(value, '@', len);
        if (at) {
            len = (size_t)(at - value);
        }
    }
    *ret_len = len;
    return 0;
}

/* The refusal code of the first context value inside the password, or NULL. */
static int check_context(const struct norm *pw, const struct kura_password_context *ctx,
                         const char **ret_code)
{
    const struct {
        const char *value;
        bool email;
        const char *code;
    } fields[] = {
        {ctx->user_id, false, "contains_user_id"},
        {ctx->display_name, false, "contains_name"},
        {ctx->email, true, "contains_email"},
        {ctx->site_name, false, "contains_site_name"},
    };
    *ret_code = NULL;
    for (size_t i = 0; i < KURA_ARRAY_SIZE(fields); i++) {
        size_t len;
        bool hit = false;
        if (!fields[i].value) {
            continue;
        }
        int r = check_context_field(fields[i].value, fields[i].email, &len);
        if (r == 0 && len > 0) {
            r = contains_value(pw, fields[i].value, len, &hit);
        }
        if (r < 0) {
            return r;
        }
        if (hit) {
            *ret_code = fields[i].code;
            return 0;
        }
    }
    return 0;
}

/* ---- the dictionary ------------------------------------------------------------------------ */

static pthread_mutex_t crack_lock = PTHREAD_MUTEX_INITIALIZER;

static int open_dict_file(const char *path, const char *suffix, struct kura_buf *err, int *ret_fd)
{
    char name[4096];
    int n = snprintf(name, sizeof(name), "%s%s", path, suffix);
    if (n < 0 || (size_t)n >= sizeof(name)) {
        if (err) {
            kura_buf_adds(err, "password dictionary path is too long");
        }
        return -ENAMETOOLONG;
    }
    int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (err) {
            kura_buf_adds(err, "password dictionary file '");
            kura_buf_add_escaped(err, name, strlen(name));
            kura_buf_addf(err,
                          "' cannot be read: %s; install cracklib-runtime (it builds the "
                          "dictionary) or run update-cracklib, or set [password] "
                          "dictionary = no",
                          strerror(e));
        }
        return -e;
    }
    *ret_fd = fd;
    return 0;
}

int kura_password_dict_probe(const char *path, struct kura_buf *err)
{
    if (!path) {
        path = GetDefaultCracklibDict();
    }
    int fd = -1;
    int r = open_dict_file(path, ".pwd", NULL, &fd);
    if (r < 0) {
        r = open_dict_file(path, ".pwd.gz", NULL, &fd);
    }
    if (r < 0) {
        r = open_dict_file(path, ".pwd", err, &fd); /* again, for the message */
        if (r < 0) {
            return r;
        }
    }
    kura_closep(&fd);
    r = open_dict_file(path, ".pwi", err, &fd);
    if (r < 0) {
        return r;
    }
    uint32_t magic = 0;
    ssize_t got = read(fd, &magic, sizeof(magic));
    kura_closep(&fd);
    if (got != (ssize_t)sizeof(magic) || magic != CRACKLIB_PIH_MAGIC) {
        if (err) {
            kura_buf_adds(err, "password dictionary index '");
            kura_buf_add_escaped(err, path, strlen(path));
            kura_buf_adds(err, ".pwi' is not a libcrack2 index; run update-cracklib");
        }
        return KURA_ECORRUPT;
    }
    return 0;
}

/* libcrack2's reason for refusing pw (static, English in the C locale), or NULL. */
static int crack_check(const char *pw, const struct kura_password_context *ctx,
                       const char **ret_reason)
{
    const char *path =
        ctx && ctx->dictionary_path ? ctx->dictionary_path : GetDefaultCracklibDict();
    int r = kura_password_dict_probe(path, NULL);
    if (r < 0) {
        return r == KURA_ECORRUPT ? -ENOENT : r;
    }
    /* A non-NULL user keeps libcrack2 from looking up the process's own passwd entry. */
    const char *user = ctx && ctx->user_id ? ctx->user_id : "";
    const char *gecos = ctx ? ctx->display_name : NULL;
    (void)pthread_mutex_lock(&crack_lock);
    const char *reason = FascistCheckUser(pw, path, user, gecos);
    (void)pthread_mutex_unlock(&crack_lock);
    *ret_reason = reason;
    return 0;
}

/* ---- the check ----------------------------------------------------------------------------- */

int kura_password_check(const struct kura_password_policy *p, const char *pw, size_t len,
                        const struct kura_password_context *ctx, struct kura_password_verdict *ret)
{
    static const struct kura_password_context no_ctx = {0};
    struct kura_password_verdict v = {.ok = true, .code = "ok"};
    struct norm n = {0}, folded = {0};
    const char *code = NULL;
    if (!ctx) {
        ctx = &no_ctx;
    }
    int r = normalize_password(pw, len, &n, &code);
    if (r < 0 && !code) {
        return r; /* out of memory: nothing judged */
    }
    if (r < 0) {
        if (strcmp(code, "too_short") == 0 || strcmp(code, "too_long") == 0) {
            if (len > KURA_PASSWORD_MAX && strcmp(code, "too_long") == 0) {
                refuse_length(&v, p, false);
            } else if (strcmp(code, "too_long") == 0) {
                refuse_bytes(&v);
            } else {
                refuse_length(&v, p, true);
            }
        } else {
            refuse_plain(&v, code);
        }
        *ret = v;
        return 0;
    }
    size_t cps;
    unsigned classes;
    bool alnum;
    scan(n.s, n.len, &cps, &classes, &alnum);
    v.length = cps;
    const char *missing = missing_class(p->required_classes, classes);
    if (cps < p->min_length || cps > p->max_length) {
        refuse_length(&v, p, cps < p->min_length);
    } else if (p->charset == KURA_PASSWORD_CHARSET_ALNUM && !alnum) {
        refuse_plain(&v, "disallowed_character");
    } else if (missing) {
        refuse_plain(&v, missing);
    } else if (popcount(classes & KURA_PASSWORD_CLASSES_4) < p->min_classes) {
        refuse(&v, "missing_classes");
        (void)snprintf(v.message_en, sizeof(v.message_en),
                       "password must contain at least %u of: upper-case letters, lower-case "
                       "letters, digits, symbols",
                       p->min_classes);
        (void)snprintf(
            v.message_ja, sizeof(v.message_ja),
            "パスワードには英大文字・英小文字・数字・記号のうち%u種類以上を含めてください",
            p->min_classes);
    }
    if (v.ok && p->forbid_user_info) {
        r = normalize(n.s, n.len, NFKC_OPTS | UTF8PROC_CASEFOLD, &folded);
        if (r == 0) {
            r = check_context(&folded, ctx, &code);
        }
        norm_release(&folded);
        if (r < 0) {
            goto out;
        }
        if (code) {
            refuse_plain(&v, code);
        }
    }
    if (v.ok && p->dictionary) {
        const char *reason = NULL;
        r = crack_check(n.s, ctx, &reason);
        if (r < 0) {
            goto out;
        }
        if (reason) {
            refuse(&v, "dictionary");
            (void)snprintf(v.message_en, sizeof(v.message_en), "password is too easy to guess (%s)",
                           reason);
            (void)snprintf(v.message_ja, sizeof(v.message_ja),
                           "パスワードが推測されやすいものです（辞書の単語や単純な並びに基づいて"
                           "います）");
        }
    }
    *ret = v;
    r = 0;
out:
    norm_release(&n);
    return r;
}

/* ---- ageing, back-off, lockout, MFA -------------------------------------------------------- */

bool kura_password_expired(const struct kura_password_policy *p, int64_t changed_at_ms,
                           int64_t now_ms)
{
    int64_t age;
    if (p->max_age_days == 0 || __builtin_sub_overflow(now_ms, changed_at_ms, &age) || age < 0) {
        return false;
    }
    return age >= (int64_t)p->max_age_days * 86400 * 1000;
}

unsigned kura_password_backoff_seconds(const struct kura_password_policy *p, unsigned failures)
{
    if (p->backoff_after == 0 || failures < p->backoff_after) {
        return 0;
    }
    unsigned step = failures - p->backoff_after;
    unsigned s = step >= 31 ? UINT32_MAX : 1u << step;
    return s < p->backoff_max_seconds ? s : p->backoff_max_seconds;
}

bool kura_password_lockout_reached(const struct kura_password_policy *p, unsigned failures)
{
    return p->lockout_threshold > 0 && failures >= p->lockout_threshold;
}

bool kura_password_mfa_required(const struct kura_password_policy *p, bool privileged)
{
    return p->mfa == KURA_MFA_ALL || (p->mfa == KURA_MFA_PRIVILEGED && privileged);
}
