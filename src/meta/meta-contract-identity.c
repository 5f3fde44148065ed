/* meta-contract-identity.c — the contract of meta.h's identity functions, as cmocka tests:
 * account updates and listing, authentication state (attempt counting under concurrency, locks,
 * TOTP replay, recovery codes, password history), sessions, app passwords and the ledger.
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

#include "meta/meta-contract.h"

static const struct meta_contract_fixture *fx;

struct ctx {
    char *target;
    struct kura_meta *m;
};

/* A migrated store with accounts "alice" and "bob". */
static int setup(void **state)
{
    struct ctx *c = kura_calloc(1, sizeof(*c));
    if (!c || fx->target_new(&c->target) < 0) {
        kura_free(c);
        return -1;
    }
    *state = c;
    struct kura_account alice = {.id = "alice", .roles = KURA_ROLE_USER};
    struct kura_account bob = {.id = "bob", .roles = KURA_ROLE_USER};
    if (kura_meta_open(fx->backend, c->target, KURA_META_CREATE, &c->m) < 0 ||
        kura_meta_migrate(c->m) < 0 || kura_meta_account_create(c->m, &alice) < 0 ||
        kura_meta_account_create(c->m, &bob) < 0) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    c->m = kura_meta_close(c->m);
    fx->target_free(c->target);
    kura_free(c);
    return 0;
}

static struct kura_meta *store(void **state)
{
    return ((struct ctx *)*state)->m;
}

/* A distinct 32-byte value per n (a stand-in for a MAC or a token hash). */
static void mac_of(uint8_t out[KURA_META_MAC_BYTES], unsigned n)
{
    for (unsigned i = 0; i < KURA_META_MAC_BYTES; i++) {
        out[i] = (uint8_t)(n * 31u + i);
    }
}

static void assert_auth_zero(const struct kura_account_auth *a)
{
    static const uint8_t none[KURA_META_SECRET_MAX];
    assert_int_equal(a->failed_logins, 0);
    assert_int_equal(a->last_failed_at, 0);
    assert_int_equal(a->locked_at, 0);
    assert_int_equal(a->locked_until, 0);
    assert_int_equal(a->last_login_at, 0);
    assert_string_equal(a->last_login_ip, "");
    assert_memory_equal(a->totp_secret, none, sizeof(none));
    assert_int_equal(a->totp_secret_len, 0);
    assert_int_equal(a->totp_last_step, 0);
    assert_int_equal(a->totp_enrolled_at, 0);
    assert_int_equal(a->recovery_left, 0);
}

static struct kura_account_auth auth_of(struct kura_meta *m, const char *id)
{
    struct kura_account_auth a;
    memset(&a, 0xa5, sizeof(a));
    assert_int_equal(kura_meta_auth_get(m, id, &a), 0);
    return a;
}

/* ---- accounts ----------------------------------------------------------------------------- */

static void test_account_update(void **state)
{
    struct kura_meta *m = store(state);
    struct kura_account a = {.id = "carol",
                             .display_name = "Carol",
                             .email = "carol@example.org",
                             .roles = KURA_ROLE_USER | KURA_ROLE_PI,
                             .created_at = 1000,
                             .updated_at = 1000};
    assert_int_equal(kura_meta_account_create(m, &a), 0);
    struct kura_account u = {.id = "carol",
                             .display_name = "Carol Q.",
                             .affiliation = "Lab 7",
                             .phone = "+81 3",
                             .status = KURA_ACCOUNT_STATUS_DISABLED,
                             .valid_until = 99000,
                             .password_hash = "$argon2id$new",
                             .password_changed_at = 5000,
                             .must_change_password = true,
                             .roles = KURA_ROLE_ADMIN | KURA_ROLE_AUDITOR,
                             .created_at = 777, /* ignored: created_at is kept */
                             .updated_at = 5000};
    assert_int_equal(kura_meta_account_update(m, &u), 0);
    struct kura_account out = {0};
    assert_int_equal(kura_meta_account_get(m, "carol", &out), 0);
    assert_string_equal(out.display_name, "Carol Q.");
    assert_string_equal(out.email, ""); /* replaced, not merged */
    assert_string_equal(out.affiliation, "Lab 7");
    assert_string_equal(out.phone, "+81 3");
    assert_int_equal(out.status, KURA_ACCOUNT_STATUS_DISABLED);
    assert_int_equal(out.valid_from, 0);
    assert_int_equal(out.valid_until, 99000);
    assert_string_equal(out.password_hash, "$argon2id$new");
    assert_int_equal(out.password_changed_at, 5000);
    assert_true(out.must_change_password);
    assert_int_equal(out.roles, KURA_ROLE_ADMIN | KURA_ROLE_AUDITOR);
    assert_int_equal(out.created_at, 1000);
    assert_int_equal(out.updated_at, 5000);
    kura_account_release(&out);

    /* updated_at 0 means now; no roles and no password are values too. */
    int64_t before = kura_clock_wall_ms();
    struct kura_account bare = {.id = "carol"};
    assert_int_equal(kura_meta_account_update(m, &bare), 0);
    assert_int_equal(kura_meta_account_get(m, "carol", &out), 0);
    assert_int_equal(out.roles, 0);
    assert_null(out.password_hash);
    assert_true(out.updated_at >= before && out.updated_at <= kura_clock_wall_ms());
    kura_account_release(&out);

    /* Inside a transaction that rolls back, nothing of the update stays. */
    assert_int_equal(kura_meta_txn_begin(m), 0);
    assert_int_equal(kura_meta_account_update(m, &u), 0);
    kura_meta_txn_rollback(m);
    assert_int_equal(kura_meta_account_get(m, "carol", &out), 0);
    assert_int_equal(out.roles, 0);
    kura_account_release(&out);

    struct kura_account ghost = {.id = "ghost", .roles = KURA_ROLE_USER};
    assert_int_equal(kura_meta_account_update(m, &ghost), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_account_get(m, "ghost", &out), KURA_ENOTFOUND);
    struct kura_account bad = {.id = "carol", .roles = KURA_ROLE_ALL + 1};
    assert_int_equal(kura_meta_account_update(m, &bad), -EINVAL);
    bad = (struct kura_account){.id = "carol", .email = "a\nb"};
    assert_int_equal(kura_meta_account_update(m, &bad), -EINVAL);
    bad = (struct kura_account){.id = NULL};
    assert_int_equal(kura_meta_account_update(m, &bad), -EINVAL);
}

