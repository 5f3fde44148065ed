/* audit.c — `kura audit verify | prove | consistency | key` (audit.h has the semantics).
 *
 * These read the log's files directly and may run beside a live server (the writer only appends
 * and renames). Each is itself recorded as a CLI action (cli.audit.*) by whoever may write the
 * folder.
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "meta/meta.h"
#include "report/report.h"

struct audit_ctx {
    const char *data;
    int datafd;
    int auditfd;
    struct kura_conf *conf;
    uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES];
    uint8_t (*retired)[KURA_SIGN_PUBLIC_KEY_BYTES]; /* keys/audit-retired.pub, oldest first */
    size_t n_retired;
    char origin[KURA_AUDIT_ORIGIN_MAX];
};

static void ctx_release(struct audit_ctx *c)
{
    kura_closep(&c->auditfd);
    kura_closep(&c->datafd);
    c->conf = kura_conf_free(c->conf);
    kura_free(c->retired);
    c->retired = NULL;
}

/* Opens the folder, its configuration, the audit public key and origin. */
static int ctx_open(struct audit_ctx *c, const char *data, struct kura_buf *err)
{
    *c = (struct audit_ctx){.data = data, .datafd = -1, .auditfd = -1};
    struct kura_buf path = KURA_BUF_INIT(8192);
    char install_id[40];
    int r = cli_data_open(data, &c->datafd, err);
    if (r == 0) {
        r = cli_data_path(data, CLI_CONF_NAME, &path);
    }
    if (r == 0) {
        r = kura_conf_load(path.ptr, &c->conf, err);
    }
    kura_buf_release(&path);
    int keys = -1;
    if (r == 0) {
        keys = openat(c->datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = keys < 0 ? -errno : kura_sign_public_key_read(keys, "audit.pub", c->pk, err);
        if (r == 0) {
            r = cli_audit_retired_read(keys, &c->retired, &c->n_retired, err);
        }
        kura_closep(&keys);
    }
    if (r == 0) {
        r = cli_read_install_id(c->datafd, install_id);
    }
    if (r == 0) {
        c->auditfd = openat(c->datafd, CLI_AUDIT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->auditfd < 0) {
            r = -errno;
            kura_buf_addf(err, "'%s' has no audit log: %s", data, kura_strerror(r));
        }
    }
    if (r == 0) {
        r = kura_audit_origin(c->auditfd, c->conf, install_id, c->origin);
    }
    if (r < 0 && err->len == 0) {
        kura_buf_addf(err, "%s", kura_strerror(r));
    }
    return r;
}

/* ---- verify ---------------------------------------------------------------------------------- */

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)fprintf(stderr, "kura audit verify: %llu of about %llu records\n",
                  (unsigned long long)done, (unsigned long long)total);
}

/* --since: a record index, or a checkpoint file whose size is used (and which is checked). */
static int parse_since(const char *arg, uint64_t *ret_index, const char **ret_file)
{
    if (kura_parse_u64(arg, strlen(arg), UINT64_MAX, ret_index) == 0) {
        return 0;
    }
    *ret_file = arg;
    return 0;
}

static int since_from_file(struct audit_ctx *c, const char *file, uint64_t *ret,
                           struct kura_buf *err)
{
    struct kura_buf note = KURA_BUF_INIT(65536);
    struct kura_audit_checkpoint cp;
    int r = kura_file_read_all(AT_FDCWD, file, &note);
    if (r == 0) {
        r = kura_audit_checkpoint_open(note.ptr, note.len, c->pk, c->origin, &cp);
    }
    if (r < 0) {
        kura_buf_addf(err, "--since '%s': not a checkpoint of this log (%s)", file,
                      kura_strerror(r));
    } else {
        *ret = cp.size;
    }
    kura_buf_release(&note);
    return r;
}

