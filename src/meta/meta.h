/* meta — the metadata store: one interface, several backends.
 *
 * Purpose: everything kura knows about its data except the bytes of the files: installation
 * properties, accounts and roles now; datasets, grants, the file tree, sessions and the audit
 * index later. The interface is a versioned, const ops table (struct kura_meta_ops, SQLite's
 * sqlite3_io_methods pattern); `sqlite.c` is the embedded default, `pg.c` (PostgreSQL) is meant
 * to slot in beside it and pass the same contract test suite (src/meta/meta-contract.c).
 *
 * Invariants:
 *  - A handle (struct kura_meta) is opaque and starts with its ops pointer. It is safe to use from
 *    several threads at once: each backend serialises or pools internally (sqlite: one connection
 *    behind one recursive mutex per handle; a connection pool can replace it later without any
 *    change to callers).
 *  - A transaction belongs to the thread that began it: kura_meta_txn_begin takes the handle's
 *    lock and kura_meta_txn_commit / _rollback release it, so other threads block until the
 *    transaction ends. Calls made by the owning thread in between join the transaction; they
 *    nest (savepoints), so a function that needs atomicity (account_create) may be called inside
 *    or outside a caller's transaction. Never wait on another thread that uses the same handle
 *    while holding a transaction.
 *  - Schema changes happen only in kura_meta_migrate, one transaction per migration, each
 *    recorded in schema_version(version, name, applied_at). Migrations are plain SQL files under
 *    src/meta/sql/<backend>/NNNN-name.sql compiled into the binary by scripts/embed.py; the last
 *    one must be KURA_META_SCHEMA_LATEST (checked at compile time). A database whose schema is
 *    newer than the binary is never modified (KURA_ESCHEMA): downgrades are refused, not guessed.
 *  - Login IDs are never reused: accounts are never deleted, only marked deleted; the SQLite
 *    schema enforces this with triggers.
 *  - Every backend error is mapped to a kura code: duplicate key -> KURA_EEXIST, damaged or
 *    foreign file -> KURA_ECORRUPT, lock contention beyond the busy timeout -> KURA_EBUSY, other
 *    constraint violations (bad enum value, ...) -> -EINVAL, I/O -> -errno, unexpected ->
 *    KURA_EINTERNAL. Backend messages go to the debug log only; they name columns, never values.
 *
 * Limits (checked before the backend sees the value, -EINVAL / KURA_ETOOBIG): account IDs
 * 1..KURA_META_ID_MAX bytes, other text fields at most KURA_META_TEXT_MAX bytes, password hashes
 * at most KURA_META_HASH_MAX bytes, install keys 1..KURA_META_KEY_MAX bytes; all must be valid
 * UTF-8 without control bytes (values of install properties may not contain NUL either, being C
 * strings). meta checks storage limits only; which IDs are acceptable is auth's rule.
 *
 * Security assumptions: the database holds password hashes and (later) the Crypt4GH headers
 * that are the files' keys, so the SQLite file is created 0600 and an existing file that group or
 * others can access, or that another user owns, is refused (KURA_EKEYMODE). SQLite runs with
 * secure_delete=ON (deleted content is zeroed in the main file), the DEFENSIVE flag, untrusted
 * schema, no URI filenames and no symlinked database file. Note for crypto-shredding: in WAL
 * mode, overwritten pages survive in the -wal file until the next checkpoint; the store area
 * must checkpoint (TRUNCATE) after destroying a header before it certifies the deletion.
 *
 * Durability: synchronous=FULL in WAL mode, so every commit is on stable storage before the call
 * returns — losing a grant revocation, a password change or a deletion record on power loss
 * matters more than metadata write speed (bulk data goes to the blob store, not here).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- limits ------------------------------------------------------------------------------- */

#define KURA_META_SCHEMA_LATEST 9u /* schema version this binary writes */
#define KURA_META_OPS_VERSION 9u   /* struct kura_meta_ops layout */

#define KURA_META_ID_MAX 255u     /* bytes in an account ID (auth's rules are stricter) */
#define KURA_META_TEXT_MAX 1024u  /* bytes in display_name, email, affiliation, phone */
#define KURA_META_HASH_MAX 255u   /* bytes in a stored password hash string */
#define KURA_META_KEY_MAX 128u    /* bytes in an install property key */
#define KURA_META_VALUE_MAX 4096u /* bytes in an install property value */

/* ---- roles and account status ------------------------------------------------------------- */

/* Roles are a bitmask; an account may hold several. The names are the strings stored in
 * account_roles.role and shown to users. Authorization decisions are made only by access_check
 * (ARCHITECTURE.md); these bits merely record what was granted. */
enum kura_role {
    KURA_ROLE_USER = 1u << 0,
    KURA_ROLE_PI = 1u << 1,
    KURA_ROLE_COMMITTEE = 1u << 2,
    KURA_ROLE_HELPDESK = 1u << 3,
    KURA_ROLE_OPERATOR = 1u << 4,
    KURA_ROLE_ADMIN = 1u << 5,
    KURA_ROLE_AUDITOR = 1u << 6,
    KURA_ROLE_ALL = (1u << 7) - 1,
};

/* Name of exactly one role bit ("user", "pi", ...); NULL for 0, several bits or unknown bits. */
const char *kura_role_name(unsigned role);

/* Parses a role name (exact, lower-case) into its bit. KURA_ESYNTAX if unknown. */
KURA_MUST_CHECK int kura_role_parse(const char *s, size_t len, enum kura_role *ret);

enum kura_account_status {
    KURA_ACCOUNT_STATUS_ACTIVE = 0,
    KURA_ACCOUNT_STATUS_LOCKED,
    KURA_ACCOUNT_STATUS_DISABLED,
    KURA_ACCOUNT_STATUS_EXPIRED,
    KURA_ACCOUNT_STATUS_DELETED,
    KURA_ACCOUNT_STATUS__COUNT,
};

/* "active", "locked", "disabled", "expired", "deleted"; NULL when out of range. */
const char *kura_account_status_name(enum kura_account_status status);

/* Parses a status name. KURA_ESYNTAX if unknown. */
KURA_MUST_CHECK int kura_account_status_parse(const char *s, size_t len,
                                              enum kura_account_status *ret);

/* ---- the account record ------------------------------------------------------------------- */

/* An account as stored. Times are UTC milliseconds since the epoch; 0 means "not set" (stored as
 * NULL) for valid_from, valid_until and password_changed_at, and "now" for created_at and
 * updated_at when creating. Negative times are rejected.
 *
 * Ownership: a record filled by kura_meta_account_get owns its strings; release it with
 * kura_account_release. A record passed to kura_meta_account_create is only borrowed, so it may
 * point at string literals or the caller's buffers (NULL text fields mean ""; a NULL
 * password_hash means no password is set). */
struct kura_account {
    const char *id;
    const char *display_name;
    const char *email;
    const char *affiliation;
    const char *phone;
    enum kura_account_status status;
    int64_t valid_from;
    int64_t valid_until;
    const char *password_hash; /* encoded Argon2id string from kura_password_hash, or NULL */
    int64_t password_changed_at;
    bool must_change_password;
    unsigned roles; /* bitmask of enum kura_role */
    int64_t created_at;
    int64_t updated_at;
};

/* Frees the strings of a record filled by kura_meta_account_get (wiping the password hash) and
 * zeroes it; accepts a zeroed record. Never call it on a record whose strings you own. */
void kura_account_release(struct kura_account *a);

/* ---- handle and backends ------------------------------------------------------------------ */

struct kura_meta;

