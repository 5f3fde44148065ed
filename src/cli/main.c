/* main.c — `kura` entry point and the small subcommands (help, version, config, status). */
#include "cli/cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/policy.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "kura-config.h"

static void help(FILE *f)
{
    (void)fputs(
        "usage: kura <command> [options]\n"
        "\n"
        "kura is a secure data server for controlled-access human research data.\n"
        "\n"
        "commands:\n"
        "  init      create a data folder: kura init --data DIR [--admin ID]\n"
        "  serve     serve HTTPS from a data folder: kura serve --data DIR\n"
        "  status    ask a running server how it is: kura status --data DIR\n"
        "  config    check --data DIR [--json] | defaults | reference: validate kura.conf and\n"
        "            lint the password policy against MHLW 6.0 and NIST SP 800-63B\n"
        "  audit     verify | prove | consistency | search | key: the tamper-evident audit log\n"
        "  alerts    list | ack: what the alert rules raised, and its handling\n"
        "  user      add | list | show | set-roles | disable | enable | unlock | reset-password |\n"
        "            reset-mfa | ledger | review: accounts and the account ledger\n"
        "  report    monthly: the monthly audit report (HTML and CSV)\n"
        "  fsck      check every stored object: kura fsck --data DIR [--json] [--strict]\n"
        "  keys      list | rotate | prune: the Crypt4GH server key and the retired keys\n"
        "  export    a file as a standard .c4gh: kura export --data DIR --user ID --path P\n"
        "            --out FILE [--recipient PUBKEY]\n"
        "  files     trash | restore | versions | restore-version: a person's trash and file\n"
        "            versions: kura files trash --data DIR --user ID\n"
        "  purge     destroy a file for good, with a signed deletion certificate:\n"
        "            kura purge --data DIR --user ID --path P [--out FILE]\n"
        "  verify-certificate  check a deletion certificate: kura verify-certificate FILE\n"
        "            --data DIR | --public-key FILE\n"
        "  help      this text\n"
        "  version   the version (also --version)\n"
        "\n"
        "Run kura <command> --help for a command's options. Documentation: docs/.\n",
        f);
}

static int version(void)
{
    (void)printf("kura %s (test hooks: %s)\n", KURA_VERSION,
#ifdef KURA_TEST_HOOKS
                 "enabled"
#else
                 "none"
#endif
    );
    return CLI_EXIT_OK;
}

/* The findings of the compliance lint, each in English and Japanese. */
static void print_lint_text(const struct kura_lint *lint, const char *reason)
{
    for (size_t i = 0; i < lint->n; i++) {
        const struct kura_lint_finding *f = &lint->items[i];
        (void)printf("%s: %s: %s\n", kura_lint_level_name(f->level, KURA_LANG_EN), f->key,
                     f->message_en);
        (void)printf("%s: %s: %s\n", kura_lint_level_name(f->level, KURA_LANG_JA), f->key,
                     f->message_ja);
    }
    if (kura_lint_count(lint, KURA_LINT_OVERRIDDEN) > 0) {
        struct kura_buf q = KURA_BUF_INIT(8192);
        kura_buf_add_escaped(&q, reason, strlen(reason));
        const char *text = kura_buf_err(&q) == 0 ? kura_buf_str(&q).ptr : "?";
        (void)printf("errors overridden by [compliance] override_reason = \"%s\"\n", text);
        (void)printf("[compliance] override_reason によりエラーを上書き: \"%s\"\n", text);
        kura_buf_release(&q);
    }
}

static json_t *policy_json(const struct kura_password_policy *p)
{
    static const char *const classes[] = {"lower", "upper", "digit", "symbol", "letter"};
    static const char *const mfa[] = {"none", "privileged", "all"};
    json_t *cls = json_array();
    for (size_t i = 0; cls && i < KURA_ARRAY_SIZE(classes); i++) {
        if (p->required_classes & (1u << i)) {
            (void)json_array_append_new(cls, json_string(classes[i]));
        }
    }
    return json_pack(
        "{s:s,s:I,s:I,s:I,s:s,s:o*,s:I,s:b,s:b,s:I,s:I,s:b,s:s,s:I,s:s,s:I,s:I,s:I,s:I,s:I}",
        "profile", p->name, "overrides", (json_int_t)p->overrides, "min_length",
        (json_int_t)p->min_length, "max_length", (json_int_t)p->max_length, "charset",
        p->charset == KURA_PASSWORD_CHARSET_ALNUM ? "alnum" : "any", "required_classes", cls,
        "min_classes", (json_int_t)p->min_classes, "forbid_user_info", p->forbid_user_info,
        "dictionary", p->dictionary, "history", (json_int_t)p->history, "max_age_days",
        (json_int_t)p->max_age_days, "change_first_login", p->change_first_login, "mfa",
        (unsigned)p->mfa < KURA_ARRAY_SIZE(mfa) ? mfa[p->mfa] : "?", "lockout_threshold",
        (json_int_t)p->lockout_threshold, "lockout_mode",
        p->lockout_mode == KURA_LOCKOUT_DURATION ? "duration" : "until-reset", "lockout_seconds",
        (json_int_t)p->lockout_seconds, "backoff_after", (json_int_t)p->backoff_after,
        "backoff_max_seconds", (json_int_t)p->backoff_max_seconds, "id_min_length",
        (json_int_t)p->id_rule.min_len, "id_max_length", (json_int_t)p->id_rule.max_len);
}

