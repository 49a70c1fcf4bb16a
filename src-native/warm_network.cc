// A network namespace made ahead. Making one is the slowest part of a spawn with
// namespaces: ['net'] (the kernel runs every subsystem's per-namespace setup, then the loopback
// interface is brought up), and nothing about it depends on the spawn. So once a spawn has asked
// for one, the spawner thread keeps one ready: it starts a holder thread, which unshares a network
// namespace for itself (a thread may: only the thread changes namespace), brings lo up there and
// waits. The next spawn that needs one takes it through /proc/self/task/TID/ns/net and its child
// enters it with setns; the holder is then told to end, and the spawner joins it before the spawn's
// outcome is delivered, so that from then on only the command's processes are in it. The next
// holder is started by the spawner thread as soon as one is taken (so that it has the whole spawn
// to make the next), from Node's own network namespace: what a new namespace copies from the one it
// is made from (net.core.devconf_inherit_init_net) comes from Node's, as with the clone, never from
// a command's. Each namespace is handed out once, to one
// spawn; at most one is made ahead, and a spawn that finds none ready makes its own in the clone.
//
// Only for namespaces owned by Node's user namespace (not with userNamespace, whose network
// namespace must belong to the new user namespace) and made by the clone itself (not joins).
// Nothing is held open: the holder's membership keeps the namespace alive, the descriptor exists
// only while the spawner thread clones. Everything here runs on the spawner thread but the
// holders themselves.
#include "warm_network.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include "kernel.h"
#include "namespaces.h"
#include "spawner.h"

