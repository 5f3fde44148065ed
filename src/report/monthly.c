/* monthly.c — the monthly audit report (report.h). */
#include "report/report-internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DETAIL_MAX 500 /* bytes of a record's detail shown */
#define FILE_MAX (256u << 20)
#define OTHER "(other)"

/* ---- tallies by key ------------------------------------------------------------------------- */

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        kura_free(t->keys[i]);
    }
    kura_free(t->keys);
    kura_free(t->rows);
    json_decref(t->index);
}

static int grow(struct table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct tally *rows = kura_reallocarray(t->rows, cap, sizeof(*rows));
    if (!rows) {
        return -ENOMEM;
    }
    t->rows = rows;
    char **keys = kura_reallocarray(t->keys, cap, sizeof(*keys));
    if (!keys) {
        return -ENOMEM;
    }
    t->keys = keys;
    t->cap = cap;
    return 0;
}

/* The tally of key, created at zero; past max distinct keys, the "(other)" row. */
static struct tally *table_get(struct table *t, const char *key)
{
    if (!t->index && !(t->index = json_object())) {
        return NULL;
    }
    json_t *pos = json_object_get(t->index, key);
    if (pos) {
        return &t->rows[json_integer_value(pos)];
    }
    if (t->n >= t->max && strcmp(key, OTHER) != 0) {
        return table_get(t, OTHER);
    }
    if (t->n == t->cap && grow(t) < 0) {
        return NULL;
    }
    char *copy = kura_strdup(key);
    if (!copy || json_object_set_new_nocheck(t->index, key, json_integer((json_int_t)t->n)) < 0) {
        kura_free(copy);
        return NULL;
    }
    t->keys[t->n] = copy;
    t->rows[t->n] = (struct tally){0};
    return &t->rows[t->n++];
}

/* ---- gathering ---------------------------------------------------------------------------- */

static const char *str_or(json_t *doc, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s ? s : dflt;
}

static bool is_change(const char *action)
{
    static const char *const prefixes[] = {
        "config.",     "server.",   "account.",     "role.", "grant.",      "application.",
        "dataset.acl", "audit.key", "audit.pruned", "cli.",  "alert.raised"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(prefixes); i++) {
        if (strncmp(action, prefixes[i], strlen(prefixes[i])) == 0) {
            return true;
        }
    }
    return false;
}

static char *detail_text(json_t *doc)
{
    json_t *detail = json_object_get(doc, "detail");
    char *text = json_is_object(detail) ? json_dumps(detail, JSON_COMPACT) : NULL;
    char *copy = kura_strdup(text ? text : "");
    free(text); /* jansson's allocator */
    if (copy && strlen(copy) > DETAIL_MAX) {
        size_t cut = DETAIL_MAX;
        while (cut > 0 && ((unsigned char)copy[cut] & 0xC0) == 0x80) {
            cut--; /* not inside a UTF-8 character */
        }
        copy[cut] = '\0';
    }
    return copy;
}

static int add_change(struct gather *g, const struct kura_audit_row *row, json_t *doc)
{
    g->changes_seen++;
    if (g->nchanges >= KURA_REPORT_CHANGES_MAX) {
        return 0;
    }
    if (g->nchanges % 256 == 0) {
        struct change *c = kura_reallocarray(g->changes, g->nchanges + 256, sizeof(*c));
        if (!c) {
            return -ENOMEM;
        }
        g->changes = c;
    }
    struct change *c = &g->changes[g->nchanges++];
    *c = (struct change){
        .time = row->time,
        .actor = kura_strdup(row->actor ? row->actor : ""),
        .action = kura_strdup(row->action),
        .object = kura_strdup(row->object ? row->object : ""),
        .result = kura_strdup(row->result ? row->result : ""),
        .detail = detail_text(doc),
    };
    return c->actor && c->action && c->object && c->result && c->detail ? 0 : -ENOMEM;
}

static void count(struct tally *t, const char *result, uint64_t bytes)
{
    t->records++;
    t->denied += strcmp(result, "denied") == 0;
    t->errors += strcmp(result, "error") == 0;
    t->bytes += bytes;
}

static int on_row(void *ctx, const struct kura_audit_row *row)
{
    struct gather *g = ctx;
    json_t *doc = json_loads(row->record, 0, NULL);
    const char *result = row->result ? row->result : "";
    const char *reason = str_or(doc, "reason", "");
    char key[REPORT_KEY_MAX];
    (void)snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", row->action, result, reason);
    struct tally *a = table_get(&g->actions, key);
    struct tally *u = table_get(&g->actors, row->actor ? row->actor : "-");
    struct tally *s = table_get(&g->sources, row->source_ip ? row->source_ip : "-");
    int r = a && u && s ? 0 : -ENOMEM;
    if (r == 0) {
        count(a, result, row->bytes);
        count(u, result, row->bytes);
        count(s, result, row->bytes);
        if (strcmp(row->action, "file.read") == 0 && strcmp(result, "ok") == 0) {
            u->files_read++;
            u->bytes_read += row->bytes;
        }
        g->sum.records++;
        g->sum.ok += strcmp(result, "ok") == 0;
        g->sum.denied += strcmp(result, "denied") == 0;
        g->sum.errors += strcmp(result, "error") == 0;
    }
    if (r == 0 && is_change(row->action)) {
        r = add_change(g, row, doc);
    }
    json_decref(doc);
    return r;
}

