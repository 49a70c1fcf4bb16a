// SpawnRequest::Read: the options object of lib/request.ts, checked and copied into C buffers.
#include "spawn_request.h"

#include <sched.h>
#include <signal.h>
#include <stdint.h>

#include <map>

#include "addon.h"
#include "namespaces.h"

namespace pidns {
namespace {

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
        "pidMax", "nsPid", "enterFds", "rootFd", "cwdFd", "newNamespaces", "hostname", "timeOffsets",
        "ownedFds", "warmNetwork"};
    env_ = env;
    for (const char *name : kNames) {
      Napi::Value v = o.Get(name);
      // Empty: the environment is being torn down and answered nothing.
      if (env.IsExceptionPending() || v.IsEmpty()) return false;
      values_.emplace(name, v);
    }
    return true;
  }
  Napi::Value Get(const char *name) const { return values_.at(name); }
  // Its truth, as JavaScript has it; false if the environment refuses to say (it is being torn
  // down: node-addon-api's ToBoolean would end the process).
  bool Flag(const char *name) const {
    napi_value v = values_.at(name), b;
    bool truth = false;
    return napi_coerce_to_bool(env_, v, &b) == napi_ok && napi_get_value_bool(env_, b, &truth) == napi_ok && truth;
  }

 private:
  std::map<std::string, Napi::Value> values_;
  napi_env env_ = nullptr;
};

// An array of strings without NUL into strings and the NULL-terminated pointers to them.
bool LoadStrings(Napi::Env env, const Napi::Value &value, std::vector<std::string> *strings, std::vector<char *> *pointers) {
  if (!value.IsArray()) return false;
  Napi::Array array = value.As<Napi::Array>();
  uint32_t length = array.Length();
  strings->reserve(length);
  for (uint32_t i = 0; i < length; i++) {
    Napi::Value item = array.Get(i);
    if (env.IsExceptionPending() || !item.IsString()) return false;
    strings->push_back(item.As<Napi::String>().Utf8Value());
    if (strings->back().find('\0') != std::string::npos) return false;
  }
  // Only now: the strings no longer move.
  for (auto &s : *strings) pointers->push_back(const_cast<char *>(s.c_str()));
  pointers->push_back(nullptr);
  return true;
}

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

// A string field of at most maxBytes without NUL, or absent (undefined or null): whether it is
// well formed, and whether it was given.
bool OptionalText(const Fields &o, const char *name, size_t maxBytes, std::string *out, bool *given) {
  Napi::Value v = o.Get(name);
  *given = v.IsString();
  if (!*given) return v.IsUndefined() || v.IsNull();
  *out = v.As<Napi::String>().Utf8Value();
  return out->size() <= maxBytes && out->find('\0') == std::string::npos;
}

bool Fail(Napi::Env env, const char *message) {
  ThrowType(env, message);
  return false;
}

}  // namespace

