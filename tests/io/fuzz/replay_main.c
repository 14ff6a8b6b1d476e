/* Plain driver for the fuzz harnesses (any compiler): runs LLVMFuzzerTestOneInput on every
 * file named or found in the folders named, optionally only files ending in --ext. Used
 * when libFuzzer is absent, and on the real data files so the parsers see them too. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *ext;
static int files;

static void run_file(const char *path)
{
    size_t n = strlen(path), e = ext ? strlen(ext) : 0;
    if (ext && (n < e || strcmp(path + n - e, ext))) return;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    uint8_t *buf = malloc(1 << 22);
    size_t len = fread(buf, 1, 1 << 22, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    files++;
}

static void run(const char *path)
{
    struct stat st;
    if (stat(path, &st)) return;
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *de;
    char p[4096];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        run(p);
    }
    if (d) closedir(d);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ext") && i + 1 < argc) {
            ext = argv[++i];
            continue;
        }
        run(argv[i]);
    }
    printf("replayed %d inputs\n", files);
    return files ? 0 : 1; /* a replay that ran nothing would prove nothing */
}
