/* fuzz-cursor.c — libFuzzer harness for the syslog forwarder's two readers in cursor.c: the
 * cursor file (syslog_cursor_parse / syslog_cursor_format) and the signed notes of
 * audit/checkpoints (syslog_note_next). Seeds: tests/fuzz/cursor/.
 *
 * Oracles:
 *  - a cursor is parsed exactly: whatever parses is written back by syslog_cursor_format to the
 *    very same bytes, and has sent >= confirmed record; a refusal is KURA_ECORRUPT;
 *  - any cursor with sent >= confirmed record (numbers from the input) is written and parsed
 *    back to the same numbers, and one with sent < confirmed record is refused;
 *  - syslog_note_next returns 1, 0 or KURA_ESYNTAX. A note it returns lies within the text and
 *    has the documented shape (origin line of 1 to KURA_AUDIT_ORIGIN_MAX - 1 bytes without
 *    control bytes, the size line in canonical decimal and equal to ret->size, a non-empty
 *    root line, an empty line, then only signature lines "— ...\n"); a resynchronising skip
 *    ends just after the first line end;
 *  - reading is incremental: a text cut at any point (not at its end) never gives another
 *    answer than the whole text gives: a note found in the prefix is the same note in the whole
 *    text, a refusal with a skip is the same refusal, and 0 ("more text needed") is the only
 *    other possibility; at_eof only ever ends a note that needed more text;
 *  - a checkpoint note signed by kura_audit_checkpoint_sign, with the input's bytes after it,
 *    is read as exactly that note with its size.
 */
#include "syslog-internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EM_DASH_SP "\xe2\x80\x94 "
#define DASH_LEN 4

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

/* ---- the cursor file ------------------------------------------------------------------------- */

static void cursor(const uint8_t *data, size_t size)
{
    struct syslog_cursor c;
    int r = syslog_cursor_parse((const char *)data, size, &c);
    check(r == 0 || r == KURA_ECORRUPT);
    if (r == 0) {
        check(c.sent >= c.confirmed.record);
        struct kura_buf out = KURA_BUF_INIT(SYSLOG_CURSOR_MAX);
        check(syslog_cursor_format(&c, &out) == 0);
        check(out.len == size && memcmp(out.ptr, data, size) == 0);
        kura_buf_release(&out);
    }
    /* Numbers from the input, through the writer and back. */
    if (size >= 24) {
        struct syslog_cursor w;
        memcpy(&w.confirmed.record, data, 8);
        memcpy(&w.confirmed.cp, data + 8, 8);
        memcpy(&w.sent, data + 16, 8);
        struct kura_buf out = KURA_BUF_INIT(SYSLOG_CURSOR_MAX);
        check(syslog_cursor_format(&w, &out) == 0);
        struct syslog_cursor back;
        r = syslog_cursor_parse(out.ptr, out.len, &back);
        if (w.sent >= w.confirmed.record) {
            check(r == 0 && back.confirmed.record == w.confirmed.record &&
                  back.confirmed.cp == w.confirmed.cp && back.sent == w.sent);
        } else {
            check(r == KURA_ECORRUPT);
        }
        kura_buf_release(&out);
    }
}

/* ---- notes in audit/checkpoints ---------------------------------------------------------------
 */

struct answer {
    int r;
    struct syslog_note note;
    size_t skip;
};

static struct answer next(const char *buf, size_t len, bool at_eof)
{
    struct answer a;
    memset(&a, 0, sizeof(a));
    a.r = syslog_note_next(buf, len, at_eof, &a.note, &a.skip);
    check(a.r == 1 || a.r == 0 || a.r == KURA_ESYNTAX);
    if (a.r != KURA_ESYNTAX) {
        check(a.skip == 0);
    }
    return a;
}

/* The line starting at off ends (LF) before len; its length in *ret. */
static bool line(const char *buf, size_t len, size_t off, size_t *ret)
{
    const char *nl = off < len ? memchr(buf + off, '\n', len - off) : NULL;
    if (!nl) {
        return false;
    }
    *ret = (size_t)(nl - buf) - off;
    return true;
}

