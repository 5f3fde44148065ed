/* Unit tests for the XML kura sends: multistatus as the sync clients accept it (reference
 * §1.7), hrefs, escaping and refusals, dead property fragments round-tripped through the
 * PROPPATCH parser, LOCK answers and precondition bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <expat.h>
#include <string.h>

#include "dav/dav.h"

static void assert_buf(const struct kura_buf *b, const char *want)
{
    assert_int_equal(kura_buf_err(b), 0);
    if (strcmp(b->ptr ? b->ptr : "", want) != 0) {
        fail_msg("got:\n%s\nwant:\n%s", b->ptr ? b->ptr : "", want);
    }
}

/* The document is namespace-well-formed XML. */
static void assert_well_formed(const struct kura_buf *b)
{
    XML_Parser p = XML_ParserCreateNS("UTF-8", '\n');
    assert_non_null(p);
    enum XML_Status st = XML_Parse(p, b->ptr, (int)b->len, XML_TRUE);
    if (st != XML_STATUS_OK) {
        fail_msg("not well-formed: %s at %lu:%lu\n%s", XML_ErrorString(XML_GetErrorCode(p)),
                 (unsigned long)XML_GetCurrentLineNumber(p),
                 (unsigned long)XML_GetCurrentColumnNumber(p), b->ptr);
    }
    XML_ParserFree(p);
}

static const struct kura_dav_name getetag = KURA_DAV_NAME_INIT("DAV:", "getetag");
static const struct kura_dav_name resourcetype = KURA_DAV_NAME_INIT("DAV:", "resourcetype");
static const struct kura_dav_name oc_id = KURA_DAV_NAME_INIT(KURA_DAV_NS_OC, "id");
static const struct kura_dav_name oc_permissions =
    KURA_DAV_NAME_INIT(KURA_DAV_NS_OC, "permissions");
static const struct kura_dav_name oc_download = KURA_DAV_NAME_INIT(KURA_DAV_NS_OC, "downloadURL");
static const struct kura_dav_name nc_enc = KURA_DAV_NAME_INIT(KURA_DAV_NS_NC, "is-encrypted");

static void test_multistatus(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(1 << 16);
    kura_dav_ms_begin(&b);
    const char *path = "/remote.php/dav/files/alice/sub/";
    assert_int_equal(kura_dav_response_begin(&b, path, strlen(path)), 0);
    kura_dav_propstat_begin(&b);
    assert_int_equal(kura_dav_prop_open(&b, &resourcetype), 0);
    kura_buf_adds(&b, "<d:collection/>");
    kura_dav_prop_close(&b, &resourcetype);
    assert_int_equal(kura_dav_prop_text(&b, &getetag, "\"5259f0b9\"", 10), 0);
    assert_int_equal(kura_dav_prop_text(&b, &oc_id, "00000042ockura0001", 18), 0);
    assert_int_equal(kura_dav_prop_text(&b, &oc_permissions, "RDNVCK", 6), 0);
    kura_dav_propstat_end(&b, 200);
    kura_dav_propstat_begin(&b);
    assert_int_equal(kura_dav_prop_empty(&b, &oc_download), 0);
    assert_int_equal(kura_dav_prop_empty(&b, &nc_enc), 0);
    kura_dav_propstat_end(&b, 404);
    kura_dav_response_end(&b);
    kura_dav_ms_end(&b);
    assert_buf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                   "<d:multistatus xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\" "
                   "xmlns:oc=\"http://owncloud.org/ns\" xmlns:nc=\"http://nextcloud.org/ns\">\n"
                   "<d:response><d:href>/remote.php/dav/files/alice/sub/</d:href>"
                   "<d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>"
                   "<d:getetag>&quot;5259f0b9&quot;</d:getetag><oc:id>00000042ockura0001</oc:id>"
                   "<oc:permissions>RDNVCK</oc:permissions></d:prop>"
                   "<d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
                   "<d:propstat><d:prop><oc:downloadURL/><nc:is-encrypted/></d:prop>"
                   "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>\n"
                   "</d:multistatus>\n");
    assert_well_formed(&b);
    assert_string_equal(KURA_DAV_CONTENT_TYPE, "application/xml; charset=utf-8");
    kura_buf_release(&b);
}

