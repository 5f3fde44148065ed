/* auth — who may log in, and how a password is checked (minimal first part).
 *
 * Purpose: login-ID rules, password hashing and verification (Argon2id with a server-side
 * pepper), one-time passwords, and creating the first administrator. Later: password policy
 * profiles, lockout, sessions, MFA, app passwords, client certificates, elevation.
 *
 * Password storage (why it looks like this):
 *  - The stored string is libsodium's encoded Argon2id ("$argon2id$v=19$m=M,t=T,p=1$salt$hash"):
 *    memory-hard, salted per password, and self-describing, so the cost can be raised later and
 *    old hashes upgraded at the next successful login (kura_password_verify's needs_rehash).
 *  - Argon2id never sees the password itself: it hashes HMAC-SHA-512-256(pepper, password), a
 *    32-byte MAC keyed with the pepper, a 32-byte secret kept in the data folder's keys/pepper
 *    (mode 0600) and never in the database. A stolen database (backup, SQL-level leak) alone
 *    therefore cannot be brute-forced offline: every guess needs the pepper. With the pepper
 *    too, the attacker is back to Argon2id's full cost per guess. The MAC also gives Argon2id a
 *    fixed-length input whatever the password's length or bytes.
 *  - Losing or changing the pepper invalidates every password (there is no pepper version in
 *    the stored string yet; rotation would need one).
 *
 * Invariants and limits:
 *  - Passwords are byte strings of 1..KURA_PASSWORD_MAX bytes (longer → KURA_ERANGE, so a
 *    megabyte "password" cannot be used to burn CPU in HMAC); any bytes, including NUL, are
 *    allowed: policy (length, dictionary, UTF-8 normalisation) belongs to the caller.
 *  - Verification of an unknown account must cost what a real one costs: call
 *    kura_password_dummy_verify with the same parameters, so response time does not reveal
 *    whether a login ID exists.
 *  - Intermediate secrets (the MAC, generated passwords) are wiped with sodium_memzero on every
 *    path. Nothing here logs; passwords and hashes never reach logs or error strings.
 *  - Argon2id is slow on purpose (default: 64 MiB, 2 passes, about 0.1 s per call): in the
 *    server, call these functions from the work queue, never on the event loop.
 *
 * Security assumptions: the caller loads the pepper into sodium_malloc'ed memory and passes it
 * in; the data folder is 0700; the first administrator's one-time password is shown once to the
 * operator on the terminal and must be changed at first login (must_change_password).
 *
 * Not done yet: audit events for these operations (the audit area does not exist yet); lockout
 * and rate limits (a caller's job until auth grows them).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "meta/meta.h"
#include "auth/totp.h"

/* ---- login IDs ---------------------------------------------------------------------------- */

/* Character classes for an ID rule (bitmask). Only ASCII is ever allowed: login IDs appear in
 * paths, logs, URLs and mail, where Unicode look-alikes and normalisation would be trouble. */
enum kura_id_class {
    KURA_ID_CLASS_LOWER = 1u << 0,      /* a-z */
    KURA_ID_CLASS_UPPER = 1u << 1,      /* A-Z */
    KURA_ID_CLASS_DIGIT = 1u << 2,      /* 0-9 */
    KURA_ID_CLASS_DOT = 1u << 3,        /* . */
    KURA_ID_CLASS_HYPHEN = 1u << 4,     /* - */
    KURA_ID_CLASS_UNDERSCORE = 1u << 5, /* _ */
};

/* What a site accepts as a login ID: a length range and the classes allowed for the first byte
 * and for the rest. max_len is capped at KURA_META_ID_MAX whatever the rule says.
 * IDs are compared byte for byte (case-sensitively): a rule that admits upper-case letters makes
 * "Abc" and "abc" two accounts; prefer lower-case rules, or fold case before calling. */
struct kura_id_rule {
    size_t min_len;
    size_t max_len;
    unsigned first; /* enum kura_id_class bits allowed for the first byte */
    unsigned rest;  /* enum kura_id_class bits allowed for the following bytes */
};

