/* fuzz-dav-xml.c — libFuzzer harness for the WebDAV request bodies and the XML writer.
 *
 * The first byte picks the parser (0: PROPFIND, 1: PROPPATCH, 2: LOCK, modulo 3); the rest is
 * the body. Seeds: tests/fuzz/dav-xml/.
 *
 * Invariants checked (a violation traps): results are 0 or one of the documented codes; parsed
 * names are NUL-terminated and within their limits; and the round-trip oracle — every value a
 * PROPPATCH stored, written back by kura_dav_prop_fragment inside a multistatus, is
 * namespace-well-formed XML for expat, and parsing it again as a PROPPATCH gives the same name,
 * language and value byte for byte. Likewise a lock owner through kura_dav_lock_body.
 */
#include "dav/dav.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static bool kura_code(int r)
{
    return r == 0 || r == KURA_EXML || r == KURA_ETOOBIG || r == KURA_EBUDGET || r == -ENOMEM;
}

static void check_name(const struct kura_dav_name *n)
{
    check(n->local.len > 0 && n->local.len <= KURA_DAV_NAME_MAX);
    check(n->ns.len <= KURA_DAV_NS_MAX);
    check(n->local.ptr[n->local.len] == '\0' && n->ns.ptr[n->ns.len] == '\0');
}

static void check_well_formed(const struct kura_buf *b)
{
    XML_Parser p = XML_ParserCreateNS("UTF-8", '\n');
    check(p != NULL);
    check(XML_Parse(p, b->ptr, (int)b->len, XML_TRUE) == XML_STATUS_OK);
    XML_ParserFree(p);
}

/* Writes each SET value, checks the document, and parses the properties back. */
static void round_trip_patch(struct kura_arena *a, const struct kura_dav_proppatch *pp)
{
    struct kura_buf out = KURA_BUF_INIT(4 * 1024 * 1024);
    struct kura_buf again = KURA_BUF_INIT(4 * 1024 * 1024);
    kura_dav_ms_begin(&out);
    check(kura_dav_response_begin(&out, "/r", 2) == 0);
    kura_dav_propstat_begin(&out);
    size_t props_at = out.len, n_set = 0;
    for (size_t i = 0; i < pp->n_ops; i++) {
        const struct kura_dav_patch *op = &pp->ops[i];
        check_name(&op->name);
        if (op->op != KURA_DAV_PATCH_SET) {
            continue;
        }
        check(op->value.len <= KURA_DAV_VALUE_MAX && op->lang.len <= KURA_DAV_LANG_MAX);
        check(kura_dav_prop_fragment(&out, &op->name, op->lang, op->value) == 0);
        n_set++;
    }
    size_t props_end = out.len;
    kura_dav_propstat_end(&out, 200);
    kura_dav_response_end(&out);
    kura_dav_ms_end(&out);
    check(kura_buf_err(&out) == 0);
    check_well_formed(&out);
    if (n_set == 0) {
        goto done;
    }
    /* The properties use the prefixes the multistatus root declares. */
    kura_buf_adds(&again, "<d:propertyupdate xmlns:d=\"DAV:\" xmlns:s=\"" KURA_DAV_NS_SABRE
                          "\" xmlns:oc=\"" KURA_DAV_NS_OC "\" xmlns:nc=\"" KURA_DAV_NS_NC
                          "\"><d:set><d:prop>");
    kura_buf_add(&again, out.ptr + props_at, props_end - props_at);
    kura_buf_adds(&again, "</d:prop></d:set></d:propertyupdate>");
    check(kura_buf_err(&again) == 0);
    struct kura_dav_proppatch pp2;
    int r = kura_dav_parse_proppatch(a, again.ptr, again.len, &pp2, NULL);
    if (r == KURA_EBUDGET || r == -ENOMEM) {
        goto done;
    }
    check(r == 0 && pp2.n_ops == n_set);
    size_t k = 0;
    for (size_t i = 0; i < pp->n_ops; i++) {
        const struct kura_dav_patch *op = &pp->ops[i];
        if (op->op != KURA_DAV_PATCH_SET) {
            continue;
        }
        const struct kura_dav_patch *op2 = &pp2.ops[k++];
        check(kura_str_eq(op->name.ns, op2->name.ns) &&
              kura_str_eq(op->name.local, op2->name.local));
        check(kura_str_eq(op->lang, op2->lang));
        check(kura_str_eq(op->value, op2->value));
    }
done:
    kura_buf_release(&out);
    kura_buf_release(&again);
}

static void round_trip_owner(struct kura_arena *a, const struct kura_dav_lockinfo *li)
{
    struct kura_buf out = KURA_BUF_INIT(1024 * 1024);
    const struct kura_dav_activelock lock = {
        .scope = li->scope,
        .depth = KURA_DAV_DEPTH_INFINITY,
        .owner = li->owner,
        .timeout_s = 60,
        .token = KURA_STR("urn:uuid:00000000-0000-0000-0000-000000000000"),
        .root = KURA_STR("/"),
    };
    check(kura_dav_lock_body(&out, &lock) == 0);
    check(kura_buf_err(&out) == 0);
    check_well_formed(&out);
    if (li->owner.len) {
        struct kura_buf again = KURA_BUF_INIT(1024 * 1024);
        kura_buf_adds(&again, "<lockinfo xmlns=\"DAV:\"><lockscope><shared/></lockscope>"
                              "<locktype><write/></locktype><owner>");
        kura_buf_addstr(&again, li->owner);
        kura_buf_adds(&again, "</owner></lockinfo>");
        struct kura_dav_lockinfo li2;
        int r = kura_dav_parse_lockinfo(a, again.ptr, again.len, &li2, NULL);
        check(r == 0 || r == KURA_EBUDGET || r == -ENOMEM);
        if (r == 0) {
            check(kura_str_eq(li->owner, li2.owner));
        }
        kura_buf_release(&again);
    }
    kura_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    unsigned which = data[0] % 3;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct kura_arena *a = kura_arena_new(8 * 1024 * 1024);
    if (!a) {
        return 0;
    }
    struct kura_buf why = KURA_BUF_INIT(1024);
    int r;
    if (which == 0) {
        struct kura_dav_propfind pf;
        r = kura_dav_parse_propfind(a, body, len, &pf, &why);
        if (r == 0) {
            check(pf.kind <= KURA_DAV_PROPFIND_PROP && pf.n_props <= KURA_DAV_PROPS_MAX);
            check(pf.kind != KURA_DAV_PROPFIND_PROPNAME || pf.n_props == 0);
            for (size_t i = 0; i < pf.n_props; i++) {
                check_name(&pf.props[i]);
            }
        }
    } else if (which == 1) {
        struct kura_dav_proppatch pp;
        r = kura_dav_parse_proppatch(a, body, len, &pp, &why);
        if (r == 0) {
            check(pp.n_ops >= 1 && pp.n_ops <= KURA_DAV_PROPS_MAX);
            round_trip_patch(a, &pp);
        }
    } else {
        struct kura_dav_lockinfo li;
        r = kura_dav_parse_lockinfo(a, body, len, &li, &why);
        if (r == 0) {
            check(li.owner.len <= KURA_DAV_OWNER_MAX);
            check(li.refresh == (len == 0));
            round_trip_owner(a, &li);
        }
    }
    check(kura_code(r));
    /* A failure always says why (except allocation failures, which are not the input's). */
    check(r == 0 || r == KURA_EBUDGET || r == -ENOMEM || why.len > 0);
    kura_buf_release(&why);
    a = kura_arena_free(a);
    return 0;
}
