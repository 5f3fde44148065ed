/* hygiene.c — the daily account hygiene job: expiry, inactivity, password age (auth.h).
 *
 * Three passes, because a change must not run inside kura_meta_account_list's callback (the
 * listing holds a read transaction; changing accounts from inside it would nest a write in it):
 *  1. collect the IDs of the active accounts;
 *  2. judge each one from its record, its authentication state and, for an account that looks
 *     unused, its app passwords and ledger; then apply the last-administrator guard to the set;
 *  3. change each account that a rule caught, inside one transaction per account that first
 *     judges it again, so that a login between pass 2 and the change still counts.
 * The rules read only the `now` they are given, so a test clock moves them like any other time.
 */
#include "auth/auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"

#define DAY_MS (24LL * 60 * 60 * 1000)
#define NONE (-1) /* no rule applies */

struct rules {
    const struct kura_password_policy *p;
    int64_t inactive_ms; /* 0: the inactivity rule is off */
    int64_t now;
    uint64_t inactive_days;
};

/* What the rules find about one account. */
struct verdict {
    bool expire;          /* valid_until has passed */
    bool dormant;         /* unused for inactive_days */
    bool password;        /* the password has expired and no change is required yet */
    bool usable;          /* active and inside its validity: may log in now */
    int64_t last_used_at; /* when dormant: the latest use counted */
};

struct plan {
    char *id;
    bool admin;
    struct verdict v;
    int action; /* enum kura_auth_hygiene_action or NONE */
};

static int64_t later(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* ---- the last use of an account ------------------------------------------------------------ */

static int latest_app_password(void *ctx, const struct kura_app_password *pw)
{
    int64_t *last = ctx;
    *last = later(*last, pw->last_used_at);
    return 0;
}

/* An administrator re-enabling or unlocking an account makes it usable again: the inactivity
 * clock starts over there, or the next run would undo the administrator's decision before the
 * person had a chance to log in. */
static int latest_reactivation(void *ctx, const struct kura_ledger_entry *e)
{
    int64_t *last = ctx;
    if (strcmp(e->action, "enable") == 0 || strcmp(e->action, "unlock") == 0) {
        *last = later(*last, e->at);
    }
    return 0;
}

/* The latest use of a: its last login or the moment it became usable (created, valid_from),
 * and, only when those are old enough to make it dormant, its app passwords (a WebDAV client
 * never logs in through the web) and its re-enablings. */
static int last_use(struct kura_meta *m, const struct rules *x, const struct kura_account *a,
                    int64_t *ret)
{
    struct kura_account_auth st;
    int r = kura_meta_auth_get(m, a->id, &st);
    int64_t last = later(later(st.last_login_at, a->created_at), a->valid_from);
    sodium_memzero(&st, sizeof(st));
    if (r < 0) {
        return r;
    }
    if (x->now - last >= x->inactive_ms) {
        r = kura_meta_app_password_list(m, a->id, latest_app_password, &last);
        r = r == 0 ? kura_meta_ledger_list(m, a->id, latest_reactivation, &last) : r;
    }
    *ret = last;
    return r;
}

/* ---- the rules ----------------------------------------------------------------------------- */

static int judge(struct kura_meta *m, const struct rules *x, const struct kura_account *a,
                 struct verdict *ret)
{
    struct verdict v = {0};
    if (a->status != KURA_ACCOUNT_STATUS_ACTIVE) {
        *ret = v;
        return 0;
    }
    v.expire = a->valid_until && x->now >= a->valid_until;
    v.usable = !v.expire && !(a->valid_from && x->now < a->valid_from);
    if (!v.expire && x->inactive_ms > 0) {
        int r = last_use(m, x, a, &v.last_used_at);
        if (r < 0) {
            return r;
        }
        v.dormant = x->now - v.last_used_at >= x->inactive_ms;
    }
    /* An account made without password_changed_at (none is, today) counts from its creation. */
    int64_t changed = a->password_changed_at ? a->password_changed_at : a->created_at;
    v.password = a->password_hash && !a->must_change_password &&
                 kura_password_expired(x->p, changed, x->now);
    *ret = v;
    return 0;
}

static int action_of(const struct verdict *v, bool may_disable)
{
    if (v->expire) {
        return KURA_AUTH_HYGIENE_EXPIRE;
    }
    if (v->dormant && may_disable) {
        return KURA_AUTH_HYGIENE_DISABLE;
    }
    return v->password ? KURA_AUTH_HYGIENE_PASSWORD_EXPIRED : NONE;
}

/* Never disable the last usable administrator. Disabling every administrator would leave
 * nobody who can administer accounts through the server — not even re-enable the others — so
 * the site would depend on a shell on the machine and `kura user enable` to recover, and on a
 * quiet site (the first administrator of `kura init` may administer from the console for
 * months) that would happen to every installation after inactive_days. A dormant last
 * administrator is a finding for the account review instead: the report names it. Of several
 * dormant administrators the most recently used is kept, the others are disabled. Expiry by
 * valid_until still applies to administrators: it is the administrators' own explicit
 * decision, and login refuses such an account anyway. Returns the index kept, or n. */
static size_t guard_last_admin(struct plan *plan, size_t n, struct kura_auth_hygiene_report *ret)
{
    size_t usable = 0, dormant = 0, keep = n;
    for (size_t i = 0; i < n; i++) {
        if (!plan[i].admin || !plan[i].v.usable) {
            continue;
        }
        usable++;
        if (plan[i].action == KURA_AUTH_HYGIENE_DISABLE) {
            dormant++;
            if (keep == n || plan[i].v.last_used_at > plan[keep].v.last_used_at) {
                keep = i;
            }
        }
    }
    if (usable == 0 || dormant < usable) {
        return n;
    }
    plan[keep].action = action_of(&plan[keep].v, false);
    (void)snprintf(ret->kept_admin, sizeof(ret->kept_admin), "%s", plan[keep].id);
    return keep;
}

/* ---- passes -------------------------------------------------------------------------------- */

struct ids {
    char **v;
    size_t n, cap;
};

static int collect_active(void *ctx, const struct kura_account *a)
{
    struct ids *ids = ctx;
    if (a->status != KURA_ACCOUNT_STATUS_ACTIVE) {
        return 0;
    }
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 64;
        char **v = kura_reallocarray(ids->v, cap, sizeof(*v));
        if (!v) {
            return -ENOMEM;
        }
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n] = kura_strdup(a->id);
    if (!ids->v[ids->n]) {
        return -ENOMEM;
    }
    ids->n++;
    return 0;
}

