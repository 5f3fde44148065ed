/* Unit tests for logins and sessions (login.c, session.c) on a temporary SQLite database:
 * uniform refusals with their audit reasons, lockout at exactly N, back-off, enrolment
 * sessions, TOTP with replay protection, recovery codes, timeouts, CSRF, elevation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <ctype.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/policy.h"
#include "auth/test-db.h"
#include "auth/throttle.h"

static const struct kura_pwhash_params fast = {crypto_pwhash_OPSLIMIT_MIN,
                                               crypto_pwhash_MEMLIMIT_MIN};
static uint8_t pepper[KURA_PEPPER_BYTES], seal_key[32], mac_key[32];
static struct test_db db;
static struct kura_password_policy policy;
static const struct kura_throttle_policy backoff = {4, 1000, 60000, 3600000};
static const int64_t T0 = 1795000000000;

struct fixture {
    struct kura_meta *m;
    struct kura_auth_service s;
    char otp[KURA_PASSWORD_GEN_LEN + 1];
};

static int setup(void **state)
{
    memset(pepper, 0x42, sizeof(pepper));
    randombytes_buf(seal_key, sizeof(seal_key));
    randombytes_buf(mac_key, sizeof(mac_key));
    policy = *kura_password_policy_by_name("kura-default");
    struct fixture *f = kura_calloc(1, sizeof(*f));
    if (!f || !(f->m = test_db_open(&db, "auth-login"))) {
        kura_free(f);
        return -1;
    }
    f->s = (struct kura_auth_service){.meta = f->m,
                                      .policy = &policy,
                                      .keys = {&fast, pepper},
                                      .seal_key = seal_key,
                                      .mac_key = mac_key,
                                      .idle_ms = 15 * 60 * 1000,
                                      .absolute_ms = 12 * 3600 * 1000,
                                      .elevation_ms = 30 * 60 * 1000,
                                      .totp = kura_totp_params_default};
    if (kura_throttle_new(1024, &backoff, &f->s.by_source) < 0 ||
        kura_throttle_new(1024, &backoff, &f->s.by_id) < 0) {
        return -1;
    }
    const struct kura_auth_change c = {"cli:root", "test", NULL, T0};
    const struct kura_account a = {.id = "alice", .roles = KURA_ROLE_USER};
    if (kura_auth_account_add(f->m, &c, &a, NULL, &f->s.keys, f->otp, sizeof(f->otp)) < 0) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kura_throttle_free(f->s.by_source);
    kura_throttle_free(f->s.by_id);
    int r = test_db_close(&db, f->m);
    kura_free(f);
    return r;
}

static int login(struct fixture *f, const char *user, const char *pw, const char *totp,
                 const char *ip, int64_t now, struct kura_login_result *ret)
{
    const struct kura_login_req q = {user, pw, totp, strlen(user), strlen(pw), ip, "test", now};
    return kura_auth_login(&f->s, &q, ret);
}

/* Gives alice a known password and an enrolled TOTP secret; returns the secret. */
static void enrol(struct fixture *f, uint8_t secret[KURA_TOTP_SECRET_BYTES])
{
    char hash[KURA_PWHASH_STR_MAX];
    struct kura_account a = {0};
    assert_int_equal(kura_meta_account_get(f->m, "alice", &a), 0);
    assert_int_equal(kura_password_hash(&fast, pepper, "a long passphrase 123", 21, hash), 0);
    const char *old = a.password_hash;
    a.password_hash = hash;
    a.must_change_password = false;
    assert_int_equal(kura_meta_account_update(f->m, &a), 0);
    a.password_hash = old;
    kura_account_release(&a);
    assert_int_equal(kura_totp_secret_generate(secret), 0);
    uint8_t sealed[KURA_META_SECRET_MAX];
    size_t len = 0;
    assert_int_equal(auth_totp_seal(&f->s, secret, KURA_TOTP_SECRET_BYTES, sealed, &len), 0);
    assert_int_equal(kura_meta_auth_set_totp(f->m, "alice", sealed, len, T0), 0);
}

