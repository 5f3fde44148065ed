/* hdr.c — WebDAV and HTTP request headers: Depth, Overwrite, Destination, Timeout, Lock-Token,
 * If (RFC 4918 §10), Range (RFC 9110 §14.2), If-Match / If-None-Match (RFC 9110 §13.1),
 * OC-Checksum (ownCloud) and Digest (RFC 3230).
 *
 * Every parser is a cursor over (v, len): each read checks what remains, every token has a
 * maximum, numbers go through kura_parse_u64. The HTTP layer has already refused control bytes
 * in header values; they are refused again where a token could carry one, because these
 * functions are also fuzzed (and may be reused) on their own.
 */
#include "dav/dav.h"

#include <sodium.h>
#include <string.h>

struct cur {
    const char *p;
    size_t n; /* bytes left */
};

static void skip_ows(struct cur *c)
{
    while (c->n && (*c->p == ' ' || *c->p == '\t')) {
        c->p++;
        c->n--;
    }
}

static bool take(struct cur *c, char ch)
{
    if (c->n && *c->p == ch) {
        c->p++;
        c->n--;
        return true;
    }
    return false;
}

/* Takes a case-insensitive ASCII literal. */
static bool take_word(struct cur *c, const char *w)
{
    size_t n = strlen(w);
    if (c->n < n || !kura_str_eq_nocase(kura_str_make(c->p, n), kura_str_make(w, n))) {
        return false;
    }
    c->p += n;
    c->n -= n;
    return true;
}

static struct kura_str trimmed(const char *v, size_t len)
{
    return kura_str_trim_ows(kura_str_make(v, len));
}

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

/* ---- Depth, Overwrite, Lock-Token, Timeout ------------------------------------------------ */

int kura_dav_parse_depth(const char *v, size_t len, enum kura_dav_depth *ret)
{
    struct kura_str s = trimmed(v, len);
    if (kura_str_eq_c(s, "0")) {
        *ret = KURA_DAV_DEPTH_0;
    } else if (kura_str_eq_c(s, "1")) {
        *ret = KURA_DAV_DEPTH_1;
    } else if (kura_str_eq_nocase(s, KURA_STR("infinity"))) {
        *ret = KURA_DAV_DEPTH_INFINITY;
    } else {
        return KURA_EBADHDR;
    }
    return 0;
}

int kura_dav_parse_overwrite(const char *v, size_t len, bool *ret)
{
    struct kura_str s = trimmed(v, len);
    if (s.len != 1 || (s.ptr[0] != 'T' && s.ptr[0] != 't' && s.ptr[0] != 'F' && s.ptr[0] != 'f')) {
        return KURA_EBADHDR;
    }
    *ret = s.ptr[0] == 'T' || s.ptr[0] == 't';
    return 0;
}

/* A Coded-URL's content: printable ASCII, no space, '<', '>' or '"'. */
static bool token_ok(struct kura_str t)
{
    if (t.len == 0 || t.len > KURA_DAV_TOKEN_MAX) {
        return false;
    }
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.ptr[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"') {
            return false;
        }
    }
    return true;
}

int kura_dav_parse_lock_token(const char *v, size_t len, struct kura_str *ret_token)
{
    struct kura_str s = trimmed(v, len);
    if (s.len < 2 || s.ptr[0] != '<' || s.ptr[s.len - 1] != '>') {
        return KURA_EBADHDR;
    }
    struct kura_str t = kura_str_make(s.ptr + 1, s.len - 2);
    if (t.len > KURA_DAV_TOKEN_MAX) {
        return KURA_ETOOBIG;
    }
    if (!token_ok(t)) {
        return KURA_EBADHDR;
    }
    *ret_token = t;
    return 0;
}

int kura_dav_parse_timeout(const char *v, size_t len, uint32_t max_s, uint32_t *ret_s)
{
    struct kura_str s = trimmed(v, len);
    while (s.len) {
        struct kura_str item;
        (void)kura_str_split(&s, ',', &item);
        item = kura_str_trim_ows(item);
        if (kura_str_eq_nocase(item, KURA_STR("Infinite"))) {
            *ret_s = max_s; /* never an infinite lock: the server's maximum */
            return 0;
        }
        struct cur c = {item.ptr, item.len};
        if (!take_word(&c, "Second-")) {
            continue; /* an extension this server does not know */
        }
        uint64_t n;
        int r = kura_parse_u64(c.p, c.n, UINT64_MAX, &n);
        if (r == KURA_ERANGE) {
            n = UINT64_MAX; /* more digits than 64 bits: a very long time, capped below */
        } else if (r < 0) {
            continue;
        }
        *ret_s = n > max_s ? max_s : (uint32_t)n;
        return 0;
    }
    return KURA_EBADHDR;
}

