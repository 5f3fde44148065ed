/* store — the one interface of kura's store area: the tree of files and folders in each space.
 *
 * Purpose: everything the dav, api and web layers need to name, find, create, move and delete
 * files and folders lives behind this header. Callers never touch the metadata backend or the
 * blob store for a file-tree operation directly. This first part holds the naming rules; the
 * rest of the store API follows in later sections.
 *
 * Invariants:
 *  - Every name that enters the store (a WebDAV path segment after percent-decoding, a name from
 *    the JSON API) passes through kura_name_normalize or kura_path_normalize first. What the
 *    store keeps, compares and returns is that normalized form, byte for byte: two names are
 *    the same name exactly when their normalized bytes are equal (case-sensitive, no folding).
 *  - Normalization is idempotent: normalizing an accepted name again gives the same bytes, so
 *    a name read back from the store can be handed in again.
 *  - Fallible functions return 0, -errno or KURA_E*; outputs (ret_*) are written only on success.
 *
 * Security assumptions: the bytes come from an attacker. The HTTP layer has already refused
 * encoded separators, "." and ".." segments and "//" in the URL (src/http/uri.c), but the store
 * does not rely on that: the API hands names in by other routes, and a second, independent check
 * costs little. No function here logs (docs/style.md item 31).
 *
 * Depends on base and utf8proc (NFC). No hand-made Unicode tables: the code points refused
 * below are a short, fixed policy list, so that a utf8proc upgrade cannot start refusing names
 * that are already stored.
 *
 * ---- Names --------------------------------------------------------------------------------
 *
 * A name is one path segment. kura_name_normalize refuses, with KURA_EBADNAME and a reason:
 *  - the empty name, "." and "..";
 *  - bytes that are not well-formed UTF-8 (RFC 3629 section 4: overlong forms such as
 *    "\xc0\xaf", UTF-16 surrogates, code points above U+10FFFF, truncated sequences, stray
 *    continuation bytes);
 *  - NUL, '/', and '\\' (a separator for Windows clients and in archives: "..\\x" in a name
 *    would be a traversal on extraction there);
 *  - control characters: C0 (U+0000-U+001F), DEL, C1 (U+0080-U+009F), and the line and
 *    paragraph separators U+2028/U+2029 (they break a listing into lines);
 *  - every character with the Unicode Bidi_Control property: U+061C, U+200E, U+200F,
 *    U+202A-U+202E, U+2066-U+2069. The overrides and isolates turn "txt.exe" into a name that
 *    reads "exe.txt"; the marks LRM/RLM/ALM are refused too, as they are invisible and carry no
 *    meaning a file name needs;
 *  - invisible formatting characters that let two names look identical in a listing: U+00AD
 *    (soft hyphen), U+180E, U+200B (zero width space), U+2060-U+2064, U+206A-U+206F, U+3164 and
 *    U+FFA0 (Hangul fillers that render as blanks; the conjoining fillers U+115F/U+1160 stay,
 *    as old-Hangul syllables are spelled with them), U+FEFF (BOM), U+FFF9-U+FFFB,
 *    U+1D173-U+1D17A, U+E0001;
 *  - Unicode noncharacters: U+FDD0-U+FDEF and U+nFFFE/U+nFFFF in every plane;
 *  - a name that begins or ends with white space (U+0020, U+00A0, U+1680, U+2000-U+200A,
 *    U+202F, U+205F, U+3000): Windows strips a trailing space, so "a.pdf " and "a.pdf" would
 *    collide there, and a leading or trailing blank is the cheapest way to fake a second
 *    "a.pdf" in a listing. Spaces inside a name are fine;
 *  - a name that ends with '.': Windows strips it ("a." and "a" collide, "report.pdf." opens
 *    as "report.pdf"). A leading dot (".gitignore") is fine;
 *  - a name whose normalized form is longer than KURA_NAME_MAX bytes (ext4's limit; counted
 *    after NFC, so an NFD name of up to three times that may still fit).
 * It then repairs exactly one thing: the name is put into Unicode NFC (utf8proc), because macOS
 * clients send NFD ("e" + U+0301, "か" + U+3099) for names other clients send in NFC. This also
 * maps CJK compatibility ideographs to their unified forms (U+FA19 -> U+795E), as macOS does.
 * NFC, not NFKC: full-width "Ａ", half-width "ｶ" and "①" stay themselves and stay distinct
 * from "A", "カ" and "1".
 *
 * Deliberately allowed: ordinary text in every script, emoji with their joiners (ZWJ U+200D,
 * ZWNJ U+200C, variation selectors, the tag characters of flag sequences), private-use
 * characters, U+FFFD, combining marks anywhere, unassigned code points (a newer client's emoji
 * must not be refused by an older server), and ':' '*' '?' '"' '<' '>' '|' (common in names on
 * Linux and macOS; Windows clients must cope, as with any POSIX server). Look-alikes from other
 * scripts (Cyrillic "а" for Latin "a") are not a naming question: listings show them as they
 * are. Caveat of allowing unassigned code points: NFC is only guaranteed stable across Unicode
 * versions for assigned characters, so the store compares the bytes it stored and never
 * re-normalizes names it already holds.
 *
 * Reasons: reterr_why receives a static, lower-case English sentence fragment such as
 * "name contains a control character", suitable for the message of a 400 response;
 * kura_name_why_lang gives the same reason in Japanese.
 *
 * Paths: a path is names joined by '/', relative to a space root (no leading '/'), as it
 * arrives after percent-decoding once the route prefix and its slash are stripped. The empty
 * path (and "/") is the space root itself. One trailing '/' is allowed and reported as a flag so
 * that a request for a collection can be told apart; any other empty segment ("a//b", a leading
 * "/", "a//") is refused. Every segment passes kura_name_normalize, so "..", "." and "a/../b"
 * are refused rather than resolved. Limits: KURA_PATH_MAX bytes before and after normalization
 * (a trailing '/' counts), KURA_PATH_DEPTH_MAX segments.
 */
