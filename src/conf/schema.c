/* schema.c — every configuration key: type, default, allowed values, description; the
 * kura.conf writer and the Markdown reference generated from the same table. */
#include "conf-internal.h"

#include <stddef.h>
#include <string.h>

#define STR(sec, name) CONF_STR, offsetof(struct kura_conf, sec.name)
#define UINT(sec, name) CONF_UINT, offsetof(struct kura_conf, sec.name)
#define ENUM(sec, name) CONF_ENUM, offsetof(struct kura_conf, sec.name)

static int valid_listen(const char *v, struct kura_buf *why);
static int valid_origin(const char *v, struct kura_buf *why);
static int valid_hosts(const char *v, struct kura_buf *why);
static int valid_proxies(const char *v, struct kura_buf *why);
static int valid_path(const char *v, struct kura_buf *why);
static int valid_opt_path(const char *v, struct kura_buf *why);
static int valid_opt_paths(const char *v, struct kura_buf *why);
static int valid_opt_relay(const char *v, struct kura_buf *why);
static int valid_opt_email(const char *v, struct kura_buf *why);
static int valid_opt_emails(const char *v, struct kura_buf *why);
static int valid_opt_text(const char *v, struct kura_buf *why);
static int valid_opt_https(const char *v, struct kura_buf *why);
static int valid_opt_hours(const char *v, struct kura_buf *why);
static int valid_opt_pw_len(const char *v, struct kura_buf *why);
static int valid_opt_charset(const char *v, struct kura_buf *why);
static int valid_opt_classes(const char *v, struct kura_buf *why);
static int valid_opt_nclasses(const char *v, struct kura_buf *why);
static int valid_opt_yesno(const char *v, struct kura_buf *why);
static int valid_opt_history(const char *v, struct kura_buf *why);
static int valid_opt_age(const char *v, struct kura_buf *why);
static int valid_opt_mfa(const char *v, struct kura_buf *why);
static int valid_opt_failures(const char *v, struct kura_buf *why);
static int valid_opt_lockout_mode(const char *v, struct kura_buf *why);
static int valid_opt_backoff_max(const char *v, struct kura_buf *why);
static int valid_opt_id_len(const char *v, struct kura_buf *why);
static int valid_opt_id_charset(const char *v, struct kura_buf *why);
static int valid_opt_reason(const char *v, struct kura_buf *why);

static const char *const tls_versions[] = {"1.2", "1.3", NULL};
static const char *const log_levels[] = {"error", "warning", "info", "debug", NULL};
static const char *const mail_tls_modes[] = {"starttls", "implicit", "none", NULL};
/* RFC 5425 only: librelp gives no per-message acknowledgement to build on (src/syslog). */
static const char *const syslog_protocols[] = {"tls", NULL};
static const char *const syslog_facilities[] = {"auth",   "local0", "local1", "local2", "local3",
                                                "local4", "local5", "local6", "local7", NULL};
/* The password policy profiles (the identity issue implements each one's rules). */
static const char *const lockout_scopes[] = {"account", "account+source", NULL};
static const char *const password_profiles[] = {"kura-default", "nist", "mhlw6-a", "mhlw6-b",
                                                "mhlw6-c",      "nbdc", "ccat",    "iso27001",
                                                "kiyosu",       NULL};