static void code_at(const uint8_t *secret, int64_t now, char code[KURA_OTP_CODE_MAX])
{
    assert_int_equal(
        kura_totp_code(secret, KURA_TOTP_SECRET_BYTES, &kura_totp_params_default, now / 1000, code),
        0);
}

static void test_one_time_password_gives_enrolment(void **state)
{
    struct fixture *f = *state;
    struct kura_login_result r;
    assert_int_equal(login(f, "alice", f->otp, NULL, "192.0.2.1", T0, &r), 0);
    assert_int_equal(r.kind, KURA_SESSION_ENROL);
    assert_string_equal(r.account_id, "alice");
    assert_int_equal(strlen(r.token), 43);
    struct kura_auth_identity id;
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), T0 + 1000, &id), 0);
    assert_int_equal(id.kind, KURA_SESSION_ENROL);
    assert_int_equal(kura_auth_csrf_check(&id, r.csrf, strlen(r.csrf)), 0);
    assert_int_equal(kura_auth_csrf_check(&id, r.token, strlen(r.token)), KURA_EFORBIDDEN);
    assert_int_equal(kura_auth_csrf_check(&id, NULL, 0), KURA_EFORBIDDEN);
}

static void test_refusals_look_alike(void **state)
{
    struct fixture *f = *state;
    struct kura_login_result r;
    assert_int_equal(login(f, "nobody", "whatever", NULL, "192.0.2.1", T0, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "unknown_id");
    assert_int_equal(login(f, "alice", "wrong", NULL, "192.0.2.1", T0, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "bad_password");
    assert_int_equal(login(f, "../x", "wrong", NULL, "192.0.2.1", T0, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "unknown_id");
    const struct kura_auth_change c = {"cli:root", "test", NULL, T0};
    assert_int_equal(kura_auth_account_set_status(f->m, &c, "alice", KURA_ACCOUNT_STATUS_DISABLED),
                     0);
    assert_int_equal(login(f, "alice", f->otp, NULL, "192.0.2.1", T0, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "disabled");
    assert_null(r.token[0] ? r.token : NULL);
}

static void test_lockout_at_threshold(void **state)
{
    struct fixture *f = *state;
    struct kura_login_result r;
    int locked = 0;
    /* Different sources and exact-ID back-off aside: every 4 failures wait out the back-off. */
    int64_t now = T0;
    for (unsigned i = 1; i <= policy.lockout_threshold; i++) {
        now += 3600000; /* past any back-off */
        assert_int_equal(login(f, "alice", "wrong", NULL, "192.0.2.1", now, &r), KURA_EUNAUTH);
        locked += r.locked_now;
        assert_int_equal(r.locked_now, i == policy.lockout_threshold);
    }
    assert_int_equal(locked, 1);
    now += 3600000;
    assert_int_equal(login(f, "alice", f->otp, NULL, "192.0.2.1", now, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "locked");
    const struct kura_auth_change c = {"cli:helpdesk", "verified by phone", NULL, now};
    assert_int_equal(kura_auth_account_unlock(f->m, &c, "alice"), 0);
    assert_int_equal(login(f, "alice", f->otp, NULL, "192.0.2.1", now, &r), 0);
}

static void test_backoff_answers_429(void **state)
{
    struct fixture *f = *state;
    struct kura_login_result r;
    for (int i = 0; i < 4; i++) {
        char pw[16];
        (void)snprintf(pw, sizeof(pw), "wrong%d", i);
        assert_int_equal(login(f, "ghost", pw, NULL, "192.0.2.7", T0, &r), KURA_EUNAUTH);
    }
    /* The 5th attempt on that ID waits, whether or not the ID exists. */
    assert_int_equal(login(f, "ghost", "again", NULL, "192.0.2.8", T0, &r), KURA_ETHROTTLED);
    assert_int_equal(r.retry_after_ms, 1000);
    assert_int_equal(login(f, "ghost", "again", NULL, "192.0.2.8", T0 + 1000, &r), KURA_EUNAUTH);
    /* The same wrong secret again counts once (a sync client's retries). */
    for (int i = 0; i < 10; i++) {
        KURA_IGNORE(login(f, "carol", "stale", NULL, "192.0.2.9", T0 + 5000, &r));
    }
    assert_int_equal(login(f, "carol", "other", NULL, "192.0.2.9", T0 + 5000, &r), KURA_EUNAUTH);
    /* An exempt source is never throttled by source. */
    struct kura_cidr lo;
    assert_int_equal(kura_conf_parse_cidr("192.0.2.0/24", 12, &lo), 0);
    f->s.exempt = &lo;
    f->s.nexempt = 1;
    assert_int_equal(login(f, "alice", f->otp, NULL, "192.0.2.7", T0 + 5000, &r), 0);
}

static void test_totp_and_recovery(void **state)
{
    struct fixture *f = *state;
    uint8_t secret[KURA_TOTP_SECRET_BYTES];
    enrol(f, secret);
    struct kura_login_result r;
    char code[KURA_OTP_CODE_MAX];
    int64_t now = T0 + 60000;
    assert_int_equal(login(f, "alice", "a long passphrase 123", NULL, NULL, now, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "bad_second_factor");
    code_at(secret, now, code);
    assert_int_equal(login(f, "alice", "a long passphrase 123", code, NULL, now, &r), 0);
    assert_int_equal(r.kind, KURA_SESSION_FULL);
    /* The same code again is a replay. */
    assert_int_equal(login(f, "alice", "a long passphrase 123", code, NULL, now + 1000, &r),
                     KURA_EUNAUTH);
    /* A recovery code works once. */
    char codes[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX];
    uint8_t macs[KURA_RECOVERY_CODES][KURA_RECOVERY_HASH_BYTES];
    assert_int_equal(kura_recovery_generate(mac_key, codes, macs), 0);
    assert_int_equal(
        kura_meta_recovery_set(f->m, "alice", (const uint8_t(*)[32])macs, KURA_RECOVERY_CODES), 0);
    assert_int_equal(login(f, "alice", "a long passphrase 123", codes[3], NULL, now + 2000, &r), 0);
    assert_int_equal(login(f, "alice", "a long passphrase 123", codes[3], NULL, now + 3000, &r),
                     KURA_EUNAUTH);
    /* Elevation takes a fresh TOTP code, not a replay and not a recovery code. */
    struct kura_auth_identity id;
    assert_int_equal(kura_auth_session_check(&f->s, r.token, 0, now, &id), KURA_EUNAUTH);
    assert_int_equal(login(f, "alice", "a long passphrase 123", codes[4], NULL, now + 3000, &r), 0);
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), now + 3000, &id), 0);
    assert_false(id.elevated);
    int64_t until = 0;
    struct kura_login_result e;
    /* A plain user has nothing to elevate to; an operator does. */
    assert_int_equal(kura_auth_elevate(&f->s, &id, code, now + 3000, NULL, NULL, &until, &e),
                     KURA_EFORBIDDEN);
    id.roles |= KURA_ROLE_OPERATOR;
    assert_int_equal(kura_auth_elevate(&f->s, &id, code, now + 3000, NULL, NULL, &until, &e),
                     KURA_EUNAUTH);
    assert_int_equal(kura_auth_elevate(&f->s, &id, codes[5], now + 3000, NULL, NULL, &until, &e),
                     KURA_EUNAUTH);
    code_at(secret, now + 30000, code);
    assert_int_equal(kura_auth_elevate(&f->s, &id, code, now + 30000, NULL, NULL, &until, &e), 0);
    assert_int_equal(until, now + 30000 + f->s.elevation_ms);
    /* A change of privilege is a new session: the old token is dead, the new one elevated, and
     * it keeps the old session's absolute timeout. */
    int64_t expires = id.expires_at;
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), now + 31000, &id),
                     KURA_EUNAUTH);
    assert_int_equal(kura_auth_session_check(&f->s, e.token, strlen(e.token), now + 31000, &id), 0);
    assert_true(id.elevated);
    assert_int_equal(id.expires_at, expires);
    for (int64_t t = now + 31000; t < until; t += 10 * 60 * 1000) {
        assert_int_equal(kura_auth_session_check(&f->s, e.token, strlen(e.token), t, &id), 0);
        assert_true(id.elevated);
    }
    assert_int_equal(kura_auth_session_check(&f->s, e.token, strlen(e.token), until, &id), 0);
    assert_false(id.elevated); /* elevation ends, the session goes on */
}

