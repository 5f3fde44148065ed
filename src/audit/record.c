/* record.c — the audit record's JSON: one compact object with a fixed key order, so that the
 * bytes are a deterministic function of the event (docs/audit-format.md, "Records").
 *
 * Strings are escaped by hand (RFC 8259 section 7) because the record must be valid UTF-8 JSON
 * whatever the input: an invalid UTF-8 sequence (a user agent is only guaranteed to be bytes)
 * becomes U+FFFD, control characters become \u00XX, and a value longer than its limit is cut
 * at a character boundary and ends with U+2026 "…".
 */
#include "audit-internal.h"

#include <string.h>
#include <time.h>

const char *const audit_record_keys[] = {
    "index",      "time",       "prev",   "actor",  "roles", "elevated", "session", "source_ip",
    "user_agent", "request_id", "action", "object", "bytes", "result",   "reason",  "detail",
};

static const char *const result_names[] = {"ok", "denied", "error"};

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (n > left || !kura_utf8_valid((const char *)s, n)) {
        return 0;
    }
    return n;
}

static void add_string(struct kura_buf *b, const char *s, size_t max)
{
    if (!s) {
        kura_buf_adds(b, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), used = 0;
    kura_buf_addc(b, '"');
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);
        size_t cost = n ? n : 3; /* U+FFFD is 3 bytes */
        if (used + cost > max) {
            kura_buf_adds(b, "\xe2\x80\xa6"); /* … marks a cut value */
            break;
        }
        used += cost;
        if (n == 0) {
            kura_buf_adds(b, "\xef\xbf\xbd");
            i++;
            continue;
        }
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            kura_buf_addc(b, '\\');
            kura_buf_addc(b, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            kura_buf_addf(b, "\\u%04x", c);
        } else {
            kura_buf_add(b, p + i, n);
        }
        i += n;
    }
    kura_buf_addc(b, '"');
}

/* True when v nests at most `left` levels of objects and arrays. */
static bool shallow(json_t *v, int left)
{
    const char *key;
    json_t *item;
    size_t i;
    if (!json_is_object(v) && !json_is_array(v)) {
        return true;
    }
    if (left == 0) {
        return false;
    }
    if (json_is_object(v)) {
        json_object_foreach(v, key, item)
        {
            if (!shallow(item, left - 1)) {
                return false;
            }
        }
        return true;
    }
    json_array_foreach(v, i, item)
    {
        if (!shallow(item, left - 1)) {
            return false;
        }
    }
    return true;
}

int audit_fragment(const struct kura_audit_event *ev, struct kura_buf *out)
{
    kura_buf_adds(out, "\"actor\":");
    add_string(out, ev->actor, KURA_AUDIT_FIELD_MAX);
    kura_buf_adds(out, ",\"roles\":");
    add_string(out, ev->roles, KURA_AUDIT_FIELD_MAX);
    kura_buf_addf(out, ",\"elevated\":%s,\"session\":", ev->elevated ? "true" : "false");
    add_string(out, ev->session, KURA_AUDIT_FIELD_MAX);
    kura_buf_adds(out, ",\"source_ip\":");
    add_string(out, ev->source_ip, KURA_AUDIT_FIELD_MAX);
    kura_buf_adds(out, ",\"user_agent\":");
    add_string(out, ev->user_agent, KURA_AUDIT_AGENT_MAX);
    kura_buf_adds(out, ",\"request_id\":");
    add_string(out, ev->request_id, KURA_AUDIT_FIELD_MAX);
    kura_buf_adds(out, ",\"action\":");
    add_string(out, ev->action ? ev->action : "unknown", KURA_AUDIT_FIELD_MAX);
    kura_buf_adds(out, ",\"object\":");
    add_string(out, ev->object, KURA_AUDIT_OBJECT_MAX);
    /* A JSON reader's integers are int64_t (jansson's are): larger counts are clamped. */
    uint64_t bytes = ev->bytes > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : ev->bytes;
    kura_buf_addf(out, ",\"bytes\":%llu,\"result\":\"%s\",\"reason\":", (unsigned long long)bytes,
                  result_names[ev->result <= KURA_AUDIT_ERROR ? ev->result : KURA_AUDIT_ERROR]);
    add_string(out, ev->reason, KURA_AUDIT_FIELD_MAX);
    kura_buf_adds(out, ",\"detail\":");
    if (!ev->detail) {
        kura_buf_adds(out, "null");
        return kura_buf_err(out);
    }
    if (!json_is_object(ev->detail)) {
        return -EINVAL;
    }
    if (!shallow(ev->detail, KURA_AUDIT_DETAIL_DEPTH)) {
        kura_buf_adds(out, "{\"truncated\":true}");
        return kura_buf_err(out);
    }
    char *d = json_dumps(ev->detail, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!d) {
        return -ENOMEM;
    }
    size_t dlen = strlen(d);
    if (dlen > KURA_AUDIT_DETAIL_MAX) {
        kura_buf_adds(out, "{\"truncated\":true}");
    } else {
        kura_buf_add(out, d, dlen);
    }
    free(d);
    return kura_buf_err(out);
}

