/* dav — WebDAV (RFC 4918 class 1 and 2) for litmus, rclone, cadaver and the ownCloud/Nextcloud
 * sync clients (../shared/reference/owncloud-sync-protocol.md).
 *
 * Purpose: so far the pure parsing and formatting part of the area, with no dependency on the
 * store: request bodies (PROPFIND, PROPPATCH, LOCK) parsed with expat, the 207 Multi-Status
 * writer and the other XML bodies (LOCK answers, precondition errors), and the WebDAV and HTTP
 * request headers (Depth, Overwrite, Destination, Timeout, Lock-Token, If, Range, OC-Checksum,
 * Digest, If-Match, If-None-Match). The handlers (one per method) will be added below.
 *
 * Specifications: RFC 4918 (§9 methods, §10 headers, §14 XML elements, §16 preconditions, §4.3
 * dead property values), RFC 9110 (§8.8.3 entity tags, §13.1 conditional requests, §14 Range),
 * RFC 3986 (URIs, percent-encoding), RFC 3230 (Digest), Namespaces in XML 1.0, XML 1.0 §2.2.
 *
 * Invariants:
 *  - Every parser works on (ptr, len), never reads past len, and fails rather than clamps (the
 *    one exception is documented on kura_dav_parse_range and kura_dav_parse_timeout, where RFC
 *    4918 and RFC 9110 say how an oversized number is to be read).
 *  - Parsers allocate their results from the caller's request arena (nothing to free); their
 *    own temporary memory (expat's, capture buffers) is freed on every path. Outputs are written
 *    only on success. Slices marked "into v" point into the header value passed in.
 *  - XML element names are (namespace URI, local name) pairs: prefixes never matter, except that
 *    they are kept, as RFC 4918 §4.3 recommends, inside dead property values.
 *  - Writers append to a caller kura_buf, whose hard maximum and sticky error apply; a writer
 *    that validates its input returns an error and leaves the buffer as it was, so a handler can
 *    answer that one property differently and go on. The writers are stateless: the caller nests
 *    begin/end calls correctly, and may send and kura_buf_reset the buffer after any response
 *    (a long Depth 1 listing need not be held whole in memory).
 *
 * Security assumptions:
 *  - XML bodies are size-checked by the HTTP layer before they get here; this layer bounds
 *    everything else (depth, element count, names, values, property count). A DOCTYPE or any
 *    entity declaration stops the parser at once, and external entities are never loaded, so
 *    billion-laughs and XXE bodies fail fast with KURA_EXML. Bodies must be UTF-8 (an encoding
 *    declaration naming anything else, a UTF-16 BOM or invalid bytes are refused).
 *  - Destination (and If resource tags) are checked against the server's canonical origin
 *    (scheme, host, port; userinfo refused) and decoded exactly once with strict rules; "." and
 *    ".." segments and "//" are passed through decoded: the caller must put the result through
 *    the same path rules as a request target (kura_http_parse_target's) before using it.
 *  - Property values are kept as well-formed XML fragments with every namespace declared inside
 *    them, so a stored value can be returned verbatim in any document (the fuzzer checks the
 *    round trip). Hrefs are percent-encoded; text is escaped; what XML 1.0 cannot carry (NUL,
 *    control bytes, U+FFFE/U+FFFF, invalid UTF-8) is refused, not repaired.
 *  - Nothing here logs (docs/style.md item 31). Functions taking `struct kura_buf *reterr_why`
 *    (may be NULL) append a one-line, lower-case reason there on failure only.
 *
 * Errors: 0 / -errno (-ENOMEM) / KURA_E*: KURA_EXML malformed body or one of the wrong shape;
 * KURA_ETOOBIG a limit below was exceeded; KURA_EBADHDR malformed header; KURA_EBADPATH a
 * Destination path that breaks the decoding rules; KURA_EHOST a Destination on another origin
 * (RFC 4918 §9.8.5/§9.9.4 suggest 502); KURA_ERANGENS unsatisfiable range; KURA_EBUDGET the
 * request arena's budget was exhausted.
 *
 * Dependencies: base, expat (XML), libsodium (base64 of Digest).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "http/http.h" /* struct kura_route, for the routes only */

