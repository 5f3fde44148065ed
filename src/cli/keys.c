/* keys.c — `kura keys list|rotate|prune`: the Crypt4GH server key (keys/c4gh.sec) and the
 * retired keys beside it (keys/c4gh-retired/).
 *
 * rotate runs beside a running server (online): it writes the new key (the old one is retired
 * first), asks the server over the admin socket to reload its keys — from then on uploads use
 * the new key — and re-encrypts the headers to it in batches, one metadata transaction each;
 * no blob is touched. Interrupted anywhere (a crash, kill -9, --stop-after), it is simply run
 * again: a half-installed key is finished first, and the headers still under a retired key are
 * the work left. The audit log records the start (before anything changes) and the end.
 *
 * prune destroys retired keys that no header needs and that were retired longer ago than the
 * backups are kept (a restored backup holds headers under the keys of its time).
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "meta/meta.h"
#include "store/store.h"

#define BATCH_DEFAULT 256
#define DAY_MS (24LL * 60 * 60 * 1000)

struct keys_opts {
    const char *cmd, *data;
    bool json, resume;
    uint64_t batch, stop_after, keep_days, kill_after;
    bool has_keep_days;
};

static int usage(void)
{
    (void)fputs("usage: kura keys COMMAND --data DIR [options]\n"
                "  list [--json]                 the current and the retired Crypt4GH keys\n"
                "  rotate [--resume] [--batch N] [--stop-after N] [--json]\n"
                "                                a new server key; headers re-encrypted online\n"
                "                                (run it again to finish an interrupted one)\n"
                "  prune [--keep-days N] [--json]\n"
                "                                destroy retired keys no header needs, retired\n"
                "                                more than N days ago (default: [store]\n"
                "                                backup_retention_days)\n",
                stderr);
    return CLI_EXIT_USAGE;
}

static int parse_num(const char *s, uint64_t max, uint64_t *ret)
{
    return kura_parse_u64(s, strlen(s), max, ret) == 0 ? 0 : -EINVAL;
}

static int parse_opts(int argc, char **argv, struct keys_opts *o)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"resume", no_argument, NULL, 'r'},
                                             {"batch", required_argument, NULL, 'b'},
                                             {"stop-after", required_argument, NULL, 's'},
                                             {"keep-days", required_argument, NULL, 'k'},
#ifdef KURA_TEST_HOOKS
                                             /* tests: SIGKILL itself after N headers */
                                             {"test-kill-after", required_argument, NULL, 'K'},
#endif
                                             {NULL, 0, NULL, 0}};
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->data = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'r':
            o->resume = true;
            break;
        case 'b':
            bad |= parse_num(optarg, KURA_STORE_ROTATE_BATCH_MAX, &o->batch) < 0 || o->batch == 0;
            break;
        case 's':
            bad |= parse_num(optarg, UINT64_MAX, &o->stop_after) < 0 || o->stop_after == 0;
            break;
        case 'k':
            bad |= parse_num(optarg, 36500, &o->keep_days) < 0;
            o->has_keep_days = true;
            break;
        case 'K':
            bad |= parse_num(optarg, UINT64_MAX, &o->kill_after) < 0;
            break;
        default:
            bad = 1;
        }
    }
    return bad || optind != argc || !o->data ? -EINVAL : 0;
}

static int print_doc(json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        return -ENOMEM;
    }
    (void)printf("%s\n", text);
    free(text);
    return 0;
}

/* ---- list ---------------------------------------------------------------------------------- */

struct listing {
    bool json;
    json_t *arr;
};

static int list_one(void *ctx, const struct kura_store_key_info *k)
{
    struct listing *l = ctx;
    if (l->json) {
        json_t *o = json_pack("{s:s,s:s,s:I,s:I}", "key_id", k->id, "state",
                              k->current ? "current" : "retired", "retired_at",
                              (json_int_t)k->retired_at, "headers", (json_int_t)k->headers);
        return o && json_array_append_new(l->arr, o) == 0 ? 0 : -ENOMEM;
    }
    char when[KURA_TIME_STR_MAX] = "-";
    if (!k->current) {
        kura_clock_format(k->retired_at, when);
    }
    (void)printf("%-22s %-8s %-24s %llu\n", k->id, k->current ? "current" : "retired", when,
                 (unsigned long long)k->headers);
    return 0;
}

