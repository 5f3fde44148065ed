/* parse.c — the strict INI reader for kura.conf (grammar in conf.h).
 *
 * Why not inih: Debian 12's libinih (r55) is built with a fixed 200-byte line buffer and ignores
 * its exported ini_max_line / ini_use_stack knobs, so a longer line is silently split into a
 * truncated value plus a phantom line; it passes no line numbers to the handler; and its options
 * are process-global variables. Measured in docs/architecture.md ("conf"). This reader is a
 * cursor over (ptr, len) with a hard limit for every length, fuzzed by fuzz-conf.c.
 */
#include "conf-internal.h"

#include <fcntl.h>
#include <string.h>

struct parser {
    struct kura_conf *conf;
    const char *name; /* file name for messages */
    unsigned line;
    const char *section; /* current section (points into the schema table), NULL before one */
    struct kura_buf *err;
};

static bool is_name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (!first && ((c >= '0' && c <= '9') || c == '_'));
}

static size_t name_len(struct kura_str s)
{
    size_t i = 0;
    while (i < s.len && is_name_char(s.ptr[i], i == 0)) {
        i++;
    }
    return i;
}

/* Starts a message with "file:line: " and returns KURA_ECONFIG. */
static int fail(struct parser *p, const char *fmt, ...) KURA_PRINTF(2, 3);
static int fail(struct parser *p, const char *fmt, ...)
{
    if (p->err) {
        va_list ap;
        kura_buf_addf(p->err, "%s:%u: ", p->name, p->line);
        va_start(ap, fmt);
        kura_buf_vaddf(p->err, fmt, ap);
        va_end(ap);
    }
    return KURA_ECONFIG;
}

static void quote(struct kura_buf *b, struct kura_str s)
{
    kura_buf_addc(b, '\'');
    kura_buf_add_escaped(b, s.ptr, s.len < 200 ? s.len : 200);
    if (s.len > 200) {
        kura_buf_adds(b, "...");
    }
    kura_buf_addc(b, '\'');
}

static void list_keys(struct parser *p, const char *section)
{
    bool first = true;
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        if (strcmp(kura_conf_keys[i].section, section) == 0) {
            kura_buf_addf(p->err, "%s%s", first ? "" : ", ", kura_conf_keys[i].key);
            first = false;
        }
    }
}

static void list_sections(struct parser *p)
{
    const char *last = "";
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        if (strcmp(kura_conf_keys[i].section, last) != 0) {
            kura_buf_addf(p->err, "%s[%s]", last[0] ? ", " : "", kura_conf_keys[i].section);
            last = kura_conf_keys[i].section;
        }
    }
}

static int parse_section(struct parser *p, struct kura_str s)
{
    /* s starts with '[' */
    struct kura_str inner = kura_str_make(s.ptr + 1, s.len - 1);
    size_t n = name_len(inner);
    struct kura_str rest = kura_str_make(inner.ptr + n, inner.len - n);
    if (n == 0 || rest.len == 0 || rest.ptr[0] != ']' ||
        kura_str_trim_ows(kura_str_make(rest.ptr + 1, rest.len - 1)).len != 0) {
        int r = fail(p, "malformed section header ");
        if (p->err) {
            quote(p->err, s);
            kura_buf_adds(p->err, "; expected [name] with a lower-case name");
        }
        return r;
    }
    if (!conf_section_known(inner.ptr, n)) {
        int r = fail(p, "unknown section [%.*s]; known sections: ", (int)n, inner.ptr);
        if (p->err) {
            list_sections(p);
        }
        return r;
    }
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        if (kura_str_eq_c(kura_str_make(inner.ptr, n), kura_conf_keys[i].section)) {
            p->section = kura_conf_keys[i].section;
            break;
        }
    }
    return 0;
}

static int parse_setting(struct parser *p, struct kura_str s)
{
    size_t n = name_len(s);
    struct kura_str key = kura_str_make(s.ptr, n);
    struct kura_str rest = kura_str_trim_ows(kura_str_make(s.ptr + n, s.len - n));
    if (n == 0 || rest.len == 0 || rest.ptr[0] != '=') {
        int r = fail(p, "malformed line ");
        if (p->err) {
            quote(p->err, s);
            kura_buf_adds(p->err, "; expected key = value, [section] or a # comment");
        }
        return r;
    }
    if (!p->section) {
        return fail(p, "setting '%.*s' before the first [section]", (int)n, key.ptr);
    }
    int idx = conf_key_find(p->section, strlen(p->section), key.ptr, key.len);
    if (idx < 0) {
        int r = fail(p, "unknown key '%.*s' in section [%s]; known keys: ", (int)n, key.ptr,
                     p->section);
        if (p->err) {
            list_keys(p, p->section);
        }
        return r;
    }
    const struct conf_key *k = &kura_conf_keys[idx];
    if (p->conf->lines[idx] != 0) {
        return fail(p, "duplicate key '%s' in section [%s] (first set on line %u)", k->key,
                    k->section, p->conf->lines[idx]);
    }
    struct kura_str value = kura_str_trim_ows(kura_str_make(rest.ptr + 1, rest.len - 1));
    if (value.len >= 2 && value.ptr[0] == '"' && value.ptr[value.len - 1] == '"') {
        value.ptr++;
        value.len -= 2;
    } else if (value.len > 0 && value.ptr[0] == '"') {
        return fail(p, "[%s] %s: unterminated quoted value", k->section, k->key);
    }
    if (kura_has_ctl(value.ptr, value.len, true)) {
        return fail(p, "[%s] %s: value contains a control character", k->section, k->key);
    }
    char *v = kura_strndup(value.ptr, value.len);
    if (!v) {
        return -ENOMEM;
    }
    struct kura_buf why = KURA_BUF_INIT(1024);
    int r = conf_assign(p->conf, k, v, &why);
    kura_free(v);
    if (r == KURA_ECONFIG) {
        r = fail(p, "[%s] %s = ", k->section, k->key);
        if (p->err) {
            quote(p->err, value);
            kura_buf_adds(p->err, ": invalid value");
            if (why.len) {
                kura_buf_addf(p->err, " (%s)", why.ptr);
            }
            kura_buf_adds(p->err, "; allowed: ");
            conf_describe_allowed(k, p->err);
        }
    }
    kura_buf_release(&why);
    if (r == 0) {
        p->conf->lines[idx] = p->line;
    }
    return r;
}

