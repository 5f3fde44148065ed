/* job.c — the two halves of every API request: checks and work on a pool, then the answer on
 * the connection's thread (api-internal.h). */
#include "api/api-internal.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

json_t *api_roles_json(unsigned roles)
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
    if (j->rc == 0 && (j->flags & NEED_ROLE) && !(j->id.roles & j->need_roles)) {
        j->rc = KURA_EFORBIDDEN;
        j->why = "role_missing";
    } else if (j->rc == 0 && (j->flags & NEED_ROLE) && !j->id.elevated) {
        j->rc = KURA_EFORBIDDEN;
        j->why = "not_elevated";
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
    if (j->id.break_glass) {
        /* Every request of an emergency account's session says so (an alert rule acts on it). */
        KURA_IGNORE(kura_req_audit_detail(r, "break_glass", "true"));
    }
    KURA_IGNORE(kura_req_set_reason(r, j->why));
    KURA_IGNORE(kura_req_set_action(r, j->action));
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
        kura_buf_release(&j->text);
        return kura_req_respond_error(r, j->rc);
    }
    if (j->text_type) {
        char *body = kura_arena_strndup(kura_req_info(r)->arena, j->text.ptr ? j->text.ptr : "",
                                        j->text.len);
        size_t len = j->text.len;
        kura_buf_release(&j->text);
        return body ? kura_req_respond(r, 200, j->text_type, body, len) : -ENOMEM;
    }
    char *text = j->out ? json_dumps(j->out, JSON_COMPACT) : NULL;
    json_decref(j->out);
    char *body = text ? kura_arena_strndup(kura_req_info(r)->arena, text, strlen(text)) : NULL;
    free(text);
    if (!body) {
        return -ENOMEM;
    }
    return kura_req_respond(r, j->status ? j->status : 200, "application/json; charset=utf-8", body,
                            strlen(body));
}

/* Prepares a job: the session cookie, the CSRF header, the body's fields. */
static int start_job(struct kura_req *r, unsigned flags, unsigned roles,
                     const struct api_field *fields, size_t n, const char *const *query,
                     work_fn work, enum kura_work_pool pool)
{
    const struct kura_req_info *info = kura_req_info(r);
    struct job *j = n <= F_MAX ? KURA_ARENA_NEW(info->arena, struct job) : NULL;
    if (n > F_MAX) {
        return KURA_EINTERNAL;
    }
    if (!j) {
        return kura_arena_err(info->arena);
    }
    j->api = info->app;
    j->flags = flags;
    j->need_roles = roles;
    j->work = work;
    j->source_ip = info->source_ip;
    j->user_agent = kura_req_header(r, MHD_HTTP_HEADER_USER_AGENT);
    j->path = info->path;
    j->cookie = api_cookie_value(kura_req_header(r, MHD_HTTP_HEADER_COOKIE), info->arena);
    j->csrf = kura_req_header(r, KURA_API_CSRF_HEADER);
    for (size_t i = 0; query && i < n; i++) {
        if (kura_req_query(r, query[i], (const char **)&j->f[i]) < 0) {
            KURA_IGNORE(kura_req_set_reason(r, "bad_query"));
            return KURA_EBADREQ;
        }
    }
    if (n > 0 && !query) {
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

int api_start(struct kura_req *r, unsigned flags, const struct api_field *fields, size_t n,
              work_fn work, enum kura_work_pool pool)
{
    return start_job(r, flags, 0, fields, n, NULL, work, pool);
}

int api_start_privileged(struct kura_req *r, unsigned roles, const struct api_field *fields,
                         size_t n, work_fn work, enum kura_work_pool pool)
{
    /* Every privileged request changes or reveals something: session, CSRF, role, elevation. */
    return start_job(r, NEED_SESSION | NEED_CSRF | NEED_ROLE, roles, fields, n, NULL, work, pool);
}

int api_start_query(struct kura_req *r, unsigned roles, const char *const *names, size_t n,
                    work_fn work, enum kura_work_pool pool)
{
    return start_job(r, NEED_SESSION | NEED_CSRF | NEED_ROLE, roles, NULL, n, names, work, pool);
}

void api_cookie_for(struct job *j, const char *token, int64_t max_age_s)
{
    (void)snprintf(j->set_cookie, sizeof(j->set_cookie),
                   KURA_API_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%lld",
                   token, (long long)max_age_s);
}
