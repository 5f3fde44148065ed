/* files.c — `kura files trash|restore|versions|restore-version`, `kura purge` and
 * `kura verify-certificate`: a person's trash and file versions from the machine's console, and
 * crypto-shredding with its signed deletion certificate (store.h, "purge").
 *
 * Who may: the OS user that operates the data folder (cli_data_open refuses anyone else), acting
 * in the personal space of --user. Every command is recorded in the audit log (cli.files.<cmd>,
 * cli.purge; actor cli:<os user>) before it reads or changes anything, so that what could not
 * be recorded does not happen; a purge's record names the certificate it is about to issue. They
 * work beside a running server (SQLite allows a second writer; blobs are immutable).
 *
 * Also here: the purge options kura serve gives the API and the daily trash purge. */
#include "cli/cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/meta.h"
#include "store/store.h"

/* ---- the purge options ----------------------------------------------------------------------- */

int cli_purge_opts_new(int datafd, const struct kura_conf *conf, const struct kura_keyring *kr,
                       struct kura_purge_opts **ret, struct kura_buf *err)
{
    struct kura_purge_opts *o = kura_calloc(1, sizeof(*o));
    if (!o) {
        return -ENOMEM;
    }
    o->certs_dirfd = -1;
    o->sign_key = kura_keyring_sign_key(kr);
    o->backup_retention_days = (uint32_t)conf->store.backup_retention_days;
    char id[40];
    int r = cli_read_install_id(datafd, id);
    if (r == 0) {
        memcpy(o->install_id, id, sizeof(o->install_id));
        o->install_id[KURA_PURGE_INSTALL_ID_MAX] = '\0';
    } else {
        kura_buf_addf(err, "cannot read install-id: %s", kura_strerror(r));
    }
    if (r == 0 && mkdirat(datafd, KURA_PURGE_CERTS_DIR, 0700) < 0 && errno != EEXIST) {
        r = -errno;
    }
    if (r == 0) {
        o->certs_dirfd =
            openat(datafd, KURA_PURGE_CERTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = o->certs_dirfd < 0 ? -errno : 0;
    }
    if (r < 0 && err->len == 0) {
        kura_buf_addf(err, "cannot open %s/: %s", KURA_PURGE_CERTS_DIR, kura_strerror(r));
    }
    if (r < 0) {
        cli_purge_opts_free(o);
        return r;
    }
    *ret = o;
    return 0;
}

struct kura_purge_opts *cli_purge_opts_free(struct kura_purge_opts *o)
{
    if (o) {
        if (o->certs_dirfd >= 0) {
            (void)close(o->certs_dirfd);
        }
        kura_free(o);
    }
    return NULL;
}

/* ---- options and context --------------------------------------------------------------------- */

struct files_opts {
    const char *cmd, *data, *user, *path, *to, *version, *id, *out, *public_key, *file;
    bool json;
};

struct files_ctx {
    struct files_opts o;
    struct cli_store c;
    struct kura_purge_opts *purge;
    char actor[CLI_ACTOR_MAX];
    struct kura_actor who; /* --user, as the store decides access for it */
    struct kura_space sp;
    struct kura_path path; /* --path, normalised */
    struct kura_buf err;
};

static int parse_opts(int argc, char **argv, struct files_opts *o)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},    {"user", required_argument, NULL, 'u'},
        {"path", required_argument, NULL, 'p'},    {"to", required_argument, NULL, 't'},
        {"version", required_argument, NULL, 'v'}, {"id", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},     {"public-key", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},          {NULL, 0, NULL, 0}};
    const char **slot[128] = {
        ['d'] = &o->data,    ['u'] = &o->user, ['p'] = &o->path, ['t'] = &o->to,
        ['v'] = &o->version, ['i'] = &o->id,   ['o'] = &o->out,  ['k'] = &o->public_key};
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'j') {
            o->json = true;
        } else if (c > 0 && c < 128 && slot[c] && !*slot[c]) {
            *slot[c] = optarg;
        } else {
            bad = 1;
        }
    }
    o->file = optind < argc ? argv[optind++] : NULL;
    return bad || optind != argc ? -EINVAL : 0;
}

