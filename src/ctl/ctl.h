/* ctl — how kura processes share one data folder: the single-writer lock and the local admin
 * socket.
 *
 * Invariants: at most one process writes a data folder. `kura serve` holds DATA/kura.lock
 * (flock, with its pid written inside) for its whole life. A state-changing CLI command either
 * takes the same lock itself (no server running) or sends its request to the running server
 * over DATA/kura.sock — never both, so two writers never touch the folder at once.
 *
 * Admin socket protocol: a UNIX stream socket, mode 0600 inside the 0700 data folder. The client
 * sends one JSON object terminated by '\n' (at most KURA_CTL_MAX_MSG bytes), the server answers
 * with one JSON object and '\n' and closes: {"ok":true,...} or {"ok":false,"error":{"code":...,
 * "message":...}}. The server checks the peer's credentials (SO_PEERCRED): only root and the
 * server's own user are served. A client that does not complete its request within
 * KURA_CTL_TIMEOUT_MS is disconnected.
 */
#pragma once

#include <jansson.h>
#include <sys/types.h>

#include "base/base.h"

#define KURA_CTL_LOCK_NAME "kura.lock"
#define KURA_CTL_SOCKET_NAME "kura.sock"
#define KURA_CTL_MAX_MSG (64 * 1024)
#define KURA_CTL_TIMEOUT_MS 5000

/* ---- the writer lock ---------------------------------------------------------------------- */

struct kura_ctl_lock;

/* Takes the writer lock of the data folder open as datafd. KURA_ELOCKED when another process
 * holds it; *ret_holder then names its pid (0 if unknown). Release with kura_ctl_lock_release. */
KURA_MUST_CHECK int kura_ctl_lock_take(int datafd, struct kura_ctl_lock **ret, pid_t *ret_holder);
/* Accepts NULL; returns NULL. */
struct kura_ctl_lock *kura_ctl_lock_release(struct kura_ctl_lock *l);

/* ---- the admin socket: server side -------------------------------------------------------- */

/* Handles one request from the process with uid peer_uid (from SO_PEERCRED: the only identity
 * a handler may trust); req is borrowed. Sets *ret_reply to a new object (the server adds "ok")
 * and returns 0, or returns a negative code, answered as an error. Runs on the admin thread. */
typedef int (*kura_ctl_handler_fn)(void *ctx, uid_t peer_uid, const char *cmd, json_t *req,
                                   json_t **ret_reply);

struct kura_ctl_server;

/* Binds DATA/kura.sock (replacing a stale socket left by a crashed server: the caller holds the
 * writer lock, so no live server owns it) and serves requests on a thread of its own. */
KURA_MUST_CHECK int kura_ctl_server_start(int datafd, kura_ctl_handler_fn fn, void *ctx,
                                          struct kura_ctl_server **ret);
/* Stops the thread, removes the socket; accepts NULL; returns NULL. */
struct kura_ctl_server *kura_ctl_server_stop(struct kura_ctl_server *s);

/* ---- the admin socket: client side -------------------------------------------------------- */

/* Sends req to the server of the data folder open as datafd and returns its reply (the caller
 * json_decref's it). -ENOENT / -ECONNREFUSED when no server listens. A reply with "ok": false
 * is returned as KURA_EFORBIDDEN or the matching code, with its message in ret_err. */
KURA_MUST_CHECK int kura_ctl_call(int datafd, json_t *req, json_t **ret_reply,
                                  struct kura_buf *ret_err);
