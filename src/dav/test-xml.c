/* Unit tests for the WebDAV request bodies: what litmus, cadaver (neon), rclone and the
 * ownCloud/Nextcloud clients send, and hostile bodies (DTDs, entities, depth, size, encodings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dav/dav.h"

#define BUDGET (1024 * 1024)

static struct kura_arena *arena;
static struct kura_buf why;

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static int setup(void **state)
{
    (void)state;
    arena = kura_arena_new(BUDGET);
    why = KURA_BUF_INIT(1024);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    arena = kura_arena_free(arena);
    kura_buf_release(&why);
    return 0;
}

static int propfind(const char *body, struct kura_dav_propfind *ret)
{
    kura_buf_reset(&why);
    return kura_dav_parse_propfind(arena, body, strlen(body), ret, &why);
}

static int proppatch(const char *body, struct kura_dav_proppatch *ret)
{
    kura_buf_reset(&why);
    return kura_dav_parse_proppatch(arena, body, strlen(body), ret, &why);
}

static int lockinfo(const char *body, struct kura_dav_lockinfo *ret)
{
    kura_buf_reset(&why);
    return kura_dav_parse_lockinfo(arena, body, strlen(body), ret, &why);
}

static void assert_name(const struct kura_dav_name *n, const char *ns, const char *local)
{
    if (!kura_dav_name_is(n, ns, local)) {
        fail_msg("expected {%s}%s, got {%.*s}%.*s", ns, local, (int)n->ns.len, n->ns.ptr,
                 (int)n->local.len, n->local.ptr);
    }
    /* Parser results are NUL-terminated. */
    assert_int_equal(n->ns.ptr[n->ns.len], '\0');
    assert_int_equal(n->local.ptr[n->local.len], '\0');
}

static void assert_str(struct kura_str s, const char *want)
{
    if (!kura_str_eq_c(s, want)) {
        fail_msg("expected '%s', got '%.*s'", want, (int)s.len, s.ptr);
    }
}

/* ---- PROPFIND ----------------------------------------------------------------------------- */

static void test_propfind_owncloud(void **state)
{
    (void)state;
    /* owncloudcmd 2.11, verbatim (reference §1.6), with its stray "M" after </d:prop>. */
    const char *body =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><d:propfind xmlns:d=\"DAV:\"><d:prop>"
        "<d:resourcetype/><d:getlastmodified/>\n<d:getcontentlength/><d:getetag/>"
        "<id xmlns=\"http://owncloud.org/ns\"/><downloadURL xmlns=\"http://owncloud.org/ns\"/>\n"
        "<dDC xmlns=\"http://owncloud.org/ns\"/><permissions xmlns=\"http://owncloud.org/ns\"/>"
        "<checksums xmlns=\"http://owncloud.org/ns\"/>\n<data-fingerprint "
        "xmlns=\"http://owncloud.org/ns\"/><share-types xmlns=\"http://owncloud.org/ns\"/>"
        "</d:prop>M</d:propfind>";
    struct kura_dav_propfind pf;
    assert_int_equal(propfind(body, &pf), 0);
    assert_int_equal(pf.kind, KURA_DAV_PROPFIND_PROP);
    assert_int_equal(pf.n_props, 11);
    assert_name(&pf.props[0], "DAV:", "resourcetype");
    assert_name(&pf.props[3], "DAV:", "getetag");
    assert_name(&pf.props[4], KURA_DAV_NS_OC, "id");
    assert_name(&pf.props[10], KURA_DAV_NS_OC, "share-types");
}

