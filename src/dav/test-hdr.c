/* Unit tests for the WebDAV and HTTP request headers, as litmus, cadaver, rclone and the
 * ownCloud/Nextcloud clients send them, and hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dav/dav.h"

#define ORIGIN "https://kura.example:8443"

static struct kura_arena *arena;

static int setup(void **state)
{
    (void)state;
    arena = kura_arena_new(1 << 20);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    arena = kura_arena_free(arena);
    return 0;
}

#define S(lit) lit, sizeof(lit) - 1

static void assert_str(struct kura_str s, const char *want)
{
    if (!kura_str_eq_c(s, want)) {
        fail_msg("expected '%s', got '%.*s'", want, (int)s.len, s.ptr);
    }
}

static void test_depth_overwrite(void **state)
{
    (void)state;
    enum kura_dav_depth d;
    assert_int_equal(kura_dav_parse_depth(S("0"), &d), 0);
    assert_int_equal(d, KURA_DAV_DEPTH_0);
    assert_int_equal(kura_dav_parse_depth(S(" 1 "), &d), 0);
    assert_int_equal(d, KURA_DAV_DEPTH_1);
    assert_int_equal(kura_dav_parse_depth(S("infinity"), &d), 0);
    assert_int_equal(d, KURA_DAV_DEPTH_INFINITY);
    assert_int_equal(kura_dav_parse_depth(S("Infinity"), &d), 0);
    static const char *const bad[] = {"", "2", "01", "-1", "inf", "1,0", "infinity1", "0 0"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_int_equal(kura_dav_parse_depth(bad[i], strlen(bad[i]), &d), KURA_EBADHDR);
    }
    /* Not NUL-terminated: only len bytes count. */
    assert_int_equal(kura_dav_parse_depth("10", 1, &d), 0);
    assert_int_equal(d, KURA_DAV_DEPTH_1);

    bool o;
    assert_int_equal(kura_dav_parse_overwrite(S("T"), &o), 0);
    assert_true(o);
    assert_int_equal(kura_dav_parse_overwrite(S("F"), &o), 0);
    assert_false(o);
    assert_int_equal(kura_dav_parse_overwrite(S("f"), &o), 0);
    assert_int_equal(kura_dav_parse_overwrite(S("TF"), &o), KURA_EBADHDR);
    assert_int_equal(kura_dav_parse_overwrite(S("true"), &o), KURA_EBADHDR);
    assert_int_equal(kura_dav_parse_overwrite(S(""), &o), KURA_EBADHDR);
}

static int dest(const char *v, const char **path)
{
    size_t len;
    return kura_dav_parse_destination(arena, v, strlen(v), ORIGIN, path, &len);
}

