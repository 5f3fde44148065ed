/* Unit tests for the compliance lint: each profile's outcome, overrides, and the rules one by
 * one through kura.conf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/policy.h"

/* The findings' codes, comma-separated, in order ("" when none). */
static void codes_of(const struct kura_lint *l, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        size_t len = strlen(out);
        (void)snprintf(out + len, size - len, "%s%s", i ? "," : "", l->items[i].code);
    }
}

/* Every finding is complete: a known level, a code, a key, and both messages. */
static void assert_well_formed(const struct kura_lint *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct kura_lint_finding *f = &l->items[i];
        assert_true(f->level == KURA_LINT_ERROR || f->level == KURA_LINT_WARNING ||
                    f->level == KURA_LINT_OVERRIDDEN);
        assert_non_null(f->code);
        assert_non_null(f->key);
        assert_true(strncmp(f->key, "password.", 9) == 0 ||
                    strncmp(f->key, "compliance.", 11) == 0);
        assert_true(strlen(f->message_en) > 20);
        assert_true(strlen(f->message_ja) > 20);
        bool ascii_only = true;
        for (const char *c = f->message_ja; *c; c++) {
            ascii_only = ascii_only && (unsigned char)*c < 0x80;
        }
        assert_false(ascii_only);
        /* House style: no final period. */
        assert_int_not_equal(f->message_en[strlen(f->message_en) - 1], '.');
    }
}

static void lint_profile(const char *name, const char *reason, struct kura_lint *l)
{
    const struct kura_password_policy *p = kura_password_policy_by_name(name);
    assert_non_null(p);
    assert_int_equal(kura_auth_lint_policy(p, reason, l), 0);
    assert_well_formed(l);
}

static const struct kura_lint_finding *find(const struct kura_lint *l, const char *code)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].code, code) == 0) {
            return &l->items[i];
        }
    }
    return NULL;
}

/* find, failing the test when there is no such finding (never NULL, for the optimiser). */
static const struct kura_lint_finding *must_find(const struct kura_lint *l, const char *code)
{
    static char empty[1];
    static const struct kura_lint_finding none = {KURA_LINT_WARNING, "", "", empty, empty};
    const struct kura_lint_finding *f = find(l, code);
    assert_non_null(f);
    return f ? f : &none;
}

static void test_profiles(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t errors;
        const char *codes;
    } expect[] = {
        {"kura-default", 0, ""},
        {"nist", 0, ""},
        {"mhlw6-a", 0, "nist_composition,nist_short_single_factor"},
        {"mhlw6-b", 0, "nist_composition,nist_rotation,nist_short_single_factor"},
        {"mhlw6-c", 0, "nist_composition"},
        {"ccat", 0, "mhlw_mix,nist_composition,nist_rotation,rotation_without_history,lockout_dos"},
        {"nbdc", 1, "mhlw_no_option,nist_short_single_factor"},
        {"iso27001", 1, "mhlw_no_option,nist_composition,nist_rotation,nist_short_single_factor"},
        {"kiyosu", 1, "mhlw_no_option,nist_short_single_factor,nist_max_length,nist_charset"},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(expect); i++) {
        struct kura_lint l = KURA_LINT_INIT;
        char codes[512];
        lint_profile(expect[i].name, NULL, &l);
        codes_of(&l, codes, sizeof(codes));
        print_message("%s: %s\n", expect[i].name, codes);
        assert_string_equal(codes, expect[i].codes);
        assert_int_equal(kura_lint_count(&l, KURA_LINT_ERROR), expect[i].errors);
        assert_int_equal(kura_lint_count(&l, KURA_LINT_OVERRIDDEN), 0);
        if (expect[i].errors) {
            const struct kura_lint_finding *f = must_find(&l, "mhlw_no_option");
            assert_int_equal(f->level, KURA_LINT_ERROR);
            assert_string_equal(f->key, "password.profile");
            assert_non_null(strstr(f->message_en, expect[i].name));
            assert_non_null(strstr(f->message_en, "MHLW guideline 6.0"));
            assert_non_null(strstr(f->message_ja, "第6.0版"));
        }
        kura_lint_release(&l);
        assert_int_equal(l.n, 0);
        assert_null(l.items);
    }
}

