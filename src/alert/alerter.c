/* alerter.c — the thread that runs the rules over the log as it grows, stores alerts, and
 * sends them (alert.h has the design). */
#include "alert/alert-internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#define READ_BATCH 512 /* records between two flushes of merged hits to meta */
#define MERGE_MAX 64
#define HEALTH_EVERY_MS 2000
#define SAVE_EVERY_MS 1000
#define WAIT_MAX_MS 1000
/* After reading records, pause this long before reading on: under load the rules run per batch
 * rather than per group commit of the log (fewer wake-ups and flushes); an alert is raised at
 * most this much later. */
#define PACE_MS 100
#define POSITION_PROPERTY "alerts_position"
#define MAILED_PROPERTY "alerts_mailed"

/* Hits of one rule and key within one batch, stored as one kura_meta_alert_raise. */
struct merged {
    char rule[KURA_ALERT_RULE_MAX];
    char *key;
    uint64_t first_idx, last_idx, hits;
    int64_t first_time, last_time;
    json_t *detail;
};

struct op {
    char rule[KURA_ALERT_RULE_MAX];
    json_t *detail;
};

struct kura_alerter {
    struct kura_alerter_opts o;
    struct kura_alert_rules *rules;
    struct kura_audit_reading *reading; /* the thread's */
    pthread_t thread;
    _Atomic bool stopping;
    _Atomic uint64_t position;
    pthread_mutex_t lock; /* guards ops and nops */
    struct op ops[KURA_ALERT_PENDING_MAX];
    size_t nops;
    /* The thread's own. */
    struct merged merged[MERGE_MAX];
    size_t nmerged;
    int merge_err;
    bool reader_failed;
    uint64_t newest_id, mailed_id, saved_position;
    int64_t unsent_since; /* wall ms when the oldest unmailed alert was noticed; 0: none */
    int64_t next_health, next_save;
};

/* ---- storing ------------------------------------------------------------------------------- */

static void announce(struct kura_alerter *al, uint64_t id, const struct kura_alert *a)
{
    char ids[KURA_NUM_STR_MAX];
    kura_fmt_u64(ids, id);
    kura_log(KURA_LOG_WARN, "alert_raised", "id", ids, "rule", a->rule, NULL);
    json_t *detail = json_pack("{s:s,s:s,s:I,s:I,s:I}", "rule", a->rule, "key", a->key, "hits",
                               (json_int_t)a->hits, "first_index", (json_int_t)a->first_idx,
                               "last_index", (json_int_t)a->last_idx);
    struct kura_audit_event ev = {.actor = "system",
                                  .action = "alert.raised",
                                  .object = ids,
                                  .result = KURA_AUDIT_OK,
                                  .detail = detail};
    int r = kura_audit_emit_sync(al->o.audit, &ev, NULL);
    if (r < 0) {
        kura_log_err(r, "alert_record_failed", "id", ids, NULL);
    }
    json_decref(detail);
    if (id > al->newest_id) {
        al->newest_id = id;
    }
}

static int raise_alert(struct kura_alerter *al, const struct kura_alert *a)
{
    uint64_t id = 0;
    bool is_new = false;
    int64_t quiet_ms = (int64_t)al->o.conf->alerts.quiet_minutes * 60 * 1000;
    int r = kura_meta_alert_raise(al->o.meta, a, quiet_ms, &id, &is_new);
    if (r < 0) {
        kura_log_err(r, "alert_store_failed", "rule", a->rule, NULL);
        return r;
    }
    if (is_new) {
        announce(al, id, a);
    }
    return 0;
}

static void merged_release(struct merged *m)
{
    kura_free(m->key);
    json_decref(m->detail);
    *m = (struct merged){0};
}

