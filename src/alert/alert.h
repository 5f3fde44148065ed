/* alert — rules that watch the audit log, and the people they tell (system rules 004
 * §4.8.1(2): unauthorised access, configuration changes and failures are detected and the
 * administrator told; NBDC guideline: access records are reviewed; C-CAT: abnormal access is
 * reported).
 *
 * Purpose: the audit log says what happened; this area decides which of it needs a person.
 *
 * Rules (rules.c) are a pure function of the records, read in order: no clock, no I/O, so that
 * replaying the same records gives the same hits. Windows are measured in record time.
 *
 *   rule               fires when                                               key
 *   config_change      a config.change record (not the first configuration)      ""
 *   unclean_stop       server.start says the previous run did not close the log ""
 *   verify_failed      kura audit verify reported a problem (cli.audit.verify)  ""
 *   account_change     an account.* record                                      the object
 *   permission_change  role.*, grant.*, application.*, dataset.acl*, audit.key
 *                      records                                                  the object
 *   privileged_use     a record made with an elevated role                      the actor
 *   auth_failures      [alerts] auth_failures consecutive auth.* denials of one
 *                      account (the object; an auth.* success resets it)        the account
 *   source_failures    [alerts] source_failures auth.* denials from one address
 *                      within source_window                                     the address
 *   access_denied      [alerts] access_denied denied records (other than auth.*
 *                      and "unauthenticated", the challenge every client meets
 *                      first) of one user, or of one address for anonymous
 *                      requests, within access_window                           actor/address
 *   malformed          [alerts] malformed error records with a malformed-input
 *                      reason (bad_path, bad_framing, bad_header, uri_too_long,
 *                      headers_too_large, invalid_utf8, bad_request) from one
 *                      address within source_window                             the address
 *   mass_transfer      one user's file.read records within an hour reach
 *                      transfer_mb MiB or transfer_files files                 the actor
 *   off_hours          a user's file.* record inside [alerts] off_hours (UTC)   the actor
 *   unusual_network    a user's record from outside [alerts] usual_networks     the actor
 *
 * A windowed rule keeps, per key, the count of its current and previous window and estimates
 * the sliding count as previous × (unexpired share of the window) + current: one comparison
 * per record, 64 bytes per key. It fires on every record while the estimate is at or above
 * the threshold; the alerter folds those hits into one open alert (meta.h, quiet period).
 * Keys come from requests, so an attacker chooses them: the table is hashed with a random
 * SipHash key (libsodium crypto_shorthash) and holds at most KURA_ALERT_KEYS_MAX keys; when
 * it is full, keys idle for a day go first, then the key idle longest in the bucket probed.
 * Records of the alert area itself (alert.*) never feed rules.
 *
 * Alerter (alerter.c): one thread follows the log (kura_audit_iter + kura_audit_wait) from
 * the position saved in meta (install property "alerts_position"; a new installation starts
 * at the end of the log, not over its history). Hits of one read batch are merged per rule
 * and key and stored with kura_meta_alert_raise ([alerts] quiet_minutes); a new alert writes
 * an alert.raised record and a warning to the operational log. It also watches what cannot be
 * in the log: the log refusing writes (audit_failing), the audit disk below [audit]
 * warn_free_mb (disk_low), and failures reported by other parts (kura_alerter_raise, e.g. the
 * syslog forwarder).
 *
 * Telling (notify.c): new alerts are grouped: the first alert not yet mailed starts a delay of
 * [alerts] mail_delay seconds, then one bilingual mail lists every alert not yet mailed, sent
 * through the mail spool (durable, retried) to [alerts] mail_to. The id of the newest alert
 * mailed is kept in meta ("alerts_mailed"), so a restart mails what a crash left unmailed, and
 * nothing twice. When [alerts] webhook_url is set the same list is POSTed as JSON to it
 * (https only, certificate and host verified, against [alerts] webhook_ca_file when set; no
 * redirects, no proxy; 10 s limit; best effort: a failure is logged, mail is the durable path).
 *
 * Threads: the rules are used by one thread. kura_alerter_raise may be called from any thread
 * while the alerter exists; start and stop from one controlling thread.
 *
 * Limits: KURA_ALERT_KEYS_MAX tracked keys; a mail lists at most KURA_ALERT_MAIL_LIST alerts
 * (the rest are counted); KURA_ALERT_PENDING_MAX queued operational alerts.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "base/base.h"
#include "conf/conf.h"
#include "mail/mail.h"
#include "meta/meta.h"

#define KURA_ALERT_KEYS_MAX 65536
#define KURA_ALERT_MAIL_LIST 100
#define KURA_ALERT_PENDING_MAX 64
#define KURA_ALERT_RULE_MAX 32

/* ---- rules ---------------------------------------------------------------------------------- */

