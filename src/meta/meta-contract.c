/* meta-contract.c — the backend-independent contract of meta.h, as cmocka tests.
 *
 * Every test gets a fresh target from the fixture. Only the public API is used; see
 * meta-contract.h for the two fixture hooks that reach around it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "meta/meta-contract.h"

static const struct meta_contract_fixture *fx;

struct ctx {
    char *target;
};

static int setup(void **state)
{
    struct ctx *c = kura_calloc(1, sizeof(*c));
    if (!c || fx->target_new(&c->target) < 0) {
        kura_free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    fx->target_free(c->target);
    kura_free(c);
    return 0;
}

static struct kura_meta *open_db(struct ctx *c, unsigned flags)
{
    struct kura_meta *m = NULL;
    assert_int_equal(kura_meta_open(fx->backend, c->target, flags, &m), 0);
    assert_non_null(m);
    return m;
}

static struct kura_meta *open_migrated(struct ctx *c)
{
    struct kura_meta *m = open_db(c, KURA_META_CREATE);
    assert_int_equal(kura_meta_migrate(m), 0);
    return m;
}

static char *dump(struct ctx *c)
{
    char *d = NULL;
    assert_int_equal(fx->dump(c->target, &d), 0);
    assert_non_null(d);
    return d;
}

/* ---- open and schema ---------------------------------------------------------------------- */

static void test_open_flags(void **state)
{
    struct ctx *c = *state;
    struct kura_meta *m = NULL; /* must stay untouched on failure */
    assert_int_equal(
        kura_meta_open(fx->backend, c->target, KURA_META_CREATE | KURA_META_READONLY, &m), -EINVAL);
    assert_int_equal(kura_meta_open(fx->backend, c->target, 0x100, &m), -EINVAL);
    assert_int_equal(kura_meta_open("no-such-backend", c->target, KURA_META_CREATE, &m),
                     KURA_EUNSUPPORTED);
    assert_null(m);
    m = open_db(c, KURA_META_CREATE);
    assert_string_equal(kura_meta_backend(m), fx->backend);
    m = kura_meta_close(m);
    assert_null(m);
    assert_null(kura_meta_close(NULL));
}

static void test_new_database_is_pending(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_db(c, KURA_META_CREATE);
    unsigned v = 99;
    assert_int_equal(kura_meta_schema_version(m, &v), 0);
    assert_int_equal(v, 0);
    enum kura_meta_schema_state st = KURA_META_SCHEMA_CURRENT;
    assert_int_equal(kura_meta_check_schema(m, &st), KURA_ESCHEMA);
    assert_int_equal(st, KURA_META_SCHEMA_PENDING);
    assert_int_equal(kura_meta_check_schema(m, NULL), KURA_ESCHEMA);
}

static void test_migrate_to_latest(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_db(c, KURA_META_CREATE);
    assert_int_equal(kura_meta_migrate(m), 0);
    unsigned v = 0;
    assert_int_equal(kura_meta_schema_version(m, &v), 0);
    assert_int_equal(v, KURA_META_SCHEMA_LATEST);
    enum kura_meta_schema_state st = KURA_META_SCHEMA_NEWER;
    assert_int_equal(kura_meta_check_schema(m, &st), 0);
    assert_int_equal(st, KURA_META_SCHEMA_CURRENT);
    uint64_t n = 99;
    assert_int_equal(kura_meta_account_count(m, &n), 0);
    assert_int_equal(n, 0);
}

static void test_migrate_twice_is_noop(void **state)
{
    struct ctx *c = *state;
    struct kura_meta *m = open_migrated(c);
    m = kura_meta_close(m);
    char *before = dump(c);

    m = open_db(c, 0);
    assert_int_equal(kura_meta_migrate(m), 0);
    assert_int_equal(kura_meta_migrate(m), 0);
    unsigned v = 0;
    assert_int_equal(kura_meta_schema_version(m, &v), 0);
    assert_int_equal(v, KURA_META_SCHEMA_LATEST);
    m = kura_meta_close(m);

    char *after = dump(c);
    assert_string_equal(before, after);
    kura_free(before);
    kura_free(after);
}