/* A path as a person types it: one leading '/' is fine ("/a/b" is "a/b"). */
static int normalise(struct files_ctx *f, const char *in, struct kura_path *ret)
{
    const char *why = NULL;
    in += in[0] == '/';
    int r = kura_path_normalize(in, strlen(in), ret, &why);
    if (r < 0) {
        kura_buf_addf(&f->err, "bad path '%s': %s", in, why ? why : kura_strerror(r));
    }
    return r;
}

static int open_ctx(struct files_ctx *f, bool purge)
{
    int r = cli_store_open(f->o.data, &f->c, &f->err);
    r = r == 0 && purge ? cli_purge_opts_new(f->c.datafd, f->c.conf, f->c.keys, &f->purge, &f->err)
                        : r;
    r = r == 0 ? cli_actor_for_uid(getuid(), f->actor) : r;
    f->who = (struct kura_actor){f->o.user, KURA_ROLE_USER, false};
    r = r == 0 && f->o.path ? normalise(f, f->o.path, &f->path) : r;
    if (r == 0) {
        r = kura_store_home(f->c.store, &f->who, &f->sp);
        if (r == KURA_ENOTFOUND) {
            kura_buf_addf(&f->err, "no account '%s'", f->o.user);
        }
    }
    return r;
}

static void close_ctx(struct files_ctx *f)
{
    kura_path_release(&f->path);
    f->purge = cli_purge_opts_free(f->purge);
    cli_store_close(&f->c);
    kura_buf_release(&f->err);
}

/* Records the command before it acts (fail closed). object: "personal:<user>/<path>". */
static int record(struct files_ctx *f, const char *action, json_t *detail)
{
    struct kura_buf object = KURA_BUF_INIT(KURA_PATH_MAX + 128);
    kura_buf_addf(&object, "personal:%s/%s", f->o.user, f->path.ptr ? f->path.ptr : "");
    detail = detail ? detail : json_object();
    if (detail) {
        (void)json_object_set_new(detail, "user", json_string(f->o.user));
    }
    int r = kura_buf_err(&object);
    r = r == 0 ? cli_record_action(f->o.data, action, object.ptr, detail, KURA_AUDIT_OK, &f->err)
               : r;
    json_decref(detail);
    kura_buf_release(&object);
    return r;
}

static int print_doc(json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        return -ENOMEM;
    }
    (void)printf("%s\n", text);
    kura_free(text);
    return 0;
}

static uint64_t parse_id(const char *s)
{
    uint64_t id = 0;
    return s && kura_parse_u64(s, strlen(s), INT64_MAX, &id) == 0 ? id : 0;
}

/* ---- files trash ----------------------------------------------------------------------------- */

static int trash_row(void *ctx, const struct kura_trash_item *t)
{
    struct files_ctx *f = ctx;
    char at[KURA_TIME_STR_MAX];
    kura_clock_format(t->node->trashed_at, at);
    const char *kind = t->node->folder ? "folder" : "file";
    if (f->o.json) {
        return print_doc(json_pack("{s:I,s:s,s:s,s:I,s:I,s:s,s:s}", "id", (json_int_t)t->node->id,
                                   "path", t->node->path, "kind", kind, "size", (json_int_t)t->size,
                                   "files", (json_int_t)t->files, "trashed_at", at, "trashed_by",
                                   t->node->trashed_by));
    }
    (void)printf("%-8llu %s %-6s %12llu  %s  (%s)\n", (unsigned long long)t->node->id, at, kind,
                 (unsigned long long)t->size, t->node->path, t->node->trashed_by);
    return 0;
}

static int cmd_trash(struct files_ctx *f)
{
    int r = record(f, "cli.files.trash", NULL);
    return r == 0 ? kura_store_trash_list(f->c.store, &f->who, &f->sp, trash_row, f, NULL) : r;
}

