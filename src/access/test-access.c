/* test-access.c — the decision table of kura_access_check: every role, both actions, own and
 * other spaces, read-only tokens, datasets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "access/access.h"

static int decide(const char *account, unsigned roles, bool ro, enum kura_access_action act,
                  enum kura_space_kind kind, const char *owner, const char **why)
{
    struct kura_space sp = {.id = 1, .kind = kind};
    (void)snprintf(sp.owner, sizeof(sp.owner), "%s", owner);
    const struct kura_actor a = {account, roles, ro};
    const struct kura_access_object o = {&sp};
    return kura_access_check(&a, act, &o, why);
}

static void test_own_space_only_whatever_the_roles(void **state)
{
    (void)state;
    const char *why = NULL;
    for (unsigned roles = 0; roles <= KURA_ROLE_ALL; roles++) {
        for (int act = KURA_ACCESS_READ; act <= KURA_ACCESS_WRITE; act++) {
            assert_int_equal(decide("alice", roles, false, (enum kura_access_action)act,
                                    KURA_SPACE_PERSONAL, "alice", &why),
                             0);
            assert_null(why);
            assert_int_equal(decide("alice", roles, false, (enum kura_access_action)act,
                                    KURA_SPACE_PERSONAL, "bob", &why),
                             KURA_EFORBIDDEN);
            assert_string_equal(why, "not_owner");
        }
    }
    /* A prefix of another's ID is not the same person. */
    assert_int_equal(
        decide("ali", KURA_ROLE_USER, false, KURA_ACCESS_READ, KURA_SPACE_PERSONAL, "alice", &why),
        KURA_EFORBIDDEN);
}

static void test_read_only_tokens_read(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(
        decide("alice", KURA_ROLE_USER, true, KURA_ACCESS_READ, KURA_SPACE_PERSONAL, "alice", &why),
        0);
    assert_int_equal(decide("alice", KURA_ROLE_USER, true, KURA_ACCESS_WRITE, KURA_SPACE_PERSONAL,
                            "alice", &why),
                     KURA_EFORBIDDEN);
    assert_string_equal(why, "read_only_token");
}

static void test_deny_by_default(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(
        decide("alice", KURA_ROLE_ALL, false, KURA_ACCESS_READ, KURA_SPACE_DATASET, "ds1", &why),
        KURA_EFORBIDDEN);
    assert_string_equal(why, "dataset_without_grant");
    assert_int_equal(
        decide("", KURA_ROLE_ALL, false, KURA_ACCESS_READ, KURA_SPACE_PERSONAL, "", &why),
        KURA_EFORBIDDEN);
    assert_string_equal(why, "no_actor");
    assert_int_equal(
        decide("alice", 0, false, (enum kura_access_action)3, KURA_SPACE_PERSONAL, "alice", &why),
        KURA_EFORBIDDEN);
    assert_int_equal(
        decide("alice", 0, false, KURA_ACCESS_READ, (enum kura_space_kind)9, "alice", &why),
        KURA_EFORBIDDEN);
    assert_string_equal(why, "unknown_space_kind");
    assert_int_equal(kura_access_check(NULL, KURA_ACCESS_READ, NULL, &why), KURA_EFORBIDDEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_space_only_whatever_the_roles),
        cmocka_unit_test(test_read_only_tokens_read),
        cmocka_unit_test(test_deny_by_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
