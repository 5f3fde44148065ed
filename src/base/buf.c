/* buf.c — owned, bounded, NUL-terminated buffer with a sticky error (docs/style.md item 20).
 *
 * Growth doubles the capacity up to max + 1 (room for the terminator). The first failure is
 * recorded in b->err and every later append becomes a no-op, so a caller builds a whole value
 * and checks once; a partially built value is never mistaken for a complete one.
 */
#include "base.h"

#include <stdio.h>
#include <string.h>

void kura_buf_init(struct kura_buf *b, size_t max)
{
    *b = (struct kura_buf){.max = max};
}

void kura_buf_release(struct kura_buf *b)
{
    if (b->secret) {
        kura_wipe(b->ptr, b->cap);
    }
    kura_free(b->ptr);
    *b = (struct kura_buf){.max = b->max, .secret = b->secret};
}

void kura_buf_release_wipe(struct kura_buf *b)
{
    kura_wipe(b->ptr, b->cap);
    kura_buf_release(b);
}

void kura_buf_reset(struct kura_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->ptr) {
        b->ptr[0] = '\0';
    }
}

void kura_buf_truncate(struct kura_buf *b, size_t len)
{
    b->err = 0;
    if (len < b->len) {
        b->len = len;
        b->ptr[len] = '\0';
    }
}

static void set_err(struct kura_buf *b, int err)
{
    if (b->err == 0) {
        b->err = err;
    }
}

/* Makes room for extra more bytes plus the terminator; false (error recorded) on failure. */
static bool reserve(struct kura_buf *b, size_t extra)
{
    size_t need;
    if (b->err) {
        return false;
    }
    if (kura_add_size(b->len, extra, &need) < 0 || need > b->max) {
        set_err(b, KURA_ETOOBIG);
        return false;
    }
    need++; /* terminator; cannot overflow since need <= max < SIZE_MAX */
    if (need <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    char *p;
    if (b->secret) {
        /* realloc would free the old block unwiped: move the secret by hand. */
        p = kura_malloc(cap);
        if (p && b->ptr) {
            memcpy(p, b->ptr, b->len + 1);
            kura_wipe(b->ptr, b->cap);
            kura_free(b->ptr);
        }
    } else {
        p = kura_reallocarray(b->ptr, cap, 1);
    }
    if (!p) {
        set_err(b, -ENOMEM);
        return false;
    }
    b->ptr = p;
    b->cap = cap;
    b->ptr[b->len] = '\0'; /* the invariant holds from the first allocation on */
    return true;
}

void kura_buf_add_slow(struct kura_buf *b, const void *p, size_t len)
{
    if (!reserve(b, len)) {
        return;
    }
    if (len > 0) {
        memcpy(b->ptr + b->len, p, len);
    }
    b->len += len;
    b->ptr[b->len] = '\0';
}

void kura_buf_adds(struct kura_buf *b, const char *s)
{
    kura_buf_add(b, s, strlen(s));
}

void kura_buf_addstr(struct kura_buf *b, struct kura_str s)
{
    kura_buf_add(b, s.ptr, s.len);
}

void kura_buf_vaddf(struct kura_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        set_err(b, -EINVAL);
        return;
    }
    if (!reserve(b, (size_t)n)) {
        return;
    }
    (void)vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void kura_buf_addf(struct kura_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kura_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void kura_buf_add_escaped(struct kura_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\n':
            kura_buf_add(b, "\\n", 2);
            break;
        case '\r':
            kura_buf_add(b, "\\r", 2);
            break;
        case '\t':
            kura_buf_add(b, "\\t", 2);
            break;
        case '"':
            kura_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            kura_buf_add(b, "\\\\", 2);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                kura_buf_addf(b, "\\x%02x", c);
            } else {
                kura_buf_addc(b, (char)c);
            }
        }
    }
}

char *kura_buf_detach(struct kura_buf *b, size_t *ret_len)
{
    if (b->err) {
        return NULL;
    }
    if (!b->ptr && !reserve(b, 0)) {
        return NULL;
    }
    char *p = b->ptr;
    if (ret_len) {
        *ret_len = b->len;
    }
    *b = (struct kura_buf){.max = b->max, .secret = b->secret};
    return p;
}
