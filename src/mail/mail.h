/* mail — kura's outgoing mail: message building, a durable spool, and one sender thread that
 * hands the spool to the site's SMTP relay (the postfix `relayhost` of the operating rules that
 * kura replaces). Used for audit alerts, the daily checkpoint digest and account notices.
 *
 * Message (compose.c): RFC 5322 with CRLF line endings, every header line at most 78 columns
 * (RFC 5322 §2.1.1), one text/plain; charset=UTF-8 part in base64 (RFC 2045 §6.8, lines of 76).
 * Headers: Date (UTC, RFC 5322 §3.3), From, To, Subject (RFC 2047 §4.1 "B" encoded-words of
 * whole UTF-8 characters when it is not short printable ASCII, folded one word per line),
 * Message-ID (<random hex@sender's domain>), MIME-Version, Content-Type,
 * Content-Transfer-Encoding and Auto-Submitted: auto-generated (RFC 3834 §5, so that
 * vacation responders stay quiet). Plain text only; the caller writes Japanese and English in
 * the one body. Line breaks in the body become CRLF before encoding.
 *
 * Header injection is impossible by construction: the subject may not contain control bytes
 * or invalid UTF-8, every address passes kura_mail_address_valid (ASCII, no space, quote,
 * angle bracket, comma or control byte), and the body is base64, so no caller text ever
 * reaches a header line or the SMTP dialogue raw. Anything else is refused, not repaired.
 *
 * Spool (spool.c): DATA/spool/mail/<id>, one file per message, mode 0600 in a 0700 folder,
 * written with kura_file_write_atomic (temporary file, fsync, rename, fsync of the folder), so
 * a crash leaves either no message or the whole message, never a part that gets sent. The file
 * is a small text envelope, a blank line, then the message bytes exactly as sent:
 *
 *   kura-mail 1
 *   from <address>                envelope sender (MAIL FROM)
 *   to <address>                  one line per recipient (RCPT TO), 1 to KURA_MAIL_RCPT_MAX
 *   created <wall ms>             when it was queued
 *   attempts <n>                  delivery attempts so far
 *   next <wall ms>                not before this time
 *   error <text>                  optional: why the last attempt failed (one line, no control
 *                                 bytes, under 300 bytes: the relay's reply or libcurl's error)
 *   failed <wall ms>              only in failed/: when kura gave up
 *
 * The envelope is rewritten (atomically) after each failed attempt. Mail that cannot be
 * delivered is rewritten with its reason, then renamed into spool/mail/failed/, where it stays
 * for the operator. Names of pending mail are exactly KURA_MAIL_ID_LEN hex digits; everything
 * else in the folder is ignored, and temporary files older than KURA_MAIL_TMP_MAX_AGE_MS
 * (left by a crash in the middle of a write) are removed.
 *
 * Sender (sender.c): one thread per kura_mailer. It delivers due mail oldest-due first with
 * libcurl (GnuTLS flavour), then sleeps until the next mail falls due, a kick, a stop, or at
 * most KURA_MAIL_RESCAN_MS. TLS: "starttls" (smtp:// + STARTTLS required), "implicit"
 * (smtps://) or "none" (refused unless the relay is on this host: 127.0.0.0/8, ::1, localhost;
 * a warning is logged at start). The peer's certificate and host name are always verified,
 * against [mail] ca_file when set (then only that file), TLS 1.2 at least; environment proxies
 * are ignored. AUTH uses [mail] username and the password in [mail] password_file, which must
 * be a regular file owned by kura's user with no group or other permissions; it is read
 * before each attempt and wiped after it. The EHLO name is [http] public_url's host when that
 * is a DNS name (RFC 5321 §4.1.1.1 asks for the client's FQDN), else libcurl's gethostname().
 *   Outcomes: success removes the spool file. A transient failure (no connection, timeout, TLS
 * failure, any 4xx, and authentication refusals 530/534/535/538, which the operator fixes in
 * the configuration rather than in the message) keeps it, with exponential back-off from
 * KURA_MAIL_BACKOFF_MIN_MS doubling to KURA_MAIL_BACKOFF_MAX_MS, until [mail] retry_hours have
 * passed since it was queued; then it moves to failed/. Any other 5xx reply (greeting, MAIL,
 * RCPT, DATA) is permanent (RFC 5321 §4.2.1): failed/ at once. One rejected recipient fails
 * the whole message (no partial delivery that a retry would duplicate). Each attempt's outcome
 * is one operational log line (mail_sent / mail_deferred / mail_failed) with the id, relay,
 * attempt number and the relay's reply; never the password, the body or the subject.
 *   Delivery is at least once: a crash (or a stop) between the relay's "250" and the removal
 * of the spool file sends the message again later.
 *   All decisions read the one clock (kura_clock_wall_ms), so a test clock shift plus a kick
 * makes retries and expiry happen at once.
 *
 * Disabled mail: when [mail] relay is empty, kura_mail_queue still works (mail waits in the
 * spool and is sent once a relay is configured and kura restarts), and kura_mailer_start
 * returns a handle on which kick and stop do nothing.
 *
 * Threads: kura_mail_queue and kura_mail_spool_count may be called from any thread at any time
 * (each message is its own file under a fresh random name). kura_mailer_kick may be called from
 * any thread while the mailer exists; start and stop from one controlling thread.
 *
 * Limits: at most KURA_MAIL_RCPT_MAX recipients, an address of at most KURA_MAIL_ADDR_MAX
 * bytes, a subject of at most KURA_MAIL_SUBJECT_MAX bytes, a body of at most
 * KURA_MAIL_BODY_MAX bytes. libcurl keeps its own copy of the password during an attempt and
 * frees it without wiping; that copy is outside kura's control.
 */
