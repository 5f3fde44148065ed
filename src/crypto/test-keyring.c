/* Unit tests for the keys/ keyring: create, check, load, and every way its files can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "test-helpers.h"

static const char *const dns[] = {"kura.example.org"};
static const char *const ips[] = {"127.0.0.1"};

static const char *const all_files[] = {
    KURA_KEYRING_C4GH_SEC, KURA_KEYRING_C4GH_PUB,  KURA_KEYRING_SIGN_KEY,
    KURA_KEYRING_SIGN_PUB, KURA_KEYRING_AUDIT_KEY, KURA_KEYRING_AUDIT_PUB,
    KURA_KEYRING_TLS_CRT,  KURA_KEYRING_TLS_KEY,   KURA_KEYRING_PEPPER,
};

static void create(struct test_dir *d, const char *passphrase)
{
    test_dir_new(d);
    struct kura_keyring_create_opts opts = {
        .passphrase = passphrase,
        .tls_dns_names = dns,
        .n_tls_dns_names = 1,
        .tls_ips = ips,
        .n_tls_ips = 1,
    };
    struct kura_buf why = KURA_BUF_INIT(512);
    int r = kura_keyring_create(d->fd, &opts, &why);
    if (r < 0) {
        fail_msg("create: %s: %s", kura_strerror(r), why.ptr ? why.ptr : "");
    }
    assert_null(why.ptr); /* nothing said on success */
    kura_buf_release(&why);
}

/* Expects kura_keyring_check and kura_keyring_load both to fail with err and message. */
static void expect_refused(const struct test_dir *d, int err, const char *message)
{
    struct kura_buf why = KURA_BUF_INIT(512);
    int r = kura_keyring_check(d->fd, &why);
    if (r != err) {
        fail_msg("check: got %d (%s: %s), want %d", r, kura_strerror(r), why.ptr ? why.ptr : "",
                 err);
    }
    assert_string_equal(why.ptr, message);
    kura_buf_reset(&why);
    struct kura_keyring *kr = NULL;
    assert_int_equal(kura_keyring_load(d->fd, NULL, &kr, &why), err);
    assert_null(kr);
    assert_string_equal(why.ptr, message);
    kura_buf_release(&why);
}