const struct conf_key kura_conf_keys[] = {
    /* [http] */
    {"http", "listen", STR(http, listen), "127.0.0.1:8443", 0, 0, NULL, NULL, valid_listen,
     "a numeric IPv4 or [IPv6] address and a port, e.g. 127.0.0.1:8443 or [::]:443",
     "Address and port of the HTTPS listener (there is no plaintext listener)"},
    {"http", "public_url", STR(http, public_url), "https://localhost:8443", 0, 0, NULL, NULL,
     valid_origin, "https://host[:port] with no path",
     "Canonical origin users reach kura at; its host is always an allowed Host"},
    {"http", "allowed_hosts", STR(http, allowed_hosts), "", 0, 0, NULL, NULL, valid_hosts,
     "comma-separated host or host:port entries (DNS names or IP literals), at most 64",
     "Further Host header values to accept besides public_url's (DNS-rebinding defence)"},
    {"http", "trusted_proxies", STR(http, trusted_proxies), "", 0, 0, NULL, NULL, valid_proxies,
     "comma-separated addresses or CIDR ranges, at most 64",
     "Reverse proxies whose X-Forwarded-For header is believed for the client address"},
    {"http", "threads", UINT(http, threads), "0", 0, 64, "threads", NULL, NULL, NULL,
     "Event-loop threads serving connections; 0 means one per CPU"},
    {"http", "max_connections", UINT(http, max_connections), "1024", 16, 100000, "connections",
     NULL, NULL, NULL, "Open connections at most; further clients wait in the kernel backlog"},
    {"http", "per_ip_connections", UINT(http, per_ip_connections), "128", 0, 100000, "connections",
     NULL, NULL, NULL,
     "Open connections per client address at most (0: no limit); excess sockets are closed"},
    {"http", "header_timeout", UINT(http, header_timeout), "20", 1, 3600, "seconds", NULL, NULL,
     NULL,
     "Time a connection has to deliver complete request headers, counted from accept or from "
     "the previous response (bounds slow-loris clients and idle keep-alive)"},
    {"http", "idle_timeout", UINT(http, idle_timeout), "60", 1, 86400, "seconds", NULL, NULL, NULL,
     "A connection with no traffic in either direction for this long is closed"},
    {"http", "min_upload_rate", UINT(http, min_upload_rate), "1024", 0, 1073741824,
     "bytes per second", NULL, NULL, NULL,
     "Request bodies slower than this over each upload_rate_window are cut off (0: off)"},
    {"http", "upload_rate_window", UINT(http, upload_rate_window), "20", 1, 3600, "seconds", NULL,
     NULL, NULL, "Window over which min_upload_rate is measured"},
    {"http", "max_uri_bytes", UINT(http, max_uri_bytes), "8192", 256, 65536, "bytes", NULL, NULL,
     NULL, "Longest request target accepted; longer ones get 414"},
    {"http", "max_header_bytes", UINT(http, max_header_bytes), "16384", 1024, 1048576, "bytes",
     NULL, NULL, NULL, "Largest total size of request header fields; larger ones get 431"},
    {"http", "max_body_bytes", UINT(http, max_body_bytes), "1048576", 1024, 1073741824, "bytes",
     NULL, NULL, NULL,
     "Largest request body for endpoints without their own limit (the JSON API); 413 beyond"},
    {"http", "shutdown_timeout", UINT(http, shutdown_timeout), "30", 0, 3600, "seconds", NULL, NULL,
     NULL, "On SIGTERM or SIGINT, time given to requests in flight before exiting"},
    {"http", "hsts_max_age", UINT(http, hsts_max_age), "31536000", 0, 126144000, "seconds", NULL,
     NULL, NULL, "max-age of the Strict-Transport-Security header (0 disables HSTS)"},
    {"http", "work_threads", UINT(http, work_threads), "4", 1, 256, "threads", NULL, NULL, NULL,
     "Threads for blocking work (durable writes, storage) behind suspended connections"},
    {"http", "work_queue", UINT(http, work_queue), "1024", 1, 100000, "jobs", NULL, NULL, NULL,
     "Blocking jobs waiting at most; beyond it requests get 503 with Retry-After"},
    /* [tls] */
    /* [keys] */
    {"keys", "passphrase_file", STR(keys, passphrase_file), "", 0, 0, NULL, NULL, valid_opt_path,
     "empty, or an absolute file path (mode 0600 or 0400, owned by kura's user)",
     "File holding the passphrase that protects keys/c4gh.sec (scrypt). Empty: the systemd "
     "credential $CREDENTIALS_DIRECTORY/kura-c4gh-passphrase when there is one, else the key is "
     "stored unencrypted. Never read from an environment variable (visible in /proc)"},
    {"tls", "cert_file", STR(tls, cert_file), "keys/tls.crt", 0, 0, NULL, NULL, valid_path,
     "a file path, absolute or relative to the data folder",
     "PEM certificate chain presented to clients"},
    {"tls", "key_file", STR(tls, key_file), "keys/tls.key", 0, 0, NULL, NULL, valid_path,
     "a file path, absolute or relative to the data folder; mode 0600",
     "PEM private key of the certificate (refused if group or others can read it)"},
    {"tls", "min_version", ENUM(tls, min_version), "1.2", 0, 0, NULL, tls_versions, NULL, NULL,
     "Oldest TLS version accepted; only AEAD cipher suites are ever offered"},
    /* [log] */
    {"log", "level", ENUM(log, level), "info", 0, 0, NULL, log_levels, NULL, NULL,
     "Least severe operational-log level written to stderr (the audit log is separate)"},
    /* [audit] */
    {"audit", "retention_days", UINT(audit, retention_days), "1827", 397, 36525, "days", NULL, NULL,
     NULL,
     "Audit records are kept this long (default 5 years); older payloads are pruned, hashes kept"},
    {"audit", "searchable_days", UINT(audit, searchable_days), "397", 397, 36525, "days", NULL,
     NULL, NULL, "Records this recent are in the search index (at least 13 months)"},
    {"audit", "heartbeat_interval", UINT(audit, heartbeat_interval), "300", 10, 3600, "seconds",
     NULL, NULL, NULL,
     "A heartbeat record with the time and the clock-sync status is written this often"},
    {"audit", "warn_free_mb", UINT(audit, warn_free_mb), "1024", 0, 1048576, "MiB", NULL, NULL,
     NULL, "Below this much free space on the audit log's filesystem, an alert is raised"},
    {"audit", "refuse_free_mb", UINT(audit, refuse_free_mb), "128", 1, 1048576, "MiB", NULL, NULL,
     NULL, "Below this much free space, audited requests are refused (503) rather than unrecorded"},
    {"audit", "witness_file", STR(audit, witness_file), "", 0, 0, NULL, NULL, valid_opt_path,
     "empty, or an absolute file path (preferably on another filesystem)",
     "Every signed checkpoint is also appended to this file (a witness on another mount)"},
    {"audit", "witness_read", STR(audit, witness_read), "", 0, 0, NULL, NULL, valid_opt_paths,
     "empty, or comma-separated absolute file paths",
     "Files kura audit verify reads witnessed checkpoints from (syslog archive, mail, witness)"},
    {"audit", "digest_to", STR(audit, digest_to), "", 0, 0, NULL, NULL, valid_opt_emails,
     "empty, or comma-separated e-mail addresses",
     "The audit officer(s) who get the daily digest of checkpoints by mail"},
    /* [alerts] */
    {"alerts", "mail_to", STR(alerts, mail_to), "", 0, 0, NULL, NULL, valid_opt_emails,
     "empty, or comma-separated e-mail addresses",
     "Who is told of alerts (grouped: a burst of hits sends one mail)"},
    {"alerts", "webhook_url", STR(alerts, webhook_url), "", 0, 0, NULL, NULL, valid_opt_https,
     "empty, or an https:// URL (its certificate is verified)",
     "Alerts are also POSTed here as JSON (admin-configured URL only)"},
    {"alerts", "webhook_ca_file", STR(alerts, webhook_ca_file), "", 0, 0, NULL, NULL,
     valid_opt_path, "empty (the system's CAs), or an absolute path",
     "PEM file of the CAs that the webhook's certificate must chain to (then only these)"},
    {"alerts", "quiet_minutes", UINT(alerts, quiet_minutes), "60", 1, 10080, "minutes", NULL, NULL,
     NULL, "Further hits of an open alert within this time add to it instead of raising a new one"},
    {"alerts", "mail_delay", UINT(alerts, mail_delay), "60", 1, 3600, "seconds", NULL, NULL, NULL,
     "Alerts raised within this time of the first unsent one go out in the same mail"},
    {"alerts", "auth_failures", UINT(alerts, auth_failures), "5", 1, 1000, "failures", NULL, NULL,
     NULL, "Consecutive failed logins of one account that raise an alert"},
    {"alerts", "source_failures", UINT(alerts, source_failures), "20", 1, 100000, "failures", NULL,
     NULL, NULL, "Failed logins from one address within source_window that raise an alert"},
    {"alerts", "source_window", UINT(alerts, source_window), "600", 10, 86400, "seconds", NULL,
     NULL, NULL, "Window for source_failures and malformed"},
    {"alerts", "access_denied", UINT(alerts, access_denied), "10", 1, 100000, "requests", NULL,
     NULL, NULL,
     "Refused requests of one user or address within access_window that raise an alert"},
    {"alerts", "access_window", UINT(alerts, access_window), "300", 10, 86400, "seconds", NULL,
     NULL, NULL, "Window for access_denied"},
    {"alerts", "malformed", UINT(alerts, malformed), "20", 1, 100000, "requests", NULL, NULL, NULL,
     "Malformed requests (bad path, framing, headers) from one address that raise an alert"},
    {"alerts", "transfer_mb", UINT(alerts, transfer_mb), "10240", 1, 104857600, "MiB per hour",
     NULL, NULL, NULL, "Data one user reads within an hour that raises a mass-transfer alert"},
    {"alerts", "transfer_files", UINT(alerts, transfer_files), "1000", 1, 100000000,
     "files per hour", NULL, NULL, NULL,
     "Files one user reads within an hour that raise a mass-transfer alert"},
    {"alerts", "off_hours", STR(alerts, off_hours), "", 0, 0, NULL, NULL, valid_opt_hours,
     "empty (off), or HH:MM-HH:MM in UTC, e.g. 13:00-21:00 for 22:00-06:00 JST",
     "Data access by users in these hours raises an alert (optional rule)"},
    {"alerts", "usual_networks", STR(alerts, usual_networks), "", 0, 0, NULL, NULL, valid_proxies,
     "empty (off), or comma-separated addresses and ranges (CIDR), at most 64",
     "Requests by users from outside these networks raise an alert (optional rule)"},
    /* [mail] */
    {"mail", "relay", STR(mail, relay), "", 0, 0, NULL, NULL, valid_opt_relay,
     "empty (mail disabled), or host:port of the SMTP relay",
     "SMTP relay that kura hands its mail to (the relayhost of a local postfix, for example)"},
    {"mail", "tls", ENUM(mail, tls), "starttls", 0, 0, NULL, mail_tls_modes, NULL, NULL,
     "STARTTLS required, implicit TLS, or none (plaintext: only for a relay on this host)"},
    {"mail", "ca_file", STR(mail, ca_file), "", 0, 0, NULL, NULL, valid_opt_path,
     "empty (the system's CAs), or a PEM file path",
     "Certificate authorities trusted for the relay's certificate; it is always verified"},
    {"mail", "from", STR(mail, from), "", 0, 0, NULL, NULL, valid_opt_email,
     "empty, or an e-mail address", "Sender address of kura's mail"},
    {"mail", "username", STR(mail, username), "", 0, 0, NULL, NULL, valid_opt_text,
     "empty (no authentication), or a user name", "SMTP AUTH user name at the relay"},
    {"mail", "password_file", STR(mail, password_file), "", 0, 0, NULL, NULL, valid_opt_path,
     "empty, or an absolute path to a file readable only by kura's user",
     "File holding the SMTP AUTH password (never the password itself in kura.conf)"},
    {"mail", "timeout", UINT(mail, timeout), "30", 1, 600, "seconds", NULL, NULL, NULL,
     "Time allowed for one delivery attempt"},
    {"mail", "retry_hours", UINT(mail, retry_hours), "72", 1, 720, "hours", NULL, NULL, NULL,
     "Undeliverable mail is retried with growing delays for this long, then reported failed"},
    /* [syslog] */
    {"syslog", "target", STR(syslog, target), "", 0, 0, NULL, NULL, valid_opt_relay,
     "empty (forwarding off), or host:port of the collector",
     "Syslog collector that receives every audit record and checkpoint (RFC 5424 over TLS)"},
    {"syslog", "protocol", ENUM(syslog, protocol), "tls", 0, 0, NULL, syslog_protocols, NULL, NULL,
     "Transport: RFC 5425 TLS with octet counting; at-least-once, duplicates carry their index"},
    {"syslog", "ca_file", STR(syslog, ca_file), "", 0, 0, NULL, NULL, valid_opt_path,
     "empty (the system's CAs), or an absolute PEM file path",
     "Certificate authorities trusted for the collector's certificate; it is always verified"},
    {"syslog", "cert_file", STR(syslog, cert_file), "", 0, 0, NULL, NULL, valid_opt_path,
     "empty, or an absolute PEM file path; set together with key_file",
     "Client certificate chain presented to the collector (mutual TLS)"},
    {"syslog", "key_file", STR(syslog, key_file), "", 0, 0, NULL, NULL, valid_opt_path,
     "empty, or an absolute PEM file path; mode 0600",
     "Private key of cert_file (refused if group or others can read it)"},
    {"syslog", "facility", ENUM(syslog, facility), "auth", 0, 0, NULL, syslog_facilities, NULL,
     NULL, "Syslog facility of the messages (severity: info for records, notice for checkpoints)"},
    {"syslog", "enterprise_number", UINT(syslog, enterprise_number), "32473", 1, 4294967295,
     "IANA private enterprise number", NULL, NULL, NULL,
     "Number in the structured-data ID kura@N; 32473 is RFC 5612's documentation example"},
    {"syslog", "alert_after", UINT(syslog, alert_after), "300", 10, 86400, "seconds", NULL, NULL,
     NULL, "A syslog_failing alert is raised when records wait this long unconfirmed"},
    /* [password] */
    {"password", "profile", ENUM(password, profile), "kura-default", 0, 0, NULL, password_profiles,
     NULL, NULL,
     "Password policy profile: kura-default, NIST SP 800-63B, the three MHLW 6.0 examples, or "
     "the rule set of a source document (nbdc, ccat, iso27001, kiyosu)"},
    {"password", "lockout_scope", ENUM(password, lockout_scope), "account", 0, 0, NULL,
     lockout_scopes, NULL, NULL,
     "What consecutive failures lock: the account everywhere (the source documents' rule), or "
     "the account from that source address only, so that an attacker cannot lock a known ID "
     "out of every network (each address then gets its own allowance)"},
    {"password", "hash_opslimit", UINT(password, hash_opslimit), "2", 1, 100, "passes", NULL, NULL,
     NULL, "Argon2id time cost; hashes made with other costs are upgraded at next login"},
    {"password", "hash_memlimit_kib", UINT(password, hash_memlimit_kib), "65536", 8, 4194304, "KiB",
     NULL, NULL, NULL, "Argon2id memory cost per hash"},
    {"password", "hash_workers", UINT(password, hash_workers), "2", 1, 64, "threads", NULL, NULL,
     NULL, "Password hashes computed at once at most; each needs hash_memlimit_kib of memory"},
    /* Overrides of the profile's knobs (src/auth/policy.h); empty: as the profile says. The
     * ranges here are those of auth's KURA_PASSWORD_* limits, which resolve checks again. */
    {"password", "min_length", STR(password, min_length), "", 0, 0, NULL, NULL, valid_opt_pw_len,
     "empty (from the profile), or a whole number from 1 to 256 (characters)",
     "Shortest password, in Unicode characters after NFKC normalisation"},
    {"password", "max_length", STR(password, max_length), "", 0, 0, NULL, NULL, valid_opt_pw_len,
     "empty (from the profile), or a whole number from 1 to 256 (characters)",
     "Longest password, in Unicode characters after NFKC normalisation"},
    {"password", "charset", STR(password, charset), "", 0, 0, NULL, NULL, valid_opt_charset,
     "empty (from the profile), any, or alnum",
     "Characters a password may use: any Unicode, or ASCII letters and digits only"},
    {"password", "required_classes", STR(password, required_classes), "", 0, 0, NULL, NULL,
     valid_opt_classes,
     "empty (from the profile), none, or a comma-separated list of lower, upper, digit, symbol, "
     "letter",
     "Character classes that must each occur in a password (letter: any letter, kana and kanji "
     "included)"},
    {"password", "min_classes", STR(password, min_classes), "", 0, 0, NULL, NULL,
     valid_opt_nclasses, "empty (from the profile), or a whole number from 0 to 4",
     "A password must contain at least this many of upper-case, lower-case, digit and symbol"},
    {"password", "forbid_user_info", STR(password, forbid_user_info), "", 0, 0, NULL, NULL,
     valid_opt_yesno, "empty (from the profile), yes, or no",
     "Refuse passwords containing the user ID, name, e-mail local part or site name"},
    {"password", "dictionary", STR(password, dictionary), "", 0, 0, NULL, NULL, valid_opt_yesno,
     "empty (from the profile), yes, or no",
     "Refuse passwords that libcrack2's dictionary check rejects (needs cracklib-runtime)"},
    {"password", "history", STR(password, history), "", 0, 0, NULL, NULL, valid_opt_history,
     "empty (from the profile), or a whole number from 0 to 100 (passwords)",
     "A new password may not be one of this many previous ones (0: no history)"},
    {"password", "max_age_days", STR(password, max_age_days), "", 0, 0, NULL, NULL, valid_opt_age,
     "empty (from the profile), or a whole number from 0 to 3650 (days)",
     "Passwords expire after this many days (0: never; NIST advises against expiry)"},
    {"password", "inactive_days", UINT(password, inactive_days), "90", 0, 3650, "days", NULL, NULL,
     NULL,
     "Active accounts not used for this many days are disabled by the daily account check; the "
     "last usable administrator is kept (0: never disable)"},
    {"password", "change_first_login", STR(password, change_first_login), "", 0, 0, NULL, NULL,
     valid_opt_yesno, "empty (from the profile), yes, or no",
     "Passwords issued by an administrator or the helpdesk must be changed at first login"},
    {"password", "mfa", STR(password, mfa), "", 0, 0, NULL, NULL, valid_opt_mfa,
     "empty (from the profile), none, privileged, or all",
     "Which accounts must use multi-factor authentication"},
    {"password", "lockout_threshold", STR(password, lockout_threshold), "", 0, 0, NULL, NULL,
     valid_opt_failures, "empty (from the profile), or a whole number from 0 to 1000 (failures)",
     "Consecutive failed logins that lock the account, with an alert (0: never lock)"},
    {"password", "lockout_mode", STR(password, lockout_mode), "", 0, 0, NULL, NULL,
     valid_opt_lockout_mode,
     "empty (from the profile), until-reset, or a duration from 1s to 30d such as 15m or 1h",
     "How long a locked account stays locked: until unlocked by an administrator or the "
     "helpdesk, or for a time"},
    {"password", "backoff_after", STR(password, backoff_after), "", 0, 0, NULL, NULL,
     valid_opt_failures, "empty (from the profile), or a whole number from 0 to 1000 (failures)",
     "From this consecutive failed login on, answer 429 with a doubling Retry-After (0: off)"},
    {"password", "backoff_max_seconds", STR(password, backoff_max_seconds), "", 0, 0, NULL, NULL,
     valid_opt_backoff_max, "empty (from the profile), or a whole number from 1 to 86400 (seconds)",
     "Largest Retry-After of the back-off"},
    {"password", "id_min_length", STR(password, id_min_length), "", 0, 0, NULL, NULL,
     valid_opt_id_len, "empty (from the profile), or a whole number from 1 to 255 (bytes)",
     "Shortest login ID"},
    {"password", "id_max_length", STR(password, id_max_length), "", 0, 0, NULL, NULL,
     valid_opt_id_len, "empty (from the profile), or a whole number from 1 to 255 (bytes)",
     "Longest login ID"},
    {"password", "id_charset", STR(password, id_charset), "", 0, 0, NULL, NULL,
     valid_opt_id_charset, "empty (from the profile), default, or alnum",
     "Characters of login IDs: default (a-z and 0-9, then also . _ -) or alnum (A-Z, a-z, 0-9)"},
    /* [session] */
    {"session", "idle_minutes", UINT(session, idle_minutes), "15", 1, 1440, "minutes", NULL, NULL,
     NULL, "A session unused this long ends (NBDC guideline: 15 minutes)"},
    {"session", "absolute_hours", UINT(session, absolute_hours), "12", 1, 720, "hours", NULL, NULL,
     NULL, "A session ends this long after its login, however busy"},
    {"session", "elevation_minutes", UINT(session, elevation_minutes), "30", 1, 480, "minutes",
     NULL, NULL, NULL,
     "How long an elevation (TOTP re-entered for administrator, operator, helpdesk or auditor "
     "work) lasts"},
    {"session", "throttle_exempt", STR(session, throttle_exempt), "", 0, 0, NULL, NULL,
     valid_proxies, "empty, or comma-separated addresses and ranges (CIDR), at most 64",
     "Sources whose failed logins are not throttled by address (the login ID's back-off and the "
     "account lockout still apply)"},
    /* [store] */
    {"store", "versions_keep", UINT(store, versions_keep), "10", 0, 1000, NULL, NULL, NULL, NULL,
     "Earlier versions kept of every file when it is overwritten (the oldest beyond go)"},
    {"store", "trash_days", UINT(store, trash_days), "30", 0, 3650, "days", NULL, NULL, NULL,
     "Deleted files stay restorable in the trash this long, then are purged (crypto-shredded)"},
    {"store", "quota_mb", UINT(store, quota_mb), "0", 0, UINT64_C(1) << 40, "MiB", NULL, NULL, NULL,
     "Quota of a new personal space in MiB, versions and trash included (0: no limit); 507 "
     "Insufficient Storage beyond it"},
    {"store", "lock_max_seconds", UINT(store, lock_max_seconds), "3600", 1, 604800, "seconds", NULL,
     NULL, NULL, "Longest WebDAV lock a client may take or refresh (Timeout header capped)"},
    {"store", "backup_retention_days", UINT(store, backup_retention_days), "35", 0, 3650, "days",
     NULL, NULL, NULL,
     "How long backups are kept: a purge's deletion certificate states that backups made before "
     "it may hold the file's header (its key) until this many days after the purge"},
    /* [compliance] */
    {"compliance", "override_reason", STR(compliance, override_reason), "", 0, 0, NULL, NULL,
     valid_opt_reason, "empty, or text of at most 1000 bytes",
     "Why kura may run although the compliance lint reports errors (audited at every start)"},
};

