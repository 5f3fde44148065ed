/* syslog-forward — a test driver for the syslog area (built only with -Dtest_hooks=true).
 *
 *   syslog-forward --conf FILE --data DIR [--run SECONDS] [--follow]
 *
 * Reads kura.conf-style FILE (typically just a [syslog] section) and forwards the audit log of
 * the data folder DIR (DIR/audit, cursor in DIR/spool/, created 0700 when missing) with the
 * forwarder in its standalone form (no struct kura_audit: it polls the files, so a `kura serve`
 * may be writing the log meanwhile). Without --follow it exits 0 once everything in the log was
 * sent and confirmed; with --follow it runs until SIGTERM or SIGINT (exit 0). Either way it
 * gives up after SECONDS (default 60, exit 2). Before exiting it stops the forwarder (which
 * saves its cursor) and prints "confirmed=N sent=M messages=K connections=C failures=F".
 * Start-up refusals print the message and exit 1. tests/integration/test_syslog.py drives it
 * against a real rsyslog.
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
#include "syslog/syslog.h"

#ifndef KURA_TEST_HOOKS
#error "syslog-forward is a test driver: build with -Dtest_hooks=true"
#endif

static int usage(void)
{
    fprintf(stderr, "usage: syslog-forward --conf FILE --data DIR [--run SECONDS] [--follow]\n");
    return 64;
}

static int open_dir(int parent, const char *name, bool create, int *ret)
{
    if (create && mkdirat(parent, name, 0700) < 0 && errno != EEXIST) {
        return -errno;
    }
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    *ret = fd;
    return 0;
}

static int run(int auditfd, int spoolfd, const struct kura_conf *conf, uint64_t seconds,
               bool follow)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    (void)pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct kura_buf err = KURA_BUF_INIT(4096);
    struct kura_syslog *s = NULL;
    int r = kura_syslog_start(auditfd, spoolfd, NULL, conf, &s, &err);
    if (r < 0) {
        fprintf(stderr, "syslog-forward: %s\n", err.ptr ? err.ptr : kura_strerror(r));
        kura_buf_release(&err);
        return 1;
    }
    kura_buf_release(&err);
    int64_t deadline = kura_clock_mono_ms() + (int64_t)seconds * 1000;
    int status = 2;
    struct kura_syslog_status st;
    while (kura_clock_mono_ms() < deadline) {
        kura_syslog_status(s, &st);
        if (!follow && st.caught_up) {
            status = 0;
            break;
        }
        struct timespec ts = {0, 50 * 1000000L}; /* the forwarder's status is what is polled */
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            status = 0;
            break;
        }
    }
    s = kura_syslog_stop(s);
    return status;
}

static void print_cursor(int spoolfd, int status)
{
    /* The forwarder is gone; the cursor file is what a restart would resume from. */
    char buf[256];
    int fd = openat(spoolfd, KURA_SYSLOG_CURSOR, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
    printf("status=%d\n%s", status, buf);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"conf", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"run", required_argument, NULL, 'r'},
        {"follow", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    const char *conf_path = NULL, *data = NULL;
    uint64_t seconds = 60;
    bool follow = false;
    for (;;) {
        int c = getopt_long(argc, argv, "", opts, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'c':
            conf_path = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'r':
            if (kura_parse_u64(optarg, strlen(optarg), 3600, &seconds) < 0) {
                return usage();
            }
            break;
        case 'f':
            follow = true;
            break;
        default:
            return usage();
        }
    }
    if (!conf_path || !data || optind != argc) {
        return usage();
    }
    kura_log_set_level(KURA_LOG_DEBUG);
    struct kura_buf err = KURA_BUF_INIT(4096);
    struct kura_conf *conf = NULL;
    int r = kura_conf_load(conf_path, &conf, &err);
    if (r < 0) {
        fprintf(stderr, "syslog-forward: %s\n", err.ptr ? err.ptr : kura_strerror(r));
        kura_buf_release(&err);
        return 1;
    }
    kura_buf_release(&err);
    int datafd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int auditfd = -1, spoolfd = -1;
    r = datafd < 0 ? -errno : open_dir(datafd, "audit", false, &auditfd);
    if (r == 0) {
        r = open_dir(datafd, "spool", true, &spoolfd);
    }
    int status = 1;
    if (r < 0) {
        fprintf(stderr, "syslog-forward: %s: %s\n", data, kura_strerror(r));
    } else {
        status = run(auditfd, spoolfd, conf, seconds, follow);
        print_cursor(spoolfd, status);
    }
    if (auditfd >= 0) {
        close(auditfd);
    }
    if (spoolfd >= 0) {
        close(spoolfd);
    }
    if (datafd >= 0) {
        close(datafd);
    }
    kura_conf_free(conf);
    return status;
}
