/* keycache.c — the data keys of recently opened headers, for downloads.
 *
 * Opening a Crypt4GH header costs an X25519 (tens of microseconds); a 4 KiB GET costs less than
 * that in everything else, so a client that reads the same files again and again would spend
 * most of its server's CPU on key agreement. The cache keeps the data key of an opened header for
 * KEYCACHE_TTL_MS after the opening, keyed by version id *and* the header's bytes: a header that
 * was re-encrypted (rotation) or destroyed (purge, shredding: header_len 0) no longer matches,
 * so the cache can never serve a key that the metadata store would not give.
 *
 * What it adds to memory exposure: nothing a reader of the process could not already get, since
 * the same process holds the server's private key, which opens every header. Still, crypto-
 * shredding should leave no key behind anywhere, so purges and version pruning in this process
 * forget the versions they destroy, a key reload (rotation) empties the cache, expired entries
 * are wiped by kura_store_sweep (the server calls it every few seconds), and the table lives in
 * sodium_malloc memory: locked (never swapped), guarded, left out of core dumps, and wiped when
 * freed. A purge by another process (the CLI) cannot reach this cache; its header is gone from
 * the metadata store, so the entry is never used again and is wiped when it expires.
 */
#include "store/store-internal.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define KEYCACHE_SLOTS 512
#define KEYCACHE_TTL_MS (60 * 1000)

struct keycache_entry {
    uint64_t version; /* 0: empty */
    int64_t expires;  /* mono ms */
    size_t header_len;
    uint8_t header[KURA_C4GH_HEADER_ONE_BYTES];
    uint8_t key[KURA_C4GH_DATA_KEY_BYTES];
};

struct store_keycache {
    pthread_mutex_t lock;
    struct keycache_entry *e; /* KEYCACHE_SLOTS, sodium_allocarray */
};

int store_keycache_new(struct store_keycache **ret)
{
    struct store_keycache *c = kura_calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->e = sodium_allocarray(KEYCACHE_SLOTS, sizeof(*c->e));
    if (!c->e || pthread_mutex_init(&c->lock, NULL) != 0) {
        sodium_free(c->e);
        kura_free(c);
        return -ENOMEM;
    }
    sodium_memzero(c->e, KEYCACHE_SLOTS * sizeof(*c->e));
    *ret = c;
    return 0;
}

void store_keycache_free(struct store_keycache *c)
{
    if (c) {
        sodium_free(c->e); /* wipes */
        pthread_mutex_destroy(&c->lock);
        kura_free(c);
    }
}

static struct keycache_entry *slot(struct store_keycache *c, uint64_t version)
{
    return &c->e[version % KEYCACHE_SLOTS];
}

static void wipe(struct keycache_entry *e)
{
    sodium_memzero(e, sizeof(*e));
}

bool store_keycache_get(struct store_keycache *c, uint64_t version, const uint8_t *header,
                        size_t header_len, uint8_t ret_key[KURA_C4GH_DATA_KEY_BYTES])
{
    if (!c || version == 0 || header_len == 0 || header_len > KURA_C4GH_HEADER_ONE_BYTES) {
        return false;
    }
    int64_t now = kura_clock_mono_ms();
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    struct keycache_entry *e = slot(c, version);
    if (e->version == version && now >= e->expires) {
        wipe(e);
    } else if (e->version == version && e->header_len == header_len &&
               memcmp(e->header, header, header_len) == 0) {
        memcpy(ret_key, e->key, KURA_C4GH_DATA_KEY_BYTES);
        hit = true;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void store_keycache_put(struct store_keycache *c, uint64_t version, const uint8_t *header,
                        size_t header_len, const uint8_t key[KURA_C4GH_DATA_KEY_BYTES])
{
    if (!c || version == 0 || header_len == 0 || header_len > KURA_C4GH_HEADER_ONE_BYTES) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    struct keycache_entry *e = slot(c, version);
    wipe(e);
    e->version = version;
    e->expires = kura_clock_mono_ms() + KEYCACHE_TTL_MS;
    e->header_len = header_len;
    memcpy(e->header, header, header_len);
    memcpy(e->key, key, KURA_C4GH_DATA_KEY_BYTES);
    pthread_mutex_unlock(&c->lock);
}

void store_keycache_forget(struct store_keycache *c, uint64_t version)
{
    if (!c) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    struct keycache_entry *e = slot(c, version);
    if (e->version == version) {
        wipe(e);
    }
    pthread_mutex_unlock(&c->lock);
}

void store_keycache_clear(struct store_keycache *c)
{
    if (!c) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    sodium_memzero(c->e, KEYCACHE_SLOTS * sizeof(*c->e));
    pthread_mutex_unlock(&c->lock);
}

size_t store_keycache_sweep(struct store_keycache *c)
{
    if (!c) {
        return 0;
    }
    int64_t now = kura_clock_mono_ms();
    size_t live = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < KEYCACHE_SLOTS; i++) {
        if (c->e[i].version != 0 && now >= c->e[i].expires) {
            wipe(&c->e[i]);
        }
        live += c->e[i].version != 0;
    }
    pthread_mutex_unlock(&c->lock);
    return live;
}
