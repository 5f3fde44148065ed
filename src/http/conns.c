/* conns.c — the connection registry and the slow-client sweeper.
 *
 * libmicrohttpd 0.9.75 only times out idle connections: a client sending one byte per second is
 * never idle and would hold its connection (and, with enough of them, the server) forever. kura
 * keeps a registry of open connections with the phase each is in; kura_http_sweep, run every
 * ~250 ms by the owner, shuts down the socket of any connection that
 *   - has not delivered complete request headers header_timeout seconds after accept or after
 *     its previous response (slow loris; also bounds idle keep-alive), or
 *   - is sending a body slower than min_upload_rate, measured over each upload_rate_window (a
 *     slow but honest upload keeps going; a trickle is cut).
 * shutdown(2) makes MHD's next read fail, and MHD closes and cleans up the connection on its own
 * thread. The registry lock is held while shutting down, and MHD reports a connection closed
 * (conns_closed, under the same lock) before it closes the descriptor, so the sweeper can never
 * shut down a reused descriptor.
 */
#include "http-internal.h"

#include <sys/socket.h>

void conns_started(struct kura_http_server *s, struct MHD_Connection *c, void **socket_context)
{
    struct conn_state *cs = kura_calloc(1, sizeof(*cs));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    atomic_fetch_add(&s->connections, 1);
    if (!cs || !ci) {
        kura_free(cs);
        *socket_context = NULL; /* unmonitored, still bounded by the idle timeout */
        return;
    }
    cs->fd = ci->connect_fd;
    atomic_store(&cs->phase, CONN_WAIT_HEADERS);
    atomic_store(&cs->phase_start_ms, kura_clock_mono_ms());
    pthread_mutex_lock(&s->conns_lock);
    cs->next = s->conns;
    if (s->conns) {
        s->conns->prev = cs;
    }
    s->conns = cs;
    pthread_mutex_unlock(&s->conns_lock);
    *socket_context = cs;
}

void conns_closed(struct kura_http_server *s, void **socket_context)
{
    struct conn_state *cs = *socket_context;
    atomic_fetch_sub(&s->connections, 1);
    if (!cs) {
        return;
    }
    pthread_mutex_lock(&s->conns_lock);
    if (cs->prev) {
        cs->prev->next = cs->next;
    } else {
        s->conns = cs->next;
    }
    if (cs->next) {
        cs->next->prev = cs->prev;
    }
    pthread_mutex_unlock(&s->conns_lock);
    kura_free(cs);
    *socket_context = NULL;
}

void conns_set_phase(struct conn_state *cs, enum conn_phase phase)
{
    int64_t now = kura_clock_mono_ms();
    atomic_store(&cs->phase_start_ms, now);
    atomic_store(&cs->window_start_ms, now);
    atomic_store(&cs->window_bytes, 0);
    atomic_store(&cs->phase, phase);
}

void conns_add_body_bytes(struct conn_state *cs, size_t n)
{
    atomic_fetch_add(&cs->window_bytes, n);
}

/* True when the connection has overstayed its phase's deadline. */
static bool too_slow(const struct kura_conf *conf, struct conn_state *cs, int64_t now)
{
    int phase = atomic_load(&cs->phase);
    if (phase == CONN_WAIT_HEADERS) {
        return now - atomic_load(&cs->phase_start_ms) > (int64_t)conf->http.header_timeout * 1000;
    }
    if (phase != CONN_BODY || conf->http.min_upload_rate == 0) {
        return false;
    }
    int64_t start = atomic_load(&cs->window_start_ms);
    int64_t window_ms = (int64_t)conf->http.upload_rate_window * 1000;
    if (now - start < window_ms) {
        return false;
    }
    uint64_t got = atomic_exchange(&cs->window_bytes, 0);
    atomic_store(&cs->window_start_ms, now);
    /* The whole window elapsed: compare the bytes against the rate over its real length. */
    uint64_t need = conf->http.min_upload_rate * (uint64_t)(now - start) / 1000;
    return got < need;
}

void kura_http_sweep(struct kura_http_server *s)
{
    int64_t now = kura_clock_mono_ms();
    unsigned killed = 0;
    pthread_mutex_lock(&s->conns_lock);
    for (struct conn_state *cs = s->conns; cs; cs = cs->next) {
        if (!cs->killed && too_slow(s->conf, cs, now)) {
            (void)shutdown(cs->fd, SHUT_RDWR);
            cs->killed = true;
            killed++;
        }
    }
    pthread_mutex_unlock(&s->conns_lock);
    if (killed) {
        char n[KURA_NUM_STR_MAX];
        kura_log(KURA_LOG_INFO, "slow_clients_disconnected", "count", kura_fmt_u64(n, killed),
                 NULL);
    }
}
