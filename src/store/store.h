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

#include "base/base.h"

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