static int flush_merged(struct kura_alerter *al)
{
    int ret = al->merge_err;
    for (size_t i = 0; i < al->nmerged; i++) {
        struct merged *m = &al->merged[i];
        char *detail = json_dumps(m->detail, JSON_COMPACT);
        struct kura_alert a = {.rule = m->rule,
                               .key = m->key,
                               .first_idx = m->first_idx,
                               .last_idx = m->last_idx,
                               .hits = m->hits,
                               .first_time = m->first_time,
                               .last_time = m->last_time,
                               .detail = detail ? detail : "{}"};
        int r = raise_alert(al, &a);
        free(detail); /* jansson's allocator */
        if (ret == 0) {
            ret = r;
        }
        merged_release(m);
    }
    al->nmerged = 0;
    al->merge_err = 0;
    return ret;
}

static void on_hit(void *ctx, const struct kura_alert_hit *h)
{
    struct kura_alerter *al = ctx;
    for (size_t i = 0; i < al->nmerged; i++) {
        struct merged *m = &al->merged[i];
        if (strcmp(m->rule, h->rule) == 0 && strcmp(m->key, h->key) == 0) {
            m->hits++;
            m->last_idx = h->index;
            m->last_time = h->time;
            json_decref(m->detail);
            m->detail = json_incref(h->detail);
            return;
        }
    }
    if (al->nmerged == MERGE_MAX) {
        KURA_IGNORE(flush_merged(al)); /* an error is logged and counted below */
    }
    struct merged *m = &al->merged[al->nmerged];
    m->key = kura_strdup(h->key);
    if (!m->key || strlen(h->rule) >= sizeof(m->rule)) {
        kura_free(m->key);
        al->merge_err = m->key ? -EINVAL : -ENOMEM;
        return;
    }
    memcpy(m->rule, h->rule, strlen(h->rule) + 1);
    m->first_idx = m->last_idx = h->index;
    m->first_time = m->last_time = h->time;
    m->hits = 1;
    m->detail = json_incref(h->detail);
    al->nmerged++;
}

/* ---- reading the log ---------------------------------------------------------------------- */

static json_t *record_detail(void *ctx)
{
    return kura_audit_read_detail(ctx);
}

/* Most records are read without building a JSON document (audit/scan.c): the alerter reads
 * every record the server writes, and jansson's DOM cost more than the rules. */
static int feed(struct kura_alerter *al, struct kura_str rec, uint64_t index)
{
    struct kura_audit_fields f;
    if (kura_audit_read(al->reading, rec, &f) < 0) {
        return 0; /* not a record (verify names it); the rules skip it */
    }
    f.index = index;
    return kura_alert_rules_feed_fields(al->rules, &f, record_detail, al->reading, on_hit, al);
}

/* Reads what the log holds now, in batches, storing the hits of each batch. */
static int drain(struct kura_alerter *al, struct kura_audit_iter *it)
{
    for (bool caught_up = false; !caught_up && !atomic_load(&al->stopping);) {
        uint64_t position = atomic_load(&al->position);
        int r = 0;
        for (size_t n = 0; n < READ_BATCH && r == 0;) {
            struct kura_str rec;
            uint64_t index;
            int got = kura_audit_iter_next(it, &rec, &index);
            if (got == 1) {
                r = feed(al, rec, index);
                position = index + 1;
                n++;
            } else if (got == 0) {
                caught_up = true;
                break;
            } else if (got != KURA_ENOTFOUND) { /* ENOTFOUND: a pruned bundle, skipped */
                r = got;
            }
        }
        int f = flush_merged(al);
        if (r < 0) {
            return r;
        }
        if (f < 0) {
            return f; /* the position stays before the hits that could not be stored */
        }
        atomic_store(&al->position, position);
    }
    return 0;
}

static void save_position(struct kura_alerter *al, bool now)
{
    uint64_t position = atomic_load(&al->position);
    if (position == al->saved_position || (!now && kura_clock_mono_ms() < al->next_save)) {
        return;
    }
    char text[KURA_NUM_STR_MAX];
    int r = kura_meta_install_set(al->o.meta, POSITION_PROPERTY, kura_fmt_u64(text, position));
    if (r < 0) {
        kura_log_err(r, "alert_position_save_failed", NULL);
        return;
    }
    al->saved_position = position;
    al->next_save = kura_clock_mono_ms() + SAVE_EVERY_MS;
}

