/* lock.c — LOCK, UNLOCK, the If header (RFC 4918 10.4) and what locks forbid.
 *
 * A write to a locked resource (the lock on it, on an ancestor with Depth infinity, or — for
 * DELETE and MOVE of a collection — on something below it) needs every such lock's token in the
 * If header, submitted by the lock's owner; otherwise 423 with lock-token-submitted. The If
 * header itself must hold (any list true: every state token names a lock covering the list's
 * resource, every entity-tag matches it, Not inverting one condition), otherwise 412. */
#include "dav/dav-internal.h"

#include <stdio.h>
#include <string.h>

#define LOCKS_SEEN_MAX 64

/* ---- the If header ------------------------------------------------------------------------ */

static int parse_if(struct dav_job *j)
{
    if (!j->if_hdr || j->ifh_parsed) {
        return 0;
    }
    int r = kura_dav_parse_if(j->arena, j->if_hdr, strlen(j->if_hdr), &j->ifh);
    j->ifh_parsed = r == 0;
    j->why = r < 0 ? "bad_if_header" : j->why;
    return r < 0 ? KURA_EBADREQ : 0;
}

/* The path inside the caller's space that an If resource tag names, or NULL when it names none
 * of it (then no list with that tag can hold). */
static const char *tag_path(struct dav_job *j, struct kura_str tag)
{
    const char *p = NULL;
    size_t len = 0;
    if (kura_dav_parse_destination(j->arena, tag.ptr, tag.len, j->origin, &p, &len) < 0) {
        return NULL;
    }
    struct kura_path rel = KURA_PATH_INIT;
    const char *out = NULL;
    if (dav_space_path(p, len, &rel) == 0) {
        out = kura_arena_strndup(j->arena, rel.ptr, rel.len);
    }
    kura_path_release(&rel);
    return out;
}

static bool lock_covers(const struct kura_lock *l, const char *path)
{
    size_t n = strlen(l->path);
    if (strcmp(l->path, path) == 0) {
        return true;
    }
    if (!l->infinite) {
        return false;
    }
    return n == 0 || (strncmp(path, l->path, n) == 0 && path[n] == '/');
}

static bool cond_holds(struct dav_job *j, const struct kura_dav_if_cond *c, const char *path,
                       const struct kura_node *node)
{
    if (c->etag) {
        if (!node) {
            return false;
        }
        char tag[KURA_META_ETAG_MAX + 3];
        int n = snprintf(tag, sizeof(tag), "\"%s\"", node->etag);
        return kura_dav_etag_match(c->value, (struct kura_str){tag, (size_t)n}, false);
    }
    char token[KURA_META_LOCK_TOKEN_MAX + 1];
    if (c->value.len > KURA_META_LOCK_TOKEN_MAX) {
        return false;
    }
    memcpy(token, c->value.ptr, c->value.len);
    token[c->value.len] = '\0';
    struct kura_lock l = {0};
    bool ok = kura_store_lock_get(j->api->store, token, kura_clock_wall_ms(), &l) == 0 &&
              l.space == j->space.id && lock_covers(&l, path);
    kura_lock_release(&l);
    return ok;
}

static bool list_holds(struct dav_job *j, const struct kura_dav_if_list *list)
{
    const char *path = list->tag.len ? tag_path(j, list->tag) : j->rel.ptr;
    if (!path) {
        return false;
    }
    struct kura_node node;
    bool exists = kura_store_stat(j->api->store, &j->actor, &j->space, path, &node, NULL) == 0;
    for (size_t i = 0; i < list->n_conds; i++) {
        bool h = cond_holds(j, &list->conds[i], path, exists ? &node : NULL);
        if (h == list->conds[i].negate) {
            return false;
        }
    }
    return true;
}

int dav_if_check(struct dav_job *j)
{
    int r = parse_if(j);
    if (r < 0 || !j->ifh_parsed) {
        return r;
    }
    if (!j->space.id) {
        r = kura_store_home(j->api->store, &j->actor, &j->space);
        if (r < 0) {
            return r;
        }
    }
    for (size_t i = 0; i < j->ifh.n_lists; i++) {
        if (list_holds(j, &j->ifh.lists[i])) {
            return 0;
        }
    }
    j->why = "if_header_false";
    return KURA_EPRECOND;
}

/* ---- what locks forbid ------------------------------------------------------------------- */

struct seen {
    struct dav_job *j;
    const char *missing; /* the root of a lock whose token was not submitted */
};

static bool submitted(struct dav_job *j, const char *token)
{
    for (size_t i = 0; j->ifh_parsed && i < j->ifh.n_lists; i++) {
        const struct kura_dav_if_list *l = &j->ifh.lists[i];
        for (size_t k = 0; k < l->n_conds; k++) {
            const struct kura_dav_if_cond *c = &l->conds[k];
            if (!c->etag && !c->negate && c->value.len == strlen(token) &&
                memcmp(c->value.ptr, token, c->value.len) == 0) {
                return true;
            }
        }
    }
    return false;
}

