/* user.c — `kura user add|list|show|set-roles|disable|enable|unlock|reset-password|reset-mfa|
 * ledger|review`: account administration from the machine's console.
 *
 * Every command is recorded in the audit log (cli.user.<command>, actor cli:<os user>) before
 * it changes anything, so a change that could not be recorded does not happen; every change
 * also leaves one row in the account ledger (accounts.c). Passwords never pass through argv: the
 * one-time passwords kura generates are printed once, or written to --otp-file (0600, created
 * new). They work beside a running server (SQLite allows a second writer connection).
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/policy.h"
#include "meta/meta.h"

struct user_opts {
    const char *cmd, *data, *id, *reason, *otp_file, *roles, *name, *email, *affiliation, *phone;
    const char *valid_from, *valid_until, *method, *note, *minutes;
    bool json, designate, password_stdin, seal, unseal;
};

/* What a command works with: the folder, its configuration and database, and the actor. */
struct user_ctx {
    struct user_opts o;
    int datafd;
    struct kura_conf *conf;
    struct kura_meta *meta;
    struct kura_keyring *keys;
    char actor[CLI_ACTOR_MAX];
    struct kura_buf err;
    bool printed; /* a JSON answer was printed already */
};

static int parse_opts(int argc, char **argv, struct user_opts *o)
{
    static const struct option longopts[] = {{"data", required_argument, NULL, 'd'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"reason", required_argument, NULL, 'r'},
                                             {"otp-file", required_argument, NULL, 'o'},
                                             {"roles", required_argument, NULL, 'R'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"email", required_argument, NULL, 'e'},
                                             {"affiliation", required_argument, NULL, 'a'},
                                             {"phone", required_argument, NULL, 'p'},
                                             {"valid-from", required_argument, NULL, 'f'},
                                             {"valid-until", required_argument, NULL, 'u'},
                                             {"verified-by", required_argument, NULL, 'v'},
                                             {"verification", required_argument, NULL, 'V'},
                                             {"minutes", required_argument, NULL, 'm'},
                                             {"designate", no_argument, NULL, 'D'},
                                             {"password-stdin", no_argument, NULL, 'P'},
                                             {"seal", no_argument, NULL, 'S'},
                                             {"unseal", no_argument, NULL, 'U'},
                                             {NULL, 0, NULL, 0}};
    const char **slot[128] = {
        ['d'] = &o->data,       ['r'] = &o->reason,      ['o'] = &o->otp_file,    ['R'] = &o->roles,
        ['n'] = &o->name,       ['e'] = &o->email,       ['a'] = &o->affiliation, ['p'] = &o->phone,
        ['f'] = &o->valid_from, ['u'] = &o->valid_until, ['v'] = &o->method,      ['V'] = &o->note,
        ['m'] = &o->minutes};
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'j' || c == 'D' || c == 'P' || c == 'S' || c == 'U') {
            o->json = o->json || c == 'j';
            o->seal = o->seal || c == 'S';
            o->unseal = o->unseal || c == 'U';
            o->designate = o->designate || c == 'D';
            o->password_stdin = o->password_stdin || c == 'P';
        } else if (c > 0 && c < 128 && slot[c]) {
            *slot[c] = optarg;
        } else {
            bad = 1;
        }
    }
    o->id = optind < argc ? argv[optind++] : NULL;
    return bad || optind != argc || !o->data ? -EINVAL : 0;
}

