/* serve.c — `kura serve`: check everything, then serve HTTPS until SIGTERM or SIGINT.
 *
 * Start-up refuses, with a message naming the file and the remedy, when: the data folder is not
 * one or is open to group/others; kura.conf has an unknown section or key or an invalid value;
 * a secret key file is accessible by group/others or not ours; another process holds the
 * folder; the database schema is newer than this binary; the listen address is taken.
 *
 * Signals are blocked in every thread and taken synchronously by the main thread
 * (sigtimedwait), which also runs the slow-client sweep every 250 ms. SIGTERM/SIGINT: stop
 * accepting, let requests in flight finish for up to shutdown_timeout, exit 0. A second signal
 * ends the wait at once.
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "conf/conf.h"
#include "crypto/crypto.h"
#include "ctl/ctl.h"
#include "dav/dav.h"
#include "http/http.h"
#include "mail/mail.h"
#include "kura-config.h"
#include "meta/meta.h"
#include "store/store.h"

#define SWEEP_INTERVAL_MS 250

struct server {
    const char *data;
    int datafd;
    struct kura_conf *conf;
    struct kura_ctl_lock *lock;
    struct kura_keyring *keys;
    struct kura_meta *meta;
    struct kura_audit *audit;
    int audit_dirfd;
    struct cli_followers followers;
    int spool_dirfd;
    struct kura_mailer *mailer;
    int64_t next_maintenance;
    int64_t next_checkpoint; /* of pruned versions' headers (checkpoint_pruned) */
    bool checkpoint_failing; /* its last try failed: logged once, until one succeeds */
    struct kura_http_server *http;
    struct kura_ctl_server *ctl;
    char *cert_pem;
    int64_t started_ms;
    struct cli_identity identity;
    struct kura_blob *blob;
    struct kura_store *store;
    struct kura_purge_opts *purge; /* files.c: how purges certify */
};

static void maintenance(struct server *s);
static struct cli_maint maint_of(const struct server *s);

static void usage(FILE *f)
{
    (void)fputs("usage: kura serve --data DIR [--listen ADDR:PORT]\n"
                "  Serves HTTPS from the data folder DIR until SIGTERM or SIGINT.\n"
                "  --listen overrides [http] listen in DIR/kura.conf.\n",
                f);
}

/* Process hardening that applies before anything secret is loaded. */
static void harden_process(void)
{
    /* No core dumps: they would contain keys and data. PR_SET_DUMPABLE 0 also stops other
     * processes of the same user from attaching with ptrace. */
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    umask(077);
    /* Each connection is a descriptor: raise the soft limit to the hard limit. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max > 1048576 ? 1048576 : nofile.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &nofile);
    }
}

static int load_conf(struct server *s, const char *listen, struct kura_buf *err)
{
    struct kura_buf path = KURA_BUF_INIT(8192);
    int r = cli_data_path(s->data, CLI_CONF_NAME, &path);
    if (r == 0) {
        r = kura_conf_load(path.ptr, &s->conf, err);
    }
    kura_buf_release(&path);
    if (r == 0) {
        r = kura_conf_check(s->conf, err);
    }
    if (r == 0 && listen) {
        r = kura_conf_set(s->conf, "http", "listen", listen, err);
    }
    if (r < 0) {
        return r;
    }
    enum kura_log_level level = KURA_LOG_INFO;
    KURA_IGNORE(kura_log_level_parse(s->conf->log.level, &level));
    kura_log_set_level(level);
    return 0;
}

static int take_lock(struct server *s, struct kura_buf *err)
{
    pid_t holder = 0;
    int r = kura_ctl_lock_take(s->datafd, &s->lock, &holder);
    if (r == KURA_ELOCKED) {
        kura_buf_addf(err, "data folder '%s' is in use by another kura process", s->data);
        if (holder > 0) {
            kura_buf_addf(err, " (pid %ld)", (long)holder);
        }
    } else if (r < 0) {
        kura_buf_addf(err, "cannot lock data folder '%s': %s", s->data, kura_strerror(r));
    }
    return r;
}

/* Reads the TLS certificate (cert_file) and checks the key file's mode; both paths are relative
 * to the data folder unless absolute. The key itself is read in start_http and wiped there. */
static int read_file_at(struct server *s, const char *name, bool secret, struct kura_buf *out,
                        struct kura_buf *err)
{
    int dirfd = name[0] == '/' ? AT_FDCWD : s->datafd;
    _cleanup_(kura_closep) int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        kura_buf_addf(err, "cannot open '%s': %s", name, kura_strerror(-errno));
        return -errno;
    }
    if (secret && (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))) {
        kura_buf_addf(err,
                      "%s: mode %04o or owner uid %u lets others read a secret key; it must "
                      "be a regular file owned by uid %u; run chmod 600 %s",
                      name, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
                      (unsigned)geteuid(), name);
        return KURA_EKEYMODE;
    }
    int r = kura_file_read_all(dirfd, name, out);
    if (r < 0) {
        kura_buf_addf(err, "cannot read '%s': %s", name, kura_strerror(r));
    }
    return r;
}

