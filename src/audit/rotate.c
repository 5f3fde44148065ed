/* rotate.c — replacing the audit key without breaking the chain of trust.
 *
 * A rotation is a record (action "audit.key") whose detail carries the old and the new public
 * key and the old key's signature over a statement binding the new key to this log and to the
 * record's index (kura_audit_rotation_statement). It is published under a checkpoint signed by
 * the old key; then the same tree size is published again under the new key, and the log goes
 * on with the new key. verify walks the chain from the oldest key: a checkpoint is accepted only
 * from the key in force at its size, so a leaked retired key cannot sign later history.
 */
#include "audit-internal.h"

#include <sodium.h>
#include <string.h>

#define STATEMENT_TAG "kura-audit-key-rotation"

static void b64(const uint8_t *bin, size_t len, char *out, size_t out_len)
{
    sodium_bin2base64(out, out_len, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

int kura_audit_rotation_statement(const char *origin, uint64_t index,
                                  const uint8_t new_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                  struct kura_buf *ret)
{
    char pk[sodium_base64_ENCODED_LEN(KURA_SIGN_PUBLIC_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    b64(new_pk, KURA_SIGN_PUBLIC_KEY_BYTES, pk, sizeof(pk));
    kura_buf_addf(ret, STATEMENT_TAG "\n%s\n%llu\n%s\n", origin, (unsigned long long)index, pk);
    return kura_buf_err(ret);
}

int kura_audit_rotation_check(json_t *detail, const char *origin, uint64_t index,
                              const uint8_t old_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                              uint8_t ret_new_pk[KURA_SIGN_PUBLIC_KEY_BYTES])
{
    const char *fields[] = {"old_key", "new_key", "signature"};
    uint8_t bins[3][KURA_SIGN_BYTES];
    size_t want[] = {KURA_SIGN_PUBLIC_KEY_BYTES, KURA_SIGN_PUBLIC_KEY_BYTES, KURA_SIGN_BYTES};
    for (size_t i = 0; i < 3; i++) {
        const char *s = json_string_value(json_object_get(detail, fields[i]));
        size_t len = 0;
        if (!s ||
            sodium_base642bin(bins[i], sizeof(bins[i]), s, strlen(s), NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            len != want[i]) {
            return KURA_ESYNTAX;
        }
    }
    if (memcmp(bins[0], old_pk, KURA_SIGN_PUBLIC_KEY_BYTES) != 0) {
        return KURA_ECRYPTO; /* not a rotation away from the key in force */
    }
    struct kura_buf st = KURA_BUF_INIT(1024);
    int r = kura_audit_rotation_statement(origin, index, bins[1], &st);
    if (r == 0) {
        r = kura_sign_verify(old_pk, st.ptr, st.len, bins[2]);
    }
    kura_buf_release(&st);
    if (r == 0) {
        memcpy(ret_new_pk, bins[1], KURA_SIGN_PUBLIC_KEY_BYTES);
    }
    return r;
}

/* The record's detail: both keys, the new verifier key for independent checkers, the
 * signature. */
static json_t *rotation_detail(struct kura_audit *a, const struct kura_sign_key *new_key,
                               uint64_t index)
{
    const uint8_t *old_pk = kura_sign_key_public(a->key), *new_pk = kura_sign_key_public(new_key);
    struct kura_buf st = KURA_BUF_INIT(1024), vkey = KURA_BUF_INIT(1024);
    uint8_t sig[KURA_SIGN_BYTES];
    int r = kura_audit_rotation_statement(a->origin, index, new_pk, &st);
    if (r == 0) {
        r = kura_sign_message(a->key, st.ptr, st.len, sig);
    }
    if (r == 0) {
        r = kura_audit_vkey(a->origin, new_pk, &vkey);
    }
    json_t *detail = NULL;
    if (r == 0) {
        char o[64], n[64], s[128];
        b64(old_pk, KURA_SIGN_PUBLIC_KEY_BYTES, o, sizeof(o));
        b64(new_pk, KURA_SIGN_PUBLIC_KEY_BYTES, n, sizeof(n));
        b64(sig, sizeof(sig), s, sizeof(s));
        detail = json_pack("{s:s,s:s,s:s,s:s}", "old_key", o, "new_key", n, "new_vkey", vkey.ptr,
                           "signature", s);
    }
    kura_buf_release(&st);
    kura_buf_release(&vkey);
    return detail;
}

int kura_audit_rotate_key(struct kura_audit *a, const struct kura_sign_key *new_key,
                          const char *actor, uint64_t *ret_index)
{
    if (a->has_thread) {
        return -EINVAL; /* only the CLI, holding the folder's lock, rotates */
    }
    uint64_t index = a->size;
    json_t *detail = rotation_detail(a, new_key, index);
    if (!detail) {
        return -ENOMEM;
    }
    struct kura_audit_event ev = {.actor = actor,
                                  .action = "audit.key",
                                  .object = "keys/audit.key",
                                  .result = KURA_AUDIT_OK,
                                  .detail = detail};
    uint64_t got = 0;
    int r = kura_audit_emit_sync(a, &ev, &got); /* publishes under the old key */
    json_decref(detail);
    if (r == 0 && got != index) {
        r = KURA_EINTERNAL;
    }
    if (r == 0) {
        r = kura_audit_switch_key(a, new_key);
    }
    if (r == 0 && ret_index) {
        *ret_index = index;
    }
    return r;
}

int kura_audit_switch_key(struct kura_audit *a, const struct kura_sign_key *new_key)
{
    if (a->has_thread) {
        return -EINVAL;
    }
    if (a->published_size != a->size) {
        int r = audit_publish(a); /* the rotation record under the old key first */
        if (r < 0) {
            return r;
        }
    }
    a->key = new_key;
    return audit_publish(a); /* the same size under the new key */
}
