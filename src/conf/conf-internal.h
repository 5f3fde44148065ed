/* conf-internal.h — the schema table shared by parse.c and schema.c (not part of the API). */
#pragma once

#include "conf/conf.h"

enum conf_type { CONF_STR, CONF_UINT, CONF_ENUM };

struct conf_key {
    const char *section;
    const char *key;
    enum conf_type type;
    size_t offset;              /* of the char * or uint64_t field in struct kura_conf */
    const char *def;            /* default, as it would be written in the file */
    uint64_t min, max;          /* CONF_UINT */
    const char *unit;           /* CONF_UINT: "seconds", "bytes", ... */
    const char *const *choices; /* CONF_ENUM: NULL-terminated */
    /* CONF_STR: returns 0 or appends why the value is wrong to why and returns KURA_ECONFIG. */
    int (*validate)(const char *v, struct kura_buf *why);
    const char *allowed; /* CONF_STR: the allowed values, in words */
    const char *doc;     /* one line */
};

extern const struct conf_key kura_conf_keys[];
extern const size_t kura_conf_nkeys;

/* The key's index, or -1. */
int conf_key_find(const char *section, size_t section_len, const char *key, size_t key_len);
/* Whether a section of that name exists. */
bool conf_section_known(const char *section, size_t len);

/* Validates text for key k and stores it in c. On failure appends "what is wrong; allowed: ..."
 * (without the file:line prefix) to why and returns KURA_ECONFIG; -ENOMEM on OOM. */
int conf_assign(struct kura_conf *c, const struct conf_key *k, const char *value,
                struct kura_buf *why);

/* Appends the allowed values of k in words. */
void conf_describe_allowed(const struct conf_key *k, struct kura_buf *out);

/* "host" or "host:port" (host a DNS name, an IPv4 literal or a bracketed IPv6 literal); the host
 * is written lower-cased without brackets to host_out (KURA_CONF_HOST_MAX bytes); the port is 0
 * when absent. Shared with the http area through kura_conf_parse_hostport. */
int conf_parse_hostport(struct kura_str s, char *host_out, uint16_t *ret_port);
