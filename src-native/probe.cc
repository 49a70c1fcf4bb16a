// Probes of what the kernel offers, for `pidns doctor` (lib/doctor.ts). Each makes one system
// call that the kernel refuses or that does nothing, so that a probe leaves no trace: no process
// is created, no descriptor closed, no setting written.
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"
#include "clone3.h"
#include "kernel.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

namespace pidns {
namespace {

// 0 when clone3 takes CLONE_INTO_CGROUP (Linux 5.7 and later), else the errno that tells why not:
// ENOSYS (before 5.3, or a seccomp filter that says so), EPERM (a seccomp filter), E2BIG (5.3 to
// 5.6: clone3 without the cgroup field).
//
// No process is made. The kernel copies the arguments first, and a kernel whose struct is
// shorter than the size passed refuses non-zero bytes beyond its own end with E2BIG: the cgroup
// field is non-zero, so only a kernel that knows it reads on. That kernel then refuses an exit
// signal outside CSIGNAL (0x100 here) with EINVAL, before it looks at anything else.
int Clone3IntoCgroup() {
  struct pidns_clone_args args = {};  // version 2 (Linux 5.7, 88 bytes): the first with the cgroup
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = 0x100;
  args.cgroup = INT_MAX;
  long r = syscall(SYS_clone3, &args, sizeof args);
  if (r == 0) _exit(127);  // a child, which the arguments above rule out; never returns to Node
  if (r > 0) return 0;     // likewise impossible: a process was made, so the call is there
  return errno == EINVAL ? 0 : errno;
}

// 0 when close_range takes these flags, else its errno: ENOSYS (a kernel before 5.9, or a seccomp
// filter that says so), EPERM (a seccomp filter), EINVAL (flags this kernel does not know:
// CLOSE_RANGE_CLOEXEC, which the spawn uses, came in 5.11). The range ~0U to ~0U lies above any
// descriptor a process can have, so nothing is closed or marked.
int CloseRange(unsigned int flags) {
  return pidns_close_range(~0U, ~0U, flags) == 0 ? 0 : errno;
}

// probeKernel() -> { clone3IntoCgroup, closeRange, closeRangeCloexec }: 0 where the call works,
// else the errno that says why not.
Napi::Value ProbeKernel(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("clone3IntoCgroup", Clone3IntoCgroup());
  result.Set("closeRange", CloseRange(0));
  result.Set("closeRangeCloexec", CloseRange(CLOSE_RANGE_CLOEXEC));
  return result;
}

}  // namespace

Napi::Object InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeKernel", Napi::Function::New(env, ProbeKernel));
  return exports;
}

}  // namespace pidns