struct by_id {
    uint64_t id;
    struct kura_node *ret;
    bool found;
};

static int match_id(void *ctx, const struct kura_trash_item *t)
{
    struct by_id *b = ctx;
    if (t->node->id == b->id) {
        *b->ret = *t->node;
        b->found = true;
    }
    return 0;
}

/* The trash item --id names (as kura files trash lists them), or the one last trashed from
 * --path. */
static int trashed(struct files_ctx *f, struct kura_node *ret)
{
    int r = 0;
    if (f->o.id) {
        struct by_id b = {parse_id(f->o.id), ret, false};
        r = kura_store_trash_list(f->c.store, &f->who, &f->sp, match_id, &b, NULL);
        r = r == 0 && !b.found ? KURA_ENOTFOUND : r;
    } else {
        r = kura_store_trash_find(f->c.store, &f->who, &f->sp, f->path.ptr, ret, NULL);
    }
    if (r == KURA_ENOTFOUND && f->o.id) {
        kura_buf_addf(&f->err, "no item %s in the trash of %s", f->o.id, f->o.user);
    } else if (r == KURA_ENOTFOUND) {
        kura_buf_addf(&f->err, "nothing from '%s' is in the trash of %s", f->path.ptr, f->o.user);
    }
    return r;
}

static int cmd_restore(struct files_ctx *f)
{
    struct kura_path to = KURA_PATH_INIT;
    struct kura_node *n = kura_malloc(sizeof(*n));
    int r = n ? 0 : -ENOMEM;
    r = r == 0 && f->o.to ? normalise(f, f->o.to, &to) : r;
    json_t *detail = r == 0 ? json_pack("{s:s?,s:s?}", "to", to.ptr, "id", f->o.id) : NULL;
    r = r == 0 ? record(f, "cli.files.restore", detail) : r;
    r = r == 0 ? trashed(f, n) : r;
    r = r == 0 ? kura_store_trash_restore(f->c.store, &f->who, &f->sp, n->id,
                                          f->o.to ? to.ptr : NULL, n, NULL)
               : r;
    if (r == KURA_EEXIST) {
        kura_buf_addf(&f->err,
                      "'%s' is taken: give another path with --to / そのパスは使用中です。--to で"
                      "別のパスを指定してください",
                      f->o.to ? to.ptr : f->path.ptr);
    } else if (r == 0) {
        (void)printf("'%s' を復元しました / restored to '%s'\n", n->path, n->path);
    }
    kura_path_release(&to);
    kura_free(n);
    return r;
}

/* ---- files versions / restore-version -------------------------------------------------------- */

struct versions {
    struct files_ctx *f;
    uint64_t current, want;
    bool found;
};

static int version_row(void *ctx, const struct kura_version *v)
{
    struct versions *x = ctx;
    char at[KURA_TIME_STR_MAX], sha[65];
    kura_clock_format(v->created_at, at);
    kura_hex_encode(sha, v->sha256, sizeof(v->sha256));
    if (x->want) {
        x->found = x->found || v->id == x->want;
        return 0;
    }
    if (x->f->o.json) {
        return print_doc(json_pack("{s:I,s:I,s:s,s:s,s:s,s:b,s:b}", "id", (json_int_t)v->id, "size",
                                   (json_int_t)v->size, "sha256", sha, "created_at", at,
                                   "created_by", v->created_by, "current", v->id == x->current,
                                   "corrupt", v->corrupt_at != 0));
    }
    (void)printf("%-8llu %s %12llu  sha256:%s  %s%s%s\n", (unsigned long long)v->id, at,
                 (unsigned long long)v->size, sha, v->created_by,
                 v->id == x->current ? "  (current / 現在)" : "",
                 v->corrupt_at ? "  (damaged / 破損)" : "");
    return 0;
}