static void print_report(const struct kura_audit_verify_report *rep, bool json)
{
    if (json) {
        json_t *doc =
            json_pack("{s:b,s:I,s:I,s:I,s:I,s:I}", "ok", rep->ok, "records", (json_int_t)rep->size,
                      "checkpoint", (json_int_t)rep->checkpoint, "checkpoints_checked",
                      (json_int_t)rep->checkpoints, "witnessed_checked", (json_int_t)rep->witnessed,
                      "pruned_up_to", (json_int_t)rep->pruned_upto);
        if (doc && !rep->ok) {
            json_object_set_new(doc, "bad_index", json_integer((json_int_t)rep->bad_index));
            json_object_set_new(doc, "reason", json_string(rep->reason));
        }
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (text) {
            (void)printf("%s\n", text);
            free(text);
        }
        json_decref(doc);
        return;
    }
    if (rep->ok) {
        (void)printf("audit log ok: %llu records, latest checkpoint %llu, %llu checkpoints "
                     "checked (%llu witnessed)\n",
                     (unsigned long long)rep->size, (unsigned long long)rep->checkpoint,
                     (unsigned long long)rep->checkpoints, (unsigned long long)rep->witnessed);
    } else {
        (void)printf("AUDIT LOG FAILED VERIFICATION at record %llu: %s\n",
                     (unsigned long long)rep->bad_index, rep->reason);
    }
}

/* Verifies the whole log with its witnesses: the witness file, and the sources named in
 * witness_read. */
