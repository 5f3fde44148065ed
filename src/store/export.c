/* export.c — a file's current version as a standard Crypt4GH file: a new header (the same data
 * key, re-encrypted for the server's current key or for any recipient's public key) followed by
 * the blob's segments byte for byte. Nothing is decrypted for the output; every segment is
 * still authenticated and its position checked before it is written, and the end checks (count,
 * size, SHA-256) run before the call succeeds, so a damaged object is never exported as good.
 */
#include "store/store-internal.h"

#include <sodium.h>
#include <string.h>
#include <unistd.h>

static int discard(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return w < 0 ? -errno : -EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The segments: each verified, then written. */
static int copy_segments(struct kura_store *s, const struct kura_version *v, const uint8_t *key,
                         int out_fd, uint64_t *ret_bytes)
{
    struct kura_c4gh_summary sum = {.size = v->size, .segments = v->segments};
    memcpy(sum.sha256, v->sha256, sizeof(sum.sha256));
    memcpy(sum.nonce_prefix, v->nonce_prefix, sizeof(sum.nonce_prefix));
    const struct kura_c4gh_reader_opts ro = {&sum, NULL};
    uint64_t left = 0;
    struct kura_c4gh_reader *cr = NULL;
    struct kura_blob_reader *br = NULL;
    uint8_t *cipher = kura_malloc(KURA_C4GH_CIPHER_SEGMENT_BYTES);
    int r = cipher ? kura_c4gh_cipher_size(v->size, &left) : -ENOMEM;
    r = r == 0 ? kura_c4gh_reader_new(key, &ro, discard, NULL, &cr) : r;
    r = r == 0 ? kura_blob_get(s->blob, v->blob, 0, &br) : r;
    if (r == 0 && kura_blob_reader_size(br) != left) {
        r = KURA_ECORRUPT;
    }
    while (r == 0 && left > 0) {
        size_t want =
            left < KURA_C4GH_CIPHER_SEGMENT_BYTES ? (size_t)left : KURA_C4GH_CIPHER_SEGMENT_BYTES;
        size_t got = 0;
        r = kura_blob_read(br, cipher, want, &got);
        r = r == 0 && got < want ? KURA_ECORRUPT : r;
        r = r == 0 ? kura_c4gh_reader_feed(cr, cipher, got) : r;
        left -= got;
        if (r == 0 && left == 0) {
            r = kura_c4gh_reader_finish(cr); /* the end checks before the last bytes go out */
        }
        r = r == 0 ? write_all(out_fd, cipher, got) : r;
        *ret_bytes += r == 0 ? got : 0;
    }
    if (r == 0 && v->size == 0) {
        r = kura_c4gh_reader_finish(cr);
    }
    kura_blob_reader_close(br);
    kura_c4gh_reader_free(cr);
    kura_free(cipher);
    return r;
}

int kura_store_export(struct kura_store *s, const char *account, const char *path,
                      const uint8_t *recipient_pk, int out_fd, struct kura_store_export *ret)
{
    struct kura_path p = KURA_PATH_INIT;
    struct kura_space sp;
    struct kura_node n;
    struct kura_version *v = kura_malloc(sizeof(*v));
    int r = v ? kura_path_normalize(path, strlen(path), &p, NULL) : -ENOMEM;
    r = r == 0 ? kura_meta_space_personal(s->meta, account, s->default_quota, kura_clock_wall_ms(),
                                          &sp)
               : r;
    r = r == 0 ? kura_meta_node_lookup(s->meta, sp.id, p.ptr, &n) : r;
    if (r == 0 && (n.folder || n.version == 0)) {
        r = n.folder ? -EISDIR : KURA_ENOTFOUND;
    }
    r = r == 0 ? kura_meta_version_get(s->meta, n.version, v) : r;
    uint8_t header[KURA_C4GH_HEADER_ONE_BYTES], key[KURA_C4GH_DATA_KEY_BYTES];
    struct kura_store_export out = {.version = r == 0 ? v->id : 0};
    r = r == 0 ? store_header_reencrypt(s, v, recipient_pk, header) : r;
    r = r == 0 ? store_header_open(s, v, key) : r;
    r = r == 0 ? write_all(out_fd, header, sizeof(header)) : r;
    out.bytes = r == 0 ? sizeof(header) : 0;
    r = r == 0 ? copy_segments(s, v, key, out_fd, &out.bytes) : r;
    sodium_memzero(key, sizeof(key));
    if ((r == KURA_ECRYPTO || r == KURA_ECORRUPT) && out.version) {
        KURA_IGNORE(kura_meta_version_flag_corrupt(s->meta, out.version, kura_clock_wall_ms()));
    }
    if (r == 0) {
        out.size = v->size;
        memcpy(out.sha256, v->sha256, sizeof(out.sha256));
        *ret = out;
    }
    if (v) {
        sodium_memzero(v, sizeof(*v));
    }
    kura_free(v);
    kura_path_release(&p);
    return r;
}
