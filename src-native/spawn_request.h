// SpawnRequest: one clone's input, copied out of the options object lib/request.ts builds.
//
// It is read and checked on the JavaScript thread; the clone runs later on the spawner thread
// (spawner.cc), where no N-API call can be made. Every byte the child reads lives here, so the
// request must outlive the child's execve (or failure), and it never moves once read: the
// pointers of `child` point into its own members.
#ifndef PIDNS_SPAWN_REQUEST_H
#define PIDNS_SPAWN_REQUEST_H

#include <napi.h>

#include <string>
#include <vector>

#include "child.h"

namespace pidns {

class SpawnRequest {
 public:
  SpawnRequest() = default;
  SpawnRequest(const SpawnRequest &) = delete;
  SpawnRequest &operator=(const SpawnRequest &) = delete;

  // Reads every field once; a malformed object (which lib/ never builds) throws a TypeError into
  // JavaScript and returns false.
  bool Read(Napi::Env env, const Napi::Object &options);

  // The child's input; its pointers point into this request.
  struct pidns_child child = {};
  bool newPidNamespace = false;
  bool usePidfd = false;
  // A new network namespace may be one made ahead (warm_network.cc).
  bool warmNetwork = false;
  bool newUserNamespace = false;
  // Descriptors the JavaScript side opened for this spawn (options.ownedFds): closed here only
  // if nobody is left to receive the outcome (the environment that asked has ended).
  std::vector<int> ownedFds;

 private:
  std::string file_, cwd_, uidMap_, gidMap_, hostname_, timeOffsets_, pidMaxText_;
  std::vector<std::string> argv_, envp_;
  std::vector<char *> argvPointers_, envpPointers_;
  std::vector<int> fdMap_;
};

}  // namespace pidns

#endif