const size_t kura_conf_nkeys = KURA_ARRAY_SIZE(kura_conf_keys);

int conf_key_find(const char *section, size_t section_len, const char *key, size_t key_len)
{
    struct kura_str s = {section, section_len}, k = {key, key_len};
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        if (kura_str_eq_c(s, kura_conf_keys[i].section) &&
            kura_str_eq_c(k, kura_conf_keys[i].key)) {
            return (int)i;
        }
    }
    return -1;
}

bool conf_section_known(const char *section, size_t len)
{
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        if (kura_str_eq_c(kura_str_make(section, len), kura_conf_keys[i].section)) {
            return true;
        }
    }
    return false;
}

void conf_describe_allowed(const struct conf_key *k, struct kura_buf *out)
{
    char lo[KURA_NUM_STR_MAX], hi[KURA_NUM_STR_MAX];
    switch (k->type) {
    case CONF_UINT:
        kura_buf_addf(out, "a whole number from %s to %s (%s)", kura_fmt_u64(lo, k->min),
                      kura_fmt_u64(hi, k->max), k->unit);
        break;
    case CONF_ENUM:
        kura_buf_adds(out, "one of ");
        for (const char *const *c = k->choices; *c; c++) {
            kura_buf_addf(out, "%s%s", c == k->choices ? "" : ", ", *c);
        }
        break;
    case CONF_STR:
        kura_buf_adds(out, k->allowed);
        break;
    }
}

