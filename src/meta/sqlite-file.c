/* sqlite-file.c — the database file itself, checked before SQLite opens it (sqlite.c). */
#include "meta/sqlite-internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens (and with create, makes) the file ourselves first: to create it 0600, and to refuse a
 * file that others can read or that is not ours, a symlink, not a regular file, or too short to
 * be a database. */
int meta_sqlite_check_file(const char *path, unsigned flags)
{
    /* An existing file is looked at through an O_PATH descriptor: closing any other kind of
     * descriptor of kura.db would drop every POSIX lock this process holds on it, SQLite's
     * included, if another handle of the process has it open (another process could then take
     * itself for the last user and remove the -wal file). A new file is made with O_EXCL. */
    _cleanup_(kura_closep) int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && (flags & KURA_META_CREATE)) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    }
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (S_ISLNK(st.st_mode)) {
        return -ELOOP; /* O_PATH | O_NOFOLLOW opens a symlink itself rather than failing */
    }
    if (!S_ISREG(st.st_mode)) {
        return -EINVAL;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        return KURA_EKEYMODE;
    }
    /* What opening it read-write (or read-only) used to check here; SQLite would otherwise
     * fall back to read-only on a write-protected file and fail at the first write. */
    if (!(st.st_mode & S_IRUSR) || (!(flags & KURA_META_READONLY) && !(st.st_mode & S_IWUSR))) {
        return -EACCES;
    }
    /* SQLite treats a 1-byte file as an empty database (and migrate would then write over it);
     * anything shorter than the 100-byte header that is not empty is damaged, not new. */
    if (st.st_size > 0 && st.st_size < 100) {
        return KURA_ECORRUPT;
    }
    return 0;
}