static void test_href_encoding(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(4096);
    const char *path = "/files/alice/a b/\xc3\xbc?#%&<>\"'+;=:@!$()*,[]~_-.txt";
    assert_int_equal(kura_dav_add_href(&b, path, strlen(path)), 0);
    assert_buf(&b, "<d:href>/files/alice/a%20b/%C3%BC%3F%23%25%26%3C%3E%22%27%2B%3B%3D%3A%40%21"
                   "%24%28%29%2A%2C%5B%5D~_-.txt</d:href>");
    kura_buf_reset(&b);
    static const struct kura_str bad[] = {
        KURA_STR(""),      KURA_STR("relative"),  KURA_STR("/a\0b"),
        KURA_STR("/\xff"), KURA_STR("/\xc0\xaf"),
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_int_equal(kura_dav_add_href(&b, bad[i].ptr, bad[i].len), KURA_EBADPATH);
        assert_int_equal(kura_dav_response_begin(&b, bad[i].ptr, bad[i].len), KURA_EBADPATH);
        assert_int_equal(b.len, 0);
    }
    kura_buf_release(&b);
}

static void test_text_escaping(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(4096);
    const struct kura_dav_name dn = KURA_DAV_NAME("DAV:", "displayname");
    const char *text = "a&b<c>d\"e'f\tg\nh\ri \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_int_equal(kura_dav_prop_text(&b, &dn, text, strlen(text)), 0);
    assert_buf(&b, "<d:displayname>a&amp;b&lt;c&gt;d&quot;e'f\tg\nh&#13;i \xe2\x82\xac "
                   "\xf0\x9f\x98\x80</d:displayname>");
    /* Refused, buffer unchanged: controls, U+FFFE/U+FFFF, invalid UTF-8. */
    size_t before = b.len;
    assert_int_equal(kura_dav_prop_text(&b, &dn, "a\x01", 2), KURA_EXML);
    assert_int_equal(kura_dav_prop_text(&b, &dn, "a\0b", 3), KURA_EXML);
    assert_int_equal(kura_dav_prop_text(&b, &dn, "\x1b[0m", 4), KURA_EXML);
    assert_int_equal(kura_dav_prop_text(&b, &dn, "\xef\xbf\xbe", 3), KURA_EXML);
    assert_int_equal(kura_dav_prop_text(&b, &dn, "\xef\xbf\xbf", 3), KURA_EXML);
    assert_int_equal(kura_dav_prop_text(&b, &dn, "\xff", 1), KURA_EUTF8);
    assert_int_equal(kura_dav_add_text(&b, "\xed\xa0\x80", 3), KURA_EUTF8);
    assert_int_equal(b.len, before);
    /* U+FFFD and DEL are fine (XML 1.0 Char). */
    assert_int_equal(kura_dav_add_text(&b, "\xef\xbf\xbd\x7f", 4), 0);
    kura_buf_release(&b);
}

static void test_names(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(4096);
    const struct kura_dav_name other = KURA_DAV_NAME("http://example.com/a&\"b", "p");
    const struct kura_dav_name none = KURA_DAV_NAME("", "nonamespace");
    const struct kura_dav_name sabre = KURA_DAV_NAME(KURA_DAV_NS_SABRE, "x");
    assert_int_equal(kura_dav_prop_empty(&b, &other), 0);
    assert_int_equal(kura_dav_prop_text(&b, &none, "v", 1), 0);
    assert_int_equal(kura_dav_prop_empty(&b, &sabre), 0);
    assert_buf(&b, "<x:p xmlns:x=\"http://example.com/a&amp;&quot;b\"/>"
                   "<nonamespace xmlns=\"\">v</nonamespace><s:x/>");
    kura_buf_reset(&b);
    static const struct kura_dav_name bad[] = {
        KURA_DAV_NAME_INIT("DAV:", ""),   KURA_DAV_NAME_INIT("DAV:", "a b"),
        KURA_DAV_NAME_INIT("DAV:", "a>"), KURA_DAV_NAME_INIT("DAV:", "a:b"),
        KURA_DAV_NAME_INIT("DAV:", "1a"), KURA_DAV_NAME_INIT("u\n", "a"),
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_int_equal(kura_dav_prop_empty(&b, &bad[i]), KURA_EXML);
        assert_int_equal(kura_dav_prop_open(&b, &bad[i]), KURA_EXML);
    }
    assert_int_equal(b.len, 0);
    kura_buf_release(&b);
}

