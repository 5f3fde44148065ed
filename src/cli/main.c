/* main.c — `kura` entry point and the small subcommands (help, version, config, status). */
#include "cli/cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
        "  config    check --data DIR | defaults | reference\n"
        "  audit     verify | prove | consistency | search | key: the tamper-evident audit log\n"
        "  alerts    list | ack: what the alert rules raised, and its handling\n"
        "  report    monthly: the monthly audit report (HTML and CSV)\n"
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

/* kura config check --data DIR: parse and cross-check kura.conf, exit 1 with the first error. */
static int config_check(const char *data)
{
    struct kura_buf err = KURA_BUF_INIT(16384), path = KURA_BUF_INIT(8192);
    struct kura_conf *c = NULL;
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
    if (r < 0) {
        cli_error("config check", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        (void)printf("%s: ok\n", path.ptr);
    }
    kura_conf_free(c);
    kura_buf_release(&err);
    kura_buf_release(&path);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
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
    static const char usage[] = "usage: kura config check --data DIR | defaults | reference\n";
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
    if (argc == 4 && strcmp(argv[1], "check") == 0 && strcmp(argv[2], "--data") == 0) {
        return config_check(argv[3]);
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

/* kura debug clock-shift --data DIR MS: moves the running server's clock (test builds only). */
int cli_debug(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "audit-fail") == 0) {
        return debug_audit_fail(argc, argv);
    }
    uint64_t ms;
    bool neg = argc == 5 && argv[4][0] == '-';
    const char *digits = argc == 5 ? argv[4] + neg : "";
    if (argc != 5 || strcmp(argv[1], "clock-shift") != 0 || strcmp(argv[2], "--data") != 0 ||
        kura_parse_u64(digits, strlen(digits), INT64_MAX, &ms) < 0) {
        (void)fputs("usage: kura debug clock-shift --data DIR [-]MILLISECONDS\n", stderr);
        return CLI_EXIT_USAGE;
    }
    json_t *req =
        json_pack("{s:s,s:I}", "cmd", "clock.shift", "ms", neg ? -(json_int_t)ms : (json_int_t)ms);
    int r = req ? call_server("debug", argv[3], req) : CLI_EXIT_FAIL;
    json_decref(req);
    return r;
}
#endif

int kura_cli_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"init", cli_init},     {"serve", cli_serve}, {"config", cli_config},
        {"status", cli_status}, {"audit", cli_audit}, {"alerts", cli_alerts},
        {"report", cli_report},
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
