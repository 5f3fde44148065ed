/* session.c — POST/DELETE /api/v1/session, GET /api/v1/me, POST /api/v1/elevate.
 *
 * Each handler reads its request on the connection's thread and hands a job to a pool: the
 * hash pool for a login (one Argon2id), the work pool otherwise (database reads and durable
 * writes). The resume step sets who acted for the audit record and answers.
 */
#include "api/api-internal.h"

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"

/* ---- POST /api/v1/session: log in ----------------------------------------------------------- */

/* An account locked by this failure: its own audit event (the alert rules act on it). */
static void record_lock(struct job *j, const char *id)
{
    json_t *detail = json_pack("{s:s}", "cause", "consecutive_failures");
    const struct kura_audit_event ev = {.actor = "system",
                                        .action = "account.lock",
                                        .object = id,
                                        .source_ip = j->source_ip,
                                        .result = KURA_AUDIT_OK,
                                        .reason = "lockout_threshold",
                                        .detail = detail};
    KURA_IGNORE(kura_audit_emit_sync(j->api->audit, &ev, NULL));
    json_decref(detail);
}

static int login_work(struct job *j)
{
    const struct kura_login_req q = {j->f[0],    j->f[1],      j->f[2],       j->flen[0],
                                     j->flen[1], j->source_ip, j->user_agent, kura_clock_wall_ms()};
    struct kura_login_result res;
    int rc = kura_auth_login(j->api->auth, &q, &res);
    sodium_memzero(j->f[1], j->flen[1]); /* the password, in the arena */
    j->object = j->f[0];
    j->why = res.why;
    j->retry_after_ms = res.retry_after_ms;
    if (res.locked_now) {
        record_lock(j, j->f[0]);
    }
    if (rc == 0) {
        (void)snprintf(j->id.account_id, sizeof(j->id.account_id), "%s", res.account_id);
        j->id.roles = res.roles;
        j->id.break_glass = res.break_glass;
        j->have_id = true;
        api_cookie_for(j, res.token, j->api->auth->absolute_ms / 1000);
        j->out = json_pack("{s:s,s:s,s:o,s:s}", "user", res.account_id, "kind",
                           res.kind == KURA_SESSION_ENROL ? "enrolment" : "full", "roles",
                           api_roles_json(res.roles), "csrf_token", res.csrf);
        rc = j->out ? 0 : -ENOMEM;
    }
    sodium_memzero(&res, sizeof(res));
    return rc;
}

static int login_handler(struct kura_req *r)
{
    static const struct api_field fields[] = {
        {"user", KURA_META_ID_MAX, true},
        {"password", KURA_PASSWORD_MAX, true},
        {"totp", KURA_RECOVERY_INPUT_MAX, false},
    };
    return api_start(r, 0, fields, KURA_ARRAY_SIZE(fields), login_work, KURA_POOL_HASH);
}

/* ---- DELETE /api/v1/session: log out ------------------------------------------------------- */

static int logout_work(struct job *j)
{
    int rc = kura_auth_logout(j->api->auth, &j->id);
    (void)snprintf(j->set_cookie, sizeof(j->set_cookie),
                   KURA_API_COOKIE "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    j->out = rc == 0 ? json_pack("{s:b}", "logged_out", true) : NULL;
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int logout_handler(struct kura_req *r)
{
    return api_start(r, NEED_SESSION | NEED_CSRF | ALLOW_ENROL, NULL, 0, logout_work,
                     KURA_POOL_WORK);
}

/* ---- GET /api/v1/me -------------------------------------------------------------------------- */

static int me_work(struct job *j)
{
    struct kura_account a = {0};
    struct kura_account_auth st;
    int rc = kura_meta_account_get(j->api->auth->meta, j->id.account_id, &a);
    rc = rc == 0 ? kura_meta_auth_get(j->api->auth->meta, j->id.account_id, &st) : rc;
    if (rc == 0) {
        j->out = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:b,s:b,s:b,s:I}", "user", a.id,
                           "display_name", a.display_name, "email", a.email, "affiliation",
                           a.affiliation, "roles", api_roles_json(a.roles), "session",
                           j->id.kind == KURA_SESSION_ENROL ? "enrolment" : "full", "elevated",
                           j->id.elevated, "must_change_password", a.must_change_password,
                           "totp_enrolled", st.totp_secret_len > 0 && st.totp_enrolled_at > 0,
                           "valid_until", (json_int_t)a.valid_until);
        rc = j->out ? 0 : -ENOMEM;
    }
    kura_account_release(&a);
    return rc;
}

