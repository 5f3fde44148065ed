/* dav-internal.h — shared by the WebDAV handlers (serve.c, propfind.c, transfer.c, tree.c). */
#pragma once

#include "api/api.h"
#include "auth/auth.h"
#include "blob/blob.h"
#include "dav/dav.h"
#include "http/http.h"
#include "store/store.h"

#define DAV_PREFIX "/dav"
#define DAV_HOME "home" /* /dav/home/...: the caller's personal space */
#define DAV_XML_BODY_MAX (1024 * 1024)
#define DAV_OUT_MAX (256u * 1024 * 1024) /* a multistatus answer */

enum dav_method {
    DAV_OPTIONS,
    DAV_PROPFIND,
    DAV_PROPPATCH,
    DAV_MKCOL,
    DAV_GET,
    DAV_HEAD,
    DAV_PUT,
    DAV_DELETE,
    DAV_COPY,
    DAV_MOVE,
    DAV_LOCK,
    DAV_UNLOCK,
};

/* Where a request path points. */
enum dav_where {
    DAV_AT_ROOT,  /* /dav or /dav/: the virtual collection listing home/ */
    DAV_AT_SPACE, /* /dav/home[/path] */
};

/* One WebDAV request: captured on the connection's thread, worked on a pool thread, answered
 * on the connection's thread again. Lives in the request arena. */
struct dav_job {
    struct kura_api *api;
    enum dav_method method;
    enum dav_where where;
    struct kura_path rel;  /* the path inside the space, normalised (kura_path_normalize) */
    const char *href_base; /* "/dav/home" */
    /* request headers, copied */
    const char *authorization, *cookie, *csrf, *depth, *destination, *overwrite, *if_hdr, *if_match,
        *if_none_match, *range, *oc_checksum, *digest, *oc_mtime, *content_range, *timeout,
        *lock_token;
    const char *source_ip, *user_agent;
    const char *origin; /* this server's canonical origin, for Destination and If tags */
    struct kura_dav_if ifh;
    bool ifh_parsed;
    const char *lock_token_out; /* LOCK: the Lock-Token answer header */
    struct kura_str body;
    struct kura_arena *arena;
    /* who */
    struct kura_actor actor;
    char account[KURA_META_ID_MAX + 1];
    bool via_session;
    const char *why; /* the audit reason of a refusal */
    /* the answer */
    int rc;
    unsigned status;
    struct kura_buf out; /* XML body, heap (kura_buf), handed to the response */
    const char *content_type;
    struct kura_node node; /* what the request found or made */
    struct kura_space space;
    struct kura_download *dl; /* GET: the open download */
    uint64_t dl_len, dl_first, dl_size;
    bool partial;
    struct kura_upload *up; /* PUT */
    bool created;
};

/* The actor from Basic (app passwords only) or the session cookie (+ CSRF for changes). */
int dav_authenticate(struct dav_job *j, bool changes);

/* An absolute request path ("/dav/home/a/b") as a normalised path inside the caller's space;
 * KURA_ENOTFOUND for a path outside /dav/home. */
int dav_space_path(const char *path, size_t len, struct kura_path *ret);

/* The If header holds (or is absent): 0, else KURA_EPRECOND (lock.c). */
int dav_if_check(struct dav_job *j);
/* Every lock on path (its ancestors with Depth infinity; with descendants, below it) has its
 * token submitted by its owner: 0, else KURA_EDAVLOCKED with a 423 body in j->out. */
int dav_locks_allow(struct dav_job *j, const char *path, bool descendants);
int dav_lock(struct dav_job *j);
int dav_unlock(struct dav_job *j);
/* change.c */
int dav_proppatch(struct dav_job *j);
int dav_copy_move(struct dav_job *j);
/* A live (computed, protected) property of propfind.c. */
bool dav_is_live(const struct kura_dav_name *n);

/* Method bodies, on a pool thread; each sets j->rc / j->status / j->out. */
int dav_propfind(struct dav_job *j);
int dav_mkcol(struct dav_job *j);
int dav_delete(struct dav_job *j);
int dav_get_open(struct dav_job *j);

/* The node at the request path in the caller's space, after access (read). */
int dav_lookup(struct dav_job *j);

/* PUT (transfer.c): the begin callback and the end handler of the route. */
int dav_put_begin(struct kura_req *r);
int dav_put_end(struct kura_req *r);
int dav_get_answer(struct kura_req *r, struct dav_job *j);

/* Fills a job from the request (connection thread). */
int dav_job_new(struct kura_req *r, enum dav_method m, struct dav_job **ret);
/* The response of a job that ran (connection thread). */
int dav_answer(struct kura_req *r, struct dav_job *j);
/* 401 with a Basic challenge, 4xx/5xx otherwise; the audit identity and reason set. */
int dav_fail(struct kura_req *r, struct dav_job *j, int rc);
void dav_set_identity(struct kura_req *r, const struct dav_job *j);
/* The href of a node: href_base + "/" + path (+ "/" for folders) */
int dav_href(struct dav_job *j, const char *path, bool folder, const char **ret, size_t *ret_len);
