/* selfservice.c — what a logged-in person does to their own account: change the password, enrol
 * TOTP (and get recovery codes), create and revoke app passwords; and the Basic-auth check that
 * app passwords exist for.
 *
 * Session rotation: whenever what a session may do changes (enrolment finished, password
 * changed), the old session is deleted and a new one with a new token is issued, so a token
 * seen before the change (e.g. on a shared screen during enrolment) is worthless after it.
 */
#include "auth/auth.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"
#include "crypto/crypto.h"

#define APP_TOKEN_BYTES 24 /* 192 bits: "at least 128 bits of randomness" */

#define ACTOR_MAX (KURA_META_ID_MAX + 8)

/* A change by the account's own user: actor "user:<id>" (written into actor). */
static struct kura_auth_change self(const struct kura_auth_identity *id, int64_t now,
                                    char actor[static ACTOR_MAX])
{
    (void)snprintf(actor, ACTOR_MAX, "user:%s", id->account_id);
    return (struct kura_auth_change){actor, "self-service", NULL, now};
}

/* The kind a fresh session of this account gets: full only when nothing is pending. */
static enum kura_session_kind kind_for(const struct kura_auth_service *s,
                                       const struct kura_account *a, bool enrolled)
{
    bool privileged = a->roles & ~(unsigned)(KURA_ROLE_USER | KURA_ROLE_PI);
    bool need_totp = kura_password_mfa_required(s->policy, privileged);
    return a->must_change_password || (need_totp && !enrolled) ? KURA_SESSION_ENROL
                                                               : KURA_SESSION_FULL;
}

int kura_auth_session_reissue(const struct kura_auth_service *s,
                              const struct kura_auth_identity *id, const char *source_ip,
                              const char *user_agent, int64_t now, int64_t elevated_until,
                              struct kura_login_result *ret)
{
    memset(ret, 0, sizeof(*ret));
    struct kura_account a = {0};
    struct kura_account_auth st;
    int r = kura_meta_account_get(s->meta, id->account_id, &a);
    r = r == 0 ? kura_meta_auth_get(s->meta, id->account_id, &st) : r;
    uint8_t csrf_hash[KURA_META_MAC_BYTES];
    struct kura_session sess = {.account_id = a.id,
                                .created_at = now,
                                .last_seen_at = now,
                                /* a new token, not a new lifetime */
                                .expires_at =
                                    id->expires_at ? id->expires_at : now + s->absolute_ms,
                                .elevated_until = elevated_until,
                                .source_ip = source_ip,
                                .user_agent = user_agent,
                                .break_glass = id->break_glass};
    if (r == 0) {
        sess.kind = kind_for(s, &a, st.totp_secret_len > 0 && st.totp_enrolled_at > 0);
        r = auth_token_new(ret->token, sess.id_hash);
    }
    r = r == 0 ? auth_token_new(ret->csrf, csrf_hash) : r;
    memcpy(sess.csrf, csrf_hash, sizeof(csrf_hash));
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r == 0) {
        r = kura_meta_session_delete(s->meta, id->id_hash);
        r = r == 0 || r == KURA_ENOTFOUND ? kura_meta_session_create(s->meta, &sess) : r;
        r = r == 0 ? kura_meta_txn_commit(s->meta) : (kura_meta_txn_rollback(s->meta), r);
    }
    if (r == 0) {
        ret->kind = sess.kind;
        ret->break_glass = sess.break_glass;
        ret->roles = a.roles;
        (void)snprintf(ret->account_id, sizeof(ret->account_id), "%s", a.id);
    }
    kura_account_release(&a);
    return r;
}

/* ---- the password ---------------------------------------------------------------------------- */

struct history_check {
    const struct kura_auth_service *s;
    const char *pw;
    size_t len;
    bool reused;
};

static int check_old(void *ctx, const char *hash)
{
    struct history_check *h = ctx;
    h->reused = h->reused || kura_password_verify(h->s->keys.params, h->s->keys.pepper, hash, h->pw,
                                                  h->len, NULL) == 0;
    return h->reused ? 1 : 0;
}