static void test_create_load(void **state)
{
    (void)state;
    struct test_dir d;
    create(&d, NULL);
    for (size_t i = 0; i < KURA_ARRAY_SIZE(all_files); i++) {
        unsigned mode = test_file_mode(d.fd, all_files[i]);
        bool secret = strstr(all_files[i], ".sec") || strstr(all_files[i], ".key") ||
                      strcmp(all_files[i], KURA_KEYRING_PEPPER) == 0;
        assert_int_equal(mode, secret ? 0600 : 0644);
    }
    assert_int_equal(test_dir_count(&d), (int)KURA_ARRAY_SIZE(all_files));
    struct kura_buf problem = KURA_BUF_INIT(512);
    assert_int_equal(kura_keyring_check(d.fd, &problem), 0);
    assert_null(problem.ptr);

    _cleanup_(kura_keyring_freep) struct kura_keyring *kr = NULL;
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, &problem), 0);
    assert_null(problem.ptr);

    /* c4gh: the secret matches the public key, which matches c4gh.pub. */
    uint8_t pk[32], derived[32];
    assert_int_equal(kura_c4gh_read_public_key(d.fd, KURA_KEYRING_C4GH_PUB, pk, NULL), 0);
    assert_memory_equal(kura_keyring_c4gh_public_key(kr), pk, 32);
    assert_int_equal(crypto_scalarmult_base(derived, kura_keyring_c4gh_secret_key(kr)), 0);
    assert_memory_equal(derived, pk, 32);

    /* sign and audit: two distinct keys, matching their public files. */
    const struct kura_sign_key *sign = kura_keyring_sign_key(kr);
    const struct kura_sign_key *audit = kura_keyring_audit_key(kr);
    assert_int_equal(kura_sign_public_key_read(d.fd, KURA_KEYRING_SIGN_PUB, pk, NULL), 0);
    assert_memory_equal(kura_sign_key_public(sign), pk, 32);
    assert_int_equal(kura_sign_public_key_read(d.fd, KURA_KEYRING_AUDIT_PUB, pk, NULL), 0);
    assert_memory_equal(kura_sign_key_public(audit), pk, 32);
    assert_memory_not_equal(kura_sign_key_public(sign), kura_sign_key_public(audit), 32);
    uint8_t sig[64];
    assert_int_equal(kura_sign_message(sign, "x", 1, sig), 0);
    assert_int_equal(kura_sign_verify(kura_sign_key_public(sign), "x", 1, sig), 0);
    assert_int_equal(kura_sign_verify(kura_sign_key_public(audit), "x", 1, sig), KURA_ECRYPTO);

    /* TLS PEM texts, NUL-terminated, as in the files. */
    size_t len = 0;
    const char *cert = kura_keyring_tls_cert_pem(kr, &len);
    assert_int_equal(strlen(cert), len);
    assert_true(strncmp(cert, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    struct kura_buf file;
    test_read(d.fd, KURA_KEYRING_TLS_CRT, &file);
    assert_string_equal(cert, file.ptr);
    kura_buf_release(&file);
    const char *key = kura_keyring_tls_key_pem(kr, NULL);
    assert_true(strncmp(key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);

    /* The pepper: 32 bytes, base64 in the file. */
    test_read(d.fd, KURA_KEYRING_PEPPER, &file);
    assert_int_equal(file.len, 45);
    uint8_t pepper[32];
    size_t plen = 0;
    assert_int_equal(sodium_base642bin(pepper, 32, file.ptr, 44, NULL, &plen, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(plen, 32);
    assert_memory_equal(kura_keyring_pepper(kr), pepper, 32);
    kura_buf_release_wipe(&file);

    kura_buf_release(&problem);
    kr = kura_keyring_free(kr);
    assert_null(kr);
    assert_null(kura_keyring_free(NULL));
    test_dir_free(&d);
}

/* Loaded keys are read-only: a stray write through a cast pointer faults instead of silently
 * changing a key. Checked in a child process. */
static void test_read_only(void **state)
{
    (void)state;
    struct test_dir d;
    create(&d, NULL);
    struct kura_keyring *kr = NULL;
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka (and ASan) catch SIGSEGV; the child must simply die of it. */
        (void)signal(SIGSEGV, SIG_DFL);
        (void)signal(SIGBUS, SIG_DFL);
        ((volatile uint8_t *)kura_keyring_pepper(kr))[0] ^= 1;
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_true(WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
    kr = kura_keyring_free(kr);
    test_dir_free(&d);
}

static void test_passphrase(void **state)
{
    (void)state;
    struct test_dir d;
    create(&d, "hunter2");
    struct kura_buf sec;
    test_read(d.fd, KURA_KEYRING_C4GH_SEC, &sec);
    assert_true(strncmp(sec.ptr, "-----BEGIN CRYPT4GH ENCRYPTED PRIVATE KEY-----\n", 47) == 0);
    kura_buf_release(&sec);

    struct kura_keyring *kr = NULL;
    struct kura_buf why = KURA_BUF_INIT(512);
    assert_int_equal(kura_keyring_load(d.fd, "hunter3", &kr, &why), KURA_ECRYPTO);
    assert_string_equal(why.ptr, "keys/c4gh.sec: wrong passphrase or damaged private key");
    assert_null(kr);
    kura_buf_reset(&why);
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, &why), KURA_ECRYPTO);
    assert_string_equal(why.ptr,
                        "keys/c4gh.sec: the private key is encrypted and no passphrase was given");
    assert_int_equal(kura_keyring_load(d.fd, "hunter2", &kr, NULL), 0);
    kr = kura_keyring_free(kr);
    kura_buf_release(&why);
    test_dir_free(&d);
}

static void test_create_refuses_to_overwrite(void **state)
{
    (void)state;
    struct test_dir d;
    create(&d, NULL);
    struct kura_buf before;
    test_read(d.fd, KURA_KEYRING_C4GH_SEC, &before);
    struct kura_keyring_create_opts opts = {.tls_dns_names = dns, .n_tls_dns_names = 1};
    struct kura_buf why = KURA_BUF_INIT(512);
    assert_int_equal(kura_keyring_create(d.fd, &opts, &why), KURA_EEXIST);
    assert_string_equal(why.ptr,
                        "keys/c4gh.sec: already exists; refusing to overwrite key material");
    struct kura_buf after;
    test_read(d.fd, KURA_KEYRING_C4GH_SEC, &after);
    assert_string_equal(before.ptr, after.ptr);
    assert_int_equal(test_dir_count(&d), (int)KURA_ARRAY_SIZE(all_files));

    /* One leftover file, even a public one, is enough to refuse. */
    for (size_t i = 0; i < KURA_ARRAY_SIZE(all_files); i++) {
        if (strcmp(all_files[i], KURA_KEYRING_PEPPER) != 0) {
            assert_int_equal(unlinkat(d.fd, all_files[i], 0), 0);
        }
    }
    kura_buf_reset(&why);
    assert_int_equal(kura_keyring_create(d.fd, &opts, &why), KURA_EEXIST);
    assert_string_equal(why.ptr, "keys/pepper: already exists; refusing to overwrite key material");
    assert_int_equal(test_dir_count(&d), 1);

    kura_buf_release_wipe(&before);
    kura_buf_release_wipe(&after);
    kura_buf_release(&why);
    test_dir_free(&d);
}

static void test_create_failure_leaves_nothing(void **state)
{
    (void)state;
    struct test_dir d;
    test_dir_new(&d);
    struct kura_buf why = KURA_BUF_INIT(512);
    const char *bad[] = {"not a name"};
    struct kura_keyring_create_opts opts = {.tls_dns_names = bad, .n_tls_dns_names = 1};
    assert_int_equal(kura_keyring_create(d.fd, &opts, &why), KURA_ECONFIG);
    assert_string_equal(why.ptr, "TLS certificate: invalid DNS name 'not a name'");
    assert_int_equal(test_dir_count(&d), 0);

    /* A failure after some files were written (an empty passphrase is refused late, after the
     * TLS files exist) removes them again. */
    struct kura_keyring_create_opts opts2 = {
        .passphrase = "", .tls_dns_names = dns, .n_tls_dns_names = 1};
    kura_buf_reset(&why);
    assert_int_equal(kura_keyring_create(d.fd, &opts2, &why), -EINVAL);
    assert_non_null(strstr(why.ptr, "unusable passphrase"));
    assert_int_equal(test_dir_count(&d), 0);

    /* A keys directory others can enter. */
    assert_int_equal(fchmod(d.fd, 0750), 0);
    kura_buf_reset(&why);
    assert_int_equal(kura_keyring_create(d.fd, &opts2, &why), KURA_EKEYMODE);
    assert_string_equal(why.ptr, "keys/: mode 0750 allows group or others; chmod 700");
    assert_int_equal(test_dir_count(&d), 0);
    kura_buf_release(&why);
    test_dir_free(&d);
}

static void test_bad_modes(void **state)
{
    (void)state;
    struct test_dir d;
    create(&d, NULL);

    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_C4GH_SEC, 0640, 0), 0);
    expect_refused(&d, KURA_EKEYMODE, "keys/c4gh.sec: mode 0640 allows group or others; chmod 600");
    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_C4GH_SEC, 0600, 0), 0);

    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_SIGN_KEY, 0604, 0), 0);
    expect_refused(&d, KURA_EKEYMODE, "keys/sign.key: mode 0604 allows group or others; chmod 600");
    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_SIGN_KEY, 0600, 0), 0);

    /* Execute or write bits count as much as read bits. */
    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_PEPPER, 0610, 0), 0);
    expect_refused(&d, KURA_EKEYMODE, "keys/pepper: mode 0610 allows group or others; chmod 600");
    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_PEPPER, 0600, 0), 0);

    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_TLS_KEY, 0644, 0), 0);
    expect_refused(&d, KURA_EKEYMODE, "keys/tls.key: mode 0644 allows group or others; chmod 600");
    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_TLS_KEY, 0600, 0), 0);

    /* A public file others may rewrite. */
    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_C4GH_PUB, 0666, 0), 0);
    expect_refused(&d, KURA_EKEYMODE,
                   "keys/c4gh.pub: mode 0666 lets group or others change it; chmod 644");
    assert_int_equal(fchmodat(d.fd, KURA_KEYRING_C4GH_PUB, 0644, 0), 0);

    /* The keys directory itself. */
    assert_int_equal(fchmod(d.fd, 0755), 0);
    expect_refused(&d, KURA_EKEYMODE, "keys/: mode 0755 allows group or others; chmod 700");
    assert_int_equal(fchmod(d.fd, 0701), 0);
    expect_refused(&d, KURA_EKEYMODE, "keys/: mode 0701 allows group or others; chmod 700");
    assert_int_equal(fchmod(d.fd, 0700), 0);

    struct kura_keyring *kr = NULL;
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, NULL), 0);
    kr = kura_keyring_free(kr);
    test_dir_free(&d);
}