#pragma once

#include "access/access.h"
#include "base/base.h"
#include "meta/meta.h"

/* ---- names --------------------------------------------------------------------------------- */

#define KURA_NAME_MAX 255       /* bytes of one normalized name (ext4 NAME_MAX) */
#define KURA_PATH_MAX 4096      /* bytes of a path, before and after normalization (PATH_MAX) */
#define KURA_PATH_DEPTH_MAX 128 /* segments in one path */

/* Validates the name in[0..len) (any bytes: NUL is refused, not a terminator) and writes its NFC
 * form to ret_name, NUL-terminated, with its length in *ret_len (1..KURA_NAME_MAX).
 * Errors: KURA_EBADNAME with *reterr_why set to a static English reason (reterr_why may be
 * NULL); -ENOMEM. ret_name, *ret_len and *reterr_why are written only on the matching outcome.
 * Inputs longer than KURA_PATH_MAX bytes are refused before normalizing (as too long). */
KURA_MUST_CHECK int kura_name_normalize(const char *in, size_t len,
                                        char ret_name[static KURA_NAME_MAX + 1], size_t *ret_len,
                                        const char **reterr_why) KURA_NONNULL(3, 4);

/* The reason why (a string from a reterr_why of this header) in lang; never NULL. An unknown
 * string is returned unchanged. */
const char *kura_name_why_lang(const char *why, enum kura_lang lang);

/* ---- paths --------------------------------------------------------------------------------- */

/* A normalized path. ptr and segs point into one block owned by the struct; release with
 * kura_path_release. */
struct kura_path {
    char *ptr;             /* segments joined by '/', NUL-terminated, no leading or trailing '/';
                            * "" for the space root */
    size_t len;            /* bytes of ptr */
    struct kura_str *segs; /* nseg slices into ptr, one per segment, without separators;
                            * NULL when nseg is 0 */
    size_t nseg;           /* 0 for the space root, at most KURA_PATH_DEPTH_MAX */
    bool trailing_slash;   /* the input ended with '/' (a collection was meant) */
};

#define KURA_PATH_INIT ((struct kura_path){NULL, 0, NULL, 0, false})

/* Validates and normalizes the path in[0..len) (see "Paths" above) into *ret, which the caller
 * then releases with kura_path_release. Errors: KURA_EBADNAME with *reterr_why set (reterr_why
 * may be NULL; for a bad segment it is that segment's reason); -ENOMEM. *ret is written only on
 * success. */
KURA_MUST_CHECK int kura_path_normalize(const char *in, size_t len, struct kura_path *ret,
                                        const char **reterr_why) KURA_NONNULL(3);

/* Frees the path's memory and resets it to KURA_PATH_INIT; accepts a released path. */
void kura_path_release(struct kura_path *p);

/* ---- files and folders (store.c, upload.c, download.c, tree.c) ----------------------------
 *
 * The only code that combines meta + blob + crypto, so crash-safety lives here: an upload is
 * encrypted while it streams into a blob writer (tmp/), the blob is committed (fsync, rename,
 * fsync dir) and only then the metadata transaction that makes it the file's content; a crash
 * in between leaves an unreferenced blob, which the collector removes. Every call decides
 * access first (access/access.h) and fails with KURA_EFORBIDDEN (reason in *ret_why of the
 * actor's audit) before touching anything. Paths are normalised by kura_path_normalize first. */

struct kura_blob;
struct kura_audit;

struct kura_store_opts {
    struct kura_meta *meta;   /* borrowed */
    struct kura_blob *blob;   /* borrowed */
    struct kura_audit *audit; /* damaged objects are recorded here; may be NULL; borrowed */
    const uint8_t *c4gh_sk;   /* 32 bytes: the server's X25519 key (headers); borrowed */
    const uint8_t *c4gh_pk;   /* 32 bytes */
    const char *key_id;       /* the key's id recorded with every header */
    uint32_t versions_keep;   /* older versions kept per file (0: none) */
    uint64_t default_quota;   /* bytes of a new personal space (0: no limit) */
};
struct kura_store;