/* ---- operational alerts ------------------------------------------------------------------- */

void kura_alerter_raise(struct kura_alerter *al, const char *rule, json_t *detail)
{
    if (!al || strlen(rule) >= KURA_ALERT_RULE_MAX) {
        return;
    }
    bool queued = false;
    pthread_mutex_lock(&al->lock);
    if (al->nops < KURA_ALERT_PENDING_MAX) {
        struct op *op = &al->ops[al->nops++];
        memcpy(op->rule, rule, strlen(rule) + 1);
        op->detail = detail ? json_deep_copy(detail) : NULL;
        queued = true;
    }
    pthread_mutex_unlock(&al->lock);
    if (!queued) {
        kura_log(KURA_LOG_ERR, "alert_dropped", "rule", rule, NULL);
    }
    kura_audit_wake(al->o.audit);
}

static void raise_operational(struct kura_alerter *al, const char *rule, json_t *detail)
{
    int64_t now = kura_clock_wall_ms();
    uint64_t size = kura_audit_size(al->o.audit);
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    struct kura_alert a = {.rule = rule,
                           .key = "",
                           .first_idx = size,
                           .last_idx = size,
                           .hits = 1,
                           .first_time = now,
                           .last_time = now,
                           .detail = text ? text : "{}"};
    KURA_IGNORE(raise_alert(al, &a)); /* logged there */
    free(text);
}

static void flush_ops(struct kura_alerter *al)
{
    struct op ops[KURA_ALERT_PENDING_MAX];
    pthread_mutex_lock(&al->lock);
    size_t n = al->nops;
    memcpy(ops, al->ops, n * sizeof(ops[0]));
    al->nops = 0;
    pthread_mutex_unlock(&al->lock);
    for (size_t i = 0; i < n; i++) {
        raise_operational(al, ops[i].rule, ops[i].detail);
        json_decref(ops[i].detail);
    }
}

/* What cannot be in the log: the log refusing writes, its disk filling up. */
static void check_health(struct kura_alerter *al)
{
    int64_t now = kura_clock_mono_ms();
    if (now < al->next_health) {
        return;
    }
    al->next_health = now + HEALTH_EVERY_MS;
    if (kura_audit_failing(al->o.audit)) {
        json_t *d = json_pack("{s:I}", "records", (json_int_t)kura_audit_size(al->o.audit));
        raise_operational(al, "audit_failing", d);
        json_decref(d);
    }
    struct statvfs sv;
    if (fstatvfs(al->o.audit_dirfd, &sv) == 0) {
        uint64_t free_mb = (uint64_t)sv.f_bavail * sv.f_frsize / (1024 * 1024);
        if (free_mb < al->o.conf->audit.warn_free_mb) {
            json_t *d = json_pack("{s:I,s:I}", "free_mb", (json_int_t)free_mb, "warn_free_mb",
                                  (json_int_t)al->o.conf->audit.warn_free_mb);
            raise_operational(al, "disk_low", d);
            json_decref(d);
        }
    }
}

/* ---- telling ------------------------------------------------------------------------------ */

struct collected {
    struct kura_alert a[KURA_ALERT_MAIL_LIST];
    size_t n, total;
    uint64_t after, max_id;
    int err;
};

static int collect(void *ctx, const struct kura_alert *a)
{
    struct collected *c = ctx;
    if (a->id <= c->after) {
        return 1; /* newest first: everything from here on was mailed */
    }
    c->total++;
    c->max_id = a->id > c->max_id ? a->id : c->max_id;
    if (c->n < KURA_ALERT_MAIL_LIST) {
        struct kura_alert *k = &c->a[c->n];
        *k = *a;
        k->rule = kura_strdup(a->rule);
        k->key = kura_strdup(a->key);
        k->detail = kura_strdup(a->detail ? a->detail : "");
        k->ack_by = k->ack_note = NULL;
        c->n++;
        if (!k->rule || !k->key || !k->detail) {
            c->err = -ENOMEM;
            return 1;
        }
    }
    return 0;
}