static void test_destination(void **state)
{
    (void)state;
    const char *p;
    /* litmus / cadaver: absolute URI on the same origin, percent-encoded. */
    assert_int_equal(dest("https://kura.example:8443/dav/a%20b/%C3%BC.txt", &p), 0);
    assert_string_equal(p, "/dav/a b/\xc3\xbc.txt");
    /* ownCloud 2.11: path only (reference §1.11). */
    assert_int_equal(dest("/remote.php/dav/files/u/new", &p), 0);
    assert_string_equal(p, "/remote.php/dav/files/u/new");
    /* Scheme and host case, trailing slash, no path. */
    assert_int_equal(dest("HTTPS://KURA.Example:8443/x/", &p), 0);
    assert_string_equal(p, "/x/");
    assert_int_equal(dest("https://kura.example:8443", &p), 0);
    assert_string_equal(p, "/");
    /* Raw UTF-8 is accepted when valid (some clients do not encode). */
    assert_int_equal(dest("/d/\xc3\xbc", &p), 0);
    /* Traversal segments come back decoded: the caller's path rules refuse them. */
    assert_int_equal(dest("https://kura.example:8443/a/../../etc/passwd", &p), 0);
    assert_string_equal(p, "/a/../../etc/passwd");
    assert_int_equal(dest("/a/%2e%2e/b", &p), 0);
    assert_string_equal(p, "/a/../b");

    /* Default ports. */
    size_t len;
    assert_int_equal(kura_dav_parse_destination(arena, S("https://h.example:443/a"),
                                                "https://h.example", &p, &len),
                     0);
    assert_int_equal(len, 2);
    assert_int_equal(kura_dav_parse_destination(arena, S("https://h.example/a"),
                                                "https://h.example:443", &p, &len),
                     0);
    assert_int_equal(
        kura_dav_parse_destination(arena, S("http://h.example:80/a"), "http://h.example", &p, &len),
        0);
    assert_int_equal(
        kura_dav_parse_destination(arena, S("https://h.example:/a"), "https://h.example", &p, &len),
        0);
    assert_int_equal(kura_dav_parse_destination(arena, S("https://[::1]:8443/a"),
                                                "https://[::1]:8443", &p, &len),
                     0);

    /* Another origin. */
    static const char *const foreign[] = {
        "https://evil.example:8443/a",
        "http://kura.example:8443/a",
        "https://kura.example/a",
        "https://kura.example:8444/a",
        "https://kura.example.:8443/a",
        "ftp://kura.example/a",
        "https://kura.example%2eevil:8443/a",
        "file:///etc/passwd",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(foreign); i++) {
        if (dest(foreign[i], &p) != KURA_EHOST) {
            fail_msg("accepted %s", foreign[i]);
        }
    }
    /* Malformed header. */
    static const char *const bad_hdr[] = {
        "",
        "https://user:pw@kura.example:8443/a",
        "https://kura.example:8443@evil.example/a",
        "https://@kura.example:8443/a",
        "https:/kura.example/a",
        "https://kura.example:99999/a",
        "https://kura.example:84x3/a",
        "https://:8443/a",
        "https://[::1/a",
        "//kura.example/a",
        "/a?x=1",
        "/a#frag",
        "https://kura.example:8443?q",
        "https://kura.example:8443/a?b",
        ":/a",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad_hdr); i++) {
        if (dest(bad_hdr[i], &p) != KURA_EBADHDR) {
            fail_msg("expected bad header for '%s'", bad_hdr[i]);
        }
    }
    /* Bad paths. */
    static const char *const bad_path[] = {
        "/a%00b",   "/a%2fb", "/a%2Fb", "/a%5cb",
        "/a%",      "/a%4",   "/a%zz",  "/a%0a",
        "/a%7f",    "/a b",   "/a\\b",  "/a%ff",
        "/a%c0%af", "/a\xff", "/a\x01", "https://kura.example:8443/%00",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad_path); i++) {
        if (dest(bad_path[i], &p) != KURA_EBADPATH) {
            fail_msg("expected bad path for '%s'", bad_path[i]);
        }
    }
    /* Length: at the limit, and one byte over. */
    char big[KURA_DAV_PATH_MAX + 2];
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    assert_int_equal(kura_dav_parse_destination(arena, big, KURA_DAV_PATH_MAX, ORIGIN, &p, &len),
                     0);
    assert_int_equal(len, KURA_DAV_PATH_MAX);
    assert_int_equal(
        kura_dav_parse_destination(arena, big, KURA_DAV_PATH_MAX + 1, ORIGIN, &p, &len),
        KURA_EBADPATH);
    /* A malformed origin is the caller's bug. */
    assert_int_equal(kura_dav_parse_destination(arena, S("https://a/b"), "kura", &p, &len),
                     -EINVAL);
}

