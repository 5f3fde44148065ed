/* meta.c — the thin public layer over the backends: dispatch through the ops table, the checks
 * every backend relies on (limits, UTF-8, enum ranges), and the role / status name tables.
 *
 * Validation lives here rather than in each backend so that SQLite and PostgreSQL accept exactly
 * the same records; the backends' own constraints (CHECK, NOT NULL, triggers) are a second line.
 */
#include "meta/meta-internal.h"

#include <assert.h>
#include <string.h>

/* ---- names -------------------------------------------------------------------------------- */

static const char *const role_names[] = {
    "user", "pi", "committee", "helpdesk", "operator", "admin", "auditor",
};

_Static_assert(KURA_ARRAY_SIZE(role_names) == 7 && (KURA_ROLE_ALL >> 7) == 0 &&
                   (KURA_ROLE_ALL & KURA_ROLE_AUDITOR) != 0,
               "role_names must list every enum kura_role bit");

static const char *const status_names[] = {
    [KURA_ACCOUNT_STATUS_ACTIVE] = "active",     [KURA_ACCOUNT_STATUS_LOCKED] = "locked",
    [KURA_ACCOUNT_STATUS_DISABLED] = "disabled", [KURA_ACCOUNT_STATUS_EXPIRED] = "expired",
    [KURA_ACCOUNT_STATUS_DELETED] = "deleted",
};

_Static_assert(KURA_ARRAY_SIZE(status_names) == KURA_ACCOUNT_STATUS__COUNT,
               "status_names must list every enum kura_account_status value");

const char *kura_role_name(unsigned role)
{
    if (role == 0 || (role & (role - 1)) != 0 || (role & ~(unsigned)KURA_ROLE_ALL) != 0) {
        return NULL;
    }
    return role_names[__builtin_ctz(role)];
}

static bool name_eq(const char *s, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(s, name, len) == 0;
}

int kura_role_parse(const char *s, size_t len, enum kura_role *ret)
{
    for (size_t i = 0; i < KURA_ARRAY_SIZE(role_names); i++) {
        if (name_eq(s, len, role_names[i])) {
            *ret = (enum kura_role)(1u << i);
            return 0;
        }
    }
    return KURA_ESYNTAX;
}

const char *kura_account_status_name(enum kura_account_status status)
{
    if ((unsigned)status >= KURA_ACCOUNT_STATUS__COUNT) {
        return NULL;
    }
    return status_names[status];
}

int kura_account_status_parse(const char *s, size_t len, enum kura_account_status *ret)
{
    for (size_t i = 0; i < KURA_ARRAY_SIZE(status_names); i++) {
        if (name_eq(s, len, status_names[i])) {
            *ret = (enum kura_account_status)i;
            return 0;
        }
    }
    return KURA_ESYNTAX;
}

void kura_account_release(struct kura_account *a)
{
    if (!a) {
        return;
    }
    if (a->password_hash) {
        kura_wipe((void *)a->password_hash, strlen(a->password_hash));
    }
    /* The record owns these (kura_meta_account_get); const only keeps borrowers honest. */
    kura_free((void *)a->id);
    kura_free((void *)a->display_name);
    kura_free((void *)a->email);
    kura_free((void *)a->affiliation);
    kura_free((void *)a->phone);
    kura_free((void *)a->password_hash);
    *a = (struct kura_account){0};
}

/* ---- validation --------------------------------------------------------------------------- */

/* s: NUL-terminated, at most max bytes, at least min bytes, valid UTF-8, no control bytes. A NULL
 * s counts as "" (callers that forbid NULL check it first). */
static int check_text(const char *s, size_t min, size_t max, bool allow_tab)
{
    if (!s) {
        return min == 0 ? 0 : -EINVAL;
    }
    size_t len = strnlen(s, max + 1);
    if (len > max) {
        return KURA_ETOOBIG;
    }
    if (len < min) {
        return -EINVAL;
    }
    if (!kura_utf8_valid(s, len) || kura_has_ctl(s, len, allow_tab)) {
        return -EINVAL;
    }
    return 0;
}

