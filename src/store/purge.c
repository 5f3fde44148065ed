/* purge.c — crypto-shredding: a trashed subtree destroyed for good, and the signed deletion
 * certificate that says what was destroyed and how (store.h, "purge").
 *
 * Why the order matters. The ciphertext blob is useless without its Crypt4GH header, the only
 * copy of the file's data key (encrypted to the server key); destroying the header destroys the
 * content even where a copy of the blob survives (a backup, a disk block). So the headers go
 * first and must go from every file that could hold them: meta zeroes each header in place and
 * deletes its row with secure_delete=ON, but in WAL mode the pages written before, header
 * included, stay in kura.db-wal until a checkpoint copies the log into the database and
 * truncates it. Only after that checkpoint may a certificate claim the header is gone; a purge
 * whose checkpoint keeps failing (a reader holding an old snapshot for longer than the busy
 * timeout, three times) stands, but issues no certificate (KURA_EBUSY). Backups made before
 * the purge still hold the header until they expire: the certificate names that date rather
 * than pretending otherwise.
 *
 * The certificate is canonical JSON (keys sorted, compact, integers only) signed with the
 * installation's Ed25519 key (keys/sign.key); verification rebuilds the canonical bytes from
 * the parsed document, so re-formatting a certificate does not break it but changing any value
 * does. */
#include "store/store-internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 60 * 60 * 1000)
#define CANONICAL (JSON_SORT_KEYS | JSON_COMPACT)
#define CERT_TYPE "kura-deletion-certificate"
#define SYSTEM_ACTOR "system:trash-retention"

static const char method[] =
    "each version's Crypt4GH header (the only copy of its data key, encrypted to the server key) "
    "was overwritten with zeros in place and its row deleted from the SQLite metadata database "
    "with secure_delete=ON; the write-ahead log was then checkpointed with "
    "wal_checkpoint(TRUNCATE), so that no copy of the header remains in kura.db or kura.db-wal; "
    "each ciphertext blob that no other file uses was unlinked from the blob store (a blob "
    "marked retained is still used by another file, whose own header opens it)";

/* ---- what a purge collects ------------------------------------------------------------------- */

struct item {
    uint64_t id;
    char *path; /* kura_malloc'ed */
    bool folder, has_content;
    uint64_t size; /* the current version's */
    uint8_t sha256[32];
    uint64_t versions;
    uint64_t retained; /* of its blobs, those another file still uses */
};

struct blobref {
    char id[KURA_META_BLOB_ID_MAX + 1];
    size_t item;
    bool retained;
};

struct purge {
    struct item *items;
    size_t n, cap;
    struct blobref *blobs;
    size_t nb, capb;
    uint64_t versions, blobs_removed, blobs_retained, size;
};

static void purge_release(struct purge *p)
{
    for (size_t i = 0; i < p->n; i++) {
        kura_free(p->items[i].path);
    }
    kura_free(p->items);
    kura_free(p->blobs);
    *p = (struct purge){0};
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) {
        return 0;
    }
    size_t c = *cap ? 2 * *cap : 16;
    void *a = kura_reallocarray(*arr, c, size);
    if (!a) {
        return -ENOMEM;
    }
    *arr = a;
    *cap = c;
    return 0;
}

/* The subtree, deepest first (meta's order: children before their folder). */
static int collect_node(void *ctx, const struct kura_node *n)
{
    struct purge *p = ctx;
    int r = grow((void **)&p->items, &p->cap, p->n, sizeof(*p->items));
    char *path = r == 0 ? kura_strdup(n->path) : NULL;
    if (!path) {
        return -ENOMEM;
    }
    struct item *it = &p->items[p->n++];
    *it = (struct item){.id = n->id,
                        .path = path,
                        .folder = n->folder,
                        .has_content = !n->folder && n->version != 0,
                        .size = n->size};
    memcpy(it->sha256, n->sha256, sizeof(it->sha256));
    return 0;
}

struct vref {
    uint64_t id, size;
    char blob[KURA_META_BLOB_ID_MAX + 1];
};

struct vlist {
    struct vref *v;
    size_t n, cap;
};

