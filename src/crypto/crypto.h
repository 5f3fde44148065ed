/* crypto — kura's key material: Crypt4GH key files, Ed25519 signing keys, the self-signed TLS
 * certificate, and the keyring kept in the data folder's keys/ directory.
 *
 * Purpose: create, write, read and check every long-lived key kura holds. The file-encryption
 * format itself (Crypt4GH headers and segments) is not here yet; this area hands it the keys.
 *
 * Specifications:
 *  - GA4GH Crypt4GH v1, key format "c4gh-v1" (crypt4gh.readthedocs.io, "Keys"; checked against
 *    the EGA Python and NeIC Go implementations). Unlike the Crypt4GH *file* format, whose
 *    integers are little-endian, key-file string lengths are 2-byte and KDF rounds 4-byte
 *    big-endian. Layout: "c4gh-v1" | string kdfname | [string rounds||salt, when kdfname is not
 *    "none"] | string ciphername | string key-or-(nonce||ciphertext||tag) | [string comment].
 *  - RFC 7748 (X25519), RFC 8032 (Ed25519), RFC 7914 (scrypt, N=2^14 r=8 p=1 as the reference
 *    implementations use; the rounds field is ignored for scrypt), RFC 8439 (ChaCha20-Poly1305,
 *    IETF 12-byte nonce, no associated data).
 *  - RFC 7468 (PEM armour), RFC 5958 + RFC 8410 §7 (Ed25519 PKCS#8 private key, the fixed
 *    prefix 302e020100300506032b657004220420 + 32-byte seed) and RFC 8410 §4
 *    (SubjectPublicKeyInfo, 302a300506032b6570032100 + 32-byte key), so that `openssl pkey`
 *    reads kura's files.
 *  - RFC 5280 (the TLS certificate): ECDSA P-256, SHA-256, 16-byte random positive serial,
 *    CN = first DNS name, SubjectAltName DNS names and IP addresses, keyUsage
 *    digitalSignature, extKeyUsage serverAuth, basicConstraints CA:FALSE, 397 days by default
 *    (the CA/Browser Forum's ceiling for public certificates).
 *
 * Invariants:
 *  - No primitive is written here: libsodium does X25519, Ed25519, scrypt, ChaCha20-Poly1305 and
 *    base64; GnuTLS does ECDSA and X.509.
 *  - Long-lived secret keys (struct kura_sign_key, struct kura_keyring and the TLS key text in
 *    it) live in sodium_malloc memory, read-only once loaded, wiped when freed. Keys handed out
 *    in caller arrays (uint8_t[32]) are the caller's to wipe (sodium_memzero).
 *  - Every intermediate secret (derived keys, decoded blobs, armoured text of secret keys) is
 *    wiped on every exit path.
 *  - Parsers work on (ptr, len) with a cursor; every length read from a file is checked against
 *    what remains before it is used, and the whole input is capped before anything is decoded.
 *  - Secret files are written atomically with mode 0600, public files with 0644.
 *
 * Limits: KURA_C4GH_KEY_FILE_MAX bytes of key-file text, KURA_C4GH_PASSPHRASE_MAX bytes of
 * passphrase, KURA_C4GH_SALT_MAX bytes of KDF salt, KURA_TLS_NAMES_MAX names per certificate,
 * KURA_TLS_DAYS_MAX days of validity, KURA_TLS_FILE_MAX bytes per TLS PEM file.
 *
 * Errors: 0 / -errno / KURA_E*. KURA_ESYNTAX: malformed input; KURA_EUNSUPPORTED: well-formed but
 * an algorithm kura does not implement (bcrypt, pbkdf2_hmac_sha256, other ciphers, other PEM
 * labels); KURA_ECRYPTO: wrong passphrase, damaged ciphertext or bad signature — one generic
 * error, never more detail; KURA_ETOOBIG: over a limit; KURA_EKEYMODE: a secret file readable by
 * others or not ours. Functions taking `struct kura_buf *reterr_why` (may be NULL) append a
 * one-line, lower-case explanation there on failure only, e.g. "unsupported KDF 'bcrypt'";
 * these messages never contain key material or passphrases.
 *
 * Security assumptions: the keys/ directory is mode 0700 and owned by the user running kura, so
 * nobody else can replace files in it between a check and a read (reads also re-check the open
 * descriptor). A passphrase-protected c4gh.sec protects the file-encryption key at rest only;
 * once loaded, keys are as safe as the process memory (core dumps are disabled by the caller).
 * sodium_malloc'd pages are mlock'ed when RLIMIT_MEMLOCK allows. Scrypt parameters are fixed, not
 * read from the file, so a hostile key file cannot make kura allocate more than 16 MiB for the
 * KDF. This area never logs.
 *
 * Thread safety: after kura_crypto_init, every function is safe to call from several threads on
 * different objects; a loaded keyring may be read from any thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- initialisation ----------------------------------------------------------------------- */