/* A returned note has the documented shape. */
static void check_note(const char *buf, size_t len, const struct syslog_note *n)
{
    check(n->len > 0 && n->len <= len && buf[n->len - 1] == '\n');
    size_t l[4], off = 0;
    for (int i = 0; i < 4; i++) {
        check(line(buf, n->len, off, &l[i]));
        off += l[i] + 1;
    }
    check(l[0] == n->origin_len && l[0] > 0 && l[0] < KURA_AUDIT_ORIGIN_MAX &&
          !kura_has_ctl(buf, l[0], false));
    const char *sz = buf + l[0] + 1;
    check(l[1] > 0 && (l[1] == 1 || sz[0] != '0'));
    char want[24];
    int w = snprintf(want, sizeof(want), "%llu", (unsigned long long)n->size);
    check(w > 0 && (size_t)w == l[1] && memcmp(sz, want, l[1]) == 0);
    check(l[2] > 0 && l[3] == 0);
    size_t sigs = 0, sl;
    while (off < n->len) {
        check(n->len - off >= DASH_LEN && memcmp(buf + off, EM_DASH_SP, DASH_LEN) == 0);
        check(line(buf, n->len, off, &sl));
        off += sl + 1;
        sigs++;
    }
    check(sigs > 0 && off == n->len);
    /* The note ends where the documented rule says: at the end of the text (at_eof), or before
     * a byte that cannot start a signature line. */
    if (n->len < len) {
        size_t rest = len - n->len, k = rest < DASH_LEN ? rest : DASH_LEN;
        check(memcmp(buf + n->len, EM_DASH_SP, k) != 0);
    }
}

static bool same(const struct answer *a, const struct answer *b)
{
    return a->r == b->r && a->skip == b->skip &&
           (a->r != 1 || (a->note.len == b->note.len && a->note.size == b->note.size &&
                          a->note.origin_len == b->note.origin_len));
}

static void notes(const char *buf, size_t len)
{
    struct answer whole = next(buf, len, false), eof = next(buf, len, true);
    for (int i = 0; i < 2; i++) {
        const struct answer *a = i ? &eof : &whole;
        if (a->r == 1) {
            check_note(buf, len, &a->note);
        } else if (a->r == KURA_ESYNTAX && a->skip > 0) {
            check(a->skip <= len && buf[a->skip - 1] == '\n' && !memchr(buf, '\n', a->skip - 1));
        }
    }
    /* at_eof decides only what was waiting for more text. */
    check(whole.r == 0 || same(&whole, &eof));
    /* Prefixes: cut around line ends and signature dashes (the first few hundred of them). */
    size_t cuts = 0;
    for (size_t cut = 0; cut < len && cut <= 4096 && cuts < 256; cut++) {
        bool interesting = buf[cut] == '\n' || buf[cut] == '\xe2' || cut + 1 == len;
        if (!interesting) {
            continue;
        }
        cuts++;
        for (size_t k = cut; k < cut + 3 && k < len; k++) {
            struct answer part = next(buf, k, false);
            check(part.r == 0 || same(&part, &whole));
        }
    }
}

/* A real note, then the input. */
static void signed_note(const uint8_t *data, size_t size)
{
    static struct kura_sign_key *key;
    if (!key) {
        check(kura_crypto_init() == 0 && kura_sign_key_generate(&key) == 0);
    }
    struct kura_audit_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    (void)snprintf(cp.origin, sizeof(cp.origin), "kura.localhost/audit/fuzz-cursor");
    if (size >= 8) {
        memcpy(&cp.size, data, 8);
    }
    memset(cp.root, size ? data[0] : 0, sizeof(cp.root));
    struct kura_buf text = KURA_BUF_INIT(1 << 20);
    check(kura_audit_checkpoint_sign(&cp, key, &text) == 0);
    size_t note_len = text.len;
    kura_buf_add(&text, data, size);
    check(kura_buf_err(&text) == 0);
    struct answer a = next(text.ptr, text.len, true);
    bool continues = size > 0 && memcmp(data, EM_DASH_SP, size < DASH_LEN ? size : DASH_LEN) == 0;
    if (!continues) {
        check(a.r == 1 && a.note.len == note_len && a.note.size == cp.size &&
              a.note.origin_len == strlen(cp.origin));
    } else if (a.r == 1) {
        check(a.note.len > note_len && a.note.size == cp.size); /* more signature lines */
    }
    kura_buf_release(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cursor(data, size);
    notes((const char *)data, size);
    signed_note(data, size);
    return 0;
}