/* The live file at --path. */
static int live_file(struct files_ctx *f, struct kura_node *ret)
{
    int r = kura_store_stat(f->c.store, &f->who, &f->sp, f->path.ptr, ret, NULL);
    r = r == 0 && ret->folder ? -EISDIR : r;
    if (r == KURA_ENOTFOUND || r == -EISDIR) {
        kura_buf_addf(&f->err, "no file '%s' in the space of %s", f->path.ptr, f->o.user);
    }
    return r;
}

static int cmd_versions(struct files_ctx *f)
{
    struct kura_node *n = kura_malloc(sizeof(*n));
    int r = n ? record(f, "cli.files.versions", NULL) : -ENOMEM;
    r = r == 0 ? live_file(f, n) : r;
    struct versions x = {f, r == 0 ? n->version : 0, 0, false};
    r = r == 0 ? kura_store_versions(f->c.store, &f->who, &f->sp, n, version_row, &x, NULL) : r;
    kura_free(n);
    return r;
}

static int cmd_restore_version(struct files_ctx *f)
{
    uint64_t id = parse_id(f->o.version);
    if (!id) {
        kura_buf_adds(&f->err, "--version takes a version id, as kura files versions lists them");
        return -EINVAL;
    }
    struct kura_node *n = kura_malloc(sizeof(*n));
    int r =
        n ? record(f, "cli.files.restore_version", json_pack("{s:I}", "version", (json_int_t)id))
          : -ENOMEM;
    r = r == 0 ? live_file(f, n) : r;
    struct versions x = {f, 0, id, false};
    r = r == 0 ? kura_store_versions(f->c.store, &f->who, &f->sp, n, version_row, &x, NULL) : r;
    if (r == 0 && !x.found) {
        kura_buf_addf(&f->err, "'%s' has no version %s", f->path.ptr, f->o.version);
        r = KURA_ENOTFOUND;
    }
    r = r == 0 ? kura_store_version_restore(f->c.store, &f->who, &f->sp, id, kura_clock_wall_ms(),
                                            n, NULL)
               : r;
    if (r == KURA_EQUOTA) {
        kura_buf_addf(&f->err, "the quota of %s's space would be exceeded", f->o.user);
    } else if (r == 0) {
        (void)printf("'%s': version %llu is current again as version %llu / "
                     "版 %llu を現在の版 %llu として復元しました\n",
                     n->path, (unsigned long long)id, (unsigned long long)n->version,
                     (unsigned long long)id, (unsigned long long)n->version);
    }
    kura_free(n);
    return r;
}

/* ---- purge ----------------------------------------------------------------------------------- */

/* --out FILE: created new (it must not exist), 0600 (a certificate names files and people). */
static int write_out(struct files_ctx *f, const struct kura_purge_cert *c)
{
    int fd = open(f->o.out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = -errno;
        kura_buf_addf(&f->err,
                      "the purge is done, but %s cannot be created: %s (it must not exist "
                      "yet); the certificate is in %s/%s.json",
                      f->o.out, kura_strerror(e), KURA_PURGE_CERTS_DIR, c->id);
        return e;
    }
    bool ok =
        write(fd, c->doc, c->len) == (ssize_t)c->len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        kura_buf_addf(&f->err, "cannot write %s", f->o.out);
        return -EIO;
    }
    return 0;
}

static int purge_target(struct files_ctx *f, struct kura_node *ret)
{
    if (f->o.id) {
        return trashed(f, ret);
    }
    /* A live path is trashed, then purged; else the one last trashed from that path. */
    int r = kura_store_stat(f->c.store, &f->who, &f->sp, f->path.ptr, ret, NULL);
    return r == KURA_ENOTFOUND ? trashed(f, ret) : r;
}

