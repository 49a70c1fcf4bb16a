// FdWatch (fd_watch.h): the one place the addon sets up and tears down a uv_poll_t.
#include "fd_watch.h"

namespace pidns {

int FdWatch::Init(napi_env env, int fd, Callback callback, void *owner) {
  if (used_) return UV_EALREADY;
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return UV_EINVAL;
  auto *poll = new uv_poll_t;
  int err = uv_poll_init(loop, poll, fd);
  if (err != 0) {
    // libuv has not taken the handle: it is not on the loop and needs no close.
    delete poll;
    return err;
  }
  used_ = true;
  poll->data = this;
  poll_ = poll;
  callback_ = callback;
  owner_ = owner;
  return 0;
}

int FdWatch::Start(int events) {
  if (poll_ == nullptr) return UV_EINVAL;
  // libuv asserts on anything else.
  if (events & ~(UV_READABLE | UV_WRITABLE | UV_DISCONNECT)) return UV_EINVAL;
  return uv_poll_start(poll_, events, OnPoll);
}

int FdWatch::Stop() {
  if (poll_ == nullptr) return 0;
  return uv_poll_stop(poll_);
}

void FdWatch::Ref() {
  if (poll_) uv_ref(reinterpret_cast<uv_handle_t *>(poll_));
}

void FdWatch::Unref() {
  if (poll_) uv_unref(reinterpret_cast<uv_handle_t *>(poll_));
}

void FdWatch::Close() {
  if (poll_ == nullptr) return;
  // uv_close stops the poll first; the handle's memory stays valid until the close callback,
  // which touches nothing but the handle (the FdWatch may be gone by then).
  uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
  poll_ = nullptr;
}

void FdWatch::OnPoll(uv_poll_t *handle, int status, int events) {
  auto *watch = static_cast<FdWatch *>(handle->data);
  watch->callback_(watch->owner_, status, events);
}

}  // namespace pidns