static char **str_field(struct kura_conf *c, const struct conf_key *k)
{
    return (char **)(void *)((char *)c + k->offset); /* offsetof: aligned */
}

static uint64_t *uint_field(struct kura_conf *c, const struct conf_key *k)
{
    return (uint64_t *)(void *)((char *)c + k->offset);
}

int conf_assign(struct kura_conf *c, const struct conf_key *k, const char *value,
                struct kura_buf *why)
{
    size_t len = strlen(value);
    switch (k->type) {
    case CONF_UINT: {
        uint64_t v;
        if (kura_parse_u64(value, len, k->max, &v) < 0 || v < k->min) {
            return KURA_ECONFIG;
        }
        *uint_field(c, k) = v;
        return 0;
    }
    case CONF_ENUM:
        for (const char *const *ch = k->choices; *ch; ch++) {
            if (strcmp(value, *ch) == 0) {
                goto store_string;
            }
        }
        return KURA_ECONFIG;
    case CONF_STR:
        if (k->validate) {
            int r = k->validate(value, why);
            if (r < 0) {
                return r;
            }
        }
        goto store_string;
    }
    return KURA_ECONFIG;
store_string : {
    char *copy = kura_strdup(value);
    if (!copy) {
        return -ENOMEM;
    }
    char **field = str_field(c, k);
    kura_free(*field);
    *field = copy;
    return 0;
}
}

