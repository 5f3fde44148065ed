/* Unit tests for the naming rules (store.h, "Names"): NFC repair, every refusal with its reason,
 * the byte limits at their exact boundaries, traversal attempts, paths and idempotence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "store/store.h"

/* Normalizes in[0..len) and checks the result is exactly want[0..want_len). */
static void expect_name_len(const char *in, size_t len, const char *want, size_t want_len)
{
    char out[KURA_NAME_MAX + 1];
    size_t out_len = 0;
    const char *why = NULL;
    int r = kura_name_normalize(in, len, out, &out_len, &why);
    if (r != 0) {
        fail_msg("refused '%.*s': %s", (int)len, in, why ? why : "(no reason)");
    }
    assert_null(why);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[out_len], '\0');
    assert_int_equal(strlen(out), out_len);
}

static void expect_name(const char *in, const char *want)
{
    expect_name_len(in, strlen(in), want, strlen(want));
}

/* Checks in[0..len) is refused with reason want_why and leaves the outputs alone. */
static void expect_bad_len(const char *in, size_t len, const char *want_why)
{
    char out[KURA_NAME_MAX + 1];
    memset(out, 'x', sizeof(out));
    size_t out_len = 77;
    const char *why = NULL;
    assert_int_equal(kura_name_normalize(in, len, out, &out_len, &why), KURA_EBADNAME);
    assert_non_null(why);
    assert_string_equal(why, want_why);
    assert_int_equal(out_len, 77);
    assert_int_equal(out[0], 'x');
    /* NULL reterr_why is allowed. */
    assert_int_equal(kura_name_normalize(in, len, out, &out_len, NULL), KURA_EBADNAME);
}

static void expect_bad(const char *in, const char *want_why)
{
    expect_bad_len(in, strlen(in), want_why);
}

static const char *const CTL = "name contains a control character";
static const char *const BIDI = "name contains a bidirectional text control character";
static const char *const INVIS = "name contains an invisible formatting character";
static const char *const NONCHAR = "name contains a Unicode noncharacter";
static const char *const UTF8 = "name is not valid UTF-8";
static const char *const EDGE = "name begins or ends with a space";
static const char *const DOTS = "name is '.' or '..'";
static const char *const TOOLONG = "name is longer than 255 bytes";
static const char *const PATHLONG = "path is longer than 4096 bytes";
static const char *const EMPTYSEG = "path contains an empty segment ('//' or a leading '/')";

static void test_nfd_to_nfc(void **state)
{
    (void)state;
    expect_name("e\xcc\x81", "\xc3\xa9");                    /* e + U+0301 -> é */
    expect_name("Cafe\xcc\x81.txt", "Caf\xc3\xa9.txt");      /* macOS sends this */
    expect_name("\xe3\x81\x8b\xe3\x82\x99", "\xe3\x81\x8c"); /* か + U+3099 -> が */
    expect_name("\xe3\x83\x8f\xe3\x82\x9a", "\xe3\x83\x91"); /* ハ + U+309A -> パ */
    /* Hangul: conjoining jamo L+V+T compose to one syllable (한). */
    expect_name("\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab", "\xed\x95\x9c");
    /* Canonical reordering: dot below (ccc 220) before acute (230), then composition. */
    expect_name("a\xcc\x81\xcc\xa3", "\xe1\xba\xa1\xcc\x81");
    /* Singletons: ANGSTROM SIGN -> Å; a CJK compatibility ideograph -> its unified form. */
    expect_name("\xe2\x84\xab", "\xc3\x85");
    expect_name("\xef\xa8\x99", "\xe7\xa5\x9e"); /* U+FA19 -> U+795E 神 */
    /* Decomposition to more code points than input bytes (U+1F82: 3 bytes, 4 code points)
     * takes the second allocation; the result recomposes to the input. */
    expect_name("\xe1\xbe\x82\xe1\xbe\x82\xe1\xbe\x82", "\xe1\xbe\x82\xe1\xbe\x82\xe1\xbe\x82");
}

