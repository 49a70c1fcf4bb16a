// A network namespace made ahead of the spawn that needs one (warm_network.cc).
#ifndef PIDNS_WARM_NETWORK_H
#define PIDNS_WARM_NETWORK_H

namespace pidns {

// All three are called on the spawner thread only.

// A descriptor (O_CLOEXEC) of a network namespace that no process has entered, its loopback
// interface already up, for the caller alone: each is handed out once. -1 when none is ready;
// the caller then makes its own in the clone.
int TakeWarmNetwork();

// After the clone that used a namespace taken: waits for the thread that held it to end, so that
// only the command's processes are in it once the spawn is delivered. refused: the child could not
// enter it (a seccomp filter on setns), and no more are made ahead in this process.
void SettleWarmNetwork(bool refused);

// After a spawn is delivered: starts making the next one, once a spawn has asked for one.
void RefillWarmNetwork();

}  // namespace pidns

#endif
