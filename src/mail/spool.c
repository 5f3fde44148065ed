/* spool.c — the durable outgoing queue: DATA/spool/mail/<id>, one file per message.
 *
 * Each file is written whole by kura_file_write_atomic (temporary ".<id>.tmp-<rand>", fsync,
 * rename, fsync of the folder), so the name <id> only ever holds a complete envelope and
 * message; the sender looks at nothing else. A temporary file left by a crash never gets a
 * pending name, is ignored, and is removed once it is older than KURA_MAIL_TMP_MAX_AGE_MS (not
 * at once: another thread may be writing it right now). The format is in mail.h.
 */
#include "mail-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool mail_id_valid(const char *name)
{
    size_t n = 0;
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        if (n >= KURA_MAIL_ID_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return n == KURA_MAIL_ID_LEN;
}

static int parse_i64(struct kura_str v, int64_t *ret)
{
    uint64_t n;
    int r = kura_parse_u64(v.ptr, v.len, INT64_MAX, &n);
    if (r < 0) {
        return KURA_ECORRUPT;
    }
    *ret = (int64_t)n;
    return 0;
}

static bool address_ok(struct kura_str v)
{
    char tmp[KURA_MAIL_ADDR_MAX + 1];
    if (v.len == 0 || v.len > KURA_MAIL_ADDR_MAX || memchr(v.ptr, '\0', v.len)) {
        return false;
    }
    memcpy(tmp, v.ptr, v.len);
    tmp[v.len] = '\0';
    return kura_mail_address_valid(tmp);
}

/* One "key value" line of the envelope into e; seen tracks keys that may occur once. */
enum {
    SEEN_FROM = 1,
    SEEN_CREATED = 2,
    SEEN_ATTEMPTS = 4,
    SEEN_NEXT = 8,
    SEEN_ERROR = 16,
    SEEN_FAILED = 32
};

static int parse_line(struct kura_str line, struct mail_spool_entry *e, unsigned *seen)
{
    struct kura_str key, v = line;
    if (!kura_str_split(&v, ' ', &key)) {
        return KURA_ECORRUPT;
    }
    unsigned bit = 0;
    int r = 0;
    if (kura_str_eq_c(key, "to")) {
        if (e->nto >= KURA_MAIL_RCPT_MAX || !address_ok(v)) {
            return KURA_ECORRUPT;
        }
        e->to[e->nto++] = v;
        return 0;
    }
    if (kura_str_eq_c(key, "from")) {
        bit = SEEN_FROM;
        e->from = v;
        r = address_ok(v) ? 0 : KURA_ECORRUPT;
    } else if (kura_str_eq_c(key, "created")) {
        bit = SEEN_CREATED;
        r = parse_i64(v, &e->created_ms);
    } else if (kura_str_eq_c(key, "attempts")) {
        bit = SEEN_ATTEMPTS;
        r = kura_parse_u64(v.ptr, v.len, UINT32_MAX, &e->attempts) < 0 ? KURA_ECORRUPT : 0;
    } else if (kura_str_eq_c(key, "next")) {
        bit = SEEN_NEXT;
        r = parse_i64(v, &e->next_ms);
    } else if (kura_str_eq_c(key, "failed")) {
        bit = SEEN_FAILED;
        r = parse_i64(v, &e->failed_ms);
    } else if (kura_str_eq_c(key, "error")) {
        bit = SEEN_ERROR;
        e->error = v;
        if (v.len == 0 || v.len >= MAIL_REASON_MAX || kura_has_ctl(v.ptr, v.len, false) ||
            !kura_utf8_valid(v.ptr, v.len)) {
            r = KURA_ECORRUPT;
        }
    } else {
        return KURA_ECORRUPT;
    }
    if (r < 0 || (*seen & bit)) {
        return KURA_ECORRUPT;
    }
    *seen |= bit;
    return 0;
}

int mail_spool_parse(const char *p, size_t len, bool head_only, struct mail_spool_entry *ret)
{
    struct mail_spool_entry e = {0};
    struct kura_str rest = kura_str_make(p, len), line;
    if (!kura_str_split(&rest, '\n', &line) || !kura_str_eq_c(line, MAIL_SPOOL_MAGIC)) {
        return KURA_ECORRUPT;
    }
    unsigned seen = 0;
    for (;;) {
        if (!kura_str_split(&rest, '\n', &line)) {
            return KURA_ECORRUPT; /* no blank line: the envelope is cut or too long */
        }
        if (line.len == 0) {
            break;
        }
        int r = parse_line(line, &e, &seen);
        if (r < 0) {
            return r;
        }
    }
    unsigned need = SEEN_FROM | SEEN_CREATED | SEEN_ATTEMPTS | SEEN_NEXT;
    if ((seen & need) != need || e.nto == 0) {
        return KURA_ECORRUPT;
    }
    if (!head_only) {
        if (rest.len == 0 || rest.len > KURA_MAIL_MESSAGE_MAX) {
            return KURA_ECORRUPT;
        }
        e.message = rest;
    }
    *ret = e;
    return 0;
}

void mail_spool_format(const struct mail_spool_entry *e, struct kura_buf *out)
{
    kura_buf_adds(out, MAIL_SPOOL_MAGIC "\nfrom ");
    kura_buf_addstr(out, e->from);
    for (size_t i = 0; i < e->nto; i++) {
        kura_buf_adds(out, "\nto ");
        kura_buf_addstr(out, e->to[i]);
    }
    kura_buf_addf(out, "\ncreated %lld\nattempts %llu\nnext %lld\n", (long long)e->created_ms,
                  (unsigned long long)e->attempts, (long long)e->next_ms);
    if (e->error.len > 0) {
        kura_buf_adds(out, "error ");
        kura_buf_addstr(out, e->error);
        kura_buf_adds(out, "\n");
    }
    if (e->failed_ms > 0) {
        kura_buf_addf(out, "failed %lld\n", (long long)e->failed_ms);
    }
    kura_buf_adds(out, "\n");
    kura_buf_addstr(out, e->message);
}

void mail_reason_clean(const char *text, size_t len, char out[static MAIL_REASON_MAX])
{
    size_t o = 0, i = 0;
    bool space = true; /* drops leading spaces */
    for (; i < len && o < MAIL_REASON_MAX - 1; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f || c == ' ') {
            if (!space) {
                out[o++] = ' ';
            }
            space = true;
            continue;
        }
        out[o++] = (char)c;
        space = false;
    }
    /* A cut may have split the last character: drop up to 3 bytes to end on a whole one. */
    for (int k = 0; i < len && k < 3 && o > 0 && !kura_utf8_valid(out, o); k++) {
        o--;
    }
    if (!kura_utf8_valid(out, o)) {
        for (size_t k = 0; k < o; k++) {
            if ((unsigned char)out[k] >= 0x80) {
                out[k] = '?';
            }
        }
    }
    while (o > 0 && out[o - 1] == ' ') {
        o--;
    }
    out[o] = '\0';
}

