/* fuzz-dav-hdr.c — libFuzzer harness for the WebDAV and HTTP header parsers.
 *
 * The first byte picks the parser (modulo 10): Depth, Overwrite, Destination, Timeout,
 * Lock-Token, If, If-Match, Range, OC-Checksum, Digest. For Range the next 8 bytes are the
 * entity size (big-endian). The rest is the field value, in an exact-size heap copy so that
 * ASan sees any read past it. Seeds: tests/fuzz/dav-hdr/.
 *
 * Invariants checked (a violation traps): results are 0 or a documented code; every slice
 * handed out lies inside the value; a Destination path starts with '/', is UTF-8 without NUL or
 * control bytes and within KURA_DAV_PATH_MAX, and can be written as an href; a range lies inside
 * the entity; If structures respect their limits and re-parse from their own slices.
 */
#include "dav/dav.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static bool inside(struct kura_str s, const char *v, size_t len)
{
    return s.len <= len && s.ptr >= v && s.ptr + s.len <= v + len;
}

static void fuzz_destination(struct kura_arena *a, const char *v, size_t len)
{
    const char *path;
    size_t plen;
    int r = kura_dav_parse_destination(a, v, len, "https://kura.example:8443", &path, &plen);
    check(r == 0 || r == KURA_EBADHDR || r == KURA_EBADPATH || r == KURA_EHOST ||
          r == KURA_EBUDGET || r == -ENOMEM);
    if (r < 0) {
        return;
    }
    check(plen >= 1 && plen <= KURA_DAV_PATH_MAX && path[0] == '/' && path[plen] == '\0');
    check(strlen(path) == plen && kura_utf8_valid(path, plen) && !kura_has_ctl(path, plen, false));
    struct kura_buf b = KURA_BUF_INIT(4 * KURA_DAV_PATH_MAX + 64);
    check(kura_dav_add_href(&b, path, plen) == 0 && kura_buf_err(&b) == 0);
    kura_buf_release(&b);
}

static void fuzz_if(struct kura_arena *a, const char *v, size_t len)
{
    struct kura_dav_if h;
    int r = kura_dav_parse_if(a, v, len, &h);
    check(r == 0 || r == KURA_EBADHDR || r == KURA_ETOOBIG || r == KURA_EBUDGET || r == -ENOMEM);
    if (r < 0) {
        return;
    }
    check(h.n_lists >= 1 && h.n_lists <= KURA_DAV_IF_LISTS_MAX);
    size_t total = 0;
    for (size_t i = 0; i < h.n_lists; i++) {
        const struct kura_dav_if_list *l = &h.lists[i];
        check(l->n_conds >= 1);
        check(h.tagged == (l->tag.len > 0));
        check(!l->tag.len || inside(l->tag, v, len));
        total += l->n_conds;
        for (size_t k = 0; k < l->n_conds; k++) {
            const struct kura_dav_if_cond *c = &l->conds[k];
            check(c->value.len > 0 && inside(c->value, v, len));
            if (c->etag && !memchr(c->value.ptr, ' ', c->value.len)) {
                /* The entity-tag alone is a valid If-Match value (which refuses spaces). */
                struct kura_dav_etags e;
                check(kura_dav_parse_etags(a, c->value.ptr, c->value.len, &e) == 0 ||
                      kura_arena_err(a) != 0);
            } else if (!c->etag) {
                check(c->value.len <= KURA_DAV_TOKEN_MAX);
            }
        }
    }
    check(total <= KURA_DAV_IF_CONDS_MAX);
}

static void fuzz_range(const uint8_t *data, size_t size)
{
    if (size < 8) {
        return;
    }
    uint64_t entity = 0;
    for (size_t i = 0; i < 8; i++) {
        entity = entity << 8 | data[i];
    }
    size -= 8;
    char *v = kura_malloc(size ? size : 1);
    if (!v) {
        return;
    }
    memcpy(v, data + 8, size);
    struct kura_dav_range r;
    int rc = kura_dav_parse_range(v, size, entity, &r);
    check(rc == 0 || rc == KURA_ERANGENS);
    if (rc == 0 && r.kind == KURA_DAV_RANGE_PART) {
        check(r.first <= r.last && r.last < entity);
        struct kura_buf b = KURA_BUF_INIT(128);
        kura_dav_add_content_range(&b, &r, entity);
        check(kura_buf_err(&b) == 0);
        kura_buf_release(&b);
    } else if (rc == 0) {
        check(r.kind == KURA_DAV_RANGE_WHOLE);
    }
    kura_free(v);
}

static void check_digests(int r, const struct kura_dav_digests *d)
{
    check(r == 0 || r == KURA_EBADHDR || r == KURA_ETOOBIG);
    if (r < 0) {
        return;
    }
    check(d->n <= KURA_DAV_DIGESTS_MAX);
    for (size_t i = 0; i < d->n; i++) {
        check(d->d[i].len == 16 || d->d[i].len == 20 || d->d[i].len == 32 || d->d[i].len == 64);
        for (size_t k = 0; k < i; k++) {
            check(d->d[k].alg != d->d[i].alg);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    unsigned which = data[0] % 10;
    data++;
    size--;
    if (which == 7) {
        fuzz_range(data, size);
        return 0;
    }
    char *v = kura_malloc(size ? size : 1);
    struct kura_arena *a = kura_arena_new(1024 * 1024);
    if (!v || !a) {
        kura_free(v);
        a = kura_arena_free(a);
        return 0;
    }
    memcpy(v, data, size);
    int r;
    switch (which) {
    case 0: {
        enum kura_dav_depth d;
        r = kura_dav_parse_depth(v, size, &d);
        check(r == KURA_EBADHDR || (r == 0 && d <= KURA_DAV_DEPTH_INFINITY));
        break;
    }
    case 1: {
        bool o;
        r = kura_dav_parse_overwrite(v, size, &o);
        check(r == 0 || r == KURA_EBADHDR);
        break;
    }
    case 2:
        fuzz_destination(a, v, size);
        break;
    case 3: {
        uint32_t t = 0;
        r = kura_dav_parse_timeout(v, size, 3600, &t);
        check(r == KURA_EBADHDR || (r == 0 && t <= 3600));
        break;
    }
    case 4: {
        struct kura_str t;
        r = kura_dav_parse_lock_token(v, size, &t);
        check(r == KURA_EBADHDR || r == KURA_ETOOBIG || (r == 0 && inside(t, v, size)));
        break;
    }
    case 5:
        fuzz_if(a, v, size);
        break;
    case 6: {
        struct kura_dav_etags e;
        r = kura_dav_parse_etags(a, v, size, &e);
        check(r == 0 || r == KURA_EBADHDR || r == KURA_ETOOBIG || r == KURA_EBUDGET ||
              r == -ENOMEM);
        if (r == 0 && !e.any) {
            check(e.n_tags >= 1 && e.n_tags <= KURA_DAV_ETAGS_MAX);
            for (size_t i = 0; i < e.n_tags; i++) {
                check(inside(e.tags[i], v, size) && e.tags[i].len >= 2);
                check(kura_dav_etag_match(e.tags[i], e.tags[i], true));
            }
        }
        break;
    }
    case 8: {
        struct kura_dav_digests d;
        r = kura_dav_parse_oc_checksum(v, size, &d);
        check_digests(r, &d);
        break;
    }
    default: {
        struct kura_dav_digests d;
        r = kura_dav_parse_digest(v, size, &d);
        check_digests(r, &d);
        break;
    }
    }
    kura_free(v);
    a = kura_arena_free(a);
    return 0;
}
