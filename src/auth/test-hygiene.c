/* Unit tests for the account hygiene job (hygiene.c) on a temporary SQLite database: expiry,
 * inactivity (never logged in, logged in long ago, recently, re-enabled), password age, the last
 * administrator, the ledger rows, and a second run that changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/test-db.h"
#include "auth/policy.h"

#define DAY (24LL * 60 * 60 * 1000)
#define T0 1795000000000LL

static const struct kura_pwhash_params fast = {crypto_pwhash_OPSLIMIT_MIN,
                                               crypto_pwhash_MEMLIMIT_MIN};
static uint8_t pepper[KURA_PEPPER_BYTES];
static const struct kura_auth_keys keys = {&fast, pepper};
static struct test_db db;

static int setup(void **state)
{
    memset(pepper, 0x42, sizeof(pepper));
    *state = test_db_open(&db, "auth-hygiene");
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    int r = test_db_close(&db, *state);
    *state = NULL;
    return r;
}

/* ---- fixtures ------------------------------------------------------------------------------ */

/* Creates an account at `at` (its created_at and password_changed_at) with a one-time password
 * that must be changed, as `kura user add` does. */
static void add(struct kura_meta *m, const char *id, unsigned roles, int64_t at,
                int64_t valid_until)
{
    const struct kura_auth_change c = {"cli:root", "test", NULL, at};
    const struct kura_account a = {.id = id, .roles = roles, .valid_until = valid_until};
    char otp[KURA_PASSWORD_GEN_LEN + 1];
    assert_int_equal(kura_auth_account_add(m, &c, &a, NULL, &keys, otp, sizeof(otp)), 0);
    sodium_memzero(otp, sizeof(otp));
}

static void login_at(struct kura_meta *m, const char *id, int64_t at)
{
    assert_int_equal(kura_meta_auth_succeeded(m, id, at, "192.0.2.1"), 0);
}

/* The person chose a password at `at` (no change pending any more). */
static void password_set_at(struct kura_meta *m, const char *id, int64_t at)
{
    struct kura_account a = {0};
    assert_int_equal(kura_meta_account_get(m, id, &a), 0);
    a.must_change_password = false;
    a.password_changed_at = at;
    assert_int_equal(kura_meta_account_update(m, &a), 0);
    kura_account_release(&a);
}

static enum kura_account_status status_of(struct kura_meta *m, const char *id)
{
    struct kura_account a = {0};
    assert_int_equal(kura_meta_account_get(m, id, &a), 0);
    enum kura_account_status s = a.status;
    kura_account_release(&a);
    return s;
}

static bool must_change(struct kura_meta *m, const char *id)
{
    struct kura_account a = {0};
    assert_int_equal(kura_meta_account_get(m, id, &a), 0);
    bool b = a.must_change_password;
    kura_account_release(&a);
    return b;
}

struct rows {
    size_t n;
    char action[8][32];
    char actor[8][64];
    char reason[8][64];
    char after[8][256];
};

static int collect(void *ctx, const struct kura_ledger_entry *e)
{
    struct rows *rows = ctx;
    if (rows->n < 8) {
        (void)snprintf(rows->action[rows->n], sizeof(rows->action[0]), "%s", e->action);
        (void)snprintf(rows->actor[rows->n], sizeof(rows->actor[0]), "%s", e->actor);
        (void)snprintf(rows->reason[rows->n], sizeof(rows->reason[0]), "%s", e->reason);
        (void)snprintf(rows->after[rows->n], sizeof(rows->after[0]), "%s", e->after);
    }
    rows->n++;
    return 0;
}

static struct rows ledger_of(struct kura_meta *m, const char *id)
{
    struct rows rows = {0};
    assert_int_equal(kura_meta_ledger_list(m, id, collect, &rows), 0);
    return rows;
}