/* kura_meta_open flags */
#define KURA_META_CREATE 0x1u   /* create the database if missing (mode 0600) */
#define KURA_META_READONLY 0x2u /* no writes; migrate fails unless nothing is pending */
/* A server's handle: the backend may keep extra connections for reads made outside any
 * transaction, so that concurrent requests do not queue behind one another's lookups. */
#define KURA_META_READERS 0x4u

/* Where a database's schema stands relative to this binary. */
enum kura_meta_schema_state {
    KURA_META_SCHEMA_CURRENT = 0, /* == KURA_META_SCHEMA_LATEST: ready to use */
    KURA_META_SCHEMA_PENDING,     /* older (a new database is version 0): run kura_meta_migrate */
    KURA_META_SCHEMA_NEWER,       /* written by a newer kura: refuse to touch it */
};

/* ---- the audit search index --------------------------------------------------------------- */

/* One audit record as indexed (the audit area fills it from a record; strings are borrowed). */
struct kura_audit_row {
    uint64_t idx;
    int64_t time;      /* ms since the epoch */
    const char *actor; /* may be NULL */
    const char *action;
    const char *object;     /* may be NULL */
    const char *result;     /* "ok", "denied", "error" */
    const char *source_ip;  /* may be NULL */
    const char *request_id; /* may be NULL */
    uint64_t bytes;
    const char *record; /* the record's JSON */
};

/* A search: every set field must match; strings match exactly except object_prefix. */
struct kura_audit_query {
    int64_t from_ms, to_ms; /* [from, to); 0 leaves that side open */
    const char *actor, *action, *object_prefix, *result, *source_ip;
    uint64_t after_idx; /* only records with idx > after_idx (paging); UINT64_MAX: none */
    uint64_t limit;     /* 0: no limit */
};

/* Called per match in index order; a non-zero return stops the search and is returned. The
 * row's strings are valid during the call only. */
typedef int (*kura_audit_row_fn)(void *ctx, const struct kura_audit_row *row);

/* ---- alerts ---------------------------------------------------------------------------------- */

struct kura_alert {
    uint64_t id;
    const char *rule;             /* "access_denied", "config_change", ... */
    const char *key;              /* what it is about: an account, a source address, "" */
    uint64_t first_idx, last_idx; /* audit records of the first and latest hit */
    uint64_t hits;
    int64_t first_time, last_time; /* ms */
    const char *detail;            /* JSON text */
    bool acknowledged;
    const char *ack_by, *ack_note;
    int64_t ack_at;
};

typedef int (*kura_alert_fn)(void *ctx, const struct kura_alert *a);

/* ---- identity: authentication state, sessions, app passwords, ledger --------------------- */

#define KURA_META_SECRET_MAX 128u /* bytes of an encrypted TOTP secret */
#define KURA_META_MAC_BYTES 32u   /* HMAC-SHA-256 / SHA-256 lookups */
#define KURA_META_IP_MAX 64u      /* bytes of a source address as text */
#define KURA_META_AGENT_MAX 512u  /* bytes of a user agent kept with a session */
#define KURA_META_JSON_MAX 65536u /* bytes of a ledger before/after JSON text */

/* An account's authentication state: counters and secrets that change at every login, kept
 * apart from the identity fields (struct kura_account), whose changes are ledger entries. A
 * missing row reads as all zeros. */
struct kura_account_auth {
    uint32_t failed_logins; /* consecutive failures, counted before the password is checked */
    int64_t last_failed_at;
    int64_t locked_at;    /* 0: not locked by failures */
    int64_t locked_until; /* with locked_at: 0 means until an unlock */
    int64_t last_login_at;
    char last_login_ip[KURA_META_IP_MAX + 1];
    uint8_t totp_secret[KURA_META_SECRET_MAX]; /* as auth sealed it; totp_secret_len 0: none */
    size_t totp_secret_len;
    uint64_t totp_last_step; /* the last TOTP time step accepted (replay protection) */
    int64_t totp_enrolled_at;
    uint32_t recovery_left; /* unused recovery codes */
};

enum kura_session_kind {
    KURA_SESSION_FULL = 0,
    KURA_SESSION_ENROL, /* after a one-time password: may only set a password and enrol TOTP */
};

/* A server-side session. The browser holds a random token; the store holds only its SHA-256
 * (id_hash), so a copy of the database cannot be replayed as cookies. Strings are owned by a
 * record filled by kura_meta_session_get (release with kura_session_release). */
struct kura_session {
    uint8_t id_hash[KURA_META_MAC_BYTES];
    const char *account_id;
    enum kura_session_kind kind;
    int64_t created_at, last_seen_at, expires_at; /* expires_at: the absolute timeout */
    int64_t elevated_until;                       /* 0: not elevated */
    uint8_t csrf[KURA_META_MAC_BYTES];            /* the CSRF token's SHA-256 */
    const char *source_ip, *user_agent;           /* may be NULL */
    bool break_glass;
};
void kura_session_release(struct kura_session *s);
typedef int (*kura_session_fn)(void *ctx, const struct kura_session *s);

/* A device's app password. The secret itself is never stored: mac is HMAC-SHA-256 of it under a
 * server key (auth's), unique. Strings owned as for sessions (kura_app_password_release). */
struct kura_app_password {
    uint64_t id;
    const char *account_id, *name;
    uint8_t mac[KURA_META_MAC_BYTES];
    bool read_write;
    int64_t created_at, expires_at; /* expires_at 0: no expiry */
    int64_t last_used_at;           /* 0: never */
    const char *last_used_ip;       /* may be NULL */
    int64_t revoked_at;             /* 0: in force */
};
void kura_app_password_release(struct kura_app_password *p);
typedef int (*kura_app_password_fn)(void *ctx, const struct kura_app_password *p);

/* One row of the account ledger (アカウント管理台帳): append-only, never edited or deleted (the
 * SQLite schema refuses both). before/after are JSON objects of the fields that changed. */
struct kura_ledger_entry {
    uint64_t seq; /* assigned by the store */
    int64_t at;
    const char *actor, *target, *action; /* action: "create", "roles", "lock", "reset", ... */
    const char *before, *after;          /* JSON text, "{}" when nothing */
    const char *reason;                  /* may be "" */
    const char *request_id;              /* correlates with the audit event; may be NULL */
};
typedef int (*kura_ledger_fn)(void *ctx, const struct kura_ledger_entry *e);

#define KURA_META_ACTOR_MAX (KURA_META_ID_MAX + 16) /* "user:<id>", "cli:<os user>" */

/* An emergency (break-glass) account's state; the row exists only for emergency accounts. */
struct kura_break_glass {
    char requested_by[KURA_META_ACTOR_MAX + 1]; /* a pending first approval; "" when none */
    int64_t requested_at;
    uint32_t minutes;                             /* the enablement asked for */
    int64_t enabled_until;                        /* 0: not enabled */
    char enabled_by[2 * KURA_META_ACTOR_MAX + 2]; /* "first,second" of the last enablement */
    /* version 8: a sealed credential (single use): its HMAC, the minutes it enables, when made */
    bool sealed;
    uint8_t sealed_mac[KURA_META_MAC_BYTES];
    uint32_t sealed_minutes;
    int64_t sealed_at;
};
typedef int (*kura_account_fn)(void *ctx, const struct kura_account *a);

/* ---- the file store (schema version 9; only the store area calls these) -------------------
 *
 * Spaces hold trees of nodes (folders and files). Every node keeps its full path inside its
 * space (denormalised, NFC, '/'-separated, "" for the root) beside its parent id, so WebDAV's
 * path lookups are one indexed query and a folder move rewrites its descendants' paths in one
 * statement. Among live nodes (not in the trash) a path is unique per space. A file's content
 * is a list of versions; each version is one Crypt4GH segment stream in the blob store plus its
 * header (the file key, encrypted to a server key) here. Destroying the header destroys the
 * content (crypto-shredding): with secure_delete the bytes leave the main file at once, and
 * kura_meta_checkpoint removes them from the -wal file. */

