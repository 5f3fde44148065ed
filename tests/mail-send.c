/* mail-send — a test driver for the mail area (built only with -Dtest_hooks=true).
 *
 *   mail-send --conf FILE --spool DIR [--to ADDR]... [--subject TEXT] [--run SECONDS]
 *             [--shift-ms MS]
 *
 * Reads kura.conf-style FILE (typically just a [mail] section). With --to, queues one message
 * into DIR/mail/ (From: [mail] from; the body is read from stdin) and prints its id. With --run,
 * starts the mailer and runs it until the spool holds no pending mail (exit 0), SIGTERM or
 * SIGINT (exit 0), or SECONDS pass (exit 2). SIGUSR1 moves the test clock forward by --shift-ms
 * (default one hour) and kicks the mailer, so that retries and expiry happen at once. Before
 * exiting it prints "pending=N failed=M". Start-up refusals print the message and exit 1.
 * tests/integration/test_mail.py drives it against a real SMTP server (aiosmtpd).
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "mail/mail.h"

#ifndef KURA_TEST_HOOKS
#error "mail-send needs the test clock: build with -Dtest_hooks=true"
#endif

static int usage(void)
{
    fprintf(stderr, "usage: mail-send --conf FILE --spool DIR [--to ADDR]... [--subject TEXT]"
                    " [--run SECONDS] [--shift-ms MS]\n");
    return 64;
}

static int read_stdin(struct kura_buf *out)
{
    char chunk[8192];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return kura_buf_err(out);
        }
        kura_buf_add(out, chunk, (size_t)n);
    }
}

static int parse_num(const char *s, uint64_t max, uint64_t *ret)
{
    return kura_parse_u64(s, strlen(s), max, ret);
}

static void print_counts(int spoolfd)
{
    size_t pending = 0, failed = 0;
    if (kura_mail_spool_count(spoolfd, &pending, &failed) == 0) {
        printf("pending=%zu failed=%zu\n", pending, failed);
    }
}

/* Runs the mailer until the spool is empty, a stop signal or the deadline. */
static int run(int spoolfd, const struct kura_conf *conf, uint64_t seconds, int64_t shift_ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Blocked before the mailer thread exists, so that it inherits the mask. */
    (void)pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct kura_buf err = KURA_BUF_INIT(4096);
    struct kura_mailer *m = NULL;
    int r = kura_mailer_start(spoolfd, conf, &m, &err);
    if (r < 0) {
        fprintf(stderr, "mail-send: %s\n", err.ptr ? err.ptr : kura_strerror(r));
        kura_buf_release(&err);
        return 1;
    }
    kura_buf_release(&err);
    kura_mailer_kick(m);
    int64_t deadline = kura_clock_mono_ms() - kura_clock_offset_ms() + (int64_t)seconds * 1000;
    int status = 2;
    while (kura_clock_mono_ms() - kura_clock_offset_ms() < deadline) {
        size_t pending = 0, failed = 0;
        r = kura_mail_spool_count(spoolfd, &pending, &failed);
        if (r == 0 && pending == 0) {
            status = 0;
            break;
        }
        struct timespec ts = {0, 50 * 1000000L}; /* the spool count is the event polled for */
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGUSR1) {
            kura_clock_shift_ms(shift_ms);
            kura_mailer_kick(m);
        } else if (sig == SIGTERM || sig == SIGINT) {
            status = 0;
            break;
        }
    }
    m = kura_mailer_stop(m);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"conf", required_argument, NULL, 'c'},
        {"spool", required_argument, NULL, 's'},
        {"to", required_argument, NULL, 't'},
        {"subject", required_argument, NULL, 'j'},
        {"run", required_argument, NULL, 'r'},
        {"shift-ms", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    const char *conf_path = NULL, *spool = NULL, *subject = "";
    const char *to[KURA_MAIL_RCPT_MAX + 1];
    size_t nto = 0;
    uint64_t seconds = 0, shift = 3600 * 1000;
    for (;;) {
        int c = getopt_long(argc, argv, "", opts, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'c':
            conf_path = optarg;
            break;
        case 's':
            spool = optarg;
            break;
        case 't':
            if (nto == KURA_ARRAY_SIZE(to)) {
                return usage();
            }
            to[nto++] = optarg;
            break;
        case 'j':
            subject = optarg;
            break;
        case 'r':
            if (parse_num(optarg, 3600, &seconds) < 0) {
                return usage();
            }
            break;
        case 'm':
            if (parse_num(optarg, INT32_MAX, &shift) < 0) {
                return usage();
            }
            break;
        default:
            return usage();
        }
    }
    if (!conf_path || !spool || optind != argc) {
        return usage();
    }
    struct kura_buf err = KURA_BUF_INIT(4096);
    struct kura_conf *conf = NULL;
    int r = kura_conf_load(conf_path, &conf, &err);
    if (r == 0) {
        r = kura_conf_check(conf, &err);
    }
    if (r < 0) {
        fprintf(stderr, "mail-send: %s\n", err.ptr ? err.ptr : kura_strerror(r));
        kura_buf_release(&err);
        kura_conf_free(conf);
        return 1;
    }
    kura_buf_release(&err);
    int spoolfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (spoolfd < 0) {
        fprintf(stderr, "mail-send: %s: %s\n", spool, strerror(errno));
        kura_conf_free(conf);
        return 1;
    }
    int status = 0;
    if (nto > 0) {
        struct kura_buf body = KURA_BUF_INIT(KURA_MAIL_BODY_MAX + 1);
        char id[KURA_MAIL_ID_MAX];
        r = read_stdin(&body);
        if (r == 0) {
            struct kura_mail_msg msg = {to, nto, kura_str_c(subject), kura_buf_str(&body)};
            r = kura_mail_queue(spoolfd, &msg, conf->mail.from, id);
        }
        kura_buf_release(&body);
        if (r < 0) {
            fprintf(stderr, "mail-send: queue: %s\n", kura_strerror(r));
            status = 1;
        } else {
            printf("queued %s\n", id);
            (void)fflush(stdout);
        }
    }
    if (status == 0 && seconds > 0) {
        status = run(spoolfd, conf, seconds, (int64_t)shift);
    }
    print_counts(spoolfd);
    close(spoolfd);
    kura_conf_free(conf);
    return status;
}
