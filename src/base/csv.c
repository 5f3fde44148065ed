/* csv.c — writing CSV (RFC 4180) that is safe to open in a spreadsheet.
 *
 * A field is quoted when it holds a comma, a quote, CR or LF, with quotes doubled. And because
 * auditors open exports in Excel or LibreOffice, a field that starts with '=', '+', '-', '@',
 * TAB or CR would be read as a formula (CSV injection, OWASP): such a field gets a leading
 * apostrophe, which spreadsheets display as text and strip.
 */
#include "base.h"

#include <string.h>

void kura_csv_field(struct kura_buf *out, const char *s, size_t len)
{
    bool formula = len > 0 && strchr("=+-@\t\r", s[0]) != NULL;
    bool quote = formula || memchr(s, ',', len) || memchr(s, '"', len) || memchr(s, '\n', len) ||
                 memchr(s, '\r', len);
    if (!quote) {
        kura_buf_add(out, s, len);
        return;
    }
    kura_buf_addc(out, '"');
    if (formula) {
        kura_buf_addc(out, '\'');
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            kura_buf_addc(out, '"');
        }
        kura_buf_addc(out, s[i]);
    }
    kura_buf_addc(out, '"');
}