#define KURA_META_PATH_MAX 4096u        /* bytes of a node path */
#define KURA_META_NAME_MAX 255u         /* bytes of one name */
#define KURA_META_ETAG_MAX 40u          /* bytes of an entity tag (without quotes) */
#define KURA_META_C4GH_HEADER_MAX 4096u /* bytes of a stored Crypt4GH header */
#define KURA_META_KEY_ID_MAX 64u        /* bytes of a server key id (hex fingerprint) */
#define KURA_META_BLOB_ID_MAX 64u       /* bytes of a blob id */
#define KURA_META_PROP_VALUE_MAX 65536u /* bytes of a dead property's XML value */
#define KURA_META_LOCK_TOKEN_MAX 64u    /* bytes of a lock token ("urn:uuid:" + 36) */
#define KURA_META_PROP_NS_MAX 1024u     /* bytes of a dead property's namespace URI */
#define KURA_META_PROP_NAME_MAX 255u    /* bytes of a dead property's local name */
#define KURA_META_LOCK_OWNER_MAX 4096u  /* bytes of a lock's <D:owner> fragment */

enum kura_space_kind { KURA_SPACE_PERSONAL = 1, KURA_SPACE_DATASET = 2 };

struct kura_space {
    uint64_t id;
    enum kura_space_kind kind;
    char owner[KURA_META_ID_MAX + 1]; /* personal: the account ID; dataset: the dataset ID */
    uint64_t root;                    /* the root folder's node id */
    uint64_t quota_bytes;             /* 0: no limit */
    uint64_t used_bytes;              /* plaintext bytes of every stored version, trash included */
    int64_t created_at;
};

struct kura_node {
    uint64_t id, space;
    uint64_t parent;                   /* 0 for the root */
    char path[KURA_META_PATH_MAX + 1]; /* "" for the root, else "a/b/c"; see kura_node_name */
    bool folder;
    uint64_t version;                  /* files: the current version's id (0: none yet) */
    uint64_t size;                     /* files: the current version's size */
    uint8_t sha256[32];                /* files: the current version's plaintext SHA-256 */
    int64_t created_at, mtime;         /* ms; mtime may be set by clients (X-OC-Mtime) */
    char etag[KURA_META_ETAG_MAX + 1]; /* changes with content, and for folders beneath */
    int64_t trashed_at;                /* 0: live; else in the trash since then */
    char trashed_by[KURA_META_ACTOR_MAX + 1];
};
typedef int (*kura_node_fn)(void *ctx, const struct kura_node *n);
/* The node's own name: the part of its path after the last '/' ("" for the root). */
static inline const char *kura_node_name(const struct kura_node *n)
{
    const char *slash = __builtin_strrchr(n->path, '/');
    return slash ? slash + 1 : n->path;
}

struct kura_version {
    uint64_t id, node;
    char blob[KURA_META_BLOB_ID_MAX + 1];
    uint8_t header[KURA_META_C4GH_HEADER_MAX]; /* header_len 0: shredded */
    size_t header_len;
    char key_id[KURA_META_KEY_ID_MAX + 1]; /* the server key the header is encrypted to */
    uint64_t size, segments;
    uint8_t sha256[32];
    uint8_t nonce_prefix[4]; /* binds each segment to its position (crypto.h) */
    int64_t created_at;
    char created_by[KURA_META_ACTOR_MAX + 1];
    int64_t corrupt_at; /* 0: never found damaged */
};
typedef int (*kura_version_fn)(void *ctx, const struct kura_version *v);

/* A WebDAV dead property: (namespace URI, local name) -> XML fragment, as PROPPATCH stored it. */
struct kura_prop {
    const char *ns, *name, *value; /* borrowed for the callback's duration */
};
typedef int (*kura_prop_fn)(void *ctx, const struct kura_prop *p);

enum kura_lock_scope { KURA_LOCK_EXCLUSIVE = 1, KURA_LOCK_SHARED = 2 };
/* A WebDAV write lock on a path of a space (which need not exist: a lock on an unmapped URL
 * reserves it). */
struct kura_lock {
    char token[KURA_META_LOCK_TOKEN_MAX + 1];
    uint64_t space;
    char path[KURA_META_PATH_MAX + 1];
    bool infinite; /* Depth: infinity (else 0) */
    enum kura_lock_scope scope;
    char owner[KURA_META_ID_MAX + 1]; /* the account that holds it */
    const char *owner_xml;            /* the client's <D:owner> fragment; may be NULL */
    int64_t created_at, expires_at;   /* expired when expires_at <= now */
};
typedef int (*kura_lock_fn)(void *ctx, const struct kura_lock *l);
/* Frees owner_xml of a record filled by kura_meta_lock_get and zeroes the record; accepts a
 * zeroed one. (Records passed to callbacks or to kura_meta_lock_create are borrowed.) */
void kura_lock_release(struct kura_lock *l);

/* A backend. Fields after `name` are called only through the kura_meta_* wrappers below, which
 * document their contracts; a backend implements exactly those contracts (the contract suite in
 * meta-contract.c checks them). `version` is KURA_META_OPS_VERSION of the layout the backend was
 * written for; fields are only ever appended. */