static int cmd_purge(struct files_ctx *f)
{
    char id[KURA_PURGE_CERT_ID_MAX + 1];
    struct kura_node *n = kura_malloc(sizeof(*n));
    struct kura_purge_cert c = {0};
    int r = n ? kura_purge_cert_id_new(id) : -ENOMEM;
    r = r == 0 ? purge_target(f, n) : r;
    r = r == 0 ? record(f, "cli.purge",
                        json_pack("{s:I,s:s,s:b}", "node", (json_int_t)n->id, "certificate_id", id,
                                  "was_live", n->trashed_at == 0))
               : r;
    if (r == 0 && n->parent == 0 && n->trashed_at == 0) {
        kura_buf_adds(&f->err, "the root of a space is not purged");
        r = KURA_EFORBIDDEN;
    }
    r = r == 0 ? kura_store_purge(f->c.store, &f->who, &f->sp, n->id, false, f->actor, f->purge, id,
                                  kura_clock_wall_ms(), &c, NULL)
               : r;
    if (r == KURA_EBUSY) {
        kura_buf_adds(&f->err, "the files are deleted, but the database's write-ahead log could "
                               "not be checkpointed (a reader held it): no certificate was "
                               "issued; the next purge or the daily trash job clears the log");
    } else if (r == 0 && c.keep_err < 0) {
        cli_error("purge", "warning: the copy in %s/ could not be written: %s",
                  KURA_PURGE_CERTS_DIR, kura_strerror(c.keep_err));
    }
    if (r == 0 && f->o.out) {
        r = write_out(f, &c);
        if (r == 0) {
            (void)printf("証明書を保存しました / certificate written to %s\n", f->o.out);
        }
    } else if (r == 0) {
        (void)printf("%.*s\n", (int)c.len, c.doc);
    }
    kura_purge_cert_release(&c);
    kura_free(n);
    return r;
}

/* ---- entry points ---------------------------------------------------------------------------- */

static int run(const char *where, struct files_opts *o, int (*fn)(struct files_ctx *), bool purge)
{
    struct files_ctx f = {.o = *o, .err = KURA_BUF_INIT(8192), .path = KURA_PATH_INIT};
    f.c.datafd = -1;
    int r = open_ctx(&f, purge);
    r = r == 0 ? fn(&f) : r;
    (void)fflush(stdout);
    if (r < 0) {
        cli_error(where, "%s", f.err.len ? f.err.ptr : kura_strerror(r));
    }
    close_ctx(&f);
    return r < 0 ? (r == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL) : CLI_EXIT_OK;
}

int cli_files(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(struct files_ctx *);
        bool path, to, version, id;
    } cmds[] = {
        {"trash", cmd_trash, false, false, false, false},
        {"restore", cmd_restore, true, true, false, true},
        {"versions", cmd_versions, true, false, false, false},
        {"restore-version", cmd_restore_version, true, false, true, false},
    };
    struct files_opts o = {0};
    for (size_t i = 0; argc >= 2 && i < KURA_ARRAY_SIZE(cmds); i++) {
        if (strcmp(argv[1], cmds[i].name) != 0 || parse_opts(argc - 1, argv + 1, &o) < 0) {
            continue;
        }
        /* restore names its item by --path or --id (one of them); the others by --path. */
        bool target_ok = cmds[i].id     ? (o.path != NULL) != (o.id != NULL)
                         : cmds[i].path ? o.path && !o.id
                                        : !o.path && !o.id;
        if (o.data && o.user && target_ok && !o.file && !o.out && !o.public_key &&
            (cmds[i].to || !o.to) && cmds[i].version == (o.version != NULL)) {
            char where[64];
            (void)snprintf(where, sizeof(where), "files %s", cmds[i].name);
            return run(where, &o, cmds[i].fn, false);
        }
        break;
    }
    (void)fputs("usage: kura files COMMAND --data DIR --user ID [options]\n"
                "  trash [--json]                        the trash of ID's space\n"
                "  restore --path P | --id N [--to P2]   take it back (to P2 when P is taken)\n"
                "  versions --path P [--json]            the versions of a file\n"
                "  restore-version --path P --version N  make version N current again\n",
                stderr);
    return CLI_EXIT_USAGE;
}

