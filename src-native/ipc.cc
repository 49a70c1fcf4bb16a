// The socket pair behind an 'ipc' stdio entry: Node's own IPC channel, which the command (plain
// Node) opens from NODE_CHANNEL_FD as under child_process.fork.
#include <errno.h>
#include <sys/socket.h>

#include "addon.h"

namespace pidns {
namespace {

// ipcPair() -> [nodeFd, childFd] or { errno, syscall }. A stream socket, as libuv's IPC pipes
// are; both ends close-on-exec (the child gets childFd through its descriptor map).
Napi::Value IpcPair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return Failure(env, errno, "socketpair");
  return DescriptorPair(env, fds);
}

}  // namespace

Napi::Object InitIpc(Napi::Env env, Napi::Object exports) {
  exports.Set("ipcPair", Napi::Function::New(env, IpcPair));
  return exports;
}

}  // namespace pidns
