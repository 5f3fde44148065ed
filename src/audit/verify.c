/* verify.c — `kura audit verify`: recompute everything from the records and compare it with
 * everything stored and witnessed (docs/audit-format.md, "Verification").
 *
 * One pass over the bundles in index order:
 *  - each record: the fixed structure, index == position, prev == the previous leaf hash, time
 *    not earlier than the previous record's, heartbeats no further apart than twice the interval
 *    while the server ran (from a server.start to the next server.stop or server.start);
 *  - each leaf hash against the stored level-0 tile, each tile's root against the level above;
 *  - the tree root at the size of every checkpoint: the latest one, the local history, and every
 *    checkpoint found in the witness files (signature first). A checkpoint larger than the log
 *    means truncation; another root means rewriting.
 * A bundle deleted by retention is only allowed below the highest "pruned up to" that an
 * audit.pruned record states; its leaf hashes then come from the hash tile. Nothing is written.
 */
#include "audit-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cp_entry {
    uint64_t size;
    kura_hash root;
    const char *source;
    size_t key; /* which key signed it: index into verifier.keys */
    bool checked;
};

struct verifier {
    int dirfd;
    const struct kura_audit_verify_opts *o;
    struct kura_audit_verify_report *rep;
    struct tlog_compact compact;
    kura_hash level[LEVELS][KURA_AUDIT_TILE_WIDTH];
    unsigned level_count[LEVELS];
    uint64_t pos;   /* records seen */
    kura_hash prev; /* leaf hash of record pos - 1 */
    int64_t prev_time;
    bool running;
    int64_t last_beat;      /* time of the last heartbeat or start while running */
    uint64_t first_missing; /* first record of a bundle found missing (UINT64_MAX: none) */
    struct cp_entry *cps;
    size_t ncps, cap;
    /* The key chain: retired keys oldest first, then keys/audit.pub. Key i signs checkpoints of
     * sizes [key_from[i], key_until[i]]; key_now is the key in force at pos. */
    const uint8_t (*keys)[KURA_SIGN_PUBLIC_KEY_BYTES];
    size_t nkeys, key_now;
    uint64_t *key_from, *key_until;
};

static int bad(struct verifier *v, uint64_t index, const char *fmt, ...) KURA_PRINTF(3, 4);
static int bad(struct verifier *v, uint64_t index, const char *fmt, ...)
{
    if (v->rep->ok) {
        v->rep->ok = false;
        v->rep->bad_index = index;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(v->rep->reason, sizeof(v->rep->reason), fmt, ap);
        va_end(ap);
    }
    return 1; /* stop: the first problem is what matters */
}

/* ---- checkpoints to check -----------------------------------------------------------------------
 */

static int add_checkpoint(struct verifier *v, const struct kura_audit_checkpoint *cp,
                          const char *source, size_t key)
{
    if (v->ncps == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        struct cp_entry *n = kura_reallocarray(v->cps, cap, sizeof(*n));
        if (!n) {
            return -ENOMEM;
        }
        v->cps = n;
        v->cap = cap;
    }
    struct cp_entry *e = &v->cps[v->ncps++];
    e->size = cp->size;
    memcpy(e->root, cp->root, KURA_AUDIT_HASH_BYTES);
    e->source = source;
    e->key = key;
    e->checked = false;
    return 0;
}

/* Opens a note with whichever key of the chain signed it (the current key first). */
static int open_note(struct verifier *v, const char *p, size_t len,
                     struct kura_audit_checkpoint *cp, size_t *ret_key)
{
    int rc = KURA_ECRYPTO;
    for (size_t i = v->nkeys; i-- > 0 && rc == KURA_ECRYPTO;) {
        rc = kura_audit_checkpoint_open(p, len, v->keys[i], v->o->origin, cp);
        *ret_key = i;
    }
    return rc;
}

/* Finds every signed checkpoint of this origin in text: raw notes, notes with CRLF line ends
 * (saved mail), or notes inside syslog lines whose newlines were escaped as "#012" (rsyslog) or
 * "\n" (two characters). */
