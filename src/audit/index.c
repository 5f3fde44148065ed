/* index.c — keeping the search index (meta's audit_index) in step with the log.
 *
 * The index is derived data: it is filled by reading the log's files in order and can be
 * rebuilt at any time by replaying them (rows already present are skipped). Inserts go in
 * batches of up to INDEX_BATCH records, one transaction each, so that indexing a busy hour does
 * not cost a SQLite commit per request.
 */
#include "audit-internal.h"

#include <pthread.h>
#include <string.h>

#define INDEX_BATCH 512
/* After indexing something, pause this long before reading on: under load the index then costs
 * one commit (and one fsync) per interval instead of one per group commit of the log, and
 * searches lag by at most this much. */
#define INDEX_PACE_MS 250

struct batch {
    struct kura_audit_row rows[INDEX_BATCH];
    struct audit_record recs[INDEX_BATCH]; /* the rows' strings */
    char *texts[INDEX_BATCH];
    size_t n;
};

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        audit_record_release(&b->recs[i]);
        kura_free(b->texts[i]);
    }
    b->n = 0;
}

/* Turns a record into a row (its strings point into the batch's copy of the record). */
static int add_record(struct batch *b, struct kura_str rec, uint64_t index)
{
    struct audit_record *r = &b->recs[b->n];
    struct kura_buf why = KURA_BUF_INIT(256);
    int rc = audit_record_parse(rec.ptr, rec.len, r, &why);
    kura_buf_release(&why);
    if (rc < 0) {
        return rc; /* verify names it; the index cannot hold it */
    }
    char *text = kura_strndup(rec.ptr, rec.len);
    if (!text) {
        audit_record_release(r);
        return -ENOMEM;
    }
    b->rows[b->n] = (struct kura_audit_row){
        .idx = index,
        .time = r->time_ms,
        .actor = r->actor,
        .action = r->action,
        .object = r->object,
        .result = r->result,
        .source_ip = r->source_ip,
        .request_id = r->request_id,
        .bytes = r->bytes,
        .record = text,
    };
    b->texts[b->n] = text;
    b->n++;
    return 0;
}

/* Reads from the iterator into the index until there is nothing more for now. */
static int drain(struct kura_audit_iter *it, struct kura_meta *m, struct batch *b, uint64_t *added,
                 uint64_t *position)
{
    int r = 0;
    for (;;) {
        struct kura_str rec;
        uint64_t index;
        int got = kura_audit_iter_next(it, &rec, &index);
        if (got == 1) {
            r = add_record(b, rec, index);
            *position = index + 1;
        } else if (got != KURA_ENOTFOUND) {
            r = got; /* 0: caught up, or an error */
        }
        if (r < 0 || got == 0 || b->n == INDEX_BATCH) {
            int w = kura_meta_audit_index_put(m, b->rows, b->n);
            *added += b->n;
            batch_clear(b);
            if (r == 0) {
                r = w;
            }
            if (r < 0 || got == 0) {
                return r;
            }
        }
    }
}

int kura_audit_index_catch_up(int audit_dirfd, struct kura_meta *m, uint64_t *ret_added)
{
    uint64_t next = 0, added = 0, position = 0;
    int r = kura_meta_audit_index_next(m, &next);
    struct kura_audit_iter *it = NULL;
    struct batch *b = kura_calloc(1, sizeof(*b));
    if (r == 0 && !b) {
        r = -ENOMEM;
    }
    if (r == 0) {
        r = kura_audit_iter_open(audit_dirfd, next, &it);
    }
    if (r == 0) {
        r = drain(it, m, b, &added, &position);
    }
    kura_audit_iter_free(it);
    kura_free(b);
    if (r == 0 && ret_added) {
        *ret_added = added;
    }
    return r;
}

/* ---- the indexer thread -----------------------------------------------------------------------
 */

struct kura_audit_indexer {
    int dirfd;
    struct kura_audit *audit;
    struct kura_meta *meta;
    pthread_t thread;
    _Atomic bool stopping;
    _Atomic uint64_t position;
};

static void *indexer_main(void *arg)
{
    struct kura_audit_indexer *ix = arg;
    struct batch *b = kura_calloc(1, sizeof(*b));
    uint64_t next = 0, added = 0, position = 0;
    struct kura_audit_iter *it = NULL;
    int r = b ? kura_meta_audit_index_next(ix->meta, &next) : -ENOMEM;
    if (r == 0) {
        r = kura_audit_iter_open(ix->dirfd, next, &it);
    }
    position = next;
    while (r == 0) {
        uint64_t before = position;
        r = drain(it, ix->meta, b, &added, &position);
        atomic_store(&ix->position, position);
        if (r < 0 || atomic_load(&ix->stopping)) {
            break;
        }
        if (position > before) {
            kura_audit_pause(ix->audit, INDEX_PACE_MS);
        } else {
            (void)kura_audit_wait(ix->audit, position, 1000); /* idle: the next record wakes us */
        }
    }
    if (r < 0) {
        kura_log_err(r, "audit_index_stopped", "msg",
                     "the search index stopped following the log; restart to resume", NULL);
    }
    kura_audit_iter_free(it);
    kura_free(b);
    kura_sha256_thread_done();
    return NULL;
}

int kura_audit_indexer_start(int audit_dirfd, struct kura_audit *a, struct kura_meta *m,
                             struct kura_audit_indexer **ret)
{
    struct kura_audit_indexer *ix = kura_calloc(1, sizeof(*ix));
    if (!ix) {
        return -ENOMEM;
    }
    *ix = (struct kura_audit_indexer){.dirfd = audit_dirfd, .audit = a, .meta = m};
    int r = -pthread_create(&ix->thread, NULL, indexer_main, ix);
    if (r < 0) {
        kura_free(ix);
        return r;
    }
    (void)pthread_setname_np(ix->thread, "kura-index");
    *ret = ix;
    return 0;
}

struct kura_audit_indexer *kura_audit_indexer_stop(struct kura_audit_indexer *ix)
{
    if (!ix) {
        return NULL;
    }
    atomic_store(&ix->stopping, true);
    kura_audit_wake(ix->audit);
    pthread_join(ix->thread, NULL);
    kura_free(ix);
    return NULL;
}

uint64_t kura_audit_indexer_position(struct kura_audit_indexer *ix)
{
    return atomic_load(&ix->position);
}