static void test_symlink_fifo_dir(void **state)
{
    (void)state;
    struct test_dir d;
    create(&d, NULL);

    /* tls.key replaced by a symlink to a perfectly good copy of itself. */
    struct kura_buf key;
    test_read(d.fd, KURA_KEYRING_TLS_KEY, &key);
    test_write(d.fd, "tls.key.real", key.ptr, key.len, 0600);
    kura_buf_release_wipe(&key);
    assert_int_equal(unlinkat(d.fd, KURA_KEYRING_TLS_KEY, 0), 0);
    assert_int_equal(symlinkat("tls.key.real", d.fd, KURA_KEYRING_TLS_KEY), 0);
    expect_refused(&d, KURA_EKEYMODE,
                   "keys/tls.key: is a symbolic link; kura needs a regular file");
    assert_int_equal(unlinkat(d.fd, KURA_KEYRING_TLS_KEY, 0), 0);
    assert_int_equal(renameat(d.fd, "tls.key.real", d.fd, KURA_KEYRING_TLS_KEY), 0);

    /* A symlinked public file too: whoever controls the target controls the key. */
    assert_int_equal(renameat(d.fd, KURA_KEYRING_SIGN_PUB, d.fd, "sign.pub.real"), 0);
    assert_int_equal(symlinkat("sign.pub.real", d.fd, KURA_KEYRING_SIGN_PUB), 0);
    expect_refused(&d, KURA_EKEYMODE,
                   "keys/sign.pub: is a symbolic link; kura needs a regular file");
    assert_int_equal(unlinkat(d.fd, KURA_KEYRING_SIGN_PUB, 0), 0);
    assert_int_equal(renameat(d.fd, "sign.pub.real", d.fd, KURA_KEYRING_SIGN_PUB), 0);

    /* A FIFO (which would block a naive reader) and a directory. */
    assert_int_equal(renameat(d.fd, KURA_KEYRING_PEPPER, d.fd, "pepper.real"), 0);
    assert_int_equal(mkfifoat(d.fd, KURA_KEYRING_PEPPER, 0600), 0);
    expect_refused(&d, KURA_EKEYMODE, "keys/pepper: not a regular file");
    assert_int_equal(unlinkat(d.fd, KURA_KEYRING_PEPPER, 0), 0);
    assert_int_equal(renameat(d.fd, "pepper.real", d.fd, KURA_KEYRING_PEPPER), 0);

    struct kura_keyring *kr = NULL;
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, NULL), 0);
    kr = kura_keyring_free(kr);
    test_dir_free(&d);
}