/* The new password against the policy, then against the current and the kept hashes. */
static int judge(const struct kura_auth_service *s, const struct kura_account *a, const char *norm,
                 size_t nlen, const char *pw, size_t len, struct kura_password_verdict *v)
{
    const struct kura_password_context ctx = {a->id, a->display_name, a->email, "kura", NULL};
    int r = kura_password_check(s->policy, pw, len, &ctx, v);
    if (r < 0 || !v->ok) {
        return r < 0 ? r : KURA_EBADREQ;
    }
    struct history_check h = {s, norm, nlen, false};
    r = a->password_hash ? check_old(&h, a->password_hash) : 0;
    if (!h.reused && s->policy->history > 0) {
        r = kura_meta_password_history_list(s->meta, a->id, check_old, &h);
    }
    if (r < 0) {
        return r;
    }
    if (h.reused) {
        v->ok = false;
        v->code = "reused";
        (void)snprintf(v->message_en, sizeof(v->message_en),
                       "the new password must differ from the current one and the last %u",
                       s->policy->history);
        (void)snprintf(v->message_ja, sizeof(v->message_ja),
                       "現在のパスワードおよび過去%u回分と異なるパスワードにしてください",
                       s->policy->history);
        return KURA_EBADREQ;
    }
    return 0;
}

static int store_password(const struct kura_auth_service *s, struct kura_account *a,
                          const char *hash, int64_t now, const struct kura_auth_change *c)
{
    const char *old = a->password_hash;
    int r = kura_meta_txn_begin(s->meta);
    if (r < 0) {
        return r;
    }
    a->password_hash = hash;
    a->password_changed_at = now;
    a->must_change_password = false;
    a->updated_at = now;
    r = kura_meta_account_update(s->meta, a);
    if (r == 0 && old && s->policy->history > 0) {
        r = kura_meta_password_history_add(s->meta, a->id, old, now, s->policy->history);
    }
    r = r == 0 ? auth_ledger_note(s->meta, c, a->id, "password_change", NULL) : r;
    r = r == 0 ? kura_meta_txn_commit(s->meta) : (kura_meta_txn_rollback(s->meta), r);
    a->password_hash = old; /* owned by the record: released by the caller */
    return r;
}

int kura_auth_change_password(const struct kura_auth_service *s,
                              const struct kura_auth_identity *id, const char *current, size_t clen,
                              const char *new_pw, size_t nlen, int64_t now,
                              struct kura_password_verdict *ret_verdict)
{
    memset(ret_verdict, 0, sizeof(*ret_verdict));
    struct kura_account a = {0};
    char *norm = NULL, hash[KURA_PWHASH_STR_MAX];
    size_t normlen = 0;
    int r = kura_meta_account_get(s->meta, id->account_id, &a);
    bool unused;
    r = r == 0 ? auth_verify_password(s, a.password_hash, current, clen, &unused) : r;
    r = r == KURA_EUNAUTH ? KURA_EFORBIDDEN : r; /* the session is valid: a wrong current is 403 */
    if (r == 0 && kura_password_normalize(new_pw, nlen, &norm, &normlen) < 0) {
        norm = NULL;
    }
    r = r == 0
            ? judge(s, &a, norm ? norm : new_pw, norm ? normlen : nlen, new_pw, nlen, ret_verdict)
            : r;
    r = r == 0 ? kura_password_hash(s->keys.params, s->keys.pepper, norm, normlen, hash) : r;
    char actor[ACTOR_MAX];
    struct kura_auth_change c = self(id, now, actor);
    r = r == 0 ? store_password(s, &a, hash, now, &c) : r;
    kura_password_normalized_free(norm, normlen);
    sodium_memzero(hash, sizeof(hash));
    kura_account_release(&a);
    return r;
}

/* ---- TOTP enrolment ------------------------------------------------------------------------- */

