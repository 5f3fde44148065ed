/* scripts/embed.py: the generated C must reproduce its input files byte for byte.
 *
 * Usage: test-meta-embed FILE... (the fixture files, in version order; meson passes them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>

#include "meta/meta-internal.h"

/* Generated from testdata/embed/ by the meta-test-embed custom target. */
const struct kura_meta_migration *test_embed_migrations(size_t *ret_count);

static int file_count;
static char **file_paths;

static void test_embedded_bytes_match_files(void **state)
{
    (void)state;
    size_t n = 0;
    const struct kura_meta_migration *migs = test_embed_migrations(&n);
    assert_int_equal(n, (size_t)file_count);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(migs[i].version, i + 1);
        struct kura_buf b = KURA_BUF_INIT(1 << 20);
        assert_int_equal(kura_file_read_all(AT_FDCWD, file_paths[i], &b), 0);
        assert_int_equal(strlen(migs[i].sql), b.len);
        assert_memory_equal(migs[i].sql, b.ptr, b.len);
        const char *base = strrchr(file_paths[i], '/');
        base = base ? base + 1 : file_paths[i];
        assert_int_equal(strncmp(base, migs[i].name, strlen(migs[i].name)), 0);
        assert_string_equal(base + strlen(migs[i].name), ".sql");
        kura_buf_release(&b);
    }
    assert_string_equal(migs[0].name, "0001-escapes");
    assert_non_null(strstr(migs[0].sql, "?\?="));
    assert_non_null(strstr(migs[0].sql, "\r\n"));
    assert_non_null(strstr(migs[0].sql, "\x7f"
                                        "1234"));
    assert_non_null(strstr(migs[0].sql, "日本語"));
}

static void test_sqlite_migrations_are_complete(void **state)
{
    (void)state;
    size_t n = 0;
    const struct kura_meta_migration *migs = kura_meta_sqlite_migrations(&n);
    assert_int_equal(n, KURA_META_SCHEMA_LATEST);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(migs[i].version, i + 1);
        assert_non_null(migs[i].sql);
        assert_true(strlen(migs[i].sql) > 0);
    }
    assert_string_equal(migs[0].name, "0001-init");
}

int main(int argc, char **argv)
{
    file_count = argc - 1;
    file_paths = argv + 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_bytes_match_files),
        cmocka_unit_test(test_sqlite_migrations_are_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