/* ---- Destination -------------------------------------------------------------------------- */

struct origin {
    struct kura_str scheme, host;
    uint64_t port;
};

/* Parses "scheme://host[:port]"; *ret_rest receives the rest (path, query, ...). */
static int parse_origin(struct kura_str s, struct origin *o, struct kura_str *ret_rest)
{
    const char *colon = memchr(s.ptr, ':', s.len);
    if (!colon || colon == s.ptr) {
        return KURA_EBADHDR;
    }
    o->scheme = kura_str_make(s.ptr, (size_t)(colon - s.ptr));
    uint64_t def_port;
    if (kura_str_eq_nocase(o->scheme, KURA_STR("https"))) {
        def_port = 443;
    } else if (kura_str_eq_nocase(o->scheme, KURA_STR("http"))) {
        def_port = 80;
    } else {
        return KURA_EHOST; /* a URI, but not one this server could be named by */
    }
    struct kura_str rest = kura_str_make(colon + 1, s.len - o->scheme.len - 1);
    if (!kura_str_has_prefix(rest, KURA_STR("//"))) {
        return KURA_EBADHDR;
    }
    rest.ptr += 2;
    rest.len -= 2;
    size_t alen = 0;
    while (alen < rest.len && rest.ptr[alen] != '/' && rest.ptr[alen] != '?' &&
           rest.ptr[alen] != '#') {
        alen++;
    }
    struct kura_str auth = kura_str_make(rest.ptr, alen);
    *ret_rest = kura_str_make(rest.ptr + alen, rest.len - alen);
    if (memchr(auth.ptr, '@', auth.len)) {
        return KURA_EBADHDR; /* userinfo: credentials in a header, or an origin-confusion trick */
    }
    /* host: an IP literal in brackets, or up to the last ':' */
    size_t hlen;
    if (auth.len && auth.ptr[0] == '[') {
        const char *close = memchr(auth.ptr, ']', auth.len);
        if (!close) {
            return KURA_EBADHDR;
        }
        hlen = (size_t)(close - auth.ptr) + 1;
    } else {
        const char *c = memchr(auth.ptr, ':', auth.len);
        hlen = c ? (size_t)(c - auth.ptr) : auth.len;
    }
    if (hlen == 0) {
        return KURA_EBADHDR;
    }
    o->host = kura_str_make(auth.ptr, hlen);
    o->port = def_port;
    if (hlen < auth.len) {
        if (auth.ptr[hlen] != ':') {
            return KURA_EBADHDR;
        }
        size_t plen = auth.len - hlen - 1;
        if (plen) { /* "host:" is allowed and means the default port (RFC 3986 §3.2.3) */
            if (plen > 5 || kura_parse_u64(auth.ptr + hlen + 1, plen, 65535, &o->port) < 0) {
                return KURA_EBADHDR;
            }
        }
    }
    return 0;
}

/* The same raw-byte rules as request targets (src/http/uri.c). */
static bool raw_path_byte_ok(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '\\' && c != '#';
}

static int decode_path(struct kura_arena *a, struct kura_str s, const char **ret, size_t *ret_len)
{
    /* Decoding never lengthens; a path longer than the limit even encoded is refused early. */
    if (s.len > 3 * (size_t)KURA_DAV_PATH_MAX) {
        return KURA_EBADPATH;
    }
    char *out = kura_arena_alloc(a, s.len + 1);
    if (!out) {
        return kura_arena_err(a);
    }
    size_t o = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (!raw_path_byte_ok(c)) {
            return KURA_EBADPATH;
        }
        if (c == '%') {
            if (s.len - i < 3) {
                return KURA_EBADPATH;
            }
            int hi = hexval(s.ptr[i + 1]), lo = hexval(s.ptr[i + 2]);
            if (hi < 0 || lo < 0) {
                return KURA_EBADPATH;
            }
            c = (unsigned char)(hi * 16 + lo);
            /* An encoded separator would change the segments; NUL and controls mean nothing
             * good in a name. */
            if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) {
                return KURA_EBADPATH;
            }
            i += 2;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (o > KURA_DAV_PATH_MAX || !kura_utf8_valid(out, o)) {
        return KURA_EBADPATH;
    }
    *ret = out;
    *ret_len = o;
    return 0;
}

