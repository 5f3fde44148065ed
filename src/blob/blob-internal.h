/* blob-internal.h — shared by the blob area's backends and its tests, never by other areas.
 *
 * The ops table every backend implements, and the common heads of handles, writers and
 * readers. blob.c owns what is the same for every backend (id generation and checks, the
 * sticky write error, the size limit, short-read rules, collect); a backend implements only
 * the storage operations, on ids that are already known to be well-formed.
 */
#pragma once

#include "blob/blob.h"

#define KURA_BLOB_OPS_VERSION 1u /* struct kura_blob_ops layout; fields are only appended */

/* Every backend's handle embeds this first, so a struct kura_blob * is a pointer to it. */
struct kura_blob {
    const struct kura_blob_ops *ops;
};

/* Head of every backend's writer; blob.c maintains all fields. */
struct kura_blob_writer {
    struct kura_blob *store;
    char id[KURA_BLOB_ID_SIZE];
    uint64_t size; /* bytes accepted so far */
    int err;       /* first failure, sticky */
};

/* Head of every backend's reader; blob.c maintains pos and clamps reads to size. */
struct kura_blob_reader {
    struct kura_blob *store;
    uint64_t size; /* the whole object */
    uint64_t pos;  /* next byte to read */
};

/* A backend. Ids passed in are always valid (kura_blob_id_valid); sizes and offsets already
 * checked. Contracts are those of the kura_blob_* wrappers in blob.h, except where noted. */
struct kura_blob_ops {
    unsigned version;
    const char *name;
    void (*close)(struct kura_blob *b);
    /* Allocates the backend's writer (head filled by the backend: store, id) for id. */
    int (*put_begin)(struct kura_blob *b, const char *id, struct kura_blob_writer **ret);
    int (*put_write)(struct kura_blob_writer *w, const void *p, size_t len);
    /* Publishes w->id; frees w whatever the outcome, discarding the upload on failure. */
    int (*put_commit)(struct kura_blob_writer *w);
    /* Discards the upload, frees w. */
    void (*put_abort)(struct kura_blob_writer *w);
    /* Allocates the backend's reader (head filled: store, size, pos = offset). offset may be
     * anything: the backend returns KURA_ERANGENS when it exceeds the size. */
    int (*get)(struct kura_blob *b, const char *id, uint64_t offset, struct kura_blob_reader **ret);
    /* Reads 1..cap bytes at r->pos (cap > 0 and r->pos + cap <= r->size); 0 only at a premature
     * end, which blob.c reports as KURA_ECORRUPT. */
    int (*read)(struct kura_blob_reader *r, void *buf, size_t cap, size_t *ret_n);
    void (*reader_close)(struct kura_blob_reader *r);
    int (*stat)(struct kura_blob *b, const char *id, struct kura_blob_stat *ret);
    int (*remove)(struct kura_blob *b, const char *id);
    int (*list)(struct kura_blob *b, kura_blob_list_fn fn, void *ctx);
    /* now_ms: kura_clock_wall_ms() read once by blob.c; ret zeroed by blob.c. */
    int (*collect_tmp)(struct kura_blob *b, int64_t now_ms, int64_t min_age_ms,
                       struct kura_blob_gc *ret);
};

/* ---- fs backend (fs.c) -------------------------------------------------------------------- */

extern const struct kura_blob_ops kura_blob_fs_ops;

/* Name of an upload's temporary file in tmp/: "blob-" + id. */
#define KURA_BLOB_FS_TMP_PREFIX "blob-"

/* Tests: open objects by walking blobs/ab/cd/ one openat at a time, as where openat2 is refused
 * (an old kernel, a seccomp profile), instead of one openat2. */
void kura_blob_fs_use_walk(struct kura_blob *b);

#ifdef KURA_FAULT_INJECTION
/* Makes the Nth file-system operation of the fs backend that can fail for lack of space or
 * I/O (creating, writing, syncing, renaming, making directories; 1-based, counted from this
 * call) fail with err (a negative errno); n = 0 disables. For tests of every failure path. */
void kura_blob_fs_fail_at(unsigned long n, int err);
#endif
