/* blob-contract.c — the backend-independent contract of blob.h, as cmocka tests.
 *
 * Every test gets a fresh, empty store from the fixture and uses only the public API. Contents
 * come from test-pattern.h, so reads at any offset are checked without a reference copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blob-contract.h"
#include "blob/test-pattern.h"

static const struct blob_contract_fixture *fx;

struct ctx {
    void *target;
};

static int setup(void **state)
{
    struct ctx *c = kura_calloc(1, sizeof(*c));
    if (!c || fx->target_new(&c->target) < 0) {
        kura_free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    fx->target_free(c->target);
    kura_free(c);
    return 0;
}

static struct kura_blob *open_store(struct ctx *c)
{
    struct kura_blob *b = NULL;
    assert_int_equal(fx->open(c->target, &b), 0);
    assert_non_null(b);
    assert_string_equal(kura_blob_backend(b), fx->backend);
    return b;
}

/* Writes seed's pattern of size bytes in chunks whose sizes cycle through chunks[]; returns
 * the commit's result and the id. */
static int put_pattern(struct kura_blob *b, uint64_t seed, uint64_t size, const size_t *chunks,
                       size_t nchunks, char id[static KURA_BLOB_ID_SIZE])
{
    size_t max = 1;
    for (size_t i = 0; i < nchunks; i++) {
        max = chunks[i] > max ? chunks[i] : max;
    }
    uint8_t *buf = kura_malloc(max);
    assert_non_null(buf);
    struct kura_blob_writer *w = NULL;
    int r = kura_blob_put_begin(b, &w);
    for (uint64_t done = 0, k = 0; r == 0 && done < size; k++) {
        size_t n = chunks[k % nchunks];
        if (n > size - done) {
            n = (size_t)(size - done);
        }
        pattern_fill(seed, done, buf, n);
        r = kura_blob_put_write(w, buf, n);
        done += n;
    }
    kura_free(buf);
    if (r < 0) {
        w = kura_blob_put_abort(w);
        return r;
    }
    return kura_blob_put_commit(w, id);
}

static void put_simple(struct kura_blob *b, uint64_t seed, uint64_t size,
                       char id[static KURA_BLOB_ID_SIZE])
{
    static const size_t chunks[] = {4096};
    assert_int_equal(put_pattern(b, seed, size, chunks, 1, id), 0);
    assert_true(kura_blob_id_valid(id));
}

/* Reads id from offset to the end with read sizes cycling through reads[], checking every byte
 * against seed's pattern and that only the last read is short. */
static void check_pattern(struct kura_blob *b, const char *id, uint64_t seed, uint64_t size,
                          uint64_t offset, const size_t *reads, size_t nreads)
{
    _cleanup_(kura_blob_reader_closep) struct kura_blob_reader *r = NULL;
    assert_int_equal(kura_blob_get(b, id, offset, &r), 0);
    assert_int_equal(kura_blob_reader_size(r), size);
    size_t max = 1;
    for (size_t i = 0; i < nreads; i++) {
        max = reads[i] > max ? reads[i] : max;
    }
    uint8_t *buf = kura_malloc(max);
    assert_non_null(buf);
    uint64_t pos = offset;
    for (size_t k = 0;; k++) {
        size_t cap = reads[k % nreads];
        size_t n = 999999999;
        assert_int_equal(kura_blob_read(r, buf, cap, &n), 0);
        assert_true(n <= cap);
        assert_true(pattern_check(seed, pos, buf, n));
        pos += n;
        if (n < cap) {
            break; /* short: must be the end */
        }
    }
    assert_int_equal(pos, size);
    size_t n = 1;
    assert_int_equal(kura_blob_read(r, buf, max, &n), 0);
    assert_int_equal(n, 0);
    kura_free(buf);
}

static void check_simple(struct kura_blob *b, const char *id, uint64_t seed, uint64_t size)
{
    static const size_t reads[] = {8192};
    check_pattern(b, id, seed, size, 0, reads, 1);
}

/* ---- listing helpers ---------------------------------------------------------------------- */

#define MAX_IDS 512

