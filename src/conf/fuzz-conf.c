/* libFuzzer harness for the kura.conf parser: any bytes must either parse into a configuration
 * that passes the cross-key checks' preconditions and can be written back and re-parsed to the
 * same text, or fail with KURA_ECONFIG and a message. */
#include <stdint.h>
#include <stdlib.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kura_conf *c = NULL;
    struct kura_buf err = KURA_BUF_INIT(64 * 1024);
    int r = kura_conf_parse("fuzz.conf", (const char *)data, size, &c, &err);
    if (r == 0) {
        /* Round trip: what we write must parse back to the same configuration. */
        struct kura_buf out1 = KURA_BUF_INIT(1 << 20), out2 = KURA_BUF_INIT(1 << 20);
        struct kura_conf *c2 = NULL;
        if (kura_conf_write(c, &out1) < 0 ||
            kura_conf_parse("again.conf", out1.ptr, out1.len, &c2, NULL) < 0 ||
            kura_conf_write(c2, &out2) < 0 ||
            !kura_str_eq(kura_buf_str(&out1), kura_buf_str(&out2))) {
            abort();
        }
        kura_buf_release(&out1);
        kura_buf_release(&out2);
        kura_conf_free(c2);
        struct kura_buf cerr = KURA_BUF_INIT(64 * 1024);
        KURA_IGNORE(kura_conf_check(c, &cerr));
        kura_buf_release(&cerr);
    } else if (r == KURA_ECONFIG && err.len == 0) {
        abort(); /* every refusal explains itself */
    }
    kura_conf_free(c);
    kura_buf_release(&err);
    return 0;
}
