/* tree.c — MKCOL and DELETE (to the trash). */
#include "dav/dav-internal.h"

#include <string.h>

int dav_mkcol(struct dav_job *j)
{
    if (j->body.len > 0) {
        j->why = "mkcol_body";
        return KURA_EMEDIATYPE; /* RFC 4918 9.3: 415 for a body we do not understand */
    }
    struct kura_store *s = j->api->store;
    int r = kura_store_home(s, &j->actor, &j->space);
    r = r == 0 ? dav_if_check(j) : r;
    r = r == 0 ? dav_locks_allow(j, j->rel.ptr, false) : r;
    r = r == 0 ? kura_store_mkcol(s, &j->actor, &j->space, j->rel.ptr, kura_clock_wall_ms(),
                                  &j->node, &j->why)
               : r;
    if (r == KURA_EEXIST) {
        j->why = "exists";
        return KURA_EMETHOD; /* RFC 4918 9.3.1: 405 when something is mapped there */
    }
    return r;
}

int dav_delete(struct dav_job *j)
{
    int r = dav_lookup(j);
    r = r == 0 ? dav_if_check(j) : r;
    r = r == 0 ? dav_locks_allow(j, j->rel.ptr, true) : r;
    return r < 0 ? r
                 : kura_store_delete(j->api->store, &j->actor, &j->space, &j->node,
                                     kura_clock_wall_ms(), &j->why);
}
