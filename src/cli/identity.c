/* identity.c — what `kura serve` sets up for logins and the JSON API: the password policy
 * (refusing to start on a compliance-lint error unless [compliance] override_reason says why,
 * which is then audited at every start), the keys derived for TOTP sealing and MACs, the
 * back-off tables and the session timeouts.
 *
 * The derived keys come from keys/pepper (crypto_kdf, one subkey per purpose): the pepper is
 * already the secret that every password depends on, and a new pepper invalidates every
 * password anyway, so it is the natural root for the other authentication secrets — at the
 * cost that rotating it also resets TOTP enrolments and app passwords (docs/security.md).
 */
#include "cli/cli.h"

#include <sodium.h>
#include <string.h>

#include "auth/policy.h"
#include "auth/throttle.h"

#define KDF_CONTEXT "kuraauth"
enum { KDF_SEAL = 1, KDF_MAC = 2 };

static int add_exempt(struct kura_str entry, void *ctx)
{
    struct cli_identity *id = ctx;
    if (id->nexempt == KURA_CONF_MAX_PROXIES) {
        return KURA_ETOOBIG;
    }
    int r = kura_conf_parse_cidr(entry.ptr, entry.len, &id->exempt[id->nexempt]);
    id->nexempt += r == 0;
    return r;
}

/* The compliance lint: errors stop the start unless overridden; an override is recorded. */
static int lint(const struct kura_conf *conf, struct kura_audit *audit, struct kura_buf *err)
{
    struct kura_lint l = KURA_LINT_INIT;
    int r = kura_auth_lint(conf, &l, err);
    size_t errors = r == 0 ? kura_lint_count(&l, KURA_LINT_ERROR) : 0;
    size_t overridden = r == 0 ? kura_lint_count(&l, KURA_LINT_OVERRIDDEN) : 0;
    for (size_t i = 0; r == 0 && errors > 0 && i < l.n; i++) {
        if (l.items[i].level == KURA_LINT_ERROR) {
            kura_buf_addf(err, "%s%s: %s", i ? "; " : "", l.items[i].key, l.items[i].message_en);
        }
    }
    if (r == 0 && errors > 0) {
        kura_buf_adds(err, " (see kura config check; set [compliance] override_reason to run "
                           "anyway, which is audited)");
        r = KURA_ECONFIG;
    }
    if (r == 0 && overridden > 0) {
        json_t *detail = json_pack("{s:s,s:I}", "override_reason", conf->compliance.override_reason,
                                   "errors", (json_int_t)overridden);
        const struct kura_audit_event ev = {.actor = "system",
                                            .action = "config.compliance_override",
                                            .object = "kura.conf",
                                            .result = KURA_AUDIT_OK,
                                            .detail = detail};
        r = kura_audit_emit_sync(audit, &ev, NULL);
        json_decref(detail);
    }
    kura_lint_release(&l);
    return r;
}

static int make_service(struct cli_identity *id, const struct kura_conf *conf,
                        struct kura_meta *meta, const struct kura_keyring *kr)
{
    const uint8_t *pepper = kura_keyring_pepper(kr);
    id->secrets = sodium_malloc(2 * 32);
    if (!id->secrets) {
        return -ENOMEM;
    }
    crypto_kdf_derive_from_key(id->secrets, 32, KDF_SEAL, KDF_CONTEXT, pepper);
    crypto_kdf_derive_from_key(id->secrets + 32, 32, KDF_MAC, KDF_CONTEXT, pepper);
    (void)sodium_mprotect_readonly(id->secrets);
    id->params = (struct kura_pwhash_params){conf->password.hash_opslimit,
                                             (size_t)conf->password.hash_memlimit_kib * 1024};
    const struct kura_throttle_policy tp = {
        .free_failures = id->policy.backoff_after ? id->policy.backoff_after - 1 : UINT32_MAX,
        .base_ms = 1000,
        .max_ms = (int64_t)id->policy.backoff_max_seconds * 1000,
        .reset_ms = 24LL * 3600 * 1000};
    int r = kura_throttle_new(65536, &tp, &id->by_source);
    r = r == 0 ? kura_throttle_new(65536, &tp, &id->by_id) : r;
    id->service = (struct kura_auth_service){
        .meta = meta,
        .policy = &id->policy,
        .keys = {&id->params, pepper},
        .seal_key = id->secrets,
        .mac_key = id->secrets + 32,
        .by_source = id->by_source,
        .by_id = id->by_id,
        .exempt = id->exempt,
        .nexempt = id->nexempt,
        .idle_ms = (int64_t)conf->session.idle_minutes * 60 * 1000,
        .absolute_ms = (int64_t)conf->session.absolute_hours * 3600 * 1000,
        .elevation_ms = (int64_t)conf->session.elevation_minutes * 60 * 1000,
        .totp = kura_totp_params_default,
        .lockout_per_source = strcmp(conf->password.lockout_scope, "account+source") == 0};
    return r;
}

int cli_identity_mac_key(const struct kura_keyring *kr, uint8_t ret[static 32])
{
    const uint8_t *pepper = kura_keyring_pepper(kr);
    return pepper ? crypto_kdf_derive_from_key(ret, 32, KDF_MAC, KDF_CONTEXT, pepper) : -EINVAL;
}

int cli_identity_start(struct cli_identity *id, const struct kura_conf *conf,
                       struct kura_meta *meta, const struct kura_keyring *kr,
                       struct kura_audit *audit, struct kura_buf *err)
{
    memset(id, 0, sizeof(*id));
    int r = kura_password_policy_resolve(conf, &id->policy, err);
    r = r == 0 ? lint(conf, audit, err) : r;
    if (r == 0 && id->policy.dictionary) {
        r = kura_password_dict_probe(NULL, err);
    }
    if (r == 0) {
        r = kura_conf_list_each(conf->session.throttle_exempt, KURA_CONF_MAX_PROXIES, add_exempt,
                                id, NULL);
    }
    r = r == 0 ? make_service(id, conf, meta, kr) : r;
    id->api = (struct kura_api){&id->service, audit, NULL, conf, NULL};
    if (r < 0 && err->len == 0) {
        kura_buf_addf(err, "cannot set up logins: %s", kura_strerror(r));
    }
    return r;
}

void cli_identity_stop(struct cli_identity *id)
{
    id->by_source = kura_throttle_free(id->by_source);
    id->by_id = kura_throttle_free(id->by_id);
    sodium_free(id->secrets);
    id->secrets = NULL;
}