/* ==== limits ================================================================================ */

#define KURA_DAV_XML_DEPTH_MAX 32       /* element nesting in a request body */
#define KURA_DAV_XML_ELEMENTS_MAX 10000 /* elements in a request body */
#define KURA_DAV_PROPS_MAX 1000         /* property names or set/remove items in one body */
#define KURA_DAV_NAME_MAX 256           /* bytes of an element or attribute local name */
#define KURA_DAV_NS_MAX 1024            /* bytes of a namespace URI */
#define KURA_DAV_LANG_MAX 64            /* bytes of an xml:lang value */
#define KURA_DAV_VALUE_MAX (64 * 1024)  /* bytes of one serialized dead property value */
#define KURA_DAV_OWNER_MAX (4 * 1024)   /* bytes of a serialized lock owner */
#define KURA_DAV_VALUE_ATTRS_MAX 64     /* attributes on one element inside a value */
#define KURA_DAV_PATH_MAX 4096          /* bytes of a decoded Destination path */
#define KURA_DAV_TOKEN_MAX 256          /* bytes of a lock token or If state token URI */
#define KURA_DAV_ETAG_MAX 256           /* bytes of one entity-tag, quotes and W/ included */
#define KURA_DAV_IF_LISTS_MAX 32        /* lists in one If header */
#define KURA_DAV_IF_CONDS_MAX 64        /* conditions in one If header, all lists together */
#define KURA_DAV_ETAGS_MAX 32           /* entity-tags in If-Match / If-None-Match */
#define KURA_DAV_DIGESTS_MAX 4          /* distinct known algorithms in OC-Checksum / Digest */
#define KURA_DAV_DIGEST_ITEMS_MAX 16    /* items (known or not) in OC-Checksum / Digest */
#define KURA_DAV_DIGEST_BYTES_MAX 64    /* SHA-512 */

/* ==== names and namespaces ================================================================== */

#define KURA_DAV_NS_DAV "DAV:"
#define KURA_DAV_NS_OC "http://owncloud.org/ns"
#define KURA_DAV_NS_NC "http://nextcloud.org/ns"
#define KURA_DAV_NS_SABRE "http://sabredav.org/ns"

/* An XML element name. From the parsers both slices are NUL-terminated arena strings; ns is
 * empty for an element in no namespace. */
struct kura_dav_name {
    struct kura_str ns;
    struct kura_str local;
};

/* KURA_DAV_NAME_INIT for static initialisers, KURA_DAV_NAME as an expression. */
/* clang-format off */
#define KURA_DAV_NAME_INIT(ns_lit, local_lit)                                                      \
    {{"" ns_lit, sizeof(ns_lit) - 1}, {"" local_lit, sizeof(local_lit) - 1}}
/* clang-format on */
#define KURA_DAV_NAME(ns_lit, local_lit)                                                           \
    ((struct kura_dav_name)KURA_DAV_NAME_INIT(ns_lit, local_lit))

/* True when n is {ns}local. */
bool kura_dav_name_is(const struct kura_dav_name *n, const char *ns, const char *local);

/* ==== request bodies (xml.c) ================================================================ */

/* Common rules of the three body parsers:
 *  - body/len is the whole request body; the root element must be the one named (DAV:
 *    namespace), else KURA_EXML with the root's name in the reason;
 *  - unknown elements (RFC 4918 §17) and stray text between elements are ignored (owncloudcmd
 *    2.11 sends a text "M" after </d:prop>); comments and processing instructions are ignored;
 *  - refused with KURA_EXML: not well-formed XML, a DOCTYPE, an entity declaration or
 *    reference to an undefined entity, an encoding other than UTF-8 (or its subset US-ASCII), a
 *    UTF-16 BOM, invalid UTF-8, NUL bytes, a namespace URI holding a control character;
 *  - refused with KURA_ETOOBIG: more than KURA_DAV_XML_DEPTH_MAX levels,
 *    KURA_DAV_XML_ELEMENTS_MAX elements, KURA_DAV_PROPS_MAX properties, a name over
 *    KURA_DAV_NAME_MAX / KURA_DAV_NS_MAX bytes, a value over KURA_DAV_VALUE_MAX bytes;
 *  - results live in arena a (KURA_EBUDGET or -ENOMEM when it cannot hold them).
 * Repeated property names are kept, in document order. */

