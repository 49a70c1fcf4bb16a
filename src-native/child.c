#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clone3.h"
#include "kernel.h"
#include "namespaces.h"

/* Rules for this file: see child.h. In short: raw system calls only, no allocation, no locks. */

/* Indexes of pidns_child.user_pipes. */
#define GO 0
#define DONE 1

PIDNS_CHILD_CODE static void report_to(int error_fd, int step, int err) {
  struct pidns_child_error e;
  e.step = step;
  e.err = err;
  ssize_t n;
  do {
    n = write(error_fd, &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  _exit(127);
}

/* For the steps before the process that execs has moved its own descriptors (see lift_private). */
PIDNS_CHILD_CODE static void report_and_exit(const struct pidns_child *c, int step, int err) {
  report_to(c->error_fd, step, err);
}

PIDNS_CHILD_CODE static int reset_signals(void) {
  /* Node ignores SIGPIPE and installs handlers; an ignored disposition survives execve, so every
   * signal goes back to its default. The mask stays full until just before execve so that no
   * handler of Node's runs on this stack meanwhile. */
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (pidns_sigaction_default(sig) < 0 && errno != EINVAL) return -1;
  }
  return 0;
}

/* The descriptors the process that execs keeps for itself until execve (the error pipe, the
 * user-namespace DONE pipe, its /proc status file) were opened in Node, where they took the lowest
 * free numbers: any of those may be one that the descriptor map is about to overwrite or close. So
 * each is moved to a number at or above fd_count first. Returns the new number, or -1. */
PIDNS_CHILD_CODE static int lift_private(int fd, int fd_count) {
  if (fd < 0 || fd >= fd_count) return fd;
  int high = fcntl(fd, F_DUPFD_CLOEXEC, fd_count);
  if (high >= 0) close(fd);
  return high;
}

/* struct linux_dirent64, which glibc does not declare. */
struct pidns_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* Marks close-on-exec every descriptor from `first` on, by the list in /proc/self/fd: the cost
 * is the number of descriptors open, not the limit on them (Node raises its soft limit to the
 * hard one, which containers set to 2^20 and some systems to 2^30). 0, or -1 when /proc cannot
 * be read. */
PIDNS_CHILD_CODE static int cloexec_listed(int first) {
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -1;
  _Alignas(8) char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(dir);
      return -1;
    }
    if (n == 0) break;
    for (long offset = 0; offset < n;) {
      const struct pidns_dirent64 *entry = (const struct pidns_dirent64 *)(buf + offset);
      offset += entry->d_reclen;
      long fd = 0;
      const char *p = entry->d_name;
      if (*p < '0' || *p > '9') continue; /* "." and ".." */
      while (*p >= '0' && *p <= '9') fd = fd * 10 + (*p++ - '0');
      if (fd >= first && fd != dir) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    }
  }
  close(dir);
  return 0;
}

/* Puts fd_map[i] at descriptor i. A source below fd_count could be overwritten by an earlier
 * dup2, so every source is first copied to a descriptor at or above fd_count. */
PIDNS_CHILD_CODE static int install_descriptors(const struct pidns_child *c, int *moved) {
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
   * The error pipe must stay open until then, so mark rather than close. Without close_range
   * (before Linux 5.11, or refused by a seccomp profile), the list in /proc; without /proc, every
   * number up to the limit. */
  if (pidns_close_range_cloexec((unsigned int)c->fd_count) == 0) return 0;
  if (errno != ENOSYS && errno != EINVAL && errno != EPERM) return -1;
  if (cloexec_listed(c->fd_count) == 0) return 0;
  long max = pidns_open_files_limit();
  for (long fd = c->fd_count; fd < max; fd++) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  return 0;
}

/* A /proc that shows the new PID namespace, in a mount namespace whose propagation
 * pidns_prepare_namespaces has made private, so that neither this mount nor the unmount of the
 * old /proc under it reaches the host. */
