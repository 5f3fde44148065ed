/* syslog — the syslog witness: every audit record and every signed checkpoint leaves the
 * machine for a remote collector, so that truncating or rewriting the log is caught by a copy
 * that kura cannot reach (issue 3, item 4(a); docs/audit-format.md, "Witness files").
 *
 * Transport: RFC 5424 messages over TLS (RFC 5425) with octet-counting framing
 * ("MSG-LEN SP SYSLOG-MSG", RFC 5425 §4.3), which every collector and SIEM accepts. TLS 1.2 or
 * newer (GnuTLS); the collector's certificate is always verified, against [syslog] ca_file when
 * set (then only that file) or the system's CAs, and its host name (or IP address) must match
 * the target (RFC 5425 §5.2, RFC 6125); SNI is sent for DNS names. [syslog] cert_file and
 * key_file present a client certificate for mutual TLS; the key file must not be readable by
 * group or others (KURA_EKEYMODE).
 *
 * Messages (format.c), one per record and one per checkpoint:
 *
 *   <PRI>1 TIMESTAMP HOSTNAME kura PROCID AUDIT [kura@PEN index="N" origin="O"] BOM record
 *   <PRI>1 TIMESTAMP HOSTNAME kura PROCID CHECKPOINT [kura@PEN size="N"] BOM note
 *
 *  - PRI = facility * 8 + severity (RFC 5424 §6.2.1): facility [syslog] facility (auth = 4,
 *    local0-local7 = 16-23), severity info (6) for records and notice (5) for checkpoints.
 *  - TIMESTAMP: the record's own `time` (so a resent record is byte-identical but for PROCID);
 *    for a checkpoint, the time it is sent. HOSTNAME: gethostname() when it is 1-255 printable
 *    ASCII characters, else "-". PROCID: kura's pid.
 *  - Structured data (RFC 5424 §6.3): SD-ID kura@PEN, PEN = [syslog] enterprise_number, whose
 *    default 32473 is the example Private Enterprise Number of RFC 5612 §2 (documentation use
 *    only: a site with its own IANA number sets it). PARAM-VALUEs escape '"', '\' and ']' with
 *    a backslash (§6.3.3). `index` is the record's index, by which a duplicate is recognised;
 *    a checkpoint carries `size` (its tree size), and no `origin` parameter: the note's own
 *    first line is the origin, and the verifier finds notes by that line, so repeating it just
 *    before the note would turn "origin\"] <origin>" into a note candidate that fails to verify.
 *  - MSG: the UTF-8 BOM (RFC 5424 §6.4) then the record JSON exactly as stored, or the signed
 *    note exactly as in audit/checkpoints (newlines kept; rsyslog stores them as "#012" and
 *    drops the final one, a form `kura audit verify` reads back through [audit] witness_read).
 *  - A message is at most KURA_SYSLOG_MSG_MAX bytes: records are up to 16 KiB, more than the
 *    2,048 / 8,192 octets a receiver must / should accept (RFC 5425 §4.3.1); the collector must
 *    accept messages of that size (rsyslog: global(maxMessageSize="64k")).
 *
 * Queue and cursor: the audit log is the queue; nothing is copied. The forwarder reads records
 * with kura_audit_iter and checkpoints from audit/checkpoints (every checkpoint ever published,
 * appended in order), merged so that a checkpoint of size S is sent after every record below S.
 * Its position is DATA/spool/syslog.cursor (mode 0600, replaced with kura_file_write_atomic):
 *
 *   kura-syslog-cursor 1
 *   confirmed <next record index> <byte offset in audit/checkpoints>
 *   sent <next record index>
 *
 * `confirmed` is the point up to which the collector is known to have read everything; `sent`
 * the point up to which messages were written and flushed to the connection (the kernel has
 * them). A missing file means "from the start": the first run sends the whole log.
 *
 * Delivery guarantee — at least once, in order, duplicates possible: RFC 5425 has no
 * acknowledgement, so the forwarder confirms a stretch of messages by closing the connection:
 * it sends TLS close_notify, shuts down its side of the TCP connection, and counts everything
 * sent as received when the collector then closes the connection cleanly (its close_notify, or
 * a TCP FIN) within KURA_SYSLOG_CONFIRM_TIMEOUT_MS. A peer that closes with bytes still unread
 * in its socket makes the kernel answer with a reset (RFC 1122 §4.2.2.13), which is not taken
 * as a confirmation. The connection is closed this way after KURA_SYSLOG_IDLE_CLOSE_MS without
 * anything to send, after KURA_SYSLOG_BATCH_MAX messages or KURA_SYSLOG_BATCH_MS, and at stop;
 * the next message opens a new connection. After any failure (connect, handshake, write, no
 * clean close, crash or restart of kura) the forwarder reconnects with back-off
 * (KURA_SYSLOG_BACKOFF_MIN_MS doubling to KURA_SYSLOG_BACKOFF_MAX_MS) and resends from
 * `confirmed`: messages between `confirmed` and what the collector really got arrive twice,
 * recognisable by (MSGID, index) or (MSGID, size) and byte-identical MSG. "Received" means read
 * by the collector process (rsyslog: parsed and queued); whether it is then stored durably is
 * the collector's configuration (rsyslog: a disk-assisted queue). The scheme needs a collector
 * that closes a connection once it has read the client's close_notify or FIN, as rsyslog and
 * syslog-ng do; one that keeps it open never confirms, and every connection then resends from
 * the same point (syslog_unconfirmed warnings say so).
 *
 * RELP is not offered ([syslog] protocol accepts only tls): librelp's client API (1.11, Debian
 * 12) sends into a window and resends unacknowledged frames from its own memory after a
 * reconnect, but never tells the caller which messages were acknowledged, and closing a session
 * reports no outcome, so a persistent cursor could not follow the acknowledgements.
 *
 * Threads: one forwarder thread per handle; it never blocks the audit writer (it only reads the
 * files) and, given the struct kura_audit, sleeps in kura_audit_wait between records; with
 * audit NULL (a standalone tool) it polls the files every KURA_SYSLOG_POLL_MS. Checkpoints are
 * looked for at the same pace. start and stop from one controlling thread; status from any.
 * Stop the forwarder before closing the audit log it follows.
 *
 * Security: records hold no secrets (docs/audit-format.md); the TLS key file is read by GnuTLS
 * at start. Nothing received from the collector is interpreted.
 */
