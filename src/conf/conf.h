/* conf — kura.conf: the schema of every key, a strict INI parser, defaults, validation.
 *
 * Purpose: one table (schema.c) names every section and key with its type, default, allowed
 * values and a one-line description. From it come the parser's checks, the kura.conf that
 * `kura init` writes (every key with its default and comment), and docs/configuration.md
 * (`kura config reference`), so the three cannot drift apart.
 *
 * Grammar (parse.c), deliberately small:
 *   file     = [BOM] *line ; at most KURA_CONF_MAX_FILE bytes, valid UTF-8, no NUL byte
 *   line     = blank / comment / section / setting ; at most KURA_CONF_MAX_LINE bytes, LF or CRLF
 *   comment  = *WS ("#" / ";") *any
 *   section  = *WS "[" name "]" *WS
 *   setting  = *WS name *WS "=" *WS value *WS
 *   name     = [a-z] *[a-z0-9_]
 *   value    = text without control bytes (HTAB allowed), or "quoted text" whose quotes are removed
 * Inline comments do not exist: `x = 1 # two` sets x to "1 # two", which then fails validation.
 *
 * Invariants: unknown sections and keys are errors, as are duplicate keys and settings before the
 * first section. Every error names file:line, the section and key, the offending value (escaped)
 * and what is allowed. A key that is absent takes its default. A parsed struct kura_conf has
 * passed every per-key validator; cross-key checks run in kura_conf_check.
 */
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include "base/base.h"

#define KURA_CONF_MAX_FILE (1024 * 1024)
#define KURA_CONF_MAX_LINE 4096
#define KURA_CONF_MAX_HOSTS 64   /* entries in allowed_hosts */
#define KURA_CONF_MAX_PROXIES 64 /* entries in trusted_proxies */

/* The parsed configuration. Strings are owned by the struct (kura_conf_free). Numbers are
 * range-checked. Field names match the keys; units are in the key's description. */
struct kura_conf {
    struct {
        char *listen;
        char *public_url;
        char *allowed_hosts;
        char *trusted_proxies;
        uint64_t threads;
        uint64_t max_connections;
        uint64_t per_ip_connections;
        uint64_t header_timeout;
        uint64_t idle_timeout;
        uint64_t min_upload_rate;
        uint64_t upload_rate_window;
        uint64_t max_uri_bytes;
        uint64_t max_header_bytes;
        uint64_t max_body_bytes;
        uint64_t shutdown_timeout;
        uint64_t hsts_max_age;
        uint64_t work_threads;
        uint64_t work_queue;
    } http;
    struct {
        char *passphrase_file; /* protects keys/c4gh.sec; "" = systemd credential or none */
    } keys;
    struct {
        char *cert_file;
        char *key_file;
        char *min_version;
    } tls;
    struct {
        char *level;
    } log;
    struct {
        uint64_t retention_days;
        uint64_t searchable_days;
        uint64_t heartbeat_interval;
        uint64_t warn_free_mb;
        uint64_t refuse_free_mb;
        char *witness_file;
        char *witness_read;
        char *digest_to;
    } audit;
    struct {
        char *mail_to;
        char *webhook_url;
        char *webhook_ca_file;
        uint64_t quiet_minutes;
        uint64_t mail_delay;
        uint64_t auth_failures;
        uint64_t source_failures;
        uint64_t source_window;
        uint64_t access_denied;
        uint64_t access_window;
        uint64_t malformed;
        uint64_t transfer_mb;
        uint64_t transfer_files;
        char *off_hours;
        char *usual_networks;
    } alerts;
    struct {
        char *relay;
        char *tls;
        char *ca_file;
        char *from;
        char *username;
        char *password_file;
        uint64_t timeout;
        uint64_t retry_hours;
    } mail;
    struct {
        char *target;
        char *protocol;
        char *ca_file;
        char *cert_file;
        char *key_file;
        char *facility;
        uint64_t enterprise_number;
        uint64_t alert_after;
    } syslog;
    struct {
        char *profile;
        char *lockout_scope; /* "account" or "account+source" */
        uint64_t hash_opslimit;
        uint64_t hash_memlimit_kib;
        uint64_t hash_workers;
        uint64_t inactive_days; /* unused accounts are disabled after this many days (0: never) */
        /* Overrides of the profile's knobs: "" means "as the profile says" (auth/policy.h). */
        char *min_length;
        char *max_length;
        char *charset;
        char *required_classes;
        char *min_classes;
        char *forbid_user_info;
        char *dictionary;
        char *history;
        char *max_age_days;
        char *change_first_login;
        char *mfa;
        char *lockout_threshold;
        char *lockout_mode;
        char *backoff_after;
        char *backoff_max_seconds;
        char *id_min_length;
        char *id_max_length;
        char *id_charset;
    } password;
    struct {
        char *override_reason; /* "" or why a configuration failing the lint may still run */
    } compliance;
    struct {
        uint64_t versions_keep;         /* earlier versions kept per file */
        uint64_t trash_days;            /* how long deleted files stay restorable */
        uint64_t quota_mb;              /* a new personal space's quota (0: none) */
        uint64_t lock_max_seconds;      /* longest WebDAV lock */
        uint64_t backup_retention_days; /* backups may hold a purged file's header this long */
    } store;
    struct {
        uint64_t idle_minutes;      /* a session unused this long ends (NBDC: 15) */
        uint64_t absolute_hours;    /* a session ends this long after login, used or not */
        uint64_t elevation_minutes; /* an elevation (re-entered TOTP) lasts this long */
        char *throttle_exempt;      /* sources never throttled by address (CIDR list) */
    } session;
    /* Where each key was set: line number, or 0 when it holds its default (indexed like the
     * schema table; see kura_conf_key_line). */
    unsigned *lines;
    char *path; /* file name used in messages */
};

