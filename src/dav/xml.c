/* xml.c — WebDAV request bodies (PROPFIND, PROPPATCH, LOCK) parsed with expat.
 *
 * expat runs with namespace processing and triplets: every element name arrives as
 * "uri\nlocal\nprefix" (prefix and uri omitted when absent). A namespace URI holding a line feed
 * (only possible through "&#10;") would make that ambiguous, so namespace declarations with any
 * control character are refused. The structure of each body is a small state machine over a
 * stack of contexts, one per open element; elements it does not know are skipped with their
 * subtree (RFC 4918 §17), text outside values is ignored.
 *
 * Dead property values and lock owners are captured as XML fragments (RFC 4918 §4.3): every
 * element is written with its original prefix and its own namespace declaration, namespaced
 * attributes declare their prefix on the element that uses them, text and attribute values are
 * re-escaped. The fragment is therefore well-formed on its own and means the same wherever it is
 * pasted; the fuzzer (fuzz-dav-xml.c) checks that writing and re-parsing it gives it back
 * byte for byte. What is lost: comments, processing instructions, CDATA boundaries, the
 * attributes of the property element other than xml:lang, and namespace declarations that only
 * QNames inside text or attribute values would need.
 *
 * Defence (docs/style.md item 28): the body is checked for NUL bytes and UTF-8 first; expat is
 * told the document is UTF-8 whatever it declares, and an encoding declaration naming anything
 * but UTF-8/US-ASCII stops the parse; the DOCTYPE handler stops the parse before any internal
 * subset is read (so no entity is ever declared, let alone expanded), parameter entity parsing is
 * off and no external entity handler is installed. Every handler returns at once once an error is
 * recorded, because expat may still deliver events queued before XML_StopParser. expat allocates
 * through kura_malloc so that fault-injection builds fail its allocations too.
 */
#include "dav/dav.h"

#include <expat.h>
#include <limits.h>
#include <string.h>

#define NS_SEP '\n'
#define XML_NS "http://www.w3.org/XML/1998/namespace"

enum doc { DOC_PROPFIND, DOC_PROPPATCH, DOC_LOCKINFO };

enum ctx {
    CTX_SKIP = 0, /* unknown element, or a marker whose content does not matter */
    CTX_PROPFIND,
    CTX_PROPFIND_PROP, /* children are property names */
    CTX_INCLUDE,       /* likewise */
    CTX_NAME,          /* a property name: content ignored */
    CTX_UPDATE,
    CTX_SET,
    CTX_REMOVE,
    CTX_SET_PROP,    /* children are properties with values */
    CTX_REMOVE_PROP, /* children are property names */
    CTX_VALUE,       /* a property being set: content captured */
    CTX_LOCKINFO,
    CTX_LOCKSCOPE,
    CTX_LOCKTYPE,
    CTX_OWNER,    /* content captured */
    CTX_CAPTURED, /* an element inside a captured value */
};

struct qname {
    struct kura_str ns, local, prefix;
};

struct frame {
    enum ctx ctx;
    struct kura_str lang; /* xml:lang in scope (arena), empty when none */
};

struct parser {
    XML_Parser xp;
    struct kura_arena *arena;
    struct kura_buf *why;
    enum doc doc;
    int err;
    unsigned depth, elements;
    struct frame stack[KURA_DAV_XML_DEPTH_MAX];
    struct kura_buf cap;          /* the value or owner being captured */
    struct kura_dav_patch *items; /* heap, grown; copied into the arena at the end */
    size_t n_items, cap_items;
    struct kura_str last_ns; /* the last namespace copied, reused for the next name */
    unsigned allprop, propname, prop, include;         /* PROPFIND */
    unsigned n_scope, n_scope_values, n_type, n_owner; /* LOCK */
    bool type_write, type_other;
    enum kura_dav_lockscope scope;
    struct kura_str owner;
};

bool kura_dav_name_is(const struct kura_dav_name *n, const char *ns, const char *local)
{
    return kura_str_eq_c(n->ns, ns) && kura_str_eq_c(n->local, local);
}

/* ---- errors ------------------------------------------------------------------------------- */

