/* maintenance.c — what the server does on a schedule, on its main thread, at start and then
 * every hour by the kura clock:
 *  - audit retention: payloads older than [audit] retention_days are pruned (audit.h);
 *  - the search window: index rows older than [audit] searchable_days are dropped (they can be
 *    rebuilt from the log while it still holds the records);
 *  - the daily digest: once per UTC day, the latest signed checkpoint goes by mail to
 *    [audit] digest_to, a witness outside the machine (the officer keeps the mails; verify can
 *    read them back through [audit] witness_read once saved as text);
 *  - account hygiene (auth.h: kura_auth_hygiene): at the first run after start and then once
 *    per UTC day of the kura clock, accounts past valid_until expire, accounts unused for
 *    [password] inactive_days are disabled and passwords past the policy's max_age_days must be
 *    changed; one audit record per change (account.expire, account.disable,
 *    account.password_expired, actor system), which the account_change alert rule reports;
 *  - the trash: at the first run after start and then once per UTC day, what has been in the
 *    trash for [store] trash_days is purged (crypto-shredded, store.h), one signed certificate
 *    kept in DATA/certificates/ and one store.purge audit record (actor system) per item; then
 *    a checkpoint clears the write-ahead log of anything a purge could not checkpoint itself.
 */
#include "cli/cli.h"

#include <string.h>

#include "auth/auth.h"
#include "mail/mail.h"
#include "meta/meta.h"
#include "store/store.h"

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

static void record_hygiene(const struct cli_maint *m, const struct kura_auth_hygiene_change *c)
{
    static const char *const actions[] = {
        [KURA_AUTH_HYGIENE_EXPIRE] = "account.expire",
        [KURA_AUTH_HYGIENE_DISABLE] = "account.disable",
        [KURA_AUTH_HYGIENE_PASSWORD_EXPIRED] = "account.password_expired",
    };
    char last[KURA_TIME_STR_MAX];
    kura_clock_format(c->last_used_at, last);
    json_t *detail = NULL;
    if (c->action == KURA_AUTH_HYGIENE_EXPIRE) {
        detail = json_pack("{s:s}", "cause", "valid_until_passed");
    } else if (c->action == KURA_AUTH_HYGIENE_DISABLE) {
        detail = json_pack("{s:s,s:I,s:s}", "cause", "unused", "inactive_days",
                           (json_int_t)m->conf->password.inactive_days, "last_used_at", last);
    } else {
        detail = json_pack("{s:s,s:I}", "cause", "password_max_age", "max_age_days",
                           (json_int_t)m->policy->max_age_days);
    }
    const struct kura_audit_event ev = {.actor = "system",
                                        .action = actions[c->action],
                                        .object = c->id,
                                        .result = KURA_AUDIT_OK,
                                        .detail = detail};
    int r = kura_audit_emit_sync(m->audit, &ev, NULL);
    if (r < 0) {
        kura_log_err(r, "account_hygiene_audit_failed", "account", c->id, "action",
                     actions[c->action], NULL);
    }
    json_decref(detail);
}

/* The UTC day of the last complete hygiene run. Only the server's main thread runs maintenance,
 * and the value should not outlive the process: a restart runs the job again at its first
 * maintenance (the job is idempotent), so a changed policy applies at once. */
static int64_t hygiene_day = INT64_MIN;

static void hygiene(const struct cli_maint *m, int64_t now)
{
    int64_t day = now / DAY_MS;
    if (!m->policy || day == hygiene_day) {
        return;
    }
    struct kura_auth_hygiene_report rep;
    int r = kura_auth_hygiene(m->meta, m->policy, m->conf->password.inactive_days, now, &rep);
    /* The changes made are recorded even when the run stopped part way. */
    for (size_t i = 0; i < rep.n; i++) {
        record_hygiene(m, &rep.changes[i]);
    }
    if (rep.kept_admin[0]) {
        char days[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_WARN, "hygiene_kept_last_admin", "account", rep.kept_admin,
                 "inactive_days", kura_fmt_u64(days, m->conf->password.inactive_days), "msg",
                 "the last usable administrator is unused but stays enabled; review it", NULL);
    }
    if (r < 0) {
        kura_log_err(r, "account_hygiene_failed", NULL); /* tried again at the next run */
    } else {
        hygiene_day = day;
    }
    kura_auth_hygiene_report_release(&rep);
}

/* ---- the trash: purged after [store] trash_days (store.h, "purge") ---------------------- */

#define TRASH_PURGE_MAX 1000 /* per run; the next hourly run goes on when there were more */

static void record_purge(void *ctx, const struct kura_node *n, int r,
                         const struct kura_purge_cert *c)
{
    const struct cli_maint *m = ctx;
    char node[KURA_NUM_STR_MAX];
    json_t *detail =
        json_pack("{s:s,s:s,s:s,s:I,s:s?}", "cause", "trash_retention", "path", n->path, "node",
                  kura_fmt_u64(node, n->id), "trash_days", (json_int_t)m->conf->store.trash_days,
                  "certificate_id", c ? c->id : NULL);
    const struct kura_audit_event ev = {.actor = "system",
                                        .action = "store.purge",
                                        .object = c ? c->id : n->path,
                                        .result = r == 0 ? KURA_AUDIT_OK : KURA_AUDIT_ERROR,
                                        .reason = r == 0 ? NULL : kura_err_name(r),
                                        .detail = detail};
    int w = kura_audit_emit_sync(m->audit, &ev, NULL);
    if (w < 0) {
        kura_log_err(w, "trash_purge_audit_failed", "node", node, NULL);
    }
    if (r < 0) {
        kura_log_err(r, "trash_purge_failed", "node", node, NULL);
    } else if (c && c->keep_err < 0) {
        kura_log_err(c->keep_err, "certificate_copy_failed", "certificate", c->id, NULL);
    }
    json_decref(detail);
}

/* As hygiene: at the first run after start, then once per UTC day of the kura clock. */
static int64_t trash_day = INT64_MIN;

static void trash(const struct cli_maint *m, int64_t now)
{
    int64_t day = now / DAY_MS;
    if (!m->store || !m->purge || day == trash_day) {
        return;
    }
    uint64_t purged = 0;
    int64_t before = now - (int64_t)m->conf->store.trash_days * DAY_MS;
    int r = kura_store_purge_expired(m->store, m->purge, before, now, TRASH_PURGE_MAX, record_purge,
                                     (void *)m, &purged);
    /* Also clears what an earlier purge (or pruned versions) left in the write-ahead log when a
     * checkpoint could not run then. */
    int ck = kura_meta_checkpoint(m->meta);
    if (r < 0) {
        kura_log_err(r, "trash_purge_failed", NULL);
    } else if (ck < 0) {
        kura_log_err(ck, "checkpoint_failed", NULL);
    }
    char n[KURA_NUM_STR_MAX], b[KURA_TIME_STR_MAX];
    kura_clock_format(before, b);
    kura_log(KURA_LOG_INFO, "trash_purge", "purged", kura_fmt_u64(n, purged), "trashed_before", b,
             NULL);
    if (r == 0 && ck == 0 && purged < TRASH_PURGE_MAX) {
        trash_day = day; /* else the next hourly run goes on */
    }
}

void cli_maintenance_run(const struct cli_maint *m)
{
    int64_t now = kura_clock_wall_ms();
    retention(m, now);
    digest(m, now);
    hygiene(m, now);
    trash(m, now);
}
