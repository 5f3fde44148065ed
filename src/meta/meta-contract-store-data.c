/* meta-contract-store-data.c — the contract of meta.h's file store, continued: versions (and
 * their removal, paging by key), dead properties (the 256 limit, copies), WebDAV locks (what
 * covers a path, expiry), the checkpoint, and store calls inside a caller's transaction.
 *
 * Part of the store contract suite (meta-contract.h): public API only, a fresh target per test
 * (store_setup in meta-contract-store.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "meta/meta-contract-store.h"

/* ---- versions ----------------------------------------------------------------------------- */

static int seen_version(void *ctx, const struct kura_version *v)
{
    struct store_seen *s = ctx;
    char id[24];
    (void)snprintf(id, sizeof(id), "%llu", (unsigned long long)v->id);
    store_seen_add(s, id);
    return ++s->calls == (unsigned)s->stop_at ? 7 : 0;
}

static void test_versions(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t d = store_mk(m, c->space, "d", true);
    uint64_t f = store_mk(m, c->space, "d/f", false);
    uint64_t g = store_mk(m, c->space, "d/g", false);
    uint64_t id = 4242;
    struct kura_version v = store_version_of(d, 1, "k");
    assert_int_equal(kura_meta_version_add(m, &v, &id), -EISDIR);
    v.node = 999;
    assert_int_equal(kura_meta_version_add(m, &v, &id), KURA_ENOTFOUND);
    v = store_version_of(f, 1, "k");
    v.header_len = 0;
    assert_int_equal(kura_meta_version_add(m, &v, &id), -EINVAL);
    v.header_len = KURA_META_C4GH_HEADER_MAX + 1;
    assert_int_equal(kura_meta_version_add(m, &v, &id), KURA_ETOOBIG);
    v = store_version_of(f, 1, "");
    assert_int_equal(kura_meta_version_add(m, &v, &id), -EINVAL);
    v = store_version_of(f, 1, "k");
    v.blob[0] = '\0';
    assert_int_equal(kura_meta_version_add(m, &v, &id), -EINVAL);
    assert_int_equal(id, 4242);

    uint64_t v1 = store_add_version(m, f, 1, "k");
    uint64_t v2 = store_add_version(m, f, 2, "k");
    uint64_t v3 = store_add_version(m, f, 3, "k");
    uint64_t gv = store_add_version(m, g, 4, "k");
    struct kura_version out, want = store_version_of(f, 2, "k");
    assert_int_equal(kura_meta_version_get(m, v2, &out), 0);
    assert_int_equal(out.id, v2);
    assert_int_equal(out.node, f);
    assert_string_equal(out.blob, "blob-2");
    assert_int_equal(out.header_len, 124);
    assert_memory_equal(out.header, want.header, 124);
    assert_string_equal(out.key_id, "k");
    assert_int_equal(out.size, 200);
    assert_int_equal(out.segments, 2);
    assert_memory_equal(out.sha256, want.sha256, 32);
    assert_memory_equal(out.nonce_prefix, want.nonce_prefix, 4);
    assert_int_equal(out.created_at, 1002);
    assert_string_equal(out.created_by, "user:alice");
    assert_int_equal(out.corrupt_at, 0);

    struct store_seen s = {0};
    char expect[128];
    assert_int_equal(kura_meta_version_list(m, f, seen_version, &s), 0);
    (void)snprintf(expect, sizeof(expect), "%llu;%llu;%llu;", (unsigned long long)v3,
                   (unsigned long long)v2, (unsigned long long)v1);
    assert_string_equal(s.buf, expect); /* newest first */
    assert_int_equal(kura_meta_version_list(m, 999, seen_version, &s), KURA_ENOTFOUND);

    /* The current version: only one of this file, with its own size and hash. */
    uint8_t sha[32];
    struct kura_version gvv = store_version_of(g, 4, "k");
    assert_int_equal(kura_meta_node_set_content(m, f, gv, gvv.size, gvv.sha256, 1), -EINVAL);
    memcpy(sha, want.sha256, 32);
    assert_int_equal(kura_meta_node_set_content(m, f, v2, 201, sha, 1), -EINVAL);
    sha[0] ^= 1;
    assert_int_equal(kura_meta_node_set_content(m, f, v2, 200, sha, 1), -EINVAL);
    sha[0] ^= 1;
    assert_int_equal(kura_meta_node_set_content(m, d, v2, 200, sha, 1), -EISDIR);
    assert_int_equal(kura_meta_node_set_content(m, 999, v2, 200, sha, 1), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_set_content(m, f, 0, 200, sha, 1), -EINVAL);
    assert_int_equal(kura_meta_node_set_content(m, f, v2, 200, NULL, 1), -EINVAL);
    assert_int_equal(kura_meta_node_set_content(m, f, v2, 200, sha, 77), 0);
    struct kura_node n = store_node(m, f);
    assert_int_equal(n.version, v2);
    assert_int_equal(n.size, 200);
    assert_memory_equal(n.sha256, sha, 32);
    assert_int_equal(n.mtime, 77);

    /* Removal: never the current version; the header is gone with the row. */
    assert_int_equal(kura_meta_version_remove(m, v2), KURA_ECONFLICT);
    assert_int_equal(kura_meta_version_remove(m, v1), 0);
    assert_int_equal(kura_meta_version_get(m, v1, &out), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_version_remove(m, v1), KURA_ENOTFOUND);
    assert_int_equal(out.id, v2); /* untouched by the failure */

    /* Key rotation replaces header and key id. */
    uint8_t h2[200];
    memset(h2, 0x5a, sizeof(h2));
    assert_int_equal(kura_meta_version_set_header(m, v3, h2, sizeof(h2), "k2"), 0);
    assert_int_equal(kura_meta_version_get(m, v3, &out), 0);
    assert_int_equal(out.header_len, 200);
    assert_memory_equal(out.header, h2, 200);
    assert_string_equal(out.key_id, "k2");
    assert_int_equal(kura_meta_version_set_header(m, 999, h2, 10, "k2"), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_version_set_header(m, v3, h2, 0, "k2"), -EINVAL);
    assert_int_equal(kura_meta_version_set_header(m, v3, NULL, 10, "k2"), -EINVAL);
    assert_int_equal(kura_meta_version_set_header(m, v3, h2, 5000, "k2"), KURA_ETOOBIG);
    assert_int_equal(kura_meta_version_set_header(m, v3, h2, 10, ""), -EINVAL);

    /* Damage is recorded once, at its first finding. */
    assert_int_equal(kura_meta_version_flag_corrupt(m, v3, 5000), 0);
    assert_int_equal(kura_meta_version_flag_corrupt(m, v3, 6000), 0);
    assert_int_equal(kura_meta_version_get(m, v3, &out), 0);
    assert_int_equal(out.corrupt_at, 5000);
    assert_int_equal(kura_meta_version_flag_corrupt(m, 999, 5000), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_version_flag_corrupt(m, v3, 0), -EINVAL);

    bool ref = false;
    assert_int_equal(kura_meta_blob_referenced(m, "blob-3", &ref), 0);
    assert_true(ref);
    assert_int_equal(kura_meta_blob_referenced(m, "blob-1", &ref), 0); /* removed */
    assert_false(ref);
    assert_int_equal(kura_meta_blob_referenced(m, "", &ref), -EINVAL);
    /* Versions are added to trashed files too (an upload finishing after a delete). */
    assert_int_equal(kura_meta_node_trash(m, g, "user:alice", 1), 0);
    (void)store_add_version(m, g, 5, "k");
}

