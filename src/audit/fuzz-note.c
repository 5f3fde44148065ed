/* fuzz-note.c — libFuzzer harness for checkpoints as signed notes (note.c):
 * kura_audit_checkpoint_open on arbitrary bytes, and kura_audit_checkpoint_sign round trips.
 * Seeds: tests/fuzz/note/ (notes signed by SEED_KEY below, and damaged ones).
 *
 * Keys: SEED_KEY is a fixed test key (only ever used here) so that seeds can hold notes that
 * really verify; the round-trip key is generated once per process and signs only what this
 * harness builds, so no input can hold its signature.
 *
 * Oracles:
 *  1. Any input: open gives 0, KURA_ESYNTAX or KURA_ECRYPTO. It never opens with the per-process
 *     key (which signed nothing the input can contain). When it opens with SEED_KEY under origin
 *     O (the fixed origin, and whatever the input's first line says), the signed text (up to
 *     the blank line) starts with the canonical checkpoint lines of what it returned (O, the
 *     size in decimal, the root in padded base64), and one of the lines after the blank line
 *     is exactly the signature line SEED_KEY makes for that text (Ed25519 signatures are
 *     deterministic and libsodium accepts only the canonical one).
 *  2. A checkpoint built from the input (size, root, origin) signed with the per-process key
 *     opens with that key and origin to the same size, root and origin when the origin is a
 *     valid one (1 to KURA_AUDIT_ORIGIN_MAX - 1 bytes of UTF-8 without control bytes), and
 *     fails otherwise; it never opens with SEED_KEY or under another origin. With extra lines
 *     from the input placed before the signature (other signers' lines, junk), it still opens
 *     as long as the note stays valid UTF-8 without NUL bytes.
 */
#include "audit-internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN "kura.localhost/audit/fuzz-note"
#define EM_DASH_SP "\xe2\x80\x94 "
#define NOTE_BUF_MAX (2 * AUDIT_NOTE_MAX)

/* Test key for the seeds; generated for this harness, used for nothing else. */
static const char seed_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIDlNq8iKY+wW0Z+u1OOhRuHi1bfw+ScU7XTEWLzeaYGw\n"
    "-----END PRIVATE KEY-----\n";

static struct kura_sign_key *seed_key, *own_key;

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static void init(void)
{
    check(kura_crypto_init() == 0);
    check(kura_sign_key_parse(seed_key_pem, strlen(seed_key_pem), &seed_key, NULL) == 0);
    check(kura_sign_key_generate(&own_key) == 0);
}

static bool origin_valid(const char *o, size_t len)
{
    return len > 0 && len < KURA_AUDIT_ORIGIN_MAX && !memchr(o, '\0', len) &&
           !kura_has_ctl(o, len, false) && kura_utf8_valid(o, len);
}