/* The default rule: 1..64 bytes of [a-z0-9][a-z0-9._-]* — cannot start with '.', '-' or '_',
 * so ".", ".." and option-like "-x" are impossible. Example of a site rule, "exactly 10
 * alphanumerics": {10, 10, LOWER | UPPER | DIGIT, LOWER | UPPER | DIGIT}. */
extern const struct kura_id_rule kura_id_rule_default;

/* True when id[0..len) satisfies rule (NULL: kura_id_rule_default). Any byte outside the
 * allowed classes — NUL, '/', spaces, control bytes, non-ASCII (so also invalid UTF-8) — makes
 * it invalid. */
bool kura_auth_id_valid(const char *id, size_t len, const struct kura_id_rule *rule);

/* ---- password hashing --------------------------------------------------------------------- */

#define KURA_PASSWORD_MAX 1024u  /* bytes; longer passwords are refused (KURA_ERANGE) */
#define KURA_PEPPER_BYTES 32u    /* == crypto_auth_hmacsha512256_KEYBYTES */
#define KURA_PWHASH_STR_MAX 128u /* == crypto_pwhash_STRBYTES, including the NUL */

/* Argon2id cost. opslimit: passes over memory; memlimit: bytes of memory (a multiple of 1024).
 * Allowed range (KURA_ERANGE outside): opslimit 1..KURA_PWHASH_OPSLIMIT_MAX, memlimit
 * crypto_pwhash_MEMLIMIT_MIN (8 KiB)..KURA_PWHASH_MEMLIMIT_MAX. The same caps apply to the cost
 * written in a stored hash (KURA_ECORRUPT above them). */
struct kura_pwhash_params {
    unsigned long long opslimit;
    size_t memlimit;
};

#define KURA_PWHASH_OPSLIMIT_MAX 64ull             /* libsodium's SENSITIVE is 4 */
#define KURA_PWHASH_MEMLIMIT_MAX ((size_t)4 << 30) /* 4 GiB; SENSITIVE is 1 GiB */

#define KURA_PWHASH_OPSLIMIT_DEFAULT 2ull               /* crypto_pwhash_OPSLIMIT_INTERACTIVE */
#define KURA_PWHASH_MEMLIMIT_DEFAULT ((size_t)64 << 20) /* crypto_pwhash_MEMLIMIT_INTERACTIVE */

/* {KURA_PWHASH_OPSLIMIT_DEFAULT, KURA_PWHASH_MEMLIMIT_DEFAULT}: libsodium's INTERACTIVE. */
extern const struct kura_pwhash_params kura_pwhash_params_default;

/* Hashes a password: Argon2id(HMAC-SHA-512-256(pepper, pw)) with a random salt. ret receives
 * the NUL-terminated encoded string (at most KURA_PWHASH_STR_MAX bytes including the NUL),
 * which is what kura_account.password_hash stores.
 * Errors: KURA_ERANGE (pwlen 0 or > KURA_PASSWORD_MAX, params out of range), -ENOMEM (memlimit
 * could not be allocated), KURA_ECRYPTO (libsodium failed otherwise). */
KURA_MUST_CHECK int kura_password_hash(const struct kura_pwhash_params *params,
                                       const uint8_t pepper[static KURA_PEPPER_BYTES],
                                       const char *pw, size_t pwlen,
                                       char ret[static KURA_PWHASH_STR_MAX]);

/* Checks pw against a stored hash. 0 on match; then *ret_needs_rehash (may be NULL) is true when
 * the stored cost differs from params, so the caller should store a fresh kura_password_hash.
 * Errors: KURA_EUNAUTH (mismatch, or a wrong pepper), KURA_ECORRUPT (hash is not an Argon2id
 * string this code could have written, or its cost is above the caps — a damaged database must
 * not make us allocate terabytes), KURA_ERANGE (pwlen as for hashing, params out of range),
 * -ENOMEM. The comparison inside libsodium is constant-time. */