KURA_MUST_CHECK int kura_store_new(const struct kura_store_opts *o, struct kura_store **ret);
struct kura_store *kura_store_free(struct kura_store *s);

/* A read snapshot for the calling thread's metadata lookups (kura_meta_snapshot): for a request
 * that only reads, on before its first lookup and off after its last. True when one is kept
 * whose reads never wait for another thread. */
bool kura_store_snapshot(struct kura_store *s, bool on);

/* Downloads keep the data key of an opened header for up to a minute (keycache.c); this wipes
 * the expired ones. The server calls it every few seconds. Returns how many keys stay cached. */
size_t kura_store_sweep(struct kura_store *s);

/* Versions dropped beyond versions_keep (after an upload or a restore) take their blob with
 * them, but the deleted header rows, each holding its file's data key, stay in the metadata
 * store's write-ahead log until a TRUNCATE checkpoint (a purge makes its own). When versions
 * were dropped since the last call, this runs that checkpoint, without waiting for another
 * process (kura_meta_checkpoint_try): 0 when nothing was pending or it succeeded; on failure
 * (KURA_EBUSY: another process reads or writes) it stays pending. The server calls it every
 * second or so. */
KURA_MUST_CHECK int kura_store_checkpoint_pruned(struct kura_store *s);

/* The space a request works in, resolved for an actor: their personal space (created on first
 * use). Errors: those of meta. */
KURA_MUST_CHECK int kura_store_home(struct kura_store *s, const struct kura_actor *a,
                                    struct kura_space *ret);

/* The live node at path in space, after access (read). KURA_ENOTFOUND, KURA_EFORBIDDEN. */
KURA_MUST_CHECK int kura_store_stat(struct kura_store *s, const struct kura_actor *a,
                                    const struct kura_space *sp, const char *path,
                                    struct kura_node *ret, const char **ret_why);
/* The children of a folder (read). */
KURA_MUST_CHECK int kura_store_list(struct kura_store *s, const struct kura_actor *a,
                                    const struct kura_space *sp, const struct kura_node *folder,
                                    kura_node_fn fn, void *ctx, const char **ret_why);
/* A new folder (write): KURA_EEXIST when something lives at path, KURA_ECONFLICT when the
 * parent is missing or a file. */
KURA_MUST_CHECK int kura_store_mkcol(struct kura_store *s, const struct kura_actor *a,
                                     const struct kura_space *sp, const char *path, int64_t now,
                                     struct kura_node *ret, const char **ret_why);
/* Moves a node and its subtree to the trash (write). */
KURA_MUST_CHECK int kura_store_delete(struct kura_store *s, const struct kura_actor *a,
                                      const struct kura_space *sp, const struct kura_node *n,
                                      int64_t now, const char **ret_why);

/* Uploads: begin checks access, the parent, preconditions and the quota for the announced size;
 * write encrypts as bytes arrive (no fsync: it runs on the connection's thread); commit (on a
 * worker thread: it fsyncs) checks the checksums and preconditions again and makes the content
 * current atomically, keeping versions_keep older versions. */
enum kura_digest_alg {
    KURA_DIGEST_NONE = 0,
    KURA_DIGEST_SHA256,
    KURA_DIGEST_SHA1,
    KURA_DIGEST_MD5
};
struct kura_put_opts {
    int64_t size;                /* announced plaintext size, or -1 (chunked) */
    const char *if_match;        /* an etag (unquoted) the current file must have, or "*" */
    bool if_none_match_any;      /* If-None-Match: * (create only) */
    int64_t mtime;               /* client's mtime (X-OC-Mtime), or 0 for now */
    enum kura_digest_alg digest; /* a checksum the client sent, to be verified */
    uint8_t digest_value[32];
};
struct kura_upload;
KURA_MUST_CHECK int kura_store_put_begin(struct kura_store *s, const struct kura_actor *a,
                                         const struct kura_space *sp, const char *path,
                                         const struct kura_put_opts *o, int64_t now,
                                         struct kura_upload **ret, const char **ret_why);
KURA_MUST_CHECK int kura_store_put_write(struct kura_upload *u, const void *data, size_t len);
/* *ret_created: a new file (201) rather than a new version (204). Frees u in every case. */
KURA_MUST_CHECK int kura_store_put_commit(struct kura_upload *u, int64_t now, struct kura_node *ret,
                                          bool *ret_created);
void kura_store_put_abort(struct kura_upload *u);

/* Downloads: the plaintext of a file's current version, or of [offset, offset + len). Every
 * segment is authenticated and its position checked; reading the whole file also checks size
 * and SHA-256. A failure (KURA_ECRYPTO, KURA_ECORRUPT) flags the version as corrupt in the
 * metadata; nothing unverified is ever returned. */
struct kura_download;
KURA_MUST_CHECK int kura_store_get_open(struct kura_store *s, const struct kura_actor *a,
                                        const struct kura_space *sp, const struct kura_node *n,
                                        uint64_t offset, uint64_t len, struct kura_download **ret,
                                        const char **ret_why);