struct kura_meta_ops {
    unsigned version;
    const char *name;
    int (*open)(const char *target, unsigned flags, struct kura_meta **ret);
    void (*close)(struct kura_meta *m);
    int (*schema_version)(struct kura_meta *m, unsigned *ret);
    int (*migrate)(struct kura_meta *m);
    int (*txn_begin)(struct kura_meta *m);
    int (*txn_commit)(struct kura_meta *m);
    void (*txn_rollback)(struct kura_meta *m);
    int (*install_get)(struct kura_meta *m, const char *key, char **ret_value);
    int (*install_set)(struct kura_meta *m, const char *key, const char *value);
    int (*account_create)(struct kura_meta *m, const struct kura_account *a);
    int (*account_get)(struct kura_meta *m, const char *id, struct kura_account *ret);
    int (*account_count)(struct kura_meta *m, uint64_t *ret);
    /* version 2: the audit search index */
    int (*audit_index_put)(struct kura_meta *m, const struct kura_audit_row *rows, size_t n);
    int (*audit_index_next)(struct kura_meta *m, uint64_t *ret);
    int (*audit_index_search)(struct kura_meta *m, const struct kura_audit_query *q,
                              kura_audit_row_fn fn, void *ctx);
    int (*audit_index_prune)(struct kura_meta *m, int64_t before_ms, uint64_t *ret_deleted);
    /* version 3: alerts */
    int (*alert_raise)(struct kura_meta *m, const struct kura_alert *a, int64_t quiet_ms,
                       uint64_t *ret_id, bool *ret_new);
    int (*alert_list)(struct kura_meta *m, bool open_only, kura_alert_fn fn, void *ctx);
    int (*alert_ack)(struct kura_meta *m, uint64_t id, const char *by, const char *note,
                     int64_t at);
    /* version 4: identity */
    int (*account_update)(struct kura_meta *m, const struct kura_account *a);
    int (*account_list)(struct kura_meta *m, kura_account_fn fn, void *ctx);
    int (*auth_get)(struct kura_meta *m, const char *id, struct kura_account_auth *ret);
    int (*auth_attempt)(struct kura_meta *m, const char *id, uint32_t threshold, int64_t now,
                        uint32_t *ret_failed);
    int (*auth_failed)(struct kura_meta *m, const char *id, uint32_t threshold, int64_t now,
                       int64_t lock_ms, bool *ret_locked_now);
    int (*auth_succeeded)(struct kura_meta *m, const char *id, int64_t now, const char *ip);
    int (*auth_unlock)(struct kura_meta *m, const char *id);
    int (*auth_set_totp)(struct kura_meta *m, const char *id, const uint8_t *sealed, size_t len,
                         int64_t now);
    int (*auth_use_totp_step)(struct kura_meta *m, const char *id, uint64_t step);
    int (*recovery_set)(struct kura_meta *m, const char *id,
                        const uint8_t (*macs)[KURA_META_MAC_BYTES], size_t n);
    int (*recovery_use)(struct kura_meta *m, const char *id, const uint8_t *mac, int64_t now);
    int (*password_history_add)(struct kura_meta *m, const char *id, const char *hash, int64_t at,
                                uint32_t keep);
    int (*password_history_list)(struct kura_meta *m, const char *id,
                                 int (*fn)(void *ctx, const char *hash), void *ctx);
    int (*session_create)(struct kura_meta *m, const struct kura_session *s);
    int (*session_get)(struct kura_meta *m, const uint8_t *id_hash, struct kura_session *ret);
    int (*session_touch)(struct kura_meta *m, const uint8_t *id_hash, int64_t now);
    int (*session_elevate)(struct kura_meta *m, const uint8_t *id_hash, int64_t until);
    int (*session_delete)(struct kura_meta *m, const uint8_t *id_hash);
    int (*session_delete_account)(struct kura_meta *m, const char *id, const uint8_t *except,
                                  uint64_t *ret_deleted);
    int (*session_list)(struct kura_meta *m, const char *id, kura_session_fn fn, void *ctx);
    int (*session_prune)(struct kura_meta *m, int64_t idle_before, int64_t now,
                         uint64_t *ret_deleted);
    int (*app_password_create)(struct kura_meta *m, const struct kura_app_password *p,
                               uint64_t *ret_id);
    int (*app_password_find)(struct kura_meta *m, const uint8_t *mac,
                             struct kura_app_password *ret);
    int (*app_password_touch)(struct kura_meta *m, uint64_t id, int64_t now, const char *ip);
    int (*app_password_list)(struct kura_meta *m, const char *id, kura_app_password_fn fn,
                             void *ctx);
    int (*app_password_revoke)(struct kura_meta *m, const char *id, uint64_t pw_id, int64_t now);
    int (*ledger_append)(struct kura_meta *m, const struct kura_ledger_entry *e, uint64_t *ret_seq);
    int (*ledger_list)(struct kura_meta *m, const char *target, kura_ledger_fn fn, void *ctx);
    /* version 5: break-glass accounts */
    int (*break_glass_get)(struct kura_meta *m, const char *id, struct kura_break_glass *ret);
    int (*break_glass_put)(struct kura_meta *m, const char *id, const struct kura_break_glass *b);
    /* version 6: lockout per account and source */
    int (*source_attempt)(struct kura_meta *m, const char *id, const char *source,
                          uint32_t threshold, int64_t now, uint32_t *ret_failed);
    int (*source_failed)(struct kura_meta *m, const char *id, const char *source,
                         uint32_t threshold, int64_t now, int64_t lock_ms, bool *ret_locked_now);
    int (*source_clear)(struct kura_meta *m, const char *id, const char *source);
    /* version 7: the file store (schema 9); see the kura_meta_space_* ... wrappers below */
    int (*space_personal)(struct kura_meta *m, const char *account, uint64_t quota, int64_t now,
                          struct kura_space *ret);
    int (*space_get)(struct kura_meta *m, uint64_t id, struct kura_space *ret);
    int (*space_charge)(struct kura_meta *m, uint64_t id, int64_t delta);
    int (*space_set_quota)(struct kura_meta *m, uint64_t id, uint64_t quota);
    int (*node_get)(struct kura_meta *m, uint64_t id, struct kura_node *ret);
    int (*node_lookup)(struct kura_meta *m, uint64_t space, const char *path,
                       struct kura_node *ret);
    int (*node_children)(struct kura_meta *m, uint64_t folder, kura_node_fn fn, void *ctx);
    int (*node_create)(struct kura_meta *m, const struct kura_node *n, uint64_t *ret_id);
    int (*node_set_content)(struct kura_meta *m, uint64_t id, uint64_t version, uint64_t size,
                            const uint8_t sha256[32], int64_t mtime);
    int (*node_move)(struct kura_meta *m, uint64_t id, const char *new_path);
    int (*node_set_mtime)(struct kura_meta *m, uint64_t id, int64_t mtime);
    int (*node_trash)(struct kura_meta *m, uint64_t id, const char *by, int64_t at);
    int (*node_restore)(struct kura_meta *m, uint64_t id, const char *new_path);
    int (*trash_list)(struct kura_meta *m, uint64_t space, kura_node_fn fn, void *ctx);
    int (*trash_expired)(struct kura_meta *m, int64_t before, kura_node_fn fn, void *ctx);
    int (*node_subtree)(struct kura_meta *m, uint64_t id, kura_node_fn fn, void *ctx);
    int (*node_remove)(struct kura_meta *m, uint64_t id);
    int (*version_add)(struct kura_meta *m, const struct kura_version *v, uint64_t *ret_id);
    int (*version_get)(struct kura_meta *m, uint64_t id, struct kura_version *ret);
    int (*version_list)(struct kura_meta *m, uint64_t node, kura_version_fn fn, void *ctx);
    int (*version_remove)(struct kura_meta *m, uint64_t id);
    int (*version_set_header)(struct kura_meta *m, uint64_t id, const uint8_t *header, size_t len,
                              const char *key_id);
    int (*versions_by_key)(struct kura_meta *m, const char *key_id, uint64_t after, uint32_t limit,
                           kura_version_fn fn, void *ctx);
    int (*versions_all)(struct kura_meta *m, uint64_t after, uint32_t limit, kura_version_fn fn,
                        void *ctx);
    int (*version_flag_corrupt)(struct kura_meta *m, uint64_t id, int64_t at);
    int (*blob_referenced)(struct kura_meta *m, const char *blob, bool *ret);
    int (*prop_set)(struct kura_meta *m, uint64_t node, const char *ns, const char *name,
                    const char *value);
    int (*prop_remove)(struct kura_meta *m, uint64_t node, const char *ns, const char *name);
    int (*prop_get)(struct kura_meta *m, uint64_t node, const char *ns, const char *name,
                    char **ret_value);
    int (*prop_list)(struct kura_meta *m, uint64_t node, kura_prop_fn fn, void *ctx);
    int (*prop_copy)(struct kura_meta *m, uint64_t from, uint64_t to);
    int (*lock_create)(struct kura_meta *m, const struct kura_lock *l);
    int (*lock_get)(struct kura_meta *m, const char *token, int64_t now, struct kura_lock *ret);
    int (*lock_covering)(struct kura_meta *m, uint64_t space, const char *path, bool descendants,
                         int64_t now, kura_lock_fn fn, void *ctx);
    int (*lock_refresh)(struct kura_meta *m, const char *token, int64_t expires_at);
    int (*lock_remove)(struct kura_meta *m, const char *token);
    int (*lock_prune)(struct kura_meta *m, int64_t now, uint64_t *ret_pruned);
    int (*checkpoint)(struct kura_meta *m);
    bool (*snapshot)(struct kura_meta *m, bool on); /* optional (NULL: never kept) */
    int (*checkpoint_try)(struct kura_meta *m);
};

