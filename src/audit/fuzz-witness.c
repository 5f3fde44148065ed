/* fuzz-witness.c — libFuzzer harness for `kura audit verify`'s scan of witness files
 * (verify.c, scan_notes): hostile witness text must never make verify fail to run, report a
 * problem that the text does not show, or miss a problem that it does. Seeds:
 * tests/fuzz/witness/.
 *
 * Once per process a tiny log is written in a temporary folder by the real writer
 * (kura_audit_open without a thread, a few kura_audit_emit_sync, kura_audit_close) with a fresh
 * key, and the tree root at every size is computed from its records. Each input becomes the one
 * witness file of kura_audit_verify after expanding tokens "@KDE" (K the kind, D a digit, E the
 * encoding; anything else is copied as it is) into real signed notes, so that the seeds can hold
 * valid signatures although the key and the log are new in every process:
 *   K: G a checkpoint of this log (size D mod (records + 1)), signed by the log's key;
 *      B the same size with another root, signed by the log's key (the log was rewritten);
 *      L a size beyond the log, signed by the log's key (the log was truncated);
 *      F a checkpoint of this log signed by another key (the log was re-signed);
 *      X a checkpoint of another origin that merely starts with this one, by another key.
 *   E: r raw lines, c CRLF, s newlines as "#012" (rsyslog), b newlines as "\n" (two bytes).
 *
 * Oracles (docs/audit-format.md, "Verification"):
 *  - kura_audit_verify returns 0 and counts every record of the log;
 *  - a B, L or F note that the scanner is documented to read (raw or CRLF anywhere; an escaped
 *    one unless a '{' precedes it on its line, where text is record JSON) makes the report !ok:
 *    junk after it must not hide it;
 *  - a report that is !ok names a reason, and the text holds a note of this origin: the origin
 *    followed by a line end (raw, CRLF or escaped) — junk alone, or notes of other origins,
 *    never fail the log;
 *  - only notes signed by the log's key are counted as witnessed, and when the report is ok
 *    every G note that the scanner reads was counted.
 */
#include "audit-internal.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN "kura.localhost/audit/fuzz-witness"
#define NRECORDS 5
#define TOKENS_MAX 32
#define WITNESS_MAX (4u << 20)

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static char dir[64];
static char witness_path[128];
static int dir_fd = -1, audit_fd = -1;
static struct kura_sign_key *log_key, *other_key;
static kura_hash roots[NRECORDS + 1];

/* ---- the tiny log, once ---------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    if (audit_fd >= 0) {
        close(audit_fd);
    }
    if (dir_fd >= 0) {
        close(dir_fd);
    }
    if (dir[0]) {
        (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

static void build_log(void)
{
    static const char *const actions[NRECORDS] = {"cli.init", "server.start", "http.request",
                                                  "http.request", "server.stop"};
    struct kura_conf *conf = kura_conf_new();
    check(conf != NULL);
    conf->audit.refuse_free_mb = 0;
    conf->audit.warn_free_mb = 0;
    char audit_dir[96];
    (void)snprintf(audit_dir, sizeof(audit_dir), "%s/audit", dir);
    check(mkdir(audit_dir, 0700) == 0);
    audit_fd = open(audit_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(audit_fd >= 0);
    struct kura_audit_opts o = {audit_fd, log_key, ORIGIN, conf, false};
    struct kura_audit *a = NULL;
    struct kura_buf why = KURA_BUF_INIT(1024);
    check(kura_audit_open(&o, &a, &why) == 0);
    for (size_t i = 0; i < NRECORDS; i++) {
        struct kura_audit_event ev = {.actor = "cli:fuzz",
                                      .action = actions[i],
                                      .object = "/x",
                                      .source_ip = "192.0.2.1",
                                      .result = KURA_AUDIT_OK};
        check(kura_audit_emit_sync(a, &ev, NULL) == 0);
    }
    a = kura_audit_close(a);
    kura_buf_release(&why);
    kura_conf_free(conf);

    /* The root at every size, from the records themselves. */
    struct kura_audit_iter *it = NULL;
    check(kura_audit_iter_open(audit_fd, 0, &it) == 0);
    struct tlog_compact c;
    tlog_compact_init(&c);
    check(tlog_compact_root(&c, roots[0]) == 0);
    for (size_t i = 0; i < NRECORDS; i++) {
        struct kura_str rec;
        uint64_t index;
        kura_hash leaf;
        check(kura_audit_iter_next(it, &rec, &index) == 1 && index == i);
        check(tlog_leaf_hash(rec.ptr, rec.len, leaf) == 0);
        check(tlog_compact_append(&c, leaf) == 0);
        check(tlog_compact_root(&c, roots[i + 1]) == 0);
    }
    it = kura_audit_iter_free(it);
}

static void init(void)
{
    check(kura_crypto_init() == 0);
    (void)snprintf(dir, sizeof(dir), "/tmp/kura-fuzz-witness-XXXXXX");
    check(mkdtemp(dir) != NULL);
    check(atexit(cleanup) == 0);
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(dir_fd >= 0);
    (void)snprintf(witness_path, sizeof(witness_path), "%s/witness", dir);
    check(kura_sign_key_generate(&log_key) == 0);
    check(kura_sign_key_generate(&other_key) == 0);
    build_log();
}

/* ---- tokens ---------------------------------------------------------------------------------- */