/* The last ledger row of id is the hygiene job's, with this action and reason. */
static void assert_last_row(struct kura_meta *m, const char *id, size_t n, const char *action,
                            const char *reason)
{
    struct rows r = ledger_of(m, id);
    assert_int_equal(r.n, n);
    assert_string_equal(r.action[n - 1], action);
    assert_string_equal(r.actor[n - 1], KURA_AUTH_HYGIENE_ACTOR);
    assert_string_equal(r.reason[n - 1], reason);
}

static const struct kura_password_policy *policy(const char *name)
{
    const struct kura_password_policy *p = kura_password_policy_by_name(name);
    assert_non_null(p);
    return p;
}

/* Runs the job and checks that it succeeded. */
static struct kura_auth_hygiene_report run(struct kura_meta *m, const char *profile,
                                           uint64_t inactive_days, int64_t now)
{
    struct kura_auth_hygiene_report rep;
    assert_int_equal(kura_auth_hygiene(m, policy(profile), inactive_days, now, &rep), 0);
    return rep;
}

static void assert_nothing_done(struct kura_meta *m, const char *profile, uint64_t inactive_days,
                                int64_t now)
{
    struct kura_auth_hygiene_report rep = run(m, profile, inactive_days, now);
    assert_int_equal(rep.n, 0);
    kura_auth_hygiene_report_release(&rep);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_expiry(void **state)
{
    struct kura_meta *m = *state;
    add(m, "temp", KURA_ROLE_USER, T0, T0 + 10 * DAY);
    add(m, "perm", KURA_ROLE_USER, T0, T0 + 100 * DAY);
    login_at(m, "temp", T0 + 9 * DAY);
    login_at(m, "perm", T0 + 9 * DAY);
    assert_nothing_done(m, "kura-default", 90, T0 + 10 * DAY - 1);

    struct kura_auth_hygiene_report rep = run(m, "kura-default", 90, T0 + 10 * DAY);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.changes[0].id, "temp");
    assert_int_equal(rep.changes[0].action, KURA_AUTH_HYGIENE_EXPIRE);
    assert_string_equal(rep.kept_admin, "");
    kura_auth_hygiene_report_release(&rep);
    assert_null(rep.changes);

    assert_int_equal(status_of(m, "temp"), KURA_ACCOUNT_STATUS_EXPIRED);
    assert_int_equal(status_of(m, "perm"), KURA_ACCOUNT_STATUS_ACTIVE);
    assert_last_row(m, "temp", 2, "expire", "valid_until passed");
    assert_string_equal(ledger_of(m, "temp").after[1], "{\"status\":\"expired\"}");
    assert_int_equal(ledger_of(m, "perm").n, 1);
    /* Idempotent: the second run finds nothing, and writes no ledger row. */
    assert_nothing_done(m, "kura-default", 90, T0 + 10 * DAY);
    assert_int_equal(ledger_of(m, "temp").n, 2);
}