/* Opens a metadata store. backend: "sqlite" (target = database file path). flags: KURA_META_*;
 * CREATE and READONLY together are -EINVAL. Does not migrate: call kura_meta_check_schema or
 * kura_meta_migrate next. Close the handle with kura_meta_close.
 * Errors: KURA_EUNSUPPORTED (unknown backend), -ENOENT (no such file, without CREATE),
 * KURA_EKEYMODE (file accessible by group/others or owned by someone else), KURA_ECORRUPT (not a
 * database), -errno, KURA_EINTERNAL. */
KURA_MUST_CHECK int kura_meta_open(const char *backend, const char *target, unsigned flags,
                                   struct kura_meta **ret);

/* Closes the handle; accepts NULL; returns NULL. No transaction may be open (assert) and no
 * other thread may still be using the handle. */
struct kura_meta *kura_meta_close(struct kura_meta *m);
/* For _cleanup_(kura_meta_closep). */
void kura_meta_closep(struct kura_meta **mp);

/* The backend's name ("sqlite"). */
const char *kura_meta_backend(const struct kura_meta *m);

/* The highest applied schema version (0 for a new, empty database). */
KURA_MUST_CHECK int kura_meta_schema_version(struct kura_meta *m, unsigned *ret);

/* Compares the schema with KURA_META_SCHEMA_LATEST. Returns 0 when current; KURA_ESCHEMA when
 * the database is older (needs kura_meta_migrate) or newer (needs a newer kura). *ret_state
 * (may be NULL) says which: it is the answer of the check, so unlike other ret_ parameters it
 * is written for both 0 and KURA_ESCHEMA; other errors leave it untouched. */
KURA_MUST_CHECK int kura_meta_check_schema(struct kura_meta *m,
                                           enum kura_meta_schema_state *ret_state);

/* Applies every pending migration in order, each in its own transaction, recording it in
 * schema_version. A no-op when current. KURA_ESCHEMA, touching nothing, when the database is
 * newer than this binary. KURA_ENOTKURA, touching nothing, when a version-0 database already
 * holds tables (somebody else's database). -EINVAL inside a transaction; -EROFS when read-only
 * with work pending. A failed migration is rolled back whole; earlier ones stay applied. Safe
 * against a second process migrating at the same time (each step re-reads the version under the
 * write lock). */
KURA_MUST_CHECK int kura_meta_migrate(struct kura_meta *m);

/* Transactions (see the invariants above). begin takes the database's write lock at once (no
 * deadlock-prone upgrade from reader to writer later); KURA_EBUSY if another process holds it
 * beyond the busy timeout (5 s for sqlite). commit: on failure the transaction is rolled back, so
 * either way it has ended when commit returns. rollback cannot fail and always ends the transaction
 * (or the innermost nested one). */
KURA_MUST_CHECK int kura_meta_txn_begin(struct kura_meta *m);
KURA_MUST_CHECK int kura_meta_txn_commit(struct kura_meta *m);
void kura_meta_txn_rollback(struct kura_meta *m);

/* A read snapshot for the calling thread: from on until off, its reads outside transactions may
 * all see the database as of one moment (and cost one read lock), like a read transaction. The
 * thread's first write or transaction, on any handle, ends it, so it always reads what it wrote.
 * Calls between on and off must not wait for another thread's use of the same handle. A hint: a
 * backend may ignore it, and reads stay correct either way. Returns true when the thread now keeps
 * a snapshot whose reads never wait for another thread (sqlite: a reader was free at once), false
 * when it keeps none (off always returns false). */
bool kura_meta_snapshot(struct kura_meta *m, bool on);

/* Installation properties: small text values under text keys (install_id, created_at, ...).
 * get: *ret_value is a NUL-terminated copy, free it with kura_free; KURA_ENOTFOUND if unset.
 * set: inserts or replaces. Keys 1..KURA_META_KEY_MAX bytes, values up to KURA_META_VALUE_MAX
 * bytes, both valid UTF-8 without control bytes (tab allowed in values) — else -EINVAL or
 * KURA_ETOOBIG. */
KURA_MUST_CHECK int kura_meta_install_get(struct kura_meta *m, const char *key, char **ret_value);
KURA_MUST_CHECK int kura_meta_install_set(struct kura_meta *m, const char *key, const char *value);

/* Creates an account with its roles in one transaction (nested in the caller's, if any).
 * KURA_EEXIST if the ID was ever used (accounts are never deleted, so that means: ever created).
 * -EINVAL for a bad status, roles outside KURA_ROLE_ALL, negative times, or text that is not
 * valid UTF-8 or has control bytes; KURA_ETOOBIG for text over the limits above. */
KURA_MUST_CHECK int kura_meta_account_create(struct kura_meta *m, const struct kura_account *a);

/* Reads an account and its roles, from one snapshot. KURA_ENOTFOUND if no such ID (deleted
 * accounts are found, with status deleted); -EINVAL / KURA_ETOOBIG for an id no account can
 * have (empty, control bytes, invalid UTF-8, over KURA_META_ID_MAX). On success *ret owns its
 * strings: release it with kura_account_release. KURA_ECORRUPT if the stored row cannot be
 * represented (unknown role or status, wrong column types, NUL inside text). */
KURA_MUST_CHECK int kura_meta_account_get(struct kura_meta *m, const char *id,
                                          struct kura_account *ret);

/* Number of account IDs ever created (deleted accounts included). */
KURA_MUST_CHECK int kura_meta_account_count(struct kura_meta *m, uint64_t *ret);

/* Adds rows to the audit index in one transaction; a row whose idx is present is skipped (the
 * index is rebuilt by replaying the log). -EINVAL for a row without action, result or record. */
KURA_MUST_CHECK int kura_meta_audit_index_put(struct kura_meta *m,
                                              const struct kura_audit_row *rows, size_t n);
/* The index of the first record not in the audit index (max idx + 1, or 0). */
KURA_MUST_CHECK int kura_meta_audit_index_next(struct kura_meta *m, uint64_t *ret);
/* Streams the rows matching q to fn in idx order. */
KURA_MUST_CHECK int kura_meta_audit_index_search(struct kura_meta *m,
                                                 const struct kura_audit_query *q,
                                                 kura_audit_row_fn fn, void *ctx);
/* Records a hit of an alert rule: if an open alert of the same rule and key had a hit within
 * quiet_ms before a->last_time, it is updated (hits, last_idx, last_time, detail) and *ret_new
 * is false; otherwise a new open alert is stored and *ret_new is true. *ret_id names it. */
KURA_MUST_CHECK int kura_meta_alert_raise(struct kura_meta *m, const struct kura_alert *a,
                                          int64_t quiet_ms, uint64_t *ret_id, bool *ret_new);
/* Streams alerts, newest first (open ones only when open_only). */
KURA_MUST_CHECK int kura_meta_alert_list(struct kura_meta *m, bool open_only, kura_alert_fn fn,
                                         void *ctx);
/* Acknowledges an open alert. KURA_ENOTFOUND when there is no open alert with that id. */
KURA_MUST_CHECK int kura_meta_alert_ack(struct kura_meta *m, uint64_t id, const char *by,
                                        const char *note, int64_t at);

/* Removes rows older than before_ms (the searchable window); *ret_deleted (may be NULL). */
KURA_MUST_CHECK int kura_meta_audit_index_prune(struct kura_meta *m, int64_t before_ms,
                                                uint64_t *ret_deleted);

/* ---- identity ------------------------------------------------------------------------------ */
/* Every function below validates its text arguments as account_create does (-EINVAL /
 * KURA_ETOOBIG) and joins the caller's transaction when there is one. */

/* Replaces the identity fields, status and roles of an existing account (created_at is kept;
 * updated_at is a->updated_at or now when 0). KURA_ENOTFOUND when the ID was never created.
 * The caller records the change with kura_meta_ledger_append in the same transaction. */
