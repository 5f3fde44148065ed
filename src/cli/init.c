/* init.c — `kura init`: create a data folder with its configuration, keys, database, install id
 * and first administrator.
 *
 * Safety: a folder that exists and is not empty is never touched unless it is already a kura
 * data folder (then init refuses, also without touching it). While init writes, a marker file
 * .kura-init exists; it is removed last, so a folder whose init was interrupted is recognised
 * (serve and init both refuse it) instead of being used half-made.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "conf/conf.h"
#include "crypto/crypto.h"
#include "meta/meta.h"

struct init_opts {
    const char *data;
    const char *admin;
    const char *password_file;
    const char *profile;
    const char *break_glass;      /* an emergency account with a sealed credential, or NULL */
    const char *break_glass_file; /* its envelope's text goes here (0600) instead of stdout */
    const char *passphrase_file;  /* protects keys/c4gh.sec; recorded in kura.conf */
    char *passphrase;             /* read from it (sodium_malloc'ed) */
};

/* Secrets init generates and hands out once. */
struct init_secrets {
    char otp[KURA_PASSWORD_GEN_LEN + 1];
    char bg_otp[KURA_PASSWORD_GEN_LEN + 1];
    char bg_code[KURA_BREAK_GLASS_CODE_MAX + 1];
};

/* How long the envelope opens the emergency account: a working day's emergency. */
#define INIT_BREAK_GLASS_MINUTES 240

static void usage(FILE *f)
{
    (void)fputs("usage: kura init --data DIR [--admin ID] [--admin-password-file FILE] "
                "[--profile NAME]\n"
                "                 [--break-glass ID [--break-glass-file FILE]]\n"
                "                 [--c4gh-passphrase-file FILE]\n"
                "  Creates the data folder DIR (mode 0700) with kura.conf, keys/, the database\n"
                "  and the first administrator. The administrator's one-time password is printed\n"
                "  once, or written to FILE (mode 0600, must not exist). ID defaults to the name\n"
                "  of the invoking OS user. NAME is a password policy profile (see\n"
                "  docs/configuration.md), default kura-default.\n"
                "  --break-glass ID also creates the emergency administrator ID, disabled, and\n"
                "  prints its envelope once (or writes it to FILE, 0600): its one-time password\n"
                "  and a sealed credential that enables it alone, once, for 240 minutes, when\n"
                "  two administrators cannot be reached. Print it and keep it offline.\n"
                "  --c4gh-passphrase-file FILE (absolute, 0600) encrypts keys/c4gh.sec with the\n"
                "  passphrase in FILE (scrypt) and records FILE as [keys] passphrase_file.\n",
                f);
}

/* 0 = empty, 1 = not empty, negative = error. */
static int dir_state(int fd)
{
    int dup_fd = dup(fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0) {
            (void)close(dup_fd);
        }
        return -errno;
    }
    int state = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            state = 1;
            break;
        }
    }
    closedir(d);
    return state;
}