/* Initialises libsodium (sodium_init). Call once at start, before any other function here.
 * Idempotent. Errors: KURA_EINTERNAL when libsodium cannot initialise. */
KURA_MUST_CHECK int kura_crypto_init(void);

/* ---- Crypt4GH keys (X25519) ---------------------------------------------------------------- */

#define KURA_C4GH_KEY_BYTES 32
/* Largest key file accepted, armour included. */
#define KURA_C4GH_KEY_FILE_MAX 16384
#define KURA_C4GH_PASSPHRASE_MAX 1024
#define KURA_C4GH_SALT_MAX 64

/* Generates an X25519 key pair. The caller wipes ret_sk after use. Errors: KURA_EINTERNAL. */
KURA_MUST_CHECK int kura_c4gh_keygen(uint8_t ret_pk[KURA_C4GH_KEY_BYTES],
                                     uint8_t ret_sk[KURA_C4GH_KEY_BYTES]);

/* Computes the public key of an X25519 secret key (crypto_scalarmult_base). */
KURA_MUST_CHECK int kura_c4gh_public_from_secret(const uint8_t sk[KURA_C4GH_KEY_BYTES],
                                                 uint8_t ret_pk[KURA_C4GH_KEY_BYTES]);

/* Armours sk as a c4gh-v1 private key and appends the text to ret_text. With passphrase NULL the
 * key is stored in clear (kdf and cipher "none", label CRYPT4GH PRIVATE KEY); otherwise it is
 * encrypted with ChaCha20-Poly1305 under scrypt(passphrase, 16-byte random salt) (label CRYPT4GH
 * ENCRYPTED PRIVATE KEY). Pass an empty ret_text and release it with kura_buf_release_wipe.
 * Errors: -EINVAL (empty passphrase: pass NULL for an unencrypted key), KURA_ETOOBIG (passphrase
 * longer than KURA_C4GH_PASSPHRASE_MAX, or ret_text full), -ENOMEM. */
KURA_MUST_CHECK int kura_c4gh_format_private_key(const uint8_t sk[KURA_C4GH_KEY_BYTES],
                                                 const char *passphrase, struct kura_buf *ret_text);

/* Appends "-----BEGIN CRYPT4GH PUBLIC KEY-----\n<base64>\n-----END CRYPT4GH PUBLIC KEY-----\n".
 * Errors: KURA_ETOOBIG, -ENOMEM. */
KURA_MUST_CHECK int kura_c4gh_format_public_key(const uint8_t pk[KURA_C4GH_KEY_BYTES],
                                                struct kura_buf *ret_text);

/* Parses a c4gh-v1 private key. Armour labels accepted: CRYPT4GH PRIVATE KEY, CRYPT4GH ENCRYPTED
 * PRIVATE KEY, ENCRYPTED PRIVATE KEY. KDFs: "none" and "scrypt"; cipher "chacha20_poly1305". A
 * trailing comment is allowed and ignored. passphrase may be NULL for an unencrypted key (it is
 * ignored then). Errors: KURA_ETOOBIG (text over KURA_C4GH_KEY_FILE_MAX, passphrase over
 * KURA_C4GH_PASSPHRASE_MAX), KURA_ESYNTAX (bad armour, base64 or structure), KURA_EUNSUPPORTED
 * (bcrypt, pbkdf2_hmac_sha256, any other KDF or cipher: reterr_why says which), KURA_ECRYPTO
 * (wrong passphrase or damaged key, or passphrase NULL for an encrypted key), -ENOMEM. */
KURA_MUST_CHECK int kura_c4gh_parse_private_key(const char *text, size_t len,
                                                const char *passphrase,
                                                uint8_t ret_sk[KURA_C4GH_KEY_BYTES],
                                                struct kura_buf *reterr_why);

/* Tells, without a passphrase and without running the KDF, whether the private key in text is
 * encrypted (so that a caller knows whether to ask for a passphrase). Errors as for
 * kura_c4gh_parse_private_key, except KURA_ECRYPTO. */
KURA_MUST_CHECK int kura_c4gh_private_key_is_encrypted(const char *text, size_t len,
                                                       bool *ret_encrypted,
                                                       struct kura_buf *reterr_why);