static void test_not_owner(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip(); /* only root can give a file away */
    }
    struct test_dir d;
    create(&d, NULL);
    assert_int_equal(fchownat(d.fd, KURA_KEYRING_AUDIT_KEY, 65534, 65534, 0), 0);
    expect_refused(&d, KURA_EKEYMODE,
                   "keys/audit.key: owned by uid 65534, not by uid 0 that runs kura");
    assert_int_equal(fchownat(d.fd, KURA_KEYRING_AUDIT_KEY, 0, 0, 0), 0);
    assert_int_equal(fchown(d.fd, 65534, 65534), 0);
    expect_refused(&d, KURA_EKEYMODE, "keys/: owned by uid 65534, not by uid 0 that runs kura");
    assert_int_equal(fchown(d.fd, 0, 0), 0);
    test_dir_free(&d);
}

static void test_missing_file(void **state)
{
    (void)state;
    for (size_t i = 0; i < KURA_ARRAY_SIZE(all_files); i++) {
        struct test_dir d;
        create(&d, NULL);
        assert_int_equal(unlinkat(d.fd, all_files[i], 0), 0);
        char want[64];
        (void)snprintf(want, sizeof(want), "keys/%s: missing", all_files[i]);
        expect_refused(&d, -ENOENT, want);
        test_dir_free(&d);
    }
}

