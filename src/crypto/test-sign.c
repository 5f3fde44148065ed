/* Unit tests for Ed25519 signing keys: RFC 8032 vectors, exact DER, OpenSSL interoperability,
 * hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/wait.h>

#include "test-helpers.h"

/* RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte, 0x72). */
#define T1_SEED "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define T1_PK "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define T1_SIG                                                                                     \
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9" \
    "b"                                                                                            \
    "46bd25bf5f0595bbe24655141438e7a100b"
#define T2_SEED "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
#define T2_PK "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
#define T2_SIG                                                                                     \
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1" \
    "1"                                                                                            \
    "d8c387b2eaeb4302aeeb00d291612bb0c00"

static void pkcs8_text(const uint8_t seed[32], struct kura_buf *ret)
{
    uint8_t der[48];
    test_hex_decode("302e020100300506032b657004220420", der, 16);
    memcpy(der + 16, seed, 32);
    char text[256];
    size_t len = 0;
    assert_int_equal(
        kura_crypto_pem_encode("PRIVATE KEY", der, sizeof(der), text, sizeof(text), &len), 0);
    kura_buf_init(ret, 4096);
    kura_buf_add(ret, text, len);
}

static void check_vector(const char *seed_hex, const char *pk_hex, const uint8_t *msg,
                         size_t msg_len, const char *sig_hex)
{
    uint8_t seed[32], pk[32], sig[64], got[64];
    test_hex_decode(seed_hex, seed, 32);
    test_hex_decode(pk_hex, pk, 32);
    test_hex_decode(sig_hex, sig, 64);
    struct kura_buf text;
    pkcs8_text(seed, &text);
    struct kura_sign_key *key = NULL;
    assert_int_equal(kura_sign_key_parse(text.ptr, text.len, &key, NULL), 0);
    assert_memory_equal(kura_sign_key_public(key), pk, 32);
    assert_int_equal(kura_sign_message(key, msg, msg_len, got), 0);
    assert_memory_equal(got, sig, 64);
    assert_int_equal(kura_sign_verify(pk, msg, msg_len, sig), 0);
    key = kura_sign_key_free(key);
    assert_null(key);
    kura_buf_release(&text);
}

static void test_rfc8032_vectors(void **state)
{
    (void)state;
    check_vector(T1_SEED, T1_PK, (const uint8_t *)"", 0, T1_SIG);
    const uint8_t m2[] = {0x72};
    check_vector(T2_SEED, T2_PK, m2, 1, T2_SIG);
}