static void test_propfind_clients(void **state)
{
    (void)state;
    struct kura_dav_propfind pf;
    /* nextcloudcmd 3.7.3: prefixes declared on the root. */
    assert_int_equal(propfind("<?xml version=\"1.0\"?>\n<d:propfind xmlns:d=\"DAV:\" "
                              "xmlns:oc=\"http://owncloud.org/ns\" "
                              "xmlns:nc=\"http://nextcloud.org/ns\"><d:prop><d:getetag/>"
                              "<oc:size/><oc:fileid/><nc:is-encrypted/></d:prop></d:propfind>",
                              &pf),
                     0);
    assert_int_equal(pf.n_props, 4);
    assert_name(&pf.props[1], KURA_DAV_NS_OC, "size");
    assert_name(&pf.props[3], KURA_DAV_NS_NC, "is-encrypted");
    /* rclone (vendor=owncloud). */
    assert_int_equal(propfind("<?xml version=\"1.0\"?>\n<d:propfind  xmlns:d=\"DAV:\" "
                              "xmlns:oc=\"http://owncloud.org/ns\" "
                              "xmlns:nc=\"http://nextcloud.org/ns\">\n <d:prop>\n  "
                              "<d:displayname />\n  <d:getlastmodified />\n  "
                              "<d:getcontentlength />\n  <d:resourcetype />\n  "
                              "<d:getcontenttype />\n  <oc:checksums />\n </d:prop>\n"
                              "</d:propfind>\n",
                              &pf),
                     0);
    assert_int_equal(pf.n_props, 6);
    assert_name(&pf.props[5], KURA_DAV_NS_OC, "checksums");
    /* cadaver (neon): default namespace, one property per line. */
    assert_int_equal(propfind("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                              "<propfind xmlns=\"DAV:\"><prop>\n"
                              "<getcontentlength xmlns=\"DAV:\"/>\n"
                              "<getlastmodified xmlns=\"DAV:\"/>\n"
                              "<executable xmlns=\"http://apache.org/dav/props/\"/>\n"
                              "<resourcetype xmlns=\"DAV:\"/>\n</prop></propfind>\n",
                              &pf),
                     0);
    assert_int_equal(pf.n_props, 4);
    assert_name(&pf.props[2], "http://apache.org/dav/props/", "executable");
    /* litmus propfind with a property in no namespace. */
    assert_int_equal(propfind("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                              "<propfind xmlns=\"DAV:\"><prop><nonamespace xmlns=\"\"/></prop>"
                              "</propfind>",
                              &pf),
                     0);
    assert_int_equal(pf.n_props, 1);
    assert_name(&pf.props[0], "", "nonamespace");
}

static void test_propfind_kinds(void **state)
{
    (void)state;
    struct kura_dav_propfind pf;
    assert_int_equal(kura_dav_parse_propfind(arena, "", 0, &pf, NULL), 0);
    assert_int_equal(pf.kind, KURA_DAV_PROPFIND_ALLPROP);
    assert_int_equal(pf.n_props, 0);
    assert_int_equal(propfind("<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>", &pf), 0);
    assert_int_equal(pf.kind, KURA_DAV_PROPFIND_ALLPROP);
    assert_int_equal(pf.n_props, 0);
    assert_int_equal(propfind("<D:propfind xmlns:D=\"DAV:\"><D:propname/></D:propfind>", &pf), 0);
    assert_int_equal(pf.kind, KURA_DAV_PROPFIND_PROPNAME);
    /* RFC 4918 §9.1.6: allprop with include. */
    assert_int_equal(propfind("<D:propfind xmlns:D=\"DAV:\"><D:allprop/><D:include>"
                              "<D:supported-live-property-set/><D:supported-report-set/>"
                              "</D:include></D:propfind>",
                              &pf),
                     0);
    assert_int_equal(pf.kind, KURA_DAV_PROPFIND_ALLPROP);
    assert_int_equal(pf.n_props, 2);
    assert_name(&pf.props[1], "DAV:", "supported-report-set");
    /* Unknown elements (RFC 4918 §17) are skipped, with their content. */
    assert_int_equal(propfind("<D:propfind xmlns:D=\"DAV:\"><X:ext xmlns:X=\"urn:x\"><D:prop>"
                              "<D:a/></D:prop></X:ext><D:prop><D:getetag><D:nested/></D:getetag>"
                              "</D:prop><!-- comment --><?pi x?></D:propfind>",
                              &pf),
                     0);
    assert_int_equal(pf.n_props, 1);
    assert_name(&pf.props[0], "DAV:", "getetag");
}

static void test_propfind_bad_shape(void **state)
{
    (void)state;
    struct kura_dav_propfind pf;
    static const char *const bad[] = {
        "<D:propfind xmlns:D=\"DAV:\"/>",
        "<D:propfind xmlns:D=\"DAV:\"><D:allprop/><D:prop/></D:propfind>",
        "<D:propfind xmlns:D=\"DAV:\"><D:prop/><D:prop/></D:propfind>",
        "<D:propfind xmlns:D=\"DAV:\"><D:propname/><D:include/></D:propfind>",
        "<D:propfind xmlns:D=\"DAV:\"><D:allprop/><D:include/><D:include/></D:propfind>",
        /* litmus propfind_invalid2: undeclaring a prefix is not Namespaces 1.0 */
        "<propfind xmlns=\"DAV:\"><prop><bar:foo xmlns:bar=\"\"/></prop></propfind>",
        /* unbound prefix */
        "<D:propfind xmlns:D=\"DAV:\"><D:prop><Z:foo/></D:prop></D:propfind>",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        int r = propfind(bad[i], &pf);
        if (r != KURA_EXML) {
            fail_msg("body %zu: %d (%s)", i, r, why.ptr ? why.ptr : "");
        }
        assert_true(why.len > 0);
    }
}

