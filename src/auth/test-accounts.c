/* Unit tests for account administration (accounts.c): every change leaves exactly one ledger
 * row with what changed, on a temporary SQLite database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/test-db.h"

static const struct kura_pwhash_params fast = {crypto_pwhash_OPSLIMIT_MIN,
                                               crypto_pwhash_MEMLIMIT_MIN};
static uint8_t pepper[KURA_PEPPER_BYTES];
static const struct kura_auth_keys keys = {&fast, pepper};
static struct test_db db;

static int setup(void **state)
{
    memset(pepper, 0x42, sizeof(pepper));
    *state = test_db_open(&db, "auth-accounts");
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    int r = test_db_close(&db, *state);
    *state = NULL;
    return r;
}

struct rows {
    size_t n;
    char action[16][32];
    char after[16][512];
    char before[16][512];
    char actor[16][64];
};

static int collect(void *ctx, const struct kura_ledger_entry *e)
{
    struct rows *rows = ctx;
    if (rows->n < 16) {
        (void)snprintf(rows->action[rows->n], sizeof(rows->action[0]), "%s", e->action);
        (void)snprintf(rows->after[rows->n], sizeof(rows->after[0]), "%s", e->after);
        (void)snprintf(rows->before[rows->n], sizeof(rows->before[0]), "%s", e->before);
        (void)snprintf(rows->actor[rows->n], sizeof(rows->actor[0]), "%s", e->actor);
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

static const struct kura_auth_change admin = {"cli:root", "ticket 42", "req-1", 1795000000000};

static void add_alice(struct kura_meta *m)
{
    const struct kura_account a = {.id = "alice",
                                   .display_name = "Alice Tanaka",
                                   .email = "alice@example.org",
                                   .roles = KURA_ROLE_USER};
    char otp[KURA_PASSWORD_GEN_LEN + 1];
    assert_int_equal(kura_auth_account_add(m, &admin, &a, NULL, &keys, otp, sizeof(otp)), 0);
    assert_int_equal(strlen(otp), KURA_PASSWORD_GEN_LEN);
    struct kura_account got = {0};
    assert_int_equal(kura_meta_account_get(m, "alice", &got), 0);
    assert_true(got.must_change_password);
    assert_int_equal(kura_password_verify(&fast, pepper, got.password_hash, otp, strlen(otp), NULL),
                     0);
    kura_account_release(&got);
    sodium_memzero(otp, sizeof(otp));
}

static void test_every_change_one_row(void **state)
{
    struct kura_meta *m = *state;
    add_alice(m);
    struct rows r = ledger_of(m, "alice");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.action[0], "create");
    assert_string_equal(r.actor[0], "cli:root");
    assert_non_null(strstr(r.after[0], "\"roles\":[\"user\"]"));
    assert_null(strstr(r.after[0], "argon2")); /* never the hash */

    assert_int_equal(kura_auth_account_set_roles(m, &admin, "alice", KURA_ROLE_USER | KURA_ROLE_PI),
                     0);
    /* The same roles again: nothing changes, no row. */
    assert_int_equal(kura_auth_account_set_roles(m, &admin, "alice", KURA_ROLE_USER | KURA_ROLE_PI),
                     1);
    assert_int_equal(kura_auth_account_set_status(m, &admin, "alice", KURA_ACCOUNT_STATUS_DISABLED),
                     0);
    assert_int_equal(kura_auth_account_set_status(m, &admin, "alice", KURA_ACCOUNT_STATUS_ACTIVE),
                     0);
    const struct kura_account f = {
        .id = "alice", .email = "alice@example.jp", .valid_from = -1, .valid_until = 1800000000000};
    assert_int_equal(kura_auth_account_set_fields(m, &admin, &f), 0);
    assert_int_equal(kura_auth_account_unlock(m, &admin, "alice"), 0);
    const struct kura_auth_verification how = {"callback", "called the registered phone"};
    char otp[KURA_PASSWORD_GEN_LEN + 1];
    assert_int_equal(kura_auth_reset_password(m, &admin, "alice", &how, &keys, otp, sizeof(otp)),
                     0);
    assert_int_equal(kura_auth_reset_mfa(m, &admin, "alice", &how), 0);
    r = ledger_of(m, "alice");
    assert_int_equal(r.n, 8);
    static const char *const actions[] = {"create", "roles",  "disable",        "enable",
                                          "update", "unlock", "reset_password", "reset_mfa"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(actions); i++) {
        assert_string_equal(r.action[i], actions[i]);
    }
    /* Only what changed, before and after. */
    assert_string_equal(r.before[1], "{\"roles\":[\"user\"]}");
    assert_string_equal(r.after[1], "{\"roles\":[\"user\",\"pi\"]}");
    assert_string_equal(r.before[2], "{\"status\":\"active\"}");
    assert_string_equal(r.after[2], "{\"status\":\"disabled\"}");
    assert_non_null(strstr(r.after[4], "alice@example.jp"));
    assert_non_null(strstr(r.after[4], "1800000000000"));
    assert_null(strstr(r.after[4], "display_name"));
    assert_non_null(strstr(r.after[6], "\"verified_by\":\"callback\""));
    assert_non_null(strstr(r.after[7], "\"totp_removed\":true"));
    sodium_memzero(otp, sizeof(otp));
}

static void test_refusals(void **state)
{
    struct kura_meta *m = *state;
    add_alice(m);
    const struct kura_account dup = {.id = "alice", .roles = KURA_ROLE_USER};
    const struct kura_account bad = {.id = "../x", .roles = KURA_ROLE_USER};
    const struct kura_account none = {.id = "bob", .roles = 0};
    char otp[KURA_PASSWORD_GEN_LEN + 1];
    assert_int_equal(kura_auth_account_add(m, &admin, &dup, NULL, &keys, otp, sizeof(otp)),
                     KURA_EEXIST);
    assert_int_equal(kura_auth_account_add(m, &admin, &bad, NULL, &keys, otp, sizeof(otp)),
                     KURA_ESYNTAX);
    assert_int_equal(kura_auth_account_add(m, &admin, &none, NULL, &keys, otp, sizeof(otp)),
                     -EINVAL);
    assert_int_equal(kura_auth_account_set_roles(m, &admin, "nobody", KURA_ROLE_USER),
                     KURA_ENOTFOUND);
    assert_int_equal(kura_auth_account_set_roles(m, &admin, "alice", 0), -EINVAL);
    const struct kura_auth_verification none_how = {"", ""};
    assert_int_equal(
        kura_auth_reset_password(m, &admin, "alice", &none_how, &keys, otp, sizeof(otp)), -EINVAL);
    /* A deleted ID stays reserved and cannot be changed again. */
    assert_int_equal(kura_auth_account_set_status(m, &admin, "alice", KURA_ACCOUNT_STATUS_DELETED),
                     0);
    assert_int_equal(kura_auth_account_set_status(m, &admin, "alice", KURA_ACCOUNT_STATUS_ACTIVE),
                     KURA_ENOTFOUND);
    assert_int_equal(kura_auth_account_add(m, &admin, &dup, NULL, &keys, otp, sizeof(otp)),
                     KURA_EEXIST);
    /* Refusals leave no ledger rows: create and delete only. */
    struct rows r = ledger_of(m, "alice");
    assert_int_equal(r.n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_change_one_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