/* A value stored from PROPPATCH is emitted verbatim and reads back identically, whatever
 * prefixes the document around it uses. */
static void test_fragment_round_trip(void **state)
{
    (void)state;
    struct kura_arena *a = kura_arena_new(1 << 20);
    assert_non_null(a);
    const char *body = "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:x=\"urn:z\" xmlns=\"urn:dflt\">"
                       "<D:set><D:prop xml:lang=\"ja\">"
                       "<x:p><x:q x:k=\"&lt;&#10;\">1 &amp; 2</x:q><d>t<n xmlns=\"\"/></d>"
                       "<D:href>/a</D:href></x:p>"
                       "<D:displayname>plain</D:displayname>"
                       "<oc:tags xmlns:oc=\"http://owncloud.org/ns\"><oc:t/></oc:tags>"
                       "<none xmlns=\"\">n</none>"
                       "</D:prop></D:set></D:propertyupdate>";
    struct kura_dav_proppatch pp;
    assert_int_equal(kura_dav_parse_proppatch(a, body, strlen(body), &pp, NULL), 0);
    assert_int_equal(pp.n_ops, 4);

    struct kura_buf b = KURA_BUF_INIT(1 << 16);
    kura_dav_ms_begin(&b);
    assert_int_equal(kura_dav_response_begin(&b, "/a", 2), 0);
    kura_dav_propstat_begin(&b);
    for (size_t i = 0; i < pp.n_ops; i++) {
        assert_int_equal(
            kura_dav_prop_fragment(&b, &pp.ops[i].name, pp.ops[i].lang, pp.ops[i].value), 0);
    }
    kura_dav_propstat_end(&b, 200);
    kura_dav_response_end(&b);
    kura_dav_ms_end(&b);
    assert_well_formed(&b);
    assert_non_null(strstr(b.ptr, "<x:p xmlns:x=\"urn:z\" xml:lang=\"ja\"><x:q xmlns:x=\"urn:z\" "
                                  "x:k=\"&lt;&#10;\">1 &amp; 2</x:q><d xmlns=\"urn:dflt\">t<n "
                                  "xmlns=\"\"></n></d><D:href xmlns:D=\"DAV:\">/a</D:href></x:p>"));

    /* Re-read the written properties as a PROPPATCH: same names, languages and values. */
    struct kura_buf again = KURA_BUF_INIT(1 << 16);
    kura_buf_adds(&again,
                  "<d:propertyupdate xmlns:d=\"DAV:\" xmlns:s=\"urn:s\" "
                  "xmlns:oc=\"http://owncloud.org/ns\" xmlns:nc=\"urn:nc\"><d:set><d:prop>");
    const char *props = strstr(b.ptr, "<d:prop>") + strlen("<d:prop>");
    const char *end = strstr(b.ptr, "</d:prop>");
    kura_buf_add(&again, props, (size_t)(end - props));
    kura_buf_adds(&again, "</d:prop></d:set></d:propertyupdate>");
    struct kura_dav_proppatch pp2;
    assert_int_equal(kura_dav_parse_proppatch(a, again.ptr, again.len, &pp2, NULL), 0);
    assert_int_equal(pp2.n_ops, pp.n_ops);
    for (size_t i = 0; i < pp.n_ops; i++) {
        assert_true(kura_str_eq(pp.ops[i].name.ns, pp2.ops[i].name.ns));
        assert_true(kura_str_eq(pp.ops[i].name.local, pp2.ops[i].name.local));
        assert_true(kura_str_eq(pp.ops[i].lang, pp2.ops[i].lang));
        assert_true(kura_str_eq(pp.ops[i].value, pp2.ops[i].value));
    }
    /* A fragment with a raw control byte (a damaged store) is refused. */
    size_t before = b.len;
    assert_int_equal(kura_dav_prop_fragment(&b, &getetag, KURA_STR(""), KURA_STR("a\x02")),
                     KURA_EXML);
    assert_int_equal(b.len, before);
    kura_buf_release(&again);
    kura_buf_release(&b);
    a = kura_arena_free(a);
}