/* Up to max bytes; 0 at the end. */
KURA_MUST_CHECK ssize_t kura_store_get_read(struct kura_download *d, void *buf, size_t max);
void kura_store_get_close(struct kura_download *d);

/* Dead properties (WebDAV) of a node of space sp (read): get (KURA_ENOTFOUND when absent;
 * *ret_value is kura_malloc'ed) and list. */
KURA_MUST_CHECK int kura_store_prop_get(struct kura_store *s, const struct kura_actor *a,
                                        const struct kura_space *sp, const struct kura_node *n,
                                        const char *ns, const char *name, char **ret_value);
KURA_MUST_CHECK int kura_store_prop_list(struct kura_store *s, const struct kura_actor *a,
                                         const struct kura_space *sp, const struct kura_node *n,
                                         kura_prop_fn fn, void *ctx);

/* Dead properties set and removed in order, all or nothing (RFC 4918 9.2). On failure
 * *ret_failed is the index of the instruction that failed. */
struct kura_store_prop_op {
    bool remove;
    const char *ns, *name, *value; /* value: the XML fragment (set only) */
};
KURA_MUST_CHECK int kura_store_props_apply(struct kura_store *s, const struct kura_actor *a,
                                           const struct kura_space *sp, const struct kura_node *n,
                                           const struct kura_store_prop_op *ops, size_t nops,
                                           size_t *ret_failed, const char **ret_why);

/* Move and copy within a space (write). dest is a normalised path; its parent must be a live
 * folder (KURA_ECONFLICT); an existing destination is trashed first when overwrite, else
 * KURA_EPRECOND (*ret_replaced says whether one was). The root, and moves or copies into
 * oneself, are refused (KURA_EFORBIDDEN). Copy: infinite copies a folder's subtree, else the
 * folder alone; files share their blob (immutable) with a header row of their own. All in one
 * transaction. */
KURA_MUST_CHECK int kura_store_move(struct kura_store *s, const struct kura_actor *a,
                                    const struct kura_space *sp, const struct kura_node *n,
                                    const char *dest, bool overwrite, int64_t now,
                                    struct kura_node *ret, bool *ret_replaced,
                                    const char **ret_why);
KURA_MUST_CHECK int kura_store_copy(struct kura_store *s, const struct kura_actor *a,
                                    const struct kura_space *sp, const struct kura_node *n,
                                    const char *dest, bool infinite, bool overwrite, int64_t now,
                                    struct kura_node *ret, bool *ret_replaced,
                                    const char **ret_why);

/* WebDAV locks. covering: the locks on path, on its ancestors with infinite depth and (with
 * descendants) below it (read). acquire: checks conflicts (an exclusive lock conflicts with any
 * other) and creates l in one transaction, filling l->token ("urn:uuid:…"), l->owner and
 * l->space; KURA_EDAVLOCKED on a conflict. refresh and remove: only the lock's owner
 * (KURA_EFORBIDDEN), KURA_ENOTFOUND for an unknown or expired token. */
KURA_MUST_CHECK int kura_store_lock_covering(struct kura_store *s, const struct kura_actor *a,
                                             const struct kura_space *sp, const char *path,
                                             bool descendants, int64_t now, kura_lock_fn fn,
                                             void *ctx);
KURA_MUST_CHECK int kura_store_lock_acquire(struct kura_store *s, const struct kura_actor *a,
                                            const struct kura_space *sp, struct kura_lock *l,
                                            const char **ret_why);
KURA_MUST_CHECK int kura_store_lock_get(struct kura_store *s, const char *token, int64_t now,
                                        struct kura_lock *ret);
KURA_MUST_CHECK int kura_store_lock_refresh(struct kura_store *s, const struct kura_actor *a,
                                            const char *token, int64_t now, int64_t expires_at);
KURA_MUST_CHECK int kura_store_lock_remove(struct kura_store *s, const struct kura_actor *a,
                                           const char *token, int64_t now);

/* ---- trash and versions (trash.c) ----------------------------------------------------------
 *
 * The trash holds what DELETE (and an overwriting MOVE or COPY) took out of the live tree, for
 * [store] trash_days; its bytes still count against the quota. Every call decides access first
 * (owner only, as the rest of the store) and works on nodes of the given space only: an id of
 * another space is KURA_ENOTFOUND, exactly like an unknown one. */

/* One top node of the trash: the node as it was trashed (its original path, trashed_at/by),
 * with the plaintext bytes and the files of its subtree's current versions. */
struct kura_trash_item {
    const struct kura_node *node; /* borrowed for the callback's duration */
    uint64_t size;                /* current versions' bytes (the file's own for a file) */
    uint64_t files;               /* files in it (1 for a file) */
};
typedef int (*kura_trash_fn)(void *ctx, const struct kura_trash_item *t);