static void gather_free(struct gather *g)
{
    table_free(&g->actions);
    table_free(&g->actors);
    table_free(&g->sources);
    for (size_t i = 0; i < g->nchanges; i++) {
        struct change *c = &g->changes[i];
        kura_free(c->actor);
        kura_free(c->action);
        kura_free(c->object);
        kura_free(c->result);
        kura_free(c->detail);
    }
    kura_free(g->changes);
}

/* ---- alerts ------------------------------------------------------------------------------- */

static int on_alert(void *ctx, const struct kura_alert *a)
{
    struct alerts *al = ctx;
    if (a->last_time < al->from || a->first_time >= al->to) {
        return 0;
    }
    if (al->n % 64 == 0) {
        struct alert_row *rows = kura_reallocarray(al->rows, al->n + 64, sizeof(*rows));
        if (!rows) {
            return -ENOMEM;
        }
        al->rows = rows;
    }
    struct kura_alert *k = &al->rows[al->n++].a;
    *k = *a;
    k->rule = kura_strdup(a->rule);
    k->key = kura_strdup(a->key);
    k->detail = kura_strdup(a->detail ? a->detail : "");
    k->ack_by = kura_strdup(a->ack_by ? a->ack_by : "");
    k->ack_note = kura_strdup(a->ack_note ? a->ack_note : "");
    return k->rule && k->key && k->detail && k->ack_by && k->ack_note ? 0 : -ENOMEM;
}

static void alerts_free(struct alerts *al)
{
    for (size_t i = 0; i < al->n; i++) {
        struct kura_alert *k = &al->rows[i].a;
        kura_free((char *)k->rule);
        kura_free((char *)k->key);
        kura_free((char *)k->detail);
        kura_free((char *)k->ack_by);
        kura_free((char *)k->ack_note);
    }
    kura_free(al->rows);
}

/* ---- writing ------------------------------------------------------------------------------ */

static void csv_str(struct kura_buf *b, const char *s, bool last)
{
    kura_csv_field(b, s, strlen(s));
    kura_buf_adds(b, last ? "\r\n" : ",");
}

static void csv_u64(struct kura_buf *b, uint64_t v, bool last)
{
    kura_buf_addf(b, "%llu%s", (unsigned long long)v, last ? "\r\n" : ",");
}

static void csv_time(struct kura_buf *b, int64_t ms, bool last)
{
    char t[KURA_TIME_STR_MAX];
    kura_clock_format(ms, t);
    csv_str(b, ms ? t : "", last);
}

static int write_file(int dirfd, const char *month, const char *suffix, struct kura_buf *b,
                      struct kura_buf *reterr)
{
    char name[64];
    (void)snprintf(name, sizeof(name), "kura-audit-%s%s", month, suffix);
    int r = kura_buf_err(b);
    if (r == 0) {
        r = kura_file_write_atomic(dirfd, name, b->ptr, b->len, 0600);
    }
    if (r < 0) {
        kura_buf_addf(reterr, "cannot write %s: %s", name, kura_strerror(r));
    }
    return r;
}

static void tally_csv(struct kura_buf *b, const struct table *t, const char *head, bool user)
{
    kura_buf_adds(b, head);
    for (size_t i = 0; i < t->n; i++) {
        const struct tally *v = &t->rows[i];
        csv_str(b, t->keys[i], false);
        csv_u64(b, v->records, false);
        csv_u64(b, v->denied, false);
        csv_u64(b, v->errors, !user);
        if (user) {
            csv_u64(b, v->bytes, false);
            csv_u64(b, v->files_read, false);
            csv_u64(b, v->bytes_read, true);
        }
    }
}

static void actions_csv(struct kura_buf *b, const struct table *t)
{
    kura_buf_adds(b, "action,result,reason,records,bytes\r\n");
    for (size_t i = 0; i < t->n; i++) {
        char key[REPORT_KEY_MAX];
        (void)snprintf(key, sizeof(key), "%s", t->keys[i]);
        char *result = strchr(key, '\x1f');
        char *reason = result ? strchr(result + 1, '\x1f') : NULL;
        if (result && reason) {
            *result++ = '\0';
            *reason++ = '\0';
        }
        csv_str(b, key, false);
        csv_str(b, result ? result : "", false);
        csv_str(b, reason ? reason : "", false);
        csv_u64(b, t->rows[i].records, false);
        csv_u64(b, t->rows[i].bytes, true);
    }
}

