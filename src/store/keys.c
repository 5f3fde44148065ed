/* keys.c — the store's Crypt4GH server keys: the current one and the retired ones, header
 * opening by key id, online rotation (new key, then header re-encryption in transactions) and
 * the destruction of retired keys nothing needs any more.
 *
 * Layout in the data folder's keys/ (mode 0700):
 *   c4gh.sec, c4gh.pub             the current key (the keyring loads and cross-checks them)
 *   c4gh.sec.next, c4gh.pub.next   only while a rotation installs its new key
 *   c4gh-retired/<16 hex>.sec      retired keys (0600, c4gh-v1, the same protection as c4gh.sec);
 *                                  the name is the key id without "c4gh:", the mtime is when the
 *                                  key was retired
 *
 * Installing a key is ordered so that every interruption leaves a state that the next run
 * finishes and no header ever names a key that is not on disk: (1) the current key is copied to
 * c4gh-retired/ (fsync), (2) the new key is written as the .next files (fsync), (3) c4gh.sec.next
 * is renamed over c4gh.sec, then c4gh.pub.next over c4gh.pub (fsync). A server learns the new
 * key through kura_store_keys_reload (the CLI asks it over the admin socket before re-encrypting
 * anything); a store that meets a header under a key id it does not hold also reloads once (at
 * most once a second), so a reader in another process never fails because of a rotation.
 *
 * Re-encryption: kura_store_keys_rotate_step re-encrypts up to `limit` headers under retired keys
 * in one metadata transaction (the blob, the data key and the segments stay as they are). The
 * step that finds nothing left runs in a write transaction too, and uploads make their header
 * inside their own transaction with the key current at that moment (upload.c), so once a step
 * reports the end no header to a retired key can appear any more: not from an upload that took
 * the key before the reload, not from a copy (which copies the row it reads in its transaction).
 */
#include "store/store-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC_NEXT KURA_KEYRING_C4GH_SEC ".next"
#define PUB_NEXT KURA_KEYRING_C4GH_PUB ".next"
#define RELOAD_EVERY_MS 1000 /* at most one reload for unknown key ids per second */
#define WHY_MAX 512

/* One key; keys[0] of a set is the current one. */
struct store_key {
    char id[KURA_STORE_KEY_ID_SIZE];
    uint8_t sk[KURA_C4GH_KEY_BYTES];
    uint8_t pk[KURA_C4GH_KEY_BYTES];
    int64_t retired_at; /* wall ms (the retired file's mtime); 0 for the current key */
};

/* sodium_malloc'd, read-only once built; replaced whole by a reload. */
struct store_key_set {
    size_t n;
    struct store_key keys[];
};

void kura_store_key_id(const uint8_t pk[KURA_C4GH_KEY_BYTES],
                       char ret[static KURA_STORE_KEY_ID_SIZE])
{
    uint8_t h[KURA_SHA256_BYTES] = {0};
    KURA_IGNORE(kura_sha256(h, pk, KURA_C4GH_KEY_BYTES));
    memcpy(ret, "c4gh:", 5);
    kura_hex_encode(ret + 5, h, 8);
    ret[KURA_STORE_KEY_ID_SIZE - 1] = '\0';
}

static struct store_key_set *set_free(struct store_key_set *ks)
{
    if (ks) {
        sodium_free(ks); /* wipes */
    }
    return NULL;
}

static struct store_key_set *set_new(size_t n)
{
    struct store_key_set *ks = sodium_malloc(sizeof(*ks) + n * sizeof(ks->keys[0]));
    if (ks) {
        memset(ks, 0, sizeof(*ks) + n * sizeof(ks->keys[0]));
        ks->n = n;
    }
    return ks;
}

static int key_fill(struct store_key *k, const uint8_t sk[KURA_C4GH_KEY_BYTES], int64_t retired_at)
{
    memcpy(k->sk, sk, KURA_C4GH_KEY_BYTES);
    int r = kura_c4gh_public_from_secret(sk, k->pk);
    if (r == 0) {
        kura_store_key_id(k->pk, k->id);
        k->retired_at = retired_at;
    }
    return r;
}