/* The top nodes of the trash of space sp (read), oldest first. fn may not change the store. */
KURA_MUST_CHECK int kura_store_trash_list(struct kura_store *s, const struct kura_actor *a,
                                          const struct kura_space *sp, kura_trash_fn fn, void *ctx,
                                          const char **ret_why);
/* The most recently trashed top node whose original path is path (read): KURA_ENOTFOUND. */
KURA_MUST_CHECK int kura_store_trash_find(struct kura_store *s, const struct kura_actor *a,
                                          const struct kura_space *sp, const char *path,
                                          struct kura_node *ret, const char **ret_why);
/* Takes trashed node id (and its subtree) back into the live tree (write): at its original
 * path, or at to (a normalised path) when to is not NULL. KURA_EEXIST when a live node holds
 * that path (give another one), KURA_ECONFLICT when its parent is not a live folder. */
KURA_MUST_CHECK int kura_store_trash_restore(struct kura_store *s, const struct kura_actor *a,
                                             const struct kura_space *sp, uint64_t id,
                                             const char *to, struct kura_node *ret,
                                             const char **ret_why);

/* The versions of live file n (read), newest first; the current one is n->version. */
KURA_MUST_CHECK int kura_store_versions(struct kura_store *s, const struct kura_actor *a,
                                        const struct kura_space *sp, const struct kura_node *n,
                                        kura_version_fn fn, void *ctx, const char **ret_why);
/* Makes version id of a live file of sp its new current version (write): a new version row
 * sharing the old one's blob and data key (its header copied), charged to the quota
 * (KURA_EQUOTA), versions beyond versions_keep dropped as an upload drops them. Restoring the
 * current version changes nothing. KURA_ENOTFOUND: no such version in sp or its file is
 * trashed; KURA_ECORRUPT: the version was found damaged. *ret is the file afterwards. */
KURA_MUST_CHECK int kura_store_version_restore(struct kura_store *s, const struct kura_actor *a,
                                               const struct kura_space *sp, uint64_t id,
                                               int64_t now, struct kura_node *ret,
                                               const char **ret_why);

/* ---- purge: crypto-shredding with a signed deletion certificate (purge.c) -------------------
 *
 * A purge destroys a node and its subtree for good. Order:
 *  1. one metadata transaction: every version's Crypt4GH header (the only copy of its file key)
 *     is overwritten with zeros in place and its row deleted (secure_delete=ON zeroes the freed
 *     space), then the node rows; the space is credited with the versions' bytes;
 *  2. kura_meta_checkpoint (wal_checkpoint(TRUNCATE)), tried KURA_PURGE_CHECKPOINT_TRIES times:
 *     until then the old pages, header included, are still in the -wal file;
 *  3. each blob no remaining version refers to is unlinked. A blob shared with another file
 *     (WebDAV COPY, a restored version) stays: that file's own header row still opens it, and
 *     the certificate says "retained";
 *  4. the certificate is built, signed with the installation's Ed25519 key (keys/sign.key) and
 *     a copy kept in DATA/certificates/<certificate_id>.json (0600, written atomically).
 * When the checkpoint still fails after the tries, the deletion stands (the headers are
 * deleted from the database, blobs unlinked) but no certificate is issued: the call returns
 * KURA_EBUSY, because a certificate may only state what is true. The next checkpoint (any later
 * purge, or the daily trash purge) removes the bytes from the log.
 *
 * The certificate (every field always present; integers only, no reals):
 *   {"certificate":{"type":"kura-deletion-certificate","version":1,"certificate_id":UUID,
 *     "install_id","object_id":node id,"space":"personal:<owner>","path","kind":"file"|"folder",
 *     "size":current bytes,"sha256":hex of a file's current content (null for a folder or an
 *     empty file record),"versions","file_count","folder_count","blobs_removed",
 *     "blobs_retained","files":[{"path","size","sha256","versions","blob":"removed"|"retained"}]
 *     (at most KURA_PURGE_CERT_FILES listed; "files_truncated" says when more were purged),
 *     "files_truncated","trashed_at","trashed_by","deleted_at","deleted_by","method",
 *     "backups_may_hold_header_until"},
 *    "signature":base64 Ed25519 signature of the canonical certificate bytes,
 *    "public_key":base64 of the signing key}
 * Canonical bytes: keys sorted bytewise, no whitespace, strings as UTF-8 with only '"', '\\'
 * and control bytes escaped (jansson JSON_SORT_KEYS | JSON_COMPACT); for these documents this
 * is the RFC 8785 (JCS) form. Times are RFC 3339 UTC with milliseconds. */

#define KURA_PURGE_CHECKPOINT_TRIES 3       /* each waits up to meta's busy timeout */
#define KURA_PURGE_CERT_FILES 1000          /* files listed by name in one certificate */
#define KURA_PURGE_CERT_MAX (8u << 20)      /* bytes of a certificate document */
#define KURA_PURGE_CERT_ID_MAX 36           /* a UUID */
#define KURA_PURGE_INSTALL_ID_MAX 36        /* DATA/install-id */
#define KURA_PURGE_CERTS_DIR "certificates" /* in the data folder */

