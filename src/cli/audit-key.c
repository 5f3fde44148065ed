/* audit-key.c — `kura audit rotate-key`: a new audit key, handed over by the old one.
 *
 * Runs with the server stopped (the rotation is written by the log's only writer, this
 * process, holding the data-folder lock). Steps, each safe to interrupt:
 *   1. the new key is written as keys/audit.key.next and keys/audit.pub.next;
 *   2. the rotation record (signed statement, audit.h) goes into the log, published under the
 *      old key, then the same size is published under the new key;
 *   3. the old public key is appended to keys/audit-retired.pub (one base64 key per line,
 *      oldest first; verify follows the chain through it);
 *   4. audit.key.next and audit.pub.next replace audit.key and audit.pub.
 * `kura serve` refuses to start while a .next file exists; running rotate-key again finishes
 * an interrupted rotation (or, if its record never reached the log, discards it and rotates).
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "ctl/ctl.h"

#define NEXT_KEY "audit.key.next"
#define NEXT_PUB "audit.pub.next"
#define RETIRED_MAX 1000

/* ---- keys/audit-retired.pub ---------------------------------------------------------------- */

int cli_audit_retired_read(int keys_fd, uint8_t (**ret)[KURA_SIGN_PUBLIC_KEY_BYTES], size_t *ret_n,
                           struct kura_buf *err)
{
    struct kura_buf text = KURA_BUF_INIT(RETIRED_MAX * 64);
    int r = kura_file_read_all(keys_fd, CLI_AUDIT_RETIRED, &text);
    *ret = NULL;
    *ret_n = 0;
    if (r == -ENOENT) {
        kura_buf_release(&text);
        return 0; /* never rotated */
    }
    uint8_t(*keys)[KURA_SIGN_PUBLIC_KEY_BYTES] =
        r == 0 ? kura_calloc(RETIRED_MAX, sizeof(*keys)) : NULL;
    r = r < 0 ? r : keys ? 0 : -ENOMEM;
    size_t n = 0;
    struct kura_str rest = kura_buf_str(&text), line;
    while (r == 0 && rest.len > 0) {
        size_t len = 0;
        bool complete = kura_str_split(&rest, '\n', &line);
        if (!complete || n == RETIRED_MAX ||
            sodium_base642bin(keys[n], KURA_SIGN_PUBLIC_KEY_BYTES, line.ptr, line.len, NULL, &len,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            len != KURA_SIGN_PUBLIC_KEY_BYTES) {
            kura_buf_addf(err, "keys/%s: line %zu is not a base64 Ed25519 public key",
                          CLI_AUDIT_RETIRED, n + 1);
            r = KURA_ECORRUPT;
        }
        n++;
    }
    kura_buf_release(&text);
    if (r < 0) {
        kura_free(keys);
        return r;
    }
    *ret = keys;
    *ret_n = n;
    return 0;
}

/* Appends pk unless it is already the last line (a repeated finish). */
static int retire(int keys_fd, const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES], struct kura_buf *err)
{
    uint8_t(*keys)[KURA_SIGN_PUBLIC_KEY_BYTES] = NULL;
    size_t n = 0;
    int r = cli_audit_retired_read(keys_fd, &keys, &n, err);
    if (r < 0) {
        return r;
    }
    bool there = n > 0 && memcmp(keys[n - 1], pk, KURA_SIGN_PUBLIC_KEY_BYTES) == 0;
    struct kura_buf text = KURA_BUF_INIT(RETIRED_MAX * 64);
    char line[64];
    for (size_t i = 0; i < n + !there; i++) {
        sodium_bin2base64(line, sizeof(line), i < n ? keys[i] : pk, KURA_SIGN_PUBLIC_KEY_BYTES,
                          sodium_base64_VARIANT_ORIGINAL);
        kura_buf_addf(&text, "%s\n", line);
    }
    kura_free(keys);
    r = kura_buf_err(&text);
    if (r == 0 && !there) {
        r = kura_file_write_atomic(keys_fd, CLI_AUDIT_RETIRED, text.ptr, text.len, 0644);
    }
    kura_buf_release(&text);
    return r;
}

/* Steps 3 and 4. */
static int install(int keys_fd, const uint8_t old_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                   struct kura_buf *err)
{
    int r = retire(keys_fd, old_pk, err);
    if (r == 0 && renameat(keys_fd, NEXT_KEY, keys_fd, KURA_KEYRING_AUDIT_KEY) < 0 &&
        errno != ENOENT) {
        r = -errno;
    }
    if (r == 0 && renameat(keys_fd, NEXT_PUB, keys_fd, KURA_KEYRING_AUDIT_PUB) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = kura_fsync_dir(keys_fd);
    }
    if (r < 0 && err->len == 0) {
        kura_buf_addf(err, "cannot install the new audit key: %s", kura_strerror(r));
    }
    return r;
}

