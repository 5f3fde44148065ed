/* cursor.c — the forwarder's position (DATA/spool/syslog.cursor) and the reader of signed notes
 * in audit/checkpoints.
 *
 * The cursor is tiny text replaced with kura_file_write_atomic (temporary file, fsync, rename,
 * fsync of the folder), so a crash leaves the old position or the new one; either is safe,
 * because the forwarder resends from `confirmed`. It is parsed exactly: anything unexpected is
 * KURA_ECORRUPT rather than a guess that could skip records.
 */
#include "syslog-internal.h"

#include <string.h>

#define CURSOR_MAGIC "kura-syslog-cursor 1\n"
#define EM_DASH_SP "\xe2\x80\x94 "

int syslog_cursor_format(const struct syslog_cursor *c, struct kura_buf *out)
{
    kura_buf_addf(out, CURSOR_MAGIC "confirmed %llu %llu\nsent %llu\n",
                  (unsigned long long)c->confirmed.record, (unsigned long long)c->confirmed.cp,
                  (unsigned long long)c->sent);
    return kura_buf_err(out);
}

/* Reads a decimal number up to the byte `end` from *s (advancing past it). */
static int take_number(struct kura_str *s, char end, uint64_t *ret)
{
    struct kura_str field;
    if (!kura_str_split(s, end, &field) || (field.len > 1 && field.ptr[0] == '0')) {
        return KURA_ECORRUPT;
    }
    return kura_parse_u64(field.ptr, field.len, UINT64_MAX, ret) < 0 ? KURA_ECORRUPT : 0;
}

/* Consumes the literal word from *s. */
static bool take_word(struct kura_str *s, struct kura_str word)
{
    if (!kura_str_has_prefix(*s, word)) {
        return false;
    }
    s->ptr += word.len;
    s->len -= word.len;
    return true;
}

int syslog_cursor_parse(const char *text, size_t len, struct syslog_cursor *ret)
{
    struct kura_str s = {text, len};
    struct syslog_cursor c;
    if (!take_word(&s, KURA_STR(CURSOR_MAGIC)) || !take_word(&s, KURA_STR("confirmed ")) ||
        take_number(&s, ' ', &c.confirmed.record) < 0 ||
        take_number(&s, '\n', &c.confirmed.cp) < 0 || !take_word(&s, KURA_STR("sent ")) ||
        take_number(&s, '\n', &c.sent) < 0 || s.len != 0 || c.sent < c.confirmed.record) {
        return KURA_ECORRUPT;
    }
    *ret = c;
    return 0;
}

int syslog_cursor_load(int spool_dirfd, struct syslog_cursor *ret)
{
    _cleanup_(kura_buf_release) struct kura_buf b = KURA_BUF_INIT(SYSLOG_CURSOR_MAX);
    int r = kura_file_read_all(spool_dirfd, KURA_SYSLOG_CURSOR, &b);
    if (r == KURA_ETOOBIG) {
        return KURA_ECORRUPT;
    }
    if (r < 0) {
        return r;
    }
    return syslog_cursor_parse(b.ptr ? b.ptr : "", b.len, ret);
}

int syslog_cursor_save(int spool_dirfd, const struct syslog_cursor *c)
{
    _cleanup_(kura_buf_release) struct kura_buf b = KURA_BUF_INIT(SYSLOG_CURSOR_MAX);
    int r = syslog_cursor_format(c, &b);
    if (r < 0) {
        return r;
    }
    return kura_file_write_atomic(spool_dirfd, KURA_SYSLOG_CURSOR, b.ptr, b.len, 0600);
}

/* ---- signed notes in audit/checkpoints --------------------------------------------------------
 */

/* The line starting at off: its length without the LF in *ret_len. false when no LF follows. */
static bool line_at(const char *buf, size_t len, size_t off, size_t *ret_len)
{
    const char *nl = off < len ? memchr(buf + off, '\n', len - off) : NULL;
    if (!nl) {
        return false;
    }
    *ret_len = (size_t)(nl - (buf + off));
    return true;
}

/* Bytes through the first LF, or 0 when there is none. */
static size_t skip_line(const char *buf, size_t len)
{
    const char *nl = memchr(buf, '\n', len);
    return nl ? (size_t)(nl - buf) + 1 : 0;
}

static int malformed(const char *buf, size_t len, size_t *ret_skip)
{
    *ret_skip = skip_line(buf, len);
    return KURA_ESYNTAX;
}

int syslog_note_next(const char *buf, size_t len, bool at_eof, struct syslog_note *ret,
                     size_t *ret_skip)
{
    const size_t dash = strlen(EM_DASH_SP);
    *ret_skip = 0;
    size_t n[4], off = 0;
    for (unsigned i = 0; i < 4; i++) {
        if (!line_at(buf, len, off, &n[i])) {
            /* Not all there yet. The writer appends a note with one write, so this is a note
             * being written, or one torn by a crash, which the next note resynchronises. */
            return 0;
        }
        off += n[i] + 1;
    }
    uint64_t size;
    const char *size_line = buf + n[0] + 1;
    if (n[0] == 0 || n[0] >= KURA_AUDIT_ORIGIN_MAX || kura_has_ctl(buf, n[0], false) ||
        (n[1] > 1 && size_line[0] == '0') ||
        kura_parse_u64(size_line, n[1], UINT64_MAX, &size) < 0 || n[2] == 0 || n[3] != 0) {
        return malformed(buf, len, ret_skip);
    }
    /* Signature lines: at least one, each "— " then text, up to a line that is not one. */
    size_t sigs = 0, sl;
    for (;;) {
        size_t avail = len - off;
        if (avail < dash) {
            if (avail == 0 && at_eof && sigs > 0) {
                break; /* the text ends after a whole signature line */
            }
            if (avail > 0 && memcmp(buf + off, EM_DASH_SP, avail) != 0) {
                break; /* whatever follows, it is not a signature line */
            }
            return 0; /* too little to tell */
        }
        if (memcmp(buf + off, EM_DASH_SP, dash) != 0) {
            break;
        }
        if (!line_at(buf, len, off, &sl)) {
            return 0;
        }
        off += sl + 1;
        sigs++;
    }
    if (sigs == 0) {
        return malformed(buf, len, ret_skip);
    }
    ret->len = off;
    ret->size = size;
    ret->origin_len = n[0];
    return 1;
}
