/* net.c — parsers for the network-shaped values: listen address, origin, host[:port], CIDR. */
#include "conf-internal.h"

#include <arpa/inet.h>
#include <string.h>

/* RFC 1123 host name: labels of 1-63 letters, digits and '-', not starting or ending with '-',
 * 253 bytes at most. */
static bool dns_name_valid(struct kura_str s)
{
    if (s.len == 0 || s.len > 253) {
        return false;
    }
    size_t label = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '.') {
            if (label == 0 || s.ptr[i - 1] == '-') {
                return false;
            }
            label = 0;
            continue;
        }
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0)) {
            return false;
        }
        if (++label > 63) {
            return false;
        }
    }
    return label > 0 && s.ptr[s.len - 1] != '-';
}

static int parse_port(struct kura_str s, uint16_t *ret)
{
    uint64_t v;
    if (kura_parse_u64(s.ptr, s.len, 65535, &v) < 0 || v == 0) {
        return KURA_ECONFIG;
    }
    *ret = (uint16_t)v;
    return 0;
}

int conf_parse_hostport(struct kura_str s, char *host_out, uint16_t *ret_port)
{
    struct kura_str host;
    uint16_t port = 0;
    if (s.len > 0 && s.ptr[0] == '[') {
        const char *end = memchr(s.ptr, ']', s.len);
        if (!end) {
            return KURA_ECONFIG;
        }
        host = kura_str_make(s.ptr + 1, (size_t)(end - s.ptr - 1));
        struct kura_str rest = kura_str_make(end + 1, s.len - (size_t)(end + 1 - s.ptr));
        if (rest.len > 0 && (rest.ptr[0] != ':' ||
                             parse_port(kura_str_make(rest.ptr + 1, rest.len - 1), &port) < 0)) {
            return KURA_ECONFIG;
        }
        char tmp[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        if (host.len == 0 || host.len >= sizeof(tmp)) {
            return KURA_ECONFIG;
        }
        memcpy(tmp, host.ptr, host.len);
        tmp[host.len] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1) {
            return KURA_ECONFIG;
        }
    } else {
        const char *colon = s.len ? memchr(s.ptr, ':', s.len) : NULL;
        host = s;
        if (colon) {
            host.len = (size_t)(colon - s.ptr);
            if (parse_port(kura_str_make(colon + 1, s.len - host.len - 1), &port) < 0) {
                return KURA_ECONFIG;
            }
        }
        if (!dns_name_valid(host)) {
            return KURA_ECONFIG;
        }
    }
    if (host.len >= KURA_CONF_HOST_MAX) {
        return KURA_ECONFIG;
    }
    for (size_t i = 0; i < host.len; i++) {
        char c = host.ptr[i];
        host_out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
    }
    host_out[host.len] = '\0';
    *ret_port = port;
    return 0;
}

int kura_conf_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (conf_parse_hostport(kura_str_c(s), host, &port) < 0 || port == 0) {
        return KURA_ECONFIG;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (s[0] == '[') {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
            return KURA_ECONFIG;
        }
        *ret_len = sizeof(*in6);
    } else {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        /* Numeric only: a name would make the listen address depend on DNS at start. */
        if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
            return KURA_ECONFIG;
        }
        *ret_len = sizeof(*in4);
    }
    *ret = ss;
    return 0;
}

int kura_conf_parse_origin(const char *s, char ret_host[static KURA_CONF_HOST_MAX],
                           uint16_t *ret_port)
{
    struct kura_str str = kura_str_c(s);
    if (!kura_str_has_prefix(str, KURA_STR("https://"))) {
        return KURA_ECONFIG;
    }
    str.ptr += 8;
    str.len -= 8;
    if (str.len > 0 && str.ptr[str.len - 1] == '/') {
        str.len--;
    }
    char host[KURA_CONF_HOST_MAX];
    uint16_t port;
    if (memchr(str.ptr, '/', str.len) || conf_parse_hostport(str, host, &port) < 0) {
        return KURA_ECONFIG;
    }
    memcpy(ret_host, host, strlen(host) + 1);
    *ret_port = port ? port : 443;
    return 0;
}

int kura_conf_parse_cidr(const char *s, size_t len, struct kura_cidr *ret)
{
    char tmp[INET6_ADDRSTRLEN + 5];
    if (len == 0 || len >= sizeof(tmp)) {
        return KURA_ECONFIG;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct kura_cidr c;
    memset(&c, 0, sizeof(c));
    char *slash = strchr(tmp, '/');
    if (slash) {
        *slash = '\0';
    }
    if (inet_pton(AF_INET, tmp, c.addr) == 1) {
        c.family = AF_INET;
        c.prefix = 32;
    } else if (inet_pton(AF_INET6, tmp, c.addr) == 1) {
        c.family = AF_INET6;
        c.prefix = 128;
    } else {
        return KURA_ECONFIG;
    }
    if (slash) {
        uint64_t p;
        size_t plen = strlen(slash + 1);
        if (kura_parse_u64(slash + 1, plen, c.prefix, &p) < 0) {
            return KURA_ECONFIG;
        }
        c.prefix = (unsigned)p;
    }
    *ret = c;
    return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rem = bits % 8;
    if (memcmp(a, b, bytes) != 0) {
        return false;
    }
    if (rem == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xffu << (8 - rem));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool kura_cidr_contains(const struct kura_cidr *range, const struct sockaddr *sa)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *addr;
    int family = sa->sa_family;
    if (family == AF_INET) {
        addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
            addr += 12;
            family = AF_INET;
        }
    } else {
        return false;
    }
    return family == range->family && prefix_match(addr, range->addr, range->prefix);
}

int kura_conf_parse_hostport(const char *s, size_t len, char ret_host[static KURA_CONF_HOST_MAX],
                             uint16_t *ret_port)
{
    return conf_parse_hostport(kura_str_make(s, len), ret_host, ret_port);
}

int kura_conf_list_each(const char *value, size_t max, kura_conf_list_fn fn, void *ctx,
                        struct kura_str *ret_bad)
{
    struct kura_str rest = kura_str_c(value), entry;
    size_t n = 0;
    if (rest.len == 0) {
        return 0;
    }
    for (bool more = true; more;) {
        more = kura_str_split(&rest, ',', &entry);
        entry = kura_str_trim_ows(entry);
        int r = ++n > max ? KURA_ETOOBIG : fn(entry, ctx);
        if (r < 0) {
            if (ret_bad) {
                *ret_bad = entry;
            }
            return r;
        }
    }
    return 0;
}