int audit_record_compose(uint64_t index, int64_t time_ms, const kura_hash prev,
                         const char *fragment, size_t fragment_len, struct kura_buf *out)
{
    char ts[KURA_TIME_STR_MAX], hex[2 * KURA_AUDIT_HASH_BYTES + 1];
    kura_clock_format(time_ms, ts);
    kura_hex_encode(hex, prev, KURA_AUDIT_HASH_BYTES);
    kura_buf_addf(out, "{\"index\":%llu,\"time\":\"%s\",\"prev\":\"%s\",",
                  (unsigned long long)index, ts, hex);
    kura_buf_add(out, fragment, fragment_len);
    kura_buf_addc(out, '}');
    return kura_buf_err(out);
}

/* ---- parsing, for the verifier ----------------------------------------------------------------
 */

static int parse_digits(const char *s, size_t n, int *ret)
{
    uint64_t v;
    if (kura_parse_u64(s, n, 9999, &v) < 0) {
        return -1;
    }
    *ret = (int)v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): glibc's
 * timegm consults the time zone machinery and was a tenth of verify's time. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

int audit_time_parse(const char *s, int64_t *ret_ms)
{
    /* 2026-11-22T00:00:00.000Z */
    if (strlen(s) != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != '.' || s[23] != 'Z') {
        return KURA_ESYNTAX;
    }
    int y, mo, d, h, mi, se, ms;
    if (parse_digits(s, 4, &y) || parse_digits(s + 5, 2, &mo) || parse_digits(s + 8, 2, &d) ||
        parse_digits(s + 11, 2, &h) || parse_digits(s + 14, 2, &mi) ||
        parse_digits(s + 17, 2, &se) || parse_digits(s + 20, 3, &ms)) {
        return KURA_ESYNTAX;
    }
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 ||
        se > 59) {
        return KURA_ESYNTAX; /* the writer never writes a leap second or a normalisable date */
    }
    *ret_ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000 + ms;
    return 0;
}

static int hex_to_hash(const char *s, kura_hash ret)
{
    if (strlen(s) != 2 * KURA_AUDIT_HASH_BYTES) {
        return KURA_ESYNTAX;
    }
    for (size_t i = 0; i < KURA_AUDIT_HASH_BYTES; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            unsigned d = (c >= '0' && c <= '9')   ? (unsigned)(c - '0')
                         : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                                                  : 16;
            if (d == 16) {
                return KURA_ESYNTAX;
            }
            v = v * 16 + d;
        }
        ret[i] = (uint8_t)v;
    }
    return 0;
}

static int fail(struct kura_buf *why, const char *msg)
{
    kura_buf_adds(why, msg);
    return KURA_ECORRUPT;
}

static const char *string_of(json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key)); /* NULL for null */
}

