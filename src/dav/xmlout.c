/* xmlout.c — the XML kura sends: 207 Multi-Status (RFC 4918 §13, §14.16), LOCK answers
 * (§9.10.1, §14.1), precondition errors (§16) and Sabre-style error bodies.
 *
 * Everything is appended to a caller kura_buf. Functions that take caller data validate all of
 * it before the first byte is written, so that a refused value leaves the buffer as it was.
 * Property names in the namespaces the root declares use its prefixes (the ownCloud client reads
 * "d:", "oc:" and "nc:" names by namespace, but Sabre's layout is what it was tested against);
 * any other namespace is declared on the property element itself with the prefix "x", which
 * shadows nothing a fragment relies on, because fragments declare every prefix they use.
 */
#include "dav/dav.h"

#include <string.h>

static const char MS_ROOT[] =
    "<d:multistatus xmlns:d=\"DAV:\" xmlns:s=\"" KURA_DAV_NS_SABRE "\" xmlns:oc=\"" KURA_DAV_NS_OC
    "\" xmlns:nc=\"" KURA_DAV_NS_NC "\">\n";
static const char XML_DECL[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

const char *kura_dav_status_line(unsigned status)
{
    switch (status) {
    case 200:
        return "HTTP/1.1 200 OK";
    case 201:
        return "HTTP/1.1 201 Created";
    case 204:
        return "HTTP/1.1 204 No Content";
    case 400:
        return "HTTP/1.1 400 Bad Request";
    case 401:
        return "HTTP/1.1 401 Unauthorized";
    case 403:
        return "HTTP/1.1 403 Forbidden";
    case 404:
        return "HTTP/1.1 404 Not Found";
    case 405:
        return "HTTP/1.1 405 Method Not Allowed";
    case 409:
        return "HTTP/1.1 409 Conflict";
    case 412:
        return "HTTP/1.1 412 Precondition Failed";
    case 413:
        return "HTTP/1.1 413 Content Too Large";
    case 415:
        return "HTTP/1.1 415 Unsupported Media Type";
    case 422:
        return "HTTP/1.1 422 Unprocessable Content";
    case 423:
        return "HTTP/1.1 423 Locked";
    case 424:
        return "HTTP/1.1 424 Failed Dependency";
    case 502:
        return "HTTP/1.1 502 Bad Gateway";
    case 503:
        return "HTTP/1.1 503 Service Unavailable";
    case 507:
        return "HTTP/1.1 507 Insufficient Storage";
    default:
        return "HTTP/1.1 500 Internal Server Error";
    }
}

/* ---- validation --------------------------------------------------------------------------- */

/* XML 1.0 §2.2 Char: TAB, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF. Given
 * valid UTF-8, surrogates cannot occur, so what remains to refuse is C0 controls and the two
 * non-characters U+FFFE (EF BF BE) and U+FFFF (EF BF BF). */
static int check_chars(const char *s, size_t len)
{
    if (!kura_utf8_valid(s, len)) {
        return KURA_EUTF8;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return KURA_EXML;
        }
        if (c == 0xef && len - i >= 3 && (unsigned char)s[i + 1] == 0xbf &&
            ((unsigned char)s[i + 2] == 0xbe || (unsigned char)s[i + 2] == 0xbf)) {
            return KURA_EXML;
        }
    }
    return 0;
}

static bool bad_name_byte(unsigned char c)
{
    switch (c) {
    case '<':
    case '>':
    case '&':
    case '"':
    case '\'':
    case '/':
    case ':':
    case '=':
    case ';':
    case '!':
    case '?':
        return true;
    default:
        return c <= 0x20 || c == 0x7f;
    }
}

/* A local name: no markup, quote, separator, space or control byte. Full NCName validation
 * would need Unicode tables; names reach here from expat (already valid) or from code. */