static void test_newer_schema_is_refused_untouched(void **state)
{
    struct ctx *c = *state;
    struct kura_meta *m = open_migrated(c);
    m = kura_meta_close(m);
    assert_int_equal(fx->force_version(c->target, KURA_META_SCHEMA_LATEST + 1), 0);
    char *before = dump(c);

    m = open_db(c, 0);
    unsigned v = 0;
    assert_int_equal(kura_meta_schema_version(m, &v), 0);
    assert_int_equal(v, KURA_META_SCHEMA_LATEST + 1);
    enum kura_meta_schema_state st = KURA_META_SCHEMA_CURRENT;
    assert_int_equal(kura_meta_check_schema(m, &st), KURA_ESCHEMA);
    assert_int_equal(st, KURA_META_SCHEMA_NEWER);
    assert_int_equal(kura_meta_migrate(m), KURA_ESCHEMA);
    assert_int_equal(kura_meta_migrate(m), KURA_ESCHEMA);
    m = kura_meta_close(m);

    char *after = dump(c);
    assert_string_equal(before, after);
    kura_free(before);
    kura_free(after);
}

static void test_readonly(void **state)
{
    struct ctx *c = *state;
    struct kura_meta *m = open_migrated(c);
    struct kura_account a = {.id = "alice", .roles = KURA_ROLE_USER};
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    assert_int_equal(kura_meta_install_set(m, "install_id", "abc"), 0);
    m = kura_meta_close(m);

    m = open_db(c, KURA_META_READONLY);
    assert_int_equal(kura_meta_check_schema(m, NULL), 0);
    assert_int_equal(kura_meta_migrate(m), 0); /* nothing pending: fine even read-only */
    struct kura_account got = {0};
    assert_int_equal(kura_meta_account_get(m, "alice", &got), 0);
    assert_string_equal(got.id, "alice");
    kura_account_release(&got);
    char *v = NULL;
    assert_int_equal(kura_meta_install_get(m, "install_id", &v), 0);
    assert_string_equal(v, "abc");
    kura_free(v);
    struct kura_account b = {.id = "bob"};
    assert_int_equal(kura_meta_account_create(m, &b), -EROFS);
    assert_int_equal(kura_meta_install_set(m, "install_id", "x"), -EROFS);
    m = kura_meta_close(m);
}

/* ---- install properties ------------------------------------------------------------------- */

static void test_install_properties(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);
    char *v = (char *)"untouched";
    assert_int_equal(kura_meta_install_get(m, "install_id", &v), KURA_ENOTFOUND);
    assert_string_equal(v, "untouched");

    assert_int_equal(kura_meta_install_set(m, "install_id", "0f3a"), 0);
    assert_int_equal(kura_meta_install_set(m, "created_at", "2026-01-02T03:04:05.006Z"), 0);
    assert_int_equal(kura_meta_install_get(m, "install_id", &v), 0);
    assert_string_equal(v, "0f3a");
    kura_free(v);
    assert_int_equal(kura_meta_install_set(m, "install_id", "replaced\twith tab, 日本"), 0);
    assert_int_equal(kura_meta_install_get(m, "install_id", &v), 0);
    assert_string_equal(v, "replaced\twith tab, 日本");
    kura_free(v);
    assert_int_equal(kura_meta_install_set(m, "empty", ""), 0);
    assert_int_equal(kura_meta_install_get(m, "empty", &v), 0);
    assert_string_equal(v, "");
    kura_free(v);

    char long_key[KURA_META_KEY_MAX + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_int_equal(kura_meta_install_set(m, "", "x"), -EINVAL);
    assert_int_equal(kura_meta_install_set(m, "a\nb", "x"), -EINVAL);
    assert_int_equal(kura_meta_install_set(m, "k", "line\nbreak"), -EINVAL);
    assert_int_equal(kura_meta_install_set(m, "k", "\xff"), -EINVAL);
    assert_int_equal(kura_meta_install_set(m, "k", NULL), -EINVAL);
    assert_int_equal(kura_meta_install_set(m, long_key, "x"), KURA_ETOOBIG);
    assert_int_equal(kura_meta_install_get(m, long_key, &v), KURA_ETOOBIG);
    assert_int_equal(kura_meta_install_get(m, "k", &v), KURA_ENOTFOUND);
}

