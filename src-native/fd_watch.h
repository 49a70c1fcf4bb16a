// FdWatch: one descriptor watched with a uv_poll_t on Node's event loop, for the object that
// owns it. Every libuv result is checked and handed back (0 or a negative UV_E* code); the
// helper reports nothing itself, because each caller already has a way to report its failures,
// and a libuv failure goes the same way:
//   control.cc         at construction: closes its descriptor and throws (uv_poll_init, _start);
//   terminal.cc        at construction: closes its descriptor and throws (uv_poll_init); later,
//                      when the events change: an error event with the errno (uv_poll_start);
//   process_handle.cc  the exit is watched through SIGCHLD instead, as without a pidfd;
//   signal_forward.cc  forwardSignals() returns { errno, syscall } with every disposition back.
#ifndef PIDNS_FD_WATCH_H
#define PIDNS_FD_WATCH_H

#include <node_api.h>
#include <uv.h>

namespace pidns {

class FdWatch {
 public:
  // Runs on the loop with the owner given to Init, libuv's status (0 or UV_E*) and the events
  // that are ready.
  using Callback = void (*)(void *owner, int status, int events);

  FdWatch() = default;
  ~FdWatch() { Close(); }
  FdWatch(const FdWatch &) = delete;
  FdWatch &operator=(const FdWatch &) = delete;

  // Watches fd on env's loop; nothing is polled until Start. UV_EALREADY once initialised (even
  // if closed since: one FdWatch, one handle), UV_EINVAL without a loop. On failure nothing is
  // left to close.
  int Init(napi_env env, int fd, Callback callback, void *owner);
  // Polls for events (UV_READABLE, UV_WRITABLE, UV_DISCONNECT); 0 stops. UV_EINVAL when not
  // initialised or already closed.
  int Start(int events);
  // Stops polling; 0 when there is nothing to stop.
  int Stop();
  // Whether the handle keeps the loop alive while it polls (it does by default).
  void Ref();
  void Unref();
  // Stops and closes the handle; libuv frees it in the close callback, on a later loop turn, and
  // calls no callback of the owner after this. Does nothing when never initialised or already
  // closed.
  void Close();
  // Initialised and not closed.
  bool IsOpen() const { return poll_ != nullptr; }

 private:
  static void OnPoll(uv_poll_t *handle, int status, int events);

  uv_poll_t *poll_ = nullptr;
  bool used_ = false;
  Callback callback_ = nullptr;
  void *owner_ = nullptr;
};

}  // namespace pidns

#endif