struct kura_conf *kura_conf_new(void)
{
    struct kura_conf *c = kura_calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    c->lines = kura_calloc(kura_conf_nkeys, sizeof(*c->lines));
    if (!c->lines) {
        return kura_conf_free(c);
    }
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        struct kura_buf why = KURA_BUF_INIT(256);
        int r = conf_assign(c, &kura_conf_keys[i], kura_conf_keys[i].def, &why);
        kura_buf_release(&why);
        /* A default that fails its own validator is a bug in the table (test-conf checks). */
        if (r < 0) {
            return kura_conf_free(c);
        }
    }
    return c;
}

struct kura_conf *kura_conf_free(struct kura_conf *c)
{
    if (!c) {
        return NULL;
    }
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        if (kura_conf_keys[i].type != CONF_UINT) {
            kura_free(*str_field(c, &kura_conf_keys[i]));
        }
    }
    kura_free(c->lines);
    kura_free(c->path);
    kura_free(c);
    return NULL;
}

unsigned kura_conf_key_line(const struct kura_conf *c, const char *section, const char *key)
{
    int i = conf_key_find(section, strlen(section), key, strlen(key));
    return i < 0 ? 0 : c->lines[i];
}

int kura_conf_set(struct kura_conf *c, const char *section, const char *key, const char *value,
                  struct kura_buf *ret_err)
{
    int i = conf_key_find(section, strlen(section), key, strlen(key));
    if (i < 0) {
        if (ret_err) {
            kura_buf_addf(ret_err, "unknown configuration key '%s.%s'", section, key);
        }
        return KURA_ECONFIG;
    }
    const struct conf_key *k = &kura_conf_keys[i];
    struct kura_buf why = KURA_BUF_INIT(1024);
    int r = conf_assign(c, k, value, &why);
    if (r == KURA_ECONFIG && ret_err) {
        kura_buf_addf(ret_err, "[%s] %s = '", section, key);
        kura_buf_add_escaped(ret_err, value, strlen(value));
        kura_buf_adds(ret_err, "': invalid value");
        if (why.len) {
            kura_buf_addf(ret_err, " (%s)", why.ptr);
        }
        kura_buf_adds(ret_err, "; allowed: ");
        conf_describe_allowed(k, ret_err);
    }
    kura_buf_release(&why);
    return r;
}

