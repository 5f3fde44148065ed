/* keyring.c — the data folder's keys/ directory: creating, checking and loading every key.
 *
 * The directory and its secret files must be private to the user running kura (as OpenSSH
 * insists for ~/.ssh): a key another local user can read is a key that has leaked, and a file
 * another user can replace is a key that an attacker chose. kura refuses to start rather than
 * "fix" modes itself, and says which file is wrong and how to fix it.
 *
 * Loading re-checks each secret file on its open descriptor (kura_crypto_read_file), so the
 * check and the read concern the same inode. Every public file is compared with the public key
 * derived from its secret, so a swapped c4gh.pub cannot make kura encrypt data to someone
 * else's key.
 */
#include "crypto-internal.h"

#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS_DIR "keys/"
#define SHOWN_MAX 32
/* base64 of 32 bytes is 44 characters; allow a newline and some trailing whitespace. */
#define PEPPER_FILE_MAX 128
#define WHY_MAX 512

struct kura_keyring {
    uint8_t c4gh_sk[KURA_C4GH_KEY_BYTES];
    uint8_t c4gh_pk[KURA_C4GH_KEY_BYTES];
    uint8_t pepper[KURA_KEYRING_PEPPER_BYTES];
    struct kura_sign_key *sign;
    struct kura_sign_key *audit;
    char *tls_cert; /* kura_malloc, NUL-terminated */
    size_t tls_cert_len;
    char *tls_key; /* sodium_malloc, NUL-terminated */
    size_t tls_key_len;
};

struct keyfile {
    const char *name;
    enum kura_crypto_file_kind kind;
};

/* Secrets first: kura_keyring_check reports the most dangerous problem first. */
static const struct keyfile keyfiles[] = {
    {KURA_KEYRING_C4GH_SEC, KURA_CRYPTO_FILE_SECRET},
    {KURA_KEYRING_SIGN_KEY, KURA_CRYPTO_FILE_SECRET},
    {KURA_KEYRING_AUDIT_KEY, KURA_CRYPTO_FILE_SECRET},
    {KURA_KEYRING_TLS_KEY, KURA_CRYPTO_FILE_SECRET},
    {KURA_KEYRING_PEPPER, KURA_CRYPTO_FILE_SECRET},
    {KURA_KEYRING_C4GH_PUB, KURA_CRYPTO_FILE_PUBLIC},
    {KURA_KEYRING_SIGN_PUB, KURA_CRYPTO_FILE_PUBLIC},
    {KURA_KEYRING_AUDIT_PUB, KURA_CRYPTO_FILE_PUBLIC},
    {KURA_KEYRING_TLS_CRT, KURA_CRYPTO_FILE_PUBLIC},
};

static const char *shown(char buf[SHOWN_MAX], const char *name)
{
    (void)snprintf(buf, SHOWN_MAX, KEYS_DIR "%s", name);
    return buf;
}

/* Appends "keys/<name>: <local>" to why: a parser's message, placed under the file's name. */
static void explain(struct kura_buf *why, const char *name, const struct kura_buf *local)
{
    if (why) {
        kura_buf_addf(why, KEYS_DIR "%s: ", name);
        kura_buf_addstr(why, kura_buf_str(local));
    }
}

static int check_dir(int keys_dirfd, struct kura_buf *why)
{
    struct stat st;
    if (fstat(keys_dirfd, &st) < 0) {
        return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        kura_crypto_why(why, KEYS_DIR ": not a directory");
        return KURA_EKEYMODE;
    }
    uid_t euid = geteuid();
    if (st.st_uid != euid) {
        kura_crypto_why(why, KEYS_DIR ": owned by uid %u, not by uid %u that runs kura",
                        (unsigned)st.st_uid, (unsigned)euid);
        return KURA_EKEYMODE;
    }
    unsigned mode = (unsigned)st.st_mode & 07777u;
    if ((mode & 077u) != 0) {
        kura_crypto_why(why, KEYS_DIR ": mode %04o allows group or others; chmod 700", mode);
        return KURA_EKEYMODE;
    }
    return 0;
}

