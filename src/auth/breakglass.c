/* breakglass.c — emergency (break-glass) accounts (MHLW guideline: rules for emergency access;
 * C-CAT: no standing emergency accounts).
 *
 * An emergency account is disabled until two different administrators approve its use within
 * APPROVAL_WINDOW_MS of each other; it is then usable for the minutes the first one asked for,
 * and refused again afterwards (its status goes back to disabled at the next attempt). Every
 * session of it is marked, every request of such a session carries break_glass in its audit
 * record, and the alert rules report the enabling and each use (src/alert/rules.c).
 *
 * When two administrators cannot be reached (a one-administrator site, a disaster), a *sealed
 * credential* stands in for them: a random code printed once, kept offline, that enables the
 * account alone. Only its HMAC is stored; it is consumed by its use, so each envelope opens the
 * account once, and the use is a ledger row the alert rules mail like any other enablement.
 */
#include "auth/auth.h"
#include "auth/totp.h"

#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define APPROVAL_WINDOW_MS (60LL * 60 * 1000)
#define MINUTES_MAX 1440

static int finish(struct kura_meta *m, int r)
{
    if (r >= 0) {
        int c = kura_meta_txn_commit(m);
        return c < 0 ? c : r;
    }
    kura_meta_txn_rollback(m);
    return r;
}

int kura_auth_break_glass_designate(struct kura_meta *m, const struct kura_auth_change *c,
                                    const char *id)
{
    struct kura_break_glass b = {0};
    int r = kura_meta_txn_begin(m);
    if (r < 0) {
        return r;
    }
    r = kura_meta_break_glass_get(m, id, &b);
    if (r == 0) {
        return finish(m, 1); /* already one */
    }
    r = r == KURA_ENOTFOUND ? kura_meta_break_glass_put(m, id, &(struct kura_break_glass){0}) : r;
    r = r == 0 ? kura_auth_account_set_status(m, c, id, KURA_ACCOUNT_STATUS_DISABLED) : r;
    r = r >= 0 ? auth_ledger_note(m, c, id, "break_glass_designate", NULL) : r;
    return finish(m, r < 0 ? r : 0);
}

static int enable(struct kura_meta *m, const struct kura_auth_change *c, const char *id,
                  struct kura_break_glass *b, int64_t *ret_until)
{
    struct kura_break_glass on = *b; /* keeps a sealed credential */
    on.requested_by[0] = '\0';
    on.requested_at = 0;
    on.minutes = 0;
    on.enabled_until = c->now + (int64_t)b->minutes * 60 * 1000;
    (void)snprintf(on.enabled_by, sizeof(on.enabled_by), "%s,%s", b->requested_by, c->actor);
    json_t *extra = json_pack("{s:s,s:s,s:I}", "first_approval", b->requested_by, "second_approval",
                              c->actor, "minutes", (json_int_t)b->minutes);
    int r = extra ? kura_meta_break_glass_put(m, id, &on) : -ENOMEM;
    r = r == 0 ? kura_auth_account_set_status(m, c, id, KURA_ACCOUNT_STATUS_ACTIVE) : r;
    r = r >= 0 ? auth_ledger_note(m, c, id, "break_glass_enable", extra) : r;
    json_decref(extra);
    *ret_until = on.enabled_until;
    return r < 0 ? r : 0;
}

int kura_auth_break_glass_approve(struct kura_meta *m, const struct kura_auth_change *c,
                                  const char *id, uint32_t minutes, int64_t *ret_until)
{
    if (minutes == 0 || minutes > MINUTES_MAX || !c->actor) {
        return -EINVAL;
    }
    struct kura_break_glass b;
    int r = kura_meta_txn_begin(m);
    if (r < 0) {
        return r;
    }
    r = kura_meta_break_glass_get(m, id, &b);
    bool pending = r == 0 && b.requested_by[0] && c->now - b.requested_at < APPROVAL_WINDOW_MS;
    if (r == 0 && b.enabled_until > c->now) {
        r = KURA_EEXIST; /* in use now */
    } else if (pending && strcmp(b.requested_by, c->actor) == 0) {
        r = KURA_EFORBIDDEN; /* the second approval must be another person's */
    } else if (pending) {
        r = enable(m, c, id, &b, ret_until);
    } else if (r == 0) {
        struct kura_break_glass req = b; /* keeps a sealed credential */
        req.requested_at = c->now;
        req.minutes = minutes;
        (void)snprintf(req.requested_by, sizeof(req.requested_by), "%s", c->actor);
        json_t *extra = json_pack("{s:I}", "minutes", (json_int_t)minutes);
        r = extra ? kura_meta_break_glass_put(m, id, &req) : -ENOMEM;
        r = r == 0 ? auth_ledger_note(m, c, id, "break_glass_request", extra) : r;
        json_decref(extra);
        r = r == 0 ? 1 : r;
    }
    return finish(m, r);
}

int kura_auth_break_glass_check(struct kura_meta *m, const char *id, int64_t now,
                                bool *ret_emergency, int64_t *ret_until)
{
    struct kura_break_glass b;
    int r = kura_meta_break_glass_get(m, id, &b);
    *ret_emergency = r == 0;
    *ret_until = r == 0 ? b.enabled_until : 0;
    if (r == KURA_ENOTFOUND) {
        return 0;
    }
    if (r < 0) {
        return r;
    }
    if (b.enabled_until > now) {
        return 0;
    }
    /* Outside its period: refused, and its status goes back to disabled. */
    const struct kura_auth_change c = {"system:break-glass", "emergency access period ended", NULL,
                                       now};
    KURA_IGNORE(kura_auth_account_set_status(m, &c, id, KURA_ACCOUNT_STATUS_DISABLED));
    return KURA_EFORBIDDEN;
}

