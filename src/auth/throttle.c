/* throttle.c — back-off for repeated login failures, per source address and per login ID.
 *
 * Why in memory and keyed by the attempted ID rather than by the account: a back-off that only
 * known accounts got would answer 429 for them and 401 for unknown IDs — a user-enumeration
 * oracle. Counting every attempted ID the same way keeps the answers alike; the persistent
 * lockout (meta's auth_attempt) is separate and invisible in the response.
 *
 * The table has a fixed number of slots (no allocation after creation, so a spray of random IDs
 * cannot grow memory): a key is its keyed SipHash (crypto_shorthash with a random key per
 * process, so an attacker cannot aim keys at one slot) and lives in one of PROBE slots after
 * its home slot; a new key takes a free slot or the one whose last failure is oldest.
 *
 * "Count sensibly" for sync clients: a client that retries the same wrong secret several times
 * in one run is one mistake, not several. A failure carrying the same credential tag as the
 * previous failure of that key (within the reset window) is not counted again.
 */
#include "auth/throttle.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define PROBE 8

struct slot {
    uint64_t hash;     /* 0: free */
    uint32_t failures; /* consecutive, counted */
    uint64_t last_tag; /* tag of the latest counted failure */
    int64_t last_fail; /* ms */
    int64_t blocked_until;
};

struct kura_throttle {
    pthread_mutex_t lock;
    struct kura_throttle_policy policy;
    unsigned char key[crypto_shorthash_KEYBYTES];
    size_t nslots; /* a power of two */
    struct slot slots[];
};

int kura_throttle_new(size_t slots, const struct kura_throttle_policy *policy,
                      struct kura_throttle **ret)
{
    size_t n = 64;
    while (n < slots && n < ((size_t)1 << 24)) {
        n <<= 1;
    }
    struct kura_throttle *t = kura_calloc(1, sizeof(*t) + n * sizeof(struct slot));
    if (!t) {
        return -ENOMEM;
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        kura_free(t);
        return -ENOMEM;
    }
    t->policy = *policy;
    t->nslots = n;
    crypto_shorthash_keygen(t->key);
    *ret = t;
    return 0;
}

struct kura_throttle *kura_throttle_free(struct kura_throttle *t)
{
    if (t) {
        pthread_mutex_destroy(&t->lock);
        sodium_memzero(t->key, sizeof(t->key));
        kura_free(t);
    }
    return NULL;
}

static uint64_t hash_of(const struct kura_throttle *t, const char *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, len, t->key);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h ? h : 1; /* 0 marks a free slot */
}

/* The key's slot, or NULL (create false) / a slot taken for it (create true). */
static struct slot *find(struct kura_throttle *t, uint64_t h, bool create)
{
    struct slot *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        struct slot *s = &t->slots[(h + i) & (t->nslots - 1)];
        if (s->hash == h) {
            return s;
        }
        if (!victim || s->hash == 0 || (victim->hash != 0 && s->last_fail < victim->last_fail)) {
            victim = victim && victim->hash == 0 ? victim : s;
        }
    }
    if (!create) {
        return NULL;
    }
    memset(victim, 0, sizeof(*victim));
    victim->hash = h;
    return victim;
}

/* A counted failure run ends after reset_ms without failures. */
static bool stale(const struct kura_throttle *t, const struct slot *s, int64_t now)
{
    return t->policy.reset_ms > 0 && now - s->last_fail >= t->policy.reset_ms;
}

int64_t kura_throttle_delay_ms(const struct kura_throttle_policy *p, uint32_t failures)
{
    if (failures < p->free_failures || p->base_ms <= 0) {
        return 0;
    }
    uint32_t doublings = failures - p->free_failures;
    int64_t d = p->base_ms;
    for (uint32_t i = 0; i < doublings && d < p->max_ms; i++) {
        d *= 2;
    }
    return d < p->max_ms ? d : p->max_ms;
}

int64_t kura_throttle_check(struct kura_throttle *t, const char *key, size_t len, int64_t now)
{
    uint64_t h = hash_of(t, key, len);
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, h, false);
    int64_t wait = s && !stale(t, s, now) && s->blocked_until > now ? s->blocked_until - now : 0;
    pthread_mutex_unlock(&t->lock);
    return wait;
}

uint32_t kura_throttle_fail(struct kura_throttle *t, const char *key, size_t len, uint64_t tag,
                            int64_t now)
{
    uint64_t h = hash_of(t, key, len);
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, h, true);
    if (stale(t, s, now)) {
        s->failures = 0;
    }
    bool repeat = tag != 0 && s->failures > 0 && s->last_tag == tag;
    if (!repeat) {
        s->failures++;
        s->last_tag = tag;
        s->blocked_until = now + kura_throttle_delay_ms(&t->policy, s->failures);
    }
    s->last_fail = now;
    uint32_t failures = s->failures;
    pthread_mutex_unlock(&t->lock);
    return failures;
}

void kura_throttle_clear(struct kura_throttle *t, const char *key, size_t len)
{
    uint64_t h = hash_of(t, key, len);
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, h, false);
    if (s) {
        memset(s, 0, sizeof(*s));
    }
    pthread_mutex_unlock(&t->lock);
}
