/* access — the one policy decision point: may this actor do this to that object?
 *
 * Purpose: every read or change of data is decided here and nowhere else (handlers never compare
 * roles themselves). Datasets, data-use applications and grants arrive with a later issue; until
 * then the rule is the one the NBDC guideline and the "no standing privilege" principle give:
 * a person reaches their own personal space and nothing else. No role — admin, operator,
 * helpdesk, auditor — reads or changes another person's files; administrators manage accounts,
 * not data.
 *
 * Invariants: a decision is a pure function of its inputs (no I/O), so it can be logged with
 * its reason and tested exhaustively. Deny is the default: an unknown action, an unknown kind of
 * object or a missing actor is denied.
 *
 * Security assumptions: the actor was authenticated by auth (session or app password); its
 * read_only flag (an app password's scope) is honoured here for every write.
 *
 * Depends on base and meta's types.
 */
#pragma once

#include <stdbool.h>

#include "base/base.h"
#include "meta/meta.h"

/* Who asks. account: the authenticated account ID; read_only: an app password of scope read. */
struct kura_actor {
    const char *account;
    unsigned roles;
    bool read_only;
};

enum kura_access_action {
    KURA_ACCESS_READ = 1,  /* list, read content and properties, download */
    KURA_ACCESS_WRITE = 2, /* create, change, move, delete, lock */
};

/* The object: a space (the decision for anything inside it). */
struct kura_access_object {
    const struct kura_space *space;
};

/* 0 (allow) or KURA_EFORBIDDEN with a stable reason in *ret_why ("not_owner",
 * "read_only_token", "no_actor", "unknown_space_kind", "dataset_without_grant"). */
KURA_MUST_CHECK int kura_access_check(const struct kura_actor *actor,
                                      enum kura_access_action action,
                                      const struct kura_access_object *object,
                                      const char **ret_why);
