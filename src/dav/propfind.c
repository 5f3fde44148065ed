/* propfind.c — PROPFIND (RFC 4918 §9.1): live properties of nodes, their dead properties, Depth 0
 * and 1 (infinity is refused with propfind-finite-depth, §9.1 and §16), and the virtual root
 * /dav/ that lists the caller's spaces. The properties the ownCloud client asks for (reference
 * §1.7: oc:id, oc:fileid, oc:permissions, oc:size, oc:checksums) are live properties too. */
#include "dav/dav-internal.h"

#include <stdio.h>
#include <string.h>

enum live {
    L_RESOURCETYPE,
    L_GETCONTENTLENGTH,
    L_GETLASTMODIFIED,
    L_CREATIONDATE,
    L_GETETAG,
    L_GETCONTENTTYPE,
    L_DISPLAYNAME,
    L_SUPPORTEDLOCK,
    L_LOCKDISCOVERY,
    L_QUOTA_USED,
    L_QUOTA_AVAILABLE,
    L_OC_ID,
    L_OC_FILEID,
    L_OC_PERMISSIONS,
    L_OC_SIZE,
    L_OC_CHECKSUMS,
    L_COUNT,
};

static const struct kura_dav_name live_names[L_COUNT] = {
    [L_RESOURCETYPE] = KURA_DAV_NAME_INIT("DAV:", "resourcetype"),
    [L_GETCONTENTLENGTH] = KURA_DAV_NAME_INIT("DAV:", "getcontentlength"),
    [L_GETLASTMODIFIED] = KURA_DAV_NAME_INIT("DAV:", "getlastmodified"),
    [L_CREATIONDATE] = KURA_DAV_NAME_INIT("DAV:", "creationdate"),
    [L_GETETAG] = KURA_DAV_NAME_INIT("DAV:", "getetag"),
    [L_GETCONTENTTYPE] = KURA_DAV_NAME_INIT("DAV:", "getcontenttype"),
    [L_DISPLAYNAME] = KURA_DAV_NAME_INIT("DAV:", "displayname"),
    [L_SUPPORTEDLOCK] = KURA_DAV_NAME_INIT("DAV:", "supportedlock"),
    [L_LOCKDISCOVERY] = KURA_DAV_NAME_INIT("DAV:", "lockdiscovery"),
    [L_QUOTA_USED] = KURA_DAV_NAME_INIT("DAV:", "quota-used-bytes"),
    [L_QUOTA_AVAILABLE] = KURA_DAV_NAME_INIT("DAV:", "quota-available-bytes"),
    [L_OC_ID] = KURA_DAV_NAME_INIT("http://owncloud.org/ns", "id"),
    [L_OC_FILEID] = KURA_DAV_NAME_INIT("http://owncloud.org/ns", "fileid"),
    [L_OC_PERMISSIONS] = KURA_DAV_NAME_INIT("http://owncloud.org/ns", "permissions"),
    [L_OC_SIZE] = KURA_DAV_NAME_INIT("http://owncloud.org/ns", "size"),
    [L_OC_CHECKSUMS] = KURA_DAV_NAME_INIT("http://owncloud.org/ns", "checksums"),
};

/* The properties allprop reports (RFC 4918 §9.1: those defined by the specification). */
static bool in_allprop(enum live l)
{
    return l <= L_LOCKDISCOVERY;
}

/* What one resource is, for the writers: a node, or the virtual root. */
struct res {
    const struct kura_node *node; /* NULL: the virtual root */
    const struct kura_space *space;
    struct dav_job *j;
};

static bool applies(enum live l, const struct res *x)
{
    bool folder = !x->node || x->node->folder;
    switch (l) {
    case L_GETCONTENTLENGTH:
    case L_GETCONTENTTYPE:
    case L_OC_CHECKSUMS:
        return !folder;
    case L_QUOTA_USED:
    case L_QUOTA_AVAILABLE:
        return x->node && x->node->folder;
    case L_GETETAG:
    case L_OC_ID:
    case L_OC_FILEID:
    case L_OC_PERMISSIONS:
    case L_OC_SIZE:
    case L_CREATIONDATE:
    case L_GETLASTMODIFIED:
        return x->node != NULL;
    default:
        return true;
    }
}

static void http_date(int64_t ms, char out[64])
{
    kura_http_date(ms, out);
}

