/* session.c — checking a session cookie, the CSRF token, logout and elevation.
 *
 * Timeouts are decided here from the stored times, not by the store: idle (last_seen_at +
 * idle_ms) and absolute (expires_at, fixed at login). An expired session is deleted when it is
 * met. last_seen_at is written at most once per TOUCH_MS, so that a busy browser does not cost
 * a durable database write per request; the idle timeout is therefore exact to TOUCH_MS.
 */
#include "auth/auth.h"

#include "crypto/crypto.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TOUCH_MS (30 * 1000)

/* The session's public tag for audit records: the first 8 bytes of SHA-256(id_hash), hex. Lets
 * records of one session be grouped without anything that could be replayed. */
static void session_tag(const uint8_t id_hash[KURA_META_MAC_BYTES], char ret[static 17])
{
    uint8_t h[KURA_META_MAC_BYTES];
    if (kura_sha256(h, id_hash, KURA_META_MAC_BYTES) < 0) {
        memset(h, 0, sizeof(h));
    }
    kura_hex_encode(ret, h, 8);
}

static bool account_usable(const struct kura_account *a, int64_t now)
{
    return a->status == KURA_ACCOUNT_STATUS_ACTIVE && (!a->valid_from || now >= a->valid_from) &&
           (!a->valid_until || now < a->valid_until);
}

int kura_auth_session_check(const struct kura_auth_service *s, const char *token, size_t len,
                            int64_t now, struct kura_auth_identity *ret)
{
    memset(ret, 0, sizeof(*ret));
    uint8_t id_hash[KURA_META_MAC_BYTES];
    struct kura_session sess = {0};
    struct kura_account a = {0};
    int r = auth_token_hash(token, len, id_hash);
    r = r == 0 ? kura_meta_session_get(s->meta, id_hash, &sess) : r;
    if (r == KURA_ENOTFOUND) {
        return KURA_EUNAUTH;
    }
    bool expired = r == 0 && (now >= sess.expires_at || now - sess.last_seen_at >= s->idle_ms);
    r = r == 0 ? kura_meta_account_get(s->meta, sess.account_id, &a) : r;
    if (r == 0 && (expired || !account_usable(&a, now))) {
        KURA_IGNORE(kura_meta_session_delete(s->meta, id_hash));
        r = KURA_EUNAUTH;
    }
    if (r == 0 && now - sess.last_seen_at >= TOUCH_MS) {
        r = kura_meta_session_touch(s->meta, id_hash, now);
    }
    if (r == 0) {
        (void)snprintf(ret->account_id, sizeof(ret->account_id), "%s", a.id);
        ret->roles = a.roles;
        ret->kind = sess.kind;
        ret->elevated = sess.elevated_until > now;
        ret->break_glass = sess.break_glass;
        ret->expires_at = sess.expires_at;
        memcpy(ret->id_hash, id_hash, sizeof(id_hash));
        memcpy(ret->csrf_hash, sess.csrf, sizeof(sess.csrf));
        session_tag(id_hash, ret->session_tag);
    }
    kura_session_release(&sess);
    kura_account_release(&a);
    return r;
}

int kura_auth_csrf_check(const struct kura_auth_identity *id, const char *token, size_t len)
{
    uint8_t h[KURA_META_MAC_BYTES];
    if (!token || auth_token_hash(token, len, h) < 0) {
        return KURA_EFORBIDDEN;
    }
    return sodium_memcmp(h, id->csrf_hash, sizeof(h)) == 0 ? 0 : KURA_EFORBIDDEN;
}

int kura_auth_logout(const struct kura_auth_service *s, const struct kura_auth_identity *id)
{
    int r = kura_meta_session_delete(s->meta, id->id_hash);
    return r == KURA_ENOTFOUND ? 0 : r;
}

int kura_auth_elevate(const struct kura_auth_service *s, const struct kura_auth_identity *id,
                      const char *code, int64_t now, const char *source_ip, const char *user_agent,
                      int64_t *ret_until, struct kura_login_result *ret)
{
    /* Only the roles whose actions need it: elevating a plain user's session would grant
     * nothing, yet mark each of its requests privileged (and alert on them). */
    if (!(id->roles & KURA_ROLES_ELEVATABLE)) {
        return KURA_EFORBIDDEN;
    }
    struct kura_account_auth st;
    int r = kura_meta_auth_get(s->meta, id->account_id, &st);
    if (r < 0) {
        return r;
    }
    if (st.totp_secret_len == 0 || st.totp_enrolled_at == 0 || !code) {
        return KURA_EUNAUTH;
    }
    uint8_t secret[KURA_TOTP_SECRET_MAX];
    size_t slen = 0;
    uint64_t step = 0;
    r = auth_totp_unseal(s, &st, secret, &slen);
    r = r == 0 ? kura_totp_verify(secret, slen, &s->totp, code, strnlen(code, 16), now / 1000,
                                  KURA_TOTP_SKEW_DEFAULT, st.totp_last_step, &step)
               : r;
    sodium_memzero(secret, sizeof(secret));
    r = r == 0 ? kura_meta_auth_use_totp_step(s->meta, id->account_id, step) : KURA_EUNAUTH;
    if (r == 0) {
        *ret_until = now + s->elevation_ms;
        r = kura_auth_session_reissue(s, id, source_ip, user_agent, now, *ret_until, ret);
    }
    return r == KURA_EFORBIDDEN ? KURA_EUNAUTH : r;
}