static void test_versions_paging(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t f = store_mk(m, c->space, "f", false);
    uint64_t ids[8];
    for (unsigned i = 0; i < 8; i++) {
        ids[i] = store_add_version(m, f, i + 1, i % 3 == 1 ? "k2" : "k1");
    }
    /* k1: ids 0, 2, 3, 5, 6; pages of two, each after the last id seen. */
    struct store_seen s = {0};
    char expect[256];
    assert_int_equal(kura_meta_versions_by_key(m, "k1", 0, 2, seen_version, &s), 0);
    (void)snprintf(expect, sizeof(expect), "%llu;%llu;", (unsigned long long)ids[0],
                   (unsigned long long)ids[2]);
    assert_string_equal(s.buf, expect);
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_versions_by_key(m, "k1", ids[2], 2, seen_version, &s), 0);
    (void)snprintf(expect, sizeof(expect), "%llu;%llu;", (unsigned long long)ids[3],
                   (unsigned long long)ids[5]);
    assert_string_equal(s.buf, expect);
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_versions_by_key(m, "k1", ids[5], 2, seen_version, &s), 0);
    (void)snprintf(expect, sizeof(expect), "%llu;", (unsigned long long)ids[6]);
    assert_string_equal(s.buf, expect);
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_versions_by_key(m, "k1", ids[6], 2, seen_version, &s), 0);
    assert_int_equal(s.calls, 0);
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_versions_by_key(m, "none", 0, 10, seen_version, &s), 0);
    assert_int_equal(s.calls, 0);

    s = (struct store_seen){0};
    assert_int_equal(kura_meta_versions_all(m, ids[4], 100, seen_version, &s), 0);
    (void)snprintf(expect, sizeof(expect), "%llu;%llu;%llu;", (unsigned long long)ids[5],
                   (unsigned long long)ids[6], (unsigned long long)ids[7]);
    assert_string_equal(s.buf, expect);
    s = (struct store_seen){.stop_at = 2};
    assert_int_equal(kura_meta_versions_all(m, 0, 100, seen_version, &s), 7);
    assert_int_equal(s.calls, 2);
    assert_int_equal(kura_meta_versions_all(m, 0, 0, seen_version, &s), -EINVAL);
    assert_int_equal(kura_meta_versions_by_key(m, "k1", 0, 0, seen_version, &s), -EINVAL);
    assert_int_equal(kura_meta_versions_by_key(m, "", 0, 1, seen_version, &s), -EINVAL);
}