static void test_timeouts_and_logout(void **state)
{
    struct fixture *f = *state;
    struct kura_login_result r;
    struct kura_auth_identity id;
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), 0);
    /* Active every 10 minutes: survives the 15-minute idle timeout... */
    int64_t t = T0;
    for (int i = 0; i < 5; i++) {
        t += 10 * 60 * 1000;
        assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), t, &id), 0);
    }
    /* ... but idle for 15 minutes it ends, and stays ended. */
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), t + 15 * 60000, &id),
                     KURA_EUNAUTH);
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), t, &id),
                     KURA_EUNAUTH);
    /* The absolute timeout ends even a busy session. */
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), 0);
    for (t = T0; t < T0 + f->s.absolute_ms; t += 10 * 60 * 1000) {
        assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), t, &id), 0);
    }
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), t, &id),
                     KURA_EUNAUTH);
    /* Logout. */
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), 0);
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), T0, &id), 0);
    assert_int_equal(kura_auth_logout(&f->s, &id), 0);
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), T0, &id),
                     KURA_EUNAUTH);
    /* Disabling the account ends its sessions. */
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), 0);
    const struct kura_auth_change c = {"cli:root", "left the project", NULL, T0};
    assert_int_equal(kura_auth_account_set_status(f->m, &c, "alice", KURA_ACCOUNT_STATUS_DISABLED),
                     0);
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), T0, &id),
                     KURA_EUNAUTH);
}

