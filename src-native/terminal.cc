// Pseudo-terminals: the pair a terminal spawn opens before the clone, and the controller side
// that Node keeps, read and written on its event loop.
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <string>

#include "addon.h"
#include "fd_watch.h"

namespace pidns {
namespace {

int SetWindowSize(int fd, int cols, int rows) {
  struct winsize size = {};
  size.ws_col = static_cast<unsigned short>(cols);
  size.ws_row = static_cast<unsigned short>(rows);
  return ioctl(fd, TIOCSWINSZ, &size);
}

// The terminal side, opened through the controller (TIOCGPTPEER, Linux 4.13) so that it is the
// peer of this controller even where /dev/pts is not the instance /dev/ptmx belongs to; by name
// on older kernels.
int OpenTerminalSide(int controller) {
  int fd = ioctl(controller, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd >= 0 || (errno != EINVAL && errno != ENOTTY)) return fd;
  char name[64];
  if (ptsname_r(controller, name, sizeof name) != 0) return -1;
  return open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

// openTerminal(cols, rows) -> [controllerFd, terminalFd] or { errno, syscall }. Both are
// close-on-exec and neither becomes anyone's controlling terminal here; the controller is
// non-blocking. The child gets the terminal side through its descriptor map.
Napi::Value OpenTerminal(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !IsIntegerIn(info[0], 0, 0xffff) || !IsIntegerIn(info[1], 0, 0xffff)) return ThrowType(env, "openTerminal(cols, rows)");
  int cols = info[0].As<Napi::Number>().Int32Value();
  int rows = info[1].As<Napi::Number>().Int32Value();

  int controller = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (controller < 0) return Failure(env, errno, "open");
  const char *failed = nullptr;
  int unlock = 0;
  struct termios modes;
  if (ioctl(controller, TIOCSPTLCK, &unlock) < 0) {
    failed = "unlockpt";
  } else if (SetWindowSize(controller, cols, rows) < 0) {
    failed = "ioctl";
  } else if (tcgetattr(controller, &modes) < 0) {
    failed = "tcgetattr";
  } else {
    // Node speaks UTF-8: with IUTF8 an erase in canonical mode removes a whole character.
    modes.c_iflag |= IUTF8;
    if (tcsetattr(controller, TCSANOW, &modes) < 0) failed = "tcsetattr";
  }
  int terminal = failed ? -1 : OpenTerminalSide(controller);
  if (!failed && terminal < 0) failed = "open";
  if (failed) {
    int err = errno;
    close(controller);
    return Failure(env, err, failed);
  }
  const int pair[2] = {controller, terminal};
  return DescriptorPair(env, pair);
}

// What TerminalController reports to its callback.
enum TerminalEvent { kData = 1, kEnd = 2, kWritable = 3, kError = 4 };

// The controller side of a pseudo-terminal on Node's event loop. Reading is level-triggered and
// only while JS wants data (backpressure); writes are non-blocking and JS waits for kWritable to
// go on with what did not fit.
class TerminalController : public Napi::ObjectWrap<TerminalController> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TerminalController",
                       {InstanceMethod("setReading", &TerminalController::SetReading),
                        InstanceMethod("write", &TerminalController::Write),
                        InstanceMethod("awaitWritable", &TerminalController::AwaitWritable),
                        InstanceMethod("resize", &TerminalController::Resize),
                        InstanceMethod("close", &TerminalController::Close)});
  }

  // new TerminalController(fd, onEvent): owns fd. onEvent(kData, buffer), onEvent(kEnd) once the
  // terminal side is closed by everyone and every byte has been delivered, onEvent(kWritable),
  // onEvent(kError, errno).
  explicit TerminalController(const Napi::CallbackInfo &info) : Napi::ObjectWrap<TerminalController>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !IsIntegerIn(info[0], 0, INT32_MAX) || !info[1].IsFunction()) {
      ThrowType(env, "TerminalController(fd, onEvent)");
      return;
    }
    fd_ = info[0].As<Napi::Number>().Int32Value();
    onEvent_ = Napi::Persistent(info[1].As<Napi::Function>());
    auto onReady = [](void *self, int status, int ready) { static_cast<TerminalController *>(self)->OnReady(status, ready); };
    int err = watch_.Init(env, fd_, onReady, this);
    if (err != 0) {
      // The descriptor is ours, as after close().
      close(fd_);
      fd_ = -1;
      onEvent_.Reset();
      Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(err)).ThrowAsJavaScriptException();
      return;
    }
    // Alive while the descriptor is open, whether JS still holds it or not.
    Napi::ObjectWrap<TerminalController>::Ref();
  }

  // Reached with the descriptor open only when the environment ends (a worker thread exits).
  ~TerminalController() override { Release(); }

 private:
  // Polls for what JS waits for now. If libuv refuses, the watch is dropped and the failure is
  // an error event, like a failed read (right away when JS called setReading or awaitWritable:
  // the stream is destroyed from its own _read or _write, which streams allow).
  void Update() {
    if (!watch_.IsOpen()) return;
    int events = (reading_ ? UV_READABLE : 0) | (awaitingWritable_ ? UV_WRITABLE : 0);
    int err = events == 0 ? watch_.Stop() : watch_.Start(events);
    if (err == 0) return;
    watch_.Close();
    reading_ = false;
    awaitingWritable_ = false;
    Emit(kError, Napi::Number::New(Env(), -err));
  }

  void OnReady(int status, int ready) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      Emit(kError, Napi::Number::New(env, -status));
      return;
    }
    if ((ready & UV_WRITABLE) && awaitingWritable_) {
      awaitingWritable_ = false;
      Update();
      Emit(kWritable, env.Undefined());
    }
    if ((ready & UV_READABLE) && reading_ && fd_ >= 0) ReadOnce();
  }

  // One read per readiness: JS pauses between chunks when its buffer is full.
  void ReadOnce() {
    Napi::Env env = Env();
    static thread_local char chunk[64 * 1024];
    ssize_t n;
    do {
      n = read(fd_, chunk, sizeof chunk);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      // Raw, checked: an environment being torn down refuses it (node-addon-api would abort).
      napi_value data;
      if (napi_create_buffer_copy(env, static_cast<size_t>(n), chunk, nullptr, &data) == napi_ok) Emit(kData, Napi::Value(env, data));
    } else if (n == 0 || errno == EIO) {
      // The controller reads EIO once every descriptor of the terminal side is closed and what
      // was written there has been read: that is its end of file.
      reading_ = false;
      Update();
      Emit(kEnd, env.Undefined());
    } else if (errno != EAGAIN) {
      reading_ = false;
      Update();
      Emit(kError, Napi::Number::New(env, errno));
    }
  }

  void Emit(TerminalEvent event, Napi::Value payload) {
    CallFromLoop(Env(), onEvent_, {Napi::Number::New(Env(), event), payload});
  }

  // setReading(on): whether data is wanted now.
  Napi::Value SetReading(const Napi::CallbackInfo &info) {
    reading_ = fd_ >= 0 && info.Length() > 0 && info[0].ToBoolean();
    Update();
    return info.Env().Undefined();
  }

  // write(buffer) -> bytes written (0 when the terminal takes nothing now), or -errno. Never
  // blocks.
  Napi::Value Write(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowType(env, "write(buffer)");
    if (fd_ < 0) return Napi::Number::New(env, -EBADF);
    Napi::Buffer<char> data = info[0].As<Napi::Buffer<char>>();
    ssize_t n;
    do {
      n = write(fd_, data.Data(), data.Length());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Napi::Number::New(env, errno == EAGAIN ? 0 : -errno);
    return Napi::Number::New(env, static_cast<double>(n));
  }

  // awaitWritable(): one kWritable event once the terminal takes more input.
  Napi::Value AwaitWritable(const Napi::CallbackInfo &info) {
    awaitingWritable_ = fd_ >= 0;
    Update();
    return info.Env().Undefined();
  }

  // resize(cols, rows) -> 0 or errno. The kernel sends SIGWINCH to the terminal's foreground
  // process group when the size changes.
  Napi::Value Resize(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !IsIntegerIn(info[0], 0, 0xffff) || !IsIntegerIn(info[1], 0, 0xffff)) return ThrowType(env, "resize(cols, rows)");
    if (fd_ < 0) return Napi::Number::New(env, EBADF);
    int cols = info[0].As<Napi::Number>().Int32Value();
    int rows = info[1].As<Napi::Number>().Int32Value();
    return Napi::Number::New(env, SetWindowSize(fd_, cols, rows) < 0 ? errno : 0);
  }

  // close(): the terminal side hangs up if anyone still has it open. Drops the self-reference.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (fd_ >= 0) {
      Release();
      onEvent_.Reset();
      Napi::ObjectWrap<TerminalController>::Unref();
    }
    return info.Env().Undefined();
  }

  void Release() {
    watch_.Close();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    reading_ = false;
    awaitingWritable_ = false;
  }

  int fd_ = -1;
  FdWatch watch_;
  bool reading_ = false;
  bool awaitingWritable_ = false;
  Napi::FunctionReference onEvent_;
};

}  // namespace

Napi::Object InitTerminal(Napi::Env env, Napi::Object exports) {
  exports.Set("openTerminal", Napi::Function::New(env, OpenTerminal));
  exports.Set("TerminalController", TerminalController::Define(env));
  return exports;
}

}  // namespace pidns
