/* alerts.c — `kura alerts list|ack`: the operator's view of what the alert rules raised.
 *
 * Both are audited (cli.alerts.list, cli.alerts.ack): alerts name accounts and addresses, and
 * acknowledging one is a decision someone answers for. An acknowledgement needs a note saying
 * what was done (system rules: incidents are recorded with their handling); it is recorded in
 * the audit log before the alert changes, so an ack that could not be recorded does not happen.
 * They work beside a running server (SQLite allows a second connection; the server's alerter
 * only inserts and updates open alerts).
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alert/alert.h"
#include "meta/meta.h"

#define NOTE_MAX 2000

static int open_meta(const char *data, struct kura_meta **ret, struct kura_buf *err)
{
    struct kura_buf path = KURA_BUF_INIT(8192);
    int r = cli_data_path(data, CLI_DB_NAME, &path);
    if (r == 0) {
        r = kura_meta_open("sqlite", path.ptr, 0, ret);
    }
    if (r == 0) {
        enum kura_meta_schema_state st;
        r = kura_meta_check_schema(*ret, &st);
        if (r < 0) {
            *ret = kura_meta_close(*ret);
        }
    }
    if (r < 0) {
        kura_buf_addf(err, "cannot open the database of '%s': %s", data, kura_strerror(r));
    }
    kura_buf_release(&path);
    return r;
}

struct list_out {
    bool json;
    uint64_t count;
};

static void print_text(const struct kura_alert *a)
{
    char first[KURA_TIME_STR_MAX], last[KURA_TIME_STR_MAX];
    kura_clock_format(a->first_time, first);
    kura_clock_format(a->last_time, last);
    json_t *key = json_string(a->key);
    char *key_text = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
    (void)printf("#%llu %s key=%s hits=%llu first=%s last=%s records=%llu-%llu %s\n  %s / %s\n",
                 (unsigned long long)a->id, a->rule, key_text ? key_text : "?",
                 (unsigned long long)a->hits, first, last, (unsigned long long)a->first_idx,
                 (unsigned long long)a->last_idx, a->acknowledged ? "acknowledged" : "OPEN",
                 kura_alert_rule_ja(a->rule), kura_alert_rule_en(a->rule));
    if (a->acknowledged) {
        char at[KURA_TIME_STR_MAX];
        kura_clock_format(a->ack_at, at);
        json_t *note = json_string(a->ack_note ? a->ack_note : "");
        char *note_text = note ? json_dumps(note, JSON_ENCODE_ANY) : NULL;
        (void)printf("  acknowledged by %s at %s: %s\n", a->ack_by ? a->ack_by : "-", at,
                     note_text ? note_text : "?");
        free(note_text);
        json_decref(note);
    }
    free(key_text);
    json_decref(key);
}

static int print_alert(void *ctx, const struct kura_alert *a)
{
    struct list_out *o = ctx;
    o->count++;
    if (!o->json) {
        print_text(a);
        return 0;
    }
    json_t *doc = kura_alert_webhook_json(a, 1, 1);
    json_t *item = json_array_get(json_object_get(doc, "alerts"), 0);
    if (item) {
        json_object_set_new(item, "acknowledged", json_boolean(a->acknowledged));
        if (a->acknowledged) {
            json_object_set_new(item, "ack_by", json_string(a->ack_by ? a->ack_by : ""));
            json_object_set_new(item, "ack_note", json_string(a->ack_note ? a->ack_note : ""));
            json_object_set_new(item, "ack_at", json_integer(a->ack_at));
        }
    }
    char *text = item ? json_dumps(item, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        return -ENOMEM;
    }
    (void)printf("%s\n", text);
    free(text);
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"all", no_argument, NULL, 'a'},
                                             {"json", no_argument, NULL, 'j'},
                                             {NULL, 0, NULL, 0}};
    const char *data = NULL;
    bool all = false;
    struct list_out out = {0};
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        data = c == 'd' ? optarg : data;
        all = all || c == 'a';
        out.json = out.json || c == 'j';
        bad |= c == '?';
    }
    if (!data || bad || optind != argc) {
        (void)fputs("usage: kura alerts list --data DIR [--all] [--json]\n"
                    "  open alerts, newest first (--all: acknowledged ones too)\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(4096);
    struct kura_meta *m = NULL;
    int r = open_meta(data, &m, &err);
    if (r == 0) {
        r = kura_meta_alert_list(m, !all, print_alert, &out);
    }
    (void)fflush(stdout);
    if (r < 0) {
        cli_error("alerts list", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        json_t *detail = json_pack("{s:b,s:I}", "all", all, "listed", (json_int_t)out.count);
        cli_record_or_warn("alerts", data, "cli.alerts.list", "alerts", detail, true);
        json_decref(detail);
        if (!out.json && out.count == 0) {
            (void)fputs("未対応の警報はありません / no open alerts\n", stderr);
        }
    }
    kura_meta_close(m);
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

struct find {
    uint64_t id;
    bool found;
};

static int find_open(void *ctx, const struct kura_alert *a)
{
    struct find *f = ctx;
    f->found = f->found || a->id == f->id;
    return f->found;
}

static bool note_ok(const char *note)
{
    size_t len = strlen(note);
    if (len == 0 || len > NOTE_MAX || !kura_utf8_valid(note, len)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)note[i] < 0x20 || note[i] == 0x7f) {
            return false; /* one line: it is shown in lists and mails */
        }
    }
    return true;
}