/* ---- accounts ----------------------------------------------------------------------------- */

static const char full_hash[] = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA";

static struct kura_account full_account(const char *id)
{
    return (struct kura_account){
        .id = id,
        .display_name = "山田 花子 (Hanako Yamada)",
        .email = "hanako@example.org",
        .affiliation = "Dept. of Genomics, Example University",
        .phone = "+81 3-1234-5678",
        .status = KURA_ACCOUNT_STATUS_LOCKED,
        .valid_from = 1767225600000,
        .valid_until = 1798761599999,
        .password_hash = full_hash,
        .password_changed_at = 1767225600123,
        .must_change_password = true,
        .roles = KURA_ROLE_USER | KURA_ROLE_PI | KURA_ROLE_COMMITTEE | KURA_ROLE_HELPDESK |
                 KURA_ROLE_OPERATOR | KURA_ROLE_ADMIN | KURA_ROLE_AUDITOR,
        .created_at = 1767225600001,
        .updated_at = 1767225600002,
    };
}

static void assert_account_equal(const struct kura_account *a, const struct kura_account *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->display_name, b->display_name ? b->display_name : "");
    assert_string_equal(a->email, b->email ? b->email : "");
    assert_string_equal(a->affiliation, b->affiliation ? b->affiliation : "");
    assert_string_equal(a->phone, b->phone ? b->phone : "");
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->valid_from, b->valid_from);
    assert_int_equal(a->valid_until, b->valid_until);
    if (b->password_hash) {
        assert_string_equal(a->password_hash, b->password_hash);
    } else {
        assert_null(a->password_hash);
    }
    assert_int_equal(a->password_changed_at, b->password_changed_at);
    assert_int_equal(a->must_change_password, b->must_change_password);
    assert_int_equal(a->roles, b->roles);
}

static void test_account_round_trip(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);

    struct kura_account in = full_account("hanako.yamada");
    assert_int_equal(kura_meta_account_create(m, &in), 0);
    struct kura_account out = {0};
    assert_int_equal(kura_meta_account_get(m, "hanako.yamada", &out), 0);
    assert_account_equal(&out, &in);
    assert_int_equal(out.created_at, in.created_at);
    assert_int_equal(out.updated_at, in.updated_at);
    kura_account_release(&out);
    assert_null(out.id);
    kura_account_release(&out); /* a released record may be released again */

    /* Minimal record: NULL text is "", no password, times unset, created_at defaults to now. */
    int64_t before = kura_clock_wall_ms();
    struct kura_account min = {.id = "min", .status = KURA_ACCOUNT_STATUS_ACTIVE};
    assert_int_equal(kura_meta_account_create(m, &min), 0);
    assert_int_equal(kura_meta_account_get(m, "min", &out), 0);
    assert_account_equal(&out, &min);
    assert_true(out.created_at >= before && out.created_at <= kura_clock_wall_ms());
    assert_int_equal(out.updated_at, out.created_at);
    kura_account_release(&out);

    /* Each single role survives alone, so no bit is confused with another. */
    for (unsigned bit = 1; bit <= KURA_ROLE_ALL; bit <<= 1) {
        char id[32];
        (void)snprintf(id, sizeof(id), "role-%s", kura_role_name(bit));
        struct kura_account r = {.id = id, .roles = bit};
        assert_int_equal(kura_meta_account_create(m, &r), 0);
        assert_int_equal(kura_meta_account_get(m, id, &out), 0);
        assert_int_equal(out.roles, bit);
        kura_account_release(&out);
    }

    /* Every status. */
    for (unsigned s = 0; s < KURA_ACCOUNT_STATUS__COUNT; s++) {
        char id[32];
        (void)snprintf(id, sizeof(id), "status-%u", s);
        struct kura_account r = {.id = id, .status = (enum kura_account_status)s};
        assert_int_equal(kura_meta_account_create(m, &r), 0);
        assert_int_equal(kura_meta_account_get(m, id, &out), 0);
        assert_int_equal(out.status, s);
        kura_account_release(&out);
    }
}

