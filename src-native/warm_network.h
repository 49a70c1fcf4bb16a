// A network namespace made ahead of the spawn that needs one (warm_network.cc).
#ifndef PIDNS_WARM_NETWORK_H
#define PIDNS_WARM_NETWORK_H

namespace pidns {

// A descriptor (O_CLOEXEC) of a network namespace that no process has entered, its loopback
// interface already up, for the caller alone: each is handed out once. -1 when none is ready;
// the caller then makes its own, and the next one is being made. Called on the spawner thread.
int TakeWarmNetwork();

}  // namespace pidns

#endif