static void test_nfc_unchanged(void **state)
{
    (void)state;
    static const char *const same[] = {
        "report.pdf",
        "\xe8\xb3\x87\xe6\x96\x99 2024\xe5\xb9\xb4\xe5\xba\xa6.xlsx",   /* 資料 2024年度.xlsx */
        "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",                         /* 한국어 */
        "\xe8\xb3\x87\xe6\x96\x99\xe3\x80\x80\xe4\xb8\x80\xe8\xa6\xa7", /* U+3000 inside */
        "a b  c",
        ".gitignore",
        "..hidden",
        "%2e%2e", /* decoded once already: a literal name, never decoded again */
        "12:30 notes?*<>|\"",
        "\xf0\x9f\x98\x80",                                                         /* 😀 */
        "\xe2\x9d\xa4\xef\xb8\x8f",                                                 /* ❤ + VS16 */
        "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7", /* ZWJ */
        ("\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2\xf3\xa0\x81\xb3\xf3\xa0\x81\xa3"
         "\xf3\xa0\x81\xb4\xf3\xa0\x81\xbf"),   /* Scotland's flag: tag characters */
        "\xef\xbc\xa1\xef\xbd\xb6\xe2\x91\xa0", /* Ａｶ①: NFC, not NFKC */
        "\xee\x80\x80\xef\xbf\xbd",             /* private use, U+FFFD */
        "\xf0\xb0\x80\x80",                     /* U+30000 (assigned in Unicode 13) */
        "\xf3\xa0\x80\x80",                     /* U+E0000, unassigned: allowed */
        "\xcc\x81x",                            /* a leading combining mark */
        "\xe1\x85\x9f",                         /* U+115F on its own */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(same); i++) {
        expect_name(same[i], same[i]);
    }
}

