/* Unit tests for message building: golden output with a fixed Date and Message-ID, RFC 2047
 * subjects in Japanese, base64 bodies, line lengths, and every injection and limit refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mail/mail-internal.h"

#define T0 1700000000000LL /* Tue, 14 Nov 2023 22:13:20 UTC */

static const char *const one_to[] = {"officer@example.org"};

static struct kura_mail_msg msg(const char *const *to, size_t nto, const char *subject,
                                const char *body)
{
    return (struct kura_mail_msg){to, nto, kura_str_c(subject), kura_str_c(body)};
}

/* Composes with the fixed hooks; asserts success. */
static void compose_fixed(const struct kura_mail_msg *m, struct kura_buf *out)
{
    kura_buf_init(out, KURA_MAIL_MESSAGE_MAX);
    assert_int_equal(mail_compose_at(m, "kura@example.org", T0, "0123abcd", out), 0);
}

static int b64_value(char c)
{
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alpha, c) : NULL;
    return p ? (int)(p - alpha) : -1;
}

/* Decodes base64 (no line breaks) and appends to out. */
static void b64_decode(const char *s, size_t len, struct kura_buf *out)
{
    assert_int_equal(len % 4, 0);
    for (size_t i = 0; i < len; i += 4) {
        int v[4] = {0};
        for (int k = 0; k < 4; k++) {
            v[k] = s[i + k] == '=' ? 0 : b64_value(s[i + k]);
            assert_true(v[k] >= 0);
        }
        unsigned w =
            (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        kura_buf_addc(out, (char)(w >> 16));
        if (s[i + 2] != '=') {
            kura_buf_addc(out, (char)(w >> 8 & 0xff));
        }
        if (s[i + 3] != '=') {
            kura_buf_addc(out, (char)(w & 0xff));
        }
    }
}

/* Every line ends in CRLF, no bare CR or LF, no line longer than max columns. */
static void assert_lines(const char *p, size_t len, size_t max)
{
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\r') {
            assert_true(i + 1 < len && p[i + 1] == '\n');
            i++;
            col = 0;
            continue;
        }
        assert_true(p[i] != '\n');
        col++;
        assert_true(col <= max);
    }
    assert_int_equal(col, 0);
}

/* The decoded subject of a composed message. */
static void decode_subject(const char *msgtext, struct kura_buf *out)
{
    const char *p = strstr(msgtext, "\r\nSubject: ");
    assert_non_null(p);
    p += strlen("\r\nSubject: ");
    for (;;) {
        if (strncmp(p, "=?UTF-8?B?", 10) != 0) {
            const char *end = strstr(p, "\r\n");
            kura_buf_add(out, p, (size_t)(end - p));
            return;
        }
        p += 10;
        const char *end = strstr(p, "?=");
        assert_non_null(end);
        /* RFC 2047 §2: an encoded-word is at most 75 characters. */
        assert_true((size_t)(end - p) + 12 <= 75);
        struct kura_buf word = KURA_BUF_INIT(256);
        b64_decode(p, (size_t)(end - p), &word);
        /* Whole characters in every word (§5). */
        assert_true(kura_utf8_valid(word.ptr, word.len));
        kura_buf_add(out, word.ptr, word.len);
        kura_buf_release(&word);
        p = end + 2;
        if (strncmp(p, "\r\n ", 3) != 0) {
            return;
        }
        p += 3;
    }
}

/* The decoded body of a composed message. */
static void decode_body(const char *msgtext, struct kura_buf *out)
{
    const char *p = strstr(msgtext, "\r\n\r\n");
    assert_non_null(p);
    p += 4;
    while (*p) {
        const char *end = strstr(p, "\r\n");
        assert_non_null(end);
        assert_true(end - p <= 76);
        b64_decode(p, (size_t)(end - p), out);
        p = end + 2;
    }
}

static void test_address_valid(void **state)
{
    (void)state;
    const char *good[] = {"a@b", "officer@example.org", "first.last+tag@mail.example.co.jp",
                          "x@127.0.0.1", "o'brien@example.org"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(good); i++) {
        assert_true(kura_mail_address_valid(good[i]));
    }
    char longest[KURA_MAIL_ADDR_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + KURA_MAIL_ADDR_MAX - 6, "@b.org", 7); /* exactly 254 bytes */
    assert_true(kura_mail_address_valid(longest));
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + KURA_MAIL_ADDR_MAX - 5, "@b.org", 7); /* 255 bytes */
    assert_false(kura_mail_address_valid(longest));

    const char *bad[] = {"",
                         "@example.org",
                         "officer",
                         "officer@",
                         "a@b@c",
                         "a b@example.org",
                         "a@example.org\r\nBcc: evil@example.net",
                         "a@example.org\nBcc: evil@example.net",
                         "<a@example.org>",
                         "\"a\"@example.org",
                         "a@example.org, evil@example.net",
                         "a@example.org;evil@example.net",
                         "a@[127.0.0.1]",
                         "a@example.org:25",
                         "a@-bad-.org",
                         "a@exa_mple.org",
                         "a\t@example.org",
                         "a\x7f@example.org",
                         "\xe7\x9b\xa3@example.org",
                         "a@\xe4\xbe\x8b.jp",
                         "a(comment)@example.org",
                         "a\\b@example.org"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        assert_false(kura_mail_address_valid(bad[i]));
    }
}