static void test_account_not_found(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);
    struct kura_account out = {.id = "untouched"};
    assert_int_equal(kura_meta_account_get(m, "nobody", &out), KURA_ENOTFOUND);
    assert_string_equal(out.id, "untouched");
    assert_int_equal(kura_meta_account_get(m, "", &out), -EINVAL);
    assert_int_equal(kura_meta_account_get(m, "bad\x01", &out), -EINVAL);
    assert_int_equal(kura_meta_account_get(m, NULL, &out), -EINVAL);
}

static void test_account_duplicate(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);
    struct kura_account a = full_account("dup");
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    struct kura_account b = {.id = "dup", .display_name = "Someone Else"};
    assert_int_equal(kura_meta_account_create(m, &b), KURA_EEXIST);
    /* Deleted accounts keep their ID forever. */
    struct kura_account d = {.id = "gone", .status = KURA_ACCOUNT_STATUS_DELETED};
    assert_int_equal(kura_meta_account_create(m, &d), 0);
    struct kura_account d2 = {.id = "gone"};
    assert_int_equal(kura_meta_account_create(m, &d2), KURA_EEXIST);

    uint64_t n = 0;
    assert_int_equal(kura_meta_account_count(m, &n), 0);
    assert_int_equal(n, 2);
    struct kura_account out = {0};
    assert_int_equal(kura_meta_account_get(m, "dup", &out), 0);
    assert_account_equal(&out, &a);
    kura_account_release(&out);
}

static void test_account_invalid(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);
    char long_id[KURA_META_ID_MAX + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    char long_text[KURA_META_TEXT_MAX + 2];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';

    const struct {
        struct kura_account a;
        int expect;
    } cases[] = {
        {{.id = NULL}, -EINVAL},
        {{.id = ""}, -EINVAL},
        {{.id = long_id}, KURA_ETOOBIG},
        {{.id = "ctl\x7f"}, -EINVAL},
        {{.id = "utf\xc3"}, -EINVAL},
        {{.id = "ok", .email = "a\nb"}, -EINVAL},
        {{.id = "ok", .display_name = "\xed\xa0\x80"}, -EINVAL}, /* surrogate */
        {{.id = "ok", .phone = long_text}, KURA_ETOOBIG},
        {{.id = "ok", .status = KURA_ACCOUNT_STATUS__COUNT}, -EINVAL},
        {{.id = "ok", .status = (enum kura_account_status) - 1}, -EINVAL},
        {{.id = "ok", .roles = KURA_ROLE_ALL + 1}, -EINVAL},
        {{.id = "ok", .valid_until = -5}, -EINVAL},
        {{.id = "ok", .created_at = -1}, -EINVAL},
        {{.id = "ok", .password_hash = ""}, -EINVAL},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(kura_meta_account_create(m, &cases[i].a), cases[i].expect);
    }
    uint64_t n = 1;
    assert_int_equal(kura_meta_account_count(m, &n), 0);
    assert_int_equal(n, 0);
    /* The longest allowed ID fits. */
    long_id[KURA_META_ID_MAX] = '\0';
    struct kura_account ok = {.id = long_id};
    assert_int_equal(kura_meta_account_create(m, &ok), 0);
}

static bool exists(struct kura_meta *m, const char *id)
{
    struct kura_account out = {0};
    int r = kura_meta_account_get(m, id, &out);
    kura_account_release(&out);
    assert_true(r == 0 || r == KURA_ENOTFOUND);
    return r == 0;
}