static int parse_line(struct parser *p, struct kura_str line)
{
    if (line.len > 0 && line.ptr[line.len - 1] == '\r') {
        line.len--; /* CRLF line ending */
    }
    if (kura_has_ctl(line.ptr, line.len, true)) {
        return fail(p, "control character in line (only tab is allowed)");
    }
    struct kura_str s = kura_str_trim_ows(line);
    if (s.len == 0 || s.ptr[0] == '#' || s.ptr[0] == ';') {
        return 0;
    }
    if (s.ptr[0] == '[') {
        return parse_section(p, s);
    }
    return parse_setting(p, s);
}

/* Line number (1-based) of byte offset off. */
static unsigned line_of(const char *text, size_t off)
{
    unsigned line = 1;
    for (size_t i = 0; i < off; i++) {
        line += text[i] == '\n';
    }
    return line;
}

/* Finds the first byte at which text stops being valid UTF-8 (len if none). */
static size_t first_invalid_utf8(const char *text, size_t len)
{
    size_t lo = 0, hi = len;
    if (kura_utf8_valid(text, len)) {
        return len;
    }
    /* Lines are independent for UTF-8 purposes: scan line by line. */
    while (lo < hi) {
        const char *nl = memchr(text + lo, '\n', hi - lo);
        size_t end = nl ? (size_t)(nl - text) : hi;
        if (!kura_utf8_valid(text + lo, end - lo)) {
            return lo;
        }
        lo = end + 1;
    }
    return len;
}

int kura_conf_parse(const char *name, const char *text, size_t len, struct kura_conf **ret,
                    struct kura_buf *ret_err)
{
    struct parser p = {.name = name, .line = 0, .err = ret_err};
    if (len > KURA_CONF_MAX_FILE) {
        return fail(&p, "file larger than %u bytes", (unsigned)KURA_CONF_MAX_FILE);
    }
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul) {
        p.line = line_of(text, (size_t)(nul - text));
        return fail(&p, "NUL byte in file");
    }
    size_t bad = first_invalid_utf8(text, len);
    if (bad < len) {
        p.line = line_of(text, bad);
        return fail(&p, "invalid UTF-8");
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3; /* byte-order mark written by some editors */
        len -= 3;
    }
    _cleanup_(kura_conf_freep) struct kura_conf *c = kura_conf_new();
    if (!c || !(c->path = kura_strdup(name))) {
        return -ENOMEM;
    }
    p.conf = c;
    struct kura_str rest = kura_str_make(text, len), line;
    while (rest.len > 0) {
        (void)kura_str_split(&rest, '\n', &line);
        p.line++;
        if (line.len > KURA_CONF_MAX_LINE) {
            return fail(&p, "line longer than %u bytes", (unsigned)KURA_CONF_MAX_LINE);
        }
        int r = parse_line(&p, line);
        if (r < 0) {
            return r;
        }
    }
    *ret = TAKE_PTR(c);
    return 0;
}

int kura_conf_load(const char *path, struct kura_conf **ret, struct kura_buf *ret_err)
{
    struct kura_buf text = KURA_BUF_INIT(KURA_CONF_MAX_FILE + 1);
    int r = kura_file_read_all(AT_FDCWD, path, &text);
    if (r == KURA_ETOOBIG) {
        if (ret_err) {
            kura_buf_addf(ret_err, "%s: file larger than %u bytes", path,
                          (unsigned)KURA_CONF_MAX_FILE);
        }
        r = KURA_ECONFIG;
    } else if (r < 0) {
        if (ret_err) {
            kura_buf_addf(ret_err, "%s: cannot read: %s", path, kura_strerror(r));
        }
    } else {
        r = kura_conf_parse(path, text.ptr ? text.ptr : "", text.len, ret, ret_err);
    }
    kura_buf_release(&text);
    return r;
}