/* RFC 4918 creationdate (RFC 3339, whole seconds). */
static void iso_date(int64_t ms, char out[64])
{
    char ts[KURA_TIME_STR_MAX];
    kura_clock_format(ms, ts);
    memcpy(out, ts, 19); /* "YYYY-MM-DDTHH:MM:SS" */
    memcpy(out + 19, "Z", 2);
}

struct locks_seen {
    struct dav_job *j;
    struct kura_dav_activelock al[16];
    size_t n;
};

static int one_lock(void *ctx, const struct kura_lock *l)
{
    struct locks_seen *c = ctx;
    if (c->n == KURA_ARRAY_SIZE(c->al)) {
        return 0;
    }
    struct kura_arena *a = c->j->arena;
    const char *href = NULL, *owner = l->owner_xml ? l->owner_xml : "";
    size_t hlen = 0;
    int64_t left = (l->expires_at - kura_clock_wall_ms()) / 1000;
    int r = dav_href(c->j, l->path, false, &href, &hlen);
    const char *token = kura_arena_strndup(a, l->token, strlen(l->token));
    const char *own = kura_arena_strndup(a, owner, strlen(owner));
    if (r < 0 || !token || !own) {
        return r < 0 ? r : kura_arena_err(a);
    }
    c->al[c->n++] = (struct kura_dav_activelock){
        .scope = l->scope == KURA_LOCK_SHARED ? KURA_DAV_LOCK_SHARED : KURA_DAV_LOCK_EXCLUSIVE,
        .depth = l->infinite ? KURA_DAV_DEPTH_INFINITY : KURA_DAV_DEPTH_0,
        .owner = {own, strlen(own)},
        .timeout_s = left > 0 ? (uint32_t)left : 0,
        .token = {token, strlen(token)},
        .root = {href, hlen}};
    return 0;
}

static int lockdiscovery(struct kura_buf *o, const struct res *x)
{
    struct locks_seen c = {.j = x->j};
    int r = x->node
                ? kura_store_lock_covering(x->j->api->store, &x->j->actor, x->space, x->node->path,
                                           false, kura_clock_wall_ms(), one_lock, &c)
                : 0;
    return r < 0 ? r : kura_dav_prop_lockdiscovery(o, c.al, c.n);
}

static int text(struct kura_buf *o, enum live l, const char *s)
{
    return kura_dav_prop_text(o, &live_names[l], s, strlen(s));
}

/* Properties every resource has, the virtual root included. */
static int write_common(struct kura_buf *o, enum live l, const struct res *x)
{
    const struct kura_node *n = x->node;
    switch (l) {
    case L_RESOURCETYPE:
        if (n && !n->folder) {
            return kura_dav_prop_empty(o, &live_names[l]);
        } else {
            int r = kura_dav_prop_open(o, &live_names[l]);
            KURA_BUF_ADDL(o, "<d:collection/>");
            kura_dav_prop_close(o, &live_names[l]);
            return r;
        }
    case L_DISPLAYNAME:
        return text(o, l, n ? (n->parent ? kura_node_name(n) : DAV_HOME) : "dav");
    case L_SUPPORTEDLOCK: {
        int r = kura_dav_prop_open(o, &live_names[l]);
        kura_dav_prop_supportedlock(o);
        kura_dav_prop_close(o, &live_names[l]);
        return r;
    }
    case L_LOCKDISCOVERY:
        return lockdiscovery(o, x);
    default:
        return -EINVAL;
    }
}