static int run_verify(struct audit_ctx *ctx, uint64_t since, bool show_progress,
                      struct kura_audit_verify_report *rep)
{
    const char *files[20];
    size_t n = 0;
    char *list = kura_strdup(ctx->conf->audit.witness_read);
    if (!list) {
        return -ENOMEM;
    }
    if (ctx->conf->audit.witness_file[0]) {
        files[n++] = ctx->conf->audit.witness_file;
    }
    struct kura_str rest = kura_str_c(list), item;
    for (bool more = rest.len > 0; more && n < KURA_ARRAY_SIZE(files);) {
        more = kura_str_split(&rest, ',', &item);
        item = kura_str_trim_ows(item);
        ((char *)item.ptr)[item.len] = '\0';
        files[n++] = item.ptr;
    }
    struct kura_audit_verify_opts o = {
        .pk = ctx->pk,
        .retired = (const uint8_t(*)[KURA_SIGN_PUBLIC_KEY_BYTES])ctx->retired,
        .n_retired = ctx->n_retired,
        .origin = ctx->origin,
        .heartbeat_interval_ms = ctx->conf->audit.heartbeat_interval * 1000,
        .witness_files = files,
        .n_witness_files = n,
        .since = since,
        .progress = show_progress ? progress : NULL};
    int r = kura_audit_verify(ctx->auditfd, &o, rep);
    kura_free(list);
    return r;
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"since", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {NULL, 0, NULL, 0}};
    const char *data = NULL, *since_file = NULL;
    uint64_t since = 0;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (c == 's') {
            KURA_IGNORE(parse_since(optarg, &since, &since_file));
        } else if (c == 'j') {
            json = true;
        } else {
            return CLI_EXIT_USAGE;
        }
    }
    if (!data || optind != argc) {
        (void)fputs("usage: kura audit verify --data DIR [--since INDEX|CHECKPOINT] [--json]\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(8192);
    struct audit_ctx ctx;
    int r = ctx_open(&ctx, data, &err);
    if (r == 0 && since_file) {
        r = since_from_file(&ctx, since_file, &since, &err);
    }
    struct kura_audit_verify_report rep;
    if (r == 0) {
        r = run_verify(&ctx, since, !json, &rep);
    }
    if (r < 0) {
        cli_error("audit verify", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        print_report(&rep, json);
        json_t *detail = json_pack("{s:b,s:I,s:s?}", "ok", rep.ok, "records", (json_int_t)rep.size,
                                   "reason", rep.ok ? NULL : rep.reason);
        cli_record_or_warn("audit", data, "cli.audit.verify", "audit", detail, rep.ok);
        json_decref(detail);
    }
    ctx_release(&ctx);
    kura_buf_release(&err);
    return r < 0 || !rep.ok ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* ---- prove, consistency, key -------------------------------------------------------------------
 */

static int write_out(const char *out, const struct kura_buf *b, struct kura_buf *err)
{
    if (!out || strcmp(out, "-") == 0) {
        return fwrite(b->ptr, 1, b->len, stdout) == b->len ? 0 : -EIO;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, b->ptr, b->len) != (ssize_t)b->len || fsync(fd) < 0) {
        kura_buf_addf(err, "cannot write '%s' (it must not exist yet): %s", out,
                      kura_strerror(-errno));
        if (fd >= 0) {
            (void)close(fd);
        }
        return -EIO;
    }
    (void)close(fd);
    return 0;
}

static int cmd_prove(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"index", required_argument, NULL, 'i'},
                                             {"out", required_argument, NULL, 'o'},
                                             {NULL, 0, NULL, 0}};
    const char *data = NULL, *out = NULL, *index_arg = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (c == 'i') {
            index_arg = optarg;
        } else if (c == 'o') {
            out = optarg;
        } else {
            return CLI_EXIT_USAGE;
        }
    }
    uint64_t index;
    if (!data || !index_arg || optind != argc ||
        kura_parse_u64(index_arg, strlen(index_arg), UINT64_MAX, &index) < 0) {
        (void)fputs("usage: kura audit prove --data DIR --index N [--out FILE]\n", stderr);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(8192), vkey = KURA_BUF_INIT(1024),
                    json = KURA_BUF_INIT(1 << 20);
    struct audit_ctx ctx;
    int r = ctx_open(&ctx, data, &err);
    if (r == 0) {
        r = kura_audit_vkey(ctx.origin, ctx.pk, &vkey);
    }
    if (r == 0) {
        r = kura_audit_prove(ctx.auditfd, index, vkey.ptr, &json, &err);
    }
    if (r == 0) {
        r = write_out(out, &json, &err);
    }
    if (r < 0) {
        cli_error("audit prove", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        json_t *detail = json_pack("{s:I}", "index", (json_int_t)index);
        cli_record_or_warn("audit", data, "cli.audit.prove", "audit", detail, true);
        json_decref(detail);
    }
    ctx_release(&ctx);
    kura_buf_release(&err);
    kura_buf_release(&vkey);
    kura_buf_release(&json);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int cmd_consistency(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"old", required_argument, NULL, 'a'},
                                             {"new", required_argument, NULL, 'b'},
                                             {"out", required_argument, NULL, 'o'},
                                             {NULL, 0, NULL, 0}};
    const char *data = NULL, *old_file = NULL, *new_file = NULL, *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (c == 'a') {
            old_file = optarg;
        } else if (c == 'b') {
            new_file = optarg;
        } else if (c == 'o') {
            out = optarg;
        } else {
            return CLI_EXIT_USAGE;
        }
    }
    if (!data || !old_file || optind != argc) {
        (void)fputs("usage: kura audit consistency --data DIR --old CHECKPOINT "
                    "[--new CHECKPOINT] [--out FILE]\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(8192), a = KURA_BUF_INIT(65536), b = KURA_BUF_INIT(65536),
                    json = KURA_BUF_INIT(1 << 20);
    struct audit_ctx ctx;
    int r = ctx_open(&ctx, data, &err);
    if (r == 0) {
        r = kura_file_read_all(AT_FDCWD, old_file, &a);
    }
    if (r == 0) {
        /* Without --new: the log's latest checkpoint. */
        r = new_file ? kura_file_read_all(AT_FDCWD, new_file, &b)
                     : kura_file_read_all(ctx.auditfd, "checkpoint", &b);
    }
    if (r == 0) {
        r = kura_audit_prove_consistency(ctx.auditfd, a.ptr, a.len, b.ptr, b.len, ctx.pk,
                                         ctx.origin, &json, &err);
    }
    if (r == 0) {
        r = write_out(out, &json, &err);
    }
    if (r < 0) {
        cli_error("audit consistency", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        cli_record_or_warn("audit", data, "cli.audit.consistency", "audit", NULL, true);
    }
    ctx_release(&ctx);
    kura_buf_release(&err);
    kura_buf_release(&a);
    kura_buf_release(&b);
    kura_buf_release(&json);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int cmd_key(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--data") != 0) {
        (void)fputs("usage: kura audit key --data DIR\n", stderr);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(8192), vkey = KURA_BUF_INIT(1024);
    struct audit_ctx ctx;
    int r = ctx_open(&ctx, argv[2], &err);
    if (r == 0) {
        r = kura_audit_vkey(ctx.origin, ctx.pk, &vkey);
    }
    if (r == 0) {
        (void)printf("%s\n", vkey.ptr);
    }
    for (size_t i = ctx.n_retired; r == 0 && i-- > 0;) {
        kura_buf_reset(&vkey);
        r = kura_audit_vkey(ctx.origin, ctx.retired[i], &vkey);
        if (r == 0) {
            (void)printf("retired: %s\n", vkey.ptr);
        }
    }
    if (r < 0) {
        cli_error("audit key", "%s", err.len ? err.ptr : kura_strerror(r));
    }
    ctx_release(&ctx);
    kura_buf_release(&err);
    kura_buf_release(&vkey);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* ---- search -----------------------------------------------------------------------------------
 */

/* "2026-11-01" (midnight UTC) or "2026-11-01T12:00:00Z" / "...T12:00:00.000Z". */
static int parse_when(const char *s, int64_t *ret)
{
    char full[32];
    size_t n = strlen(s);
    if (n == 10) {
        (void)snprintf(full, sizeof(full), "%sT00:00:00.000Z", s);
    } else if (n == 20 && s[19] == 'Z') {
        (void)snprintf(full, sizeof(full), "%.19s.000Z", s);
    } else if (n == 24) {
        (void)snprintf(full, sizeof(full), "%s", s);
    } else {
        return KURA_ESYNTAX;
    }
    return kura_audit_time_parse(full, ret);
}

struct search_out {
    bool csv;
    uint64_t count;
    struct kura_buf line;
};

static const char *const csv_columns[] = {
    "index",      "time",   "actor",  "roles", "elevated", "session", "source_ip", "user_agent",
    "request_id", "action", "object", "bytes", "result",   "reason",  "detail"};

static int print_row(void *ctx, const struct kura_audit_row *row)
{
    struct search_out *o = ctx;
    o->count++;
    if (!o->csv) {
        return printf("%s\n", row->record) < 0 ? -EIO : 0;
    }
    json_t *doc = json_loads(row->record, 0, NULL);
    kura_buf_reset(&o->line);
    for (size_t i = 0; doc && i < KURA_ARRAY_SIZE(csv_columns); i++) {
        json_t *v = json_object_get(doc, csv_columns[i]);
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        const char *field = json_is_string(v) ? json_string_value(v) : json_is_null(v) ? "" : text;
        if (i > 0) {
            kura_buf_addc(&o->line, ',');
        }
        kura_csv_field(&o->line, field ? field : "", field ? strlen(field) : 0);
        free(text);
    }
    json_decref(doc);
    kura_buf_adds(&o->line, "\r\n");
    if (!doc || kura_buf_err(&o->line)) {
        return KURA_ECORRUPT;
    }
    return fwrite(o->line.ptr, 1, o->line.len, stdout) == o->line.len ? 0 : -EIO;
}

/* Opens the database; when no server runs (the writer lock is free), brings the search index up
 * to date with the log first. */
static int open_index(struct audit_ctx *c, struct kura_meta **ret, struct kura_buf *err)
{
    struct kura_buf path = KURA_BUF_INIT(8192);
    int r = cli_data_path(c->data, CLI_DB_NAME, &path);
    struct kura_meta *m = NULL;
    if (r == 0) {
        r = kura_meta_open("sqlite", path.ptr, 0, &m);
    }
    kura_buf_release(&path);
    struct kura_ctl_lock *lock = NULL;
    pid_t holder;
    int lr = r == 0 ? kura_ctl_lock_take(c->datafd, &lock, &holder) : r;
    if (lr == 0) {
        enum kura_meta_schema_state st;
        r = kura_meta_check_schema(m, &st);
        if (r == KURA_ESCHEMA && st == KURA_META_SCHEMA_PENDING) {
            r = kura_meta_migrate(m);
        }
        if (r == 0) {
            r = kura_audit_index_catch_up(c->auditfd, m, NULL);
        }
        kura_ctl_lock_release(lock);
    } else if (lr != KURA_ELOCKED) {
        r = lr;
    } /* else a server runs: its indexer keeps the index current */
    if (r < 0) {
        kura_buf_addf(err, "cannot open the audit search index: %s", kura_strerror(r));
        kura_meta_close(m);
        return r;
    }
    *ret = m;
    return 0;
}

static int cmd_search(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"from", required_argument, NULL, 'f'},
                                             {"to", required_argument, NULL, 't'},
                                             {"actor", required_argument, NULL, 'a'},
                                             {"action", required_argument, NULL, 'x'},
                                             {"object", required_argument, NULL, 'o'},
                                             {"result", required_argument, NULL, 'r'},
                                             {"source-ip", required_argument, NULL, 's'},
                                             {"limit", required_argument, NULL, 'l'},
                                             {"format", required_argument, NULL, 'F'},
                                             {NULL, 0, NULL, 0}};
    const char *data = NULL, *format = "jsonl";
    struct kura_audit_query q = {.after_idx = UINT64_MAX};
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'f':
            bad |= parse_when(optarg, &q.from_ms) < 0;
            break;
        case 't':
            bad |= parse_when(optarg, &q.to_ms) < 0;
            break;
        case 'a':
            q.actor = optarg;
            break;
        case 'x':
            q.action = optarg;
            break;
        case 'o':
            q.object_prefix = optarg;
            break;
        case 'r':
            q.result = optarg;
            bad |= strcmp(optarg, "ok") && strcmp(optarg, "denied") && strcmp(optarg, "error");
            break;
        case 's':
            q.source_ip = optarg;
            break;
        case 'l':
            bad |= kura_parse_u64(optarg, strlen(optarg), UINT64_MAX, &q.limit) < 0;
            break;
        case 'F':
            format = optarg;
            bad |= strcmp(optarg, "jsonl") && strcmp(optarg, "csv");
            break;
        default:
            bad = 1;
        }
    }
    if (!data || bad || optind != argc) {
        (void)fputs("usage: kura audit search --data DIR [--from TIME] [--to TIME] [--actor A]\n"
                    "         [--action X] [--object PREFIX] [--result ok|denied|error]\n"
                    "         [--source-ip IP] [--limit N] [--format jsonl|csv]\n"
                    "  TIME: 2026-11-01 or 2026-11-01T12:00:00Z (UTC); --to is exclusive\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(8192);
    struct audit_ctx ctx;
    struct kura_meta *m = NULL;
    struct search_out out = {.csv = strcmp(format, "csv") == 0, .line = KURA_BUF_INIT(1 << 20)};
    int r = ctx_open(&ctx, data, &err);
    if (r == 0) {
        r = open_index(&ctx, &m, &err);
    }
    if (r == 0 && out.csv) {
        for (size_t i = 0; i < KURA_ARRAY_SIZE(csv_columns); i++) {
            (void)printf("%s%s", i ? "," : "", csv_columns[i]);
        }
        (void)printf("\r\n");
    }
    if (r == 0) {
        r = kura_meta_audit_index_search(m, &q, print_row, &out);
    }
    (void)fflush(stdout);
    if (r < 0) {
        cli_error("audit search", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        json_t *detail =
            json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:I,s:I,s:I,s:s}", "actor", q.actor, "action",
                      q.action, "object", q.object_prefix, "result", q.result, "source_ip",
                      q.source_ip, "from_ms", (json_int_t)q.from_ms, "to_ms", (json_int_t)q.to_ms,
                      "matches", (json_int_t)out.count, "format", format);
        cli_record_or_warn("audit", data, "cli.audit.search", "audit", detail, true);
        json_decref(detail);
    }
    kura_meta_close(m);
    ctx_release(&ctx);
    kura_buf_release(&out.line);
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* ---- the monthly report ---------------------------------------------------------------- */

/* The month before now, "YYYY-MM". */
static void last_month(char out[static 8])
{
    char now[KURA_TIME_STR_MAX];
    kura_clock_format(kura_clock_wall_ms(), now);
    uint64_t y = 1970, m = 1;
    KURA_IGNORE(kura_parse_u64(now, 4, 9999, &y)); /* kura_clock_format: "YYYY-MM-..." */
    KURA_IGNORE(kura_parse_u64(now + 5, 2, 12, &m));
    y -= m == 1;
    m = m == 1 ? 12 : m - 1;
    (void)snprintf(out, 8, "%04u-%02u", (unsigned)(y % 10000), (unsigned)m);
}

static int open_out(const char *dir, int *ret, struct kura_buf *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        kura_buf_addf(err, "cannot create '%s': %s", dir, kura_strerror(-errno));
        return -errno;
    }
    *ret = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*ret < 0) {
        kura_buf_addf(err, "cannot open '%s': %s", dir, kura_strerror(-errno));
        return -errno;
    }
    return 0;
}

