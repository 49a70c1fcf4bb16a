// The Node end of the control channel to a pidns init (protocol.h): creating the socket pair,
// reading messages on Node's event loop, and sending requests.
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <string>

#include "addon.h"
#include "fd_watch.h"
#include "protocol.h"

namespace pidns {
namespace {

// controlPair() -> [nodeFd, initFd] or { errno, syscall }. Both ends are close-on-exec; the child
// gets initFd through its descriptor map. nodeFd receives credentials translated into this
// process's PID namespace.
Napi::Value ControlPair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) return Failure(env, errno, "socketpair");
  int on = 1;
  setsockopt(fds[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  return DescriptorPair(env, fds);
}

class ControlChannel : public Napi::ObjectWrap<ControlChannel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ControlChannel",
                       {InstanceMethod("send", &ControlChannel::Send),
                        InstanceMethod("drain", &ControlChannel::DrainNow),
                        InstanceMethod("close", &ControlChannel::Close)});
  }

  // new ControlChannel(fd, onMessage): owns fd. onMessage(type, value, pid, pidfd, amount) is called for
  // every message (pid and pidfd are -1 unless the message carried credentials or a descriptor,
  // which the callee then owns), and once with type 0 at end of file.
  explicit ControlChannel(const Napi::CallbackInfo &info) : Napi::ObjectWrap<ControlChannel>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !IsIntegerIn(info[0], 0, INT32_MAX) || !info[1].IsFunction()) {
      ThrowType(env, "ControlChannel(fd, onMessage)");
      return;
    }
    fd_ = info[0].As<Napi::Number>().Int32Value();
    onMessage_ = Napi::Persistent(info[1].As<Napi::Function>());
    const char *call = "uv_poll_init";
    auto onReady = [](void *self, int, int) { static_cast<ControlChannel *>(self)->Drain(kMessagesPerTurn); };
    int err = watch_.Init(env, fd_, onReady, this);
    if (err == 0) {
      // Liveness is kept by the init's ProcessHandle; this channel alone never holds the loop.
      watch_.Unref();
      call = "uv_poll_start";
      err = watch_.Start(UV_READABLE | UV_DISCONNECT);
    }
    if (err != 0) {
      // The descriptor is ours: closing it tells the init that nobody will read its reports.
      watch_.Close();
      close(fd_);
      fd_ = -1;
      onMessage_.Reset();
      Napi::Error::New(env, std::string(call) + ": " + uv_strerror(err)).ThrowAsJavaScriptException();
      return;
    }
    Napi::ObjectWrap<ControlChannel>::Ref();
  }

  // Reached with the descriptor still open only when the environment ends (a worker thread
  // exits) while the init runs. The descriptor is then left open on purpose: the init ties the
  // namespace to the process, not to the thread that started it, and ends it when the process
  // is gone and the kernel closes this last copy.
  ~ControlChannel() override {
    fd_ = -1;
    Release();
  }

 private:
  // Whatever a flood on the socket, the loop gets back control after this many messages; the
  // poll stays readable and calls again on the next turn.
  static constexpr int kMessagesPerTurn = 64;
  // drain() reads what the init sent before it exited; a sender that keeps writing cannot keep
  // it reading forever.
  static constexpr int kMessagesAtExit = 4096;

  // Delivers up to `limit` queued messages.
  void Drain(int limit) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (int delivered = 0; fd_ >= 0 && delivered < limit; delivered++) {
      struct pidns_msg msg;
      struct iovec iov = {&msg, sizeof msg};
      union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
      } control;
      struct msghdr hdr = {};
      hdr.msg_iov = &iov;
      hdr.msg_iovlen = 1;
      hdr.msg_control = control.buf;
      hdr.msg_controllen = sizeof control.buf;
      ssize_t n = recvmsg(fd_, &hdr, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {  // end of file (or an error, which ends the channel the same way)
        // The control buffer was not filled in: nothing in it may be read as a header.
        Deliver(0, 0, -1, -1, 0);
        Release();
        return;
      }

      int pid = -1, pidfd = -1;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&hdr); c; c = CMSG_NXTHDR(&hdr, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
          struct ucred cred;
          memcpy(&cred, CMSG_DATA(c), sizeof cred);
          pid = cred.pid;
        } else if (c->cmsg_type == SCM_RIGHTS) {
          // Every descriptor that arrived is ours to close, even of a truncated message.
          size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (pidfd < 0) pidfd = fd;
            else close(fd);
          }
        }
      }
      // Not a message of ours: the wrong size (MSG_TRUNC: longer than a record), type 0 (which
      // stands for end of file here), or a descriptor on anything but MSG_CHILD. A root command
      // inside can take a copy of the socket and forge the sender's credentials, so the type is
      // all there is to go by, and no descriptor it sends stays open.
      if (n != sizeof msg || (hdr.msg_flags & MSG_TRUNC) || msg.type == 0) {
        if (pidfd >= 0) close(pidfd);
        continue;
      }
      if (pidfd >= 0 && msg.type != PIDNS_MSG_CHILD) {
        close(pidfd);
        pidfd = -1;
      }
      // With MSG_CTRUNC (a descriptor that did not fit this process's table: EMFILE) a message
      // of the right size still counts, without the descriptor; pidfd is then -1.
      Deliver(static_cast<int>(msg.type), msg.value, pid, pidfd, static_cast<double>(msg.amount));
    }
  }

  void Deliver(int type, int value, int pid, int pidfd, double amount) {
    Napi::Env env = Env();
    if (onMessage_.IsEmpty()) {
      if (pidfd >= 0) close(pidfd);
      return;
    }
    CallFromLoop(env, onMessage_, {Napi::Number::New(env, type), Napi::Number::New(env, value),
                                   Napi::Number::New(env, pid), Napi::Number::New(env, pidfd),
                                   Napi::Number::New(env, amount)});
  }

  // send(type, value) -> 0 or errno. Never blocks.
  Napi::Value Send(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
      return ThrowType(env, "send(type, value)");
    if (fd_ < 0) return Napi::Number::New(env, EBADF);
    struct pidns_msg msg = {info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Int32Value(), 0};
    ssize_t n;
    do {
      n = send(fd_, &msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return Napi::Number::New(env, n < 0 ? errno : 0);
  }

  // drain(): delivers every message already queued, now. Used when the init has exited, so that
  // its last messages are read before its status is used, whatever order the loop saw them in.
  Napi::Value DrainNow(const Napi::CallbackInfo &info) {
    Drain(kMessagesAtExit);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    Release();
    return info.Env().Undefined();
  }

  // Stops reading, closes the descriptor and drops the self-reference taken while it was open.
  void Release() {
    watch_.Close();
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
      onMessage_.Reset();
      Napi::ObjectWrap<ControlChannel>::Unref();
    }
  }

  int fd_ = -1;
  FdWatch watch_;
  Napi::FunctionReference onMessage_;
};

}  // namespace

Napi::Object InitControl(Napi::Env env, Napi::Object exports) {
  exports.Set("controlPair", Napi::Function::New(env, ControlPair));
  exports.Set("ControlChannel", ControlChannel::Define(env));
  return exports;
}

}  // namespace pidns