KURA_MUST_CHECK int kura_password_verify(const struct kura_pwhash_params *params,
                                         const uint8_t pepper[static KURA_PEPPER_BYTES],
                                         const char *hash, const char *pw, size_t pwlen,
                                         bool *ret_needs_rehash);

/* The same work as kura_password_verify at the cost params — HMAC, then Argon2id against a
 * fixed hash built for those parameters, which no password matches — for login attempts on
 * unknown IDs. Returns KURA_EUNAUTH (or KURA_ERANGE / -ENOMEM like kura_password_verify). */
KURA_MUST_CHECK int kura_password_dummy_verify(const struct kura_pwhash_params *params,
                                               const uint8_t pepper[static KURA_PEPPER_BYTES],
                                               const char *pw, size_t pwlen);

/* ---- generated passwords ------------------------------------------------------------------ */

/* Alphabet of generated passwords: digits and letters without the look-alikes 0 O 1 l I, 57
 * symbols, log2(57) ≈ 5.83 bits each; the default 20 characters carry ≈ 116 bits. */
#define KURA_PASSWORD_ALPHABET "23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
#define KURA_PASSWORD_GEN_LEN 20u /* default length of one-time passwords */
#define KURA_PASSWORD_GEN_MIN 12u /* ≈ 70 bits: nothing shorter is generated */

/* Writes a random password of len characters (uniform over KURA_PASSWORD_ALPHABET, from the
 * kernel CSPRNG) and a NUL into out. Errors: KURA_ERANGE (len < KURA_PASSWORD_GEN_MIN or >
 * KURA_PASSWORD_MAX), -ENOBUFS (out_size < len + 1), -errno from the CSPRNG. out is untouched
 * on failure. The caller wipes out after use. */
KURA_MUST_CHECK int kura_password_generate(char *out, size_t out_size, size_t len);

/* ---- first administrator ------------------------------------------------------------------ */

/* Creates an administrator account: roles admin and user, status active, must_change_password
 * set, and a fresh KURA_PASSWORD_GEN_LEN-character one-time password, hashed with params and
 * pepper. Only the hash is stored; the password itself is copied to ret_otp (NUL-terminated)
 * for the caller to show once, then wipe. id must satisfy kura_id_rule_default.
 * Errors: KURA_ESYNTAX (bad id), -ENOBUFS (otp_size < KURA_PASSWORD_GEN_LEN + 1), KURA_EEXIST
 * (the ID was ever used), the errors of kura_password_hash and kura_meta_account_create.
 * ret_otp is written only on success. Whether an administrator may be created at all (e.g.
 * only when no account exists yet) is the caller's decision. */
KURA_MUST_CHECK int kura_auth_create_admin(struct kura_meta *m, const char *id,
                                           const struct kura_pwhash_params *params,
                                           const uint8_t pepper[static KURA_PEPPER_BYTES],
                                           char *ret_otp, size_t otp_size);

/* ---- account administration (accounts.c) --------------------------------------------------- */

/* Who makes an administrative change and why. Every change below writes its account update and
 * exactly one ledger row (kura_meta_ledger_append: the fields that changed, before and after)
 * in one metadata transaction; a change that changes nothing writes neither and returns 1. */
struct kura_auth_change {
    const char *actor;      /* "user:alice" (elevated), "cli:root" */
    const char *reason;     /* free text for the ledger; may be NULL */
    const char *request_id; /* correlates the ledger row with the audit event; may be NULL */
    int64_t now;            /* ms */
};

/* The secrets passwords are hashed with. */
struct kura_auth_keys {
    const struct kura_pwhash_params *params;
    const uint8_t *pepper; /* KURA_PEPPER_BYTES */
};

/* How the helpdesk verified the person before a reset: a method code ("callback",
 * "in_person", "video", ...) and free text; both go into the ledger. */
struct kura_auth_verification {
    const char *method;
    const char *note;
};