static int open_ctx(struct user_ctx *u, bool need_keys)
{
    struct kura_buf path = KURA_BUF_INIT(8192);
    int r = cli_data_open(u->o.data, &u->datafd, &u->err);
    r = r == 0 ? cli_data_path(u->o.data, CLI_CONF_NAME, &path) : r;
    r = r == 0 ? kura_conf_load(path.ptr, &u->conf, &u->err) : r;
    kura_buf_reset(&path);
    r = r == 0 ? cli_data_path(u->o.data, CLI_DB_NAME, &path) : r;
    r = r == 0 ? kura_meta_open("sqlite", path.ptr, 0, &u->meta) : r;
    r = r == 0 ? kura_meta_check_schema(u->meta, NULL) : r;
    kura_buf_release(&path);
    if (r == 0 && need_keys) {
        _cleanup_(kura_closep) int kfd =
            openat(u->datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = kfd < 0 ? -errno : cli_keyring_load(kfd, u->conf, &u->keys, &u->err);
    }
    if (r == 0) {
        r = cli_actor_for_uid(getuid(), u->actor);
    }
    if (r < 0 && u->err.len == 0) {
        kura_buf_addf(&u->err, "cannot open '%s': %s", u->o.data, kura_strerror(r));
    }
    return r;
}

static void close_ctx(struct user_ctx *u)
{
    u->keys = kura_keyring_free(u->keys);
    u->meta = kura_meta_close(u->meta);
    kura_conf_free(u->conf);
    if (u->datafd >= 0) {
        close(u->datafd);
    }
    kura_buf_release(&u->err);
}

/* "user,pi" -> role bits. */
static int parse_roles(const char *s, unsigned *ret)
{
    unsigned roles = 0;
    struct kura_str rest = kura_str_make(s, strlen(s)), one;
    while (rest.len > 0) {
        (void)kura_str_split(&rest, ',', &one);
        enum kura_role bit;
        if (kura_role_parse(one.ptr, one.len, &bit) < 0) {
            return -EINVAL;
        }
        roles |= (unsigned)bit;
    }
    *ret = roles;
    return roles ? 0 : -EINVAL;
}

/* "YYYY-MM-DD" (the start of that day, UTC) -> ms; "" -> 0 (unset); NULL -> -1 (unchanged). */
static int parse_day(const char *s, int64_t *ret)
{
    if (!s) {
        *ret = -1;
        return 0;
    }
    if (!s[0]) {
        *ret = 0;
        return 0;
    }
    char full[32];
    int n = snprintf(full, sizeof(full), "%sT00:00:00.000Z", s);
    return n == 24 ? kura_audit_time_parse(full, ret) : -EINVAL;
}

static int id_rule(const struct user_ctx *u, struct kura_id_rule *ret)
{
    struct kura_password_policy p;
    struct kura_buf e = KURA_BUF_INIT(1024);
    int r = kura_password_policy_resolve(u->conf, &p, &e);
    kura_buf_release(&e);
    if (r == 0) {
        *ret = p.id_rule;
    }
    return r;
}

/* Records the command (before it changes anything: fail closed). */
static int record(struct user_ctx *u, json_t *detail)
{
    char action[64];
    (void)snprintf(action, sizeof(action), "cli.user.%s", u->o.cmd);
    detail = detail ? detail : json_object();
    int r = cli_record_action(u->o.data, action, u->o.id ? u->o.id : "accounts", detail,
                              KURA_AUDIT_OK, &u->err);
    json_decref(detail);
    return r;
}

static struct kura_auth_change change_of(const struct user_ctx *u)
{
    return (struct kura_auth_change){u->actor, u->o.reason, NULL, kura_clock_wall_ms()};
}

/* Shows a generated one-time password once: on stdout, or in a new 0600 file. */
static int print_doc(json_t *doc);

static int write_secret_file(struct user_ctx *u, const char *secret);

static int hand_over(struct user_ctx *u, const char *otp)
{
    if (!u->o.otp_file && u->o.json) {
        u->printed = true;
        return print_doc(json_pack("{s:s,s:s}", "id", u->o.id, "one_time_password", otp));
    }
    if (!u->o.otp_file) {
        (void)printf("one-time password / 初回パスワード: %s\n"
                     "(shown once; the user must change it at the first login / "
                     "一度だけ表示します。初回ログイン時に変更が必要です)\n",
                     otp);
        return 0;
    }
    int r = write_secret_file(u, otp);
    if (r == 0) {
        (void)printf("one-time password written to / 初回パスワードの保存先: %s\n", u->o.otp_file);
    }
    return r;
}

/* A secret kura generated, into --otp-file: created new, 0600, synced. */
static int write_secret_file(struct user_ctx *u, const char *secret)
{
    int fd = open(u->o.otp_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        kura_buf_addf(&u->err, "cannot create %s: %s (it must not exist yet)", u->o.otp_file,
                      kura_strerror(-errno));
        return -errno;
    }
    size_t len = strlen(secret);
    bool ok = write(fd, secret, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        kura_buf_addf(&u->err, "cannot write %s", u->o.otp_file);
        (void)unlink(u->o.otp_file);
        return -EIO;
    }
    return 0;
}

/* One line of stdin into line, byte for byte (fgets would hide a NUL and cut a long line in
 * silence): refused when empty, longer than KURA_PASSWORD_MAX or holding a NUL. */
static int read_password_line(struct user_ctx *u, char *line, size_t size, size_t *ret_len)
{
    size_t len = 0;
    int c = EOF;
    while (len < size && (c = getchar()) != EOF && c != '\n') {
        line[len++] = (char)c;
    }
    len -= len > 0 && line[len - 1] == '\r'; /* a line typed or saved on Windows */
    const char *why = len == 0                  ? "no password on standard input"
                      : len > KURA_PASSWORD_MAX ? "the password is longer than 1024 bytes"
                      : memchr(line, '\0', len) ? "the password holds a NUL byte"
                                                : NULL;
    if (why) {
        kura_buf_addf(&u->err, "--password-stdin: %s", why);
        return -EINVAL;
    }
    *ret_len = len;
    return 0;
}

/* --password-stdin: one line from stdin (never argv), judged by the site's policy for this
 * account, then hashed as logins verify it (NFKC). The caller wipes hash. */
static int chosen_password(struct user_ctx *u, const struct kura_account *a,
                           char hash[static KURA_PWHASH_STR_MAX])
{
    char line[KURA_PASSWORD_MAX + 2];
    struct kura_password_policy p;
    struct kura_password_verdict v;
    char *norm = NULL;
    size_t len = 0, nlen = 0;
    int r = kura_password_policy_resolve(u->conf, &p, &u->err);
    r = r == 0 ? read_password_line(u, line, sizeof(line), &len) : r;
    const struct kura_password_context ctx = {a->id, a->display_name, a->email, "kura", NULL};
    r = r == 0 ? kura_password_check(&p, line, len, &ctx, &v) : r;
    if (r == 0 && !v.ok) {
        kura_buf_addf(&u->err, "the password is refused: %s / %s", v.message_en, v.message_ja);
        r = -EINVAL;
    }
    r = r == 0 ? kura_password_normalize(line, len, &norm, &nlen) : r;
    const struct kura_pwhash_params params = {u->conf->password.hash_opslimit,
                                              (size_t)u->conf->password.hash_memlimit_kib * 1024};
    r = r == 0 ? kura_password_hash(&params, kura_keyring_pepper(u->keys), norm, nlen, hash) : r;
    kura_password_normalized_free(norm, nlen);
    kura_wipe(line, sizeof(line));
    return r == -EINVAL ? KURA_EBADREQ : r;
}

static int cmd_add(struct user_ctx *u)
{
    unsigned roles = KURA_ROLE_USER;
    int64_t from = 0, until = 0;
    struct kura_id_rule rule;
    if ((u->o.roles && parse_roles(u->o.roles, &roles) < 0) ||
        parse_day(u->o.valid_from ? u->o.valid_from : "", &from) < 0 ||
        parse_day(u->o.valid_until ? u->o.valid_until : "", &until) < 0) {
        kura_buf_adds(&u->err, "--roles takes user,pi,committee,helpdesk,operator,admin,auditor; "
                               "--valid-from/--valid-until take YYYY-MM-DD");
        return -EINVAL;
    }
    int r = id_rule(u, &rule);
    r = r == 0 ? record(u, json_pack("{s:I}", "roles", (json_int_t)roles)) : r;
    if (r < 0) {
        return r;
    }
    const struct kura_account a = {.id = u->o.id,
                                   .display_name = u->o.name,
                                   .email = u->o.email,
                                   .affiliation = u->o.affiliation,
                                   .phone = u->o.phone,
                                   .roles = roles,
                                   .valid_from = from,
                                   .valid_until = until};
    const struct kura_pwhash_params params = {u->conf->password.hash_opslimit,
                                              (size_t)u->conf->password.hash_memlimit_kib * 1024};
    const struct kura_auth_keys k = {&params, kura_keyring_pepper(u->keys)};
    struct kura_auth_change c = change_of(u);
    char otp[KURA_PASSWORD_GEN_LEN + 1], hash[KURA_PWHASH_STR_MAX];
    if (u->o.password_stdin) {
        r = chosen_password(u, &a, hash);
        r = r == 0 ? kura_auth_account_add_hashed(u->meta, &c, &a, &rule, hash) : r;
    } else {
        r = kura_auth_account_add(u->meta, &c, &a, &rule, &k, otp, sizeof(otp));
        r = r == 0 ? hand_over(u, otp) : r;
    }
    if (r == KURA_ESYNTAX) {
        kura_buf_addf(&u->err, "'%s' is not a valid login ID under the site's ID rule", u->o.id);
    }
    kura_wipe(otp, sizeof(otp));
    kura_wipe(hash, sizeof(hash));
    return r;
}

static const char *roles_text(unsigned roles, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned bit = 1; bit & KURA_ROLE_ALL; bit <<= 1) {
        if (roles & bit) {
            int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", kura_role_name(bit));
            used += n > 0 && (size_t)n < size - used ? (size_t)n : 0;
        }
    }
    return buf;
}