static int open_subdir(int dirfd, const char *name, bool create, int *ret_fd)
{
    bool made = false;
    if (create) {
        if (mkdirat(dirfd, name, 0700) == 0) {
            made = true;
        } else if (errno != EEXIST) {
            return -errno;
        }
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ELOOP ? -ENOTDIR : -errno;
    }
    if (made) {
        /* The new folder's entry must survive a crash before anything inside it counts. */
        int r = kura_fsync_dir(dirfd);
        if (r < 0) {
            (void)close(fd);
            return r;
        }
    }
    *ret_fd = fd;
    return 0;
}

int mail_spool_open(int spool_dirfd, bool create, int *ret_fd)
{
    return open_subdir(spool_dirfd, MAIL_SPOOL_DIR, create, ret_fd);
}

int kura_mail_queue(int spool_dirfd, const struct kura_mail_msg *m, const char *from,
                    char ret_id[static KURA_MAIL_ID_MAX])
{
    _cleanup_(kura_buf_release) struct kura_buf msg = KURA_BUF_INIT(KURA_MAIL_MESSAGE_MAX);
    int r = kura_mail_compose(m, from, &msg);
    if (r < 0) {
        return r;
    }
    struct mail_spool_entry e = {.from = kura_str_c(from), .nto = m->nto};
    for (size_t i = 0; i < m->nto; i++) {
        e.to[i] = kura_str_c(m->to[i]);
    }
    e.created_ms = e.next_ms = kura_clock_wall_ms();
    e.message = kura_buf_str(&msg);

    unsigned char rnd[KURA_MAIL_ID_LEN / 2];
    char id[KURA_MAIL_ID_MAX];
    r = kura_random(rnd, sizeof(rnd));
    if (r < 0) {
        return r;
    }
    kura_hex_encode(id, rnd, sizeof(rnd));

    _cleanup_(kura_closep) int maildirfd = -1;
    r = mail_spool_open(spool_dirfd, true, &maildirfd);
    if (r < 0) {
        return r;
    }
    r = mail_spool_write(maildirfd, id, &e);
    if (r < 0) {
        return r;
    }
    memcpy(ret_id, id, KURA_MAIL_ID_MAX);
    return 0;
}