/* ---- the rotation ---------------------------------------------------------------------------- */

struct rotation {
    const char *data;
    int datafd, keys_fd;
    struct kura_conf *conf;
    struct kura_keyring *kr;
    struct kura_sign_key *next;
    struct kura_audit *audit;
    uint8_t old_pk[KURA_SIGN_PUBLIC_KEY_BYTES];
};

/* The last record of the log is the rotation to next (its record reached the log). */
static bool last_rotates_to(struct rotation *rt, int audit_fd)
{
    uint64_t size = kura_audit_size(rt->audit);
    struct kura_audit_iter *it = NULL;
    struct kura_str rec;
    uint64_t index;
    bool yes = false;
    if (size > 0 && kura_audit_iter_open(audit_fd, size - 1, &it) == 0 &&
        kura_audit_iter_next(it, &rec, &index) == 1) {
        json_t *doc = json_loadb(rec.ptr, rec.len, 0, NULL);
        const char *action = json_string_value(json_object_get(doc, "action"));
        const char *new_key =
            json_string_value(json_object_get(json_object_get(doc, "detail"), "new_key"));
        char want[64];
        sodium_bin2base64(want, sizeof(want), kura_sign_key_public(rt->next),
                          KURA_SIGN_PUBLIC_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
        yes = action && strcmp(action, "audit.key") == 0 && new_key && strcmp(new_key, want) == 0;
        json_decref(doc);
    }
    kura_audit_iter_free(it);
    return yes;
}

static bool exists(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* audit/checkpoint is signed by the new key: step 2 is complete. */
static bool published_under(struct rotation *rt, const struct kura_sign_key *key)
{
    char install_id[40], origin[KURA_AUDIT_ORIGIN_MAX];
    struct kura_buf note = KURA_BUF_INIT(65536);
    struct kura_audit_checkpoint cp;
    int audit_fd = openat(rt->datafd, CLI_AUDIT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool yes =
        audit_fd >= 0 && cli_read_install_id(rt->datafd, install_id) == 0 &&
        kura_audit_origin(audit_fd, rt->conf, install_id, origin) == 0 &&
        kura_file_read_all(audit_fd, "checkpoint", &note) == 0 &&
        kura_audit_checkpoint_open(note.ptr, note.len, kura_sign_key_public(key), origin, &cp) == 0;
    if (audit_fd >= 0) {
        (void)close(audit_fd);
    }
    kura_buf_release(&note);
    return yes;
}

/* A previous run stopped between steps: finish it, or discard it if nothing reached the log. */
static int resume(struct rotation *rt, bool *ret_done, struct kura_buf *err)
{
    bool have_key = exists(rt->keys_fd, NEXT_KEY), have_pub = exists(rt->keys_fd, NEXT_PUB);
    if (!have_key) {
        *ret_done = have_pub; /* step 4 half done: audit.key is already the new key */
        return have_pub ? install(rt->keys_fd, rt->old_pk, err) : 0;
    }
    struct kura_buf why = KURA_BUF_INIT(1024);
    int r = kura_sign_key_read(rt->keys_fd, NEXT_KEY, &rt->next, &why);
    kura_buf_release(&why);
    if (r < 0) {
        kura_buf_addf(err, "keys/%s is damaged: remove it and %s, then run again", NEXT_KEY,
                      NEXT_PUB);
        return r;
    }
    if (published_under(rt, rt->next)) {
        *ret_done = true;
        return install(rt->keys_fd, rt->old_pk, err);
    }
    r = cli_audit_open(rt->datafd, rt->conf, rt->kr, false, &rt->audit, err);
    int audit_fd = r == 0 ? openat(rt->datafd, CLI_AUDIT_DIR, O_RDONLY | O_DIRECTORY) : -1;
    if (r == 0 && audit_fd >= 0 && last_rotates_to(rt, audit_fd)) {
        r = kura_audit_switch_key(rt->audit, rt->next);
        *ret_done = r == 0;
    } else if (r == 0) {
        (void)unlinkat(rt->keys_fd, NEXT_KEY, 0); /* the record never made it: start over */
        (void)unlinkat(rt->keys_fd, NEXT_PUB, 0);
        rt->next = kura_sign_key_free(rt->next);
    }
    if (audit_fd >= 0) {
        (void)close(audit_fd);
    }
    rt->audit = kura_audit_close(rt->audit);
    return r == 0 && *ret_done ? install(rt->keys_fd, rt->old_pk, err) : r;
}

static int rotate(struct rotation *rt, uint64_t *ret_index, struct kura_buf *err)
{
    int r = kura_sign_key_generate(&rt->next);
    if (r == 0) {
        r = kura_sign_key_write(rt->next, rt->keys_fd, NEXT_KEY, NEXT_PUB);
    }
    if (r == 0) {
        r = kura_fsync_dir(rt->keys_fd);
    }
    if (r < 0) {
        kura_buf_addf(err, "cannot write the new key: %s", kura_strerror(r));
        return r;
    }
    r = cli_audit_open(rt->datafd, rt->conf, rt->kr, false, &rt->audit, err);
    if (r == 0) {
        char actor[CLI_ACTOR_MAX];
        KURA_IGNORE(cli_actor_for_uid(getuid(), actor));
        r = kura_audit_rotate_key(rt->audit, rt->next, actor, ret_index);
        if (r < 0) {
            kura_buf_addf(err, "cannot write the rotation to the audit log: %s", kura_strerror(r));
        }
    }
    rt->audit = kura_audit_close(rt->audit);
    return r == 0 ? install(rt->keys_fd, rt->old_pk, err) : r;
}

static int load(struct rotation *rt, struct kura_buf *err)
{
    struct kura_buf path = KURA_BUF_INIT(8192);
    int r = cli_data_path(rt->data, CLI_CONF_NAME, &path);
    if (r == 0) {
        r = kura_conf_load(path.ptr, &rt->conf, err);
    }
    kura_buf_release(&path);
    rt->keys_fd =
        r == 0 ? openat(rt->datafd, CLI_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (r == 0 && rt->keys_fd < 0) {
        r = -errno;
    }
    if (r == 0 && exists(rt->keys_fd, NEXT_PUB) && !exists(rt->keys_fd, NEXT_KEY)) {
        /* Interrupted inside step 4: audit.key is new, audit.pub still the old key. */
        return kura_sign_public_key_read(rt->keys_fd, KURA_KEYRING_AUDIT_PUB, rt->old_pk, err);
    }
    if (r == 0) {
        r = cli_keyring_load(rt->keys_fd, rt->conf, &rt->kr, err);
    }
    if (r == 0) {
        memcpy(rt->old_pk, kura_sign_key_public(kura_keyring_audit_key(rt->kr)),
               KURA_SIGN_PUBLIC_KEY_BYTES);
    }
    return r;
}

int cli_audit_rotate_key(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--data") != 0) {
        (void)fputs("usage: kura audit rotate-key --data DIR   (with kura serve stopped)\n",
                    stderr);
        return CLI_EXIT_USAGE;
    }
    struct rotation rt = {.data = argv[2], .datafd = -1, .keys_fd = -1};
    struct kura_buf err = KURA_BUF_INIT(8192);
    struct kura_ctl_lock *lock = NULL;
    pid_t holder = 0;
    uint64_t index = 0;
    bool resumed = false;
    int r = cli_data_open(rt.data, &rt.datafd, &err);
    if (r == 0) {
        r = kura_ctl_lock_take(rt.datafd, &lock, &holder);
        if (r == KURA_ELOCKED) {
            kura_buf_addf(&err, "kura serve (pid %d) uses '%s': stop it first", (int)holder,
                          rt.data);
        }
    }
    if (r == 0) {
        r = load(&rt, &err);
    }
    if (r == 0) {
        r = resume(&rt, &resumed, &err);
    }
    if (r == 0 && !resumed) {
        r = rotate(&rt, &index, &err);
    }
    if (r < 0) {
        cli_error("audit rotate-key", "%s", err.len ? err.ptr : kura_strerror(r));
    } else if (resumed) {
        (void)printf("an interrupted rotation was finished; keys/audit.pub is the new key\n");
    } else {
        (void)printf("the audit key was rotated at record %llu; keys/audit.pub is the new key "
                     "(tell your witnesses: kura audit key --data DIR)\n",
                     (unsigned long long)index);
    }
    kura_sign_key_free(rt.next);
    kura_keyring_free(rt.kr);
    kura_conf_free(rt.conf);
    kura_closep(&rt.keys_fd);
    kura_ctl_lock_release(lock);
    kura_closep(&rt.datafd);
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
