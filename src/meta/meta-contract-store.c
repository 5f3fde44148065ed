/* meta-contract-store.c — the contract of meta.h's file store, as cmocka tests: spaces and
 * quotas (atomic against a second handle), the node tree (lookup, children order, moves with
 * names that are LIKE wildcards, the trash and partial restores, subtrees, removal), etags up
 * the tree and across a reopen; the helpers of meta-contract-store.h. Versions, properties and
 * locks are in meta-contract-store-data.c.
 *
 * Part of the store contract suite (meta-contract.h): public API only, a fresh target per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "meta/meta-contract-store.h"

static const struct meta_contract_fixture *fx;

/* A migrated store with accounts "alice" and "bob" and their personal spaces (alice's quota
 * 1000 bytes, bob's unlimited). */
int store_setup(void **state)
{
    struct store_ctx *c = kura_calloc(1, sizeof(*c));
    if (!c || fx->target_new(&c->target) < 0) {
        kura_free(c);
        return -1;
    }
    *state = c;
    struct kura_account alice = {.id = "alice", .roles = KURA_ROLE_USER};
    struct kura_account bob = {.id = "bob", .roles = KURA_ROLE_USER};
    struct kura_space a, b;
    if (kura_meta_open(fx->backend, c->target, KURA_META_CREATE, &c->m) < 0 ||
        kura_meta_migrate(c->m) < 0 || kura_meta_account_create(c->m, &alice) < 0 ||
        kura_meta_account_create(c->m, &bob) < 0 ||
        kura_meta_space_personal(c->m, "alice", 1000, 500, &a) < 0 ||
        kura_meta_space_personal(c->m, "bob", 0, 500, &b) < 0) {
        return -1;
    }
    c->space = a.id;
    c->root = a.root;
    c->other = b.id;
    return 0;
}

int store_teardown(void **state)
{
    struct store_ctx *c = *state;
    c->m = kura_meta_close(c->m);
    fx->target_free(c->target);
    kura_free(c);
    return 0;
}

static int create_rc(struct kura_meta *m, uint64_t space, const char *path, bool folder,
                     uint64_t *ret_id)
{
    struct kura_node n = {.space = space, .folder = folder, .created_at = 1000, .mtime = 2000};
    assert_true(strlen(path) < sizeof(n.path));
    memcpy(n.path, path, strlen(path) + 1);
    return kura_meta_node_create(m, &n, ret_id);
}

uint64_t store_mk(struct kura_meta *m, uint64_t space, const char *path, bool folder)
{
    uint64_t id = 0;
    assert_int_equal(create_rc(m, space, path, folder, &id), 0);
    assert_true(id > 0);
    return id;
}

struct kura_node store_node(struct kura_meta *m, uint64_t id)
{
    struct kura_node n = {0};
    assert_int_equal(kura_meta_node_get(m, id, &n), 0);
    return n;
}

uint64_t store_lookup(struct kura_meta *m, uint64_t space, const char *path)
{
    struct kura_node n;
    assert_int_equal(kura_meta_node_lookup(m, space, path, &n), 0);
    assert_string_equal(n.path, path);
    return n.id;
}

void store_assert_absent(struct kura_meta *m, uint64_t space, const char *path)
{
    struct kura_node n;
    assert_int_equal(kura_meta_node_lookup(m, space, path, &n), KURA_ENOTFOUND);
}

struct store_tag store_etag(struct kura_meta *m, uint64_t id)
{
    struct kura_node n = store_node(m, id);
    struct store_tag t = {0};
    assert_true(n.etag[0] != '\0');
    (void)snprintf(t.s, sizeof(t.s), "%s", n.etag);
    return t;
}

void store_seen_add(struct store_seen *s, const char *text)
{
    int n = snprintf(s->buf + s->len, sizeof(s->buf) - s->len, "%s;", text);
    assert_true(n > 0 && (size_t)n < sizeof(s->buf) - s->len);
    s->len += (size_t)n;
}

int store_seen_node(void *ctx, const struct kura_node *n)
{
    struct store_seen *s = ctx;
    store_seen_add(s, n->path);
    return ++s->calls == (unsigned)s->stop_at ? 7 : 0;
}

static const char *children(struct kura_meta *m, uint64_t folder, struct store_seen *s)
{
    *s = (struct store_seen){0};
    assert_int_equal(kura_meta_node_children(m, folder, store_seen_node, s), 0);
    return s->buf;
}