static void test_date(void **state)
{
    (void)state;
    char d[MAIL_DATE_MAX];
    mail_format_date(T0, d);
    assert_string_equal(d, "Tue, 14 Nov 2023 22:13:20 +0000");
    mail_format_date(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
    mail_format_date(951782400999LL, d); /* a leap day */
    assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 +0000");
}

static void test_golden_ascii(void **state)
{
    (void)state;
    struct kura_mail_msg m = msg(one_to, 1, "kura: daily checkpoint digest", "Hello,\nworld.\n");
    struct kura_buf out;
    compose_fixed(&m, &out);
    assert_string_equal(out.ptr, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                                 "From: kura@example.org\r\n"
                                 "To: officer@example.org\r\n"
                                 "Subject: kura: daily checkpoint digest\r\n"
                                 "Message-ID: <0123abcd@example.org>\r\n"
                                 "MIME-Version: 1.0\r\n"
                                 "Content-Type: text/plain; charset=UTF-8\r\n"
                                 "Content-Transfer-Encoding: base64\r\n"
                                 "Auto-Submitted: auto-generated\r\n"
                                 "\r\n"
                                 "SGVsbG8sDQp3b3JsZC4NCg==\r\n");
    kura_buf_release(&out);
}

static void test_golden_japanese(void **state)
{
    (void)state;
    const char *to[] = {"officer@example.org", "second-officer@example.org",
                        "third.officer.with.a.long.name@audit.example.org"};
    const char *subject = "監査アラート：ログインの連続失敗 / Audit alert: repeated login failures";
    const char *body = "ログイン失敗が 5 回続きました。\nFive login failures in a row.\n";
    struct kura_mail_msg m = msg(to, 3, subject, body);
    struct kura_buf out;
    compose_fixed(&m, &out);
    assert_string_equal(
        out.ptr, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                 "From: kura@example.org\r\n"
                 "To: officer@example.org, second-officer@example.org,\r\n"
                 " third.officer.with.a.long.name@audit.example.org\r\n"
                 "Subject: =?UTF-8?B?55uj5p+744Ki44Op44O844OI77ya44Ot44Kw44Kk44Oz44Gu6YCj57aa?=\r\n"
                 " =?UTF-8?B?5aSx5pWXIC8gQXVkaXQgYWxlcnQ6IHJlcGVhdGVkIGxvZ2luIGZhaWx1cmVz?=\r\n"
                 "Message-ID: <0123abcd@example.org>\r\n"
                 "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: base64\r\n"
                 "Auto-Submitted: auto-generated\r\n"
                 "\r\n"
                 "44Ot44Kw44Kk44Oz5aSx5pWX44GMIDUg5Zue57aa44GN44G+44GX44Gf44CCDQpGaXZlIGxvZ2lu\r\n"
                 "IGZhaWx1cmVzIGluIGEgcm93Lg0K\r\n");
    assert_lines(out.ptr, out.len, 78);

    struct kura_buf s = KURA_BUF_INIT(4096);
    decode_subject(out.ptr, &s);
    assert_string_equal(s.ptr, subject);
    kura_buf_release(&s);
    kura_buf_release(&out);
}

static void test_subject_long_and_markers(void **state)
{
    (void)state;
    /* 332 three-byte characters plus 2 ASCII bytes: 998 bytes, the limit. */
    char subject[KURA_MAIL_SUBJECT_MAX + 2];
    size_t n = 0;
    subject[n++] = 'A';
    for (int i = 0; i < 332; i++) {
        memcpy(subject + n, "\xe7\x9b\xa3", 3); /* 監 */
        n += 3;
    }
    subject[n++] = 'Z';
    subject[n] = '\0';
    assert_int_equal(n, KURA_MAIL_SUBJECT_MAX);
    struct kura_mail_msg m = msg(one_to, 1, subject, "x");
    struct kura_buf out, s = KURA_BUF_INIT(4096);
    compose_fixed(&m, &out);
    assert_lines(out.ptr, out.len, 78);
    decode_subject(out.ptr, &s);
    assert_string_equal(s.ptr, subject);
    kura_buf_release(&out);
    kura_buf_release(&s);

    /* One byte more is refused. */
    subject[n++] = 'Z';
    subject[n] = '\0';
    m = msg(one_to, 1, subject, "x");
    struct kura_buf none = KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX);
    assert_int_equal(mail_compose_at(&m, "kura@example.org", T0, "t", &none), KURA_ETOOBIG);

    /* A long ASCII subject and one that looks like an encoded-word are encoded too. */
    const char *tricky[] = {"=?UTF-8?B?QmNjOiBldmlsQGV4YW1wbGUubmV0?=",
                            ("a plain ASCII subject that is far too long to fit on the one line "
                             "that RFC 5322 recommends"),
                            ""};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(tricky); i++) {
        m = msg(one_to, 1, tricky[i], "x");
        compose_fixed(&m, &out);
        assert_lines(out.ptr, out.len, 78);
        s = (struct kura_buf)KURA_BUF_INIT(4096);
        decode_subject(out.ptr, &s);
        assert_string_equal(s.ptr ? s.ptr : "", tricky[i]);
        assert_true(i == 2 || strstr(out.ptr, "Subject: =?UTF-8?B?") != NULL);
        kura_buf_release(&out);
        kura_buf_release(&s);
    }
}

