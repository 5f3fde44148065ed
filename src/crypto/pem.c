/* pem.c — PEM armour (RFC 7468), the textual wrapper of every key file kura reads or writes.
 *
 * Reading follows RFC 7468 §2's advice to be lax only about whitespace: blank lines around the
 * block, CRLF line ends, spaces and tabs at either end of a line and inside the base64 text are
 * accepted, because key files pass through editors, Windows mail clients and copy-and-paste.
 * Everything else is strict: no explanatory text before BEGIN or after END (§5.2 allows it, but a
 * key file has no reason to carry any), no encapsulated headers (RFC 1421 "Proc-Type:"; they
 * fail as invalid base64), END label equal to BEGIN label (§2), canonical padded base64 (§3:
 * libsodium rejects missing padding and non-zero trailing bits).
 *
 * Writing follows §2 strictly: 64-column lines, LF line ends, a final newline. Base64 comes from
 * libsodium (constant-time, so secret keys do not leak through table lookups).
 */
#include "crypto-internal.h"

#include <string.h>

#define PEM_DASHES "-----"
#define PEM_BEGIN "-----BEGIN "
#define PEM_END "-----END "
/* RFC 7468 §2: generators wrap base64 at exactly 64 characters, i.e. 48 bytes per line. */
#define PEM_LINE_BYTES 48
#define PEM_LINE_CHARS 64

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Takes the next line (up to '\n' or the end) off *rest. *ret_raw gets where it started,
 * *ret_line the line with surrounding whitespace trimmed. False when nothing is left. */
static bool next_line(struct kura_str *rest, const char **ret_raw, struct kura_str *ret_line)
{
    if (rest->len == 0) {
        return false;
    }
    const char *p = rest->ptr;
    const char *nl = memchr(p, '\n', rest->len);
    size_t n = nl ? (size_t)(nl - p) : rest->len;
    size_t consumed = nl ? n + 1 : n;
    rest->ptr += consumed;
    rest->len -= consumed;

    size_t start = 0;
    size_t end = n;
    while (start < end && is_ws(p[start])) {
        start++;
    }
    while (end > start && is_ws(p[end - 1])) {
        end--;
    }
    *ret_raw = p;
    *ret_line = kura_str_make(p + start, end - start);
    return true;
}

/* RFC 7468 §3: label = [ labelchar *( ["-" / SP] labelchar ) ], labelchar = %x21-2C / %x2E-7E. */
static bool label_valid(struct kura_str label)
{
    for (size_t i = 0; i < label.len; i++) {
        unsigned char c = (unsigned char)label.ptr[i];
        bool sep = c == ' ' || c == '-';
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
        if (sep &&
            (i == 0 || i + 1 == label.len || label.ptr[i - 1] == ' ' || label.ptr[i - 1] == '-')) {
            return false;
        }
    }
    return label.len > 0;
}

static bool has_suffix(struct kura_str s, struct kura_str suffix)
{
    return s.len >= suffix.len && memcmp(s.ptr + s.len - suffix.len, suffix.ptr, suffix.len) == 0;
}

int kura_crypto_pem_decode(const char *text, size_t len, size_t max_len, const char *const *labels,
                           size_t n_labels, size_t *ret_label, struct kura_crypto_blob *ret_der,
                           struct kura_buf *reterr_why)
{
    if (len > max_len) {
        kura_crypto_why(reterr_why, "key file larger than %zu bytes", max_len);
        return KURA_ETOOBIG;
    }
    if (len > 0 && memchr(text, '\0', len)) {
        kura_crypto_why(reterr_why, "NUL byte in key file");
        return KURA_ESYNTAX;
    }

    struct kura_str rest = kura_str_make(text, len);
    const char *raw;
    struct kura_str line = KURA_STR_NULL;
    bool found = false;
    while (next_line(&rest, &raw, &line)) {
        if (line.len > 0) {
            found = true;
            break;
        }
    }
    if (!found || !kura_str_has_prefix(line, KURA_STR(PEM_BEGIN)) ||
        !has_suffix(line, KURA_STR(PEM_DASHES)) ||
        line.len <= strlen(PEM_BEGIN) + strlen(PEM_DASHES)) {
        kura_crypto_why(reterr_why, "no '-----BEGIN ...-----' line: not a PEM key file");
        return KURA_ESYNTAX;
    }
    struct kura_str label = kura_str_make(line.ptr + strlen(PEM_BEGIN),
                                          line.len - strlen(PEM_BEGIN) - strlen(PEM_DASHES));
    if (!label_valid(label)) {
        kura_crypto_why(reterr_why, "malformed '-----BEGIN ...-----' line");
        return KURA_ESYNTAX;
    }
    size_t idx = n_labels;
    for (size_t i = 0; i < n_labels; i++) {
        if (kura_str_eq_c(label, labels[i])) {
            idx = i;
            break;
        }
    }
    if (idx == n_labels) {
        if (reterr_why) {
            kura_buf_adds(reterr_why, "unexpected key type ");
            kura_crypto_why_quoted(reterr_why, label.ptr, label.len);
        }
        return KURA_EUNSUPPORTED;
    }

