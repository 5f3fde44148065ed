/* blob — the blob store: immutable objects holding the encrypted segments of file versions.
 *
 * Purpose: each file version's Crypt4GH segment stream is one object ("blob"), written once,
 * read many times (from any byte offset), removed when no metadata row points at it any more.
 * The metadata store (meta) holds the blob id; only the store area writes both, in the order
 * blob put -> commit -> metadata commit, so a metadata row never points at a missing blob and
 * an interrupted upload leaves at most an unreferenced blob, which kura_blob_collect removes.
 * One interface, several backends: fs.c (a folder on the local filesystem) now, s3.c (libcurl,
 * SigV4) later; both must pass the contract suite in src/blob/blob-contract.c.
 *
 * Invariants:
 *  - Ids are chosen by the store, never by the caller: 128 bits from the kernel CSPRNG as 32
 *    lowercase hex digits (KURA_BLOB_ID_LEN). Every call that takes an id checks it with
 *    kura_blob_id_valid first and returns KURA_EBADREQ for anything else, before a backend
 *    sees it: no path or URL is ever built from an unchecked id.
 *  - An object becomes visible (get, stat, list) only when kura_blob_put_commit returns 0, and
 *    then complete and durable. Before that, and whatever happens to the process or the
 *    machine, it is invisible. Objects never change after commit; they are only removed.
 *  - A handle (struct kura_blob) may be used by several threads at once. A writer or a reader
 *    belongs to one thread at a time.
 *  - Times (created_ms, ages) are wall-clock milliseconds of kura's one clock (base.h), so that
 *    tests shift them with kura_clock_shift_ms in -Dtest_hooks=true builds.
 *
 * Limits: an object holds at most KURA_BLOB_SIZE_MAX bytes (S3's largest object, so that every
 * backend accepts the same objects); writing past it fails with KURA_ETOOBIG.
 *
 * Security assumptions: objects hold ciphertext only (their keys live in the metadata), so the
 * store protects integrity and availability rather than secrecy; fs still creates everything
 * 0700/0600 and makes committed objects read-only (0400). The fs backend never follows a
 * symbolic link inside the data folder (O_NOFOLLOW on every component) and refuses anything
 * that is not a regular file where an object should be (KURA_ECORRUPT). The store does not log.
 *
 * Errors common to every call: KURA_EBADREQ (malformed id), KURA_ENOTFOUND (no such object),
 * KURA_ECORRUPT (something other than a regular file, or a truncated object, in the store's
 * place), -ENOMEM, and -errno from the system passed through unchanged (-ENOSPC, -EDQUOT, -EIO,
 * -EROFS, ...), so that the HTTP layer can answer 507 for a full disk.
 *
 * Dependencies: base only (libc, pthreads). The fs backend needs a Linux filesystem where
 * rename within one filesystem is atomic and fsync of a directory makes its entries durable
 * (ext4, xfs, btrfs).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- limits ------------------------------------------------------------------------------- */

#define KURA_BLOB_ID_LEN 32u                      /* hex digits in an id */
#define KURA_BLOB_ID_SIZE (KURA_BLOB_ID_LEN + 1u) /* with the terminating NUL */
#define KURA_BLOB_SIZE_MAX (UINT64_C(5) << 40)    /* 5 TiB */

/* ---- types -------------------------------------------------------------------------------- */

struct kura_blob;        /* a store handle */
struct kura_blob_writer; /* an upload in progress */
struct kura_blob_reader; /* a read stream over one object */

struct kura_blob_stat {
    uint64_t size;      /* bytes */
    int64_t created_ms; /* when it was committed, kura_clock_wall_ms() of the committing node */
};

/* What a housekeeping pass did. */
struct kura_blob_gc {
    uint64_t examined;    /* objects (or temporary uploads) looked at */
    uint64_t young;       /* kept: younger than min_age */
    uint64_t busy;        /* kept: an upload still running (temporary uploads only) */
    uint64_t referenced;  /* kept: the callback said the object is in use */
    uint64_t removed;     /* removed */
    uint64_t bytes_freed; /* bytes of the removed ones */
};

/* Called once per object by kura_blob_list. A negative return stops the listing, and
 * kura_blob_list returns that value. st is valid for the call only. */
typedef int (*kura_blob_list_fn)(void *ctx, const char *id, const struct kura_blob_stat *st);

/* Asked by kura_blob_collect whether id is still referenced. It must answer from committed
 * metadata (a row being written in an open transaction counts as a reference only once it
 * commits, which is why min_age exists). A negative return stops the pass with that error;
 * never answer "unreferenced" because a lookup failed. */
typedef int (*kura_blob_ref_fn)(void *ctx, const char *id, bool *ret_referenced);

/* ---- ids ---------------------------------------------------------------------------------- */

/* True when id is exactly KURA_BLOB_ID_LEN characters of [0-9a-f] followed by NUL. Everything
 * else ("../x", upper case, 31 or 33 digits, spaces, NULL) is false. */
bool kura_blob_id_valid(const char *id);

/* ---- opening ------------------------------------------------------------------------------ */

/* Opens the local-filesystem store in the data folder datadir_fd (O_RDONLY | O_DIRECTORY, not
 * O_PATH: it is fsynced; borrowed, the handle keeps its own descriptors): objects under
 * blobs/ab/cd/<id>, uploads in progress under tmp/. Creates blobs/ and tmp/ (0700) when
 * missing. Close with kura_blob_close.
 * Errors: KURA_ECORRUPT (blobs/ or tmp/ is a symlink or not a directory), -EXDEV (blobs/ and
 * tmp/ on different filesystems: rename could not be atomic), -errno, -ENOMEM. */
KURA_MUST_CHECK int kura_blob_fs_open(int datadir_fd, struct kura_blob **ret);

