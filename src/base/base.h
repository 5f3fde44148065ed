/* base — the foundation every kura area stands on.
 *
 * Purpose: error codes, allocation, byte strings (slices and owned buffers), the per-request
 * arena, overflow-checked size arithmetic, strict number and UTF-8 parsing, files written
 * atomically, randomness, the one clock, a bounded work queue and the operational log.
 *
 * Invariants:
 *  - Fallible functions return int: 0 on success, -errno for system failures, KURA_E* (<= -1000)
 *    for application failures. Outputs (ret_*) are written only on success.
 *  - struct kura_str never owns memory and is never assumed NUL-terminated.
 *  - struct kura_buf is always NUL-terminated, has a hard max_len, and its first error sticks.
 *  - All size arithmetic on untrusted values goes through kura_add_size / kura_mul_size.
 *  - Allocation goes through kura_malloc & co. so that fault-injection builds can fail the Nth
 *    call (meson -Dfault_injection=true).
 *
 * Security assumptions: nothing here logs except log.c; secrets handed to base (buffers) are
 * wiped with kura_buf_release_wipe / kura_wipe. The clock can be shifted only in builds made
 * with -Dtest_hooks=true (KURA_TEST_HOOKS); release builds contain no such code.
 *
 * Depends on libc and pthreads only.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banned.h"

/* ---- attributes and small macros ---------------------------------------------------------- */

#define KURA_MUST_CHECK __attribute__((warn_unused_result))
#define KURA_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#define KURA_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define KURA_SENTINEL __attribute__((sentinel))
#define KURA_UNUSED __attribute__((unused))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define KURA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Discards a KURA_MUST_CHECK result on purpose; GCC ignores a plain (void) cast there. */
#define KURA_IGNORE(expr) ((void)!(expr))

/* Hands ownership out of a _cleanup_ variable: returns the pointer and sets the variable NULL. */
#define TAKE_PTR(p)                                                                                \
    __extension__({                                                                                \
        __typeof__(p) _take_tmp = (p);                                                             \
        (p) = NULL;                                                                                \
        _take_tmp;                                                                                 \
    })

/* Defines funcp(type **p) calling func, a destructor that accepts NULL and returns NULL, for
 * use with _cleanup_: KURA_DEFINE_FREEP(struct kura_conf, kura_conf_free) gives kura_conf_freep. */
#define KURA_DEFINE_FREEP(type, func)                                                              \
    static inline void func##p(type **p)                                                           \
    {                                                                                              \
        *p = func(*p);                                                                             \
    }

/* Same for file descriptors: returns the fd and sets the variable to -1. */
#define TAKE_FD(fd)                                                                                \
    __extension__({                                                                                \
        int _take_fd = (fd);                                                                       \
        (fd) = -1;                                                                                 \
        _take_fd;                                                                                  \
    })

/* ---- errors (src/base/err.c holds the one table) ------------------------------------------ */

/* Application error codes. Each has a stable wire name, an HTTP status and a message in English
 * and Japanese, all in err.c. Never renumber: the names are part of the API. */