static void test_inactivity(void **state)
{
    struct kura_meta *m = *state;
    add(m, "root", KURA_ROLE_ADMIN | KURA_ROLE_USER, T0, 0);
    add(m, "alice", KURA_ROLE_USER, T0, 0); /* never logs in */
    add(m, "bob", KURA_ROLE_USER, T0, 0);
    add(m, "carol", KURA_ROLE_USER, T0, 0);
    add(m, "dora", KURA_ROLE_USER, T0 + 30 * DAY, 0); /* created later, never logs in */
    login_at(m, "root", T0 + 85 * DAY);
    login_at(m, "bob", T0 + 80 * DAY);
    login_at(m, "carol", T0 + DAY);
    /* inactive_days 0 turns the rule off; 89 days are not 90. */
    assert_nothing_done(m, "kura-default", 0, T0 + 1000 * DAY);
    assert_nothing_done(m, "kura-default", 90, T0 + 90 * DAY - 1);

    struct kura_auth_hygiene_report rep = run(m, "kura-default", 90, T0 + 91 * DAY);
    assert_int_equal(rep.n, 2);
    assert_string_equal(rep.changes[0].id, "alice");
    assert_int_equal(rep.changes[0].action, KURA_AUTH_HYGIENE_DISABLE);
    assert_int_equal(rep.changes[0].last_used_at, T0); /* never logged in: created_at */
    assert_string_equal(rep.changes[1].id, "carol");
    assert_int_equal(rep.changes[1].last_used_at, T0 + DAY);
    kura_auth_hygiene_report_release(&rep);
    assert_int_equal(status_of(m, "alice"), KURA_ACCOUNT_STATUS_DISABLED);
    assert_int_equal(status_of(m, "carol"), KURA_ACCOUNT_STATUS_DISABLED);
    assert_int_equal(status_of(m, "bob"), KURA_ACCOUNT_STATUS_ACTIVE);
    assert_int_equal(status_of(m, "dora"), KURA_ACCOUNT_STATUS_ACTIVE);
    assert_int_equal(status_of(m, "root"), KURA_ACCOUNT_STATUS_ACTIVE);
    assert_last_row(m, "alice", 2, "disable", "unused for 90 days");
    assert_last_row(m, "carol", 2, "disable", "unused for 90 days");
    assert_nothing_done(m, "kura-default", 90, T0 + 91 * DAY);

    /* An administrator re-enables alice: she gets her 90 days again, not one more night. */
    const struct kura_auth_change admin = {"cli:root", "back from leave", NULL, T0 + 92 * DAY};
    assert_int_equal(kura_auth_account_set_status(m, &admin, "alice", KURA_ACCOUNT_STATUS_ACTIVE),
                     0);
    assert_nothing_done(m, "kura-default", 90, T0 + 93 * DAY);
    rep = run(m, "kura-default", 90, T0 + 182 * DAY);
    /* alice (re-enabled at 92), bob (80), dora (created at 30); root is the last admin. */
    assert_int_equal(rep.n, 3);
    assert_string_equal(rep.changes[0].id, "alice");
    assert_int_equal(rep.changes[0].last_used_at, T0 + 92 * DAY);
    assert_string_equal(rep.changes[1].id, "bob");
    assert_string_equal(rep.changes[2].id, "dora");
    assert_string_equal(rep.kept_admin, "root");
    kura_auth_hygiene_report_release(&rep);
    assert_last_row(m, "alice", 4, "disable", "unused for 90 days");
}

static void test_password_max_age(void **state)
{
    struct kura_meta *m = *state;
    add(m, "dave", KURA_ROLE_USER, T0, 0);
    add(m, "erin", KURA_ROLE_USER, T0, 0); /* still on the one-time password */
    add(m, "frank", KURA_ROLE_USER, T0, 0);
    password_set_at(m, "dave", T0);
    password_set_at(m, "frank", T0 + 100 * DAY);
    assert_int_equal(policy("ccat")->max_age_days, 180);
    /* No expiry in the default profile; none in ccat before 180 days. */
    assert_nothing_done(m, "kura-default", 0, T0 + 1000 * DAY);
    assert_nothing_done(m, "ccat", 0, T0 + 180 * DAY - 1);

    struct kura_auth_hygiene_report rep = run(m, "ccat", 0, T0 + 181 * DAY);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.changes[0].id, "dave");
    assert_int_equal(rep.changes[0].action, KURA_AUTH_HYGIENE_PASSWORD_EXPIRED);
    kura_auth_hygiene_report_release(&rep);
    assert_true(must_change(m, "dave"));
    assert_false(must_change(m, "frank"));
    assert_int_equal(status_of(m, "dave"), KURA_ACCOUNT_STATUS_ACTIVE);
    assert_last_row(m, "dave", 2, "password_expired", "password older than 180 days");
    assert_string_equal(ledger_of(m, "dave").after[1], "{\"must_change_password\":true}");
    assert_int_equal(ledger_of(m, "erin").n, 1);
    assert_nothing_done(m, "ccat", 0, T0 + 181 * DAY);
    /* Called directly when already set: nothing to change (1), no row. */
    const struct kura_auth_change c = {KURA_AUTH_HYGIENE_ACTOR, "again", NULL, T0 + 182 * DAY};
    assert_int_equal(kura_auth_account_require_password_change(m, &c, "dave"), 1);
    assert_int_equal(ledger_of(m, "dave").n, 2);
    assert_int_equal(kura_auth_account_require_password_change(m, &c, "nobody"), KURA_ENOTFOUND);
}