int store_keys_init(struct kura_store *s, const uint8_t sk[KURA_C4GH_KEY_BYTES], const char *key_id)
{
    s->keys_dirfd = -1;
    if (pthread_rwlock_init(&s->keys_lock, NULL) != 0 ||
        pthread_mutex_init(&s->keys_reload_lock, NULL) != 0) {
        return -ENOMEM;
    }
    s->keys_locks = true;
    s->keys = set_new(1);
    if (!s->keys) {
        return -ENOMEM;
    }
    int r = key_fill(&s->keys->keys[0], sk, 0);
    if (r == 0 && strcmp(s->keys->keys[0].id, key_id) != 0) {
        r = -EINVAL; /* a caller's id that is not this key's: headers would name the wrong key */
    }
    (void)sodium_mprotect_readonly(s->keys);
    return r;
}

void store_keys_release(struct kura_store *s)
{
    s->keys = set_free(s->keys);
    if (s->passphrase) {
        sodium_free(s->passphrase);
        s->passphrase = NULL;
    }
    kura_closep(&s->keys_dirfd);
    if (s->keys_locks) {
        pthread_rwlock_destroy(&s->keys_lock);
        pthread_mutex_destroy(&s->keys_reload_lock);
        s->keys_locks = false;
    }
}

/* A secret key file must be ours and private (as keyring.c insists for c4gh.sec); the keys
 * directory is 0700, so nobody can swap the file between this check and the read. */
static int check_secret(int dirfd, const char *name, struct stat *ret)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        return KURA_EKEYMODE;
    }
    if (ret) {
        *ret = st;
    }
    return 0;
}

static int read_secret(struct kura_store *s, int dirfd, const char *name, struct stat *ret_st,
                       uint8_t ret_sk[KURA_C4GH_KEY_BYTES])
{
    int r = check_secret(dirfd, name, ret_st);
    struct kura_buf why = KURA_BUF_INIT(WHY_MAX);
    r = r == 0 ? kura_c4gh_read_private_key(dirfd, name, s->passphrase, ret_sk, &why) : r;
    kura_buf_release(&why);
    return r;
}

/* "<16 hex>.sec" */
static bool retired_name(const char *name)
{
    size_t len = strlen(name);
    if (len != 16 + 4 || strcmp(name + 16, ".sec") != 0) {
        return false;
    }
    for (size_t i = 0; i < 16; i++) {
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The names of c4gh-retired/ (sorted, at most KURA_STORE_RETIRED_MAX) into names; *ret_dirfd
 * gets the directory (or -1 when there is none). */
static int list_retired(int keys_dirfd, char (*names)[32], size_t *ret_n, int *ret_dirfd)
{
    *ret_n = 0;
    *ret_dirfd = -1;
    int fd =
        openat(keys_dirfd, KURA_STORE_RETIRED_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        (void)close(fd);
        return KURA_EKEYMODE;
    }
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
    if (!d) {
        int e = -errno;
        if (dup >= 0) {
            (void)close(dup);
        }
        (void)close(fd);
        return e;
    }
    int r = 0;
    size_t n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!retired_name(e->d_name)) {
            continue; /* ".", "..", a temporary file of an atomic write */
        }
        if (n == KURA_STORE_RETIRED_MAX) {
            r = KURA_ETOOBIG;
            break;
        }
        memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
    }
    (void)closedir(d);
    if (r < 0) {
        (void)close(fd);
        return r;
    }
    qsort(names, n, sizeof(names[0]), cmp_names);
    *ret_n = n;
    *ret_dirfd = fd;
    return 0;
}

/* Reads the current key (c4gh.sec, which c4gh.pub must match) and every retired key into a new
 * set. A retired file whose key is not the one its name says is refused: it is not ours. */