/* A version of node n: every field derived from k, so that a round trip can be checked. */
struct kura_version store_version_of(uint64_t node_id, unsigned k, const char *key_id)
{
    struct kura_version v = {.node = node_id,
                             .header_len = 124,
                             .size = 100u * k,
                             .segments = k,
                             .created_at = 1000 + k};
    (void)snprintf(v.blob, sizeof(v.blob), "blob-%u", k);
    (void)snprintf(v.key_id, sizeof(v.key_id), "%s", key_id);
    (void)snprintf(v.created_by, sizeof(v.created_by), "user:alice");
    for (size_t i = 0; i < v.header_len; i++) {
        v.header[i] = (uint8_t)(k * 7u + i);
    }
    for (size_t i = 0; i < sizeof(v.sha256); i++) {
        v.sha256[i] = (uint8_t)(k + i);
    }
    memcpy(v.nonce_prefix, (uint8_t[]){(uint8_t)k, 1, 2, 3}, 4);
    return v;
}

uint64_t store_add_version(struct kura_meta *m, uint64_t node_id, unsigned k, const char *key_id)
{
    struct kura_version v = store_version_of(node_id, k, key_id);
    uint64_t id = 0;
    assert_int_equal(kura_meta_version_add(m, &v, &id), 0);
    assert_true(id > 0);
    return id;
}

/* Makes version k of file id current. */
void store_set_current(struct kura_meta *m, uint64_t id, uint64_t ver, unsigned k)
{
    struct kura_version v = store_version_of(id, k, "k");
    assert_int_equal(kura_meta_node_set_content(m, id, ver, v.size, v.sha256, 9000 + k), 0);
}

uint64_t store_used(struct kura_meta *m, uint64_t space)
{
    struct kura_space s;
    assert_int_equal(kura_meta_space_get(m, space, &s), 0);
    return s.used_bytes;
}

/* ---- spaces ------------------------------------------------------------------------------- */

static void test_space_personal(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_space s;
    assert_int_equal(kura_meta_space_get(c->m, c->space, &s), 0);
    assert_int_equal(s.kind, KURA_SPACE_PERSONAL);
    assert_string_equal(s.owner, "alice");
    assert_int_equal(s.root, c->root);
    assert_int_equal(s.quota_bytes, 1000);
    assert_int_equal(s.used_bytes, 0);
    assert_int_equal(s.created_at, 500);
    assert_true(c->other != c->space);

    /* Created once: a second call returns the same space, its quota untouched. */
    struct kura_space again;
    assert_int_equal(kura_meta_space_personal(c->m, "alice", 7, 900, &again), 0);
    assert_memory_equal(&again, &s, sizeof(s));

    /* The root folder came with it. */
    struct kura_node r;
    assert_int_equal(kura_meta_node_lookup(c->m, c->space, "", &r), 0);
    assert_int_equal(r.id, c->root);
    assert_int_equal(r.space, c->space);
    assert_int_equal(r.parent, 0);
    assert_true(r.folder);
    assert_string_equal(r.path, "");
    assert_string_equal(kura_node_name(&r), "");
    assert_int_equal(r.trashed_at, 0);
    assert_int_equal(r.created_at, 500);

    struct kura_space untouched = {.id = 99};
    assert_int_equal(kura_meta_space_personal(c->m, "nobody", 0, 1, &untouched), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_space_personal(c->m, "", 0, 1, &untouched), -EINVAL);
    assert_int_equal(kura_meta_space_personal(c->m, "alice", UINT64_MAX, 1, &untouched), -EINVAL);
    assert_int_equal(kura_meta_space_personal(c->m, "alice", 0, -1, &untouched), -EINVAL);
    assert_int_equal(kura_meta_space_get(c->m, 999, &untouched), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_space_get(c->m, 0, &untouched), -EINVAL);
    assert_int_equal(kura_meta_space_get(c->m, UINT64_MAX, &untouched), -EINVAL);
    assert_int_equal(untouched.id, 99);
}

static void test_space_charge(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    assert_int_equal(kura_meta_space_charge(m, c->space, 600), 0);
    assert_int_equal(kura_meta_space_charge(m, c->space, 400), 0); /* exactly the quota */
    assert_int_equal(store_used(m, c->space), 1000);
    assert_int_equal(kura_meta_space_charge(m, c->space, 1), KURA_EQUOTA); /* one byte over */
    assert_int_equal(store_used(m, c->space), 1000);
    assert_int_equal(kura_meta_space_charge(m, c->space, 0), 0);
    assert_int_equal(kura_meta_space_charge(m, c->space, -100), 0);
    assert_int_equal(kura_meta_space_charge(m, c->space, 101), KURA_EQUOTA);
    assert_int_equal(kura_meta_space_charge(m, c->space, 100), 0);
    assert_int_equal(store_used(m, c->space), 1000);

    /* A lowered quota refuses growth but never a release. */
    assert_int_equal(kura_meta_space_set_quota(m, c->space, 500), 0);
    assert_int_equal(kura_meta_space_charge(m, c->space, 1), KURA_EQUOTA);
    assert_int_equal(kura_meta_space_charge(m, c->space, -200), 0);
    assert_int_equal(store_used(m, c->space), 800);
    /* Releasing more than is used clamps at zero. */
    assert_int_equal(kura_meta_space_charge(m, c->space, -5000), 0);
    assert_int_equal(store_used(m, c->space), 0);
    assert_int_equal(kura_meta_space_charge(m, c->space, INT64_MIN), 0);
    assert_int_equal(store_used(m, c->space), 0);

    /* No limit: anything up to INT64_MAX, never past it. */
    assert_int_equal(kura_meta_space_set_quota(m, c->space, 0), 0);
    assert_int_equal(kura_meta_space_charge(m, c->space, INT64_MAX - 1), 0);
    assert_int_equal(kura_meta_space_charge(m, c->space, 2), KURA_EQUOTA);
    assert_int_equal(kura_meta_space_charge(m, c->space, 1), 0);
    assert_int_equal(store_used(m, c->space), INT64_MAX);

    assert_int_equal(kura_meta_space_charge(m, 999, 1), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_space_charge(m, 999, -1), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_space_set_quota(m, 999, 1), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_space_set_quota(m, c->space, (uint64_t)INT64_MAX + 1), -EINVAL);
    assert_int_equal(kura_meta_space_charge(m, 0, 1), -EINVAL);
}