static json_t *account_doc(const struct kura_account *a, const struct kura_account_auth *st)
{
    char roles[128];
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:b,s:I,s:I,s:b,s:I,s:s}", "id", a->id,
        "display_name", a->display_name, "email", a->email, "affiliation", a->affiliation, "phone",
        a->phone, "status", kura_account_status_name(a->status), "roles",
        roles_text(a->roles, roles, sizeof(roles)), "valid_from", (json_int_t)a->valid_from,
        "valid_until", (json_int_t)a->valid_until, "must_change_password", a->must_change_password,
        "created_at", (json_int_t)a->created_at, "failed_logins",
        (json_int_t)(st ? st->failed_logins : 0), "locked_by_failures", st && st->locked_at != 0,
        "last_login_at", (json_int_t)(st ? st->last_login_at : 0), "last_login_ip",
        st ? st->last_login_ip : "");
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

static void print_account(const struct kura_account *a, const struct kura_account_auth *st)
{
    char roles[128], last[KURA_TIME_STR_MAX] = "-";
    if (st && st->last_login_at) {
        kura_clock_format(st->last_login_at, last);
    }
    (void)printf("%-24s %-9s %-28s last_login=%s%s  %s\n", a->id,
                 kura_account_status_name(a->status), roles_text(a->roles, roles, sizeof(roles)),
                 last, st && st->locked_at ? "  LOCKED(failures)" : "",
                 a->display_name ? a->display_name : "");
}