KURA_MUST_CHECK int kura_meta_account_update(struct kura_meta *m, const struct kura_account *a);
/* Streams every account (deleted ones too) in ID order; a non-zero return of fn stops it. */
KURA_MUST_CHECK int kura_meta_account_list(struct kura_meta *m, kura_account_fn fn, void *ctx);

/* The authentication state (all zeros when none was stored). KURA_ENOTFOUND: no such account. */
KURA_MUST_CHECK int kura_meta_auth_get(struct kura_meta *m, const char *id,
                                       struct kura_account_auth *ret);
/* Reserves one login attempt before the password is checked, atomically: counts it as a
 * failure (failed_logins + 1) unless the account is locked or threshold attempts are already
 * counted — then KURA_EFORBIDDEN and nothing changes. So N parallel guesses can never check more
 * than threshold passwords. A lock whose locked_until has passed at `now` is lifted first (and
 * the count restarts). *ret_failed: the count including this attempt. threshold 0: no limit. */
KURA_MUST_CHECK int kura_meta_auth_attempt(struct kura_meta *m, const char *id, uint32_t threshold,
                                           int64_t now, uint32_t *ret_failed);
/* The attempt failed: records last_failed_at and, when failed_logins has reached threshold and
 * the account is not locked yet, locks it (locked_until = now + lock_ms, or until an unlock when
 * lock_ms is 0) and sets *ret_locked_now — exactly one of any number of parallel callers. */
KURA_MUST_CHECK int kura_meta_auth_failed(struct kura_meta *m, const char *id, uint32_t threshold,
                                          int64_t now, int64_t lock_ms, bool *ret_locked_now);
/* The attempt succeeded: the count goes back to 0, last login time and address are kept. */
KURA_MUST_CHECK int kura_meta_auth_succeeded(struct kura_meta *m, const char *id, int64_t now,
                                             const char *ip);
/* Lifts a lock and clears the count (helpdesk, admin). */
KURA_MUST_CHECK int kura_meta_auth_unlock(struct kura_meta *m, const char *id);
/* Stores a sealed TOTP secret (len 0 removes it, and the recovery codes with it) and resets the
 * last used step. */
KURA_MUST_CHECK int kura_meta_auth_set_totp(struct kura_meta *m, const char *id,
                                            const uint8_t *sealed, size_t len, int64_t now);
/* Accepts TOTP step `step` once: KURA_EFORBIDDEN when a step >= it was accepted before (a
 * replay), atomically. */
KURA_MUST_CHECK int kura_meta_auth_use_totp_step(struct kura_meta *m, const char *id,
                                                 uint64_t step);
/* Replaces the account's recovery codes by n MACs (at most 32). */
KURA_MUST_CHECK int kura_meta_recovery_set(struct kura_meta *m, const char *id,
                                           const uint8_t (*macs)[KURA_META_MAC_BYTES], size_t n);
/* Uses the unused recovery code with this MAC: 0 once, KURA_ENOTFOUND afterwards or if none. */
KURA_MUST_CHECK int kura_meta_recovery_use(struct kura_meta *m, const char *id, const uint8_t *mac,
                                           int64_t now);
/* Keeps a previous password hash, then only the newest `keep` of them. */
KURA_MUST_CHECK int kura_meta_password_history_add(struct kura_meta *m, const char *id,
                                                   const char *hash, int64_t at, uint32_t keep);
/* Streams the kept hashes, newest first. */
KURA_MUST_CHECK int kura_meta_password_history_list(struct kura_meta *m, const char *id,
                                                    int (*fn)(void *ctx, const char *hash),
                                                    void *ctx);

/* Sessions. create: KURA_EEXIST on a duplicate id_hash; KURA_ENOTFOUND for an unknown account.
 * get: KURA_ENOTFOUND when absent (expiry is the caller's decision, from the times).
 * touch/elevate/delete: KURA_ENOTFOUND when absent. delete_account: every session of the account
 * except `except` (may be NULL). prune: deletes sessions idle since before idle_before or past
 * expires_at at now. */
KURA_MUST_CHECK int kura_meta_session_create(struct kura_meta *m, const struct kura_session *s);
KURA_MUST_CHECK int kura_meta_session_get(struct kura_meta *m, const uint8_t *id_hash,
                                          struct kura_session *ret);
KURA_MUST_CHECK int kura_meta_session_touch(struct kura_meta *m, const uint8_t *id_hash,
                                            int64_t now);
KURA_MUST_CHECK int kura_meta_session_elevate(struct kura_meta *m, const uint8_t *id_hash,
                                              int64_t until);
KURA_MUST_CHECK int kura_meta_session_delete(struct kura_meta *m, const uint8_t *id_hash);
KURA_MUST_CHECK int kura_meta_session_delete_account(struct kura_meta *m, const char *id,
                                                     const uint8_t *except, uint64_t *ret_deleted);
KURA_MUST_CHECK int kura_meta_session_list(struct kura_meta *m, const char *id, kura_session_fn fn,
                                           void *ctx);
KURA_MUST_CHECK int kura_meta_session_prune(struct kura_meta *m, int64_t idle_before, int64_t now,
                                            uint64_t *ret_deleted);

/* App passwords. create: name 1..128 bytes, unique per account among those in force
 * (KURA_EEXIST); find: by MAC, revoked ones too (the caller checks revoked_at and expires_at);
 * revoke: KURA_ENOTFOUND unless the account owns an app password with that id in force. */
KURA_MUST_CHECK int kura_meta_app_password_create(struct kura_meta *m,
                                                  const struct kura_app_password *p,
                                                  uint64_t *ret_id);
KURA_MUST_CHECK int kura_meta_app_password_find(struct kura_meta *m, const uint8_t *mac,
                                                struct kura_app_password *ret);
KURA_MUST_CHECK int kura_meta_app_password_touch(struct kura_meta *m, uint64_t id, int64_t now,
                                                 const char *ip);
KURA_MUST_CHECK int kura_meta_app_password_list(struct kura_meta *m, const char *id,
                                                kura_app_password_fn fn, void *ctx);
KURA_MUST_CHECK int kura_meta_app_password_revoke(struct kura_meta *m, const char *id,
                                                  uint64_t pw_id, int64_t now);

/* The account ledger: append (actor, target, action non-empty; before/after valid JSON objects
 * as text) and list in sequence order (target NULL: every account). */
KURA_MUST_CHECK int kura_meta_ledger_append(struct kura_meta *m, const struct kura_ledger_entry *e,
                                            uint64_t *ret_seq);
KURA_MUST_CHECK int kura_meta_ledger_list(struct kura_meta *m, const char *target,
                                          kura_ledger_fn fn, void *ctx);

/* Break-glass accounts. get: KURA_ENOTFOUND unless id is an emergency account. put: creates or
 * replaces the row (the account must exist: KURA_ENOTFOUND). Run both in the caller's
 * transaction for a read-modify-write (auth's two-approval rule). */
KURA_MUST_CHECK int kura_meta_break_glass_get(struct kura_meta *m, const char *id,
                                              struct kura_break_glass *ret);
KURA_MUST_CHECK int kura_meta_break_glass_put(struct kura_meta *m, const char *id,
                                              const struct kura_break_glass *b);

/* Lockout per account and source address ([password] lockout_scope = account+source): the
 * same contracts as kura_meta_auth_attempt / _failed, counted per (id, source); clear ends the
 * count and lock of one source, or of every source when source is NULL (an unlock). At most
 * KURA_META_SOURCES_MAX sources are kept per account; beyond that the least recently seen
 * unlocked one is forgotten first. */
