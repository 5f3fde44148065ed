/* admin.c — account administration and the audit search for privileged roles, each in an
 * elevated session: /api/v1/accounts[/<id>/<verb>] and /api/v1/audit.
 *
 * Who may do what: admin manages accounts and roles; helpdesk unlocks and resets (after
 * verifying the person, which the request records); auditor reads the ledger and the audit log.
 * Every change writes its ledger row (auth/accounts.c) and its audit record names the verb.
 */
#include "api/api-internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"

#define ACCOUNTS "/api/v1/accounts"

static int parse_roles(const char *s, unsigned *ret)
{
    unsigned roles = 0;
    struct kura_str rest = kura_str_make(s, strlen(s)), one;
    while (rest.len > 0) {
        (void)kura_str_split(&rest, ',', &one);
        enum kura_role bit;
        if (kura_role_parse(one.ptr, one.len, &bit) < 0) {
            return KURA_EBADREQ;
        }
        roles |= (unsigned)bit;
    }
    *ret = roles;
    return roles ? 0 : KURA_EBADREQ;
}

static struct kura_auth_change change_of(struct job *j, const char *reason, char *actor,
                                         size_t size)
{
    (void)snprintf(actor, size, "user:%s", j->id.account_id);
    return (struct kura_auth_change){actor, reason, NULL, kura_clock_wall_ms()};
}

static struct kura_auth_keys keys_of(const struct job *j)
{
    return j->api->auth->keys;
}

/* "/api/v1/accounts/<id>/<verb>" -> id and verb in buf (NUL-separated). */
static int target_of(const char *path, char *buf, size_t size, const char **id, const char **verb)
{
    const char *p = path + sizeof(ACCOUNTS) - 1;
    if (*p != '/' || strlen(p + 1) >= size) {
        return KURA_ENOTFOUND;
    }
    memcpy(buf, p + 1, strlen(p + 1) + 1);
    char *slash = strchr(buf, '/');
    if (!slash || slash == buf || strchr(slash + 1, '/')) {
        return KURA_ENOTFOUND;
    }
    *slash = '\0';
    *id = buf;
    *verb = slash + 1;
    return 0;
}

/* ---- GET /api/v1/accounts ------------------------------------------------------------------ */

static int add_account(void *ctx, const struct kura_account *a)
{
    struct job *j = ctx;
    struct kura_account_auth st;
    int rc = kura_meta_auth_get(j->api->auth->meta, a->id, &st);
    if (rc < 0) {
        return rc;
    }
    return json_array_append_new(
        json_object_get(j->out, "accounts"),
        json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:b,s:I,s:b}", "id", a->id, "display_name",
                  a->display_name, "email", a->email, "affiliation", a->affiliation, "roles",
                  api_roles_json(a->roles), "status", kura_account_status_name(a->status),
                  "valid_until", (json_int_t)a->valid_until, "locked_by_failures",
                  st.locked_at != 0, "last_login_at", (json_int_t)st.last_login_at, "totp_enrolled",
                  st.totp_secret_len > 0 && st.totp_enrolled_at > 0));
}

static int list_work(struct job *j)
{
    j->out = json_pack("{s:[]}", "accounts");
    return j->out ? kura_meta_account_list(j->api->auth->meta, add_account, j) : -ENOMEM;
}

/* ---- POST /api/v1/accounts: create ---------------------------------------------------------- */