/* Parses a Crypt4GH public key: label CRYPT4GH PUBLIC KEY, base64 of exactly 32 bytes (the form
 * every Crypt4GH implementation writes), or label PUBLIC KEY holding exactly the 44-byte X25519
 * SubjectPublicKeyInfo (RFC 8410; OpenSSL's and the NeIC Go tool's other form). OpenSSH and
 * Ed25519 keys, which some tools convert to X25519, are refused. Errors: KURA_ETOOBIG,
 * KURA_ESYNTAX, KURA_EUNSUPPORTED (another PEM label or algorithm), -ENOMEM. */
KURA_MUST_CHECK int kura_c4gh_parse_public_key(const char *text, size_t len,
                                               uint8_t ret_pk[KURA_C4GH_KEY_BYTES],
                                               struct kura_buf *reterr_why);

/* Writes dirfd/name atomically, mode 0600, as kura_c4gh_format_private_key formats it. Errors:
 * those of kura_c4gh_format_private_key and kura_file_write_atomic. */
KURA_MUST_CHECK int kura_c4gh_write_private_key(int dirfd, const char *name,
                                                const uint8_t sk[KURA_C4GH_KEY_BYTES],
                                                const char *passphrase);

/* Writes dirfd/name atomically, mode 0644. */
KURA_MUST_CHECK int kura_c4gh_write_public_key(int dirfd, const char *name,
                                               const uint8_t pk[KURA_C4GH_KEY_BYTES]);

/* Reads and parses dirfd/name (a regular file, symlinks not followed). Errors: -errno, -EINVAL
 * (not a regular file), and those of kura_c4gh_parse_private_key. The file's mode is not judged
 * here; the keyring does that for its own files. */
KURA_MUST_CHECK int kura_c4gh_read_private_key(int dirfd, const char *name, const char *passphrase,
                                               uint8_t ret_sk[KURA_C4GH_KEY_BYTES],
                                               struct kura_buf *reterr_why);

KURA_MUST_CHECK int kura_c4gh_read_public_key(int dirfd, const char *name,
                                              uint8_t ret_pk[KURA_C4GH_KEY_BYTES],
                                              struct kura_buf *reterr_why);

/* ---- Ed25519 signing keys ------------------------------------------------------------------ */

#define KURA_SIGN_PUBLIC_KEY_BYTES 32
#define KURA_SIGN_BYTES 64
/* Largest PEM file accepted for an Ed25519 key. */
#define KURA_SIGN_KEY_FILE_MAX 4096

/* An Ed25519 secret key (with its public key), in read-only sodium_malloc memory. Opaque. */
struct kura_sign_key;

/* Generates a key. Free it with kura_sign_key_free. Errors: -ENOMEM. */
KURA_MUST_CHECK int kura_sign_key_generate(struct kura_sign_key **ret);

/* Parses a PKCS#8 PEM Ed25519 private key ("-----BEGIN PRIVATE KEY-----"): exactly the 48-byte
 * RFC 8410 encoding (fixed prefix, then the 32-byte seed); anything else (another algorithm,
 * attributes, an embedded public key, an encrypted key) is refused. Free with
 * kura_sign_key_free. Errors: KURA_ETOOBIG, KURA_ESYNTAX, KURA_EUNSUPPORTED, -ENOMEM. */
KURA_MUST_CHECK int kura_sign_key_parse(const char *text, size_t len, struct kura_sign_key **ret,
                                        struct kura_buf *reterr_why);

/* Reads and parses dirfd/name. Errors: -errno, -EINVAL, and those of kura_sign_key_parse. */
KURA_MUST_CHECK int kura_sign_key_read(int dirfd, const char *name, struct kura_sign_key **ret,
                                       struct kura_buf *reterr_why);

/* Writes the private key to dirfd/key_name (PKCS#8 PEM, mode 0600) and, unless pub_name is
 * NULL, the public key to dirfd/pub_name (SPKI PEM, mode 0644). Errors: -errno. */
KURA_MUST_CHECK int kura_sign_key_write(const struct kura_sign_key *key, int dirfd,
                                        const char *key_name, const char *pub_name);

/* The key's 32-byte public key; valid as long as key. */
const uint8_t *kura_sign_key_public(const struct kura_sign_key *key);

/* Wipes and frees; accepts NULL; returns NULL. */
struct kura_sign_key *kura_sign_key_free(struct kura_sign_key *key);
void kura_sign_key_freep(struct kura_sign_key **key);

/* Detached Ed25519 signature of msg. Errors: KURA_EINTERNAL. */
KURA_MUST_CHECK int kura_sign_message(const struct kura_sign_key *key, const void *msg, size_t len,
                                      uint8_t ret_sig[KURA_SIGN_BYTES]);

/* 0 when sig is pk's valid signature of msg, else KURA_ECRYPTO (no other detail). */
KURA_MUST_CHECK int kura_sign_verify(const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES], const void *msg,
                                     size_t len, const uint8_t sig[KURA_SIGN_BYTES]);