static int ack(const char *data, uint64_t id, const char *note, struct kura_buf *err)
{
    struct kura_meta *m = NULL;
    int r = open_meta(data, &m, err);
    struct find f = {id, false};
    if (r == 0) {
        r = kura_meta_alert_list(m, true, find_open, &f);
        r = r < 0 ? r : f.found ? 0 : KURA_ENOTFOUND;
        if (r == KURA_ENOTFOUND) {
            kura_buf_addf(err, "no open alert #%llu (see kura alerts list --all)",
                          (unsigned long long)id);
        }
    }
    char ids[KURA_NUM_STR_MAX];
    kura_fmt_u64(ids, id);
    if (r == 0) {
        json_t *detail = json_pack("{s:s}", "note", note);
        r = cli_record_action(data, "cli.alerts.ack", ids, detail, KURA_AUDIT_OK, err);
        json_decref(detail);
    }
    if (r == 0) {
        char actor[CLI_ACTOR_MAX];
        KURA_IGNORE(cli_actor_for_uid(getuid(), actor));
        r = kura_meta_alert_ack(m, id, actor, note, kura_clock_wall_ms());
        if (r < 0) {
            kura_buf_addf(err, "cannot acknowledge alert #%s: %s", ids, kura_strerror(r));
        }
    }
    kura_meta_close(m);
    return r;
}

static int cmd_ack(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"note", required_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    const char *data = NULL, *note = NULL;
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        data = c == 'd' ? optarg : data;
        note = c == 'n' ? optarg : note;
        bad |= c == '?';
    }
    uint64_t id = 0;
    bad |= optind + 1 != argc ||
           kura_parse_u64(argv[optind], strlen(argv[optind]), INT64_MAX, &id) < 0;
    if (!data || !note || bad) {
        (void)fputs("usage: kura alerts ack --data DIR ID --note TEXT\n"
                    "  TEXT: what was found and done (one line, up to 2000 bytes)\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    if (!note_ok(note)) {
        cli_error("alerts ack", "--note must be one line of 1 to %d bytes of UTF-8 text", NOTE_MAX);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(4096);
    int r = ack(data, id, note, &err);
    if (r < 0) {
        cli_error("alerts ack", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        (void)printf("警報 #%llu を対応済みにしました / alert #%llu acknowledged\n",
                     (unsigned long long)id, (unsigned long long)id);
    }
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_alerts(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        return cmd_list(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "ack") == 0) {
        return cmd_ack(argc - 1, argv + 1);
    }
    (void)fputs("usage: kura alerts list|ack --data DIR ...\n", stderr);
    return CLI_EXIT_USAGE;
}