struct kura_sign_key;

/* How purges certify. */
struct kura_purge_opts {
    const struct kura_sign_key *sign_key; /* keys/sign.key; borrowed */
    char install_id[KURA_PURGE_INSTALL_ID_MAX + 1];
    uint32_t backup_retention_days; /* [store] backup_retention_days: backups made before the
                                     * purge may hold the header this long after it */
    int certs_dirfd;                /* DATA/certificates, for the copies; -1: keep none */
};

/* A signed certificate: doc is the document (one line of JSON, no newline), kura_malloc'ed. */
struct kura_purge_cert {
    char id[KURA_PURGE_CERT_ID_MAX + 1];
    char *doc;
    size_t len;
    int keep_err; /* 0, or why the copy in certificates/ could not be written (the certificate
                   * is valid all the same: the caller says so) */
};
/* Frees doc and zeroes c; accepts a zeroed one. */
void kura_purge_cert_release(struct kura_purge_cert *c);
/* A fresh certificate id (a random UUID), for callers that record the purge before making it. */
KURA_MUST_CHECK int kura_purge_cert_id_new(char ret[static KURA_PURGE_CERT_ID_MAX + 1]);

/* Purges node id of space sp and its subtree (write), as above, and signs its certificate
 * (*ret, release with kura_purge_cert_release). A live node is KURA_ENOTFOUND when
 * trashed_only, else trashed first, in the same transaction (by: the actor as the trash records
 * it, e.g. "user:alice"; it is also the certificate's deleted_by). cert_id: the certificate's id
 * (from kura_purge_cert_id_new, so that an audit record written before the purge can name it;
 * -EINVAL unless a lower-case UUID), or NULL for a fresh one. The root is refused
 * (KURA_EFORBIDDEN); KURA_ENOTFOUND for an id not in sp; KURA_EBUSY as above; errors of meta, blob
 * and crypto. */
KURA_MUST_CHECK int kura_store_purge(struct kura_store *s, const struct kura_actor *a,
                                     const struct kura_space *sp, uint64_t id, bool trashed_only,
                                     const char *by, const struct kura_purge_opts *o,
                                     const char *cert_id, int64_t now, struct kura_purge_cert *ret,
                                     const char **ret_why);

/* Called after each purge of kura_store_purge_expired: the top node as it was, the result and
 * (on success) the certificate, borrowed for the call. */
typedef void (*kura_purge_fn)(void *ctx, const struct kura_node *n, int r,
                              const struct kura_purge_cert *c);
/* The trash retention job: purges every top node of the trash of every space trashed before
 * `before`, as the system (deleted_by "system:trash-retention"; no actor, no access check),
 * one purge (and certificate) per node, oldest first, at most max (>= 1) of them. A failed
 * purge is reported to fn and the job goes on. *ret_purged (may be NULL) counts successes. */
KURA_MUST_CHECK int kura_store_purge_expired(struct kura_store *s, const struct kura_purge_opts *o,
                                             int64_t before, int64_t now, uint32_t max,
                                             kura_purge_fn fn, void *ctx, uint64_t *ret_purged);

/* Verifies a certificate document (what kura_store_purge made, or the same re-formatted: the
 * signature covers the canonical bytes of "certificate", rebuilt from the parsed document):
 * its shape (an object of exactly certificate, signature and public_key; the certificate's
 * type and version; no real numbers), then the signature. pk: the key it must be signed with
 * (keys/sign.pub); NULL trusts the document's own public_key, which proves integrity only.
 * Errors: KURA_ETOOBIG (over KURA_PURGE_CERT_MAX), KURA_ESYNTAX (not a certificate document;
 * *ret_why says what, a static string), KURA_ECRYPTO (signed by another key, or the signature
 * does not match: altered). On success ret_id (KURA_PURGE_CERT_ID_MAX + 1 bytes; may be NULL)
 * gets the certificate id. */
KURA_MUST_CHECK int kura_store_cert_verify(const char *doc, size_t len, const uint8_t *pk,
                                           char *ret_id, const char **ret_why);

/* ---- Crypt4GH server keys and their rotation (keys.c) -------------------------------------
 *
 * Every header is encrypted to a server key and names it (versions.key_id, kura_store_key_id
 * of its public key). The store holds the current key (uploads) and the retired ones (reads of
 * headers not re-encrypted yet, and of backups), all in read-only sodium_malloc memory behind a
 * read-write lock. keys/ layout: c4gh.sec + c4gh.pub (current), c4gh-retired/<16 hex>.sec
 * (retired: 0600, c4gh-v1, protected like c4gh.sec; mtime = when retired), c4gh.sec.next +
 * c4gh.pub.next only while a rotation installs a key. A header under a key id the store does
 * not hold: KURA_ECONFIG (a missing key is not damaged data; nothing is flagged). */