struct token {
    char kind, enc;
    size_t at; /* offset in the expanded text */
};

static void add_note(struct kura_buf *out, char kind, unsigned digit, char enc)
{
    struct kura_audit_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    (void)snprintf(cp.origin, sizeof(cp.origin), "%s%s", ORIGIN, kind == 'X' ? "x" : "");
    cp.size = digit % (NRECORDS + 1);
    memcpy(cp.root, roots[cp.size], KURA_AUDIT_HASH_BYTES);
    if (kind == 'B') {
        cp.root[digit % KURA_AUDIT_HASH_BYTES] ^= 0x5a;
    } else if (kind == 'L') {
        cp.size = NRECORDS + 1 + digit;
    }
    const struct kura_sign_key *key = kind == 'F' || kind == 'X' ? other_key : log_key;
    struct kura_buf note = KURA_BUF_INIT(4096);
    check(kura_audit_checkpoint_sign(&cp, key, &note) == 0);
    const char *nl = enc == 'c' ? "\r\n" : enc == 's' ? "#012" : enc == 'b' ? "\\n" : "\n";
    for (size_t i = 0; i < note.len; i++) {
        if (note.ptr[i] == '\n') {
            kura_buf_adds(out, nl);
        } else {
            kura_buf_addc(out, note.ptr[i]);
        }
    }
    kura_buf_release(&note);
}

static size_t expand(const uint8_t *data, size_t size, struct kura_buf *out, struct token *tokens)
{
    size_t n = 0;
    for (size_t i = 0; i < size;) {
        if (n < TOKENS_MAX && size - i >= 4 && data[i] == '@' && data[i + 1] &&
            strchr("GBLFX", data[i + 1]) && data[i + 2] >= '0' && data[i + 2] <= '9' &&
            data[i + 3] && strchr("rcsb", data[i + 3])) {
            tokens[n] = (struct token){(char)data[i + 1], (char)data[i + 3], out->len};
            add_note(out, (char)data[i + 1], (unsigned)(data[i + 2] - '0'), (char)data[i + 3]);
            n++;
            i += 4;
            continue;
        }
        kura_buf_addc(out, (char)data[i]);
        i++;
    }
    check(kura_buf_err(out) == 0);
    return n;
}

/* The scanner reads a note in raw or CRLF lines anywhere, an escaped one only when no '{'
 * precedes it on its line. */
static bool readable(const struct kura_buf *text, const struct token *t)
{
    if (t->enc == 'r' || t->enc == 'c') {
        return true;
    }
    for (size_t i = t->at; i-- > 0;) {
        if (text->ptr[i] == '\n') {
            return true;
        }
        if (text->ptr[i] == '{') {
            return false;
        }
    }
    return true;
}

/* The text holds this origin followed by a line end in any of the forms the scanner decodes. */
static bool names_origin(const struct kura_buf *text)
{
    static const char *const ends[] = {"\n", "\r\n", "#012", "\\n"};
    size_t olen = strlen(ORIGIN);
    if (text->len == 0) {
        return false;
    }
    for (const char *p = text->ptr;
         (p = memmem(p, text->len - (size_t)(p - text->ptr), ORIGIN, olen)); p++) {
        size_t left = text->len - (size_t)(p - text->ptr) - olen;
        for (size_t k = 0; k < KURA_ARRAY_SIZE(ends); k++) {
            size_t elen = strlen(ends[k]);
            if (left >= elen && memcmp(p + olen, ends[k], elen) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* A plain write (no fsync: nothing here needs to survive a crash, and runs stay fast). */
static void write_witness(const struct kura_buf *text)
{
    int fd = openat(dir_fd, "witness", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    check(fd >= 0);
    for (size_t off = 0; off < text->len;) {
        ssize_t n = write(fd, text->ptr + off, text->len - off);
        check(n > 0);
        off += (size_t)n;
    }
    check(close(fd) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init();
        ready = true;
    }
    struct kura_buf text = KURA_BUF_INIT(WITNESS_MAX);
    struct token tokens[TOKENS_MAX];
    size_t ntokens = expand(data, size, &text, tokens);
    write_witness(&text);

    const char *witnesses[] = {witness_path};
    struct kura_audit_verify_opts o = {
        .pk = kura_sign_key_public(log_key),
        .origin = ORIGIN,
        .witness_files = witnesses,
        .n_witness_files = 1,
    };
    struct kura_audit_verify_report rep;
    check(kura_audit_verify(audit_fd, &o, &rep) == 0);

    bool must_fail = false;
    uint64_t signed_notes = 0, good_readable = 0;
    for (size_t i = 0; i < ntokens; i++) {
        char k = tokens[i].kind;
        bool bad = k == 'B' || k == 'L' || k == 'F';
        must_fail = must_fail || (bad && readable(&text, &tokens[i]));
        signed_notes += k == 'G' || k == 'B' || k == 'L';
        good_readable += k == 'G' && readable(&text, &tokens[i]);
    }
    if (!rep.ok) {
        check(rep.reason[0] != '\0' && memchr(rep.reason, '\0', sizeof(rep.reason)));
        check(must_fail || names_origin(&text));
    } else {
        check(!must_fail);
        check(rep.size == NRECORDS);
        check(rep.witnessed >= good_readable);
    }
    check(rep.witnessed <= signed_notes);
    kura_buf_release(&text);
    return 0;
}