static void test_messages(void **state)
{
    (void)state;
    struct kura_lint l = KURA_LINT_INIT;
    /* nbdc: 8 characters, no rotation, no MFA — the numbers are in both messages. */
    lint_profile("nbdc", NULL, &l);
    const struct kura_lint_finding *f = must_find(&l, "mhlw_no_option");
    assert_non_null(strstr(f->message_en, "profile 'nbdc': passwords of at least 8 characters "
                                          "that never expire, without multi-factor"));
    assert_non_null(strstr(f->message_ja, "プロファイル nbdc："));
    assert_non_null(strstr(f->message_ja, "8文字以上"));
    assert_non_null(strstr(f->message_ja, "多要素認証なし"));
    f = must_find(&l, "nist_short_single_factor");
    assert_non_null(strstr(f->message_en, "at least 15"));
    assert_string_equal(f->key, "password.min_length");
    kura_lint_release(&l);

    /* iso27001: MFA for privileged roles only, so ordinary users are the problem. */
    lint_profile("iso27001", NULL, &l);
    f = must_find(&l, "mhlw_no_option");
    assert_non_null(strstr(f->message_en, "expire after 90 days"));
    assert_non_null(strstr(f->message_en, "ordinary users"));
    assert_non_null(strstr(f->message_ja, "一般利用者"));
    f = must_find(&l, "nist_composition");
    assert_non_null(strstr(f->message_en, "upper-case, lower-case, symbols required"));
    assert_string_equal(f->key, "password.required_classes");
    f = must_find(&l, "nist_rotation");
    assert_non_null(strstr(f->message_en, "90 days"));
    assert_non_null(strstr(f->message_ja, "90日"));
    assert_string_equal(f->key, "password.max_age_days");
    kura_lint_release(&l);

    /* ccat: 3 of 4 classes; the hard lockout at 6. */
    lint_profile("ccat", NULL, &l);
    f = must_find(&l, "nist_composition");
    assert_non_null(strstr(f->message_en, "3 of 4 classes"));
    assert_string_equal(f->key, "password.min_classes");
    f = must_find(&l, "lockout_dos");
    assert_non_null(strstr(f->message_en, "6 failed logins"));
    kura_lint_release(&l);

    assert_string_equal(kura_lint_level_name(KURA_LINT_ERROR, KURA_LANG_EN), "error");
    assert_string_equal(kura_lint_level_name(KURA_LINT_WARNING, KURA_LANG_EN), "warning");
    assert_string_equal(kura_lint_level_name(KURA_LINT_OVERRIDDEN, KURA_LANG_EN), "overridden");
    assert_string_equal(kura_lint_level_name(KURA_LINT_ERROR, KURA_LANG_JA), "エラー");
    assert_string_equal(kura_lint_level_name(KURA_LINT_WARNING, KURA_LANG_JA), "警告");
    assert_string_equal(kura_lint_level_name((enum kura_lint_level)7, KURA_LANG_EN), "?");
}

static void test_override(void **state)
{
    (void)state;
    struct kura_lint l = KURA_LINT_INIT;
    /* Errors are downgraded but still reported. */
    for (size_t i = 0; i < 3; i++) {
        const char *name = (const char *[]){"nbdc", "kiyosu", "iso27001"}[i];
        lint_profile(name, "approved by the committee, 2026-04", &l);
        assert_int_equal(kura_lint_count(&l, KURA_LINT_ERROR), 0);
        assert_int_equal(kura_lint_count(&l, KURA_LINT_OVERRIDDEN), 1);
        assert_int_equal(must_find(&l, "mhlw_no_option")->level, KURA_LINT_OVERRIDDEN);
        assert_null(find(&l, "override_unused"));
        kura_lint_release(&l);
    }
    /* An empty reason overrides nothing. */
    lint_profile("nbdc", "", &l);
    assert_int_equal(kura_lint_count(&l, KURA_LINT_ERROR), 1);
    kura_lint_release(&l);
    /* A reason with nothing to override is worth a warning. */
    lint_profile("kura-default", "just in case", &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].code, "override_unused");
    assert_string_equal(l.items[0].key, "compliance.override_reason");
    assert_int_equal(l.items[0].level, KURA_LINT_WARNING);
    kura_lint_release(&l);
}

/* Lints a configuration made of the given settings. */
static int lint_conf(const char *const *kv, size_t n, struct kura_lint *l, struct kura_buf *err)
{
    struct kura_conf *c = kura_conf_new();
    assert_non_null(c);
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *dot = strchr(kv[i], '.');
        char section[32];
        (void)snprintf(section, sizeof(section), "%.*s", (int)(dot - kv[i]), kv[i]);
        assert_int_equal(kura_conf_set(c, section, dot + 1, kv[i + 1], err), 0);
    }
    int r = kura_auth_lint(c, l, err);
    kura_conf_free(c);
    if (r == 0) {
        assert_well_formed(l);
    }
    return r;
}