static int load_set(struct kura_store *s, struct store_key_set **ret)
{
    char(*names)[32] = kura_calloc(KURA_STORE_RETIRED_MAX, sizeof(*names));
    uint8_t sk[KURA_C4GH_KEY_BYTES], pk[KURA_C4GH_KEY_BYTES];
    struct store_key_set *ks = NULL;
    size_t n = 0;
    int rfd = -1;
    int r = names ? list_retired(s->keys_dirfd, names, &n, &rfd) : -ENOMEM;
    r = r == 0 ? read_secret(s, s->keys_dirfd, KURA_KEYRING_C4GH_SEC, NULL, sk) : r;
    struct kura_buf why = KURA_BUF_INIT(WHY_MAX);
    r = r == 0 ? kura_c4gh_read_public_key(s->keys_dirfd, KURA_KEYRING_C4GH_PUB, pk, &why) : r;
    kura_buf_release(&why);
    ks = r == 0 ? set_new(n + 1) : NULL;
    r = r == 0 && !ks ? -ENOMEM : r;
    r = r == 0 ? key_fill(&ks->keys[0], sk, 0) : r;
    if (r == 0 && sodium_memcmp(pk, ks->keys[0].pk, sizeof(pk)) != 0) {
        r = KURA_ECORRUPT; /* c4gh.pub is not c4gh.sec's: an install in the middle */
    }
    size_t used = 1;
    for (size_t i = 0; r == 0 && i < n; i++) {
        struct stat st;
        struct store_key *k = &ks->keys[used];
        r = read_secret(s, rfd, names[i], &st, sk);
        r = r == 0
                ? key_fill(k, sk, (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000)
                : r;
        if (r == 0 && strncmp(k->id + 5, names[i], 16) != 0) {
            r = KURA_ECORRUPT;
        }
        if (r == 0 && strcmp(k->id, ks->keys[0].id) != 0) {
            used++; /* the current key is also in c4gh-retired/ while it is being replaced */
        }
    }
    sodium_memzero(sk, sizeof(sk));
    kura_closep(&rfd);
    kura_free(names);
    if (r < 0 || !ks) {
        set_free(ks);
        return r < 0 ? r : -ENOMEM;
    }
    ks->n = used;
    (void)sodium_mprotect_readonly(ks);
    *ret = ks;
    return 0;
}

int kura_store_keys_reload(struct kura_store *s)
{
    if (s->keys_dirfd < 0) {
        return -EINVAL;
    }
    pthread_mutex_lock(&s->keys_reload_lock);
    struct store_key_set *ks = NULL;
    int r = load_set(s, &ks);
    if (r == 0) {
        pthread_rwlock_wrlock(&s->keys_lock);
        struct store_key_set *old = s->keys;
        s->keys = ks;
        pthread_rwlock_unlock(&s->keys_lock);
        set_free(old); /* no reader holds it: they all hold the lock while using a key */
        store_keycache_clear(s->keycache); /* rotation: keys of the old headers go too */
    }
    pthread_mutex_unlock(&s->keys_reload_lock);
    return r;
}

int kura_store_keys_attach(struct kura_store *s, int keys_dirfd, const char *passphrase)
{
    if (s->keys_dirfd >= 0) {
        return -EINVAL;
    }
    if (passphrase) {
        size_t len = strlen(passphrase);
        if (len == 0 || len > KURA_C4GH_PASSPHRASE_MAX) {
            return -EINVAL;
        }
        s->passphrase = sodium_malloc(len + 1);
        if (!s->passphrase) {
            return -ENOMEM;
        }
        memcpy(s->passphrase, passphrase, len + 1);
    }
    s->keys_dirfd = fcntl(keys_dirfd, F_DUPFD_CLOEXEC, 0);
    if (s->keys_dirfd < 0) {
        return -errno;
    }
    int r = kura_store_keys_reload(s);
    if (r < 0) {
        kura_closep(&s->keys_dirfd);
    }
    return r;
}

static const struct store_key *find(const struct store_key_set *ks, const char *id)
{
    for (size_t i = 0; i < ks->n; i++) {
        if (strcmp(ks->keys[i].id, id) == 0) {
            return &ks->keys[i];
        }
    }
    return NULL;
}

/* The key named id, with the read lock held (the caller unlocks); reloads once when it is unknown
 * and the store is attached. NULL (lock released) when no key has that id. */
static const struct store_key *lock_key(struct kura_store *s, const char *id)
{
    pthread_rwlock_rdlock(&s->keys_lock);
    const struct store_key *k = find(s->keys, id);
    if (k || s->keys_dirfd < 0) {
        if (!k) {
            pthread_rwlock_unlock(&s->keys_lock);
        }
        return k;
    }
    pthread_rwlock_unlock(&s->keys_lock);
    /* The first miss always reloads (a rotation by another process); a key that stays unknown
     * costs one reload a second at most. */
    int64_t now = kura_clock_mono_ms();
    pthread_mutex_lock(&s->keys_reload_lock);
    bool due = s->keys_missed_ms == 0 || now - s->keys_missed_ms >= RELOAD_EVERY_MS;
    if (due) {
        s->keys_missed_ms = now;
    }
    pthread_mutex_unlock(&s->keys_reload_lock);
    if (due) {
        KURA_IGNORE(kura_store_keys_reload(s)); /* a failed reload keeps the keys we have */
    }
    pthread_rwlock_rdlock(&s->keys_lock);
    k = find(s->keys, id);
    if (!k) {
        pthread_rwlock_unlock(&s->keys_lock);
    }
    return k;
}

int store_header_open(struct kura_store *s, const struct kura_version *v,
                      uint8_t ret_data_key[KURA_C4GH_DATA_KEY_BYTES])
{
    if (v->header_len == 0) {
        return KURA_ENOTFOUND; /* shredded */
    }
    const struct store_key *k = lock_key(s, v->key_id);
    if (!k) {
        return KURA_ECONFIG;
    }
    size_t hlen = 0;
    int r = kura_c4gh_header_open_with(v->header, v->header_len, k->sk, k->pk, ret_data_key, &hlen,
                                       NULL);
    pthread_rwlock_unlock(&s->keys_lock);
    if (r == 0 && hlen != v->header_len) {
        sodium_memzero(ret_data_key, KURA_C4GH_DATA_KEY_BYTES);
        r = KURA_ECORRUPT; /* bytes after the header: not what an upload stores */
    }
    return r == KURA_ESYNTAX || r == KURA_EUNSUPPORTED || r == KURA_ETOOBIG ? KURA_ECORRUPT : r;
}

int store_header_open_cached(struct kura_store *s, const struct kura_version *v,
                             uint8_t ret_data_key[KURA_C4GH_DATA_KEY_BYTES])
{
    if (store_keycache_get(s->keycache, v->id, v->header, v->header_len, ret_data_key)) {
        return 0;
    }
    int r = store_header_open(s, v, ret_data_key);
    if (r == 0) {
        store_keycache_put(s->keycache, v->id, v->header, v->header_len, ret_data_key);
    }
    return r;
}

int store_header_build(struct kura_store *s, const uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES],
                       uint8_t ret_header[KURA_C4GH_HEADER_ONE_BYTES],
                       char ret_key_id[static KURA_META_KEY_ID_MAX + 1])
{
    pthread_rwlock_rdlock(&s->keys_lock);
    const struct store_key *k = &s->keys->keys[0];
    int r = kura_c4gh_header_build(data_key, k->pk, k->sk, ret_header);
    if (r == 0) {
        memcpy(ret_key_id, k->id, sizeof(k->id));
    }
    pthread_rwlock_unlock(&s->keys_lock);
    return r;
}