int kura_dav_parse_destination(struct kura_arena *a, const char *v, size_t len, const char *origin,
                               const char **ret_path, size_t *ret_path_len)
{
    struct kura_str s = trimmed(v, len);
    if (s.len == 0) {
        return KURA_EBADHDR;
    }
    struct kura_str path = s;
    if (s.ptr[0] != '/') {
        struct origin want, got;
        struct kura_str rest;
        int r = parse_origin(kura_str_c(origin), &want, &rest);
        if (r < 0 || (rest.len && !kura_str_eq_c(rest, "/"))) {
            return -EINVAL; /* the server's own origin is malformed: a programming error */
        }
        r = parse_origin(s, &got, &path);
        if (r < 0) {
            return r;
        }
        if (!kura_str_eq_nocase(got.scheme, want.scheme) ||
            !kura_str_eq_nocase(got.host, want.host) || got.port != want.port) {
            return KURA_EHOST;
        }
        if (path.len == 0) {
            path = KURA_STR("/");
        }
        if (path.ptr[0] != '/') {
            return KURA_EBADHDR; /* "?query" or "#fragment" right after the authority */
        }
    } else if (s.len > 1 && s.ptr[1] == '/') {
        return KURA_EBADHDR; /* "//host/...": a network-path reference, not path-absolute */
    }
    if (memchr(path.ptr, '?', path.len) || memchr(path.ptr, '#', path.len)) {
        return KURA_EBADHDR;
    }
    return decode_path(a, path, ret_path, ret_path_len);
}

/* ---- entity tags -------------------------------------------------------------------------- */

/* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text (RFC 9110).
 * RFC 4918's If examples (["I am an ETag"]) follow RFC 2616's quoted-string and hold spaces:
 * allowed there (space), harmless since kura's own tags never contain one. */
static bool take_etag(struct cur *c, bool space, struct kura_str *ret)
{
    struct cur t = *c;
    if (t.n >= 2 && t.p[0] == 'W' && t.p[1] == '/') {
        t.p += 2;
        t.n -= 2;
    }
    if (!take(&t, '"')) {
        return false;
    }
    while (t.n && *t.p != '"') {
        unsigned char ch = (unsigned char)*t.p;
        if ((ch < 0x21 && !(space && ch == ' ')) || ch == 0x7f) {
            return false;
        }
        t.p++;
        t.n--;
    }
    if (!take(&t, '"')) {
        return false;
    }
    size_t n = (size_t)(t.p - c->p);
    if (n > KURA_DAV_ETAG_MAX) {
        return false;
    }
    *ret = kura_str_make(c->p, n);
    *c = t;
    return true;
}

bool kura_dav_etag_match(struct kura_str a, struct kura_str b, bool weak)
{
    bool wa = kura_str_has_prefix(a, KURA_STR("W/")), wb = kura_str_has_prefix(b, KURA_STR("W/"));
    if (!weak && (wa || wb)) {
        return false;
    }
    if (wa) {
        a.ptr += 2;
        a.len -= 2;
    }
    if (wb) {
        b.ptr += 2;
        b.len -= 2;
    }
    return a.len >= 2 && kura_str_eq(a, b);
}

int kura_dav_parse_etags(struct kura_arena *a, const char *v, size_t len,
                         struct kura_dav_etags *ret)
{
    struct kura_str s = trimmed(v, len);
    if (kura_str_eq_c(s, "*")) {
        *ret = (struct kura_dav_etags){.any = true};
        return 0;
    }
    struct kura_str tags[KURA_DAV_ETAGS_MAX];
    size_t n = 0;
    struct cur c = {s.ptr, s.len};
    for (;;) {
        skip_ows(&c);
        if (take(&c, ',')) {
            continue; /* empty list elements are allowed (RFC 9110 §5.6.1.2) */
        }
        if (!c.n) {
            break;
        }
        if (n == KURA_DAV_ETAGS_MAX) {
            return KURA_ETOOBIG;
        }
        if (!take_etag(&c, false, &tags[n++])) {
            return KURA_EBADHDR;
        }
        skip_ows(&c);
        if (c.n && !take(&c, ',')) {
            return KURA_EBADHDR;
        }
    }
    if (n == 0) {
        return KURA_EBADHDR;
    }
    struct kura_str *copy = kura_arena_calloc(a, n, sizeof(*copy));
    if (!copy) {
        return kura_arena_err(a);
    }
    memcpy(copy, tags, n * sizeof(*copy));
    *ret = (struct kura_dav_etags){.tags = copy, .n_tags = n};
    return 0;
}

