/* socket.c — the admin socket, server and client (protocol in ctl.h).
 *
 * sun_path holds at most 107 bytes, but a data folder may live at any depth. Both sides
 * therefore address the socket as /proc/self/fd/<datafd>/kura.sock: the kernel resolves the
 * directory through the descriptor, so the path stays short and names exactly the folder that
 * was opened.
 */
#include "ctl/ctl.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct kura_ctl_server {
    int datafd;
    int listen_fd;
    int stop_fd; /* eventfd: written to stop the thread */
    pthread_t thread;
    kura_ctl_handler_fn fn;
    void *ctx;
};

static int socket_addr(int datafd, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    int n = snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/self/fd/%d/%s", datafd,
                     KURA_CTL_SOCKET_NAME);
    return n > 0 && (size_t)n < sizeof(sun->sun_path) ? 0 : -ENAMETOOLONG;
}

/* Reads up to '\n' within the deadline; the line (without '\n') is left in buf. */
static int read_line(int fd, struct kura_buf *buf, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - kura_clock_mono_ms();
        if (left <= 0) {
            return KURA_ETIMEOUT;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR) {
            return -errno;
        }
        if (pr <= 0) {
            continue;
        }
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return KURA_ESYNTAX; /* closed before the end of the message */
        }
        const char *nl = memchr(chunk, '\n', (size_t)n);
        kura_buf_add(buf, chunk, nl ? (size_t)(nl - chunk) : (size_t)n);
        if (kura_buf_err(buf)) {
            return kura_buf_err(buf);
        }
        if (nl) {
            return 0;
        }
    }
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void send_json(int fd, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text) {
        KURA_IGNORE(write_all(fd, text, strlen(text)));
        KURA_IGNORE(write_all(fd, "\n", 1));
        free(text);
    }
}

static void send_error(int fd, int err)
{
    json_t *doc = json_pack("{s:b,s:{s:s,s:s}}", "ok", 0, "error", "code", kura_err_name(err),
                            "message", kura_strerror(err));
    if (doc) {
        send_json(fd, doc);
        json_decref(doc);
    }
}

static bool peer_allowed(int fd, uid_t *ret_uid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        return false;
    }
    *ret_uid = cred.uid;
    return cred.uid == 0 || cred.uid == geteuid();
}

static void serve_one(struct kura_ctl_server *s, int fd)
{
    uid_t uid = (uid_t)-1;
    if (!peer_allowed(fd, &uid)) {
        kura_log(KURA_LOG_WARN, "admin_socket_refused", "reason", "peer uid not allowed", NULL);
        send_error(fd, KURA_EFORBIDDEN);
        return;
    }
    struct kura_buf line = KURA_BUF_INIT(KURA_CTL_MAX_MSG);
    int r = read_line(fd, &line, kura_clock_mono_ms() + KURA_CTL_TIMEOUT_MS);
    json_t *req = NULL, *reply = NULL;
    const char *cmd = NULL;
    if (r == 0) {
        req = json_loadb(line.ptr ? line.ptr : "", line.len, JSON_REJECT_DUPLICATES, NULL);
        cmd = json_is_object(req) ? json_string_value(json_object_get(req, "cmd")) : NULL;
        r = cmd ? s->fn(s->ctx, uid, cmd, req, &reply) : KURA_ESYNTAX;
    }
    if (r < 0) {
        send_error(fd, r);
    } else {
        json_t *out = reply ? reply : json_object();
        if (out && json_object_set_new(out, "ok", json_true()) == 0) {
            send_json(fd, out);
        }
        reply = out;
    }
    json_decref(reply);
    json_decref(req);
    kura_buf_release(&line);
}