struct idset {
    char ids[MAX_IDS][KURA_BLOB_ID_SIZE];
    size_t n;
    int stop_at; /* return an error on this call (1-based); 0: never */
};

static int collect_ids(void *ctx, const char *id, const struct kura_blob_stat *st)
{
    struct idset *s = ctx;
    (void)st;
    if (s->n >= MAX_IDS) {
        return -E2BIG;
    }
    memcpy(s->ids[s->n++], id, KURA_BLOB_ID_SIZE);
    if (s->stop_at > 0 && (size_t)s->stop_at == s->n) {
        return -1234;
    }
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, KURA_BLOB_ID_SIZE);
}

static void list_sorted(struct kura_blob *b, struct idset *s)
{
    s->n = 0;
    s->stop_at = 0;
    assert_int_equal(kura_blob_list(b, collect_ids, s), 0);
    qsort(s->ids, s->n, KURA_BLOB_ID_SIZE, cmp_id);
}

static bool idset_has(const struct idset *s, const char *id)
{
    return bsearch(id, s->ids, s->n, KURA_BLOB_ID_SIZE, cmp_id) != NULL;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    int64_t t0 = kura_clock_wall_ms();
    struct kura_blob_writer *w = NULL;
    assert_int_equal(kura_blob_put_begin(b, &w), 0);
    assert_int_equal(kura_blob_put_write(w, "hel", 3), 0);
    assert_int_equal(kura_blob_put_write(w, "lo", 2), 0);
    char id[KURA_BLOB_ID_SIZE];
    assert_int_equal(kura_blob_put_commit(w, id), 0);
    int64_t t1 = kura_clock_wall_ms();
    assert_true(kura_blob_id_valid(id));

    struct kura_blob_stat st = {0};
    assert_int_equal(kura_blob_stat(b, id, &st), 0);
    assert_int_equal(st.size, 5);
    assert_true(st.created_ms >= t0 - fx->clock_skew_ms);
    assert_true(st.created_ms <= t1 + fx->clock_skew_ms);

    _cleanup_(kura_blob_reader_closep) struct kura_blob_reader *r = NULL;
    assert_int_equal(kura_blob_get(b, id, 0, &r), 0);
    assert_int_equal(kura_blob_reader_size(r), 5);
    char buf[100];
    size_t n = 0;
    assert_int_equal(kura_blob_read(r, buf, 0, &n), 0); /* cap 0: nothing, not the end */
    assert_int_equal(n, 0);
    assert_int_equal(kura_blob_read(r, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(kura_blob_read(r, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 0);

    struct idset *s = kura_calloc(1, sizeof(*s));
    assert_non_null(s);
    list_sorted(b, s);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->ids[0], id);
    kura_free(s);
}

static void test_empty_object(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    struct kura_blob_writer *w = NULL;
    assert_int_equal(kura_blob_put_begin(b, &w), 0);
    assert_int_equal(kura_blob_put_write(w, NULL, 0), 0);
    char id[KURA_BLOB_ID_SIZE];
    assert_int_equal(kura_blob_put_commit(w, id), 0);
    struct kura_blob_stat st = {.size = 99};
    assert_int_equal(kura_blob_stat(b, id, &st), 0);
    assert_int_equal(st.size, 0);
    _cleanup_(kura_blob_reader_closep) struct kura_blob_reader *r = NULL;
    assert_int_equal(kura_blob_get(b, id, 0, &r), 0);
    char buf[8];
    size_t n = 1;
    assert_int_equal(kura_blob_read(r, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 0);
    struct kura_blob_reader *r2 = NULL;
    assert_int_equal(kura_blob_get(b, id, 1, &r2), KURA_ERANGENS);
    assert_null(r2);
}

static void test_offsets(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    char id[KURA_BLOB_ID_SIZE];
    put_simple(b, 42, 1000, id);
    static const uint64_t offsets[] = {0, 1, 7, 499, 998, 999, 1000};
    static const size_t reads[] = {64, 1, 333};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(offsets); i++) {
        check_pattern(b, id, 42, 1000, offsets[i], reads, KURA_ARRAY_SIZE(reads));
    }
    struct kura_blob_reader *r = NULL;
    assert_int_equal(kura_blob_get(b, id, 1001, &r), KURA_ERANGENS);
    assert_int_equal(kura_blob_get(b, id, UINT64_MAX, &r), KURA_ERANGENS);
    assert_null(r);
}

static void test_large_streamed(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    /* Odd sizes on both sides, so no chunk lines up with a page, a segment or each other. */
    static const size_t chunks[] = {1, 7, 4093, 65537, 0, 99991, 3, 131071};
    static const size_t reads[] = {65536, 1, 99989, 4097, 13};
    const uint64_t size = (UINT64_C(5) << 20) + 13;
    char id[KURA_BLOB_ID_SIZE];
    assert_int_equal(put_pattern(b, 7, size, chunks, KURA_ARRAY_SIZE(chunks), id), 0);
    struct kura_blob_stat st;
    assert_int_equal(kura_blob_stat(b, id, &st), 0);
    assert_int_equal(st.size, size);
    check_pattern(b, id, 7, size, 0, reads, KURA_ARRAY_SIZE(reads));
    check_pattern(b, id, 7, size, (UINT64_C(3) << 20) + 5, reads, KURA_ARRAY_SIZE(reads));
    check_pattern(b, id, 7, size, size - 1, reads, KURA_ARRAY_SIZE(reads));
}

static void test_abort_leaves_nothing(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    struct kura_blob_writer *w = NULL;
    assert_int_equal(kura_blob_put_begin(b, &w), 0);
    uint8_t buf[10000];
    pattern_fill(1, 0, buf, sizeof(buf));
    assert_int_equal(kura_blob_put_write(w, buf, sizeof(buf)), 0);
    w = kura_blob_put_abort(w);
    assert_null(w);
    assert_int_equal(kura_blob_put_begin(b, &w), 0);
    w = kura_blob_put_abort(w); /* nothing written */
    assert_null(kura_blob_put_abort(NULL));
    {
        _cleanup_(kura_blob_put_abortp) struct kura_blob_writer *scoped = NULL;
        assert_int_equal(kura_blob_put_begin(b, &scoped), 0);
        assert_int_equal(kura_blob_put_write(scoped, buf, 5), 0);
    }
    struct idset *s = kura_calloc(1, sizeof(*s));
    assert_non_null(s);
    list_sorted(b, s);
    assert_int_equal(s->n, 0);
    kura_free(s);
    struct kura_blob_gc gc = {.removed = 99};
    assert_int_equal(kura_blob_collect_tmp(b, 0, &gc), 0);
    assert_int_equal(gc.removed, 0); /* abort already cleaned up after itself */
}

static void test_ids_unique(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    enum { N = 300 };
    struct idset *mine = kura_calloc(1, sizeof(*mine));
    struct idset *s = kura_calloc(1, sizeof(*s));
    assert_non_null(mine);
    assert_non_null(s);
    for (size_t i = 0; i < N; i++) {
        struct kura_blob_writer *w = NULL;
        assert_int_equal(kura_blob_put_begin(b, &w), 0);
        assert_int_equal(kura_blob_put_commit(w, mine->ids[i]), 0);
        assert_true(kura_blob_id_valid(mine->ids[i]));
    }
    mine->n = N;
    qsort(mine->ids, N, KURA_BLOB_ID_SIZE, cmp_id);
    for (size_t i = 1; i < N; i++) {
        assert_string_not_equal(mine->ids[i - 1], mine->ids[i]);
    }
    list_sorted(b, s);
    assert_int_equal(s->n, N);
    assert_memory_equal(s->ids, mine->ids, sizeof(mine->ids[0]) * N);
    kura_free(mine);
    kura_free(s);
}

static void test_hostile_ids(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    char id[KURA_BLOB_ID_SIZE];
    put_simple(b, 3, 100, id);

    char upper[KURA_BLOB_ID_SIZE], longer[KURA_BLOB_ID_SIZE + 1], shorter[KURA_BLOB_ID_SIZE];
    char prefixed[64], slashed[KURA_BLOB_ID_SIZE + 1], nl[KURA_BLOB_ID_SIZE + 1];
    for (size_t i = 0; i < KURA_BLOB_ID_SIZE; i++) {
        upper[i] = (id[i] >= 'a' && id[i] <= 'f') ? (char)(id[i] - 'a' + 'A') : id[i];
    }
    if (strcmp(upper, id) == 0) {
        upper[0] = 'A'; /* all digits: still make it upper case somewhere */
    }
    (void)snprintf(longer, sizeof(longer), "%s0", id);
    (void)snprintf(shorter, sizeof(shorter), "%.31s", id);
    (void)snprintf(prefixed, sizeof(prefixed), "../%.2s/%.2s/%s", id, id + 2, id);
    (void)snprintf(slashed, sizeof(slashed), "%s/", id);
    (void)snprintf(nl, sizeof(nl), "%s\n", id);
    const char *const hostile[] = {
        "",
        ".",
        "..",
        "../x",
        "/",
        "/etc/passwd",
        "../../../../../../../../../../..",
        "0123456789abcdef0123456789abcde",   /* 31 */
        "0123456789abcdef0123456789abcdef0", /* 33 */
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcdeg",
        "0123456789abcdef/123456789abcdef",
        "0123456789abcdef 123456789abcdef",
        "0123456789abcdef\t123456789abcdef",
        "0x23456789abcdef0123456789abcdef",
        "-123456789abcdef0123456789abcdef",
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2f",
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
        "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
        "\xef\xbc\x90\xef\xbc\x91", /* fullwidth digits */
        upper,
        longer,
        shorter,
        prefixed,
        slashed,
        nl,
    };
    assert_false(kura_blob_id_valid(NULL));
    for (size_t i = 0; i < KURA_ARRAY_SIZE(hostile); i++) {
        const char *h = hostile[i];
        assert_false(kura_blob_id_valid(h));
        struct kura_blob_reader *r = NULL;
        assert_int_equal(kura_blob_get(b, h, 0, &r), KURA_EBADREQ);
        assert_null(r);
        struct kura_blob_stat st = {.size = 77};
        assert_int_equal(kura_blob_stat(b, h, &st), KURA_EBADREQ);
        assert_int_equal(st.size, 77);
        assert_int_equal(kura_blob_remove(b, h), KURA_EBADREQ);
    }
    /* Well-formed but unknown: not found, and nothing else touched. */
    char other[KURA_BLOB_ID_SIZE];
    memcpy(other, id, sizeof(other));
    other[31] = other[31] == '0' ? '1' : '0';
    struct kura_blob_reader *r = NULL;
    struct kura_blob_stat st;
    assert_int_equal(kura_blob_get(b, other, 0, &r), KURA_ENOTFOUND);
    assert_int_equal(kura_blob_stat(b, other, &st), KURA_ENOTFOUND);
    assert_int_equal(kura_blob_remove(b, other), KURA_ENOTFOUND);
    assert_int_equal(kura_blob_remove(b, "ffffffffffffffffffffffffffffffff"), KURA_ENOTFOUND);
    check_simple(b, id, 3, 100);
}

static void test_remove(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    char a[KURA_BLOB_ID_SIZE], m[KURA_BLOB_ID_SIZE], z[KURA_BLOB_ID_SIZE];
    put_simple(b, 1, 10, a);
    put_simple(b, 2, 20000, m);
    put_simple(b, 3, 30, z);
    assert_int_equal(kura_blob_remove(b, m), 0);
    struct kura_blob_stat st;
    assert_int_equal(kura_blob_stat(b, m, &st), KURA_ENOTFOUND);
    struct kura_blob_reader *r = NULL;
    assert_int_equal(kura_blob_get(b, m, 0, &r), KURA_ENOTFOUND);
    assert_int_equal(kura_blob_remove(b, m), KURA_ENOTFOUND);
    check_simple(b, a, 1, 10);
    check_simple(b, z, 3, 30);
    struct idset *s = kura_calloc(1, sizeof(*s));
    assert_non_null(s);
    list_sorted(b, s);
    assert_int_equal(s->n, 2);
    assert_true(idset_has(s, a) && idset_has(s, z) && !idset_has(s, m));
    kura_free(s);
}

static void test_list_stops_on_error(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    char id[KURA_BLOB_ID_SIZE];
    for (uint64_t i = 0; i < 3; i++) {
        put_simple(b, i, i * 100, id);
    }
    struct idset *s = kura_calloc(1, sizeof(*s));
    assert_non_null(s);
    s->stop_at = 2;
    assert_int_equal(kura_blob_list(b, collect_ids, s), -1234);
    assert_int_equal(s->n, 2);
    kura_free(s);
}

static void test_persistence(void **state)
{
    struct ctx *c = *state;
    char id[KURA_BLOB_ID_SIZE];
    struct kura_blob *b = open_store(c);
    put_simple(b, 11, 123457, id);
    b = kura_blob_close(b);
    assert_null(b);
    b = open_store(c);
    check_simple(b, id, 11, 123457);
    b = kura_blob_close(b);
}

/* ---- collect ------------------------------------------------------------------------------ */

struct refs {
    const char *referenced; /* the one id in use; NULL: none */
    unsigned calls;
    int fail; /* returned instead of an answer when non-zero */
};

static int is_ref(void *ctx, const char *id, bool *ret)
{
    struct refs *f = ctx;
    f->calls++;
    if (f->fail) {
        return f->fail;
    }
    *ret = f->referenced && strcmp(f->referenced, id) == 0;
    return 0;
}

static void test_collect(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    char a[KURA_BLOB_ID_SIZE], k[KURA_BLOB_ID_SIZE], z[KURA_BLOB_ID_SIZE];
    put_simple(b, 1, 1000, a);
    put_simple(b, 2, 2000, k);
    put_simple(b, 3, 3000, z);
    struct refs f = {.referenced = k};
    struct kura_blob_gc gc;
    const int64_t hour = 3600 * 1000;

    /* All younger than an hour: not even asked about. */
    assert_int_equal(kura_blob_collect(b, is_ref, &f, hour + fx->clock_skew_ms, &gc), 0);
    assert_int_equal(gc.examined, 3);
    assert_int_equal(gc.young, 3);
    assert_int_equal(gc.removed, 0);
    assert_int_equal(f.calls, 0);

    /* A failing lookup stops the pass and removes nothing. */
    f.fail = -EIO;
    assert_int_equal(kura_blob_collect(b, is_ref, &f, 0, &gc), -EIO);
    assert_int_equal(f.calls, 1);
    f.fail = 0;
    f.calls = 0;
    struct kura_blob_stat st;
    assert_int_equal(kura_blob_stat(b, a, &st), 0);
    assert_int_equal(kura_blob_stat(b, z, &st), 0);
    assert_int_equal(kura_blob_collect(b, is_ref, &f, -1, &gc), -EINVAL);

    /* min_age 0 (offline use): everything unreferenced goes. */
    assert_int_equal(kura_blob_collect(b, is_ref, &f, 0, &gc), 0);
    assert_int_equal(f.calls, 3);
    assert_int_equal(gc.examined, 3);
    assert_int_equal(gc.referenced, 1);
    assert_int_equal(gc.removed, 2);
    assert_int_equal(gc.bytes_freed, 4000);
    assert_int_equal(kura_blob_stat(b, a, &st), KURA_ENOTFOUND);
    assert_int_equal(kura_blob_stat(b, z, &st), KURA_ENOTFOUND);
    check_simple(b, k, 2, 2000);
    assert_int_equal(kura_blob_collect(b, is_ref, &f, 0, NULL), 0);

#ifdef KURA_TEST_HOOKS
    /* Age measured on kura's clock: an object committed two hours "ago" is collected, one
     * committed just now is not, with the same min_age. */
    char old[KURA_BLOB_ID_SIZE], young[KURA_BLOB_ID_SIZE];
    put_simple(b, 4, 400, old);
    kura_clock_shift_ms(2 * hour);
    put_simple(b, 5, 500, young);
    f = (struct refs){.referenced = NULL};
    int r = kura_blob_collect(b, is_ref, &f, hour + fx->clock_skew_ms, &gc);
    kura_clock_shift_ms(-2 * hour);
    assert_int_equal(r, 0);
    assert_int_equal(gc.examined, 3);
    assert_int_equal(gc.young, 1);
    assert_int_equal(gc.removed, 2); /* old, and k which nobody references any more */
    assert_int_equal(gc.bytes_freed, 2400);
    assert_int_equal(kura_blob_stat(b, old, &st), KURA_ENOTFOUND);
    check_simple(b, young, 5, 500);
#endif
}

static void test_collect_tmp_spares_live_upload(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    struct kura_blob_writer *w = NULL;
    assert_int_equal(kura_blob_put_begin(b, &w), 0);
    uint8_t buf[3000];
    pattern_fill(9, 0, buf, sizeof(buf));
    assert_int_equal(kura_blob_put_write(w, buf, 1000), 0);
    struct kura_blob_gc gc;
    assert_int_equal(kura_blob_collect_tmp(b, 3600 * 1000, &gc), 0);
    assert_int_equal(gc.removed, 0);
    assert_int_equal(kura_blob_collect_tmp(b, -1, &gc), -EINVAL);
    assert_int_equal(kura_blob_put_write(w, buf + 1000, 2000), 0);
    char id[KURA_BLOB_ID_SIZE];
    assert_int_equal(kura_blob_put_commit(w, id), 0);
    check_simple(b, id, 9, 3000);
}

static void test_interleaved_writers(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    struct kura_blob_writer *w1 = NULL, *w2 = NULL;
    assert_int_equal(kura_blob_put_begin(b, &w1), 0);
    assert_int_equal(kura_blob_put_begin(b, &w2), 0);
    uint8_t buf[777];
    for (uint64_t off = 0; off < 7770; off += sizeof(buf)) {
        pattern_fill(21, off, buf, sizeof(buf));
        assert_int_equal(kura_blob_put_write(w1, buf, sizeof(buf)), 0);
        pattern_fill(22, off, buf, sizeof(buf));
        assert_int_equal(kura_blob_put_write(w2, buf, sizeof(buf)), 0);
    }
    char id1[KURA_BLOB_ID_SIZE], id2[KURA_BLOB_ID_SIZE];
    assert_int_equal(kura_blob_put_commit(w2, id2), 0);
    assert_int_equal(kura_blob_put_commit(w1, id1), 0);
    assert_string_not_equal(id1, id2);
    check_simple(b, id1, 21, 7770);
    check_simple(b, id2, 22, 7770);
}

/* ---- threads ------------------------------------------------------------------------------ */

#define THREADS 4
#define PER_THREAD 25

struct worker {
    pthread_t tid;
    struct kura_blob *b;
    unsigned n;
    int err;
    char ids[PER_THREAD][KURA_BLOB_ID_SIZE];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    static const size_t chunks[] = {1000, 3};
    for (unsigned i = 0; i < PER_THREAD && w->err == 0; i++) {
        uint64_t seed = w->n * 1000 + i;
        w->err = put_pattern(w->b, seed, seed % 5000, chunks, 2, w->ids[i]);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct ctx *c = *state;
    _cleanup_(kura_blob_closep) struct kura_blob *b = open_store(c);
    struct worker *w = kura_calloc(THREADS, sizeof(*w));
    assert_non_null(w);
    for (unsigned i = 0; i < THREADS; i++) {
        w[i].b = b;
        w[i].n = i;
        assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
    }
    struct idset *s = kura_calloc(1, sizeof(*s));
    assert_non_null(s);
    list_sorted(b, s);
    assert_int_equal(s->n, THREADS * PER_THREAD);
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].err, 0);
        for (unsigned j = 0; j < PER_THREAD; j++) {
            uint64_t seed = i * 1000 + j;
            assert_true(idset_has(s, w[i].ids[j]));
            check_simple(b, w[i].ids[j], seed, seed % 5000);
        }
    }
    kura_free(s);
    kura_free(w);
}

int blob_contract_run(const struct blob_contract_fixture *f)
{
    fx = f;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_streamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_stops_on_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collect_tmp_spares_live_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    char name[64];
    (void)snprintf(name, sizeof(name), "blob-contract-%s", f->backend);
    return _cmocka_run_group_tests(name, tests, KURA_ARRAY_SIZE(tests), NULL, NULL);
}
