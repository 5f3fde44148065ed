/* totp — the second login factor: TOTP codes, their secrets and enrolment QR codes, and
 * single-use recovery codes (issue 4, item 5). A self-contained piece, to be merged into auth.h;
 * nothing here touches the database, the HTTP server or the CLI.
 *
 * Specifications:
 *  - RFC 4226 (HOTP): HMAC over the 8-byte big-endian counter, dynamic truncation (§5.3) to 6 or
 *    8 decimal digits. Secrets: §4 R6 requires at least 128 bits and recommends 160; kura
 *    generates 160 (KURA_TOTP_SECRET_BYTES) and accepts KURA_TOTP_SECRET_MIN..MAX bytes.
 *  - RFC 6238 (TOTP): step T = floor(unix_time / period); HMAC-SHA-1 by default, HMAC-SHA-256
 *    and HMAC-SHA-512 selectable (§1.2). §5.2: a verifier may accept neighbouring steps to absorb
 *    clock drift, and MUST NOT accept the same OTP twice — hence the last-used step below, which
 *    also refuses every code older than the last one used.
 *  - RFC 4648 §6 Base32 (upper case, no padding) for the secret inside the URI.
 *  - Google Authenticator's Key Uri Format (github.com/google/google-authenticator/wiki/
 *    Key-Uri-Format): otpauth://totp/ISSUER:ACCOUNT?secret=B32&issuer=ISSUER&algorithm=SHA1
 *    &digits=6&period=30, issuer and account percent-encoded (RFC 3986 §2.1; UTF-8 bytes are
 *    percent-encoded too). Many authenticator apps ignore algorithm, digits and period and assume
 *    SHA1/6/30, so enrol with kura_totp_params_default unless the app is known.
 *  - QR code (ISO/IEC 18004) through libqrencode, error correction level M, quiet zone of four
 *    modules (ISO/IEC 18004 §6.3.8), rendered as one SVG path.
 *  - Recovery codes: 10 symbols of Crockford's Base32 alphabet (no I, L, O, U), shown as
 *    "ABCDE-FGHJK"; stored only as HMAC-SHA-256(server key, normalised code).
 *
 * Invariants:
 *  - No hash or HMAC is written here: OpenSSL computes HMAC-SHA-1/256/512; libsodium supplies the
 *    randomness. Base32 and percent-encoding are small hand-written codecs, fuzzed through
 *    fuzz-otpauth.c.
 *  - Codes and recovery hashes are compared in constant time (sodium_memcmp);
 *    kura_totp_verify computes and compares every step of its window whatever matches, and
 *    kura_recovery_check compares every stored hash.
 *  - Every intermediate buffer holding secret material (HMAC outputs, expected codes, secrets
 *    being encoded or decoded, normalised recovery codes, the text handed to libqrencode and its
 *    module matrix) is wiped with sodium_memzero on every path.
 *  - Outputs (ret_*) are written only on success; appending functions leave a kura_buf as they
 *    found it when they fail. Nothing here logs.
 *
 * Limits: secrets KURA_TOTP_SECRET_MIN..KURA_TOTP_SECRET_MAX bytes; digits 6 or 8; period
 * KURA_TOTP_PERIOD_MIN..KURA_TOTP_PERIOD_MAX seconds; skew at most KURA_TOTP_SKEW_MAX steps;
 * otpauth URIs at most KURA_TOTP_URI_MAX bytes; issuer and account at most KURA_TOTP_ISSUER_MAX
 * and KURA_TOTP_ACCOUNT_MAX bytes after decoding; recovery-code input at most
 * KURA_RECOVERY_INPUT_MAX bytes.
 *
 * Security assumptions (what the caller does):
 *  - The TOTP secret is long-lived: the caller stores it protected (not in logs, ideally
 *    encrypted), keeps it in memory it owns and wipes it after use (kura_totp_key_clear for a
 *    struct kura_totp_key). The otpauth URI and its SVG carry the secret as well: build them into
 *    KURA_BUF_INIT_SECRET buffers, show them once, release them with kura_buf_release_wipe.
 *    libqrencode's own temporary buffers are freed without being wiped; that is beyond our reach.
 *  - The caller stores the step kura_totp_verify returns in the same transaction as the login
 *    decision (compare-and-set on the old value), or two concurrent logins could spend one code.
 *  - A 6-digit code is guessed with probability (2 * skew + 1) / 10^6 per attempt: the caller
 *    rate-limits and locks out; nothing here counts failures.
 *  - Recovery codes carry 50 bits each. The server key (KURA_RECOVERY_KEY_BYTES, kept like the
 *    pepper: outside the database, in sodium_malloc memory) means a leaked database alone lets
 *    nobody test guesses offline. The caller marks a matched code used (or deletes its hash) in
 *    the same transaction as the login it allows.
 *  - Time comes from the caller (kura_clock_wall_ms() / 1000 in the server), so tests inject it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- HOTP and TOTP ------------------------------------------------------------------------ */

