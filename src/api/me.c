/* me.c — the caller's own account: password, TOTP enrolment, app passwords, sessions. */
#include "api/api-internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"

/* A new session replaced the caller's: the cookie and the new CSRF token go back. */
static json_t *reissued(struct job *j, struct kura_login_result *res)
{
    api_cookie_for(j, res->token, j->api->auth->absolute_ms / 1000);
    json_t *out =
        json_pack("{s:s,s:s}", "session", res->kind == KURA_SESSION_ENROL ? "enrolment" : "full",
                  "csrf_token", res->csrf);
    sodium_memzero(res, sizeof(*res));
    return out;
}

static int reissue(struct job *j, json_t *extra)
{
    struct kura_login_result res;
    int rc = kura_auth_session_reissue(j->api->auth, &j->id, j->source_ip, j->user_agent,
                                       kura_clock_wall_ms(), 0, &res);
    json_t *out = rc == 0 ? reissued(j, &res) : NULL;
    if (out && extra) {
        (void)json_object_update(out, extra);
    }
    json_decref(extra);
    j->out = out;
    return rc < 0 ? rc : out ? 0 : -ENOMEM;
}

/* ---- POST /api/v1/me/password {"current","new"} -------------------------------------------- */

static int password_work(struct job *j)
{
    struct kura_password_verdict v;
    int rc = kura_auth_change_password(j->api->auth, &j->id, j->f[0], j->flen[0], j->f[1],
                                       j->flen[1], kura_clock_wall_ms(), &v);
    sodium_memzero(j->f[0], j->flen[0]);
    sodium_memzero(j->f[1], j->flen[1]);
    if (rc == KURA_EBADREQ && v.code) {
        /* Which rule failed, in both languages: the one refusal that must explain itself. */
        j->status = 422;
        j->why = v.code;
        j->out = json_pack("{s:{s:s,s:s,s:s,s:s}}", "error", "code", "password_rejected", "rule",
                           v.code, "message_en", v.message_en, "message_ja", v.message_ja);
        return j->out ? 0 : -ENOMEM;
    }
    j->why = rc == KURA_EFORBIDDEN ? "bad_current_password" : NULL;
    return rc < 0 ? rc : reissue(j, NULL);
}

static int password_handler(struct kura_req *r)
{
    static const struct api_field fields[] = {{"current", KURA_PASSWORD_MAX, true},
                                              {"new", KURA_PASSWORD_MAX, true}};
    return api_start(r, NEED_SESSION | NEED_CSRF | ALLOW_ENROL, fields, 2, password_work,
                     KURA_POOL_HASH);
}

/* ---- POST /api/v1/me/totp, POST /api/v1/me/totp/confirm {"code"} ---------------------------- */

static int totp_work(struct job *j)
{
    struct kura_buf uri = KURA_BUF_INIT_SECRET(KURA_TOTP_URI_MAX);
    struct kura_buf svg = KURA_BUF_INIT(KURA_TOTP_SVG_MAX);
    int rc = kura_auth_totp_begin(j->api->auth, &j->id, "kura", &uri, &svg);
    j->why = rc == KURA_EEXIST ? "already_enrolled" : NULL;
    if (rc == 0) {
        j->out =
            json_pack("{s:s%,s:s%}", "otpauth_uri", uri.ptr, uri.len, "qr_svg", svg.ptr, svg.len);
        rc = j->out ? 0 : -ENOMEM;
    }
    kura_buf_release_wipe(&uri);
    kura_buf_release(&svg);
    return rc;
}

static int totp_handler(struct kura_req *r)
{
    return api_start(r, NEED_SESSION | NEED_CSRF | ALLOW_ENROL, NULL, 0, totp_work, KURA_POOL_WORK);
}

