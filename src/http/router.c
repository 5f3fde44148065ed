/* router.c — flat dispatch over the route tables (docs/style.md item 8).
 *
 * Tables are short and few; a linear scan over exact paths and prefixes is faster than anything
 * cleverer at this size and impossible to get wrong. HEAD is served by GET routes (MHD drops the
 * body of a HEAD response).
 */
#include "http-internal.h"

#include <string.h>

static bool path_matches(const struct kura_route *rt, const char *path, size_t len)
{
    size_t n = strlen(rt->path);
    if (!(rt->flags & KURA_ROUTE_PREFIX)) {
        return n == len && memcmp(rt->path, path, len) == 0;
    }
    if (len < n || memcmp(rt->path, path, n) != 0) {
        return false;
    }
    /* "/dav" matches "/dav" and "/dav/x", not "/davx"; a prefix ending in '/' matches below. */
    return len == n || rt->path[n - 1] == '/' || path[n] == '/';
}

int http_route(struct kura_http_server *s, struct kura_req *r, const struct kura_route **ret,
               const char **ret_allow)
{
    const char *method = r->info.method;
    if (strcmp(method, "HEAD") == 0) {
        method = "GET";
    }
    struct kura_buf allow = KURA_BUF_INIT(256);
    for (const struct kura_route *const *t = s->tables; *t; t++) {
        for (const struct kura_route *rt = *t; rt->path; rt++) {
            if (!path_matches(rt, r->info.path, r->info.path_len)) {
                continue;
            }
            if (strcmp(rt->method, method) == 0) {
                kura_buf_release(&allow);
                *ret = rt;
                return 0;
            }
            kura_buf_addf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
            if (strcmp(rt->method, "GET") == 0) {
                kura_buf_adds(&allow, ", HEAD");
            }
        }
    }
    int err = KURA_ENOTFOUND;
    if (allow.len) {
        err = KURA_EMETHOD;
        *ret_allow =
            kura_buf_err(&allow) ? NULL : kura_arena_strndup(r->info.arena, allow.ptr, allow.len);
    }
    kura_buf_release(&allow);
    return err;
}
