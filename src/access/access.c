/* access.c — kura_access_check (access.h). */
#include "access/access.h"

#include <string.h>

int kura_access_check(const struct kura_actor *actor, enum kura_access_action action,
                      const struct kura_access_object *object, const char **ret_why)
{
    const char *why = NULL;
    if (!actor || !actor->account || !actor->account[0]) {
        why = "no_actor";
    } else if (action != KURA_ACCESS_READ && action != KURA_ACCESS_WRITE) {
        why = "unknown_action";
    } else if (!object || !object->space) {
        why = "no_object";
    } else if (action == KURA_ACCESS_WRITE && actor->read_only) {
        why = "read_only_token";
    } else if (object->space->kind == KURA_SPACE_DATASET) {
        why = "dataset_without_grant"; /* grants arrive with datasets */
    } else if (object->space->kind != KURA_SPACE_PERSONAL) {
        why = "unknown_space_kind";
    } else if (strcmp(object->space->owner, actor->account) != 0) {
        why = "not_owner"; /* whatever roles the actor holds */
    }
    *ret_why = why;
    return why ? KURA_EFORBIDDEN : 0;
}
