// ProcessHandle: one process that pidns started, seen through a pidfd where the kernel has them.
//
// For a child of this process it watches for the exit on Node's event loop and reaps exactly that
// pid: a pidfd polled with uv_poll, or, without pidfds, libuv's own SIGCHLD dispatch (a
// uv_signal_t, not a handler of ours) followed by waitpid(pid, WNOHANG) for each child still
// running. There is no thread per child, no blocking wait and no waitpid(-1).
// It also sends signals, through the pidfd so that a recycled pid is never hit.
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <set>
#include <vector>

#include "addon.h"
#include "fd_watch.h"
#include "kernel.h"
#include "spawner.h"

namespace pidns {
namespace {

class ProcessHandle;

// What the kernel accounted to the reaped process and the descendants it waited for, named as in
// process.resourceUsage(): microseconds and kilobytes.
// Raw N-API with every status checked: while a worker is torn down its environment refuses
// property writes, and node-addon-api would end the process over that. null when refused.
napi_value UsageObject(napi_env env, const struct rusage &usage) {
  auto micros = [](const struct timeval &t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  const char *const names[] = {"userCPUTime", "systemCPUTime", "maxRSS"};
  const double values[] = {micros(usage.ru_utime), micros(usage.ru_stime), static_cast<double>(usage.ru_maxrss)};
  napi_value o, v, null = nullptr;
  napi_get_null(env, &null);
  if (napi_create_object(env, &o) != napi_ok) return null;
  for (int i = 0; i < 3; i++) {
    if (napi_create_double(env, values[i], &v) != napi_ok || napi_set_named_property(env, o, names[i], v) != napi_ok) return null;
  }
  return o;
}

// Per Node environment (the main thread and each worker have their own loop).
struct FallbackWatch {
  uv_signal_t *sigchld = nullptr;
  // A check of every child on the next loop turn after one is registered: the clone ran on the
  // spawner thread, and the child's SIGCHLD may have been dispatched before its handle existed.
  uv_timer_t *recheck = nullptr;
  std::set<ProcessHandle *> children;
  int refs = 0;
};

void FinalizeFallback(Napi::Env, FallbackWatch *watch) {
  uv_close(reinterpret_cast<uv_handle_t *>(watch->sigchld),
           [](uv_handle_t *h) { delete reinterpret_cast<uv_signal_t *>(h); });
  uv_close(reinterpret_cast<uv_handle_t *>(watch->recheck),
           [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
  delete watch;
}

class ProcessHandle : public Napi::ObjectWrap<ProcessHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ProcessHandle",
                       {InstanceMethod("signal", &ProcessHandle::Signal),
                        InstanceMethod("ref", &ProcessHandle::Ref),
                        InstanceMethod("unref", &ProcessHandle::Unref),
                        InstanceMethod("close", &ProcessHandle::Close)});
  }

  // new ProcessHandle(pid, pidfd, onExit?, notChild?): the handle owns pidfd. With onExit the
  // process must be a child of this process: it is reaped and onExit(waitStatus, usage) is called
  // once (-1 and null if something else reaped it first). With notChild, onExit(-1, null) only
  // says that it has ended; nothing is reaped.
  explicit ProcessHandle(const Napi::CallbackInfo &info) : Napi::ObjectWrap<ProcessHandle>(info) {
    Napi::Env env = info.Env();
    // A NaN or 0 pid would make wait4 reap any child of the process group.
    if (info.Length() < 2 || !IsIntegerIn(info[0], 1, INT32_MAX) || !IsIntegerIn(info[1], -1, INT32_MAX)) {
      ThrowType(env, "ProcessHandle(pid, pidfd, onExit?)");
      return;
    }
    pid_ = info[0].As<Napi::Number>().Int32Value();
    pidfd_ = info[1].As<Napi::Number>().Int32Value();
    if (info.Length() < 3 || !info[2].IsFunction()) return;
    // A process that is not our child (the command under the init) is only watched for its end:
    // waiting for it would be refused at best, and could reap a child of ours that got its pid
    // after the init reaped it.
    notChild_ = info.Length() >= 4 && info[3].ToBoolean();
    if (notChild_ && pidfd_ < 0) {
      ThrowType(env, "ProcessHandle: a process that is not our child is watched through its pidfd");
      return;
    }

    onExit_ = Napi::Persistent(info[2].As<Napi::Function>());
    uv_loop_t *loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    watching_ = true;
    Napi::ObjectWrap<ProcessHandle>::Ref();  // stay alive until the exit has been delivered
    if (pidfd_ >= 0) {
      auto onReady = [](void *self, int, int) { static_cast<ProcessHandle *>(self)->TryReap(); };
      int err = watch_.Init(env, pidfd_, onReady, this);
      if (err == 0) err = watch_.Start(UV_READABLE);
      // A pidfd that libuv cannot poll is watched as without pidfds.
      if (err != 0) watch_.Close();
    }
    if (!watch_.IsOpen()) {
      fallback_ = Fallback(env, loop);
      fallback_->children.insert(this);
      fallback_->refs++;
      uv_ref(reinterpret_cast<uv_handle_t *>(fallback_->sigchld));
      // startFallbackWatch() ran before the clone (lib/native.ts starts it at load, in every
      // mode), but the clone ran on the spawner thread: its SIGCHLD may already have been
      // dispatched. The check comes from the loop, never before this constructor returns.
      uv_timer_start(fallback_->recheck, CheckAll, 0, 0);
    }
  }

  // Destroyed while still watching only when its environment ends (a watching handle holds a
  // reference to itself): a child of ours would then stay a zombie once it exits, so the
  // spawner thread is asked to reap it.
  ~ProcessHandle() override {
    if (watching_ && !notChild_) AdoptOrphan(pid_);
    Release();
  }

  // The watch must exist before the first clone so that no SIGCHLD of a pidns child is missed.
  static FallbackWatch *Fallback(Napi::Env env, uv_loop_t *loop) {
    FallbackWatch *watch = env.GetInstanceData<FallbackWatch>();
    if (watch) return watch;
    watch = new FallbackWatch;
    watch->sigchld = new uv_signal_t;
    watch->sigchld->data = watch;
    uv_signal_init(loop, watch->sigchld);
    uv_signal_start(watch->sigchld, [](uv_signal_t *h, int) { CheckChildren(static_cast<FallbackWatch *>(h->data)); }, SIGCHLD);
    uv_unref(reinterpret_cast<uv_handle_t *>(watch->sigchld));
    watch->recheck = new uv_timer_t;
    watch->recheck->data = watch;
    uv_timer_init(loop, watch->recheck);
    uv_unref(reinterpret_cast<uv_handle_t *>(watch->recheck));
    env.SetInstanceData<FallbackWatch, FinalizeFallback>(watch);
    return watch;
  }

  static void CheckChildren(FallbackWatch *w) {
    std::vector<ProcessHandle *> pending(w->children.begin(), w->children.end());
    for (ProcessHandle *child : pending) {
      if (w->children.count(child)) child->TryReap();
    }
  }

  static void CheckAll(uv_timer_t *timer) { CheckChildren(static_cast<FallbackWatch *>(timer->data)); }

 private:
  void TryReap() {
    if (!watching_) return;
    int status = 0;
    struct rusage usage = {};
    pid_t r = -1;
    if (notChild_) {
      // The pidfd of a process that is not our child is readable once it has ended.
      status = -1;
    } else {
      do {
        r = wait4(pid_, &status, WNOHANG | __WALL, &usage);
      } while (r < 0 && errno == EINTR);
      if (r == 0) return;  // still running (a pidfd can wake us for nothing after an error)
      if (r < 0) status = -1;
    }
    reaped_ = true;
    StopWatching();
    CloseDescriptor();
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::FunctionReference onExit = std::move(onExit_);
    Napi::ObjectWrap<ProcessHandle>::Unref();
    CallFromLoop(env, onExit, {Napi::Number::New(env, status), r < 0 ? static_cast<napi_value>(env.Null()) : UsageObject(env, usage)});
  }

  void StopWatching() {
    if (!watching_) return;
    watching_ = false;
    watch_.Close();
    if (fallback_) {
      fallback_->children.erase(this);
      if (!unrefed_ && --fallback_->refs == 0)
        uv_unref(reinterpret_cast<uv_handle_t *>(fallback_->sigchld));
      fallback_ = nullptr;
    }
  }

  void CloseDescriptor() {
    if (pidfd_ >= 0) close(pidfd_);
    pidfd_ = -1;
  }

  void Release() {
    StopWatching();
    CloseDescriptor();
  }

  // signal(sig) -> 0 or an errno. ESRCH once the process has been reaped or has exited.
  Napi::Value Signal(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "signal(number)");
    if (!IsIntegerIn(info[0], 0, NSIG - 1)) return Napi::Number::New(env, EINVAL);
    int sig = info[0].As<Napi::Number>().Int32Value();
    int err = 0;
    if (reaped_) {
      err = ESRCH;
    } else if (pidfd_ >= 0 && pidns_pidfd_send_signal(pidfd_, sig) == 0) {
      err = 0;
    } else if (pidfd_ >= 0 && !(watching_ && (errno == ENOSYS || errno == EPERM))) {
      err = errno;
    } else if (watching_) {
      // Also when a seccomp profile refuses pidfd_send_signal to an unreaped child of ours.
      // An unreaped child keeps its pid, so kill() cannot hit another process.
      if (kill(pid_, sig) < 0) err = errno;
    } else {
      err = ENOSYS;  // not our child and no pidfd: there is no race-free way to signal it
    }
    return Napi::Number::New(env, err);
  }

