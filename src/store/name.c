/* name.c — validation and NFC normalization of file and folder names and of paths (the rules and
 * why are in store.h, section "Names").
 *
 * Order of work for a name: length and emptiness of the input, then one strict left-to-right
 * scan that decodes UTF-8 ourselves and classifies every code point, then NFC, then every rule
 * again on the result. utf8proc is not trusted as a validator: its decoder has its own opinion
 * of what is valid, and the rules here are kura's, not Unicode's. Running the code-point rules a
 * second time on the output costs one more scan of at most 255 bytes and makes the guarantee
 * ("what is accepted obeys every rule") independent of what NFC might produce.
 *
 * NFC uses utf8proc's two halves, utf8proc_decompose then utf8proc_reencode, with the options of
 * utf8proc_NFC (STABLE | COMPOSE), into a buffer from kura_malloc: utf8proc_map would allocate
 * with the libc allocator behind our back, out of reach of fault injection, and leave a raw
 * free() to the caller.
 */
#include "store/store.h"

#include <string.h>
#include <utf8proc.h>

#define NFC_OPTS (UTF8PROC_STABLE | UTF8PROC_COMPOSE)

/* ---- reasons ------------------------------------------------------------------------------- */

enum why {
    WHY_EMPTY,
    WHY_UTF8,
    WHY_NUL,
    WHY_SLASH,
    WHY_BACKSLASH,
    WHY_CONTROL,
    WHY_BIDI,
    WHY_INVISIBLE,
    WHY_NONCHAR,
    WHY_DOTS,
    WHY_EDGE_SPACE,
    WHY_TRAILING_DOT,
    WHY_TOO_LONG,
    WHY_PATH_TOO_LONG,
    WHY_PATH_EMPTY_SEGMENT,
    WHY_PATH_TOO_DEEP,
    WHY_COUNT,
    WHY_NONE = WHY_COUNT, /* the code point is allowed */
};

/* English for the 400 message (docs/style.md item 32: lower-case, no final period), Japanese
 * for clients that asked for it. */
static const struct {
    const char *en;
    const char *ja;
} whys[WHY_COUNT] = {
    [WHY_EMPTY] = {"name is empty", "名前が空です"},
    [WHY_UTF8] = {"name is not valid UTF-8", "名前が正しい UTF-8 ではありません"},
    [WHY_NUL] = {"name contains a NUL byte", "名前に NUL バイトが含まれています"},
    [WHY_SLASH] = {"name contains '/'", "名前に「/」が含まれています"},
    [WHY_BACKSLASH] = {"name contains '\\'", "名前に「\\」が含まれています"},
    [WHY_CONTROL] = {"name contains a control character", "名前に制御文字が含まれています"},
    [WHY_BIDI] = {"name contains a bidirectional text control character",
                  "名前に双方向テキストの制御文字が含まれています"},
    [WHY_INVISIBLE] = {"name contains an invisible formatting character",
                       "名前に目に見えない書式文字が含まれています"},
    [WHY_NONCHAR] = {"name contains a Unicode noncharacter",
                     "名前に Unicode の非文字が含まれています"},
    [WHY_DOTS] = {"name is '.' or '..'", "名前に「.」や「..」は使えません"},
    [WHY_EDGE_SPACE] = {"name begins or ends with a space", "名前の先頭または末尾に空白があります"},
    [WHY_TRAILING_DOT] = {"name ends with '.'", "名前の末尾に「.」は使えません"},
    [WHY_TOO_LONG] = {"name is longer than 255 bytes", "名前が 255 バイトを超えています"},
    [WHY_PATH_TOO_LONG] = {"path is longer than 4096 bytes", "パスが 4096 バイトを超えています"},
    [WHY_PATH_EMPTY_SEGMENT] = {"path contains an empty segment ('//' or a leading '/')",
                                "パスに空の区切り（「//」または先頭の「/」）があります"},
    [WHY_PATH_TOO_DEEP] = {"path has more than 128 levels", "パスの階層が 128 を超えています"},
};

_Static_assert(KURA_NAME_MAX == 255 && KURA_PATH_MAX == 4096 && KURA_PATH_DEPTH_MAX == 128,
               "the reason strings quote the limits");

static int refuse(enum why w, const char **reterr_why)
{
    if (reterr_why) {
        *reterr_why = whys[w].en;
    }
    return KURA_EBADNAME;
}

const char *kura_name_why_lang(const char *why, enum kura_lang lang)
{
    if (!why) {
        return "";
    }
    for (size_t i = 0; i < WHY_COUNT; i++) {
        /* Pointer first (the normal case), then text, so that a copied reason still maps. */
        if (why == whys[i].en || strcmp(why, whys[i].en) == 0) {
            return lang == KURA_LANG_JA ? whys[i].ja : whys[i].en;
        }
    }
    return why;
}

/* ---- code points --------------------------------------------------------------------------- */