static int cmd_list(struct cli_store *cs, const struct keys_opts *o, struct kura_buf *err)
{
    (void)err;
    struct listing l = {o->json, o->json ? json_array() : NULL};
    if (o->json && !l.arr) {
        return -ENOMEM;
    }
    if (!o->json) {
        (void)printf("%-22s %-8s %-24s %s\n", "key", "state", "retired at", "headers");
    }
    int r = kura_store_keys_list(cs->store, list_one, &l);
    if (r == 0 && o->json) {
        return print_doc(json_pack("{s:o}", "keys", l.arr));
    }
    json_decref(l.arr);
    return r;
}

/* ---- rotate -------------------------------------------------------------------------------- */

struct pending {
    json_t *keys; /* ids of retired keys that still have headers */
    uint64_t headers;
};

static int note_pending(void *ctx, const struct kura_store_key_info *k)
{
    struct pending *p = ctx;
    if (!k->current && k->headers > 0) {
        p->headers += k->headers;
        return json_array_append_new(p->keys, json_string(k->id)) == 0 ? 0 : -ENOMEM;
    }
    return 0;
}

/* Tells a running server to load the keys now in keys/; no server: nothing to tell. */
static int tell_server(struct cli_store *cs, const char *want, struct kura_buf *err)
{
    json_t *req = json_pack("{s:s}", "cmd", "store.keys.reload");
    json_t *reply = NULL;
    struct kura_buf e = KURA_BUF_INIT(4096);
    int r = req ? kura_ctl_call(cs->datafd, req, &reply, &e) : -ENOMEM;
    json_decref(req);
    if (r == -ENOENT || r == -ECONNREFUSED) {
        r = 0; /* no server runs; one that starts later loads the new key */
    } else if (r == 0) {
        const char *got = json_string_value(json_object_get(reply, "key_id"));
        if (!got || strcmp(got, want) != 0) {
            kura_buf_addf(err, "the running server reports key '%s', not '%s'", got ? got : "?",
                          want);
            r = KURA_ECONFIG;
        }
    } else {
        kura_buf_addf(err, "the running server could not load the new key: %s",
                      e.len ? e.ptr : kura_strerror(r));
    }
    json_decref(reply);
    kura_buf_release(&e);
    return r;
}

static void show_progress(const struct kura_store_rotation *st, bool done)
{
    if (isatty(STDERR_FILENO)) {
        (void)fprintf(stderr, "\rkura keys rotate: %llu headers re-encrypted%s",
                      (unsigned long long)st->rewrapped, done ? "\n" : "");
    }
}

static int rewrap_all(struct cli_store *cs, const struct keys_opts *o,
                      struct kura_store_rotation *st, bool *ret_finished)
{
    uint64_t batch = o->batch ? o->batch : BATCH_DEFAULT;
    bool finished = false;
    int r = 0;
    while (r == 0 && !finished) {
        uint64_t limit = batch;
        if (o->stop_after) {
            uint64_t done = st->rewrapped + st->failed;
            if (done >= o->stop_after) {
                break;
            }
            limit = o->stop_after - done < limit ? o->stop_after - done : limit;
        }
        r = kura_store_keys_rotate_step(cs->store, (uint32_t)limit, st, &finished);
        show_progress(st, false);
#ifdef KURA_TEST_HOOKS
        if (r == 0 && o->kill_after && st->rewrapped >= o->kill_after) {
            (void)kill(getpid(), SIGKILL); /* an interruption at a known point, for tests */
        }
#endif
    }
    show_progress(st, true);
    *ret_finished = finished;
    return r;
}

