#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel.h"

/* Rules for this file: see child.h. In short: raw system calls only, no allocation, no locks. */

static void report_and_exit(const struct pidns_child *c, int step, int err) {
  struct pidns_child_error e;
  e.step = step;
  e.err = err;
  ssize_t n;
  do {
    n = write(c->error_fd, &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  _exit(127);
}

static int reset_signals(void) {
  /* Node ignores SIGPIPE and installs handlers; an ignored disposition survives execve, so every
   * signal goes back to its default. The mask stays full until just before execve so that no
   * handler of Node's runs on this stack meanwhile. */
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (pidns_sigaction_default(sig) < 0 && errno != EINVAL) return -1;
  }
  return 0;
}

/* Puts fd_map[i] at descriptor i. A source below fd_count could be overwritten by an earlier
 * dup2, so every source is first copied to a descriptor at or above fd_count. */
static int install_descriptors(const struct pidns_child *c, int *moved) {
  for (int i = 0; i < c->fd_count; i++) {
    moved[i] = -1;
    if (c->fd_map[i] < 0) continue;
    moved[i] = fcntl(c->fd_map[i], F_DUPFD_CLOEXEC, c->fd_count);
    if (moved[i] < 0) return -1;
  }
  for (int i = 0; i < c->fd_count; i++) {
    if (moved[i] < 0) {
      close(i);
      continue;
    }
    if (dup2(moved[i], i) < 0) return -1;
  }
  /* Whatever Node holds (its own descriptors, any inherited without O_CLOEXEC) ends at execve.
   * The error pipe must stay open until then, so mark rather than close. */
  if (pidns_close_range_cloexec((unsigned int)c->fd_count) < 0) {
    if (errno != ENOSYS && errno != EINVAL) return -1;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = c->fd_count; fd < max; fd++) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  }
  return 0;
}

static void exec_child(struct pidns_child *c) {
  int moved[c->fd_count > 0 ? c->fd_count : 1];

  c->inner_pid = (pid_t)syscall(SYS_getpid);
  if (c->pdeathsig && prctl(PR_SET_PDEATHSIG, c->pdeathsig) < 0)
    report_and_exit(c, PIDNS_STEP_PDEATHSIG, errno);
  if (install_descriptors(c, moved) < 0) report_and_exit(c, PIDNS_STEP_DUP2, errno);
  if (c->cwd && chdir(c->cwd) < 0) report_and_exit(c, PIDNS_STEP_CHDIR, errno);
  if (c->uid >= 0 || c->gid >= 0) {
    /* Supplementary groups of the Node process must not follow a change of identity. Only a
     * privileged caller can clear them; an unprivileged one has none it could drop anyway. */
    if (pidns_setgroups_empty() < 0 && errno != EPERM)
      report_and_exit(c, PIDNS_STEP_SETGROUPS, errno);
  }
  /* gid before uid: after setuid the process may no longer change its gid. */
  if (c->gid >= 0 && pidns_setresgid((gid_t)c->gid) < 0)
    report_and_exit(c, PIDNS_STEP_SETGID, errno);
  if (c->uid >= 0 && pidns_setresuid((uid_t)c->uid) < 0)
    report_and_exit(c, PIDNS_STEP_SETUID, errno);

  sigset_t empty;
  sigemptyset(&empty);
  pidns_sigmask_set(&empty, NULL);
  execve(c->file, c->argv, c->envp);
  report_and_exit(c, PIDNS_STEP_EXECVE, errno);
}

static int grandchild_main(void *arg) {
  exec_child((struct pidns_child *)arg);
  return 127;
}

int pidns_child_main(void *arg) {
  struct pidns_child *c = (struct pidns_child *)arg;

  if (reset_signals() < 0) report_and_exit(c, PIDNS_STEP_SIGNALS, errno);
  if (c->join_fd < 0) {
    exec_child(c);
    return 127;
  }

  /* setns(CLONE_NEWPID) only changes where this process's children go; the process that execs
   * must be forked after it. CLONE_PARENT makes it Node's child, so Node reaps it like any
   * other; CLONE_VFORK keeps this process alive until it has exec'd or failed. */
  if (pidns_setns(c->join_fd, CLONE_NEWPID) < 0) report_and_exit(c, PIDNS_STEP_SETNS, errno);
  pid_t pid = clone(grandchild_main, c->grandchild_stack_top,
                    CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, c);
  if (pid < 0) report_and_exit(c, PIDNS_STEP_CLONE, errno);
  c->joined_pid = pid;
  _exit(0);
}