/* ---- writing kura.conf and the reference -------------------------------------------------- */

static const char *value_text(const struct kura_conf *c, const struct conf_key *k, char *num)
{
    if (k->type == CONF_UINT) {
        return kura_fmt_u64(num, *uint_field((struct kura_conf *)c, k));
    }
    return *str_field((struct kura_conf *)c, k);
}

int kura_conf_foreach(const struct kura_conf *c, kura_conf_each_fn fn, void *ctx)
{
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        const struct conf_key *k = &kura_conf_keys[i];
        char num[KURA_NUM_STR_MAX];
        const char *v = value_text(c, k, num);
        int r = fn(ctx, k->section, k->key, v, strcmp(v, k->def) == 0);
        if (r != 0) {
            return r;
        }
    }
    return 0;
}

int kura_conf_write(const struct kura_conf *c, struct kura_buf *out)
{
    kura_buf_adds(out, "# kura configuration. Every key is listed with its current value and a "
                       "one-line description;\n"
                       "# docs/configuration.md is the full reference. Unknown sections or keys "
                       "are errors.\n"
                       "# Syntax: [section], key = value, comments on their own line.\n");
    const char *section = "";
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        const struct conf_key *k = &kura_conf_keys[i];
        char num[KURA_NUM_STR_MAX];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            kura_buf_addf(out, "\n[%s]\n", section);
        }
        kura_buf_addf(out, "# %s.\n", k->doc);
        const char *v = value_text(c, k, num);
        /* Quote values whose edges would otherwise be trimmed or that begin with a quote. */
        size_t n = strlen(v);
        bool quote = n > 0 && (v[0] == ' ' || v[0] == '\t' || v[0] == '"' || v[n - 1] == ' ' ||
                               v[n - 1] == '\t');
        kura_buf_addf(out, "%s =%s%s%s%s\n", k->key, n ? " " : "", quote ? "\"" : "", v,
                      quote ? "\"" : "");
    }
    return kura_buf_err(out);
}

int kura_conf_reference(struct kura_buf *out)
{
    kura_buf_adds(out,
                  "# Configuration reference\n\n"
                  "<!-- Generated by `kura config reference`; a test keeps this file current. "
                  "-->\n\n"
                  "kura reads `DATA/kura.conf`, an INI file: `[section]` headers, `key = value` "
                  "lines and\ncomment lines starting with `#` or `;`. A value may be enclosed in "
                  "double quotes, which are\nremoved. There are no inline comments. Unknown "
                  "sections, unknown keys, duplicate keys and invalid\nvalues stop kura with a "
                  "message naming file:line, the key and the allowed values. A key that is\n"
                  "absent takes its default. `kura init` writes every key with its default.\n");
    const char *section = "";
    for (size_t i = 0; i < kura_conf_nkeys; i++) {
        const struct conf_key *k = &kura_conf_keys[i];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            kura_buf_addf(out,
                          "\n## [%s]\n\n| key | default | allowed | description |\n"
                          "|---|---|---|---|\n",
                          section);
        }
        kura_buf_addf(out, "| `%s` | `%s` | ", k->key, k->def[0] ? k->def : "\"\"");
        conf_describe_allowed(k, out);
        kura_buf_addf(out, " | %s |\n", k->doc);
    }
    return kura_buf_err(out);
}

/* ---- validators ---------------------------------------------------------------------------- */

static int valid_listen(const char *v, struct kura_buf *why)
{
    struct sockaddr_storage ss;
    socklen_t len;
    (void)why;
    return kura_conf_parse_listen(v, &ss, &len) < 0 ? KURA_ECONFIG : 0;
}