struct list_ctx {
    struct user_ctx *u;
    uint64_t n;
};

static int list_one(void *ctx, const struct kura_account *a)
{
    struct list_ctx *l = ctx;
    struct kura_account_auth st;
    int r = kura_meta_auth_get(l->u->meta, a->id, &st);
    if (r < 0) {
        return r;
    }
    l->n++;
    if (l->u->o.json) {
        l->u->printed = true;
        return print_doc(account_doc(a, &st));
    }
    print_account(a, &st);
    return 0;
}

static int cmd_list(struct user_ctx *u)
{
    struct list_ctx l = {u, 0};
    int r = record(u, NULL);
    r = r == 0 ? kura_meta_account_list(u->meta, list_one, &l) : r;
    return r;
}

static int cmd_show(struct user_ctx *u)
{
    struct kura_account a = {0};
    int r = record(u, NULL);
    r = r == 0 ? kura_meta_account_get(u->meta, u->o.id, &a) : r;
    struct list_ctx l = {u, 0};
    r = r == 0 ? list_one(&l, &a) : r;
    kura_account_release(&a);
    return r;
}

static int cmd_set_roles(struct user_ctx *u)
{
    unsigned roles;
    if (!u->o.roles || parse_roles(u->o.roles, &roles) < 0) {
        kura_buf_adds(&u->err, "--roles takes a comma-separated list of "
                               "user,pi,committee,helpdesk,operator,admin,auditor");
        return -EINVAL;
    }
    int r = record(u, json_pack("{s:s}", "roles", u->o.roles));
    struct kura_auth_change c = change_of(u);
    return r == 0 ? kura_auth_account_set_roles(u->meta, &c, u->o.id, roles) : r;
}