enum kura_dav_propfind_kind {
    KURA_DAV_PROPFIND_ALLPROP = 0, /* also an empty body (RFC 4918 §9.1) */
    KURA_DAV_PROPFIND_PROPNAME = 1,
    KURA_DAV_PROPFIND_PROP = 2,
};

struct kura_dav_propfind {
    enum kura_dav_propfind_kind kind;
    /* PROP: the properties asked for; ALLPROP: those of <include> (RFC 4918 §9.1, may be
     * none); PROPNAME: none. */
    const struct kura_dav_name *props;
    size_t n_props;
};

/* Parses a PROPFIND body: <propfind> with exactly one of <allprop/> (optionally followed by
 * <include>), <propname/> or <prop>. An empty body (len 0) is allprop. */
KURA_MUST_CHECK int kura_dav_parse_propfind(struct kura_arena *a, const char *body, size_t len,
                                            struct kura_dav_propfind *ret,
                                            struct kura_buf *reterr_why);

enum kura_dav_patch_op {
    KURA_DAV_PATCH_SET = 0,
    KURA_DAV_PATCH_REMOVE = 1,
};

/* One instruction of a PROPPATCH, in document order (RFC 4918 §9.2: applied in order, all or
 * none). */
struct kura_dav_patch {
    enum kura_dav_patch_op op;
    struct kura_dav_name name;
    /* SET only: the property element's content as a self-contained XML fragment (text escaped,
     * each child element carrying its own namespace declarations and original prefix), ready to
     * be stored as a dead property and emitted verbatim by kura_dav_prop_fragment. */
    struct kura_str value;
    /* SET only: the xml:lang in scope on the property element (RFC 4918 §4.3), or empty. */
    struct kura_str lang;
};

struct kura_dav_proppatch {
    const struct kura_dav_patch *ops;
    size_t n_ops; /* at least one */
};

/* Parses a PROPPATCH body: <propertyupdate> with one or more <set>/<remove>, each holding a
 * <prop>. A value over KURA_DAV_VALUE_MAX bytes (serialized) is KURA_ETOOBIG. */
KURA_MUST_CHECK int kura_dav_parse_proppatch(struct kura_arena *a, const char *body, size_t len,
                                             struct kura_dav_proppatch *ret,
                                             struct kura_buf *reterr_why);

enum kura_dav_lockscope {
    KURA_DAV_LOCK_EXCLUSIVE = 0,
    KURA_DAV_LOCK_SHARED = 1,
};

struct kura_dav_lockinfo {
    bool refresh; /* empty body: refresh the lock named in the If header (RFC 4918 §9.10.2) */
    enum kura_dav_lockscope scope;
    /* <owner>'s content as a fragment like kura_dav_patch.value (at most KURA_DAV_OWNER_MAX
     * bytes), empty when absent; kept to be returned in lockdiscovery. */
    struct kura_str owner;
};

/* Parses a LOCK body: empty (refresh), or <lockinfo> with exactly one <lockscope> holding
 * <exclusive/> or <shared/>, exactly one <locktype> holding <write/> (any other type is
 * KURA_EXML "unsupported lock type"), and at most one <owner>. */
KURA_MUST_CHECK int kura_dav_parse_lockinfo(struct kura_arena *a, const char *body, size_t len,
                                            struct kura_dav_lockinfo *ret,
                                            struct kura_buf *reterr_why);

/* ==== response bodies (xmlout.c) ============================================================ */

/* Content-Type of every XML body: byte-exact, as the ownCloud client tests it (reference §1.7). */
#define KURA_DAV_CONTENT_TYPE "application/xml; charset=utf-8"

/* "HTTP/1.1 404 Not Found" for the statuses WebDAV bodies use; "HTTP/1.1 500 Internal Server
 * Error" for one it does not know. Never NULL. */
const char *kura_dav_status_line(unsigned status);