#define CHARGERS 8
#define CHARGES 40

struct charger {
    pthread_t tid;
    const char *target;
    pthread_barrier_t *start;
    uint64_t space;
    unsigned ok, refused;
};

/* Each worker has its own handle (its own connection, as another process would). */
static void *charger_main(void *arg)
{
    struct charger *w = arg;
    struct kura_meta *m = NULL;
    int r = kura_meta_open(fx->backend, w->target, 0, &m);
    (void)pthread_barrier_wait(w->start);
    for (unsigned i = 0; r == 0 && i < CHARGES; i++) {
        int q = kura_meta_space_charge(m, w->space, 10);
        w->ok += q == 0;
        w->refused += q == KURA_EQUOTA;
    }
    m = kura_meta_close(m);
    return NULL;
}

static void test_space_charge_concurrent(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct charger w[CHARGERS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, CHARGERS), 0);
    for (unsigned i = 0; i < CHARGERS; i++) {
        w[i] = (struct charger){.target = c->target, .start = &start, .space = c->space};
        assert_int_equal(pthread_create(&w[i].tid, NULL, charger_main, &w[i]), 0);
    }
    unsigned ok = 0, refused = 0;
    for (unsigned i = 0; i < CHARGERS; i++) {
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
        ok += w[i].ok;
        refused += w[i].refused;
    }
    (void)pthread_barrier_destroy(&start);
    /* 320 charges of 10 bytes against a quota of 1000: exactly 100 fit, none is lost. */
    assert_int_equal(ok, 100);
    assert_int_equal(refused, CHARGERS * CHARGES - 100);
    assert_int_equal(store_used(c->m, c->space), 1000);
}

/* ---- nodes -------------------------------------------------------------------------------- */

static void test_node_create_lookup(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t a = store_mk(m, c->space, "a", true);
    uint64_t f = store_mk(m, c->space, "a/f.txt", false);
    struct kura_node n = store_node(m, f);
    assert_int_equal(n.id, f);
    assert_int_equal(n.space, c->space);
    assert_int_equal(n.parent, a);
    assert_string_equal(n.path, "a/f.txt");
    assert_string_equal(kura_node_name(&n), "f.txt");
    assert_false(n.folder);
    assert_int_equal(n.version, 0);
    assert_int_equal(n.size, 0);
    assert_int_equal(n.created_at, 1000);
    assert_int_equal(n.mtime, 2000);
    assert_int_equal(n.trashed_at, 0);
    assert_string_equal(n.trashed_by, "");
    assert_int_equal(store_lookup(m, c->space, "a/f.txt"), f);
    assert_int_equal(store_lookup(m, c->space, "a"), a);
    assert_int_equal(store_node(m, a).parent, c->root);

    /* The same path in another space is another node. */
    uint64_t other_a = store_mk(m, c->other, "a", true);
    assert_true(other_a != a);
    store_assert_absent(m, c->other, "a/f.txt");
    store_assert_absent(m, c->space, "b");
    store_assert_absent(m, 999, "a");

    uint64_t id = 12345;
    assert_int_equal(create_rc(m, c->space, "a", false, &id), KURA_EEXIST);
    assert_int_equal(create_rc(m, c->space, "a/f.txt", false, &id), KURA_EEXIST);
    assert_int_equal(create_rc(m, c->space, "x/y", false, &id), KURA_ECONFLICT);
    assert_int_equal(create_rc(m, c->space, "a/f.txt/z", false, &id), KURA_ECONFLICT);
    assert_int_equal(create_rc(m, 999, "q", false, &id), KURA_ENOTFOUND);
    assert_int_equal(create_rc(m, 0, "q", false, &id), -EINVAL);

    /* Paths no store may hold, whatever the store area forgot to check. */
    static const char *const bad[] = {"",       "/a",   "a/",       "a//b",  "a/./b",
                                      "a/..",   ".",    "a\nb",     "a\x01", "\xff",
                                      "a/\x7f", "a\tb", "\xc0\xaf", "a/.",   "../etc"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        print_message("bad path %zu\n", i);
        assert_int_equal(create_rc(m, c->space, bad[i], false, &id), -EINVAL);
    }
    char seg[KURA_META_NAME_MAX + 2];
    memset(seg, 'n', sizeof(seg) - 1);
    seg[sizeof(seg) - 1] = '\0';
    assert_int_equal(create_rc(m, c->space, seg, false, &id), KURA_ETOOBIG);
    seg[sizeof(seg) - 2] = '\0'; /* exactly KURA_META_NAME_MAX */
    (void)store_mk(m, c->space, seg, false);
    struct kura_node full = {.space = c->space, .created_at = 1, .mtime = 1};
    memset(full.path, 'p', sizeof(full.path)); /* no NUL within the field */
    assert_int_equal(kura_meta_node_create(m, &full, &id), KURA_ETOOBIG);
    struct kura_node neg = {.space = c->space, .path = "neg", .created_at = 1, .mtime = -1};
    assert_int_equal(kura_meta_node_create(m, &neg, &id), -EINVAL);
    assert_int_equal(id, 12345);

    assert_int_equal(kura_meta_node_lookup(m, c->space, "a/", &n), -EINVAL);
    assert_int_equal(kura_meta_node_lookup(m, c->space, "a//f.txt", &n), -EINVAL);
    assert_int_equal(kura_meta_node_get(m, 999, &n), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_get(m, 0, &n), -EINVAL);
    assert_int_equal(n.id, f); /* untouched by the failures */
}