static int valid_origin(const char *v, struct kura_buf *why)
{
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    (void)why;
    return kura_conf_parse_origin(v, host, &port) < 0 ? KURA_ECONFIG : 0;
}

static int check_host(struct kura_str entry, void *ctx)
{
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    (void)ctx;
    return conf_parse_hostport(entry, host, &port);
}

static int check_cidr(struct kura_str entry, void *ctx)
{
    struct kura_cidr cidr;
    (void)ctx;
    return kura_conf_parse_cidr(entry.ptr, entry.len, &cidr);
}

/* Validates a list value entry by entry, naming the entry at fault. */
static int valid_list(const char *v, size_t max, kura_conf_list_fn check, const char *what,
                      struct kura_buf *why)
{
    struct kura_str bad = KURA_STR_NULL;
    int r = kura_conf_list_each(v, max, check, NULL, &bad);
    if (r < 0) {
        kura_buf_adds(why, "entry '");
        kura_buf_add_escaped(why, bad.ptr, bad.len);
        kura_buf_adds(why, r == KURA_ETOOBIG ? "' is one too many" : what);
        return KURA_ECONFIG;
    }
    return 0;
}

static int valid_hosts(const char *v, struct kura_buf *why)
{
    return valid_list(v, KURA_CONF_MAX_HOSTS, check_host, "' is not a host", why);
}

static int valid_proxies(const char *v, struct kura_buf *why)
{
    return valid_list(v, KURA_CONF_MAX_PROXIES, check_cidr, "' is not an address or range", why);
}

static int valid_opt_path(const char *v, struct kura_buf *why)
{
    if (v[0] == '\0') {
        return 0;
    }
    if (v[0] != '/') {
        kura_buf_adds(why, "not an absolute path");
        return KURA_ECONFIG;
    }
    return valid_path(v, why);
}

static int check_abs_path(struct kura_str entry, void *ctx)
{
    (void)ctx;
    return entry.len > 1 && entry.len < 4096 && entry.ptr[0] == '/' ? 0 : KURA_ECONFIG;
}

static int valid_opt_paths(const char *v, struct kura_buf *why)
{
    return valid_list(v, 16, check_abs_path, "' is not an absolute path", why);
}

static int valid_opt_relay(const char *v, struct kura_buf *why)
{
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    if (v[0] == '\0') {
        return 0;
    }
    if (conf_parse_hostport(kura_str_c(v), host, &port) < 0 || port == 0) {
        kura_buf_adds(why, "expected host:port");
        return KURA_ECONFIG;
    }
    return 0;
}

/* A deliberately plain address check (RFC 5321 mailbox, ASCII): local@domain, no spaces, quotes,
 * angle brackets or control bytes, at most 254 bytes. It is also a header-injection guard. */
static int check_email(struct kura_str e, void *ctx)
{
    (void)ctx;
    const char *at = e.len ? memchr(e.ptr, '@', e.len) : NULL;
    if (!at || at == e.ptr || e.len > 254 ||
        memchr(at + 1, '@', e.len - (size_t)(at + 1 - e.ptr))) {
        return KURA_ECONFIG;
    }
    for (size_t i = 0; i < e.len; i++) {
        unsigned char c = (unsigned char)e.ptr[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>(),;:\\[]", c)) {
            return KURA_ECONFIG;
        }
    }
    struct kura_str domain = {at + 1, e.len - (size_t)(at + 1 - e.ptr)};
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    return conf_parse_hostport(domain, host, &port) == 0 && port == 0 ? 0 : KURA_ECONFIG;
}

static int valid_opt_email(const char *v, struct kura_buf *why)
{
    if (v[0] != '\0' && check_email(kura_str_c(v), NULL) < 0) {
        kura_buf_adds(why, "not an e-mail address");
        return KURA_ECONFIG;
    }
    return 0;
}

static int valid_opt_emails(const char *v, struct kura_buf *why)
{
    return valid_list(v, 16, check_email, "' is not an e-mail address", why);
}

static int valid_opt_text(const char *v, struct kura_buf *why)
{
    if (strlen(v) > 256) {
        kura_buf_adds(why, "longer than 256 bytes");
        return KURA_ECONFIG;
    }
    return 0;
}

static int valid_opt_https(const char *v, struct kura_buf *why)
{
    if (v[0] == '\0') {
        return 0;
    }
    if (strncmp(v, "https://", 8) != 0 || strlen(v) > 2048 || kura_has_ctl(v, strlen(v), false) ||
        strchr(v, ' ')) {
        kura_buf_adds(why, "not an https:// URL");
        return KURA_ECONFIG;
    }
    return 0;
}

/* "HH:MM-HH:MM", both inside a day; the range may wrap midnight. */
int kura_conf_parse_hours(const char *v, unsigned *ret_from_min, unsigned *ret_to_min)
{
    uint64_t h1, m1, h2, m2;
    if (strlen(v) != 11 || v[2] != ':' || v[5] != '-' || v[8] != ':' ||
        kura_parse_u64(v, 2, 23, &h1) < 0 || kura_parse_u64(v + 3, 2, 59, &m1) < 0 ||
        kura_parse_u64(v + 6, 2, 23, &h2) < 0 || kura_parse_u64(v + 9, 2, 59, &m2) < 0) {
        return KURA_ECONFIG;
    }
    *ret_from_min = (unsigned)(h1 * 60 + m1);
    *ret_to_min = (unsigned)(h2 * 60 + m2);
    return 0;
}

static int valid_opt_hours(const char *v, struct kura_buf *why)
{
    unsigned a, b;
    if (v[0] != '\0' && kura_conf_parse_hours(v, &a, &b) < 0) {
        kura_buf_adds(why, "expected HH:MM-HH:MM");
        return KURA_ECONFIG;
    }
    return 0;
}

/* ---- [password] overrides: "" means "from the profile" ----------------------------------- */