static int load_keys(struct server *s, struct kura_buf *err)
{
    _cleanup_(kura_closep) int keys =
        openat(s->datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (keys < 0) {
        kura_buf_addf(err, "cannot open %s/keys: %s", s->data, kura_strerror(-errno));
        return -errno;
    }
    struct stat st;
    if (fstatat(keys, "audit.key.next", &st, AT_SYMLINK_NOFOLLOW) == 0 ||
        fstatat(keys, "audit.pub.next", &st, AT_SYMLINK_NOFOLLOW) == 0) {
        kura_buf_addf(err,
                      "an audit key rotation was interrupted: run kura audit rotate-key --data "
                      "%s to finish it",
                      s->data);
        return KURA_ECONFIG;
    }
    if (kura_store_keys_pending(keys)) {
        kura_buf_addf(err,
                      "a Crypt4GH key rotation was interrupted while installing the new key: "
                      "run kura keys rotate --data %s to finish it",
                      s->data);
        return KURA_ECONFIG;
    }
    return cli_keyring_load(keys, s->conf, &s->keys, err);
}

static int open_meta(struct server *s, struct kura_buf *err)
{
    struct kura_buf path = KURA_BUF_INIT(8192);
    int r = cli_data_path(s->data, CLI_DB_NAME, &path);
    if (r == 0) {
        r = kura_meta_open("sqlite", path.ptr, KURA_META_READERS, &s->meta);
    }
    if (r < 0) {
        kura_buf_addf(err, "cannot open the database %s: %s", path.ptr ? path.ptr : "",
                      kura_strerror(r));
        kura_buf_release(&path);
        return r;
    }
    kura_buf_release(&path);
    enum kura_meta_schema_state state = KURA_META_SCHEMA_CURRENT;
    unsigned version = 0;
    r = kura_meta_check_schema(s->meta, &state);
    KURA_IGNORE(kura_meta_schema_version(s->meta, &version));
    if (r == KURA_ESCHEMA && state == KURA_META_SCHEMA_NEWER) {
        kura_buf_addf(err,
                      "database schema version %u is newer than this kura (%s knows up to "
                      "%u); run a newer kura",
                      version, KURA_VERSION, (unsigned)KURA_META_SCHEMA_LATEST);
        return r;
    }
    if (r == KURA_ESCHEMA) {
        kura_log(KURA_LOG_INFO, "schema_migrate", NULL);
        r = kura_meta_migrate(s->meta);
    }
    if (r < 0) {
        kura_buf_addf(err, "database: %s", kura_strerror(r));
    }
    return r;
}

static int open_listener(const struct kura_conf *conf, int *ret_fd, struct kura_buf *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int r = kura_conf_parse_listen(conf->http.listen, &ss, &len);
    if (r < 0) {
        kura_buf_addf(err, "invalid listen address '%s'", conf->http.listen);
        return r;
    }
    _cleanup_(kura_closep) int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        return -errno;
    }
    if (ss.ss_family == AF_INET6) {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
        r = -errno;
        kura_buf_addf(err, "cannot listen on %s: %s", conf->http.listen, kura_strerror(r));
        return r;
    }
    *ret_fd = TAKE_FD(fd);
    return 0;
}

