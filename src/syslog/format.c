/* format.c — RFC 5424 messages for audit records and checkpoints, octet-counted (RFC 5425 §4.3).
 *
 * SYSLOG-MSG = HEADER SP STRUCTURED-DATA SP MSG (RFC 5424 §6), with
 * HEADER = "<" PRI ">1" SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID. Every field
 * kura writes is checked or built here: PRI from a facility table, TIMESTAMP from the record
 * (checked character by character) or the clock, HOSTNAME checked against PRINTUSASCII, PARAM-
 * VALUEs escaped. The MSG is the record or note byte for byte after the BOM (§6.4: MSG-UTF8).
 */
#include "syslog-internal.h"

#include <string.h>

#define BOM "\xef\xbb\xbf"

static const struct {
    const char *name;
    unsigned code;
} facilities[] = {
    {"auth", 4},    {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19},
    {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23},
};

int syslog_facility_code(const char *name, unsigned *ret)
{
    for (size_t i = 0; i < KURA_ARRAY_SIZE(facilities); i++) {
        if (strcmp(name, facilities[i].name) == 0) {
            *ret = facilities[i].code;
            return 0;
        }
    }
    return KURA_ECONFIG;
}

const char *syslog_hostname_or_nil(const char *hostname)
{
    size_t n = hostname ? strlen(hostname) : 0;
    if (n == 0 || n > SYSLOG_HOSTNAME_MAX) {
        return "-";
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)hostname[i];
        if (c < 33 || c > 126) {
            return "-";
        }
    }
    return hostname;
}

void syslog_sd_escape(struct kura_buf *out, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\' || s[i] == ']') {
            kura_buf_add(out, s + start, i - start);
            kura_buf_addc(out, '\\');
            start = i;
        }
    }
    kura_buf_add(out, s + start, len - start);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool syslog_record_time(struct kura_str record, char ret[static KURA_TIME_STR_MAX])
{
    static const char prefix[] = "{\"index\":";
    static const char key[] = ",\"time\":\"";
    /* The template of the value: 'd' is a digit, anything else itself. */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    const size_t shape_len = sizeof(shape) - 1;
    struct kura_str s = record;
    if (!kura_str_has_prefix(s, kura_str_make(prefix, sizeof(prefix) - 1))) {
        return false;
    }
    size_t i = sizeof(prefix) - 1;
    size_t digits = 0;
    while (i < s.len && is_digit(s.ptr[i]) && digits < 20) {
        i++;
        digits++;
    }
    if (digits == 0 || s.len - i < sizeof(key) - 1 + shape_len + 1 ||
        memcmp(s.ptr + i, key, sizeof(key) - 1) != 0) {
        return false;
    }
    i += sizeof(key) - 1;
    for (size_t k = 0; k < shape_len; k++) {
        char c = s.ptr[i + k];
        if (shape[k] == 'd' ? !is_digit(c) : c != shape[k]) {
            return false;
        }
    }
    if (s.ptr[i + shape_len] != '"') {
        return false;
    }
    memcpy(ret, s.ptr + i, shape_len);
    ret[shape_len] = '\0';
    return true;
}

/* HEADER SP, up to and including the space before STRUCTURED-DATA. */
static void add_header(struct kura_buf *m, const struct syslog_msg_conf *c, unsigned severity,
                       const char *timestamp, const char *msgid)
{
    kura_buf_addf(m, "<%u>1 %s %s kura %s %s ", c->facility * 8 + severity, timestamp,
                  syslog_hostname_or_nil(c->hostname), c->procid, msgid);
}

/* Appends "LEN SP" then the message in m to out. */
static int add_frame(struct kura_buf *out, const struct kura_buf *m)
{
    int r = kura_buf_err(m);
    if (r < 0) {
        return r;
    }
    if (m->len > KURA_SYSLOG_MSG_MAX) {
        return KURA_ETOOBIG;
    }
    if (kura_buf_err(out) < 0) {
        return kura_buf_err(out);
    }
    size_t before = out->len;
    kura_buf_addf(out, "%zu ", m->len);
    kura_buf_addstr(out, kura_buf_str(m));
    r = kura_buf_err(out);
    if (r < 0) {
        kura_buf_truncate(out, before); /* no half frame; the caller sends what is there */
    }
    return r;
}

int syslog_frame_record(const struct syslog_msg_conf *c, uint64_t index, struct kura_str record,
                        struct kura_buf *out)
{
    _cleanup_(kura_buf_release) struct kura_buf m = KURA_BUF_INIT(KURA_SYSLOG_MSG_MAX + 1);
    char ts[KURA_TIME_STR_MAX];
    if (!syslog_record_time(record, ts)) {
        memcpy(ts, "-", 2);
    }
    add_header(&m, c, SYSLOG_SEV_INFO, ts, "AUDIT");
    kura_buf_addf(&m, "[kura@%llu index=\"%llu\" origin=\"", (unsigned long long)c->pen,
                  (unsigned long long)index);
    syslog_sd_escape(&m, c->origin, strlen(c->origin));
    kura_buf_adds(&m, "\"] " BOM);
    kura_buf_addstr(&m, record);
    return add_frame(out, &m);
}

int syslog_frame_checkpoint(const struct syslog_msg_conf *c, uint64_t size, struct kura_str note,
                            int64_t wall_ms, struct kura_buf *out)
{
    _cleanup_(kura_buf_release) struct kura_buf m = KURA_BUF_INIT(KURA_SYSLOG_MSG_MAX + 1);
    char ts[KURA_TIME_STR_MAX];
    kura_clock_format(wall_ms, ts);
    if (ts[0] == 'i') { /* "invalid-time" */
        memcpy(ts, "-", 2);
    }
    add_header(&m, c, SYSLOG_SEV_NOTICE, ts, "CHECKPOINT");
    kura_buf_addf(&m, "[kura@%llu size=\"%llu\"] " BOM, (unsigned long long)c->pen,
                  (unsigned long long)size);
    kura_buf_addstr(&m, note);
    return add_frame(out, &m);
}