/* Parses an SPKI PEM Ed25519 public key ("-----BEGIN PUBLIC KEY-----"), exactly the 44-byte
 * RFC 8410 encoding. Errors: KURA_ETOOBIG, KURA_ESYNTAX, KURA_EUNSUPPORTED, -ENOMEM. */
KURA_MUST_CHECK int kura_sign_public_key_parse(const char *text, size_t len,
                                               uint8_t ret_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                               struct kura_buf *reterr_why);

KURA_MUST_CHECK int kura_sign_public_key_read(int dirfd, const char *name,
                                              uint8_t ret_pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                              struct kura_buf *reterr_why);

/* Appends the SPKI PEM text of pk to ret_text. Errors: KURA_ETOOBIG, -ENOMEM. */
KURA_MUST_CHECK int kura_sign_public_key_format(const uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES],
                                                struct kura_buf *ret_text);

/* ---- self-signed TLS certificate (GnuTLS) -------------------------------------------------- */

#define KURA_TLS_DAYS_DEFAULT 397
#define KURA_TLS_DAYS_MAX 3650
/* DNS names plus IP addresses in one certificate. */
#define KURA_TLS_NAMES_MAX 64
/* A DNS name (RFC 1035: 253 characters, labels of at most 63). */
#define KURA_TLS_DNS_NAME_MAX 253
/* Largest tls.crt / tls.key the keyring reads. */
#define KURA_TLS_FILE_MAX 65536

struct kura_tls_cert_opts {
    const char *const *dns_names; /* letters, digits, '-', '.'; the first becomes the CN */
    size_t n_dns_names;
    const char *const *ips; /* textual IPv4 or IPv6 addresses */
    size_t n_ips;
    unsigned days; /* validity; 0 means KURA_TLS_DAYS_DEFAULT */
};

/* Generates an ECDSA P-256 key and a self-signed certificate for the given names (at least one
 * DNS name or IP address; CN is the first DNS name, else the first IP address), valid from five
 * minutes ago for opts->days days. Writes the certificate to dirfd/cert_name (PEM, 0644) and
 * the key to dirfd/key_name (PKCS#8 PEM, 0600). Errors: KURA_ECONFIG (no name, invalid name or
 * address: reterr_why quotes it), KURA_ERANGE (days over KURA_TLS_DAYS_MAX), KURA_ETOOBIG (too
 * many names), KURA_EINTERNAL (GnuTLS failed: reterr_why has its message), -ENOMEM, -errno. */
KURA_MUST_CHECK int kura_tls_selfsigned_write(int dirfd, const char *cert_name,
                                              const char *key_name,
                                              const struct kura_tls_cert_opts *opts,
                                              struct kura_buf *reterr_why);

/* ---- SHA-256 (OpenSSL EVP) ---------------------------------------------------------------- */

#define KURA_SHA256_BYTES 32

/* SHA-256 of data. 0, or -ENOMEM / KURA_ECRYPTO when OpenSSL fails. Thread-safe (one context
 * per thread, reused). */
KURA_MUST_CHECK int kura_sha256(uint8_t out[KURA_SHA256_BYTES], const void *data, size_t len);
/* SHA-256 of the concatenation of parts (e.g. a prefix byte and a record). */
KURA_MUST_CHECK int kura_sha256_parts(uint8_t out[KURA_SHA256_BYTES], const struct kura_str *parts,
                                      size_t n);
/* Frees the calling thread's hashing context (call before a thread that hashed exits). */
void kura_sha256_thread_done(void);

/* ---- the keyring: the data folder's keys/ directory ---------------------------------------- */

/* Files in keys/. Secret ones must be regular files owned by the euid with no group or other
 * permission bits; public ones regular files owned by the euid, writable by nobody else. */
#define KURA_KEYRING_C4GH_SEC "c4gh.sec"   /* secret: X25519, file encryption */
#define KURA_KEYRING_C4GH_PUB "c4gh.pub"   /* public */
#define KURA_KEYRING_SIGN_KEY "sign.key"   /* secret: Ed25519, certificates kura issues */
#define KURA_KEYRING_SIGN_PUB "sign.pub"   /* public */
#define KURA_KEYRING_AUDIT_KEY "audit.key" /* secret: Ed25519, audit checkpoints only */
#define KURA_KEYRING_AUDIT_PUB "audit.pub" /* public */
#define KURA_KEYRING_TLS_CRT "tls.crt"     /* public: self-signed certificate */
#define KURA_KEYRING_TLS_KEY "tls.key"     /* secret: its ECDSA key */
#define KURA_KEYRING_PEPPER "pepper"       /* secret: 32 random bytes, base64, password hashing */

#define KURA_KEYRING_PEPPER_BYTES 32