/* Creates an account: a->id (checked against rule; NULL = kura_id_rule_default), the text fields,
 * roles (at least one), valid_from/valid_until (0: unset); status active, a fresh one-time
 * password that must be changed at the first login, copied to ret_otp (show once, then wipe).
 * KURA_EEXIST when the ID was ever used. */
KURA_MUST_CHECK int kura_auth_account_add(struct kura_meta *m, const struct kura_auth_change *c,
                                          const struct kura_account *a,
                                          const struct kura_id_rule *rule,
                                          const struct kura_auth_keys *k, char *ret_otp,
                                          size_t otp_size);
/* The same with a password an administrator chose (kura user add --password-stdin): hash is its
 * kura_password_hash of the normalised password, judged by the policy beforehand; it must still
 * be changed at the first login. */
KURA_MUST_CHECK int kura_auth_account_add_hashed(struct kura_meta *m,
                                                 const struct kura_auth_change *c,
                                                 const struct kura_account *a,
                                                 const struct kura_id_rule *rule, const char *hash);
/* Replaces the roles (at least one; -EINVAL otherwise). KURA_ENOTFOUND: no such (or a deleted)
 * account. */
KURA_MUST_CHECK int kura_auth_account_set_roles(struct kura_meta *m,
                                                const struct kura_auth_change *c, const char *id,
                                                unsigned roles);
/* Sets the status: active ("enable"), locked, disabled, expired, deleted (the ID stays
 * reserved). Any status but active also ends the account's sessions at once. */
KURA_MUST_CHECK int kura_auth_account_set_status(struct kura_meta *m,
                                                 const struct kura_auth_change *c, const char *id,
                                                 enum kura_account_status status);
/* Changes the text fields that are not NULL and valid_from/valid_until that are >= 0 (0 unsets). */
KURA_MUST_CHECK int kura_auth_account_set_fields(struct kura_meta *m,
                                                 const struct kura_auth_change *c,
                                                 const struct kura_account *in);
/* Lifts a lock by failures and an administrative lock (status locked -> active). */
KURA_MUST_CHECK int kura_auth_account_unlock(struct kura_meta *m, const struct kura_auth_change *c,
                                             const char *id);
/* Helpdesk password reset: records how identity was verified, sets a fresh one-time password
 * (copied to ret_otp) that must be changed at the next login, and ends every session. */
KURA_MUST_CHECK int kura_auth_reset_password(struct kura_meta *m, const struct kura_auth_change *c,
                                             const char *id,
                                             const struct kura_auth_verification *how,
                                             const struct kura_auth_keys *k, char *ret_otp,
                                             size_t otp_size);
/* The same with a chosen password's hash (see kura_auth_account_add_hashed). */
KURA_MUST_CHECK int kura_auth_reset_password_hashed(struct kura_meta *m,
                                                    const struct kura_auth_change *c,
                                                    const char *id,
                                                    const struct kura_auth_verification *how,
                                                    const char *hash);
/* Helpdesk MFA reset: removes the TOTP secret and recovery codes (the next login enrols again)
 * and ends every session. */
KURA_MUST_CHECK int kura_auth_reset_mfa(struct kura_meta *m, const struct kura_auth_change *c,
                                        const char *id, const struct kura_auth_verification *how);
/* The password has expired (the policy's max_age_days): sets must_change_password, so the next
 * login yields only an enrolment session that may change it (ledger action
 * "password_expired"). Sessions already open are left to their timeouts. 1 when it was already
 * set. */
KURA_MUST_CHECK int kura_auth_account_require_password_change(struct kura_meta *m,
                                                              const struct kura_auth_change *c,
                                                              const char *id);

/* ---- break-glass accounts (breakglass.c) ---------------------------------------------------- */

/* Makes an existing account an emergency account: disabled until enabled by two approvals.
 * 1 when it already was one. */
KURA_MUST_CHECK int kura_auth_break_glass_designate(struct kura_meta *m,
                                                    const struct kura_auth_change *c,
                                                    const char *id);