    const char *body = rest.ptr;
    const char *body_end = NULL;
    while (next_line(&rest, &raw, &line)) {
        if (kura_str_has_prefix(line, KURA_STR(PEM_DASHES))) {
            body_end = raw;
            break;
        }
    }
    if (!body_end) {
        kura_crypto_why(reterr_why, "no '-----END %s-----' line: truncated key file", labels[idx]);
        return KURA_ESYNTAX;
    }
    if (!kura_str_has_prefix(line, KURA_STR(PEM_END)) || !has_suffix(line, KURA_STR(PEM_DASHES)) ||
        line.len != strlen(PEM_END) + strlen(labels[idx]) + strlen(PEM_DASHES) ||
        memcmp(line.ptr + strlen(PEM_END), labels[idx], strlen(labels[idx])) != 0) {
        kura_crypto_why(reterr_why, "END line does not match '-----BEGIN %s-----'", labels[idx]);
        return KURA_ESYNTAX;
    }
    while (next_line(&rest, &raw, &line)) {
        if (line.len > 0) {
            kura_crypto_why(reterr_why, "text after the END line");
            return KURA_ESYNTAX;
        }
    }

    size_t body_len = (size_t)(body_end - body);
    /* Upper bound of the decoded size; whitespace only makes the real size smaller. */
    size_t cap = body_len / 4 * 3 + 3;
    struct kura_crypto_blob der = {.ptr = kura_malloc(cap), .cap = cap};
    if (!der.ptr) {
        return -ENOMEM;
    }
    size_t der_len = 0;
    if (sodium_base642bin(der.ptr, der.cap, body, body_len, " \t\r\n", &der_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        kura_crypto_blob_release(&der);
        kura_crypto_why(reterr_why, "invalid base64 in key file");
        return KURA_ESYNTAX;
    }
    der.len = der_len;
    *ret_label = idx;
    *ret_der = der;
    return 0;
}

size_t kura_crypto_pem_encoded_len(const char *label, size_t der_len)
{
    size_t label_len = strlen(label);
    size_t b64 = (der_len + 2) / 3 * 4;
    size_t lines = (b64 + PEM_LINE_CHARS - 1) / PEM_LINE_CHARS;
    return strlen(PEM_BEGIN) + label_len + strlen(PEM_DASHES) + 1 + b64 + lines + strlen(PEM_END) +
           label_len + strlen(PEM_DASHES) + 1;
}

int kura_crypto_pem_encode(const char *label, const uint8_t *der, size_t der_len, char *out,
                           size_t out_cap, size_t *ret_len)
{
    /* Key files are small: the callers pass at most a few hundred bytes, so the length
     * arithmetic in kura_crypto_pem_encoded_len cannot overflow. */
    if (der_len > KURA_C4GH_KEY_FILE_MAX) {
        return KURA_ETOOBIG;
    }
    size_t total = kura_crypto_pem_encoded_len(label, der_len);
    if (out_cap < total + 1) {
        return KURA_ETOOBIG;
    }
    int n = snprintf(out, out_cap, "%s%s%s\n", PEM_BEGIN, label, PEM_DASHES);
    if (n < 0) {
        return -EINVAL;
    }
    size_t pos = (size_t)n;
    for (size_t off = 0; off < der_len; off += PEM_LINE_BYTES) {
        size_t chunk = der_len - off < PEM_LINE_BYTES ? der_len - off : PEM_LINE_BYTES;
        /* Writes the characters and a NUL, which the newline then replaces. */
        (void)sodium_bin2base64(out + pos, out_cap - pos, der + off, chunk,
                                sodium_base64_VARIANT_ORIGINAL);
        pos += (chunk + 2) / 3 * 4;
        out[pos++] = '\n';
    }
    n = snprintf(out + pos, out_cap - pos, "%s%s%s\n", PEM_END, label, PEM_DASHES);
    if (n < 0) {
        return -EINVAL;
    }
    pos += (size_t)n;
    *ret_len = pos;
    return 0;
}