enum kura_err {
    KURA_EBADREQ = -1000,      /* 400 malformed request */
    KURA_EBADPATH = -1001,     /* 400 path rejected (traversal, encoded slash, NUL, bad UTF-8) */
    KURA_EFRAMING = -1002,     /* 400 ambiguous message framing (duplicate CL, TE+CL) */
    KURA_EBADHDR = -1003,      /* 400 header with forbidden bytes */
    KURA_EURILONG = -1004,     /* 414 URI too long */
    KURA_EHDRLARGE = -1005,    /* 431 request headers too large */
    KURA_EBODYLARGE = -1006,   /* 413 request body too large */
    KURA_ENOTFOUND = -1007,    /* 404 no such resource */
    KURA_EMETHOD = -1008,      /* 405 method not allowed */
    KURA_EHOST = -1009,        /* 421 Host not allowed */
    KURA_EBUSY = -1010,        /* 503 server busy or shutting down */
    KURA_EINTERNAL = -1011,    /* 500 internal error */
    KURA_ECONFIG = -1012,      /* invalid configuration */
    KURA_ESYNTAX = -1013,      /* syntax error in input */
    KURA_ERANGE = -1014,       /* number out of range */
    KURA_EUTF8 = -1015,        /* invalid UTF-8 */
    KURA_ETOOBIG = -1016,      /* a buffer's hard maximum was reached */
    KURA_EEXIST = -1017,       /* already exists */
    KURA_ESCHEMA = -1018,      /* database schema newer than this binary */
    KURA_EKEYMODE = -1019,     /* secret file readable by group or others, or not ours */
    KURA_ELOCKED = -1020,      /* data folder in use by another process */
    KURA_ECRYPTO = -1021,      /* cryptographic verification or decryption failed */
    KURA_EUNSUPPORTED = -1022, /* format or algorithm not supported */
    KURA_EFORBIDDEN = -1023,   /* 403 not allowed */
    KURA_EUNAUTH = -1024,      /* 401 authentication required */
    KURA_ENOTKURA = -1025,     /* folder is not a kura data folder */
    KURA_ECORRUPT = -1026,     /* stored data is damaged */
    KURA_ETIMEOUT = -1027,     /* 408 request took too long */
    KURA_EMEDIATYPE = -1028,   /* 415 unsupported media type */
    KURA_EOVERFLOW = -1029,    /* arithmetic overflow on a size */
    KURA_EBUDGET = -1030,      /* 503 request exceeded its memory budget */
    KURA_ENOTIMPL = -1031,     /* 501 not implemented (e.g. an unknown transfer coding) */
    KURA_EAUDIT = -1032,       /* 503 the audit log cannot be written: fail closed */
    KURA_ETHROTTLED = -1033,   /* 429 too many failed attempts: back off (Retry-After) */
    KURA_ECONFLICT = -1034,    /* 409 conflicts with the current state (e.g. missing parent) */
    KURA_EPRECOND = -1035,     /* 412 a precondition (If-Match, If-None-Match, If) failed */
    KURA_EDAVLOCKED = -1036,   /* 423 the resource is locked and no lock token was given */
    KURA_EQUOTA = -1037,       /* 507 the space's quota would be exceeded */
    KURA_ERANGENS = -1038,     /* 416 the requested range is not satisfiable */
    KURA_EBADNAME = -1039,     /* 400 a file or folder name breaks the naming rules */
    KURA_EXML = -1040,         /* 400 XML body malformed, too large, or with a DTD or entity */
    KURA_EDIGEST = -1041,      /* 400 the uploaded content does not match its stated checksum */
    KURA_E_LAST = -1042,
};

enum kura_lang { KURA_LANG_EN = 0, KURA_LANG_JA = 1 };

/* Message for any result code (negative errno or KURA_E*), in English; never NULL. */
const char *kura_strerror(int r);

/* Message in the given language; never NULL. Falls back to English. */
const char *kura_strerror_lang(int r, enum kura_lang lang);

/* Stable machine name ("not_found", "bad_path", ...); "internal_error" for errno values. */
const char *kura_err_name(int r);

/* HTTP status for a result code; 500 for errno values and unknown codes. */
unsigned kura_err_http_status(int r);

/* ---- allocation --------------------------------------------------------------------------- */

/* Wrappers over the libc allocator. They return NULL on failure (and on overflow for the array
 * forms); in -Dfault_injection=true builds, kura_alloc_fail_at() makes the Nth call fail. */
void *kura_malloc(size_t size) __attribute__((malloc, alloc_size(1)));
void *kura_calloc(size_t n, size_t size) __attribute__((malloc, alloc_size(1, 2)));
void *kura_reallocarray(void *p, size_t n, size_t size) __attribute__((alloc_size(2, 3)));
char *kura_strndup(const char *s, size_t len) __attribute__((malloc));
char *kura_strdup(const char *s) __attribute__((malloc)) KURA_NONNULL(1);
/* Wipes the whole block, then frees it: for libraries that copy secrets into memory they free
 * themselves (jansson parses request bodies holding passwords; kura_cli_main installs this as
 * its free function). */
void kura_free_wipe(void *p);
void kura_free(void *p);
void kura_freep(void *pp); /* for _cleanup_: pp is a pointer to a pointer */

/* Wipes memory that held a secret; the compiler may not elide it. */
void kura_wipe(void *p, size_t len);

#ifdef KURA_FAULT_INJECTION
/* Makes allocation number n (1-based, counted from this call) fail; 0 disables. */
void kura_alloc_fail_at(unsigned long n);
#endif

/* ---- overflow-checked size arithmetic ----------------------------------------------------- */

static inline KURA_MUST_CHECK int kura_add_size(size_t a, size_t b, size_t *ret)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        return KURA_EOVERFLOW;
    }
    *ret = r;
    return 0;
}

static inline KURA_MUST_CHECK int kura_mul_size(size_t a, size_t b, size_t *ret)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) {
        return KURA_EOVERFLOW;
    }
    *ret = r;
    return 0;
}

/* ---- strings: slices ---------------------------------------------------------------------- */