static void changes_csv(struct kura_buf *b, const struct gather *g)
{
    kura_buf_adds(b, "time,actor,action,object,result,detail\r\n");
    for (size_t i = 0; i < g->nchanges; i++) {
        const struct change *c = &g->changes[i];
        csv_time(b, c->time, false);
        csv_str(b, c->actor, false);
        csv_str(b, c->action, false);
        csv_str(b, c->object, false);
        csv_str(b, c->result, false);
        csv_str(b, c->detail, true);
    }
}

static void alerts_csv(struct kura_buf *b, const struct alerts *al)
{
    kura_buf_adds(b, "id,rule,key,hits,first_time,last_time,first_index,last_index,status,"
                     "ack_by,ack_time,ack_note,detail\r\n");
    for (size_t i = 0; i < al->n; i++) {
        const struct kura_alert *a = &al->rows[i].a;
        csv_u64(b, a->id, false);
        csv_str(b, a->rule, false);
        csv_str(b, a->key, false);
        csv_u64(b, a->hits, false);
        csv_time(b, a->first_time, false);
        csv_time(b, a->last_time, false);
        csv_u64(b, a->first_idx, false);
        csv_u64(b, a->last_idx, false);
        csv_str(b, a->acknowledged ? "acknowledged" : "open", false);
        csv_str(b, a->ack_by, false);
        csv_time(b, a->acknowledged ? a->ack_at : 0, false);
        csv_str(b, a->ack_note, false);
        csv_str(b, a->detail, true);
    }
}

int kura_report_month_range(const char *month, int64_t *ret_from, int64_t *ret_to)
{
    uint64_t y, m;
    if (!month || strlen(month) != 7 || month[4] != '-' || kura_parse_u64(month, 4, 9999, &y) < 0 ||
        y < 1970 || kura_parse_u64(month + 5, 2, 12, &m) < 0 || m < 1) {
        return KURA_ESYNTAX;
    }
    /* Days from 1970-01-01 to the first of a month (Howard Hinnant's days_from_civil). */
    int64_t from = 0, to = 0;
    for (int k = 0; k < 2; k++) {
        int64_t yy = (int64_t)y + (k == 1 && m == 12);
        int64_t mm = k == 0 ? (int64_t)m : (int64_t)(m % 12) + 1;
        yy -= mm <= 2;
        int64_t era = yy / 400, yoe = yy - era * 400;
        int64_t doy = (153 * (mm + (mm > 2 ? -3 : 9)) + 2) / 5;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        int64_t days = era * 146097 + doe - 719468;
        *(k == 0 ? &from : &to) = days * 86400000LL;
    }
    *ret_from = from;
    *ret_to = to;
    return 0;
}

int kura_report_monthly(const struct kura_report_monthly_opts *o, struct kura_report_summary *ret,
                        struct kura_buf *reterr)
{
    int64_t from, to;
    int r = kura_report_month_range(o->month, &from, &to);
    if (r < 0) {
        kura_buf_addf(reterr, "month '%s': expected YYYY-MM", o->month);
        return r;
    }
    struct gather *g = kura_calloc(1, sizeof(*g));
    struct alerts al = {.from = from, .to = to};
    struct kura_buf b = KURA_BUF_INIT(FILE_MAX);
    if (!g) {
        return -ENOMEM;
    }
    g->actions.max = g->actors.max = g->sources.max = KURA_REPORT_KEYS_MAX;
    struct kura_audit_query q = {.from_ms = from, .to_ms = to, .after_idx = UINT64_MAX};
    r = kura_meta_audit_index_search(o->meta, &q, on_row, g);
    if (r == 0) {
        r = kura_meta_alert_list(o->meta, false, on_alert, &al);
    }
    if (r < 0) {
        kura_buf_addf(reterr, "cannot read the audit index: %s", kura_strerror(r));
    }
    g->sum.actors = g->actors.n;
    g->sum.sources = g->sources.n;
    g->sum.changes = g->changes_seen;
    g->sum.alerts = al.n;
    static const char *const files[] = {"-actions.csv", "-actors.csv", "-sources.csv",
                                        "-changes.csv", "-alerts.csv", ".html"};
    for (size_t i = 0; r == 0 && i < KURA_ARRAY_SIZE(files); i++) {
        kura_buf_reset(&b);
        switch (i) {
        case 0:
            actions_csv(&b, &g->actions);
            break;
        case 1:
            tally_csv(&b, &g->actors,
                      "actor,records,refused,errors,bytes,files_read,bytes_read\r\n", true);
            break;
        case 2:
            tally_csv(&b, &g->sources, "source_ip,records,refused,errors\r\n", false);
            break;
        case 3:
            changes_csv(&b, g);
            break;
        case 4:
            alerts_csv(&b, &al);
            break;
        default:
            report_page(&b, o, g, &al);
        }
        r = write_file(o->out_dirfd, o->month, files[i], &b, reterr);
    }
    if (r == 0 && ret) {
        *ret = g->sum;
    }
    kura_buf_release(&b);
    alerts_free(&al);
    gather_free(g);
    kura_free(g);
    return r;
}