static void test_rejections(void **state)
{
    (void)state;
    expect_bad_len("", 0, "name is empty");
    expect_bad_len(NULL, 0, "name is empty");
    expect_bad(".", DOTS);
    expect_bad("..", DOTS);
    expect_bad("a/b", "name contains '/'");
    expect_bad("..\\x", "name contains '\\'");
    expect_bad_len("ab\0cd", 5, "name contains a NUL byte"); /* not cut at the NUL */
    expect_bad_len("\0", 1, "name contains a NUL byte");
    /* Controls: C0, DEL, C1 (U+0080, U+0085 NEL, U+009F), line/paragraph separators. */
    expect_bad("a\tb", CTL);
    expect_bad("a\nb", CTL);
    expect_bad("a\rb", CTL);
    expect_bad("\x1b[31m", CTL);
    expect_bad("a\x7f", CTL);
    expect_bad("a\xc2\x80", CTL);
    expect_bad("a\xc2\x85", CTL);
    expect_bad("a\xc2\x9f", CTL);
    expect_bad("a\xe2\x80\xa8", CTL);
    expect_bad("a\xe2\x80\xa9", CTL);
    /* Every Bidi_Control character: "invoice\u202Efdp.exe" shows as "invoiceexe.pdf". */
    expect_bad("invoice\xe2\x80\xae"
               "fdp.exe",
               BIDI);
    static const char *const bidi[] = {
        "\xd8\x9c",     "\xe2\x80\x8e", "\xe2\x80\x8f", "\xe2\x80\xaa",
        "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x80\xae",
        "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8", "\xe2\x81\xa9",
    };
    char buf[32];
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bidi); i++) {
        int n = snprintf(buf, sizeof(buf), "a%sb", bidi[i]);
        expect_bad_len(buf, (size_t)n, BIDI);
    }
    static const char *const invisible[] = {
        "\xc2\xad",     "\xe1\xa0\x8e", "\xe2\x80\x8b",     "\xe2\x81\xa0",     "\xe2\x81\xa4",
        "\xe2\x81\xaa", "\xe2\x81\xaf", "\xe3\x85\xa4",     "\xef\xbe\xa0",     "\xef\xbb\xbf",
        "\xef\xbf\xb9", "\xef\xbf\xbb", "\xf0\x9d\x85\xb3", "\xf0\x9d\x85\xba", "\xf3\xa0\x80\x81",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(invisible); i++) {
        int n = snprintf(buf, sizeof(buf), "a%sb", invisible[i]);
        expect_bad_len(buf, (size_t)n, INVIS);
    }
    expect_bad("\xef\xbb\xbfname", INVIS); /* a BOM at the start */
    static const char *const nonchar[] = {
        "\xef\xbf\xbe",     "\xef\xbf\xbf",     "\xef\xb7\x90",     "\xef\xb7\xaf",
        "\xf0\x9f\xbf\xbe", "\xf0\x9f\xbf\xbf", "\xf4\x8f\xbf\xbe", "\xf4\x8f\xbf\xbf",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(nonchar); i++) {
        int n = snprintf(buf, sizeof(buf), "a%sb", nonchar[i]);
        expect_bad_len(buf, (size_t)n, NONCHAR);
    }
    /* The neighbours of the refused ranges are fine. */
    expect_name("a\xef\xb7\x8f", "a\xef\xb7\x8f");                         /* U+FDCF */
    expect_name("a\xef\xb7\xb0", "a\xef\xb7\xb0");                         /* U+FDF0 */
    expect_name("a\xef\xbf\xbd", "a\xef\xbf\xbd");                         /* U+FFFD */
    expect_name("a\xe2\x80\x8c\xe2\x80\x8d", "a\xe2\x80\x8c\xe2\x80\x8d"); /* ZWNJ, ZWJ */
    expect_name("a\xc2\xa0"
                "b",
                "a\xc2\xa0"
                "b"); /* NBSP inside */

    /* Edges: white space at either end, a trailing dot. */
    expect_bad(" a", EDGE);
    expect_bad("a ", EDGE);
    expect_bad(" ", EDGE);
    expect_bad("report.pdf\xe3\x80\x80", EDGE); /* U+3000 */
    expect_bad("\xc2\xa0report.pdf", EDGE);     /* U+00A0 */
    expect_bad("a\xe2\x80\x8a", EDGE);          /* U+200A */
    expect_bad("a.", "name ends with '.'");
    expect_bad("...", "name ends with '.'");
    expect_bad("report.pdf.", "name ends with '.'");
    /* A mark after the space or dot: the name no longer ends with one. */
    expect_name("a.\xcc\x81", "a.\xcc\x81");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_bad("\x80", UTF8); /* lone continuation */
    expect_bad("a\xbf"
               "b",
               UTF8);
    expect_bad("\xe3\x81", UTF8);  /* truncated */
    expect_bad("\xe3\x81z", UTF8); /* bad continuation */
    expect_bad("\xf0\x9f\x98", UTF8);
    expect_bad("\xc0\xaf", UTF8); /* overlong '/' */
    expect_bad("\xc1\xbf", UTF8);
    expect_bad("\xe0\x80\xaf", UTF8); /* overlong '/' */
    expect_bad("\xe0\x9f\xbf", UTF8);
    expect_bad("\xf0\x80\x80\xaf", UTF8);
    expect_bad("\xf0\x8f\xbf\xbf", UTF8);
    expect_bad("..\xc0\xae", UTF8);               /* overlong '.' */
    expect_bad("\xed\xa0\x80", UTF8);             /* U+D800 */
    expect_bad("\xed\xbf\xbf", UTF8);             /* U+DFFF */
    expect_bad("\xed\xa0\xbd\xed\xb8\x80", UTF8); /* CESU-8 pair */
    expect_bad("\xf4\x90\x80\x80", UTF8);         /* U+110000 */
    expect_bad("\xf5\x80\x80\x80", UTF8);
    expect_bad("\xf8\x88\x80\x80\x80", UTF8);
    expect_bad("\xfe", UTF8);
    expect_bad("\xff", UTF8);
    /* The extremes that are valid. */
    expect_name("\xed\x9f\xbf", "\xed\x9f\xbf");         /* U+D7FF */
    expect_name("\xee\x80\x80", "\xee\x80\x80");         /* U+E000 */
    expect_name("\xf4\x8f\xbf\xbd", "\xf4\x8f\xbf\xbd"); /* U+10FFFD */
}

