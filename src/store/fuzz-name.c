/* libFuzzer harness for the naming rules (store.h, "Names" and "Paths"). The oracle is written
 * apart from name.c: UTF-8 validity comes from base's kura_utf8_valid, code points from
 * utf8proc_iterate, NFC from utf8proc_NFC, and the forbidden code points from the list in
 * store.h, copied here by hand. For every input:
 *  - kura_name_normalize accepts exactly when the oracle does, and then returns utf8proc's NFC
 *    of the input; the output is valid UTF-8, NFC, 1..255 bytes, free of forbidden code points,
 *    not "." or "..", without white space at either end or a '.' at the end, and normalizing it
 *    again gives it back (idempotence);
 *  - kura_path_normalize agrees with normalizing each segment by itself, stays within
 *    KURA_PATH_MAX bytes and KURA_PATH_DEPTH_MAX segments, its slices cover its text, and the
 *    normalized path (with its trailing '/') normalizes to itself;
 *  - every refusal carries a reason with a Japanese translation.
 * Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool forbidden(int32_t cp)
{
    static const int32_t ranges[][2] = {
        {0x00, 0x1f},     {'/', '/'},         {'\\', '\\'},       {0x7f, 0x9f},
        {0x00ad, 0x00ad}, {0x061c, 0x061c},   {0x180e, 0x180e},   {0x200b, 0x200b},
        {0x200e, 0x200f}, {0x2028, 0x202e},   {0x2060, 0x2064},   {0x2066, 0x206f},
        {0x3164, 0x3164}, {0xfdd0, 0xfdef},   {0xfeff, 0xfeff},   {0xffa0, 0xffa0},
        {0xfff9, 0xfffb}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(ranges); i++) {
        if (cp >= ranges[i][0] && cp <= ranges[i][1]) {
            return true;
        }
    }
    return (cp & 0xfffe) == 0xfffe;
}

static bool edge_space(int32_t cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* True when s[0..len), already known to be valid UTF-8, obeys the code-point and edge rules. */
static bool code_points_ok(const char *s, size_t len)
{
    int32_t cp = 0, first = -1;
    size_t i = 0;
    while (i < len) {
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            abort(); /* kura_utf8_valid and utf8proc disagree */
        }
        if (first < 0) {
            first = cp;
        }
        if (forbidden(cp)) {
            return false;
        }
        i += (size_t)n;
    }
    return !edge_space(first) && !edge_space(cp);
}

/* The oracle's NFC of valid, NUL-free s[0..len): a malloc'd string from utf8proc (free()). */
static char *oracle_nfc(const char *s, size_t len)
{
    char *z = kura_strndup(s, len);
    if (!z) {
        abort();
    }
    char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)z);
    kura_free(z);
    if (!nfc) {
        abort();
    }
    return nfc;
}

/* Checks one name in[0..len) against the oracle; returns whether it was accepted and leaves
 * the result in out. */
static bool check_name(const char *in, size_t len, char out[static KURA_NAME_MAX + 1],
                       size_t *out_len)
{
    const char *why = NULL;
    int r = kura_name_normalize(in, len, out, out_len, &why);
    if (r != 0 && r != KURA_EBADNAME) {
        abort(); /* no allocation failure outside fault-injection runs */
    }
    if (r == KURA_EBADNAME) {
        const char *ja = kura_name_why_lang(why, KURA_LANG_JA);
        if (!why || strcmp(ja, why) == 0) {
            abort();
        }
    }

    /* The oracle's own verdict. */
    bool ok = false;
    char *nfc = NULL;
    size_t nfc_len = 0;
    if (len > 0 && kura_utf8_valid(in, len) && !memchr(in, '\0', len) && code_points_ok(in, len)) {
        nfc = oracle_nfc(in, len);
        nfc_len = strlen(nfc);
        ok = nfc_len >= 1 && nfc_len <= KURA_NAME_MAX && code_points_ok(nfc, nfc_len) &&
             strcmp(nfc, ".") != 0 && strcmp(nfc, "..") != 0 && nfc[nfc_len - 1] != '.';
    }
    if (ok != (r == 0)) {
        abort();
    }
    if (r == 0) {
        if (*out_len != nfc_len || memcmp(out, nfc, nfc_len) != 0 || out[*out_len] != '\0' ||
            !kura_utf8_valid(out, *out_len)) {
            abort();
        }
        /* Idempotence. */
        char again[KURA_NAME_MAX + 1];
        size_t again_len = 0;
        if (kura_name_normalize(out, *out_len, again, &again_len, NULL) != 0 ||
            again_len != *out_len || memcmp(again, out, again_len) != 0) {
            abort();
        }
    }
    free(nfc); /* utf8proc's allocation */
    return r == 0;
}