struct listed {
    char ids[8][16];
    unsigned roles[8];
    unsigned n, stop_at;
};

static int collect_account(void *ctx, const struct kura_account *a)
{
    struct listed *l = ctx;
    (void)snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", a->id);
    l->roles[l->n] = a->roles;
    l->n++;
    return l->n == l->stop_at ? 42 : 0;
}

static void test_account_list(void **state)
{
    struct kura_meta *m = store(state);
    struct kura_account zed = {.id = "zed", .roles = KURA_ROLE_PI | KURA_ROLE_USER};
    struct kura_account gone = {.id = "carl", .status = KURA_ACCOUNT_STATUS_DELETED};
    struct kura_account upper = {.id = "Anne", .roles = KURA_ROLE_ALL};
    assert_int_equal(kura_meta_account_create(m, &zed), 0);
    assert_int_equal(kura_meta_account_create(m, &gone), 0);
    assert_int_equal(kura_meta_account_create(m, &upper), 0);
    struct listed l = {0};
    assert_int_equal(kura_meta_account_list(m, collect_account, &l), 0);
    assert_int_equal(l.n, 5);
    /* Byte order of the IDs; deleted accounts included. */
    const char *want[] = {"Anne", "alice", "bob", "carl", "zed"};
    for (unsigned i = 0; i < 5; i++) {
        assert_string_equal(l.ids[i], want[i]);
    }
    assert_int_equal(l.roles[0], KURA_ROLE_ALL);
    assert_int_equal(l.roles[3], 0);
    assert_int_equal(l.roles[4], KURA_ROLE_PI | KURA_ROLE_USER);
    /* A callback's non-zero return stops the listing and comes back. */
    l = (struct listed){.stop_at = 2};
    assert_int_equal(kura_meta_account_list(m, collect_account, &l), 42);
    assert_int_equal(l.n, 2);
}

/* ---- authentication state ----------------------------------------------------------------- */

static void test_auth_state(void **state)
{
    struct kura_meta *m = store(state);
    struct kura_account_auth a = auth_of(m, "alice");
    assert_auth_zero(&a); /* no row yet: all zeros */

    uint32_t n = 0;
    assert_int_equal(kura_meta_auth_attempt(m, "alice", 5, 1000, &n), 0);
    assert_int_equal(n, 1);
    bool locked = true;
    assert_int_equal(kura_meta_auth_failed(m, "alice", 5, 1001, 60000, &locked), 0);
    assert_false(locked);
    assert_int_equal(kura_meta_auth_attempt(m, "alice", 5, 2000, &n), 0);
    assert_int_equal(n, 2);
    a = auth_of(m, "alice");
    assert_int_equal(a.failed_logins, 2);
    assert_int_equal(a.last_failed_at, 1001);
    assert_int_equal(a.locked_at, 0);

    assert_int_equal(kura_meta_auth_succeeded(m, "alice", 2001, "192.0.2.7"), 0);
    a = auth_of(m, "alice");
    assert_int_equal(a.failed_logins, 0);
    assert_int_equal(a.last_login_at, 2001);
    assert_string_equal(a.last_login_ip, "192.0.2.7");
    assert_int_equal(a.last_failed_at, 1001); /* kept */

    /* A first write without an earlier row creates it. */
    assert_int_equal(kura_meta_auth_succeeded(m, "bob", 3000, NULL), 0);
    a = auth_of(m, "bob");
    assert_int_equal(a.last_login_at, 3000);
    assert_string_equal(a.last_login_ip, "");

    char long_ip[KURA_META_IP_MAX + 2];
    memset(long_ip, '1', sizeof(long_ip) - 1);
    long_ip[sizeof(long_ip) - 1] = '\0';
    assert_int_equal(kura_meta_auth_succeeded(m, "bob", 3000, long_ip), KURA_ETOOBIG);
    long_ip[KURA_META_IP_MAX] = '\0';
    assert_int_equal(kura_meta_auth_succeeded(m, "bob", 3000, long_ip), 0);
    a = auth_of(m, "bob");
    assert_string_equal(a.last_login_ip, long_ip);
    assert_int_equal(kura_meta_auth_succeeded(m, "bob", -1, NULL), -EINVAL);
    assert_int_equal(kura_meta_auth_failed(m, "bob", 5, 0, 0, &locked), -EINVAL);
    assert_int_equal(kura_meta_auth_failed(m, "bob", 5, INT64_MAX, 1, &locked), -EINVAL);
    assert_int_equal(kura_meta_auth_failed(m, "bob", 5, 10, -1, &locked), -EINVAL);
    assert_int_equal(kura_meta_auth_attempt(m, "bob", 5, -1, &n), -EINVAL);
}

