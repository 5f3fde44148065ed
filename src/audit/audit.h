/* audit — the tamper-evident audit log: one call to record, durable before the response, a
 * Merkle tree anyone can check.
 *
 * Purpose: every request that reads or changes data, identity or configuration, every CLI action
 * and every server start and stop ends in exactly one record here (plus one per change made).
 * Sources: system rules 004 §4.8, C-CAT 003 §2.6 and risks 3.3-3.4, Kiyosu 002 §22, MHLW 6.0
 * system operation §17 (prevent deletion, alteration and addition; trustworthy time).
 *
 * Format (docs/audit-format.md is the full specification):
 *  - A record is one compact JSON object with a fixed key order: index, time, prev, actor, roles,
 *    elevated, session, source_ip, user_agent, request_id, action, object, bytes, result,
 *    reason, detail. `prev` is the hex SHA-256 leaf hash of the previous record (64 zeros for the
 *    first), so a stream can be checked without the tree. At most KURA_AUDIT_RECORD_MAX bytes.
 *  - Records are the leaves of an RFC 6962 / RFC 9162 Merkle tree: leaf hash SHA-256(0x00 ||
 *    record), node hash SHA-256(0x01 || left || right).
 *  - Storage is the C2SP tlog-tiles layout under DATA/audit/: `checkpoint`, `tile/<L>/<N>` hash
 *    tiles of height 8, `tile/entries/<N>` bundles of 256 records (each a big-endian uint16
 *    length then the bytes), uncompressed; partial tiles `<N>.p/<W>` for the latest checkpoint.
 *  - Checkpoints are C2SP signed notes (Ed25519, keys/audit.key only), origin
 *    "kura.<public host>/audit/<install id>", published after a commit that added records, at
 *    most about once a second, and appended to audit/checkpoints (and the witness file).
 *
 * Durability: records of the current bundle are appended to audit/current (the bundle's own
 * encoding) with group commit: one write and one fdatasync for everything that queued while the
 * previous sync ran. A record is acknowledged only after its fdatasync. A full bundle is renamed
 * into tile/entries/. On open, a torn tail of audit/current (never acknowledged) is cut off and
 * missing tiles are rebuilt from the records.
 *
 * Fail-closed: when the log cannot be written (I/O error, free space below refuse_free_mb), emit
 * fails with KURA_EAUDIT and callers refuse the request (503); the writer retries every few
 * seconds and recovers by itself when space returns.
 *
 * Time: record times come from the one clock (base) and never go backwards within the log; a
 * heartbeat record every audit.heartbeat_interval carries the wall clock and the kernel's
 * clock-synchronisation status (adjtimex), so gaps and an unsynchronised clock are visible.
 *
 * Threads: emit is safe from any thread and never blocks (kura_audit_emit) or blocks until
 * durable (kura_audit_emit_sync, for the CLI and start-up); one writer thread does all I/O.
 * Only this area opens the log files and the audit key.
 */
#pragma once

#include <jansson.h>

#include "base/base.h"
#include "conf/conf.h"
#include "crypto/crypto.h"
#include "meta/meta.h"

#define KURA_AUDIT_RECORD_MAX 16384    /* bytes of one record */
#define KURA_AUDIT_DETAIL_MAX 8192     /* bytes of the serialised detail object */
#define KURA_AUDIT_DETAIL_DEPTH 64     /* nesting of the detail (a reader's parser has limits) */
#define KURA_AUDIT_AGENT_MAX 512       /* user agent, longer ones are cut (and marked) */
#define KURA_AUDIT_OBJECT_MAX 4096     /* object (a path, an id) */
#define KURA_AUDIT_FIELD_MAX 256       /* actor, roles, session, request id, action, reason */
#define KURA_AUDIT_BATCH_MAX (4 << 20) /* bytes written by one group commit at most */
#define KURA_AUDIT_TILE_HEIGHT 8
#define KURA_AUDIT_TILE_WIDTH 256
#define KURA_AUDIT_HASH_BYTES 32
#define KURA_AUDIT_ORIGIN_MAX 300

enum kura_audit_result {
    KURA_AUDIT_OK = 0,
    KURA_AUDIT_DENIED = 1,
    KURA_AUDIT_ERROR = 2,
};

/* What happened. Every pointer may be NULL (written as null). Strings are UTF-8; invalid
 * sequences are replaced by U+FFFD, over-long values are cut at their limit and end with "…".
 * Never pass secrets: tokens, if ever needed for correlation, go in as a keyed HMAC. */