static void test_timeout(void **state)
{
    (void)state;
    uint32_t t;
    assert_int_equal(kura_dav_parse_timeout(S("Second-3600"), 86400, &t), 0);
    assert_int_equal(t, 3600);
    /* litmus and RFC 4918 §10.7: a list, first understood wins. */
    assert_int_equal(kura_dav_parse_timeout(S("Infinite, Second-4100000000"), 86400, &t), 0);
    assert_int_equal(t, 86400);
    assert_int_equal(kura_dav_parse_timeout(S("Second-4100000000"), 86400, &t), 0);
    assert_int_equal(t, 86400);
    assert_int_equal(kura_dav_parse_timeout(S("Extended-1, second-60 ,Infinite"), 86400, &t), 0);
    assert_int_equal(t, 60);
    assert_int_equal(kura_dav_parse_timeout(S("Second-99999999999999999999999999999"), 600, &t), 0);
    assert_int_equal(t, 600);
    assert_int_equal(kura_dav_parse_timeout(S("Second-, Second-x, Second-5"), 600, &t), 0);
    assert_int_equal(t, 5);
    assert_int_equal(kura_dav_parse_timeout(S("Second-0"), 600, &t), 0);
    assert_int_equal(t, 0);
    static const char *const bad[] = {"",         "Second--1", "Second-+5", "Seconds-5",
                                      "Infinity", ",",         "Second- 5"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        if (kura_dav_parse_timeout(bad[i], strlen(bad[i]), 600, &t) != KURA_EBADHDR) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
}

static void test_lock_token(void **state)
{
    (void)state;
    struct kura_str t;
    assert_int_equal(
        kura_dav_parse_lock_token(S(" <urn:uuid:e71d4fae-5dec-22d6-fea5-00a0c91e6be4> "), &t), 0);
    assert_str(t, "urn:uuid:e71d4fae-5dec-22d6-fea5-00a0c91e6be4");
    static const char *const bad[] = {
        "",      "<>",     "urn:uuid:x",  "<urn:uuid:x", "urn:uuid:x>", "<urn:uuid:x> <y>",
        "<a b>", "<a\"b>", "<a\xc3\xbc>", "<<a>>",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        if (kura_dav_parse_lock_token(bad[i], strlen(bad[i]), &t) != KURA_EBADHDR) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
    char big[KURA_DAV_TOKEN_MAX + 3];
    memset(big, 'a', sizeof(big));
    big[0] = '<';
    big[sizeof(big) - 1] = '>';
    assert_int_equal(kura_dav_parse_lock_token(big, sizeof(big), &t), KURA_ETOOBIG);
    big[sizeof(big) - 2] = '>';
    assert_int_equal(kura_dav_parse_lock_token(big, sizeof(big) - 1, &t), 0);
}

static int parse_if(const char *v, struct kura_dav_if *h)
{
    return kura_dav_parse_if(arena, v, strlen(v), h);
}

static void test_if(void **state)
{
    (void)state;
    struct kura_dav_if h;
    /* litmus cond_put / RFC 4918 §10.4.6-10.4.8. */
    assert_int_equal(parse_if("(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> "
                              "[\"I am an ETag\"]) ([\"I am another ETag\"])",
                              &h),
                     0);
    assert_false(h.tagged);
    assert_int_equal(h.n_lists, 2);
    assert_int_equal(h.lists[0].n_conds, 2);
    assert_false(h.lists[0].conds[0].etag);
    assert_str(h.lists[0].conds[0].value, "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2");
    assert_true(h.lists[0].conds[1].etag);
    assert_str(h.lists[0].conds[1].value, "\"I am an ETag\"");
    assert_int_equal(h.lists[1].n_conds, 1);
    assert_str(h.lists[1].conds[0].value, "\"I am another ETag\"");
    assert_int_equal(h.lists[1].tag.len, 0);

    assert_int_equal(parse_if("(Not <urn:uuid:181d4fae> <urn:uuid:58f202ac>)", &h), 0);
    assert_true(h.lists[0].conds[0].negate);
    assert_false(h.lists[0].conds[1].negate);
    assert_int_equal(parse_if("(<urn:uuid:181d4fae>) (Not <DAV:no-lock>)", &h), 0);
    assert_str(h.lists[1].conds[0].value, "DAV:no-lock");
    assert_true(h.lists[1].conds[0].negate);
    assert_int_equal(parse_if("(not[W/\"weak\"])", &h), 0);
    assert_true(h.lists[0].conds[0].negate);
    assert_str(h.lists[0].conds[0].value, "W/\"weak\"");

    /* Tagged lists; ownCloud NG chunking's final MOVE (reference §1.12). */
    assert_int_equal(parse_if("<https://kura.example:8443/remote.php/dav/files/u/big.bin> "
                              "([\"5d1e\"])",
                              &h),
                     0);
    assert_true(h.tagged);
    assert_str(h.lists[0].tag, "https://kura.example:8443/remote.php/dav/files/u/big.bin");
    assert_int_equal(parse_if("</resource1> (<urn:uuid:a> [W/\"A weak one\"]) (Not <DAV:no-lock>)"
                              " </resource2>([\"strong\"])",
                              &h),
                     0);
    assert_int_equal(h.n_lists, 3);
    assert_str(h.lists[1].tag, "/resource1");
    assert_str(h.lists[2].tag, "/resource2");
    assert_str(h.lists[2].conds[0].value, "\"strong\"");
    const char *p;
    size_t len;
    assert_int_equal(
        kura_dav_parse_destination(arena, h.lists[2].tag.ptr, h.lists[2].tag.len, ORIGIN, &p, &len),
        0);
    assert_string_equal(p, "/resource2");

    static const char *const bad[] = {
        "",
        "   ",
        "()",
        "(",
        ")",
        "(<a>",
        "<a>",
        "<a> <b> (<c>)",
        "(<a>) <b> (<c>)",
        "(Not)",
        "(Not Not <a>)",
        "([\"x\"] junk)",
        "([x])",
        "([\"x\")",
        "(<a b>)",
        "(<>)",
        "(<a>)x",
        "([\"a\"\"])",
        "(<a<b>)",
        "(\"x\")",
        "(<a>)(<b>),",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        int r = parse_if(bad[i], &h);
        if (r != KURA_EBADHDR) {
            fail_msg("'%s': %d", bad[i], r);
        }
    }
    /* Limits. */
    struct kura_buf b = KURA_BUF_INIT(1 << 16);
    for (unsigned i = 0; i < KURA_DAV_IF_LISTS_MAX; i++) {
        kura_buf_adds(&b, "(<a>)");
    }
    assert_int_equal(kura_dav_parse_if(arena, b.ptr, b.len, &h), 0);
    assert_int_equal(h.n_lists, KURA_DAV_IF_LISTS_MAX);
    kura_buf_adds(&b, "(<a>)");
    assert_int_equal(kura_dav_parse_if(arena, b.ptr, b.len, &h), KURA_ETOOBIG);
    kura_buf_reset(&b);
    kura_buf_addc(&b, '(');
    for (unsigned i = 0; i <= KURA_DAV_IF_CONDS_MAX; i++) {
        kura_buf_adds(&b, "<a>");
    }
    kura_buf_addc(&b, ')');
    assert_int_equal(kura_dav_parse_if(arena, b.ptr, b.len, &h), KURA_ETOOBIG);
    kura_buf_reset(&b);
    kura_buf_adds(&b, "(<");
    for (unsigned i = 0; i <= KURA_DAV_TOKEN_MAX; i++) {
        kura_buf_addc(&b, 't');
    }
    kura_buf_adds(&b, ">)");
    assert_int_equal(kura_dav_parse_if(arena, b.ptr, b.len, &h), KURA_ETOOBIG);
    kura_buf_release(&b);
}

static void test_etags(void **state)
{
    (void)state;
    struct kura_dav_etags e;
    assert_int_equal(kura_dav_parse_etags(arena, S("*"), &e), 0);
    assert_true(e.any);
    assert_int_equal(kura_dav_parse_etags(arena, S("\"5259f0b9\""), &e), 0);
    assert_false(e.any);
    assert_int_equal(e.n_tags, 1);
    assert_str(e.tags[0], "\"5259f0b9\"");
    assert_int_equal(
        kura_dav_parse_etags(arena, S("W/\"a\", \"b\" ,,\"\" , W/\"\xe2\x82\xac\""), &e), 0);
    assert_int_equal(e.n_tags, 4);
    assert_str(e.tags[0], "W/\"a\"");
    assert_str(e.tags[2], "\"\"");
    static const char *const bad[] = {"",          ",",       "a",        "\"a",
                                      "\"a\" b",   "W\"a\"",  "w/\"a\"",  "\"a\"\"b\"",
                                      "* , \"a\"", "\"a b\"", "\"a\x01\""};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        if (kura_dav_parse_etags(arena, bad[i], strlen(bad[i]), &e) != KURA_EBADHDR) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
    struct kura_buf b = KURA_BUF_INIT(4096);
    for (unsigned i = 0; i <= KURA_DAV_ETAGS_MAX; i++) {
        kura_buf_adds(&b, "\"x\",");
    }
    assert_int_equal(kura_dav_parse_etags(arena, b.ptr, b.len, &e), KURA_ETOOBIG);
    kura_buf_release(&b);

    assert_true(kura_dav_etag_match(KURA_STR("\"a\""), KURA_STR("\"a\""), false));
    assert_false(kura_dav_etag_match(KURA_STR("W/\"a\""), KURA_STR("\"a\""), false));
    assert_false(kura_dav_etag_match(KURA_STR("W/\"a\""), KURA_STR("W/\"a\""), false));
    assert_true(kura_dav_etag_match(KURA_STR("W/\"a\""), KURA_STR("\"a\""), true));
    assert_true(kura_dav_etag_match(KURA_STR("W/\"a\""), KURA_STR("W/\"a\""), true));
    assert_false(kura_dav_etag_match(KURA_STR("\"a\""), KURA_STR("\"b\""), true));
}

static void test_range(void **state)
{
    (void)state;
    struct kura_dav_range r;
    assert_int_equal(kura_dav_parse_range(S("bytes=0-99"), 1000, &r), 0);
    assert_int_equal(r.kind, KURA_DAV_RANGE_PART);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, 99);
    /* ownCloud resume: "bytes=N-". */
    assert_int_equal(kura_dav_parse_range(S("bytes=300000-"), 300002, &r), 0);
    assert_int_equal(r.first, 300000);
    assert_int_equal(r.last, 300001);
    assert_int_equal(kura_dav_parse_range(S("Bytes= -100"), 1000, &r), 0);
    assert_int_equal(r.first, 900);
    assert_int_equal(r.last, 999);
    assert_int_equal(kura_dav_parse_range(S("bytes=-5000"), 1000, &r), 0);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, 999);
    assert_int_equal(kura_dav_parse_range(S("bytes=500-5000"), 1000, &r), 0);
    assert_int_equal(r.last, 999);
    /* Overflowing positions. */
    assert_int_equal(kura_dav_parse_range(S("bytes=0-99999999999999999999999"), 1000, &r), 0);
    assert_int_equal(r.kind, KURA_DAV_RANGE_PART);
    assert_int_equal(r.last, 999);
    assert_int_equal(kura_dav_parse_range(S("bytes=18446744073709551615-"), 1000, &r),
                     KURA_ERANGENS);
    assert_int_equal(kura_dav_parse_range(S("bytes=99999999999999999999999-"), 1000, &r),
                     KURA_ERANGENS);
    assert_int_equal(kura_dav_parse_range(S("bytes=-99999999999999999999999"), 1000, &r), 0);
    assert_int_equal(r.first, 0);
    assert_int_equal(kura_dav_parse_range(S("bytes=0-18446744073709551615"), UINT64_MAX, &r), 0);
    assert_true(r.last == UINT64_MAX - 1);
    /* Unsatisfiable. */
    assert_int_equal(kura_dav_parse_range(S("bytes=1000-"), 1000, &r), KURA_ERANGENS);
    assert_int_equal(kura_dav_parse_range(S("bytes=0-0"), 0, &r), KURA_ERANGENS);
    assert_int_equal(kura_dav_parse_range(S("bytes=-1"), 0, &r), KURA_ERANGENS);
    assert_int_equal(kura_dav_parse_range(S("bytes=-0"), 1000, &r), KURA_ERANGENS);
    /* Ignored: several ranges, other units, malformed. */
    static const char *const whole[] = {
        "bytes=0-1,5-6", "bytes=0-1, 5-", "items=0-1",   "bytes 0-1",  "bytes=",      "bytes=-",
        "bytes=a-b",     "bytes=5-3",     "bytes=1-2-3", "bytes=+1-2", "bytes=0x10-", "",
        "bytes=--1",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(whole); i++) {
        r.kind = KURA_DAV_RANGE_PART;
        if (kura_dav_parse_range(whole[i], strlen(whole[i]), 1000, &r) != 0 ||
            r.kind != KURA_DAV_RANGE_WHOLE) {
            fail_msg("'%s' not ignored", whole[i]);
        }
    }
    struct kura_buf b = KURA_BUF_INIT(128);
    assert_int_equal(kura_dav_parse_range(S("bytes=10-19"), 1000, &r), 0);
    kura_dav_add_content_range(&b, &r, 1000);
    assert_string_equal(b.ptr, "bytes 10-19/1000");
    kura_buf_reset(&b);
    kura_dav_add_content_range(&b, NULL, 1000);
    assert_string_equal(b.ptr, "bytes */1000");
    kura_buf_release(&b);
}

