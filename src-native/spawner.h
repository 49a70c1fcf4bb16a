// What other files ask of the spawner thread (spawner.cc).
#ifndef PIDNS_SPAWNER_H
#define PIDNS_SPAWNER_H

#include <sys/types.h>

namespace pidns {

// The spawner thread's name (its /proc/self/task/TID/comm).
constexpr char kSpawnerThreadName[] = "pidns-spawner";

// A child of ours whose handle ended with its environment (a worker that ended while the
// process ran): the spawner thread reaps it once it exits, so that it never stays a zombie.
void AdoptOrphan(pid_t pid);

}  // namespace pidns

#endif