/* Appends s escaped as XML text (&, <, >, " and CR as references) or, with attr, as an
 * attribute value (TAB and LF too, which attribute-value normalisation would turn into
 * spaces). No validation: for bytes already known to be valid XML characters (the parser's
 * own output, or after kura_dav_add_text's checks). */
void kura_dav_escape(struct kura_buf *out, const char *s, size_t len, bool attr);
/* Appends text with &, <, >, " and CR escaped. KURA_EUTF8 for invalid UTF-8, KURA_EXML for a
 * character XML 1.0 cannot carry (controls other than TAB/LF/CR, U+FFFE, U+FFFF); the buffer
 * is then unchanged. */
KURA_MUST_CHECK int kura_dav_add_text(struct kura_buf *out, const char *s, size_t len);

/* Appends <d:href>path</d:href>, the decoded path percent-encoded (all but RFC 3986 unreserved
 * characters and '/'). KURA_EBADPATH when path is empty, does not start with '/', holds a NUL or
 * is not UTF-8; the buffer is then unchanged. */
KURA_MUST_CHECK int kura_dav_add_href(struct kura_buf *out, const char *path, size_t len);

/* The multistatus document (RFC 4918 §13):
 *
 *   kura_dav_ms_begin(out);
 *   for each resource:
 *       kura_dav_response_begin(out, path, len);          // <d:response><d:href>
 *       kura_dav_propstat_begin(out);                     // <d:propstat><d:prop>
 *       kura_dav_prop_text(out, &getetag, "\"e1\"", 4);   // properties found ...
 *       kura_dav_propstat_end(out, 200);                  // </d:prop><d:status>...
 *       kura_dav_propstat_begin(out);                     // ... then a separate 404 group
 *       kura_dav_prop_empty(out, &downloadURL);           // (Sabre layout, reference §1.7)
 *       kura_dav_propstat_end(out, 404);
 *       kura_dav_response_end(out);                       // </d:response>
 *   kura_dav_ms_end(out);
 *
 * The root declares d: (DAV:), s: (sabredav), oc: (owncloud) and nc: (nextcloud); properties in
 * those namespaces use these prefixes, others declare their namespace on their own element. */
void kura_dav_ms_begin(struct kura_buf *out);
void kura_dav_ms_end(struct kura_buf *out);
/* Errors as kura_dav_add_href. */
KURA_MUST_CHECK int kura_dav_response_begin(struct kura_buf *out, const char *path, size_t len);
void kura_dav_response_end(struct kura_buf *out);
void kura_dav_propstat_begin(struct kura_buf *out);
/* 200, 403 (e.g. protected property), 404, 409, 424 (PROPPATCH: failed because another
 * instruction failed, RFC 4918 §9.2.1), 507, ... */
void kura_dav_propstat_end(struct kura_buf *out, unsigned status);

/* Properties, inside a propstat. Each validates name (a non-empty local name without markup or
 * separator characters, at most KURA_DAV_NAME_MAX bytes; a UTF-8 namespace without control
 * characters, at most KURA_DAV_NS_MAX bytes: KURA_EXML otherwise) and its value before writing
 * anything, and leaves the buffer unchanged on error. */

/* <p:name/>: for PROPFIND propname answers and 404/403/424 groups. */
KURA_MUST_CHECK int kura_dav_prop_empty(struct kura_buf *out, const struct kura_dav_name *name);
/* <p:name>escaped text</p:name>; errors of kura_dav_add_text too. */
KURA_MUST_CHECK int kura_dav_prop_text(struct kura_buf *out, const struct kura_dav_name *name,
                                       const char *text, size_t len);
/* <p:name xml:lang="lang">fragment</p:name> for a dead property: fragment and lang as
 * kura_dav_parse_proppatch returned them (lang may be empty). The fragment is emitted verbatim;
 * it must hold only characters XML can carry (else KURA_EUTF8/KURA_EXML). */
KURA_MUST_CHECK int kura_dav_prop_fragment(struct kura_buf *out, const struct kura_dav_name *name,
                                           struct kura_str lang, struct kura_str fragment);
/* <p:name> and </p:name>, for structured live values written in between (resourcetype,
 * oc:checksums, oc:share-types): the caller appends the inner elements itself. */
