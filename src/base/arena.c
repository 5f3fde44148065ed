/* arena.c — per-request bump allocator with a byte budget (docs/style.md items 21–23).
 *
 * Memory comes in chunks of ARENA_CHUNK bytes; a request larger than a quarter chunk gets its own
 * block on the large list. Every byte handed out (plus alignment padding) is charged against the
 * budget, so a hostile request cannot make one connection use unbounded memory. Cleanups run in
 * reverse registration order before the memory goes, so a cleanup may still read arena data.
 */
#include "base.h"

#include <stdio.h>
#include <string.h>

#define ARENA_CHUNK 8192
#define ARENA_ALIGN 16

struct chunk {
    struct chunk *next;
    size_t used;
    size_t size;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *data;
};

struct kura_arena {
    struct chunk *chunks; /* current chunk first */
    struct chunk *large;
    struct cleanup *cleanups;
    size_t budget;
    size_t charged;
    int err;
};

struct kura_arena *kura_arena_new(size_t budget)
{
    struct kura_arena *a = kura_calloc(1, sizeof(*a));
    if (!a) {
        return NULL;
    }
    a->budget = budget;
    return a;
}

static void free_chunks(struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        kura_free(c);
        c = next;
    }
}

struct kura_arena *kura_arena_free(struct kura_arena *a)
{
    if (!a) {
        return NULL;
    }
    struct cleanup *c = a->cleanups;
    while (c) {
        struct cleanup *next = c->next;
        c->fn(c->data);
        kura_free(c);
        c = next;
    }
    free_chunks(a->chunks);
    free_chunks(a->large);
    kura_free(a);
    return NULL;
}

static struct chunk *new_chunk(size_t size)
{
    size_t total;
    if (kura_add_size(sizeof(struct chunk), size, &total) < 0) {
        return NULL;
    }
    struct chunk *c = kura_malloc(total);
    if (!c) {
        return NULL;
    }
    c->next = NULL;
    c->used = 0;
    c->size = size;
    return c;
}

static void *fail(struct kura_arena *a, int err)
{
    if (a->err == 0) {
        a->err = err;
    }
    return NULL;
}

void *kura_arena_alloc(struct kura_arena *a, size_t size)
{
    size_t rounded, charged;
    if (size == 0) {
        size = 1;
    }
    if (kura_add_size(size, ARENA_ALIGN - 1, &rounded) < 0) {
        return fail(a, KURA_EBUDGET);
    }
    rounded &= ~(size_t)(ARENA_ALIGN - 1);
    if (kura_add_size(a->charged, rounded, &charged) < 0 || charged > a->budget) {
        return fail(a, KURA_EBUDGET);
    }
    if (rounded > ARENA_CHUNK / 4) {
        struct chunk *c = new_chunk(rounded);
        if (!c) {
            return fail(a, -ENOMEM);
        }
        c->next = a->large;
        a->large = c;
        a->charged = charged;
        return c->data;
    }
    struct chunk *c = a->chunks;
    if (!c || c->size - c->used < rounded) {
        c = new_chunk(ARENA_CHUNK);
        if (!c) {
            return fail(a, -ENOMEM);
        }
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += rounded;
    a->charged = charged;
    return p;
}

void *kura_arena_calloc(struct kura_arena *a, size_t n, size_t size)
{
    size_t total;
    if (kura_mul_size(n, size, &total) < 0) {
        return fail(a, KURA_EBUDGET);
    }
    void *p = kura_arena_alloc(a, total);
    if (p) {
        memset(p, 0, total);
    }
    return p;
}

char *kura_arena_strndup(struct kura_arena *a, const char *s, size_t len)
{
    size_t total;
    if (kura_add_size(len, 1, &total) < 0) {
        return fail(a, KURA_EBUDGET);
    }
    char *p = kura_arena_alloc(a, total);
    if (!p) {
        return NULL;
    }
    if (len > 0) {
        memcpy(p, s, len);
    }
    p[len] = '\0';
    return p;
}

char *kura_arena_printf(struct kura_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return fail(a, KURA_EINTERNAL);
    }
    char *p = kura_arena_alloc(a, (size_t)n + 1);
    if (!p) {
        return NULL;
    }
    va_start(ap, fmt);
    (void)vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int kura_arena_err(const struct kura_arena *a)
{
    return a->err;
}

size_t kura_arena_used(const struct kura_arena *a)
{
    return a->charged;
}

int kura_arena_defer(struct kura_arena *a, void (*fn)(void *), void *data)
{
    /* Cleanup records are not charged against the budget: refusing to register a cleanup
     * would leak the very resource it guards. They come from the heap instead. */
    struct cleanup *c = kura_malloc(sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}
