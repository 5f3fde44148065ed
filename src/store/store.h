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
