/* Unit tests for the writer lock and the admin socket: exclusivity, holder pid, request and
 * reply, error replies, malformed and oversize requests, peer-credential refusal. Needs root
 * (it switches a child to another uid); exits 77 (skipped, and reported as such) otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/ctl.h"

static char dir[64];
static int datafd = -1;

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-test-ctl-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    datafd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    return datafd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)unlinkat(datafd, KURA_CTL_LOCK_NAME, 0);
    (void)unlinkat(datafd, KURA_CTL_SOCKET_NAME, 0);
    close(datafd);
    return rmdir(dir);
}

static void test_lock_exclusive(void **state)
{
    (void)state;
    struct kura_ctl_lock *a = NULL, *b = NULL;
    pid_t holder = -1;
    assert_int_equal(kura_ctl_lock_take(datafd, &a, &holder), 0);
    assert_int_equal(kura_ctl_lock_take(datafd, &b, &holder), KURA_ELOCKED);
    assert_null(b);
    assert_int_equal(holder, getpid());
    a = kura_ctl_lock_release(a);
    assert_int_equal(kura_ctl_lock_take(datafd, &b, &holder), 0);
    kura_ctl_lock_release(b);
}

static int handler(void *ctx, uid_t peer_uid, const char *cmd, json_t *req, json_t **ret_reply)
{
    (*(int *)ctx)++;
    assert_int_equal(peer_uid, geteuid());
    if (strcmp(cmd, "echo") == 0) {
        *ret_reply = json_pack("{s:O}", "got", json_object_get(req, "value"));
        return 0;
    }
    return KURA_ENOTFOUND;
}

static void test_call_and_errors(void **state)
{
    (void)state;
    int calls = 0;
    struct kura_ctl_server *s = NULL;
    assert_int_equal(kura_ctl_server_start(datafd, handler, &calls, &s), 0);
    struct stat st;
    assert_int_equal(fstatat(datafd, KURA_CTL_SOCKET_NAME, &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    json_t *req = json_pack("{s:s,s:i}", "cmd", "echo", "value", 42), *reply = NULL;
    struct kura_buf err = KURA_BUF_INIT(1024);
    assert_int_equal(kura_ctl_call(datafd, req, &reply, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(reply, "got")), 42);
    assert_true(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
    json_decref(req);

    req = json_pack("{s:s}", "cmd", "nope");
    assert_int_equal(kura_ctl_call(datafd, req, &reply, &err), KURA_ENOTFOUND);
    assert_non_null(strstr(err.ptr, "no such resource"));
    json_decref(req);

    /* Not an object, no cmd, or no newline before close: refused, server keeps running. */
    const char *bad[] = {"[1,2]\n", "{\"x\":1}\n", "{\"cmd\":", "not json\n"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad); i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        (void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, KURA_CTL_SOCKET_NAME);
        assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
        assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
        shutdown(fd, SHUT_WR);
        char buf[512] = "";
        assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
        assert_non_null(strstr(buf, "\"ok\":false"));
        close(fd);
    }
    /* An oversize request is refused, not buffered without end. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    (void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, KURA_CTL_SOCKET_NAME);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    char big[8192];
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 9; i++) {
        if (send(fd, big, sizeof(big), MSG_NOSIGNAL) < 0) {
            break; /* the server may already have answered and closed */
        }
    }
    char buf[512] = "";
    assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
    assert_non_null(strstr(buf, "too_big"));
    close(fd);
    assert_int_equal(calls, 2);
    kura_buf_release(&err);
    s = kura_ctl_server_stop(s);
    assert_int_equal(fstatat(datafd, KURA_CTL_SOCKET_NAME, &st, 0), -1);
}

static void test_peer_credentials(void **state)
{
    (void)state;
    int calls = 0;
    struct kura_ctl_server *s = NULL;
    assert_int_equal(kura_ctl_server_start(datafd, handler, &calls, &s), 0);
    /* Open the way for another user so that only the credential check stands in between. */
    assert_int_equal(fchmodat(datafd, KURA_CTL_SOCKET_NAME, 0666, 0), 0);
    assert_int_equal(fchmod(datafd, 0755), 0);
    pid_t child = fork();
    if (child == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0) {
            _exit(10);
        }
        /* Changing uid clears the dumpable flag, which makes /proc/self/fd (the path the client
         * reaches the socket by) root-owned; a real client never changes uid. */
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) {
            _exit(12);
        }
        json_t *req = json_pack("{s:s,s:i}", "cmd", "echo", "value", 1), *reply = NULL;
        int r = kura_ctl_call(datafd, req, &reply, NULL);
        if (r != KURA_EFORBIDDEN) {
            fprintf(stderr, "child: kura_ctl_call gave %d (%s)\n", r, kura_strerror(r));
        }
        _exit(r == KURA_EFORBIDDEN ? 0 : 11);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(calls, 0);
    kura_ctl_server_stop(s);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test-ctl needs root to test peer credentials\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_credentials, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