static void stop(struct parser *p, int r)
{
    if (!p->err) {
        p->err = r;
    }
    (void)XML_StopParser(p->xp, XML_FALSE);
}

/* Records the first error with "line L, column C: what['{ns}local']" as the reason. */
static void fail(struct parser *p, int r, const char *what, const struct qname *q)
{
    if (p->err) {
        return;
    }
    if (p->why) {
        kura_buf_addf(p->why, "line %lu, column %lu: %s",
                      (unsigned long)XML_GetCurrentLineNumber(p->xp),
                      (unsigned long)XML_GetCurrentColumnNumber(p->xp), what);
        if (q) {
            kura_buf_adds(p->why, " '{");
            kura_buf_add_escaped(p->why, q->ns.ptr, q->ns.len);
            kura_buf_addc(p->why, '}');
            kura_buf_add_escaped(p->why, q->local.ptr, q->local.len);
            kura_buf_addc(p->why, '\'');
        }
    }
    stop(p, r);
}

static void fail_alloc(struct parser *p)
{
    int r = kura_arena_err(p->arena);
    fail(p, r ? r : -ENOMEM, "out of memory", NULL);
}

/* ---- names -------------------------------------------------------------------------------- */

/* Splits expat's "uri\nlocal\nprefix" / "uri\nlocal" / "local". */
static void split_name(const char *name, struct qname *q)
{
    const char *sep = strchr(name, NS_SEP);
    if (!sep) {
        *q = (struct qname){KURA_STR(""), kura_str_c(name), KURA_STR("")};
        return;
    }
    q->ns = kura_str_make(name, (size_t)(sep - name));
    const char *local = sep + 1;
    sep = strchr(local, NS_SEP);
    if (!sep) {
        q->local = kura_str_c(local);
        q->prefix = KURA_STR("");
        return;
    }
    q->local = kura_str_make(local, (size_t)(sep - local));
    q->prefix = kura_str_c(sep + 1);
}

static bool is_dav(const struct qname *q, const char *local)
{
    return kura_str_eq_c(q->ns, KURA_DAV_NS_DAV) && kura_str_eq_c(q->local, local);
}

static bool name_fits(struct parser *p, const struct qname *q)
{
    if (q->local.len > KURA_DAV_NAME_MAX || q->prefix.len > KURA_DAV_NAME_MAX) {
        fail(p, KURA_ETOOBIG, "name longer than the limit", NULL);
        return false;
    }
    if (q->ns.len > KURA_DAV_NS_MAX) {
        fail(p, KURA_ETOOBIG, "namespace longer than the limit", NULL);
        return false;
    }
    return true;
}

/* Namespaces repeat: the well-known ones point to literals, others reuse the last copy. */
static bool intern_ns(struct parser *p, struct kura_str ns, struct kura_str *ret)
{
    static const char *const known[] = {"", KURA_DAV_NS_DAV, KURA_DAV_NS_OC, KURA_DAV_NS_NC};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(known); i++) {
        if (kura_str_eq_c(ns, known[i])) {
            *ret = kura_str_c(known[i]);
            return true;
        }
    }
    if (!kura_str_eq(ns, p->last_ns)) {
        char *copy = kura_arena_strndup(p->arena, ns.ptr, ns.len);
        if (!copy) {
            fail_alloc(p);
            return false;
        }
        p->last_ns = kura_str_make(copy, ns.len);
    }
    *ret = p->last_ns;
    return true;
}

/* Appends a property (name, operation, language) to the result list. */
static bool add_item(struct parser *p, enum kura_dav_patch_op op, const struct qname *q,
                     struct kura_str lang)
{
    if (p->n_items >= KURA_DAV_PROPS_MAX) {
        fail(p, KURA_ETOOBIG, "too many properties", NULL);
        return false;
    }
    if (p->n_items == p->cap_items) {
        size_t n = p->cap_items ? 2 * p->cap_items : 16;
        struct kura_dav_patch *items = kura_reallocarray(p->items, n, sizeof(*items));
        if (!items) {
            fail(p, -ENOMEM, "out of memory", NULL);
            return false;
        }
        p->items = items;
        p->cap_items = n;
    }
    struct kura_dav_patch *it = &p->items[p->n_items];
    *it = (struct kura_dav_patch){.op = op, .lang = lang, .value = KURA_STR("")};
    if (!intern_ns(p, q->ns, &it->name.ns)) {
        return false;
    }
    char *local = kura_arena_strndup(p->arena, q->local.ptr, q->local.len);
    if (!local) {
        fail_alloc(p);
        return false;
    }
    it->name.local = kura_str_make(local, q->local.len);
    p->n_items++;
    return true;
}