static int check_lock(void *ctx, const struct kura_lock *l)
{
    struct seen *s = ctx;
    if (!s->missing && (!submitted(s->j, l->token) || strcmp(l->owner, s->j->account) != 0)) {
        s->missing = kura_arena_strndup(s->j->arena, l->path, strlen(l->path));
    }
    return 0;
}

int dav_locks_allow(struct dav_job *j, const char *path, bool descendants)
{
    int r = parse_if(j);
    if (r < 0) {
        return r;
    }
    if (!j->space.id) {
        r = kura_store_home(j->api->store, &j->actor, &j->space);
        if (r < 0) {
            return r;
        }
    }
    struct seen s = {j, NULL};
    r = kura_store_lock_covering(j->api->store, &j->actor, &j->space, path, descendants,
                                 kura_clock_wall_ms(), check_lock, &s);
    if (r < 0 || !s.missing) {
        return r;
    }
    const char *href = NULL;
    size_t hlen = 0;
    r = dav_href(j, s.missing, false, &href, &hlen);
    const struct kura_str paths[] = {{href, hlen}};
    j->status = 423;
    j->why = "locked";
    kura_buf_reset(&j->out);
    if (r == 0) {
        r = kura_dav_error_body(&j->out, KURA_DAV_COND_LOCK_TOKEN_SUBMITTED, paths, 1);
    }
    return r < 0 ? r : KURA_EDAVLOCKED;
}

/* ---- LOCK ---------------------------------------------------------------------------------- */

static int lock_answer_body(struct dav_job *j, const struct kura_lock *l)
{
    const char *href = NULL;
    size_t hlen = 0;
    int r = dav_href(j, l->path, false, &href, &hlen);
    int64_t left = (l->expires_at - kura_clock_wall_ms()) / 1000;
    const struct kura_dav_activelock al = {
        .scope = l->scope == KURA_LOCK_SHARED ? KURA_DAV_LOCK_SHARED : KURA_DAV_LOCK_EXCLUSIVE,
        .depth = l->infinite ? KURA_DAV_DEPTH_INFINITY : KURA_DAV_DEPTH_0,
        .owner = {l->owner_xml ? l->owner_xml : "", l->owner_xml ? strlen(l->owner_xml) : 0},
        .timeout_s = left > 0 ? (uint32_t)left : 0,
        .token = {l->token, strlen(l->token)},
        .root = {href, hlen}};
    return r < 0 ? r : kura_dav_lock_body(&j->out, &al);
}

static uint32_t timeout_s(struct dav_job *j)
{
    uint32_t max = (uint32_t)j->api->conf->store.lock_max_seconds, t = max;
    if (j->timeout && kura_dav_parse_timeout(j->timeout, strlen(j->timeout), max, &t) < 0) {
        t = max;
    }
    return t ? t : 1;
}

static int lock_refresh(struct dav_job *j)
{
    int r = parse_if(j);
    if (r < 0 || !j->ifh_parsed || j->ifh.n_lists == 0) {
        j->why = "refresh_without_token";
        return r < 0 ? r : KURA_EBADREQ;
    }
    const struct kura_dav_if_list *list = &j->ifh.lists[0];
    for (size_t i = 0; i < list->n_conds; i++) {
        const struct kura_dav_if_cond *c = &list->conds[i];
        char token[KURA_META_LOCK_TOKEN_MAX + 1];
        if (c->etag || c->negate || c->value.len > KURA_META_LOCK_TOKEN_MAX) {
            continue;
        }
        memcpy(token, c->value.ptr, c->value.len);
        token[c->value.len] = '\0';
        struct kura_lock l = {0};
        int64_t now = kura_clock_wall_ms();
        r = kura_store_lock_get(j->api->store, token, now, &l);
        if (r == 0 && l.space == j->space.id && lock_covers(&l, j->rel.ptr)) {
            l.expires_at = now + (int64_t)timeout_s(j) * 1000;
            r = kura_store_lock_refresh(j->api->store, &j->actor, token, now, l.expires_at);
            r = r == 0 ? lock_answer_body(j, &l) : r;
            kura_lock_release(&l);
            j->status = 200;
            return r;
        }
        kura_lock_release(&l);
    }
    j->why = "no_such_lock";
    j->status = 412;
    kura_buf_reset(&j->out);
    return kura_dav_error_body(&j->out, KURA_DAV_COND_LOCK_TOKEN_MATCHES_REQUEST_URI, NULL, 0) < 0
               ? -ENOMEM
               : KURA_EPRECOND;
}