int audit_record_parse_full(const char *rec, size_t len, struct audit_record *ret,
                            struct kura_buf *why)
{
    json_error_t jerr;
    json_t *doc = json_loadb(rec, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return fail(why, "record is not a JSON object");
    }
    /* Exactly the keys, in order (jansson keeps the order of the text). */
    size_t k = 0;
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value)
    {
        if (k >= AUDIT_RECORD_NKEYS || strcmp(key, audit_record_keys[k]) != 0) {
            json_decref(doc);
            return fail(why, "record keys are not the fixed set in the fixed order");
        }
        k++;
    }
    json_t *index = json_object_get(doc, "index"), *time = json_object_get(doc, "time");
    json_t *prev = json_object_get(doc, "prev"), *action = json_object_get(doc, "action");
    json_t *detail = json_object_get(doc, "detail"), *bytes = json_object_get(doc, "bytes");
    const char *result = string_of(doc, "result");
    /* The other fields' types too (docs/audit-format.md): strings or null, a boolean, a
     * non-negative integer and one of the three results. */
    bool others = json_is_boolean(json_object_get(doc, "elevated")) && json_is_integer(bytes) &&
                  json_integer_value(bytes) >= 0 && result &&
                  (strcmp(result, "ok") == 0 || strcmp(result, "denied") == 0 ||
                   strcmp(result, "error") == 0);
    static const char *const nullable[] = {"actor",      "roles",      "session", "source_ip",
                                           "user_agent", "request_id", "object",  "reason"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(nullable); i++) {
        json_t *v = json_object_get(doc, nullable[i]);
        others = others && (json_is_string(v) || json_is_null(v));
    }
    memset(ret, 0, offsetof(struct audit_record, strings));
    if (k != AUDIT_RECORD_NKEYS || !json_is_integer(index) || json_integer_value(index) < 0 ||
        !json_is_string(time) || audit_time_parse(json_string_value(time), &ret->time_ms) < 0 ||
        !json_is_string(prev) || hex_to_hash(json_string_value(prev), ret->prev) < 0 ||
        !json_is_string(action) || !(json_is_object(detail) || json_is_null(detail)) || !others) {
        json_decref(doc);
        return fail(why, "record fields have the wrong types or formats");
    }
    ret->doc = doc;
    ret->index = (uint64_t)json_integer_value(index);
    ret->elevated = json_is_true(json_object_get(doc, "elevated"));
    ret->bytes = (uint64_t)json_integer_value(bytes);
    ret->result = result;
    ret->actor = string_of(doc, "actor");
    ret->source_ip = string_of(doc, "source_ip");
    ret->request_id = string_of(doc, "request_id");
    ret->action = json_string_value(action);
    ret->object = string_of(doc, "object");
    ret->reason = string_of(doc, "reason");
    ret->detail = json_is_object(detail) ? detail : NULL;
    ret->detail_parsed = true;
    return 0;
}

int audit_record_parse(const char *rec, size_t len, struct audit_record *ret, struct kura_buf *why)
{
    if (audit_record_scan(rec, len, ret) == 0) {
        return 0;
    }
    return audit_record_parse_full(rec, len, ret, why);
}

json_t *audit_record_detail(struct audit_record *r)
{
    if (!r->detail_parsed) {
        /* The scan checked it; jansson builds it only for the few records whose detail is read. */
        r->detail =
            json_loadb(r->detail_text.ptr, r->detail_text.len, JSON_REJECT_DUPLICATES, NULL);
        if (r->detail && !json_is_object(r->detail)) {
            json_decref(r->detail);
            r->detail = NULL;
        }
        r->detail_parsed = true;
    }
    return r->detail;
}

void audit_record_release(struct audit_record *r)
{
    if (r->doc) {
        json_decref(r->doc); /* detail is borrowed from it */
    } else if (r->detail) {
        json_decref(r->detail);
    }
    r->doc = NULL;
    r->detail = NULL;
}

int kura_audit_time_parse(const char *s, int64_t *ret_ms)
{
    return audit_time_parse(s, ret_ms);
}

/* ---- kura_audit_read: the same reading for the other areas ------------------------------------
 */

struct kura_audit_reading {
    struct audit_record rec;
    bool holds; /* rec holds a parsed record (to release) */
    struct kura_buf why;
};

int kura_audit_reading_new(struct kura_audit_reading **ret)
{
    struct kura_audit_reading *rd = kura_calloc(1, sizeof(*rd));
    if (!rd) {
        return -ENOMEM;
    }
    kura_buf_init(&rd->why, 0);
    *ret = rd;
    return 0;
}

struct kura_audit_reading *kura_audit_reading_free(struct kura_audit_reading *rd)
{
    if (rd) {
        if (rd->holds) {
            audit_record_release(&rd->rec);
        }
        kura_buf_release(&rd->why);
        kura_free(rd);
    }
    return NULL;
}

int kura_audit_read(struct kura_audit_reading *rd, struct kura_str record,
                    struct kura_audit_fields *ret)
{
    if (rd->holds) {
        audit_record_release(&rd->rec);
        rd->holds = false;
    }
    kura_buf_reset(&rd->why);
    int r = audit_record_parse(record.ptr, record.len, &rd->rec, &rd->why);
    if (r < 0) {
        return KURA_ECORRUPT;
    }
    rd->holds = true;
    const struct audit_record *a = &rd->rec;
    *ret = (struct kura_audit_fields){
        .index = a->index,
        .time_ms = a->time_ms,
        .actor = a->actor,
        .source_ip = a->source_ip,
        .request_id = a->request_id,
        .action = a->action,
        .object = a->object,
        .reason = a->reason,
        .result = a->result,
        .bytes = a->bytes,
        .elevated = a->elevated,
        .detail_text = a->doc ? kura_str_make(NULL, 0) : a->detail_text,
    };
    return 0;
}

json_t *kura_audit_read_detail(struct kura_audit_reading *rd)
{
    return rd->holds ? audit_record_detail(&rd->rec) : NULL;
}