static void test_auth_totp(void **state)
{
    struct kura_meta *m = store(state);
    uint8_t sealed[KURA_META_SECRET_MAX + 1];
    for (size_t i = 0; i < sizeof(sealed); i++) {
        sealed[i] = (uint8_t)(255 - i);
    }
    assert_int_equal(kura_meta_auth_set_totp(m, "alice", sealed, 57, 4000), 0);
    struct kura_account_auth a = auth_of(m, "alice");
    assert_int_equal(a.totp_secret_len, 57);
    assert_memory_equal(a.totp_secret, sealed, 57);
    assert_int_equal(a.totp_enrolled_at, 4000);
    assert_int_equal(a.totp_last_step, 0);

    /* Each step once, never an older one (replay). */
    assert_int_equal(kura_meta_auth_use_totp_step(m, "alice", 100), 0);
    assert_int_equal(kura_meta_auth_use_totp_step(m, "alice", 100), KURA_EFORBIDDEN);
    assert_int_equal(kura_meta_auth_use_totp_step(m, "alice", 99), KURA_EFORBIDDEN);
    assert_int_equal(kura_meta_auth_use_totp_step(m, "alice", 101), 0);
    assert_int_equal(auth_of(m, "alice").totp_last_step, 101);
    /* Without an earlier row, even step 0 is new. */
    assert_int_equal(kura_meta_auth_use_totp_step(m, "bob", 0), 0);
    assert_int_equal(kura_meta_auth_use_totp_step(m, "bob", 0), KURA_EFORBIDDEN);

    /* Re-enrolment resets the step; the largest secret fits, a larger one does not. */
    assert_int_equal(kura_meta_auth_set_totp(m, "alice", sealed, KURA_META_SECRET_MAX, 5000), 0);
    a = auth_of(m, "alice");
    assert_int_equal(a.totp_secret_len, KURA_META_SECRET_MAX);
    assert_memory_equal(a.totp_secret, sealed, KURA_META_SECRET_MAX);
    assert_int_equal(a.totp_last_step, 0);
    assert_int_equal(kura_meta_auth_use_totp_step(m, "alice", 50), 0);
    assert_int_equal(kura_meta_auth_set_totp(m, "alice", sealed, sizeof(sealed), 5000),
                     KURA_ETOOBIG);
    assert_int_equal(kura_meta_auth_set_totp(m, "alice", NULL, 5, 5000), -EINVAL);
    assert_int_equal(kura_meta_auth_use_totp_step(m, "alice", (uint64_t)INT64_MAX + 1), -EINVAL);

    /* Removal (len 0) takes the recovery codes with it. */
    uint8_t macs[2][KURA_META_MAC_BYTES];
    mac_of(macs[0], 1);
    mac_of(macs[1], 2);
    assert_int_equal(kura_meta_recovery_set(m, "alice", (const uint8_t(*)[32])macs, 2), 0);
    assert_int_equal(auth_of(m, "alice").recovery_left, 2);
    assert_int_equal(kura_meta_auth_set_totp(m, "alice", NULL, 0, 6000), 0);
    a = auth_of(m, "alice");
    assert_int_equal(a.totp_secret_len, 0);
    assert_int_equal(a.totp_enrolled_at, 0);
    assert_int_equal(a.recovery_left, 0);
    assert_int_equal(kura_meta_recovery_use(m, "alice", macs[0], 6001), KURA_ENOTFOUND);
}

static void test_auth_lock_expiry(void **state)
{
    struct kura_meta *m = store(state);
    uint32_t n = 0;
    bool locked = false;
    for (unsigned i = 1; i <= 3; i++) {
        assert_int_equal(kura_meta_auth_attempt(m, "alice", 3, 1000, &n), 0);
        assert_int_equal(n, i);
        assert_int_equal(kura_meta_auth_failed(m, "alice", 3, 1000, 60000, &locked), 0);
        assert_int_equal(locked, i == 3);
    }
    struct kura_account_auth a = auth_of(m, "alice");
    assert_int_equal(a.locked_at, 1000);
    assert_int_equal(a.locked_until, 61000);
    /* Locked: refused, and nothing changes. */
    assert_int_equal(kura_meta_auth_attempt(m, "alice", 3, 60999, &n), KURA_EFORBIDDEN);
    assert_int_equal(auth_of(m, "alice").failed_logins, 3);
    /* A further failure does not lock again. */
    assert_int_equal(kura_meta_auth_failed(m, "alice", 3, 2000, 60000, &locked), 0);
    assert_false(locked);
    assert_int_equal(auth_of(m, "alice").locked_until, 61000);
    /* Once locked_until has passed, the lock is lifted and the count restarts. */
    assert_int_equal(kura_meta_auth_attempt(m, "alice", 3, 61000, &n), 0);
    assert_int_equal(n, 1);
    a = auth_of(m, "alice");
    assert_int_equal(a.locked_at, 0);
    assert_int_equal(a.locked_until, 0);

    /* lock_ms 0: locked until an unlock, however late the attempt. */
    assert_int_equal(kura_meta_auth_attempt(m, "bob", 1, 1000, &n), 0);
    assert_int_equal(kura_meta_auth_failed(m, "bob", 1, 1000, 0, &locked), 0);
    assert_true(locked);
    a = auth_of(m, "bob");
    assert_int_equal(a.locked_at, 1000);
    assert_int_equal(a.locked_until, 0);
    assert_int_equal(kura_meta_auth_attempt(m, "bob", 1, INT64_MAX, &n), KURA_EFORBIDDEN);
    assert_int_equal(kura_meta_auth_unlock(m, "bob"), 0);
    a = auth_of(m, "bob");
    assert_int_equal(a.failed_logins, 0);
    assert_int_equal(a.locked_at, 0);
    assert_int_equal(kura_meta_auth_attempt(m, "bob", 1, 2000, &n), 0);
    assert_int_equal(n, 1);
    /* Unlocking an account with no state at all is fine. */
    struct kura_account c = {.id = "carol"};
    assert_int_equal(kura_meta_account_create(m, &c), 0);
    assert_int_equal(kura_meta_auth_unlock(m, "carol"), 0);

    /* threshold 0: no limit, and no lock. */
    for (unsigned i = 0; i < 20; i++) {
        assert_int_equal(kura_meta_auth_attempt(m, "carol", 0, 1000, &n), 0);
        assert_int_equal(kura_meta_auth_failed(m, "carol", 0, 1000, 0, &locked), 0);
        assert_false(locked);
    }
    assert_int_equal(n, 20);
}

#define ATTEMPT_THREADS 50
#define THRESHOLD 10

struct attempt_worker {
    pthread_t tid;
    struct kura_meta *m;
    pthread_barrier_t *start;
    bool fail; /* call auth_failed instead of auth_attempt */
    int r;
    bool locked;
};

static void *attempt_main(void *arg)
{
    struct attempt_worker *w = arg;
    (void)pthread_barrier_wait(w->start);
    if (w->fail) {
        w->r = kura_meta_auth_failed(w->m, "alice", THRESHOLD, 5000, 0, &w->locked);
    } else {
        uint32_t n = 0;
        w->r = kura_meta_auth_attempt(w->m, "alice", THRESHOLD, 5000, &n);
    }
    return NULL;
}

/* Runs n workers at once; returns how many returned 0 (and *ret_locked: how many locked). */
static unsigned run_workers(struct kura_meta *m, unsigned n, bool fail, unsigned *ret_locked)
{
    struct attempt_worker w[ATTEMPT_THREADS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, n), 0);
    for (unsigned i = 0; i < n; i++) {
        w[i] = (struct attempt_worker){.m = m, .start = &start, .fail = fail};
        assert_int_equal(pthread_create(&w[i].tid, NULL, attempt_main, &w[i]), 0);
    }
    unsigned ok = 0, locked = 0;
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
        assert_true(w[i].r == 0 || (!fail && w[i].r == KURA_EFORBIDDEN));
        ok += w[i].r == 0;
        locked += w[i].locked;
    }
    (void)pthread_barrier_destroy(&start);
    *ret_locked = locked;
    return ok;
}