/* A borrowed, non-owning byte slice. Never assume ptr[len] == '\0'. */
struct kura_str {
    const char *ptr;
    size_t len;
};

#define KURA_STR(lit) ((struct kura_str){"" lit, sizeof(lit) - 1})
#define KURA_STR_NULL ((struct kura_str){NULL, 0})

static inline struct kura_str kura_str_make(const char *p, size_t len)
{
    return (struct kura_str){p, len};
}

/* Slice of a NUL-terminated string (NULL gives the empty slice). */
struct kura_str kura_str_c(const char *s);

bool kura_str_eq(struct kura_str a, struct kura_str b);
bool kura_str_eq_c(struct kura_str a, const char *s);
/* ASCII case-insensitive equality (HTTP header names, tokens). */
bool kura_str_eq_nocase(struct kura_str a, struct kura_str b);
bool kura_str_has_prefix(struct kura_str s, struct kura_str prefix);
/* Trims ASCII spaces and horizontal tabs from both ends (HTTP OWS). */
struct kura_str kura_str_trim_ows(struct kura_str s);
/* Splits s at the first occurrence of sep: *ret_head gets the part before, s is advanced past
 * sep. Returns false (leaving *ret_head = s, s empty) when sep does not occur. */
bool kura_str_split(struct kura_str *s, char sep, struct kura_str *ret_head);

/* ---- strings: strict parsing -------------------------------------------------------------- */

/* Parses a decimal number: digits only (no sign, no spaces, no leading '+'), at least one digit,
 * value <= max. Errors: KURA_ESYNTAX, KURA_ERANGE. */
KURA_MUST_CHECK int kura_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *ret);

/* True when [s, s+len) is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. Embedded NUL bytes are valid UTF-8; check them separately. */
bool kura_utf8_valid(const char *s, size_t len);

/* True when the slice contains a byte < 0x20 or 0x7f (optionally allowing HTAB). */
bool kura_has_ctl(const char *s, size_t len, bool allow_tab);

/* Lower-case hexadecimal; out must hold 2*len+1 bytes. */
void kura_hex_encode(char *out, const void *in, size_t len);

/* ---- owned, bounded buffer (curl dynbuf + sqlite3_str) ------------------------------------ */

struct kura_buf {
    char *ptr;   /* NUL-terminated whenever non-NULL */
    size_t len;  /* bytes in use, not counting the terminator */
    size_t cap;  /* allocated bytes */
    size_t max;  /* hard limit on len */
    int err;     /* first error: -ENOMEM or KURA_ETOOBIG; sticky until kura_buf_reset */
    bool secret; /* growth wipes the old block; release with kura_buf_release_wipe */
};

#define KURA_BUF_INIT(maxlen) ((struct kura_buf){.max = (maxlen)})
/* For buffers that will hold a secret (a key file's text): no copy is left behind when the
 * buffer grows. Release with kura_buf_release_wipe. */
#define KURA_BUF_INIT_SECRET(maxlen) ((struct kura_buf){.max = (maxlen), .secret = true})

void kura_buf_init(struct kura_buf *b, size_t max);
/* Frees the memory; b may be reused after kura_buf_init. */
void kura_buf_release(struct kura_buf *b);
/* Wipes, then frees: for buffers that held secrets. */
void kura_buf_release_wipe(struct kura_buf *b);
/* Empties the buffer and clears the sticky error, keeping the allocation. */
void kura_buf_reset(struct kura_buf *b);
/* Shortens the content to len bytes (len <= b->len) and clears the sticky error. */
void kura_buf_truncate(struct kura_buf *b, size_t len);

/* Appenders. On failure they record the error and leave the content unchanged; later appends
 * are ignored until kura_buf_reset. Read the outcome once, at the end, with kura_buf_err. */
void kura_buf_add_slow(struct kura_buf *b, const void *p, size_t len); /* grows; see below */
/* The common case, inline: no error yet and room already there (cap <= max + 1, so it is also
 * within max). Output builders (multistatus XML, JSON) append many short pieces. */
static inline void kura_buf_add(struct kura_buf *b, const void *p, size_t len)
{
    if (len > 0 && b->err == 0 && b->ptr && len < b->cap - b->len) {
        __builtin_memcpy(b->ptr + b->len, p, len);
        b->len += len;
        b->ptr[b->len] = '\0';
    } else {
        kura_buf_add_slow(b, p, len);
    }
}
static inline void kura_buf_addc(struct kura_buf *b, char c)
{
    kura_buf_add(b, &c, 1);
}
/* A string literal, its length known at compile time. */
#define KURA_BUF_ADDL(b, lit) kura_buf_add((b), "" lit, sizeof(lit) - 1)
void kura_buf_adds(struct kura_buf *b, const char *s);
void kura_buf_addstr(struct kura_buf *b, struct kura_str s);
void kura_buf_addf(struct kura_buf *b, const char *fmt, ...) KURA_PRINTF(2, 3);
void kura_buf_vaddf(struct kura_buf *b, const char *fmt, va_list ap) KURA_PRINTF(2, 0);
/* Appends s with control bytes, '"' and '\\' escaped (\n, \t, \xHH): for messages that quote
 * user values. */