static int cmd_status(struct user_ctx *u)
{
    int r = record(u, NULL);
    struct kura_auth_change c = change_of(u);
    if (r < 0) {
        return r;
    }
    if (strcmp(u->o.cmd, "unlock") == 0) {
        return kura_auth_account_unlock(u->meta, &c, u->o.id);
    }
    enum kura_account_status s =
        strcmp(u->o.cmd, "enable") == 0 ? KURA_ACCOUNT_STATUS_ACTIVE : KURA_ACCOUNT_STATUS_DISABLED;
    return kura_auth_account_set_status(u->meta, &c, u->o.id, s);
}

static int cmd_reset(struct user_ctx *u)
{
    if (!u->o.method || !u->o.method[0]) {
        kura_buf_adds(&u->err, "--verified-by METHOD is required: how the person's identity was "
                               "verified (e.g. callback, in_person), with --verification TEXT");
        return -EINVAL;
    }
    const struct kura_auth_verification how = {u->o.method, u->o.note};
    int r = record(u, json_pack("{s:s}", "verified_by", u->o.method));
    struct kura_auth_change c = change_of(u);
    if (r < 0 || strcmp(u->o.cmd, "reset-mfa") == 0) {
        return r < 0 ? r : kura_auth_reset_mfa(u->meta, &c, u->o.id, &how);
    }
    const struct kura_pwhash_params params = {u->conf->password.hash_opslimit,
                                              (size_t)u->conf->password.hash_memlimit_kib * 1024};
    const struct kura_auth_keys k = {&params, kura_keyring_pepper(u->keys)};
    char otp[KURA_PASSWORD_GEN_LEN + 1], hash[KURA_PWHASH_STR_MAX];
    if (u->o.password_stdin) {
        struct kura_account a = {0};
        r = kura_meta_account_get(u->meta, u->o.id, &a);
        r = r == 0 ? chosen_password(u, &a, hash) : r;
        r = r == 0 ? kura_auth_reset_password_hashed(u->meta, &c, u->o.id, &how, hash) : r;
        kura_account_release(&a);
    } else {
        r = kura_auth_reset_password(u->meta, &c, u->o.id, &how, &k, otp, sizeof(otp));
        r = r == 0 ? hand_over(u, otp) : r;
    }
    kura_wipe(otp, sizeof(otp));
    kura_wipe(hash, sizeof(hash));
    return r;
}

/* ---- ledger and review: CSV for spreadsheets, JSON lines for scripts ---------------------- */

/* One CSV cell: always quoted, quotes doubled, and a cell a spreadsheet would run as a formula
 * (= + - @, tab, CR first) prefixed with an apostrophe. */
static void csv_cell(const char *s, bool last)
{
    s = s ? s : "";
    (void)fputc('"', stdout);
    if (strchr("=+-@\t\r", s[0]) && s[0]) {
        (void)fputc('\'', stdout);
    }
    for (; *s; s++) {
        if (*s == '"') {
            (void)fputc('"', stdout);
        }
        (void)fputc(*s, stdout);
    }
    (void)fputs(last ? "\"\r\n" : "\",", stdout);
}