/* Only what the purge needs of each version: never the header. */
static int collect_version(void *ctx, const struct kura_version *v)
{
    struct vlist *l = ctx;
    int r = grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v));
    if (r < 0) {
        return r;
    }
    struct vref *x = &l->v[l->n++];
    x->id = v->id;
    x->size = v->size;
    memcpy(x->blob, v->blob, sizeof(x->blob));
    return 0;
}

/* Inside the transaction: every version of one file (headers destroyed, bytes credited). */
static int shred_file(struct kura_store *s, uint64_t space, struct purge *p, size_t item)
{
    struct vlist l = {0};
    int r = kura_meta_version_list(s->meta, p->items[item].id, collect_version, &l);
    for (size_t i = 0; r == 0 && i < l.n; i++) {
        store_keycache_forget(s->keycache, l.v[i].id);
        r = kura_meta_version_remove(s->meta, l.v[i].id);
        r = r == 0 ? kura_meta_space_charge(s->meta, space, -(int64_t)l.v[i].size) : r;
        r = r == 0 ? grow((void **)&p->blobs, &p->capb, p->nb, sizeof(*p->blobs)) : r;
        if (r == 0) {
            struct blobref *b = &p->blobs[p->nb++];
            memcpy(b->id, l.v[i].blob, sizeof(b->id));
            b->item = item;
            b->retained = false;
        }
    }
    p->items[item].versions = l.n;
    p->versions += l.n;
    kura_free(l.v);
    return r;
}

static int by_blob(const void *a, const void *b)
{
    return strcmp(((const struct blobref *)a)->id, ((const struct blobref *)b)->id);
}

/* After the commit: each distinct blob is removed unless a version outside the purge still
 * refers to it. A failed removal fails the purge (no certificate may say "removed"); the blob is
 * then unreferenced and the collector at the next start takes it. */
static int release_blobs(struct kura_store *s, struct purge *p)
{
    if (p->nb > 1) {
        qsort(p->blobs, p->nb, sizeof(*p->blobs), by_blob);
    }
    int r = 0;
    for (size_t i = 0; r == 0 && i < p->nb;) {
        size_t end = i + 1;
        while (end < p->nb && strcmp(p->blobs[end].id, p->blobs[i].id) == 0) {
            end++;
        }
        bool used = true;
        r = kura_meta_blob_referenced(s->meta, p->blobs[i].id, &used);
        if (r == 0 && !used) {
            r = kura_blob_remove(s->blob, p->blobs[i].id);
            r = r == KURA_ENOTFOUND ? 0 : r; /* gone already: what the certificate says */
        }
        if (r == 0) {
            p->blobs_removed += !used;
            p->blobs_retained += used;
        }
        for (; i < end; i++) {
            p->blobs[i].retained = used;
            p->items[p->blobs[i].item].retained += used;
        }
    }
    return r;
}

/* ---- the certificate ------------------------------------------------------------------------- */

int kura_purge_cert_id_new(char ret[static KURA_PURGE_CERT_ID_MAX + 1])
{
    uint8_t u[16];
    int r = kura_random(u, sizeof(u));
    if (r < 0) {
        return r;
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* a version 4 UUID (RFC 9562 section 5.4) */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char hex[33];
    kura_hex_encode(hex, u, sizeof(u));
    (void)snprintf(ret, KURA_PURGE_CERT_ID_MAX + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
                   hex + 12, hex + 16, hex + 20);
    return 0;
}

/* The id becomes a file name: exactly the lower-case UUID shape. */
static bool cert_id_valid(const char *id)
{
    if (strlen(id) != KURA_PURGE_CERT_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < KURA_PURGE_CERT_ID_MAX; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
        if (dash ? id[i] != '-' : !hex) {
            return false;
        }
    }
    return true;
}

void kura_purge_cert_release(struct kura_purge_cert *c)
{
    if (c) {
        kura_free(c->doc);
        *c = (struct kura_purge_cert){0};
    }
}

static json_t *hex_or_null(bool has, const uint8_t sha256[32])
{
    char hex[65];
    if (!has) {
        return json_null();
    }
    kura_hex_encode(hex, sha256, 32);
    return json_string(hex);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->path, ((const struct item *)b)->path);
}