/* ---- If ----------------------------------------------------------------------------------- */

/* "<" ... ">" without whitespace or angle brackets inside; *ret is the inside. */
static int take_coded(struct cur *c, size_t max, struct kura_str *ret)
{
    if (!take(c, '<')) {
        return KURA_EBADHDR;
    }
    const char *end = memchr(c->p, '>', c->n);
    if (!end) {
        return KURA_EBADHDR;
    }
    struct kura_str t = kura_str_make(c->p, (size_t)(end - c->p));
    if (t.len > max) {
        return KURA_ETOOBIG;
    }
    if (t.len == 0) {
        return KURA_EBADHDR;
    }
    for (size_t i = 0; i < t.len; i++) {
        unsigned char ch = (unsigned char)t.ptr[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '"') {
            return KURA_EBADHDR;
        }
    }
    c->p = end + 1;
    c->n -= t.len + 1;
    *ret = t;
    return 0;
}

/* List = "(" 1*Condition ")"; Condition = ["Not"] (Coded-URL | "[" entity-tag "]"). */
static int take_list(struct cur *c, struct kura_dav_if_cond *conds, size_t *n_conds,
                     size_t *ret_count)
{
    size_t start = *n_conds;
    if (!take(c, '(')) {
        return KURA_EBADHDR;
    }
    for (;;) {
        skip_ows(c);
        if (take(c, ')')) {
            break;
        }
        if (*n_conds == KURA_DAV_IF_CONDS_MAX) {
            return KURA_ETOOBIG;
        }
        struct kura_dav_if_cond *cond = &conds[*n_conds];
        *cond = (struct kura_dav_if_cond){0};
        if (take_word(c, "Not")) {
            cond->negate = true;
            skip_ows(c);
        }
        if (c->n && *c->p == '<') {
            int r = take_coded(c, KURA_DAV_TOKEN_MAX, &cond->value);
            if (r < 0) {
                return r;
            }
        } else if (take(c, '[')) {
            skip_ows(c);
            if (!take_etag(c, true, &cond->value)) {
                return KURA_EBADHDR;
            }
            skip_ows(c);
            if (!take(c, ']')) {
                return KURA_EBADHDR;
            }
            cond->etag = true;
        } else {
            return KURA_EBADHDR;
        }
        (*n_conds)++;
    }
    if (*n_conds == start) {
        return KURA_EBADHDR; /* "()" */
    }
    *ret_count = *n_conds - start;
    return 0;
}

int kura_dav_parse_if(struct kura_arena *a, const char *v, size_t len, struct kura_dav_if *ret)
{
    struct kura_dav_if_cond conds[KURA_DAV_IF_CONDS_MAX];
    struct kura_dav_if_list lists[KURA_DAV_IF_LISTS_MAX];
    size_t firsts[KURA_DAV_IF_LISTS_MAX]; /* index of each list's first condition */
    size_t n_conds = 0, n_lists = 0;
    struct cur c = {v, len};
    skip_ows(&c);
    bool tagged = c.n && *c.p == '<';
    struct kura_str tag = KURA_STR("");
    while (c.n) {
        if (tagged && *c.p == '<') {
            int r = take_coded(&c, 3 * (size_t)KURA_DAV_PATH_MAX, &tag);
            if (r < 0) {
                return r;
            }
            skip_ows(&c);
            if (!c.n || *c.p != '(') {
                return KURA_EBADHDR; /* a tag needs at least one list */
            }
        }
        if (n_lists == KURA_DAV_IF_LISTS_MAX) {
            return KURA_ETOOBIG;
        }
        size_t first = n_conds, count;
        int r = take_list(&c, conds, &n_conds, &count);
        if (r < 0) {
            return r;
        }
        firsts[n_lists] = first;
        lists[n_lists++] = (struct kura_dav_if_list){.tag = tag, .n_conds = count};
        skip_ows(&c);
    }
    if (n_lists == 0) {
        return KURA_EBADHDR;
    }
    struct kura_dav_if_cond *cc = kura_arena_calloc(a, n_conds, sizeof(*cc));
    struct kura_dav_if_list *ll = kura_arena_calloc(a, n_lists, sizeof(*ll));
    if (!cc || !ll) {
        return kura_arena_err(a);
    }
    memcpy(cc, conds, n_conds * sizeof(*cc));
    for (size_t i = 0; i < n_lists; i++) {
        ll[i] = lists[i];
        ll[i].conds = cc + firsts[i];
    }
    *ret = (struct kura_dav_if){.tagged = tagged, .lists = ll, .n_lists = n_lists};
    return 0;
}

