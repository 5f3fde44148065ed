/* audit-internal.h — shared by the files of the audit area (not part of the API). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "audit/audit.h"

typedef uint8_t kura_hash[KURA_AUDIT_HASH_BYTES];

/* ---- tlog.c: RFC 6962 / RFC 9162 Merkle tree arithmetic ----------------------------------- */

int tlog_leaf_hash(const void *record, size_t len, kura_hash ret);
int tlog_node_hash(const kura_hash left, const kura_hash right, kura_hash ret);
/* Root of a perfect tree over n leaf-level hashes (n a power of two). */
int tlog_perfect_root(const kura_hash *hashes, size_t n, kura_hash ret);

/* The compact range of a tree of `size` leaves: the roots of its perfect subtrees, biggest
 * (leftmost) first; appending a leaf merges like a binary counter. */
struct tlog_compact {
    uint64_t size;
    unsigned count;
    kura_hash hashes[64];
    /* tile_root[l]: right after an append that completed a tile of level l (a perfect subtree
     * of 2^(8(l+1)) leaves), that tile's root, met while merging: the writer and verify need it
     * for the level above and would otherwise hash the tile's 255 nodes a second time. */
    kura_hash tile_root[8];
};

void tlog_compact_init(struct tlog_compact *c);
int tlog_compact_append(struct tlog_compact *c, const kura_hash leaf);
/* Root of the whole tree (the empty tree's root is SHA-256 of nothing). */
int tlog_compact_root(const struct tlog_compact *c, kura_hash ret);

/* Hash of the node at height h (0 = leaf) and index i, which must lie inside the tree. */
typedef int (*tlog_node_fn)(void *ctx, unsigned h, uint64_t i, kura_hash ret);

/* Root of the tree of `size` leaves, from its perfect subtrees. */
int tlog_tree_root(uint64_t size, tlog_node_fn node, void *ctx, kura_hash ret);
/* RFC 6962 2.1.1 inclusion proof (audit path) of leaf m in a tree of n leaves, leaf side first;
 * *ret_count hashes (at most 64) in ret. */
int tlog_inclusion_proof(uint64_t m, uint64_t n, tlog_node_fn node, void *ctx, kura_hash *ret,
                         unsigned *ret_count);
/* RFC 6962 2.1.2 consistency proof between sizes m <= n. */
int tlog_consistency_proof(uint64_t m, uint64_t n, tlog_node_fn node, void *ctx, kura_hash *ret,
                           unsigned *ret_count);
/* RFC 9162 2.1.3.2: 0 when proof shows leaf at index m in the tree of size n with root. */
int tlog_inclusion_verify(uint64_t m, uint64_t n, const kura_hash leaf, const kura_hash *proof,
                          unsigned count, const kura_hash root);
/* RFC 9162 2.1.4.2: 0 when proof shows that the tree (m, root_m) is a prefix of (n, root_n). */
int tlog_consistency_verify(uint64_t m, uint64_t n, const kura_hash root_m, const kura_hash root_n,
                            const kura_hash *proof, unsigned count);

/* ---- tiles.c: the C2SP tlog-tiles layout ---------------------------------------------------- */

#define TILE_ENTRIES (-1) /* "level" of entry bundles: tile/entries/<N> */
#define TILE_PATH_MAX 128

/* "tile/<L>/<N>" or "tile/entries/<N>", with "<N>.p/<W>" for a partial tile (0 < W < 256). N is
 * written as 3-digit groups, all but the last prefixed with 'x': 1234067 -> x001/x234/067. */
void tile_path(char out[static TILE_PATH_MAX], int level, uint64_t n, unsigned width);
/* Writes a tile or bundle atomically (temporary file, rename), creating its directories.
 * durable: fsync the file and the directories (full tiles and bundles); partial tiles, which can
 * be rebuilt, are not synced. */
int tile_write(int dirfd, int level, uint64_t n, unsigned width, const void *data, size_t len,
               bool durable);
/* Reads exactly len bytes of a tile (-ENOENT if absent, KURA_ECORRUPT if another size). */
int tile_read(int dirfd, int level, uint64_t n, unsigned width, void *data, size_t len);
bool tile_exists(int dirfd, int level, uint64_t n, unsigned width);
/* Removes every partial tile of tile n (its .p directory): called once tile n is full. */
void tile_remove_partials(int dirfd, int level, uint64_t n);
/* Creates the directories of a path (mkdir -p below dirfd), fsyncing each new one's parent. */
int tile_mkdirs(int dirfd, const char *path);

/* Hashes of a tree of `size` leaves: full hash tiles from disk (cached), the leaf hashes of the
 * last incomplete bundle from `tail` (size % 256 of them). Serves tlog_node_fn. */
struct tile_src {
    int dirfd;
    uint64_t size;
    const kura_hash *tail;
    struct {
        int level;
        uint64_t n;
        bool valid;
        kura_hash hashes[KURA_AUDIT_TILE_WIDTH];
    } cache[16];
    unsigned next_slot;
};

void tile_src_init(struct tile_src *s, int dirfd, uint64_t size, const kura_hash *tail);
int tile_src_node(void *ctx, unsigned h, uint64_t i, kura_hash ret);

/* ---- record.c: the record's JSON --------------------------------------------------------------
 */

/* The keys of a record, in their fixed order. */
extern const char *const audit_record_keys[];
#define AUDIT_RECORD_NKEYS 16