static void *server_thread(void *p)
{
    struct kura_ctl_server *s = p;
    for (;;) {
        struct pollfd fds[2] = {{s->listen_fd, POLLIN, 0}, {s->stop_fd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (fds[1].revents) {
            break;
        }
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        serve_one(s, fd);
        (void)close(fd);
    }
    return NULL;
}

int kura_ctl_server_start(int datafd, kura_ctl_handler_fn fn, void *ctx,
                          struct kura_ctl_server **ret)
{
    struct sockaddr_un sun;
    int r = socket_addr(datafd, &sun);
    if (r < 0) {
        return r;
    }
    struct kura_ctl_server *s = kura_calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    *s = (struct kura_ctl_server){
        .datafd = datafd, .listen_fd = -1, .stop_fd = -1, .fn = fn, .ctx = ctx};
    /* The caller holds the writer lock, so a socket file here is a crashed server's leftover. */
    (void)unlinkat(datafd, KURA_CTL_SOCKET_NAME, 0);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    mode_t old = umask(0177); /* the socket file is created 0600 */
    if (s->listen_fd < 0 || s->stop_fd < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        listen(s->listen_fd, 16) < 0) {
        r = -errno;
    }
    umask(old);
    if (r == 0) {
        r = -pthread_create(&s->thread, NULL, server_thread, s);
    }
    if (r < 0) {
        kura_closep(&s->listen_fd);
        kura_closep(&s->stop_fd);
        kura_free(s);
        return r;
    }
    (void)pthread_setname_np(s->thread, "kura-admin");
    *ret = s;
    return 0;
}

struct kura_ctl_server *kura_ctl_server_stop(struct kura_ctl_server *s)
{
    if (!s) {
        return NULL;
    }
    uint64_t one = 1;
    KURA_IGNORE(write(s->stop_fd, &one, sizeof(one)));
    pthread_join(s->thread, NULL);
    (void)unlinkat(s->datafd, KURA_CTL_SOCKET_NAME, 0);
    kura_closep(&s->listen_fd);
    kura_closep(&s->stop_fd);
    kura_free(s);
    return NULL;
}

/* Maps an error reply's code name back to a kura code for the caller. */
static int reply_error(json_t *reply, struct kura_buf *ret_err)
{
    json_t *e = json_object_get(reply, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));
    if (ret_err) {
        kura_buf_addf(ret_err, "server refused: %s", msg ? msg : "unknown error");
    }
    for (int r = KURA_EBADREQ; r > KURA_E_LAST; r--) {
        if (code && strcmp(code, kura_err_name(r)) == 0) {
            return r;
        }
    }
    return KURA_EINTERNAL;
}

int kura_ctl_call(int datafd, json_t *req, json_t **ret_reply, struct kura_buf *ret_err)
{
    struct sockaddr_un sun;
    int r = socket_addr(datafd, &sun);
    if (r < 0) {
        return r;
    }
    _cleanup_(kura_closep) int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        return -errno;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    if (!text) {
        return -ENOMEM;
    }
    r = write_all(fd, text, strlen(text));
    free(text);
    if (r == 0) {
        r = write_all(fd, "\n", 1);
    }
    /* A server that refuses (peer check, oversize request) answers and closes before reading
     * everything: the write fails, but its answer is waiting to be read. */
    if (r == -EPIPE || r == -ECONNRESET) {
        r = 0;
    }
    struct kura_buf line = KURA_BUF_INIT(KURA_CTL_MAX_MSG);
    if (r == 0) {
        r = read_line(fd, &line, kura_clock_mono_ms() + 60000);
    }
    json_t *reply = r == 0 ? json_loadb(line.ptr, line.len, 0, NULL) : NULL;
    kura_buf_release(&line);
    if (r < 0) {
        return r;
    }
    if (!json_is_object(reply)) {
        json_decref(reply);
        return KURA_ESYNTAX;
    }
    if (!json_is_true(json_object_get(reply, "ok"))) {
        r = reply_error(reply, ret_err);
        json_decref(reply);
        return r;
    }
    *ret_reply = reply;
    return 0;
}