/* A configuration with every default. NULL on OOM. Free with kura_conf_free. */
struct kura_conf *kura_conf_new(void);
/* Accepts NULL; returns NULL. */
struct kura_conf *kura_conf_free(struct kura_conf *c);
KURA_DEFINE_FREEP(struct kura_conf, kura_conf_free)

/* Parses text (len bytes; need not be NUL-terminated) named name in messages. On failure returns
 * KURA_ECONFIG (or -ENOMEM) and, when ret_err is not NULL, appends one message of the form
 * "name:line: [section] key = 'value': what is wrong; allowed: ...". */
KURA_MUST_CHECK int kura_conf_parse(const char *name, const char *text, size_t len,
                                    struct kura_conf **ret, struct kura_buf *ret_err);

/* Reads and parses a file (at most KURA_CONF_MAX_FILE bytes); messages as kura_conf_parse. */
KURA_MUST_CHECK int kura_conf_load(const char *path, struct kura_conf **ret,
                                   struct kura_buf *ret_err);

/* Sets one key from text with the same validation as the parser (used by `kura init` for
 * --profile and similar). KURA_ECONFIG with a message on a bad section, key or value. */
KURA_MUST_CHECK int kura_conf_set(struct kura_conf *c, const char *section, const char *key,
                                  const char *value, struct kura_buf *ret_err);

/* Cross-key checks that need more than one value (e.g. max_header_bytes against max_uri_bytes);
 * messages name the line of the key at fault. */
KURA_MUST_CHECK int kura_conf_check(const struct kura_conf *c, struct kura_buf *ret_err);

/* Writes a complete kura.conf: a header, then every section and key in schema order, each
 * preceded by its one-line description, with c's values (defaults where unchanged). */
KURA_MUST_CHECK int kura_conf_write(const struct kura_conf *c, struct kura_buf *out);

/* Writes the Markdown reference of every key (docs/configuration.md is this output). */
KURA_MUST_CHECK int kura_conf_reference(struct kura_buf *out);

/* Calls fn for every key in schema order with its value as text and whether that is the
 * default; stops at the first non-zero result and returns it. */
typedef int (*kura_conf_each_fn)(void *ctx, const char *section, const char *key, const char *value,
                                 bool is_default);
KURA_MUST_CHECK int kura_conf_foreach(const struct kura_conf *c, kura_conf_each_fn fn, void *ctx);

/* Line on which section.key was set, 0 if it holds its default or is unknown. */
unsigned kura_conf_key_line(const struct kura_conf *c, const char *section, const char *key);

/* ---- value parsers shared with the areas that use the values ------------------------------ */

/* Calls fn(entry, ctx) for each comma-separated entry of a list value (allowed_hosts,
 * trusted_proxies), each trimmed of spaces and tabs, stopping at the first error, which it
 * returns with the offending entry in *ret_bad (may be NULL). More than max entries is
 * KURA_ETOOBIG (ret_bad: the first entry too many). An empty value has no entries. */
typedef int (*kura_conf_list_fn)(struct kura_str entry, void *ctx);
KURA_MUST_CHECK int kura_conf_list_each(const char *value, size_t max, kura_conf_list_fn fn,
                                        void *ctx, struct kura_str *ret_bad);

/* "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:443": a numeric address and a port 1-65535. */
KURA_MUST_CHECK int kura_conf_parse_listen(const char *s, struct sockaddr_storage *ret,
                                           socklen_t *ret_len);

/* The origin of public_url: "https://host[:port]" with an optional trailing "/". Host is a DNS
 * name or an IP literal ([v6] in brackets); the port defaults to 443. ret_host is lower-cased
 * and without brackets, in caller memory of KURA_CONF_HOST_MAX bytes. */
#define KURA_CONF_HOST_MAX 256
KURA_MUST_CHECK int kura_conf_parse_origin(const char *s, char ret_host[static KURA_CONF_HOST_MAX],
                                           uint16_t *ret_port);

/* "host" or "host:port" as in a Host header or allowed_hosts: a DNS name, an IPv4 literal or a
 * bracketed IPv6 literal, then an optional port 1-65535 (ret_port 0 when absent). The host is
 * written lower-cased and without brackets. */
KURA_MUST_CHECK int kura_conf_parse_hostport(const char *s, size_t len,
                                             char ret_host[static KURA_CONF_HOST_MAX],
                                             uint16_t *ret_port);

/* An optional number: "" (unset: *ret_set false) or a decimal from min to max. */
KURA_MUST_CHECK int kura_conf_parse_opt_uint(const char *v, uint64_t min, uint64_t max,
                                             bool *ret_set, uint64_t *ret);

/* A duration: a whole number followed by s, m, h or d ("90s", "15m", "1h", "2d"), from 1 s to
 * max_seconds, as seconds. */
KURA_MUST_CHECK int kura_conf_parse_duration(const char *v, uint64_t max_seconds,
                                             uint64_t *ret_seconds);

/* "HH:MM-HH:MM" as minutes of the day (the range may wrap midnight). */
KURA_MUST_CHECK int kura_conf_parse_hours(const char *v, unsigned *ret_from_min,
                                          unsigned *ret_to_min);

/* An address range "10.0.0.0/8", "::1/128" or a single address (full-length prefix). */
struct kura_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
};
KURA_MUST_CHECK int kura_conf_parse_cidr(const char *s, size_t len, struct kura_cidr *ret);
/* True when the address (AF_INET or AF_INET6, v4-mapped v6 treated as v4) is inside the range. */
bool kura_cidr_contains(const struct kura_cidr *range, const struct sockaddr *sa);