/* ---- capture of values -------------------------------------------------------------------- */

static void cap_check(struct parser *p)
{
    int r = kura_buf_err(&p->cap);
    if (r == KURA_ETOOBIG) {
        fail(p, r,
             p->doc == DOC_LOCKINFO ? "lock owner longer than the limit"
                                    : "property value longer than the limit",
             NULL);
    } else if (r < 0) {
        fail(p, r, "out of memory", NULL);
    }
}

/* Text content: &, <, > escaped; CR (which only "&#13;" can produce) kept as a reference. */
static void cap_text(struct kura_buf *b, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            continue;
        }
        kura_buf_add(b, s + start, i - start);
        kura_buf_adds(b, rep);
        start = i + 1;
    }
    kura_buf_add(b, s + start, len - start);
}

/* Attribute values: escaped as the writer escapes them (xmlout.c), TAB/LF/CR as references so
 * that attribute-value normalisation gives the same value back. */
static void cap_attr_value(struct kura_buf *b, struct kura_str v)
{
    kura_dav_escape(b, v.ptr, v.len, true);
}

static void cap_qname(struct kura_buf *b, const struct qname *q)
{
    if (q->prefix.len) {
        kura_buf_addstr(b, q->prefix);
        kura_buf_addc(b, ':');
    }
    kura_buf_addstr(b, q->local);
}

static void cap_xmlns(struct kura_buf *b, struct kura_str prefix, struct kura_str ns)
{
    kura_buf_adds(b, " xmlns");
    if (prefix.len) {
        kura_buf_addc(b, ':');
        kura_buf_addstr(b, prefix);
    }
    kura_buf_adds(b, "=\"");
    cap_attr_value(b, ns);
    kura_buf_addc(b, '"');
}

/* <prefix:local xmlns:prefix="ns" xmlns:a="..." a:attr="..." attr="...">: self-contained. An
 * element in no namespace says xmlns="" so that it stays there inside a default-namespace
 * parent. */
static void cap_start_tag(struct parser *p, const struct qname *q, const XML_Char **atts)
{
    struct kura_buf *b = &p->cap;
    struct kura_str declared[KURA_DAV_VALUE_ATTRS_MAX + 1];
    size_t n_declared = 0;

    kura_buf_addc(b, '<');
    cap_qname(b, q);
    cap_xmlns(b, q->prefix, q->ns);
    if (q->prefix.len) {
        declared[n_declared++] = q->prefix;
    }
    for (size_t i = 0; atts[i]; i += 2) {
        if (i / 2 >= KURA_DAV_VALUE_ATTRS_MAX) {
            fail(p, KURA_ETOOBIG, "too many attributes on one element", NULL);
            return;
        }
        struct qname aq;
        split_name(atts[i], &aq);
        if (!name_fits(p, &aq)) {
            return;
        }
        kura_buf_addc(b, ' ');
        if (kura_str_eq_c(aq.ns, XML_NS)) {
            kura_buf_adds(b, "xml:");
        } else if (aq.ns.len) {
            if (!aq.prefix.len) {
                /* expat always reports a prefix for a namespaced attribute; refuse rather than
                 * invent one. */
                fail(p, KURA_EXML, "namespaced attribute without a prefix", &aq);
                return;
            }
            bool seen = false;
            for (size_t k = 0; k < n_declared && !seen; k++) {
                seen = kura_str_eq(declared[k], aq.prefix);
            }
            if (!seen) {
                declared[n_declared++] = aq.prefix;
                kura_buf_adds(b, "xmlns:");
                kura_buf_addstr(b, aq.prefix);
                kura_buf_adds(b, "=\"");
                cap_attr_value(b, aq.ns);
                kura_buf_adds(b, "\" ");
            }
            kura_buf_addstr(b, aq.prefix);
            kura_buf_addc(b, ':');
        }
        kura_buf_addstr(b, aq.local);
        kura_buf_adds(b, "=\"");
        cap_attr_value(b, kura_str_c(atts[i + 1]));
        kura_buf_addc(b, '"');
    }
    kura_buf_addc(b, '>');
    cap_check(p);
}