/* Writes n copies of unit (ulen bytes) after prefix plen bytes of 'a' into buf. */
static size_t build(char *buf, size_t plen, const char *unit, size_t ulen, size_t n)
{
    memset(buf, 'a', plen);
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + plen + i * ulen, unit, ulen);
    }
    return plen + n * ulen;
}

static void test_name_limits(void **state)
{
    (void)state;
    static char in[8192], want[8192];
    size_t len, wlen;

    len = build(in, 255, "", 0, 0);
    expect_name_len(in, len, in, len);
    len = build(in, 256, "", 0, 0);
    expect_bad_len(in, len, TOOLONG);

    /* Multi-byte characters across the boundary. */
    len = build(in, 253, "\xc3\xa9", 2, 1); /* 255 */
    expect_name_len(in, len, in, len);
    len = build(in, 254, "\xc3\xa9", 2, 1); /* 256 */
    expect_bad_len(in, len, TOOLONG);
    len = build(in, 251, "\xf0\x9f\x98\x80", 4, 1); /* 255 */
    expect_name_len(in, len, in, len);
    len = build(in, 252, "\xf0\x9f\x98\x80", 4, 1); /* 256 */
    expect_bad_len(in, len, TOOLONG);
    len = build(in, 0, "\xe3\x81\x8c", 3, 85); /* 85 x が = 255 */
    expect_name_len(in, len, in, len);
    len = build(in, 0, "\xe3\x81\x8c", 3, 86);
    expect_bad_len(in, len, TOOLONG);

    /* NFC shortens: 256 bytes in, 255 out. */
    len = build(in, 253, "e\xcc\x81", 3, 1);
    wlen = build(want, 253, "\xc3\xa9", 2, 1);
    assert_int_equal(len, 256);
    expect_name_len(in, len, want, wlen);
    /* 510 bytes of NFD kana in, 255 out; one more character is 258 out. */
    len = build(in, 0, "\xe3\x81\x8b\xe3\x82\x99", 6, 85);
    wlen = build(want, 0, "\xe3\x81\x8c", 3, 85);
    expect_name_len(in, len, want, wlen);
    len = build(in, 0, "\xe3\x81\x8b\xe3\x82\x99", 6, 86);
    expect_bad_len(in, len, TOOLONG);
    /* Hangul jamo, the largest shrink (9 bytes -> 3): 765 bytes in, 255 out. */
    len = build(in, 0, "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab", 9, 85);
    wlen = build(want, 0, "\xed\x95\x9c", 3, 85);
    assert_int_equal(len, 765);
    expect_name_len(in, len, want, wlen);

    /* NFC lengthens: U+0344 (2 bytes) becomes U+0308 U+0301 (4 bytes). */
    len = build(in, 0, "\xcd\x84", 2, 63); /* 126 in, 252 out */
    wlen = build(want, 0, "\xcc\x88\xcc\x81", 4, 63);
    expect_name_len(in, len, want, wlen);
    len = build(in, 0, "\xcd\x84", 2, 64); /* 128 in, 256 out */
    expect_bad_len(in, len, TOOLONG);

    /* Past KURA_PATH_MAX the input is refused before any work. */
    len = build(in, 0, "e\xcc\x81", 3, 1366); /* 4098 bytes */
    expect_bad_len(in, len, TOOLONG);
}

