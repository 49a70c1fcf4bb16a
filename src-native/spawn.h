// The clone window: a SpawnRequest in, a SpawnOutcome out. RunSpawn makes no N-API call, so it
// runs on the spawner thread (spawner.cc); OutcomeValue turns its outcome into what lib/native.ts
// types, on the JavaScript thread that asked.
#ifndef PIDNS_SPAWN_H
#define PIDNS_SPAWN_H

#include <napi.h>
#include <sys/types.h>

#include "child.h"
#include "spawn_request.h"

namespace pidns {

struct SpawnOutcome {
  // A refusal before or of the clone: errno and the system call; 0 when there was none.
  int err = 0;
  const char *syscall = nullptr;
  // A refusal in the child, which has been reaped.
  bool childFailed = false;
  struct pidns_child_error report = {};
  // Otherwise the process that exec'd: our child, unreaped.
  pid_t pid = -1;
  int pidfd = -1;
  pid_t nsPid = 0;
  unsigned long long namespaceInode = 0;
};

// Clones, waits for the execve (or the child's failure), and reaps what failed. Blocks the
// calling thread for the clone window (CLONE_VFORK).
void RunSpawn(SpawnRequest &request, SpawnOutcome *outcome);

// { pid, pidfd, nsPid, namespaceId }, or { errno, syscall[, namespace] }; napi_ok, or the status
// of the call that failed (an environment being torn down refuses them).
napi_status OutcomeValue(napi_env env, const SpawnOutcome &outcome, napi_value *result);

// A process started for a JavaScript thread that has gone (a worker terminated meanwhile):
// killed and reaped, its pidfd closed.
void DiscardOutcome(SpawnOutcome *outcome);

}  // namespace pidns

#endif