/* A hash of another cost is replaced at the next successful login, and only then. */
static void test_old_hash_upgraded_after_success(void **state)
{
    struct fixture *f = *state;
    const struct kura_pwhash_params old = {crypto_pwhash_OPSLIMIT_MIN + 1,
                                           crypto_pwhash_MEMLIMIT_MIN};
    char hash[KURA_PWHASH_STR_MAX];
    struct kura_account a = {0};
    assert_int_equal(kura_meta_account_get(f->m, "alice", &a), 0);
    assert_int_equal(kura_password_hash(&old, pepper, "a long passphrase 123", 21, hash), 0);
    const char *orig = a.password_hash;
    a.password_hash = hash;
    assert_int_equal(kura_meta_account_update(f->m, &a), 0);
    a.password_hash = orig;
    kura_account_release(&a);
    struct kura_login_result r;
    assert_int_equal(login(f, "alice", "a long passphrase 123", NULL, NULL, T0, &r), 0);
    assert_int_equal(kura_meta_account_get(f->m, "alice", &a), 0);
    assert_non_null(strstr(a.password_hash, "t=1,"));
    assert_int_equal(
        kura_password_verify(&fast, pepper, a.password_hash, "a long passphrase 123", 21, NULL), 0);
    kura_account_release(&a);
}

