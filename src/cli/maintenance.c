/* maintenance.c — what the server does on a schedule, on its main thread, at start and then
 * every hour by the kura clock:
 *  - audit retention: payloads older than [audit] retention_days are pruned (audit.h);
 *  - the search window: index rows older than [audit] searchable_days are dropped (they can be
 *    rebuilt from the log while it still holds the records);
 *  - the daily digest: once per UTC day, the latest signed checkpoint goes by mail to
 *    [audit] digest_to, a witness outside the machine (the officer keeps the mails; verify can
 *    read them back through [audit] witness_read once saved as text).
 */
#include "cli/cli.h"

#include <string.h>

#include "mail/mail.h"
#include "meta/meta.h"

#define DAY_MS (24LL * 60 * 60 * 1000)
#define DIGEST_PROPERTY "audit_digest_date"

static void retention(const struct cli_maint *m, int64_t now)
{
    uint64_t pruned = 0;
    int r = kura_audit_prune(m->audit, m->audit_dirfd,
                             now - (int64_t)m->conf->audit.retention_days * DAY_MS, &pruned);
    if (r < 0) {
        kura_log_err(r, "audit_retention_failed", NULL);
    }
    uint64_t dropped = 0;
    r = kura_meta_audit_index_prune(m->meta, now - (int64_t)m->conf->audit.searchable_days * DAY_MS,
                                    &dropped);
    if (r < 0) {
        kura_log_err(r, "audit_index_prune_failed", NULL);
    }
}

static int queue_digest(const struct cli_maint *m, const char *day)
{
    struct kura_buf note = KURA_BUF_INIT(65536), body = KURA_BUF_INIT(128 * 1024);
    int r = kura_file_read_all(m->audit_dirfd, "checkpoint", &note);
    if (r == 0) {
        kura_buf_addf(&body,
                      "kura 監査ログ 日次ダイジェスト / audit log daily digest: %s\n\n"
                      "このメールは監査ログの署名付きチェックポイントを、改ざんの検出に使う証拠"
                      "としてお送りするものです。削除せずに保管してください。\n"
                      "This mail carries the audit log's signed checkpoint as evidence against "
                      "tampering. Please keep it.\n\n"
                      "記録数 / records: %llu\n\n"
                      "チェックポイント / checkpoint:\n\n%s\n"
                      "照合 / to check: kura audit verify --data DIR, with this text saved to a "
                      "file listed in [audit] witness_read.\n",
                      day, (unsigned long long)kura_audit_size(m->audit), note.ptr);
        r = kura_buf_err(&body);
    }
    char subject[160], addrs[4096], id[KURA_MAIL_ID_MAX];
    const char *to[KURA_MAIL_RCPT_MAX];
    int sn = snprintf(subject, sizeof(subject),
                      "[kura] 監査ログ日次ダイジェスト / audit log daily digest %s", day);
    size_t nto = kura_mail_split_list(m->conf->audit.digest_to, addrs, sizeof(addrs), to);
    if (r == 0 && nto > 0) {
        struct kura_mail_msg msg = {to, nto, kura_str_make(subject, (size_t)sn),
                                    kura_buf_str(&body)};
        r = kura_mail_queue(m->spool_dirfd, &msg, kura_mail_from(m->conf), id);
    }
    kura_buf_release(&note);
    kura_buf_release(&body);
    return r;
}

static void digest(const struct cli_maint *m, int64_t now)
{
    if (m->conf->audit.digest_to[0] == '\0') {
        return;
    }
    char ts[KURA_TIME_STR_MAX], day[11];
    kura_clock_format(now, ts);
    memcpy(day, ts, 10);
    day[10] = '\0';
    char *last = NULL;
    int r = kura_meta_install_get(m->meta, DIGEST_PROPERTY, &last);
    bool due = r == KURA_ENOTFOUND || (r == 0 && strcmp(last, day) != 0);
    kura_free(last);
    if (!due) {
        return;
    }
    r = queue_digest(m, day);
    if (r == 0) {
        r = kura_meta_install_set(m->meta, DIGEST_PROPERTY, day);
        kura_mailer_kick(m->mailer);
    }
    if (r < 0) {
        kura_log_err(r, "audit_digest_failed", NULL);
    }
}

void cli_maintenance_run(const struct cli_maint *m)
{
    int64_t now = kura_clock_wall_ms();
    retention(m, now);
    digest(m, now);
}
