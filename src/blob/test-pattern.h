/* test-pattern.h — deterministic object contents for the blob tests (test code only).
 *
 * Byte i of the object with a given seed is a function of (seed, i) alone, so a test can check
 * any range read from any offset without keeping a copy, and a crash test can verify an object
 * it never saw written: a "framed" object starts with its seed and its own length (16 bytes,
 * little-endian) followed by the pattern, so it is self-describing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PATTERN_FRAME 16u

/* splitmix64: a fast, well-mixed function of one 64-bit word. */
static inline uint64_t pattern_mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static inline uint8_t pattern_byte(uint64_t seed, uint64_t i)
{
    return (uint8_t)(pattern_mix(seed ^ pattern_mix(i / 8)) >> (8 * (i % 8)));
}

/* Fills buf with bytes [offset, offset + len) of seed's pattern. */
static inline void pattern_fill(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = pattern_byte(seed, offset + i);
    }
}

/* True when buf holds bytes [offset, offset + len) of seed's pattern. */
static inline bool pattern_check(uint64_t seed, uint64_t offset, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != pattern_byte(seed, offset + i)) {
            return false;
        }
    }
    return true;
}

static inline void pattern_put_u64(uint8_t *p, uint64_t v)
{
    for (size_t i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint64_t pattern_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

/* Bytes [offset, offset + len) of the framed object (seed, total) with total >= PATTERN_FRAME:
 * the frame, then the pattern at the same positions. */
static inline void pattern_framed_fill(uint64_t seed, uint64_t total, uint64_t offset, uint8_t *buf,
                                       size_t len)
{
    uint8_t frame[PATTERN_FRAME];
    pattern_put_u64(frame, seed);
    pattern_put_u64(frame + 8, total);
    for (size_t i = 0; i < len; i++) {
        uint64_t at = offset + i;
        buf[i] = at < PATTERN_FRAME ? frame[at] : pattern_byte(seed, at);
    }
}