#define KURA_STORE_KEY_ID_SIZE 22             /* "c4gh:" + 16 hex + NUL */
#define KURA_STORE_RETIRED_DIR "c4gh-retired" /* in keys/ */
#define KURA_STORE_RETIRED_MAX 256            /* retired keys a store loads */
#define KURA_STORE_ROTATE_BATCH_MAX 4096      /* headers per rotation step */

/* "c4gh:" + the first 8 bytes of SHA-256(pk) in hex: the id recorded with every header. */
void kura_store_key_id(const uint8_t pk[32], char ret[static KURA_STORE_KEY_ID_SIZE]);

/* Lets the store read keys_dirfd (borrowed; the store keeps a duplicate) for the retired keys
 * and for reloads, with passphrase (NULL: key files in clear; copied to sodium_malloc memory)
 * for every key file, and loads them now. Without it a store knows only the key it was created
 * with. Errors: -EINVAL (attached already, bad passphrase), KURA_EKEYMODE (a key file or
 * c4gh-retired/ not ours or open to others), KURA_ECORRUPT (c4gh.pub does not match c4gh.sec,
 * a retired file holds another key than its name says), KURA_ETOOBIG (more than
 * KURA_STORE_RETIRED_MAX retired keys), those of kura_c4gh_read_private_key, -errno. */
KURA_MUST_CHECK int kura_store_keys_attach(struct kura_store *s, int keys_dirfd,
                                           const char *passphrase);
/* Reads keys/ again and switches to what it holds (a new current key after a rotation); on
 * failure the keys in use stay. The server calls it when `kura keys rotate` asks (admin socket
 * "store.keys.reload"); the store itself calls it, at most once a second, when it meets an
 * unknown key id. Errors: as kura_store_keys_attach; -EINVAL when not attached. */
KURA_MUST_CHECK int kura_store_keys_reload(struct kura_store *s);
/* The current key's id and (ret_pk may be NULL) public key. */
void kura_store_key_current(struct kura_store *s, char ret_id[static KURA_STORE_KEY_ID_SIZE],
                            uint8_t *ret_pk);

struct kura_store_key_info {
    char id[KURA_STORE_KEY_ID_SIZE];
    bool current;
    int64_t retired_at; /* wall ms; 0 for the current key */
    uint64_t headers;   /* headers encrypted to it (prune: 0 or 1, "any") */
    bool destroyed;     /* prune: destroyed now */
};
typedef int (*kura_store_key_fn)(void *ctx, const struct kura_store_key_info *k);
/* Every key held, the current one first, with its header count. */
KURA_MUST_CHECK int kura_store_keys_list(struct kura_store *s, kura_store_key_fn fn, void *ctx);

/* Rotation, step 1: finishes an install that an interruption left (the .next files renamed in
 * place; *ret_finished says whether there was one). Needs no store: run it before the keyring
 * is loaded, which refuses a c4gh.pub that does not match c4gh.sec. pending: whether one is
 * left. Errors: KURA_ECORRUPT (a c4gh.sec.next without c4gh.pub.next: not kura's), -errno. */
KURA_MUST_CHECK int kura_store_keys_install_pending(int keys_dirfd, bool *ret_finished);
bool kura_store_keys_pending(int keys_dirfd);
/* Rotation, step 2 (attached store): the current key is copied to c4gh-retired/, new_sk is
 * written as c4gh.sec.next/.pub.next and installed, every step fsynced, then the store reloads.
 * Errors: -EINVAL (not attached), -errno, those of the key writers and the reload. */
KURA_MUST_CHECK int kura_store_keys_install(struct kura_store *s, const uint8_t new_sk[32]);

/* Rotation, step 3: re-encrypts up to limit (1..KURA_STORE_ROTATE_BATCH_MAX) headers under
 * retired keys to the current key, in one metadata transaction (blobs untouched). st is the
 * cursor of one run (start from KURA_STORE_ROTATION_INIT); a header that does not open with its
 * key is flagged corrupt, counted in failed and left as it is. *ret_finished: this step found
 * nothing left (checked inside a write transaction: see keys.c). Safe to interrupt anywhere: a
 * new run starts again from the headers still under retired keys. Errors: -EINVAL, those of
 * meta (the step is rolled back, st unchanged). */
struct kura_store_rotation {
    char key[KURA_STORE_KEY_ID_SIZE]; /* the retired key being worked on ("" at the start) */
    uint64_t after;                   /* its last version id done (UINT64_MAX: all done) */
    uint64_t rewrapped, failed;       /* headers re-encrypted, headers that could not be */
};
#define KURA_STORE_ROTATION_INIT ((struct kura_store_rotation){"", 0, 0, 0})
KURA_MUST_CHECK int kura_store_keys_rotate_step(struct kura_store *s, uint32_t limit,
                                                struct kura_store_rotation *st, bool *ret_finished);

/* Destroys every retired key that no header names and that was retired at or before
 * retired_before_ms (the backups made before its retirement have expired): the file is
 * overwritten with zeros, fsynced and unlinked. fn (may be NULL) hears about each retired key,
 * destroyed or kept. Errors: -EINVAL (not attached), those of meta and the file system. */
