/* login.c — checking a login and opening a session.
 *
 * Order of the checks, and why:
 *  1. Back-off by source and by the attempted ID string (throttle.h) — before any work, and
 *     the same for IDs that exist and IDs that do not.
 *  2. One Argon2id computation on every other path: a real verification when the account exists
 *     (whatever its status), a dummy one otherwise, so that unknown, locked, disabled and
 *     expired accounts cost what a wrong password costs and answer the same KURA_EUNAUTH. The
 *     reason goes only to the audit record (ret->why).
 *  3. The lockout counter is reserved before the password is checked (meta's auth_attempt), so
 *     parallel guesses can never test more passwords than the threshold.
 *  4. A second factor when the account has one; a one-time password, or an account without the
 *     TOTP its policy requires, yields only an enrolment session.
 */
#include "auth/auth.h"

#include "crypto/crypto.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"
#include "auth/throttle.h"

/* ---- secrets: session tokens, TOTP sealing, tags ------------------------------------------- */

int auth_token_new(char ret[static KURA_SESSION_TOKEN_MAX + 1],
                   uint8_t ret_hash[static KURA_META_MAC_BYTES])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(ret, KURA_SESSION_TOKEN_MAX + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    int r = kura_sha256(ret_hash, ret, strlen(ret));
    sodium_memzero(raw, sizeof(raw));
    return r;
}

int auth_token_hash(const char *token, size_t len, uint8_t ret[static KURA_META_MAC_BYTES])
{
    if (len == 0 || len > KURA_SESSION_TOKEN_MAX) {
        return KURA_EUNAUTH;
    }
    return kura_sha256(ret, token, len);
}

/* The tag of a failed attempt for the back-off's "same mistake again" rule: keyed, short. For
 * the login ID's table it is the secret; for the source's table the ID and the secret, so that
 * one password sprayed over many IDs counts once per ID, not once in all. */
static uint64_t failure_tag(const struct kura_auth_service *s, const char *user, size_t ulen,
                            const char *pw, size_t len)
{
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, s->mac_key, 32);
    if (user) {
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)user, ulen);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)"", 1);
    }
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)pw, len);
    crypto_auth_hmacsha256_final(&st, mac);
    uint64_t tag;
    memcpy(&tag, mac, sizeof(tag));
    sodium_memzero(mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
    return tag | 1; /* never 0: 0 means "no tag" */
}

int auth_totp_unseal(const struct kura_auth_service *s, const struct kura_account_auth *st,
                     uint8_t ret[static KURA_TOTP_SECRET_MAX], size_t *ret_len)
{
    size_t head = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
    if (st->totp_secret_len <= head || st->totp_secret_len - head > KURA_TOTP_SECRET_MAX) {
        return KURA_ECORRUPT;
    }
    *ret_len = st->totp_secret_len - head;
    int r = crypto_secretbox_open_easy(ret, st->totp_secret + crypto_secretbox_NONCEBYTES,
                                       st->totp_secret_len - crypto_secretbox_NONCEBYTES,
                                       st->totp_secret, s->seal_key);
    return r == 0 ? 0 : KURA_ECRYPTO;
}

int auth_totp_seal(const struct kura_auth_service *s, const uint8_t *secret, size_t len,
                   uint8_t ret[static KURA_META_SECRET_MAX], size_t *ret_len)
{
    size_t total = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    if (len == 0 || total > KURA_META_SECRET_MAX) {
        return -EINVAL;
    }
    randombytes_buf(ret, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(ret + crypto_secretbox_NONCEBYTES, secret, len, ret, s->seal_key);
    *ret_len = total;
    return 0;
}

/* Verifies pw against a stored hash (NULL: the dummy verification) as the policy hashes it:
 * NFKC-normalised. Input that cannot be normalised was never a valid password; it is checked
 * as it is, at the same cost, and fails. */
int auth_verify_password(const struct kura_auth_service *s, const char *hash, const char *pw,
                         size_t len, bool *ret_rehash)
{
    char *norm = NULL;
    size_t nlen = 0;
    bool rehash = false;
    if (kura_password_normalize(pw, len, &norm, &nlen) == 0) {
        pw = norm;
        len = nlen;
    }
    int r = hash ? kura_password_verify(s->keys.params, s->keys.pepper, hash, pw, len, &rehash)
                 : kura_password_dummy_verify(s->keys.params, s->keys.pepper, pw, len);
    *ret_rehash = r == 0 && rehash;
    kura_password_normalized_free(norm, nlen);
    return r;
}

/* Stores a hash at the configured cost after a successful login with an older one (auth.h: old
 * hashes are upgraded at the next successful login). Only after the whole login succeeded: the
 * extra Argon2id would otherwise tell a right password with a wrong code from a wrong password.
 * Not a ledger event: the password is the same. */
static void upgrade_hash(const struct kura_auth_service *s, const struct kura_account *a,
                         const char *pw, size_t len)
{
    char *norm = NULL, hash[KURA_PWHASH_STR_MAX];
    size_t nlen = 0;
    struct kura_account now = {0};
    int r = kura_password_normalize(pw, len, &norm, &nlen);
    r = r == 0 ? kura_password_hash(s->keys.params, s->keys.pepper, norm, nlen, hash) : r;
    /* Only the hash changes, and only if nobody changed the account meanwhile: the row is read
     * again inside the transaction (an admin's disable or a reset during the login must stay). */
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r == 0) {
        r = kura_meta_account_get(s->meta, a->id, &now);
        bool same = r == 0 && now.password_hash && a->password_hash &&
                    strcmp(now.password_hash, a->password_hash) == 0;
        const char *orig = now.password_hash;
        now.password_hash = hash;
        r = same ? kura_meta_account_update(s->meta, &now) : r;
        now.password_hash = orig;
        r = r == 0 ? kura_meta_txn_commit(s->meta) : (kura_meta_txn_rollback(s->meta), r);
    }
    kura_account_release(&now);
    kura_password_normalized_free(norm, nlen);
    sodium_memzero(hash, sizeof(hash));
}