int store_header_reencrypt(struct kura_store *s, const struct kura_version *v,
                           const uint8_t *recipient_pk,
                           uint8_t ret_header[KURA_C4GH_HEADER_ONE_BYTES])
{
    if (v->header_len == 0) {
        return KURA_ENOTFOUND;
    }
    const struct store_key *k = lock_key(s, v->key_id);
    if (!k) {
        return KURA_ECONFIG;
    }
    const struct store_key *cur = &s->keys->keys[0];
    int r = kura_c4gh_header_reencrypt(v->header, v->header_len, k->sk,
                                       recipient_pk ? recipient_pk : cur->pk,
                                       recipient_pk ? NULL : cur->sk, ret_header, NULL);
    pthread_rwlock_unlock(&s->keys_lock);
    return r == KURA_ESYNTAX || r == KURA_EUNSUPPORTED || r == KURA_ETOOBIG ? KURA_ECORRUPT : r;
}

void kura_store_key_current(struct kura_store *s, char ret_id[static KURA_STORE_KEY_ID_SIZE],
                            uint8_t *ret_pk)
{
    pthread_rwlock_rdlock(&s->keys_lock);
    memcpy(ret_id, s->keys->keys[0].id, KURA_STORE_KEY_ID_SIZE);
    if (ret_pk) {
        memcpy(ret_pk, s->keys->keys[0].pk, KURA_C4GH_KEY_BYTES);
    }
    pthread_rwlock_unlock(&s->keys_lock);
}