int kura_auth_totp_begin(const struct kura_auth_service *s, const struct kura_auth_identity *id,
                         const char *issuer, struct kura_buf *ret_uri, struct kura_buf *ret_svg)
{
    struct kura_account_auth st;
    int r = kura_meta_auth_get(s->meta, id->account_id, &st);
    if (r == 0 && st.totp_secret_len > 0 && st.totp_enrolled_at > 0) {
        return KURA_EEXIST; /* re-enrolment goes through a helpdesk MFA reset */
    }
    uint8_t secret[KURA_TOTP_SECRET_BYTES], sealed[KURA_META_SECRET_MAX];
    size_t slen = 0;
    struct kura_totp_key key;
    r = r == 0 ? kura_totp_secret_generate(secret) : r;
    r = r == 0 ? auth_totp_seal(s, secret, sizeof(secret), sealed, &slen) : r;
    /* Stored as pending (enrolled_at 0) until a code confirms it. */
    r = r == 0 ? kura_meta_auth_set_totp(s->meta, id->account_id, sealed, slen, 0) : r;
    r = r == 0 ? kura_totp_key_init(issuer, strlen(issuer), id->account_id, strlen(id->account_id),
                                    secret, sizeof(secret), &s->totp, &key)
               : r;
    r = r == 0 ? kura_totp_uri_build(&key, ret_uri) : r;
    r = r == 0 ? kura_totp_qr_svg(ret_uri->ptr, ret_uri->len, ret_svg) : r;
    kura_totp_key_clear(&key);
    sodium_memzero(secret, sizeof(secret));
    return r;
}

int kura_auth_totp_confirm(const struct kura_auth_service *s, const struct kura_auth_identity *id,
                           const char *code, int64_t now,
                           char ret_codes[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX])
{
    struct kura_account_auth st;
    uint8_t secret[KURA_TOTP_SECRET_MAX], macs[KURA_RECOVERY_CODES][KURA_RECOVERY_HASH_BYTES];
    size_t slen = 0;
    uint64_t step = 0;
    int r = kura_meta_auth_get(s->meta, id->account_id, &st);
    if (r == 0 && (st.totp_secret_len == 0 || st.totp_enrolled_at > 0)) {
        return KURA_ENOTFOUND; /* nothing pending */
    }
    r = r == 0 ? auth_totp_unseal(s, &st, secret, &slen) : r;
    r = r == 0 ? kura_totp_verify(secret, slen, &s->totp, code, strnlen(code, 16), now / 1000,
                                  KURA_TOTP_SKEW_DEFAULT, 0, &step)
               : r;
    sodium_memzero(secret, sizeof(secret));
    r = r == KURA_ESYNTAX ? KURA_EUNAUTH : r;
    r = r == 0 ? kura_recovery_generate(s->mac_key, ret_codes, macs) : r;
    char actor[ACTOR_MAX];
    struct kura_auth_change c = self(id, now, actor);
    r = r == 0 ? kura_meta_txn_begin(s->meta) : r;
    if (r == 0) {
        r = kura_meta_auth_set_totp(s->meta, id->account_id, st.totp_secret, st.totp_secret_len,
                                    now);
        r = r == 0 ? kura_meta_auth_use_totp_step(s->meta, id->account_id, step) : r;
        r = r == 0 ? kura_meta_recovery_set(s->meta, id->account_id,
                                            (const uint8_t(*)[KURA_META_MAC_BYTES])macs,
                                            KURA_RECOVERY_CODES)
                   : r;
        r = r == 0 ? auth_ledger_note(s->meta, &c, id->account_id, "mfa_enrol", NULL) : r;
        r = r == 0 ? kura_meta_txn_commit(s->meta) : (kura_meta_txn_rollback(s->meta), r);
    }
    if (r < 0) {
        sodium_memzero(ret_codes, KURA_RECOVERY_CODES * KURA_RECOVERY_CODE_STR_MAX);
    }
    return r;
}

/* ---- app passwords ----------------------------------------------------------------------------
 */

static void app_mac(const struct kura_auth_service *s, const char *token, size_t len,
                    uint8_t ret[KURA_META_MAC_BYTES])
{
    crypto_auth_hmacsha256(ret, (const unsigned char *)token, len, s->mac_key);
}

