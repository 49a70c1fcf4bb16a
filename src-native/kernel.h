/*
 * Thin wrappers for the system calls pidns needs that glibc does not wrap, or wraps in a way that
 * is unsafe in a child sharing Node's memory (glibc's setuid/setgid signal every thread of the
 * process to keep credentials uniform; in a CLONE_VM child that would signal Node's threads).
 * Every function is a single system call, returns -1 and sets errno on failure, and is safe to
 * call between clone and execve.
 */
#ifndef PIDNS_KERNEL_H
#define PIDNS_KERNEL_H

#include <signal.h>
#include <sys/types.h>

#include "raw_signal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called from the child too: no sanitizer instrumentation (see child.h). */
#if defined(__GNUC__)
#define PIDNS_RAW __attribute__((no_sanitize("address", "undefined")))
#else
#define PIDNS_RAW
#endif

int pidns_pidfd_open(pid_t pid);
int pidns_pidfd_send_signal(int pidfd, int sig);
int pidns_setns(int fd, int nstype);
int pidns_setresuid(uid_t uid);
int pidns_setresgid(gid_t gid);
int pidns_setgroups_empty(void);
/* How many supplementary groups the process has. */
int pidns_group_count(void);
int pidns_close_range(unsigned int first, unsigned int last, unsigned int flags);
int pidns_close_range_cloexec(unsigned int first);
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
/* pidns_sigaction_default(sig): raw_signal.h. */
int pidns_sigmask_set(const sigset_t *set, sigset_t *old);
/* The mask of the addon's own threads, which run no handler of Node's, and the mask to create them
 * under: every signal blocked but the two glibc keeps for itself, 32 (cancellation) and 33 (the
 * broadcast with which setuid(), setgid() and their kin change every thread's ids, and which
 * waits until each thread has handled it, holding a lock that pthread_create takes: blocked
 * there, process.setuid() would never return). The previous mask in *old unless NULL. */
int pidns_block_signals_but_libc(sigset_t *old);
int pidns_namespace_type(int fd);
/* RLIMIT_NOFILE's soft limit (1024 if it cannot be read). */
long pidns_open_files_limit(void);
/* Whether this kernel keeps a pid_max per PID namespace (Linux >= 6.14, by uname's release): 1 or
 * 0. Before that, /proc/sys/kernel/pid_max is the whole system's from every namespace. */
int pidns_pid_max_per_namespace(void);

#ifdef __cplusplus
}
#endif

#endif
