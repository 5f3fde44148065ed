/* session.c — POST/DELETE /api/v1/session, GET /api/v1/me, POST /api/v1/elevate.
 *
 * Each handler reads its request on the connection's thread and hands a job to a pool: the
 * hash pool for a login (one Argon2id), the work pool otherwise (database reads and durable
 * writes). The resume step sets who acted for the audit record and answers.
 */
#include "api/api.h"

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"

struct job;
typedef int (*work_fn)(struct job *j);

enum { F_MAX = 4 };

struct job {
    struct kura_api *api;
    const char *cookie, *csrf; /* from the request (arena) */
    unsigned flags;
    char *f[F_MAX];
    size_t flen[F_MAX];
    const char *source_ip, *user_agent;
    work_fn work;
    /* results */
    struct kura_auth_identity id;
    bool have_id;
    int rc;
    json_t *out;
    const char *why, *object;
    char set_cookie[160];
    int64_t retry_after_ms;
};

enum {
    NEED_SESSION = 1 << 0,
    NEED_CSRF = 1 << 1,
    ALLOW_ENROL = 1 << 2, /* a restricted enrolment session may call it */
};

static json_t *roles_json(unsigned roles)
{
    json_t *a = json_array();
    for (unsigned bit = 1; a && bit & KURA_ROLE_ALL; bit <<= 1) {
        if (roles & bit) {
            (void)json_array_append_new(a, json_string(kura_role_name(bit)));
        }
    }
    return a;
}

static void roles_text(unsigned roles, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned bit = 1; bit & KURA_ROLE_ALL; bit <<= 1) {
        int n = roles & bit ? snprintf(buf + used, size - used, "%s%s", used ? "," : "",
                                       kura_role_name(bit))
                            : 0;
        used += n > 0 && (size_t)n < size - used ? (size_t)n : 0;
    }
}

/* ---- the job's two halves -------------------------------------------------------------------- */

static void run(void *arg)
{
    struct job *j = arg;
    int64_t now = kura_clock_wall_ms();
    j->rc = 0;
    if (j->flags & NEED_SESSION) {
        j->rc = j->cookie ? kura_auth_session_check(j->api->auth, j->cookie, strlen(j->cookie), now,
                                                    &j->id)
                          : KURA_EUNAUTH;
        j->have_id = j->rc == 0;
        j->why = j->rc == KURA_EUNAUTH ? "no_session" : NULL;
    }
    if (j->rc == 0 && j->have_id && j->id.kind == KURA_SESSION_ENROL && !(j->flags & ALLOW_ENROL)) {
        j->rc = KURA_EFORBIDDEN;
        j->why = "enrolment_session";
    }
    if (j->rc == 0 && (j->flags & NEED_CSRF)) {
        j->rc = kura_auth_csrf_check(&j->id, j->csrf, j->csrf ? strlen(j->csrf) : 0);
        j->why = j->rc ? "csrf" : NULL;
    }
    if (j->rc == 0) {
        j->rc = j->work(j);
    }
}

static int finish(struct kura_req *r)
{
    struct job *j = kura_req_data(r);
    char actor[KURA_META_ID_MAX + 8], roles[128];
    if (j->have_id) {
        (void)snprintf(actor, sizeof(actor), "user:%s", j->id.account_id);
        roles_text(j->id.roles, roles, sizeof(roles));
        const struct kura_req_identity ident = {actor, roles, j->id.session_tag, j->id.elevated};
        KURA_IGNORE(kura_req_set_identity(r, &ident));
    }
    KURA_IGNORE(kura_req_set_reason(r, j->why));
    if (j->object) {
        KURA_IGNORE(kura_req_set_object(r, j->object));
    }
    if (j->set_cookie[0]) {
        KURA_IGNORE(kura_req_add_header(r, MHD_HTTP_HEADER_SET_COOKIE, j->set_cookie));
    }
    if (j->rc == KURA_ETHROTTLED) {
        char secs[KURA_NUM_STR_MAX];
        KURA_IGNORE(
            kura_req_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
                                kura_fmt_u64(secs, (uint64_t)((j->retry_after_ms + 999) / 1000))));
    }
    if (j->rc < 0) {
        json_decref(j->out);
        return kura_req_respond_error(r, j->rc);
    }
    char *text = j->out ? json_dumps(j->out, JSON_COMPACT) : NULL;
    json_decref(j->out);
    char *body = text ? kura_arena_strndup(kura_req_info(r)->arena, text, strlen(text)) : NULL;
    free(text);
    if (!body) {
        return -ENOMEM;
    }
    return kura_req_respond(r, 200, "application/json; charset=utf-8", body, strlen(body));
}

