// spawn(options): clone a child into a new or an existing PID namespace and exec it.
//
// The options object is built by lib/request.ts from options checked in lib/options.ts; this
// file only converts it into plain C buffers, which must all exist before the clone (see child.h), clones, and reports.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "addon.h"
#include "child.h"
#include "clone3.h"
#include "kernel.h"
#include "namespaces.h"

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

// A refusal in the child: { errno, syscall }, and the namespace a refused setns was entering.
Napi::Value ChildFailure(Napi::Env env, const struct pidns_child_error &report) {
  Napi::Value failure = Failure(env, report.err, StepName(report.step));
  const char *ns = NamespaceOfStep(report.step);
  if (ns) failure.As<Napi::Object>().Set("namespace", ns);
  return failure;
}

// Waits for a child of ours that has ended or is about to, and reaps it. Only that pid: never 0
// or -1, which would reap children that libuv or other code is waiting for.
void Reap(pid_t pid) {
  if (pid <= 0) return;
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// A NUL-terminated array of C strings that owns its storage.
// Every field of the options object, read once and up front: a getter may throw (or answer
// differently each time it is asked), and nothing may call into N-API while its exception is
// pending (a second throw aborts the process).
class Fields {
 public:
  bool Read(Napi::Env env, const Napi::Object &o) {
    static const char *const kNames[] = {
        "file", "cwd", "argv", "envp", "fdMap", "newPidNamespace", "usePidfd", "newUserNamespace",
        "uidMap", "gidMap", "uid", "gid", "pdeathsig", "parentPid", "cgroupFd", "joinFd",
        "joinUserFd", "mountProc", "noNewPrivileges", "foreground", "terminal", "denySetgroups",
        "pidMax", "nsPid", "enterFds", "rootFd", "cwdFd", "newNamespaces", "hostname", "timeOffsets"};
    for (const char *name : kNames) {
      Napi::Value v = o.Get(name);
      if (env.IsExceptionPending()) return false;
      values_.emplace(name, v);
    }
    return true;
  }
  Napi::Value Get(const char *name) const { return values_.at(name); }

 private:
  std::map<std::string, Napi::Value> values_;
};

class CStringArray {
 public:
  bool Load(Napi::Env env, const Napi::Value &value) {
    if (!value.IsArray()) return false;
    Napi::Array array = value.As<Napi::Array>();
    uint32_t length = array.Length();
    strings_.reserve(length);
    for (uint32_t i = 0; i < length; i++) {
      Napi::Value item = array.Get(i);
      if (env.IsExceptionPending() || !item.IsString()) return false;
      strings_.push_back(item.As<Napi::String>().Utf8Value());
      if (strings_.back().find('\0') != std::string::npos) return false;
    }
    for (auto &s : strings_) pointers_.push_back(const_cast<char *>(s.c_str()));
    pointers_.push_back(nullptr);
    return true;
  }
  char *const *get() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char *> pointers_;
};

// PID_MAX_LIMIT of 64-bit kernels: the largest pid_max, above every pid.
constexpr int64_t kPidMaxLimit = 4194304;

// The addon refuses on its own what lib/ would never build: a NaN would otherwise become 0 (uid
// root, descriptor stdin), and a fraction or an out-of-range number would be truncated. An absent
// field takes its fallback.
bool IntField(const Fields &o, const char *name, int64_t min, int64_t max, int64_t fallback, int64_t *out) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) {
    *out = fallback;
    return true;
  }
  if (!IsIntegerIn(v, static_cast<double>(min), static_cast<double>(max))) return false;
  *out = v.As<Napi::Number>().Int64Value();
  return true;
}

}  // namespace

const char *EnterKindName(int kind) {
  static const char *const kNames[PIDNS_ENTER_KINDS] = {"cgroup", "ipc", "uts", "net", "mnt"};
  return kind >= 0 && kind < PIDNS_ENTER_KINDS ? kNames[kind] : nullptr;
}