/* ---- the checks ------------------------------------------------------------------------------ */

/* Networks whose sources are not throttled (a proxy that sends no X-Forwarded-For, tests). */
static bool exempt(const struct kura_auth_service *s, const char *ip)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (!ip || s->nexempt == 0) {
        return false;
    }
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        ss.ss_family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
    } else {
        return false;
    }
    for (size_t i = 0; i < s->nexempt; i++) {
        if (kura_cidr_contains(&s->exempt[i], (const struct sockaddr *)&ss)) {
            return true;
        }
    }
    return false;
}

/* 1: the back-off; KURA_ETHROTTLED with ret->retry_after_ms. */
static int throttled(const struct kura_auth_service *s, const struct kura_login_req *q,
                     struct kura_login_result *ret)
{
    int64_t by_id = kura_throttle_check(s->by_id, q->user, q->user_len, q->now);
    int64_t by_src =
        exempt(s, q->source_ip) || !q->source_ip
            ? 0
            : kura_throttle_check(s->by_source, q->source_ip, strlen(q->source_ip), q->now);
    ret->retry_after_ms = by_id > by_src ? by_id : by_src;
    ret->why = ret->retry_after_ms > 0 ? "throttled" : NULL;
    return ret->retry_after_ms > 0 ? KURA_ETHROTTLED : 0;
}

static void count_failure(const struct kura_auth_service *s, const struct kura_login_req *q)
{
    uint64_t tag = failure_tag(s, NULL, 0, q->password, q->password_len);
    (void)kura_throttle_fail(s->by_id, q->user, q->user_len, tag, q->now);
    if (q->source_ip && !exempt(s, q->source_ip)) {
        tag = failure_tag(s, q->user, q->user_len, q->password, q->password_len);
        (void)kura_throttle_fail(s->by_source, q->source_ip, strlen(q->source_ip), tag, q->now);
    }
}

/* Why an existing account may not log in now, or NULL. */
static const char *not_allowed(const struct kura_account *a, int64_t now)
{
    if (a->status != KURA_ACCOUNT_STATUS_ACTIVE) {
        return a->status == KURA_ACCOUNT_STATUS_LOCKED ? "locked"
                                                       : kura_account_status_name(a->status);
    }
    if ((a->valid_from && now < a->valid_from) || (a->valid_until && now >= a->valid_until)) {
        return "outside_validity";
    }
    return NULL;
}

/* 4: the second factor: a TOTP code (replay-safe) or an unused recovery code. */
static int second_factor(const struct kura_auth_service *s, const char *id,
                         const struct kura_account_auth *st, const char *code, int64_t now)
{
    if (!code || !code[0]) {
        return KURA_EUNAUTH;
    }
    size_t len = strnlen(code, KURA_RECOVERY_INPUT_MAX + 1);
    uint8_t secret[KURA_TOTP_SECRET_MAX];
    size_t slen = 0;
    int r = auth_totp_unseal(s, st, secret, &slen);
    uint64_t step = 0;
    if (r == 0) {
        r = kura_totp_verify(secret, slen, &s->totp, code, len, now / 1000, KURA_TOTP_SKEW_DEFAULT,
                             st->totp_last_step, &step);
    }
    sodium_memzero(secret, sizeof(secret));
    if (r == 0) {
        return kura_meta_auth_use_totp_step(s->meta, id, step) == 0 ? 0 : KURA_EUNAUTH;
    }
    if (r != KURA_ESYNTAX) {
        return r; /* a mismatch, a replay, or a damaged secret: never a pass */
    }
    uint8_t mac[KURA_RECOVERY_HASH_BYTES];
    r = kura_recovery_hash(s->mac_key, code, len, mac);
    r = r == 0 ? kura_meta_recovery_use(s->meta, id, mac, now) : KURA_EUNAUTH;
    return r == 0 ? 0 : KURA_EUNAUTH;
}