static int check_name(const struct kura_dav_name *n)
{
    if (n->local.len == 0 || n->local.len > KURA_DAV_NAME_MAX || n->ns.len > KURA_DAV_NS_MAX) {
        return KURA_EXML;
    }
    for (size_t i = 0; i < n->local.len; i++) {
        if (bad_name_byte((unsigned char)n->local.ptr[i])) {
            return KURA_EXML;
        }
    }
    if (n->local.ptr[0] == '-' || n->local.ptr[0] == '.' ||
        (n->local.ptr[0] >= '0' && n->local.ptr[0] <= '9')) {
        return KURA_EXML;
    }
    if (kura_has_ctl(n->ns.ptr, n->ns.len, false) || !kura_utf8_valid(n->ns.ptr, n->ns.len)) {
        return KURA_EXML;
    }
    return 0;
}

static int check_path(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/' || memchr(path, '\0', len) || !kura_utf8_valid(path, len)) {
        return KURA_EBADPATH;
    }
    return 0;
}

/* ---- escaping ----------------------------------------------------------------------------- */

/* Escapes text; in attribute values (attr) also TAB and LF, which attribute-value
 * normalisation would otherwise turn into spaces (XML 1.0 §3.3.3). */
void kura_dav_escape(struct kura_buf *out, const char *s, size_t len, bool attr)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '\t':
            if (!attr) {
                continue;
            }
            rep = "&#9;";
            break;
        case '\n':
            if (!attr) {
                continue;
            }
            rep = "&#10;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\r':
            rep = "&#13;"; /* a raw CR would be read back as LF (XML 1.0 §2.11) */
            break;
        default:
            continue;
        }
        kura_buf_add(out, s + start, i - start);
        kura_buf_adds(out, rep);
        start = i + 1;
    }
    kura_buf_add(out, s + start, len - start);
}

static void add_escaped(struct kura_buf *out, const char *s, size_t len)
{
    kura_dav_escape(out, s, len, false);
}

static void add_escaped_attr(struct kura_buf *out, const char *s, size_t len)
{
    kura_dav_escape(out, s, len, true);
}

int kura_dav_add_text(struct kura_buf *out, const char *s, size_t len)
{
    int r = check_chars(s, len);
    if (r < 0) {
        return r;
    }
    add_escaped(out, s, len);
    return 0;
}

/* RFC 3986 §2.3 unreserved characters and '/' stay; every other byte becomes %XX. */
static void add_pct(struct kura_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = 0; /* bytes kept as they are go out in runs */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
        if (!keep) {
            kura_buf_add(out, s + start, i - start);
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            kura_buf_add(out, esc, sizeof(esc));
            start = i + 1;
        }
    }
    kura_buf_add(out, s + start, len - start);
}

int kura_dav_add_href(struct kura_buf *out, const char *path, size_t len)
{
    int r = check_path(path, len);
    if (r < 0) {
        return r;
    }
    KURA_BUF_ADDL(out, "<d:href>");
    add_pct(out, path, len);
    KURA_BUF_ADDL(out, "</d:href>");
    return 0;
}

/* ---- element names ------------------------------------------------------------------------ */

static const char *known_prefix(struct kura_str ns)
{
    if (kura_str_eq_c(ns, KURA_DAV_NS_DAV)) {
        return "d";
    }
    if (kura_str_eq_c(ns, KURA_DAV_NS_OC)) {
        return "oc";
    }
    if (kura_str_eq_c(ns, KURA_DAV_NS_NC)) {
        return "nc";
    }
    if (kura_str_eq_c(ns, KURA_DAV_NS_SABRE)) {
        return "s";
    }
    return NULL;
}

static void add_qname(struct kura_buf *out, const struct kura_dav_name *n)
{
    const char *prefix = known_prefix(n->ns);
    if (prefix) {
        kura_buf_adds(out, prefix);
        kura_buf_addc(out, ':');
    } else if (n->ns.len) {
        KURA_BUF_ADDL(out, "x:");
    }
    kura_buf_addstr(out, n->local);
}

