/* notify.c — telling people of alerts: one grouped bilingual mail, and an optional webhook.
 *
 * Keys and details come from requests (an account name someone tried, a path), so they are
 * written into the mail as JSON strings: control characters arrive escaped and cannot break
 * lines or headers. The subject holds only rule names, which are kura's own.
 */
#include "alert/alert-internal.h"

#include <curl/curl.h>
#include "kura-config.h"
#include <pthread.h>
#include <string.h>

#define DETAIL_SHOWN 1000 /* bytes of an alert's detail shown in the mail */
#define WEBHOOK_TIMEOUT_MS 10000L
#define WEBHOOK_CONNECT_MS 5000L

/* Appends at most max bytes of s, cut at a UTF-8 character boundary, "…" when cut. */
static void add_cut(struct kura_buf *b, const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max) {
        kura_buf_add(b, s, len);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) {
        max--; /* s[max] continues a character: cut before that character */
    }
    kura_buf_add(b, s, max);
    kura_buf_adds(b, "…");
}

static void add_json_string(struct kura_buf *b, const char *s)
{
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    kura_buf_adds(b, text ? text : "\"?\"");
    free(text); /* jansson's allocator */
    json_decref(j);
}

static void add_alert(struct kura_buf *b, const struct kura_alert *a)
{
    char first[KURA_TIME_STR_MAX], last[KURA_TIME_STR_MAX];
    kura_clock_format(a->first_time, first);
    kura_clock_format(a->last_time, last);
    kura_buf_addf(b, "[#%llu] %s\n  %s\n  %s\n  対象 / key: ", (unsigned long long)a->id, a->rule,
                  kura_alert_rule_ja(a->rule), kura_alert_rule_en(a->rule));
    add_json_string(b, a->key);
    kura_buf_addf(b,
                  "\n  回数 / hits: %llu\n"
                  "  最初 / first: %s (監査記録 / audit record %llu)\n"
                  "  最新 / latest: %s (監査記録 / audit record %llu)\n"
                  "  詳細 / detail: ",
                  (unsigned long long)a->hits, first, (unsigned long long)a->first_idx, last,
                  (unsigned long long)a->last_idx);
    add_cut(b, a->detail ? a->detail : "", DETAIL_SHOWN);
    kura_buf_adds(b, "\n\n");
}

void kura_alert_mail_text(const struct kura_alert *alerts, size_t n, size_t total,
                          struct kura_buf *subject, struct kura_buf *body)
{
    kura_buf_adds(subject, "[kura] 警報 / alert: ");
    kura_buf_adds(subject, n > 0 ? alerts[0].rule : "-");
    if (total > 1) {
        kura_buf_addf(subject, " (他 %zu 件 / +%zu more)", total - 1, total - 1);
    }
    kura_buf_addf(body,
                  "kura が監査ログから次の警報を検出しました（%zu 件）。\n"
                  "kura detected the following alerts in the audit log (%zu).\n\n",
                  total, total);
    for (size_t i = 0; i < n; i++) {
        add_alert(body, &alerts[i]);
    }
    if (total > n) {
        kura_buf_addf(body,
                      "ほかに %zu 件あります。kura alerts list で確認してください。\n"
                      "%zu more: see kura alerts list.\n\n",
                      total - n, total - n);
    }
    kura_buf_adds(body, "確認と対応 / to review and handle:\n"
                        "  kura alerts list --data DIR\n"
                        "  kura audit search --data DIR --action ACTION --from TIME\n"
                        "  kura alerts ack --data DIR ID --note \"対応内容 / what was done\"\n\n"
                        "このメールは kura が自動で送信しています。\n"
                        "This mail was sent automatically by kura.\n");
}

int alert_mail(const struct kura_alerter_opts *o, const struct kura_alert *alerts, size_t n,
               size_t total)
{
    char addrs[4096], id[KURA_MAIL_ID_MAX];
    const char *to[KURA_MAIL_RCPT_MAX];
    size_t nto = kura_mail_split_list(o->conf->alerts.mail_to, addrs, sizeof(addrs), to);
    if (nto == 0) {
        return 0;
    }
    struct kura_buf subject = KURA_BUF_INIT(KURA_MAIL_SUBJECT_MAX);
    struct kura_buf body = KURA_BUF_INIT(KURA_MAIL_BODY_MAX);
    kura_alert_mail_text(alerts, n, total, &subject, &body);
    int r = kura_buf_err(&subject);
    if (r == 0) {
        r = kura_buf_err(&body);
    }
    if (r == 0) {
        struct kura_mail_msg msg = {to, nto, kura_buf_str(&subject), kura_buf_str(&body)};
        r = kura_mail_queue(o->spool_dirfd, &msg, kura_mail_from(o->conf), id);
    }
    if (r == 0) {
        kura_mailer_kick(o->mailer);
        kura_log(KURA_LOG_INFO, "alert_mail_queued", "mail", id, NULL);
    }
    kura_buf_release(&subject);
    kura_buf_release(&body);
    return r;
}

