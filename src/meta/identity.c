/* identity.c — the public layer of meta's identity functions (meta.h, "identity"): the checks
 * every backend relies on, then dispatch through the ops table. Kept apart from meta.c only for
 * size; the same rule holds: backends see only values that fit the limits of meta.h.
 *
 * Times that mark a row's state when set (last_failed_at, locked_at, used_at, revoked_at) are
 * stored as NULL for 0 ("not set"), so the functions that set them refuse 0 as well as negative
 * times; elsewhere only negative times are refused.
 */
#include "meta/meta-internal.h"

#include <assert.h>
#include <string.h>

#define RECOVERY_CODES_MAX 32u     /* meta.h: kura_meta_recovery_set takes at most 32 */
#define APP_PASSWORD_NAME_MAX 128u /* meta.h: app password names are 1..128 bytes */

/* ---- records ------------------------------------------------------------------------------ */

void kura_session_release(struct kura_session *s)
{
    if (!s) {
        return;
    }
    /* The record owns these (kura_meta_session_get); const only keeps borrowers honest. */
    kura_free((void *)s->account_id);
    kura_free((void *)s->source_ip);
    kura_free((void *)s->user_agent);
    *s = (struct kura_session){0};
}

void kura_app_password_release(struct kura_app_password *p)
{
    if (!p) {
        return;
    }
    kura_free((void *)p->account_id);
    kura_free((void *)p->name);
    kura_free((void *)p->last_used_ip);
    *p = (struct kura_app_password){0};
}

/* ---- checks ------------------------------------------------------------------------------- */

static int check_id(const char *id)
{
    return id ? kura_meta_check_text(id, 1, KURA_META_ID_MAX, false) : -EINVAL;
}

static int check_ip(const char *ip)
{
    return kura_meta_check_text(ip, 0, KURA_META_IP_MAX, false);
}

/* meta has no JSON parser (and should not grow one for this): the ledger's writer makes the
 * text with jansson, and this shape check keeps anything that is plainly not an object out of
 * an append-only table. Control bytes other than JSON's whitespace are never valid JSON. */
static int check_json_object(const char *s)
{
    if (!s) {
        return -EINVAL;
    }
    size_t len = strnlen(s, KURA_META_JSON_MAX + 1);
    if (len > KURA_META_JSON_MAX) {
        return KURA_ETOOBIG;
    }
    if (len < 2 || s[0] != '{' || s[len - 1] != '}' || !kura_utf8_valid(s, len)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return -EINVAL;
        }
    }
    return 0;
}

static int check_session(const struct kura_session *s)
{
    int r = check_id(s->account_id);
    if (r < 0) {
        return r;
    }
    if ((unsigned)s->kind > KURA_SESSION_ENROL || s->created_at < 0 || s->last_seen_at < 0 ||
        s->expires_at < 0 || s->elevated_until < 0) {
        return -EINVAL;
    }
    r = check_ip(s->source_ip);
    if (r < 0) {
        return r;
    }
    return kura_meta_check_text(s->user_agent, 0, KURA_META_AGENT_MAX, false);
}

static int check_app_password(const struct kura_app_password *p)
{
    int r = check_id(p->account_id);
    if (r < 0) {
        return r;
    }
    if (!p->name) {
        return -EINVAL;
    }
    r = kura_meta_check_text(p->name, 1, APP_PASSWORD_NAME_MAX, false);
    if (r < 0) {
        return r;
    }
    return p->created_at < 0 || p->expires_at < 0 ? -EINVAL : 0;
}

static int check_ledger_entry(const struct kura_ledger_entry *e)
{
    if (!e->actor || !e->target || !e->action || e->at < 0) {
        return -EINVAL;
    }
    const char *required[] = {e->actor, e->target, e->action};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(required); i++) {
        int r = kura_meta_check_text(required[i], 1, KURA_META_TEXT_MAX, false);
        if (r < 0) {
            return r;
        }
    }
    int r = kura_meta_check_text(e->reason, 0, KURA_META_TEXT_MAX, false);
    if (r == 0) {
        r = kura_meta_check_text(e->request_id, 0, KURA_META_TEXT_MAX, false);
    }
    if (r == 0) {
        r = check_json_object(e->before);
    }
    if (r == 0) {
        r = check_json_object(e->after);
    }
    return r;
}

/* ---- accounts ----------------------------------------------------------------------------- */

int kura_meta_account_update(struct kura_meta *m, const struct kura_account *a)
{
    int r = kura_meta_account_check(a);
    if (r < 0) {
        return r;
    }
    return m->ops->account_update(m, a);
}

int kura_meta_account_list(struct kura_meta *m, kura_account_fn fn, void *ctx)
{
    assert(fn);
    return m->ops->account_list(m, fn, ctx);
}

/* ---- authentication state ----------------------------------------------------------------- */

int kura_meta_auth_get(struct kura_meta *m, const char *id, struct kura_account_auth *ret)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    return m->ops->auth_get(m, id, ret);
}

