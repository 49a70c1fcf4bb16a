// A network namespace made ahead. Making one is the slowest part of a spawn with
// namespaces: ['net'] (the kernel runs every subsystem's per-namespace setup, then the loopback
// interface is brought up), and nothing about it depends on the spawn. So after the first such
// spawn, a thread of the addon's own keeps one ready: it unshares a network namespace for itself
// (a thread may: only the thread changes namespace), brings lo up there and waits. The next spawn
// that needs one takes it through /proc/self/task/TID/ns/net and its child enters it with setns;
// the thread then leaves it for a new one, so each namespace is handed out once and, from then
// on, only the command's processes are in it. At most one is made ahead: a spawn that finds none
// ready makes its own in the clone, as without this.
//
// Only for namespaces owned by Node's user namespace (not with userNamespace, whose network
// namespace must belong to the new user namespace) and made by the clone itself (not joins).
// Nothing is held open: the thread's membership keeps the namespace alive, the descriptor exists
// only while the spawner thread clones.
#include "warm_network.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include "kernel.h"
#include "namespaces.h"

namespace pidns {
namespace {

enum class State { kIdle, kMaking, kReady, kFailed };

struct Warm {
  uv_mutex_t lock;
  uv_cond_t wake;
  State state = State::kIdle;
  pid_t tid = 0;
  ino_t inode = 0;  // of the namespace it has ready
  uv_thread_t thread;
  bool joinable = false;
};

// Never destroyed: the thread waits on it until the process exits.
Warm *const warm = [] {
  auto *w = new Warm;
  uv_mutex_init(&w->lock);
  uv_cond_init(&w->wake);
  return w;
}();

void WarmMain(void *) {
  prctl(PR_SET_NAME, "pidns-netns", 0, 0, 0);
  pidns_block_signals_but_libc();
  uv_mutex_lock(&warm->lock);
  warm->tid = static_cast<pid_t>(syscall(SYS_gettid));
  for (;;) {
    while (warm->state == State::kReady) uv_cond_wait(&warm->wake, &warm->lock);
    uv_mutex_unlock(&warm->lock);
    // Leaves the namespace handed out (or Node's, the first time) for a new one, and notes which
    // it is, by a path that names this thread whatever PID namespace /proc shows.
    struct stat made;
    bool ok = unshare(CLONE_NEWNET) == 0 && pidns_loopback_up() == 0 && stat("/proc/thread-self/ns/net", &made) == 0;
    uv_mutex_lock(&warm->lock);
    if (!ok) {
      // Not permitted here (no privilege, a seccomp filter, no namespace left under
      // user.max_net_namespaces): spawns make their own from now on. The thread ends, so that it
      // keeps no namespace alive (it may still be in the last one handed out, a command's, and
      // going back to Node's takes a privilege a user namespace's root may not have there); the
      // spawner thread joins it.
      warm->state = State::kFailed;
      uv_mutex_unlock(&warm->lock);
      return;
    }
    warm->inode = made.st_ino;
    warm->state = State::kReady;
  }
}

}  // namespace

int TakeWarmNetwork() {
  int fd = -1;
  uv_mutex_lock(&warm->lock);
  switch (warm->state) {
    case State::kIdle: {
      // The first spawn that wants one starts the thread, with every signal blocked (it
      // inherits the spawner thread's mask).
      uv_thread_options_t options;
      options.flags = UV_THREAD_HAS_STACK_SIZE;
      options.stack_size = 256 * 1024;
      warm->joinable = uv_thread_create_ex(&warm->thread, &options, WarmMain, nullptr) == 0;
      warm->state = warm->joinable ? State::kMaking : State::kFailed;
      break;
    }
    case State::kReady: {
      // Opened while the thread is still in it (it leaves only once told, under this lock).
      char path[64];
      snprintf(path, sizeof path, "/proc/self/task/%d/ns/net", static_cast<int>(warm->tid));
      fd = open(path, O_RDONLY | O_CLOEXEC);
      // The thread's own, as it noted it: a /proc of another PID namespace than Node's numbers
      // threads otherwise, and the path could name another thread of Node's.
      struct stat opened;
      if (fd >= 0 && (fstat(fd, &opened) != 0 || opened.st_ino != warm->inode)) {
        close(fd);
        fd = -1;
      }
      if (fd >= 0) {
        warm->state = State::kMaking;
        uv_cond_signal(&warm->wake);
      }
      break;
    }
    case State::kFailed:
      // The thread has ended, or is about to (it sets this last): joined once.
      if (warm->joinable) {
        uv_thread_join(&warm->thread);
        warm->joinable = false;
      }
      break;
    case State::kMaking:
      break;
  }
  uv_mutex_unlock(&warm->lock);
  return fd;
}

}  // namespace pidns
