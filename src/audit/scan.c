/* scan.c — reads a record in the exact form the writer gives it (record.c) without building a
 * document: verify and the search index read every record, and jansson's DOM costs about 6 µs
 * for a 512-byte record, six times the whole budget of a 1,000,000 records/s verify
 * (docs/performance.md).
 *
 * This is not a JSON parser. It accepts only the writer's compact layout (the sixteen keys in
 * order, no white space) and, inside it, only what it can check completely: strings with valid
 * UTF-8 and simple escapes, numbers without an exponent and with at most 18 integer digits,
 * details up to DETAIL_DEPTH deep with at most DETAIL_KEYS distinct plain keys per object.
 * Anything else — an escape in a string the caller gets back, \u0000, a surrogate, a long
 * number — returns KURA_ESYNTAX and audit_record_parse falls back to jansson, which decides.
 * So the rule that fuzz-record checks is one-sided: whatever this accepts, jansson accepts with
 * the same values.
 */
#include "audit-internal.h"

#include <string.h>

#define DETAIL_DEPTH 16
#define DETAIL_KEYS 32
#define INT_DIGITS 18 /* a detail's integers: fit an int64_t and a json_int_t */

struct scanner {
    const char *p, *end;
};

/* Bytes that a string may hold as they are, and that end no fast run: printable ASCII other than
 * '"' and '\\'. */
static const bool plain_byte[256] = {
    [' '] = 1,
    ['!'] = 1,
    ['#' ... '['] = 1,
    [']' ... '~'] = 1,
};

/* True when none of the 8 bytes at p ends a fast run (see plain_byte): word-at-a-time tests
 * for a byte below 0x20, equal to '"', '\\' or 0x7f, or with its high bit set. */
static bool plain8(const char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t w, q, b, d;
    memcpy(&w, p, sizeof(w));
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    d = w ^ (ones * 0x7f);
    uint64_t found =
        ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | ((d - ones) & ~d) | w;
    return (found & highs) == 0;
}

static bool lit(struct scanner *s, const char *text, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, text, n) != 0) {
        return false;
    }
    s->p += n;
    return true;
}

#define LIT(s, text) lit((s), (text), sizeof(text) - 1)

/* Lower-case hex digits plus one; 0 for everything else. */
static const uint8_t lower_hex_plus1[256] = {
    ['0'] = 1, ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

static int lower_hex(char c)
{
    return (int)lower_hex_plus1[(unsigned char)c] - 1;
}

static int hex_digit(char c)
{
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : lower_hex(c);
}

/* \uXXXX that is not U+0000 and not a surrogate (jansson's rules for those are its own). */
static bool simple_u_escape(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0) {
            return false;
        }
        v = v << 4 | (unsigned)d;
    }
    return v != 0 && (v < 0xd800 || v > 0xdfff);
}

/* A string: its content in *ret (the bytes between the quotes), *escaped when it holds a
 * backslash. */
static bool string(struct scanner *s, struct kura_str *ret, bool *escaped)
{
    if (s->p == s->end || *s->p != '"') {
        return false;
    }
    const char *p = s->p + 1;
    *escaped = false;
    for (;;) {
        while (s->end - p >= 8 && plain8(p)) {
            p += 8;
        }
        while (p < s->end && plain_byte[(unsigned char)*p]) {
            p++;
        }
        if (p == s->end) {
            return false;
        }
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *ret = kura_str_make(s->p + 1, (size_t)(p - s->p - 1));
            s->p = p + 1;
            return true;
        }
        if (c == '\\') {
            *escaped = true;
            char e = s->end - p >= 2 ? p[1] : '\0';
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                p += 2;
            } else if (e == 'u' && s->end - p >= 6 && simple_u_escape(p + 2)) {
                p += 6;
            } else {
                return false;
            }
            continue;
        }
        size_t n = c < 0x80 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (n == 0 || (size_t)(s->end - p) < n || !kura_utf8_valid(p, n)) {
            return false; /* a control character or invalid UTF-8 */
        }
        p += n;
    }
}

static bool digits(struct scanner *s, size_t *ret_count)
{
    const char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    *ret_count = (size_t)(s->p - start);
    return *ret_count > 0;
}

/* A non-negative integer as the writer prints it, at most INT64_MAX. */
static bool uint_value(struct scanner *s, uint64_t *ret)
{
    const char *start = s->p;
    size_t n;
    if (!digits(s, &n) || n > 19 || (n > 1 && *start == '0')) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)(start[i] - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)? with at most INT_DIGITS integer digits. */
static bool number(struct scanner *s)
{
    (void)LIT(s, "-");
    const char *start = s->p;
    size_t n;
    if (!digits(s, &n) || n > INT_DIGITS || (n > 1 && *start == '0')) {
        return false;
    }
    if (LIT(s, ".") && !digits(s, &n)) {
        return false;
    }
    return s->p == s->end || (*s->p != 'e' && *s->p != 'E');
}

static bool value(struct scanner *s, int depth);

static bool object(struct scanner *s, int depth)
{
    struct kura_str keys[DETAIL_KEYS];
    size_t n = 0;
    if (depth > DETAIL_DEPTH || !LIT(s, "{")) {
        return false;
    }
    if (LIT(s, "}")) {
        return true;
    }
    for (;;) {
        struct kura_str key;
        bool escaped;
        if (n == DETAIL_KEYS || !string(s, &key, &escaped) || escaped) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (kura_str_eq(keys[i], key)) {
                return false; /* jansson refuses duplicates (JSON_REJECT_DUPLICATES) */
            }
        }
        keys[n++] = key;
        if (!LIT(s, ":") || !value(s, depth + 1)) {
            return false;
        }
        if (LIT(s, "}")) {
            return true;
        }
        if (!LIT(s, ",")) {
            return false;
        }
    }
}

