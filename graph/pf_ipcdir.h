/* pf_ipcdir: the private socket folder of one launcher run.
 *
 * Each run binds its ipc sockets in BASE-PID. Preparing it creates it with
 * mode 0700, refuses a folder that belongs to another user or that others
 * may write to (the default root /tmp/physioflow-UID included), and removes
 * folders BASE-PID of earlier runs whose launcher no longer exists (a
 * launcher killed with SIGKILL cannot clean up after itself). */
#ifndef PF_IPCDIR_H
#define PF_IPCDIR_H

#include <stddef.h>

/* Writes BASE-PID to out. PF_OK, or an error naming the folder and why. */
int pf_ipcdir_prepare(const char *base, int pid, char *out, size_t cap);
/* Remove the socket files directly inside dir, then dir itself. */
void pf_ipcdir_remove(const char *dir);

#endif
