/* breakglass.c — emergency (break-glass) accounts (MHLW guideline: rules for emergency access;
 * C-CAT: no standing emergency accounts).
 *
 * An emergency account is disabled until two different administrators approve its use within
 * APPROVAL_WINDOW_MS of each other; it is then usable for the minutes the first one asked for,
 * and refused again afterwards (its status goes back to disabled at the next attempt). Every
 * session of it is marked, every request of such a session carries break_glass in its audit
 * record, and the alert rules report the enabling and each use (src/alert/rules.c).
 */
#include "auth/auth.h"

#include <jansson.h>
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
    struct kura_break_glass on = {.enabled_until = c->now + (int64_t)b->minutes * 60 * 1000};
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
        struct kura_break_glass req = {.requested_at = c->now, .minutes = minutes};
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