/* Serialises everything after "prev" (actor ... detail) as the tail of a JSON object, without the
 * leading comma and the closing brace. */
int audit_fragment(const struct kura_audit_event *ev, struct kura_buf *out);
/* The whole record: {"index":I,"time":"T","prev":"P",<fragment>}. */
int audit_record_compose(uint64_t index, int64_t time_ms, const kura_hash prev,
                         const char *fragment, size_t fragment_len, struct kura_buf *out);

/* What the verifier and the search index need from a record. The strings are NUL-terminated, NULL
 * for JSON null; they live in `strings` (audit_record_scan) or in `doc` (the full parse).
 * audit_record_release frees what a record holds. */
#define AUDIT_RECORD_STRINGS (6 * (KURA_AUDIT_FIELD_MAX + 4) + KURA_AUDIT_OBJECT_MAX + 4)
struct audit_record {
    json_t *doc;    /* the whole record, when it needed jansson; else NULL */
    json_t *detail; /* borrowed from doc, or parsed from detail_text by audit_record_detail */
    bool detail_parsed;
    uint64_t index;
    int64_t time_ms;
    kura_hash prev;
    bool elevated;
    uint64_t bytes;
    const char *result; /* "ok", "denied" or "error" */
    const char *actor, *source_ip, *request_id, *action, *object, *reason;
    struct kura_str detail_text; /* the detail's JSON inside the record text (scan only) */
    char strings[AUDIT_RECORD_STRINGS];
};

/* Reads and checks a record: exactly the keys of audit_record_keys in order, with the right
 * types (docs/audit-format.md). Tries audit_record_scan first, then jansson. KURA_ECORRUPT with
 * the reason in why. The record text must outlive r until audit_record_detail was called. */
int audit_record_parse(const char *rec, size_t len, struct audit_record *ret, struct kura_buf *why);
/* The fast path alone (scan.c): 0 when the record is in the writer's exact form and holds nothing
 * that needs jansson to judge; KURA_ESYNTAX otherwise (which says nothing about validity). */
int audit_record_scan(const char *rec, size_t len, struct audit_record *ret);
/* The full parse alone, with jansson. */
int audit_record_parse_full(const char *rec, size_t len, struct audit_record *ret,
                            struct kura_buf *why);
/* The detail object (borrowed, valid until audit_record_release), or NULL for null. */
json_t *audit_record_detail(struct audit_record *r);
void audit_record_release(struct audit_record *r);
/* Parses "2026-11-22T00:00:00.000Z" (exactly that form) into ms since the epoch. */
int audit_time_parse(const char *s, int64_t *ret_ms);

/* ---- note.c ---------------------------------------------------------------------------------- */

#define AUDIT_NOTE_MAX 65536
/* The 4-byte key id of golang.org/x/mod/sumdb/note for an Ed25519 key named `name`. */
int audit_key_id(const char *name, const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES], uint8_t ret[4]);

/* ---- writer.c / recover.c: the writer's state ------------------------------------------------ */

#define CURRENT "current"
#define CHECKPOINT "checkpoint"
#define HISTORY "checkpoints"
#define RUNNING "running"
#define LEVELS 8                 /* tile levels: 8 * 8 = 64 tree heights */
#define CHECKPOINT_EVERY_MS 1000 /* at most about once a second */
#define RETRY_AFTER_FAILURE_MS 2000
#define SPACE_WARN_EVERY_MS 600000

struct pending {
    struct pending *next;
    char *fragment;
    size_t len;
    kura_audit_done_fn done;
    void *arg;
};

struct kura_audit {
    int dirfd;
    const struct kura_sign_key *key;
    char origin[KURA_AUDIT_ORIGIN_MAX];
    const struct kura_conf *conf;
    bool unclean;       /* the previous writer did not close the log */
    uint64_t cut_bytes; /* unacknowledged tail removed by recovery */

    /* Tree and file state, owned by the writer thread (or the caller without a thread). */
    int current_fd;
    uint64_t size;
    unsigned in_bundle;     /* records in audit/current */
    struct kura_buf bundle; /* audit/current's bytes, for partial bundles */
    kura_hash last_leaf;
    int64_t last_time;
    struct tlog_compact compact;
    kura_hash level[LEVELS][KURA_AUDIT_TILE_WIDTH]; /* the rightmost partial tile per level */
    unsigned level_count[LEVELS];
    uint64_t published_size;
    int64_t published_at;
    int64_t next_heartbeat;
    int64_t space_warned_at;

    /* Queue, shared with emitters. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct pending *head, **tail;
    bool stopping;
    bool has_thread;
    pthread_t thread;
    _Atomic bool failing;
    _Atomic int64_t retry_at;
    _Atomic uint64_t visible_size;
    pthread_cond_t grown;  /* signalled (under lock) whenever visible_size grows or at close */
    pthread_cond_t paused; /* kura_audit_pause: signalled only by kura_audit_wake and close */
    uint64_t wakes;        /* kura_audit_wake calls: every waiter returns (under lock) */
#ifdef KURA_TEST_HOOKS
    _Atomic bool inject_failure;
    _Atomic unsigned inject_delay_ms;
#endif
};

/* recover.c: brings the files to a consistent state and loads the writer's state from them
 * (audit.h, kura_audit_open). */
int audit_recover(struct kura_audit *a, struct kura_buf *why);
/* writer.c */
int audit_finish_bundle(struct kura_audit *a);
int audit_publish(struct kura_audit *a);
