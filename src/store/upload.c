/* upload.c — PUT: plaintext in, a Crypt4GH segment stream into a new blob, then one metadata
 * transaction that makes it the file's current version.
 *
 * Order (crash safety): blob writer in tmp/ -> commit (fsync, rename, fsync dir) -> metadata
 * transaction -> removal of versions beyond versions_keep. A crash before the metadata commit
 * leaves an unreferenced blob (collected later), never a row pointing at a missing blob; a crash
 * after it leaves at most superfluous old blobs, collected the same way.
 *
 * The client's checksum (OC-Checksum / Digest) is verified before anything becomes visible: a
 * mismatch discards the blob. SHA-1 and MD5 exist only to check what clients send; kura stores
 * and serves SHA-256. */
#include "store/store-internal.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

struct kura_upload {
    struct kura_store *s;
    struct kura_space sp;
    char path[KURA_META_PATH_MAX + 1];
    char actor[KURA_META_ACTOR_MAX + 1];
    char if_match[KURA_META_ETAG_MAX + 1];
    bool has_if_match, if_none_match_any;
    int64_t announced, mtime;
    enum kura_digest_alg digest;
    uint8_t digest_value[32];
    EVP_MD_CTX *md; /* SHA-1 or MD5 of the plaintext, when the client sent one */
    uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES];
    struct kura_blob_writer *bw;
    struct kura_c4gh_writer *cw;
    uint64_t received;
    int err; /* sticky */
    /* Past PIPE_AFTER_BYTES, a worker (pipe.c) digests, encrypts and writes segments that the
     * connection thread copies into the pipe's buffers (slot, slot_len of one segment). */
    struct store_pipe *pipe;
    uint8_t *slot;
    size_t slot_len;
};

static int to_blob(void *ctx, const uint8_t *data, size_t len)
{
    struct kura_upload *u = ctx;
    return kura_blob_put_write(u->bw, data, len);
}

/* What a segment goes through: the client's checksum, then encryption into the blob. */
static int absorb(struct kura_upload *u, const void *data, size_t len)
{
    if (u->md && EVP_DigestUpdate(u->md, data, len) != 1) {
        return KURA_ECRYPTO;
    }
    return kura_c4gh_writer_write(u->cw, data, len);
}

/* The worker: segments from the pipe until the connection thread closes it. */
static int upload_worker(void *ctx, struct store_pipe *p)
{
    struct kura_upload *u = ctx;
    for (;;) {
        size_t len = 0;
        int r = 0;
        const uint8_t *b = store_pipe_peek(p, &len, &r);
        if (!b) {
            return r;
        }
        r = absorb(u, b, len);
        store_pipe_release(p);
        if (r < 0) {
            return r;
        }
    }
}

/* Copies data into the pipe's buffers, handing over each full one. */
static int feed_pipe(struct kura_upload *u, const uint8_t *data, size_t len)
{
    int r = 0;
    if (!u->pipe) {
        r = store_pipe_start(KURA_C4GH_SEGMENT_BYTES, upload_worker, u, &u->pipe);
    }
    while (r == 0 && len > 0) {
        if (!u->slot && !(u->slot = store_pipe_acquire(u->pipe, &r))) {
            break;
        }
        size_t take = KURA_C4GH_SEGMENT_BYTES - u->slot_len;
        take = take < len ? take : len;
        memcpy(u->slot + u->slot_len, data, take);
        u->slot_len += take;
        data += take;
        len -= take;
        if (u->slot_len == KURA_C4GH_SEGMENT_BYTES) {
            store_pipe_publish(u->pipe, u->slot_len, false);
            u->slot = NULL;
            u->slot_len = 0;
        }
    }
    return r;
}

/* Hands over the last partial buffer and waits for the worker: its error, or 0. */
static int drain_pipe(struct kura_upload *u)
{
    if (!u->pipe) {
        return 0;
    }
    if (u->slot) {
        store_pipe_publish(u->pipe, u->slot_len, true);
        u->slot = NULL;
    } else {
        store_pipe_close(u->pipe);
    }
    return store_pipe_finish(u->pipe);
}

static void upload_free(struct kura_upload *u)
{
    store_pipe_free(u->pipe); /* first: its worker uses what follows */
    kura_c4gh_writer_free(u->cw);
    kura_blob_put_abort(u->bw);
    EVP_MD_CTX_free(u->md);
    sodium_memzero(u->data_key, sizeof(u->data_key));
    kura_free(u);
}

void kura_store_put_abort(struct kura_upload *u)
{
    if (u) {
        upload_free(u);
    }
}