static int open_session(const struct kura_auth_service *s, const struct kura_login_req *q,
                        const struct kura_account *a, enum kura_session_kind kind,
                        int64_t emergency_until, struct kura_login_result *ret)
{
    uint8_t csrf_hash[KURA_META_MAC_BYTES];
    int64_t expires = q->now + s->absolute_ms;
    struct kura_session sess = {
        .account_id = a->id,
        .kind = kind,
        .created_at = q->now,
        .last_seen_at = q->now,
        /* an emergency session ends with the emergency period */
        .expires_at = emergency_until && emergency_until < expires ? emergency_until : expires,
        .source_ip = q->source_ip,
        .user_agent = q->user_agent,
        .break_glass = emergency_until != 0};
    int r = auth_token_new(ret->token, sess.id_hash);
    r = r == 0 ? auth_token_new(ret->csrf, csrf_hash) : r;
    memcpy(sess.csrf, csrf_hash, sizeof(csrf_hash));
    r = r == 0 ? kura_meta_session_create(s->meta, &sess) : r;
    if (r == 0) {
        ret->kind = kind;
        ret->break_glass = sess.break_glass;
        ret->roles = a->roles;
        (void)snprintf(ret->account_id, sizeof(ret->account_id), "%s", a->id);
    }
    return r;
}

/* [password] lockout_scope = account+source: counted per address (when there is one). */
static bool per_source(const struct kura_auth_service *s, const struct kura_login_req *q)
{
    return s->lockout_per_source && q->source_ip && q->source_ip[0];
}

/* 3: the attempt is counted before the password is checked (KURA_EFORBIDDEN: locked). */
static int reserve_attempt(const struct kura_auth_service *s, const char *id,
                           const struct kura_login_req *q, uint32_t *ret_failed)
{
    uint32_t t = s->policy->lockout_threshold;
    return per_source(s, q)
               ? kura_meta_source_attempt(s->meta, id, q->source_ip, t, q->now, ret_failed)
               : kura_meta_auth_attempt(s->meta, id, t, q->now, ret_failed);
}

static int count_failed(const struct kura_auth_service *s, const char *id,
                        const struct kura_login_req *q, int64_t lock_ms, bool *ret_locked_now)
{
    uint32_t t = s->policy->lockout_threshold;
    return per_source(s, q)
               ? kura_meta_source_failed(s->meta, id, q->source_ip, t, q->now, lock_ms,
                                         ret_locked_now)
               : kura_meta_auth_failed(s->meta, id, t, q->now, lock_ms, ret_locked_now);
}