/* "<qname" plus the namespace declaration the name needs; the caller closes the tag. */
static void add_open(struct kura_buf *out, const struct kura_dav_name *n)
{
    kura_buf_addc(out, '<');
    add_qname(out, n);
    if (known_prefix(n->ns)) {
        return;
    }
    /* No prefix for no namespace: xmlns="" keeps it there even inside a default namespace. */
    kura_buf_adds(out, n->ns.len ? " xmlns:x=\"" : " xmlns=\"");
    add_escaped_attr(out, n->ns.ptr, n->ns.len);
    kura_buf_addc(out, '"');
}

static void add_close(struct kura_buf *out, const struct kura_dav_name *n)
{
    KURA_BUF_ADDL(out, "</");
    add_qname(out, n);
    kura_buf_addc(out, '>');
}

/* ---- multistatus -------------------------------------------------------------------------- */

void kura_dav_ms_begin(struct kura_buf *out)
{
    kura_buf_adds(out, XML_DECL);
    kura_buf_adds(out, MS_ROOT);
}

void kura_dav_ms_end(struct kura_buf *out)
{
    KURA_BUF_ADDL(out, "</d:multistatus>\n");
}

int kura_dav_response_begin(struct kura_buf *out, const char *path, size_t len)
{
    int r = check_path(path, len);
    if (r < 0) {
        return r;
    }
    KURA_BUF_ADDL(out, "<d:response>");
    return kura_dav_add_href(out, path, len);
}

void kura_dav_response_end(struct kura_buf *out)
{
    KURA_BUF_ADDL(out, "</d:response>\n");
}

void kura_dav_propstat_begin(struct kura_buf *out)
{
    KURA_BUF_ADDL(out, "<d:propstat><d:prop>");
}

void kura_dav_propstat_end(struct kura_buf *out, unsigned status)
{
    KURA_BUF_ADDL(out, "</d:prop><d:status>");
    kura_buf_adds(out, kura_dav_status_line(status));
    KURA_BUF_ADDL(out, "</d:status></d:propstat>");
}

int kura_dav_prop_empty(struct kura_buf *out, const struct kura_dav_name *name)
{
    int r = check_name(name);
    if (r < 0) {
        return r;
    }
    add_open(out, name);
    KURA_BUF_ADDL(out, "/>");
    return 0;
}

int kura_dav_prop_text(struct kura_buf *out, const struct kura_dav_name *name, const char *text,
                       size_t len)
{
    int r = check_name(name);
    if (r == 0) {
        r = check_chars(text, len);
    }
    if (r < 0) {
        return r;
    }
    add_open(out, name);
    kura_buf_addc(out, '>');
    add_escaped(out, text, len);
    add_close(out, name);
    return 0;
}

int kura_dav_prop_fragment(struct kura_buf *out, const struct kura_dav_name *name,
                           struct kura_str lang, struct kura_str fragment)
{
    int r = check_name(name);
    if (r == 0) {
        r = check_chars(fragment.ptr, fragment.len);
    }
    if (r == 0) {
        r = check_chars(lang.ptr, lang.len);
    }
    if (r < 0) {
        return r;
    }
    add_open(out, name);
    if (lang.len) {
        KURA_BUF_ADDL(out, " xml:lang=\"");
        add_escaped_attr(out, lang.ptr, lang.len);
        kura_buf_addc(out, '"');
    }
    kura_buf_addc(out, '>');
    kura_buf_addstr(out, fragment);
    add_close(out, name);
    return 0;
}

int kura_dav_prop_open(struct kura_buf *out, const struct kura_dav_name *name)
{
    int r = check_name(name);
    if (r < 0) {
        return r;
    }
    add_open(out, name);
    kura_buf_addc(out, '>');
    return 0;
}

void kura_dav_prop_close(struct kura_buf *out, const struct kura_dav_name *name)
{
    add_close(out, name);
}

/* ---- conditions and error bodies ---------------------------------------------------------- */

