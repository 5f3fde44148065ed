/* page.c — the HTML page of the monthly report: one self-contained file (no scripts, no
 * external resources), Japanese and English side by side, printable, with a sign-off line for
 * the reviewer (the operating rules keep reviewed reports on paper). */
#include "report/report-internal.h"

#include <stdlib.h>
#include <string.h>

#define HTML_CHANGES_MAX_ROWS 500 /* rows of the changes table in the page (the CSV has all) */

void report_html(struct kura_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            kura_buf_adds(b, "&amp;");
            break;
        case '<':
            kura_buf_adds(b, "&lt;");
            break;
        case '>':
            kura_buf_adds(b, "&gt;");
            break;
        case '"':
            kura_buf_adds(b, "&quot;");
            break;
        case '\'':
            kura_buf_adds(b, "&#39;");
            break;
        default:
            kura_buf_addc(b, *s);
        }
    }
}

static void cell(struct kura_buf *b, const char *s)
{
    kura_buf_adds(b, "<td>");
    report_html(b, s);
    kura_buf_adds(b, "</td>");
}

static void cell_u64(struct kura_buf *b, uint64_t v)
{
    kura_buf_addf(b, "<td class=n>%llu</td>", (unsigned long long)v);
}

static void cell_time(struct kura_buf *b, int64_t ms)
{
    char t[KURA_TIME_STR_MAX];
    kura_clock_format(ms, t);
    cell(b, ms ? t : "");
}

static void head(struct kura_buf *b, const char *const *names, size_t n)
{
    kura_buf_adds(b, "<table><tr>");
    for (size_t i = 0; i < n; i++) {
        kura_buf_addf(b, "<th>%s</th>", names[i]); /* kura's own text */
    }
    kura_buf_adds(b, "</tr>\n");
}

/* ---- rankings ------------------------------------------------------------------------------- */

struct rank {
    const struct table *t;
    uint64_t (*score)(const struct tally *);
};

static _Thread_local const struct rank *sorting;

static int by_score(const void *a, const void *b)
{
    uint64_t x = sorting->score(&sorting->t->rows[*(const size_t *)a]);
    uint64_t y = sorting->score(&sorting->t->rows[*(const size_t *)b]);
    return x < y ? 1 : x > y ? -1 : 0;
}

static uint64_t records_of(const struct tally *t)
{
    return t->records;
}

static uint64_t bytes_of(const struct tally *t)
{
    return t->bytes_read;
}

static uint64_t refusals_of(const struct tally *t)
{
    return t->denied + t->errors;
}

/* The top KURA_REPORT_TOP rows by score (those scoring 0 left out). */
static void ranking(struct kura_buf *b, const struct table *t,
                    uint64_t (*score)(const struct tally *), bool user)
{
    /* One slot more than rows: never NULL but for a lack of memory (an empty table too). */
    size_t *order = kura_calloc(t->n + 1, sizeof(*order));
    if (!order) {
        kura_buf_adds(b, "<p>(out of memory)</p>\n");
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        order[i] = i;
    }
    struct rank rk = {t, score};
    sorting = &rk;
    if (t->n > 0) {
        qsort(order, t->n, sizeof(*order), by_score);
    }
    static const char *const user_cols[] = {"利用者 / user",
                                            "記録 / records",
                                            "拒否 / refused",
                                            "エラー / errors",
                                            "読み出しファイル / files read",
                                            "読み出しバイト / bytes read"};
    static const char *const source_cols[] = {"送信元 / source", "記録 / records", "拒否 / refused",
                                              "エラー / errors"};
    head(b, user ? user_cols : source_cols, user ? 6 : 4);
    for (size_t i = 0; i < t->n && i < KURA_REPORT_TOP; i++) {
        const struct tally *v = &t->rows[order[i]];
        if (score(v) == 0) {
            break;
        }
        kura_buf_adds(b, "<tr>");
        cell(b, t->keys[order[i]]);
        cell_u64(b, v->records);
        cell_u64(b, v->denied);
        cell_u64(b, v->errors);
        if (user) {
            cell_u64(b, v->files_read);
            cell_u64(b, v->bytes_read);
        }
        kura_buf_adds(b, "</tr>\n");
    }
    kura_buf_adds(b, "</table>\n");
    kura_free(order);
}

