/* fsck.c — `kura fsck`: every stored object checked (store.h, "fsck"), with a progress line on
 * a terminal, a summary, and an exit status scripts can use: 0 clean (warnings allowed unless
 * --strict), 1 problems found (or the check could not run), 2 usage. Runs beside a running
 * server. Damaged versions are flagged in the metadata, as a failed download flags them. The
 * run and its result are recorded in the audit log (cli.fsck).
 */
#include "cli/cli.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "store/store.h"

#define PROGRESS_EVERY_MS 100
#define FINDINGS_MAX 10000 /* listed in --json (all are counted) */

struct fsck_run {
    const char *data;
    bool json, strict, progress, no_flag;
    json_t *findings;
    int64_t last_progress;
    bool progress_shown;
};

static int usage(void)
{
    (void)fputs("usage: kura fsck --data DIR [--json] [--strict] [--progress] [--no-flag]\n"
                "  checks every stored object: header (its key), blob size, every segment\n"
                "  (authenticated, in its place), size and SHA-256, files against their\n"
                "  versions, each space's bytes; blobs nothing refers to and temporary uploads\n"
                "  are warnings (errors with --strict). --no-flag: do not mark damaged versions.\n"
                "  exit status: 0 clean, 1 problems, 2 usage\n",
                stderr);
    return CLI_EXIT_USAGE;
}

static double mib(uint64_t n)
{
    return (double)n / (1024.0 * 1024.0);
}

static void on_progress(void *ctx, const struct kura_fsck_progress *p)
{
    struct fsck_run *f = ctx;
    int64_t now = kura_clock_mono_ms();
    if (!f->progress ||
        (now - f->last_progress < PROGRESS_EVERY_MS && p->versions_done != p->versions_total)) {
        return;
    }
    f->last_progress = now;
    f->progress_shown = true;
    (void)fprintf(stderr, "\rkura fsck: %llu/%llu objects, %.1f/%.1f MiB   ",
                  (unsigned long long)p->versions_done, (unsigned long long)p->versions_total,
                  mib(p->bytes_done), mib(p->bytes_total));
}

static bool counts_as_error(const struct fsck_run *f, enum kura_fsck_kind k)
{
    return f->strict || !kura_fsck_kind_is_warning(k);
}

static void on_problem(void *ctx, const struct kura_fsck_problem *p)
{
    struct fsck_run *f = ctx;
    const char *severity = counts_as_error(f, p->kind) ? "error" : "warning";
    if (f->json) {
        if (json_array_size(f->findings) < FINDINGS_MAX) {
            json_t *o = json_pack(
                "{s:s,s:s,s:I,s:I,s:I,s:s?,s:s?,s:s}", "kind", kura_fsck_kind_name(p->kind),
                "severity", severity, "version", (json_int_t)p->version, "node",
                (json_int_t)p->node, "space", (json_int_t)p->space, "blob", p->blob, "error",
                p->err ? kura_err_name(p->err) : NULL, "detail", p->detail ? p->detail : "");
            if (o) {
                KURA_IGNORE(json_array_append_new(f->findings, o));
            }
        }
        return;
    }
    if (f->progress_shown) {
        (void)fputc('\n', stderr); /* keep the progress line off the finding */
        f->progress_shown = false;
    }
    (void)printf("%s: %s:", severity, kura_fsck_kind_name(p->kind));
    if (p->version) {
        (void)printf(" version %llu", (unsigned long long)p->version);
    }
    if (p->node) {
        (void)printf(" node %llu", (unsigned long long)p->node);
    }
    if (p->space) {
        (void)printf(" space %llu", (unsigned long long)p->space);
    }
    if (p->blob) {
        (void)printf(" blob %s", p->blob);
    }
    (void)printf(": %s%s%s\n", p->detail ? p->detail : "", p->err ? ": " : "",
                 p->err ? kura_strerror(p->err) : "");
}

/* Temporary uploads in DATA/tmp: a running upload, or what a crash left (kura serve removes
 * those at start). */
static int count_temp(struct fsck_run *f, int datafd, struct kura_fsck_report *rep)
{
    int fd = openat(datafd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        kura_closep(&fd);
        return e == ENOENT ? 0 : -e;
    }
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        rep->problems[KURA_FSCK_TEMP]++;
        const struct kura_fsck_problem p = {KURA_FSCK_TEMP, 0, 0, 0, NULL, 0, e->d_name};
        on_problem(f, &p);
    }
    (void)closedir(d);
    return 0;
}