static int write_live(struct kura_buf *o, enum live l, const struct res *x)
{
    const struct kura_node *n = x->node;
    char v[160];
    if (l == L_RESOURCETYPE || l == L_DISPLAYNAME || l == L_SUPPORTEDLOCK || l == L_LOCKDISCOVERY) {
        return write_common(o, l, x);
    }
    if (!n || !x->space) {
        return -EINVAL; /* applies() keeps the rest to nodes */
    }
    switch (l) {
    case L_GETCONTENTLENGTH:
        return text(o, l, kura_fmt_u64(v, n->size));
    case L_GETLASTMODIFIED:
        http_date(n->mtime, v);
        return text(o, l, v);
    case L_CREATIONDATE:
        iso_date(n->created_at, v);
        return text(o, l, v);
    case L_GETETAG: {
        size_t len = strlen(n->etag);
        v[0] = '"';
        memcpy(v + 1, n->etag, len);
        memcpy(v + 1 + len, "\"", 2);
        return kura_dav_prop_text(o, &live_names[l], v, len + 2);
    }
    case L_GETCONTENTTYPE:
        return text(o, l, "application/octet-stream");
    case L_QUOTA_USED:
        return text(o, l, kura_fmt_u64(v, x->space->used_bytes));
    case L_QUOTA_AVAILABLE:
        /* RFC 4331: -3 would mean "unknown"; with no quota, report what is left of 2^53. */
        return text(o, l,
                    kura_fmt_u64(v, x->space->quota_bytes
                                        ? (x->space->quota_bytes > x->space->used_bytes
                                               ? x->space->quota_bytes - x->space->used_bytes
                                               : 0)
                                        : (UINT64_C(1) << 53)));
    case L_OC_ID:
        (void)snprintf(v, sizeof(v), "%08llukura", (unsigned long long)n->id);
        return text(o, l, v);
    case L_OC_FILEID:
        return text(o, l, kura_fmt_u64(v, n->id));
    case L_OC_PERMISSIONS:
        return text(o, l, n->folder ? "RDNVCK" : "RDNVW");
    case L_OC_SIZE:
        return text(o, l, kura_fmt_u64(v, n->folder ? 0 : n->size));
    case L_OC_CHECKSUMS: {
        char hex[65];
        kura_hex_encode(hex, n->sha256, sizeof(n->sha256));
        int r = kura_dav_prop_open(o, &live_names[l]);
        kura_buf_addf(o, "<oc:checksum>SHA256:%s</oc:checksum>", hex);
        kura_dav_prop_close(o, &live_names[l]);
        return r;
    }
    default:
        break;
    }
    return -EINVAL;
}

static int find_live(const struct kura_dav_name *name)
{
    for (int l = 0; l < L_COUNT; l++) {
        if (kura_dav_name_is(name, live_names[l].ns.ptr, live_names[l].local.ptr)) {
            return l;
        }
    }
    return -1;
}

bool dav_is_live(const struct kura_dav_name *n)
{
    return find_live(n) >= 0;
}

struct dead_ctx {
    struct kura_buf *o;
    bool names_only;
    int err;
};

static int write_dead(void *ctx, const struct kura_prop *p)
{
    struct dead_ctx *c = ctx;
    const struct kura_dav_name name = {{p->ns, strlen(p->ns)}, {p->name, strlen(p->name)}};
    int r = c->names_only ? kura_dav_prop_empty(c->o, &name)
                          : kura_dav_prop_fragment(c->o, &name, (struct kura_str){"", 0},
                                                   (struct kura_str){p->value, strlen(p->value)});
    c->err = r < 0 ? r : c->err;
    return 0;
}

/* One <d:response> for resource x at href. */
/* What a PROPFIND asks for, with each named property's live index (find_live, -1: dead)
 * looked up once rather than once per response. */
struct plan {
    const struct kura_dav_propfind *pf;
    const int *live;
};

static int respond_one(struct dav_job *j, const struct plan *p, const struct res *x,
                       const char *href, size_t hlen)
{
    const struct kura_dav_propfind *pf = p->pf;
    struct kura_buf *o = &j->out;
    int r = kura_dav_response_begin(o, href, hlen);
    if (r < 0) {
        return r;
    }
    kura_dav_propstat_begin(o);
    bool missing = false;
    if (pf->kind == KURA_DAV_PROPFIND_PROP) {
        for (size_t i = 0; i < pf->n_props; i++) {
            int l = p->live[i];
            char *value = NULL;
            if (l >= 0 && applies((enum live)l, x)) {
                r = write_live(o, (enum live)l, x);
            } else if (l < 0 && x->node &&
                       kura_store_prop_get(j->api->store, &j->actor, x->space, x->node,
                                           pf->props[i].ns.ptr, pf->props[i].local.ptr,
                                           &value) == 0) {
                r = kura_dav_prop_fragment(o, &pf->props[i], (struct kura_str){"", 0},
                                           (struct kura_str){value, strlen(value)});
                kura_free(value);
            } else {
                missing = true;
            }
        }
    } else {
        for (int l = 0; l < L_COUNT && r == 0; l++) {
            if (applies((enum live)l, x) &&
                (in_allprop((enum live)l) || pf->kind == KURA_DAV_PROPFIND_PROPNAME)) {
                r = pf->kind == KURA_DAV_PROPFIND_PROPNAME ? kura_dav_prop_empty(o, &live_names[l])
                                                           : write_live(o, (enum live)l, x);
            }
        }
        struct dead_ctx c = {o, pf->kind == KURA_DAV_PROPFIND_PROPNAME, 0};
        if (r == 0 && x->node) {
            r = kura_store_prop_list(j->api->store, &j->actor, x->space, x->node, write_dead, &c);
            r = r < 0 ? r : c.err;
        }
    }
    kura_dav_propstat_end(o, 200);
    if (missing) {
        kura_dav_propstat_begin(o);
        for (size_t i = 0; i < pf->n_props; i++) {
            int l = p->live[i];
            char *value = NULL;
            bool found = l >= 0
                             ? applies((enum live)l, x)
                             : x->node && kura_store_prop_get(j->api->store, &j->actor, x->space,
                                                              x->node, pf->props[i].ns.ptr,
                                                              pf->props[i].local.ptr, &value) == 0;
            kura_free(value);
            if (!found) {
                KURA_IGNORE(kura_dav_prop_empty(o, &pf->props[i]));
            }
        }
        kura_dav_propstat_end(o, 404);
    }
    kura_dav_response_end(o);
    return r;
}