struct kura_audit_event {
    const char *actor;   /* "user:<id>", "cli:<os-user>", "system", "anonymous" */
    const char *roles;   /* roles in force, comma-separated */
    bool elevated;       /* a privileged role was elevated for this action */
    const char *session; /* session or app-password id */
    const char *source_ip;
    const char *user_agent;
    const char *request_id;
    const char *action; /* "<area>.<verb>": "server.start", "http.request", "config.change" */
    const char *object; /* what it acted on: a path, an account id */
    uint64_t bytes;     /* data bytes read or written */
    enum kura_audit_result result;
    const char *reason; /* for denied and error: the stable error code name */
    json_t *detail;     /* optional object; borrowed */
};

struct kura_audit;

struct kura_audit_opts {
    int audit_dirfd;                 /* DATA/audit, 0700; the log owns it from here */
    const struct kura_sign_key *key; /* keys/audit.key; borrowed for the log's lifetime */
    const char *origin;              /* checkpoint origin, see kura_audit_origin */
    const struct kura_conf *conf;    /* [audit] settings; borrowed */
    bool start_thread;               /* false: synchronous use by a CLI command */
};

/* The checkpoint origin: the one of the existing log in audit_dirfd (-1: none), else
 * "kura.<host of public_url>/audit/<install id>" for a new log. */
KURA_MUST_CHECK int kura_audit_origin(int audit_dirfd, const struct kura_conf *conf,
                                      const char *install_id,
                                      char ret[static KURA_AUDIT_ORIGIN_MAX]);

/* Opens the log: creates the layout if empty, recovers from a crash (cuts a torn tail, finishes
 * an interrupted bundle, rebuilds missing tiles), checks the recovered tree against the last
 * checkpoint (a log shorter than its checkpoint, or with another root, is refused: KURA_ECORRUPT
 * with the reason in reterr_why), and starts the writer thread. Free with kura_audit_close. */
KURA_MUST_CHECK int kura_audit_open(const struct kura_audit_opts *opts, struct kura_audit **ret,
                                    struct kura_buf *reterr_why);

/* What opening found: the previous writer stopped without closing the log (a crash, kill -9,
 * power loss), and how many bytes of unacknowledged tail were removed. The caller records it. */
void kura_audit_recovery(struct kura_audit *a, bool *ret_unclean, uint64_t *ret_cut_bytes);

/* Publishes a final checkpoint, stops the writer, closes the files. Accepts NULL; returns NULL. */
struct kura_audit *kura_audit_close(struct kura_audit *a);

/* Called once the record is durable (result 0) or could not be written (KURA_EAUDIT); runs on
 * the writer thread, must be quick and must not emit. index is the record's index. */
typedef void (*kura_audit_done_fn)(void *arg, int result, uint64_t index);

/* Queues a record. Returns 0 (done will be called exactly once) or KURA_EAUDIT without queuing
 * (the log is failing: done is not called) or -ENOMEM / KURA_ETOOBIG. */
KURA_MUST_CHECK int kura_audit_emit(struct kura_audit *a, const struct kura_audit_event *ev,
                                    kura_audit_done_fn done, void *arg);

/* Queues a record and waits until it is durable. ret_index may be NULL. Not for event loops. */
KURA_MUST_CHECK int kura_audit_emit_sync(struct kura_audit *a, const struct kura_audit_event *ev,
                                         uint64_t *ret_index);

/* Records in the log (the next index). */
uint64_t kura_audit_size(struct kura_audit *a);

/* True while the log is refusing records (I/O error or disk nearly full). */
bool kura_audit_failing(struct kura_audit *a);

#ifdef KURA_TEST_HOOKS
/* Makes every write fail with -ENOSPC until called with false (tests of fail-closed). */
void kura_audit_inject_failure(struct kura_audit *a, bool on);
/* Holds every commit for ms milliseconds before writing it (0: off): requests then wait for
 * their records long enough for a test to act while they do (e.g. stop the server). */
void kura_audit_inject_delay(struct kura_audit *a, unsigned ms);
#endif

/* Waits until the log holds more than `seen` records, the log closes, or timeout_ms passes.
 * Returns the current size. For in-process followers (the syslog forwarder, the indexer). */
uint64_t kura_audit_wait(struct kura_audit *a, uint64_t seen, int timeout_ms);
/* Sleeps timeout_ms, whatever the log does, unless kura_audit_wake or the close cuts it short:
 * a follower that just read a batch lets the next one gather (kura_audit_wait would wake it at
 * every group commit, a context switch each, only to go back to sleep). */
void kura_audit_pause(struct kura_audit *a, int timeout_ms);
/* Wakes every kura_audit_wait and kura_audit_pause at once (a follower that is being stopped). */
void kura_audit_wake(struct kura_audit *a);

/* ---- reading records in order ------------------------------------------------------------- */

/* A sequential reader of the files, usable beside a live writer (which only appends to
 * audit/current and renames full bundles). */