/* Basic authentication takes app passwords only; scope, expiry and revocation hold. */
static void test_basic_takes_only_app_passwords(void **state)
{
    struct fixture *f = *state;
    struct kura_login_result r;
    struct kura_auth_identity id;
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), 0);
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), T0, &id), 0);
    char tok[KURA_APP_TOKEN_MAX + 1], tok2[KURA_APP_TOKEN_MAX + 1];
    uint64_t pid = 0, pid2 = 0;
    assert_int_equal(kura_auth_app_password_create(&f->s, &id, "laptop", false, 0, T0, tok, &pid),
                     0);
    assert_int_equal(
        kura_auth_app_password_create(&f->s, &id, "sync", true, T0 + 1000, T0, tok2, &pid2), 0);
    assert_int_equal(strlen(tok), 32);
    struct kura_auth_basic b;
    assert_int_equal(kura_auth_basic(&f->s, "alice", tok, strlen(tok), "192.0.2.1", T0, &b), 0);
    assert_false(b.read_write);
    assert_int_equal(b.app_password_id, pid);
    assert_int_equal(kura_auth_basic(&f->s, "alice", tok2, strlen(tok2), NULL, T0, &b), 0);
    assert_true(b.read_write);
    /* The account password, another user's name, an expired or revoked one: refused. */
    assert_int_equal(kura_auth_basic(&f->s, "alice", f->otp, strlen(f->otp), NULL, T0, &b),
                     KURA_EUNAUTH);
    assert_int_equal(kura_auth_basic(&f->s, "admin", tok, strlen(tok), NULL, T0, &b), KURA_EUNAUTH);
    assert_int_equal(kura_auth_basic(&f->s, "alice", tok2, strlen(tok2), NULL, T0 + 1000, &b),
                     KURA_EUNAUTH);
    assert_int_equal(kura_auth_app_password_revoke(&f->s, &id, pid, T0), 0);
    assert_int_equal(kura_auth_basic(&f->s, "alice", tok, strlen(tok), NULL, T0, &b), KURA_EUNAUTH);
    assert_int_equal(kura_auth_app_password_revoke(&f->s, &id, pid, T0), KURA_ENOTFOUND);
    /* A disabled account's app passwords stop working at once. */
    assert_int_equal(kura_auth_app_password_create(&f->s, &id, "desk", true, 0, T0, tok, &pid), 0);
    assert_int_equal(kura_auth_basic(&f->s, "alice", tok, strlen(tok), NULL, T0, &b), 0);
    const struct kura_auth_change c = {"cli:root", "left", NULL, T0};
    assert_int_equal(kura_auth_account_set_status(f->m, &c, "alice", KURA_ACCOUNT_STATUS_DISABLED),
                     0);
    assert_int_equal(kura_auth_basic(&f->s, "alice", tok, strlen(tok), NULL, T0, &b), KURA_EUNAUTH);
}

/* App passwords never start with '-' or '_' (one in 32 would, drawn plainly): 300 of them
 * would show one with probability 1 - (62/64)^300 > 0.9999. */
static void test_app_password_first_character(void **state)
{
    struct fixture *f = *state;
    struct kura_login_result r;
    struct kura_auth_identity id;
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), 0);
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), T0, &id), 0);
    for (int i = 0; i < 300; i++) {
        char tok[KURA_APP_TOKEN_MAX + 1];
        uint64_t pid = 0;
        assert_int_equal(kura_auth_app_password_create(&f->s, &id, "t", false, 0, T0, tok, &pid),
                         0);
        assert_int_equal(strlen(tok), 32);
        if (tok[0] == '-' || tok[0] == '_') {
            fail_msg("app password %d starts with '%c'", i, tok[0]);
        }
        assert_int_equal(kura_auth_app_password_revoke(&f->s, &id, pid, T0), 0);
    }
}

/* Refusals of a disabled account leave no failure count behind (re-enabling it must work). */
static void test_disabled_account_counts_nothing(void **state)
{
    struct fixture *f = *state;
    const struct kura_auth_change c = {"cli:root", "test", NULL, T0};
    assert_int_equal(kura_auth_account_set_status(f->m, &c, "alice", KURA_ACCOUNT_STATUS_DISABLED),
                     0);
    struct kura_login_result r;
    for (unsigned i = 0; i < policy.lockout_threshold + 2; i++) {
        assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0 + i * 3600000LL, &r),
                         KURA_EUNAUTH);
        assert_string_equal(r.why, "disabled");
    }
    struct kura_account_auth st;
    assert_int_equal(kura_meta_auth_get(f->m, "alice", &st), 0);
    assert_int_equal(st.failed_logins, 0);
    assert_int_equal(kura_auth_account_set_status(f->m, &c, "alice", KURA_ACCOUNT_STATUS_ACTIVE),
                     0);
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0 + 100 * 3600000LL, &r), 0);
}

