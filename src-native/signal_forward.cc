// Catching signals for a process that stands in for another (the pidns command): every signal in
// the list is caught, recorded and handed to JavaScript on Node's event loop, one call per
// delivery, so that it can be sent on. Node's own process.on() cannot do this for real-time
// signals (they have no names there) nor for the fault signals.
//
// The handler is a plain sigaction handler with SA_SIGINFO, not libuv's, because it must tell a
// signal that someone sent (forward it) from one the kernel raised for an instruction of this very
// process (a real SIGSEGV, SIGBUS, SIGFPE or SIGILL): returning from that would run the faulting
// instruction again, forever. Such a fault gets back the disposition that was there before
// (Node's, or the default that ends the process) and happens again under it.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <vector>

#include "addon.h"
#include "fd_watch.h"

namespace pidns {
namespace {

// One forwarder per process: dispositions are process-wide. g_previous and g_caught are written
// only while no handler of ours is installed; the handler reads them.
//
// The pipe is made once and never closed: a handler may be running on another thread at the
// moment forwarding stops, and its write must still reach a pipe of ours, never a descriptor
// number that has since been reused. Bytes left over are discarded when forwarding starts again.
int g_pipe[2] = {-1, -1};
struct sigaction g_previous[NSIG];
bool g_caught[NSIG];

struct Forwarder {
  napi_env env;
  Napi::FunctionReference onSignal;
  int read_fd;
  FdWatch watch;
};
Forwarder *g_forwarder = nullptr;

bool IsInstructionFault(int signo) {
  return signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL;
}

void OnSignal(int signo, siginfo_t *info, void *) {
  int saved_errno = errno;
  if (info->si_code > 0 && IsInstructionFault(signo)) {
    sigaction(signo, &g_previous[signo], nullptr);
  } else if (info->si_pid != getpid()) {
    // A signal this process raised for itself (SIGPIPE on a write to a closed pipe, which Node
    // otherwise ignores and sees as EPIPE) is nobody else's business.
    unsigned char byte = static_cast<unsigned char>(signo);
    // EAGAIN: 64 KiB of signals not yet read; the kernel would have merged them too.
    (void)!write(g_pipe[1], &byte, 1);
  }
  errno = saved_errno;
}

void RestoreDispositions() {
  for (int signo = 1; signo < NSIG; signo++) {
    if (!g_caught[signo]) continue;
    sigaction(signo, &g_previous[signo], nullptr);
    g_caught[signo] = false;
  }
}

void Deliver(Forwarder *forwarder) {
  Napi::Env env(forwarder->env);
  Napi::HandleScope scope(env);
  // One read a loop turn: a flood of signals leaves the loop free to see the command's exit; the
  // poll stays readable and calls again on the next turn.
  unsigned char signals[256];
  ssize_t n;
  do {
    n = read(forwarder->read_fd, signals, sizeof signals);
  } while (n < 0 && errno == EINTR);
  for (ssize_t i = 0; i < n; i++) {
    // A callback may have stopped forwarding, which frees the forwarder.
    if (g_forwarder != forwarder) return;
    CallFromLoop(env, forwarder->onSignal, {Napi::Number::New(env, signals[i])});
  }
}

// forwardSignals(signals, onSignal) -> null, or { errno, syscall } when a signal cannot be caught
// (EINVAL: SIGKILL, SIGSTOP, or one libc keeps for itself) or a forwarder already runs (EBUSY).
// onSignal(signo) runs on the event loop once per delivery; the forwarder does not keep the loop
// alive.
Napi::Value ForwardSignals(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsFunction()) return ThrowType(env, "forwardSignals(signals, onSignal)");
  if (g_forwarder != nullptr) return Failure(env, EBUSY, "sigaction");
  // Checked before any disposition changes: a signal listed twice would save our own handler as
  // its previous disposition, and a real fault would then return to it forever.
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<int> signals;
  bool listed[NSIG] = {};
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list.Get(i);
    if (!IsIntegerIn(item, 1, NSIG - 1)) return Failure(env, EINVAL, "sigaction");
    int signo = item.As<Napi::Number>().Int32Value();
    if (listed[signo]) return Failure(env, EINVAL, "sigaction");
    listed[signo] = true;
    signals.push_back(signo);
  }
  if (g_pipe[0] < 0 && pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return Failure(env, errno, "pipe2");
  unsigned char stale[256];
  while (read(g_pipe[0], stale, sizeof stale) > 0) {
  }

  auto *forwarder = new Forwarder{env, Napi::Persistent(info[1].As<Napi::Function>()), g_pipe[0], {}};
  auto onReady = [](void *self, int, int) { Deliver(static_cast<Forwarder *>(self)); };
  int err = forwarder->watch.Init(env, g_pipe[0], onReady, forwarder);
  if (err != 0) {
    delete forwarder;
    return Failure(env, -err, "uv_poll_init");
  }

  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = OnSignal;
  act.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&act.sa_mask);
  for (int signo : signals) {
    if (sigaction(signo, &act, &g_previous[signo]) < 0) {
      int failed = errno;
      RestoreDispositions();
      delete forwarder;
      return Failure(env, failed, "sigaction");
    }
    g_caught[signo] = true;
  }

  forwarder->watch.Unref();
  err = forwarder->watch.Start(UV_READABLE);
  if (err != 0) {
    RestoreDispositions();
    delete forwarder;
    return Failure(env, -err, "uv_poll_start");
  }
  g_forwarder = forwarder;
  return env.Null();
}

// stopForwardingSignals(): every caught signal gets its previous disposition back.
Napi::Value StopForwardingSignals(const Napi::CallbackInfo &info) {
  if (g_forwarder == nullptr) return info.Env().Undefined();
  RestoreDispositions();
  delete g_forwarder;  // closes its watch
  g_forwarder = nullptr;
  return info.Env().Undefined();
}

}  // namespace

Napi::Object InitSignalForward(Napi::Env env, Napi::Object exports) {
  exports.Set("forwardSignals", Napi::Function::New(env, ForwardSignals));
  exports.Set("stopForwardingSignals", Napi::Function::New(env, StopForwardingSignals));
  return exports;
}

}  // namespace pidns