/* ---- dead properties ---------------------------------------------------------------------- */

static int seen_prop(void *ctx, const struct kura_prop *p)
{
    struct store_seen *s = ctx;
    char line[256];
    (void)snprintf(line, sizeof(line), "{%s}%s=%s", p->ns, p->name, p->value);
    store_seen_add(s, line);
    s->calls++;
    return 0;
}

static void assert_prop(struct kura_meta *m, uint64_t node_id, const char *ns, const char *name,
                        const char *want)
{
    char *v = NULL;
    assert_int_equal(kura_meta_prop_get(m, node_id, ns, name, &v), 0);
    assert_string_equal(v, want);
    kura_free(v);
}

static void test_props(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t a = store_mk(m, c->space, "a", false);
    uint64_t b = store_mk(m, c->space, "b", false);
    assert_int_equal(kura_meta_prop_set(m, a, "urn:z", "n", "<z>1</z>"), 0);
    assert_int_equal(kura_meta_prop_set(m, a, "", "plain", "text"), 0);
    assert_int_equal(kura_meta_prop_set(m, a, "urn:a", "n", "<x>\n\t<y/>\r\n</x>"), 0);
    assert_prop(m, a, "urn:a", "n", "<x>\n\t<y/>\r\n</x>");
    assert_int_equal(kura_meta_prop_set(m, a, "urn:z", "n", "<z>2</z>"), 0); /* replaces */
    assert_prop(m, a, "urn:z", "n", "<z>2</z>");
    struct store_seen s = {0};
    assert_int_equal(kura_meta_prop_list(m, a, seen_prop, &s), 0);
    assert_string_equal(s.buf, "{}plain=text;{urn:a}n=<x>\n\t<y/>\r\n</x>;{urn:z}n=<z>2</z>;");

    char *v = (char *)"untouched";
    assert_int_equal(kura_meta_prop_get(m, a, "urn:none", "n", &v), KURA_ENOTFOUND);
    assert_string_equal(v, "untouched");
    assert_int_equal(kura_meta_prop_remove(m, a, "urn:none", "n"), 0);
    assert_int_equal(kura_meta_prop_remove(m, a, "", "plain"), 0);
    assert_int_equal(kura_meta_prop_get(m, a, "", "plain", &v), KURA_ENOTFOUND);

    /* copy: b ends up with exactly a's properties. */
    assert_int_equal(kura_meta_prop_set(m, b, "urn:b", "own", "x"), 0);
    assert_int_equal(kura_meta_prop_copy(m, a, b), 0);
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_prop_list(m, b, seen_prop, &s), 0);
    assert_string_equal(s.buf, "{urn:a}n=<x>\n\t<y/>\r\n</x>;{urn:z}n=<z>2</z>;");
    assert_int_equal(kura_meta_prop_copy(m, a, a), 0);
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_prop_list(m, a, seen_prop, &s), 0);
    assert_int_equal(s.calls, 2);

    /* Limits and refusals. */
    assert_int_equal(kura_meta_prop_set(m, a, "urn:a", "", "x"), -EINVAL);
    assert_int_equal(kura_meta_prop_set(m, a, "urn:a", "n", "bad\x01"), -EINVAL);
    assert_int_equal(kura_meta_prop_set(m, a, "urn:a", "n", "bad\xff"), -EINVAL);
    assert_int_equal(kura_meta_prop_set(m, a, "urn:\n", "n", "x"), -EINVAL);
    assert_int_equal(kura_meta_prop_set(m, a, "urn:a", "n", NULL), -EINVAL);
    char *big = kura_malloc(KURA_META_PROP_VALUE_MAX + 2);
    assert_non_null(big);
    memset(big, 'v', KURA_META_PROP_VALUE_MAX + 1);
    big[KURA_META_PROP_VALUE_MAX + 1] = '\0';
    assert_int_equal(kura_meta_prop_set(m, a, "urn:a", "big", big), KURA_ETOOBIG);
    big[KURA_META_PROP_VALUE_MAX] = '\0';
    assert_int_equal(kura_meta_prop_set(m, a, "urn:a", "big", big), 0);
    kura_free(big);
    assert_int_equal(kura_meta_prop_set(m, 999, "urn:a", "n", "x"), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_prop_get(m, 999, "urn:a", "n", &v), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_prop_remove(m, 999, "urn:a", "n"), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_prop_list(m, 999, seen_prop, &s), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_prop_copy(m, 999, a), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_prop_copy(m, a, 999), KURA_ENOTFOUND);

    /* At most KURA_META_PROPS_MAX per node; replacing one at the limit is fine. */
    uint64_t full = store_mk(m, c->space, "full", false);
    char name[32];
    for (unsigned i = 0; i < KURA_META_PROPS_MAX; i++) {
        (void)snprintf(name, sizeof(name), "p%03u", i);
        assert_int_equal(kura_meta_prop_set(m, full, "urn:n", name, "v"), 0);
    }
    assert_int_equal(kura_meta_prop_set(m, full, "urn:n", "one-more", "v"), KURA_ETOOBIG);
    assert_int_equal(kura_meta_prop_set(m, full, "urn:n", "p007", "w"), 0);
    assert_prop(m, full, "urn:n", "p007", "w");
    assert_int_equal(kura_meta_prop_remove(m, full, "urn:n", "p000"), 0);
    assert_int_equal(kura_meta_prop_set(m, full, "urn:n", "one-more", "v"), 0);
    /* Trashed nodes keep theirs. */
    assert_int_equal(kura_meta_node_trash(m, a, "user:alice", 1), 0);
    assert_prop(m, a, "urn:z", "n", "<z>2</z>");
}