struct kura_keyring_create_opts {
    const char *passphrase; /* protects c4gh.sec; NULL stores it unencrypted */
    const char *const *tls_dns_names;
    size_t n_tls_dns_names;
    const char *const *tls_ips;
    size_t n_tls_ips;
    unsigned tls_days; /* 0: KURA_TLS_DAYS_DEFAULT */
};

/* Generates and writes every key into keys_dirfd (which the caller created with mode 0700).
 * Refuses to overwrite: if any keyring file already exists nothing is written (KURA_EEXIST).
 * On failure the files this call wrote are removed again. The caller serialises calls (it holds
 * the data-folder lock). Errors: KURA_EEXIST, KURA_EKEYMODE (keys directory open to group or
 * others), those of kura_tls_selfsigned_write, -errno, -ENOMEM. */
KURA_MUST_CHECK int kura_keyring_create(int keys_dirfd, const struct kura_keyring_create_opts *opts,
                                        struct kura_buf *reterr_why);

/* Checks the keys directory and every keyring file, stopping at the first problem, which it
 * appends to reterr_problem, e.g. "keys/c4gh.sec: mode 0640 allows group or others; chmod 600".
 * Errors: KURA_EKEYMODE (directory or secret file accessible by group or others, a file that is
 * a symlink, not regular, or not owned by the euid, a public file writable by group or others),
 * -ENOENT (a file is missing), -errno. */
KURA_MUST_CHECK int kura_keyring_check(int keys_dirfd, struct kura_buf *reterr_problem);

/* Every key, loaded and cross-checked, in read-only sodium_malloc memory. Opaque. */
struct kura_keyring;

/* Runs kura_keyring_check, then loads every key (c4gh.sec decrypted with passphrase, which may
 * be NULL for an unencrypted one), checks that each public file matches its secret and that
 * tls.key matches tls.crt. Free with kura_keyring_free. Errors: those of kura_keyring_check and
 * kura_c4gh_parse_private_key, KURA_ECORRUPT (a public file does not match its secret, a damaged
 * pepper or TLS file), -ENOMEM; reterr_why says which file. */
KURA_MUST_CHECK int kura_keyring_load(int keys_dirfd, const char *passphrase,
                                      struct kura_keyring **ret, struct kura_buf *reterr_why);

/* Wipes and frees; accepts NULL; returns NULL. */
struct kura_keyring *kura_keyring_free(struct kura_keyring *kr);
void kura_keyring_freep(struct kura_keyring **kr);

/* Accessors. The memory belongs to the keyring, is read-only, and lives until kura_keyring_free.
 * Never copy a secret out of it for longer than one operation. */
const uint8_t *kura_keyring_c4gh_public_key(const struct kura_keyring *kr); /* 32 bytes */
const uint8_t *kura_keyring_c4gh_secret_key(const struct kura_keyring *kr); /* 32 bytes */
const struct kura_sign_key *kura_keyring_sign_key(const struct kura_keyring *kr);
const struct kura_sign_key *kura_keyring_audit_key(const struct kura_keyring *kr);
const uint8_t *kura_keyring_pepper(const struct kura_keyring *kr); /* 32 bytes */
/* NUL-terminated PEM text; *ret_len (if not NULL) gets its length. The key text is in
 * sodium_malloc memory. */
const char *kura_keyring_tls_cert_pem(const struct kura_keyring *kr, size_t *ret_len);
const char *kura_keyring_tls_key_pem(const struct kura_keyring *kr, size_t *ret_len);

/* ---- Crypt4GH v1 files: headers and segment streams (c4gh.c, c4gh-stream.c) ---------------- */

