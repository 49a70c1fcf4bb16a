#ifndef PIDNS_ADDON_H
#define PIDNS_ADDON_H

#include <napi.h>

namespace pidns {

// Throws a TypeError into JS and returns undefined (C++ exceptions are disabled).
Napi::Value ThrowType(Napi::Env env, const char *message);

// Whether v is a number that is an integer between min and max (NaN and fractions are not).
bool IsIntegerIn(const Napi::Value &v, double min, double max);

// { errno, syscall }: a kernel refusal as lib/native.ts types it (NativeFailure).
Napi::Value Failure(Napi::Env env, int err, const char *syscall);

// Two new descriptors as a JS array [fds[0], fds[1]].
Napi::Value DescriptorPair(Napi::Env env, const int fds[2]);

// Calls fn from a libuv callback (no JS on the stack). An exception it throws goes to
// 'uncaughtException' as for any event callback; while a worker is being terminated it is
// dropped. Never aborts.
void CallFromLoop(Napi::Env env, const Napi::FunctionReference &fn, std::initializer_list<napi_value> args);
void CallFromLoop(Napi::Env env, napi_value fn, std::initializer_list<napi_value> args);

// The name in /proc/PID/ns of a pidns_enter_kind (child.h), or nullptr.
const char *EnterKindName(int kind);
Napi::Object InitSpawner(Napi::Env env, Napi::Object exports);
Napi::Object InitProcessHandle(Napi::Env env, Napi::Object exports);
Napi::Object InitControl(Napi::Env env, Napi::Object exports);
Napi::Object InitDescriptors(Napi::Env env, Napi::Object exports);
Napi::Object InitSignalForward(Napi::Env env, Napi::Object exports);
Napi::Object InitForeground(Napi::Env env, Napi::Object exports);
Napi::Object InitIpc(Napi::Env env, Napi::Object exports);
Napi::Object InitTerminal(Napi::Env env, Napi::Object exports);
Napi::Object InitProbe(Napi::Env env, Napi::Object exports);

}  // namespace pidns

#endif
