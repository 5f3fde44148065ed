/* store-internal.h — shared by the store's files; not an interface. */
#pragma once

#include "access/access.h"
#include "audit/audit.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "meta/meta.h"
#include "store/store.h"

struct kura_store {
    struct kura_meta *meta;
    struct kura_blob *blob;
    struct kura_audit *audit; /* may be NULL (tools, tests) */
    uint8_t c4gh_sk[KURA_C4GH_KEY_BYTES];
    uint8_t c4gh_pk[KURA_C4GH_KEY_BYTES];
    char key_id[KURA_META_KEY_ID_MAX + 1];
    uint32_t versions_keep;
    uint64_t default_quota;
};

/* access_check for space sp; *ret_why gets the reason of a refusal (may be NULL). */
int store_access(const struct kura_actor *a, enum kura_access_action act,
                 const struct kura_space *sp, const char **ret_why);

/* "a/b/c" -> "a/b" ("" for a top-level name); path must be non-empty. */
void store_parent_path(const char *path, char ret[static KURA_META_PATH_MAX + 1]);

/* Records a damaged object: the version is flagged, the operational log and (when an audit log
 * is attached) the audit log say so. */
void store_report_corrupt(struct kura_store *s, uint64_t version, const char *blob, int err);

/* Removes blob when no version refers to it any more (after a version was removed). */
void store_release_blob(struct kura_store *s, const char *blob);