static int cmd_rotate(struct cli_store *cs, const struct keys_opts *o, bool installed_now,
                      struct kura_buf *err)
{
    char from[KURA_STORE_KEY_ID_SIZE], to[KURA_STORE_KEY_ID_SIZE];
    kura_store_key_current(cs->store, from, NULL);
    struct pending p = {json_array(), 0};
    int r = p.keys ? kura_store_keys_list(cs->store, note_pending, &p) : -ENOMEM;
    bool resume = installed_now || p.headers > 0;
    if (r == 0 && !resume && o->resume) {
        json_decref(p.keys);
        if (o->json) {
            return print_doc(json_pack("{s:b,s:s}", "resumed", false, "key_id", from));
        }
        (void)printf("no rotation to resume; the current key is %s\n", from);
        return 0;
    }
    uint8_t sk[KURA_C4GH_KEY_BYTES], pk[KURA_C4GH_KEY_BYTES];
    memcpy(to, from, sizeof(to));
    if (r == 0 && !resume) {
        r = kura_c4gh_keygen(pk, sk);
        kura_store_key_id(pk, to);
        r = r == 0 && json_array_append_new(p.keys, json_string(from)) != 0 ? -ENOMEM : r;
    }
    /* Recorded before anything changes: a rotation the log cannot hold does not happen. */
    json_t *detail = r == 0 ? json_pack("{s:O,s:s,s:b,s:I}", "from", p.keys, "to", to, "resumed",
                                        resume, "headers", (json_int_t)p.headers)
                            : NULL;
    r = r == 0 && !detail ? -ENOMEM : r;
    r = r == 0 ? cli_record_action(o->data, "cli.keys.rotate.start", to, detail, KURA_AUDIT_OK, err)
               : r;
    json_decref(detail);
    json_decref(p.keys);
    if (r == 0 && !resume) {
        r = kura_store_keys_install(cs->store, sk);
        if (r < 0) {
            kura_buf_addf(err, "cannot install the new key in keys/: %s", kura_strerror(r));
        }
    }
    sodium_memzero(sk, sizeof(sk));
    r = r == 0 ? tell_server(cs, to, err) : r;
    struct kura_store_rotation st = KURA_STORE_ROTATION_INIT;
    bool finished = false;
    r = r == 0 ? rewrap_all(cs, o, &st, &finished) : r;
    if (r < 0 && err->len == 0) {
        kura_buf_addf(err,
                      "re-encryption stopped after %llu headers: %s; run kura keys rotate "
                      "again to go on",
                      (unsigned long long)st.rewrapped, kura_strerror(r));
    }
    if (r < 0 || !finished) {
        if (r == 0 && !o->json) {
            (void)printf("stopped after %llu headers as asked; run kura keys rotate again to go "
                         "on\n",
                         (unsigned long long)st.rewrapped);
        }
        if (r == 0 && o->json) {
            r = print_doc(json_pack("{s:s,s:b,s:b,s:I,s:I}", "key_id", to, "resumed", resume,
                                    "finished", false, "rewrapped", (json_int_t)st.rewrapped,
                                    "failed", (json_int_t)st.failed));
        }
        return r;
    }
    detail = json_pack("{s:I,s:I}", "rewrapped", (json_int_t)st.rewrapped, "failed",
                       (json_int_t)st.failed);
    cli_record_or_warn("keys rotate", o->data, "cli.keys.rotate.end", to, detail, st.failed == 0);
    json_decref(detail);
    if (o->json) {
        r = print_doc(json_pack("{s:s,s:b,s:b,s:I,s:I}", "key_id", to, "resumed", resume,
                                "finished", true, "rewrapped", (json_int_t)st.rewrapped, "failed",
                                (json_int_t)st.failed));
    } else {
        (void)printf("the Crypt4GH server key is %s; %llu headers re-encrypted to it%s\n"
                     "サーバ鍵を %s に更新し、%llu 件のヘッダを再暗号化しました\n"
                     "retired keys stay in keys/%s/ until kura keys prune\n",
                     to, (unsigned long long)st.rewrapped, resume ? " (resumed)" : "", to,
                     (unsigned long long)st.rewrapped, KURA_STORE_RETIRED_DIR);
    }
    if (r == 0 && st.failed > 0) {
        kura_buf_addf(err,
                      "%llu headers could not be re-encrypted (damaged; flagged corrupt): run "
                      "kura fsck",
                      (unsigned long long)st.failed);
        r = KURA_ECORRUPT;
    }
    return r;
}

/* ---- prune --------------------------------------------------------------------------------- */

struct pruning {
    const struct keys_opts *o;
    int64_t before;
    json_t *arr;
    unsigned destroyed;
};

static int candidate(void *ctx, const struct kura_store_key_info *k)
{
    struct pruning *p = ctx;
    if (!k->current && k->headers == 0 && k->retired_at <= p->before) {
        return json_array_append_new(p->arr, json_string(k->id)) == 0 ? 0 : -ENOMEM;
    }
    return 0;
}