/* Decodes one code point from s[0..len), len >= 1. Returns its length in bytes, or 0 when the
 * bytes are not well-formed UTF-8 (RFC 3629 section 4, Table 3-7 of Unicode: no overlong forms,
 * no surrogates, nothing above U+10FFFF, no truncated sequence, no stray continuation byte). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *ret_cp = c;
        return 1;
    }
    size_t n;
    uint32_t cp;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0fu;
        if (c == 0xe0) {
            lo = 0xa0; /* overlong */
        } else if (c == 0xed) {
            hi = 0x9f; /* U+D800..U+DFFF */
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07u;
        if (c == 0xf0) {
            lo = 0x90; /* overlong */
        } else if (c == 0xf4) {
            hi = 0x8f; /* above U+10FFFF */
        }
    } else {
        return 0; /* continuation byte, 0xc0/0xc1 (overlong), 0xf5..0xff */
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if (s[k] < 0x80 || s[k] > 0xbf) {
            return 0;
        }
        cp = (cp << 6) | (s[k] & 0x3fu);
    }
    *ret_cp = cp;
    return n;
}

/* The code points a name may never contain, by class; WHY_NONE for an allowed one. The lists
 * are kura's policy (store.h), written out so that they cannot change under a Unicode update. */
static enum why classify(uint32_t cp)
{
    if (cp == 0) {
        return WHY_NUL;
    }
    if (cp == '/') {
        return WHY_SLASH;
    }
    if (cp == '\\') {
        return WHY_BACKSLASH;
    }
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
        return WHY_CONTROL;
    }
    if (cp < 0xa0) {
        return WHY_NONE; /* printable ASCII: the common case, decided early */
    }
    if (cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069)) {
        return WHY_BIDI;
    }
    if (cp == 0x00ad || cp == 0x180e || cp == 0x200b || (cp >= 0x2060 && cp <= 0x2064) ||
        (cp >= 0x206a && cp <= 0x206f) || cp == 0x3164 || cp == 0xffa0 || cp == 0xfeff ||
        (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0x1d173 && cp <= 0x1d17a) || cp == 0xe0001) {
        return WHY_INVISIBLE;
    }
    if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffeu) == 0xfffeu) {
        return WHY_NONCHAR;
    }
    return WHY_NONE;
}

/* White space that may not begin or end a name (the Unicode White_Space property, less the
 * characters classify() already refuses). */
static bool is_edge_space(uint32_t cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Applies every code-point rule and the edge rules to s[0..len), len >= 1. */
static enum why check_code_points(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp = 0;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_decode(u + i, len - i, &cp);
        if (n == 0) {
            return WHY_UTF8;
        }
        enum why w = classify(cp);
        if (w != WHY_NONE) {
            return w;
        }
        if (i == 0 && is_edge_space(cp)) {
            return WHY_EDGE_SPACE;
        }
        i += n;
    }
    /* cp is now the last code point. */
    if (is_edge_space(cp)) {
        return WHY_EDGE_SPACE;
    }
    return WHY_NONE;
}

/* Rules on the final form: code points, edges, dot names. */
static enum why check_final(const char *s, size_t len)
{
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
        return WHY_DOTS;
    }
    enum why w = check_code_points(s, len);
    if (w != WHY_NONE) {
        return w;
    }
    if (s[len - 1] == '.') {
        return WHY_TRAILING_DOT;
    }
    return WHY_NONE;
}

/* ---- NFC ----------------------------------------------------------------------------------- */

/* Puts well-formed UTF-8 s[0..len) (no NUL) into NFC. On success *ret_buf is a kura_malloc'd
 * block (free with kura_free) starting with the NUL-terminated result of *ret_len bytes. */
static int nfc(const char *s, size_t len, char **ret_buf, size_t *ret_len)
{
    /* Every code point takes at least one byte, and canonical decomposition seldom makes more
     * code points than there were bytes (Greek with three marks does: U+1F82 is 3 bytes and 4
     * code points); utf8proc_decompose then reports the size it needs and we try once more. */
    size_t cap = len + 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* One extra byte: utf8proc_reencode ends with a NUL after up to 4 bytes per slot. */
        size_t bytes;
        if (kura_mul_size(cap, sizeof(utf8proc_int32_t), &bytes) < 0 ||
            kura_add_size(bytes, 1, &bytes) < 0) {
            return -ENOMEM;
        }
        utf8proc_int32_t *buf = kura_malloc(bytes);
        if (!buf) {
            return -ENOMEM;
        }
        utf8proc_ssize_t n = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len,
                                                buf, (utf8proc_ssize_t)cap, NFC_OPTS);
        if (n >= 0 && (size_t)n <= cap) {
            /* Composes in place, then writes UTF-8 over the same buffer (at most 4 bytes per
             * code point, never ahead of the slot being read) and a terminating NUL. */
            utf8proc_ssize_t m = utf8proc_reencode(buf, n, NFC_OPTS);
            if (m < 0) {
                kura_free(buf);
                return m == UTF8PROC_ERROR_NOMEM ? -ENOMEM : KURA_EINTERNAL;
            }
            *ret_buf = (char *)buf;
            *ret_len = (size_t)m;
            return 0;
        }
        kura_free(buf);
        if (n < 0) {
            /* Our own scan already refused everything utf8proc calls invalid. */
            return n == UTF8PROC_ERROR_NOMEM ? -ENOMEM : KURA_EINTERNAL;
        }
        cap = (size_t)n;
    }
    return KURA_EINTERNAL; /* the second decomposition disagreed with the first */
}