static int scan_notes(struct verifier *v, struct kura_buf *text, const char *source, bool witness,
                      uint64_t *ret_found)
{
    /* Normalise the escapes in place (both are longer than the newline they stand for), but
     * only before the first '{' of a raw line. Text from requests (a user agent, a path) is
     * only ever inside a record, whose JSON opens with '{' before any of it; decoding there
     * would let a client write a note-shaped "origin\n1\nroot\n\n— sig" into the log,
     * which a syslog witness then carries, and a forged signature would read as re-signing.
     * Notes (in mail, in a syslog CHECKPOINT message) never contain '{'. */
    size_t w = 0;
    bool in_json = false;
    for (size_t r = 0; r < text->len;) {
        char c = text->ptr[r];
        if (c == '\n' || (text->len - r >= 2 && c == '\r' && text->ptr[r + 1] == '\n')) {
            text->ptr[w++] = '\n'; /* CRLF: a mail or a file saved on another system */
            r += c == '\n' ? 1 : 2;
            in_json = false;
        } else if (!in_json && text->len - r >= 4 && memcmp(text->ptr + r, "#012", 4) == 0) {
            text->ptr[w++] = '\n';
            r += 4;
        } else if (!in_json && text->len - r >= 2 && c == '\\' && text->ptr[r + 1] == 'n') {
            text->ptr[w++] = '\n';
            r += 2;
        } else {
            in_json = in_json || c == '{';
            text->ptr[w++] = text->ptr[r++];
        }
    }
    kura_buf_truncate(text, w);
    const char *origin = v->o->origin;
    size_t olen = strlen(origin);
    uint64_t found = 0;
    for (const char *p = text->ptr;
         (p = memmem(p, text->len - (size_t)(p - text->ptr), origin, olen));) {
        /* A note: origin line, size, root, blank line, then signature lines up to a line that
         * is not one. */
        const char *end = p;
        const char *limit = text->ptr + text->len;
        if ((size_t)(limit - p) <= olen || p[olen] != '\n') {
            /* Not this origin's line: a longer origin that starts with ours, or the origin
             * inside other text (a record, a verifier key, a signature line). */
            p += olen;
            continue;
        }
        int lines = 0;
        while (end < limit && lines < 4) {
            const char *nl = memchr(end, '\n', (size_t)(limit - end));
            if (!nl) {
                break;
            }
            end = nl + 1;
            lines++;
        }
        while (lines == 4 && end < limit && limit - end >= 4 &&
               memcmp(end, "\xe2\x80\x94 ", 4) == 0) {
            const char *nl = memchr(end, '\n', (size_t)(limit - end));
            /* Only lines the note parser accepts: junk after a signature must not make the
             * whole note unreadable and so hide a checkpoint that proves tampering. */
            if (!nl || memchr(end, '\0', (size_t)(nl - end)) ||
                !kura_utf8_valid(end, (size_t)(nl - end)) ||
                (size_t)(nl + 1 - p) > AUDIT_NOTE_MAX) {
                break;
            }
            end = nl + 1;
        }
        struct kura_audit_checkpoint cp;
        size_t key = 0;
        int rc = lines == 4 ? open_note(v, p, (size_t)(end - p), &cp, &key) : KURA_ESYNTAX;
        if (rc == 0) {
            int r = add_checkpoint(v, &cp, source, key);
            if (r < 0) {
                return r;
            }
            found++;
            v->rep->witnessed += witness;
        } else if (rc == KURA_ECRYPTO && witness) {
            /* A checkpoint of this origin that the audit key did not sign: history re-signed
             * with another key, or keys/audit.pub replaced. */
            return bad(v, 0,
                       "a checkpoint of this log in %s is not signed by keys/audit.pub or a "
                       "retired key: the log was re-signed or the audit key replaced",
                       source);
        }
        p += olen;
    }
    *ret_found = found;
    return 0;
}