/* Design note. kura stores every file version as a GA4GH Crypt4GH v1 stream
 * (crypt4gh.readthedocs.io, "Encryption format"), split in two: the header (124 bytes for one
 * recipient) lives in the metadata store, the segments in the blob store as one immutable object.
 * A standard .c4gh file is header || segments, byte for byte.
 *
 * Format (integers little-endian, unlike the key files):
 *   header  = "crypt4gh" | u32 version = 1 | u32 packet count | packets
 *   packet  = u32 length (itself included) | u32 method = 0 (X25519-ChaCha20-Poly1305)
 *             | writer pk(32) | nonce(12) | ChaCha20-Poly1305(payload) | tag(16)
 *   payload = u32 type 0 (data encryption parameters) | u32 method 0 (chacha20_ietf_poly1305)
 *             | data key(32)     — the only packet kura writes or accepts;
 *             u32 type 1 (data edit list) is refused (KURA_EUNSUPPORTED), others are errors.
 *   The packet key is BLAKE2b-512(X25519(sk, peer pk) || reader pk || writer pk)[0..32] on
 *   both sides (libsodium crypto_kx: the reader is the "client", the writer the "server").
 *   segment = nonce(12) | ChaCha20-Poly1305-IETF(<= 65536 plaintext bytes, no AD) | tag(16);
 *   every segment but the last holds exactly 65536 bytes; an empty file has no segment.
 *
 * Position binding (kura's choice, invisible to standard readers): Crypt4GH v1 does not bind a
 * segment to its position, so segments could be dropped, repeated or reordered undetected.
 * kura's nonces are a 4-byte random per-file prefix || u64 LE segment index; the reader, given
 * the summary kept in metadata, checks every nonce, the segment count, the size and (reading
 * the whole file) the plaintext SHA-256. Nonces stay unique because every stream has its own
 * fresh data key: never give the writer a data key used before.
 *
 * Limits: headers of at most KURA_C4GH_HEADER_MAX bytes and KURA_C4GH_PACKETS_MAX packets (each
 * foreign packet costs one X25519, so a hostile header costs at most that many); packets of at
 * least the smallest X25519 packet and at most the header's size.
 *
 * Errors: KURA_ESYNTAX malformed or truncated header; KURA_EUNSUPPORTED well-formed but not
 * kura's subset (version, edit list, data cipher, several different data keys); KURA_ECRYPTO no
 * packet opens with the key, a segment fails authentication, or a low-order public key;
 * KURA_ECORRUPT a segment stream inconsistent with its summary or with itself (misplaced,
 * missing, extra or truncated segments, wrong size or checksum); KURA_ETOOBIG over a limit.
 * No plaintext of a segment that failed is ever handed out. Data keys are the caller's to wipe.
 */

#define KURA_C4GH_DATA_KEY_BYTES 32
#define KURA_C4GH_SEGMENT_BYTES 65536 /* plaintext bytes of a full segment */
#define KURA_C4GH_SEGMENT_NONCE_BYTES 12
#define KURA_C4GH_SEGMENT_TAG_BYTES 16
#define KURA_C4GH_SEGMENT_OVERHEAD (KURA_C4GH_SEGMENT_NONCE_BYTES + KURA_C4GH_SEGMENT_TAG_BYTES)
#define KURA_C4GH_CIPHER_SEGMENT_BYTES (KURA_C4GH_SEGMENT_BYTES + KURA_C4GH_SEGMENT_OVERHEAD)
#define KURA_C4GH_NONCE_PREFIX_BYTES 4
/* A header with one data-key packet: 16 + 108 bytes. */
#define KURA_C4GH_HEADER_ONE_BYTES 124
#define KURA_C4GH_HEADER_MAX 65536
#define KURA_C4GH_PACKETS_MAX 64

/* Builds a header with one data-key packet (method chacha20_ietf_poly1305, data_key) for
 * recipient_pk, encrypted with writer_sk (the server's key) or, when writer_sk is NULL, with a
 * fresh ephemeral key wiped straight after. Errors: KURA_ECRYPTO (recipient_pk is a low-order
 * point), -errno (randomness). */
KURA_MUST_CHECK int kura_c4gh_header_build(const uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES],
                                           const uint8_t recipient_pk[KURA_C4GH_KEY_BYTES],
                                           const uint8_t *writer_sk,
                                           uint8_t ret_header[KURA_C4GH_HEADER_ONE_BYTES]);

/* Opens the header at the start of buf (which may go on with segments: pass the whole header,
 * i.e. the first KURA_C4GH_HEADER_MAX bytes of a file, or all of it when shorter) with reader_sk.
 * Packets that do not decrypt with the key are skipped, as the format says. On success
 * *ret_data_key gets the data key (wipe it) and *ret_header_len the header's length. Errors:
 * KURA_ESYNTAX (bad magic, truncated header or packet, malformed payload), KURA_EUNSUPPORTED
 * (version, edit list, data cipher, several data keys), KURA_ECRYPTO (no packet for this key),
 * KURA_ETOOBIG (header or packet count over the limits); reterr_why (may be NULL) says which. */
KURA_MUST_CHECK int kura_c4gh_header_open(const void *buf, size_t len,
                                          const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                                          uint8_t ret_data_key[KURA_C4GH_DATA_KEY_BYTES],
                                          size_t *ret_header_len, struct kura_buf *reterr_why);

/* As kura_c4gh_header_open, for a caller that keeps the reader's public key beside its secret
 * one (reader_pk must be the public key of reader_sk): one X25519 per opening instead of two. */
KURA_MUST_CHECK int kura_c4gh_header_open_with(const void *buf, size_t len,
                                               const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                                               const uint8_t reader_pk[KURA_C4GH_KEY_BYTES],
                                               uint8_t ret_data_key[KURA_C4GH_DATA_KEY_BYTES],
                                               size_t *ret_header_len, struct kura_buf *reterr_why);