  Napi::Value Ref(const Napi::CallbackInfo &info) {
    SetRef(true);
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo &info) {
    SetRef(false);
    return info.Env().Undefined();
  }

  void SetRef(bool ref) {
    if (unrefed_ == !ref) return;
    unrefed_ = !ref;
    if (ref) watch_.Ref();
    else watch_.Unref();
    if (fallback_) {
      uv_handle_t *h = reinterpret_cast<uv_handle_t *>(fallback_->sigchld);
      if (ref && fallback_->refs++ == 0) uv_ref(h);
      if (!ref && --fallback_->refs == 0) uv_unref(h);
    }
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    bool wasWatching = watching_;
    Release();
    if (wasWatching) {
      onExit_.Reset();
      Napi::ObjectWrap<ProcessHandle>::Unref();
    }
    return info.Env().Undefined();
  }

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool watching_ = false;
  bool notChild_ = false;
  bool reaped_ = false;
  bool unrefed_ = false;
  FdWatch watch_;
  FallbackWatch *fallback_ = nullptr;
  Napi::FunctionReference onExit_;
};

Napi::Value StartFallbackWatch(const Napi::CallbackInfo &info) {
  uv_loop_t *loop = nullptr;
  napi_get_uv_event_loop(info.Env(), &loop);
  ProcessHandle::Fallback(info.Env(), loop);
  return info.Env().Undefined();
}

}  // namespace

Napi::Object InitProcessHandle(Napi::Env env, Napi::Object exports) {
  exports.Set("ProcessHandle", ProcessHandle::Define(env));
  exports.Set("startFallbackWatch", Napi::Function::New(env, StartFallbackWatch));
  return exports;
}

}  // namespace pidns