static void test_checksums(void **state)
{
    (void)state;
    struct kura_dav_digests d;
    /* ownCloud PUT (SHA1, the default when the server advertises nothing else). */
    assert_int_equal(
        kura_dav_parse_oc_checksum(S("SHA1:a9993e364706816aba3e25717850c26c9cd0d89d"), &d), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.d[0].alg, KURA_DAV_HASH_SHA1);
    assert_int_equal(d.d[0].len, 20);
    assert_int_equal(d.d[0].bytes[0], 0xa9);
    assert_int_equal(d.d[0].bytes[19], 0x9d);
    /* Several, as in oc:checksums; unknown ones skipped; case of names and hex. */
    assert_int_equal(
        kura_dav_parse_oc_checksum(
            S("SHA1:A9993E364706816ABA3E25717850C26C9CD0D89D  "
              "md5:900150983cd24fb0d6963f7d28e17f72 ADLER32:024d0127 "
              "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            &d),
        0);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.d[1].alg, KURA_DAV_HASH_MD5);
    assert_int_equal(d.d[2].alg, KURA_DAV_HASH_SHA256);
    assert_int_equal(d.d[2].bytes[31], 0xad);
    assert_int_equal(kura_dav_parse_oc_checksum(S("ADLER32:024d0127"), &d), 0);
    assert_int_equal(d.n, 0);
    /* Same algorithm twice: fine when equal, refused when not. */
    assert_int_equal(kura_dav_parse_oc_checksum(S("MD5:900150983cd24fb0d6963f7d28e17f72 "
                                                  "MD5:900150983CD24FB0D6963F7D28E17F72"),
                                                &d),
                     0);
    assert_int_equal(d.n, 1);
    static const char *const bad[] = {
        "",
        "SHA1",
        "SHA1:",
        ":abcd",
        "SHA1:a9993e36",
        "SHA1:a9993e364706816aba3e25717850c26c9cd0d89dff",
        "SHA1:g9993e364706816aba3e25717850c26c9cd0d89d",
        "SHA 1:00",
        "MD5:900150983cd24fb0d6963f7d28e17f72 MD5:000150983cd24fb0d6963f7d28e17f72",
        "SHA1:a9993e364706816aba3e25717850c26c9cd0d89d,MD5:900150983cd24fb0d6963f7d28e17f72",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        if (kura_dav_parse_oc_checksum(bad[i], strlen(bad[i]), &d) != KURA_EBADHDR) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
    struct kura_buf b = KURA_BUF_INIT(4096);
    for (unsigned i = 0; i <= KURA_DAV_DIGEST_ITEMS_MAX; i++) {
        kura_buf_adds(&b, "X:1 ");
    }
    assert_int_equal(kura_dav_parse_oc_checksum(b.ptr, b.len, &d), KURA_ETOOBIG);

    /* Digest (RFC 3230). */
    assert_int_equal(
        kura_dav_parse_digest(S("sha-256=ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="), &d), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.d[0].alg, KURA_DAV_HASH_SHA256);
    assert_int_equal(d.d[0].bytes[0], 0xba);
    assert_int_equal(kura_dav_parse_digest(S("SHA=qZk+NkcGgWq6PiVxeFDCbJzQ2J0=, "
                                             "MD5=kAFQmDzST7DWlj99KOF/cg==,UNIXsum=30637"),
                                           &d),
                     0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.d[0].alg, KURA_DAV_HASH_SHA1);
    assert_int_equal(d.d[0].bytes[0], 0xa9);
    assert_int_equal(d.d[1].alg, KURA_DAV_HASH_MD5);
    assert_int_equal(d.d[1].bytes[15], 0x72);
    static const char *const bad_digest[] = {
        "",
        "sha-256",
        "sha-256=",
        "=abc",
        "SHA=qZk+NkcGgWq6PiVxeFDCbJzQ2J0",
        "SHA=qZk+NkcGgWq6PiVxeFDCbJzQ2J1=",
        "SHA=qZk+NkcGgWq6PiVxeFDCbJzQ2J0=x",
        "MD5=qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
        "SHA=qZk-NkcGgWq6PiVxeFDCbJzQ2J0=",
        "SHA=qZk+NkcG gWq6PiVxeFDCbJzQ2J0=",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad_digest); i++) {
        if (kura_dav_parse_digest(bad_digest[i], strlen(bad_digest[i]), &d) != KURA_EBADHDR) {
            fail_msg("accepted '%s'", bad_digest[i]);
        }
    }
    kura_buf_release(&b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_depth_overwrite), T(test_destination), T(test_timeout),
        T(test_lock_token),      T(test_if),          T(test_etags),
        T(test_range),           T(test_checksums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