static void test_body(void **state)
{
    (void)state;
    /* Mixed LF and CRLF, tabs, Japanese, a line starting with a dot, lines longer than 998. */
    struct kura_buf body = KURA_BUF_INIT(KURA_MAIL_BODY_MAX);
    struct kura_buf canon = KURA_BUF_INIT(2 * KURA_MAIL_BODY_MAX);
    for (int i = 0; i < 300; i++) {
        const char *line = i % 3 == 0 ? "監査ログ\tcheckpoint 42" : i % 3 == 1 ? "." : "";
        kura_buf_adds(&body, line);
        kura_buf_adds(&canon, line);
        kura_buf_adds(&body, i % 2 ? "\r\n" : "\n");
        kura_buf_adds(&canon, "\r\n");
    }
    for (int i = 0; i < 2000; i++) {
        kura_buf_adds(&body, "x");
        kura_buf_adds(&canon, "x");
    }
    assert_int_equal(kura_buf_err(&body), 0);
    struct kura_mail_msg m = {one_to, 1, KURA_STR("s"), kura_buf_str(&body)};
    struct kura_buf out, dec = KURA_BUF_INIT(2 * KURA_MAIL_BODY_MAX);
    compose_fixed(&m, &out);
    assert_lines(out.ptr, out.len, 78);
    decode_body(out.ptr, &dec);
    assert_int_equal(dec.len, canon.len);
    assert_memory_equal(dec.ptr, canon.ptr, canon.len);
    kura_buf_release(&out);
    kura_buf_release(&dec);
    kura_buf_release(&body);
    kura_buf_release(&canon);

    /* The largest body, all line breaks, still fits the message limit. */
    char *big = kura_malloc(KURA_MAIL_BODY_MAX);
    assert_non_null(big);
    memset(big, '\n', KURA_MAIL_BODY_MAX);
    m.body = kura_str_make(big, KURA_MAIL_BODY_MAX);
    compose_fixed(&m, &out);
    kura_buf_release(&out);
    /* One byte more is refused. */
    kura_free(big);
    big = kura_malloc(KURA_MAIL_BODY_MAX + 1);
    assert_non_null(big);
    memset(big, 'a', KURA_MAIL_BODY_MAX + 1);
    m.body = kura_str_make(big, KURA_MAIL_BODY_MAX + 1);
    struct kura_buf none = KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX);
    assert_int_equal(mail_compose_at(&m, "kura@example.org", T0, "t", &none), KURA_ETOOBIG);
    kura_free(big);

    /* An empty body is a message with no body lines. */
    m.body = KURA_STR_NULL;
    compose_fixed(&m, &out);
    assert_non_null(strstr(out.ptr, "auto-generated\r\n\r\n"));
    assert_int_equal(out.ptr[out.len - 1], '\n');
    assert_int_equal(out.ptr[out.len - 3], '\n');
    kura_buf_release(&out);
}

/* Asserts that composing m fails with want and leaves the output untouched. */
static void refused(const struct kura_mail_msg *m, const char *from, int want)
{
    struct kura_buf out = KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX);
    kura_buf_adds(&out, "kept");
    assert_int_equal(mail_compose_at(m, from, T0, "t", &out), want);
    assert_string_equal(out.ptr, "kept");
    assert_int_equal(kura_buf_err(&out), 0);
    kura_buf_release(&out);
    out = (struct kura_buf)KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX);
    assert_int_equal(kura_mail_compose(m, from, &out), want);
    assert_null(out.ptr);
}