/* Prepares a job: the session cookie, the CSRF header, the body's fields. */
static int start(struct kura_req *r, unsigned flags, const struct api_field *fields, size_t n,
                 work_fn work, enum kura_work_pool pool)
{
    const struct kura_req_info *info = kura_req_info(r);
    struct job *j = KURA_ARENA_NEW(info->arena, struct job);
    if (!j) {
        return kura_arena_err(info->arena);
    }
    j->api = info->app;
    j->flags = flags;
    j->work = work;
    j->source_ip = info->source_ip;
    j->user_agent = kura_req_header(r, MHD_HTTP_HEADER_USER_AGENT);
    j->cookie = api_cookie_value(kura_req_header(r, MHD_HTTP_HEADER_COOKIE), info->arena);
    j->csrf = kura_req_header(r, KURA_API_CSRF_HEADER);
    if (n > 0) {
        int rc =
            api_json_fields(info->body.ptr, info->body.len, fields, n, info->arena, j->f, j->flen);
        if (rc < 0) {
            KURA_IGNORE(kura_req_set_reason(r, "bad_json"));
            return rc;
        }
    }
    kura_req_set_data(r, j);
    return kura_req_defer(r, pool, run, j, finish);
}

/* ---- POST /api/v1/session: log in ----------------------------------------------------------- */

static void cookie_for(struct job *j, const char *token, int64_t max_age_s)
{
    (void)snprintf(j->set_cookie, sizeof(j->set_cookie),
                   KURA_API_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%lld",
                   token, (long long)max_age_s);
}

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
        j->have_id = true;
        cookie_for(j, res.token, j->api->auth->absolute_ms / 1000);
        j->out = json_pack("{s:s,s:s,s:o,s:s}", "user", res.account_id, "kind",
                           res.kind == KURA_SESSION_ENROL ? "enrolment" : "full", "roles",
                           roles_json(res.roles), "csrf_token", res.csrf);
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
    return start(r, 0, fields, KURA_ARRAY_SIZE(fields), login_work, KURA_POOL_HASH);
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
    return start(r, NEED_SESSION | NEED_CSRF | ALLOW_ENROL, NULL, 0, logout_work, KURA_POOL_WORK);
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
                           a.affiliation, "roles", roles_json(a.roles), "session",
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
    return start(r, NEED_SESSION | ALLOW_ENROL, NULL, 0, me_work, KURA_POOL_WORK);
}

/* ---- POST /api/v1/elevate ------------------------------------------------------------------ */

static int elevate_work(struct job *j)
{
    int64_t until = 0;
    int rc = kura_auth_elevate(j->api->auth, &j->id, j->f[0], kura_clock_wall_ms(), &until);
    j->object = j->id.account_id; /* the alert rules count failures per account */
    j->why = rc == KURA_EUNAUTH ? "bad_second_factor" : NULL;
    j->id.elevated = rc == 0;
    char at[KURA_TIME_STR_MAX];
    kura_clock_format(until, at);
    j->out = rc == 0 ? json_pack("{s:s}", "elevated_until", at) : NULL;
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int elevate_handler(struct kura_req *r)
{
    static const struct api_field fields[] = {{"totp", 16, true}};
    return start(r, NEED_SESSION | NEED_CSRF, fields, 1, elevate_work, KURA_POOL_WORK);
}

const struct kura_route kura_api_routes[] = {
    {"POST", "/api/v1/session", 0, KURA_API_BODY_MAX, login_handler, "auth.login"},
    {"DELETE", "/api/v1/session", 0, 0, logout_handler, "session.logout"},
    {"GET", "/api/v1/me", 0, 0, me_handler, "session.me"},
    {"POST", "/api/v1/elevate", 0, KURA_API_BODY_MAX, elevate_handler, "auth.elevate"},
    {NULL, NULL, 0, 0, NULL, NULL},
};
