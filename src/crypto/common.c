/* common.c — initialisation, wiping blobs, secure allocation, explanations, and the key-file
 * reader shared by the crypto area.
 */
#include "crypto-internal.h"

#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kura_crypto_init(void)
{
    if (sodium_init() < 0) {
        return KURA_EINTERNAL;
    }
    return 0;
}

void kura_crypto_blob_release(struct kura_crypto_blob *b)
{
    if (b->ptr) {
        sodium_memzero(b->ptr, b->cap);
        kura_free(b->ptr);
    }
    *b = (struct kura_crypto_blob){0};
}

void *kura_crypto_secure_alloc(size_t size)
{
    /* sodium_malloc needs the page size that sodium_init records; sodium_init is idempotent and
     * cheap after the first call. */
    if (sodium_init() < 0) {
        return NULL;
    }
    return sodium_malloc(size);
}

void kura_crypto_why(struct kura_buf *why, const char *fmt, ...)
{
    if (!why) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    kura_buf_vaddf(why, fmt, ap);
    va_end(ap);
}

void kura_crypto_why_quoted(struct kura_buf *why, const void *s, size_t len)
{
    if (!why) {
        return;
    }
    const size_t max = 64;
    kura_buf_addc(why, '\'');
    kura_buf_add_escaped(why, s, len > max ? max : len);
    if (len > max) {
        kura_buf_adds(why, "...");
    }
    kura_buf_addc(why, '\'');
}

int kura_crypto_from_gnutls(int gnutls_err)
{
    if (gnutls_err == GNUTLS_E_SUCCESS) {
        return 0;
    }
    if (gnutls_err == GNUTLS_E_MEMORY_ERROR) {
        return -ENOMEM;
    }
    return KURA_EINTERNAL;
}

int kura_crypto_check_stat(const struct stat *st, enum kura_crypto_file_kind kind,
                           const char *prefix, struct kura_buf *reterr_why)
{
    if (kind == KURA_CRYPTO_FILE_PRIVATE) {
        return 0;
    }
    if (S_ISLNK(st->st_mode)) {
        kura_crypto_why(reterr_why, "%s: is a symbolic link; kura needs a regular file", prefix);
        return KURA_EKEYMODE;
    }
    if (!S_ISREG(st->st_mode)) {
        kura_crypto_why(reterr_why, "%s: not a regular file", prefix);
        return KURA_EKEYMODE;
    }
    uid_t euid = geteuid();
    if (st->st_uid != euid) {
        kura_crypto_why(reterr_why, "%s: owned by uid %u, not by uid %u that runs kura", prefix,
                        (unsigned)st->st_uid, (unsigned)euid);
        return KURA_EKEYMODE;
    }
    unsigned mode = (unsigned)st->st_mode & 07777u;
    if (kind == KURA_CRYPTO_FILE_SECRET && (mode & 077u) != 0) {
        kura_crypto_why(reterr_why, "%s: mode %04o allows group or others; chmod 600", prefix,
                        mode);
        return KURA_EKEYMODE;
    }
    if (kind == KURA_CRYPTO_FILE_PUBLIC && (mode & 022u) != 0) {
        kura_crypto_why(reterr_why, "%s: mode %04o lets group or others change it; chmod 644",
                        prefix, mode);
        return KURA_EKEYMODE;
    }
    return 0;
}

void kura_crypto_file_free(enum kura_crypto_file_kind kind, char *p, size_t len)
{
    if (!p) {
        return;
    }
    if (kind != KURA_CRYPTO_FILE_PUBLIC) {
        sodium_free(p); /* wipes */
        return;
    }
    sodium_memzero(p, len);
    kura_free(p);
}

int kura_crypto_read_file(int dirfd, const char *name, const char *shown, size_t max,
                          enum kura_crypto_file_kind kind, char **ret, size_t *ret_len,
                          struct kura_buf *reterr_why)
{
    if (!shown) {
        shown = name;
    }
    /* O_NONBLOCK: a FIFO planted under the name must not hang the reader; it is refused by the
     * S_ISREG check below. Regular files ignore the flag. */
    _cleanup_(kura_closep) int fd =
        openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int r = -errno;
        if (r == -ELOOP) {
            kura_crypto_why(reterr_why, "%s: is a symbolic link; kura needs a regular file", shown);
            return kind == KURA_CRYPTO_FILE_SECRET ? KURA_EKEYMODE : r;
        }
        kura_crypto_why(reterr_why, "%s: %s", shown, kura_strerror(r));
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (kind == KURA_CRYPTO_FILE_SECRET) {
        int r = kura_crypto_check_stat(&st, kind, shown, reterr_why);
        if (r < 0) {
            return r;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        kura_crypto_why(reterr_why, "%s: not a regular file", shown);
        return -EINVAL;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        kura_crypto_why(reterr_why, "%s: larger than %zu bytes", shown, max);
        return KURA_ETOOBIG;
    }
    size_t size = (size_t)st.st_size;
    /* One byte more than the file: a file that grew between fstat and read is noticed. */
    size_t cap = size + 1;
    char *p = kind != KURA_CRYPTO_FILE_PUBLIC ? kura_crypto_secure_alloc(cap) : kura_malloc(cap);
    if (!p) {
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, p + got, cap - got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int r = -errno;
            kura_crypto_file_free(kind, p, cap);
            return r;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    if (got > size) {
        kura_crypto_file_free(kind, p, cap);
        kura_crypto_why(reterr_why, "%s: changed while being read", shown);
        return -EAGAIN;
    }
    p[got] = '\0';
    *ret = p;
    *ret_len = got;
    return 0;
}