static void test_error_bodies(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(4096);
    assert_int_equal(kura_dav_error_body(&b, KURA_DAV_COND_PROPFIND_FINITE_DEPTH, NULL, 0), 0);
    assert_buf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                   "<d:error xmlns:d=\"DAV:\"><d:propfind-finite-depth/></d:error>\n");
    kura_buf_reset(&b);
    const struct kura_str locked[] = {KURA_STR("/docs/a b"), KURA_STR("/docs/")};
    assert_int_equal(kura_dav_error_body(&b, KURA_DAV_COND_LOCK_TOKEN_SUBMITTED, locked, 2), 0);
    assert_buf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                   "<d:error xmlns:d=\"DAV:\"><d:lock-token-submitted><d:href>/docs/a%20b</d:href>"
                   "<d:href>/docs/</d:href></d:lock-token-submitted></d:error>\n");
    assert_well_formed(&b);
    kura_buf_reset(&b);
    assert_int_equal(kura_dav_error_body(&b, KURA_DAV_COND_NO_CONFLICTING_LOCK, NULL, 0), 0);
    assert_non_null(strstr(b.ptr, "<d:no-conflicting-lock/>"));
    kura_buf_reset(&b);
    assert_int_equal(
        kura_dav_error_body(&b, KURA_DAV_COND_CANNOT_MODIFY_PROTECTED_PROPERTY, NULL, 0), 0);
    assert_non_null(strstr(b.ptr, "<d:cannot-modify-protected-property/>"));
    kura_buf_reset(&b);
    const struct kura_str bad[] = {KURA_STR("rel")};
    assert_int_equal(kura_dav_error_body(&b, KURA_DAV_COND_LOCK_TOKEN_SUBMITTED, bad, 1),
                     KURA_EBADPATH);
    assert_int_equal(kura_dav_error_body(&b, KURA_DAV_COND_NONE, NULL, 0), -EINVAL);
    assert_int_equal(b.len, 0);

    assert_int_equal(kura_dav_sabre_error_body(&b, "Sabre\\DAV\\Exception\\BadRequest",
                                               "The computed checksum does not match the one "
                                               "received from the client."),
                     0);
    assert_buf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                   "<d:error xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\">\n"
                   "  <s:exception>Sabre\\DAV\\Exception\\BadRequest</s:exception>\n"
                   "  <s:message>The computed checksum does not match the one received from the "
                   "client.</s:message>\n</d:error>\n");
    kura_buf_reset(&b);
    assert_int_equal(kura_dav_sabre_error_body(&b, "x", "bad\x01"), KURA_EXML);

    /* Member failures in a multistatus (DELETE, MOVE of a locked member). */
    kura_buf_reset(&b);
    assert_int_equal(
        kura_dav_response_status(&b, "/c/locked", 9, 423, KURA_DAV_COND_LOCK_TOKEN_SUBMITTED), 0);
    assert_int_equal(kura_dav_response_status(&b, "/c/x", 4, 424, KURA_DAV_COND_NONE), 0);
    assert_buf(&b, "<d:response><d:href>/c/locked</d:href><d:status>HTTP/1.1 423 Locked"
                   "</d:status><d:error><d:lock-token-submitted/></d:error></d:response>\n"
                   "<d:response><d:href>/c/x</d:href><d:status>HTTP/1.1 424 Failed Dependency"
                   "</d:status></d:response>\n");
    kura_buf_release(&b);
}