int kura_conf_parse_opt_uint(const char *v, uint64_t min, uint64_t max, bool *ret_set,
                             uint64_t *ret)
{
    uint64_t n = 0;
    if (v[0] == '\0') {
        *ret_set = false;
        *ret = 0;
        return 0;
    }
    int r = kura_parse_u64(v, strlen(v), max, &n);
    if (r < 0) {
        return r;
    }
    if (n < min) {
        return KURA_ERANGE;
    }
    *ret_set = true;
    *ret = n;
    return 0;
}

int kura_conf_parse_duration(const char *v, uint64_t max_seconds, uint64_t *ret_seconds)
{
    size_t n = strlen(v);
    uint64_t unit, count;
    if (n < 2) {
        return KURA_ESYNTAX;
    }
    switch (v[n - 1]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return KURA_ESYNTAX;
    }
    int r = kura_parse_u64(v, n - 1, max_seconds / unit, &count);
    if (r < 0) {
        return r;
    }
    if (count == 0) {
        return KURA_ERANGE;
    }
    *ret_seconds = count * unit;
    return 0;
}

static int opt_uint(const char *v, uint64_t min, uint64_t max, struct kura_buf *why)
{
    bool set;
    uint64_t n;
    if (kura_conf_parse_opt_uint(v, min, max, &set, &n) < 0) {
        kura_buf_adds(why, "not empty and not a whole number in range");
        return KURA_ECONFIG;
    }
    return 0;
}

/* v is "" or one of the NULL-terminated words. */
static int opt_word(const char *v, const char *const *words, struct kura_buf *why)
{
    if (v[0] == '\0') {
        return 0;
    }
    for (const char *const *w = words; *w; w++) {
        if (strcmp(v, *w) == 0) {
            return 0;
        }
    }
    kura_buf_adds(why, "unknown word");
    return KURA_ECONFIG;
}

static int valid_opt_pw_len(const char *v, struct kura_buf *why)
{
    return opt_uint(v, 1, 256, why);
}

static int valid_opt_charset(const char *v, struct kura_buf *why)
{
    static const char *const words[] = {"any", "alnum", NULL};
    return opt_word(v, words, why);
}

static int check_class(struct kura_str entry, void *ctx)
{
    (void)ctx;
    static const char *const words[] = {"lower", "upper", "digit", "symbol", "letter"};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(words); i++) {
        if (kura_str_eq_c(entry, words[i])) {
            return 0;
        }
    }
    return KURA_ECONFIG;
}

static int valid_opt_classes(const char *v, struct kura_buf *why)
{
    if (v[0] == '\0' || strcmp(v, "none") == 0) {
        return 0;
    }
    return valid_list(v, 5, check_class, "' is not a character class", why);
}

static int valid_opt_nclasses(const char *v, struct kura_buf *why)
{
    return opt_uint(v, 0, 4, why);
}

static int valid_opt_yesno(const char *v, struct kura_buf *why)
{
    static const char *const words[] = {"yes", "no", NULL};
    return opt_word(v, words, why);
}

static int valid_opt_history(const char *v, struct kura_buf *why)
{
    return opt_uint(v, 0, 100, why);
}

static int valid_opt_age(const char *v, struct kura_buf *why)
{
    return opt_uint(v, 0, 3650, why);
}

static int valid_opt_mfa(const char *v, struct kura_buf *why)
{
    static const char *const words[] = {"none", "privileged", "all", NULL};
    return opt_word(v, words, why);
}

static int valid_opt_failures(const char *v, struct kura_buf *why)
{
    return opt_uint(v, 0, 1000, why);
}

static int valid_opt_lockout_mode(const char *v, struct kura_buf *why)
{
    uint64_t s;
    if (v[0] == '\0' || strcmp(v, "until-reset") == 0) {
        return 0;
    }
    if (kura_conf_parse_duration(v, 30 * 86400, &s) < 0) {
        kura_buf_adds(why, "neither until-reset nor a duration");
        return KURA_ECONFIG;
    }
    return 0;
}

static int valid_opt_backoff_max(const char *v, struct kura_buf *why)
{
    return opt_uint(v, 1, 86400, why);
}

static int valid_opt_id_len(const char *v, struct kura_buf *why)
{
    return opt_uint(v, 1, 255, why);
}

static int valid_opt_id_charset(const char *v, struct kura_buf *why)
{
    static const char *const words[] = {"default", "alnum", NULL};
    return opt_word(v, words, why);
}

static int valid_opt_reason(const char *v, struct kura_buf *why)
{
    if (strlen(v) > 1000) {
        kura_buf_adds(why, "longer than 1000 bytes");
        return KURA_ECONFIG;
    }
    return 0;
}

static int valid_path(const char *v, struct kura_buf *why)
{
    size_t n = strlen(v);
    if (n == 0 || n >= 4096) {
        kura_buf_adds(why, n ? "path too long" : "empty path");
        return KURA_ECONFIG;
    }
    return 0;
}

int kura_conf_check(const struct kura_conf *c, struct kura_buf *ret_err)
{
    if (c->http.per_ip_connections > c->http.max_connections) {
        if (ret_err) {
            kura_buf_addf(ret_err,
                          "%s:%u: [http] per_ip_connections = %llu: larger than max_connections "
                          "(%llu); allowed: 0 to max_connections",
                          c->path ? c->path : "kura.conf",
                          kura_conf_key_line(c, "http", "per_ip_connections"),
                          (unsigned long long)c->http.per_ip_connections,
                          (unsigned long long)c->http.max_connections);
        }
        return KURA_ECONFIG;
    }
    if (strcmp(c->tls.cert_file, c->tls.key_file) == 0) {
        if (ret_err) {
            kura_buf_addf(ret_err,
                          "%s:%u: [tls] key_file: must differ from cert_file (a key file is "
                          "secret, a certificate is not)",
                          c->path ? c->path : "kura.conf",
                          kura_conf_key_line(c, "tls", "key_file"));
        }
        return KURA_ECONFIG;
    }
    return 0;
}
