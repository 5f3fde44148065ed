/* crypto-internal.h — helpers shared by the files of the crypto area, and the seams its unit
 * tests and fuzz harness reach through. Not for other areas (docs/style.md item 4).
 */
#pragma once

#include "crypto/crypto.h"

#include <sodium.h>
#include <sys/stat.h>

/* ---- wiping ------------------------------------------------------------------------------- */

struct kura_crypto_erase {
    void *ptr;
    size_t len;
};

static inline void kura_crypto_erasep(struct kura_crypto_erase *e)
{
    sodium_memzero(e->ptr, e->len);
}

#define KURA_CRYPTO_CONCAT_(a, b) a##b
#define KURA_CRYPTO_CONCAT(a, b) KURA_CRYPTO_CONCAT_(a, b)

/* Wipes a local object (array or struct) when it goes out of scope, on every path (systemd's
 * CLEANUP_ERASE). Declare it right after the variable: `uint8_t key[32]; KURA_CLEANUP_WIPE(key);`
 * Cleanups run in reverse order of declaration, so the wipe runs while the variable still
 * exists. (KURA_UNUSED: clang counts a variable only its cleanup reads as unused.) */
#define KURA_CLEANUP_WIPE(var)                                                                     \
    _cleanup_(kura_crypto_erasep) KURA_UNUSED struct kura_crypto_erase KURA_CRYPTO_CONCAT(         \
        kura_wipe_, __COUNTER__) = {&(var), sizeof(var)}

/* ---- heap blobs that may hold secrets ----------------------------------------------------- */

/* A byte buffer from kura_malloc that is always wiped before it is freed. */
struct kura_crypto_blob {
    uint8_t *ptr;
    size_t len;
    size_t cap;
};

void kura_crypto_blob_release(struct kura_crypto_blob *b);

/* sodium_malloc'd memory (guard pages, mlock where allowed, wiped by sodium_free). Calls
 * sodium_init first, so it is safe even if kura_crypto_init was forgotten. NULL on failure. */
void *kura_crypto_secure_alloc(size_t size);

/* ---- PEM armour (RFC 7468) ---------------------------------------------------------------- */

/* Decodes the one armoured block of text, whose BEGIN label must be one of labels[0..n) (its
 * index goes to *ret_label). Lax in whitespace only: leading and trailing blank lines, CRLF line
 * ends, spaces and tabs around lines. Strict in everything else: no text before BEGIN or after
 * END, END label equal to BEGIN label, canonical padded base64, no NUL bytes, at most max_len
 * bytes of text. *ret_der is allocated (release it with kura_crypto_blob_release).
 * Errors: KURA_ETOOBIG, KURA_ESYNTAX, KURA_EUNSUPPORTED (another label), -ENOMEM. */
KURA_MUST_CHECK int kura_crypto_pem_decode(const char *text, size_t len, size_t max_len,
                                           const char *const *labels, size_t n_labels,
                                           size_t *ret_label, struct kura_crypto_blob *ret_der,
                                           struct kura_buf *reterr_why);

/* Bytes kura_crypto_pem_encode writes for der_len bytes under label (no NUL counted). */
size_t kura_crypto_pem_encoded_len(const char *label, size_t der_len);

/* Armours der into out (64-column lines, LF ends, final LF) and NUL-terminates it. out_cap must
 * be at least kura_crypto_pem_encoded_len() + 1, else KURA_ETOOBIG. */
KURA_MUST_CHECK int kura_crypto_pem_encode(const char *label, const uint8_t *der, size_t der_len,
                                           char *out, size_t out_cap, size_t *ret_len);

/* ---- files -------------------------------------------------------------------------------- */

enum kura_crypto_file_kind {
    KURA_CRYPTO_FILE_PUBLIC,  /* any regular file, not a symlink; kura_malloc memory */
    KURA_CRYPTO_FILE_PRIVATE, /* the same, read into sodium_malloc memory */
    KURA_CRYPTO_FILE_SECRET,  /* PRIVATE, and owned by the euid with no group/other bits */
};

/* Reads the regular file dirfd/name (not following a symlink, never blocking on a FIFO) of at
 * most max bytes. For KURA_CRYPTO_FILE_SECRET the ownership and mode are checked on the open
 * descriptor (so no rename race can slip another file in between check and read). PRIVATE and
 * SECRET content lands in sodium_malloc memory, PUBLIC in kura_malloc memory. Either way *ret is
 * NUL-terminated; free it with kura_crypto_file_free(kind, ptr, len). Errors: -errno,
 * KURA_ETOOBIG, KURA_EKEYMODE (secret files), -EINVAL (not a regular file). Messages name the
 * file as shown (NULL: name), e.g. "keys/c4gh.sec". */
KURA_MUST_CHECK int kura_crypto_read_file(int dirfd, const char *name, const char *shown,
                                          size_t max, enum kura_crypto_file_kind kind, char **ret,
                                          size_t *ret_len, struct kura_buf *reterr_why);
void kura_crypto_file_free(enum kura_crypto_file_kind kind, char *p, size_t len);

/* Explains, into why, what is wrong with st as a key file of that kind (PRIVATE: never wrong):
 * "mode 0640 allows group or others; chmod 600" and the like. Returns 0 when it is fine, else
 * KURA_EKEYMODE. The message is prefixed by prefix (e.g. "keys/c4gh.sec"). */
KURA_MUST_CHECK int kura_crypto_check_stat(const struct stat *st, enum kura_crypto_file_kind kind,
                                           const char *prefix, struct kura_buf *reterr_why);

/* ---- Crypt4GH private key blob (the bytes inside the armour) ------------------------------ */

/* Decodes a c4gh-v1 private key blob. passphrase may be NULL (enough for kdf "none"). When
 * ret_sk is NULL nothing is derived or decrypted: the call validates the structure only and
 * reports through *ret_encrypted (which may be NULL) whether a passphrase is needed. Errors as
 * for kura_c4gh_parse_private_key. */
KURA_MUST_CHECK int kura_c4gh_decode_private_blob(const uint8_t *blob, size_t len,
                                                  const char *passphrase, uint8_t *ret_sk,
                                                  bool *ret_encrypted, struct kura_buf *reterr_why);

/* Appends "fmt..." to why when why is not NULL. */
void kura_crypto_why(struct kura_buf *why, const char *fmt, ...) KURA_PRINTF(2, 3);
/* Appends s (len bytes), quoted '...' with control bytes escaped, at most 64 bytes of it. */
void kura_crypto_why_quoted(struct kura_buf *why, const void *s, size_t len);

/* Maps a GnuTLS error code to a kura result. */
int kura_crypto_from_gnutls(int gnutls_err);
