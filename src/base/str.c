/* str.c — slices and strict parsers (docs/style.md items 19, 24, 26, 27).
 *
 * Parsers read from (ptr, len) and fail rather than clamp; nothing here assumes NUL termination.
 */
#include "base.h"

#include <string.h>

struct kura_str kura_str_c(const char *s)
{
    return s ? (struct kura_str){s, strlen(s)} : (struct kura_str){"", 0};
}

bool kura_str_eq(struct kura_str a, struct kura_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool kura_str_eq_c(struct kura_str a, const char *s)
{
    return kura_str_eq(a, kura_str_c(s));
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

bool kura_str_eq_nocase(struct kura_str a, struct kura_str b)
{
    if (a.len != b.len) {
        return false;
    }
    for (size_t i = 0; i < a.len; i++) {
        if (ascii_lower(a.ptr[i]) != ascii_lower(b.ptr[i])) {
            return false;
        }
    }
    return true;
}

bool kura_str_has_prefix(struct kura_str s, struct kura_str prefix)
{
    return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, prefix.len) == 0);
}

struct kura_str kura_str_trim_ows(struct kura_str s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t')) {
        s.len--;
    }
    return s;
}

bool kura_str_split(struct kura_str *s, char sep, struct kura_str *ret_head)
{
    const char *p = s->len ? memchr(s->ptr, sep, s->len) : NULL;
    if (!p) {
        *ret_head = *s;
        s->ptr += s->len;
        s->len = 0;
        return false;
    }
    size_t head = (size_t)(p - s->ptr);
    *ret_head = (struct kura_str){s->ptr, head};
    s->ptr = p + 1;
    s->len -= head + 1;
    return true;
}

int kura_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
    if (len == 0) {
        return KURA_ESYNTAX;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < '0' || c > '9') {
            return KURA_ESYNTAX;
        }
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) {
            return KURA_ERANGE;
        }
    }
    if (v > max) {
        return KURA_ERANGE;
    }
    *ret = v;
    return 0;
}

/* RFC 3629 section 4: the well-formed byte sequences, checked byte by byte. */
bool kura_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c == 0xe0) {
            n = 3;
            lo = 0xa0; /* no overlong forms */
        } else if (c >= 0xe1 && c <= 0xec) {
            n = 3;
        } else if (c == 0xed) {
            n = 3;
            hi = 0x9f; /* no UTF-16 surrogates */
        } else if (c >= 0xee && c <= 0xef) {
            n = 3;
        } else if (c == 0xf0) {
            n = 4;
            lo = 0x90;
        } else if (c >= 0xf1 && c <= 0xf3) {
            n = 4;
        } else if (c == 0xf4) {
            n = 4;
            hi = 0x8f; /* nothing above U+10FFFF */
        } else {
            return false;
        }
        if (len - i < n) {
            return false;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return false;
        }
        for (size_t k = 2; k < n; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) {
                return false;
            }
        }
        i += n;
    }
    return true;
}

bool kura_has_ctl(const char *s, size_t len, bool allow_tab)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) {
            return true;
        }
    }
    return false;
}

void kura_hex_encode(char *out, const void *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

/* By hand: snprintf costs more than the rest of a small multistatus entry. */
static const char *fmt_radix(char out[static KURA_NUM_STR_MAX], uint64_t v, unsigned radix)
{
    static const char digit[] = "0123456789abcdef";
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = digit[v % radix];
        v /= radix;
    } while (v > 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
    return out;
}

const char *kura_fmt_u64(char out[static KURA_NUM_STR_MAX], uint64_t v)
{
    return fmt_radix(out, v, 10);
}

const char *kura_fmt_x64(char out[static KURA_NUM_STR_MAX], uint64_t v)
{
    return fmt_radix(out, v, 16);
}

const char *kura_fmt_i64(char out[static KURA_NUM_STR_MAX], int64_t v)
{
    (void)snprintf(out, KURA_NUM_STR_MAX, "%lld", (long long)v);
    return out;
}