/* Key rotation and export: opens header (exactly one header, nothing after it) with reader_sk and
 * builds a new one-packet header with the same data key for recipient_pk, written with writer_sk
 * or an ephemeral key (NULL). The segments stay valid unchanged. The data key never leaves this
 * function. Errors: those of kura_c4gh_header_open and kura_c4gh_header_build; KURA_ESYNTAX
 * when bytes follow the header. */
KURA_MUST_CHECK int kura_c4gh_header_reencrypt(const void *header, size_t len,
                                               const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                                               const uint8_t recipient_pk[KURA_C4GH_KEY_BYTES],
                                               const uint8_t *writer_sk,
                                               uint8_t ret_header[KURA_C4GH_HEADER_ONE_BYTES],
                                               struct kura_buf *reterr_why);

/* What the writer learnt about a stream; kept in metadata, handed back to the reader. */
struct kura_c4gh_summary {
    uint64_t size;                                      /* plaintext bytes */
    uint64_t segments;                                  /* cipher segments */
    uint8_t sha256[KURA_SHA256_BYTES];                  /* of the plaintext */
    uint8_t nonce_prefix[KURA_C4GH_NONCE_PREFIX_BYTES]; /* of every segment's nonce */
};

/* Segments needed for size plaintext bytes. */
static inline uint64_t kura_c4gh_segment_count(uint64_t size)
{
    return size / KURA_C4GH_SEGMENT_BYTES + (size % KURA_C4GH_SEGMENT_BYTES != 0);
}

/* Bytes of the segments of a size-byte plaintext. Errors: KURA_EOVERFLOW. */
KURA_MUST_CHECK int kura_c4gh_cipher_size(uint64_t size, uint64_t *ret);
/* Plaintext bytes of cipher_len bytes of segments. Errors: KURA_ECORRUPT (a length no stream
 * has: a last segment of KURA_C4GH_SEGMENT_OVERHEAD bytes or fewer). */
KURA_MUST_CHECK int kura_c4gh_plain_size(uint64_t cipher_len, uint64_t *ret);

/* A plaintext byte range mapped onto the segments (HTTP Range). */
struct kura_c4gh_range {
    uint64_t first_segment; /* index of the first segment to read */
    uint64_t n_segments;    /* segments to read */
    uint64_t cipher_offset; /* where the first one starts, from the start of the segments */
    uint64_t cipher_len;    /* bytes of those segments */
    uint64_t skip;          /* plaintext bytes of the first segment before the range */
    uint64_t len;           /* plaintext bytes of the range */
};

/* Maps [offset, offset + len) of a size-byte plaintext. Errors: KURA_ERANGENS when len is 0 or
 * the range does not lie within the plaintext (the caller clamps open-ended ranges first). */
KURA_MUST_CHECK int kura_c4gh_range_map(uint64_t size, uint64_t offset, uint64_t len,
                                        struct kura_c4gh_range *ret);

/* Output callback of the writer (cipher segments) and the reader (plaintext): 0, or a negative
 * code that stops the stream and is returned by the call that fed it. data is valid for the
 * call only (the reader's plaintext buffer is wiped when the reader is freed). */
typedef int (*kura_c4gh_out_fn)(void *ctx, const uint8_t *data, size_t len);

/* Streaming encryption: plaintext in arbitrary chunks, whole cipher segments out (one out call
 * per segment, KURA_C4GH_CIPHER_SEGMENT_BYTES each but the last), the plaintext's SHA-256, size
 * and segment count computed on the way. Errors are sticky: after a failure every call returns
 * the first error. Opaque; free with kura_c4gh_writer_free. */
struct kura_c4gh_writer;

/* data_key must be fresh (kura_random), never used for another stream. Errors: -ENOMEM,
 * KURA_ECRYPTO (OpenSSL), -errno (randomness). */
KURA_MUST_CHECK int kura_c4gh_writer_new(const uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES],
                                         kura_c4gh_out_fn out, void *ctx,
                                         struct kura_c4gh_writer **ret);
/* Errors: those of out, KURA_ECRYPTO, KURA_EOVERFLOW, -EINVAL after finish. */
KURA_MUST_CHECK int kura_c4gh_writer_write(struct kura_c4gh_writer *w, const void *data,
                                           size_t len);
/* Emits the last, partial segment and returns the summary (nothing is emitted for an empty
 * file). Errors: as kura_c4gh_writer_write. */
KURA_MUST_CHECK int kura_c4gh_writer_finish(struct kura_c4gh_writer *w,
                                            struct kura_c4gh_summary *ret_summary);
