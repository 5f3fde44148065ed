/* pipe.c — a bounded hand-off of segments between a transfer's connection thread and one worker
 * thread of its own, so that a large upload or download uses two cores instead of one.
 *
 * Why: on one thread a download authenticates and decrypts a segment (ChaCha20-Poly1305),
 * hashes it (SHA-256) and only then encrypts it again for TLS and sends it; an upload does the
 * same in the other order. Split in two, the worker does the Crypt4GH side (blob I/O, AEAD,
 * SHA-256) while the connection thread does TLS and the socket. Ordering and the integrity
 * rules do not change: segments pass through in order, one producer and one consumer, and a
 * download's worker publishes the last segment only after the end checks passed.
 *
 * Memory: PIPE_SLOTS buffers of one segment each (wiped when freed: they hold plaintext), so
 * the bound per transfer stays constant. Either side may fail the pipe (a sticky error that
 * wakes the other); the consumer sees a clean end only after the producer closed it.
 */
#include "store/store-internal.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

struct store_pipe {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a slot was filled or emptied, or the pipe closed or failed */
    pthread_t thread;
    bool started;
    store_pipe_fn fn;
    void *ctx;
    size_t cap;
    size_t head, count; /* next slot to read, slots filled */
    bool closed;        /* the producer is done */
    int err;            /* sticky */
    size_t len[PIPE_SLOTS];
    uint8_t *buf; /* PIPE_SLOTS * cap */
};

static void *pipe_main(void *arg)
{
    struct store_pipe *p = arg;
    (void)pthread_setname_np(pthread_self(), "kura-pipe");
    int r = p->fn(p->ctx, p);
    if (r < 0) {
        store_pipe_fail(p, r);
    }
    kura_sha256_thread_done();
    return NULL;
}

int store_pipe_start(size_t cap, store_pipe_fn fn, void *ctx, struct store_pipe **ret)
{
    struct store_pipe *p = kura_calloc(1, sizeof(*p));
    if (!p) {
        return -ENOMEM;
    }
    p->cap = cap;
    p->fn = fn;
    p->ctx = ctx;
    p->buf = kura_malloc(PIPE_SLOTS * cap);
    if (!p->buf || pthread_mutex_init(&p->lock, NULL) != 0) {
        kura_free(p->buf);
        kura_free(p);
        return -ENOMEM;
    }
    pthread_cond_init(&p->changed, NULL);
    int e = pthread_create(&p->thread, NULL, pipe_main, p);
    if (e != 0) {
        p->started = false;
        store_pipe_free(p);
        return -e;
    }
    p->started = true;
    *ret = p;
    return 0;
}

int store_pipe_finish(struct store_pipe *p)
{
    if (p->started) {
        (void)pthread_join(p->thread, NULL);
        p->started = false;
    }
    return p->err;
}

void store_pipe_free(struct store_pipe *p)
{
    if (!p) {
        return;
    }
    store_pipe_fail(p, -ECANCELED); /* a worker still waiting for a slot gives up */
    (void)store_pipe_finish(p);
    sodium_memzero(p->buf, PIPE_SLOTS * p->cap);
    kura_free(p->buf);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    kura_free(p);
}

void store_pipe_fail(struct store_pipe *p, int err)
{
    pthread_mutex_lock(&p->lock);
    if (p->err == 0) {
        p->err = err;
    }
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

uint8_t *store_pipe_acquire(struct store_pipe *p, int *ret_err)
{
    pthread_mutex_lock(&p->lock);
    while (p->err == 0 && p->count == PIPE_SLOTS) {
        pthread_cond_wait(&p->changed, &p->lock);
    }
    uint8_t *b = p->err == 0 ? p->buf + (p->head + p->count) % PIPE_SLOTS * p->cap : NULL;
    *ret_err = p->err;
    pthread_mutex_unlock(&p->lock);
    return b;
}

void store_pipe_publish(struct store_pipe *p, size_t len, bool last)
{
    pthread_mutex_lock(&p->lock);
    p->len[(p->head + p->count) % PIPE_SLOTS] = len;
    p->count++;
    p->closed = last;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

void store_pipe_close(struct store_pipe *p)
{
    pthread_mutex_lock(&p->lock);
    p->closed = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

const uint8_t *store_pipe_peek(struct store_pipe *p, size_t *ret_len, int *ret_err)
{
    pthread_mutex_lock(&p->lock);
    while (p->err == 0 && p->count == 0 && !p->closed) {
        pthread_cond_wait(&p->changed, &p->lock);
    }
    const uint8_t *b = NULL;
    *ret_err = p->err;
    *ret_len = 0;
    if (p->err == 0 && p->count > 0) {
        b = p->buf + p->head * p->cap;
        *ret_len = p->len[p->head];
    }
    pthread_mutex_unlock(&p->lock);
    return b; /* NULL with no error: closed and drained */
}

void store_pipe_release(struct store_pipe *p)
{
    pthread_mutex_lock(&p->lock);
    p->head = (p->head + 1) % PIPE_SLOTS;
    p->count--;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}
