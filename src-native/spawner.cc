// spawn(options, onDone): the clone window on a thread of the addon's own.
//
// One spawner thread per process, started by the first spawn and never stopped: every clone of
// every JavaScript thread (the main thread and each worker) runs there, so no JavaScript thread
// is ever held by a CLONE_VFORK, and a child's parent-death signal (which follows the thread that
// cloned it) lasts as long as the process. The thread blocks every signal, so none of Node's
// handlers ever runs on it.
//
// A JavaScript thread reads the options into a SpawnRequest (its own copy of every byte the
// child reads), queues it and returns. The spawner runs it and posts the outcome to the mailbox
// of the environment that asked: a uv_async_t on that environment's loop, which calls onDone
// with the result. The loop is kept alive while a spawn of its own is in flight. When an
// environment ends first (a worker terminated), its mailbox is closed, and what it started is
// killed and reaped by the spawner: no process is left that nobody knows of.
//
// Threads, locks and the condition are libuv's, which Node exports: the prebuilt addon then needs
// no versioned symbol of glibc's threads newer than Node itself does.
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <uv.h>

#include <map>
#include <memory>
#include <vector>

#include "addon.h"
#include "kernel.h"
#include "spawn.h"
#include "spawn_request.h"
#include "spawner.h"
#include "warm_network.h"

