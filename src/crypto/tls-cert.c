/* tls-cert.c — the self-signed TLS certificate a fresh kura server starts with (RFC 5280).
 *
 * GnuTLS does the ECDSA and the ASN.1. Choices: P-256 (every TLS client supports it, and the
 * key is 32 bytes); SHA-256 signature; a 16-byte random serial with the top bit cleared so the
 * INTEGER stays positive (§4.1.2.2) and the second-highest set so its DER encoding keeps all 16
 * bytes; notBefore five minutes in the past to tolerate client clock skew; keyUsage
 * digitalSignature only (ECDHE-ECDSA needs nothing else, §4.2.1.3); extKeyUsage serverAuth;
 * basicConstraints CA:FALSE; a SubjectKeyIdentifier. SubjectAltName carries every DNS name and IP
 * address (§4.2.1.6; clients ignore the CN when SANs are present, the CN is for humans).
 */
#include "crypto-internal.h"

#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <unistd.h>

#define SERIAL_BYTES 16
#define SKEW_SECONDS 300
#define DNS_LABEL_MAX 63
#define IP_TEXT_MAX 64

static void crt_deinitp(gnutls_x509_crt_t *crt)
{
    if (*crt) {
        gnutls_x509_crt_deinit(*crt);
    }
}

static void privkey_deinitp(gnutls_x509_privkey_t *key)
{
    if (*key) {
        gnutls_x509_privkey_deinit(*key);
    }
}

static void datum_wipe_freep(gnutls_datum_t *d)
{
    if (d->data) {
        sodium_memzero(d->data, d->size);
        gnutls_free(d->data);
        d->data = NULL;
    }
}

/* RFC 1035 §2.3.1 preferred syntax (with RFC 1123 §2.1's leading digits): labels of letters,
 * digits and inner hyphens, 1..63 characters, joined by single dots, 253 characters at most. */
static bool dns_name_valid(const char *s)
{
    size_t n = strnlen(s, KURA_TLS_DNS_NAME_MAX + 1);
    if (n == 0 || n > KURA_TLS_DNS_NAME_MAX) {
        return false;
    }
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return false;
            }
            label = 0;
            continue;
        }
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0)) {
            return false;
        }
        if (++label > DNS_LABEL_MAX) {
            return false;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

/* Parses a textual IPv4 or IPv6 address into 4 or 16 bytes. */
static bool ip_parse(const char *s, uint8_t ret[16], size_t *ret_len)
{
    if (strnlen(s, IP_TEXT_MAX + 1) > IP_TEXT_MAX) {
        return false;
    }
    if (inet_pton(AF_INET, s, ret) == 1) {
        *ret_len = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, ret) == 1) {
        *ret_len = 16;
        return true;
    }
    return false;
}

static int gnutls_check(int g, const char *what, struct kura_buf *why)
{
    if (g >= 0) {
        return 0;
    }
    kura_crypto_why(why, "TLS certificate: %s: %s", what, gnutls_strerror(g));
    return kura_crypto_from_gnutls(g);
}

static int validate(const struct kura_tls_cert_opts *opts, struct kura_buf *why)
{
    size_t total = 0;
    if (kura_add_size(opts->n_dns_names, opts->n_ips, &total) < 0 || total > KURA_TLS_NAMES_MAX) {
        kura_crypto_why(why, "TLS certificate: more than %d names and addresses",
                        KURA_TLS_NAMES_MAX);
        return KURA_ETOOBIG;
    }
    if (total == 0) {
        kura_crypto_why(why, "TLS certificate: no DNS name or IP address given");
        return KURA_ECONFIG;
    }
    if (opts->days > KURA_TLS_DAYS_MAX) {
        kura_crypto_why(why, "TLS certificate: validity of %u days exceeds %d", opts->days,
                        KURA_TLS_DAYS_MAX);
        return KURA_ERANGE;
    }
    for (size_t i = 0; i < opts->n_dns_names; i++) {
        const char *s = opts->dns_names[i];
        if (!s || !dns_name_valid(s)) {
            if (why) {
                kura_buf_adds(why, "TLS certificate: invalid DNS name ");
                kura_crypto_why_quoted(why, s ? s : "", s ? strnlen(s, 256) : 0);
            }
            return KURA_ECONFIG;
        }
    }
    for (size_t i = 0; i < opts->n_ips; i++) {
        const char *s = opts->ips[i];
        uint8_t ip[16];
        size_t ip_len = 0;
        if (!s || !ip_parse(s, ip, &ip_len)) {
            if (why) {
                kura_buf_adds(why, "TLS certificate: invalid IP address ");
                kura_crypto_why_quoted(why, s ? s : "", s ? strnlen(s, 256) : 0);
            }
            return KURA_ECONFIG;
        }
    }
    return 0;
}