static void test_node_children(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t d = store_mk(m, c->space, "d", true);
    /* Created out of order; listed bytewise by name ("B" < "a" < "a b" < "z" < "ä"). */
    static const char *const names[] = {"d/z", "d/\xc3\xa4", "d/a b", "d/B", "d/a"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        (void)store_mk(m, c->space, names[i], i % 2 == 0);
    }
    (void)store_mk(m, c->space, "d/a/deeper", false); /* a grandchild: not listed */
    (void)store_mk(m, c->space, "d2", false);         /* a sibling whose path extends "d" */
    struct store_seen s;
    assert_string_equal(children(m, d, &s), "d/B;d/a;d/a b;d/z;d/\xc3\xa4;");
    assert_string_equal(children(m, c->root, &s), "d;d2;");

    /* A trashed child is gone from the listing; a trashed folder lists nothing. */
    assert_int_equal(kura_meta_node_trash(m, store_lookup(m, c->space, "d/a b"), "user:alice", 5),
                     0);
    assert_string_equal(children(m, d, &s), "d/B;d/a;d/z;d/\xc3\xa4;");
    uint64_t a = store_lookup(m, c->space, "d/a");
    assert_int_equal(kura_meta_node_trash(m, d, "user:alice", 6), 0);
    assert_string_equal(children(m, d, &s), "");
    assert_int_equal(kura_meta_node_children(m, a, store_seen_node, &s), 0);

    /* fn's non-zero return stops the listing and is returned. */
    s = (struct store_seen){.stop_at = 1};
    assert_int_equal(kura_meta_node_children(m, c->root, store_seen_node, &s), 7);
    assert_int_equal(s.calls, 1);
    assert_int_equal(
        kura_meta_node_children(m, store_lookup(m, c->space, "d2"), store_seen_node, &s), -ENOTDIR);
    assert_int_equal(kura_meta_node_children(m, 999, store_seen_node, &s), KURA_ENOTFOUND);
}

/* A large folder (more than a backend's chunk, if it reads in chunks) changing while it is
 * listed: every name at most once, in order, and a name added behind the listing's position is
 * not seen (whether changes ahead are seen depends on how far the backend has read). */
struct big_listing {
    struct kura_meta *m;
    uint64_t space;
    bool change; /* at the 40th name */
    unsigned calls;
    char last[KURA_META_PATH_MAX + 1];
};

static int big_child(void *ctx, const struct kura_node *n)
{
    struct big_listing *b = ctx;
    assert_true(strcmp(n->path, b->last) > 0); /* strictly in order: nothing twice */
    (void)snprintf(b->last, sizeof(b->last), "%s", n->path);
    if (++b->calls == 40 && b->change) {
        (void)store_mk(b->m, b->space, "big/a-new", false);
        (void)store_mk(b->m, b->space, "big/f-zz-new", false);
        assert_int_equal(
            kura_meta_node_trash(b->m, store_lookup(b->m, b->space, "big/f-099"), "user:a", 9), 0);
    }
    return 0;
}

