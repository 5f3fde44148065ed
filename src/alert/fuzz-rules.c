/* fuzz-rules.c — libFuzzer harness for the alert rules (rules.c, kura_alert_rules_feed) over
 * hostile audit records. Seeds: tests/fuzz/rules/.
 *
 * The input is split into lines; each line that is a JSON object is fed as one record (the
 * index counts lines fed; the time is the record's own "time" when it parses, as the alerter
 * does, else one second after the previous record). A line "#<n>[,<step ms>] <json>" feeds the
 * record n times (at most REPEAT_MAX records per input, and AFTER_FULL_MAX once a key table was
 * full), appending "#<i>" to its actor, object and source_ip the i-th time (i >= 1) and stepping
 * the time (default 0), so that one input can fill the key table up to KURA_ALERT_KEYS_MAX and
 * beyond. The configuration has every threshold at 1, the shortest windows, off hours and usual
 * networks set, so every rule can fire.
 *
 * Oracles:
 *  - feed returns 0 (-ENOMEM is its only documented error, and nothing here runs out);
 *  - kura_alert_rules_tracked never exceeds KURA_ALERT_KEYS_MAX;
 *  - every hit names a rule of alert.h's table (it has a description), a key, the record's index
 *    and time, and an object detail; records of the alert area itself (alert.*) and records
 *    without an action never hit;
 *  - the rules are a pure function of the records (alert.h): a second instance, with its own
 *    random hash key, gives the same hits in the same order with the same details, as long as
 *    neither had to evict a key;
 *  - a line that is a whole audit record (kura_audit_read accepts it) is fed to the second
 *    instance as the alerter feeds it, by its fields with the detail built on demand
 *    (kura_alert_rules_feed_fields): the hits are the same as from the JSON document.
 */
#include "alert/alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPEAT_MAX 70000
/* Records fed once a table was full: enough for evictions and full sweeps, and a bound on the
 * time an input takes (a full sweep is O(table), at most once a minute of record time). */
#define AFTER_FULL_MAX 2000
#define HITS_MAX 64
#define T_START 1795000000000LL

static const char conf_text[] = "[alerts]\n"
                                "auth_failures = 1\n"
                                "source_failures = 1\n"
                                "source_window = 10\n"
                                "access_denied = 1\n"
                                "access_window = 10\n"
                                "malformed = 1\n"
                                "transfer_mb = 1\n"
                                "transfer_files = 1\n"
                                "off_hours = 18:00-08:00\n"
                                "usual_networks = 192.0.2.0/24, 2001:db8::/32\n";

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

struct seen {
    uint64_t index;
    int64_t time;
    bool keep; /* keep the hits for the twin comparison */
    size_t n;
    struct {
        char *rule_key; /* "rule\nkey" */
        json_t *detail; /* a reference to the hit's detail */
    } hits[HITS_MAX];
};

static void on_hit(void *ctx, const struct kura_alert_hit *h)
{
    struct seen *s = ctx;
    check(h->rule != NULL && h->key != NULL && json_is_object(h->detail));
    check(strcmp(kura_alert_rule_en(h->rule), "alert") != 0); /* a rule of the table */
    check(strlen(h->rule) < KURA_ALERT_RULE_MAX);
    check(h->index == s->index && h->time == s->time);
    if (s->keep && s->n < HITS_MAX) {
        size_t len = strlen(h->rule) + strlen(h->key) + 2;
        s->hits[s->n].rule_key = kura_malloc(len);
        check(s->hits[s->n].rule_key != NULL);
        (void)snprintf(s->hits[s->n].rule_key, len, "%s\n%s", h->rule, h->key);
        s->hits[s->n].detail = json_incref(h->detail);
    }
    s->n++;
}

static void seen_clear(struct seen *s)
{
    for (size_t i = 0; s->keep && i < s->n && i < HITS_MAX; i++) {
        kura_free(s->hits[i].rule_key);
        json_decref(s->hits[i].detail);
    }
    s->n = 0;
}

struct state {
    struct kura_alert_rules *a, *b;
    struct kura_audit_reading *rd;
    bool evicting; /* a table was full at some point: the twins may differ from then on */
    uint64_t index;
    int64_t time;
    size_t fed, fed_full; /* records fed, and of them once evicting */
};

/* The record's own time when it has one (as the alerter reads it), else after the previous. */
static int64_t time_of(const struct state *st, json_t *rec, int64_t step)
{
    json_t *t = json_object_get(rec, "time");
    int64_t ms;
    if (json_is_string(t) && kura_audit_time_parse(json_string_value(t), &ms) == 0) {
        return ms;
    }
    return st->time + step;
}

static json_t *read_detail(void *ctx)
{
    return kura_audit_read_detail(ctx);
}

