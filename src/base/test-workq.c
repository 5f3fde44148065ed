/* Unit tests for the bounded work queue: every job runs once, a full queue refuses, shutdown
 * drains. Synchronisation is by condition variables, never by sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include "base/base.h"

static atomic_int ran;

static void count_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void test_all_jobs_run(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    struct kura_workq *q = kura_workq_new("t", 4, 1000);
    assert_non_null(q);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(kura_workq_submit(q, count_job, NULL), 0);
    }
    q = kura_workq_free(q); /* drains */
    assert_null(q);
    assert_int_equal(atomic_load(&ran), 1000);
}

/* A gate that holds the single worker busy while the test fills the queue. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, job_started;

static void gated_job(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    job_started = true;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    pthread_mutex_unlock(&gate_lock);
}

static void test_full_queue_refuses(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    gate_open = job_started = false;
    struct kura_workq *q = kura_workq_new("t", 1, 2);
    assert_int_equal(kura_workq_submit(q, gated_job, NULL), 0);
    pthread_mutex_lock(&gate_lock);
    while (!job_started) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    pthread_mutex_unlock(&gate_lock);
    assert_int_equal(kura_workq_submit(q, count_job, NULL), 0);
    assert_int_equal(kura_workq_submit(q, count_job, NULL), 0);
    assert_int_equal(kura_workq_submit(q, count_job, NULL), -EAGAIN);
    assert_int_equal(kura_workq_pending(q), 3);
    unsigned running, queued, max_running;
    kura_workq_stats(q, &running, &queued, &max_running);
    assert_int_equal(running, 1);
    assert_int_equal(queued, 2);
    assert_int_equal(max_running, 1); /* one thread: never more than one at once */
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    kura_workq_free(q);
    assert_int_equal(atomic_load(&ran), 2);
}

static void read_nice(void *arg)
{
    int *out = arg;
    errno = 0;
    *out = getpriority(PRIO_PROCESS, (id_t)gettid());
}

/* The workers take the niceness set for the pool at their next job; the caller keeps its own. */
static void test_nice(void **state)
{
    (void)state;
    int before = getpriority(PRIO_PROCESS, (id_t)gettid());
    struct kura_workq *q = kura_workq_new("nice", 1, 4);
    assert_non_null(q);
    kura_workq_set_nice(q, before + 5);
    int seen = -100;
    assert_int_equal(kura_workq_submit(q, read_nice, &seen), 0);
    q = kura_workq_free(q); /* runs what is queued */
    assert_int_equal(seen, before + 5);
    assert_int_equal(getpriority(PRIO_PROCESS, (id_t)gettid()), before);
}

static void test_bad_args(void **state)
{
    (void)state;
    assert_null(kura_workq_new("t", 0, 10));
    assert_null(kura_workq_new("t", 1, 0));
    assert_null(kura_workq_free(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_jobs_run),
        cmocka_unit_test(test_full_queue_refuses),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_nice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
