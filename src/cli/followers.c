/* followers.c — the server's threads that follow the audit log: the search indexer, the alert
 * rules and the syslog witness. Each reads the log's files through audit_dirfd and sleeps in
 * kura_audit_wait; none can slow the writer. */
#include "cli/cli.h"

#include "alert/alert.h"
#include "syslog/syslog.h"

int cli_followers_start(struct cli_followers *f, const struct cli_maint *m, struct kura_buf *err)
{
    int r = kura_audit_indexer_start(m->audit_dirfd, m->audit, m->meta, &f->indexer);
    if (r < 0) {
        kura_buf_addf(err, "cannot start the audit search index: %s", kura_strerror(r));
        return r;
    }
    struct kura_alerter_opts ao = {m->conf, m->audit,       m->audit_dirfd,
                                   m->meta, m->spool_dirfd, m->mailer};
    r = kura_alerter_start(&ao, &f->alerter);
    if (r < 0) {
        kura_buf_addf(err, "cannot start the alert rules: %s", kura_strerror(r));
        return r;
    }
    r = kura_syslog_start(m->audit_dirfd, m->spool_dirfd, m->audit, m->conf, &f->syslog, err);
    return r;
}

void cli_followers_watch(struct cli_followers *f, const struct cli_maint *m)
{
    struct kura_syslog_status st;
    if (!f->syslog) {
        return;
    }
    kura_syslog_status(f->syslog, &st);
    int64_t now = kura_clock_mono_ms();
    if (!st.enabled) {
        return;
    }
    if (st.confirmed != f->syslog_confirmed || st.confirmed >= kura_audit_size(m->audit)) {
        f->syslog_confirmed = st.confirmed;
        f->syslog_stalled_since = 0;
        f->syslog_alerted = false;
        return;
    }
    if (f->syslog_stalled_since == 0) {
        f->syslog_stalled_since = now;
    }
    if (!f->syslog_alerted &&
        now - f->syslog_stalled_since >= (int64_t)m->conf->syslog.alert_after * 1000) {
        json_t *d =
            json_pack("{s:s,s:I,s:I,s:I,s:s}", "target", m->conf->syslog.target, "confirmed",
                      (json_int_t)st.confirmed, "records", (json_int_t)kura_audit_size(m->audit),
                      "failures", (json_int_t)st.failures, "last_error",
                      st.last_error ? kura_err_name(st.last_error) : "none");
        kura_alerter_raise(f->alerter, "syslog_failing", d);
        json_decref(d);
        f->syslog_alerted = true;
    }
}

void cli_followers_stop(struct cli_followers *f)
{
    f->syslog = kura_syslog_stop(f->syslog);
    f->alerter = kura_alerter_stop(f->alerter);
    f->indexer = kura_audit_indexer_stop(f->indexer);
}
