/* store-internal.h — shared by the store's files; not an interface. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "access/access.h"
#include "audit/audit.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "meta/meta.h"
#include "store/store.h"

struct store_key_set;

struct kura_store {
    struct kura_meta *meta;
    struct kura_blob *blob;
    struct kura_audit *audit; /* may be NULL (tools, tests) */
    /* Crypt4GH server keys (keys.c): the current one and the retired ones, replaced whole by a
     * reload under keys_lock (held, for reading, while a key is used). */
    struct store_key_set *keys;
    pthread_rwlock_t keys_lock;
    pthread_mutex_t keys_reload_lock; /* serialises reloads; guards keys_missed_ms */
    bool keys_locks;                  /* the two locks are initialised */
    int keys_dirfd;                   /* keys/ (kura_store_keys_attach), or -1 */
    char *passphrase;                 /* sodium_malloc; NULL: key files in clear */
    int64_t keys_missed_ms;           /* mono ms of the last reload for an unknown key id */
    uint32_t versions_keep;
    uint64_t default_quota;
    struct store_keycache *keycache; /* keycache.c; NULL: no cache */
    _Atomic bool pruned; /* versions removed since the last checkpoint_pruned: their headers
                          * may still be in the write-ahead log */
};

/* access_check for space sp; *ret_why gets the reason of a refusal (may be NULL). */
int store_access(const struct kura_actor *a, enum kura_access_action act,
                 const struct kura_space *sp, const char **ret_why);

/* "a/b/c" -> "a/b" ("" for a top-level name); path must be non-empty. */
void store_parent_path(const char *path, char ret[static KURA_META_PATH_MAX + 1]);

/* Records a damaged object: the version is flagged, the operational log and (when an audit log
 * is attached) the audit log say so. */
void store_report_corrupt(struct kura_store *s, uint64_t version, const char *blob, int err);

/* Removes blob when no version refers to it any more (after a version was removed). */
void store_release_blob(struct kura_store *s, const char *blob);

/* ---- keycache.c: data keys of recently opened headers (see there for why and how long) ---- */

struct store_keycache;
int store_keycache_new(struct store_keycache **ret);
void store_keycache_free(struct store_keycache *c);
/* True (and the key in ret_key, which the caller wipes) when version's key is cached for exactly
 * these header bytes and has not expired. */
bool store_keycache_get(struct store_keycache *c, uint64_t version, const uint8_t *header,
                        size_t header_len, uint8_t ret_key[KURA_C4GH_DATA_KEY_BYTES]);
void store_keycache_put(struct store_keycache *c, uint64_t version, const uint8_t *header,
                        size_t header_len, const uint8_t key[KURA_C4GH_DATA_KEY_BYTES]);
/* A version whose header is being destroyed (purge, pruning): its entry is wiped. */
void store_keycache_forget(struct store_keycache *c, uint64_t version);
void store_keycache_clear(struct store_keycache *c);
/* Wipes expired entries; returns how many stay. */
size_t store_keycache_sweep(struct store_keycache *c);

/* ---- pipe.c: a transfer's segments handed between its connection thread and a worker ---- */

#define PIPE_SLOTS 4
/* Transfers longer than this get a worker thread (pipe.c); shorter ones stay on one thread. */
#define PIPE_AFTER_BYTES (4 * (uint64_t)KURA_C4GH_SEGMENT_BYTES)

struct store_pipe;
/* The worker: runs on its own thread until it returns (< 0: the pipe fails with that error). */
typedef int (*store_pipe_fn)(void *ctx, struct store_pipe *p);
/* Starts fn(ctx, pipe) on a new thread, with PIPE_SLOTS buffers of cap bytes. */
int store_pipe_start(size_t cap, store_pipe_fn fn, void *ctx, struct store_pipe **ret);
/* Producer: the next empty buffer (cap bytes), waiting while all are full; NULL when the pipe
 * failed (*ret_err). Then publish it with its length; last: nothing follows. */
uint8_t *store_pipe_acquire(struct store_pipe *p, int *ret_err);
void store_pipe_publish(struct store_pipe *p, size_t len, bool last);
/* Producer: nothing more will be published. */
void store_pipe_close(struct store_pipe *p);
/* Consumer: the oldest filled buffer, waiting while there is none; NULL with *ret_err 0 once
 * the producer closed and everything was read, NULL with *ret_err < 0 when the pipe failed.
 * Release the buffer when done with it. */
const uint8_t *store_pipe_peek(struct store_pipe *p, size_t *ret_len, int *ret_err);
void store_pipe_release(struct store_pipe *p);
/* Either side: fails the pipe with err (the first error stays); wakes the other side. */
void store_pipe_fail(struct store_pipe *p, int err);
/* Waits for the worker to return; the pipe's error (0: none). */
int store_pipe_finish(struct store_pipe *p);
/* Fails the pipe (-ECANCELED) if it is still running, waits for the worker, wipes, frees.
 * Accepts NULL. */
void store_pipe_free(struct store_pipe *p);

/* ---- keys.c ---- */

/* The key set with sk as the only (current) key; key_id must be its id (-EINVAL otherwise).
 * store_keys_release undoes it (also after a failure). */
int store_keys_init(struct kura_store *s, const uint8_t sk[KURA_C4GH_KEY_BYTES],
                    const char *key_id);
void store_keys_release(struct kura_store *s);
/* store_header_open through the key cache: for downloads. */
int store_header_open_cached(struct kura_store *s, const struct kura_version *v,
                             uint8_t ret_data_key[KURA_C4GH_DATA_KEY_BYTES]);
/* Opens v's header with the key it names (reloading keys/ once when it is unknown). Errors:
 * KURA_ENOTFOUND (shredded), KURA_ECONFIG (no such key), KURA_ECRYPTO (the header does not open
 * with it), KURA_ECORRUPT (malformed header). The caller wipes ret_data_key. */
int store_header_open(struct kura_store *s, const struct kura_version *v,
                      uint8_t ret_data_key[KURA_C4GH_DATA_KEY_BYTES]);
/* A one-packet header for data_key to the current key; ret_key_id gets that key's id. */
int store_header_build(struct kura_store *s, const uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES],
                       uint8_t ret_header[KURA_C4GH_HEADER_ONE_BYTES],
                       char ret_key_id[static KURA_META_KEY_ID_MAX + 1]);
/* v's header re-encrypted for recipient_pk (an ephemeral writer key), or for the current key
 * when recipient_pk is NULL. Errors: as store_header_open. */
int store_header_reencrypt(struct kura_store *s, const struct kura_version *v,
                           const uint8_t *recipient_pk,
                           uint8_t ret_header[KURA_C4GH_HEADER_ONE_BYTES]);
