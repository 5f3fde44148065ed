/* compose.c — RFC 5322 messages that cannot carry an injected header.
 *
 * Every caller-supplied value is validated before a byte is written: addresses by
 * kura_mail_address_valid, the subject as UTF-8 without control bytes (then written either as
 * short printable ASCII or as RFC 2047 encoded-words), the body as UTF-8 without NUL or bare CR
 * (then base64, RFC 2045 §6.8). Lines end in CRLF (RFC 5322 §2.1) and header lines stay within
 * 78 columns wherever a single address does not exceed it (§2.1.1; never beyond 998).
 */
#include "mail-internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define LINE_SOFT_MAX 78
#define B64_LINE 76 /* RFC 2045 §6.8 */
#define B64_LINE_BYTES (B64_LINE / 4 * 3)
#define EW_PREFIX "=?UTF-8?B?" /* RFC 2047 §2: charset, "B", base64 text */
#define EW_SUFFIX "?="
#define SUBJECT_FIRST_BYTES 42 /* "Subject: " + 12 + 56 base64 = 77 columns */
#define SUBJECT_NEXT_BYTES 45  /* " " + 12 + 60 base64 = 73 columns; word 72 <= 75 */

bool kura_mail_address_valid(const char *s)
{
    size_t len = strlen(s);
    const char *at = memchr(s, '@', len);
    if (!at || at == s || len > KURA_MAIL_ADDR_MAX) {
        return false;
    }
    const char *domain = at + 1;
    size_t domain_len = len - (size_t)(domain - s);
    if (domain_len == 0 || memchr(domain, '@', domain_len)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>(),;:\\[]", c)) {
            return false;
        }
    }
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    return kura_conf_parse_hostport(domain, domain_len, host, &port) == 0 && port == 0;
}

void mail_format_date(int64_t wall_ms, char out[static MAIL_DATE_MAX])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t secs = (time_t)(wall_ms / 1000);
    if (wall_ms % 1000 < 0) {
        secs--;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 1900 || tm.tm_year + 1900 > 9999) {
        /* A clock before 1900 or after 9999 is broken; RFC 5322 §3.3 needs 4+ digit years. */
        secs = 0;
        (void)gmtime_r(&secs, &tm);
    }
    char tmp[96]; /* what the compiler can prove the format needs for any int fields */
    (void)snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
                   tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                   tm.tm_sec);
    size_t n = strlen(tmp);
    if (n >= MAIL_DATE_MAX) {
        n = MAIL_DATE_MAX - 1;
    }
    memcpy(out, tmp, n);
    out[n] = '\0';
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Appends the base64 of len (<= 57) bytes, with padding (RFC 4648 §4). */
static void add_b64(struct kura_buf *b, const unsigned char *in, size_t len)
{
    char out[B64_LINE + 4];
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len) {
            v |= (unsigned)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    kura_buf_add(b, out, o);
}

/* Length of the UTF-8 sequence starting with lead (input already validated). */
static size_t utf8_seq_len(unsigned char lead)
{
    if (lead < 0x80) {
        return 1;
    }
    if (lead < 0xe0) {
        return 2;
    }
    if (lead < 0xf0) {
        return 3;
    }
    return 4;
}

static int check_subject(struct kura_str s)
{
    if (s.len > KURA_MAIL_SUBJECT_MAX) {
        return KURA_ETOOBIG;
    }
    if (s.len > 0 && (kura_has_ctl(s.ptr, s.len, false) || !kura_utf8_valid(s.ptr, s.len))) {
        return KURA_EBADHDR;
    }
    return 0;
}

/* Short printable ASCII goes out as it is; anything else as encoded-words. "=?" is encoded too,
 * so that a plain subject is never mistaken for an encoded-word by a reader (RFC 2047 §5). */
static bool subject_plain(struct kura_str s)
{
    if (s.len + strlen("Subject: ") > LINE_SOFT_MAX) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x20 || c > 0x7e || (c == '=' && i + 1 < s.len && s.ptr[i + 1] == '?')) {
            return false;
        }
    }
    return true;
}

/* RFC 2047 §5(1) and §2: each encoded-word holds whole characters (a word may not split a
 * multi-byte sequence), is at most 75 characters, and words are separated by folding white
 * space, which decoders drop between adjacent encoded-words (§6.2). */
static void add_subject(struct kura_buf *b, struct kura_str s)
{
    kura_buf_adds(b, "Subject: ");
    if (subject_plain(s)) {
        kura_buf_addstr(b, s);
        kura_buf_adds(b, "\r\n");
        return;
    }
    size_t i = 0, limit = SUBJECT_FIRST_BYTES;
    while (i < s.len) {
        size_t end = i;
        while (end < s.len) {
            size_t n = utf8_seq_len((unsigned char)s.ptr[end]);
            if (end + n - i > limit) {
                break;
            }
            end += n;
        }
        if (i > 0) {
            kura_buf_adds(b, "\r\n ");
        }
        kura_buf_adds(b, EW_PREFIX);
        add_b64(b, (const unsigned char *)s.ptr + i, end - i);
        kura_buf_adds(b, EW_SUFFIX);
        i = end;
        limit = SUBJECT_NEXT_BYTES;
    }
    kura_buf_adds(b, "\r\n");
}