static void test_case_sensitive(void **state)
{
    (void)state;
    char a[KURA_NAME_MAX + 1], b[KURA_NAME_MAX + 1];
    size_t alen, blen;
    const char *why;
    static const char *const pairs[][2] = {
        {"Report.pdf", "report.pdf"},
        {"\xc3\x9f", "ss"},               /* ß */
        {"\xef\xbc\xa1", "A"},            /* full-width Ａ */
        {"\xef\xbd\xb6", "\xe3\x82\xab"}, /* half-width ｶ vs カ */
        {"\xc3\x89", "\xc3\xa9"},         /* É vs é */
        {"\xe3\x81\x8c", "\xe3\x82\xac"}, /* が vs ガ */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(pairs); i++) {
        assert_int_equal(kura_name_normalize(pairs[i][0], strlen(pairs[i][0]), a, &alen, &why), 0);
        assert_int_equal(kura_name_normalize(pairs[i][1], strlen(pairs[i][1]), b, &blen, &why), 0);
        assert_false(alen == blen && memcmp(a, b, alen) == 0);
    }
    /* Canonically equivalent spellings are the same name. */
    assert_int_equal(kura_name_normalize("\xc3\x85", 2, a, &alen, &why), 0);
    assert_int_equal(kura_name_normalize("A\xcc\x8a", 3, b, &blen, &why), 0);
    assert_memory_equal(a, b, alen);
    assert_int_equal(alen, blen);
}

static void test_idempotent(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "e\xcc\x81",
        "\xe3\x81\x8b\xe3\x82\x99\xe3\x81\x8b\xe3\x82\x99",
        "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab",
        "a\xcc\x81\xcc\xa3",
        "\xcd\x84",
        "\xe2\x84\xab",
        "\xef\xa8\x99",
        "\xe1\xbe\x82",
        "plain",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(inputs); i++) {
        char once[KURA_NAME_MAX + 1], twice[KURA_NAME_MAX + 1];
        size_t n1, n2;
        const char *why;
        assert_int_equal(kura_name_normalize(inputs[i], strlen(inputs[i]), once, &n1, &why), 0);
        assert_int_equal(kura_name_normalize(once, n1, twice, &n2, &why), 0);
        assert_int_equal(n1, n2);
        assert_memory_equal(once, twice, n1);
    }
}

static void test_why_lang(void **state)
{
    (void)state;
    char out[KURA_NAME_MAX + 1];
    size_t n;
    const char *why = NULL;
    assert_int_equal(kura_name_normalize("a\tb", 3, out, &n, &why), KURA_EBADNAME);
    assert_string_equal(kura_name_why_lang(why, KURA_LANG_EN), CTL);
    assert_string_equal(kura_name_why_lang(why, KURA_LANG_JA), "名前に制御文字が含まれています");
    /* A copy of the reason maps too; an unknown string comes back as it is. */
    char copy[64];
    snprintf(copy, sizeof(copy), "%s", why);
    assert_string_equal(kura_name_why_lang(copy, KURA_LANG_JA), "名前に制御文字が含まれています");
    assert_string_equal(kura_name_why_lang("something else", KURA_LANG_JA), "something else");
    assert_string_equal(kura_name_why_lang(NULL, KURA_LANG_JA), "");
    /* Every reason has a Japanese text of its own. */
    static const char *const all[] = {
        "name is empty",
        UTF8,
        "name contains a NUL byte",
        "name contains '/'",
        "name contains '\\'",
        CTL,
        BIDI,
        INVIS,
        NONCHAR,
        DOTS,
        EDGE,
        "name ends with '.'",
        TOOLONG,
        PATHLONG,
        EMPTYSEG,
        "path has more than 128 levels",
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(all); i++) {
        const char *ja = kura_name_why_lang(all[i], KURA_LANG_JA);
        assert_string_not_equal(ja, all[i]);
        assert_true((unsigned char)ja[0] >= 0x80); /* starts with Japanese, not English */
    }
}

/* ---- paths --------------------------------------------------------------------------------- */