static int ledger_row(void *ctx, const struct kura_ledger_entry *e)
{
    struct user_ctx *u = ctx;
    char at[KURA_TIME_STR_MAX], seq[KURA_NUM_STR_MAX];
    kura_clock_format(e->at, at);
    kura_fmt_u64(seq, e->seq);
    if (u->o.json) {
        return print_doc(json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s?}", "seq",
                                   (json_int_t)e->seq, "at", at, "actor", e->actor, "target",
                                   e->target, "action", e->action, "before", e->before, "after",
                                   e->after, "reason", e->reason, "request_id", e->request_id));
    }
    const char *cells[] = {seq,       at,       e->actor,  e->target,    e->action,
                           e->before, e->after, e->reason, e->request_id};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cells); i++) {
        csv_cell(cells[i], i + 1 == KURA_ARRAY_SIZE(cells));
    }
    return 0;
}

static int cli_user_ledger(struct user_ctx *u)
{
    int r = record(u, NULL);
    if (r == 0 && !u->o.json) {
        (void)fputs("seq,at,actor,target,action,before,after,reason,request_id\r\n", stdout);
    }
    return r == 0 ? kura_meta_ledger_list(u->meta, u->o.id, ledger_row, u) : r;
}

struct review {
    struct user_ctx *u;
    uint64_t app_passwords;
};

static int count_app_password(void *ctx, const struct kura_app_password *p)
{
    struct review *rv = ctx;
    rv->app_passwords += p->revoked_at == 0;
    return 0;
}

static int review_row(void *ctx, const struct kura_account *a)
{
    struct user_ctx *u = ctx;
    struct kura_account_auth st;
    struct review rv = {u, 0};
    int r = kura_meta_auth_get(u->meta, a->id, &st);
    r = r == 0 ? kura_meta_app_password_list(u->meta, a->id, count_app_password, &rv) : r;
    if (r < 0) {
        return r;
    }
    if (u->o.json) {
        json_t *doc = account_doc(a, &st);
        (void)json_object_set_new(doc, "app_passwords", json_integer((json_int_t)rv.app_passwords));
        return print_doc(doc);
    }
    char roles[128], last[KURA_TIME_STR_MAX] = "", until[KURA_TIME_STR_MAX] = "";
    char apps[KURA_NUM_STR_MAX];
    if (st.last_login_at) {
        kura_clock_format(st.last_login_at, last);
    }
    if (a->valid_until) {
        kura_clock_format(a->valid_until, until);
    }
    kura_fmt_u64(apps, rv.app_passwords);
    const char *cells[] = {a->id,
                           a->display_name,
                           a->affiliation,
                           roles_text(a->roles, roles, sizeof(roles)),
                           kura_account_status_name(a->status),
                           last,
                           until,
                           apps,
                           ""};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cells); i++) {
        csv_cell(cells[i], i + 1 == KURA_ARRAY_SIZE(cells));
    }
    return 0;
}

/* The annual review (棚卸し): every account with what a manager must confirm, and an empty
 * column for the confirmation. */
static int cli_user_review(struct user_ctx *u)
{
    int r = record(u, NULL);
    if (r == 0 && !u->o.json) {
        (void)fputs("id,display_name,affiliation,roles,status,last_login,valid_until,"
                    "app_passwords,confirmed_by\r\n",
                    stdout);
    }
    return r == 0 ? kura_meta_account_list(u->meta, review_row, u) : r;
}