bool SpawnRequest::Read(Napi::Env env, const Napi::Object &options) {
  Fields o;
  if (!o.Read(env, options)) return false;

  Napi::Value fileValue = o.Get("file");
  if (!fileValue.IsString()) return Fail(env, "spawn: file must be a string");
  file_ = fileValue.As<Napi::String>().Utf8Value();
  bool hasCwd = o.Get("cwd").IsString();
  if (hasCwd) cwd_ = o.Get("cwd").As<Napi::String>().Utf8Value();
  if (!LoadStrings(env, o.Get("argv"), &argv_, &argvPointers_) || !LoadStrings(env, o.Get("envp"), &envp_, &envpPointers_))
    return Fail(env, "spawn: argv and envp must be arrays of strings without NUL");
  if (file_.find('\0') != std::string::npos || cwd_.find('\0') != std::string::npos)
    return Fail(env, "spawn: file and cwd must not contain NUL");

  Napi::Value fdValue = o.Get("fdMap");
  if (!fdValue.IsArray()) return Fail(env, "spawn: fdMap must be an array");
  Napi::Array fdArray = fdValue.As<Napi::Array>();
  // The child keeps one int per entry on a stack of its own (child.h).
  uint32_t fdCount = fdArray.Length();
  if (fdCount > PIDNS_MAX_FD_MAP) return Fail(env, "spawn: fdMap is too long");
  for (uint32_t i = 0; i < fdCount; i++) {
    Napi::Value v = fdArray.Get(i);
    if (env.IsExceptionPending() || !IsIntegerIn(v, -1, INT32_MAX)) return Fail(env, "spawn: fdMap entries must be descriptors or -1");
    fdMap_.push_back(v.As<Napi::Number>().Int32Value());
  }

  Napi::Value ownedValue = o.Get("ownedFds");
  if (!ownedValue.IsUndefined()) {
    if (!ownedValue.IsArray()) return Fail(env, "spawn: ownedFds must be an array of descriptors");
    Napi::Array owned = ownedValue.As<Napi::Array>();
    for (uint32_t i = 0; i < owned.Length(); i++) {
      Napi::Value v = owned.Get(i);
      if (env.IsExceptionPending() || !IsIntegerIn(v, 0, INT32_MAX)) return Fail(env, "spawn: ownedFds entries must be descriptors");
      ownedFds.push_back(v.As<Napi::Number>().Int32Value());
    }
  }

  // The target's other namespaces, by pidns_enter_kind; absent: none.
  int enterFds[PIDNS_ENTER_KINDS];
  for (int &fd : enterFds) fd = -1;
  Napi::Value enterValue = o.Get("enterFds");
  if (!enterValue.IsUndefined()) {
    if (!enterValue.IsArray() || enterValue.As<Napi::Array>().Length() != PIDNS_ENTER_KINDS)
      return Fail(env, "spawn: enterFds must be an array of one descriptor or -1 per namespace kind");
    for (uint32_t i = 0; i < PIDNS_ENTER_KINDS; i++) {
      Napi::Value v = enterValue.As<Napi::Array>().Get(i);
      if (env.IsExceptionPending() || !IsIntegerIn(v, -1, INT32_MAX)) return Fail(env, "spawn: enterFds entries must be descriptors or -1");
      enterFds[i] = v.As<Napi::Number>().Int32Value();
    }
  }

  int64_t rootFd, cwdFd;
  if (!IntField(o, "rootFd", -1, INT32_MAX, -1, &rootFd) || !IntField(o, "cwdFd", -1, INT32_MAX, -1, &cwdFd))
    return Fail(env, "spawn: rootFd and cwdFd must be descriptors or -1");

  int64_t uid, gid, pdeathsig, parentPid, cgroupFd, joinFd, joinUserFd, pidMax, nsPid;
  if (!IntField(o, "uid", -1, 0xfffffffeLL, -1, &uid) || !IntField(o, "gid", -1, 0xfffffffeLL, -1, &gid) ||
      !IntField(o, "pdeathsig", 0, NSIG - 1, 0, &pdeathsig) || !IntField(o, "parentPid", 0, INT32_MAX, 0, &parentPid) ||
      !IntField(o, "cgroupFd", -1, INT32_MAX, -1, &cgroupFd) || !IntField(o, "joinFd", -1, INT32_MAX, -1, &joinFd) ||
      !IntField(o, "joinUserFd", -1, INT32_MAX, -1, &joinUserFd) || !IntField(o, "pidMax", 0, kPidMaxLimit, 0, &pidMax) ||
      !IntField(o, "nsPid", 0, kPidMaxLimit - 1, 0, &nsPid))
    return Fail(env, "spawn: uid, gid, pdeathsig, parentPid, pidMax, nsPid and the descriptor fields must be integers in range");

  newPidNamespace = o.Flag("newPidNamespace");
  // pid_max belongs to a namespace's creator, and a pid can be chosen only in one joined.
  if (pidMax > 0 && !newPidNamespace) return Fail(env, "spawn: pidMax needs a new PID namespace");
  if (nsPid > 0 && joinFd < 0) return Fail(env, "spawn: nsPid needs joinFd");
  // A target's other namespaces and directories are entered on the way into its PID namespace.
  bool entering = rootFd >= 0 || cwdFd >= 0;
  for (int fd : enterFds) entering = entering || fd >= 0;
  if (entering && joinFd < 0) return Fail(env, "spawn: enterFds, rootFd and cwdFd need joinFd");
  // options.namespaces: CLONE_NEW* flags of the kinds lib/namespaces.ts allows, only with a new
  // PID namespace; the host name and time offsets only with their namespaces.
  int64_t newNamespaces;
  const int64_t kOtherNamespaces = PIDNS_CLONE_NAMESPACES | CLONE_NEWCGROUP | CLONE_NEWTIME;
  if (!IntField(o, "newNamespaces", 0, kOtherNamespaces, 0, &newNamespaces) || (newNamespaces & ~kOtherNamespaces) != 0)
    return Fail(env, "spawn: newNamespaces must be CLONE_NEW* flags of cgroup, ipc, mnt, net, time and uts");
  if (newNamespaces != 0 && (!newPidNamespace || joinFd >= 0)) return Fail(env, "spawn: newNamespaces needs a new PID namespace");
  bool hasHostname, hasOffsets;
  if (!OptionalText(o, "hostname", 64, &hostname_, &hasHostname) || (hasHostname && !(newNamespaces & CLONE_NEWUTS)))
    return Fail(env, "spawn: hostname must be a string of at most 64 bytes, with CLONE_NEWUTS");
  if (!OptionalText(o, "timeOffsets", 128, &timeOffsets_, &hasOffsets) || (hasOffsets && !(newNamespaces & CLONE_NEWTIME)))
    return Fail(env, "spawn: timeOffsets must be the text of timens_offsets, with CLONE_NEWTIME");
  if (pidMax > 0) pidMaxText_ = std::to_string(pidMax);
  usePidfd = o.Flag("usePidfd");
  warmNetwork = o.Flag("warmNetwork");
  newUserNamespace = o.Flag("newUserNamespace");
  if (newUserNamespace) {
    if (!o.Get("uidMap").IsString() || !o.Get("gidMap").IsString()) return Fail(env, "spawn: uidMap and gidMap must be strings");
    uidMap_ = o.Get("uidMap").As<Napi::String>().Utf8Value();
    gidMap_ = o.Get("gidMap").As<Napi::String>().Utf8Value();
  }

  child = {};
  child.file = file_.c_str();
  child.argv = argvPointers_.data();
  child.envp = envpPointers_.data();
  child.cwd = hasCwd ? cwd_.c_str() : nullptr;
  child.uid = static_cast<long>(uid);
  child.gid = static_cast<long>(gid);
  child.fd_map = fdMap_.data();
  child.fd_count = static_cast<int>(fdMap_.size());
  child.error_fd = -1;
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
  child.mount_proc = o.Flag("mountProc");
  child.no_new_privs = o.Flag("noNewPrivileges");
  child.foreground = o.Flag("foreground");
  child.terminal = o.Flag("terminal");
  child.new_user_namespace = newUserNamespace;
  child.uid_map = uidMap_.c_str();
  child.gid_map = gidMap_.c_str();
  child.deny_setgroups = o.Flag("denySetgroups");
  child.pid_max = pidMax > 0 ? pidMaxText_.c_str() : nullptr;
  child.ns_pid = static_cast<pid_t>(nsPid);
  child.new_namespaces = static_cast<int>(newNamespaces) | (child.mount_proc ? CLONE_NEWNS : 0);
  child.warm_net_fd = -1;
  child.warm_net_refused = 0;
  child.hostname = hasHostname ? hostname_.c_str() : nullptr;
  child.time_offsets = hasOffsets ? timeOffsets_.c_str() : nullptr;
  return true;
}

}  // namespace pidns