/* ---- Range -------------------------------------------------------------------------------- */

/* Digits as a number; a number beyond 64 bits reads as UINT64_MAX (it can only mean "past the
 * end"). false when there is no digit. */
static bool take_pos(struct cur *c, uint64_t *ret)
{
    size_t n = 0;
    while (n < c->n && c->p[n] >= '0' && c->p[n] <= '9') {
        n++;
    }
    if (n == 0) {
        return false;
    }
    int r = kura_parse_u64(c->p, n, UINT64_MAX, ret);
    if (r < 0) {
        *ret = UINT64_MAX;
    }
    c->p += n;
    c->n -= n;
    return true;
}

int kura_dav_parse_range(const char *v, size_t len, uint64_t size, struct kura_dav_range *ret)
{
    const struct kura_dav_range whole = {.kind = KURA_DAV_RANGE_WHOLE};
    struct kura_str s = trimmed(v, len);
    struct cur c = {s.ptr, s.len};
    if (!take_word(&c, "bytes") || !take(&c, '=')) {
        *ret = whole; /* another unit, or not a range at all */
        return 0;
    }
    skip_ows(&c);
    uint64_t first = 0, last = UINT64_MAX;
    bool suffix = take(&c, '-');
    if (suffix) {
        if (!take_pos(&c, &last)) {
            *ret = whole;
            return 0;
        }
    } else {
        if (!take_pos(&c, &first) || !take(&c, '-')) {
            *ret = whole;
            return 0;
        }
        (void)take_pos(&c, &last); /* "a-": to the end */
    }
    skip_ows(&c);
    if (c.n) {
        *ret = whole; /* several ranges (or trailing junk): RFC 9110 lets us send it all */
        return 0;
    }
    if (suffix) {
        if (last == 0 || size == 0) {
            return KURA_ERANGENS; /* "-0": no bytes asked for */
        }
        *ret =
            (struct kura_dav_range){KURA_DAV_RANGE_PART, last >= size ? 0 : size - last, size - 1};
        return 0;
    }
    if (last < first) {
        *ret = whole; /* an invalid range-spec: ignore the field */
        return 0;
    }
    if (first >= size) {
        return KURA_ERANGENS;
    }
    *ret = (struct kura_dav_range){KURA_DAV_RANGE_PART, first, last >= size ? size - 1 : last};
    return 0;
}

void kura_dav_add_content_range(struct kura_buf *out, const struct kura_dav_range *r, uint64_t size)
{
    if (!r) {
        kura_buf_addf(out, "bytes */%llu", (unsigned long long)size);
        return;
    }
    kura_buf_addf(out, "bytes %llu-%llu/%llu", (unsigned long long)r->first,
                  (unsigned long long)r->last, (unsigned long long)size);
}

/* ---- OC-Checksum and Digest --------------------------------------------------------------- */

struct alg {
    const char *oc;     /* OC-Checksum name */
    const char *digest; /* RFC 3230 name */
    enum kura_dav_hash hash;
    size_t len;
};

static const struct alg algs[] = {
    {"MD5", "MD5", KURA_DAV_HASH_MD5, 16},
    {"SHA1", "SHA", KURA_DAV_HASH_SHA1, 20},
    {"SHA256", "SHA-256", KURA_DAV_HASH_SHA256, 32},
    {"SHA512", "SHA-512", KURA_DAV_HASH_SHA512, 64},
};

