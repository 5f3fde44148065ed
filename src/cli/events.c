/* events.c — what the CLI and the server record in the audit log about themselves: the log's
 * opening, configuration changes between starts, and CLI actions.
 *
 * A CLI action is recorded by whoever may write the data folder (ctl.h): the running server,
 * asked over the admin socket (it names the actor from the socket's peer uid, never from what
 * the client claims), or, when no server runs, the CLI itself under the writer lock.
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "meta/meta.h"

#define CONFIG_PROPERTY "config_nondefault"

int cli_actor_for_uid(uid_t uid, char ret[static CLI_ACTOR_MAX])
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
        (void)snprintf(ret, CLI_ACTOR_MAX, "cli:%s", res->pw_name);
    } else {
        (void)snprintf(ret, CLI_ACTOR_MAX, "cli:uid-%u", (unsigned)uid);
    }
    return 0;
}

int cli_read_install_id(int datafd, char ret[static 40])
{
    struct kura_buf b = KURA_BUF_INIT(64);
    int r = kura_file_read_all(datafd, CLI_INSTALL_ID_NAME, &b);
    if (r == 0) {
        while (b.len > 0 && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == ' ')) {
            b.len--;
        }
        r = b.len == 36 ? 0 : KURA_ECORRUPT;
    }
    if (r == 0) {
        memcpy(ret, b.ptr, 36);
        ret[36] = '\0';
    }
    kura_buf_release(&b);
    return r;
}

int cli_audit_open(int datafd, const struct kura_conf *conf, const struct kura_keyring *kr,
                   bool thread, struct kura_audit **ret, struct kura_buf *err)
{
    if (mkdirat(datafd, CLI_AUDIT_DIR, 0700) < 0 && errno != EEXIST) {
        kura_buf_addf(err, "cannot create audit/: %s", kura_strerror(-errno));
        return -errno;
    }
    int dirfd = openat(datafd, CLI_AUDIT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dirfd < 0) {
        kura_buf_addf(err, "cannot open audit/: %s", kura_strerror(-errno));
        return -errno;
    }
    char install_id[40], origin[KURA_AUDIT_ORIGIN_MAX];
    int r = cli_read_install_id(datafd, install_id);
    if (r == 0) {
        r = kura_audit_origin(dirfd, conf, install_id, origin);
    }
    if (r == 0) {
        struct kura_audit_opts o = {dirfd, kura_keyring_audit_key(kr), origin, conf, thread};
        r = kura_audit_open(&o, ret, err);
    }
    if (r < 0) {
        (void)close(dirfd);
        if (err->len == 0) {
            kura_buf_addf(err, "cannot open the audit log: %s", kura_strerror(r));
        }
        return r;
    }
    return 0; /* the log owns dirfd from here (kura_audit_opts) */
}

/* ---- configuration changes ------------------------------------------------------------------- */

static int collect_nondefault(void *ctx, const char *section, const char *key, const char *value,
                              bool is_default)
{
    if (!is_default) {
        char name[128];
        (void)snprintf(name, sizeof(name), "%s.%s", section, key);
        return json_object_set_new(ctx, name, json_string(value)) < 0 ? -ENOMEM : 0;
    }
    return 0;
}

/* Keys whose value differs between two maps of non-default values (absent = the default). */
static json_t *diff(json_t *before, json_t *after)
{
    json_t *changed = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(after, k, v)
    {
        json_t *old = json_object_get(before, k);
        if (!old || !json_equal(old, v)) {
            json_object_set_new(changed, k, json_pack("{s:O?,s:O}", "before", old, "after", v));
        }
    }
    json_object_foreach(before, k, v)
    {
        if (!json_object_get(after, k)) {
            json_object_set_new(changed, k,
                                json_pack("{s:O,s:s}", "before", v, "after", "(default)"));
        }
    }
    return changed;
}

