// The clone window: clone a child into a new or an existing PID namespace and wait for its
// execve, from a request read by spawn_request.cc; the outcome as lib/native.ts types it.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addon.h"
#include "child.h"
#include "clone3.h"
#include "kernel.h"
#include "namespaces.h"
#include "spawn.h"
#include "warm_network.h"

namespace pidns {
namespace {

const char *StepName(int step) {
  switch (step) {
    case PIDNS_STEP_SETNS: return "setns";
    case PIDNS_STEP_CLONE: return "clone";
    case PIDNS_STEP_SIGNALS: return "sigaction";
    case PIDNS_STEP_DUP2: return "dup2";
    case PIDNS_STEP_CHDIR: return "chdir";
    case PIDNS_STEP_SETGROUPS: return "setgroups";
    case PIDNS_STEP_SETGID: return "setgid";
    case PIDNS_STEP_SETUID: return "setuid";
    case PIDNS_STEP_PDEATHSIG: return "prctl";
    case PIDNS_STEP_EXECVE: return "execve";
    case PIDNS_STEP_SETNS_USER: return "setns";
    case PIDNS_STEP_ID_MAP: return "uid_map";
    case PIDNS_STEP_MOUNT: return "mount";
    case PIDNS_STEP_PIPE: return "pipe2";
    case PIDNS_STEP_NO_NEW_PRIVS: return "prctl";
    case PIDNS_STEP_SETPGID: return "setpgid";
    case PIDNS_STEP_SETSID: return "setsid";
    case PIDNS_STEP_CONTROLLING_TERMINAL: return "ioctl";
    case PIDNS_STEP_PID_MAX: return "pid_max";
    case PIDNS_STEP_CLONE_NS_PID: return "clone3";
    case PIDNS_STEP_CHROOT: return "chroot";
    case PIDNS_STEP_FCHDIR: return "fchdir";
    case PIDNS_STEP_UNSHARE: return "unshare";
    case PIDNS_STEP_SETHOSTNAME: return "sethostname";
    case PIDNS_STEP_LOOPBACK: return "ioctl";
    case PIDNS_STEP_TIME_OFFSETS: return "timens_offsets";
    default:
      if (step >= PIDNS_STEP_SETNS_OTHER && step < PIDNS_STEP_SETNS_OTHER + PIDNS_ENTER_KINDS) return "setns";
      return "spawn";
  }
}

// The namespace a refused setns was entering (or a new network namespace whose loopback
// interface could not be brought up), by the names of /proc/PID/ns, or nullptr for a step that
// is about none.
const char *NamespaceOfStep(int step) {
  if (step == PIDNS_STEP_SETNS) return "pid";
  if (step == PIDNS_STEP_SETNS_USER) return "user";
  if (step == PIDNS_STEP_LOOPBACK) return "net";
  if (step >= PIDNS_STEP_SETNS_OTHER && step < PIDNS_STEP_SETNS_OTHER + PIDNS_ENTER_KINDS) return EnterKindName(step - PIDNS_STEP_SETNS_OTHER);
  return nullptr;
}

// Waits for a child of ours that has ended or is about to, and reaps it. Only that pid: never 0
// or -1, which would reap children that libuv or other code is waiting for.
void Reap(pid_t pid) {
  if (pid <= 0) return;
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

const char *EnterKindName(int kind) {
  static const char *const kNames[PIDNS_ENTER_KINDS] = {"cgroup", "ipc", "uts", "net", "mnt"};
  return kind >= 0 && kind < PIDNS_ENTER_KINDS ? kNames[kind] : nullptr;
}

void RunSpawn(SpawnRequest &request, SpawnOutcome *out) {
  struct pidns_child &child = request.child;
  int errorPipe[2];
  if (pipe2(errorPipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    out->err = errno;
    out->syscall = "pipe2";
    return;
  }
  child.error_fd = errorPipe[1];

  // The child runs on this thread's stack, below the current frame: the thread is suspended
  // until the child has exec'd or exited, so nothing else uses this memory meanwhile.
  alignas(16) char stacks[2][32 * 1024];
  child.grandchild_stack_top = stacks[1] + sizeof stacks[1];
  child.grandchild_stack_size = sizeof stacks[1];

  // Joining and new user namespaces go through a first child that stays in Node's namespaces and
  // forks the process that execs (child.c); otherwise the clone itself makes the namespaces.
  bool direct = child.join_fd < 0 && !request.newUserNamespace;
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
  if (direct && request.newPidNamespace) flags |= CLONE_NEWPID;
  if (direct) flags |= child.new_namespaces & PIDNS_CLONE_NAMESPACES;
  // A network namespace made ahead, entered by the child: owned by Node's user namespace, so
  // never for a new user namespace's (which goes through the first child, not direct).
  if (direct && (flags & CLONE_NEWNET) && request.warmNetwork) {
    child.warm_net_fd = TakeWarmNetwork();
    if (child.warm_net_fd >= 0) flags &= ~CLONE_NEWNET;
  }
  int pidfd = -1;
  if (request.usePidfd && direct) flags |= CLONE_PIDFD;

  // With every signal blocked no handler of Node's can run in the child before it has reset
  // the dispositions; the child empties its mask just before execve. (The spawner thread blocks
  // them all anyway; this keeps the rule where the window runs.)
  // (The system call itself: libc's sigfillset leaves out the signals libc keeps for itself.)
  sigset_t all, saved;
  memset(&all, 0xff, sizeof all);
  pidns_sigmask_set(&all, &saved);
  // A child that changes its ids (uid, gid, a user namespace's) makes the kernel reset the dumpable
  // flag of its memory, which until its execve is Node's: Node would be left undumpable (no core
  // dumps, its /proc files root's, ptrace refused). Put back once the child has exec'd; spawns
  // that change no ids leave the flag alone, whatever Node's own code sets meanwhile.
  bool changesIds = child.uid >= 0 || child.gid >= 0 || request.newUserNamespace || child.join_user_fd >= 0;
  int dumpable = changesIds ? prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) : -1;
  pid_t pid;
  if (direct && child.cgroup_fd >= 0) {
    // Created inside the cgroup, so that no process of the namespace ever runs outside it.
    struct pidns_clone_request clone = {};
    clone.flags = static_cast<uint64_t>(flags & ~0xff);
    clone.exit_signal = SIGCHLD;
    clone.pidfd = &pidfd;
    clone.stack_top = stacks[0] + sizeof stacks[0];
    clone.stack_size = sizeof stacks[0];
    clone.cgroup_fd = child.cgroup_fd;
    pid = pidns_clone3(&clone, pidns_child_main, &child);
  } else {
    pid = clone(pidns_child_main, stacks[0] + sizeof stacks[0], flags, &child, &pidfd);
  }
  int cloneErrno = errno;
  if (dumpable == 1 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  pidns_sigmask_set(&saved, nullptr);
  close(errorPipe[1]);
  if (child.warm_net_fd >= 0) {
    close(child.warm_net_fd);
    SettleWarmNetwork(child.warm_net_refused != 0);
  }

  if (pid < 0) {
    close(errorPipe[0]);
    out->err = cloneErrno;
    out->syscall = child.cgroup_fd >= 0 ? "clone3" : "clone";
    return;
  }

  // The vfork has completed: the child either passed the point of no return of execve or wrote
  // its error and exited. Nothing more will be written, so a non-blocking read decides.
  struct pidns_child_error report = {};
  ssize_t n = read(errorPipe[0], &report, sizeof report);
  close(errorPipe[0]);
  bool failed = n == static_cast<ssize_t>(sizeof report);

  if (!direct) {
    // pid is the short-lived first child; it has exited.
    Reap(pid);
    pid = child.exec_pid;
    if (failed) {
      Reap(pid);
      out->childFailed = true;
      out->report = report;
      return;
    }
    if (request.usePidfd) pidfd = pidns_pidfd_open(pid);
  } else if (failed) {
    Reap(pid);
    if (pidfd >= 0) close(pidfd);
    out->childFailed = true;
    out->report = report;
    return;
  }
  out->pid = pid;
  out->pidfd = pidfd;
  out->nsPid = child.inner_pid;
  out->namespaceInode = child.namespace_inode;
}

namespace {

// Raw N-API, every status checked: while a worker is being torn down its environment refuses
// property writes, and node-addon-api (without C++ exceptions) would end the process over that.
napi_status SetNumber(napi_env env, napi_value object, const char *name, double value) {
  napi_value v;
  napi_status status = napi_create_double(env, value, &v);
  return status == napi_ok ? napi_set_named_property(env, object, name, v) : status;
}

napi_status SetString(napi_env env, napi_value object, const char *name, const char *value) {
  napi_value v;
  napi_status status = napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  return status == napi_ok ? napi_set_named_property(env, object, name, v) : status;
}

}  // namespace

napi_status OutcomeValue(napi_env env, const SpawnOutcome &out, napi_value *result) {
  napi_status status = napi_create_object(env, result);
  if (status != napi_ok) return status;
  napi_value o = *result;
  if (out.err != 0) {
    status = SetNumber(env, o, "errno", out.err);
    if (status == napi_ok) status = SetString(env, o, "syscall", out.syscall);
    return status;
  }
  if (out.childFailed) {
    // A refusal in the child: { errno, syscall }, and the namespace a refused setns was entering.
    status = SetNumber(env, o, "errno", out.report.err);
    if (status == napi_ok) status = SetString(env, o, "syscall", StepName(out.report.step));
    const char *ns = NamespaceOfStep(out.report.step);
    if (status == napi_ok && ns) status = SetString(env, o, "namespace", ns);
    return status;
  }
  status = SetNumber(env, o, "pid", out.pid);
  if (status == napi_ok) status = SetNumber(env, o, "pidfd", out.pidfd);
  if (status == napi_ok) status = SetNumber(env, o, "nsPid", out.nsPid);
  if (status == napi_ok) status = SetNumber(env, o, "namespaceId", static_cast<double>(out.namespaceInode));
  return status;
}

void DiscardOutcome(SpawnOutcome *out) {
  if (out->err != 0 || out->childFailed || out->pid <= 0) return;
  if (out->pidfd < 0 || pidns_pidfd_send_signal(out->pidfd, SIGKILL) < 0) kill(out->pid, SIGKILL);
  Reap(out->pid);
  if (out->pidfd >= 0) close(out->pidfd);
  out->pid = -1;
  out->pidfd = -1;
}

}  // namespace pidns