/* {"file", "ok", "error" (a configuration error) or "policy", "override_reason", "counts",
 * "findings": [{"level", "code", "key", "message_en", "message_ja"}]}. */
static int print_check_json(const char *file, int r, const char *error,
                            const struct kura_password_policy *p, const char *reason,
                            const struct kura_lint *lint, bool ok)
{
    json_t *o = json_pack("{s:s,s:b}", "file", file, "ok", ok);
    json_t *findings = json_array();
    if (!o || !findings) {
        json_decref(o);
        json_decref(findings);
        return -ENOMEM;
    }
    if (r < 0) {
        (void)json_object_set_new(o, "error", json_string(error));
    } else {
        (void)json_object_set_new(o, "policy", policy_json(p));
        (void)json_object_set_new(o, "override_reason",
                                  reason[0] ? json_string(reason) : json_null());
        (void)json_object_set_new(
            o, "counts",
            json_pack("{s:I,s:I,s:I}", "error", (json_int_t)kura_lint_count(lint, KURA_LINT_ERROR),
                      "warning", (json_int_t)kura_lint_count(lint, KURA_LINT_WARNING), "overridden",
                      (json_int_t)kura_lint_count(lint, KURA_LINT_OVERRIDDEN)));
    }
    for (size_t i = 0; lint && i < lint->n; i++) {
        const struct kura_lint_finding *f = &lint->items[i];
        (void)json_array_append_new(findings,
                                    json_pack("{s:s,s:s,s:s,s:s,s:s}", "level",
                                              kura_lint_level_name(f->level, KURA_LANG_EN), "code",
                                              f->code, "key", f->key, "message_en", f->message_en,
                                              "message_ja", f->message_ja));
    }
    (void)json_object_set_new(o, "findings", findings);
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!text) {
        return -ENOMEM;
    }
    (void)printf("%s\n", text);
    free(text);
    return 0;
}

/* kura config check --data DIR [--json]: parse and cross-check kura.conf, then run the
 * compliance lint of the password policy (auth/policy.h). Exit 1 on the first configuration
 * error, or when the lint reports an error that [compliance] override_reason does not
 * override; warnings are printed and do not fail. */