static int start_http(struct server *s, struct kura_buf *err)
{
    struct kura_buf cert = KURA_BUF_INIT(1 << 20), key = KURA_BUF_INIT_SECRET(1 << 20);
    int fd = -1;
    int r = read_file_at(s, s->conf->tls.cert_file, false, &cert, err);
    if (r == 0) {
        r = read_file_at(s, s->conf->tls.key_file, true, &key, err);
    }
    if (r == 0) {
        r = open_listener(s->conf, &fd, err);
    }
    static const struct kura_route *const tables[] = {kura_http_builtin_routes,
                                                      kura_api_routes,
                                                      kura_api_me_routes,
                                                      kura_api_admin_routes,
                                                      kura_dav_routes,
                                                      kura_api_files_routes,
#ifdef KURA_TEST_HOOKS
                                                      kura_http_test_routes,
#endif
                                                      NULL};
    if (r == 0) {
        struct kura_http_opts o = {.conf = s->conf,
                                   .listen_fd = fd,
                                   .cert_pem = cert.ptr,
                                   .key_pem = key.ptr,
                                   .tables = tables,
                                   .audit = s->audit,
                                   .app = &s->identity.api};
        r = kura_http_start(&o, &s->http, err);
        if (r < 0) {
            (void)close(fd);
        }
    }
    kura_buf_release(&cert);
    kura_buf_release_wipe(&key);
    return r;
}

/* ---- the admin socket's commands --------------------------------------------------------- */

static json_t *pool_json(struct kura_http_server *http, enum kura_work_pool pool)
{
    struct kura_pool_stats st;
    kura_http_pool_stats(http, pool, &st);
    return json_pack("{s:I,s:I,s:I,s:I}", "threads", (json_int_t)st.threads, "running",
                     (json_int_t)st.running, "queued", (json_int_t)st.queued, "max_running",
                     (json_int_t)st.max_running);
}

/* A CLI command asks the server to record its action: the actor comes from the socket's
 * peer uid, never from the request. */
static int ctl_record(struct server *s, uid_t peer_uid, json_t *req, json_t **ret_reply)
{
    const char *action = json_string_value(json_object_get(req, "action"));
    json_t *detail = json_object_get(req, "detail");
    json_t *result = json_object_get(req, "result");
    if (!action || strncmp(action, "cli.", 4) != 0 || (detail && !json_is_object(detail)) ||
        !json_is_integer(result) || json_integer_value(result) < 0 ||
        json_integer_value(result) > KURA_AUDIT_ERROR) {
        return KURA_ESYNTAX;
    }
    char actor[CLI_ACTOR_MAX];
    KURA_IGNORE(cli_actor_for_uid(peer_uid, actor));
    struct kura_audit_event ev = {.actor = actor,
                                  .action = action,
                                  .object = json_string_value(json_object_get(req, "object")),
                                  .result = (enum kura_audit_result)json_integer_value(result),
                                  .detail = detail};
    uint64_t index;
    int r = kura_audit_emit_sync(s->audit, &ev, &index);
    if (r == 0) {
        *ret_reply = json_pack("{s:I}", "index", (json_int_t)index);
        r = *ret_reply ? 0 : -ENOMEM;
    }
    return r;
}

