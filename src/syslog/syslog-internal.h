/* syslog-internal.h — the syslog area's pieces shared by its files and unit tests (not API). */
#pragma once

#include <stdatomic.h>

#include "syslog/syslog.h"

/* ---- messages (format.c) -------------------------------------------------------------------- */

#define SYSLOG_HOSTNAME_MAX 255 /* RFC 5424 §6.2.4 */
#define SYSLOG_SEV_NOTICE 5
#define SYSLOG_SEV_INFO 6

/* What every message of one forwarder shares. Strings are borrowed, NUL-terminated. */
struct syslog_msg_conf {
    unsigned facility; /* 0-23 */
    uint64_t pen;      /* enterprise number of the SD-ID kura@<pen> */
    const char *hostname;
    const char *procid;
    const char *origin; /* checkpoint origin, put in every record's structured data */
};

/* The facility number of a [syslog] facility name ("auth" 4, "local0".."local7" 16-23);
 * KURA_ECONFIG for any other name. */
KURA_MUST_CHECK int syslog_facility_code(const char *name, unsigned *ret);

/* hostname when it is a valid RFC 5424 HOSTNAME (1-255 bytes of PRINTUSASCII, %d33-126), else
 * the NILVALUE "-". */
const char *syslog_hostname_or_nil(const char *hostname);

/* Appends s as an RFC 5424 PARAM-VALUE body: '"', '\' and ']' preceded by '\' (§6.3.3). */
void syslog_sd_escape(struct kura_buf *out, const char *s, size_t len);

/* The record's own "time" when the record starts {"index":N,"time":"YYYY-MM-DDThh:mm:ss.sssZ"
 * (the fixed key order of docs/audit-format.md): writes the 24 characters and a NUL to ret and
 * returns true; false otherwise (the caller writes the NILVALUE). */
bool syslog_record_time(struct kura_str record, char ret[static KURA_TIME_STR_MAX]);

/* Appends one octet-counted frame "MSG-LEN SP SYSLOG-MSG" (RFC 5425 §4.3) holding the AUDIT
 * message of record index. On failure out is unchanged (and not left in error): KURA_ETOOBIG
 * (the message would exceed KURA_SYSLOG_MSG_MAX, or out has no room for it), -ENOMEM; an out
 * already in error is refused with its error. */
KURA_MUST_CHECK int syslog_frame_record(const struct syslog_msg_conf *c, uint64_t index,
                                        struct kura_str record, struct kura_buf *out);

/* The same for the CHECKPOINT message of a signed note of tree size `size`, stamped wall_ms. */
KURA_MUST_CHECK int syslog_frame_checkpoint(const struct syslog_msg_conf *c, uint64_t size,
                                            struct kura_str note, int64_t wall_ms,
                                            struct kura_buf *out);

/* ---- cursor and checkpoint history (cursor.c) ----------------------------------------------- */

struct syslog_pos {
    uint64_t record; /* next record index */
    uint64_t cp;     /* byte offset of the next note in audit/checkpoints */
};

struct syslog_cursor {
    struct syslog_pos confirmed;
    uint64_t sent; /* next record index not yet written and flushed */
};

#define SYSLOG_CURSOR_MAX 256 /* bytes of the cursor file */

/* Formats the cursor file's text (see syslog.h) into out. */
KURA_MUST_CHECK int syslog_cursor_format(const struct syslog_cursor *c, struct kura_buf *out);

/* Parses the cursor file's text exactly (no other spacing, no extra lines, sent >= confirmed
 * record); KURA_ECORRUPT otherwise. */
KURA_MUST_CHECK int syslog_cursor_parse(const char *text, size_t len, struct syslog_cursor *ret);

/* Reads spool_dirfd/syslog.cursor: 0 with *ret, -ENOENT when there is none, KURA_ECORRUPT. */
KURA_MUST_CHECK int syslog_cursor_load(int spool_dirfd, struct syslog_cursor *ret);

/* Writes spool_dirfd/syslog.cursor atomically and durably (mode 0600). */
KURA_MUST_CHECK int syslog_cursor_save(int spool_dirfd, const struct syslog_cursor *c);

/* One signed note found in the checkpoint history. */
struct syslog_note {
    size_t len;    /* bytes of the note, from its origin line through its last signature line */
    uint64_t size; /* tree size (second line) */
    size_t origin_len;
};

/* Looks at the start of buf (text of audit/checkpoints from a note boundary). A note is an
 * origin line (1 to KURA_AUDIT_ORIGIN_MAX-1 bytes, no control byte), a decimal size line, a
 * non-empty root line, an empty line, then one or more lines starting with "— " (U+2014, space).
 * Returns 1 with *ret when a whole note is there (its end is known: a further byte follows that
 * does not start another signature line, or at_eof says the text ends here); 0 when more text is
 * needed; KURA_ESYNTAX when the text cannot be a note (*ret_skip: bytes through the first line
 * ending, to resynchronise; 0 if there is none yet). */
KURA_MUST_CHECK int syslog_note_next(const char *buf, size_t len, bool at_eof,
                                     struct syslog_note *ret, size_t *ret_skip);

/* ---- transport (tls.c): a const ops table, one instance per protocol ------------------------ */

struct syslog_conn;

struct syslog_transport_conf {
    const char *host; /* DNS name or IP literal, without brackets */
    uint16_t port;
    const char *ca_file;   /* NULL: the system's CAs */
    const char *cert_file; /* NULL: no client certificate */
    const char *key_file;
};

/* When a transport call must give up: at at_ms, or earlier once a stop sets *stop_at_ms
 * (INT64_MAX until then). Monotonic milliseconds (kura_clock_mono_ms). */
struct syslog_deadline {
    int64_t at_ms;
    const _Atomic int64_t *stop_at_ms;
};

struct syslog_transport_ops {
    unsigned version; /* 1 */
    const char *name;
    /* Loads the credentials once, at start (so a bad file is a start-up error);
     * *ret_state is freed by free_state. */
    int (*prepare)(const struct syslog_transport_conf *c, void **ret_state, struct kura_buf *why);
    void (*free_state)(void *state);
    /* Connects, handshakes, verifies the peer. Appends why it failed to why. */
    int (*open)(void *state, const struct syslog_transport_conf *c,
                const struct syslog_deadline *dl, struct syslog_conn **ret, struct kura_buf *why);
    /* Writes all bytes and hands them to the kernel, or fails (-errno, KURA_ETIMEOUT). */
    int (*write)(struct syslog_conn *conn, const void *p, size_t len,
                 const struct syslog_deadline *dl, struct kura_buf *why);
    /* Ends the connection in the confirming way (see syslog.h) and frees it: 0 when the peer
     * closed cleanly after reading everything, a negative code otherwise. */
    int (*finish)(struct syslog_conn *conn, const struct syslog_deadline *dl, struct kura_buf *why);
    /* Drops the connection at once and frees it; accepts NULL. */
    void (*abort)(struct syslog_conn *conn);
};

extern const struct syslog_transport_ops syslog_tls_ops;