/* The state the target must be in: If-Match / If-None-Match, a file not a folder, a parent. */
static int check_target(struct kura_upload *u, struct kura_node *cur, bool *ret_exists)
{
    struct kura_meta *m = u->s->meta;
    int r = kura_meta_node_lookup(m, u->sp.id, u->path, cur);
    if (r < 0 && r != KURA_ENOTFOUND) {
        return r;
    }
    bool exists = r == 0;
    if (exists && cur->folder) {
        return KURA_EMETHOD; /* PUT on a collection (RFC 4918 9.7.2) */
    }
    if ((exists && u->if_none_match_any) || (!exists && u->has_if_match) ||
        (exists && u->has_if_match && strcmp(u->if_match, "*") != 0 &&
         strcmp(u->if_match, cur->etag) != 0)) {
        return KURA_EPRECOND;
    }
    if (!exists) {
        char parent[KURA_META_PATH_MAX + 1];
        struct kura_node p;
        store_parent_path(u->path, parent);
        r = kura_meta_node_lookup(m, u->sp.id, parent, &p);
        if (r == KURA_ENOTFOUND || (r == 0 && !p.folder)) {
            return KURA_ECONFLICT; /* no parent collection (RFC 4918 9.7.1) */
        }
        if (r < 0) {
            return r;
        }
    }
    *ret_exists = exists;
    return 0;
}

static int start_digest(struct kura_upload *u)
{
    const EVP_MD *md = u->digest == KURA_DIGEST_SHA1  ? EVP_sha1()
                       : u->digest == KURA_DIGEST_MD5 ? EVP_md5()
                                                      : NULL;
    if (!md) {
        return 0;
    }
    u->md = EVP_MD_CTX_new();
    return u->md && EVP_DigestInit_ex(u->md, md, NULL) == 1 ? 0 : KURA_ECRYPTO;
}

int kura_store_put_begin(struct kura_store *s, const struct kura_actor *a,
                         const struct kura_space *sp, const char *path,
                         const struct kura_put_opts *o, int64_t now, struct kura_upload **ret,
                         const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    size_t plen = strlen(path);
    if (r < 0) {
        return r;
    }
    if (plen == 0 || plen > KURA_META_PATH_MAX ||
        (o->if_match && strlen(o->if_match) > KURA_META_ETAG_MAX)) {
        return plen == 0 ? KURA_EMETHOD : KURA_EBADREQ;
    }
    struct kura_upload *u = kura_malloc(sizeof(*u));
    if (!u) {
        return -ENOMEM;
    }
    *u = (struct kura_upload){.s = s,
                              .sp = *sp,
                              .has_if_match = o->if_match != NULL,
                              .if_none_match_any = o->if_none_match_any,
                              .announced = o->size,
                              .mtime = o->mtime > 0 ? o->mtime : now,
                              .digest = o->digest};
    memcpy(u->path, path, plen + 1);
    (void)snprintf(u->actor, sizeof(u->actor), "user:%s", a->account);
    if (o->if_match) {
        memcpy(u->if_match, o->if_match, strlen(o->if_match) + 1);
    }
    memcpy(u->digest_value, o->digest_value, sizeof(u->digest_value));
    struct kura_node cur;
    bool exists = false;
    r = check_target(u, &cur, &exists);
    /* The announced size against the quota now, before a byte is stored (507 early). */
    if (r == 0 && sp->quota_bytes && o->size >= 0 &&
        sp->used_bytes + (uint64_t)o->size > sp->quota_bytes) {
        r = KURA_EQUOTA;
    }
    r = r == 0 ? start_digest(u) : r;
    r = r == 0 ? kura_random(u->data_key, sizeof(u->data_key)) : r;
    r = r == 0 ? kura_blob_put_begin(s->blob, &u->bw) : r;
    r = r == 0 ? kura_c4gh_writer_new(u->data_key, to_blob, u, &u->cw) : r;
    if (r < 0) {
        upload_free(u);
        return r;
    }
    *ret = u;
    return 0;
}

int kura_store_put_write(struct kura_upload *u, const void *data, size_t len)
{
    if (u->err < 0) {
        return u->err;
    }
    u->received += len;
    int r = 0;
    if (u->announced >= 0 && u->received > (uint64_t)u->announced) {
        r = KURA_EBADREQ; /* more than announced: the framing layer should have stopped it */
    } else if (u->sp.quota_bytes && u->sp.used_bytes + u->received > u->sp.quota_bytes) {
        r = KURA_EQUOTA; /* chunked uploads learn their size as they go */
    } else if (u->pipe || u->received > PIPE_AFTER_BYTES) {
        r = feed_pipe(u, data, len);
    } else {
        r = absorb(u, data, len);
    }
    u->err = r;
    return r;
}

/* The client's checksum against what arrived. */
static int check_digest(struct kura_upload *u, const struct kura_c4gh_summary *sum)
{
    if (u->digest == KURA_DIGEST_NONE) {
        return 0;
    }
    if (u->digest == KURA_DIGEST_SHA256) {
        return sodium_memcmp(sum->sha256, u->digest_value, 32) == 0 ? 0 : KURA_EDIGEST;
    }
    uint8_t got[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(u->md, got, &n) != 1) {
        return KURA_ECRYPTO;
    }
    return sodium_memcmp(got, u->digest_value, n) == 0 ? 0 : KURA_EDIGEST;
}