static int ctl_handler(void *ctx, uid_t peer_uid, const char *cmd, json_t *req, json_t **ret_reply)
{
    struct server *s = ctx;
    if (strcmp(cmd, "audit.record") == 0) {
        return ctl_record(s, peer_uid, req, ret_reply);
    }
    if (strcmp(cmd, "store.keys.reload") == 0) {
        /* kura keys rotate installed a new Crypt4GH key: uploads use it from now on, before
         * any header is re-encrypted to it (store.h, keys.c). */
        int r = kura_store_keys_reload(s->store);
        char id[KURA_STORE_KEY_ID_SIZE];
        kura_store_key_current(s->store, id, NULL);
        if (r < 0) {
            kura_log(KURA_LOG_ERR, "c4gh_keys_reload_failed", "current", id, "error",
                     kura_err_name(r), NULL);
        } else {
            kura_log(KURA_LOG_INFO, "c4gh_keys_reloaded", "current", id, NULL);
        }
        *ret_reply = r == 0 ? json_pack("{s:s}", "key_id", id) : NULL;
        return r < 0 ? r : *ret_reply ? 0 : -ENOMEM;
    }
    if (strcmp(cmd, "status") == 0) {
        *ret_reply = json_pack(
            "{s:s,s:I,s:I,s:I,s:I,s:s,s:o,s:o}", "version", KURA_VERSION, "pid",
            (json_int_t)getpid(), "uptime_ms", (json_int_t)(kura_clock_mono_ms() - s->started_ms),
            "in_flight", (json_int_t)kura_http_in_flight(s->http), "connections",
            (json_int_t)kura_http_connections(s->http), "listen", s->conf->http.listen, "work_pool",
            pool_json(s->http, KURA_POOL_WORK), "hash_pool", pool_json(s->http, KURA_POOL_HASH));
        return *ret_reply ? 0 : -ENOMEM;
    }
#ifdef KURA_TEST_HOOKS
    if (strcmp(cmd, "audit.fail") == 0) {
        /* Tests of fail-closed: every audit write fails (-ENOSPC) until turned off. */
        kura_audit_inject_failure(s->audit, json_is_true(json_object_get(req, "on")));
        *ret_reply = json_object();
        return *ret_reply ? 0 : -ENOMEM;
    }
    if (strcmp(cmd, "audit.delay") == 0) {
        /* Tests of stopping while requests wait for their records: commits held ms each. */
        json_t *ms = json_object_get(req, "ms");
        if (!json_is_integer(ms) || json_integer_value(ms) < 0 || json_integer_value(ms) > 60000) {
            return KURA_ESYNTAX;
        }
        kura_audit_inject_delay(s->audit, (unsigned)json_integer_value(ms));
        *ret_reply = json_object();
        return *ret_reply ? 0 : -ENOMEM;
    }
    if (strcmp(cmd, "clock.shift") == 0) {
        json_t *ms = json_object_get(req, "ms");
        if (!json_is_integer(ms)) {
            return KURA_ESYNTAX;
        }
        kura_clock_shift_ms(json_integer_value(ms));
        *ret_reply = json_pack("{s:I}", "offset_ms", (json_int_t)kura_clock_offset_ms());
        kura_log(KURA_LOG_WARN, "test_clock_shifted", NULL);
        return *ret_reply ? 0 : -ENOMEM;
    }
#endif
    return KURA_ENOTFOUND;
}

/* ---- run and stop ------------------------------------------------------------------------ */

static int wait_for_signal(const sigset_t *set, int64_t timeout_ms)
{
    struct timespec ts = {(time_t)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000000};
    siginfo_t info;
    int sig = sigtimedwait(set, &info, &ts);
    return sig < 0 ? 0 : sig;
}

/* The headers of versions dropped beyond versions_keep leave the write-ahead log within about
 * a second; after a failed checkpoint (readers busy) the next try is 5 s later. */
static void checkpoint_pruned(struct server *s)
{
    int64_t now = kura_clock_mono_ms();
    if (!s->store || now < s->next_checkpoint) {
        return;
    }
    int r = kura_store_checkpoint_pruned(s->store);
    s->next_checkpoint = now + (r < 0 ? 5000 : 1000);
    if (r < 0 && !s->checkpoint_failing) {
        kura_log_err(r, "pruned_headers_checkpoint_failed", "msg",
                     "tried again every 5 s while another process uses the database", NULL);
    } else if (r == 0 && s->checkpoint_failing) {
        kura_log(KURA_LOG_INFO, "pruned_headers_checkpointed", NULL);
    }
    s->checkpoint_failing = r < 0;
}