KURA_MUST_CHECK int kura_dav_prop_open(struct kura_buf *out, const struct kura_dav_name *name);
void kura_dav_prop_close(struct kura_buf *out, const struct kura_dav_name *name);

/* RFC 4918 §16 precondition and postcondition codes, for error bodies and responses. */
enum kura_dav_cond {
    KURA_DAV_COND_NONE = 0,
    KURA_DAV_COND_LOCK_TOKEN_MATCHES_REQUEST_URI,
    KURA_DAV_COND_LOCK_TOKEN_SUBMITTED, /* paths: the locked resources (at least one) */
    KURA_DAV_COND_NO_CONFLICTING_LOCK,  /* paths: the roots of conflicting locks (optional) */
    KURA_DAV_COND_NO_EXTERNAL_ENTITIES,
    KURA_DAV_COND_PRESERVED_LIVE_PROPERTIES,
    KURA_DAV_COND_PROPFIND_FINITE_DEPTH,
    KURA_DAV_COND_CANNOT_MODIFY_PROTECTED_PROPERTY,
};

/* A multistatus response without properties, for DELETE/COPY/MOVE/LOCK failures on members:
 * <d:response><d:href>path</d:href><d:status>...</d:status>[<d:error><cond/></d:error>]
 * </d:response>. Errors as kura_dav_add_href. */
KURA_MUST_CHECK int kura_dav_response_status(struct kura_buf *out, const char *path, size_t len,
                                             unsigned status, enum kura_dav_cond cond);

/* A whole error body: <?xml?><d:error xmlns:d="DAV:"><d:cond>[<d:href>...</d:href>...]
 * </d:cond></d:error>. paths are decoded paths (NULL when n_paths is 0), written as hrefs for
 * the two conditions that carry them and ignored for the others. Errors as kura_dav_add_href;
 * -EINVAL for KURA_DAV_COND_NONE. */
KURA_MUST_CHECK int kura_dav_error_body(struct kura_buf *out, enum kura_dav_cond cond,
                                        const struct kura_str *paths, size_t n_paths);

/* A Sabre-style error body, which the ownCloud/Nextcloud clients show to users and test
 * (reference §1.10, §1.13): <d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">
 * <s:exception>exception</s:exception><s:message>message</s:message></d:error>.
 * exception is e.g. "Sabre\\DAV\\Exception\\BadRequest". Errors of kura_dav_add_text. */
KURA_MUST_CHECK int kura_dav_sabre_error_body(struct kura_buf *out, const char *exception,
                                              const char *message);

/* The Depth header's values (hdr.c); also a lock's depth. */
enum kura_dav_depth {
    KURA_DAV_DEPTH_0 = 0,
    KURA_DAV_DEPTH_1 = 1,
    KURA_DAV_DEPTH_INFINITY = 2,
};

/* An active lock, as lockdiscovery reports it (RFC 4918 §14.1). */
struct kura_dav_activelock {
    enum kura_dav_lockscope scope;
    enum kura_dav_depth depth; /* 0 or infinity */
    struct kura_str owner;     /* fragment from kura_dav_parse_lockinfo; may be empty */
    uint32_t timeout_s;        /* seconds left, written "Second-N" */
    struct kura_str token;     /* the lock token URI, "urn:uuid:..." */
    struct kura_str root;      /* the lock root's decoded path */
};

/* The lockdiscovery property: <d:lockdiscovery> with one <d:activelock> per lock (none: an
 * empty element). KURA_EBADHDR for a token that is not printable ASCII without space, '<', '>'
 * or '"'; errors of kura_dav_add_href for root and of kura_dav_prop_fragment for owner. */
KURA_MUST_CHECK int kura_dav_prop_lockdiscovery(struct kura_buf *out,
                                                const struct kura_dav_activelock *locks,
                                                size_t n_locks);
/* The supportedlock property: exclusive and shared write locks. */
void kura_dav_prop_supportedlock(struct kura_buf *out);
/* The body of a successful LOCK answer (RFC 4918 §9.10.1): <?xml?><d:prop xmlns:d="DAV:">
 * lockdiscovery with the one lock</d:prop>. Errors as kura_dav_prop_lockdiscovery. */
