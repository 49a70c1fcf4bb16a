/*
 * What a spawned child does between clone() and execve().
 *
 * The child is created with CLONE_VM|CLONE_VFORK: it runs on Node's memory while the spawning
 * thread is suspended. Everything it reads is prepared before the clone and lives in struct
 * pidns_child; it allocates nothing, takes no lock, touches no stdio and throws nothing, and only
 * makes the system calls in kernel.h plus async-signal-safe libc calls that are single system
 * calls (dup2, close, chdir, fcntl, prctl, open, write, execve, _exit).
 */
#ifndef PIDNS_CHILD_H
#define PIDNS_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which step failed; sent with errno through the error pipe. */
enum pidns_child_step {
  PIDNS_STEP_NONE = 0,
  PIDNS_STEP_SETNS,
  PIDNS_STEP_CLONE,
  PIDNS_STEP_SIGNALS,
  PIDNS_STEP_DUP2,
  PIDNS_STEP_CHDIR,
  PIDNS_STEP_SETGROUPS,
  PIDNS_STEP_SETGID,
  PIDNS_STEP_SETUID,
  PIDNS_STEP_PDEATHSIG,
  PIDNS_STEP_EXECVE,
};

struct pidns_child_error {
  int step;
  int err;
};

struct pidns_child {
  const char *file;
  char *const *argv;
  char *const *envp;
  const char *cwd;       /* NULL: inherit */
  long uid;              /* -1: unchanged */
  long gid;              /* -1: unchanged */
  /* fd_map[i] is the parent's descriptor that becomes descriptor i in the child; -1 leaves i
   * closed. Every descriptor not in the map is closed at execve. */
  const int *fd_map;
  int fd_count;
  int error_fd;          /* write end of the O_CLOEXEC error pipe */
  int pdeathsig;         /* 0: none */

  /* Joining: the child enters join_fd's PID namespace, then forks the process that execs with
   * CLONE_PARENT, so that it becomes a child of Node in the joined namespace. */
  int join_fd;           /* -1: not joining */
  char *grandchild_stack_top;

  /* Written by the child for the parent (shared memory: the parent reads them after the vfork
   * completes). */
  volatile pid_t joined_pid;    /* the exec'ing process, in Node's view (joining only) */
  volatile pid_t inner_pid;     /* getpid() of the exec'ing process, inside its namespace */
};

/* The function passed to clone(). Never returns on success (execve), else _exit(127). */
int pidns_child_main(void *arg);

#ifdef __cplusplus
}
#endif

#endif