int cli_purge(int argc, char **argv)
{
    struct files_opts o = {0};
    if (parse_opts(argc, argv, &o) < 0 || !o.data || !o.user || !o.path == !o.id || o.file ||
        o.to || o.version || o.public_key || o.json) {
        (void)fputs("usage: kura purge --data DIR --user ID --path P | --id N [--out FILE]\n"
                    "  Destroys a file or folder of ID's space for good (a live path is trashed "
                    "first;\n  else the one last trashed from P, or trash item N) and prints "
                    "its signed\n  deletion certificate (also kept in DIR/certificates/).\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    return run("purge", &o, cmd_purge, true);
}

/* ---- verify-certificate ---------------------------------------------------------------------- */

static int trusted_key(const struct files_opts *o, uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                       struct kura_buf *err)
{
    if (o->public_key) {
        struct kura_buf text = KURA_BUF_INIT(KURA_SIGN_KEY_FILE_MAX);
        int r = kura_file_read_all(AT_FDCWD, o->public_key, &text);
        r = r == 0 ? kura_sign_public_key_parse(text.ptr, text.len, pk, err) : r;
        kura_buf_release(&text);
        if (r < 0 && err->len == 0) {
            kura_buf_addf(err, "cannot read the public key %s: %s", o->public_key,
                          kura_strerror(r));
        }
        return r;
    }
    int datafd = -1;
    int r = cli_data_open(o->data, &datafd, err);
    int keys = r == 0 ? openat(datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    r = r == 0 && keys < 0 ? -errno : r;
    r = r == 0 ? kura_sign_public_key_read(keys, KURA_KEYRING_SIGN_PUB, pk, err) : r;
    if (r < 0 && err->len == 0) {
        kura_buf_addf(err, "cannot read %s/%s: %s", CLI_KEYS_DIR, KURA_KEYRING_SIGN_PUB,
                      kura_strerror(r));
    }
    kura_closep(&keys);
    kura_closep(&datafd);
    return r;
}

int cli_verify_certificate(int argc, char **argv)
{
    struct files_opts o = {0};
    if (parse_opts(argc, argv, &o) < 0 || !o.file || !o.data == !o.public_key || o.user || o.path ||
        o.to || o.version || o.id || o.out || o.json) {
        (void)fputs("usage: kura verify-certificate FILE --data DIR | --public-key FILE\n"
                    "  Checks a deletion certificate's signature against the installation's "
                    "key\n  (DIR/keys/sign.pub) or the given one. Exit 0: valid; 1: not valid.\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    struct kura_buf err = KURA_BUF_INIT(4096), doc = KURA_BUF_INIT(KURA_PURGE_CERT_MAX + 1);
    uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES];
    char id[KURA_PURGE_CERT_ID_MAX + 1];
    const char *why = NULL;
    int r = trusted_key(&o, pk, &err);
    if (r == 0) {
        r = kura_file_read_all(AT_FDCWD, o.file, &doc);
        if (r < 0) {
            kura_buf_addf(&err, "cannot read %s: %s", o.file, kura_strerror(r));
        }
    }
    if (r == 0) {
        r = kura_store_cert_verify(doc.ptr, doc.len, pk, id, &why);
        if (r < 0) {
            kura_buf_addf(&err, "%s: NOT VALID / 無効: %s", o.file, why ? why : kura_strerror(r));
        }
    }
    if (r == 0) {
        (void)printf("%s: valid / 有効: certificate %s, signed by %s\n", o.file, id,
                     o.public_key ? o.public_key : "this installation's key (keys/sign.pub)");
    } else {
        cli_error("verify-certificate", "%s", err.len ? err.ptr : kura_strerror(r));
    }
    if (o.data) {
        json_t *detail =
            json_pack("{s:s,s:s?}", "file", o.file, "certificate_id", r == 0 ? id : NULL);
        cli_record_or_warn("verify-certificate", o.data, "cli.verify_certificate",
                           r == 0 ? id : o.file, detail, r == 0);
        json_decref(detail);
    }
    kura_buf_release(&doc);
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