/* ---- locks -------------------------------------------------------------------------------- */

static struct kura_lock lock_of(uint64_t space, const char *token, const char *path, bool infinite,
                                int64_t expires_at)
{
    struct kura_lock l = {.space = space,
                          .infinite = infinite,
                          .scope = KURA_LOCK_EXCLUSIVE,
                          .owner = "alice",
                          .created_at = 1000,
                          .expires_at = expires_at};
    (void)snprintf(l.token, sizeof(l.token), "%s", token);
    (void)snprintf(l.path, sizeof(l.path), "%s", path);
    return l;
}

static void mklock(struct kura_meta *m, uint64_t space, const char *token, const char *path,
                   bool infinite, int64_t expires_at)
{
    struct kura_lock l = lock_of(space, token, path, infinite, expires_at);
    assert_int_equal(kura_meta_lock_create(m, &l), 0);
}

static int seen_lock(void *ctx, const struct kura_lock *l)
{
    struct store_seen *s = ctx;
    store_seen_add(s, l->token);
    s->calls++;
    return 0;
}

static const char *covering(struct kura_meta *m, uint64_t space, const char *path, bool desc,
                            int64_t now, struct store_seen *s)
{
    *s = (struct store_seen){0};
    assert_int_equal(kura_meta_lock_covering(m, space, path, desc, now, seen_lock, s), 0);
    return s->buf;
}