/* The HMAC hash. SHA1 is the default and the only one every authenticator app implements. */
enum kura_otp_alg {
    KURA_OTP_ALG_SHA1 = 0,
    KURA_OTP_ALG_SHA256 = 1,
    KURA_OTP_ALG_SHA512 = 2,
};

#define KURA_TOTP_SECRET_BYTES 20u /* generated secrets: 160 bits, RFC 4226 §4 R6 */
#define KURA_TOTP_SECRET_MIN 16u   /* 128 bits, RFC 4226 §4 R6's minimum */
#define KURA_TOTP_SECRET_MAX 64u   /* RFC 6238's SHA-512 test seed; longer keys add nothing */
#define KURA_OTP_CODE_MAX 9u       /* the longest code (8 digits) and its NUL */
#define KURA_TOTP_DIGITS_DEFAULT 6u
#define KURA_TOTP_PERIOD_DEFAULT 30u /* seconds, RFC 6238 §5.2 */
#define KURA_TOTP_PERIOD_MIN 15u
#define KURA_TOTP_PERIOD_MAX 120u
#define KURA_TOTP_SKEW_DEFAULT 1u /* steps each side: RFC 6238 §5.2's recommendation */
#define KURA_TOTP_SKEW_MAX 2u

struct kura_totp_params {
    enum kura_otp_alg alg;
    unsigned digits; /* 6 or 8 */
    unsigned period; /* seconds, KURA_TOTP_PERIOD_MIN..KURA_TOTP_PERIOD_MAX */
};

/* {KURA_OTP_ALG_SHA1, 6, 30}: what every authenticator app understands. */
extern const struct kura_totp_params kura_totp_params_default;

/* RFC 4226 HOTP: the code for counter, as digits ASCII digits and a NUL in ret_code.
 * Errors: KURA_ERANGE (secret_len outside KURA_TOTP_SECRET_MIN..MAX, digits not 6 or 8, unknown
 * alg), KURA_ECRYPTO (OpenSSL failed). The caller wipes ret_code after use. */
KURA_MUST_CHECK int kura_hotp(const uint8_t *secret, size_t secret_len, enum kura_otp_alg alg,
                              unsigned digits, uint64_t counter,
                              char ret_code[static KURA_OTP_CODE_MAX]);

/* The RFC 6238 time step of now (unix seconds): floor(now / params->period).
 * Errors: KURA_ERANGE (now < 0, params out of range). */
KURA_MUST_CHECK int kura_totp_step(const struct kura_totp_params *params, int64_t now,
                                   uint64_t *ret_step);

/* RFC 6238 TOTP: the code valid at now (unix seconds), e.g. to show in tests or to check an
 * enrolment by other means. Errors: those of kura_hotp and kura_totp_step. */
KURA_MUST_CHECK int kura_totp_code(const uint8_t *secret, size_t secret_len,
                                   const struct kura_totp_params *params, int64_t now,
                                   char ret_code[static KURA_OTP_CODE_MAX]);

/* Checks a code typed by the user against the steps step(now) - skew .. step(now) + skew.
 * last_step is the step of the last code accepted for this secret (0 when none was: step 0 is
 * the first half-minute of 1970); a code matching only steps <= last_step is a replay and is
 * refused. On success *ret_step is the matched step (the lowest one above last_step, should two
 * steps share the code): store it as the new last_step.
 * code[0..code_len) must be exactly params->digits ASCII digits; the caller may strip spaces a
 * user typed, nothing else is forgiven.
 * Errors: KURA_ESYNTAX (not exactly params->digits digits: says nothing about the secret),
 * KURA_EUNAUTH (no match, or a replay: one answer for both), KURA_ERANGE (now < 0, skew >
 * KURA_TOTP_SKEW_MAX, params or secret_len out of range), KURA_ECRYPTO. */
KURA_MUST_CHECK int kura_totp_verify(const uint8_t *secret, size_t secret_len,
                                     const struct kura_totp_params *params, const char *code,
                                     size_t code_len, int64_t now, unsigned skew,
                                     uint64_t last_step, uint64_t *ret_step);

/* Writes KURA_TOTP_SECRET_BYTES random bytes (libsodium's randombytes_buf) to ret_secret.
 * Errors: KURA_ECRYPTO (libsodium cannot initialise). The caller wipes ret_secret after use. */
