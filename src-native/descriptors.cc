// Descriptor calls that Node's fs module does not offer: pipes for stdio, copies of a caller's
// descriptors, and the type of a namespace file.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "addon.h"
#include "kernel.h"

namespace pidns {
namespace {

// pipe() -> [readFd, writeFd] (both close-on-exec) or { errno, syscall }.
Napi::Value Pipe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return Failure(env, errno, "pipe2");
  return DescriptorPair(env, fds);
}

// dupFd(fd) -> a close-on-exec copy of fd, or { errno, syscall }. A spawn hands the copy of a
// caller's descriptor to its child: the caller may close or reuse the number while the spawn is
// in flight on the spawner thread.
Napi::Value DupFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !IsIntegerIn(info[0], 0, INT32_MAX)) return ThrowType(env, "dupFd(fd)");
  int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Failure(env, errno, "fcntl");
  return Napi::Number::New(env, fd);
}

// namespaceType(fd) -> the CLONE_NEW* constant of the namespace fd refers to, or -errno
// (ENOTTY when fd is not a namespace file).
Napi::Value NamespaceType(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !IsIntegerIn(info[0], 0, INT32_MAX)) return ThrowType(env, "namespaceType(fd)");
  int type = pidns_namespace_type(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(env, type < 0 ? -errno : type);
}

// closeFd(fd): closes a descriptor this addon created. (fs.closeSync would warn inside a worker,
// which tracks the descriptors its own fs calls opened.)
Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  // A NaN would otherwise be 0: Node's own stdin.
  if (info.Length() < 1 || !IsIntegerIn(info[0], 0, INT32_MAX)) return ThrowType(info.Env(), "closeFd(fd)");
  close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// pidfdSupported() -> whether this kernel has pidfd_open (Linux 5.3 and later).
// Both calls are probed: a seccomp profile may allow one and refuse the other (ENOSYS or EPERM),
// and signals through a refused pidfd_send_signal would go nowhere.
Napi::Value PidfdSupported(const Napi::CallbackInfo &info) {
  int fd = pidns_pidfd_open(getpid());
  if (fd < 0) return Napi::Boolean::New(info.Env(), false);
  bool signals = pidns_pidfd_send_signal(fd, 0) == 0;
  close(fd);
  return Napi::Boolean::New(info.Env(), signals);
}

}  // namespace

Napi::Object InitDescriptors(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("dupFd", Napi::Function::New(env, DupFd));
  exports.Set("namespaceType", Napi::Function::New(env, NamespaceType));
  exports.Set("pidfdSupported", Napi::Function::New(env, PidfdSupported));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  return exports;
}

}  // namespace pidns