static void test_wrong_root(void **state)
{
    (void)state;
    struct kura_dav_propfind pf;
    assert_int_equal(propfind("<propfind xmlns=\"urn:not-dav\"><allprop/></propfind>", &pf),
                     KURA_EXML);
    assert_non_null(strstr(why.ptr, "{urn:not-dav}propfind"));
    assert_int_equal(propfind("<D:lockinfo xmlns:D=\"DAV:\"/>", &pf), KURA_EXML);
    assert_non_null(strstr(why.ptr, "root element is not DAV:propfind"));
    assert_int_equal(propfind("<propfind><allprop/></propfind>", &pf), KURA_EXML);
    struct kura_dav_proppatch pp;
    assert_int_equal(proppatch("<D:propfind xmlns:D=\"DAV:\"/>", &pp), KURA_EXML);
    struct kura_dav_lockinfo li;
    assert_int_equal(lockinfo("<D:propertyupdate xmlns:D=\"DAV:\"/>", &li), KURA_EXML);
}

/* ---- PROPPATCH ---------------------------------------------------------------------------- */

static void test_proppatch_rfc(void **state)
{
    (void)state;
    /* RFC 4918 §9.2.2, with the namespace declared on the root as in the RFC. */
    const char *body = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n"
                       "<D:propertyupdate xmlns:D=\"DAV:\"\n"
                       "        xmlns:Z=\"http://ns.example.com/standards/z39.50/\">\n"
                       "  <D:set>\n    <D:prop>\n      <Z:Authors>\n"
                       "        <Z:Author>Jim Whitehead</Z:Author>\n"
                       "        <Z:Author>Roy Fielding</Z:Author>\n"
                       "      </Z:Authors>\n    </D:prop>\n  </D:set>\n"
                       "  <D:remove>\n    <D:prop><Z:Copyright-Owner/></D:prop>\n  </D:remove>\n"
                       "</D:propertyupdate>";
    struct kura_dav_proppatch pp;
    assert_int_equal(proppatch(body, &pp), 0);
    assert_int_equal(pp.n_ops, 2);
    assert_int_equal(pp.ops[0].op, KURA_DAV_PATCH_SET);
    assert_name(&pp.ops[0].name, "http://ns.example.com/standards/z39.50/", "Authors");
    assert_str(pp.ops[0].value,
               "\n        <Z:Author xmlns:Z=\"http://ns.example.com/standards/z39.50/\">Jim "
               "Whitehead</Z:Author>\n        <Z:Author "
               "xmlns:Z=\"http://ns.example.com/standards/z39.50/\">Roy Fielding</Z:Author>\n"
               "      ");
    assert_int_equal(pp.ops[0].lang.len, 0);
    assert_int_equal(pp.ops[1].op, KURA_DAV_PATCH_REMOVE);
    assert_name(&pp.ops[1].name, "http://ns.example.com/standards/z39.50/", "Copyright-Owner");
}

static void test_proppatch_litmus(void **state)
{
    (void)state;
    struct kura_dav_proppatch pp;
    /* litmus props: propset of several properties, then a remove/set sequence in one body. */
    assert_int_equal(proppatch("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                               "<propertyupdate xmlns=\"DAV:\"><set><prop>"
                               "<prop0 xmlns=\"http://example.com/neon/litmus/\">value0</prop0>"
                               "<prop1 xmlns=\"http://example.com/neon/litmus/\">value1</prop1>"
                               "</prop></set><remove><prop>"
                               "<prop0 xmlns=\"http://example.com/neon/litmus/\"/>"
                               "</prop></remove><set><prop>"
                               "<prop0 xmlns=\"http://example.com/neon/litmus/\">again</prop0>"
                               "</prop></set></propertyupdate>",
                               &pp),
                     0);
    assert_int_equal(pp.n_ops, 4);
    assert_int_equal(pp.ops[2].op, KURA_DAV_PATCH_REMOVE);
    assert_int_equal(pp.ops[3].op, KURA_DAV_PATCH_SET);
    assert_str(pp.ops[3].value, "again");
    /* propnullns; prophighunicode (U+10000 and beyond); propvalnspace. */
    assert_int_equal(proppatch("<propertyupdate xmlns=\"DAV:\"><set><prop>"
                               "<nonamespace xmlns=\"\">randomvalue</nonamespace>"
                               "<high-unicode xmlns=\"http://example.com/neon/litmus/\">"
                               "\xf0\x90\x80\x80\xf4\x8f\xbf\xbd</high-unicode>"
                               "<valnspace xmlns=\"http://example.com/neon/litmus/\">"
                               "<foo xmlns=\"http://bar\">bar</foo></valnspace>"
                               "</prop></set></propertyupdate>",
                               &pp),
                     0);
    assert_int_equal(pp.n_ops, 3);
    assert_name(&pp.ops[0].name, "", "nonamespace");
    assert_str(pp.ops[0].value, "randomvalue");
    assert_str(pp.ops[1].value, "\xf0\x90\x80\x80\xf4\x8f\xbf\xbd");
    assert_str(pp.ops[2].value, "<foo xmlns=\"http://bar\">bar</foo>");
}