static int confirm_work(struct job *j)
{
    char codes[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX];
    int rc = kura_auth_totp_confirm(j->api->auth, &j->id, j->f[0], kura_clock_wall_ms(), codes);
    j->why = rc == KURA_EUNAUTH     ? "bad_second_factor"
             : rc == KURA_ENOTFOUND ? "nothing_pending"
                                    : NULL;
    json_t *list = rc == 0 ? json_array() : NULL;
    for (size_t i = 0; list && i < KURA_RECOVERY_CODES; i++) {
        (void)json_array_append_new(list, json_string(codes[i]));
    }
    sodium_memzero(codes, sizeof(codes));
    if (rc < 0) {
        return rc;
    }
    return list ? reissue(j, json_pack("{s:o}", "recovery_codes", list)) : -ENOMEM;
}

static int confirm_handler(struct kura_req *r)
{
    static const struct api_field fields[] = {{"code", 16, true}};
    return api_start(r, NEED_SESSION | NEED_CSRF | ALLOW_ENROL, fields, 1, confirm_work,
                     KURA_POOL_WORK);
}

/* ---- /api/v1/me/app-passwords ---------------------------------------------------------------- */

static int add_app_password(void *ctx, const struct kura_app_password *p)
{
    json_t *list = ctx;
    if (p->revoked_at) {
        return 0;
    }
    char created[KURA_TIME_STR_MAX], used[KURA_TIME_STR_MAX] = "", expires[KURA_TIME_STR_MAX] = "";
    kura_clock_format(p->created_at, created);
    if (p->last_used_at) {
        kura_clock_format(p->last_used_at, used);
    }
    if (p->expires_at) {
        kura_clock_format(p->expires_at, expires);
    }
    return json_array_append_new(
        list, json_pack("{s:I,s:s,s:s,s:s,s:s?,s:s?,s:s?}", "id", (json_int_t)p->id, "name",
                        p->name, "scope", p->read_write ? "read-write" : "read", "created_at",
                        created, "last_used_at", used[0] ? used : NULL, "last_used_ip",
                        p->last_used_ip, "expires_at", expires[0] ? expires : NULL));
}

static int app_list_work(struct job *j)
{
    json_t *list = json_array();
    int rc = list ? kura_meta_app_password_list(j->api->auth->meta, j->id.account_id,
                                                add_app_password, list)
                  : -ENOMEM;
    j->out = rc == 0 ? json_pack("{s:o}", "app_passwords", list) : (json_decref(list), NULL);
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int app_create_work(struct job *j)
{
    bool rw = j->f[1] && strcmp(j->f[1], "read-write") == 0;
    int64_t expires = 0;
    if ((j->f[1] && !rw && strcmp(j->f[1], "read") != 0) ||
        (j->f[2] && kura_audit_time_parse(j->f[2], &expires) < 0) || j->flen[0] == 0) {
        j->why = "bad_app_password_request";
        return KURA_EBADREQ;
    }
    char token[KURA_APP_TOKEN_MAX + 1];
    uint64_t id = 0;
    int rc = kura_auth_app_password_create(j->api->auth, &j->id, j->f[0], rw, expires,
                                           kura_clock_wall_ms(), token, &id);
    j->why = rc == KURA_EEXIST ? "name_in_use" : NULL;
    if (rc == 0) {
        /* Shown once: kura keeps only its HMAC. */
        j->out = json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "name", j->f[0], "scope",
                           rw ? "read-write" : "read", "password", token);
        rc = j->out ? 0 : -ENOMEM;
    }
    sodium_memzero(token, sizeof(token));
    return rc;
}

