/* meta-contract-store.h — helpers shared by the two files of the file-store contract tests
 * (meta-contract-store.c: spaces and the node tree; meta-contract-store-data.c: versions,
 * dead properties, locks, checkpoint). Test-only; defined in meta-contract-store.c.
 */
#pragma once

#include "meta/meta-contract.h"

/* Per test: a migrated store with accounts "alice" and "bob" and their personal spaces. */
struct store_ctx {
    char *target;
    struct kura_meta *m;
    uint64_t space, root; /* alice's personal space (quota 1000 bytes) and its root */
    uint64_t other;       /* bob's (no quota) */
};

int store_setup(void **state);
int store_teardown(void **state);

static inline struct store_ctx *ctx_of(void **state)
{
    return *state;
}

/* Creates a node (created_at 1000, mtime 2000) and returns its id; the test fails otherwise. */
uint64_t store_mk(struct kura_meta *m, uint64_t space, const char *path, bool folder);
struct kura_node store_node(struct kura_meta *m, uint64_t id);
/* The id of the live node at path (which must exist). */
uint64_t store_lookup(struct kura_meta *m, uint64_t space, const char *path);
void store_assert_absent(struct kura_meta *m, uint64_t space, const char *path);
uint64_t store_used(struct kura_meta *m, uint64_t space);

struct store_tag {
    char s[KURA_META_ETAG_MAX + 1];
};
struct store_tag store_etag(struct kura_meta *m, uint64_t id);

/* Joins what a listing passed to its callback: "path;path;..." (or whatever is added). */
struct store_seen {
    char buf[16384];
    size_t len;
    unsigned calls;
    int stop_at; /* > 0: return 7 from the stop_at-th call */
};
void store_seen_add(struct store_seen *s, const char *text);
int store_seen_node(void *ctx, const struct kura_node *n); /* adds n->path */

/* Version k of a node: every field derived from k, so that a round trip can be checked. */
struct kura_version store_version_of(uint64_t node_id, unsigned k, const char *key_id);
uint64_t store_add_version(struct kura_meta *m, uint64_t node_id, unsigned k, const char *key_id);
/* Makes version ver (made by store_version_of(id, k, ...)) the current one of file id. */
void store_set_current(struct kura_meta *m, uint64_t id, uint64_t ver, unsigned k);

/* The tests of meta-contract-store-data.c; meta_contract_store_run runs them too. */
int meta_contract_store_data_run(const char *backend);
