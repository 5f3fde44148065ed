/* store-open.c — the file store as the CLI opens it (kura purge, fsck, export, keys rotate, ...)
 * and as kura serve configures it: one place for the options both use. */
#include "cli/cli.h"

#include <fcntl.h>
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
        r = kfd < 0 ? -errno : kura_keyring_load(kfd, NULL, &c->keys, err);
    }
    r = r == 0 ? kura_blob_fs_open(c->datafd, &c->blob) : r;
    if (r == 0) {
        cli_store_key_id(kura_keyring_c4gh_public_key(c->keys), c->key_id);
        const struct kura_store_opts o =
            cli_store_opts(c->conf, c->keys, c->meta, c->blob, NULL, c->key_id);
        r = kura_store_new(&o, &c->store);
    }
    /* The retired Crypt4GH keys too, and reloads after a rotation (store.h). */
    r = r == 0 ? kura_store_keys_attach(c->store, kfd, NULL) : r;
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