int kura_meta_check_text(const char *s, size_t min, size_t max, bool allow_tab)
{
    return check_text(s, min, max, allow_tab);
}

int kura_meta_account_check(const struct kura_account *a)
{
    int r;
    if (!a->id) {
        return -EINVAL;
    }
    r = check_text(a->id, 1, KURA_META_ID_MAX, false);
    if (r < 0) {
        return r;
    }
    const char *texts[] = {a->display_name, a->email, a->affiliation, a->phone};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(texts); i++) {
        r = check_text(texts[i], 0, KURA_META_TEXT_MAX, false);
        if (r < 0) {
            return r;
        }
    }
    r = check_text(a->password_hash, 0, KURA_META_HASH_MAX, false);
    if (r < 0) {
        return r;
    }
    if (a->password_hash && a->password_hash[0] == '\0') {
        /* "No password" is NULL; an empty hash would be ambiguous. */
        return -EINVAL;
    }
    if ((unsigned)a->status >= KURA_ACCOUNT_STATUS__COUNT) {
        return -EINVAL;
    }
    if ((a->roles & ~(unsigned)KURA_ROLE_ALL) != 0) {
        return -EINVAL;
    }
    if (a->valid_from < 0 || a->valid_until < 0 || a->password_changed_at < 0 ||
        a->created_at < 0 || a->updated_at < 0) {
        return -EINVAL;
    }
    return 0;
}

int kura_meta_install_check(const char *key, const char *value)
{
    if (!key) {
        return -EINVAL;
    }
    int r = check_text(key, 1, KURA_META_KEY_MAX, false);
    if (r < 0) {
        return r;
    }
    if (value) {
        r = check_text(value, 0, KURA_META_VALUE_MAX, true);
    }
    return r;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static const struct kura_meta_ops *const backends[] = {
    &kura_meta_sqlite_ops,
};

int kura_meta_open(const char *backend, const char *target, unsigned flags, struct kura_meta **ret)
{
    assert(backend && target && ret);
    if ((flags & ~(KURA_META_CREATE | KURA_META_READONLY | KURA_META_READERS)) != 0 ||
        (flags & (KURA_META_CREATE | KURA_META_READONLY)) ==
            (KURA_META_CREATE | KURA_META_READONLY)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < KURA_ARRAY_SIZE(backends); i++) {
        const struct kura_meta_ops *ops = backends[i];
        if (strcmp(ops->name, backend) != 0) {
            continue;
        }
        if (ops->version < KURA_META_OPS_VERSION) {
            return KURA_EINTERNAL;
        }
        struct kura_meta *m = NULL;
        int r = ops->open(target, flags, &m);
        if (r < 0) {
            return r;
        }
        assert(m && m->ops == ops);
        *ret = m;
        return 0;
    }
    return KURA_EUNSUPPORTED;
}

struct kura_meta *kura_meta_close(struct kura_meta *m)
{
    if (m) {
        m->ops->close(m);
    }
    return NULL;
}

void kura_meta_closep(struct kura_meta **mp)
{
    *mp = kura_meta_close(*mp);
}

const char *kura_meta_backend(const struct kura_meta *m)
{
    return m->ops->name;
}

int kura_meta_schema_version(struct kura_meta *m, unsigned *ret)
{
    return m->ops->schema_version(m, ret);
}

int kura_meta_check_schema(struct kura_meta *m, enum kura_meta_schema_state *ret_state)
{
    unsigned v;
    int r = m->ops->schema_version(m, &v);
    if (r < 0) {
        return r;
    }
    enum kura_meta_schema_state state = KURA_META_SCHEMA_CURRENT;
    if (v < KURA_META_SCHEMA_LATEST) {
        state = KURA_META_SCHEMA_PENDING;
    } else if (v > KURA_META_SCHEMA_LATEST) {
        state = KURA_META_SCHEMA_NEWER;
    }
    if (ret_state) {
        *ret_state = state;
    }
    return state == KURA_META_SCHEMA_CURRENT ? 0 : KURA_ESCHEMA;
}

int kura_meta_migrate(struct kura_meta *m)
{
    return m->ops->migrate(m);
}

int kura_meta_txn_begin(struct kura_meta *m)
{
    return m->ops->txn_begin(m);
}

int kura_meta_txn_commit(struct kura_meta *m)
{
    return m->ops->txn_commit(m);
}

void kura_meta_txn_rollback(struct kura_meta *m)
{
    m->ops->txn_rollback(m);
}

bool kura_meta_snapshot(struct kura_meta *m, bool on)
{
    return m->ops->snapshot ? m->ops->snapshot(m, on) : false;
}

int kura_meta_install_get(struct kura_meta *m, const char *key, char **ret_value)
{
    int r = kura_meta_install_check(key, NULL);
    if (r < 0) {
        return r;
    }
    return m->ops->install_get(m, key, ret_value);
}

int kura_meta_install_set(struct kura_meta *m, const char *key, const char *value)
{
    if (!value) {
        return -EINVAL;
    }
    int r = kura_meta_install_check(key, value);
    if (r < 0) {
        return r;
    }
    return m->ops->install_set(m, key, value);
}

int kura_meta_account_create(struct kura_meta *m, const struct kura_account *a)
{
    int r = kura_meta_account_check(a);
    if (r < 0) {
        return r;
    }
    return m->ops->account_create(m, a);
}

int kura_meta_account_get(struct kura_meta *m, const char *id, struct kura_account *ret)
{
    if (!id) {
        return -EINVAL;
    }
    int r = check_text(id, 1, KURA_META_ID_MAX, false);
    if (r < 0) {
        return r;
    }
    return m->ops->account_get(m, id, ret);
}

int kura_meta_account_count(struct kura_meta *m, uint64_t *ret)
{
    return m->ops->account_count(m, ret);
}

/* ---- audit index -------------------------------------------------------------------------- */

int kura_meta_audit_index_put(struct kura_meta *m, const struct kura_audit_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *res = rows[i].result;
        if (!rows[i].action || !res || !rows[i].record ||
            (strcmp(res, "ok") != 0 && strcmp(res, "denied") != 0 && strcmp(res, "error") != 0)) {
            return -EINVAL;
        }
    }
    return n == 0 ? 0 : m->ops->audit_index_put(m, rows, n);
}

