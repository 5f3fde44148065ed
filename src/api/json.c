/* json.c — request bodies of the API: small JSON objects of known string fields (jansson does
 * the parsing; this file decides what is acceptable), and the session cookie. */
#include "api/api.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

static int field_index(const struct api_field *fields, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fields[i].name, key) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int api_json_fields(const char *body, size_t len, const struct api_field *fields, size_t n,
                    struct kura_arena *arena, char **ret, size_t *ret_len)
{
    if (len > KURA_API_BODY_MAX) {
        return KURA_EBADREQ;
    }
    /* jansson refuses \u0000 in strings and invalid UTF-8 by itself. */
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    int r = json_is_object(doc) ? 0 : KURA_EBADREQ;
    for (size_t i = 0; i < n; i++) {
        ret[i] = NULL;
        ret_len[i] = 0;
    }
    const char *key;
    json_t *value;
    json_object_foreach(r == 0 ? doc : NULL, key, value)
    {
        int i = field_index(fields, n, key);
        size_t vlen = json_is_string(value) ? json_string_length(value) : 0;
        if (i < 0 || !json_is_string(value) || vlen > fields[i].max_len) {
            r = KURA_EBADREQ;
            break;
        }
        ret[i] = kura_arena_strndup(arena, json_string_value(value), vlen);
        ret_len[i] = vlen;
        if (!ret[i]) {
            r = kura_arena_err(arena);
            break;
        }
    }
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = fields[i].required && !ret[i] ? KURA_EBADREQ : 0;
    }
    for (size_t i = 0; r < 0 && i < n; i++) {
        /* A refused body may still hold a password: wipe the copies, hand nothing back. */
        if (ret[i]) {
            sodium_memzero(ret[i], ret_len[i]);
        }
        ret[i] = NULL;
        ret_len[i] = 0;
    }
    json_decref(doc);
    return r;
}

const char *api_cookie_value(const char *header, struct kura_arena *arena)
{
    static const char name[] = KURA_API_COOKIE "=";
    /* Cookie: a=b; c=d (RFC 6265 section 5.4); the first cookie of that name counts. */
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';') {
            p++;
        }
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > sizeof(name) - 1 && memcmp(p, name, sizeof(name) - 1) == 0) {
            size_t vlen = len - (sizeof(name) - 1);
            while (vlen > 0 && p[sizeof(name) - 1 + vlen - 1] == ' ') {
                vlen--;
            }
            return vlen > KURA_SESSION_TOKEN_MAX
                       ? NULL
                       : kura_arena_strndup(arena, p + sizeof(name) - 1, vlen);
        }
        p = end ? end + 1 : p + len;
    }
    return NULL;
}
