/* rules.c — the alert rules over audit records (alert.h has the table of rules). */
#include "alert/alert.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#define BUCKETS 16384 /* a power of two; 4 keys per bucket when the table is full */
#define EVICT_PROBE 64
#define DAY_MS (24LL * 60 * 60 * 1000)
#define HOUR_MS (60LL * 60 * 1000)
#define SWEEP_EVERY_MS HOUR_MS

enum rule {
    R_CONFIG,
    R_UNCLEAN,
    R_VERIFY,
    R_ACCOUNT,
    R_PERMISSION,
    R_PRIVILEGED,
    R_AUTH,
    R_SOURCE,
    R_DENIED,
    R_MALFORMED,
    R_TRANSFER,
    R_OFFHOURS,
    R_NETWORK,
    R_BREAKGLASS,
    R_COUNT,
};

struct rule_text {
    const char *name, *ja, *en;
};

/* Also the operational rules raised by the alerter, so that every alert has a description. */
static const struct rule_text texts[] = {
    [R_CONFIG] = {"config_change", "設定が変更されました", "the configuration was changed"},
    [R_UNCLEAN] = {"unclean_stop", "前回のサーバーが監査ログを閉じずに停止しました",
                   "the previous server run stopped without closing the audit log"},
    [R_VERIFY] = {"verify_failed", "監査ログの検証で問題が見つかりました",
                  "verifying the audit log found a problem"},
    [R_ACCOUNT] = {"account_change", "アカウントが変更されました", "an account was changed"},
    [R_PERMISSION] = {"permission_change", "権限または利用承認が変更されました",
                      "a permission or a data-use approval was changed"},
    [R_PRIVILEGED] = {"privileged_use", "特権が使用されました", "a privileged role was used"},
    [R_AUTH] = {"auth_failures", "同じアカウントでログインの失敗が続いています",
                "repeated failed logins of one account"},
    [R_SOURCE] = {"source_failures", "同じアドレスからログインの失敗が続いています",
                  "repeated failed logins from one address"},
    [R_DENIED] = {"access_denied", "拒否されたアクセスが続いています", "repeated refused requests"},
    [R_MALFORMED] = {"malformed", "不正な形式のリクエストが続いています",
                     "repeated malformed requests from one address"},
    [R_TRANSFER] = {"mass_transfer", "大量のデータが読み出されました",
                    "one user read an unusual amount of data"},
    [R_OFFHOURS] = {"off_hours", "業務時間外にデータへアクセスがありました",
                    "data was accessed outside working hours"},
    [R_NETWORK] = {"unusual_network", "通常と異なるネットワークから利用されました",
                   "a user connected from outside the usual networks"},
    [R_BREAKGLASS] = {"break_glass", "非常用アカウントが有効化または使用されました",
                      "an emergency (break-glass) account was enabled or used"},
};

static const struct rule_text operational[] = {
    {"audit_failing", "監査ログに書き込めません（監査対象の要求は拒否されています）",
     "the audit log cannot be written (audited requests are being refused)"},
    {"disk_low", "監査ログのディスクの空き容量が少なくなっています",
     "free space on the audit log's disk is low"},
    {"syslog_failing", "ログサーバーへの転送が止まっています",
     "forwarding to the log server has stopped"},
    {"alert_reader_failed", "警報の規則が監査ログを読めなくなりました",
     "the alert rules can no longer read the audit log"},
};

static const struct rule_text *text_of(const char *rule)
{
    for (size_t i = 0; i < R_COUNT; i++) {
        if (strcmp(texts[i].name, rule) == 0) {
            return &texts[i];
        }
    }
    for (size_t i = 0; i < KURA_ARRAY_SIZE(operational); i++) {
        if (strcmp(operational[i].name, rule) == 0) {
            return &operational[i];
        }
    }
    return NULL;
}

const char *kura_alert_rule_ja(const char *rule)
{
    const struct rule_text *t = text_of(rule);
    return t ? t->ja : "警報";
}

