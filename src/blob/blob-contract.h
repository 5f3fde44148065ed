/* blob-contract.h — the contract suite every blob store backend must pass (style item 39).
 *
 * Test-only. The suite in blob-contract.c uses nothing but the public kura_blob_* API, so the
 * same tests run against fs now and s3 later; a backend's own test executable supplies the
 * fixture (where a fresh, empty store lives and how to open it) and adds its specific tests.
 */
#pragma once

#include "blob/blob.h"

struct blob_contract_fixture {
    /* Backend name, as kura_blob_backend reports it. */
    const char *backend;
    /* Makes a new, empty store location; *ret_target is freed by target_free. */
    int (*target_new)(void **ret_target);
    /* Opens the store at target (again: the suite reopens to check persistence). */
    int (*open)(void *target, struct kura_blob **ret);
    /* Removes the store's contents and everything belonging to it, then frees target. */
    void (*target_free)(void *target);
    /* How far the backend's creation times may be from kura's clock (0 for fs, which stamps
     * them itself; an S3 server's clock may differ). */
    int64_t clock_skew_ms;
};

/* Runs the whole suite (cmocka) against the fixture's backend; returns the failure count. */
int blob_contract_run(const struct blob_contract_fixture *f);