/* ---- names --------------------------------------------------------------------------------- */

int kura_name_normalize(const char *in, size_t len, char ret_name[static KURA_NAME_MAX + 1],
                        size_t *ret_len, const char **reterr_why)
{
    if (len == 0) {
        return refuse(WHY_EMPTY, reterr_why);
    }
    /* NFC shortens UTF-8 by at most a factor of three (Hangul L+V+T jamo, 9 bytes, compose to
     * one 3-byte syllable), so nothing this long could fit; and it bounds the work. */
    if (len > KURA_PATH_MAX) {
        return refuse(WHY_TOO_LONG, reterr_why);
    }
    /* Before NFC: refuse what is broken or forbidden in the bytes the client sent, so that
     * utf8proc only ever sees well-formed text of allowed code points. */
    enum why w = check_code_points(in, len);
    if (w != WHY_NONE) {
        return refuse(w, reterr_why);
    }

    char *buf = NULL;
    size_t n = 0;
    int r = nfc(in, len, &buf, &n);
    if (r < 0) {
        return r;
    }
    if (n == 0) {
        w = WHY_EMPTY; /* cannot happen: NFC never removes a code point */
    } else if (n > KURA_NAME_MAX) {
        w = WHY_TOO_LONG;
    } else {
        w = check_final(buf, n);
    }
    if (w != WHY_NONE) {
        kura_free(buf);
        return refuse(w, reterr_why);
    }
    memcpy(ret_name, buf, n);
    ret_name[n] = '\0';
    *ret_len = n;
    kura_free(buf);
    return 0;
}

/* ---- paths --------------------------------------------------------------------------------- */

/* The text part of a path's block, rounded up so that the slices after it are aligned. */
#define TEXT_BYTES                                                                                 \
    ((KURA_PATH_MAX + 1 + _Alignof(struct kura_str) - 1) / _Alignof(struct kura_str) *             \
     _Alignof(struct kura_str))

int kura_path_normalize(const char *in, size_t len, struct kura_path *ret, const char **reterr_why)
{
    if (len > KURA_PATH_MAX) {
        return refuse(WHY_PATH_TOO_LONG, reterr_why);
    }
    bool trailing = len > 0 && in[len - 1] == '/';
    if (trailing) {
        len--; /* one trailing '/' marks a collection; a second one is an empty segment */
    }
    size_t nseg = 0;
    if (len > 0) {
        nseg = 1;
        for (size_t i = 0; i < len; i++) {
            if (in[i] == '/') {
                nseg++;
            }
        }
    }
    if (nseg > KURA_PATH_DEPTH_MAX) {
        return refuse(WHY_PATH_TOO_DEEP, reterr_why);
    }

    /* One block: the text (at most KURA_PATH_MAX bytes and a NUL), then the slices. */
    size_t text_bytes = TEXT_BYTES;
    char *out = kura_malloc(text_bytes + nseg * sizeof(struct kura_str)); /* nseg <= 128 */
    if (!out) {
        return -ENOMEM;
    }
    struct kura_str *segs = (struct kura_str *)(void *)(out + text_bytes);
    size_t out_len = 0;
    struct kura_str rest = kura_str_make(in, len);
    for (size_t k = 0; k < nseg; k++) {
        struct kura_str seg;
        (void)kura_str_split(&rest, '/', &seg); /* false for the last segment: seg is the rest */
        if (seg.len == 0) {
            kura_free(out);
            return refuse(WHY_PATH_EMPTY_SEGMENT, reterr_why);
        }
        char name[KURA_NAME_MAX + 1];
        size_t name_len;
        int r = kura_name_normalize(seg.ptr, seg.len, name, &name_len, reterr_why);
        if (r < 0) {
            kura_free(out);
            return r;
        }
        /* After NFC the path may have grown (some decompositions do not recompose): the
         * limit holds for the result too, trailing '/' included. */
        size_t need = out_len + (k > 0 ? 1u : 0u) + name_len + (trailing ? 1u : 0u);
        if (need > KURA_PATH_MAX) {
            kura_free(out);
            return refuse(WHY_PATH_TOO_LONG, reterr_why);
        }
        if (k > 0) {
            out[out_len++] = '/';
        }
        memcpy(out + out_len, name, name_len);
        segs[k] = kura_str_make(out + out_len, name_len);
        out_len += name_len;
    }
    out[out_len] = '\0';
    *ret = (struct kura_path){
        .ptr = out,
        .len = out_len,
        .segs = nseg > 0 ? segs : NULL,
        .nseg = nseg,
        .trailing_slash = trailing,
    };
    return 0;
}

void kura_path_release(struct kura_path *p)
{
    kura_free(p->ptr); /* the block's start; segs lives inside it */
    *p = KURA_PATH_INIT;
}