/* One administrator's approval to use an emergency account for `minutes` (1..1440): 1 when it
 * is the first (pending for an hour), 0 when it is the second, by another actor — the account
 * is then active until *ret_until. KURA_EFORBIDDEN: the same actor approved the pending
 * request; KURA_EEXIST: enabled already; KURA_ENOTFOUND: not an emergency account. Each step
 * writes a ledger row. */
KURA_MUST_CHECK int kura_auth_break_glass_approve(struct kura_meta *m,
                                                  const struct kura_auth_change *c, const char *id,
                                                  uint32_t minutes, int64_t *ret_until);
/* For logins and sessions: *ret_emergency tells whether id is an emergency account; 0 when it
 * may be used at now (until *ret_until), KURA_EFORBIDDEN outside its period (its status is then
 * set back to disabled). */
KURA_MUST_CHECK int kura_auth_break_glass_check(struct kura_meta *m, const char *id, int64_t now,
                                                bool *ret_emergency, int64_t *ret_until);
/* A sealed credential for when two administrators cannot be reached: a random code of 160 bits
 * ("ABCD-EFGH-…", 39 characters), returned once in ret_code to be printed and kept offline;
 * only its HMAC under mac_key (bound to the account ID) is stored. Its single use enables the
 * account alone for `minutes` (1..1440). Sealing again replaces the earlier code. Ledger:
 * break_glass_seal. KURA_ENOTFOUND: not an emergency account. */
#define KURA_BREAK_GLASS_CODE_MAX 39
KURA_MUST_CHECK int kura_auth_break_glass_seal(struct kura_meta *m,
                                               const struct kura_auth_change *c,
                                               const uint8_t *mac_key, const char *id,
                                               uint32_t minutes,
                                               char ret_code[static KURA_BREAK_GLASS_CODE_MAX + 1]);
/* Uses a sealed credential (dashes, spaces and lower case forgiven): 0 with *ret_until when it
 * matched — the account is active until then, the seal is consumed, a ledger row
 * break_glass_enable {method: sealed_credential} is written; KURA_EUNAUTH for a wrong code, no
 * seal or no such emergency account alike; KURA_EEXIST when the account is enabled already (the
 * seal is kept). */
KURA_MUST_CHECK int kura_auth_break_glass_unseal(struct kura_meta *m,
                                                 const struct kura_auth_change *c,
                                                 const uint8_t *mac_key, const char *id,
                                                 const char *code, size_t len, int64_t *ret_until);

/* ---- logins and sessions (login.c, session.c) ---------------------------------------------- */

#define KURA_SESSION_TOKEN_MAX 64 /* base64url of 32 random bytes is 43 characters */

struct kura_throttle;
struct kura_password_policy;
struct kura_cidr;

/* What logins and sessions need, set up once by the server (or a test). Borrowed pointers. */
struct kura_auth_service {
    struct kura_meta *meta;
    const struct kura_password_policy *policy;
    struct kura_auth_keys keys;
    const uint8_t *seal_key; /* 32 bytes: TOTP secrets at rest (crypto_secretbox) */
    const uint8_t *mac_key;  /* 32 bytes: app passwords, recovery codes, failure tags */
    struct kura_throttle *by_source, *by_id;
    const struct kura_cidr *exempt; /* sources never throttled */
    size_t nexempt;
    int64_t idle_ms, absolute_ms, elevation_ms;
    struct kura_totp_params totp;
    bool lockout_per_source; /* [password] lockout_scope = account+source */
};

struct kura_login_req {
    const char *user, *password, *totp; /* totp: a TOTP or recovery code, or NULL */
    size_t user_len, password_len;
    const char *source_ip, *user_agent; /* may be NULL */
    int64_t now;                        /* ms */
};

