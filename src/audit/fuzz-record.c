/* fuzz-record.c — libFuzzer harness for the audit record's JSON (record.c): the parser the
 * verifier uses (audit_record_parse) and the serialiser the writer uses (audit_fragment +
 * audit_record_compose). Seeds: tests/fuzz/record/.
 *
 * Every input is used twice:
 *  1. As a record. Whatever audit_record_parse accepts must have the documented structure
 *     (docs/audit-format.md, "Records": the sixteen keys in order, each of its documented type);
 *     a refusal is KURA_ECORRUPT with a reason. An accepted record rebuilt as an event and
 *     serialised again must parse back to the same fields, the strings as the rules of
 *     kura_audit_event make them (below), and a second rebuild must give the same bytes.
 *  2. As an event: a 59-byte header (which fields are null, elevated, result, bytes, index, time,
 *     prev), then the string fields separated by NUL bytes (actor, roles, session, source_ip,
 *     user_agent, request_id, action, object, reason) and the detail's JSON text. The record
 *     serialised from it must parse, give back index, time, prev, elevated, bytes and result,
 *     each string as the model below makes it, the detail (or {"truncated":true} when its JSON
 *     exceeds KURA_AUDIT_DETAIL_MAX), and fit KURA_AUDIT_RECORD_MAX whenever the writer's
 *     fragment limit (KURA_AUDIT_RECORD_MAX - 256) let it through.
 *
 * The model of a string (audit.h, struct kura_audit_event), written here independently of
 * record.c: each byte that does not start a well-formed UTF-8 sequence (RFC 3629) becomes
 * U+FFFD; the value is cut before the first character that would take it over its limit
 * (counting U+FFFD as 3 bytes, everything else as its own bytes), and a cut value ends with
 * U+2026.
 *
 * The scan (scan.c) is checked against the full parse on every input used as a record: what it
 * accepts, audit_record_parse_full accepts with the same values; and records the writer makes
 * from plain strings without a detail must be read by the scan.
 *
 * Bytes above INT64_MAX are written as INT64_MAX, and a detail nested deeper than
 * KURA_AUDIT_DETAIL_DEPTH is replaced by {"truncated":true}, as an oversized one is
 * (reproducers: tests/fuzz/record/bytes-over-int64, tests/fuzz/record/detail-depth-2048).
 */
#include "audit-internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC_BUF_MAX (1u << 20)
#define HEADER_BYTES 59
#define NSTRINGS 9
/* Record times the clock can give and the format can hold: years 0000 to 9999. */
#define TIME_MIN (-62167219200000LL)
#define TIME_MAX (253402300799999LL)

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

/* ---- the model of a string field -------------------------------------------------------------
 */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 table 3-7), 0 when there is none. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    }
    if (c < 0xc2) {
        return 0;
    }
    if (c < 0xe0) {
        need = 2;
        cp = c & 0x1fu;
    } else if (c < 0xf0) {
        need = 3;
        cp = c & 0x0fu;
    } else if (c < 0xf5) {
        need = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (left < need) {
        return 0;
    }
    for (size_t k = 1; k < need; k++) {
        if ((s[k] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[k] & 0x3fu);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return need;
}

/* What the record must hold for the string s under limit max (NULL: JSON null). */
static void model(const char *s, size_t max, struct kura_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), used = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(p + i, len - i);
        size_t cost = n ? n : 3;
        if (used + cost > max) {
            kura_buf_adds(out, "\xe2\x80\xa6");
            break;
        }
        used += cost;
        if (n) {
            kura_buf_add(out, p + i, n);
            i += n;
        } else {
            kura_buf_adds(out, "\xef\xbf\xbd");
            i++;
        }
    }
    check(kura_buf_err(out) == 0);
}

/* ---- fields ---------------------------------------------------------------------------------- */

static const char *const string_keys[NSTRINGS] = {
    "actor",      "roles",  "session", "source_ip", "user_agent",
    "request_id", "action", "object",  "reason",
};

static size_t limit_of(size_t k)
{
    if (strcmp(string_keys[k], "user_agent") == 0) {
        return KURA_AUDIT_AGENT_MAX;
    }
    return strcmp(string_keys[k], "object") == 0 ? KURA_AUDIT_OBJECT_MAX : KURA_AUDIT_FIELD_MAX;
}

static const char **field_of(struct kura_audit_event *ev, size_t k)
{
    const char **f[NSTRINGS] = {&ev->actor,     &ev->roles,      &ev->session,
                                &ev->source_ip, &ev->user_agent, &ev->request_id,
                                &ev->action,    &ev->object,     &ev->reason};
    return f[k];
}