/* 2-4 for an account that exists. */
static int check_account(const struct kura_auth_service *s, const struct kura_login_req *q,
                         const struct kura_account *a, struct kura_login_result *ret)
{
    bool rehash = false, emergency = false;
    uint32_t failed = 0;
    int64_t until = 0;
    int bg = kura_auth_break_glass_check(s->meta, a->id, q->now, &emergency, &until);
    if (bg < 0 && bg != KURA_EFORBIDDEN) {
        return bg;
    }
    ret->why = bg == KURA_EFORBIDDEN ? "break_glass_not_enabled" : not_allowed(a, q->now);
    if (ret->why) {
        /* Disabled, expired, outside its period: refused whatever the password, after the same
         * work, and without touching the failure count (which nothing would clear again). */
        KURA_IGNORE(
            auth_verify_password(s, a->password_hash, q->password, q->password_len, &rehash));
        return KURA_EUNAUTH;
    }
    int r = reserve_attempt(s, a->id, q, &failed);
    if (r == KURA_EFORBIDDEN) {
        ret->why = "locked";
        KURA_IGNORE(auth_verify_password(s, NULL, q->password, q->password_len, &rehash));
        return KURA_EUNAUTH;
    }
    if (r < 0) {
        return r;
    }
    r = auth_verify_password(s, a->password_hash, q->password, q->password_len, &rehash);
    ret->why = r == 0 ? NULL : "bad_password";
    struct kura_account_auth st = {0};
    bool privileged = a->roles & ~(unsigned)(KURA_ROLE_USER | KURA_ROLE_PI);
    bool need_totp = kura_password_mfa_required(s->policy, privileged);
    if (r == 0 && !ret->why) {
        r = kura_meta_auth_get(s->meta, a->id, &st);
    }
    bool enrolled = st.totp_secret_len > 0 && st.totp_enrolled_at > 0;
    enum kura_session_kind kind = KURA_SESSION_FULL;
    if (r == 0 && !ret->why) {
        if (a->must_change_password || (need_totp && !enrolled)) {
            kind = KURA_SESSION_ENROL; /* the password proved enough for enrolment only */
        } else if (enrolled && second_factor(s, a->id, &st, q->totp, q->now) != 0) {
            ret->why = "bad_second_factor";
        }
    }
    if (r < 0 && r != KURA_EUNAUTH) {
        return r;
    }
    if (r == KURA_EUNAUTH || ret->why) {
        bool locked_now = false;
        if (strcmp(ret->why ? ret->why : "", "bad_password") == 0 ||
            strcmp(ret->why ? ret->why : "", "bad_second_factor") == 0) {
            int64_t lock_ms = s->policy->lockout_mode == KURA_LOCKOUT_DURATION
                                  ? (int64_t)s->policy->lockout_seconds * 1000
                                  : 0;
            KURA_IGNORE(count_failed(s, a->id, q, lock_ms, &locked_now));
        }
        ret->locked_now = locked_now;
        return KURA_EUNAUTH;
    }
    if (rehash) {
        upgrade_hash(s, a, q->password, q->password_len);
    }
    r = kura_meta_auth_succeeded(s->meta, a->id, q->now, q->source_ip);
    if (r == 0 && per_source(s, q)) {
        r = kura_meta_source_clear(s->meta, a->id, q->source_ip);
    }
    return r == 0 ? open_session(s, q, a, kind, emergency ? until : 0, ret) : r;
}

int kura_auth_login(const struct kura_auth_service *s, const struct kura_login_req *q,
                    struct kura_login_result *ret)
{
    bool rehash = false;
    memset(ret, 0, sizeof(*ret));
    if (!q->user || q->user_len == 0 || q->user_len > KURA_META_ID_MAX || !q->password ||
        q->password_len == 0 || q->password_len > KURA_PASSWORD_MAX) {
        ret->why = "malformed";
        return KURA_EUNAUTH;
    }
    int r = throttled(s, q, ret);
    if (r < 0) {
        return r;
    }
    char id[KURA_META_ID_MAX + 1];
    memcpy(id, q->user, q->user_len);
    id[q->user_len] = '\0';
    struct kura_account a = {0};
    bool valid = kura_auth_id_valid(q->user, q->user_len, &s->policy->id_rule) &&
                 !memchr(q->user, '\0', q->user_len);
    r = valid ? kura_meta_account_get(s->meta, id, &a) : KURA_ENOTFOUND;
    if (r == KURA_ENOTFOUND) {
        ret->why = "unknown_id";
        KURA_IGNORE(auth_verify_password(s, NULL, q->password, q->password_len, &rehash));
        r = KURA_EUNAUTH;
    } else if (r == 0) {
        r = check_account(s, q, &a, ret);
    }
    if (r == KURA_EUNAUTH) {
        count_failure(s, q);
    } else if (r == 0) {
        kura_throttle_clear(s->by_id, q->user, q->user_len);
    }
    kura_account_release(&a);
    return r;
}

/* A sealed break-glass credential presented over the network: the same back-off as a password
 * (160 random bits cannot be guessed, but a flood of attempts is still an attack to slow and to
 * see), and the holder, anonymous by design, is recorded by address. */
int kura_auth_unseal(const struct kura_auth_service *s, const struct kura_login_req *q,
                     int64_t *ret_until, int64_t *ret_retry_after_ms)
{
    struct kura_login_result res = {0};
    *ret_retry_after_ms = 0;
    int r = throttled(s, q, &res);
    if (r < 0) {
        *ret_retry_after_ms = res.retry_after_ms;
        return r;
    }
    char actor[KURA_META_ACTOR_MAX + 1], id[KURA_META_ID_MAX + 1];
    if (q->user_len > KURA_META_ID_MAX || memchr(q->user, '\0', q->user_len)) {
        count_failure(s, q);
        return KURA_EUNAUTH;
    }
    memcpy(id, q->user, q->user_len);
    id[q->user_len] = '\0';
    (void)snprintf(actor, sizeof(actor), "sealed:%s", q->source_ip ? q->source_ip : "local");
    const struct kura_auth_change c = {actor, "sealed break-glass credential", NULL, q->now};
    r = kura_auth_break_glass_unseal(s->meta, &c, s->mac_key, id, q->password, q->password_len,
                                     ret_until);
    if (r == KURA_EUNAUTH) {
        count_failure(s, q);
    }
    return r;
}