/* ---- sections ------------------------------------------------------------------------------- */

static void verdict(struct kura_buf *b, const struct kura_report_verdict *v)
{
    kura_buf_adds(b, "<h2>1. 完全性の検証 / Integrity verification</h2>\n");
    if (v->ok) {
        kura_buf_addf(
            b,
            "<p class=ok>正常 / OK: 全 %llu 件の記録がハッシュ木と署名付きチェックポイント"
            "に一致しました（最新チェックポイント %llu 件、外部証跡 %llu 件を照合）。<br>"
            "All %llu records match the hash tree and the signed checkpoints (latest "
            "checkpoint at %llu records; %llu witnessed checkpoints checked).</p>\n",
            (unsigned long long)v->records, (unsigned long long)v->checkpoint,
            (unsigned long long)v->witnessed, (unsigned long long)v->records,
            (unsigned long long)v->checkpoint, (unsigned long long)v->witnessed);
        return;
    }
    kura_buf_adds(b, "<p class=bad>異常 / FAILED: ");
    report_html(b, v->reason ? v->reason : "");
    kura_buf_adds(b, "<br>監査ログが改ざんまたは破損している可能性があります。インシデントとして"
                     "対応してください。 / The log may have been altered or damaged: handle "
                     "this as an incident.</p>\n");
}

static void summary(struct kura_buf *b, const struct gather *g)
{
    const struct kura_report_summary *s = &g->sum;
    kura_buf_adds(b, "<h2>2. 概要 / Summary</h2>\n<table>\n");
    kura_buf_addf(b,
                  "<tr><th>記録 / records</th><td class=n>%llu</td></tr>\n"
                  "<tr><th>成功 / ok</th><td class=n>%llu</td></tr>\n"
                  "<tr><th>拒否 / refused</th><td class=n>%llu</td></tr>\n"
                  "<tr><th>エラー / errors</th><td class=n>%llu</td></tr>\n"
                  "<tr><th>利用者・主体 / actors</th><td class=n>%llu</td></tr>\n"
                  "<tr><th>送信元 / sources</th><td class=n>%llu</td></tr>\n"
                  "<tr><th>変更・管理操作 / changes and admin actions</th><td class=n>%llu"
                  "</td></tr>\n"
                  "<tr><th>警報 / alerts</th><td class=n>%llu</td></tr>\n</table>\n",
                  (unsigned long long)s->records, (unsigned long long)s->ok,
                  (unsigned long long)s->denied, (unsigned long long)s->errors,
                  (unsigned long long)s->actors, (unsigned long long)s->sources,
                  (unsigned long long)s->changes, (unsigned long long)s->alerts);
}

static void alerts_section(struct kura_buf *b, const struct alerts *al)
{
    static const char *const cols[] = {"#",
                                       "規則 / rule",
                                       "対象 / key",
                                       "回数 / hits",
                                       "最初 / first",
                                       "最新 / latest",
                                       "対応 / handling"};
    kura_buf_adds(b, "<h2>3. 警報と対応 / Alerts and their handling</h2>\n");
    if (al->n == 0) {
        kura_buf_adds(b, "<p>なし / none</p>\n");
        return;
    }
    head(b, cols, KURA_ARRAY_SIZE(cols));
    for (size_t i = 0; i < al->n; i++) {
        const struct kura_alert *a = &al->rows[i].a;
        kura_buf_addf(b, "<tr><td class=n>%llu</td>", (unsigned long long)a->id);
        cell(b, a->rule);
        cell(b, a->key);
        cell_u64(b, a->hits);
        cell_time(b, a->first_time);
        cell_time(b, a->last_time);
        kura_buf_adds(b, a->acknowledged ? "<td>" : "<td class=bad>未対応 / OPEN");
        if (a->acknowledged) {
            char t[KURA_TIME_STR_MAX];
            kura_clock_format(a->ack_at, t);
            report_html(b, a->ack_by);
            kura_buf_addf(b, " (%s): ", t);
            report_html(b, a->ack_note);
        }
        kura_buf_adds(b, "</td></tr>\n");
    }
    kura_buf_adds(b, "</table>\n");
}

