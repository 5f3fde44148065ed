/* throttle.h — back-off after repeated login failures (throttle.c), per source address and per
 * attempted login ID, answered with 429 and Retry-After: a server thread never sleeps.
 *
 * Invariants: fixed memory (slots chosen at creation, rounded up to a power of two, at most
 * 2^24); keys are hashed with a per-process random key; thread-safe (one mutex). A key's
 * failure run ends after policy.reset_ms without a failure, or at kura_throttle_clear (a
 * success). A failure with the same non-zero tag as the key's previous counted failure is not
 * counted again (a sync client retrying one stale secret). Evicting a key under pressure only
 * forgets its back-off, never blocks anyone.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct kura_throttle_policy {
    uint32_t free_failures; /* failures answered without delay; the next ones wait */
    int64_t base_ms;        /* the first delay; it doubles with each further failure */
    int64_t max_ms;         /* the longest delay */
    int64_t reset_ms;       /* a failure run ends after this long without failures; 0: never */
};

struct kura_throttle;

KURA_MUST_CHECK int kura_throttle_new(size_t slots, const struct kura_throttle_policy *policy,
                                      struct kura_throttle **ret);
struct kura_throttle *kura_throttle_free(struct kura_throttle *t);

/* Milliseconds the key must still wait before its next attempt (0: go ahead). */
int64_t kura_throttle_check(struct kura_throttle *t, const char *key, size_t len, int64_t now);
/* Counts a failure (unless it repeats the previous tag); returns the key's failures so far. */
uint32_t kura_throttle_fail(struct kura_throttle *t, const char *key, size_t len, uint64_t tag,
                            int64_t now);
/* A success: the key's run is over. */
void kura_throttle_clear(struct kura_throttle *t, const char *key, size_t len);
/* The delay after `failures` failures under policy p (0 while failures < free_failures). */
int64_t kura_throttle_delay_ms(const struct kura_throttle_policy *p, uint32_t failures);