static int config_check(const char *data, bool json)
{
    struct kura_buf err = KURA_BUF_INIT(16384), path = KURA_BUF_INIT(8192);
    struct kura_conf *c = NULL;
    struct kura_lint lint = KURA_LINT_INIT;
    struct kura_password_policy policy = {0};
    int fd = -1;
    int r = cli_data_open(data, &fd, &err);
    kura_closep(&fd);
    if (r == 0) {
        r = cli_data_path(data, CLI_CONF_NAME, &path);
    }
    if (r == 0) {
        r = kura_conf_load(path.ptr, &c, &err);
    }
    if (r == 0) {
        r = kura_conf_check(c, &err);
    }
    if (r == 0) {
        r = kura_password_policy_resolve(c, &policy, &err);
    }
    if (r == 0) {
        r = kura_auth_lint_policy(&policy, c->compliance.override_reason, &lint);
    }
    const char *file = path.len ? path.ptr : data;
    const char *reason = c ? c->compliance.override_reason : "";
    size_t errors = kura_lint_count(&lint, KURA_LINT_ERROR);
    const char *message = err.len ? err.ptr : kura_strerror(r);
    if (json) {
        int w = print_check_json(file, r, message, &policy, reason, &lint, r == 0 && errors == 0);
        if (r == 0) {
            r = w;
        }
    } else if (r == 0) {
        print_lint_text(&lint, reason);
    }
    if (r < 0) {
        cli_error("config check", "%s", message);
    } else if (errors > 0) {
        cli_error("config check",
                  "%s: %zu compliance error(s); change the settings named above, or state why kura "
                  "may run anyway in [compliance] override_reason",
                  file, errors);
    } else if (!json) {
        (void)printf("%s: ok\n", file);
    }
    kura_lint_release(&lint);
    kura_conf_free(c);
    kura_buf_release(&err);
    kura_buf_release(&path);
    return r < 0 || errors > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int print_buf(int r, struct kura_buf *b)
{
    if (r == 0) {
        (void)fwrite(b->ptr, 1, b->len, stdout);
    }
    kura_buf_release(b);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_config(int argc, char **argv)
{
    static const char usage[] =
        "usage: kura config check --data DIR [--json] | defaults | reference\n";
    if (argc == 2 && strcmp(argv[1], "defaults") == 0) {
        struct kura_conf *c = kura_conf_new();
        struct kura_buf b = KURA_BUF_INIT(1 << 20);
        int r = c ? kura_conf_write(c, &b) : -ENOMEM;
        kura_conf_free(c);
        return print_buf(r, &b);
    }
    if (argc == 2 && strcmp(argv[1], "reference") == 0) {
        struct kura_buf b = KURA_BUF_INIT(1 << 20);
        return print_buf(kura_conf_reference(&b), &b);
    }
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        const char *data = NULL;
        bool json = false, bad = false;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--data") == 0 && i + 1 < argc && !data) {
                data = argv[++i];
            } else if (strcmp(argv[i], "--json") == 0 && !json) {
                json = true;
            } else {
                bad = true;
            }
        }
        if (data && !bad) {
            return config_check(data, json);
        }
    }
    (void)fputs(usage, argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
    return argc == 2 && strcmp(argv[1], "--help") == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* Sends one command to the running server and prints the reply as JSON. */
static int call_server(const char *cmdname, const char *data, json_t *req)
{
    struct kura_buf err = KURA_BUF_INIT(16384);
    int fd = -1;
    json_t *reply = NULL;
    int r = cli_data_open(data, &fd, &err);
    if (r == 0) {
        r = kura_ctl_call(fd, req, &reply, &err);
        if (r == -ENOENT || r == -ECONNREFUSED) {
            kura_buf_addf(&err, "no kura server is running on '%s'", data);
        }
    }
    kura_closep(&fd);
    if (r < 0) {
        cli_error(cmdname, "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        char *text = json_dumps(reply, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (text) {
            (void)printf("%s\n", text);
            free(text);
        }
    }
    json_decref(reply);
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_status(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--data") != 0) {
        (void)fputs("usage: kura status --data DIR\n", stderr);
        return CLI_EXIT_USAGE;
    }
    json_t *req = json_pack("{s:s}", "cmd", "status");
    int r = req ? call_server("status", argv[2], req) : CLI_EXIT_FAIL;
    json_decref(req);
    return r;
}

#ifdef KURA_TEST_HOOKS
/* kura debug audit-fail --data DIR on|off: makes the running server's audit writes fail. */
static int debug_audit_fail(int argc, char **argv)
{
    if (argc != 5 || strcmp(argv[2], "--data") != 0 ||
        (strcmp(argv[4], "on") != 0 && strcmp(argv[4], "off") != 0)) {
        (void)fputs("usage: kura debug audit-fail --data DIR on|off\n", stderr);
        return CLI_EXIT_USAGE;
    }
    json_t *req = json_pack("{s:s,s:b}", "cmd", "audit.fail", "on", strcmp(argv[4], "on") == 0);
    int r = req ? call_server("debug", argv[3], req) : CLI_EXIT_FAIL;
    json_decref(req);
    return r;
}

/* kura debug clock-shift --data DIR [-]MS: moves the running server's clock; kura debug
 * audit-delay --data DIR MS: holds each audit commit MS ms (test builds only). */
int cli_debug(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "audit-fail") == 0) {
        return debug_audit_fail(argc, argv);
    }
    bool shift = argc >= 2 && strcmp(argv[1], "clock-shift") == 0;
    bool delay = argc >= 2 && strcmp(argv[1], "audit-delay") == 0;
    uint64_t ms;
    bool neg = shift && argc == 5 && argv[4][0] == '-';
    const char *digits = argc == 5 ? argv[4] + neg : "";
    if (argc != 5 || !(shift || delay) || strcmp(argv[2], "--data") != 0 ||
        kura_parse_u64(digits, strlen(digits), shift ? INT64_MAX : 60000, &ms) < 0) {
        (void)fputs("usage: kura debug clock-shift --data DIR [-]MILLISECONDS\n"
                    "       kura debug audit-delay --data DIR MILLISECONDS\n"
                    "       kura debug audit-fail --data DIR on|off\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    json_t *req = json_pack("{s:s,s:I}", "cmd", shift ? "clock.shift" : "audit.delay", "ms",
                            neg ? -(json_int_t)ms : (json_int_t)ms);
    int r = req ? call_server("debug", argv[3], req) : CLI_EXIT_FAIL;
    json_decref(req);
    return r;
}
#endif

static void *json_alloc(size_t n)
{
    return kura_malloc(n);
}

int kura_cli_main(int argc, char **argv)
{
    /* jansson's copies of request bodies (passwords) are wiped when it frees them. */
    json_set_alloc_funcs(json_alloc, kura_free_wipe);
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"init", cli_init},     {"serve", cli_serve},
        {"config", cli_config}, {"status", cli_status},
        {"audit", cli_audit},   {"alerts", cli_alerts},
        {"user", cli_user},     {"report", cli_report},
        {"fsck", cli_fsck},     {"keys", cli_keys},
        {"export", cli_export}, {"files", cli_files},
        {"purge", cli_purge},   {"verify-certificate", cli_verify_certificate},
#ifdef KURA_TEST_HOOKS
        {"debug", cli_debug},
#endif
    };
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        return version();
    }
    for (size_t i = 0; i < KURA_ARRAY_SIZE(commands); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    cli_error(argv[1], "unknown command; see kura help");
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    /* Standard streams must exist: a secret written to "stdout" must not land in a file that
     * happens to get descriptor 1. */
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd) {
            return CLI_EXIT_FAIL;
        }
    }
    return kura_cli_main(argc, argv);
}