static int me_handler(struct kura_req *r)
{
    return api_start(r, NEED_SESSION | ALLOW_ENROL, NULL, 0, me_work, KURA_POOL_WORK);
}

/* ---- POST /api/v1/elevate ------------------------------------------------------------------ */

static int elevate_work(struct job *j)
{
    int64_t until = 0;
    struct kura_login_result res;
    int rc = kura_auth_elevate(j->api->auth, &j->id, j->f[0], kura_clock_wall_ms(), j->source_ip,
                               j->user_agent, &until, &res);
    j->object = j->id.account_id; /* the alert rules count failures per account */
    j->why = rc == KURA_EUNAUTH ? "bad_second_factor" : NULL;
    j->id.elevated = rc == 0;
    char at[KURA_TIME_STR_MAX];
    kura_clock_format(until, at);
    if (rc == 0) {
        /* A new session for the new privilege: the cookie and the CSRF token change. */
        api_cookie_for(j, res.token, (j->id.expires_at - kura_clock_wall_ms()) / 1000);
        j->out = json_pack("{s:s,s:s}", "elevated_until", at, "csrf_token", res.csrf);
    }
    sodium_memzero(&res, sizeof(res));
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int elevate_handler(struct kura_req *r)
{
    static const struct api_field fields[] = {{"totp", 16, true}};
    return api_start(r, NEED_SESSION | NEED_CSRF, fields, 1, elevate_work, KURA_POOL_WORK);
}

/* ---- POST /api/v1/break-glass/unseal -------------------------------------------------------- */

/* No session: whoever holds the sealed envelope enables the emergency account with its code,
 * then logs in as that account (password and second factor as usual). */
static int unseal_work(struct job *j)
{
    const struct kura_login_req q = {j->f[0],    j->f[1],      NULL,          j->flen[0],
                                     j->flen[1], j->source_ip, j->user_agent, kura_clock_wall_ms()};
    int64_t until = 0;
    int rc = kura_auth_unseal(j->api->auth, &q, &until, &j->retry_after_ms);
    sodium_memzero(j->f[1], j->flen[1]);
    j->object = j->f[0];
    j->why = rc == KURA_EUNAUTH      ? "bad_sealed_credential"
             : rc == KURA_ETHROTTLED ? "throttled"
                                     : NULL;
    if (rc == 0) {
        char at[KURA_TIME_STR_MAX];
        kura_clock_format(until, at);
        j->out = json_pack("{s:s,s:s}", "user", j->f[0], "enabled_until", at);
        rc = j->out ? 0 : -ENOMEM;
    }
    return rc;
}

static int unseal_handler(struct kura_req *r)
{
    static const struct api_field fields[] = {
        {"user", KURA_META_ID_MAX, true},
        {"code", 4 * KURA_BREAK_GLASS_CODE_MAX, true},
    };
    return api_start(r, 0, fields, KURA_ARRAY_SIZE(fields), unseal_work, KURA_POOL_WORK);
}

const struct kura_route kura_api_routes[] = {
    {"POST", "/api/v1/session", 0, KURA_API_BODY_MAX, login_handler, "auth.login", NULL},
    {"DELETE", "/api/v1/session", KURA_ROUTE_DESPITE_AUDIT, 0, logout_handler, "session.logout",
     NULL},
    {"GET", "/api/v1/me", 0, 0, me_handler, "session.me", NULL},
    {"POST", "/api/v1/elevate", 0, KURA_API_BODY_MAX, elevate_handler, "auth.elevate", NULL},
    {"POST", "/api/v1/break-glass/unseal", 0, KURA_API_BODY_MAX, unseal_handler,
     "auth.break_glass_unseal", NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
