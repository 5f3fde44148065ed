/* export.c — `kura export --data DIR --user ID --path P --out FILE [--recipient PUBKEY]`: a
 * file of a user's space as a standard .c4gh file, for the server's key or for any Crypt4GH
 * public key (store.h, "export": only the header is re-encrypted; the segments are copied after
 * each one is verified). FILE is created new (never replaced), 0600, and appears only complete:
 * the bytes go to a temporary file beside it, which is linked in place after an fsync. The
 * export is recorded in the audit log (cli.export) before a byte is written.
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static int usage(void)
{
    (void)fputs("usage: kura export --data DIR --user ID --path P --out FILE [--recipient PUBKEY]\n"
                "  writes the file P of ID's space to FILE (created new) as a standard Crypt4GH\n"
                "  file: for the server's key, or for the Crypt4GH public key in file PUBKEY\n",
                stderr);
    return CLI_EXIT_USAGE;
}

/* FILE + ".partial-" + 16 hex, created exclusively. */
static int open_temp(const char *out, struct kura_buf *ret_name)
{
    uint8_t rnd[8];
    char hex[17];
    int r = kura_random(rnd, sizeof(rnd));
    if (r < 0) {
        return r;
    }
    kura_hex_encode(hex, rnd, sizeof(rnd));
    hex[16] = '\0';
    kura_buf_addf(ret_name, "%s.partial-%s", out, hex);
    r = kura_buf_err(ret_name);
    if (r < 0) {
        return r;
    }
    int fd = open(ret_name->ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    return fd < 0 ? -errno : fd;
}

static int read_recipient(const char *file, uint8_t pk[KURA_C4GH_KEY_BYTES], struct kura_buf *err)
{
    struct kura_buf text = KURA_BUF_INIT(KURA_C4GH_KEY_FILE_MAX);
    struct kura_buf why = KURA_BUF_INIT(512);
    int r = kura_file_read_all(AT_FDCWD, file, &text);
    if (r < 0) {
        kura_buf_addf(err, "cannot read the recipient's key '%s': %s", file, kura_strerror(r));
    } else {
        r = kura_c4gh_parse_public_key(text.ptr, text.len, pk, &why);
        if (r < 0) {
            kura_buf_addf(err, "'%s' is not a Crypt4GH public key: %s", file,
                          why.len ? why.ptr : kura_strerror(r));
        }
    }
    kura_buf_release(&text);
    kura_buf_release(&why);
    return r;
}

int cli_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},      {"user", required_argument, NULL, 'u'},
        {"path", required_argument, NULL, 'p'},      {"out", required_argument, NULL, 'o'},
        {"recipient", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
    const char *data = NULL, *user = NULL, *path = NULL, *out = NULL, *recipient = NULL;
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char **slot = c == 'd'   ? &data
                            : c == 'u' ? &user
                            : c == 'p' ? &path
                            : c == 'o' ? &out
                            : c == 'r' ? &recipient
                                       : NULL;
        if (slot) {
            *slot = optarg;
        } else {
            bad = 1;
        }
    }
    if (bad || optind != argc || !data || !user || !path || !out) {
        return usage();
    }
    path += path[0] == '/'; /* "/proj/a" as WebDAV shows it, or "proj/a" relative to the space */
    struct kura_buf err = KURA_BUF_INIT(8192), tmp = KURA_BUF_INIT(8192);
    struct cli_store cs = {.datafd = -1};
    uint8_t pk[KURA_C4GH_KEY_BYTES];
    char to[KURA_STORE_KEY_ID_SIZE] = "";
    int fd = -1;
    int r = recipient ? read_recipient(recipient, pk, &err) : 0;
    r = r == 0 ? cli_store_open(data, &cs, &err) : r;
    if (r == 0) {
        if (recipient) {
            kura_store_key_id(pk, to);
        } else {
            kura_store_key_current(cs.store, to, NULL);
        }
        json_t *detail = json_pack("{s:s,s:s,s:s,s:b}", "user", user, "path", path, "recipient", to,
                                   "server_key", recipient == NULL);
        r = detail ? cli_record_action(data, "cli.export", user, detail, KURA_AUDIT_OK, &err)
                   : -ENOMEM;
        json_decref(detail);
    }
    if (r == 0) {
        fd = open_temp(out, &tmp);
        r = fd < 0 ? fd : 0;
        if (r < 0) {
            kura_buf_addf(&err, "cannot create a file beside '%s': %s", out, kura_strerror(r));
        }
    }
    struct kura_store_export ex = {0};
    if (r == 0) {
        r = kura_store_export(cs.store, user, path, recipient ? pk : NULL, fd, &ex);
        if (r < 0) {
            kura_buf_addf(&err, "cannot export '%s' of '%s': %s", path, user, kura_strerror(r));
        }
    }
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    if (fd >= 0 && close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r == 0 && link(tmp.ptr, out) < 0) {
        r = -errno;
        kura_buf_addf(&err, "cannot create '%s': %s%s", out, kura_strerror(r),
                      r == -EEXIST ? " (it is never replaced)" : "");
    }
    if (fd >= 0) {
        (void)unlink(tmp.ptr);
    }
    if (r < 0) {
        cli_error("export", "%s", err.len ? err.ptr : kura_strerror(r));
    } else {
        char sha[65];
        kura_hex_encode(sha, ex.sha256, sizeof(ex.sha256));
        sha[64] = '\0';
        (void)printf("exported '%s' of %s (%llu bytes, SHA-256 %s) to %s for %s\n"
                     "%s の '%s' を %s 宛てに %s へ書き出しました\n",
                     path, user, (unsigned long long)ex.size, sha, out, to, user, path, to, out);
    }
    cli_store_close(&cs);
    kura_buf_release(&tmp);
    kura_buf_release(&err);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
