/* uri.c — validation and decoding of the raw request target (RFC 9112 3.2, RFC 3986 3.3).
 *
 * libmicrohttpd unescapes the target before handlers see it: %2F becomes '/', and the URL is
 * cut at %00. Everything here therefore works on the raw target (MHD_OPTION_URI_LOG_CALLBACK)
 * and decodes exactly once. Reject, don't repair: a target that would need normalising is
 * refused, so that no two spellings ever reach the same resource by different checks.
 */
#include "http/http.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Raw bytes that may never appear in a target: controls, space, DEL, backslash (a separator on
 * other systems), '#' (a fragment is never sent to a server). Bytes >= 0x80 are allowed raw and
 * validated as UTF-8 after decoding. */
static bool raw_byte_ok(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '\\' && c != '#';
}

/* Checks the query's escapes and bytes without decoding it. */
static int check_query(const char *q, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)q[i];
        if (!raw_byte_ok(c) && c != '\\') {
            return KURA_EBADREQ;
        }
        if (c == '%') {
            if (len - i < 3 || hexval(q[i + 1]) < 0 || hexval(q[i + 2]) < 0) {
                return KURA_EBADREQ;
            }
            if (q[i + 1] == '0' && q[i + 2] == '0') {
                return KURA_EBADREQ; /* %00 never means anything good */
            }
            i += 2;
        }
    }
    return 0;
}

/* Decodes one segment (without '/') into out, returning its decoded length or an error. */
static int decode_segment(const char *s, size_t len, char *out, size_t *ret_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!raw_byte_ok(c)) {
            return KURA_EBADPATH;
        }
        if (c == '%') {
            if (len - i < 3) {
                return KURA_EBADPATH;
            }
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return KURA_EBADPATH;
            }
            c = (unsigned char)(hi * 16 + lo);
            /* An encoded separator, NUL or control byte inside a segment is refused. */
            if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) {
                return KURA_EBADPATH;
            }
            i += 2;
        }
        out[n++] = (char)c;
    }
    if ((n == 1 && out[0] == '.') || (n == 2 && out[0] == '.' && out[1] == '.')) {
        return KURA_EBADPATH;
    }
    *ret_len = n;
    return 0;
}

int kura_http_parse_target(const char *raw, size_t len, size_t max_len, struct kura_arena *a,
                           char **ret_path, size_t *ret_path_len, char **ret_query)
{
    if (len > max_len) {
        return KURA_EURILONG;
    }
    if (len == 0 || raw[0] != '/') {
        return KURA_EBADREQ; /* only origin-form: no absolute-form, no asterisk-form */
    }
    const char *qmark = memchr(raw, '?', len);
    size_t path_len = qmark ? (size_t)(qmark - raw) : len;
    const char *query = qmark ? qmark + 1 : "";
    size_t query_len = qmark ? len - path_len - 1 : 0;
    int r = check_query(query, query_len);
    if (r < 0) {
        return r;
    }
    /* Decoding never lengthens the path. */
    char *out = kura_arena_alloc(a, path_len + 1);
    char *q = kura_arena_strndup(a, query, query_len);
    if (!out || !q) {
        return kura_arena_err(a);
    }
    size_t o = 0, i = 1;
    out[o++] = '/';
    while (i < path_len) {
        const char *slash = memchr(raw + i, '/', path_len - i);
        size_t seg_len = slash ? (size_t)(slash - (raw + i)) : path_len - i;
        if (seg_len == 0) {
            return KURA_EBADPATH; /* "//": an empty segment */
        }
        size_t dec_len;
        r = decode_segment(raw + i, seg_len, out + o, &dec_len);
        if (r < 0) {
            return r;
        }
        o += dec_len;
        i += seg_len;
        if (slash) {
            out[o++] = '/'; /* a trailing slash is kept: it names a collection */
            i++;
        }
    }
    out[o] = '\0';
    if (!kura_utf8_valid(out, o)) {
        return KURA_EBADPATH;
    }
    *ret_path = out;
    *ret_path_len = o;
    *ret_query = q;
    return 0;
}
