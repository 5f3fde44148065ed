/* meta-contract.h — the store contract suite every metadata backend must pass (style item 39).
 *
 * Test-only. The suite in meta-contract.c uses nothing but the public kura_meta_* API, so the
 * same tests run against any backend; what cannot be done through the API (faking a database
 * written by a newer kura, comparing whole databases) comes from the backend's fixture.
 */
#pragma once

#include "meta/meta.h"

struct meta_contract_fixture {
    /* Backend name for kura_meta_open. */
    const char *backend;
    /* Makes a target that does not exist yet (kura_meta_open with KURA_META_CREATE creates it).
     * *ret_target is freed by target_free. */
    int (*target_new)(char **ret_target);
    /* Removes the database and everything belonging to it, then frees target. */
    void (*target_free)(char *target);
    /* Outside the API: inserts version v into schema_version of a closed, migrated database, as
     * a newer kura would have. */
    int (*force_version)(const char *target, unsigned v);
    /* Outside the API: a canonical text dump of a closed database, schema and rows, to prove
     * that an operation changed nothing. Free with kura_free. */
    int (*dump)(const char *target, char **ret);
};

/* Runs the whole suite (cmocka) against the fixture's backend; returns the failure count. */
int meta_contract_run(const struct meta_contract_fixture *f);

/* The identity part of the suite (meta-contract-identity.c); meta_contract_run runs it too. */
int meta_contract_identity_run(const struct meta_contract_fixture *f);

/* The file-store part of the suite (meta-contract-store.c); meta_contract_run runs it too. */
int meta_contract_store_run(const struct meta_contract_fixture *f);