/* One hit of a rule. Everything is borrowed for the duration of the callback. */
struct kura_alert_hit {
    const char *rule;
    const char *key;
    uint64_t index; /* the record */
    int64_t time;   /* its time, ms */
    json_t *detail; /* an object describing the hit */
};

typedef void (*kura_alert_hit_fn)(void *ctx, const struct kura_alert_hit *hit);

struct kura_alert_rules;

/* Rules with the thresholds of conf's [alerts] (borrowed for the rules' lifetime). */
KURA_MUST_CHECK int kura_alert_rules_new(const struct kura_conf *conf,
                                         struct kura_alert_rules **ret);
/* Accepts NULL; returns NULL. */
struct kura_alert_rules *kura_alert_rules_free(struct kura_alert_rules *rules);
KURA_DEFINE_FREEP(struct kura_alert_rules, kura_alert_rules_free)

/* Runs every rule over one record (a parsed audit record object, see docs/audit-format.md)
 * with its index and time; fn is called once per hit. Fields of unexpected types are treated
 * as absent. -ENOMEM only. */
KURA_MUST_CHECK int kura_alert_rules_feed(struct kura_alert_rules *rules, json_t *record,
                                          uint64_t index, int64_t time_ms, kura_alert_hit_fn fn,
                                          void *ctx);
/* The same over a record read by kura_audit_read: detail(detail_ctx) gives the record's detail
 * (or NULL), and is called only for the records whose rules look into it. */
typedef json_t *(*kura_alert_detail_fn)(void *detail_ctx);
KURA_MUST_CHECK int kura_alert_rules_feed_fields(struct kura_alert_rules *rules,
                                                 const struct kura_audit_fields *f,
                                                 kura_alert_detail_fn detail, void *detail_ctx,
                                                 kura_alert_hit_fn fn, void *ctx);
/* Keys being tracked (tests, kura status). */
size_t kura_alert_rules_tracked(const struct kura_alert_rules *rules);

/* The Japanese and English one-line descriptions of a rule (never NULL). */
const char *kura_alert_rule_ja(const char *rule);
const char *kura_alert_rule_en(const char *rule);

/* ---- the alerter ------------------------------------------------------------------------------
 */

struct kura_alerter_opts {
    const struct kura_conf *conf; /* borrowed, like everything here */
    struct kura_audit *audit;
    int audit_dirfd; /* DATA/audit, read through its own iterator */
    struct kura_meta *meta;
    int spool_dirfd; /* DATA/spool, for kura_mail_queue */
    struct kura_mailer *mailer;
};

struct kura_alerter;

KURA_MUST_CHECK int kura_alerter_start(const struct kura_alerter_opts *opts,
                                       struct kura_alerter **ret);
/* Processes what the log holds, sends what is due, stops. Accepts NULL; returns NULL. */
struct kura_alerter *kura_alerter_stop(struct kura_alerter *al);

/* Raises an operational alert (rule, e.g. "syslog_failing"; detail borrowed, may be NULL)
 * from any thread: queued, stored by the alerter thread. Dropped (and logged) when
 * KURA_ALERT_PENDING_MAX are already queued. */
void kura_alerter_raise(struct kura_alerter *al, const char *rule, json_t *detail);

/* The next record the alerter will read (tests and kura status). */
uint64_t kura_alerter_position(struct kura_alerter *al);

/* ---- telling -------------------------------------------------------------------------------- */

/* Writes the bilingual mail body listing alerts[0..n) (n ≤ KURA_ALERT_MAIL_LIST) of total to
 * body, and the subject to subject. For the alerter and its tests. */
void kura_alert_mail_text(const struct kura_alert *alerts, size_t n, size_t total,
                          struct kura_buf *subject, struct kura_buf *body);
/* The webhook payload: {"alerts":[{id, rule, key, hits, first_index, last_index, first_time,
 * last_time, detail}...], "total": n}. NULL on OOM. */
json_t *kura_alert_webhook_json(const struct kura_alert *alerts, size_t n, size_t total);