/* Builds and self-signs the certificate; exports both PEM texts. */
static int generate(const struct kura_tls_cert_opts *opts, gnutls_datum_t *ret_cert,
                    gnutls_datum_t *ret_key, struct kura_buf *why)
{
    _cleanup_(privkey_deinitp) gnutls_x509_privkey_t key = NULL;
    _cleanup_(crt_deinitp) gnutls_x509_crt_t crt = NULL;
    int r;

    r = gnutls_check(gnutls_x509_privkey_init(&key), "key init", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_privkey_generate(
                         key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     "generate ECDSA P-256 key", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_crt_init(&crt), "certificate init", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_crt_set_version(crt, 3), "set version", why);
    if (r < 0) {
        return r;
    }

    uint8_t serial[SERIAL_BYTES];
    r = kura_random(serial, sizeof(serial));
    if (r < 0) {
        return r;
    }
    serial[0] = (uint8_t)((serial[0] & 0x7fu) | 0x40u);
    r = gnutls_check(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), "set serial", why);
    if (r < 0) {
        return r;
    }

    time_t now = (time_t)(kura_clock_wall_ms() / 1000);
    unsigned days = opts->days ? opts->days : KURA_TLS_DAYS_DEFAULT;
    r = gnutls_check(gnutls_x509_crt_set_activation_time(crt, now - SKEW_SECONDS),
                     "set activation time", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400),
                     "set expiration time", why);
    if (r < 0) {
        return r;
    }

    char cn[IP_TEXT_MAX > KURA_TLS_DNS_NAME_MAX ? IP_TEXT_MAX + 1 : KURA_TLS_DNS_NAME_MAX + 1];
    const char *cn_src = opts->n_dns_names > 0 ? opts->dns_names[0] : opts->ips[0];
    size_t cn_len = strnlen(cn_src, sizeof(cn) - 1);
    memcpy(cn, cn_src, cn_len);
    cn[cn_len] = '\0';
    r = gnutls_check(
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)cn_len),
        "set common name", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_crt_set_key(crt, key), "set key", why);
    if (r < 0) {
        return r;
    }

    for (size_t i = 0; i < opts->n_dns_names; i++) {
        const char *s = opts->dns_names[i];
        r = gnutls_check(gnutls_x509_crt_set_subject_alt_name(
                             crt, GNUTLS_SAN_DNSNAME, s, (unsigned)strlen(s), GNUTLS_FSAN_APPEND),
                         "add DNS name", why);
        if (r < 0) {
            return r;
        }
    }
    for (size_t i = 0; i < opts->n_ips; i++) {
        uint8_t ip[16];
        size_t ip_len = 0;
        if (!ip_parse(opts->ips[i], ip, &ip_len)) {
            return KURA_ECONFIG; /* validated already */
        }
        r = gnutls_check(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip,
                                                              (unsigned)ip_len, GNUTLS_FSAN_APPEND),
                         "add IP address", why);
        if (r < 0) {
            return r;
        }
    }

    r = gnutls_check(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), "set CA:FALSE", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE),
                     "set key usage", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0),
                     "set extended key usage", why);
    if (r < 0) {
        return r;
    }
    uint8_t key_id[64];
    size_t key_id_len = sizeof(key_id);
    r = gnutls_check(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, key_id, &key_id_len),
                     "compute key identifier", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_crt_set_subject_key_id(crt, key_id, key_id_len),
                     "set subject key identifier", why);
    if (r < 0) {
        return r;
    }
    r = gnutls_check(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), "sign", why);
    if (r < 0) {
        return r;
    }

    gnutls_datum_t cert_pem = {NULL, 0};
    r = gnutls_check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem),
                     "export certificate", why);
    if (r < 0) {
        return r;
    }
    gnutls_datum_t key_pem = {NULL, 0};
    r = gnutls_check(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
                                                       GNUTLS_PKCS_PLAIN, &key_pem),
                     "export key", why);
    if (r < 0) {
        gnutls_free(cert_pem.data);
        return r;
    }
    *ret_cert = cert_pem;
    *ret_key = key_pem;
    return 0;
}

int kura_tls_selfsigned_write(int dirfd, const char *cert_name, const char *key_name,
                              const struct kura_tls_cert_opts *opts, struct kura_buf *reterr_why)
{
    int r = validate(opts, reterr_why);
    if (r < 0) {
        return r;
    }
    _cleanup_(datum_wipe_freep) gnutls_datum_t cert = {NULL, 0};
    _cleanup_(datum_wipe_freep) gnutls_datum_t key = {NULL, 0};
    r = generate(opts, &cert, &key, reterr_why);
    if (r < 0) {
        return r;
    }
    r = kura_file_write_atomic(dirfd, key_name, key.data, key.size, 0600);
    if (r < 0) {
        return r;
    }
    r = kura_file_write_atomic(dirfd, cert_name, cert.data, cert.size, 0644);
    if (r < 0) {
        /* A key without its certificate is of no use; leave nothing half-made. */
        (void)unlinkat(dirfd, key_name, 0);
        return r;
    }
    return 0;
}