struct kura_login_result {
    enum kura_session_kind kind;
    char token[KURA_SESSION_TOKEN_MAX + 1]; /* the cookie value; wipe after use */
    char csrf[KURA_SESSION_TOKEN_MAX + 1];  /* the CSRF token for the client */
    char account_id[KURA_META_ID_MAX + 1];  /* on success */
    unsigned roles;
    int64_t retry_after_ms; /* with KURA_ETHROTTLED */
    const char *why;        /* for the audit record only, never the response: "unknown_id", ... */
    bool locked_now;        /* this failure locked the account (raise the alert) */
    bool break_glass;       /* an emergency account's session: mark its every request */
};

/* Checks a login (see login.c for the order and why). 0 with a new session (kind ENROL after a
 * one-time password or without the TOTP the policy requires: it may only change the password
 * and enrol TOTP); KURA_EUNAUTH for every refusal alike; KURA_ETHROTTLED with retry_after_ms;
 * other errors are the store's. Costs one Argon2id on every path but the throttled one: run it
 * on the hash pool. */
KURA_MUST_CHECK int kura_auth_login(const struct kura_auth_service *s,
                                    const struct kura_login_req *q, struct kura_login_result *ret);

/* Who a valid session belongs to. */
struct kura_auth_identity {
    char account_id[KURA_META_ID_MAX + 1];
    unsigned roles;
    enum kura_session_kind kind;
    bool elevated, break_glass;
    uint8_t id_hash[KURA_META_MAC_BYTES];
    uint8_t csrf_hash[KURA_META_MAC_BYTES];
    char session_tag[17]; /* for audit records: hex of a hash of the id hash */
    int64_t expires_at;   /* the absolute timeout, which a rotation keeps */
};

/* Checks a session token at now: KURA_EUNAUTH when unknown, idle too long, past its absolute
 * timeout, or its account is no longer active and valid (the session is then deleted). */
KURA_MUST_CHECK int kura_auth_session_check(const struct kura_auth_service *s, const char *token,
                                            size_t len, int64_t now,
                                            struct kura_auth_identity *ret);
/* The CSRF token sent with a state-changing request: 0 or KURA_EFORBIDDEN (constant time). */
KURA_MUST_CHECK int kura_auth_csrf_check(const struct kura_auth_identity *id, const char *token,
                                         size_t len);
KURA_MUST_CHECK int kura_auth_logout(const struct kura_auth_service *s,
                                     const struct kura_auth_identity *id);
/* Elevation: a fresh TOTP code (never a recovery code, never a replayed step) replaces the
 * session by a new one (new token: a change of privilege) elevated until *ret_until = now +
 * elevation_ms; ret holds the new token and CSRF token. KURA_EUNAUTH otherwise;
 * KURA_EFORBIDDEN when the account holds none of KURA_ROLES_ELEVATABLE. */
#define KURA_ROLES_ELEVATABLE                                                                      \
    (KURA_ROLE_ADMIN | KURA_ROLE_OPERATOR | KURA_ROLE_HELPDESK | KURA_ROLE_AUDITOR)
KURA_MUST_CHECK int kura_auth_elevate(const struct kura_auth_service *s,
                                      const struct kura_auth_identity *id, const char *code,
                                      int64_t now, const char *source_ip, const char *user_agent,
                                      int64_t *ret_until, struct kura_login_result *ret);

/* ---- self-service (selfservice.c) ----------------------------------------------------------- */

#define KURA_APP_TOKEN_MAX 64 /* base64url of 24 random bytes is 32 characters */

struct kura_password_verdict;

/* Replaces the old session by a new one (new token, new CSRF token) whose kind follows the
 * account now: full unless a password change or TOTP enrolment is still pending. It keeps the
 * old session's absolute timeout and emergency mark, and is elevated until elevated_until (0:
 * not elevated: a change of rights ends an elevation). */
KURA_MUST_CHECK int kura_auth_session_reissue(const struct kura_auth_service *s,
                                              const struct kura_auth_identity *id,
                                              const char *source_ip, const char *user_agent,
                                              int64_t now, int64_t elevated_until,
                                              struct kura_login_result *ret);