static json_t *file_list(struct purge *p, uint64_t *ret_files, uint64_t *ret_folders,
                         bool *ret_truncated)
{
    if (p->n > 1) {
        qsort(p->items, p->n, sizeof(*p->items), by_path); /* blobs are done with items[] */
    }
    json_t *files = json_array();
    uint64_t nfiles = 0, nfolders = 0;
    for (size_t i = 0; files && i < p->n; i++) {
        const struct item *it = &p->items[i];
        nfolders += it->folder;
        if (it->folder) {
            continue;
        }
        p->size += it->size;
        if (nfiles++ >= KURA_PURGE_CERT_FILES) {
            continue;
        }
        json_t *f =
            json_pack("{s:s,s:I,s:o,s:I,s:s}", "path", it->path, "size", (json_int_t)it->size,
                      "sha256", hex_or_null(it->has_content, it->sha256), "versions",
                      (json_int_t)it->versions, "blob", it->retained ? "retained" : "removed");
        if (!f || json_array_append_new(files, f) < 0) {
            json_decref(files);
            files = NULL;
        }
    }
    *ret_files = nfiles;
    *ret_folders = nfolders;
    *ret_truncated = nfiles > KURA_PURGE_CERT_FILES;
    return files;
}

struct cert_input {
    const struct kura_space *sp;
    const struct kura_node *top;
    const char *id, *by;
    const struct kura_purge_opts *o;
    int64_t now;
};

static json_t *cert_body(const struct cert_input *in, struct purge *p)
{
    char deleted[KURA_TIME_STR_MAX], trashed[KURA_TIME_STR_MAX], until[KURA_TIME_STR_MAX];
    char space[KURA_META_ID_MAX + 16];
    kura_clock_format(in->now, deleted);
    kura_clock_format(in->top->trashed_at, trashed);
    kura_clock_format(in->now + (int64_t)in->o->backup_retention_days * DAY_MS, until);
    (void)snprintf(space, sizeof(space), "%s:%s",
                   in->sp->kind == KURA_SPACE_DATASET ? "dataset" : "personal", in->sp->owner);
    uint64_t nfiles = 0, nfolders = 0;
    bool truncated = false;
    json_t *files = file_list(p, &nfiles, &nfolders, &truncated);
    bool file = !in->top->folder;
    return json_pack(
        "{s:s,s:i,s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:o,s:b,s:s,s:s,s:s,s:s,"
        "s:s,s:s}",
        "type", CERT_TYPE, "version", 1, "certificate_id", in->id, "install_id", in->o->install_id,
        "object_id", (json_int_t)in->top->id, "space", space, "path", in->top->path, "kind",
        file ? "file" : "folder", "size", (json_int_t)p->size, "sha256",
        hex_or_null(file && in->top->version != 0, in->top->sha256), "versions",
        (json_int_t)p->versions, "file_count", (json_int_t)nfiles, "folder_count",
        (json_int_t)nfolders, "blobs_removed", (json_int_t)p->blobs_removed, "blobs_retained",
        (json_int_t)p->blobs_retained, "files", files, "files_truncated", truncated, "trashed_at",
        trashed, "trashed_by", in->top->trashed_by, "deleted_at", deleted, "deleted_by", in->by,
        "method", method, "backups_may_hold_header_until", until);
}

static char *b64(const uint8_t *data, size_t len, char *out, size_t size)
{
    return sodium_bin2base64(out, size, data, len, sodium_base64_VARIANT_ORIGINAL);
}