static void test_proppatch_fragments(void **state)
{
    (void)state;
    struct kura_dav_proppatch pp;
    /* Escapes re-made, CR kept as a reference, attributes with their prefixes, xml:lang, a
     * no-namespace child inside a default-namespace one, a CDATA section. */
    assert_int_equal(proppatch("<D:propertyupdate xmlns:D=\"DAV:\" xmlns:z=\"urn:z\" "
                               "xmlns:q=\"urn:q\" xml:lang=\"en\"><D:set><D:prop>"
                               "<z:a>x &amp; &lt;y&gt; &#13; \"'</z:a>"
                               "<z:b xml:lang=\"fr\"><q:c q:k=\"1\" z:m=\"&quot;&#9;\" n=\"2\" "
                               "xml:lang=\"de\"/><d xmlns=\"urn:d\"><e xmlns=\"\">t</e></d>"
                               "<![CDATA[<raw>&]]></z:b>"
                               "</D:prop></D:set></D:propertyupdate>",
                               &pp),
                     0);
    assert_int_equal(pp.n_ops, 2);
    assert_str(pp.ops[0].value, "x &amp; &lt;y&gt; &#13; \"'");
    assert_str(pp.ops[0].lang, "en");
    assert_str(pp.ops[1].lang, "fr");
    assert_str(pp.ops[1].value,
               "<q:c xmlns:q=\"urn:q\" q:k=\"1\" xmlns:z=\"urn:z\" z:m=\"&quot;&#9;\" n=\"2\" "
               "xml:lang=\"de\"></q:c><d xmlns=\"urn:d\"><e xmlns=\"\">t</e></d>"
               "&lt;raw&gt;&amp;");
    /* Empty value; whitespace kept. */
    assert_int_equal(proppatch("<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop>"
                               "<z:a xmlns:z=\"urn:z\"/><z:b xmlns:z=\"urn:z\"> </z:b>"
                               "</D:prop></D:set></D:propertyupdate>",
                               &pp),
                     0);
    assert_str(pp.ops[0].value, "");
    assert_str(pp.ops[1].value, " ");
}

static void test_proppatch_limits(void **state)
{
    (void)state;
    struct kura_dav_proppatch pp;
    assert_int_equal(proppatch("<D:propertyupdate xmlns:D=\"DAV:\"/>", &pp), KURA_EXML);
    assert_int_equal(proppatch("<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop/></D:set>"
                               "</D:propertyupdate>",
                               &pp),
                     KURA_EXML);
    assert_int_equal(kura_dav_parse_proppatch(arena, "", 0, &pp, NULL), KURA_EXML);

    /* A value just at the limit, and one byte over. */
    struct kura_buf b = KURA_BUF_INIT(1 << 20);
    const char *head = "<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><z:a xmlns:z=\"u\">";
    const char *tail = "</z:a></D:prop></D:set></D:propertyupdate>";
    kura_buf_adds(&b, head);
    for (size_t i = 0; i < KURA_DAV_VALUE_MAX; i++) {
        kura_buf_addc(&b, 'v');
    }
    kura_buf_adds(&b, tail);
    assert_int_equal(kura_buf_err(&b), 0);
    kura_buf_reset(&why);
    assert_int_equal(kura_dav_parse_proppatch(arena, b.ptr, b.len, &pp, &why), 0);
    assert_int_equal(pp.ops[0].value.len, KURA_DAV_VALUE_MAX);
    kura_buf_reset(&b);
    kura_buf_adds(&b, head);
    for (size_t i = 0; i < KURA_DAV_VALUE_MAX - 3; i++) {
        kura_buf_addc(&b, 'v');
    }
    kura_buf_adds(&b, "&amp;"); /* escapes count as they are stored */
    kura_buf_adds(&b, tail);
    kura_buf_reset(&why);
    assert_int_equal(kura_dav_parse_proppatch(arena, b.ptr, b.len, &pp, &why), KURA_ETOOBIG);
    assert_non_null(strstr(why.ptr, "property value"));

    /* KURA_DAV_PROPS_MAX properties, then one more. */
    for (size_t extra = 0; extra < 2; extra++) {
        kura_buf_reset(&b);
        kura_buf_adds(&b, "<D:propertyupdate xmlns:D=\"DAV:\"><D:remove><D:prop>");
        for (size_t i = 0; i < KURA_DAV_PROPS_MAX + extra; i++) {
            kura_buf_addf(&b, "<p%zu xmlns=\"urn:p\"/>", i);
        }
        kura_buf_adds(&b, "</D:prop></D:remove></D:propertyupdate>");
        int r = kura_dav_parse_proppatch(arena, b.ptr, b.len, &pp, NULL);
        assert_int_equal(r, extra ? KURA_ETOOBIG : 0);
    }
    kura_buf_release(&b);
}