#define KURA_META_SOURCES_MAX 256
KURA_MUST_CHECK int kura_meta_source_attempt(struct kura_meta *m, const char *id,
                                             const char *source, uint32_t threshold, int64_t now,
                                             uint32_t *ret_failed);
KURA_MUST_CHECK int kura_meta_source_failed(struct kura_meta *m, const char *id, const char *source,
                                            uint32_t threshold, int64_t now, int64_t lock_ms,
                                            bool *ret_locked_now);
KURA_MUST_CHECK int kura_meta_source_clear(struct kura_meta *m, const char *id, const char *source);

/* ---- the file store (see the types above) ------------------------------------------------- */
/* Common rules for every function below:
 *  - Ids are 1..INT64_MAX (-EINVAL otherwise: no row can have such an id). Sizes, quotas and
 *    counts fit in an int64_t (-EINVAL above INT64_MAX); times are ms >= 0 (-EINVAL).
 *  - Paths are checked before any backend sees them: at most KURA_META_PATH_MAX bytes and
 *    segments of at most KURA_META_NAME_MAX bytes (KURA_ETOOBIG), valid UTF-8 without control
 *    bytes, no leading or trailing '/', no empty, "." or ".." segment (-EINVAL). Whether a name
 *    is acceptable beyond that (NFC, forbidden characters) is the store area's rule
 *    (kura_path_normalize); meta only guarantees that no stored path can be ambiguous. "" is
 *    the root and is accepted only where a function says so.
 *  - Other text (actors, key and blob ids, lock tokens, property names) is checked like
 *    account IDs; XML fragments (property values, owner_xml) may contain tab, LF and CR, no
 *    other control byte.
 *  - "Live" means not in the trash. An id that names no node (or, where a live node is needed,
 *    a trashed one) is KURA_ENOTFOUND.
 *  - Listing functions call fn once per row, in the documented order, with the store locked
 *    (other threads wait): fn may read the store but must not change it (collect ids, act after
 *    the call returns). A non-zero return of fn stops the listing and is returned.
 *  - Etags are made by the backend: "<node id hex>-<change counter hex>" (without quotes), the
 *    counter being per database and persistent, so each refresh gives a value the node never
 *    had. "Fresh etags up the tree" means: on the node and on every ancestor up to the root, so
 *    that a folder's etag changes whenever anything beneath it changes (sync clients rely on
 *    it). Each function says which etags it refreshes; others refresh none.
 *  - Each function is atomic (one transaction, nested in the caller's when there is one). */

/* The personal space of an account, created (with its root folder) on first use with the given
 * quota (0: no limit); an existing space is returned as it is (quota is only the initial value).
 * KURA_ENOTFOUND: no such account. */
KURA_MUST_CHECK int kura_meta_space_personal(struct kura_meta *m, const char *account,
                                             uint64_t quota, int64_t now, struct kura_space *ret);
KURA_MUST_CHECK int kura_meta_space_get(struct kura_meta *m, uint64_t id, struct kura_space *ret);
/* Adds delta (may be negative) to used_bytes, in one conditional statement (atomic against
 * concurrent charges, other processes included). A positive delta that would take used_bytes
 * past a non-zero quota (or past INT64_MAX) changes nothing and returns KURA_EQUOTA; reaching the
 * quota exactly is fine. A negative delta larger than used_bytes clamps it at 0 rather than
 * failing: a purge must always be able to release its bytes, even after an accounting error.
 * KURA_ENOTFOUND: no such space. */
KURA_MUST_CHECK int kura_meta_space_charge(struct kura_meta *m, uint64_t id, int64_t delta);
/* Sets the quota (0: no limit; lowering it below used_bytes is allowed and only refuses further
 * positive charges). KURA_ENOTFOUND: no such space. */
KURA_MUST_CHECK int kura_meta_space_set_quota(struct kura_meta *m, uint64_t id, uint64_t quota);

/* Nodes. get: by id, live or trashed. lookup: the live node at path ("" the root).
 * KURA_ENOTFOUND when absent (an unknown space included). */
KURA_MUST_CHECK int kura_meta_node_get(struct kura_meta *m, uint64_t id, struct kura_node *ret);
KURA_MUST_CHECK int kura_meta_node_lookup(struct kura_meta *m, uint64_t space, const char *path,
                                          struct kura_node *ret);
/* The live children of a folder, ordered by name (bytewise); none for a trashed folder.
 * KURA_ENOTFOUND: no such node; -ENOTDIR: a file. Backends may read them in chunks and call fn
 * between reads without holding their lock (not one snapshot, unless the caller is inside a
 * transaction); each live name comes at most once, in order. */
KURA_MUST_CHECK int kura_meta_node_children(struct kura_meta *m, uint64_t folder, kura_node_fn fn,
                                            void *ctx);
/* Creates a live node from n (space, path, folder, mtime, created_at; the other fields are
 * ignored; path is not ""). KURA_ENOTFOUND: no such space; the parent is looked up from the
 * path and must be a live folder of the same space, else KURA_ECONFLICT; a live node at the
 * path: KURA_EEXIST. Sets a fresh etag on it and on every ancestor. */
KURA_MUST_CHECK int kura_meta_node_create(struct kura_meta *m, const struct kura_node *n,
                                          uint64_t *ret_id);
/* A live file's new current version (version, size, sha256, mtime): fresh etags up the tree.
 * -EISDIR: a folder; -EINVAL: version is not a version of this file, or its size or sha256
 * differ from the arguments. */
KURA_MUST_CHECK int kura_meta_node_set_content(struct kura_meta *m, uint64_t id, uint64_t version,
                                               uint64_t size, const uint8_t sha256[32],
                                               int64_t mtime);
/* Moves or renames a live node (and its live subtree: descendants' paths are rewritten) to
 * new_path in the same space: the new parent must be a live folder (KURA_ECONFLICT), new_path
 * free (KURA_EEXIST), and neither the node's own path nor inside the node itself (-EINVAL); a
 * descendant's path would pass KURA_META_PATH_MAX: KURA_ETOOBIG. The root cannot be moved
 * (-EINVAL). Fresh etags for the node and both sets of ancestors. */
KURA_MUST_CHECK int kura_meta_node_move(struct kura_meta *m, uint64_t id, const char *new_path);
/* Sets a live node's mtime (client-supplied) without touching any etag: it is called after the
 * change that already refreshed them (a PUT with X-OC-Mtime, a PROPPATCH). */
KURA_MUST_CHECK int kura_meta_node_set_mtime(struct kura_meta *m, uint64_t id, int64_t mtime);
/* Moves a live node and its live subtree into the trash (by: the actor, as in the ledger; at >
 * 0): it leaves the live tree (its path is free again; the trashed nodes keep their old paths
 * and get trashed_at / trashed_by); ancestors get fresh etags. The root cannot be trashed
 * (-EINVAL). restore: takes a trashed node (a top node of the trash, or one inside a trashed
 * folder) and its trashed subtree back into the live tree at new_path (descendants' paths
 * rewritten); errors as node_move, and KURA_ENOTFOUND unless id is in the trash. Fresh etags
 * for the node and its new ancestors. */
KURA_MUST_CHECK int kura_meta_node_trash(struct kura_meta *m, uint64_t id, const char *by,
                                         int64_t at);
KURA_MUST_CHECK int kura_meta_node_restore(struct kura_meta *m, uint64_t id, const char *new_path);
/* The top nodes of the trash (each trashed subtree once, not its descendants) of a space
 * (trash_list; nothing for an unknown space), or of every space trashed before `before`
 * (trash_expired), oldest first (trashed_at, then id). */