// Returns { pid, pidfd, nsPid } or { errno, syscall }. Throws TypeError only for a malformed
// options object, which lib/ never builds.
Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "spawn: options object required");
  Fields o;
  if (!o.Read(env, info[0].As<Napi::Object>())) return env.Undefined();

  Napi::Value fileValue = o.Get("file");
  if (!fileValue.IsString()) return ThrowType(env, "spawn: file must be a string");
  std::string file = fileValue.As<Napi::String>().Utf8Value();
  std::string cwd;
  bool hasCwd = o.Get("cwd").IsString();
  if (hasCwd) cwd = o.Get("cwd").As<Napi::String>().Utf8Value();
  CStringArray argv, envp;
  if (!argv.Load(env, o.Get("argv")) || !envp.Load(env, o.Get("envp")))
    return ThrowType(env, "spawn: argv and envp must be arrays of strings without NUL");
  if (file.find('\0') != std::string::npos || cwd.find('\0') != std::string::npos)
    return ThrowType(env, "spawn: file and cwd must not contain NUL");

  std::vector<int> fdMap;
  Napi::Value fdValue = o.Get("fdMap");
  if (!fdValue.IsArray()) return ThrowType(env, "spawn: fdMap must be an array");
  Napi::Array fdArray = fdValue.As<Napi::Array>();
  // The child keeps one int per entry on a stack of its own (child.h).
  uint32_t fdCount = fdArray.Length();
  if (fdCount > PIDNS_MAX_FD_MAP) return ThrowType(env, "spawn: fdMap is too long");
  for (uint32_t i = 0; i < fdCount; i++) {
    Napi::Value v = fdArray.Get(i);
    if (env.IsExceptionPending() || !IsIntegerIn(v, -1, INT32_MAX)) return ThrowType(env, "spawn: fdMap entries must be descriptors or -1");
    fdMap.push_back(v.As<Napi::Number>().Int32Value());
  }

  // The target's other namespaces, by pidns_enter_kind; absent: none.
  int enterFds[PIDNS_ENTER_KINDS];
  for (int &fd : enterFds) fd = -1;
  Napi::Value enterValue = o.Get("enterFds");
  if (!enterValue.IsUndefined()) {
    if (!enterValue.IsArray() || enterValue.As<Napi::Array>().Length() != PIDNS_ENTER_KINDS)
      return ThrowType(env, "spawn: enterFds must be an array of one descriptor or -1 per namespace kind");
    for (uint32_t i = 0; i < PIDNS_ENTER_KINDS; i++) {
      Napi::Value v = enterValue.As<Napi::Array>().Get(i);
      if (env.IsExceptionPending() || !IsIntegerIn(v, -1, INT32_MAX)) return ThrowType(env, "spawn: enterFds entries must be descriptors or -1");
      enterFds[i] = v.As<Napi::Number>().Int32Value();
    }
  }

  int64_t rootFd, cwdFd;
  if (!IntField(o, "rootFd", -1, INT32_MAX, -1, &rootFd) || !IntField(o, "cwdFd", -1, INT32_MAX, -1, &cwdFd))
    return ThrowType(env, "spawn: rootFd and cwdFd must be descriptors or -1");

  int64_t uid, gid, pdeathsig, parentPid, cgroupFd, joinFd, joinUserFd, pidMax, nsPid;
  if (!IntField(o, "uid", -1, 0xfffffffeLL, -1, &uid) || !IntField(o, "gid", -1, 0xfffffffeLL, -1, &gid) ||
      !IntField(o, "pdeathsig", 0, NSIG - 1, 0, &pdeathsig) || !IntField(o, "parentPid", 0, INT32_MAX, 0, &parentPid) ||
      !IntField(o, "cgroupFd", -1, INT32_MAX, -1, &cgroupFd) || !IntField(o, "joinFd", -1, INT32_MAX, -1, &joinFd) ||
      !IntField(o, "joinUserFd", -1, INT32_MAX, -1, &joinUserFd) || !IntField(o, "pidMax", 0, kPidMaxLimit, 0, &pidMax) ||
      !IntField(o, "nsPid", 0, kPidMaxLimit - 1, 0, &nsPid))
    return ThrowType(env, "spawn: uid, gid, pdeathsig, parentPid, pidMax, nsPid and the descriptor fields must be integers in range");

  bool newPidNamespace = o.Get("newPidNamespace").ToBoolean();
  // pid_max belongs to a namespace's creator, and a pid can be chosen only in one joined.
  if (pidMax > 0 && !newPidNamespace) return ThrowType(env, "spawn: pidMax needs a new PID namespace");
  if (nsPid > 0 && joinFd < 0) return ThrowType(env, "spawn: nsPid needs joinFd");
  // A target's other namespaces and directories are entered on the way into its PID namespace.
  bool entering = rootFd >= 0 || cwdFd >= 0;
  for (int fd : enterFds) entering = entering || fd >= 0;
  if (entering && joinFd < 0) return ThrowType(env, "spawn: enterFds, rootFd and cwdFd need joinFd");
  // options.namespaces: CLONE_NEW* flags of the kinds lib/namespaces.ts allows, only with a new
  // PID namespace; the host name and time offsets only with their namespaces.
  int64_t newNamespaces;
  const int64_t kOtherNamespaces = PIDNS_CLONE_NAMESPACES | CLONE_NEWCGROUP | CLONE_NEWTIME;
  if (!IntField(o, "newNamespaces", 0, kOtherNamespaces, 0, &newNamespaces) || (newNamespaces & ~kOtherNamespaces) != 0)
    return ThrowType(env, "spawn: newNamespaces must be CLONE_NEW* flags of cgroup, ipc, mnt, net, time and uts");
  if (newNamespaces != 0 && (!newPidNamespace || joinFd >= 0)) return ThrowType(env, "spawn: newNamespaces needs a new PID namespace");
  std::string hostname, timeOffsets;
  Napi::Value hostnameValue = o.Get("hostname");
  bool hasHostname = hostnameValue.IsString();
  if (hasHostname) hostname = hostnameValue.As<Napi::String>().Utf8Value();
  if ((!hasHostname && !hostnameValue.IsUndefined() && !hostnameValue.IsNull()) || hostname.size() > 64 ||
      hostname.find('\0') != std::string::npos || (hasHostname && !(newNamespaces & CLONE_NEWUTS)))
    return ThrowType(env, "spawn: hostname must be a string of at most 64 bytes, with CLONE_NEWUTS");
  Napi::Value offsetsValue = o.Get("timeOffsets");
  bool hasOffsets = offsetsValue.IsString();
  if (hasOffsets) timeOffsets = offsetsValue.As<Napi::String>().Utf8Value();
  if ((!hasOffsets && !offsetsValue.IsUndefined() && !offsetsValue.IsNull()) || timeOffsets.size() > 128 ||
      timeOffsets.find('\0') != std::string::npos || (hasOffsets && !(newNamespaces & CLONE_NEWTIME)))
    return ThrowType(env, "spawn: timeOffsets must be the text of timens_offsets, with CLONE_NEWTIME");
  std::string pidMaxText = pidMax > 0 ? std::to_string(pidMax) : std::string();
  bool usePidfd = o.Get("usePidfd").ToBoolean();
  bool newUserNamespace = o.Get("newUserNamespace").ToBoolean();
  std::string uidMap, gidMap;
  if (newUserNamespace) {
    if (!o.Get("uidMap").IsString() || !o.Get("gidMap").IsString())
      return ThrowType(env, "spawn: uidMap and gidMap must be strings");
    uidMap = o.Get("uidMap").As<Napi::String>().Utf8Value();
    gidMap = o.Get("gidMap").As<Napi::String>().Utf8Value();
  }

  struct pidns_child child = {};
  child.file = file.c_str();
  child.argv = argv.get();
  child.envp = envp.get();
  child.cwd = hasCwd ? cwd.c_str() : nullptr;
  child.uid = static_cast<long>(uid);
  child.gid = static_cast<long>(gid);
  child.fd_map = fdMap.data();
  child.fd_count = static_cast<int>(fdMap.size());
  child.pdeathsig = static_cast<int>(pdeathsig);
  child.parent_pid = static_cast<pid_t>(parentPid);
  child.cgroup_fd = static_cast<int>(cgroupFd);
  child.join_fd = static_cast<int>(joinFd);
  child.join_user_fd = static_cast<int>(joinUserFd);
  for (int i = 0; i < PIDNS_ENTER_KINDS; i++) child.enter_fds[i] = enterFds[i];
  child.root_fd = static_cast<int>(rootFd);
  child.cwd_fd = static_cast<int>(cwdFd);
  child.node_proc_fd = -1;
  child.mount_namespace_made = 0;
  child.mount_proc = o.Get("mountProc").ToBoolean();
  child.no_new_privs = o.Get("noNewPrivileges").ToBoolean();
  child.foreground = o.Get("foreground").ToBoolean();
  child.terminal = o.Get("terminal").ToBoolean();
  child.new_user_namespace = newUserNamespace;
  child.uid_map = uidMap.c_str();
  child.gid_map = gidMap.c_str();
  child.deny_setgroups = o.Get("denySetgroups").ToBoolean();
  child.pid_max = pidMax > 0 ? pidMaxText.c_str() : nullptr;
  child.ns_pid = static_cast<pid_t>(nsPid);
  child.new_namespaces = static_cast<int>(newNamespaces) | (child.mount_proc ? CLONE_NEWNS : 0);
  child.hostname = hasHostname ? hostname.c_str() : nullptr;
  child.time_offsets = hasOffsets ? timeOffsets.c_str() : nullptr;

  int errorPipe[2];
  if (pipe2(errorPipe, O_CLOEXEC | O_NONBLOCK) < 0) return Failure(env, errno, "pipe2");
  child.error_fd = errorPipe[1];

  // The child runs on this thread's stack, below the current frame: the thread is suspended
  // until the child has exec'd or exited, so nothing else uses this memory meanwhile.
  alignas(16) char stacks[2][32 * 1024];
  child.grandchild_stack_top = stacks[1] + sizeof stacks[1];
  child.grandchild_stack_size = sizeof stacks[1];

  // Joining and new user namespaces go through a first child that stays in Node's namespaces and
  // forks the process that execs (child.c); otherwise the clone itself makes the namespaces.
  bool direct = child.join_fd < 0 && !newUserNamespace;
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
  if (direct && newPidNamespace) flags |= CLONE_NEWPID;
  if (direct) flags |= child.new_namespaces & PIDNS_CLONE_NAMESPACES;
  int pidfd = -1;
  if (usePidfd && direct) flags |= CLONE_PIDFD;

  // With every signal blocked no handler of Node's can run in the child before it has reset
  // the dispositions; the child empties its mask just before execve.
  // (The system call itself: libc's sigfillset leaves out the signals libc keeps for itself.)
  sigset_t all, saved;
  memset(&all, 0xff, sizeof all);
  pidns_sigmask_set(&all, &saved);
  pid_t pid;
  if (direct && child.cgroup_fd >= 0) {
    // Created inside the cgroup, so that no process of the namespace ever runs outside it.
    struct pidns_clone_request request = {};
    request.flags = static_cast<uint64_t>(flags & ~0xff);
    request.exit_signal = SIGCHLD;
    request.pidfd = &pidfd;
    request.stack_top = stacks[0] + sizeof stacks[0];
    request.stack_size = sizeof stacks[0];
    request.cgroup_fd = child.cgroup_fd;
    pid = pidns_clone3(&request, pidns_child_main, &child);
  } else {
    pid = clone(pidns_child_main, stacks[0] + sizeof stacks[0], flags, &child, &pidfd);
  }
  int cloneErrno = errno;
  pidns_sigmask_set(&saved, nullptr);
  close(errorPipe[1]);

  if (pid < 0) {
    close(errorPipe[0]);
    return Failure(env, cloneErrno, child.cgroup_fd >= 0 ? "clone3" : "clone");
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
      return ChildFailure(env, report);
    }
    if (usePidfd) pidfd = pidns_pidfd_open(pid);
  } else if (failed) {
    Reap(pid);
    if (pidfd >= 0) close(pidfd);
    return ChildFailure(env, report);
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("pidfd", Napi::Number::New(env, pidfd));
  result.Set("nsPid", Napi::Number::New(env, child.inner_pid));
  result.Set("namespaceId", Napi::Number::New(env, static_cast<double>(child.namespace_inode)));
  return result;
}

}  // namespace pidns