static int load_checkpoints(struct verifier *v)
{
    struct kura_buf text = KURA_BUF_INIT(64u << 20);
    uint64_t found = 0;
    int r = kura_file_read_all(v->dirfd, CHECKPOINT, &text);
    if (r == 0) {
        r = scan_notes(v, &text, "audit/checkpoint", false, &found);
        if (r == 0 && found == 0) {
            kura_buf_release(&text);
            return bad(v, 0, "audit/checkpoint does not verify with the audit key and origin");
        }
        if (r == 0) {
            v->rep->checkpoint = v->cps[v->ncps - 1].size;
        }
    } else if (r != -ENOENT) {
        kura_buf_release(&text);
        return r;
    }
    kura_buf_reset(&text);
    r = kura_file_read_all(v->dirfd, HISTORY, &text);
    if (r == 0) {
        size_t before = v->ncps;
        r = scan_notes(v, &text, "audit/checkpoints", false, &found);
        /* The local history grows in order: a smaller size later means a rollback. */
        for (size_t i = before + 1; r == 0 && i < v->ncps; i++) {
            if (v->cps[i].size < v->cps[i - 1].size) {
                kura_buf_release(&text);
                return bad(
                    v, v->cps[i].size, "audit/checkpoints goes back from %llu to %llu records",
                    (unsigned long long)v->cps[i - 1].size, (unsigned long long)v->cps[i].size);
            }
        }
    } else if (r == -ENOENT) {
        r = 0;
    }
    for (size_t i = 0; r == 0 && i < v->o->n_witness_files; i++) {
        kura_buf_reset(&text);
        const char *f = v->o->witness_files[i];
        r = kura_file_read_all(AT_FDCWD, f, &text);
        if (r == 0) {
            r = scan_notes(v, &text, f, true, &found);
        } else if (r == -ENOENT) {
            r = 0; /* a witness that has not received anything yet */
        }
    }
    kura_buf_release(&text);
    v->rep->checkpoints = v->ncps;
    return r;
}

/* Compares the tree so far with every checkpoint of exactly this size. */
static int check_checkpoints_at(struct verifier *v)
{
    kura_hash root;
    bool have = false;
    for (size_t i = 0; i < v->ncps; i++) {
        if (v->cps[i].checked || v->cps[i].size != v->pos) {
            continue;
        }
        if (!have) {
            int r = tlog_compact_root(&v->compact, root);
            if (r < 0) {
                return r;
            }
            have = true;
        }
        v->cps[i].checked = true;
        size_t k = v->cps[i].key;
        if (k > v->key_now || v->pos < v->key_from[k] || v->pos > v->key_until[k]) {
            return bad(v, v->pos ? v->pos - 1 : 0,
                       "a checkpoint of %llu records in %s is signed by %s key, which the log "
                       "did not have in force at that size",
                       (unsigned long long)v->pos, v->cps[i].source,
                       k + 1 == v->nkeys ? "the current" : "a retired");
        }
        if (memcmp(root, v->cps[i].root, KURA_AUDIT_HASH_BYTES) != 0) {
            return bad(v, v->pos ? v->pos - 1 : 0,
                       "the first %llu records do not hash to the root of a checkpoint in %s: "
                       "the log was rewritten",
                       (unsigned long long)v->pos, v->cps[i].source);
        }
    }
    return 0;
}

/* ---- tiles ----------------------------------------------------------------------------------- */

/* A leaf hash was computed: add it to the tree and, on completing tiles, compare them. */
static int add_leaf(struct verifier *v, const kura_hash leaf)
{
    int r = tlog_compact_append(&v->compact, leaf);
    if (r < 0) {
        return r;
    }
    memcpy(v->level[0][v->level_count[0]++], leaf, KURA_AUDIT_HASH_BYTES);
    uint64_t nodes = v->compact.size;
    for (unsigned l = 0; l < LEVELS && v->level_count[l] == KURA_AUDIT_TILE_WIDTH; l++) {
        nodes >>= KURA_AUDIT_TILE_HEIGHT;
        uint64_t tile = nodes - 1;
        kura_hash stored[KURA_AUDIT_TILE_WIDTH];
        r = tile_read(v->dirfd, (int)l, tile, 0, stored, sizeof(stored));
        if (r < 0 || memcmp(stored, v->level[l], sizeof(stored)) != 0) {
            uint64_t first = (tile * KURA_AUDIT_TILE_WIDTH) << (KURA_AUDIT_TILE_HEIGHT * l);
            return bad(v, first, "hash tile %u/%llu is %s", l, (unsigned long long)tile,
                       r < 0 ? "missing or damaged" : "not the hash of the records below it");
        }
        if (l + 1 < LEVELS) {
            /* The tile's root: the append that completed it has just computed it. */
            memcpy(v->level[l + 1][v->level_count[l + 1]++], v->compact.tile_root[l],
                   KURA_AUDIT_HASH_BYTES);
        }
        v->level_count[l] = 0;
    }
    return 0;
}

/* ---- records --------------------------------------------------------------------------------- */

static bool starts_run(const char *action)
{
    return strcmp(action, "server.start") == 0;
}