KURA_MUST_CHECK int kura_store_keys_prune(struct kura_store *s, int64_t retired_before_ms,
                                          kura_store_key_fn fn, void *ctx);

/* ---- fsck (fsck.c) -------------------------------------------------------------------------
 *
 * Checks every version (its file exists; segment count fits the size; the header opens with the
 * key it names; the blob exists with exactly the segments' size; the whole stream decrypts with
 * every segment in its place, to the stored size and SHA-256), every file (its current version
 * exists, is its own and matches its size and SHA-256), every space (used_bytes is the sum of
 * its versions' sizes, trash included, in one snapshot) and every blob (some version refers to
 * it). Read-only but for flag_corrupt. Safe beside a running server (see fsck.c). */

enum kura_fsck_kind {
    KURA_FSCK_KEY_UNKNOWN = 0, /* the header names a key the store does not hold */
    KURA_FSCK_HEADER,          /* the header does not open with its key, or is malformed */
    KURA_FSCK_BLOB_MISSING,    /* the version's blob does not exist */
    KURA_FSCK_BLOB_SIZE,       /* the blob is not the size of the version's segments */
    KURA_FSCK_DATA,            /* a segment fails authentication or is misplaced; wrong size or
                                * SHA-256 */
    KURA_FSCK_VERSION,         /* a version row contradicts itself or names no file */
    KURA_FSCK_NODE,            /* a file contradicts its current version */
    KURA_FSCK_SPACE,           /* a space's used_bytes is not what its versions hold */
    KURA_FSCK_ORPHAN_BLOB,     /* warning: a blob no version refers to */
    KURA_FSCK_TEMP,            /* warning: a temporary upload file (counted by the caller) */
    KURA_FSCK__COUNT
};
/* "key_unknown", "header", "blob_missing", "blob_size", "data", "version", "node",
 * "space_usage", "orphan_blob", "temp_file". */
const char *kura_fsck_kind_name(enum kura_fsck_kind k);
/* Orphan blobs and temporary files: debris, not damage (an upload in flight looks the same). */
bool kura_fsck_kind_is_warning(enum kura_fsck_kind k);

struct kura_fsck_problem {
    enum kura_fsck_kind kind;
    uint64_t version, node, space; /* 0 when not applicable */
    const char *blob;              /* may be NULL */
    int err;                       /* the error met, or 0 */
    const char *detail;            /* static English text or a short formatted note */
};
struct kura_fsck_progress {
    uint64_t versions_done, versions_total; /* total: counted at the start */
    uint64_t bytes_done, bytes_total;       /* cipher bytes read / to read */
};
struct kura_fsck_opts {
    bool flag_corrupt; /* record damaged versions (kura_meta_version_flag_corrupt) */
    void (*problem)(void *ctx, const struct kura_fsck_problem *p);   /* may be NULL */
    void (*progress)(void *ctx, const struct kura_fsck_progress *p); /* may be NULL */
    void *ctx;
};
struct kura_fsck_report {
    uint64_t versions, bytes; /* versions checked, plaintext bytes verified */
    uint64_t shredded;        /* versions without a header (nothing to check) */
    uint64_t nodes, spaces;   /* nodes and spaces walked */
    uint64_t blobs, blob_bytes;
    uint64_t problems[KURA_FSCK__COUNT];
};
/* Runs every check; problems go to o->problem and are counted in *ret. Returns 0 when the check
 * ran to the end (whatever it found); errors that stop it: those of meta, blob I/O (-errno),
 * -ENOMEM. */
KURA_MUST_CHECK int kura_store_fsck(struct kura_store *s, const struct kura_fsck_opts *o,
                                    struct kura_fsck_report *ret);

/* ---- export (export.c) ---------------------------------------------------------------------
 *
 * For the local administrator's CLI (no actor and no access decision: whoever runs it holds the
 * keys anyway; the CLI records it in the audit log). Writes the current version of the file at
 * path in account's personal space to out_fd as a standard .c4gh file: a one-packet header for
 * recipient_pk (an ephemeral writer key), or for the server's current key when it is NULL, then
 * the segments as stored. Each segment is authenticated and position-checked before it is
 * written, and the end checks run before the last one is: on failure out_fd holds a prefix
 * (write to a temporary file) and a damaged version is flagged. Errors: KURA_EBADNAME (path),
 * KURA_ENOTFOUND (no such file, or no content), -EISDIR (a folder), KURA_ECONFIG (its key is
 * not held), KURA_ECRYPTO / KURA_ECORRUPT (damaged), those of meta and blob, -errno (out_fd). */
struct kura_store_export {
    uint64_t version;   /* the version exported */
    uint64_t size;      /* its plaintext bytes */
    uint8_t sha256[32]; /* its plaintext SHA-256 */
    uint64_t bytes;     /* bytes written */
};
KURA_MUST_CHECK int kura_store_export(struct kura_store *s, const char *account, const char *path,
                                      const uint8_t *recipient_pk, int out_fd,
                                      struct kura_store_export *ret);