/* fields (with its reading): the record as kura_audit_read gave it, for the twin. */
static void feed(struct state *st, json_t *rec, int64_t time, struct kura_audit_fields *fields,
                 struct kura_audit_reading *rd)
{
    st->time = time;
    st->evicting = st->evicting || kura_alert_rules_tracked(st->a) >= KURA_ALERT_KEYS_MAX ||
                   kura_alert_rules_tracked(st->b) >= KURA_ALERT_KEYS_MAX;
    /* tracked is checked after every record: it must stay within the limit. */
    /* Once a table was full the twin has nothing left to show: only the first one goes on. */
    struct seen sa = {.index = st->index, .time = time < 0 ? 0 : time, .keep = !st->evicting};
    struct seen sb = sa;
    check(kura_alert_rules_feed(st->a, rec, st->index, time, on_hit, &sa) == 0);
    check(kura_alert_rules_tracked(st->a) <= KURA_ALERT_KEYS_MAX);
    if (!st->evicting) {
        if (fields) {
            fields->index = st->index;
            check(kura_alert_rules_feed_fields(st->b, fields, read_detail, rd, on_hit, &sb) == 0);
        } else {
            check(kura_alert_rules_feed(st->b, rec, st->index, time, on_hit, &sb) == 0);
        }
        check(kura_alert_rules_tracked(st->b) <= KURA_ALERT_KEYS_MAX);
    }
    const char *action = json_string_value(json_object_get(rec, "action"));
    if (!action || strncmp(action, "alert.", 6) == 0) {
        check(sa.n == 0 && sb.n == 0);
    }
    if (!st->evicting) {
        check(sa.n == sb.n);
        for (size_t i = 0; i < sa.n && i < HITS_MAX; i++) {
            check(strcmp(sa.hits[i].rule_key, sb.hits[i].rule_key) == 0 &&
                  json_equal(sa.hits[i].detail, sb.hits[i].detail));
        }
    }
    seen_clear(&sa);
    seen_clear(&sb);
    st->index++;
    st->fed++;
    st->fed_full += st->evicting;
}

static bool budget_left(const struct state *st)
{
    return st->fed < REPEAT_MAX && st->fed_full < AFTER_FULL_MAX;
}

/* Appends "#i" to a string field, when it is one. */
static void suffix(json_t *rec, const char *key, json_t *orig, size_t i)
{
    if (!json_is_string(orig)) {
        return;
    }
    char tail[32];
    (void)snprintf(tail, sizeof(tail), "#%zu", i);
    struct kura_buf b = KURA_BUF_INIT(1 << 20);
    kura_buf_add(&b, json_string_value(orig), json_string_length(orig));
    kura_buf_adds(&b, tail);
    check(kura_buf_err(&b) == 0);
    check(json_object_set_new(rec, key, json_stringn(b.ptr, b.len)) == 0);
    kura_buf_release(&b);
}

static void line(struct state *st, const char *p, size_t len)
{
    uint64_t repeat = 1, step = 0;
    if (len > 1 && p[0] == '#') {
        const char *sp = memchr(p, ' ', len);
        if (!sp) {
            return;
        }
        struct kura_str spec = kura_str_make(p + 1, (size_t)(sp - p) - 1), count;
        bool has_step = kura_str_split(&spec, ',', &count);
        if (kura_parse_u64(count.ptr, count.len, REPEAT_MAX, &repeat) < 0 ||
            (has_step && kura_parse_u64(spec.ptr, spec.len, 24 * 3600 * 1000, &step) < 0)) {
            return;
        }
        len -= (size_t)(sp + 1 - p);
        p = sp + 1;
    }
    json_t *rec = json_loadb(p, len, 0, NULL);
    if (!json_is_object(rec)) {
        json_decref(rec);
        return;
    }
    struct kura_audit_fields f;
    bool whole = kura_audit_read(st->rd, kura_str_make(p, len), &f) == 0;
    feed(st, rec, time_of(st, rec, 1000), whole ? &f : NULL, st->rd);
    if (repeat == 1) {
        json_decref(rec);
        return;
    }
    json_object_del(rec, "time"); /* the copies move on by step */
    static const char *const keys[] = {"actor", "object", "source_ip"};
    json_t *orig[3];
    for (size_t k = 0; k < 3; k++) {
        orig[k] = json_incref(json_object_get(rec, keys[k]));
    }
    for (uint64_t i = 1; i < repeat && budget_left(st); i++) {
        for (size_t k = 0; k < 3; k++) {
            suffix(rec, keys[k], orig[k], (size_t)i);
        }
        feed(st, rec, time_of(st, rec, (int64_t)step), NULL, NULL);
    }
    for (size_t k = 0; k < 3; k++) {
        json_decref(orig[k]);
    }
    json_decref(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct kura_conf *conf;
    if (!conf) {
        struct kura_buf err = KURA_BUF_INIT(4096);
        int r = kura_conf_parse("fuzz.conf", conf_text, strlen(conf_text), &conf, &err);
        if (r < 0) {
            fprintf(stderr, "fuzz-rules: %s\n", err.ptr ? err.ptr : "");
            abort();
        }
        kura_buf_release(&err);
    }
    struct state st = {.time = T_START};
    check(kura_alert_rules_new(conf, &st.a) == 0 && kura_alert_rules_new(conf, &st.b) == 0 &&
          kura_audit_reading_new(&st.rd) == 0);
    struct kura_str rest = kura_str_make((const char *)data, size), l;
    while (rest.len > 0 && budget_left(&st)) {
        (void)kura_str_split(&rest, '\n', &l);
        line(&st, l.ptr, l.len);
    }
    st.a = kura_alert_rules_free(st.a);
    st.b = kura_alert_rules_free(st.b);
    st.rd = kura_audit_reading_free(st.rd);
    return 0;
}
