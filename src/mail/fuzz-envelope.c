/* fuzz-envelope.c — libFuzzer harness for the mail spool file's envelope (spool.c,
 * mail_spool_parse and mail_spool_format; the format is in mail.h). Seeds: tests/fuzz/envelope/.
 *
 * Oracles:
 *  - whatever parses satisfies the documented limits: 1 to KURA_MAIL_RCPT_MAX recipients, a
 *    sender and recipients that are valid addresses (ASCII without space, control byte, quote,
 *    angle bracket or "(),;:\[]", one '@' after a non-empty local part, at most
 *    KURA_MAIL_ADDR_MAX bytes), attempts within 32 bits, times not negative, an error line of 1
 *    to MAIL_REASON_MAX - 1 bytes of UTF-8 without control bytes, and (unless head_only) a
 *    non-empty message of at most KURA_MAIL_MESSAGE_MAX bytes: the bytes after the blank line;
 *  - a file that parses whole also parses head-only, to the same envelope;
 *  - the writer round-trips: what mail_spool_format writes for a parsed envelope parses to the
 *    same fields, and writing that again gives the same bytes;
 *  - the error text that the sender stores is always accepted: mail_reason_clean of any bytes
 *    gives a clean line (no control bytes, valid UTF-8, under MAIL_REASON_MAX, no leading,
 *    trailing or doubled spaces) that an envelope carries through format and parse unchanged.
 */
#include "mail-internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (MAIL_SPOOL_FILE_MAX + 1024)

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static bool within(struct kura_str s, const char *p, size_t len)
{
    return s.len == 0 || (s.ptr >= p && s.len <= len && (size_t)(s.ptr - p) <= len - s.len);
}

/* mail.h's address rule, restated; and the library's own check. */
static void check_address(struct kura_str a)
{
    check(a.len > 0 && a.len <= KURA_MAIL_ADDR_MAX);
    size_t ats = 0;
    for (size_t i = 0; i < a.len; i++) {
        unsigned char c = (unsigned char)a.ptr[i];
        check(c > 0x20 && c < 0x7f && !strchr("\"<>(),;:\\[]", c));
        ats += c == '@';
    }
    check(ats == 1 && a.ptr[0] != '@' && a.ptr[a.len - 1] != '@');
    char tmp[KURA_MAIL_ADDR_MAX + 1];
    memcpy(tmp, a.ptr, a.len);
    tmp[a.len] = '\0';
    check(kura_mail_address_valid(tmp));
}

static void check_error_text(struct kura_str e)
{
    check(e.len < MAIL_REASON_MAX && !kura_has_ctl(e.ptr, e.len, false) &&
          kura_utf8_valid(e.ptr, e.len));
}

static void check_entry(const struct mail_spool_entry *e, const char *p, size_t len, bool head_only)
{
    check(e->nto >= 1 && e->nto <= KURA_MAIL_RCPT_MAX);
    check(within(e->from, p, len));
    check_address(e->from);
    for (size_t i = 0; i < e->nto; i++) {
        check(within(e->to[i], p, len));
        check_address(e->to[i]);
    }
    check(e->attempts <= UINT32_MAX && e->created_ms >= 0 && e->next_ms >= 0 && e->failed_ms >= 0);
    check(within(e->error, p, len));
    check_error_text(e->error);
    if (head_only) {
        check(e->message.len == 0);
    } else {
        /* The message is everything after the first blank line. */
        check(e->message.len > 0 && e->message.len <= KURA_MAIL_MESSAGE_MAX);
        check(e->message.ptr + e->message.len == p + len);
        size_t head = (size_t)(e->message.ptr - p);
        check(head >= 2 && p[head - 1] == '\n' && p[head - 2] == '\n');
        check(memmem(p, head, "\n\n", 2) == p + head - 2);
    }
}

static bool str_same(struct kura_str a, struct kura_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void check_same(const struct mail_spool_entry *a, const struct mail_spool_entry *b,
                       bool message)
{
    check(str_same(a->from, b->from) && a->nto == b->nto);
    for (size_t i = 0; i < a->nto; i++) {
        check(str_same(a->to[i], b->to[i]));
    }
    check(a->created_ms == b->created_ms && a->attempts == b->attempts &&
          a->next_ms == b->next_ms && a->failed_ms == b->failed_ms);
    check(str_same(a->error, b->error));
    check(!message || str_same(a->message, b->message));
}

/* format, parse, format: same fields, same bytes. */
static void round_trip(const struct mail_spool_entry *e, bool head_only)
{
    struct kura_buf out1 = KURA_BUF_INIT(OUT_MAX), out2 = KURA_BUF_INIT(OUT_MAX);
    mail_spool_format(e, &out1);
    check(kura_buf_err(&out1) == 0);
    struct mail_spool_entry again;
    check(mail_spool_parse(out1.ptr, out1.len, head_only, &again) == 0);
    check_entry(&again, out1.ptr, out1.len, head_only);
    check_same(e, &again, !head_only);
    mail_spool_format(&again, &out2);
    check(kura_buf_err(&out2) == 0);
    check(str_same(kura_buf_str(&out1), kura_buf_str(&out2)));
    kura_buf_release(&out1);
    kura_buf_release(&out2);
}

static void parse_input(const char *p, size_t len)
{
    struct mail_spool_entry full, head;
    int r = mail_spool_parse(p, len, false, &full);
    int rh = mail_spool_parse(p, len, true, &head);
    check(r == 0 || r == KURA_ECORRUPT);
    check(rh == 0 || rh == KURA_ECORRUPT);
    if (rh == 0) {
        check_entry(&head, p, len, true);
        round_trip(&head, true);
    }
    if (r == 0) {
        check(rh == 0);
        check_entry(&full, p, len, false);
        check_same(&full, &head, false);
        round_trip(&full, false);
    }
}

/* The sender's error text: any bytes, cleaned, stored, read back. */
static void reason(const char *p, size_t len)
{
    char clean[MAIL_REASON_MAX];
    mail_reason_clean(p, len, clean);
    size_t n = strnlen(clean, sizeof(clean));
    check(n < MAIL_REASON_MAX);
    struct kura_str e = kura_str_make(clean, n);
    check_error_text(e);
    check(n == 0 || (clean[0] != ' ' && clean[n - 1] != ' '));
    check(!memmem(clean, n, "  ", 2));
    struct mail_spool_entry entry = {
        .from = KURA_STR("kura@example.org"),
        .to = {KURA_STR("a@example.org")},
        .nto = 1,
        .created_ms = 1795305493123,
        .attempts = 3,
        .next_ms = 1795305523123,
        .error = e,
        .failed_ms = n % 2 ? 1795305593123 : 0,
        .message = KURA_STR("Subject: t\r\n\r\nbody\r\n"),
    };
    round_trip(&entry, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_input((const char *)data, size);
    reason((const char *)data, size);
    return 0;
}