/* A key rotation: the key in force hands over to the next key of the chain. */
static const char *rotate(struct verifier *v, struct audit_record *r, char *msg, size_t size)
{
    uint8_t next[KURA_SIGN_PUBLIC_KEY_BYTES];
    int rc = kura_audit_rotation_check(audit_record_detail(r), v->o->origin, v->pos,
                                       v->keys[v->key_now], next);
    if (rc < 0) {
        (void)snprintf(msg, size,
                       "record %llu rotates the audit key but is not signed by the key in force",
                       (unsigned long long)v->pos);
        return msg;
    }
    if (v->key_now + 1 >= v->nkeys ||
        memcmp(next, v->keys[v->key_now + 1], KURA_SIGN_PUBLIC_KEY_BYTES) != 0) {
        (void)snprintf(msg, size,
                       "record %llu rotates the audit key to a key that is not the next in "
                       "keys/audit-retired.pub and keys/audit.pub",
                       (unsigned long long)v->pos);
        return msg;
    }
    v->key_until[v->key_now] = v->pos + 1; /* it also signs the checkpoint of this record */
    v->key_now++;
    v->key_from[v->key_now] = v->pos + 1;
    return NULL;
}

/* Updates the run state (server running, last heartbeat, pruning) from one record; returns an
 * error message, or NULL. */
static const char *track(struct verifier *v, struct audit_record *r, char *msg, size_t size)
{
    if (strcmp(r->action, "audit.heartbeat") == 0 || starts_run(r->action)) {
        uint64_t limit = 2 * v->o->heartbeat_interval_ms;
        bool late = v->running && !starts_run(r->action) && limit &&
                    (uint64_t)(r->time_ms - v->last_beat) > limit;
        if (late) {
            (void)snprintf(msg, size,
                           "no heartbeat for %lld s before record %llu while the server was "
                           "running",
                           (long long)((r->time_ms - v->last_beat) / 1000),
                           (unsigned long long)v->pos);
        }
        v->running = true;
        v->last_beat = r->time_ms;
        return late ? msg : NULL;
    }
    if (strcmp(r->action, "server.stop") == 0) {
        v->running = false;
    } else if (strcmp(r->action, "audit.key") == 0) {
        return rotate(v, r, msg, size);
    } else if (strcmp(r->action, "audit.pruned") == 0) {
        json_t *upto = json_object_get(audit_record_detail(r), "up_to");
        if (json_is_integer(upto) && (uint64_t)json_integer_value(upto) > v->rep->pruned_upto) {
            v->rep->pruned_upto = (uint64_t)json_integer_value(upto);
        }
    }
    return NULL;
}

static int check_record(struct verifier *v, const char *rec, size_t len, const kura_hash leaf)
{
    struct audit_record r;
    struct kura_buf why = KURA_BUF_INIT(256);
    char msg[400];
    const char *problem = NULL;
    bool parsed = audit_record_parse(rec, len, &r, &why) == 0;
    if (!parsed) {
        (void)snprintf(msg, sizeof(msg), "record %llu: %s", (unsigned long long)v->pos, why.ptr);
        problem = msg;
    } else if (r.index != v->pos) {
        (void)snprintf(msg, sizeof(msg),
                       "record %llu says it is record %llu: records were inserted, removed or "
                       "reordered",
                       (unsigned long long)v->pos, (unsigned long long)r.index);
        problem = msg;
    } else if (memcmp(r.prev, v->prev, KURA_AUDIT_HASH_BYTES) != 0) {
        (void)snprintf(msg, sizeof(msg), "record %llu does not link to the record before it",
                       (unsigned long long)v->pos);
        problem = msg;
    } else if (r.time_ms < v->prev_time) {
        (void)snprintf(msg, sizeof(msg), "record %llu is older than the record before it",
                       (unsigned long long)v->pos);
        problem = msg;
    } else {
        problem = track(v, &r, msg, sizeof(msg));
    }
    kura_buf_release(&why);
    if (parsed) {
        v->prev_time = r.time_ms;
        audit_record_release(&r);
    }
    memcpy(v->prev, leaf, KURA_AUDIT_HASH_BYTES);
    /* Before --since only the hashes count; record checks are not reported. */
    return problem && v->pos >= v->o->since ? bad(v, v->pos, "%s", problem) : 0;
}

