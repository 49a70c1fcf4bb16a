/*
 * clone3() for a function, as glibc's clone() does for clone(): the new process starts on the
 * given stack and runs fn(arg), then exits with its return value. glibc keeps its own clone3
 * entry point private, and only clone3 takes CLONE_INTO_CGROUP (Linux >= 5.7).
 * x86-64 and arm64 only; elsewhere it fails with ENOSYS. Safe between clone and execve (one
 * system call, no libc).
 */
#ifndef PIDNS_CLONE3_H
#define PIDNS_CLONE3_H

#include <stdint.h>
#include <sys/types.h>

#include "kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args of the kernel (include/uapi/linux/sched.h), version 2 (with cgroup). */
struct pidns_clone_args {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};

/* What clone3 needs of a clone() call, plus the cgroup to start in. */
struct pidns_clone_request {
  uint64_t flags;       /* CLONE_* without the exit signal */
  int exit_signal;
  int *pidfd;           /* written with CLONE_PIDFD */
  char *stack_top;      /* 16-byte aligned */
  size_t stack_size;
  int cgroup_fd;        /* a cgroup v2 directory: adds CLONE_INTO_CGROUP, or -1 */
  /* The pids to take, innermost namespace first (clone3's set_tid, Linux >= 5.5), or NULL. */
  const pid_t *set_tid;
  size_t set_tid_size;
};

/* Returns the child's pid to the caller, -1 with errno on failure. */
PIDNS_RAW pid_t pidns_clone3(const struct pidns_clone_request *request, int (*fn)(void *), void *arg);

#ifdef __cplusplus
}
#endif

#endif