static void expect_path(const char *in, const char *want, size_t want_nseg, bool want_trailing)
{
    struct kura_path p = KURA_PATH_INIT;
    const char *why = NULL;
    int r = kura_path_normalize(in, strlen(in), &p, &why);
    if (r != 0) {
        fail_msg("refused path '%s': %s", in, why ? why : "(no reason)");
    }
    assert_string_equal(p.ptr, want);
    assert_int_equal(p.len, strlen(want));
    assert_int_equal(p.nseg, want_nseg);
    assert_int_equal(p.trailing_slash, want_trailing);
    /* The slices cover ptr exactly, separated by single slashes. */
    size_t off = 0;
    for (size_t k = 0; k < p.nseg; k++) {
        assert_ptr_equal(p.segs[k].ptr, p.ptr + off);
        assert_true(p.segs[k].len > 0);
        off += p.segs[k].len;
        if (k + 1 < p.nseg) {
            assert_int_equal(p.ptr[off], '/');
            off++;
        }
    }
    assert_int_equal(off, p.len);
    if (p.nseg == 0) {
        assert_null(p.segs);
    }
    kura_path_release(&p);
    assert_null(p.ptr);
    kura_path_release(&p); /* a released path may be released again */
}

static void expect_bad_path_len(const char *in, size_t len, const char *want_why)
{
    struct kura_path p = {(char *)"untouched", 9, NULL, 0, false};
    const char *why = NULL;
    assert_int_equal(kura_path_normalize(in, len, &p, &why), KURA_EBADNAME);
    assert_non_null(why);
    assert_string_equal(why, want_why);
    assert_string_equal(p.ptr, "untouched");
}

static void expect_bad_path(const char *in, const char *want_why)
{
    expect_bad_path_len(in, strlen(in), want_why);
}

static void test_paths(void **state)
{
    (void)state;
    expect_path("", "", 0, false); /* the space root */
    expect_path("/", "", 0, true);
    expect_path("a", "a", 1, false);
    expect_path("a/b/c.txt", "a/b/c.txt", 3, false);
    expect_path("a/b/", "a/b", 2, true);
    expect_path("Cafe\xcc\x81/\xe3\x81\x8b\xe3\x82\x99.txt/", "Caf\xc3\xa9/\xe3\x81\x8c.txt", 2,
                true);
    expect_path("%2e%2e/%2F", "%2e%2e/%2F", 2, false); /* already decoded: literal names */

    expect_bad_path("a//b", EMPTYSEG);
    expect_bad_path("/a", EMPTYSEG);
    expect_bad_path("a//", EMPTYSEG);
    expect_bad_path("//", EMPTYSEG);
    /* Traversal is refused, never resolved. */
    expect_bad_path("..", DOTS);
    expect_bad_path("../a", DOTS);
    expect_bad_path("a/../b", DOTS);
    expect_bad_path("a/..", DOTS);
    expect_bad_path("a/../", DOTS);
    expect_bad_path("./a", DOTS);
    expect_bad_path("a/./b", DOTS);
    expect_bad_path("a/.", DOTS);
    expect_bad_path("a/..\\..\\etc", "name contains '\\'");
    expect_bad_path("a/\xc0\xae\xc0\xae/b", UTF8); /* overlong ".." */
    expect_bad_path_len("a\0/b", 4, "name contains a NUL byte");
    expect_bad_path_len("a/b\0", 4, "name contains a NUL byte");
    expect_bad_path("a/b\xe2\x80\xae/c", BIDI);
    expect_bad_path("a /b", EDGE);
}

/* A path of exactly len bytes: segments of 99 'a' separated by '/'. */
static void fill_path(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (i % 100 == 99) ? '/' : 'a';
    }
}