int kura_meta_auth_attempt(struct kura_meta *m, const char *id, uint32_t threshold, int64_t now,
                           uint32_t *ret_failed)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    if (now < 0) {
        return -EINVAL;
    }
    uint32_t failed = 0;
    r = m->ops->auth_attempt(m, id, threshold, now, &failed);
    if (r == 0 && ret_failed) {
        *ret_failed = failed;
    }
    return r;
}

int kura_meta_auth_failed(struct kura_meta *m, const char *id, uint32_t threshold, int64_t now,
                          int64_t lock_ms, bool *ret_locked_now)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    int64_t until;
    if (now <= 0 || lock_ms < 0 || __builtin_add_overflow(now, lock_ms, &until)) {
        return -EINVAL;
    }
    bool locked = false;
    r = m->ops->auth_failed(m, id, threshold, now, lock_ms, &locked);
    if (r == 0 && ret_locked_now) {
        *ret_locked_now = locked;
    }
    return r;
}

int kura_meta_auth_succeeded(struct kura_meta *m, const char *id, int64_t now, const char *ip)
{
    int r = check_id(id);
    if (r == 0) {
        r = check_ip(ip);
    }
    if (r < 0) {
        return r;
    }
    return now < 0 ? -EINVAL : m->ops->auth_succeeded(m, id, now, ip);
}

int kura_meta_auth_unlock(struct kura_meta *m, const char *id)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    return m->ops->auth_unlock(m, id);
}

int kura_meta_auth_set_totp(struct kura_meta *m, const char *id, const uint8_t *sealed, size_t len,
                            int64_t now)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    if (len > KURA_META_SECRET_MAX) {
        return KURA_ETOOBIG;
    }
    if ((len > 0 && !sealed) || now < 0) {
        return -EINVAL;
    }
    return m->ops->auth_set_totp(m, id, sealed, len, now);
}

int kura_meta_auth_use_totp_step(struct kura_meta *m, const char *id, uint64_t step)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    /* Stored as a signed 64-bit integer; real steps (time / 30 s) are far below. */
    return step > INT64_MAX ? -EINVAL : m->ops->auth_use_totp_step(m, id, step);
}

/* ---- recovery codes and password history -------------------------------------------------- */

int kura_meta_recovery_set(struct kura_meta *m, const char *id,
                           const uint8_t (*macs)[KURA_META_MAC_BYTES], size_t n)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    if (n > RECOVERY_CODES_MAX) {
        return KURA_ETOOBIG;
    }
    if (n > 0 && !macs) {
        return -EINVAL;
    }
    return m->ops->recovery_set(m, id, macs, n);
}

int kura_meta_recovery_use(struct kura_meta *m, const char *id, const uint8_t *mac, int64_t now)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    if (!mac || now <= 0) {
        return -EINVAL;
    }
    return m->ops->recovery_use(m, id, mac, now);
}

int kura_meta_password_history_add(struct kura_meta *m, const char *id, const char *hash,
                                   int64_t at, uint32_t keep)
{
    int r = check_id(id);
    if (r == 0) {
        r = hash ? kura_meta_check_text(hash, 1, KURA_META_HASH_MAX, false) : -EINVAL;
    }
    if (r < 0) {
        return r;
    }
    return at < 0 ? -EINVAL : m->ops->password_history_add(m, id, hash, at, keep);
}

int kura_meta_password_history_list(struct kura_meta *m, const char *id,
                                    int (*fn)(void *ctx, const char *hash), void *ctx)
{
    assert(fn);
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    return m->ops->password_history_list(m, id, fn, ctx);
}

/* ---- sessions ----------------------------------------------------------------------------- */

int kura_meta_session_create(struct kura_meta *m, const struct kura_session *s)
{
    int r = check_session(s);
    if (r < 0) {
        return r;
    }
    return m->ops->session_create(m, s);
}

int kura_meta_session_get(struct kura_meta *m, const uint8_t *id_hash, struct kura_session *ret)
{
    return id_hash ? m->ops->session_get(m, id_hash, ret) : -EINVAL;
}

int kura_meta_session_touch(struct kura_meta *m, const uint8_t *id_hash, int64_t now)
{
    return id_hash && now >= 0 ? m->ops->session_touch(m, id_hash, now) : -EINVAL;
}

int kura_meta_session_elevate(struct kura_meta *m, const uint8_t *id_hash, int64_t until)
{
    return id_hash && until >= 0 ? m->ops->session_elevate(m, id_hash, until) : -EINVAL;
}

int kura_meta_session_delete(struct kura_meta *m, const uint8_t *id_hash)
{
    return id_hash ? m->ops->session_delete(m, id_hash) : -EINVAL;
}

int kura_meta_session_delete_account(struct kura_meta *m, const char *id, const uint8_t *except,
                                     uint64_t *ret_deleted)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    uint64_t n = 0;
    r = m->ops->session_delete_account(m, id, except, &n);
    if (r == 0 && ret_deleted) {
        *ret_deleted = n;
    }
    return r;
}

int kura_meta_session_list(struct kura_meta *m, const char *id, kura_session_fn fn, void *ctx)
{
    assert(fn);
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    return m->ops->session_list(m, id, fn, ctx);
}