int mail_spool_write(int maildirfd, const char *id, const struct mail_spool_entry *e)
{
    _cleanup_(kura_buf_release) struct kura_buf file = KURA_BUF_INIT(MAIL_SPOOL_FILE_MAX);
    mail_spool_format(e, &file);
    int r = kura_buf_err(&file);
    if (r < 0) {
        return r;
    }
    return kura_file_write_atomic(maildirfd, id, file.ptr, file.len, 0600);
}

int mail_spool_read(int maildirfd, const char *id, struct kura_buf *buf)
{
    return kura_file_read_all(maildirfd, id, buf);
}

int mail_spool_remove(int maildirfd, const char *id)
{
    if (unlinkat(maildirfd, id, 0) < 0) {
        return -errno;
    }
    return kura_fsync_dir(maildirfd);
}

int mail_spool_give_up(int maildirfd, const char *id, const struct mail_spool_entry *e)
{
    int r;
    if (e) {
        r = mail_spool_write(maildirfd, id, e);
        if (r < 0) {
            return r;
        }
    }
    _cleanup_(kura_closep) int failedfd = -1;
    r = open_subdir(maildirfd, MAIL_FAILED_DIR, true, &failedfd);
    if (r < 0) {
        return r;
    }
    if (renameat(maildirfd, id, failedfd, id) < 0) {
        return -errno;
    }
    r = kura_fsync_dir(failedfd);
    if (r < 0) {
        return r;
    }
    return kura_fsync_dir(maildirfd);
}

