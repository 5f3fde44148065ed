/* report — periodic reports for the people who review the logs (system rules 004 §4.8.1:
 * logs are analysed and reported to the committee; NBDC guideline: the server's logs are
 * collected and analysed regularly; MHLW guideline: access records are reviewed).
 *
 * The monthly audit report (monthly.c) covers one calendar month in UTC, [from, to), and is
 * made from the audit search index (meta's audit_index, which holds at least 13 months) and the
 * stored alerts, with the verdict of a verification of the whole log run just before. It is
 * written as one self-contained bilingual HTML page for people and CSV files for spreadsheets:
 *
 *   kura-audit-YYYY-MM.html           the report
 *   kura-audit-YYYY-MM-actions.csv    action, result, reason → records, bytes
 *   kura-audit-YYYY-MM-actors.csv     actor → records, refused, errors, bytes read and written
 *   kura-audit-YYYY-MM-sources.csv    source address → records, refused, errors
 *   kura-audit-YYYY-MM-changes.csv    every configuration, account, permission, key, server
 *                                     start/stop and administrative (cli.*) record
 *   kura-audit-YYYY-MM-alerts.csv     alerts with a hit in the month, and their handling
 *
 * Each file is written atomically with mode 0600 (they name people and addresses). Text from
 * records is escaped for HTML (& < > " ') and CSV fields that a spreadsheet would run as a
 * formula get a leading apostrophe (base/csv.c). Distinct actors and sources are counted up to
 * KURA_REPORT_KEYS_MAX each, then folded into one "(other)" row; the changes list holds up to
 * KURA_REPORT_CHANGES_MAX rows (the count says how many there were). The HTML shows the top
 * KURA_REPORT_TOP of each ranking; the CSV files have everything.
 *
 * Depends on base, meta, jansson.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "meta/meta.h"

#define KURA_REPORT_KEYS_MAX 100000
#define KURA_REPORT_CHANGES_MAX 10000
#define KURA_REPORT_TOP 20

struct kura_report_verdict {
    bool ok;
    uint64_t records;    /* in the whole log */
    uint64_t checkpoint; /* size of the latest checkpoint */
    uint64_t witnessed;  /* checkpoints found in witness files */
    const char *reason;  /* when !ok */
};

struct kura_report_monthly_opts {
    struct kura_meta *meta;
    const char *month;        /* "YYYY-MM" */
    const char *origin;       /* the log's checkpoint origin, shown in the header */
    const char *generated_by; /* "cli:<user>" */
    const struct kura_report_verdict *verdict;
    int out_dirfd; /* where the files go */
};

struct kura_report_summary {
    uint64_t records, ok, denied, errors;
    uint64_t actors, sources, changes, alerts;
};

/* "YYYY-MM" → [from, to) in ms since the epoch (UTC). KURA_ESYNTAX for anything else, including
 * months before 1970 or after 9999. */
KURA_MUST_CHECK int kura_report_month_range(const char *month, int64_t *ret_from, int64_t *ret_to);

/* Makes the monthly report (see above). ret (may be NULL) receives the totals. Errors: those
 * of meta, -errno from writing, -ENOMEM; reterr gets one line. */
KURA_MUST_CHECK int kura_report_monthly(const struct kura_report_monthly_opts *o,
                                        struct kura_report_summary *ret, struct kura_buf *reterr);