static void test_transactions(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);

    assert_int_equal(kura_meta_txn_begin(m), 0);
    struct kura_account a = {.id = "rolled-back", .roles = KURA_ROLE_ADMIN};
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    assert_int_equal(kura_meta_install_set(m, "k", "v"), 0);
    assert_true(exists(m, "rolled-back")); /* visible inside its own transaction */
    kura_meta_txn_rollback(m);
    assert_false(exists(m, "rolled-back"));
    char *v = NULL;
    assert_int_equal(kura_meta_install_get(m, "k", &v), KURA_ENOTFOUND);

    assert_int_equal(kura_meta_txn_begin(m), 0);
    struct kura_account b = {.id = "committed"};
    assert_int_equal(kura_meta_account_create(m, &b), 0);
    assert_int_equal(kura_meta_txn_commit(m), 0);
    assert_true(exists(m, "committed"));

    /* Nesting: the inner rollback undoes only the inner work. */
    assert_int_equal(kura_meta_txn_begin(m), 0);
    struct kura_account o = {.id = "outer"};
    assert_int_equal(kura_meta_account_create(m, &o), 0);
    assert_int_equal(kura_meta_txn_begin(m), 0);
    struct kura_account i = {.id = "inner"};
    assert_int_equal(kura_meta_account_create(m, &i), 0);
    kura_meta_txn_rollback(m);
    assert_int_equal(kura_meta_txn_begin(m), 0);
    struct kura_account i2 = {.id = "inner2"};
    assert_int_equal(kura_meta_account_create(m, &i2), 0);
    assert_int_equal(kura_meta_txn_commit(m), 0);
    /* A failed statement inside a transaction does not end it. */
    assert_int_equal(kura_meta_account_create(m, &o), KURA_EEXIST);
    assert_int_equal(kura_meta_txn_commit(m), 0);
    assert_true(exists(m, "outer"));
    assert_false(exists(m, "inner"));
    assert_true(exists(m, "inner2"));

    /* Migrate is refused inside a transaction. */
    assert_int_equal(kura_meta_txn_begin(m), 0);
    assert_int_equal(kura_meta_migrate(m), -EINVAL);
    kura_meta_txn_rollback(m);

    uint64_t n = 0;
    assert_int_equal(kura_meta_account_count(m, &n), 0);
    assert_int_equal(n, 3);
}

/* A read snapshot (kura_meta_snapshot) is a hint: whatever a backend makes of it, reads inside
 * it are right, the thread's own writes and transactions are seen at once, and off always
 * leaves none kept. (test-sqlite.c checks that SQLite's is one moment.) */
static void test_snapshot(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m =
        open_db(c, KURA_META_CREATE | KURA_META_READERS);
    assert_int_equal(kura_meta_migrate(m), 0);
    struct kura_account a = {.id = "before"};
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    for (int round = 0; round < 2; round++) {
        bool kept = kura_meta_snapshot(m, true);
        assert_true(kura_meta_snapshot(m, true) == kept); /* on again: the same */
        assert_true(exists(m, "before"));
        assert_false(exists(m, "never"));
        char id[16];
        (void)snprintf(id, sizeof(id), "written-%d", round);
        struct kura_account w = {.id = id};
        if (round == 0) {
            assert_int_equal(kura_meta_account_create(m, &w), 0);
        } else {
            assert_int_equal(kura_meta_txn_begin(m), 0);
            assert_int_equal(kura_meta_account_create(m, &w), 0);
            assert_true(exists(m, id));
            assert_int_equal(kura_meta_txn_commit(m), 0);
        }
        assert_true(exists(m, id));
        assert_false(kura_meta_snapshot(m, false));
        assert_false(kura_meta_snapshot(m, false)); /* off again: harmless */
        assert_true(exists(m, id));
    }
    uint64_t n = 0;
    assert_int_equal(kura_meta_account_count(m, &n), 0);
    assert_int_equal(n, 3);
}

static void test_persistence(void **state)
{
    struct ctx *c = *state;
    struct kura_meta *m = open_migrated(c);
    struct kura_account a = full_account("persist");
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    m = kura_meta_close(m);
    m = open_db(c, 0);
    assert_int_equal(kura_meta_check_schema(m, NULL), 0);
    struct kura_account out = {0};
    assert_int_equal(kura_meta_account_get(m, "persist", &out), 0);
    assert_account_equal(&out, &a);
    kura_account_release(&out);
    m = kura_meta_close(m);
}