/* An emergency account: two different approvers, a limited period, marked sessions. */
static void test_break_glass(void **state)
{
    struct fixture *f = *state;
    const struct kura_auth_change admin1 = {"user:admin", "designate", NULL, T0};
    assert_int_equal(kura_auth_break_glass_designate(f->m, &admin1, "alice"), 0);
    assert_int_equal(kura_auth_break_glass_designate(f->m, &admin1, "alice"), 1);
    struct kura_login_result r;
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "break_glass_not_enabled");
    int64_t until = 0;
    assert_int_equal(kura_auth_break_glass_approve(f->m, &admin1, "alice", 30, &until), 1);
    assert_int_equal(kura_auth_break_glass_approve(f->m, &admin1, "alice", 30, &until),
                     KURA_EFORBIDDEN);
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), KURA_EUNAUTH);
    /* A second approval after the hour is a new first approval. */
    const struct kura_auth_change late = {"cli:root", "late", NULL, T0 + 3600 * 1000};
    assert_int_equal(kura_auth_break_glass_approve(f->m, &late, "alice", 30, &until), 1);
    const struct kura_auth_change admin2 = {"user:second", "emergency", NULL, T0 + 3601 * 1000};
    assert_int_equal(kura_auth_break_glass_approve(f->m, &admin2, "alice", 10, &until), 0);
    assert_int_equal(until, T0 + 3601 * 1000 + 30 * 60 * 1000); /* the first approval's minutes */
    assert_int_equal(kura_auth_break_glass_approve(f->m, &admin2, "alice", 10, &until),
                     KURA_EEXIST);
    int64_t t = T0 + 3602 * 1000;
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, t, &r), 0);
    assert_true(r.break_glass);
    struct kura_auth_identity id;
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), t, &id), 0);
    assert_true(id.break_glass);
    /* The session ends with the period, and the account is disabled again. */
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), until, &id),
                     KURA_EUNAUTH);
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, until, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "break_glass_not_enabled");
    struct kura_account a = {0};
    assert_int_equal(kura_meta_account_get(f->m, "alice", &a), 0);
    assert_int_equal(a.status, KURA_ACCOUNT_STATUS_DISABLED);
    kura_account_release(&a);
}

/* A sealed credential: one holder, one use, bound to its account, lower case forgiven. */
static void test_break_glass_sealed(void **state)
{
    struct fixture *f = *state;
    const struct kura_auth_change admin = {"user:admin", "seal", NULL, T0};
    char code[KURA_BREAK_GLASS_CODE_MAX + 1], old[KURA_BREAK_GLASS_CODE_MAX + 1];
    assert_int_equal(kura_auth_break_glass_seal(f->m, &admin, mac_key, "alice", 60, code),
                     KURA_ENOTFOUND);
    assert_int_equal(kura_auth_break_glass_designate(f->m, &admin, "alice"), 0);
    assert_int_equal(kura_auth_break_glass_seal(f->m, &admin, mac_key, "alice", 60, old), 0);
    assert_int_equal(kura_auth_break_glass_seal(f->m, &admin, mac_key, "alice", 60, code), 0);
    assert_int_equal(strlen(code), KURA_BREAK_GLASS_CODE_MAX);
    assert_string_not_equal(code, old);
    int64_t until = 0;
    const struct kura_auth_change holder = {"sealed:192.0.2.9", "flood", NULL, T0 + 1000};
    /* The replaced code, a wrong code and the right code for another account all fail alike. */
    assert_int_equal(
        kura_auth_break_glass_unseal(f->m, &holder, mac_key, "alice", old, strlen(old), &until),
        KURA_EUNAUTH);
    assert_int_equal(
        kura_auth_break_glass_unseal(f->m, &holder, mac_key, "bob", code, strlen(code), &until),
        KURA_EUNAUTH);
    assert_int_equal(kura_auth_break_glass_unseal(f->m, &holder, mac_key, "alice", "x", 1, &until),
                     KURA_EUNAUTH);
    struct kura_login_result r;
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0 + 1000, &r), KURA_EUNAUTH);
    char typed[KURA_BREAK_GLASS_CODE_MAX + 1];
    for (size_t i = 0; i <= strlen(code); i++) {
        typed[i] = (char)tolower((unsigned char)code[i]);
    }
    assert_int_equal(
        kura_auth_break_glass_unseal(f->m, &holder, mac_key, "alice", typed, strlen(typed), &until),
        0);
    assert_int_equal(until, T0 + 1000 + 60 * 60 * 1000);
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0 + 2000, &r), 0);
    assert_true(r.break_glass);
    /* Consumed: the same envelope does not open the account a second time. */
    const struct kura_auth_change again = {"sealed:192.0.2.9", "again", NULL, until + 1};
    assert_int_equal(
        kura_auth_break_glass_unseal(f->m, &again, mac_key, "alice", code, strlen(code), &until),
        KURA_EUNAUTH);
}