struct kura_audit_iter;

KURA_MUST_CHECK int kura_audit_iter_open(int audit_dirfd, uint64_t from,
                                         struct kura_audit_iter **ret);
/* The next record: 1 with *ret_record (valid until the next call) and *ret_index; 0 when there
 * is none yet (call again later: it continues where it stopped); KURA_ENOTFOUND when the
 * record's bundle was pruned (the iterator moves on to the next bundle); KURA_ECORRUPT. */
KURA_MUST_CHECK int kura_audit_iter_next(struct kura_audit_iter *it, struct kura_str *ret_record,
                                         uint64_t *ret_index);
/* Accepts NULL; returns NULL. */
struct kura_audit_iter *kura_audit_iter_free(struct kura_audit_iter *it);

/* A record's fields, read the way verify and the search index read them (the writer's exact
 * layout without building a document; jansson only for what that cannot judge). Strings are
 * NUL-terminated, NULL for JSON null, valid until the next kura_audit_read on the same reading. */
struct kura_audit_fields {
    uint64_t index;
    int64_t time_ms;
    const char *actor, *source_ip, *request_id, *action, *object, *reason;
    const char *result; /* "ok", "denied" or "error" */
    uint64_t bytes;
    bool elevated;
    /* The detail's JSON text as written, when the fast reading saw it ({NULL, 0} otherwise):
     * a key that is not in it is surely not in the detail. */
    struct kura_str detail_text;
};
struct kura_audit_reading;

KURA_MUST_CHECK int kura_audit_reading_new(struct kura_audit_reading **ret);
/* Accepts NULL; returns NULL. */
struct kura_audit_reading *kura_audit_reading_free(struct kura_audit_reading *rd);
/* Reads one record (kept by reference: it must outlive the fields and the detail).
 * KURA_ECORRUPT for anything that is not a record of docs/audit-format.md. */
KURA_MUST_CHECK int kura_audit_read(struct kura_audit_reading *rd, struct kura_str record,
                                    struct kura_audit_fields *ret);
/* The last record's detail object (borrowed until the next read), or NULL for null; built on the
 * first call. */
json_t *kura_audit_read_detail(struct kura_audit_reading *rd);

/* Parses a record time, "2026-11-22T00:00:00.000Z" exactly, into ms since the epoch. */
KURA_MUST_CHECK int kura_audit_time_parse(const char *s, int64_t *ret_ms);

/* Retention: deletes the entry bundles whose newest record is older than cutoff_ms, never the
 * bundle being filled. The hash tiles stay, so every later checkpoint still verifies. First an
 * audit.pruned record states {"up_to": k} (every bundle below record k may be gone), then the
 * bundles are deleted: a crash in between leaves bundles that merely still exist. *ret_pruned
 * (may be NULL) counts the bundles deleted now. Safe beside the writer (finished bundles are
 * immutable). */
KURA_MUST_CHECK int kura_audit_prune(struct kura_audit *a, int audit_dirfd, int64_t cutoff_ms,
                                     uint64_t *ret_pruned);

/* ---- the search index (meta's audit_index, derived from the log) ------------------------ */

/* Adds every record from the index's end up to the log's end to the search index (a pruned
 * bundle is skipped). *ret_added (may be NULL) counts them. Used by the CLI, and by the indexer
 * thread below. */
KURA_MUST_CHECK int kura_audit_index_catch_up(int audit_dirfd, struct kura_meta *m,
                                              uint64_t *ret_added);

/* A thread that keeps the index current while the server runs (follows the writer). */
struct kura_audit_indexer;
KURA_MUST_CHECK int kura_audit_indexer_start(int audit_dirfd, struct kura_audit *a,
                                             struct kura_meta *m, struct kura_audit_indexer **ret);
/* Indexes what is there, stops; accepts NULL; returns NULL. */
struct kura_audit_indexer *kura_audit_indexer_stop(struct kura_audit_indexer *ix);
/* The indexer has caught up to at least `index` (for tests and `kura status`). */
uint64_t kura_audit_indexer_position(struct kura_audit_indexer *ix);

/* ---- checkpoints (C2SP signed notes) ------------------------------------------------------ */

struct kura_audit_checkpoint {
    char origin[KURA_AUDIT_ORIGIN_MAX];
    uint64_t size;
    uint8_t root[KURA_AUDIT_HASH_BYTES];
};

/* Formats and signs a checkpoint note with key (key name = origin). */
KURA_MUST_CHECK int kura_audit_checkpoint_sign(const struct kura_audit_checkpoint *cp,
                                               const struct kura_sign_key *key,
                                               struct kura_buf *ret_note);