KURA_MUST_CHECK int kura_totp_secret_generate(uint8_t ret_secret[static KURA_TOTP_SECRET_BYTES]);

/* ---- Base32 (RFC 4648 §6, upper case, no padding) ----------------------------------------- */

/* Appends the unpadded Base32 encoding of in[0..len) to ret_out (ceil(8 * len / 5) characters).
 * For secrets, pass a KURA_BUF_INIT_SECRET buffer. Errors: KURA_ETOOBIG (ret_out's max),
 * -ENOMEM; ret_out keeps its old content then. */
KURA_MUST_CHECK int kura_base32_encode(const uint8_t *in, size_t len, struct kura_buf *ret_out);

/* Decodes in[0..len), exactly what kura_base32_encode writes: only 'A'..'Z' and '2'..'7', no
 * padding, no lower case, no spaces, a length that an encoding can have (not 1, 3 or 6 modulo 8)
 * and zero bits in the unused tail of the last character — so that every byte string has one
 * encoding. Writes the bytes to ret_out and their number to *ret_len.
 * Errors: KURA_ESYNTAX, -ENOBUFS (out_size smaller than the decoded length); ret_out is untouched
 * then. */
KURA_MUST_CHECK int kura_base32_decode(const char *in, size_t len, uint8_t *ret_out,
                                       size_t out_size, size_t *ret_len);

/* ---- otpauth:// URIs and QR codes --------------------------------------------------------- */

#define KURA_TOTP_URI_MAX 1024u    /* bytes; every URI kura_totp_uri_build writes fits */
#define KURA_TOTP_ISSUER_MAX 64u   /* bytes of UTF-8, after percent-decoding */
#define KURA_TOTP_ACCOUNT_MAX 128u /* bytes of UTF-8, after percent-decoding */
/* Enough for the SVG of any text up to KURA_TOTP_URI_MAX bytes: that needs at most version 26
 * (121 modules a side), so at most 121 rows of 61 runs of 16 bytes, under 120 KiB. */
#define KURA_TOTP_SVG_MAX (256u * 1024u)

/* Everything an authenticator app needs. issuer and account: 1..max bytes of valid UTF-8
 * without control bytes (so without NUL) and without ':' (the Key Uri Format's separator, which
 * neither part may contain), NUL-terminated for convenience. Holds the secret: clear it with
 * kura_totp_key_clear. */
struct kura_totp_key {
    char issuer[KURA_TOTP_ISSUER_MAX + 1];
    size_t issuer_len;
    char account[KURA_TOTP_ACCOUNT_MAX + 1];
    size_t account_len;
    uint8_t secret[KURA_TOTP_SECRET_MAX];
    size_t secret_len;
    struct kura_totp_params params;
};

/* Fills *ret_key from its parts, copying them. Errors: KURA_ESYNTAX (issuer or account empty,
 * invalid UTF-8, with control bytes or ':'), KURA_ETOOBIG (issuer or account too long),
 * KURA_ERANGE (secret_len or params out of range). */
KURA_MUST_CHECK int kura_totp_key_init(const char *issuer, size_t issuer_len, const char *account,
                                       size_t account_len, const uint8_t *secret, size_t secret_len,
                                       const struct kura_totp_params *params,
                                       struct kura_totp_key *ret_key);

/* Wipes the whole key (sodium_memzero). */
void kura_totp_key_clear(struct kura_totp_key *key);

/* Appends otpauth://totp/ISSUER:ACCOUNT?secret=B32&issuer=ISSUER&algorithm=A&digits=D&period=P
 * to ret_uri: issuer and account percent-encoded (everything but RFC 3986 unreserved characters,
 * upper-case hex, so a space is %20 and never '+'), the secret in Base32. At most
 * KURA_TOTP_URI_MAX bytes. Pass a KURA_BUF_INIT_SECRET buffer and release it with
 * kura_buf_release_wipe. Errors: those of kura_totp_key_init (the key is checked again),
 * KURA_ETOOBIG (ret_uri's max), -ENOMEM; ret_uri keeps its old content then. */
KURA_MUST_CHECK int kura_totp_uri_build(const struct kura_totp_key *key, struct kura_buf *ret_uri);