static void test_mismatch_and_damage(void **state)
{
    (void)state;
    struct test_dir d;
    create(&d, NULL);
    struct kura_keyring *kr = NULL;
    struct kura_buf why = KURA_BUF_INIT(512);
    struct kura_buf saved;

    /* c4gh.pub swapped for someone else's key. */
    test_read(d.fd, KURA_KEYRING_C4GH_PUB, &saved);
    uint8_t pk[32], sk[32];
    assert_int_equal(kura_c4gh_keygen(pk, sk), 0);
    assert_int_equal(kura_c4gh_write_public_key(d.fd, KURA_KEYRING_C4GH_PUB, pk), 0);
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, &why), KURA_ECORRUPT);
    assert_string_equal(why.ptr, "keys/c4gh.pub does not match keys/c4gh.sec");

    /* c4gh.pub damaged. */
    test_write(d.fd, KURA_KEYRING_C4GH_PUB, "-----BEGIN CRYPT4GH PUBLIC KEY-----\n", 36, 0644);
    kura_buf_reset(&why);
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, &why), KURA_ECORRUPT);
    assert_string_equal(
        why.ptr, "keys/c4gh.pub: no '-----END CRYPT4GH PUBLIC KEY-----' line: truncated key file");
    test_write(d.fd, KURA_KEYRING_C4GH_PUB, saved.ptr, saved.len, 0644);
    kura_buf_release(&saved);

    /* audit.pub replaced by sign.pub. */
    test_read(d.fd, KURA_KEYRING_AUDIT_PUB, &saved);
    struct kura_buf other;
    test_read(d.fd, KURA_KEYRING_SIGN_PUB, &other);
    test_write(d.fd, KURA_KEYRING_AUDIT_PUB, other.ptr, other.len, 0644);
    kura_buf_reset(&why);
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, &why), KURA_ECORRUPT);
    assert_string_equal(why.ptr, "keys/audit.pub does not match keys/audit.key");
    test_write(d.fd, KURA_KEYRING_AUDIT_PUB, saved.ptr, saved.len, 0644);
    kura_buf_release(&saved);
    kura_buf_release(&other);

    /* A damaged sign.key. */
    test_read(d.fd, KURA_KEYRING_SIGN_KEY, &saved);
    test_write(d.fd, KURA_KEYRING_SIGN_KEY, "garbage\n", 8, 0600);
    kura_buf_reset(&why);
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, &why), KURA_ECORRUPT);
    assert_string_equal(why.ptr,
                        "keys/sign.key: no '-----BEGIN ...-----' line: not a PEM key file");
    test_write(d.fd, KURA_KEYRING_SIGN_KEY, saved.ptr, saved.len, 0600);
    kura_buf_release_wipe(&saved);

    /* tls.key from another certificate. */
    struct test_dir other_dir;
    test_dir_new(&other_dir);
    struct kura_tls_cert_opts tls = {.dns_names = dns, .n_dns_names = 1};
    assert_int_equal(kura_tls_selfsigned_write(other_dir.fd, "c", "k", &tls, NULL), 0);
    test_read(other_dir.fd, "k", &other);
    test_dir_free(&other_dir);
    test_read(d.fd, KURA_KEYRING_TLS_KEY, &saved);
    test_write(d.fd, KURA_KEYRING_TLS_KEY, other.ptr, other.len, 0600);
    kura_buf_reset(&why);
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, &why), KURA_ECORRUPT);
    assert_true(strncmp(why.ptr, "keys/tls.crt and keys/tls.key: ", 31) == 0);
    test_write(d.fd, KURA_KEYRING_TLS_KEY, saved.ptr, saved.len, 0600);
    kura_buf_release_wipe(&saved);
    kura_buf_release_wipe(&other);

    /* A pepper that is not 32 bytes of base64. */
    const char *peppers[] = {"", "\n", "QUJD\n", "not base64 at all\n",
                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"};
    test_read(d.fd, KURA_KEYRING_PEPPER, &saved);
    for (size_t i = 0; i < KURA_ARRAY_SIZE(peppers); i++) {
        test_write(d.fd, KURA_KEYRING_PEPPER, peppers[i], strlen(peppers[i]), 0600);
        kura_buf_reset(&why);
        assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, &why), KURA_ECORRUPT);
        assert_string_equal(why.ptr, "keys/pepper: not the base64 of 32 bytes");
    }
    /* Trailing whitespace after the base64 is fine. */
    struct kura_buf padded = KURA_BUF_INIT(256);
    kura_buf_add(&padded, saved.ptr, 44);
    kura_buf_adds(&padded, " \r\n\n");
    test_write(d.fd, KURA_KEYRING_PEPPER, padded.ptr, padded.len, 0600);
    assert_int_equal(kura_keyring_load(d.fd, NULL, &kr, NULL), 0);
    kr = kura_keyring_free(kr);
    kura_buf_release_wipe(&padded);
    kura_buf_release_wipe(&saved);

    kura_buf_release(&why);
    test_dir_free(&d);
}

int main(void)
{
    if (kura_crypto_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_load),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_passphrase),
        cmocka_unit_test(test_create_refuses_to_overwrite),
        cmocka_unit_test(test_create_failure_leaves_nothing),
        cmocka_unit_test(test_bad_modes),
        cmocka_unit_test(test_symlink_fifo_dir),
        cmocka_unit_test(test_not_owner),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_mismatch_and_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