int cli_config_event(struct kura_audit *a, struct kura_meta *m, const struct kura_conf *conf,
                     const char *actor)
{
    json_t *now = json_object();
    int r = now ? kura_conf_foreach(conf, collect_nondefault, now) : -ENOMEM;
    char *stored = NULL;
    json_t *before = NULL;
    if (r == 0) {
        r = kura_meta_install_get(m, CONFIG_PROPERTY, &stored);
        if (r == KURA_ENOTFOUND) {
            r = 0;
        }
    }
    if (r == 0) {
        before = stored ? json_loads(stored, 0, NULL) : NULL;
        before = before ? before : json_object(); /* first start, or unreadable: all new */
    }
    json_t *changed = r == 0 && before ? diff(before, now) : NULL;
    if (r == 0 && changed && (json_object_size(changed) > 0 || !stored)) {
        json_t *detail = json_pack("{s:b,s:O}", "first", !stored, "changed", changed);
        struct kura_audit_event ev = {.actor = actor,
                                      .action = "config.change",
                                      .object = "kura.conf",
                                      .result = KURA_AUDIT_OK,
                                      .detail = detail};
        r = kura_audit_emit_sync(a, &ev, NULL);
        json_decref(detail);
        char *text = r == 0 ? json_dumps(now, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (text) {
            r = kura_meta_install_set(m, CONFIG_PROPERTY, text);
            free(text);
        }
    }
    json_decref(changed);
    json_decref(before);
    json_decref(now);
    kura_free(stored);
    return r;
}

/* ---- CLI actions --------------------------------------------------------------------------- */

int cli_record_action(const char *data, const char *action, const char *object, json_t *detail,
                      enum kura_audit_result result, struct kura_buf *err)
{
    int datafd = -1;
    int r = cli_data_open(data, &datafd, err);
    if (r < 0) {
        return r;
    }
    struct kura_ctl_lock *lock = NULL;
    pid_t holder = 0;
    r = kura_ctl_lock_take(datafd, &lock, &holder);
    if (r == KURA_ELOCKED) {
        /* A server holds the folder: it records the action, naming us from our uid. */
        json_t *req = json_pack("{s:s,s:s,s:s?,s:O?,s:i}", "cmd", "audit.record", "action", action,
                                "object", object, "detail", detail, "result", (int)result);
        json_t *reply = NULL;
        r = req ? kura_ctl_call(datafd, req, &reply, err) : -ENOMEM;
        json_decref(req);
        json_decref(reply);
    } else if (r == 0) {
        r = cli_record_locally(datafd, data, action, object, detail, result, err);
        kura_ctl_lock_release(lock);
    }
    (void)close(datafd);
    return r;
}

void cli_record_or_warn(const char *cmd, const char *data, const char *action, const char *object,
                        json_t *detail, bool ok)
{
    struct kura_buf err = KURA_BUF_INIT(4096);
    int r = cli_record_action(data, action, object, detail, ok ? KURA_AUDIT_OK : KURA_AUDIT_ERROR,
                              &err);
    if (r < 0) {
        cli_error(cmd, "warning: this action could not be recorded in the audit log: %s",
                  err.len ? err.ptr : kura_strerror(r));
    }
    kura_buf_release(&err);
}

int cli_record_locally(int datafd, const char *data, const char *action, const char *object,
                       json_t *detail, enum kura_audit_result result, struct kura_buf *err)
{
    struct kura_buf path = KURA_BUF_INIT(8192);
    struct kura_conf *conf = NULL;
    struct kura_keyring *kr = NULL;
    struct kura_audit *a = NULL;
    int r = cli_data_path(data, CLI_CONF_NAME, &path);
    if (r == 0) {
        r = kura_conf_load(path.ptr, &conf, err);
    }
    int keys = r == 0 ? openat(datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (r == 0) {
        r = keys < 0 ? -errno : cli_keyring_load(keys, conf, &kr, err);
    }
    if (keys >= 0) {
        (void)close(keys);
    }
    if (r == 0) {
        r = cli_audit_open(datafd, conf, kr, false, &a, err);
    }
    if (r == 0) {
        char actor[CLI_ACTOR_MAX];
        KURA_IGNORE(cli_actor_for_uid(getuid(), actor));
        struct kura_audit_event ev = {
            .actor = actor, .action = action, .object = object, .result = result, .detail = detail};
        r = kura_audit_emit_sync(a, &ev, NULL);
        if (r < 0) {
            kura_buf_addf(err, "cannot write the audit log: %s", kura_strerror(r));
        }
    }
    kura_audit_close(a);
    kura_keyring_free(kr);
    kura_conf_free(conf);
    kura_buf_release(&path);
    return r;
}