static void run_until_signal(struct server *s, const sigset_t *set)
{
    for (;;) {
        int sig = wait_for_signal(set, SWEEP_INTERVAL_MS);
        if (sig == SIGTERM || sig == SIGINT) {
            kura_log(KURA_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                     NULL);
            return;
        }
        if (sig == SIGHUP) {
            kura_log(KURA_LOG_INFO, "sighup_ignored", "msg",
                     "configuration reload is not supported; restart kura", NULL);
        }
        kura_http_sweep(s->http);
        (void)kura_store_sweep(s->store);
        checkpoint_pruned(s);
        struct cli_maint m = maint_of(s);
        cli_followers_watch(&s->followers, &m);
        if (kura_clock_mono_ms() >= s->next_maintenance) {
            maintenance(s);
        }
    }
}

/* Returns the number of requests still in flight when it gave up waiting. */
static unsigned drain(struct server *s, const sigset_t *set)
{
    kura_http_quiesce(s->http);
    int64_t deadline = kura_clock_mono_ms() + (int64_t)s->conf->http.shutdown_timeout * 1000;
    while (kura_http_in_flight(s->http) > 0 && kura_clock_mono_ms() < deadline) {
        int sig = wait_for_signal(set, 50);
        if (sig == SIGTERM || sig == SIGINT) {
            kura_log(KURA_LOG_WARN, "stop_forced", "msg", "second signal: not waiting", NULL);
            break;
        }
        kura_http_sweep(s->http);
    }
    return kura_http_in_flight(s->http);
}

/* The last record of a run: written after every request's record. */
static void record_stop(struct server *s, unsigned abandoned)
{
    if (!s->audit) {
        return;
    }
    json_t *detail =
        json_pack("{s:I,s:i}", "uptime_ms", (json_int_t)(kura_clock_mono_ms() - s->started_ms),
                  "abandoned_requests", (int)abandoned);
    struct kura_audit_event ev = {
        .actor = "system", .action = "server.stop", .result = KURA_AUDIT_OK, .detail = detail};
    int r = kura_audit_emit_sync(s->audit, &ev, NULL);
    if (r < 0) {
        kura_log_err(r, "audit_stop_record_failed", NULL);
    }
    json_decref(detail);
}

static void server_release(struct server *s)
{
    s->ctl = kura_ctl_server_stop(s->ctl);
    s->http = kura_http_stop(s->http);
    s->store = kura_store_free(s->store);
    s->purge = cli_purge_opts_free(s->purge);
    s->blob = kura_blob_close(s->blob);
    cli_identity_stop(&s->identity);
    record_stop(s, 0);
    cli_followers_stop(&s->followers);
    s->audit = kura_audit_close(s->audit);
    kura_closep(&s->audit_dirfd);
    s->mailer = kura_mailer_stop(s->mailer);
    kura_closep(&s->spool_dirfd);
    s->meta = kura_meta_close(s->meta);
    s->keys = kura_keyring_free(s->keys);
    s->lock = kura_ctl_lock_release(s->lock);
    s->conf = kura_conf_free(s->conf);
    kura_closep(&s->datafd);
}

static int blob_referenced(void *ctx, const char *id, bool *ret)
{
    return kura_meta_blob_referenced(ctx, id, ret);
}

/* What a crash left: uploads that never finished (tmp/) and blobs whose metadata transaction
 * never committed. At start nothing else writes (the data folder's lock is ours), so no age
 * margin is needed. */
static int collect_orphans(struct server *s)
{
    struct kura_blob_gc tmp = {0}, blobs = {0};
    int r = kura_blob_collect_tmp(s->blob, 0, &tmp);
    r = r == 0 ? kura_blob_collect(s->blob, blob_referenced, s->meta, 0, &blobs) : r;
    if (r == 0 && (tmp.removed || blobs.removed)) {
        char t[KURA_NUM_STR_MAX], b[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_WARN, "orphans_collected", "uploads", kura_fmt_u64(t, tmp.removed),
                 "blobs", kura_fmt_u64(b, blobs.removed), NULL);
    }
    return r;
}