static int make_report(struct audit_ctx *ctx, const char *month, const char *out,
                       struct kura_report_summary *sum, struct kura_buf *err)
{
    struct kura_audit_verify_report rep;
    struct kura_meta *m = NULL;
    int out_fd = -1;
    int64_t from, to, now = kura_clock_wall_ms();
    int64_t window = (int64_t)ctx->conf->audit.searchable_days * 24 * 60 * 60 * 1000;
    int r = kura_report_month_range(month, &from, &to);
    if (r == 0 && from < now - window) {
        /* The index no longer holds all of it: a report would count too little. */
        kura_buf_addf(err,
                      "%s begins before the search window ([audit] searchable_days = %llu); "
                      "its records are in the log but no longer in the index",
                      month, (unsigned long long)ctx->conf->audit.searchable_days);
        r = KURA_ERANGE;
    } else if (r == 0 && from > now) {
        kura_buf_addf(err, "%s has not begun", month);
        r = KURA_ERANGE;
    }
    if (r == 0) {
        r = run_verify(ctx, 0, false, &rep);
    }
    if (r == 0) {
        r = open_index(ctx, &m, err);
    }
    if (r == 0) {
        r = open_out(out, &out_fd, err);
    }
    if (r == 0) {
        char actor[CLI_ACTOR_MAX];
        KURA_IGNORE(cli_actor_for_uid(getuid(), actor));
        struct kura_report_verdict v = {rep.ok, rep.size, rep.checkpoint, rep.witnessed,
                                        rep.reason};
        struct kura_report_monthly_opts o = {m, month, ctx->origin, actor, &v, out_fd};
        r = kura_report_monthly(&o, sum, err);
    }
    kura_closep(&out_fd);
    kura_meta_close(m);
    return r;
}