void kura_buf_add_escaped(struct kura_buf *b, const char *s, size_t len);

static inline KURA_MUST_CHECK int kura_buf_err(const struct kura_buf *b)
{
    return b->err;
}

/* Hands the NUL-terminated content to the caller (free with kura_free); b becomes empty. Returns
 * NULL when the buffer is in error or could not allocate. */
char *kura_buf_detach(struct kura_buf *b, size_t *ret_len);

static inline struct kura_str kura_buf_str(const struct kura_buf *b)
{
    return (struct kura_str){b->ptr ? b->ptr : "", b->len};
}

/* ---- CSV (RFC 4180) ------------------------------------------------------------------------ */

/* Appends one field: quoted when needed (comma, quote, CR, LF), quotes doubled, and prefixed
 * with an apostrophe when a spreadsheet would take it for a formula (=, +, -, @, TAB, CR). The
 * caller writes the separators (',' and "\r\n"). */
void kura_csv_field(struct kura_buf *out, const char *s, size_t len);

/* ---- request arena (ngx_pool_t, h2o_mem_pool_t) ------------------------------------------- */

/* A bump allocator with a byte budget. Everything allocated from it is released at once by
 * kura_arena_free, which also runs the registered cleanups in reverse order. Not thread-safe:
 * an arena belongs to one request, handled by one thread at a time. */
struct kura_arena;

/* New arena whose allocations may total at most budget bytes. NULL on OOM. Free with
 * kura_arena_free. */
struct kura_arena *kura_arena_new(size_t budget);
/* Runs the cleanups, frees everything; accepts NULL; returns NULL. */
struct kura_arena *kura_arena_free(struct kura_arena *a);

/* 16-byte-aligned memory, or NULL when the budget is exceeded or memory is exhausted; the
 * caller fails the request with KURA_EBUDGET or -ENOMEM (kura_arena_err says which). */
void *kura_arena_alloc(struct kura_arena *a, size_t size);
void *kura_arena_calloc(struct kura_arena *a, size_t n, size_t size);
char *kura_arena_strndup(struct kura_arena *a, const char *s, size_t len);
char *kura_arena_printf(struct kura_arena *a, const char *fmt, ...) KURA_PRINTF(2, 3);
/* Why the last allocation failed: KURA_EBUDGET or -ENOMEM (0 if none failed). */
int kura_arena_err(const struct kura_arena *a);
/* Bytes charged against the budget so far. */
size_t kura_arena_used(const struct kura_arena *a);

/* Registers fn(data) to run when the arena is freed (close an fd, wipe a secret, ...). On
 * failure fn is not registered and the caller still owns data. */
KURA_MUST_CHECK int kura_arena_defer(struct kura_arena *a, void (*fn)(void *), void *data);

#define KURA_ARENA_NEW(a, type) ((type *)kura_arena_calloc((a), 1, sizeof(type)))

/* ---- randomness --------------------------------------------------------------------------- */

/* Fills buf from the kernel CSPRNG (getrandom). Never fails once the pool is initialised; a
 * failure returns -errno and leaves buf unspecified. */
KURA_MUST_CHECK int kura_random(void *buf, size_t len);

/* ---- the one clock ------------------------------------------------------------------------ */

/* Every time-dependent decision (timeouts, expiry, inactivity, heartbeats) reads these.
 * In KURA_TEST_HOOKS builds a test may shift both by the same offset for a running server. */
int64_t kura_clock_wall_ms(void); /* UTC milliseconds since the epoch */
int64_t kura_clock_mono_ms(void); /* monotonic milliseconds, for durations and deadlines */

/* Formats wall-clock ms as "2026-11-21T23:58:13.123Z"; out holds KURA_TIME_STR_MAX bytes. */
#define KURA_TIME_STR_MAX 32
void kura_clock_format(int64_t wall_ms, char out[static KURA_TIME_STR_MAX]);
/* Formats wall-clock ms as an HTTP date (RFC 9110 IMF-fixdate): "Sun, 22 Nov 2026 09:06:04 GMT". */
#define KURA_HTTP_DATE_MAX 30
void kura_http_date(int64_t wall_ms, char out[static KURA_HTTP_DATE_MAX]);