/* Reads at most MAIL_SPOOL_HEAD_MAX bytes of a pending file and parses its envelope. */
static int read_head(int maildirfd, const char *id, struct mail_spool_entry *ret)
{
    _cleanup_(kura_closep) int fd = openat(maildirfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    _cleanup_(kura_freep) char *head = kura_malloc(MAIL_SPOOL_HEAD_MAX);
    if (!head) {
        return -ENOMEM;
    }
    size_t len = 0;
    while (len < MAIL_SPOOL_HEAD_MAX) {
        ssize_t n = read(fd, head + len, MAIL_SPOOL_HEAD_MAX - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    struct mail_spool_entry e;
    int r = mail_spool_parse(head, len, true, &e);
    if (r < 0) {
        return r;
    }
    /* Slices into head die with it: hand out the numbers only. */
    *ret = (struct mail_spool_entry){
        .created_ms = e.created_ms, .next_ms = e.next_ms, .attempts = e.attempts};
    return 0;
}

static int cmp_item(const void *a, const void *b)
{
    const struct mail_spool_item *x = a, *y = b;
    if (x->next_ms != y->next_ms) {
        return x->next_ms < y->next_ms ? -1 : 1;
    }
    if (x->created_ms != y->created_ms) {
        return x->created_ms < y->created_ms ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

static void closedirp(DIR **d)
{
    if (*d) {
        (void)closedir(*d);
    }
}

/* A directory stream of its own for dirfd (a dup would share dirfd's offset). */
static int open_dir_stream(int dirfd, DIR **ret)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int r = -errno;
        (void)close(fd);
        return r;
    }
    *ret = dir;
    return 0;
}

/* A temporary file of kura_file_write_atomic: ".<name>.tmp-<hex>". */
static bool is_temp_name(const char *name)
{
    return name[0] == '.' && strstr(name, ".tmp-") != NULL;
}

int mail_spool_list(int maildirfd, int64_t now_ms, size_t max, struct mail_spool_item **ret,
                    size_t *ret_n)
{
    _cleanup_(closedirp) DIR *dir = NULL;
    int r = open_dir_stream(maildirfd, &dir);
    if (r < 0) {
        return r;
    }
    _cleanup_(kura_freep) struct mail_spool_item *items = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno != 0) {
                return -errno;
            }
            break;
        }
        struct stat st;
        if (is_temp_name(de->d_name)) {
            if (fstatat(maildirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode) &&
                now_ms - ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000) >
                    KURA_MAIL_TMP_MAX_AGE_MS) {
                (void)unlinkat(maildirfd, de->d_name, 0);
            }
            continue;
        }
        if (!mail_id_valid(de->d_name) ||
            fstatat(maildirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (n == max) {
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct mail_spool_item *p = kura_reallocarray(items, ncap, sizeof(*items));
            if (!p) {
                return -ENOMEM;
            }
            items = p;
            cap = ncap;
        }
        struct mail_spool_entry e = {0};
        r = read_head(maildirfd, de->d_name, &e);
        if (r == -ENOENT) {
            continue; /* delivered or given up meanwhile */
        }
        if (r == -ENOMEM) {
            return r;
        }
        struct mail_spool_item *it = &items[n++];
        memcpy(it->id, de->d_name, KURA_MAIL_ID_MAX);
        it->created_ms = r < 0 ? 0 : e.created_ms;
        it->next_ms = r < 0 ? 0 : e.next_ms;
    }
    if (n > 1) {
        qsort(items, n, sizeof(*items), cmp_item);
    }
    *ret = TAKE_PTR(items);
    *ret_n = n;
    return 0;
}

static int count_dir(int dirfd, size_t *ret)
{
    _cleanup_(closedirp) DIR *dir = NULL;
    int r = open_dir_stream(dirfd, &dir);
    if (r < 0) {
        return r;
    }
    size_t n = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno != 0) {
                return -errno;
            }
            break;
        }
        struct stat st;
        if (mail_id_valid(de->d_name) &&
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
            n++;
        }
    }
    *ret = n;
    return 0;
}

int kura_mail_spool_count(int spool_dirfd, size_t *ret_pending, size_t *ret_failed)
{
    _cleanup_(kura_closep) int maildirfd = -1, failedfd = -1;
    size_t pending = 0, failed = 0;
    int r = mail_spool_open(spool_dirfd, false, &maildirfd);
    if (r == -ENOENT) {
        *ret_pending = *ret_failed = 0;
        return 0;
    }
    if (r < 0) {
        return r;
    }
    r = count_dir(maildirfd, &pending);
    if (r < 0) {
        return r;
    }
    r = open_subdir(maildirfd, MAIL_FAILED_DIR, false, &failedfd);
    if (r < 0 && r != -ENOENT) {
        return r;
    }
    if (r == 0) {
        r = count_dir(failedfd, &failed);
        if (r < 0) {
            return r;
        }
    }
    *ret_pending = pending;
    *ret_failed = failed;
    return 0;
}