/* Parses a signed checkpoint note and verifies its signature with the Ed25519 public key pk
 * under the key name origin. KURA_ESYNTAX (malformed), KURA_ECRYPTO (no valid signature by this
 * key), 0 with *ret filled. */
KURA_MUST_CHECK int kura_audit_checkpoint_open(const char *note, size_t len,
                                               const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                               const char *origin,
                                               struct kura_audit_checkpoint *ret);

/* The verifier key in the golang.org/x/mod/sumdb/note encoding,
 * "<origin>+<8 hex key id>+<base64(0x01 || public key)>", for independent checkers. */
KURA_MUST_CHECK int kura_audit_vkey(const char *origin,
                                    const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                    struct kura_buf *ret);

/* ---- rotating the audit key (rotate.c) ------------------------------------------------------ */

/* The text the old key signs to hand over to new_pk at record index:
 * "kura-audit-key-rotation\n<origin>\n<index>\n<base64 new public key>\n". */
KURA_MUST_CHECK int kura_audit_rotation_statement(const char *origin, uint64_t index,
                                                  const uint8_t new_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                                  struct kura_buf *ret);
/* Checks an audit.key record's detail {"old_key", "new_key", "new_vkey", "signature"} at index:
 * old_key is old_pk and signed the statement. 0 with ret_new_pk; KURA_ESYNTAX (malformed),
 * KURA_ECRYPTO (another old key, or a bad signature). */
KURA_MUST_CHECK int kura_audit_rotation_check(json_t *detail, const char *origin, uint64_t index,
                                              const uint8_t old_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                              uint8_t ret_new_pk[KURA_SIGN_PUBLIC_KEY_BYTES]);
/* On a log opened without a writer thread (the CLI holds the data-folder lock): writes the
 * rotation record signed by the current key, publishes it under the current key, then switches
 * to new_key (borrowed for the log's lifetime) and publishes the same size under it. The caller
 * installs new_key as keys/audit.key afterwards (docs/audit-format.md, "Key rotation"). */
KURA_MUST_CHECK int kura_audit_rotate_key(struct kura_audit *a, const struct kura_sign_key *new_key,
                                          const char *actor, uint64_t *ret_index);
/* Only the switch: publishes what is unpublished under the current key, then the same size
 * under new_key (finishing a rotation whose record is already in the log). */
KURA_MUST_CHECK int kura_audit_switch_key(struct kura_audit *a,
                                          const struct kura_sign_key *new_key);

/* ---- reading, verifying, proving ---------------------------------------------------------- */

struct kura_audit_verify_opts {
    const uint8_t *pk; /* audit public key (keys/audit.pub) */
    /* Keys the log rotated away from, oldest first (keys/audit-retired.pub); may be empty. */
    const uint8_t (*retired)[KURA_SIGN_PUBLIC_KEY_BYTES];
    size_t n_retired;
    const char *origin;
    uint64_t heartbeat_interval_ms;   /* gaps beyond 2x this while running are reported */
    const char *const *witness_files; /* files holding witnessed checkpoints */
    size_t n_witness_files;
    uint64_t since; /* first index whose record checks are reported (hashes always all) */
    /* Called about every 100,000 records with (done, total); may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
};

struct kura_audit_verify_report {
    uint64_t size;        /* records in the log */
    uint64_t checkpoint;  /* size of the latest checkpoint */
    uint64_t checkpoints; /* checkpoints checked (local history and witnesses) */
    uint64_t witnessed;   /* of which from witness files */
    uint64_t pruned_upto; /* records below this index have had their payload pruned */
    bool ok;
    uint64_t bad_index; /* first index found bad (when !ok and it concerns a record) */
    char reason[512];   /* why not ok */
};

/* Verifies the whole log in audit_dirfd (see docs/audit-format.md, "Verification"). Returns 0
 * when the check ran (the verdict is in *ret), or a negative code when it could not run. */
KURA_MUST_CHECK int kura_audit_verify(int audit_dirfd, const struct kura_audit_verify_opts *opts,
                                      struct kura_audit_verify_report *ret);

/* Writes an evidence bundle for record index: JSON with the record, its inclusion proof and the
 * signed checkpoint it is proved against (docs/audit-format.md, "Evidence bundle"). */
KURA_MUST_CHECK int kura_audit_prove(int audit_dirfd, uint64_t index, const char *vkey,
                                     struct kura_buf *ret_json, struct kura_buf *reterr_why);

/* Writes a consistency proof between two checkpoints of this log (old size <= new size). */
KURA_MUST_CHECK int kura_audit_prove_consistency(int audit_dirfd, const char *old_note,
                                                 size_t old_len, const char *new_note,
                                                 size_t new_len, const uint8_t *pk,
                                                 const char *origin, struct kura_buf *ret_json,
                                                 struct kura_buf *reterr_why);