/* ---- listing ------------------------------------------------------------------------------- */

static int count_one(void *ctx, const struct kura_version *v)
{
    uint64_t *n = ctx;
    (*n)++;
    n[1] = v->id;
    return 0;
}

/* Headers under key id, counted up to max (max + 1 means "more"). */
static int count_headers(struct kura_meta *m, const char *id, uint64_t max, uint64_t *ret)
{
    uint64_t st[2] = {0, 0}; /* count, last id */
    uint64_t total = 0;
    for (;;) {
        st[0] = 0;
        int r = kura_meta_versions_by_key(m, id, st[1], 256, count_one, st);
        if (r < 0) {
            return r;
        }
        total += st[0];
        if (st[0] < 256 || total > max) {
            break;
        }
    }
    *ret = total;
    return 0;
}

int kura_store_keys_list(struct kura_store *s, kura_store_key_fn fn, void *ctx)
{
    /* A copy of the ids and times: fn and the counts run without the key lock. */
    struct kura_store_key_info *info = NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&s->keys_lock);
    n = s->keys->n;
    info = kura_calloc(n, sizeof(*info));
    for (size_t i = 0; info && i < n; i++) {
        memcpy(info[i].id, s->keys->keys[i].id, KURA_STORE_KEY_ID_SIZE);
        info[i].current = i == 0;
        info[i].retired_at = s->keys->keys[i].retired_at;
    }
    pthread_rwlock_unlock(&s->keys_lock);
    if (!info) {
        return -ENOMEM;
    }
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = count_headers(s->meta, info[i].id, UINT64_MAX - 1, &info[i].headers);
        r = r == 0 ? fn(ctx, &info[i]) : r;
    }
    kura_free(info);
    return r;
}

/* ---- rotation ------------------------------------------------------------------------------ */

