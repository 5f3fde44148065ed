/* sqlite-sql.c — the SQL of the fixed statements of sqlite.c (transactions, schema versions,
 * install properties, accounts), prepared once per connection and kept (enum stmt_id in
 * sqlite-internal.h). The statements of the other files are kept by sqlite-stmt.c instead. */
#include "meta/sqlite-internal.h"

const char *const meta_sqlite_stmt_sql[ST__COUNT] = {
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_BEGIN_DEFERRED] = "BEGIN DEFERRED",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* One name for every level: RELEASE / ROLLBACK TO act on the innermost of that name. */
    [ST_SAVEPOINT] = "SAVEPOINT kura_nested",
    [ST_RELEASE] = "RELEASE kura_nested",
    [ST_ROLLBACK_TO] = "ROLLBACK TO kura_nested",
    [ST_HAS_VERSION_TABLE] =
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'",
    [ST_MAX_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_version",
    [ST_COUNT_OBJECTS] = "SELECT count(*) FROM sqlite_schema",
    [ST_INSERT_VERSION] =
        "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
    [ST_INSTALL_GET] = "SELECT value FROM install WHERE key = ?1",
    [ST_INSTALL_SET] = "INSERT INTO install (key, value) VALUES (?1, ?2) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [ST_ACCOUNT_INSERT] =
        "INSERT INTO accounts (id, display_name, email, affiliation, phone, status, valid_from, "
        "valid_until, password_hash, password_changed_at, must_change_password, created_at, "
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_ROLE_INSERT] = "INSERT INTO account_roles (account_id, role) VALUES (?1, ?2)",
    [ST_ACCOUNT_SELECT] =
        "SELECT id, display_name, email, affiliation, phone, status, valid_from, valid_until, "
        "password_hash, password_changed_at, must_change_password, created_at, updated_at "
        "FROM accounts WHERE id = ?1",
    [ST_ROLES_SELECT] = "SELECT role FROM account_roles WHERE account_id = ?1",
    [ST_ACCOUNT_COUNT] = "SELECT count(*) FROM accounts",
};