KURA_MUST_CHECK int kura_dav_lock_body(struct kura_buf *out,
                                       const struct kura_dav_activelock *lock);

/* ==== request headers (hdr.c) =============================================================== */

/* Every header parser takes the field value as (v, len) and trims surrounding spaces and tabs.
 * Malformed values are KURA_EBADHDR; values over a limit are KURA_ETOOBIG. */

/* Depth: "0", "1" or "infinity" (case-insensitive), nothing else (RFC 4918 §10.2). When the
 * header is absent the caller applies the method's default. */
KURA_MUST_CHECK int kura_dav_parse_depth(const char *v, size_t len, enum kura_dav_depth *ret);

/* Overwrite: "T" or "F" (either case) → true / false (RFC 4918 §10.6). */
KURA_MUST_CHECK int kura_dav_parse_overwrite(const char *v, size_t len, bool *ret);

/* Destination (RFC 4918 §10.3), also the resource tags of If: either path-absolute, or an
 * absolute http(s) URI whose origin equals `origin` (e.g. "https://kura.example:8443"): scheme
 * and host compared case-insensitively, an absent port read as the scheme's default (80, 443).
 * Refused: userinfo (KURA_EBADHDR), another origin (KURA_EHOST), a query or fragment
 * (KURA_EBADHDR). The path is percent-decoded once, strictly (KURA_EBADPATH): a bad %-escape; an
 * encoded NUL, control byte, '/' or '\\'; a raw space, control byte, '\\' or '#'; invalid UTF-8
 * after decoding; more than KURA_DAV_PATH_MAX bytes. "." and ".." segments and empty segments
 * are NOT refused here: they come back decoded, and the caller must apply the request-target
 * path rules before using the path. *ret_path is a NUL-terminated arena string starting with
 * '/'; an empty path after the authority is "/". -EINVAL when origin itself is malformed. */
KURA_MUST_CHECK int kura_dav_parse_destination(struct kura_arena *a, const char *v, size_t len,
                                               const char *origin, const char **ret_path,
                                               size_t *ret_path_len);

/* Timeout: a comma list of "Second-N" and "Infinite" (case-insensitive, RFC 4918 §10.7). The
 * first item this parser understands wins and is capped to max_s; "Infinite" and numbers too
 * large to represent give max_s. Unknown items are skipped; none understood is KURA_EBADHDR. */
KURA_MUST_CHECK int kura_dav_parse_timeout(const char *v, size_t len, uint32_t max_s,
                                           uint32_t *ret_s);

/* Lock-Token: "<uri>" (RFC 4918 §10.5). *ret_token is the URI without brackets, into v: at
 * most KURA_DAV_TOKEN_MAX printable ASCII bytes without space, '<', '>' or '"'. */
KURA_MUST_CHECK int kura_dav_parse_lock_token(const char *v, size_t len,
                                              struct kura_str *ret_token);

/* If (RFC 4918 §10.4): one or more untagged lists, or one or more resource tags each followed
 * by one or more lists. Evaluation (the handler's): the header holds when any list applicable to
 * the resource holds; a list holds when every condition does; Not inverts one condition. */
struct kura_dav_if_cond {
    bool negate;           /* "Not" */
    bool etag;             /* value is an entity-tag ("[...]"), else a state token ("<...>") */
    struct kura_str value; /* state token URI without <>, or entity-tag with W/ and quotes
                            * (spaces allowed inside, as in RFC 4918's examples) */
};

struct kura_dav_if_list {
    struct kura_str tag; /* the resource tag without <> (parse with kura_dav_parse_destination),
                          * or empty for an untagged list; into v */
    const struct kura_dav_if_cond *conds;
    size_t n_conds; /* at least one */
};

struct kura_dav_if {
    bool tagged;
    const struct kura_dav_if_list *lists;
    size_t n_lists; /* at least one */
};

/* Parses an If header into arena a; slices point into v. At most KURA_DAV_IF_LISTS_MAX lists
 * and KURA_DAV_IF_CONDS_MAX conditions, state tokens of KURA_DAV_TOKEN_MAX bytes and tags of
 * 3 * KURA_DAV_PATH_MAX (still encoded) bytes (KURA_ETOOBIG). */
