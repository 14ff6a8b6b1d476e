#include "pf_ipcdir.h"

#include "pf_error.h"
#include "pf_log.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A folder we put sockets in must be ours and writable by us alone: anyone
 * who can write there can replace a socket file and talk to our nodes. */
static int check_private(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st)) return pf_err(PF_EIO, "socket folder %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return pf_err(PF_EINVAL, "socket folder %s is not a directory", dir);
    if (st.st_uid != getuid() && st.st_uid != 0) /* root's folders (/tmp) are trusted */
        return pf_err(PF_EINVAL, "socket folder %s belongs to uid %u, not to us (uid %u): refusing to use it; remove it or set ipc_dir",
                      dir, (unsigned)st.st_uid, (unsigned)getuid());
    if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) /* sticky (like /tmp): others cannot replace our entries */
        return pf_err(PF_EINVAL, "socket folder %s has mode %04o: others may write there; refusing to use it (chmod 700 it or set ipc_dir)",
                      dir, (unsigned)(st.st_mode & 07777));
    return PF_OK;
}

/* mkdir -p with mode 0700; every folder it creates or finds below an existing
 * prefix named `private_from` (may be NULL) must pass check_private. */
static int mkdir_private(const char *dir, const char *private_from)
{
    char p[512];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return pf_err(PF_ERANGE, "socket folder path too long: %s", dir);
    size_t from = private_from ? strlen(private_from) : 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0700) && errno != EEXIST) return pf_err(PF_EIO, "cannot create socket folder %s: %s", p, strerror(errno));
        if (private_from && strlen(p) >= from) {
            int rc = check_private(p);
            if (rc) return rc;
        }
        *s = c;
        if (!c) break;
    }
    return PF_OK;
}

void pf_ipcdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (!lstat(path, &st) && S_ISSOCK(st.st_mode)) unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Folders "BASE-PID" left by a launcher that was killed (its PID is gone). */
static void remove_stale(const char *base)
{
    char parent[512];
    snprintf(parent, sizeof parent, "%s", base);
    char *slash = strrchr(parent, '/');
    if (!slash) return;
    const char *name = slash + 1;
    *slash = 0;
    size_t nl = strlen(name);
    DIR *d = opendir(*parent ? parent : "/");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, name, nl) || e->d_name[nl] != '-') continue;
        char *end;
        long pid = strtol(e->d_name + nl + 1, &end, 10);
        if (*end || pid <= 0 || end == e->d_name + nl + 1) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its launcher still runs */
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        struct stat st;
        if (lstat(path, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) continue;
        pf_info("removing the socket folder %s of an earlier run that did not end cleanly", path);
        pf_ipcdir_remove(path);
    }
    closedir(d);
}

int pf_ipcdir_prepare(const char *base, int pid, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s-%d", base, pid) >= (int)cap) return pf_err(PF_ERANGE, "socket folder path too long: %s", base);
    /* From the default root /tmp/physioflow-UID down, every folder must be
     * private; for a folder the user named, the one holding the run folder
     * (whoever can write there can swap the run folder) and the run folder. */
    char root[64], parent[512];
    snprintf(root, sizeof root, "/tmp/physioflow-%u", (unsigned)getuid());
    snprintf(parent, sizeof parent, "%s", base);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = 0;
    else snprintf(parent, sizeof parent, "%s", out); /* relative or in "/": only the run folder */
    const char *private_from = !strncmp(base, root, strlen(root)) && (base[strlen(root)] == '/' || !base[strlen(root)]) ? root : parent;
    int rc = mkdir_private(out, private_from);
    if (rc) return rc;
    remove_stale(base);
    return PF_OK;
}