PIDNS_CHILD_CODE static int mount_private_proc(void) {
  return mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* Opened before anything can replace /proc (mountProc) and moved above the descriptors the
 * child installs, so that it still names this process in Node's /proc at the end. -1 if /proc is
 * not there: the parent check is then skipped. */
PIDNS_CHILD_CODE static int open_own_status(const struct pidns_child *c) {
  int fd = c->node_proc_fd >= 0 ? openat(c->node_proc_fd, "self/status", O_RDONLY | O_CLOEXEC) : open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  return lift_private(fd, c->fd_count);
}

/* The PPid field of a /proc/PID/status, or -1. Parsed in place: no allocation here. */
PIDNS_CHILD_CODE static long read_parent_pid(int status_fd) {
  char text[1024];
  ssize_t n;
  do {
    n = pread(status_fd, text, sizeof text - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return -1;
  text[n] = '\0';
  static const char key[] = "\nPPid:";
  for (char *p = text; *p; p++) {
    int i = 0;
    while (key[i] && p[i] == key[i]) i++;
    if (key[i]) continue;
    p += i;
    while (*p == '\t' || *p == ' ') p++;
    long pid = 0;
    if (*p < '0' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9') pid = pid * 10 + (*p++ - '0');
    return pid;
  }
  return -1;
}

/* PR_SET_PDEATHSIG is only sent by a parent that dies after it was set. If Node died before
 * (a SIGKILL while this child was being set up), the child has already been re-parented and
 * would run on unnoticed. So the parent is read back after the prctl: the kernel re-parents
 * before it reads pdeath_signal, so either the signal comes or the new parent shows here.
 * getppid() cannot tell: in a new PID namespace, or joined into one, it is always 0, since the
 * parent is outside; Node's /proc shows the real parent. */
PIDNS_CHILD_CODE static void exit_if_orphaned(const struct pidns_child *c, int status_fd) {
  if (status_fd < 0 || c->parent_pid <= 0) return;
  long parent = read_parent_pid(status_fd);
  if (parent >= 0 && parent != c->parent_pid) _exit(127); /* nobody is left to report to */
}

PIDNS_CHILD_CODE static void arm_parent_death_signal(const struct pidns_child *c, int error_fd, int status_fd) {
  if (prctl(PR_SET_PDEATHSIG, c->pdeathsig) < 0) report_to(error_fd, PIDNS_STEP_PDEATHSIG, errno);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  exit_if_orphaned(c, status_fd);
}

/* The pid_max of the PID namespace this process is pid 1 of. The kernel applies a write to
 * /proc/sys/kernel/pid_max to the writer's own PID namespace (kernel/pid.c, since Linux 6.14),
 * whichever /proc it goes through; before 6.14 it would change the whole system's, so the write
 * is refused there, and anywhere but in pid 1 of a new namespace (lib/ never asks for that). */
PIDNS_CHILD_CODE static int write_pid_max(const struct pidns_child *c) {
  if (c->inner_pid != 1 || !pidns_pid_max_per_namespace()) {
    errno = EOPNOTSUPP;
    return -1;
  }
  int fd = open("/proc/sys/kernel/pid_max", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (c->pid_max[len]) len++;
  ssize_t n;
  do {
    n = write(fd, c->pid_max, len);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  errno = err;
  return n == (ssize_t)len ? 0 : -1;
}

PIDNS_CHILD_CODE static void exec_child(struct pidns_child *c) {
  int moved[c->fd_count > 0 ? c->fd_count : 1];

  c->inner_pid = (pid_t)syscall(SYS_getpid);
  /* Before mountProc replaces /proc: here /proc/self is this process in Node's view. */
  struct stat own_namespace;
  int proc_dir = c->node_proc_fd >= 0 ? c->node_proc_fd : AT_FDCWD;
  const char *own_path = c->node_proc_fd >= 0 ? "self/ns/pid" : "/proc/self/ns/pid";
  c->namespace_inode = syscall(SYS_newfstatat, proc_dir, own_path, &own_namespace, 0) == 0
                          ? (unsigned long long)own_namespace.st_ino
                          : 0;
  /* From here on this process reports through its own copy of the error pipe: the number in c
   * may be one the descriptor map takes. */
  int error_fd = lift_private(c->error_fd, c->fd_count);
  if (error_fd < 0) report_and_exit(c, PIDNS_STEP_DUP2, errno);
  /* The first child waits for end of file on DONE before it lets Node go on: DONE's write end
   * must live until execve, whatever number the map puts over the old one. */
  if (c->new_user_namespace && lift_private(c->user_pipes[DONE][1], c->fd_count) < 0)
    report_to(error_fd, PIDNS_STEP_DUP2, errno);
  int status_fd = c->pdeathsig ? open_own_status(c) : -1;
  /* Before the ids change and before the execve that enters the time namespace. */
  int failed_step = pidns_prepare_namespaces(c);
  if (failed_step != PIDNS_STEP_NONE) report_to(error_fd, failed_step, errno);
  if (c->mount_proc && mount_private_proc() < 0) report_to(error_fd, PIDNS_STEP_MOUNT, errno);
  /* Before anything else runs in the namespace, and before the ids change: it needs
   * CAP_SYS_ADMIN over the user namespace that owns the PID namespace (or to be its root). */
  if (c->pid_max && write_pid_max(c) < 0) report_to(error_fd, PIDNS_STEP_PID_MAX, errno);
  if (install_descriptors(c, moved) < 0) report_to(error_fd, PIDNS_STEP_DUP2, errno);
  if (c->foreground) {
    if (setpgid(0, 0) < 0) report_to(error_fd, PIDNS_STEP_SETPGID, errno);
    /* The mask is still full, so no SIGTTOU stops this from outside the foreground group. A
     * failure (the terminal changed hands since Node looked) leaves the command in the
     * background, where a shell would have put it. */
    pid_t group = c->inner_pid;
    (void)ioctl(0, TIOCSPGRP, &group);
  }
  /* Before the ids change: the command leads a session of its own on the terminal, which the
   * kernel then signals (^C, ^Z, SIGWINCH, the hangup when the terminal closes). */
  if (c->terminal) {
    if (setsid() < 0) report_to(error_fd, PIDNS_STEP_SETSID, errno);
    if (ioctl(0, TIOCSCTTY, 0) < 0) report_to(error_fd, PIDNS_STEP_CONTROLLING_TERMINAL, errno);
  }
  if (c->cwd && chdir(c->cwd) < 0) report_to(error_fd, PIDNS_STEP_CHDIR, errno);
  if ((c->uid >= 0 || c->gid >= 0) && pidns_setgroups_empty() < 0) {
    /* Supplementary groups of the Node process must not follow a change of identity. A caller
     * that may change ids but not groups (CAP_SETUID without CAP_SETGID) would otherwise hand the
     * command Node's groups: that is a failure, unless there are none to drop. In a user
     * namespace whose setgroups is denied (every unprivileged one) the kernel keeps the groups
     * for every process there, by design, so nothing is lost by going on. */
    int err = errno;
    bool in_user_namespace = c->new_user_namespace || c->join_user_fd >= 0;
    if (err != EPERM || (!in_user_namespace && pidns_group_count() != 0))
      report_to(error_fd, PIDNS_STEP_SETGROUPS, err);
  }
  /* gid before uid: after setuid the process may no longer change its gid. */
  if (c->gid >= 0 && pidns_setresgid((gid_t)c->gid) < 0)
    report_to(error_fd, PIDNS_STEP_SETGID, errno);
  if (c->uid >= 0 && pidns_setresuid((uid_t)c->uid) < 0)
    report_to(error_fd, PIDNS_STEP_SETUID, errno);
  if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    report_to(error_fd, PIDNS_STEP_NO_NEW_PRIVS, errno);
  /* After the ids: the kernel clears the parent-death signal when they change. */
  if (c->pdeathsig) arm_parent_death_signal(c, error_fd, status_fd);

  sigset_t empty;
  sigemptyset(&empty);
  pidns_sigmask_set(&empty, NULL);
  /* Once more, last: the kernel's re-parenting stores the new parent and then loads the death
   * signal with no barrier between, so a store still buffered on its CPU can pass the first read
   * above while its load misses the prctl. Here, syscalls later, the store has landed. */
  if (c->pdeathsig) exit_if_orphaned(c, status_fd);
  execve(c->file, c->argv, c->envp);
  report_to(error_fd, PIDNS_STEP_EXECVE, errno);
}

PIDNS_CHILD_CODE static int grandchild_main(void *arg) {
  exec_child((struct pidns_child *)arg);
  return 127;
}

/* The process that execs, created by the first child; straight into the cgroup when there is one,
 * so that it never runs outside it. */
PIDNS_CHILD_CODE static pid_t clone_grandchild(struct pidns_child *c, int (*fn)(void *), int flags) {
  if (c->cgroup_fd < 0 && c->ns_pid <= 0) return clone(fn, c->grandchild_stack_top, flags | SIGCHLD, c);
  /* clone3 takes no exit signal with CLONE_PARENT: the process inherits this one's (SIGCHLD). */
  struct pidns_clone_request request = {
      .flags = (uint64_t)flags,
      .exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD,
      .pidfd = NULL,
      .stack_top = c->grandchild_stack_top,
      .stack_size = c->grandchild_stack_size,
      .cgroup_fd = c->cgroup_fd,
      /* One pid: the innermost namespace's, which is the one joined (set_tid lists the
       * namespaces from the new process's own outward, and the outer ones pick as usual). */
      .set_tid = c->ns_pid > 0 ? &c->ns_pid : NULL,
      .set_tid_size = c->ns_pid > 0 ? 1 : 0,
  };
  return pidns_clone3(&request, fn, c);
}

PIDNS_CHILD_CODE static int user_grandchild_main(void *arg) {
  struct pidns_child *c = (struct pidns_child *)arg;
  char byte;
  close(c->user_pipes[GO][1]);
  close(c->user_pipes[DONE][0]);
  ssize_t n;
  do {
    n = read(c->user_pipes[GO][0], &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) _exit(127); /* the first child reported why */
  close(c->user_pipes[GO][0]);
  exec_child(c);
  return 127;
}

PIDNS_CHILD_CODE static char *format_pid_path(char *buf, pid_t pid, const char *leaf) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = (char)('0' + pid % 10);
    pid /= 10;
  } while (pid > 0);
  char *p = buf;
  for (const char *s = "/proc/"; *s;) *p++ = *s++;
  while (n > 0) *p++ = digits[--n];
  *p++ = '/';
  while (*leaf) *p++ = *leaf++;
  *p = '\0';
  return buf;
}

PIDNS_CHILD_CODE static int write_proc_file(pid_t pid, const char *leaf, const char *text) {
  char path[64];
  int fd = open(format_pid_path(path, pid, leaf), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (text[len]) len++;
  ssize_t n = write(fd, text, len);
  int err = errno;
  close(fd);
  errno = err;
  return n == (ssize_t)len ? 0 : -1;
}

/* Runs concurrently with the process it created (both on Node's memory, each on its own stack,
 * touching different fields). errno is shared too, so this side only makes calls that succeed
 * while the other may still be reading it: the blocking reads happen while the other side is
 * parked in a read of its own. */
PIDNS_CHILD_CODE static void start_in_new_user_namespace(struct pidns_child *c, int flags) {
  if (pipe2(c->user_pipes[GO], O_CLOEXEC) < 0 || pipe2(c->user_pipes[DONE], O_CLOEXEC) < 0)
    report_and_exit(c, PIDNS_STEP_PIPE, errno);
  pid_t pid = clone_grandchild(c, user_grandchild_main, flags | CLONE_VM | CLONE_PARENT | CLONE_NEWUSER);
  if (pid < 0) report_and_exit(c, PIDNS_STEP_CLONE, errno);
  c->exec_pid = pid;
  close(c->user_pipes[GO][0]);
  close(c->user_pipes[DONE][1]);
  if (c->deny_setgroups && write_proc_file(pid, "setgroups", "deny") < 0)
    report_and_exit(c, PIDNS_STEP_ID_MAP, errno);
  if (write_proc_file(pid, "uid_map", c->uid_map) < 0) report_and_exit(c, PIDNS_STEP_ID_MAP, errno);
  if (write_proc_file(pid, "gid_map", c->gid_map) < 0) report_and_exit(c, PIDNS_STEP_ID_MAP, errno);
  char go = 1;
  if (write(c->user_pipes[GO][1], &go, 1) != 1) report_and_exit(c, PIDNS_STEP_PIPE, errno);
  close(c->user_pipes[GO][1]);
  /* Node's memory must not change under that process until it has exec'd or exited. */
  char ignored;
  while (read(c->user_pipes[DONE][0], &ignored, 1) < 0 && errno == EINTR) {
  }
  _exit(0);
}

/* One namespace to enter: its descriptor (-1: not entered), its type, and the step a refusal is
 * reported as. */
struct pidns_entry {
  int fd;
  int type;
  int step;
};

/* Enters the namespaces of the target the way nsenter does (util-linux sys-utils/nsenter.c): in
 * the order user, cgroup, ipc, uts, net, pid, mnt, in two passes. The first pass tries each but
 * the user namespace and passes over a refusal; the second enters the user namespace, then retries
 * what was refused, and reports a refusal. So a privileged caller enters the user namespace last
 * (inside it, it would no longer have the privilege the other calls check over namespaces owned
 * outside) and an unprivileged one first (it grants that privilege over the namespaces it owns).
 * These run in this process, which shares Node's memory but has its own thread group and
 * fs_struct: the mount and user namespaces check exactly that. A time namespace would also check
 * that no other process shares the memory (the kernel's current_is_single_threaded()), so lib/
 * never asks for one. */
PIDNS_CHILD_CODE static void enter_namespaces(const struct pidns_child *c) {
  struct pidns_entry entries[] = {
      {c->join_user_fd, CLONE_NEWUSER, PIDNS_STEP_SETNS_USER},
      {c->enter_fds[PIDNS_ENTER_CGROUP], CLONE_NEWCGROUP, PIDNS_STEP_SETNS_OTHER + PIDNS_ENTER_CGROUP},
      {c->enter_fds[PIDNS_ENTER_IPC], CLONE_NEWIPC, PIDNS_STEP_SETNS_OTHER + PIDNS_ENTER_IPC},
      {c->enter_fds[PIDNS_ENTER_UTS], CLONE_NEWUTS, PIDNS_STEP_SETNS_OTHER + PIDNS_ENTER_UTS},
      {c->enter_fds[PIDNS_ENTER_NET], CLONE_NEWNET, PIDNS_STEP_SETNS_OTHER + PIDNS_ENTER_NET},
      {c->join_fd, CLONE_NEWPID, PIDNS_STEP_SETNS},
      {c->enter_fds[PIDNS_ENTER_MNT], CLONE_NEWNS, PIDNS_STEP_SETNS_OTHER + PIDNS_ENTER_MNT},
  };
  const int count = (int)(sizeof entries / sizeof entries[0]);
  for (int i = 1; i < count; i++)
    if (entries[i].fd >= 0 && pidns_setns(entries[i].fd, entries[i].type) == 0) entries[i].fd = -1;
  for (int i = 0; i < count; i++)
    if (entries[i].fd >= 0 && pidns_setns(entries[i].fd, entries[i].type) < 0) report_and_exit(c, entries[i].step, errno);
}

/* The target's root and working directory, as nsenter --root --wd sets them: after the mount
 * namespace (the descriptors were opened before it, in the target's), and before the process that
 * execs is forked, so that it starts there and its execve resolves the command in the target's
 * tree. Without a working directory of the target's, the root's top. */
PIDNS_CHILD_CODE static void enter_directories(const struct pidns_child *c) {
  if (c->root_fd >= 0) {
    if (fchdir(c->root_fd) < 0 || chroot(".") < 0) report_and_exit(c, PIDNS_STEP_CHROOT, errno);
    if (c->cwd_fd < 0 && chdir("/") < 0) report_and_exit(c, PIDNS_STEP_CHDIR, errno);
  }
  if (c->cwd_fd >= 0 && fchdir(c->cwd_fd) < 0) report_and_exit(c, PIDNS_STEP_FCHDIR, errno);
}

/* A mount namespace of its own (mountProc) in the target's root, made here rather than by the
 * clone of the process that execs. Its propagation must be made private at the top of the mount
 * tree, before the chroot: after it "/" is the target's root, which need not be a mount point (a
 * plain chroot), and a propagation change there is EINVAL. And the root must be entered through
 * the new namespace's copy of it: a descriptor opened before the unshare names the target's own
 * mount, where nothing can be mounted from here (EINVAL again). So: the working directory is set to
 * the target's root, the unshare moves it to the copy, and chroot(".") makes it the root. The
 * target's working directory, entered last, stays a directory of the target's own mount namespace
 * (there is one working directory to carry over, and the root matters more): the same files, less
 * the mounts made in the new namespace (the /proc). */
PIDNS_CHILD_CODE static void enter_root_in_own_mount_namespace(struct pidns_child *c) {
  if (fchdir(c->root_fd) < 0) report_and_exit(c, PIDNS_STEP_CHROOT, errno);
  if (unshare(CLONE_NEWNS) < 0) report_and_exit(c, PIDNS_STEP_UNSHARE, errno);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) report_and_exit(c, PIDNS_STEP_MOUNT, errno);
  if (chroot(".") < 0) report_and_exit(c, PIDNS_STEP_CHROOT, errno);
  if (c->cwd_fd < 0 && chdir("/") < 0) report_and_exit(c, PIDNS_STEP_CHDIR, errno);
  if (c->cwd_fd >= 0 && fchdir(c->cwd_fd) < 0) report_and_exit(c, PIDNS_STEP_FCHDIR, errno);
  c->mount_namespace_made = 1;
}

PIDNS_CHILD_CODE int pidns_child_main(void *arg) {
  struct pidns_child *c = (struct pidns_child *)arg;

  if (reset_signals() < 0) report_and_exit(c, PIDNS_STEP_SIGNALS, errno);
  /* The namespaces clone() makes; spawn.cc puts CLONE_NEWNS among them for mountProc. */
  int namespace_flags = c->new_namespaces & PIDNS_CLONE_NAMESPACES;
  if (c->new_user_namespace) start_in_new_user_namespace(c, CLONE_NEWPID | namespace_flags);
  if (c->join_fd < 0) {
    exec_child(c);
    return 127;
  }

  /* setns(CLONE_NEWPID) only changes where this process's children go; the process that execs
   * must be forked after it, and it takes this process's root and working directory with it.
   * CLONE_PARENT makes it Node's child, so Node reaps it like any other; CLONE_VFORK keeps this
   * process alive until it has exec'd or failed. */
  if (c->enter_fds[PIDNS_ENTER_MNT] >= 0 || c->root_fd >= 0) c->node_proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  enter_namespaces(c);
  if (c->root_fd >= 0 && (namespace_flags & CLONE_NEWNS)) {
    enter_root_in_own_mount_namespace(c);
    namespace_flags &= ~CLONE_NEWNS;
  } else {
    enter_directories(c);
  }
  pid_t pid = clone_grandchild(c, grandchild_main, CLONE_VM | CLONE_VFORK | CLONE_PARENT | namespace_flags);
  if (pid < 0) report_and_exit(c, c->ns_pid > 0 ? PIDNS_STEP_CLONE_NS_PID : PIDNS_STEP_CLONE, errno);
  c->exec_pid = pid;
  _exit(0);
}