static void test_through_conf(void **state)
{
    (void)state;
    struct kura_buf err = KURA_BUF_INIT(4096);
    struct kura_lint l = KURA_LINT_INIT;
    char codes[512];
    static const struct {
        const char *kv[6];
        size_t errors;
        const char *codes;
    } cases[] = {
        /* The default configuration is clean. */
        {{"password.profile", "kura-default"}, 0, ""},
        /* nbdc or kiyosu with MFA meet option (c): no error, the mix is a warning. */
        {{"password.profile", "nbdc", "password.mfa", "all"}, 0, "mhlw_mix"},
        {{"password.profile", "kiyosu", "password.mfa", "all"},
         0,
         "mhlw_mix,nist_max_length,nist_charset"},
        /* nbdc rotated every 60 days meets option (b). */
        {{"password.profile", "nbdc", "password.max_age_days", "60", "password.history", "10"},
         0,
         "mhlw_mix,nist_rotation,nist_short_single_factor"},
        /* ...61 days do not. */
        {{"password.profile", "nbdc", "password.max_age_days", "61", "password.history", "10"},
         1,
         "mhlw_no_option,nist_rotation,nist_short_single_factor"},
        /* iso27001 with MFA for everyone. */
        {{"password.profile", "iso27001", "password.mfa", "all"},
         0,
         "mhlw_mix,nist_composition,nist_rotation"},
        /* Option (a) by length: 13 mixed is fine, 12 is not. */
        {{"password.profile", "nbdc", "password.min_length", "13"},
         0,
         "mhlw_mix,nist_short_single_factor"},
        {{"password.profile", "mhlw6-a", "password.min_length", "12"},
         1,
         "mhlw_no_option,nist_composition,nist_short_single_factor"},
        /* kura-default with MFA off is nist: fine. */
        {{"password.mfa", "none"}, 0, ""},
        /* Below 8 no option holds, even with MFA. */
        {{"password.min_length", "6"}, 1, "mhlw_no_option,nist_min_length"},
        /* Lockout: above 100, none at all, a timed lockout at 3. */
        {{"password.lockout_threshold", "101"}, 0, "nist_lockout_threshold"},
        {{"password.lockout_threshold", "0"}, 0, "nist_no_lockout"},
        {{"password.lockout_threshold", "3"}, 0, "lockout_dos"},
        {{"password.lockout_threshold", "3", "password.lockout_mode", "15m"}, 0, ""},
        /* The other NIST warnings and the first-login change. */
        {{"password.dictionary", "no"}, 0, "nist_no_blocklist"},
        {{"password.forbid_user_info", "no"}, 0, "nist_context_words"},
        {{"password.change_first_login", "no"}, 0, "no_first_login_change"},
        {{"password.max_length", "32"}, 0, "nist_max_length"},
        {{"password.required_classes", "digit"}, 0, "nist_composition"},
        /* The override, through the configuration. */
        {{"password.profile", "kiyosu", "compliance.override_reason", "contract of 2026-04-01"},
         0,
         "mhlw_no_option,nist_short_single_factor,nist_max_length,nist_charset"},
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cases); i++) {
        size_t n = 0;
        while (n < 6 && cases[i].kv[n]) {
            n++;
        }
        assert_int_equal(lint_conf(cases[i].kv, n, &l, &err), 0);
        codes_of(&l, codes, sizeof(codes));
        print_message("case %zu: %s\n", i, codes);
        assert_string_equal(codes, cases[i].codes);
        assert_int_equal(kura_lint_count(&l, KURA_LINT_ERROR), cases[i].errors);
        kura_lint_release(&l);
    }

    /* The last case: the error is still there, overridden. */
    const char *kv[] = {"password.profile", "kiyosu", "compliance.override_reason", "contract"};
    assert_int_equal(lint_conf(kv, 4, &l, &err), 0);
    assert_int_equal(kura_lint_count(&l, KURA_LINT_OVERRIDDEN), 1);
    kura_lint_release(&l);

    /* Overrides are named in the messages. */
    const char *over[] = {"password.profile", "nbdc", "password.max_age_days", "61"};
    assert_int_equal(lint_conf(over, 4, &l, &err), 0);
    assert_non_null(strstr(l.items[0].message_en, "profile 'nbdc' with overrides:"));
    assert_non_null(strstr(l.items[0].message_ja, "（上書きあり）"));
    kura_lint_release(&l);

    /* A policy that does not resolve is a configuration error, with the message. */
    const char *bad[] = {"password.min_length", "30", "password.max_length", "20"};
    assert_int_equal(lint_conf(bad, 4, &l, &err), KURA_ECONFIG);
    assert_non_null(strstr(err.ptr, "min_length is larger than max_length"));
    assert_int_equal(l.n, 0);
    kura_buf_release(&err);
}

#ifdef KURA_FAULT_INJECTION
static void test_allocation_failures(void **state)
{
    (void)state;
    const struct kura_password_policy *p = kura_password_policy_by_name("kiyosu");
    bool succeeded = false;
    for (unsigned long n = 1; n < 100 && !succeeded; n++) {
        struct kura_lint l = KURA_LINT_INIT;
        kura_alloc_fail_at(n);
        int r = kura_auth_lint_policy(p, "reason", &l);
        kura_alloc_fail_at(0);
        assert_true(r == 0 || r == -ENOMEM);
        succeeded = r == 0;
        if (r == 0) {
            assert_int_equal(l.n, 4);
        }
        kura_lint_release(&l);
    }
    assert_true(succeeded);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_through_conf),
#ifdef KURA_FAULT_INJECTION
        cmocka_unit_test(test_allocation_failures),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
