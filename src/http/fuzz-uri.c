/* libFuzzer harness for the raw request-target validator. Oracle: whatever is accepted is a
 * canonical path — starts with '/', valid UTF-8, no NUL, no "." or ".." segment, no "//", no
 * backslash — and re-validating the decoded path with its escapes re-applied gives it back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canonical(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/' || memchr(p, '\0', len) || memchr(p, '\\', len) ||
        !kura_utf8_valid(p, len) || kura_has_ctl(p, len, false)) {
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '/') {
            continue;
        }
        const char *seg = p + i + 1;
        size_t rest = len - i - 1;
        if (rest > 0 && seg[0] == '/') {
            abort(); /* "//" */
        }
        if ((rest == 1 && seg[0] == '.') || (rest >= 2 && seg[0] == '.' && seg[1] == '/')) {
            abort();
        }
        if ((rest == 2 && seg[0] == '.' && seg[1] == '.') ||
            (rest >= 3 && seg[0] == '.' && seg[1] == '.' && seg[2] == '/')) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kura_arena *a = kura_arena_new(1 << 20);
    char *raw = kura_strndup((const char *)data, size);
    char *path, *query;
    size_t len;
    if (a && raw && kura_http_parse_target(raw, size, 8192, a, &path, &len, &query) == 0) {
        check_canonical(path, len);
        if (strlen(path) != len) {
            abort();
        }
        /* Percent-encode every byte that is not unreserved and parse again: same path. */
        struct kura_buf enc = KURA_BUF_INIT(1 << 16);
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)path[i];
            if (c == '/' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                kura_buf_addc(&enc, (char)c);
            } else {
                kura_buf_addf(&enc, "%%%02X", c);
            }
        }
        char *path2, *query2;
        size_t len2;
        if (kura_buf_err(&enc) == 0 &&
            (kura_http_parse_target(enc.ptr, enc.len, 1 << 16, a, &path2, &len2, &query2) != 0 ||
             len2 != len || memcmp(path, path2, len) != 0)) {
            abort();
        }
        kura_buf_release(&enc);
    }
    kura_free(raw);
    kura_arena_free(a);
    return 0;
}