static void check_path(const char *in, size_t len)
{
    struct kura_path p = KURA_PATH_INIT;
    const char *why = NULL;
    int r = kura_path_normalize(in, len, &p, &why);
    if (r != 0 && (r != KURA_EBADNAME || !why)) {
        abort();
    }

    /* The expected verdict: each segment on its own, then the limits. */
    bool trailing = len > 0 && in[len - 1] == '/';
    size_t body = trailing ? len - 1 : len;
    bool ok = len <= KURA_PATH_MAX;
    size_t nseg = 0, out_len = 0;
    static char expect[8 * KURA_PATH_MAX];
    if (ok && body > 0) {
        struct kura_str rest = kura_str_make(in, body);
        bool more = true;
        while (more && ok) {
            struct kura_str seg;
            more = kura_str_split(&rest, '/', &seg); /* false: seg is the last segment */
            char name[KURA_NAME_MAX + 1];
            size_t name_len;
            if (++nseg > KURA_PATH_DEPTH_MAX || seg.len == 0 ||
                !check_name(seg.ptr, seg.len, name, &name_len)) {
                ok = false;
                break;
            }
            if (nseg > 1) {
                expect[out_len++] = '/';
            }
            memcpy(expect + out_len, name, name_len);
            out_len += name_len;
        }
    }
    ok = ok && out_len + trailing <= KURA_PATH_MAX;
    if (ok != (r == 0)) {
        abort();
    }
    if (r != 0) {
        return;
    }
    if (p.len != out_len || memcmp(p.ptr, expect, out_len) != 0 || p.ptr[p.len] != '\0' ||
        p.nseg != nseg || p.trailing_slash != trailing || p.nseg > KURA_PATH_DEPTH_MAX ||
        p.len + p.trailing_slash > KURA_PATH_MAX || (p.nseg == 0) != (p.segs == NULL)) {
        abort();
    }
    size_t off = 0;
    for (size_t k = 0; k < p.nseg; k++) {
        if (p.segs[k].ptr != p.ptr + off || p.segs[k].len == 0 ||
            memchr(p.segs[k].ptr, '/', p.segs[k].len)) {
            abort();
        }
        off += p.segs[k].len + (k + 1 < p.nseg);
    }
    if (off != p.len) {
        abort();
    }
    /* Idempotence of the whole path, trailing '/' included. */
    static char again_in[KURA_PATH_MAX + 1];
    memcpy(again_in, p.ptr, p.len);
    size_t again_len = p.len;
    if (p.trailing_slash) {
        again_in[again_len++] = '/';
    }
    struct kura_path q = KURA_PATH_INIT;
    if (kura_path_normalize(again_in, again_len, &q, NULL) != 0 || q.len != p.len ||
        memcmp(q.ptr, p.ptr, p.len) != 0 || q.nseg != p.nseg ||
        q.trailing_slash != p.trailing_slash) {
        abort();
    }
    kura_path_release(&q);
    kura_path_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char out[KURA_NAME_MAX + 1];
    size_t out_len;
    KURA_IGNORE(check_name(in, size, out, &out_len));
    check_path(in, size);
    return 0;
}