/* Checks the records of one bundle (data) starting at v->pos; full bundles hold 256 and come
 * with their stored level-0 tile, so that an altered record is named itself (not the next one,
 * whose link to it breaks). */
static int check_bundle(struct verifier *v, const char *data, size_t len, const kura_hash *tile)
{
    bool full = tile != NULL;
    size_t off = 0;
    unsigned count = 0;
    while (off < len) {
        if (len - off < 2) {
            return bad(v, v->pos, "record %llu: truncated length", (unsigned long long)v->pos);
        }
        size_t rlen = ((size_t)(uint8_t)data[off] << 8) | (uint8_t)data[off + 1];
        if (rlen == 0 || rlen > KURA_AUDIT_RECORD_MAX || rlen > len - off - 2) {
            if (!full) {
                return 0; /* an unacknowledged tail after a crash: recovery will cut it */
            }
            return bad(v, v->pos, "record %llu: bad length", (unsigned long long)v->pos);
        }
        kura_hash leaf;
        int r = tlog_leaf_hash(data + off + 2, rlen, leaf);
        if (r == 0 && full && count < KURA_AUDIT_TILE_WIDTH &&
            memcmp(leaf, tile[count], KURA_AUDIT_HASH_BYTES) != 0) {
            return bad(v, v->pos,
                       "record %llu does not match its hash in tile 0/%llu: the record was "
                       "altered",
                       (unsigned long long)v->pos,
                       (unsigned long long)(v->pos / KURA_AUDIT_TILE_WIDTH));
        }
        if (r == 0) {
            r = check_record(v, data + off + 2, rlen, leaf);
        }
        if (r == 0) {
            r = add_leaf(v, leaf);
        }
        if (r != 0) {
            return r;
        }
        v->pos++;
        count++;
        off += 2 + rlen;
        r = check_checkpoints_at(v);
        if (r != 0) {
            return r;
        }
        if (v->o->progress && v->pos % 100000 == 0) {
            v->o->progress(v->o->progress_ctx, v->pos, v->rep->size);
        }
    }
    if (full && count != KURA_AUDIT_TILE_WIDTH) {
        return bad(v, v->pos, "bundle ending at record %llu holds %u records, not %u",
                   (unsigned long long)v->pos, count, KURA_AUDIT_TILE_WIDTH);
    }
    return 0;
}

/* A bundle removed by retention: its leaves come from the level-0 tile. */
static int skip_pruned_bundle(struct verifier *v, uint64_t n)
{
    kura_hash leaves[KURA_AUDIT_TILE_WIDTH];
    int r = tile_read(v->dirfd, 0, n, 0, leaves, sizeof(leaves));
    if (r < 0) {
        return bad(v, v->pos, "bundle %llu and its hash tile are both missing",
                   (unsigned long long)n);
    }
    if (v->first_missing == UINT64_MAX) {
        v->first_missing = v->pos;
    }
    for (unsigned i = 0; i < KURA_AUDIT_TILE_WIDTH; i++) {
        /* The stored tile is compared with itself here; the checkpoint roots hold it honest. */
        r = add_leaf(v, leaves[i]);
        if (r != 0) {
            return r;
        }
        memcpy(v->prev, leaves[i], KURA_AUDIT_HASH_BYTES);
        v->pos++;
        r = check_checkpoints_at(v);
        if (r != 0) {
            return r;
        }
    }
    v->prev_time = 0; /* the pruned records' times are gone */
    v->running = false;
    return 0;
}