/* Changes the password: the current one must verify (KURA_EFORBIDDEN otherwise), the new one must
 * pass the policy and differ from the current and the kept ones (KURA_EBADREQ with the verdict
 * saying which rule failed, in English and Japanese). Keeps the old hash in the history, clears
 * must_change_password, writes a ledger row. Costs an Argon2id per kept hash: hash pool. */
KURA_MUST_CHECK int kura_auth_change_password(const struct kura_auth_service *s,
                                              const struct kura_auth_identity *id,
                                              const char *current, size_t clen, const char *new_pw,
                                              size_t nlen, int64_t now,
                                              struct kura_password_verdict *ret_verdict);
/* Starts TOTP enrolment: a new secret stored sealed and pending; the otpauth:// URI and its QR
 * code as SVG. KURA_EEXIST when TOTP is already enrolled (a helpdesk MFA reset comes first). */
KURA_MUST_CHECK int kura_auth_totp_begin(const struct kura_auth_service *s,
                                         const struct kura_auth_identity *id, const char *issuer,
                                         struct kura_buf *ret_uri, struct kura_buf *ret_svg);
/* Confirms the pending secret with a valid code: enrolled, the code's step used, 10 recovery
 * codes (shown once; stored as MACs), a ledger row. KURA_EUNAUTH for a wrong code,
 * KURA_ENOTFOUND when nothing is pending. */
KURA_MUST_CHECK int
kura_auth_totp_confirm(const struct kura_auth_service *s, const struct kura_auth_identity *id,
                       const char *code, int64_t now,
                       char ret_codes[KURA_RECOVERY_CODES][KURA_RECOVERY_CODE_STR_MAX]);
/* A new app password (shown once in ret_token; stored as HMAC), named, read-only or read-write,
 * optional expiry (0: none). KURA_EEXIST when the name is in use. */
KURA_MUST_CHECK int kura_auth_app_password_create(const struct kura_auth_service *s,
                                                  const struct kura_auth_identity *id,
                                                  const char *name, bool read_write,
                                                  int64_t expires_at, int64_t now,
                                                  char ret_token[static KURA_APP_TOKEN_MAX + 1],
                                                  uint64_t *ret_id);
KURA_MUST_CHECK int kura_auth_app_password_revoke(const struct kura_auth_service *s,
                                                  const struct kura_auth_identity *id,
                                                  uint64_t pw_id, int64_t now);

/* kura_auth_break_glass_unseal for a request: q->user is the emergency account, q->password
 * the sealed code. Throttled like a login (KURA_ETHROTTLED, *ret_retry_after_ms); failures
 * count towards the back-off. The ledger's actor is "sealed:<source address>". */
KURA_MUST_CHECK int kura_auth_unseal(const struct kura_auth_service *s,
                                     const struct kura_login_req *q, int64_t *ret_until,
                                     int64_t *ret_retry_after_ms);

/* What HTTP Basic authentication proved: an app password in force of an active account. */
struct kura_auth_basic {
    char account_id[KURA_META_ID_MAX + 1];
    unsigned roles;
    uint64_t app_password_id;
    bool read_write;
};
/* Basic authentication accepts only app passwords, never the account password (the account's
 * second factor cannot be presented by WebDAV clients). 0 or KURA_EUNAUTH. */
KURA_MUST_CHECK int kura_auth_basic(const struct kura_auth_service *s, const char *user,
                                    const char *secret, size_t len, const char *source_ip,
                                    int64_t now, struct kura_auth_basic *ret);

/* Internal to the auth area (login.c), shared with session.c and enrolment. */
/* *ret_rehash: the password matched a hash of another cost than the configured one. */
KURA_MUST_CHECK int auth_verify_password(const struct kura_auth_service *s, const char *hash,
                                         const char *pw, size_t len, bool *ret_rehash);
struct json_t;
/* A ledger row that is not a field change (accounts.c): after = extra (may be NULL). */
KURA_MUST_CHECK int auth_ledger_note(struct kura_meta *m, const struct kura_auth_change *c,
                                     const char *id, const char *action, struct json_t *extra);