static void test_generate_write_read(void **state)
{
    (void)state;
    struct test_dir d;
    test_dir_new(&d);
    _cleanup_(kura_sign_key_freep) struct kura_sign_key *key = NULL;
    assert_int_equal(kura_sign_key_generate(&key), 0);
    assert_int_equal(kura_sign_key_write(key, d.fd, "sign.key", "sign.pub"), 0);
    assert_int_equal(test_file_mode(d.fd, "sign.key"), 0600);
    assert_int_equal(test_file_mode(d.fd, "sign.pub"), 0644);

    /* The exact DER, behind the exact armour. */
    struct kura_buf text;
    test_read(d.fd, "sign.key", &text);
    assert_true(strncmp(text.ptr, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    static const char *const priv_labels[] = {"PRIVATE KEY"};
    struct kura_crypto_blob der = {0};
    size_t label = 0;
    assert_int_equal(
        kura_crypto_pem_decode(text.ptr, text.len, 4096, priv_labels, 1, &label, &der, NULL), 0);
    uint8_t prefix[16];
    test_hex_decode("302e020100300506032b657004220420", prefix, 16);
    assert_int_equal(der.len, 48);
    assert_memory_equal(der.ptr, prefix, 16);
    kura_crypto_blob_release(&der);
    kura_buf_release_wipe(&text);

    test_read(d.fd, "sign.pub", &text);
    assert_true(strncmp(text.ptr, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
    static const char *const pub_labels[] = {"PUBLIC KEY"};
    assert_int_equal(
        kura_crypto_pem_decode(text.ptr, text.len, 4096, pub_labels, 1, &label, &der, NULL), 0);
    uint8_t spki[12];
    test_hex_decode("302a300506032b6570032100", spki, 12);
    assert_int_equal(der.len, 44);
    assert_memory_equal(der.ptr, spki, 12);
    assert_memory_equal(der.ptr + 12, kura_sign_key_public(key), 32);
    kura_crypto_blob_release(&der);

    /* kura_sign_public_key_format writes the same file. */
    struct kura_buf formatted = KURA_BUF_INIT(4096);
    assert_int_equal(kura_sign_public_key_format(kura_sign_key_public(key), &formatted), 0);
    assert_string_equal(formatted.ptr, text.ptr);
    kura_buf_release(&formatted);
    kura_buf_release(&text);

    /* Read back. */
    _cleanup_(kura_sign_key_freep) struct kura_sign_key *back = NULL;
    assert_int_equal(kura_sign_key_read(d.fd, "sign.key", &back, NULL), 0);
    assert_memory_equal(kura_sign_key_public(back), kura_sign_key_public(key), 32);
    uint8_t pk[32];
    assert_int_equal(kura_sign_public_key_read(d.fd, "sign.pub", pk, NULL), 0);
    assert_memory_equal(pk, kura_sign_key_public(key), 32);

    /* Sign with one, verify with the other's public key. */
    const char msg[] = "checkpoint 42";
    uint8_t sig[64];
    assert_int_equal(kura_sign_message(back, msg, sizeof(msg) - 1, sig), 0);
    assert_int_equal(kura_sign_verify(pk, msg, sizeof(msg) - 1, sig), 0);
    assert_int_equal(kura_sign_verify(pk, msg, sizeof(msg) - 2, sig), KURA_ECRYPTO);
    sig[10] ^= 0x40;
    assert_int_equal(kura_sign_verify(pk, msg, sizeof(msg) - 1, sig), KURA_ECRYPTO);
    sig[10] ^= 0x40;
    pk[0] ^= 0x01;
    assert_int_equal(kura_sign_verify(pk, msg, sizeof(msg) - 1, sig), KURA_ECRYPTO);

    /* Writing without a public file. */
    assert_int_equal(kura_sign_key_write(key, d.fd, "only.key", NULL), 0);
    assert_int_equal(test_dir_count(&d), 3);
    test_dir_free(&d);
}

static void test_distinct_keys(void **state)
{
    (void)state;
    _cleanup_(kura_sign_key_freep) struct kura_sign_key *a = NULL;
    _cleanup_(kura_sign_key_freep) struct kura_sign_key *b = NULL;
    assert_int_equal(kura_sign_key_generate(&a), 0);
    assert_int_equal(kura_sign_key_generate(&b), 0);
    assert_memory_not_equal(kura_sign_key_public(a), kura_sign_key_public(b), 32);
    assert_null(kura_sign_key_free(NULL));
}

static void test_rejects(void **state)
{
    (void)state;
    struct kura_sign_key *key = NULL;
    uint8_t pk[32];
    struct kura_buf why = KURA_BUF_INIT(256);

    /* An X25519 PKCS#8 key (OID 1.3.101.110) and an Ed448 one: another algorithm. */
    const char *others[] = {
        "302e020100300506032b656e04220420", /* X25519 */
        "302e020100300506032b657104220420", /* Ed448 OID, wrong length anyway */
        "302e020101300506032b657004220420", /* version 2 */
    };
    for (size_t i = 0; i < KURA_ARRAY_SIZE(others); i++) {
        uint8_t der[48] = {0};
        test_hex_decode(others[i], der, 16);
        char text[256];
        size_t len = 0;
        assert_int_equal(kura_crypto_pem_encode("PRIVATE KEY", der, 48, text, sizeof(text), &len),
                         0);
        kura_buf_reset(&why);
        assert_int_equal(kura_sign_key_parse(text, len, &key, &why), KURA_EUNSUPPORTED);
        assert_string_equal(why.ptr, "not an Ed25519 PKCS#8 private key as kura writes it");
        assert_null(key);
    }

    /* The right prefix with one byte more or less. */
    uint8_t seed[32] = {7};
    struct kura_buf good;
    pkcs8_text(seed, &good);
    static const char *const labels[] = {"PRIVATE KEY"};
    struct kura_crypto_blob der = {0};
    size_t label = 0;
    assert_int_equal(
        kura_crypto_pem_decode(good.ptr, good.len, 4096, labels, 1, &label, &der, NULL), 0);
    for (size_t n = 0; n < 60; n++) {
        if (n == 48) {
            continue;
        }
        uint8_t buf[60] = {0};
        memcpy(buf, der.ptr, n < 48 ? n : 48);
        char text[256];
        size_t len = 0;
        assert_int_equal(kura_crypto_pem_encode("PRIVATE KEY", buf, n, text, sizeof(text), &len),
                         0);
        assert_int_equal(kura_sign_key_parse(text, len, &key, NULL), KURA_EUNSUPPORTED);
    }
    kura_crypto_blob_release(&der);

    /* Every truncation of the text. */
    for (size_t n = 0; n + 1 < good.len; n++) {
        char *copy = kura_malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, good.ptr, n);
        assert_int_equal(kura_sign_key_parse(copy, n, &key, NULL), KURA_ESYNTAX);
        kura_free(copy);
    }
    kura_buf_release(&good);

    /* An encrypted PKCS#8 key or an OpenSSH key: another label. */
    const char *enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nQUJD\n"
                      "-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_int_equal(kura_sign_key_parse(enc, strlen(enc), &key, NULL), KURA_EUNSUPPORTED);
    const char *ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nQUJD\n"
                      "-----END OPENSSH PRIVATE KEY-----\n";
    assert_int_equal(kura_sign_key_parse(ssh, strlen(ssh), &key, NULL), KURA_EUNSUPPORTED);

    /* Public keys: X25519 SPKI, wrong length. */
    uint8_t spki[44] = {0};
    test_hex_decode("302a300506032b656e032100", spki, 12);
    char text[256];
    size_t len = 0;
    assert_int_equal(kura_crypto_pem_encode("PUBLIC KEY", spki, 44, text, sizeof(text), &len), 0);
    assert_int_equal(kura_sign_public_key_parse(text, len, pk, NULL), KURA_EUNSUPPORTED);
    test_hex_decode("302a300506032b6570032100", spki, 12);
    assert_int_equal(kura_crypto_pem_encode("PUBLIC KEY", spki, 43, text, sizeof(text), &len), 0);
    assert_int_equal(kura_sign_public_key_parse(text, len, pk, NULL), KURA_EUNSUPPORTED);
    assert_int_equal(kura_crypto_pem_encode("PUBLIC KEY", spki, 44, text, sizeof(text), &len), 0);
    assert_int_equal(kura_sign_public_key_parse(text, len, pk, NULL), 0);

    kura_buf_release(&why);
}

/* ---- OpenSSL interoperability (skipped when meson found no openssl) ----------------------- */

/* Runs argv; returns its exit status, its stdout in *out (if not NULL). */
static int run(const char *const argv[], struct kura_buf *out)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)dup2(pipefd[1], 1);
        (void)close(pipefd[0]);
        (void)close(pipefd[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            (void)dup2(devnull, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    (void)close(pipefd[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) {
        if (out) {
            kura_buf_add(out, buf, (size_t)n);
        }
    }
    (void)close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_openssl_interop(void **state)
{
    (void)state;
    const char *openssl = getenv("KURA_OPENSSL");
    if (!openssl) {
        skip();
    }
    struct test_dir d;
    test_dir_new(&d);
    char key_path[128], pub_path[128], msg_path[128], sig_path[128], ossl_path[128];
    (void)snprintf(key_path, sizeof(key_path), "%s/sign.key", d.path);
    (void)snprintf(pub_path, sizeof(pub_path), "%s/sign.pub", d.path);
    (void)snprintf(msg_path, sizeof(msg_path), "%s/msg", d.path);
    (void)snprintf(sig_path, sizeof(sig_path), "%s/msg.sig", d.path);
    (void)snprintf(ossl_path, sizeof(ossl_path), "%s/openssl.key", d.path);

    _cleanup_(kura_sign_key_freep) struct kura_sign_key *key = NULL;
    assert_int_equal(kura_sign_key_generate(&key), 0);
    assert_int_equal(kura_sign_key_write(key, d.fd, "sign.key", "sign.pub"), 0);

    /* openssl pkey -in sign.key -pubout gives exactly our sign.pub. */
    struct kura_buf out = KURA_BUF_INIT(4096);
    const char *pkey[] = {openssl, "pkey", "-in", key_path, "-pubout", NULL};
    assert_int_equal(run(pkey, &out), 0);
    struct kura_buf pub;
    test_read(d.fd, "sign.pub", &pub);
    assert_string_equal(out.ptr, pub.ptr);
    kura_buf_release(&pub);

    /* openssl verifies kura's signature. */
    const char msg[] = "audit checkpoint 7";
    uint8_t sig[64];
    assert_int_equal(kura_sign_message(key, msg, sizeof(msg) - 1, sig), 0);
    test_write(d.fd, "msg", msg, sizeof(msg) - 1, 0644);
    test_write(d.fd, "msg.sig", sig, sizeof(sig), 0644);
    const char *verify[] = {openssl,  "pkeyutl", "-verify", "-pubin",   "-inkey", pub_path,
                            "-rawin", "-in",     msg_path,  "-sigfile", sig_path, NULL};
    assert_int_equal(run(verify, NULL), 0);
    sig[0] ^= 1;
    test_write(d.fd, "msg.sig", sig, sizeof(sig), 0644);
    assert_int_not_equal(run(verify, NULL), 0);

    /* kura reads a key that openssl generated, and both derive the same public key. */
    const char *genpkey[] = {openssl, "genpkey", "-algorithm", "ed25519", "-out", ossl_path, NULL};
    assert_int_equal(run(genpkey, NULL), 0);
    _cleanup_(kura_sign_key_freep) struct kura_sign_key *theirs = NULL;
    assert_int_equal(kura_sign_key_read(d.fd, "openssl.key", &theirs, NULL), 0);
    kura_buf_reset(&out);
    const char *pkey2[] = {openssl, "pkey", "-in", ossl_path, "-pubout", NULL};
    assert_int_equal(run(pkey2, &out), 0);
    uint8_t pk[32];
    assert_int_equal(kura_sign_public_key_parse(out.ptr, out.len, pk, NULL), 0);
    assert_memory_equal(pk, kura_sign_key_public(theirs), 32);

    kura_buf_release(&out);
    test_dir_free(&d);
}

int main(void)
{
    if (kura_crypto_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8032_vectors), cmocka_unit_test(test_generate_write_read),
        cmocka_unit_test(test_distinct_keys),   cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_openssl_interop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