static void add_to(struct kura_buf *b, const char *const *to, size_t nto)
{
    size_t col = strlen("To: ");
    kura_buf_adds(b, "To: ");
    for (size_t i = 0; i < nto; i++) {
        size_t n = strlen(to[i]);
        if (i > 0) {
            if (col + 2 + n <= LINE_SOFT_MAX) {
                kura_buf_adds(b, ", ");
                col += 2;
            } else {
                kura_buf_adds(b, ",\r\n ");
                col = 1;
            }
        }
        kura_buf_add(b, to[i], n);
        col += n;
    }
    kura_buf_adds(b, "\r\n");
}

static int check_body(struct kura_str s)
{
    if (s.len > KURA_MAIL_BODY_MAX) {
        return KURA_ETOOBIG;
    }
    if (s.len == 0) {
        return 0;
    }
    if (memchr(s.ptr, '\0', s.len) || !kura_utf8_valid(s.ptr, s.len)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '\r' && (i + 1 == s.len || s.ptr[i + 1] != '\n')) {
            return -EINVAL; /* a bare CR has no meaning in text/plain (RFC 2046 §4.1.1) */
        }
    }
    return 0;
}

/* Adds one byte to the group of a base64 line; a full group becomes a line. */
static void push_byte(struct kura_buf *b, unsigned char group[static B64_LINE_BYTES], size_t *n,
                      unsigned char c)
{
    group[(*n)++] = c;
    if (*n == B64_LINE_BYTES) {
        add_b64(b, group, *n);
        kura_buf_adds(b, "\r\n");
        *n = 0;
    }
}

/* The body in canonical form (every line break CRLF), base64 in lines of 76 plus CRLF. */
static void add_body(struct kura_buf *b, struct kura_str s)
{
    unsigned char group[B64_LINE_BYTES];
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '\n' && (i == 0 || s.ptr[i - 1] != '\r')) {
            push_byte(b, group, &n, '\r');
        }
        push_byte(b, group, &n, c);
    }
    if (n > 0) {
        add_b64(b, group, n);
        kura_buf_adds(b, "\r\n");
    }
}

int mail_compose_at(const struct kura_mail_msg *m, const char *from, int64_t date_ms,
                    const char *msgid_token, struct kura_buf *ret)
{
    if (m->nto == 0) {
        return -EINVAL;
    }
    if (m->nto > KURA_MAIL_RCPT_MAX) {
        return KURA_ETOOBIG;
    }
    if (!from || !kura_mail_address_valid(from)) {
        return KURA_EBADHDR;
    }
    for (size_t i = 0; i < m->nto; i++) {
        if (!m->to[i] || !kura_mail_address_valid(m->to[i])) {
            return KURA_EBADHDR;
        }
    }
    int r = check_subject(m->subject);
    if (r < 0) {
        return r;
    }
    r = check_body(m->body);
    if (r < 0) {
        return r;
    }

    char date[MAIL_DATE_MAX];
    mail_format_date(date_ms, date);
    const char *domain = strchr(from, '@') + 1;
    _cleanup_(kura_buf_release) struct kura_buf b = KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX);
    kura_buf_addf(&b, "Date: %s\r\n", date);
    kura_buf_addf(&b, "From: %s\r\n", from);
    add_to(&b, m->to, m->nto);
    add_subject(&b, m->subject);
    kura_buf_addf(&b, "Message-ID: <%s@%s>\r\n", msgid_token, domain);
    kura_buf_adds(&b, "MIME-Version: 1.0\r\n"
                      "Content-Type: text/plain; charset=UTF-8\r\n"
                      "Content-Transfer-Encoding: base64\r\n"
                      "Auto-Submitted: auto-generated\r\n"
                      "\r\n");
    add_body(&b, m->body);
    r = kura_buf_err(&b);
    if (r < 0) {
        return r;
    }
    kura_buf_add(ret, b.ptr, b.len);
    return kura_buf_err(ret);
}

int kura_mail_compose(const struct kura_mail_msg *m, const char *from, struct kura_buf *ret)
{
    unsigned char rnd[16];
    char token[2 * sizeof(rnd) + 1];
    int r = kura_random(rnd, sizeof(rnd));
    if (r < 0) {
        return r;
    }
    kura_hex_encode(token, rnd, sizeof(rnd));
    return mail_compose_at(m, from, kura_clock_wall_ms(), token, ret);
}

size_t kura_mail_split_list(const char *list, char *buf, size_t size,
                            const char *to[static KURA_MAIL_RCPT_MAX])
{
    size_t n = 0, used = 0;
    struct kura_str rest = kura_str_c(list), item;
    for (bool more = rest.len > 0; more && n < KURA_MAIL_RCPT_MAX;) {
        more = kura_str_split(&rest, ',', &item);
        item = kura_str_trim_ows(item);
        if (item.len == 0 || used + item.len + 1 > size) {
            continue;
        }
        memcpy(buf + used, item.ptr, item.len);
        buf[used + item.len] = '\0';
        to[n++] = buf + used;
        used += item.len + 1;
    }
    return n;
}

const char *kura_mail_from(const struct kura_conf *conf)
{
    static _Thread_local char from[KURA_CONF_HOST_MAX + 8];
    if (conf->mail.from[0]) {
        return conf->mail.from;
    }
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    if (kura_conf_parse_origin(conf->http.public_url, host, &port) < 0) {
        return "kura@localhost";
    }
    (void)snprintf(from, sizeof(from), "kura@%s", host);
    return from;
}