static const char *const result_names[] = {"ok", "denied", "error"};

static bool string_or_null(json_t *v)
{
    return json_is_string(v) || json_is_null(v);
}

/* The documented types of every field of an accepted record. */
static void check_structure(const struct audit_record *r)
{
    json_t *doc = r->doc;
    check(json_is_object(doc) && json_object_size(doc) == AUDIT_RECORD_NKEYS);
    size_t k = 0;
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value)
    {
        check(k < AUDIT_RECORD_NKEYS && strcmp(key, audit_record_keys[k]) == 0);
        k++;
    }
    json_t *index = json_object_get(doc, "index");
    check(json_is_integer(index) && json_integer_value(index) >= 0 &&
          (uint64_t)json_integer_value(index) == r->index);
    const char *time = json_string_value(json_object_get(doc, "time"));
    int64_t ms;
    check(time && strlen(time) == 24 && audit_time_parse(time, &ms) == 0 && ms == r->time_ms);
    const char *prev = json_string_value(json_object_get(doc, "prev"));
    check(prev && strlen(prev) == 2 * KURA_AUDIT_HASH_BYTES);
    char hex[2 * KURA_AUDIT_HASH_BYTES + 1];
    kura_hex_encode(hex, r->prev, KURA_AUDIT_HASH_BYTES);
    check(strcmp(hex, prev) == 0);
    for (size_t i = 0; i < NSTRINGS; i++) {
        check(string_or_null(json_object_get(doc, string_keys[i])));
    }
    check(json_is_string(json_object_get(doc, "action")) &&
          strcmp(r->action, json_string_value(json_object_get(doc, "action"))) == 0);
    check(json_is_boolean(json_object_get(doc, "elevated")));
    json_t *bytes = json_object_get(doc, "bytes");
    check(json_is_integer(bytes) && json_integer_value(bytes) >= 0);
    const char *result = json_string_value(json_object_get(doc, "result"));
    check(result && (strcmp(result, "ok") == 0 || strcmp(result, "denied") == 0 ||
                     strcmp(result, "error") == 0));
    json_t *detail = json_object_get(doc, "detail");
    check(json_is_object(detail) || json_is_null(detail));
    check(r->detail == (json_is_object(detail) ? detail : NULL));
    const char *actor = json_string_value(json_object_get(doc, "actor"));
    check(r->actor == actor);
}

/* Serialises ev as record (index, time, prev) into out; returns audit_fragment's result. */
static int serialise(const struct kura_audit_event *ev, uint64_t index, int64_t time_ms,
                     const kura_hash prev, struct kura_buf *frag, struct kura_buf *out)
{
    kura_buf_reset(frag);
    kura_buf_reset(out);
    int r = audit_fragment(ev, frag);
    if (r < 0) {
        return r;
    }
    check(audit_record_compose(index, time_ms, prev, frag->ptr, frag->len, out) == 0);
    /* The writer's promise (writer.c): a fragment that fits leaves room for the rest. */
    check(frag->len > KURA_AUDIT_RECORD_MAX - 256 || out->len <= KURA_AUDIT_RECORD_MAX);
    check(kura_utf8_valid(out->ptr, out->len) && !memchr(out->ptr, '\0', out->len));
    return 0;
}