/* The file store: blobs/ and tmp/ in the data folder, headers to the keyring's Crypt4GH key. */
static int start_store(struct server *s, struct kura_buf *err)
{
    char key_id[CLI_KEY_ID_MAX]; /* kura_store_new copies it */
    cli_store_key_id(kura_keyring_c4gh_public_key(s->keys), key_id);
    int r = kura_blob_fs_open(s->datafd, &s->blob);
    r = r == 0 ? collect_orphans(s) : r;
    const struct kura_store_opts o =
        cli_store_opts(s->conf, s->keys, s->meta, s->blob, s->audit, key_id);
    r = r == 0 ? kura_store_new(&o, &s->store) : r;
    if (r == 0) {
        /* Retired Crypt4GH keys (headers a rotation has not reached yet) and later reloads. */
        _cleanup_(kura_closep) int keys =
            openat(s->datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = keys < 0 ? -errno : cli_store_keys_attach(s->store, keys, s->conf, err);
    }
    if (r < 0) {
        kura_buf_addf(err, "cannot open the file store: %s", kura_strerror(r));
    }
    r = r == 0 ? cli_purge_opts_new(s->datafd, s->conf, s->keys, &s->purge, err) : r;
    s->identity.api.store = s->store;
    s->identity.api.conf = s->conf;
    s->identity.api.purge = s->purge;
    return r;
}

/* The outgoing mail spool (DATA/spool) and its sender. */
static int start_mailer(struct server *s, struct kura_buf *err)
{
    if (mkdirat(s->datafd, CLI_SPOOL_DIR, 0700) < 0 && errno != EEXIST) {
        kura_buf_addf(err, "cannot create spool/: %s", kura_strerror(-errno));
        return -errno;
    }
    s->spool_dirfd = openat(s->datafd, CLI_SPOOL_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->spool_dirfd < 0) {
        return -errno;
    }
    return kura_mailer_start(s->spool_dirfd, s->conf, &s->mailer, err);
}

static struct cli_maint maint_of(const struct server *s)
{
    return (struct cli_maint){s->conf,        s->audit,  s->audit_dirfd,      s->meta,
                              s->spool_dirfd, s->mailer, &s->identity.policy, s->store,
                              s->purge};
}

static void maintenance(struct server *s)
{
    struct cli_maint m = maint_of(s);
    cli_maintenance_run(&m);
    s->next_maintenance = kura_clock_mono_ms() + CLI_MAINTENANCE_EVERY_MS;
}

/* server.start: version, pid, whether the previous run ended without closing the log. */
static int record_start(struct server *s, struct kura_buf *err)
{
    bool unclean;
    uint64_t cut;
    kura_audit_recovery(s->audit, &unclean, &cut);
    if (unclean) {
        kura_log(KURA_LOG_WARN, "start_after_unclean_stop", NULL);
    }
    json_t *detail = json_pack("{s:s,s:I,s:b,s:I,s:s,s:b}", "version", KURA_VERSION, "pid",
                               (json_int_t)getpid(), "unclean_stop", unclean, "cut_bytes",
                               (json_int_t)cut, "listen", s->conf->http.listen, "test_hooks",
#ifdef KURA_TEST_HOOKS
                               1
#else
                               0
#endif
    );
    struct kura_audit_event ev = {
        .actor = "system", .action = "server.start", .result = KURA_AUDIT_OK, .detail = detail};
    int r = kura_audit_emit_sync(s->audit, &ev, NULL);
    json_decref(detail);
    if (r == 0) {
        r = cli_config_event(s->audit, s->meta, s->conf, "system");
    }
    if (r < 0) {
        kura_buf_addf(err, "cannot write the audit log: %s", kura_strerror(r));
    }
    return r;
}

static int start(struct server *s, const char *listen, struct kura_buf *err)
{
    int r = cli_data_open(s->data, &s->datafd, err);
    if (r == 0) {
        r = load_conf(s, listen, err);
    }
    if (r == 0) {
        r = take_lock(s, err);
    }
    if (r == 0) {
        r = load_keys(s, err);
    }
    if (r == 0) {
        r = open_meta(s, err);
    }
    if (r == 0) {
        r = cli_audit_open(s->datafd, s->conf, s->keys, true, &s->audit, err);
    }
    if (r == 0) {
        r = record_start(s, err);
    }
    if (r == 0) {
        r = cli_identity_start(&s->identity, s->conf, s->meta, s->keys, s->audit, err);
    }
    if (r == 0) {
        s->audit_dirfd = openat(s->datafd, CLI_AUDIT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = s->audit_dirfd < 0 ? -errno : 0;
    }
    if (r == 0) {
        r = start_mailer(s, err);
    }
    if (r == 0) {
        /* The followers read the log through their own descriptor (audit_dirfd). */
        struct cli_maint m = maint_of(s);
        r = cli_followers_start(&s->followers, &m, err);
    }
    if (r == 0) {
        r = start_store(s, err);
    }
    if (r == 0) {
        r = start_http(s, err);
    }
    if (r == 0) {
        r = kura_ctl_server_start(s->datafd, ctl_handler, s, &s->ctl);
        if (r < 0) {
            kura_buf_addf(err, "cannot open the admin socket in '%s': %s", s->data,
                          kura_strerror(r));
        }
    }
    return r;
}

int cli_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *listen = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (c == 'l') {
            listen = optarg;
        } else {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
    }
    if (!data || optind != argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    harden_process();
    /* Block the signals before any thread exists, so every thread inherits the mask and only
     * sigtimedwait in this thread receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
    if (kura_crypto_init() < 0) {
        cli_error("serve", "cannot initialise libsodium");
        return CLI_EXIT_FAIL;
    }
#ifdef KURA_TEST_HOOKS
    /* Tests of time passing while the server was stopped (retention, digests). */
    const char *offset = getenv("KURA_TEST_CLOCK_OFFSET_MS");
    uint64_t off;
    if (offset && kura_parse_u64(offset, strlen(offset), INT64_MAX, &off) == 0) {
        kura_clock_shift_ms((int64_t)off);
    }
#endif
    struct server s = {.data = data,
                       .datafd = -1,
                       .audit_dirfd = -1,
                       .spool_dirfd = -1,
                       .started_ms = kura_clock_mono_ms()};
    struct kura_buf err = KURA_BUF_INIT(16384);
    int r = start(&s, listen, &err);
    if (r < 0) {
        cli_error("serve", "%s", err.len ? err.ptr : kura_strerror(r));
        kura_buf_release(&err);
        server_release(&s);
        return CLI_EXIT_FAIL;
    }
    kura_buf_release(&err);
    kura_log(KURA_LOG_INFO, "listening", "url", s.conf->http.public_url, "addr",
             s.conf->http.listen, "version", KURA_VERSION,
#ifdef KURA_TEST_HOOKS
             "test_hooks", "enabled",
#endif
             NULL);
    run_until_signal(&s, &set);
    unsigned left = drain(&s, &set);
    if (left > 0) {
        /* Requests still running past the deadline (or after a second signal) are abandoned:
         * their jobs may be blocked for a long time, and MHD cannot stop while their
         * connections are suspended. Every store write is crash-safe (temporary file, fsync,
         * rename), so ending now is no worse than a power cut for them. _exit skips atexit
         * handlers and library destructors that would race the still-running threads. */
        char n[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_WARN, "stop_abandoned_requests", "count", kura_fmt_u64(n, left), NULL);
        s.ctl = kura_ctl_server_stop(s.ctl);
        record_stop(&s, left);
        cli_followers_stop(&s.followers);
        s.audit = kura_audit_close(s.audit);
        s.lock = kura_ctl_lock_release(s.lock);
        kura_log(KURA_LOG_INFO, "stopped", NULL);
        _exit(CLI_EXIT_OK);
    }
    server_release(&s);
    kura_log(KURA_LOG_INFO, "stopped", NULL);
    return CLI_EXIT_OK;
}