/* ---- threads ------------------------------------------------------------------------------ */

#define THREADS 8
#define PER_THREAD 30

struct worker {
    pthread_t tid;
    struct kura_meta *m;
    unsigned n;
    int err;  /* first unexpected result */
    int line; /* where it happened */
};

#define WCHECK(w, expr, want)                                                                      \
    do {                                                                                           \
        int _r = (expr);                                                                           \
        if (_r != (want) && (w)->err == 0) {                                                       \
            (w)->err = _r ? _r : -1;                                                               \
            (w)->line = __LINE__;                                                                  \
        }                                                                                          \
    } while (0)

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        char id[32];
        (void)snprintf(id, sizeof(id), "t%u-%u", w->n, i);
        struct kura_account a = {.id = id, .roles = KURA_ROLE_USER | (i % 2 ? KURA_ROLE_PI : 0)};
        switch (i % 3) {
        case 0:
            WCHECK(w, kura_meta_account_create(w->m, &a), 0);
            break;
        case 1: {
            /* An explicit transaction: nobody else may slip into it. */
            char ghost[40];
            (void)snprintf(ghost, sizeof(ghost), "ghost-%s", id);
            struct kura_account g = {.id = ghost};
            WCHECK(w, kura_meta_txn_begin(w->m), 0);
            WCHECK(w, kura_meta_account_create(w->m, &g), 0);
            WCHECK(w, kura_meta_account_create(w->m, &a), 0);
            WCHECK(w, kura_meta_account_create(w->m, &a), KURA_EEXIST);
            kura_meta_txn_rollback(w->m);
            WCHECK(w, kura_meta_txn_begin(w->m), 0);
            WCHECK(w, kura_meta_account_create(w->m, &a), 0);
            WCHECK(w, kura_meta_txn_commit(w->m), 0);
            struct kura_account out = {0};
            WCHECK(w, kura_meta_account_get(w->m, ghost, &out), KURA_ENOTFOUND);
            break;
        }
        default: {
            WCHECK(w, kura_meta_account_create(w->m, &a), 0);
            WCHECK(w, kura_meta_account_create(w->m, &a), KURA_EEXIST);
            uint64_t n;
            WCHECK(w, kura_meta_account_count(w->m, &n), 0);
            break;
        }
        }
        struct kura_account out = {0};
        WCHECK(w, kura_meta_account_get(w->m, id, &out), 0);
        if (out.id && (strcmp(out.id, id) != 0 || out.roles != a.roles) && w->err == 0) {
            w->err = -1;
            w->line = __LINE__;
        }
        kura_account_release(&out);
    }
    return NULL;
}

/* ---- the audit search index ------------------------------------------------------------- */

static int collect_idx(void *ctx, const struct kura_audit_row *row)
{
    uint64_t *out = ctx;
    out[++out[0]] = row->idx;
    return out[0] >= 63 ? 1 : 0; /* stops at 63 matches */
}