/* Nesting depth of a JSON value (a scalar is 0). */
static size_t depth_of(json_t *v)
{
    size_t max = 0, d, i;
    const char *key;
    json_t *item;
    if (json_is_object(v)) {
        json_object_foreach(v, key, item)
        {
            d = depth_of(item);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, item)
        {
            d = depth_of(item);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

/* The record in rec holds exactly what ev, index, time and prev say, by the model. */
static void check_round_trip(const struct kura_audit_event *ev, uint64_t index, int64_t time_ms,
                             const kura_hash prev, const struct kura_buf *rec)
{
    struct audit_record r;
    struct kura_buf why = KURA_BUF_INIT(1024);
    check(audit_record_parse_full(rec->ptr, rec->len, &r, &why) == 0);
    kura_buf_release(&why);
    check_structure(&r);
    check(r.index == index && r.time_ms == time_ms);
    check(memcmp(r.prev, prev, KURA_AUDIT_HASH_BYTES) == 0);
    json_t *doc = r.doc;
    struct kura_audit_event copy = *ev;
    if (!copy.action) {
        copy.action = "unknown";
    }
    struct kura_buf want = KURA_BUF_INIT(REC_BUF_MAX);
    for (size_t k = 0; k < NSTRINGS; k++) {
        const char *in = *field_of(&copy, k);
        json_t *got = json_object_get(doc, string_keys[k]);
        if (!in) {
            check(json_is_null(got));
            continue;
        }
        kura_buf_reset(&want);
        model(in, limit_of(k), &want);
        check(json_is_string(got) && json_string_length(got) == want.len &&
              memcmp(json_string_value(got), want.len ? want.ptr : "", want.len) == 0);
    }
    kura_buf_release(&want);
    check(json_is_true(json_object_get(doc, "elevated")) == ev->elevated);
    uint64_t bytes = ev->bytes > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : ev->bytes;
    check((uint64_t)json_integer_value(json_object_get(doc, "bytes")) == bytes);
    const char *result = result_names[ev->result <= KURA_AUDIT_ERROR ? ev->result : 2];
    check(strcmp(json_string_value(json_object_get(doc, "result")), result) == 0);
    json_t *detail = json_object_get(doc, "detail");
    if (!ev->detail) {
        check(json_is_null(detail));
    } else {
        char *d = json_dumps(ev->detail, JSON_COMPACT | JSON_REAL_PRECISION(17));
        check(d != NULL);
        if (strlen(d) > KURA_AUDIT_DETAIL_MAX || depth_of(ev->detail) > KURA_AUDIT_DETAIL_DEPTH) {
            check(json_object_size(detail) == 1 &&
                  json_is_true(json_object_get(detail, "truncated")));
        } else {
            check(json_equal(detail, ev->detail));
        }
        free(d);
    }
    audit_record_release(&r);
    /* The writer's records are read by the scan, unless a string that verify, the index or the
     * alerter gets back needs an escape, or there is a detail (whose form depends on the event). */
    bool plain = !ev->detail;
    const char *read_back[] = {copy.actor,  copy.source_ip, copy.request_id,
                               copy.action, copy.object,    copy.reason};
    for (size_t k = 0; k < KURA_ARRAY_SIZE(read_back); k++) {
        for (const char *c = read_back[k]; c && *c; c++) {
            plain = plain && *c != '"' && *c != '\\' && (unsigned char)*c >= 0x20 && *c != 0x7f;
        }
    }
    struct audit_record fast;
    check(!plain || audit_record_scan(rec->ptr, rec->len, &fast) == 0);
    if (plain) {
        audit_record_release(&fast);
    }
}

static bool same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The scan (scan.c) accepts only what the full parse accepts, with the same values. */
static void check_scan(const char *rec, size_t len)
{
    struct audit_record fast, full;
    struct kura_buf why = KURA_BUF_INIT(1024);
    int s = audit_record_scan(rec, len, &fast);
    int f = audit_record_parse_full(rec, len, &full, &why);
    kura_buf_release(&why);
    check(s == 0 || s == KURA_ESYNTAX);
    if (s == 0) {
        check(f == 0);
        check(fast.doc == NULL && fast.index == full.index && fast.time_ms == full.time_ms &&
              memcmp(fast.prev, full.prev, KURA_AUDIT_HASH_BYTES) == 0 &&
              fast.elevated == full.elevated && fast.bytes == full.bytes &&
              strcmp(fast.result, full.result) == 0);
        check(
            same_string(fast.actor, full.actor) && same_string(fast.action, full.action) &&
            same_string(fast.object, full.object) && same_string(fast.source_ip, full.source_ip) &&
            same_string(fast.request_id, full.request_id) && same_string(fast.reason, full.reason));
        json_t *d = audit_record_detail(&fast);
        check(d ? json_equal(d, full.detail) : full.detail == NULL);
        audit_record_release(&fast);
    }
    if (f == 0) {
        audit_record_release(&full);
    }
}

/* ---- 1: the input as a record ---------------------------------------------------------------
 */

static void as_record(const uint8_t *data, size_t size)
{
    check_scan((const char *)data, size);
    struct audit_record r;
    struct kura_buf why = KURA_BUF_INIT(1024);
    int rc = audit_record_parse_full((const char *)data, size, &r, &why);
    check(rc == 0 || (rc == KURA_ECORRUPT && why.len > 0));
    kura_buf_release(&why);
    if (rc < 0) {
        return;
    }
    check_structure(&r);
    /* Rebuild the event the record describes and write it again. */
    struct kura_audit_event ev = {0};
    for (size_t k = 0; k < NSTRINGS; k++) {
        *field_of(&ev, k) = json_string_value(json_object_get(r.doc, string_keys[k]));
    }
    ev.elevated = json_is_true(json_object_get(r.doc, "elevated"));
    ev.bytes = (uint64_t)json_integer_value(json_object_get(r.doc, "bytes"));
    const char *result = json_string_value(json_object_get(r.doc, "result"));
    ev.result = strcmp(result, "ok") == 0       ? KURA_AUDIT_OK
                : strcmp(result, "denied") == 0 ? KURA_AUDIT_DENIED
                                                : KURA_AUDIT_ERROR;
    ev.detail = json_is_object(r.detail) ? r.detail : NULL;
    struct kura_buf frag = KURA_BUF_INIT(REC_BUF_MAX), rec1 = KURA_BUF_INIT(REC_BUF_MAX);
    struct kura_buf rec2 = KURA_BUF_INIT(REC_BUF_MAX);
    if (r.time_ms >= TIME_MIN && r.time_ms <= TIME_MAX) {
        check(serialise(&ev, r.index, r.time_ms, r.prev, &frag, &rec1) == 0);
        check_round_trip(&ev, r.index, r.time_ms, r.prev, &rec1);
        /* Written once, the record is a fixed point: parse and write again, same bytes. */
        struct audit_record r1;
        struct kura_buf why1 = KURA_BUF_INIT(1024);
        check(audit_record_parse_full(rec1.ptr, rec1.len, &r1, &why1) == 0);
        kura_buf_release(&why1);
        struct kura_audit_event ev1 = {0};
        for (size_t k = 0; k < NSTRINGS; k++) {
            *field_of(&ev1, k) = json_string_value(json_object_get(r1.doc, string_keys[k]));
        }
        ev1.elevated = ev.elevated;
        ev1.bytes = ev.bytes;
        ev1.result = ev.result;
        ev1.detail = json_is_object(r1.detail) ? r1.detail : NULL;
        check(serialise(&ev1, r1.index, r1.time_ms, r1.prev, &frag, &rec2) == 0);
        check(rec1.len == rec2.len && memcmp(rec1.ptr, rec2.ptr, rec1.len) == 0);
        audit_record_release(&r1);
    }
    kura_buf_release(&frag);
    kura_buf_release(&rec1);
    kura_buf_release(&rec2);
    audit_record_release(&r);
}

/* ---- 2: the input as an event ---------------------------------------------------------------
 */

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void as_event(const uint8_t *data, size_t size)
{
    uint8_t head[HEADER_BYTES] = {0};
    size_t n = size < HEADER_BYTES ? size : HEADER_BYTES;
    memcpy(head, data, n);
    /* The strings: the rest, NUL-separated, in a NUL-terminated copy. */
    size_t rest = size - n;
    char *text = kura_malloc(rest + 1);
    check(text != NULL);
    memcpy(text, data + n, rest);
    text[rest] = '\0';
    const char *fields[NSTRINGS + 1] = {0};
    size_t nf = 0;
    for (size_t off = 0; nf < NSTRINGS + 1 && off <= rest;) {
        fields[nf++] = text + off;
        off += strlen(text + off) + 1;
    }
    struct kura_audit_event ev = {0};
    for (size_t k = 0; k < NSTRINGS; k++) {
        /* Header bit k set: the field is null even when present. */
        bool null = (head[k / 8] >> (k % 8)) & 1;
        *field_of(&ev, k) = null ? NULL : fields[k];
    }
    ev.elevated = head[2] & 1;
    ev.result = (enum kura_audit_result)((head[2] >> 1) & 3); /* 3: out of range, "error" */
    ev.bytes = get_u64(head + 3);
    uint64_t index = get_u64(head + 11) & (uint64_t)INT64_MAX;
    int64_t time_ms =
        TIME_MIN + (int64_t)(get_u64(head + 19) % (uint64_t)(TIME_MAX - TIME_MIN + 1));
    kura_hash prev;
    memcpy(prev, head + 27, KURA_AUDIT_HASH_BYTES);
    json_t *detail = NULL;
    if (fields[NSTRINGS] && !(head[2] & 0x10)) {
        detail = json_loads(fields[NSTRINGS], 0, NULL);
    }
    ev.detail = detail;
    struct kura_buf frag = KURA_BUF_INIT(REC_BUF_MAX), rec = KURA_BUF_INIT(REC_BUF_MAX);
    int rc = serialise(&ev, index, time_ms, prev, &frag, &rec);
    if (detail && !json_is_object(detail)) {
        check(rc == -EINVAL); /* the detail must be an object */
    } else {
        check(rc == 0);
        check_round_trip(&ev, index, time_ms, prev, &rec);
    }
    kura_buf_release(&frag);
    kura_buf_release(&rec);
    json_decref(detail);
    kura_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_record(data, size);
    as_event(data, size);
    return 0;
}
