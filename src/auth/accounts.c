/* accounts.c — administrative changes to accounts, each with exactly one ledger row.
 *
 * Every function runs one metadata transaction: read the account, change it, append the ledger
 * row (the fields that changed, before and after), commit. So the ledger can never miss a
 * change or record one that did not happen, and two administrators changing one account are
 * serialised by the store's write lock.
 */
#include "auth/auth.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

/* The ledger's view of an account: the fields whose changes it records. Never the hash. */
static json_t *account_json(const struct kura_account *a)
{
    json_t *roles = json_array();
    for (unsigned bit = 1; roles && bit & KURA_ROLE_ALL; bit <<= 1) {
        if (a->roles & bit) {
            (void)json_array_append_new(roles, json_string(kura_role_name(bit)));
        }
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:o*,s:b}", "display_name",
                     a->display_name ? a->display_name : "", "email", a->email ? a->email : "",
                     "affiliation", a->affiliation ? a->affiliation : "", "phone",
                     a->phone ? a->phone : "", "status", kura_account_status_name(a->status),
                     "valid_from", (json_int_t)a->valid_from, "valid_until",
                     (json_int_t)a->valid_until, "roles", roles, "must_change_password",
                     a->must_change_password);
}

/* Keeps in before and after only the keys whose values differ. */
static void keep_changes(json_t *before, json_t *after)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(after, tmp, key, value)
    {
        if (json_equal(value, json_object_get(before, key))) {
            (void)json_object_del(before, key);
            (void)json_object_del(after, key);
        }
    }
}