static const char *cond_name(enum kura_dav_cond cond)
{
    switch (cond) {
    case KURA_DAV_COND_LOCK_TOKEN_MATCHES_REQUEST_URI:
        return "lock-token-matches-request-uri";
    case KURA_DAV_COND_LOCK_TOKEN_SUBMITTED:
        return "lock-token-submitted";
    case KURA_DAV_COND_NO_CONFLICTING_LOCK:
        return "no-conflicting-lock";
    case KURA_DAV_COND_NO_EXTERNAL_ENTITIES:
        return "no-external-entities";
    case KURA_DAV_COND_PRESERVED_LIVE_PROPERTIES:
        return "preserved-live-properties";
    case KURA_DAV_COND_PROPFIND_FINITE_DEPTH:
        return "propfind-finite-depth";
    case KURA_DAV_COND_CANNOT_MODIFY_PROTECTED_PROPERTY:
        return "cannot-modify-protected-property";
    case KURA_DAV_COND_NONE:
        break;
    }
    return NULL;
}

static int check_paths(const struct kura_str *paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r = check_path(paths[i].ptr, paths[i].len);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* <d:error><d:cond>hrefs</d:cond></d:error>, paths already checked. */
static void add_error(struct kura_buf *out, const char *ns_decl, enum kura_dav_cond cond,
                      const struct kura_str *paths, size_t n_paths)
{
    const char *name = cond_name(cond);
    bool hrefs =
        cond == KURA_DAV_COND_LOCK_TOKEN_SUBMITTED || cond == KURA_DAV_COND_NO_CONFLICTING_LOCK;
    kura_buf_addf(out, "<d:error%s><d:%s", ns_decl, name);
    if (!hrefs || n_paths == 0) {
        KURA_BUF_ADDL(out, "/></d:error>");
        return;
    }
    kura_buf_addc(out, '>');
    for (size_t i = 0; i < n_paths; i++) {
        KURA_IGNORE(kura_dav_add_href(out, paths[i].ptr, paths[i].len)); /* checked */
    }
    kura_buf_addf(out, "</d:%s></d:error>", name);
}

int kura_dav_response_status(struct kura_buf *out, const char *path, size_t len, unsigned status,
                             enum kura_dav_cond cond)
{
    int r = check_path(path, len);
    if (r < 0) {
        return r;
    }
    KURA_BUF_ADDL(out, "<d:response>");
    KURA_IGNORE(kura_dav_add_href(out, path, len));
    KURA_BUF_ADDL(out, "<d:status>");
    kura_buf_adds(out, kura_dav_status_line(status));
    KURA_BUF_ADDL(out, "</d:status>");
    if (cond_name(cond)) {
        add_error(out, "", cond, NULL, 0);
    }
    KURA_BUF_ADDL(out, "</d:response>\n");
    return 0;
}

int kura_dav_error_body(struct kura_buf *out, enum kura_dav_cond cond, const struct kura_str *paths,
                        size_t n_paths)
{
    if (!cond_name(cond)) {
        return -EINVAL;
    }
    int r = check_paths(paths, n_paths);
    if (r < 0) {
        return r;
    }
    kura_buf_adds(out, XML_DECL);
    add_error(out, " xmlns:d=\"DAV:\"", cond, paths, n_paths);
    kura_buf_addc(out, '\n');
    return 0;
}

int kura_dav_sabre_error_body(struct kura_buf *out, const char *exception, const char *message)
{
    size_t elen = strlen(exception), mlen = strlen(message);
    int r = check_chars(exception, elen);
    if (r == 0) {
        r = check_chars(message, mlen);
    }
    if (r < 0) {
        return r;
    }
    kura_buf_adds(out, XML_DECL);
    kura_buf_adds(out, "<d:error xmlns:d=\"DAV:\" xmlns:s=\"" KURA_DAV_NS_SABRE "\">\n"
                       "  <s:exception>");
    add_escaped(out, exception, elen);
    KURA_BUF_ADDL(out, "</s:exception>\n  <s:message>");
    add_escaped(out, message, mlen);
    KURA_BUF_ADDL(out, "</s:message>\n</d:error>\n");
    return 0;
}

/* ---- locks -------------------------------------------------------------------------------- */

static int check_token(struct kura_str t)
{
    if (t.len == 0 || t.len > KURA_DAV_TOKEN_MAX) {
        return KURA_EBADHDR;
    }
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.ptr[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"') {
            return KURA_EBADHDR;
        }
    }
    return 0;
}

