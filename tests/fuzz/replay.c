/* replay.c — runs a libFuzzer harness over every file of its corpus directories, without
 * libFuzzer, so that `make test` replays all corpora in the gcc ASan+UBSan build.
 * Usage: replay DIR|FILE...   Exit status 0 when every input ran (a crash aborts). */
#define KURA_ALLOW_RAW_ALLOC
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    /* An exact-size heap copy so that ASan sees reads past the end of the input. */
    uint8_t *data = malloc(size ? size : 1);
    size_t got = 0;
    while (data && got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (!data || got != size) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(data);
        return -1;
    }
    (void)LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) < 0) {
                return 1;
            }
            n++;
            continue;
        }
        struct dirent **names;
        int count = scandir(argv[i], &names, NULL, alphasort);
        if (count < 0) {
            perror(argv[i]);
            return 1;
        }
        for (int k = 0; k < count; k++) {
            char path[4096];
            if (names[k]->d_name[0] != '.' && snprintf(path, sizeof(path), "%s/%s", argv[i],
                                                       names[k]->d_name) < (int)sizeof(path)) {
                if (run_file(path) < 0) {
                    return 1;
                }
                n++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %u inputs\n", n);
    return n > 0 ? 0 : 1;
}