static void test_injection_refused(void **state)
{
    (void)state;
    const char *subjects[] = {"hello\r\nBcc: evil@example.net",
                              "hello\nBcc: evil@example.net",
                              "hello\rBcc: evil@example.net",
                              "tab\there",
                              "del\x7f",
                              "esc\x1b[31m",
                              "\xff\xfe",
                              "\xc0\xaf overlong",
                              "\xed\xa0\x80",
                              "cut \xe7\x9b"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(subjects); i++) {
        struct kura_mail_msg m = msg(one_to, 1, subjects[i], "body");
        refused(&m, "kura@example.org", KURA_EBADHDR);
    }
    /* An embedded NUL would cut the header for a C reader: refused. */
    struct kura_mail_msg m = {one_to, 1, {"a\0Bcc: x@y", 10}, KURA_STR("body")};
    refused(&m, "kura@example.org", KURA_EBADHDR);

    const char *bad_to[] = {"officer@example.org\r\nBcc: evil@example.net",
                            "officer@example.org, evil@example.net", "<officer@example.org>",
                            "Officer <officer@example.org>"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad_to); i++) {
        const char *to[] = {"ok@example.org", bad_to[i]};
        m = msg(to, 2, "s", "b");
        refused(&m, "kura@example.org", KURA_EBADHDR);
    }
    const char *null_to[] = {NULL};
    m = msg(null_to, 1, "s", "b");
    refused(&m, "kura@example.org", KURA_EBADHDR);
    m = msg(one_to, 1, "s", "b");
    refused(&m, "kura@example.org\r\nBcc: evil@example.net", KURA_EBADHDR);
    refused(&m, "", KURA_EBADHDR);
    refused(&m, NULL, KURA_EBADHDR);

    /* Bodies: NUL, bare CR, invalid UTF-8. */
    struct kura_str bodies[] = {
        {"a\0b", 3}, KURA_STR("a\rb"), KURA_STR("a\r"), KURA_STR("\xff"), KURA_STR("ok \xe7\x9b")};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bodies); i++) {
        m = (struct kura_mail_msg){one_to, 1, KURA_STR("s"), bodies[i]};
        refused(&m, "kura@example.org", -EINVAL);
    }
}

static void test_recipient_limits(void **state)
{
    (void)state;
    static char addrs[KURA_MAIL_RCPT_MAX + 1][32];
    const char *to[KURA_MAIL_RCPT_MAX + 1];
    for (size_t i = 0; i <= KURA_MAIL_RCPT_MAX; i++) {
        (void)snprintf(addrs[i], sizeof(addrs[i]), "officer%zu@example.org", i);
        to[i] = addrs[i];
    }
    struct kura_mail_msg m = msg(to, KURA_MAIL_RCPT_MAX, "s", "b");
    struct kura_buf out;
    compose_fixed(&m, &out);
    assert_lines(out.ptr, out.len, 78);
    assert_non_null(strstr(out.ptr, "officer31@example.org\r\nSubject: "));
    kura_buf_release(&out);
    m.nto = KURA_MAIL_RCPT_MAX + 1;
    refused(&m, "kura@example.org", KURA_ETOOBIG);
    m.nto = 0;
    refused(&m, "kura@example.org", -EINVAL);
}

static void test_random_headers(void **state)
{
    (void)state;
    struct kura_mail_msg m = msg(one_to, 1, "s", "b");
    struct kura_buf a = KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX), b = KURA_BUF_INIT(4096);
    assert_int_equal(kura_mail_compose(&m, "kura@kura.example.org", &a), 0);
    assert_int_equal(kura_mail_compose(&m, "kura@kura.example.org", &b), 0);
    const char *id = strstr(a.ptr, "\r\nMessage-ID: <");
    assert_non_null(id);
    id += strlen("\r\nMessage-ID: <");
    for (int i = 0; i < 32; i++) {
        assert_non_null(strchr("0123456789abcdef", id[i]));
    }
    assert_memory_equal(id + 32, "@kura.example.org>\r\n", 20);
    assert_true(strcmp(a.ptr, b.ptr) != 0); /* fresh Message-IDs */
    assert_memory_equal(a.ptr, "Date: ", 6);
    kura_buf_release(&a);
    kura_buf_release(&b);

    /* An output buffer too small fails with its sticky error. */
    struct kura_buf tiny = KURA_BUF_INIT(64);
    assert_int_equal(kura_mail_compose(&m, "kura@example.org", &tiny), KURA_ETOOBIG);
    kura_buf_release(&tiny);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_valid),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_golden_ascii),
        cmocka_unit_test(test_golden_japanese),
        cmocka_unit_test(test_subject_long_and_markers),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_injection_refused),
        cmocka_unit_test(test_recipient_limits),
        cmocka_unit_test(test_random_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