static json_t *report_json(const struct fsck_run *f, const struct kura_fsck_report *rep,
                           uint64_t errors, uint64_t warnings)
{
    json_t *kinds = json_object();
    for (int k = 0; kinds && k < KURA_FSCK__COUNT; k++) {
        (void)json_object_set_new(kinds, kura_fsck_kind_name((enum kura_fsck_kind)k),
                                  json_integer((json_int_t)rep->problems[k]));
    }
    return json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:O}", "ok", errors == 0,
                     "versions", (json_int_t)rep->versions, "bytes", (json_int_t)rep->bytes,
                     "shredded", (json_int_t)rep->shredded, "nodes", (json_int_t)rep->nodes,
                     "spaces", (json_int_t)rep->spaces, "blobs", (json_int_t)rep->blobs,
                     "blob_bytes", (json_int_t)rep->blob_bytes, "errors", (json_int_t)errors,
                     "warnings", (json_int_t)warnings, "problems", kinds, "findings", f->findings);
}

int cli_fsck(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
        {"strict", no_argument, NULL, 's'},     {"progress", no_argument, NULL, 'p'},
        {"no-flag", no_argument, NULL, 'n'},    {NULL, 0, NULL, 0}};
    struct fsck_run f = {.progress = isatty(STDERR_FILENO) == 1};
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        f.data = c == 'd' ? optarg : f.data;
        f.json = f.json || c == 'j';
        f.strict = f.strict || c == 's';
        f.progress = f.progress || c == 'p';
        f.no_flag = f.no_flag || c == 'n';
        bad |= c == '?' || c == ':';
    }
    if (bad || optind != argc || !f.data) {
        return usage();
    }
    f.findings = json_array();
    struct kura_buf err = KURA_BUF_INIT(8192);
    struct cli_store cs = {.datafd = -1};
    struct kura_fsck_report rep = {.versions = 0};
    int r = f.findings ? cli_store_open(f.data, &cs, &err) : -ENOMEM;
    const struct kura_fsck_opts o = {!f.no_flag, on_problem, on_progress, &f};
    r = r == 0 ? count_temp(&f, cs.datafd, &rep) : r;
    if (r == 0) {
        struct kura_fsck_report got;
        r = kura_store_fsck(cs.store, &o, &got);
        if (r == 0) {
            got.problems[KURA_FSCK_TEMP] = rep.problems[KURA_FSCK_TEMP];
            rep = got;
        }
    }
    if (f.progress_shown) {
        (void)fputc('\n', stderr);
    }
    uint64_t errors = 0, warnings = 0;
    for (int k = 0; k < KURA_FSCK__COUNT; k++) {
        if (counts_as_error(&f, (enum kura_fsck_kind)k)) {
            errors += rep.problems[k];
        } else {
            warnings += rep.problems[k];
        }
    }
    if (r < 0) {
        cli_error("fsck", "%s", err.len ? err.ptr : kura_strerror(r));
    } else if (f.json) {
        json_t *doc = report_json(&f, &rep, errors, warnings);
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (text) {
            (void)printf("%s\n", text);
        }
        free(text);
        json_decref(doc);
    } else {
        (void)printf("checked %llu objects (%.1f MiB), %llu files and folders, %llu spaces, %llu "
                     "blobs: %llu problems, %llu warnings\n"
                     "検査: オブジェクト %llu 件、問題 %llu 件、警告 %llu 件\n",
                     (unsigned long long)rep.versions, mib(rep.bytes),
                     (unsigned long long)rep.nodes, (unsigned long long)rep.spaces,
                     (unsigned long long)rep.blobs, (unsigned long long)errors,
                     (unsigned long long)warnings, (unsigned long long)rep.versions,
                     (unsigned long long)errors, (unsigned long long)warnings);
        for (int k = 0; k < KURA_FSCK__COUNT; k++) {
            if (rep.problems[k]) {
                (void)printf("  %-13s %llu\n", kura_fsck_kind_name((enum kura_fsck_kind)k),
                             (unsigned long long)rep.problems[k]);
            }
        }
    }
    (void)fflush(stdout);
    if (r == 0) {
        json_t *detail = json_pack("{s:I,s:I,s:I}", "objects", (json_int_t)rep.versions, "problems",
                                   (json_int_t)errors, "warnings", (json_int_t)warnings);
        cli_record_or_warn("fsck", f.data, "cli.fsck", "store", detail, errors == 0);
        json_decref(detail);
    }
    json_decref(f.findings);
    cli_store_close(&cs);
    kura_buf_release(&err);
    return r < 0 || errors > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