static int app_revoke_work(struct job *j)
{
    static const char prefix[] = "/api/v1/me/app-passwords/";
    uint64_t id = 0;
    if (strncmp(j->path, prefix, sizeof(prefix) - 1) != 0 ||
        kura_parse_u64(j->path + sizeof(prefix) - 1, strlen(j->path + sizeof(prefix) - 1),
                       INT64_MAX, &id) < 0) {
        return KURA_ENOTFOUND;
    }
    int rc = kura_auth_app_password_revoke(j->api->auth, &j->id, id, kura_clock_wall_ms());
    j->out = rc == 0 ? json_pack("{s:b}", "revoked", true) : NULL;
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int app_handler(struct kura_req *r)
{
    static const struct api_field fields[] = {
        {"name", 128, true}, {"scope", 16, false}, {"expires_at", 32, false}};
    const char *m = kura_req_info(r)->method;
    if (strcmp(m, "GET") == 0) {
        return api_start(r, NEED_SESSION, NULL, 0, app_list_work, KURA_POOL_WORK);
    }
    if (strcmp(m, "POST") == 0) {
        return api_start(r, NEED_SESSION | NEED_CSRF, fields, 3, app_create_work, KURA_POOL_WORK);
    }
    return api_start(r, NEED_SESSION | NEED_CSRF, NULL, 0, app_revoke_work, KURA_POOL_WORK);
}

/* ---- /api/v1/me/sessions --------------------------------------------------------------------- */

struct sessions {
    json_t *list;
    const struct kura_auth_identity *me;
};

static int add_session(void *ctx, const struct kura_session *s)
{
    struct sessions *x = ctx;
    char created[KURA_TIME_STR_MAX], seen[KURA_TIME_STR_MAX];
    kura_clock_format(s->created_at, created);
    kura_clock_format(s->last_seen_at, seen);
    bool current = memcmp(s->id_hash, x->me->id_hash, KURA_META_MAC_BYTES) == 0;
    return json_array_append_new(
        x->list, json_pack("{s:s,s:s,s:s?,s:s?,s:b,s:s}", "created_at", created, "last_seen_at",
                           seen, "source_ip", s->source_ip, "user_agent", s->user_agent, "current",
                           current, "kind", s->kind == KURA_SESSION_ENROL ? "enrolment" : "full"));
}

static int sessions_work(struct job *j)
{
    struct sessions x = {json_array(), &j->id};
    int rc = x.list ? kura_meta_session_list(j->api->auth->meta, j->id.account_id, add_session, &x)
                    : -ENOMEM;
    j->out = rc == 0 ? json_pack("{s:o}", "sessions", x.list) : (json_decref(x.list), NULL);
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

/* DELETE: every other session of the caller ends (a lost laptop, a shared machine). */
static int sessions_revoke_work(struct job *j)
{
    uint64_t n = 0;
    int rc =
        kura_meta_session_delete_account(j->api->auth->meta, j->id.account_id, j->id.id_hash, &n);
    j->out = rc == 0 ? json_pack("{s:I}", "revoked", (json_int_t)n) : NULL;
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int sessions_handler(struct kura_req *r)
{
    if (strcmp(kura_req_info(r)->method, "GET") == 0) {
        return api_start(r, NEED_SESSION, NULL, 0, sessions_work, KURA_POOL_WORK);
    }
    return api_start(r, NEED_SESSION | NEED_CSRF, NULL, 0, sessions_revoke_work, KURA_POOL_WORK);
}

const struct kura_route kura_api_me_routes[] = {
    {"POST", "/api/v1/me/password", 0, KURA_API_BODY_MAX, password_handler, "me.password", NULL},
    {"POST", "/api/v1/me/totp", 0, KURA_API_BODY_MAX, totp_handler, "me.totp_begin", NULL},
    {"POST", "/api/v1/me/totp/confirm", 0, KURA_API_BODY_MAX, confirm_handler, "me.totp_confirm",
     NULL},
    {"GET", "/api/v1/me/app-passwords", 0, 0, app_handler, "me.app_passwords", NULL},
    {"POST", "/api/v1/me/app-passwords", 0, KURA_API_BODY_MAX, app_handler,
     "me.app_password_create", NULL},
    {"DELETE", "/api/v1/me/app-passwords", KURA_ROUTE_PREFIX, 0, app_handler,
     "me.app_password_revoke", NULL},
    {"GET", "/api/v1/me/sessions", 0, 0, sessions_handler, "me.sessions", NULL},
    {"DELETE", "/api/v1/me/sessions", KURA_ROUTE_DESPITE_AUDIT, 0, sessions_handler,
     "me.sessions_revoke", NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