static void test_locks(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(4096);
    const struct kura_dav_activelock lock = {
        .scope = KURA_DAV_LOCK_EXCLUSIVE,
        .depth = KURA_DAV_DEPTH_INFINITY,
        .owner = KURA_STR("<href xmlns=\"DAV:\">mailto:a@example.com</href>"),
        .timeout_s = 3600,
        .token = KURA_STR("urn:uuid:e71d4fae-5dec-22d6-fea5-00a0c91e6be4"),
        .root = KURA_STR("/workspace/web dav/"),
    };
    assert_int_equal(kura_dav_lock_body(&b, &lock), 0);
    assert_buf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                   "<d:prop xmlns:d=\"DAV:\"><d:lockdiscovery><d:activelock>"
                   "<d:locktype><d:write/></d:locktype><d:lockscope><d:exclusive/></d:lockscope>"
                   "<d:depth>infinity</d:depth>"
                   "<d:owner><href xmlns=\"DAV:\">mailto:a@example.com</href></d:owner>"
                   "<d:timeout>Second-3600</d:timeout>"
                   "<d:locktoken><d:href>urn:uuid:e71d4fae-5dec-22d6-fea5-00a0c91e6be4</d:href>"
                   "</d:locktoken><d:lockroot><d:href>/workspace/web%20dav/</d:href>"
                   "</d:lockroot></d:activelock></d:lockdiscovery></d:prop>\n");
    assert_well_formed(&b);

    kura_buf_reset(&b);
    struct kura_dav_activelock two[2] = {lock, lock};
    two[1].scope = KURA_DAV_LOCK_SHARED;
    two[1].depth = KURA_DAV_DEPTH_0;
    two[1].owner = KURA_STR("");
    assert_int_equal(kura_dav_prop_lockdiscovery(&b, two, 2), 0);
    assert_non_null(strstr(b.ptr, "<d:lockscope><d:shared/></d:lockscope><d:depth>0</d:depth>"
                                  "<d:timeout>"));
    kura_buf_reset(&b);
    assert_int_equal(kura_dav_prop_lockdiscovery(&b, NULL, 0), 0);
    assert_buf(&b, "<d:lockdiscovery/>");
    kura_buf_reset(&b);
    kura_dav_prop_supportedlock(&b);
    assert_buf(&b, "<d:supportedlock><d:lockentry><d:lockscope><d:exclusive/></d:lockscope>"
                   "<d:locktype><d:write/></d:locktype></d:lockentry><d:lockentry><d:lockscope>"
                   "<d:shared/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>"
                   "</d:supportedlock>");
    kura_buf_reset(&b);
    struct kura_dav_activelock bad = lock;
    bad.token = KURA_STR("urn:uuid:x</d:href>");
    assert_int_equal(kura_dav_lock_body(&b, &bad), KURA_EBADHDR);
    bad = lock;
    bad.root = KURA_STR("");
    assert_int_equal(kura_dav_lock_body(&b, &bad), KURA_EBADPATH);
    assert_int_equal(b.len, 0);
    kura_buf_release(&b);
}

static void test_status_lines(void **state)
{
    (void)state;
    assert_string_equal(kura_dav_status_line(200), "HTTP/1.1 200 OK");
    assert_string_equal(kura_dav_status_line(403), "HTTP/1.1 403 Forbidden");
    assert_string_equal(kura_dav_status_line(424), "HTTP/1.1 424 Failed Dependency");
    assert_string_equal(kura_dav_status_line(507), "HTTP/1.1 507 Insufficient Storage");
    assert_string_equal(kura_dav_status_line(999), "HTTP/1.1 500 Internal Server Error");
}

/* The buffer's hard maximum applies and is reported once, at the end. */
static void test_buffer_limit(void **state)
{
    (void)state;
    struct kura_buf b = KURA_BUF_INIT(64);
    kura_dav_ms_begin(&b);
    assert_int_equal(kura_buf_err(&b), KURA_ETOOBIG);
    kura_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multistatus),
        cmocka_unit_test(test_href_encoding),
        cmocka_unit_test(test_text_escaping),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_fragment_round_trip),
        cmocka_unit_test(test_error_bodies),
        cmocka_unit_test(test_locks),
        cmocka_unit_test(test_status_lines),
        cmocka_unit_test(test_buffer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
