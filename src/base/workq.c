/* workq.c — a fixed pool of threads with a bounded FIFO queue.
 *
 * Blocking work (Argon2id at 64 MiB per hash, waiting for a durable write) must never run on an
 * HTTP event-loop thread: the connection is suspended, the job runs here, the job resumes the
 * connection. The queue is bounded so that a flood is refused with -EAGAIN (the caller answers
 * 503) instead of growing memory without limit; the thread count bounds concurrent memory use.
 */
#include "base.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

struct job {
    kura_job_fn fn;
    void *arg;
};

struct kura_workq {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job *ring;
    unsigned cap, head, count, running, max_running;
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
    int nice; /* scheduling niceness of the workers (kura_workq_set_nice) */
};

static void *worker(void *p)
{
    struct kura_workq *q = p;
    int applied = 0;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->count == 0 && !q->stopping) {
            pthread_cond_wait(&q->wake, &q->lock);
        }
        if (q->count == 0) {
            break; /* stopping and drained */
        }
        struct job j = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->running++;
        if (q->running > q->max_running) {
            q->max_running = q->running;
        }
        int want = q->nice;
        pthread_mutex_unlock(&q->lock);
        if (want != applied) {
            /* Linux applies nice per thread (the thread's own id). */
            (void)setpriority(PRIO_PROCESS, (id_t)gettid(), want);
            applied = want;
        }
        j.fn(j.arg);
        pthread_mutex_lock(&q->lock);
        q->running--;
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

struct kura_workq *kura_workq_new(const char *name, unsigned threads, unsigned max_queued)
{
    if (threads == 0 || max_queued == 0) {
        errno = EINVAL;
        return NULL;
    }
    struct kura_workq *q = kura_calloc(1, sizeof(*q));
    if (!q) {
        return NULL;
    }
    q->ring = kura_calloc(max_queued, sizeof(*q->ring));
    q->threads = kura_calloc(threads, sizeof(*q->threads));
    if (!q->ring || !q->threads) {
        kura_free(q->ring);
        kura_free(q->threads);
        kura_free(q);
        errno = ENOMEM;
        return NULL;
    }
    q->cap = max_queued;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->wake, NULL);
    for (unsigned i = 0; i < threads; i++) {
        int e = pthread_create(&q->threads[i], NULL, worker, q);
        if (e != 0) {
            q->nthreads = i;
            (void)kura_workq_free(q);
            errno = e;
            return NULL;
        }
        char tname[24]; /* the kernel keeps the first 15 bytes */
        (void)snprintf(tname, sizeof(tname), "%.10s-%u", name, i % 1000);
        (void)pthread_setname_np(q->threads[i], tname);
    }
    q->nthreads = threads;
    return q;
}

void kura_workq_set_nice(struct kura_workq *q, int nice)
{
    pthread_mutex_lock(&q->lock);
    q->nice = nice;
    pthread_mutex_unlock(&q->lock);
}

int kura_workq_submit(struct kura_workq *q, kura_job_fn fn, void *arg)
{
    int r = 0;
    pthread_mutex_lock(&q->lock);
    if (q->stopping) {
        r = -ESHUTDOWN;
    } else if (q->count == q->cap) {
        r = -EAGAIN;
    } else {
        q->ring[(q->head + q->count) % q->cap] = (struct job){fn, arg};
        q->count++;
        pthread_cond_signal(&q->wake);
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

unsigned kura_workq_pending(struct kura_workq *q)
{
    pthread_mutex_lock(&q->lock);
    unsigned n = q->count + q->running;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void kura_workq_stats(struct kura_workq *q, unsigned *ret_running, unsigned *ret_queued,
                      unsigned *ret_max_running)
{
    pthread_mutex_lock(&q->lock);
    *ret_running = q->running;
    *ret_queued = q->count;
    *ret_max_running = q->max_running;
    pthread_mutex_unlock(&q->lock);
}

struct kura_workq *kura_workq_free(struct kura_workq *q)
{
    if (!q) {
        return NULL;
    }
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->nthreads; i++) {
        pthread_join(q->threads[i], NULL);
    }
    pthread_cond_destroy(&q->wake);
    pthread_mutex_destroy(&q->lock);
    kura_free(q->ring);
    kura_free(q->threads);
    kura_free(q);
    return NULL;
}