const char *kura_alert_rule_en(const char *rule)
{
    const struct rule_text *t = text_of(rule);
    return t ? t->en : "alert";
}

/* ---- the table of counters -------------------------------------------------------------- */

struct counter {
    struct counter *next;
    int64_t start; /* the current window's start (record time, a multiple of the window) */
    int64_t last;  /* the latest record that touched it */
    uint64_t prev, cur;
    uint64_t prev_bytes, cur_bytes;
    uint64_t streak; /* consecutive failures (auth_failures) */
    uint8_t rule;
    size_t key_len;
    char key[];
};

struct kura_alert_rules {
    const struct kura_conf *conf;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    struct counter *buckets[BUCKETS];
    size_t count;
    int64_t next_sweep, next_full_sweep;
    bool off_hours;
    unsigned off_from, off_to; /* minutes of the UTC day */
    struct kura_cidr networks[KURA_CONF_MAX_PROXIES];
    size_t nnetworks;
};

static size_t bucket_of(const struct kura_alert_rules *rules, uint8_t rule, const char *key,
                        size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, len, rules->hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    h ^= rule * 0x9E3779B97F4A7C15ULL; /* the same key under two rules: usually two buckets */
    return (size_t)(h & (BUCKETS - 1));
}

static void unlink_counter(struct kura_alert_rules *rules, struct counter **slot)
{
    struct counter *c = *slot;
    *slot = c->next;
    kura_free(c);
    rules->count--;
}

/* Makes room for one key: the entry idle longest in the first non-empty bucket from b on. */
static void evict(struct kura_alert_rules *rules, size_t b)
{
    for (size_t i = 0; i < EVICT_PROBE * 4; i++) {
        struct counter **best = NULL, **slot = &rules->buckets[(b + i) & (BUCKETS - 1)];
        for (; *slot; slot = &(*slot)->next) {
            if (!best || (*slot)->last < (*best)->last) {
                best = slot;
            }
        }
        if (best) {
            unlink_counter(rules, best);
            return;
        }
    }
}

/* Drops keys idle for a day (longer than any window but the longest access_window). */
static void sweep(struct kura_alert_rules *rules, int64_t now)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        for (struct counter **slot = &rules->buckets[b]; *slot;) {
            if ((*slot)->last < now - DAY_MS) {
                unlink_counter(rules, slot);
            } else {
                slot = &(*slot)->next;
            }
        }
    }
}

static struct counter *counter_get(struct kura_alert_rules *rules, uint8_t rule, const char *key,
                                   int64_t t)
{
    size_t len = strlen(key), b = bucket_of(rules, rule, key, len);
    for (struct counter *c = rules->buckets[b]; c; c = c->next) {
        if (c->rule == rule && c->key_len == len && memcmp(c->key, key, len) == 0) {
            c->last = t;
            return c;
        }
    }
    if (rules->count >= KURA_ALERT_KEYS_MAX && t >= rules->next_full_sweep) {
        sweep(rules, t); /* O(table): at most once a minute of record time */
        rules->next_full_sweep = t + 60 * 1000;
    }
    if (rules->count >= KURA_ALERT_KEYS_MAX) {
        evict(rules, b);
    }
    struct counter *c = kura_calloc(1, sizeof(*c) + len + 1);
    if (!c) {
        return NULL;
    }
    c->rule = rule;
    c->key_len = len;
    memcpy(c->key, key, len);
    c->last = t;
    c->start = t;
    c->next = rules->buckets[b];
    rules->buckets[b] = c;
    rules->count++;
    return c;
}

/* Moves the counter's windows forward to time t (window w ms). */
static void roll(struct counter *c, int64_t t, int64_t w)
{
    int64_t aligned = t - t % w;
    if (c->prev == 0 && c->cur == 0 && c->cur_bytes == 0 && c->prev_bytes == 0) {
        c->start = aligned;
        return;
    }
    if (t < c->start + w) {
        return; /* the current window (or a clock step back: count it in the current one) */
    }
    bool adjacent = t < c->start + 2 * w;
    c->prev = adjacent ? c->cur : 0;
    c->prev_bytes = adjacent ? c->cur_bytes : 0;
    c->cur = c->cur_bytes = 0;
    c->start = aligned;
}