static void test_audit_index(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);
    uint64_t next = 99;
    assert_int_equal(kura_meta_audit_index_next(m, &next), 0);
    assert_int_equal(next, 0);
    static const char *const actors[] = {"user:alice", "user:bob", NULL};
    static const char *const objects[] = {"/dav/alice/x", "/dav/alice_%/y", "/dav/b"};
    struct kura_audit_row rows[30];
    for (unsigned i = 0; i < 30; i++) {
        rows[i] = (struct kura_audit_row){.idx = i,
                                          .time = 1000 * (int64_t)i,
                                          .actor = actors[i % 3],
                                          .action = i % 2 ? "file.read" : "http.request",
                                          .object = objects[i % 3],
                                          .result = i % 5 ? "ok" : "denied",
                                          .source_ip = i < 15 ? "10.0.0.1" : "10.0.0.2",
                                          .bytes = i,
                                          .record = "{}"};
    }
    assert_int_equal(kura_meta_audit_index_put(m, rows, 20), 0);
    /* Replaying overlapping rows (a rebuild) skips what is there. */
    assert_int_equal(kura_meta_audit_index_put(m, rows + 10, 20), 0);
    assert_int_equal(kura_meta_audit_index_next(m, &next), 0);
    assert_int_equal(next, 30);
    uint64_t got[64];
    struct kura_audit_query q = {.after_idx = UINT64_MAX, .actor = "user:alice"};
    got[0] = 0;
    assert_int_equal(kura_meta_audit_index_search(m, &q, collect_idx, got), 0);
    assert_int_equal(got[0], 10);
    assert_int_equal(got[1], 0);
    assert_int_equal(got[10], 27);
    /* Time range, action, result, source, object prefix (with a wildcard character in it). */
    q = (struct kura_audit_query){
        .after_idx = UINT64_MAX, .from_ms = 3000, .to_ms = 9000, .action = "file.read"};
    got[0] = 0;
    assert_int_equal(kura_meta_audit_index_search(m, &q, collect_idx, got), 0);
    assert_int_equal(got[0], 3); /* 3, 5, 7 */
    assert_int_equal(got[1], 3);
    q = (struct kura_audit_query){
        .after_idx = UINT64_MAX, .result = "denied", .source_ip = "10.0.0.2"};
    got[0] = 0;
    assert_int_equal(kura_meta_audit_index_search(m, &q, collect_idx, got), 0);
    assert_int_equal(got[0], 3); /* 15, 20, 25 */
    q = (struct kura_audit_query){.after_idx = UINT64_MAX, .object_prefix = "/dav/alice_%"};
    got[0] = 0;
    assert_int_equal(kura_meta_audit_index_search(m, &q, collect_idx, got), 0);
    assert_int_equal(got[0], 10); /* only idx % 3 == 1: "%" and "_" are not wildcards */
    assert_int_equal(got[1], 1);
    /* Paging: after_idx and limit. */
    q = (struct kura_audit_query){.after_idx = 25, .limit = 3};
    got[0] = 0;
    assert_int_equal(kura_meta_audit_index_search(m, &q, collect_idx, got), 0);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 26);
    /* A callback's non-zero result stops the search and comes back. */
    q = (struct kura_audit_query){.after_idx = UINT64_MAX};
    got[0] = 60;
    assert_int_equal(kura_meta_audit_index_search(m, &q, collect_idx, got), 1);
    /* Pruning by time. */
    uint64_t deleted = 0;
    assert_int_equal(kura_meta_audit_index_prune(m, 10000, &deleted), 0);
    assert_int_equal(deleted, 10);
    q = (struct kura_audit_query){.after_idx = UINT64_MAX};
    got[0] = 0;
    assert_int_equal(kura_meta_audit_index_search(m, &q, collect_idx, got), 0);
    assert_int_equal(got[0], 20);
    assert_int_equal(got[1], 10);
    /* Rows lacking what the schema needs are refused before the backend sees them. */
    struct kura_audit_row bad = {.idx = 40, .action = "x", .result = "ok"};
    assert_int_equal(kura_meta_audit_index_put(m, &bad, 1), -EINVAL);
    bad.record = "{}";
    bad.result = "maybe";
    assert_int_equal(kura_meta_audit_index_put(m, &bad, 1), -EINVAL);
    assert_int_equal(kura_meta_audit_index_next(m, &next), 0);
    assert_int_equal(next, 30);
}

/* ---- alerts -------------------------------------------------------------------------------- */

static int collect_alerts(void *ctx, const struct kura_alert *a)
{
    uint64_t *out = ctx;
    out[++out[0]] = a->id * 1000 + a->hits * 10 + (a->acknowledged ? 1 : 0);
    return 0;
}

