/* cli — the `kura` command: one binary, subcommands like git's.
 *
 * Exit status: 0 success, 1 failure or refusal (with a message on stderr naming what and why),
 * 2 usage error. Messages follow docs/style.md item 32: "kura <command>: what failed: why".
 * Secrets never appear on the command line: passwords are read from files or stdin.
 */
#pragma once

#include "base/base.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Entry point: dispatches argv[1]. */
int kura_cli_main(int argc, char **argv);

/* Subcommands (each parses its own options; argv[0] is the subcommand name). */
int cli_init(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_config(int argc, char **argv);
int cli_status(int argc, char **argv);
#ifdef KURA_TEST_HOOKS
int cli_debug(int argc, char **argv);
#endif

/* Prints "kura <cmd>: <message>\n" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) KURA_PRINTF(2, 3);

/* Data-folder layout. */
#define CLI_CONF_NAME "kura.conf"
#define CLI_DB_NAME "kura.db"
#define CLI_KEYS_DIR "keys"
#define CLI_INSTALL_ID_NAME "install-id"
#define CLI_INIT_MARKER ".kura-init" /* present while `kura init` is still writing */

/* Opens an existing data folder and checks that it is one: a directory owned by this user with
 * no group or other permissions, holding kura.conf and install-id, not half-initialised. On
 * failure returns a negative code and appends the reason (with the remedy) to err. */
KURA_MUST_CHECK int cli_data_open(const char *path, int *ret_fd, struct kura_buf *err);

/* Joins DATA and a name relative to it for libraries that want a path (SQLite). */
KURA_MUST_CHECK int cli_data_path(const char *data, const char *name, struct kura_buf *ret);