static const struct alg *find_alg(struct kura_str name, bool digest)
{
    for (size_t i = 0; i < KURA_ARRAY_SIZE(algs); i++) {
        if (kura_str_eq_nocase(name, kura_str_c(digest ? algs[i].digest : algs[i].oc))) {
            return &algs[i];
        }
    }
    return NULL;
}

/* Adds one digest; a repeat of an algorithm must carry the same bytes. */
static int add_digest(struct kura_dav_digests *d, const struct alg *alg, const uint8_t *bytes)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->d[i].alg == alg->hash) {
            return memcmp(d->d[i].bytes, bytes, alg->len) == 0 ? 0 : KURA_EBADHDR;
        }
    }
    if (d->n == KURA_DAV_DIGESTS_MAX) {
        return KURA_ETOOBIG; /* unreachable while every known algorithm fits */
    }
    struct kura_dav_digest *e = &d->d[d->n++];
    *e = (struct kura_dav_digest){.alg = alg->hash, .len = alg->len};
    memcpy(e->bytes, bytes, alg->len);
    return 0;
}

/* Token of an algorithm name: letters, digits and '-'. */
static bool alg_name_ok(struct kura_str s)
{
    if (s.len == 0 || s.len > 32) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_')) {
            return false;
        }
    }
    return true;
}

int kura_dav_parse_oc_checksum(const char *v, size_t len, struct kura_dav_digests *ret)
{
    struct kura_dav_digests d = {0};
    struct kura_str s = trimmed(v, len);
    size_t items = 0;
    while (s.len) {
        struct kura_str item;
        (void)kura_str_split(&s, ' ', &item);
        if (item.len == 0) {
            continue; /* several spaces */
        }
        if (++items > KURA_DAV_DIGEST_ITEMS_MAX) {
            return KURA_ETOOBIG;
        }
        struct kura_str name;
        if (!kura_str_split(&item, ':', &name) || !alg_name_ok(name) || item.len == 0) {
            return KURA_EBADHDR;
        }
        const struct alg *alg = find_alg(name, false);
        if (!alg) {
            continue; /* ADLER32, SHA3-256, ...: not verifiable here */
        }
        if (item.len != 2 * alg->len) {
            return KURA_EBADHDR;
        }
        uint8_t bytes[KURA_DAV_DIGEST_BYTES_MAX];
        for (size_t i = 0; i < alg->len; i++) {
            int hi = hexval(item.ptr[2 * i]), lo = hexval(item.ptr[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                return KURA_EBADHDR;
            }
            bytes[i] = (uint8_t)(hi * 16 + lo);
        }
        int r = add_digest(&d, alg, bytes);
        if (r < 0) {
            return r;
        }
    }
    if (items == 0) {
        return KURA_EBADHDR;
    }
    *ret = d;
    return 0;
}

int kura_dav_parse_digest(const char *v, size_t len, struct kura_dav_digests *ret)
{
    struct kura_dav_digests d = {0};
    struct kura_str s = trimmed(v, len);
    size_t items = 0;
    while (s.len) {
        struct kura_str item;
        (void)kura_str_split(&s, ',', &item);
        item = kura_str_trim_ows(item);
        if (item.len == 0) {
            continue;
        }
        if (++items > KURA_DAV_DIGEST_ITEMS_MAX) {
            return KURA_ETOOBIG;
        }
        struct kura_str name;
        if (!kura_str_split(&item, '=', &name) || !alg_name_ok(name) || item.len == 0) {
            return KURA_EBADHDR;
        }
        const struct alg *alg = find_alg(name, true);
        if (!alg) {
            continue; /* UNIXsum, CRC32c, ...: not verifiable here */
        }
        uint8_t bytes[KURA_DAV_DIGEST_BYTES_MAX];
        size_t got = 0;
        /* Padded, canonical base64 with nothing after it; no ignored characters. */
        if (sodium_base642bin(bytes, sizeof(bytes), item.ptr, item.len, NULL, &got, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            got != alg->len) {
            return KURA_EBADHDR;
        }
        int r = add_digest(&d, alg, bytes);
        if (r < 0) {
            return r;
        }
    }
    if (items == 0) {
        return KURA_EBADHDR;
    }
    *ret = d;
    return 0;
}