/* The sliding-window estimate of a counter value at time t. */
static double estimate(uint64_t prev, uint64_t cur, int64_t start, int64_t t, int64_t w)
{
    int64_t elapsed = t - start;
    elapsed = elapsed < 0 ? 0 : elapsed > w ? w : elapsed;
    return (double)prev * (double)(w - elapsed) / (double)w + (double)cur;
}

/* ---- records ------------------------------------------------------------------------------ */

struct rec {
    const char *action, *actor, *result, *reason, *source_ip, *object;
    uint64_t bytes;
    bool elevated;
    uint64_t index;
    int64_t time;
    /* The detail, built only for the records whose rules read it. */
    kura_alert_detail_fn detail_fn;
    void *detail_ctx;
    struct kura_str detail_text;
};

/* detail[key], or NULL; the record's detail is built only if its text may hold key. */
static json_t *detail_get(const struct rec *r, const char *key)
{
    if (r->detail_text.ptr) {
        char quoted[32];
        int n = snprintf(quoted, sizeof(quoted), "\"%s\"", key);
        if (n > 0 && (size_t)n < sizeof(quoted) &&
            !memmem(r->detail_text.ptr, r->detail_text.len, quoted, (size_t)n)) {
            return NULL; /* keys in a record are written without escapes (audit/scan.c) */
        }
    }
    json_t *detail = r->detail_fn ? r->detail_fn(r->detail_ctx) : NULL;
    return json_is_object(detail) ? json_object_get(detail, key) : NULL;
}

static const char *str_field(json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key)); /* NULL when absent or not a string */
}

static bool starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is(const char *s, const char *v)
{
    return s && strcmp(s, v) == 0;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* The hit's detail: what the record was, plus rule-specific numbers. */
static json_t *hit_detail(const struct rec *r)
{
    return json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "action", r->action, "actor", r->actor,
                     "source_ip", r->source_ip, "object", r->object, "result", r->result, "reason",
                     r->reason);
}

struct emit {
    kura_alert_hit_fn fn;
    void *ctx;
};

static int hit(const struct emit *e, const struct rec *r, enum rule rule, const char *key,
               json_t *extra)
{
    json_t *detail = hit_detail(r);
    if (!detail || (extra && json_object_update(detail, extra) < 0)) {
        json_decref(detail);
        json_decref(extra);
        return -ENOMEM;
    }
    json_decref(extra);
    struct kura_alert_hit h = {texts[rule].name, key, r->index, r->time, detail};
    e->fn(e->ctx, &h);
    json_decref(detail);
    return 0;
}

/* A windowed count rule: count this record under key; hit while the estimate ≥ threshold. */
static int windowed(struct kura_alert_rules *rules, const struct emit *e, const struct rec *r,
                    enum rule rule, const char *key, uint64_t threshold, uint64_t window_s)
{
    int64_t w = (int64_t)window_s * 1000;
    struct counter *c = counter_get(rules, (uint8_t)rule, key, r->time);
    if (!c) {
        return -ENOMEM;
    }
    roll(c, r->time, w);
    c->cur++;
    double n = estimate(c->prev, c->cur, c->start, r->time, w);
    if (n < (double)threshold) {
        return 0;
    }
    return hit(e, r, rule, key,
               json_pack("{s:I,s:I,s:I}", "count", (json_int_t)n, "threshold",
                         (json_int_t)threshold, "window_seconds", (json_int_t)window_s));
}