#pragma once

#include <stdint.h>

#include "audit/audit.h"
#include "base/base.h"
#include "conf/conf.h"

#define KURA_SYSLOG_MSG_MAX (KURA_AUDIT_RECORD_MAX + 2048) /* one RFC 5424 message, bytes */
#define KURA_SYSLOG_CURSOR "syslog.cursor"                 /* in DATA/spool/ */
#define KURA_SYSLOG_DEFAULT_PEN 32473                      /* RFC 5612 §2: examples only */

#define KURA_SYSLOG_POLL_MS 200
#define KURA_SYSLOG_BACKOFF_MIN_MS 500
#define KURA_SYSLOG_BACKOFF_MAX_MS (30 * 1000)
#define KURA_SYSLOG_CONNECT_TIMEOUT_MS (10 * 1000) /* TCP connect and TLS handshake */
#define KURA_SYSLOG_WRITE_TIMEOUT_MS (30 * 1000)   /* a write making no progress */
#define KURA_SYSLOG_CONFIRM_TIMEOUT_MS (5 * 1000)  /* for the collector's close */
#define KURA_SYSLOG_IDLE_CLOSE_MS 1000             /* nothing to send: confirm and close */
#define KURA_SYSLOG_BATCH_MAX 10000                /* messages per connection at most */
#define KURA_SYSLOG_BATCH_MS (10 * 1000)           /* a connection's sending time at most */
#define KURA_SYSLOG_STOP_MS 3000                   /* stop: time to flush and confirm */

struct kura_syslog;

/* Starts the forwarder for the log in audit_dirfd (DATA/audit) with its cursor in spool_dirfd
 * (DATA/spool); both are dup'ed, the caller keeps its fds. audit is the open log to follow
 * (kura_audit_wait) or NULL (poll the files: a tool beside a server, or a log nobody writes).
 * conf's [syslog] section is copied; conf may be freed afterwards. With an empty target it
 * starts nothing and returns a handle on which status and stop do nothing.
 * Checks before starting: the target parses as host:port; ca_file, cert_file
 * and key_file load (cert_file and key_file set together; the key file a regular file of this
 * user without group or other permissions); the cursor file, when present, parses.
 * Errors: KURA_ECONFIG, KURA_EKEYMODE, KURA_ECORRUPT (a damaged cursor: remove it to resend
 * everything), -errno; one message is appended to reterr (may be NULL). Stop with
 * kura_syslog_stop. */
KURA_MUST_CHECK int kura_syslog_start(int audit_dirfd, int spool_dirfd, struct kura_audit *audit,
                                      const struct kura_conf *conf, struct kura_syslog **ret,
                                      struct kura_buf *reterr);

/* Stops the forwarder: what can still be sent and confirmed within KURA_SYSLOG_STOP_MS is
 * (when connected), the cursor is saved, the thread joined, everything freed. The rest is sent
 * by the next forwarder, from the cursor. Accepts NULL; returns NULL. */
struct kura_syslog *kura_syslog_stop(struct kura_syslog *s);
KURA_DEFINE_FREEP(struct kura_syslog, kura_syslog_stop)

struct kura_syslog_status {
    bool enabled;          /* a target is configured */
    bool connected;        /* a connection is open now */
    bool caught_up;        /* everything readable so far was sent and confirmed */
    uint64_t confirmed;    /* next record index not yet confirmed */
    uint64_t confirmed_cp; /* byte offset in audit/checkpoints confirmed */
    uint64_t sent;         /* next record index not yet written and flushed */
    uint64_t messages;     /* messages written since start (resends included) */
    uint64_t connections;  /* connections established since start */
    uint64_t failures;     /* failed connects, handshakes, writes and confirmations */
    int last_error;        /* result code of the last failure, 0 if none */
};

/* A snapshot of the forwarder's progress (for tests and `kura status`). Any thread; s may be a
 * disabled handle (then only enabled = false is set). */
void kura_syslog_status(struct kura_syslog *s, struct kura_syslog_status *ret);