static void test_path_limits(void **state)
{
    (void)state;
    static char in[16384];
    struct kura_path p = KURA_PATH_INIT;
    const char *why = NULL;

    fill_path(in, 4096); /* ends in 'a': 4096 % 100 == 96 */
    assert_int_equal(kura_path_normalize(in, 4096, &p, &why), 0);
    assert_int_equal(p.len, 4096);
    assert_int_equal(p.nseg, 41);
    assert_memory_equal(p.ptr, in, 4096);
    kura_path_release(&p);
    fill_path(in, 4097);
    expect_bad_path_len(in, 4097, PATHLONG);

    /* The trailing '/' counts. */
    fill_path(in, 4095);
    in[4095] = '/';
    assert_int_equal(kura_path_normalize(in, 4096, &p, &why), 0);
    assert_int_equal(p.len, 4095);
    assert_true(p.trailing_slash);
    kura_path_release(&p);
    fill_path(in, 4096);
    in[4096] = '/';
    expect_bad_path_len(in, 4097, PATHLONG);

    /* Growing past the limit through NFC: 20 segments of 63 x U+0344 are 2539 bytes in, 5059
     * out, and every segment (252 bytes out) is a good name. */
    size_t len = 0;
    for (int s = 0; s < 20; s++) {
        if (s > 0) {
            in[len++] = '/';
        }
        len += build(in + len, 0, "\xcd\x84", 2, 63);
    }
    assert_int_equal(len, 2539);
    expect_bad_path_len(in, len, PATHLONG);
    assert_int_equal(kura_path_normalize(in, 16 * 127 - 1, &p, &why), 0); /* 16: 4047 out */
    assert_int_equal(p.len, 16 * 253 - 1);
    kura_path_release(&p);
    assert_int_equal(kura_path_normalize(in, 17 * 127 - 1, &p, &why), KURA_EBADNAME); /* 4300 */

    /* Shrinking under the limit through NFC does not help: the input is capped first. */
    len = 0;
    for (int s = 0; s < 20; s++) {
        if (s > 0) {
            in[len++] = '/';
        }
        len += build(in + len, 0, "e\xcc\x81", 3, 70); /* 210 in, 140 out */
    }
    assert_true(len > 4096);
    expect_bad_path_len(in, len, PATHLONG);

    /* Depth: 128 segments pass, 129 do not. */
    len = 0;
    for (int s = 0; s < 128; s++) {
        in[len++] = 'd';
        in[len++] = '/';
    }
    assert_int_equal(kura_path_normalize(in, len - 1, &p, &why), 0);
    assert_int_equal(p.nseg, 128);
    kura_path_release(&p);
    assert_int_equal(kura_path_normalize(in, len, &p, &why), 0); /* with a trailing '/' */
    assert_int_equal(p.nseg, 128);
    kura_path_release(&p);
    in[len++] = 'd';
    expect_bad_path_len(in, len, "path has more than 128 levels");
    /* A name over 255 bytes inside a path. */
    memset(in, 'n', 256);
    in[256] = '/';
    in[257] = 'x';
    expect_bad_path_len(in, 258, TOOLONG);
}

#ifdef KURA_FAULT_INJECTION
static void test_out_of_memory(void **state)
{
    (void)state;
    /* Each allocation in turn fails: the call reports -ENOMEM and leaks nothing (ASan). */
    const char *in = "Cafe\xcc\x81/\xe1\xbe\x82\xe1\xbe\x82\xe1\xbe\x82/x";
    int r = -ENOMEM;
    unsigned long n;
    for (n = 1; n < 20 && r == -ENOMEM; n++) {
        struct kura_path p = KURA_PATH_INIT;
        const char *why = NULL;
        kura_alloc_fail_at(n);
        r = kura_path_normalize(in, strlen(in), &p, &why);
        kura_alloc_fail_at(0);
        if (r == 0) {
            assert_string_equal(p.ptr, "Caf\xc3\xa9/\xe1\xbe\x82\xe1\xbe\x82\xe1\xbe\x82/x");
            kura_path_release(&p);
        } else {
            assert_int_equal(r, -ENOMEM);
            assert_null(p.ptr);
        }
    }
    assert_int_equal(r, 0);
    assert_true(n > 3); /* at least the block and one name's buffer could fail */
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nfd_to_nfc),    cmocka_unit_test(test_nfc_unchanged),
        cmocka_unit_test(test_rejections),    cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_name_limits),   cmocka_unit_test(test_case_sensitive),
        cmocka_unit_test(test_idempotent),    cmocka_unit_test(test_why_lang),
        cmocka_unit_test(test_paths),         cmocka_unit_test(test_path_limits),
#ifdef KURA_FAULT_INJECTION
        cmocka_unit_test(test_out_of_memory),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
