/* Unit tests for the backend-independent parts of meta: role and status names, records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "meta/meta.h"

static void test_role_names(void **state)
{
    (void)state;
    static const char *const names[] = {"user",     "pi",    "committee", "helpdesk",
                                        "operator", "admin", "auditor"};
    unsigned seen = 0;
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        enum kura_role r = 0;
        assert_int_equal(kura_role_parse(names[i], strlen(names[i]), &r), 0);
        assert_int_equal(r, 1u << i);
        assert_string_equal(kura_role_name(r), names[i]);
        seen |= r;
    }
    assert_int_equal(seen, KURA_ROLE_ALL);
    assert_int_equal(KURA_ROLE_USER, 1u << 0);
    assert_int_equal(KURA_ROLE_AUDITOR, 1u << 6);

    assert_null(kura_role_name(0));
    assert_null(kura_role_name(KURA_ROLE_USER | KURA_ROLE_ADMIN));
    assert_null(kura_role_name(1u << 7));
    assert_null(kura_role_name(1u << 31));

    enum kura_role r = KURA_ROLE_PI;
    assert_int_equal(kura_role_parse("Admin", 5, &r), KURA_ESYNTAX);
    assert_int_equal(kura_role_parse("admin ", 6, &r), KURA_ESYNTAX);
    assert_int_equal(kura_role_parse("adm", 3, &r), KURA_ESYNTAX);
    assert_int_equal(kura_role_parse("", 0, &r), KURA_ESYNTAX);
    assert_int_equal(kura_role_parse("admin\0x", 7, &r), KURA_ESYNTAX);
    assert_int_equal(r, KURA_ROLE_PI);                     /* untouched on failure */
    assert_int_equal(kura_role_parse("adminX", 5, &r), 0); /* length-delimited, not C string */
    assert_int_equal(r, KURA_ROLE_ADMIN);
}

static void test_status_names(void **state)
{
    (void)state;
    static const char *const names[] = {"active", "locked", "disabled", "expired", "deleted"};
    assert_int_equal(KURA_ARRAY_SIZE(names), KURA_ACCOUNT_STATUS__COUNT);
    for (size_t i = 0; i < KURA_ARRAY_SIZE(names); i++) {
        enum kura_account_status s;
        assert_int_equal(kura_account_status_parse(names[i], strlen(names[i]), &s), 0);
        assert_int_equal(s, i);
        assert_string_equal(kura_account_status_name(s), names[i]);
    }
    assert_null(kura_account_status_name(KURA_ACCOUNT_STATUS__COUNT));
    assert_null(kura_account_status_name((enum kura_account_status) - 1));
    enum kura_account_status s = KURA_ACCOUNT_STATUS_LOCKED;
    assert_int_equal(kura_account_status_parse("ACTIVE", 6, &s), KURA_ESYNTAX);
    assert_int_equal(s, KURA_ACCOUNT_STATUS_LOCKED);
}

static void test_account_release(void **state)
{
    (void)state;
    struct kura_account a = {0};
    kura_account_release(&a);
    kura_account_release(NULL);
    a.id = kura_strdup("x");
    a.password_hash = kura_strdup("$argon2id$secret");
    a.email = kura_strdup("e@example.org");
    a.roles = KURA_ROLE_ADMIN;
    kura_account_release(&a);
    assert_null(a.id);
    assert_null(a.password_hash);
    assert_int_equal(a.roles, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_account_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
