/* api — the JSON API under /api/v1/ (docs/api.md): sessions, the caller's own account, and (to
 * come) administration. Handlers parse and check the request on the connection's thread and do
 * every database and Argon2id step on a work pool (kura_req_defer), never on the event loop.
 *
 * Invariants:
 *  - Every response of a refused login is the same 401 body whatever the reason; the reason
 *    goes only to the audit record (kura_req_set_reason).
 *  - A session is the cookie __Host-kura_session (Secure, HttpOnly, SameSite=Strict, Path=/, no
 *    Domain); every state-changing request with a session also carries X-CSRF-Token.
 *  - Request bodies are JSON objects of known string fields only (api_json_fields): unknown or
 *    duplicate keys, other types, NUL, invalid UTF-8 or overlong values are 400.
 */
#pragma once

#include "audit/audit.h"
#include "auth/auth.h"
#include "http/http.h"

#define KURA_API_COOKIE "__Host-kura_session"
#define KURA_API_CSRF_HEADER "X-CSRF-Token"
#define KURA_API_BODY_MAX 8192 /* bytes of a JSON request body */

/* What the handlers share (kura_http_opts.app). */
struct kura_store;
struct kura_purge_opts;
struct kura_api {
    struct kura_auth_service *auth;
    struct kura_audit *audit; /* for the events of changes a request made (lock, ...) */
    struct kura_store *store; /* files and folders (WebDAV) */
    const struct kura_conf *conf;
    const struct kura_purge_opts *purge; /* how purges sign their certificates (files.c) */
};

extern const struct kura_route kura_api_routes[];       /* session.c */
extern const struct kura_route kura_api_me_routes[];    /* me.c */
extern const struct kura_route kura_api_admin_routes[]; /* admin.c */
extern const struct kura_route kura_api_files_routes[]; /* files.c: trash, versions, purge */

/* ---- request bodies (json.c) ------------------------------------------------------------- */

struct api_field {
    const char *name;
    size_t max_len; /* bytes */
    bool required;
};

/* Parses body as a JSON object whose keys are all in fields (n of them) with string values of
 * at most max_len bytes, no NUL; ret[i] receives field i's value as a NUL-terminated copy in
 * the arena (NULL when absent), ret_len[i] its length. KURA_EBADREQ otherwise, with every ret[i]
 * NULL and what was copied wiped. */
KURA_MUST_CHECK int api_json_fields(const char *body, size_t len, const struct api_field *fields,
                                    size_t n, struct kura_arena *arena, char **ret,
                                    size_t *ret_len);

/* The value of the session cookie in a Cookie header, or NULL (copied into the arena). */
const char *api_cookie_value(const char *header, struct kura_arena *arena);