/* ---- LOCK --------------------------------------------------------------------------------- */

static void test_lockinfo(void **state)
{
    (void)state;
    struct kura_dav_lockinfo li;
    /* litmus locks */
    assert_int_equal(lockinfo("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                              "<lockinfo xmlns='DAV:'>\n <lockscope><exclusive/></lockscope>\n"
                              "<locktype><write/></locktype><owner>litmus test suite</owner>\n"
                              "</lockinfo>\n",
                              &li),
                     0);
    assert_false(li.refresh);
    assert_int_equal(li.scope, KURA_DAV_LOCK_EXCLUSIVE);
    assert_str(li.owner, "litmus test suite");
    /* cadaver (neon): owner as an href; RFC 4918 §9.10.7 style, shared. */
    assert_int_equal(lockinfo("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                              "<lockinfo xmlns='DAV:'>\n <lockscope><shared/></lockscope>\n"
                              "<locktype><write/></locktype><owner><href>mailto:a@example.com"
                              "</href></owner>\n</lockinfo>\n",
                              &li),
                     0);
    assert_int_equal(li.scope, KURA_DAV_LOCK_SHARED);
    assert_str(li.owner, "<href xmlns=\"DAV:\">mailto:a@example.com</href>");
    /* No owner. */
    assert_int_equal(lockinfo("<D:lockinfo xmlns:D=\"DAV:\"><D:locktype><D:write/></D:locktype>"
                              "<D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>",
                              &li),
                     0);
    assert_int_equal(li.owner.len, 0);
    /* Empty body: refresh. */
    assert_int_equal(kura_dav_parse_lockinfo(arena, "", 0, &li, NULL), 0);
    assert_true(li.refresh);

    static const char *const bad[] = {
        "<D:lockinfo xmlns:D=\"DAV:\"><D:locktype><D:write/></D:locktype></D:lockinfo>",
        "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>",
        "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope/><D:locktype><D:write/></D:locktype>"
        "</D:lockinfo>",
        "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/><D:shared/></D:lockscope>"
        "<D:locktype><D:write/></D:locktype></D:lockinfo>",
        "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>"
        "<D:locktype><D:read/></D:locktype></D:lockinfo>",
        "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>"
        "<D:locktype><D:write/></D:locktype><D:owner>a</D:owner><D:owner>b</D:owner>"
        "</D:lockinfo>",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_int_equal(lockinfo(bad[i], &li), KURA_EXML);
    }
    assert_non_null(strstr(why.ptr, "owner"));
}

/* ---- hostile bodies ----------------------------------------------------------------------- */

static void expect_xml_error(const char *body, size_t len, const char *reason)
{
    struct kura_dav_propfind pf;
    struct kura_dav_proppatch pp;
    struct kura_dav_lockinfo li;
    kura_buf_reset(&why);
    assert_int_equal(kura_dav_parse_propfind(arena, body, len, &pf, &why), KURA_EXML);
    if (reason && !strstr(why.ptr, reason)) {
        fail_msg("reason '%s' lacks '%s'", why.ptr, reason);
    }
    assert_int_equal(kura_dav_parse_proppatch(arena, body, len, &pp, NULL), KURA_EXML);
    assert_int_equal(kura_dav_parse_lockinfo(arena, body, len, &li, NULL), KURA_EXML);
}

#define EXPECT_XML_ERROR(lit, reason) expect_xml_error(lit, sizeof(lit) - 1, reason)