/* break-glass ID --seal --minutes N [--otp-file F]: a sealed credential, shown once. */
static int seal(struct user_ctx *u, const struct kura_auth_change *c, uint32_t minutes)
{
    uint8_t key[32];
    char code[KURA_BREAK_GLASS_CODE_MAX + 1];
    int r = cli_identity_mac_key(u->keys, key);
    r = r == 0 ? kura_auth_break_glass_seal(u->meta, c, key, u->o.id, minutes, code) : r;
    sodium_memzero(key, sizeof(key));
    if (r == 0 && u->o.otp_file) {
        r = write_secret_file(u, code);
        if (r == 0) {
            (void)printf("sealed credential written to / 封緘コードの保存先: %s\n", u->o.otp_file);
        }
    } else if (r == 0 && u->o.json) {
        u->printed = true;
        r = print_doc(json_pack("{s:s,s:s,s:I}", "id", u->o.id, "sealed_credential", code,
                                "minutes", (json_int_t)minutes));
    } else if (r == 0) {
        (void)printf(
            "sealed credential / 封緘コード: %s\n"
            "(shown once: print it, seal it in an envelope and keep it offline; it enables "
            "%s alone for %u minutes, once / 一度だけ表示します。印刷して封筒に封緘し"
            "オフラインで保管してください。1回限り、%s を %u 分間単独で有効化します)\n",
            code, u->o.id, minutes, u->o.id, minutes);
    }
    sodium_memzero(code, sizeof(code));
    return r;
}

/* break-glass ID --unseal: the code from stdin, enables the account alone. */
static int unseal(struct user_ctx *u, const struct kura_auth_change *c)
{
    uint8_t key[32];
    char line[KURA_PASSWORD_MAX + 2];
    size_t len = 0;
    int64_t until = 0;
    int r = read_password_line(u, line, sizeof(line), &len);
    r = r == 0 ? cli_identity_mac_key(u->keys, key) : r;
    r = r == 0 ? kura_auth_break_glass_unseal(u->meta, c, key, u->o.id, line, len, &until) : r;
    sodium_memzero(key, sizeof(key));
    sodium_memzero(line, sizeof(line));
    if (r == KURA_EUNAUTH) {
        kura_buf_adds(&u->err, "the sealed credential does not open this account / "
                               "封緘コードがこのアカウントと一致しません");
    } else if (r == 0) {
        char at[KURA_TIME_STR_MAX];
        kura_clock_format(until, at);
        (void)printf("%s は %s まで有効です / %s is enabled until %s\n", u->o.id, at, u->o.id, at);
    }
    return r;
}

/* break-glass ID --designate | --minutes N | --seal --minutes N | --unseal: make an emergency
 * account, approve its use (the second approval, by another person, within an hour, enables
 * it), seal a credential that enables it alone, or use one. */
static int cmd_break_glass(struct user_ctx *u)
{
    uint64_t minutes = 0;
    const struct user_opts *o = &u->o;
    int modes = o->designate + o->seal + o->unseal + (o->minutes && !o->seal);
    if (modes != 1 || (o->seal && !o->minutes) || (o->unseal && o->minutes) ||
        (u->o.minutes &&
         (kura_parse_u64(u->o.minutes, strlen(u->o.minutes), 1440, &minutes) < 0 || !minutes))) {
        kura_buf_adds(&u->err, "give one of --designate, --minutes N, --seal --minutes N or "
                               "--unseal (N from 1 to 1440)");
        return -EINVAL;
    }
    int r = record(u, json_pack("{s:b,s:b,s:b,s:I}", "designate", o->designate, "seal", o->seal,
                                "unseal", o->unseal, "minutes", (json_int_t)minutes));
    struct kura_auth_change c = change_of(u);
    if (r < 0) {
        return r;
    }
    if (o->seal || o->unseal) {
        return o->seal ? seal(u, &c, (uint32_t)minutes) : unseal(u, &c);
    }
    if (u->o.designate) {
        r = kura_auth_break_glass_designate(u->meta, &c, u->o.id);
        if (r == 0) {
            (void)printf(
                "%s は非常用アカウントです（2名の承認で有効化）/ %s is an emergency account "
                "(enabled by two approvals)\n",
                u->o.id, u->o.id);
        }
        return r;
    }
    int64_t until = 0;
    r = kura_auth_break_glass_approve(u->meta, &c, u->o.id, (uint32_t)minutes, &until);
    if (r == 1) {
        (void)printf(
            "承認を記録しました。別の管理者の承認が1時間以内に必要です / approval recorded; "
            "a second administrator must approve within an hour\n");
    } else if (r == 0) {
        char at[KURA_TIME_STR_MAX];
        kura_clock_format(until, at);
        (void)printf("%s は %s まで有効です / %s is enabled until %s\n", u->o.id, at, u->o.id, at);
    } else if (r == KURA_EFORBIDDEN) {
        kura_buf_adds(&u->err, "the second approval must come from another administrator");
    }
    return r == 1 ? 0 : r;
}