static char *dump(json_t *doc)
{
    return doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* Appends the ledger row of one change (before may be NULL: a creation). */
static int ledger(struct kura_meta *m, const struct kura_auth_change *c, const char *target,
                  const char *action, const struct kura_account *before,
                  const struct kura_account *after, json_t *extra)
{
    json_t *b = before ? account_json(before) : json_object();
    json_t *a = after ? account_json(after) : json_object();
    if (before && after && a && b) {
        keep_changes(b, a);
    }
    if (extra && a) {
        (void)json_object_update(a, extra);
    }
    char *bt = dump(b), *at = dump(a);
    int r = -ENOMEM;
    if (bt && at) {
        const struct kura_ledger_entry e = {.at = c->now,
                                            .actor = c->actor,
                                            .target = target,
                                            .action = action,
                                            .before = bt,
                                            .after = at,
                                            .reason = c->reason ? c->reason : "",
                                            .request_id = c->request_id};
        r = kura_meta_ledger_append(m, &e, NULL);
    }
    free(bt);
    free(at);
    json_decref(b);
    json_decref(a);
    return r;
}

int auth_ledger_note(struct kura_meta *m, const struct kura_auth_change *c, const char *id,
                     const char *action, json_t *extra)
{
    return ledger(m, c, id, action, NULL, NULL, extra);
}

static int finish(struct kura_meta *m, int r)
{
    if (r == 0) {
        return kura_meta_txn_commit(m);
    }
    kura_meta_txn_rollback(m);
    return r;
}

/* A fresh one-time password and its hash; the account must change it at the next login. */
static int one_time_password(const struct kura_auth_keys *k, char otp[KURA_PASSWORD_GEN_LEN + 1],
                             char hash[KURA_PWHASH_STR_MAX])
{
    int r = kura_password_generate(otp, KURA_PASSWORD_GEN_LEN + 1, KURA_PASSWORD_GEN_LEN);
    if (r == 0) {
        r = kura_password_hash(k->params, k->pepper, otp, KURA_PASSWORD_GEN_LEN, hash);
    }
    return r;
}

static int check_new_account(const struct kura_account *a, const struct kura_id_rule *rule)
{
    if (!a->id || !kura_auth_id_valid(a->id, strnlen(a->id, KURA_META_ID_MAX + 1), rule)) {
        return KURA_ESYNTAX;
    }
    return (a->roles & ~(unsigned)KURA_ROLE_ALL) || a->roles == 0 ? -EINVAL : 0;
}

int kura_auth_account_add_hashed(struct kura_meta *m, const struct kura_auth_change *c,
                                 const struct kura_account *a, const struct kura_id_rule *rule,
                                 const char *hash)
{
    int r = check_new_account(a, rule);
    if (r < 0 || !hash) {
        return r < 0 ? r : -EINVAL;
    }
    struct kura_account n = *a;
    n.status = KURA_ACCOUNT_STATUS_ACTIVE;
    n.password_hash = hash;
    n.password_changed_at = c->now;
    n.must_change_password = true; /* an administrator knew it: the owner replaces it */
    n.created_at = n.updated_at = c->now;
    r = kura_meta_txn_begin(m);
    if (r == 0) {
        r = kura_meta_account_create(m, &n);
        r = r == 0 ? ledger(m, c, a->id, "create", NULL, &n, NULL) : r;
        r = finish(m, r);
    }
    return r;
}

int kura_auth_account_add(struct kura_meta *m, const struct kura_auth_change *c,
                          const struct kura_account *a, const struct kura_id_rule *rule,
                          const struct kura_auth_keys *k, char *ret_otp, size_t otp_size)
{
    int r = check_new_account(a, rule);
    if (r < 0 || otp_size < KURA_PASSWORD_GEN_LEN + 1) {
        return r < 0 ? r : -EINVAL;
    }
    char otp[KURA_PASSWORD_GEN_LEN + 1], hash[KURA_PWHASH_STR_MAX];
    r = one_time_password(k, otp, hash);
    r = r == 0 ? kura_auth_account_add_hashed(m, c, a, rule, hash) : r;
    if (r == 0) {
        memcpy(ret_otp, otp, sizeof(otp));
    }
    sodium_memzero(otp, sizeof(otp));
    sodium_memzero(hash, sizeof(hash));
    return r;
}

/* Read, let `change` edit a copy, write, ledger: the shape of every change below. change may
 * refuse (a negative result) or find nothing to do (1: no write, no ledger row). */
typedef int (*change_fn)(struct kura_account *a, const void *arg);

static int change_account(struct kura_meta *m, const struct kura_auth_change *c, const char *id,
                          const char *action, change_fn fn, const void *arg, json_t *extra)
{
    int r = kura_meta_txn_begin(m);
    if (r < 0) {
        return r;
    }
    struct kura_account before = {0};
    r = kura_meta_account_get(m, id, &before);
    if (r == 0 && before.status == KURA_ACCOUNT_STATUS_DELETED) {
        r = KURA_ENOTFOUND; /* a deleted ID stays reserved, and stays deleted */
    }
    struct kura_account after = before;
    int changed = r == 0 ? fn(&after, arg) : r;
    r = changed < 0 ? changed : 0;
    if (changed == 0) {
        after.updated_at = c->now;
        r = kura_meta_account_update(m, &after);
        r = r == 0 ? ledger(m, c, id, action, &before, &after, extra) : r;
    }
    r = finish(m, r);
    kura_account_release(&before);
    return r < 0 ? r : changed;
}

static int set_roles(struct kura_account *a, const void *arg)
{
    unsigned roles = *(const unsigned *)arg;
    if (roles == 0 || (roles & ~(unsigned)KURA_ROLE_ALL)) {
        return -EINVAL;
    }
    if (a->roles == roles) {
        return 1;
    }
    a->roles = roles;
    return 0;
}

int kura_auth_account_set_roles(struct kura_meta *m, const struct kura_auth_change *c,
                                const char *id, unsigned roles)
{
    return change_account(m, c, id, "roles", set_roles, &roles, NULL);
}

static int set_status(struct kura_account *a, const void *arg)
{
    enum kura_account_status s = *(const enum kura_account_status *)arg;
    if (a->status == s) {
        return 1;
    }
    a->status = s;
    return 0;
}

int kura_auth_account_set_status(struct kura_meta *m, const struct kura_auth_change *c,
                                 const char *id, enum kura_account_status status)
{
    static const char *const actions[KURA_ACCOUNT_STATUS__COUNT] = {
        [KURA_ACCOUNT_STATUS_ACTIVE] = "enable",    [KURA_ACCOUNT_STATUS_LOCKED] = "lock",
        [KURA_ACCOUNT_STATUS_DISABLED] = "disable", [KURA_ACCOUNT_STATUS_EXPIRED] = "expire",
        [KURA_ACCOUNT_STATUS_DELETED] = "delete",
    };
    if ((unsigned)status >= KURA_ACCOUNT_STATUS__COUNT) {
        return -EINVAL;
    }
    int r = change_account(m, c, id, actions[status], set_status, &status, NULL);
    if (r == 0 && status != KURA_ACCOUNT_STATUS_ACTIVE) {
        r = kura_meta_session_delete_account(m, id, NULL, NULL); /* takes effect now */
    }
    return r;
}

struct fields {
    const struct kura_account *in;
};

static int set_fields(struct kura_account *a, const void *arg)
{
    const struct kura_account *in = ((const struct fields *)arg)->in;
    struct kura_account old = *a;
    a->display_name = in->display_name ? in->display_name : a->display_name;
    a->email = in->email ? in->email : a->email;
    a->affiliation = in->affiliation ? in->affiliation : a->affiliation;
    a->phone = in->phone ? in->phone : a->phone;
    a->valid_from = in->valid_from >= 0 ? in->valid_from : a->valid_from;
    a->valid_until = in->valid_until >= 0 ? in->valid_until : a->valid_until;
    json_t *x = account_json(&old), *y = account_json(a);
    int same = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same ? 1 : 0;
}

int kura_auth_account_set_fields(struct kura_meta *m, const struct kura_auth_change *c,
                                 const struct kura_account *in)
{
    struct fields f = {in};
    return change_account(m, c, in->id, "update", set_fields, &f, NULL);
}

/* Lifts a lock by failures (account_auth) and an administrative lock (status locked). */
static int unlock_status(struct kura_account *a, const void *arg)
{
    (void)arg;
    if (a->status != KURA_ACCOUNT_STATUS_LOCKED) {
        return 0; /* still one ledger row: the failure lock is lifted */
    }
    a->status = KURA_ACCOUNT_STATUS_ACTIVE;
    return 0;
}

int kura_auth_account_unlock(struct kura_meta *m, const struct kura_auth_change *c, const char *id)
{
    int r = kura_meta_txn_begin(m);
    if (r < 0) {
        return r;
    }
    r = kura_meta_auth_unlock(m, id);
    r = r == 0 ? kura_meta_source_clear(m, id, NULL) : r; /* locks per source too */
    r = r == 0 ? change_account(m, c, id, "unlock", unlock_status, NULL, NULL) : r;
    return finish(m, r < 0 ? r : 0);
}

struct reset {
    const char *hash;
    int64_t now;
};

static int set_password(struct kura_account *a, const void *arg)
{
    const struct reset *x = arg;
    a->password_hash = x->hash;
    a->password_changed_at = x->now;
    a->must_change_password = true;
    return 0;
}

int kura_auth_reset_password_hashed(struct kura_meta *m, const struct kura_auth_change *c,
                                    const char *id, const struct kura_auth_verification *how,
                                    const char *hash)
{
    if (!hash || !how || !how->method || !how->method[0]) {
        return -EINVAL;
    }
    json_t *extra = json_pack("{s:s,s:s}", "verified_by", how->method, "verification",
                              how->note ? how->note : "");
    int r = extra ? kura_meta_txn_begin(m) : -ENOMEM;
    if (r == 0) {
        struct reset x = {hash, c->now};
        r = change_account(m, c, id, "reset_password", set_password, &x, extra);
        r = r == 0 ? kura_meta_session_delete_account(m, id, NULL, NULL) : r;
        r = finish(m, r);
    }
    json_decref(extra);
    return r;
}

int kura_auth_reset_password(struct kura_meta *m, const struct kura_auth_change *c, const char *id,
                             const struct kura_auth_verification *how,
                             const struct kura_auth_keys *k, char *ret_otp, size_t otp_size)
{
    if (otp_size < KURA_PASSWORD_GEN_LEN + 1 || !how || !how->method || !how->method[0]) {
        return -EINVAL;
    }
    char otp[KURA_PASSWORD_GEN_LEN + 1], hash[KURA_PWHASH_STR_MAX];
    int r = one_time_password(k, otp, hash);
    r = r == 0 ? kura_auth_reset_password_hashed(m, c, id, how, hash) : r;
    if (r == 0) {
        memcpy(ret_otp, otp, sizeof(otp));
    }
    sodium_memzero(otp, sizeof(otp));
    sodium_memzero(hash, sizeof(hash));
    return r;
}

static int touch(struct kura_account *a, const void *arg)
{
    (void)a;
    (void)arg;
    return 0; /* nothing in the account row itself: the ledger row says what happened */
}

int kura_auth_reset_mfa(struct kura_meta *m, const struct kura_auth_change *c, const char *id,
                        const struct kura_auth_verification *how)
{
    if (!how || !how->method || !how->method[0]) {
        return -EINVAL;
    }
    json_t *extra = json_pack("{s:s,s:s,s:b}", "verified_by", how->method, "verification",
                              how->note ? how->note : "", "totp_removed", true);
    int r = extra ? kura_meta_txn_begin(m) : -ENOMEM;
    if (r == 0) {
        r = kura_meta_auth_set_totp(m, id, NULL, 0, c->now);
        r = r == 0 ? change_account(m, c, id, "reset_mfa", touch, NULL, extra) : r;
        r = r == 0 ? kura_meta_session_delete_account(m, id, NULL, NULL) : r;
        r = finish(m, r);
    }
    json_decref(extra);
    return r;
}

static int require_change(struct kura_account *a, const void *arg)
{
    (void)arg;
    if (a->must_change_password) {
        return 1;
    }
    a->must_change_password = true;
    return 0;
}

int kura_auth_account_require_password_change(struct kura_meta *m, const struct kura_auth_change *c,
                                              const char *id)
{
    return change_account(m, c, id, "password_expired", require_change, NULL, NULL);
}
