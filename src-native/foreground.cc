// The terminal's foreground process group and job control of this process: what a program needs
// to hand its terminal to a command in a process group of its own, take it back, and stop and
// continue along with that command the way a shell's job does.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "addon.h"

namespace pidns {
namespace {

int IntArgument(const Napi::CallbackInfo &info, size_t index) {
  return info[index].As<Napi::Number>().Int32Value();
}

// foregroundGroup(fd) -> the foreground process group of the terminal on fd, or -errno (ENOTTY
// when fd is not this process's controlling terminal).
Napi::Value ForegroundGroup(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !IsIntegerIn(info[0], 0, INT32_MAX)) return ThrowType(info.Env(), "foregroundGroup(fd)");
  pid_t group = tcgetpgrp(IntArgument(info, 0));
  return Napi::Number::New(info.Env(), group < 0 ? -errno : group);
}

// processGroup() -> this process's process group.
Napi::Value ProcessGroup(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), getpgrp());
}

// setForegroundGroup(fd, pgid) -> 0 or errno. A process outside the foreground group that calls
// tcsetpgrp() gets SIGTTOU, which would stop it; blocked on this thread (and only here: Node's
// other threads keep their masks), the call goes through instead. sigprocmask, not
// pthread_sigmask: on Linux both set the calling thread's mask, and glibc 2.32 gave
// pthread_sigmask a new symbol version, which a prebuilt addon cannot need (it must load with
// glibc 2.28, as Node 20's own binary does).
Napi::Value SetForegroundGroup(const Napi::CallbackInfo &info) {
  if (info.Length() < 2 || !IsIntegerIn(info[0], 0, INT32_MAX) || !IsIntegerIn(info[1], 1, INT32_MAX)) return ThrowType(info.Env(), "setForegroundGroup(fd, pgid)");
  sigset_t ttou, saved;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &saved);
  int err = tcsetpgrp(IntArgument(info, 0), IntArgument(info, 1)) < 0 ? errno : 0;
  sigprocmask(SIG_SETMASK, &saved, nullptr);
  return Napi::Number::New(info.Env(), err);
}

// stopProcess(signo): stops this whole process with signo (SIGTSTP, SIGTTIN, SIGTTOU or SIGSTOP)
// as its default action would, whatever handler is installed, and returns once it is continued
// (SIGCONT). Returns at once when the kernel discards the stop: a process group that no shell
// controls (an orphaned one) is not stopped by SIGTSTP, SIGTTIN or SIGTTOU.
Napi::Value StopProcess(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !IsIntegerIn(info[0], 1, NSIG - 1)) return ThrowType(info.Env(), "stopProcess(signo)");
  int signo = IntArgument(info, 0);
  if (signo != SIGTSTP && signo != SIGTTIN && signo != SIGTTOU && signo != SIGSTOP) return ThrowType(info.Env(), "stopProcess: not a stop signal");
  struct sigaction stop, previous;
  memset(&stop, 0, sizeof stop);
  stop.sa_handler = SIG_DFL;
  bool replaced = signo != SIGSTOP && sigaction(signo, &stop, &previous) == 0;
  sigset_t one, saved;
  sigemptyset(&one);
  sigaddset(&one, signo);
  sigprocmask(SIG_UNBLOCK, &one, &saved);
  // Sent to this thread, so the stop takes effect on the way back from the system call, before
  // the handler is put back.
  raise(signo);
  sigprocmask(SIG_SETMASK, &saved, nullptr);
  if (replaced) sigaction(signo, &previous, nullptr);
  return info.Env().Undefined();
}

// stopSignalOf(pid) -> the signal that stopped child pid since this was last asked, 0 when it
// has not stopped, or -errno. Only the stop is collected: an exit stays for the exit watcher.
Napi::Value StopSignalOf(const Napi::CallbackInfo &info) {
  // A NaN would be pid 0, which waitid refuses; any other child must not be asked about.
  if (info.Length() < 1 || !IsIntegerIn(info[0], 1, INT32_MAX)) return ThrowType(info.Env(), "stopSignalOf(pid)");
  siginfo_t child;
  memset(&child, 0, sizeof child);
  if (waitid(P_PID, static_cast<id_t>(IntArgument(info, 0)), &child, WSTOPPED | WNOHANG) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), child.si_pid != 0 && child.si_code == CLD_STOPPED ? child.si_status : 0);
}

}  // namespace

Napi::Object InitForeground(Napi::Env env, Napi::Object exports) {
  exports.Set("foregroundGroup", Napi::Function::New(env, ForegroundGroup));
  exports.Set("processGroup", Napi::Function::New(env, ProcessGroup));
  exports.Set("setForegroundGroup", Napi::Function::New(env, SetForegroundGroup));
  exports.Set("stopProcess", Napi::Function::New(env, StopProcess));
  exports.Set("stopSignalOf", Napi::Function::New(env, StopSignalOf));
  return exports;
}

}  // namespace pidns