int kura_meta_session_prune(struct kura_meta *m, int64_t idle_before, int64_t now,
                            uint64_t *ret_deleted)
{
    uint64_t n = 0;
    int r = m->ops->session_prune(m, idle_before, now, &n);
    if (r == 0 && ret_deleted) {
        *ret_deleted = n;
    }
    return r;
}

/* ---- app passwords ------------------------------------------------------------------------ */

int kura_meta_app_password_create(struct kura_meta *m, const struct kura_app_password *p,
                                  uint64_t *ret_id)
{
    int r = check_app_password(p);
    if (r < 0) {
        return r;
    }
    uint64_t id = 0;
    r = m->ops->app_password_create(m, p, &id);
    if (r == 0 && ret_id) {
        *ret_id = id;
    }
    return r;
}

int kura_meta_app_password_find(struct kura_meta *m, const uint8_t *mac,
                                struct kura_app_password *ret)
{
    return mac ? m->ops->app_password_find(m, mac, ret) : -EINVAL;
}

int kura_meta_app_password_touch(struct kura_meta *m, uint64_t id, int64_t now, const char *ip)
{
    int r = check_ip(ip);
    if (r < 0) {
        return r;
    }
    return now < 0 ? -EINVAL : m->ops->app_password_touch(m, id, now, ip);
}

int kura_meta_app_password_list(struct kura_meta *m, const char *id, kura_app_password_fn fn,
                                void *ctx)
{
    assert(fn);
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    return m->ops->app_password_list(m, id, fn, ctx);
}

int kura_meta_app_password_revoke(struct kura_meta *m, const char *id, uint64_t pw_id, int64_t now)
{
    int r = check_id(id);
    if (r < 0) {
        return r;
    }
    return now <= 0 ? -EINVAL : m->ops->app_password_revoke(m, id, pw_id, now);
}

/* ---- the account ledger ------------------------------------------------------------------- */

int kura_meta_ledger_append(struct kura_meta *m, const struct kura_ledger_entry *e,
                            uint64_t *ret_seq)
{
    int r = check_ledger_entry(e);
    if (r < 0) {
        return r;
    }
    uint64_t seq = 0;
    r = m->ops->ledger_append(m, e, &seq);
    if (r == 0 && ret_seq) {
        *ret_seq = seq;
    }
    return r;
}

int kura_meta_ledger_list(struct kura_meta *m, const char *target, kura_ledger_fn fn, void *ctx)
{
    assert(fn);
    if (target) {
        int r = kura_meta_check_text(target, 1, KURA_META_TEXT_MAX, false);
        if (r < 0) {
            return r;
        }
    }
    return m->ops->ledger_list(m, target, fn, ctx);
}

int kura_meta_break_glass_get(struct kura_meta *m, const char *id, struct kura_break_glass *ret)
{
    int r = check_id(id);
    return r < 0 ? r : m->ops->break_glass_get(m, id, ret);
}

int kura_meta_break_glass_put(struct kura_meta *m, const char *id, const struct kura_break_glass *b)
{
    int r = check_id(id);
    if (r == 0 &&
        (b->minutes > 1440 || b->requested_at < 0 || b->enabled_until < 0 ||
         !kura_utf8_valid(b->requested_by, strnlen(b->requested_by, sizeof(b->requested_by))) ||
         !kura_utf8_valid(b->enabled_by, strnlen(b->enabled_by, sizeof(b->enabled_by))) ||
         (b->requested_by[0] != '\0') != (b->requested_at > 0))) {
        r = -EINVAL;
    }
    return r < 0 ? r : m->ops->break_glass_put(m, id, b);
}

static int check_source(const char *source)
{
    return source ? kura_meta_check_text(source, 1, KURA_META_IP_MAX, false) : -EINVAL;
}

int kura_meta_source_attempt(struct kura_meta *m, const char *id, const char *source,
                             uint32_t threshold, int64_t now, uint32_t *ret_failed)
{
    int r = check_id(id);
    r = r == 0 ? check_source(source) : r;
    uint32_t unused;
    return r < 0 ? r
                 : m->ops->source_attempt(m, id, source, threshold, now,
                                          ret_failed ? ret_failed : &unused);
}

int kura_meta_source_failed(struct kura_meta *m, const char *id, const char *source,
                            uint32_t threshold, int64_t now, int64_t lock_ms, bool *ret_locked_now)
{
    int r = check_id(id);
    r = r == 0 ? check_source(source) : r;
    r = r == 0 && (now <= 0 || lock_ms < 0) ? -EINVAL : r;
    bool unused;
    return r < 0 ? r
                 : m->ops->source_failed(m, id, source, threshold, now, lock_ms,
                                         ret_locked_now ? ret_locked_now : &unused);
}

int kura_meta_source_clear(struct kura_meta *m, const char *id, const char *source)
{
    int r = check_id(id);
    r = r == 0 && source ? check_source(source) : r;
    return r < 0 ? r : m->ops->source_clear(m, id, source);
}