/* Wipes and frees; accepts NULL; returns NULL. */
struct kura_c4gh_writer *kura_c4gh_writer_free(struct kura_c4gh_writer *w);
void kura_c4gh_writer_freep(struct kura_c4gh_writer **w);

struct kura_c4gh_reader_opts {
    /* kura's summary of the stream: checks every nonce's position, the segment lengths and count
     * and, when the whole file is read, size and SHA-256. NULL only for foreign standard files,
     * which are checked by their AEAD tags alone (Crypt4GH v1 cannot tell a file cut at a
     * segment boundary from a shorter one). */
    const struct kura_c4gh_summary *expect;
    /* From kura_c4gh_range_map: the caller feeds exactly range->cipher_len bytes starting at
     * segment range->first_segment, and gets plaintext bytes [skip, skip + len) of them. NULL:
     * the whole stream from segment 0. */
    const struct kura_c4gh_range *range;
};

/* Streaming decryption: cipher bytes in arbitrary chunks, plaintext out, one segment at a time
 * and only after its tag verified. Errors are sticky. Opaque; free with kura_c4gh_reader_free. */
struct kura_c4gh_reader;

/* opts may be NULL (a foreign file, whole). Errors: -ENOMEM, KURA_ECRYPTO (OpenSSL),
 * KURA_ECORRUPT (expect is self-contradictory), -EINVAL (range outside expect). */
KURA_MUST_CHECK int kura_c4gh_reader_new(const uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES],
                                         const struct kura_c4gh_reader_opts *opts,
                                         kura_c4gh_out_fn out, void *ctx,
                                         struct kura_c4gh_reader **ret);
/* Errors: KURA_ECRYPTO (a segment failed authentication: wrong key or damaged), KURA_ECORRUPT
 * (misplaced segment, more bytes than expected, empty segment), those of out. */
KURA_MUST_CHECK int kura_c4gh_reader_feed(struct kura_c4gh_reader *r, const void *data, size_t len);
/* Ends the stream: decrypts a final partial segment and runs the end checks. Errors: as
 * kura_c4gh_reader_feed; KURA_ECORRUPT when segments are missing or size or SHA-256 differ. */
KURA_MUST_CHECK int kura_c4gh_reader_finish(struct kura_c4gh_reader *r);
/* Wipes and frees; accepts NULL; returns NULL. */
struct kura_c4gh_reader *kura_c4gh_reader_free(struct kura_c4gh_reader *r);
void kura_c4gh_reader_freep(struct kura_c4gh_reader **r);

/* Whole standard .c4gh files (`kura export`, tests). kura_c4gh_encrypt_fd reads plaintext from
 * in_fd to its end and writes header || segments to out_fd, for recipient_pk, with a fresh
 * data key and writer_sk or an ephemeral key (NULL); ret_summary (may be NULL) gets the summary.
 * kura_c4gh_decrypt_fd reads a .c4gh from in_fd (header from the file; as a foreign file, see
 * kura_c4gh_reader_opts) and writes the plaintext to out_fd as it is verified, segment by
 * segment: on failure out_fd holds a prefix, so write to a temporary file. Errors: -errno,
 * those of the header and stream functions. */
KURA_MUST_CHECK int kura_c4gh_encrypt_fd(int in_fd, int out_fd,
                                         const uint8_t recipient_pk[KURA_C4GH_KEY_BYTES],
                                         const uint8_t *writer_sk,
                                         struct kura_c4gh_summary *ret_summary);
KURA_MUST_CHECK int kura_c4gh_decrypt_fd(int in_fd, int out_fd,
                                         const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                                         struct kura_buf *reterr_why);

/* ---- incremental SHA-256 (hash.c) ---------------------------------------------------------- */

/* For data that streams (file contents). Errors are sticky. */
struct kura_sha256_ctx;

/* Errors: -ENOMEM, KURA_ECRYPTO. Free with kura_sha256_ctx_free. */
KURA_MUST_CHECK int kura_sha256_ctx_new(struct kura_sha256_ctx **ret);
/* Errors: KURA_ECRYPTO, -EINVAL after final. */
KURA_MUST_CHECK int kura_sha256_ctx_update(struct kura_sha256_ctx *c, const void *data, size_t len);
/* Ends the hash (once). Errors: as update. */
KURA_MUST_CHECK int kura_sha256_ctx_final(struct kura_sha256_ctx *c,
                                          uint8_t out[KURA_SHA256_BYTES]);
/* Accepts NULL; returns NULL. */
struct kura_sha256_ctx *kura_sha256_ctx_free(struct kura_sha256_ctx *c);
void kura_sha256_ctx_freep(struct kura_sha256_ctx **c);