static void test_dtd_and_entities(void **state)
{
    (void)state;
    EXPECT_XML_ERROR("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
                     "<!ENTITY lol \"lol\">\n"
                     "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                     "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
                     "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
                     "]>\n<D:propfind xmlns:D=\"DAV:\"><D:prop><x>&lol3;</x></D:prop>"
                     "</D:propfind>",
                     "DOCTYPE");
    EXPECT_XML_ERROR("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
                     "<D:propfind xmlns:D=\"DAV:\">&e;</D:propfind>",
                     "DOCTYPE");
    EXPECT_XML_ERROR("<!DOCTYPE D:propfind SYSTEM \"http://evil.example/x.dtd\">"
                     "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
                     "DOCTYPE");
    EXPECT_XML_ERROR("<!DOCTYPE x [<!ENTITY % p SYSTEM \"http://evil.example/p\"> %p;]>"
                     "<D:propfind xmlns:D=\"DAV:\"/>",
                     "DOCTYPE");
    /* An entity reference without any declaration. */
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"><D:prop>&e;</D:prop></D:propfind>",
                     "undefined entity");
}

static void test_encodings(void **state)
{
    (void)state;
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"><D:prop><x\xff/></D:prop></D:propfind>",
                     "UTF-8");
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\">\xc0\xaf</D:propfind>", "UTF-8");
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\">\xed\xa0\x80</D:propfind>", "UTF-8");
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"><D:allprop/>\0</D:propfind>", "NUL");
    /* UTF-16LE with a BOM. */
    EXPECT_XML_ERROR("\xff\xfe<\0D\0:\0p\0", NULL);
    EXPECT_XML_ERROR("\xfe\xff\0<\0D", NULL);
    EXPECT_XML_ERROR("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
                     "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
                     "encoding");
    EXPECT_XML_ERROR("<?xml version=\"1.0\" encoding=\"UTF-16\"?>"
                     "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
                     NULL);
    EXPECT_XML_ERROR("<?xml version=\"1.1\"?><D:propfind xmlns:D=\"DAV:\"><D:allprop/>"
                     "</D:propfind>",
                     NULL);
    /* A control character through a character reference. */
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"><D:prop>&#1;</D:prop></D:propfind>", NULL);
    /* A line feed in a namespace would make expat's names ambiguous (expat >= 2.4.5 refuses
     * its separator itself); other control characters are refused here. */
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"><D:prop><x xmlns=\"urn:a&#10;b\"/></D:prop>"
                     "</D:propfind>",
                     NULL);
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"><D:prop><x xmlns=\"urn:a&#9;b\"/></D:prop>"
                     "</D:propfind>",
                     "namespace");
    /* The UTF-8 BOM and an ASCII declaration are fine. */
    struct kura_dav_propfind pf;
    assert_int_equal(propfind("\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"US-ASCII\"?>"
                              "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
                              &pf),
                     0);
}

static void test_malformed(void **state)
{
    (void)state;
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/></D:prop>", NULL);
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"><D:prop></D:propfind>", "mismatched");
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\"/><D:propfind xmlns:D=\"DAV:\"/>", "junk");
    EXPECT_XML_ERROR("just text", NULL);
    EXPECT_XML_ERROR("   ", NULL);
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\" a=\"1\" a=\"2\"/>", "duplicate");
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\" xmlns:x=\"u\" xmlns:y=\"u\" x:a=\"1\" "
                     "y:a=\"2\"/>",
                     NULL);
    /* The reason carries a position. */
    EXPECT_XML_ERROR("<D:propfind xmlns:D=\"DAV:\">\n<D:prop>\n</D:propfind>", "line 3");
}

