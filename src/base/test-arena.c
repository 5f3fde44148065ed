/* Unit tests for the request arena: alignment, budget, large blocks, cleanups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"

static void test_alignment_and_content(void **state)
{
    (void)state;
    struct kura_arena *a = kura_arena_new(1 << 20);
    assert_non_null(a);
    for (size_t i = 1; i < 200; i++) {
        char *p = kura_arena_alloc(a, i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0x5a, i);
    }
    char *s = kura_arena_strndup(a, "abcdef", 3);
    assert_string_equal(s, "abc");
    char *f = kura_arena_printf(a, "%s-%u", "x", 7u);
    assert_string_equal(f, "x-7");
    int *z = kura_arena_calloc(a, 10, sizeof(int));
    for (int i = 0; i < 10; i++) {
        assert_int_equal(z[i], 0);
    }
    a = kura_arena_free(a);
    assert_null(a);
}

static void test_budget(void **state)
{
    (void)state;
    struct kura_arena *a = kura_arena_new(1000);
    assert_non_null(kura_arena_alloc(a, 500));
    assert_null(kura_arena_alloc(a, 600));
    assert_int_equal(kura_arena_err(a), KURA_EBUDGET);
    /* A smaller request still fits: the budget is charged, not poisoned. */
    assert_non_null(kura_arena_alloc(a, 400));
    assert_true(kura_arena_used(a) <= 1000);
    kura_arena_free(a);
}

static void test_overflow_is_budget_error(void **state)
{
    (void)state;
    struct kura_arena *a = kura_arena_new(SIZE_MAX);
    assert_null(kura_arena_alloc(a, SIZE_MAX - 3));
    assert_int_equal(kura_arena_err(a), KURA_EBUDGET);
    assert_null(kura_arena_calloc(a, SIZE_MAX / 2, 4));
    kura_arena_free(a);
}

static void test_large_blocks(void **state)
{
    (void)state;
    struct kura_arena *a = kura_arena_new(10 << 20);
    for (int i = 0; i < 5; i++) {
        char *p = kura_arena_alloc(a, 1 << 20);
        assert_non_null(p);
        memset(p, i, 1 << 20);
    }
    assert_int_equal(kura_arena_used(a), 5 << 20);
    kura_arena_free(a);
}

static int order[4];
static int norder;

static void record(void *p)
{
    order[norder++] = *(int *)p;
}

static void test_cleanups_reverse_order(void **state)
{
    (void)state;
    static int one = 1, two = 2, three = 3;
    norder = 0;
    struct kura_arena *a = kura_arena_new(4096);
    assert_int_equal(kura_arena_defer(a, record, &one), 0);
    assert_int_equal(kura_arena_defer(a, record, &two), 0);
    assert_int_equal(kura_arena_defer(a, record, &three), 0);
    kura_arena_free(a);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_content),    cmocka_unit_test(test_budget),
        cmocka_unit_test(test_overflow_is_budget_error), cmocka_unit_test(test_large_blocks),
        cmocka_unit_test(test_cleanups_reverse_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