static int auth_rules(struct kura_alert_rules *rules, const struct emit *e, const struct rec *r)
{
    const struct kura_conf *conf = rules->conf;
    const char *account = r->object ? r->object : or_empty(r->actor);
    bool denied = is(r->result, "denied");
    struct counter *c = counter_get(rules, R_AUTH, account, r->time);
    if (!c) {
        return -ENOMEM;
    }
    c->streak = denied ? c->streak + 1 : 0;
    int ret = 0;
    if (denied && c->streak >= conf->alerts.auth_failures) {
        ret = hit(e, r, R_AUTH, account,
                  json_pack("{s:I,s:I}", "consecutive", (json_int_t)c->streak, "threshold",
                            (json_int_t)conf->alerts.auth_failures));
    }
    if (ret == 0 && denied && r->source_ip) {
        ret = windowed(rules, e, r, R_SOURCE, r->source_ip, conf->alerts.source_failures,
                       conf->alerts.source_window);
    }
    return ret;
}

static bool malformed_reason(const char *reason)
{
    static const char *const reasons[] = {"bad_path",         "bad_framing",  "bad_header",
                                          "uri_too_long",     "invalid_utf8", "bad_request",
                                          "headers_too_large"};
    for (size_t i = 0; reason && i < KURA_ARRAY_SIZE(reasons); i++) {
        if (strcmp(reason, reasons[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_user(const char *actor)
{
    return starts(actor, "user:");
}

static int transfer_rule(struct kura_alert_rules *rules, const struct emit *e, const struct rec *r)
{
    const struct kura_conf *conf = rules->conf;
    struct counter *c = counter_get(rules, R_TRANSFER, r->actor, r->time);
    if (!c) {
        return -ENOMEM;
    }
    roll(c, r->time, HOUR_MS);
    c->cur++;
    c->cur_bytes += r->bytes;
    double files = estimate(c->prev, c->cur, c->start, r->time, HOUR_MS);
    double bytes = estimate(c->prev_bytes, c->cur_bytes, c->start, r->time, HOUR_MS);
    double mib = bytes / (1024.0 * 1024.0);
    if (files < (double)conf->alerts.transfer_files && mib < (double)conf->alerts.transfer_mb) {
        return 0;
    }
    return hit(e, r, R_TRANSFER, r->actor,
               json_pack("{s:I,s:I,s:I,s:I}", "files_per_hour", (json_int_t)files, "mib_per_hour",
                         (json_int_t)mib, "transfer_files", (json_int_t)conf->alerts.transfer_files,
                         "transfer_mb", (json_int_t)conf->alerts.transfer_mb));
}

static bool in_off_hours(const struct kura_alert_rules *rules, int64_t t)
{
    unsigned minute = (unsigned)((t / 60000) % 1440);
    if (rules->off_from <= rules->off_to) {
        return minute >= rules->off_from && minute < rules->off_to;
    }
    return minute >= rules->off_from || minute < rules->off_to;
}

/* An account change made at the console (kura user ...): the same alert as through the API. */
static bool cli_account_change(const char *action)
{
    static const char *const changes[] = {
        "cli.user.add",    "cli.user.disable",        "cli.user.enable",
        "cli.user.unlock", "cli.user.reset-password", "cli.user.reset-mfa"};
    for (size_t i = 0; action && i < KURA_ARRAY_SIZE(changes); i++) {
        if (strcmp(action, changes[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Records that are alerts by themselves, one hit each. */
static int event_rules(const struct emit *e, const struct rec *r)
{
    static const char *const permission_prefixes[] = {"role.", "grant.", "application.",
                                                      "dataset.acl", "audit.key"};
    int ret = 0;
    if (is(r->action, "config.change")) {
        if (!json_is_true(detail_get(r, "first"))) {
            ret = hit(e, r, R_CONFIG, "", json_pack("{s:O?}", "changed", detail_get(r, "changed")));
        }
    } else if (is(r->action, "server.start") && json_is_true(detail_get(r, "unclean_stop"))) {
        ret =
            hit(e, r, R_UNCLEAN, "", json_pack("{s:O?}", "cut_bytes", detail_get(r, "cut_bytes")));
    } else if (is(r->action, "cli.audit.verify") && !is(r->result, "ok")) {
        ret = hit(e, r, R_VERIFY, "", NULL);
    } else if (is(r->action, "cli.user.set-roles")) {
        ret = hit(e, r, R_PERMISSION, or_empty(r->object), NULL);
    } else if (starts(r->action, "account.") || cli_account_change(r->action)) {
        ret = hit(e, r, R_ACCOUNT, or_empty(r->object), NULL);
    } else {
        for (size_t i = 0; i < KURA_ARRAY_SIZE(permission_prefixes); i++) {
            if (starts(r->action, permission_prefixes[i])) {
                ret = hit(e, r, R_PERMISSION, or_empty(r->object), NULL);
                break;
            }
        }
    }
    if (ret == 0 && r->elevated) {
        ret = hit(e, r, R_PRIVILEGED, or_empty(r->actor), NULL);
    }
    /* Every request of an emergency account's session, and its enabling, is reported; so is
     * every attempt with a sealed credential, whether it opened the account or not. */
    bool enabling = is(r->action, "account.break_glass_enable") ||
                    is(r->action, "cli.user.break-glass") ||
                    is(r->action, "auth.break_glass_unseal");
    if (ret == 0 && (enabling || is(json_string_value(detail_get(r, "break_glass")), "true"))) {
        ret = hit(e, r, R_BREAKGLASS, enabling ? or_empty(r->object) : or_empty(r->actor), NULL);
    }
    return ret;
}

/* A user's request from an address outside [alerts] usual_networks. */
static bool unusual_source(const struct kura_alert_rules *rules, const char *ip)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
    } else {
        return false; /* not an address: nothing to compare */
    }
    for (size_t i = 0; i < rules->nnetworks; i++) {
        if (kura_cidr_contains(&rules->networks[i], (const struct sockaddr *)&ss)) {
            return false;
        }
    }
    return true;
}

static int request_rules(struct kura_alert_rules *rules, const struct emit *e, const struct rec *r)
{
    const struct kura_conf *conf = rules->conf;
    int ret = 0;
    if (starts(r->action, "auth.")) {
        ret = r->result && !is(r->result, "error") ? auth_rules(rules, e, r) : 0;
    } else if (is(r->result, "denied") && !is(r->reason, "unauthenticated")) {
        const char *key = is_user(r->actor) ? r->actor : r->source_ip ? r->source_ip : r->actor;
        ret = windowed(rules, e, r, R_DENIED, or_empty(key), conf->alerts.access_denied,
                       conf->alerts.access_window);
    } else if (is(r->result, "error") && malformed_reason(r->reason) && r->source_ip) {
        ret = windowed(rules, e, r, R_MALFORMED, r->source_ip, conf->alerts.malformed,
                       conf->alerts.source_window);
    }
    /* Reads of file content: file.read (API) and WebDAV GET. */
    bool reads = is(r->action, "file.read") || is(r->action, "dav.get");
    if (ret == 0 && reads && is(r->result, "ok") && is_user(r->actor)) {
        ret = transfer_rule(rules, e, r);
    }
    if (ret == 0 && rules->off_hours && starts(r->action, "file.") && is_user(r->actor) &&
        in_off_hours(rules, r->time)) {
        ret = hit(e, r, R_OFFHOURS, r->actor,
                  json_pack("{s:s}", "off_hours", conf->alerts.off_hours));
    }
    if (ret == 0 && rules->nnetworks > 0 && is_user(r->actor) && r->source_ip &&
        unusual_source(rules, r->source_ip)) {
        ret = hit(e, r, R_NETWORK, r->actor, NULL);
    }
    return ret;
}

static int feed(struct kura_alert_rules *rules, struct rec *r, kura_alert_hit_fn fn, void *ctx)
{
    if (!r->action || starts(r->action, "alert.")) {
        return 0;
    }
    if (r->time >= rules->next_sweep) {
        sweep(rules, r->time);
        rules->next_sweep = r->time + SWEEP_EVERY_MS;
    }
    struct emit e = {fn, ctx};
    int ret = event_rules(&e, r);
    return ret == 0 ? request_rules(rules, &e, r) : ret;
}

int kura_alert_rules_feed_fields(struct kura_alert_rules *rules, const struct kura_audit_fields *f,
                                 kura_alert_detail_fn detail, void *detail_ctx,
                                 kura_alert_hit_fn fn, void *ctx)
{
    struct rec r = {
        .action = f->action,
        .actor = f->actor,
        .result = f->result,
        .reason = f->reason,
        .source_ip = f->source_ip,
        .object = f->object,
        .bytes = f->bytes,
        .elevated = f->elevated,
        .index = f->index,
        .time = f->time_ms < 0 ? 0 : f->time_ms,
        .detail_fn = detail,
        .detail_ctx = detail_ctx,
        .detail_text = f->detail_text,
    };
    return feed(rules, &r, fn, ctx);
}

static json_t *doc_detail(void *ctx)
{
    return json_object_get(ctx, "detail");
}

int kura_alert_rules_feed(struct kura_alert_rules *rules, json_t *record, uint64_t index,
                          int64_t time_ms, kura_alert_hit_fn fn, void *ctx)
{
    json_t *bytes = json_object_get(record, "bytes");
    struct rec r = {
        .action = str_field(record, "action"),
        .actor = str_field(record, "actor"),
        .result = str_field(record, "result"),
        .reason = str_field(record, "reason"),
        .source_ip = str_field(record, "source_ip"),
        .object = str_field(record, "object"),
        .bytes = json_is_integer(bytes) && json_integer_value(bytes) > 0
                     ? (uint64_t)json_integer_value(bytes)
                     : 0,
        .elevated = json_is_true(json_object_get(record, "elevated")),
        .index = index,
        .time = time_ms < 0 ? 0 : time_ms,
        .detail_fn = doc_detail,
        .detail_ctx = record,
    };
    return feed(rules, &r, fn, ctx);
}

static int add_network(struct kura_str entry, void *ctx)
{
    struct kura_alert_rules *rules = ctx;
    if (rules->nnetworks == KURA_CONF_MAX_PROXIES) {
        return KURA_ETOOBIG;
    }
    int r = kura_conf_parse_cidr(entry.ptr, entry.len, &rules->networks[rules->nnetworks]);
    rules->nnetworks += r == 0;
    return r;
}

int kura_alert_rules_new(const struct kura_conf *conf, struct kura_alert_rules **ret)
{
    if (sodium_init() < 0) {
        return -ENOMEM;
    }
    struct kura_alert_rules *rules = kura_calloc(1, sizeof(*rules));
    if (!rules) {
        return -ENOMEM;
    }
    rules->conf = conf;
    crypto_shorthash_keygen(rules->hash_key);
    if (kura_conf_list_each(conf->alerts.usual_networks, KURA_CONF_MAX_PROXIES, add_network, rules,
                            NULL) < 0) {
        rules->nnetworks = 0; /* conf validated the list; not reached */
    }
    if (conf->alerts.off_hours[0] &&
        kura_conf_parse_hours(conf->alerts.off_hours, &rules->off_from, &rules->off_to) == 0) {
        rules->off_hours = true;
    }
    *ret = rules;
    return 0;
}

struct kura_alert_rules *kura_alert_rules_free(struct kura_alert_rules *rules)
{
    if (!rules) {
        return NULL;
    }
    for (size_t b = 0; b < BUCKETS; b++) {
        while (rules->buckets[b]) {
            unlink_counter(rules, &rules->buckets[b]);
        }
    }
    kura_free(rules);
    return NULL;
}

size_t kura_alert_rules_tracked(const struct kura_alert_rules *rules)
{
    return rules->count;
}