namespace pidns {
namespace {

struct Mailbox;

struct Job {
  std::unique_ptr<SpawnRequest> request;
  std::vector<int> ownedFds;  // request->ownedFds, kept past the request
  SpawnOutcome outcome;
  Mailbox *mailbox = nullptr;  // holds a reference
  // onDone, deleted on its own thread after the call (or left with the environment that ended).
  napi_ref onDone = nullptr;
  Job *next = nullptr;
};

// Per environment; touched by its JavaScript thread, and by the spawner under `lock`. Freed when
// the environment has closed it and no job refers to it.
struct Mailbox {
  napi_env env = nullptr;
  uv_async_t *async = nullptr;
  uv_mutex_t lock;
  bool open = true;            // under lock
  int references = 1;          // under lock: the environment's, and one per job
  std::vector<Job *> done;     // under lock
  int inFlight = 0;            // JavaScript thread only
};

void Release(Mailbox *box) {
  uv_mutex_lock(&box->lock);
  bool last = --box->references == 0;
  uv_mutex_unlock(&box->lock);
  if (!last) return;
  uv_mutex_destroy(&box->lock);
  delete box;
}

// The spawner's queue (first in, first out). Never destroyed: the thread may still be in a clone
// while the process exits and runs its static destructors.
struct Spawner {
  uv_mutex_t lock;
  uv_cond_t wake;
  Job *head = nullptr;
  Job *tail = nullptr;
  bool started = false;
  std::vector<pid_t> orphans;  // under lock
};
Spawner *const spawner = [] {
  auto *s = new Spawner;
  uv_mutex_init(&s->lock);
  uv_cond_init(&s->wake);
  return s;
}();

// Each environment's mailbox, by environment (process_handle.cc holds the instance data slot).
// Used by JavaScript threads only.
uv_mutex_t *const mailboxesLock = [] {
  auto *m = new uv_mutex_t;
  uv_mutex_init(m);
  return m;
}();
auto *const mailboxes = new std::map<napi_env, Mailbox *>;

// A job nobody will hear of: what it started is ended, and what JavaScript opened for it closed.
void Discard(Job *job) {
  DiscardOutcome(&job->outcome);
  for (int fd : job->ownedFds) close(fd);
  Release(job->mailbox);
  delete job;
}

void Deliver(Job *job) {
  Mailbox *box = job->mailbox;
  uv_mutex_lock(&box->lock);
  bool open = box->open;
  if (open) {
    box->done.push_back(job);
    uv_async_send(box->async);
  }
  uv_mutex_unlock(&box->lock);
  if (open) return;
  // Nobody is left to hear of it.
  Discard(job);
}

// Under spawner->lock: reaps each orphan that has exited (only those pids, never -1).
void ReapOrphans() {
  auto &orphans = spawner->orphans;
  for (size_t i = 0; i < orphans.size();) {
    pid_t r;
    do {
      r = waitpid(orphans[i], nullptr, WNOHANG | __WALL);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      i++;
    } else {
      orphans[i] = orphans.back();
      orphans.pop_back();
    }
  }
}

void SpawnerMain(void *) {
  prctl(PR_SET_NAME, kSpawnerThreadName, 0, 0, 0);
  // No signal of Node's is ever handled here (RunSpawn blocks even glibc's two around the clone).
  pidns_block_signals_but_libc(nullptr);
  for (;;) {
    uv_mutex_lock(&spawner->lock);
    for (;;) {
      ReapOrphans();
      if (spawner->head) break;
      // Orphans are looked at again every 100 ms until they have exited.
      if (spawner->orphans.empty()) uv_cond_wait(&spawner->wake, &spawner->lock);
      else uv_cond_timedwait(&spawner->wake, &spawner->lock, 100 * 1000 * 1000);
    }
    Job *job = spawner->head;
    spawner->head = job->next;
    if (!spawner->head) spawner->tail = nullptr;
    uv_mutex_unlock(&spawner->lock);
    // Asked by an environment that has ended since: its descriptors may be closed, even reused.
    uv_mutex_lock(&job->mailbox->lock);
    bool wanted = job->mailbox->open;
    uv_mutex_unlock(&job->mailbox->lock);
    if (!wanted) {
      Discard(job);
      continue;
    }
    RunSpawn(*job->request, &job->outcome);
    // The child has exec'd or failed: nothing reads the request any more.
    job->request.reset();
    Deliver(job);
    RefillWarmNetwork();
  }
}

// Starts the thread, under spawner->lock, with every signal blocked (it inherits the mask): 0 or
// a negative UV_E* code.
int StartSpawner() {
  if (spawner->started) return 0;
  // The thread starts with this mask (glibc's two unblocked: setuid() on another thread meanwhile
  // waits for this one, holding a lock that thread creation takes).
  sigset_t saved;
  pidns_block_signals_but_libc(&saved);
  // The clone's two child stacks (64 KiB) live in RunSpawn's frame; the sanitizer build's frames
  // are larger.
  uv_thread_options_t options;
  options.flags = UV_THREAD_HAS_STACK_SIZE;
  options.stack_size = 1024 * 1024;
  uv_thread_t thread;
  int err = uv_thread_create_ex(&thread, &options, SpawnerMain, nullptr);
  pidns_sigmask_set(&saved, nullptr);
  if (err == 0) spawner->started = true;
  return err;
}

// Closes the mailbox to further deliveries and takes what was delivered but not handed over.
std::vector<Job *> CloseDeliveries(Mailbox *box) {
  std::vector<Job *> orphans;
  uv_mutex_lock(&box->lock);
  box->open = false;
  orphans.swap(box->done);
  uv_mutex_unlock(&box->lock);
  return orphans;
}

// Hands the outcomes over one at a time, each taken under the lock: a callback may end the
// environment (a worker's process.exit()), and what is left must stay where CloseMailbox finds it.
void OnDone(uv_async_t *handle) {
  Mailbox *box = static_cast<Mailbox *>(handle->data);
  napi_env env = box->env;
  for (;;) {
    uv_mutex_lock(&box->lock);
    Job *job = nullptr;
    if (box->open && !box->done.empty()) {
      job = box->done.front();
      box->done.erase(box->done.begin());
    }
    uv_mutex_unlock(&box->lock);
    if (!job) return;
    if (--box->inFlight == 0) uv_unref(reinterpret_cast<uv_handle_t *>(box->async));
    napi_handle_scope scope;
    napi_value result = nullptr, fn = nullptr;
    bool ready = napi_open_handle_scope(env, &scope) == napi_ok;
    if (ready && (OutcomeValue(env, job->outcome, &result) != napi_ok || napi_get_reference_value(env, job->onDone, &fn) != napi_ok || !fn)) {
      napi_close_handle_scope(env, scope);
      ready = false;
    }
    if (!ready) {
      // The environment is being torn down and can run no JavaScript: nothing it started may
      // be left behind, this job's or the ones after it.
      Discard(job);
      for (Job *orphan : CloseDeliveries(box)) Discard(orphan);
      return;
    }
    napi_delete_reference(env, job->onDone);
    job->ownedFds.clear();  // JavaScript has them back
    Release(box);  // the environment's own reference keeps it alive here
    delete job;
    CallFromLoop(Napi::Env(env), fn, {result});
    napi_close_handle_scope(env, scope);
  }
}

// The environment is ending: nothing more is delivered to it; what was delivered but not yet
// handed over is ended here.
void CloseMailbox(void *arg) {
  Mailbox *box = static_cast<Mailbox *>(arg);
  for (Job *job : CloseDeliveries(box)) Discard(job);
  uv_mutex_lock(mailboxesLock);
  mailboxes->erase(box->env);
  uv_mutex_unlock(mailboxesLock);
  uv_close(reinterpret_cast<uv_handle_t *>(box->async), [](uv_handle_t *h) {
    Mailbox *closed = static_cast<Mailbox *>(h->data);
    delete reinterpret_cast<uv_async_t *>(h);
    Release(closed);
  });
}

// This environment's mailbox, made on first use: nullptr if the loop refused the handle.
Mailbox *MailboxOf(Napi::Env env) {
  uv_mutex_lock(mailboxesLock);
  auto found = mailboxes->find(env);
  Mailbox *box = found != mailboxes->end() ? found->second : nullptr;
  uv_mutex_unlock(mailboxesLock);
  if (box) return box;
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) return nullptr;
  box = new Mailbox;
  uv_mutex_init(&box->lock);
  box->env = env;
  box->async = new uv_async_t;
  if (uv_async_init(loop, box->async, OnDone) != 0) {
    delete box->async;
    uv_mutex_destroy(&box->lock);
    delete box;
    return nullptr;
  }
  box->async->data = box;
  uv_unref(reinterpret_cast<uv_handle_t *>(box->async));
  napi_add_env_cleanup_hook(env, CloseMailbox, box);
  uv_mutex_lock(mailboxesLock);
  mailboxes->emplace(env, box);
  uv_mutex_unlock(mailboxesLock);
  return box;
}

// spawn(options, onDone) -> undefined, or { errno, syscall } when the spawn could not be queued
// (onDone is then never called). onDone(result) comes from the event loop with what
// OutcomeValue makes. Throws TypeError only for a malformed options object, which lib/ never
// builds.
Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) return ThrowType(env, "spawn(options, onDone)");
  std::unique_ptr<SpawnRequest> request(new SpawnRequest);
  if (!request->Read(env, info[0].As<Napi::Object>())) return env.Undefined();
  Mailbox *box = MailboxOf(env);
  if (!box) return Failure(env, EAGAIN, "uv_async_init");
  uv_mutex_lock(&spawner->lock);
  int err = StartSpawner();
  uv_mutex_unlock(&spawner->lock);
  if (err != 0) return Failure(env, -err, "pthread_create");
  Job *job = new Job;
  job->ownedFds = std::move(request->ownedFds);
  job->request = std::move(request);
  job->mailbox = box;
  uv_mutex_lock(&box->lock);
  box->references++;
  uv_mutex_unlock(&box->lock);
  napi_create_reference(env, info[1], 1, &job->onDone);
  if (box->inFlight++ == 0) uv_ref(reinterpret_cast<uv_handle_t *>(box->async));
  uv_mutex_lock(&spawner->lock);
  if (spawner->tail) spawner->tail->next = job;
  else spawner->head = job;
  spawner->tail = job;
  uv_cond_signal(&spawner->wake);
  uv_mutex_unlock(&spawner->lock);
  return env.Undefined();
}

}  // namespace

void AdoptOrphan(pid_t pid) {
  uv_mutex_lock(&spawner->lock);
  spawner->orphans.push_back(pid);
  // A process spawned by this copy of the addon: its thread is running.
  uv_cond_signal(&spawner->wake);
  uv_mutex_unlock(&spawner->lock);
}

Napi::Object InitSpawner(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  return exports;
}

}  // namespace pidns