/* {"certificate", "public_key", "signature"} as one canonical line, kura_malloc'ed. */
static int sign(const struct kura_purge_opts *o, json_t *cert, char **ret, size_t *ret_len)
{
    char *canon = json_dumps(cert, CANONICAL);
    if (!canon) {
        return -ENOMEM;
    }
    uint8_t sig[KURA_SIGN_BYTES];
    char sig64[sodium_base64_ENCODED_LEN(KURA_SIGN_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    char
        pk64[sodium_base64_ENCODED_LEN(KURA_SIGN_PUBLIC_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    int r = kura_sign_message(o->sign_key, canon, strlen(canon), sig);
    kura_free(canon);
    json_t *doc = NULL;
    if (r == 0) {
        doc = json_pack(
            "{s:O,s:s,s:s}", "certificate", cert, "signature",
            b64(sig, sizeof(sig), sig64, sizeof(sig64)), "public_key",
            b64(kura_sign_key_public(o->sign_key), KURA_SIGN_PUBLIC_KEY_BYTES, pk64, sizeof(pk64)));
    }
    char *text = doc ? json_dumps(doc, CANONICAL) : NULL;
    json_decref(doc);
    if (r == 0 && !text) {
        r = -ENOMEM;
    }
    if (r == 0 && strlen(text) > KURA_PURGE_CERT_MAX) {
        r = KURA_ETOOBIG; /* cannot happen within the listing limits; checked all the same */
    }
    if (r < 0) {
        kura_free(text);
        return r;
    }
    *ret_len = strlen(text);
    *ret = text;
    return 0;
}

/* The copy in DATA/certificates: written atomically, 0600 (it names files and people). */
static int keep_copy(const struct kura_purge_opts *o, const struct kura_purge_cert *c)
{
    if (o->certs_dirfd < 0) {
        return 0;
    }
    char name[KURA_PURGE_CERT_ID_MAX + 8];
    (void)snprintf(name, sizeof(name), "%s.json", c->id);
    struct kura_buf b = KURA_BUF_INIT(KURA_PURGE_CERT_MAX + 1);
    kura_buf_add(&b, c->doc, c->len);
    kura_buf_addc(&b, '\n');
    int r = kura_buf_err(&b);
    r = r == 0 ? kura_file_write_atomic(o->certs_dirfd, name, b.ptr, b.len, 0600) : r;
    kura_buf_release(&b);
    return r;
}

static int certify(const struct cert_input *in, struct purge *p, struct kura_purge_cert *ret)
{
    json_t *cert = cert_body(in, p);
    struct kura_purge_cert c = {0};
    int r = cert ? sign(in->o, cert, &c.doc, &c.len) : -ENOMEM;
    json_decref(cert);
    if (r < 0) {
        return r;
    }
    memcpy(c.id, in->id, sizeof(c.id));
    c.keep_err = keep_copy(in->o, &c);
    *ret = c;
    return 0;
}

/* ---- the purge ------------------------------------------------------------------------------- */

static int txn_end(struct kura_meta *m, int r)
{
    if (r >= 0) {
        int c = kura_meta_txn_commit(m);
        return c < 0 ? c : r;
    }
    kura_meta_txn_rollback(m);
    return r;
}

/* Steps 1 (the transaction) of store.h's order. top: the node as found (trashed first when it
 * was live and trashed_before is 0). trashed_before (> 0): purge only a node trashed before
 * then (the retention job: one restored meanwhile is left alone, KURA_ENOTFOUND). */
static int shred(struct kura_store *s, const struct kura_space *sp, uint64_t id, const char *by,
                 int64_t now, int64_t trashed_before, struct kura_node *top, struct purge *p,
                 const char **ret_why)
{
    int r = kura_meta_txn_begin(s->meta);
    if (r < 0) {
        return r;
    }
    r = kura_meta_node_get(s->meta, id, top);
    if (r == 0 &&
        (top->space != sp->id ||
         (trashed_before > 0 && (!top->trashed_at || top->trashed_at >= trashed_before)))) {
        r = KURA_ENOTFOUND;
    } else if (r == 0 && top->parent == 0) {
        r = KURA_EFORBIDDEN; /* the root of a space is never purged */
        if (ret_why) {
            *ret_why = "space_root";
        }
    }
    if (r == 0 && top->trashed_at == 0) {
        r = kura_meta_node_trash(s->meta, id, by, now); /* a live path: trash, then purge */
        r = r == 0 ? kura_meta_node_get(s->meta, id, top) : r;
    }
    r = r == 0 ? kura_meta_node_subtree(s->meta, id, collect_node, p) : r;
    for (size_t i = 0; r == 0 && i < p->n; i++) {
        r = p->items[i].folder ? 0 : shred_file(s, sp->id, p, i);
        r = r == 0 ? kura_meta_node_remove(s->meta, p->items[i].id) : r;
    }
    return txn_end(s->meta, r);
}

static int checkpoint(struct kura_meta *m)
{
    int r = KURA_EBUSY;
    for (unsigned i = 0; r == KURA_EBUSY && i < KURA_PURGE_CHECKPOINT_TRIES; i++) {
        r = kura_meta_checkpoint(m);
    }
    return r;
}

static int purge_node(struct kura_store *s, const struct kura_space *sp, uint64_t id,
                      const char *by, const struct kura_purge_opts *o, int64_t now,
                      const char *cert_id, int64_t trashed_before, struct kura_node *top,
                      struct kura_purge_cert *ret, const char **ret_why)
{
    char fresh[KURA_PURGE_CERT_ID_MAX + 1];
    int r = cert_id ? (cert_id_valid(cert_id) ? 0 : -EINVAL) : kura_purge_cert_id_new(fresh);
    if (r < 0 || !o->sign_key || id == 0 || id > INT64_MAX) {
        return r < 0 ? r : !o->sign_key ? -EINVAL : KURA_ENOTFOUND;
    }
    struct purge p = {0};
    r = shred(s, sp, id, by, now, trashed_before, top, &p, ret_why);
    int ck = r == 0 ? checkpoint(s->meta) : 0;
    /* The blobs go whatever the checkpoint did: nothing refers to them any more. */
    r = r == 0 ? release_blobs(s, &p) : r;
    if (r == 0 && ck < 0) {
        r = ck;
        if (ret_why) {
            *ret_why = "wal_checkpoint_failed";
        }
    }
    const struct cert_input in = {sp, top, cert_id ? cert_id : fresh, by, o, now};
    r = r == 0 ? certify(&in, &p, ret) : r;
    purge_release(&p);
    return r;
}

int kura_store_purge(struct kura_store *s, const struct kura_actor *a, const struct kura_space *sp,
                     uint64_t id, bool trashed_only, const char *by,
                     const struct kura_purge_opts *o, const char *cert_id, int64_t now,
                     struct kura_purge_cert *ret, const char **ret_why)
{
    int r = store_access(a, KURA_ACCESS_WRITE, sp, ret_why);
    struct kura_node *top = r == 0 ? kura_malloc(sizeof(*top)) : NULL;
    r = r == 0 && !top ? -ENOMEM : r;
    /* Trashed before the end of time: in the trash, whenever it went there. */
    int64_t before = trashed_only ? INT64_MAX : 0;
    r = r == 0 ? purge_node(s, sp, id, by, o, now, cert_id, before, top, ret, ret_why) : r;
    kura_free(top);
    return r;
}

struct expired {
    uint64_t *ids;
    size_t n, cap, max;
};

static int collect_expired(void *ctx, const struct kura_node *n)
{
    struct expired *e = ctx;
    if (e->n >= e->max) {
        return 1; /* enough for this run: stops the listing */
    }
    int r = grow((void **)&e->ids, &e->cap, e->n, sizeof(*e->ids));
    if (r == 0) {
        e->ids[e->n++] = n->id;
    }
    return r;
}

int kura_store_purge_expired(struct kura_store *s, const struct kura_purge_opts *o, int64_t before,
                             int64_t now, uint32_t max, kura_purge_fn fn, void *ctx,
                             uint64_t *ret_purged)
{
    struct expired e = {.max = max};
    int r = max == 0 ? -EINVAL : kura_meta_trash_expired(s->meta, before, collect_expired, &e);
    r = r == 1 ? 0 : r;
    struct kura_node *top = r == 0 ? kura_malloc(sizeof(*top)) : NULL;
    r = r == 0 && !top ? -ENOMEM : r;
    uint64_t purged = 0;
    for (size_t i = 0; r == 0 && i < e.n; i++) {
        struct kura_node probe;
        struct kura_space sp;
        int one = kura_meta_node_get(s->meta, e.ids[i], &probe);
        one = one == 0 ? kura_meta_space_get(s->meta, probe.space, &sp) : one;
        if (one == KURA_ENOTFOUND) {
            continue; /* purged with a folder purged before it */
        }
        if (one < 0) {
            r = one; /* the database fails: the next run tries again */
            break;
        }
        struct kura_purge_cert c = {0};
        one = purge_node(s, &sp, e.ids[i], SYSTEM_ACTOR, o, now, NULL, before, top, &c, NULL);
        if (one == KURA_ENOTFOUND) {
            continue; /* restored (or trashed again) meanwhile */
        }
        purged += one == 0;
        if (fn) {
            fn(ctx, one == 0 ? top : &probe, one, one == 0 ? &c : NULL);
        }
        kura_purge_cert_release(&c);
    }
    kura_free(top);
    kura_free(e.ids);
    if (r == 0 && ret_purged) {
        *ret_purged = purged;
    }
    return r;
}

/* ---- verification ---------------------------------------------------------------------------- */

/* Reals would make the canonical bytes depend on how a library prints them: none allowed. */
static bool integers_only(const json_t *v)
{
    if (json_is_real(v)) {
        return false;
    }
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            if (!integers_only(x)) {
                return false;
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (!integers_only(x)) {
                return false;
            }
        }
    }
    return true;
}

/* Exactly n bytes of standard base64 (with padding), the whole string. */
static bool unb64(const json_t *s, uint8_t *out, size_t n)
{
    const char *text = json_string_value(s), *end = NULL;
    size_t got = 0;
    return text &&
           sodium_base642bin(out, n, text, json_string_length(s), NULL, &got, &end,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           got == n && end == text + json_string_length(s);
}

static int check_shape(const json_t *doc, uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                       uint8_t sig[KURA_SIGN_BYTES], const char **why)
{
    const json_t *cert = json_object_get(doc, "certificate");
    const json_t *id = json_object_get(cert, "certificate_id");
    const json_t *version = json_object_get(cert, "version");
    *why = !json_is_object(doc) || json_object_size(doc) != 3 || !json_is_object(cert)
               ? "not a certificate document: an object of certificate, signature and "
                 "public_key is expected"
           : !json_is_string(json_object_get(cert, "type")) ||
                   strcmp(json_string_value(json_object_get(cert, "type")), CERT_TYPE) != 0
               ? "not a kura deletion certificate"
           : !json_is_integer(version) || json_integer_value(version) != 1
               ? "unknown certificate version"
           : !json_is_string(id) || !cert_id_valid(json_string_value(id))
               ? "no valid certificate_id"
           : !integers_only(cert) ? "a certificate holds no fractional numbers"
           : !unb64(json_object_get(doc, "public_key"), pk, KURA_SIGN_PUBLIC_KEY_BYTES)
               ? "public_key is not a base64 Ed25519 key"
           : !unb64(json_object_get(doc, "signature"), sig, KURA_SIGN_BYTES)
               ? "signature is not a base64 Ed25519 signature"
               : NULL;
    return *why ? KURA_ESYNTAX : 0;
}

int kura_store_cert_verify(const char *doc, size_t len, const uint8_t *pk, char *ret_id,
                           const char **ret_why)
{
    const char *why = NULL;
    if (len > KURA_PURGE_CERT_MAX) {
        if (ret_why) {
            *ret_why = "larger than any certificate";
        }
        return KURA_ETOOBIG;
    }
    json_error_t e;
    json_t *d = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &e);
    uint8_t doc_pk[KURA_SIGN_PUBLIC_KEY_BYTES], sig[KURA_SIGN_BYTES];
    int r = d ? check_shape(d, doc_pk, sig, &why) : KURA_ESYNTAX;
    why = d ? why : "not JSON, or a key occurs twice";
    if (r == 0 && pk && sodium_memcmp(pk, doc_pk, KURA_SIGN_PUBLIC_KEY_BYTES) != 0) {
        r = KURA_ECRYPTO;
        why = "signed with another key than the one given";
    }
    const json_t *cert = json_object_get(d, "certificate");
    char *canon = r == 0 ? json_dumps(cert, CANONICAL) : NULL;
    r = r == 0 && !canon ? -ENOMEM : r;
    if (r == 0 && kura_sign_verify(pk ? pk : doc_pk, canon, strlen(canon), sig) < 0) {
        r = KURA_ECRYPTO;
        why = "the signature does not match: the certificate was altered";
    }
    if (r == 0 && ret_id) {
        memcpy(ret_id, json_string_value(json_object_get(cert, "certificate_id")),
               KURA_PURGE_CERT_ID_MAX + 1);
    }
    if (r < 0 && ret_why) {
        *ret_why = why;
    }
    kura_free(canon);
    json_decref(d);
    return r;
}