#pragma once

#include <stdint.h>

#include "base/base.h"
#include "conf/conf.h"

#define KURA_MAIL_RCPT_MAX 32
#define KURA_MAIL_ADDR_MAX 254
#define KURA_MAIL_SUBJECT_MAX 998
#define KURA_MAIL_BODY_MAX (1024 * 1024)
/* A composed message: a body of KURA_MAIL_BODY_MAX line breaks doubles as CRLF, grows by 4/3
 * in base64 plus 2 bytes per 76, and the headers take a few KiB. */
#define KURA_MAIL_MESSAGE_MAX (4 * 1024 * 1024)
#define KURA_MAIL_ID_LEN 32 /* hex digits of 16 random bytes */
#define KURA_MAIL_ID_MAX (KURA_MAIL_ID_LEN + 1)

#define KURA_MAIL_BACKOFF_MIN_MS (30 * 1000)
#define KURA_MAIL_BACKOFF_MAX_MS (60 * 60 * 1000)
#define KURA_MAIL_RESCAN_MS (60 * 1000)
#define KURA_MAIL_TMP_MAX_AGE_MS (15 * 60 * 1000)

/* One message. All fields are borrowed. to holds nto NUL-terminated addresses; subject and
 * body are UTF-8 slices (not NUL-terminated, embedded NUL refused). */
struct kura_mail_msg {
    const char *const *to;
    size_t nto;
    struct kura_str subject;
    struct kura_str body;
};

/* True when s is an address kura will put in a header and an SMTP command: ASCII local@domain,
 * exactly one '@', a non-empty local part, no space, control byte, quote, angle bracket or any
 * of "(),;:\[]", at most KURA_MAIL_ADDR_MAX bytes, and a domain that is a DNS name or IPv4
 * literal (the rule of conf's [audit] digest_to and [mail] from). */
bool kura_mail_address_valid(const char *s);