KURA_MUST_CHECK int kura_meta_trash_list(struct kura_meta *m, uint64_t space, kura_node_fn fn,
                                         void *ctx);
KURA_MUST_CHECK int kura_meta_trash_expired(struct kura_meta *m, int64_t before, kura_node_fn fn,
                                            void *ctx);
/* Every node of the subtree rooted at id (itself included, trashed or not: by parent links, so
 * a subtree trashed earlier inside it is included), deepest first (then by id, descending):
 * what a purge must destroy. KURA_ENOTFOUND: no such node. */
KURA_MUST_CHECK int kura_meta_node_subtree(struct kura_meta *m, uint64_t id, kura_node_fn fn,
                                           void *ctx);
/* Deletes a node row with its dead properties; its versions must be gone (KURA_ECONFLICT) and
 * it must have no children, live or trashed (KURA_ECONFLICT). The root cannot be removed
 * (-EINVAL). Removing a live node gives its ancestors fresh etags. */
KURA_MUST_CHECK int kura_meta_node_remove(struct kura_meta *m, uint64_t id);

/* Versions. add: v->node must be a file (KURA_ENOTFOUND, -EISDIR), live or trashed; header
 * 1..KURA_META_C4GH_HEADER_MAX bytes, blob, key_id and created_by non-empty; id and corrupt_at
 * are ignored. Returns the id, which is never reused. get: KURA_ENOTFOUND. list: the versions
 * of a node, newest (last added) first; KURA_ENOTFOUND: no such node. */
KURA_MUST_CHECK int kura_meta_version_add(struct kura_meta *m, const struct kura_version *v,
                                          uint64_t *ret_id);
KURA_MUST_CHECK int kura_meta_version_get(struct kura_meta *m, uint64_t id,
                                          struct kura_version *ret);
KURA_MUST_CHECK int kura_meta_version_list(struct kura_meta *m, uint64_t node, kura_version_fn fn,
                                           void *ctx);
/* Destroys a version's header (overwritten with zeros in place, then the row is deleted, with
 * secure_delete zeroing the freed space). The current version of a live file cannot be removed
 * (KURA_ECONFLICT); that of a trashed file can (a purge: version after version, then
 * node_remove), and the file is left without content (version 0, size 0, no sha256). The bytes
 * may survive in the write-ahead log until kura_meta_checkpoint. */
KURA_MUST_CHECK int kura_meta_version_remove(struct kura_meta *m, uint64_t id);
/* Key rotation: replaces the header of a version (same data key, new server key). */
KURA_MUST_CHECK int kura_meta_version_set_header(struct kura_meta *m, uint64_t id,
                                                 const uint8_t *header, size_t len,
                                                 const char *key_id);
/* Versions whose header is encrypted to key_id, by id, at most limit (>= 1) per call, with ids
 * greater than `after` (0: from the start). */
KURA_MUST_CHECK int kura_meta_versions_by_key(struct kura_meta *m, const char *key_id,
                                              uint64_t after, uint32_t limit, kura_version_fn fn,
                                              void *ctx);
/* Every version in id order (fsck), ids greater than `after`, at most limit (>= 1). */
KURA_MUST_CHECK int kura_meta_versions_all(struct kura_meta *m, uint64_t after, uint32_t limit,
                                           kura_version_fn fn, void *ctx);
/* Records that a version was found damaged at `at` (> 0); a second call keeps the first time. */
KURA_MUST_CHECK int kura_meta_version_flag_corrupt(struct kura_meta *m, uint64_t id, int64_t at);
/* Whether any version points at blob (for the blob store's garbage collection). */
KURA_MUST_CHECK int kura_meta_blob_referenced(struct kura_meta *m, const char *blob, bool *ret);

/* Dead properties of a node (live or trashed; KURA_ENOTFOUND: no such node). ns may be ""
 * (KURA_META_PROP_NS_MAX bytes), name 1..KURA_META_PROP_NAME_MAX bytes, value an XML fragment
 * of at most KURA_META_PROP_VALUE_MAX bytes. set replaces; remove of an absent property is 0.
 * get: KURA_ENOTFOUND when absent; *ret_value is kura_malloc'ed (kura_free it). list: by (ns,
 * name). At most 256 properties per node: setting a new one beyond that is KURA_ETOOBIG
 * (replacing one is fine). prop_copy makes to's properties exactly from's (to's own are
 * dropped first; from == to is a no-op); copying a node copies them this way. */
#define KURA_META_PROPS_MAX 256u
KURA_MUST_CHECK int kura_meta_prop_set(struct kura_meta *m, uint64_t node, const char *ns,
                                       const char *name, const char *value);
KURA_MUST_CHECK int kura_meta_prop_remove(struct kura_meta *m, uint64_t node, const char *ns,
                                          const char *name);
KURA_MUST_CHECK int kura_meta_prop_get(struct kura_meta *m, uint64_t node, const char *ns,
                                       const char *name, char **ret_value);
KURA_MUST_CHECK int kura_meta_prop_list(struct kura_meta *m, uint64_t node, kura_prop_fn fn,
                                        void *ctx);
KURA_MUST_CHECK int kura_meta_prop_copy(struct kura_meta *m, uint64_t from, uint64_t to);

/* WebDAV locks. A lock is expired when expires_at <= now; expired locks are ignored by get and
 * covering and deleted by prune. create: KURA_EEXIST when the token exists (expired or not);
 * KURA_ENOTFOUND for an unknown space or owner account; -EINVAL when expires_at < created_at;
 * the path may be "" (the root) and need not exist. The caller checks conflicts first
 * (lock_covering) inside one transaction. get: KURA_ENOTFOUND when absent or expired; release
 * *ret with kura_lock_release. covering: the unexpired locks of a space that cover path — on
 * path itself, on an ancestor with infinite depth (a depth-0 lock on an ancestor does not
 * cover) — and, when `descendants`, every lock on a path below it; ordered by path, then token.
 * refresh: new expiry, not before created_at (-EINVAL); KURA_ENOTFOUND when absent, expired
 * or not (check expiry with get first); remove: by
 * token (KURA_ENOTFOUND when absent). prune: deletes the expired; *ret_pruned may be NULL. */
KURA_MUST_CHECK int kura_meta_lock_create(struct kura_meta *m, const struct kura_lock *l);
KURA_MUST_CHECK int kura_meta_lock_get(struct kura_meta *m, const char *token, int64_t now,
                                       struct kura_lock *ret);
KURA_MUST_CHECK int kura_meta_lock_covering(struct kura_meta *m, uint64_t space, const char *path,
                                            bool descendants, int64_t now, kura_lock_fn fn,
                                            void *ctx);
KURA_MUST_CHECK int kura_meta_lock_refresh(struct kura_meta *m, const char *token,
                                           int64_t expires_at);
KURA_MUST_CHECK int kura_meta_lock_remove(struct kura_meta *m, const char *token);
KURA_MUST_CHECK int kura_meta_lock_prune(struct kura_meta *m, int64_t now, uint64_t *ret_pruned);

/* Moves what the write-ahead log holds into the main file and truncates the log (SQLite:
 * wal_checkpoint(TRUNCATE)), so that destroyed headers survive in no file; KURA_EBUSY when a
 * reader prevents it (retry), -EINVAL inside a transaction. */
KURA_MUST_CHECK int kura_meta_checkpoint(struct kura_meta *m);
/* The same without waiting for another process's reader or writer (KURA_EBUSY at once): for a
 * checkpoint made on the side, which must not stall this process's requests while, say, a long
 * `kura fsck` reads. This process's own reads and writes are still waited for (they are short). */
KURA_MUST_CHECK int kura_meta_checkpoint_try(struct kura_meta *m);