KURA_MUST_CHECK int kura_dav_parse_if(struct kura_arena *a, const char *v, size_t len,
                                      struct kura_dav_if *ret);

/* If-Match / If-None-Match (RFC 9110 §13.1.1-2): "*" or a comma list of entity-tags. */
struct kura_dav_etags {
    bool any;                    /* "*" */
    const struct kura_str *tags; /* each with W/ and quotes, into v */
    size_t n_tags;
};

KURA_MUST_CHECK int kura_dav_parse_etags(struct kura_arena *a, const char *v, size_t len,
                                         struct kura_dav_etags *ret);

/* Compares two entity-tags (with quotes): strong comparison (If-Match, RFC 9110 §8.8.3.2) when
 * weak is false — both must be strong and equal — else weak comparison (If-None-Match). */
bool kura_dav_etag_match(struct kura_str a, struct kura_str b, bool weak);

/* Range (RFC 9110 §14.2) for an entity of `size` bytes. */
enum kura_dav_range_kind {
    KURA_DAV_RANGE_WHOLE = 0, /* ignore the Range header: send the whole entity with 200 */
    KURA_DAV_RANGE_PART = 1,  /* send [first, last] with 206 */
};

struct kura_dav_range {
    enum kura_dav_range_kind kind;
    uint64_t first, last; /* inclusive; PART only */
};

/* Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" (unit case-insensitive). A last
 * position past the end (even one too large for 64 bits) is read as the end, a suffix longer
 * than the entity as all of it (RFC 9110 §14.1.2). KURA_ERANGENS when the range is well formed
 * but starts at or after size (or size is 0). WHOLE for what RFC 9110 lets a server ignore:
 * several ranges, another unit, or a malformed value. Never fails otherwise. */
KURA_MUST_CHECK int kura_dav_parse_range(const char *v, size_t len, uint64_t size,
                                         struct kura_dav_range *ret);

/* Appends a Content-Range value: "bytes first-last/size", or "bytes * /size" (without the
 * space) when r is NULL, for a 416 answer. */
void kura_dav_add_content_range(struct kura_buf *out, const struct kura_dav_range *r,
                                uint64_t size);

enum kura_dav_hash {
    KURA_DAV_HASH_MD5 = 1,
    KURA_DAV_HASH_SHA1 = 2,
    KURA_DAV_HASH_SHA256 = 3,
    KURA_DAV_HASH_SHA512 = 4,
};

struct kura_dav_digest {
    enum kura_dav_hash alg;
    size_t len; /* 16, 20, 32 or 64 */
    uint8_t bytes[KURA_DAV_DIGEST_BYTES_MAX];
};

/* The checksums a client sent, at most one per algorithm, in the order sent. n == 0 when it
 * named only algorithms kura does not know (ADLER32, SHA3-256, UNIXsum, ...). */
struct kura_dav_digests {
    size_t n;
    struct kura_dav_digest d[KURA_DAV_DIGESTS_MAX];
};

/* OC-Checksum: space-separated "ALG:hex" with ALG one of MD5, SHA1, SHA256, SHA512
 * (case-insensitive; others skipped). KURA_EBADHDR for a malformed item, hex of the wrong length
 * for its algorithm, or two different values for one algorithm; KURA_ETOOBIG for more than
 * KURA_DAV_DIGEST_ITEMS_MAX items. */
KURA_MUST_CHECK int kura_dav_parse_oc_checksum(const char *v, size_t len,
                                               struct kura_dav_digests *ret);

/* Digest (RFC 3230 §4.3.2): comma list of "alg=base64" with alg one of MD5, SHA (SHA-1),
 * SHA-256, SHA-512 (case-insensitive; others skipped); padded, canonical base64. Errors as
 * kura_dav_parse_oc_checksum. */
KURA_MUST_CHECK int kura_dav_parse_digest(const char *v, size_t len, struct kura_dav_digests *ret);

/* ==== the routes (serve.c) ================================================================== */

/* Every WebDAV method under /dav (kura_http_opts.app is a struct kura_api with a store). */
extern const struct kura_route kura_dav_routes[];
