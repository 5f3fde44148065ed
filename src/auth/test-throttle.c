/* test-throttle.c — the back-off table (throttle.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/throttle.h"

static const struct kura_throttle_policy policy = {
    .free_failures = 4, .base_ms = 1000, .max_ms = 60000, .reset_ms = 3600000};

static void test_delays(void **state)
{
    (void)state;
    assert_int_equal(kura_throttle_delay_ms(&policy, 0), 0);
    assert_int_equal(kura_throttle_delay_ms(&policy, 3), 0);
    assert_int_equal(kura_throttle_delay_ms(&policy, 4), 1000); /* the 5th attempt waits */
    assert_int_equal(kura_throttle_delay_ms(&policy, 5), 2000);
    assert_int_equal(kura_throttle_delay_ms(&policy, 9), 32000);
    assert_int_equal(kura_throttle_delay_ms(&policy, 10), 60000);
    assert_int_equal(kura_throttle_delay_ms(&policy, UINT32_MAX), 60000);
}

static void test_backoff_grows_and_clears(void **state)
{
    (void)state;
    struct kura_throttle *t = NULL;
    assert_int_equal(kura_throttle_new(100, &policy, &t), 0);
    int64_t now = 1000000;
    for (uint64_t i = 1; i <= 4; i++) {
        assert_int_equal(kura_throttle_check(t, "alice", 5, now), 0);
        assert_int_equal(kura_throttle_fail(t, "alice", 5, i, now), i);
    }
    assert_int_equal(kura_throttle_check(t, "alice", 5, now), 1000);
    assert_int_equal(kura_throttle_check(t, "alice", 5, now + 400), 600);
    assert_int_equal(kura_throttle_check(t, "alice", 5, now + 1000), 0);
    assert_int_equal(kura_throttle_fail(t, "alice", 5, 5, now + 1000), 5);
    assert_int_equal(kura_throttle_check(t, "alice", 5, now + 1000), 2000);
    /* Other keys are independent; a success ends the run. */
    assert_int_equal(kura_throttle_check(t, "bob", 3, now), 0);
    kura_throttle_clear(t, "alice", 5);
    assert_int_equal(kura_throttle_check(t, "alice", 5, now + 1000), 0);
    assert_int_equal(kura_throttle_fail(t, "alice", 5, 9, now + 1000), 1);
    /* A run ends after reset_ms without failures. */
    for (uint64_t i = 2; i <= 6; i++) {
        (void)kura_throttle_fail(t, "alice", 5, i * 10, now + 1000);
    }
    assert_true(kura_throttle_check(t, "alice", 5, now + 1000) > 0);
    assert_int_equal(kura_throttle_check(t, "alice", 5, now + 1000 + 3600000), 0);
    assert_int_equal(kura_throttle_fail(t, "alice", 5, 99, now + 1000 + 3600000), 1);
    t = kura_throttle_free(t);
}

/* A client retrying one stale secret: counted once; another secret counts again. */
static void test_same_tag_counts_once(void **state)
{
    (void)state;
    struct kura_throttle *t = NULL;
    assert_int_equal(kura_throttle_new(64, &policy, &t), 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(kura_throttle_fail(t, "10.0.0.1", 8, 0xabc, 5000), 1);
    }
    assert_int_equal(kura_throttle_check(t, "10.0.0.1", 8, 5000), 0);
    assert_int_equal(kura_throttle_fail(t, "10.0.0.1", 8, 0xdef, 5000), 2);
    assert_int_equal(kura_throttle_fail(t, "10.0.0.1", 8, 0, 5000), 3); /* no tag: counted */
    assert_int_equal(kura_throttle_fail(t, "10.0.0.1", 8, 0, 5000), 4);
    t = kura_throttle_free(t);
}

/* A spray of many keys stays in fixed memory and never blocks a fresh key. */
static void test_fixed_memory_under_spray(void **state)
{
    (void)state;
    struct kura_throttle *t = NULL;
    assert_int_equal(kura_throttle_new(64, &policy, &t), 0);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof(key), "user%d", i);
        for (int k = 0; k < 5; k++) {
            (void)kura_throttle_fail(t, key, (size_t)n, 0, 1000 + i);
        }
    }
    /* The newest key is remembered; a key never seen is free. */
    assert_true(kura_throttle_check(t, key, strlen(key), 100999) > 0);
    assert_int_equal(kura_throttle_check(t, "never-seen", 10, 100999), 0);
    t = kura_throttle_free(t);
}

struct racer {
    struct kura_throttle *t;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < 1000; i++) {
        (void)kura_throttle_fail(r->t, "shared", 6, 0, 7000);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct kura_throttle *t = NULL;
    struct kura_throttle_policy p = policy;
    p.max_ms = INT64_MAX / 4;
    assert_int_equal(kura_throttle_new(64, &p, &t), 0);
    pthread_t th[8];
    struct racer r = {t};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, race, &r), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(kura_throttle_fail(t, "shared", 6, 0, 7000), 8001);
    t = kura_throttle_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delays),
        cmocka_unit_test(test_backoff_grows_and_clears),
        cmocka_unit_test(test_same_tag_counts_once),
        cmocka_unit_test(test_fixed_memory_under_spray),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