static int check_lock(const struct kura_dav_activelock *l)
{
    int r = check_token(l->token);
    if (r == 0) {
        r = check_path(l->root.ptr, l->root.len);
    }
    if (r == 0) {
        r = check_chars(l->owner.ptr, l->owner.len);
    }
    return r;
}

static void add_activelock(struct kura_buf *out, const struct kura_dav_activelock *l)
{
    KURA_BUF_ADDL(out, "<d:activelock><d:locktype><d:write/></d:locktype><d:lockscope>");
    kura_buf_adds(out, l->scope == KURA_DAV_LOCK_SHARED ? "<d:shared/>" : "<d:exclusive/>");
    KURA_BUF_ADDL(out, "</d:lockscope><d:depth>");
    kura_buf_adds(out, l->depth == KURA_DAV_DEPTH_0 ? "0" : "infinity");
    KURA_BUF_ADDL(out, "</d:depth>");
    if (l->owner.len) {
        KURA_BUF_ADDL(out, "<d:owner>");
        kura_buf_addstr(out, l->owner);
        KURA_BUF_ADDL(out, "</d:owner>");
    }
    kura_buf_addf(out, "<d:timeout>Second-%lu</d:timeout><d:locktoken><d:href>",
                  (unsigned long)l->timeout_s);
    kura_buf_addstr(out, l->token); /* checked: nothing to escape */
    KURA_BUF_ADDL(out, "</d:href></d:locktoken><d:lockroot>");
    KURA_IGNORE(kura_dav_add_href(out, l->root.ptr, l->root.len)); /* checked */
    KURA_BUF_ADDL(out, "</d:lockroot></d:activelock>");
}

int kura_dav_prop_lockdiscovery(struct kura_buf *out, const struct kura_dav_activelock *locks,
                                size_t n_locks)
{
    for (size_t i = 0; i < n_locks; i++) {
        int r = check_lock(&locks[i]);
        if (r < 0) {
            return r;
        }
    }
    if (n_locks == 0) {
        KURA_BUF_ADDL(out, "<d:lockdiscovery/>");
        return 0;
    }
    KURA_BUF_ADDL(out, "<d:lockdiscovery>");
    for (size_t i = 0; i < n_locks; i++) {
        add_activelock(out, &locks[i]);
    }
    KURA_BUF_ADDL(out, "</d:lockdiscovery>");
    return 0;
}

void kura_dav_prop_supportedlock(struct kura_buf *out)
{
    kura_buf_adds(out, "<d:supportedlock>"
                       "<d:lockentry><d:lockscope><d:exclusive/></d:lockscope>"
                       "<d:locktype><d:write/></d:locktype></d:lockentry>"
                       "<d:lockentry><d:lockscope><d:shared/></d:lockscope>"
                       "<d:locktype><d:write/></d:locktype></d:lockentry>"
                       "</d:supportedlock>");
}

int kura_dav_lock_body(struct kura_buf *out, const struct kura_dav_activelock *lock)
{
    int r = check_lock(lock);
    if (r < 0) {
        return r;
    }
    kura_buf_adds(out, XML_DECL);
    KURA_BUF_ADDL(out, "<d:prop xmlns:d=\"DAV:\">");
    KURA_IGNORE(kura_dav_prop_lockdiscovery(out, lock, 1)); /* checked */
    KURA_BUF_ADDL(out, "</d:prop>\n");
    return 0;
}