static void collected_release(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++) {
        kura_free((char *)c->a[i].rule);
        kura_free((char *)c->a[i].key);
        kura_free((char *)c->a[i].detail);
    }
}

static int send_unmailed(struct kura_alerter *al)
{
    struct collected *c = kura_calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->after = al->mailed_id;
    int r = kura_meta_alert_list(al->o.meta, false, collect, c);
    r = r < 0 ? r : c->err;
    for (size_t i = 0; r == 0 && i < c->n / 2; i++) { /* oldest first in the mail */
        struct kura_alert t = c->a[i];
        c->a[i] = c->a[c->n - 1 - i];
        c->a[c->n - 1 - i] = t;
    }
    if (r == 0 && c->total > 0) {
        r = alert_mail(&al->o, c->a, c->n, c->total);
    }
    if (r == 0 && c->total > 0) {
        KURA_IGNORE(alert_webhook(al->o.conf, c->a, c->n, c->total)); /* best effort, logged */
        char text[KURA_NUM_STR_MAX];
        r = kura_meta_install_set(al->o.meta, MAILED_PROPERTY, kura_fmt_u64(text, c->max_id));
        if (r == 0) {
            al->mailed_id = c->max_id;
        }
    }
    collected_release(c);
    kura_free(c);
    return r;
}

/* Sends the unmailed alerts once the oldest has waited mail_delay (at once when forced). */
static void notify(struct kura_alerter *al, bool force)
{
    if (al->newest_id <= al->mailed_id) {
        al->unsent_since = 0;
        return;
    }
    int64_t now = kura_clock_wall_ms();
    if (al->unsent_since == 0) {
        al->unsent_since = now;
    }
    if (!force && now - al->unsent_since < (int64_t)al->o.conf->alerts.mail_delay * 1000) {
        return;
    }
    int r = send_unmailed(al);
    if (r < 0) {
        kura_log_err(r, "alert_mail_failed", NULL);
        al->unsent_since = now; /* try again after another delay */
        return;
    }
    al->unsent_since = 0;
}

static int wait_ms(const struct kura_alerter *al)
{
    if (al->unsent_since == 0) {
        return WAIT_MAX_MS;
    }
    int64_t due = al->unsent_since + (int64_t)al->o.conf->alerts.mail_delay * 1000;
    int64_t left = due - kura_clock_wall_ms();
    return left <= 0 ? 1 : left < WAIT_MAX_MS ? (int)left : WAIT_MAX_MS;
}

/* ---- the thread --------------------------------------------------------------------------- */

static void reader_failed(struct kura_alerter *al, int r)
{
    kura_log_err(r, "alert_reader_failed", "msg",
                 "alert rules stopped reading the audit log; restart kura after kura audit verify",
                 NULL);
    json_t *d = json_pack("{s:s,s:I}", "error", kura_err_name(r), "position",
                          (json_int_t)atomic_load(&al->position));
    raise_operational(al, "alert_reader_failed", d);
    json_decref(d);
    al->reader_failed = true;
}

