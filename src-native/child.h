/*
 * What a spawned child does between clone() and execve().
 *
 * The child is created with CLONE_VM|CLONE_VFORK: it runs on Node's memory while the spawning
 * thread is suspended. Everything it reads is prepared before the clone and lives in struct
 * pidns_child; it allocates nothing, takes no lock, touches no stdio and throws nothing, and only
 * makes the system calls in kernel.h plus async-signal-safe libc calls that are single system
 * calls (dup2, close, chdir, fchdir, chroot, fcntl, prctl, open, read, pread, write, mount,
 * setpgid, setsid, ioctl, socket, unshare, sethostname, execve, _exit).
 */
#ifndef PIDNS_CHILD_H
#define PIDNS_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Code that runs in the child, on Node's memory, and never returns to its caller: sanitizer
 * instrumentation there would poison Node's stack (the frames are never unwound) and its reports
 * would need the allocator the child must not use. */
#if defined(__GNUC__)
#define PIDNS_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))
#else
#define PIDNS_CHILD_CODE
#endif

/* The namespaces entered besides the PID namespace and the user namespace (options.joinNamespaces),
 * in the order nsenter enters them; lib/native.ts names them in this order (ENTER_KINDS). */
enum pidns_enter_kind {
  PIDNS_ENTER_CGROUP,
  PIDNS_ENTER_IPC,
  PIDNS_ENTER_UTS,
  PIDNS_ENTER_NET,
  PIDNS_ENTER_MNT,
  PIDNS_ENTER_KINDS,
};

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
  PIDNS_STEP_SETNS_USER,
  PIDNS_STEP_ID_MAP,
  PIDNS_STEP_MOUNT,
  PIDNS_STEP_PIPE,
  PIDNS_STEP_NO_NEW_PRIVS,
  PIDNS_STEP_SETPGID,
  PIDNS_STEP_SETSID,
  PIDNS_STEP_CONTROLLING_TERMINAL,
  PIDNS_STEP_PID_MAX,
  PIDNS_STEP_CLONE_NS_PID,
  /* setns into one of the target's other namespaces: PIDNS_STEP_SETNS_OTHER + its pidns_enter_kind. */
  PIDNS_STEP_SETNS_OTHER,
  PIDNS_STEP_CHROOT = PIDNS_STEP_SETNS_OTHER + PIDNS_ENTER_KINDS,
  PIDNS_STEP_FCHDIR,
  /* The other new namespaces (options.namespaces; namespaces.c). */
  PIDNS_STEP_UNSHARE,
  PIDNS_STEP_SETHOSTNAME,
  PIDNS_STEP_LOOPBACK,
  PIDNS_STEP_TIME_OFFSETS,
};

/* The longest descriptor map: 1024 stdio entries and the init's control channel. The process that
 * execs keeps an int per entry on its stack (32 KiB, see spawn.cc). */
#define PIDNS_MAX_FD_MAP 1025

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
  /* Node's pid as the /proc mounted in Node's mount namespace shows it (0: unknown). With
   * pdeathsig, the child reads its own parent from there after PR_SET_PDEATHSIG and exits if that
   * is no longer Node: the parent died before the death signal was armed. */
  pid_t parent_pid;
  int mount_proc;        /* make mounts private and mount a /proc of the new PID namespace */
  int no_new_privs;      /* PR_SET_NO_NEW_PRIVS: execve can never grant privileges again */
  int foreground;        /* lead a process group of its own, the foreground group of the terminal
                            on descriptor 0 */
  int terminal;          /* start a new session whose controlling terminal is descriptor 0 */

  /* Joining: enter join_fd's PID namespace (and join_user_fd's user namespace first, when >= 0),
   * then fork the process that execs. */
  int join_fd;           /* -1: not joining */
  int join_user_fd;      /* -1: stay in Node's user namespace */
  /* Entering a target's other namespaces too (options.joinNamespaces): one descriptor per
   * pidns_enter_kind, -1 for a namespace not entered. Then its root directory (fchdir and
   * chroot) and its working directory (fchdir), each -1 to keep Node's. */
  int enter_fds[PIDNS_ENTER_KINDS];
  int root_fd;
  int cwd_fd;
  /* Node's /proc, opened by the first child before it enters another mount namespace or root,
   * where /proc (if any) shows another PID namespace: the process that execs reads its own entry
   * (its parent, its namespace) through it. -1: /proc as it finds it. */
  int node_proc_fd;
  /* Set by the first child when it has made the mount namespace of a join itself (entering a
   * target's root with mountProc): the process that execs then finds it made, and private. */
  int mount_namespace_made;

  /* A new user namespace: the first child forks the process that execs into new user, PID (and
   * mount) namespaces, writes its id maps from outside (the only place a privileged map can be
   * written from), then lets it go on. */
  int new_user_namespace;
  const char *uid_map;   /* "inside outside count\n" lines, as /proc/PID/uid_map takes them */
  const char *gid_map;
  int deny_setgroups;    /* write "deny" to /proc/PID/setgroups first (unprivileged gid maps) */
  /* Between the first child and the process in the new user namespace. GO: the id maps are
   * written (one byte) or not (end of file: give up). DONE: end of file once that process has
   * exec'd or exited. */
  int user_pipes[2][2];

  char *grandchild_stack_top;
  size_t grandchild_stack_size;

  /* A cgroup v2 directory the process that execs is created in (CLONE_INTO_CGROUP), or -1. */
  int cgroup_fd;

  /* The new PID namespace's pid_max, in decimal, written by its pid 1 (the process that execs)
   * before anything else runs there; NULL: the kernel's default. */
  const char *pid_max;
  /* New namespaces besides the PID and user namespaces (options.namespaces): CLONE_NEW* flags.
   * Those of clone() come with the clone that makes the PID namespace; CLONE_NEWCGROUP and
   * CLONE_NEWTIME are unshared by the process that execs (see namespaces.c). */
  int new_namespaces;
  /* A network namespace made ahead (warm_network.cc), lo up, that the process that execs enters
   * instead of a new one: CLONE_NEWNET is then left out of the clone. -1: none. */
  int warm_net_fd;
  /* Set by the child when entering warm_net_fd was refused (a seccomp filter on setns): making
   * namespaces ahead is then of no use in this process. */
  volatile int warm_net_refused;
  const char *hostname;  /* sethostname in the new UTS namespace; NULL: keep the one inherited */
  /* "monotonic S 0\nboottime S 0\n", as /proc/PID/timens_offsets takes it; NULL: none */
  const char *time_offsets;
  /* Joining: the pid the process that execs takes in the joined namespace (clone3 set_tid), or 0
   * for the next free one. */
  pid_t ns_pid;

  /* Written by the children for the parent (shared memory: the parent reads them after the vfork
   * completes). */
  volatile pid_t exec_pid;   /* the exec'ing process when it is not the clone's own child */
  volatile pid_t inner_pid;  /* getpid() of the exec'ing process, inside its namespace */
  /* The inode of its PID namespace (0: unknown), read by the process itself before anything can
   * make its /proc links unreadable to Node (a non-dumpable init owned by an unmapped uid). */
  volatile unsigned long long namespace_inode;
};

/* The function passed to clone(). Never returns on success (execve), else _exit(127). */
PIDNS_CHILD_CODE int pidns_child_main(void *arg);

#ifdef __cplusplus
}
#endif

#endif