/* Copies the captured fragment into the arena. */
static bool cap_take(struct parser *p, struct kura_str *ret)
{
    char *copy = kura_arena_strndup(p->arena, p->cap.ptr ? p->cap.ptr : "", p->cap.len);
    if (!copy) {
        fail_alloc(p);
        return false;
    }
    *ret = kura_str_make(copy, p->cap.len);
    kura_buf_reset(&p->cap);
    return true;
}

static void cap_begin(struct parser *p, size_t max)
{
    kura_buf_reset(&p->cap);
    p->cap.max = max;
}

/* ---- expat handlers ----------------------------------------------------------------------- */

/* The context a child element opens, given its parent's. */
static enum ctx child_ctx(struct parser *p, enum ctx parent, const struct qname *q,
                          struct kura_str lang)
{
    switch (parent) {
    case CTX_PROPFIND:
        if (is_dav(q, "allprop")) {
            p->allprop++;
        } else if (is_dav(q, "propname")) {
            p->propname++;
        } else if (is_dav(q, "prop")) {
            p->prop++;
            return CTX_PROPFIND_PROP;
        } else if (is_dav(q, "include")) {
            p->include++;
            return CTX_INCLUDE;
        }
        return CTX_SKIP;
    case CTX_PROPFIND_PROP:
    case CTX_INCLUDE:
    case CTX_REMOVE_PROP:
        (void)add_item(p, KURA_DAV_PATCH_REMOVE, q, KURA_STR(""));
        return CTX_NAME;
    case CTX_UPDATE:
        if (is_dav(q, "set")) {
            return CTX_SET;
        }
        return is_dav(q, "remove") ? CTX_REMOVE : CTX_SKIP;
    case CTX_SET:
        return is_dav(q, "prop") ? CTX_SET_PROP : CTX_SKIP;
    case CTX_REMOVE:
        return is_dav(q, "prop") ? CTX_REMOVE_PROP : CTX_SKIP;
    case CTX_SET_PROP:
        (void)add_item(p, KURA_DAV_PATCH_SET, q, lang);
        cap_begin(p, KURA_DAV_VALUE_MAX);
        return CTX_VALUE;
    case CTX_LOCKINFO:
        if (is_dav(q, "lockscope")) {
            p->n_scope++;
            return CTX_LOCKSCOPE;
        }
        if (is_dav(q, "locktype")) {
            p->n_type++;
            return CTX_LOCKTYPE;
        }
        if (is_dav(q, "owner")) {
            p->n_owner++;
            cap_begin(p, KURA_DAV_OWNER_MAX);
            return CTX_OWNER;
        }
        return CTX_SKIP;
    case CTX_LOCKSCOPE:
        if (is_dav(q, "exclusive") || is_dav(q, "shared")) {
            p->n_scope_values++;
            p->scope = is_dav(q, "shared") ? KURA_DAV_LOCK_SHARED : KURA_DAV_LOCK_EXCLUSIVE;
        }
        return CTX_SKIP;
    case CTX_LOCKTYPE:
        if (is_dav(q, "write")) {
            p->type_write = true;
        } else {
            p->type_other = true;
        }
        return CTX_SKIP;
    case CTX_VALUE:
    case CTX_OWNER:
    case CTX_CAPTURED:
        return CTX_CAPTURED;
    case CTX_SKIP:
    case CTX_NAME:
        return CTX_SKIP;
    }
    return CTX_SKIP;
}