/* Opens DIR, creating it if absent; refuses a non-empty folder. */
static int open_target(const char *path, int *ret_fd, bool *ret_created, struct kura_buf *err)
{
    bool created = false;
    if (mkdir(path, 0700) == 0) {
        created = true;
    } else if (errno != EEXIST) {
        kura_buf_addf(err, "cannot create '%s': %s", path, kura_strerror(-errno));
        return -errno;
    }
    _cleanup_(kura_closep) int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        kura_buf_addf(err, "cannot open '%s': %s", path, kura_strerror(-errno));
        return -errno;
    }
    int state = dir_state(fd);
    if (state < 0) {
        kura_buf_addf(err, "cannot read '%s': %s", path, kura_strerror(state));
        return state;
    }
    if (state == 1) {
        struct stat st;
        if (fstatat(fd, CLI_CONF_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            fstatat(fd, CLI_INSTALL_ID_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            kura_buf_addf(err, "'%s' is already a kura data folder; nothing changed", path);
            return KURA_EEXIST;
        }
        kura_buf_addf(err, "'%s' is not empty and not a kura data folder; refusing to touch it",
                      path);
        return KURA_ENOTKURA;
    }
    if (!created && fchmod(fd, 0700) < 0) {
        kura_buf_addf(err, "cannot set mode 0700 on '%s': %s", path, kura_strerror(-errno));
        return -errno;
    }
    *ret_fd = TAKE_FD(fd);
    *ret_created = created;
    return 0;
}

static int write_conf(int fd, const char *profile, const char *passphrase_file,
                      struct kura_buf *err)
{
    _cleanup_(kura_conf_freep) struct kura_conf *c = kura_conf_new();
    if (!c) {
        return -ENOMEM;
    }
    int r = profile ? kura_conf_set(c, "password", "profile", profile, err) : 0;
    if (r == 0 && passphrase_file) {
        r = kura_conf_set(c, "keys", "passphrase_file", passphrase_file, err);
    }
    if (r < 0) {
        return r;
    }
    struct kura_buf text = KURA_BUF_INIT(1 << 20);
    r = kura_conf_write(c, &text);
    if (r == 0) {
        r = kura_file_write_atomic(fd, CLI_CONF_NAME, text.ptr, text.len, 0600);
    }
    kura_buf_release(&text);
    if (r < 0 && !err->len) {
        kura_buf_addf(err, "cannot write %s: %s", CLI_CONF_NAME, kura_strerror(r));
    }
    return r;
}

static int write_keys(int fd, const char *passphrase, struct kura_buf *err)
{
    if (mkdirat(fd, CLI_KEYS_DIR, 0700) < 0) {
        kura_buf_addf(err, "cannot create keys/: %s", kura_strerror(-errno));
        return -errno;
    }
    _cleanup_(kura_closep) int keys =
        openat(fd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (keys < 0) {
        return -errno;
    }
    /* The self-signed certificate names every way a local browser reaches kura; the public
     * name is added when public_url is set to one (kura cert commands come later). */
    static const char *const names[] = {"localhost"};
    static const char *const ips[] = {"127.0.0.1", "::1"};
    struct kura_keyring_create_opts o = {.passphrase = passphrase,
                                         .tls_dns_names = names,
                                         .n_tls_dns_names = 1,
                                         .tls_ips = ips,
                                         .n_tls_ips = 2};
    return kura_keyring_create(keys, &o, err);
}

/* A random RFC 9562 version-4 UUID. */
static int make_install_id(char out[37])
{
    uint8_t u[16];
    int r = kura_random(u, sizeof(u));
    if (r < 0) {
        return r;
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char hex[33];
    kura_hex_encode(hex, u, sizeof(u));
    (void)snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
                   hex + 20);
    return 0;
}

/* The emergency administrator: created, designated (so disabled), and sealed. */
static int make_emergency(const struct init_opts *o, struct kura_meta *m,
                          const struct kura_keyring *kr, struct init_secrets *sec,
                          struct kura_buf *err)
{
    char actor[CLI_ACTOR_MAX];
    uint8_t key[32];
    int r = cli_actor_for_uid(getuid(), actor);
    const struct kura_auth_change c = {actor, "emergency account created by kura init", NULL,
                                       kura_clock_wall_ms()};
    r = r == 0 ? kura_auth_create_admin(m, o->break_glass, &kura_pwhash_params_default,
                                        kura_keyring_pepper(kr), sec->bg_otp, sizeof(sec->bg_otp))
               : r;
    r = r == 0 ? kura_auth_break_glass_designate(m, &c, o->break_glass) : r;
    r = r == 0 ? cli_identity_mac_key(kr, key) : r;
    r = r == 0 ? kura_auth_break_glass_seal(m, &c, key, o->break_glass, INIT_BREAK_GLASS_MINUTES,
                                            sec->bg_code)
               : r;
    sodium_memzero(key, sizeof(key));
    if (r < 0) {
        kura_buf_addf(err, "cannot create emergency account '%s': %s", o->break_glass,
                      kura_strerror(r));
    }
    return r;
}

/* Database: schema, install properties, first administrator. */
static int write_db(const struct init_opts *o, int fd, const char *install_id,
                    struct init_secrets *sec, struct kura_buf *err)
{
    struct kura_buf path = KURA_BUF_INIT(8192);
    int r = cli_data_path(o->data, CLI_DB_NAME, &path);
    _cleanup_(kura_meta_closep) struct kura_meta *m = NULL;
    if (r == 0) {
        r = kura_meta_open("sqlite", path.ptr, KURA_META_CREATE, &m);
    }
    kura_buf_release(&path);
    if (r == 0) {
        r = kura_meta_migrate(m);
    }
    char now[KURA_TIME_STR_MAX];
    kura_clock_format(kura_clock_wall_ms(), now);
    if (r == 0) {
        r = kura_meta_install_set(m, "install_id", install_id);
    }
    if (r == 0) {
        r = kura_meta_install_set(m, "created_at", now);
    }
    if (r < 0) {
        kura_buf_addf(err, "cannot create the database: %s", kura_strerror(r));
        return r;
    }
    _cleanup_(kura_closep) int keys =
        openat(fd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    _cleanup_(kura_keyring_freep) struct kura_keyring *kr = NULL;
    r = keys < 0 ? -errno : kura_keyring_load(keys, o->passphrase, &kr, err);
    if (r < 0) {
        return r;
    }
    r = kura_auth_create_admin(m, o->admin, &kura_pwhash_params_default, kura_keyring_pepper(kr),
                               sec->otp, sizeof(sec->otp));
    if (r < 0) {
        kura_buf_addf(err, "cannot create administrator '%s': %s", o->admin, kura_strerror(r));
    }
    return r == 0 && o->break_glass ? make_emergency(o, m, kr, sec, err) : r;
}

/* The emergency account's envelope: on stdout, or in a new 0600 file. */
static int hand_out_envelope(const struct init_opts *o, const struct init_secrets *sec,
                             struct kura_buf *err)
{
    char text[512];
    int n = snprintf(text, sizeof(text),
                     "kura emergency account / 非常用アカウント: %s\n"
                     "one-time password / 初回パスワード: %s\n"
                     "sealed credential / 封緘コード: %s\n"
                     "use / 使い方: POST /api/v1/break-glass/unseal {\"user\",\"code\"} or "
                     "kura user break-glass %s --unseal; then log in (enabled %d minutes, once)\n",
                     o->break_glass, sec->bg_otp, sec->bg_code, o->break_glass,
                     INIT_BREAK_GLASS_MINUTES);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return -EOVERFLOW;
    }
    int r = 0;
    if (!o->break_glass_file) {
        (void)fputs(text, stdout);
    } else {
        _cleanup_(kura_closep) int fd =
            open(o->break_glass_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        r = fd < 0 ? -errno : write(fd, text, (size_t)n) != n || fsync(fd) < 0 ? -errno : 0;
        if (r < 0) {
            kura_buf_addf(err, "cannot write '%s' (it must not exist yet): %s", o->break_glass_file,
                          kura_strerror(r));
            if (fd >= 0) {
                (void)unlink(o->break_glass_file);
            }
        } else {
            (void)printf("kura: emergency account %s (envelope written to %s)\n", o->break_glass,
                         o->break_glass_file);
        }
    }
    kura_wipe(text, sizeof(text));
    return r;
}

/* Delivers the one-time password: to a new 0600 file, or once on stdout. */
static int hand_out_password(const struct init_opts *o, const char *otp, struct kura_buf *err)
{
    if (!o->password_file) {
        (void)printf("kura: first administrator: %s\n"
                     "kura: one-time password (shown once; change it at first login): %s\n",
                     o->admin, otp);
        return 0;
    }
    _cleanup_(kura_closep) int fd =
        open(o->password_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        kura_buf_addf(err, "cannot create '%s' (it must not exist yet): %s", o->password_file,
                      kura_strerror(-errno));
        return -errno;
    }
    size_t len = strlen(otp);
    if (write(fd, otp, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
        kura_buf_addf(err, "cannot write '%s': %s", o->password_file, kura_strerror(-errno));
        return -errno;
    }
    (void)printf("kura: first administrator: %s (one-time password written to %s)\n", o->admin,
                 o->password_file);
    return 0;
}

/* Removes what a failed init wrote, so that the folder is left as init found it (empty, or
 * absent when init created it). Only names init itself creates are removed. */
static void undo_init(int fd, const char *path, bool created)
{
    static const char *const files[] = {CLI_CONF_NAME, CLI_DB_NAME,       "kura.db-wal",
                                        "kura.db-shm", "kura.db-journal", CLI_INSTALL_ID_NAME};
    int keys = openat(fd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d = keys >= 0 ? fdopendir(keys) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            (void)unlinkat(keys, e->d_name, 0);
        }
    }
    if (d) {
        closedir(d);
    } else if (keys >= 0) {
        (void)close(keys);
    }
    (void)unlinkat(fd, CLI_KEYS_DIR, AT_REMOVEDIR);
    cli_remove_tree(fd, CLI_AUDIT_DIR);
    for (size_t i = 0; i < KURA_ARRAY_SIZE(files); i++) {
        (void)unlinkat(fd, files[i], 0);
    }
    (void)unlinkat(fd, CLI_INIT_MARKER, 0);
    if (created) {
        (void)rmdir(path);
    }
}

static int run_init(const struct init_opts *o, struct kura_buf *err)
{
    _cleanup_(kura_closep) int fd = -1;
    bool created = false;
    int r = open_target(o->data, &fd, &created, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(kura_closep) int marker =
        openat(fd, CLI_INIT_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (marker < 0) {
        return -errno;
    }
    char install_id[37];
    struct init_secrets sec;
    r = write_conf(fd, o->profile, o->passphrase_file, err);
    if (r == 0) {
        r = write_keys(fd, o->passphrase, err);
    }
    if (r == 0) {
        r = make_install_id(install_id);
    }
    if (r == 0) {
        r = write_db(o, fd, install_id, &sec, err);
    }
    if (r == 0) {
        char line[40];
        int n = snprintf(line, sizeof(line), "%s\n", install_id);
        r = kura_file_write_atomic(fd, CLI_INSTALL_ID_NAME, line, (size_t)n, 0600);
    }
    if (r == 0) {
        /* Record 0 of the audit log: who created this installation. */
        json_t *detail =
            json_pack("{s:s,s:s,s:s?}", "admin", o->admin, "profile",
                      o->profile ? o->profile : "kura-default", "break_glass", o->break_glass);
        r = detail
                ? cli_record_locally(fd, o->data, "cli.init", o->data, detail, KURA_AUDIT_OK, err)
                : -ENOMEM;
        json_decref(detail);
    }
    if (r == 0) {
        r = unlinkat(fd, CLI_INIT_MARKER, 0) < 0 ? -errno : kura_fsync_dir(fd);
    }
    if (r == 0) {
        /* The envelope first: if its file cannot be written, no password has been shown for
         * a folder that is then removed. */
        r = o->break_glass ? hand_out_envelope(o, &sec, err) : 0;
    }
    if (r == 0) {
        r = hand_out_password(o, sec.otp, err);
        if (r < 0 && o->break_glass_file) {
            (void)unlink(o->break_glass_file); /* its account is gone with the folder */
        }
    }
    kura_wipe(&sec, sizeof(sec));
    if (r < 0) {
        undo_init(fd, o->data, created);
        return r;
    }
    (void)printf("kura: initialized data folder %s (install id %s)\n", o->data, install_id);
    return 0;
}

static const char *os_user(void)
{
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : NULL;
}

int cli_init(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"admin", required_argument, NULL, 'a'},
        {"admin-password-file", required_argument, NULL, 'p'},
        {"profile", required_argument, NULL, 'P'},
        {"break-glass", required_argument, NULL, 'b'},
        {"break-glass-file", required_argument, NULL, 'B'},
        {"c4gh-passphrase-file", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct init_opts o = {0};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.data = optarg;
            break;
        case 'a':
            o.admin = optarg;
            break;
        case 'p':
            o.password_file = optarg;
            break;
        case 'P':
            o.profile = optarg;
            break;
        case 'b':
            o.break_glass = optarg;
            break;
        case 'B':
            o.break_glass_file = optarg;
            break;
        case 'C':
            o.passphrase_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!o.data || optind != argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!o.admin) {
        o.admin = os_user();
    }
    if (o.profile) {
        /* Validate before touching the filesystem. */
        _cleanup_(kura_conf_freep) struct kura_conf *probe = kura_conf_new();
        struct kura_buf perr = KURA_BUF_INIT(4096);
        int pr = probe ? kura_conf_set(probe, "password", "profile", o.profile, &perr) : -ENOMEM;
        if (pr < 0) {
            cli_error("init", "--profile: %s", perr.len ? perr.ptr : kura_strerror(pr));
        }
        kura_buf_release(&perr);
        if (pr < 0) {
            return CLI_EXIT_USAGE;
        }
    }
    if (!o.admin || !kura_auth_id_valid(o.admin, strlen(o.admin), NULL)) {
        cli_error("init",
                  "'%s' is not a valid account ID (1-64 of a-z 0-9 . _ -, starting with a "
                  "letter or digit); choose one with --admin",
                  o.admin ? o.admin : "(unknown OS user)");
        return CLI_EXIT_USAGE;
    }
    if ((o.break_glass && (!kura_auth_id_valid(o.break_glass, strlen(o.break_glass), NULL) ||
                           strcmp(o.break_glass, o.admin) == 0)) ||
        (o.break_glass_file && !o.break_glass)) {
        cli_error("init", "--break-glass needs a valid account ID other than the administrator's "
                          "(--break-glass-file only with --break-glass)");
        return CLI_EXIT_USAGE;
    }
    if (o.passphrase_file && o.passphrase_file[0] != '/') {
        cli_error("init",
                  "--c4gh-passphrase-file needs an absolute path (it is kept in kura.conf)");
        return CLI_EXIT_USAGE;
    }
    if (kura_crypto_init() < 0) {
        cli_error("init", "cannot initialise libsodium");
        return CLI_EXIT_FAIL;
    }
    struct kura_buf err = KURA_BUF_INIT(8192);
    umask(077);
    int r =
        o.passphrase_file ? cli_read_passphrase_file(o.passphrase_file, &o.passphrase, &err) : 0;
    r = r == 0 ? run_init(&o, &err) : r;
    sodium_free(o.passphrase);
    if (r < 0) {
        cli_error("init", "%s", err.len ? err.ptr : kura_strerror(r));
    }
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
