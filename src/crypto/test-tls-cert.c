/* Unit tests for the self-signed TLS certificate: what GnuTLS reads back from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "test-helpers.h"

static gnutls_x509_crt_t load_crt(int dirfd, const char *name)
{
    struct kura_buf pem;
    test_read(dirfd, name, &pem);
    gnutls_x509_crt_t crt = NULL;
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    gnutls_datum_t d = {(unsigned char *)pem.ptr, (unsigned)pem.len};
    assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
    kura_buf_release(&pem);
    return crt;
}

static void test_generate_and_load(void **state)
{
    (void)state;
    struct test_dir d;
    test_dir_new(&d);
    const char *dns[] = {"kura.example.org", "localhost"};
    const char *ips[] = {"127.0.0.1", "::1", "192.0.2.7"};
    struct kura_tls_cert_opts opts = {dns, 2, ips, 3, 30};
    struct kura_buf why = KURA_BUF_INIT(256);
    int r = kura_tls_selfsigned_write(d.fd, "tls.crt", "tls.key", &opts, &why);
    if (r < 0) {
        fail_msg("%s: %s", kura_strerror(r), why.ptr ? why.ptr : "");
    }
    assert_int_equal(test_file_mode(d.fd, "tls.crt"), 0644);
    assert_int_equal(test_file_mode(d.fd, "tls.key"), 0600);

    /* GnuTLS accepts the pair as server credentials (and checks that they match). */
    struct kura_buf cert, key;
    test_read(d.fd, "tls.crt", &cert);
    test_read(d.fd, "tls.key", &key);
    assert_true(strncmp(cert.ptr, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    assert_true(strncmp(key.ptr, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    gnutls_certificate_credentials_t cred;
    assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
    gnutls_datum_t cd = {(unsigned char *)cert.ptr, (unsigned)cert.len};
    gnutls_datum_t kd = {(unsigned char *)key.ptr, (unsigned)key.len};
    assert_int_equal(gnutls_certificate_set_x509_key_mem(cred, &cd, &kd, GNUTLS_X509_FMT_PEM), 0);
    gnutls_certificate_free_credentials(cred);
    kura_buf_release(&cert);
    kura_buf_release_wipe(&key);

    gnutls_x509_crt_t crt = load_crt(d.fd, "tls.crt");

    /* SubjectAltName: every DNS name and address, in order. */
    struct {
        int type;
        const char *text;
    } want[] = {
        {GNUTLS_SAN_DNSNAME, "kura.example.org"}, {GNUTLS_SAN_DNSNAME, "localhost"},
        {GNUTLS_SAN_IPADDRESS, "127.0.0.1"},      {GNUTLS_SAN_IPADDRESS, "::1"},
        {GNUTLS_SAN_IPADDRESS, "192.0.2.7"},
    };
    for (unsigned i = 0; i < KURA_ARRAY_SIZE(want); i++) {
        char san[256];
        size_t san_len = sizeof(san);
        unsigned critical = 0;
        int type = gnutls_x509_crt_get_subject_alt_name(crt, i, san, &san_len, &critical);
        assert_int_equal(type, want[i].type);
        if (type == GNUTLS_SAN_DNSNAME) {
            assert_int_equal(san_len, strlen(want[i].text));
            assert_memory_equal(san, want[i].text, san_len);
        } else {
            uint8_t ip[16];
            int af = san_len == 4 ? AF_INET : AF_INET6;
            assert_int_equal(inet_pton(af, want[i].text, ip), 1);
            assert_memory_equal(san, ip, san_len);
        }
    }
    char san[256];
    size_t san_len = sizeof(san);
    assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 5, san, &san_len, NULL),
                     GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);

    /* Hostname checks as a client would do them. */
    assert_true(gnutls_x509_crt_check_hostname(crt, "kura.example.org"));
    assert_true(gnutls_x509_crt_check_hostname(crt, "127.0.0.1"));
    assert_false(gnutls_x509_crt_check_hostname(crt, "evil.example.org"));

    /* Subject CN is the first DNS name; issuer = subject. */
    char cn[256];
    size_t cn_len = sizeof(cn);
    assert_int_equal(
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len), 0);
    assert_string_equal(cn, "kura.example.org");
    assert_true(gnutls_x509_crt_check_issuer(crt, crt));

    /* Version 3, ECDSA P-256, signed with SHA-256, signature valid. */
    assert_int_equal(gnutls_x509_crt_get_version(crt), 3);
    unsigned bits = 0;
    assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, &bits), GNUTLS_PK_ECDSA);
    gnutls_ecc_curve_t curve;
    assert_int_equal(gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, NULL, NULL), 0);
    assert_int_equal(curve, GNUTLS_ECC_CURVE_SECP256R1);
    assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt), GNUTLS_SIGN_ECDSA_SHA256);
    unsigned status = 1;
    assert_int_equal(gnutls_x509_crt_verify(crt, &crt, 1, GNUTLS_VERIFY_DISABLE_CA_SIGN, &status),
                     0);
    assert_int_equal(status, 0);

    /* Serial: 16 bytes, positive. */
    uint8_t serial[32];
    size_t serial_len = sizeof(serial);
    assert_int_equal(gnutls_x509_crt_get_serial(crt, serial, &serial_len), 0);
    assert_int_equal(serial_len, 16);
    assert_int_equal(serial[0] & 0x80, 0);

    /* Validity: 30 days from five minutes ago. */
    time_t start = gnutls_x509_crt_get_activation_time(crt);
    time_t end = gnutls_x509_crt_get_expiration_time(crt);
    assert_int_equal(end - start, 30 * 86400 + 300);
    time_t now = (time_t)(kura_clock_wall_ms() / 1000);
    assert_true(start <= now - 299 && start >= now - 360);

    /* keyUsage digitalSignature, extKeyUsage serverAuth, CA:FALSE. */
    unsigned usage = 0;
    assert_int_equal(gnutls_x509_crt_get_key_usage(crt, &usage, NULL), 0);
    assert_int_equal(usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
    char oid[128];
    size_t oid_len = sizeof(oid);
    assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(crt, 0, oid, &oid_len, NULL), 0);
    assert_string_equal(oid, GNUTLS_KP_TLS_WWW_SERVER);
    oid_len = sizeof(oid);
    assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(crt, 1, oid, &oid_len, NULL),
                     GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    unsigned ca = 1;
    int pathlen = 0;
    assert_int_equal(gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca, &pathlen), 0);
    assert_int_equal(ca, 0);
    uint8_t ski[64];
    size_t ski_len = sizeof(ski);
    assert_int_equal(gnutls_x509_crt_get_subject_key_id(crt, ski, &ski_len, NULL), 0);
    assert_true(ski_len > 0);

    gnutls_x509_crt_deinit(crt);
    kura_buf_release(&why);
    test_dir_free(&d);
}

