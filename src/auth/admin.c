/* admin.c — creating an administrator with a one-time password (kura init, recovery). */
#include "auth/auth.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

int kura_auth_create_admin(struct kura_meta *m, const char *id,
                           const struct kura_pwhash_params *params,
                           const uint8_t pepper[static KURA_PEPPER_BYTES], char *ret_otp,
                           size_t otp_size)
{
    if (!id || !kura_auth_id_valid(id, strnlen(id, KURA_META_ID_MAX + 1), NULL)) {
        return KURA_ESYNTAX;
    }
    if (otp_size < KURA_PASSWORD_GEN_LEN + 1) {
        return -ENOBUFS;
    }
    char otp[KURA_PASSWORD_GEN_LEN + 1];
    char hash[KURA_PWHASH_STR_MAX];
    int r = kura_password_generate(otp, sizeof(otp), KURA_PASSWORD_GEN_LEN);
    if (r == 0) {
        r = kura_password_hash(params, pepper, otp, KURA_PASSWORD_GEN_LEN, hash);
    }
    if (r == 0) {
        int64_t now = kura_clock_wall_ms();
        const struct kura_account a = {
            .id = id,
            .status = KURA_ACCOUNT_STATUS_ACTIVE,
            .password_hash = hash,
            .password_changed_at = now,
            .must_change_password = true,
            .roles = KURA_ROLE_ADMIN | KURA_ROLE_USER,
            .created_at = now,
            .updated_at = now,
        };
        /* The first entry of the ledger: who the first administrator is, from kura init. */
        const struct kura_auth_change c = {"system:init", "first administrator", NULL, now};
        json_t *extra = json_pack("{s:s,s:[s,s]}", "id", id, "roles", "user", "admin");
        r = extra ? kura_meta_txn_begin(m) : -ENOMEM;
        if (r == 0) {
            r = kura_meta_account_create(m, &a);
            r = r == 0 ? auth_ledger_note(m, &c, id, "create", extra) : r;
            r = r == 0 ? kura_meta_txn_commit(m) : (kura_meta_txn_rollback(m), r);
        }
        json_decref(extra);
    }
    if (r == 0) {
        memcpy(ret_otp, otp, sizeof(otp));
    }
    sodium_memzero(otp, sizeof(otp));
    sodium_memzero(hash, sizeof(hash));
    return r;
}