/* Closes the handle; accepts NULL; returns NULL. Writers and readers must be finished first. */
struct kura_blob *kura_blob_close(struct kura_blob *b);
void kura_blob_closep(struct kura_blob **bp);

/* The backend's name: "fs", later "s3". */
const char *kura_blob_backend(const struct kura_blob *b);

/* ---- writing ------------------------------------------------------------------------------ */

/* Starts an upload. Finish it with exactly one of kura_blob_put_commit or kura_blob_put_abort,
 * both of which free the writer. Errors: -errno (creating the temporary file), -ENOMEM. */
KURA_MUST_CHECK int kura_blob_put_begin(struct kura_blob *b, struct kura_blob_writer **ret);

/* Appends len bytes (any chunk size, len 0 included). The first failure sticks: later writes
 * and the commit return it, and the caller can only abort. Errors: KURA_ETOOBIG (the object
 * would exceed KURA_BLOB_SIZE_MAX), -ENOSPC, -EDQUOT, -EIO, ... */
KURA_MUST_CHECK int kura_blob_put_write(struct kura_blob_writer *w, const void *p, size_t len);

/* Makes the object durable and visible, then frees the writer and writes its id to ret_id.
 * The writer is freed on failure too, and the upload is discarded: no object was created, or
 * (only after an I/O error past the point of publication) one that nothing references and
 * kura_blob_collect will remove. Errors: the sticky write error, -ENOSPC, -EIO, ... */
KURA_MUST_CHECK int kura_blob_put_commit(struct kura_blob_writer *w,
                                         char ret_id[static KURA_BLOB_ID_SIZE]);

/* Discards the upload and frees the writer; accepts NULL; returns NULL. Nothing becomes visible.
 * For _cleanup_(kura_blob_put_abortp), with kura_blob_put_commit taking it via TAKE_PTR. */
struct kura_blob_writer *kura_blob_put_abort(struct kura_blob_writer *w);
void kura_blob_put_abortp(struct kura_blob_writer **wp);

/* ---- reading ------------------------------------------------------------------------------ */

/* Opens object id for reading from byte offset (0 <= offset <= size; offset == size gives a
 * reader at its end). The reader keeps seeing the object even if it is removed meanwhile (fs;
 * an S3 reader may then fail). Close with kura_blob_reader_close.
 * Errors: KURA_EBADREQ, KURA_ENOTFOUND, KURA_ERANGENS (offset > size), KURA_ECORRUPT, -errno. */
KURA_MUST_CHECK int kura_blob_get(struct kura_blob *b, const char *id, uint64_t offset,
                                  struct kura_blob_reader **ret);

/* Reads up to cap bytes into buf and sets *ret_n. *ret_n < cap only at the end of the object,
 * and 0 (with cap > 0) means the end. Errors: KURA_ECORRUPT (the object is shorter than its
 * size), -EIO, ...; after an error the reader can only be closed. */
KURA_MUST_CHECK int kura_blob_read(struct kura_blob_reader *r, void *buf, size_t cap,
                                   size_t *ret_n);

/* The whole object's size (not what remains after the offset). */
uint64_t kura_blob_reader_size(const struct kura_blob_reader *r);

/* Closes the reader; accepts NULL; returns NULL. */
struct kura_blob_reader *kura_blob_reader_close(struct kura_blob_reader *r);
void kura_blob_reader_closep(struct kura_blob_reader **rp);

/* ---- other operations --------------------------------------------------------------------- */

/* Size and creation time of object id. Errors: KURA_EBADREQ, KURA_ENOTFOUND, KURA_ECORRUPT,
 * -errno. */
KURA_MUST_CHECK int kura_blob_stat(struct kura_blob *b, const char *id, struct kura_blob_stat *ret);

/* Removes object id durably (a crash after the return does not bring it back). Readers already
 * open may go on reading (fs). Errors: KURA_EBADREQ, KURA_ENOTFOUND, KURA_ECORRUPT, -errno. */
KURA_MUST_CHECK int kura_blob_remove(struct kura_blob *b, const char *id);

/* Calls fn once for each committed object, in no particular order. Objects committed or removed
 * while the listing runs may or may not be reported. Entries that are not well-formed objects
 * (a stray file, a symlink, a misplaced id) are skipped, never reported. Errors: fn's negative
 * return, -errno. */
KURA_MUST_CHECK int kura_blob_list(struct kura_blob *b, kura_blob_list_fn fn, void *ctx);

/* ---- housekeeping ------------------------------------------------------------------------- */

/* Removes the objects that is_referenced declares unreferenced and that are at least
 * min_age_ms old (created_ms <= now - min_age_ms). min_age_ms must exceed the longest time the
 * store area may take between kura_blob_put_commit and committing the metadata row naming the
 * blob (an hour is ample); objects younger than that are not even asked about. The counts are
 * written to ret (may be NULL) on success. Errors: -EINVAL (min_age_ms < 0), is_referenced's
 * negative return (the pass stops; what was removed stays removed), -errno. */
KURA_MUST_CHECK int kura_blob_collect(struct kura_blob *b, kura_blob_ref_fn is_referenced,
                                      void *ctx, int64_t min_age_ms, struct kura_blob_gc *ret);

/* Removes what crashed uploads left behind: temporary uploads not written to for min_age_ms.
 * fs also skips (counting them busy) uploads still held open by a running writer in any
 * process, so a live upload is never taken away; min_age_ms then only guards the instant
 * between creating a temporary file and locking it. Counts go to ret (may be NULL).
 * Errors: -EINVAL (min_age_ms < 0), -errno. */
KURA_MUST_CHECK int kura_blob_collect_tmp(struct kura_blob *b, int64_t min_age_ms,
                                          struct kura_blob_gc *ret);