/* A LOCK on an unmapped URL creates an empty file there (RFC 4918 9.10.4). */
static int create_empty(struct dav_job *j)
{
    struct kura_upload *u = NULL;
    const struct kura_put_opts o = {.size = 0, .if_none_match_any = true};
    int64_t now = kura_clock_wall_ms();
    int r =
        kura_store_put_begin(j->api->store, &j->actor, &j->space, j->rel.ptr, &o, now, &u, &j->why);
    bool created = false;
    r = r == 0 ? kura_store_put_commit(u, now, &j->node, &created) : r;
    j->created = created;
    return r;
}

int dav_lock(struct dav_job *j)
{
    struct kura_dav_lockinfo li;
    int r = kura_store_home(j->api->store, &j->actor, &j->space);
    r = r == 0 ? kura_dav_parse_lockinfo(j->arena, j->body.ptr, j->body.len, &li, NULL) : r;
    if (r < 0) {
        j->why = j->why ? j->why : "bad_lock_body";
        return r;
    }
    if (li.refresh) {
        return lock_refresh(j);
    }
    enum kura_dav_depth depth = KURA_DAV_DEPTH_INFINITY;
    if (j->depth && (kura_dav_parse_depth(j->depth, strlen(j->depth), &depth) < 0 ||
                     depth == KURA_DAV_DEPTH_1)) {
        j->why = "bad_depth";
        return KURA_EBADREQ; /* RFC 4918 9.10.3: 0 or infinity */
    }
    if (li.owner.len > KURA_META_LOCK_OWNER_MAX) {
        j->why = "owner_too_long";
        return KURA_ETOOBIG;
    }
    r = dav_if_check(j);
    if (r < 0) {
        return r;
    }
    r = kura_store_stat(j->api->store, &j->actor, &j->space, j->rel.ptr, &j->node, &j->why);
    if (r == KURA_ENOTFOUND) {
        r = dav_locks_allow(j, j->rel.ptr, false);
        r = r == 0 ? create_empty(j) : r;
    }
    if (r < 0) {
        return r;
    }
    int64_t now = kura_clock_wall_ms();
    struct kura_lock l = {.infinite = depth == KURA_DAV_DEPTH_INFINITY && j->node.folder,
                          .scope = li.scope == KURA_DAV_LOCK_SHARED ? KURA_LOCK_SHARED
                                                                    : KURA_LOCK_EXCLUSIVE,
                          .owner_xml = li.owner.len ? li.owner.ptr : NULL,
                          .created_at = now,
                          .expires_at = now + (int64_t)timeout_s(j) * 1000};
    (void)snprintf(l.path, sizeof(l.path), "%s", j->rel.ptr);
    r = kura_store_lock_acquire(j->api->store, &j->actor, &j->space, &l, &j->why);
    if (r == KURA_EDAVLOCKED) {
        j->status = 423;
        kura_buf_reset(&j->out);
        return kura_dav_error_body(&j->out, KURA_DAV_COND_NO_CONFLICTING_LOCK, NULL, 0) < 0
                   ? -ENOMEM
                   : KURA_EDAVLOCKED;
    }
    r = r == 0 ? lock_answer_body(j, &l) : r;
    j->lock_token_out = kura_arena_printf(j->arena, "<%s>", l.token);
    j->status = j->created ? 201 : 200;
    return r;
}

/* ---- UNLOCK -------------------------------------------------------------------------------- */

int dav_unlock(struct dav_job *j)
{
    struct kura_str token;
    int r = kura_store_home(j->api->store, &j->actor, &j->space);
    if (r == 0 && (!j->lock_token ||
                   kura_dav_parse_lock_token(j->lock_token, strlen(j->lock_token), &token) < 0)) {
        j->why = "no_lock_token";
        return KURA_EBADREQ;
    }
    if (r < 0) {
        return r;
    }
    char t[KURA_META_LOCK_TOKEN_MAX + 1];
    if (token.len > KURA_META_LOCK_TOKEN_MAX) {
        j->why = "no_such_lock";
        return KURA_ECONFLICT;
    }
    memcpy(t, token.ptr, token.len);
    t[token.len] = '\0';
    struct kura_lock l = {0};
    int64_t now = kura_clock_wall_ms();
    r = kura_store_lock_get(j->api->store, t, now, &l);
    bool covers = r == 0 && l.space == j->space.id && lock_covers(&l, j->rel.ptr);
    kura_lock_release(&l);
    if (r == KURA_ENOTFOUND || (r == 0 && !covers)) {
        j->why = "lock_token_mismatch";
        j->status = 409;
        kura_buf_reset(&j->out);
        return kura_dav_error_body(&j->out, KURA_DAV_COND_LOCK_TOKEN_MATCHES_REQUEST_URI, NULL, 0) <
                       0
                   ? -ENOMEM
                   : KURA_ECONFLICT;
    }
    return r < 0 ? r : kura_store_lock_remove(j->api->store, &j->actor, t, now);
}