static void test_structure_limits(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(1 << 20);
    struct kura_dav_propfind pf;
    /* Depth: KURA_DAV_XML_DEPTH_MAX levels pass, one more does not. */
    for (unsigned extra = 0; extra < 2; extra++) {
        kura_buf_reset(&b);
        kura_buf_adds(&b, "<D:propfind xmlns:D=\"DAV:\"><D:allprop/>");
        for (unsigned i = 1; i < KURA_DAV_XML_DEPTH_MAX + extra; i++) {
            kura_buf_adds(&b, "<x>");
        }
        for (unsigned i = 1; i < KURA_DAV_XML_DEPTH_MAX + extra; i++) {
            kura_buf_adds(&b, "</x>");
        }
        kura_buf_adds(&b, "</D:propfind>");
        kura_buf_reset(&why);
        int r = kura_dav_parse_propfind(arena, b.ptr, b.len, &pf, &why);
        assert_int_equal(r, extra ? KURA_ETOOBIG : 0);
    }
    assert_non_null(strstr(why.ptr, "deep"));
    /* Very deep (a stack-exhaustion attempt) fails the same way, fast. */
    kura_buf_reset(&b);
    kura_buf_adds(&b, "<D:propfind xmlns:D=\"DAV:\">");
    for (unsigned i = 0; i < 100000; i++) {
        kura_buf_adds(&b, "<x>");
    }
    assert_int_equal(kura_dav_parse_propfind(arena, b.ptr, b.len, &pf, NULL), KURA_ETOOBIG);
    /* Element count. */
    for (unsigned extra = 0; extra < 2; extra++) {
        kura_buf_reset(&b);
        kura_buf_adds(&b, "<D:propfind xmlns:D=\"DAV:\"><D:allprop/>");
        for (unsigned i = 2; i < KURA_DAV_XML_ELEMENTS_MAX + extra; i++) {
            kura_buf_adds(&b, "<x/>");
        }
        kura_buf_adds(&b, "</D:propfind>");
        kura_buf_reset(&why);
        int r = kura_dav_parse_propfind(arena, b.ptr, b.len, &pf, &why);
        assert_int_equal(r, extra ? KURA_ETOOBIG : 0);
    }
    assert_non_null(strstr(why.ptr, "too many elements"));
    /* Names: local name and namespace at and over their limits. */
    for (unsigned extra = 0; extra < 2; extra++) {
        kura_buf_reset(&b);
        kura_buf_adds(&b, "<D:propfind xmlns:D=\"DAV:\"><D:prop><a");
        for (unsigned i = 1; i < KURA_DAV_NAME_MAX + extra; i++) {
            kura_buf_addc(&b, 'a');
        }
        kura_buf_adds(&b, " xmlns=\"u:");
        for (unsigned i = 2; i < KURA_DAV_NS_MAX; i++) {
            kura_buf_addc(&b, 'n');
        }
        kura_buf_adds(&b, "\"/></D:prop></D:propfind>");
        int r = kura_dav_parse_propfind(arena, b.ptr, b.len, &pf, NULL);
        assert_int_equal(r, extra ? KURA_ETOOBIG : 0);
        if (!extra) {
            assert_int_equal(pf.props[0].local.len, KURA_DAV_NAME_MAX);
            assert_int_equal(pf.props[0].ns.len, KURA_DAV_NS_MAX);
        }
    }
    kura_buf_reset(&b);
    kura_buf_adds(&b, "<D:propfind xmlns:D=\"DAV:\"><D:prop><a xmlns=\"u:");
    for (unsigned i = 2; i < KURA_DAV_NS_MAX + 1; i++) {
        kura_buf_addc(&b, 'n');
    }
    kura_buf_adds(&b, "\"/></D:prop></D:propfind>");
    assert_int_equal(kura_dav_parse_propfind(arena, b.ptr, b.len, &pf, NULL), KURA_ETOOBIG);
    /* Attributes inside a value. */
    kura_buf_reset(&b);
    kura_buf_adds(&b, "<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><z:a xmlns:z=\"u\"><b");
    for (unsigned i = 0; i <= KURA_DAV_VALUE_ATTRS_MAX; i++) {
        kura_buf_addf(&b, " a%u=\"\"", i);
    }
    kura_buf_adds(&b, "/></z:a></D:prop></D:set></D:propertyupdate>");
    struct kura_dav_proppatch pp;
    assert_int_equal(kura_dav_parse_proppatch(arena, b.ptr, b.len, &pp, NULL), KURA_ETOOBIG);
    /* xml:lang length. */
    kura_buf_reset(&b);
    kura_buf_adds(&b, "<D:propertyupdate xmlns:D=\"DAV:\" xml:lang=\"");
    for (unsigned i = 0; i <= KURA_DAV_LANG_MAX; i++) {
        kura_buf_addc(&b, 'e');
    }
    kura_buf_adds(&b, "\"><D:set><D:prop><z:a xmlns:z=\"u\"/></D:prop></D:set>"
                      "</D:propertyupdate>");
    assert_int_equal(kura_dav_parse_proppatch(arena, b.ptr, b.len, &pp, NULL), KURA_ETOOBIG);
    /* Owner size. */
    kura_buf_reset(&b);
    kura_buf_adds(&b, "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>"
                      "<D:locktype><D:write/></D:locktype><D:owner>");
    for (unsigned i = 0; i <= KURA_DAV_OWNER_MAX; i++) {
        kura_buf_addc(&b, 'o');
    }
    kura_buf_adds(&b, "</D:owner></D:lockinfo>");
    struct kura_dav_lockinfo li;
    kura_buf_reset(&why);
    assert_int_equal(kura_dav_parse_lockinfo(arena, b.ptr, b.len, &li, &why), KURA_ETOOBIG);
    assert_non_null(strstr(why.ptr, "owner"));
    kura_buf_release(&b);
}

