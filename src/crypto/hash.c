/* hash.c — SHA-256 through OpenSSL's EVP interface.
 *
 * Why OpenSSL and not libsodium: with SHA-NI, EVP's SHA-256 runs at ~1.8 GB/s on this CPU,
 * libsodium's at ~0.35 GB/s (docs/architecture.md). The audit log hashes every record and every
 * Merkle node; file checksums hash every byte stored. One EVP_MD_CTX per thread is reused, since
 * allocating one per hash costs more than hashing a small record. The algorithm is fetched once:
 * EVP_sha256() makes OpenSSL 3 look it up again on every EVP_DigestInit_ex, a third of the cost
 * of hashing a 512-byte audit record (docs/performance.md). The incremental form at the end hashes
 * file contents as they stream through the Crypt4GH writer and reader (c4gh-stream.c).
 */
#include "crypto-internal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static _Thread_local EVP_MD_CTX *thread_ctx;
static EVP_MD *sha256_md; /* fetched once, kept for the life of the process */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Frees a thread's context when the thread ends, whoever created the thread (a work pool's
 * worker does not know it hashed). */
static pthread_key_t ctx_key;

static void free_at_exit(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (pthread_key_create(&ctx_key, free_at_exit) != 0) {
        EVP_MD_free(sha256_md);
        sha256_md = NULL;
    }
}

static void free_thread_ctx(void)
{
    EVP_MD_CTX_free(thread_ctx);
    thread_ctx = NULL;
    if (sha256_md) {
        (void)pthread_setspecific(ctx_key, NULL);
    }
}

int kura_sha256_parts(uint8_t out[KURA_SHA256_BYTES], const struct kura_str *parts, size_t n)
{
    (void)pthread_once(&sha256_once, fetch_sha256);
    if (!sha256_md) {
        return KURA_ECRYPTO;
    }
    if (!thread_ctx) {
        thread_ctx = EVP_MD_CTX_new();
        if (!thread_ctx || pthread_setspecific(ctx_key, thread_ctx) != 0) {
            free_thread_ctx();
            return -ENOMEM;
        }
    }
    if (EVP_DigestInit_ex2(thread_ctx, sha256_md, NULL) != 1) {
        free_thread_ctx();
        return KURA_ECRYPTO;
    }
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0 && EVP_DigestUpdate(thread_ctx, parts[i].ptr, parts[i].len) != 1) {
            free_thread_ctx();
            return KURA_ECRYPTO;
        }
    }
    unsigned len = 0;
    if (EVP_DigestFinal_ex(thread_ctx, out, &len) != 1 || len != KURA_SHA256_BYTES) {
        free_thread_ctx();
        return KURA_ECRYPTO;
    }
    return 0;
}

int kura_sha256(uint8_t out[KURA_SHA256_BYTES], const void *data, size_t len)
{
    struct kura_str part = {data, len};
    return kura_sha256_parts(out, &part, 1);
}

void kura_sha256_thread_done(void)
{
    free_thread_ctx();
}

/* ---- incremental SHA-256 ------------------------------------------------------------------- */

/* A wrapper rather than EVP_MD_CTX itself: the struct comes from kura_malloc, so fault-injection
 * builds can fail it, and a failed step is remembered, so that a caller cannot take the digest of
 * a stream with a hole in it. */
struct kura_sha256_ctx {
    EVP_MD_CTX *md;
    int err;   /* first failure, sticky */
    bool done; /* kura_sha256_ctx_final was called */
};

int kura_sha256_ctx_new(struct kura_sha256_ctx **ret)
{
    (void)pthread_once(&sha256_once, fetch_sha256);
    if (!sha256_md) {
        return KURA_ECRYPTO;
    }
    struct kura_sha256_ctx *c = kura_calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->md = EVP_MD_CTX_new();
    if (!c->md) {
        kura_free(c);
        return -ENOMEM;
    }
    if (EVP_DigestInit_ex2(c->md, sha256_md, NULL) != 1) {
        kura_sha256_ctx_free(c);
        return KURA_ECRYPTO;
    }
    *ret = c;
    return 0;
}

int kura_sha256_ctx_update(struct kura_sha256_ctx *c, const void *data, size_t len)
{
    if (c->err < 0) {
        return c->err;
    }
    if (c->done) {
        return -EINVAL;
    }
    if (len > 0 && EVP_DigestUpdate(c->md, data, len) != 1) {
        c->err = KURA_ECRYPTO;
    }
    return c->err;
}

int kura_sha256_ctx_final(struct kura_sha256_ctx *c, uint8_t out[KURA_SHA256_BYTES])
{
    if (c->err < 0) {
        return c->err;
    }
    if (c->done) {
        return -EINVAL;
    }
    c->done = true;
    uint8_t digest[KURA_SHA256_BYTES];
    unsigned len = 0;
    if (EVP_DigestFinal_ex(c->md, digest, &len) != 1 || len != KURA_SHA256_BYTES) {
        c->err = KURA_ECRYPTO;
        return c->err;
    }
    memcpy(out, digest, sizeof(digest));
    return 0;
}

struct kura_sha256_ctx *kura_sha256_ctx_free(struct kura_sha256_ctx *c)
{
    if (c) {
        EVP_MD_CTX_free(c->md);
        kura_free(c);
    }
    return NULL;
}

void kura_sha256_ctx_freep(struct kura_sha256_ctx **c)
{
    *c = kura_sha256_ctx_free(*c);
}