static void test_defaults_and_ip_only(void **state)
{
    (void)state;
    struct test_dir d;
    test_dir_new(&d);
    const char *ips[] = {"10.1.2.3"};
    struct kura_tls_cert_opts opts = {.ips = ips, .n_ips = 1};
    assert_int_equal(kura_tls_selfsigned_write(d.fd, "c", "k", &opts, NULL), 0);
    gnutls_x509_crt_t crt = load_crt(d.fd, "c");
    time_t start = gnutls_x509_crt_get_activation_time(crt);
    time_t end = gnutls_x509_crt_get_expiration_time(crt);
    assert_int_equal(end - start, KURA_TLS_DAYS_DEFAULT * 86400 + 300);
    char cn[64];
    size_t cn_len = sizeof(cn);
    assert_int_equal(
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len), 0);
    assert_string_equal(cn, "10.1.2.3");
    gnutls_x509_crt_deinit(crt);

    /* Two certificates never share a serial or a key. */
    assert_int_equal(kura_tls_selfsigned_write(d.fd, "c2", "k2", &opts, NULL), 0);
    gnutls_x509_crt_t a = load_crt(d.fd, "c");
    gnutls_x509_crt_t b = load_crt(d.fd, "c2");
    uint8_t sa[32], sb[32];
    size_t la = sizeof(sa), lb = sizeof(sb);
    assert_int_equal(gnutls_x509_crt_get_serial(a, sa, &la), 0);
    assert_int_equal(gnutls_x509_crt_get_serial(b, sb, &lb), 0);
    assert_memory_not_equal(sa, sb, 16);
    gnutls_x509_crt_deinit(a);
    gnutls_x509_crt_deinit(b);
    test_dir_free(&d);
}