static void test_node_children_large_and_changing(void **state)
{
    struct store_ctx *c = ctx_of(state);
    uint64_t big = store_mk(c->m, c->space, "big", true);
    for (int i = 0; i < 100; i++) {
        char name[32];
        (void)snprintf(name, sizeof(name), "big/f-%03d", i);
        (void)store_mk(c->m, c->space, name, i % 7 == 0);
    }
    struct big_listing b = {.m = c->m, .space = c->space, .change = true};
    assert_int_equal(kura_meta_node_children(c->m, big, big_child, &b), 0);
    assert_true(b.calls >= 99 && b.calls <= 101);
    assert_string_not_equal(b.last, "big/a-new");
    /* Listed again, as it is now: a-new first, f-099 gone, f-zz-new last. */
    b = (struct big_listing){.m = c->m, .space = c->space};
    assert_int_equal(kura_meta_node_children(c->m, big, big_child, &b), 0);
    assert_int_equal(b.calls, 101);
    assert_string_equal(b.last, "big/f-zz-new");
}

static void test_etags(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t a = store_mk(m, c->space, "a", true);
    uint64_t b = store_mk(m, c->space, "a/b", true);
    uint64_t f = store_mk(m, c->space, "a/b/f", false);
    uint64_t sib = store_mk(m, c->space, "a/sib", true);
    uint64_t other = store_mk(m, c->space, "other", true);
    uint64_t v1 = store_add_version(m, f, 1, "k");

    /* Opaque, but "<id hex>-<counter hex>" with the id first. */
    char prefix[32];
    (void)snprintf(prefix, sizeof(prefix), "%llx-", (unsigned long long)f);
    assert_memory_equal(store_etag(m, f).s, prefix, strlen(prefix));

    struct store_tag root0 = store_etag(m, c->root), a0 = store_etag(m, a), b0 = store_etag(m, b),
                     f0 = store_etag(m, f);
    struct store_tag sib0 = store_etag(m, sib), other0 = store_etag(m, other);
    store_set_current(m, f, v1, 1);
    struct store_tag root1 = store_etag(m, c->root), a1 = store_etag(m, a), b1 = store_etag(m, b),
                     f1 = store_etag(m, f);
    assert_string_not_equal(f1.s, f0.s);
    assert_string_not_equal(b1.s, b0.s); /* the parent */
    assert_string_not_equal(a1.s, a0.s); /* the grandparent */
    assert_string_not_equal(root1.s, root0.s);
    assert_string_equal(store_etag(m, sib).s, sib0.s); /* an unrelated sibling keeps its etag */
    assert_string_equal(store_etag(m, other).s, other0.s);

    /* A new node beneath refreshes its ancestors only. */
    (void)store_mk(m, c->space, "a/sib/new", false);
    assert_string_not_equal(store_etag(m, sib).s, sib0.s);
    assert_string_not_equal(store_etag(m, a).s, a1.s);
    assert_string_equal(store_etag(m, b).s, b1.s);
    assert_string_equal(store_etag(m, f).s, f1.s);

    /* mtime alone touches no etag. */
    struct store_tag f2 = store_etag(m, f), root2 = store_etag(m, c->root);
    assert_int_equal(kura_meta_node_set_mtime(m, f, 123), 0);
    assert_int_equal(store_node(m, f).mtime, 123);
    assert_string_equal(store_etag(m, f).s, f2.s);
    assert_string_equal(store_etag(m, c->root).s, root2.s);

    /* Every change gives the node an etag it never had, also after the store is reopened. */
    struct store_tag seen[8];
    seen[0] = f0;
    seen[1] = f1;
    for (unsigned i = 2; i < KURA_ARRAY_SIZE(seen); i++) {
        if (i == 5) {
            c->m = kura_meta_close(c->m);
            assert_int_equal(kura_meta_open(fx->backend, c->target, 0, &c->m), 0);
            m = c->m;
        }
        store_set_current(m, f, v1, 1);
        seen[i] = store_etag(m, f);
        for (unsigned j = 0; j < i; j++) {
            assert_string_not_equal(seen[i].s, seen[j].s);
        }
    }
    assert_int_equal(kura_meta_node_set_mtime(m, 999, 1), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_set_mtime(m, f, -1), -EINVAL);
}

/* Folder "src" with descendants whose names are LIKE wildcards, beside folders that a LIKE
 * pattern made from those names would also match. */