/* ---- sealed credentials -------------------------------------------------------------------- */

#define SEAL_BYTES 20 /* 160 bits: 32 base32 characters */

/* The code as stored: HMAC(mac_key, "kura break-glass\0" id "\0" canonical code). Binding the
 * account ID means one envelope's code cannot open another emergency account. Canonical: the
 * base32 letters only, upper case; dashes and spaces that make the printed code readable, and
 * lower case typed by a hurried person, are forgiven. */
static int seal_mac(const uint8_t *mac_key, const char *id, const char *code, size_t len,
                    uint8_t ret[static KURA_META_MAC_BYTES])
{
    char canon[2 * SEAL_BYTES];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)code[i];
        if (ch == '-' || ch == ' ') {
            continue;
        }
        if (n == sizeof(canon) || !isalnum(ch)) {
            sodium_memzero(canon, sizeof(canon));
            return KURA_EUNAUTH;
        }
        canon[n++] = (char)toupper(ch);
    }
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, mac_key, 32);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"kura break-glass", 17);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id) + 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)canon, n);
    crypto_auth_hmacsha256_final(&st, ret);
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(canon, sizeof(canon));
    return 0;
}

/* "ABCD-EFGH-..." from 20 random bytes. */
static int seal_code(char ret[static KURA_BREAK_GLASS_CODE_MAX + 1])
{
    uint8_t raw[SEAL_BYTES];
    randombytes_buf(raw, sizeof(raw));
    _cleanup_(kura_buf_release_wipe) struct kura_buf b32 = KURA_BUF_INIT_SECRET(64);
    int r = kura_base32_encode(raw, sizeof(raw), &b32);
    sodium_memzero(raw, sizeof(raw));
    if (r < 0) {
        return r;
    }
    size_t n = 0;
    for (size_t i = 0; i < b32.len; i++) {
        if (i > 0 && i % 4 == 0) {
            ret[n++] = '-';
        }
        ret[n++] = b32.ptr[i];
    }
    ret[n] = '\0';
    return 0;
}

int kura_auth_break_glass_seal(struct kura_meta *m, const struct kura_auth_change *c,
                               const uint8_t *mac_key, const char *id, uint32_t minutes,
                               char ret_code[static KURA_BREAK_GLASS_CODE_MAX + 1])
{
    if (minutes == 0 || minutes > MINUTES_MAX || !c->actor) {
        return -EINVAL;
    }
    char code[KURA_BREAK_GLASS_CODE_MAX + 1];
    struct kura_break_glass b;
    int r = kura_meta_txn_begin(m);
    if (r < 0) {
        return r;
    }
    r = kura_meta_break_glass_get(m, id, &b);
    r = r == 0 ? seal_code(code) : r;
    r = r == 0 ? seal_mac(mac_key, id, code, strlen(code), b.sealed_mac) : r;
    if (r == 0) {
        bool replaced = b.sealed;
        b.sealed = true;
        b.sealed_minutes = minutes;
        b.sealed_at = c->now;
        json_t *extra =
            json_pack("{s:I,s:b}", "minutes", (json_int_t)minutes, "replaces_earlier", replaced);
        r = extra ? kura_meta_break_glass_put(m, id, &b) : -ENOMEM;
        r = r == 0 ? auth_ledger_note(m, c, id, "break_glass_seal", extra) : r;
        json_decref(extra);
    }
    r = finish(m, r);
    if (r == 0) {
        memcpy(ret_code, code, sizeof(code));
    }
    sodium_memzero(code, sizeof(code));
    sodium_memzero(&b, sizeof(b));
    return r;
}

int kura_auth_break_glass_unseal(struct kura_meta *m, const struct kura_auth_change *c,
                                 const uint8_t *mac_key, const char *id, const char *code,
                                 size_t len, int64_t *ret_until)
{
    uint8_t mac[KURA_META_MAC_BYTES];
    struct kura_break_glass b;
    if (!c->actor || len > 4 * KURA_BREAK_GLASS_CODE_MAX) {
        return KURA_EUNAUTH;
    }
    int r = kura_meta_txn_begin(m);
    if (r < 0) {
        return r;
    }
    r = kura_meta_break_glass_get(m, id, &b);
    r = r == KURA_ENOTFOUND ? KURA_EUNAUTH : r;
    r = r == 0 ? seal_mac(mac_key, id, code, len, mac) : r;
    if (r == 0 && (!b.sealed || sodium_memcmp(mac, b.sealed_mac, sizeof(mac)) != 0)) {
        r = KURA_EUNAUTH; /* no seal, wrong code, no such account: one answer */
    } else if (r == 0 && b.enabled_until > c->now) {
        r = KURA_EEXIST;
    }
    if (r == 0) {
        struct kura_break_glass on = {.enabled_until = c->now + (int64_t)b.sealed_minutes * 60000};
        (void)snprintf(on.enabled_by, sizeof(on.enabled_by), "sealed:%s", c->actor);
        json_t *extra =
            json_pack("{s:s,s:I,s:I}", "method", "sealed_credential", "minutes",
                      (json_int_t)b.sealed_minutes, "sealed_at", (json_int_t)b.sealed_at);
        r = extra ? kura_meta_break_glass_put(m, id, &on) : -ENOMEM; /* the seal is consumed */
        r = r == 0 ? kura_auth_account_set_status(m, c, id, KURA_ACCOUNT_STATUS_ACTIVE) : r;
        r = r >= 0 ? auth_ledger_note(m, c, id, "break_glass_enable", extra) : r;
        json_decref(extra);
        *ret_until = on.enabled_until;
        r = r < 0 ? r : 0;
    }
    sodium_memzero(mac, sizeof(mac));
    sodium_memzero(&b, sizeof(b));
    return finish(m, r);
}
