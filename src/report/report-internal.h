/* report-internal.h — what monthly.c gathers, for the page (page.c). */
#pragma once

#include <jansson.h>

#include "report/report.h"

#define REPORT_KEY_MAX 1024 /* action, result and reason joined */

struct tally {
    uint64_t records, denied, errors, bytes, files_read, bytes_read;
};

struct table {
    json_t *index; /* key → position in rows/keys */
    struct tally *rows;
    char **keys;
    size_t n, cap, max;
};

struct change {
    int64_t time;
    char *actor, *action, *object, *result, *detail;
};

struct gather {
    struct table actions, actors, sources;
    struct change *changes;
    size_t nchanges, changes_seen;
    struct kura_report_summary sum;
    int err;
};

struct alert_row {
    struct kura_alert a; /* strings owned */
};

struct alerts {
    int64_t from, to;
    struct alert_row *rows;
    size_t n;
    int err;
};

/* Writes the HTML page of the monthly report. */
void report_page(struct kura_buf *b, const struct kura_report_monthly_opts *o,
                 const struct gather *g, const struct alerts *al);
/* Appends s with & < > " ' escaped. */
void report_html(struct kura_buf *b, const char *s);