static void changes_section(struct kura_buf *b, const struct gather *g)
{
    static const char *const cols[] = {"時刻 / time",   "主体 / actor",  "操作 / action",
                                       "対象 / object", "結果 / result", "詳細 / detail"};
    kura_buf_addf(b,
                  "<h2>4. 設定・アカウント・権限の変更と管理操作 / Changes and administrative "
                  "actions (%llu)</h2>\n",
                  (unsigned long long)g->changes_seen);
    head(b, cols, KURA_ARRAY_SIZE(cols));
    for (size_t i = 0; i < g->nchanges && i < HTML_CHANGES_MAX_ROWS; i++) {
        const struct change *c = &g->changes[i];
        kura_buf_adds(b, "<tr>");
        cell_time(b, c->time);
        cell(b, c->actor);
        cell(b, c->action);
        cell(b, c->object);
        cell(b, c->result);
        cell(b, c->detail);
        kura_buf_adds(b, "</tr>\n");
    }
    kura_buf_adds(b, "</table>\n");
    if (g->changes_seen > HTML_CHANGES_MAX_ROWS) {
        kura_buf_adds(b, "<p>残りは changes.csv にあります / the rest is in changes.csv</p>\n");
    }
}

static void actions_section(struct kura_buf *b, const struct table *t)
{
    static const char *const cols[] = {"操作 / action", "結果 / result", "理由 / reason",
                                       "記録 / records"};
    kura_buf_adds(b, "<h2>7. 操作別 / By action</h2>\n");
    head(b, cols, KURA_ARRAY_SIZE(cols));
    for (size_t i = 0; i < t->n; i++) {
        kura_buf_adds(b, "<tr><td>");
        for (const char *p = t->keys[i]; *p; p++) {
            if (*p == '\x1f') {
                kura_buf_adds(b, "</td><td>");
            } else {
                char one[2] = {*p, '\0'};
                report_html(b, one);
            }
        }
        kura_buf_adds(b, "</td>");
        cell_u64(b, t->rows[i].records);
        kura_buf_adds(b, "</tr>\n");
    }
    kura_buf_adds(b, "</table>\n");
}

void report_page(struct kura_buf *b, const struct kura_report_monthly_opts *o,
                 const struct gather *g, const struct alerts *al)
{
    char now[KURA_TIME_STR_MAX];
    kura_clock_format(kura_clock_wall_ms(), now);
    kura_buf_adds(b, "<!DOCTYPE html>\n<html lang=ja><head><meta charset=utf-8>\n<title>");
    report_html(b, o->month);
    kura_buf_adds(
        b, " kura 監査ログ月次報告 / audit log monthly report</title>\n<style>"
           "body{font-family:sans-serif;margin:2em;max-width:80em}"
           "table{border-collapse:collapse;margin:.5em 0 1.5em}"
           "th,td{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}"
           "td.n{text-align:right}.ok{color:#060}.bad{color:#b00;font-weight:bold}"
           "td{word-break:break-all}</style></head><body>\n<h1>監査ログ月次報告 / Audit log "
           "monthly report: ");
    report_html(b, o->month);
    kura_buf_adds(b, " (UTC)</h1>\n<p>ログ / log: ");
    report_html(b, o->origin);
    kura_buf_addf(b, "<br>作成 / generated: %s, ", now);
    report_html(b, o->generated_by);
    kura_buf_adds(b, "</p>\n");
    verdict(b, o->verdict);
    summary(b, g);
    alerts_section(b, al);
    changes_section(b, g);
    kura_buf_adds(b, "<h2>5. 利用者別（記録数の多い順）/ Users by records</h2>\n");
    ranking(b, &g->actors, records_of, true);
    kura_buf_adds(b, "<h2>5b. 利用者別（読み出し量の多い順）/ Users by bytes read</h2>\n");
    ranking(b, &g->actors, bytes_of, true);
    kura_buf_adds(b, "<h2>6. 拒否・エラーの多い送信元 / Sources by refusals and errors</h2>\n");
    ranking(b, &g->sources, refusals_of, false);
    actions_section(b, &g->actions);
    kura_buf_adds(b, "<h2>確認 / Review</h2>\n<p>確認者 / reviewed by: "
                     "______________________ 日付 / date: ____________ 所見 / findings: "
                     "________________________________</p>\n</body></html>\n");
}