int kura_auth_app_password_create(const struct kura_auth_service *s,
                                  const struct kura_auth_identity *id, const char *name,
                                  bool read_write, int64_t expires_at, int64_t now,
                                  char ret_token[static KURA_APP_TOKEN_MAX + 1], uint64_t *ret_id)
{
    uint8_t raw[APP_TOKEN_BYTES];
    do {
        /* Not '-' or '_' first (6 bits of 62 or 63): a token that starts with '-' reads as an
         * option to the clients it is pasted into (rclone obscure, litmus, curl -u). Redrawing
         * leaves it uniform over the rest, 191.95 of 192 bits. */
        randombytes_buf(raw, sizeof(raw));
    } while (raw[0] >> 2 >= 62);
    sodium_bin2base64(ret_token, KURA_APP_TOKEN_MAX + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    struct kura_app_password p = {.account_id = id->account_id,
                                  .name = name,
                                  .read_write = read_write,
                                  .created_at = now,
                                  .expires_at = expires_at};
    app_mac(s, ret_token, strlen(ret_token), p.mac);
    char actor[ACTOR_MAX];
    struct kura_auth_change c = self(id, now, actor);
    json_t *extra =
        json_pack("{s:s,s:s}", "name", name, "scope", read_write ? "read-write" : "read");
    int r = extra ? kura_meta_txn_begin(s->meta) : -ENOMEM;
    if (r == 0) {
        r = kura_meta_app_password_create(s->meta, &p, ret_id);
        r = r == 0 ? auth_ledger_note(s->meta, &c, id->account_id, "app_password_create", extra)
                   : r;
        r = r == 0 ? kura_meta_txn_commit(s->meta) : (kura_meta_txn_rollback(s->meta), r);
    }
    json_decref(extra);
    if (r < 0) {
        sodium_memzero(ret_token, KURA_APP_TOKEN_MAX + 1);
    }
    return r;
}

int kura_auth_app_password_revoke(const struct kura_auth_service *s,
                                  const struct kura_auth_identity *id, uint64_t pw_id, int64_t now)
{
    char actor[ACTOR_MAX];
    struct kura_auth_change c = self(id, now, actor);
    char n[KURA_NUM_STR_MAX];
    json_t *extra = json_pack("{s:s}", "id", kura_fmt_u64(n, pw_id));
    int r = extra ? kura_meta_txn_begin(s->meta) : -ENOMEM;
    if (r == 0) {
        r = kura_meta_app_password_revoke(s->meta, id->account_id, pw_id, now);
        r = r == 0 ? auth_ledger_note(s->meta, &c, id->account_id, "app_password_revoke", extra)
                   : r;
        r = r == 0 ? kura_meta_txn_commit(s->meta) : (kura_meta_txn_rollback(s->meta), r);
    }
    json_decref(extra);
    return r;
}

int kura_auth_basic(const struct kura_auth_service *s, const char *user, const char *secret,
                    size_t len, const char *source_ip, int64_t now, struct kura_auth_basic *ret)
{
    memset(ret, 0, sizeof(*ret));
    struct kura_app_password p = {0};
    struct kura_account a = {0};
    uint8_t mac[KURA_META_MAC_BYTES];
    if (!user || !secret || len == 0 || len > KURA_APP_TOKEN_MAX) {
        return KURA_EUNAUTH; /* an account password is never accepted here */
    }
    app_mac(s, secret, len, mac);
    int r = kura_meta_app_password_find(s->meta, mac, &p);
    bool ok = r == 0 && strcmp(p.account_id, user) == 0 && p.revoked_at == 0 &&
              (p.expires_at == 0 || now < p.expires_at);
    r = ok ? kura_meta_account_get(s->meta, user, &a) : KURA_EUNAUTH;
    ok = r == 0 && a.status == KURA_ACCOUNT_STATUS_ACTIVE &&
         (!a.valid_from || now >= a.valid_from) && (!a.valid_until || now < a.valid_until);
    if (ok) {
        ret->app_password_id = p.id;
        ret->read_write = p.read_write;
        ret->roles = a.roles;
        (void)snprintf(ret->account_id, sizeof(ret->account_id), "%s", a.id);
        /* Last use is kept to the minute: no durable write for every WebDAV request. */
        if (now - p.last_used_at >= 60 * 1000) {
            KURA_IGNORE(kura_meta_app_password_touch(s->meta, p.id, now, source_ip));
        }
    }
    kura_app_password_release(&p);
    kura_account_release(&a);
    return ok ? 0 : KURA_EUNAUTH;
}