static void test_locks(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t sp = c->space;
    mklock(m, sp, "L-docs", "docs", true, 5000);
    mklock(m, sp, "L-file", "docs/a.txt", false, 5000);
    mklock(m, sp, "L-sub", "docs/sub", false, 5000);
    mklock(m, sp, "L-root", "", false, 5000);
    mklock(m, sp, "L-wild", "a_", true, 5000);
    mklock(m, sp, "L-short", "docs/sub/x", false, 2000);
    mklock(m, c->other, "L-bob", "docs", true, 5000);
    struct store_seen s;

    /* On the path itself, and on an ancestor with infinite depth; a depth-0 ancestor (the
     * root, docs/sub) does not cover. Locks are ordered by path. */
    assert_string_equal(covering(m, sp, "docs/a.txt", false, 1000, &s), "L-docs;L-file;");
    assert_string_equal(covering(m, sp, "docs/sub/x/y", false, 1000, &s), "L-docs;");
    assert_string_equal(covering(m, sp, "docs/sub/x", false, 1000, &s), "L-docs;L-short;");
    assert_string_equal(covering(m, sp, "docs", false, 1000, &s), "L-docs;");
    assert_string_equal(covering(m, sp, "docs", true, 1000, &s), "L-docs;L-file;L-sub;L-short;");
    assert_string_equal(covering(m, sp, "docsX", true, 1000, &s), "");
    assert_string_equal(covering(m, sp, "ab/x", false, 1000, &s), ""); /* not "a_" */
    assert_string_equal(covering(m, sp, "a_/x", false, 1000, &s), "L-wild;");
    assert_string_equal(covering(m, sp, "", false, 1000, &s), "L-root;");
    assert_string_equal(covering(m, sp, "", true, 1000, &s),
                        "L-root;L-wild;L-docs;L-file;L-sub;L-short;");
    /* Expiry: a lock is gone at its expires_at. */
    assert_string_equal(covering(m, sp, "docs/sub/x", false, 1999, &s), "L-docs;L-short;");
    assert_string_equal(covering(m, sp, "docs/sub/x", false, 2000, &s), "L-docs;");
    assert_string_equal(covering(m, c->other, "docs/a.txt", true, 1000, &s), "L-bob;");

    /* get: a copy of the unexpired lock, owner_xml included. */
    struct kura_lock l = lock_of(sp, "L-xml", "x", false, 3000);
    l.scope = KURA_LOCK_SHARED;
    l.owner_xml = "<D:href>mailto:alice@example.org</D:href>\n";
    assert_int_equal(kura_meta_lock_create(m, &l), 0);
    struct kura_lock out = {0};
    assert_int_equal(kura_meta_lock_get(m, "L-xml", 2999, &out), 0);
    assert_string_equal(out.token, "L-xml");
    assert_int_equal(out.space, sp);
    assert_string_equal(out.path, "x");
    assert_false(out.infinite);
    assert_int_equal(out.scope, KURA_LOCK_SHARED);
    assert_string_equal(out.owner, "alice");
    assert_string_equal(out.owner_xml, l.owner_xml);
    assert_true(out.owner_xml != l.owner_xml);
    assert_int_equal(out.created_at, 1000);
    assert_int_equal(out.expires_at, 3000);
    kura_lock_release(&out);
    assert_null(out.owner_xml);
    assert_int_equal(kura_meta_lock_get(m, "L-docs", 1000, &out), 0);
    assert_null(out.owner_xml);
    assert_true(out.infinite);
    kura_lock_release(&out);
    kura_lock_release(NULL);
    assert_int_equal(kura_meta_lock_get(m, "L-xml", 3000, &out), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_lock_get(m, "nope", 0, &out), KURA_ENOTFOUND);

    /* refresh, prune, remove. */
    assert_int_equal(kura_meta_lock_refresh(m, "L-xml", 9000), 0);
    assert_int_equal(kura_meta_lock_get(m, "L-xml", 8000, &out), 0);
    kura_lock_release(&out);
    uint64_t pruned = 0;
    assert_int_equal(kura_meta_lock_prune(m, 5000, &pruned), 0);
    assert_int_equal(pruned, 7); /* everything but L-xml */
    assert_int_equal(kura_meta_lock_prune(m, 5000, NULL), 0);
    assert_string_equal(covering(m, sp, "", true, 0, &s), "L-xml;");
    assert_int_equal(kura_meta_lock_remove(m, "L-xml"), 0);
    assert_int_equal(kura_meta_lock_remove(m, "L-xml"), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_lock_refresh(m, "L-xml", 1), KURA_ENOTFOUND);

    /* create's refusals. */
    mklock(m, sp, "dup", "p", false, 5000);
    l = lock_of(sp, "dup", "q", false, 5000);
    assert_int_equal(kura_meta_lock_create(m, &l), KURA_EEXIST);
    l = lock_of(999, "t1", "q", false, 5000);
    assert_int_equal(kura_meta_lock_create(m, &l), KURA_ENOTFOUND);
    l = lock_of(sp, "t1", "q", false, 5000);
    (void)snprintf(l.owner, sizeof(l.owner), "nobody");
    assert_int_equal(kura_meta_lock_create(m, &l), KURA_ENOTFOUND);
    l = lock_of(sp, "t1", "q", false, 999); /* expires before it was made */
    assert_int_equal(kura_meta_lock_create(m, &l), -EINVAL);
    l = lock_of(sp, "t1", "/q", false, 5000);
    assert_int_equal(kura_meta_lock_create(m, &l), -EINVAL);
    l = lock_of(sp, "", "q", false, 5000);
    assert_int_equal(kura_meta_lock_create(m, &l), -EINVAL);
    l = lock_of(sp, "t1", "q", false, 5000);
    l.scope = (enum kura_lock_scope)3;
    assert_int_equal(kura_meta_lock_create(m, &l), -EINVAL);
    l = lock_of(sp, "t1", "q", false, 5000);
    l.owner_xml = "<a>\x01</a>";
    assert_int_equal(kura_meta_lock_create(m, &l), -EINVAL);
    assert_int_equal(kura_meta_lock_covering(m, sp, "a//b", false, 0, seen_lock, &s), -EINVAL);
}