#ifdef KURA_TEST_HOOKS
void kura_clock_shift_ms(int64_t delta_ms);
int64_t kura_clock_offset_ms(void);
#endif

/* ---- files -------------------------------------------------------------------------------- */

/* Writes data to dirfd/name atomically and durably: a temporary file in the same directory
 * (created with mode, O_EXCL), fsync, rename over name, fsync of the directory. A crash leaves
 * either the old file or the new one, never a partial file. */
KURA_MUST_CHECK int kura_file_write_atomic(int dirfd, const char *name, const void *data,
                                           size_t len, mode_t mode);

/* Reads a whole regular file into ret (which the caller has initialised with its maximum);
 * KURA_ETOOBIG when the file exceeds that maximum; -EINVAL when it is not a regular file (a
 * FIFO or device is refused without blocking). Does not follow a symlink in the last
 * component. Use a KURA_BUF_INIT_SECRET buffer for files holding secrets. */
KURA_MUST_CHECK int kura_file_read_all(int dirfd, const char *name, struct kura_buf *ret);

/* fsync of a directory (after creating, renaming or removing entries in it). */
KURA_MUST_CHECK int kura_fsync_dir(int dirfd);

/* Closes *fd if >= 0: for _cleanup_. */
void kura_closep(int *fd);

/* ---- bounded work queue ------------------------------------------------------------------- */

/* A fixed set of threads running submitted jobs in FIFO order; the queue has a hard length so
 * that a flood of blocking work is refused (-EAGAIN) instead of piling up. Used by the HTTP
 * layer for blocking work (Argon2id, durable writes) behind suspended connections. */
struct kura_workq;

typedef void (*kura_job_fn)(void *arg);

/* NULL on failure (errno set). name appears in the threads' names (max 10 chars). */
struct kura_workq *kura_workq_new(const char *name, unsigned threads, unsigned max_queued);
/* Runs the workers at this niceness from their next job on (Linux: per thread). A CPU-heavy pool
 * (Argon2id) at a higher niceness lets the event loops answer other requests during a storm. */
void kura_workq_set_nice(struct kura_workq *q, int nice);
/* Queues fn(arg). -EAGAIN when the queue is full, -ESHUTDOWN after kura_workq_free began. */
KURA_MUST_CHECK int kura_workq_submit(struct kura_workq *q, kura_job_fn fn, void *arg);
/* Jobs queued or running right now. */
unsigned kura_workq_pending(struct kura_workq *q);
/* Jobs running right now, and the most that ever ran at once (never above the thread count). */
void kura_workq_stats(struct kura_workq *q, unsigned *ret_running, unsigned *ret_queued,
                      unsigned *ret_max_running);
/* Runs every job already queued, joins the threads, frees; accepts NULL; returns NULL. */
struct kura_workq *kura_workq_free(struct kura_workq *q);

/* ---- operational log (not the audit log) -------------------------------------------------- */

/* One line per event on stderr, key=value, journald-friendly (when stderr is the journal the line
 * carries a <N> priority prefix instead of a timestamp). Values are quoted and escaped as needed,
 * so user-supplied text cannot forge fields or lines. Never pass secrets. */
enum kura_log_level { KURA_LOG_ERR = 3, KURA_LOG_WARN = 4, KURA_LOG_INFO = 6, KURA_LOG_DEBUG = 7 };

void kura_log_set_level(enum kura_log_level level);
enum kura_log_level kura_log_get_level(void);
/* Parses "error", "warning", "info", "debug". */
KURA_MUST_CHECK int kura_log_level_parse(const char *s, enum kura_log_level *ret);

/* kura_log(level, event, key1, value1, key2, value2, ..., NULL). value may be NULL ("-"). */
void kura_log(enum kura_log_level level, const char *event, ...) KURA_SENTINEL;
/* As kura_log at error level, adding func=<caller> err=<kura_strerror(r)>. */
#define kura_log_err(r, event, ...) kura_log_errf(__func__, (r), (event), __VA_ARGS__)
void kura_log_errf(const char *func, int r, const char *event, ...) KURA_SENTINEL;

/* Formats an unsigned/signed number into a small caller buffer for kura_log values. */
#define KURA_NUM_STR_MAX 24
const char *kura_fmt_u64(char out[static KURA_NUM_STR_MAX], uint64_t v);
const char *kura_fmt_i64(char out[static KURA_NUM_STR_MAX], int64_t v);
const char *kura_fmt_x64(char out[static KURA_NUM_STR_MAX], uint64_t v); /* lowercase hex */
