/* store-open.c — the file store as the CLI opens it (kura purge, fsck, export, keys rotate, ...)
 * and as kura serve configures it: one place for the options both use. */
#include "cli/cli.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "conf/conf.h"
#include "crypto/crypto.h"
#include "meta/meta.h"
#include "store/store.h"

void cli_store_key_id(const uint8_t pk[KURA_C4GH_KEY_BYTES], char ret[static CLI_KEY_ID_MAX])
{
    _Static_assert(CLI_KEY_ID_MAX >= KURA_STORE_KEY_ID_SIZE, "key id buffer");
    kura_store_key_id(pk, ret);
}

struct kura_store_opts cli_store_opts(const struct kura_conf *conf, const struct kura_keyring *kr,
                                      struct kura_meta *meta, struct kura_blob *blob,
                                      struct kura_audit *audit, const char *key_id)
{
    return (struct kura_store_opts){.meta = meta,
                                    .blob = blob,
                                    .audit = audit,
                                    .c4gh_sk = kura_keyring_c4gh_secret_key(kr),
                                    .c4gh_pk = kura_keyring_c4gh_public_key(kr),
                                    .key_id = key_id,
                                    .versions_keep = (uint32_t)conf->store.versions_keep,
                                    .default_quota = conf->store.quota_mb << 20};
}

static int attach_keys(struct kura_store *st, int kfd, const struct kura_conf *conf,
                       struct kura_buf *err);

int cli_store_open(const char *data, struct cli_store *c, struct kura_buf *err)
{
    memset(c, 0, sizeof(*c));
    c->datafd = -1;
    struct kura_buf path = KURA_BUF_INIT(8192);
    int r = cli_data_open(data, &c->datafd, err);
    r = r == 0 ? cli_data_path(data, CLI_CONF_NAME, &path) : r;
    r = r == 0 ? kura_conf_load(path.ptr, &c->conf, err) : r;
    kura_buf_reset(&path);
    r = r == 0 ? cli_data_path(data, CLI_DB_NAME, &path) : r;
    r = r == 0 ? kura_meta_open("sqlite", path.ptr, 0, &c->meta) : r;
    r = r == 0 ? kura_meta_check_schema(c->meta, NULL) : r;
    kura_buf_release(&path);
    int kfd = -1;
    if (r == 0) {
        kfd = openat(c->datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = kfd < 0 ? -errno : cli_keyring_load(kfd, c->conf, &c->keys, err);
    }
    r = r == 0 ? kura_blob_fs_open(c->datafd, &c->blob) : r;
    if (r == 0) {
        cli_store_key_id(kura_keyring_c4gh_public_key(c->keys), c->key_id);
        const struct kura_store_opts o =
            cli_store_opts(c->conf, c->keys, c->meta, c->blob, NULL, c->key_id);
        r = kura_store_new(&o, &c->store);
    }
    /* The retired Crypt4GH keys too, and reloads after a rotation (store.h). */
    r = r == 0 ? attach_keys(c->store, kfd, c->conf, err) : r;
    kura_closep(&kfd);
    if (r < 0 && err->len == 0) {
        kura_buf_addf(err, "cannot open the file store of '%s': %s", data, kura_strerror(r));
    }
    if (r < 0) {
        cli_store_close(c);
    }
    return r;
}

void cli_store_close(struct cli_store *c)
{
    c->store = kura_store_free(c->store);
    c->blob = kura_blob_close(c->blob);
    c->keys = kura_keyring_free(c->keys);
    c->meta = kura_meta_close(c->meta);
    c->conf = kura_conf_free(c->conf);
    if (c->datafd >= 0) {
        (void)close(c->datafd);
        c->datafd = -1;
    }
}

/* ---- the passphrase of keys/c4gh.sec ------------------------------------------------------- */

/* Reads a passphrase file: a regular file of ours, not readable by group or others, at most
 * KURA_C4GH_PASSPHRASE_MAX bytes, one trailing newline dropped. */
static int read_passphrase(int dirfd, const char *path, char **ret, struct kura_buf *err)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = -errno;
        kura_buf_addf(err, "cannot read the key passphrase %s: %s", path, kura_strerror(e));
        if (fd >= 0) {
            (void)close(fd);
        }
        return e;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid()) {
        (void)close(fd);
        kura_buf_addf(err,
                      "%s: the key passphrase must be a regular file of kura's user with "
                      "mode 0600 or 0400",
                      path);
        return KURA_EKEYMODE;
    }
    char *p = kura_crypto_init() == 0 ? sodium_malloc(KURA_C4GH_PASSPHRASE_MAX + 2) : NULL;
    ssize_t n = p ? read(fd, p, KURA_C4GH_PASSPHRASE_MAX + 1) : -1;
    (void)close(fd);
    if (!p || n < 0 || n > (ssize_t)KURA_C4GH_PASSPHRASE_MAX) {
        int e = !p ? -ENOMEM : n < 0 ? -errno : KURA_ETOOBIG;
        sodium_free(p);
        kura_buf_addf(err, "cannot read the key passphrase %s: %s", path, kura_strerror(e));
        return e;
    }
    size_t len = (size_t)n;
    len -= len > 0 && p[len - 1] == '\n';
    len -= len > 0 && p[len - 1] == '\r';
    p[len] = '\0';
    if (len == 0 || memchr(p, '\0', len)) {
        sodium_free(p);
        kura_buf_addf(err, "%s: the key passphrase is empty or holds a NUL byte", path);
        return -EINVAL;
    }
    *ret = p;
    return 0;
}

int cli_read_passphrase_file(const char *path, char **ret, struct kura_buf *err)
{
    return read_passphrase(AT_FDCWD, path, ret, err);
}

int cli_c4gh_passphrase(const struct kura_conf *conf, char **ret, struct kura_buf *err)
{
    *ret = NULL;
    if (conf && conf->keys.passphrase_file[0]) {
        return read_passphrase(AT_FDCWD, conf->keys.passphrase_file, ret, err);
    }
    /* systemd's LoadCredential=kura-c4gh-passphrase:/path (the directory name comes from the
     * environment; the secret never does). */
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (!dir || !dir[0]) {
        return 0;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return 0;
    }
    int r = 0;
    if (faccessat(dfd, CLI_C4GH_CREDENTIAL, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        r = read_passphrase(dfd, CLI_C4GH_CREDENTIAL, ret, err);
    }
    (void)close(dfd);
    return r;
}

int cli_keyring_load(int keys_fd, const struct kura_conf *conf, struct kura_keyring **ret,
                     struct kura_buf *err)
{
    char *pass = NULL;
    int r = cli_c4gh_passphrase(conf, &pass, err);
    r = r == 0 ? kura_keyring_load(keys_fd, pass, ret, err) : r;
    sodium_free(pass); /* wipes */
    return r;
}

/* The store's own key set (retired keys, and the passphrase new keys are written with). */
static int attach_keys(struct kura_store *st, int kfd, const struct kura_conf *conf,
                       struct kura_buf *err)
{
    char *pass = NULL;
    int r = cli_c4gh_passphrase(conf, &pass, err);
    r = r == 0 ? kura_store_keys_attach(st, kfd, pass) : r;
    sodium_free(pass);
    return r;
}

int cli_store_keys_attach(struct kura_store *st, int kfd, const struct kura_conf *conf,
                          struct kura_buf *err)
{
    return attach_keys(st, kfd, conf, err);
}