static int pruned(void *ctx, const struct kura_store_key_info *k)
{
    struct pruning *p = ctx;
    p->destroyed += k->destroyed;
    const char *state = k->destroyed ? "destroyed" : k->headers ? "in use" : "kept (retention)";
    if (p->o->json) {
        json_t *o = json_pack("{s:s,s:s}", "key_id", k->id, "state", state);
        return o && json_array_append_new(p->arr, o) == 0 ? 0 : -ENOMEM;
    }
    (void)printf("%s: %s\n", k->id, state);
    return 0;
}

static int cmd_prune(struct cli_store *cs, const struct keys_opts *o, struct kura_buf *err)
{
    /* A retired key outlives its last header by the backup retention: the backups made before
     * the rotation hold headers under it until they expire. */
    uint64_t days = o->has_keep_days ? o->keep_days : cs->conf->store.backup_retention_days;
    struct pruning p = {o, kura_clock_wall_ms() - (int64_t)days * DAY_MS, json_array(), 0};
    int r = p.arr ? kura_store_keys_list(cs->store, candidate, &p) : -ENOMEM;
    if (r == 0 && json_array_size(p.arr) > 0) {
        /* Destroying key material is recorded before it happens. */
        json_t *detail = json_pack("{s:O,s:I}", "keys", p.arr, "keep_days", (json_int_t)days);
        r = detail
                ? cli_record_action(o->data, "cli.keys.prune", "keys", detail, KURA_AUDIT_OK, err)
                : -ENOMEM;
        json_decref(detail);
    }
    json_array_clear(p.arr);
    r = r == 0 ? kura_store_keys_prune(cs->store, p.before, pruned, &p) : r;
    if (r == 0 && o->json) {
        r = print_doc(json_pack("{s:O,s:I}", "keys", p.arr, "destroyed", (json_int_t)p.destroyed));
    } else if (r == 0) {
        (void)printf("%u retired keys destroyed / 破棄した旧鍵: %u\n", p.destroyed, p.destroyed);
    }
    json_decref(p.arr);
    return r;
}

/* ---- entry --------------------------------------------------------------------------------- */

int cli_keys(int argc, char **argv)
{
    struct keys_opts o = {.cmd = argc >= 2 ? argv[1] : ""};
    bool list = strcmp(o.cmd, "list") == 0, rotate = strcmp(o.cmd, "rotate") == 0,
         prune = strcmp(o.cmd, "prune") == 0;
    if ((!list && !rotate && !prune) || parse_opts(argc - 1, argv + 1, &o) < 0 ||
        (!rotate && (o.resume || o.batch || o.stop_after || o.kill_after)) ||
        (!prune && o.has_keep_days)) {
        return usage();
    }
    char where[32];
    (void)snprintf(where, sizeof(where), "keys %s", o.cmd);
    struct kura_buf err = KURA_BUF_INIT(8192);
    struct cli_store cs = {.datafd = -1};
    int datafd = -1, keys_fd = -1;
    bool installed = false;
    int r = cli_data_open(o.data, &datafd, &err);
    if (r == 0) {
        keys_fd = openat(datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = keys_fd < 0 ? -errno : 0;
    }
    /* One rotate or prune at a time (a lock on keys/ itself; the server does not take it). */
    if (r == 0 && !list && flock(keys_fd, LOCK_EX | LOCK_NB) < 0) {
        r = -errno;
        kura_buf_addf(&err, "another kura keys rotate or prune is running on '%s'", o.data);
    }
    if (r == 0 && rotate) {
        r = kura_store_keys_install_pending(keys_fd, &installed);
    } else if (r == 0 && kura_store_keys_pending(keys_fd)) {
        kura_buf_addf(&err, "a key rotation was interrupted: run kura keys rotate --data %s",
                      o.data);
        r = KURA_ECONFIG;
    }
    r = r == 0 ? cli_store_open(o.data, &cs, &err) : r;
    if (r == 0) {
        r = list     ? cmd_list(&cs, &o, &err)
            : rotate ? cmd_rotate(&cs, &o, installed, &err)
                     : cmd_prune(&cs, &o, &err);
    }
    (void)fflush(stdout);
    if (r < 0) {
        cli_error(where, "%s", err.len ? err.ptr : kura_strerror(r));
    }
    cli_store_close(&cs);
    kura_closep(&keys_fd);
    kura_closep(&datafd);
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
