/* cli — the `kura` command: one binary, subcommands like git's.
 *
 * Exit status: 0 success, 1 failure or refusal (with a message on stderr naming what and why),
 * 2 usage error. Messages follow docs/style.md item 32: "kura <command>: what failed: why".
 * Secrets never appear on the command line: passwords are read from files or stdin.
 */
#pragma once

#include <jansson.h>
#include <sys/types.h>

#include "audit/audit.h"
#include "base/base.h"
#include "conf/conf.h"
#include "crypto/crypto.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Entry point: dispatches argv[1]. */
int kura_cli_main(int argc, char **argv);

/* Subcommands (each parses its own options; argv[0] is the subcommand name). */
int cli_init(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_config(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_alerts(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_audit_rotate_key(int argc, char **argv);
/* fsck.c, keys.c (list | rotate | prune), export.c */
int cli_fsck(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_files(int argc, char **argv);              /* files.c: trash | restore | versions | ... */
int cli_purge(int argc, char **argv);              /* files.c */
int cli_verify_certificate(int argc, char **argv); /* files.c */
/* Reads keys/audit-retired.pub (absent: none) into a new array, oldest first. */
KURA_MUST_CHECK int cli_audit_retired_read(int keys_fd, uint8_t (**ret)[KURA_SIGN_PUBLIC_KEY_BYTES],
                                           size_t *ret_n, struct kura_buf *err);
#ifdef KURA_TEST_HOOKS
int cli_debug(int argc, char **argv);
#endif

/* Prints "kura <cmd>: <message>\n" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) KURA_PRINTF(2, 3);

/* Data-folder layout. */
#define CLI_CONF_NAME "kura.conf"
#define CLI_DB_NAME "kura.db"
#define CLI_KEYS_DIR "keys"
#define CLI_AUDIT_RETIRED "audit-retired.pub" /* in keys/: audit keys rotated away from */
#define CLI_INSTALL_ID_NAME "install-id"
#define CLI_INIT_MARKER ".kura-init" /* present while `kura init` is still writing */
#define CLI_AUDIT_DIR "audit"
#define CLI_ACTOR_MAX 300

/* Opens an existing data folder and checks that it is one: a directory owned by this user with
 * no group or other permissions, holding kura.conf and install-id, not half-initialised. On
 * failure returns a negative code and appends the reason (with the remedy) to err. */
KURA_MUST_CHECK int cli_data_open(const char *path, int *ret_fd, struct kura_buf *err);

/* Removes name below dirfd and everything in it (for undoing what kura itself created). */
void cli_remove_tree(int parent, const char *name);

/* Joins DATA and a name relative to it for libraries that want a path (SQLite). */
KURA_MUST_CHECK int cli_data_path(const char *data, const char *name, struct kura_buf *ret);

/* ---- events.c: what the CLI and the server record about themselves -------------------------- */

struct kura_meta;

/* "cli:<user name>" (or "cli:uid-<n>") for a uid. */
int cli_actor_for_uid(uid_t uid, char ret[static CLI_ACTOR_MAX]);
/* The install id from DATA/install-id. */
KURA_MUST_CHECK int cli_read_install_id(int datafd, char ret[static 40]);
/* Opens DATA/audit (creating it) with its origin; thread: a writer thread (the server) or
 * synchronous use (a CLI command holding the writer lock). */
KURA_MUST_CHECK int cli_audit_open(int datafd, const struct kura_conf *conf,
                                   const struct kura_keyring *kr, bool thread,
                                   struct kura_audit **ret, struct kura_buf *err);
/* Records config.change when the non-default settings differ from the last start's (and at
 * the first start), and remembers them. */
KURA_MUST_CHECK int cli_config_event(struct kura_audit *a, struct kura_meta *m,
                                     const struct kura_conf *conf, const char *actor);
/* Records a CLI action with actor cli:<os user>: through the running server's admin socket, or
 * under the writer lock when no server runs. */
KURA_MUST_CHECK int cli_record_action(const char *data, const char *action, const char *object,
                                      json_t *detail, enum kura_audit_result result,
                                      struct kura_buf *err);
/* The same, by this process, which already holds the writer lock (or creates the folder). */
/* cli_record_action for a command that has already done its work: a failure to record is
 * reported on stderr as a warning naming cmd. */
void cli_record_or_warn(const char *cmd, const char *data, const char *action, const char *object,
                        json_t *detail, bool ok);
KURA_MUST_CHECK int cli_record_locally(int datafd, const char *data, const char *action,
                                       const char *object, json_t *detail,
                                       enum kura_audit_result result, struct kura_buf *err);

/* ---- identity.c: logins and the JSON API in the server ------------------------------------- */

#include "api/api.h"
#include "auth/policy.h"

struct cli_identity {
    struct kura_password_policy policy;
    struct kura_pwhash_params params;
    uint8_t *secrets; /* sodium_malloc: the derived seal and MAC keys */
    struct kura_throttle *by_source, *by_id;
    struct kura_cidr exempt[KURA_CONF_MAX_PROXIES];
    size_t nexempt;
    struct kura_auth_service service;
    struct kura_api api;
};

/* Resolves the password policy and runs the compliance lint (refusing errors unless
 * overridden, recording an override), checks the dictionary, derives the keys and builds the
 * service. */
KURA_MUST_CHECK int cli_identity_start(struct cli_identity *id, const struct kura_conf *conf,
                                       struct kura_meta *meta, const struct kura_keyring *kr,
                                       struct kura_audit *audit, struct kura_buf *err);
void cli_identity_stop(struct cli_identity *id);
/* The key app passwords, recovery codes and sealed credentials are HMACed with, as the server
 * derives it from the keyring's pepper. The caller wipes it. */
KURA_MUST_CHECK int cli_identity_mac_key(const struct kura_keyring *kr, uint8_t ret[static 32]);

/* ---- maintenance.c: scheduled work of the server ----------------------------------------- */

struct kura_mailer;

struct cli_maint {
    const struct kura_conf *conf;
    struct kura_audit *audit;
    int audit_dirfd;
    struct kura_meta *meta;
    int spool_dirfd;
    struct kura_mailer *mailer;
    const struct kura_password_policy *policy; /* for account hygiene; NULL: skip it */
    struct kura_store *store;                  /* for the trash purge; NULL: skip it */
    const struct kura_purge_opts *purge;
};

#define CLI_MAINTENANCE_EVERY_MS (60LL * 60 * 1000)
#define CLI_SPOOL_DIR "spool"

/* Retention, the search window, the daily digest, account hygiene (see maintenance.c). */
void cli_maintenance_run(const struct cli_maint *m);

/* ---- followers.c: the threads that follow the audit log ------------------------------------ */

struct kura_audit_indexer;
struct kura_alerter;
struct kura_syslog;

struct cli_followers {
    struct kura_audit_indexer *indexer; /* the search index */
    struct kura_alerter *alerter;       /* alert rules, grouped mail */
    struct kura_syslog *syslog;         /* the syslog witness */
    uint64_t syslog_confirmed;          /* the forwarder's progress at the last look */
    int64_t syslog_stalled_since;       /* mono ms since when it has not progressed; 0 */
    bool syslog_alerted;                /* this stall has raised its alert */
};

/* Starts the search indexer, the alerter and the syslog forwarder (each reads audit_dirfd). */
KURA_MUST_CHECK int cli_followers_start(struct cli_followers *f, const struct cli_maint *m,
                                        struct kura_buf *err);
/* Raises syslog_failing when records have waited [syslog] alert_after unconfirmed. Called by
 * the server's main loop. */
void cli_followers_watch(struct cli_followers *f, const struct cli_maint *m);
/* Stops them (the forwarder first sends what it can); before the audit log closes. */
void cli_followers_stop(struct cli_followers *f);

/* ---- the file store from the CLI (store-open.c) ---------------------------------------------- */

struct kura_blob;
struct kura_store;
struct kura_store_opts;
#define CLI_KEY_ID_MAX 24 /* "c4gh:" + 16 hex + NUL */

/* The id recorded with every Crypt4GH header: "c4gh:" + the first 8 bytes of SHA-256(pk), hex. */
void cli_store_key_id(const uint8_t pk[32], char ret[static CLI_KEY_ID_MAX]);

/* What kura serve and the CLI give the store (audit may be NULL). */
struct kura_store_opts cli_store_opts(const struct kura_conf *conf, const struct kura_keyring *kr,
                                      struct kura_meta *meta, struct kura_blob *blob,
                                      struct kura_audit *audit, const char *key_id);

/* A data folder's store opened beside or without a running server (SQLite allows a second
 * writer; blobs are immutable). Close with cli_store_close, also after a failure. */
struct cli_store {
    int datafd;
    struct kura_conf *conf;
    struct kura_meta *meta;
    struct kura_keyring *keys;
    struct kura_blob *blob;
    struct kura_store *store;
    char key_id[CLI_KEY_ID_MAX];
};
KURA_MUST_CHECK int cli_store_open(const char *data, struct cli_store *ret, struct kura_buf *err);
void cli_store_close(struct cli_store *c);

/* ---- files.c: how purges certify ------------------------------------------------------------ */

struct kura_purge_opts;
/* The keyring's signing key (borrowed: kr must outlive the options), the install id, [store]
 * backup_retention_days and DATA/certificates (created 0700). Free with cli_purge_opts_free. */
KURA_MUST_CHECK int cli_purge_opts_new(int datafd, const struct kura_conf *conf,
                                       const struct kura_keyring *kr, struct kura_purge_opts **ret,
                                       struct kura_buf *err);
struct kura_purge_opts *cli_purge_opts_free(struct kura_purge_opts *o);

/* The passphrase of keys/c4gh.sec: from [keys] passphrase_file, else from the systemd credential
 * $CREDENTIALS_DIRECTORY/kura-c4gh-passphrase, else none (*ret NULL). The file must be ours and
 * closed to group and others (KURA_EKEYMODE). *ret is sodium_malloc'ed: sodium_free wipes it. */
#define CLI_C4GH_CREDENTIAL "kura-c4gh-passphrase"
KURA_MUST_CHECK int cli_c4gh_passphrase(const struct kura_conf *conf, char **ret,
                                        struct kura_buf *err);
/* The same checks and reading for one given file (kura init --c4gh-passphrase-file). */
KURA_MUST_CHECK int cli_read_passphrase_file(const char *path, char **ret, struct kura_buf *err);
/* kura_keyring_load with that passphrase. */
KURA_MUST_CHECK int cli_keyring_load(int keys_fd, const struct kura_conf *conf,
                                     struct kura_keyring **ret, struct kura_buf *err);
/* kura_store_keys_attach with that passphrase. */
KURA_MUST_CHECK int cli_store_keys_attach(struct kura_store *st, int keys_fd,
                                          const struct kura_conf *conf, struct kura_buf *err);