/* The note's text part as the checkpoint format prescribes. */
static void canonical_text(const struct kura_audit_checkpoint *cp, struct kura_buf *out)
{
    char b64[sodium_base64_ENCODED_LEN(KURA_AUDIT_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), cp->root, KURA_AUDIT_HASH_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    kura_buf_addf(out, "%s\n%llu\n%s\n", cp->origin, (unsigned long long)cp->size, b64);
}

/* The note opened with key under origin is what key signed: see oracle 1. */
static void check_opened(const char *note, size_t len, const char *origin,
                         const struct kura_audit_checkpoint *got, const struct kura_sign_key *key)
{
    check(strcmp(got->origin, origin) == 0);
    struct kura_buf want = KURA_BUF_INIT(4096);
    canonical_text(got, &want);
    check(kura_buf_err(&want) == 0);
    /* The signed text runs to the blank line; it starts with the three canonical lines (any
     * further lines are extensions, which the signature covers too). */
    const char *sep = memmem(note, len, "\n\n", 2);
    check(sep != NULL);
    size_t text_len = (size_t)(sep - note) + 1;
    check(text_len >= want.len && memcmp(note, want.ptr, want.len) == 0);
    /* The signature line key makes for that text, "— origin base64(id || sig)\n", is one of the
     * lines after the blank line. */
    uint8_t sig[4 + KURA_SIGN_BYTES];
    check(audit_key_id(origin, kura_sign_key_public(key), sig) == 0);
    check(kura_sign_message(key, note, text_len, sig + 4) == 0);
    char b64[sodium_base64_ENCODED_LEN(sizeof(sig), sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    kura_buf_reset(&want);
    kura_buf_addf(&want, EM_DASH_SP "%s %s\n", origin, b64);
    check(kura_buf_err(&want) == 0);
    bool found = false;
    for (size_t off = text_len + 1; off + want.len <= len && !found;) {
        found = memcmp(note + off, want.ptr, want.len) == 0;
        const char *nl = memchr(note + off, '\n', len - off);
        if (!nl) {
            break;
        }
        off = (size_t)(nl - note) + 1;
    }
    check(found);
    kura_buf_release(&want);
}

static bool known_result(int r)
{
    return r == 0 || r == KURA_ESYNTAX || r == KURA_ECRYPTO;
}

/* Oracle 1. */
static void open_input(const char *note, size_t len)
{
    const uint8_t *seed_pk = kura_sign_key_public(seed_key);
    const uint8_t *own_pk = kura_sign_key_public(own_key);
    struct kura_audit_checkpoint got;
    int r = kura_audit_checkpoint_open(note, len, seed_pk, ORIGIN, &got);
    check(known_result(r));
    if (r == 0) {
        check_opened(note, len, ORIGIN, &got, seed_key);
    }
    r = kura_audit_checkpoint_open(note, len, own_pk, ORIGIN, &got);
    check(known_result(r) && r != 0);
    /* Under the origin the input names on its first line. */
    const char *nl = memchr(note, '\n', len);
    size_t olen = nl ? (size_t)(nl - note) : 0;
    if (olen > 0 && olen < KURA_AUDIT_ORIGIN_MAX && !memchr(note, '\0', olen)) {
        char origin[KURA_AUDIT_ORIGIN_MAX];
        memcpy(origin, note, olen);
        origin[olen] = '\0';
        r = kura_audit_checkpoint_open(note, len, seed_pk, origin, &got);
        check(known_result(r));
        if (r == 0) {
            check_opened(note, len, origin, &got, seed_key);
        }
        r = kura_audit_checkpoint_open(note, len, own_pk, origin, &got);
        check(known_result(r) && r != 0);
    }
}

/* Oracle 2: input = 8 bytes of size, 32 of root, the origin up to the first LF, then extra
 * lines for the signature block. */
static void round_trip(const uint8_t *data, size_t size)
{
    if (size < 8 + KURA_AUDIT_HASH_BYTES) {
        return;
    }
    struct kura_audit_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    for (int i = 0; i < 8; i++) {
        cp.size = (cp.size << 8) | data[i];
    }
    memcpy(cp.root, data + 8, KURA_AUDIT_HASH_BYTES);
    const char *rest = (const char *)data + 8 + KURA_AUDIT_HASH_BYTES;
    size_t rest_len = size - 8 - KURA_AUDIT_HASH_BYTES;
    const char *nl = memchr(rest, '\n', rest_len);
    size_t olen = nl ? (size_t)(nl - rest) : rest_len;
    if (olen >= KURA_AUDIT_ORIGIN_MAX || memchr(rest, '\0', olen)) {
        return; /* not expressible as a C string of the struct's size */
    }
    memcpy(cp.origin, rest, olen);
    const char *extra = nl ? nl + 1 : rest + rest_len;
    size_t extra_len = nl ? rest_len - olen - 1 : 0;

    const uint8_t *own_pk = kura_sign_key_public(own_key);
    struct kura_buf note = KURA_BUF_INIT(NOTE_BUF_MAX);
    check(kura_audit_checkpoint_sign(&cp, own_key, &note) == 0);
    struct kura_audit_checkpoint got;
    int r = kura_audit_checkpoint_open(note.ptr, note.len, own_pk, cp.origin, &got);
    bool valid = origin_valid(cp.origin, olen);
    check(known_result(r) && (r == 0) == valid);
    if (valid) {
        check(strcmp(got.origin, cp.origin) == 0 && got.size == cp.size &&
              memcmp(got.root, cp.root, KURA_AUDIT_HASH_BYTES) == 0);
        check_opened(note.ptr, note.len, cp.origin, &got, own_key);
        /* The key id in the signature is the one of the verifier key. */
        struct kura_buf vkey = KURA_BUF_INIT(1024);
        uint8_t id[4];
        check(kura_audit_vkey(cp.origin, own_pk, &vkey) == 0);
        check(audit_key_id(cp.origin, own_pk, id) == 0);
        char hex[9];
        kura_hex_encode(hex, id, sizeof(id));
        check(vkey.len > olen + 10 && vkey.ptr[olen] == '+' &&
              memcmp(vkey.ptr + olen + 1, hex, 8) == 0 && vkey.ptr[olen + 9] == '+');
        kura_buf_release(&vkey);
    }
    /* Nobody else signed it, and it is not a checkpoint of another origin. */
    check(kura_audit_checkpoint_open(note.ptr, note.len, kura_sign_key_public(seed_key), cp.origin,
                                     &got) != 0);
    char other[KURA_AUDIT_ORIGIN_MAX + 1];
    (void)snprintf(other, sizeof(other), "%sx", cp.origin);
    check(kura_audit_checkpoint_open(note.ptr, note.len, own_pk, other, &got) != 0);

    /* Extra lines before our signature line: the note still opens while it stays well-formed. */
    if (valid && extra_len > 0) {
        struct kura_buf multi = KURA_BUF_INIT(NOTE_BUF_MAX);
        size_t text_len = (size_t)((const char *)memmem(note.ptr, note.len, "\n\n", 2) - note.ptr);
        kura_buf_add(&multi, note.ptr, text_len + 2);
        kura_buf_add(&multi, extra, extra_len);
        if (extra[extra_len - 1] != '\n') {
            kura_buf_addc(&multi, '\n');
        }
        kura_buf_add(&multi, note.ptr + text_len + 2, note.len - text_len - 2);
        check(kura_buf_err(&multi) == 0);
        r = kura_audit_checkpoint_open(multi.ptr, multi.len, own_pk, cp.origin, &got);
        bool well_formed = multi.len <= AUDIT_NOTE_MAX && !memchr(extra, '\0', extra_len) &&
                           kura_utf8_valid(extra, extra_len);
        check(known_result(r) && (r == 0) == well_formed);
        if (r == 0) {
            check(got.size == cp.size && memcmp(got.root, cp.root, KURA_AUDIT_HASH_BYTES) == 0);
        }
        kura_buf_release(&multi);
    }
    kura_buf_release(&note);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init();
        ready = true;
    }
    open_input((const char *)data, size);
    round_trip(data, size);
    return 0;
}