static void test_auth_attempt_concurrent(void **state)
{
    struct kura_meta *m = store(state);
    unsigned locked = 0;
    /* 50 parallel guesses, threshold 10: exactly 10 get to check a password. */
    assert_int_equal(run_workers(m, ATTEMPT_THREADS, false, &locked), THRESHOLD);
    struct kura_account_auth a = auth_of(m, "alice");
    assert_int_equal(a.failed_logins, THRESHOLD);
    assert_int_equal(a.locked_at, 0);
    /* Their 10 failures, reported in parallel: exactly one takes the lock. */
    assert_int_equal(run_workers(m, THRESHOLD, true, &locked), THRESHOLD);
    assert_int_equal(locked, 1);
    a = auth_of(m, "alice");
    assert_int_equal(a.locked_at, 5000);
    assert_int_equal(a.locked_until, 0);
    uint32_t n = 0;
    assert_int_equal(kura_meta_auth_attempt(m, "alice", THRESHOLD, 6000, &n), KURA_EFORBIDDEN);
}

/* ---- recovery codes and password history -------------------------------------------------- */

static void test_recovery_codes(void **state)
{
    struct kura_meta *m = store(state);
    uint8_t macs[42][KURA_META_MAC_BYTES];
    for (unsigned i = 0; i < 42; i++) {
        mac_of(macs[i], i);
    }
    const uint8_t(*all)[KURA_META_MAC_BYTES] = (const uint8_t(*)[KURA_META_MAC_BYTES])macs;
    assert_int_equal(kura_meta_recovery_set(m, "alice", all, 3), 0);
    assert_int_equal(auth_of(m, "alice").recovery_left, 3);
    assert_int_equal(kura_meta_recovery_use(m, "alice", macs[1], 1000), 0);
    assert_int_equal(kura_meta_recovery_use(m, "alice", macs[1], 1001), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_recovery_use(m, "alice", macs[7], 1001), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_recovery_use(m, "bob", macs[0], 1001), KURA_ENOTFOUND);
    assert_int_equal(auth_of(m, "alice").recovery_left, 2);

    /* A new set replaces the old one whole. */
    assert_int_equal(kura_meta_recovery_set(m, "alice", all + 10, 32), 0); /* 10..41 */
    assert_int_equal(auth_of(m, "alice").recovery_left, 32);
    assert_int_equal(kura_meta_recovery_use(m, "alice", macs[0], 1002), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_recovery_use(m, "alice", macs[20], 1002), 0);
    /* A failing set (a duplicate MAC) changes nothing. */
    uint8_t dup[2][KURA_META_MAC_BYTES];
    mac_of(dup[0], 5);
    mac_of(dup[1], 5);
    assert_int_equal(kura_meta_recovery_set(m, "alice", (const uint8_t(*)[32])dup, 2), KURA_EEXIST);
    assert_int_equal(auth_of(m, "alice").recovery_left, 31);

    assert_int_equal(kura_meta_recovery_set(m, "alice", all, 33), KURA_ETOOBIG);
    assert_int_equal(kura_meta_recovery_set(m, "alice", NULL, 1), -EINVAL);
    assert_int_equal(kura_meta_recovery_use(m, "alice", NULL, 1), -EINVAL);
    assert_int_equal(kura_meta_recovery_use(m, "alice", macs[12], 0), -EINVAL);
    assert_int_equal(kura_meta_recovery_set(m, "alice", NULL, 0), 0);
    assert_int_equal(auth_of(m, "alice").recovery_left, 0);
}

struct hashes {
    char got[8][32];
    unsigned n, stop_at;
};

static int collect_hash(void *ctx, const char *hash)
{
    struct hashes *h = ctx;
    (void)snprintf(h->got[h->n++], sizeof(h->got[0]), "%s", hash);
    return h->n == h->stop_at ? 7 : 0;
}

static void test_password_history(void **state)
{
    struct kura_meta *m = store(state);
    const char *hs[] = {"$h1", "$h2", "$h3", "$h4", "$h5"};
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(kura_meta_password_history_add(m, "alice", hs[i], 1000 + i, 3), 0);
    }
    assert_int_equal(kura_meta_password_history_add(m, "bob", "$b1", 1, 3), 0);
    struct hashes h = {0};
    assert_int_equal(kura_meta_password_history_list(m, "alice", collect_hash, &h), 0);
    assert_int_equal(h.n, 3);
    assert_string_equal(h.got[0], "$h5"); /* newest first */
    assert_string_equal(h.got[1], "$h4");
    assert_string_equal(h.got[2], "$h3");
    h = (struct hashes){.stop_at = 1};
    assert_int_equal(kura_meta_password_history_list(m, "alice", collect_hash, &h), 7);
    /* Other accounts are not trimmed; keep 0 keeps nothing. */
    h = (struct hashes){0};
    assert_int_equal(kura_meta_password_history_list(m, "bob", collect_hash, &h), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(kura_meta_password_history_add(m, "alice", "$h6", 2000, 0), 0);
    h = (struct hashes){0};
    assert_int_equal(kura_meta_password_history_list(m, "alice", collect_hash, &h), 0);
    assert_int_equal(h.n, 0);

    assert_int_equal(kura_meta_password_history_add(m, "alice", "", 1, 3), -EINVAL);
    assert_int_equal(kura_meta_password_history_add(m, "alice", NULL, 1, 3), -EINVAL);
    assert_int_equal(kura_meta_password_history_add(m, "alice", "$h", -1, 3), -EINVAL);
}

/* ---- sessions ----------------------------------------------------------------------------- */

static struct kura_session session_of(unsigned n, const char *account)
{
    struct kura_session s = {.account_id = account,
                             .kind = KURA_SESSION_FULL,
                             .created_at = 1000 + n,
                             .last_seen_at = 1000 + n,
                             .expires_at = 100000};
    mac_of(s.id_hash, n);
    mac_of(s.csrf, n + 100);
    return s;
}

static int count_sessions(void *ctx, const struct kura_session *s)
{
    unsigned *n = ctx;
    assert_non_null(s->account_id);
    (*n)++;
    return 0;
}

static unsigned sessions_of(struct kura_meta *m, const char *id)
{
    unsigned n = 0;
    assert_int_equal(kura_meta_session_list(m, id, count_sessions, &n), 0);
    return n;
}

