/* api-internal.h — what the files of the api area share: the job that carries a request from
 * its handler through a work pool to its answer. */
#pragma once

#include <jansson.h>

#include "api/api.h"

struct job;
typedef int (*work_fn)(struct job *j);

enum { F_MAX = 10 }; /* fields of a request body, at most */

struct job {
    struct kura_api *api;
    const char *cookie, *csrf; /* from the request (arena) */
    unsigned flags;
    char *f[F_MAX];
    size_t flen[F_MAX];
    const char *source_ip, *user_agent, *path;
    work_fn work;
    /* results */
    struct kura_auth_identity id;
    bool have_id;
    int rc;
    json_t *out;
    struct kura_buf text;              /* an answer that is not JSON (CSV), with text_type */
    const char *text_type;             /* its Content-Type; NULL: the answer is out */
    unsigned status;                   /* of a JSON answer; 0: 200 */
    const char *why, *object, *action; /* audit overrides; action: static strings */
    unsigned need_roles;               /* NEED_ROLE: any of these roles, and elevated */
    char target[KURA_META_ID_MAX + 1]; /* the account acted on, for j->object */
    char set_cookie[160];
    int64_t retry_after_ms;
};

enum {
    NEED_SESSION = 1 << 0,
    NEED_CSRF = 1 << 1,
    ALLOW_ENROL = 1 << 2, /* a restricted enrolment session may call it */
    NEED_ROLE = 1 << 3,   /* one of j->need_roles, in an elevated session */
};

/* Role names as a JSON array. */
json_t *api_roles_json(unsigned roles);
/* Parses the body's fields (n of them), then runs work on pool with the checks of flags first
 * (session, CSRF, enrolment restriction); the answer is j->out as JSON or j->rc as an error. */
KURA_MUST_CHECK int api_start(struct kura_req *r, unsigned flags, const struct api_field *fields,
                              size_t n, work_fn work, enum kura_work_pool pool);
/* api_start for work that needs one of roles (a mask of enum kura_role) and elevation. */
KURA_MUST_CHECK int api_start_privileged(struct kura_req *r, unsigned roles,
                                         const struct api_field *fields, size_t n, work_fn work,
                                         enum kura_work_pool pool);
/* api_start_privileged whose fields are the query parameters names[0..n) (j->f[i], NULL when
 * absent; a parameter that is not one line of UTF-8 is 400). */
KURA_MUST_CHECK int api_start_query(struct kura_req *r, unsigned roles, const char *const *names,
                                    size_t n, work_fn work, enum kura_work_pool pool);
/* Sets j->set_cookie for a session token valid max_age_s seconds. */
void api_cookie_for(struct job *j, const char *token, int64_t max_age_s);