static void test_last_admin_is_kept(void **state)
{
    struct kura_meta *m = *state;
    add(m, "adm1", KURA_ROLE_ADMIN | KURA_ROLE_USER, T0, 0);
    add(m, "adm2", KURA_ROLE_ADMIN, T0, 0);
    add(m, "adm3", KURA_ROLE_ADMIN, T0, 0);
    add(m, "user", KURA_ROLE_USER, T0, 0);
    login_at(m, "adm1", T0 + 5 * DAY);
    login_at(m, "adm2", T0 + 3 * DAY);
    login_at(m, "adm3", T0 + 150 * DAY);
    /* adm3 is in use: the dormant administrators are disabled like anyone else. */
    struct kura_auth_hygiene_report rep = run(m, "kura-default", 90, T0 + 200 * DAY);
    assert_int_equal(rep.n, 3);
    assert_string_equal(rep.changes[0].id, "adm1");
    assert_string_equal(rep.changes[1].id, "adm2");
    assert_string_equal(rep.changes[2].id, "user");
    assert_string_equal(rep.kept_admin, "");
    kura_auth_hygiene_report_release(&rep);

    /* Later adm3 is dormant too, and the last usable administrator: kept, and reported at
     * every run. An administrator past valid_until expires all the same. */
    add(m, "adm4", KURA_ROLE_ADMIN, T0 + 260 * DAY, T0 + 280 * DAY);
    rep = run(m, "kura-default", 90, T0 + 300 * DAY);
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.changes[0].id, "adm4");
    assert_int_equal(rep.changes[0].action, KURA_AUTH_HYGIENE_EXPIRE);
    assert_string_equal(rep.kept_admin, "adm3");
    kura_auth_hygiene_report_release(&rep);
    assert_int_equal(status_of(m, "adm3"), KURA_ACCOUNT_STATUS_ACTIVE);
    assert_int_equal(ledger_of(m, "adm3").n, 1);
    rep = run(m, "kura-default", 90, T0 + 300 * DAY);
    assert_int_equal(rep.n, 0);
    assert_string_equal(rep.kept_admin, "adm3");
    kura_auth_hygiene_report_release(&rep);
}

static void test_several_dormant_admins_keep_the_latest(void **state)
{
    struct kura_meta *m = *state;
    add(m, "a1", KURA_ROLE_ADMIN, T0, 0);
    add(m, "a2", KURA_ROLE_ADMIN, T0, 0);
    add(m, "a3", KURA_ROLE_ADMIN, T0, 0);
    login_at(m, "a1", T0 + 2 * DAY);
    login_at(m, "a2", T0 + 7 * DAY);
    login_at(m, "a3", T0 + 4 * DAY);
    struct kura_auth_hygiene_report rep = run(m, "ccat", 90, T0 + 365 * DAY);
    assert_int_equal(rep.n, 2);
    assert_string_equal(rep.changes[0].id, "a1");
    assert_string_equal(rep.changes[1].id, "a3");
    assert_string_equal(rep.kept_admin, "a2");
    kura_auth_hygiene_report_release(&rep);
    assert_int_equal(status_of(m, "a2"), KURA_ACCOUNT_STATUS_ACTIVE);
}

static void test_refusals(void **state)
{
    struct kura_meta *m = *state;
    struct kura_auth_hygiene_report rep;
    assert_int_equal(
        kura_auth_hygiene(m, policy("kura-default"), KURA_AUTH_INACTIVE_DAYS_MAX + 1, T0, &rep),
        -EINVAL);
    assert_int_equal(rep.n, 0);
    assert_null(rep.changes);
    kura_auth_hygiene_report_release(&rep);
    /* An empty database: nothing to do. */
    assert_nothing_done(m, "kura-default", 90, T0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inactivity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_max_age, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_admin_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_dormant_admins_keep_the_latest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