struct prune {
    uint64_t keep_after; /* versions seen so far */
    uint32_t keep;
    uint64_t ids[64];
    size_t n;
};

static int collect_old(void *ctx, const struct kura_version *v)
{
    struct prune *p = ctx;
    if (p->keep_after++ > p->keep && p->n < KURA_ARRAY_SIZE(p->ids)) {
        p->ids[p->n++] = v->id; /* newest first: the current one, then keep older ones */
    }
    return 0;
}

/* Inside the transaction: node, version, content, quota; versions beyond versions_keep go.
 * *ret_dropped gets their blob ids, for removal after the commit. */
static int record(struct kura_upload *u, const struct kura_version *v, int64_t now,
                  struct kura_node *node, bool *ret_created,
                  char (*dropped)[KURA_META_BLOB_ID_MAX + 1], size_t *ret_ndropped)
{
    struct kura_meta *m = u->s->meta;
    bool exists = false;
    int r = check_target(u, node, &exists);
    if (r == 0 && !exists) {
        struct kura_node n = {.space = u->sp.id, .created_at = now, .mtime = u->mtime};
        memcpy(n.path, u->path, strlen(u->path) + 1);
        r = kura_meta_node_create(m, &n, &node->id);
    }
    r = r == 0 ? kura_meta_space_charge(m, u->sp.id, (int64_t)v->size) : r;
    struct kura_version ver = *v;
    ver.node = node->id;
    uint64_t vid = 0;
    r = r == 0 ? kura_meta_version_add(m, &ver, &vid) : r;
    r = r == 0 ? kura_meta_node_set_content(m, node->id, vid, v->size, v->sha256, u->mtime) : r;
    struct prune p = {.keep = u->s->versions_keep};
    r = r == 0 ? kura_meta_version_list(m, node->id, collect_old, &p) : r;
    *ret_ndropped = 0;
    for (size_t i = 0; r == 0 && i < p.n; i++) {
        struct kura_version old;
        r = kura_meta_version_get(m, p.ids[i], &old);
        store_keycache_forget(u->s->keycache, p.ids[i]);
        r = r == 0 ? kura_meta_version_remove(m, old.id) : r;
        r = r == 0 ? kura_meta_space_charge(m, u->sp.id, -(int64_t)old.size) : r;
        if (r == 0) {
            memcpy(dropped[*ret_ndropped], old.blob, sizeof(old.blob));
            (*ret_ndropped)++;
        }
        sodium_memzero(&old, sizeof(old));
    }
    r = r == 0 ? kura_meta_node_get(m, node->id, node) : r;
    *ret_created = !exists;
    return r;
}

int kura_store_put_commit(struct kura_upload *u, int64_t now, struct kura_node *ret,
                          bool *ret_created)
{
    struct kura_c4gh_summary sum;
    struct kura_version v = {.created_at = now};
    int r = u->err;
    r = r == 0 ? drain_pipe(u) : r;
    r = r == 0 ? kura_c4gh_writer_finish(u->cw, &sum) : r;
    if (r == 0 && u->announced >= 0 && sum.size != (uint64_t)u->announced) {
        r = KURA_EBADREQ; /* shorter than announced */
    }
    r = r == 0 ? check_digest(u, &sum) : r;
    if (r == 0) {
        r = kura_blob_put_commit(u->bw, v.blob);
        u->bw = NULL; /* commit frees the writer, whatever its result */
    }
    if (r < 0) {
        upload_free(u);
        return r;
    }
    v.header_len = KURA_C4GH_HEADER_ONE_BYTES;
    v.size = sum.size;
    v.segments = sum.segments;
    memcpy(v.sha256, sum.sha256, sizeof(v.sha256));
    memcpy(v.nonce_prefix, sum.nonce_prefix, sizeof(v.nonce_prefix));
    memcpy(v.created_by, u->actor, sizeof(u->actor));
    char dropped[64][KURA_META_BLOB_ID_MAX + 1];
    size_t ndropped = 0;
    struct kura_meta *m = u->s->meta;
    r = kura_meta_txn_begin(m);
    if (r == 0) {
        /* The header is made inside the transaction, to the key current now: a key rotation's
         * last step runs in a write transaction too, so no header to a retired key can commit
         * after it (keys.c). */
        r = store_header_build(u->s, u->data_key, v.header, v.key_id);
        sodium_memzero(u->data_key, sizeof(u->data_key));
        r = r == 0 ? record(u, &v, now, ret, ret_created, dropped, &ndropped) : r;
        if (r == 0) {
            r = kura_meta_txn_commit(m);
        } else {
            kura_meta_txn_rollback(m);
        }
    }
    if (r < 0) {
        KURA_IGNORE(kura_blob_remove(u->s->blob, v.blob)); /* never referenced */
        ndropped = 0;
    }
    for (size_t i = 0; i < ndropped; i++) {
        store_release_blob(u->s, dropped[i]);
    }
    sodium_memzero(&v, sizeof(v));
    upload_free(u);
    return r;
}
