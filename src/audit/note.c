/* note.c — checkpoints as C2SP signed notes (https://c2sp.org/signed-note,
 * https://c2sp.org/tlog-checkpoint), byte-compatible with golang.org/x/mod/sumdb/note:
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n
 *   \n
 *   — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>\n
 *
 * The signature covers the text above the blank line. The key id is the first four bytes of
 * SHA-256(key name || "\n" || 0x01 || public key), 0x01 being the Ed25519 algorithm byte. The
 * key name is the origin.
 */
#include "audit-internal.h"

#include <sodium.h>
#include <string.h>

#define EM_DASH "\xe2\x80\x94"

static void add_base64(struct kura_buf *b, const uint8_t *data, size_t len)
{
    char out[256];
    if (sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL) > sizeof(out)) {
        kura_buf_adds(b, "?");
        return;
    }
    sodium_bin2base64(out, sizeof(out), data, len, sodium_base64_VARIANT_ORIGINAL);
    kura_buf_adds(b, out);
}

int audit_key_id(const char *name, const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES], uint8_t ret[4])
{
    uint8_t h[KURA_SHA256_BYTES];
    struct kura_str parts[4] = {kura_str_c(name),
                                KURA_STR("\n"),
                                KURA_STR("\x01"),
                                {(const char *)pk, KURA_SIGN_PUBLIC_KEY_BYTES}};
    int r = kura_sha256_parts(h, parts, 4);
    if (r == 0) {
        memcpy(ret, h, 4);
    }
    return r;
}

int kura_audit_vkey(const char *origin, const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                    struct kura_buf *ret)
{
    uint8_t id[4], keyed[1 + KURA_SIGN_PUBLIC_KEY_BYTES] = {0x01};
    int r = audit_key_id(origin, pk, id);
    if (r < 0) {
        return r;
    }
    memcpy(keyed + 1, pk, KURA_SIGN_PUBLIC_KEY_BYTES);
    kura_buf_addf(ret, "%s+%02x%02x%02x%02x+", origin, id[0], id[1], id[2], id[3]);
    add_base64(ret, keyed, sizeof(keyed));
    return kura_buf_err(ret);
}

int kura_audit_checkpoint_sign(const struct kura_audit_checkpoint *cp,
                               const struct kura_sign_key *key, struct kura_buf *ret_note)
{
    struct kura_buf text = KURA_BUF_INIT(4096);
    kura_buf_addf(&text, "%s\n%llu\n", cp->origin, (unsigned long long)cp->size);
    add_base64(&text, cp->root, KURA_AUDIT_HASH_BYTES);
    kura_buf_addc(&text, '\n');
    uint8_t sig[4 + KURA_SIGN_BYTES];
    int r = kura_buf_err(&text);
    if (r == 0) {
        r = audit_key_id(cp->origin, kura_sign_key_public(key), sig);
    }
    if (r == 0) {
        r = kura_sign_message(key, text.ptr, text.len, sig + 4);
    }
    if (r == 0) {
        kura_buf_addstr(ret_note, kura_buf_str(&text));
        kura_buf_addf(ret_note, "\n" EM_DASH " %s ", cp->origin);
        add_base64(ret_note, sig, sizeof(sig));
        kura_buf_addc(ret_note, '\n');
        r = kura_buf_err(ret_note);
    }
    kura_buf_release(&text);
    return r;
}

/* Parses the three checkpoint lines of text (which ends in "\n"). */
static int parse_body(struct kura_str text, struct kura_audit_checkpoint *ret)
{
    struct kura_str line;
    struct kura_audit_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    if (!kura_str_split(&text, '\n', &line) || line.len == 0 || line.len >= sizeof(cp.origin) ||
        kura_has_ctl(line.ptr, line.len, false)) {
        return KURA_ESYNTAX;
    }
    memcpy(cp.origin, line.ptr, line.len);
    if (!kura_str_split(&text, '\n', &line) ||
        kura_parse_u64(line.ptr, line.len, UINT64_MAX, &cp.size) < 0 ||
        (line.len > 1 && line.ptr[0] == '0')) {
        return KURA_ESYNTAX;
    }
    size_t bin_len = 0;
    if (!kura_str_split(&text, '\n', &line) ||
        sodium_base642bin(cp.root, sizeof(cp.root), line.ptr, line.len, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != KURA_AUDIT_HASH_BYTES) {
        return KURA_ESYNTAX;
    }
    *ret = cp; /* further lines are extensions, which kura neither writes nor needs */
    return 0;
}

int kura_audit_checkpoint_open(const char *note, size_t len,
                               const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES], const char *origin,
                               struct kura_audit_checkpoint *ret)
{
    if (len > AUDIT_NOTE_MAX || memchr(note, '\0', len) || !kura_utf8_valid(note, len)) {
        return KURA_ESYNTAX;
    }
    const char *sep = memmem(note, len, "\n\n", 2);
    if (!sep) {
        return KURA_ESYNTAX;
    }
    struct kura_str text = {note, (size_t)(sep - note) + 1};
    struct kura_str sigs = {sep + 2, len - text.len - 1}, line;
    struct kura_audit_checkpoint cp;
    int r = parse_body(text, &cp);
    if (r < 0) {
        return r;
    }
    if (strcmp(cp.origin, origin) != 0) {
        return KURA_ECRYPTO;
    }
    uint8_t want_id[4];
    r = audit_key_id(origin, pk, want_id);
    if (r < 0) {
        return r;
    }
    size_t prefix = strlen(EM_DASH " ") + strlen(origin) + 1;
    while (sigs.len > 0) {
        if (!kura_str_split(&sigs, '\n', &line)) {
            return KURA_ESYNTAX; /* every signature line ends in a newline */
        }
        uint8_t sig[4 + KURA_SIGN_BYTES];
        size_t sig_len = 0;
        if (line.len <= prefix || memcmp(line.ptr, EM_DASH " ", strlen(EM_DASH " ")) != 0 ||
            memcmp(line.ptr + strlen(EM_DASH " "), origin, strlen(origin)) != 0 ||
            line.ptr[prefix - 1] != ' ' ||
            sodium_base642bin(sig, sizeof(sig), line.ptr + prefix, line.len - prefix, NULL,
                              &sig_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            sig_len != sizeof(sig) || memcmp(sig, want_id, 4) != 0) {
            continue; /* another key's signature, or not ours: look further */
        }
        if (kura_sign_verify(pk, text.ptr, text.len, sig + 4) == 0) {
            *ret = cp;
            return 0;
        }
    }
    return KURA_ECRYPTO;
}