static void test_alerts(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);
    struct kura_alert a = {.rule = "access_denied",
                           .key = "10.0.0.9",
                           .first_idx = 5,
                           .last_idx = 9,
                           .hits = 3,
                           .first_time = 1000,
                           .last_time = 2000,
                           .detail = "{}"};
    uint64_t id1 = 0, id2 = 0, id3 = 0;
    bool fresh = false;
    assert_int_equal(kura_meta_alert_raise(m, &a, 60000, &id1, &fresh), 0);
    assert_true(fresh);
    /* Within the quiet period: the same alert, more hits. */
    a.first_idx = a.last_idx = 12;
    a.hits = 2;
    a.first_time = a.last_time = 30000;
    assert_int_equal(kura_meta_alert_raise(m, &a, 60000, &id2, &fresh), 0);
    assert_false(fresh);
    assert_int_equal(id2, id1);
    /* Another key, and the same key after the quiet period: new alerts. */
    a.key = "10.0.0.10";
    assert_int_equal(kura_meta_alert_raise(m, &a, 60000, &id2, &fresh), 0);
    assert_true(fresh);
    a.key = "10.0.0.9";
    a.first_time = a.last_time = 200000;
    assert_int_equal(kura_meta_alert_raise(m, &a, 60000, &id3, &fresh), 0);
    assert_true(fresh);
    assert_int_not_equal(id3, id1);
    uint64_t got[16] = {0};
    assert_int_equal(kura_meta_alert_list(m, true, collect_alerts, got), 0);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[3], id1 * 1000 + 50); /* newest first; 5 hits */
    /* Acknowledge: leaves the open list, stays in the full one; twice is not found. */
    assert_int_equal(kura_meta_alert_ack(m, id1, "cli:root", "checked: a scanner", 300000), 0);
    assert_int_equal(kura_meta_alert_ack(m, id1, "cli:root", NULL, 300001), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_alert_ack(m, 999, "cli:root", NULL, 300001), KURA_ENOTFOUND);
    memset(got, 0, sizeof(got));
    assert_int_equal(kura_meta_alert_list(m, true, collect_alerts, got), 0);
    assert_int_equal(got[0], 2);
    memset(got, 0, sizeof(got));
    assert_int_equal(kura_meta_alert_list(m, false, collect_alerts, got), 0);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[3], id1 * 1000 + 51);
    /* An acknowledged alert does not absorb new hits: a new one opens. */
    a.first_time = a.last_time = 300500;
    a.key = "10.0.0.9";
    uint64_t id4 = 0;
    assert_int_equal(kura_meta_alert_raise(m, &a, 10000000, &id4, &fresh), 0);
    assert_int_equal(id4, id3); /* id3 is still open and within the quiet period */
    assert_false(fresh);
    struct kura_alert bad = a;
    bad.rule = "";
    assert_int_equal(kura_meta_alert_raise(m, &bad, 0, &id4, &fresh), -EINVAL);
    bad = a;
    bad.hits = 0;
    assert_int_equal(kura_meta_alert_raise(m, &bad, 0, &id4, &fresh), -EINVAL);
    assert_int_equal(kura_meta_alert_ack(m, id3, "", NULL, 1), -EINVAL);
}

static void test_threads(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_meta_closep) struct kura_meta *m = open_migrated(c);
    struct worker w[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.m = m, .n = i};
        assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        if (w[i].err != 0) {
            print_error("thread %u: %s (%d) at line %d\n", i, kura_strerror(w[i].err), w[i].err,
                        w[i].line);
        }
        assert_int_equal(w[i].err, 0);
    }
    uint64_t n = 0;
    assert_int_equal(kura_meta_account_count(m, &n), 0);
    assert_int_equal(n, THREADS * PER_THREAD);
}

int meta_contract_run(const struct meta_contract_fixture *f)
{
    fx = f;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_database_is_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_to_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_twice_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alerts, setup, teardown),
    };
    char name[64];
    (void)snprintf(name, sizeof(name), "meta-contract-%s", f->backend);
    int failed = _cmocka_run_group_tests(name, tests, KURA_ARRAY_SIZE(tests), NULL, NULL);
    failed += meta_contract_identity_run(f);
    return failed + meta_contract_store_run(f);
}