int kura_keyring_check(int keys_dirfd, struct kura_buf *reterr_problem)
{
    int r = check_dir(keys_dirfd, reterr_problem);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < KURA_ARRAY_SIZE(keyfiles); i++) {
        char buf[SHOWN_MAX];
        struct stat st;
        if (fstatat(keys_dirfd, keyfiles[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            r = -errno;
            if (r == -ENOENT) {
                kura_crypto_why(reterr_problem, "%s: missing", shown(buf, keyfiles[i].name));
            } else {
                kura_crypto_why(reterr_problem, "%s: %s", shown(buf, keyfiles[i].name),
                                kura_strerror(r));
            }
            return r;
        }
        r = kura_crypto_check_stat(&st, keyfiles[i].kind, shown(buf, keyfiles[i].name),
                                   reterr_problem);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* ---- create -------------------------------------------------------------------------------- */

static int write_pepper(int keys_dirfd)
{
    uint8_t pepper[KURA_KEYRING_PEPPER_BYTES];
    KURA_CLEANUP_WIPE(pepper);
    char text[sodium_base64_ENCODED_LEN(KURA_KEYRING_PEPPER_BYTES, sodium_base64_VARIANT_ORIGINAL) +
              1];
    KURA_CLEANUP_WIPE(text);
    int r = kura_random(pepper, sizeof(pepper));
    if (r < 0) {
        return r;
    }
    (void)sodium_bin2base64(text, sizeof(text) - 1, pepper, sizeof(pepper),
                            sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(text);
    text[len++] = '\n';
    return kura_file_write_atomic(keys_dirfd, KURA_KEYRING_PEPPER, text, len, 0600);
}

static int create_all(int keys_dirfd, const struct kura_keyring_create_opts *opts,
                      struct kura_buf *why)
{
    /* TLS first: it validates the caller's names before anything else is generated. */
    struct kura_tls_cert_opts tls = {
        .dns_names = opts->tls_dns_names,
        .n_dns_names = opts->n_tls_dns_names,
        .ips = opts->tls_ips,
        .n_ips = opts->n_tls_ips,
        .days = opts->tls_days,
    };
    int r = kura_tls_selfsigned_write(keys_dirfd, KURA_KEYRING_TLS_CRT, KURA_KEYRING_TLS_KEY, &tls,
                                      why);
    if (r < 0) {
        return r;
    }

    uint8_t pk[KURA_C4GH_KEY_BYTES];
    uint8_t sk[KURA_C4GH_KEY_BYTES];
    KURA_CLEANUP_WIPE(sk);
    r = kura_c4gh_keygen(pk, sk);
    if (r < 0) {
        return r;
    }
    r = kura_c4gh_write_private_key(keys_dirfd, KURA_KEYRING_C4GH_SEC, sk, opts->passphrase);
    if (r < 0) {
        if (r == -EINVAL || r == KURA_ETOOBIG) {
            kura_crypto_why(why,
                            "unusable passphrase for " KEYS_DIR KURA_KEYRING_C4GH_SEC
                            ": empty or longer than %d bytes",
                            KURA_C4GH_PASSPHRASE_MAX);
        }
        return r;
    }
    r = kura_c4gh_write_public_key(keys_dirfd, KURA_KEYRING_C4GH_PUB, pk);
    if (r < 0) {
        return r;
    }

    _cleanup_(kura_sign_key_freep) struct kura_sign_key *sign = NULL;
    r = kura_sign_key_generate(&sign);
    if (r < 0) {
        return r;
    }
    r = kura_sign_key_write(sign, keys_dirfd, KURA_KEYRING_SIGN_KEY, KURA_KEYRING_SIGN_PUB);
    if (r < 0) {
        return r;
    }
    _cleanup_(kura_sign_key_freep) struct kura_sign_key *audit = NULL;
    r = kura_sign_key_generate(&audit);
    if (r < 0) {
        return r;
    }
    r = kura_sign_key_write(audit, keys_dirfd, KURA_KEYRING_AUDIT_KEY, KURA_KEYRING_AUDIT_PUB);
    if (r < 0) {
        return r;
    }
    return write_pepper(keys_dirfd);
}

int kura_keyring_create(int keys_dirfd, const struct kura_keyring_create_opts *opts,
                        struct kura_buf *reterr_why)
{
    int r = check_dir(keys_dirfd, reterr_why);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < KURA_ARRAY_SIZE(keyfiles); i++) {
        char buf[SHOWN_MAX];
        struct stat st;
        if (fstatat(keys_dirfd, keyfiles[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            kura_crypto_why(reterr_why, "%s: already exists; refusing to overwrite key material",
                            shown(buf, keyfiles[i].name));
            return KURA_EEXIST;
        }
        if (errno != ENOENT) {
            return -errno;
        }
    }
    r = create_all(keys_dirfd, opts, reterr_why);
    if (r < 0) {
        /* None of these names existed before this call (checked above, and the caller holds the
         * data-folder lock), so whatever is there now is ours to remove. */
        for (size_t i = 0; i < KURA_ARRAY_SIZE(keyfiles); i++) {
            (void)unlinkat(keys_dirfd, keyfiles[i].name, 0);
        }
        if (kura_fsync_dir(keys_dirfd) < 0) {
            /* Best effort: the creation failed already and that error is what counts. */
        }
    }
    return r;
}

/* ---- load ---------------------------------------------------------------------------------- */

struct kura_keyring *kura_keyring_free(struct kura_keyring *kr)
{
    if (!kr) {
        return NULL;
    }
    (void)kura_sign_key_free(kr->sign);
    (void)kura_sign_key_free(kr->audit);
    kura_crypto_file_free(KURA_CRYPTO_FILE_PUBLIC, kr->tls_cert, kr->tls_cert_len);
    kura_crypto_file_free(KURA_CRYPTO_FILE_SECRET, kr->tls_key, kr->tls_key_len);
    sodium_free(kr); /* lifts the read-only protection, wipes */
    return NULL;
}

void kura_keyring_freep(struct kura_keyring **kr)
{
    *kr = kura_keyring_free(*kr);
}

static void buf_release_wipep(struct kura_buf *b)
{
    kura_buf_release_wipe(b);
}

/* Reads keys/<name>; messages name the file as keys/<name>. */
static int read_key_file(int dirfd, const char *name, size_t max, enum kura_crypto_file_kind kind,
                         char **ret, size_t *ret_len, struct kura_buf *why)
{
    char buf[SHOWN_MAX];
    return kura_crypto_read_file(dirfd, name, shown(buf, name), max, kind, ret, ret_len, why);
}

/* A public file that does not parse is damaged data, not a bad request. */
static int damaged(int r)
{
    return r == KURA_ESYNTAX || r == KURA_EUNSUPPORTED || r == KURA_ETOOBIG ? KURA_ECORRUPT : r;
}

static int load_c4gh(struct kura_keyring *kr, int dirfd, const char *passphrase,
                     struct kura_buf *why)
{
    char *text = NULL;
    size_t len = 0;
    int r = read_key_file(dirfd, KURA_KEYRING_C4GH_SEC, KURA_C4GH_KEY_FILE_MAX,
                          KURA_CRYPTO_FILE_SECRET, &text, &len, why);
    if (r < 0) {
        return r;
    }
    _cleanup_(buf_release_wipep) struct kura_buf local = KURA_BUF_INIT(WHY_MAX);
    r = kura_c4gh_parse_private_key(text, len, passphrase, kr->c4gh_sk, &local);
    kura_crypto_file_free(KURA_CRYPTO_FILE_SECRET, text, len);
    if (r < 0) {
        explain(why, KURA_KEYRING_C4GH_SEC, &local);
        return r;
    }
    r = kura_c4gh_public_from_secret(kr->c4gh_sk, kr->c4gh_pk);
    if (r < 0) {
        return r;
    }
    r = read_key_file(dirfd, KURA_KEYRING_C4GH_PUB, KURA_C4GH_KEY_FILE_MAX, KURA_CRYPTO_FILE_PUBLIC,
                      &text, &len, why);
    if (r < 0) {
        return r;
    }
    uint8_t pk[KURA_C4GH_KEY_BYTES];
    r = kura_c4gh_parse_public_key(text, len, pk, &local);
    kura_crypto_file_free(KURA_CRYPTO_FILE_PUBLIC, text, len);
    if (r < 0) {
        explain(why, KURA_KEYRING_C4GH_PUB, &local);
        return damaged(r);
    }
    if (sodium_memcmp(pk, kr->c4gh_pk, sizeof(pk)) != 0) {
        kura_crypto_why(why, KEYS_DIR KURA_KEYRING_C4GH_PUB
                        " does not match " KEYS_DIR KURA_KEYRING_C4GH_SEC);
        return KURA_ECORRUPT;
    }
    return 0;
}

static int load_sign(int dirfd, const char *key_name, const char *pub_name,
                     struct kura_sign_key **ret, struct kura_buf *why)
{
    char *text = NULL;
    size_t len = 0;
    int r = read_key_file(dirfd, key_name, KURA_SIGN_KEY_FILE_MAX, KURA_CRYPTO_FILE_SECRET, &text,
                          &len, why);
    if (r < 0) {
        return r;
    }
    _cleanup_(buf_release_wipep) struct kura_buf local = KURA_BUF_INIT(WHY_MAX);
    _cleanup_(kura_sign_key_freep) struct kura_sign_key *key = NULL;
    r = kura_sign_key_parse(text, len, &key, &local);
    kura_crypto_file_free(KURA_CRYPTO_FILE_SECRET, text, len);
    if (r < 0) {
        explain(why, key_name, &local);
        return damaged(r);
    }
    r = read_key_file(dirfd, pub_name, KURA_SIGN_KEY_FILE_MAX, KURA_CRYPTO_FILE_PUBLIC, &text, &len,
                      why);
    if (r < 0) {
        return r;
    }
    uint8_t pk[KURA_SIGN_PUBLIC_KEY_BYTES];
    r = kura_sign_public_key_parse(text, len, pk, &local);
    kura_crypto_file_free(KURA_CRYPTO_FILE_PUBLIC, text, len);
    if (r < 0) {
        explain(why, pub_name, &local);
        return damaged(r);
    }
    if (sodium_memcmp(pk, kura_sign_key_public(key), sizeof(pk)) != 0) {
        kura_crypto_why(why, KEYS_DIR "%s does not match " KEYS_DIR "%s", pub_name, key_name);
        return KURA_ECORRUPT;
    }
    *ret = TAKE_PTR(key);
    return 0;
}

static void certificate_free_credentialsp(gnutls_certificate_credentials_t *c)
{
    if (*c) {
        gnutls_certificate_free_credentials(*c);
    }
}

static int load_tls(struct kura_keyring *kr, int dirfd, struct kura_buf *why)
{
    int r = read_key_file(dirfd, KURA_KEYRING_TLS_CRT, KURA_TLS_FILE_MAX, KURA_CRYPTO_FILE_PUBLIC,
                          &kr->tls_cert, &kr->tls_cert_len, why);
    if (r < 0) {
        return r;
    }
    r = read_key_file(dirfd, KURA_KEYRING_TLS_KEY, KURA_TLS_FILE_MAX, KURA_CRYPTO_FILE_SECRET,
                      &kr->tls_key, &kr->tls_key_len, why);
    if (r < 0) {
        return r;
    }
    /* Let GnuTLS parse both and check that the key belongs to the certificate now, not when
     * the first client connects. */
    _cleanup_(certificate_free_credentialsp) gnutls_certificate_credentials_t cred = NULL;
    int g = gnutls_certificate_allocate_credentials(&cred);
    if (g < 0) {
        return kura_crypto_from_gnutls(g);
    }
    gnutls_datum_t cert = {(unsigned char *)kr->tls_cert, (unsigned)kr->tls_cert_len};
    gnutls_datum_t key = {(unsigned char *)kr->tls_key, (unsigned)kr->tls_key_len};
    g = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
    if (g < 0) {
        kura_crypto_why(why,
                        KEYS_DIR KURA_KEYRING_TLS_CRT " and " KEYS_DIR KURA_KEYRING_TLS_KEY ": %s",
                        gnutls_strerror(g));
        return g == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : KURA_ECORRUPT;
    }
    return 0;
}

static int load_pepper(struct kura_keyring *kr, int dirfd, struct kura_buf *why)
{
    char *text = NULL;
    size_t len = 0;
    int r = read_key_file(dirfd, KURA_KEYRING_PEPPER, PEPPER_FILE_MAX, KURA_CRYPTO_FILE_SECRET,
                          &text, &len, why);
    if (r < 0) {
        return r;
    }
    uint8_t pepper[KURA_KEYRING_PEPPER_BYTES];
    KURA_CLEANUP_WIPE(pepper);
    size_t out = 0;
    /* Trailing newline (and any whitespace an editor added) only. */
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                       text[len - 1] == '\t')) {
        len--;
    }
    int s = sodium_base642bin(pepper, sizeof(pepper), text, len, NULL, &out, NULL,
                              sodium_base64_VARIANT_ORIGINAL);
    kura_crypto_file_free(KURA_CRYPTO_FILE_SECRET, text, len);
    if (s != 0 || out != sizeof(pepper)) {
        kura_crypto_why(why, KEYS_DIR KURA_KEYRING_PEPPER ": not the base64 of %d bytes",
                        KURA_KEYRING_PEPPER_BYTES);
        return KURA_ECORRUPT;
    }
    memcpy(kr->pepper, pepper, sizeof(pepper));
    return 0;
}

int kura_keyring_load(int keys_dirfd, const char *passphrase, struct kura_keyring **ret,
                      struct kura_buf *reterr_why)
{
    int r = kura_keyring_check(keys_dirfd, reterr_why);
    if (r < 0) {
        return r;
    }
    _cleanup_(kura_keyring_freep) struct kura_keyring *kr = kura_crypto_secure_alloc(sizeof(*kr));
    if (!kr) {
        return -ENOMEM;
    }
    /* sodium_malloc fills with 0xdb; kura_keyring_free relies on NULL pointers. */
    memset(kr, 0, sizeof(*kr));

    r = load_c4gh(kr, keys_dirfd, passphrase, reterr_why);
    if (r < 0) {
        return r;
    }
    r = load_sign(keys_dirfd, KURA_KEYRING_SIGN_KEY, KURA_KEYRING_SIGN_PUB, &kr->sign, reterr_why);
    if (r < 0) {
        return r;
    }
    r = load_sign(keys_dirfd, KURA_KEYRING_AUDIT_KEY, KURA_KEYRING_AUDIT_PUB, &kr->audit,
                  reterr_why);
    if (r < 0) {
        return r;
    }
    r = load_tls(kr, keys_dirfd, reterr_why);
    if (r < 0) {
        return r;
    }
    r = load_pepper(kr, keys_dirfd, reterr_why);
    if (r < 0) {
        return r;
    }
    (void)sodium_mprotect_readonly(kr->tls_key);
    (void)sodium_mprotect_readonly(kr);
    *ret = TAKE_PTR(kr);
    return 0;
}

const uint8_t *kura_keyring_c4gh_public_key(const struct kura_keyring *kr)
{
    return kr->c4gh_pk;
}

const uint8_t *kura_keyring_c4gh_secret_key(const struct kura_keyring *kr)
{
    return kr->c4gh_sk;
}

const struct kura_sign_key *kura_keyring_sign_key(const struct kura_keyring *kr)
{
    return kr->sign;
}

const struct kura_sign_key *kura_keyring_audit_key(const struct kura_keyring *kr)
{
    return kr->audit;
}

const uint8_t *kura_keyring_pepper(const struct kura_keyring *kr)
{
    return kr->pepper;
}

const char *kura_keyring_tls_cert_pem(const struct kura_keyring *kr, size_t *ret_len)
{
    if (ret_len) {
        *ret_len = kr->tls_cert_len;
    }
    return kr->tls_cert;
}

const char *kura_keyring_tls_key_pem(const struct kura_keyring *kr, size_t *ret_len)
{
    if (ret_len) {
        *ret_len = kr->tls_key_len;
    }
    return kr->tls_key;
}