/* Pass 2 for one account. */
static int plan_one(struct kura_meta *m, const struct rules *x, struct plan *ret)
{
    struct kura_account a = {0};
    int r = kura_meta_account_get(m, ret->id, &a);
    r = r == 0 ? judge(m, x, &a, &ret->v) : r;
    ret->admin = a.roles & KURA_ROLE_ADMIN;
    ret->action = r == 0 ? action_of(&ret->v, true) : NONE;
    kura_account_release(&a);
    return r;
}

static int apply(struct kura_meta *m, const struct rules *x, const char *id, int action)
{
    char reason[64];
    struct kura_auth_change c = {KURA_AUTH_HYGIENE_ACTOR, reason, NULL, x->now};
    switch (action) {
    case KURA_AUTH_HYGIENE_EXPIRE:
        (void)snprintf(reason, sizeof(reason), "valid_until passed");
        return kura_auth_account_set_status(m, &c, id, KURA_ACCOUNT_STATUS_EXPIRED);
    case KURA_AUTH_HYGIENE_DISABLE:
        (void)snprintf(reason, sizeof(reason), "unused for %llu days",
                       (unsigned long long)x->inactive_days);
        return kura_auth_account_set_status(m, &c, id, KURA_ACCOUNT_STATUS_DISABLED);
    default:
        (void)snprintf(reason, sizeof(reason), "password older than %u days", x->p->max_age_days);
        return kura_auth_account_require_password_change(m, &c, id);
    }
}

/* Pass 3 for one account: judged again under the write lock, changed only if the rule still
 * applies. 0: changed; 1: nothing to do any more. */
static int change_one(struct kura_meta *m, const struct rules *x, const struct plan *pl,
                      bool may_disable)
{
    int r = kura_meta_txn_begin(m);
    if (r < 0) {
        return r;
    }
    struct kura_account a = {0};
    struct verdict v;
    r = kura_meta_account_get(m, pl->id, &a);
    r = r == 0 ? judge(m, x, &a, &v) : r;
    kura_account_release(&a);
    if (r == 0) {
        r = action_of(&v, may_disable) == pl->action ? apply(m, x, pl->id, pl->action) : 1;
    }
    if (r < 0) {
        kura_meta_txn_rollback(m);
        return r;
    }
    int c = kura_meta_txn_commit(m);
    return c < 0 ? c : r;
}

void kura_auth_hygiene_report_release(struct kura_auth_hygiene_report *r)
{
    for (size_t i = 0; r->changes && i < r->n; i++) {
        kura_free(r->changes[i].id);
    }
    kura_free(r->changes);
    memset(r, 0, sizeof(*r));
}

int kura_auth_hygiene(struct kura_meta *m, const struct kura_password_policy *p,
                      uint64_t inactive_days, int64_t now, struct kura_auth_hygiene_report *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (inactive_days > KURA_AUTH_INACTIVE_DAYS_MAX) {
        return -EINVAL;
    }
    const struct rules x = {p, (int64_t)inactive_days * DAY_MS, now, inactive_days};
    struct ids ids = {0};
    struct plan *plan = NULL;
    size_t planned = 0;
    int r = kura_meta_account_list(m, collect_active, &ids);
    if (r == 0 && ids.n > 0) {
        plan = kura_calloc(ids.n, sizeof(*plan));
        r = plan ? 0 : -ENOMEM;
    }
    for (size_t i = 0; r == 0 && i < ids.n; i++) {
        plan[i].id = ids.v[i];
        r = plan_one(m, &x, &plan[i]);
        planned += r == 0 && plan[i].action != NONE;
    }
    size_t keep = r == 0 ? guard_last_admin(plan, ids.n, ret) : ids.n;
    if (r == 0 && planned > 0) {
        /* Room for every change before the first one, so that a change made is always
         * reported (and so audited): nothing can fail between a commit and its report. The
         * guard only ever removes a change, so planned is enough. */
        ret->changes = kura_calloc(planned, sizeof(*ret->changes));
        r = ret->changes ? 0 : -ENOMEM;
    }
    for (size_t i = 0; r == 0 && i < ids.n; i++) {
        if (plan[i].action == NONE) {
            continue;
        }
        int c = change_one(m, &x, &plan[i], i != keep);
        if (c == 0) {
            struct kura_auth_hygiene_change *ch = &ret->changes[ret->n++];
            ch->id = TAKE_PTR(ids.v[i]);
            ch->action = (enum kura_auth_hygiene_action)plan[i].action;
            ch->last_used_at = plan[i].v.last_used_at;
        }
        r = c < 0 ? c : 0;
    }
    for (size_t i = 0; i < ids.n; i++) {
        kura_free(ids.v[i]);
    }
    kura_free(ids.v);
    kura_free(plan);
    return r;
}
