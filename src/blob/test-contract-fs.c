/* The blob store contract suite (blob-contract.c) run against the fs backend in temp folders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blob/blob-contract.h"
#include "blob/test-util.h"

static int target_new(void **ret_target)
{
    struct tdir *t = kura_calloc(1, sizeof(*t));
    if (!t) {
        return -ENOMEM;
    }
    int r = tdir_new(t, "contract");
    if (r < 0) {
        kura_free(t);
        return r;
    }
    *ret_target = t;
    return 0;
}

static int open_fs(void *target, struct kura_blob **ret)
{
    const struct tdir *t = target;
    return kura_blob_fs_open(t->fd, ret);
}

static void target_free(void *target)
{
    tdir_free(target);
    kura_free(target);
}

int main(void)
{
    static const struct blob_contract_fixture fs_fixture = {
        .backend = "fs",
        .target_new = target_new,
        .open = open_fs,
        .target_free = target_free,
        .clock_skew_ms = 0,
    };
    return blob_contract_run(&fs_fixture);
}