static bool exists_at(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int kura_store_keys_install_pending(int keys_dirfd, bool *ret_finished)
{
    bool sec = exists_at(keys_dirfd, SEC_NEXT), pub = exists_at(keys_dirfd, PUB_NEXT);
    if (!sec && !pub) {
        *ret_finished = false;
        return 0;
    }
    if (sec && !pub) {
        return KURA_ECORRUPT; /* never left by kura: .pub.next is written before .sec.next */
    }
    if (sec && renameat(keys_dirfd, SEC_NEXT, keys_dirfd, KURA_KEYRING_C4GH_SEC) < 0) {
        return -errno;
    }
    if (renameat(keys_dirfd, PUB_NEXT, keys_dirfd, KURA_KEYRING_C4GH_PUB) < 0) {
        return -errno;
    }
    int r = kura_fsync_dir(keys_dirfd);
    if (r == 0) {
        *ret_finished = true;
    }
    return r;
}

bool kura_store_keys_pending(int keys_dirfd)
{
    return exists_at(keys_dirfd, SEC_NEXT) || exists_at(keys_dirfd, PUB_NEXT);
}

int kura_store_keys_install(struct kura_store *s, const uint8_t new_sk[KURA_C4GH_KEY_BYTES])
{
    if (s->keys_dirfd < 0) {
        return -EINVAL;
    }
    uint8_t cur_sk[KURA_C4GH_KEY_BYTES], new_pk[KURA_C4GH_KEY_BYTES];
    char cur_id[KURA_STORE_KEY_ID_SIZE], name[32];
    pthread_rwlock_rdlock(&s->keys_lock);
    memcpy(cur_sk, s->keys->keys[0].sk, sizeof(cur_sk));
    memcpy(cur_id, s->keys->keys[0].id, sizeof(cur_id));
    pthread_rwlock_unlock(&s->keys_lock);
    (void)snprintf(name, sizeof(name), "%s.sec", cur_id + 5);

    /* 1: the current key joins the retired ones before anything can stop needing it. */
    int r =
        mkdirat(s->keys_dirfd, KURA_STORE_RETIRED_DIR, 0700) < 0 && errno != EEXIST ? -errno : 0;
    int rfd = r == 0 ? openat(s->keys_dirfd, KURA_STORE_RETIRED_DIR,
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                     : -1;
    r = r == 0 && rfd < 0 ? -errno : r;
    r = r == 0 ? kura_c4gh_write_private_key(rfd, name, cur_sk, s->passphrase) : r;
    r = r == 0 ? kura_fsync_dir(s->keys_dirfd) : r;
    sodium_memzero(cur_sk, sizeof(cur_sk));
    kura_closep(&rfd);
    /* 2: the new key beside the current one; .pub first, so a lone .sec.next is never ours. */
    r = r == 0 ? kura_c4gh_public_from_secret(new_sk, new_pk) : r;
    r = r == 0 ? kura_c4gh_write_public_key(s->keys_dirfd, PUB_NEXT, new_pk) : r;
    r = r == 0 ? kura_c4gh_write_private_key(s->keys_dirfd, SEC_NEXT, new_sk, s->passphrase) : r;
    /* 3: the switch. */
    bool done = false;
    r = r == 0 ? kura_store_keys_install_pending(s->keys_dirfd, &done) : r;
    return r == 0 ? kura_store_keys_reload(s) : r;
}

struct batch {
    struct kura_store_rotation *st;
    struct batch_item {
        uint64_t id;
        size_t len;
        uint8_t header[KURA_META_C4GH_HEADER_MAX];
        char key_id[KURA_META_KEY_ID_MAX + 1];
    } * items;
    size_t n, max;
};

static int collect(void *ctx, const struct kura_version *v)
{
    struct batch *b = ctx;
    if (b->n == b->max) {
        return 0;
    }
    struct batch_item *it = &b->items[b->n++];
    it->id = v->id;
    it->len = v->header_len;
    memcpy(it->header, v->header, v->header_len);
    memcpy(it->key_id, v->key_id, sizeof(it->key_id));
    return 0;
}

/* Re-encrypts the collected headers from their retired key k to the current key. */
static int rewrap(struct kura_store *s, struct batch *b, const struct store_key *k,
                  const struct store_key *cur)
{
    for (size_t i = 0; i < b->n; i++) {
        struct batch_item *it = &b->items[i];
        uint8_t h[KURA_C4GH_HEADER_ONE_BYTES];
        int r = kura_c4gh_header_reencrypt(it->header, it->len, k->sk, cur->pk, cur->sk, h, NULL);
        if (r == 0) {
            r = kura_meta_version_set_header(s->meta, it->id, h, sizeof(h), cur->id);
            if (r < 0) {
                return r;
            }
            b->st->rewrapped++;
        } else if (r == KURA_ECRYPTO || r == KURA_ESYNTAX || r == KURA_EUNSUPPORTED ||
                   r == KURA_ETOOBIG) {
            /* A damaged header stays as it is (under its key, which is then never pruned);
             * fsck reports it. */
            KURA_IGNORE(kura_meta_version_flag_corrupt(s->meta, it->id, kura_clock_wall_ms()));
            b->st->failed++;
        } else {
            return r;
        }
        b->st->after = it->id;
    }
    return 0;
}

/* Inside the transaction, with the key lock held: up to limit headers of the retired keys, from
 * the cursor on. Retired keys are in id order in the set (load_set sorts them). */
static int step_locked(struct kura_store *s, struct batch *b, uint32_t limit, bool *ret_finished)
{
    const struct store_key_set *ks = s->keys;
    const struct store_key *cur = &ks->keys[0];
    struct kura_store_rotation *st = b->st;
    size_t seen = 0;
    for (size_t i = 1; i < ks->n && seen < limit; i++) {
        const struct store_key *k = &ks->keys[i];
        int cmp = strcmp(k->id, st->key);
        if (cmp < 0) {
            continue; /* done earlier in this run */
        }
        if (cmp > 0) {
            memcpy(st->key, k->id, sizeof(k->id));
            st->after = 0;
        }
        if (st->after == UINT64_MAX) {
            continue;
        }
        b->n = 0;
        b->max = limit - seen;
        int r = kura_meta_versions_by_key(s->meta, k->id, st->after, (uint32_t)b->max, collect, b);
        r = r == 0 ? rewrap(s, b, k, cur) : r;
        if (r < 0) {
            return r;
        }
        seen += b->n;
        if (b->n < b->max) {
            st->after = UINT64_MAX; /* nothing of this key left beyond the cursor */
        }
    }
    *ret_finished = seen == 0;
    return 0;
}

int kura_store_keys_rotate_step(struct kura_store *s, uint32_t limit,
                                struct kura_store_rotation *st, bool *ret_finished)
{
    if (limit == 0 || limit > KURA_STORE_ROTATE_BATCH_MAX) {
        return -EINVAL;
    }
    struct batch b = {.st = st, .items = kura_calloc(limit, sizeof(*b.items))};
    if (!b.items) {
        return -ENOMEM;
    }
    struct kura_store_rotation saved = *st;
    bool finished = false;
    int r = kura_meta_txn_begin(s->meta);
    if (r == 0) {
        pthread_rwlock_rdlock(&s->keys_lock);
        r = step_locked(s, &b, limit, &finished);
        pthread_rwlock_unlock(&s->keys_lock);
        if (r == 0) {
            r = kura_meta_txn_commit(s->meta);
        } else {
            kura_meta_txn_rollback(s->meta);
        }
    }
    sodium_memzero(b.items, limit * sizeof(*b.items));
    kura_free(b.items);
    if (r < 0) {
        *st = saved; /* nothing of the step happened */
        return r;
    }
    *ret_finished = finished;
    return 0;
}

/* ---- destruction of retired keys ----------------------------------------------------------- */

/* Overwrites the file with zeros, fsyncs and unlinks it. On journaling or copy-on-write
 * filesystems and SSDs the old blocks may survive the overwrite: the unlink is what counts,
 * the overwrite only makes recovery from the same file system harder. */
static int destroy_file(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = -errno;
        kura_closep(&fd);
        return e;
    }
    uint8_t zeros[512] = {0};
    int r = 0;
    for (off_t done = 0; r == 0 && done < st.st_size;) {
        size_t want = (size_t)(st.st_size - done) < sizeof(zeros) ? (size_t)(st.st_size - done)
                                                                  : sizeof(zeros);
        ssize_t w = pwrite(fd, zeros, want, done);
        r = w < 0 ? -errno : w == 0 ? -EIO : 0;
        done += w > 0 ? (off_t)w : 0;
    }
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    (void)close(fd);
    if (r == 0 && unlinkat(dirfd, name, 0) < 0) {
        r = -errno;
    }
    return r == 0 ? kura_fsync_dir(dirfd) : r;
}

int kura_store_keys_prune(struct kura_store *s, int64_t retired_before_ms, kura_store_key_fn fn,
                          void *ctx)
{
    if (s->keys_dirfd < 0) {
        return -EINVAL;
    }
    int r = kura_store_keys_reload(s); /* what is on disk now */
    struct kura_store_key_info *info = NULL;
    size_t n = 0;
    if (r == 0) {
        pthread_rwlock_rdlock(&s->keys_lock);
        n = s->keys->n;
        info = kura_calloc(n, sizeof(*info));
        for (size_t i = 1; info && i < n; i++) {
            memcpy(info[i].id, s->keys->keys[i].id, KURA_STORE_KEY_ID_SIZE);
            info[i].retired_at = s->keys->keys[i].retired_at;
        }
        pthread_rwlock_unlock(&s->keys_lock);
        r = info ? 0 : -ENOMEM;
    }
    int rfd = r == 0 && n > 1 ? openat(s->keys_dirfd, KURA_STORE_RETIRED_DIR,
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                              : -1;
    r = r == 0 && n > 1 && rfd < 0 ? -errno : r;
    bool any = false;
    for (size_t i = 1; r == 0 && i < n; i++) {
        struct kura_store_key_info *k = &info[i];
        r = count_headers(s->meta, k->id, 0, &k->headers);
        if (r == 0 && k->headers == 0 && k->retired_at <= retired_before_ms) {
            char name[32];
            (void)snprintf(name, sizeof(name), "%s.sec", k->id + 5);
            r = destroy_file(rfd, name);
            k->destroyed = r == 0;
            any = any || k->destroyed;
        }
        r = r == 0 && fn ? fn(ctx, k) : r;
    }
    kura_closep(&rfd);
    kura_free(info);
    if (any) {
        int q = kura_store_keys_reload(s);
        r = r == 0 ? q : r;
    }
    return r;
}