static void test_rejects(void **state)
{
    (void)state;
    struct test_dir d;
    test_dir_new(&d);
    struct kura_buf why = KURA_BUF_INIT(256);

    struct kura_tls_cert_opts none = {0};
    assert_int_equal(kura_tls_selfsigned_write(d.fd, "c", "k", &none, &why), KURA_ECONFIG);
    assert_string_equal(why.ptr, "TLS certificate: no DNS name or IP address given");

    const char *bad_dns[] = {"",           "foo bar",   "-a.example",         "a-.example",
                             "a..example", ".example",  "example.",           "*.example",
                             "ex_ample",   "ex\nample", "caf\xc3\xa9.example"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad_dns); i++) {
        struct kura_tls_cert_opts o = {.dns_names = &bad_dns[i], .n_dns_names = 1};
        kura_buf_reset(&why);
        assert_int_equal(kura_tls_selfsigned_write(d.fd, "c", "k", &o, &why), KURA_ECONFIG);
        assert_non_null(strstr(why.ptr, "invalid DNS name '"));
        assert_null(strchr(why.ptr, '\n'));
    }
    char label64[80];
    memset(label64, 'a', 64);
    memcpy(label64 + 64, ".org", 5);
    const char *long_label = label64;
    struct kura_tls_cert_opts o = {.dns_names = &long_label, .n_dns_names = 1};
    assert_int_equal(kura_tls_selfsigned_write(d.fd, "c", "k", &o, NULL), KURA_ECONFIG);
    memcpy(label64 + 63, ".org", 5); /* 63 is fine */
    assert_int_equal(kura_tls_selfsigned_write(d.fd, "c", "k", &o, NULL), 0);

    const char *bad_ip[] = {"1.2.3", "1.2.3.256", "::g", "localhost", "", " 1.2.3.4"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(bad_ip); i++) {
        struct kura_tls_cert_opts oi = {.ips = &bad_ip[i], .n_ips = 1};
        kura_buf_reset(&why);
        assert_int_equal(kura_tls_selfsigned_write(d.fd, "c9", "k9", &oi, &why), KURA_ECONFIG);
        assert_non_null(strstr(why.ptr, "invalid IP address '"));
    }

    const char *dns[] = {"ok.example"};
    struct kura_tls_cert_opts od = {.dns_names = dns, .n_dns_names = 1, .days = 3651};
    assert_int_equal(kura_tls_selfsigned_write(d.fd, "c9", "k9", &od, NULL), KURA_ERANGE);

    const char *many[KURA_TLS_NAMES_MAX + 1];
    for (size_t i = 0; i < KURA_ARRAY_SIZE(many); i++) {
        many[i] = "ok.example";
    }
    struct kura_tls_cert_opts om = {.dns_names = many, .n_dns_names = KURA_ARRAY_SIZE(many)};
    assert_int_equal(kura_tls_selfsigned_write(d.fd, "c9", "k9", &om, NULL), KURA_ETOOBIG);

    /* Nothing was written by the failures ("c" and "k" are the one success above). */
    assert_int_equal(test_dir_count(&d), 2);
    kura_buf_release(&why);
    test_dir_free(&d);
}

int main(void)
{
    if (kura_crypto_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_and_load),
        cmocka_unit_test(test_defaults_and_ip_only),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