static void test_sessions(void **state)
{
    struct kura_meta *m = store(state);
    struct kura_session s = session_of(1, "alice");
    s.kind = KURA_SESSION_ENROL;
    s.elevated_until = 3000;
    s.source_ip = "2001:db8::1";
    s.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
    s.break_glass = true;
    assert_int_equal(kura_meta_session_create(m, &s), 0);
    assert_int_equal(kura_meta_session_create(m, &s), KURA_EEXIST);
    struct kura_session out = {0};
    assert_int_equal(kura_meta_session_get(m, s.id_hash, &out), 0);
    assert_memory_equal(out.id_hash, s.id_hash, KURA_META_MAC_BYTES);
    assert_memory_equal(out.csrf, s.csrf, KURA_META_MAC_BYTES);
    assert_string_equal(out.account_id, "alice");
    assert_int_equal(out.kind, KURA_SESSION_ENROL);
    assert_int_equal(out.created_at, 1001);
    assert_int_equal(out.last_seen_at, 1001);
    assert_int_equal(out.expires_at, 100000);
    assert_int_equal(out.elevated_until, 3000);
    assert_string_equal(out.source_ip, "2001:db8::1");
    assert_string_equal(out.user_agent, s.user_agent);
    assert_true(out.break_glass);
    kura_session_release(&out);
    assert_null(out.account_id);
    kura_session_release(&out);

    /* touch never moves back; elevate 0 drops the elevation. */
    assert_int_equal(kura_meta_session_touch(m, s.id_hash, 5000), 0);
    assert_int_equal(kura_meta_session_touch(m, s.id_hash, 4000), 0);
    assert_int_equal(kura_meta_session_elevate(m, s.id_hash, 0), 0);
    assert_int_equal(kura_meta_session_get(m, s.id_hash, &out), 0);
    assert_int_equal(out.last_seen_at, 5000);
    assert_int_equal(out.elevated_until, 0);
    kura_session_release(&out);
    assert_int_equal(kura_meta_session_elevate(m, s.id_hash, 9000), 0);
    assert_int_equal(kura_meta_session_get(m, s.id_hash, &out), 0);
    assert_int_equal(out.elevated_until, 9000);
    kura_session_release(&out);

    /* A minimal session: no address, no agent. */
    struct kura_session s2 = session_of(2, "alice");
    assert_int_equal(kura_meta_session_create(m, &s2), 0);
    assert_int_equal(kura_meta_session_get(m, s2.id_hash, &out), 0);
    assert_null(out.source_ip);
    assert_null(out.user_agent);
    assert_false(out.break_glass);
    kura_session_release(&out);

    uint8_t absent[KURA_META_MAC_BYTES];
    mac_of(absent, 99);
    out.account_id = "untouched";
    assert_int_equal(kura_meta_session_get(m, absent, &out), KURA_ENOTFOUND);
    assert_string_equal(out.account_id, "untouched");
    out = (struct kura_session){0};
    assert_int_equal(kura_meta_session_touch(m, absent, 1), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_session_elevate(m, absent, 1), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_session_delete(m, absent), KURA_ENOTFOUND);

    struct kura_session nobody = session_of(3, "nobody");
    assert_int_equal(kura_meta_session_create(m, &nobody), KURA_ENOTFOUND);
    struct kura_session bad = session_of(3, "alice");
    bad.kind = (enum kura_session_kind)2;
    assert_int_equal(kura_meta_session_create(m, &bad), -EINVAL);
    bad = session_of(3, "alice");
    bad.user_agent = "agent\r\nX-Injected: 1";
    assert_int_equal(kura_meta_session_create(m, &bad), -EINVAL);
    bad.user_agent = NULL;
    bad.expires_at = -1;
    assert_int_equal(kura_meta_session_create(m, &bad), -EINVAL);

    assert_int_equal(kura_meta_session_delete(m, s2.id_hash), 0);
    assert_int_equal(kura_meta_session_delete(m, s2.id_hash), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_session_get(m, s2.id_hash, &out), KURA_ENOTFOUND);
}