static int create_work(struct job *j)
{
    unsigned roles = KURA_ROLE_USER;
    int64_t until = 0;
    j->action = "account.create";
    j->object = j->f[0];
    if (!(j->id.roles & KURA_ROLE_ADMIN) || (j->f[4] && parse_roles(j->f[4], &roles) < 0) ||
        (j->f[5] && kura_audit_time_parse(j->f[5], &until) < 0)) {
        j->why = (j->id.roles & KURA_ROLE_ADMIN) ? "bad_request" : "role_missing";
        return (j->id.roles & KURA_ROLE_ADMIN) ? KURA_EBADREQ : KURA_EFORBIDDEN;
    }
    const struct kura_account a = {.id = j->f[0],
                                   .display_name = j->f[1],
                                   .email = j->f[2],
                                   .affiliation = j->f[3],
                                   .roles = roles,
                                   .valid_until = until};
    char actor[KURA_META_ID_MAX + 8], otp[KURA_PASSWORD_GEN_LEN + 1];
    struct kura_auth_change c = change_of(j, j->f[6], actor, sizeof(actor));
    struct kura_auth_keys k = keys_of(j);
    int rc = kura_auth_account_add(j->api->auth->meta, &c, &a, &j->api->auth->policy->id_rule, &k,
                                   otp, sizeof(otp));
    j->why = rc == KURA_ESYNTAX ? "bad_id" : rc == KURA_EEXIST ? "id_used" : NULL;
    rc = rc == KURA_ESYNTAX ? KURA_EBADREQ : rc;
    j->out = rc == 0 ? json_pack("{s:s,s:s}", "id", a.id, "one_time_password", otp) : NULL;
    sodium_memzero(otp, sizeof(otp));
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

/* ---- POST /api/v1/accounts/<id>/<verb> ------------------------------------------------------ */

struct verb {
    const char *name, *action;
    unsigned roles;
};

static const struct verb verbs[] = {
    {"roles", "role.set", KURA_ROLE_ADMIN},
    {"status", "account.status", KURA_ROLE_ADMIN},
    {"unlock", "account.unlock", KURA_ROLE_ADMIN | KURA_ROLE_HELPDESK},
    {"reset-password", "account.reset_password", KURA_ROLE_ADMIN | KURA_ROLE_HELPDESK},
    {"reset-mfa", "account.reset_mfa", KURA_ROLE_ADMIN | KURA_ROLE_HELPDESK},
    {"revoke-sessions", "account.sessions_revoke", KURA_ROLE_ADMIN},
    {"break-glass", "account.break_glass_request", KURA_ROLE_ADMIN},
};

static int run_verb(struct job *j, const struct verb *v, const char *id,
                    const struct kura_auth_change *c)
{
    struct kura_meta *m = j->api->auth->meta;
    const struct kura_auth_verification how = {j->f[2], j->f[3]};
    if (strcmp(v->name, "roles") == 0) {
        unsigned roles;
        int rc = j->f[0] ? parse_roles(j->f[0], &roles) : KURA_EBADREQ;
        return rc < 0 ? rc : kura_auth_account_set_roles(m, c, id, roles);
    }
    if (strcmp(v->name, "status") == 0) {
        enum kura_account_status st;
        int rc = j->f[1] ? kura_account_status_parse(j->f[1], strlen(j->f[1]), &st) : -EINVAL;
        return rc < 0 ? KURA_EBADREQ : kura_auth_account_set_status(m, c, id, st);
    }
    if (strcmp(v->name, "unlock") == 0) {
        return kura_auth_account_unlock(m, c, id);
    }
    if (strcmp(v->name, "reset-mfa") == 0) {
        return how.method ? kura_auth_reset_mfa(m, c, id, &how) : KURA_EBADREQ;
    }
    if (strcmp(v->name, "revoke-sessions") == 0) {
        return kura_meta_session_delete_account(m, id, NULL, NULL);
    }
    if (strcmp(v->name, "break-glass") == 0) {
        uint64_t minutes = 0;
        int64_t until = 0;
        if (!j->f[5] || kura_parse_u64(j->f[5], strlen(j->f[5]), 1440, &minutes) < 0 || !minutes) {
            return KURA_EBADREQ;
        }
        int rc = kura_auth_break_glass_approve(m, c, id, (uint32_t)minutes, &until);
        if (rc == 0) {
            char at[KURA_TIME_STR_MAX];
            kura_clock_format(until, at);
            j->action = "account.break_glass_enable";
            j->out = json_pack("{s:s,s:s,s:s}", "id", id, "state", "enabled", "until", at);
            return j->out ? 0 : -ENOMEM;
        }
        j->why = rc == KURA_EFORBIDDEN ? "same_approver"
                 : rc == KURA_EEXIST   ? "enabled_already"
                                       : NULL;
        j->out =
            rc == 1 ? json_pack("{s:s,s:s}", "id", id, "state", "pending_second_approval") : NULL;
        return rc == 1 ? (j->out ? 0 : -ENOMEM) : rc;
    }
    char otp[KURA_PASSWORD_GEN_LEN + 1];
    struct kura_auth_keys k = keys_of(j);
    int rc =
        how.method ? kura_auth_reset_password(m, c, id, &how, &k, otp, sizeof(otp)) : KURA_EBADREQ;
    j->out = rc == 0 ? json_pack("{s:s,s:s}", "id", id, "one_time_password", otp) : NULL;
    sodium_memzero(otp, sizeof(otp));
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int verb_work(struct job *j)
{
    char buf[KURA_META_ID_MAX + 32], actor[KURA_META_ID_MAX + 8];
    const char *id = NULL, *name = NULL;
    const struct verb *v = NULL;
    int rc = target_of(j->path, buf, sizeof(buf), &id, &name);
    for (size_t i = 0; rc == 0 && i < KURA_ARRAY_SIZE(verbs); i++) {
        v = strcmp(verbs[i].name, name) == 0 ? &verbs[i] : v;
    }
    if (rc < 0 || !v || strlen(id) >= sizeof(j->target)) {
        return KURA_ENOTFOUND;
    }
    j->action = v->action;
    memcpy(j->target, id, strlen(id) + 1);
    j->object = j->target;
    if (!(j->id.roles & v->roles)) {
        j->why = "role_missing";
        return KURA_EFORBIDDEN;
    }
    struct kura_auth_change c = change_of(j, j->f[4] ? j->f[4] : "", actor, sizeof(actor));
    rc = run_verb(j, v, id, &c);
    j->why = rc == KURA_ENOTFOUND ? "no_such_account" : rc == KURA_EBADREQ ? "bad_request" : NULL;
    if (rc >= 0 && !j->out) {
        j->out = json_pack("{s:s,s:s,s:b}", "id", id, "done", v->name, "changed", rc == 0);
    }
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int accounts_handler(struct kura_req *r)
{
    static const struct api_field create[] = {{"id", KURA_META_ID_MAX, true},
                                              {"display_name", KURA_META_TEXT_MAX, false},
                                              {"email", KURA_META_TEXT_MAX, false},
                                              {"affiliation", KURA_META_TEXT_MAX, false},
                                              {"roles", 200, false},
                                              {"valid_until", 32, false},
                                              {"reason", KURA_META_TEXT_MAX, false}};
    static const struct api_field verb[] = {{"roles", 200, false},
                                            {"status", 16, false},
                                            {"verified_by", 64, false},
                                            {"verification", KURA_META_TEXT_MAX, false},
                                            {"reason", KURA_META_TEXT_MAX, false},
                                            {"minutes", 8, false}};
    const struct kura_req_info *info = kura_req_info(r);
    const unsigned staff = KURA_ROLE_ADMIN | KURA_ROLE_HELPDESK;
    if (strcmp(info->method, "GET") == 0 && strcmp(info->path, ACCOUNTS) == 0) {
        return api_start_privileged(r, staff | KURA_ROLE_AUDITOR, NULL, 0, list_work,
                                    KURA_POOL_WORK);
    }
    if (strcmp(info->method, "POST") == 0 && strcmp(info->path, ACCOUNTS) == 0) {
        return api_start_privileged(r, KURA_ROLE_ADMIN, create, KURA_ARRAY_SIZE(create),
                                    create_work, KURA_POOL_HASH);
    }
    if (strcmp(info->method, "POST") == 0) {
        return api_start_privileged(r, staff, verb, KURA_ARRAY_SIZE(verb), verb_work,
                                    KURA_POOL_HASH);
    }
    return KURA_EMETHOD;
}

/* ---- GET /api/v1/audit: search for auditors ---------------------------------------------------
 */

#define AUDIT_LIMIT_MAX 10000

static const char *const query_names[] = {"from",   "to",        "actor", "action", "object",
                                          "result", "source_ip", "limit", "after"};

static int when(const char *s, int64_t *ret)
{
    char full[32];
    size_t n = s ? strlen(s) : 0;
    if (!s) {
        *ret = 0;
        return 0;
    }
    if (n == 10) {
        (void)snprintf(full, sizeof(full), "%sT00:00:00.000Z", s);
    } else if (n == 24) {
        memcpy(full, s, n + 1);
    } else {
        return KURA_EBADREQ;
    }
    return kura_audit_time_parse(full, ret) < 0 ? KURA_EBADREQ : 0;
}

static int add_row(void *ctx, const struct kura_audit_row *row)
{
    json_t *list = ctx;
    json_t *rec = json_loads(row->record, 0, NULL);
    return rec ? json_array_append_new(list, rec) : KURA_ECORRUPT;
}

static int audit_work(struct job *j)
{
    struct kura_audit_query q = {.actor = j->f[2],
                                 .action = j->f[3],
                                 .object_prefix = j->f[4],
                                 .result = j->f[5],
                                 .source_ip = j->f[6],
                                 .limit = 100,
                                 .after_idx = UINT64_MAX};
    int rc = when(j->f[0], &q.from_ms);
    rc = rc == 0 ? when(j->f[1], &q.to_ms) : rc;
    if (rc == 0 && j->f[7]) {
        rc = kura_parse_u64(j->f[7], strlen(j->f[7]), AUDIT_LIMIT_MAX, &q.limit) < 0 || !q.limit
                 ? KURA_EBADREQ
                 : 0;
    }
    if (rc == 0 && j->f[8]) {
        rc = kura_parse_u64(j->f[8], strlen(j->f[8]), INT64_MAX, &q.after_idx) < 0 ? KURA_EBADREQ
                                                                                   : 0;
    }
    json_t *list = rc == 0 ? json_array() : NULL;
    rc = rc == 0 ? (list ? kura_meta_audit_index_search(j->api->auth->meta, &q, add_row, list)
                         : -ENOMEM)
                 : rc;
    size_t n = list ? json_array_size(list) : 0;
    json_t *last = n ? json_object_get(json_array_get(list, n - 1), "index") : NULL;
    j->out = rc == 0 ? json_pack("{s:o,s:O?}", "records", list, "next_after", last)
                     : (json_decref(list), NULL);
    j->why = rc == KURA_EBADREQ ? "bad_query" : NULL;
    return rc < 0 ? rc : j->out ? 0 : -ENOMEM;
}

static int audit_handler(struct kura_req *r)
{
    return api_start_query(r, KURA_ROLE_AUDITOR, query_names, KURA_ARRAY_SIZE(query_names),
                           audit_work, KURA_POOL_WORK);
}

/* ---- GET /api/v1/ledger?target=ID: the account ledger as CSV ------------------------------------
 */

#define LEDGER_CSV_MAX (64u << 20)

/* One CSV cell: always quoted, quotes doubled, a leading = + - @ tab or CR made inert for
 * spreadsheets (as kura user ledger does). */
static void csv_cell(struct kura_buf *b, const char *s, bool last)
{
    s = s ? s : "";
    kura_buf_addc(b, '"');
    if (s[0] && strchr("=+-@\t\r", s[0])) {
        kura_buf_addc(b, '\'');
    }
    for (; *s; s++) {
        if (*s == '"') {
            kura_buf_addc(b, '"');
        }
        kura_buf_addc(b, *s);
    }
    kura_buf_adds(b, last ? "\"\r\n" : "\",");
}

static int ledger_row(void *ctx, const struct kura_ledger_entry *e)
{
    struct kura_buf *b = ctx;
    char at[KURA_TIME_STR_MAX], seq[KURA_NUM_STR_MAX];
    kura_clock_format(e->at, at);
    kura_fmt_u64(seq, e->seq);
    const char *cells[] = {seq,       at,       e->actor,  e->target,    e->action,
                           e->before, e->after, e->reason, e->request_id};
    for (size_t i = 0; i < KURA_ARRAY_SIZE(cells); i++) {
        csv_cell(b, cells[i], i + 1 == KURA_ARRAY_SIZE(cells));
    }
    return kura_buf_err(b);
}

static int ledger_work(struct job *j)
{
    j->text = (struct kura_buf)KURA_BUF_INIT(LEDGER_CSV_MAX);
    kura_buf_adds(&j->text, "seq,at,actor,target,action,before,after,reason,request_id\r\n");
    int rc = kura_meta_ledger_list(j->api->auth->meta, j->f[0], ledger_row, &j->text);
    j->text_type = rc == 0 ? "text/csv; charset=utf-8" : NULL;
    return rc;
}

static int ledger_handler(struct kura_req *r)
{
    static const char *const names[] = {"target"};
    return api_start_query(r, KURA_ROLE_ADMIN | KURA_ROLE_AUDITOR, names, 1, ledger_work,
                           KURA_POOL_WORK);
}

const struct kura_route kura_api_admin_routes[] = {
    {"GET", "/api/v1/ledger", 0, 0, ledger_handler, "account.ledger_export", NULL},
    {"GET", "/api/v1/audit", 0, 0, audit_handler, "audit.search", NULL},
    {"GET", ACCOUNTS, 0, 0, accounts_handler, "account.list", NULL},
    {"POST", ACCOUNTS, KURA_ROUTE_PREFIX, KURA_API_BODY_MAX, accounts_handler, "account.admin",
     NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