/* Parses an otpauth URI, strictly: at most KURA_TOTP_URI_MAX bytes; only characters RFC 3986
 * allows in a path segment (label) or query, raw (so no NUL, space, control or non-ASCII byte, no
 * fragment); "otpauth://totp/" exactly, in lower case; a label "ISSUER:ACCOUNT" or "ACCOUNT"
 * (the colon literal or %3A, no spaces after it); query parameters secret (required), issuer,
 * algorithm (SHA1, SHA256, SHA512), digits (6, 8), period (15..120), each at most once and no
 * others; well-formed percent-escapes; issuer and account as kura_totp_key_init wants them after
 * decoding; an issuer given in the label and in the parameter must be identical, and at least one
 * must be present. Missing algorithm, digits and period take the defaults.
 * Errors: KURA_ETOOBIG (URI, issuer or account too long), KURA_ESYNTAX (anything malformed),
 * KURA_EUNSUPPORTED (another type such as hotp, an unknown algorithm), KURA_ERANGE (digits,
 * period or secret length out of range). ret_key is written only on success; the caller clears
 * it with kura_totp_key_clear. */
KURA_MUST_CHECK int kura_totp_uri_parse(const char *uri, size_t len, struct kura_totp_key *ret_key);

/* Appends an SVG image of the QR code (level M, 8-bit mode, quiet zone of 4 modules) of
 * text[0..len) to ret_svg: <svg viewBox="0 0 W W">, a white background and one black <path> made
 * of unit squares (each horizontal run of dark modules in a row drawn as one rectangle). Pass a
 * KURA_BUF_INIT_SECRET buffer with max KURA_TOTP_SVG_MAX when text is an otpauth URI, and release
 * it with kura_buf_release_wipe. Errors: KURA_ERANGE (len 0 or over KURA_TOTP_URI_MAX),
 * KURA_ESYNTAX (a NUL in text), KURA_ETOOBIG (ret_svg's max), -ENOMEM, KURA_EINTERNAL (libqrencode
 * failed otherwise); ret_svg keeps its old content then. Not thread-safe if libqrencode was built
 * without pthread (Debian's is built with it). */
KURA_MUST_CHECK int kura_totp_qr_svg(const char *text, size_t len, struct kura_buf *ret_svg);

/* ---- recovery codes ----------------------------------------------------------------------- */

#define KURA_RECOVERY_CODES 10u        /* codes per set */
#define KURA_RECOVERY_CODE_LEN 10u     /* symbols per code: 50 bits */
#define KURA_RECOVERY_CODE_STR_MAX 12u /* "ABCDE-FGHJK" and its NUL */
#define KURA_RECOVERY_KEY_BYTES 32u    /* the server key for the stored hashes */
#define KURA_RECOVERY_HASH_BYTES 32u   /* HMAC-SHA-256 */
#define KURA_RECOVERY_INPUT_MAX 64u    /* bytes of typed input looked at; longer is refused */
/* Crockford's Base32 symbols: digits and letters without I, L, O (look-alikes) and U. */
#define KURA_RECOVERY_ALPHABET "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/* Generates KURA_RECOVERY_CODES distinct random codes, written to ret_codes for showing once
 * ("ABCDE-FGHJK", NUL-terminated), and their keyed hashes (kura_recovery_hash) to ret_hashes for
 * storing. Errors: KURA_ECRYPTO (libsodium or OpenSSL failed). The caller wipes ret_codes after
 * showing them. */
KURA_MUST_CHECK int
kura_recovery_generate(const uint8_t key[static KURA_RECOVERY_KEY_BYTES],
                       char ret_codes[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX],
                       uint8_t ret_hashes[KURA_RECOVERY_CODES][KURA_RECOVERY_HASH_BYTES]);

/* HMAC-SHA-256(key, normalised code). Normalising removes hyphens and spaces, folds a-z to upper
 * case and, as Crockford's decoding does, reads O as 0 and I and L as 1; what remains must be
 * exactly KURA_RECOVERY_CODE_LEN symbols of KURA_RECOVERY_ALPHABET.
 * Errors: KURA_ESYNTAX (anything else, or len over KURA_RECOVERY_INPUT_MAX), KURA_ECRYPTO. */
KURA_MUST_CHECK int kura_recovery_hash(const uint8_t key[static KURA_RECOVERY_KEY_BYTES],
                                       const char *code, size_t len,
                                       uint8_t ret_hash[static KURA_RECOVERY_HASH_BYTES]);

/* Checks a typed code against the n stored hashes of the codes not yet used, comparing with every
 * entry in constant time, and sets *ret_index to the matching entry; the caller marks it used.
 * Errors: KURA_EUNAUTH (no entry matches), those of kura_recovery_hash. */
KURA_MUST_CHECK int kura_recovery_check(const uint8_t key[static KURA_RECOVERY_KEY_BYTES],
                                        const char *code, size_t len,
                                        const uint8_t (*hashes)[KURA_RECOVERY_HASH_BYTES], size_t n,
                                        size_t *ret_index);