static void test_sessions_bulk(void **state)
{
    struct kura_meta *m = store(state);
    for (unsigned i = 0; i < 4; i++) {
        struct kura_session s = session_of(i, "alice");
        assert_int_equal(kura_meta_session_create(m, &s), 0);
    }
    struct kura_session b = session_of(10, "bob");
    assert_int_equal(kura_meta_session_create(m, &b), 0);
    assert_int_equal(sessions_of(m, "alice"), 4);
    assert_int_equal(sessions_of(m, "bob"), 1);

    /* Everywhere but here (a password change), then everywhere (a lock). */
    struct kura_session keep = session_of(2, "alice");
    uint64_t n = 0;
    assert_int_equal(kura_meta_session_delete_account(m, "alice", keep.id_hash, &n), 0);
    assert_int_equal(n, 3);
    struct kura_session out = {0};
    assert_int_equal(kura_meta_session_get(m, keep.id_hash, &out), 0);
    kura_session_release(&out);
    assert_int_equal(kura_meta_session_delete_account(m, "alice", NULL, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sessions_of(m, "alice"), 0);
    assert_int_equal(sessions_of(m, "bob"), 1);
    assert_int_equal(kura_meta_session_delete_account(m, "nobody", NULL, &n), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_session_list(m, "nobody", count_sessions, &n), KURA_ENOTFOUND);

    /* Prune: idle since before idle_before, or past expires_at. */
    struct kura_session idle = session_of(20, "alice"); /* last seen 1020 */
    struct kura_session expired = session_of(21, "alice");
    expired.last_seen_at = 9000;
    expired.expires_at = 9500;
    struct kura_session fresh = session_of(22, "alice");
    fresh.last_seen_at = 9000;
    assert_int_equal(kura_meta_session_create(m, &idle), 0);
    assert_int_equal(kura_meta_session_create(m, &expired), 0);
    assert_int_equal(kura_meta_session_create(m, &fresh), 0);
    assert_int_equal(kura_meta_session_prune(m, 1015, 9000, &n), 0);
    assert_int_equal(n, 1); /* bob's session 10, last seen 1010 */
    assert_int_equal(kura_meta_session_prune(m, 5000, 9500, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sessions_of(m, "alice"), 1);
    assert_int_equal(kura_meta_session_get(m, fresh.id_hash, &out), 0);
    kura_session_release(&out);
    assert_int_equal(kura_meta_session_prune(m, 0, 0, NULL), 0);
}

/* ---- app passwords ------------------------------------------------------------------------ */

static struct kura_app_password app_password_of(unsigned n, const char *account, const char *name)
{
    struct kura_app_password p = {
        .account_id = account, .name = name, .created_at = 1000 + n, .expires_at = 0};
    mac_of(p.mac, 200 + n);
    return p;
}

struct pw_list {
    uint64_t ids[8];
    int64_t revoked[8];
    unsigned n;
};

static int collect_pw(void *ctx, const struct kura_app_password *p)
{
    struct pw_list *l = ctx;
    l->ids[l->n] = p->id;
    l->revoked[l->n++] = p->revoked_at;
    return 0;
}

static void test_app_passwords(void **state)
{
    struct kura_meta *m = store(state);
    struct kura_app_password p = app_password_of(1, "alice", "laptop");
    p.read_write = true;
    p.expires_at = 50000;
    uint64_t id1 = 0, id2 = 0, id3 = 0;
    assert_int_equal(kura_meta_app_password_create(m, &p, &id1), 0);
    assert_true(id1 > 0);
    struct kura_app_password dup_name = app_password_of(2, "alice", "laptop");
    assert_int_equal(kura_meta_app_password_create(m, &dup_name, &id2), KURA_EEXIST);
    struct kura_app_password dup_mac = app_password_of(1, "bob", "phone");
    assert_int_equal(kura_meta_app_password_create(m, &dup_mac, &id2), KURA_EEXIST);
    struct kura_app_password bobs = app_password_of(3, "bob", "laptop"); /* names are per account */
    assert_int_equal(kura_meta_app_password_create(m, &bobs, &id2), 0);
    assert_int_not_equal(id2, id1);

    struct kura_app_password out = {0};
    assert_int_equal(kura_meta_app_password_find(m, p.mac, &out), 0);
    assert_int_equal(out.id, id1);
    assert_string_equal(out.account_id, "alice");
    assert_string_equal(out.name, "laptop");
    assert_memory_equal(out.mac, p.mac, KURA_META_MAC_BYTES);
    assert_true(out.read_write);
    assert_int_equal(out.created_at, 1001);
    assert_int_equal(out.expires_at, 50000);
    assert_int_equal(out.last_used_at, 0);
    assert_null(out.last_used_ip);
    assert_int_equal(out.revoked_at, 0);
    kura_app_password_release(&out);
    kura_app_password_release(&out);

    assert_int_equal(kura_meta_app_password_touch(m, id1, 7000, "198.51.100.4"), 0);
    assert_int_equal(kura_meta_app_password_touch(m, 9999, 7000, NULL), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_app_password_find(m, p.mac, &out), 0);
    assert_int_equal(out.last_used_at, 7000);
    assert_string_equal(out.last_used_ip, "198.51.100.4");
    kura_app_password_release(&out);

    /* Revoke: only the owner, only once; the row stays findable; the name is free again. */
    assert_int_equal(kura_meta_app_password_revoke(m, "bob", id1, 8000), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_app_password_revoke(m, "alice", id1, 8000), 0);
    assert_int_equal(kura_meta_app_password_revoke(m, "alice", id1, 8001), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_app_password_revoke(m, "alice", 9999, 8001), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_app_password_revoke(m, "nobody", id1, 8001), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_app_password_find(m, p.mac, &out), 0);
    assert_int_equal(out.revoked_at, 8000);
    kura_app_password_release(&out);
    assert_int_equal(kura_meta_app_password_create(m, &dup_name, &id3), 0);

    struct pw_list l = {0};
    assert_int_equal(kura_meta_app_password_list(m, "alice", collect_pw, &l), 0);
    assert_int_equal(l.n, 2); /* revoked ones are listed too, in id order */
    assert_int_equal(l.ids[0], id1);
    assert_int_equal(l.revoked[0], 8000);
    assert_int_equal(l.ids[1], id3);
    assert_int_equal(l.revoked[1], 0);
    assert_int_equal(kura_meta_app_password_list(m, "nobody", collect_pw, &l), KURA_ENOTFOUND);

    uint8_t absent[KURA_META_MAC_BYTES];
    mac_of(absent, 999);
    assert_int_equal(kura_meta_app_password_find(m, absent, &out), KURA_ENOTFOUND);
    struct kura_app_password bad = app_password_of(5, "alice", "");
    assert_int_equal(kura_meta_app_password_create(m, &bad, &id3), -EINVAL);
    char long_name[130];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    bad.name = long_name;
    assert_int_equal(kura_meta_app_password_create(m, &bad, &id3), KURA_ETOOBIG);
    long_name[128] = '\0';
    assert_int_equal(kura_meta_app_password_create(m, &bad, &id3), 0);
    bad = app_password_of(6, "nobody", "x");
    assert_int_equal(kura_meta_app_password_create(m, &bad, &id3), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_app_password_revoke(m, "alice", id3, 0), -EINVAL);
}

/* ---- the ledger --------------------------------------------------------------------------- */

struct entries {
    uint64_t seq[8];
    char targets[8][16];
    unsigned n;
};

static int collect_entry(void *ctx, const struct kura_ledger_entry *e)
{
    struct entries *l = ctx;
    l->seq[l->n] = e->seq;
    (void)snprintf(l->targets[l->n++], sizeof(l->targets[0]), "%s", e->target);
    return 0;
}

static void test_ledger(void **state)
{
    struct kura_meta *m = store(state);
    struct kura_ledger_entry e = {.at = 1000,
                                  .actor = "user:admin",
                                  .target = "alice",
                                  .action = "roles",
                                  .before = "{\"roles\":[\"user\"]}",
                                  .after = "{\"roles\":[\"user\",\"pi\"]}",
                                  .reason = "申請 #12",
                                  .request_id = "req-1"};
    uint64_t s1 = 0, s2 = 0, s3 = 0;
    assert_int_equal(kura_meta_ledger_append(m, &e, &s1), 0);
    e.target = "bob";
    e.reason = NULL;
    e.request_id = NULL;
    e.before = e.after = "{}";
    assert_int_equal(kura_meta_ledger_append(m, &e, &s2), 0);
    e.target = "alice";
    e.action = "lock";
    assert_int_equal(kura_meta_ledger_append(m, &e, &s3), 0);
    assert_true(s1 < s2 && s2 < s3);

    struct entries l = {0};
    assert_int_equal(kura_meta_ledger_list(m, NULL, collect_entry, &l), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.seq[0], s1);
    assert_int_equal(l.seq[2], s3);
    l = (struct entries){0};
    assert_int_equal(kura_meta_ledger_list(m, "alice", collect_entry, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.seq[1], s3);
    l = (struct entries){0};
    assert_int_equal(kura_meta_ledger_list(m, "nobody", collect_entry, &l), 0);
    assert_int_equal(l.n, 0);

    /* A rolled-back transaction takes its entry with it. */
    assert_int_equal(kura_meta_txn_begin(m), 0);
    assert_int_equal(kura_meta_ledger_append(m, &e, NULL), 0);
    kura_meta_txn_rollback(m);
    l = (struct entries){0};
    assert_int_equal(kura_meta_ledger_list(m, NULL, collect_entry, &l), 0);
    assert_int_equal(l.n, 3);

    const char *bad_json[] = {"", "{", "[]", "null", "{\"a\":1}\x01", "{\"a\":\"\x1b\"}", "{\xff}"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad_json); i++) {
        struct kura_ledger_entry b = e;
        b.after = bad_json[i];
        assert_int_equal(kura_meta_ledger_append(m, &b, NULL), -EINVAL);
    }
    struct kura_ledger_entry b = e;
    b.before = NULL;
    assert_int_equal(kura_meta_ledger_append(m, &b, NULL), -EINVAL);
    b = e;
    b.actor = "";
    assert_int_equal(kura_meta_ledger_append(m, &b, NULL), -EINVAL);
    b = e;
    b.action = NULL;
    assert_int_equal(kura_meta_ledger_append(m, &b, NULL), -EINVAL);
    b = e;
    b.at = -1;
    assert_int_equal(kura_meta_ledger_append(m, &b, NULL), -EINVAL);
    /* Pretty-printed JSON is still JSON. */
    b = e;
    b.after = "{\n\t\"a\": 1\r\n}";
    assert_int_equal(kura_meta_ledger_append(m, &b, NULL), 0);

    char *big = kura_malloc(KURA_META_JSON_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', KURA_META_JSON_MAX + 1);
    big[0] = '{';
    big[KURA_META_JSON_MAX] = '}';
    big[KURA_META_JSON_MAX + 1] = '\0';
    b.after = big;
    assert_int_equal(kura_meta_ledger_append(m, &b, NULL), KURA_ETOOBIG);
    big[KURA_META_JSON_MAX - 1] = '}';
    big[KURA_META_JSON_MAX] = '\0';
    assert_int_equal(kura_meta_ledger_append(m, &b, NULL), 0);
    kura_free(big);
}

/* ---- arguments ---------------------------------------------------------------------------- */

static int never_hash(void *ctx, const char *hash)
{
    (void)ctx;
    (void)hash;
    fail_msg("callback called");
    return 0;
}

static int never_session(void *ctx, const struct kura_session *s)
{
    return never_hash(ctx, s->account_id);
}

static int never_app_password(void *ctx, const struct kura_app_password *p)
{
    return never_hash(ctx, p->name);
}

/* Every function taking an account ID: bad IDs are -EINVAL / KURA_ETOOBIG before the backend,
 * unknown ones KURA_ENOTFOUND. */
static void test_identity_ids(void **state)
{
    struct kura_meta *m = store(state);
    char long_id[KURA_META_ID_MAX + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    const struct {
        const char *id;
        int want;
    } ids[] = {{NULL, -EINVAL},   {"", -EINVAL},           {"a\tb", -EINVAL},
               {"\xc3", -EINVAL}, {long_id, KURA_ETOOBIG}, {"nobody", KURA_ENOTFOUND}};
    uint8_t mac[KURA_META_MAC_BYTES];
    mac_of(mac, 1);
    for (size_t i = 0; i < KURA_ARRAY_SIZE(ids); i++) {
        const char *id = ids[i].id;
        int want = ids[i].want;
        print_message("id case %zu\n", i);
        struct kura_account_auth a;
        uint32_t n;
        bool locked;
        uint64_t u;
        assert_int_equal(kura_meta_auth_get(m, id, &a), want);
        assert_int_equal(kura_meta_auth_attempt(m, id, 3, 1, &n), want);
        assert_int_equal(kura_meta_auth_failed(m, id, 3, 1, 0, &locked), want);
        assert_int_equal(kura_meta_auth_succeeded(m, id, 1, NULL), want);
        assert_int_equal(kura_meta_auth_unlock(m, id), want);
        assert_int_equal(kura_meta_auth_set_totp(m, id, mac, 8, 1), want);
        assert_int_equal(kura_meta_auth_use_totp_step(m, id, 1), want);
        assert_int_equal(kura_meta_recovery_set(m, id, NULL, 0), want);
        assert_int_equal(kura_meta_recovery_use(m, id, mac, 1), want);
        assert_int_equal(kura_meta_password_history_add(m, id, "$h", 1, 1), want);
        assert_int_equal(kura_meta_password_history_list(m, id, never_hash, NULL), want);
        assert_int_equal(kura_meta_session_delete_account(m, id, NULL, &u), want);
        assert_int_equal(kura_meta_session_list(m, id, never_session, NULL), want);
        assert_int_equal(kura_meta_app_password_list(m, id, never_app_password, NULL), want);
        assert_int_equal(kura_meta_app_password_revoke(m, id, 1, 1), want);
        struct kura_session s = session_of(1, id);
        assert_int_equal(kura_meta_session_create(m, &s), want);
        struct kura_app_password p = app_password_of(1, id, "x");
        assert_int_equal(kura_meta_app_password_create(m, &p, &u), want);
    }
    /* Nothing of the above left a trace. */
    struct kura_account_auth a = auth_of(m, "alice");
    assert_auth_zero(&a);
    assert_int_equal(kura_meta_session_get(m, NULL, NULL), -EINVAL);
    assert_int_equal(kura_meta_app_password_find(m, NULL, NULL), -EINVAL);
}

static void test_break_glass(void **state)
{
    struct kura_meta *m = store(state);
    struct kura_break_glass b;
    assert_int_equal(kura_meta_break_glass_get(m, "alice", &b), KURA_ENOTFOUND);
    struct kura_break_glass none = {0};
    assert_int_equal(kura_meta_break_glass_put(m, "nobody", &none), KURA_ENOTFOUND);
    assert_int_equal(kura_meta_break_glass_put(m, "alice", &none), 0);
    assert_int_equal(kura_meta_break_glass_get(m, "alice", &b), 0);
    assert_string_equal(b.requested_by, "");
    assert_int_equal(b.enabled_until, 0);
    struct kura_break_glass req = {
        .requested_by = "user:admin", .requested_at = 5000, .minutes = 60};
    assert_int_equal(kura_meta_break_glass_put(m, "alice", &req), 0);
    assert_int_equal(kura_meta_break_glass_get(m, "alice", &b), 0);
    assert_string_equal(b.requested_by, "user:admin");
    assert_int_equal(b.requested_at, 5000);
    assert_int_equal(b.minutes, 60);
    struct kura_break_glass on = {.enabled_until = 9000, .enabled_by = "user:admin,cli:root"};
    assert_int_equal(kura_meta_break_glass_put(m, "alice", &on), 0);
    assert_int_equal(kura_meta_break_glass_get(m, "alice", &b), 0);
    assert_string_equal(b.requested_by, "");
    assert_int_equal(b.enabled_until, 9000);
    assert_string_equal(b.enabled_by, "user:admin,cli:root");
    /* A request needs both who and when; minutes stay within a day. */
    struct kura_break_glass bad = {.requested_by = "user:x"};
    assert_int_equal(kura_meta_break_glass_put(m, "alice", &bad), -EINVAL);
    bad = (struct kura_break_glass){.minutes = 1441};
    assert_int_equal(kura_meta_break_glass_put(m, "alice", &bad), -EINVAL);
    /* A sealed credential rides along with the rest of the row, and can be cleared. */
    struct kura_break_glass sealed = {.sealed = true, .sealed_minutes = 240, .sealed_at = 7000};
    memset(sealed.sealed_mac, 0xa5, sizeof(sealed.sealed_mac));
    assert_int_equal(kura_meta_break_glass_put(m, "alice", &sealed), 0);
    assert_int_equal(kura_meta_break_glass_get(m, "alice", &b), 0);
    assert_true(b.sealed);
    assert_int_equal(b.sealed_minutes, 240);
    assert_int_equal(b.sealed_at, 7000);
    assert_memory_equal(b.sealed_mac, sealed.sealed_mac, sizeof(b.sealed_mac));
    assert_int_equal(kura_meta_break_glass_put(m, "alice", &none), 0);
    assert_int_equal(kura_meta_break_glass_get(m, "alice", &b), 0);
    assert_false(b.sealed);
    bad = (struct kura_break_glass){.sealed = true, .sealed_minutes = 1441, .sealed_at = 1};
    assert_int_equal(kura_meta_break_glass_put(m, "alice", &bad), -EINVAL);
}

static void test_source_lockout(void **state)
{
    struct kura_meta *m = store(state);
    uint32_t failed = 0;
    bool locked = false;
    for (uint32_t i = 1; i <= 3; i++) {
        assert_int_equal(kura_meta_source_attempt(m, "alice", "192.0.2.1", 3, 1000, &failed), 0);
        assert_int_equal(failed, i);
    }
    assert_int_equal(kura_meta_source_attempt(m, "alice", "192.0.2.1", 3, 1000, &failed),
                     KURA_EFORBIDDEN);
    assert_int_equal(kura_meta_source_failed(m, "alice", "192.0.2.1", 3, 1000, 5000, &locked), 0);
    assert_true(locked);
    assert_int_equal(kura_meta_source_failed(m, "alice", "192.0.2.1", 3, 1001, 5000, &locked), 0);
    assert_false(locked); /* locked once */
    /* Another address and the account-wide count are untouched. */
    assert_int_equal(kura_meta_source_attempt(m, "alice", "192.0.2.2", 3, 1000, &failed), 0);
    assert_int_equal(failed, 1);
    struct kura_account_auth a = auth_of(m, "alice");
    assert_int_equal(a.failed_logins, 0);
    /* A timed lock lifts itself; clear ends one source, NULL every source. */
    assert_int_equal(kura_meta_source_attempt(m, "alice", "192.0.2.1", 3, 6000, &failed), 0);
    assert_int_equal(failed, 1);
    assert_int_equal(kura_meta_source_clear(m, "alice", "192.0.2.2"), 0);
    assert_int_equal(kura_meta_source_attempt(m, "alice", "192.0.2.2", 3, 7000, &failed), 0);
    assert_int_equal(failed, 1);
    assert_int_equal(kura_meta_source_clear(m, "alice", NULL), 0);
    assert_int_equal(kura_meta_source_attempt(m, "alice", "192.0.2.1", 3, 7000, &failed), 0);
    assert_int_equal(failed, 1);
    /* A spray from more addresses than are kept cannot push a lock out. */
    for (uint32_t i = 0; i < 2; i++) { /* the second and third: at the threshold */
        assert_int_equal(kura_meta_source_attempt(m, "alice", "192.0.2.1", 3, 7000, &failed), 0);
    }
    assert_int_equal(kura_meta_source_failed(m, "alice", "192.0.2.1", 3, 7000, 0, &locked), 0);
    assert_true(locked);
    char src[32];
    for (int i = 0; i < KURA_META_SOURCES_MAX + 44; i++) {
        (void)snprintf(src, sizeof(src), "10.0.%d.%d", i / 256, i % 256);
        assert_int_equal(kura_meta_source_attempt(m, "alice", src, 3, 8000 + i, &failed), 0);
    }
    assert_int_equal(kura_meta_source_attempt(m, "alice", "192.0.2.1", 3, 9000, &failed),
                     KURA_EFORBIDDEN);
    assert_int_equal(kura_meta_source_attempt(m, "nobody", "192.0.2.1", 3, 7000, &failed),
                     KURA_ENOTFOUND);
    assert_int_equal(kura_meta_source_attempt(m, "alice", "", 3, 7000, &failed), -EINVAL);
}

int meta_contract_identity_run(const struct meta_contract_fixture *f)
{
    fx = f;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_account_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_totp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_lock_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_attempt_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_bulk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_passwords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_break_glass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_lockout, setup, teardown),
    };
    char name[64];
    (void)snprintf(name, sizeof(name), "meta-contract-identity-%s", f->backend);
    return _cmocka_run_group_tests(name, tests, KURA_ARRAY_SIZE(tests), NULL, NULL);
}
