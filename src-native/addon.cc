// Module entry: registers the native calls that lib/native.ts types.
#include "addon.h"
#include "child.h"

#include <linux/sched.h>
#include <sched.h>

#include <cmath>
#include <vector>

namespace pidns {

Napi::Value ThrowType(Napi::Env env, const char *message) {
  // A getter of the argument may have thrown already: that exception goes back to JavaScript
  // (a second throw would abort the process).
  if (!env.IsExceptionPending()) Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool IsIntegerIn(const Napi::Value &v, double min, double max) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  return d >= min && d <= max && std::trunc(d) == d;
}

Napi::Value Failure(Napi::Env env, int err, const char *syscall) {
  Napi::Object failure = Napi::Object::New(env);
  failure.Set("errno", err);
  failure.Set("syscall", syscall);
  return failure;
}

Napi::Value DescriptorPair(Napi::Env env, const int fds[2]) {
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, fds[0]);
  pair.Set(1u, fds[1]);
  return pair;
}

void CallFromLoop(Napi::Env env, const Napi::FunctionReference &fn, std::initializer_list<napi_value> args) {
  if (fn.IsEmpty()) return;
  CallFromLoop(env, fn.Value(), args);
}

void CallFromLoop(Napi::Env env, napi_value fn, std::initializer_list<napi_value> args) {
  napi_value global, result;
  if (napi_get_global(env, &global) != napi_ok) return;
  std::vector<napi_value> argv(args);
  napi_status status = napi_make_callback(env, nullptr, global, fn, argv.size(), argv.data(), &result);
  if (status != napi_pending_exception) return;
  napi_value exception;
  if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitSpawner(env, exports);
  InitProcessHandle(env, exports);
  InitControl(env, exports);
  InitDescriptors(env, exports);
  InitSignalForward(env, exports);
  InitForeground(env, exports);
  InitIpc(env, exports);
  InitTerminal(env, exports);
  InitProbe(env, exports);
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("CLONE_NEWPID", CLONE_NEWPID);
  constants.Set("CLONE_NEWUSER", CLONE_NEWUSER);
  constants.Set("MAX_FD_MAP", PIDNS_MAX_FD_MAP);
  // The order of spawn's enterFds, by the names of /proc/PID/ns, and each namespace's type.
  Napi::Array enterKinds = Napi::Array::New(env, PIDNS_ENTER_KINDS);
  for (uint32_t i = 0; i < PIDNS_ENTER_KINDS; i++) enterKinds.Set(i, EnterKindName(static_cast<int>(i)));
  constants.Set("ENTER_KINDS", enterKinds);
  Napi::Object types = Napi::Object::New(env);
  types.Set("user", CLONE_NEWUSER);
  types.Set("cgroup", CLONE_NEWCGROUP);
  types.Set("ipc", CLONE_NEWIPC);
  types.Set("uts", CLONE_NEWUTS);
  types.Set("net", CLONE_NEWNET);
  types.Set("pid", CLONE_NEWPID);
  types.Set("mnt", CLONE_NEWNS);
  types.Set("time", CLONE_NEWTIME);
  constants.Set("NAMESPACE_TYPES", types);
  exports.Set("constants", constants);
  return exports;
}

}  // namespace pidns

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return pidns::Init(env, exports); }

NODE_API_MODULE(pidns, InitModule)