/* ---- checkpoint --------------------------------------------------------------------------- */

static void test_checkpoint(void **state)
{
    struct store_ctx *c = ctx_of(state);
    uint64_t f = store_mk(c->m, c->space, "f", false);
    (void)store_add_version(c->m, f, 1, "k");
    assert_int_equal(kura_meta_checkpoint(c->m), 0);
    assert_int_equal(kura_meta_checkpoint_try(c->m), 0);
    assert_int_equal(kura_meta_txn_begin(c->m), 0);
    assert_int_equal(kura_meta_checkpoint(c->m), -EINVAL);
    assert_int_equal(kura_meta_checkpoint_try(c->m), -EINVAL);
    kura_meta_txn_rollback(c->m);
    assert_int_equal(kura_meta_checkpoint(c->m), 0);
    (void)store_add_version(c->m, f, 2, "k");
    assert_int_equal(kura_meta_checkpoint_try(c->m), 0);
}

/* A failure inside a caller's transaction leaves nothing behind when it is rolled back; a
 * commit keeps every change, the etag counter included. */
static void test_store_transactions(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    struct store_tag root0 = store_etag(m, c->root);
    assert_int_equal(kura_meta_txn_begin(m), 0);
    (void)store_mk(m, c->space, "in-txn", true);
    assert_int_equal(kura_meta_space_charge(m, c->space, 10), 0);
    kura_meta_txn_rollback(m);
    store_assert_absent(m, c->space, "in-txn");
    assert_int_equal(store_used(m, c->space), 0);
    assert_string_equal(store_etag(m, c->root).s, root0.s);

    assert_int_equal(kura_meta_txn_begin(m), 0);
    uint64_t d = store_mk(m, c->space, "d", true);
    assert_int_equal(kura_meta_node_move(m, d, "x/d"), KURA_ECONFLICT);
    assert_int_equal(kura_meta_txn_commit(m), 0);
    assert_int_equal(store_lookup(m, c->space, "d"), d);
    assert_string_not_equal(store_etag(m, c->root).s, root0.s);
}

int meta_contract_store_data_run(const char *backend)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_versions_paging, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_props, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_locks, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_store_transactions, store_setup, store_teardown),
    };
    char name[64];
    (void)snprintf(name, sizeof(name), "meta-contract-store-data-%s", backend);
    return _cmocka_run_group_tests(name, tests, KURA_ARRAY_SIZE(tests), NULL, NULL);
}