/* ---- the webhook ---------------------------------------------------------------------------- */

json_t *kura_alert_webhook_json(const struct kura_alert *alerts, size_t n, size_t total)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        const struct kura_alert *a = &alerts[i];
        char first[KURA_TIME_STR_MAX], last[KURA_TIME_STR_MAX];
        kura_clock_format(a->first_time, first);
        kura_clock_format(a->last_time, last);
        json_t *detail = a->detail ? json_loads(a->detail, 0, NULL) : NULL;
        json_t *item = json_pack(
            "{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:o}", "id", (json_int_t)a->id, "rule",
            a->rule, "summary_en", kura_alert_rule_en(a->rule), "summary_ja",
            kura_alert_rule_ja(a->rule), "key", a->key, "hits", (json_int_t)a->hits, "first_index",
            (json_int_t)a->first_idx, "last_index", (json_int_t)a->last_idx, "first_time", first,
            "last_time", last, "detail", detail ? detail : json_null());
        if (!item || json_array_append_new(list, item) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list ? json_pack("{s:o,s:I}", "alerts", list, "total", (json_int_t)total) : NULL;
}

static size_t discard(char *ptr, size_t size, size_t n, void *ctx)
{
    (void)ptr;
    (void)ctx;
    return size * n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT); /* never undone, see mail/sender.c */
}

#define SETOPT(h, opt, val)                                                                        \
    do {                                                                                           \
        if (res == CURLE_OK) {                                                                     \
            res = curl_easy_setopt((h), (opt), (val));                                             \
        }                                                                                          \
    } while (0)

static int post(const struct kura_conf *conf, const char *text)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    (void)pthread_once(&curl_once, curl_init_once);
    CURL *h = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    CURLcode res = h && headers ? CURLE_OK : CURLE_OUT_OF_MEMORY;
    SETOPT(h, CURLOPT_URL, conf->alerts.webhook_url);
    SETOPT(h, CURLOPT_PROTOCOLS_STR, "https");
    SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(h, CURLOPT_NOSIGNAL, 1L);
    SETOPT(h, CURLOPT_PROXY, ""); /* no proxy from the environment */
    SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (conf->alerts.webhook_ca_file[0]) {
        SETOPT(h, CURLOPT_CAINFO, conf->alerts.webhook_ca_file);
        SETOPT(h, CURLOPT_CAPATH, (char *)NULL);
    }
    SETOPT(h, CURLOPT_TIMEOUT_MS, WEBHOOK_TIMEOUT_MS);
    SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, WEBHOOK_CONNECT_MS);
    SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(h, CURLOPT_HTTPHEADER, headers);
    SETOPT(h, CURLOPT_POSTFIELDS, text);
    SETOPT(h, CURLOPT_WRITEFUNCTION, discard);
    SETOPT(h, CURLOPT_USERAGENT, "kura/" KURA_VERSION);
    if (res == CURLE_OK) {
        res = curl_easy_perform(h);
    }
    long status = 0;
    if (res == CURLE_OK) {
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    }
    int r = 0;
    if (res != CURLE_OK || status < 200 || status > 299) {
        char code[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_ERR, "alert_webhook_failed", "status",
                 kura_fmt_u64(code, (uint64_t)(status < 0 ? 0 : status)), "error",
                 errbuf[0] ? errbuf : curl_easy_strerror(res), NULL);
        r = KURA_EUNSUPPORTED;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return r;
}

int alert_webhook(const struct kura_conf *conf, const struct kura_alert *alerts, size_t n,
                  size_t total)
{
    if (!conf->alerts.webhook_url[0]) {
        return 0;
    }
    json_t *payload = kura_alert_webhook_json(alerts, n, total);
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    int r = text ? post(conf, text) : -ENOMEM;
    free(text);
    json_decref(payload);
    return r;
}