namespace pidns {
namespace {

enum class State {
  kIdle,     // no spawn has asked for one yet
  kMaking,   // the current holder is making one
  kReady,    // the current holder has one ready and waits
  kFailed,   // the last holder could not make one (and has ended): tried again after a pause
};

// One holder thread and what it made.
struct Holder {
  uv_thread_t thread;
  bool release = false;  // it may end
  pid_t tid = 0;         // once it has one ready
  ino_t inode = 0;       // of the namespace it has ready
};

struct Warm {
  uv_mutex_t lock;
  uv_cond_t wake;
  State state = State::kIdle;
  bool wanted = false;          // a spawn has asked for one
  bool refused = false;         // a child could not enter one: none is made ahead any more
  Holder *current = nullptr;    // making, ready, or failed and ended (joined before the next)
  Holder *handedOut = nullptr;  // released by the spawn that took its namespace, joined after its clone
  uint64_t retryAt = 0;         // uv_hrtime() after which a failed attempt is made again
  uint64_t backoff = 0;         // ns: 1 s after the first failure, doubling up to 64 s
};

// Never destroyed: a holder may wait on it until the process exits.
Warm *const warm = [] {
  auto *w = new Warm;
  uv_mutex_init(&w->lock);
  uv_cond_init(&w->wake);
  return w;
}();

constexpr uint64_t kSecond = 1000 * 1000 * 1000;

void HolderMain(void *arg) {
  Holder *self = static_cast<Holder *>(arg);
  pidns_block_signals_but_libc(nullptr);
  // The namespace, noted by a path that names this thread whatever PID namespace /proc shows.
  struct stat made;
  // (The system call itself: glibc's stat and fstat are symbols of 2.33, newer than the prebuilt
  // addon may need.)
  bool ok = unshare(CLONE_NEWNET) == 0 && pidns_loopback_up() == 0 &&
            syscall(SYS_newfstatat, AT_FDCWD, "/proc/thread-self/ns/net", &made, 0) == 0;
  uv_mutex_lock(&warm->lock);
  if (warm->current != self) {
    // Retired while it made it (SettleWarmNetwork, refused): ends with what it made.
    uv_mutex_unlock(&warm->lock);
    return;
  }
  if (!ok) {
    // Not permitted here (no privilege, a seccomp filter, user.max_net_namespaces reached):
    // the thread ends, and what it made with it.
    warm->backoff = warm->backoff == 0 ? kSecond : (warm->backoff < 64 * kSecond ? warm->backoff * 2 : warm->backoff);
    warm->retryAt = uv_hrtime() + warm->backoff;
    warm->state = State::kFailed;
    uv_mutex_unlock(&warm->lock);
    return;
  }
  warm->backoff = 0;
  self->tid = static_cast<pid_t>(syscall(SYS_gettid));
  self->inode = made.st_ino;
  warm->state = State::kReady;
  while (!self->release) uv_cond_wait(&warm->wake, &warm->lock);
  uv_mutex_unlock(&warm->lock);
}

// Under warm->lock, with no current holder: starts one, from the spawner thread, so that it makes
// its namespace from Node's.
void StartHolder() {
  auto *holder = new Holder;
  // The thread starts with the mask it keeps (see pidns_block_signals_but_libc: with glibc's two
  // blocked here, a setuid() on another thread meanwhile would wait for ever).
  sigset_t saved;
  pidns_block_signals_but_libc(&saved);
  uv_thread_options_t options;
  options.flags = UV_THREAD_HAS_STACK_SIZE;
  options.stack_size = 256 * 1024;
  // A thread is born with its creator's name, and is in /proc from that instant: named by itself,
  // it would show as a second pidns-spawner until first scheduled (milliseconds under load). The
  // spawner bears the name instead, only while it creates the thread.
  prctl(PR_SET_NAME, "pidns-netns", 0, 0, 0);
  bool started = uv_thread_create_ex(&holder->thread, &options, HolderMain, holder) == 0;
  prctl(PR_SET_NAME, kSpawnerThreadName, 0, 0, 0);
  pidns_sigmask_set(&saved, nullptr);
  if (started) {
    warm->current = holder;
    warm->state = State::kMaking;
  } else {
    delete holder;
    warm->backoff = warm->backoff == 0 ? kSecond : warm->backoff;
    warm->retryAt = uv_hrtime() + warm->backoff;
    warm->state = State::kFailed;
  }
}

// A holder that has ended or been released: joined outside the lock (it takes the lock to wake).
void Join(Holder *holder) {
  if (!holder) return;
  uv_thread_join(&holder->thread);
  delete holder;
}

}  // namespace

int TakeWarmNetwork() {
  int fd = -1;
  uv_mutex_lock(&warm->lock);
  warm->wanted = !warm->refused;
  if (warm->state == State::kReady && !warm->handedOut && !warm->refused) {
    // Opened while the holder is still in it (it ends only once released, under this lock), and
    // only if it is the holder's own: a /proc of another PID namespace than Node's numbers
    // threads otherwise, and the path could name another thread of Node's.
    Holder *holder = warm->current;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/ns/net", static_cast<int>(holder->tid));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat opened;
    if (fd >= 0 && (syscall(SYS_newfstatat, fd, "", &opened, AT_EMPTY_PATH) != 0 || opened.st_ino != holder->inode)) {
      close(fd);
      fd = -1;
    }
    if (fd >= 0) {
      holder->release = true;
      uv_cond_broadcast(&warm->wake);
      warm->handedOut = holder;
      warm->current = nullptr;
      // The next one is made while this spawn runs, which is what leaves it time to be ready for
      // the spawn after.
      StartHolder();
    }
  }
  uv_mutex_unlock(&warm->lock);
  return fd;
}

void SettleWarmNetwork(bool refused) {
  uv_mutex_lock(&warm->lock);
  Holder *released = warm->handedOut;
  warm->handedOut = nullptr;
  Holder *next = nullptr;
  if (refused) {
    // Each spawn would make two namespaces for one: the holder making the next is told to end
    // once it is done (it checks, whether it made one or not), and none is started again.
    warm->refused = true;
    next = warm->current;
    warm->current = nullptr;
    if (next) next->release = true;
    uv_cond_broadcast(&warm->wake);
    warm->state = State::kIdle;
  }
  uv_mutex_unlock(&warm->lock);
  Join(released);
  Join(next);
}

void RefillWarmNetwork() {
  uv_mutex_lock(&warm->lock);
  bool start = warm->wanted && !warm->refused && warm->state == State::kIdle;
  bool retry = !warm->refused && warm->state == State::kFailed && uv_hrtime() >= warm->retryAt;
  Holder *failed = retry ? warm->current : nullptr;
  if (retry) warm->current = nullptr;
  uv_mutex_unlock(&warm->lock);
  Join(failed);  // it has ended
  if (!start && !retry) return;
  uv_mutex_lock(&warm->lock);
  StartHolder();
  uv_mutex_unlock(&warm->lock);
}

}  // namespace pidns