/* lockout_scope = account+source: a lock from one address leaves the others open. */
static void test_lockout_per_source(void **state)
{
    struct fixture *f = *state;
    f->s.lockout_per_source = true;
    struct kura_login_result r;
    int64_t now = T0;
    for (unsigned i = 1; i <= policy.lockout_threshold; i++) {
        now += 3600000; /* past any back-off */
        assert_int_equal(login(f, "alice", "wrong", NULL, "192.0.2.1", now, &r), KURA_EUNAUTH);
        assert_int_equal(r.locked_now, i == policy.lockout_threshold);
    }
    now += 3600000;
    assert_int_equal(login(f, "alice", f->otp, NULL, "192.0.2.1", now, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "locked");
    assert_int_equal(login(f, "alice", f->otp, NULL, "198.51.100.7", now, &r), 0);
    const struct kura_auth_change c = {"cli:helpdesk", "verified", NULL, now};
    assert_int_equal(kura_auth_account_unlock(f->m, &c, "alice"), 0);
    assert_int_equal(login(f, "alice", f->otp, NULL, "192.0.2.1", now, &r), 0);
    /* The account-wide count was never touched. */
    struct kura_account_auth st;
    assert_int_equal(kura_meta_auth_get(f->m, "alice", &st), 0);
    assert_int_equal(st.locked_at, 0);
}

/* The validity period (利用期間): no login before valid_from or from valid_until on. */
static void test_validity_period(void **state)
{
    struct fixture *f = *state;
    const struct kura_auth_change c = {"cli:root", "project period", NULL, T0};
    const struct kura_account period = {
        .id = "alice", .valid_from = T0 + 1000, .valid_until = T0 + 2000};
    assert_int_equal(kura_auth_account_set_fields(f->m, &c, &period), 0);
    struct kura_login_result r;
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "outside_validity");
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0 + 1500, &r), 0);
    struct kura_auth_identity id;
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), T0 + 1600, &id), 0);
    /* At valid_until the session ends too. */
    assert_int_equal(kura_auth_session_check(&f->s, r.token, strlen(r.token), T0 + 2000, &id),
                     KURA_EUNAUTH);
    assert_int_equal(login(f, "alice", f->otp, NULL, NULL, T0 + 2000, &r), KURA_EUNAUTH);
    assert_string_equal(r.why, "outside_validity");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_one_time_password_gives_enrolment),
        T(test_refusals_look_alike),
        T(test_lockout_at_threshold),
        T(test_backoff_answers_429),
        T(test_totp_and_recovery),
        T(test_timeouts_and_logout),
        T(test_basic_takes_only_app_passwords),
        T(test_app_password_first_character),
        T(test_old_hash_upgraded_after_success),
        T(test_validity_period),
        T(test_disabled_account_counts_nothing),
        T(test_break_glass),
        T(test_break_glass_sealed),
        T(test_lockout_per_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