static int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"month", required_argument, NULL, 'm'},
                                             {"out", required_argument, NULL, 'o'},
                                             {NULL, 0, NULL, 0}};
    const char *data = NULL, *out = ".";
    char month[8];
    last_month(month);
    int c, bad = 0;
    int64_t from, to;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        data = c == 'd' ? optarg : data;
        out = c == 'o' ? optarg : out;
        if (c == 'm') {
            bad |= kura_report_month_range(optarg, &from, &to) < 0;
            (void)snprintf(month, sizeof(month), "%s", optarg);
        }
        bad |= c == '?';
    }
    if (!data || bad || optind != argc) {
        (void)fputs("usage: kura report monthly --data DIR [--month YYYY-MM] [--out DIR]\n"
                    "  the monthly report (HTML and CSV, UTC months; default: last month)\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(8192);
    struct audit_ctx ctx;
    struct kura_report_summary sum = {0};
    int r = ctx_open(&ctx, data, &err);
    if (r == 0) {
        r = make_report(&ctx, month, out, &sum, &err);
    }
    if (r < 0) {
        cli_error("report monthly", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        (void)printf("%s/kura-audit-%s.html: %llu records, %llu alerts, %llu changes\n", out, month,
                     (unsigned long long)sum.records, (unsigned long long)sum.alerts,
                     (unsigned long long)sum.changes);
        json_t *detail = json_pack("{s:s,s:I}", "month", month, "records", (json_int_t)sum.records);
        cli_record_or_warn("report", data, "cli.report.monthly", month, detail, true);
        json_decref(detail);
    }
    ctx_release(&ctx);
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_audit(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"verify", cmd_verify}, {"prove", cmd_prove}, {"consistency", cmd_consistency},
                {"search", cmd_search}, {"key", cmd_key},     {"rotate-key", cli_audit_rotate_key}};
    for (size_t i = 0; argc >= 2 && i < KURA_ARRAY_SIZE(cmds); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0) {
            return cmds[i].fn(argc - 1, argv + 1);
        }
    }
    (void)fputs("usage: kura audit verify|prove|consistency|search|key|rotate-key --data DIR ...\n",
                stderr);
    return CLI_EXIT_USAGE;
}

int cli_report(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "monthly") == 0) {
        return cmd_report(argc - 1, argv + 1);
    }
    (void)fputs("usage: kura report monthly --data DIR [--month YYYY-MM] [--out DIR]\n", stderr);
    return CLI_EXIT_USAGE;
}