static enum ctx root_ctx(struct parser *p, const struct qname *q)
{
    static const char *const roots[] = {[DOC_PROPFIND] = "propfind",
                                        [DOC_PROPPATCH] = "propertyupdate",
                                        [DOC_LOCKINFO] = "lockinfo"};
    static const enum ctx ctxs[] = {
        [DOC_PROPFIND] = CTX_PROPFIND, [DOC_PROPPATCH] = CTX_UPDATE, [DOC_LOCKINFO] = CTX_LOCKINFO};
    if (!is_dav(q, roots[p->doc])) {
        fail(p, KURA_EXML,
             p->doc == DOC_PROPFIND    ? "root element is not DAV:propfind:"
             : p->doc == DOC_PROPPATCH ? "root element is not DAV:propertyupdate:"
                                       : "root element is not DAV:lockinfo:",
             q);
        return CTX_SKIP;
    }
    return ctxs[p->doc];
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct parser *p = ud;
    if (p->err) {
        return;
    }
    if (p->depth >= KURA_DAV_XML_DEPTH_MAX) {
        fail(p, KURA_ETOOBIG, "elements nested too deep", NULL);
        return;
    }
    if (++p->elements > KURA_DAV_XML_ELEMENTS_MAX) {
        fail(p, KURA_ETOOBIG, "too many elements", NULL);
        return;
    }
    struct qname q;
    split_name(name, &q);
    if (!name_fits(p, &q)) {
        return;
    }
    const struct frame *parent = p->depth ? &p->stack[p->depth - 1] : NULL;
    struct frame f = {.ctx = CTX_SKIP, .lang = parent ? parent->lang : KURA_STR("")};
    bool captured = parent && (parent->ctx == CTX_VALUE || parent->ctx == CTX_OWNER ||
                               parent->ctx == CTX_CAPTURED);
    if (!captured) {
        /* xml:lang applies to what is below (RFC 4918 §4.3); inside a value it is simply one
         * more attribute to keep. */
        for (size_t i = 0; atts[i]; i += 2) {
            struct qname aq;
            split_name(atts[i], &aq);
            if (!kura_str_eq_c(aq.ns, XML_NS) || !kura_str_eq_c(aq.local, "lang")) {
                continue;
            }
            size_t n = strlen(atts[i + 1]);
            if (n > KURA_DAV_LANG_MAX) {
                fail(p, KURA_ETOOBIG, "xml:lang longer than the limit", NULL);
                return;
            }
            char *lang = kura_arena_strndup(p->arena, atts[i + 1], n);
            if (!lang) {
                fail_alloc(p);
                return;
            }
            f.lang = kura_str_make(lang, n);
        }
    }
    if (!parent) {
        f.ctx = root_ctx(p, &q);
    } else {
        f.ctx = child_ctx(p, parent->ctx, &q, f.lang);
        if (f.ctx == CTX_CAPTURED && !p->err) {
            cap_start_tag(p, &q, atts);
        }
    }
    if (p->err) {
        return;
    }
    p->stack[p->depth++] = f;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct parser *p = ud;
    if (p->err || p->depth == 0) {
        return;
    }
    const struct frame *f = &p->stack[--p->depth];
    if (f->ctx == CTX_CAPTURED) {
        struct qname q;
        split_name(name, &q);
        kura_buf_adds(&p->cap, "</");
        cap_qname(&p->cap, &q);
        kura_buf_addc(&p->cap, '>');
        cap_check(p);
    } else if (f->ctx == CTX_VALUE) {
        (void)cap_take(p, &p->items[p->n_items - 1].value);
    } else if (f->ctx == CTX_OWNER) {
        (void)cap_take(p, &p->owner);
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parser *p = ud;
    if (p->err || p->depth == 0 || len <= 0) {
        return;
    }
    enum ctx c = p->stack[p->depth - 1].ctx;
    if (c == CTX_VALUE || c == CTX_OWNER || c == CTX_CAPTURED) {
        cap_text(&p->cap, s, (size_t)len);
        cap_check(p);
    }
}

static void XMLCALL on_ns_decl(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    struct parser *p = ud;
    (void)prefix;
    if (p->err || !uri) {
        return;
    }
    size_t n = strlen(uri);
    if (n > KURA_DAV_NS_MAX) {
        fail(p, KURA_ETOOBIG, "namespace longer than the limit", NULL);
    } else if (kura_has_ctl(uri, n, false)) {
        fail(p, KURA_EXML, "namespace name holds a control character", NULL);
    }
}

static void XMLCALL on_xml_decl(void *ud, const XML_Char *version, const XML_Char *encoding,
                                int standalone)
{
    struct parser *p = ud;
    (void)standalone;
    if (p->err) {
        return;
    }
    if (version && strcmp(version, "1.0") != 0) {
        fail(p, KURA_EXML, "XML version other than 1.0", NULL);
        return;
    }
    if (encoding && strcasecmp(encoding, "UTF-8") != 0 && strcasecmp(encoding, "US-ASCII") != 0) {
        fail(p, KURA_EXML, "encoding other than UTF-8", NULL);
    }
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    fail(ud, KURA_EXML, "DOCTYPE not allowed", NULL);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    fail(ud, KURA_EXML, "entity declaration not allowed", NULL);
}

/* ---- driver ------------------------------------------------------------------------------- */

/* expat sometimes reports a failed allocation as another error (2.5 says "unbound prefix" when
 * a namespace binding cannot be allocated), so the allocator counts its failures: a parse that
 * failed after one of them is -ENOMEM, not the client's fault. */
static _Thread_local unsigned long xml_alloc_failures;

static void *xml_malloc(size_t size)
{
    void *p = kura_malloc(size);
    if (!p) {
        xml_alloc_failures++;
    }
    return p;
}

static void *xml_realloc(void *ptr, size_t size)
{
    void *p = kura_reallocarray(ptr, size, 1);
    if (!p) {
        xml_alloc_failures++;
    }
    return p;
}

static const XML_Memory_Handling_Suite xml_mem = {xml_malloc, xml_realloc, kura_free};

static void parser_release(struct parser *p)
{
    if (p->xp) {
        XML_ParserFree(p->xp);
    }
    kura_buf_release(&p->cap);
    kura_free(p->items);
}

static int parse(struct parser *p)
{
    const XML_Char sep[] = {NS_SEP, '\0'};
    p->xp = XML_ParserCreate_MM("UTF-8", &xml_mem, sep);
    if (!p->xp) {
        return -ENOMEM;
    }
    XML_SetReturnNSTriplet(p->xp, XML_TRUE);
    XML_SetUserData(p->xp, p);
    XML_SetElementHandler(p->xp, on_start, on_end);
    XML_SetCharacterDataHandler(p->xp, on_text);
    XML_SetStartNamespaceDeclHandler(p->xp, on_ns_decl);
    XML_SetXmlDeclHandler(p->xp, on_xml_decl);
    XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
    XML_SetEntityDeclHandler(p->xp, on_entity_decl);
    if (!XML_SetParamEntityParsing(p->xp, XML_PARAM_ENTITY_PARSING_NEVER)) {
        return KURA_EINTERNAL;
    }
    return 0;
}

static int run(struct parser *p, const char *body, size_t len)
{
    if (len > INT_MAX) {
        return KURA_ETOOBIG;
    }
    /* Checked up front so that the reason is clear and no encoding trick reaches expat. */
    if (memchr(body, '\0', len)) {
        if (p->why) {
            kura_buf_adds(p->why, "body contains a NUL byte");
        }
        return KURA_EXML;
    }
    if (!kura_utf8_valid(body, len)) {
        if (p->why) {
            kura_buf_adds(p->why, "body is not valid UTF-8");
        }
        return KURA_EXML;
    }
    int r = parse(p);
    if (r < 0) {
        return r;
    }
    unsigned long failures = xml_alloc_failures;
    if (XML_Parse(p->xp, body, (int)len, XML_TRUE) == XML_STATUS_OK && !p->err) {
        return 0;
    }
    enum XML_Error e = XML_GetErrorCode(p->xp);
    if (e == XML_ERROR_NO_MEMORY || xml_alloc_failures != failures) {
        return -ENOMEM;
    }
    if (p->err) {
        return p->err;
    }
    if (p->why) {
        kura_buf_addf(p->why, "line %lu, column %lu: %s",
                      (unsigned long)XML_GetCurrentLineNumber(p->xp),
                      (unsigned long)XML_GetCurrentColumnNumber(p->xp), XML_ErrorString(e));
    }
    return KURA_EXML;
}

static int bad_shape(struct kura_buf *why, const char *what)
{
    if (why) {
        kura_buf_adds(why, what);
    }
    return KURA_EXML;
}

int kura_dav_parse_propfind(struct kura_arena *a, const char *body, size_t len,
                            struct kura_dav_propfind *ret, struct kura_buf *reterr_why)
{
    if (len == 0) {
        *ret = (struct kura_dav_propfind){.kind = KURA_DAV_PROPFIND_ALLPROP};
        return 0;
    }
    struct parser p = {.arena = a, .why = reterr_why, .doc = DOC_PROPFIND};
    int r = run(&p, body, len);
    if (r < 0) {
        goto out;
    }
    if (p.allprop + p.propname + p.prop != 1) {
        r = bad_shape(reterr_why, "propfind needs exactly one of allprop, propname or prop");
        goto out;
    }
    if (p.include > 1 || (p.include && !p.allprop)) {
        r = bad_shape(reterr_why, "include is allowed once, after allprop");
        goto out;
    }
    struct kura_dav_name *names = NULL;
    if (p.n_items) {
        names = kura_arena_calloc(a, p.n_items, sizeof(*names));
        if (!names) {
            r = kura_arena_err(a);
            goto out;
        }
        for (size_t i = 0; i < p.n_items; i++) {
            names[i] = p.items[i].name;
        }
    }
    *ret = (struct kura_dav_propfind){
        .kind = p.allprop    ? KURA_DAV_PROPFIND_ALLPROP
                : p.propname ? KURA_DAV_PROPFIND_PROPNAME
                             : KURA_DAV_PROPFIND_PROP,
        .props = names,
        .n_props = p.n_items,
    };
out:
    parser_release(&p);
    return r;
}

int kura_dav_parse_proppatch(struct kura_arena *a, const char *body, size_t len,
                             struct kura_dav_proppatch *ret, struct kura_buf *reterr_why)
{
    struct parser p = {.arena = a, .why = reterr_why, .doc = DOC_PROPPATCH};
    int r = len ? run(&p, body, len) : bad_shape(reterr_why, "empty PROPPATCH body");
    if (r < 0) {
        goto out;
    }
    if (p.n_items == 0) {
        r = bad_shape(reterr_why, "propertyupdate names no property");
        goto out;
    }
    struct kura_dav_patch *ops = kura_arena_calloc(a, p.n_items, sizeof(*ops));
    if (!ops) {
        r = kura_arena_err(a);
        goto out;
    }
    memcpy(ops, p.items, p.n_items * sizeof(*ops));
    *ret = (struct kura_dav_proppatch){.ops = ops, .n_ops = p.n_items};
out:
    parser_release(&p);
    return r;
}

int kura_dav_parse_lockinfo(struct kura_arena *a, const char *body, size_t len,
                            struct kura_dav_lockinfo *ret, struct kura_buf *reterr_why)
{
    if (len == 0) {
        *ret = (struct kura_dav_lockinfo){.refresh = true, .owner = KURA_STR("")};
        return 0;
    }
    struct parser p = {.arena = a, .why = reterr_why, .doc = DOC_LOCKINFO};
    p.owner = KURA_STR("");
    int r = run(&p, body, len);
    if (r < 0) {
        goto out;
    }
    if (p.n_scope != 1 || p.n_scope_values != 1) {
        r = bad_shape(reterr_why, "lockinfo needs one lockscope holding exclusive or shared");
        goto out;
    }
    if (p.n_type != 1 || !p.type_write || p.type_other) {
        r = bad_shape(reterr_why, "unsupported lock type: only one locktype holding write");
        goto out;
    }
    if (p.n_owner > 1) {
        r = bad_shape(reterr_why, "lockinfo has more than one owner");
        goto out;
    }
    *ret = (struct kura_dav_lockinfo){.scope = p.scope, .owner = p.owner};
out:
    parser_release(&p);
    return r;
}
