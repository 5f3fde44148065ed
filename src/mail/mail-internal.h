/* mail-internal.h — what the mail area's files share, and what its unit tests reach. */
#pragma once

#include "mail.h"

/* ---- compose.c ------------------------------------------------------------------------------ */

/* "Sat, 21 Nov 2026 23:58:13 +0000" (RFC 5322 §3.3, always UTC). */
#define MAIL_DATE_MAX 40
void mail_format_date(int64_t wall_ms, char out[static MAIL_DATE_MAX]);

/* kura_mail_compose with a fixed Date and Message-ID local part (golden tests). msgid_token
 * must be printable ASCII without '@', '<', '>' or spaces. */
KURA_MUST_CHECK int mail_compose_at(const struct kura_mail_msg *m, const char *from,
                                    int64_t date_ms, const char *msgid_token, struct kura_buf *ret);

/* ---- spool.c -------------------------------------------------------------------------------- */

#define MAIL_SPOOL_DIR "mail"
#define MAIL_FAILED_DIR "failed"
#define MAIL_SPOOL_MAGIC "kura-mail 1"
/* The envelope: every recipient line plus a bounded error line and the numbers. */
#define MAIL_SPOOL_HEAD_MAX (16 * 1024)
#define MAIL_SPOOL_FILE_MAX (MAIL_SPOOL_HEAD_MAX + KURA_MAIL_MESSAGE_MAX)
/* Bytes of a relay's reply or a local reason kept in the envelope and the log. */
#define MAIL_REASON_MAX 300

/* A spool file, parsed. Slices point into the bytes it was parsed from. */
struct mail_spool_entry {
    struct kura_str from;
    struct kura_str to[KURA_MAIL_RCPT_MAX];
    size_t nto;
    int64_t created_ms;
    uint64_t attempts;
    int64_t next_ms;
    struct kura_str error;   /* empty when none */
    int64_t failed_ms;       /* 0 when pending */
    struct kura_str message; /* empty in a head-only parse */
};

/* True when name is a pending message's name: exactly KURA_MAIL_ID_LEN lower-case hex digits. */
bool mail_id_valid(const char *name);

/* Parses a spool file. With head_only, p may stop anywhere after the blank line that ends the
 * envelope, and ret->message is left empty. KURA_ECORRUPT on anything unexpected (unknown or
 * repeated line, bad number or address, no recipient, error text with control bytes). */
KURA_MUST_CHECK int mail_spool_parse(const char *p, size_t len, bool head_only,
                                     struct mail_spool_entry *ret);

/* Appends the envelope of e, a blank line and e->message to out (check kura_buf_err). The error
 * text must already be clean (see mail_reason_clean). */
void mail_spool_format(const struct mail_spool_entry *e, struct kura_buf *out);

/* Copies text into out (MAIL_REASON_MAX bytes) as one safe line: control bytes become spaces,
 * runs of spaces collapse, invalid UTF-8 and what does not fit are cut. */
void mail_reason_clean(const char *text, size_t len, char out[static MAIL_REASON_MAX]);

/* Opens spool_dirfd/mail (creating it 0700 when create), refusing a symlink or non-directory.
 * -ENOENT when missing and !create. */
KURA_MUST_CHECK int mail_spool_open(int spool_dirfd, bool create, int *ret_fd);

/* A pending message as listed by mail_spool_list. */
struct mail_spool_item {
    char id[KURA_MAIL_ID_MAX];
    int64_t created_ms;
    int64_t next_ms;
};

/* Lists pending mail in maildirfd sorted by next attempt (then age), at most max items, and
 * removes temporary files older than KURA_MAIL_TMP_MAX_AGE_MS at now_ms. A pending file whose
 * envelope does not parse is listed with next_ms 0 (so that it is handled, i.e. moved to
 * failed/, at once). Free *ret with kura_free. */
KURA_MUST_CHECK int mail_spool_list(int maildirfd, int64_t now_ms, size_t max,
                                    struct mail_spool_item **ret, size_t *ret_n);

/* Reads maildirfd/id whole into buf (initialised with MAIL_SPOOL_FILE_MAX). */
KURA_MUST_CHECK int mail_spool_read(int maildirfd, const char *id, struct kura_buf *buf);

/* Rewrites maildirfd/id from e atomically (after a failed attempt). */
KURA_MUST_CHECK int mail_spool_write(int maildirfd, const char *id,
                                     const struct mail_spool_entry *e);

/* Gives up on maildirfd/id: when e is not NULL the file is first rewritten with e (which
 * carries the reason and failed time), then renamed into failed/ (created 0700 when missing);
 * both folders are fsync'ed. */
KURA_MUST_CHECK int mail_spool_give_up(int maildirfd, const char *id,
                                       const struct mail_spool_entry *e);

/* Removes maildirfd/id after delivery, durably. */
KURA_MUST_CHECK int mail_spool_remove(int maildirfd, const char *id);

/* ---- sender.c ------------------------------------------------------------------------------- */

enum mail_outcome {
    MAIL_SENT,
    MAIL_TRANSIENT, /* keep and retry later */
    MAIL_PERMANENT, /* to failed/ now */
    MAIL_STOPPED,   /* abandoned because the mailer stops: untouched */
};

/* How a finished attempt counts, from libcurl's result (a CURLcode) and the relay's last reply
 * code (CURLINFO_RESPONSE_CODE, 0 when none). */
enum mail_outcome mail_classify(int curl_code, long smtp_code);

/* Delay before the next attempt after the given number of failed attempts (>= 1). */
int64_t mail_backoff_ms(uint64_t attempts);

/* True for "localhost", an address in 127.0.0.0/8, or ::1 (host as kura_conf_parse_hostport
 * returns it: lower-case, no brackets). */
bool mail_host_is_loopback(const char *host);
