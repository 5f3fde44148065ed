/* headers.c — pure helpers for request headers: language negotiation, request ids,
 * X-Forwarded-For, token and value checks. No libmicrohttpd here, so all of it is unit-tested
 * and fuzzable. */
#include "http/http.h"
#include "http-internal.h"

#include <arpa/inet.h>
#include <string.h>

/* RFC 9110 5.6.2 tchar. */
bool http_is_token(const char *s, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (c == '\0' || !strchr(extra, c))) {
            return false;
        }
    }
    return true;
}

/* RFC 9110 5.5: field values are VCHAR, obs-text, SP and HTAB. */
bool http_value_ok(const char *s, size_t len)
{
    return !kura_has_ctl(s, len, true);
}

bool kura_http_request_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > KURA_HTTP_REQUEST_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Parses a qvalue ("1", "0.8", "1.000"); returns thousandths, or -1 when malformed. */
static int parse_qvalue(struct kura_str v)
{
    if (v.len == 0 || v.len > 5 || (v.ptr[0] != '0' && v.ptr[0] != '1')) {
        return -1;
    }
    int q = (v.ptr[0] - '0') * 1000;
    if (v.len == 1) {
        return q;
    }
    if (v.ptr[1] != '.') {
        return -1;
    }
    int scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') {
            return -1;
        }
        q += (v.ptr[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* "ja", "ja-JP", "JA-jp" match ja; likewise en. */
static bool lang_matches(struct kura_str tag, const char *primary)
{
    size_t n = strlen(primary);
    if (tag.len < n || !kura_str_eq_nocase(kura_str_make(tag.ptr, n), kura_str_c(primary))) {
        return false;
    }
    return tag.len == n || tag.ptr[n] == '-';
}

enum kura_lang kura_http_negotiate_lang(const char *accept_language)
{
    if (!accept_language) {
        return KURA_LANG_EN;
    }
    struct kura_str rest = kura_str_c(accept_language), item;
    int best_ja = -1, best_en = -1, star = -1;
    unsigned pos = 0, pos_ja = 0, pos_en = 0;
    for (bool more = true; more && pos < 64; pos++) {
        more = kura_str_split(&rest, ',', &item);
        struct kura_str tag;
        bool has_params = kura_str_split(&item, ';', &tag);
        tag = kura_str_trim_ows(tag);
        int q = 1000;
        if (has_params) {
            struct kura_str p = kura_str_trim_ows(item);
            if (!kura_str_has_prefix(p, KURA_STR("q=")) &&
                !kura_str_has_prefix(p, KURA_STR("Q="))) {
                continue;
            }
            q = parse_qvalue(kura_str_make(p.ptr + 2, p.len - 2));
            if (q < 0) {
                continue;
            }
        }
        if (lang_matches(tag, "ja") && q > best_ja) {
            best_ja = q;
            pos_ja = pos;
        } else if (lang_matches(tag, "en") && q > best_en) {
            best_en = q;
            pos_en = pos;
        } else if (kura_str_eq_c(tag, "*") && q > star) {
            star = q;
        }
    }
    if (best_en < 0 && star >= 0) {
        best_en = star;
        pos_en = pos;
    }
    if (best_ja > 0 && (best_ja > best_en || (best_ja == best_en && pos_ja < pos_en))) {
        return KURA_LANG_JA;
    }
    return KURA_LANG_EN;
}

/* Parses one X-Forwarded-For entry (an IP literal, optionally [v6]) into a sockaddr. */
static bool parse_ip(struct kura_str s, struct sockaddr_storage *ss, char out[KURA_HTTP_IP_MAX])
{
    char tmp[KURA_HTTP_IP_MAX];
    if (s.len >= 2 && s.ptr[0] == '[' && s.ptr[s.len - 1] == ']') {
        s.ptr++;
        s.len -= 2;
    }
    if (s.len == 0 || s.len >= sizeof(tmp)) {
        return false;
    }
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, tmp, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, tmp, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
    } else {
        return false;
    }
    memcpy(out, tmp, s.len + 1);
    return true;
}

bool http_addr_trusted(const struct sockaddr *sa, const struct kura_cidr *trusted, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (kura_cidr_contains(&trusted[i], sa)) {
            return true;
        }
    }
    return false;
}

#define XFF_MAX_ENTRIES 64

bool kura_http_client_from_xff(const char *xff, const struct kura_cidr *trusted, size_t ntrusted,
                               char ret_ip[static KURA_HTTP_IP_MAX])
{
    if (!xff) {
        return false;
    }
    /* Parse every entry first: one malformed entry (or too many) and the whole header is
     * untrustworthy, wherever the bad entry sits. */
    struct sockaddr_storage addrs[XFF_MAX_ENTRIES];
    char ips[XFF_MAX_ENTRIES][KURA_HTTP_IP_MAX];
    size_t n = 0;
    struct kura_str rest = kura_str_c(xff), item;
    for (bool more = true; more; n++) {
        more = kura_str_split(&rest, ',', &item);
        if (n == XFF_MAX_ENTRIES || !parse_ip(kura_str_trim_ows(item), &addrs[n], ips[n])) {
            return false;
        }
    }
    /* Walk from the right: each proxy appends the address it received from, so the right-most
     * address that is not a trusted proxy is the client. */
    size_t i = n;
    while (i > 1 && http_addr_trusted((struct sockaddr *)&addrs[i - 1], trusted, ntrusted)) {
        i--;
    }
    memcpy(ret_ip, ips[i - 1], KURA_HTTP_IP_MAX);
    return true;
}