static void test_node_move(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t src = store_mk(m, c->space, "src", true);
    uint64_t pct = store_mk(m, c->space, "src/a%", true);
    uint64_t under = store_mk(m, c->space, "src/a%/_x.txt", false);
    (void)store_mk(m, c->space, "src/a_", true);
    (void)store_mk(m, c->space, "src/ab", true);
    (void)store_mk(m, c->space, "src/ab/keep.txt", false);
    (void)store_mk(m, c->space, "src/a_/deep", true);
    (void)store_mk(m, c->space, "src/a_/deep/f", false);
    uint64_t srcx = store_mk(m, c->space, "srcX", true);
    (void)store_mk(m, c->space, "srcX/f", false);
    uint64_t dst = store_mk(m, c->space, "dst", true);
    uint64_t bystander = store_mk(m, c->space, "bystander", true);

    /* Renaming "src/a%" must move "src/a%/..." and nothing of "src/ab/...". */
    struct store_tag src0 = store_etag(m, src), dst0 = store_etag(m, dst),
                     by0 = store_etag(m, bystander);
    assert_int_equal(kura_meta_node_move(m, pct, "src/p%q"), 0);
    assert_int_equal(store_lookup(m, c->space, "src/p%q/_x.txt"), under);
    (void)store_lookup(m, c->space, "src/ab/keep.txt");
    store_assert_absent(m, c->space, "src/a%");
    store_assert_absent(m, c->space, "src/a%/_x.txt");
    assert_string_not_equal(store_etag(m, src).s, src0.s);

    /* "src/a_" moved into another folder: "src/ab" (which LIKE 'src/a_%' matches) stays. */
    uint64_t us = store_lookup(m, c->space, "src/a_");
    struct store_tag src1 = store_etag(m, src), us0 = store_etag(m, us);
    assert_int_equal(kura_meta_node_move(m, us, "dst/u_s"), 0);
    assert_int_equal(store_node(m, us).parent, dst);
    assert_string_equal(store_node(m, store_lookup(m, c->space, "dst/u_s/deep/f")).path,
                        "dst/u_s/deep/f");
    store_assert_absent(m, c->space, "src/a_/deep/f");
    (void)store_lookup(m, c->space, "src/ab/keep.txt");
    /* The node, the old parent chain and the new one: fresh etags; a bystander: none. */
    assert_string_not_equal(store_etag(m, us).s, us0.s);
    assert_string_not_equal(store_etag(m, src).s, src1.s);
    assert_string_not_equal(store_etag(m, dst).s, dst0.s);
    assert_string_equal(store_etag(m, bystander).s, by0.s);

    /* A whole folder, then names in other scripts (substr counts characters). */
    assert_int_equal(kura_meta_node_move(m, src, "dst/\xe6\x97\xa5\xe6\x9c\xac"), 0);
    (void)store_lookup(m, c->space, "dst/\xe6\x97\xa5\xe6\x9c\xac/p%q/_x.txt");
    assert_int_equal(kura_meta_node_move(m, src, "s"), 0);
    assert_int_equal(store_lookup(m, c->space, "s/p%q/_x.txt"), under);
    (void)store_lookup(m, c->space, "s/ab/keep.txt");
    (void)store_lookup(m, c->space, "srcX/f"); /* a sibling whose name extends "src" */
    assert_int_equal(store_node(m, src).parent, c->root);

    /* Refusals, each changing nothing. */
    assert_int_equal(kura_meta_node_move(m, src, "s"), -EINVAL);      /* onto itself */
    assert_int_equal(kura_meta_node_move(m, src, "s/ab/x"), -EINVAL); /* inside itself */
    assert_int_equal(kura_meta_node_move(m, src, "srcX"), KURA_EEXIST);
    assert_int_equal(kura_meta_node_move(m, src, "none/s"), KURA_ECONFLICT);
    assert_int_equal(kura_meta_node_move(m, src, "srcX/f/s"), KURA_ECONFLICT); /* a file */
    assert_int_equal(kura_meta_node_move(m, c->root, "r"), -EINVAL);
    assert_int_equal(kura_meta_node_move(m, 999, "r"), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_move(m, src, "a//b"), -EINVAL);
    assert_int_equal(kura_meta_node_move(m, src, ""), -EINVAL);
    assert_int_equal(kura_meta_node_trash(m, srcx, "user:alice", 9), 0);
    assert_int_equal(kura_meta_node_move(m, srcx, "y"), KURA_ENOTFOUND); /* trashed */
    assert_int_equal(store_lookup(m, c->space, "s/p%q/_x.txt"), under);
}

/* A move that would push a descendant's path past KURA_META_PATH_MAX is refused whole. */
static void test_node_move_too_long(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    char path[KURA_META_PATH_MAX + 1] = "p";
    uint64_t p = store_mk(m, c->space, "p", true);
    size_t len = 1;
    for (unsigned i = 0; i < 16; i++) { /* "p" + 16 * ("/" + 250 bytes): 4017 bytes */
        path[len++] = '/';
        memset(path + len, (char)('a' + i), 250);
        len += 250;
        path[len] = '\0';
        (void)store_mk(m, c->space, path, i < 15);
    }
    char name[101];
    memset(name, 'N', 100);
    name[100] = '\0';
    assert_int_equal(kura_meta_node_move(m, p, name), KURA_ETOOBIG);
    (void)store_lookup(m, c->space, path);
    name[80] = '\0'; /* 4017 - 1 + 80 = 4096: fits exactly */
    assert_int_equal(kura_meta_node_move(m, p, name), 0);
    memmove(path + 80, path + 1, len); /* the deepest path, now under the new name */
    memcpy(path, name, 80);
    assert_int_equal(strlen(path), KURA_META_PATH_MAX);
    (void)store_lookup(m, c->space, path);
}