struct child_ctx {
    struct dav_job *j;
    const struct plan *p;
    int err;
};

static int one_child(void *ctx, const struct kura_node *n)
{
    struct child_ctx *c = ctx;
    const char *href = NULL;
    size_t hlen = 0;
    const struct res x = {n, &c->j->space, c->j};
    int r = dav_href(c->j, n->path, n->folder, &href, &hlen);
    r = r == 0 ? respond_one(c->j, c->p, &x, href, hlen) : r;
    c->err = r;
    return r;
}

int dav_propfind(struct dav_job *j)
{
    enum kura_dav_depth depth = KURA_DAV_DEPTH_INFINITY;
    struct kura_dav_propfind pf;
    if (j->depth && kura_dav_parse_depth(j->depth, strlen(j->depth), &depth) < 0) {
        j->why = "bad_depth";
        return KURA_EBADHDR;
    }
    if (depth == KURA_DAV_DEPTH_INFINITY) {
        j->why = "propfind_infinite_depth";
        j->status = 403;
        j->out = KURA_BUF_INIT(4096);
        return kura_dav_error_body(&j->out, KURA_DAV_COND_PROPFIND_FINITE_DEPTH, NULL, 0) < 0
                   ? -ENOMEM
                   : KURA_EFORBIDDEN;
    }
    int r = kura_dav_parse_propfind(j->arena, j->body.ptr, j->body.len, &pf, NULL);
    if (r < 0) {
        j->why = "bad_propfind_body";
        return r;
    }
    int *live = kura_arena_calloc(j->arena, pf.n_props ? pf.n_props : 1, sizeof(*live));
    if (!live) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < pf.n_props; i++) {
        live[i] = find_live(&pf.props[i]);
    }
    const struct plan plan = {&pf, live};
    kura_dav_ms_begin(&j->out);
    if (j->where == DAV_AT_ROOT) {
        const struct res root = {NULL, NULL, j};
        r = respond_one(j, &plan, &root, DAV_PREFIX "/", sizeof(DAV_PREFIX));
        if (r == 0 && depth == KURA_DAV_DEPTH_1) {
            r = kura_store_home(j->api->store, &j->actor, &j->space);
            r = r == 0 ? kura_store_stat(j->api->store, &j->actor, &j->space, "", &j->node, &j->why)
                       : r;
            const struct res home = {&j->node, &j->space, j};
            r = r == 0 ? respond_one(j, &plan, &home, DAV_PREFIX "/" DAV_HOME "/",
                                     sizeof(DAV_PREFIX "/" DAV_HOME))
                       : r;
        }
    } else {
        r = dav_lookup(j);
        const char *href = NULL;
        size_t hlen = 0;
        const struct res x = {&j->node, &j->space, j};
        r = r == 0 ? dav_href(j, j->node.path, j->node.folder, &href, &hlen) : r;
        r = r == 0 ? respond_one(j, &plan, &x, href, hlen) : r;
        if (r == 0 && depth == KURA_DAV_DEPTH_1 && j->node.folder) {
            struct child_ctx c = {j, &plan, 0};
            r = kura_store_list(j->api->store, &j->actor, &j->space, &j->node, one_child, &c,
                                &j->why);
        }
    }
    kura_dav_ms_end(&j->out);
    return r < 0 ? r : kura_buf_err(&j->out);
}