static void test_arena_budget(void **state)
{
    (void)state;
    struct kura_arena *small = kura_arena_new(256);
    assert_non_null(small);
    struct kura_dav_propfind pf;
    struct kura_buf b = KURA_BUF_INIT(1 << 20);
    kura_buf_adds(&b, "<D:propfind xmlns:D=\"DAV:\"><D:prop>");
    for (unsigned i = 0; i < 100; i++) {
        kura_buf_addf(&b, "<property-with-a-long-name-%u xmlns=\"urn:p\"/>", i);
    }
    kura_buf_adds(&b, "</D:prop></D:propfind>");
    assert_int_equal(kura_dav_parse_propfind(small, b.ptr, b.len, &pf, NULL), KURA_EBUDGET);
    small = kura_arena_free(small);
    kura_buf_release(&b);
}

#ifdef KURA_FAULT_INJECTION
static int oom_parse(struct kura_arena *a, unsigned which, const char *body)
{
    struct kura_dav_propfind pf;
    struct kura_dav_proppatch pp;
    struct kura_dav_lockinfo li;
    size_t len = strlen(body);
    int r;
    if (which == 0) {
        r = kura_dav_parse_propfind(a, body, len, &pf, NULL);
        if (r == 0) {
            assert_int_equal(pf.n_props, 3);
            assert_name(&pf.props[2], "urn:z", "b");
        }
    } else if (which == 1) {
        r = kura_dav_parse_proppatch(a, body, len, &pp, NULL);
        if (r == 0) {
            assert_int_equal(pp.n_ops, 3);
            assert_str(pp.ops[0].value, "v<z:b xmlns:z=\"urn:z\" z:c=\"1\">w</z:b>");
        }
    } else {
        r = kura_dav_parse_lockinfo(a, body, len, &li, NULL);
        if (r == 0) {
            assert_str(li.owner, "<D:href xmlns:D=\"DAV:\">u</D:href>");
        }
    }
    return r;
}

/* Every allocation (expat's, the arena's, the capture buffer's) may fail: the result is then
 * -ENOMEM, never a crash, a leak or a blame on the client, and some N lets the parse through. */
static void test_oom(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "<D:propfind xmlns:D=\"DAV:\" xmlns:z=\"urn:z\"><D:prop><D:getetag/><z:a/><z:b/>"
        "</D:prop></D:propfind>",
        "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:z=\"urn:z\"><D:set><D:prop>"
        "<z:a xml:lang=\"en\">v<z:b z:c=\"1\">w</z:b></z:a><z:d/></D:prop>"
        "</D:set><D:remove><D:prop><z:e/></D:prop></D:remove></D:propertyupdate>",
        "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:shared/></D:lockscope><D:locktype>"
        "<D:write/></D:locktype><D:owner><D:href>u</D:href></D:owner></D:lockinfo>",
    };
    for (unsigned which = 0; which < 3; which++) {
        bool succeeded = false;
        for (unsigned long n = 1; n < 500 && !succeeded; n++) {
            struct kura_arena *a = kura_arena_new(BUDGET);
            if (!a) {
                continue;
            }
            kura_alloc_fail_at(n);
            int r = oom_parse(a, which, bodies[which]);
            kura_alloc_fail_at(0);
            a = kura_arena_free(a);
            if (r != 0 && r != -ENOMEM) {
                fail_msg("body %u, allocation %lu: %d", which, n, r);
            }
            succeeded = r == 0;
        }
        assert_true(succeeded);
    }
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_propfind_owncloud),
        T(test_propfind_clients),
        T(test_propfind_kinds),
        T(test_propfind_bad_shape),
        T(test_wrong_root),
        T(test_proppatch_rfc),
        T(test_proppatch_litmus),
        T(test_proppatch_fragments),
        T(test_proppatch_limits),
        T(test_lockinfo),
        T(test_dtd_and_entities),
        T(test_encodings),
        T(test_malformed),
        T(test_structure_limits),
        T(test_arena_budget),
#ifdef KURA_FAULT_INJECTION
        T(test_oom),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