static void *alerter_main(void *arg)
{
    struct kura_alerter *al = arg;
    struct kura_audit_iter *it = NULL;
    int r = kura_audit_iter_open(al->o.audit_dirfd, atomic_load(&al->position), &it);
    if (r < 0) {
        reader_failed(al, r);
    }
    for (;;) {
        uint64_t read_from = atomic_load(&al->position);
        if (!al->reader_failed) {
            r = drain(al, it);
            if (r < 0) {
                reader_failed(al, r);
            }
        }
        flush_ops(al);
        check_health(al);
        save_position(al, false);
        bool stopping = atomic_load(&al->stopping);
        notify(al, stopping); /* at stop: mail what is waiting now rather than after a restart */
        if (stopping) {
            break;
        }
        uint64_t read_to = atomic_load(&al->position);
        if (read_to > read_from && !al->reader_failed) {
            int ms = wait_ms(al);
            kura_audit_pause(al->o.audit, ms < PACE_MS ? ms : PACE_MS);
        } else {
            (void)kura_audit_wait(al->o.audit, read_to, wait_ms(al));
        }
    }
    save_position(al, true);
    kura_audit_iter_free(it);
    kura_sha256_thread_done();
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static int load_u64(struct kura_meta *m, const char *property, uint64_t *ret)
{
    char *text = NULL;
    int r = kura_meta_install_get(m, property, &text);
    if (r == 0) {
        r = kura_parse_u64(text, strlen(text), UINT64_MAX, ret);
        kura_free(text);
    }
    return r;
}

static int newest(void *ctx, const struct kura_alert *a)
{
    *(uint64_t *)ctx = a->id;
    return 1;
}

/* Where to read from, what was mailed, the newest alert. A first start begins at the end of
 * the log: history before alerts existed is not alerted on. */
static int load_state(struct kura_alerter *al)
{
    uint64_t position = 0;
    int r = load_u64(al->o.meta, POSITION_PROPERTY, &position);
    if (r == KURA_ENOTFOUND) {
        char text[KURA_NUM_STR_MAX];
        position = kura_audit_size(al->o.audit);
        r = kura_meta_install_set(al->o.meta, POSITION_PROPERTY, kura_fmt_u64(text, position));
    }
    if (r == 0) {
        atomic_store(&al->position, position);
        al->saved_position = position;
        r = load_u64(al->o.meta, MAILED_PROPERTY, &al->mailed_id);
        r = r == KURA_ENOTFOUND ? 0 : r;
    }
    if (r == 0) {
        r = kura_meta_alert_list(al->o.meta, false, newest, &al->newest_id);
        r = r == 1 ? 0 : r;
    }
    return r;
}

int kura_alerter_start(const struct kura_alerter_opts *opts, struct kura_alerter **ret)
{
    struct kura_alerter *al = kura_calloc(1, sizeof(*al));
    if (!al) {
        return -ENOMEM;
    }
    al->o = *opts;
    int r = kura_alert_rules_new(opts->conf, &al->rules);
    if (r == 0) {
        r = kura_audit_reading_new(&al->reading);
    }
    if (r == 0) {
        r = -pthread_mutex_init(&al->lock, NULL);
    }
    if (r < 0) {
        al->rules = kura_alert_rules_free(al->rules);
        al->reading = kura_audit_reading_free(al->reading);
    }
    if (r == 0) {
        r = load_state(al);
        if (r == 0) {
            r = -pthread_create(&al->thread, NULL, alerter_main, al);
        }
        if (r < 0) {
            (void)pthread_mutex_destroy(&al->lock);
            al->rules = kura_alert_rules_free(al->rules);
            al->reading = kura_audit_reading_free(al->reading);
        }
    }
    if (r < 0) {
        kura_free(al);
        return r;
    }
    (void)pthread_setname_np(al->thread, "kura-alert");
    *ret = al;
    return 0;
}

struct kura_alerter *kura_alerter_stop(struct kura_alerter *al)
{
    if (!al) {
        return NULL;
    }
    atomic_store(&al->stopping, true);
    kura_audit_wake(al->o.audit);
    pthread_join(al->thread, NULL);
    for (size_t i = 0; i < al->nops; i++) {
        json_decref(al->ops[i].detail);
    }
    (void)pthread_mutex_destroy(&al->lock);
    kura_alert_rules_free(al->rules);
    kura_audit_reading_free(al->reading);
    kura_free(al);
    return NULL;
}

uint64_t kura_alerter_position(struct kura_alerter *al)
{
    return atomic_load(&al->position);
}
