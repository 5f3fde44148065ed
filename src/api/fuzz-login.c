/* libFuzzer harness for the API's request-body and cookie parsers, on the login's field set.
 *
 * api_json_fields: the answer is 0 or KURA_EBADREQ (or the arena's own error), and it is 0
 * exactly when jansson, parsing the same bytes on its own (no flags), finds an object of at most
 * KURA_API_BODY_MAX bytes with no duplicate key, only keys of the set, only string values within
 * their limits and every required key. On success every returned value is valid UTF-8 without
 * NUL, within its limit, and byte for byte what jansson decoded for that key. Duplicates are
 * found without jansson's JSON_REJECT_DUPLICATES (the mechanism under test): a valid object has
 * as many members in its text as keys in jansson's object unless a key repeats.
 *
 * api_cookie_value, on the same bytes up to the first NUL as a Cookie header: a value is at most
 * KURA_SESSION_TOKEN_MAX bytes, has no ';', appears in the header right after the cookie's
 * name, and a non-empty value is found again unchanged when set between two other cookies.
 * (An empty value is not: "name=" is skipped while "name= " gives "", which no session check
 * accepts.) */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* POST /api/v1/session's fields (login_handler in session.c, which keeps its table static). */
static const struct api_field login_fields[] = {
    {"user", KURA_META_ID_MAX, true},
    {"password", KURA_PASSWORD_MAX, true},
    {"totp", KURA_RECOVERY_INPUT_MAX, false},
};
enum { N_FIELDS = KURA_ARRAY_SIZE(login_fields) };

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz-login: %s (input %zu bytes: '%.*s')\n", what, size,
            (int)(size < 200 ? size : 200), (const char *)data);
    abort();
}

/* Members of the top-level object of a text jansson has accepted as an object: commas at depth
 * 1 outside strings, plus one unless the object is empty. */
static size_t count_members(const char *s, size_t len)
{
    size_t depth = 0, commas = 0;
    bool in_string = false, escaped = false, any = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',' && depth == 1) {
            commas++;
        }
        if (depth >= 1 &&
            !(depth == 1 && (c == '{' || c == ' ' || c == '\t' || c == '\n' || c == '\r'))) {
            any = true;
        }
    }
    return any ? commas + 1 : 0;
}

static int field_of(const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (strcmp(login_fields[i].name, key) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Whether the login must accept these bytes, judged from jansson's own reading of them. */
static bool acceptable(json_t *doc, const char *text, size_t len)
{
    if (len > KURA_API_BODY_MAX || !json_is_object(doc) ||
        count_members(text, len) != json_object_size(doc)) {
        return false;
    }
    bool seen[N_FIELDS] = {false};
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value)
    {
        int i = field_of(key);
        if (i < 0 || !json_is_string(value) ||
            json_string_length(value) > login_fields[i].max_len) {
            return false;
        }
        seen[i] = true;
    }
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (login_fields[i].required && !seen[i]) {
            return false;
        }
    }
    return true;
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct kura_arena *a = kura_arena_new(1 << 20);
    if (!a) {
        return;
    }
    char *val[N_FIELDS];
    size_t val_len[N_FIELDS];
    int r = api_json_fields(text, size, login_fields, N_FIELDS, a, val, val_len);
    if (r != 0 && r != KURA_EBADREQ && !(kura_arena_err(a) != 0 && r == kura_arena_err(a))) {
        fail("api_json_fields: undocumented error", data, size);
    }
    json_t *doc = json_loadb(text, size, 0, NULL);
    bool want = acceptable(doc, text, size);
    if (r == 0 && !want) {
        fail("api_json_fields: accepted a body it must refuse", data, size);
    }
    if (r == KURA_EBADREQ && want) {
        fail("api_json_fields: refused a valid login body", data, size);
    }
    for (size_t i = 0; r == 0 && i < N_FIELDS; i++) {
        json_t *v = json_object_get(doc, login_fields[i].name);
        if (!v) {
            if (val[i] || login_fields[i].required) {
                fail("api_json_fields: value for an absent key", data, size);
            }
            continue;
        }
        size_t n = json_string_length(v);
        if (!val[i] || val_len[i] != n || n > login_fields[i].max_len ||
            memcmp(val[i], json_string_value(v), n) != 0 || val[i][n] != '\0' ||
            memchr(val[i], '\0', n) || !kura_utf8_valid(val[i], n)) {
            fail("api_json_fields: value differs from jansson's", data, size);
        }
    }
    json_decref(doc);
    kura_arena_free(a);
}

static void fuzz_cookie(const uint8_t *data, size_t size)
{
    static const char name[] = KURA_API_COOKIE "=";
    char *header = kura_strndup((const char *)data, size); /* as a string: up to the first NUL */
    struct kura_arena *a = kura_arena_new(1 << 20);
    if (!header || !a) {
        kura_free(header);
        kura_arena_free(a);
        return;
    }
    const char *v = api_cookie_value(header, a);
    if (v) {
        size_t n = strlen(v);
        struct kura_buf with_name = KURA_BUF_INIT(1 << 17);
        kura_buf_adds(&with_name, name);
        kura_buf_adds(&with_name, v);
        if (n > KURA_SESSION_TOKEN_MAX || strchr(v, ';') ||
            (kura_buf_err(&with_name) == 0 && !strstr(header, with_name.ptr))) {
            fail("api_cookie_value: value not taken from the header", data, size);
        }
        /* The same value between two other cookies is found again unchanged. */
        struct kura_buf again = KURA_BUF_INIT(1 << 17);
        kura_buf_addf(&again, "a=b; %s%s; c=d", name, v);
        const char *v2 = n > 0 && kura_buf_err(&again) == 0 ? api_cookie_value(again.ptr, a) : v;
        if (!v2 || strcmp(v, v2) != 0) {
            fail("api_cookie_value: value not found again", data, size);
        }
        kura_buf_release(&with_name);
        kura_buf_release(&again);
    }
    kura_arena_free(a);
    kura_free(header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_json(data, size);
    fuzz_cookie(data, size);
    return 0;
}
