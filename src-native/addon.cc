// Module entry: registers the native calls that lib/native.ts types.
#include "addon.h"

#include <linux/sched.h>
#include <sched.h>

namespace pidns {

Napi::Value ThrowType(Napi::Env env, const char *message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  InitProcessHandle(env, exports);
  InitControl(env, exports);
  InitDescriptors(env, exports);
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("CLONE_NEWPID", CLONE_NEWPID);
  constants.Set("CLONE_NEWUSER", CLONE_NEWUSER);
  constants.Set("CLONE_NEWNS", CLONE_NEWNS);
  exports.Set("constants", constants);
  return exports;
}

}  // namespace pidns

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return pidns::Init(env, exports); }

NODE_API_MODULE(pidns, InitModule)
