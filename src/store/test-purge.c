/* Purge, trash and versions against a real SQLite database and blob store in a temporary
 * folder: the certificate and its verification (every kind of tampering refused), the refusal
 * to certify while a reader holds the write-ahead log, access and argument checks, the
 * retention job, and restores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define INSTALL_ID "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

static char dir[64], db_path[128];
static int dfd = -1;
static struct kura_meta *meta;
static struct kura_blob *blob;
static struct kura_store *store;
static struct kura_sign_key *key;
static struct kura_purge_opts opts;
static struct kura_space space;
static const struct kura_actor owner = {"a", 1, false};

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-store-purge-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    (void)snprintf(db_path, sizeof(db_path), "%s/kura.db", dir);
    dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    const struct kura_account a = {.id = "a"}, b = {.id = "b"};
    int r = kura_meta_open("sqlite", db_path, KURA_META_CREATE, &meta);
    r = r == 0 ? kura_meta_migrate(meta) : r;
    r = r == 0 ? kura_meta_account_create(meta, &a) : r;
    r = r == 0 ? kura_meta_account_create(meta, &b) : r;
    r = r == 0 ? kura_blob_fs_open(dfd, &blob) : r;
    uint8_t h[KURA_SHA256_BYTES];
    char key_id[24] = "c4gh:"; /* the id kura gives a key: SHA-256 of the public key, 8 bytes */
    r = r == 0 ? kura_sha256(h, pk, sizeof(pk)) : r;
    kura_hex_encode(key_id + 5, h, 8);
    const struct kura_store_opts o = {meta, blob, NULL, sk, pk, key_id, 2, 0};
    r = r == 0 ? kura_store_new(&o, &store) : r;
    r = r == 0 ? kura_sign_key_generate(&key) : r;
    r = r == 0 ? kura_store_home(store, &owner, &space) : r;
    r = r == 0 && mkdirat(dfd, "certificates", 0700) < 0 ? -errno : r;
    opts = (struct kura_purge_opts){
        .sign_key = key, .install_id = INSTALL_ID, .backup_retention_days = 35};
    opts.certs_dirfd = openat(dfd, "certificates", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    sodium_memzero(sk, sizeof(sk));
    if (r < 0) {
        (void)fprintf(stderr, "setup: %s\n", kura_strerror(r));
    }
    return r == 0 && dfd >= 0 && opts.certs_dirfd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    store = kura_store_free(store);
    blob = kura_blob_close(blob);
    meta = kura_meta_close(meta);
    key = kura_sign_key_free(key);
    (void)close(opts.certs_dirfd);
    (void)close(dfd);
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct kura_node put(const char *path, const char *text)
{
    struct kura_put_opts o = {.size = (int64_t)strlen(text)};
    struct kura_upload *u = NULL;
    struct kura_node n;
    bool created = false;
    assert_int_equal(kura_store_put_begin(store, &owner, &space, path, &o, 1000, &u, NULL), 0);
    assert_int_equal(kura_store_put_write(u, text, strlen(text)), 0);
    assert_int_equal(kura_store_put_commit(u, 1000, &n, &created), 0);
    return n;
}

static struct kura_node trashed(const char *path, const char *text, int64_t at)
{
    struct kura_node n = put(path, text);
    assert_int_equal(kura_store_delete(store, &owner, &space, &n, at, NULL), 0);
    return n;
}

static char first_blob[KURA_META_BLOB_ID_MAX + 1];

static int remember_blob(void *ctx, const struct kura_version *v)
{
    (void)ctx;
    memcpy(first_blob, v->blob, sizeof(first_blob));
    return 0;
}

static int verify(const char *doc, size_t len, const uint8_t *pk)
{
    return kura_store_cert_verify(doc, len, pk, NULL, NULL);
}

/* The document with the first occurrence of from replaced by to. */
static char *edited(const struct kura_purge_cert *c, const char *from, const char *to)
{
    const char *at = strstr(c->doc, from);
    assert_non_null(at);
    size_t head = (size_t)(at - c->doc), flen = strlen(from), tlen = strlen(to);
    char *out = kura_malloc(c->len - flen + tlen + 1);
    assert_non_null(out);
    memcpy(out, c->doc, head);
    memcpy(out + head, to, tlen);
    memcpy(out + head + tlen, at + flen, c->len - head - flen + 1);
    return out;
}

static void test_certificate_and_tampering(void **state)
{
    (void)state;
    struct kura_node n = trashed("report.txt", "some research data", 2000);
    assert_int_equal(kura_meta_version_list(meta, n.id, remember_blob, NULL), 0);
    struct kura_purge_cert c = {0};
    const char *why = NULL;
    assert_int_equal(
        kura_store_purge(store, &owner, &space, n.id, true, "user:a", &opts, NULL, 5000, &c, &why),
        0);
    assert_int_equal(c.keep_err, 0);
    struct kura_blob_stat st;
    assert_int_equal(kura_blob_stat(blob, first_blob, &st), KURA_ENOTFOUND);
    struct kura_node gone;
    assert_int_equal(kura_meta_node_get(meta, n.id, &gone), KURA_ENOTFOUND);

    const uint8_t *pk = kura_sign_key_public(key);
    char id[KURA_PURGE_CERT_ID_MAX + 1];
    assert_int_equal(kura_store_cert_verify(c.doc, c.len, pk, id, &why), 0);
    assert_string_equal(id, c.id);
    assert_int_equal(verify(c.doc, c.len, NULL), 0);
    assert_non_null(strstr(c.doc, "\"install_id\":\"" INSTALL_ID "\""));
    assert_non_null(strstr(c.doc, "\"deleted_at\":\"1970-01-01T00:00:05.000Z\""));
    assert_non_null(
        strstr(c.doc, "\"backups_may_hold_header_until\":\"1970-02-05T00:00:05.000Z\""));
    assert_non_null(strstr(c.doc, "\"trashed_at\":\"1970-01-01T00:00:02.000Z\""));

    /* The copy in certificates/. */
    char name[64];
    (void)snprintf(name, sizeof(name), "%s.json", c.id);
    struct kura_buf copy = KURA_BUF_INIT(KURA_PURGE_CERT_MAX + 2);
    assert_int_equal(kura_file_read_all(opts.certs_dirfd, name, &copy), 0);
    assert_int_equal(copy.len, c.len + 1);
    assert_memory_equal(copy.ptr, c.doc, c.len);
    kura_buf_release(&copy);

    /* Another key; changed values; changed shape. */
    uint8_t other[KURA_SIGN_PUBLIC_KEY_BYTES];
    memcpy(other, pk, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(verify(c.doc, c.len, other), KURA_ECRYPTO);
    static const char *const swaps[][2] = {
        {"\"path\":\"report.txt\"", "\"path\":\"report.txu\""},
        {"\"size\":18", "\"size\":19"},
        {"\"kind\":\"file\"", "\"kind\":\"fold\""},
        {"\"deleted_by\":\"user:a\"", "\"deleted_by\":\"user:b\""},
        {"\"size\":18", "\"size\":18.0"},                       /* a real: no canonical form */
        {"\"version\":1", "\"version\":2"},                     /* unknown version */
        {"\"type\":\"kura-", "\"type\":\"xura-"},               /* not ours */
        {"\"size\":18", "\"size\":18,\"size\":18"},             /* duplicate key */
        {"\"signature\":\"", "\"signature\":\"A"},              /* not 64 bytes of base64 */
        {"\"public_key\":\"", "\"extra\":1,\"public_key\":\""}, /* a fourth member */
        {"{\"certificate\":", "[{\"certificate\":"},            /* not an object */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(swaps); i++) {
        char *bad = edited(&c, swaps[i][0], swaps[i][1]);
        int r = verify(bad, strlen(bad), pk);
        assert_true(r == KURA_ECRYPTO || r == KURA_ESYNTAX);
        assert_int_equal(r, i < 4 ? KURA_ECRYPTO : KURA_ESYNTAX);
        kura_free(bad);
    }
    /* Re-formatting keeps it valid: the signature covers the canonical form. */
    json_t *d = json_loadb(c.doc, c.len, 0, NULL);
    char *pretty = json_dumps(d, JSON_INDENT(3));
    assert_int_equal(verify(pretty, strlen(pretty), pk), 0);
    free(pretty);
    json_decref(d);
    assert_int_equal(verify(c.doc, KURA_PURGE_CERT_MAX + 1, pk), KURA_ETOOBIG);
    assert_int_equal(verify("", 0, pk), KURA_ESYNTAX);
    kura_purge_cert_release(&c);
}

static void test_refusals(void **state)
{
    (void)state;
    struct kura_node live = put("live.txt", "x");
    struct kura_node root;
    assert_int_equal(kura_meta_node_lookup(meta, space.id, "", &root), 0);
    struct kura_purge_cert c = {0};
    const char *why = NULL;
    const struct kura_actor other = {"b", 1, false}, ro = {"a", 1, true};
    assert_int_equal(kura_store_purge(store, &other, &space, live.id, false, "user:b", &opts, NULL,
                                      3000, &c, &why),
                     KURA_EFORBIDDEN);
    assert_int_equal(
        kura_store_purge(store, &ro, &space, live.id, false, "user:a", &opts, NULL, 3000, &c, &why),
        KURA_EFORBIDDEN);
    assert_int_equal(kura_store_purge(store, &owner, &space, root.id, false, "user:a", &opts, NULL,
                                      3000, &c, &why),
                     KURA_EFORBIDDEN);
    assert_int_equal(kura_store_purge(store, &owner, &space, live.id, true, "user:a", &opts, NULL,
                                      3000, &c, &why),
                     KURA_ENOTFOUND);
    assert_int_equal(kura_store_purge(store, &owner, &space, 999999, false, "user:a", &opts, NULL,
                                      3000, &c, &why),
                     KURA_ENOTFOUND);
    assert_int_equal(kura_store_purge(store, &owner, &space, live.id, false, "user:a", &opts,
                                      "../../etc/passwd-0000-0000-0000-000000", 3000, &c, &why),
                     -EINVAL);
    struct kura_space theirs;
    assert_int_equal(kura_store_home(store, &other, &theirs), 0);
    assert_int_equal(kura_store_purge(store, &other, &theirs, live.id, false, "user:b", &opts, NULL,
                                      3000, &c, &why),
                     KURA_ENOTFOUND); /* a's node is not in b's space */
    assert_null(c.doc);
    /* A live file with a given id: trashed, then purged. */
    char id[KURA_PURGE_CERT_ID_MAX + 1];
    assert_int_equal(kura_purge_cert_id_new(id), 0);
    assert_int_equal(kura_store_purge(store, &owner, &space, live.id, false, "cli:op", &opts, id,
                                      3000, &c, &why),
                     0);
    assert_string_equal(c.id, id);
    assert_non_null(strstr(c.doc, "\"trashed_by\":\"cli:op\""));
    kura_purge_cert_release(&c);
}

/* A reader that keeps its snapshot blocks the checkpoint: the purge stands, without a
 * certificate. (Three tries, each waiting for meta's busy timeout.) */
static void test_no_certificate_without_checkpoint(void **state)
{
    (void)state;
    struct kura_node n = trashed("held.txt", "held", 2000);
    assert_int_equal(kura_meta_version_list(meta, n.id, remember_blob, NULL), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN; SELECT count(*) FROM nodes;", NULL, NULL, NULL),
                     SQLITE_OK);
    struct kura_purge_cert c = {0};
    const char *why = NULL;
    assert_int_equal(
        kura_store_purge(store, &owner, &space, n.id, true, "user:a", &opts, NULL, 5000, &c, &why),
        KURA_EBUSY);
    assert_string_equal(why, "wal_checkpoint_failed");
    assert_null(c.doc);
    struct kura_node gone;
    struct kura_blob_stat st;
    assert_int_equal(kura_meta_node_get(meta, n.id, &gone), KURA_ENOTFOUND);
    assert_int_equal(kura_blob_stat(blob, first_blob, &st), KURA_ENOTFOUND);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    (void)sqlite3_close(db);
    assert_int_equal(kura_meta_checkpoint(meta), 0);
}

struct seen {
    unsigned ok, failed;
    char path[64];
};

static void on_purge(void *ctx, const struct kura_node *n, int r, const struct kura_purge_cert *c)
{
    struct seen *s = ctx;
    s->ok += r == 0 && c && c->doc;
    s->failed += r != 0;
    (void)snprintf(s->path, sizeof(s->path), "%.63s", n->path);
}

static void test_retention_job(void **state)
{
    (void)state;
    struct kura_node old = trashed("old.txt", "old", 1000);
    struct kura_node young = trashed("young.txt", "young", 9000);
    struct kura_node back = trashed("back.txt", "back", 1000);
    struct kura_node n;
    assert_int_equal(kura_store_trash_restore(store, &owner, &space, back.id, NULL, &n, NULL), 0);
    struct seen s = {0};
    uint64_t purged = 0;
    assert_int_equal(kura_store_purge_expired(store, &opts, 5000, 10000, 10, on_purge, &s, &purged),
                     0);
    assert_int_equal(purged, 1);
    assert_int_equal(s.ok, 1);
    assert_int_equal(s.failed, 0);
    assert_string_equal(s.path, "old.txt");
    assert_int_equal(kura_meta_node_get(meta, old.id, &n), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_node_get(meta, young.id, &n), 0);
    assert_int_equal(kura_meta_node_get(meta, back.id, &n), 0);
    assert_int_equal(n.trashed_at, 0);
    assert_int_equal(kura_store_purge_expired(store, &opts, 5000, 10000, 0, NULL, NULL, NULL),
                     -EINVAL);
}

static int count_version(void *ctx, const struct kura_version *v)
{
    (void)v;
    ++*(unsigned *)ctx;
    return 0;
}

static uint64_t oldest;

static int remember_oldest(void *ctx, const struct kura_version *v)
{
    (void)ctx;
    oldest = v->id; /* newest first: the last one seen */
    return 0;
}

static void test_restores(void **state)
{
    (void)state;
    struct kura_node t = trashed("t.txt", "first", 2000);
    put("t.txt", "second");
    struct kura_node n;
    assert_int_equal(kura_store_trash_restore(store, &owner, &space, t.id, NULL, &n, NULL),
                     KURA_EEXIST);
    assert_int_equal(kura_store_trash_restore(store, &owner, &space, t.id, "", &n, NULL),
                     KURA_EEXIST);
    assert_int_equal(kura_store_trash_restore(store, &owner, &space, t.id, "no/parent", &n, NULL),
                     KURA_ECONFLICT);
    assert_int_equal(kura_store_trash_restore(store, &owner, &space, t.id, "t2.txt", &n, NULL), 0);
    assert_string_equal(n.path, "t2.txt");
    assert_int_equal(kura_store_trash_restore(store, &owner, &space, t.id, "t3.txt", &n, NULL),
                     KURA_ENOTFOUND); /* live now */

    /* Versions: keep 2 older ones; restoring the oldest copies it as the newest. */
    struct kura_node v = put("v.txt", "1");
    put("v.txt", "22");
    v = put("v.txt", "333");
    assert_int_equal(kura_store_versions(store, &owner, &space, &v, remember_oldest, NULL, NULL),
                     0);
    struct kura_space before;
    assert_int_equal(kura_meta_space_get(meta, space.id, &before), 0);
    assert_int_equal(kura_store_version_restore(store, &owner, &space, oldest, 4000, &n, NULL), 0);
    assert_int_equal(n.size, 1);
    struct kura_space after;
    assert_int_equal(kura_meta_space_get(meta, space.id, &after), 0);
    /* +1 for the restored copy, -1 for the oldest version pruned beyond versions_keep */
    assert_int_equal(after.used_bytes, before.used_bytes + 1 - 1);
    unsigned count = 0;
    assert_int_equal(kura_store_versions(store, &owner, &space, &n, count_version, &count, NULL),
                     0);
    assert_int_equal(count, 3);
    /* The current one again: nothing changes. */
    uint64_t current = n.version;
    assert_int_equal(kura_store_version_restore(store, &owner, &space, current, 4000, &n, NULL), 0);
    assert_int_equal(n.version, current);
    const struct kura_actor other = {"b", 1, false};
    struct kura_space theirs;
    assert_int_equal(kura_store_home(store, &other, &theirs), 0);
    assert_int_equal(kura_store_version_restore(store, &other, &theirs, current, 4000, &n, NULL),
                     KURA_ENOTFOUND);
}

/* Reads a whole file through a download (which keeps its data key, keycache.c). */
static void read_back(const struct kura_node *n, const char *want)
{
    struct kura_download *d = NULL;
    assert_int_equal(kura_store_get_open(store, &owner, &space, n, 0, strlen(want), &d, NULL), 0);
    char buf[64];
    ssize_t got = kura_store_get_read(d, buf, sizeof(buf));
    assert_int_equal(got, (ssize_t)strlen(want));
    assert_memory_equal(buf, want, strlen(want));
    assert_int_equal(kura_store_get_read(d, buf, sizeof(buf)), 0);
    kura_store_get_close(d);
}

/* The data keys kept for downloads go with the headers they came from: pruning an old version
 * and purging forget theirs at once, and a kept key is wiped a minute after the opening. */
static void test_kept_keys_go_with_their_headers(void **state)
{
    (void)state;
    assert_int_equal(kura_store_sweep(store), 0);
    struct kura_node n = put("k.txt", "one");
    read_back(&n, "one");
    read_back(&n, "one"); /* from the cache: same bytes */
    assert_int_equal(kura_store_sweep(store), 1);
    put("k.txt", "two");
    put("k.txt", "three");
    assert_int_equal(kura_store_sweep(store), 1);
    n = put("k.txt", "four"); /* versions_keep 2 (older ones): "one" is pruned */
    assert_int_equal(kura_store_sweep(store), 0);
    read_back(&n, "four");
    assert_int_equal(kura_store_sweep(store), 1);
    assert_int_equal(kura_store_delete(store, &owner, &space, &n, 2000, NULL), 0);
    struct kura_purge_cert c = {0};
    assert_int_equal(
        kura_store_purge(store, &owner, &space, n.id, true, "user:a", &opts, NULL, 5000, &c, NULL),
        0);
    kura_purge_cert_release(&c);
    assert_int_equal(kura_store_sweep(store), 0);

#ifdef KURA_TEST_HOOKS
    n = put("e.txt", "expires");
    read_back(&n, "expires");
    assert_int_equal(kura_store_sweep(store), 1);
    kura_clock_shift_ms(59 * 1000);
    assert_int_equal(kura_store_sweep(store), 1);
    kura_clock_shift_ms(2 * 1000);
    assert_int_equal(kura_store_sweep(store), 0);
    read_back(&n, "expires"); /* opened again */
    assert_int_equal(kura_store_sweep(store), 1);
    kura_clock_shift_ms(-61 * 1000);
#endif
}

#ifdef KURA_FAULT_INJECTION
/* Every allocation of a purge failing in turn: -ENOMEM, nothing leaks, and a purge that failed
 * before its commit left the node in the trash. */
static void test_allocation_failures(void **state)
{
    (void)state;
    bool succeeded = false;
    for (unsigned long n = 1; n < 2000 && !succeeded; n++) {
        struct kura_node t = trashed("dir", "", 2000);
        struct kura_purge_cert c = {0};
        kura_alloc_fail_at(n);
        int r = kura_store_purge(store, &owner, &space, t.id, true, "user:a", &opts, NULL, 5000, &c,
                                 NULL);
        kura_alloc_fail_at(0);
        assert_true(r == 0 || r == -ENOMEM);
        succeeded = r == 0;
        assert_true(r == 0 ? c.doc != NULL : c.doc == NULL);
        kura_purge_cert_release(&c);
        struct kura_node left;
        if (r < 0 && kura_meta_node_get(meta, t.id, &left) == 0) {
            assert_int_not_equal(left.trashed_at, 0);
            assert_int_equal(kura_store_purge(store, &owner, &space, t.id, true, "user:a", &opts,
                                              NULL, 5000, &c, NULL),
                             0);
            kura_purge_cert_release(&c);
        }
    }
    assert_true(succeeded);
}
#endif

int main(void)
{
    json_set_alloc_funcs(kura_malloc, kura_free);
    if (kura_crypto_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_certificate_and_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_keys_go_with_their_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_certificate_without_checkpoint, setup, teardown),
#ifdef KURA_FAULT_INJECTION
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