static uint64_t count_full(int dirfd)
{
    uint64_t lo = 0, hi = 1;
    while (tile_exists(dirfd, 0, hi - 1, 0)) {
        lo = hi;
        hi *= 2;
    }
    while (lo + 1 < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (tile_exists(dirfd, 0, mid - 1, 0)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int run(struct verifier *v)
{
    int r = load_checkpoints(v);
    if (r != 0) {
        return r;
    }
    uint64_t full = count_full(v->dirfd);
    struct kura_buf data = KURA_BUF_INIT(KURA_AUDIT_TILE_WIDTH * (KURA_AUDIT_RECORD_MAX + 2));
    struct stat st;
    v->rep->size = full * KURA_AUDIT_TILE_WIDTH;
    if (fstatat(v->dirfd, CURRENT, &st, 0) == 0) {
        v->rep->size += (uint64_t)st.st_size / 64; /* an estimate, for progress only */
    }
    r = check_checkpoints_at(v); /* a checkpoint of the empty tree */
    static _Thread_local kura_hash tile[KURA_AUDIT_TILE_WIDTH];
    for (uint64_t n = 0; r == 0 && n < full; n++) {
        char path[TILE_PATH_MAX];
        tile_path(path, TILE_ENTRIES, n, 0);
        kura_buf_reset(&data);
        int rr = kura_file_read_all(v->dirfd, path, &data);
        if (rr == -ENOENT) {
            r = skip_pruned_bundle(v, n);
        } else if (rr < 0) {
            r = rr;
        } else if (tile_read(v->dirfd, 0, n, 0, tile, sizeof(tile)) < 0) {
            r = bad(v, v->pos, "hash tile 0/%llu is missing or damaged", (unsigned long long)n);
        } else {
            r = check_bundle(v, data.ptr, data.len, (const kura_hash *)tile);
        }
    }
    if (r == 0) {
        kura_buf_reset(&data);
        int rr = kura_file_read_all(v->dirfd, CURRENT, &data);
        r = rr == -ENOENT ? 0 : rr < 0 ? rr : check_bundle(v, data.ptr, data.len, NULL);
    }
    kura_buf_release(&data);
    v->rep->size = v->pos;
    if (r != 0) {
        return r < 0 ? r : 0;
    }
    if (v->first_missing != UINT64_MAX && v->first_missing >= v->rep->pruned_upto) {
        return bad(v, v->first_missing,
                   "the bundle of record %llu is missing but no audit.pruned record covers it",
                   (unsigned long long)v->first_missing);
    }
    if (v->key_now + 1 != v->nkeys) {
        return bad(v, v->pos,
                   "keys/audit-retired.pub lists %zu retired keys but the log rotated %zu times",
                   v->nkeys - 1, v->key_now);
    }
    for (size_t i = 0; i < v->ncps; i++) {
        if (!v->cps[i].checked) {
            return bad(v, v->pos,
                       "a checkpoint in %s covers %llu records but the log has only %llu: the "
                       "log was truncated",
                       v->cps[i].source, (unsigned long long)v->cps[i].size,
                       (unsigned long long)v->pos);
        }
    }
    return 0;
}

/* The chain: retired keys, oldest first, then the current one. Until the log says otherwise
 * the first key is in force for every size. */
static int key_chain(struct verifier *v)
{
    v->nkeys = v->o->n_retired + 1;
    uint8_t(*keys)[KURA_SIGN_PUBLIC_KEY_BYTES] = kura_calloc(v->nkeys, sizeof(*keys));
    v->key_from = kura_calloc(v->nkeys, sizeof(uint64_t));
    v->key_until = kura_calloc(v->nkeys, sizeof(uint64_t));
    if (!keys || !v->key_from || !v->key_until) {
        kura_free(keys);
        return -ENOMEM;
    }
    for (size_t i = 0; i < v->o->n_retired; i++) {
        memcpy(keys[i], v->o->retired[i], KURA_SIGN_PUBLIC_KEY_BYTES);
    }
    memcpy(keys[v->o->n_retired], v->o->pk, KURA_SIGN_PUBLIC_KEY_BYTES);
    for (size_t i = 0; i < v->nkeys; i++) {
        v->key_from[i] = i == 0 ? 0 : UINT64_MAX;
        v->key_until[i] = UINT64_MAX;
    }
    v->keys = (const uint8_t(*)[KURA_SIGN_PUBLIC_KEY_BYTES])keys;
    return 0;
}

int kura_audit_verify(int audit_dirfd, const struct kura_audit_verify_opts *opts,
                      struct kura_audit_verify_report *ret)
{
    struct verifier *v = kura_calloc(1, sizeof(*v));
    if (!v) {
        return -ENOMEM;
    }
    memset(ret, 0, sizeof(*ret));
    ret->ok = true;
    v->dirfd = audit_dirfd;
    v->o = opts;
    v->rep = ret;
    v->first_missing = UINT64_MAX;
    tlog_compact_init(&v->compact);
    int r = key_chain(v);
    if (r == 0) {
        r = run(v);
    }
    kura_free(v->cps);
    kura_free((void *)v->keys);
    kura_free(v->key_from);
    kura_free(v->key_until);
    kura_free(v);
    return r < 0 ? r : 0;
}