/* Splits a comma-separated address list (conf's [audit] digest_to, [alerts] mail_to) into at
 * most KURA_MAIL_RCPT_MAX addresses: each is trimmed, copied NUL-terminated into buf (size
 * bytes) and pointed to by to[]. Empty items, and items that no longer fit, are skipped (conf
 * has validated the list). Returns the count. */
size_t kura_mail_split_list(const char *list, char *buf, size_t size,
                            const char *to[static KURA_MAIL_RCPT_MAX]);
/* The envelope and From address: [mail] from, else kura@<host of [http] public_url>. The
 * result is valid until the next call by the same thread. */
const char *kura_mail_from(const struct kura_conf *conf);
/* Builds the RFC 5322 message of m sent by from (see the design note) and appends it to ret,
 * which the caller initialised (KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX) fits every message).
 * Date is now (kura_clock_wall_ms) and the Message-ID random. On failure ret is unchanged
 * (but for the sticky KURA_ETOOBIG of a ret too small for the message).
 * Errors: KURA_EBADHDR (an invalid address; a subject with a control byte or invalid UTF-8),
 * -EINVAL (no recipient; a body with a NUL byte, a bare CR or invalid UTF-8), KURA_ETOOBIG
 * (more than KURA_MAIL_RCPT_MAX recipients, subject or body over its limit, or ret too small),
 * -ENOMEM. */
KURA_MUST_CHECK int kura_mail_compose(const struct kura_mail_msg *m, const char *from,
                                      struct kura_buf *ret);

/* Composes m and stores it durably in spool_dirfd/mail/<id> (the caller passes DATA/spool/;
 * mail/ is created 0700 when missing), due at once. Writes the new id to ret_id. Does not wake
 * a mailer: call kura_mailer_kick afterwards (a mailer also rescans every KURA_MAIL_RESCAN_MS).
 * Errors: those of kura_mail_compose, and -errno from the file system. Any thread. */
KURA_MUST_CHECK int kura_mail_queue(int spool_dirfd, const struct kura_mail_msg *m,
                                    const char *from, char ret_id[static KURA_MAIL_ID_MAX]);

/* Counts mail waiting in spool_dirfd/mail/ and mail given up in spool_dirfd/mail/failed/
 * (0 and 0 when the folders do not exist yet). For status displays and tests. Any thread. */
KURA_MUST_CHECK int kura_mail_spool_count(int spool_dirfd, size_t *ret_pending, size_t *ret_failed);

/* ---- the sender ----------------------------------------------------------------------------- */

struct kura_mailer;

/* Starts the sender for the spool at spool_dirfd/mail/ (dup'ed; the caller keeps its fd) with
 * conf's [mail] section (copied; conf may be freed afterwards). With an empty relay it starts
 * nothing and returns a handle that does nothing. Checks before starting: the relay parses;
 * tls = none only for a loopback relay (warning logged); username and password_file are set
 * together; the password file is a regular file of this user with mode 0600 or stricter
 * (KURA_EKEYMODE otherwise); ca_file, when set, is readable. On failure returns KURA_ECONFIG,
 * KURA_EKEYMODE or -errno and appends one message to reterr (may be NULL). Stop with
 * kura_mailer_stop. */
KURA_MUST_CHECK int kura_mailer_start(int spool_dirfd, const struct kura_conf *conf,
                                      struct kura_mailer **ret, struct kura_buf *reterr);

/* Wakes the sender to look at the spool now (after kura_mail_queue, or after the test clock
 * moved). Cheap, never blocks on delivery; any thread; m may be a disabled handle. */
void kura_mailer_kick(struct kura_mailer *m);

/* Stops the sender: an attempt in progress is abandoned within about a second (its mail stays
 * spooled, as if it had not been tried), the thread is joined, everything freed. Mail still in
 * the spool is sent by the next mailer. Accepts NULL; returns NULL. */
struct kura_mailer *kura_mailer_stop(struct kura_mailer *m);
KURA_DEFINE_FREEP(struct kura_mailer, kura_mailer_stop)