static bool array(struct scanner *s, int depth)
{
    if (depth > DETAIL_DEPTH || !LIT(s, "[")) {
        return false;
    }
    if (LIT(s, "]")) {
        return true;
    }
    for (;;) {
        if (!value(s, depth + 1)) {
            return false;
        }
        if (LIT(s, "]")) {
            return true;
        }
        if (!LIT(s, ",")) {
            return false;
        }
    }
}

static bool value(struct scanner *s, int depth)
{
    if (s->p == s->end) {
        return false;
    }
    struct kura_str str;
    bool escaped;
    switch (*s->p) {
    case '{':
        return object(s, depth);
    case '[':
        return array(s, depth);
    case '"':
        return string(s, &str, &escaped);
    case 't':
        return LIT(s, "true");
    case 'f':
        return LIT(s, "false");
    case 'n':
        return LIT(s, "null");
    default:
        return number(s);
    }
}

/* A string or null after `key`; *ret is a NUL-terminated copy in r->strings (NULL for null) when
 * ret is not NULL. A string the caller gets back must have no escapes. */
static bool field(struct scanner *s, const char *key, size_t klen, struct audit_record *r,
                  size_t *used, const char **ret)
{
    struct kura_str str;
    bool escaped;
    if (!lit(s, key, klen)) {
        return false;
    }
    if (LIT(s, "null")) {
        if (ret) {
            *ret = NULL;
        }
        return true;
    }
    if (!string(s, &str, &escaped)) {
        return false;
    }
    if (!ret) {
        return true;
    }
    if (escaped || str.len >= sizeof(r->strings) - *used) {
        return false;
    }
    char *copy = r->strings + *used;
    memcpy(copy, str.ptr, str.len);
    copy[str.len] = '\0';
    *used += str.len + 1;
    *ret = copy;
    return true;
}

#define FIELD(s, key, r, used, ret) field((s), (key), sizeof(key) - 1, (r), (used), (ret))

static bool head(struct scanner *s, struct audit_record *r)
{
    char time[KURA_TIME_STR_MAX];
    const size_t tlen = sizeof("2026-11-22T00:00:00.000Z") - 1;
    if (!LIT(s, "{\"index\":") || !uint_value(s, &r->index) || !LIT(s, ",\"time\":\"") ||
        (size_t)(s->end - s->p) < tlen + 1 || s->p[tlen] != '"' || tlen >= sizeof(time)) {
        return false;
    }
    memcpy(time, s->p, tlen);
    time[tlen] = '\0';
    s->p += tlen + 1;
    if (audit_time_parse(time, &r->time_ms) < 0 || !LIT(s, ",\"prev\":\"") ||
        (size_t)(s->end - s->p) < 2 * KURA_AUDIT_HASH_BYTES + 1) {
        return false;
    }
    for (size_t i = 0; i < KURA_AUDIT_HASH_BYTES; i++) {
        int hi = lower_hex(s->p[2 * i]), lo = lower_hex(s->p[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false; /* lower case only, as the writer prints it and record.c reads it */
        }
        r->prev[i] = (uint8_t)(hi << 4 | lo);
    }
    s->p += 2 * KURA_AUDIT_HASH_BYTES;
    return LIT(s, "\"");
}

static bool result(struct scanner *s, const char **ret)
{
    static const char *const names[] = {"ok", "denied", "error"};
    static const char *const quoted[] = {"\"ok\"", "\"denied\"", "\"error\""};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        if (lit(s, quoted[i], strlen(quoted[i]))) {
            *ret = names[i];
            return true;
        }
    }
    return false;
}

int audit_record_scan(const char *rec, size_t len, struct audit_record *r)
{
    struct scanner s = {rec, rec + len};
    size_t used = 0;
    memset(r, 0, offsetof(struct audit_record, strings));
    bool ok = head(&s, r) && FIELD(&s, ",\"actor\":", r, &used, &r->actor) &&
              FIELD(&s, ",\"roles\":", r, &used, NULL) && LIT(&s, ",\"elevated\":");
    if (ok) {
        r->elevated = LIT(&s, "true");
        ok = r->elevated || LIT(&s, "false");
    }
    ok = ok && FIELD(&s, ",\"session\":", r, &used, NULL) &&
         FIELD(&s, ",\"source_ip\":", r, &used, &r->source_ip) &&
         FIELD(&s, ",\"user_agent\":", r, &used, NULL) &&
         FIELD(&s, ",\"request_id\":", r, &used, &r->request_id) &&
         FIELD(&s, ",\"action\":", r, &used, &r->action) && r->action &&
         FIELD(&s, ",\"object\":", r, &used, &r->object) && LIT(&s, ",\"bytes\":") &&
         uint_value(&s, &r->bytes) && LIT(&s, ",\"result\":") && result(&s, &r->result) &&
         FIELD(&s, ",\"reason\":", r, &used, &r->reason) && LIT(&s, ",\"detail\":");
    if (!ok) {
        return KURA_ESYNTAX;
    }
    const char *detail = s.p;
    if (!LIT(&s, "null") && !object(&s, 1)) {
        return KURA_ESYNTAX;
    }
    r->detail_text = kura_str_make(detail, (size_t)(s.p - detail));
    return LIT(&s, "}") && s.p == s.end ? 0 : KURA_ESYNTAX;
}
