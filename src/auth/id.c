/* id.c — login-ID rules: a length range and ASCII character classes, nothing more.
 *
 * Deliberately byte-based and ASCII-only: an ID that is valid here needs no escaping in a path
 * component, a URL, a log line or a mail header, and has one spelling (no Unicode
 * normalisation or confusables to reason about).
 */
#include "auth/auth.h"

const struct kura_id_rule kura_id_rule_default = {
    .min_len = 1,
    .max_len = 64,
    .first = KURA_ID_CLASS_LOWER | KURA_ID_CLASS_DIGIT,
    .rest = KURA_ID_CLASS_LOWER | KURA_ID_CLASS_DIGIT | KURA_ID_CLASS_DOT | KURA_ID_CLASS_HYPHEN |
            KURA_ID_CLASS_UNDERSCORE,
};

static unsigned class_of(unsigned char c)
{
    if (c >= 'a' && c <= 'z') {
        return KURA_ID_CLASS_LOWER;
    }
    if (c >= 'A' && c <= 'Z') {
        return KURA_ID_CLASS_UPPER;
    }
    if (c >= '0' && c <= '9') {
        return KURA_ID_CLASS_DIGIT;
    }
    switch (c) {
    case '.':
        return KURA_ID_CLASS_DOT;
    case '-':
        return KURA_ID_CLASS_HYPHEN;
    case '_':
        return KURA_ID_CLASS_UNDERSCORE;
    default:
        return 0;
    }
}

bool kura_auth_id_valid(const char *id, size_t len, const struct kura_id_rule *rule)
{
    if (!rule) {
        rule = &kura_id_rule_default;
    }
    size_t min = rule->min_len > 0 ? rule->min_len : 1;
    size_t max = rule->max_len < KURA_META_ID_MAX ? rule->max_len : KURA_META_ID_MAX;
    if (!id || len < min || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned allowed = i == 0 ? rule->first : rule->rest;
        if ((class_of((unsigned char)id[i]) & allowed) == 0) {
            return false;
        }
    }
    return true;
}