KURA_MUST_CHECK int auth_token_new(char ret[static KURA_SESSION_TOKEN_MAX + 1],
                                   uint8_t ret_hash[static KURA_META_MAC_BYTES]);
KURA_MUST_CHECK int auth_token_hash(const char *token, size_t len,
                                    uint8_t ret[static KURA_META_MAC_BYTES]);
KURA_MUST_CHECK int auth_totp_seal(const struct kura_auth_service *s, const uint8_t *secret,
                                   size_t len, uint8_t ret[static KURA_META_SECRET_MAX],
                                   size_t *ret_len);
KURA_MUST_CHECK int auth_totp_unseal(const struct kura_auth_service *s,
                                     const struct kura_account_auth *st,
                                     uint8_t ret[static KURA_TOTP_SECRET_MAX], size_t *ret_len);

/* ---- account hygiene (hygiene.c) ----------------------------------------------------------- */

/* The daily job of the server (issue item 9): accounts past valid_until expire, accounts unused
 * for inactive_days are disabled, passwords older than the policy's max_age_days must be
 * changed at the next login. Each change goes through the functions above, so it leaves its
 * ledger row (actor KURA_AUTH_HYGIENE_ACTOR, the rule as reason); the caller records one audit
 * event per change from the report. Running it twice changes nothing the second time. */

#define KURA_AUTH_HYGIENE_ACTOR "system:hygiene"
#define KURA_AUTH_INACTIVE_DAYS_MAX 3650u /* [password] inactive_days */

enum kura_auth_hygiene_action {
    KURA_AUTH_HYGIENE_EXPIRE = 0,       /* valid_until passed: status expired */
    KURA_AUTH_HYGIENE_DISABLE,          /* unused for inactive_days: status disabled */
    KURA_AUTH_HYGIENE_PASSWORD_EXPIRED, /* older than max_age_days: must_change_password set */
};

struct kura_auth_hygiene_change {
    char *id; /* owned by the report */
    enum kura_auth_hygiene_action action;
    int64_t last_used_at; /* DISABLE: the last use the rule counted (ms) */
};

/* What one run did. kept_admin names the administrator that the inactivity rule would have
 * disabled but kept, because it was the last usable one ("" when none): a finding for the
 * account review, not a change. */
struct kura_auth_hygiene_report {
    struct kura_auth_hygiene_change *changes;
    size_t n;
    char kept_admin[KURA_META_ID_MAX + 1];
};

/* Frees the changes and zeroes the report; accepts a zeroed report. */
void kura_auth_hygiene_report_release(struct kura_auth_hygiene_report *r);

/* Applies the rules at now (ms) to every active account, in ID order:
 *  1. valid_until set and now >= valid_until: status expired (ledger action "expire");
 *  2. else, inactive_days > 0 and unused for that many days: status disabled ("disable").
 *     The last use is the latest of the last login, an app password's last use, and the
 *     moments the account became usable: created_at, valid_from, the latest "enable" or
 *     "unlock" ledger row — so an account an administrator has just re-enabled gets its
 *     inactive_days again. The last usable administrator is never disabled (kept_admin);
 *  3. else, the password has expired under p (kura_password_expired, from password_changed_at)
 *     and must_change_password is not set yet: it is set ("password_expired").
 * Disabling and expiring end the account's sessions (kura_auth_account_set_status). Each
 * account is decided again inside the transaction that changes it, so a login in between is
 * counted. inactive_days 0 turns rule 2 off; above KURA_AUTH_INACTIVE_DAYS_MAX: -EINVAL.
 * ret is always initialised and holds the changes made, also when an error stopped the run
 * part way (the caller must still record those); release it with
 * kura_auth_hygiene_report_release. Errors: the store's, -ENOMEM. */
KURA_MUST_CHECK int kura_auth_hygiene(struct kura_meta *m, const struct kura_password_policy *p,
                                      uint64_t inactive_days, int64_t now,
                                      struct kura_auth_hygiene_report *ret);