struct command {
    const char *name;
    int (*fn)(struct user_ctx *u);
    bool needs_id, needs_keys;
};

static const struct command commands[] = {
    {"add", cmd_add, true, true},
    {"list", cmd_list, false, false},
    {"show", cmd_show, true, false},
    {"set-roles", cmd_set_roles, true, false},
    {"disable", cmd_status, true, false},
    {"enable", cmd_status, true, false},
    {"unlock", cmd_status, true, false},
    {"reset-password", cmd_reset, true, true},
    {"reset-mfa", cmd_reset, true, false},
    {"break-glass", cmd_break_glass, true, true},
    {"ledger", cli_user_ledger, false, false},
    {"review", cli_user_review, false, false},
};

static int usage(void)
{
    (void)fputs(
        "usage: kura user COMMAND --data DIR [ID] [options] [--json]\n"
        "  add ID [--roles R,...] [--name N] [--email E] [--affiliation A] [--phone P]\n"
        "         [--valid-from YYYY-MM-DD] [--valid-until YYYY-MM-DD]\n"
        "         [--otp-file FILE | --password-stdin]\n"
        "  list | show ID | set-roles ID --roles R,... | disable ID | enable ID | unlock ID\n"
        "  reset-password ID --verified-by METHOD [--verification TEXT]\n"
        "         [--otp-file FILE | --password-stdin]\n"
        "  reset-mfa ID --verified-by METHOD [--verification TEXT]\n"
        "  break-glass ID --designate | --minutes N   emergency accounts (two approvals)\n"
        "  break-glass ID --seal --minutes N [--otp-file FILE]   a sealed credential (one use)\n"
        "  break-glass ID --unseal   the sealed credential on stdin enables the account\n"
        "  ledger [ID] [--json]   the account ledger as CSV (JSON lines with --json)\n"
        "  review [--json]        the annual account review (棚卸し) as CSV\n"
        "  every change takes --reason TEXT for the ledger\n",
        stderr);
    return CLI_EXIT_USAGE;
}

int cli_user(int argc, char **argv)
{
    const struct command *cmd = NULL;
    for (size_t i = 0; argc >= 2 && i < KURA_ARRAY_SIZE(commands); i++) {
        cmd = strcmp(argv[1], commands[i].name) == 0 ? &commands[i] : cmd;
    }
    struct user_ctx u = {.datafd = -1, .err = KURA_BUF_INIT(4096)};
    if (!cmd || parse_opts(argc - 1, argv + 1, &u.o) < 0 || (cmd->needs_id && !u.o.id) ||
        (!cmd->needs_id && u.o.id && strcmp(cmd->name, "ledger") != 0)) {
        kura_buf_release(&u.err);
        return usage();
    }
    u.o.cmd = cmd->name;
    int r = open_ctx(&u, cmd->needs_keys);
    r = r == 0 ? cmd->fn(&u) : r;
    (void)fflush(stdout);
    char where[64];
    (void)snprintf(where, sizeof(where), "user %s", cmd->name);
    if (r < 0) {
        cli_error(where, "%s", u.err.len ? u.err.ptr : kura_strerror(r));
    } else if (r == 1) {
        (void)fprintf(stderr, "変更はありません / nothing to change\n");
    }
    if (r >= 0 && u.o.json && !u.printed && cmd->needs_id) {
        /* Commands that change something say so to scripts too. */
        KURA_IGNORE(print_doc(
            json_pack("{s:s,s:s,s:b}", "id", u.o.id, "command", cmd->name, "changed", r == 0)));
    }
    close_ctx(&u);
    return r < 0 ? (r == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL) : CLI_EXIT_OK;
}
