/* change.c — PROPPATCH (dead properties, all or nothing), COPY and MOVE (Destination on this
 * server's origin, Overwrite, Depth). */
#include "dav/dav-internal.h"

#include <string.h>

/* ---- PROPPATCH ----------------------------------------------------------------------------- */

/* Live properties are computed, never stored: setting or removing one is refused (RFC 4918
 * 9.2: 403 cannot-modify-protected-property), which fails the whole request. */
static bool is_protected(const struct kura_dav_name *n)
{
    return dav_is_live(n) || (n->ns.len == sizeof(KURA_DAV_NS_DAV) - 1 &&
                              memcmp(n->ns.ptr, KURA_DAV_NS_DAV, n->ns.len) == 0 &&
                              (kura_dav_name_is(n, "DAV:", "lockdiscovery") ||
                               kura_dav_name_is(n, "DAV:", "supportedlock")));
}

static int multistatus_props(struct dav_job *j, const struct kura_dav_proppatch *pp, size_t failed,
                             int err)
{
    const char *href = NULL;
    size_t hlen = 0;
    int r = dav_href(j, j->node.path, j->node.folder, &href, &hlen);
    kura_dav_ms_begin(&j->out);
    r = r == 0 ? kura_dav_response_begin(&j->out, href, hlen) : r;
    for (size_t i = 0; r == 0 && i < pp->n_ops; i++) {
        unsigned status = err == 0      ? 200
                          : i == failed ? (is_protected(&pp->ops[i].name) ? 403
                                           : err == KURA_ETOOBIG          ? 507
                                                                          : 409)
                                        : 424;
        kura_dav_propstat_begin(&j->out);
        r = kura_dav_prop_empty(&j->out, &pp->ops[i].name);
        kura_dav_propstat_end(&j->out, status);
    }
    kura_dav_response_end(&j->out);
    kura_dav_ms_end(&j->out);
    return r < 0 ? r : kura_buf_err(&j->out);
}

int dav_proppatch(struct dav_job *j)
{
    struct kura_dav_proppatch pp;
    int r = kura_dav_parse_proppatch(j->arena, j->body.ptr, j->body.len, &pp, NULL);
    if (r < 0) {
        j->why = "bad_proppatch_body";
        return r;
    }
    r = dav_lookup(j);
    r = r == 0 ? dav_if_check(j) : r;
    r = r == 0 ? dav_locks_allow(j, j->rel.ptr, false) : r;
    if (r < 0) {
        return r;
    }
    struct kura_store_prop_op *ops = kura_arena_alloc(j->arena, pp.n_ops * sizeof(*ops));
    if (!ops) {
        return kura_arena_err(j->arena);
    }
    size_t failed = pp.n_ops;
    for (size_t i = 0; i < pp.n_ops && failed == pp.n_ops; i++) {
        const struct kura_dav_patch *p = &pp.ops[i];
        ops[i] = (struct kura_store_prop_op){p->op == KURA_DAV_PATCH_REMOVE, p->name.ns.ptr,
                                             p->name.local.ptr, p->value.ptr};
        failed = is_protected(&p->name) ? i : failed;
    }
    int err = failed < pp.n_ops ? KURA_EFORBIDDEN : 0;
    if (err == 0) {
        err = kura_store_props_apply(j->api->store, &j->actor, &j->space, &j->node, ops, pp.n_ops,
                                     &failed, &j->why);
        if (err == KURA_EFORBIDDEN) {
            return err; /* the caller's access, not a property: a plain 403 */
        }
    }
    j->why = err ? "proppatch_failed" : NULL;
    j->status = 207;
    return multistatus_props(j, &pp, failed, err);
}

/* ---- COPY and MOVE ------------------------------------------------------------------------- */

/* The Destination header as a path inside the caller's space. */
static int destination(struct dav_job *j, struct kura_path *ret)
{
    const char *p = NULL;
    size_t len = 0;
    if (!j->destination) {
        j->why = "no_destination";
        return KURA_EBADREQ;
    }
    int r = kura_dav_parse_destination(j->arena, j->destination, strlen(j->destination), j->origin,
                                       &p, &len);
    if (r < 0) {
        j->why = r == KURA_EHOST ? "destination_other_origin" : "bad_destination";
        return r == KURA_EHOST ? KURA_EFORBIDDEN : r;
    }
    r = dav_space_path(p, len, ret);
    if (r == KURA_ENOTFOUND) {
        j->why = "destination_outside_space";
        return KURA_EFORBIDDEN; /* RFC 4918 9.8.5: 502 for another server; ours: forbidden */
    }
    return r;
}

int dav_copy_move(struct dav_job *j)
{
    bool overwrite = true, move = j->method == DAV_MOVE;
    enum kura_dav_depth depth = KURA_DAV_DEPTH_INFINITY;
    if ((j->overwrite &&
         kura_dav_parse_overwrite(j->overwrite, strlen(j->overwrite), &overwrite) < 0) ||
        (j->depth && kura_dav_parse_depth(j->depth, strlen(j->depth), &depth) < 0) ||
        depth == KURA_DAV_DEPTH_1 || (move && depth != KURA_DAV_DEPTH_INFINITY)) {
        j->why = "bad_header";
        return KURA_EBADREQ; /* RFC 4918 9.8.3, 9.9.2 */
    }
    struct kura_path dest = KURA_PATH_INIT;
    int r = dav_lookup(j);
    r = r == 0 ? destination(j, &dest) : r;
    r = r == 0 ? dav_if_check(j) : r;
    r = r == 0 && move ? dav_locks_allow(j, j->rel.ptr, true) : r;
    r = r == 0 ? dav_locks_allow(j, dest.ptr, true) : r;
    if (r == 0 && strcmp(dest.ptr, j->rel.ptr) == 0) {
        j->why = "same_source_and_destination";
        r = KURA_EFORBIDDEN;
    }
    bool replaced = false;
    struct kura_node out;
    int64_t now = kura_clock_wall_ms();
    if (r == 0) {
        r = move ? kura_store_move(j->api->store, &j->actor, &j->space, &j->node, dest.ptr,
                                   overwrite, now, &out, &replaced, &j->why)
                 : kura_store_copy(j->api->store, &j->actor, &j->space, &j->node, dest.ptr,
                                   depth == KURA_DAV_DEPTH_INFINITY, overwrite, now, &out,
                                   &replaced, &j->why);
    }
    kura_path_release(&dest);
    if (r == KURA_EPRECOND) {
        j->why = "destination_exists";
    }
    if (r == 0) {
        j->node = out;
        j->created = !replaced;
    }
    return r;
}