static void test_trash_restore(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t t = store_mk(m, c->space, "t", true);
    uint64_t ta = store_mk(m, c->space, "t/a", true);
    uint64_t tab = store_mk(m, c->space, "t/a/b.txt", false);
    uint64_t tc = store_mk(m, c->space, "t/c", false);
    uint64_t tx = store_mk(m, c->space, "tx", false); /* shares a prefix, not a parent */

    struct store_tag root0 = store_etag(m, c->root);
    assert_int_equal(kura_meta_node_trash(m, t, "user:alice", 5000), 0);
    assert_string_not_equal(store_etag(m, c->root).s, root0.s);
    store_assert_absent(m, c->space, "t");
    store_assert_absent(m, c->space, "t/a");
    store_assert_absent(m, c->space, "t/a/b.txt");
    assert_int_equal(store_lookup(m, c->space, "tx"), tx);
    struct kura_node n = store_node(m, tab); /* found by id, marked, at its old path */
    assert_int_equal(n.trashed_at, 5000);
    assert_string_equal(n.trashed_by, "user:alice");
    assert_string_equal(n.path, "t/a/b.txt");

    /* The trash lists the top of the subtree only. */
    struct store_seen s = {0};
    assert_int_equal(kura_meta_trash_list(m, c->space, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "t;");
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_trash_list(m, c->other, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "");

    /* The freed path can be used again; restoring onto it is then refused. */
    uint64_t t2 = store_mk(m, c->space, "t", true);
    assert_true(t2 != t);
    assert_int_equal(kura_meta_node_restore(m, t, "t"), KURA_EEXIST);
    assert_int_equal(kura_meta_node_restore(m, t, "gone/t"), KURA_ECONFLICT);
    assert_int_equal(kura_meta_node_restore(m, t, "tx/t"), KURA_ECONFLICT);
    struct store_tag t2tag = store_etag(m, t2);
    assert_int_equal(kura_meta_node_restore(m, t, "t/old"), 0);
    assert_string_not_equal(store_etag(m, t2).s, t2tag.s);
    assert_int_equal(store_lookup(m, c->space, "t/old/a/b.txt"), tab);
    assert_int_equal(store_lookup(m, c->space, "t/old/a"), ta);
    assert_int_equal(store_lookup(m, c->space, "t/old/c"), tc);
    n = store_node(m, tab);
    assert_int_equal(n.trashed_at, 0);
    assert_string_equal(n.trashed_by, "");
    assert_int_equal(store_node(m, t).parent, t2);
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_trash_list(m, c->space, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "");

    /* A part of a trashed folder can be restored alone; the rest stays in the trash. */
    assert_int_equal(kura_meta_node_trash(m, t, "user:bob", 6000), 0);
    assert_int_equal(kura_meta_node_restore(m, tab, "b.txt"), 0);
    assert_int_equal(store_lookup(m, c->space, "b.txt"), tab);
    store_assert_absent(m, c->space, "t/old/a");
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_trash_list(m, c->space, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "t/old;");
    assert_int_equal(store_node(m, tc).trashed_at, 6000);

    assert_int_equal(kura_meta_node_restore(m, tab, "b2"), KURA_ENOTFOUND); /* live */
    assert_int_equal(kura_meta_node_restore(m, 999, "b2"), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_trash(m, t, "user:alice", 7000), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_trash(m, c->root, "user:alice", 7000), -EINVAL);
    assert_int_equal(kura_meta_node_trash(m, tx, "", 7000), -EINVAL);
    assert_int_equal(kura_meta_node_trash(m, tx, "user:alice", 0), -EINVAL);
    assert_int_equal(kura_meta_node_trash(m, 999, "user:alice", 7000), KURA_ENOTFOUND);
    uint8_t sha[32] = {0};
    assert_int_equal(kura_meta_node_set_content(m, tc, 1, 0, sha, 1), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_set_mtime(m, tc, 1), KURA_ENOTFOUND);
}

static void test_trash_order_and_subtree(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t n = store_mk(m, c->space, "n", true);
    uint64_t inner = store_mk(m, c->space, "n/inner", true);
    uint64_t leaf = store_mk(m, c->space, "n/inner/leaf", false);
    uint64_t f = store_mk(m, c->space, "n/f", false);
    uint64_t bob = store_mk(m, c->other, "b", false);
    /* A subtree trashed earlier inside a later one: both are top nodes of the trash. */
    assert_int_equal(kura_meta_node_trash(m, inner, "user:alice", 100), 0);
    assert_int_equal(kura_meta_node_trash(m, bob, "user:bob", 150), 0);
    assert_int_equal(kura_meta_node_trash(m, n, "user:alice", 200), 0);
    assert_int_equal(store_node(m, leaf).trashed_at, 100);
    assert_int_equal(store_node(m, f).trashed_at, 200);
    struct store_seen s = {0};
    assert_int_equal(kura_meta_trash_list(m, c->space, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "n/inner;n;"); /* oldest first */
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_trash_expired(m, 200, store_seen_node, &s), 0); /* every space */
    assert_string_equal(s.buf, "n/inner;b;");
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_trash_expired(m, 100, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "");

    /* The subtree by parent links, deepest first, the earlier-trashed part included. */
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_node_subtree(m, n, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "n/inner/leaf;n/f;n/inner;n;");
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_node_subtree(m, leaf, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "n/inner/leaf;");
    assert_int_equal(kura_meta_node_subtree(m, 999, store_seen_node, &s), KURA_ENOTFOUND);

    /* A restore of the later subtree leaves the earlier one in the trash. */
    assert_int_equal(kura_meta_node_restore(m, n, "n"), 0);
    store_assert_absent(m, c->space, "n/inner");
    (void)store_lookup(m, c->space, "n/f");
    s = (struct store_seen){0};
    assert_int_equal(kura_meta_trash_list(m, c->space, store_seen_node, &s), 0);
    assert_string_equal(s.buf, "n/inner;");
    assert_int_equal(kura_meta_node_restore(m, inner, "n/inner"), 0);
    assert_int_equal(store_lookup(m, c->space, "n/inner/leaf"), leaf);
}

static int no_prop(void *ctx, const struct kura_prop *p)
{
    (void)ctx;
    (void)p;
    return -1;
}

static void test_node_remove(void **state)
{
    struct store_ctx *c = ctx_of(state);
    struct kura_meta *m = c->m;
    uint64_t d = store_mk(m, c->space, "d", true);
    uint64_t f = store_mk(m, c->space, "d/f", false);
    uint64_t v1 = store_add_version(m, f, 1, "k");
    uint64_t v2 = store_add_version(m, f, 2, "k");
    store_set_current(m, f, v2, 2);
    assert_int_equal(kura_meta_prop_set(m, f, "urn:x", "p", "<v/>"), 0);

    assert_int_equal(kura_meta_node_remove(m, d), KURA_ECONFLICT);     /* a child */
    assert_int_equal(kura_meta_node_remove(m, f), KURA_ECONFLICT);     /* versions */
    assert_int_equal(kura_meta_version_remove(m, v2), KURA_ECONFLICT); /* current, live */
    assert_int_equal(kura_meta_node_remove(m, c->root), -EINVAL);
    assert_int_equal(kura_meta_node_remove(m, 999), KURA_ENOTFOUND);

    /* A purge: trash, then versions one by one (the current one too), then the nodes. */
    assert_int_equal(kura_meta_node_trash(m, d, "user:alice", 5), 0);
    assert_int_equal(kura_meta_node_remove(m, d), KURA_ECONFLICT); /* a trashed child */
    assert_int_equal(kura_meta_version_remove(m, v1), 0);
    assert_int_equal(kura_meta_node_remove(m, f), KURA_ECONFLICT);
    assert_int_equal(kura_meta_version_remove(m, v2), 0);
    struct kura_node n = store_node(m, f);
    assert_int_equal(n.version, 0);
    assert_int_equal(n.size, 0);
    assert_int_equal(kura_meta_node_remove(m, f), 0);
    assert_int_equal(kura_meta_node_remove(m, d), 0);
    assert_int_equal(kura_meta_node_get(m, f, &n), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_prop_list(m, f, no_prop, NULL), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_remove(m, f), KURA_ENOTFOUND);

    /* A live file without versions is removed directly; its parent's etag moves. */
    uint64_t g = store_mk(m, c->space, "g", false);
    struct store_tag root0 = store_etag(m, c->root);
    assert_int_equal(kura_meta_node_remove(m, g), 0);
    assert_string_not_equal(store_etag(m, c->root).s, root0.s);
    store_assert_absent(m, c->space, "g");
    /* Ids are never handed out twice. */
    assert_true(store_mk(m, c->space, "g", false) > g);
}

int meta_contract_store_run(const struct meta_contract_fixture *f)
{
    fx = f;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_space_personal, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_space_charge, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_space_charge_concurrent, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_node_create_lookup, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_node_children, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_node_children_large_and_changing, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_etags, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_node_move, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_node_move_too_long, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_trash_restore, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_trash_order_and_subtree, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_node_remove, store_setup, store_teardown),
    };
    char name[64];
    (void)snprintf(name, sizeof(name), "meta-contract-store-%s", f->backend);
    int failed = _cmocka_run_group_tests(name, tests, KURA_ARRAY_SIZE(tests), NULL, NULL);
    return failed + meta_contract_store_data_run(f->backend);
}
