/* alloc.c — the only place that calls the libc allocator (docs/style.md item 18).
 *
 * Fault injection (meson -Dfault_injection=true) lets a test make the Nth allocation fail, as
 * curl's torture mode and SQLite's OOM tests do, to prove that every failure path is handled.
 */
#define KURA_ALLOW_RAW_ALLOC
#include "base.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#ifdef KURA_FAULT_INJECTION
#include <stdatomic.h>

static _Atomic unsigned long fail_countdown;

void kura_alloc_fail_at(unsigned long n)
{
    atomic_store(&fail_countdown, n);
}

/* True when this call is the one chosen to fail. */
static bool inject_failure(void)
{
    unsigned long n = atomic_load(&fail_countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1)) {
            return n == 1;
        }
    }
    return false;
}
#else
static inline bool inject_failure(void)
{
    return false;
}
#endif

void *kura_malloc(size_t size)
{
    if (inject_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(size ? size : 1);
}

void *kura_calloc(size_t n, size_t size)
{
    if (inject_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    if (n == 0 || size == 0) {
        n = size = 1;
    }
    return calloc(n, size);
}

void *kura_reallocarray(void *p, size_t n, size_t size)
{
    if (inject_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    if (n == 0 || size == 0) {
        n = size = 1;
    }
    return reallocarray(p, n, size);
}

char *kura_strndup(const char *s, size_t len)
{
    size_t total;
    if (kura_add_size(len, 1, &total) < 0) {
        errno = ENOMEM;
        return NULL;
    }
    char *p = kura_malloc(total);
    if (!p) {
        return NULL;
    }
    if (len > 0) {
        memcpy(p, s, len);
    }
    p[len] = '\0';
    return p;
}

char *kura_strdup(const char *s)
{
    return kura_strndup(s, strlen(s));
}

void kura_free(void *p)
{
    free(p);
}

void kura_free_wipe(void *p)
{
    if (p) {
        /* The block's usable size, not the size asked for: glibc rounds up, and the caller
         * (jansson) does not know either. */
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

void kura_freep(void *pp)
{
    void **p = pp;
    free(*p);
    *p = NULL;
}

void kura_wipe(void *p, size_t len)
{
    if (p && len) {
        explicit_bzero(p, len);
    }
}