int kura_meta_audit_index_next(struct kura_meta *m, uint64_t *ret)
{
    return m->ops->audit_index_next(m, ret);
}

int kura_meta_audit_index_search(struct kura_meta *m, const struct kura_audit_query *q,
                                 kura_audit_row_fn fn, void *ctx)
{
    return m->ops->audit_index_search(m, q, fn, ctx);
}

int kura_meta_audit_index_prune(struct kura_meta *m, int64_t before_ms, uint64_t *ret_deleted)
{
    uint64_t n = 0;
    int r = m->ops->audit_index_prune(m, before_ms, &n);
    if (r == 0 && ret_deleted) {
        *ret_deleted = n;
    }
    return r;
}

/* ---- alerts ------------------------------------------------------------------------------- */

int kura_meta_alert_raise(struct kura_meta *m, const struct kura_alert *a, int64_t quiet_ms,
                          uint64_t *ret_id, bool *ret_new)
{
    if (!a->rule || !a->key || !a->detail || a->hits == 0 || a->last_idx < a->first_idx ||
        check_text(a->rule, 1, 64, false) < 0 || check_text(a->key, 0, 256, false) < 0 ||
        check_text(a->detail, 0, KURA_META_VALUE_MAX, true) < 0) {
        return -EINVAL;
    }
    return m->ops->alert_raise(m, a, quiet_ms, ret_id, ret_new);
}

int kura_meta_alert_list(struct kura_meta *m, bool open_only, kura_alert_fn fn, void *ctx)
{
    return m->ops->alert_list(m, open_only, fn, ctx);
}

int kura_meta_alert_ack(struct kura_meta *m, uint64_t id, const char *by, const char *note,
                        int64_t at)
{
    if (!by || check_text(by, 1, 300, false) < 0 ||
        (note && check_text(note, 0, KURA_META_TEXT_MAX, false) < 0)) {
        return -EINVAL;
    }
    return m->ops->alert_ack(m, id, by, note, at);
}
